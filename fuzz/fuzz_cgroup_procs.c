// SPDX-License-Identifier: GPL-2.0
/* parse_cgroup_procs(): a cgroup's cgroup.procs as the kernel writes it,
 * or anything else. A pid it returns is one a kill(2) or /proc could
 * take: positive, within pid_t. */
#include <stdlib.h>

#include "fuzz.h"
#include "signals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);

	if (parse_cgroup_procs(text) < 0)
		abort();
	free(text);
	return 0;
}
