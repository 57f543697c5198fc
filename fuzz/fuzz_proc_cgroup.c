// SPDX-License-Identifier: GPL-2.0
/* parse_proc_cgroup(): /proc/PID/cgroup as the kernel writes it (v2, v1
 * or hybrid), or anything else; what it returns is one line's path. */
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	char cgroup[CGROUP_PATH_MAX];

	/* Short buffers too: the length check, not the caller's size. */
	for (size_t len = 1; len <= sizeof(cgroup); len *= 8) {
		if (parse_proc_cgroup(text, cgroup, len) < 0)
			continue;
		if (strlen(cgroup) >= len || strchr(cgroup, '\n') ||
		    !strstr(text, cgroup))
			abort();
	}
	free(text);
	return 0;
}
