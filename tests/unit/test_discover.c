// SPDX-License-Identifier: GPL-2.0
/*
 * VM discovery: name decoding (a table), glob matching over a fake cgroup
 * tree in a mkdtemp dir, and pid -> cgroup -> VM.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "discover.h"
#include "signals.h"

static char tree[64];

static void mkdirs(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	fake_mkdir_p(path);
}

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX + sizeof(tree)];

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	fake_write(path, text);
}

static int tree_setup(void **state)
{
	(void)state;
	snprintf(tree, sizeof(tree), "/tmp/test_discover.XXXXXX");
	return mkdtemp(tree) ? 0 : -1;
}

static int tree_teardown(void **state)
{
	(void)state;
	return fake_rm_rf(tree);
}

static void test_name_decoding(void **state)
{
	static const struct {
		const char *cgroup;
		int r;
		const char *name;
	} rows[] = {
		/* libvirt >= 3.x: machine-<driver>-<id>-<name>.scope */
		{"machine.slice/machine-qemu\\x2d1\\x2dvm1.scope", 0, "vm1"},
		{"machine-qemu\\x2d12\\x2dweb\\x2dfront.scope", 0, "web-front"},
		{"machine-qemu\\x2d4\\x2d2fast.scope", 0, "2fast"},
		{"machine-lxc\\x2d3\\x2dct1.scope", 0, "ct1"},
		/* libvirt < 3.x: no id */
		{"machine-qemu\\x2dold\\x2dstyle.scope", 0, "old-style"},
		/* machinectl / nspawn */
		{"machine.slice/machine-box.scope", 0, "box"},
		/* plain scopes, services, directories */
		{"machine.slice/vm7.scope", 0, "vm7"},
		{"machine.slice/vm7.scope/", 0, "vm7"},
		{"vms/db\\x2eprod.service", 0, "db.prod"},
		{"vms/db1", 0, "db1"},
		{"MACHINE-QEMU\\X2D1.scope", -EINVAL, NULL}, /* \X is not \x */
		{"machine-qemu\\x2D1\\x2DVM1.scope", 0, "VM1"},
		/* errors */
		{"", -EINVAL, NULL},
		{"/", -EINVAL, NULL},
		{"machine-qemu\\x2d1\\x2d.scope", -EINVAL, NULL},
		{"machine-qemu\\x2.scope", -EINVAL, NULL},
		{"bad\\xzz.scope", -EINVAL, NULL},
		{"nul\\x00.scope", -EINVAL, NULL},
		{"trailing\\", -EINVAL, NULL},
		{"slash\\x2fin.scope", -EINVAL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char name[VM_NAME_MAX] = "";
		int r = vm_name_from_cgroup(rows[i].cgroup, name, sizeof(name));

		if (r != rows[i].r)
			fail_msg("%s: %d, expected %d", rows[i].cgroup, r,
				 rows[i].r);
		if (rows[i].name)
			assert_string_equal(name, rows[i].name);
	}
}

static void test_name_too_long(void **state)
{
	char name[4];

	(void)state;
	assert_int_equal(vm_name_from_cgroup("vm1.scope", name, sizeof(name)),
			 0);
	assert_string_equal(name, "vm1");
	assert_int_equal(vm_name_from_cgroup("vm12.scope", name, sizeof(name)),
			 -ENAMETOOLONG);
}

