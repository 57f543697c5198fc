/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The match step (match.c): which VMs there are this tick, each one's
 * entry, class and cold-memory source.
 */
#ifndef BALANCERD_MATCH_H
#define BALANCERD_MATCH_H

#include "cold_source.h"
#include "policy.h"

struct balancer;
struct vm_entry;

/* @e's class under the current policy, matched only when the policy
 * changed since (class_gen). */
void entry_match(struct balancer *b, struct vm_entry *e);
/* classes[i] of this tick's VMs from their entries; "matches no class"
 * said once per VM (and again after a reload). */
void match_classes(struct balancer *b);
/* @c's cold age in ticks of the effective interval; UINT_MAX without
 * a class (nothing is cold). */
unsigned int cold_ticks(const struct balancer *b, const struct policy_class *c);

/*
 * The match step: discover this tick's VMs (the globs below the cgroup
 * root, then ovcmem partitions owned elsewhere) into listed[], each with
 * its entry and class. 0, or a negative errno (nothing listed).
 */
int match_vms(struct balancer *b);

/* The state slots of cold_source_table[] (the ovcmem client for
 * "ovcmem"), for cold_source_choose(). */
void cold_states_of(const struct balancer *b, void *states[COLD_SOURCES_MAX]);

#endif /* BALANCERD_MATCH_H */
