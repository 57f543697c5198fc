// SPDX-License-Identifier: GPL-2.0
/*
 * A JSON walker that only skips: no values are built, so following a path
 * costs one pass over the text before it, and needs no memory but for
 * comparing keys that hold escapes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_locate.h"

struct cursor {
	const char *p, *end;
	struct json_pos pos;
};

static void advance(struct cursor *c)
{
	if (c->p >= c->end)
		return;
	if (*c->p == '\n') {
		c->pos.line++;
		c->pos.column = 1;
	} else if (((unsigned char)*c->p & 0xc0) != 0x80) {
		/* UTF-8 continuation bytes belong to the previous column */
		c->pos.column++;
	}
	c->p++;
}

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		advance(c);
}

static bool at(const struct cursor *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Append code point @cp as UTF-8. */
static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int read_hex4(struct cursor *c, unsigned long *cp)
{
	*cp = 0;
	for (int i = 0; i < 4; i++) {
		int v = c->p < c->end ? hexval(*c->p) : -1;

		if (v < 0)
			return -EINVAL;
		*cp = *cp * 16 + (unsigned long)v;
		advance(c);
	}
	return 0;
}

/*
 * Skip a string at the cursor (on its opening quote). If @out is given
 * (room for the string's length in the text plus one, which always
 * suffices), decode it there.
 */
static int skip_string(struct cursor *c, char *out)
{
	size_t n = 0;

	if (!at(c, '"'))
		return -EINVAL;
	advance(c);
	while (c->p < c->end && *c->p != '"') {
		unsigned long cp;

		if (*c->p != '\\') {
			if (out)
				out[n++] = *c->p;
			advance(c);
			continue;
		}
		advance(c);
		if (c->p >= c->end)
			return -EINVAL;
		switch (*c->p) {
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			advance(c);
			if (read_hex4(c, &cp) < 0)
				return -EINVAL;
			if (cp >= 0xd800 && cp < 0xdc00 && at(c, '\\')) {
				unsigned long lo;

				advance(c);
				if (!at(c, 'u'))
					return -EINVAL;
				advance(c);
				if (read_hex4(c, &lo) < 0)
					return -EINVAL;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			if (out)
				n += put_utf8(out + n, cp);
			continue;
		default: /* '"', '\\', '/' */
			cp = (unsigned char)*c->p;
			break;
		}
		if (out)
			out[n++] = (char)cp;
		advance(c);
	}
	if (!at(c, '"'))
		return -EINVAL;
	advance(c);
	if (out)
		out[n] = 0;
	return 0;
}

static int skip_value(struct cursor *c)
{
	int depth = 0;

	skip_ws(c);
	if (c->p >= c->end)
		return -EINVAL;
	if (at(c, '"'))
		return skip_string(c, NULL);
	if (!at(c, '{') && !at(c, '[')) {
		/* a number, true, false or null */
		while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
			advance(c);
		return 0;
	}
	do {
		if (c->p >= c->end)
			return -EINVAL;
		if (at(c, '"')) {
			if (skip_string(c, NULL) < 0)
				return -EINVAL;
			continue;
		}
		if (at(c, '{') || at(c, '['))
			depth++;
		else if (at(c, '}') || at(c, ']'))
			depth--;
		advance(c);
	} while (depth > 0);
	return 0;
}

/* On '{': move to the value of member @key; *key_pos gets the key's.
 * @buf has room for any string of the text. */
static int enter_member(struct cursor *c, const char *key, char *buf,
			struct json_pos *key_pos)
{
	if (!at(c, '{'))
		return -ENOENT;
	advance(c);
	for (;;) {
		struct cursor start;
		bool match;

		skip_ws(c);
		if (!at(c, '"'))
			return -ENOENT; /* '}' : no such member */
		start = *c;
		if (skip_string(c, buf) < 0)
			return -EINVAL;
		match = strcmp(buf, key) == 0;
		skip_ws(c);
		if (!at(c, ':'))
			return -EINVAL;
		advance(c);
		skip_ws(c);
		if (match) {
			*key_pos = start.pos;
			return 0;
		}
		if (skip_value(c) < 0)
			return -EINVAL;
		skip_ws(c);
		if (!at(c, ','))
			return -ENOENT;
		advance(c);
	}
}

/* On '[': move to element @index. */
static int enter_element(struct cursor *c, size_t index)
{
	if (!at(c, '['))
		return -ENOENT;
	advance(c);
	skip_ws(c);
	if (at(c, ']'))
		return -ENOENT;
	for (size_t i = 0; i < index; i++) {
		if (skip_value(c) < 0)
			return -EINVAL;
		skip_ws(c);
		if (!at(c, ','))
			return -ENOENT;
		advance(c);
		skip_ws(c);
	}
	return 0;
}

/* Follow @steps from the start of the text; *@kpos as json_locate's. */
static int walk(struct cursor *c, const struct json_step *steps, size_t n_steps,
		struct json_pos *kpos)
{
	char *buf = NULL;
	int r = 0;

	/* a UTF-8 byte order mark is not a column */
	if (c->end - c->p >= 3 && memcmp(c->p, "\xef\xbb\xbf", 3) == 0)
		c->p += 3;
	skip_ws(c);
	*kpos = c->pos;
	for (size_t i = 0; r == 0 && i < n_steps; i++) {
		if (steps[i].key) {
			/* Once per walk: keys are compared decoded. */
			if (!buf)
				buf = malloc((size_t)(c->end - c->p) + 1);
			if (!buf)
				return -ENOMEM;
			r = enter_member(c, steps[i].key, buf, kpos);
		} else {
			r = enter_element(c, steps[i].index);
			*kpos = c->pos;
		}
	}
	free(buf);
	return r;
}

int json_locate(const char *text, size_t len, const struct json_step *steps,
		size_t n_steps, struct json_pos *key_pos,
		struct json_pos *value_pos)
{
	struct cursor c = {text, text + len, {1, 1}};
	struct json_pos kpos;
	int r;

	r = walk(&c, steps, n_steps, &kpos);
	if (r < 0)
		return r;
	if (key_pos)
		*key_pos = kpos;
	if (value_pos)
		*value_pos = c.pos;
	return 0;
}

int json_locate_elements(const char *text, size_t len,
			 const struct json_step *steps, size_t n_steps,
			 struct json_pos *ret, size_t n)
{
	struct cursor c = {text, text + len, {1, 1}};
	struct json_pos kpos;
	size_t i = 0;
	int r;

	r = walk(&c, steps, n_steps, &kpos);
	if (r < 0)
		return r;
	if (!at(&c, '['))
		return -ENOENT;
	advance(&c);
	skip_ws(&c);
	while (i < n && !at(&c, ']') && c.p < c.end) {
		ret[i++] = c.pos;
		if (skip_value(&c) < 0)
			return -EINVAL;
		skip_ws(&c);
		if (!at(&c, ','))
			break;
		advance(&c);
		skip_ws(&c);
	}
	return (int)i;
}

struct json_pos json_pos_of_offset(const char *text, size_t len, size_t offset)
{
	struct cursor c = {text, text + (offset < len ? offset : len), {1, 1}};

	while (c.p < c.end)
		advance(&c);
	return c.pos;
}

static bool key_needs_quotes(const char *key)
{
	return !*key || strpbrk(key, ".[]\"") != NULL;
}

char *json_path_format(const struct json_step *steps, size_t n_steps, char *buf,
		       size_t len)
{
	size_t off = 0;

	if (!buf || len == 0)
		return buf;
	buf[0] = 0;
	for (size_t i = 0; i < n_steps && off < len; i++) {
		int w;

		if (!steps[i].key)
			w = snprintf(buf + off, len - off, "[%zu]",
				     steps[i].index);
		else if (key_needs_quotes(steps[i].key))
			w = snprintf(buf + off, len - off, "[\"%s\"]",
				     steps[i].key);
		else
			w = snprintf(buf + off, len - off, "%s%s",
				     off ? "." : "", steps[i].key);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}
