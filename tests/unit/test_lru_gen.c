// SPDX-License-Identifier: GPL-2.0
/*
 * lru_gen_parse() on /sys/kernel/debug/lru_gen captured from both Debian
 * kernels (tests/unit/fixtures/lru_gen/README), on text that is not
 * lru_gen, and the sums and commands the MGLRU source builds on it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "lru_gen.h"

#define FIXTURES "tests/unit/fixtures/lru_gen/"
#define VM1	 "/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope"

static const char *fixture(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	return fake_slurp(path); /* up to 64 KiB: the largest is 21 KiB */
}

/* What the parse saw: every memcg's id, path and node count, and one
 * memcg (@want_id) whole. */
struct seen {
	unsigned int want_id;
	size_t n_memcgs;
	unsigned int ids[16];
	char paths[16][CGROUP_PATH_MAX];
	size_t nodes[16];
	struct lru_gen_memcg want;
	int stop_at; /* return nonzero at this memcg (1-based), 0 never */
};

static int visit(const struct lru_gen_memcg *m, void *userdata)
{
	struct seen *s = userdata;

	if (s->n_memcgs < 16) {
		s->ids[s->n_memcgs] = m->id;
		snprintf(s->paths[s->n_memcgs], CGROUP_PATH_MAX, "%s", m->path);
		s->nodes[s->n_memcgs] = m->n_nodes;
	}
	s->n_memcgs++;
	if (m->id == s->want_id)
		s->want = *m;
	return s->stop_at && (int)s->n_memcgs == s->stop_at ? -ECANCELED : 0;
}

static int parse(const char *text, struct seen *s)
{
	static struct lru_gen_memcg scratch;

	return lru_gen_parse(text, &scratch, visit, s);
}

/* ---- real files: both kernels ----------------------------------------- */

struct gen_row {
	size_t node, k; /* nodes[node].gens[k] */
	struct lru_gen_gen gen;
};

struct fixture_row {
	const char *file;
	unsigned int want_id; /* checked whole */
	const char *want_path;
	size_t want_gens;	/* per node */
	struct gen_row gens[3]; /* of the memcg checked whole */
	uint64_t old_pages_3s;	/* node 0, idle >= 3000 ms, anon */
	uint64_t old_seq_3s;	/* the youngest generation counted */
};

static const struct fixture_row fixture_rows[] = {
	{"6.1-fresh",
	 3,
	 VM1,
	 4,
	 {{0, 0, {0, 3612, 0, 0}},
	  {0, 3, {3, 3612, 2062, 0}},
	  {1, 3, {3, 3612, 0, 0}}},
	 0,
	 1}, /* generations 0 and 1 old but empty */
	{"6.1-aged",
	 5,
	 "/machine.slice/vm3",
	 4,
	 {{0, 0, {3, 7248, 8543, 0}},
	  {0, 2, {5, 2440, 686, 0}},
	  {1, 3, {6, 1264, 0, 0}}},
	 8543,
	 3},
	{"6.1-evicted",
	 4,
	 "/machine.slice/vm two",
	 2,
	 {{0, 0, {5, 4184, 560, 0}},
	  {0, 1, {6, 3020, 5598, 0}},
	  {1, 1, {6, 3012, 0, 0}}},
	 0,
	 0}, /* two generations: none evictable */
	{"6.12-fresh", 4, "/machine.slice/vm two", 4, {{0}}, 0, 1},
	{"6.12-aged",
	 3,
	 VM1,
	 4,
	 {{0, 0, {3, 7352, 2825, 0}},
	  {0, 2, {5, 2432, 261, 0}},
	  {1, 1, {4, 3920, 0, 0}}},
	 2825,
	 3},
	{"6.12-evicted", 1, "/", 3, {{0}}, 143, 4},
};

