// SPDX-License-Identifier: GPL-2.0
/*
 * Sizes and durations as admins write them. Hand-written parsers rather
 * than strtod(3): strtod accepts leading blanks, hex, "inf" and "nan" and
 * depends on the locale, none of which belongs in a policy file.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "units.h"

int lex_u64(const char *s, const char **end, uint64_t *ret)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	*end = s;
	return 0;
}

/*
 * A decimal number "123" or "123.456" at *s, as an integer part and a
 * fraction (numerator / 10^digits). Advances *s. Returns 0, -EINVAL (no
 * digits, or a '.' without digits after it) or -ERANGE.
 */
struct decimal {
	uint64_t whole;
	uint64_t frac;	   /* fraction digits as an integer */
	uint64_t frac_div; /* 10^number of fraction digits, 1 if none */
};

/* More fraction digits than this carry no meaning for bytes or usec. */
#define DECIMAL_MAX_FRAC_DIGITS 9

static int parse_decimal(const char **s, struct decimal *d)
{
	const char *p = *s;

	*d = (struct decimal){.frac_div = 1};
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (d->whole > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		d->whole = d->whole * 10 + digit;
	}
	if (*p == '.') {
		unsigned int n = 0;

		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++, n++) {
			if (n >= DECIMAL_MAX_FRAC_DIGITS)
				continue; /* beyond resolution: ignored */
			d->frac = d->frac * 10 + (uint64_t)(*p - '0');
			d->frac_div *= 10;
		}
	}
	*s = p;
	return 0;
}

/* d * mult, truncated; -ERANGE on overflow. */
static int decimal_scale(const struct decimal *d, uint64_t mult, uint64_t *ret)
{
	uint64_t whole, frac;

	if (mult && d->whole > UINT64_MAX / mult)
		return -ERANGE;
	whole = d->whole * mult;
	/* frac < frac_div <= 10^9 and mult <= 2^60: split to avoid overflow */
	frac = (mult / d->frac_div) * d->frac +
	       (mult % d->frac_div) * d->frac / d->frac_div;
	if (whole > UINT64_MAX - frac)
		return -ERANGE;
	*ret = whole + frac;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t mult;
} size_suffixes[] = {
	{"", 1ULL},	     {"B", 1ULL},	  {"K", 1ULL << 10},
	{"KiB", 1ULL << 10}, {"M", 1ULL << 20},	  {"MiB", 1ULL << 20},
	{"G", 1ULL << 30},   {"GiB", 1ULL << 30}, {"T", 1ULL << 40},
	{"TiB", 1ULL << 40}, {"P", 1ULL << 50},	  {"PiB", 1ULL << 50},
	{"E", 1ULL << 60},   {"EiB", 1ULL << 60},
};

int parse_size(const char *s, uint64_t *ret)
{
	struct decimal d;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_decimal(&s, &d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(size_suffixes) / sizeof(*size_suffixes);
	     i++) {
		if (strcmp(s, size_suffixes[i].suffix) != 0)
			continue;
		/* A fraction of a byte is a typo, not a size. */
		if (size_suffixes[i].mult == 1 && d.frac_div > 1)
			return -EINVAL;
		return decimal_scale(&d, size_suffixes[i].mult, ret);
	}
	return -EINVAL;
}

int parse_percent(const char *s, double *ret)
{
	struct decimal d;
	size_t len;
	int r;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || s[len - 1] != '%')
		return 0;
	r = parse_decimal(&s, &d);
	if (r < 0)
		return r == -ERANGE ? -ERANGE : -EINVAL;
	if (strcmp(s, "%") != 0)
		return -EINVAL;
	if (d.whole > 100 || (d.whole == 100 && d.frac > 0))
		return -ERANGE;
	*ret = (double)d.whole + (double)d.frac / (double)d.frac_div;
	return 1;
}

static const struct {
	const char *unit;
	usec_t mult;
} duration_units[] = {
	/* longest first where one is a prefix of another: "ms" before "m" */
	{"us", 1ULL},
	{"ms", USEC_PER_MSEC},
	{"min", 60 * USEC_PER_SEC},
	{"s", USEC_PER_SEC},
	{"m", 60 * USEC_PER_SEC},
	{"h", 3600 * USEC_PER_SEC},
	{"d", 86400 * USEC_PER_SEC},
};

