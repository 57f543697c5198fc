#!/bin/bash
# Scenario S1, inside the guest (run by bench/densify.sh): twin sets of six
# 256 MiB VMs (THP on), each touching a hot 25% steadily; VM 6 of each set
# doubles its working set (25% -> 50%) 60 s after start-up. The managed set
# lives in machine.slice (balancerd's VMs), the unmanaged twins in
# unmanaged.slice, which no policy matches: same boot, same CPU, so the
# comparison does not depend on how fast this particular run is.
set -u
. /e2e/guest-lib.sh
: "${S1_SECONDS:=180}" "${S1_POLICY:=default}" "${S1_COLD_AGE:=}" "${S1_RATE:=4000}"
: "${S1_SIZE:=256M}" "${S1_VMS:=6}" "${S1_MODE:=ovcmem}"
note() { echo "[$(date +%T)] densify: $*"; }

src=$(shipped_policy "$S1_POLICY") || { echo "densify: no policy $S1_POLICY"; exit 1; }
if [ -n "$S1_COLD_AGE" ]; then
	jq --arg ca "$S1_COLD_AGE" '.classes |= map(.cold_age = $ca)' "$src" >/tmp/50-s1.json
else
	cp "$src" /tmp/50-s1.json
fi
# balancerd also finds VMs by their ovcmem partitions, in any slice: the
# unmanaged twins get a class of their own that keeps them whole (floor
# 100%: never reclaimed; no prefault), so balancerd leaves them alone.
jq '.classes |= [{"name": "unmanaged-twins", "description": "S1 control group: never touched",
	"match": ["u-*"], "priority": 100, "shares": 100, "floor": "100%",
	"pressure_target": 1.0, "cold_age": "10m", "max_reclaim_rate": "1M", "prefault": false}] + .' \
	/tmp/50-s1.json >/tmp/50-s1.json.new && mv /tmp/50-s1.json.new /tmp/50-s1.json
install_policies /tmp/50-s1.json
cp /tmp/50-s1.json "$OUT/policy.json"
systemctl start balancerd
note "balancerd: $(systemctl show -p ActiveState --value balancerd), policy $S1_POLICY${S1_COLD_AGE:+ (cold_age $S1_COLD_AGE)}"
date +%s.%N >"$OUT/balancerd-start.ts"

sampler_start 1
vms=()
for i in $(seq 1 "$S1_VMS"); do
	extra=()
	[ "$i" = "$S1_VMS" ] && extra=(--phase "60s:hot=50%")
	for set in m u; do
		slice=machine.slice
		[ $set = u ] && slice=unmanaged.slice
		start_vm_in $slice "$set-vm$i" --mode "$S1_MODE" --size "$S1_SIZE" --thp on --hot 25% \
			--rate "$S1_RATE" --seed "$i" --verify-cold-interval 0 \
			--duration "${S1_SECONDS}s" "${extra[@]}"
		vms+=("$set-vm$i")
	done
done
for v in "${vms[@]}"; do
	wait_vm_ready "$v" 300 || note "$v did not start: $(tail -c 200 "$OUT/vm-$v.err")"
done
note "all ${#vms[@]} VMs ready; running ${S1_SECONDS}s"
# zram two thirds in, while the VMs' cold memory is in it: orig_data_size
# compr_data_size mem_used_total ... (how well guest data compresses)
(sleep $((S1_SECONDS * 2 / 3)); cat /sys/block/zram0/mm_stat >"$OUT/zram-mm_stat.txt" 2>/dev/null) &
for v in "${vms[@]}"; do wait_vm_exit "$v" $((S1_SECONDS + 300)) >/dev/null; done
date +%s.%N >"$OUT/end.ts"
sampler_stop
balancerctl status >"$OUT/balancerctl-status.txt" 2>&1
# balancerd's CPU over the run (user + system, ns), for the cost figures
systemctl show -p CPUUsageNSec --value balancerd >"$OUT/balancerd-cpu-ns.txt" 2>/dev/null
bpid=$(systemctl show -p MainPID --value balancerd)
[ -r "/proc/$bpid/stat" ] && awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' \
	"/proc/$bpid/stat" >"$OUT/balancerd-cpu-s.txt"
uname -r >"$OUT/kernel.txt"
cat /sys/kernel/mm/lru_gen/enabled >"$OUT/lru_gen-enabled.txt" 2>/dev/null

bjournal >"$OUT/journal-balancerd.json"
for v in "${vms[@]}"; do
	d=$(vm_cg "$v")
	[ -f "$d/memory.events" ] && sed "s/^/$v /" "$d/memory.events"
done >"$OUT/memory-events.txt"
systemctl stop balancerd
echo "densify-guest: done"
