// SPDX-License-Identifier: GPL-2.0
/*
 * The MGLRU cold source (cold_mglru.c) on a fake tree: when it opens, the
 * cold view it fills for decide(), the lru_gen commands it writes to age
 * a VM's memcg and to give back its old generations, and that it never
 * faults anything back ahead of the VM.
 */
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

#include "cold_mglru.h"
#include "cold_source.h"
#include "fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"

#define VM	"machine.slice/vm1.scope"
#define ENABLED "/sys/kernel/mm/lru_gen/enabled"
#define LRU_GEN "/sys/kernel/debug/lru_gen"
#define SEC	USEC_PER_SEC

/*
 * Memcg 7 is the VM: node 0's generations 20..23 are 40, 20, 9 and 1.5 s
 * old, node 1's 5..8 are 40, 25, 12 and 0.5 s old. Idle at least 20 s:
 * node 0's generation 20 (1100 pages), node 1's 5 (330): the generation
 * after each is at least 20 s old. A lingering old memcg of the same path
 * (id 3) has fewer pages.
 */
static const char lru_gen_text[] =
	"memcg     1 /\n"
	" node     0\n"
	"         10      30000          5           5 \n"
	"memcg     3 /" VM "\n"
	" node     0\n"
	"          1      90000          1           1 \n"
	"          2      80000          1           1 \n"
	"memcg     7 /" VM "\n"
	" node     0\n"
	"         20      40000       1000         100 \n"
	"         21      20000       2000         200 \n"
	"         22       9000       4000         400 \n"
	"         23       1500       8000         800 \n"
	" node     1\n"
	"          5      40000        300          30 \n"
	"          6      25000          0           0 \n"
	"          7      12000        600          60 \n"
	"          8        500        100          10 \n";

struct fixture {
	struct fake_tree t;
	struct cold_mglru *m;
	char why[256];
	char path[PATH_MAX];
	/* What the give-back wrote, through the act writer. */
	char written[1024], written_to[PATH_MAX];
	int writes;
	uint64_t current_after; /* memory.current the "kernel" leaves */
};

static void tree_file(struct fixture *f, const char *rel, const char *text)
{
	snprintf(f->path, sizeof(f->path), "%s%s", f->t.root, rel);
	fake_write(f->path, text);
}

