// SPDX-License-Identifier: GPL-2.0
/*
 * The match step: which VMs this tick has (discovery below the cgroup
 * root, and ovcmem partitions whose owners live elsewhere), each VM's
 * entry in the table, and its class under the current policy, matched
 * once per VM and policy. Acquire, decide, act, PSI triggers and publish
 * all read the class from here.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "match.h"
#include "metrics.h"
#include "ovcmem_client.h"
#include "vm_table.h"

/* Add @cgroup's entry to this tick's list. */
static int list_add(struct balancer *b, const char *cgroup, size_t *n)
{
	struct vm_entry *e;

	if (*n == b->cap_listed) {
		size_t cap = b->cap_listed ? b->cap_listed * 2 : 16;
		struct vm_entry **p = realloc(b->listed, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		b->listed = p;
		b->cap_listed = cap;
	}
	e = entry_get(b, cgroup);
	if (!e)
		return -ENOMEM;
	b->listed[(*n)++] = e;
	return 0;
}

static void cold_source_set(struct balancer *b, struct vm_entry *e,
			    struct cold_source src);

int match_vms(struct balancer *b)
{
	struct vm_list list = {0};
	void *states[COLD_SOURCES_MAX];
	size_t n = 0;
	int r;

	b->n_listed = 0;
	b->n_vms = 0;
	r = discover_vms(b->root, b->cfg.cgroup_root, b->cfg.vm_globs,
			 b->cfg.n_vm_globs, &list);
	if (r < 0)
		return r; /* tick_failed() says it */
	if (list.n_slices && strcmp(list.slice, b->slice_warned))
		log_warning("vm_globs match %zu slice%s (%s%s): slices group "
			    "units, they are not VMs, and are left out; "
			    "narrow vm_globs in %s",
			    list.n_slices, list.n_slices == 1 ? "" : "s",
			    list.slice, list.n_slices > 1 ? ", ..." : "",
			    b->config_path);
	copy_str(b->slice_warned, sizeof(b->slice_warned),
		 list.n_slices ? list.slice : "");
	if (b->ovc) {
		r = ovcmem_client_refresh(b->ovc);
		if (r < 0) {
			metrics_count_error(&b->totals.metrics,
					    ERROR_SOURCE_OVCMEM);
			log_warning_errno(r, "cannot list ovcmem partitions");
		}
	}
	for (size_t i = 0; i < b->n_entries; i++)
		b->entries[i]->present = false;
	r = 0;
	for (size_t i = 0; i < list.n && r == 0; i++)
		r = list_add(b, list.cgroups[i], &n);
	/* Partitions whose owner lives outside the configured globs are
	 * VMs too. */
	for (size_t i = 0; r == 0 && i < ovcmem_client_count(b->ovc); i++) {
		const struct ovcmem_part *p = ovcmem_client_get(b->ovc, i);

		if (p->cgroup[0] && vm_list_lookup(&list, p->cgroup) < 0)
			r = list_add(b, p->cgroup, &n);
	}
	vm_list_free(&list);
	if (r < 0)
		return r;
	b->n_listed = n;
	cold_states_of(b, states);
	for (size_t i = 0; i < n; i++) {
		struct vm_entry *e = b->listed[i];

		entry_match(b, e);
		cold_source_set(b, e, cold_source_choose(states, e->cgroup));
	}
	return 0;
}

void cold_states_of(const struct balancer *b, void *states[COLD_SOURCES_MAX])
{
	for (size_t i = 0; i < COLD_SOURCES_MAX; i++) {
		const struct cold_source_ops *ops =
			i < cold_source_count ? cold_source_table[i] : NULL;

		states[i] = ops == &cold_source_ovcmem	? (void *)b->ovc
			    : ops == &cold_source_mglru ? (void *)b->mglru
							: NULL;
	}
}

/* @e's source is @src from now on: said once, with the reason, when it
 * is chosen first and when it changes (a partition appears, ...). */
static void cold_source_set(struct balancer *b, struct vm_entry *e,
			    struct cold_source src)
{
	const char *why;

	if (e->cold.ops == src.ops) {
		e->cold = src;
		return;
	}
	if (src.ops == &cold_source_ovcmem)
		why = "it has an ovcmem partition";
	else if (src.ops == &cold_source_mglru)
		why = "no ovcmem partition; the multi-gen LRU is on";
	else
		why = b->mglru_why[0] ? b->mglru_why : "no source serves it";
	log_info("%s: cold-memory source %s (%s)", e->cgroup,
		 cold_source_name(&src), why);
	e->cold = src;
}

void entry_match(struct balancer *b, struct vm_entry *e)
{
	char decoded[VM_NAME_MAX], why[256];

	if (e->class_gen == b->policy_gen)
		return;
	/* The globs match the decoded name, before unique_name()'s "~2". */
	if (vm_name_from_cgroup(e->cgroup, decoded, sizeof(decoded)) < 0)
		copy_str(decoded, sizeof(decoded), e->cgroup);
	why[0] = '\0';
	e->class = policy_match(&b->policy, decoded, why, sizeof(why));
	e->class_gen = b->policy_gen;
	entry_set_why(e, why);
}

void match_classes(struct balancer *b)
{
	for (size_t i = 0; i < b->n_vms; i++) {
		struct vm_entry *e = b->entry_of[i];
		const struct vm_signals *v = &b->vms[i];
		struct log_field f[1];

		entry_match(b, e);
		b->classes[i] = e->class;
		if (b->classes[i] || e->unmatched_logged)
			continue;
		e->unmatched_logged = true;
		if (!entry_why(e)[0])
			entry_set_why(e, "no class matched");
		log_field_str(&f[0], "VM", v->name);
		log_send(LOG_WARNING, MSGID_VM_UNMATCHED, f, 1,
			 "%s matches no policy class: left alone", v->name);
	}
}

unsigned int cold_ticks(const struct balancer *b, const struct policy_class *c)
{
	return c ? usec_to_ticks(c->cold_age, b->interval) : UINT_MAX;
}
