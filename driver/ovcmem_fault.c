// SPDX-License-Identifier: GPL-2.0
/*
 * The fault path: a GPA intercept (or a PREFAULT) on a MOVABLE RAM region
 * faults the host pages in with hmm_range_fault() and installs SLAT
 * entries, following Documentation/mm/hmm.rst step by step:
 *
 *   again:
 *	range.notifier_seq = mmu_interval_read_begin(&interval_sub);
 *	mmap_read_lock(mm); ret = hmm_range_fault(&range); mmap_read_unlock(mm);
 *	if (ret == -EBUSY) goto again;
 *	take_lock(driver->update);
 *	if (mmu_interval_read_retry(&interval_sub, range.notifier_seq)) {
 *		release_lock(driver->update); goto again;
 *	}
 *	use pfns, update the device page table;
 *	release_lock(driver->update);
 *
 * Here driver->update is region->mutex, the lock under which the
 * invalidate callback calls mmu_interval_set_seq().
 */
#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

/**
 * ovcmem_fault_and_lock - fault a range in and lock its region
 * @r: a MOVABLE RAM region
 * @range: the range, with notifier, start, end, pfns and flags set
 * @req_idx: with a per-page request (@range->pfn_flags_mask set), the
 *	only page to fault in, or -1 for none; the inputs are rebuilt
 *	before each try because hmm_range_fault() overwrites them
 * @req: the request flags for that page
 *
 * The retry loop lives here, not in the callers, so that "locked and
 * current" is the one way out on success. It gives up after
 * HMM_RANGE_DEFAULT_TIMEOUT ms of invalidations racing it, so a caller
 * can check for signals and decide whether to try again.
 *
 * The caller holds a reference on the owner mm's users (the vCPU runs in
 * the owner; PREFAULT takes mmget_not_zero()) and on @r (the layout lock
 * for the vCPU, a region reference for PREFAULT).
 *
 * Return: 0 with @r->mutex held and the pfns of @range current (every pfn
 * valid unless a per-page request asked for less), -EBUSY on timeout,
 * -EINTR (fatal signal), -EOPNOTSUPP (the range now maps a backing guest
 * RAM may not use), -EXDEV (the backing is mergeable and @range asks
 * for write on every page), -ENOENT (the region was destroyed meanwhile; only
 * possible for PREFAULT, which runs without the layout lock), or the
 * error of hmm_range_fault() (-EFAULT: nothing mapped there any more,
 * e.g. after munmap; -EPERM: no write access).
 */
