// SPDX-License-Identifier: GPL-2.0
/*
 * The settle step: the one place where what act did flows back into the
 * daemon (settle.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "publish.h"
#include "settle.h"
#include "trace_record.h"

/* The action's journal entry (MSGID_ACTION, fields in logging.md). */
static void log_action(const struct settle_tick *t, const struct action *a,
		       const struct settle_vm *vm, const struct act_result *res,
		       const char *req)
{
	char done[32], line[160];
	struct log_field f[20];
	size_t n = 0;
	int prio = LOG_INFO;

	format_size(res->bytes_done, done, sizeof(done));
	if (res->dry_run) {
		snprintf(line, sizeof(line), "(dry run)");
	} else if (res->error == -ENOENT) {
		/* The VM went away between reading and acting: not an error,
		 * and its "vanished" entry follows. */
		snprintf(line, sizeof(line), "(skipped: VM gone)");
	} else if (res->error) {
		snprintf(line, sizeof(line), "(failed: %s)",
			 strerror(-res->error));
		prio = LOG_WARNING;
	} else if (res->partial && a->kind == ACTION_PAGEOUT) {
		char adv[32];

		format_size(res->bytes_advised, adv, sizeof(adv));
		if (res->out_of_time)
			snprintf(line, sizeof(line),
				 "(partial: %s advised in the time of one "
				 "action, done %s; the rest next tick)",
				 adv, done);
		else
			snprintf(line, sizeof(line),
				 "(partial: done %s of %s advised, the rest "
				 "stayed resident)",
				 done, adv);
	} else if (res->partial) {
		snprintf(line, sizeof(line), "(partial: done %s)", done);
	} else {
		snprintf(line, sizeof(line), "(done %s)", done);
	}
	if (a->mode == MODE_CRITICAL)
		prio = LOG_WARNING;

	/* Typed, borrowed fields: formatted only by a sink that shows
	 * them (log.h), so stderr pays for the message alone. */
	log_field_str(&f[n++], "VM", vm->signals->name);
	log_field_str(&f[n++], "POLICY", vm->class_name);
	log_field_str(&f[n++], "ACTION", action_kind_name(a->kind));
	log_field_u64(&f[n++], "BYTES_REQUESTED", a->bytes);
	log_field_u64(&f[n++], "BYTES_DONE", res->bytes_done);
	log_field_str(&f[n++], "REASON", a->reason);
	log_field_str(&f[n++], "MODE", host_mode_name(a->mode));
	log_field_percent(&f[n++], "PSI_SOME_AVG10", t->host->psi.some.avg10);
	log_field_percent(&f[n++], "PSI_FULL_AVG10", t->host->psi.full.avg10);
	log_field_u64(&f[n++], "MEM_AVAILABLE", t->host->mem_available);
	log_field_percent(&f[n++], "VM_PRESSURE_SOME_AVG10",
			  vm->signals->psi.some.avg10);
	log_field_int(&f[n++], "DRY_RUN", res->dry_run ? 1 : 0);
	log_field_u64(&f[n++], "DURATION_USEC", (uint64_t)res->duration);
	if (res->error)
		log_field_int(&f[n++], "ERRNO", -res->error);
	if (res->partial)
		log_field_int(&f[n++], "PARTIAL", 1);
	if (a->kind == ACTION_PAGEOUT && !res->dry_run)
		log_field_u64(&f[n++], "BYTES_ADVISED", res->bytes_advised);
	log_send(prio, MSGID_ACTION, f, n, "%s %s %s %s mode=%s: %s",
		 vm->signals->name, action_kind_name(a->kind), req, line,
		 host_mode_name(a->mode), a->reason);
}

/* The tick's totals, and the metrics counters with them. */
static void account(struct state_totals *totals, const struct action *a,
		    const struct act_result *res)
{
	totals->actions++;
	metrics_count_action(
		&totals->metrics, a->kind,
		action_outcome_of(res->error, res->partial, res->dry_run));
	if (res->error && res->error != -ENOENT) {
		totals->errors++;
		metrics_count_error(&totals->metrics, ERROR_SOURCE_ACTION);
	}
	if (a->kind == ACTION_RECLAIM)
		totals->reclaimed += res->bytes_done;
	else if (a->kind == ACTION_PAGEOUT)
		totals->paged_out += res->bytes_done;
	else if (a->kind == ACTION_PREFAULT)
		totals->prefaulted += res->bytes_done;
}

void settle_action(const struct settle_tick *t, const struct settle_vm *vm,
		   const struct action *a, const struct act_result *res)
{
	const char *name = vm->signals->name;
	struct decision_record rec = {0};
	char req[32];

	/* "64M", or "max": the journal's message and STATUS= say it. */
	if (a->bytes == MEMORY_UNLIMITED)
		copy_str(req, sizeof(req), "max");
	else
		format_size(a->bytes, req, sizeof(req));
	log_action(t, a, vm, res, req);
	account(t->totals, a, res);
	if (!res->dry_run)
		decide_account(t->state, name, a->kind, res->bytes_done,
			       t->now);
	if (!res->dry_run && vm->cold && vm->cold->ops && vm->cold->ops->settle)
		vm->cold->ops->settle(vm->cold->state, vm->signals, a, res);
	/* Read back what we set, next tick. */
	if ((a->kind == ACTION_SET_HIGH || a->kind == ACTION_SET_LOW) &&
	    vm->limits_written)
		*vm->limits_written = true;
	rec.when = t->wall;
	rec.kind = a->kind;
	rec.mode = a->mode;
	rec.bytes_requested = a->bytes;
	rec.bytes_done = res->bytes_done;
	rec.error = res->error;
	rec.partial = res->partial;
	rec.dry_run = res->dry_run;
	copy_str(rec.reason, sizeof(rec.reason), a->reason);
	decision_ring_push(vm->recent, &rec);
	if (vm->recent_json) {
		free(*vm->recent_json);
		*vm->recent_json = NULL;
	}
	if (!t->last_action)
		return;
	snprintf(t->last_action, t->last_action_len, "%s %s %s", name,
		 action_kind_name(a->kind), req);
}

void settle_done(size_t i, const struct act_result *res, void *userdata)
{
	struct balancer *b = userdata;
	const struct action *a = &b->out.actions[i];
	struct vm_entry *e;
	struct settle_tick t = {
		.state = &b->state,
		.totals = &b->totals,
		.host = &b->host,
		.now = b->tick_now,
		.wall = time(NULL),
		.last_action = b->last_action,
		.last_action_len = sizeof(b->last_action),
	};
	struct settle_vm vm;

	if (a->vm >= b->n_vms) {
		log_error("decide() named VM #%zu of %zu: action dropped",
			  a->vm, b->n_vms);
		return;
	}
	ping_watchdog(b);
	trace_recorder_result(b->trace, i, res);
	e = b->entry_of[a->vm];
	vm = (struct settle_vm){
		.signals = &b->vms[a->vm],
		.class_name = b->classes[a->vm] ? b->classes[a->vm]->name : "",
		.recent = &e->recent,
		.recent_json = &e->recent_json,
		.limits_written = &e->limits_written,
		.cold = &e->cold,
	};
	settle_action(&t, &vm, a, res);
}
