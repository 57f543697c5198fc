// SPDX-License-Identifier: GPL-2.0
/*
 * Signal parsers on fixture files (tests/unit/fixtures/signals/), and the
 * acquire functions over a fake /proc + cgroupfs tree in a mkdtemp dir.
 * Run from the repository root.
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
#include "signals.h"

#define FIXTURES      "tests/unit/fixtures/signals/"
#define KB	      1024ULL
#define CG	      "machine.slice/machine-qemu\\x2d1\\x2dvm1.scope"
#define CG_FILE(name) "sys/fs/cgroup/" CG "/" name

static char *fixture(const char *name)
{
	static char buf[65536];
	char path[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* ---- fake tree -------------------------------------------------------- */

static char tree[64];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX + sizeof(tree)];

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	fake_write(path, text);
}

static void put_fixture(const char *rel, const char *name)
{
	char *text = strdup(fixture(name));

	put(rel, text);
	free(text);
}

static void unlink_rel(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	assert_int_equal(unlink(path), 0);
}

static void rm_rel(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	fake_rm_rf(path);
}

static int tree_setup(void **state)
{
	(void)state;
	snprintf(tree, sizeof(tree), "/tmp/test_signals.XXXXXX");
	return mkdtemp(tree) ? 0 : -1;
}

static int tree_teardown(void **state)
{
	(void)state;
	return fake_rm_rf(tree);
}

/* A VM cgroup with every file, from the 6.12 fixtures. */
static void put_vm(const char *cg, const char *current)
{
	char rel[PATH_MAX];

#define F(name)                                                                \
	(snprintf(rel, sizeof(rel), "sys/fs/cgroup/%s/%s", cg, name), rel)
	put(F("memory.current"), current);
	put(F("memory.max"), "8589934592\n");
	put(F("memory.high"), "max\n");
	put(F("memory.low"), "0\n");
	put(F("memory.swap.current"), "1048576\n");
	put_fixture(F("memory.stat"), "memory.stat-6.12");
	put_fixture(F("memory.pressure"), "pressure-some-full");
	put_fixture(F("memory.events"), "memory.events");
	put(F("cgroup.procs"), "");
	put(F("libvirt/emulator/cgroup.procs"), "4242\n");
#undef F
}

/* ---- PSI -------------------------------------------------------------- */

static void test_psi_some_and_full(void **state)
{
	struct psi p;

	(void)state;
	assert_int_equal(parse_psi(fixture("pressure-some-full"), &p), 0);
	assert_true(p.some.present);
	assert_true(p.full.present);
	assert_float_equal(p.some.avg10, 1.25, 1e-9);
	assert_float_equal(p.some.avg60, 0.50, 1e-9);
	assert_float_equal(p.some.avg300, 0.10, 1e-9);
	assert_int_equal(p.some.total_us, 123456789);
	assert_float_equal(p.full.avg10, 0.75, 1e-9);
	assert_int_equal(p.full.total_us, 98765432);
}

static void test_psi_without_full(void **state)
{
	struct psi p;

	(void)state;
	assert_int_equal(parse_psi(fixture("pressure-some-only"), &p), 0);
	assert_true(p.some.present);
	assert_false(p.full.present);
	assert_float_equal(p.some.avg10, 3.0, 1e-9);
	assert_int_equal(p.some.total_us, 4242);
	assert_int_equal(p.full.total_us, 0);
}

static void test_psi_rejects_bad_text(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00\n", /* no total */
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=-1\n", /* sign */
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=5 x\n",
		"full avg10=1.00 avg60=0.00 avg300=0.00 total=5\n", /* no some
								     */
		"half avg10=1.00 avg60=0.00 avg300=0.00 total=5\n",
		"some avg60=1.00 avg10=0.00 avg300=0.00 total=5\n",
	};
	struct psi p = {.some.avg10 = 42};

	(void)state;
	assert_int_equal(parse_psi(fixture("pressure-garbage"), &p), -EINVAL);
	assert_int_equal(parse_psi(fixture("pressure-truncated"), &p), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_psi(bad[i], &p), -EINVAL);
	/* a failed parse leaves the output alone */
	assert_float_equal(p.some.avg10, 42, 1e-9);
}

