// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "act.h"
#include "act_pool.h"
#include "escape.h"
#include "json_check.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "ovcmem_client.h"
#include "safe_open.h"
#include "signals.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/*
 * memory.max/high/low, swap and events change rarely (or by our own
 * hand): read them every this many ticks, and only what moves in between.
 * With 1000 VMs that is two thirds fewer system calls per tick.
 */
#define FULL_READ_EVERY 10

/*
 * PSI triggers hold a file descriptor each: beyond this many VMs the rest
 * are watched by the steady tick (and the host trigger) only, so that the
 * descriptors left are plenty for reading cgroup files.
 */
#define MAX_VM_TRIGGERS 512

/* Quiet time after the last policy file change before reloading. */
#define POLICY_SETTLE (250 * USEC_PER_MSEC)

/* PSI trigger window: the kernel accepts 500 ms .. 10 s; unprivileged
 * triggers need a multiple of 2 s, so 2 s works for both. */
#define PSI_WINDOW_US (2 * USEC_PER_SEC)
/* Host trigger: wake when tasks stalled 10% of the window. */
#define PSI_HOST_STALL_US (PSI_WINDOW_US / 10)
/* The kernel's minimum stall for a trigger. */
#define PSI_MIN_STALL_US (50 * USEC_PER_MSEC)

/* Per-VM bookkeeping that outlives one tick, keyed by cgroup. */
struct vm_entry {
	/* Unique among entries: decide() keys its state by it, so two
	 * cgroups that decode to one name get "name~2" (see unique_name). */
	char name[VM_NAME_MAX];
	char decoded[VM_NAME_MAX]; /* what the policy globs match */
	char cgroup[CGROUP_PATH_MAX];
	bool present;	/* seen this tick */
	bool announced; /* "appeared" logged: its signals were read once */
	int read_err;	/* the last read's error, logged once per cause */
	bool unmatched_logged;
	bool have_prev;
	unsigned int since_full; /* ticks since every file was read */
	struct vm_signals prev;
	struct decision_ring recent;
	char *recent_json; /* state_recent_json(&recent), or NULL: stale */
	/* The match step's result, valid while class_gen is the policy's
	 * generation: policy_match() runs when a VM appears and after a
	 * reload, and acquire, decide, PSI triggers and publish all use it. */
	const struct policy_class *class;
	unsigned int class_gen;
	char why[256];
	sd_event_source *psi; /* memory.pressure trigger, or NULL */
	bool psi_tried;
};

/* The command line's overrides of balancerd.json, kept for reloads. */
struct balancer_overrides {
	bool policy_dir, state_file, driver_path, log_target;
	char policy_dir_v[PATH_MAX], state_file_v[PATH_MAX],
		driver_path_v[PATH_MAX];
	bool dry_run; /* true forces it */
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

	/* Per tick, indexed like vms[]. */
	struct vm_signals *vms;
	size_t n_vms, cap_vms;
	const struct policy_class **classes;
	struct vm_entry **entry_of;

	struct vm_entry *entries;
	size_t n_entries, cap_entries;

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
	usec_t last_tick;
	usec_t tick_now; /* @now of the tick being run */
	bool psi_skip_logged;
	int publish_err, host_err; /* last errors, to log each cause once */
	char last_error[256];	   /* why the latest tick failed, or "" */
	time_t last_ok;		   /* wall clock of the last good tick */
	char slice_warned[CGROUP_PATH_MAX]; /* the last slice skipped */
	usec_t watchdog_usec, last_ping;    /* 0: no watchdog */
	pthread_mutex_t ping_lock;	    /* last_ping, from act workers */
	unsigned int act_workers;	    /* threads for a tick's actions */
	unsigned int n_vm_triggers;
	bool trigger_cap_logged;
};

/* ---- small helpers ---------------------------------------------------- */

static const char *root_prefix(const struct balancer *b)
{
	return strcmp(b->root, "/") ? b->root : "";
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

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

/* ---- setup ------------------------------------------------------------ */

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

		log_field_set(&f, "DRIVER_PATH", "%s", b->driver_path);
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
	    snprintf(path, sizeof(path), "%s%s", root_prefix(b),
		     b->cfg.metrics_file) >= (int)sizeof(path)) {
		log_warning("metrics file %s%s: path too long, no metrics",
			    root_prefix(b), b->cfg.metrics_file);
		path[0] = '\0';
	}
	if (strcmp(path, b->metrics.path) ||
	    b->cfg.metrics_interval != b->metrics.interval)
		metrics_writer_init(&b->metrics, path, b->cfg.metrics_interval);
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
	log_info("started: config %s, policies %s (%zu classes), interval "
		 "%" PRIu64 " ms%s",
		 b->config_path, b->policy_dir, b->policy.n_classes,
		 (uint64_t)(b->interval / USEC_PER_MSEC),
		 b->dry_run ? ", dry run" : "");
	*ret = b;
	return 0;
}

static void entry_drop_psi(struct vm_entry *e)
{
	e->psi = sd_event_source_disable_unref(e->psi);
}

static void entry_clear(struct balancer *b, struct vm_entry *e)
{
	if (e->psi && b->n_vm_triggers)
		b->n_vm_triggers--;
	entry_drop_psi(e);
	free(e->recent_json);
	e->recent_json = NULL;
}

void balancer_free(struct balancer *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_entries; i++)
		entry_clear(b, &b->entries[i]);
	free(b->entries);
	free(b->vms);
	free(b->classes);
	free(b->entry_of);
	tick_output_free(&b->out);
	balancer_state_free(&b->state);
	ovcmem_client_free(b->ovc);
	policy_free(&b->policy);
	daemon_config_free(&b->cfg);
	sd_event_source_disable_unref(b->timer);
	sd_event_source_disable_unref(b->deferred);
	sd_event_source_disable_unref(b->host_psi);
	sd_event_source_disable_unref(b->watch);
	sd_event_source_disable_unref(b->settle);
	sd_event_unref(b->event);
	pthread_mutex_destroy(&b->ping_lock);
	free(b);
}

