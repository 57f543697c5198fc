#!/bin/bash
# Tests of tools/qemu-run.sh, the launcher of every guest, against a fake
# QEMU (tests/launcher/fake-qemu, first in PATH) that fails the ways real
# ones were seen to fail on hosts with a /dev/kvm that cannot run a guest:
#   - a broken KVM (QEMU aborts, or the guest hangs silently) falls back to
#     TCG with one "kvm unusable here: <reason>; using TCG" line,
#   - a KVM that works is preferred, asked for as "accel=kvm" (what a
#     wrapper simulating a broken one matches), and the verdict is cached,
#   - NO_KVM=1 (and E2E_NO_KVM=1) forces TCG without probing,
#   - a guest that dies at start is reported as such (status 125) with
#     QEMU's last line, a silent hang as a timeout with nothing on the
#     console (124), another exit status passes through,
#   - progress lines appear while the guest runs.
# Closing line: "N passed, N failed".
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/ovcmem-launcher-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/bin"
cp "$top/tests/launcher/fake-qemu" "$scratch/bin/qemu-system-x86_64"
export PATH=$scratch/bin:$PATH
: >"$scratch/kvm"
: >"$scratch/vmlinuz"
export QEMU_KVM_DEVICE=$scratch/kvm QEMU_PROBE_TIMEOUT=3 QEMU_PROGRESS_EVERY=1
unset NO_KVM E2E_NO_KVM FAKE_KVM FAKE_RUN

passed=0 failed=0 out="" rc=0 calls=""
# launch CASE [launcher args...]: one boot through the launcher with its own
# cache and call log (FAKE_*, NO_KVM as the caller exported them). The
# output (both streams) in $out, the status in $rc, QEMU's calls in $calls.
launch() {
	local name=$1
	shift
	calls=$scratch/calls-$name
	out=$(FAKE_CALLS=$calls QEMU_RUN_CACHE=${cache:-$scratch/cache-$name} \
		"$top/tools/qemu-run.sh" --label t --timeout 20 --console "$scratch/console-$name" "$@" -- \
		-m 64 -smp 2 -kernel "$scratch/vmlinuz" -append "console=ttyS0 fake.run=1" 2>&1)
	rc=$?
}
# The accelerator of the real boot (not the probe), from the call log.
run_accel() { grep -F 'fake.run=1' "$calls" | sed -E 's/^accel=([^ ]*) .*/\1/'; }
probes() { grep -vcF 'fake.run=1' "$calls" 2>/dev/null; }
check() { # $1 name, $2 what was wanted; the condition's status in $?
	if [ "$3" = 0 ]; then
		echo "ok launcher/$1"
		passed=$((passed + 1))
	else
		echo "not ok launcher/$1: wanted $2; status $rc, real boot accel '$(run_accel 2>/dev/null)', $(probes) probe(s)"
		sed 's/^/#   /' <<<"$out" # every line
		failed=$((failed + 1))
	fi
}
has() { grep -Eq -- "$1" <<<"$out"; }
lines() { grep -Ec -- "$1" <<<"$out"; }

FAKE_KVM=abort launch kvm-aborts
has 'kvm unusable here: QEMU exited with status 134 .*kvm_buf_set_msrs: Assertion .* failed.*; using TCG'
ok=$?
[ $ok = 0 ] && [ "$rc" = 0 ] && [ "$(run_accel)" = tcg,thread=multi ] && [ "$(lines 'kvm unusable')" = 1 ]
check broken-kvm-that-aborts-falls-back-to-tcg "one fallback line naming the assertion, a TCG boot, status 0" $?

FAKE_KVM=hang launch kvm-hangs
has 'kvm unusable here: a probe guest hung with nothing on its console for 3 s; using TCG' &&
	[ "$rc" = 0 ] && [ "$(run_accel)" = tcg,thread=multi ]
check broken-kvm-that-hangs-falls-back-to-tcg "the hang named in the fallback line, a TCG boot" $?

