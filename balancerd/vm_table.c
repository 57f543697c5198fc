// SPDX-License-Identifier: GPL-2.0
/*
 * The VM table: per-VM bookkeeping that outlives one tick (manager.h),
 * kept sorted by cgroup, and this tick's arrays indexed like vms[].
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "vm_table.h"

/*
 * entries[] is kept sorted by cgroup, so that finding a VM's entry is a
 * binary search: with 1000 VMs a linear one is half a million strcmp()s
 * per tick.
 */
static size_t entry_pos(const struct balancer *b, const char *cgroup,
			bool *found)
{
	size_t lo = 0, hi = b->n_entries;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->entries[mid]->cgroup, cgroup);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vm_entry *entry_find(struct balancer *b, const char *cgroup)
{
	bool found;
	size_t i = entry_pos(b, cgroup, &found);

	return found ? b->entries[i] : NULL;
}

static bool name_taken(const struct balancer *b, const char *name)
{
	for (size_t i = 0; i < b->n_entries; i++)
		if (!strcmp(b->entries[i]->name, name))
			return true;
	return false;
}

/*
 * A name no other entry has, for the VM of a new entry: @decoded itself,
 * else "@decoded~N" with the first free N from 2 (cut to fit), so that an
 * LXC and a QEMU domain both called "web", or two names cut at
 * VM_NAME_MAX, keep apart in decide()'s state, the totals and the state
 * file, and an admin sees which is which. Linear in the entries, only
 * when a VM appears.
 */
static void unique_name(const struct balancer *b, const char *decoded,
			char *name, size_t len)
{
	copy_str(name, len, decoded);
	for (unsigned int n = 2; name_taken(b, name) && n < UINT_MAX; n++) {
		char suffix[16];
		int k = snprintf(suffix, sizeof(suffix), "~%u", n);
		size_t keep = len - 1 - (size_t)k;

		snprintf(name, len, "%.*s%s", (int)keep, decoded, suffix);
	}
}

/* Insert in order. */
static struct vm_entry *entry_add(struct balancer *b, const char *cgroup,
				  const char *decoded)
{
	size_t len = strlen(cgroup) + 1;
	struct vm_entry *e;
	bool found;
	size_t i;

	if (b->n_entries == b->cap_entries) {
		size_t cap = b->cap_entries ? b->cap_entries * 2 : 16;
		struct vm_entry **p = realloc(b->entries, cap * sizeof(*p));

		if (!p)
			return NULL;
		b->entries = p;
		b->cap_entries = cap;
	}
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		return NULL;
	unique_name(b, decoded, e->name, sizeof(e->name));
	memcpy(e->cgroup, cgroup, len);
	vm_files_init(&e->files);
	e->keeps_files = b->n_keeping < b->max_keeping;
	b->n_keeping += e->keeps_files;
	e->reclaim.fd = -1;
	i = entry_pos(b, cgroup, &found);
	memmove(&b->entries[i + 1], &b->entries[i],
		(b->n_entries - i) * sizeof(*b->entries));
	b->entries[i] = e;
	b->n_entries++;
	return e;
}

/*
 * Odd matches are warned about at most ODD_WARN_BURST times in
 * ODD_WARN_WINDOW, then once that more were not: a careless glob over a
 * host with hundreds of units must not flood the journal. Per balancer
 * (tests make many), by the tick's clock.
 */
#define ODD_WARN_BURST	5
#define ODD_WARN_WINDOW (60 * USEC_PER_SEC)

static bool odd_warn_allowed(const struct balancer *b)
{
	static const struct balancer *owner;
	static usec_t window_start;
	static unsigned int n;

	if (owner != b || b->tick_now - window_start >= ODD_WARN_WINDOW) {
		owner = b;
		window_start = b->tick_now;
		n = 0;
	}
	if (++n <= ODD_WARN_BURST)
		return true;
	if (n == ODD_WARN_BURST + 1)
		log_warning("more vm_globs matches that are not VMs: not said "
			    "again for a minute");
	return false;
}

