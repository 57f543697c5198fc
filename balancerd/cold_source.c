// SPDX-License-Identifier: GPL-2.0
/* The table of cold-memory sources (cold_source.h). */
#include <errno.h>
#include <stddef.h>

#include "cold_source.h"

/* Most exact first; "none" last: it serves every VM. */
const struct cold_source_ops *const cold_source_table[] = {
	&cold_source_ovcmem,
	&cold_source_mglru,
	&cold_source_none,
};
const size_t cold_source_count =
	sizeof(cold_source_table) / sizeof(cold_source_table[0]);

_Static_assert(sizeof(cold_source_table) / sizeof(cold_source_table[0]) <=
		       COLD_SOURCES_MAX,
	       "raise COLD_SOURCES_MAX");

struct cold_source cold_source_choose(void *const states[COLD_SOURCES_MAX],
				      const char *cgroup)
{
	for (size_t i = 0; i < cold_source_count; i++) {
		const struct cold_source_ops *ops = cold_source_table[i];

		if (ops->serves(states[i], cgroup))
			return (struct cold_source){ops, states[i]};
	}
	return (struct cold_source){&cold_source_none, NULL};
}

const char *cold_source_name(const struct cold_source *src)
{
	return src && src->ops ? src->ops->name : cold_source_none.name;
}

int cold_source_set_merge(const struct act_context *ctx,
			  const struct vm_signals *v, bool mergeable,
			  struct act_result *res)
{
	const struct cold_source_ops *ops = ctx->cold;

	if (!ops || !ops->set_merge)
		return -EOPNOTSUPP;
	return ops->set_merge(ctx->cold_state, v, mergeable, res);
}
