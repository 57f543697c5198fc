#!/bin/bash
# Runs inside the guest (from /e2e, the payload disk) before the scenario:
# installs the project, the kernel modules and zram swap, then runs
# /e2e/scenario.sh with its results in /e2e/out/.
set -u
P=/e2e
OUT=$P/out
mkdir -p "$OUT"
exec > >(tee -a "$OUT/guest-init.log") 2>&1
kv=$(uname -r)
echo "guest-init: kernel $kv, $(nproc) cpus, $(awk '/MemTotal/{print $2}' /proc/meminfo) kB"

# The project (make install DESTDIR=root): /usr/local, /etc.
if [ -d $P/root ]; then
	cp -a $P/root/. /
fi
install -m 0755 $P/bin/* /usr/local/bin/ 2>/dev/null || true

# Modules: ovcmem (extra/) and zram & co. for this kernel.
if [ -d "$P/modules/$kv" ]; then
	mkdir -p "/lib/modules/$kv"
	cp -a "$P/modules/$kv/." "/lib/modules/$kv/"
	depmod -a "$kv"
fi
if [ -f "/lib/modules/$kv/extra/ovcmem.ko" ]; then
	if modprobe ovcmem; then
		udevadm control --reload 2>/dev/null
		udevadm trigger --subsystem-match=misc 2>/dev/null
		udevadm settle -t 5 2>/dev/null
		for _ in $(seq 50); do [ -e /dev/ovcmem ] && break; sleep 0.1; done
		echo "guest-init: ovcmem loaded: $(ls -l /dev/ovcmem 2>&1)"
	else
		echo "guest-init: modprobe ovcmem failed"
	fi
else
	echo "guest-init: no ovcmem module"
fi

# zram swap: half of RAM, lz4 if there, low priority for nothing else.
if modprobe zram num_devices=1 2>/dev/null && [ -e /sys/block/zram0 ]; then
	echo lz4 >/sys/block/zram0/comp_algorithm 2>/dev/null || true
	echo $(($(awk '/MemTotal/{print $2}' /proc/meminfo) * 1024 / 2)) >/sys/block/zram0/disksize
	mkswap /dev/zram0 >/dev/null && swapon -p 100 /dev/zram0
fi
echo "guest-init: swap: $(swapon --show --noheadings 2>/dev/null | tr '\n' ' ')"

journalctl --update-catalog 2>/dev/null
systemctl daemon-reload
dmesg >"$OUT/dmesg-boot.txt"
echo "guest-init: running scenario"
t0=$(date +%s)
OUT=$OUT bash $P/scenario.sh
rc=$?
echo "guest-init: scenario exit $rc after $(($(date +%s) - t0))s"
echo $rc >"$OUT/scenario.rc"
# Whatever the scenario left running (VMs, samplers) stops writing to /e2e.
systemctl stop machine.slice unmanaged.slice 2>/dev/null
journalctl -o json --no-pager >"$OUT/journal.json" 2>/dev/null
dmesg >"$OUT/dmesg.txt"
sync
exit 0
