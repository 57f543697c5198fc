#!/bin/bash
# The end-to-end checks, inside the Debian guest (run by tests/e2e/run.sh).
# One line per check in $OUT/results.txt: "ok NAME" or "not ok NAME: why".
set -u
. /e2e/guest-lib.sh
RES=$OUT/results.txt
: >"$RES"
note() { echo "[$(date +%T)] $*"; }

U=balancerd
SPIKE_AT=${SPIKE_AT:-75}

# ---- installed from the package, or by make install ----------------------
# With balancerd_*.deb on the payload (/e2e/deb/: tests/e2e/run.sh puts it
# there, without make install's tree), the checks run against the packaged
# unit: apt-get installs it (its dependencies are in the image; no network
# needed). Run with --make-install, they run against make install's.
deb=$(ls /e2e/deb/balancerd_*.deb 2>/dev/null | head -1)
how="make install"
if [ -n "$deb" ]; then
	how="apt-get install ./$(basename "$deb")"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" \
		>"$OUT/apt-install.log" 2>&1 ||
		notok apt-install "$(tail -3 "$OUT/apt-install.log" | tr '\n' ' ')"
	check "packaged-unit ($(unit_prop $U FragmentPath), $(dpkg-query -W -f='${Version}' balancerd 2>&1))" \
		"FragmentPath=$(unit_prop $U FragmentPath), dpkg: $(dpkg-query -W -f='${Status}' balancerd 2>&1)" \
		test "$(unit_prop $U FragmentPath)" = /lib/systemd/system/balancerd.service \
		-a "$(dpkg-query -W -f='${Status}' balancerd 2>/dev/null)" = "install ok installed"
	# The package started the unit (dh_installsystemd); the checks below
	# start it themselves, after they edited its configuration.
	systemctl stop $U
fi
BALANCERD=$(command -v balancerd)
unit_file=$(systemctl show -p FragmentPath --value $U 2>/dev/null)
check "install ($how: $BALANCERD, $unit_file)" "balancerd, balancerctl or balancerd.service missing after $how" \
	test -n "$BALANCERD" -a -n "$(command -v balancerctl)" -a -n "$unit_file"
[ -n "$unit_file" ] && cp "$unit_file" "$OUT/balancerd.service"

src=$(shipped_policy default) || src=""
if [ -n "$src" ]; then
	fast_policy "$src" /tmp/50-e2e.json 10s 15s
	install_policies /tmp/50-e2e.json
fi
check policy-check "balancerd --check rejects the installed config/policy" \
	"$BALANCERD" --check

# ---- VMs -----------------------------------------------------------------
sampler_start 1
note "starting VMs"
start_vm batch-idle --size 192M --hot 5% --rate 1000 --verify-cold-interval 0 --verify-all-at-exit
start_vm web-spike --size 192M --hot 20% --rate 2000 --phase "${SPIKE_AT}s:hot=85%" --verify-cold-interval 0
start_vm plain-1 --mode plain --size 64M --hot 25% --rate 1000
for v in batch-idle web-spike plain-1; do
	wait_vm_ready $v 120 || notok "vm-start-$v" "$(tail -c 300 "$OUT/vm-$v.err")"
done
sleep 2
idle0=$(mem_current batch-idle)
note "batch-idle memory.current $idle0"

# ---- record every tick (replayed below) -----------------------------------
TRACE=/run/balancerd/trace.jsonl
conf=/etc/balancerd/balancerd.json
jq --arg t "$TRACE" '. + {record: $t}' "$conf" >/tmp/balancerd.json.rec &&
	cp /tmp/balancerd.json.rec "$conf"

# ---- the unit reaches READY ----------------------------------------------
t_start=$(date +%s)
systemctl start $U &
start_pid=$!
is_active() { [ "$(unit_prop $U ActiveState)" = active ]; }
if wait_until 60 is_active; then
	ok unit-ready
else
	notok unit-ready "ActiveState=$(unit_prop $U ActiveState) SubState=$(unit_prop $U SubState) after 60 s"
	journalctl -u $U --no-pager | tail -20
fi
wait $start_pid 2>/dev/null
check unit-type-notify "Type=$(unit_prop $U Type), expected notify" \
	test "$(unit_prop $U Type)" = notify
status_nonempty() { [ -n "$(unit_prop $U StatusText)" ]; }
if wait_until 20 status_nonempty; then
	ok "status-text ($(unit_prop $U StatusText))"
