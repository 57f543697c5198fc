# shellcheck shell=bash
# Shared by tests/e2e/run.sh, tests/e2e/demo.sh and bench/densify.sh: build a
# payload for one run and boot the cached Debian guest on it.
#
#   e2e_deb WORKDIR
#       this tree's balancerd package, copied into WORKDIR, in $E2E_DEB:
#       build/deb's (make deb) or build/e2e/deb's when none of its sources
#       is newer, else built afresh into build/e2e/deb (tools/build-deb.sh).
#   e2e_prepare KVER WORKDIR SCENARIO [FILES...]
#       WORKDIR/payload/ gets: root/ (make install DESTDIR=; with E2E_DEB
#       set, deb/ holding that package instead, which the scenario installs
#       with apt-get), bin/guestsim,
#       modules/<kver>/ (ovcmem.ko + zram & co.), guest-init.sh, the scenario
#       and FILES (copied to /e2e/). /e2e/scenario.sh, which guest-init.sh
#       runs, is a wrapper: it exports the variables of a scenario.env among
#       FILES, starts guest-progress.sh (a progress line on the console every
#       10 s) and runs the scenario.
#   e2e_boot KVER WORKDIR TIMEOUT_S [MEM_MB]
#       boots it through tools/qemu-run.sh (KVM when it works here, else
#       TCG; NO_KVM=1 forces TCG); console in WORKDIR/console.log, QEMU's
#       output in WORKDIR/qemu.log; a progress line every 10 s on stderr; the
#       guest's /e2e/out/ comes back as WORKDIR/out/. Returns 0 if the guest
#       powered off by itself; E2E_BOOT_WHY says why not.
#
# The guest: tests/e2e/build-image.sh (systemd's ovc-e2e.service mounts the
# payload and runs guest-init.sh, which installs everything and runs
# scenario.sh with its output in /e2e/out/, then the guest powers off).

