/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The published state: one JSON document, replaced atomically each tick
 * (temp file in the same directory, fsync, rename), that balancerctl
 * reads. Its schema is documented in docs/balancerctl.md.
 *
 * state_build() is pure (structs -> JSON); state_publish() is the only
 * I/O.
 */
#ifndef BALANCERD_STATE_H
#define BALANCERD_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "decide.h"
#include "metrics.h"
#include "policy.h"
#include "signals.h"

/* Decisions kept per VM for `balancerctl explain`. */
#define STATE_RECENT_MAX 8

struct decision_record {
	time_t when; /* wall clock */
	enum action_kind kind;
	enum host_mode mode;
	uint64_t bytes_requested, bytes_done;
	int error; /* 0 or negative errno */
	bool partial, dry_run;
	char reason[REASON_MAX];
};

/* A ring of the last STATE_RECENT_MAX decisions, oldest first on read. */
struct decision_ring {
	struct decision_record items[STATE_RECENT_MAX];
	size_t head, n;
};

void decision_ring_push(struct decision_ring *r,
			const struct decision_record *d);
/* The @i-th record, 0 = oldest. */
const struct decision_record *decision_ring_get(const struct decision_ring *r,
						size_t i);

struct state_totals {
	uint64_t ticks, actions, errors;
	/* Ticks that decided nothing: host signals unreadable, discovery
	 * failed. Not part of @ticks. */
	uint64_t failed_ticks;
	uint64_t reclaimed, prefaulted, paged_out;
	struct metrics_counters metrics; /* published as totals.metrics */
};

/* Everything one publish needs, borrowed from the daemon. */
struct state_snapshot {
	time_t now;
	bool dry_run;
	enum host_mode mode;
	const char *mode_reason;
	const char *policy_dir;
	const struct host_signals *host;
	size_t n_vms;
	const struct vm_signals *vms;
	const struct policy_class *const *classes; /* NULL entries: none */
	const char *const *match_why;		   /* policy_match's why */
	const char *const *cold_source; /* per VM: "ovcmem", "mglru", "none" */
	const struct vm_state *const *vm_states;   /* may hold NULLs */
	const struct decision_ring *const *recent; /* may hold NULLs */
	const uint64_t *cold_bytes; /* per VM; UINT64_MAX: unknown */
	/* Optional, per VM: state_recent_json() of recent[i], cached by the
	 * caller until the ring changes; NULL (or a NULL entry): built. */
	const char *const *recent_json;
	struct state_totals totals;
	bool driver_present;
	usec_t interval;	/* the steady tick, for readers' staleness */
	const char *last_error; /* why the latest tick failed, or NULL */
	time_t last_ok;		/* wall clock of the last good tick, or 0 */
};

/* @ring as the compact JSON of the "recent" list (malloc'ed), or NULL on
 * -ENOMEM. */
char *state_recent_json(const struct decision_ring *ring);

/* Build the document. Returns a new reference, or NULL on -ENOMEM. */
json_t *state_build(const struct state_snapshot *s);

/*
 * Write @doc to @path atomically: a temp file in the same directory,
 * fsync, rename over @path. Readers see the old or the new file, never a
 * torn one. Returns 0 or a negative errno (the temp file is removed).
 */
int state_publish(const char *path, const json_t *doc);

/*
 * The same for state_build(@s), without building the whole document:
 * each VM's object is built, written and freed in turn, so memory does not
 * grow with the number of VMs. Returns 0 or a negative errno.
 */
int state_publish_snapshot(const char *path, const struct state_snapshot *s);

/*
 * Whether the state file may be (re)written at @path: it is absent or a
 * regular file, in a directory that exists, owned by us or root, and not
 * writable by others unless sticky. Returns 0, -ENOTREGULAR for a device
 * node, FIFO, socket, directory or symlink at @path, -EPERM for a
 * directory others could swap files in, or another negative errno.
 * state_publish*() check it before every rename.
 */
int state_path_check(const char *path);

/*
 * balancerctl asks the daemon for a fresh state file by writing
 * <state file> STATE_REQUEST_SUFFIX next to it; the daemon publishes at
 * once (what its latest tick saw) and balancerctl waits for the state
 * file to be newer than its request, at most STATE_REQUEST_WAIT_MS.
 */
#define STATE_REQUEST_SUFFIX  ".request"
#define STATE_REQUEST_WAIT_MS 1500
/* A state file older than this has no daemon behind it to ask (the
 * daemon writes it at least every 10 s). */
#define STATE_REQUEST_ALIVE_SEC 30

/*
 * How old a state document is at wall time @now, in seconds, and
 * whether that is stale: older than three steady ticks plus
 * STATE_STALE_SLACK_SEC (the daemon is gone or stuck).
 */
#define STATE_STALE_SLACK_SEC 10
bool state_is_stale(const json_t *doc, time_t now, long long *age_sec);

/*
 * Read the state file (balancerctl). Returns 0 and a new reference in
 * *@ret, -ENOENT when it does not exist, -ENOTREGULAR (safe_open.h) when
 * it is a FIFO, device or socket (never opened for reading in a way that
 * blocks), -EINVAL when it is not JSON (the jansson message goes to @err),
 * or another negative errno.
 */
int state_read(const char *path, json_t **ret, char *err, size_t err_len);

#endif /* BALANCERD_STATE_H */
