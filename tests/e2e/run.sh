#!/bin/bash
# End-to-end tests: boot the Debian 12 + systemd guest (tests/e2e/build-image.sh)
# under QEMU with this tree's module and guestsim, and balancerd from this
# tree's package (balancerd_*.deb, built by tools/build-deb.sh unless a fresh
# one is in build/deb or build/e2e/deb), which the guest installs with
# `apt-get install ./balancerd_*.deb`; then run tests/e2e/guest-tests.sh
# there against the packaged unit: the unit reaches READY, journal fields,
# cold reclaim, backoff then prefault, reload, watchdog, VM exit, data
# integrity. One line per check, then "N passed, N failed"; exit 1 on failure.
# While the guest runs, a progress line every 10 s on stderr (tools/qemu-run.sh:
# KVM when it works here, else TCG; NO_KVM=1 forces TCG).
#
#   tests/e2e/run.sh [--kver VERSION] [--timeout SECONDS] [--keep] [--make-install]
#
# --make-install: balancerd from `make install` instead of the package (a
# quicker loop while changing the daemon; the suite runs with the package).
# Needs: qemu-system-x86_64, mmdebstrap, e2fsprogs (debugfs), debhelper and
# dh-dkms (the package), the kernel headers for VERSION (default: the
# oldest installed Debian kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kver="" tmo=720 keep="" pkg=1
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--make-install) pkg=""; shift ;;
	-h|--help) sed -n '1d; /^#/!q; s/^# \{0,1\}//; p' "$0"; exit 0 ;;
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
tools="qemu-system-x86_64 mmdebstrap debugfs mke2fs"
[ -z "$pkg" ] || tools="$tools dpkg-buildpackage dh dh_dkms"
for t in $tools; do
	command -v "$t" >/dev/null || fail_all "$t not installed (tools/install-deps.sh)"
done
[ -f "/boot/vmlinuz-$kver" ] || fail_all "no /boot/vmlinuz-$kver"

t0=$(date +%s)
"$here/build-image.sh" >/dev/null || fail_all "guest image build failed"
if [ -n "$pkg" ]; then
	e2e_deb "$w" || fail_all "no balancerd package (tools/build-deb.sh's log: $w/build-deb.log)"
fi
e2e_prepare "$kver" "$w" "$here/guest-tests.sh" "$here/guest-lib.sh" "$E2E_TOP/policies" ||
	fail_all "payload preparation failed${pkg:+ (package $E2E_DEB)}$(grep -m1 -E "error|Error" "$w/install.log" 2>/dev/null | sed 's/^/ (make install: /; s/$/)/')"
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
# The host's progress lines come from these (issue 10): a guest that ran
# must have written them.
if [ $boot_rc -eq 0 ]; then
	if grep -q 'ovc-progress: guest up' "$w/console.log" 2>/dev/null; then
		echo "ok progress-lines ($(grep -c 'ovc-progress: guest up' "$w/console.log") 'ovc-progress: guest up' lines on the console)"
		passed=$((passed + 1))
	else
		echo "not ok progress-lines: no 'ovc-progress: guest up' line on the console ($w/console.log)"
		failed=$((failed + 1))
	fi
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
