// SPDX-License-Identifier: GPL-2.0
/*
 * The host's side of the mirror: invalidations and aging.
 *
 * Each MOVABLE RAM region registers an mmu_interval_notifier over its
 * backing range; its invalidate callback clears the SLAT entries the host
 * takes back (reclaim, swap, compaction, migration, THP split, mprotect,
 * munmap, COW after fork, exit). The next guest touch is a GPA intercept
 * that faults whatever the owner maps there then; if nothing is mapped
 * (after munmap) the access ends with OVCMEM_EXIT_FAULT_FAILED.
 *
 * mmu_interval_notifier has no aging callbacks, so each partition also
 * registers a plain mmu_notifier on the owner mm, as KVM does: its
 * clear_young/clear_flush_young/test_young answer the host's LRU with the
 * SLAT's young bits, so that host reclaim sees which pages the guest uses;
 * its release callback clears the whole SLAT when the owner mm goes away.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/rculist.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

/**
 * ovcmem_region_invalidate - the host takes part of a region back
 * @mni: the region's interval notifier
 * @range: what the host invalidates; any range overlapping the region,
 *	possibly not page-aligned at the ends, possibly empty once clamped
 * @cur_seq: the sequence to publish for the fault path's retry check
 *
 * The sequence is published under region->mutex, the lock the fault path
 * holds when it checks mmu_interval_read_retry() and installs entries, so
 * an entry built from pages the host is taking away can never be
 * installed after this returns.
 *
 * Unlike a hypervisor call, clearing a software SLAT entry cannot fail, so
 * the only way this returns false is a non-blockable range (the OOM reaper)
 * finding the mutex held: then we must not sleep, and the core retries
 * the reap later.
 *
 * Return: true when every entry in the range is gone.
 */
static bool ovcmem_region_invalidate(struct mmu_interval_notifier *mni,
				     const struct mmu_notifier_range *range,
				     unsigned long cur_seq)
{
	struct ovcmem_mem_region *r = container_of(mni, struct ovcmem_mem_region,
						   mni);
	unsigned long rend = r->uaddr + r->npages * PAGE_SIZE;
	unsigned long start, end;

	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&r->mutex);
	} else if (!mutex_trylock(&r->mutex)) {
		atomic64_inc(&r->stats.invalidations_nonblock_failed);
		return false;
	}
	mmu_interval_set_seq(mni, cur_seq);

	/* Clamp first: the region bounds are page-aligned, so rounding the
	 * clamped range out to pages keeps it inside the region.
	 */
	start = max(range->start, r->uaddr);
	end = min(range->end, rend);
	if (start < end) {
		start = round_down(start, PAGE_SIZE);
		end = round_up(end, PAGE_SIZE);
		ovcmem_region_unmap_gfns(r, r->gfn +
					 ((start - r->uaddr) >> PAGE_SHIFT),
					 (end - start) >> PAGE_SHIFT);
		atomic64_inc(&r->stats.invalidations);
	}
	mutex_unlock(&r->mutex);
	return true;
}

const struct mmu_interval_notifier_ops ovcmem_region_mni_ops = {
	.invalidate = ovcmem_region_invalidate,
};

static inline struct ovcmem_partition *mn_to_partition(struct mmu_notifier *mn)
{
	return container_of(mn, struct ovcmem_partition, mn);
}

/*
 * The owner mm is being torn down (exit, or our own unregister at close):
 * clear every entry, pinned regions included, as the guest is gone.
 */
static void ovcmem_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct ovcmem_partition *p = mn_to_partition(mn);
	struct ovcmem_mem_region *r;

	down_read(&p->layout);
	WRITE_ONCE(p->mm_released, true);
	list_for_each_entry(r, &p->regions, node) {
		if (!ovcmem_region_is_ram(r))
			continue;
		mutex_lock(&r->mutex);
		ovcmem_region_unmap_gfns(r, r->gfn, r->npages);
		mutex_unlock(&r->mutex);
	}
	up_read(&p->layout);
}

/*
 * Young bits of the entries backed by user addresses [start, end). Runs
 * under the host's page table lock: RCU walk of the regions, and the SLAT
 * spinlock only.
 */
static u64 ovcmem_age_hva(struct ovcmem_partition *p, unsigned long start,
			  unsigned long end, bool clear)
{
	struct ovcmem_slat *slat = p->slat;
	struct ovcmem_mem_region *r;
	unsigned long s, e;
	u64 young = 0, y;

	rcu_read_lock();
	list_for_each_entry_rcu(r, &p->regions, node) {
		if (!ovcmem_region_is_ram(r))
			continue;
		s = max(start, r->uaddr);
		e = min(end, r->uaddr + (unsigned long)r->npages * PAGE_SIZE);
		if (s >= e)
			continue;
		s = round_down(s, PAGE_SIZE);
		e = round_up(e, PAGE_SIZE);
		y = slat->ops->age(slat, r->gfn + ((s - r->uaddr) >> PAGE_SHIFT),
				   (e - s) >> PAGE_SHIFT, clear);
		if (clear)
			atomic64_add(y, &r->stats.young_cleared);
		young += y;
	}
	rcu_read_unlock();
	return young;
}

/* A software SLAT has no TLB to flush: the same as clear_young. */
static int ovcmem_mn_clear_flush_young(struct mmu_notifier *mn,
				       struct mm_struct *mm,
				       unsigned long start, unsigned long end)
{
	return !!ovcmem_age_hva(mn_to_partition(mn), start, end, true);
}

static int ovcmem_mn_clear_young(struct mmu_notifier *mn,
				 struct mm_struct *mm,
				 unsigned long start, unsigned long end)
{
	return !!ovcmem_age_hva(mn_to_partition(mn), start, end, true);
}

static int ovcmem_mn_test_young(struct mmu_notifier *mn,
				struct mm_struct *mm, unsigned long address)
{
	return !!ovcmem_age_hva(mn_to_partition(mn), address,
				address + PAGE_SIZE, false);
}

const struct mmu_notifier_ops ovcmem_partition_mn_ops = {
	.release = ovcmem_mn_release,
	.clear_flush_young = ovcmem_mn_clear_flush_young,
	.clear_young = ovcmem_mn_clear_young,
	.test_young = ovcmem_mn_test_young,
};
