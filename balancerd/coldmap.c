// SPDX-License-Identifier: GPL-2.0
/* Coldmap: per-page idle ages from accessed bitmaps. See coldmap.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coldmap.h"

static uint64_t n_blocks(uint64_t npages)
{
	return (npages + COLDMAP_BLOCK_PAGES - 1) / COLDMAP_BLOCK_PAGES;
}

int coldmap_init(struct coldmap *m, uint64_t base_gfn, uint64_t npages)
{
	if (npages == 0 || base_gfn + npages < base_gfn || npages > SIZE_MAX)
		return -EINVAL;
	m->age = calloc((size_t)npages, 1);
	m->refault_age = malloc((size_t)n_blocks(npages));
	if (!m->age || !m->refault_age) {
		free(m->age);
		free(m->refault_age);
		m->age = m->refault_age = NULL;
		return -ENOMEM;
	}
	memset(m->refault_age, COLDMAP_AGE_MAX, (size_t)n_blocks(npages));
	m->base_gfn = base_gfn;
	m->npages = npages;
	return 0;
}

void coldmap_free(struct coldmap *m)
{
	free(m->age);
	free(m->refault_age);
	m->age = m->refault_age = NULL;
	m->npages = 0;
}

static uint8_t age_by(uint8_t age, unsigned int step)
{
	return step >= (unsigned int)(COLDMAP_AGE_MAX - age)
		       ? COLDMAP_AGE_MAX
		       : (uint8_t)(age + step);
}

/* The block's first and last+1 page index. */
static void block_bounds(const struct coldmap *m, uint64_t b, uint64_t *lo,
			 uint64_t *hi)
{
	*lo = b * COLDMAP_BLOCK_PAGES;
	*hi = *lo + COLDMAP_BLOCK_PAGES < m->npages ? *lo + COLDMAP_BLOCK_PAGES
						    : m->npages;
}

/* The guest faulted an evicted page of block @b: the driver mapped the
 * whole block, so none of it is evicted any more. */
static void block_refaulted(struct coldmap *m, uint64_t b)
{
	uint64_t lo, hi;

	m->refault_age[b] = 0;
	block_bounds(m, b, &lo, &hi);
	for (uint64_t i = lo; i < hi; i++)
		if (m->age[i] == COLDMAP_EVICTED)
			m->age[i] = 0;
}

int coldmap_feed(struct coldmap *m, uint64_t gfn, uint64_t npages,
		 const uint64_t *accessed, unsigned int step)
{
	uint64_t lo, first_block;
	uint8_t *a;

	if (gfn < m->base_gfn || npages > m->npages ||
	    gfn - m->base_gfn > m->npages - npages)
		return -ERANGE;
	lo = gfn - m->base_gfn;
	first_block =
		n_blocks(lo); /* the first block starting at or after lo */
	for (uint64_t b = first_block; b * COLDMAP_BLOCK_PAGES < lo + npages;
	     b++)
		m->refault_age[b] = age_by(m->refault_age[b], step);
	a = m->age + lo;
	for (uint64_t i = 0; i < npages; i++) {
		if (accessed[i / 64] & (1ULL << (i % 64))) {
			if (a[i] == COLDMAP_EVICTED)
				block_refaulted(m,
						(lo + i) / COLDMAP_BLOCK_PAGES);
			a[i] = 0;
		} else if (a[i] != COLDMAP_EVICTED) {
			a[i] = age_by(a[i], step);
		}
	}
	return 0;
}

static unsigned int bucket_of(uint8_t age)
{
	for (unsigned int b = 0; b < IDLE_BUCKETS - 1; b++)
		if (age <= idle_bucket_ticks[b])
			return b;
	return IDLE_BUCKETS - 1;
}

void coldmap_histogram(const struct coldmap *m,
		       uint64_t idle_pages[IDLE_BUCKETS])
{
	for (uint64_t i = 0; i < m->npages; i++)
		if (m->age[i] != COLDMAP_EVICTED)
			idle_pages[bucket_of(m->age[i])]++;
}

