// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: creation, validation, destruction.
 *
 * A region has exactly one type (enum ovcmem_region_type), decided at
 * creation, rather than a pair of booleans, so each path below tests one
 * thing:
 *   MMIO         no pages and no SLAT entries; every access exits.
 *   PINNED RAM   pinned with FOLL_LONGTERM and mapped whole at creation;
 *                no notifier: the host can neither reclaim nor move it, and
 *                a munmap of the backing leaves the guest the pinned pages
 *                until the region is unmapped (as a hardware SLAT would).
 *   MOVABLE RAM  an mmu_interval_notifier and no SLAT entry at creation;
 *                entries come from GPA intercepts (ovcmem_fault.c) and go
 *                with invalidations (ovcmem_notifier.c).
 */
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/rculist.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

/* Pages pinned per pin_user_pages() call while mapping a region. */
#define OVCMEM_PIN_CHUNK	BIT(16)

/* MAP_DROPPABLE came with 6.11; before, no VMA can be droppable. */
#ifndef VM_DROPPABLE
#define VM_DROPPABLE		VM_NONE
#endif

/* Caller holds p->layout or the RCU read lock. */
struct ovcmem_mem_region *
ovcmem_region_by_gfn(struct ovcmem_partition *p, u64 gfn)
{
	struct ovcmem_mem_region *r;

	list_for_each_entry_rcu(r, &p->regions, node, true) {
		if (gfn >= r->gfn && gfn < ovcmem_region_end(r))
			return r;
	}
	return NULL;
}

struct ovcmem_unmap_ctx {
	struct ovcmem_mem_region *r;
	bool invalidation;
	u64 pages;
};

static void ovcmem_region_cleared(void *arg, u64 gfn, u64 npages,
				  bool large)
{
	struct ovcmem_unmap_ctx *ctx = arg;
	struct ovcmem_mem_region *r = ctx->r;

	ctx->pages += npages;
	atomic64_sub(npages, &r->stats.pages_mapped);
	if (large)
		atomic64_dec(&r->stats.large_entries);
	/* Remember what the host took, to count refaults. */
	if (ctx->invalidation && r->invalidated)
		bitmap_set(r->invalidated, gfn - r->gfn, npages);
}

/*
 * An entry the guest wrote through is going (under the SLAT lock): the
 * folio must be dirty before the host decides whether it can drop the
 * page, and a write SCAN has not reported yet moves to the dirty log.
 */
static void ovcmem_region_dirtied(void *arg, u64 gfn, u64 npages,
				  unsigned long pfn, bool logged, bool written)
{
	struct ovcmem_unmap_ctx *ctx = arg;
	struct ovcmem_mem_region *r = ctx->r;

	if (written)
		ovcmem_page_written(pfn_to_page(pfn));
	if (logged && r->dirty_log) {
		spin_lock(&r->log_lock);
		bitmap_set(r->dirty_log, gfn - r->gfn, npages);
		spin_unlock(&r->log_lock);
	}
}

/**
 * ovcmem_region_clear - clear the SLAT entries of part of a region
 * @r: the region; the caller holds @r->mutex
 * @gfn: first gfn, inside @r
 * @npages: pages, inside @r
 * @invalidation: the host is taking the pages back (count refaults later)
 *
 * Return: pages whose entries were cleared (a 2 MiB entry partly in the
 * range is cleared whole and counts 512).
 */
static u64 ovcmem_region_clear(struct ovcmem_mem_region *r, u64 gfn, u64 npages,
			       bool invalidation)
{
	struct ovcmem_slat *slat = r->partition->slat;
	struct ovcmem_unmap_ctx ctx = { .r = r, .invalidation = invalidation };
	const struct ovcmem_slat_unmap_cb cb = {
		.cleared = ovcmem_region_cleared,
		.dirty = ovcmem_region_dirtied,
		.arg = &ctx,
	};

	lockdep_assert_held(&r->mutex);
	slat->ops->unmap(slat, gfn, npages, &cb);
	return ctx.pages;
}

