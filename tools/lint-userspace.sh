#!/bin/sh
# Userspace C must match the repository's .clang-format exactly.
# Fix with `make format`.
set -eu
cd "$(dirname "$0")/.."
files=$(ls balancerd/*.[ch] tests/unit/*.[ch] tools/*/*.[ch] bench/*.[ch] fuzz/*.[ch] 2>/dev/null || true)
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
