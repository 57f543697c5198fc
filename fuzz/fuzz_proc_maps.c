// SPDX-License-Identifier: GPL-2.0
/* act_maps_line_guest_ram(): each line of /proc/PID/maps, as the kernel
 * writes it or not. A mapping it takes for guest RAM is a real range:
 * PAGEOUT hands it to process_madvise(2). */
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		uint64_t start, len;

		if (!act_maps_line_guest_ram(line, &start, &len))
			continue;
		if (len < (2ULL << 20) || start + len < start)
			abort();
	}
	free(text);
	return 0;
}