static void reload_failed(struct balancer *b, const char *what,
			  const struct policy_errors *errs, size_t n_errors)
{
	struct log_field f[2];

	log_policy_errors(errs, LOG_ERR);
	log_field_set(&f[0], "POLICY_DIR", "%s", b->policy_dir);
	log_field_set(&f[1], "ERRORS", "%zu", n_errors);
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

static int watch_policy_dir(struct balancer *b);
static void match_classes(struct balancer *b);

/* Take @cfg (moved in) and what follows from it; @st is its settings. */
static void apply_config(struct balancer *b, struct daemon_config *cfg,
			 const struct settings *st, char *changed, size_t len)
{
	bool dir_changed = strcmp(st->policy_dir, b->policy_dir) != 0;
	bool driver_changed = strcmp(st->driver_path, b->driver_path) != 0;

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
	if (driver_changed) {
		ovcmem_client_free(b->ovc);
		b->ovc = NULL;
		driver_open(b);
	}
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
		b->entries[i].unmatched_logged = false;
	/* The last tick's classes[] pointed into the policy just freed, and
	 * a failed tick publishes them: match again now. */
	match_classes(b);
	b->interval = effective_interval(b);
	log_field_set(&f[0], "POLICY_DIR", "%s", b->policy_dir);
	log_field_set(&f[1], "CLASSES", "%zu", b->policy.n_classes);
	log_field_set(&f[2], "CONFIG", "%s", b->config_path);
	log_send(LOG_INFO, MSGID_RELOAD_OK, f, 3,
		 "policy reloaded from %s: %zu classes; %s re-read (%s%s)",
		 b->policy_dir, b->policy.n_classes, b->config_path,
		 changed[0] ? "changed: " : "no setting changed", changed);
out:
	daemon_config_free(&cfg);
	policy_errors_free(&errs);
	return r;
}

/* ---- per-VM bookkeeping ---------------------------------------------- */

/*
 * entries[] is kept sorted by cgroup, so that finding a VM's entry is a
 * binary search: with 1000 VMs a linear one is half a million strcmp()s
 * per tick.
 */
static size_t entry_pos(const struct balancer *b, const char *cgroup,
			bool *found)
{
	size_t lo = 0, hi = b->n_entries;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->entries[mid].cgroup, cgroup);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct vm_entry *entry_find(struct balancer *b, const char *cgroup)
{
	bool found;
	size_t i = entry_pos(b, cgroup, &found);

	return found ? &b->entries[i] : NULL;
}

static bool name_taken(const struct balancer *b, const char *name)
{
	for (size_t i = 0; i < b->n_entries; i++)
		if (!strcmp(b->entries[i].name, name))
			return true;
	return false;
}

/*
 * A name no other entry has, for the VM of a new entry: @decoded itself,
 * else "@decoded~N" with the first free N from 2 (cut to fit), so that an
 * LXC and a QEMU domain both called "web", or two names cut at
 * VM_NAME_MAX, keep apart in decide()'s state, the totals and the state
 * file, and an admin sees which is which. Linear in the entries, only
 * when a VM appears.
 */
static void unique_name(const struct balancer *b, const char *decoded,
			char *name, size_t len)
{
	copy_str(name, len, decoded);
	for (unsigned int n = 2; name_taken(b, name) && n < UINT_MAX; n++) {
		char suffix[16];
		int k = snprintf(suffix, sizeof(suffix), "~%u", n);
		size_t keep = len - 1 - (size_t)k;

		snprintf(name, len, "%.*s%s", (int)keep, decoded, suffix);
	}
}

/* Insert in order. Moves entries: pointers to them are stale after. */
static struct vm_entry *entry_add(struct balancer *b, const char *cgroup,
				  const char *decoded)
{
	char name[VM_NAME_MAX];

	struct vm_entry *e;
	bool found;
	size_t i;

	unique_name(b, decoded, name, sizeof(name));
	if (b->n_entries == b->cap_entries) {
		size_t cap = b->cap_entries ? b->cap_entries * 2 : 16;
		struct vm_entry *p = realloc(b->entries, cap * sizeof(*p));

		if (!p)
			return NULL;
		b->entries = p;
		b->cap_entries = cap;
	}
	i = entry_pos(b, cgroup, &found);
	memmove(&b->entries[i + 1], &b->entries[i],
		(b->n_entries - i) * sizeof(*b->entries));
	b->n_entries++;
	e = &b->entries[i];
	memset(e, 0, sizeof(*e));
	copy_str(e->cgroup, sizeof(e->cgroup), cgroup);
	copy_str(e->name, sizeof(e->name), name);
	copy_str(e->decoded, sizeof(e->decoded), decoded);
	return e;
}

static int grow_tick_arrays(struct balancer *b, size_t n)
{
	void *p;

	if (n <= b->cap_vms)
		return 0;
	n = n < 16 ? 16 : n * 2;
	p = realloc(b->vms, n * sizeof(*b->vms));
	if (!p)
		return -ENOMEM;
	b->vms = p;
	p = realloc(b->classes, n * sizeof(*b->classes));
	if (!p)
		return -ENOMEM;
	b->classes = p;
	p = realloc(b->entry_of, n * sizeof(*b->entry_of));
	if (!p)
		return -ENOMEM;
	b->entry_of = p;
	b->cap_vms = n;
	return 0;
}

static void psi_trigger_vm(struct balancer *b, struct vm_entry *e);
static void ping_watchdog(void *userdata);
static unsigned int cold_ticks(const struct balancer *b,
			       const struct policy_class *c);

/*
 * A VM whose files cannot be read (garbage in memory.stat, a file that
 * is not one): said once per cause, not once a tick, and when it is
 * readable again. The entry keeps the cause while the cgroup exists.
 */
static void note_read_error(struct vm_entry *e, int r)
{
	if (r == e->read_err)
		return;
	e->read_err = r;
	if (r < 0)
		log_warning_errno(r,
				  "cannot read signals of cgroup %s, "
				  "skipping it until it is readable",
				  e->cgroup);
	else
		log_info("signals of cgroup %s readable again", e->cgroup);
}

static void vm_collect_ovcmem(struct balancer *b, const struct vm_entry *e,
			      struct vm_signals *v)
{
	const struct ovcmem_part *p =
		ovcmem_client_find_cgroup(b->ovc, e->cgroup);
	int r;

	if (!p)
		return;
	r = ovcmem_client_collect(
		b->ovc, p->id, cold_ticks(b, e->class), b->tick_now,
		b->interval ? b->interval : BALANCER_DEFAULT_INTERVAL,
		&v->ovcmem);
	if (r < 0 && r != -ENOENT) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_OVCMEM);
		log_warning_errno(r,
				  "%s: ovcmem partition %" PRIu64 " unreadable",
				  v->name, p->id);
	}
	if (p->owner_pid > 0)
		v->pid = p->owner_pid;
}

