// SPDX-License-Identifier: GPL-2.0
/*
 * The software SLAT: a two-level table kept by the module.
 *
 * Level 1 is an xarray indexed by 2 MiB block (gfn / 512); level 2 is one
 * 4 KiB table of 512 entries per block. An entry is laid out like a PTE:
 * the host pfn above bit 12, flags below. If entry 0 of a table has
 * ENT_LARGE set, the table is one 2 MiB entry (like a PMD leaf) and
 * entries 1..511 are zero; "large" is thus a property of one entry, never
 * of a region.
 *
 * The xarray's own spinlock is the SLAT lock: it protects the entries and
 * the tables' lifetime. Tables are allocated in ->prepare (sleepable) and
 * freed when an unmap covers their whole block or at ->destroy.
 */
#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

#define ENT_PRESENT	BIT_ULL(0)
#define ENT_WRITE	BIT_ULL(1)	/* == OVCMEM_SLAT_WRITE */
#define ENT_EXEC	BIT_ULL(2)	/* == OVCMEM_SLAT_EXEC */
#define ENT_LARGE	BIT_ULL(3)
#define ENT_ACCESSED	BIT_ULL(4)	/* the balancer's (SCAN) */
#define ENT_DIRTY	BIT_ULL(5)	/* the balancer's (SCAN) */
#define ENT_YOUNG	BIT_ULL(6)	/* host aging's (mmu notifier) */
/*
 * The guest wrote the host page through this entry. Unlike ENT_DIRTY, SCAN
 * never clears it: it is the host's, carried to the folio when the entry
 * goes (see ovcmem_slat_dirty_fn), as KVM does with a dirty SPTE.
 */
#define ENT_WRITTEN	BIT_ULL(7)
#define ENT_PROT	(ENT_WRITE | ENT_EXEC)
#define ENT_USE		(ENT_ACCESSED | ENT_DIRTY | ENT_YOUNG | ENT_WRITTEN)

struct soft_table {
	u64 e[OVCMEM_BLOCK_PAGES];
};

struct soft_slat {
	struct ovcmem_slat base;
	struct xarray dir;	/* block index -> struct soft_table */
};

static_assert(sizeof(struct soft_table) == PAGE_SIZE);

static inline struct soft_slat *to_soft(struct ovcmem_slat *slat)
{
	return container_of(slat, struct soft_slat, base);
}

static inline unsigned long ent_pfn(u64 e)
{
	return e >> PAGE_SHIFT;
}

static inline u64 mk_ent(unsigned long pfn, u64 flags)
{
	return ((u64)pfn << PAGE_SHIFT) | flags | ENT_PRESENT;
}

static inline bool is_large(const struct soft_table *t)
{
	return t->e[0] & ENT_LARGE;
}

static struct ovcmem_slat *soft_create(void)
{
	struct soft_slat *s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);

	if (!s)
		return NULL;
	s->base.ops = &ovcmem_soft_slat_ops;
	xa_init(&s->dir);
	return &s->base;
}

static void free_table(struct soft_table *t)
{
	kfree(t);
	atomic_dec(&ovcmem_nr_slat_tables);
}

static void soft_destroy(struct ovcmem_slat *slat)
{
	struct soft_slat *s = to_soft(slat);
	struct soft_table *t;
	unsigned long idx;

	xa_for_each(&s->dir, idx, t)
		free_table(t);
	xa_destroy(&s->dir);
	kfree(s);
}

static int soft_prepare(struct ovcmem_slat *slat, u64 gfn)
{
	struct soft_slat *s = to_soft(slat);
	unsigned long idx = gfn / OVCMEM_BLOCK_PAGES;
	struct soft_table *t, *old;

	if (xa_load(&s->dir, idx))
		return 0;
	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	atomic_inc(&ovcmem_nr_slat_tables);
	old = xa_cmpxchg(&s->dir, idx, NULL, t, GFP_KERNEL_ACCOUNT);
	if (old) {
		/* Lost a race with another fault, or no memory. */
		free_table(t);
		return xa_is_err(old) ? xa_err(old) : 0;
	}
	return 0;
}