static bool is_cold(uint8_t age, unsigned int min_age)
{
	return age != COLDMAP_EVICTED && age >= min_age;
}

uint64_t coldmap_count_older(const struct coldmap *m, unsigned int min_age)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < m->npages; i++)
		n += is_cold(m->age[i], min_age);
	return n;
}

/*
 * The age threshold that selects the oldest @max_pages pages of age >=
 * @min_age: the largest t >= min_age with count(age >= t) >= max_pages
 * (or min_age when there are fewer). Ties at t may exceed @max_pages;
 * the caller stops at the limit.
 */
static unsigned int oldest_threshold(const struct coldmap *m,
				     unsigned int min_age, uint64_t max_pages)
{
	uint64_t count[COLDMAP_AGE_MAX + 1] = {0}, sum = 0;

	for (uint64_t i = 0; i < m->npages; i++)
		if (m->age[i] != COLDMAP_EVICTED)
			count[m->age[i]]++;
	for (unsigned int t = COLDMAP_AGE_MAX; t > min_age; t--) {
		sum += count[t];
		if (sum >= max_pages)
			return t;
	}
	return min_age;
}

/* Append page @i to the ranges; false when out of room. */
static bool range_add(const struct coldmap *m, uint64_t i,
		      struct gfn_range *out, size_t *n, size_t max_ranges)
{
	uint64_t gfn = m->base_gfn + i;

	if (*n && out[*n - 1].gfn + out[*n - 1].npages == gfn) {
		out[*n - 1].npages++;
		return true;
	}
	if (*n == max_ranges)
		return false;
	out[*n].gfn = gfn;
	out[*n].npages = 1;
	(*n)++;
	return true;
}

size_t coldmap_cold_ranges(const struct coldmap *m, unsigned int min_age,
			   uint64_t max_pages, struct gfn_range *out,
			   size_t max_ranges)
{
	unsigned int t;
	uint64_t taken = 0;
	size_t n = 0;

	if (min_age > COLDMAP_AGE_MAX || max_pages == 0 || max_ranges == 0)
		return 0;
	t = oldest_threshold(m, min_age, max_pages);
	for (uint64_t i = 0; i < m->npages && taken < max_pages; i++) {
		if (!is_cold(m->age[i], t))
			continue;
		if (!range_add(m, i, out, &n, max_ranges))
			break;
		taken++;
	}
	return n;
}

/* Clip [@gfn, +@npages) to the map: the index range [*lo, *hi). */
static bool clip(const struct coldmap *m, uint64_t gfn, uint64_t npages,
		 uint64_t *lo, uint64_t *hi)
{
	uint64_t end = gfn + npages < gfn ? UINT64_MAX : gfn + npages;
	uint64_t mend = m->base_gfn + m->npages;

	if (end <= m->base_gfn || gfn >= mend)
		return false;
	*lo = (gfn > m->base_gfn ? gfn : m->base_gfn) - m->base_gfn;
	*hi = (end < mend ? end : mend) - m->base_gfn;
	return true;
}

static uint8_t rescaled(uint8_t age, unsigned int from_k, unsigned int to_k)
{
	uint64_t v = (uint64_t)age * from_k / to_k;

	return v > COLDMAP_AGE_MAX ? COLDMAP_AGE_MAX : (uint8_t)v;
}

void coldmap_rescale(struct coldmap *m, unsigned int from_k, unsigned int to_k)
{
	if (!from_k || !to_k || from_k == to_k)
		return;
	for (uint64_t i = 0; i < m->npages; i++)
		if (m->age[i] != COLDMAP_EVICTED)
			m->age[i] = rescaled(m->age[i], from_k, to_k);
	for (uint64_t b = 0; b < n_blocks(m->npages); b++)
		m->refault_age[b] = rescaled(m->refault_age[b], from_k, to_k);
}

