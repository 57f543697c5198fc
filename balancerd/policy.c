// SPDX-License-Identifier: GPL-2.0
/*
 * Policy files: load, check against the schema of docs/policies.md, merge,
 * and match VMs to classes. Every problem is collected (an admin fixes a
 * file once, not once per error) with file:line:column and JSON path.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "json_check.h"
#include "policy.h"

/* Defaults for omitted keys; docs/policies.md lists the same. */
#define DEFAULT_INTERVAL       (1 * USEC_PER_SEC)
#define DEFAULT_BACKOFF	       (30 * USEC_PER_SEC)
#define DEFAULT_HYSTERESIS     0.1
#define DEFAULT_LOW_WATERMARK  15.0 /* % of MemTotal */
#define DEFAULT_MIN_WATERMARK  5.0  /* % of MemTotal */
#define DEFAULT_HIGH_WATERMARK 30.0 /* % of MemTotal */
/* Host PSI full avg10: all non-idle tasks stalled 5% of the time is a
 * host in trouble, whatever MemAvailable says. */
#define DEFAULT_PSI_FULL_LIMIT 5.0
#define DEFAULT_PRIORITY       0
#define DEFAULT_SHARES	       100
/* memory.pressure some avg10 of 1%: a stall a guest barely notices, yet
 * enough to let proactive reclaim find the cold memory. */
#define DEFAULT_PRESSURE_TARGET	 1.0
#define DEFAULT_COLD_AGE	 (120 * USEC_PER_SEC)
#define DEFAULT_MAX_RECLAIM_RATE (32ULL << 20)
#define DEFAULT_PREFAULT	 true

/* Ranges: wider than sense, narrower than nonsense. */
#define INTERVAL_MIN   (10 * USEC_PER_MSEC)
#define INTERVAL_MAX   (3600 * USEC_PER_SEC)
#define BACKOFF_MAX    (86400 * USEC_PER_SEC)
#define HYSTERESIS_MAX 0.9
#define PRIORITY_LIMIT 1000
#define SHARES_MAX     10000
#define COLD_AGE_MIN   (1 * USEC_PER_SEC)
#define COLD_AGE_MAX   (7 * 86400 * USEC_PER_SEC)

static const char *const top_keys[] = {
	"description", "interval", "backoff", "hysteresis",
	"host",	       "classes",  NULL,
};
/* The keys of which one file only may speak. */
static const char *const global_keys[] = {
	"interval", "backoff", "hysteresis", "host", NULL,
};
static const char *const host_keys[] = {
	"low_watermark",
	"min_watermark",
	"high_watermark",
	"psi_full_limit",
	NULL,
};
static const char *const class_keys[] = {
	"name",	      "description",
	"match",      "priority",
	"shares",     "floor",
	"ceiling",    "pressure_target",
	"cold_age",   "max_reclaim_rate",
	"prefault",   "memory_high",
	"memory_low", "merge",
	NULL,
};

uint64_t size_spec_resolve(const struct size_spec *spec, uint64_t reference,
			   uint64_t fallback)
{
	long double v;

	if (!spec || !spec->set)
		return fallback;
	if (!spec->is_percent)
		return spec->bytes;
	v = (long double)reference * spec->percent / 100.0L;
	return v >= (long double)UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* One file under way. */
struct source {
	const char *name;
	const char *text;
	size_t len;
	json_t *root;
	struct jcheck chk;
};

/* Where each merged class came from, for the checks across classes. */
struct origin {
	size_t source;
	size_t index; /* in the file's "classes" */
	int line;
};

struct builder {
	struct policy p;
	struct origin *origins;
	size_t cap;
	const struct source *globals_from; /* the file that set them */
	struct policy_errors *errs;
	int enomem;
};

static void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->interval = DEFAULT_INTERVAL;
	p->backoff = DEFAULT_BACKOFF;
	p->hysteresis = DEFAULT_HYSTERESIS;
	p->host.low_watermark =
		(struct size_spec){.set = true,
				   .is_percent = true,
				   .percent = DEFAULT_LOW_WATERMARK};
	p->host.min_watermark =
		(struct size_spec){.set = true,
				   .is_percent = true,
				   .percent = DEFAULT_MIN_WATERMARK};
	p->host.high_watermark =
		(struct size_spec){.set = true,
				   .is_percent = true,
				   .percent = DEFAULT_HIGH_WATERMARK};
	p->host.psi_full_limit = DEFAULT_PSI_FULL_LIMIT;
}

