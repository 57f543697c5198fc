// SPDX-License-Identifier: GPL-2.0
/*
 * decide(): the balancer's judgement. Pure: no I/O, no clock, no globals.
 * The algorithm and the reasons for its constants: docs/decide.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"

/* Guest and host pages are 4 KiB; requests are rounded down to pages. */
#define PAGE_BYTES 4096ULL
/*
 * Smaller requests are not worth a write: the kernel reclaims in batches
 * of 32 pages per LRU pass anyway, and a 1 MiB step at the default 32M/s
 * rate is what 3% of a tick's budget buys.
 */
#define MIN_STEP (1ULL << 20)
/*
 * Refaults (pages brought back after reclaim) per second above which a
 * VM counts as "refaulting" and may be restored: 1 MiB/s is 256 faults
 * a second, each a zram/swap read on the vCPU's critical path.
 */
#define RESTORE_REFAULT_RATE (1ULL << 20)
/* The most a VM's cold age is stretched when its pageouts refault. */
#define COLD_SCALE_MAX 8
/* Backoffs without refaults before it is halved again. */
#define COLD_SCALE_CALM 4
/*
 * A prefault that found nothing to fault in: a VM that only stalls (no
 * refaults) is not prefaulted again for this long. Its PSI average takes
 * tens of seconds to fall back under target after the stall that caused
 * it, and asking every tick only fills the journal.
 */
#define FUTILE_PREFAULT_QUIET (30 * USEC_PER_SEC)
/* A VM unseen this long is forgotten (its budget, restorable bytes). */
#define VM_STATE_FORGET (10 * 60 * USEC_PER_SEC)
/* A KSM switch that failed is tried again after this: the cause (no KSM
 * in the kernel, a driver without the ioctl, an owner that is exiting)
 * rarely goes away sooner, and each failure is a journal warning. */
#define MERGE_RETRY (5 * 60 * USEC_PER_SEC)
/* When the policy leaves these unset (the loader normally fills them). */
#define FALLBACK_INTERVAL USEC_PER_SEC
#define FALLBACK_MIN_PCT  5.0
#define FALLBACK_LOW_PCT  15.0
#define FALLBACK_HIGH_PCT 30.0

static const char *const mode_names[_MODE_MAX] = {
	[MODE_PROACTIVE] = "proactive",
	[MODE_TIGHT] = "tight",
	[MODE_CRITICAL] = "critical",
	[MODE_RESTORE] = "restore",
};

static const char *const kind_names[_ACTION_MAX] = {
	[ACTION_RECLAIM] = "reclaim",	[ACTION_PAGEOUT] = "pageout",
	[ACTION_PREFAULT] = "prefault", [ACTION_SET_HIGH] = "set_high",
	[ACTION_SET_LOW] = "set_low",	[ACTION_MERGE] = "merge",
	[ACTION_UNMERGE] = "unmerge",
};

const char *host_mode_name(enum host_mode m)
{
	return m < _MODE_MAX ? mode_names[m] : "unknown";
}

const char *action_kind_name(enum action_kind k)
{
	return k < _ACTION_MAX ? kind_names[k] : "unknown";
}

/* ---- small helpers ---------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t pages_down(uint64_t bytes)
{
	return bytes & ~(PAGE_BYTES - 1);
}

/* bytes * f for 0 <= f, saturating. */
static uint64_t scale(uint64_t bytes, double f)
{
	double v = (double)bytes * f;

	if (v <= 0)
		return 0;
	return v >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)v;
}

static const char *sz(uint64_t bytes, char *buf)
{
	if (bytes == MEMORY_UNLIMITED)
		return strcpy(buf, "max");
	return format_size(bytes, buf, 16);
}

/* The tick's interval: the daemon's effective one (command line, then
 * balancerd.json, then the policy), else the policy's (tests). */
static usec_t tick_interval(const struct policy *p, const struct tick_input *in)
{
	if (in->interval)
		return in->interval;
	return p->interval ? p->interval : FALLBACK_INTERVAL;
}

/* ---- state ------------------------------------------------------------- */

/*
 * state->vms is kept sorted by name, so that a tick over 1000 VMs finds
 * each in log time; VMs first seen this tick are appended, then sorted in.
 */