void coldmap_mark_evicted(struct coldmap *m, uint64_t gfn, uint64_t npages)
{
	uint64_t lo, hi;

	if (clip(m, gfn, npages, &lo, &hi))
		memset(m->age + lo, COLDMAP_EVICTED, (size_t)(hi - lo));
}

void coldmap_mark_resident(struct coldmap *m, uint64_t gfn, uint64_t npages)
{
	uint64_t lo, hi;

	if (!clip(m, gfn, npages, &lo, &hi))
		return;
	for (uint64_t i = lo; i < hi; i++)
		if (m->age[i] == COLDMAP_EVICTED)
			m->age[i] = 0;
}

uint64_t coldmap_evicted_pages(const struct coldmap *m)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < m->npages; i++)
		n += m->age[i] == COLDMAP_EVICTED;
	return n;
}

size_t coldmap_evicted_ranges(const struct coldmap *m, uint64_t max_pages,
			      struct gfn_range *out, size_t max_ranges)
{
	uint64_t taken = 0;
	size_t n = 0;

	for (uint64_t i = 0; i < m->npages && taken < max_pages; i++) {
		if (m->age[i] != COLDMAP_EVICTED)
			continue;
		if (!range_add(m, i, out, &n, max_ranges))
			break;
		taken++;
	}
	return n;
}

/* Blocks near a recent refault (see coldmap.h): @near[b] set. */
static void mark_near_refaults(const struct coldmap *m, unsigned int within,
			       unsigned int max_gap, uint8_t *near)
{
	uint64_t nb = n_blocks(m->npages), prev = UINT64_MAX;

	for (uint64_t b = 0; b < nb; b++) {
		if (m->refault_age[b] > within)
			continue;
		near[b] = 1;
		if (b > 0)
			near[b - 1] = 1;
		if (b + 1 < nb)
			near[b + 1] = 1;
		if (prev != UINT64_MAX && b - prev - 1 <= max_gap)
			memset(near + prev + 1, 1, (size_t)(b - prev - 1));
		prev = b;
	}
}

size_t coldmap_refaulted_ranges(const struct coldmap *m, unsigned int within,
				unsigned int max_gap, uint64_t max_pages,
				struct gfn_range *out, size_t max_ranges)
{
	uint64_t taken = 0;
	uint8_t *near = calloc((size_t)n_blocks(m->npages), 1);
	size_t n = 0;

	if (!near)
		return 0; /* nothing restored this tick, nothing broken */
	mark_near_refaults(m, within, max_gap, near);
	for (uint64_t i = 0; i < m->npages && taken < max_pages; i++) {
		if (!near[i / COLDMAP_BLOCK_PAGES]) {
			i |= COLDMAP_BLOCK_PAGES - 1; /* to the next block */
			continue;
		}
		if (m->age[i] != COLDMAP_EVICTED)
			continue;
		if (!range_add(m, i, out, &n, max_ranges))
			break;
		taken++;
	}
	free(near);
	return n;
}

static bool block_active(const struct coldmap *m, uint64_t b,
			 unsigned int within)
{
	uint64_t lo, end;

	block_bounds(m, b, &lo, &end);
	for (uint64_t i = lo; i < end; i++)
		if (m->age[i] <= within)
			return true;
	return false;
}

size_t coldmap_active_blocks(const struct coldmap *m, unsigned int within,
			     struct gfn_range *out, size_t max_ranges)
{
	size_t n = 0;

	for (uint64_t b = 0; b < n_blocks(m->npages); b++) {
		uint64_t gfn = m->base_gfn + b * COLDMAP_BLOCK_PAGES;
		uint64_t len = m->npages - b * COLDMAP_BLOCK_PAGES;

		if (!block_active(m, b, within))
			continue;
		if (len > COLDMAP_BLOCK_PAGES)
			len = COLDMAP_BLOCK_PAGES;
		if (n && out[n - 1].gfn + out[n - 1].npages == gfn) {
			out[n - 1].npages += len;
			continue;
		}
		if (n == max_ranges)
			break;
		out[n++] = (struct gfn_range){gfn, len};
	}
	return n;
}
