# shellcheck shell=bash
# Helpers for the scenarios that run inside the guest (sourced from
# /e2e/guest-lib.sh): VMs as transient scopes running guestsim, a sampler
# of per-VM cgroup signals, and waiting helpers. $OUT is the results dir.

CG=/sys/fs/cgroup
MS=$CG/machine.slice

# Check results, one line each in $RES (default $OUT/results.txt), which
# the host counts: "ok NAME" or "not ok NAME: why".
ok() { echo "ok $1" | tee -a "${RES:-$OUT/results.txt}"; }
notok() { echo "not ok $1: $2" | tee -a "${RES:-$OUT/results.txt}"; }
check() { # NAME WHY-IF-FAILED COMMAND...
	local n=$1 why=$2
	shift 2
	if "$@"; then ok "$n"; else notok "$n" "$why"; fi
}

# start_vm NAME [guestsim args...]: guestsim in machine.slice/NAME.scope, in
# the background. JSON lines in $OUT/vm-NAME.jsonl, exit code in .rc.
start_vm() {
	local n=$1
	shift
	start_vm_in machine.slice "$n" "$@"
}

# start_vm_in SLICE NAME [args...]: the same in another slice.
start_vm_in() {
	local slice=$1 n=$2
	shift 2
	rm -f "$OUT/vm-$n.rc"
	(
		systemd-run --quiet --scope --slice="$slice" --unit="$n" \
			guestsim --name "$n" "$@" >"$OUT/vm-$n.jsonl" 2>"$OUT/vm-$n.err"
		echo $? >"$OUT/vm-$n.rc"
	) &
	echo "$n $slice $*" >>"$OUT/vms.txt"
}

vm_cg() {
	local n=$1 d
	for d in "$CG"/*.slice/"$n".scope; do
		[ -d "$d" ] && { echo "$d"; return 0; }
	done
	echo "$MS/$n.scope"
}

# wait_vm_ready NAME TIMEOUT_S: until guestsim has filled its memory.
wait_vm_ready() {
	local n=$1 end=$((SECONDS + ${2:-120}))
	while [ $SECONDS -lt $end ]; do
		grep -q '"event":"ready"' "$OUT/vm-$n.jsonl" 2>/dev/null && return 0
		[ -f "$OUT/vm-$n.rc" ] && return 1
		sleep 0.2
	done
	return 1
}

# wait_vm_exit NAME TIMEOUT_S: prints guestsim's exit code.
wait_vm_exit() {
	local n=$1 end=$((SECONDS + ${2:-120}))
	while [ $SECONDS -lt $end ]; do
		if [ -f "$OUT/vm-$n.rc" ]; then
			cat "$OUT/vm-$n.rc"
			return 0
		fi
		sleep 0.2
	done
	echo timeout
	return 1
}

stop_vm() {
	systemctl kill --signal=TERM "$1.scope" 2>/dev/null
}

mem_current() {
	local f
	f=$(vm_cg "$1")/memory.current
	[ -r "$f" ] && cat "$f" || echo 0
}

# psi_total FILE [some|full]: the total (us) of a pressure file, in $REPLY
# (no subshell: the sampler runs these many times a second under TCG).
psi_total() {
	local kind=${2:-some} line
	REPLY=0
	while read -r line; do
		case $line in "$kind "*) REPLY=${line##*total=}; return ;; esac
	done <"$1" 2>/dev/null
}

# stat_field FILE KEY: the value after KEY in a "key value" file, in $REPLY.
stat_field() {
	local k v
	REPLY=0
	while read -r k v; do
		[ "$k" = "$2" ] && { REPLY=$v; return; }
	done <"$1" 2>/dev/null
}

# sampler_start [PERIOD]: one JSON line per period and VM scope (any slice)
# in $OUT/samples.jsonl, plus a "_host" line. Bash builtins only: cheap.
sampler_start() {
	local period=${1:-1}
	(
		exec >>"$OUT/samples.jsonl" 2>/dev/null
		while :; do
			local now d n cur swp some full rf mf avail hs hf
			now=$EPOCHREALTIME
			for d in "$CG"/*.slice/*.scope; do
				[ -f "$d/memory.current" ] || continue
				n=${d##*/}
				n=${n%.scope}
				case $n in session-*|init|run-*) continue ;; esac
				read -r cur <"$d/memory.current" || continue
				read -r swp <"$d/memory.swap.current" || swp=0
				psi_total "$d/memory.pressure" some; some=$REPLY
				psi_total "$d/memory.pressure" full; full=$REPLY
				stat_field "$d/memory.stat" workingset_refault_anon; rf=$REPLY
				stat_field "$d/memory.stat" pgmajfault; mf=$REPLY
				printf '{"ts":%s,"vm":"%s","current":%s,"swap":%s,"psi_some_us":%s,"psi_full_us":%s,"refault_anon":%s,"pgmajfault":%s}\n' \
					"$now" "$n" "${cur:-0}" "${swp:-0}" "$some" "$full" "$rf" "$mf"
			done
			stat_field /proc/meminfo MemAvailable:; avail=${REPLY% kB}
			psi_total /proc/pressure/memory some; hs=$REPLY
			psi_total /proc/pressure/memory full; hf=$REPLY
			printf '{"ts":%s,"vm":"_host","mem_available_kb":%s,"psi_some_us":%s,"psi_full_us":%s}\n' \
				"$now" "$avail" "$hs" "$hf"
			sleep "$period"
		done
	) &
	SAMPLER_PID=$!
}

sampler_stop() {
	[ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null
	wait "$SAMPLER_PID" 2>/dev/null
	SAMPLER_PID=
}

# Install a policy set: removes every policy in policies.d, copies FILES.
POLICY_DIR=/etc/balancerd/policies.d
install_policies() {
	mkdir -p "$POLICY_DIR"
	rm -f "$POLICY_DIR"/*.json
	cp "$@" "$POLICY_DIR/"
}

# A policy from a shipped one with faster clocks, for bounded tests:
# fast_policy SRC DST [cold_age] [backoff]
fast_policy() {
	jq --arg ca "${3:-10s}" --arg bo "${4:-10s}" \
		'.backoff = $bo | .interval = "1s" | .classes |= map(.cold_age = $ca)' \
		"$1" >"$2"
}

# The shipped policies: where make install put them, else /e2e/policies.
shipped_policy() {
	local n=$1 d
	for d in /usr/share/balancerd/policies /usr/share/doc/balancerd/policies \
		/usr/local/share/balancerd/policies \
		/usr/local/share/doc/balancerd/policies /e2e/policies; do
		[ -f "$d/$n.json" ] && { echo "$d/$n.json"; return 0; }
	done
	return 1
}

unit_prop() { systemctl show -p "$2" --value "$1" 2>/dev/null; }

# Wait until COMMAND succeeds, up to T seconds of wall time (polling every
# 0.5 s; under TCG one poll can itself take seconds).
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.5
	done
}

# Journal of balancerd as JSON lines (optionally since a time).
bjournal() {
	journalctl -u balancerd -o json --no-pager "$@" 2>/dev/null
}