else
	notok status-text "StatusText empty 20 s after start"
fi
check watchdog-configured "WatchdogUSec=$(unit_prop $U WatchdogUSec)" \
	test "$(unit_prop $U WatchdogUSec)" != 0 -a -n "$(unit_prop $U WatchdogUSec)"
main_pid=$(unit_prop $U MainPID)
ss=$(unit_prop $U NRestarts)

# ---- cold memory of an idle VM is reclaimed --------------------------------
reclaimed_enough() {
	local cur
	cur=$(mem_current batch-idle)
	[ "$cur" -gt 0 ] && [ "$cur" -lt $((idle0 / 2)) ]
}
if wait_until 90 reclaimed_enough; then
	ok "cold-reclaim (batch-idle $((idle0 >> 20)) MiB -> $(($(mem_current batch-idle) >> 20)) MiB in $(($(date +%s) - t_start)) s)"
else
	notok cold-reclaim "batch-idle memory.current $((idle0 >> 20)) MiB -> $(($(mem_current batch-idle) >> 20)) MiB after 90 s"
fi

# ---- journal fields --------------------------------------------------------
has_action() { bjournal | jq -e -s 'map(select(.ACTION != null)) | length > 0' >/dev/null; }
wait_until 20 has_action
bjournal >"$OUT/journal-balancerd.json"
missing=$(jq -r -s '
	map(select(.ACTION != null)) as $a
	| if ($a | length) == 0 then "no action entries"
	  else [$a[] | . as $e
		| ["VM","POLICY","ACTION","BYTES_REQUESTED","BYTES_DONE","REASON","MODE","MESSAGE_ID"][]
		| select($e[.] == null or $e[.] == "")] | unique | join(",") end' \
	"$OUT/journal-balancerd.json")
if [ -z "$missing" ]; then
	ok "journal-fields ($(jq -s 'map(select(.ACTION != null)) | length' "$OUT/journal-balancerd.json") action entries)"
else
	notok journal-fields "missing: $missing"
fi

# ---- a VM whose pressure rises is backed off, then prefaulted --------------
spike_ts=$(jq -r 'select(.event == "ready") | .ts' "$OUT/vm-web-spike.jsonl")
spike_ts=$(awk -v a="$spike_ts" -v b="$SPIKE_AT" 'BEGIN{printf "%.0f", a + b}')
note "web-spike spikes at $(date -d @"$spike_ts" +%T)"
prefaulted() {
	bjournal | jq -e -s --argjson t "$spike_ts" 'map(select(.VM == "web-spike" and .ACTION == "prefault"
		and ((.__REALTIME_TIMESTAMP | tonumber) / 1e6) >= $t)) | length > 0' >/dev/null
}
left=$((spike_ts + 120 - $(date +%s)))
[ $left -lt 10 ] && left=10
if wait_until $left prefaulted; then
	first=$(bjournal | jq -r -s --argjson t "$spike_ts" '[.[] | select(.VM == "web-spike" and .ACTION == "prefault"
		and ((.__REALTIME_TIMESTAMP | tonumber) / 1e6) >= $t)][0] | ((.__REALTIME_TIMESTAMP | tonumber) / 1e6)')
	ok "prefault-after-spike ($(awk -v a="$first" -v b="$spike_ts" 'BEGIN{printf "%.1f", a - b}') s after the spike)"
	sleep 15
	# What the restore brought back: the evicted blocks around the ones
	# web-spike refaults. Not a check: when the guest's own 2 MiB faults
	# are quick enough (a fast run), nothing is left to fault in.
	back=$(bjournal | jq -s --argjson t "$spike_ts" 'map(select(.VM == "web-spike" and .ACTION == "prefault"
		and ((.__REALTIME_TIMESTAMP | tonumber) / 1e6) >= $t) | .BYTES_DONE | tonumber) | add // 0')
	note "prefaults of web-spike after the spike faulted in $back bytes"
	# Backed off: for the policy's backoff (15 s) after its restore began,
	# web-spike gives no memory through memory.reclaim, where the kernel
	# chooses and could take what it is faulting back in; a pageout of
	# memory ovcmem saw idle past its cold age may still go.
	n=$(bjournal | jq -s --argjson t "$first" 'map(select(.VM == "web-spike" and .ACTION == "reclaim"
		and ((.__REALTIME_TIMESTAMP | tonumber) / 1e6) >= $t
		and ((.__REALTIME_TIMESTAMP | tonumber) / 1e6) < $t + 15)) | length')
	when=$(bjournal | jq -r -s --argjson t "$first" '[.[] | select(.VM == "web-spike" and .ACTION == "reclaim"
		and ((.__REALTIME_TIMESTAMP | tonumber) / 1e6) >= $t)][0] // empty
		| "first at +\(((.__REALTIME_TIMESTAMP | tonumber) / 1e6 - $t) * 10 | floor / 10) s: \(.MESSAGE)"' | cut -c1-140)
	check backoff "web-spike got memory.reclaim $n times within the 15 s backoff after its restore began ($when)" test "$n" = 0