static int cmp_state(const void *a, const void *b)
{
	const struct vm_state *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int cmp_name_state(const void *name, const void *b)
{
	const struct vm_state *y = b;

	return strcmp(name, y->name);
}

static struct vm_state *find_in(struct vm_state *vms, size_t sorted, size_t n,
				const char *name)
{
	struct vm_state *vs = NULL;

	if (sorted)
		vs = bsearch(name, vms, sorted, sizeof(*vms), cmp_name_state);
	for (size_t i = sorted; !vs && i < n; i++)
		if (!strcmp(vms[i].name, name))
			vs = &vms[i];
	return vs;
}

struct vm_state *balancer_state_find(struct balancer_state *state,
				     const char *vm_name)
{
	return find_in(state->vms, state->n_vms, state->n_vms, vm_name);
}

/* A VM's state as on the tick it is first seen. */
static void state_init(struct vm_state *vs, const struct vm_signals *v,
		       usec_t now)
{
	memset(vs, 0, sizeof(*vs));
	snprintf(vs->name, sizeof(vs->name), "%s", v->name);
	snprintf(vs->cgroup, sizeof(vs->cgroup), "%s", v->cgroup);
	vs->first_seen = now;
	vs->budget_at = now;
}

static struct vm_state *state_add(struct balancer_state *state,
				  const struct vm_signals *v, usec_t now)
{
	struct vm_state *vs;

	if (state->n_vms == state->cap_vms) {
		size_t cap = state->cap_vms ? state->cap_vms * 2 : 16;
		struct vm_state *p = realloc(state->vms, cap * sizeof(*p));

		if (!p)
			return NULL;
		state->vms = p;
		state->cap_vms = cap;
	}
	vs = &state->vms[state->n_vms++];
	state_init(vs, v, now);
	return vs;
}

/*
 * The state found by @v's name, if it is @v's cgroup's: a name on another
 * cgroup is another VM, which starts afresh (the name, hence the order,
 * unchanged). A state of unknown cgroup (a trace from before the field)
 * takes @v's, as it would have.
 */
static void state_claim(struct vm_state *vs, const struct vm_signals *v,
			usec_t now)
{
	if (!vs->cgroup[0])
		snprintf(vs->cgroup, sizeof(vs->cgroup), "%s", v->cgroup);
	else if (strcmp(vs->cgroup, v->cgroup))
		state_init(vs, v, now);
}

/* Drop the VMs unseen for VM_STATE_FORGET, keeping the order. */
static void state_forget(struct balancer_state *state, usec_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < state->n_vms; i++) {
		struct vm_state *vs = &state->vms[i];

		if (!vs->seen && now > vs->last_seen &&
		    now - vs->last_seen > VM_STATE_FORGET)
			continue;
		if (k != i)
			state->vms[k] = *vs;
		k++;
	}
	state->n_vms = k;
}

/* Add VMs first seen, mark who is here, forget the long gone. */
static int state_sync(struct balancer_state *state, const struct tick_input *in)
{
	size_t sorted = state->n_vms;

	for (size_t i = 0; i < state->n_vms; i++)
		state->vms[i].seen = false;
	for (size_t i = 0; i < in->n_vms; i++) {
		const struct vm_signals *v = &in->vms[i];
		struct vm_state *vs;

		if (v->vanished)
			continue;
		vs = find_in(state->vms, sorted, state->n_vms, v->name);
		if (vs)
			state_claim(vs, v, in->now);
		else
			vs = state_add(state, v, in->now);
		if (!vs)
			return -ENOMEM;
		vs->seen = true;
		vs->last_seen = in->now;
	}
	if (state->n_vms > sorted)
		qsort(state->vms, state->n_vms, sizeof(*state->vms), cmp_state);
	state_forget(state, in->now);
	return 0;
}

void balancer_state_free(struct balancer_state *state)
{
	free(state->vms);
	memset(state, 0, sizeof(*state));
}

/* ---- output ------------------------------------------------------------ */

void tick_output_reset(struct tick_output *out)
{
	out->n_actions = 0;
	out->mode_reason[0] = '\0';
}

void tick_output_free(struct tick_output *out)
{
	free(out->actions);
	memset(out, 0, sizeof(*out));
}

