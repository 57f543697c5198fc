// SPDX-License-Identifier: GPL-2.0
/*
 * Replay engine: trace ticks through decide(), under the recorded policy
 * (checked exactly against the trace) and, when given, another one.
 * docs/replay.md says what the figures mean and what open-loop implies.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "replay.h"
#include "trace.h"

enum { REC = 0, ALT = 1 };

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void replay_init(struct replay *rp, const struct replay_options *opt)
{
	memset(rp, 0, sizeof(*rp));
	if (opt)
		rp->opt = *opt;
}

void replay_free(struct replay *rp)
{
	balancer_state_free(&rp->rec_state);
	balancer_state_free(&rp->alt_state);
	policy_free(&rp->rec_policy);
	tick_output_free(&rp->out[REC]);
	tick_output_free(&rp->out[ALT]);
	free(rp->vms);
	memset(rp, 0, sizeof(*rp));
}

static int state_copy(struct balancer_state *dst,
		      const struct balancer_state *src)
{
	*dst = *src;
	dst->vms = malloc((src->n_vms ? src->n_vms : 1) * sizeof(*dst->vms));
	if (!dst->vms) {
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	if (src->n_vms)
		memcpy(dst->vms, src->vms, src->n_vms * sizeof(*dst->vms));
	dst->cap_vms = src->n_vms ? src->n_vms : 1;
	return 0;
}

static void keep(struct replay *rp, usec_t at, const char *vm,
		 const char *recorded, const char *replayed);
static bool counts(const struct replay *rp, const char *vm, usec_t at);

/*
 * A reload or rotation header holds the daemon's state after the tick
 * before: the replay's must be the same (a start follows a restart, a
 * gap dropped ticks: those are taken as they are).
 */
static void check_state(struct replay *rp, const struct trace_header *h)
{
	usec_t at =
		rp->last_now > rp->first_now ? rp->last_now - rp->first_now : 0;
	char what[REASON_MAX], head[64];

	if (!rp->have_header || !rp->ticks_seen ||
	    (strcmp(h->why, "reload") && strcmp(h->why, "rotate")) ||
	    !counts(rp, NULL, at) ||
	    trace_state_equal(&h->state, &rp->rec_state, what, sizeof(what)))
		return;
	rp->differences++;
	snprintf(head, sizeof(head), "decide()'s state at the %s header",
		 h->why);
	keep(rp, at, NULL, head, what);
}

int replay_header(struct replay *rp, struct trace_header *h)
{
	check_state(rp, h);
	/* The replayed policy starts where the recorded one stood; after
	 * that it keeps its own state, gaps and reloads included. */
	if (!rp->have_header && rp->opt.policy &&
	    state_copy(&rp->alt_state, &h->state) < 0)
		return -ENOMEM;
	balancer_state_free(&rp->rec_state);
	rp->rec_state = h->state;
	policy_free(&rp->rec_policy);
	rp->rec_policy = h->policy;
	memset(&h->state, 0, sizeof(h->state));
	memset(&h->policy, 0, sizeof(h->policy));
	rp->interval = h->interval;
	rp->dry_run = h->dry_run;
	rp->have_header = true;
	rp->headers++;
	if (!strcmp(h->why, "gap"))
		rp->gaps++;
	return 0;
}

/* ---- describing decisions --------------------------------------------- */

/* Exact bytes: a difference may be a page. */
static void describe_action(const struct action *a, char *buf, size_t len)
{
	char sz[16];

	if (a->bytes == MEMORY_UNLIMITED)
		snprintf(buf, len, "%s max: %s", action_kind_name(a->kind),
			 a->reason);
	else
		snprintf(buf, len, "%s %s (%" PRIu64 " bytes): %s",
			 action_kind_name(a->kind),
			 format_size(a->bytes, sz, sizeof(sz)), a->bytes,
			 a->reason);
}

