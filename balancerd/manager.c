// SPDX-License-Identifier: GPL-2.0
/*
 * The manager: start-up (config, policy, driver), reload, and the
 * read-only views. The tick is tick.c's, the event loop loop.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "host_path.h"
#include "log.h"
#include "loop.h"
#include "manager.h"
#include "match.h"
#include "metrics.h"
#include "ovcmem_client.h"
#include "publish.h"
#include "tick.h"
#include "trace_record.h"
#include "vm_table.h"

static void log_policy_errors(const struct policy_errors *errs, int prio)
{
	char buf[1024];

	for (size_t i = 0; i < errs->n; i++) {
		policy_error_format(&errs->items[i], buf, sizeof(buf));
		log_send(prio, MSGID_NONE, NULL, 0, "%s", buf);
	}
}

static usec_t effective_interval(const struct balancer *b)
{
	if (b->interval_override)
		return b->interval_override;
	if (b->cfg.interval)
		return b->cfg.interval;
	if (b->policy.interval)
		return b->policy.interval;
	return BALANCER_DEFAULT_INTERVAL;
}

/* A thread per online CPU for a tick's actions (act_pool.h caps it). */
static unsigned int act_workers_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 1 ? (unsigned int)n : 1;
}

static void overrides_from(struct balancer_overrides *o,
			   const struct balancer_options *opts)
{
	memset(o, 0, sizeof(*o));
	o->policy_dir = opts->policy_dir != NULL;
	o->state_file = opts->state_file != NULL;
	o->driver_path = opts->driver_path != NULL;
	o->log_target = opts->log_target_given;
	copy_str(o->policy_dir_v, sizeof(o->policy_dir_v), opts->policy_dir);
	copy_str(o->state_file_v, sizeof(o->state_file_v), opts->state_file);
	copy_str(o->driver_path_v, sizeof(o->driver_path_v), opts->driver_path);
	o->dry_run = opts->dry_run;
	o->record = opts->record != NULL;
	copy_str(o->record_v, sizeof(o->record_v), opts->record);
}

/* The trace file, if any, and a header for the policy now in force. */
static void record_update(struct balancer *b, const char *why)
{
	trace_recorder_update(
		&b->trace, b->ovr.record ? b->ovr.record_v : b->cfg.record, why,
		b->interval, b->dry_run, &b->policy, &b->state);
}

/* What the daemon runs with: the config, under the command line's
 * overrides. */
struct settings {
	char policy_dir[PATH_MAX], state_file[PATH_MAX], driver_path[PATH_MAX];
	bool dry_run;
};

static void settings_of(const struct balancer_overrides *o,
			const struct daemon_config *cfg, struct settings *st)
{
	copy_str(st->policy_dir, sizeof(st->policy_dir),
		 o->policy_dir ? o->policy_dir_v : cfg->policy_dir);
	copy_str(st->state_file, sizeof(st->state_file),
		 o->state_file ? o->state_file_v : cfg->state_file);
	copy_str(st->driver_path, sizeof(st->driver_path),
		 o->driver_path ? o->driver_path_v : cfg->driver_path);
	st->dry_run = o->dry_run || cfg->dry_run;
}

int balancer_settings_check(const char *policy_dir, const char *state_file,
			    char *why, size_t why_len)
{
	char dir[PATH_MAX], real_dir[PATH_MAX], real_pd[PATH_MAX];
	const char *slash;

	if (!state_file || !state_file[0] || !policy_dir)
		return 0;
	slash = strrchr(state_file, '/');
	if (!slash)
		copy_str(dir, sizeof(dir), ".");
	else if (slash == state_file)
		copy_str(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - state_file),
			 state_file);
	/* Either missing: loading or publishing says so, better worded. */
	if (!realpath(dir, real_dir) || !realpath(policy_dir, real_pd))
		return 0;
	if (strcmp(real_dir, real_pd))
		return 0;
	snprintf(why, why_len,
		 "state_file %s is inside policy_dir %s, where it would be "
		 "read as a policy and fail every reload: publish it "
		 "elsewhere (default /run/balancerd/state.json), or set "
		 "\"state_file\": \"\" to publish nothing",
		 state_file, policy_dir);
	return -EINVAL;
}

