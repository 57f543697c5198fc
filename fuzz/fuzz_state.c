// SPDX-License-Identifier: GPL-2.0
/* balancerctl's state reader: any file at the state path. */
#include <jansson.h>
#include <time.h>

#include "fuzz.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	json_t *doc = NULL;
	long long age;

	if (fuzz_file(data, size, path, sizeof(path)) < 0)
		return 0;
	if (state_read(path, &doc, err, sizeof(err)) == 0) {
		state_is_stale(doc, time(NULL), &age);
		json_decref(doc);
	}
	return 0;
}
