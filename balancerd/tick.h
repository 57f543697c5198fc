/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One tick (tick.c): match -> acquire -> decide -> act -> settle ->
 * publish, in that order, callable without the event loop so that tests
 * and the benchmark drive it with a scripted clock.
 */
#ifndef BALANCERD_TICK_H
#define BALANCERD_TICK_H

#include <stdint.h>

#include "units.h"

struct balancer;

/*
 * One tick at monotonic time @now (usec). Returns 0, or a negative errno
 * when the host signals could not be read or VMs not discovered (nothing
 * was decided): such a tick is counted in totals.failed_ticks, logged
 * once per cause and published (the state file's last_error), and the
 * next tick tries again. VM-level problems (a cgroup vanishing, a write
 * failing) are logged and counted, not returned.
 */
int balancer_tick_at(struct balancer *b, usec_t now);

/* Ticks run, failed ones included (what --ticks N counts). */
uint64_t balancer_ticks_run(const struct balancer *b);

#endif /* BALANCERD_TICK_H */
