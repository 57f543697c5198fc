#!/bin/bash
# Run the ovcmem driver benchmark (bench/ovcmem_bench.c) in the test guest:
# the same initramfs and QEMU settings as tests/vm/run.sh (1 GiB, 2 vCPUs,
# zram swap; KVM when it works here, else TCG, as tools/qemu-run.sh finds;
# NO_KVM=1 for TCG), with the benchmark in place of the suites.
#
#   bench/driver-vm.sh [--kver VERSION] [--mib N] [--mem MiB]
#
# Prints the benchmark's "bench:" lines; the whole console stays in
# build/bench/<version>/console.log. Figures, not pass/fail.
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

kver="" mib=512 mem=1024
while [ $# -gt 0 ]; do
	case "$1" in
	--kver) kver=$2; shift 2 ;;
	--mib) mib=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	*) echo "bench: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$kver" ] || kver=$(tools/kernels.sh | tail -n 1)
[ -n "$kver" ] || { echo "bench: no Debian kernel installed" >&2; exit 1; }

out=$top/build/bench/$kver
root=$out/root
mkdir -p "$out"
tools/build-kmod.sh --kver "$kver" >"$out/build.log" 2>&1 || {
	cat "$out/build.log"; exit 1; }
cc -static -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-Iinclude/uapi -Itests/kernel -pthread \
	-o "$out/ovcmem_bench" bench/ovcmem_bench.c

# A module and its dependencies, depth first, uncompressed (busybox insmod).
add_module() {
	local name=$1 file deps d
	grep -qx "$name" "$root/lib/modules/load-order" 2>/dev/null && return 0
	file=$(modinfo -k "$kver" -F filename "$name")
	[ "$file" = "(builtin)" ] && return 0
	deps=$(modinfo -F depends "$file" | tr ',' ' ')
	for d in $deps; do add_module "$d"; done
	case "$file" in
	*.xz) xz -dc "$file" >"$root/lib/modules/$name.ko" ;;
	*.zst) zstd -qdc "$file" >"$root/lib/modules/$name.ko" ;;
	*) cp "$file" "$root/lib/modules/$name.ko" ;;
	esac
	echo "$name" >>"$root/lib/modules/load-order"
}

rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,tests,lib/modules}
cp /bin/busybox "$root/bin/busybox"
cp tests/vm/init "$root/init"
chmod +x "$root/init"
: >"$root/lib/modules/load-order"
add_module zram
cp "build/kmod/$kver/driver/ovcmem.ko" "$root/lib/modules/ovcmem.ko"
cp "$out/ovcmem_bench" "$root/tests/ovcmem_bench.bin"
printf '#!/bin/sh\nexec /tests/ovcmem_bench.bin %s\n' "$mib" >"$root/tests/ovcmem_bench"
chmod +x "$root/tests/ovcmem_bench"
echo ovcmem_bench >"$root/tests/list"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out/initramfs.gz"

tools/qemu-run.sh --label bench --timeout 900 --console "$out/console.log" \
	--log "$out/qemu.log" --progress-marker "RIG-SUITE-BEGIN " -- \
	-m "$mem" -smp 2 -kernel "/boot/vmlinuz-$kver" -initrd "$out/initramfs.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4 transparent_hugepage=madvise" || true
accel=$(sed -n 's/^# qemu-run: accel //p' "$out/qemu.log")
echo "bench: kernel $kver, guest ${mem} MiB, 2 vCPUs (QEMU, ${accel:-?})"
tr -d '\r' <"$out/console.log" | grep -E '^(bench:|not ok|RIG-ERROR)' || {
	echo "bench: no output; see ${out#"$top"/}/console.log" >&2; exit 1; }
