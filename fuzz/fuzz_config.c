// SPDX-License-Identifier: GPL-2.0
/* balancerd.json: a file -> struct daemon_config, or errors. */

#include "fuzz.h"
#include "manager.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errs = {0};
	struct daemon_config c;
	char path[64], why[1024];

	if (fuzz_file(data, size, path, sizeof(path)) < 0)
		return 0;
	if (daemon_config_load(path, &c, &errs) == 0) {
		balancer_settings_check(c.policy_dir, c.state_file, why,
					sizeof(why));
		daemon_config_free(&c);
	}
	policy_errors_free(&errs);
	return 0;
}
