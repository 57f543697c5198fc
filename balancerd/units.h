/* SPDX-License-Identifier: GPL-2.0 */
/* Sizes and durations as admins write them: "512M", "4G", "30s", "500ms". */
#ifndef BALANCERD_UNITS_H
#define BALANCERD_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t usec_t;

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC  1000000ULL
#define USEC_INFINITY UINT64_MAX

/*
 * Lex a decimal unsigned integer at @s: digits only, no sign, no blanks.
 * Returns 0 with *@ret the value and *@end after the digits, -EINVAL if
 * @s does not start with a digit, -ERANGE if it does not fit in 64 bits.
 * By hand rather than strtoull(): a tick lexes ~60 numbers per VM.
 */
int lex_u64(const char *s, const char **end, uint64_t *ret);

/*
 * Parse a byte size: an integer or decimal number with an optional suffix
 * K, M, G, T, P, E (powers of 1024; "KiB"/"MiB"... and "B" accepted too;
 * lower case and "GB" are not). A fraction needs a suffix ("1.5G").
 * Returns 0, or -EINVAL (no number, unknown suffix, trailing junk,
 * negative) or -ERANGE (does not fit in 64 bits).
 */
int parse_size(const char *s, uint64_t *ret);

/*
 * Parse "N%" with 0 <= N <= 100 (decimals allowed). Returns 1 and fills
 * @ret if @s is a percentage, 0 if it is not one (no '%'), -EINVAL or
 * -ERANGE if it is a malformed one.
 */
int parse_percent(const char *s, double *ret);

/*
 * Parse a duration: a number with a unit us, ms, s, m (or min), h, d
 * ("1m30s", "1.5s" too). Returns 0, -EINVAL or -ERANGE.
 * A bare number is an error (-EINVAL): units are never implied.
 */
int parse_duration(const char *s, usec_t *ret);

/*
 * Format for humans, e.g. "1.5G", "512M", "100B", "300ms", "1m30s",
 * "infinity" (USEC_INFINITY); sizes to one decimal, durations exactly, so
 * parse_duration() reads back what format_duration() wrote. Returns @buf.
 */
char *format_size(uint64_t bytes, char *buf, size_t len);
char *format_duration(usec_t usec, char *buf, size_t len);

/* A size that may be given in bytes ("512M") or relative ("10%"). */
struct size_spec {
	bool set;	 /* false: not given, the default applies */
	bool is_percent; /* true: percent of the reference size */
	uint64_t bytes;	 /* when !is_percent */
	double percent;	 /* when is_percent, 0..100 */
};

/*
 * @age in ticks of @interval, rounded up (an age of one usec is one tick:
 * a page counts as idle that long only after a whole tick), saturating
 * at UINT_MAX; @interval 0 is taken as one second. The one conversion
 * between durations and coldmap ages.
 */
unsigned int usec_to_ticks(usec_t age, usec_t interval);

/* CLOCK_MONOTONIC in usec: ticks, action budgets, scan ages. */
usec_t now_monotonic(void);

#endif /* BALANCERD_UNITS_H */
