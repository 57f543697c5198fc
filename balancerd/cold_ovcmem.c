// SPDX-License-Identifier: GPL-2.0
/*
 * The ovcmem cold source (cold_source.h): a VM with an ovcmem partition
 * has exact per-page idle ages, from the accessed bits its SLAT keeps
 * (ovcmem_client.h keeps them in a coldmap per region). Gives back by
 * process_madvise(MADV_PAGEOUT) of the coldmap's oldest ranges, faults
 * back with the driver's PREFAULT around the blocks that refault.
 * @state is the ovcmem client.
 */
#include <errno.h>
#include <stdlib.h>

#include "cold_source.h"
#include "ovcmem_client.h"

/* One PREFAULT action may take this long; the rest waits a tick. Each
 * driver call is a 2 MiB step, and a racing one can take a second. */
#define PREFAULT_BUDGET (1 * USEC_PER_SEC)

static bool ovcmem_serves(void *state, const char *cgroup)
{
	return state && ovcmem_client_find_cgroup(state, cgroup);
}

static int ovcmem_collect(void *state, const char *cgroup,
			  unsigned int cold_ticks, usec_t now, usec_t interval,
			  struct vm_signals *v)
{
	const struct ovcmem_part *p = ovcmem_client_find_cgroup(state, cgroup);
	int r;

	if (!p)
		return -ENOENT;
	r = ovcmem_client_collect(state, p->id, cold_ticks, now, interval,
				  &v->ovcmem);
	if (p->owner_pid > 0)
		v->pid = p->owner_pid;
	return r;
}

static int ovcmem_give_back(void *state, const struct act_context *ctx,
			    const struct vm_signals *v, unsigned int min_ticks,
			    uint64_t bytes, struct act_result *res)
{
	struct iovec *iov = NULL;
	size_t n = 0;
	int r;

	if (!v->ovcmem.present)
		return -EOPNOTSUPP; /* cold ranges come only from scans */
	r = ovcmem_client_cold_ranges(state, v->ovcmem.partition_id, min_ticks,
				      bytes, &iov, &n);
	if (r < 0)
		return r;
	r = act_pageout_ranges(ctx, v, iov, n, res);
	free(iov);
	return r;
}

static int ovcmem_fault_back(void *state, const struct act_context *ctx,
			     const struct vm_signals *v, uint64_t bytes,
			     struct act_result *res)
{
	int r;

	if (!v->ovcmem.present)
		return cold_source_none.fault_back(NULL, ctx, v, bytes, res);
	r = ovcmem_client_prefault(state, v->ovcmem.partition_id, bytes,
				   PREFAULT_BUDGET, &res->bytes_done);
	if (r == -EAGAIN) {
		res->partial = true; /* stopped early, not failed */
		r = 0;
	}
	return r;
}

/* What a pageout took is evicted in the coldmap: not counted cold again,
 * and first to come back on restore. */
static void ovcmem_settle(void *state, const struct vm_signals *v,
			  const struct action *a, const struct act_result *res)
{
	if (a->kind == ACTION_PAGEOUT && res->n_taken)
		ovcmem_client_mark_evicted(state, v->ovcmem.partition_id,
					   res->taken, res->n_taken);
}

static int ovcmem_set_merge(void *state, const struct vm_signals *v,
			    bool mergeable, struct act_result *res)
{
	uint64_t vmas;
	int r;

	if (!v->ovcmem.present)
		return -EOPNOTSUPP;
	r = ovcmem_client_set_mergeable(state, v->ovcmem.partition_id,
					mergeable, &vmas);
	if (r == 0)
		res->bytes_done = v->ovcmem.pages * OVCMEM_PAGE_SIZE;
	return r;
}

const struct cold_source_ops cold_source_ovcmem = {
	.name = "ovcmem",
	.serves = ovcmem_serves,
	.collect = ovcmem_collect,
	.give_back = ovcmem_give_back,
	.fault_back = ovcmem_fault_back,
	.settle = ovcmem_settle,
	.set_merge = ovcmem_set_merge,
};