/* ---- meminfo ---------------------------------------------------------- */

/* Every spelling of an average reads as strtod() reads it, the
 * kernel's two decimals (read without strtod) included. */
static void test_psi_values_as_strtod(void **state)
{
	static const char *const avgs[] = {
		"0.00",	  "0.01",  "0.10",   "12.34", "99.99",
		"100.00", "1.5",   "7",	     "3.125", "000000000012.34",
		"0.005",  "42.10", "55.555", "1e1",
	};
	char text[256];
	struct psi p;

	(void)state;
	for (int k = 0; k <= 10000; k++) {
		char num[16];

		snprintf(num, sizeof(num), "%d.%02d", k / 100, k % 100);
		snprintf(text, sizeof(text),
			 "some avg10=%s avg60=0.00 avg300=0.00 total=1\n", num);
		assert_int_equal(parse_psi(text, &p), 0);
		assert_true(p.some.avg10 == strtod(num, NULL));
	}
	for (size_t i = 0; i < sizeof(avgs) / sizeof(avgs[0]); i++) {
		snprintf(text, sizeof(text),
			 "some avg10=%s avg60=%s avg300=0.00 total=1\n",
			 avgs[i], avgs[i]);
		assert_int_equal(parse_psi(text, &p), 0);
		assert_true(p.some.avg10 == strtod(avgs[i], NULL));
		assert_true(p.some.avg60 == strtod(avgs[i], NULL));
	}
	/* Over 100 is no share of time, in either spelling. */
	assert_int_equal(
		parse_psi("some avg10=100.01 avg60=0.00 avg300=0.00 total=1\n",
			  &p),
		-ERANGE);
	assert_int_equal(
		parse_psi("some avg10=1e3 avg60=0.00 avg300=0.00 total=1\n",
			  &p),
		-ERANGE);
}

static void test_meminfo(void **state)
{
	struct host_signals h = {0};

	(void)state;
	assert_int_equal(parse_meminfo(fixture("meminfo"), &h), 0);
	assert_int_equal(h.mem_total, 16318480 * KB);
	assert_int_equal(h.mem_available, 8123456 * KB);
	assert_int_equal(h.swap_total, 8388604 * KB);
	assert_int_equal(h.swap_free, 8123900 * KB);
}

static void test_meminfo_bad(void **state)
{
	struct host_signals h = {0};

	(void)state;
	assert_int_equal(parse_meminfo(fixture("meminfo-truncated"), &h),
			 -EINVAL);
	assert_int_equal(parse_meminfo(fixture("meminfo-garbage"), &h),
			 -EINVAL);
	assert_int_equal(parse_meminfo("", &h), -EINVAL);
	/* MemAvailable is required: without it the host cannot be judged */
	assert_int_equal(parse_meminfo("MemTotal: 100 kB\n", &h), -EINVAL);
	assert_int_equal(parse_meminfo("MemTotal: 99999999999999999999 kB\n"
				       "MemAvailable: 1 kB\n",
				       &h),
			 -ERANGE);
}

/* ---- memory.stat / memory.events / values ----------------------------- */

static void test_memory_stat_6_1(void **state)
{
	struct vm_signals v = {0};

	(void)state;
	assert_int_equal(parse_memory_stat(fixture("memory.stat-6.1"), &v), 0);
	assert_int_equal(v.anon, 1073741824);
	assert_int_equal(v.file, 268435456);
	/* this 6.1 kernel has no zswap keys: they stay 0 */
	assert_int_equal(v.zswap, 0);
	assert_int_equal(v.zswapped, 0);
	assert_int_equal(v.workingset_refault_anon, 1200);
	assert_int_equal(v.workingset_refault_file, 3400);
	assert_int_equal(v.pgscan, 50000);
	assert_int_equal(v.pgsteal, 45000);
	assert_int_equal(v.pgmajfault, 321);
}