static int emit(struct tick_output *out, enum action_kind kind, size_t vm,
		uint64_t bytes, enum host_mode mode, const char *reason)
{
	struct action *a;

	if (out->n_actions == out->cap_actions) {
		size_t cap = out->cap_actions ? out->cap_actions * 2 : 16;
		struct action *p = realloc(out->actions, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		out->actions = p;
		out->cap_actions = cap;
	}
	a = &out->actions[out->n_actions++];
	a->kind = kind;
	a->vm = vm;
	a->bytes = bytes;
	a->min_idle = 0;
	a->mode = mode;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	return 0;
}

/* ---- the host's mode --------------------------------------------------- */

struct host_view {
	uint64_t avail, min, low, high;
	double full, limit; /* PSI full avg10 and its limit, percent */
	double h;	    /* hysteresis fraction */
};

static uint64_t watermark(const struct size_spec *s, uint64_t total,
			  double fallback_pct)
{
	struct size_spec d = {
		.set = true, .is_percent = true, .percent = fallback_pct};

	return size_spec_resolve(s->set ? s : &d, total, 0);
}

static void host_view_init(const struct policy *p, const struct host_signals *h,
			   struct host_view *hv)
{
	hv->avail = h->mem_available;
	hv->min = watermark(&p->host.min_watermark, h->mem_total,
			    FALLBACK_MIN_PCT);
	hv->low = watermark(&p->host.low_watermark, h->mem_total,
			    FALLBACK_LOW_PCT);
	hv->high = watermark(&p->host.high_watermark, h->mem_total,
			     FALLBACK_HIGH_PCT);
	hv->full = h->psi.full.present ? h->psi.full.avg10 : 0;
	hv->limit = p->host.psi_full_limit;
	hv->h = p->hysteresis > 0 ? p->hysteresis : 0;
}

static enum host_mode say(char *why, enum host_mode m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum host_mode say(char *why, enum host_mode m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, REASON_MAX, fmt, ap);
	va_end(ap);
	return m;
}

/*
 * Entering a mode takes the plain threshold; leaving it takes the
 * threshold moved by the hysteresis fraction, in the direction of leaving.
 */
static enum host_mode choose_mode(const struct host_view *hv,
				  enum host_mode prev, char *why)
{
	uint64_t min_out = scale(hv->min, 1 + hv->h);
	uint64_t low_out = scale(hv->low, 1 + hv->h);
	uint64_t high_out = scale(hv->high, 1 - hv->h);
	bool was_crit = prev == MODE_CRITICAL;
	char a[16], b[16], c[16];

	sz(hv->avail, a);
	if (hv->avail < hv->min)
		return say(why, MODE_CRITICAL, "MemAvailable %s < min %s", a,
			   sz(hv->min, b));
	if (hv->limit > 0 && hv->full > hv->limit)
		return say(why, MODE_CRITICAL,
			   "host PSI full avg10 %.2f%% > limit %.2f%%",
			   hv->full, hv->limit);
	if (was_crit && hv->avail < min_out)
		return say(why, MODE_CRITICAL,
			   "MemAvailable %s < %s (min + hysteresis)", a,
			   sz(min_out, b));
	if (was_crit && hv->limit > 0 && hv->full > hv->limit * (1 - hv->h))
		return say(why, MODE_CRITICAL,
			   "host PSI full avg10 %.2f%% > %.2f%% (limit - "
			   "hysteresis)",
			   hv->full, hv->limit * (1 - hv->h));
	if (hv->avail < hv->low)
		return say(why, MODE_TIGHT, "MemAvailable %s < low %s", a,
			   sz(hv->low, b));
	if ((was_crit || prev == MODE_TIGHT) && hv->avail < low_out)
		return say(why, MODE_TIGHT,
			   "MemAvailable %s < %s (low + hysteresis)", a,
			   sz(low_out, b));
	if (hv->avail > hv->high)
		return say(why, MODE_RESTORE, "MemAvailable %s > high %s", a,
			   sz(hv->high, b));
	if (prev == MODE_RESTORE && hv->avail > high_out)
		return say(why, MODE_RESTORE,
			   "MemAvailable %s > %s (high - hysteresis)", a,
			   sz(high_out, b));
	return say(why, MODE_PROACTIVE,
		   "MemAvailable %s between low %s and high %s", a,
		   sz(hv->low, b), sz(hv->high, c));
}

/* ---- one VM's view and plan -------------------------------------------- */

struct plan {
	size_t vm; /* index into the tick's vms */
	const struct vm_signals *v;
	const struct policy_class *c;
	struct vm_state *vs;
	uint64_t floor, ceiling;
	uint64_t capacity;   /* may give this tick: budget, above floor */
	bool cold_known;     /* ovcmem says how much is idle */
	usec_t cold_age;     /* the class's, times the VM's cold_scale */
	uint64_t cold;	     /* bytes idle at least cold_age */
	double pressure;     /* memory.pressure some avg10, percent */
	uint64_t refault_bs; /* refaulted bytes per second */
	bool over_target, in_backoff, restoring, refaulting;
	bool cold_only;	   /* refault backoff: verified-cold memory only */
	uint64_t reclaim;  /* bytes to take this tick, pageout + reclaim */
	uint64_t prefault; /* bytes to fault back in */
	char why[REASON_MAX];
};

/* What one tick knows that every VM's plan needs. */
struct tick_ctx {
	const struct policy *p;
	const struct tick_input *in;
	struct host_view hv;
	enum host_mode mode;
	usec_t interval, elapsed;
};

static void plan_say(struct plan *pl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void plan_say(struct plan *pl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pl->why, sizeof(pl->why), fmt, ap);
	va_end(ap);
}

/* The reference for % floors and ceilings; see struct vm_state. */
static void update_size(struct vm_state *vs, const struct vm_signals *v)
{
	if (v->ovcmem.present && v->ovcmem.pages)
		vs->size = v->ovcmem.pages * PAGE_BYTES;
	else if (v->memory_max != MEMORY_UNLIMITED)
		vs->size = v->memory_max;
	else if (v->memory_current > vs->size)
		vs->size = v->memory_current;
}

/* Refill the token bucket: max_reclaim_rate per second, one tick deep. */
static void bucket_refill(struct vm_state *vs, const struct policy_class *c,
			  const struct tick_ctx *t)
{
	usec_t depth = t->interval > USEC_PER_SEC ? t->interval : USEC_PER_SEC;
	uint64_t cap = scale(c->max_reclaim_rate,
			     (double)depth / (double)USEC_PER_SEC);
	usec_t now = t->in->now;

	if (!vs->bucket_cap && !vs->reclaim_budget) {
		vs->reclaim_budget = cap; /* first sight: a full bucket */
	} else if (now > vs->budget_at) {
		double secs = (double)(now - vs->budget_at) / USEC_PER_SEC;
		uint64_t add = scale(c->max_reclaim_rate, secs);

		vs->reclaim_budget =
			min_u64(cap, vs->reclaim_budget + min_u64(add, cap));
	}
	vs->reclaim_budget = min_u64(vs->reclaim_budget, cap);
	vs->bucket_cap = cap;
	vs->budget_at = now;
}

/*
 * Bytes idle at least @age: exact from the client when @age is the class's
 * own cold age (what it counted), else the buckets that are surely older.
 */
static bool cold_bytes_at(const struct vm_signals *v, usec_t age,
			  usec_t class_age, usec_t interval, uint64_t *ret)
{
	const struct ovcmem_signals *o = &v->ovcmem;
	uint64_t total = 0, pages = 0;
	usec_t ticks;

	ticks = usec_to_ticks(age, interval ? interval : FALLBACK_INTERVAL);
	if (!o->present)
		return false;
	if (o->cold_valid && age == class_age) {
		*ret = o->cold_pages * PAGE_BYTES;
		return true;
	}
	for (unsigned int k = 0; k < IDLE_BUCKETS; k++)
		total += o->idle_pages[k];
	if (!total)
		return false; /* not scanned yet */
	for (unsigned int k = 0; k < IDLE_BUCKETS; k++) {
		usec_t youngest = k ? idle_bucket_ticks[k - 1] + 1ULL : 0;

		if (youngest >= ticks)
			pages += o->idle_pages[k];
	}
	*ret = pages * PAGE_BYTES;
	return true;
}

bool decide_cold_bytes(const struct vm_signals *v, const struct policy_class *c,
		       usec_t interval, uint64_t *ret)
{
	if (!c)
		return false; /* no class, no cold age */
	return cold_bytes_at(v, c->cold_age, c->cold_age, interval, ret);
}

/*
 * The VM's cold age: the class's, times a scale that doubles (up to
 * COLD_SCALE_MAX) at most once per backoff while the VM refaults within a
 * backoff of our last pageout of it, and halves after COLD_SCALE_CALM
 * backoffs without refaults. A page touched every ten seconds or so is
 * part of the working set, yet idle for 20 s now and then by chance:
 * paging it out costs a refault (a 2 MiB fault, as the driver maps blocks
 * whole) and then another pageout, at the pace of the refault backoff.
 * Refaults of what we paged out say this VM's cold age is too short for
 * how it works; the slow way back keeps a VM that settled into a larger
 * working set from paying for that lesson again every few minutes.
 */
static void update_cold_scale(struct vm_state *vs, bool refaulting,
			      const struct tick_ctx *t)
{
	usec_t now = t->in->now, backoff = t->p->backoff;

	if (!vs->cold_scale)
		vs->cold_scale = 1;
	if (refaulting) {
		vs->calm_since = 0;
		if (vs->last_pageout && now - vs->last_pageout <= backoff &&
		    (!vs->scale_raised || now - vs->scale_raised >= backoff) &&
		    vs->cold_scale < COLD_SCALE_MAX) {
			vs->cold_scale *= 2;
			vs->scale_raised = now;
		}
	} else if (vs->cold_scale > 1) {
		if (!vs->calm_since)
			vs->calm_since = now;
		if (now - vs->calm_since >= COLD_SCALE_CALM * backoff) {
			vs->cold_scale /= 2;
			vs->calm_since = now;
		}
	}
}

static uint64_t refault_rate(const struct vm_signals *v, usec_t elapsed)
{
	uint64_t cg = v->d_refault_anon + v->d_refault_file;
	uint64_t pages = cg > v->ovcmem.d_refaults ? cg : v->ovcmem.d_refaults;

	return scale(pages * PAGE_BYTES, (double)USEC_PER_SEC / elapsed);
}

static void plan_init(struct plan *pl, const struct tick_ctx *t)
{
	const struct policy_class *c = pl->c;
	const struct vm_signals *v = pl->v;
	struct vm_state *vs = pl->vs;
	usec_t now = t->in->now;

	update_size(vs, v);
	pl->floor = size_spec_resolve(&c->floor, vs->size, 0);
	pl->ceiling = size_spec_resolve(&c->ceiling, vs->size, UINT64_MAX);
	pl->pressure = v->psi.some.present ? v->psi.some.avg10 : 0;
	pl->over_target =
		c->pressure_target > 0 && pl->pressure >= c->pressure_target;
	pl->refault_bs = refault_rate(v, t->elapsed);
	pl->refaulting = pl->refault_bs >= RESTORE_REFAULT_RATE;
	if (pl->over_target && vs->backoff_until < now + t->p->backoff)
		vs->backoff_until = now + t->p->backoff;
	/*
	 * A VM refaulting what we took is paying for our reclaim even when
	 * cheap refaults (zram) keep its PSI under target. For a backoff it
	 * gives only memory ovcmem saw idle for its cold age: memory.reclaim
	 * lets the kernel choose, and may take again what the VM is faulting
	 * back in, while a page idle that long is not part of what came back.
	 */
	if (pl->refaulting && vs->refault_until < now + t->p->backoff)
		vs->refault_until = now + t->p->backoff;
	vs->over_target = pl->over_target;
	pl->in_backoff = now < vs->backoff_until;
	pl->cold_only = now < vs->refault_until;
	/*
	 * Stalling alone is answered only with room to spare (restore
	 * mode). Refaulting is answered whenever the host is not short:
	 * the guest faults those pages in anyway, one stall each, and
	 * prefaulting them (only the blocks it is faulting, see the ovcmem
	 * client) spends no memory the guest would not take itself.
	 */
	pl->restoring =
		(t->mode == MODE_RESTORE && pl->over_target) ||
		((t->mode == MODE_RESTORE || t->mode == MODE_PROACTIVE) &&
		 pl->refaulting);
	bucket_refill(vs, c, t);
	pl->capacity = pages_down(min_u64(
		vs->reclaim_budget, sub_sat(v->memory_current, pl->floor)));
	/* A floor of 100% or more means "never": memory.current also counts
	 * the VMM's own memory, so it can sit above the VM's size. */
	if (c->floor.set && c->floor.is_percent && c->floor.percent >= 100)
		pl->capacity = 0;
	update_cold_scale(vs, pl->refaulting, t);
	pl->cold_age = c->cold_age * vs->cold_scale;
	pl->cold_known = cold_bytes_at(v, pl->cold_age, c->cold_age,
				       t->interval, &pl->cold);
}

/* ---- reclaim steps ------------------------------------------------------ */

/* Above its ceiling a VM gives memory back in every mode, at its rate. */
static void plan_ceiling(struct plan *pl)
{
	uint64_t cur = pl->v->memory_current, want;
	char a[16], b[16], c[16];

	if (pl->ceiling == UINT64_MAX || cur <= pl->ceiling)
		return;
	want = min_u64(cur - pl->ceiling, pl->capacity);
	if (want <= pl->reclaim)
		return;
	pl->reclaim = want;
	plan_say(pl, "memory.current %s > ceiling %s: reclaim %s", sz(cur, a),
		 sz(pl->ceiling, b), sz(want, c));
}

/*
 * Senpai's step: the class's rate for one interval, shrinking linearly to
 * nothing as pressure reaches the target; never more than is cold.
 */
static void plan_proactive(struct plan *pl, const struct tick_ctx *t)
{
	const struct policy_class *c = pl->c;
	double room, secs = (double)t->interval / USEC_PER_SEC;
	uint64_t step;
	char a[16], b[16], d[16];

	if (pl->restoring || pl->in_backoff ||
	    (pl->cold_only && !pl->cold_known) || c->pressure_target <= 0 ||
	    pl->pressure >= c->pressure_target)
		return;
	room = 1.0 - pl->pressure / c->pressure_target;
	step = scale(c->max_reclaim_rate, secs * room);
	if (pl->cold_known)
		step = min_u64(step, pl->cold);
	step = pages_down(min_u64(step, pl->capacity));
	if (step < MIN_STEP || step <= pl->reclaim)
		return;
	pl->reclaim = step;
	if (pl->cold_known)
		plan_say(pl,
			 "pressure %.2f%% < target %.2f%%, %s idle > %s: "
			 "step %s",
			 pl->pressure, c->pressure_target, sz(pl->cold, a),
			 format_duration(pl->cold_age, d, sizeof(d)),
			 sz(step, b));
	else
		plan_say(pl, "pressure %.2f%% < target %.2f%%: step %s",
			 pl->pressure, c->pressure_target, sz(step, b));
}

/* Priority ascending, then the order the VMs came in. */
static int cmp_plan(const void *a, const void *b)
{
	const struct plan *x = a, *y = b;

	if (x->c->priority != y->c->priority)
		return x->c->priority < y->c->priority ? -1 : 1;
	return x->vm < y->vm ? -1 : x->vm > y->vm;
}

static double inv_shares(const struct plan *pl)
{
	return 1.0 / (pl->c->shares ? pl->c->shares : 1);
}

/* @need * @wi / @w, rounded to the nearest byte, at most @need. */
static uint64_t share_of(uint64_t need, double wi, double w)
{
	double v = (double)need * wi / w + 0.5;

	return v >= (double)need ? need : (uint64_t)v;
}

/*
 * Water-fill @need over @pls[0..n) in proportion to 1/shares, each up to
 * its cap(pl) (what it can still give); a VM that hits its cap passes the
 * rest of its portion to the others. Returns what was handed out.
 */
static uint64_t water_fill(struct plan *pls, size_t n, uint64_t need,
			   uint64_t (*cap)(const struct plan *),
			   uint64_t *given)
{
	uint64_t total = 0, left;
	bool full[n ? n : 1];

	for (size_t i = 0; i < n; i++) {
		full[i] = cap(&pls[i]) == 0;
		given[i] = 0;
	}
	for (;;) {
		double w = 0;
		bool capped = false;

		for (size_t i = 0; i < n; i++)
			w += full[i] ? 0 : inv_shares(&pls[i]);
		if (w == 0 || need == 0)
			return total;
		for (size_t i = 0; i < n; i++) {
			uint64_t portion, room;

			if (full[i])
				continue;
			portion = share_of(need, inv_shares(&pls[i]), w);
			room = cap(&pls[i]);
			if (portion >= room) {
				full[i] = capped = true;
				pls[i].reclaim += room;
				given[i] += room;
				need -= room;
				total += room;
			}
		}
		if (capped)
			continue;
		left = need;
		for (size_t i = 0; i < n; i++) {
			uint64_t portion;

			if (full[i])
				continue;
			/* rounding must not hand out more than @need */
			portion = min_u64(
				share_of(need, inv_shares(&pls[i]), w), left);
			left -= portion;
			pls[i].reclaim += portion;
			given[i] += portion;
			total += portion;
		}
		return total;
	}
}

/* Tight mode gives cold memory first, and spares VMs in backoff. */
static bool tight_eligible(const struct plan *pl)
{
	return !pl->in_backoff && !pl->over_target;
}

static uint64_t cap_cold(const struct plan *pl)
{
	if (!tight_eligible(pl) || !pl->cold_known)
		return 0;
	return sub_sat(min_u64(pl->cold, pl->capacity), pl->reclaim);
}

static uint64_t cap_any(const struct plan *pl)
{
	if (!tight_eligible(pl) || pl->cold_only)
		return 0;
	return sub_sat(pl->capacity, pl->reclaim);
}

/* Note a VM's part of a shortfall in its reason. */
static void say_share(struct plan *pl, const char *head, uint64_t given,
		      uint64_t cold_given)
{
	char a[16], b[16], d[16];

	if (cold_given)
		plan_say(pl,
			 "%s: priority %d, shares %u: %s, %s of it idle > %s",
			 head, pl->c->priority, pl->c->shares, sz(given, a),
			 sz(cold_given, b),
			 format_duration(pl->cold_age, d, sizeof(d)));
	else
		plan_say(pl, "%s: priority %d, shares %u: %s", head,
			 pl->c->priority, pl->c->shares, sz(given, a));
}

/*
 * Tight: the shortfall to leave the mode, from the lowest priority up;
 * inside a priority, cold memory first, split in inverse proportion to
 * shares; VMs over their pressure target or in backoff are spared.
 */
static int plan_tight(struct plan *pls, size_t n, uint64_t need)
{
	uint64_t *cold_g = calloc(n ? n : 1, sizeof(*cold_g));
	uint64_t *any_g = calloc(n ? n : 1, sizeof(*any_g));
	char head[64], a[16];

	if (!cold_g || !any_g) {
		free(cold_g);
		free(any_g);
		return -ENOMEM;
	}
	snprintf(head, sizeof(head), "host short %s", sz(need, a));
	for (size_t i = 0, j; i < n && need; i = j) {
		for (j = i; j < n && pls[j].c->priority == pls[i].c->priority;)
			j++;
		need -= water_fill(pls + i, j - i, need, cap_cold, cold_g + i);
		need -= water_fill(pls + i, j - i, need, cap_any, any_g + i);
	}
	for (size_t i = 0; i < n; i++)
		if (cold_g[i] + any_g[i])
			say_share(&pls[i], head, pls[i].reclaim, cold_g[i]);
	free(cold_g);
	free(any_g);
	return 0;
}

/*
 * Critical: every VM of the lowest priority gives all its rate allows
 * above its floor, pressure or not; the next priority only if that does
 * not cover the shortfall.
 */
static void plan_critical(struct plan *pls, size_t n, uint64_t need)
{
	char a[16], b[16];

	for (size_t i = 0, j; i < n && need; i = j) {
		for (j = i; j < n && pls[j].c->priority == pls[i].c->priority;)
			j++;
		for (size_t k = i; k < j; k++) {
			struct plan *pl = &pls[k];
			uint64_t give = sub_sat(pl->capacity, pl->reclaim);

			if (!give)
				continue;
			pl->reclaim += give;
			need = sub_sat(need, give);
			plan_say(pl,
				 "host critical, priority %d first: %s at "
				 "the max rate, floor %s",
				 pl->c->priority, sz(pl->reclaim, a),
				 sz(pl->floor, b));
		}
	}
}

/*
 * Restore: a refaulting VM gets back what we took, at its rate, while the
 * host stays above low + hysteresis (where it would turn tight again);
 * a VM over its pressure target without refaults only in restore mode,
 * above the high watermark. The most important VMs first.
 */
static void plan_restore(struct plan *pls, size_t n, const struct tick_ctx *t)
{
	uint64_t above_low =
		sub_sat(t->hv.avail, scale(t->hv.low, 1 + t->hv.h));
	uint64_t above_high = sub_sat(t->hv.avail, t->hv.high);
	double secs = (double)t->interval / USEC_PER_SEC;
	char a[16], b[16], c[16];

	for (size_t i = n; i-- > 0;) {
		struct plan *pl = &pls[i];
		uint64_t want;

		if (!pl->restoring || !pl->c->prefault)
			continue;
		if (!pl->refaulting &&
		    t->in->now < pl->vs->prefault_quiet_until)
			continue;
		want = min_u64(pl->vs->restorable,
			       scale(pl->c->max_reclaim_rate, secs));
		want = min_u64(want,
			       sub_sat(pl->ceiling, pl->v->memory_current));
		want = pages_down(
			min_u64(want, pl->refaulting ? above_low : above_high));
		if (!want)
			continue;
		pl->prefault = want;
		above_low = sub_sat(above_low, want);
		above_high = sub_sat(above_high, want);
		if (!pl->refaulting)
			plan_say(pl,
				 "pressure %.2f%% >= target %.2f%%: "
				 "prefault %s of %s reclaimed",
				 pl->pressure, pl->c->pressure_target,
				 sz(want, a), sz(pl->vs->restorable, b));
		else
			plan_say(pl,
				 "refaulting %s/s: prefault %s of %s "
				 "reclaimed",
				 sz(pl->refault_bs, a), sz(want, b),
				 sz(pl->vs->restorable, c));
	}
}

/* ---- actions ----------------------------------------------------------- */

struct emitter {
	struct tick_output *out;
	usec_t now, interval;
};

static int emit_for(struct emitter *e, struct plan *pl, enum action_kind k,
		    uint64_t bytes, const char *reason)
{
	struct vm_state *vs = pl->vs;

	vs->last_action = k;
	vs->has_last_action = true;
	vs->last_action_at = e->now;
	snprintf(vs->last_reason, sizeof(vs->last_reason), "%s", reason);
	return emit(e->out, k, pl->vm, bytes, e->out->mode, reason);
}

/* memory.low as the class asks, once per value. */
static int emit_low(struct emitter *e, struct plan *pl)
{
	uint64_t want = size_spec_resolve(&pl->c->memory_low, pl->vs->size, 0);
	char why[REASON_MAX], a[16], b[16];

	if (!pl->c->memory_low.set || pl->v->memory_low == want ||
	    (pl->vs->low_requested && pl->vs->low_value == want))
		return 0;
	pl->vs->low_requested = true;
	pl->vs->low_value = want;
	snprintf(why, sizeof(why),
		 "class '%s' protects %s: memory.low %s -> %s", pl->c->name,
		 sz(want, a), sz(pl->v->memory_low, b), a);
	return emit_for(e, pl, ACTION_SET_LOW, want, why);
}

/* memory.high: the class's value, or "max" while the VM is restored. */
static int emit_high(struct emitter *e, struct plan *pl)
{
	uint64_t want;
	char why[REASON_MAX], a[16], b[16];

	if (!pl->c->memory_high.set || (pl->in_backoff && !pl->restoring))
		return 0;
	want = pl->restoring
		       ? MEMORY_UNLIMITED
		       : size_spec_resolve(&pl->c->memory_high, pl->vs->size,
					   MEMORY_UNLIMITED);
	if (pl->v->memory_high == want ||
	    (pl->vs->high_requested && pl->vs->high_value == want))
		return 0;
	pl->vs->high_requested = true;
	pl->vs->high_value = want;
	if (pl->restoring)
		snprintf(why, sizeof(why),
			 "restoring: relax memory.high %s -> max",
			 sz(pl->v->memory_high, a));
	else
		snprintf(why, sizeof(why),
			 "class '%s' caps memory.high: %s -> %s", pl->c->name,
			 sz(pl->v->memory_high, a), sz(want, b));
	return emit_for(e, pl, ACTION_SET_HIGH, want, why);
}

/*
 * KSM sharing as the class asks, once per value and partition. Only an
 * ovcmem VM can be switched (the driver does it in the VMM's stead); for
 * others the VMM's own madvise decides. Unmerging gives every shared
 * page a private copy again, so it waits while the host is short of
 * memory: it would take memory exactly when there is none.
 */
static int emit_merge(struct emitter *e, struct plan *pl)
{
	struct vm_state *vs = pl->vs;
	bool want = pl->c->merge == POLICY_MERGE_ON;
	uint64_t bytes = pl->v->ovcmem.pages * PAGE_BYTES;
	char why[REASON_MAX], a[16];

	/* Only a partition can be switched: the MGLRU source fills the same
	 * view (present) without one (partition_id 0). */
	if (pl->c->merge == POLICY_MERGE_UNSET || !pl->v->ovcmem.present ||
	    !pl->v->ovcmem.partition_id || e->now < vs->merge_retry_at)
		return 0;
	if (vs->merge_requested && vs->merge_value == want &&
	    vs->merge_partition == pl->v->ovcmem.partition_id)
		return 0;
	if (!want &&
	    (e->out->mode == MODE_TIGHT || e->out->mode == MODE_CRITICAL))
		return 0;
	/* The private copies are charged to the VM: where they would not
	 * fit under its memory.max, its own OOM killer would take the VM
	 * (the driver holds the VMM's mmap_lock meanwhile, so not even the
	 * reaper could help). Wait until they fit. */
	if (!want && pl->v->ksm_known &&
	    pl->v->memory_max != MEMORY_UNLIMITED &&
	    pl->v->memory_current + pl->v->ksm_merging_pages * PAGE_BYTES >
		    pl->v->memory_max)
		return 0;
	vs->merge_requested = true;
	vs->merge_value = want;
	vs->merge_partition = pl->v->ovcmem.partition_id;
	snprintf(why, sizeof(why),
		 want ? "class '%s' shares identical pages of its %s of "
			"guest RAM (KSM)"
		      : "class '%s' keeps its %s of guest RAM private "
			"(no KSM)",
		 pl->c->name, sz(bytes, a));
	return emit_for(e, pl, want ? ACTION_MERGE : ACTION_UNMERGE, bytes,
			why);
}

/*
 * The reclaim of a plan: cold bytes by PAGEOUT when ovcmem names them and
 * the VM has a process to advise, the rest through memory.reclaim.
 */
static int emit_reclaim(struct emitter *e, struct plan *pl)
{
	struct vm_state *vs = pl->vs;
	uint64_t total = pages_down(min_u64(pl->reclaim, pl->capacity));
	uint64_t pageout = 0;
	usec_t min_idle = pl->cold_age;
	int r = 0;

	vs->pending_reclaim = vs->pending_pageout = 0;
	if (total < MIN_STEP)
		return 0;
	if (pl->cold_known && pl->v->pid > 0) {
		pageout = pages_down(min_u64(total, pl->cold));
		/*
		 * Past what is cold (tight mode, a ceiling): ovcmem knows
		 * every page's idle age, so the rest goes by pageout too,
		 * the least recently used first, rather than by the
		 * kernel's guess through memory.reclaim, which in S1 took
		 * pages the guest was using and made it stall. Not in
		 * critical mode, where freeing memory matters more than
		 * which, and memory.reclaim cannot come back short.
		 */
		if (total > pageout && e->out->mode != MODE_CRITICAL) {
			pageout = total;
			min_idle = e->interval;
		}
	}
	vs->reclaim_budget -= total;
	vs->last_reclaim = e->now;
	vs->pending_pageout = pageout;
	vs->pending_reclaim = total - pageout;
	if (pageout) {
		r = emit_for(e, pl, ACTION_PAGEOUT, pageout, pl->why);
		if (r == 0)
			e->out->actions[e->out->n_actions - 1].min_idle =
				min_idle;
	}
	if (r == 0 && total > pageout)
		r = emit_for(e, pl, ACTION_RECLAIM, total - pageout, pl->why);
	return r;
}

static int emit_plan(struct emitter *e, struct plan *pl)
{
	int r;

	r = emit_merge(e, pl);
	if (r == 0)
		r = emit_low(e, pl);
	if (r == 0)
		r = emit_high(e, pl);
	if (r == 0 && pl->prefault)
		r = emit_for(e, pl, ACTION_PREFAULT, pl->prefault, pl->why);
	if (r == 0)
		r = emit_reclaim(e, pl);
	return r;
}

/* ---- the tick ----------------------------------------------------------- */

/* Plans for the VMs that have a class and are still here, by priority. */
static size_t build_plans(struct balancer_state *state,
			  const struct tick_ctx *t, struct plan *pls)
{
	const struct tick_input *in = t->in;
	size_t n = 0;

	for (size_t i = 0; i < in->n_vms; i++) {
		const struct policy_class *c =
			in->classes ? in->classes[i] : NULL;
		struct plan *pl = &pls[n];

		if (in->vms[i].vanished || !c)
			continue; /* gone, or left alone by policy */
		memset(pl, 0, sizeof(*pl));
		pl->vm = i;
		pl->v = &in->vms[i];
		pl->c = c;
		pl->vs = balancer_state_find(state, pl->v->name);
		if (!pl->vs)
			continue;
		plan_init(pl, t);
		n++;
	}
	qsort(pls, n, sizeof(*pls), cmp_plan);
	return n;
}

static int plan_all(struct plan *pls, size_t n, const struct tick_ctx *t)
{
	uint64_t need = sub_sat(scale(t->hv.low, 1 + t->hv.h), t->hv.avail);

	for (size_t i = 0; i < n; i++) {
		plan_ceiling(&pls[i]);
		need = sub_sat(need, pls[i].reclaim);
	}
	switch (t->mode) {
	case MODE_TIGHT:
		/* The shortfall, and never less than the calm VMs' proactive
		 * step: a host running short must not trim cold memory more
		 * slowly than a comfortable one. */
		if (need && plan_tight(pls, n, need) < 0)
			return -ENOMEM;
		break;
	case MODE_CRITICAL:
		/* PSI alone: the lowest priority gives one round anyway. */
		plan_critical(pls, n, need ? need : 1);
		return 0;
	case MODE_RESTORE:
	case MODE_PROACTIVE:
		/* The restored VMs first; the calm ones are still trimmed. */
		plan_restore(pls, n, t);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < n; i++)
		plan_proactive(&pls[i], t);
	return 0;
}

static void tick_ctx_init(struct tick_ctx *t, struct balancer_state *state,
			  const struct policy *p, const struct tick_input *in,
			  struct tick_output *out)
{
	t->p = p;
	t->in = in;
	t->interval = tick_interval(p, in);
	t->elapsed = state->last_tick && in->now > state->last_tick
			     ? in->now - state->last_tick
			     : t->interval;
	host_view_init(p, in->host, &t->hv);
	t->mode = choose_mode(&t->hv, state->mode, out->mode_reason);
	if (t->mode != state->mode || !state->last_tick)
		state->mode_since = in->now;
	state->mode = t->mode;
	state->last_tick = in->now;
	out->mode = t->mode;
}

int decide(struct balancer_state *state, const struct policy *policy,
	   const struct tick_input *in, struct tick_output *out)
{
	struct emitter e = {.out = out,
			    .now = in->now,
			    .interval = tick_interval(policy, in)};
	struct tick_ctx t;
	struct plan *pls;
	size_t n;
	int r;

	r = state_sync(state, in);
	if (r < 0)
		return r;
	tick_ctx_init(&t, state, policy, in, out);
	pls = calloc(in->n_vms ? in->n_vms : 1, sizeof(*pls));
	if (!pls)
		return -ENOMEM;
	n = build_plans(state, &t, pls);
	r = plan_all(pls, n, &t);
	/* Restores first, the most important VM first: a guest stalls on
	 * them, and one pageout can take seconds. Then the trims, the least
	 * important VM first. */
	for (size_t i = n; r == 0 && i-- > 0;)
		if (pls[i].prefault)
			r = emit_plan(&e, &pls[i]);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!pls[i].prefault)
			r = emit_plan(&e, &pls[i]);
	free(pls);
	return r;
}

