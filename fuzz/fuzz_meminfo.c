// SPDX-License-Identifier: GPL-2.0
/* parse_meminfo(): text as the kernel writes it, or anything else. */
#include <stdlib.h>

#include "fuzz.h"
#include "signals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct host_signals h = {0};

	parse_meminfo(text, &h);
	free(text);
	return 0;
}
