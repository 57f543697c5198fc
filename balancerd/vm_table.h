/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM table (vm_table.c): one entry per VM cgroup, kept across ticks
 * and sorted by cgroup; entries never move. Main thread only.
 */
#ifndef BALANCERD_VM_TABLE_H
#define BALANCERD_VM_TABLE_H

#include <stddef.h>

struct balancer;
struct vm_entry;

/* The entry of @cgroup, or NULL. Binary search. */
struct vm_entry *entry_find(struct balancer *b, const char *cgroup);
/* The entry of @cgroup, added when the VM is new (its name decoded and
 * made unique). Entries do not move. NULL on -ENOMEM. */
struct vm_entry *entry_get(struct balancer *b, const char *cgroup);
/* Room for @n VMs in this tick's arrays. 0 or -ENOMEM. */
int grow_tick_arrays(struct balancer *b, size_t n);
/* Entries not present this tick: "vanished" logged (if announced), then
 * freed, keeping the order of the others. */
void sweep_vanished(struct balancer *b);
/* Keep @why as @e's match reason. */
void entry_set_why(struct vm_entry *e, const char *why);
/* Free an entry and what it owns (its PSI trigger, files, cached JSON). */
void entry_free(struct balancer *b, struct vm_entry *e);

#endif /* BALANCERD_VM_TABLE_H */
