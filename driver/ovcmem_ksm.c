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
 * cgroup (the faults are the owner mm's), not to the caller's.
 */
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

#include "ovcmem.h"

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

/*
 * Each VMA that overlaps [@start, @end), whole: with @apply, give it
 * @advice and count it in @changed if its flags really changed (KSM
 * ignores the advice for VMAs it cannot merge and for VMAs already in
 * that state); without, only count the VMAs that would change.
 */
static int ovcmem_ksm_advise_range(struct mm_struct *mm, unsigned long start,
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
		if (!apply) {
			*changed += ovcmem_ksm_vma_differs(vma, advice);
			continue;
		}
		/* A copy: ksm_madvise() may fail after changing it. */
		flags = vma->vm_flags;
		ret = ksm_madvise(vma, vma->vm_start, vma->vm_end, advice,
				  &flags);
		if (ret)
			return ret;
		if (flags != vma->vm_flags) {
			ovcmem_vma_flags_reset(vma, flags);
			(*changed)++;
		}
	}
	return 0;
}

/* Every RAM region's backing; the caller holds the mmap_lock. */
static int ovcmem_ksm_advise_regions(struct ovcmem_partition *p, int advice,
				     bool apply, u64 *changed)
{
	struct ovcmem_mem_region *r;
	int ret;

	list_for_each_entry(r, &p->regions, node) {
		if (!ovcmem_region_is_ram(r))
			continue;
		ret = ovcmem_ksm_advise_range(p->mm, r->uaddr,
					      r->uaddr + r->npages * PAGE_SIZE,
					      advice, apply, changed);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The caller holds the layout lock (read), so the region list stays as it
 * is, and a reference on the mm's users. A balancer may repeat the call
 * every tick: when nothing would change, a look under the mmap_lock for
 * read answers, and the VM's faults never wait for the write lock.
 */
static int ovcmem_ksm_set(struct ovcmem_partition *p, int advice,
			  u64 *changed)
{
	struct mm_struct *mm = p->mm;
	u64 differ = 0;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ovcmem_ksm_advise_regions(p, advice, false, &differ);
	mmap_read_unlock(mm);
	if (!differ)
		return 0;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	ret = ovcmem_ksm_advise_regions(p, advice, true, changed);
	mmap_write_unlock(mm);
	return ret;
}

/**
 * ovcmem_set_mergeable - OVCMEM_SET_MERGEABLE
 * @p: the partition (monitor fd)
 * @uarg: struct ovcmem_set_mergeable
 *
 * Locks: the layout lock (read), then the owner's mmap_lock for write (if
 * anything is to change), as madvise(MADV_MERGEABLE/MADV_UNMERGEABLE)
 * takes it. Unmerging faults
 * private copies in, which invalidates their ranges: the interval
 * notifiers take region->mutex under our mmap_lock, which the lock order
 * allows (we hold no region->mutex); the mm release callback, the one
 * notifier that takes the layout lock, cannot run while we hold a
 * reference on the mm's users.
 *
 * Return: 0 with @uarg->vmas set, -EFAULT, -EINVAL, -EOPNOTSUPP (no
 * CONFIG_KSM), -ESRCH (owner exited, or its owner fd closed), -EINTR
 * (fatal signal before the work began), -ERESTARTSYS (a signal while
 * unmerging: the call is restarted or fails with EINTR, some VMAs done),
 * -ENOMEM.
 */
long ovcmem_set_mergeable(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_set_mergeable sm;
	u64 changed = 0;
	int advice;
	long ret;

	if (copy_from_user(&sm, uarg, sizeof(sm)))
		return -EFAULT;
	if (sm.mergeable > 1 || sm.reserved)
		return -EINVAL;
	if (!IS_ENABLED(CONFIG_KSM))
		return -EOPNOTSUPP;
	advice = sm.mergeable ? MADV_MERGEABLE : MADV_UNMERGEABLE;

	if (ovcmem_partition_owner_gone(p) || !mmget_not_zero(p->mm))
		return -ESRCH;
	if (down_read_killable(&p->layout)) {
		mmput(p->mm);
		return -EINTR;
	}
	/* Under the lock: a closed owner fd has destroyed the regions. */
	if (ovcmem_partition_owner_gone(p))
		ret = -ESRCH;
	else
		ret = ovcmem_ksm_set(p, advice, &changed);
	up_read(&p->layout);
	mmput(p->mm);
	if (ret)
		return ret;

	sm.vmas = changed;
	return copy_to_user(uarg, &sm, sizeof(sm)) ? -EFAULT : 0;
}