static void test_memory_stat_6_12(void **state)
{
	struct vm_signals v = {0};

	(void)state;
	assert_int_equal(parse_memory_stat(fixture("memory.stat-6.12"), &v), 0);
	assert_int_equal(v.anon, 2147483648);
	assert_int_equal(v.file, 536870912);
	assert_int_equal(v.zswap, 33554432);
	assert_int_equal(v.zswapped, 134217728);
	assert_int_equal(v.workingset_refault_anon, 5000);
	assert_int_equal(v.workingset_refault_file, 7000);
	/* "pgscan" must not be confused with pgscan_kswapd and friends */
	assert_int_equal(v.pgscan, 120000);
	assert_int_equal(v.pgsteal, 110000);
	assert_int_equal(v.pgmajfault, 654);
}

static void test_memory_stat_bad(void **state)
{
	struct vm_signals v = {0};

	(void)state;
	assert_int_equal(
		parse_memory_stat(fixture("memory.stat-truncated"), &v),
		-EINVAL);
	assert_int_equal(parse_memory_stat(fixture("memory.stat-garbage"), &v),
			 -EINVAL);
	assert_int_equal(parse_memory_stat("", &v), -EINVAL);
	assert_int_equal(parse_memory_stat("anon 12 13\n", &v), -EINVAL);
	assert_int_equal(parse_memory_stat(" 12\n", &v), -EINVAL);
}

static void test_memory_events(void **state)
{
	struct vm_signals v = {0};

	(void)state;
	assert_int_equal(parse_memory_events(fixture("memory.events"), &v), 0);
	assert_int_equal(v.events_low, 0);
	assert_int_equal(v.events_high, 17);
	assert_int_equal(v.events_max, 3);
	assert_int_equal(v.events_oom, 1);
	assert_int_equal(v.events_oom_kill, 1);
	assert_int_equal(parse_memory_events("high x\n", &v), -EINVAL);
}

static void test_memory_value(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint64_t v;
	} rows[] = {
		{"max\n", 0, MEMORY_UNLIMITED},
		{"0\n", 0, 0},
		{"8589934592\n", 0, 8589934592ULL},
		{"18446744073709551615\n", 0, UINT64_MAX},
		{"18446744073709551616\n", -ERANGE, 0},
		{"-1\n", -EINVAL, 0},
		{"12abc\n", -EINVAL, 0},
		{"maxi\n", -EINVAL, 0},
		{"", -EINVAL, 0},
		{"\n", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 7;

		assert_int_equal(parse_memory_value(rows[i].text, &v),
				 rows[i].r);
		assert_int_equal(v, rows[i].r == 0 ? rows[i].v : 7);
	}
}

/*
 * Every prefix of every fixture (a read cut short anywhere) parses to 0
 * or -EINVAL, never a crash or an out-of-bounds read (run under ASan).
 */
static void test_every_truncation(void **state)
{
	static const char *const files[] = {
		"pressure-some-full", "meminfo",       "memory.stat-6.1",
		"memory.stat-6.12",   "memory.events",
	};

	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char *text = strdup(fixture(files[f]));
		size_t n = strlen(text);

		for (size_t len = 0; len <= n; len++) {
			char *cut = strndup(text, len);
			struct host_signals h = {0};
			struct vm_signals v = {0};
			struct psi p;
			int r[4];

			r[0] = parse_psi(cut, &p);
			r[1] = parse_meminfo(cut, &h);
			r[2] = parse_memory_stat(cut, &v);
			r[3] = parse_memory_events(cut, &v);
			for (int i = 0; i < 4; i++)
				if (r[i] != 0 && r[i] != -EINVAL)
					fail_msg("%s cut at %zu: parser %d "
						 "returned %d",
						 files[f], len, i, r[i]);
			free(cut);
		}
		free(text);
	}
}

/* ---- acquire over a fake tree ----------------------------------------- */

/* @v as the daemon keeps it for the next read. */
static const struct vm_prev *kept(const struct vm_signals *v)
{
	static struct vm_prev p;

	vm_prev_keep(&p, v);
	return &p;
}