static int ovcmem_fault_and_lock(struct ovcmem_mem_region *r,
				 struct hmm_range *range, long req_idx,
				 unsigned long req)
{
	unsigned long timeout = jiffies +
				msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	unsigned long npages = (range->end - range->start) >> PAGE_SHIFT;
	struct mm_struct *mm = r->partition->mm;
	bool mergeable = false;
	int ret;

	for (;;) {
		if (range->pfn_flags_mask) {
			memset(range->hmm_pfns, 0,
			       npages * sizeof(*range->hmm_pfns));
			if (req_idx >= 0)
				range->hmm_pfns[req_idx] = req;
		}
		/* Its notifier is gone: nothing can invalidate what we map. */
		if (READ_ONCE(r->dead))
			return -ENOENT;
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		/*
		 * The backing again, under the lock hmm_range_fault() takes
		 * its pages under: the VMM may have replaced what MAP_REGION
		 * checked (munmap, then secretmem or a device at the same
		 * address). That munmap invalidated the range, so pages
		 * faulted here come from the VMAs just checked.
		 */
		ret = ovcmem_backing_check(mm, range->start, range->end, false,
					   &mergeable);
		/*
		 * A batch faulted for write would break the sharing of every
		 * merged page in it: the caller faults mergeable ranges for
		 * read (and a guest write for its page alone) instead.
		 */
		if (!ret && mergeable &&
		    (range->default_flags & HMM_PFN_REQ_WRITE))
			ret = -EXDEV;
		if (!ret)
			ret = hmm_range_fault(range);
		mmap_read_unlock(mm);
		if (!ret) {
			mutex_lock(&r->mutex);
			if (r->dead) {
				mutex_unlock(&r->mutex);
				return -ENOENT;
			}
			if (!mmu_interval_read_retry(range->notifier,
						     range->notifier_seq))
				return 0;
			mutex_unlock(&r->mutex);
			ret = -EBUSY;
		}
		if (ret != -EBUSY)
			return ret;
		atomic64_inc(&r->stats.fault_retries);
		if (time_after(jiffies, timeout))
			return -EBUSY;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
}

/*
 * Whether the host maps the batch with one huge page, read from the order
 * hmm_range_fault() reports for its first pfn instead of from 512 pfns:
 * the batch must be the whole 2 MiB block in GFN space (so it lies inside
 * the region), the user address congruent to the gfn modulo 2 MiB, and
 * the first pfn valid and mapped at PMD order or more. Then one host entry
 * maps the whole block, so hmm_range_fault() filled all 512 pfns from it:
 * all valid, with the same permissions, contiguous from a 512-aligned pfn
 * (checked too, as it costs nothing). Anything else gets 4 KiB entries;
 * the decision is per entry, never per region.
 */
static bool ovcmem_fault_whole_block(u64 gfn, u64 npages, unsigned long uaddr,
				     unsigned long hmm_pfn)
{
	return npages == OVCMEM_BLOCK_PAGES && IS_ALIGNED(gfn, npages) &&
	       IS_ALIGNED(uaddr, PMD_SIZE) && (hmm_pfn & HMM_PFN_VALID) &&
	       hmm_pfn_to_map_order(hmm_pfn) >= PMD_SHIFT - PAGE_SHIFT &&
	       IS_ALIGNED(page_to_pfn(hmm_pfn_to_page(hmm_pfn)), npages);
}

/* Count (and forget) the pages of the batch the host had taken before. */
static u64 ovcmem_fault_refaults(struct ovcmem_mem_region *r, u64 gfn,
				 const unsigned long *newly)
{
	unsigned long first = gfn - r->gfn, i;
	unsigned long end = min_t(u64, first + OVCMEM_BLOCK_PAGES, r->npages);
	u64 refaults = 0;

	/* The common case: nothing in the batch was ever invalidated. */
	if (find_next_bit(r->invalidated, end, first) >= end)
		return 0;
	for_each_set_bit(i, newly, OVCMEM_BLOCK_PAGES) {
		if (__test_and_clear_bit(first + i, r->invalidated))
			refaults++;
	}
	return refaults;
}

/*
 * Install the faulted pfns; @r->mutex held. @pfns holds @npages entries,
 * or only the first when ovcmem_fault_whole_block() holds for it (all a
 * 2 MiB entry needs). Pages without HMM_PFN_VALID
 * (only possible in a snapshot, see ovcmem_fault_range()) are left alone:
 * hmm_pfn_to_page() is undefined for them. Write permission is per page,
 * what the host's PTE allows. Returns pages newly mapped.
 */
static long ovcmem_fault_install(struct ovcmem_mem_region *r, u64 gfn,
				 u64 npages, unsigned long *pfns,
				 unsigned long uaddr)
{
	struct ovcmem_slat *slat = r->partition->slat;
	DECLARE_BITMAP(skip, OVCMEM_BLOCK_PAGES);
	DECLARE_BITMAP(wp, OVCMEM_BLOCK_PAGES);
	struct ovcmem_slat_map m = {
		.gfn = gfn,
		.npages = npages,
		.pfns = pfns,
	};
	unsigned long i;
	long n;

	if (r->flags & OVCMEM_REGION_WRITABLE)
		m.prot |= OVCMEM_SLAT_WRITE;
	if (r->flags & OVCMEM_REGION_EXECUTABLE)
		m.prot |= OVCMEM_SLAT_EXEC;

	/* One host entry, one SLAT entry: nothing to look at per page. */
	if (ovcmem_fault_whole_block(gfn, npages, uaddr, pfns[0])) {
		if (!(pfns[0] & HMM_PFN_WRITE))
			m.prot &= ~OVCMEM_SLAT_WRITE;
		pfns[0] = page_to_pfn(hmm_pfn_to_page(pfns[0]));
		m.large = true;
		goto map;
	}

	/* One pass: classify each page and turn hmm pfns into plain pfns. */
	bitmap_zero(skip, OVCMEM_BLOCK_PAGES);
	bitmap_zero(wp, OVCMEM_BLOCK_PAGES);
	for (i = 0; i < npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID)) {
			__set_bit(i, skip);
			pfns[i] = 0;
			continue;
		}
		if (!(pfns[i] & HMM_PFN_WRITE))
			__set_bit(i, wp);
		pfns[i] = page_to_pfn(hmm_pfn_to_page(pfns[i]));
	}
	m.wp = bitmap_empty(wp, npages) ? NULL : wp;
	m.skip = bitmap_empty(skip, npages) ? NULL : skip;

