// SPDX-License-Identifier: GPL-2.0
/*
 * The MGLRU cold source (cold_source.h): for a VM without an ovcmem
 * partition, the kernel's multi-gen LRU knows how long the pages of the
 * VM's memcg have gone unused, per generation (lru_gen.h). This source
 *
 *   ages     each VM's memcg, every node, when its youngest generation is
 *            half the class's cold age old ("+ id node max_seq"). Not a
 *            third: the kernel keeps at most four generations and merges
 *            the oldest into the next when it makes a fifth, so the
 *            second oldest is two to three spacings old; a page counts
 *            cold when the generation after its own is a cold age old
 *            (below), which at cold_age/3 the second oldest would reach
 *            only at the instant before the next aging (in-guest,
 *            tests/kernel/test_mglru.c: a page found accessed goes to the
 *            generation that was youngest, and the new one starts empty);
 *   counts   as cold the pages of the generations not seen accessed for
 *            the cold age (lru_gen_node_old_pages), anon ones only when
 *            the host can swap and vm.swappiness is not 0;
 *   gives    back by evicting those generations with a bounded
 *            nr_to_reclaim ("- id node seq swappiness nr"), split over
 *            the nodes by their cold pages, at the host's vm.swappiness;
 *   faults   back, when the VM refaults, the swapped pages of the 2 MiB
 *            blocks where it does and of their neighbours
 *            (act_prefault_refaulted, refault_map.h), as "none" does.
 *
 * Aging is a page-table walk of the VM's memory in balancerd's context,
 * on the main thread in the acquire step (collect): a few ms per GiB of
 * guest RAM, once per cold_age/2 per VM.
 *
 * Files, all below the daemon's root: sys/kernel/debug/lru_gen (read and
 * written), sys/kernel/mm/lru_gen/enabled, proc/sys/vm/swappiness,
 * proc/swaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cold_mglru.h"
#include "cold_source.h"
#include "host_path.h"
#include "log.h"
#include "lru_gen.h"

#define LRU_GEN_FILE	"sys/kernel/debug/lru_gen"
#define LRU_GEN_ENABLED "sys/kernel/mm/lru_gen/enabled"
#define SWAPPINESS_FILE "proc/sys/vm/swappiness"
#define SWAPS_FILE	"proc/swaps"
#define PAGE_SIZE_BYTES 4096ULL
/* The youngest generation is at least this old before the next one is
 * made, whatever the cold age: a walk per VM per second at most. */
#define AGE_SPACING_MIN_MS 1000ULL
/* One command per node; room for a big machine's nodes. */
#define COMMAND_MAX 64

/* One memcg of the latest read. */
struct mglru_memcg {
	char *path;
	unsigned int id;
	size_t n_nodes;
	struct lru_gen_node *nodes;
};

struct cold_mglru {
	char root[PATH_MAX];
	/* The latest read of lru_gen, made at @read_at (a tick's time);
	 * the main thread's (collect) alone. */
	usec_t read_at;
	bool have_read;
	struct mglru_memcg *memcgs;
	size_t n_memcgs, cap_memcgs;
	bool can_swap;
	unsigned int swappiness;
	/* The effective interval, for give_back's min_ticks (set in collect
	 * before the tick's actions, read on act workers). */
	usec_t interval;
	struct lru_gen_memcg scratch;
};

/* ---- the setting ------------------------------------------------------ */

static const char *const setting_names[] = {
	[MGLRU_AUTO] = "auto",
	[MGLRU_ENABLE] = "enable",
	[MGLRU_OFF] = "off",
};

int mglru_setting_from_string(const char *s, enum mglru_setting *ret)
{
	for (size_t i = 0; i < sizeof(setting_names) / sizeof(*setting_names);
	     i++)
		if (strcmp(s, setting_names[i]) == 0) {
			*ret = (enum mglru_setting)i;
			return 0;
		}
	return -EINVAL;
}

