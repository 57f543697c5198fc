#!/bin/sh
# Build the Debian packages (balancerd, ovcmem-dkms, ovcmem-dev) from a copy
# of the tree, so that the source tree stays clean:
#
#   tools/build-deb.sh [OUTDIR]       default build/deb
#
# The copy is build/deb/src/ovcmem (what git tracks plus the working tree's
# edits, without build/ and .git); dpkg-buildpackage -b -us -uc runs there
# and the .debs, .buildinfo and .changes land in OUTDIR. Prints the .changes
# path last.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

for t in dpkg-buildpackage dh; do
	command -v $t >/dev/null || {
		echo "build-deb: $t missing (tools/install-deps.sh)" >&2
		exit 1
	}
done
src=$out/src/ovcmem
mkdir -p "$out"
rm -rf "$out/src"
mkdir -p "$src"
tar -C "$top" --exclude=./build --exclude=./.git --exclude='*.o' \
	--exclude='*.ko' -cf - . | tar -C "$src" -xf -
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
rm -f "$out"/*.deb "$out"/ovcmem_*.changes "$out"/ovcmem_*.buildinfo
(cd "$src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
	tail -n 30 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log $out/build.log)" >&2
	exit 1
}
# dpkg-buildpackage writes next to the source directory.
mv "$out/src"/*.deb "$out/src"/*.changes "$out/src"/*.buildinfo "$out/"
rm -rf "$out/src"
ls "$out"/*.deb >&2
echo "$out/ovcmem_${ver}_${arch}.changes"