/* The match step of one VM: its class under the current policy. */
static void entry_match(struct balancer *b, struct vm_entry *e)
{
	if (e->class_gen == b->policy_gen)
		return;
	e->class = policy_match(&b->policy, e->decoded, e->why, sizeof(e->why));
	e->class_gen = b->policy_gen;
}

/* The entry of @cgroup, added (and matched) when the VM is new. */
static struct vm_entry *entry_get(struct balancer *b, const char *cgroup)
{
	struct vm_entry *e = entry_find(b, cgroup);
	char decoded[VM_NAME_MAX];

	if (e)
		return e;
	/* As vm_signals_acquire() names it, which it did not when it
	 * failed. */
	if (vm_name_from_cgroup(cgroup, decoded, sizeof(decoded)) < 0)
		copy_str(decoded, sizeof(decoded), cgroup);
	/* entry_add may move entries: re-find pointers after it. */
	return entry_add(b, cgroup, decoded);
}

/* Read one VM's signals into vms[n_vms]; a vanished cgroup is skipped. */
static int acquire_vm(struct balancer *b, const char *cgroup)
{
	struct vm_entry *e;
	struct vm_signals *v;
	bool hot;
	int r;

	r = grow_tick_arrays(b, b->n_vms + 1);
	if (r < 0)
		return r;
	e = entry_get(b, cgroup);
	if (!e)
		return -ENOMEM;
	entry_match(b, e);
	v = &b->vms[b->n_vms];
	hot = e->have_prev && e->since_full < FULL_READ_EVERY;
	r = vm_signals_acquire_flags(b->root, b->cfg.cgroup_root, cgroup,
				     e->have_prev ? &e->prev : NULL,
				     hot ? VM_ACQUIRE_HOT_ONLY : 0, v);
	if (r == -ENOENT)
		return 0; /* gone mid-tick: "vanished" is logged below */
	e->present = true;
	note_read_error(e, r < 0 ? r : 0);
	if (r < 0) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_CGROUP);
		return 0;
	}
	/* decide() and the state file know the VM by its unique name. */
	copy_str(v->name, sizeof(v->name), e->name);
	if (!e->announced) {
		struct log_field f[2];

		e->announced = true;
		log_field_set(&f[0], "VM", "%s", v->name);
		log_field_set(&f[1], "CGROUP", "%s", cgroup);
		log_send(LOG_INFO, MSGID_VM_APPEARED, f, 2,
			 "%s appeared (cgroup %s)", v->name, cgroup);
	}
	if (b->ovc)
		vm_collect_ovcmem(b, e, v);
	e->prev = *v;
	e->have_prev = true;
	e->since_full = hot ? e->since_full + 1 : 1;
	b->n_vms++;
	return 0;
}

/* Entries not seen this tick: log once and forget, keeping the order. */
static void sweep_vanished(struct balancer *b)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n_entries; i++) {
		struct vm_entry *e = &b->entries[i];
		struct log_field f[2];

		if (e->present) {
			if (k != i)
				b->entries[k] = *e;
			k++;
			continue;
		}
		if (e->announced) {
			log_field_set(&f[0], "VM", "%s", e->name);
			log_field_set(&f[1], "CGROUP", "%s", e->cgroup);
			log_send(LOG_INFO, MSGID_VM_VANISHED, f, 2,
				 "%s vanished (cgroup %s)", e->name, e->cgroup);
		}
		entry_clear(b, e);
	}
	b->n_entries = k;
}

static int discover(struct balancer *b)
{
	struct vm_list list = {0};
	int r;

	r = discover_vms(b->root, b->cfg.cgroup_root, b->cfg.vm_globs,
			 b->cfg.n_vm_globs, &list);
	if (r < 0)
		return r; /* tick_failed() says it */
	if (list.n_slices && strcmp(list.slice, b->slice_warned))
		log_warning("vm_globs match %zu slice%s (%s%s): slices group "
			    "units, they are not VMs, and are left out; "
			    "narrow vm_globs in %s",
			    list.n_slices, list.n_slices == 1 ? "" : "s",
			    list.slice, list.n_slices > 1 ? ", ..." : "",
			    b->config_path);
	copy_str(b->slice_warned, sizeof(b->slice_warned),
		 list.n_slices ? list.slice : "");
	if (b->ovc) {
		r = ovcmem_client_refresh(b->ovc);
		if (r < 0) {
			metrics_count_error(&b->totals.metrics,
					    ERROR_SOURCE_OVCMEM);
			log_warning_errno(r, "cannot list ovcmem partitions");
		}
	}
	for (size_t i = 0; i < b->n_entries; i++)
		b->entries[i].present = false;
	b->n_vms = 0;
	r = 0;
	for (size_t i = 0; i < list.n && r == 0; i++) {
		r = acquire_vm(b, list.cgroups[i]);
		ping_watchdog(b);
	}
	/* Partitions whose owner lives outside the configured globs are
	 * VMs too. */
	for (size_t i = 0; r == 0 && i < ovcmem_client_count(b->ovc); i++) {
		const struct ovcmem_part *p = ovcmem_client_get(b->ovc, i);

		if (p->cgroup[0] && vm_list_lookup(&list, p->cgroup) < 0)
			r = acquire_vm(b, p->cgroup);
	}
	vm_list_free(&list);
	if (r < 0) {
		/* entry_add() may have moved entries: this tick's VMs must
		 * not be published with stale entry_of[] pointers. */
		b->n_vms = 0;
		return r;
	}
	sweep_vanished(b);
	/* entries[] is stable from here to the end of the tick. */
	for (size_t i = 0; i < b->n_vms; i++) {
		b->entry_of[i] = entry_find(b, b->vms[i].cgroup);
		if (b->event)
			psi_trigger_vm(b, b->entry_of[i]);
	}
	return 0;
}

