// SPDX-License-Identifier: GPL-2.0
/* Per-VM KSM counts: the parser, table by table, and the read below a
 * test root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "ksm.h"

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint64_t pages;
	} rows[] = {
		{"0\n", 0, 0},
		{"262144\n", 0, 262144},
		{"18446744073709551615\n", 0, UINT64_MAX},
		{"7", 0, 7}, /* no newline: still one whole number */
		{"18446744073709551616\n", -ERANGE, 0},
		{"", -EINVAL, 0},
		{"\n", -EINVAL, 0},
		{"-1\n", -EINVAL, 0},
		{"12 pages\n", -EINVAL, 0},
		{"12\n13\n", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t pages = 0;
		int r = ksm_parse_merging_pages(rows[i].text, &pages);

		if (r != rows[i].r || (r == 0 && pages != rows[i].pages))
			fail_msg("'%s': r=%d pages=%llu, expected r=%d %llu",
				 rows[i].text, r, (unsigned long long)pages,
				 rows[i].r, (unsigned long long)rows[i].pages);
	}
}

static void test_read(void **state)
{
	struct fake_tree t;
	char path[700];
	uint64_t pages = 0;

	(void)state;
	fake_tree_create(&t, 1ULL << 30, 1ULL << 29);
	snprintf(path, sizeof(path), "%s/proc/4242/ksm_merging_pages", t.root);
	fake_write(path, "1536\n");
	assert_int_equal(ksm_read_merging_pages(t.root, 4242, &pages), 0);
	assert_int_equal(pages, 1536);
	/* An older kernel (no file), an exited process, no pid at all. */
	assert_int_equal(ksm_read_merging_pages(t.root, 4243, &pages), -ENOENT);
	assert_int_equal(ksm_read_merging_pages(t.root, 0, &pages), -ENOENT);
	fake_write(path, "garbage\n");
	assert_int_equal(ksm_read_merging_pages(t.root, 4242, &pages), -EINVAL);
	fake_tree_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
