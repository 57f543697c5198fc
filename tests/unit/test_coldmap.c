// SPDX-License-Identifier: GPL-2.0
/* Coldmap: idle ages from accessed bitmaps, histograms, cold ranges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coldmap.h"

#define BASE  0x100000ULL /* 4 GiB in gfns: a region above the hole */
#define PAGES 200

/* Feed one tick in which only the pages in [lo, hi) were touched. */
static void feed_touching(struct coldmap *m, uint64_t lo, uint64_t hi)
{
	uint64_t bits[(PAGES + 63) / 64] = {0};

	for (uint64_t p = lo; p < hi && p < PAGES; p++)
		bits[p / 64] |= 1ULL << (p % 64);
	assert_int_equal(coldmap_feed(m, BASE, PAGES, bits, 1), 0);
}

/* Page p last touched at tick p, T = PAGES ticks: age(p) = 199 - p. */
static void staircase(struct coldmap *m)
{
	assert_int_equal(coldmap_init(m, BASE, PAGES), 0);
	for (uint64_t t = 0; t < PAGES; t++)
		feed_touching(m, t, t + 1);
}

static void test_init(void **state)
{
	struct coldmap m;

	(void)state;
	assert_int_equal(coldmap_init(&m, 0, 0), -EINVAL);
	assert_int_equal(coldmap_init(&m, UINT64_MAX - 1, 4), -EINVAL);
	assert_int_equal(coldmap_init(&m, BASE, 10), 0);
	/* never watched, never cold */
	assert_int_equal(coldmap_count_older(&m, 0), 10);
	assert_int_equal(coldmap_count_older(&m, 1), 0);
	coldmap_free(&m);
	assert_null(m.age);
}

static void test_ageing_and_saturation(void **state)
{
	struct coldmap m;

	(void)state;
	assert_int_equal(coldmap_init(&m, BASE, PAGES), 0);
	for (int t = 0; t < 300; t++)
		feed_touching(&m, 0, 1); /* page 0 busy, the rest idle */
	assert_int_equal(m.age[0], 0);
	assert_int_equal(m.age[1], COLDMAP_AGE_MAX);
	assert_int_equal(coldmap_count_older(&m, COLDMAP_AGE_MAX), PAGES - 1);
	feed_touching(&m, 1, 2);
	assert_int_equal(m.age[1], 0);
	assert_int_equal(m.age[0], 1);
	coldmap_free(&m);
}

static void test_feed_range(void **state)
{
	uint64_t bits[1] = {0x1};
	struct coldmap m;

	(void)state;
	assert_int_equal(coldmap_init(&m, BASE, PAGES), 0);
	/* a sub-range ages only itself */
	assert_int_equal(coldmap_feed(&m, BASE + 64, 64, bits, 1), 0);
	assert_int_equal(m.age[63], 0);
	assert_int_equal(m.age[64], 0);
	assert_int_equal(m.age[65], 1);
	assert_int_equal(m.age[127], 1);
	assert_int_equal(m.age[128], 0);
	assert_int_equal(coldmap_feed(&m, BASE - 1, 2, bits, 1), -ERANGE);
	assert_int_equal(coldmap_feed(&m, BASE + PAGES - 1, 2, bits, 1),
			 -ERANGE);
	assert_int_equal(coldmap_feed(&m, BASE, PAGES + 1, bits, 1), -ERANGE);
	coldmap_free(&m);
}

static void test_histogram(void **state)
{
	uint64_t h[IDLE_BUCKETS] = {0}, want[IDLE_BUCKETS] = {0};
	struct coldmap m;

	(void)state;
	staircase(&m);
	/* count each page into its bucket by the header's definition */
	for (unsigned int p = 0; p < PAGES; p++) {
		unsigned int age = PAGES - 1 - p, b = 0;

		while (b < IDLE_BUCKETS - 1 && age > idle_bucket_ticks[b])
			b++;
		want[b]++;
	}
	/* {0,10,30,60,120}: 1, 10, 20, 30, 60, 79 */
	assert_int_equal(want[0], 1);
	assert_int_equal(want[5], 79);
	coldmap_histogram(&m, h);
	assert_memory_equal(h, want, sizeof(h));
	/* it adds: a second region sums in */
	coldmap_histogram(&m, h);
	assert_int_equal(h[5], 158);
	assert_int_equal(coldmap_count_older(&m, 120), 80);
	coldmap_free(&m);
}