map:
	n = slat->ops->map(slat, &m);
	if (n < 0)
		return n;

	/* newly is relative to gfn (block-aligned when large). */
	atomic64_add(ovcmem_fault_refaults(r, gfn, m.newly),
		     &r->stats.refaults);
	atomic64_add(n, &r->stats.pages_mapped);
	atomic64_add(n, &r->stats.pages_faulted);
	atomic64_add(m.large_delta, &r->stats.large_entries);
	atomic64_inc(&r->stats.fault_batches);
	return n;
}

/* One try at faulting and installing a range, with the given request. */
static int ovcmem_fault_try(struct ovcmem_mem_region *r, u64 gfn,
			    struct hmm_range *range, long req_idx,
			    unsigned long req, u64 *mapped)
{
	struct ovcmem_slat *slat = r->partition->slat;
	u64 npages = (range->end - range->start) >> PAGE_SHIFT;
	long n;
	int ret;

	do {
		ret = slat->ops->prepare(slat, gfn);
		if (ret)
			return ret;
		ret = ovcmem_fault_and_lock(r, range, req_idx, req);
		if (ret)
			return ret;
		n = ovcmem_fault_install(r, gfn, npages, range->hmm_pfns,
					 range->start);
		mutex_unlock(&r->mutex);
		/* -EAGAIN: the table ->prepare made went away meanwhile. */
	} while (n == -EAGAIN);
	if (n < 0)
		return n;
	if (mapped)
		*mapped = n;
	return 0;
}

/*
 * A whole 2 MiB block (GFN-aligned, inside the region, user address
 * congruent): fault its first page alone and, if the host maps it at PMD
 * order, map the block with one 2 MiB entry from that one pfn. One host
 * entry maps the whole block, so its first pfn says everything the other
 * 511 would (see ovcmem_fault_whole_block()); and the retry check covers
 * the whole region, so an invalidation of any page of the block makes us
 * try again. Saves hmm_range_fault() filling 512 pfns, and their array.
 *
 * Return: as ovcmem_fault_try(), or -ENOTBLK when the host maps the first
 * page with a small page: the caller faults the block page by page.
 */
static int ovcmem_fault_huge_block(struct ovcmem_mem_region *r, u64 gfn,
				   const struct hmm_range *batch, u64 *mapped)
{
	struct ovcmem_slat *slat = r->partition->slat;
	struct hmm_range range = *batch;
	unsigned long hmm_pfn;
	long n;
	int ret;

	range.end = range.start + PAGE_SIZE;
	range.hmm_pfns = &hmm_pfn;
	do {
		ret = slat->ops->prepare(slat, gfn);
		if (ret)
			return ret;
		ret = ovcmem_fault_and_lock(r, &range, -1, 0);
		if (ret)
			return ret;
		if (!ovcmem_fault_whole_block(gfn, OVCMEM_BLOCK_PAGES,
					      range.start, hmm_pfn)) {
			mutex_unlock(&r->mutex);
			return -ENOTBLK;
		}
		n = ovcmem_fault_install(r, gfn, OVCMEM_BLOCK_PAGES, &hmm_pfn,
					 range.start);
		mutex_unlock(&r->mutex);
	} while (n == -EAGAIN);
	if (n < 0)
		return n;
	if (mapped)
		*mapped = n;
	return 0;
}