static void class_defaults(struct policy_class *k)
{
	memset(k, 0, sizeof(*k));
	k->priority = DEFAULT_PRIORITY;
	k->shares = DEFAULT_SHARES;
	k->pressure_target = DEFAULT_PRESSURE_TARGET;
	k->cold_age = DEFAULT_COLD_AGE;
	k->max_reclaim_rate = DEFAULT_MAX_RECLAIM_RATE;
	k->prefault = DEFAULT_PREFAULT;
}

static void class_free(struct policy_class *k)
{
	strv_free(k->match, k->n_match);
	k->match = NULL;
	k->n_match = 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_classes; i++)
		class_free(&p->classes[i]);
	free(p->classes);
	p->classes = NULL;
	p->n_classes = 0;
}

/* Both absolute or both relative: then, and only then, comparable now. */
static bool size_spec_above(const struct size_spec *a,
			    const struct size_spec *b)
{
	if (!a->set || !b->set || a->is_percent != b->is_percent)
		return false;
	return a->is_percent ? a->percent > b->percent : a->bytes > b->bytes;
}

/*
 * @lo must not be above @hi. The error sits on @lo if the file gave it,
 * else on @hi; a default is called one.
 */
static void check_order(struct jcheck *c, const char *lo_key,
			const struct size_spec *lo, bool lo_given,
			const char *hi_key, const struct size_spec *hi,
			bool hi_given)
{
	char a[32], b[32];

	if (!size_spec_above(lo, hi))
		return;
	size_spec_format(lo, a, sizeof(a));
	size_spec_format(hi, b, sizeof(b));
	jcheck_push_key(c, lo_given ? lo_key : hi_key);
	jcheck_error(c, false, "%s %s%s is above %s %s%s", lo_key, a,
		     lo_given ? "" : " (the default)", hi_key, b,
		     hi_given ? "" : " (the default)");
	jcheck_pop(c);
}

static void parse_host(struct builder *b, struct jcheck *c, const json_t *v)
{
	struct host_policy *h = &b->p.host;
	bool given[3];

	if (!jcheck_object(c, v, "an object", host_keys))
		return;
	given[0] = jcheck_size_spec(c, v, "low_watermark", true,
				    &h->low_watermark) > 0;
	given[1] = jcheck_size_spec(c, v, "min_watermark", true,
				    &h->min_watermark) > 0;
	given[2] = jcheck_size_spec(c, v, "high_watermark", true,
				    &h->high_watermark) > 0;
	jcheck_number(c, v, "psi_full_limit", 0, true, 100, &h->psi_full_limit);

	check_order(c, "min_watermark", &h->min_watermark, given[1],
		    "low_watermark", &h->low_watermark, given[0]);
	check_order(c, "low_watermark", &h->low_watermark, given[0],
		    "high_watermark", &h->high_watermark, given[2]);
	/* min above high while low is between them is already reported */
	if (!size_spec_above(&h->min_watermark, &h->low_watermark) &&
	    !size_spec_above(&h->low_watermark, &h->high_watermark))
		check_order(c, "min_watermark", &h->min_watermark, given[1],
			    "high_watermark", &h->high_watermark, given[2]);
}

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
}

/* NULL if @glob is well formed, else what is wrong with it. */
static const char *glob_problem(const char *glob)
{
	for (const char *p = glob; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return "ends in a lone '\\'";
			p++;
		} else if (*p == '[') {
			const char *q = p + 1;

			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++; /* a leading ']' is a member */
			while (*q && *q != ']')
				q++;
			if (!*q)
				return "has an unclosed '['";
			p = q;
		}
	}
	return NULL;
}

static bool class_name_check(struct jcheck *c, const json_t *v, char *name)
{
	int r = jcheck_string(c, v, "name", name, POLICY_NAME_MAX);

	if (r == 0) {
		jcheck_error_missing(c, "name");
		return false;
	}
	if (r < 0)
		return false;
	for (const char *p = name; *p; p++) {
		if (name_char_ok(*p))
			continue;
		jcheck_push_key(c, "name");
		jcheck_error(c, false,
			     "expected a name of letters, digits, '-', '_' and "
			     "'.', found \"%s\"",
			     name);
		jcheck_pop(c);
		return false;
	}
	if (!name[0]) {
		jcheck_push_key(c, "name");
		jcheck_error(c, false, "expected a non-empty name, found \"\"");
		jcheck_pop(c);
		return false;
	}
	return true;
}

