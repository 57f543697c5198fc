// SPDX-License-Identifier: GPL-2.0
/* host_path.h: every spelling of --root and of the cgroup root joins the
 * same way, and a path that does not fit is an error, not a cut. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host_path.h"

static void test_host_root_spellings(void **state)
{
	(void)state;
	assert_string_equal(host_root(NULL), "");
	assert_string_equal(host_root(""), "");
	assert_string_equal(host_root("/"), "");
	assert_string_equal(host_root("/tmp/t"), "/tmp/t");
}

static void test_host_path_table(void **state)
{
	static const struct {
		const char *root, *want;
	} rows[] = {
		{NULL, "/proc/42/maps"},
		{"", "/proc/42/maps"},
		{"/", "/proc/42/maps"},
		{"/tmp/t", "/tmp/t/proc/42/maps"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		assert_int_equal(host_path(buf, sizeof(buf), rows[i].root,
					   "/proc/%d/maps", 42),
				 0);
		assert_string_equal(buf, rows[i].want);
	}
}

static void test_cgroup_path_table(void **state)
{
	static const struct {
		const char *root, *cg_root, *cgroup, *file, *want;
	} rows[] = {
		{"/", NULL, "machine.slice/vm1", "memory.current",
		 "/sys/fs/cgroup/machine.slice/vm1/memory.current"},
		{"/t", "/sys/fs/cgroup", "vm1", "memory.reclaim",
		 "/t/sys/fs/cgroup/vm1/memory.reclaim"},
		/* the three spellings the code had: with, without and with
		 * many leading slashes */
		{"/t", "sys/fs/cgroup", "vm1", NULL, "/t/sys/fs/cgroup/vm1"},
		{"/t", "//cg", "vm1", NULL, "/t/cg/vm1"},
		/* the root cgroup itself */
		{"/t", NULL, "", NULL, "/t/sys/fs/cgroup"},
		{NULL, NULL, NULL, "cgroup.procs",
		 "/sys/fs/cgroup/cgroup.procs"},
	};
	char buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		assert_int_equal(host_cgroup_path(buf, sizeof(buf),
						  rows[i].root, rows[i].cg_root,
						  rows[i].cgroup, rows[i].file),
				 0);
		assert_string_equal(buf, rows[i].want);
	}
}

static void test_too_long_is_an_error(void **state)
{
	char buf[16];

	(void)state;
	/* fits exactly: 15 characters and the NUL */
	assert_int_equal(
		host_path(buf, sizeof(buf), "/r", "/%s", "abcdefghijkl"), 0);
	assert_string_equal(buf, "/r/abcdefghijkl");
	assert_int_equal(
		host_path(buf, sizeof(buf), "/r", "/%s", "abcdefghijklm"),
		-ENAMETOOLONG);
	assert_string_equal(buf, "");
	/* a root longer than the buffer */
	assert_int_equal(
		host_path(buf, sizeof(buf), "/a-very-long-root-dir", "/x"),
		-ENAMETOOLONG);
	assert_int_equal(host_cgroup_path(buf, sizeof(buf), "/", NULL, "vm1",
					  "memory.current"),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_root_spellings),
		cmocka_unit_test(test_host_path_table),
		cmocka_unit_test(test_cgroup_path_table),
		cmocka_unit_test(test_too_long_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