static void test_host_acquire(void **state)
{
	struct host_signals h;

	(void)state;
	put_fixture("proc/meminfo", "meminfo");
	put_fixture("proc/pressure/memory", "pressure-some-full");
	assert_int_equal(host_signals_acquire(tree, &h), 0);
	assert_int_equal(h.mem_available, 8123456 * KB);
	assert_true(h.psi.full.present);
	assert_float_equal(h.psi.full.avg10, 0.75, 1e-9);

	/* a kernel without PSI: no pressure, still a host */
	unlink_rel("proc/pressure/memory");
	assert_int_equal(host_signals_acquire(tree, &h), 0);
	assert_false(h.psi.some.present);
	assert_int_equal(h.mem_total, 16318480 * KB);

	/* garbage in the pressure file is an error, not silence */
	put_fixture("proc/pressure/memory", "pressure-garbage");
	assert_int_equal(host_signals_acquire(tree, &h), -EINVAL);

	unlink_rel("proc/meminfo");
	assert_int_equal(host_signals_acquire(tree, &h), -ENOENT);
	rm_rel("proc");
}

static void test_vm_acquire(void **state)
{
	struct vm_signals prev, v;

	(void)state;
	put_vm(CG, "2147483648\n");
	assert_int_equal(vm_signals_acquire_files(tree, "sys/fs/cgroup", CG,
						  NULL, NULL, 0, &prev),
			 0);
	assert_string_equal(prev.name, "vm1");
	assert_string_equal(prev.cgroup, CG);
	assert_false(prev.vanished);
	assert_int_equal(prev.pid, 4242);
	assert_int_equal(prev.memory_current, 2147483648ULL);
	assert_int_equal(prev.memory_max, 8589934592ULL);
	assert_int_equal(prev.memory_high, MEMORY_UNLIMITED);
	assert_int_equal(prev.swap_current, 1048576);
	assert_int_equal(prev.zswap, 33554432);
	assert_int_equal(prev.events_high, 17);
	assert_true(prev.psi.full.present);
	/* first tick: no deltas */
	assert_int_equal(prev.d_refault_anon, 0);
	assert_int_equal(prev.d_psi_some_us, 0);

	put(CG_FILE("memory.stat"), "anon 1\nfile 2\n"
				    "workingset_refault_anon 5100\n"
				    "workingset_refault_file 6000\n"
				    "pgmajfault 700\n");
	put(CG_FILE("memory.pressure"),
	    "some avg10=2.00 avg60=0.50 avg300=0.10 total=123556789\n"
	    "full avg10=0.75 avg60=0.20 avg300=0.05 total=98765432\n");
	assert_int_equal(vm_signals_acquire_files(tree, "/sys/fs/cgroup", CG,
						  NULL, kept(&prev), 0, &v),
			 0);
	assert_int_equal(v.d_refault_anon, 100);
	/* the file counter went back (a new cgroup): no negative delta */
	assert_int_equal(v.d_refault_file, 0);
	assert_int_equal(v.d_pgmajfault, 46);
	assert_int_equal(v.d_psi_some_us, 100000);
	assert_int_equal(v.d_psi_full_us, 0);
	rm_rel("sys");
}

/* HOT_ONLY re-reads what moves each tick and keeps the rest from prev. */
static void test_vm_acquire_hot_only(void **state)
{
	struct vm_signals prev, v;

	(void)state;
	put_vm(CG, "1000\n");
	/* without prev it reads everything */
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, NULL, NULL,
						  VM_ACQUIRE_SKIP_SLOW, &prev),
			 0);
	assert_int_equal(prev.memory_max, 8589934592ULL);
	assert_int_equal(prev.pid, 4242);
	assert_int_equal(prev.events_high, 17);

	put(CG_FILE("memory.current"), "2000\n");
	put(CG_FILE("memory.max"), "4096\n");
	put(CG_FILE("memory.events"), "high 99\n");
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, NULL,
						  kept(&prev),
						  VM_ACQUIRE_SKIP_SLOW, &v),
			 0);
	assert_int_equal(v.memory_current, 2000);
	assert_int_equal(v.memory_max, 8589934592ULL);
	assert_int_equal(v.events_high, 17);
	assert_int_equal(v.pid, 4242);
	assert_true(v.psi.some.present);
	/* a full read sees the new values */
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, NULL,
						  kept(&prev), 0, &v),
			 0);
	assert_int_equal(v.memory_max, 4096);
	assert_int_equal(v.events_high, 99);
	rm_rel("sys");
}

