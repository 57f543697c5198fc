// SPDX-License-Identifier: GPL-2.0
/* The one escaping rule of escape.h, table by table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"

static const struct {
	const char *in, *out;
} cases[] = {
	{"vm1", "vm1"},
	{"", ""},
	{"web\nbalancerd: error: x", "web\\nbalancerd: error: x"},
	{"a\tb\rc\ad\be\vf\fg", "a\\tb\\rc\\ad\\be\\vf\\fg"},
	{"\x1b[2J", "\\x1b[2J"},
	{"del\x7f", "del\\x7f"},
	/* C1 controls (CSI is U+009B) as UTF-8 */
	{"c1\xc2\x9b"
	 "2J",
	 "c1\\xc2\\x9b2J"},
	/* valid UTF-8 passes; invalid bytes do not */
	{"caf\xc3\xa9", "caf\xc3\xa9"},
	{"db\xff\xfe", "db\\xff\\xfe"},
	{"over\xc0\xaflong", "over\\xc0\\xaflong"},
	{"surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80"},
	{"cut\xe2\x82", "cut\\xe2\\x82"},
	/* a backslash stays: cgroup paths keep systemd's escaping */
	{"machine-qemu\\x2d1.scope", "machine-qemu\\x2d1.scope"},
};

static void test_escape_table(void **state)
{
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		escape_text(cases[i].in, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(escape_is_clean(cases[i].in),
				 strcmp(cases[i].in, cases[i].out) == 0);
		/* escaping is idempotent: what it made is clean */
		assert_true(escape_is_clean(buf));
		assert_true(utf8_is_valid(buf));
	}
}

/* Cut to fit, never inside an escape or a UTF-8 sequence. */
static void test_escape_truncates_whole_units(void **state)
{
	char buf[6];

	(void)state;
	escape_text("ab\ncd", buf, sizeof(buf));
	assert_string_equal(buf, "ab\\nc");
	escape_text("abc\x1b", buf, sizeof(buf));
	assert_string_equal(buf, "abc");
	escape_text("abcd\xc3\xa9", buf, sizeof(buf));
	assert_string_equal(buf, "abcd");
	escape_bytes("a\0b", 3, buf, sizeof(buf));
	assert_string_equal(buf, "a\\x00");
}

static void test_utf8_validity(void **state)
{
	(void)state;
	assert_true(utf8_is_valid("plain"));
	assert_true(utf8_is_valid("\xf0\x9f\x98\x80"));
	assert_false(utf8_is_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
	assert_false(utf8_is_valid("\x80"));
	/* controls are valid UTF-8, but not clean */
	assert_true(utf8_is_valid("a\nb"));
	assert_false(escape_is_clean("a\nb"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_truncates_whole_units),
		cmocka_unit_test(test_utf8_validity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
