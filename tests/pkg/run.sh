#!/bin/bash
# The packaging suite: the Debian packages build, pass lintian, install,
# build their module with DKMS for every installed kernel, purge without a
# trace, and run in the e2e guest (apt-get install, the unit, node_exporter
# scraping balancerd's metrics). One line per check, then
# "N passed, N failed"; exit 1 on failure.
#
#   tests/pkg/run.sh [--kver VERSION] [--no-guest] [--no-host-install]
#
# Installs and purges balancerd, ovcmem-dkms and ovcmem-dev on this
# machine for real (CI's throwaway machine; needs root): a copy already
# installed is purged first. --kver picks the guest's kernel (default: the
# oldest installed Debian kernel). Logs and artefacts: build/pkg/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"

kver="" guest=1 host_install=1
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--no-guest) guest=""; shift ;;
	--no-host-install) host_install=""; shift ;;
	-h|--help) sed -n '1d; /^#/!q; s/^# \{0,1\}//; p' "$0"; exit 0 ;;
	*) echo "pkg: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

out=$top/build/pkg
mkdir -p "$out"
# One run at a time: it installs packages on this machine.
exec 8>"$out.lock"
flock 8

passed=0 failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
notok() { echo "not ok $1: $2"; failed=$((failed + 1)); }
check() { # NAME WHY-IF-FAILED COMMAND...
	local n=$1 why=$2
	shift 2
	if "$@"; then ok "$n"; else notok "$n" "$why"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

for t in dpkg-buildpackage dh dh_dkms lintian dkms promtool; do
	if ! command -v $t >/dev/null; then
		notok tools "$t not installed (tools/install-deps.sh)"
		finish
	fi
done
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
kernels=$(tools/kernels.sh)

# ---- build -------------------------------------------------------------
t0=$(date +%s)
debdir=$out/deb
changes=$(tools/build-deb.sh "$debdir" 2>"$out/build-deb.err" | tail -1)
if [ -f "$changes" ]; then
	ok "build ($(cd "$debdir" && ls ./*.deb | tr '\n' ' ')in $(($(date +%s) - t0)) s)"
else
	notok build "$(tail -5 "$out/build-deb.err" | tr '\n' ' ')"
	finish
fi
deb_of() { ls "$debdir/$1"_*.deb 2>/dev/null | head -1; }
bdeb=$(deb_of balancerd) kdeb=$(deb_of ovcmem-dkms) ddeb=$(deb_of ovcmem-dev)
# The build ran in a copy: nothing of debhelper's in the tree.
left=$(git status --porcelain --ignored --untracked-files=all debian 2>/dev/null | head -5)
check source-tree-clean "debian/ after the build: $left" test -z "$left"

# ---- lintian -----------------------------------------------------------
lintian -I --pedantic -E --show-overrides "$changes" >"$out/lintian.txt" 2>&1
nerr=$(grep -c '^E:' "$out/lintian.txt")
nwarn=$(grep -c '^W:' "$out/lintian.txt")
if [ "$nerr" = 0 ] && [ "$nwarn" = 0 ]; then
	ok "lintian (0 errors, 0 warnings; $(grep -c '^O:' "$out/lintian.txt") overridden with reasons)"
else
	notok lintian "$nerr errors, $nwarn warnings: $(grep -m3 '^[EW]:' "$out/lintian.txt" | tr '\n' ' ')"
fi

# ---- contents ----------------------------------------------------------
x=$out/extract
rm -rf "$x"
mkdir -p "$x/balancerd" "$x/dkms" "$x/dev" "$x/ctl"
dpkg-deb -x "$bdeb" "$x/balancerd" && dpkg-deb -e "$bdeb" "$x/ctl"
dpkg-deb -x "$kdeb" "$x/dkms"
dpkg-deb -x "$ddeb" "$x/dev"
missing=""
for f in balancerd/usr/sbin/balancerd balancerd/usr/bin/balancerctl \
	balancerd/lib/systemd/system/balancerd.service \
	balancerd/etc/balancerd/balancerd.json \
	balancerd/etc/balancerd/policies.d/50-default.json \
	balancerd/usr/share/balancerd/policies/default.json \
	balancerd/usr/share/balancerd/policies/conservative.json \
	balancerd/usr/share/balancerd/policies/aggressive.json \
	balancerd/usr/lib/systemd/catalog/balancerd.catalog \
	balancerd/usr/share/man/man8/balancerd.8.gz \
	balancerd/usr/share/man/man1/balancerctl.1.gz \
	balancerd/usr/share/man/man5/balancerd.json.5.gz \
	balancerd/usr/share/doc/balancerd/README.md \
	balancerd/usr/share/doc/balancerd/metrics.md \
	balancerd/usr/share/doc/balancerd/simulate.md \
	balancerd/usr/share/doc/balancerd/examples/s1.json \
	dkms/usr/src/ovcmem-$version/dkms.conf \
	dkms/usr/src/ovcmem-$version/driver/Kbuild \
	dkms/usr/src/ovcmem-$version/include/uapi/linux/ovcmem.h \
	dkms/usr/lib/modules-load.d/ovcmem.conf \
	dkms/lib/udev/rules.d/60-ovcmem.rules \
	dev/usr/include/linux/ovcmem.h; do
	[ -e "$x/$f" ] || missing="$missing $f"
done
check contents "missing:$missing" test -z "$missing"
check conffiles "conffiles: $(tr '\n' ' ' <"$x/ctl/conffiles" 2>/dev/null)" \
	test "$(sort "$x/ctl/conffiles" 2>/dev/null | tr '\n' ' ')" = \
	"/etc/balancerd/balancerd.json /etc/balancerd/policies.d/50-default.json "
unit=$x/balancerd/lib/systemd/system/balancerd.service
check unit-paths "$(grep -E '^Exec' "$unit" | tr '\n' ' ')" \
	grep -q '^ExecStart=/usr/sbin/balancerd --config /etc/balancerd/balancerd.json$' "$unit"
check dkms-version "dkms.conf: $(grep PACKAGE_VERSION "$x/dkms/usr/src/ovcmem-$version/dkms.conf")" \
	grep -q "^PACKAGE_VERSION=\"$version\"" "$x/dkms/usr/src/ovcmem-$version/dkms.conf"
v=$("$x/balancerd/usr/sbin/balancerd" --version 2>&1)
check "version ($v, debian/changelog $version)" "balancerd --version says '$v', debian/changelog $version" \
	test "$v" = "balancerd $version" -a "$(dpkg-deb -f "$bdeb" Version)" = "$version"

# ---- metrics: the packaged balancerctl's text passes promtool ---------
"$x/balancerd/usr/bin/balancerctl" metrics --state-file "$here/fixtures/state.json" \
	>"$out/fixture.prom" 2>&1
if promtool check metrics <"$out/fixture.prom" >"$out/promtool-fixture.txt" 2>&1; then
	ok "promtool-fixture ($(grep -c '^balancerd_' "$out/fixture.prom") samples)"
else
	notok promtool-fixture "$(head -3 "$out/promtool-fixture.txt" | tr '\n' ' ')"
fi

# ---- the Grafana dashboard: valid JSON, every query valid PromQL ----------
python3 - "$top/etc/grafana/balancerd.json" >"$out/dashboard-rules.yml" <<'PY' 2>"$out/dashboard.err"
import json, sys
d = json.load(open(sys.argv[1]))
print("groups:\n- name: dashboard\n  rules:")
for i, t in enumerate(t for p in d["panels"] for t in p["targets"]):
    e = t["expr"].replace("$__rate_interval", "5m")
    print(f"  - record: dashboard:query{i}\n    expr: {json.dumps(e)}")
PY
if promtool check rules "$out/dashboard-rules.yml" >"$out/promtool-dashboard.txt" 2>&1; then
	ok "grafana-dashboard ($(grep -c 'record:' "$out/dashboard-rules.yml") queries pass promtool check rules)"
else
	notok grafana-dashboard "$(cat "$out/dashboard.err" "$out/promtool-dashboard.txt" | head -3 | tr '\n' ' ')"
fi

# ---- install on this machine: DKMS builds for every kernel; purge --------
# Everything an install may touch; what is new after the purge is a leftover.
snapshot() {
	find /etc /usr /lib /var/lib/dkms /var/lib/systemd /var/lib/prometheus \
		/run/balancerd -xdev 2>/dev/null | grep -v '^/usr/lib/python3' | sort
}
if [ -n "$host_install" ]; then
	export DEBIAN_FRONTEND=noninteractive
	if dpkg-query -W balancerd ovcmem-dkms ovcmem-dev >/dev/null 2>&1; then
		apt-get purge -y -q balancerd ovcmem-dkms ovcmem-dev >"$out/pre-purge.log" 2>&1
	fi
	snapshot >"$out/before.txt"
	t0=$(date +%s)
	if apt-get install -y -q --no-install-recommends "$bdeb" "$kdeb" "$ddeb" \
		>"$out/host-install.log" 2>&1; then
		ok "host-install (with DKMS builds: $(($(date +%s) - t0)) s)"
	else
		notok host-install "$(tail -5 "$out/host-install.log" | tr '\n' ' ')"
	fi
	for k in $kernels; do
		# The postinst builds for the running kernel and the newest, or
		# for all when the running one is not installed (as here): make
		# sure of every one.
		if ! dkms status -m ovcmem -v "$version" -k "$k" 2>/dev/null | grep -q installed; then
			dkms install -m ovcmem -v "$version" -k "$k" >>"$out/host-install.log" 2>&1
		fi
		ko=$(find "/lib/modules/$k/updates" -name 'ovcmem.ko*' 2>/dev/null | head -1)
		vm=$(modinfo -F vermagic "$ko" 2>/dev/null | awk '{print $1}')
		st=$(dkms status -m ovcmem -v "$version" -k "$k" 2>/dev/null | head -1)
		check "dkms-$k ($st)" "status '$st', module '$ko' vermagic '$vm'" \
			test -n "$ko" -a "$vm" = "$k"
	done
	check header-installed "/usr/include/linux/ovcmem.h missing" \
		cmp -s /usr/include/linux/ovcmem.h include/uapi/linux/ovcmem.h
	check host-unit-enabled "no multi-user.target.wants/balancerd.service" \
		test -L /etc/systemd/system/multi-user.target.wants/balancerd.service
	apt-get purge -y -q balancerd ovcmem-dkms ovcmem-dev >"$out/host-purge.log" 2>&1
	snapshot >"$out/after.txt"
	# DKMS makes its module signing key (MOK) on its first build ever:
	# DKMS's, kept for every module it signs later, not ovcmem's.
	comm -13 "$out/before.txt" "$out/after.txt" |
		grep -vx '/var/lib/dkms/mok\.\(key\|pub\)' >"$out/host-leftovers.txt"
	if [ -s "$out/host-leftovers.txt" ]; then
		notok host-purge-clean "left behind: $(head -20 "$out/host-leftovers.txt" | tr '\n' ' ')"
	else
		ok "host-purge-clean (nothing new under /etc /usr /lib /var/lib/dkms /var/lib/systemd)"
	fi
fi

# ---- in the e2e guest ----------------------------------------------------
if [ -n "$guest" ]; then
	. "$top/tests/e2e/lib.sh"
	kver=${kver:-$(e2e_default_kver)}
	w=$out/guest
	rm -rf "$w" "$out/payload-files"
	mkdir -p "$w" "$out/payload-files/nx"
	echo "$version" >"$out/payload-files/pkg-version"
	# prometheus-node-exporter's package, for the guest to install after
	# balancerd (guest-pkg.sh: the file trigger). Fetched once from this
	# machine's mirror, the one the image is built from.
	nxdir=$out/node-exporter
	mkdir -p "$nxdir"
	if ! ls "$nxdir"/prometheus-node-exporter_*.deb >/dev/null 2>&1; then
		(cd "$nxdir" && apt-get download prometheus-node-exporter) >"$out/nx-download.log" 2>&1
	fi
	nxdeb=$(ls "$nxdir"/prometheus-node-exporter_*.deb 2>/dev/null | head -1)
	if [ -n "$nxdeb" ]; then
		cp "$nxdeb" "$out/payload-files/nx/"
	else
		notok node-exporter-deb "apt-get download prometheus-node-exporter: $(tail -1 "$out/nx-download.log")"
	fi
	t0=$(date +%s)
	# The package is what installs balancerd, not `make install`.
	if E2E_DEB=$bdeb e2e_prepare "$kver" "$w" "$here/guest-pkg.sh" "$top/tests/e2e/guest-lib.sh" \
		"$out/payload-files/nx" "$out/payload-files/pkg-version"; then
		e2e_boot "$kver" "$w" 600 2048
		boot_rc=$?
		while IFS= read -r line; do
			case $line in
			"ok "*) echo "ok guest/${line#ok }"; passed=$((passed + 1)) ;;
			"not ok "*) echo "not ok guest/${line#not ok }"; failed=$((failed + 1)) ;;
			esac
		done <"$w/out/results.txt" 2>/dev/null
		if [ $boot_rc -ne 0 ] || ! grep -q 'guest-pkg: done' "$w/out/guest-init.log" 2>/dev/null; then
			notok guest-run "the guest did not finish (console $w/console.log, log $w/out/guest-init.log)"
		fi
		scrape=$w/out/scrape-2.txt
		[ -s "$scrape" ] || scrape=$w/out/scrape-1.txt
		if [ -s "$scrape" ]; then
			# node_exporter's whole answer: promtool lints every family.
			grep -E '^(# (HELP|TYPE) )?balancerd_' "$scrape" >"$out/guest-balancerd.prom"
			# An answer without balancerd's series passes promtool: not a pass.
			n=$(grep -c '^balancerd_' "$out/guest-balancerd.prom")
			if [ "$n" -eq 0 ]; then
				notok promtool-guest-scrape "no balancerd_ series in node_exporter's answer ($scrape)"
			elif promtool check metrics <"$out/guest-balancerd.prom" >"$out/promtool-guest.txt" 2>&1; then
				ok "promtool-guest-scrape ($n samples)"
			else
				notok promtool-guest-scrape "$(head -3 "$out/promtool-guest.txt" | tr '\n' ' ')"
			fi
		fi
		echo "# guest on $kver: $(($(date +%s) - t0)) s; logs in $w/out" >&2
		rm -rf "$w/payload" "$w/payload.ext4"
	else
		notok guest-prepare "e2e_prepare failed"
	fi
fi
finish
