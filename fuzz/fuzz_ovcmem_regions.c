// SPDX-License-Identifier: GPL-2.0
/*
 * What OVCMEM_LIST_REGIONS and OVCMEM_SCAN hand the client: region lists
 * are checked (ovcmem_regions_check) before they size anything; the
 * regions that pass get coldmaps, fed the input's bytes as SCAN bitmaps.
 */
#include <stdlib.h>
#include <string.h>

#include "coldmap.h"
#include "fuzz.h"
#include "ovcmem_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Coldmaps of the fuzzer's own making stay small. */
#define FUZZ_PAGES_MAX (1U << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size / sizeof(struct ovcmem_region_info);
	struct ovcmem_region_info *ri;
	uint64_t bitmap[FUZZ_PAGES_MAX / 64] = {0};
	size_t rest = size - n * sizeof(*ri);

	if (n > 64)
		n = 64;
	ri = calloc(n ? n : 1, sizeof(*ri));
	if (!ri)
		return 0;
	memcpy(ri, data, n * sizeof(*ri));
	if (ovcmem_regions_check(ri, n) == 0) {
		memcpy(bitmap, data + n * sizeof(*ri),
		       rest < sizeof(bitmap) ? rest : sizeof(bitmap));
		for (size_t i = 0; i < n; i++) {
			uint64_t pages = ri[i].size / OVCMEM_PAGE_SIZE;
			uint64_t hist[IDLE_BUCKETS] = {0};
			struct coldmap m;

			if (pages > FUZZ_PAGES_MAX ||
			    coldmap_init(&m, ri[i].guest_pfn, pages) < 0)
				continue;
			coldmap_feed(&m, ri[i].guest_pfn, pages, bitmap,
				     ri[i].flags & 7);
			coldmap_mark_evicted(&m, ri[i].guest_pfn + pages / 3,
					     pages / 2);
			coldmap_feed(&m, ri[i].guest_pfn, pages, bitmap, 1);
			coldmap_histogram(&m, hist);
			coldmap_count_older(&m, ri[i].type & 0xff);
			coldmap_free(&m);
		}
	}
	free(ri);
	return 0;
}