FAKE_KVM=works launch kvm-works
! has 'kvm unusable' && has 'using KVM' && [ "$rc" = 0 ] && [ "$(run_accel)" = kvm ] && [ "$(probes)" = 1 ]
check working-kvm-is-preferred "one probe, then the boot with KVM" $?

# A wrapper that simulates a broken KVM matches "accel=kvm" (the issue's
# spelling): the probe and the boot must both carry it literally.
[ "$(cut -d' ' -f2- "$calls" | grep -c -- '-accel accel=kvm')" = 2 ]
check kvm-is-asked-for-as-accel=kvm "'-accel accel=kvm' in the probe and the boot" $?

cache=$scratch/cache-kvm-aborts FAKE_KVM=abort launch kvm-aborts-again
has 'kvm unusable here: QEMU exited with status 134 .*; using TCG' && [ "$(probes)" = 0 ] &&
	[ "$(run_accel)" = tcg,thread=multi ]
check verdict-is-cached "no second probe, the fallback line again" $?

cache=$scratch/cache-kvm-works FAKE_KVM=works launch kvm-works-again
[ "$(probes)" = 0 ] && [ "$(run_accel)" = kvm ]
check working-verdict-is-cached "no second probe, KVM" $?

NO_KVM=1 FAKE_KVM=works launch no-kvm
has 'TCG forced by NO_KVM=1' && [ "$(probes)" = 0 ] && [ "$(run_accel)" = tcg,thread=multi ]
check no-kvm-forces-tcg "TCG without a probe, and why" $?

E2E_NO_KVM=1 FAKE_KVM=works launch e2e-no-kvm
has 'TCG forced by E2E_NO_KVM=1' && [ "$(probes)" = 0 ] && [ "$(run_accel)" = tcg,thread=multi ]
check e2e-no-kvm-still-forces-tcg "TCG without a probe" $?

QEMU_KVM_DEVICE=$scratch/no-such-kvm FAKE_KVM=works launch no-device
has "kvm unusable here: no $scratch/no-such-kvm; using TCG" && [ "$(probes)" = 0 ] &&
	[ "$(run_accel)" = tcg,thread=multi ]
check missing-kvm-device-means-tcg "TCG without a probe, and why" $?

NO_KVM=1 FAKE_RUN=dies launch dies
[ "$rc" = 125 ] && has 'the guest died at start: QEMU exited with status 1 after [0-9]+ s, with nothing on the console' &&
	has "Could not open '/nonexistent'" && ! has timeout
check guest-that-dies-at-start-is-reported "status 125, 'died at start' and QEMU's own last line" $?

NO_KVM=1 FAKE_RUN=hangs launch hangs --timeout 3
[ "$rc" = 124 ] && has 'timeout: the guest was stopped after 3 s with nothing on its console' && ! has 'died at start'
check silent-hang-is-a-timeout "status 124 and a timeout with nothing on the console" $?

NO_KVM=1 FAKE_RUN=fails-late launch fails-late
[ "$rc" = 3 ] && ! has 'died at start'
check guest-exit-status-passes-through "QEMU's status 3" $?

NO_KVM=1 FAKE_RUN=progress launch progress --progress-marker 'ovc-progress: '
[ "$rc" = 0 ] && [ "$(lines '^t: [0-9]+ s: phase (one|two|three|four)$')" -ge 2 ]
check progress-lines-while-the-guest-runs "two or more 't: N s: phase X' lines" $?

out=$(QEMU_RUN_CACHE=$scratch/cache-args "$top/tools/qemu-run.sh" --console "$scratch/console-args" -- \
	-machine q35,accel=kvm -kernel "$scratch/vmlinuz" 2>&1)
rc=$?
calls=$scratch/none
[ "$rc" = 2 ] && has 'do not pass accel='
check accel-in-the-arguments-is-refused "status 2 and why" $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