static bool class_match_check(struct jcheck *c, const json_t *v,
			      struct policy_class *k)
{
	int r = jcheck_string_list(c, v, "match", 255, &k->match, &k->n_match);
	bool good = true;

	if (r == 0) {
		jcheck_error_missing(c, "match");
		return false;
	}
	if (r < 0)
		return false;
	jcheck_push_key(c, "match");
	for (size_t i = 0; i < k->n_match; i++) {
		const char *why = glob_problem(k->match[i]);

		if (!why)
			continue;
		jcheck_push_index(c, i);
		jcheck_error(c, false,
			     "expected a glob, found \"%s\", which %s",
			     k->match[i], why);
		jcheck_pop(c);
		good = false;
	}
	jcheck_pop(c);
	return good;
}

/* Parse one class into @k; false if anything in it was wrong. */
static bool parse_class(struct jcheck *c, const json_t *v,
			struct policy_class *k)
{
	size_t before = c->errs->n;
	char desc[1024];
	long long ll;
	bool merge;

	if (!jcheck_object(c, v, "a class object", class_keys))
		return false;
	class_name_check(c, v, k->name);
	jcheck_string(c, v, "description", desc, sizeof(desc));
	class_match_check(c, v, k);
	if (jcheck_int(c, v, "priority", -PRIORITY_LIMIT, PRIORITY_LIMIT, &ll) >
	    0)
		k->priority = (int)ll;
	if (jcheck_int(c, v, "shares", 1, SHARES_MAX, &ll) > 0)
		k->shares = (unsigned int)ll;
	jcheck_size_spec(c, v, "floor", true, &k->floor);
	jcheck_size_spec(c, v, "ceiling", true, &k->ceiling);
	jcheck_number(c, v, "pressure_target", 0, true, 100,
		      &k->pressure_target);
	jcheck_duration(c, v, "cold_age", COLD_AGE_MIN, COLD_AGE_MAX,
			&k->cold_age);
	jcheck_rate(c, v, "max_reclaim_rate", &k->max_reclaim_rate);
	jcheck_bool(c, v, "prefault", &k->prefault);
	jcheck_size_spec(c, v, "memory_high", true, &k->memory_high);
	jcheck_size_spec(c, v, "memory_low", true, &k->memory_low);
	if (jcheck_bool(c, v, "merge", &merge) > 0)
		k->merge = merge ? POLICY_MERGE_ON : POLICY_MERGE_OFF;

	check_order(c, "floor", &k->floor, true, "ceiling", &k->ceiling, true);
	check_order(c, "memory_low", &k->memory_low, true, "memory_high",
		    &k->memory_high, true);
	return c->errs->n == before;
}

static int builder_add_class(struct builder *b, struct policy_class *k,
			     struct origin o)
{
	if (b->p.n_classes == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct policy_class *classes;
		struct origin *origins;

		classes = realloc(b->p.classes, cap * sizeof(*classes));
		if (!classes)
			return -ENOMEM;
		b->p.classes = classes;
		origins = realloc(b->origins, cap * sizeof(*origins));
		if (!origins)
			return -ENOMEM;
		b->origins = origins;
		b->cap = cap;
	}
	b->p.classes[b->p.n_classes] = *k;
	b->origins[b->p.n_classes] = o;
	b->p.n_classes++;
	return 0;
}

