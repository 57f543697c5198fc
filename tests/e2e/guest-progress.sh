#!/bin/bash
# Runs inside the guest beside the scenario (the /e2e/scenario.sh wrapper
# that tests/e2e/lib.sh writes starts it, with its output on the console):
# every 10 s one line that tools/qemu-run.sh on the host shows as progress,
#   ovc-progress: guest up 95 s | VMs 5, resident 1030M | <phase> (40 s ago) | balancerd: <its status>
# VMs are the scopes in machine.slice and unmanaged.slice (tests/e2e/guest-lib.sh
# starts them there), resident their memory.current summed, the phase the
# scenario's last line in $OUT/guest-init.log, and balancerd's status its
# sd_notify STATUS= text (mode, VMs, reclaimed, last action) while it runs.
# Bash builtins where it can: under TCG every process start costs.
OUT=${OUT:-/e2e/out}
last_phase="" since=0
while :; do
	read -r up _ </proc/uptime
	up=${up%.*}
	vms=0 resident=0
	for d in /sys/fs/cgroup/machine.slice/*.scope /sys/fs/cgroup/unmanaged.slice/*.scope; do
		[ -r "$d/memory.current" ] || continue
		read -r cur <"$d/memory.current" || continue
		vms=$((vms + 1))
		resident=$((resident + cur))
	done
	phase=$(grep -v '^[[:space:]]*$' "$OUT/guest-init.log" 2>/dev/null | tail -n 1)
	phase=${phase#\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\] }
	phase=${phase:0:60}
	if [ "$phase" != "$last_phase" ]; then
		last_phase=$phase
		since=$up
	fi
	state="" status=""
	while IFS='=' read -r key value; do
		case $key in
		ActiveState) state=$value ;;
		StatusText) status=$value ;;
		esac
	done < <(systemctl show -p ActiveState -p StatusText balancerd 2>/dev/null)
	case $state in
	active | reloading) bd="balancerd: ${status:-$state}" ;;
	*) bd="balancerd ${state:-unknown}" ;;
	esac
	echo "ovc-progress: guest up $up s | VMs $vms, resident $((resident >> 20))M |" \
		"$phase ($((up - since)) s ago) | $bd"
	sleep 10
done
