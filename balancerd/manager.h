/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The manager's own structures, shared by the files of one tick (inside
 * balancerd only; the API is loop.h):
 *
 *     tick.c     runs the steps in order, says when a tick failed
 *     match.c    which VMs, each one's entry and class
 *     acquire.c  the host's and the VMs' signals
 *     decide.c   pure judgement (decide.h)
 *     act.c      the actions, several VMs at once (act_pool.c)
 *     settle.c   what act did flows back: decide's state, totals,
 *                the decision ring, the journal
 *     publish.c  state file, metrics, STATUS=, summary
 *     manager.c  start-up, reload, read-only views
 *     loop.c     the sd-event loop
 *     vm_table.c the VM table
 */
#ifndef BALANCERD_MANAGER_H
#define BALANCERD_MANAGER_H

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "cold_source.h"
#include "config.h"
#include "decide.h"
#include "loop.h"
#include "metrics.h"
#include "policy.h"
#include "settle.h"
#include "signals.h"
#include "state.h"
#include "trace.h"

/*
 * memory.max/high/low, swap and events change rarely (or by our own
 * hand): read them every this many ticks, and only what moves in between.
 * With 1000 VMs that is two thirds fewer system calls per tick.
 */
#define FULL_READ_EVERY 10
/*
 * memory.stat (refaults, majfaults) is read when PSI or memory.current
 * says the VM moved (signals.h, VM_ACQUIRE_SKIP_STAT), and at least
 * every this many ticks.
 */
#define STAT_MAX_AGE 10
/* Up to this many VMs the state file is written every tick; beyond, every
 * n / this many ticks, at most STATE_MAX_AGE apart (publish.c). Writing
 * it costs about 60 us of CPU per VM whose decisions changed (the JSON of
 * eight decisions with reasons): with this pacing a few us per VM and
 * tick, whatever the number of VMs. */
#define STATE_EVERY_TICK_VMS 25
#define STATE_MAX_AGE	     (10 * USEC_PER_SEC)

/* Descriptors a VM keeps open: its directory, VM_FILES_KEPT files and
 * memory.reclaim. */
#define VM_FDS_KEPT (VM_FILES_KEPT + 2)
/* Descriptors left for everything else: PSI triggers (MAX_VM_TRIGGERS),
 * the ovcmem client's partitions, the journal, files read once. */
#define FD_RESERVE 2048

/*
 * Per-VM bookkeeping that outlives one tick, keyed by cgroup. Each entry
 * is allocated on its own, its cgroup path at its end in as many bytes as
 * it needs: with thousands of VMs the table is most of the daemon's
 * memory, and entries never move.
 */
struct vm_entry {
	/* Unique among entries: decide() keys its state by it, so two
	 * cgroups that decode to one name get "name~2" (see unique_name). */
	char name[VM_NAME_MAX];
	bool present;	/* seen this tick */
	bool announced; /* "appeared" logged: its signals were read once */
	int read_err;	/* the last read's error, logged once per cause */
	bool unmatched_logged;
	bool have_prev;
	unsigned int since_full;      /* ticks since every file was read */
	bool limits_written;	      /* memory.high/low set: read them back */
	bool keeps_files;	      /* within the descriptor budget */
	struct vm_files files;	      /* its cgroup files, kept open */
	struct act_kept_file reclaim; /* memory.reclaim, kept open */
	struct vm_prev prev;	      /* what the next read needs of this one */
	struct decision_ring recent;
	char *recent_json; /* state_recent_json(&recent), or NULL: stale */
	/* recent's head and count when the state file was last written:
	 * unchanged, the VM was quiet (publish.c's recent_json_of). */
	size_t published_head, published_n;
	/* The match step's result, valid while class_gen is the policy's
	 * generation: policy_match() runs when a VM appears and after a
	 * reload, and acquire, decide, PSI triggers and publish all use it. */
	const struct policy_class *class;
	unsigned int class_gen;
	char *why;		 /* how it matched (malloc'ed), or NULL: "" */
	struct cold_source cold; /* chosen in the match step, each tick */
	sd_event_source *psi;	 /* memory.pressure trigger, or NULL */
	bool psi_tried;
	char cgroup[]; /* relative to the cgroup root */
};

