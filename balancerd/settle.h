/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Settle: the one place where what act did flows back, after each action
 * (in decide()'s order, on the main thread, act_pool.h):
 *
 *   - decide()'s state: decide_account() refunds the token bucket and
 *     keeps the restorable bytes honest (not for dry runs);
 *   - the VM's cold source: what a pageout took (res->taken; ovcmem
 *     marks it evicted in its coldmap);
 *   - the totals and their metrics counters;
 *   - the VM's decision ring (balancerctl explain), and its cached JSON
 *     dropped;
 *   - "read memory.high/low back next tick" after setting them;
 *   - the STATUS= line's last action;
 *   - the journal entry of the action (MSGID_ACTION, docs/logging.md).
 *
 * No file, no clock: the caller gives the times. Tested table by table
 * (tests/unit/test_settle.c).
 */
#ifndef BALANCERD_SETTLE_H
#define BALANCERD_SETTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "act.h"
#include "cold_source.h"
#include "decide.h"
#include "signals.h"
#include "state.h"

/* What the tick's results flow into. */
struct settle_tick {
	struct balancer_state *state;	 /* decide()'s, by VM name */
	struct state_totals *totals;	 /* counted, with metrics */
	const struct host_signals *host; /* for the journal's fields */
	usec_t now;			 /* the tick's monotonic time */
	time_t wall;			 /* the decision record's time */
	char *last_action;		 /* "vm kind bytes", or NULL */
	size_t last_action_len;
};

/* One VM's side of it. */
struct settle_vm {
	const struct vm_signals *signals; /* name; pressure, for the journal */
	const char *class_name;		  /* "" without a class */
	struct decision_ring *recent;
	char **recent_json;   /* a cache of @recent, freed; or NULL */
	bool *limits_written; /* set after SET_HIGH/SET_LOW; or NULL */
	const struct cold_source *cold; /* the VM's source; or NULL */
};

/* Settle action @a on @vm with act's result @res. */
void settle_action(const struct settle_tick *t, const struct settle_vm *vm,
		   const struct action *a, const struct act_result *res);

/*
 * act_pool_done_fn of the daemon's tick (@userdata: the balancer):
 * settles action @i of the tick's output on its VM's entry.
 */
void settle_done(size_t i, const struct act_result *res, void *userdata);

#endif /* BALANCERD_SETTLE_H */
