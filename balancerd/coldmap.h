/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Coldmap: idle ages of a range of a VM's guest pages, from the ovcmem
 * SCAN accessed bitmaps fed to it once per tick. Pure: no I/O, no clock.
 *
 * Each page has an age in ticks since the vCPU last touched it, saturating
 * at COLDMAP_AGE_MAX, or COLDMAP_EVICTED once the balancer has paged it
 * out (so it is not counted as idle again, and is a candidate to be
 * faulted back in on restore). A page the guest touches is age 0 again,
 * whatever it was. A new map starts with every page at age 0: a page is
 * only called cold after it has been watched being idle.
 *
 * One byte per 4 KiB page (16 MiB for a 64 GiB VM). The age unit is one
 * balancer interval: a feed says how many intervals passed since the
 * last one (@step), so a tick that ran late (seconds of pageout under
 * emulation) does not slow the clock of every idle page down with it.
 *
 * Per 2 MiB block (512 pages, one large SLAT entry) the map also keeps
 * how long ago the guest last touched a page the balancer had paged out:
 * a refault. Restore faults back in only the evicted pages around blocks
 * that refault, where the working set is coming back, not every page
 * ever taken (which would be paged out again once it is cold: a
 * ping-pong).
 */
#ifndef BALANCERD_COLDMAP_H
#define BALANCERD_COLDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "signals.h"

#define COLDMAP_AGE_MAX	    254
#define COLDMAP_EVICTED	    255
#define COLDMAP_BLOCK_PAGES 512
/*
 * The longest cold age a caller should ask for, in age units: the rest of
 * the byte's range is left to see pages older than cold. A caller whose
 * cold age is more intervals than this makes one age unit k intervals
 * (and feeds a step of 0 while less than a unit has passed).
 */
#define COLDMAP_COLD_MAX 200

struct gfn_range {
	uint64_t gfn;
	uint64_t npages;
};

struct coldmap {
	uint64_t base_gfn;
	uint64_t npages;
	uint8_t *age;
	/* Per block of COLDMAP_BLOCK_PAGES from base_gfn: age of its last
	 * refault, COLDMAP_AGE_MAX when none was seen. */
	uint8_t *refault_age;
};

/* Cover gfns [@base_gfn, @base_gfn + @npages). 0, -EINVAL, -ENOMEM. */
int coldmap_init(struct coldmap *m, uint64_t base_gfn, uint64_t npages);
void coldmap_free(struct coldmap *m);

/*
 * One tick's scan of gfns [@gfn, @gfn + @npages), which must lie inside
 * the map (-ERANGE otherwise): bit i of @accessed (word i / 64, bit
 * i % 64, as OVCMEM_SCAN fills it) set means gfn + i was touched. Touched
 * pages go to age 0; the others age by @step (the age units since the
 * last feed; 0: none has passed), saturating; evicted ones stay evicted. A
 * touched evicted page is a refault: its block's refault age goes to 0,
 * and the block's other evicted pages count as resident again (age 0),
 * since the driver maps a faulting 2 MiB block whole. Blocks age by @step
 * when the range holds their first page, so a caller that feeds a region
 * in pieces (at block boundaries) ages each block once.
 */
int coldmap_feed(struct coldmap *m, uint64_t gfn, uint64_t npages,
		 const uint64_t *accessed, unsigned int step);

/*
 * Add the map's non-evicted pages to @idle_pages by idle age, bucketed by
 * idle_bucket_ticks[] (signals.h). Adds, so several regions of one VM can
 * be summed into one histogram.
 */
void coldmap_histogram(const struct coldmap *m,
		       uint64_t idle_pages[IDLE_BUCKETS]);

/* Non-evicted pages idle for at least @min_age ticks. */
uint64_t coldmap_count_older(const struct coldmap *m, unsigned int min_age);

/*
 * The pages idle at least @min_age ticks, oldest first, at most
 * @max_pages of them, as gfn ranges in gfn order (merged), at most
 * @max_ranges. Returns the number of ranges written.
 */
size_t coldmap_cold_ranges(const struct coldmap *m, unsigned int min_age,
			   uint64_t max_pages, struct gfn_range *out,
			   size_t max_ranges);

/* Change the age unit from @from_k to @to_k intervals: every age (and
 * block refault age) becomes age * @from_k / @to_k, saturating. */
void coldmap_rescale(struct coldmap *m, unsigned int from_k, unsigned int to_k);

/* The balancer paged [@gfn, +@npages) out (clipped to the map). */
void coldmap_mark_evicted(struct coldmap *m, uint64_t gfn, uint64_t npages);
/* It faulted them back in (PREFAULT): the evicted pages of the range are
 * resident again, at age 0; the others keep their ages. */
void coldmap_mark_resident(struct coldmap *m, uint64_t gfn, uint64_t npages);

uint64_t coldmap_evicted_pages(const struct coldmap *m);

/* Evicted pages as merged gfn ranges, at most @max_pages in all. */
size_t coldmap_evicted_ranges(const struct coldmap *m, uint64_t max_pages,
			      struct gfn_range *out, size_t max_ranges);

/*
 * What restore brings back: the evicted pages of the blocks around the
 * ones that refaulted within the last @within ticks (refault age <=
 * @within). A refault is the guest growing its working set into memory
 * the balancer took; the driver already faults the whole 2 MiB block
 * (coldmap_feed marks it resident), so what the guest will touch next is
 * near it: the blocks next to a refaulted one, and the gaps of at most
 * @max_gap blocks between two refaulted ones. Merged gfn ranges, at most
 * @max_pages in all, in gfn order. Returns the number of ranges.
 */
size_t coldmap_refaulted_ranges(const struct coldmap *m, unsigned int within,
				unsigned int max_gap, uint64_t max_pages,
				struct gfn_range *out, size_t max_ranges);

/*
 * The blocks (whole, clipped to the map) with a resident page touched
 * within the last @within ticks, merged: the VM's working set, where
 * pages the host reclaimed on its own are worth faulting back in.
 */
size_t coldmap_active_blocks(const struct coldmap *m, unsigned int within,
			     struct gfn_range *out, size_t max_ranges);

#endif /* BALANCERD_COLDMAP_H */
