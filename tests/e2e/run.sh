#!/bin/bash
# End-to-end tests: boot the Debian 12 + systemd guest (tests/e2e/build-image.sh)
# under QEMU with this tree's module, daemon and guestsim installed, and run
# tests/e2e/guest-tests.sh in it: the unit reaches READY, journal fields,
# cold reclaim, backoff then prefault, reload, watchdog, VM exit, data
# integrity. One line per check, then "N passed, N failed"; exit 1 on failure.
# While the guest runs, a progress line every 10 s on stderr (tools/qemu-run.sh:
# KVM when it works here, else TCG; NO_KVM=1 forces TCG).
#
#   tests/e2e/run.sh [--kver VERSION] [--timeout SECONDS] [--keep]
#
# Needs: qemu-system-x86_64, mmdebstrap, e2fsprogs (debugfs), the kernel
# headers for VERSION (default: the oldest installed Debian kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kver="" tmo=720 keep=""
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
kver=${kver:-$(e2e_default_kver)}
# One directory per invocation: several runs may share this tree at once
# (make check while someone runs this by hand); build/e2e/run-KVER-latest
# points at the newest.
mkdir -p "$E2E_TOP/build/e2e"
w=$(mktemp -d "$E2E_TOP/build/e2e/run-$kver.XXXXXX")
ln -sfn "$(basename "$w")" "$E2E_TOP/build/e2e/run-$kver-latest"

fail_all() {
	echo "not ok e2e-setup: $1"
	echo "0 passed, 1 failed"
	exit 1
}
for t in qemu-system-x86_64 mmdebstrap debugfs mke2fs; do
	command -v "$t" >/dev/null || fail_all "$t not installed (tools/install-deps.sh)"
done
[ -f "/boot/vmlinuz-$kver" ] || fail_all "no /boot/vmlinuz-$kver"

t0=$(date +%s)
"$here/build-image.sh" >/dev/null || fail_all "guest image build failed"
e2e_prepare "$kver" "$w" "$here/guest-tests.sh" "$here/guest-lib.sh" "$E2E_TOP/policies" ||
	fail_all "payload preparation failed (make install: $(grep -m1 -E "error|Error" "$w/install.log" 2>/dev/null))"
e2e_boot "$kver" "$w" "$tmo" 2048
boot_rc=$?

res=$w/out/results.txt
passed=0 failed=0
if [ -s "$res" ]; then
	while IFS= read -r line; do
		echo "$line"
		case $line in
		"ok "*) passed=$((passed + 1)) ;;
		"not ok "*) failed=$((failed + 1)) ;;
		esac
	done <"$res"
fi
if [ $boot_rc -ne 0 ]; then
	echo "not ok guest-run: $E2E_BOOT_WHY (console: $w/console.log)"
	failed=$((failed + 1))
elif ! grep -q 'guest-tests: done' "$w/out/guest-init.log" 2>/dev/null; then
	echo "not ok guest-run: the test script did not finish (see $w/out/guest-init.log)"
	failed=$((failed + 1))
fi
if [ -f "$w/out/dmesg.txt" ] && grep -qE 'BUG:|WARNING:|Oops|general protection|KASAN|refcount_t' "$w/out/dmesg.txt"; then
	echo "not ok kernel-clean: $(grep -m1 -E 'BUG:|WARNING:|Oops|general protection|KASAN|refcount_t' "$w/out/dmesg.txt")"
	failed=$((failed + 1))
else
	echo "ok kernel-clean (no BUG/WARNING/Oops in the guest's dmesg)"
	passed=$((passed + 1))
fi
echo "# e2e on $kver: $(($(date +%s) - t0)) s in all, guest ${E2E_BOOT_SECONDS:-?} s; logs in $w" >&2
[ -n "$keep" ] || rm -rf "$w/payload.ext4" "$w/payload"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
