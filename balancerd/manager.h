/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The manager (manager.c): start-up, reload and the read-only views, and
 * the data that the files of one tick share:
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
#include "act.h"
#include "metrics.h"
#include "policy.h"
#include "settle.h"
#include "signals.h"
#include "state.h"
#include "trace.h"
#include "units.h"

/* Fallback steady tick when neither the command line, the config nor the
 * policy names one. */
#define BALANCER_DEFAULT_INTERVAL USEC_PER_SEC
/* PSI triggers may fire in bursts; never run more than 10 ticks/s. */
#define BALANCER_MIN_TICK_GAP (100 * USEC_PER_MSEC)
/* A summary entry in the log this often. */
#define BALANCER_SUMMARY_INTERVAL (60 * USEC_PER_SEC)

struct balancer_options {
	const char *root;	 /* NULL or "/": the live system */
	const char *config_path; /* NULL: BALANCERD_CONFIG_PATH */
	/* Overrides of the config file's settings; NULL/0: keep. */
	const char *policy_dir;
	const char *state_file;	 /* "" disables publishing */
	const char *driver_path; /* "" disables ovcmem */
	const char *record;	 /* trace file (trace.h); "" disables */
	usec_t interval;
	bool dry_run;	    /* true forces it; false keeps the config's */
	uint64_t max_ticks; /* run() returns after this many; 0: forever */
	/* false: the config's log_target is applied once it is loaded. */
	bool log_target_given;
	/* Tests: replace the cgroup writer (see act.h). */
	act_write_fn write;
	void *write_userdata;
};

struct balancer;

/*
 * Load the config and the policy and open the driver. Every problem in
 * the config or the policy is logged (file:line:column: path: message).
 * Returns 0 and *@ret, -EINVAL on invalid configuration or policy, or
 * another negative errno.
 */
int balancer_new(const struct balancer_options *opts, struct balancer **ret);
void balancer_free(struct balancer *b);

/*
 * Reload: re-read balancerd.json, then the policy directory it names
 * (the command line's overrides still win). Every setting applies at
 * once: vm_globs and cgroup_root from the next discovery, interval from
 * the next tick, a new policy_dir is watched, a new driver_path opened,
 * a new state_file written, dry_run and log_target switched. On failure
 * every error is logged and the running configuration and policy stay;
 * returns -EINVAL (or the I/O errno). Returns 0 on success, logging
 * which settings changed.
 */
int balancer_reload(struct balancer *b);

/*
 * Checks across settings that no one key's schema can make: a state file
 * published into the policy directory would be read as a policy, and
 * every reload would fail. Returns 0, or -EINVAL with the reason in @why.
 */
int balancer_settings_check(const char *policy_dir, const char *state_file,
			    char *why, size_t why_len);

/* Read-only views, for tests and the benchmark. */
enum host_mode balancer_mode(const struct balancer *b);
const struct state_totals *balancer_totals(const struct balancer *b);
const struct policy *balancer_policy(const struct balancer *b);
size_t balancer_vm_count(const struct balancer *b);

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

/* ---- manager.c, for the tick's files ---- */

/* WATCHDOG=1 when a quarter of the watchdog period passed: called
 * between actions and slices of one (any thread). */
void ping_watchdog(void *userdata);

#endif /* BALANCERD_MANAGER_H */
