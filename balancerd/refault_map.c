// SPDX-License-Identifier: GPL-2.0
/* Where a VM without ovcmem refaults (refault_map.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "refault_map.h"

#define W REFAULT_BLOCK_WORDS

static unsigned int bits(const uint64_t *w)
{
	unsigned int c = 0;

	for (size_t i = 0; i < W; i++)
		c += (unsigned int)__builtin_popcountll(w[i]);
	return c;
}

static bool any(const uint64_t *w)
{
	for (size_t i = 0; i < W; i++)
		if (w[i])
			return true;
	return false;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	p = realloc(*arr, c * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int refault_sample_add(struct refault_sample *s, uint64_t addr, bool swapped,
		       bool present)
{
	uint64_t base = addr & ~(REFAULT_BLOCK_BYTES - 1);
	unsigned int page = (unsigned int)((addr - base) / REFAULT_PAGE_BYTES);
	struct refault_sample_block *b;

	if (!swapped && !present)
		return 0;
	if (!s->n || s->blocks[s->n - 1].addr != base) {
		if (grow((void **)&s->blocks, &s->cap, s->n + 1,
			 sizeof(*s->blocks)) < 0)
			return -ENOMEM;
		b = &s->blocks[s->n++];
		memset(b, 0, sizeof(*b));
		b->addr = base;
	}
	b = &s->blocks[s->n - 1];
	if (swapped)
		b->swapped[page / 64] |= 1ULL << (page % 64);
	else
		b->present[page / 64] |= 1ULL << (page % 64);
	return 0;
}

void refault_sample_free(struct refault_sample *s)
{
	free(s->blocks);
	memset(s, 0, sizeof(*s));
}

void refault_map_init(struct refault_map *m)
{
	memset(m, 0, sizeof(*m));
}

void refault_map_free(struct refault_map *m)
{
	free(m->blocks);
	refault_map_init(m);
}

bool refault_map_counters_rose(const struct refault_map *m, uint64_t counters)
{
	return !m->sampled || counters != m->counters;
}

static void decay(struct refault_map *m, usec_t now)
{
	usec_t halves;
	unsigned int shift;

	if (!m->heat_decayed || now < m->heat_decayed) {
		m->heat_decayed = now;
		return;
	}
	halves = (now - m->heat_decayed) / REFAULT_HEAT_HALF_LIFE;
	if (!halves)
		return;
	shift = halves > 31 ? 32 : (unsigned int)halves;
	for (size_t i = 0; i < m->n; i++)
		m->blocks[i].heat =
			shift >= 32 ? 0 : m->blocks[i].heat >> shift;
	m->heat_decayed += halves * REFAULT_HEAT_HALF_LIFE;
}

/* Block @old (or a fresh one) against what the sample saw of it (@sb,
 * NULL: nothing swapped or present there now) into @nb. */
static void judge(const struct refault_map *m, const struct refault_block *old,
		  uint64_t addr, const struct refault_sample_block *sb,
		  usec_t now, struct refault_block *nb,
		  struct refault_update *u)
{
	static const struct refault_sample_block none;
	uint64_t used_now[W], again[W], refaulted[W];

	if (!sb)
		sb = &none;
	if (old)
		*nb = *old;
	else
		memset(nb, 0, sizeof(*nb));
	nb->addr = addr;
	for (size_t i = 0; i < W; i++) {
		refaulted[i] = m->sampled ? nb->swapped[i] & sb->present[i] : 0;
		used_now[i] = nb->pending[i] & sb->present[i];
		again[i] = nb->used[i] & sb->swapped[i];
		nb->used[i] = (nb->used[i] | used_now[i]) & sb->present[i];
		/* A pending page neither swapped nor present left the VM
		 * (discarded): nothing to judge. */
		nb->pending[i] &= sb->swapped[i];
	}
	u->refaulted += bits(refaulted);
	u->used += bits(used_now);
	u->reclaimed_again += bits(again);
	nb->heat += bits(refaulted);
	if (any(nb->pending) || any(nb->used)) {
		if (now >= nb->watch_until) {
			u->wasted += bits(nb->pending);
			memset(nb->pending, 0, sizeof(nb->pending));
			memset(nb->used, 0, sizeof(nb->used));
		}
	}
	/* Our prefaults stay swap entries until the VM touches them: not
	 * the baseline for its refaults. */
	for (size_t i = 0; i < W; i++)
		nb->swapped[i] = sb->swapped[i] & ~nb->pending[i];
	u->swapped += bits(sb->swapped);
}

static bool keep(const struct refault_block *b)
{
	return b->heat || any(b->swapped) || any(b->pending) || any(b->used);
}

int refault_map_update(struct refault_map *m, const struct refault_sample *s,
		       usec_t now, uint64_t counters,
		       struct refault_update *ret)
{
	struct refault_block *out = NULL;
	struct refault_update u = {0};
	size_t i = 0, j = 0, n = 0, cap = 0;

