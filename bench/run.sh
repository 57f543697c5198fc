#!/bin/sh
# Userspace benchmarks: build them against build/libbalancer.a and print
# the figures. Run from anywhere; `make bench` calls it after `make
# userspace`. docs/benchmarks.md records the results.
set -eu
cd "$(dirname "$0")/.."

CC=${CC:-cc}
PKGS="jansson libsystemd"
CFLAGS="-std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude/uapi -Ibalancerd"

make -s build/libbalancer.a build/balancerd
mkdir -p build/bench
# shellcheck disable=SC2046,SC2086 # flag lists, split on purpose
$CC $CFLAGS $(pkg-config --cflags $PKGS) -o build/bench/tick_bench \
	bench/tick_bench.c tests/unit/fake_tree.c build/libbalancer.a \
	$(pkg-config --libs $PKGS) -lm -pthread

# The fake tree on tmpfs, like cgroupfs and procfs: a disk file system
# adds journal and writeback costs that a live host does not have.
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
echo "== balancerd: one tick over a fake tree (BENCH_IR=1 adds callgrind instruction counts; goals: <= 5 system calls per VM and steady tick; < 5 ms/tick and RSS < 8 MiB with 1000 VMs; < 0.3% CPU with 100 VMs; cost per VM flat from 100 to 10000 VMs)"
echo "-- steady: every VM has given what the policy lets it give (the fixture applies each memory.reclaim as the kernel would, outside the measured time) and the tick has nothing to do"
build/bench/tick_bench --vms 100 --ticks 50 --steady | grep -v '^vms [0-9]*: benchmark'
# The daemon runs on the tree the warm-up left settled: its ticks are
# steady from the start.
build/bench/tick_bench --vms 1000 --ticks 20 --steady --daemon build/balancerd --strace |
	grep -v '^vms [0-9]*: benchmark'
echo "-- busy: every VM trims every tick (the fixture's memory.current never shrinks), each action logged"
build/bench/tick_bench --vms 100 --ticks 100 --daemon build/balancerd --strace
build/bench/tick_bench --vms 1000 --ticks 20 --daemon build/balancerd --strace
echo "-- the same without publishing the state file (its share of the tick)"
build/bench/tick_bench --vms 1000 --ticks 20 --no-state | grep -v '^note:' | head -n 1
build/bench/tick_bench --vms 10000 --ticks 10 --daemon build/balancerd

# BENCH_IR=1: instructions per steady tick by callgrind, the figure that a
# loaded machine does not move (the difference of two runs of different
# lengths, so start-up and the tree's creation drop out). Slow: ~50x.
if [ -n "${BENCH_IR:-}" ] && command -v valgrind >/dev/null; then
	for n in 100 1000; do
		ir() {
			valgrind --tool=callgrind --callgrind-out-file=/dev/null \
				--toggle-collect=balancer_tick_at \
				build/bench/tick_bench --vms "$n" --ticks "$1" 2>&1 >/dev/null |
				sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
		}
		a=$(ir 10)
		z=$(ir 30)
		echo "vms $n: $(((z - a) / 20)) instructions per steady tick," \
			"$(((z - a) / 20 / n)) per VM (callgrind)"
	done
fi
