#!/bin/bash
# The in-kernel test rig: run the ovcmem suites (tests/kernel/test_*.c) in a
# real Debian kernel under QEMU, because the machines we build on cannot load
# modules into their own kernel.
#
#   tests/vm/run.sh [--kver VERSION]... [--suite test_name]... [--timeout S]
#                   [--mem MiB] [--append "extra kernel args"]
#                   [--no-module] [--boots N]
#
# Without --kver it runs on every kernel tools/kernels.sh lists. For each
# kernel it builds the module, packs an initramfs (busybox, zram and its
# dependencies, ovcmem.ko, the statically linked suites, tests/vm/init),
# boots it with a hard timeout and judges the serial console:
#   - each suite's "N passed, N failed" line (a missing one is a failure),
#   - the module loaded, and unloaded at the end (a leak keeps it pinned),
#   - no kernel WARNING, BUG, Oops, Call Trace (OOM reports excepted),
#     KASAN, lockdep or RCU stall report,
#   - the guest finished before the timeout.
# Prints "ok ..." / "not ok ..." lines and, per kernel, a closing
# "N passed, N failed". Console logs stay in build/vm/<version>/console.log
# (QEMU's own output in console.log.qemu).
#
# The guest boots through tools/qemu-run.sh: KVM when it works here, else TCG
# (NO_KVM=1 forces TCG); a guest that dies at start is reported as such.
#
# --no-module boots the same initramfs without ovcmem and without suites:
# only the kernel log and the finish are judged. With --boots N each kernel
# boots N times, each boot judged on its own (a kernel report in any boot
# fails the run; the console of a boot that failed is kept as
# console-<boot>.log). Together they tell the kernel's and the emulator's
# own reports from ours (docs/testing.md).
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

kvers=() suites=() timeout_s=900 mem=1024 append="" no_module="" boots=1
while [ $# -gt 0 ]; do
	case "$1" in
	--no-module) no_module=1; shift ;;
	--boots) boots=$2; shift 2 ;;
	--kver) kvers+=("$2"); shift 2 ;;
	--suite) suites+=("$2"); shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	-h|--help) sed -n '1d; /^#/!q; s/^# \{0,1\}//; p' "$0"; exit 0 ;;
	*) echo "vm: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ ${#kvers[@]} -gt 0 ] || mapfile -t kvers < <(tools/kernels.sh)