static long map_large(struct soft_table *t, struct ovcmem_slat_map *m,
		      u64 prot)
{
	u64 use = 0;
	long n = 0;
	int i;

	if (is_large(t)) {
		t->e[0] = mk_ent(m->pfns[0],
				 (t->e[0] & ENT_USE) | prot | ENT_LARGE);
		return 0;
	}
	/* Fold the small entries into one; keep what the guest did. */
	for (i = 0; i < OVCMEM_BLOCK_PAGES; i++) {
		if (!(t->e[i] & ENT_PRESENT)) {
			__set_bit(i, m->newly);
			n++;
		}
		use |= t->e[i] & ENT_USE;
		t->e[i] = 0;
	}
	t->e[0] = mk_ent(m->pfns[0], use | prot | ENT_LARGE);
	m->large_delta = 1;
	return n;
}

static long map_small(struct soft_table *t, struct ovcmem_slat_map *m,
		      u64 prot)
{
	unsigned int off = m->gfn % OVCMEM_BLOCK_PAGES;
	long n = 0;
	u64 i;

	for (i = 0; i < m->npages; i++) {
		u64 *e = &t->e[off + i];
		u64 p = prot;

		if (m->skip && test_bit(i, m->skip))
			continue;
		if (m->wp && test_bit(i, m->wp))
			p &= ~ENT_WRITE;
		if (*e & ENT_PRESENT) {
			/* Same page (else it was invalidated): new rights. */
			*e = mk_ent(m->pfns[i], (*e & ENT_USE) | p);
			continue;
		}
		*e = mk_ent(m->pfns[i], p);
		__set_bit(i, m->newly);
		n++;
	}
	return n;
}

static long soft_map(struct ovcmem_slat *slat, struct ovcmem_slat_map *m)
{
	struct soft_slat *s = to_soft(slat);
	u64 prot = m->prot & ENT_PROT;
	struct soft_table *t;
	long n;

	bitmap_zero(m->newly, OVCMEM_BLOCK_PAGES);
	m->large_delta = 0;
	xa_lock(&s->dir);
	t = xa_load(&s->dir, m->gfn / OVCMEM_BLOCK_PAGES);
	if (!t)
		n = -EAGAIN;
	else if (m->large)
		n = map_large(t, m, prot);
	else if (is_large(t))
		n = 0;	/* mapped whole already, by a fault that won a race */
	else
		n = map_small(t, m, prot);
	xa_unlock(&s->dir);
	return n;
}

/* Report one cleared entry's writes, if any; under the SLAT lock. */
static void report_dirty(u64 e, u64 gfn, u64 npages,
			 const struct ovcmem_slat_unmap_cb *cb)
{
	if (cb->dirty && (e & (ENT_DIRTY | ENT_WRITTEN)))
		cb->dirty(cb->arg, gfn, npages, ent_pfn(e), e & ENT_DIRTY,
			  e & ENT_WRITTEN);
}

/* Clear [lo, hi) of one table; report runs of cleared entries. */
static void unmap_table(struct soft_table *t, u64 base, unsigned int lo,
			unsigned int hi, const struct ovcmem_slat_unmap_cb *cb)
{
	unsigned int i, run = 0;

	if (is_large(t)) {
		report_dirty(t->e[0], base, OVCMEM_BLOCK_PAGES, cb);
		t->e[0] = 0;
		cb->cleared(cb->arg, base, OVCMEM_BLOCK_PAGES, true);
		return;
	}
	for (i = lo; i < hi; i++) {
		if (t->e[i] & ENT_PRESENT) {
			report_dirty(t->e[i], base + i, 1, cb);
			t->e[i] = 0;
			run++;
			continue;
		}
		if (run)
			cb->cleared(cb->arg, base + i - run, run, false);
		run = 0;
	}
	if (run)
		cb->cleared(cb->arg, base + hi - run, run, false);
}

