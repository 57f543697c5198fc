// SPDX-License-Identifier: GPL-2.0
/* Daemon settings: /etc/balancerd/balancerd.json. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* Write @text to a scratch file; returns its path (free it). */
static char *scratch(const char *text)
{
	char *path = strdup("/tmp/test_config.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void assert_defaults(const struct daemon_config *c)
{
	assert_string_equal(c->cgroup_root, "/sys/fs/cgroup");
	assert_int_equal(c->n_vm_globs, 1);
	assert_string_equal(c->vm_globs[0], "machine.slice/*.scope");
	assert_string_equal(c->policy_dir, "/etc/balancerd/policies.d");
	assert_string_equal(c->driver_path, "/dev/ovcmem");
	assert_string_equal(c->state_file, "/run/balancerd/state.json");
	assert_int_equal(c->interval, 0);
	assert_false(c->dry_run);
	assert_string_equal(c->log_target, "auto");
	assert_int_equal(c->mglru, MGLRU_AUTO);
}

static void test_missing_file_means_defaults(void **state)
{
	struct daemon_config c;
	struct policy_errors errs = {0};

	(void)state;
	assert_int_equal(
		daemon_config_load("/nonexistent/balancerd.json", &c, &errs),
		0);
	assert_int_equal(errs.n, 0);
	assert_defaults(&c);
	daemon_config_free(&c);
}

/* The shipped file spells out the defaults. */
static void test_shipped_config(void **state)
{
	struct daemon_config c;
	struct policy_errors errs = {0};

	(void)state;
	assert_int_equal(
		daemon_config_load(SRCDIR "/etc/balancerd.json", &c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_defaults(&c);
	daemon_config_free(&c);
}

static void test_every_key(void **state)
{
	char *path = scratch("{\n"
			     "  \"description\": \"test host\",\n"
			     "  \"cgroup_root\": \"/tmp/root/sys/fs/cgroup\",\n"
			     "  \"vm_globs\": [\"machine.slice/*.scope\", "
			     "\"vms.slice/*\"],\n"
			     "  \"policy_dir\": \"/tmp/p.d\",\n"
			     "  \"driver_path\": \"\",\n"
			     "  \"state_file\": \"/tmp/state.json\",\n"
			     "  \"interval\": \"250ms\",\n"
			     "  \"dry_run\": true,\n"
			     "  \"log_target\": \"stderr\",\n"
			     "  \"mglru\": \"enable\"\n"
			     "}\n");
	struct daemon_config c;
	struct policy_errors errs = {0};

	(void)state;
	assert_int_equal(daemon_config_load(path, &c, &errs), 0);
	assert_string_equal(c.cgroup_root, "/tmp/root/sys/fs/cgroup");
	assert_int_equal(c.n_vm_globs, 2);
	assert_string_equal(c.vm_globs[1], "vms.slice/*");
	assert_string_equal(c.policy_dir, "/tmp/p.d");
	assert_string_equal(c.driver_path, ""); /* ovcmem disabled */
	assert_string_equal(c.state_file, "/tmp/state.json");
	assert_int_equal(c.interval, 250 * USEC_PER_MSEC);
	assert_true(c.dry_run);
	assert_string_equal(c.log_target, "stderr");
	assert_int_equal(c.mglru, MGLRU_ENABLE);
	daemon_config_free(&c);
	unlink(path);
	free(path);
}

static const struct {
	const char *json;
	const char *error; /* with "F" for the file name */
} bad_configs[] = {
	{"{\"dry_run\": true,}",
	 "F:1:18: syntax error: string or '}' expected near '}'"},
	{"[\"/sys/fs/cgroup\"]",
	 "F:1:1: expected an object at the top level, found a list"},
	{"{\"cgroup_rot\": \"/x\"}",
	 "F:1:2: cgroup_rot: unknown key 'cgroup_rot' (did you mean "
	 "'cgroup_root'?)"},
	{"{\"dryrun\": true}",
	 "F:1:2: dryrun: unknown key 'dryrun' (did you mean 'dry_run'?)"},
	{"{\"dry_run\": \"yes\"}",
	 "F:1:13: dry_run: expected true or false, found \"yes\""},
	{"{\"interval\": 5}",
	 "F:1:14: interval: expected a duration such as \"30s\" or \"500ms\", "
	 "found 5"},
	{"{\"interval\": \"2h\"}",
	 "F:1:14: interval: expected a duration from 0us to 1h, found "
	 "\"2h\""},
	{"{\"log_target\": \"syslog\"}",
	 "F:1:16: log_target: expected one of \"auto\", \"journal\", "
	 "\"stderr\", found \"syslog\""},
	{"{\"mglru\": \"on\"}",
	 "F:1:11: mglru: expected one of \"auto\", \"enable\", \"off\", "
	 "found \"on\""},
	{"{\"vm_globs\": []}",
	 "F:1:14: vm_globs: expected a non-empty list of strings, found an "
	 "empty list"},
	{"{\"vm_globs\": \"machine.slice/*.scope\"}",
	 "F:1:14: vm_globs: expected a list of strings, found "
	 "\"machine.slice/*.scope\""},
	{"{\"vm_globs\": [\"ok/*\", \"/sys/fs/cgroup/machine.slice/*\"]}",
	 "F:1:23: vm_globs[1]: expected a glob relative to cgroup_root, found "
	 "\"/sys/fs/cgroup/machine.slice/*\""},
	{"{\"policy_dir\": \"\"}",
	 "F:1:16: policy_dir: expected a path, found \"\""},
	{"{\"state_file\": 1}",
	 "F:1:16: state_file: expected a string, found 1"},
	{"{\"cgroup_root\": \"/"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "\"}",
	 "F:1:17: cgroup_root: expected a string of at most 255 bytes, found "
	 "316 bytes"},
};

static void test_bad_configs(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(*bad_configs);
	     i++) {
		struct daemon_config c = {.n_vm_globs = 99};
		struct policy_errors errs = {0};
		char *path = scratch(bad_configs[i].json), got[1024] = "",
		     want[1024];
		const char *f = strchr(bad_configs[i].error, ':');
		int r;

		snprintf(want, sizeof(want), "%s%s", path, f);
		r = daemon_config_load(path, &c, &errs);
		if (errs.n > 0)
			policy_error_format(&errs.items[0], got, sizeof(got));
		if (r != -EINVAL || errs.n != 1 || strcmp(got, want) != 0) {
			print_error(
				"config %zu: r=%d n=%zu\n  got:  %s\n  want: "
				"%s\n",
				i, r, errs.n, got, want);
			failures++;
		}
		assert_int_equal(c.n_vm_globs, 99); /* untouched */
		policy_errors_free(&errs);
		unlink(path);
		free(path);
	}
	assert_int_equal(failures, 0);
}

static void test_unreadable(void **state)
{
	struct daemon_config c;
	struct policy_errors errs = {0};
	char got[512];

	(void)state;
	/* a directory is not a missing file: that is an error */
	assert_int_equal(daemon_config_load("/tmp", &c, &errs), -EISDIR);
	assert_int_equal(errs.n, 1);
	policy_error_format(&errs.items[0], got, sizeof(got));
	assert_string_equal(got, "/tmp: cannot read: Is a directory");
	policy_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_file_means_defaults),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
