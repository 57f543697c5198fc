// SPDX-License-Identifier: GPL-2.0
/* ksm_parse_merging_pages(): /proc/PID/ksm_merging_pages as the kernel
 * writes it, or anything else. What it accepts, printed back the
 * kernel's way, parses to the same count. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "ksm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), again[32];
	uint64_t pages, back;

	if (ksm_parse_merging_pages(text, &pages) == 0) {
		snprintf(again, sizeof(again), "%" PRIu64 "\n", pages);
		if (ksm_parse_merging_pages(again, &back) < 0 || back != pages)
			abort();
	}
	free(text);
	return 0;
}