/* Open the ovcmem driver at b->driver_path, or say why it is not used. */
static void driver_open(struct balancer *b)
{
	int r = ovcmem_client_open(b->root, b->driver_path, &b->ovc);

	if (r == -ENOENT) {
		struct log_field f;

		log_field_str(&f, "DRIVER_PATH", b->driver_path);
		log_send(LOG_INFO, MSGID_DRIVER_ABSENT, &f, 1,
			 "ovcmem driver absent (%s): working from cgroup and "
			 "PSI signals only",
			 b->driver_path[0] ? b->driver_path : "disabled");
		b->ovc = NULL;
	} else if (r == -ENODEV || r == -ENOTTY) {
		/* /dev/zero, a regular file, a FIFO: not ours. */
		log_warning("%s is not the ovcmem driver (%s), continuing "
			    "without it",
			    b->driver_path,
			    r == -ENODEV ? "not a character device"
					 : "it does not know ovcmem's ioctls");
		b->ovc = NULL;
	} else if (r < 0) {
		/* Present but unusable: say so, and run without it rather
		 * than not at all. */
		log_warning_errno(r,
				  "cannot open ovcmem driver %s, "
				  "continuing without it",
				  b->driver_path);
		b->ovc = NULL;
	}
}

/* The MGLRU cold source, as balancerd.json's "mglru" says; the reason
 * it is or is not used is kept for the source choice's log line. */
static void mglru_open(struct balancer *b)
{
	cold_mglru_free(b->mglru);
	b->mglru = NULL;
	if (cold_mglru_open(b->root, b->cfg.mglru, &b->mglru, b->mglru_why,
			    sizeof(b->mglru_why)) < 0)
		snprintf(b->mglru_why, sizeof(b->mglru_why), "out of memory");
}

/* The config's log_target, unless the command line or a test chose. */
static void apply_log_target(const struct balancer *b)
{
	enum log_target t;

	if (b->ovr.log_target || log_get_target() == LOG_TARGET_MEMORY)
		return;
	if (log_target_from_string(b->cfg.log_target, &t) == 0 &&
	    t != log_get_target())
		log_open(t);
}

/* The metrics file is a host path like /proc and /sys: below --root. */
static void metrics_setup(struct balancer *b)
{
	char path[sizeof(b->metrics.path)];

	path[0] = '\0';
	if (b->cfg.metrics_file[0] &&
	    host_path(path, sizeof(path), b->root, "%s", b->cfg.metrics_file) <
		    0) {
		log_warning("metrics file %s%s: path too long, no metrics",
			    host_root(b->root), b->cfg.metrics_file);
		path[0] = '\0';
	}
	if (strcmp(path, b->metrics.path) ||
	    b->cfg.metrics_interval != b->metrics.interval)
		metrics_writer_init(&b->metrics, path, b->cfg.metrics_interval);
}

/*
 * The soft RLIMIT_NOFILE (1024 by default, for select(2)'s sake) to the
 * hard one: this daemon uses epoll, keeps each VM's cgroup files open and
 * a PSI trigger per VM. As systemd recommends for daemons that need more
 * descriptors. Said in one journal line once the log target is known
 * (fd_budget_log).
 */
static void fd_budget_setup(struct balancer *b)
{
	struct rlimit rl;

	b->fd_soft_before = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		b->fd_soft_before = rl.rlim_cur;
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				b->fd_raise_err = -errno;
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1024;
	b->fd_limit = rl.rlim_cur;
	b->max_keeping =
		rl.rlim_cur > FD_RESERVE
			? (size_t)(rl.rlim_cur - FD_RESERVE) / VM_FDS_KEPT
			: 0;
}

/* fd_budget_setup()'s outcome, one line. */
static void fd_budget_log(const struct balancer *b)
{
	char raised[96] = "";

	if (b->fd_raise_err)
		snprintf(raised, sizeof(raised),
			 " (cannot raise it from %llu: %s)",
			 (unsigned long long)b->fd_soft_before,
			 strerror(-b->fd_raise_err));
	else if (b->fd_soft_before && b->fd_soft_before != b->fd_limit)
		snprintf(raised, sizeof(raised),
			 " (raised from %llu, the hard limit)",
			 (unsigned long long)b->fd_soft_before);
	log_info("file descriptor limit %llu%s: the cgroup files of up to "
		 "%zu VMs are kept open, beyond that read with open/read/close",
		 (unsigned long long)b->fd_limit, raised, b->max_keeping);
}

