// SPDX-License-Identifier: GPL-2.0
/*
 * The refault planner (refault_map.h), table by table: which pages count
 * as the VM's refaults, what a plan takes (hottest blocks and their
 * neighbours only, within the budget), and how prefaulted pages are
 * judged (used, wasted, reclaimed again).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "refault_map.h"

#define BASE  0x7f0000000000ULL
#define BLOCK REFAULT_BLOCK_BYTES
#define PAGE  REFAULT_PAGE_BYTES
#define SEC   USEC_PER_SEC

/* Block @blk: pages [swapped_lo, swapped_hi) swapped, [present_lo,
 * present_hi) present (a page in both counts as swapped). */
struct blk {
	int blk;
	unsigned int swapped_lo, swapped_hi, present_lo, present_hi;
};

static uint64_t addr_of(int blk, unsigned int page)
{
	return BASE + (uint64_t)blk * BLOCK + page * PAGE;
}

static void sample_of(struct refault_sample *s, const struct blk *rows,
		      size_t n)
{
	memset(s, 0, sizeof(*s));
	for (size_t k = 0; k < n; k++)
		for (unsigned int pg = 0; pg < REFAULT_BLOCK_PAGES; pg++) {
			const struct blk *b = &rows[k];
			bool sw = pg >= b->swapped_lo && pg < b->swapped_hi;
			bool pr = !sw && pg >= b->present_lo &&
				  pg < b->present_hi;

			assert_int_equal(refault_sample_add(s,
							    addr_of(b->blk, pg),
							    sw, pr),
					 0);
		}
}

static struct refault_update feed(struct refault_map *m, const struct blk *rows,
				  size_t n, usec_t now)
{
	struct refault_sample s;
	struct refault_update u;

	sample_of(&s, rows, n);
	assert_int_equal(refault_map_update(m, &s, now, 0, &u), 0);
	refault_sample_free(&s);
	return u;
}

#define FEED(m, now, ...)                                                      \
	({                                                                     \
		const struct blk rows_[] = {__VA_ARGS__};                      \
		feed(m, rows_, sizeof(rows_) / sizeof(rows_[0]), now);         \
	})

static uint64_t planned(struct refault_map *m, usec_t now, uint64_t budget,
			struct refault_range **r, size_t *n)
{
	uint64_t bytes = 0;

	assert_int_equal(refault_map_plan(m, now, budget, r, n, &bytes), 0);
	return bytes;
}