static void match_classes(struct balancer *b)
{
	for (size_t i = 0; i < b->n_vms; i++) {
		struct vm_entry *e = b->entry_of[i];
		const struct vm_signals *v = &b->vms[i];
		struct log_field f[1];

		entry_match(b, e);
		b->classes[i] = e->class;
		if (b->classes[i] || e->unmatched_logged)
			continue;
		e->unmatched_logged = true;
		if (!e->why[0])
			copy_str(e->why, sizeof(e->why), "no class matched");
		log_field_set(&f[0], "VM", "%s", v->name);
		log_send(LOG_WARNING, MSGID_VM_UNMATCHED, f, 1,
			 "%s matches no policy class: left alone", v->name);
	}
}

/* ---- act and log ------------------------------------------------------ */

static void log_mode(struct balancer *b, const struct tick_output *out)
{
	struct log_field f[4];
	int prio;

	if (b->mode_known && out->mode == b->mode)
		return;
	prio = out->mode == MODE_CRITICAL ? LOG_WARNING : LOG_NOTICE;
	log_field_set(&f[0], "MODE", "%s", host_mode_name(out->mode));
	log_field_set(&f[1], "PREVIOUS_MODE", "%s",
		      b->mode_known ? host_mode_name(b->mode) : "none");
	log_field_set(&f[2], "REASON", "%s", out->mode_reason);
	log_field_set(&f[3], "MEM_AVAILABLE", "%" PRIu64,
		      b->host.mem_available);
	log_send(prio, MSGID_MODE_CHANGE, f, 4, "mode %s: %s",
		 host_mode_name(out->mode), out->mode_reason);
	b->mode = out->mode;
	b->mode_known = true;
}

static void log_action(const struct balancer *b, const struct action *a,
		       const struct vm_signals *v, const struct policy_class *c,
		       const struct act_result *res)
{
	char req[32], done[32], line[160];
	struct log_field f[20];
	size_t n = 0;
	int prio = LOG_INFO;

	format_size(a->bytes == MEMORY_UNLIMITED ? 0 : a->bytes, req,
		    sizeof(req));
	if (a->bytes == MEMORY_UNLIMITED)
		copy_str(req, sizeof(req), "max");
	format_size(res->bytes_done, done, sizeof(done));
	if (res->dry_run) {
		snprintf(line, sizeof(line), "(dry run)");
	} else if (res->error == -ENOENT) {
		/* The VM went away between reading and acting: not an error,
		 * and its "vanished" entry follows. */
		snprintf(line, sizeof(line), "(skipped: VM gone)");
	} else if (res->error) {
		snprintf(line, sizeof(line), "(failed: %s)",
			 strerror(-res->error));
		prio = LOG_WARNING;
	} else if (res->partial && a->kind == ACTION_PAGEOUT) {
		char adv[32];

		format_size(res->bytes_advised, adv, sizeof(adv));
		if (res->out_of_time)
			snprintf(line, sizeof(line),
				 "(partial: %s advised in the time of one "
				 "action, done %s; the rest next tick)",
				 adv, done);
		else
			snprintf(line, sizeof(line),
				 "(partial: done %s of %s advised, the rest "
				 "stayed resident)",
				 done, adv);
	} else if (res->partial) {
		snprintf(line, sizeof(line), "(partial: done %s)", done);
	} else {
		snprintf(line, sizeof(line), "(done %s)", done);
	}
	if (a->mode == MODE_CRITICAL)
		prio = LOG_WARNING;

	log_field_set(&f[n++], "VM", "%s", v->name);
	log_field_set(&f[n++], "POLICY", "%s", c ? c->name : "");
	log_field_set(&f[n++], "ACTION", "%s", action_kind_name(a->kind));
	log_field_set(&f[n++], "BYTES_REQUESTED", "%" PRIu64, a->bytes);
	log_field_set(&f[n++], "BYTES_DONE", "%" PRIu64, res->bytes_done);
	log_field_set(&f[n++], "REASON", "%s", a->reason);
	log_field_set(&f[n++], "MODE", "%s", host_mode_name(a->mode));
	log_field_set(&f[n++], "PSI_SOME_AVG10", "%.2f",
		      b->host.psi.some.avg10);
	log_field_set(&f[n++], "PSI_FULL_AVG10", "%.2f",
		      b->host.psi.full.avg10);
	log_field_set(&f[n++], "MEM_AVAILABLE", "%" PRIu64,
		      b->host.mem_available);
	log_field_set(&f[n++], "VM_PRESSURE_SOME_AVG10", "%.2f",
		      v->psi.some.avg10);
	log_field_set(&f[n++], "DRY_RUN", "%d", res->dry_run ? 1 : 0);
	log_field_set(&f[n++], "DURATION_USEC", "%" PRIu64,
		      (uint64_t)res->duration);
	if (res->error)
		log_field_set(&f[n++], "ERRNO", "%d", -res->error);
	if (res->partial)
		log_field_set(&f[n++], "PARTIAL", "1");
	if (a->kind == ACTION_PAGEOUT && !res->dry_run)
		log_field_set(&f[n++], "BYTES_ADVISED", "%" PRIu64,
			      res->bytes_advised);
	log_send(prio, MSGID_ACTION, f, n, "%s %s %s %s mode=%s: %s", v->name,
		 action_kind_name(a->kind), req, line, host_mode_name(a->mode),
		 a->reason);
}

static void account(struct balancer *b, const struct action *a,
		    const struct act_result *res)
{
	b->totals.actions++;
	metrics_count_action(
		&b->totals.metrics, a->kind,
		action_outcome_of(res->error, res->partial, res->dry_run));
	if (res->error && res->error != -ENOENT) {
		b->totals.errors++;
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_ACTION);
	}
	if (a->kind == ACTION_RECLAIM)
		b->totals.reclaimed += res->bytes_done;
	else if (a->kind == ACTION_PAGEOUT)
		b->totals.paged_out += res->bytes_done;
	else if (a->kind == ACTION_PREFAULT)
		b->totals.prefaulted += res->bytes_done;
}

static unsigned int cold_ticks(const struct balancer *b,
			       const struct policy_class *c)
{
	return c ? usec_to_ticks(c->cold_age, b->interval) : UINT_MAX;
}

/*
 * Between actions, and between the slices of a large one: a tick that
 * pages out hundreds of MiB may outlast WatchdogSec while making steady
 * progress. The event loop pings between ticks (sd_event_set_watchdog).
 */
static void ping_watchdog(void *userdata)
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

