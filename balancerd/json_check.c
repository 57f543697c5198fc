// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "json_check.h"
#include "safe_open.h"

/* Strings quoted in messages are cut here so one error stays one line. */
#define QUOTE_MAX 40

int policy_errors_add(struct policy_errors *errs, const char *file, int line,
		      int column, const char *path, const char *fmt, ...)
{
	struct policy_error *items, *e;
	va_list ap;

	items = realloc(errs->items, (errs->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	errs->items = items;
	e = &items[errs->n++];
	memset(e, 0, sizeof(*e));
	/* A file name is the admin's, or anybody's who can write the
	 * policy directory: shown escaped, like every name (escape.h). */
	escape_text(file ? file : "", e->file, sizeof(e->file));
	e->line = line;
	e->column = column;
	snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	/* one error, one line: a key or value with "\n" in it must not
	 * forge a second message in a log */
	for (char *m = e->message; *m; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			*m = '?';
	for (char *m = e->path; *m; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			*m = '?';
	return 0;
}

void policy_error_format(const struct policy_error *e, char *buf, size_t len)
{
	char where[300];

	if (e->line > 0)
		snprintf(where, sizeof(where), "%s:%d:%d", e->file, e->line,
			 e->column);
	else
		snprintf(where, sizeof(where), "%s", e->file);
	if (e->path[0])
		snprintf(buf, len, "%s: %s: %s", where, e->path, e->message);
	else
		snprintf(buf, len, "%s: %s", where, e->message);
}

void policy_errors_free(struct policy_errors *errs)
{
	if (!errs)
		return;
	free(errs->items);
	errs->items = NULL;
	errs->n = 0;
}

int jcheck_read_file(const char *path, char **ret, size_t *ret_len,
		     struct policy_errors *errs)
{
	char *buf = NULL;
	size_t len = 0, cap = 4096;
	struct stat st;
	int fd, r = 0;

	/* A FIFO named *.json must not hang a reload or --check. */
	fd = open_regular(path);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	/* Room for what fstat says, growing if the file does: a policy is
	 * a few KiB, the limit a MiB. */
	if (fstat(fd, &st) == 0 && st.st_size >= 0 &&
	    (uint64_t)st.st_size < JCHECK_MAX_FILE)
		cap = (size_t)st.st_size + 1;
	for (;;) {
		ssize_t n;

		if (len == cap || !buf) {
			char *nb;

			cap = buf ? cap * 2 : cap;
			if (cap > JCHECK_MAX_FILE + 1)
				cap = JCHECK_MAX_FILE + 1;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > JCHECK_MAX_FILE) {
			r = -EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (r == -EFBIG)
		policy_errors_add(errs, path, 0, 0, "",
				  "file is larger than %d bytes",
				  JCHECK_MAX_FILE);
	else
		policy_errors_add(errs, path, 0, 0, "", "cannot read: %s",
				  open_strerror(r));
	return r;
}

/* jansson puts the column on the last character of the token it names;
 * an admin looks for where the token starts. */
static size_t token_start(const char *text, size_t len, size_t pos,
			  const char *msg)
{
	const char *near = strstr(msg, "near '");
	size_t tlen;

	if (!near || pos > len)
		return pos;
	near += strlen("near '");
	tlen = strlen(near);
	if (tlen == 0 || near[tlen - 1] != '\'')
		return pos;
	tlen--;
	if (tlen > pos || memcmp(text + pos - tlen, near, tlen) != 0)
		return pos;
	return pos - tlen;
}

json_t *jcheck_parse(const char *file, const char *text, size_t len,
		     struct policy_errors *errs)
{
	json_error_t err;
	json_t *root;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		size_t pos = err.position < 0 ? 0 : (size_t)err.position;
		struct json_pos p;

		p = json_pos_of_offset(text, len,
				       token_start(text, len, pos, err.text));
		policy_errors_add(errs, file, p.line, p.column, "",
				  "syntax error: %s", err.text);
	}
	return root;
}

void jcheck_init(struct jcheck *c, const char *file, const char *text,
		 size_t len, struct policy_errors *errs)
{
	memset(c, 0, sizeof(*c));
	c->file = file;
	c->text = text;
	c->len = len;
	c->errs = errs;
}

void jcheck_push_key(struct jcheck *c, const char *key)
{
	if (c->depth < JCHECK_MAX_DEPTH)
		c->steps[c->depth] = (struct json_step){.key = key};
	c->depth++;
}

void jcheck_push_index(struct jcheck *c, size_t index)
{
	if (c->depth < JCHECK_MAX_DEPTH)
		c->steps[c->depth] = (struct json_step){.index = index};
	c->depth++;
}

void jcheck_pop(struct jcheck *c)
{
	if (c->depth > 0)
		c->depth--;
}

/* May one more error be recorded? */
static bool budget(struct jcheck *c)
{
	if (++c->n_errors <= JCHECK_MAX_ERRORS)
		return true;
	if (c->n_errors == JCHECK_MAX_ERRORS + 1 &&
	    policy_errors_add(c->errs, c->file, 0, 0, "",
			      "too many errors; only the first %d are shown",
			      JCHECK_MAX_ERRORS) < 0)
		c->enomem = -ENOMEM;
	return false;
}

static void vrecord(struct jcheck *c, bool at_key, const char *fmt, va_list ap)
{
	size_t depth =
		c->depth < JCHECK_MAX_DEPTH ? c->depth : JCHECK_MAX_DEPTH;
	struct json_pos kpos = {0, 0}, vpos = {0, 0}, p;
	char path[128], msg[256];

	if (!budget(c))
		return;
	json_path_format(c->steps, depth, path, sizeof(path));
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->text &&
	    json_locate(c->text, c->len, c->steps, depth, &kpos, &vpos) < 0)
		kpos = vpos = (struct json_pos){0, 0};
	p = at_key ? kpos : vpos;
	if (policy_errors_add(c->errs, c->file, p.line, p.column, path, "%s",
			      msg) < 0)
		c->enomem = -ENOMEM;
}

void jcheck_error(struct jcheck *c, bool at_key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(c, at_key, fmt, ap);
	va_end(ap);
}

/* Placed on the object that lacks the key, named by the key's path. */
void jcheck_error_missing(struct jcheck *c, const char *key)
{
	size_t depth =
		c->depth < JCHECK_MAX_DEPTH ? c->depth : JCHECK_MAX_DEPTH;
	struct json_pos vpos = {0, 0};
	char path[128];

	if (!budget(c))
		return;
	jcheck_push_key(c, key);
	json_path_format(c->steps,
			 depth + 1 <= JCHECK_MAX_DEPTH ? depth + 1 : depth,
			 path, sizeof(path));
	jcheck_pop(c);
	if (c->text &&
	    json_locate(c->text, c->len, c->steps, depth, NULL, &vpos) < 0)
		vpos = (struct json_pos){0, 0};
	if (policy_errors_add(c->errs, c->file, vpos.line, vpos.column, path,
			      "missing required key '%s'", key) < 0)
		c->enomem = -ENOMEM;
}

const char *jcheck_describe(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		snprintf(buf, len, "an object");
		break;
	case JSON_ARRAY:
		snprintf(buf, len, "a list");
		break;
	case JSON_STRING: {
		const char *s = json_string_value(v);

		if (strlen(s) > QUOTE_MAX)
			snprintf(buf, len, "\"%.*s...\"", QUOTE_MAX, s);
		else
			snprintf(buf, len, "\"%s\"", s);
		break;
	}
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		break;
	case JSON_NULL:
		snprintf(buf, len, "null");
		break;
	}
	return buf;
}

size_t edit_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64 + 1];

	if (la > 64 || lb > 64)
		return cap;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best;

		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = diag + cost;

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best >= cap)
			return cap;
	}
	return row[lb] < cap ? row[lb] : cap;
}

