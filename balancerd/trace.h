/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Traces: what decide() read and did, one JSON line per tick, so that a
 * host's signals replay offline through any policy (replay.h).
 *
 * A trace is a sequence of lines: a header (format version, balancerd
 * version, effective interval, the whole policy in force as a policy
 * file, decide()'s state) and ticks (host signals, each VM's signals and
 * matched class, the mode and actions decide() chose, what acting
 * achieved). A new header follows each start, reload, rotation and gap.
 * The format is an interface: docs/trace-format.md.
 *
 * Three parts: serializers (pure, tick -> line), the reader (line ->
 * structs, every error naming file and line) and the recorder (a writer
 * thread with a bounded queue, so the tick never waits for the disk).
 */
#ifndef BALANCERD_TRACE_H
#define BALANCERD_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "act.h"
#include "decide.h"
#include "policy.h"
#include "signals.h"

#define TRACE_FORMAT_VERSION 1
/* Longer lines are refused (1000 VMs take about 1 MiB): a file with no
 * newline is not read into memory whole. */
#define TRACE_LINE_MAX (64U << 20)
/* Default size of FILE before it becomes FILE.1. */
#define TRACE_DEFAULT_MAX_BYTES (256ULL << 20)

/* What acting achieved, per action (act.h's act_result, as recorded). */
struct trace_result {
	uint64_t bytes_done;
	int error; /* 0 or a negative errno */
	bool partial;
	bool dry_run; /* nothing was done on purpose: decide_account skipped */
};

struct trace_header {
	int format;
	char version[64]; /* balancerd's */
	char why[16];	  /* "start", "reload", "rotate", "gap" */
	usec_t interval;  /* the daemon's effective interval */
	bool dry_run;	  /* the daemon's setting when written */
	struct policy policy;
	struct balancer_state state; /* decide()'s, before the next tick */
};

struct trace_tick {
	usec_t now;
	usec_t interval; /* tick_input's: the effective interval */
	struct host_signals host;
	struct vm_signals *vms;
	/* Per VM, the matched class's name, "" when none matched. */
	char (*classes)[POLICY_NAME_MAX];
	size_t n_vms;
	enum host_mode mode;
	char mode_reason[REASON_MAX];
	struct action *actions;
	struct trace_result *results; /* per action */
	size_t n_actions;
};

/* ---- serializers (pure) ------------------------------------------------ */

/*
 * The header line (JSON, '\n'-terminated, malloc'd), or NULL on -ENOMEM.
 * The policy is written as a policy file that policy_load_string() reads
 * back to the same structs.
 */
char *trace_header_line(const char *why, usec_t interval, bool dry_run,
			const struct policy *p, const struct balancer_state *s);

/* The policy as the header holds it (a new reference), or NULL. */
json_t *trace_policy_json(const struct policy *p);

/* trace_header_line() with the policy from trace_policy_json(). */
char *trace_header_line_json(const char *why, usec_t interval, bool dry_run,
			     json_t *policy, const struct balancer_state *s);

/* A tick line: @in and @out as decide() saw and filled them, @res per
 * action (NULL: none recorded). NULL on -ENOMEM. */
char *trace_tick_line(const struct tick_input *in,
		      const struct tick_output *out,
		      const struct trace_result *res);

/* The same with the class names in @names ("": none) instead of
 * @in->classes, which must be NULL: for a copy of the tick. */
char *trace_tick_line_named(const struct tick_input *in,
			    const char (*names)[POLICY_NAME_MAX],
			    const struct tick_output *out,
			    const struct trace_result *res);

/*
 * Whether two states would be written alike; if not, the first field
 * that differs, as "vms[web-1].restorable: 1 != 2", in @what.
 */
bool trace_state_equal(const struct balancer_state *a,
		       const struct balancer_state *b, char *what,
		       size_t what_len);

/* ---- reader ------------------------------------------------------------- */

enum trace_line_kind {
	TRACE_LINE_HEADER = 1,
	TRACE_LINE_TICK = 2,
};

/*
 * Parse one line (without its '\n'). Returns TRACE_LINE_HEADER (fills
 * @hdr, free it with trace_header_free), TRACE_LINE_TICK (fills @tick,
 * free with trace_tick_free) or -EINVAL / -ENOMEM with a sentence in
 * @err. Keys it does not know are skipped; a missing number is 0.
 */
int trace_parse_line(const char *line, size_t len, struct trace_header *hdr,
		     struct trace_tick *tick, char *err, size_t err_len);

void trace_header_free(struct trace_header *h);
void trace_tick_free(struct trace_tick *t);

struct trace_reader {
	FILE *f;
	char path[512];
	unsigned long line; /* of the line last returned */
	bool seen_header;
	char *buf;
	size_t cap;
};

/* Returns 0 or a negative errno, with "PATH: reason" in @err. */
int trace_reader_open(struct trace_reader *r, const char *path, char *err,
		      size_t err_len);

/*
 * The next line: TRACE_LINE_HEADER or TRACE_LINE_TICK as for
 * trace_parse_line, 0 at the end, or a negative errno with "PATH:LINE:
 * reason" in @err (a malformed or truncated line, an unknown format
 * version, a tick before any header, a line over TRACE_LINE_MAX).
 */
int trace_reader_next(struct trace_reader *r, struct trace_header *hdr,
		      struct trace_tick *tick, char *err, size_t err_len);
void trace_reader_close(struct trace_reader *r);

#endif /* BALANCERD_TRACE_H */