static struct act_context act_context_of(struct balancer *b)
{
	return (struct act_context){
		.root = b->root,
		.cgroup_root = b->cfg.cgroup_root,
		.dry_run = b->dry_run,
		.ovcmem = b->ovc,
		.write = b->write,
		.write_userdata = b->write_userdata,
		.progress = ping_watchdog,
		.progress_userdata = b,
	};
}

/* Action @i, in a worker thread: only that VM's state is touched. */
static void act_one(size_t i, struct act_result *res, void *userdata)
{
	struct balancer *b = userdata;
	const struct action *a = &b->out.actions[i];
	struct act_context ctx = act_context_of(b);

	if (a->vm >= b->n_vms) {
		res->error = -EINVAL; /* logged by act_done() */
		return;
	}
	ctx.cold_ticks = cold_ticks(b, b->classes[a->vm]);
	if (a->min_idle)
		ctx.cold_ticks = usec_to_ticks(a->min_idle, b->interval);
	(void)act_execute(&ctx, a, &b->vms[a->vm], res); /* res says it */
}

/* Action @i is done: log and account, in list order, single-threaded. */
static void act_done(size_t i, const struct act_result *res, void *userdata)
{
	struct balancer *b = userdata;
	const struct action *a = &b->out.actions[i];
	struct decision_record rec = {0};
	const struct vm_signals *v;
	const struct policy_class *c;
	char sz[32];

	if (a->vm >= b->n_vms) {
		log_error("decide() named VM #%zu of %zu: action dropped",
			  a->vm, b->n_vms);
		return;
	}
	v = &b->vms[a->vm];
	c = b->classes[a->vm];
	ping_watchdog(b);
	log_action(b, a, v, c, res);
	account(b, a, res);
	if (!res->dry_run)
		decide_account(&b->state, v->name, a->kind, res->bytes_done,
			       b->tick_now);
	/* Read back what we set, next tick. */
	if (a->kind == ACTION_SET_HIGH || a->kind == ACTION_SET_LOW)
		b->entry_of[a->vm]->since_full = FULL_READ_EVERY;
	rec.when = time(NULL);
	rec.kind = a->kind;
	rec.mode = a->mode;
	rec.bytes_requested = a->bytes;
	rec.bytes_done = res->bytes_done;
	rec.error = res->error;
	rec.partial = res->partial;
	rec.dry_run = res->dry_run;
	copy_str(rec.reason, sizeof(rec.reason), a->reason);
	decision_ring_push(&b->entry_of[a->vm]->recent, &rec);
	free(b->entry_of[a->vm]->recent_json);
	b->entry_of[a->vm]->recent_json = NULL;
	format_size(a->bytes == MEMORY_UNLIMITED ? 0 : a->bytes, sz,
		    sizeof(sz));
	snprintf(b->last_action, sizeof(b->last_action), "%s %s %s", v->name,
		 action_kind_name(a->kind),
		 a->bytes == MEMORY_UNLIMITED ? "max" : sz);
}

/*
 * Several VMs' actions at once (act_pool.h), one thread per CPU up to
 * the pool's limit, when at least two VMs have CPU-heavy actions
 * (PAGEOUT, PREFAULT: a file write to memory.reclaim or memory.high
 * costs less than handing it to a thread). One by one when a test hook
 * writes the cgroup files (it is not thread-safe) or when the vm_of
 * array cannot be allocated.
 */
static void act_all(struct balancer *b)
{
	size_t n = b->out.n_actions, heavy = 0, last_heavy = SIZE_MAX;
	size_t *vm_of = calloc(n ? n : 1, sizeof(*vm_of));
	unsigned int workers = b->write ? 1 : b->act_workers;

	for (size_t i = 0; i < n; i++) {
		const struct action *a = &b->out.actions[i];

		if ((a->kind == ACTION_PAGEOUT || a->kind == ACTION_PREFAULT) &&
		    a->vm != last_heavy) {
			heavy++;
			last_heavy = a->vm;
		}
	}
	if (!vm_of || heavy < 2)
		workers = 1;
	for (size_t i = 0; vm_of && i < n; i++)
		vm_of[i] = b->out.actions[i].vm;
	if (workers <= 1) {
		for (size_t i = 0; i < n; i++) {
			struct act_result res = {0};

			act_one(i, &res, b);
			act_done(i, &res, b);
		}
	} else {
		act_pool_run(n, vm_of, workers, act_one, act_done,
			     ping_watchdog, b);
	}
	free(vm_of);
}

/* ---- publish ---------------------------------------------------------- */

char *balancer_status(const struct balancer *b, char *buf, size_t len)
{
	char rec[32];

	format_size(b->totals.reclaimed, rec, sizeof(rec));
	if (b->last_error[0]) {
		snprintf(buf, len, "failing: %s", b->last_error);
		return buf;
	}
	snprintf(buf, len, "mode %s, %zu VMs, reclaimed %s%s%s%s",
		 host_mode_name(b->mode), b->n_vms, rec,
		 b->last_action[0] ? ", last: " : "", b->last_action,
		 b->dry_run ? " (dry run)" : "");
	return buf;
}

static void log_summary(struct balancer *b, usec_t now)
{
	char status[256], pre[32];
	struct log_field f[7];

	if (b->last_summary &&
	    now - b->last_summary < BALANCER_SUMMARY_INTERVAL)
		return;
	if (!b->last_summary) {
		/* The first summary comes one interval after start. */
		b->last_summary = now;
		return;
	}
	b->last_summary = now;
	format_size(b->totals.prefaulted, pre, sizeof(pre));
	log_field_set(&f[0], "MODE", "%s", host_mode_name(b->mode));
	log_field_set(&f[1], "VMS", "%zu", b->n_vms);
	log_field_set(&f[2], "RECLAIMED_TOTAL", "%" PRIu64,
		      b->totals.reclaimed);
	log_field_set(&f[3], "PREFAULTED_TOTAL", "%" PRIu64,
		      b->totals.prefaulted);
	log_field_set(&f[4], "ACTIONS_TOTAL", "%" PRIu64, b->totals.actions);
	log_field_set(&f[5], "ERRORS_TOTAL", "%" PRIu64, b->totals.errors);
	log_field_set(&f[6], "MEM_AVAILABLE", "%" PRIu64,
		      b->host.mem_available);
	log_send(LOG_INFO, MSGID_SUMMARY, f, 7, "summary: %s, prefaulted %s",
		 balancer_status(b, status, sizeof(status)), pre);
}

