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
 * feed; a caller that wants cold ages beyond 254 ticks feeds every k-th
 * tick and divides cold_age by k.
 */
#ifndef BALANCERD_COLDMAP_H
#define BALANCERD_COLDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "signals.h"

#define COLDMAP_AGE_MAX 254
#define COLDMAP_EVICTED 255

struct gfn_range {
	uint64_t gfn;
	uint64_t npages;
};

struct coldmap {
	uint64_t base_gfn;
	uint64_t npages;
	uint8_t *age;
};

/* Cover gfns [@base_gfn, @base_gfn + @npages). 0, -EINVAL, -ENOMEM. */
int coldmap_init(struct coldmap *m, uint64_t base_gfn, uint64_t npages);
void coldmap_free(struct coldmap *m);

/*
 * One tick's scan of gfns [@gfn, @gfn + @npages), which must lie inside
 * the map (-ERANGE otherwise): bit i of @accessed (word i / 64, bit
 * i % 64, as OVCMEM_SCAN fills it) set means gfn + i was touched. Touched
 * pages go to age 0; the others age by one (evicted ones stay evicted).
 */
int coldmap_feed(struct coldmap *m, uint64_t gfn, uint64_t npages,
		 const uint64_t *accessed);

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

/* The balancer paged [@gfn, +@npages) out (clipped to the map). */
void coldmap_mark_evicted(struct coldmap *m, uint64_t gfn, uint64_t npages);
/* It faulted them back in (PREFAULT): age 0, resident again. */
void coldmap_mark_resident(struct coldmap *m, uint64_t gfn, uint64_t npages);

uint64_t coldmap_evicted_pages(const struct coldmap *m);

/* Evicted pages as merged gfn ranges, at most @max_pages in all. */
size_t coldmap_evicted_ranges(const struct coldmap *m, uint64_t max_pages,
			      struct gfn_range *out, size_t max_ranges);

#endif /* BALANCERD_COLDMAP_H */
