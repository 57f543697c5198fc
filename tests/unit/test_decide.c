// SPDX-License-Identifier: GPL-2.0
/*
 * decide(), table-driven. Each case is a policy, a set of classes and a
 * sequence of ticks; each tick gives the host's and the VMs' signals and
 * the mode and exact actions expected. The expected bytes are worked out
 * by hand in the comments from docs/decide.md's formulas, not copied from
 * a run.
 *
 * The host of every case: MemTotal 16G, watermarks min 1G, low 2G, high
 * 4G, hysteresis 25% (so tight is left above 2.5G, critical above 1.25G,
 * restore below 3G), PSI full limit 10%, backoff 30s, interval 1s.
 * A class is, unless the row says otherwise: priority 0, shares 100,
 * pressure target 1%, cold age 2m, max reclaim rate 64M/s, prefault on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

#define M	 (1ULL << 20)
#define G	 (1ULL << 30)
#define SEC	 USEC_PER_SEC
#define T0	 (1000 * SEC) /* "now" of a case's first tick */
#define MAX_VMS	 4
#define MAX_ACTS 8
#define MAX_STEP 4
#define NO_CLASS -1
/* A pressure target that disables proactive steps (docs/decide.md). */
#define NO_PROACTIVE -1.0

struct cls {
	int priority;
	unsigned int shares;	 /* 0: 100 */
	uint64_t floor, ceiling; /* bytes, 0: unset */
	double floor_pct;	 /* > 0: a percent floor instead */
	double target;		 /* 0: 1% */
	uint64_t rate;		 /* 0: 64M/s */
	bool no_prefault;
	uint64_t high, low; /* memory.high / memory.low, 0: unset */
	usec_t cold_age;    /* 0: 2m */
	enum policy_merge merge;
};

struct vmr {
	int cls;	      /* index into the case's classes, NO_CLASS */
	uint64_t cur;	      /* memory.current */
	uint64_t max;	      /* memory.max, 0: "max" */
	double some;	      /* memory.pressure some avg10 */
	uint64_t refault;     /* d_refault_anon, pages */
	uint64_t ovc_refault; /* ovcmem d_refaults, pages */
	bool ovc;	      /* ovcmem present, with... */
	uint64_t cold;	      /* ...these bytes idle > cold age */
	bool gone;	      /* vanished mid-read */
	uint64_t high;	      /* memory.high, 0: "max" */
	uint64_t low;	      /* memory.low */
	uint64_t idle_30s;    /* bytes idle 31-60 ticks (histogram) */
	uint64_t ram;	      /* ovcmem guest RAM bytes, 0: not set */
	uint64_t part;	      /* ovcmem partition id, 0: 1 */
	bool ages_only;	      /* the view is the kernel's ages (MGLRU):
			       * no partition behind it */
	uint64_t ksm;	      /* KSM-merged bytes, 0: not known */
};

struct exp {
	enum action_kind kind;
	int vm;
	uint64_t lo, hi; /* bytes, inclusive; hi == 0 ends the list */
	usec_t min_idle; /* PAGEOUT: the age asked for; 0: not checked */
};

struct step {
	usec_t at; /* since T0 */
	uint64_t avail;
	double full;
	struct vmr vms[MAX_VMS];
	enum host_mode mode;
	const char *mode_has; /* substring of the mode reason */
	struct exp acts[MAX_ACTS];
	const char *reason_has; /* substring of the first action's reason */
	int done_pct;		/* decide_account with this % of each;
				 * -1: with 0 bytes done */
};

struct tcase {
	const char *name;
	struct cls classes[4];
	int n_vms;
	struct step steps[MAX_STEP];
	int n_steps;
	usec_t interval; /* the daemon's effective interval; 0: the policy's
			  * (1s) */
};

/* Exact bytes, and bounds. */
/* clang-format off */
#define A(k, v, b)        {ACTION_##k, v, b, b, 0}
#define AI(k, v, b, idle) {ACTION_##k, v, b, b, idle}
#define AB(k, v, lo, hi)  {ACTION_##k, v, lo, hi, 0}
#define CALM(k, bytes)    {.cls = k, .cur = bytes}
#define PSI(k, bytes, p)  {.cls = k, .cur = bytes, .some = p}
/* clang-format on */

