#!/bin/bash
# The packaging checks inside the Debian guest (run by tests/pkg/run.sh as
# the scenario of tests/e2e/lib.sh's guest, without `make install`):
# balancerd_*.deb installs with apt-get, its unit is enabled and started,
# restarted on reinstall, reloads; prometheus-node-exporter installed after
# it has the unit restarted (balancerd.triggers), and serves
# balancerd's metrics to curl and they move when balancerd acts; remove
# stops the unit, purge leaves no file behind. One line per check in
# $OUT/results.txt: "ok NAME" or "not ok NAME: why".
set -u
. /e2e/guest-lib.sh
RES=$OUT/results.txt
: >"$RES"
note() { echo "[$(date +%T)] $*"; }

U=balancerd
PROM=/var/lib/prometheus/node-exporter/balancerd.prom
version=$(cat /e2e/pkg-version)
deb=$(ls /e2e/deb/balancerd_*.deb 2>/dev/null | head -1)
nxdeb=$(ls /e2e/nx/prometheus-node-exporter_*.deb 2>/dev/null | head -1)
NXDIR=/var/lib/prometheus/node-exporter
export DEBIAN_FRONTEND=noninteractive

# Everything a package may leave behind, before it is installed: what is
# new after the purge is what it left. dpkg's and apt's own records, logs,
# caches and the kernel's trees are not ours, nor adduser's lock (made when
# node_exporter's postinst runs adduser, below) or agetty's reload flag
# (/run/agetty.reload, which `agetty --reload` makes to have the console
# redraw its prompt; seen in one run of three).
snapshot() {
	find /etc /usr /lib /var /run /srv /opt -xdev \
		\( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache \
		-o -path /var/log -o -path /run/systemd -o -path /run/udev \
		-o -path /run/user -o -path /run/log -o -path /var/tmp \
		-o -path /run/lock -o -path /var/lib/systemd/timers \
		-o -path /var/lib/systemd/coredump -o -path /run/adduser \
		-o -path /run/agetty.reload \) \
		-prune -o -print 2>/dev/null | sort
}

if [ -z "$deb" ]; then
	notok pkg-install "no balancerd_*.deb on the payload"
	echo "guest-pkg: done"
	exit 0
fi
snapshot >/tmp/before.txt

# node_exporter comes after balancerd here (the image has it): its
# directory is absent when the unit starts. Without its package on the
# payload (tests/pkg/run.sh said why), the image's copy stays.
if [ -n "$nxdeb" ]; then
	dpkg --purge prometheus-node-exporter >"$OUT/nx-purge.log" 2>&1
	check nx-absent "$NXDIR still there after purging prometheus-node-exporter" test ! -e $NXDIR
fi

# ---- install: no network, the dependencies are in the image --------------
note "apt-get install $deb"
if apt-get install -y --no-install-recommends "$deb" >"$OUT/apt-install.log" 2>&1; then
	ok "apt-install ($(basename "$deb"))"
else
	notok apt-install "$(tail -3 "$OUT/apt-install.log" | tr '\n' ' ')"
fi
is_active() { [ "$(unit_prop $U ActiveState)" = active ]; }
check unit-enabled "systemctl is-enabled: $(systemctl is-enabled $U 2>&1)" \
	test "$(systemctl is-enabled $U 2>/dev/null)" = enabled
check unit-started "ActiveState=$(unit_prop $U ActiveState) after install" \
	wait_until 30 is_active
check unit-from-package "FragmentPath=$(unit_prop $U FragmentPath)" \
	test "$(unit_prop $U FragmentPath)" = /lib/systemd/system/balancerd.service
check version "balancerd --version: $(balancerd --version 2>&1), expected $version" \
	test "$(balancerd --version 2>&1)" = "balancerd $version"
check balancerctl-version "balancerctl --version: $(balancerctl --version 2>&1)" \
	test "$(balancerctl --version 2>&1)" = "balancerctl $version"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' balancerd | awk 'NF {print $1}' | sort | tr '\n' ' ')
check conffiles "conffiles: $conffiles" \
	test "$conffiles" = "/etc/balancerd/balancerd.json /etc/balancerd/policies.d/50-default.json "