/* Refaults: swapped at the last sample, present now. */
static void test_refaults_counted(void **state)
{
	static const struct {
		const char *what;
		struct blk before, after;
		uint64_t refaulted, swapped_now;
	} rows[] = {
		{"nothing changed",
		 {0, 0, 100, 100, 512},
		 {0, 0, 100, 100, 512},
		 0,
		 100},
		{"ten came back",
		 {0, 0, 100, 100, 512},
		 {0, 10, 100, 0, 512},
		 10,
		 90},
		{"all came back", {0, 0, 512, 0, 0}, {0, 0, 0, 0, 512}, 512, 0},
		{"more swapped, none back",
		 {0, 0, 10, 10, 512},
		 {0, 0, 50, 50, 512},
		 0,
		 50},
		/* resident pages that get swapped and new resident pages are
		 * no refaults; a page that was neither is no refault either */
		{"fresh pages", {0, 0, 0, 0, 100}, {0, 0, 0, 0, 512}, 0, 0},
		{"swapped ones unmapped",
		 {0, 0, 100, 100, 512},
		 {0, 0, 0, 100, 512},
		 0,
		 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct refault_map m;
		struct refault_update u;

		refault_map_init(&m);
		u = feed(&m, &rows[i].before, 1, 1 * SEC);
		assert_int_equal(u.refaulted, 0); /* the first is a baseline */
		u = feed(&m, &rows[i].after, 1, 2 * SEC);
		if (u.refaulted != rows[i].refaulted ||
		    u.swapped != rows[i].swapped_now)
			fail_msg("%s: refaulted %ju swapped %ju", rows[i].what,
				 (uintmax_t)u.refaulted, (uintmax_t)u.swapped);
		assert_int_equal(m.totals.refaulted, rows[i].refaulted);
		assert_int_equal(u.hot_blocks, rows[i].refaulted ? 1 : 0);
		refault_map_free(&m);
	}
}

/* Before a baseline there is nothing to plan, whatever is swapped. */
static void test_first_sample_plans_nothing(void **state)
{
	struct refault_map m;
	struct refault_range *r;
	size_t n;

	(void)state;
	refault_map_init(&m);
	assert_true(refault_map_counters_rose(&m, 0));
	FEED(&m, 1 * SEC, {0, 0, 512, 0, 0}, {1, 0, 512, 0, 0});
	assert_int_equal(planned(&m, 1 * SEC, 64 << 20, &r, &n), 0);
	assert_null(r);
	assert_false(refault_map_counters_rose(&m, 0));
	assert_true(refault_map_counters_rose(&m, 7));
	refault_map_free(&m);
}

/*
 * Ten blocks all swapped; the VM refaults in block 5 (many) and block 1
 * (few). The plan: block 5's swapped pages, then 4 and 6, then block 1,
 * 0 and 2; never 3 (only a neighbour's neighbour) nor 7-9.
 */
static void test_plan_hottest_and_neighbours(void **state)
{
	static const struct {
		uint64_t budget_pages;
		int blocks[6]; /* the blocks the plan touches, in order */
		uint64_t pages;
	} rows[] = {
		{100000, {5, 4, 6, 1, 0, 2}, 462 + 512 * 2 + 508 + 512 * 2},
		{462, {5}, 462},
		{462 + 600, {5, 4, 6}, 462 + 600},
		{1, {5}, 1},
		{0, {-1}, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct refault_map m;
		struct refault_range *r;
		size_t n, seen = 0;
		uint64_t bytes, sum = 0;
		int last = -1;

		refault_map_init(&m);
		FEED(&m, 1 * SEC, {0, 0, 512, 0, 0}, {1, 0, 512, 0, 0},
		     {2, 0, 512, 0, 0}, {3, 0, 512, 0, 0}, {4, 0, 512, 0, 0},
		     {5, 0, 512, 0, 0}, {6, 0, 512, 0, 0}, {7, 0, 512, 0, 0},
		     {8, 0, 512, 0, 0}, {9, 0, 512, 0, 0});
		/* block 5: pages 0-49 back; block 1: pages 0-3 back */
		FEED(&m, 2 * SEC, {0, 0, 512, 0, 0}, {1, 4, 512, 0, 4},
		     {2, 0, 512, 0, 0}, {3, 0, 512, 0, 0}, {4, 0, 512, 0, 0},
		     {5, 50, 512, 0, 50}, {6, 0, 512, 0, 0}, {7, 0, 512, 0, 0},
		     {8, 0, 512, 0, 0}, {9, 0, 512, 0, 0});
		bytes = planned(&m, 2 * SEC, rows[i].budget_pages * PAGE, &r,
				&n);
		assert_int_equal(bytes, rows[i].pages * PAGE);
		for (size_t k = 0; k < n; k++) {
			int blk = (int)((r[k].addr - BASE) / BLOCK);

			sum += r[k].len;
			/* a range never crosses a block */
			assert_int_equal((r[k].addr + r[k].len - 1 - BASE) /
						 BLOCK,
					 (uint64_t)blk);
			if (blk != last) {
				assert_true(seen < 6);
				if (blk != rows[i].blocks[seen])
					fail_msg("row %zu: block %d at %zu, "
						 "want %d",
						 i, blk, seen,
						 rows[i].blocks[seen]);
				seen++;
				last = blk;
			}
			/* only pages still swapped */
			if (blk == 5)
				assert_true(r[k].addr >= addr_of(5, 50));
		}
		assert_int_equal(sum, bytes);
		free(r);
		refault_map_free(&m);
	}
}

/* Equal heat: the lower address first. */
static void test_plan_ties_by_address(void **state)
{
	struct refault_map m;
	struct refault_range *r;
	size_t n;

	(void)state;
	refault_map_init(&m);
	FEED(&m, 1 * SEC, {10, 0, 512, 0, 0}, {20, 0, 512, 0, 0});
	FEED(&m, 2 * SEC, {10, 8, 512, 0, 8}, {20, 8, 512, 0, 8});
	assert_int_equal(planned(&m, 2 * SEC, 4 * PAGE, &r, &n), 4 * PAGE);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].addr, addr_of(10, 8));
	free(r);
	refault_map_free(&m);
}

