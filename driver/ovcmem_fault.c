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
 * @write_idx: with a per-page request (@range->pfn_flags_mask set), the
 *	page to fault for write, or -1; the inputs are rebuilt before each
 *	try because hmm_range_fault() overwrites them with its outputs
 *
 * The retry loop lives here, not in the callers, so that "locked and
 * current" is the one way out on success. It gives up after
 * HMM_RANGE_DEFAULT_TIMEOUT ms of invalidations racing it, so a caller
 * can check for signals and decide whether to try again.
 *
 * The caller holds a reference on the owner mm's users (the vCPU runs in
 * the owner; PREFAULT takes mmget_not_zero()).
 *
 * Return: 0 with @r->mutex held and every pfn of @range valid and current,
 * -EBUSY on timeout, or the error of hmm_range_fault() (-EFAULT: nothing
 * mapped there any more, e.g. after munmap; -EPERM: no write access).
 */
static int ovcmem_fault_and_lock(struct ovcmem_mem_region *r,
				 struct hmm_range *range, long write_idx)
{
	unsigned long timeout = jiffies +
				msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	unsigned long npages = (range->end - range->start) >> PAGE_SHIFT;
	struct mm_struct *mm = r->partition->mm;
	int ret;

	for (;;) {
		if (range->pfn_flags_mask) {
			memset(range->hmm_pfns, 0,
			       npages * sizeof(*range->hmm_pfns));
			if (write_idx >= 0)
				range->hmm_pfns[write_idx] = HMM_PFN_REQ_WRITE;
		}
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		mmap_read_lock(mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(mm);
		if (!ret) {
			mutex_lock(&r->mutex);
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
		cond_resched();
	}
}

/*
 * One 2 MiB SLAT entry is right only if the batch is the whole 2 MiB block
 * in GFN space (so it lies inside the region), the user address is
 * congruent to the gfn modulo 2 MiB, and the host maps the block with one
 * huge page: then pfns are contiguous and 512-aligned. Anything else gets
 * 4 KiB entries; the decision is per entry, never per region.
 */
static bool ovcmem_fault_large(u64 gfn, u64 npages, unsigned long uaddr,
			       const unsigned long *hmm_pfns)
{
	unsigned long pfn0;
	u64 i;

	if (npages != OVCMEM_BLOCK_PAGES || !IS_ALIGNED(gfn, npages) ||
	    !IS_ALIGNED(uaddr, PMD_SIZE))
		return false;
	if (hmm_pfn_to_map_order(hmm_pfns[0]) < PMD_SHIFT - PAGE_SHIFT)
		return false;
	pfn0 = page_to_pfn(hmm_pfn_to_page(hmm_pfns[0]));
	if (!IS_ALIGNED(pfn0, npages))
		return false;
	for (i = 1; i < npages; i++) {
		if (page_to_pfn(hmm_pfn_to_page(hmm_pfns[i])) != pfn0 + i)
			return false;
	}
	return true;
}

/* Install the faulted pfns; @r->mutex held. Returns pages newly mapped. */
static long ovcmem_fault_install(struct ovcmem_mem_region *r, u64 gfn,
				 u64 npages, unsigned long *pfns,
				 unsigned long uaddr)
{
	struct ovcmem_slat *slat = r->partition->slat;
	DECLARE_BITMAP(newly, OVCMEM_BLOCK_PAGES);
	DECLARE_BITMAP(wp, OVCMEM_BLOCK_PAGES);
	u64 i, refaults = 0;
	bool large, any_wp;
	u32 prot = 0;
	int delta;
	long n;

	/*
	 * hmm_pfn_to_page() is only defined for valid pfns. With
	 * HMM_PFN_REQ_FAULT a successful hmm_range_fault() promises them,
	 * but we check rather than map garbage if that ever changes.
	 * Write permission is per page: what the host's PTE allows.
	 */
	bitmap_zero(wp, OVCMEM_BLOCK_PAGES);
	for (i = 0; i < npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID))
			return -EFAULT;
		if (!(pfns[i] & HMM_PFN_WRITE))
			__set_bit(i, wp);
	}
	any_wp = !bitmap_empty(wp, npages);
	if (r->flags & OVCMEM_REGION_WRITABLE)
		prot |= OVCMEM_SLAT_WRITE;
	if (r->flags & OVCMEM_REGION_EXECUTABLE)
		prot |= OVCMEM_SLAT_EXEC;

	large = ovcmem_fault_large(gfn, npages, uaddr, pfns);
	if (large && any_wp) {
		/* One entry, one permission: all read-only or all 4 KiB. */
		if (bitmap_full(wp, npages))
			prot &= ~OVCMEM_SLAT_WRITE;
		else
			large = false;
	}
	for (i = 0; i < npages; i++)
		pfns[i] = page_to_pfn(hmm_pfn_to_page(pfns[i]));

	bitmap_zero(newly, OVCMEM_BLOCK_PAGES);
	n = slat->ops->map(slat, gfn, npages, pfns, prot,
			   large || !any_wp ? NULL : wp, large, newly, &delta);
	if (n < 0)
		return n;

	/* newly is relative to gfn (block-aligned when large). */
	for_each_set_bit(i, newly, OVCMEM_BLOCK_PAGES) {
		if (__test_and_clear_bit(gfn - r->gfn + i, r->invalidated))
			refaults++;
	}
	atomic64_add(n, &r->stats.pages_mapped);
	atomic64_add(n, &r->stats.pages_faulted);
	atomic64_add(delta, &r->stats.large_entries);
	atomic64_add(refaults, &r->stats.refaults);
	atomic64_inc(&r->stats.fault_batches);
	return n;
}

