/* SPDX-License-Identifier: GPL-2.0 */
/*
 * decide(): the balancer's judgement, a pure function.
 *
 * (previous state, this tick's signals, policy, now) -> (next state,
 * actions with reasons). No I/O, no clock, no globals: every case is a row
 * in tests/unit/test_decide.c. The algorithm and its constants are in
 * docs/decide.md.
 */
#ifndef BALANCERD_DECIDE_H
#define BALANCERD_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "signals.h"
#include "units.h"

/* The host's situation, from its watermarks and PSI. */
enum host_mode {
	MODE_PROACTIVE = 0, /* comfortable: trim cold memory gently */
	MODE_TIGHT,	    /* MemAvailable under low: reclaim by priority */
	MODE_CRITICAL,	    /* under min, or PSI full over limit */
	MODE_RESTORE,	    /* above high: give memory back to stalling VMs */
	_MODE_MAX,
};

const char *host_mode_name(enum host_mode m);

enum action_kind {
	ACTION_RECLAIM = 0, /* write @bytes to memory.reclaim */
	ACTION_PAGEOUT,	    /* process_madvise(MADV_PAGEOUT) cold ranges */
	ACTION_PREFAULT,    /* ovcmem PREFAULT, or MADV_WILLNEED */
	ACTION_SET_HIGH,    /* write @bytes (or "max") to memory.high */
	ACTION_SET_LOW,	    /* write @bytes to memory.low */
	ACTION_MERGE,	    /* KSM may share the guest RAM (@bytes of it) */
	ACTION_UNMERGE,	    /* private guest RAM again (@bytes of it) */
	_ACTION_MAX,
};

const char *action_kind_name(enum action_kind k);

#define REASON_MAX 192

struct action {
	enum action_kind kind;
	size_t vm;	/* index into the tick's vm_signals array */
	uint64_t bytes; /* requested; MEMORY_UNLIMITED for "max" */
	enum host_mode mode;
	usec_t min_idle; /* PAGEOUT: only pages idle this long (0: class) */
	char reason[REASON_MAX]; /* one sentence, with the numbers */
};

/*
 * What decide() remembers about one VM between ticks, found by name (the
 * names of one tick's VMs are unique) and belonging to one cgroup: a name
 * that turns up on another cgroup (the VM gone, a new one named alike, or
 * two long names cut to one prefix) starts afresh, so that no cgroup
 * inherits another's backoff, budget or totals.
 */
struct vm_state {
	char name[VM_NAME_MAX];
	char cgroup[CGROUP_PATH_MAX]; /* as vm_signals'; "": not known yet
				       * (a trace from before the field) */
	bool seen;		      /* present in the latest tick */
	usec_t first_seen;
	uint64_t size;		 /* reference size for % floors/ceilings:
				  * ovcmem pages, else memory.max, else the
				  * largest memory.current seen */
	usec_t last_reclaim;	 /* when we last asked it to give memory */
	uint64_t reclaim_budget; /* bytes it may still give in this second
				  * (token bucket for max_reclaim_rate) */
	usec_t budget_at;	 /* when the bucket was last refilled */
	usec_t backoff_until;	 /* no reclaim before this */
	usec_t refault_until;	 /* only memory known cold before this */
	unsigned int cold_scale; /* cold age multiplier, 1..8 */
	usec_t scale_raised;	 /* when cold_scale was last doubled */
	usec_t calm_since;	 /* no refaults since, 0: refaulting */
	usec_t last_pageout;	 /* when a PAGEOUT of it last freed memory */
	usec_t prefault_quiet_until; /* a prefault found nothing: no
				      * pressure-only prefault before */
	bool over_target;	     /* pressure was over target last tick */
	uint64_t reclaimed_total, prefaulted_total;
	/* Bytes we reclaimed recently that may be faulted back in. */
	uint64_t restorable;
	enum action_kind last_action;
	bool has_last_action;
	char last_reason[REASON_MAX];
	usec_t last_action_at;

	usec_t last_seen;    /* forgotten VM_STATE_FORGET after this */
	uint64_t bucket_cap; /* token bucket size, bytes */
	/* Requested this tick, refunded by decide_account() if not done. */
	uint64_t pending_reclaim, pending_pageout;
	/* memory.high / memory.low last asked for ("once" per value). */
	bool high_requested, low_requested;
	uint64_t high_value, low_value;
	/* KSM sharing last asked for, and of which partition (a VM that
	 * restarts gets a new one, with the VMM's default again). */
	bool merge_requested, merge_value;
	uint64_t merge_partition;
	usec_t merge_retry_at; /* a switch failed: not again before this */
};

struct balancer_state {
	enum host_mode mode; /* last tick's, for hysteresis */
	usec_t mode_since;
	usec_t last_tick; /* 0 before the first tick */
	struct vm_state *vms;
	size_t n_vms;
	size_t cap_vms;
};

struct tick_input {
	usec_t now;
	const struct host_signals *host;
	const struct vm_signals *vms;
	size_t n_vms;
	/* policy_match() result per VM (NULL: no class, left alone). */
	const struct policy_class *const *classes;
	/* The effective steady interval (command line, then balancerd.json,
	 * then the policy: balancerd.json(5)); 0 takes the policy's. Rates
	 * per tick and ages in ticks are converted with it. */
	usec_t interval;
};

struct tick_output {
	enum host_mode mode;
	char mode_reason[REASON_MAX];
	struct action *actions;
	size_t n_actions;
	size_t cap_actions;
};

/*
 * Decide one tick. Updates @state (adds VMs first seen, marks vanished ones
 * unseen and drops them after a while) and appends actions to @out, at most
 * one of each kind per VM, ordered as they should be carried out.
 * Returns 0 or -ENOMEM.
 */
int decide(struct balancer_state *state, const struct policy *policy,
	   const struct tick_input *in, struct tick_output *out);

/*
 * Feed back what an action achieved (bytes actually reclaimed or faulted),
 * so the rate budget and restorable bytes stay honest. Pure as well.
 * RECLAIM/PAGEOUT: what was asked but not done goes back into the token
 * bucket (once per action), the bytes done become restorable; PREFAULT:
 * the bytes done are no longer restorable; MERGE/UNMERGE: 0 bytes done
 * means the switch failed, to be tried again after a while. Unknown VMs
 * are ignored.
 */
void decide_account(struct balancer_state *state, const char *vm_name,
		    enum action_kind kind, uint64_t bytes_done, usec_t now);

/*
 * Bytes of @v idle at least @c->cold_age, as decide() counts them and
 * the state file publishes them (the one cold estimate): the ovcmem
 * client's exact cold_pages when cold_valid, else the idle-age buckets
 * wholly older than cold_age (@interval converts it to ticks; an
 * underestimate on purpose). Returns false when unknown (no ovcmem, not
 * scanned yet, or no class: @c NULL).
 */
bool decide_cold_bytes(const struct vm_signals *v, const struct policy_class *c,
		       usec_t interval, uint64_t *ret);

struct vm_state *balancer_state_find(struct balancer_state *state,
				     const char *vm_name);
void balancer_state_free(struct balancer_state *state);
void tick_output_reset(struct tick_output *out);
void tick_output_free(struct tick_output *out);

#endif /* BALANCERD_DECIDE_H */
