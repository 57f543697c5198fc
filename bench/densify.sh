#!/bin/bash
# Densification benchmark, scenario S1, in the Debian + systemd guest:
# six 256 MiB VMs (guestsim, THP on) each touching a hot 25% steadily, the
# rest idle after start-up; the sixth doubles its working set at t=60 s.
# Twin sets run in ONE boot: one in machine.slice managed by balancerd
# (shipped default policy unless told otherwise), one in unmanaged.slice
# that no policy matches, so speed differences between runs cancel out.
# Prints figures (not pass/fail): resident sums, cold memory reclaimed,
# hot-set throughput relative to the unmanaged twins, PSI totals, refaults,
# spike-to-restore time, OOM kills.
#
#   bench/densify.sh [--kver V] [--mode ovcmem|plain] [--seconds N]
#                    [--policy default|aggressive|conservative]
#                    [--cold-age DUR] [--rate N] [--mem MB] [--md FILE]
#
# --mode plain runs the guestsim VMs (both sets) on ordinary anonymous
# memory, without ovcmem partitions: balancerd then has only the kernel's
# signals and its MGLRU or "none" cold source, as on a stock KVM host.
#
# The guest gets 4 GiB (--mem) so that both sets (3 GiB of guest RAM) fit
# next to each other; zram swap is half of it.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/e2e/lib.sh"

kver="" mode=ovcmem secs=180 policy=default cold_age="" rate=4000 mem=4096 md=""
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--mode) mode=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--policy) policy=$2; shift 2 ;;
	--cold-age) cold_age=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--md) md=$2; shift 2 ;;
	-h|--help) sed -n '1d; /^#/!q; s/^# \{0,1\}//; p' "$0"; exit 0 ;;
	*) echo "densify: unknown argument '$1' (--help)" >&2; exit 2 ;;
	esac
done
kver=${kver:-$(e2e_default_kver)}
case $mode in ovcmem | plain) ;; *) echo "densify: --mode ovcmem|plain, not '$mode'" >&2; exit 2 ;; esac
mkdir -p "$top/build/bench"
w=$(mktemp -d "$top/build/bench/densify-$mode-$policy${cold_age:+-$cold_age}.XXXXXX")
t0=$(date +%s)
"$top/tests/e2e/build-image.sh" >/dev/null || { echo "densify: image build failed" >&2; exit 1; }
cat >"$w/scenario.env" <<EOF
S1_SECONDS=$secs
S1_POLICY=$policy
S1_COLD_AGE=$cold_age
S1_RATE=$rate
S1_MODE=$mode
EOF
e2e_prepare "$kver" "$w" "$top/bench/densify-guest.sh" "$top/tests/e2e/guest-lib.sh" \
	"$top/policies" "$w/scenario.env" || { echo "densify: payload failed" >&2; exit 1; }
echo "densify: S1 on $kver, $mode mode, ${secs}s, policy $policy${cold_age:+ with cold_age $cold_age}, ${mem} MiB guest" >&2
if ! e2e_boot "$kver" "$w" $((secs + 900)) "$mem"; then
	echo "densify: $E2E_BOOT_WHY; console: $w/console.log" >&2
	exit 1
fi
grep -q 'densify-guest: done' "$w/out/guest-init.log" 2>/dev/null ||
	{ echo "densify: scenario did not finish; see $w/out/guest-init.log" >&2; tail -5 "$w/out/guest-init.log" >&2; exit 1; }
rm -rf "$w/payload.ext4" "$w/payload"
echo "densify: guest ${E2E_BOOT_SECONDS}s, total $(($(date +%s) - t0))s; data in $w/out" >&2
python3 "$top/tests/e2e/report.py" densify "$w/out" ${md:+"$md"}
