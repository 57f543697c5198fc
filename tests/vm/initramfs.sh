# shellcheck shell=bash
# The rig's initramfs, shared by tests/vm/run.sh and bench/driver-vm.sh
# (sourced): busybox, tests/vm/init, zram and its dependencies, the ovcmem
# module, and whatever the caller puts in tests/ and tests/list.
#
#   rig_root KVER ROOT [no-module]   lay out ROOT afresh
#   rig_pack ROOT OUT                 OUT = gzip'ed newc cpio of ROOT
#
# Run from the repository's top directory.

# Resolve a module and its dependencies (depth first) into $root/lib/modules,
# decompressing .ko.xz (busybox insmod takes plain .ko), appending load order.
rig_add_module() {
	local kver=$1 name=$2 root=$3 file deps d
	grep -qx "$name" "$root/lib/modules/load-order" 2>/dev/null && return 0
	file=$(modinfo -k "$kver" -F filename "$name" 2>/dev/null) || return 1
	[ "$file" = "(builtin)" ] && return 0
	deps=$(modinfo -F depends "$file" | tr ',' ' ')
	for d in $deps; do rig_add_module "$kver" "$d" "$root" || return 1; done
	case "$file" in
	*.xz) xz -dc "$file" >"$root/lib/modules/$name.ko" ;;
	*.zst) zstd -qdc "$file" >"$root/lib/modules/$name.ko" ;;
	*) cp "$file" "$root/lib/modules/$name.ko" ;;
	esac
	echo "$name" >>"$root/lib/modules/load-order"
}

rig_root() {
	local kver=$1 root=$2 no_module=${3:-}
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,tests,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	cp tests/vm/init "$root/init"
	chmod +x "$root/init"
	: >"$root/lib/modules/load-order"
	: >"$root/tests/list"
	rig_add_module "$kver" zram "$root" || {
		echo "vm: zram module missing for $kver" >&2
		return 1
	}
	[ -n "$no_module" ] ||
		cp "build/kmod/$kver/driver/ovcmem.ko" "$root/lib/modules/ovcmem.ko"
}

rig_pack() {
	local root=$1 out=$2
	(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
}
