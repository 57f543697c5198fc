// SPDX-License-Identifier: GPL-2.0
/*
 * KSM page sharing of a VM's guest RAM, switched by the balancer.
 *
 * A VMM turns sharing on with madvise(MADV_MERGEABLE) over its guest RAM;
 * the fault path already copes (merged pages mapped read-only, a guest
 * write breaking the sharing of one page). The balancer runs in another
 * process, and process_madvise() refuses MADV_MERGEABLE, so the monitor
 * fd offers the same switch: OVCMEM_SET_MERGEABLE does for the owner's
 * VMAs what the owner's madvise would do, through the kernel's exported
 * ksm_madvise(), as KVM on POWER does for its secure guests.
 *
 * KSM keeps its state per VMA (VM_MERGEABLE), so a VMA that backs a RAM
 * region changes as a whole, including any part of it outside the region.
 * madvise() would split the VMA at the range's ends instead; splitting
 * needs mm internals a module cannot call, and a VMM maps guest RAM with
 * one mapping per region anyway. Neighbouring VMAs left with equal flags
 * are not merged either: that costs a VMA, not correctness.
 *
 * The private copies an unmerge makes are charged to the owner's memory
 * cgroup (the faults are the owner mm's), not to the caller's. That is why
 * unmerging is not left to ksm_madvise(), which faults the copies in under
 * the mmap_lock held for write: a charge that OOM-kills the owner would
 * then keep the OOM reaper (a trylock for read) and the victim's own exit
 * (exit_mm() takes it for read) waiting until the whole VMA is done
 * (issue 17, item 6). Instead the VMAs' flags change under the write lock,
 * which needs no fault and no allocation charged to the owner, and the
 * merged pages of each region are then unshared under the read lock, one
 * 2 MiB block at a time, as ksmd's own unmerge (echo 2 > run) does: the
 * reaper reaps alongside, and the work stops once the owner is dying.
 * No layout lock is held across any of it: region references keep the
 * regions (as PREFAULT does), and the owner's release never waits on us.
 */
#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/oom.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

/*
 * Store the flags ksm_madvise() computed. Since 6.3 vm_flags is written
 * through vm_flags_reset() only, under the VMA's write lock (page faults
 * may run under the per-VMA lock alone, without mmap_lock); before, the
 * mmap_lock held for write was the only lock a writer needed. Kbuild
 * tells which kernel this is (OVCMEM_HAVE_VM_FLAGS_RESET).
 */
static void ovcmem_vma_flags_reset(struct vm_area_struct *vma,
				   unsigned long flags)
{
	mmap_assert_write_locked(vma->vm_mm);
#ifdef OVCMEM_HAVE_VM_FLAGS_RESET
	vma_start_write(vma);
	vm_flags_reset(vma, flags);
#else
	vma->vm_flags = flags;
#endif
}

/*
 * Would @advice change @vma? KSM never marks a shared mapping (a memfd or
 * shmem backing) mergeable, so those never need a change. The check is
 * what ksm_madvise() tests first, without its finer exclusions (VM_IO,
 * hugetlb...), which guest RAM cannot have (ovcmem_backing_check()).
 */
static bool ovcmem_ksm_vma_differs(const struct vm_area_struct *vma,
				   int advice)
{
	bool mergeable = vma->vm_flags & VM_MERGEABLE;

	if (advice == MADV_UNMERGEABLE)
		return mergeable;
	return !mergeable && !(vma->vm_flags & VM_MAYSHARE);
}

/* Looks at one block for merged pages left after unsharing faults. */
#define OVCMEM_KSM_PASSES	4

/* Has ksmd merged pages of @mm that no unmerge has unshared yet? */
static bool ovcmem_ksm_mm_has_merged(struct mm_struct *mm)
{
#ifdef CONFIG_KSM
	return READ_ONCE(mm->ksm_merging_pages);
#else
	return false;
#endif
}

/*
 * Is the owner on its way out (killed, OOM victim, exiting) or gone? Then
 * unsharing stops: the copies would be thrown away with the mm, and every
 * charge for them delays the victim's memory being freed.
 */