/* For the notifier: an invalidation of [gfn, gfn + n) of a region. */
void ovcmem_region_unmap_gfns(struct ovcmem_mem_region *r, u64 gfn, u64 n)
{
	u64 pages = ovcmem_region_clear(r, gfn, n, true);

	atomic64_add(pages, &r->stats.pages_invalidated);
}

/*
 * The backings guest RAM may use (docs/guest-ram-backings.md): anonymous
 * memory (THP included) and shmem (memfd, tmpfs, shared anonymous). Their
 * pages are in the kernel's direct map, so the vCPU may touch them, and
 * their ->dirty_folio is a flag update, so a guest write can be carried
 * to the folio from a non-blockable invalidation. Everything else is
 * refused: secretmem (not in the direct map), hugetlb, DAX, VM_IO/PFNMAP/
 * MIXEDMAP device memory (no struct page, or not ours), MAP_DROPPABLE
 * anonymous memory (6.11+: reclaim drops its pages even when dirty, so
 * guest writes would read back as zeroes), and file mappings of other
 * filesystems (their dirtying takes locks and accounts writeback, which
 * an invalidate callback must not do), guest_memfd's included.
 */
static bool ovcmem_vma_backing_ok(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB |
			     VM_DROPPABLE))
		return false;
	if (vma_is_anonymous(vma))
		return true;
	if (!vma->vm_file || vma_is_dax(vma))
		return false;
	return file_inode(vma->vm_file)->i_sb->s_magic == TMPFS_MAGIC;
}

/**
 * ovcmem_backing_check - may guest RAM use what [@start, @end) maps?
 * @mm: the owner mm; the caller holds its mmap_lock
 * @start: first byte, page-aligned
 * @end: end, page-aligned
 * @need_all: a hole is an error; else holes are skipped (the fault path
 *	lets hmm_range_fault() report them)
 * @mergeable: if not NULL, set when a VMA of the range is mergeable
 *	(VM_MERGEABLE: the VMM's MADV_MERGEABLE, KSM), else left alone
 *
 * Called at MAP time and again by the fault path under the same mmap_lock
 * hold as hmm_range_fault(): the VMM may munmap the backing and mmap
 * something else (secretmem, a device) at the same address later.
 *
 * Return: 0, -EFAULT (a hole, with @need_all) or -EOPNOTSUPP (a backing
 * guest RAM may not use).
 */
int ovcmem_backing_check(struct mm_struct *mm, unsigned long start,
			 unsigned long end, bool need_all, bool *mergeable)
{
	struct vm_area_struct *vma;
	unsigned long addr = start;

	mmap_assert_locked(mm);
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end)
			return need_all ? -EFAULT : 0;
		if (need_all && vma->vm_start > addr)
			return -EFAULT;
		if (!ovcmem_vma_backing_ok(vma))
			return -EOPNOTSUPP;
		if (mergeable && (vma->vm_flags & VM_MERGEABLE))
			*mergeable = true;
		addr = vma->vm_end;
	}
	return 0;
}

/*
 * Check that the owner's mm maps [start, end) with a backing we support
 * and the access we need. The fault path checks the backing again (the
 * VMM may munmap and mmap something else later); pinned regions keep the
 * pages they pinned.
 */
