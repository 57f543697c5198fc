/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The manager: owns the configuration, the policy, the state that
 * decide() carries between ticks and the event loop, and wires
 *
 *     discover -> acquire -> decide -> act -> log + publish
 *
 * together once per tick. The tick is callable without the event loop
 * (balancer_tick_at) so that the integration test drives it directly on
 * a fixture tree with a scripted clock.
 */
#ifndef BALANCERD_LOOP_H
#define BALANCERD_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "act.h"
#include "config.h"
#include "decide.h"
#include "policy.h"
#include "state.h"
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
 * One tick at monotonic time @now (usec). Returns 0, or a negative errno
 * when the host signals could not be read or VMs not discovered (nothing
 * was decided): such a tick is counted in totals.failed_ticks, logged
 * once per cause and published (the state file's last_error), and the
 * next tick tries again. VM-level problems (a cgroup vanishing, a write
 * failing) are logged and counted, not returned.
 */
int balancer_tick_at(struct balancer *b, usec_t now);

/*
 * Write the state file now, from the latest tick (balancerctl's request:
 * state.h, STATE_REQUEST_SUFFIX), even when it is not due: with many VMs
 * it is written only every few ticks (publish.c). 0 or a negative errno.
 */
int balancer_publish_now(struct balancer *b);

/* Ticks run, failed ones included (what --ticks N counts). */
uint64_t balancer_ticks_run(const struct balancer *b);

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
 * Run the event loop until SIGTERM/SIGINT or max_ticks: steady timer, PSI
 * triggers, SIGHUP reload, sd_notify READY/STATUS/WATCHDOG. Returns 0 on a
 * clean exit or a negative errno.
 */
int balancer_run(struct balancer *b);

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
/* The one-line STATUS= summary. Returns @buf. */
char *balancer_status(const struct balancer *b, char *buf, size_t len);

/*
 * Validate without running (balancerd --check, balancerctl check). With
 * @n_files > 0, those policy files; else the config at @config_path (NULL:
 * none) and the policy directory it names (or @policy_dir). Every error
 * goes to @err as "file:line:column: path: message"; a one-line verdict
 * to @out. Returns 0 when valid, -EINVAL when not, or another errno.
 */
int balancer_check(const char *config_path, const char *policy_dir,
		   char *const *files, size_t n_files, FILE *out, FILE *err);

#endif /* BALANCERD_LOOP_H */