static const struct tcase cases[] = {
	/* ---- proactive ------------------------------------------------ */
	{"proactive step shrinks with pressure: 64M * (1 - 0.25/1) = 48M",
	 .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, 4 * G, 0.25)},
		    .mode = MODE_PROACTIVE,
		    .mode_has = "between low 2G",
		    .acts = {A(RECLAIM, 0, 48 * M)},
		    .reason_has = "pressure 0.25% < target 1.00%: step 48M"}}},
	{"proactive at zero pressure: the full rate, 64M", .n_vms = 1,
	 .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"the effective interval, not the policy's: 250ms steps 16M",
	 .interval = SEC / 4, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 16 * M)},
		    .reason_has = "step 16M"}}},
	{"proactive: pressure at the target, nothing", .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, 4 * G, 1.0)},
		    .mode = MODE_PROACTIVE}}},
	{"proactive: target 4%, pressure 3%: 64M/4 = 16M",
	 .classes = {{.target = 4.0}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, 4 * G, 3.0)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 16 * M)}}}},
	{"proactive, ovcmem: step limited to the 20M idle, paged out",
	 .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 20 * M}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PAGEOUT, 0, 20 * M)},
		    .reason_has = "20M idle > 2m: step 20M"}}},
	{"proactive, ovcmem: nothing idle, nothing taken", .n_vms = 1,
	 .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0, .cur = 4 * G, .ovc = true}},
		    .mode = MODE_PROACTIVE}}},
	{"proactive: a step never goes below the floor (4G - 16M: 16M)",
	 .classes = {{.floor = 4 * G - 16 * M}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 16 * M)}}}},
	{"proactive: a 50% floor of memory.max 8G, at 4G + 8M: 8M",
	 .classes = {{.floor_pct = 50}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0, .cur = 4 * G + 8 * M, .max = 8 * G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 8 * M)}}}},
	{"proactive: under 1M above the floor is not worth a write",
	 .classes = {{.floor = 4 * G - 512 * 1024}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE}}},
	{"proactive: VM below its floor is left alone",
	 .classes = {{.floor = 5 * G}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE}}},

	/* ---- ceilings -----------------------------------------------------
	 */
	{"ceiling: 1G over it, pressure over target: still the 64M rate",
	 .classes = {{.ceiling = 4 * G}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, 5 * G, 5.0)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)},
		    .reason_has = "memory.current 5G > ceiling 4G"}}},
	{"ceiling 16M away, proactive step 32M is larger: 32M",
	 .classes = {{.ceiling = 4 * G}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, 4 * G + 16 * M, 0.5)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 32 * M)}}}},

	/* ---- who is left alone --------------------------------------------
	 */
	{"no class: left alone; vanished: left alone; indices kept", .n_vms = 3,
	 .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(NO_CLASS, 4 * G),
			    {.cls = 0, .cur = 4 * G, .gone = true},
			    CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 2, 64 * M)}}}},

	/* ---- tight ---------------------------------------------------------
	 */
	{"tight: 1G short (2.5G - 1.5G), lowest priority first",
	 /* vm1 (prio 0) can give 512M above its floor, vm0 (prio 10) the
	  * other 512M; the rate (2G/s) does not bind */
	 .classes = {{.priority = 10,
		      .floor = 3 * G,
		      .rate = 2 * G,
		      .target = NO_PROACTIVE},
		     {.priority = 0,
		      .floor = 3 * G + 512 * M,
		      .rate = 2 * G,
		      .target = NO_PROACTIVE}},
	 .n_vms = 2, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G), CALM(1, 4 * G)},
		    .mode = MODE_TIGHT,
		    .mode_has = "MemAvailable 1.5G < low",
		    .acts = {A(RECLAIM, 1, 512 * M), A(RECLAIM, 0, 512 * M)},
		    .reason_has = "host short 1G"}}},
	{"tight: one priority, shares 100 and 300 give 3/4 and 1/4 of 1G",
	 .classes = {{.shares = 100, .rate = 2 * G, .target = NO_PROACTIVE},
		     {.shares = 300, .rate = 2 * G, .target = NO_PROACTIVE}},
	 .n_vms = 2, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G), CALM(1, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 768 * M), A(RECLAIM, 1, 256 * M)}}}},
	{"tight: a share capped by the floor (256M) passes the rest on",
	 .classes = {{.shares = 100,
		      .rate = 2 * G,
		      .floor = 4 * G - 256 * M,
		      .target = NO_PROACTIVE},
		     {.shares = 300, .rate = 2 * G, .target = NO_PROACTIVE}},
	 .n_vms = 2, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G), CALM(1, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 256 * M), A(RECLAIM, 1, 768 * M)}}}},
	{"tight: cold first (vm0's 600M idle), then 424M split evenly",
	 .classes = {{.rate = 2 * G, .target = NO_PROACTIVE}}, .n_vms = 2,
	 .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 600 * M},
			    CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    /* vm0's 212M beyond its cold 600M go by pageout
		     * too, oldest first: ovcmem knows its pages' ages;
		     * vm1 (no ovcmem) through memory.reclaim */
		    .acts = {AI(PAGEOUT, 0, 812 * M, 1 * SEC),
			     A(RECLAIM, 1, 212 * M)},
		    .reason_has = "600M of it idle"}}},
	{"tight: nothing cold yet, an ovcmem VM still gives its oldest pages",
	 .classes = {{.rate = 2 * G, .target = NO_PROACTIVE}}, .n_vms = 2,
	 .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {{.cls = 0, .cur = 4 * G, .ovc = true, .cold = 0},
			    CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {AI(PAGEOUT, 0, 512 * M, 1 * SEC),
			     A(RECLAIM, 1, 512 * M)}}}},
	{"critical: past the cold bytes, memory.reclaim, which cannot stop "
	 "short",
	 .classes = {{.rate = 2 * G, .target = NO_PROACTIVE}}, .n_vms = 1,
	 .n_steps = 1,
	 .steps = {{.avail = 512 * M,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 600 * M}},
		    .mode = MODE_CRITICAL,
		    .acts = {A(PAGEOUT, 0, 600 * M),
			     A(RECLAIM, 0, 1448 * M)}}}},
	{"tight: rounding never hands out more than the shortfall",
	 /* need 1G + 4K over three equal shares: 341.33M each, in pages
	  * 357912576; nothing is left over for priority 10 */
	 .classes = {{.rate = 2 * G, .target = NO_PROACTIVE},
		     {.priority = 10, .rate = 2 * G, .target = NO_PROACTIVE}},
	 .n_vms = 4, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2 - 4096,
		    .vms = {CALM(0, 4 * G), CALM(0, 4 * G), CALM(0, 4 * G),
			    CALM(1, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 357912576), A(RECLAIM, 1, 357912576),
			     A(RECLAIM, 2, 357912576)}}}},
	{"tight: a VM over its pressure target is spared",
	 .classes = {{.rate = 2 * G}, {.rate = 2 * G, .target = NO_PROACTIVE}},
	 .n_vms = 2, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {PSI(0, 4 * G, 2.0), CALM(1, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 1, 1 * G)}}}},
	{"tight: a small shortfall still gets the calm VMs' proactive step",
	 /* tight by hysteresis at 2.4G: 102.4M short, 51.2M each, less
	  * than the 64M step each would get in proactive mode */
	 .n_vms = 2, .n_steps = 2,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G), CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 64 * M), A(RECLAIM, 1, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 2400 * M,
		    .vms = {CALM(0, 4 * G), CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 64 * M), A(RECLAIM, 1, 64 * M)}}}},
	{"tight: the rate limit binds (64M each)", .n_vms = 2, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G), CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 64 * M), A(RECLAIM, 1, 64 * M)}}}},

	/* ---- critical ------------------------------------------------------
	 */
	{"critical under min: max rate from every VM, pressure or not",
	 /* need 2.5G - 768M; prio 0 gives 2 x 64M, not enough: prio 5 too */
	 .classes = {{.priority = 0}, {.priority = 5}}, .n_vms = 3,
	 .n_steps = 1,
	 .steps = {{.avail = 768 * M,
		    .vms = {PSI(1, 4 * G, 0), PSI(0, 4 * G, 5.0),
			    CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .mode_has = "768M < min 1G",
		    .acts = {A(RECLAIM, 1, 64 * M), A(RECLAIM, 2, 64 * M),
			     A(RECLAIM, 0, 64 * M)},
		    .reason_has = "host critical, priority 0 first"}}},
	{"critical by PSI full 12% > 10%: only the lowest priority gives",
	 .classes = {{.priority = 0}, {.priority = 5}}, .n_vms = 2,
	 .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .full = 12.0,
		    .vms = {CALM(1, 4 * G), CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .mode_has = "PSI full avg10 12.00% > limit 10.00%",
		    .acts = {A(RECLAIM, 1, 64 * M)}}}},
	{"critical keeps floors: 8M above it, 8M",
	 .classes = {{.floor = 4 * G - 8 * M}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 512 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .acts = {A(RECLAIM, 0, 8 * M)}}}},

	/* ---- restore -------------------------------------------------------
	 */
	{"restore: a refaulting VM gets back what was taken", .n_vms = 2,
	 .n_steps = 2,
	 .steps =
		 {/* reclaim 64M from vm0 and 48M from vm1, all of
		     it done */
		  {.avail = 3 * G,
		   .vms = {CALM(0, 4 * G), PSI(0, 4 * G, 0.25)},
		   .mode = MODE_PROACTIVE,
		   .done_pct = 100,
		   .acts = {A(RECLAIM, 0, 64 * M), A(RECLAIM, 1, 48 * M)}},
		  /* 1s later, 6G free; vm0 refaults 1024 pages =
		   * 4M/s > 1M/s: prefault min(64M restorable, 64M
		   * rate, 2G headroom); vm1, calm, still gets its
		   * proactive step */
		  {.at = 1 * SEC, .avail = 6 * G, .vms = {{.cls = 0, .cur = 4 * G, .refault = 1024}, PSI(0, 4 * G, 0.25)}, .mode = MODE_RESTORE, .mode_has = "MemAvailable 6G > high", .acts = {A(PREFAULT, 0, 64 * M), A(RECLAIM, 1, 48 * M)}, .reason_has = "refaulting 4M/s: prefault 64M of 64M"}}},
	{"restore without prefault: no reclaim, no prefault",
	 .classes = {{.no_prefault = true}}, .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {PSI(0, 4 * G, 2.0)},
		    .mode = MODE_RESTORE}}},
	{"restore relaxes memory.high to max before prefaulting",
	 .classes = {{.high = 3 * G}}, .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0, .cur = 3 * G, .high = 3 * G}},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 50,
		    /* done 32M of 64M: restorable 32M */
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {{.cls = 0,
			     .cur = 3 * G,
			     .some = 3.0,
			     .high = 3 * G}},
		    .mode = MODE_RESTORE,
		    .acts = {A(SET_HIGH, 0, MEMORY_UNLIMITED),
			     A(PREFAULT, 0, 32 * M)},
		    .reason_has = "relax memory.high 3G -> max"}}},
	{"first tick in restore: no deltas, nothing to restore, calm step",
	 .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 6 * G,
		    .vms = {PSI(0, 4 * G, 0.5)},
		    .mode = MODE_RESTORE,
		    .acts = {A(RECLAIM, 0, 32 * M)}}}},

	{"restore: prefault limited by the headroom above high (16M)",
	 .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 4 * G + 16 * M,
		    .vms = {PSI(0, 4 * G, 1.5)},
		    .mode = MODE_RESTORE,
		    .acts = {A(PREFAULT, 0, 16 * M)},
		    .reason_has = "pressure 1.50% >= target 1.00%"}}},
	{"restore: prefault never goes above the ceiling (8M below it)",
	 .classes = {{.ceiling = 4 * G + 8 * M}}, .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {PSI(0, 4 * G, 1.5)},
		    .mode = MODE_RESTORE,
		    .acts = {A(PREFAULT, 0, 8 * M)}}}},
	{"restore: ovcmem refaults count too (512 pages/s = 2M/s)", .n_vms = 1,
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {{.cls = 0, .cur = 4 * G, .ovc_refault = 512}},
		    .mode = MODE_RESTORE,
		    .acts = {A(PREFAULT, 0, 64 * M)}}}},
	{"restore: 128 refaults/s (512K/s) is noise: the VM is trimmed",
	 .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {{.cls = 0, .cur = 4 * G, .refault = 128}},
		    .mode = MODE_RESTORE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"restore: a prefault that found nothing is not repeated for pressure",
	 .n_vms = 1, .n_steps = 4,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   /* stalling, no refaults: a prefault, which faults in 0 */
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {PSI(0, 4 * G, 2.0)},
		    .mode = MODE_RESTORE,
		    .done_pct = -1,
		    .acts = {A(PREFAULT, 0, 64 * M)}},
		   /* still stalling (its PSI average lags): quiet */
		   {.at = 2 * SEC,
		    .avail = 6 * G,
		    .vms = {PSI(0, 4 * G, 1.8)},
		    .mode = MODE_RESTORE},
		   /* refaults are new evidence: prefault again */
		   {.at = 3 * SEC,
		    .avail = 6 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .some = 1.5,
			     .refault = 1024}},
		    .mode = MODE_RESTORE,
		    .acts = {A(PREFAULT, 0, 64 * M)}}}},
	{"restore: scarce headroom goes to the most important VM first",
	 .classes = {{.priority = 0}, {.priority = 5}}, .n_vms = 2,
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G), CALM(1, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M), A(RECLAIM, 1, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 4 * G + 64 * M,
		    .vms = {PSI(0, 4 * G, 2.0), PSI(1, 4 * G, 2.0)},
		    .mode = MODE_RESTORE,
		    .acts = {A(PREFAULT, 1, 64 * M)}}}},

	{"proactive: refault prefault stops at low + hysteresis (16M above)",
	 .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 2560 * M + 16 * M,
		    .vms = {{.cls = 0, .cur = 4 * G, .refault = 1024}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PREFAULT, 0, 16 * M)}}}},
	{"proactive: pressure without refaults waits for restore mode",
	 .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 3 * G,
		    .vms = {PSI(0, 4 * G, 2.0)},
		    .mode = MODE_PROACTIVE}}},
	{"tight: a refaulting VM is spared, not prefaulted", .n_vms = 1,
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 3 * G / 2,
		    .vms = {{.cls = 0, .cur = 4 * G, .refault = 1024}},
		    .mode = MODE_TIGHT}}},
	{"restores come before trims, the most important VM first",
	 .classes = {{.priority = 0}, {.priority = 5}}, .n_vms = 3,
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G), CALM(1, 4 * G), CALM(1, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M), A(RECLAIM, 1, 64 * M),
			     A(RECLAIM, 2, 64 * M)}},
		   /* vm2 and vm1 (priority 5) refault, vm0 (priority 0)
		    * is calm and trimmed after them */
		   {.at = 1 * SEC,
		    .avail = 6 * G,
		    .vms = {CALM(0, 4 * G),
			    {.cls = 1, .cur = 4 * G, .refault = 1024},
			    {.cls = 1, .cur = 4 * G, .refault = 1024}},
		    .mode = MODE_RESTORE,
		    .acts = {A(PREFAULT, 2, 64 * M), A(PREFAULT, 1, 64 * M),
			     A(RECLAIM, 0, 64 * M)}}}},

	/* ---- memory.high / memory.low --------------------------------------
	 */
	{"memory.high and memory.low set once per value",
	 .classes = {{.high = 3 * G, .low = 1 * G}}, .n_vms = 1, .n_steps = 3,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 2 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(SET_LOW, 0, 1 * G), A(SET_HIGH, 0, 3 * G),
			     A(RECLAIM, 0, 64 * M)},
		    .reason_has = "memory.low 0B -> 1G"},
		   /* not written (dry run): not asked again */
		   {.at = 1 * SEC,
		    .avail = 3 * G,
		    .vms = {CALM(0, 2 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 2 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 2 * G,
			     .high = 3 * G,
			     .low = 1 * G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},

	/* ---- hysteresis ----------------------------------------------------
	 */
	{"hysteresis: tight is left only above low + 25% (2.5G)", .n_vms = 1,
	 .n_steps = 3,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 2200 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .mode_has = "low + hysteresis",
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 2 * SEC,
		    .avail = 2600 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"hysteresis: entering tight takes the plain threshold", .n_vms = 1,
	 .n_steps = 1,
	 .steps = {{.avail = 2200 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"hysteresis: restore is left only below high - 25% (3G)", .n_vms = 1,
	 .n_steps = 3,
	 .steps = {{.avail = 4608 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_RESTORE,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 3584 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_RESTORE,
		    .mode_has = "high - hysteresis",
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 2 * SEC,
		    .avail = 2900 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"hysteresis: critical is left above 1.25G, into tight", .n_vms = 1,
	 .n_steps = 3,
	 .steps = {{.avail = 900 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 1100 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .mode_has = "min + hysteresis",
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 2 * SEC,
		    .avail = 1300 * M,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},

	{"hysteresis: critical by PSI is left only under 75% of the limit",
	 .n_vms = 1, .n_steps = 3,
	 .steps = {{.avail = 3 * G,
		    .full = 12.0,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 3 * G,
		    .full = 9.0,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_CRITICAL,
		    .mode_has = "limit - hysteresis",
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 2 * SEC,
		    .avail = 3 * G,
		    .full = 7.0,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"tight: what a ceiling takes counts against the shortfall",
	 /* need 1G; vm0 is 900M over its ceiling (rate 2G: all of it),
	  * leaving 124M short, split evenly: vm0 900M + 62M, vm1 62M */
	 .classes = {{.ceiling = 3 * G + 124 * M,
		      .rate = 2 * G,
		      .target = NO_PROACTIVE},
		     {.rate = 2 * G, .target = NO_PROACTIVE}},
	 .n_vms = 2, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {CALM(0, 4 * G), CALM(1, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(RECLAIM, 0, 962 * M), A(RECLAIM, 1, 62 * M)}}}},

	/* ---- backoff and rate limits ---------------------------------------
	 */
	{"backoff: 30s without reclaim after the pressure crossed target",
	 .n_vms = 1, .n_steps = 3,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, 4 * G, 2.0)},
		    .mode = MODE_PROACTIVE},
		   {.at = 10 * SEC,
		    .avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE},
		   {.at = 31 * SEC,
		    .avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"backoff: refaulting 4M/s under target: prefaulted, no steps for 30s",
	 .n_vms = 1, .n_steps = 4,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   /* proactive, 512M above low + 25%: min(64M restorable,
		    * 64M rate, 512M) = 64M back (dry run: stays
		    * restorable) */
		   {.at = 1 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0, .cur = 4 * G, .refault = 1024}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PREFAULT, 0, 64 * M)},
		    .reason_has = "refaulting 4M/s: prefault 64M of 64M"},
		   {.at = 20 * SEC,
		    .avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE},
		   {.at = 32 * SEC,
		    .avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}}}},
	{"refault backoff: cold memory still goes, by pageout only", .n_vms = 1,
	 .n_steps = 3,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = 1 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0, .cur = 4 * G, .refault = 1024}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PREFAULT, 0, 64 * M)}},
		   /* 4s later, calm again but in the refault backoff:
		    * its 32M idle past the cold age are paged out, no
		    * memory.reclaim for the other 32M of the step */
		   {.at = 5 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 32 * M}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PAGEOUT, 0, 32 * M)}}}},
	{"refault backoff in tight mode: the cold share only",
	 .classes = {{.rate = 2 * G, .target = NO_PROACTIVE}}, .n_vms = 2,
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G), CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE},
		   /* 1G short; vm0 refaults (backoff) with 100M cold:
		    * it gives those, vm1 the other 924M */
		   {.at = 1 * SEC,
		    .avail = 3 * G / 2,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .refault = 1024,
			     .ovc = true,
			     .cold = 100 * M},
			    CALM(0, 4 * G)},
		    .mode = MODE_TIGHT,
		    .acts = {A(PAGEOUT, 0, 100 * M), A(RECLAIM, 1, 924 * M)}}}},
	{"pageouts that refault double the cold age, later halved",
	 /* cold age 10s; backoff 30s */
	 .classes = {{.cold_age = 10 * SEC}}, .n_vms = 1, .n_steps = 4,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 64 * M}},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 100,
		    .acts = {AI(PAGEOUT, 0, 64 * M, 10 * SEC)},
		    .reason_has = "64M idle > 10s"},
		   /* what we paged out comes back: cold age 20s */
		   {.at = 1 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .refault = 1024,
			     .ovc = true,
			     .cold = 64 * M}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PREFAULT, 0, 64 * M)}},
		   /* past the refault backoff: only what is idle over 20s
		    * (the 31-60 s bucket, 16M) goes, not the 64M idle over
		    * 10s */
		   {.at = 40 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 64 * M,
			     .idle_30s = 16 * M}},
		    .mode = MODE_PROACTIVE,
		    .acts = {AI(PAGEOUT, 0, 16 * M, 20 * SEC)},
		    .reason_has = "16M idle > 20s"},
		   /* four backoffs without refaults: back to 10s */
		   {.at = 161 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = 4 * G,
			     .ovc = true,
			     .cold = 64 * M,
			     .idle_30s = 16 * M}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(PAGEOUT, 0, 64 * M)},
		    .reason_has = "64M idle > 10s"}}},
	{"a 100% floor: never reclaimed, even above its size",
	 /* memory.current counts the VMM's own memory too */
	 .classes = {{.floor_pct = 100}}, .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {{.cls = 0, .cur = 4 * G + 64 * M, .max = 4 * G}},
		    .mode = MODE_TIGHT}}},
	{"token bucket: 64M, then 32M half a second later, then nothing",
	 .classes = {{.ceiling = 2 * G}}, .n_vms = 1, .n_steps = 3,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   {.at = SEC / 2,
		    .avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 32 * M)}},
		   {.at = SEC / 2,
		    .avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE}}},
	{"token bucket: what was asked but not done is refunded",
	 .classes = {{.ceiling = 2 * G}}, .n_vms = 1, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .done_pct = 25,
		    .acts = {A(RECLAIM, 0, 64 * M)}},
		   /* 16M done, 48M back in the bucket, same instant */
		   {.avail = 3 * G,
		    .vms = {CALM(0, 4 * G)},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(RECLAIM, 0, 48 * M)}}}},
	/* ---- KSM sharing (class key "merge") ----------------------------
	 * An ovcmem VM of 1G guest RAM at its pressure target (no reclaim
	 * step), so that the merge switch is the only action. */
	{"merge: on for an ovcmem VM, once per value", .n_vms = 1,
	 .classes = {{.merge = POLICY_MERGE_ON}}, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(MERGE, 0, G)},
		    .reason_has = "shares identical pages of its 1G",
		    .done_pct = 100},
		   {.at = SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE}}},
	{"merge: nothing for a VM without ovcmem (its VMM decides)", .n_vms = 1,
	 .classes = {{.merge = POLICY_MERGE_ON}}, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {PSI(0, G, 1.0)},
		    .mode = MODE_PROACTIVE}}},
	{"merge: nothing for a VM whose ages come from MGLRU (no partition "
	 "to switch)",
	 .n_vms = 1, .classes = {{.merge = POLICY_MERGE_ON}}, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ages_only = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE}}},
	{"merge: unset leaves the VMM's choice alone", .n_vms = 1, .n_steps = 1,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE}}},
	{"unmerge waits while the host is tight: private copies take memory",
	 .n_vms = 1, .classes = {{.merge = POLICY_MERGE_OFF, .floor_pct = 100}},
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G / 2,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_TIGHT},
		   {.at = SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(UNMERGE, 0, G)},
		    .reason_has = "keeps its 1G of guest RAM private"}}},
	{"unmerge waits until the private copies fit under memory.max",
	 .n_vms = 1, .classes = {{.merge = POLICY_MERGE_OFF, .floor_pct = 100}},
	 .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .max = G + 256 * M,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G,
			     .ksm = 512 * M}},
		    .mode = MODE_PROACTIVE},
		   {.at = SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .max = 2 * G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G,
			     .ksm = 512 * M}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(UNMERGE, 0, G)}}}},
	{"merge: a failed switch waits 5 minutes before it is tried again",
	 .n_vms = 1, .classes = {{.merge = POLICY_MERGE_ON}}, .n_steps = 3,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(MERGE, 0, G)},
		    .done_pct = -1},
		   {.at = 299 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE},
		   {.at = 300 * SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(MERGE, 0, G)}}}},
	{"merge: a restarted VM (a new partition) is switched again",
	 .n_vms = 1, .classes = {{.merge = POLICY_MERGE_ON}}, .n_steps = 2,
	 .steps = {{.avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(MERGE, 0, G)},
		    .done_pct = 100},
		   {.at = SEC,
		    .avail = 3 * G,
		    .vms = {{.cls = 0,
			     .cur = G,
			     .some = 1.0,
			     .ovc = true,
			     .ram = G,
			     .part = 2}},
		    .mode = MODE_PROACTIVE,
		    .acts = {A(MERGE, 0, G)}}}},
};

