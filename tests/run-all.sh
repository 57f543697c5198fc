#!/bin/bash
# Run every test suite and close with one line over all of them.
#
#   tests/run-all.sh [--only unit|valgrind|fuzz|lint|vm|rig|e2e|launcher|pkg]...
#                    [--kver V]...
#                    [--suite test_name]...
#
# Suites:
#   unit      build/tests/test_* and build/asan/tests/test_* (cmocka)
#   valgrind  build/tests/test_* under valgrind (memcheck, leaks)
#   fuzz      fuzz/run.sh: each libFuzzer target in build/fuzz/ a fixed
#             number of runs from its seed corpus (make fuzz-build)
#   lint      tools/lint-kernel.sh (checkpatch --strict, sparse) and
#             tools/lint-userspace.sh (clang-format)
#   vm        tests/vm/run.sh on each kernel (the in-kernel suites)
#   rig       tests/vm/selftest.sh (the rig fails when it must)
#   e2e       tests/e2e/run.sh (Debian + systemd guest), on the first kernel
#   launcher  tests/launcher/run.sh (tools/qemu-run.sh's KVM probe and TCG
#             fallback, against fake QEMUs)
#   pkg       tests/pkg/run.sh (the .debs: build, lintian, DKMS on every
#             kernel, install and purge here and in the e2e guest, metrics
#             through node_exporter)
#
# Each suite prints its own closing line "N passed, N failed"; a suite that
# prints none, or exits non-zero with no failure counted, counts one
# failure. Every suite's start ("=== name (started HH:MM:SS)") and duration
# ("--- name: N s") are printed as it runs, so a slow suite is told from a
# hung one; the closing line over everything comes last. In between, the
# guest launcher's lines (tools/qemu-run.sh): the accelerator and why, the
# progress of a running guest, and for a guest that died at start or timed
# out, QEMU's last lines.
# Logs: build/logs/<suite>.log (<suite>.log.part-PID while it runs). Exit
# status non-zero on any failure.
set -u -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

only=() kvers=() suites=()
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only+=("$2"); shift 2 ;;
	--kver) kvers+=("$2"); shift 2 ;;
	--suite) suites+=("$2"); shift 2 ;;
	-h|--help) sed -n '1d; /^#/!q; p' "$0"; exit 0 ;;
	*) echo "run-all: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ ${#kvers[@]} -gt 0 ] || mapfile -t kvers < <(tools/kernels.sh)
wanted() {
	[ ${#only[@]} -eq 0 ] && return 0
	local o
	for o in "${only[@]}"; do [ "$o" = "$1" ] && return 0; done
	return 1
}

logs=build/logs
mkdir -p "$logs"
# A suite logs into a file of this run's own and the log takes its place
# when the suite ends: two runs of one suite at once (two people on one
# tree) must not truncate each other's log midway (seen: a log full of
# NULs whose closing line grep would not print).
trap 'rm -f "$logs"/*.part-$$' EXIT
total_passed=0 total_failed=0 summary=()

# Count a suite's result from its log: our "N passed, N failed" line, or
# cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" lines.
count() { # $1 name, $2 log, $3 exit status
	local name=$1 log=$2 rc=$3 p f line
	line=$(grep -aE '^[a-z-]*:? ?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/^[a-z-]*:? ?([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	elif grep -aq '^\[  PASSED  \]\|^\[  FAILED  \]' "$log"; then
		p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n 1)
		f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n 1)
		p=${p:-0} f=${f:-0}
	else
		p=0 f=1
		echo "not ok $name: no result line (exit status $rc; log $log)"
	fi
	if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
		echo "not ok $name: exit status $rc with no failure counted (log $log)"
		f=1
	fi
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
	summary+=("$(printf '%-40s %5d passed, %d failed' "$name" "$p" "$f")")
}

# A suite's start and duration, so that a slow suite is told from a hung one.
suite_start() { # $1 name
	suite_t0=$SECONDS
	echo "=== $1 (started $(date +%T))"
}
suite_end() { # $1 name
	echo "--- $1: $((SECONDS - suite_t0)) s"
}

# Line by line as they come (awk would read its input in blocks). A guest
# that died at start or timed out also has QEMU's last lines shown: the
# launcher's "QEMU's last lines (LOG):" and the lines indented under it.
show_launcher_lines() {
	local line said="" under=""
	while IFS= read -r line; do
		if [ -n "$under" ] && [[ $line == "$under"* ]]; then
			echo "    $line"
			continue
		fi
		under=""
		case $line in
		*"QEMU's last lines ("*"):")
			# Its lines are indented 4 more than it (a suite may prefix both).
			under="${line%%[!#[:space:]]*}    "
			echo "    $line" ;;
		*"the guest died at start: QEMU exited"* | *"QEMU printed nothing"* | *"timeout: the guest was stopped"*)
			echo "    $line" ;;
		*"kvm unusable here"* | *"TCG forced by"* | *"using KVM"*)
			# The same verdict from every boot of a suite: once.
			[[ $said == *"|${line#*: }|"* ]] && continue
			said+="|${line#*: }|"
			echo "    $line" ;;
		*": "[0-9]*" s: "*) echo "    $line" ;;
		esac
	done
}

