// SPDX-License-Identifier: GPL-2.0
/* The multi-gen LRU's debugfs file (lru_gen.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lru_gen.h"
#include "units.h"

/* A decimal unsigned integer after optional blanks; *@end after it. */
static int read_u64(const char *s, const char **end, uint64_t *ret)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return lex_u64(s, end, ret);
}

/* Only blanks from @s to the end of the line at @eol. */
static bool blank_to(const char *s, const char *eol)
{
	for (; s < eol; s++)
		if (*s != ' ' && *s != '\t')
			return false;
	return true;
}

/* @s (at the line's first non-blank) begins with @word and a blank. */
static const char *after_word(const char *s, const char *eol, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(eol - s) <= n || strncmp(s, word, n) != 0 ||
	    (s[n] != ' ' && s[n] != '\t'))
		return NULL;
	return s + n;
}

static int memcg_line(const char *s, const char *eol, struct lru_gen_memcg *m)
{
	const char *p;
	uint64_t id;
	size_t len;
	int r;

	r = read_u64(s, &p, &id);
	if (r < 0)
		return r;
	if (id > UINT32_MAX)
		return -ERANGE;
	/* "memcg %5hu %s": one blank, then the path to the end of the line
	 * (it may hold blanks of its own). */
	if (p < eol && *p != ' ')
		return -EINVAL;
	if (p < eol)
		p++;
	len = (size_t)(eol - p);
	if (len >= sizeof(m->path))
		return -E2BIG;
	memcpy(m->path, p, len);
	m->path[len] = '\0';
	m->id = (unsigned int)id;
	m->n_nodes = 0;
	return 0;
}

static int node_line(const char *s, const char *eol, struct lru_gen_memcg *m)
{
	const char *p;
	uint64_t id;
	int r;

	r = read_u64(s, &p, &id);
	if (r < 0)
		return r;
	if (!blank_to(p, eol))
		return -EINVAL;
	if (id > UINT32_MAX)
		return -ERANGE;
	if (m->n_nodes == LRU_GEN_NODES_MAX)
		return -E2BIG;
	m->nodes[m->n_nodes] = (struct lru_gen_node){.id = (unsigned int)id};
	m->n_nodes++;
	return 0;
}

static int gen_line(const char *s, const char *eol, struct lru_gen_node *n)
{
	uint64_t f[4];
	const char *p = s;
	int r;

	for (size_t k = 0; k < 4; k++) {
		r = read_u64(p, &p, &f[k]);
		if (r < 0 || p > eol)
			return r < 0 ? r : -EINVAL;
	}
	if (!blank_to(p, eol))
		return -EINVAL;
	if (n->n_gens == LRU_GEN_GENS_MAX)
		return -E2BIG;
	if (n->n_gens && f[0] <= n->gens[n->n_gens - 1].seq)
		return -EINVAL; /* oldest first, one line per generation */
	n->gens[n->n_gens++] = (struct lru_gen_gen){
		.seq = f[0], .age_ms = f[1], .anon = f[2], .file = f[3]};
	return 0;
}

int lru_gen_parse(const char *text, struct lru_gen_memcg *scratch,
		  lru_gen_memcg_fn fn, void *userdata)
{
	bool in_memcg = false;
	const char *s = text;
	int r;

	while (*s) {
		const char *nl = strchr(s, '\n');
		const char *eol = nl ? nl : s + strlen(s);
		const char *p = s, *rest;

		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if (p == eol) {
			r = 0; /* an empty line */
		} else if ((rest = after_word(p, eol, "memcg"))) {
			if (in_memcg) {
				r = fn(scratch, userdata);
				if (r)
					return r;
			}
			r = memcg_line(rest, eol, scratch);
			in_memcg = r == 0;
		} else if ((rest = after_word(p, eol, "node"))) {
			r = in_memcg ? node_line(rest, eol, scratch) : -EINVAL;
		} else if (in_memcg && scratch->n_nodes) {
			r = gen_line(p, eol,
				     &scratch->nodes[scratch->n_nodes - 1]);
		} else {
			r = -EINVAL;
		}
		if (r < 0)
			return r;
		s = nl ? nl + 1 : eol;
	}
	return in_memcg ? fn(scratch, userdata) : 0;
}

bool lru_gen_path_is(const char *path, const char *cgroup)
{
	if (*path != '/')
		return false; /* "": the memory controller is off */
	while (*path == '/')
		path++;
	while (*cgroup == '/')
		cgroup++;
	return strcmp(path, cgroup) == 0;
}

uint64_t lru_gen_node_old_pages(const struct lru_gen_node *n, uint64_t age_ms,
				bool anon, uint64_t *seq_ret)
{
	uint64_t pages = 0, seq = 0;

	for (size_t k = 0; k + LRU_GEN_MIN_GENS < n->n_gens; k++) {
		const struct lru_gen_gen *g = &n->gens[k];

		/* A page of generation k was last seen accessed before the
		 * aging that made k + 1: idle at least k + 1's age. */
		if (n->gens[k + 1].age_ms < age_ms)
			break; /* younger from here on */
		pages += g->file + (anon ? g->anon : 0);
		seq = g->seq;
	}
	if (seq_ret)
		*seq_ret = seq;
	return pages;
}

uint64_t lru_gen_node_max_seq(const struct lru_gen_node *n)
{
	return n->n_gens ? n->gens[n->n_gens - 1].seq : 0;
}

uint64_t lru_gen_node_youngest_age(const struct lru_gen_node *n)
{
	return n->n_gens ? n->gens[n->n_gens - 1].age_ms : UINT64_MAX;
}

static int formatted(int n, size_t len)
{
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

int lru_gen_format_age(char *buf, size_t len, unsigned int memcg_id,
		       unsigned int node, uint64_t max_seq, bool can_swap)
{
	/* force_scan 1: walk the page tables, so that a VM's anon pages
	 * (mapped by the VMM, seldom on the LRU lists' radar) age too. */
	return formatted(snprintf(buf, len, "+ %u %u %" PRIu64 " %d 1\n",
				  memcg_id, node, max_seq, can_swap ? 1 : 0),
			 len);
}

int lru_gen_format_evict(char *buf, size_t len, unsigned int memcg_id,
			 unsigned int node, uint64_t seq,
			 unsigned int swappiness, uint64_t nr_to_reclaim)
{
	return formatted(
		snprintf(buf, len, "- %u %u %" PRIu64 " %u %" PRIu64 "\n",
			 memcg_id, node, seq, swappiness, nr_to_reclaim),
		len);
}