/* ---- the runner --------------------------------------------------------- */

static void make_policy(const struct tcase *tc, struct policy *p,
			struct policy_class *classes)
{
	memset(p, 0, sizeof(*p));
	p->host.min_watermark = (struct size_spec){.set = true, .bytes = 1 * G};
	p->host.low_watermark = (struct size_spec){.set = true, .bytes = 2 * G};
	p->host.high_watermark =
		(struct size_spec){.set = true, .bytes = 4 * G};
	p->host.psi_full_limit = 10.0;
	p->interval = 1 * SEC;
	p->backoff = 30 * SEC;
	p->hysteresis = 0.25;
	for (int i = 0; i < 4; i++) {
		const struct cls *c = &tc->classes[i];
		struct policy_class *k = &classes[i];

		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "c%d", i);
		k->priority = c->priority;
		k->shares = c->shares ? c->shares : 100;
		k->floor = (struct size_spec){.set = c->floor || c->floor_pct,
					      .is_percent = c->floor_pct > 0,
					      .bytes = c->floor,
					      .percent = c->floor_pct};
		k->ceiling = (struct size_spec){.set = c->ceiling != 0,
						.bytes = c->ceiling};
		k->pressure_target = c->target ? c->target : 1.0;
		k->cold_age = c->cold_age ? c->cold_age : 120 * SEC;
		k->max_reclaim_rate = c->rate ? c->rate : 64 * M;
		k->prefault = !c->no_prefault;
		k->memory_high = (struct size_spec){.set = c->high != 0,
						    .bytes = c->high};
		k->memory_low =
			(struct size_spec){.set = c->low != 0, .bytes = c->low};
		k->merge = c->merge;
	}
	p->classes = classes;
	p->n_classes = 4;
}

