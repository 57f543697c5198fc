// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "safe_open.h"
#include "state.h"

void decision_ring_push(struct decision_ring *r,
			const struct decision_record *d)
{
	r->items[r->head] = *d;
	r->head = (r->head + 1) % STATE_RECENT_MAX;
	if (r->n < STATE_RECENT_MAX)
		r->n++;
}

const struct decision_record *decision_ring_get(const struct decision_ring *r,
						size_t i)
{
	if (i >= r->n)
		return NULL;
	return &r->items[(r->head + STATE_RECENT_MAX - r->n + i) %
			 STATE_RECENT_MAX];
}

/* jansson integers are signed: "unlimited" is published as null. */
static json_t *jbytes(uint64_t v)
{
	if (v == MEMORY_UNLIMITED || v > (uint64_t)INT64_MAX)
		return json_null();
	return json_integer((json_int_t)v);
}

/*
 * A name from outside (a VM's, a cgroup's, a file's) as a JSON string:
 * itself when it is UTF-8, else escaped (escape.h), never null, so that
 * `balancerctl explain` can still name it.
 */
static json_t *jstring(const char *s)
{
	char *esc;
	json_t *j;

	if (utf8_is_valid(s))
		return json_string(s);
	esc = escape_dup(s);
	j = esc ? json_string(esc) : NULL;
	free(esc);
	return j;
}

static json_t *jtime(time_t t)
{
	char buf[32];
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static int set(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v ? v : json_null());
}

static json_t *build_record(const struct decision_record *d)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	/* Eight of these per VM: flags only when set, to keep the file
	 * small with a thousand VMs. */
	set(o, "time", json_integer(d->when));
	set(o, "action", json_string(action_kind_name(d->kind)));
	set(o, "mode", json_string(host_mode_name(d->mode)));
	set(o, "bytes_requested", jbytes(d->bytes_requested));
	set(o, "bytes_done", jbytes(d->bytes_done));
	if (d->error)
		set(o, "error", json_string(strerror(-d->error)));
	if (d->partial)
		set(o, "partial", json_true());
	if (d->dry_run)
		set(o, "dry_run", json_true());
	set(o, "reason", jstring(d->reason));
	return o;
}

static json_t *build_class(const struct policy_class *c, uint64_t size)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set(o, "name", json_string(c->name));
	set(o, "priority", json_integer(c->priority));
	set(o, "shares", json_integer(c->shares));
	set(o, "floor", jbytes(size_spec_resolve(&c->floor, size, 0)));
	set(o, "ceiling",
	    jbytes(size_spec_resolve(&c->ceiling, size, MEMORY_UNLIMITED)));
	set(o, "pressure_target", json_real(c->pressure_target));
	set(o, "cold_age_usec", json_integer((json_int_t)c->cold_age));
	set(o, "max_reclaim_rate", jbytes(c->max_reclaim_rate));
	set(o, "prefault", json_boolean(c->prefault));
	/* null: the VMM's choice (the class has no "merge"). */
	set(o, "merge",
	    c->merge == POLICY_MERGE_UNSET
		    ? json_null()
		    : json_boolean(c->merge == POLICY_MERGE_ON));
	set(o, "source", jstring(c->source));
	set(o, "source_line", json_integer(c->source_line));
	return o;
}

static json_t *build_recent(const struct decision_ring *ring)
{
	json_t *recent = json_array();

	for (size_t k = 0; recent && ring && k < ring->n; k++) {
		json_t *r = build_record(decision_ring_get(ring, k));

		if (!r || json_array_append_new(recent, r) < 0) {
			json_decref(recent);
			return NULL;
		}
	}
	return recent;
}

char *state_recent_json(const struct decision_ring *ring)
{
	json_t *recent = build_recent(ring);
	char *text;

	if (!recent)
		return NULL;
	text = json_dumps(recent, JSON_COMPACT);
	json_decref(recent);
	return text;
}

