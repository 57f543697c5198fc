/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cold-memory sources: where a VM's idle memory is known from, and how it
 * is given back and faulted in again. decide() sees the same thing from
 * every source, in the VM's signals (signals.h, struct ovcmem_signals:
 * the name is the first source's): its pages by idle age in ticks of the
 * effective interval (idle_pages[], bucketed by idle_bucket_ticks[]),
 * the pages idle at least the class's cold age (cold_pages), and the
 * refaults it saw (d_refaults). It asks for "give back what is idle at
 * least this long" (PAGEOUT with min_idle) and "fault back what the VM
 * is refaulting" (PREFAULT), whatever the source.
 *
 * Sources, in order of preference (the first that serves a VM is its
 * source, chosen each tick in the match step):
 *   ovcmem   cold_ovcmem.c: the partition's coldmap, exact per page
 *   mglru    cold_mglru.c: the kernel's multi-gen LRU generations of
 *            the VM's memcg (debugfs lru_gen), when the kernel has it on
 *   none     cold_none.c: no idle ages (PSI-probing decide() rows);
 *            prefault, as for mglru, by MADV_WILLNEED of the swapped
 *            pages around where the VM refaults (refault_map.h)
 *
 * Adding a source: one file with its struct cold_source_ops, one entry in
 * cold_source_table[] (cold_source.c). A source that keeps state (a
 * debugfs file, a client) gets it in the @state slot the manager opens
 * for it (cold_source_open).
 *
 * Threads: collect and settle run on the main thread; give_back and
 * fault_back on act workers (act_pool.h), for one VM each: they touch
 * only that VM's share of @state.
 */
#ifndef BALANCERD_COLD_SOURCE_H
#define BALANCERD_COLD_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "decide.h"
#include "signals.h"
#include "units.h"

struct cold_source_ops {
	const char *name; /* "ovcmem", "mglru", "none": logs, balancerctl */
	/* Whether the source knows the VM in @cgroup (relative to the
	 * cgroup root). @state NULL: the source is not available. */
	bool (*serves)(void *state, const char *cgroup);
	/*
	 * Fill @v->ovcmem (the cold view above, with cold_pages counted at
	 * @cold_ticks) and, when the source knows it, @v->pid. @now is the
	 * tick's monotonic time, @interval the effective interval (the age
	 * unit). 0, -ENOENT when the VM left the source, or a negative
	 * errno. NULL: nothing to collect.
	 */
	int (*collect)(void *state, const char *cgroup, unsigned int cold_ticks,
		       usec_t now, usec_t interval, struct vm_signals *v);
	/*
	 * Give back up to @bytes of @v's pages idle at least @min_ticks.
	 * Fills @res (bytes_done: what left memory.current; bytes_advised;
	 * partial, out_of_time) and, for settle, res->taken: the guest
	 * ranges that left. 0 or a negative errno; NULL: -EOPNOTSUPP (the
	 * source cannot tell which pages are cold).
	 */
	int (*give_back)(void *state, const struct act_context *ctx,
			 const struct vm_signals *v, unsigned int min_ticks,
			 uint64_t bytes, struct act_result *res);
	/*
	 * Fault back up to @bytes of what @v is refaulting (never the whole
	 * VM). Fills res->bytes_done (and partial when stopped early). 0 or
	 * a negative errno.
	 */
	int (*fault_back)(void *state, const struct act_context *ctx,
			  const struct vm_signals *v, uint64_t bytes,
			  struct act_result *res);
	/*
	 * The settle step's share (main thread, in decide()'s order): what
	 * action @a did to @v, as @res says (res->taken after a give_back).
	 * NULL: nothing kept.
	 */
	void (*settle)(void *state, const struct vm_signals *v,
		       const struct action *a, const struct act_result *res);
	/*
	 * Let KSM share identical pages of @v's guest RAM (@mergeable) or
	 * make them private again. Fills res->bytes_done (the guest RAM
	 * switched). 0 or a negative errno; NULL: -EOPNOTSUPP (only a
	 * source that acts for the VMM can, i.e. ovcmem's driver).
	 */
	int (*set_merge)(void *state, const struct vm_signals *v,
			 bool mergeable, struct act_result *res);
};

/* One VM's source: the ops and the state they run on. */
struct cold_source {
	const struct cold_source_ops *ops;
	void *state;
};

/* The sources in order of preference; the last, "none", serves every
 * VM. */
#define COLD_SOURCES_MAX 4
extern const struct cold_source_ops *const cold_source_table[];
extern const size_t cold_source_count;

extern const struct cold_source_ops cold_source_ovcmem;
extern const struct cold_source_ops cold_source_mglru;
extern const struct cold_source_ops cold_source_none;

/*
 * The source of the VM in @cgroup: the first of cold_source_table[] whose
 * serves() says yes with its @states[i] (states[] indexed like the
 * table; NULL: that source is off).
 */
struct cold_source cold_source_choose(void *const states[COLD_SOURCES_MAX],
				      const char *cgroup);

/* ACTION_MERGE / ACTION_UNMERGE through the VM's source (act.c). */
int cold_source_set_merge(const struct act_context *ctx,
			  const struct vm_signals *v, bool mergeable,
			  struct act_result *res);

/* @src's name, "none" for an empty one. */
const char *cold_source_name(const struct cold_source *src);

#endif /* BALANCERD_COLD_SOURCE_H */
