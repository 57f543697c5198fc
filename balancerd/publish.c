// SPDX-License-Identifier: GPL-2.0
/*
 * The publish step: the state file balancerctl reads, the metrics file,
 * the STATUS= line and the summary in the journal.
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
#include "safe_open.h"

char *balancer_status(const struct balancer *b, char *buf, size_t len)
{
	char rec[32];

	format_size(b->totals.reclaimed, rec, sizeof(rec));
	if (b->last_error[0]) {
		snprintf(buf, len, "failing: %s", b->last_error);
		return buf;
	}
	snprintf(buf, len, "mode %s, %zu VMs, reclaimed %s%s%s%s",
		 host_mode_name(b->mode), b->n_vms, rec,
		 b->last_action[0] ? ", last: " : "", b->last_action,
		 b->dry_run ? " (dry run)" : "");
	return buf;
}

void log_summary(struct balancer *b, usec_t now)
{
	char status[256], pre[32];
	struct log_field f[7];

	if (b->last_summary &&
	    now - b->last_summary < BALANCER_SUMMARY_INTERVAL)
		return;
	if (!b->last_summary) {
		/* The first summary comes one interval after start. */
		b->last_summary = now;
		return;
	}
	b->last_summary = now;
	format_size(b->totals.prefaulted, pre, sizeof(pre));
	log_field_str(&f[0], "MODE", host_mode_name(b->mode));
	log_field_u64(&f[1], "VMS", b->n_vms);
	log_field_u64(&f[2], "RECLAIMED_TOTAL", b->totals.reclaimed);
	log_field_u64(&f[3], "PREFAULTED_TOTAL", b->totals.prefaulted);
	log_field_u64(&f[4], "ACTIONS_TOTAL", b->totals.actions);
	log_field_u64(&f[5], "ERRORS_TOTAL", b->totals.errors);
	log_field_u64(&f[6], "MEM_AVAILABLE", b->host.mem_available);
	log_send(LOG_INFO, MSGID_SUMMARY, f, 7, "summary: %s, prefaulted %s",
		 balancer_status(b, status, sizeof(status)), pre);
}

