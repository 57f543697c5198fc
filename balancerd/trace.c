// SPDX-License-Identifier: GPL-2.0
/*
 * Trace lines: serializers and the reader. The format: docs/trace-format.md.
 *
 * Structs are written field by field from tables (offset, type), so the
 * writer and the reader cannot disagree on a name. Zero fields are left
 * out (a trace of 1000 VMs is mostly zeroes) and read back as zero.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "trace.h"

/*
 * A new field in these structs must be added to the tables below, or a
 * replay would not see what decide() saw: the sizes make the build say
 * so (x86_64 and other LP64 ABIs).
 */
#if defined(__x86_64__)
_Static_assert(sizeof(struct vm_state) == 1064,
	       "vm_state changed: update trace.c's state_fields");
_Static_assert(sizeof(struct ovcmem_signals) == 120,
	       "ovcmem_signals changed: update trace.c's ovcmem_fields");
_Static_assert(sizeof(struct vm_signals) == 1056,
	       "vm_signals changed: update trace.c's vm_fields");
_Static_assert(sizeof(struct host_signals) == 112,
	       "host_signals changed: update trace.c's host_fields");
_Static_assert(sizeof(struct tick_input) == 48,
	       "tick_input changed: update trace_tick_line and replay_tick");
#endif

enum ftype { F_U64, F_UINT, F_INT, F_BOOL, F_DBL, F_STR };

struct field {
	const char *key;
	size_t off;
	enum ftype type;
	size_t size; /* F_STR: the array's size */
};

#define FLD(s, m, t)                                                           \
	{                                                                      \
#m, offsetof(struct s, m), t, sizeof(((struct s *)0)->m)       \
	}

static const struct field psi_line_fields[] = {
	FLD(psi_line, present, F_BOOL), FLD(psi_line, avg10, F_DBL),
	FLD(psi_line, avg60, F_DBL),	FLD(psi_line, avg300, F_DBL),
	FLD(psi_line, total_us, F_U64), {0},
};

static const struct field host_fields[] = {
	FLD(host_signals, mem_total, F_U64),
	FLD(host_signals, mem_available, F_U64),
	FLD(host_signals, swap_total, F_U64),
	FLD(host_signals, swap_free, F_U64),
	{0},
};

static const struct field vm_fields[] = {
	FLD(vm_signals, name, F_STR),
	FLD(vm_signals, cgroup, F_STR),
	FLD(vm_signals, pid, F_INT),
	FLD(vm_signals, vanished, F_BOOL),
	FLD(vm_signals, memory_current, F_U64),
	FLD(vm_signals, memory_max, F_U64),
	FLD(vm_signals, memory_high, F_U64),
	FLD(vm_signals, memory_low, F_U64),
	FLD(vm_signals, swap_current, F_U64),
	FLD(vm_signals, anon, F_U64),
	FLD(vm_signals, file, F_U64),
	FLD(vm_signals, zswap, F_U64),
	FLD(vm_signals, zswapped, F_U64),
	FLD(vm_signals, workingset_refault_anon, F_U64),
	FLD(vm_signals, workingset_refault_file, F_U64),
	FLD(vm_signals, pgscan, F_U64),
	FLD(vm_signals, pgsteal, F_U64),
	FLD(vm_signals, pgmajfault, F_U64),
	FLD(vm_signals, d_refault_anon, F_U64),
	FLD(vm_signals, d_refault_file, F_U64),
	FLD(vm_signals, d_pgmajfault, F_U64),
	FLD(vm_signals, d_psi_some_us, F_U64),
	FLD(vm_signals, d_psi_full_us, F_U64),
	FLD(vm_signals, events_low, F_U64),
	FLD(vm_signals, events_high, F_U64),
	FLD(vm_signals, events_max, F_U64),
	FLD(vm_signals, events_oom, F_U64),
	FLD(vm_signals, events_oom_kill, F_U64),
	FLD(vm_signals, ksm_known, F_BOOL),
	FLD(vm_signals, ksm_merging_pages, F_U64),
	{0},
};

static const struct field ovcmem_fields[] = {
	FLD(ovcmem_signals, present, F_BOOL),
	FLD(ovcmem_signals, partition_id, F_U64),
	FLD(ovcmem_signals, pages, F_U64),
	FLD(ovcmem_signals, pages_mapped, F_U64),
	FLD(ovcmem_signals, d_intercepts, F_U64),
	FLD(ovcmem_signals, d_refaults, F_U64),
	FLD(ovcmem_signals, d_pages_invalidated, F_U64),
	FLD(ovcmem_signals, cold_valid, F_BOOL),
	FLD(ovcmem_signals, cold_pages, F_U64),
	{0},
};