/*
 * Kept files: read again with pread(2) from the same descriptors, and
 * memory.stat skipped (SKIP_STAT) until PSI or memory.current says the
 * VM moved; stat_age counts the reads it was skipped.
 */
static void test_vm_acquire_kept_files(void **state)
{
	struct vm_files files;
	struct vm_signals prev, v;
	int fd;

	(void)state;
	vm_files_init(&files);
	put_vm(CG, "1000\n");
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, &files, NULL,
						  VM_ACQUIRE_SKIP_STAT, &prev),
			 0);
	assert_true(files.dfd >= 0);
	assert_true(files.fd[0] >= 0); /* memory.current */
	fd = files.fd[0];
	assert_int_equal(files.stat_age, 0);
	assert_int_equal(prev.workingset_refault_anon, 5000);

	/* nothing moved: memory.stat is not read again */
	put(CG_FILE("memory.stat"), "workingset_refault_anon 6000\n");
	put(CG_FILE("memory.current"), "1001\n");
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, &files,
						  kept(&prev),
						  VM_ACQUIRE_SKIP_STAT, &v),
			 0);
	assert_int_equal(files.fd[0], fd); /* the same descriptor */
	assert_int_equal(v.memory_current, 1001);
	assert_int_equal(v.workingset_refault_anon, 5000);
	assert_int_equal(v.d_refault_anon, 0);
	assert_int_equal(files.stat_age, 1);

	/* it grew by a MiB: read, with the delta since the last read */
	prev = v;
	put(CG_FILE("memory.current"), "2000000\n");
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, &files,
						  kept(&prev),
						  VM_ACQUIRE_SKIP_STAT, &v),
			 0);
	assert_int_equal(v.workingset_refault_anon, 6000);
	assert_int_equal(v.d_refault_anon, 1000);
	assert_int_equal(files.stat_age, 0);

	/* PSI's stall total moved: read */
	prev = v;
	put(CG_FILE("memory.stat"), "workingset_refault_anon 6500\n");
	put(CG_FILE("memory.pressure"),
	    "some avg10=0.00 avg60=0.00 avg300=0.00 total=999999999\n"
	    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, &files,
						  kept(&prev),
						  VM_ACQUIRE_SKIP_STAT, &v),
			 0);
	assert_int_equal(v.workingset_refault_anon, 6500);

	/* without the flag it is read whatever moved */
	prev = v;
	put(CG_FILE("memory.stat"), "workingset_refault_anon 6600\n");
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, &files,
						  kept(&prev), 0, &v),
			 0);
	assert_int_equal(v.workingset_refault_anon, 6600);

	/* the cgroup goes away. A fixture's files stay readable through
	 * open descriptors (cgroupfs answers ENODEV: -ENOENT, and the
	 * descriptors are closed); the daemon's discovery no longer lists
	 * it, and its entry's files are closed with it. Afresh: gone. */
	rm_rel("sys");
	vm_files_close(&files);
	assert_int_equal(files.dfd, -1);
	assert_int_equal(files.fd[0], -1);
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, &files,
						  kept(&prev),
						  VM_ACQUIRE_SKIP_STAT, &v),
			 -ENOENT);
	assert_true(v.vanished);
	assert_int_equal(files.dfd, -1);
	vm_files_close(&files);
}

static void test_vm_acquire_optional_files(void **state)
{
	struct vm_signals v;

	(void)state;
	put_vm(CG, "1000\n");
	/* swap accounting off, PSI off, no events, no limits written */
	unlink_rel(CG_FILE("memory.swap.current"));
	unlink_rel(CG_FILE("memory.pressure"));
	unlink_rel(CG_FILE("memory.events"));
	unlink_rel(CG_FILE("memory.max"));
	unlink_rel(CG_FILE("memory.high"));
	unlink_rel(CG_FILE("memory.low"));
	assert_int_equal(
		vm_signals_acquire_files(tree, NULL, CG, NULL, NULL, 0, &v), 0);
	assert_int_equal(v.memory_current, 1000);
	assert_int_equal(v.memory_max, MEMORY_UNLIMITED);
	assert_int_equal(v.memory_high, MEMORY_UNLIMITED);
	assert_int_equal(v.memory_low, 0);
	assert_int_equal(v.swap_current, 0);
	assert_false(v.psi.some.present);
	assert_int_equal(v.events_high, 0);
	rm_rel("sys");
}