static const char *tree_read(struct fixture *f, const char *rel)
{
	snprintf(f->path, sizeof(f->path), "%s%s", f->t.root, rel);
	return fake_slurp(f->path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fake_tree_create(&f->t, 8 * GiB, 4 * GiB);
	fake_vm_add(&f->t, "vm1", 64 * MiB, 0);
	tree_file(f, ENABLED, "0x0007\n");
	tree_file(f, LRU_GEN, lru_gen_text);
	tree_file(f, "/proc/sys/vm/swappiness", "60\n");
	tree_file(f, "/proc/swaps",
		  "Filename\tType\tSize\tUsed\tPriority\n"
		  "/dev/zram0 partition\t262140\t0\t100\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cold_mglru_free(f->m);
	fake_tree_destroy(&f->t);
	free(f);
	return 0;
}

static int open_source(struct fixture *f, enum mglru_setting s)
{
	cold_mglru_free(f->m);
	f->m = NULL;
	return cold_mglru_open(f->t.root, s, &f->m, f->why, sizeof(f->why));
}

/* ---- opening ---------------------------------------------------------- */

static void test_open(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(open_source(f, MGLRU_OFF), 0);
	assert_null(f->m);
	assert_non_null(strstr(f->why, "\"off\""));

	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	assert_non_null(f->m);

	/* Off in the kernel: "auto" says how to turn it on, and does not. */
	tree_file(f, ENABLED, "0x0000\n");
	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	assert_null(f->m);
	assert_non_null(
		strstr(f->why, "echo y > /sys/kernel/mm/lru_gen/enabled"));
	assert_string_equal(tree_read(f, ENABLED), "0x0000\n");

	/* "enable" writes y (this fake file then reads "y", not 0x0007:
	 * a kernel that does not turn on is reported). */
	assert_int_equal(open_source(f, MGLRU_ENABLE), 0);
	assert_string_equal(tree_read(f, ENABLED), "y");
	assert_null(f->m);
	assert_non_null(strstr(f->why, "still off"));

	/* No multi-gen LRU in the kernel at all. */
	snprintf(f->path, sizeof(f->path), "%s%s", f->t.root, ENABLED);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(open_source(f, MGLRU_ENABLE), 0);
	assert_null(f->m);
	assert_non_null(strstr(f->why, "no multi-gen LRU"));

	/* On, but debugfs not mounted. */
	tree_file(f, ENABLED, "0x0001\n");
	snprintf(f->path, sizeof(f->path), "%s%s", f->t.root, LRU_GEN);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	assert_null(f->m);
	assert_non_null(strstr(f->why, "debugfs"));
}

static void test_setting_names(void **unused)
{
	enum mglru_setting s;

	(void)unused;
	assert_int_equal(mglru_setting_from_string("enable", &s), 0);
	assert_int_equal(s, MGLRU_ENABLE);
	assert_string_equal(mglru_setting_name(s), "enable");
	assert_int_equal(mglru_setting_from_string("on", &s), -EINVAL);
}

/* ---- the cold view and the aging -------------------------------------- */

struct collect_row {
	const char *name;
	unsigned int cold_ticks; /* of 1 s */
	bool swap;
	uint64_t cold_pages;
	const char *aged; /* what lru_gen holds after: a command, or NULL
			   * for no write */
};

static const struct collect_row collect_rows[] = {
	{"cold age 20 s: the generations not seen for 20 s; spacing 10 s: "
	 "no node is due",
	 20, true, 1100 + 330, NULL},
	{"cold age 3 s, spacing 1.5 s: node 0's youngest (1.5 s) is due, node "
	 "1's (0.5 s) "
	 "not",
	 3, true, 1100 + 2200 + 330 + 0, "+ 7 0 23 1 1\n"},
	{"cold age 4 s, spacing 2 s (half, not a third): no node is due", 4,
	 true, 1100 + 2200 + 330 + 0, NULL},
	{"no swap: file pages only, and aging scans no anon", 3, false,
	 100 + 200 + 30 + 0, "+ 7 0 23 0 1\n"},
	{"cold age 50 s: nothing that old", 50, true, 0, NULL},
};

static void test_collect(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(collect_rows) / sizeof(collect_rows[0]);
	     i++) {
		const struct collect_row *row = &collect_rows[i];
		struct vm_signals v = {.name = "vm1"};

		print_message("%s\n", row->name);
		tree_file(f, LRU_GEN, lru_gen_text);
		tree_file(f, "/proc/swaps",
			  row->swap ? "Filename\tType\tSize\tUsed\tPriority\n"
				      "/dev/zram0 partition\t1\t0\t100\n"
				    : "Filename\tType\tSize\tUsed\tPriority\n");
		assert_int_equal(open_source(f, MGLRU_AUTO), 0);
		assert_int_equal(cold_source_mglru.collect(f->m, VM,
							   row->cold_ticks,
							   100 * SEC, SEC, &v),
				 0);
		assert_true(v.ovcmem.present);
		assert_true(v.ovcmem.cold_valid);
		assert_int_equal(v.ovcmem.cold_pages, row->cold_pages);
		/* The live memcg (7), not the lingering one (3). */
		assert_int_equal(v.ovcmem.pages_mapped, 16500 + 1100);
		assert_string_equal(tree_read(f, LRU_GEN),
				    row->aged ? row->aged : lru_gen_text);
	}
}

static void test_idle_buckets(void **state)
{
	struct fixture *f = *state;
	struct vm_signals v = {.name = "vm1"};

	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	assert_int_equal(
		cold_source_mglru.collect(f->m, VM, 20, 100 * SEC, SEC, &v), 0);
	/* A generation is idle as long as the next younger one is old:
	 * bucket 0 (0 ticks): the youngest, and node 1's 7 (8 is 0.5 s
	 * old); bucket 1 (1-10): node 0's 22 (1.5 s) and 21 (9 s);
	 * bucket 2 (11-30): node 0's 20 (20 s), node 1's 6 (12 s), 5 (25 s). */
	assert_int_equal(v.ovcmem.idle_pages[0], 8800 + 110 + 660);
	assert_int_equal(v.ovcmem.idle_pages[1], 4400 + 2200);
	assert_int_equal(v.ovcmem.idle_pages[2], 1100 + 0 + 330);
	assert_int_equal(v.ovcmem.idle_pages[3], 0);
}

static void test_vm_not_in_lru_gen(void **state)
{
	struct fixture *f = *state;
	struct vm_signals v = {.name = "vm2"};

	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	assert_int_equal(cold_source_mglru.collect(f->m, "machine.slice/vm2",
						   20, 100 * SEC, SEC, &v),
			 -ENOENT);
	assert_false(v.ovcmem.present);
}

static void test_unreadable_lru_gen(void **state)
{
	struct fixture *f = *state;
	struct vm_signals v = {.name = "vm1"};

	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	tree_file(f, LRU_GEN, "memcg 1 /\n 1 2 3 4\n");
	assert_int_equal(
		cold_source_mglru.collect(f->m, VM, 20, 100 * SEC, SEC, &v),
		-EINVAL);
}

/* ---- giving back ------------------------------------------------------ */

static int record_write(const char *path, const char *data, void *userdata)
{
	struct fixture *f = userdata;
	char current[32];

	f->writes++;
	snprintf(f->written_to, sizeof(f->written_to), "%s", path);
	snprintf(f->written, sizeof(f->written), "%s", data);
	snprintf(current, sizeof(current), "%llu\n",
		 (unsigned long long)f->current_after);
	fake_vm_write(&f->t, "vm1", "memory.current", current);
	return 0;
}

struct give_row {
	const char *name;
	unsigned int min_ticks; /* of 1 s */
	uint64_t bytes;
	uint64_t current_after;
	const char *commands; /* NULL: nothing written */
	uint64_t done;
	bool partial;
};

static const struct give_row give_rows[] = {
	{"idle 20 s, half of it: split over the nodes by their old pages", 20,
	 715 * 4096ULL, 64 * MiB - 715 * 4096ULL,
	 "- 7 0 20 60 550\n- 7 1 5 60 165\n", 715 * 4096ULL, false},
	{"idle 20 s, more than is that old: each node's old pages at most", 20,
	 1 * GiB, 60 * MiB, "- 7 0 20 60 1100\n- 7 1 5 60 330\n", 4 * MiB,
	 true},
	{"idle 1 s (tight): up to the youngest evictable generation", 1,
	 3630 * 4096ULL, 64 * MiB, "- 7 0 21 60 3300\n- 7 1 6 60 330\n", 0,
	 true},
	{"idle 50 s: nothing that old, nothing written", 50, 1 * GiB, 0, NULL,
	 0, false},
};

static void test_give_back(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(give_rows) / sizeof(give_rows[0]); i++) {
		const struct give_row *row = &give_rows[i];
		struct vm_signals v = {.name = "vm1",
				       .cgroup = VM,
				       .memory_current = 64 * MiB};
		struct act_context ctx = {.root = f->t.root,
					  .cgroup_root = "/sys/fs/cgroup",
					  .write = record_write,
					  .write_userdata = f};
		struct act_result res = {0};
		char want_path[PATH_MAX];

		print_message("%s\n", row->name);
		tree_file(f, LRU_GEN, lru_gen_text);
		fake_vm_write(&f->t, "vm1", "memory.current", "67108864\n");
		assert_int_equal(open_source(f, MGLRU_AUTO), 0);
		/* collect first: it tells the source the tick's length */
		assert_int_equal(cold_source_mglru.collect(f->m, VM, 20,
							   100 * SEC, SEC, &v),
				 0);
		f->writes = 0;
		f->current_after = row->current_after;
		assert_int_equal(cold_source_mglru.give_back(f->m, &ctx, &v,
							     row->min_ticks,
							     row->bytes, &res),
				 0);
		if (!row->commands) {
			assert_int_equal(f->writes, 0);
		} else {
			assert_int_equal(f->writes, 1); /* one write */
			assert_string_equal(f->written, row->commands);
			snprintf(want_path, sizeof(want_path), "%s%s",
				 f->t.root, LRU_GEN);
			assert_string_equal(f->written_to, want_path);
		}
		assert_int_equal(res.bytes_done, row->done);
		assert_int_equal(res.partial, row->partial);
		assert_null(res.taken);
	}
}