static bool ovcmem_ksm_owner_dying(struct ovcmem_partition *p)
{
	struct task_struct *t;
	bool dying = true;

	if (ovcmem_partition_owner_gone(p))
		return true;
	rcu_read_lock();
	t = pid_task(p->owner, PIDTYPE_TGID);
	if (t)
		dying = fatal_signal_pending(t) || tsk_is_oom_victim(t) ||
			(READ_ONCE(t->signal->flags) & SIGNAL_GROUP_EXIT);
	rcu_read_unlock();
	return dying;
}

/*
 * Flip the KSM state of each VMA that overlaps [@start, @end), whole (the
 * caller holds the mmap_lock for write when @apply, else for read), and
 * count in @changed the VMAs whose flags change. MADV_MERGEABLE goes
 * through ksm_madvise(), which only marks the VMA (and registers the mm
 * with ksmd); MADV_UNMERGEABLE only clears VM_MERGEABLE, which stops ksmd
 * merging more there: the pages already merged are unshared afterwards,
 * under the read lock (ovcmem_ksm_unshare_region()).
 */
static int ovcmem_ksm_mark_range(struct mm_struct *mm, unsigned long start,
				 unsigned long end, int advice, bool apply,
				 u64 *changed)
{
	struct vm_area_struct *vma;
	unsigned long flags;
	int ret;

	while (start < end) {
		vma = find_vma_intersection(mm, start, end);
		if (!vma)
			break;
		start = vma->vm_end;
		if (!ovcmem_ksm_vma_differs(vma, advice))
			continue;
		if (!apply) {
			(*changed)++;
			continue;
		}
		flags = vma->vm_flags & ~VM_MERGEABLE;
		if (advice == MADV_MERGEABLE) {
			/* A copy: ksm_madvise() may fail after changing it. */
			flags = vma->vm_flags;
			ret = ksm_madvise(vma, vma->vm_start, vma->vm_end,
					  advice, &flags);
			if (ret)
				return ret;
		}
		if (flags != vma->vm_flags) {
			ovcmem_vma_flags_reset(vma, flags);
			(*changed)++;
		}
	}
	return 0;
}

/* Every live RAM region's backing, under the mmap_lock (see above). */
static int ovcmem_ksm_mark_regions(struct ovcmem_mem_region **regions,
				   unsigned int n, int advice, bool apply,
				   u64 *changed)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		struct ovcmem_mem_region *r = regions[i];

		if (READ_ONCE(r->dead))
			continue;
		ret = ovcmem_ksm_mark_range(r->partition->mm, r->uaddr,
					    r->uaddr + r->npages * PAGE_SIZE,
					    advice, apply, changed);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The flags pass. A balancer may repeat the call every tick: when nothing
 * would change, a look under the mmap_lock for read answers, and the VM's
 * faults never wait for the write lock. The write lock is held across no
 * fault and no allocation charged to the owner's memory cgroup, so it is
 * short; the caller holds a reference on the mm's users.
 */
static int ovcmem_ksm_mark(struct mm_struct *mm,
			   struct ovcmem_mem_region **regions, unsigned int n,
			   int advice, u64 *changed)
{
	u64 differ = 0;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ovcmem_ksm_mark_regions(regions, n, advice, false, &differ);
	mmap_read_unlock(mm);
	if (!differ)
		return 0;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	ret = ovcmem_ksm_mark_regions(regions, n, advice, true, changed);
	mmap_write_unlock(mm);
	return ret;
}

/*
 * Unshare the KSM pages of [@start, @end) of @r (inside one 2 MiB block),
 * under the mmap_lock for read; the caller holds a reference on the mm's
 * users and on @r. A snapshot (no fault) finds the merged pages, and an
 * unsharing fault gives each a private copy, as ksmd's break_ksm() does;
 * the fault may back out (the PTE changed under it), so the block is
 * looked at again until it holds no KSM page (a few times at most: what
 * is left stays shared until written, and a later call retries it). KSM's zero pages
 * (use_zero_pages) are left alone: unsharing one would populate memory the
 * guest never wrote. The snapshot is a hint only, nothing is mapped from
 * it, so it needs no mmu_interval_read_retry().
 *
 * Return: 0, -EINTR (fatal signal), -ENOMEM (the owner's memory cgroup
 * refused a copy), -EFAULT, or -EBUSY (the host kept invalidating the
 * block for HMM_RANGE_DEFAULT_TIMEOUT).
 */
