#!/usr/bin/env python3
"""Issue 16's goal figures from bench/densify.sh runs (any mode).

    bench/densify-figures.py OUTDIR...        one line per run, then the
                                             spread (min-max) of each figure

OUTDIR is a run's data directory (build/bench/densify-*/out). Per run:

  cold60   cold memory reclaimed 60 s after each managed VM was ready:
           (its twin's memory.current - its own) / its cold 75%, over the
           five steady VMs (the twin is the same VM, never reclaimed)
  majf/min major faults (pgmajfault) per steady managed VM per minute,
           from ready to the end; majf/min>60 the same from 60 s on
  hot      hot-set accesses of the steady managed VMs / their twins
  spike30  accesses of the VM whose working set doubles, in the 30 s after
           its phase change, / its twin's over its own 30 s
  prefault bytes prefaulted (all managed VMs, journal BYTES_DONE)
  against  prefaulted pages never used or reclaimed again, % of the
           prefaulted pages judged (journal PREFAULT_*_PAGES_TOTAL of the
           restore entries; see balancerd/refault_map.h)
  cpu      balancerd CPU seconds per minute of the run (CPUUsageNSec)
  wd       balancerd watchdog restarts
"""
import json
import os
import sys


def jsonl(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def at(samples, ts, key):
    """The last sample at or before ts (else the first)."""
    best = None
    for s in samples:
        if s["ts"] <= ts:
            best = s
    if best is None and samples:
        best = samples[0]
    return best.get(key, 0) if best else 0


def run_figures(d):
    vms = {}
    for fn in os.listdir(d):
        if fn.startswith("vm-") and fn.endswith(".jsonl"):
            vms[fn[3:-6]] = jsonl(os.path.join(d, fn))
    samples = {}
    for s in jsonl(os.path.join(d, "samples.jsonl")):
        samples.setdefault(s.get("vm"), []).append(s)
    ready = {n: next((x for x in v if x.get("event") == "ready"), None) for n, v in vms.items()}
    n_vms = max((int(n.split("vm")[-1]) for n in vms), default=0)
    steady = ["vm%d" % i for i in range(1, n_vms)]
    spike = "vm%d" % n_vms
    f = {}
    cold = rec = 0.0
    majf = minutes = majf60 = minutes60 = 0.0
    acc = {"m": 0, "u": 0}
    for v in steady:
        m, u = "m-" + v, "u-" + v
        if not ready.get(m) or not ready.get(u):
            continue
        rm, ru = ready[m]["ts"], ready[u]["ts"]
        size = ready[m]["size"]
        cm = at(samples.get(m, []), rm + 60, "current")
        cu = at(samples.get(u, []), ru + 60, "current")
        cold += 0.75 * size
        rec += max(0, cu - cm)
        lines = [x for x in vms[m] if "rate" in x]
        end = lines[-1]["ts"] if lines else rm
        d_all = at(samples.get(m, []), end, "pgmajfault") - at(samples.get(m, []), rm, "pgmajfault")
        d_60 = at(samples.get(m, []), end, "pgmajfault") - at(samples.get(m, []), rm + 60, "pgmajfault")
        majf += d_all
        minutes += (end - rm) / 60
        majf60 += d_60
        minutes60 += max(0, end - rm - 60) / 60
        for k, n in (("m", m), ("u", u)):
            r0 = ready[n]["ts"]
            acc[k] += sum(x["accesses"] for x in vms[n] if "rate" in x and x["ts"] >= r0 + 5)
    f["cold60"] = 100 * rec / cold if cold else None
    f["majf/min"] = majf / minutes if minutes else None
    f["majf/min>60"] = majf60 / minutes60 if minutes60 else None
    f["hot"] = acc["m"] / acc["u"] if acc["u"] else None

    def after_spike(n):
        lines = [x for x in vms.get(n, []) if "rate" in x]
        t = next((x["t"] for x in lines if x.get("phase", 0) >= 1), None)
        if t is None:
            return None
        return sum(x["accesses"] for x in lines if t <= x["t"] < t + 30)
    sm, su = after_spike("m-" + spike), after_spike("u-" + spike)
    f["spike30"] = sm / su if sm is not None and su else None
    journal = [e for e in jsonl(os.path.join(d, "journal-balancerd.json"))
               if e.get("SYSLOG_IDENTIFIER") == "balancerd" or e.get("_COMM") == "balancerd"]
    f["prefault"] = sum(int(e.get("BYTES_DONE", 0) or 0) for e in journal
                        if e.get("ACTION") == "prefault") / 1048576.0
    last = {}
    for e in journal:
        if "PREFAULTED_PAGES_TOTAL" in e:
            last[e.get("VM")] = e
    tot = {k: sum(int(e.get(k, 0) or 0) for e in last.values())
           for k in ("PREFAULTED_PAGES_TOTAL", "PREFAULT_USED_PAGES_TOTAL",
                     "PREFAULT_WASTED_PAGES_TOTAL", "PREFAULT_RECLAIMED_AGAIN_PAGES_TOTAL")}
    judged = tot["PREFAULT_USED_PAGES_TOTAL"] + tot["PREFAULT_WASTED_PAGES_TOTAL"]
    f["against"] = (100.0 * (tot["PREFAULT_WASTED_PAGES_TOTAL"] +
                             tot["PREFAULT_RECLAIMED_AGAIN_PAGES_TOTAL"]) / judged) if judged else None
    f["judged"] = judged
    cpu = read(os.path.join(d, "balancerd-cpu-ns.txt"))
    t0 = read(os.path.join(d, "balancerd-start.ts"))
    t1 = read(os.path.join(d, "end.ts"))
    try:
        f["cpu"] = int(cpu) / 1e9 / ((float(t1) - float(t0)) / 60)
    except (TypeError, ValueError, ZeroDivisionError):
        f["cpu"] = None
    wd = 0
    for e in jsonl(os.path.join(d, "journal.json")):
        if e.get("UNIT") == "balancerd.service" and "Watchdog timeout" in e.get("MESSAGE", ""):
            wd += 1
    f["wd"] = wd
    f["kernel"] = read(os.path.join(d, "kernel.txt"), "?")
    return f


KEYS = [("cold60", "%.0f%%"), ("majf/min", "%.0f"), ("majf/min>60", "%.0f"),
        ("hot", "%.3f"), ("spike30", "%.2f"), ("prefault", "%.0fM"),
        ("against", "%.1f%%"), ("judged", "%d"), ("cpu", "%.1fs"), ("wd", "%d")]


def fmt(v, f):
    return "-" if v is None else f % v


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    runs = [(d, run_figures(d)) for d in sys.argv[1:]]
    print("| run | kernel | " + " | ".join(k for k, _ in KEYS) + " |")
    print("|---|---|" + "---:|" * len(KEYS))
    for d, f in runs:
        name = os.path.basename(os.path.dirname(os.path.abspath(d)))
        print("| %s | %s | " % (name, f["kernel"]) +
              " | ".join(fmt(f[k], x) for k, x in KEYS) + " |")
    if len(runs) > 1:
        cells = []
        for k, x in KEYS:
            vals = [f[k] for _, f in runs if f[k] is not None]
            cells.append("%s - %s" % (x % min(vals), x % max(vals)) if vals else "-")
        print("| spread (min - max) | | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