static int cmp_vm_state(const void *a, const void *b)
{
	const struct vm_state *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* decide()'s state of each VM of this tick, by a sorted index: a linear
 * balancer_state_find() per VM is quadratic in the number of VMs. */
static int find_states(struct balancer *b, const struct vm_state **ret)
{
	const struct vm_state **idx;
	size_t n = b->state.n_vms;

	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		idx[i] = &b->state.vms[i];
	qsort(idx, n, sizeof(*idx), cmp_vm_state);
	for (size_t i = 0; i < b->n_vms; i++) {
		struct vm_state key, *kp = &key;
		const struct vm_state **hit;

		copy_str(key.name, sizeof(key.name), b->vms[i].name);
		hit = bsearch(&kp, idx, n, sizeof(*idx), cmp_vm_state);
		ret[i] = hit ? *hit : NULL;
	}
	free(idx);
	return 0;
}

/*
 * @e's decisions as JSON for the state file, or NULL: state.c then builds
 * them in place, with the VM's object. Only the state file shows them
 * (not the metrics), so this runs when it is written. The JSON is kept
 * for a VM whose ring did not change since the file was last written: a
 * quiet VM's decisions are serialised once, not every time. A VM that
 * acts between two writes would find its copy stale at the next one, so
 * none is kept for it: with a thousand VMs acting, that is two megabytes
 * the daemon does not hold. settle.c drops the copy when the ring moves.
 */
static const char *recent_json_of(struct vm_entry *e)
{
	bool quiet = e->recent.head == e->published_head &&
		     e->recent.n == e->published_n;

	if (!e->recent_json && quiet)
		e->recent_json = state_recent_json(&e->recent); /* or NULL */
	e->published_head = e->recent.head;
	e->published_n = e->recent.n;
	return e->recent_json;
}

/*
 * Whether the state file is written after this tick. Every tick up to
 * STATE_EVERY_TICK_VMS VMs; beyond, the document grows with the VMs (2 MB
 * at 1000) and writing it every tick was most of the tick, so every
 * n/STATE_EVERY_TICK_VMS ticks, at most STATE_MAX_AGE apart: the cost per
 * VM stays flat. At once when balancerctl asks (publish_requested, from
 * loop.c), when a tick failed or recovered, the mode changed, or VMs came
 * or went.
 */
static bool state_due(struct balancer *b, usec_t now)
{
	usec_t every;

	if (!b->state_file[0])
		return false;
	if (b->publish_requested || !b->published_at ||
	    b->n_vms != b->published_vms || b->mode != b->published_mode ||
	    strcmp(b->last_error, b->published_error))
		return true;
	if (b->n_vms <= STATE_EVERY_TICK_VMS)
		return true;
	every = b->interval *
		((b->n_vms + STATE_EVERY_TICK_VMS - 1) / STATE_EVERY_TICK_VMS);
	if (every > STATE_MAX_AGE)
		every = STATE_MAX_AGE;
	/* Ticks come a little early or late: half an interval of slack. */
	return now + b->interval / 2 >= b->published_at + every;
}

/* After the tick at monotonic time @now (which paces the metrics file). */
int publish(struct balancer *b, usec_t now)
{
	const struct vm_state **vs = NULL;
	const struct decision_ring **rings = NULL;
	const char **why = NULL, **recent_json = NULL, **sources = NULL;
	uint64_t *cold = NULL;
	struct state_snapshot s = {0};
	bool metrics_due = metrics_writer_due(&b->metrics, now);
	bool due = state_due(b, now);
	int r = -ENOMEM;

	if (!due && !metrics_due)
		return 0;
	if (b->n_vms) {
		vs = calloc(b->n_vms, sizeof(*vs));
		rings = calloc(b->n_vms, sizeof(*rings));
		why = calloc(b->n_vms, sizeof(*why));
		sources = calloc(b->n_vms, sizeof(*sources));
		cold = calloc(b->n_vms, sizeof(*cold));
		recent_json = calloc(b->n_vms, sizeof(*recent_json));
		if (!vs || !rings || !why || !cold || !recent_json || !sources)
			goto out;
	}
	if (b->n_vms && find_states(b, vs) < 0)
		goto out;
	for (size_t i = 0; i < b->n_vms; i++) {
		struct vm_entry *e = b->entry_of[i];

		if (due)
			recent_json[i] = recent_json_of(e);
		rings[i] = &e->recent;
		why[i] = entry_why(e);
		sources[i] = cold_source_name(&e->cold);
		if (!decide_cold_bytes(&b->vms[i], b->classes[i], b->interval,
				       &cold[i]))
			cold[i] = UINT64_MAX; /* unknown */
	}
	s.now = time(NULL);
	s.dry_run = b->dry_run;
	s.mode = b->mode;
	s.mode_reason = b->mode_reason;
	s.policy_dir = b->policy_dir;
	s.host = &b->host;
	s.n_vms = b->n_vms;
	s.vms = b->vms;
	s.classes = b->classes;
	s.match_why = why;
	s.cold_source = sources;
	s.vm_states = vs;
	s.recent = rings;
	s.cold_bytes = cold;
	s.recent_json = recent_json;
	s.totals = b->totals;
	s.driver_present = b->ovc != NULL;
	s.interval = b->interval;
	s.last_error = b->last_error[0] ? b->last_error : NULL;
	s.last_ok = b->last_ok;
	r = due ? state_publish_snapshot(b->state_file, &s) : 0;
	if (due && r == 0) {
		b->published_at = now;
		b->published_vms = b->n_vms;
		b->published_mode = b->mode;
		copy_str(b->published_error, sizeof(b->published_error),
			 b->last_error);
		b->publish_requested = false;
	}
	/* The metrics show no decisions: the document they are made from is
	 * built without them (most of its size with eight per VM). */
	s.recent = NULL;
	s.recent_json = NULL;
	if (metrics_due && metrics_writer_publish(&b->metrics, &s) < 0)
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_METRICS);
out:
	/* Said once per cause, not once a second, and when it recovers. */
	if (r < 0 && r != b->publish_err)
		log_warning("cannot publish state to %s (balancerctl will not "
			    "see it): %s",
			    b->state_file,
			    r == -ENOTREGULAR
				    ? "something other than a regular "
				      "file is there, left alone"
			    : r == -EPERM ? "its directory is not ours, or "
					    "others may write to it"
					  : strerror(-r));
	else if (r == 0 && b->publish_err)
		log_info("state published to %s again", b->state_file);
	if (r < 0)
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_STATE);
	b->publish_err = r;
	free(vs);
	free(rings);
	free(why);
	free(sources);
	free(cold);
	free(recent_json);
	return r;
}

int balancer_publish_now(struct balancer *b)
{
	b->publish_requested = true;
	/* Paced by the latest tick's clock, as the ticks' own publishing. */
	return publish(b, b->tick_now ? b->tick_now : now_monotonic());
}