/* fault_back goes by where the VM refaults (act_prefault_refaulted, tested
 * in test_act.c), never through lru_gen: without the VMM's process it
 * has nothing to go by. */
static void test_fault_back_by_refaults(void **state)
{
	struct fixture *f = *state;
	struct vm_signals v = {.name = "vm1", .cgroup = VM, .pid = 0};
	struct act_context ctx = {.root = f->t.root,
				  .cgroup_root = "/sys/fs/cgroup",
				  .write = record_write,
				  .write_userdata = f};
	struct act_result res = {0};

	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	f->writes = 0;
	assert_int_equal(
		cold_source_mglru.fault_back(f->m, &ctx, &v, 1 * GiB, &res),
		-EOPNOTSUPP);
	/* a pid the fixture tree has no proc/PID/maps for: gone */
	v.pid = 4242;
	assert_int_equal(
		cold_source_mglru.fault_back(f->m, &ctx, &v, 1 * GiB, &res),
		-ENOENT);
	assert_int_equal(res.bytes_done, 0);
	assert_int_equal(f->writes, 0);
	act_refault_forget_all();
}

/* ---- the choice ------------------------------------------------------- */

static void test_choice(void **state)
{
	struct fixture *f = *state;
	void *states[COLD_SOURCES_MAX] = {0};
	struct cold_source src;
	size_t mglru = 0;

	for (size_t i = 0; i < cold_source_count; i++)
		if (cold_source_table[i] == &cold_source_mglru)
			mglru = i;
	assert_true(mglru > 0); /* after ovcmem */
	assert_ptr_equal(cold_source_table[mglru - 1], &cold_source_ovcmem);

	/* MGLRU off: none. */
	src = cold_source_choose(states, VM);
	assert_string_equal(cold_source_name(&src), "none");
	/* On: every VM without a partition. */
	assert_int_equal(open_source(f, MGLRU_AUTO), 0);
	states[mglru] = f->m;
	src = cold_source_choose(states, VM);
	assert_string_equal(cold_source_name(&src), "mglru");
	assert_ptr_equal(src.state, f->m);
}

