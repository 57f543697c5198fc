// SPDX-License-Identifier: GPL-2.0
/* Sizes, percentages and durations as admins write them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "units.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

static const struct {
	const char *s;
	int r;
	uint64_t v;
} size_cases[] = {
	{"0", 0, 0},
	{"100", 0, 100},
	{"10B", 0, 10},
	{"4K", 0, 4 * KiB},
	{"4KiB", 0, 4 * KiB},
	{"512M", 0, 512 * MiB},
	{"512MiB", 0, 512 * MiB},
	{"4G", 0, 4 * GiB},
	{"1.5G", 0, GiB + GiB / 2},
	{"0.25M", 0, MiB / 4},
	{"2T", 0, 2 * TiB},
	{"1P", 0, 1ULL << 50},
	{"15E", 0, 15ULL << 60},
	{"18446744073709551615", 0, UINT64_MAX},
	{"18446744073709551616", -ERANGE, 0},
	{"16E", -ERANGE, 0},
	{"99999999999T", -ERANGE, 0},
	{"", -EINVAL, 0},
	{"M", -EINVAL, 0},
	{"-1", -EINVAL, 0},
	{"+1", -EINVAL, 0},
	{" 1G", -EINVAL, 0},
	{"1G ", -EINVAL, 0},
	{"1 G", -EINVAL, 0},
	{"1g", -EINVAL, 0},
	{"1X", -EINVAL, 0},
	{"1GB", -EINVAL, 0},
	{"1.5", -EINVAL, 0}, /* a fraction of a byte */
	{"1.G", -EINVAL, 0},
	{".5G", -EINVAL, 0},
	{"0x10", -EINVAL, 0},
	{"1e3", -EINVAL, 0},
	{"10%", -EINVAL, 0},
	{"inf", -EINVAL, 0},
};

static void test_parse_size(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(size_cases) / sizeof(*size_cases); i++) {
		uint64_t v = 12345;
		int r = parse_size(size_cases[i].s, &v);

		if (r != size_cases[i].r || (r == 0 && v != size_cases[i].v))
			fail_msg("parse_size(\"%s\") = %d, %llu; want %d, %llu",
				 size_cases[i].s, r, (unsigned long long)v,
				 size_cases[i].r,
				 (unsigned long long)size_cases[i].v);
		if (r < 0)
			assert_int_equal(v, 12345); /* untouched on error */
	}
	assert_int_equal(parse_size(NULL, &(uint64_t){0}), -EINVAL);
}

static void test_parse_percent(void **state)
{
	static const struct {
		const char *s;
		int r;
		double v;
	} cases[] = {
		{"10%", 1, 10.0},     {"0%", 1, 0.0},
		{"100%", 1, 100.0},   {"12.5%", 1, 12.5},
		{"100.0%", 1, 100.0}, {"10", 0, 0},
		{"512M", 0, 0},	      {"", 0, 0},
		{"%", -EINVAL, 0},    {"-5%", -EINVAL, 0},
		{"5 %", -EINVAL, 0},  {"abc%", -EINVAL, 0},
		{"10%%", -EINVAL, 0}, {"100.1%", -ERANGE, 0},
		{"150%", -ERANGE, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		double v = -1;
		int r = parse_percent(cases[i].s, &v);

		if (r != cases[i].r || (r == 1 && v != cases[i].v))
			fail_msg("parse_percent(\"%s\") = %d, %g; want %d, %g",
				 cases[i].s, r, v, cases[i].r, cases[i].v);
	}
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int r;
		usec_t v;
	} cases[] = {
		{"30s", 0, 30 * USEC_PER_SEC},
		{"500ms", 0, 500 * USEC_PER_MSEC},
		{"250us", 0, 250},
		{"2m", 0, 120 * USEC_PER_SEC},
		{"2min", 0, 120 * USEC_PER_SEC},
		{"1h", 0, 3600 * USEC_PER_SEC},
		{"1d", 0, 86400 * USEC_PER_SEC},
		{"1m30s", 0, 90 * USEC_PER_SEC},
		{"1h2m3s4ms", 0, 3723 * USEC_PER_SEC + 4 * USEC_PER_MSEC},
		{"1.5s", 0, 1500 * USEC_PER_MSEC},
		{"0s", 0, 0},
		{"10", -EINVAL, 0}, /* units are never implied */
		{"", -EINVAL, 0},
		{"s", -EINVAL, 0},
		{"1x", -EINVAL, 0},
		{"1 s", -EINVAL, 0},
		{"-1s", -EINVAL, 0},
		{"1s ", -EINVAL, 0},
		{"1m30", -EINVAL, 0},
		{"1mx", -EINVAL, 0},
		{"99999999999999d", -ERANGE, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		usec_t v = 7;
		int r = parse_duration(cases[i].s, &v);

		if (r != cases[i].r || (r == 0 && v != cases[i].v))
			fail_msg("parse_duration(\"%s\") = %d, %llu; want %d, "
				 "%llu",
				 cases[i].s, r, (unsigned long long)v,
				 cases[i].r, (unsigned long long)cases[i].v);
	}
}

static void test_format_size(void **state)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{0, "0B"},	     {1023, "1023B"},	      {1024, "1K"},
		{512 * MiB, "512M"}, {GiB + GiB / 2, "1.5G"}, {4 * GiB, "4G"},
		{2 * GiB - 1, "2G"}, {GiB + GiB / 3, "1.3G"}, {3 * TiB, "3T"},
		{UINT64_MAX, "16E"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_string_equal(format_size(cases[i].v, buf, sizeof(buf)),
				    cases[i].s);
	/* truncation is safe */
	assert_string_equal(format_size(512 * MiB, buf, 3), "51");
}

static void test_format_duration(void **state)
{
	static const struct {
		usec_t v;
		const char *s;
	} cases[] = {
		{0, "0us"},
		{250, "250us"},
		{300 * USEC_PER_MSEC, "300ms"},
		{1500, "1.5ms"},
		{USEC_PER_SEC, "1s"},
		{1500 * USEC_PER_MSEC, "1.5s"},
		{90 * USEC_PER_SEC, "1m30s"},
		{120 * USEC_PER_SEC, "2m"},
		{3600 * USEC_PER_SEC, "1h"},
		{3723 * USEC_PER_SEC, "1h2m3s"},
		{USEC_INFINITY, "infinity"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_string_equal(
			format_duration(cases[i].v, buf, sizeof(buf)),
			cases[i].s);
}

/* What we print, we read back (exactly for durations). */
static void test_round_trip(void **state)
{
	static const usec_t durations[] = {1,
					   999,
					   1000,
					   1500,
					   USEC_PER_SEC,
					   90 * USEC_PER_SEC + 250000,
					   86400 * USEC_PER_SEC + 1};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(durations) / sizeof(*durations); i++) {
		usec_t v;

		format_duration(durations[i], buf, sizeof(buf));
		assert_int_equal(parse_duration(buf, &v), 0);
		assert_int_equal(v, durations[i]);
	}
	for (uint64_t b = 1; b < (1ULL << 62); b = b * 3 + 7) {
		uint64_t v;

		format_size(b, buf, sizeof(buf));
		assert_int_equal(parse_size(buf, &v), 0);
		/* one decimal: within 5% (plus rounding of small values) */
		assert_true(v <= b + b / 20 + 1 && v + b / 20 + 1 >= b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_percent),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