/* One VM's object; without "recent" when @with_recent is false. */
static json_t *build_vm(const struct state_snapshot *s, size_t i,
			bool with_recent)
{
	const struct vm_signals *v = &s->vms[i];
	const struct vm_state *st = s->vm_states ? s->vm_states[i] : NULL;
	const struct decision_ring *ring = s->recent ? s->recent[i] : NULL;
	const struct policy_class *c = s->classes ? s->classes[i] : NULL;
	uint64_t size = st && st->size ? st->size : v->memory_current;
	json_t *o = json_object(), *psi, *recent, *last;

	if (!o)
		return NULL;
	set(o, "name", jstring(v->name));
	set(o, "cgroup", jstring(v->cgroup));
	set(o, "class", c ? json_string(c->name) : json_null());
	set(o, "match",
	    jstring(s->match_why && s->match_why[i] ? s->match_why[i] : ""));
	set(o, "class_info", c ? build_class(c, size) : json_null());
	set(o, "size", jbytes(size));
	set(o, "current", jbytes(v->memory_current));
	set(o, "max", jbytes(v->memory_max));
	set(o, "high", jbytes(v->memory_high));
	set(o, "low", jbytes(v->memory_low));
	set(o, "swap", jbytes(v->swap_current));
	set(o, "resident",
	    jbytes(v->ovcmem.present ? v->ovcmem.pages_mapped * 4096ULL
				     : v->memory_current));
	set(o, "cold", s->cold_bytes ? jbytes(s->cold_bytes[i]) : json_null());
	/* The MGLRU source fills the same cold view without a partition. */
	set(o, "ovcmem",
	    json_boolean(v->ovcmem.present && v->ovcmem.partition_id));
	set(o, "cold_source",
	    jstring(s->cold_source && s->cold_source[i] ? s->cold_source[i]
							: "none"));
	psi = json_object();
	set(psi, "some_avg10", json_real(v->psi.some.avg10));
	set(psi, "full_avg10", json_real(v->psi.full.avg10));
	set(o, "pressure", psi);
	set(o, "refaults",
	    json_integer((json_int_t)(v->d_refault_anon + v->d_refault_file)));
	set(o, "refaults_total",
	    jbytes(v->workingset_refault_anon + v->workingset_refault_file));
	set(o, "reclaimed_total",
	    st ? jbytes(st->reclaimed_total) : json_integer(0));
	set(o, "prefaulted_total",
	    st ? jbytes(st->prefaulted_total) : json_integer(0));
	set(o, "backoff", json_boolean(st && st->over_target));
	/* Pages of the VM that KSM merged; null when the kernel cannot say. */
	set(o, "pages_sharing",
	    v->ksm_known ? jbytes(v->ksm_merging_pages) : json_null());
	last = json_null();
	if (ring && ring->n) {
		json_decref(last);
		last = build_record(decision_ring_get(ring, ring->n - 1));
	}
	set(o, "last_action", last);
	if (with_recent) {
		recent = build_recent(ring);
		if (!recent) {
			json_decref(o);
			return NULL;
		}
		set(o, "recent", recent);
	}
	return o;
}