static int cmp_vm_state(const void *a, const void *b)
{
	const struct vm_state *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* decide()'s state of each VM of this tick, by a sorted index: a linear
 * balancer_state_find() per VM is quadratic in the number of VMs. */
static int find_states(struct balancer *b, const struct vm_state **ret)
{
	const struct vm_state **idx;
	size_t n = b->state.n_vms;

	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		idx[i] = &b->state.vms[i];
	qsort(idx, n, sizeof(*idx), cmp_vm_state);
	for (size_t i = 0; i < b->n_vms; i++) {
		struct vm_state key, *kp = &key;
		const struct vm_state **hit;

		copy_str(key.name, sizeof(key.name), b->vms[i].name);
		hit = bsearch(&kp, idx, n, sizeof(*idx), cmp_vm_state);
		ret[i] = hit ? *hit : NULL;
	}
	free(idx);
	return 0;
}

/* After the tick at monotonic time @now (which paces the metrics file). */
static int publish(struct balancer *b, usec_t now)
{
	const struct vm_state **vs = NULL;
	const struct decision_ring **rings = NULL;
	const char **why = NULL, **recent_json = NULL;
	uint64_t *cold = NULL;
	struct state_snapshot s = {0};
	bool metrics_due = metrics_writer_due(&b->metrics, now);
	int r = -ENOMEM;

	if (!b->state_file[0] && !metrics_due)
		return 0;
	if (b->n_vms) {
		vs = calloc(b->n_vms, sizeof(*vs));
		rings = calloc(b->n_vms, sizeof(*rings));
		why = calloc(b->n_vms, sizeof(*why));
		cold = calloc(b->n_vms, sizeof(*cold));
		recent_json = calloc(b->n_vms, sizeof(*recent_json));
		if (!vs || !rings || !why || !cold || !recent_json)
			goto out;
	}
	if (b->n_vms && find_states(b, vs) < 0)
		goto out;
	for (size_t i = 0; i < b->n_vms; i++) {
		struct vm_entry *e = b->entry_of[i];

		/* NULL on -ENOMEM: then built in place. */
		if (!e->recent_json)
			e->recent_json = state_recent_json(&e->recent);
		recent_json[i] = e->recent_json;
		rings[i] = &b->entry_of[i]->recent;
		why[i] = b->entry_of[i]->why;
		if (!decide_cold_bytes(&b->vms[i], b->classes[i], b->interval,
				       &cold[i]))
			cold[i] = UINT64_MAX; /* unknown */
	}
	s.now = time(NULL);
	s.dry_run = b->dry_run;
	s.mode = b->mode;
	s.mode_reason = b->mode_reason;
	s.policy_dir = b->policy_dir;
	s.host = &b->host;
	s.n_vms = b->n_vms;
	s.vms = b->vms;
	s.classes = b->classes;
	s.match_why = why;
	s.vm_states = vs;
	s.recent = rings;
	s.cold_bytes = cold;
	s.recent_json = recent_json;
	s.totals = b->totals;
	s.driver_present = b->ovc != NULL;
	s.interval = b->interval;
	s.last_error = b->last_error[0] ? b->last_error : NULL;
	s.last_ok = b->last_ok;
	r = b->state_file[0] ? state_publish_snapshot(b->state_file, &s) : 0;
	if (metrics_due && metrics_writer_publish(&b->metrics, &s) < 0)
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_METRICS);
out:
	/* Said once per cause, not once a second, and when it recovers. */
	if (r < 0 && r != b->publish_err)
		log_warning("cannot publish state to %s (balancerctl will not "
			    "see it): %s",
			    b->state_file,
			    r == -ENOTREGULAR
				    ? "something other than a regular "
				      "file is there, left alone"
			    : r == -EPERM ? "its directory is not ours, or "
					    "others may write to it"
					  : strerror(-r));
	else if (r == 0 && b->publish_err)
		log_info("state published to %s again", b->state_file);
	if (r < 0)
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_STATE);
	b->publish_err = r;
	free(vs);
	free(rings);
	free(why);
	free(cold);
	free(recent_json);
	return r;
}

/* ---- the tick --------------------------------------------------------- */

/* Why this tick decides nothing: logged once per cause, published
 * every tick until it is gone. */
static int tick_failed(struct balancer *b, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int tick_failed(struct balancer *b, int r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(b->last_error, sizeof(b->last_error), fmt, ap);
	va_end(ap);
	n = strlen(b->last_error);
	snprintf(b->last_error + n, sizeof(b->last_error) - n, ": %s",
		 strerror(-r));
	if (r != b->host_err)
		log_error("%s: no decisions until this is fixed, retried "
			  "every tick",
			  b->last_error);
	b->host_err = r;
	return r;
}

/* One tick's work; a negative errno when nothing could be decided. */
static int tick_run(struct balancer *b, usec_t now)
{
	struct tick_input in = {0};
	int r;

	r = host_signals_acquire(b->root, &b->host);
	if (r < 0) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_HOST);
		return tick_failed(b, r, "cannot read host signals below %s",
				   b->root);
	}
	b->tick_now = now;
	r = discover(b);
	if (r < 0) {
		metrics_count_error(&b->totals.metrics, ERROR_SOURCE_CGROUP);
		return tick_failed(b, r, "cannot discover VMs below %s%s",
				   root_prefix(b), b->cfg.cgroup_root);
	}
	match_classes(b);

	in.now = now;
	in.host = &b->host;
	in.vms = b->vms;
	in.n_vms = b->n_vms;
	in.classes = b->classes;
	in.interval = b->interval;
	tick_output_reset(&b->out);
	r = decide(&b->state, &b->policy, &in, &b->out);
	if (r < 0)
		return tick_failed(b, r, "decide failed");
	if (b->host_err)
		log_info("ticks decide again (%s is over)", b->last_error);
	b->host_err = 0;
	b->last_error[0] = '\0';
	log_mode(b, &b->out);
	copy_str(b->mode_reason, sizeof(b->mode_reason), b->out.mode_reason);
	act_all(b);
	return 0;
}

int balancer_tick_at(struct balancer *b, usec_t now)
{
	usec_t started = now_monotonic();
	int r = tick_run(b, now);

	metrics_count_tick(&b->totals.metrics, now_monotonic() - started);

	/* A failed tick is a tick: counted (--ticks N ends), published
	 * (the state file says why and how old its data is). */
	if (r < 0) {
		b->totals.failed_ticks++;
	} else {
		b->totals.ticks++;
		b->last_ok = time(NULL);
		log_summary(b, now);
	}
	publish(b, now);
	return r;
}