catalog_ok() { journalctl --list-catalog 2>/dev/null | grep -qi d9acf7c106354fe19ad810ff4fd2604e; }
check catalog "the catalog's ids are not in journalctl --list-catalog (trigger not run?)" catalog_ok
check policies-shipped "no /usr/share/balancerd/policies/default.json" \
	test -f /usr/share/balancerd/policies/default.json

# ---- reinstall (as an upgrade does): the unit is restarted ----------------
pid0=$(unit_prop $U MainPID)
apt-get install -y --reinstall "$deb" >>"$OUT/apt-install.log" 2>&1
restarted() { local p; p=$(unit_prop $U MainPID); [ "$p" != "$pid0" ] && [ "$p" != 0 ] && is_active; }
check restart-on-upgrade "MainPID $pid0 -> $(unit_prop $U MainPID), ActiveState $(unit_prop $U ActiveState)" \
	wait_until 30 restarted

# ---- node_exporter installed after balancerd ------------------------------
# The unit's ReadWritePaths=-/var/lib/prometheus/node-exporter skipped the
# missing directory at start: the trigger restarts the daemon, whose new
# sandbox lets it write there.
if [ -n "$nxdeb" ]; then
	pid0=$(unit_prop $U MainPID)
	apt-get install -y --no-install-recommends "$nxdeb" >"$OUT/nx-install.log" 2>&1 ||
		notok nx-install "$(tail -3 "$OUT/nx-install.log" | tr '\n' ' ')"
	if wait_until 30 restarted; then
		ok "trigger-restart (MainPID $pid0 -> $(unit_prop $U MainPID) after installing $(basename "$nxdeb"))"
	else
		notok trigger-restart "MainPID still $pid0 30 s after installing $(basename "$nxdeb")"
	fi
	prom_written() { [ -s $PROM ]; }
	if wait_until 40 prom_written; then
		ok "metrics-after-node-exporter ($PROM written)"
	else
		notok metrics-after-node-exporter "no $PROM 40 s after node_exporter was installed: $(journalctl -u $U -o cat --no-pager | grep 'metrics' | tail -1)"
	fi
fi

# ---- metrics through node_exporter --------------------------------------
# A short metrics_interval and quick clocks (the admin's edits of
# conffiles, which purge must still remove).
jq '.metrics_interval = "2s"' /etc/balancerd/balancerd.json >/tmp/b.json &&
	cat /tmp/b.json >/etc/balancerd/balancerd.json