/*
 * What we prefaulted stays a swap entry until the VM touches it; then it
 * is used, not a refault. Rows: what the VM does with the 10 prefaulted
 * pages (block 0, pages 100-109) in the samples after.
 */
static void test_prefaulted_judged(void **state)
{
	static const struct {
		const char *what;
		struct blk next[2]; /* two later samples, at +5 s, +40 s */
		uint64_t used, wasted, again, refaulted;
	} rows[] = {
		{"touched: used",
		 {{0, 110, 512, 0, 110}, {0, 110, 512, 0, 110}},
		 10,
		 0,
		 0,
		 0},
		{"never touched: wasted at the end of the watch",
		 {{0, 100, 512, 0, 100}, {0, 100, 512, 0, 100}},
		 0,
		 10,
		 0,
		 0},
		{"touched, then reclaimed within the watch",
		 {{0, 110, 512, 0, 110}, {0, 100, 512, 0, 100}},
		 10,
		 0,
		 10,
		 0},
		{"touched five, the other five never",
		 {{0, 105, 512, 0, 105}, {0, 105, 512, 0, 105}},
		 5,
		 5,
		 0,
		 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct refault_map m;
		struct refault_range *r;
		size_t n;

		refault_map_init(&m);
		FEED(&m, 1 * SEC, {0, 0, 512, 0, 0});
		FEED(&m, 2 * SEC, {0, 100, 512, 0, 100}); /* 100 refaults */
		assert_int_equal(planned(&m, 2 * SEC, 10 * PAGE, &r, &n),
				 10 * PAGE);
		assert_int_equal(r[0].addr, addr_of(0, 100));
		assert_int_equal(refault_map_mark(&m, r, n, 10 * PAGE, 2 * SEC,
						  30 * SEC),
				 10);
		free(r);
		/* the same sample again: our pages are still swap entries,
		 * neither refaults nor judged yet */
		FEED(&m, 3 * SEC, {0, 100, 512, 0, 100});
		assert_int_equal(m.totals.wasted + m.totals.used, 0);
		FEED(&m, 7 * SEC, rows[i].next[0]);
		/* the watch (30 s from 2 s) is over by 40 s */
		FEED(&m, 40 * SEC, rows[i].next[1]);
		if (m.totals.used != rows[i].used ||
		    m.totals.wasted != rows[i].wasted ||
		    m.totals.reclaimed_again != rows[i].again ||
		    m.totals.refaulted != 100 + rows[i].refaulted)
			fail_msg("%s: used %ju wasted %ju again %ju refaulted "
				 "%ju",
				 rows[i].what, (uintmax_t)m.totals.used,
				 (uintmax_t)m.totals.wasted,
				 (uintmax_t)m.totals.reclaimed_again,
				 (uintmax_t)m.totals.refaulted);
		assert_int_equal(m.totals.prefaulted, 10);
		refault_map_free(&m);
	}
}

/* After the watch, a used page that is reclaimed is legitimately cold:
 * not counted against the restore. */
static void test_reclaim_after_watch_not_counted(void **state)
{
	struct refault_map m;
	struct refault_range *r;
	size_t n;

	(void)state;
	refault_map_init(&m);
	FEED(&m, 1 * SEC, {0, 0, 512, 0, 0});
	FEED(&m, 2 * SEC, {0, 100, 512, 0, 100});
	planned(&m, 2 * SEC, 10 * PAGE, &r, &n);
	refault_map_mark(&m, r, n, 10 * PAGE, 2 * SEC, 30 * SEC);
	free(r);
	FEED(&m, 5 * SEC, {0, 110, 512, 0, 110});
	FEED(&m, 33 * SEC, {0, 110, 512, 0, 110}); /* the watch ends */
	FEED(&m, 60 * SEC, {0, 100, 512, 0, 100}); /* reclaimed later */
	assert_int_equal(m.totals.used, 10);
	assert_int_equal(m.totals.reclaimed_again, 0);
	assert_int_equal(m.totals.wasted, 0);
	assert_int_equal(refault_totals_against_permille(&m.totals), 0);
	refault_map_free(&m);
}

/* Heat halves every half life: old refaults stop drawing prefaults. */
static void test_heat_decays(void **state)
{
	static const struct {
		usec_t at;
		uint64_t planned_pages; /* with a one-page budget */
		uint32_t heat;
	} rows[] = {
		{2 * SEC, 1, 64},
		{2 * SEC + REFAULT_HEAT_HALF_LIFE, 1, 32},
		{2 * SEC + 6 * REFAULT_HEAT_HALF_LIFE, 1, 1},
		{2 * SEC + 7 * REFAULT_HEAT_HALF_LIFE, 0, 0},
		{2 * SEC + 100 * REFAULT_HEAT_HALF_LIFE, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct refault_map m;
		struct refault_range *r;
		size_t n;

		refault_map_init(&m);
		FEED(&m, 1 * SEC, {0, 0, 512, 0, 0});
		FEED(&m, 2 * SEC, {0, 64, 512, 0, 64});
		assert_int_equal(planned(&m, rows[i].at, PAGE, &r, &n),
				 rows[i].planned_pages * PAGE);
		free(r);
		assert_int_equal(m.blocks[0].heat, rows[i].heat);
		refault_map_free(&m);
	}
}

/* Blocks wholly resident with no heat and nothing watched are not kept:
 * the map is as large as the VM's swapped memory, not its size. */
static void test_resident_blocks_forgotten(void **state)
{
	struct refault_map m;

	(void)state;
	refault_map_init(&m);
	FEED(&m, 1 * SEC, {0, 0, 0, 0, 512}, {1, 0, 0, 0, 512},
	     {2, 0, 1, 0, 512});
	assert_int_equal(m.n, 1);
	assert_int_equal(m.blocks[0].addr, BASE + 2 * BLOCK);
	/* block 2's page comes back: kept for its heat... */
	FEED(&m, 2 * SEC, {2, 0, 0, 0, 512});
	assert_int_equal(m.n, 1);
	/* ...until the heat is gone */
	FEED(&m, 2 * SEC + 10 * REFAULT_HEAT_HALF_LIFE, {2, 0, 0, 0, 512});
	assert_int_equal(m.n, 0);
	/* a mapping that went away leaves nothing behind */
	FEED(&m, 1000 * SEC, {3, 0, 512, 0, 0});
	FEED(&m, 1001 * SEC, {0, 0, 0, 0, 512});
	assert_int_equal(m.n, 0);
	refault_map_free(&m);
}

/* Samples: pages fed in address order make one block per 2 MiB; pages
 * neither swapped nor present add nothing. */
static void test_sample_blocks(void **state)
{
	struct refault_sample s = {0};

	(void)state;
	assert_int_equal(refault_sample_add(&s, BASE + 5 * PAGE, false, false),
			 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(refault_sample_add(&s, BASE + 5 * PAGE, true, false),
			 0);
	assert_int_equal(refault_sample_add(&s, BASE + 511 * PAGE, false, true),
			 0);
	assert_int_equal(
		refault_sample_add(&s, BASE + BLOCK + 64 * PAGE, true, false),
		0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.blocks[0].addr, BASE);
	assert_int_equal(s.blocks[0].swapped[0], 1ULL << 5);
	assert_int_equal(s.blocks[0].present[7], 1ULL << 63);
	assert_int_equal(s.blocks[1].addr, BASE + BLOCK);
	assert_int_equal(s.blocks[1].swapped[1], 1ULL);
	refault_sample_free(&s);
}

/* Per mille against: wasted plus reclaimed again, of the judged. */
static void test_against_permille(void **state)
{
	static const struct {
		struct refault_totals t;
		unsigned int permille;
	} rows[] = {
		{{.used = 0, .wasted = 0}, 0},
		{{.used = 90, .wasted = 10}, 100},
		{{.used = 100, .reclaimed_again = 5}, 50},
		{{.used = 50, .wasted = 50, .reclaimed_again = 50}, 1000},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(refault_totals_against_permille(&rows[i].t),
				 rows[i].permille);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refaults_counted),
		cmocka_unit_test(test_first_sample_plans_nothing),
		cmocka_unit_test(test_plan_hottest_and_neighbours),
		cmocka_unit_test(test_plan_ties_by_address),
		cmocka_unit_test(test_prefaulted_judged),
		cmocka_unit_test(test_reclaim_after_watch_not_counted),
		cmocka_unit_test(test_heat_decays),
		cmocka_unit_test(test_resident_blocks_forgotten),
		cmocka_unit_test(test_sample_blocks),
		cmocka_unit_test(test_against_permille),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