else
	notok prefault-after-spike "no prefault of web-spike in 120 s after the spike"
	notok backoff "no restore, so no backoff to observe"
fi
had_reclaim=$(bjournal | jq -s 'map(select(.VM == "web-spike" and (.ACTION == "reclaim" or .ACTION == "pageout"))) | length')
note "web-spike reclaim actions before the spike: $had_reclaim"

# ---- reload: a bad policy keeps the old one, a good one applies ------------
cursor=$(journalctl -u $U -n 0 --show-cursor --no-pager 2>/dev/null | sed -n 's/^-- cursor: //p')
echo '{ "classes": [ { "name": "broken", "match": ["*"], "floor": "lots" } ] ' >"$POLICY_DIR/60-bad.json"
systemctl reload $U
sleep 3
logged_error() { journalctl -u $U --after-cursor="$cursor" --no-pager -o cat 2>/dev/null | grep -qi '60-bad.json'; }
if wait_until 15 logged_error; then
	ok "reload-bad-logged ($(journalctl -u $U --after-cursor="$cursor" --no-pager -o cat | grep -i -m1 '60-bad.json' | cut -c1-120))"
else
	notok reload-bad-logged "no journal entry naming 60-bad.json after reload"
fi
check reload-bad-keeps-running "ActiveState=$(unit_prop $U ActiveState) MainPID $(unit_prop $U MainPID) (was $main_pid)" \
	test "$(unit_prop $U ActiveState)" = active -a "$(unit_prop $U MainPID)" = "$main_pid"
kept_old() { journalctl -u $U --after-cursor="$cursor" --no-pager -o cat | grep -qiE 'keep'; }
check reload-bad-keeps-old "no 'keeping' message in the journal" kept_old
rm -f "$POLICY_DIR/60-bad.json"
jq '.classes |= [{"name":"e2e-probe","description":"added by the e2e test","match":["probe-*"],"priority":10,"shares":100,"floor":"20%","pressure_target":1.0,"cold_age":"10s","max_reclaim_rate":"64M","prefault":false}] + .' \
	/tmp/50-e2e.json >"$POLICY_DIR/50-e2e.json"
