#!/bin/sh
# Print the installed Debian kernels we can build for and boot, one version a
# line, oldest first: those with both /lib/modules/<v>/build (headers) and
# /boot/vmlinuz-<v>. Never `uname -r`: the machine we build on may run a
# kernel that is not Debian's and has no headers.
set -eu
for build in /lib/modules/*/build; do
	[ -f "$build/Makefile" ] || continue
	v=$(basename "$(dirname "$build")")
	[ -f "/boot/vmlinuz-$v" ] || continue
	echo "$v"
done | sort -V
