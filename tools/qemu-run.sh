#!/bin/bash
# Boot a guest under QEMU. The one launcher of every guest this project
# boots: the in-kernel test rig (tests/vm), the end-to-end tests and the
# demo (tests/e2e), and the benchmarks (bench/).
#
#   tools/qemu-run.sh --console FILE [--log FILE] [--timeout S] [--label NAME]
#                     [--progress-marker TEXT] -- QEMU-ARGS...
#
# QEMU-ARGS describe the machine (-machine TYPE, -cpu, -smp, -m, -kernel,
# -initrd, -append, drives); the launcher adds the accelerator (spelt
# "-accel accel=kvm" or "-accel accel=tcg,..." in the probe and the boot
# alike, so a wrapper matching "accel=kvm" sees both), the serial
# console (into FILE), no display, no monitor and -no-reboot, and runs
# qemu-system-x86_64 (the first in PATH) with a hard timeout (default 900 s).
# QEMU's own output goes to --log (default FILE.qemu), after a first line
# "# qemu-run: accel kvm|tcg" that tells a caller which one ran.
#
# Accelerator: KVM when it can run a guest here, else TCG. A /dev/kvm that
# exists and is writable does not prove it: on nested-virtualization hosts
# QEMU aborts setting an MSR, or the guest hangs right after decompression.
# So KVM is probed with a short boot of the same kernel, CPU model, vCPU
# count and machine type, without a root file system: it must reach the
# kernel's "Kernel panic" (the end of its boot) within QEMU_PROBE_TIMEOUT
# seconds (default 20). Otherwise the launcher says, in one line,
#   <label>: kvm unusable here: <reason>; using TCG
# and boots with TCG. The verdict is cached per QEMU binary, machine boot
# (/proc/sys/kernel/random/boot_id), KVM device, CPU model, vCPUs and
# machine type in build/qemu/ (QEMU_RUN_CACHE), so only the first boot
# pays for the probe.
#
# NO_KVM=1 forces TCG (E2E_NO_KVM=1, its older name, too). TCG runs one
# host thread per vCPU; QEMU_TCG_THREAD=single runs them all in one, which
# tells an emulator race from a kernel bug (docs/testing.md).
# QEMU_KVM_DEVICE (default /dev/kvm) and QEMU_RUN_CACHE exist for the tests
# only: a plain writable file as QEMU_KVM_DEVICE makes the launcher probe KVM
# on a machine without /dev/kvm (the probe then runs whatever
# qemu-system-x86_64 is first in PATH, a test's broken-KVM wrapper), and a
# scratch cache keeps the machine's own verdict out of it.
#
# While the guest runs, a line every QEMU_PROGRESS_EVERY seconds (default
# 10) on stderr: the time so far and the latest console line carrying TEXT
# (--progress-marker; what follows TEXT is shown), else the last console
# line, so a slow guest is told from a hung one.
#
# Exit status: QEMU's own; 124 when the timeout stopped it; 125 when the
# guest died at start (QEMU ended with nothing on the console: its last
# lines are shown); 2 on a bad argument.
set -u -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

console="" log="" timeout_s=900 label=qemu marker=""
usage() { sed -n '1d; /^#/!q; p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--console) console=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--label) label=$2; shift 2 ;;
	--progress-marker) marker=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) usage; exit 0 ;;
	*) echo "qemu-run: unknown argument '$1' (--help)" >&2; exit 2 ;;
	esac
done
qemu_args=("$@")
say() { echo "$label: $*" >&2; }
[ -n "$console" ] || { echo "qemu-run: --console FILE is required" >&2; exit 2; }
[ ${#qemu_args[@]} -gt 0 ] || { echo "qemu-run: no QEMU arguments after --" >&2; exit 2; }
[[ $timeout_s =~ ^[0-9]+$ ]] || { echo "qemu-run: --timeout wants seconds, not '$timeout_s'" >&2; exit 2; }
log=${log:-$console.qemu}
probe_timeout=${QEMU_PROBE_TIMEOUT:-20}
case ${QEMU_TCG_THREAD:-multi} in
single | multi) ;;
*) echo "qemu-run: QEMU_TCG_THREAD is single or multi, not '$QEMU_TCG_THREAD'" >&2; exit 2 ;;
esac
progress_every=${QEMU_PROGRESS_EVERY:-10}
kvm_dev=${QEMU_KVM_DEVICE:-/dev/kvm}
cache_dir=${QEMU_RUN_CACHE:-$top/build/qemu}

