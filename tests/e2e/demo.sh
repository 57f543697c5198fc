#!/bin/bash
# make demo: boot the Debian 12 + systemd guest with this tree installed,
# run five VMs (guestsim) under the default policy's three classes for about
# two minutes with balancerd managing them (one VM's working set jumps
# halfway), then print a table per VM, the telling journal lines, and plot
# build/demo/demo.png.
#
#   tests/e2e/demo.sh [--kver VERSION] [--seconds N]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kver="" secs=120
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	-h|--help) sed -n '1d; /^#/!q; s/^# \{0,1\}//; p' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
kver=${kver:-$(e2e_default_kver)}
out=$E2E_TOP/build/demo
mkdir -p "$out"
# A private work directory (others may run the demo from this tree too).
w=$(mktemp -d "$out/run.XXXXXX")
for t in qemu-system-x86_64 mmdebstrap debugfs mke2fs gnuplot python3; do
	command -v "$t" >/dev/null || { echo "demo: $t is not installed (tools/install-deps.sh)" >&2; exit 1; }
done

t0=$(date +%s)
echo "demo: guest image (Debian 12 + systemd; cached after the first build)" >&2
img=$("$here/build-image.sh") || { echo "demo: image build failed" >&2; exit 1; }
echo "demo: $img ($(($(date +%s) - t0)) s)" >&2
# demo-guest.sh reads DEMO_SECONDS from its environment (scenario.env).
printf 'DEMO_SECONDS=%s\n' "$secs" >"$w/scenario.env"
e2e_prepare "$kver" "$w" "$here/demo-guest.sh" "$here/guest-lib.sh" "$E2E_TOP/policies" "$w/scenario.env" ||
	{ echo "demo: payload failed" >&2; exit 1; }
echo "demo: booting the guest on $kver (about 3 minutes under TCG, less with KVM; a progress line every 10 s)" >&2
if ! e2e_boot "$kver" "$w" $((secs + 600)) 2048; then
	echo "demo: $E2E_BOOT_WHY; console: $w/console.log" >&2
	[ -s "$w/console.log" ] && tail -20 "$w/console.log" >&2
	exit 1
fi
if ! grep -q 'demo-guest: done' "$w/out/guest-init.log" 2>/dev/null; then
	echo "demo: the scenario did not finish; see $w/out/guest-init.log" >&2
	tail -20 "$w/out/guest-init.log" >&2
	exit 1
fi
rm -rf "$w/payload.ext4" "$w/payload"
echo "demo: guest ran ${E2E_BOOT_SECONDS}s; total $(($(date +%s) - t0)) s" >&2
python3 "$here/report.py" demo "$w/out" "$w/demo.png" || exit 1
cp "$w/demo.png" "$out/demo.png"
rm -rf "$out/out" && cp -r "$w/out" "$out/out"
echo "demo: data in $out/out, plot in $out/demo.png" >&2
