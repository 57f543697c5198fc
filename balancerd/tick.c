// SPDX-License-Identifier: GPL-2.0
/*
 * One tick, as its steps in order:
 *
 *     match -> acquire -> decide -> act -> settle -> publish
 *
 * match.c, acquire.c, decide.c (pure), act.c/act_pool.c, settle.c and
 * publish.c each hold one; this file runs them and says when a tick
 * failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acquire.h"
#include "act_pool.h"
#include "host_path.h"
#include "log.h"
#include "manager.h"
#include "match.h"
#include "metrics.h"
#include "publish.h"
#include "tick.h"
#include "trace_record.h"
#include "vm_table.h"

static void log_mode(struct balancer *b, const struct tick_output *out)
{
	struct log_field f[4];
	int prio;

	if (b->mode_known && out->mode == b->mode)
		return;
	prio = out->mode == MODE_CRITICAL ? LOG_WARNING : LOG_NOTICE;
	log_field_str(&f[0], "MODE", host_mode_name(out->mode));
	log_field_str(&f[1], "PREVIOUS_MODE",
		      b->mode_known ? host_mode_name(b->mode) : "none");
	log_field_str(&f[2], "REASON", out->mode_reason);
	log_field_u64(&f[3], "MEM_AVAILABLE", b->host.mem_available);
	log_send(prio, MSGID_MODE_CHANGE, f, 4, "mode %s: %s",
		 host_mode_name(out->mode), out->mode_reason);
	b->mode = out->mode;
	b->mode_known = true;
}

static struct act_context act_context_of(struct balancer *b)
{
	return (struct act_context){
		.root = b->root,
		.cgroup_root = b->cfg.cgroup_root,
		.dry_run = b->dry_run,
		.write = b->write,
		.write_userdata = b->write_userdata,
		.progress = ping_watchdog,
		.progress_userdata = b,
	};
}

/* Action @i, in a worker thread: only that VM's state is touched. */
static void act_one(size_t i, struct act_result *res, void *userdata)
{
	struct balancer *b = userdata;
	const struct action *a = &b->out.actions[i];
	struct act_context ctx = act_context_of(b);

	if (a->vm >= b->n_vms) {
		res->error = -EINVAL; /* logged when settled */
		return;
	}
	if (b->entry_of[a->vm]->keeps_files)
		ctx.reclaim = &b->entry_of[a->vm]->reclaim;
	ctx.cold = b->entry_of[a->vm]->cold.ops;
	ctx.cold_state = b->entry_of[a->vm]->cold.state;
	ctx.cold_ticks = cold_ticks(b, b->classes[a->vm]);
	if (a->min_idle)
		ctx.cold_ticks = usec_to_ticks(a->min_idle, b->interval);
	(void)act_execute(&ctx, a, &b->vms[a->vm], res); /* res says it */
}

/*
 * Several VMs' actions at once (act_pool.h), one thread per CPU up to
 * the pool's limit, when at least two VMs have CPU-heavy actions
 * (PAGEOUT, PREFAULT: a file write to memory.reclaim or memory.high
 * costs less than handing it to a thread). One by one when a test hook
 * writes the cgroup files (it is not thread-safe) or when the vm_of
 * array cannot be allocated.
 */
static void act_all(struct balancer *b)
{
	size_t n = b->out.n_actions, heavy = 0, last_heavy = SIZE_MAX;
	size_t *vm_of = calloc(n ? n : 1, sizeof(*vm_of));
	unsigned int workers = b->write ? 1 : b->act_workers;

	for (size_t i = 0; i < n; i++) {
		const struct action *a = &b->out.actions[i];

		if ((a->kind == ACTION_PAGEOUT || a->kind == ACTION_PREFAULT) &&
		    a->vm != last_heavy) {
			heavy++;
			last_heavy = a->vm;
		}
	}
	if (!vm_of || heavy < 2)
		workers = 1;
	for (size_t i = 0; vm_of && i < n; i++)
		vm_of[i] = b->out.actions[i].vm;
	act_pool_run(n, vm_of, workers, act_one, settle_done, ping_watchdog, b);
	free(vm_of);
}

/* Why this tick decides nothing: logged once per cause, published
 * every tick until it is gone. */
static int tick_failed(struct balancer *b, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int tick_failed(struct balancer *b, int r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(b->last_error, sizeof(b->last_error), fmt, ap);
	va_end(ap);
	n = strlen(b->last_error);
	snprintf(b->last_error + n, sizeof(b->last_error) - n, ": %s",
		 strerror(-r));
	if (r != b->host_err)
		log_error("%s: no decisions until this is fixed, retried "
			  "every tick",
			  b->last_error);
	b->host_err = r;
	return r;
}

/* One tick's work; a negative errno when nothing could be decided. */
static int tick_run(struct balancer *b, usec_t now)
{
	struct tick_input in = {0};
	int r;

	r = acquire_host(b);
	if (r < 0) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_HOST);
		return tick_failed(b, r, "cannot read host signals below %s",
				   b->root);
	}
	b->tick_now = now;
	r = match_vms(b);
	if (r >= 0)
		r = acquire_vms(b);
	if (r < 0) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_CGROUP);
		return tick_failed(b, r, "cannot discover VMs below %s%s",
				   host_root(b->root), b->cfg.cgroup_root);
	}
	match_classes(b);

	in.now = now;
	in.host = &b->host;
	in.vms = b->vms;
	in.n_vms = b->n_vms;
	in.classes = b->classes;
	in.interval = b->interval;
	tick_output_reset(&b->out);
	r = decide(&b->state, &b->policy, &in, &b->out);
	if (r < 0)
		return tick_failed(b, r, "decide failed");
	if (b->host_err)
		log_info("ticks decide again (%s is over)", b->last_error);
	b->host_err = 0;
	b->last_error[0] = '\0';
	log_mode(b, &b->out);
	copy_str(b->mode_reason, sizeof(b->mode_reason), b->out.mode_reason);
	act_all(b); /* act, each result settled as it is done */
	trace_recorder_tick(b->trace, &in, &b->out, &b->state);
	return 0;
}

int balancer_tick_at(struct balancer *b, usec_t now)
{
	usec_t started = now_monotonic();
	int r = tick_run(b, now);

	metrics_count_tick(&b->totals.metrics, now_monotonic() - started);

	/* A failed tick is a tick: counted (--ticks N ends), published
	 * (the state file says why and how old its data is). */
	if (r < 0) {
		b->totals.failed_ticks++;
	} else {
		b->totals.ticks++;
		b->last_ok = time(NULL);
		log_summary(b, now);
	}
	publish(b, now);
	return r;
}

uint64_t balancer_ticks_run(const struct balancer *b)
{
	return b->totals.ticks + b->totals.failed_ticks;
}
