/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SLAT (second level address translation): gfn -> host pfn, per
 * partition, behind an ops table.
 *
 * The built-in backend is a software page table kept by the module
 * (ovcmem_slat.c); it is what makes the whole mechanism testable on any
 * Linux kernel. A hypervisor backend would implement the same operations
 * with map/unmap hypercalls; ->access is then the hardware's own walk and
 * ->age/->scan read the hypervisor's accessed/dirty state.
 *
 * Calling rules, shared by every backend:
 *  - ->prepare may sleep and allocate; it is called before a fault batch
 *    takes the region mutex.
 *  - ->map and ->unmap are called with the owning region's mutex held,
 *    which serialises them for that region; they must not sleep (->unmap
 *    runs in non-blockable invalidations) and ->unmap must not fail: an
 *    entry left behind would let the guest touch a page the host has freed.
 *  - ->access, ->age, ->scan and ->count may run concurrently with
 *    everything; ->age runs under the host's page table lock.
 */
#ifndef _OVCMEM_SLAT_H
#define _OVCMEM_SLAT_H

#include <linux/bitmap.h>
#include <linux/mm_types.h>
#include <linux/types.h>

#include <linux/ovcmem.h>

/* Permissions of an entry (read is implied by presence). */
#define OVCMEM_SLAT_WRITE	BIT(1)
#define OVCMEM_SLAT_EXEC	BIT(2)

/* Guest pages per 2 MiB block, and the gfn of a block's first page. */
#define OVCMEM_BLOCK_PAGES	OVCMEM_LARGE_PAGE_PAGES
#define OVCMEM_BLOCK(gfn)	((gfn) & ~(u64)(OVCMEM_BLOCK_PAGES - 1))

struct ovcmem_slat;

/* Called by ->unmap for every run of entries it cleared. */
typedef void (*ovcmem_slat_cleared_fn)(void *arg, u64 gfn, u64 npages,
				       bool large);

/*
 * Called by ->unmap, under the SLAT lock and before it returns, for each
 * cleared entry the guest wrote through: @logged says the write is not
 * yet reported by ->scan (the dirty log must keep it), @written that the
 * guest wrote the host page since the entry was made (its folio must be
 * dirty before the host looks at it). @pfn is the entry's first host pfn,
 * @npages 1 or 512; the page is still mapped by the host (an invalidation
 * runs before the host unmaps) or pinned.
 */
typedef void (*ovcmem_slat_dirty_fn)(void *arg, u64 gfn, u64 npages,
				     unsigned long pfn, bool logged,
				     bool written);

/* What ->unmap reports to; @dirty may be NULL. */
struct ovcmem_slat_unmap_cb {
	ovcmem_slat_cleared_fn cleared;
	ovcmem_slat_dirty_fn dirty;
	void *arg;
};

/* Called by ->access with the host page, under the SLAT lock. */
typedef void (*ovcmem_slat_access_fn)(void *arg, struct page *page);

/**
 * struct ovcmem_slat_map - one batch of entries for ->map
 * @gfn: first gfn
 * @npages: pages, all inside the 2 MiB block of @gfn
 * @pfns: host pfn of each page
 * @prot: OVCMEM_SLAT_* permissions of the entries
 * @large: make one 2 MiB entry (then @gfn is block-aligned, @npages is
 *	512, the pfns are contiguous and 512-aligned, @wp and @skip NULL)
 * @wp: NULL, or bit i set: page i gets no write permission
 * @skip: NULL, or bit i set: leave page i alone
 * @newly: (out) bit i set: page i had no entry and has one now
 * @large_delta: (out) change in the number of 2 MiB entries
 */
struct ovcmem_slat_map {
	u64 gfn;
	u64 npages;
	const unsigned long *pfns;
	u32 prot;
	bool large;
	const unsigned long *wp;
	const unsigned long *skip;
	DECLARE_BITMAP(newly, OVCMEM_BLOCK_PAGES);
	int large_delta;
};

/**
 * struct ovcmem_slat_ops - a SLAT backend
 * @name: for debugfs
 * @create: a new, empty table (NULL on -ENOMEM)
 * @destroy: free a table; every entry must already be unmapped
 * @prepare: make room for entries in the 2 MiB block holding @gfn
 * @map: install the entries @m describes (see struct ovcmem_slat_map).
 *	Returns the number of pages that had no entry and have one now, or
 *	-EAGAIN if the room made by @prepare is gone (the caller retries).
 * @unmap: clear [@gfn, @gfn + @npages); a 2 MiB entry partly in the range
 *	is cleared whole. Cannot fail. Reports through @cb (see the typedefs).
 * @access: look @gfn up; on a hit with the needed permission call @fn with
 *	the host page under the SLAT lock, set accessed, young and (for
 *	@write) dirty and written, and return 0; -ENOENT on a miss, -EACCES on a write to
 *	an entry without write permission.
 * @age: count entries in the range whose young bit is set; clear the bits
 *	if @clear. A 2 MiB entry counts once.
 * @scan: set bit (gfn - @gfn) in @accessed / @dirty (either may be NULL)
 *	for pages whose entry has the bit; clear bits as @clear_flags
 *	(OVCMEM_SCAN_CLEAR_*) asks.
 * @restore: set the accessed bit again on the entries still present whose
 *	bit is set in @accessed (relative to @gfn): undoes a ->scan that
 *	cleared bits the caller could not hand out
 * @count: number of pages with an entry in the range
 */
struct ovcmem_slat_ops {
	const char *name;
	struct ovcmem_slat *(*create)(void);
	void (*destroy)(struct ovcmem_slat *slat);
	int (*prepare)(struct ovcmem_slat *slat, u64 gfn);
	long (*map)(struct ovcmem_slat *slat, struct ovcmem_slat_map *m);
	void (*unmap)(struct ovcmem_slat *slat, u64 gfn, u64 npages,
		      const struct ovcmem_slat_unmap_cb *cb);
	int (*access)(struct ovcmem_slat *slat, u64 gfn, bool write,
		      ovcmem_slat_access_fn fn, void *arg);
	u64 (*age)(struct ovcmem_slat *slat, u64 gfn, u64 npages, bool clear);
	void (*scan)(struct ovcmem_slat *slat, u64 gfn, u64 npages,
		     unsigned long *accessed, unsigned long *dirty,
		     u32 clear_flags);
	void (*restore)(struct ovcmem_slat *slat, u64 gfn, u64 npages,
			const unsigned long *accessed);
	u64 (*count)(struct ovcmem_slat *slat, u64 gfn, u64 npages);
};

/* Every backend's table starts with this. */
struct ovcmem_slat {
	const struct ovcmem_slat_ops *ops;
};

extern const struct ovcmem_slat_ops ovcmem_soft_slat_ops;

#endif /* _OVCMEM_SLAT_H */