run_suite() { # $1 name, then the command
	local name=$1 log rc
	shift
	log=$logs/$(tr '/' '_' <<<"$name").log
	suite_start "$name"
	# While it runs, show the guest launcher's lines (tools/qemu-run.sh):
	# the accelerator chosen and why (once per suite) and its progress.
	"$@" 2>&1 | tee "$log.part-$$" | show_launcher_lines
	rc=${PIPESTATUS[0]}
	mv -f "$log.part-$$" "$log"
	suite_end "$name"
	# Show what failed, and the suite's own closing line.
	grep -aE '^not ok|^\[  FAILED  \]|ERROR|[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 40
	count "$name" "$log" "$rc"
}

# A program whose only result is its exit status (linters).
run_check() { # $1 name, then the command
	local name=$1 log rc
	shift
	log=$logs/$(tr '/' '_' <<<"$name").log
	suite_start "$name"
	"$@" >"$log.part-$$" 2>&1
	rc=$?
	mv -f "$log.part-$$" "$log"
	suite_end "$name"
	if [ $rc -eq 0 ]; then
		echo "1 passed, 0 failed" >>"$log"
	else
		tail -n 30 "$log"
		echo "0 passed, 1 failed" >>"$log"
	fi
	count "$name" "$log" 0
}

# Every unit test source must have its binaries: one that was not built
# (make unit) is a failure, never a suite left out of the count.
not_built() { # $1 name, $2 binary
	echo "not ok $1: $2 not built (make unit)"
	echo "0 passed, 1 failed"
}
if wanted unit; then
	for src in tests/unit/test_*.c; do
		t=$(basename "$src" .c)
		for bin in build/tests/$t build/asan/tests/$t; do
			if [ -x "$bin" ]; then
				run_suite "unit/${bin#build/}" "$bin"
			else
				run_suite "unit/${bin#build/}" not_built "unit/${bin#build/}" "$bin"
			fi
		done
	done
fi
if wanted valgrind; then
	if ! command -v valgrind >/dev/null; then
		run_suite valgrind not_built valgrind "valgrind (tools/install-deps.sh)"
	fi
	for src in tests/unit/test_*.c; do
		command -v valgrind >/dev/null || break
		t=build/tests/$(basename "$src" .c)
		if [ ! -x "$t" ]; then
			run_suite "valgrind/$(basename "$t")" not_built "valgrind/$(basename "$t")" "$t"
			continue
		fi
		run_suite "valgrind/$(basename "$t")" valgrind -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite "$t"
	done
fi
if wanted fuzz; then
	run_suite fuzz fuzz/run.sh --runs "${FUZZ_RUNS:-20000}"
fi
if wanted lint; then
	[ -x tools/lint-kernel.sh ] && run_check lint/kernel tools/lint-kernel.sh
	[ -x tools/lint-userspace.sh ] && run_check lint/userspace tools/lint-userspace.sh
fi
if wanted vm; then
	suite_args=()
	for s in "${suites[@]}"; do suite_args+=(--suite "$s"); done
	for v in "${kvers[@]}"; do
		run_suite "vm/$v" tests/vm/run.sh --kver "$v" "${suite_args[@]}"
	done
fi
if wanted rig; then
	run_suite rig-selftest tests/vm/selftest.sh "${kvers[0]}"
fi
if wanted e2e && [ -x tests/e2e/run.sh ]; then
	run_suite "e2e/${kvers[0]}" tests/e2e/run.sh --kver "${kvers[0]}"
fi
if wanted launcher && [ -x tests/launcher/run.sh ]; then
	run_suite launcher tests/launcher/run.sh
fi
if wanted pkg && [ -x tests/pkg/run.sh ]; then
	run_suite "pkg/${kvers[0]}" tests/pkg/run.sh --kver "${kvers[0]}"
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ] && [ ${#summary[@]} -gt 0 ]