static void make_vm(const struct vmr *r, int i, struct vm_signals *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "vm%d", i);
	snprintf(v->cgroup, sizeof(v->cgroup), "machine.slice/vm%d.scope", i);
	v->pid = 100 + i;
	v->vanished = r->gone;
	v->memory_current = r->cur;
	v->memory_max = r->max ? r->max : MEMORY_UNLIMITED;
	v->memory_high = r->high ? r->high : MEMORY_UNLIMITED;
	v->memory_low = r->low;
	v->psi.some.present = v->psi.full.present = true;
	v->psi.some.avg10 = r->some;
	v->d_refault_anon = r->refault;
	v->ovcmem.present = r->ovc;
	v->ovcmem.partition_id = r->ages_only ? 0 : r->part ? r->part : 1;
	v->ovcmem.pages = r->ram / 4096;
	v->ksm_known = r->ksm != 0;
	v->ksm_merging_pages = r->ksm / 4096;
	v->ovcmem.d_refaults = r->ovc_refault;
	v->ovcmem.cold_valid = r->ovc;
	v->ovcmem.cold_pages = r->cold / 4096;
	v->ovcmem.idle_pages[3] = r->idle_30s / 4096;
	v->ovcmem.idle_pages[0] = r->ovc; /* scanned: one page in use */
}