static void soft_unmap(struct ovcmem_slat *slat, u64 gfn, u64 npages,
		       const struct ovcmem_slat_unmap_cb *cb)
{
	struct soft_slat *s = to_soft(slat);
	unsigned long first = gfn / OVCMEM_BLOCK_PAGES;
	unsigned long last = (gfn + npages - 1) / OVCMEM_BLOCK_PAGES;
	struct soft_table *t;
	unsigned long idx;

	if (!npages)
		return;
	/*
	 * Lock per block, so that tearing down a large region does not hold
	 * the spinlock for long; xa_for_each_range copes with the table
	 * changing under it between blocks.
	 */
	xa_for_each_range(&s->dir, idx, t, first, last) {
		u64 base = (u64)idx * OVCMEM_BLOCK_PAGES;
		u64 lo = max(gfn, base);
		u64 hi = min(gfn + npages, base + OVCMEM_BLOCK_PAGES);

		xa_lock(&s->dir);
		t = xa_load(&s->dir, idx);
		if (t)
			unmap_table(t, base, lo - base, hi - base, cb);
		if (t && lo == base && hi == base + OVCMEM_BLOCK_PAGES) {
			__xa_erase(&s->dir, idx);
			free_table(t);
		}
		xa_unlock(&s->dir);
	}
}

static int soft_access(struct ovcmem_slat *slat, u64 gfn, bool write,
		       ovcmem_slat_access_fn fn, void *arg)
{
	struct soft_slat *s = to_soft(slat);
	struct soft_table *t;
	unsigned long pfn;
	int ret = -ENOENT;
	u64 *e;

	xa_lock(&s->dir);
	t = xa_load(&s->dir, gfn / OVCMEM_BLOCK_PAGES);
	if (!t)
		goto out;
	if (is_large(t)) {
		e = &t->e[0];
		pfn = ent_pfn(*e) + gfn % OVCMEM_BLOCK_PAGES;
	} else {
		e = &t->e[gfn % OVCMEM_BLOCK_PAGES];
		pfn = ent_pfn(*e);
	}
	if (!(*e & ENT_PRESENT))
		goto out;
	if (write && !(*e & ENT_WRITE)) {
		ret = -EACCES;
		goto out;
	}
	*e |= ENT_ACCESSED | ENT_YOUNG | (write ? ENT_DIRTY | ENT_WRITTEN : 0);
	fn(arg, pfn_to_page(pfn));
	ret = 0;
out:
	xa_unlock(&s->dir);
	return ret;
}

static u64 soft_age(struct ovcmem_slat *slat, u64 gfn, u64 npages,
		    bool clear)
{
	struct soft_slat *s = to_soft(slat);
	unsigned long first = gfn / OVCMEM_BLOCK_PAGES;
	unsigned long last = (gfn + npages - 1) / OVCMEM_BLOCK_PAGES;
	struct soft_table *t;
	unsigned long idx;
	u64 young = 0, i;

	if (!npages)
		return 0;
	xa_lock(&s->dir);
	xa_for_each_range(&s->dir, idx, t, first, last) {
		u64 base = (u64)idx * OVCMEM_BLOCK_PAGES;
		u64 lo = max(gfn, base) - base;
		u64 hi = min(gfn + npages, base + OVCMEM_BLOCK_PAGES) - base;

		if (is_large(t)) {
			lo = 0;
			hi = 1;
		}
		for (i = lo; i < hi; i++) {
			if (!(t->e[i] & ENT_YOUNG))
				continue;
			young++;
			if (clear)
				t->e[i] &= ~ENT_YOUNG;
		}
	}
	xa_unlock(&s->dir);
	return young;
}

static void scan_bits(u64 e, unsigned long *accessed, unsigned long *dirty,
		      u64 bit, u64 n)
{
	if (accessed && (e & ENT_ACCESSED))
		bitmap_set(accessed, bit, n);
	if (dirty && (e & ENT_DIRTY))
		bitmap_set(dirty, bit, n);
}

/* Scan one table's part [lo, hi) of the range that starts at @gfn. */
static void scan_table(struct soft_table *t, u64 base, u64 lo, u64 hi,
		       u64 gfn, unsigned long *accessed, unsigned long *dirty,
		       u64 clear)
{
	u64 i;

	if (is_large(t)) {
		scan_bits(t->e[0], accessed, dirty, lo - gfn, hi - lo);
		t->e[0] &= ~clear;
		return;
	}
	for (i = lo; i < hi; i++) {
		u64 *e = &t->e[i - base];

		if (!(*e & ENT_PRESENT))
			continue;
		scan_bits(*e, accessed, dirty, i - gfn, 1);
		*e &= ~clear;
	}
}

