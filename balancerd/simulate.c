// SPDX-License-Identifier: GPL-2.0
/*
 * The guest model of simulate.h, tick by tick around decide(). Pure: no
 * I/O, no clock; randomness comes from a generator seeded by the
 * scenario. docs/simulate.md describes the model step by step, in the
 * order sim_tick() takes them.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simulate.h"

#define PAGE_BYTES 4096ULL
#define UNIT_OUT   0x1 /* in zram */
#define UNIT_EVER  0x2 /* touched once: mapped unless out */
/* The refaults after a spike are counted for this long, as the
 * benchmark's "faulted back in the 30 s after the spike". */
#define SPIKE_WINDOW (30 * USEC_PER_SEC)
/* The benchmark's cold60 and majf/min>60 figures start here. */
#define AFTER_START (60 * USEC_PER_SEC)

/* The kernel's PSI averages: avg10, avg60, avg300. */
static const double psi_window_sec[3] = {10, 60, 300};

/* The report's times, in seconds; the run's end is added. */
static const unsigned int mark_secs[] = {10,  30,  60,	 120,  180,
					 300, 600, 1800, 3600, 7200};

struct sim_vm {
	const struct sim_vm_spec *spec;
	const struct policy_class *class;
	struct sim_vm_result *res;
	uint64_t unit_pages, unit_bytes;
	size_t n_units;
	uint32_t *last; /* tick of the last touch */
	uint8_t *flags;
	size_t resident, out; /* units */
	size_t hot;	      /* units [0, hot) are the hot set now */
	uint64_t rng;
	uint64_t high, low; /* memory.high / memory.low as decide() set */
	uint64_t refaults_total, tick_refaults; /* pages */
	uint64_t reclaimed_pages;
	usec_t tick_stall, stall_total;
	double psi_avg[3];
};

struct sim {
	const struct sim_scenario *s;
	usec_t dt;
	uint64_t tick;
	usec_t now;
	struct sim_vm *vms;
	size_t n;
	struct sim_result *r;
	uint64_t act_budget; /* bytes the action at hand may still move */
};

/* splitmix64: small, and the same numbers on every machine. */
static uint64_t rng_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *x)
{
	return (double)(rng_next(x) >> 11) * 0x1.0p-53;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t resident_bytes(const struct sim_vm *vm)
{
	return vm->resident * vm->unit_bytes;
}

static uint64_t out_bytes(const struct sim_vm *vm)
{
	return vm->out * vm->unit_bytes;
}

static uint64_t compressed_bytes(const struct sim_vm *vm)
{
	return (uint64_t)((double)out_bytes(vm) / vm->spec->zram_ratio);
}

static uint64_t phase_hot_bytes(const struct sim_vm_spec *v, size_t i)
{
	return size_spec_resolve(&v->phases[i].hot, v->size, 0);
}

/* The hot set at @now, in units (before the first phase: none). */
static size_t hot_units_at(const struct sim_vm *vm, usec_t now)
{
	const struct sim_vm_spec *v = vm->spec;
	uint64_t bytes = 0, units;

	for (size_t i = 0; i < v->n_phases && v->phases[i].at <= now; i++)
		bytes = phase_hot_bytes(v, i);
	units = (bytes + vm->unit_bytes / 2) / vm->unit_bytes;
	return units > vm->n_units ? vm->n_units : (size_t)units;
}

/* ---- host ------------------------------------------------------------- */

static uint64_t host_in_use(const struct sim *sm)
{
	uint64_t used = sm->s->host_used;

	for (size_t i = 0; i < sm->n; i++)
		used += resident_bytes(&sm->vms[i]) +
			compressed_bytes(&sm->vms[i]);
	return used;
}

static uint64_t swap_used(const struct sim *sm)
{
	uint64_t used = 0;

	for (size_t i = 0; i < sm->n; i++)
		used += out_bytes(&sm->vms[i]);
	return used;
}

/* ---- moving units ----------------------------------------------------- */

struct cand {
	uint32_t last;
	uint32_t vm;
	uint32_t unit;
};

/* Oldest first; among equals the highest address first, then the VM
 * listed first: any fixed order will do, it only has to be fixed. */
static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	if (x->unit != y->unit)
		return x->unit > y->unit ? -1 : 1;
	return x->vm < y->vm ? -1 : x->vm > y->vm;
}