/* @e's match reason, "" before its first match. */
static inline const char *entry_why(const struct vm_entry *e)
{
	return e->why ? e->why : "";
}

/* The command line's overrides of balancerd.json, kept for reloads. */
struct balancer_overrides {
	bool policy_dir, state_file, driver_path, log_target;
	char policy_dir_v[PATH_MAX], state_file_v[PATH_MAX],
		driver_path_v[PATH_MAX];
	bool dry_run; /* true forces it */
	bool record;  /* --record FILE, in record_v */
	char record_v[PATH_MAX];
};

struct balancer {
	char root[PATH_MAX];
	char config_path[PATH_MAX];
	struct balancer_overrides ovr;
	char policy_dir[PATH_MAX];
	char state_file[PATH_MAX];
	char driver_path[PATH_MAX];
	struct daemon_config cfg;
	struct policy policy;
	unsigned int policy_gen; /* bumped by each policy loaded */
	bool dry_run;
	usec_t interval_override, interval;
	uint64_t max_ticks;
	act_write_fn write;
	void *write_userdata;

	struct balancer_state state;
	struct host_signals host;
	struct tick_output out;
	struct ovcmem_client *ovc;
	/* The MGLRU cold source's state (cold_mglru.h), NULL when it is
	 * off, and why it is (or is not) used. */
	struct cold_mglru *mglru;
	char mglru_why[256];
	struct trace_recorder *trace; /* --record, or NULL */

	/* Per tick, indexed like vms[]. */
	struct vm_signals *vms;
	size_t n_vms, cap_vms;
	const struct policy_class **classes;
	struct vm_entry **entry_of;

	struct vm_entry **entries; /* sorted by cgroup */
	size_t n_entries, cap_entries;
	/* Entries that keep their files open, and how many may: what
	 * RLIMIT_NOFILE leaves after FD_RESERVE, VM_FDS_KEPT each. */
	size_t n_keeping, max_keeping;
	/* RLIMIT_NOFILE: soft limit at start, after raising it, and why it
	 * could not be raised (0, or a negative errno). */
	unsigned long long fd_soft_before, fd_limit;
	int fd_raise_err;
	/* The match step's VMs, in discovery order, for acquire. */
	struct vm_entry **listed;
	size_t n_listed, cap_listed;

	struct state_totals totals;
	struct metrics_writer metrics;
	enum host_mode mode;
	char mode_reason[REASON_MAX];
	bool mode_known;
	usec_t last_summary;
	char last_action[VM_NAME_MAX + 64];

	sd_event *event;
	sd_event_source *timer, *deferred, *host_psi;
	sd_event_source *watch, *settle; /* policy dir changes */
	sd_event_source *request_watch;	 /* balancerctl's requests */
	usec_t last_tick;
	usec_t tick_now; /* @now of the tick being run */
	bool psi_skip_logged;
	int publish_err, host_err; /* last errors, to log each cause once */
	char last_error[256];	   /* why the latest tick failed, or "" */
	/* What the state file last said (publish.c's state_due). */
	usec_t published_at; /* monotonic; 0: never */
	size_t published_vms;
	enum host_mode published_mode;
	char published_error[256];
	bool publish_requested; /* balancerctl asked (loop.c) */
	time_t last_ok;		/* wall clock of the last good tick */
	char slice_warned[CGROUP_PATH_MAX]; /* the last slice skipped */
	usec_t watchdog_usec, last_ping;    /* 0: no watchdog */
	pthread_mutex_t ping_lock;	    /* last_ping, from act workers */
	unsigned int act_workers;	    /* threads for a tick's actions */
	unsigned int n_vm_triggers;
	bool trigger_cap_logged;
};