static int ovcmem_check_vmas(struct mm_struct *mm, unsigned long start,
			     unsigned long end, bool writable)
{
	struct vm_area_struct *vma;
	unsigned long addr = start;
	int ret;

	mmap_read_lock(mm);
	ret = ovcmem_backing_check(mm, start, end, true, NULL);
	while (!ret && addr < end) {
		vma = vma_lookup(mm, addr);
		if (!(vma->vm_flags & VM_READ) ||
		    (writable && !(vma->vm_flags & VM_WRITE)))
			ret = -EACCES;
		addr = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

/* Map one block's worth of a pinned region: a 2 MiB entry if we can. */
static int ovcmem_pinned_map_block(struct ovcmem_mem_region *r,
				   struct ovcmem_slat_map *m,
				   unsigned long *pfns)
{
	struct ovcmem_slat *slat = r->partition->slat;
	u64 off = m->gfn - r->gfn, i;
	long ret;

	for (i = 0; i < m->npages; i++)
		pfns[i] = page_to_pfn(r->pages[off + i]);
	/* Pinned pages never move, so physical contiguity is enough. */
	m->large = m->npages == OVCMEM_BLOCK_PAGES &&
		   IS_ALIGNED(pfns[0], OVCMEM_BLOCK_PAGES);
	for (i = 1; m->large && i < m->npages; i++)
		m->large = pfns[i] == pfns[0] + i;

	/*
	 * Allocate outside the mutex: the invalidate callback takes a region
	 * mutex from reclaim, so no region mutex is held across an
	 * allocation that may enter reclaim.
	 */
	ret = slat->ops->prepare(slat, m->gfn);
	if (ret)
		return ret;
	mutex_lock(&r->mutex);
	ret = slat->ops->map(slat, m);
	mutex_unlock(&r->mutex);
	if (ret < 0)
		return ret;
	atomic64_add(ret, &r->stats.pages_mapped);
	atomic64_add(m->large_delta, &r->stats.large_entries);
	return 0;
}

static int ovcmem_pinned_map(struct ovcmem_mem_region *r)
{
	struct ovcmem_slat_map m = {};
	unsigned long *pfns;
	u64 gfn, next;
	int ret = 0;

	pfns = kmalloc_array(OVCMEM_BLOCK_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;
	m.pfns = pfns;
	if (r->flags & OVCMEM_REGION_WRITABLE)
		m.prot |= OVCMEM_SLAT_WRITE;
	if (r->flags & OVCMEM_REGION_EXECUTABLE)
		m.prot |= OVCMEM_SLAT_EXEC;
	for (gfn = r->gfn; gfn < ovcmem_region_end(r); gfn = next) {
		next = min(OVCMEM_BLOCK(gfn) + OVCMEM_BLOCK_PAGES,
			   ovcmem_region_end(r));
		m.gfn = gfn;
		m.npages = next - gfn;
		/* -EAGAIN: a table shared with a neighbour went; redo it. */
		do {
			ret = ovcmem_pinned_map_block(r, &m, pfns);
		} while (ret == -EAGAIN);
		if (ret)
			break;
	}
	kfree(pfns);
	return ret;
}

/*
 * Pinned pages count against the creator's RLIMIT_MEMLOCK, as io_uring
 * and iommufd count them: in user->locked_vm (so that forking more owners
 * does not multiply the limit) and, for /proc/PID/status's VmPin, in the
 * owner mm's pinned_vm. CAP_IPC_LOCK lifts the limit, not the counting.
 */
static int ovcmem_charge_pinned(struct ovcmem_partition *p, u64 npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;

	cur = atomic_long_read(&p->user->locked_vm);
	do {
		new = cur + npages;
		if (new < cur ||
		    (new > limit && !capable(CAP_IPC_LOCK)))
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&p->user->locked_vm, &cur, new));
	atomic64_add(npages, &p->mm->pinned_vm);
	return 0;
}

static void ovcmem_uncharge_pinned(struct ovcmem_partition *p, u64 npages)
{
	atomic_long_sub(npages, &p->user->locked_vm);
	atomic64_sub(npages, &p->mm->pinned_vm);
}

/*
 * GUP flags for pinning a chunk of @vma. A pin must hold the page the
 * owner keeps mapping. For a private mapping that is only true once the
 * page is the owner's own anonymous page: a read-only pin of memory never
 * written takes the shared zero page (or a page cache page), and on 6.1
 * the owner's first write then breaks COW and maps a new page the guest
 * never sees. So private mappings are always pinned for write (FOLL_FORCE
 * when the region or the mapping is read-only), which unshares them at
 * pin time, as a write fault would; the page the guest may not write
 * stays read-only in the SLAT. Shared (shmem) mappings pin the page cache
 * page, which every mapping of the file sees.
 */
static unsigned int ovcmem_pin_flags(const struct ovcmem_mem_region *r,
				     const struct vm_area_struct *vma)
{
	unsigned int gup = FOLL_LONGTERM;

	if (r->flags & OVCMEM_REGION_WRITABLE)
		gup |= FOLL_WRITE;
	if (!(vma->vm_flags & VM_SHARED))
		gup |= FOLL_WRITE | FOLL_FORCE;
	return gup;
}

/*
 * pin_user_pages() with the caller holding current's mmap_lock. 6.5
 * dropped its vmas argument; Kbuild tells which prototype this kernel has
 * (OVCMEM_HAVE_PIN_USER_PAGES_VMAS).
 */
static long ovcmem_pin_user_pages(unsigned long addr, unsigned long n,
				  unsigned int gup, struct page **pages)
{
#ifdef OVCMEM_HAVE_PIN_USER_PAGES_VMAS
	return pin_user_pages(addr, n, gup, pages, NULL);
#else
	return pin_user_pages(addr, n, gup, pages);
#endif
}

/*
 * Pin [@addr, @addr + @n pages) into @pages; 0 or a negative errno. Each
 * chunk is pinned under the same mmap_lock hold as the check of the VMA it
 * lies in: between the two, the VMM could otherwise replace the checked
 * backing with one guest RAM may not use (an ext4 file, hugetlb) and have
 * us pin that. The caller is the owner (MAP_REGION), so @mm is current's.
 */
static int ovcmem_pin_range(struct ovcmem_mem_region *r, unsigned long addr,
			    u64 n, struct page **pages, u64 *done)
{
	struct mm_struct *mm = r->partition->mm;
	struct vm_area_struct *vma;
	unsigned int gup;
	long got;
	u64 chunk;

	while (*done < n) {
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		vma = vma_lookup(mm, addr);
		if (!vma || !ovcmem_vma_backing_ok(vma)) {
			mmap_read_unlock(mm);
			return vma ? -EOPNOTSUPP : -EFAULT;
		}
		gup = ovcmem_pin_flags(r, vma);
		chunk = min3(n - *done, (u64)OVCMEM_PIN_CHUNK,
			     (u64)((vma->vm_end - addr) >> PAGE_SHIFT));
		got = ovcmem_pin_user_pages(addr, chunk, gup, pages + *done);
		mmap_read_unlock(mm);
		if (got <= 0)
			return got == -ENOMEM ? -ENOMEM :
			       got == -EINTR ? -EINTR : -EFAULT;
		*done += got;
		addr += (unsigned long)got << PAGE_SHIFT;
	}
	return 0;
}

static int ovcmem_pin(struct ovcmem_mem_region *r)
{
	struct ovcmem_partition *p = r->partition;
	u64 done = 0;
	int ret;

	ret = ovcmem_charge_pinned(p, r->npages);
	if (ret)
		return ret;
	r->pages = kvmalloc_array(r->npages, sizeof(*r->pages),
				  GFP_KERNEL_ACCOUNT);
	if (!r->pages) {
		ovcmem_uncharge_pinned(p, r->npages);
		return -ENOMEM;
	}
	ret = ovcmem_pin_range(r, r->uaddr, r->npages, r->pages, &done);
	atomic64_add(done, &ovcmem_nr_pinned_pages);
	if (ret) {
		unpin_user_pages(r->pages, done);
		atomic64_sub(done, &ovcmem_nr_pinned_pages);
		ovcmem_uncharge_pinned(p, r->npages);
		kvfree(r->pages);
		r->pages = NULL;
	}
	return ret;
}

static void ovcmem_unpin(struct ovcmem_mem_region *r)
{
	/* The guest may have written any of them. */
	unpin_user_pages_dirty_lock(r->pages, r->npages,
				    r->flags & OVCMEM_REGION_WRITABLE);
	atomic64_sub(r->npages, &ovcmem_nr_pinned_pages);
	ovcmem_uncharge_pinned(r->partition, r->npages);
	kvfree(r->pages);
	r->pages = NULL;
}

static enum ovcmem_region_type ovcmem_region_type(struct ovcmem_partition *p,
						  u32 flags)
{
	if (flags & OVCMEM_REGION_MMIO)
		return OVCMEM_REGION_TYPE_MMIO;
	if ((flags & OVCMEM_REGION_PINNED) ||
	    (p->flags & OVCMEM_PARTITION_ENCRYPTED))
		return OVCMEM_REGION_TYPE_PINNED_RAM;
	return OVCMEM_REGION_TYPE_MOVABLE_RAM;
}

/* Argument checks that need no state; see the uapi for each errno. */
static int ovcmem_region_validate(const struct ovcmem_region *u_r)
{
	u64 npages;

	if (u_r->reserved || (u_r->flags & ~OVCMEM_REGION_FLAGS_ALL))
		return -EINVAL;
	if ((u_r->flags & OVCMEM_REGION_MMIO) &&
	    (u_r->flags & OVCMEM_REGION_PINNED))
		return -EINVAL;
	if (!u_r->size || !IS_ALIGNED(u_r->size, PAGE_SIZE) ||
	    !IS_ALIGNED(u_r->userspace_addr, PAGE_SIZE))
		return -EINVAL;
	npages = u_r->size >> PAGE_SHIFT;
	if (npages > OVCMEM_MAX_REGION_PAGES)
		return -E2BIG;
	/* The last gpa must be representable: gfn + npages <= 2^52. */
	if (u_r->guest_pfn > (1ULL << (64 - PAGE_SHIFT)) - npages)
		return -EINVAL;
	if (!(u_r->flags & OVCMEM_REGION_MMIO) &&
	    (u_r->userspace_addr + u_r->size < u_r->userspace_addr ||
	     u_r->userspace_addr + u_r->size > TASK_SIZE))
		return -EINVAL;
	return 0;
}

/* Caller holds p->layout for write. */
static int ovcmem_region_overlaps(struct ovcmem_partition *p,
				  const struct ovcmem_mem_region *n)
{
	unsigned long end = n->uaddr + n->npages * PAGE_SIZE;
	struct ovcmem_mem_region *r;

	list_for_each_entry(r, &p->regions, node) {
		if (n->gfn < ovcmem_region_end(r) && r->gfn < n->gfn + n->npages)
			return -EEXIST;
		if (!ovcmem_region_is_ram(r) || !ovcmem_region_is_ram(n))
			continue;
		if (n->uaddr < r->uaddr + r->npages * PAGE_SIZE &&
		    r->uaddr < end)
			return -EEXIST;
	}
	return 0;
}

/* Insert @n into the gfn-sorted list; RCU readers see it whole or not. */
static void ovcmem_region_link(struct ovcmem_partition *p,
			       struct ovcmem_mem_region *n)
{
	struct ovcmem_mem_region *r;
	struct list_head *pos = &p->regions;

	list_for_each_entry(r, &p->regions, node) {
		if (r->gfn > n->gfn) {
			pos = &r->node;
			break;
		}
	}
	list_add_tail_rcu(&n->node, pos);
	p->nr_regions++;
}

static void ovcmem_region_free(struct ovcmem_mem_region *r)
{
	kvfree(r->invalidated);
	kvfree(r->dirty_log);
	kfree(r);
	atomic_dec(&ovcmem_nr_regions);
}

/* Drop a reference; the last one frees (after an RCU grace period). */
void ovcmem_region_put(struct ovcmem_mem_region *r)
{
	if (refcount_dec_and_test(&r->ref))
		ovcmem_region_free(r);
}

static struct ovcmem_mem_region *
ovcmem_region_alloc(struct ovcmem_partition *p, const struct ovcmem_region *u_r)
{
	struct ovcmem_mem_region *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	atomic_inc(&ovcmem_nr_regions);
	r->partition = p;
	r->flags = u_r->flags;
	r->type = ovcmem_region_type(p, u_r->flags);
	r->gfn = u_r->guest_pfn;
	r->npages = u_r->size >> PAGE_SHIFT;
	r->uaddr = u_r->userspace_addr;
	mutex_init(&r->mutex);
	spin_lock_init(&r->log_lock);
	refcount_set(&r->ref, 1);
	if (r->type == OVCMEM_REGION_TYPE_MOVABLE_RAM) {
		r->invalidated = kvcalloc(BITS_TO_LONGS(r->npages),
					  sizeof(long), GFP_KERNEL_ACCOUNT);
		if (!r->invalidated)
			goto err;
	}
	if (ovcmem_region_is_ram(r)) {
		r->dirty_log = kvcalloc(BITS_TO_LONGS(r->npages), sizeof(long),
					GFP_KERNEL_ACCOUNT);
		if (!r->dirty_log)
			goto err;
	}
	return r;
err:
	ovcmem_region_free(r);
	return NULL;
}

/* Give @r its memory: pins and entries, or a notifier. */
static int ovcmem_region_populate(struct ovcmem_mem_region *r)
{
	struct mm_struct *mm = r->partition->mm;
	int ret;

	switch (r->type) {
	case OVCMEM_REGION_TYPE_MMIO:
		return 0;
	case OVCMEM_REGION_TYPE_PINNED_RAM:
		ret = ovcmem_pin(r);
		if (ret)
			return ret;
		ret = ovcmem_pinned_map(r);
		if (ret) {
			mutex_lock(&r->mutex);
			ovcmem_region_clear(r, r->gfn, r->npages, false);
			mutex_unlock(&r->mutex);
			ovcmem_unpin(r);
		}
		return ret;
	case OVCMEM_REGION_TYPE_MOVABLE_RAM:
		return mmu_interval_notifier_insert(&r->mni, mm, r->uaddr,
						    r->npages * PAGE_SIZE,
						    &ovcmem_region_mni_ops);
	}
	return -EINVAL;
}

/**
 * ovcmem_map_region - OVCMEM_MAP_REGION
 * @p: the partition (owner fd)
 * @uarg: struct ovcmem_mem_region
 *
 * Return: 0, or a negative errno as the uapi lists; nothing changes on
 * failure.
 */
long ovcmem_map_region(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_region u_r;
	struct ovcmem_mem_region *r;
	long ret;

	if (copy_from_user(&u_r, uarg, sizeof(u_r)))
		return -EFAULT;
	ret = ovcmem_region_validate(&u_r);
	if (ret)
		return ret;
	if (ovcmem_partition_owner_gone(p))
		return -ESRCH;
	/* Regions are memory of the owner's mm, mapped by the owner. */
	if (current->mm != p->mm)
		return -EPERM;

	r = ovcmem_region_alloc(p, &u_r);
	if (!r)
		return -ENOMEM;

	down_write(&p->layout);
	ret = -ENOSPC;
	if (p->nr_regions >= OVCMEM_MAX_REGIONS)
		goto err;
	ret = ovcmem_region_overlaps(p, r);
	if (ret)
		goto err;
	if (ovcmem_region_is_ram(r)) {
		ret = ovcmem_check_vmas(p->mm, r->uaddr,
					r->uaddr + r->npages * PAGE_SIZE,
					r->flags & OVCMEM_REGION_WRITABLE);
		if (ret)
			goto err;
	}
	ret = ovcmem_region_populate(r);
	if (ret)
		goto err;
	ovcmem_region_link(p, r);
	up_write(&p->layout);
	return 0;
err:
	up_write(&p->layout);
	ovcmem_region_free(r);
	return ret;
}

/*
 * Take @r out of service; the caller holds p->layout for write and frees
 * @r after an RCU grace period (the host-aging callbacks walk the list
 * under RCU only).
 */
static void ovcmem_region_destroy(struct ovcmem_mem_region *r)
{
	struct ovcmem_partition *p = r->partition;

	list_del_rcu(&r->node);
	p->nr_regions--;
	/* After this no invalidation of the region runs or starts. */
	if (r->type == OVCMEM_REGION_TYPE_MOVABLE_RAM)
		mmu_interval_notifier_remove(&r->mni);
	mutex_lock(&r->mutex);
	/* A PREFAULT holding a reference installs nothing after this. */
	WRITE_ONCE(r->dead, true);
	ovcmem_region_clear(r, r->gfn, r->npages, false);
	mutex_unlock(&r->mutex);
	if (r->type == OVCMEM_REGION_TYPE_PINNED_RAM)
		ovcmem_unpin(r);
	ovcmem_counters_add(&p->dead, &r->stats, false);
}

/**
 * ovcmem_unmap_region - OVCMEM_UNMAP_REGION
 * @p: the partition (owner fd)
 * @uarg: struct ovcmem_mem_region; guest_pfn and size must match a region
 *
 * Only the owner's process gets here (the dispatcher refuses an owner fd
 * used from another mm with -EPERM), so after the owner has exited the
 * regions go with the last close of the owner fd instead. A PREFAULT
 * running on the region holds a reference, not the layout lock: it
 * installs nothing once the region is dead and fails with -EINVAL.
 *
 * Return: 0, -EFAULT, -EINVAL (reserved set) or -ENOENT; the dispatcher
 * returns -EPERM for a monitor fd or a caller outside the owner's mm.
 */
long ovcmem_unmap_region(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_region u_r;
	struct ovcmem_mem_region *r;

	if (copy_from_user(&u_r, uarg, sizeof(u_r)))
		return -EFAULT;
	if (u_r.reserved)
		return -EINVAL;

	down_write(&p->layout);
	list_for_each_entry(r, &p->regions, node) {
		if (r->gfn == u_r.guest_pfn &&
		    r->npages * PAGE_SIZE == u_r.size) {
			ovcmem_region_destroy(r);
			up_write(&p->layout);
			synchronize_rcu();
			ovcmem_region_put(r);
			return 0;
		}
	}
	up_write(&p->layout);
	return -ENOENT;
}

/**
 * ovcmem_destroy_regions - destroy every region of a closing partition
 * @p: the partition; the caller holds p->layout for write
 */
void ovcmem_destroy_regions(struct ovcmem_partition *p)
{
	struct ovcmem_mem_region *r, *tmp;
	LIST_HEAD(dead);

	list_for_each_entry_safe(r, tmp, &p->regions, node) {
		ovcmem_region_destroy(r);
		list_add(&r->node, &dead);
	}
	if (list_empty(&dead))
		return;
	/* One grace period for all of them. */
	synchronize_rcu();
	list_for_each_entry_safe(r, tmp, &dead, node)
		ovcmem_region_put(r);
}

/**
 * ovcmem_list_regions - OVCMEM_LIST_REGIONS
 * @p: the partition (owner or monitor fd)
 * @uarg: struct ovcmem_list_regions
 *
 * Return: 0 or -EFAULT.
 */
long ovcmem_list_regions(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_list_regions lr;
	struct ovcmem_region_info *info;
	struct ovcmem_mem_region *r;
	u32 n = 0, count;
	long ret = 0;

	if (copy_from_user(&lr, uarg, sizeof(lr)))
		return -EFAULT;
	info = kcalloc(OVCMEM_MAX_REGIONS, sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;

	/* Copy out after dropping the lock: copy_to_user may fault. */
	down_read(&p->layout);
	list_for_each_entry(r, &p->regions, node) {
		info[n].guest_pfn = r->gfn;
		info[n].userspace_addr = r->uaddr;
		info[n].size = r->npages * PAGE_SIZE;
		info[n].flags = r->flags;
		info[n].type = r->type;
		n++;
	}
	up_read(&p->layout);

	count = min(n, lr.capacity);
	if (count && copy_to_user(u64_to_user_ptr(lr.regions), info,
				  count * sizeof(*info)))
		ret = -EFAULT;
	lr.count = n;
	if (!ret && copy_to_user(uarg, &lr, sizeof(lr)))
		ret = -EFAULT;
	kfree(info);
	return ret;
}
