// SPDX-License-Identifier: GPL-2.0
/*
 * A cgroup path chosen by a tenant (its VM's name): decoded to a VM name,
 * then escaped for the log and the terminal, whose result must be clean.
 */
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "fuzz.h"
#include "signals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = fuzz_string(data, size), name[VM_NAME_MAX],
	     shown[VM_NAME_MAX * ESCAPE_GROWTH];

	if (vm_name_from_cgroup(path, name, sizeof(name)) == 0) {
		escape_text(name, shown, sizeof(shown));
		if (!escape_is_clean(shown) || !utf8_is_valid(shown))
			abort();
	}
	escape_bytes((const char *)data, size, shown, sizeof(shown));
	if (!escape_is_clean(shown))
		abort();
	free(path);
	return 0;
}
