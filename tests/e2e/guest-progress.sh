#!/bin/bash
# Runs inside the guest beside the scenario (the /e2e/scenario.sh wrapper
# that tests/e2e/lib.sh writes starts it, with its output on the console):
# every 10 s one line that tools/qemu-run.sh on the host shows as progress,
#   ovc-progress: guest up 95 s | VMs 5, resident 1030M | balancerd active | <phase>
# VMs are the scopes in machine.slice and unmanaged.slice (tests/e2e/guest-lib.sh
# starts them there), resident their memory.current summed, and the phase the
# scenario's last line in $OUT/guest-init.log. Bash builtins where it can:
# under TCG every process start costs.
OUT=${OUT:-/e2e/out}
while :; do
	read -r up _ </proc/uptime
	vms=0 resident=0
	for d in /sys/fs/cgroup/machine.slice/*.scope /sys/fs/cgroup/unmanaged.slice/*.scope; do
		[ -r "$d/memory.current" ] || continue
		read -r cur <"$d/memory.current" || continue
		vms=$((vms + 1))
		resident=$((resident + cur))
	done
	phase=$(grep -v '^[[:space:]]*$' "$OUT/guest-init.log" 2>/dev/null | tail -n 1)
	phase=${phase#\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\] }
	echo "ovc-progress: guest up ${up%.*} s | VMs $vms, resident $((resident >> 20))M |" \
		"balancerd $(systemctl is-active balancerd 2>/dev/null) | ${phase:0:70}"
	sleep 10
done