/* The actions of VM @vm in @acts, as "pageout 32M, reclaim 8M: reason". */
static void describe_vm(const struct action *acts, size_t n, size_t vm,
			char *buf, size_t len)
{
	const char *reason = NULL;
	size_t used = 0;
	char sz[16];

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		if (acts[i].vm != vm)
			continue;
		if (acts[i].bytes == MEMORY_UNLIMITED)
			snprintf(sz, sizeof(sz), "max");
		else
			format_size(acts[i].bytes, sz, sizeof(sz));
		used += (size_t)snprintf(buf + used, len - used, "%s%s %s",
					 used ? ", " : "",
					 action_kind_name(acts[i].kind), sz);
		reason = acts[i].reason;
	}
	if (!reason)
		snprintf(buf, len, "nothing");
	else if (used < len)
		snprintf(buf + used, len - used, ": %s", reason);
}

/* Same kinds and sizes, in the same order, for VM @vm. */
static bool same_for_vm(const struct action *a, size_t na,
			const struct action *b, size_t nb, size_t vm)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < na && a[i].vm != vm)
			i++;
		while (j < nb && b[j].vm != vm)
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i].kind != b[j].kind || a[i].bytes != b[j].bytes)
			return false;
		i++;
		j++;
	}
}

static bool counts(const struct replay *rp, const char *vm, usec_t at)
{
	if (at < rp->opt.from || (rp->opt.to && at >= rp->opt.to))
		return false;
	return !vm || !rp->opt.vm_glob || fnmatch(rp->opt.vm_glob, vm, 0) == 0;
}

static void keep(struct replay *rp, usec_t at, const char *vm,
		 const char *recorded, const char *replayed)
{
	struct replay_departure *d;
	size_t same = 0;

	/* A few per VM, so that one VM's run of them hides no other. */
	for (size_t i = 0; i < rp->n_kept; i++)
		same += !strcmp(rp->kept[i].vm, vm ? vm : "");
	if (rp->n_kept == REPLAY_KEEP || same == REPLAY_KEEP_PER_VM)
		return;
	d = &rp->kept[rp->n_kept++];
	d->tick = rp->ticks + 1; /* tally() counts this tick after */
	d->at = at;
	snprintf(d->vm, sizeof(d->vm), "%s", vm ? vm : "");
	snprintf(d->recorded, sizeof(d->recorded), "%s", recorded);
	snprintf(d->replayed, sizeof(d->replayed), "%s", replayed);
}

/* ---- exactness -------------------------------------------------------- */

/* The host's mode and reason, recorded beside replayed; counted in @n. */
static void keep_mode(struct replay *rp, usec_t at, const struct trace_tick *t,
		      const struct tick_output *o, uint64_t *n)
{
	char a[REASON_MAX + 64], b[REASON_MAX + 64];

	(*n)++;
	snprintf(a, sizeof(a), "mode %s: %s", host_mode_name(t->mode),
		 t->mode_reason);
	snprintf(b, sizeof(b), "mode %s: %s", host_mode_name(o->mode),
		 o->mode_reason);
	keep(rp, at, NULL, a, b);
}

static bool action_equal(const struct action *a, const struct action *b)
{
	return a->kind == b->kind && a->vm == b->vm && a->bytes == b->bytes &&
	       a->mode == b->mode && a->min_idle == b->min_idle &&
	       !strcmp(a->reason, b->reason);
}

/* Each way the recorded policy's replay differs from the trace. */
static void check_exact(struct replay *rp, const struct trace_tick *t,
			usec_t at)
{
	const struct tick_output *o = &rp->out[REC];
	size_t n = o->n_actions > t->n_actions ? o->n_actions : t->n_actions;
	char a[REASON_MAX + 64], b[REASON_MAX + 64];

	if (!counts(rp, NULL, at))
		return;
	if (o->mode != t->mode || strcmp(o->mode_reason, t->mode_reason))
		keep_mode(rp, at, t, o, &rp->differences);
	for (size_t i = 0; i < n; i++) {
		const struct action *x =
			i < t->n_actions ? &t->actions[i] : NULL;
		const struct action *y =
			i < o->n_actions ? &o->actions[i] : NULL;
		const struct action *any = x ? x : y;

		if (x && y && action_equal(x, y))
			continue;
		if (!counts(rp, t->vms[any->vm].name, at))
			continue;
		rp->differences++;
		if (x)
			describe_action(x, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "no action #%zu", i + 1);
		if (y)
			describe_action(y, b, sizeof(b));
		else
			snprintf(b, sizeof(b), "no action #%zu", i + 1);
		keep(rp, at, t->vms[any->vm].name, a, b);
	}
}