static int ovcmem_ksm_unshare_block(struct ovcmem_mem_region *r,
				    unsigned long start, unsigned long end,
				    unsigned long *pfns)
{
	unsigned long timeout = jiffies +
				msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	struct mm_struct *mm = r->partition->mm;
	struct hmm_range range = {
		.notifier = &r->mni,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
	};
	struct vm_area_struct *vma;
	unsigned long i, addr, found;
	unsigned int passes = 0;
	vm_fault_t fault;
	int ret;

	while (passes < OVCMEM_KSM_PASSES) {
		range.notifier_seq = mmu_interval_read_begin(&r->mni);
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		ret = hmm_range_fault(&range);
		found = 0;
		for (i = 0; !ret && i < (end - start) >> PAGE_SHIFT; i++) {
			if (!(pfns[i] & HMM_PFN_VALID) ||
			    !PageKsm(hmm_pfn_to_page(pfns[i])))
				continue;
			addr = start + (i << PAGE_SHIFT);
			vma = vma_lookup(mm, addr);
			if (!vma)
				continue;
			found++;
			fault = handle_mm_fault(vma, addr, FAULT_FLAG_UNSHARE |
						FAULT_FLAG_REMOTE, NULL);
			if (fault & VM_FAULT_ERROR)
				ret = fault & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
		}
		mmap_read_unlock(mm);
		if (ret == -EBUSY && time_after(jiffies, timeout))
			return -EBUSY;
		if (ret && ret != -EBUSY)
			return ret;
		if (!ret && !found)
			return 0;
		if (fatal_signal_pending(current))
			return -EINTR;
		passes += !ret;
		cond_resched();
	}
	return 0;
}

/*
 * Unshare every merged page of a MOVABLE RAM region, block by block. The
 * mmap_lock is dropped between blocks, and each block takes its own
 * reference on the mm's users: an owner killed meanwhile (by the OOM
 * killer for the very copies we make, say) stops the work at the next
 * block, and its memory can be reaped while we hold the lock for read.
 *
 * Return: 0, -ESRCH (owner dying or gone), -ERESTARTSYS (a signal), or
 * an error of ovcmem_ksm_unshare_block().
 */
static int ovcmem_ksm_unshare_region(struct ovcmem_partition *p,
				     struct ovcmem_mem_region *r,
				     unsigned long *pfns)
{
	unsigned long addr = r->uaddr, end = r->uaddr + r->npages * PAGE_SIZE;
	unsigned long next;
	int ret;

	for (; addr < end; addr = next) {
		next = min(ALIGN(addr + 1, PMD_SIZE), end);
		if (ovcmem_ksm_owner_dying(p))
			return -ESRCH;
		/*
		 * Destroyed meanwhile: by UNMAP_REGION (its pages are no
		 * longer guest RAM: done), or by the owner's release, which
		 * marks the partition closed first.
		 */
		if (READ_ONCE(r->dead))
			return ovcmem_ksm_owner_dying(p) ? -ESRCH : 0;
		if (signal_pending(current))
			return -ERESTARTSYS;
		if (!mmget_not_zero(p->mm))
			return -ESRCH;
		ret = ovcmem_ksm_unshare_block(r, addr, next, pfns);
		mmput(p->mm);
		if (ret)
			return ret;
	}
	return 0;
}