/*
 * Say once, when it becomes a VM, that a glob of vm_globs matched a
 * cgroup that is not a VM (init.scope, or one that holds units): it is
 * balanced as one, which the admin hardly meant.
 */
static void warn_if_odd(const struct balancer *b, const char *cgroup)
{
	const char *glob =
		vm_globs_match(b->cfg.vm_globs, b->cfg.n_vm_globs, cgroup);
	char child[NAME_MAX + 1];
	int r;

	if (!glob)
		return; /* an ovcmem partition's owner, not a glob's match */
	r = cgroup_oddity(b->root, b->cfg.cgroup_root, cgroup, child,
			  sizeof(child));
	if (r <= CGROUP_ODD_NONE || !odd_warn_allowed(b))
		return;
	if (r == CGROUP_ODD_INIT)
		log_warning("vm_globs' \"%s\" matches %s, systemd's own cgroup "
			    "(PID 1), not a VM: it is balanced as one; narrow "
			    "vm_globs in %s",
			    glob, cgroup, b->config_path);
	else
		log_warning("vm_globs' \"%s\" matches %s, which holds units "
			    "(%s, ...), not a VM: it is balanced as one; "
			    "narrow vm_globs in %s",
			    glob, cgroup, child, b->config_path);
}

/* The entry of @cgroup, added (and matched) when the VM is new. */
struct vm_entry *entry_get(struct balancer *b, const char *cgroup)
{
	struct vm_entry *e = entry_find(b, cgroup);
	char decoded[VM_NAME_MAX];

	if (e)
		return e;
	/* As vm_signals_acquire_files() names it, which it did not when it
	 * failed. */
	if (vm_name_from_cgroup(cgroup, decoded, sizeof(decoded)) < 0)
		copy_str(decoded, sizeof(decoded), cgroup);
	e = entry_add(b, cgroup, decoded);
	if (e)
		warn_if_odd(b, cgroup);
	return e;
}

int grow_tick_arrays(struct balancer *b, size_t n)
{
	void *p;

	if (n <= b->cap_vms)
		return 0;
	/* Sized for the VMs listed, with room for a few more: vms[] is a
	 * kilobyte per VM, doubling it would waste up to half. */
	n = n < 16 ? 16 : n + n / 16;
	p = realloc(b->vms, n * sizeof(*b->vms));
	if (!p)
		return -ENOMEM;
	b->vms = p;
	p = realloc(b->classes, n * sizeof(*b->classes));
	if (!p)
		return -ENOMEM;
	b->classes = p;
	p = realloc(b->entry_of, n * sizeof(*b->entry_of));
	if (!p)
		return -ENOMEM;
	b->entry_of = p;
	b->cap_vms = n;
	return 0;
}

void entry_set_why(struct vm_entry *e, const char *why)
{
	if (!strcmp(entry_why(e), why))
		return;
	free(e->why);
	e->why = why[0] ? strdup(why) : NULL; /* NULL on -ENOMEM: "" */
}

static void entry_drop_psi(struct vm_entry *e)
{
	e->psi = sd_event_source_disable_unref(e->psi);
}

void entry_free(struct balancer *b, struct vm_entry *e)
{
	if (e->psi && b->n_vm_triggers)
		b->n_vm_triggers--;
	entry_drop_psi(e);
	free(e->recent_json);
	free(e->why);
	vm_files_close(&e->files);
	act_kept_file_close(&e->reclaim);
	if (e->keeps_files && b->n_keeping)
		b->n_keeping--;
	free(e);
}

/* Entries not seen this tick: log once and forget, keeping the order. */
void sweep_vanished(struct balancer *b)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n_entries; i++) {
		struct vm_entry *e = b->entries[i];
		struct log_field f[2];

		if (e->present) {
			b->entries[k++] = e;
			continue;
		}
		if (e->announced) {
			log_field_str(&f[0], "VM", e->name);
			log_field_str(&f[1], "CGROUP", e->cgroup);
			log_send(LOG_INFO, MSGID_VM_VANISHED, f, 2,
				 "%s vanished (cgroup %s)", e->name, e->cgroup);
		}
		entry_free(b, e);
	}
	b->n_entries = k;
}
