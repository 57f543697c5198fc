/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scripted host for the trace and replay tests: three VMs (web-1 of
 * class "web", batch-1 of class "batch" with ovcmem idle-age signals,
 * lone-1 that no class matches) over ticks that take the host from
 * comfortable to tight, critical and back to restore, with a pressure
 * spike (a backoff) and refaults. Each tick runs decide(), plays the
 * kernel (what was asked is done, pageouts of batch-1 half of it), feeds
 * the results back and records the tick with the real recorder.
 */
#ifndef TESTS_UNIT_TRACE_SYNTH_H
#define TESTS_UNIT_TRACE_SYNTH_H

#include <stdint.h>

#include "trace.h"
#include "trace_record.h"

/* The policy the script is recorded under (one policy file). */
extern const char synth_policy[];

/*
 * Record @n_ticks ticks (one a second) to @path, rotated at @max_bytes
 * (0: the default), with a reload to @reload_policy (NULL: none) before
 * tick @n_ticks / 2. Asserts on failure. Returns the actions decided.
 */
uint64_t synth_record(const char *path, unsigned int n_ticks,
		      uint64_t max_bytes, const char *reload_policy);

/* The same, calling @hook(recorder, tick number, @data) before each
 * tick (NULL: none). */
typedef void synth_hook_fn(struct trace_recorder *r, unsigned int k,
			   void *data);
uint64_t synth_record_hooked(const char *path, unsigned int n_ticks,
			     uint64_t max_bytes, const char *reload_policy,
			     synth_hook_fn *hook, void *data);

/* @policy with @from replaced by @to (at most 4 KiB; asserts @from is
 * in it). Returns a static buffer. */
const char *synth_policy_edit(const char *policy, const char *from,
			      const char *to);

#endif /* TESTS_UNIT_TRACE_SYNTH_H */
