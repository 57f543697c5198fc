// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "metrics.h"
#include "safe_open.h"
#include "state.h"

#ifndef BALANCERD_VERSION
#error "BALANCERD_VERSION comes from debian/changelog (see the Makefile)"
#endif

const double metrics_tick_bucket_le[METRICS_TICK_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1,
};

static const char *const outcome_names[_OUTCOME_MAX] = {
	[OUTCOME_DONE] = "done",       [OUTCOME_PARTIAL] = "partial",
	[OUTCOME_FAILED] = "failed",   [OUTCOME_SKIPPED] = "skipped",
	[OUTCOME_DRY_RUN] = "dry_run",
};

static const char *const source_names[_ERROR_SOURCE_MAX] = {
	[ERROR_SOURCE_HOST] = "host",	  [ERROR_SOURCE_CGROUP] = "cgroup",
	[ERROR_SOURCE_OVCMEM] = "ovcmem", [ERROR_SOURCE_ACTION] = "action",
	[ERROR_SOURCE_STATE] = "state",	  [ERROR_SOURCE_METRICS] = "metrics",
};

const char *action_outcome_name(enum action_outcome o)
{
	return o < _OUTCOME_MAX ? outcome_names[o] : "unknown";
}

const char *error_source_name(enum error_source s)
{
	return s < _ERROR_SOURCE_MAX ? source_names[s] : "unknown";
}

enum action_outcome action_outcome_of(int error, bool partial, bool dry_run)
{
	if (dry_run)
		return OUTCOME_DRY_RUN;
	if (error == -ENOENT)
		return OUTCOME_SKIPPED;
	if (error)
		return OUTCOME_FAILED;
	return partial ? OUTCOME_PARTIAL : OUTCOME_DONE;
}

void metrics_count_action(struct metrics_counters *c, enum action_kind kind,
			  enum action_outcome outcome)
{
	if (kind < _ACTION_MAX && outcome < _OUTCOME_MAX)
		c->actions[kind][outcome]++;
}

void metrics_count_error(struct metrics_counters *c, enum error_source src)
{
	if (src < _ERROR_SOURCE_MAX)
		c->errors[src]++;
}

void metrics_count_tick(struct metrics_counters *c, usec_t duration)
{
	double s = (double)duration / USEC_PER_SEC;
	size_t k = 0;

	while (k < METRICS_TICK_BUCKETS && s > metrics_tick_bucket_le[k])
		k++;
	c->tick_buckets[k]++;
	c->tick_count++;
	c->tick_sum += duration;
	c->tick_last = duration;
}

/* jansson integers are signed: counters past INT64_MAX saturate. */
static json_t *jcount(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX
						    : (json_int_t)v);
}

json_t *metrics_counters_json(const struct metrics_counters *c)
{
	json_t *o = json_object(), *actions = json_object(),
	       *errors = json_object(), *buckets = json_array();
	bool ok = o && actions && errors && buckets;

	for (int k = 0; ok && k < _ACTION_MAX; k++) {
		json_t *by = json_object();

		ok = by &&
		     !json_object_set_new(actions, action_kind_name(k), by);
		for (int m = 0; ok && m < _OUTCOME_MAX; m++)
			ok = !json_object_set_new(by, outcome_names[m],
						  jcount(c->actions[k][m]));
	}
	for (int s = 0; ok && s < _ERROR_SOURCE_MAX; s++)
		ok = !json_object_set_new(errors, source_names[s],
					  jcount(c->errors[s]));
	for (int k = 0; ok && k <= METRICS_TICK_BUCKETS; k++)
		ok = !json_array_append_new(buckets,
					    jcount(c->tick_buckets[k]));
	if (ok)
		ok = !json_object_set_new(o, "daemon_version",
					  json_string(BALANCERD_VERSION)) &&
		     !json_object_set(o, "actions", actions) &&
		     !json_object_set(o, "errors", errors) &&
		     !json_object_set(o, "tick_buckets", buckets) &&
		     !json_object_set_new(o, "tick_count",
					  jcount(c->tick_count)) &&
		     !json_object_set_new(o, "tick_usec_sum",
					  jcount(c->tick_sum)) &&
		     !json_object_set_new(o, "tick_usec_last",
					  jcount(c->tick_last));
	json_decref(actions);
	json_decref(errors);
	json_decref(buckets);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Append @c to the label being built, if it fits; count it anyway. */
static void label_put(char *buf, size_t len, size_t *n, char c)
{
	if (len && *n < len - 1)
		buf[*n] = c;
	(*n)++;
}

size_t metrics_escape_label(char *buf, size_t len, const char *value)
{
	size_t n = 0, left = strlen(value);

	for (const char *p = value; left;) {
		char esc[ESCAPE_SEQ_MAX + 1];
		size_t elen, k;

		if (*p == '\n') {
			/* The format's own escape: two printable bytes. */
			label_put(buf, len, &n, '\\');
			label_put(buf, len, &n, 'n');
			p++;
			left--;
			continue;
		}
		k = escape_next(p, left, esc, &elen);
		for (size_t e = 0; e < elen; e++) {
			if (esc[e] == '\\' || esc[e] == '"')
				label_put(buf, len, &n, '\\');
			label_put(buf, len, &n, esc[e]);
		}
		p += k;
		left -= k;
	}
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

/* ---- formatting -------------------------------------------------------- */

/* The output with its first write error, so that each line need not be
 * checked. */
struct out {
	FILE *f;
	int err;
};

static void outf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->err)
		return;
	va_start(ap, fmt);
	if (vfprintf(o->f, fmt, ap) < 0)
		o->err = errno ? -errno : -EIO;
	va_end(ap);
}

