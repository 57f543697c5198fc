/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trace recorder (trace_record.c): each tick queued as a copy and
 * written as a line of trace.h's format by a thread of its own, so that
 * a slow disk never holds up the tick.
 */
#ifndef BALANCERD_TRACE_RECORD_H
#define BALANCERD_TRACE_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "decide.h"
#include "policy.h"
#include "units.h"

struct trace_recorder;

/*
 * Start recording to @path (appended to; FILE.1 holds the previous
 * @max_bytes when FILE grows past them). A header is written at once
 * with @why. Returns 0 and *@ret, or a negative errno (logged).
 */
int trace_recorder_open(const char *path, uint64_t max_bytes, const char *why,
			usec_t interval, bool dry_run, const struct policy *p,
			const struct balancer_state *s,
			struct trace_recorder **ret);

/*
 * The manager's one call per setting change: record to @path ("" or
 * NULL: stop), reopening when it changed, and write a header (@why) for
 * the policy now in force. Failures are logged; balancing goes on.
 */
void trace_recorder_update(struct trace_recorder **rp, const char *path,
			   const char *why, usec_t interval, bool dry_run,
			   const struct policy *p,
			   const struct balancer_state *s);

/* Action @i of this tick's output is done (called in list order, before
 * trace_recorder_tick). NULL @r: not recording. */
void trace_recorder_result(struct trace_recorder *r, size_t i,
			   const struct act_result *res);

/*
 * The tick is over: queue a copy of it (the writer thread makes the
 * line). @s is decide()'s state after it, for the header that follows a
 * rotation or a gap. Never blocks on the disk: when the queue is full
 * the tick is dropped (logged once) and a "gap" header follows. NULL @r:
 * not recording.
 */
void trace_recorder_tick(struct trace_recorder *r, const struct tick_input *in,
			 const struct tick_output *out,
			 const struct balancer_state *s);

/* False once a write failed (logged once) and recording stopped. */
bool trace_recorder_active(const struct trace_recorder *r);

/* Tests: the queue's bound (default 64 MiB of copies); a writer that
 * waits while @paused, as behind a disk that stalls; and a wait until
 * everything queued is written. */
void trace_recorder_set_queue_max(struct trace_recorder *r, size_t bytes);
void trace_recorder_pause(struct trace_recorder *r, bool paused);
void trace_recorder_flush(struct trace_recorder *r);

/* Write what is queued, stop the writer, close. NULL is fine. */
void trace_recorder_close(struct trace_recorder *r);

#endif /* BALANCERD_TRACE_RECORD_H */