static void parse_classes(struct builder *b, struct source *s,
			  const json_t *list)
{
	struct jcheck *c = &s->chk;
	struct json_pos *at = NULL;
	json_t *item;
	size_t i;

	jcheck_push_key(c, "classes");
	if (!json_is_array(list)) {
		char found[64];

		jcheck_error(c, false,
			     "expected a list of class objects, found %s",
			     jcheck_describe(list, found, sizeof(found)));
	} else if (json_array_size(list) == 0) {
		jcheck_error(c, false,
			     "expected a non-empty list of class objects, "
			     "found an empty list");
	}
	/* Where each class starts, in one pass over the text. */
	if (json_is_array(list) && json_array_size(list)) {
		at = calloc(json_array_size(list), sizeof(*at));
		if (at)
			json_locate_elements(s->text, s->len, c->steps,
					     c->depth, at,
					     json_array_size(list));
		else
			b->enomem = -ENOMEM;
	}
	json_array_foreach(list, i, item)
	{
		struct policy_class k;
		struct json_pos pos = at ? at[i] : (struct json_pos){0, 0};

		class_defaults(&k);
		jcheck_push_index(c, i);
		if (!parse_class(c, item, &k)) {
			class_free(&k);
			jcheck_pop(c);
			continue;
		}
		snprintf(k.source, sizeof(k.source), "%s", s->name);
		k.source_line = pos.line;
		if (builder_add_class(b, &k, (struct origin){0, i, pos.line}) <
		    0) {
			class_free(&k);
			b->enomem = -ENOMEM;
		}
		jcheck_pop(c);
	}
	free(at);
	jcheck_pop(c);
}

static void parse_source(struct builder *b, struct source *s, size_t index)
{
	struct jcheck *c = &s->chk;
	const json_t *root = s->root;
	char desc[1024];
	size_t first_new = b->p.n_classes;
	const char *key;
	json_t *v;

	if (!jcheck_object(c, root, "an object at the top level", top_keys))
		return;
	jcheck_string(c, root, "description", desc, sizeof(desc));

	/* One error per file, on the first global key it sets. */
	json_object_foreach((json_t *)root, key, v)
	{
		size_t i;

		for (i = 0; global_keys[i]; i++)
			if (strcmp(key, global_keys[i]) == 0)
				break;
		if (!global_keys[i])
			continue;
		if (!b->globals_from) {
			b->globals_from = s;
		} else if (b->globals_from != s) {
			jcheck_push_key(c, key);
			jcheck_error(c, true,
				     "global settings are already given by %s; "
				     "only one policy file may set interval, "
				     "backoff, hysteresis and host",
				     b->globals_from->name);
			jcheck_pop(c);
		}
		break;
	}
	if (b->globals_from == s) {
		jcheck_duration(c, root, "interval", INTERVAL_MIN, INTERVAL_MAX,
				&b->p.interval);
		jcheck_duration(c, root, "backoff", 0, BACKOFF_MAX,
				&b->p.backoff);
		jcheck_number(c, root, "hysteresis", 0, false, HYSTERESIS_MAX,
			      &b->p.hysteresis);
		v = json_object_get(root, "host");
		if (v) {
			jcheck_push_key(c, "host");
			parse_host(b, c, v);
			jcheck_pop(c);
		}
	}
	v = json_object_get(root, "classes");
	if (v)
		parse_classes(b, s, v);
	for (size_t i = first_new; i < b->p.n_classes; i++)
		b->origins[i].source = index;
	if (c->enomem)
		b->enomem = c->enomem;
}

/*
 * "Can this class ever match?" asks, for each glob of a class, whether a
 * glob of an earlier class covers it: "*" covers everything, a glob
 * covers itself, and "web-*" (no magic before its final '*') covers any
 * glob whose literal start is "web-...". Asked pairwise that is quadratic
 * in the globs (a 960 KB policy took 27 s); asked of an index of the
 * earlier globs, it is linear: one lookup for the glob itself and one per
 * prefix length that some earlier "prefix*" glob has.
 */
struct glob_key {
	const char *s; /* NULL: free slot */
	size_t len;
	bool prefix; /* "s*" (covers by prefix), else the glob itself */
	size_t cls, glob;
	uint64_t hash;
};

struct glob_index {
	struct glob_key *slots;
	size_t mask;
	bool prefix_len[256]; /* some "prefix*" key has this length */
};

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME  1099511628211ULL

static uint64_t fnv_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * FNV_PRIME;
}

static uint64_t fnv(const char *s, size_t len)
{
	uint64_t h = FNV_OFFSET;

	for (size_t i = 0; i < len; i++)
		h = fnv_step(h, (unsigned char)s[i]);
	return h;
}

