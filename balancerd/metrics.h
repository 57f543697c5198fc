/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics: the state document (state.h) as text exposition
 * format, for node_exporter's textfile collector and `balancerctl
 * metrics`. Both print metrics_format() of the same document, so the text
 * is the same whichever writes it.
 *
 * The daemon keeps counters that the state document does not otherwise
 * carry (actions by kind and outcome, errors by source, tick durations) in
 * struct metrics_counters, published in the document's "totals" as
 * metrics_counters_json(). Names and labels: docs/metrics.md.
 *
 * metrics_format() and the counting functions are pure; metrics_publish()
 * is the only I/O.
 */
#ifndef BALANCERD_METRICS_H
#define BALANCERD_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decide.h"
#include "units.h"

#define METRICS_DEFAULT_FILE "/var/lib/prometheus/node-exporter/balancerd.prom"
/* node_exporter is scraped every 15 s by default: a file written more often
 * is not seen more often. */
#define METRICS_DEFAULT_INTERVAL (15 * USEC_PER_SEC)

/* How an action ended, the "outcome" label. */
enum action_outcome {
	OUTCOME_DONE = 0, /* all that was asked */
	OUTCOME_PARTIAL,  /* less than asked (the kernel kept some) */
	OUTCOME_FAILED,	  /* an error other than the VM going away */
	OUTCOME_SKIPPED,  /* the VM went away before it ran */
	OUTCOME_DRY_RUN,  /* decided, not carried out */
	_OUTCOME_MAX,
};

/* Where an error came from, the "source" label. */
enum error_source {
	ERROR_SOURCE_HOST = 0, /* /proc/meminfo, /proc/pressure unreadable */
	ERROR_SOURCE_CGROUP,   /* a VM's cgroup files, VM discovery */
	ERROR_SOURCE_OVCMEM,   /* the driver's partition list or stats */
	ERROR_SOURCE_ACTION,   /* an action that failed */
	ERROR_SOURCE_STATE,    /* publishing the state file */
	ERROR_SOURCE_METRICS,  /* writing the metrics file */
	_ERROR_SOURCE_MAX,
};

/* Upper bounds (seconds) of the tick duration histogram's buckets, beyond
 * which +Inf: from a 1000-VM tick's ~60 ms down to an idle tick's. */
#define METRICS_TICK_BUCKETS 8
extern const double metrics_tick_bucket_le[METRICS_TICK_BUCKETS];

struct metrics_counters {
	uint64_t actions[_ACTION_MAX][_OUTCOME_MAX];
	uint64_t errors[_ERROR_SOURCE_MAX];
	/* Ticks per duration bucket (not cumulative), the last is +Inf. */
	uint64_t tick_buckets[METRICS_TICK_BUCKETS + 1];
	uint64_t tick_count;
	usec_t tick_sum, tick_last;
};

const char *action_outcome_name(enum action_outcome o);
const char *error_source_name(enum error_source s);

/* The outcome of an action from its result: @error a negative errno or 0,
 * -ENOENT meaning the VM went away. */
enum action_outcome action_outcome_of(int error, bool partial, bool dry_run);

void metrics_count_action(struct metrics_counters *c, enum action_kind kind,
			  enum action_outcome outcome);
void metrics_count_error(struct metrics_counters *c, enum error_source src);
void metrics_count_tick(struct metrics_counters *c, usec_t duration);

/* @c as the JSON object published under the state's "totals"."metrics".
 * Returns a new reference, or NULL on -ENOMEM. */
json_t *metrics_counters_json(const struct metrics_counters *c);

/*
 * Escape @value as a label value of the text exposition format into
 * @buf: a backslash, a double quote and a line feed become \\, \" and \n
 * (the format's escapes); any other control character or byte that is not
 * UTF-8 becomes escape_text()'s text for it with its backslash escaped
 * (ESC is \\x1b: the value holds the four characters "\x1b"), so that
 * `balancerctl metrics` puts nothing on a terminal that acts on it, and
 * the result stays valid exposition format. Returns the length of the
 * escaped text, as snprintf() does: the output is truncated (and
 * NUL-terminated) when that is >= @len.
 */
size_t metrics_escape_label(char *buf, size_t len, const char *value);

/*
 * Write the exposition text of the state document @state (as
 * state_build() makes it, or as balancerctl reads it from the state file)
 * to @out: one family per metric, HELP and TYPE first, a series per VM
 * that is in @state and no other. Keys missing from @state (an older
 * daemon's file) leave their series out. Returns 0, -EINVAL when @state
 * is not a state document, or a negative errno from writing.
 */
int metrics_format(FILE *out, const json_t *state);

/* The text of metrics_format() in a new string (free() it), or NULL with
 * errno set. */
char *metrics_format_string(const json_t *state);

/*
 * When to write the metrics file: at most once per @interval, and not at
 * all while the file's directory is absent (node_exporter's textfile
 * collector not installed), which is checked again each time it is due.
 */
struct metrics_writer {
	char path[4096]; /* "": off */
	usec_t interval;
	usec_t last;	/* monotonic time of the last attempt, 0: never */
	bool attempted; /* metrics_writer_publish() ran once */
	int last_error; /* to log each cause once */
};

void metrics_writer_init(struct metrics_writer *w, const char *path,
			 usec_t interval);

/* True when @w is on and @interval has passed since the last attempt at
 * monotonic time @now (and marks the attempt). */
bool metrics_writer_due(struct metrics_writer *w, usec_t now);

/*
 * Write metrics_format(@state) to @path atomically: a temp file in the
 * same directory (not named *.prom, so the collector never reads it),
 * fsync, rename. Only where state_path_check() lets the state file be:
 * @path absent or a regular file, in a directory owned by us or root that
 * others cannot write to unless sticky. Returns 0, 1 when the directory
 * does not exist (nothing written), or a negative errno: -ENOTREGULAR,
 * -EPERM as state_path_check() (nothing written), others (the temp file
 * is removed).
 */
int metrics_publish(const char *path, const json_t *state);

struct state_snapshot;

/*
 * The daemon's side: metrics_publish() of state_build(@s) to @w's file,
 * logging the directory's absence once (info) and each failure once per
 * cause (warning), and the recovery. Returns metrics_publish()'s result.
 */
int metrics_writer_publish(struct metrics_writer *w,
			   const struct state_snapshot *s);

#endif /* BALANCERD_METRICS_H */
