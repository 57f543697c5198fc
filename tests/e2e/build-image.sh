#!/bin/bash
# Build (or reuse) the Debian 12 + systemd guest root filesystem for the
# end-to-end tests, the demo and the benchmarks.
#
#   tests/e2e/build-image.sh [--out-var]     prints the image path on stdout
#
# The image is an ext4 file made by mmdebstrap + `mke2fs -d` (no loop mount),
# cached as build/e2e/image-<hash>.ext4 where <hash> covers this script (the
# package list and the units below are in it). QEMU boots it read-only with
# -snapshot, so one cached image serves every run and every kernel.
#
# What is baked in is generic: systemd, udev, kmod, the runtime libraries the
# project links (jansson, libsystemd), jq, node_exporter and curl,
# and one unit,
# ovc-e2e.service, that at boot mounts the per-run payload disk (/dev/vdb,
# label OVCPAYLOAD), runs its /guest-init.sh and powers the guest off. The
# project itself (module, binaries, scenario) travels on that payload disk,
# built fresh for each run by tests/e2e/lib.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache="$top/build/e2e"

# prometheus-node-exporter and curl: the packaging suite (tests/pkg) scrapes
# balancerd's metrics through node_exporter's textfile collector.
PACKAGES="systemd,systemd-sysv,udev,kmod,dbus,libjansson4,libsystemd0,jq,procps,util-linux,psmisc,zstd,prometheus-node-exporter,curl"
SUITE=bookworm
MIRROR=${E2E_MIRROR:-}
if [ -z "$MIRROR" ]; then
	# The host's own mirror (deb822 or one-line sources).
	MIRROR=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
fi

hash=$(sha256sum "$0" | cut -c1-12)
img="$cache/image-$hash.ext4"
if [ -s "$img" ]; then
	echo "$img"
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "build-image: mmdebstrap $SUITE from $MIRROR (minbase + $PACKAGES)" >&2
t0=$(date +%s)
mmdebstrap --variant=minbase --mode=root --include="$PACKAGES" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	"$SUITE" "$root" "deb $MIRROR $SUITE main" >&2

echo ovc-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 ovc-guest\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,noatime 0 1\n' >"$root/etc/fstab"
# No password for root on the serial console (a throwaway test guest).
sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow"
# A journal in RAM is enough, and faster under TCG.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=64M\nRateLimitBurst=0\n' \
	>"$root/etc/systemd/journald.conf.d/e2e.conf"
# Nothing to wait for: no network, no getty on tty1, no timers.
for u in systemd-networkd-wait-online.service getty@tty1.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
	systemd-timesyncd.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

cat >"$root/etc/systemd/system/ovc-e2e.service" <<'EOF'
[Unit]
Description=ovcmem end-to-end payload (/dev/vdb)
After=local-fs.target systemd-udev-settle.service systemd-journald.service
Wants=local-fs.target
ConditionKernelCommandLine=ovc.e2e=1

[Service]
Type=oneshot
ExecStart=/usr/local/libexec/ovc-e2e-run
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/usr/local/libexec"
cat >"$root/usr/local/libexec/ovc-e2e-run" <<'EOF'
#!/bin/bash
# Mount the payload disk, run its guest-init.sh, power off whatever happens.
set -u
dev=/dev/disk/by-label/OVCPAYLOAD
for _ in $(seq 100); do [ -e "$dev" ] && break; sleep 0.1; done
[ -e "$dev" ] || dev=/dev/vdb
mkdir -p /e2e
if mount "$dev" /e2e; then
	echo "ovc-e2e: payload mounted"
	bash /e2e/guest-init.sh
	echo "ovc-e2e: guest-init exit $?"
	sync
	umount /e2e || mount -o remount,ro /e2e
else
	echo "ovc-e2e: cannot mount payload"
fi
echo "ovc-e2e: powering off"
systemctl poweroff --no-block
EOF
chmod 0755 "$root/usr/local/libexec/ovc-e2e-run"
ln -sf /etc/systemd/system/ovc-e2e.service \
	"$root/etc/systemd/system/multi-user.target.wants/ovc-e2e.service"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

size_mb=$(($(du -sm "$root" | cut -f1) + 256))
mke2fs -q -t ext4 -L ovcroot -d "$root" "$img.tmp" "${size_mb}M" >&2
mv "$img.tmp" "$img"
echo "build-image: $img (${size_mb} MiB) in $(($(date +%s) - t0)) s" >&2
echo "$img"