static void test_cold_ranges_oldest_first(void **state)
{
	struct gfn_range r[4];
	struct coldmap m;

	(void)state;
	staircase(&m);
	/* the 10 oldest are pages 0..9 (ages 199..190) */
	assert_int_equal(coldmap_cold_ranges(&m, 120, 10, r, 4), 1);
	assert_int_equal(r[0].gfn, BASE);
	assert_int_equal(r[0].npages, 10);
	/* everything over 120 ticks: pages 0..79 */
	assert_int_equal(coldmap_cold_ranges(&m, 120, 1000, r, 4), 1);
	assert_int_equal(r[0].npages, 80);
	/* none is that old */
	assert_int_equal(coldmap_cold_ranges(&m, 254, 1000, r, 4), 0);
	assert_int_equal(coldmap_cold_ranges(&m, 120, 0, r, 4), 0);
	coldmap_free(&m);
}

static void test_evicted(void **state)
{
	uint64_t h[IDLE_BUCKETS] = {0};
	struct gfn_range r[4];
	struct coldmap m;

	(void)state;
	staircase(&m);
	coldmap_mark_evicted(&m, BASE + 5, 5); /* pages 5..9 */
	assert_int_equal(coldmap_evicted_pages(&m), 5);
	/* evicted pages are not idle any more */
	assert_int_equal(coldmap_count_older(&m, 120), 75);
	coldmap_histogram(&m, h);
	assert_int_equal(h[5], 74);
	/* the cold ones around them come in two ranges */
	assert_int_equal(coldmap_cold_ranges(&m, 120, 1000, r, 4), 2);
	assert_int_equal(r[0].gfn, BASE);
	assert_int_equal(r[0].npages, 5);
	assert_int_equal(r[1].gfn, BASE + 10);
	assert_int_equal(r[1].npages, 70);
	/* out of room for ranges: stop at the limit */
	assert_int_equal(coldmap_cold_ranges(&m, 120, 1000, r, 1), 1);
	assert_int_equal(r[0].npages, 5);

	assert_int_equal(coldmap_evicted_ranges(&m, 100, r, 4), 1);
	assert_int_equal(r[0].gfn, BASE + 5);
	assert_int_equal(r[0].npages, 5);
	/* the guest touches page 7: a refault; the driver maps its whole
	 * 2 MiB block back, so nothing in it is evicted any more */
	feed_touching(&m, 7, 8);
	assert_int_equal(coldmap_evicted_pages(&m), 0);
	assert_int_equal(m.age[5], 0);
	/* two evicted runs, listed up to a page limit */
	coldmap_mark_evicted(&m, BASE + 5, 2);
	coldmap_mark_evicted(&m, BASE + 8, 2);
	assert_int_equal(coldmap_evicted_ranges(&m, 100, r, 4), 2);
	assert_int_equal(r[1].gfn, BASE + 8);
	assert_int_equal(coldmap_evicted_ranges(&m, 3, r, 4), 2);
	assert_int_equal(r[1].npages, 1);
	/* prefault brings them back; clipped to the map */
	coldmap_mark_resident(&m, BASE - 100, 109);
	assert_int_equal(coldmap_evicted_pages(&m), 1);
	coldmap_mark_resident(&m, 0, UINT64_MAX);
	assert_int_equal(coldmap_evicted_pages(&m), 0);
	coldmap_mark_evicted(&m, BASE + PAGES, 10); /* outside: no-op */
	assert_int_equal(coldmap_evicted_pages(&m), 0);
	coldmap_free(&m);
}

/* A late tick ages idle pages by the intervals that passed, saturating;
 * evicted pages stay evicted whatever the step. */