const char *mglru_setting_name(enum mglru_setting s)
{
	return (size_t)s < sizeof(setting_names) / sizeof(*setting_names)
		       ? setting_names[s]
		       : "?";
}

/* ---- files ------------------------------------------------------------ */

static int path_of(const char *root, const char *rel, char *buf, size_t len)
{
	return host_path(buf, len, root, "/%s", rel);
}

/* The whole of @path, NUL-terminated, malloc'ed in *@ret. */
static int read_all(const char *path, char **ret)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap), *bigger;
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	for (;;) {
		ssize_t got;

		if (cap - n < 4096) {
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				r = -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

static int read_at_root(const char *root, const char *rel, char **ret)
{
	char path[PATH_MAX];
	int r = path_of(root, rel, path, sizeof(path));

	return r < 0 ? r : read_all(path, ret);
}

/* vm.swappiness and whether the host has swap: anon pages can go only
 * then. */
static void read_swap_policy(const char *root, bool *can_swap,
			     unsigned int *swappiness)
{
	char *text = NULL;
	unsigned long v = 60;

	if (read_at_root(root, SWAPPINESS_FILE, &text) == 0) {
		v = strtoul(text, NULL, 10);
		free(text);
	}
	*swappiness = v > 200 ? 200 : (unsigned int)v;
	*can_swap = false;
	if (read_at_root(root, SWAPS_FILE, &text) == 0) {
		const char *nl = strchr(text, '\n'); /* past the header */

		*can_swap = nl && nl[1] != '\0';
		free(text);
	}
	if (!*swappiness)
		*can_swap = false;
}

/* ---- the latest read -------------------------------------------------- */

static void memcgs_clear(struct cold_mglru *m)
{
	for (size_t i = 0; i < m->n_memcgs; i++) {
		free(m->memcgs[i].path);
		free(m->memcgs[i].nodes);
	}
	m->n_memcgs = 0;
}

static int keep_memcg(const struct lru_gen_memcg *g, void *userdata)
{
	struct cold_mglru *m = userdata;
	struct mglru_memcg *k;

	if (m->n_memcgs == m->cap_memcgs) {
		size_t cap = m->cap_memcgs ? m->cap_memcgs * 2 : 64;
		struct mglru_memcg *more =
			realloc(m->memcgs, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		m->memcgs = more;
		m->cap_memcgs = cap;
	}
	k = &m->memcgs[m->n_memcgs];
	*k = (struct mglru_memcg){.id = g->id, .n_nodes = g->n_nodes};
	k->path = strdup(g->path);
	k->nodes = g->n_nodes ? malloc(g->n_nodes * sizeof(*k->nodes)) : NULL;
	if (!k->path || (g->n_nodes && !k->nodes)) {
		free(k->path);
		free(k->nodes);
		return -ENOMEM;
	}
	memcpy(k->nodes, g->nodes, g->n_nodes * sizeof(*k->nodes));
	m->n_memcgs++;
	return 0;
}

/* Read lru_gen once per tick (every VM's collect shares it). */
static int refresh(struct cold_mglru *m, usec_t now)
{
	char *text = NULL;
	int r;

	if (m->have_read && m->read_at == now)
		return 0;
	memcgs_clear(m);
	m->have_read = false;
	r = read_at_root(m->root, LRU_GEN_FILE, &text);
	if (r < 0)
		return r;
	r = lru_gen_parse(text, &m->scratch, keep_memcg, m);
	free(text);
	if (r < 0)
		return r;
	read_swap_policy(m->root, &m->can_swap, &m->swappiness);
	m->read_at = now;
	m->have_read = true;
	return 0;
}

/* Nodes summed up: the pages of all generations. */
static uint64_t memcg_pages(const struct mglru_memcg *k)
{
	uint64_t pages = 0;

	for (size_t i = 0; i < k->n_nodes; i++)
		for (size_t g = 0; g < k->nodes[i].n_gens; g++)
			pages += k->nodes[i].gens[g].anon +
				 k->nodes[i].gens[g].file;
	return pages;
}

/*
 * The VM's memcg. A restarted VM gets a new memcg with its old path while
 * the old one may linger (offline, still charged): the one with the most
 * pages is the live VM's.
 */
static const struct mglru_memcg *find_memcg(const struct mglru_memcg *memcgs,
					    size_t n, const char *cgroup)
{
	const struct mglru_memcg *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (lru_gen_path_is(memcgs[i].path, cgroup) &&
		    (!best || memcg_pages(&memcgs[i]) > memcg_pages(best)))
			best = &memcgs[i];
	return best;
}

/* ---- the source ------------------------------------------------------- */

static bool mglru_serves(void *state, const char *cgroup)
{
	(void)cgroup;
	return state != NULL; /* every VM has a memcg */
}

static unsigned int bucket_of(uint64_t idle_ms, usec_t interval)
{
	uint64_t ticks = idle_ms * 1000 / (interval ? interval : USEC_PER_SEC);

	for (unsigned int b = 0; b < IDLE_BUCKETS - 1; b++)
		if (ticks <= idle_bucket_ticks[b])
			return b;
	return IDLE_BUCKETS - 1;
}

/* Make a new generation on every node whose youngest is @spacing_ms old;
 * one write for all of them. */
static int age_memcg(const struct cold_mglru *m, const struct mglru_memcg *k,
		     uint64_t spacing_ms)
{
	char cmds[COMMAND_MAX * 48], path[PATH_MAX];
	size_t len = 0;
	int r;

	for (size_t i = 0; i < k->n_nodes && i < COMMAND_MAX; i++) {
		const struct lru_gen_node *n = &k->nodes[i];

		if (!n->n_gens || lru_gen_node_youngest_age(n) < spacing_ms)
			continue;
		r = lru_gen_format_age(cmds + len, sizeof(cmds) - len, k->id,
				       n->id, lru_gen_node_max_seq(n),
				       m->can_swap);
		if (r < 0)
			return r;
		len += (size_t)r;
	}
	if (!len)
		return 0;
	r = path_of(m->root, LRU_GEN_FILE, path, sizeof(path));
	return r < 0 ? r : act_write_file(path, cmds, NULL);
}

static int mglru_collect(void *state, const char *cgroup,
			 unsigned int cold_ticks, usec_t now, usec_t interval,
			 struct vm_signals *v)
{
	struct cold_mglru *m = state;
	struct ovcmem_signals *o = &v->ovcmem;
	const struct mglru_memcg *k;
	uint64_t cold_ms, pages = 0;
	int r;

	if (!interval)
		interval = USEC_PER_SEC;
	__atomic_store_n(&m->interval, interval, __ATOMIC_RELAXED);
	r = refresh(m, now);
	if (r < 0)
		return r;
	k = find_memcg(m->memcgs, m->n_memcgs, cgroup);
	if (!k)
		return -ENOENT; /* not in lru_gen yet: next tick */
	cold_ms = (uint64_t)cold_ticks * interval / 1000;
	*o = (struct ovcmem_signals){.present = true, .cold_valid = true};
	for (size_t i = 0; i < k->n_nodes; i++) {
		const struct lru_gen_node *n = &k->nodes[i];

		o->cold_pages +=
			lru_gen_node_old_pages(n, cold_ms, m->can_swap, NULL);
		for (size_t g = 0; g < n->n_gens; g++) {
			const struct lru_gen_gen *gen = &n->gens[g];
			uint64_t idle =
				g + 1 < n->n_gens ? n->gens[g + 1].age_ms : 0;
			uint64_t p = gen->file + (m->can_swap ? gen->anon : 0);

			o->idle_pages[bucket_of(idle, interval)] += p;
			pages += gen->anon + gen->file;
		}
	}
	o->pages_mapped = pages;
	r = age_memcg(m, k,
		      cold_ms / 2 > AGE_SPACING_MIN_MS ? cold_ms / 2
						       : AGE_SPACING_MIN_MS);
	if (r < 0)
		log_warning_errno(r, "%s: aging its memcg %u failed", v->name,
				  k->id);
	return 0;
}

static int read_current(const struct act_context *ctx, const char *cgroup,
			uint64_t *ret)
{
	char path[PATH_MAX], *text = NULL;
	int r = act_cgroup_path(ctx, cgroup, "memory.current", path,
				sizeof(path));

	if (r == 0)
		r = read_all(path, &text);
	if (r == 0)
		r = parse_memory_value(text, ret);
	free(text);
	return r;
}

/* The eviction commands for @k: up to @pages, split over the nodes by
 * their pages idle at least @idle_ms. Their length in @cmds, 0 when
 * nothing is that old. */
static int evict_commands(const struct mglru_memcg *k, uint64_t idle_ms,
			  bool can_swap, unsigned int swappiness,
			  uint64_t pages, char *cmds, size_t len,
			  uint64_t *asked)
{
	uint64_t old[COMMAND_MAX], seq[COMMAND_MAX], total = 0;
	size_t n = k->n_nodes < COMMAND_MAX ? k->n_nodes : COMMAND_MAX;
	size_t at = 0;

	*asked = 0;
	for (size_t i = 0; i < n; i++) {
		old[i] = lru_gen_node_old_pages(&k->nodes[i], idle_ms, can_swap,
						&seq[i]);
		total += old[i];
	}
	for (size_t i = 0; i < n && total; i++) {
		uint64_t share;
		int r;

		if (!old[i])
			continue;
		/* Rounded up: a node's share is never 0. */
		share = (uint64_t)(((unsigned __int128)pages * old[i] + total -
				    1) /
				   total);
		if (share > old[i])
			share = old[i];
		r = lru_gen_format_evict(cmds + at, len - at, k->id,
					 k->nodes[i].id, seq[i],
					 can_swap ? swappiness : 0, share);
		if (r < 0)
			return r;
		at += (size_t)r;
		*asked += share;
	}
	return (int)at;
}

static int mglru_give_back(void *state, const struct act_context *ctx,
			   const struct vm_signals *v, unsigned int min_ticks,
			   uint64_t bytes, struct act_result *res)
{
	const struct cold_mglru *m = state;
	struct lru_gen_memcg *scratch = malloc(sizeof(*scratch));
	struct cold_mglru now = {0}; /* this VM's read, not the shared one */
	char cmds[COMMAND_MAX * 64], path[PATH_MAX], *text = NULL;
	usec_t interval = __atomic_load_n(&m->interval, __ATOMIC_RELAXED);
	const struct mglru_memcg *k;
	uint64_t asked = 0, after = 0;
	int r, len;

	if (!scratch)
		return -ENOMEM;
	r = read_at_root(m->root, LRU_GEN_FILE, &text);
	if (r == 0)
		r = lru_gen_parse(text, scratch, keep_memcg, &now);
	free(text);
	free(scratch);
	if (r < 0)
		goto out;
	read_swap_policy(m->root, &now.can_swap, &now.swappiness);
	k = find_memcg(now.memcgs, now.n_memcgs, v->cgroup);
	if (!k) {
		r = -ENOENT;
		goto out;
	}
	len = evict_commands(k,
			     (uint64_t)min_ticks *
				     (interval ? interval : USEC_PER_SEC) /
				     1000,
			     now.can_swap, now.swappiness,
			     (bytes + PAGE_SIZE_BYTES - 1) / PAGE_SIZE_BYTES,
			     cmds, sizeof(cmds), &asked);
	r = len < 0 ? len : path_of(m->root, LRU_GEN_FILE, path, sizeof(path));
	if (r < 0 || !len)
		goto out; /* nothing that old (yet): not an error */
	res->bytes_advised = asked * PAGE_SIZE_BYTES;
	r = (ctx->write ? ctx->write : act_write_file)(path, cmds,
						       ctx->write_userdata);
	if (r < 0)
		goto out;
	if (read_current(ctx, v->cgroup, &after) == 0 &&
	    after < v->memory_current)
		res->bytes_done = v->memory_current - after;
	res->partial = res->bytes_done < bytes;
out:
	memcgs_clear(&now);
	free(now.memcgs);
	return r;
}

/* What the VM refaults, and the swapped pages around it: MGLRU evicts
 * only what went unused for the cold age, but a VM whose working set
 * grows reaches into that, block by block (act_prefault_refaulted). Never
 * the whole VM: a blind MADV_WILLNEED of swapped pages brings the cold
 * back with the hot (issue 16: 0.7-1 GiB in and out in 150 s). */
static int mglru_fault_back(void *state, const struct act_context *ctx,
			    const struct vm_signals *v, uint64_t bytes,
			    struct act_result *res)
{
	(void)state;
	return act_prefault_refaulted(ctx, v, bytes, res);
}

const struct cold_source_ops cold_source_mglru = {
	.name = "mglru",
	.serves = mglru_serves,
	.collect = mglru_collect,
	.give_back = mglru_give_back,
	.fault_back = mglru_fault_back,
};

/* ---- opening ---------------------------------------------------------- */

/* The main switch of sys/kernel/mm/lru_gen/enabled ("0x0007": bit 0). */
static int read_enabled(const char *root, bool *on)
{
	char *text = NULL;
	int r = read_at_root(root, LRU_GEN_ENABLED, &text);

	if (r < 0)
		return r;
	*on = strtoul(text, NULL, 16) & 1;
	free(text);
	return 0;
}

int cold_mglru_open(const char *root, enum mglru_setting setting,
		    struct cold_mglru **ret, char *why, size_t why_len)
{
	struct cold_mglru *m;
	char path[PATH_MAX];
	bool on = false;
	int r, fd;

	*ret = NULL;
	if (setting == MGLRU_OFF) {
		snprintf(why, why_len,
			 "\"mglru\" is \"off\" in balancerd.json");
		return 0;
	}
	r = read_enabled(root, &on);
	if (r < 0) {
		snprintf(why, why_len,
			 "the kernel has no multi-gen LRU (/%s: %s)",
			 LRU_GEN_ENABLED, strerror(-r));
		return 0;
	}
	if (!on && setting == MGLRU_ENABLE) {
		r = path_of(root, LRU_GEN_ENABLED, path, sizeof(path));
		if (r == 0)
			r = act_write_file(path, "y", NULL);
		if (r == 0)
			r = read_enabled(root, &on);
		if (r < 0 || !on) {
			snprintf(why, why_len,
				 "turning the multi-gen LRU on failed (/%s: "
				 "%s)",
				 LRU_GEN_ENABLED,
				 r < 0 ? strerror(-r) : "still off");
			return 0;
		}
		log_notice("multi-gen LRU turned on (\"mglru\": \"enable\" in "
			   "balancerd.json): wrote y to /%s",
			   LRU_GEN_ENABLED);
	}
	if (!on) {
		snprintf(why, why_len,
			 "the multi-gen LRU is off; to use it: echo y > /%s, "
			 "or \"mglru\": \"enable\" in balancerd.json",
			 LRU_GEN_ENABLED);
		log_notice("%s", why);
		return 0;
	}
	r = path_of(root, LRU_GEN_FILE, path, sizeof(path));
	fd = r < 0 ? r : open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = r < 0 ? r : -errno;
		snprintf(why, why_len,
			 "/%s cannot be opened for reading and writing (%s); "
			 "is debugfs mounted?",
			 LRU_GEN_FILE, strerror(-r));
		log_notice("multi-gen LRU on, but %s", why);
		return 0;
	}
	close(fd);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->root, sizeof(m->root), "%s", root);
	snprintf(why, why_len, "the multi-gen LRU is on");
	*ret = m;
	return 0;
}

void cold_mglru_free(struct cold_mglru *m)
{
	if (!m)
		return;
	memcgs_clear(m);
	free(m->memcgs);
	free(m);
}