static void make_tree(void)
{
	static const char *const dirs[] = {
		"sys/fs/cgroup/machine.slice/machine-qemu\\x2d2\\x2dvm2.scope",
		"sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/"
		"libvirt/emulator",
		"sys/fs/cgroup/machine.slice/.hidden.scope",
		"sys/fs/cgroup/machine.slice/systemd-machined.service",
		"sys/fs/cgroup/vms.slice/a/b.scope",
		"sys/fs/cgroup/vms.slice/c/d.scope",
		"proc/100",
		"proc/101",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mkdirs(dirs[i]);
	/* a file that matches the glob is not a cgroup */
	put("sys/fs/cgroup/machine.slice/file.scope", "");
}

static void test_discover(void **state)
{
	char *globs[] = {"machine.slice/*.scope", "vms.slice/*/*.scope",
			 "machine.slice/machine-qemu*"};
	struct vm_list l = {0};

	(void)state;
	make_tree();
	assert_int_equal(discover_vms(tree, "sys/fs/cgroup", globs, 1, &l), 0);
	assert_int_equal(l.n, 2);
	/* sorted by cgroup path */
	assert_string_equal(l.cgroups[0],
			    "machine.slice/machine-qemu\\x2d1\\x2dvm1.scope");
	assert_string_equal(l.cgroups[1],
			    "machine.slice/machine-qemu\\x2d2\\x2dvm2.scope");
	vm_list_free(&l);

	/* several globs, overlapping: each cgroup once */
	assert_int_equal(discover_vms(tree, "/sys/fs/cgroup", globs, 3, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.cgroups[2], "vms.slice/a/b.scope");
	assert_string_equal(l.cgroups[3], "vms.slice/c/d.scope");
	vm_list_free(&l);
	assert_null(l.cgroups);
}

static void test_discover_missing(void **state)
{
	char *globs[] = {"nothing.slice/*.scope", "machine.slice/nope/*"};
	struct vm_list l = {0};

	(void)state;
	make_tree();
	assert_int_equal(discover_vms(tree, "sys/fs/cgroup", globs, 2, &l), 0);
	assert_int_equal(l.n, 0);
	vm_list_free(&l);
	/* no cgroup root at all */
	assert_int_equal(discover_vms(tree, "no/such/root", globs, 1, &l), 0);
	assert_int_equal(l.n, 0);
	vm_list_free(&l);
}

static void test_cgroup_of_pid(void **state)
{
	char *globs[] = {"machine.slice/*.scope"};
	struct vm_list l = {0};
	char cg[CGROUP_PATH_MAX];

	(void)state;
	make_tree();
	put("proc/100/cgroup", "0::/machine.slice/machine-qemu\\x2d1\\x2dvm1"
			       ".scope/libvirt/emulator\n");
	put("proc/101/cgroup", "12:memory:/user.slice\n1:name=systemd:/\n");
	assert_int_equal(cgroup_of_pid(tree, 100, cg, sizeof(cg)), 0);
	assert_string_equal(
		cg, "machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/"
		    "emulator");
	assert_int_equal(discover_vms(tree, "sys/fs/cgroup", globs, 1, &l), 0);
	/* the emulator thread's cgroup maps to its VM's scope */
	assert_int_equal(vm_list_lookup(&l, cg), 0);
	/* a prefix that is not a path ancestor is not a match */
	assert_int_equal(
		vm_list_lookup(&l, "machine.slice/machine-qemu\\x2d1\\x2dvm1."
				   "scopeX"),
		-ENOENT);
	assert_int_equal(vm_list_lookup(&l, "user.slice"), -ENOENT);
	vm_list_free(&l);

	assert_int_equal(cgroup_of_pid(tree, 101, cg, sizeof(cg)), -ENOMEDIUM);
	assert_int_equal(cgroup_of_pid(tree, 102, cg, sizeof(cg)), -ESRCH);
	assert_int_equal(cgroup_of_pid(tree, 100, cg, 8), -ENAMETOOLONG);
}

/* One test of "is this cgroup the VM's or below it", for discovery and
 * the ovcmem client alike. */
/* /proc/PID/cgroup's text: the v2 line, wherever it is, with or
 * without its newline. */
static void test_parse_proc_cgroup(void **state)
{
	char cg[64];

	(void)state;
	assert_int_equal(parse_proc_cgroup("12:memory:/x\n0::/a/b.scope\n1:"
					   "name=systemd:/y\n",
					   cg, sizeof(cg)),
			 0);
	assert_string_equal(cg, "a/b.scope");
	assert_int_equal(parse_proc_cgroup("0::/c", cg, sizeof(cg)), 0);
	assert_string_equal(cg, "c");
	assert_int_equal(parse_proc_cgroup("0::/\n", cg, sizeof(cg)), 0);
	assert_string_equal(cg, "");
	assert_int_equal(parse_proc_cgroup("0::", cg, sizeof(cg)), -ENOMEDIUM);
	assert_int_equal(parse_proc_cgroup("", cg, sizeof(cg)), -ENOMEDIUM);
	assert_int_equal(parse_proc_cgroup("0::/abc\n", cg, 3), -ENAMETOOLONG);
	assert_int_equal(parse_proc_cgroup("0::/ab\n", cg, 3), 0);
}

static void test_cgroup_within(void **state)
{
	(void)state;
	assert_true(cgroup_within("machine.slice/a.scope",
				  "machine.slice/a.scope"));
	assert_true(cgroup_within("machine.slice/a.scope/libvirt/emulator",
				  "machine.slice/a.scope"));
	assert_false(cgroup_within("machine.slice/a.scope2",
				   "machine.slice/a.scope"));
	assert_false(cgroup_within("machine.slice", "machine.slice/a.scope"));
	assert_false(cgroup_within("ab", "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_decoding),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_discover),
		cmocka_unit_test(test_discover_missing),
		cmocka_unit_test(test_cgroup_of_pid),
		cmocka_unit_test(test_cgroup_within),
		cmocka_unit_test(test_parse_proc_cgroup),
	};

	return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