/* Everything but "vms": small, whatever the number of VMs. */
static json_t *build_top(const struct state_snapshot *s)
{
	json_t *doc = json_object(), *host, *tot;

	if (!doc)
		return NULL;
	set(doc, "version", json_integer(1));
	set(doc, "time", json_integer(s->now));
	set(doc, "time_iso", jtime(s->now));
	set(doc, "pid", json_integer(getpid()));
	set(doc, "dry_run", json_boolean(s->dry_run));
	set(doc, "mode", json_string(host_mode_name(s->mode)));
	set(doc, "mode_reason", jstring(s->mode_reason ? s->mode_reason : ""));
	set(doc, "policy_dir", jstring(s->policy_dir ? s->policy_dir : ""));
	set(doc, "driver", json_boolean(s->driver_present));
	set(doc, "interval_usec", json_integer((json_int_t)s->interval));
	set(doc, "last_tick_ok", json_boolean(!s->last_error));
	set(doc, "last_error", s->last_error ? jstring(s->last_error) : NULL);
	set(doc, "last_ok_time",
	    s->last_ok ? json_integer(s->last_ok) : json_null());
	host = json_object();
	if (host && s->host) {
		set(host, "mem_total", jbytes(s->host->mem_total));
		set(host, "mem_available", jbytes(s->host->mem_available));
		set(host, "swap_total", jbytes(s->host->swap_total));
		set(host, "swap_free", jbytes(s->host->swap_free));
		set(host, "psi_some_avg10", json_real(s->host->psi.some.avg10));
		set(host, "psi_full_avg10", json_real(s->host->psi.full.avg10));
	}
	set(doc, "host", host);
	tot = json_object();
	if (tot) {
		set(tot, "ticks", jbytes(s->totals.ticks));
		set(tot, "actions", jbytes(s->totals.actions));
		set(tot, "errors", jbytes(s->totals.errors));
		set(tot, "failed_ticks", jbytes(s->totals.failed_ticks));
		set(tot, "reclaimed", jbytes(s->totals.reclaimed));
		set(tot, "prefaulted", jbytes(s->totals.prefaulted));
		set(tot, "paged_out", jbytes(s->totals.paged_out));
		set(tot, "metrics", metrics_counters_json(&s->totals.metrics));
	}
	set(doc, "totals", tot);
	if (!host || !tot) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

json_t *state_build(const struct state_snapshot *s)
{
	json_t *doc = build_top(s), *vms = json_array();

	for (size_t i = 0; doc && vms && i < s->n_vms; i++) {
		json_t *v = build_vm(s, i, true);

		if (!v || json_array_append_new(vms, v) < 0) {
			json_decref(vms);
			vms = NULL;
		}
	}
	if (!doc || !vms || json_object_set_new(doc, "vms", vms) < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int state_path_check(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (lstat(path, &st) == 0) {
		/* rename(2) would replace a device node (/dev/null!), and
		 * a symlink is somebody else's pointer. */
		if (!S_ISREG(st.st_mode))
			return -ENOTREGULAR;
	} else if (errno != ENOENT) {
		return -errno;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
			  path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* Whoever else may create files there could put a link or a node
	 * at the path between this check and the rename. */
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return -EPERM;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return -EPERM;
	return 0;
}

bool state_is_stale(const json_t *doc, time_t now, long long *age_sec)
{
	json_int_t t = json_integer_value(json_object_get(doc, "time"));
	json_int_t iv =
		json_integer_value(json_object_get(doc, "interval_usec"));
	long long age = (long long)now - (long long)t;

	if (iv <= 0)
		iv = (json_int_t)USEC_PER_SEC;
	if (age_sec)
		*age_sec = age;
	return t <= 0 || age > 3 * (long long)(iv / (json_int_t)USEC_PER_SEC) +
					 STATE_STALE_SLACK_SEC;
}

/* Write a temp file in @path's directory with @fn, fsync, rename. */
static int publish_with(const char *path, int (*fn)(FILE *, const void *),
			const void *arg)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, r = 0;

	r = state_path_check(path);
	if (r < 0)
		return r;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	/* mkostemp makes it 0600; the state is for any local reader. */
	if (fchmod(fd, 0644) < 0)
		r = -errno;
	if (!r)
		r = fn(f, arg);
	if (!r && fflush(f) != 0)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

static int dump_error(FILE *f)
{
	return ferror(f) && errno ? -errno : -EIO;
}

/* Compact JSON through stdio: with 1000 VMs, indenting and sorting keys
 * cost more than building the document. `balancerctl --json`
 * pretty-prints. */
static int write_doc(FILE *f, const void *arg)
{
	if (json_dumpf(arg, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF)
		return dump_error(f);
	return 0;
}

int state_publish(const char *path, const json_t *doc)
{
	return publish_with(path, write_doc, doc);
}

/*
 * One VM's object. Its "recent" list changes only when the VM gets a new
 * decision, so the caller may hand it in already serialised
 * (s->recent_json[i]): eight records per VM are most of the file.
 */
static int write_vm(FILE *f, const struct state_snapshot *s, size_t i)
{
	const char *cached = s->recent_json ? s->recent_json[i] : NULL;
	json_t *v = build_vm(s, i, cached == NULL);
	char *text;
	size_t len;
	int r = 0;

	if (!v)
		return -ENOMEM;
	if (i && fputc(',', f) == EOF)
		r = dump_error(f);
	if (r) {
		json_decref(v);
		return r;
	}
	/* One string, one fwrite: json_dumpf() writes token by token
	 * through stdio, a third more instructions at 1000 VMs. */
	text = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (!cached) {
		if (fwrite(text, 1, len, f) != len)
			r = dump_error(f);
	} else if (fwrite(text, 1, len - 1, f) != len - 1 ||
		   fprintf(f, ",\"recent\":%s}", cached) < 0) {
		r = dump_error(f);
	}
	free(text);
	return r;
}

/*
 * The document of state_build(), written one VM at a time so that only
 * one VM's JSON is in memory at once: the daemon's peak RSS then does not
 * grow with the state file.
 */
static int write_snapshot(FILE *f, const void *arg)
{
	const struct state_snapshot *s = arg;
	json_t *top = build_top(s);
	char *text;
	size_t len;
	int r = 0;

	if (!top)
		return -ENOMEM;
	text = json_dumps(top, JSON_COMPACT);
	json_decref(top);
	if (!text)
		return -ENOMEM;
	/* "{...}" without its closing brace, then the VMs. */
	len = strlen(text);
	if (fwrite(text, 1, len - 1, f) != len - 1 ||
	    fputs(len > 2 ? ",\"vms\":[" : "\"vms\":[", f) == EOF)
		r = dump_error(f);
	free(text);
	for (size_t i = 0; !r && i < s->n_vms; i++)
		r = write_vm(f, s, i);
	if (!r && fputs("]}\n", f) == EOF)
		r = dump_error(f);
	return r;
}

int state_publish_snapshot(const char *path, const struct state_snapshot *s)
{
	return publish_with(path, write_snapshot, s);
}

int state_read(const char *path, json_t **ret, char *err, size_t err_len)
{
	json_error_t je;
	json_t *doc;
	int fd;

	/* A FIFO at the path would block balancerctl for ever. */
	fd = open_regular(path);
	if (fd < 0) {
		if (err)
			snprintf(err, err_len, "%s", open_strerror(fd));
		return fd;
	}
	doc = json_loadfd(fd, 0, &je);
	close(fd);
	if (!doc) {
		if (err)
			snprintf(err, err_len, "%s:%d:%d: %s", path, je.line,
				 je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		if (err)
			snprintf(err, err_len, "%s: not a JSON object", path);
		json_decref(doc);
		return -EINVAL;
	}
	*ret = doc;
	return 0;
}