int parse_duration(const char *s, usec_t *ret)
{
	usec_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		struct decimal d;
		usec_t part;
		size_t i, n = sizeof(duration_units) / sizeof(*duration_units);
		int r;

		r = parse_decimal(&s, &d);
		if (r < 0)
			return r;
		for (i = 0; i < n; i++) {
			size_t ulen = strlen(duration_units[i].unit);

			if (strncmp(s, duration_units[i].unit, ulen) != 0)
				continue;
			/* "m" must not swallow the "m" of a following "ms" */
			if (s[ulen] && !(s[ulen] >= '0' && s[ulen] <= '9'))
				continue;
			break;
		}
		if (i == n)
			return -EINVAL; /* no unit, or an unknown one */
		s += strlen(duration_units[i].unit);
		r = decimal_scale(&d, duration_units[i].mult, &part);
		if (r < 0)
			return r;
		if (total > UINT64_MAX - part)
			return -ERANGE;
		total += part;
	}
	*ret = total;
	return 0;
}

/* Append "N" or "N.F" (F trimmed of trailing zeros) of @num / @div. */
static int format_fixed(char *buf, size_t len, uint64_t num, uint64_t div,
			unsigned int frac_digits, const char *unit)
{
	uint64_t whole = num / div, rem = num % div, scale = 1, frac;

	for (unsigned int i = 0; i < frac_digits; i++)
		scale *= 10;
	/* round half up to frac_digits */
	frac = (uint64_t)(((unsigned __int128)rem * scale + div / 2) / div);
	if (frac >= scale) {
		whole++;
		frac -= scale;
	}
	while (frac_digits > 0 && frac % 10 == 0) {
		frac /= 10;
		frac_digits--;
	}
	if (frac_digits == 0)
		return snprintf(buf, len, "%" PRIu64 "%s", whole, unit);
	return snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64 "%s", whole,
			(int)frac_digits, frac, unit);
}

char *format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int i;

	if (!buf || len == 0)
		return buf;
	for (i = 5; i >= 0; i--) {
		uint64_t unit = 1ULL << (10 * (i + 1));
		char suffix[2] = {units[i], 0};

		if (bytes >= unit) {
			format_fixed(buf, len, bytes, unit, 1, suffix);
			return buf;
		}
	}
	snprintf(buf, len, "%" PRIu64 "B", bytes);
	return buf;
}

char *format_duration(usec_t usec, char *buf, size_t len)
{
	const usec_t hour = 3600 * USEC_PER_SEC, min = 60 * USEC_PER_SEC;
	size_t off = 0;

	if (!buf || len == 0)
		return buf;
	if (usec == USEC_INFINITY) {
		snprintf(buf, len, "infinity");
		return buf;
	}
	if (usec < USEC_PER_SEC) {
		if (usec % USEC_PER_MSEC == 0 && usec > 0)
			snprintf(buf, len, "%" PRIu64 "ms",
				 (uint64_t)(usec / USEC_PER_MSEC));
		else if (usec >= USEC_PER_MSEC)
			format_fixed(buf, len, usec, USEC_PER_MSEC, 3, "ms");
		else
			snprintf(buf, len, "%" PRIu64 "us", usec);
		return buf;
	}
	buf[0] = 0;
	if (usec >= hour) {
		off += (size_t)snprintf(buf, len, "%" PRIu64 "h", usec / hour);
		usec %= hour;
	}
	if (usec >= min && off < len) {
		off += (size_t)snprintf(buf + off, len - off, "%" PRIu64 "m",
					usec / min);
		usec %= min;
	}
	if (usec > 0 && off < len)
		format_fixed(buf + off, len - off, usec, USEC_PER_SEC, 6, "s");
	return buf;
}

usec_t now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

unsigned int usec_to_ticks(usec_t age, usec_t interval)
{
	usec_t ticks;

	if (!interval)
		interval = USEC_PER_SEC;
	ticks = age / interval + (age % interval != 0);
	return ticks > UINT_MAX ? UINT_MAX : (unsigned int)ticks;
}