static void test_vm_acquire_garbage(void **state)
{
	struct vm_signals v;

	(void)state;
	put_vm(CG, "lots\n");
	assert_int_equal(
		vm_signals_acquire_files(tree, NULL, CG, NULL, NULL, 0, &v),
		-EINVAL);
	put(CG_FILE("memory.current"), "1000\n");
	put_fixture(CG_FILE("memory.stat"), "memory.stat-truncated");
	assert_int_equal(
		vm_signals_acquire_files(tree, NULL, CG, NULL, NULL, 0, &v),
		-EINVAL);
	rm_rel("sys");
}

static void test_vm_acquire_vanished(void **state)
{
	struct vm_signals prev, v;

	(void)state;
	put_vm(CG, "1000\n");
	assert_int_equal(
		vm_signals_acquire_files(tree, NULL, CG, NULL, NULL, 0, &prev),
		0);

	/* gone before the first read */
	rm_rel("sys/fs/cgroup/" CG);
	memset(&v, 0xff, sizeof(v));
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, NULL,
						  kept(&prev), 0, &v),
			 -ENOENT);
	assert_true(v.vanished);
	assert_string_equal(v.name, "vm1");
	assert_int_equal(v.memory_current, 0);
	assert_int_equal(v.d_refault_anon, 0);

	/*
	 * Gone between memory.current and memory.stat: cgroupfs removes a
	 * directory's files with it, so a cgroup with memory.current but no
	 * memory.stat is one being torn down under us.
	 */
	put_vm(CG, "1000\n");
	unlink_rel(CG_FILE("memory.stat"));
	assert_int_equal(vm_signals_acquire_files(tree, NULL, CG, NULL,
						  kept(&prev), 0, &v),
			 -ENOENT);
	assert_true(v.vanished);

	/* a cgroup without the memory controller is not a VM we can run */
	put_vm(CG, "1000\n");
	unlink_rel(CG_FILE("memory.current"));
	assert_int_equal(
		vm_signals_acquire_files(tree, NULL, CG, NULL, NULL, 0, &v),
		-EOPNOTSUPP);
	rm_rel("sys");
}

/* cgroup.procs: the first pid, or 0 for none or garbage. */
static void test_cgroup_procs(void **state)
{
	(void)state;
	assert_int_equal(parse_cgroup_procs("4242\n4250\n"), 4242);
	assert_int_equal(parse_cgroup_procs("7"), 7);
	assert_int_equal(parse_cgroup_procs(""), 0);
	assert_int_equal(parse_cgroup_procs("0\n"), 0);
	assert_int_equal(parse_cgroup_procs("2147483648\n"), 0);
	assert_int_equal(parse_cgroup_procs("12ab\n"), 0);
	assert_int_equal(parse_cgroup_procs("-1\n"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psi_some_and_full),
		cmocka_unit_test(test_psi_without_full),
		cmocka_unit_test(test_psi_rejects_bad_text),
		cmocka_unit_test(test_psi_values_as_strtod),
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_meminfo_bad),
		cmocka_unit_test(test_memory_stat_6_1),
		cmocka_unit_test(test_memory_stat_6_12),
		cmocka_unit_test(test_memory_stat_bad),
		cmocka_unit_test(test_memory_events),
		cmocka_unit_test(test_memory_value),
		cmocka_unit_test(test_cgroup_procs),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_host_acquire),
		cmocka_unit_test(test_vm_acquire),
		cmocka_unit_test(test_vm_acquire_hot_only),
		cmocka_unit_test(test_vm_acquire_kept_files),
		cmocka_unit_test(test_vm_acquire_optional_files),
		cmocka_unit_test(test_vm_acquire_garbage),
		cmocka_unit_test(test_vm_acquire_vanished),
	};

	return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