qemu=$(command -v qemu-system-x86_64) ||
	{ echo "qemu-run: qemu-system-x86_64 is not installed (tools/install-deps.sh)" >&2; exit 2; }

# What the probe must copy from the real boot.
kernel="" cpu="" smp=1 machine_type=""
for ((i = 0; i < ${#qemu_args[@]}; i++)); do
	a=${qemu_args[i]} next=${qemu_args[i + 1]:-}
	case $a in
	-kernel) kernel=$next ;;
	-cpu) cpu=$next ;;
	-smp) smp=$next ;;
	-machine | -M) machine_type=${next%%,*} ;;
	-accel | -enable-kvm | -no-kvm | -serial | -nographic | -monitor | -display)
		echo "qemu-run: do not pass $a: the launcher chooses the accelerator and the console" >&2
		exit 2 ;;
	esac
	case $next in *accel=*)
		echo "qemu-run: do not pass accel= ($a $next): the launcher chooses the accelerator" >&2
		exit 2 ;;
	esac
done
if [ -z "$kernel" ]; then
	kernel=$(printf '%s\n' /boot/vmlinuz-* | grep -v '\*' | sort -V | tail -n 1)
fi

# One line of a file, fit for a message: no CR, no control characters.
clean() { tr -d '\r' | tr -c '[:print:]\n' ' ' | cut -c1-"${1:-160}"; }
# The last line of QEMU's output that says something (not a warning).
qemu_last_words() {
	grep -v -e '^\s*$' -e 'warning:' -e '^# qemu-run: ' "$1" 2>/dev/null | tail -n 1 |
		sed "s|^$(basename "$qemu"): ||; s|^qemu-system-x86_64: ||" | clean 200
}
last_console_line() {
	tr -d '\r' <"$1" 2>/dev/null | grep -v '^\s*$' | tail -n 1 | clean 100
}

# Probe KVM with a boot that must reach "Kernel panic" (no root fs).
# Returns 0 if it did; else sets probe_reason.
probe_kvm() {
	local dir pid t0 rc
	dir=$(mktemp -d "${TMPDIR:-/tmp}/qemu-probe.XXXXXX")
	[ -n "$kernel" ] || { probe_reason="no kernel to probe it with"; rm -rf "$dir"; return 1; }
	t0=$SECONDS
	"$qemu" ${machine_type:+-machine "$machine_type"} -accel accel=kvm ${cpu:+-cpu "$cpu"} \
		-smp "$smp" -m 256 -display none -monitor none -no-reboot \
		-serial "file:$dir/console" -kernel "$kernel" \
		-append "console=ttyS0 panic=-1 loglevel=4" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt "$probe_timeout" ]; do
		grep -q 'Kernel panic' "$dir/console" 2>/dev/null && break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=running
	else
		wait "$pid" 2>/dev/null # no "Aborted" notice: the reason says it
		rc=$?
	fi
	if grep -q 'Kernel panic' "$dir/console" 2>/dev/null; then
		rm -rf "$dir"
		return 0
	fi
	if [ "$rc" = running ]; then
		if [ -s "$dir/console" ]; then
			probe_reason="a probe guest hung after '$(last_console_line "$dir/console")' (no end of boot in ${probe_timeout} s)"
		else
			probe_reason="a probe guest hung with nothing on its console for ${probe_timeout} s"
		fi
	else
		probe_reason="QEMU exited with status $rc after $((SECONDS - t0)) s: $(qemu_last_words "$dir/qemu.log")"
	fi
	rm -rf "$dir"
	return 1
}

