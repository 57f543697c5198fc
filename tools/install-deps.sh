#!/bin/sh
# Install what building and testing ovcmem + balancerd needs, from Debian 12's
# packages only. Idempotent and silent when everything is present; otherwise
# one apt-get update and one apt-get install (needs root).
set -eu

PACKAGES="
build-essential pkg-config libc6-dev
libjansson-dev libsystemd-dev libcmocka-dev
valgrind clang-format
clang libclang-rt-14-dev
linux-image-amd64 linux-headers-amd64
linux-image-6.12-amd64 linux-headers-6.12-amd64 linux-source-6.12
sparse kmod
qemu-system-x86 busybox-static cpio xz-utils
mmdebstrap e2fsprogs
gnuplot-nox python3
debhelper dh-dkms dkms lintian prometheus
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run 'sudo $0' (or apt-get install -y$missing)" >&2
	exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