/* One try at faulting and installing a range, with the given request. */
static int ovcmem_fault_try(struct ovcmem_mem_region *r, u64 gfn,
			    struct hmm_range *range, long write_idx,
			    u64 *mapped)
{
	struct ovcmem_slat *slat = r->partition->slat;
	u64 npages = (range->end - range->start) >> PAGE_SHIFT;
	long n;
	int ret;

	do {
		ret = slat->ops->prepare(slat, gfn);
		if (ret)
			return ret;
		ret = ovcmem_fault_and_lock(r, range, write_idx);
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

/**
 * ovcmem_fault_range - map [@gfn, @gfn + @npages) of a MOVABLE region
 * @r: the region; the caller holds the partition's layout lock (read) and
 *	a reference on the owner mm's users
 * @gfn: first gfn
 * @npages: 1..512 pages, inside @r and inside one 2 MiB block
 * @write_gfn: the gfn the guest writes, or U64_MAX
 * @mapped: pages that had no entry and have one now (may be NULL)
 *
 * A WRITABLE region is faulted for write as a whole batch first, like the
 * seed, so one intercept makes 512 writable entries (or one 2 MiB entry).
 * If the host will not give write access to some page of the batch (say
 * userspace mprotect()ed it), the batch is faulted again for read, with
 * write requested only for the page the guest writes, if any.
 *
 * Return: 0, -EBUSY (timed out racing invalidations: try again), -ENOMEM,
 * -EFAULT or -EPERM (no usable host memory behind the range).
 */
static int ovcmem_fault_range(struct ovcmem_mem_region *r, u64 gfn,
			      u64 npages, u64 write_gfn, u64 *mapped)
{
	struct hmm_range range = {
		.notifier = &r->mni,
		.start = r->uaddr + (gfn - r->gfn) * PAGE_SIZE,
		.end = r->uaddr + (gfn - r->gfn + npages) * PAGE_SIZE,
		.default_flags = HMM_PFN_REQ_FAULT,
	};
	bool writable = r->flags & OVCMEM_REGION_WRITABLE;
	long write_idx = -1;
	int ret;

	range.hmm_pfns = kmalloc_array(npages, sizeof(*range.hmm_pfns),
				       GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (writable)
		range.default_flags |= HMM_PFN_REQ_WRITE;
	ret = ovcmem_fault_try(r, gfn, &range, -1, mapped);
	if (writable && (ret == -EPERM || ret == -EFAULT)) {
		if (write_gfn >= gfn && write_gfn < gfn + npages)
			write_idx = write_gfn - gfn;
		range.default_flags = HMM_PFN_REQ_FAULT;
		range.pfn_flags_mask = HMM_PFN_REQ_WRITE;
		ret = ovcmem_fault_try(r, gfn, &range, write_idx, mapped);
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

	return ovcmem_fault_range(r, start, end - start, write ? gfn : U64_MAX,
				  mapped);
}

static int ovcmem_prefault_range(struct ovcmem_mem_region *r, u64 gfn,
				 u64 npages, u64 *total)
{
	struct ovcmem_slat *slat = r->partition->slat;
	u64 end = gfn + npages, next, mapped;
	int ret;

	for (; gfn < end; gfn = next) {
		next = min(OVCMEM_BLOCK(gfn) + OVCMEM_BLOCK_PAGES, end);
		if (slat->ops->count(slat, gfn, next - gfn) == next - gfn)
			continue;
		if (signal_pending(current))
			return -EINTR;
		do {
			mapped = 0;
			ret = ovcmem_fault_range(r, gfn, next - gfn, U64_MAX,
						 &mapped);
		} while (ret == -EBUSY && !signal_pending(current));
		if (ret)
			return ret == -EBUSY ? -EINTR : ret;
		*total += mapped;
		atomic64_add(mapped, &r->stats.pages_prefaulted);
		cond_resched();
	}
	return 0;
}

/**
 * ovcmem_prefault - OVCMEM_PREFAULT
 * @p: the partition (owner or monitor fd)
 * @uarg: struct ovcmem_prefault
 *
 * Return: 0, -EINVAL (range not inside one MOVABLE RAM region), -ESRCH
 * (owner gone), -EINTR (pages_mapped is partial), -EFAULT, -ENOMEM.
 */
long ovcmem_prefault(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_prefault pf;
	struct ovcmem_mem_region *r;
	u64 total = 0;
	long ret;

	if (copy_from_user(&pf, uarg, sizeof(pf)))
		return -EFAULT;
	if (!pf.npages || pf.npages > OVCMEM_SCAN_MAX_PAGES ||
	    pf.guest_pfn + pf.npages < pf.guest_pfn)
		return -EINVAL;
	if (READ_ONCE(p->closed) || READ_ONCE(p->mm_released) ||
	    !mmget_not_zero(p->mm))
		return -ESRCH;

	down_read(&p->layout);
	r = ovcmem_region_by_gfn(p, pf.guest_pfn);
	if (!r || r->type != OVCMEM_REGION_TYPE_MOVABLE_RAM ||
	    pf.guest_pfn + pf.npages > ovcmem_region_end(r))
		ret = -EINVAL;
	else
		ret = ovcmem_prefault_range(r, pf.guest_pfn, pf.npages,
					    &total);
	up_read(&p->layout);
	/* Not under the layout lock: the last mmput() may run exit_mmap. */
	mmput(p->mm);

	pf.pages_mapped = total;
	if ((!ret || ret == -EINTR) && copy_to_user(uarg, &pf, sizeof(pf)))
		return -EFAULT;
	return ret;
}