const char *nearest_key(const char *key, const char *const *known)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; known[i]; i++) {
		size_t klen = strlen(known[i]);
		/* a third of the word may be wrong, but at least 2 letters */
		size_t limit = klen / 3 > 2 ? klen / 3 : 2;
		size_t d = edit_distance(key, known[i], limit + 1);

		/* "prio" for "priority": a word cut short */
		if (d > limit && strlen(key) >= 3 &&
		    strncmp(key, known[i], strlen(key)) == 0)
			d = limit;
		if (d <= limit && d < best_d) {
			best = known[i];
			best_d = d;
		}
	}
	return best;
}

bool jcheck_object(struct jcheck *c, const json_t *v, const char *what,
		   const char *const *known)
{
	const char *key;
	json_t *member;
	char found[64];

	if (!json_is_object(v)) {
		jcheck_error(c, false, "expected %s, found %s", what,
			     jcheck_describe(v, found, sizeof(found)));
		return false;
	}
	json_object_foreach((json_t *)v, key, member)
	{
		const char *near;
		size_t i;

		for (i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i])
			continue;
		near = nearest_key(key, known);
		jcheck_push_key(c, key);
		if (near) {
			jcheck_error(c, true,
				     "unknown key '%s' (did you mean '%s'?)",
				     key, near);
		} else {
			char list[200];
			size_t off = 0;

			list[0] = 0;
			for (i = 0; known[i] && off < sizeof(list); i++)
				off += (size_t)snprintf(
					list + off, sizeof(list) - off, "%s%s",
					i ? ", " : "", known[i]);
			jcheck_error(c, true,
				     "unknown key '%s' (known keys: %s)", key,
				     list);
		}
		jcheck_pop(c);
	}
	return true;
}