static int glob_index_init(struct glob_index *x, const struct policy *p)
{
	size_t n = 0, cap = 16;

	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < p->n_classes; i++)
		n += p->classes[i].n_match;
	while (cap < 4 * n + 16) /* two keys a glob, half full at most */
		cap *= 2;
	x->slots = calloc(cap, sizeof(*x->slots));
	if (!x->slots)
		return -ENOMEM;
	x->mask = cap - 1;
	return 0;
}

unsigned long long policy_glob_comparisons;

static struct glob_key *glob_slot(const struct glob_index *x, const char *s,
				  size_t len, bool prefix, uint64_t h)
{
	size_t i = (size_t)(h ^ prefix) & x->mask;

	for (;; i = (i + 1) & x->mask) {
		struct glob_key *k = &x->slots[i];

		policy_glob_comparisons++;
		if (!k->s || (k->hash == h && k->prefix == prefix &&
			      k->len == len && !memcmp(k->s, s, len)))
			return k;
	}
}

/* The first class's glob to bring a key in keeps it: the earliest. */
static void glob_index_add(struct glob_index *x, const char *g, size_t cls,
			   size_t glob)
{
	size_t len = strlen(g), magic = strcspn(g, "*?[\\");
	struct glob_key *k = glob_slot(x, g, len, false, fnv(g, len));

	if (!k->s)
		*k = (struct glob_key){g, len, false, cls, glob, fnv(g, len)};
	if (len == 0 || magic != len - 1 || g[len - 1] != '*' ||
	    len - 1 >= sizeof(x->prefix_len))
		return;
	k = glob_slot(x, g, len - 1, true, fnv(g, len - 1));
	if (!k->s)
		*k = (struct glob_key){g,   len - 1, true,
				       cls, glob,    fnv(g, len - 1)};
	x->prefix_len[len - 1] = true;
}

static const struct glob_key *earlier(const struct glob_key *a,
				      const struct glob_key *b)
{
	if (!a || !a->s)
		return b && b->s ? b : NULL;
	if (!b || !b->s)
		return a;
	return a->cls < b->cls || (a->cls == b->cls && a->glob <= b->glob) ? a
									   : b;
}

/* The earliest indexed glob that covers @g, or NULL. */
static const struct glob_key *glob_index_cover(const struct glob_index *x,
					       const char *g)
{
	size_t len = strlen(g), lit = strcspn(g, "*?[\\");
	const struct glob_key *best = glob_slot(x, g, len, false, fnv(g, len));
	uint64_t h = FNV_OFFSET;

	for (size_t k = 0; k <= lit && k < sizeof(x->prefix_len); k++) {
		if (x->prefix_len[k])
			best = earlier(best, glob_slot(x, g, k, true, h));
		if (k < lit)
			h = fnv_step(h, (unsigned char)g[k]);
	}
	return best && best->s ? best : NULL;
}

/* Class names seen so far, for duplicates: the same open addressing. */
static const struct policy_class *name_seen(const struct glob_index *names,
					    const struct policy *p,
					    const char *name)
{
	const struct glob_key *k = glob_slot(names, name, strlen(name), false,
					     fnv(name, strlen(name)));

	return k->s ? &p->classes[k->cls] : NULL;
}

