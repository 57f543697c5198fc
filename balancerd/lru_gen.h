/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The multi-gen LRU's debugfs file, /sys/kernel/debug/lru_gen
 * (Documentation/admin-guide/mm/multigen_lru.rst): per memcg and NUMA
 * node, its generations from the oldest to the youngest with their age
 * and their anon and file pages:
 *
 *   memcg  memcg_id  memcg_path
 *    node  node_id
 *        seq  age_ms  nr_anon_pages  nr_file_pages
 *
 * The path is the cgroup's, as the kernel prints it: unescaped, the rest
 * of the line (it may hold blanks; "/" is the root memcg; empty when the
 * memory controller is off). Pure: no I/O here.
 *
 * Commands written back (lru_gen_format_*): "+ id node max_seq can_swap
 * force_scan" makes a new generation; "- id node seq swappiness
 * nr_to_reclaim" evicts generations up to seq, which must be at most
 * max_seq - 2 (the two youngest are not fully aged).
 */
#ifndef BALANCERD_LRU_GEN_H
#define BALANCERD_LRU_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signals.h"

/* The kernel keeps MAX_NR_GENS = 4; room for a kernel that keeps more. */
#define LRU_GEN_GENS_MAX 8
/* Nodes of one memcg we keep; more (a bigger machine) is -E2BIG. */
#define LRU_GEN_NODES_MAX 64
/* The kernel keeps at least two generations (MIN_NR_GENS): the two
 * youngest cannot be evicted. */
#define LRU_GEN_MIN_GENS 2

struct lru_gen_gen {
	uint64_t seq;
	uint64_t age_ms;
	uint64_t anon, file; /* pages */
};

struct lru_gen_node {
	unsigned int id;
	size_t n_gens;
	struct lru_gen_gen gens[LRU_GEN_GENS_MAX]; /* oldest first */
};

struct lru_gen_memcg {
	unsigned int id;
	char path[CGROUP_PATH_MAX]; /* "/" root; "" memcg off */
	size_t n_nodes;
	struct lru_gen_node nodes[LRU_GEN_NODES_MAX];
};

/*
 * Called for each memcg in the file, complete (all its nodes). A nonzero
 * return stops the parse and is returned by lru_gen_parse().
 */
typedef int (*lru_gen_memcg_fn)(const struct lru_gen_memcg *m, void *userdata);

/*
 * Parse @text (NUL-terminated), calling @fn for each memcg with @scratch
 * as its storage (struct lru_gen_memcg is large: the caller keeps one).
 * 0; -EINVAL for text that is not lru_gen (a generation outside a node, a
 * node outside a memcg, a line it cannot read, generations not in
 * order); -ERANGE for a number too big; -E2BIG for more generations or
 * nodes than kept, or a path longer than CGROUP_PATH_MAX; or what @fn
 * returned.
 */
int lru_gen_parse(const char *text, struct lru_gen_memcg *scratch,
		  lru_gen_memcg_fn fn, void *userdata);

/* The memcg's cgroup @path (as lru_gen prints it) names @cgroup, given
 * relative to the cgroup root ("machine.slice/x.scope"; "" the root). */
bool lru_gen_path_is(const char *path, const char *cgroup);

/*
 * Pages of @n idle at least @age_ms: those of the generations whose next
 * younger one is at least that old (a page of generation k was not seen
 * accessed when k + 1 was made), anon ones only when @anon (the VM can
 * swap). The youngest two never count: they cannot be evicted. @seq_ret, if not
 * NULL: the youngest generation counted (0 and no pages when none).
 */
uint64_t lru_gen_node_old_pages(const struct lru_gen_node *n, uint64_t age_ms,
				bool anon, uint64_t *seq_ret);

/* @n's youngest generation (max_seq); 0 for a node without any. */
uint64_t lru_gen_node_max_seq(const struct lru_gen_node *n);

/* The age of @n's youngest generation in ms (how long since the last
 * aging); UINT64_MAX for a node without any. */
uint64_t lru_gen_node_youngest_age(const struct lru_gen_node *n);

/* Commands, NUL-terminated in @buf; the length, or -ENAMETOOLONG. */
int lru_gen_format_age(char *buf, size_t len, unsigned int memcg_id,
		       unsigned int node, uint64_t max_seq, bool can_swap);
int lru_gen_format_evict(char *buf, size_t len, unsigned int memcg_id,
			 unsigned int node, uint64_t seq,
			 unsigned int swappiness, uint64_t nr_to_reclaim);

#endif /* BALANCERD_LRU_GEN_H */