static void test_fixtures(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(fixture_rows) / sizeof(fixture_rows[0]);
	     i++) {
		const struct fixture_row *row = &fixture_rows[i];
		struct seen s = {.want_id = row->want_id};
		uint64_t seq = 99;

		print_message("%s\n", row->file);
		assert_int_equal(parse(fixture(row->file), &s), 0);
		/* Five memcgs: the root, machine.slice, three VMs; two
		 * nodes each (numa=fake=2). */
		assert_int_equal(s.n_memcgs, 5);
		for (size_t m = 0; m < 5; m++) {
			assert_int_equal(s.ids[m], m + 1);
			assert_int_equal(s.nodes[m], 2);
		}
		assert_string_equal(s.paths[0], "/");
		assert_string_equal(s.paths[1], "/machine.slice");
		assert_string_equal(s.paths[2], VM1);
		assert_string_equal(s.paths[3], "/machine.slice/vm two");
		assert_string_equal(s.want.path, row->want_path);
		assert_int_equal(s.want.nodes[0].id, 0);
		assert_int_equal(s.want.nodes[1].id, 1);
		if (strcmp(row->file, "6.12-evicted") != 0) {
			assert_int_equal(s.want.nodes[0].n_gens,
					 row->want_gens);
			assert_int_equal(s.want.nodes[1].n_gens,
					 row->want_gens);
		}
		for (size_t g = 0; g < 3 && row->gens[g].gen.age_ms; g++) {
			const struct gen_row *gr = &row->gens[g];
			const struct lru_gen_gen *got =
				&s.want.nodes[gr->node].gens[gr->k];

			assert_int_equal(got->seq, gr->gen.seq);
			assert_int_equal(got->age_ms, gr->gen.age_ms);
			assert_int_equal(got->anon, gr->gen.anon);
			assert_int_equal(got->file, gr->gen.file);
		}
		assert_int_equal(lru_gen_node_old_pages(&s.want.nodes[0], 3000,
							true, &seq),
				 row->old_pages_3s);
		assert_int_equal(seq, row->old_seq_3s);
	}
}

/* 6.12 after eviction: the root keeps 3 generations on node 0 and 2 on
 * node 1 (a node's generations are its own). */
static void test_nodes_age_apart(void **unused)
{
	struct seen s = {.want_id = 1};

	(void)unused;
	assert_int_equal(parse(fixture("6.12-evicted"), &s), 0);
	assert_int_equal(s.want.nodes[0].n_gens, 3);
	assert_int_equal(lru_gen_node_max_seq(&s.want.nodes[0]), 6);
	assert_int_equal(lru_gen_node_youngest_age(&s.want.nodes[0]), 2592);
}

/* ---- text that is not lru_gen ----------------------------------------- */

struct bad_row {
	const char *name, *text;
	int r;
	size_t n_memcgs; /* delivered before the error */
};

static const struct bad_row bad_rows[] = {
	{"empty file: no memcg", "", 0, 0},
	{"no trailing newline", "memcg 7 /a\n node 0\n 1 5 2 3", 0, 1},
	{"memory controller off: empty path",
	 "memcg     0 \n node     0\n          0 10 5 6 \n", 0, 1},
	{"generation before any node", "memcg 1 /\n 0 10 5 6\n", -EINVAL, 0},
	{"node before any memcg", " node 0\n", -EINVAL, 0},
	{"generation before any memcg", " 0 10 5 6\n", -EINVAL, 0},
	{"three fields", "memcg 1 /\n node 0\n 0 10 5\n", -EINVAL, 0},
	{"five fields", "memcg 1 /\n node 0\n 0 10 5 6 7\n", -EINVAL, 0},
	{"a letter after a count (lru_gen_full)",
	 "memcg 1 /\n node 0\n 0 10 5 6\n   0 0r 0e\n", -EINVAL, 0},
	{"generations out of order",
	 "memcg 1 /\n node 0\n 3 10 5 6\n 2 5 1 1\n", -EINVAL, 0},
	{"the same generation twice",
	 "memcg 1 /\n node 0\n 3 10 5 6\n 3 5 1 1\n", -EINVAL, 0},
	{"more generations than kept",
	 "memcg 1 /\n node 0\n 1 0 0 0\n 2 0 0 0\n 3 0 0 0\n 4 0 0 0\n"
	 " 5 0 0 0\n 6 0 0 0\n 7 0 0 0\n 8 0 0 0\n 9 0 0 0\n",
	 -E2BIG, 0},
	{"a count over 64 bits",
	 "memcg 1 /\n node 0\n 0 10 18446744073709551616 6\n", -ERANGE, 0},
	{"a memcg id over 32 bits", "memcg 4294967296 /\n", -ERANGE, 0},
	{"memcg id missing", "memcg /a\n", -EINVAL, 0},
	{"node id not a number", "memcg 1 /\n node x\n", -EINVAL, 0},
	{"a word the file has not", "memcg 1 /\n nodes 0\n", -EINVAL, 0},
	{"the first memcg delivered before the second's error",
	 "memcg 1 /\n node 0\n 0 1 2 3\nmemcg 2 /b\n 0 1 2 3\n", -EINVAL, 1},
};

static void test_bad_text(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		struct seen s = {0};

		print_message("%s\n", bad_rows[i].name);
		assert_int_equal(parse(bad_rows[i].text, &s), bad_rows[i].r);
		assert_int_equal(s.n_memcgs, bad_rows[i].n_memcgs);
	}
}

static void test_full_file_is_not_lru_gen(void **unused)
{
	struct seen s = {0};

	(void)unused;
	assert_int_equal(parse(fixture("6.1-full"), &s), -EINVAL);
	assert_int_equal(parse(fixture("6.12-full"), &s), -EINVAL);
}