static const struct field state_fields[] = {
	FLD(vm_state, name, F_STR),
	FLD(vm_state, cgroup, F_STR),
	FLD(vm_state, seen, F_BOOL),
	FLD(vm_state, first_seen, F_U64),
	FLD(vm_state, size, F_U64),
	FLD(vm_state, last_reclaim, F_U64),
	FLD(vm_state, reclaim_budget, F_U64),
	FLD(vm_state, budget_at, F_U64),
	FLD(vm_state, backoff_until, F_U64),
	FLD(vm_state, refault_until, F_U64),
	FLD(vm_state, cold_scale, F_UINT),
	FLD(vm_state, scale_raised, F_U64),
	FLD(vm_state, calm_since, F_U64),
	FLD(vm_state, last_pageout, F_U64),
	FLD(vm_state, prefault_quiet_until, F_U64),
	FLD(vm_state, over_target, F_BOOL),
	FLD(vm_state, reclaimed_total, F_U64),
	FLD(vm_state, prefaulted_total, F_U64),
	FLD(vm_state, restorable, F_U64),
	FLD(vm_state, last_action, F_UINT),
	FLD(vm_state, has_last_action, F_BOOL),
	FLD(vm_state, last_reason, F_STR),
	FLD(vm_state, last_action_at, F_U64),
	FLD(vm_state, last_seen, F_U64),
	FLD(vm_state, bucket_cap, F_U64),
	FLD(vm_state, pending_reclaim, F_U64),
	FLD(vm_state, pending_pageout, F_U64),
	FLD(vm_state, high_requested, F_BOOL),
	FLD(vm_state, low_requested, F_BOOL),
	FLD(vm_state, high_value, F_U64),
	FLD(vm_state, low_value, F_U64),
	FLD(vm_state, merge_requested, F_BOOL),
	FLD(vm_state, merge_value, F_BOOL),
	FLD(vm_state, merge_partition, F_U64),
	FLD(vm_state, merge_retry_at, F_U64),
	{0},
};

/* ---- values ------------------------------------------------------------ */

/* JSON integers are signed 64-bit in jansson: larger ones (e.g.
 * memory.max "max") are written as decimal strings. */
static json_t *u64_json(uint64_t v)
{
	char buf[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_string(buf);
}

static bool u64_of(const json_t *j, uint64_t *ret)
{
	const char *s;
	char *end;

	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*ret = (uint64_t)json_integer_value(j);
		return true;
	}
	s = json_string_value(j);
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return !*end && errno == 0;
}

/* NaN and infinities are not JSON: written as strings. */
static json_t *dbl_json(double v)
{
	char buf[32];

	if (isfinite(v))
		return json_real(v);
	snprintf(buf, sizeof(buf), "%g", v);
	return json_string(buf);
}

static bool dbl_of(const json_t *j, double *ret)
{
	const char *s = json_string_value(j);
	char *end;

	if (json_is_number(j)) {
		*ret = json_number_value(j);
		return true;
	}
	if (!s)
		return false;
	*ret = strtod(s, &end);
	return *s && !*end && !isfinite(*ret);
}

/* Names come from cgroups and need not be UTF-8, which JSON strings
 * must be: those are written as {"hex": "..."}. */
static json_t *str_json(const char *s)
{
	static const char digits[] = "0123456789abcdef";
	json_t *j = json_string(s);
	size_t n = strlen(s);
	char *hex;

	if (j)
		return j;
	hex = malloc(2 * n + 1);
	if (!hex)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[(unsigned char)s[i] >> 4];
		hex[2 * i + 1] = digits[(unsigned char)s[i] & 15];
	}
	hex[2 * n] = '\0';
	j = json_pack("{s:s}", "hex", hex);
	free(hex);
	return j;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool str_of(const json_t *j, char *buf, size_t size)
{
	const char *s = json_string_value(j), *hex;
	size_t n;

	if (s) {
		if (json_string_length(j) >= size ||
		    strlen(s) != json_string_length(j))
			return false; /* too long, or a NUL inside */
		memcpy(buf, s, json_string_length(j) + 1);
		return true;
	}
	hex = json_string_value(json_object_get(j, "hex"));
	if (!hex || strlen(hex) % 2 || (n = strlen(hex) / 2) >= size)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi | lo) == 0)
			return false;
		buf[i] = (char)(hi << 4 | lo);
	}
	buf[n] = '\0';
	return true;
}

/* Set @key of @o to @v (stolen); false on -ENOMEM. */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* ---- structs from tables ------------------------------------------------- */

