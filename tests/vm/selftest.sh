#!/bin/bash
# Prove that the rig fails when it must. In a scratch copy of the rig, with
# a dummy module and a dummy suite, three runs that must each be judged
# failed, for the right reason:
#   failing-test   a suite's test fails inside the guest
#   kernel-warn    the module WARNs while loading (kernel log not clean)
#   guest-hang     a suite never returns (the hard timeout ends the guest)
#   dies-at-start  QEMU cannot start the guest (a memory size it refuses):
#                  reported as such, not as a timeout
# and two runs that must pass: one so the dummy itself is known to work,
# and one on a simulated broken KVM (broken-kvm-falls-back-to-tcg): a
# qemu-system-x86_64 wrapper first in PATH aborts the way QEMU does on a
# nested-virtualization host (status 134, kvm_buf_set_msrs assertion) when
# given accel=kvm and otherwise runs the real QEMU, and a plain file stands
# for a writable /dev/kvm (QEMU_KVM_DEVICE), so the launcher probes KVM on
# any machine; the rig must say "kvm unusable here: ...; using TCG" and pass.
# Closing line: "N passed, N failed".
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=${1:-$("$top/tools/kernels.sh" | head -n 1)}
scratch=$(mktemp -d /tmp/ovcmem-rig-selftest.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# The launcher's KVM verdict for this machine, not a probe per scratch tree.
export QEMU_RUN_CACHE=${QEMU_RUN_CACHE:-$top/build/qemu}
mkdir -p "$scratch/tests/kernel" "$scratch/driver"
cp -r "$top/tools" "$top/include" "$scratch/"
cp -r "$top/tests/vm" "$scratch/tests/"
cp "$top/tests/kernel/harness.h" "$scratch/tests/kernel/"

echo 'obj-m := ovcmem.o' >"$scratch/driver/Kbuild"
dummy_module() { # $1: C statement run at module init
	cat >"$scratch/driver/ovcmem.c" <<EOC
#include <linux/module.h>
static int __init dummy_init(void) { $1; return 0; }
static void __exit dummy_exit(void) { }
module_init(dummy_init);
module_exit(dummy_exit);
MODULE_LICENSE("GPL");
EOC
}
dummy_suite() { # $1: body of the one test
	cat >"$scratch/tests/kernel/test_dummy.c" <<EOC
#include "harness.h"
TEST_TIMEOUT(dummy, 100000) { $1; }
int main(void) { return run_tests(); }
EOC
}

# The broken KVM: the QEMU found now, behind a wrapper that aborts as it
# did on such a host when asked for KVM.
real_qemu=$(command -v qemu-system-x86_64) || { echo "not ok rig-selftest: no qemu-system-x86_64"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$scratch/broken-kvm"
: >"$scratch/broken-kvm/dev-kvm"
cat >"$scratch/broken-kvm/qemu-system-x86_64" <<EOW
#!/bin/bash
case " \$* " in
*accel=kvm*)
	echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2
	echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion \\\`ret == cpu->kvm_msr_buf->nmsrs' failed." >&2
	exit 134 ;;
esac
exec "$real_qemu" "\$@"
EOW
chmod +x "$scratch/broken-kvm/qemu-system-x86_64"

passed=0 failed=0
# $also, when set: a second regexp the output must show.
expect() { # $1 name, $2 want rc (0 pass / 1 fail), $3 regexp the output must show, then rig arguments
	local name=$1 want=$2 pattern=$3 out rc
	shift 3
	out=$("$scratch/tests/vm/run.sh" --kver "$kver" --timeout "${timeout_s:-120}" "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -Eq "$pattern" <<<"$out" &&
		{ [ -z "${also:-}" ] || grep -Eq "$also" <<<"$out"; }; then
		echo "ok rig-selftest/$name"; passed=$((passed + 1))
	else
		echo "not ok rig-selftest/$name: rc=$rc, wanted $want and /$pattern/${also:+ and /$also/}"
		sed 's/^/#   /' <<<"$out"
		failed=$((failed + 1))
	fi
}

dummy_module "(void)0"; dummy_suite "CHECK(1 == 1)"
expect passes-when-all-is-well 0 '^ok vm/.*/rig/kernel-log-clean'
PATH=$scratch/broken-kvm:$PATH QEMU_KVM_DEVICE=$scratch/broken-kvm/dev-kvm \
	QEMU_RUN_CACHE=$scratch/broken-kvm/cache NO_KVM='' E2E_NO_KVM='' \
	also='^vm/[^:]*: kvm unusable here: QEMU exited with status 134 .*kvm_buf_set_msrs: Assertion .* failed.*; using TCG$' \
	expect broken-kvm-falls-back-to-tcg 0 '^ok vm/.*/rig/kernel-log-clean'
dummy_suite "CHECK_EQ(1 + 1, 3)"
expect failing-test 1 '^not ok vm/.*/test_dummy/dummy'
dummy_module "WARN_ON(1)"; dummy_suite "CHECK(1 == 1)"
expect kernel-warn 1 '^not ok vm/.*/rig/kernel-log-clean: .*WARNING'
dummy_module "(void)0"; dummy_suite "for (;;) pause()"
timeout_s=30 expect guest-hang 1 '^not ok vm/.*/rig/finished-in-time: timeout'
dummy_suite "CHECK(1 == 1)"
expect dies-at-start 1 '^not ok vm/.*/rig/finished-in-time: the guest died at start' --mem none
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