static void unit_out(struct sim_vm *vm, size_t u)
{
	vm->flags[u] |= UNIT_OUT;
	vm->resident--;
	vm->out++;
	vm->reclaimed_pages += vm->unit_pages;
}

/* Resident units of @vm idle at least @min_age ticks, oldest first;
 * NULL with *n 0 when there are none or no memory. */
static struct cand *candidates(const struct sim *sm, const struct sim_vm *vm,
			       uint32_t vm_index, uint64_t min_age, size_t *n)
{
	struct cand *c = malloc((vm->resident ? vm->resident : 1) * sizeof(*c));
	size_t k = 0;

	*n = 0;
	if (!c)
		return NULL;
	for (size_t u = 0; u < vm->n_units; u++) {
		if ((vm->flags[u] & (UNIT_OUT | UNIT_EVER)) != UNIT_EVER ||
		    sm->tick - vm->last[u] < min_age)
			continue;
		c[k++] = (struct cand){vm->last[u], vm_index, (uint32_t)u};
	}
	qsort(c, k, sizeof(*c), cmp_cand);
	*n = k;
	return c;
}

/*
 * Move up to @bytes of @vm's units idle at least @min_age ticks to zram,
 * oldest first, as far as zram has room (and, when @charged, as the act
 * step's budget allows: the kernel's own reclaim is not charged).
 * Returns the bytes moved, or -ENOMEM.
 */
static int64_t evict(struct sim *sm, size_t i, uint64_t bytes, uint64_t min_age,
		     bool charged)
{
	struct sim_vm *vm = &sm->vms[i];
	uint64_t room = sub_sat(sm->s->swap_total, swap_used(sm));
	uint64_t want = bytes / vm->unit_bytes, done = 0;
	struct cand *c;
	size_t n;

	if (want > room / vm->unit_bytes)
		want = room / vm->unit_bytes;
	if (charged && want > sm->act_budget / vm->unit_bytes)
		want = sm->act_budget / vm->unit_bytes;
	if (!want)
		return 0;
	c = candidates(sm, vm, (uint32_t)i, min_age, &n);
	if (!c)
		return -ENOMEM;
	for (size_t k = 0; k < n && done < want; k++, done++)
		unit_out(vm, c[k].unit);
	free(c);
	if (charged)
		sm->act_budget -= done * vm->unit_bytes;
	return (int64_t)(done * vm->unit_bytes);
}

/* Fault back up to @bytes of the hot set that is out, from its start:
 * the prefault is perfectly aimed (docs/simulate.md, limits). */
static uint64_t prefault(struct sim *sm, struct sim_vm *vm, uint64_t bytes)
{
	uint64_t want = bytes / vm->unit_bytes, done = 0;

	if (want > sm->act_budget / vm->unit_bytes)
		want = sm->act_budget / vm->unit_bytes;
	for (size_t u = 0; u < vm->hot && done < want; u++) {
		if (!(vm->flags[u] & UNIT_OUT))
			continue;
		vm->flags[u] &= (uint8_t)~UNIT_OUT;
		vm->out--;
		vm->resident++;
		/* The guest's next scan sees the mapping as fresh. */
		vm->last[u] = (uint32_t)sm->tick;
		done++;
	}
	sm->act_budget -= done * vm->unit_bytes;
	return done * vm->unit_bytes;
}

/* memory.high: the kernel reclaims a cgroup over it, oldest first. */
static int enforce_high(struct sim *sm, size_t i)
{
	struct sim_vm *vm = &sm->vms[i];
	int64_t done;

	if (vm->high == MEMORY_UNLIMITED || resident_bytes(vm) <= vm->high)
		return 0;
	done = evict(sm, i, resident_bytes(vm) - vm->high, 0, false);
	if (done < 0)
		return (int)done;
	vm->res->high_reclaimed += (uint64_t)done;
	return 0;
}

