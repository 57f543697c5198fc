// SPDX-License-Identifier: GPL-2.0
/* parse_memory_value(): text as the kernel writes it, or anything else. */
#include <stdlib.h>

#include "fuzz.h"
#include "signals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	uint64_t v;

	parse_memory_value(text, &v);
	free(text);
	return 0;
}