/*
 * ->scan and ->count run in process context over up to 4 GiB of guest
 * memory: they take the SLAT lock one table at a time, as ->unmap does,
 * so that the aging callbacks never spin behind a whole scan.
 */
static void soft_scan(struct ovcmem_slat *slat, u64 gfn, u64 npages,
		      unsigned long *accessed, unsigned long *dirty,
		      u32 clear_flags)
{
	struct soft_slat *s = to_soft(slat);
	unsigned long first = gfn / OVCMEM_BLOCK_PAGES;
	unsigned long last = (gfn + npages - 1) / OVCMEM_BLOCK_PAGES;
	struct soft_table *t;
	unsigned long idx;
	u64 clear = 0;

	if (!npages)
		return;
	if (clear_flags & OVCMEM_SCAN_CLEAR_ACCESSED)
		clear |= ENT_ACCESSED;
	if (clear_flags & OVCMEM_SCAN_CLEAR_DIRTY)
		clear |= ENT_DIRTY;

	xa_for_each_range(&s->dir, idx, t, first, last) {
		u64 base = (u64)idx * OVCMEM_BLOCK_PAGES;

		xa_lock(&s->dir);
		t = xa_load(&s->dir, idx);
		if (t)
			scan_table(t, base, max(gfn, base),
				   min(gfn + npages, base + OVCMEM_BLOCK_PAGES),
				   gfn, accessed, dirty, clear);
		xa_unlock(&s->dir);
		cond_resched();
	}
}

static void soft_restore(struct ovcmem_slat *slat, u64 gfn, u64 npages,
			 const unsigned long *accessed)
{
	struct soft_slat *s = to_soft(slat);
	unsigned long first = gfn / OVCMEM_BLOCK_PAGES;
	unsigned long last = (gfn + npages - 1) / OVCMEM_BLOCK_PAGES;
	struct soft_table *t;
	unsigned long idx;
	u64 i;

	if (!npages)
		return;
	xa_for_each_range(&s->dir, idx, t, first, last) {
		u64 base = (u64)idx * OVCMEM_BLOCK_PAGES;
		u64 lo = max(gfn, base);
		u64 hi = min(gfn + npages, base + OVCMEM_BLOCK_PAGES);

		xa_lock(&s->dir);
		t = xa_load(&s->dir, idx);
		for (i = lo; t && i < hi; i++) {
			u64 *e = is_large(t) ? &t->e[0] : &t->e[i - base];

			if ((*e & ENT_PRESENT) && test_bit(i - gfn, accessed))
				*e |= ENT_ACCESSED;
		}
		xa_unlock(&s->dir);
		cond_resched();
	}
}

static u64 soft_count(struct ovcmem_slat *slat, u64 gfn, u64 npages)
{
	struct soft_slat *s = to_soft(slat);
	unsigned long first = gfn / OVCMEM_BLOCK_PAGES;
	unsigned long last = (gfn + npages - 1) / OVCMEM_BLOCK_PAGES;
	struct soft_table *t;
	unsigned long idx;
	u64 n = 0, i;

	if (!npages)
		return 0;
	xa_for_each_range(&s->dir, idx, t, first, last) {
		u64 base = (u64)idx * OVCMEM_BLOCK_PAGES;
		u64 lo = max(gfn, base);
		u64 hi = min(gfn + npages, base + OVCMEM_BLOCK_PAGES);

		xa_lock(&s->dir);
		t = xa_load(&s->dir, idx);
		if (t && is_large(t))
			n += hi - lo;
		for (i = lo; t && !is_large(t) && i < hi; i++)
			n += !!(t->e[i - base] & ENT_PRESENT);
		xa_unlock(&s->dir);
	}
	return n;
}

const struct ovcmem_slat_ops ovcmem_soft_slat_ops = {
	.name = "software",
	.create = soft_create,
	.destroy = soft_destroy,
	.prepare = soft_prepare,
	.map = soft_map,
	.unmap = soft_unmap,
	.access = soft_access,
	.age = soft_age,
	.scan = soft_scan,
	.restore = soft_restore,
	.count = soft_count,
};