/* Place an error on classes[N] (+ @key) of the file class @i came from. */
static void class_error(struct builder *b, struct source *srcs, size_t i,
			const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void class_error(struct builder *b, struct source *srcs, size_t i,
			const char *key, const char *fmt, ...)
{
	struct origin *o = &b->origins[i];
	struct jcheck *c = &srcs[o->source].chk;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jcheck_push_key(c, "classes");
	jcheck_push_index(c, o->index);
	if (key)
		jcheck_push_key(c, key);
	jcheck_error(c, false, "%s", msg);
	if (key)
		jcheck_pop(c);
	jcheck_pop(c);
	jcheck_pop(c);
}

static void check_classes(struct builder *b, struct source *srcs)
{
	const struct policy *p = &b->p;
	struct glob_index globs, names;

	if (glob_index_init(&globs, p) < 0 || glob_index_init(&names, p) < 0) {
		free(globs.slots);
		b->enomem = -ENOMEM;
		return;
	}
	for (size_t j = 0; j < p->n_classes; j++) {
		const struct policy_class *k = &p->classes[j];
		const struct policy_class *first =
			name_seen(&names, p, k->name);
		const struct glob_key *by = NULL;

		if (first) {
			class_error(b, srcs, j, "name",
				    "duplicate class name '%s' (first defined "
				    "at %s:%d)",
				    k->name, first->source, first->source_line);
		} else {
			struct glob_key *slot =
				glob_slot(&names, k->name, strlen(k->name),
					  false, fnv(k->name, strlen(k->name)));

			*slot = (struct glob_key){
				k->name, strlen(k->name),
				false,	 j,
				0,	 fnv(k->name, strlen(k->name))};
		}
		/* Every glob covered: the class covering the first names it. */
		for (size_t g = 0; g < k->n_match; g++) {
			const struct glob_key *c =
				glob_index_cover(&globs, k->match[g]);

			if (!c) {
				by = NULL;
				break;
			}
			if (g == 0)
				by = c;
		}
		for (size_t g = 0; g < k->n_match; g++)
			glob_index_add(&globs, k->match[g], j, g);
		if (!by || first)
			continue;
		if (strcmp(by->s, "*") == 0)
			class_error(b, srcs, j, "match",
				    "class '%s' can never match: class '%s' "
				    "(%s:%d) before it matches every name with "
				    "glob '%s'",
				    k->name, p->classes[by->cls].name,
				    p->classes[by->cls].source,
				    p->classes[by->cls].source_line, by->s);
		else
			class_error(b, srcs, j, "match",
				    "class '%s' can never match: class '%s' "
				    "(%s:%d) before it takes every name its "
				    "globs match (glob '%s')",
				    k->name, p->classes[by->cls].name,
				    p->classes[by->cls].source,
				    p->classes[by->cls].source_line, by->s);
	}
	free(globs.slots);
	free(names.slots);
}

static size_t source_index(const struct source *srcs, size_t n,
			   const char *file)
{
	char name[sizeof(((struct policy_error *)0)->file)];

	/* Errors carry the file name escaped (policy_errors_add). */
	for (size_t i = 0; i < n; i++)
		if (srcs[i].name &&
		    strcmp(escape_text(srcs[i].name, name, sizeof(name)),
			   file) == 0)
			return i;
	return n;
}

/* Unplaced errors (line 0: "too many errors") close their file's list. */
static bool error_before(const struct policy_error *a, size_t fa,
			 const struct policy_error *b, size_t fb)
{
	int la = a->line > 0 ? a->line : INT_MAX;
	int lb = b->line > 0 ? b->line : INT_MAX;

	if (fa != fb)
		return fa < fb;
	return la < lb || (la == lb && a->column <= b->column);
}

/*
 * Errors are found schema part by schema part; an admin reads a file top
 * to bottom. Order those from @from on by file, line, column (stable, so
 * errors at one place keep the order in which they were found).
 */
static void sort_errors(struct policy_errors *errs, size_t from,
			const struct source *srcs, size_t n)
{
	for (size_t i = from + 1; i < errs->n; i++) {
		struct policy_error e = errs->items[i];
		size_t fe = source_index(srcs, n, e.file), j = i;

		while (j > from) {
			const struct policy_error *d = &errs->items[j - 1];

			if (error_before(d, source_index(srcs, n, d->file), &e,
					 fe))
				break;
			errs->items[j] = errs->items[j - 1];
			j--;
		}
		errs->items[j] = e;
	}
}

static int load_sources(struct source *srcs, size_t n, int io_error,
			struct policy *out, struct policy_errors *errs)
{
	struct builder b = {.errs = errs};
	size_t before = errs->n;
	int r = 0;

	policy_defaults(&b.p);
	for (size_t i = 0; i < n; i++) {
		if (!srcs[i].text)
			continue;
		jcheck_init(&srcs[i].chk, srcs[i].name, srcs[i].text,
			    srcs[i].len, errs);
		srcs[i].root = jcheck_parse(srcs[i].name, srcs[i].text,
					    srcs[i].len, errs);
		if (srcs[i].root)
			parse_source(&b, &srcs[i], i);
	}
	check_classes(&b, srcs);
	sort_errors(errs, before, srcs, n);
	if (errs->n == before && !io_error && b.p.n_classes == 0)
		policy_errors_add(
			errs, n > 0 ? srcs[0].name : "", 0, 0, "classes",
			"no classes defined: every VM would be left alone");
	for (size_t i = 0; i < n; i++)
		if (srcs[i].chk.enomem)
			b.enomem = -ENOMEM;
	if (b.enomem)
		r = -ENOMEM;
	else if (io_error)
		r = io_error;
	else if (errs->n > before)
		r = -EINVAL;
	for (size_t i = 0; i < n; i++)
		json_decref(srcs[i].root);
	free(b.origins);
	if (r < 0) {
		policy_free(&b.p);
		return r;
	}
	*out = b.p;
	return 0;
}

int policy_load_files(const char *const *paths, size_t n_paths,
		      struct policy *out, struct policy_errors *errs)
{
	struct source *srcs = calloc(n_paths ? n_paths : 1, sizeof(*srcs));
	int io_error = 0, r;

	if (!srcs)
		return -ENOMEM;
	for (size_t i = 0; i < n_paths; i++) {
		char *text;

		srcs[i].name = paths[i];
		r = jcheck_read_file(paths[i], &text, &srcs[i].len, errs);
		if (r < 0) {
			if (!io_error)
				io_error = r;
			continue;
		}
		srcs[i].text = text;
	}
	r = load_sources(srcs, n_paths, io_error, out, errs);
	for (size_t i = 0; i < n_paths; i++)
		free((char *)srcs[i].text);
	free(srcs);
	return r;
}

int policy_load_string(const char *json, const char *name, struct policy *out,
		       struct policy_errors *errs)
{
	struct source src = {.name = name, .text = json, .len = strlen(json)};

	return load_sources(&src, 1, 0, out, errs);
}

static int json_file_filter(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 5 &&
	       strcmp(d->d_name + len - 5, ".json") == 0;
}

/* Byte order, not the locale's: the order files merge in must not depend
 * on $LANG. */
static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int policy_load_dir(const char *dir, struct policy *out,
		    struct policy_errors *errs)
{
	struct dirent **ents = NULL;
	char **paths = NULL;
	int n, r;

	n = scandir(dir, &ents, json_file_filter, name_cmp);
	if (n < 0) {
		r = -errno;
		policy_errors_add(errs, dir, 0, 0, "",
				  "cannot read directory: %s", strerror(-r));
		return r;
	}
	if (n == 0) {
		free(ents);
		policy_errors_add(errs, dir, 0, 0, "",
				  "no policy files (*.json) in this directory");
		return -ENOENT;
	}
	paths = calloc((size_t)n, sizeof(*paths));
	r = paths ? 0 : -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (r == 0 &&
		    asprintf(&paths[i], "%s/%s", dir, ents[i]->d_name) < 0) {
			paths[i] = NULL;
			r = -ENOMEM;
		}
		free(ents[i]);
	}
	free(ents);
	if (r == 0)
		r = policy_load_files((const char *const *)paths, (size_t)n,
				      out, errs);
	if (paths)
		strv_free(paths, (size_t)n);
	return r;
}