	decay(m, now);
	while (i < m->n || j < s->n) {
		const struct refault_block *old = NULL;
		const struct refault_sample_block *sb = NULL;
		uint64_t addr;

		if (j == s->n ||
		    (i < m->n && m->blocks[i].addr < s->blocks[j].addr)) {
			old = &m->blocks[i++];
			addr = old->addr;
		} else if (i == m->n || s->blocks[j].addr < m->blocks[i].addr) {
			sb = &s->blocks[j++];
			addr = sb->addr;
		} else {
			old = &m->blocks[i++];
			sb = &s->blocks[j++];
			addr = old->addr;
		}
		if (grow((void **)&out, &cap, n + 1, sizeof(*out)) < 0) {
			free(out);
			return -ENOMEM;
		}
		judge(m, old, addr, sb, now, &out[n], &u);
		if (keep(&out[n]))
			n++;
	}
	for (size_t k = 0; k < n; k++)
		if (out[k].heat)
			u.hot_blocks++;
	free(m->blocks);
	m->blocks = out;
	m->n = n;
	m->cap = cap;
	m->sampled = true;
	m->last_sample = now;
	m->counters = counters;
	m->totals.refaulted += u.refaulted;
	m->totals.used += u.used;
	m->totals.wasted += u.wasted;
	m->totals.reclaimed_again += u.reclaimed_again;
	if (ret)
		*ret = u;
	return 0;
}

static struct refault_block *find(const struct refault_map *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->blocks[mid].addr == addr)
			return &m->blocks[mid];
		if (m->blocks[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int hotter_first(const void *a, const void *b, void *map)
{
	const struct refault_map *m = map;
	const struct refault_block *x = &m->blocks[*(const size_t *)a];
	const struct refault_block *y = &m->blocks[*(const size_t *)b];

	if (x->heat != y->heat)
		return x->heat > y->heat ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct planner {
	struct refault_range *r;
	size_t n, cap;
	uint64_t left; /* pages */
};

/* The swapped pages of @b, as ranges, while the budget lasts. */
static int plan_block(struct planner *p, const struct refault_block *b)
{
	for (unsigned int pg = 0; pg < REFAULT_BLOCK_PAGES && p->left; pg++) {
		uint64_t addr = b->addr + pg * REFAULT_PAGE_BYTES;

		if (!(b->swapped[pg / 64] & (1ULL << (pg % 64))))
			continue;
		p->left--;
		if (p->n && p->r[p->n - 1].addr + p->r[p->n - 1].len == addr) {
			p->r[p->n - 1].len += REFAULT_PAGE_BYTES;
			continue;
		}
		if (grow((void **)&p->r, &p->cap, p->n + 1, sizeof(*p->r)) < 0)
			return -ENOMEM;
		p->r[p->n++] = (struct refault_range){addr, REFAULT_PAGE_BYTES};
	}
	return 0;
}

int refault_map_plan(struct refault_map *m, usec_t now, uint64_t bytes,
		     struct refault_range **ret, size_t *n,
		     uint64_t *bytes_planned)
{
	struct planner p = {.left = bytes / REFAULT_PAGE_BYTES};
	size_t *order = NULL, hot = 0;
	bool *taken = NULL;
	int r = 0;

	*ret = NULL;
	*n = 0;
	*bytes_planned = 0;
	decay(m, now);
	for (size_t i = 0; i < m->n; i++)
		hot += m->blocks[i].heat != 0;
	if (!hot || !p.left)
		return 0;
	order = malloc(hot * sizeof(*order));
	taken = calloc(m->n, sizeof(*taken));
	if (!order || !taken) {
		r = -ENOMEM;
		goto out;
	}
	hot = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->blocks[i].heat)
			order[hot++] = i;
	qsort_r(order, hot, sizeof(*order), hotter_first, m);
	for (size_t k = 0; k < hot && p.left && r == 0; k++) {
		const struct refault_block *b = &m->blocks[order[k]];
		const struct refault_block *around[3] = {
			b,
			b->addr >= REFAULT_BLOCK_BYTES
				? find(m, b->addr - REFAULT_BLOCK_BYTES)
				: NULL,
			find(m, b->addr + REFAULT_BLOCK_BYTES),
		};

		for (size_t a = 0; a < 3 && r == 0; a++) {
			size_t idx;

			if (!around[a])
				continue;
			idx = (size_t)(around[a] - m->blocks);
			if (taken[idx])
				continue;
			taken[idx] = true;
			r = plan_block(&p, around[a]);
		}
	}
out:
	free(order);
	free(taken);
	if (r < 0) {
		free(p.r);
		return r;
	}
	*ret = p.r;
	*n = p.n;
	*bytes_planned =
		(bytes / REFAULT_PAGE_BYTES - p.left) * REFAULT_PAGE_BYTES;
	return 0;
}

uint64_t refault_map_mark(struct refault_map *m,
			  const struct refault_range *ranges, size_t n,
			  uint64_t bytes, usec_t now, usec_t watch)
{
	uint64_t marked = 0, left = bytes / REFAULT_PAGE_BYTES;

	for (size_t k = 0; k < n && left; k++) {
		for (uint64_t a = ranges[k].addr;
		     a < ranges[k].addr + ranges[k].len && left;
		     a += REFAULT_PAGE_BYTES, left--) {
			struct refault_block *b =
				find(m, a & ~(REFAULT_BLOCK_BYTES - 1));
			unsigned int pg;
			uint64_t bit;

			if (!b)
				continue;
			pg = (unsigned int)((a - b->addr) / REFAULT_PAGE_BYTES);
			bit = 1ULL << (pg % 64);
			b->swapped[pg / 64] &= ~bit;
			if (!(b->pending[pg / 64] & bit)) {
				b->pending[pg / 64] |= bit;
				marked++;
			}
			b->watch_until = now + watch;
		}
	}
	m->totals.prefaulted += marked;
	return marked;
}

unsigned int refault_totals_against_permille(const struct refault_totals *t)
{
	uint64_t judged = t->used + t->wasted;

	if (!judged)
		return 0;
	return (unsigned int)((t->wasted + t->reclaimed_again) * 1000 / judged);
}