static void dump(const char *what, const struct tick_output *out)
{
	fprintf(stderr, "%s: mode %s (%s)\n", what, host_mode_name(out->mode),
		out->mode_reason);
	for (size_t i = 0; i < out->n_actions; i++)
		fprintf(stderr, "  %s vm%zu %llu (%lluM): %s\n",
			action_kind_name(out->actions[i].kind),
			out->actions[i].vm,
			(unsigned long long)out->actions[i].bytes,
			(unsigned long long)(out->actions[i].bytes / M),
			out->actions[i].reason);
}

static void check_step(const struct tcase *tc, int si,
		       const struct tick_output *out)
{
	const struct step *st = &tc->steps[si];
	size_t n = 0;

	while (n < MAX_ACTS && st->acts[n].hi)
		n++;
	if (out->mode != st->mode || out->n_actions != n) {
		dump(tc->name, out);
		fail_msg("%s, tick %d: mode %s, %zu actions; expected %s, %zu",
			 tc->name, si, host_mode_name(out->mode),
			 out->n_actions, host_mode_name(st->mode), n);
	}
	if (st->mode_has && !strstr(out->mode_reason, st->mode_has))
		fail_msg("%s, tick %d: mode reason '%s' lacks '%s'", tc->name,
			 si, out->mode_reason, st->mode_has);
	for (size_t i = 0; i < n; i++) {
		const struct action *a = &out->actions[i];
		const struct exp *e = &st->acts[i];

		if (a->kind != e->kind || a->vm != (size_t)e->vm ||
		    a->bytes < e->lo || a->bytes > e->hi ||
		    (e->min_idle && a->min_idle != e->min_idle)) {
			dump(tc->name, out);
			fail_msg("%s, tick %d, action %zu differs", tc->name,
				 si, i);
		}
		assert_int_equal(a->mode, st->mode);
		assert_true(strlen(a->reason) > 10);
	}
	if (st->reason_has && !strstr(out->actions[0].reason, st->reason_has))
		fail_msg("%s, tick %d: reason '%s' lacks '%s'", tc->name, si,
			 out->actions[0].reason, st->reason_has);
}