# Sets accel to kvm or tcg; says why once when KVM is not used.
choose_accel() {
	accel=tcg
	local forced=""
	[ -n "${E2E_NO_KVM:-}" ] && [ "$E2E_NO_KVM" != 0 ] && forced=E2E_NO_KVM=$E2E_NO_KVM
	[ -n "${NO_KVM:-}" ] && [ "$NO_KVM" != 0 ] && forced=NO_KVM=$NO_KVM
	if [ -n "$forced" ]; then
		say "TCG forced by $forced"
		return
	fi
	if [ ! -e "$kvm_dev" ]; then
		say "kvm unusable here: no $kvm_dev; using TCG"
		return
	fi
	if [ ! -r "$kvm_dev" ] || [ ! -w "$kvm_dev" ]; then
		say "kvm unusable here: $kvm_dev is not readable and writable by $(id -un); using TCG"
		return
	fi
	local key verdict
	key=$( {
		echo "$qemu"
		stat -L -c '%s %Y %i' "$qemu"
		cat /proc/sys/kernel/random/boot_id 2>/dev/null
		stat -L -c '%t:%T %i %Z' "$kvm_dev"
		echo "cpu=$cpu smp=$smp machine=$machine_type"
	} | sha256sum | cut -c1-16)
	mkdir -p "$cache_dir"
	# Boots started together probe once: the others wait for the verdict.
	exec 7>"$cache_dir/accel-$key.lock"
	flock 7
	if [ -s "$cache_dir/accel-$key" ]; then
		verdict=$(cat "$cache_dir/accel-$key")
	else
		if probe_kvm; then
			verdict=kvm
		else
			verdict="tcg $probe_reason"
		fi
		echo "$verdict" >"$cache_dir/accel-$key.tmp"
		mv "$cache_dir/accel-$key.tmp" "$cache_dir/accel-$key"
	fi
	flock -u 7
	exec 7>&-
	if [ "$verdict" = kvm ]; then
		accel=kvm
		say "using KVM (a probe guest booted with it)"
	else
		say "kvm unusable here: ${verdict#tcg }; using TCG"
	fi
}

progress_text() {
	local line=""
	if [ -n "$marker" ]; then
		line=$(tr -d '\r' <"$console" 2>/dev/null | grep -F -- "$marker" | tail -n 1)
	fi
	if [ -n "$line" ]; then
		echo "${line#*"$marker"}" | clean 220
	elif [ -s "$console" ]; then
		echo "console: $(last_console_line "$console")"
	else
		echo "booting (nothing on the console yet)"
	fi
}

choose_accel
if [ "$accel" = kvm ]; then
	accel_args=(-accel accel=kvm)
else
	accel_args=(-accel "accel=tcg,thread=${QEMU_TCG_THREAD:-multi}")
fi

mkdir -p "$(dirname "$console")" "$(dirname "$log")"
: >"$console"
echo "# qemu-run: accel $accel" >"$log"
t0=$SECONDS
timeout -k 10 "$timeout_s" "$qemu" "${accel_args[@]}" "${qemu_args[@]}" \
	-display none -monitor none -no-reboot -serial "file:$console" \
	</dev/null >>"$log" 2>&1 &
qpid=$!
trap 'kill -TERM $qpid 2>/dev/null; wait $qpid 2>/dev/null; exit 130' INT TERM
next_progress=$((t0 + progress_every))
while kill -0 "$qpid" 2>/dev/null; do
	sleep 0.5
	if [ $SECONDS -ge $next_progress ] && kill -0 "$qpid" 2>/dev/null; then
		say "$((SECONDS - t0)) s: $(progress_text)"
		next_progress=$((SECONDS + progress_every))
	fi
done
wait "$qpid" 2>/dev/null
rc=$?
trap - INT TERM
ran=$((SECONDS - t0))

show_qemu_output() {
	local said
	said=$(grep -v -e '^\s*$' -e '^# qemu-run: ' "$log" 2>/dev/null | tail -n 8 | clean 200)
	if [ -z "$said" ]; then
		say "QEMU printed nothing"
	else
		say "QEMU's last lines ($log):"
		sed 's/^/    /' <<<"$said" >&2
	fi
}
if [ "$rc" -eq 124 ]; then
	if [ -s "$console" ]; then
		say "timeout: the guest was stopped after ${timeout_s} s; its last console line: $(last_console_line "$console")"
	else
		say "timeout: the guest was stopped after ${timeout_s} s with nothing on its console (it never started)"
		show_qemu_output
	fi
	exit 124
fi
if [ ! -s "$console" ]; then
	say "the guest died at start: QEMU exited with status $rc after $ran s, with nothing on the console"
	show_qemu_output
	exit 125
fi
exit "$rc"