void decide_account(struct balancer_state *state, const char *vm_name,
		    enum action_kind kind, uint64_t bytes_done, usec_t now)
{
	struct vm_state *vs = balancer_state_find(state, vm_name);
	uint64_t *pending;

	if (!vs)
		return;
	if (kind == ACTION_MERGE || kind == ACTION_UNMERGE) {
		if (!bytes_done) {
			vs->merge_requested = false;
			vs->merge_retry_at = now + MERGE_RETRY;
		}
		return;
	}
	if (kind == ACTION_PREFAULT) {
		vs->prefault_quiet_until =
			bytes_done ? 0 : now + FUTILE_PREFAULT_QUIET;
		vs->prefaulted_total += bytes_done;
		vs->restorable = sub_sat(vs->restorable, bytes_done);
		return;
	}
	if (kind != ACTION_RECLAIM && kind != ACTION_PAGEOUT)
		return;
	pending = kind == ACTION_RECLAIM ? &vs->pending_reclaim
					 : &vs->pending_pageout;
	/* What was asked but not done goes back into the bucket. */
	vs->reclaim_budget =
		min_u64(vs->bucket_cap,
			vs->reclaim_budget + sub_sat(*pending, bytes_done));
	*pending = 0;
	vs->reclaimed_total += bytes_done;
	if (kind == ACTION_PAGEOUT && bytes_done)
		vs->last_pageout = now;
	vs->restorable = min_u64(vs->restorable + bytes_done,
				 vs->size ? vs->size : UINT64_MAX);
	vs->last_reclaim = now;
}