static void run_case(const struct tcase *tc)
{
	struct policy_class classes[4];
	struct policy p;
	struct balancer_state state = {0};
	struct tick_output out = {0};

	make_policy(tc, &p, classes);
	for (int si = 0; si < tc->n_steps; si++) {
		const struct step *st = &tc->steps[si];
		struct vm_signals vms[MAX_VMS];
		const struct policy_class *cls[MAX_VMS];
		struct host_signals host = {
			.mem_total = 16 * G,
			.mem_available = st->avail,
			.psi = {.some = {.present = true},
				.full = {.present = true, .avg10 = st->full}},
		};
		struct tick_input in = {.now = T0 + st->at,
					.host = &host,
					.vms = vms,
					.n_vms = tc->n_vms,
					.classes = cls,
					.interval = tc->interval};

		for (int i = 0; i < tc->n_vms; i++) {
			make_vm(&st->vms[i], i, &vms[i]);
			cls[i] = st->vms[i].cls == NO_CLASS
					 ? NULL
					 : &classes[st->vms[i].cls];
		}
		tick_output_reset(&out);
		assert_int_equal(decide(&state, &p, &in, &out), 0);
		check_step(tc, si, &out);
		for (size_t i = 0; st->done_pct != 0 && i < out.n_actions;
		     i++) {
			const struct action *a = &out.actions[i];

			if (a->kind == ACTION_SET_HIGH ||
			    a->kind == ACTION_SET_LOW)
				continue;
			decide_account(
				&state, vms[a->vm].name, a->kind,
				st->done_pct < 0
					? 0
					: a->bytes * (uint64_t)st->done_pct /
						  100,
				in.now);
		}
	}
	tick_output_free(&out);
	balancer_state_free(&state);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* A VM that vanishes is kept (unseen) for a while, then forgotten. */
static void test_vanished_state(void **state)
{
	struct policy_class classes[4];
	struct policy p;
	struct tcase tc = {0};
	struct balancer_state bs = {0};
	struct tick_output out = {0};
	struct host_signals host = {.mem_total = 16 * G,
				    .mem_available = 3 * G};
	struct vm_signals v;
	const struct policy_class *cls[1];
	struct tick_input in = {.now = T0,
				.host = &host,
				.vms = &v,
				.n_vms = 1,
				.classes = cls};
	struct vmr r = CALM(0, 4 * G);

	(void)state;
	make_policy(&tc, &p, classes);
	cls[0] = &classes[0];
	make_vm(&r, 0, &v);
	assert_int_equal(decide(&bs, &p, &in, &out), 0);
	assert_non_null(balancer_state_find(&bs, "vm0"));
	assert_true(balancer_state_find(&bs, "vm0")->seen);
	assert_int_equal(balancer_state_find(&bs, "vm0")->reclaim_budget, 0);

	v.vanished = true;
	in.now = T0 + 1 * SEC;
	tick_output_reset(&out);
	assert_int_equal(decide(&bs, &p, &in, &out), 0);
	assert_int_equal(out.n_actions, 0);
	assert_false(balancer_state_find(&bs, "vm0")->seen);

	/* ten minutes later it is forgotten */
	in.n_vms = 0;
	in.now = T0 + 11 * 60 * SEC;
	tick_output_reset(&out);
	assert_int_equal(decide(&bs, &p, &in, &out), 0);
	assert_null(balancer_state_find(&bs, "vm0"));
	assert_int_equal(bs.n_vms, 0);
	tick_output_free(&out);
	balancer_state_free(&bs);
}

/* decide_account: totals, restorable and the bucket stay honest. */
static void test_account(void **state)
{
	struct policy_class classes[4];
	struct policy p;
	struct tcase tc = {0};
	struct balancer_state bs = {0};
	struct tick_output out = {0};
	struct host_signals host = {.mem_total = 16 * G,
				    .mem_available = 3 * G};
	struct vm_signals v;
	const struct policy_class *cls[1];
	struct tick_input in = {.now = T0,
				.host = &host,
				.vms = &v,
				.n_vms = 1,
				.classes = cls};
	struct vmr r = CALM(0, 4 * G);
	struct vm_state *vs;

	(void)state;
	make_policy(&tc, &p, classes);
	cls[0] = &classes[0];
	make_vm(&r, 0, &v);
	assert_int_equal(decide(&bs, &p, &in, &out), 0);
	assert_int_equal(out.n_actions, 1);
	vs = balancer_state_find(&bs, "vm0");
	assert_int_equal(vs->last_action, ACTION_RECLAIM);
	assert_true(vs->has_last_action);
	assert_int_equal(vs->last_action_at, T0);
	decide_account(&bs, "vm0", ACTION_RECLAIM, 40 * M, T0);
	assert_int_equal(vs->reclaimed_total, 40 * M);
	assert_int_equal(vs->restorable, 40 * M);
	assert_int_equal(vs->reclaim_budget, 24 * M);
	/* a second report of the same action refunds nothing more */
	decide_account(&bs, "vm0", ACTION_RECLAIM, 0, T0);
	assert_int_equal(vs->reclaim_budget, 24 * M);
	decide_account(&bs, "vm0", ACTION_PREFAULT, 50 * M, T0);
	assert_int_equal(vs->prefaulted_total, 50 * M);
	assert_int_equal(vs->restorable, 0);
	decide_account(&bs, "nobody", ACTION_RECLAIM, 1, T0); /* ignored */
	tick_output_free(&out);
	balancer_state_free(&bs);
}

/* The cold estimate from idle-age buckets: only buckets surely older. */
static void test_cold_estimate(void **state)
{
	struct policy_class c = {.cold_age = 120 * SEC};
	struct vm_signals v = {0};
	uint64_t cold = 7;

	(void)state;
	assert_false(decide_cold_bytes(&v, &c, SEC, &cold)); /* no ovcmem */
	v.ovcmem.present = true;
	assert_false(decide_cold_bytes(&v, &c, SEC, &cold)); /* no scan yet */
	/* ages: 0 | 1-10 | 11-30 | 31-60 | 61-120 | over 120 (ticks) */
	for (int b = 0; b < IDLE_BUCKETS; b++)
		v.ovcmem.idle_pages[b] = 1u << b;
	assert_true(decide_cold_bytes(&v, &c, SEC, &cold));
	assert_int_equal(cold, 32 * 4096); /* 2m: only "over 120" */
	c.cold_age = 30 * SEC;		   /* 31-60, 61-120, over 120 */
	assert_true(decide_cold_bytes(&v, &c, SEC, &cold));
	assert_int_equal(cold, (8 + 16 + 32) * 4096);
	/* at a 10s interval 30s is 3 ticks: 11-30 and older */
	assert_true(decide_cold_bytes(&v, &c, 10 * SEC, &cold));
	assert_int_equal(cold, (4 + 8 + 16 + 32) * 4096);
	/* without a class there is no cold age: unknown */
	assert_false(decide_cold_bytes(&v, NULL, SEC, &cold));
	c.cold_age = 0; /* everything is cold */
	assert_true(decide_cold_bytes(&v, &c, SEC, &cold));
	assert_int_equal(cold, 63 * 4096);
	/* an exact count wins */
	v.ovcmem.cold_valid = true;
	v.ovcmem.cold_pages = 5;
	assert_true(decide_cold_bytes(&v, &c, SEC, &cold));
	assert_int_equal(cold, 5 * 4096);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(host_mode_name(MODE_PROACTIVE), "proactive");
	assert_string_equal(host_mode_name(MODE_CRITICAL), "critical");
	assert_string_equal(host_mode_name(_MODE_MAX), "unknown");
	assert_string_equal(action_kind_name(ACTION_RECLAIM), "reclaim");
	assert_string_equal(action_kind_name(ACTION_SET_LOW), "set_low");
	assert_string_equal(action_kind_name(ACTION_MERGE), "merge");
	assert_string_equal(action_kind_name(ACTION_UNMERGE), "unmerge");
	assert_string_equal(action_kind_name(_ACTION_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_vanished_state),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_cold_estimate),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