static void test_step_ageing(void **state)
{
	uint64_t bits[(PAGES + 63) / 64] = {0x1};
	struct coldmap m;

	(void)state;
	assert_int_equal(coldmap_init(&m, BASE, PAGES), 0);
	coldmap_mark_evicted(&m, BASE + 5, 1);
	assert_int_equal(coldmap_feed(&m, BASE, PAGES, bits, 3), 0);
	assert_int_equal(m.age[0], 0);
	assert_int_equal(m.age[1], 3);
	assert_int_equal(m.age[5], COLDMAP_EVICTED);
	assert_int_equal(coldmap_feed(&m, BASE, PAGES, bits, 252), 0);
	assert_int_equal(m.age[1], COLDMAP_AGE_MAX);
	assert_int_equal(m.age[5], COLDMAP_EVICTED);
	/* 0: less than a unit passed; touches still count */
	bits[0] = 0x2;
	assert_int_equal(coldmap_feed(&m, BASE, PAGES, bits, 0), 0);
	assert_int_equal(m.age[0], 0);
	assert_int_equal(m.age[1], 0);
	assert_int_equal(m.age[2], COLDMAP_AGE_MAX);
	coldmap_free(&m);
}

/* A coarser unit divides ages, a finer one multiplies them (saturating);
 * evicted pages stay evicted. */
static void test_rescale(void **state)
{
	uint64_t bits[(PAGES + 63) / 64] = {0x1};
	struct coldmap m;

	(void)state;
	assert_int_equal(coldmap_init(&m, BASE, PAGES), 0);
	coldmap_mark_evicted(&m, BASE + 5, 1);
	assert_int_equal(coldmap_feed(&m, BASE, PAGES, bits, 100), 0);
	coldmap_rescale(&m, 1, 3);
	assert_int_equal(m.age[0], 0);
	assert_int_equal(m.age[1], 33);
	assert_int_equal(m.age[5], COLDMAP_EVICTED);
	coldmap_rescale(&m, 3, 1);
	assert_int_equal(m.age[1], 99);
	coldmap_rescale(&m, 1, 0); /* nonsense: unchanged */
	coldmap_rescale(&m, 2, 1);
	coldmap_rescale(&m, 2, 1);
	assert_int_equal(m.age[1], COLDMAP_AGE_MAX);
	assert_int_equal(m.age[5], COLDMAP_EVICTED);
	coldmap_free(&m);
}

#define BIG (3 * COLDMAP_BLOCK_PAGES + 100) /* three blocks and a bit */

static void feed_big(struct coldmap *m, uint64_t touch_a, uint64_t touch_b)
{
	uint64_t bits[(BIG + 63) / 64] = {0};

	bits[touch_a / 64] |= 1ULL << (touch_a % 64);
	bits[touch_b / 64] |= 1ULL << (touch_b % 64);
	assert_int_equal(coldmap_feed(m, BASE, BIG, bits, 1), 0);
}

/* Pages evicted in block @b (all of it, clipped to the map). */
static void evict_block(struct coldmap *m, uint64_t b)
{
	coldmap_mark_evicted(m, BASE + b * COLDMAP_BLOCK_PAGES,
			     COLDMAP_BLOCK_PAGES);
}

static uint64_t evicted_in(const struct coldmap *m, uint64_t b)
{
	uint64_t n = 0;

	for (uint64_t i = b * COLDMAP_BLOCK_PAGES;
	     i < (b + 1) * COLDMAP_BLOCK_PAGES && i < m->npages; i++)
		n += m->age[i] == COLDMAP_EVICTED;
	return n;
}

/* A refault makes its block resident (the driver maps it whole) and
 * points restore at the evicted blocks around it; a touch of a resident
 * page is not a refault. */
static void test_refaulted_ranges(void **state)
{
	struct gfn_range r[8];
	struct coldmap m;

	(void)state;
	/* blocks 0, 1, 2 and a partial block 3 of 100 pages */
	assert_int_equal(coldmap_init(&m, BASE, BIG), 0);
	coldmap_mark_evicted(&m, BASE + 10, 10);
	evict_block(&m, 1);
	evict_block(&m, 2);
	evict_block(&m, 3);
	/* page 0 (resident) and page 650 (block 1, evicted) touched */
	feed_big(&m, 0, 650);
	assert_int_equal(evicted_in(&m, 1), 0);
	assert_int_equal(m.age[600], 0);
	/* block 1's neighbours: [10, 20) in block 0, all of block 2 */
	assert_int_equal(coldmap_refaulted_ranges(&m, 0, 0, 1000, r, 8), 2);
	assert_int_equal(r[0].gfn, BASE + 10);
	assert_int_equal(r[0].npages, 10);
	assert_int_equal(r[1].gfn, BASE + 2 * COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].npages, COLDMAP_BLOCK_PAGES);
	/* at most 60 pages */
	assert_int_equal(coldmap_refaulted_ranges(&m, 0, 0, 60, r, 8), 2);
	assert_int_equal(r[1].npages, 50);
	/* one tick later the refault is 1 old: within 1, not within 0 */
	feed_big(&m, 0, 0);
	assert_int_equal(coldmap_refaulted_ranges(&m, 0, 0, 1000, r, 8), 0);
	assert_int_equal(coldmap_refaulted_ranges(&m, 1, 0, 1000, r, 8), 2);
	coldmap_free(&m);
}