/* ---- figures ---------------------------------------------------------- */

static struct replay_vm *figures_of(struct replay *rp, const char *name)
{
	struct replay_vm *p;

	for (size_t i = 0; i < rp->n_vms; i++)
		if (!strcmp(rp->vms[i].name, name))
			return &rp->vms[i];
	p = realloc(rp->vms, (rp->n_vms + 1) * sizeof(*p));
	if (!p)
		return NULL;
	rp->vms = p;
	p = &rp->vms[rp->n_vms++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

struct side {
	struct balancer_state *state;
	const struct policy_class *const *classes;
	const struct action *acts;
	size_t n_acts;
	const usec_t *backoff_before; /* per VM, before decide() */
};

static void count_side(struct replay_vm *f, int k, const struct side *s,
		       const struct vm_signals *v, size_t i, usec_t now)
{
	const struct policy_class *c = s->classes[i];
	struct vm_state *vs = balancer_state_find(s->state, v->name);

	for (size_t j = 0; j < s->n_acts; j++) {
		const struct action *a = &s->acts[j];

		if (a->vm != i)
			continue;
		f->actions[k]++;
		if (a->kind == ACTION_RECLAIM || a->kind == ACTION_PAGEOUT)
			f->reclaim[k] += a->bytes;
		else if (a->kind == ACTION_PREFAULT)
			f->prefault[k] += a->bytes;
	}
	if (!c || !vs)
		return;
	if (vs->backoff_until > now && s->backoff_before[i] <= now)
		f->backoffs[k]++;
	if (c->floor.set) {
		uint64_t floor = size_spec_resolve(&c->floor, vs->size, 0);
		uint64_t above = v->memory_current > floor
					 ? v->memory_current - floor
					 : 0;

		if (above < vs->bucket_cap)
			f->floor_ticks[k]++;
	}
	if (c->ceiling.set &&
	    v->memory_current >
		    size_spec_resolve(&c->ceiling, vs->size, UINT64_MAX))
		f->ceiling_ticks[k]++;
}

static void departures(struct replay *rp, const struct trace_tick *t, usec_t at)
{
	const struct tick_output *o = &rp->out[ALT];
	char a[REASON_MAX + 64], b[REASON_MAX + 64];

	if (!counts(rp, NULL, at))
		return;
	if (o->mode != t->mode)
		keep_mode(rp, at, t, o, &rp->departures);
	for (size_t i = 0; i < t->n_vms; i++) {
		if (!counts(rp, t->vms[i].name, at) ||
		    same_for_vm(t->actions, t->n_actions, o->actions,
				o->n_actions, i))
			continue;
		rp->departures++;
		describe_vm(t->actions, t->n_actions, i, a, sizeof(a));
		describe_vm(o->actions, o->n_actions, i, b, sizeof(b));
		keep(rp, at, t->vms[i].name, a, b);
	}
}

/* ---- the tick ----------------------------------------------------------- */

static unsigned int cold_ticks(const struct policy_class *c, usec_t interval)
{
	/* As the manager asks the ovcmem client to count (loop.c). */
	return c ? usec_to_ticks(c->cold_age, interval) : UINT_MAX;
}

/*
 * What acting achieved, for the replayed policy: what it asks, except
 * that it gets no more than the recorded run got when that asked the
 * same of the same VM this tick and came back short.
 */
static uint64_t assumed_done(const struct trace_tick *t, const struct action *a)
{
	for (size_t j = 0; j < t->n_actions; j++) {
		const struct action *x = &t->actions[j];

		if (x->vm == a->vm && x->kind == a->kind &&
		    t->results[j].bytes_done < x->bytes)
			return min_u64(a->bytes, t->results[j].bytes_done);
	}
	return a->bytes;
}

struct tick_bufs {
	const struct policy_class **rec_cls, **alt_cls;
	struct vm_signals *alt_vms;
	usec_t *rec_before, *alt_before;
};

static void bufs_free(struct tick_bufs *b)
{
	free(b->rec_cls);
	free(b->alt_cls);
	free(b->alt_vms);
	free(b->rec_before);
	free(b->alt_before);
}

static int bufs_alloc(struct tick_bufs *b, size_t n)
{
	n = n ? n : 1;
	b->rec_cls = calloc(n, sizeof(*b->rec_cls));
	b->alt_cls = calloc(n, sizeof(*b->alt_cls));
	b->alt_vms = calloc(n, sizeof(*b->alt_vms));
	b->rec_before = calloc(n, sizeof(*b->rec_before));
	b->alt_before = calloc(n, sizeof(*b->alt_before));
	return b->rec_cls && b->alt_cls && b->alt_vms && b->rec_before &&
			       b->alt_before
		       ? 0
		       : -ENOMEM;
}

static int match_recorded(struct replay *rp, const struct trace_tick *t,
			  struct tick_bufs *b, char *err, size_t err_len)
{
	for (size_t i = 0; i < t->n_vms; i++) {
		if (!t->classes[i][0])
			continue;
		for (size_t c = 0; c < rp->rec_policy.n_classes; c++)
			if (!strcmp(rp->rec_policy.classes[c].name,
				    t->classes[i]))
				b->rec_cls[i] = &rp->rec_policy.classes[c];
		if (!b->rec_cls[i]) {
			snprintf(err, err_len,
				 "%s matched class '%s', which the header's "
				 "policy does not have",
				 t->vms[i].name, t->classes[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The replayed policy's view: its own classes; an exact cold count only
 * where it asks for the cold age the recorded one counted at, else
 * decide() estimates it from the idle-age buckets.
 */
static void match_alt(struct replay *rp, const struct trace_tick *t,
		      struct tick_bufs *b)
{
	usec_t iv = t->interval ? t->interval : rp->interval;

	for (size_t i = 0; i < t->n_vms; i++) {
		b->alt_vms[i] = t->vms[i];
		b->alt_cls[i] =
			policy_match(rp->opt.policy, t->vms[i].name, NULL, 0);
		if (cold_ticks(b->alt_cls[i], iv) !=
		    cold_ticks(b->rec_cls[i], iv))
			b->alt_vms[i].ovcmem.cold_valid = false;
	}
}

static void backoffs_before(struct balancer_state *s,
			    const struct trace_tick *t, usec_t *ret)
{
	for (size_t i = 0; i < t->n_vms; i++) {
		struct vm_state *vs = balancer_state_find(s, t->vms[i].name);

		ret[i] = vs ? vs->backoff_until : 0;
	}
}

static void tally(struct replay *rp, const struct trace_tick *t,
		  const struct tick_bufs *b, usec_t at, usec_t dt)
{
	bool alt = rp->opt.policy != NULL;
	struct side rec = {&rp->rec_state, b->rec_cls, t->actions, t->n_actions,
			   b->rec_before};
	struct side rep =
		alt ? (struct side){&rp->alt_state, b->alt_cls,
				    rp->out[ALT].actions,
				    rp->out[ALT].n_actions, b->alt_before}
		    : (struct side){&rp->rec_state, b->rec_cls,
				    rp->out[REC].actions,
				    rp->out[REC].n_actions, b->rec_before};

	if (!counts(rp, NULL, at))
		return;
	rp->ticks++;
	rp->mode_time[REC][t->mode] += dt;
	rp->mode_time[ALT][alt ? rp->out[ALT].mode : rp->out[REC].mode] += dt;
	for (size_t i = 0; i < t->n_vms; i++) {
		struct replay_vm *f;

		if (!counts(rp, t->vms[i].name, at))
			continue;
		f = figures_of(rp, t->vms[i].name);
		if (!f)
			continue; /* -ENOMEM: the figures lose a VM */
		count_side(f, REC, &rec, &t->vms[i], i, t->now);
		count_side(f, ALT, &rep, &t->vms[i], i, t->now);
	}
	for (size_t j = 0; j < rep.n_acts; j++)
		if (counts(rp, t->vms[rep.acts[j].vm].name, at))
			rp->decisions++;
}

int replay_tick(struct replay *rp, const struct trace_tick *t, char *err,
		size_t err_len)
{
	struct tick_input in = {.now = t->now,
				.host = &t->host,
				.vms = t->vms,
				.n_vms = t->n_vms,
				.interval = t->interval};
	struct tick_bufs b = {0};
	usec_t at, dt;
	int r;

	if (!rp->have_header) {
		snprintf(err, err_len, "a tick before any header");
		return -EINVAL;
	}
	if (!rp->ticks_seen++)
		rp->first_now = t->now;
	at = t->now > rp->first_now ? t->now - rp->first_now : 0;
	dt = rp->last_now && t->now > rp->last_now ? t->now - rp->last_now
						   : rp->interval;
	rp->last_now = t->now;
	r = bufs_alloc(&b, t->n_vms);
	if (r == 0)
		r = match_recorded(rp, t, &b, err, err_len);
	if (r < 0)
		goto out;
	backoffs_before(&rp->rec_state, t, b.rec_before);
	in.classes = b.rec_cls;
	tick_output_reset(&rp->out[REC]);
	r = decide(&rp->rec_state, &rp->rec_policy, &in, &rp->out[REC]);
	if (r < 0)
		goto out;
	check_exact(rp, t, at);
	/* What the daemon fed back: the recorded results, in list order. */
	for (size_t j = 0; j < t->n_actions; j++)
		if (!t->results[j].dry_run)
			decide_account(&rp->rec_state,
				       t->vms[t->actions[j].vm].name,
				       t->actions[j].kind,
				       t->results[j].bytes_done, t->now);
	if (rp->opt.policy) {
		const struct tick_output *o = &rp->out[ALT];

		match_alt(rp, t, &b);
		backoffs_before(&rp->alt_state, t, b.alt_before);
		in.vms = b.alt_vms;
		in.classes = b.alt_cls;
		tick_output_reset(&rp->out[ALT]);
		r = decide(&rp->alt_state, rp->opt.policy, &in, &rp->out[ALT]);
		if (r < 0)
			goto out;
		departures(rp, t, at);
		for (size_t j = 0; !rp->dry_run && j < o->n_actions; j++)
			decide_account(&rp->alt_state,
				       t->vms[o->actions[j].vm].name,
				       o->actions[j].kind,
				       assumed_done(t, &o->actions[j]), t->now);
	}
	tally(rp, t, &b, at, dt);
out:
	if (r == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	bufs_free(&b);
	return r;
}

/* ---- files -------------------------------------------------------------- */

int replay_files(struct replay *rp, char *const *paths, size_t n, char *err,
		 size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		struct trace_reader rd;
		int r = trace_reader_open(&rd, paths[i], err, err_len);

		while (r >= 0) {
			struct trace_header h;
			struct trace_tick t;
			char msg[256];

			r = trace_reader_next(&rd, &h, &t, err, err_len);
			if (r <= 0)
				break;
			if (r == TRACE_LINE_HEADER) {
				r = replay_header(rp, &h);
				trace_header_free(&h);
				if (r < 0)
					snprintf(err, err_len, "out of memory");
				continue;
			}
			r = replay_tick(rp, &t, msg, sizeof(msg));
			trace_tick_free(&t);
			if (r < 0)
				snprintf(err, err_len, "%s:%lu: %s", rd.path,
					 rd.line, msg);
		}
		trace_reader_close(&rd);
		if (r < 0)
			return r;
	}
	if (!rp->have_header) {
		snprintf(err, err_len, "%s: no header: not a trace",
			 n ? paths[n - 1] : "(no file)");
		return -EINVAL;
	}
	return 0;
}