ncls=$(jq '.classes | length' "$POLICY_DIR/50-e2e.json")
cursor=$(journalctl -u $U -n 0 --show-cursor --no-pager 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl reload $U
applied() { journalctl -u $U --after-cursor="$cursor" --no-pager -o cat | grep -qiE "reloaded.*$ncls class"; }
if wait_until 15 applied; then
	ok "reload-good-applied ($(journalctl -u $U --after-cursor="$cursor" --no-pager -o cat | grep -iE -m1 'policy reloaded' | cut -c1-120))"
else
	notok reload-good-applied "no 'reloaded ... $ncls classes' in the journal"
fi
start_vm probe-1 --size 32M --hot 50% --rate 500
wait_vm_ready probe-1 60
explain_ok() { balancerctl explain probe-1 2>&1 | grep -q e2e-probe; }
check reload-good-class-used "balancerctl explain probe-1: $(balancerctl explain probe-1 2>&1 | head -3 | tr '\n' ' ')" \
	wait_until 20 explain_ok

# ---- KSM: a class with "merge": true shares two identical ovcmem VMs --------
# Two VMs with the same seed fill the same guest addresses with the same
# pattern and never write: page for page identical. Only balancerd (through
# the driver's OVCMEM_SET_MERGEABLE) makes their guest RAM mergeable; ksmd
# is started here with a fast scan. Their floor of 100% keeps reclaim out
# of it. guestsim verifies its data all along (guestsim-no-errors below).
jq '.classes |= [{"name":"e2e-ksm","match":["ksm-*"],"priority":10,"floor":"100%","prefault":false,"merge":true}] + .' \
	"$POLICY_DIR/50-e2e.json" >/tmp/50-e2e-ksm.json && mv /tmp/50-e2e-ksm.json "$POLICY_DIR/50-e2e.json"
systemctl reload $U
echo 4000 >/sys/kernel/mm/ksm/pages_to_scan
echo 10 >/sys/kernel/mm/ksm/sleep_millisecs
echo 1 >/sys/kernel/mm/ksm/run
for n in ksm-1 ksm-2; do
	start_vm $n --size 32M --thp off --writes 0 --hot 25% --rate 200 --seed 7
done
wait_vm_ready ksm-1 60
wait_vm_ready ksm-2 60
merge_logged() {
	bjournal | jq -e -s 'map(select(.VM == "ksm-1" and .ACTION == "merge" and .BYTES_DONE != "0")) | length > 0' >/dev/null
}
if wait_until 30 merge_logged; then
	ok ksm-merge-switched-on
else
	notok ksm-merge-switched-on "no 'ksm-1 merge' action done in the journal; its last: $(bjournal | jq -r -s 'map(select(.VM == "ksm-1" and .ACTION != null)) | last | .MESSAGE // "none"')"
fi
ksm_pages() { balancerctl --json status 2>/dev/null | jq -r '.vms[] | select(.name == "'"$1"'") | .pages_sharing // 0'; }
# Half of each VM's 8192 pages at least: ksmd merges what it has scanned twice.
sharing() { [ "$(ksm_pages ksm-1)" -ge 4096 ] 2>/dev/null && [ "$(ksm_pages ksm-2)" -ge 4096 ] 2>/dev/null; }
if wait_until 90 sharing; then
	ok "ksm-pages-sharing (ksm-1 $(ksm_pages ksm-1) pages merged, ksm-2 $(ksm_pages ksm-2))"
else
	notok ksm-pages-sharing "pages_sharing ksm-1 $(ksm_pages ksm-1), ksm-2 $(ksm_pages ksm-2); /sys/kernel/mm/ksm/pages_sharing $(cat /sys/kernel/mm/ksm/pages_sharing)"
fi
note "KSM: ksm-1 $(ksm_pages ksm-1) pages merged, ksm-2 $(ksm_pages ksm-2); host pages_sharing $(cat /sys/kernel/mm/ksm/pages_sharing)"

# ---- the trace of this run, replayed with the recorded policies ---------------
# A copy up to its last whole line: the writer may be halfway through one.
cp "$TRACE" /tmp/trace.jsonl 2>/dev/null
[ -s /tmp/trace.jsonl ] && [ -n "$(tail -c 1 /tmp/trace.jsonl)" ] && sed -i '$d' /tmp/trace.jsonl
cp /tmp/trace.jsonl "$OUT/trace.jsonl" 2>/dev/null
balancerctl replay /tmp/trace.jsonl >"$OUT/replay.txt" 2>&1
rc=$?
check "replay-recorded ($(grep -m1 '^replay:' "$OUT/replay.txt"))" \
	"exit $rc: $(tail -3 "$OUT/replay.txt" | tr '\n' ' ')" \
	test "$rc" = 0 -a "$(grep -c '"type":"tick"' /tmp/trace.jsonl)" -gt 10

# ---- the same trace through a changed policy ---------------------------------
# The last header's policy (every class in force at the end) with batch's
# cold age at 1h instead of 10s and latency's rate halved. Replay is
# open-loop, so which VMs must depart follows from the trace itself:
# - a batch VM the recorded run paged out while the host was proactive or
#   restoring: at 1h none of its memory is cold (the idle-age buckets end at
#   120 ticks), so the changed policy pages out none of it then;
# - a latency VM the recorded run asked, in one tick, more than the halved
#   rate (reclaim and pageout together, or a prefault): the changed policy's
#   token bucket never holds that much;
# - a VM of another class never departs (its class is the same, and outside
#   tight and critical, where the host's shortfall is shared, no VM's
#   decisions depend on another class).
# Per VM with --vm and --json, as an admin would ask.
AGE_CLASS=batch RATE_CLASS=latency
CHANGED=/tmp/policy-changed.json
replay_changed() {
	local jqlib why="" vm cls want d line departed="" same="" unsure="" shared rate iv
	jqlib='def bytes: tostring | capture("^(?<n>[0-9]+)(?<u>[KMGTPE]?)$")
		| .u as $u | (.n | tonumber) * (if $u == "" then 1 else pow(1024; ("KMGTPE" | index($u)) + 1) end);'
	grep '"type":"header"' /tmp/trace.jsonl | tail -1 | jq '.policy' >/tmp/policy-recorded.json
	jq --arg a "$AGE_CLASS" --arg r "$RATE_CLASS" "$jqlib"'
		(.classes[] | select(.name == $a) | .cold_age) = "1h"
		| (.classes[] | select(.name == $r) | .max_reclaim_rate) |= (bytes / 2 | floor | tostring)' \
		/tmp/policy-recorded.json >"$CHANGED" 2>"$OUT/replay-changed.err"
	cp "$CHANGED" "$OUT/policy-changed.json" 2>/dev/null
	[ "$(jq --arg a "$AGE_CLASS" --arg r "$RATE_CLASS" \
		'[.classes[] | select(.name == $a or .name == $r)] | length' "$CHANGED" 2>/dev/null)" = 2 ] ||
		{ echo "no classes $AGE_CLASS and $RATE_CLASS in the recorded policy"; return 1; }
	rate=$(jq -r --arg r "$RATE_CLASS" '.classes[] | select(.name == $r) | .max_reclaim_rate' "$CHANGED")
	# what the changed bucket holds at most: the rate over max(1 s, interval)
	iv=$(grep '"type":"header"' /tmp/trace.jsonl | tail -1 | jq '.interval')
	rate=$(awk -v r="$rate" -v i="$iv" 'BEGIN { printf "%.0f", r * (i > 1e6 ? i / 1e6 : 1) }')
	balancerctl replay /tmp/trace.jsonl --policy "$CHANGED" >"$OUT/replay-changed.txt" 2>&1
	# VM, its class (the last recorded) and whether it must depart
	jq -r -s --arg a "$AGE_CLASS" --arg r "$RATE_CLASS" --argjson rate "$rate" '
		[.[] | select(.type == "tick")] as $t
		| ($t | map(.vms[] | {key: .name, value: (.class // "-")}) | from_entries) | to_entries[]
		| .key as $vm | .value as $c
		| [$t[] | . as $k | {mode, a: [.actions[] | select($k.vms[.vm].name == $vm)]}] as $mine
		| (if $c == $a then
			any($mine[]; (.mode == "proactive" or .mode == "restore")
				and any(.a[]; .kind == "pageout"))
		   elif $c == $r then
			any($mine[]; ([.a[] | select(.kind == "reclaim" or .kind == "pageout") | .bytes] | add // 0) > $rate
				or any(.a[]; .kind == "prefault" and .bytes > $rate))
		   else "same" end) as $w
		| "\($vm) \($c) \(if $w == "same" then "same" elif $w then "departs" else "may" end)"' \
		/tmp/trace.jsonl >/tmp/replay-changed.want || { echo "jq failed on the trace"; return 1; }
	cp /tmp/replay-changed.want "$OUT/replay-changed.want"
	shared=$(jq -s '[.[] | select(.type == "tick" and (.mode == "tight" or .mode == "critical"))] | length' /tmp/trace.jsonl)
	while read -r vm cls want; do
		line=$(balancerctl --json replay /tmp/trace.jsonl --policy "$CHANGED" --vm "$vm" 2>&1 |
			jq -r '"\(.departures) \(.differences)"' 2>/dev/null)
		d=${line% *}
		case "$line" in
		*" 0") ;;
		*) why="$why $vm: replay --json gave '$line' (departures, differences);"; continue ;;
		esac
		case $want in
		departs) [ "$d" -gt 0 ] || why="$why $vm ($cls) did not depart;"
			departed="$departed $vm $d," ;;
		same) if [ "$shared" = 0 ] && [ "$d" != 0 ]; then
				why="$why $vm ($cls, unchanged) departed $d times;"
			fi
			same="$same $vm $d," ;;
		*) unsure="$unsure $vm $d," ;;
		esac
	done </tmp/replay-changed.want
	[ -n "$departed" ] || why="$why no VM the change must affect (nothing of $AGE_CLASS paged out, nothing of $RATE_CLASS over $rate bytes a tick);"
	if [ -n "$why" ]; then
		why=${why# }; echo "${why%;}"
		return 1
	fi
	echo "departures:${departed%,}; unchanged:$(echo "${same:- none,}" | sed 's/,$//')${unsure:+; may depart:${unsure%,}}"
	[ "$shared" = 0 ] || echo "(not checked: the host was tight or critical for $shared ticks)"
	return 0
}
if msg=$(replay_changed); then
	ok "replay-changed-policy ($AGE_CLASS cold age 1h, $RATE_CLASS rate halved: $(echo $msg))"
else
	notok replay-changed-policy "$(echo $msg | cut -c1-400) (first departures: $(grep -A2 -m1 '^  tick' "$OUT/replay-changed.txt" | tr -s ' \n' ' ' | cut -c1-200))"
fi

# ---- a VM exiting mid-tick is handled -------------------------------------
for i in 1 2 3; do
	start_vm "batch-short$i" --size 32M --duration $((i + 1))s
done
start_vm batch-kill --size 48M --rate 500
wait_vm_ready batch-kill 60
sleep 2
systemctl kill --signal=KILL batch-kill.scope
for i in 1 2 3; do wait_vm_exit "batch-short$i" 60 >/dev/null; done
sleep 4
check vm-exit-mid-tick "daemon ActiveState=$(unit_prop $U ActiveState) MainPID $(unit_prop $U MainPID) (was $main_pid)" \
	test "$(unit_prop $U ActiveState)" = active -a "$(unit_prop $U MainPID)" = "$main_pid"
gone_logged() { bjournal | jq -e -s 'map(select(.VM == "batch-kill" and ((.MESSAGE // "") | test("vanish|gone|exit|disappear"; "i")))) | length > 0' >/dev/null; }
check vm-exit-logged "no journal entry about batch-kill going away" wait_until 10 gone_logged

# ---- nothing so far made the daemon restart (crash or watchdog) ------------
nr=$(unit_prop $U NRestarts)
if [ "${nr:-0}" = 0 ]; then
	ok no-unexpected-restart
else
	notok no-unexpected-restart "NRestarts=$nr before the watchdog test: $(journalctl -u $U --no-pager -o cat | grep -m1 -iE 'watchdog timeout|code=killed|code=exited|core' | cut -c1-120)"
fi

# ---- a hung daemon is restarted by the watchdog ---------------------------
wd_us=$(unit_prop $U WatchdogUSec)
wd_s=$(systemctl show -p WatchdogUSec $U | sed 's/.*=//')
nr0=$(unit_prop $U NRestarts)
pid0=$(unit_prop $U MainPID)
note "SIGSTOP $pid0 (WatchdogSec $wd_s)"
t_stop=$(date +%s)
kill -STOP "$pid0"
restarted() { local p; p=$(unit_prop $U MainPID); [ "$p" != "$pid0" ] && [ "$p" != 0 ] && is_active; }
if wait_until 90 restarted; then
	ok "watchdog-restart (new MainPID $(unit_prop $U MainPID) after $(($(date +%s) - t_stop)) s, NRestarts $nr0 -> $(unit_prop $U NRestarts))"
else
	notok watchdog-restart "MainPID $(unit_prop $U MainPID) ActiveState $(unit_prop $U ActiveState) 90 s after SIGSTOP (WatchdogUSec $wd_us)"
	kill -CONT "$pid0" 2>/dev/null
fi
wd_logged() { journalctl -u $U --no-pager -o cat | grep -qi 'watchdog'; }
check watchdog-logged "systemd logged no watchdog timeout" wd_logged

# ---- no guestsim access ever read wrong data -------------------------------
for v in batch-idle web-spike plain-1 probe-1 ksm-1 ksm-2; do stop_vm $v; done
bad=""
for f in "$OUT"/vm-*.jsonl; do
	v=${f##*/vm-}
	v=${v%.jsonl}
	rc=$(wait_vm_exit "$v" 120)
	e=$(jq -s '[.[] | .errors // 0] | max' "$f" 2>/dev/null)
	case $v in batch-kill) continue ;; esac
	if [ "$rc" != 0 ] || [ "${e:-x}" != 0 ]; then
		bad="$bad $v(rc=$rc,errors=$e)"
	fi
done
check guestsim-no-errors "${bad# }" test -z "$bad"
vall=$(jq -r 'select(.event == "exit") | "\(.verify_all_bad_chunks) bad of all, \(.verify_all_s) s"' "$OUT/vm-batch-idle.jsonl" 2>/dev/null)
note "batch-idle verify-all-at-exit: $vall"

sampler_stop
bjournal >"$OUT/journal-balancerd.json"
systemctl stop $U
echo "guest-tests: done"