/* ---- the daemon, end to end ------------------------------------------- */

static const char e2e_policy[] =
	"{\"interval\": \"1s\",\n"
	" \"classes\": [{\"name\": \"batch\", \"match\": [\"batch-*\"],\n"
	"   \"floor\": \"10%\", \"cold_age\": \"10s\",\n"
	"   \"max_reclaim_rate\": \"64M\", \"prefault\": false}]}\n";

/* batch-1's memcg: 2 GiB (524288 pages) in generation 1, not seen for
 * 30 s; 512 MiB in generation 4, in use. */
static const char e2e_lru_gen[] =
	"memcg     1 /\n"
	" node     0\n"
	"          4       1000          5           5 \n"
	"memcg     9 /machine.slice/batch-1.scope\n"
	" node     0\n"
	"          1      60000     524288           0 \n"
	"          2      30000          0           0 \n"
	"          3      20000          0           0 \n"
	"          4       1000     131072           0 \n";

static bool journal_has(const char *text)
{
	for (size_t i = 0; i < log_memory_count(); i++)
		if (strstr(log_memory_get(i)->message, text))
			return true;
	return false;
}

/* The daemon on a plain VM with MGLRU on: the source is chosen and said
 * once, decide() sees the cold bytes, and the give-back reaches lru_gen
 * as an eviction bounded by the token bucket; the state file names the
 * source. */
static void test_daemon_uses_mglru(void **state)
{
	struct fixture *f = *state;
	struct balancer_options o = {0};
	struct balancer *b = NULL;
	const char *written;

	log_open(LOG_TARGET_MEMORY);
	fake_policy(&f->t, "50-test.json", e2e_policy);
	fake_host(&f->t, 64 * GiB, 16 * GiB, 0, 0); /* proactive */
	fake_vm_add(&f->t, "batch-1", 4 * GiB, 4 * GiB);
	fake_vm_write(&f->t, "batch-1", "cgroup.procs", "4242\n");
	tree_file(f, LRU_GEN, e2e_lru_gen);
	o.root = f->t.root;
	o.config_path = f->t.config;
	assert_int_equal(balancer_new(&o, &b), 0);
	assert_int_equal(balancer_tick_at(b, 1000 * SEC), 0);
	assert_true(journal_has("machine.slice/batch-1.scope: cold-memory "
				"source mglru (no ovcmem partition; the "
				"multi-gen LRU is on)"));
	written = tree_read(f, LRU_GEN);
	print_message("lru_gen after the tick: %s", written);
	/* 64M (the bucket) of 4K pages, node 0, up to generation 2 (3 is
	 * 20 s old: 2 went unused for the 10 s cold age), at
	 * vm.swappiness. */
	assert_string_equal(written, "- 9 0 2 60 16384\n");
	assert_non_null(strstr(fake_slurp(f->t.state_file),
			       "\"cold_source\":\"mglru\""));
	balancer_free(b);
	log_memory_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setting_names),
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_buckets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vm_not_in_lru_gen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_lru_gen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_give_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_back_by_refaults,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_uses_mglru, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