uint64_t balancer_ticks_run(const struct balancer *b)
{
	return b->totals.ticks + b->totals.failed_ticks;
}

int balancer_tick(struct balancer *b)
{
	return balancer_tick_at(b, now_monotonic());
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

/* ---- the event loop --------------------------------------------------- */

static int run_tick(struct balancer *b)
{
	char status[256];

	b->last_tick = now_monotonic();
	/* A failed tick is published and retried next time, not fatal. */
	(void)balancer_tick_at(b, b->last_tick);
	sd_notifyf(false, "STATUS=%s",
		   balancer_status(b, status, sizeof(status)));
	if (b->max_ticks && balancer_ticks_run(b) >= b->max_ticks)
		return sd_event_exit(b->event, 0);
	return 0;
}

static int on_deferred(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	return run_tick(userdata);
}

/* A pressure trigger fired: tick now, or as soon as the rate allows. */
static int request_tick(struct balancer *b)
{
	usec_t now = now_monotonic();
	int r;

	if (now - b->last_tick >= BALANCER_MIN_TICK_GAP)
		return run_tick(b);
	if (b->deferred) {
		int enabled = SD_EVENT_OFF;

		sd_event_source_get_enabled(b->deferred, &enabled);
		if (enabled != SD_EVENT_OFF)
			return 0;
		r = sd_event_source_set_time(
			b->deferred, b->last_tick + BALANCER_MIN_TICK_GAP);
		if (r >= 0)
			r = sd_event_source_set_enabled(b->deferred,
							SD_EVENT_ONESHOT);
		return r;
	}
	return sd_event_add_time(b->event, &b->deferred, CLOCK_MONOTONIC,
				 b->last_tick + BALANCER_MIN_TICK_GAP, 0,
				 on_deferred, b);
}

static int on_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct balancer *b = userdata;

	(void)fd;
	if (revents & EPOLLERR) {
		/* The cgroup went away; its entry is swept next tick. */
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return 0;
	}
	return request_tick(b);
}

/*
 * Arm a PSI trigger on @path. Returns 1 and *@ret, 0 when the file cannot
 * carry a trigger (a fixture tree's regular file, or a kernel without
 * PSI), or a negative errno.
 */
