#!/bin/sh
# Install balancerd's system files. Called by `make install` as
#
#   tools/install-files.sh DESTDIR SYSCONFDIR UNITDIR SBINDIR
#
# (DESTDIR may be empty). An admin's existing configuration and policy are
# never overwritten: the shipped ones are then installed next to them with
# a .dist suffix, for comparison.
set -eu

if [ $# -ne 4 ]; then
	echo "usage: $0 DESTDIR SYSCONFDIR UNITDIR SBINDIR" >&2
	exit 2
fi
destdir=$1 sysconfdir=$2 unitdir=$3 sbindir=$4
here=$(cd "$(dirname "$0")/.." && pwd)
catalogdir=/usr/lib/systemd/catalog

say() { printf '  %-8s %s\n' "$1" "$2"; }

# install_conf SRC DST: install unless DST exists; then SRC -> DST.dist.
install_conf() {
	if [ -e "$destdir$2" ]; then
		install -D -m 0644 "$1" "$destdir$2.dist"
		say KEEP "$2 (shipped version in $2.dist)"
	else
		install -D -m 0644 "$1" "$destdir$2"
		say INSTALL "$2"
	fi
}

for f in etc/balancerd.service etc/balancerd.json policies/default.json \
	etc/catalog/balancerd.catalog etc/modules-load.d/ovcmem.conf \
	etc/udev/rules.d/60-ovcmem.rules; do
	if [ ! -f "$here/$f" ]; then
		echo "$0: missing $here/$f" >&2
		exit 1
	fi
done

# The unit, with the daemon's real path.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed -e "s|@SBINDIR@|$sbindir|g" -e "s|@SYSCONFDIR@|$sysconfdir|g" \
	"$here/etc/balancerd.service" >"$tmp"
install -D -m 0644 "$tmp" "$destdir$unitdir/balancerd.service"
say INSTALL "$unitdir/balancerd.service"

install_conf "$here/etc/balancerd.json" "$sysconfdir/balancerd/balancerd.json"
install_conf "$here/policies/default.json" \
	"$sysconfdir/balancerd/policies.d/50-default.json"
# The other shipped policies are examples to copy, not active ones.
for p in "$here"/policies/*.json; do
	install -D -m 0644 "$p" \
		"$destdir/usr/share/doc/balancerd/policies/$(basename "$p")"
done
say INSTALL "/usr/share/doc/balancerd/policies/"

install -D -m 0644 "$here/etc/catalog/balancerd.catalog" \
	"$destdir$catalogdir/balancerd.catalog"
say INSTALL "$catalogdir/balancerd.catalog"
install -D -m 0644 "$here/etc/modules-load.d/ovcmem.conf" \
	"$destdir$sysconfdir/modules-load.d/ovcmem.conf"
say INSTALL "$sysconfdir/modules-load.d/ovcmem.conf"
install -D -m 0644 "$here/etc/udev/rules.d/60-ovcmem.rules" \
	"$destdir$sysconfdir/udev/rules.d/60-ovcmem.rules"
say INSTALL "$sysconfdir/udev/rules.d/60-ovcmem.rules"

# On the live system, tell the managers; into a DESTDIR, a packager does.
if [ -z "$destdir" ]; then
	if command -v journalctl >/dev/null; then
		journalctl --update-catalog || :
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || :
		udevadm control --reload 2>/dev/null || :
	fi
	echo "Now: balancerd --check && systemctl enable --now balancerd"
fi
