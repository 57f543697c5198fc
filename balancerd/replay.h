/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replay: a recorded trace (trace.h) through decide(), offline.
 *
 * With the recorded policy, decide() must make exactly the recorded
 * decisions: each difference is a bug (nondeterminism in decide()). With
 * another policy, the replay says what that policy would have asked for,
 * beside what the recorded one asked, and the first ticks where they part.
 *
 * It is open-loop: the signals are what the host did under the recorded
 * policy; what a different policy would have done to the guests is not
 * simulated. docs/replay.md.
 *
 * The engine (replay_header, replay_tick) is pure; replay_files is the
 * thin reading loop around it.
 */
#ifndef BALANCERD_REPLAY_H
#define BALANCERD_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "decide.h"
#include "trace.h"

/* Departures and differences kept for the report, the first ones. */
#define REPLAY_KEEP	   10
#define REPLAY_KEEP_PER_VM 3 /* the host's mode counts as one VM */

struct replay_options {
	/* NULL: the recorded policy (each header's), checked exactly. */
	const struct policy *policy;
	/* Only ticks in [from, to) count (usec since the first tick; to 0:
	 * to the end); decide() still runs on every tick, for its state. */
	usec_t from, to;
	/* Only VMs whose name matches count (NULL: all). */
	const char *vm_glob;
};

/* Figures of one policy: [0] the recorded, [1] the replayed. */
struct replay_vm {
	char name[VM_NAME_MAX];
	uint64_t reclaim[2];  /* bytes asked by RECLAIM + PAGEOUT */
	uint64_t prefault[2]; /* bytes asked by PREFAULT */
	uint64_t actions[2];
	uint64_t backoffs[2];	   /* backoffs started */
	uint64_t floor_ticks[2];   /* ticks its floor bounded the reclaim */
	uint64_t ceiling_ticks[2]; /* ticks it was above its ceiling */
};

/* One tick where the replayed decisions part from the recorded. */
struct replay_departure {
	uint64_t tick;	      /* its number in the replay, from 1 */
	usec_t at;	      /* usec since the first tick */
	char vm[VM_NAME_MAX]; /* "" for the host's mode */
	char recorded[REASON_MAX + 64];
	char replayed[REASON_MAX + 64];
};

struct replay {
	struct replay_options opt;
	/* decide()'s state under the recorded policy, and under opt.policy. */
	struct balancer_state rec_state, alt_state;
	struct policy rec_policy; /* the latest header's */
	bool have_header;
	usec_t interval; /* the latest header's */
	bool dry_run;
	struct tick_output out[2];

	usec_t first_now, last_now;
	uint64_t ticks_seen; /* in the window or not */
	uint64_t ticks, decisions, differences, departures;
	usec_t mode_time[2][_MODE_MAX];
	struct replay_vm *vms;
	size_t n_vms;
	struct replay_departure kept[REPLAY_KEEP];
	size_t n_kept;
	uint64_t headers, gaps;
};

void replay_init(struct replay *rp, const struct replay_options *opt);
void replay_free(struct replay *rp);

/* A header: its policy and state move into @rp (the replayed
 * policy's state carries on). Returns 0, or -ENOMEM. */
int replay_header(struct replay *rp, struct trace_header *h);

/* One tick. Returns 0, or -EINVAL (with @err: a class the recorded
 * policy does not have) or -ENOMEM. */
int replay_tick(struct replay *rp, const struct trace_tick *t, char *err,
		size_t err_len);

/* Read @paths in order through the engine; 0 or a negative errno with
 * "FILE:LINE: reason" in @err. */
int replay_files(struct replay *rp, char *const *paths, size_t n, char *err,
		 size_t err_len);

#endif /* BALANCERD_REPLAY_H */
