#!/bin/sh
# Lint the ovcmem kernel module: checkpatch --strict on every driver source
# and the uapi header, kernel-doc -Wall on the driver's comments, then a
# sparse build (C=1, with W=1) against each installed kernel. Any message
# fails the run.
#
#   tools/lint-kernel.sh [--kver VERSION]...
#
# checkpatch.pl, its data files and kernel-doc come from the Debian
# linux-source tarball, extracted once into build/checkpatch/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

kvers=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kver) kvers="$kvers $2"; shift 2 ;;
	*) echo "lint-kernel: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$kvers" ] || kvers=$(tools/kernels.sh)

cp_dir=build/checkpatch
checkpatch=$cp_dir/scripts/checkpatch.pl
kerneldoc=$cp_dir/scripts/kernel-doc
if [ ! -f "$checkpatch" ] || [ ! -f "$kerneldoc" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	[ -n "$tarball" ] || { echo "lint-kernel: no /usr/src/linux-source-*.tar.xz (apt install linux-source)" >&2; exit 1; }
	top_dir=$(basename "$tarball" .tar.xz)
	mkdir -p "$cp_dir"
	tar -xJf "$tarball" -C "$cp_dir" --strip-components=1 \
		"$top_dir/scripts/checkpatch.pl" \
		"$top_dir/scripts/spelling.txt" \
		"$top_dir/scripts/const_structs.checkpatch" \
		"$top_dir/scripts/kernel-doc"
fi

status=0
echo "# checkpatch --strict"
# --no-tree: we are not in a kernel tree; spelling and const_structs are
# found next to the script.
if ! perl "$checkpatch" --strict --no-tree --quiet --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
	-f driver/*.c driver/*.h include/uapi/linux/ovcmem.h; then
	status=1
fi

echo "# kernel-doc -Wall"
kd_out=$(perl "$kerneldoc" -none -Wall driver/*.c driver/*.h 2>&1) || status=1
if [ -n "$kd_out" ]; then
	echo "$kd_out"
	status=1
fi

for kver in $kvers; do
	echo "# sparse (C=1), $kver"
	log=build/kmod/$kver/sparse.log
	mkdir -p "build/kmod/$kver"
	# C=2 checks every file even if its object is up to date.
	if ! tools/build-kmod.sh --kver "$kver" -- C=2 W=1 >"$log" 2>&1; then
		cat "$log"
		status=1
		continue
	fi
	# Anything from sparse or the compiler about our files is a failure.
	if grep -E '(warning|error):' "$log" | grep -E 'driver/' ; then
		status=1
	fi
done
[ $status -eq 0 ] && echo "lint-kernel: clean"
exit $status
