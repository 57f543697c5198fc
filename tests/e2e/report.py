#!/usr/bin/env python3
"""Summaries of the guest scenarios (tests/e2e/demo.sh, bench/densify.sh).

    report.py demo OUTDIR PNG       table, journal highlights, gnuplot PNG
    report.py densify OUTDIR [MD]   S1 figures (managed vs unmanaged twins)

OUTDIR is the guest's /e2e/out copied back: vm-NAME.jsonl (guestsim lines),
samples.jsonl (per-scope cgroup samples), journal-balancerd.json
(journalctl -o json), balancerd-start.ts, end.ts.
"""
import json
import os
import subprocess
import sys
from collections import defaultdict


def jsonl(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def read_ts(path, default=None):
    try:
        with open(path) as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return default


def mib(b):
    return b / 1048576.0


def fmt_mib(b):
    return "%.0fM" % mib(b) if b is not None else "-"


class Run:
    def __init__(self, d):
        self.d = d
        self.t0 = read_ts(os.path.join(d, "balancerd-start.ts"))
        self.t_end = read_ts(os.path.join(d, "end.ts"))
        self.vms = {}
        for fn in sorted(os.listdir(d)):
            if fn.startswith("vm-") and fn.endswith(".jsonl"):
                name = fn[3:-6]
                self.vms[name] = jsonl(os.path.join(d, fn))
        self.samples = defaultdict(list)
        for s in jsonl(os.path.join(d, "samples.jsonl")):
            self.samples[s.get("vm")].append(s)
        self.journal = [
            e for e in jsonl(os.path.join(d, "journal-balancerd.json"))
            if e.get("SYSLOG_IDENTIFIER") == "balancerd" or e.get("_COMM") == "balancerd"
        ]
        for e in self.journal:
            e["_ts"] = int(e.get("__REALTIME_TIMESTAMP", "0")) / 1e6
        if self.t0 is None:
            self.t0 = min((e["_ts"] for e in self.journal), default=0)
        if self.t_end is None:
            self.t_end = max((s["ts"] for ss in self.samples.values() for s in ss), default=self.t0)

    def actions(self, vm=None, kinds=None):
        out = []
        for e in self.journal:
            a = e.get("ACTION")
            if not a or (vm and e.get("VM") != vm) or (kinds and a not in kinds):
                continue
            out.append(e)
        return out

    def sample_at(self, vm, ts, key):
        """Value of the last sample at or before ts (else the first)."""
        ss = self.samples.get(vm, [])
        best = None
        for s in ss:
            if s["ts"] <= ts:
                best = s
            else:
                break
        if best is None and ss:
            best = ss[0]
        return best.get(key) if best else None

    def delta(self, vm, key, a, b):
        x, y = self.sample_at(vm, a, key), self.sample_at(vm, b, key)
        if x is None or y is None:
            return None
        return y - x

    def rate_mean(self, vm, a, b):
        xs = [x["rate"] for x in self.vms.get(vm, []) if "rate" in x and a <= x["ts"] <= b]
        return sum(xs) / len(xs) if xs else None

    def p99(self, vm, a, b):
        xs = sorted(x["p99_us"] for x in self.vms.get(vm, []) if "p99_us" in x and a <= x["ts"] <= b)
        return xs[len(xs) // 2] if xs else None

    def policy_of(self, vm):
        for e in self.journal:
            if e.get("VM") == vm and e.get("POLICY"):
                return e["POLICY"]
        return "-"

    def errors(self, vm):
        return max([x.get("errors", 0) for x in self.vms.get(vm, [])] or [0])

    def ready_ts(self, vm):
        for x in self.vms.get(vm, []):
            if x.get("event") == "ready":
                return x["ts"]
        return None

    def size(self, vm):
        for x in self.vms.get(vm, []):
            if x.get("event") == "ready":
                return x.get("size")
        return None

    def bytes_done(self, vm, kinds):
        return sum(int(e.get("BYTES_DONE", 0) or 0) for e in self.actions(vm, kinds))


def telling_lines(run, limit=18):
    """Start, mode changes, the first action of each kind per VM, restores, errors."""
    seen = set()
    picked = []
    for e in run.journal:
        msg = e.get("MESSAGE", "")
        key = None
        if msg.startswith("started") or msg.startswith("mode ") or "reload" in msg:
            key = ("msg", msg[:40])
        elif e.get("ACTION"):
            key = ("act", e.get("VM"), e.get("ACTION"))
            if e.get("ACTION") == "prefault":
                key = ("act", e.get("VM"), "prefault", len([p for p in picked if "prefault" in p[1]]) // 3)
        elif int(e.get("PRIORITY", "6")) <= 4:
            key = ("err", msg[:60])
        if key and key not in seen:
            seen.add(key)
            picked.append((e["_ts"], msg))
    if len(picked) > limit:
        picked = picked[:limit - 1] + [picked[-1]]
    return picked


def demo(d, png):
    run = Run(d)
    names = [n for n in run.vms if run.ready_ts(n)]
    t0, t1 = run.t0, run.t_end
    base_a = t0 - 15
    print()
    print("Per VM, from balancerd's start (t=0) to the end (t=%.0fs):" % (t1 - t0))
    hdr = "%-9s %-8s %6s %9s %9s %9s %10s %7s %8s %9s %6s" % (
        "VM", "class", "size", "res@t=0", "res@end", "reclaimed", "prefaulted",
        "stall%", "refaults", "thru/base", "errors")
    print(hdr)
    print("-" * len(hdr))
    for n in names:
        size = run.size(n)
        before = run.sample_at(n, t0, "current")
        after = run.sample_at(n, t1, "current")
        rec = run.bytes_done(n, ("reclaim", "pageout"))
        pre = run.bytes_done(n, ("prefault",))
        dstall = run.delta(n, "psi_some_us", t0, t1)
        stall = "%.2f" % (dstall / 1e6 / (t1 - t0) * 100) if dstall is not None and t1 > t0 else "-"
        rf = run.delta(n, "refault_anon", t0, t1)
        base = run.rate_mean(n, base_a, t0)
        last = run.rate_mean(n, t1 - 30, t1)
        thru = "%.0f%%" % (100.0 * last / base) if base and last is not None else "-"
        print("%-9s %-8s %6s %9s %9s %9s %10s %7s %8s %9s %6s" % (
            n, run.policy_of(n)[:8], fmt_mib(size), fmt_mib(before), fmt_mib(after),
            fmt_mib(rec), fmt_mib(pre), stall, rf if rf is not None else "-", thru, run.errors(n)))
    tb = sum(run.sample_at(n, t0, "current") or 0 for n in names)
    ta = sum(run.sample_at(n, t1, "current") or 0 for n in names)
    print("%-9s %-8s %6s %9s %9s" % ("total", "", "", fmt_mib(tb), fmt_mib(ta)))
    print()
    print("res = memory.current of the VM's scope; reclaimed/prefaulted = BYTES_DONE of")
    print("balancerd's actions; stall = memory.pressure 'some' share of the run; thru/base")
    print("= accesses/s over the last 30 s against the 15 s before balancerd started")
    print("(web-2's working set grows from 20% to 80% halfway).")
    print()
    print("balancerd, the telling journal lines (journalctl -u balancerd):")
    for ts, msg in telling_lines(run):
        print("  %+6.1fs  %s" % (ts - t0, msg[:150]))
    plot(run, names, png)


def plot(run, names, png):
    t0 = run.t0
    wd = os.path.join(run.d, "plot")
    os.makedirs(wd, exist_ok=True)
    for i, n in enumerate(names):
        with open(os.path.join(wd, "vm%d.dat" % i), "w") as f:
            prev = None
            for s in run.samples.get(n, []):
                stall = 0.0
                if prev and s["ts"] > prev["ts"]:
                    stall = (s["psi_some_us"] - prev["psi_some_us"]) / 1e6 / (s["ts"] - prev["ts"]) * 100
                f.write("%.2f %.2f %.3f\n" % (s["ts"] - t0, mib(s["current"]), max(stall, 0)))
                prev = s
        with open(os.path.join(wd, "act%d.dat" % i), "w") as f:
            for e in run.actions(n):
                kind = 1 if e["ACTION"] == "prefault" else 0
                cur = run.sample_at(n, e["_ts"], "current") or 0
                f.write("%.2f %.2f %d %.1f\n" % (e["_ts"] - t0, mib(cur), kind,
                                                  mib(int(e.get("BYTES_DONE", 0) or 0))))
    host = run.samples.get("_host", [])
    with open(os.path.join(wd, "host.dat"), "w") as f:
        prev = None
        for s in host:
            stall = 0.0
            if prev and s["ts"] > prev["ts"]:
                stall = (s["psi_some_us"] - prev["psi_some_us"]) / 1e6 / (s["ts"] - prev["ts"]) * 100
            f.write("%.2f %.2f %.3f\n" % (s["ts"] - t0, s["mem_available_kb"] / 1024.0, max(stall, 0)))
            prev = s
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8", "#ffbb78", "#98df8a"]
    spike = None
    for x in run.vms.get("web-2", []):
        if x.get("phase", 0) >= 1:
            spike = x["ts"] - t0
            break
    g = []
    g.append('set terminal pngcairo size 1400,1000 font "DejaVu Sans,11"')
    g.append('set output "%s"' % png)
    g.append('set multiplot layout 2,1 title "balancerd demo: guest memory of each VM, memory pressure, and balancerd actions" font ",14"')
    g.append('set grid; set key outside right top; set xlabel "seconds since balancerd started"')
    g.append('set lmargin 12; set rmargin 30')
    g.append('set xrange [%.0f:%.0f]' % (min(-15, -5), run.t_end - t0 + 2))
    g.append('set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb "#444444"')
    if spike is not None:
        g.append('set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 3 lc rgb "#d62728"' % (spike, spike))
        g.append('set label "web-2 working set 20%%→80%%" at %.1f, graph 0.97 textcolor rgb "#d62728"' % (spike + 1))
    g.append('set label "balancerd starts" at 1, graph 0.03')
    g.append('set ylabel "resident (memory.current, MiB)"')
    g.append('set title "Resident memory; ▼ reclaim/pageout, ▲ prefault"')
    p = []
    for i, n in enumerate(names):
        c = colors[i % len(colors)]
        p.append('"%s/vm%d.dat" u 1:2 w l lw 2 lc rgb "%s" t "%s"' % (wd, i, c, n))
        p.append('"%s/act%d.dat" u 1:($3==0?$2:1/0) w p pt 11 ps 1.6 lc rgb "%s" notitle' % (wd, i, c))
        p.append('"%s/act%d.dat" u 1:($3==1?$2:1/0) w p pt 9 ps 2.4 lc rgb "%s" notitle' % (wd, i, c))
    g.append("plot " + ", \\\n  ".join(p))
    g.append('unset label; set label "balancerd starts" at 1, graph 0.95')
    if spike is not None:
        g.append('set label "spike" at %.1f, graph 0.9 textcolor rgb "#d62728"' % (spike + 1))
    g.append('set title "Memory pressure (PSI some, % of time stalled, per second)"')
    g.append('set ylabel "stall %"; set yrange [0:*]')
    p = []
    for i, n in enumerate(names):
        c = colors[i % len(colors)]
        p.append('"%s/vm%d.dat" u 1:3 w l lw 2 lc rgb "%s" t "%s"' % (wd, i, c, n))
    p.append('"%s/host.dat" u 1:3 w l lw 1 dt 2 lc rgb "#000000" t "host (guest kernel)"' % wd)
    g.append("plot " + ", \\\n  ".join(p))
    g.append("unset multiplot")
    gp = os.path.join(wd, "demo.gp")
    with open(gp, "w") as f:
        f.write("\n".join(g) + "\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed: %s" % r.stderr.strip()[:500], file=sys.stderr)
    else:
        print()
        print("plot: %s" % png)


def densify(d, md_path=None):
    run = Run(d)
    t_end = run.t_end
    sets = {"m": "managed (balancerd)", "u": "unmanaged twins"}
    names = {k: sorted(n for n in run.vms if n.startswith(k + "-") and run.ready_ts(n)) for k in sets}
    spike_vm = max(names["m"], key=lambda n: int(n.split("vm")[-1]), default=None)
    fig = {}
    for k in sets:
        f = {}
        res0 = res60 = resend = cold = rec60 = recend = 0
        acc = base_acc = 0
        psi_some = psi_full = rf = mf = ovc_rf = 0.0
        p99s = []
        for n in names[k]:
            r0 = run.ready_ts(n)
            size = run.size(n) or 0
            lines = [x for x in run.vms[n] if "rate" in x]
            vend = lines[-1]["ts"] - 1 if lines else t_end
            c0 = run.sample_at(n, r0 + 2, "current") or 0
            c60 = run.sample_at(n, r0 + 60, "current") or 0
            ce = run.sample_at(n, vend, "current") or 0
            res0 += c0
            res60 += c60
            resend += ce
            cold += size * (1 - 0.25)
            rec60 += max(0, c0 - c60)
            recend += max(0, c0 - ce)
            acc += sum(x["accesses"] for x in lines if x["ts"] >= r0 + 5)
            ovc_rf += sum(x.get("refaults", 0) for x in lines)
            p99s += [x["p99_us"] for x in lines if x["ts"] >= r0 + 5]
            for key, var in (("psi_some_us", "s"), ("psi_full_us", "f"),
                             ("refault_anon", "r"), ("pgmajfault", "m")):
                dv = run.delta(n, key, r0, vend) or 0
                if var == "s":
                    psi_some += dv
                elif var == "f":
                    psi_full += dv
                elif var == "r":
                    rf += dv
                else:
                    mf += dv
        p99s.sort()
        f.update(vms=len(names[k]), res0=res0, res60=res60, resend=resend, cold=cold,
                 rec60=rec60, recend=recend, acc=acc, psi_some=psi_some / 1e6,
                 psi_full=psi_full / 1e6, refault_anon=rf, pgmajfault=mf, ovc_refaults=ovc_rf,
                 p99_med=p99s[len(p99s) // 2] if p99s else 0,
                 p99_99=p99s[int(len(p99s) * 0.99)] if p99s else 0,
                 p99_max=p99s[-1] if p99s else 0)
        fig[k] = f
    spike_ts = (run.ready_ts(spike_vm) or 0) + 60 if spike_vm else None
    restore = restore_end = None
    first_action = None
    restored = 0

    def slow_seconds(n):
        # Seconds after its spike in which a VM did under half its usual
        # (median) accesses per second.
        if not n:
            return 0
        t = (run.ready_ts(n) or 0) + 60
        lines = [x for x in run.vms[n] if "rate" in x]
        if not lines:
            return 0
        typical = sorted(x["accesses"] for x in lines)[len(lines) // 2]
        return sum(1 for x in lines if x["ts"] > t and x["accesses"] < 0.5 * typical)
    slow = {k: slow_seconds(max(names[k], key=lambda n: int(n.split("vm")[-1]), default=None))
            for k in sets}
    if spike_vm:
        for e in run.actions(spike_vm, ("prefault",)):
            if e["_ts"] >= spike_ts:
                if restore is None:
                    # when it began: the entry is sent when it ends
                    began = e["_ts"] - int(e.get("DURATION_USEC", 0) or 0) / 1e6
                    restore = max(0.0, began - spike_ts)
                    restore_end = e["_ts"] - spike_ts
                if e["_ts"] < spike_ts + 30:
                    restored += int(e.get("BYTES_DONE", 0) or 0)
        acts = run.actions()
        if acts:
            first_action = acts[0]["_ts"] - min(run.ready_ts(n) for n in names["m"])
    fill_spread = (max(run.ready_ts(n) for n in names["m"] + names["u"]) -
                   min(run.ready_ts(n) for n in names["m"] + names["u"])) if names["m"] else 0
    oom = 0
    try:
        with open(os.path.join(d, "dmesg.txt"), errors="replace") as fh:
            oom = sum(1 for line in fh if "oom-kill:" in line or "Killed process" in line)
    except OSError:
        pass
    errs = sum(run.errors(n) for k in sets for n in names[k])
    wd = 0
    for e in jsonl(os.path.join(d, "journal.json")):
        if e.get("UNIT") == "balancerd.service" and "Watchdog timeout" in e.get("MESSAGE", ""):
            wd += 1
    actions = defaultdict(lambda: [0, 0])
    for e in run.actions():
        actions[e["ACTION"]][0] += 1
        actions[e["ACTION"]][1] += int(e.get("BYTES_DONE", 0) or 0)
    m, u = fig["m"], fig["u"]
    dur = max((x["t"] for n in names["m"] for x in run.vms[n] if "rate" in x), default=0)
    rows = [
        ("VMs (256 MiB, THP, hot 25%; the last doubles at 60 s)", "%d" % m["vms"], "%d" % u["vms"]),
        ("resident sum after start-up", fmt_mib(m["res0"]), fmt_mib(u["res0"])),
        ("resident sum at 60 s", fmt_mib(m["res60"]), fmt_mib(u["res60"])),
        ("resident sum at the end (%.0f s)" % dur,
         fmt_mib(m["resend"]), fmt_mib(u["resend"])),
        ("cold memory reclaimed at 60 s", "%.0f%%" % (100 * m["rec60"] / m["cold"]) if m["cold"] else "-",
         "%.0f%%" % (100 * u["rec60"] / u["cold"]) if u["cold"] else "-"),
        ("cold memory reclaimed at the end", "%.0f%%" % (100 * m["recend"] / m["cold"]) if m["cold"] else "-",
         "%.0f%%" % (100 * u["recend"] / u["cold"]) if u["cold"] else "-"),
        ("hot-set accesses (relative to unmanaged)",
         "%.1f%%" % (100.0 * m["acc"] / u["acc"]) if u["acc"] else "-", "100%"),
        ("vCPU-run p99 latency, median / 99th pct / worst of seconds (us)",
         "%.0f / %.0f / %.0f" % (m["p99_med"], m["p99_99"], m["p99_max"]),
         "%.0f / %.0f / %.0f" % (u["p99_med"], u["p99_99"], u["p99_max"])),
        ("PSI memory some, total stall (s)", "%.2f" % m["psi_some"], "%.2f" % u["psi_some"]),
        ("PSI memory full, total stall (s)", "%.2f" % m["psi_full"], "%.2f" % u["psi_full"]),
        ("workingset_refault_anon", "%d" % m["refault_anon"], "%d" % u["refault_anon"]),
        ("pgmajfault", "%d" % m["pgmajfault"], "%d" % u["pgmajfault"]),
        ("ovcmem refaults (guestsim)", "%d" % m["ovc_refaults"], "%d" % u["ovc_refaults"]),
    ]
    w = max(len(r[0]) for r in rows)
    print()
    print("Densification, scenario S1 (one boot, managed vs unmanaged twins):")
    print("  %-*s  %16s  %16s" % (w, "", "managed", "unmanaged"))
    for r in rows:
        print("  %-*s  %16s  %16s" % (w, r[0], r[1], r[2]))
    print("  %-*s  %s" % (w, "spike -> first restore (prefault) began / ended",
                          "%.1f s / %.1f s" % (restore, restore_end) if restore is not None else "none"))
    print("  %-*s  %s" % (w, "prefaulted for it in the 30 s after the spike", fmt_mib(restored)))
    print("  %-*s  %16s  %16s" % (w, "spiking VM: seconds under half its access rate",
                                  "%d" % slow["m"], "%d" % slow["u"]))
    print("  %-*s  %.0f s" % (w, "start-up spread (first to last VM filled)", fill_spread))
    print("  %-*s  %s" % (w, "first balancerd action, after the first VM was filled",
                          "%.1f s" % first_action if first_action is not None else "none"))
    zram = None
    try:
        with open(os.path.join(d, "zram-mm_stat.txt")) as fh:
            f = fh.read().split()
            if len(f) >= 2 and int(f[1]):
                zram = (int(f[0]), int(f[1]))
    except (OSError, ValueError):
        pass
    if zram:
        print("  %-*s  %s -> %s (%.1f:1)" % (w, "zram two thirds in: stored -> compressed",
                                          fmt_mib(zram[0]), fmt_mib(zram[1]), zram[0] / zram[1]))
    print("  %-*s  %d" % (w, "OOM kills (guest dmesg)", oom))
    print("  %-*s  %d" % (w, "guestsim data errors (all VMs)", errs))
    print("  %-*s  %d" % (w, "balancerd watchdog timeouts (restarts)", wd))
    print("  %-*s  %s" % (w, "balancerd actions (count, bytes done)",
                          ", ".join("%s %d/%s" % (a, c[0], fmt_mib(c[1])) for a, c in sorted(actions.items())) or "none"))
    if md_path:
        with open(md_path, "w") as fh:
            fh.write("| S1 | managed (balancerd) | unmanaged twins |\n|---|---:|---:|\n")
            for r in rows:
                fh.write("| %s | %s | %s |\n" % r)
            fh.write("| spike -> first restore action began / ended | %s | - |\n" %
                     ("%.1f s / %.1f s" % (restore, restore_end) if restore is not None else "none"))
            fh.write("| prefaulted in the 30 s after the spike | %s | - |\n" % fmt_mib(restored))
            fh.write("| spiking VM: seconds under half its access rate | %d | %d |\n" %
                     (slow["m"], slow["u"]))
            fh.write("| OOM kills (guest) | %d | |\n" % oom)
            fh.write("| guestsim data errors | %d | |\n" % errs)
            fh.write("| balancerd watchdog timeouts | %d | - |\n" % wd)
            fh.write("| balancerd actions (count/bytes) | %s | - |\n" %
                     (", ".join("%s %d/%s" % (a, c[0], fmt_mib(c[1])) for a, c in sorted(actions.items())) or "none"))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "demo":
        demo(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else os.path.join(sys.argv[2], "demo.png"))
    elif sys.argv[1] == "densify":
        densify(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