static int ovcmem_ksm_unshare(struct ovcmem_partition *p,
			      struct ovcmem_mem_region **regions,
			      unsigned int n)
{
	unsigned long *pfns;
	unsigned int i;
	int ret = 0;

	pfns = kmalloc_array(OVCMEM_BLOCK_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;
	for (i = 0; i < n && !ret; i++) {
		/* Pinned pages are never merged: KSM skips pinned pages. */
		if (regions[i]->type == OVCMEM_REGION_TYPE_MOVABLE_RAM)
			ret = ovcmem_ksm_unshare_region(p, regions[i], pfns);
	}
	kfree(pfns);
	return ret;
}

/*
 * Take a reference on each RAM region, under the layout lock (read), so
 * that the work runs without it. Return: regions taken, or -EINTR,
 * -ESRCH (a closed owner fd has destroyed the regions).
 */
static int ovcmem_ksm_get_regions(struct ovcmem_partition *p,
				  struct ovcmem_mem_region **regions)
{
	struct ovcmem_mem_region *r;
	int n = 0;

	if (down_read_killable(&p->layout))
		return -EINTR;
	if (ovcmem_partition_owner_gone(p)) {
		up_read(&p->layout);
		return -ESRCH;
	}
	list_for_each_entry(r, &p->regions, node) {
		if (!ovcmem_region_is_ram(r) || n == OVCMEM_MAX_REGIONS)
			continue;
		refcount_inc(&r->ref);
		regions[n++] = r;
	}
	up_read(&p->layout);
	return n;
}

/**
 * ovcmem_set_mergeable - OVCMEM_SET_MERGEABLE
 * @p: the partition (monitor fd)
 * @uarg: struct ovcmem_set_mergeable
 *
 * Locks: the layout lock (read) only to take region references; then,
 * with a reference on the owner mm's users, its mmap_lock for write to
 * change the VMAs' flags (no fault under it), and for unmerging, the
 * mmap_lock for read around each 2 MiB block's unsharing faults. Those
 * faults invalidate their ranges: the interval notifiers take
 * region->mutex under our mmap_lock, which the lock order allows (we hold
 * no region->mutex). See driver/ovcmem.h.
 *
 * Unmerging a VMA clears its flag first (ksmd merges nothing more there),
 * then unshares the pages of each region it backs (pages of the VMA
 * outside every region are left as they are: not guest RAM). If that
 * stops early, the flags stay cleared and some pages stay merged until
 * written; a repeated call with mergeable = 0 unshares the rest (while
 * the owner has merged pages at all) and reports vmas = 0.
 *
 * Return: 0 with @uarg->vmas set, -EFAULT, -EINVAL, -EOPNOTSUPP (no
 * CONFIG_KSM), -ESRCH (owner exited, dying or killed, before or during
 * the call, or its owner fd closed), -EINTR (fatal signal),
 * -ERESTARTSYS (a signal while unmerging: the call is restarted or fails
 * with EINTR), -ENOMEM (the owner's memory cgroup refused a private
 * copy), -EBUSY (the host kept invalidating a block while unmerging).
 */
long ovcmem_set_mergeable(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_mem_region **regions;
	struct ovcmem_set_mergeable sm;
	u64 changed = 0;
	int advice, n, i;
	long ret;

	if (copy_from_user(&sm, uarg, sizeof(sm)))
		return -EFAULT;
	if (sm.mergeable > 1 || sm.reserved)
		return -EINVAL;
	if (!IS_ENABLED(CONFIG_KSM))
		return -EOPNOTSUPP;
	advice = sm.mergeable ? MADV_MERGEABLE : MADV_UNMERGEABLE;
	if (ovcmem_partition_owner_gone(p))
		return -ESRCH;

	regions = kmalloc_array(OVCMEM_MAX_REGIONS, sizeof(*regions),
				GFP_KERNEL);
	if (!regions)
		return -ENOMEM;
	n = ovcmem_ksm_get_regions(p, regions);
	if (n < 0) {
		kfree(regions);
		return n;
	}

	ret = -ESRCH;
	if (mmget_not_zero(p->mm)) {
		ret = ovcmem_ksm_mark(p->mm, regions, n, advice, &changed);
		mmput(p->mm);
	}
	/*
	 * Unshare only if this call cleared a flag or the owner has merged
	 * pages left from a call that stopped early: a balancer repeating
	 * mergeable = 0 on a VM with nothing merged costs no page walk.
	 */
	if (!ret && advice == MADV_UNMERGEABLE &&
	    (changed || ovcmem_ksm_mm_has_merged(p->mm)))
		ret = ovcmem_ksm_unshare(p, regions, n);

	for (i = 0; i < n; i++)
		ovcmem_region_put(regions[i]);
	kfree(regions);
	if (ret)
		return ret;

	sm.vmas = changed;
	return copy_to_user(uarg, &sm, sizeof(sm)) ? -EFAULT : 0;
}
