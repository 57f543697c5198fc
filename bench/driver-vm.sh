#!/bin/bash
# Run the ovcmem driver benchmark (bench/ovcmem_bench.c) in the test guest:
# the same initramfs and QEMU settings as tests/vm/run.sh (1 GiB, 2 vCPUs,
# zram swap; KVM when it works here, else TCG, as tools/qemu-run.sh finds;
# NO_KVM=1 for TCG), with the benchmark in place of the suites.
#
#   bench/driver-vm.sh [--kver VERSION] [--mib N] [--mem MiB] [--runs N]
#
# Boots the guest --runs times (default 3) and prints each run's "bench:"
# lines, then, for every movable/pinned ratio, the median over the runs
# and the spread (min-max). The console of run i stays in
# build/bench/<version>/console-<i>.log. Figures, not pass/fail.
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

kver="" mib=512 mem=1024 runs=3
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--kver) kver=$2; shift 2 ;;
	--mib) mib=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	*) echo "bench: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs wants a count, not '$runs'" >&2; exit 2; }
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

# shellcheck source=tests/vm/initramfs.sh
. tests/vm/initramfs.sh
rig_root "$kver" "$root"
cp "$out/ovcmem_bench" "$root/tests/ovcmem_bench.bin"
printf '#!/bin/sh\nexec /tests/ovcmem_bench.bin %s\n' "$mib" >"$root/tests/ovcmem_bench"
chmod +x "$root/tests/ovcmem_bench"
echo ovcmem_bench >"$root/tests/list"
rig_pack "$root" "$out/initramfs.gz"

: >"$out/bench.lines"
for ((run = 1; run <= runs; run++)); do
	tools/qemu-run.sh --label "bench/$run" --timeout 900 \
		--console "$out/console-$run.log" --log "$out/qemu.log" \
		--progress-marker "RIG-SUITE-BEGIN " -- \
		-m "$mem" -smp 2 -kernel "/boot/vmlinuz-$kver" \
		-initrd "$out/initramfs.gz" \
		-append "console=ttyS0 panic=-1 loglevel=4 no_timer_check transparent_hugepage=madvise" || true
	accel=$(sed -n 's/^# qemu-run: accel //p' "$out/qemu.log")
	echo "bench: run $run of $runs: kernel $kver, guest ${mem} MiB, 2 vCPUs (QEMU, ${accel:-?})"
	tr -d '\r' <"$out/console-$run.log" | grep -E '^(bench:|not ok|RIG-ERROR)' |
		tee -a "$out/bench.lines" || {
		echo "bench: no output; see ${out#"$top"/}/console-$run.log" >&2; exit 1; }
done

# Median and spread of each movable/pinned ratio over the runs.
awk -v runs="$runs" -v kver="$kver" '
/movable\/pinned [0-9.]+$/ {
	label = $0
	sub(/^bench: /, "", label)
	sub(/: movable .*/, "", label)
	if (!(label in n)) order[++nl] = label
	v[label, ++n[label]] = $NF
}
END {
	for (i = 1; i <= nl; i++) {
		l = order[i]
		m = n[l]
		for (a = 1; a <= m; a++)
			for (b = a + 1; b <= m; b++)
				if (v[l, b] < v[l, a]) { t = v[l, a]; v[l, a] = v[l, b]; v[l, b] = t }
		med = m % 2 ? v[l, (m + 1) / 2] : (v[l, m / 2] + v[l, m / 2 + 1]) / 2
		printf "bench: summary %s, %s: movable/pinned median %.2f (min %.2f, max %.2f, %d runs)\n", kver, l, med, v[l, 1], v[l, m], m
	}
}' "$out/bench.lines"
