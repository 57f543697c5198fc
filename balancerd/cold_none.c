// SPDX-License-Identifier: GPL-2.0
/*
 * The "none" cold source (cold_source.h): no idle ages. decide() then
 * works from PSI and refaults alone (memory.reclaim steps), and restore
 * faults back the VMM's swapped-out pages with MADV_WILLNEED.
 */
#include "cold_source.h"

static bool none_serves(void *state, const char *cgroup)
{
	(void)state;
	(void)cgroup;
	return true;
}

static int none_fault_back(void *state, const struct act_context *ctx,
			   const struct vm_signals *v, uint64_t bytes,
			   struct act_result *res)
{
	(void)state;
	return act_prefault_swapped(ctx, v, bytes, res);
}

const struct cold_source_ops cold_source_none = {
	.name = "none",
	.serves = none_serves,
	.fault_back = none_fault_back,
};