static int psi_trigger(struct balancer *b, const char *path, usec_t stall,
		       sd_event_source **ret)
{
	char trig[64];
	struct statfs sfs;
	int fd, r;

	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == EACCES ? 0 : -errno;
	if (fstatfs(fd, &sfs) < 0 ||
	    ((unsigned long)sfs.f_type != PROC_SUPER_MAGIC &&
	     (unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)) {
		/* Writing a trigger into a fixture would overwrite it. */
		close(fd);
		if (!b->psi_skip_logged)
			log_debug("%s is not a kernel pressure file: PSI "
				  "triggers off, steady ticks only",
				  path);
		b->psi_skip_logged = true;
		return 0;
	}
	if (stall < PSI_MIN_STALL_US)
		stall = PSI_MIN_STALL_US;
	snprintf(trig, sizeof(trig), "some %" PRIu64 " %" PRIu64, stall,
		 (uint64_t)PSI_WINDOW_US);
	if (write(fd, trig, strlen(trig) + 1) < 0) {
		r = -errno;
		close(fd);
		/* Steady ticks still run: a warning, not a failure. */
		log_warning_errno(r, "cannot set PSI trigger on %s", path);
		return 0;
	}
	r = sd_event_add_io(b->event, ret, fd, EPOLLPRI, on_psi, b);
	if (r < 0) {
		close(fd);
		return r;
	}
	sd_event_source_set_io_fd_own(*ret, true);
	return 1;
}

static void psi_trigger_vm(struct balancer *b, struct vm_entry *e)
{
	char path[PATH_MAX];
	const struct policy_class *c;
	usec_t stall = PSI_HOST_STALL_US;
	struct act_context ctx = {.root = b->root,
				  .cgroup_root = b->cfg.cgroup_root};

	if (e->psi_tried || b->psi_skip_logged)
		return;
	e->psi_tried = true;
	/* Each trigger holds a file descriptor for the VM's lifetime. */
	if (b->n_vm_triggers >= MAX_VM_TRIGGERS) {
		if (!b->trigger_cap_logged)
			log_notice("%u VMs have PSI triggers; the others are "
				   "watched by the steady tick only",
				   MAX_VM_TRIGGERS);
		b->trigger_cap_logged = true;
		return;
	}
	if (act_cgroup_path(&ctx, e->cgroup, "memory.pressure", path,
			    sizeof(path)) < 0)
		return;
	/* Wake when the VM's stall reaches its class's pressure target. */
	c = e->class;
	if (c && c->pressure_target > 0)
		stall = (usec_t)(c->pressure_target / 100.0 * PSI_WINDOW_US);
	if (psi_trigger(b, path, stall, &e->psi) == 1)
		b->n_vm_triggers++;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct balancer *b = userdata;
	int r;

	(void)usec;
	r = run_tick(b);
	if (r < 0)
		return r;
	r = sd_event_source_set_time_relative(s, b->interval);
	if (r >= 0)
		r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return r;
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct balancer *b = userdata;

	(void)s;
	(void)usec;
	log_info("policy directory %s changed, reloading", b->policy_dir);
	balancer_reload(b);
	return 0;
}

/*
 * A policy file was written, moved in or removed. Editors and config
 * management write several files, and temp files, in a burst: reload once
 * the directory has been quiet for POLICY_SETTLE.
 */
static int on_policy_change(sd_event_source *s, const struct inotify_event *ev,
			    void *userdata)
{
	struct balancer *b = userdata;
	size_t len = ev->len ? strlen(ev->name) : 0;
	int r;

	(void)s;
	if (len < 5 || strcmp(ev->name + len - 5, ".json") != 0)
		return 0; /* temp files, backups, *.dist */
	if (b->settle) {
		r = sd_event_source_set_time_relative(b->settle, POLICY_SETTLE);
		if (r >= 0)
			r = sd_event_source_set_enabled(b->settle,
							SD_EVENT_ONESHOT);
		return r;
	}
	return sd_event_add_time_relative(b->event, &b->settle, CLOCK_MONOTONIC,
					  POLICY_SETTLE, 0, on_settled, b);
}

/* Watch b->policy_dir (again, after a reload that changed it). */
static int watch_policy_dir(struct balancer *b)
{
	int r;

	b->watch = sd_event_source_disable_unref(b->watch);
	r = sd_event_add_inotify(b->event, &b->watch, b->policy_dir,
				 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
					 IN_DELETE | IN_ONLYDIR,
				 on_policy_change, b);
	if (r < 0)
		log_warning_errno(r,
				  "cannot watch %s: reload with SIGHUP after "
				  "editing policies",
				  b->policy_dir);
	return r;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *userdata)
{
	struct balancer *b = userdata;

	(void)s;
	if (si->ssi_signo == SIGHUP) {
		sd_notify(false, "RELOADING=1");
		balancer_reload(b);
		sd_notify(false, "READY=1");
		return 0;
	}
	log_info("signal %s received, exiting", strsignal((int)si->ssi_signo));
	return sd_event_exit(b->event, 0);
}

/*
 * The soft RLIMIT_NOFILE (1024 by default, for select(2)'s sake) to the
 * hard one: this daemon uses epoll, and a PSI trigger per VM. As systemd
 * recommends for daemons that need more descriptors.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_debug("cannot raise the file descriptor limit: %s",
			  strerror(errno));
}

int balancer_run(struct balancer *b)
{
	char path[PATH_MAX + 32];
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(-errno, "sigprocmask");
	raise_fd_limit();
	r = sd_event_new(&b->event);
	if (r < 0)
		return log_error_errno(r, "cannot create event loop");
	r = sd_event_add_signal(b->event, NULL, SIGTERM, on_signal, b);
	if (r >= 0)
		r = sd_event_add_signal(b->event, NULL, SIGINT, on_signal, b);
	if (r >= 0)
		r = sd_event_add_signal(b->event, NULL, SIGHUP, on_signal, b);
	if (r < 0)
		return log_error_errno(r, "cannot watch signals");
	r = sd_event_add_time_relative(b->event, &b->timer, CLOCK_MONOTONIC,
				       b->interval, b->interval / 20, on_timer,
				       b);
	if (r < 0)
		return log_error_errno(r, "cannot arm the tick timer");
	/* Pings WATCHDOG=1 itself when $WATCHDOG_USEC is set. */
	if (sd_watchdog_enabled(false, &b->watchdog_usec) <= 0)
		b->watchdog_usec = 0;
	r = sd_event_set_watchdog(b->event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog");
	snprintf(path, sizeof(path), "%s/proc/pressure/memory", root_prefix(b));
	watch_policy_dir(b);
	r = psi_trigger(b, path, PSI_HOST_STALL_US, &b->host_psi);
	if (r < 0)
		log_warning_errno(r, "no PSI trigger on %s", path);

	r = run_tick(b); /* the first tick at once, not an interval late */
	if (r < 0)
		return log_error_errno(r, "first tick");
	sd_notify(false, "READY=1");
	if (!b->max_ticks || balancer_ticks_run(b) < b->max_ticks)
		r = sd_event_loop(b->event);
	sd_notify(false, "STOPPING=1");
	if (r < 0)
		return log_error_errno(r, "event loop failed");
	/* --ticks N: the exit status says whether the last one failed. */
	if (b->max_ticks && b->last_error[0]) {
		log_error("the last of %" PRIu64 " ticks failed (%" PRIu64
			  " failed in all): %s",
			  balancer_ticks_run(b), b->totals.failed_ticks,
			  b->last_error);
		return b->host_err < 0 ? b->host_err : -EIO;
	}
	return 0;
}

/* ---- --check ---------------------------------------------------------- */

int balancer_check(const char *config_path, const char *policy_dir,
		   char *const *files, size_t n_files, FILE *out, FILE *err)
{
	struct policy_errors errs = {0};
	struct daemon_config cfg = {0};
	struct policy p = {0};
	bool have_cfg = false;
	const char *what;
	char buf[1024], shown[PATH_MAX * ESCAPE_GROWTH],
		shown2[sizeof(buf) * ESCAPE_GROWTH];
	int r = 0, rc;

	if (n_files) {
		r = policy_load_files((const char *const *)files, n_files, &p,
				      &errs);
		what = n_files == 1 ? files[0] : "the given files";
	} else {
		if (config_path) {
			r = daemon_config_load(config_path, &cfg, &errs);
			have_cfg = r >= 0;
		}
		if (!policy_dir)
			policy_dir = have_cfg ? cfg.policy_dir
					      : "/etc/balancerd/policies.d";
		what = policy_dir;
		if (r >= 0)
			r = policy_load_dir(policy_dir, &p, &errs);
		else {
			/* Still check the policies: report everything. */
			struct policy_errors e2 = {0};

			if (policy_load_dir(policy_dir, &p, &e2) == 0)
				policy_free(&p);
			for (size_t i = 0; i < e2.n; i++) {
				policy_error_format(&e2.items[i], buf,
						    sizeof(buf));
				fprintf(err, "%s\n", buf);
			}
			policy_errors_free(&e2);
		}
	}
	for (size_t i = 0; i < errs.n; i++) {
		policy_error_format(&errs.items[i], buf, sizeof(buf));
		fprintf(err, "%s\n", buf);
	}
	if (r >= 0 && have_cfg &&
	    balancer_settings_check(policy_dir, cfg.state_file, buf,
				    sizeof(buf)) < 0) {
		/* The policies are fine, the settings together are not. */
		fprintf(err, "%s: %s\n",
			escape_text(config_path, shown, sizeof(shown)),
			escape_text(buf, shown2, sizeof(shown2)));
		policy_free(&p);
		r = -EINVAL;
	}
	rc = r;
	escape_text(what, shown, sizeof(shown));
	if (r < 0 && errs.n == 0 && r != -EINVAL)
		fprintf(err, "%s: %s\n", shown, open_strerror(r));
	if (r >= 0) {
		fprintf(out, "%s: ok, %zu class%s\n", shown, p.n_classes,
			p.n_classes == 1 ? "" : "es");
		policy_free(&p);
		rc = 0;
	}
	policy_errors_free(&errs);
	if (have_cfg)
		daemon_config_free(&cfg);
	return rc;
}