fast_policy /usr/share/balancerd/policies/default.json /tmp/50-default.json 10s 15s
cat /tmp/50-default.json >/etc/balancerd/policies.d/50-default.json
cursor=$(journalctl -u $U -n 0 --show-cursor --no-pager 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl reload $U
reloaded() { journalctl -u $U --after-cursor="$cursor" --no-pager -o cat | grep -q 'reloaded'; }
check reload "no 'reloaded' in the journal after systemctl reload" wait_until 20 reloaded

systemctl start prometheus-node-exporter 2>/dev/null
scrape() { curl -s --max-time 10 http://127.0.0.1:9100/metrics; }
nx_up() { scrape | grep -q '^node_textfile_scrape_error'; }
check node-exporter "prometheus-node-exporter not answering on :9100 ($(unit_prop prometheus-node-exporter ActiveState))" \
	wait_until 60 nx_up

# node_exporter sorts labels and prints floats its own way: match the
# series by name and vm label, read values with awk.
series() { grep -E "^$1\{([^}]*,)?vm=\"batch-idle\"[,}]" "$2" | head -1; }
value() { series "$1" "$2" | awk '{print $NF}'; }
start_vm batch-idle --size 128M --hot 5% --rate 500
wait_vm_ready batch-idle 120 || notok vm-start "$(tail -c 300 "$OUT/vm-batch-idle.err")"
# The first answer that has the VM filled (half its 128 MiB at least: the
# file may be a metrics_interval older than guestsim's "ready", from while
# it was filling): before its cold age has passed, so before balancerd
# reclaimed anything from it.
vm_in_scrape() {
	scrape >"$OUT/scrape-1.txt"
	awk -v r="$(value balancerd_vm_resident_bytes "$OUT/scrape-1.txt")" \
		'BEGIN { exit !(r != "" && r + 0 >= 64 * 1048576) }'
}
if wait_until 40 vm_in_scrape; then
	ok "scrape-vm ($(series balancerd_vm_resident_bytes "$OUT/scrape-1.txt"))"
else
	notok scrape-vm "no balancerd_vm_resident_bytes of batch-idle of 64 MiB or more in node_exporter's answer ($(series balancerd_vm_resident_bytes "$OUT/scrape-1.txt"); file: $(ls -l $PROM 2>&1))"
fi
check textfile-no-error "node_textfile_scrape_error $(grep '^node_textfile_scrape_error' "$OUT/scrape-1.txt")" \
	grep -q '^node_textfile_scrape_error 0' "$OUT/scrape-1.txt"

# The numbers move when balancerd acts: batch-idle's cold memory is
# reclaimed, and the counters say so.
rec1=$(value balancerd_vm_reclaimed_bytes_total "$OUT/scrape-1.txt")
more_reclaimed() {
	scrape >"$OUT/scrape-2.txt"
	awk -v a="${rec1:-0}" -v b="$(value balancerd_vm_reclaimed_bytes_total "$OUT/scrape-2.txt")" \
		'BEGIN { exit !(b + 0 > a + 0) }'
}
if wait_until 90 more_reclaimed; then
	sleep 5
	scrape >"$OUT/scrape-2.txt"
	r1=$(value balancerd_vm_resident_bytes "$OUT/scrape-1.txt")
	r2=$(value balancerd_vm_resident_bytes "$OUT/scrape-2.txt")
	rec2=$(value balancerd_vm_reclaimed_bytes_total "$OUT/scrape-2.txt")
	acts=$(grep '^balancerd_actions_total' "$OUT/scrape-2.txt" | awk '{s += $NF} END {print s + 0}')
	moved() { awk -v r1="$r1" -v r2="$r2" -v n="$acts" 'BEGIN { exit !(n > 0 && r2 + 0 < r1 + 0) }'; }
	check "metrics-move (resident $r1 -> $r2, reclaimed ${rec1:-0} -> $rec2, $acts actions)" \
		"resident $r1 -> $r2, $acts actions" moved
else
	notok metrics-move "balancerd_vm_reclaimed_bytes_total of batch-idle still ${rec1:-0} after 90 s"
fi
balancerctl metrics >"$OUT/balancerctl-metrics.txt" 2>&1
cp "$PROM" "$OUT/balancerd.prom" 2>/dev/null
check balancerctl-metrics "balancerctl metrics: $(head -2 "$OUT/balancerctl-metrics.txt" | tr '\n' ' ')" \
	test -n "$(series balancerd_vm_resident_bytes "$OUT/balancerctl-metrics.txt")"
stop_vm batch-idle
wait_vm_exit batch-idle 60 >/dev/null

# ---- a VM that went away leaves the file ----------------------------------
vm_gone() { ! grep -q 'vm="batch-idle"' "$PROM" 2>/dev/null && [ -s "$PROM" ]; }
check vm-leaves-metrics "batch-idle still in $PROM after it exited" wait_until 30 vm_gone

# ---- remove stops the unit; purge leaves nothing ---------------------------
apt-get remove -y balancerd >"$OUT/apt-remove.log" 2>&1
check remove-stops "ActiveState=$(unit_prop $U ActiveState) after apt-get remove" \
	test "$(unit_prop $U ActiveState)" != active
check remove-keeps-conffiles "/etc/balancerd/balancerd.json gone after remove (only purge removes it)" \
	test -f /etc/balancerd/balancerd.json
apt-get purge -y balancerd >"$OUT/apt-purge.log" 2>&1
systemctl daemon-reload
snapshot >/tmp/after.txt
comm -13 /tmp/before.txt /tmp/after.txt >"$OUT/purge-leftovers.txt"
if [ -s "$OUT/purge-leftovers.txt" ]; then
	notok purge-clean "left behind: $(head -20 "$OUT/purge-leftovers.txt" | tr '\n' ' ')"
else
	ok "purge-clean (nothing new under /etc /usr /lib /var /run /srv /opt)"
fi
echo "guest-pkg: done"
