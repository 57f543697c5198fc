// SPDX-License-Identifier: GPL-2.0
/* parse_memory_stat(): text as the kernel writes it, or anything else. */
#include <stdlib.h>

#include "fuzz.h"
#include "signals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct vm_signals v = {0};

	parse_memory_stat(text, &v);
	free(text);
	return 0;
}
