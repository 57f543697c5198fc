// SPDX-License-Identifier: GPL-2.0
/* balancerctl replay's reader and engine: any file given as a trace. */
#include "fuzz.h"
#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024];
	char *paths[1] = {path};
	struct replay rp;

	if (fuzz_file(data, size, path, sizeof(path)) < 0)
		return 0;
	/* Parsed signals and state go through decide() as they are. */
	replay_init(&rp, NULL);
	(void)replay_files(&rp, paths, 1, err, sizeof(err));
	replay_free(&rp);
	return 0;
}