/**
 * ovcmem_fault_range - map [@gfn, @gfn + @npages) of a MOVABLE region
 * @r: the region; the caller holds the partition's layout lock (read) or
 *	a reference on @r, and a reference on the owner mm's users
 * @gfn: first gfn
 * @npages: 1..512 pages, inside @r and inside one 2 MiB block
 * @need_gfn: the gfn the guest touches, or U64_MAX (prefault)
 * @write: the guest writes @need_gfn
 * @mapped: pages that had no entry and have one now (may be NULL)
 *
 * The batch is faulted as a whole first (for write in a WRITABLE region,
 * like the seed), so one intercept makes 512 entries, or one 2 MiB entry;
 * a whole 2 MiB block is tried by its first page alone before that
 * (ovcmem_fault_huge_block()), so a huge page costs one pfn, not 512.
 * Where the VMM made the backing mergeable (MADV_MERGEABLE, KSM), only
 * @need_gfn is faulted for write, and only if @write: the other pages are
 * faulted for read, so pages KSM merged stay shared and are mapped
 * read-only (hmm_range_fault() reports them without HMM_PFN_WRITE); a
 * guest write to one is a write intercept that comes back here with
 * @write and breaks the sharing of that page alone (COW in the host).
 * If that fails because the host cannot give some page of the batch
 * (a hole left by munmap, a page mprotect()ed read-only), the batch is
 * taken again as a snapshot: only @need_gfn is faulted in (for write if
 * @write), and the other pages are mapped if the host has them present.
 *
 * Return: 0, -EBUSY (timed out racing invalidations: try again), -ENOMEM,
 * -EFAULT or -EPERM (the host cannot give @need_gfn).
 */
