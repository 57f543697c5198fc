#!/bin/sh
# Build the ovcmem module against installed Debian kernel headers.
#
#   tools/build-kmod.sh                 every kernel tools/kernels.sh lists
#   tools/build-kmod.sh --kver VERSION  one kernel (/lib/modules/VERSION/build)
#   tools/build-kmod.sh --kdir DIR      one kernel build tree
#   extra arguments after -- go to kbuild (e.g. -- C=1 W=1)
#
# Out-of-tree builds write their objects into the source directory, and two
# kernels' objects must not mix, so driver/ and include/ are copied side by
# side into build/kmod/<version>/ and built there. Result:
# build/kmod/<version>/driver/ovcmem.ko
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
kver="" kdir=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kver) kver=$2; shift 2 ;;
	--kdir) kdir=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "build-kmod: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

if [ -n "$kdir" ]; then
	[ -f "$kdir/Makefile" ] || { echo "build-kmod: $kdir is not a kernel build tree" >&2; exit 1; }
	kver=${kver:-$(make -s -C "$kdir" kernelrelease 2>/dev/null || basename "$kdir")}
	pairs="$kver=$kdir"
elif [ -n "$kver" ]; then
	kdir=/lib/modules/$kver/build
	if [ ! -f "$kdir/Makefile" ]; then
		echo "build-kmod: no headers for $kver: install linux-headers-$kver" >&2
		exit 1
	fi
	pairs="$kver=$kdir"
else
	pairs=""
	for v in $("$top/tools/kernels.sh"); do pairs="$pairs $v=/lib/modules/$v/build"; done
	if [ -z "$pairs" ]; then
		echo "build-kmod: no Debian kernel with headers installed:" \
			"install linux-image-amd64 linux-headers-amd64 (tools/install-deps.sh)" >&2
		exit 1
	fi
fi

for pair in $pairs; do
	v=${pair%%=*} d=${pair#*=}
	out=$top/build/kmod/$v
	mkdir -p "$out"
	# Two builds for one kernel at once would corrupt each other's objects.
	exec 9>"$out.lock"
	flock 9
	# Refresh sources but keep objects, so rebuilds stay incremental.
	cp -a "$top/driver" "$top/include" "$out/"
	echo "build-kmod: $v" >&2
	make -s -C "$d" M="$out/driver" "$@" modules
	flock -u 9
done
