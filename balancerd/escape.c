// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/*
 * The length of the valid UTF-8 sequence at @s (at most @n bytes), or 0
 * when it is not one: overlong forms, surrogates and code points above
 * U+10FFFF are invalid, as RFC 3629 says. *@cp receives the code point.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* The escape of control character @c ("\n", or "" for \xNN). */
static const char *named_escape(unsigned char c)
{
	switch (c) {
	case '\a':
		return "\\a";
	case '\b':
		return "\\b";
	case '\t':
		return "\\t";
	case '\n':
		return "\\n";
	case '\v':
		return "\\v";
	case '\f':
		return "\\f";
	case '\r':
		return "\\r";
	default:
		return "";
	}
}

/* Whether code point @cp is one a terminal acts on rather than shows. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

size_t escape_next(const char *s, size_t n, char *out, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp = 0;
	size_t k = utf8_seq(p, n, &cp), elen = 0;

	if (k && !is_control(cp)) {
		memcpy(out, p, k);
		elen = k;
	} else {
		if (!k)
			k = 1; /* not UTF-8: that one byte */
		for (size_t j = 0; j < k; j++) {
			const char *named = named_escape(p[j]);

			if (*named)
				elen += (size_t)snprintf(
					out + elen, ESCAPE_SEQ_MAX + 1 - elen,
					"%s", named);
			else
				elen += (size_t)snprintf(
					out + elen, ESCAPE_SEQ_MAX + 1 - elen,
					"\\x%02x", p[j]);
		}
	}
	out[elen] = '\0';
	*out_len = elen;
	return k;
}

char *escape_bytes(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0, i = 0;

	if (!len)
		return buf;
	while (i < n) {
		char esc[ESCAPE_SEQ_MAX + 1];
		size_t elen, k = escape_next(s + i, n - i, esc, &elen);

		if (o + elen >= len)
			break;
		memcpy(buf + o, esc, elen);
		o += elen;
		i += k;
	}
	buf[o] = '\0';
	return buf;
}

char *escape_text(const char *s, char *buf, size_t len)
{
	return escape_bytes(s ? s : "", s ? strlen(s) : 0, buf, len);
}

/* Whether @s is all valid UTF-8, and free of controls unless @controls. */
static bool utf8_scan(const char *s, bool controls)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_seq(p + i, n - i, &cp);

		if (!k || (!controls && is_control(cp)))
			return false;
		i += k;
	}
	return true;
}

bool escape_is_clean(const char *s)
{
	return utf8_scan(s, false);
}

bool utf8_is_valid(const char *s)
{
	return utf8_scan(s, true);
}

char *escape_dup(const char *s)
{
	size_t len = strlen(s) * ESCAPE_GROWTH + 1;
	char *buf = malloc(len);

	return buf ? escape_text(s, buf, len) : NULL;
}