int balancer_new(const struct balancer_options *opts, struct balancer **ret)
{
	struct policy_errors errs = {0};
	struct settings st;
	struct balancer *b;
	char why[PATH_MAX * 2 + 256];
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->ping_lock, NULL);
	b->act_workers = act_workers_default();
	fd_budget_setup(b);
	overrides_from(&b->ovr, opts);
	copy_str(b->root, sizeof(b->root), opts->root ? opts->root : "/");
	copy_str(b->config_path, sizeof(b->config_path),
		 opts->config_path ? opts->config_path : BALANCERD_CONFIG_PATH);
	r = daemon_config_load(b->config_path, &b->cfg, &errs);
	if (r < 0) {
		log_policy_errors(&errs, LOG_ERR);
		log_error_errno(r, "invalid configuration %s", b->config_path);
		policy_errors_free(&errs);
		free(b);
		return r;
	}
	apply_log_target(b);
	fd_budget_log(b);
	settings_of(&b->ovr, &b->cfg, &st);
	copy_str(b->policy_dir, sizeof(b->policy_dir), st.policy_dir);
	copy_str(b->state_file, sizeof(b->state_file), st.state_file);
	copy_str(b->driver_path, sizeof(b->driver_path), st.driver_path);
	b->dry_run = st.dry_run;
	b->interval_override = opts->interval;
	b->max_ticks = opts->max_ticks;
	b->write = opts->write;
	b->write_userdata = opts->write_userdata;

	r = balancer_settings_check(b->policy_dir, b->state_file, why,
				    sizeof(why));
	if (r == 0)
		r = policy_load_dir(b->policy_dir, &b->policy, &errs);
	else
		log_error("invalid configuration %s: %s", b->config_path, why);
	if (r < 0) {
		log_policy_errors(&errs, LOG_ERR);
		if (errs.n)
			log_error_errno(r, "invalid policy in %s",
					b->policy_dir);
		policy_errors_free(&errs);
		daemon_config_free(&b->cfg);
		free(b);
		return r;
	}
	policy_errors_free(&errs);
	b->policy_gen = 1;
	b->interval = effective_interval(b);
	metrics_setup(b);
	driver_open(b);
	mglru_open(b);
	record_update(b, "start");
	log_info("started: config %s, policies %s (%zu classes), interval "
		 "%" PRIu64 " ms%s",
		 b->config_path, b->policy_dir, b->policy.n_classes,
		 (uint64_t)(b->interval / USEC_PER_MSEC),
		 b->dry_run ? ", dry run" : "");
	*ret = b;
	return 0;
}

void balancer_free(struct balancer *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_entries; i++)
		entry_free(b, b->entries[i]);
	free(b->entries);
	free(b->listed);
	free(b->vms);
	free(b->classes);
	free(b->entry_of);
	trace_recorder_close(b->trace); /* what is queued, first */
	tick_output_free(&b->out);
	balancer_state_free(&b->state);
	ovcmem_client_free(b->ovc);
	cold_mglru_free(b->mglru);
	policy_free(&b->policy);
	daemon_config_free(&b->cfg);
	sd_event_source_disable_unref(b->timer);
	sd_event_source_disable_unref(b->deferred);
	sd_event_source_disable_unref(b->host_psi);
	sd_event_source_disable_unref(b->watch);
	sd_event_source_disable_unref(b->settle);
	sd_event_source_disable_unref(b->request_watch);
	sd_event_unref(b->event);
	pthread_mutex_destroy(&b->ping_lock);
	free(b);
}

static void reload_failed(struct balancer *b, const char *what,
			  const struct policy_errors *errs, size_t n_errors)
{
	struct log_field f[2];

	log_policy_errors(errs, LOG_ERR);
	log_field_str(&f[0], "POLICY_DIR", b->policy_dir);
	log_field_u64(&f[1], "ERRORS", n_errors);
	log_send(LOG_ERR, MSGID_RELOAD_FAILED, f, 2,
		 "reload of %s failed (%zu error%s): keeping the "
		 "running configuration and policy",
		 what, n_errors, n_errors == 1 ? "" : "s");
}

static bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* Append @name to the list of changed settings in @buf. */
static void note_change(char *buf, size_t len, bool changed, const char *name)
{
	size_t n = strlen(buf);

	if (changed && n < len)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", name);
}