static bool fields_put(json_t *o, const struct field *t, const void *s)
{
	const char *base = s;

	for (; t->key; t++) {
		const void *p = base + t->off;
		bool ok = true;

		switch (t->type) {
		case F_U64:
			if (*(const uint64_t *)p)
				ok = put(o, t->key,
					 u64_json(*(const uint64_t *)p));
			break;
		case F_UINT:
			if (*(const unsigned int *)p)
				ok = put(
					o, t->key,
					json_integer(*(const unsigned int *)p));
			break;
		case F_INT:
			if (*(const int *)p)
				ok = put(o, t->key,
					 json_integer(*(const int *)p));
			break;
		case F_BOOL:
			if (*(const bool *)p)
				ok = put(o, t->key, json_true());
			break;
		case F_DBL:
			if (*(const double *)p != 0)
				ok = put(o, t->key,
					 dbl_json(*(const double *)p));
			break;
		case F_STR:
			if (*(const char *)p)
				ok = put(o, t->key, str_json(p));
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Where a parse error is: "vms[3].memory_current". */
struct where {
	char *err;
	size_t len;
};

static int fail(struct where *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct where *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, w->len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fields_get(const json_t *o, const struct field *t, void *s,
		      const char *ctx, struct where *w)
{
	char *base = s;

	if (!json_is_object(o))
		return fail(w, "%s: expected an object", ctx);
	for (; t->key; t++) {
		const json_t *j = json_object_get(o, t->key);
		void *p = base + t->off;
		uint64_t u = 0;
		bool ok = true;

		if (!j)
			continue;
		switch (t->type) {
		case F_U64:
			ok = u64_of(j, p);
			break;
		case F_UINT:
			ok = u64_of(j, &u) && u <= UINT32_MAX;
			*(unsigned int *)p = (unsigned int)u;
			break;
		case F_INT:
			ok = json_is_integer(j) &&
			     json_integer_value(j) >= INT32_MIN &&
			     json_integer_value(j) <= INT32_MAX;
			*(int *)p = (int)json_integer_value(j);
			break;
		case F_BOOL:
			ok = json_is_boolean(j);
			*(bool *)p = json_is_true(j);
			break;
		case F_DBL:
			ok = dbl_of(j, p);
			break;
		case F_STR:
			ok = str_of(j, p, t->size);
			break;
		}
		if (!ok)
			return fail(w, "%s.%s: not a valid %s", ctx, t->key,
				    t->type == F_STR	? "string"
				    : t->type == F_BOOL ? "boolean"
				    : t->type == F_DBL
					    ? "number"
					    : "non-negative integer");
	}
	return 0;
}

static json_t *psi_json(const struct psi *psi)
{
	json_t *o = json_object(), *some = json_object(), *full = json_object();
	bool ok = o && some && full &&
		  fields_put(some, psi_line_fields, &psi->some) &&
		  fields_put(full, psi_line_fields, &psi->full);

	if (ok && json_object_size(some))
		ok = json_object_set(o, "some", some) == 0;
	if (ok && json_object_size(full))
		ok = json_object_set(o, "full", full) == 0;
	json_decref(some);
	json_decref(full);
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

static int psi_get(const json_t *o, struct psi *psi, const char *ctx,
		   struct where *w)
{
	char sub[96];
	const json_t *some, *full;

	if (!o)
		return 0;
	if (!json_is_object(o))
		return fail(w, "%s.psi: expected an object", ctx);
	some = json_object_get(o, "some");
	full = json_object_get(o, "full");
	snprintf(sub, sizeof(sub), "%s.psi.some", ctx);
	if (some && fields_get(some, psi_line_fields, &psi->some, sub, w) < 0)
		return -EINVAL;
	snprintf(sub, sizeof(sub), "%s.psi.full", ctx);
	if (full && fields_get(full, psi_line_fields, &psi->full, sub, w) < 0)
		return -EINVAL;
	return 0;
}

/* ---- policy as a policy file ----------------------------------------------
 */

/* Bytes exactly, in the largest unit that divides them ("64M"). */
static void exact_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (u < 5 && bytes && !(bytes & 1023)) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else
		snprintf(buf, len, "%" PRIu64 "%c", bytes, units[u]);
}

static json_t *size_json(const struct size_spec *s)
{
	char buf[40];

	if (s->is_percent) {
		/* parse_percent reads nine fraction digits: these give back
		 * the loaded value's digits, hence the same double; the
		 * zeroes after them are left out. */
		size_t n = (size_t)snprintf(buf, sizeof(buf) - 1, "%.9f",
					    s->percent);

		while (n > 1 && buf[n - 1] == '0')
			n--;
		if (buf[n - 1] == '.')
			n--;
		snprintf(buf + n, sizeof(buf) - n, "%%");
	} else {
		exact_size(s->bytes, buf, sizeof(buf));
	}
	return json_string(buf);
}

static bool put_size(json_t *o, const char *key, const struct size_spec *s)
{
	return !s->set || put(o, key, size_json(s));
}

/* format_duration() is exact, and parse_duration() reads it back. */
static json_t *duration_json(usec_t us)
{
	char buf[64];

	if (!us)
		return json_string("0s");
	return json_string(format_duration(us, buf, sizeof(buf)));
}

static json_t *class_json(const struct policy_class *c)
{
	json_t *o = json_object(), *match = json_array();
	char rate[24];
	bool ok = o && match;

	for (size_t i = 0; ok && i < c->n_match; i++)
		ok = json_array_append_new(match, json_string(c->match[i])) ==
		     0;
	exact_size(c->max_reclaim_rate, rate, sizeof(rate));
	ok = ok && put(o, "name", json_string(c->name)) &&
	     json_object_set(o, "match", match) == 0 &&
	     put(o, "priority", json_integer(c->priority)) &&
	     put(o, "shares", json_integer(c->shares)) &&
	     put_size(o, "floor", &c->floor) &&
	     put_size(o, "ceiling", &c->ceiling) &&
	     put(o, "pressure_target", json_real(c->pressure_target)) &&
	     put(o, "cold_age", duration_json(c->cold_age)) &&
	     put(o, "max_reclaim_rate", json_string(rate)) &&
	     put(o, "prefault", json_boolean(c->prefault)) &&
	     put_size(o, "memory_high", &c->memory_high) &&
	     put_size(o, "memory_low", &c->memory_low) &&
	     (c->merge == POLICY_MERGE_UNSET ||
	      put(o, "merge", json_boolean(c->merge == POLICY_MERGE_ON)));
	json_decref(match);
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

json_t *trace_policy_json(const struct policy *p)
{
	json_t *o = json_object(), *host = json_object(),
	       *classes = json_array();
	bool ok = o && host && classes;

	ok = ok && put_size(host, "low_watermark", &p->host.low_watermark) &&
	     put_size(host, "min_watermark", &p->host.min_watermark) &&
	     put_size(host, "high_watermark", &p->host.high_watermark) &&
	     put(host, "psi_full_limit", json_real(p->host.psi_full_limit));
	for (size_t i = 0; ok && i < p->n_classes; i++)
		ok = json_array_append_new(classes,
					   class_json(&p->classes[i])) == 0;
	ok = ok && put(o, "interval", duration_json(p->interval)) &&
	     put(o, "backoff", duration_json(p->backoff)) &&
	     put(o, "hysteresis", json_real(p->hysteresis)) &&
	     json_object_set(o, "host", host) == 0 &&
	     json_object_set(o, "classes", classes) == 0;
	json_decref(host);
	json_decref(classes);
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

static int policy_get(const json_t *o, struct policy *p, struct where *w)
{
	struct policy_errors errs = {0};
	char *text;
	int r;

	if (!json_is_object(o))
		return fail(w, "header.policy: expected an object");
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	r = policy_load_string(text, "header.policy", p, &errs);
	free(text);
	if (r < 0 && errs.n) {
		char msg[512];

		policy_error_format(&errs.items[0], msg, sizeof(msg));
		fail(w, "the recorded policy is invalid: %s", msg);
	} else if (r < 0) {
		fail(w, "the recorded policy cannot be loaded: %s",
		     strerror(-r));
	}
	policy_errors_free(&errs);
	return r < 0 ? -EINVAL : 0;
}

/* ---- decide()'s state ------------------------------------------------------
 */

static json_t *state_json(const struct balancer_state *s)
{
	json_t *o = json_object(), *vms = json_array();
	bool ok = o && vms;

	for (size_t i = 0; ok && i < s->n_vms; i++) {
		json_t *v = json_object();

		ok = v && fields_put(v, state_fields, &s->vms[i]) &&
		     json_array_append(vms, v) == 0;
		json_decref(v);
	}
	ok = ok && put(o, "mode", json_string(host_mode_name(s->mode))) &&
	     put(o, "mode_since", u64_json(s->mode_since)) &&
	     put(o, "last_tick", u64_json(s->last_tick)) &&
	     json_object_set(o, "vms", vms) == 0;
	json_decref(vms);
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

static bool mode_of(const json_t *j, enum host_mode *ret)
{
	const char *s = json_string_value(j);

	for (int m = 0; s && m < _MODE_MAX; m++)
		if (!strcmp(s, host_mode_name((enum host_mode)m))) {
			*ret = (enum host_mode)m;
			return true;
		}
	return false;
}

static bool kind_of(const json_t *j, enum action_kind *ret)
{
	const char *s = json_string_value(j);

	for (int k = 0; s && k < _ACTION_MAX; k++)
		if (!strcmp(s, action_kind_name((enum action_kind)k))) {
			*ret = (enum action_kind)k;
			return true;
		}
	return false;
}

static int state_get(const json_t *o, struct balancer_state *s, struct where *w)
{
	const json_t *vms = json_object_get(o, "vms");
	char ctx[48];

	if (!json_is_object(o))
		return fail(w, "header.state: expected an object");
	if (!mode_of(json_object_get(o, "mode"), &s->mode))
		return fail(w, "header.state.mode: not a mode name");
	if (!u64_of(json_object_get(o, "mode_since"), &s->mode_since) ||
	    !u64_of(json_object_get(o, "last_tick"), &s->last_tick))
		return fail(w, "header.state: mode_since and last_tick must be "
			       "non-negative integers");
	if (!json_is_array(vms))
		return fail(w, "header.state.vms: expected an array");
	s->vms = calloc(json_array_size(vms) ? json_array_size(vms) : 1,
			sizeof(*s->vms));
	if (!s->vms)
		return -ENOMEM;
	s->cap_vms = json_array_size(vms) ? json_array_size(vms) : 1;
	for (size_t i = 0; i < json_array_size(vms); i++) {
		struct vm_state *vs = &s->vms[i];

		snprintf(ctx, sizeof(ctx), "header.state.vms[%zu]", i);
		if (fields_get(json_array_get(vms, i), state_fields, vs, ctx,
			       w) < 0)
			return -EINVAL;
		if (vs->last_action >= _ACTION_MAX)
			return fail(w, "%s.last_action: unknown kind", ctx);
		/* decide() finds VMs by bsearch: the order is a promise. */
		if (i && strcmp(s->vms[i - 1].name, vs->name) >= 0)
			return fail(w, "%s: VMs not sorted by name", ctx);
		s->n_vms++;
	}
	return 0;
}

/* The first key of @x and @y whose values differ, into @what. */
static bool object_diff(json_t *x, json_t *y, const char *ctx, char *what,
			size_t len)
{
	const char *key;
	json_t *v;

	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach(pass ? y : x, key, v)
		{
			json_t *w = json_object_get(pass ? x : y, key);
			char *a, *b;

			if (w && json_equal(v, w))
				continue;
			a = json_dumps(pass ? w : v, JSON_ENCODE_ANY);
			b = json_dumps(pass ? v : w, JSON_ENCODE_ANY);
			snprintf(what, len, "%s%s: %s != %s", ctx, key,
				 a ? a : "0", b ? b : "0");
			free(a);
			free(b);
			return true;
		}
	}
	return false;
}

bool trace_state_equal(const struct balancer_state *a,
		       const struct balancer_state *b, char *what,
		       size_t what_len)
{
	json_t *x = state_json(a), *y = state_json(b);
	json_t *xv = json_object_get(x, "vms"), *yv = json_object_get(y, "vms");
	bool equal = x && y && json_equal(x, y);

	snprintf(what, what_len, "%s", equal ? "" : "out of memory");
	if (!equal && x && y && !object_diff(x, y, "", what, what_len)) {
		/* the same keys but "vms": name the VM and its field */
		for (size_t i = 0; i < json_array_size(xv); i++) {
			json_t *u = json_array_get(xv, i),
			       *w = json_array_get(yv, i);
			char ctx[VM_NAME_MAX + 16];

			snprintf(ctx, sizeof(ctx), "vms[%s].",
				 json_string_value(json_object_get(u, "name")));
			if (!w || object_diff(u, w, ctx, what, what_len))
				break;
		}
		if (json_array_size(xv) != json_array_size(yv))
			snprintf(what, what_len, "%zu VMs != %zu VMs",
				 json_array_size(xv), json_array_size(yv));
	}
	json_decref(x);
	json_decref(y);
	return equal;
}

/* ---- lines ----------------------------------------------------------------
 */

static char *line_of(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char *line = NULL;
	size_t n;

	json_decref(o);
	if (!text)
		return NULL;
	n = strlen(text);
	line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

char *trace_header_line_json(const char *why, usec_t interval, bool dry_run,
			     json_t *policy, const struct balancer_state *s)
{
	json_t *o = json_object();
	bool ok = o && put(o, "type", json_string("header")) &&
		  put(o, "format", json_integer(TRACE_FORMAT_VERSION)) &&
		  put(o, "balancerd", json_string(BALANCERD_VERSION)) &&
		  put(o, "why", json_string(why)) &&
		  put(o, "interval", u64_json(interval)) &&
		  put(o, "dry_run", json_boolean(dry_run)) &&
		  json_object_set(o, "policy", policy) == 0 &&
		  put(o, "state", state_json(s));

	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return line_of(o);
}

char *trace_header_line(const char *why, usec_t interval, bool dry_run,
			const struct policy *p, const struct balancer_state *s)
{
	json_t *policy = trace_policy_json(p);
	char *line = policy ? trace_header_line_json(why, interval, dry_run,
						     policy, s)
			    : NULL;

	json_decref(policy);
	return line;
}

static json_t *vm_json(const struct vm_signals *v, const char *class_name)
{
	json_t *o = json_object(), *ovc = json_object(), *idle = json_array();
	bool ok = o && ovc && idle && fields_put(o, vm_fields, v) &&
		  put(o, "class",
		      class_name ? json_string(class_name) : json_null()) &&
		  put(o, "psi", psi_json(&v->psi)) &&
		  fields_put(ovc, ovcmem_fields, &v->ovcmem);

	for (unsigned int k = 0; ok && k < IDLE_BUCKETS; k++)
		ok = json_array_append_new(
			     idle, u64_json(v->ovcmem.idle_pages[k])) == 0;
	if (ok && v->ovcmem.present)
		ok = json_object_set(ovc, "idle_pages", idle) == 0 &&
		     json_object_set(o, "ovcmem", ovc) == 0;
	json_decref(ovc);
	json_decref(idle);
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

static json_t *action_json(const struct tick_input *in, const struct action *a,
			   const struct trace_result *res)
{
	json_t *o = json_object();
	bool ok = o && put(o, "kind", json_string(action_kind_name(a->kind))) &&
		  put(o, "vm", json_integer((json_int_t)a->vm)) &&
		  (a->vm >= in->n_vms ||
		   put(o, "name", str_json(in->vms[a->vm].name))) &&
		  put(o, "bytes", u64_json(a->bytes)) &&
		  put(o, "mode", json_string(host_mode_name(a->mode))) &&
		  put(o, "min_idle", u64_json(a->min_idle)) &&
		  put(o, "reason", str_json(a->reason));

	if (ok && res)
		ok = put(o, "done", u64_json(res->bytes_done)) &&
		     (!res->error ||
		      put(o, "error", json_integer(res->error))) &&
		     (!res->partial || put(o, "partial", json_true())) &&
		     (!res->dry_run || put(o, "dry_run", json_true()));
	if (!ok)
		json_decref(o);
	return ok ? o : NULL;
}

/* The class names from @in->classes, else from @names ("": none). */
static const char *class_name_of(const struct tick_input *in,
				 const char (*names)[POLICY_NAME_MAX], size_t i)
{
	if (in->classes)
		return in->classes[i] ? in->classes[i]->name : NULL;
	return names && names[i][0] ? names[i] : NULL;
}

char *trace_tick_line(const struct tick_input *in,
		      const struct tick_output *out,
		      const struct trace_result *res)
{
	return trace_tick_line_named(in, NULL, out, res);
}

char *trace_tick_line_named(const struct tick_input *in,
			    const char (*names)[POLICY_NAME_MAX],
			    const struct tick_output *out,
			    const struct trace_result *res)
{
	json_t *o = json_object(), *host = json_object(), *vms = json_array(),
	       *acts = json_array();
	bool ok = o && host && vms && acts &&
		  fields_put(host, host_fields, in->host) &&
		  put(host, "psi", psi_json(&in->host->psi));

	for (size_t i = 0; ok && i < in->n_vms; i++)
		ok = json_array_append_new(
			     vms, vm_json(&in->vms[i],
					  class_name_of(in, names, i))) == 0;
	for (size_t i = 0; ok && i < out->n_actions; i++)
		ok = json_array_append_new(
			     acts, action_json(in, &out->actions[i],
					       res ? &res[i] : NULL)) == 0;
	ok = ok && put(o, "type", json_string("tick")) &&
	     put(o, "now", u64_json(in->now)) &&
	     (!in->interval || put(o, "interval", u64_json(in->interval))) &&
	     json_object_set(o, "host", host) == 0 &&
	     json_object_set(o, "vms", vms) == 0 &&
	     put(o, "mode", json_string(host_mode_name(out->mode))) &&
	     put(o, "mode_reason", str_json(out->mode_reason)) &&
	     json_object_set(o, "actions", acts) == 0;
	json_decref(host);
	json_decref(vms);
	json_decref(acts);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return line_of(o);
}

/* ---- parsing ----------------------------------------------------------------
 */

void trace_header_free(struct trace_header *h)
{
	policy_free(&h->policy);
	balancer_state_free(&h->state);
	memset(h, 0, sizeof(*h));
}

void trace_tick_free(struct trace_tick *t)
{
	free(t->vms);
	free(t->classes);
	free(t->actions);
	free(t->results);
	memset(t, 0, sizeof(*t));
}

static int header_get(const json_t *o, struct trace_header *h, struct where *w)
{
	const json_t *fmt = json_object_get(o, "format");
	int r;

	if (!json_is_integer(fmt))
		return fail(w, "header without a format version");
	if (json_integer_value(fmt) != TRACE_FORMAT_VERSION)
		return fail(w,
			    "trace format %" JSON_INTEGER_FORMAT
			    " is not supported (this balancerctl reads "
			    "format %d)",
			    json_integer_value(fmt), TRACE_FORMAT_VERSION);
	h->format = TRACE_FORMAT_VERSION;
	if (!str_of(json_object_get(o, "balancerd"), h->version,
		    sizeof(h->version)))
		snprintf(h->version, sizeof(h->version), "unknown");
	if (!str_of(json_object_get(o, "why"), h->why, sizeof(h->why)))
		snprintf(h->why, sizeof(h->why), "unknown");
	if (!u64_of(json_object_get(o, "interval"), &h->interval) ||
	    !h->interval)
		return fail(
			w,
			"header.interval: expected a positive integer (usec)");
	h->dry_run = json_is_true(json_object_get(o, "dry_run"));
	r = policy_get(json_object_get(o, "policy"), &h->policy, w);
	if (r == 0)
		r = state_get(json_object_get(o, "state"), &h->state, w);
	return r;
}

static int vm_get(const json_t *o, struct trace_tick *t, size_t i,
		  struct where *w)
{
	struct vm_signals *v = &t->vms[i];
	const json_t *ovc, *idle, *cls;
	char ctx[32];

	snprintf(ctx, sizeof(ctx), "vms[%zu]", i);
	if (fields_get(o, vm_fields, v, ctx, w) < 0)
		return -EINVAL;
	if (!v->name[0])
		return fail(w, "%s: no name", ctx);
	cls = json_object_get(o, "class");
	if (cls && !json_is_null(cls) &&
	    !str_of(cls, t->classes[i], sizeof(t->classes[i])))
		return fail(w, "%s.class: expected a class name or null", ctx);
	if (psi_get(json_object_get(o, "psi"), &v->psi, ctx, w) < 0)
		return -EINVAL;
	ovc = json_object_get(o, "ovcmem");
	if (!ovc)
		return 0;
	strncat(ctx, ".ovcmem", sizeof(ctx) - strlen(ctx) - 1);
	if (fields_get(ovc, ovcmem_fields, &v->ovcmem, ctx, w) < 0)
		return -EINVAL;
	idle = json_object_get(ovc, "idle_pages");
	if (idle &&
	    (!json_is_array(idle) || json_array_size(idle) != IDLE_BUCKETS))
		return fail(w, "%s.idle_pages: expected %d counts", ctx,
			    IDLE_BUCKETS);
	for (unsigned int k = 0; idle && k < IDLE_BUCKETS; k++)
		if (!u64_of(json_array_get(idle, k), &v->ovcmem.idle_pages[k]))
			return fail(w, "%s.idle_pages[%u]: not a count", ctx,
				    k);
	return 0;
}

static int action_get(const json_t *o, struct trace_tick *t, size_t i,
		      struct where *w)
{
	struct action *a = &t->actions[i];
	struct trace_result *res = &t->results[i];
	const json_t *vm = json_object_get(o, "vm"), *err;

	if (!json_is_object(o))
		return fail(w, "actions[%zu]: expected an object", i);
	if (!kind_of(json_object_get(o, "kind"), &a->kind))
		return fail(w, "actions[%zu].kind: not an action kind", i);
	if (!json_is_integer(vm) || json_integer_value(vm) < 0 ||
	    (size_t)json_integer_value(vm) >= t->n_vms)
		return fail(w, "actions[%zu].vm: not an index into vms", i);
	a->vm = (size_t)json_integer_value(vm);
	if (!u64_of(json_object_get(o, "bytes"), &a->bytes))
		return fail(w, "actions[%zu].bytes: not a byte count", i);
	if (!mode_of(json_object_get(o, "mode"), &a->mode))
		return fail(w, "actions[%zu].mode: not a mode name", i);
	if (json_object_get(o, "min_idle") &&
	    !u64_of(json_object_get(o, "min_idle"), &a->min_idle))
		return fail(w, "actions[%zu].min_idle: not a duration", i);
	if (!str_of(json_object_get(o, "reason"), a->reason, sizeof(a->reason)))
		return fail(w, "actions[%zu].reason: expected a string", i);
	if (json_object_get(o, "done") &&
	    !u64_of(json_object_get(o, "done"), &res->bytes_done))
		return fail(w, "actions[%zu].done: not a byte count", i);
	err = json_object_get(o, "error");
	if (err && (!json_is_integer(err) || json_integer_value(err) > 0 ||
		    json_integer_value(err) < -4095))
		return fail(w, "actions[%zu].error: not a negative errno", i);
	res->error = (int)json_integer_value(err);
	res->partial = json_is_true(json_object_get(o, "partial"));
	res->dry_run = json_is_true(json_object_get(o, "dry_run"));
	return 0;
}

static int tick_get(const json_t *o, struct trace_tick *t, struct where *w)
{
	const json_t *vms = json_object_get(o, "vms"),
		     *acts = json_object_get(o, "actions"),
		     *host = json_object_get(o, "host");
	size_t nv, na;

	if (!u64_of(json_object_get(o, "now"), &t->now))
		return fail(w, "tick without a time (now)");
	if (json_object_get(o, "interval") &&
	    !u64_of(json_object_get(o, "interval"), &t->interval))
		return fail(w, "interval: not a duration in usec");
	if (!json_is_array(vms) || !json_is_array(acts))
		return fail(w, "tick without vms and actions arrays");
	if (fields_get(host, host_fields, &t->host, "host", w) < 0 ||
	    psi_get(json_object_get(host, "psi"), &t->host.psi, "host", w) < 0)
		return -EINVAL;
	if (!mode_of(json_object_get(o, "mode"), &t->mode))
		return fail(w, "mode: not a mode name");
	if (!str_of(json_object_get(o, "mode_reason"), t->mode_reason,
		    sizeof(t->mode_reason)))
		return fail(w, "mode_reason: expected a string");
	nv = json_array_size(vms);
	na = json_array_size(acts);
	t->vms = calloc(nv ? nv : 1, sizeof(*t->vms));
	t->classes = calloc(nv ? nv : 1, sizeof(*t->classes));
	t->actions = calloc(na ? na : 1, sizeof(*t->actions));
	t->results = calloc(na ? na : 1, sizeof(*t->results));
	if (!t->vms || !t->classes || !t->actions || !t->results)
		return -ENOMEM;
	t->n_vms = nv;
	for (size_t i = 0; i < nv; i++)
		if (vm_get(json_array_get(vms, i), t, i, w) < 0)
			return -EINVAL;
	t->n_actions = na;
	for (size_t i = 0; i < na; i++)
		if (action_get(json_array_get(acts, i), t, i, w) < 0)
			return -EINVAL;
	return 0;
}

int trace_parse_line(const char *line, size_t len, struct trace_header *hdr,
		     struct trace_tick *tick, char *err, size_t err_len)
{
	struct where w = {err, err_len};
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	const char *type;
	int r;

	if (!o)
		return fail(&w, "not JSON (%s at column %d)", je.text,
			    je.column);
	type = json_string_value(json_object_get(o, "type"));
	if (!type) {
		r = fail(&w, "a line without a \"type\"");
	} else if (!strcmp(type, "header")) {
		memset(hdr, 0, sizeof(*hdr));
		r = header_get(o, hdr, &w);
		if (r < 0)
			trace_header_free(hdr);
		else
			r = TRACE_LINE_HEADER;
	} else if (!strcmp(type, "tick")) {
		memset(tick, 0, sizeof(*tick));
		r = tick_get(o, tick, &w);
		if (r < 0)
			trace_tick_free(tick);
		else
			r = TRACE_LINE_TICK;
	} else {
		r = fail(&w, "unknown line type \"%.32s\"", type);
	}
	if (r == -ENOMEM)
		fail(&w, "out of memory");
	json_decref(o);
	return r;
}

/* ---- the reader
 * ---------------------------------------------------------------- */

int trace_reader_open(struct trace_reader *r, const char *path, char *err,
		      size_t err_len)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->f = fopen(path, "re");
	if (!r->f) {
		int e = errno;

		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* One line into r->buf without its '\n': its length, -1 at the end,
 * -EFBIG past TRACE_LINE_MAX, -ENOMEM. *@complete: it had a '\n'. */
static long read_line(struct trace_reader *r, bool *complete)
{
	size_t n = 0;
	int c;

	*complete = false;
	errno = 0;
	while ((c = getc(r->f)) != EOF) {
		if (c == '\n') {
			*complete = true;
			break;
		}
		if (n >= TRACE_LINE_MAX)
			return -EFBIG;
		if (n + 1 >= r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 4096;
			char *p = realloc(r->buf, cap);

			if (!p)
				return -ENOMEM;
			r->buf = p;
			r->cap = cap;
		}
		r->buf[n++] = (char)c;
	}
	if (ferror(r->f))
		return errno ? -errno : -EIO; /* EISDIR: a directory */
	if (c == EOF && n == 0)
		return -1;
	return (long)n;
}

int trace_reader_next(struct trace_reader *r, struct trace_header *hdr,
		      struct trace_tick *tick, char *err, size_t err_len)
{
	char msg[512];
	bool complete;
	long n;
	int k;

	for (;;) {
		n = read_line(r, &complete);
		if (n == -1)
			return 0;
		r->line++;
		if (n == -EFBIG) {
			snprintf(err, err_len,
				 "%s:%lu: line longer than %u MiB: not a trace",
				 r->path, r->line, TRACE_LINE_MAX >> 20);
			return -EFBIG;
		}
		if (n < 0) {
			snprintf(err, err_len, "%s:%lu: %s", r->path, r->line,
				 strerror((int)-n));
			return (int)n;
		}
		if (n > 0)
			break; /* empty lines are skipped */
	}
	if (!complete) {
		snprintf(err, err_len,
			 "%s:%lu: truncated line (no newline at the end of "
			 "the file: the recorder was stopped mid-write?)",
			 r->path, r->line);
		return -EINVAL;
	}
	k = trace_parse_line(r->buf, (size_t)n, hdr, tick, msg, sizeof(msg));
	if (k < 0) {
		snprintf(err, err_len, "%s:%lu: %s", r->path, r->line, msg);
		return k;
	}
	if (k == TRACE_LINE_TICK && !r->seen_header) {
		trace_tick_free(tick);
		snprintf(err, err_len,
			 "%s:%lu: a tick before any header: not the start "
			 "of a trace (give FILE.1 before FILE)",
			 r->path, r->line);
		return -EINVAL;
	}
	if (k == TRACE_LINE_HEADER)
		r->seen_header = true;
	return k;
}

void trace_reader_close(struct trace_reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
