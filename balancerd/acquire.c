// SPDX-License-Identifier: GPL-2.0
/*
 * The acquire step: read the host's and each matched VM's signals
 * (cgroupfs, procfs, the VM's cold-memory source) into this tick's
 * vms[].
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquire.h"
#include "ksm.h"
#include "log.h"
#include "loop.h"
#include "manager.h"
#include "match.h"
#include "metrics.h"
#include "vm_table.h"

/*
 * A VM whose files cannot be read (garbage in memory.stat, a file that
 * is not one): said once per cause, not once a tick, and when it is
 * readable again. The entry keeps the cause while the cgroup exists.
 */
static void note_read_error(struct vm_entry *e, int r)
{
	if (r == e->read_err)
		return;
	e->read_err = r;
	if (r < 0)
		log_warning_errno(r,
				  "cannot read signals of cgroup %s, "
				  "skipping it until it is readable",
				  e->cgroup);
	else
		log_info("signals of cgroup %s readable again", e->cgroup);
}

/* The VM's cold view from its source (cold_source.h). */
static void vm_collect_cold(struct balancer *b, const struct vm_entry *e,
			    struct vm_signals *v)
{
	const struct cold_source *src = &e->cold;
	int r;

	if (!src->ops || !src->ops->collect)
		return;
	r = src->ops->collect(src->state, e->cgroup, cold_ticks(b, e->class),
			      b->tick_now, b->interval, v);
	if (r < 0 && r != -ENOENT) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_OVCMEM);
		if (v->ovcmem.partition_id)
			log_warning_errno(r,
					  "%s: ovcmem partition %" PRIu64
					  " unreadable",
					  v->name, v->ovcmem.partition_id);
		else
			log_warning_errno(r, "%s: cold source %s unreadable",
					  v->name, cold_source_name(src));
	}
}

/* KSM's merged pages of the VM's process, with the slow files: they
 * change as fast as ksmd scans, which is slowly. */
static void vm_read_ksm(const struct balancer *b, const struct vm_entry *e,
			struct vm_signals *v, unsigned int flags)
{
	if (flags & VM_ACQUIRE_SKIP_SLOW) {
		v->ksm_known = e->prev.ksm_known;
		v->ksm_merging_pages = e->prev.ksm_merging_pages;
		return;
	}
	v->ksm_known = ksm_read_merging_pages(b->root, v->pid,
					      &v->ksm_merging_pages) == 0;
	if (!v->ksm_known)
		v->ksm_merging_pages = 0;
}

/* Read matched VM @e's signals into vms[n_vms]; a vanished cgroup is
 * skipped. */
static int acquire_vm(struct balancer *b, struct vm_entry *e)
{
	struct vm_signals *v;
	unsigned int flags = 0;
	int r;

	r = grow_tick_arrays(b, b->n_vms + 1);
	if (r < 0)
		return r;
	v = &b->vms[b->n_vms];
	if (e->have_prev && e->since_full < FULL_READ_EVERY &&
	    !e->limits_written) {
		flags |= VM_ACQUIRE_SKIP_SLOW;
		if (e->files.stat_age + 1 < STAT_MAX_AGE)
			flags |= VM_ACQUIRE_SKIP_STAT;
	}
	r = vm_signals_acquire_files(b->root, b->cfg.cgroup_root, e->cgroup,
				     e->keeps_files ? &e->files : NULL,
				     e->have_prev ? &e->prev : NULL, flags, v);
	if (r == -ENOENT)
		return 0; /* gone mid-tick: "vanished" is logged below */
	e->present = true;
	note_read_error(e, r < 0 ? r : 0);
	if (r < 0) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_CGROUP);
		return 0;
	}
	/* decide() and the state file know the VM by its unique name. */
	copy_str(v->name, sizeof(v->name), e->name);
	if (!e->announced) {
		struct log_field f[2];

		e->announced = true;
		log_field_str(&f[0], "VM", v->name);
		log_field_str(&f[1], "CGROUP", e->cgroup);
		log_send(LOG_INFO, MSGID_VM_APPEARED, f, 2,
			 "%s appeared (cgroup %s)", v->name, e->cgroup);
	}
	vm_collect_cold(b, e, v);
	vm_read_ksm(b, e, v, flags);
	vm_prev_keep(&e->prev, v);
	e->have_prev = true;
	e->since_full = flags & VM_ACQUIRE_SKIP_SLOW ? e->since_full + 1 : 1;
	e->limits_written = false;
	b->entry_of[b->n_vms++] = e;
	return 0;
}

int acquire_host(struct balancer *b)
{
	return host_signals_acquire(b->root, &b->host);
}

int acquire_vms(struct balancer *b)
{
	int r = 0;

	b->n_vms = 0;
	r = grow_tick_arrays(b, b->n_listed);
	for (size_t i = 0; i < b->n_listed && r == 0; i++) {
		r = acquire_vm(b, b->listed[i]);
		ping_watchdog(b);
	}
	if (r < 0) {
		b->n_vms = 0;
		return r;
	}
	sweep_vanished(b);
	b->n_listed = 0; /* it may name entries the sweep freed */
	for (size_t i = 0; b->event && i < b->n_vms; i++)
		psi_trigger_vm(b, b->entry_of[i]);
	return 0;
}