const struct policy_class *policy_match(const struct policy *p,
					const char *vm_name, char *why,
					size_t why_len)
{
	size_t off = 0;

	for (size_t i = 0; i < p->n_classes; i++) {
		const struct policy_class *k = &p->classes[i];

		for (size_t g = 0; g < k->n_match; g++) {
			if (fnmatch(k->match[g], vm_name, 0) != 0)
				continue;
			if (why && why_len)
				snprintf(
					why, why_len,
					"class '%s' (%s:%d): glob '%s' matched",
					k->name, k->source, k->source_line,
					k->match[g]);
			return k;
		}
	}
	if (!why || !why_len)
		return NULL;
	off = (size_t)snprintf(why, why_len, "no class matches '%s'", vm_name);
	for (size_t i = 0; i < p->n_classes && off < why_len; i++) {
		const struct policy_class *k = &p->classes[i];

		off += (size_t)snprintf(why + off, why_len - off, "%s'%s' (",
					i ? ", " : ": tried ", k->name);
		for (size_t g = 0; g < k->n_match && off < why_len; g++)
			off += (size_t)snprintf(why + off, why_len - off,
						"%s%s", g ? ", " : "",
						k->match[g]);
		if (off < why_len)
			off += (size_t)snprintf(why + off, why_len - off, ")");
	}
	if (off < why_len && p->n_classes > 0)
		snprintf(why + off, why_len - off, "; the VM is left alone");
	return NULL;
}
