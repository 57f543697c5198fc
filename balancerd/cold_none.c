// SPDX-License-Identifier: GPL-2.0
/*
 * The "none" cold source (cold_source.h): no idle ages. decide() then
 * works from PSI and refaults alone (memory.reclaim steps), and restore
 * faults back, with MADV_WILLNEED, the swapped pages around where the VM
 * refaults (act_prefault_refaulted, refault_map.h).
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
	return act_prefault_refaulted(ctx, v, bytes, res);
}

const struct cold_source_ops cold_source_none = {
	.name = "none",
	.serves = none_serves,
	.fault_back = none_fault_back,
};