static int ovcmem_fault_range(struct ovcmem_mem_region *r, u64 gfn,
			      u64 npages, u64 need_gfn, bool write,
			      u64 *mapped)
{
	struct hmm_range range = {
		.notifier = &r->mni,
		.start = r->uaddr + (gfn - r->gfn) * PAGE_SIZE,
		.end = r->uaddr + (gfn - r->gfn + npages) * PAGE_SIZE,
		.default_flags = HMM_PFN_REQ_FAULT,
	};
	long need_idx = -1;
	int ret;

	if (r->flags & OVCMEM_REGION_WRITABLE)
		range.default_flags |= HMM_PFN_REQ_WRITE;
	if (npages == OVCMEM_BLOCK_PAGES && IS_ALIGNED(gfn, npages) &&
	    IS_ALIGNED(range.start, PMD_SIZE)) {
		ret = ovcmem_fault_huge_block(r, gfn, &range, mapped);
		if (ret != -ENOTBLK && ret != -EXDEV &&
		    ret != -EPERM && ret != -EFAULT)
			return ret;
	}

	range.hmm_pfns = kmalloc_array(npages, sizeof(*range.hmm_pfns),
				       GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (need_gfn >= gfn && need_gfn < gfn + npages)
		need_idx = need_gfn - gfn;
	ret = ovcmem_fault_try(r, gfn, &range, -1, 0, mapped);
	if (ret == -EXDEV) {
		/* Mergeable: keep merged pages shared, mapped read-only. */
		range.default_flags = HMM_PFN_REQ_FAULT;
		if (write && need_idx >= 0) {
			/*
			 * Break the sharing of the page the guest writes, and
			 * only it: hmm_range_fault() faults from the first
			 * page that needs a fault to the end of the range with
			 * that page's flags, so the range is that page alone.
			 */
			range.start += need_idx * PAGE_SIZE;
			range.end = range.start + PAGE_SIZE;
			range.pfn_flags_mask = HMM_PFN_REQ_WRITE;
			gfn = need_gfn;
			need_idx = 0;
			ret = ovcmem_fault_try(r, gfn, &range, 0,
					       HMM_PFN_REQ_WRITE, mapped);
		} else {
			ret = ovcmem_fault_try(r, gfn, &range, -1, 0, mapped);
		}
	}
	if (ret == -EPERM || ret == -EFAULT) {
		range.default_flags = 0;
		range.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
		ret = ovcmem_fault_try(r, gfn, &range, need_idx,
				       HMM_PFN_REQ_FAULT |
				       (write ? HMM_PFN_REQ_WRITE : 0),
				       mapped);
	}
	kfree(range.hmm_pfns);
	return ret;
}

/**
 * ovcmem_fault_gfn - serve a GPA intercept
 * @r: the MOVABLE region holding @gfn (same locking as ovcmem_fault_range)
 * @gfn: the gfn the guest touched
 * @write: the guest writes it
 * @mapped: pages newly mapped (may be NULL)
 *
 * Maps the 2 MiB block around @gfn, aligned in GFN space (not relative to
 * the region's start, which need not be aligned) and clipped to the region,
 * so one intercept serves 512 pages and a congruent THP becomes one entry.
 *
 * Return: as ovcmem_fault_range().
 */
int ovcmem_fault_gfn(struct ovcmem_mem_region *r, u64 gfn, bool write,
		     u64 *mapped)
{
	u64 start = max(OVCMEM_BLOCK(gfn), r->gfn);
	u64 end = min(OVCMEM_BLOCK(gfn) + OVCMEM_BLOCK_PAGES,
		      ovcmem_region_end(r));

	return ovcmem_fault_range(r, start, end - start, gfn, write, mapped);
}

/*
 * Look the region of [@gfn, @gfn + @npages) up and take a reference, so
 * that the fault can run without the layout lock. NULL if the range is
 * not inside one MOVABLE RAM region.
 */
static struct ovcmem_mem_region *
ovcmem_prefault_region(struct ovcmem_partition *p, u64 gfn, u64 npages)
{
	struct ovcmem_mem_region *r;

	r = ovcmem_region_by_gfn(p, gfn);
	if (!r || r->type != OVCMEM_REGION_TYPE_MOVABLE_RAM ||
	    gfn + npages > ovcmem_region_end(r))
		return NULL;
	refcount_inc(&r->ref);
	return r;
}

/*
 * Prefault one 2 MiB block. Neither the layout lock nor a long-lived
 * reference on the owner mm is held across hmm_range_fault(): a monitor
 * may prefault a VM whose cgroup is out of memory, and the charges of the
 * fault then wait for the OOM killer, whose victim (the owner) must be
 * able to exit, release its fd (which takes the layout lock for write)
 * and have its mm reaped meanwhile.
 */
static int ovcmem_prefault_block(struct ovcmem_partition *p,
				 struct ovcmem_mem_region *r, u64 gfn,
				 u64 npages, u64 *mapped)
{
	int ret;

	if (ovcmem_partition_owner_gone(p) || !mmget_not_zero(p->mm))
		return -ESRCH;
	ret = ovcmem_fault_range(r, gfn, npages, U64_MAX, false, mapped);
	mmput(p->mm);
	return ret;
}

/**
 * ovcmem_prefault - OVCMEM_PREFAULT
 * @p: the partition (owner or monitor fd)
 * @uarg: struct ovcmem_prefault
 *
 * Return: 0, -EINVAL (range not inside one MOVABLE RAM region, or the
 * region was unmapped meanwhile), -ESRCH (owner gone, before or during
 * the call), -EINTR or -EBUSY (pages_mapped is partial, as for -ESRCH),
 * -EFAULT, -EOPNOTSUPP, -ENOMEM.
 */
long ovcmem_prefault(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_prefault pf;
	struct ovcmem_mem_region *r;
	struct ovcmem_slat *slat = p->slat;
	u64 total = 0, gfn, end, next, mapped;
	long ret = 0;

	if (copy_from_user(&pf, uarg, sizeof(pf)))
		return -EFAULT;
	if (!pf.npages || pf.npages > OVCMEM_SCAN_MAX_PAGES ||
	    pf.guest_pfn + pf.npages < pf.guest_pfn)
		return -EINVAL;
	if (ovcmem_partition_owner_gone(p))
		return -ESRCH;

	if (down_read_killable(&p->layout))
		return -EINTR;
	r = ovcmem_prefault_region(p, pf.guest_pfn, pf.npages);
	up_read(&p->layout);
	if (!r)
		return -EINVAL;

	end = pf.guest_pfn + pf.npages;
	for (gfn = pf.guest_pfn; gfn < end; gfn = next) {
		next = min(OVCMEM_BLOCK(gfn) + OVCMEM_BLOCK_PAGES, end);
		if (slat->ops->count(slat, gfn, next - gfn) == next - gfn)
			continue;
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		/*
		 * No retry on -EBUSY: the host has been invalidating this block
		 * for HMM_RANGE_DEFAULT_TIMEOUT, i.e. reclaiming it right now.
		 * Warming it against that is wasted work; say so with partial
		 * progress and let the balancer try again on a later tick.
		 */
		mapped = 0;
		ret = ovcmem_prefault_block(p, r, gfn, next - gfn, &mapped);
		if (ret)
			break;
		total += mapped;
		atomic64_add(mapped, &r->stats.pages_prefaulted);
		cond_resched();
	}
	ovcmem_region_put(r);
	/* The region went meanwhile: with its owner, or by UNMAP_REGION. */
	if (ret == -ENOENT)
		ret = ovcmem_partition_owner_gone(p) ? -ESRCH : -EINVAL;

	pf.pages_mapped = total;
	if ((!ret || ret == -EINTR || ret == -EBUSY || ret == -ESRCH) &&
	    copy_to_user(uarg, &pf, sizeof(pf)))
		return -EFAULT;
	return ret;
}