if [ ${#kvers[@]} -eq 0 ]; then
	echo "vm: no Debian kernel installed (tools/install-deps.sh)" >&2
	exit 1
fi
[[ $boots =~ ^[1-9][0-9]*$ ]] || { echo "vm: --boots wants a count, not '$boots'" >&2; exit 2; }
if [ -n "$no_module" ] && [ ${#suites[@]} -gt 0 ]; then
	echo "vm: --no-module runs no suite (they need the module)" >&2
	exit 2
fi
if [ ${#suites[@]} -eq 0 ] && [ -z "$no_module" ]; then
	for f in tests/kernel/test_*.c; do
		[ -e "$f" ] && suites+=("$(basename "$f" .c)")
	done
fi

bindir=$top/build/vm/bin
build_suites() {
	mkdir -p "$bindir"
	local s
	for s in "${suites[@]}"; do
		local src=tests/kernel/$s.c
		[ -f "$src" ] || { echo "vm: no suite $src" >&2; return 1; }
		# A suite that exercises balancerd's own code on the real kernel
		# names the sources it links in a "rig-link:" comment line.
		local link
		link=$(sed -n 's/^ \* rig-link: //p' "$src")
		# shellcheck disable=SC2086 # $link is a list of paths
		if [ ! "$bindir/$s" -nt "$src" ] || \
		   [ -n "$(find tests/kernel include balancerd -name '*.h' -newer "$bindir/$s")" ] || \
		   { [ -n "$link" ] && [ -n "$(find $link -newer "$bindir/$s")" ]; }; then
			# shellcheck disable=SC2086 # $link is a list of paths
			cc -static -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
				-Iinclude/uapi -Itests/kernel -Ibalancerd -pthread \
				-o "$bindir/$s" "$src" $link -lm || return 1
		fi
	done
}

# shellcheck source=tests/vm/initramfs.sh
. tests/vm/initramfs.sh

pack_initramfs() {
	local kver=$1 out=$2 root=$3 s
	rig_root "$kver" "$root" "$no_module" || return 1
	for s in "${suites[@]}"; do
		cp "$bindir/$s" "$root/tests/"
		echo "$s" >>"$root/tests/list"
	done
	rig_pack "$root" "$out"
}

# Judge one console log; prints ok/not ok lines and the closing line.
# $4 names the boot in the results when a kernel boots more than once.
judge() {
	local kver=$1 log=$2 rc=$3 boot=${4:-}
	awk -v kver="$kver${boot:+/boot-$boot}" -v qrc="$rc" -v suites="${suites[*]}" \
		-v nomodule="$no_module" '
	function result(ok, name, why) {
		if (ok) { passed++; print "ok " name }
		else { failed++; print "not ok " name (why != "" ? ": " why : "") }
	}
	BEGIN { n = split(suites, want, " "); passed = failed = 0 }
	{ sub(/\r$/, "") }
	/RIG-MODULE-LOADED/ { loaded = 1 }
	/RIG-MODULE-UNLOADED/ { unloaded = 1 }
	/RIG-ERROR:/ { rigerr = rigerr " [" substr($0, index($0, "RIG-ERROR:") + 11) "]" }
	/RIG-DONE/ { done = 1 }
	/RIG-DMESG-BEGIN/ { indmesg = 1 }
	/RIG-DMESG-END/ { indmesg = 0 }
	/RIG-SUITE-BEGIN / { cur = $2; begun[cur] = 1; next }
	/RIG-SUITE-END / {
		split($3, r, "="); rcs[$2] = r[2]; seen[$2] = 1; cur = ""; next
	}
	cur != "" && /^[0-9]+ passed, [0-9]+ failed$/ {
		np[cur] = $1; nf[cur] = $3; closing[cur] = 1; next
	}
	# The figures of a suite ("# ..." lines) go to the output too: other runs
	# of the rig may overwrite the console log before anyone reads it.
	cur != "" && /^# / { print "# vm/" kver "/" cur ": " substr($0, 3); next }
	cur != "" && /^ok / { print "ok vm/" kver "/" cur "/" substr($0, 4); next }
	cur != "" && /^not ok / { print "not ok vm/" kver "/" cur "/" substr($0, 8); next }
	# Kernel reports. An OOM report carries a Call Trace by design: the
	# OOM suite provokes one, so a trace inside such a report is expected.
	/invoked oom-killer/ { inoom = 1 }
	inoom && /(Out of memory|oom-kill:|Killed process|Memory cgroup out of memory)/ { inoom = 0 }
	/WARNING:|BUG:|Oops|KASAN|possible circular locking|possible recursive locking|rcu_.*stall|RCU stall|detected stall|general protection fault|Kernel panic/ {
		report = report " [" $0 "]"
	}
	/Call Trace:/ && !inoom { report = report " [Call Trace outside an OOM report]" }
	END {
		for (i = 1; i <= n; i++) {
			s = want[i]
			if (!closing[s]) {
				result(0, "vm/" kver "/" s, seen[s] ? "no closing line (rc=" rcs[s] ")" : begun[s] ? "did not finish" : "did not run")
				continue
			}
			passed += np[s]; failed += nf[s]
			if (nf[s] == 0 && rcs[s] != 0)
				result(0, "vm/" kver "/" s "/exit-status", "rc=" rcs[s])
		}
		if (!nomodule) {
			result(loaded, "vm/" kver "/rig/module-loads", rigerr)
			result(unloaded, "vm/" kver "/rig/module-unloads",
				loaded ? "rmmod failed: a partition or reference leaked" : "it never loaded")
		}
		result(report == "", "vm/" kver "/rig/kernel-log-clean", substr(report, 1, 400))
		result(done && qrc != 124 && qrc != 125, "vm/" kver "/rig/finished-in-time",
			qrc == 124 ? "timeout" : qrc == 125 ? "the guest died at start (QEMU output above)" : "guest did not finish (rc=" qrc ")")
		printf "%d passed, %d failed\n", passed, failed
		exit failed ? 1 : 0
	}' "$log"
}

# Runs of the rig may overlap (several developers, or make -j); each kernel's
# build, initramfs and console log are theirs alone while a run holds its
# lock, and the suite binaries are built under a lock of their own.
mkdir -p "$top/build/vm"
exec 8>"$top/build/vm/.bin.lock"
flock 8
build_suites || { echo "vm: building the suites failed"; echo "0 passed, 1 failed"; exit 1; }
flock -u 8
status=0
for kver in "${kvers[@]}"; do
	# A run without the module has its own directory (and lock): a long
	# --boots loop must not hold up the suites on the same kernel.
	out=$top/build/vm/$kver${no_module:+-nomodule}
	mkdir -p "$out"
	exec 9>"$out.lock"
	flock 9
	if [ -z "$no_module" ] && ! tools/build-kmod.sh --kver "$kver" >"$out/build.log" 2>&1; then
		cat "$out/build.log"
		echo "not ok vm/$kver/rig/module-builds"
		echo "0 passed, 1 failed"
		status=1
		continue
	fi
	if ! pack_initramfs "$kver" "$out/initramfs.gz" "$out/root"; then
		echo "not ok vm/$kver/rig/initramfs"
		echo "0 passed, 1 failed"
		status=1
		continue
	fi
	passed=0 failed=0 failed_boots=0
	# 6.12 gets one TCG thread for both vCPUs unless told otherwise:
	# multi-threaded TCG Oopsed at int3 in 2 of 100 boots of 6.12 with no
	# module loaded, single-threaded in 0 of 200 (docs/testing.md). The
	# rig judges every kernel report, so it boots where the emulator does
	# not make them. 6.1 showed no such Oops, and its migration suite
	# crawls with one thread, so it keeps one thread per vCPU.
	tcg_thread=multi
	case $kver in 6.12.*) tcg_thread=single ;; esac
	for ((boot = 1; boot <= boots; boot++)); do
		start=$(date +%s)
		QEMU_TCG_THREAD=${QEMU_TCG_THREAD:-$tcg_thread} \
		tools/qemu-run.sh --label "vm/$kver" --timeout "$timeout_s" \
			--console "$out/console.log" --progress-marker "RIG-SUITE-BEGIN " -- \
			-m "$mem" -smp 2 \
			-kernel "/boot/vmlinuz-$kver" -initrd "$out/initramfs.gz" \
			-append "console=ttyS0 panic=-1 loglevel=4 no_timer_check transparent_hugepage=madvise numa=fake=2 numa_balancing=disable secretmem.enable=1 $append"
		qrc=$?
		if [ "$boots" -eq 1 ]; then
			echo "# vm/$kver: guest ran $(($(date +%s) - start)) s, console in ${out#"$top"/}/console.log"
			judge "$kver" "$out/console.log" "$qrc" || status=1
			continue
		fi
		verdict=$(judge "$kver" "$out/console.log" "$qrc" "$boot")
		grep -v '^[0-9]* passed, [0-9]* failed$' <<<"$verdict"
		passed=$((passed + $(sed -nE 's/^([0-9]+) passed, [0-9]+ failed$/\1/p' <<<"$verdict")))
		failed=$((failed + $(sed -nE 's/^[0-9]+ passed, ([0-9]+) failed$/\1/p' <<<"$verdict")))
		if grep -q '^not ok' <<<"$verdict"; then
			failed_boots=$((failed_boots + 1))
			cp "$out/console.log" "$out/console-$boot.log"
			echo "# vm/$kver: boot $boot failed; its console: ${out#"$top"/}/console-$boot.log"
		fi
	done
	if [ "$boots" -gt 1 ]; then
		echo "# vm/$kver: $failed_boots of $boots boots failed"
		echo "$passed passed, $failed failed"
		[ "$failed" -eq 0 ] || status=1
	fi
	flock -u 9
done
exit $status