/* Push @key, fetch it; NULL (and nothing pushed) when absent. */
static json_t *enter(struct jcheck *c, const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		jcheck_push_key(c, key);
	return v;
}

static int wrong(struct jcheck *c, const json_t *v, const char *expected)
{
	char found[64];

	jcheck_error(c, false, "expected %s, found %s", expected,
		     jcheck_describe(v, found, sizeof(found)));
	jcheck_pop(c);
	return -1;
}

static int ok(struct jcheck *c)
{
	jcheck_pop(c);
	return 1;
}

int jcheck_string(struct jcheck *c, const json_t *obj, const char *key,
		  char *buf, size_t len)
{
	json_t *v = enter(c, obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return wrong(c, v, "a string");
	if (json_string_length(v) >= len) {
		jcheck_error(c, false,
			     "expected a string of at most %zu bytes, found "
			     "%zu bytes",
			     len - 1, json_string_length(v));
		jcheck_pop(c);
		return -1;
	}
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return ok(c);
}

int jcheck_bool(struct jcheck *c, const json_t *obj, const char *key, bool *ret)
{
	json_t *v = enter(c, obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return wrong(c, v, "true or false");
	*ret = json_is_true(v);
	return ok(c);
}

int jcheck_int(struct jcheck *c, const json_t *obj, const char *key,
	       long long min, long long max, long long *ret)
{
	json_t *v = enter(c, obj, key);
	char expected[96];

	if (!v)
		return 0;
	snprintf(expected, sizeof(expected), "an integer from %lld to %lld",
		 min, max);
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return wrong(c, v, expected);
	*ret = json_integer_value(v);
	return ok(c);
}

int jcheck_number(struct jcheck *c, const json_t *obj, const char *key,
		  double min, bool min_exclusive, double max, double *ret)
{
	json_t *v = enter(c, obj, key);
	char expected[96];
	double d;

	if (!v)
		return 0;
	if (min_exclusive)
		snprintf(expected, sizeof(expected),
			 "a number above %g and at most %g", min, max);
	else
		snprintf(expected, sizeof(expected), "a number from %g to %g",
			 min, max);
	if (!json_is_number(v))
		return wrong(c, v, expected);
	d = json_number_value(v);
	if (d > max || d < min || (min_exclusive && d == min))
		return wrong(c, v, expected);
	*ret = d;
	return ok(c);
}

int jcheck_duration(struct jcheck *c, const json_t *obj, const char *key,
		    usec_t min, usec_t max, usec_t *ret)
{
	json_t *v = enter(c, obj, key);
	char expected[96], a[32], b[32];
	usec_t d;

	if (!v)
		return 0;
	if (!json_is_string(v) || parse_duration(json_string_value(v), &d) < 0)
		return wrong(c, v, "a duration such as \"30s\" or \"500ms\"");
	if (d < min || d > max) {
		snprintf(expected, sizeof(expected), "a duration from %s to %s",
			 format_duration(min, a, sizeof(a)),
			 format_duration(max, b, sizeof(b)));
		return wrong(c, v, expected);
	}
	*ret = d;
	return ok(c);
}

int jcheck_size_spec(struct jcheck *c, const json_t *obj, const char *key,
		     bool allow_percent, struct size_spec *ret)
{
	json_t *v = enter(c, obj, key);
	const char *expected =
		allow_percent ? "a size such as \"512M\", \"4G\" or \"10%\""
			      : "a size such as \"512M\" or \"4G\"";
	const char *s;
	double pct;
	uint64_t bytes;
	int r;

	if (!v)
		return 0;
	if (!json_is_string(v))
		return wrong(c, v, expected);
	s = json_string_value(v);
	r = parse_percent(s, &pct);
	if (r == -ERANGE && allow_percent)
		return wrong(c, v, "a percentage from 0% to 100%");
	if (r != 0 && !allow_percent)
		return wrong(c, v, expected);
	if (r < 0)
		return wrong(c, v, expected);
	if (r > 0) {
		*ret = (struct size_spec){
			.set = true, .is_percent = true, .percent = pct};
		return ok(c);
	}
	r = parse_size(s, &bytes);
	if (r == -ERANGE)
		return wrong(c, v, "a size below 16E");
	if (r < 0)
		return wrong(c, v, expected);
	*ret = (struct size_spec){.set = true, .bytes = bytes};
	return ok(c);
}

int jcheck_rate(struct jcheck *c, const json_t *obj, const char *key,
		uint64_t *ret)
{
	static const char expected[] =
		"a rate in bytes per second such as \"64M\" or \"64M/s\"";
	json_t *v = enter(c, obj, key);
	char buf[64];
	size_t len;
	uint64_t bytes;

	if (!v)
		return 0;
	if (!json_is_string(v))
		return wrong(c, v, expected);
	len = json_string_length(v);
	if (len >= sizeof(buf))
		return wrong(c, v, expected);
	memcpy(buf, json_string_value(v), len + 1);
	if (len > 2 && strcmp(buf + len - 2, "/s") == 0)
		buf[len - 2] = 0;
	if (parse_size(buf, &bytes) < 0)
		return wrong(c, v, expected);
	if (bytes == 0)
		return wrong(c, v, "a rate above 0");
	*ret = bytes;
	return ok(c);
}

void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int jcheck_string_list(struct jcheck *c, const json_t *obj, const char *key,
		       size_t max_len, char ***ret, size_t *ret_n)
{
	json_t *v = enter(c, obj, key), *item;
	char **strv;
	size_t i, n;
	bool bad = false;

	if (!v)
		return 0;
	if (!json_is_array(v))
		return wrong(c, v, "a list of strings");
	n = json_array_size(v);
	if (n == 0) {
		jcheck_error(c, false,
			     "expected a non-empty list of strings, found an "
			     "empty list");
		jcheck_pop(c);
		return -1;
	}
	json_array_foreach(v, i, item)
	{
		char found[64];

		jcheck_push_index(c, i);
		if (!json_is_string(item))
			jcheck_error(
				c, false, "expected a string, found %s",
				jcheck_describe(item, found, sizeof(found)));
		else if (json_string_length(item) == 0)
			jcheck_error(c, false,
				     "expected a non-empty string, found \"\"");
		else if (json_string_length(item) > max_len)
			jcheck_error(c, false,
				     "expected a string of at most %zu bytes, "
				     "found %zu bytes",
				     max_len, json_string_length(item));
		else {
			jcheck_pop(c);
			continue;
		}
		bad = true;
		jcheck_pop(c);
	}
	if (bad) {
		jcheck_pop(c);
		return -1;
	}
	strv = calloc(n, sizeof(*strv));
	if (!strv) {
		c->enomem = -ENOMEM;
		jcheck_pop(c);
		return -1;
	}
	for (i = 0; i < n; i++) {
		strv[i] = strdup(json_string_value(json_array_get(v, i)));
		if (!strv[i]) {
			strv_free(strv, i);
			c->enomem = -ENOMEM;
			jcheck_pop(c);
			return -1;
		}
	}
	*ret = strv;
	*ret_n = n;
	return ok(c);
}

char *size_spec_format(const struct size_spec *s, char *buf, size_t len)
{
	if (s->is_percent)
		snprintf(buf, len, "%g%%", s->percent);
	else
		format_size(s->bytes, buf, len);
	return buf;
}