/* Take @cfg (moved in) and what follows from it; @st is its settings. */
static void apply_config(struct balancer *b, struct daemon_config *cfg,
			 const struct settings *st, char *changed, size_t len)
{
	bool dir_changed = strcmp(st->policy_dir, b->policy_dir) != 0;
	bool driver_changed = strcmp(st->driver_path, b->driver_path) != 0;
	bool mglru_changed = cfg->mglru != b->cfg.mglru;
	bool state_changed = strcmp(st->state_file, b->state_file) != 0;

	changed[0] = '\0';
	note_change(changed, len,
		    strcmp(cfg->cgroup_root, b->cfg.cgroup_root) != 0,
		    "cgroup_root");
	note_change(changed, len,
		    !strv_equal(cfg->vm_globs, cfg->n_vm_globs, b->cfg.vm_globs,
				b->cfg.n_vm_globs),
		    "vm_globs");
	note_change(changed, len, dir_changed, "policy_dir");
	note_change(changed, len, strcmp(st->state_file, b->state_file) != 0,
		    "state_file");
	note_change(changed, len, driver_changed, "driver_path");
	note_change(changed, len, cfg->interval != b->cfg.interval, "interval");
	note_change(changed, len, st->dry_run != b->dry_run, "dry_run");
	note_change(changed, len, strcmp(cfg->log_target, b->cfg.log_target),
		    "log_target");
	note_change(changed, len, mglru_changed, "mglru");
	daemon_config_free(&b->cfg);
	b->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	copy_str(b->policy_dir, sizeof(b->policy_dir), st->policy_dir);
	copy_str(b->state_file, sizeof(b->state_file), st->state_file);
	copy_str(b->driver_path, sizeof(b->driver_path), st->driver_path);
	b->dry_run = st->dry_run;
	apply_log_target(b);
	if (dir_changed && b->event)
		watch_policy_dir(b);
	if (state_changed && b->event)
		watch_publish_requests(b);
	if (driver_changed) {
		ovcmem_client_free(b->ovc);
		b->ovc = NULL;
		driver_open(b);
	}
	if (mglru_changed)
		mglru_open(b);
	b->publish_err = 0;
}

int balancer_reload(struct balancer *b)
{
	struct policy_errors errs = {0};
	struct daemon_config cfg = {0};
	struct policy np = {0};
	struct settings st;
	struct log_field f[3];
	char why[PATH_MAX * 2 + 256], changed[160];
	int r;

	/* balancerd.json first: it may name another policy directory. */
	r = daemon_config_load(b->config_path, &cfg, &errs);
	if (r < 0) {
		reload_failed(b, b->config_path, &errs, errs.n ? errs.n : 1);
		policy_errors_free(&errs);
		return r;
	}
	settings_of(&b->ovr, &cfg, &st);
	r = balancer_settings_check(st.policy_dir, st.state_file, why,
				    sizeof(why));
	if (r < 0) {
		policy_errors_add(&errs, b->config_path, 0, 0, "", "%s", why);
		reload_failed(b, b->config_path, &errs, errs.n);
		goto out;
	}
	r = policy_load_dir(st.policy_dir, &np, &errs);
	if (r < 0) {
		reload_failed(b, st.policy_dir, &errs, errs.n);
		goto out;
	}
	apply_config(b, &cfg, &st, changed, sizeof(changed));
	metrics_setup(b);
	policy_free(&b->policy);
	b->policy = np;
	b->policy_gen++;
	/* A VM that matched nothing may match now, and be told again. */
	for (size_t i = 0; i < b->n_entries; i++)
		b->entries[i]->unmatched_logged = false;
	/* The last tick's classes[] pointed into the policy just freed, and
	 * a failed tick publishes them: match again now. */
	match_classes(b);
	b->interval = effective_interval(b);
	record_update(b, "reload");
	log_field_str(&f[0], "POLICY_DIR", b->policy_dir);
	log_field_u64(&f[1], "CLASSES", b->policy.n_classes);
	log_field_str(&f[2], "CONFIG", b->config_path);
	log_send(LOG_INFO, MSGID_RELOAD_OK, f, 3,
		 "policy reloaded from %s: %zu classes; %s re-read (%s%s)",
		 b->policy_dir, b->policy.n_classes, b->config_path,
		 changed[0] ? "changed: " : "no setting changed", changed);
out:
	daemon_config_free(&cfg);
	policy_errors_free(&errs);
	return r;
}

enum host_mode balancer_mode(const struct balancer *b)
{
	return b->mode;
}

const struct state_totals *balancer_totals(const struct balancer *b)
{
	return &b->totals;
}

const struct policy *balancer_policy(const struct balancer *b)
{
	return &b->policy;
}

size_t balancer_vm_count(const struct balancer *b)
{
	return b->n_vms;
}

/*
 * Between actions, and between the slices of a large one: a tick that
 * pages out hundreds of MiB may outlast WatchdogSec while making steady
 * progress. The event loop pings between ticks (sd_event_set_watchdog).
 */
void ping_watchdog(void *userdata)
{
	struct balancer *b = userdata;
	usec_t now;

	if (!b->watchdog_usec)
		return;
	/* Workers of the action pool call this too. */
	pthread_mutex_lock(&b->ping_lock);
	now = now_monotonic();
	if (now - b->last_ping >= b->watchdog_usec / 4) {
		sd_notify(false, "WATCHDOG=1");
		b->last_ping = now;
	}
	pthread_mutex_unlock(&b->ping_lock);
}
