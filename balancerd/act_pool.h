/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run one tick's actions on several VMs at once.
 *
 * A pageout is CPU work in the caller's context (unmapping, and for zram
 * compressing every page): tens of MB/s per core under emulation, a few
 * hundred on hardware. The VMs' actions are independent (each touches
 * only its own cgroup, process and ovcmem partition, see
 * ovcmem_client.h), so up to @workers threads carry them out side by
 * side; one VM's actions (consecutive in the list, as decide() emits
 * them) stay in order in one thread.
 *
 * Results are handed back in list order, from the calling thread, each as
 * soon as it and every action before it are done: the caller logs and
 * accounts them there, single-threaded, and a restore at the head of the
 * list is logged when it is done, not when the tick's last pageout is.
 */
#ifndef BALANCERD_ACT_POOL_H
#define BALANCERD_ACT_POOL_H

#include <stddef.h>

#include "act.h"

/* Carry out action @i (any thread; must only touch that VM's state). */
typedef void (*act_pool_exec_fn)(size_t i, struct act_result *res,
				 void *userdata);
/* Action @i is done (the calling thread, in list order); what @res owns
 * is released after it returns (act_result_release). */
typedef void (*act_pool_done_fn)(size_t i, const struct act_result *res,
				 void *userdata);
/* About once a second while waiting (the calling thread): watchdog. */
typedef void (*act_pool_idle_fn)(void *userdata);

/*
 * Run actions 0..@n-1, where @vm_of[i] names action i's VM. With
 * @workers <= 1, a single VM, or @vm_of NULL, runs them one by one in
 * this thread (the one sequential loop).
 * Returns the number of worker threads used (0: sequential); if threads
 * cannot be created, the actions still all run, sequentially.
 */
unsigned int act_pool_run(size_t n, const size_t *vm_of, unsigned int workers,
			  act_pool_exec_fn exec, act_pool_done_fn done,
			  act_pool_idle_fn idle, void *userdata);

#endif /* BALANCERD_ACT_POOL_H */