static void family(struct out *o, const char *name, const char *type,
		   const char *help)
{
	outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped, in a buffer of the caller's. */
static const char *esc(char *buf, size_t len, const char *value)
{
	metrics_escape_label(buf, len, value ? value : "");
	return buf;
}

/* A JSON number as a sample value; false when absent or not a number. */
static bool jnum(const json_t *o, const char *key, double *ret)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		return false;
	*ret = json_number_value(v);
	return true;
}

/* Integers print exactly; other values in the fewest of 15 or 17 digits
 * that read back as the same double; infinities as the exposition format
 * spells them. */
static void value(struct out *o, double v)
{
	char buf[32];

	if (isinf(v)) {
		outf(o, " %s\n", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		outf(o, " %.0f\n", v);
		return;
	}
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	outf(o, " %s\n", buf);
}

static void sample(struct out *o, const char *name, const char *labels,
		   double v)
{
	outf(o, "%s%s%s%s", name, labels ? "{" : "", labels ? labels : "",
	     labels ? "}" : "");
	value(o, v);
}

/* A host-wide gauge or counter from @obj[@key], left out when absent. */
static void scalar(struct out *o, const json_t *obj, const char *key,
		   const char *name, const char *type, const char *help,
		   double divisor)
{
	double v;

	if (!jnum(obj, key, &v))
		return;
	family(o, name, type, help);
	/* Divided, not multiplied by 0.01: 1.5 / 100 is the double nearest
	 * 0.015, and prints so. */
	sample(o, name, NULL, v / divisor);
}

static const char *const mode_names[] = {"proactive", "tight", "critical",
					 "restore"};

static void host_metrics(struct out *o, const json_t *state)
{
	const json_t *host = json_object_get(state, "host");
	const char *mode = json_string_value(json_object_get(state, "mode"));
	char labels[64];

	scalar(o, state, "time", "balancerd_state_timestamp_seconds", "gauge",
	       "When balancerd published this state (Unix time).", 1);
	if (json_is_boolean(json_object_get(state, "dry_run"))) {
		family(o, "balancerd_dry_run", "gauge",
		       "1 when balancerd decides and logs but changes "
		       "nothing.");
		sample(o, "balancerd_dry_run", NULL,
		       json_is_true(json_object_get(state, "dry_run")));
	}
	if (json_is_boolean(json_object_get(state, "driver"))) {
		family(o, "balancerd_ovcmem_driver", "gauge",
		       "1 when the ovcmem driver is in use, 0 when balancerd "
		       "works from cgroups and PSI alone.");
		sample(o, "balancerd_ovcmem_driver", NULL,
		       json_is_true(json_object_get(state, "driver")));
	}
	if (mode) {
		family(o, "balancerd_host_mode", "gauge",
		       "1 for the host's current memory mode, 0 for the "
		       "others.");
		for (size_t i = 0; i < sizeof(mode_names) / sizeof(*mode_names);
		     i++) {
			snprintf(labels, sizeof(labels), "mode=\"%s\"",
				 mode_names[i]);
			sample(o, "balancerd_host_mode", labels,
			       !strcmp(mode, mode_names[i]));
		}
	}
	scalar(o, host, "mem_total", "balancerd_host_memory_total_bytes",
	       "gauge", "Host MemTotal.", 1);
	scalar(o, host, "mem_available",
	       "balancerd_host_memory_available_bytes", "gauge",
	       "Host MemAvailable, as balancerd last read it.", 1);
	scalar(o, host, "psi_some_avg10", "balancerd_host_pressure_some_ratio",
	       "gauge",
	       "Host memory PSI some avg10: the share of time some task "
	       "stalled on memory.",
	       100);
	scalar(o, host, "psi_full_avg10", "balancerd_host_pressure_full_ratio",
	       "gauge",
	       "Host memory PSI full avg10: the share of time all tasks "
	       "stalled on memory.",
	       100);
}

static void counters(struct out *o, const json_t *state)
{
	const json_t *tot = json_object_get(state, "totals");
	const json_t *m = json_object_get(tot, "metrics");
	const json_t *actions = json_object_get(m, "actions");
	const json_t *errors = json_object_get(m, "errors");
	const json_t *buckets = json_object_get(m, "tick_buckets");
	const char *ver =
		json_string_value(json_object_get(m, "daemon_version"));
	char labels[128], e[64];
	double v;

	if (ver) {
		family(o, "balancerd_build_info", "gauge",
		       "balancerd's version, in the label (always 1).");
		snprintf(labels, sizeof(labels), "version=\"%s\"",
			 esc(e, sizeof(e), ver));
		sample(o, "balancerd_build_info", labels, 1);
	}
	scalar(o, tot, "ticks", "balancerd_ticks_total", "counter",
	       "Ticks run since balancerd started.", 1);
	scalar(o, tot, "failed_ticks", "balancerd_failed_ticks_total",
	       "counter",
	       "Ticks that decided nothing (host signals unreadable, VM "
	       "discovery failed).",
	       1);
	if (json_object_size(actions)) {
		const char *kind;
		const json_t *by, *n;

		family(o, "balancerd_actions_total", "counter",
		       "Actions carried out, by kind and outcome.");
		json_object_foreach((json_t *)actions, kind, by)
		{
			const char *outcome;

			json_object_foreach((json_t *)by, outcome, n)
			{
				char k[32];

				if (!json_is_integer(n))
					continue;
				snprintf(labels, sizeof(labels),
					 "action=\"%s\",outcome=\"%s\"",
					 esc(k, sizeof(k), kind),
					 esc(e, sizeof(e), outcome));
				sample(o, "balancerd_actions_total", labels,
				       (double)json_integer_value(n));
			}
		}
	}
	if (json_is_number(json_object_get(tot, "reclaimed")) ||
	    json_is_number(json_object_get(tot, "paged_out"))) {
		family(o, "balancerd_reclaimed_bytes_total", "counter",
		       "Bytes of guest memory reclaimed, by action "
		       "(memory.reclaim, or pageout of cold ranges).");
		if (jnum(tot, "reclaimed", &v))
			sample(o, "balancerd_reclaimed_bytes_total",
			       "action=\"reclaim\"", v);
		if (jnum(tot, "paged_out", &v))
			sample(o, "balancerd_reclaimed_bytes_total",
			       "action=\"pageout\"", v);
	}
	scalar(o, tot, "prefaulted", "balancerd_prefaulted_bytes_total",
	       "counter", "Bytes of guest memory faulted back in.", 1);
	if (json_object_size(errors)) {
		const char *src;
		const json_t *n;

		family(o, "balancerd_errors_total", "counter",
		       "Errors, by where they came from.");
		json_object_foreach((json_t *)errors, src, n)
		{
			if (!json_is_integer(n))
				continue;
			snprintf(labels, sizeof(labels), "source=\"%s\"",
				 esc(e, sizeof(e), src));
			sample(o, "balancerd_errors_total", labels,
			       (double)json_integer_value(n));
		}
	}
	if (json_array_size(buckets) == METRICS_TICK_BUCKETS + 1 &&
	    jnum(m, "tick_count", &v)) {
		double cum = 0, sum = 0;

		family(o, "balancerd_tick_duration_seconds", "histogram",
		       "Time a tick takes: read signals, decide, act.");
		for (size_t k = 0; k <= METRICS_TICK_BUCKETS; k++) {
			cum += json_number_value(json_array_get(buckets, k));
			if (k < METRICS_TICK_BUCKETS)
				snprintf(labels, sizeof(labels), "le=\"%g\"",
					 metrics_tick_bucket_le[k]);
			else
				snprintf(labels, sizeof(labels), "le=\"+Inf\"");
			sample(o, "balancerd_tick_duration_seconds_bucket",
			       labels, cum);
		}
		jnum(m, "tick_usec_sum", &sum);
		sample(o, "balancerd_tick_duration_seconds_sum", NULL,
		       sum / USEC_PER_SEC);
		sample(o, "balancerd_tick_duration_seconds_count", NULL, v);
		scalar(o, m, "tick_usec_last",
		       "balancerd_last_tick_duration_seconds", "gauge",
		       "Time the last tick took.", USEC_PER_SEC);
	}
}

/* How a per-VM family's value is found in a VM's object. */
enum vm_value {
	VM_NUMBER,  /* a number; absent or null: no series */
	VM_CEILING, /* a number, null meaning none: +Inf */
	VM_FLAG,    /* a boolean as 0 or 1 */
};

struct vm_metric {
	const char *name, *type, *help;
	const char *object; /* the VM's sub-object holding @key, or NULL */
	const char *key;
	double divisor; /* PSI percentages to ratios */
	enum vm_value how;
};

static const struct vm_metric vm_metrics_table[] = {
	{"balancerd_vm_size_bytes", "gauge",
	 "The VM's reference size for percentage floors and ceilings.", NULL,
	 "size", 1, VM_NUMBER},
	{"balancerd_vm_resident_bytes", "gauge",
	 "Guest memory resident on the host (ovcmem's mapped pages, else "
	 "memory.current).",
	 NULL, "resident", 1, VM_NUMBER},
	/* null without ovcmem: unknown, so no series rather than 0 */
	{"balancerd_vm_cold_bytes", "gauge",
	 "Resident guest memory idle longer than the class's cold age (ovcmem "
	 "VMs only).",
	 NULL, "cold", 1, VM_NUMBER},
	{"balancerd_vm_swap_bytes", "gauge", "The VM's memory.swap.current.",
	 NULL, "swap", 1, VM_NUMBER},
	{"balancerd_vm_floor_bytes", "gauge",
	 "Memory balancerd never reclaims below.", "class_info", "floor", 1,
	 VM_NUMBER},
	{"balancerd_vm_ceiling_bytes", "gauge",
	 "The class's ceiling for the VM (+Inf: none).", "class_info",
	 "ceiling", 1, VM_CEILING},
	{"balancerd_vm_pressure_some_ratio", "gauge",
	 "The VM's memory PSI some avg10.", "pressure", "some_avg10", 100,
	 VM_NUMBER},
	{"balancerd_vm_pressure_full_ratio", "gauge",
	 "The VM's memory PSI full avg10.", "pressure", "full_avg10", 100,
	 VM_NUMBER},
	{"balancerd_vm_refaults_total", "counter",
	 "Pages the VM refaulted (workingset_refault of its cgroup); rate() is "
	 "its refault rate.",
	 NULL, "refaults_total", 1, VM_NUMBER},
	{"balancerd_vm_reclaimed_bytes_total", "counter",
	 "Bytes reclaimed from the VM since balancerd first saw it.", NULL,
	 "reclaimed_total", 1, VM_NUMBER},
	{"balancerd_vm_prefaulted_bytes_total", "counter",
	 "Bytes faulted back into the VM since balancerd first saw it.", NULL,
	 "prefaulted_total", 1, VM_NUMBER},
	{"balancerd_vm_ksm_pages_sharing", "gauge",
	 "Pages of the VM that KSM merged with identical ones "
	 "(/proc/PID/ksm_merging_pages of its VMM).",
	 NULL, "pages_sharing", 1, VM_NUMBER},
	{"balancerd_vm_backoff", "gauge",
	 "1 while the VM's pressure is over its class's target (balancerd "
	 "backs off).",
	 NULL, "backoff", 1, VM_FLAG},
};

/* @m's value for @vm; false to leave the VM's series out. */
static bool vm_value(const struct vm_metric *m, const json_t *vm, double *ret)
{
	const json_t *o = m->object ? json_object_get(vm, m->object) : vm;
	const json_t *v = json_object_get(o, m->key);

	switch (m->how) {
	case VM_FLAG:
		*ret = json_is_true(v);
		return json_is_boolean(v);
	case VM_CEILING:
		if (!json_is_object(o))
			return false; /* no class */
		*ret = json_is_number(v) ? json_number_value(v) : INFINITY;
		return true;
	case VM_NUMBER:
	default:
		*ret = json_number_value(v) / m->divisor;
		return json_is_number(v);
	}
}

static void vm_family(struct out *o, const json_t *vms,
		      const struct vm_metric *m)
{
	bool any = false;
	size_t i;
	const json_t *vm;
	double v;

	json_array_foreach((json_t *)vms, i, vm)
	{
		char labels[2 * 6 * 256 + 32], n[6 * 256], c[6 * 256];

		if (!vm_value(m, vm, &v))
			continue;
		if (!any)
			family(o, m->name, m->type, m->help);
		any = true;
		snprintf(labels, sizeof(labels), "vm=\"%s\",class=\"%s\"",
			 esc(n, sizeof(n),
			     json_string_value(json_object_get(vm, "name"))),
			 esc(c, sizeof(c),
			     json_string_value(json_object_get(vm, "class"))));
		sample(o, m->name, labels, v);
	}
}

static void vm_metrics(struct out *o, const json_t *vms)
{
	family(o, "balancerd_vms", "gauge", "VMs balancerd manages.");
	sample(o, "balancerd_vms", NULL, (double)json_array_size(vms));
	for (size_t k = 0;
	     k < sizeof(vm_metrics_table) / sizeof(*vm_metrics_table); k++)
		vm_family(o, vms, &vm_metrics_table[k]);
}

int metrics_format(FILE *f, const json_t *state)
{
	struct out o = {.f = f};
	const json_t *vms = json_object_get(state, "vms");

	if (!json_is_object(state) || !json_is_array(vms))
		return -EINVAL;
	host_metrics(&o, state);
	counters(&o, state);
	vm_metrics(&o, vms);
	return o.err;
}

char *metrics_format_string(const json_t *state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return NULL;
	r = metrics_format(f, state);
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (r) {
		free(text);
		errno = -r;
		return NULL;
	}
	return text;
}

/* ---- the file ---------------------------------------------------------- */

void metrics_writer_init(struct metrics_writer *w, const char *path,
			 usec_t interval)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->path, sizeof(w->path), "%s", path ? path : "");
	w->interval = interval ? interval : METRICS_DEFAULT_INTERVAL;
}