/* The gap between two refaulting blocks is restored when it is short. */
static void test_refault_gaps(void **state)
{
	struct gfn_range r[8];
	struct coldmap m;

	(void)state;
	/* eight blocks, all evicted */
	assert_int_equal(coldmap_init(&m, BASE, 8 * COLDMAP_BLOCK_PAGES), 0);
	for (uint64_t b = 0; b < 8; b++)
		evict_block(&m, b);
	/* refaults in block 0 and block 6: a gap of 5 (blocks 1..5) */
	{
		uint64_t bits[8 * COLDMAP_BLOCK_PAGES / 64] = {0};

		bits[0] = 1;
		bits[6 * COLDMAP_BLOCK_PAGES / 64] = 1;
		assert_int_equal(coldmap_feed(&m, BASE, 8 * COLDMAP_BLOCK_PAGES,
					      bits, 1),
				 0);
	}
	/* gaps up to 4: only the neighbours 1, 5 and 7 (6 is resident) */
	assert_int_equal(coldmap_refaulted_ranges(&m, 0, 4, 100000, r, 8), 3);
	assert_int_equal(r[0].gfn, BASE + COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[0].npages, COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].gfn, BASE + 5 * COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].npages, COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[2].gfn, BASE + 7 * COLDMAP_BLOCK_PAGES);
	/* gap 5 allowed: 1..5 whole, then 7 */
	assert_int_equal(coldmap_refaulted_ranges(&m, 0, 5, 100000, r, 8), 2);
	assert_int_equal(r[0].gfn, BASE + COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[0].npages, 5 * COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].gfn, BASE + 7 * COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].npages, COLDMAP_BLOCK_PAGES);
	coldmap_free(&m);
}

/* Blocks with a recently touched resident page, whole, merged. */
static void test_active_blocks(void **state)
{
	struct gfn_range r[8];
	struct coldmap m;

	(void)state;
	assert_int_equal(coldmap_init(&m, BASE, BIG), 0);
	feed_big(&m, 5, 1540);
	assert_int_equal(coldmap_active_blocks(&m, 0, r, 8), 2);
	assert_int_equal(r[0].gfn, BASE);
	assert_int_equal(r[0].npages, COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].gfn, BASE + 3 * COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[1].npages, 100);
	/* touch block 1 and 2 too: one merged range of everything */
	feed_big(&m, 700, 1100);
	assert_int_equal(coldmap_active_blocks(&m, 1, r, 8), 1);
	assert_int_equal(r[0].npages, BIG);
	/* only the last tick's */
	assert_int_equal(coldmap_active_blocks(&m, 0, r, 8), 1);
	assert_int_equal(r[0].gfn, BASE + COLDMAP_BLOCK_PAGES);
	assert_int_equal(r[0].npages, 2 * COLDMAP_BLOCK_PAGES);
	/* room for one range */
	feed_big(&m, 5, 1540);
	assert_int_equal(coldmap_active_blocks(&m, 0, r, 1), 1);
	assert_int_equal(r[0].gfn, BASE);
	coldmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_ageing_and_saturation),
		cmocka_unit_test(test_feed_range),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_cold_ranges_oldest_first),
		cmocka_unit_test(test_evicted),
		cmocka_unit_test(test_step_ageing),
		cmocka_unit_test(test_rescale),
		cmocka_unit_test(test_refaulted_ranges),
		cmocka_unit_test(test_refault_gaps),
		cmocka_unit_test(test_active_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