E2E_TOP=${E2E_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_DIR=$E2E_TOP/tests/e2e

e2e_log() { echo "e2e: $*" >&2; }

# The default kernel: the oldest installed Debian kernel (6.1 on bookworm).
e2e_default_kver() {
	if [ -n "${KVER:-}" ]; then
		echo "$KVER"
	elif [ -x "$E2E_TOP/tools/kernels.sh" ]; then
		"$E2E_TOP/tools/kernels.sh" | head -1
	else
		ls /boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | head -1
	fi
}

# The module for KVER, in $E2E_KO. Built privately in build/e2e/kmod/KVER
# (others may be building build/kmod/KVER at the same moment: a shared
# object directory races), unless build/kmod/KVER holds one newer than
# the sources.
e2e_kmod() {
	local v=$1 shared=$E2E_TOP/build/kmod/$1/driver/ovcmem.ko
	local own=$E2E_TOP/build/e2e/kmod/$1
	E2E_KO=""
	if [ -f "$shared" ] && [ -z "$(find "$E2E_TOP/driver" "$E2E_TOP/include" -newer "$shared" -print -quit 2>/dev/null)" ]; then
		E2E_KO=$shared
		return 0
	fi
	mkdir -p "$own"
	(
		flock 9
		rm -rf "$own/driver" "$own/include"
		cp -a "$E2E_TOP/driver" "$E2E_TOP/include" "$own/"
		make -s -C "/lib/modules/$v/build" M="$own/driver" modules >&2
	) 9>"$own.lock" || return 1
	[ -f "$own/driver/ovcmem.ko" ] && E2E_KO=$own/driver/ovcmem.ko
}

# What the balancerd package is built from (debian/rules, balancerd.docs).
E2E_DEB_SOURCES="balancerd include etc policies debian docs Makefile README.md tools/build-deb.sh"

# True when no source of the package is newer than the .deb $1.
e2e_deb_fresh() {
	local d srcs=()
	for d in $E2E_DEB_SOURCES; do srcs+=("$E2E_TOP/$d"); done
	[ -z "$(find "${srcs[@]}" -newer "$1" -print -quit 2>/dev/null)" ]
}

e2e_deb() {
	local w=$1 own=$E2E_TOP/build/e2e/deb
	E2E_DEB=""
	mkdir -p "$own"
	(
		# One build at a time in build/e2e/deb, and no rebuild while
		# another run copies the package out.
		flock 9
		local d f try
		for d in "$E2E_TOP/build/deb" "$own"; do
			f=$(ls -t "$d"/balancerd_*.deb 2>/dev/null | head -1)
			if [ -n "$f" ] && e2e_deb_fresh "$f"; then
				e2e_log "package: $f (no source newer)"
				cp "$f" "$w/" && exit 0
			fi
		done
		# The tree may be mid-edit by someone else: retry a few times.
		for try in 1 2 3; do
			e2e_log "package: tools/build-deb.sh $own (try $try)"
			"$E2E_TOP/tools/build-deb.sh" "$own" >"$w/build-deb.log" 2>&1 && break
			e2e_log "build-deb failed: $(grep -m1 -E 'error|Error' "$w/build-deb.log")"
			[ $try = 3 ] && exit 1
			sleep 20
		done
		cp "$(ls -t "$own"/balancerd_*.deb | head -1)" "$w/"
	) 9>"$own.lock" || return 1
	E2E_DEB=$(ls "$w"/balancerd_*.deb 2>/dev/null | head -1)
	[ -n "$E2E_DEB" ]
}

# guestsim: `make build/guestsim` (links libbalancer.a); if the library
# does not build right now, compile guestsim's own sources alone.
e2e_guestsim() {
	local dst=$1 f o objs=()
	if make -s -C "$E2E_TOP" build/guestsim >/dev/null 2>&1; then
		cp "$E2E_TOP/build/guestsim" "$dst"
		return 0
	fi
	mkdir -p "$E2E_TOP/build/e2e/guestsim-obj"
	for f in "$E2E_TOP"/tools/guestsim/*.c; do
		o=$E2E_TOP/build/e2e/guestsim-obj/$(basename "$f" .c).o
		cc -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -I"$E2E_TOP/include/uapi" -c -o "$o" "$f" || return 1
		objs+=("$o")
	done
	cc -o "$dst" "${objs[@]}" -lm
}

# Kernel modules the guest needs besides ovcmem (with their dependencies).
E2E_MODULES="zram lz4 zstd"

# make install DESTDIR=$1, its output in $2. The tree may be mid-edit by
# someone else: retry a few times.
e2e_make_install() {
	local try
	for try in 1 2 3 4; do
		rm -rf "$1"
		make -s -C "$E2E_TOP" install DESTDIR="$1" >"$2" 2>&1 && return 0
		e2e_log "make install failed (try $try; see $2): $(grep -m1 -E 'error|Error' "$2")"
		[ $try = 4 ] && return 1
		sleep 20
	done
}

e2e_prepare() {
	local v=$1 w=$2 scenario=$3
	shift 3
	local p=$w/payload
	rm -rf "$p" "$w/out"
	mkdir -p "$p/bin" "$p/modules/$v/extra" "$p/out"
	# The project, installed the way a user installs it: from its package
	# (in the guest), or by make install.
	if [ -n "${E2E_DEB:-}" ]; then
		mkdir -p "$p/deb"
		cp "$E2E_DEB" "$p/deb/" || return 1
	else
		e2e_make_install "$p/root" "$w/install.log" || return 1
	fi
	e2e_guestsim "$p/bin/guestsim" || e2e_log "no guestsim"
	if e2e_kmod "$v"; then
		cp "$E2E_KO" "$p/modules/$v/extra/"
	else
		e2e_log "no ovcmem.ko for $v: the guest runs without it"
	fi
	local m f
	for m in $E2E_MODULES; do
		modprobe -S "$v" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
	done | sort -u | while read -r f; do
		mkdir -p "$p/modules/$v/$(dirname "${f#/lib/modules/$v/}")"
		cp "$f" "$p/modules/$v/${f#/lib/modules/$v/}"
	done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "/lib/modules/$v/$f" ] && cp "/lib/modules/$v/$f" "$p/modules/$v/"
	done
	cp "$E2E_DIR/guest-init.sh" "$p/guest-init.sh"
	cp "$E2E_DIR/guest-progress.sh" "$p/guest-progress.sh"
	local name
	name=$(basename "$scenario")
	[ "$name" != scenario.sh ] || { e2e_log "a scenario may not be called scenario.sh"; return 1; }
	cp "$scenario" "$p/$name"
	cat >"$p/scenario.sh" <<-EOF
		#!/bin/bash
		# Written by tests/e2e/lib.sh: the scenario's variables, a progress
		# line on the console every 10 s for the host to show, the scenario.
		if [ -f /e2e/scenario.env ]; then set -a; . /e2e/scenario.env; set +a; fi
		bash /e2e/guest-progress.sh >/dev/console 2>&1 &
		progress=\$!
		bash /e2e/$name
		rc=\$?
		kill \$progress 2>/dev/null
		exit \$rc
	EOF
	for f in "$@"; do cp -r "$f" "$p/"; done
	echo "$v" >"$p/kver"
}

e2e_boot() {
	local v=$1 w=$2 tmo=$3 mem=${4:-2048}
	local img
	img=$("$E2E_DIR/build-image.sh") || return 1
	local sz
	sz=$(($(du -sm "$w/payload" | cut -f1) + 192))
	rm -f "$w/payload.ext4"
	# ext2: no journal, so what the guest wrote (and synced) is on disk as is,
	# and debugfs reads it back even if the guest could not unmount.
	mke2fs -q -t ext2 -L OVCPAYLOAD -d "$w/payload" "$w/payload.ext4" "${sz}M" || return 1
	e2e_log "booting $v (${mem} MiB, timeout ${tmo}s)"
	local t0 rc
	t0=$(date +%s)
	rm -f "$w/console.log"
	"$E2E_TOP/tools/qemu-run.sh" --label e2e --timeout "$tmo" \
		--console "$w/console.log" --log "$w/qemu.log" --progress-marker "ovc-progress: " -- \
		-machine q35 -cpu max -smp 2 -m "$mem" \
		-kernel "/boot/vmlinuz-$v" -initrd "/boot/initrd.img-$v" \
		-append "root=/dev/vda rw console=ttyS0 loglevel=4 no_timer_check ovc.e2e=1 systemd.show_status=0 transparent_hugepage=madvise panic=-1 psi=1 systemd.unified_cgroup_hierarchy=1" \
		-drive "file=$img,if=virtio,format=raw,snapshot=on" \
		-drive "file=$w/payload.ext4,if=virtio,format=raw" \
		-nic none
	rc=$?
	E2E_BOOT_SECONDS=$(($(date +%s) - t0))
	case $rc in
	0) E2E_BOOT_WHY="" ;;
	124) E2E_BOOT_WHY="the guest did not finish in ${tmo} s" ;;
	125) E2E_BOOT_WHY="the guest died at start (QEMU's output above and in $w/qemu.log)" ;;
	*) E2E_BOOT_WHY="QEMU exited with status $rc after ${E2E_BOOT_SECONDS} s" ;;
	esac
	rm -rf "$w/out"
	debugfs -R "rdump /out $w" "$w/payload.ext4" >/dev/null 2>&1 || true
	[ -d "$w/out" ] || mkdir -p "$w/out"
	if [ $rc -ne 0 ]; then
		e2e_log "$E2E_BOOT_WHY; console: $w/console.log"
		return 1
	fi
	e2e_log "guest done in ${E2E_BOOT_SECONDS}s"
	return 0
}