/*
 * The host's own reclaim (kswapd, direct reclaim): when the VMs, zram and
 * the rest no longer fit in MemTotal, the oldest units of all VMs go to
 * zram, sparing what memory.low protects, until they fit again. Each unit
 * moved frees its size less what zram keeps of it.
 */
static int host_reclaim(struct sim *sm)
{
	uint64_t used = host_in_use(sm), room, total = 0;
	struct cand *c;
	size_t n = 0;

	if (used <= sm->s->mem_total)
		return 0;
	for (size_t i = 0; i < sm->n; i++)
		total += sm->vms[i].resident;
	c = malloc((total ? total : 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < sm->n; i++) {
		const struct sim_vm *vm = &sm->vms[i];

		for (size_t u = 0; u < vm->n_units; u++)
			if ((vm->flags[u] & (UNIT_OUT | UNIT_EVER)) ==
			    UNIT_EVER)
				c[n++] = (struct cand){vm->last[u], (uint32_t)i,
						       (uint32_t)u};
	}
	qsort(c, n, sizeof(*c), cmp_cand);
	room = sub_sat(sm->s->swap_total, swap_used(sm));
	for (size_t k = 0; k < n && used > sm->s->mem_total; k++) {
		struct sim_vm *vm = &sm->vms[c[k].vm];
		uint64_t kept = (uint64_t)((double)vm->unit_bytes /
					   vm->spec->zram_ratio);

		if (room < vm->unit_bytes)
			break;
		if (vm->low && resident_bytes(vm) <= vm->low)
			continue;
		unit_out(vm, c[k].unit);
		vm->res->host_reclaimed += vm->unit_bytes;
		room -= vm->unit_bytes;
		used -= vm->unit_bytes - kept;
	}
	free(c);
	if (used > sm->s->mem_total)
		sm->r->oom_ticks++;
	return 0;
}

/* ---- the guest -------------------------------------------------------- */

/* Touch instants of a sweep with period @every and offset @off in
 * [0, @t]. */
static uint64_t sweep_count(usec_t t, usec_t off, usec_t every)
{
	return t < off ? 0 : (t - off) / every + 1;
}

static void touch(struct sim *sm, struct sim_vm *vm, size_t u)
{
	if (vm->flags[u] & UNIT_OUT) {
		vm->flags[u] &= (uint8_t)~UNIT_OUT;
		vm->out--;
		vm->resident++;
		vm->tick_refaults += vm->unit_pages;
	} else if (!(vm->flags[u] & UNIT_EVER)) {
		vm->resident++; /* a first touch: a minor fault */
	}
	vm->flags[u] |= UNIT_EVER;
	vm->last[u] = (uint32_t)sm->tick;
}

/* The fill's writes in (@from, now], in address order; true while it
 * lasts. */
static bool guest_fill(struct sim *sm, struct sim_vm *vm, usec_t from)
{
	usec_t fill = vm->spec->fill;
	size_t a, b;

	if (!fill || from >= fill)
		return false;
	a = (size_t)((double)vm->n_units * (double)from / (double)fill);
	b = sm->now >= fill ? vm->n_units
			    : (size_t)((double)vm->n_units * (double)sm->now /
				       (double)fill);
	for (size_t u = a; u < b; u++)
		if (!(vm->flags[u] & UNIT_EVER))
			touch(sm, vm, u);
	return sm->now < fill;
}

/* The guest's accesses in (now - dt, now]: refaults and their stall. */
static void guest_run(struct sim *sm, struct sim_vm *vm)
{
	const struct sim_vm_spec *v = vm->spec;
	double p = 0, secs = (double)sm->dt / USEC_PER_SEC;
	usec_t from = sm->now - sm->dt;
	bool filling;

	vm->hot = hot_units_at(vm, sm->now);
	vm->tick_refaults = 0;
	filling = guest_fill(sm, vm, from);
	if (v->access == SIM_ACCESS_RANDOM && vm->hot && !filling)
		p = 1.0 - exp(-v->touches_per_sec * secs / (double)vm->hot);
	for (size_t u = 0; u < vm->hot && !filling; u++) {
		bool hit;

		if (v->access == SIM_ACCESS_SWEEP) {
			usec_t off = (usec_t)((double)u * (double)v->every /
					      (double)vm->hot);

			hit = sweep_count(sm->now, off, v->every) !=
			      sweep_count(from, off, v->every);
		} else {
			hit = rng_unit(&vm->rng) < p;
		}
		if (hit)
			touch(sm, vm, u);
	}
	/* A guest waits at most the whole tick (it would touch less
	 * while it waits: not modelled, docs/simulate.md). */
	vm->tick_stall = vm->tick_refaults * v->refault_cost;
	if (vm->tick_stall > sm->dt)
		vm->tick_stall = sm->dt;
	vm->stall_total += vm->tick_stall;
	vm->refaults_total += vm->tick_refaults;
}

/* The stall as PSI: a share of the tick, averaged as the kernel does. */
static void guest_psi(struct sim *sm, struct sim_vm *vm)
{
	double secs = (double)sm->dt / USEC_PER_SEC;
	double pct = 100.0 * (double)vm->tick_stall / (double)sm->dt;

	if (pct > 100)
		pct = 100;
	for (int w = 0; w < 3; w++) {
		double decay = exp(-secs / psi_window_sec[w]);

		vm->psi_avg[w] = vm->psi_avg[w] * decay + pct * (1 - decay);
	}
}

/* ---- signals ---------------------------------------------------------- */

static unsigned int bucket_of(uint64_t age)
{
	for (unsigned int b = 0; b < IDLE_BUCKETS - 1; b++)
		if (age <= idle_bucket_ticks[b])
			return b;
	return IDLE_BUCKETS - 1;
}

static void fill_psi(struct psi *p, const struct sim_vm *vm)
{
	struct psi_line l = {
		.present = true,
		.avg10 = vm->psi_avg[0],
		.avg60 = vm->psi_avg[1],
		.avg300 = vm->psi_avg[2],
		.total_us = vm->stall_total,
	};

	/* One busy vCPU: when it waits for a page, the whole VM waits. */
	p->some = l;
	p->full = l;
}

static void fill_ovcmem(const struct sim *sm, const struct sim_vm *vm, size_t i,
			struct ovcmem_signals *o)
{
	unsigned int cold_age = 0;

	o->present = true;
	o->partition_id = i + 1;
	o->pages = vm->n_units * vm->unit_pages;
	o->pages_mapped = vm->resident * vm->unit_pages;
	o->d_refaults = vm->tick_refaults;
	if (vm->class)
		cold_age = usec_to_ticks(vm->class->cold_age, sm->dt);
	o->cold_valid = vm->class != NULL;
	for (size_t u = 0; u < vm->n_units; u++) {
		uint64_t age = sm->tick - vm->last[u];

		if ((vm->flags[u] & (UNIT_OUT | UNIT_EVER)) != UNIT_EVER)
			continue;
		o->idle_pages[bucket_of(age)] += vm->unit_pages;
		if (o->cold_valid && age >= cold_age)
			o->cold_pages += vm->unit_pages;
	}
}

static void fill_vm(const struct sim *sm, const struct sim_vm *vm, size_t i,
		    struct vm_signals *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", vm->spec->name);
	snprintf(v->cgroup, sizeof(v->cgroup), "machine.slice/%s.scope",
		 vm->spec->name);
	v->pid = (pid_t)(1000 + i);
	v->memory_current = resident_bytes(vm);
	v->memory_max = MEMORY_UNLIMITED;
	v->memory_high = vm->high;
	v->memory_low = vm->low;
	v->swap_current = out_bytes(vm);
	v->anon = v->memory_current;
	v->workingset_refault_anon = vm->refaults_total;
	v->pgmajfault = vm->refaults_total;
	v->pgscan = v->pgsteal = vm->reclaimed_pages;
	v->d_refault_anon = vm->tick_refaults;
	v->d_pgmajfault = vm->tick_refaults;
	v->d_psi_some_us = v->d_psi_full_us = vm->tick_stall;
	fill_psi(&v->psi, vm);
	if (vm->spec->ovcmem)
		fill_ovcmem(sm, vm, i, &v->ovcmem);
}

/* Host PSI: some while any VM stalls, full while all do (their most and
 * least stalled averages stand for the union and the intersection). */
static void fill_host(const struct sim *sm, struct host_signals *h)
{
	uint64_t used = host_in_use(sm);
	double some = 0, full = sm->n ? 100 : 0;

	memset(h, 0, sizeof(*h));
	h->mem_total = sm->s->mem_total;
	h->mem_available = sub_sat(sm->s->mem_total, used);
	h->swap_total = sm->s->swap_total;
	h->swap_free = sub_sat(sm->s->swap_total, swap_used(sm));
	for (size_t i = 0; i < sm->n; i++) {
		if (sm->vms[i].psi_avg[0] > some)
			some = sm->vms[i].psi_avg[0];
		if (sm->vms[i].psi_avg[0] < full)
			full = sm->vms[i].psi_avg[0];
	}
	h->psi.some = (struct psi_line){.present = true, .avg10 = some};
	h->psi.full = (struct psi_line){.present = true, .avg10 = full};
}

/* ---- acting ------------------------------------------------------------ */

static int act_one(struct sim *sm, struct balancer_state *st,
		   const struct action *a)
{
	struct sim_vm *vm = &sm->vms[a->vm];
	struct sim_vm_result *res = vm->res;
	uint64_t done = a->bytes ? a->bytes : 1;
	int64_t moved;

	sm->act_budget = sm->s->act_rate
				 ? (uint64_t)((double)sm->s->act_rate *
					      (double)sm->dt / USEC_PER_SEC)
				 : UINT64_MAX;
	switch (a->kind) {
	case ACTION_PAGEOUT:
	case ACTION_RECLAIM:
		/* memory.reclaim: the kernel's LRU, which takes pages
		 * touched a moment ago if asked for enough. */
		moved = evict(sm, a->vm, a->bytes,
			      a->kind == ACTION_PAGEOUT
				      ? usec_to_ticks(a->min_idle, sm->dt)
				      : 0,
			      true);
		if (moved < 0)
			return (int)moved;
		done = (uint64_t)moved;
		res->asked_reclaim += a->bytes;
		if (a->kind == ACTION_PAGEOUT)
			res->pageout_done += done;
		else
			res->reclaim_done += done;
		break;
	case ACTION_PREFAULT:
		done = prefault(sm, vm, a->bytes);
		res->asked_prefault += a->bytes;
		res->prefault_done += done;
		if (done) {
			res->restores++;
			if (res->spike_at && sm->now >= res->spike_at &&
			    !res->spike_restored) {
				res->spike_restored = true;
				res->spike_restore_at = sm->now;
			}
		}
		break;
	case ACTION_SET_HIGH: {
		int r;

		vm->high = a->bytes;
		r = enforce_high(sm, a->vm);
		if (r < 0)
			return r;
		break;
	}
	case ACTION_SET_LOW:
		vm->low = a->bytes;
		break;
	default: /* KSM: not modelled, taken as done */
		break;
	}
	decide_account(st, vm->spec->name, a->kind, done, sm->now);
	return 0;
}

/* ---- the report's figures --------------------------------------------- */

static void note_marks(struct sim *sm)
{
	struct sim_result *r = sm->r;

	for (size_t m = 0; m < r->n_marks; m++) {
		if (sm->now < r->marks[m] || sm->now - sm->dt >= r->marks[m])
			continue;
		for (size_t i = 0; i < sm->n; i++) {
			struct sim_vm *vm = &sm->vms[i];
			size_t cold = 0, out = 0;

			/* Memory never touched is neither resident nor cold. */
			for (size_t u = vm->hot; u < vm->n_units; u++) {
				cold += !!(vm->flags[u] & UNIT_EVER);
				out += !!(vm->flags[u] & UNIT_OUT);
			}
			vm->res->resident[m] = resident_bytes(vm);
			vm->res->cold[m] = cold * vm->unit_bytes;
			vm->res->cold_out[m] = out * vm->unit_bytes;
		}
	}
}

static void note_tick(struct sim *sm, struct balancer_state *st,
		      const usec_t *backoff_before)
{
	uint64_t zram = 0, stored = swap_used(sm);

	for (size_t i = 0; i < sm->n; i++) {
		struct sim_vm *vm = &sm->vms[i];
		struct sim_vm_result *res = vm->res;
		struct vm_state *vs = balancer_state_find(st, vm->spec->name);
		uint64_t hot_out = 0;

		zram += compressed_bytes(vm);
		for (size_t u = 0; u < vm->hot; u++)
			hot_out += !!(vm->flags[u] & UNIT_OUT);
		hot_out *= vm->unit_bytes;
		if (hot_out > res->hot_out_max)
			res->hot_out_max = hot_out;
		if (vs && vs->backoff_until > sm->now &&
		    backoff_before[i] <= sm->now)
			res->backoffs++;
		if (vs && vs->cold_scale > res->cold_scale_max)
			res->cold_scale_max = vs->cold_scale;
	}
	if (stored > sm->r->zram_stored_max)
		sm->r->zram_stored_max = stored;
	if (zram > sm->r->zram_compressed_max)
		sm->r->zram_compressed_max = zram;
	note_marks(sm);
}

static void note_guest(struct sim *sm, struct sim_vm *vm)
{
	struct sim_vm_result *res = vm->res;

	res->refaults += vm->tick_refaults;
	if (sm->now > AFTER_START)
		res->refaults_after60 += vm->tick_refaults;
	/* The touches of the tick that ends at the spike are the new hot
	 * set's already. */
	if (res->spike_at && sm->now >= res->spike_at &&
	    sm->now < res->spike_at + SPIKE_WINDOW)
		res->spike_refaults30 += vm->tick_refaults;
	res->stall_sec = (double)vm->stall_total / USEC_PER_SEC;
	if (vm->psi_avg[0] > res->psi_some_max)
		res->psi_some_max = vm->psi_avg[0];
}

/* ---- one tick, and the run -------------------------------------------- */

static int sim_tick(struct sim *sm, struct balancer_state *st,
		    const struct policy *p, struct vm_signals *sig,
		    const struct policy_class **classes, usec_t *backoff_before,
		    struct tick_output *out)
{
	struct host_signals host;
	struct tick_input in;
	int r;

	for (size_t i = 0; i < sm->n; i++) {
		guest_run(sm, &sm->vms[i]);
		guest_psi(sm, &sm->vms[i]);
		note_guest(sm, &sm->vms[i]);
		r = enforce_high(sm, i);
		if (r < 0)
			return r;
	}
	r = host_reclaim(sm);
	if (r < 0)
		return r;
	fill_host(sm, &host);
	if (host.mem_available < sm->r->mem_available_min)
		sm->r->mem_available_min = host.mem_available;
	for (size_t i = 0; i < sm->n; i++) {
		struct vm_state *vs =
			balancer_state_find(st, sm->vms[i].spec->name);

		fill_vm(sm, &sm->vms[i], i, &sig[i]);
		backoff_before[i] = vs ? vs->backoff_until : 0;
	}
	in = (struct tick_input){
		.now = sm->now,
		.host = &host,
		.vms = sig,
		.n_vms = sm->n,
		.classes = classes,
		.interval = sm->dt,
	};
	tick_output_reset(out);
	r = decide(st, p, &in, out);
	if (r < 0)
		return r;
	sm->r->mode_time[out->mode] += sm->dt;
	sm->r->decisions += out->n_actions;
	for (size_t k = 0; k < out->n_actions && r == 0; k++)
		r = act_one(sm, st, &out->actions[k]);
	if (r == 0)
		note_tick(sm, st, backoff_before);
	return r;
}

static void set_marks(struct sim_result *r)
{
	for (size_t k = 0; k < sizeof(mark_secs) / sizeof(mark_secs[0]); k++) {
		usec_t at = mark_secs[k] * USEC_PER_SEC;

		if (at < r->duration && r->n_marks < SIM_MARKS_MAX - 1)
			r->marks[r->n_marks++] = at;
	}
	r->marks[r->n_marks++] = r->duration;
}

/* The last phase after the start that grows the hot set. */
static usec_t spike_of(const struct sim_vm_spec *v)
{
	usec_t at = 0;

	for (size_t i = 1; i < v->n_phases; i++)
		if (v->phases[i].at > 0 &&
		    phase_hot_bytes(v, i) > phase_hot_bytes(v, i - 1))
			at = v->phases[i].at;
	return at;
}

static int vm_init(struct sim *sm, size_t i, const struct policy *p)
{
	const struct sim_vm_spec *v = &sm->s->vms[i];
	struct sim_vm *vm = &sm->vms[i];
	struct sim_vm_result *res = &sm->r->vms[i];
	uint64_t pages = v->size / PAGE_BYTES;

	vm->spec = v;
	vm->res = res;
	vm->class = policy_match(p, v->name, NULL, 0);
	vm->unit_pages = (pages + SIM_UNITS_MAX - 1) / SIM_UNITS_MAX;
	if (!vm->unit_pages)
		vm->unit_pages = 1;
	vm->unit_bytes = vm->unit_pages * PAGE_BYTES;
	vm->n_units = (size_t)(pages / vm->unit_pages);
	vm->last = calloc(vm->n_units ? vm->n_units : 1, sizeof(*vm->last));
	vm->flags = calloc(vm->n_units ? vm->n_units : 1, 1);
	if (!vm->last || !vm->flags)
		return -ENOMEM;
	if (v->filled && !v->fill) {
		memset(vm->flags, UNIT_EVER, vm->n_units);
		vm->resident = vm->n_units;
	}
	vm->rng = sm->s->seed ^ name_hash(v->name);
	vm->high = MEMORY_UNLIMITED;
	snprintf(res->name, sizeof(res->name), "%s", v->name);
	if (vm->class)
		snprintf(res->class_name, sizeof(res->class_name), "%s",
			 vm->class->name);
	res->size = vm->n_units * vm->unit_bytes;
	res->ovcmem = v->ovcmem;
	res->spike_at = spike_of(v);
	return 0;
}

static void sim_free(struct sim *sm)
{
	for (size_t i = 0; sm->vms && i < sm->n; i++) {
		free(sm->vms[i].last);
		free(sm->vms[i].flags);
	}
	free(sm->vms);
}

int sim_run(const struct sim_scenario *s, const struct policy *p,
	    usec_t duration, struct sim_result *ret)
{
	struct sim sm = {.s = s, .dt = s->interval, .n = s->n_vms, .r = ret};
	struct balancer_state st = {0};
	struct tick_output out = {0};
	const struct policy_class **classes;
	struct vm_signals *sig;
	usec_t *backoff_before;
	uint64_t ticks;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	ret->interval = s->interval;
	/* Whole ticks, so that the last mark is the last tick. */
	ticks = (duration ? duration : s->duration) / sm.dt;
	ret->duration = ticks * sm.dt;
	ret->mem_available_min = UINT64_MAX;
	set_marks(ret);
	ret->vms = calloc(s->n_vms ? s->n_vms : 1, sizeof(*ret->vms));
	sm.vms = calloc(s->n_vms ? s->n_vms : 1, sizeof(*sm.vms));
	sig = calloc(s->n_vms ? s->n_vms : 1, sizeof(*sig));
	classes = calloc(s->n_vms ? s->n_vms : 1, sizeof(*classes));
	backoff_before =
		calloc(s->n_vms ? s->n_vms : 1, sizeof(*backoff_before));
	if (!ret->vms || !sm.vms || !sig || !classes || !backoff_before)
		r = -ENOMEM;
	ret->n_vms = s->n_vms;
	for (size_t i = 0; r == 0 && i < s->n_vms; i++) {
		r = vm_init(&sm, i, p);
		classes[i] = sm.vms[i].class;
	}
	for (sm.tick = 1; r == 0 && sm.tick <= ticks; sm.tick++) {
		sm.now = sm.tick * sm.dt;
		r = sim_tick(&sm, &st, p, sig, classes, backoff_before, &out);
		ret->ticks++;
	}
	if (ret->mem_available_min == UINT64_MAX)
		ret->mem_available_min = 0;
	tick_output_free(&out);
	balancer_state_free(&st);
	free(sig);
	free(classes);
	free(backoff_before);
	sim_free(&sm);
	if (r < 0)
		sim_result_free(ret);
	return r;
}

void sim_result_free(struct sim_result *r)
{
	free(r->vms);
	r->vms = NULL;
	r->n_vms = 0;
}