bool metrics_writer_due(struct metrics_writer *w, usec_t now)
{
	if (!w->path[0])
		return false;
	if (w->last && now - w->last < w->interval)
		return false;
	w->last = now;
	return true;
}

/* 0 when the directory of @path exists, 1 when it does not (yet), or a
 * negative errno. */
static int metrics_dir_exists(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	snprintf(dir, sizeof(dir), "%.*s",
		 slash ? (int)(slash == path ? 1 : slash - path) : 1,
		 slash ? path : ".");
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 1 : -errno;
	return 0;
}

int metrics_publish(const char *path, const json_t *state)
{
	char tmp[PATH_MAX];
	char *text;
	size_t len;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	r = metrics_dir_exists(path);
	if (r)
		return r;
	/* As for the state file: the rename would replace a device node
	 * or a FIFO (as root, /dev/null itself). */
	r = state_path_check(path);
	if (r < 0)
		return r;
	text = metrics_format_string(state);
	if (!text)
		return -errno;
	len = strlen(text);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(text);
		return r;
	}
	/* node_exporter runs as its own user. */
	if (fchmod(fd, 0644) < 0)
		r = -errno;
	for (size_t off = 0; !r && off < len;) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	free(text);
	return r;
}

/* What metrics_publish() returned, in words. */
static const char *publish_strerror(int r)
{
	if (r == -ENOTREGULAR)
		return "something other than a regular file is there, left "
		       "alone";
	if (r == -EPERM)
		return "its directory is not ours, or others may write to it";
	return strerror(-r);
}

int metrics_writer_publish(struct metrics_writer *w,
			   const struct state_snapshot *s)
{
	/* No collector directory, no document: building it is the largest
	 * allocation balancerd makes (5 MB at 1000 VMs). */
	int r = metrics_dir_exists(w->path);
	json_t *doc = NULL;

	if (r == 0) {
		doc = state_build(s);
		r = doc ? metrics_publish(w->path, doc) : -ENOMEM;
	}
	json_decref(doc);
	if (r == w->last_error && w->attempted)
		return r;
	if (r == 1)
		log_info("no directory for %s: no metrics file until it exists "
			 "(node_exporter's textfile collector)",
			 w->path);
	else if (r < 0)
		log_warning("cannot write metrics to %s: %s", w->path,
			    publish_strerror(r));
	else if (w->attempted)
		log_info("metrics written to %s again", w->path);
	w->last_error = r;
	w->attempted = true;
	return r;
}
