#!/bin/bash
# Run every libFuzzer target in build/fuzz/ from its seed corpus.
#
#   fuzz/run.sh --runs N      each target N inputs (the regression gate of
#                             `make check`: the same inputs every run)
#   fuzz/run.sh --seconds S   each target for S seconds (`make fuzz`)
#   [--only NAME]...          these targets only (e.g. fuzz_policy)
#
# Seeds are read from fuzz/corpus/<target>/ and never written: what a
# run finds goes to build/fuzz/found/<target>/, crashes to
# build/fuzz/crash-<target>-*. Closes with "N passed, N failed".
set -u -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

runs=20000 seconds= only=()
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--only) only+=("$2"); shift 2 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "fuzz/run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

passed=0 failed=0
targets=()
for src in fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then
		continue
	fi
	targets+=("$name")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets"; echo "0 passed, 1 failed"; exit 1; }

for name in "${targets[@]}"; do
	bin=build/fuzz/$name
	if [ ! -x "$bin" ]; then
		echo "not ok $name: $bin not built (make fuzz-build; needs clang and libFuzzer)"
		failed=$((failed + 1))
		continue
	fi
	found=build/fuzz/found/$name
	mkdir -p "$found" "fuzz/corpus/$name"
	if [ -n "$seconds" ]; then
		limit=(-max_total_time="$seconds")
	else
		# Fixed seed and count: the gate sees the same inputs each run.
		limit=(-runs="$runs" -seed=1)
	fi
	log=build/fuzz/$name.log
	start=$(date +%s)
	if "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=0 \
		-artifact_prefix="build/fuzz/crash-$name-" \
		"$found" "fuzz/corpus/$name" >"$log" 2>&1; then
		echo "ok $name ($(( $(date +%s) - start )) s, $(grep -c . "$log") log lines)"
		passed=$((passed + 1))
	else
		echo "not ok $name: see $log"
		grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error' "$log" | head -n 10
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
