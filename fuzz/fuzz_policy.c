// SPDX-License-Identifier: GPL-2.0
/* The policy loader: JSON text -> struct policy, or errors with places. */
#include <stdlib.h>

#include "fuzz.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errs = {0};
	struct policy p = {0};
	char *text = fuzz_string(data, size), line[1024];

	if (policy_load_string(text, "fuzz.json", &p, &errs) == 0) {
		/* Matching is part of what a policy is for. */
		policy_match(&p, text, line, sizeof(line));
		policy_free(&p);
	}
	for (size_t i = 0; i < errs.n; i++)
		policy_error_format(&errs.items[i], line, sizeof(line));
	policy_errors_free(&errs);
	free(text);
	return 0;
}