/* "" for the root "/", else the root: prefix of every host path. */
static inline const char *root_prefix(const struct balancer *b)
{
	return strcmp(b->root, "/") ? b->root : "";
}

/* snprintf("%s") that takes NULL as "", without printf's machinery: it
 * runs for every VM and action of a tick. */
static inline void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	if (!len)
		return;
	while (src && n + 1 < len && src[n])
		n++;
	if (n)
		memmove(dst, src, n);
	dst[n] = '\0';
}

/* ---- vm_table.c ---- */

/* The entry of @cgroup, or NULL. Binary search. */
struct vm_entry *entry_find(struct balancer *b, const char *cgroup);
/* The entry of @cgroup, added when the VM is new (its name decoded and
 * made unique). Entries do not move. NULL on -ENOMEM. */
struct vm_entry *entry_get(struct balancer *b, const char *cgroup);
/* Room for @n VMs in this tick's arrays. 0 or -ENOMEM. */
int grow_tick_arrays(struct balancer *b, size_t n);
/* Entries not present this tick: "vanished" logged (if announced), then
 * freed, keeping the order of the others. */
void sweep_vanished(struct balancer *b);
/* Keep @why as @e's match reason. */
void entry_set_why(struct vm_entry *e, const char *why);
/* Free an entry and what it owns (its PSI trigger, files, cached JSON). */
void entry_free(struct balancer *b, struct vm_entry *e);

/* ---- match.c ---- */

/* @e's class under the current policy, matched only when the policy
 * changed since (class_gen). */
void entry_match(struct balancer *b, struct vm_entry *e);
/* classes[i] of this tick's VMs from their entries; "matches no class"
 * said once per VM (and again after a reload). */
void match_classes(struct balancer *b);
/* @c's cold age in ticks of the effective interval; UINT_MAX without
 * a class (nothing is cold). */
unsigned int cold_ticks(const struct balancer *b, const struct policy_class *c);

/*
 * The match step: discover this tick's VMs (the globs below the cgroup
 * root, then ovcmem partitions owned elsewhere) into listed[], each with
 * its entry and class. 0, or a negative errno (nothing listed).
 */
int match_vms(struct balancer *b);

/* The state slots of cold_source_table[] (the ovcmem client for
 * "ovcmem"), for cold_source_choose(). */
void cold_states_of(const struct balancer *b, void *states[COLD_SOURCES_MAX]);

/* ---- acquire.c ---- */

/* The host's signals into b->host. 0 or a negative errno. */
int acquire_host(struct balancer *b);
/*
 * Read the listed VMs into vms[]; those gone mid-read are left out and
 * swept from the table with the others not seen. entry_of[] is stable
 * after it. 0, or a negative errno: nothing of this tick may be used
 * (n_vms is 0).
 */
int acquire_vms(struct balancer *b);

/* ---- publish.c ---- */

/* Publish after the tick at monotonic @now (paces the metrics file).
 * 0 or a negative errno, logged once per cause. */
int publish(struct balancer *b, usec_t now);
/* The one-minute summary in the journal, when due. */
void log_summary(struct balancer *b, usec_t now);

/* ---- loop.c ---- */

/* Arm @e's memory.pressure trigger, once per entry (at most
 * MAX_VM_TRIGGERS in all). */
void psi_trigger_vm(struct balancer *b, struct vm_entry *e);
/* Watch b->policy_dir for changes (again after a reload changed it). */
int watch_policy_dir(struct balancer *b);
/* Watch the state file's directory for balancerctl's requests (again
 * after a reload changed state_file). */
int watch_publish_requests(struct balancer *b);

/* ---- manager.c ---- */

/* WATCHDOG=1 when a quarter of the watchdog period passed: called
 * between actions and slices of one (any thread). */
void ping_watchdog(void *userdata);

#endif /* BALANCERD_MANAGER_H */
