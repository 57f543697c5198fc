#!/bin/bash
# The demo scenario, inside the guest (run by tests/e2e/demo.sh): five VMs
# under three policy classes of the shipped default policy, one of which
# (web-2) has its working set jump from 20% to 80% halfway; balancerd
# manages them for DEMO_SECONDS. Results in $OUT for the host to summarise.
set -u
. /e2e/guest-lib.sh
DEMO_SECONDS=${DEMO_SECONDS:-120}
SPIKE=$((DEMO_SECONDS / 2))
note() { echo "[$(date +%T)] demo: $*"; }

# The shipped default policy with clocks fit for two minutes: memory idle
# for 20 s counts as cold (the default policy says so for its catch-all
# class; batch 15 s, latency 5 min), backoff 15 s.
src=$(shipped_policy default)
fast_policy "$src" /tmp/50-demo.json 20s 15s
install_policies /tmp/50-demo.json
cp /tmp/50-demo.json "$OUT/policy.json"

sampler_start 1
note "starting 5 VMs"
# name                     size  hot set   accesses/s
start_vm web-1   --size 256M --hot 30% --rate 2000 --seed 11
start_vm web-2   --size 192M --hot 20% --rate 2000 --seed 12 \
	--phase "$((SPIKE + 20))s:hot=80%"
start_vm batch-1 --size 256M --hot 10% --rate 1000 --seed 13
start_vm batch-2 --size 192M --hot 10% --rate 1000 --seed 14 --access zipf
start_vm vm-plain --mode plain --size 128M --hot 25% --rate 1000 --seed 15
for v in web-1 web-2 batch-1 batch-2 vm-plain; do
	wait_vm_ready $v 180 || note "$v did not start: $(tail -c 200 "$OUT/vm-$v.err")"
done
# web-2 counts its phases from its own start; we start the clock at balancerd.
note "VMs ready; 15 s unmanaged baseline"
sleep 15
date +%s.%N >"$OUT/balancerd-start.ts"
note "starting balancerd"
systemctl start balancerd
systemctl show -p StatusText --value balancerd >"$OUT/status-start.txt"
sleep "$DEMO_SECONDS"
balancerctl status >"$OUT/balancerctl-status.txt" 2>&1
systemctl show -p StatusText --value balancerd >"$OUT/status-end.txt"
date +%s.%N >"$OUT/end.ts"
note "stopping"
for v in web-1 web-2 batch-1 batch-2 vm-plain; do stop_vm $v; done
for v in web-1 web-2 batch-1 batch-2 vm-plain; do wait_vm_exit $v 60 >/dev/null; done
sampler_stop
bjournal >"$OUT/journal-balancerd.json"
systemctl stop balancerd
echo "demo-guest: done"