static void test_callback_stops_parse(void **unused)
{
	struct seen s = {.stop_at = 2};

	(void)unused;
	assert_int_equal(parse(fixture("6.12-aged"), &s), -ECANCELED);
	assert_int_equal(s.n_memcgs, 2);
}

static void test_path_with_blanks_kept_whole(void **unused)
{
	struct seen s = {.want_id = 9};
	const char *text = "memcg     9 /a b/ c  \n node 0\n 0 1 2 3\n";

	(void)unused;
	assert_int_equal(parse(text, &s), 0);
	assert_string_equal(s.want.path, "/a b/ c  ");
}

static void test_long_path(void **unused)
{
	static char text[CGROUP_PATH_MAX + 64];
	struct seen s = {0};
	size_t n;

	(void)unused;
	n = (size_t)snprintf(text, sizeof(text), "memcg 1 /");
	memset(text + n, 'a', CGROUP_PATH_MAX);
	text[n + CGROUP_PATH_MAX] = '\0';
	assert_int_equal(parse(text, &s), -E2BIG);
}

/* ---- what the source takes from it ------------------------------------ */

static void test_path_is(void **unused)
{
	(void)unused;
	assert_true(lru_gen_path_is("/", ""));
	assert_true(lru_gen_path_is(VM1, VM1 + 1));
	assert_true(lru_gen_path_is("/machine.slice/vm two",
				    "machine.slice/vm two"));
	assert_false(lru_gen_path_is("/machine.slice/vm", "machine.slice/vm2"));
	assert_false(lru_gen_path_is("/machine.slice/vm2", "machine.slice/vm"));
	assert_false(lru_gen_path_is("", "")); /* memcg off */
}

struct old_row {
	const char *name;
	uint64_t age_ms;
	bool anon;
	uint64_t pages, seq;
};

/* One node: seq 10 (age 30 s) .. 13 (age 1 s). */
static const struct lru_gen_node node4 = {
	.id = 0,
	.n_gens = 4,
	.gens = {{10, 30000, 100, 1},
		 {11, 20000, 200, 2},
		 {12, 10000, 400, 4},
		 {13, 1000, 800, 8}},
};

static const struct old_row old_rows[] = {
	{"idle 20 s: generation 10 (11 is 20 s old)", 20000, true, 101, 10},
	{"idle 10 s: 10 and 11 (12 is 10 s old)", 10000, true, 303, 11},
	{"idle 1 s: the two youngest are never counted", 1000, true, 303, 11},
	{"idle 25 s: none (11 is younger)", 25000, false, 0, 0},
	{"no swap: file pages only", 10000, false, 3, 11},
	{"age 0: still not the two youngest", 0, true, 303, 11},
};

static void test_old_pages(void **unused)
{
	struct lru_gen_node empty = {0};
	uint64_t seq;

	(void)unused;
	for (size_t i = 0; i < sizeof(old_rows) / sizeof(old_rows[0]); i++) {
		print_message("%s\n", old_rows[i].name);
		assert_int_equal(lru_gen_node_old_pages(&node4,
							old_rows[i].age_ms,
							old_rows[i].anon, &seq),
				 old_rows[i].pages);
		assert_int_equal(seq, old_rows[i].seq);
	}
	assert_int_equal(lru_gen_node_old_pages(&empty, 0, true, NULL), 0);
	assert_int_equal(lru_gen_node_max_seq(&empty), 0);
	assert_int_equal(lru_gen_node_youngest_age(&empty), UINT64_MAX);
	assert_int_equal(lru_gen_node_max_seq(&node4), 13);
	assert_int_equal(lru_gen_node_youngest_age(&node4), 1000);
}

static void test_commands(void **unused)
{
	char buf[64];

	(void)unused;
	assert_int_equal(lru_gen_format_age(buf, sizeof(buf), 5, 1, 13, true),
			 13);
	assert_string_equal(buf, "+ 5 1 13 1 1\n");
	lru_gen_format_age(buf, sizeof(buf), 5, 0, 13, false);
	assert_string_equal(buf, "+ 5 0 13 0 1\n");
	lru_gen_format_evict(buf, sizeof(buf), 65535, 1, 11, 60, 16384);
	assert_string_equal(buf, "- 65535 1 11 60 16384\n");
	assert_int_equal(lru_gen_format_evict(buf, 8, 1, 0, 1, 60, 1),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_nodes_age_apart),
		cmocka_unit_test(test_bad_text),
		cmocka_unit_test(test_full_file_is_not_lru_gen),
		cmocka_unit_test(test_callback_stops_parse),
		cmocka_unit_test(test_path_with_blanks_kept_whole),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_path_is),
		cmocka_unit_test(test_old_pages),
		cmocka_unit_test(test_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
