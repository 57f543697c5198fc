// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU: OVCMEM_VCPU_RUN plays a guest touching guest-physical memory.
 *
 * Each access walks the SLAT; on a hit the host page is read or written
 * through kmap_local_page() while the SLAT lock is held, which is what a
 * hardware walk plus TLB gives a real guest: an invalidation cannot free
 * the page under an access in flight. A miss is a GPA intercept, served by
 * the fault path, and the access is retried. Data really moves, so tests
 * can prove nothing is lost across reclaim, swap, migration and THP split.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

/* Pages of a bulk access between two checks for signals. */
#define OVCMEM_VCPU_RESCHED_PAGES 64

/* One access's work on one page (the part of it inside that page). */
struct ovcmem_vcpu_chunk {
	u32 op;
	u32 off;	/* byte offset in the page */
	u32 len;	/* bytes in this page */
	u64 gpa;	/* of the first byte */
	u64 value;	/* READ64 result, WRITE64 value, FILL seed */
	u64 hash;	/* CHECKSUM state */
};

/* Runs under the SLAT lock: no sleeping. */
static void ovcmem_vcpu_touch(void *arg, struct page *page)
{
	struct ovcmem_vcpu_chunk *c = arg;
	u8 *va = kmap_local_page(page);
	u64 *w = (u64 *)(va + c->off);
	u32 i, n = c->len / sizeof(u64);

	switch (c->op) {
	case OVCMEM_ACCESS_READ64:
		c->value = READ_ONCE(*w);
		break;
	case OVCMEM_ACCESS_WRITE64:
		WRITE_ONCE(*w, c->value);
		break;
	case OVCMEM_ACCESS_FILL:
		for (i = 0; i < n; i++)
			w[i] = ovcmem_pattern(c->value, c->gpa + 8 * i);
		break;
	case OVCMEM_ACCESS_CHECKSUM:
		for (i = 0; i < n; i++)
			c->hash = ovcmem_fnv64_word(c->hash, w[i]);
		break;
	}
	kunmap_local(va);
	if (c->op == OVCMEM_ACCESS_WRITE64 || c->op == OVCMEM_ACCESS_FILL) {
		flush_dcache_page(page);
		/*
		 * The write bypassed the owner's page tables: nothing else
		 * tells reclaim (or MADV_FREE's lazy free) that the page
		 * now holds data. The entry's written bit carries it again
		 * when the entry goes, in case the host cleaned it meanwhile.
		 */
		ovcmem_page_written(page);
	}
}

static bool ovcmem_op_writes(u32 op)
{
	return op == OVCMEM_ACCESS_WRITE64 || op == OVCMEM_ACCESS_FILL;
}

/* Reject malformed accesses (an ioctl error, not a guest exit). */
static int ovcmem_access_validate(const struct ovcmem_access *a)
{
	if (a->reserved || !IS_ALIGNED(a->gpa, sizeof(u64)))
		return -EINVAL;
	switch (a->op) {
	case OVCMEM_ACCESS_READ64:
	case OVCMEM_ACCESS_WRITE64:
		return 0;
	case OVCMEM_ACCESS_FILL:
	case OVCMEM_ACCESS_CHECKSUM:
		if (!a->len || !IS_ALIGNED(a->len, sizeof(u64)) ||
		    a->len > OVCMEM_ACCESS_MAX_LEN ||
		    a->gpa + a->len < a->gpa)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

/*
 * One page of an access. Returns 0 with *@exit set, or -EINTR/-ENOMEM.
 * The caller holds p->layout (read), so @r stays. Entries only ever map
 * pages of backings ovcmem_backing_check() accepts, all of them in the
 * kernel's direct map, so kmap_local_page() is safe on every hit.
 */
static int ovcmem_vcpu_page(struct ovcmem_mem_region *r,
			    struct ovcmem_vcpu_chunk *c, u32 *exit)
{
	struct ovcmem_slat *slat = r->partition->slat;
	u64 gfn = c->gpa >> PAGE_SHIFT;
	bool write = ovcmem_op_writes(c->op);
	int ret;

	for (;;) {
		if (!slat->ops->access(slat, gfn, write, ovcmem_vcpu_touch, c))
			return 0;
		/*
		 * A miss. Pinned regions are mapped whole at creation and are
		 * never invalidated, so a pinned miss means the owner mm was
		 * torn down; either way there is nothing to fault.
		 */
		if (r->type != OVCMEM_REGION_TYPE_MOVABLE_RAM) {
			*exit = OVCMEM_EXIT_FAULT_FAILED;
			return 0;
		}
		atomic64_inc(&r->stats.intercepts);
		ret = ovcmem_fault_gfn(r, gfn, write, NULL);
		if (ret == -EBUSY || ret == -EAGAIN) {
			if (signal_pending(current))
				return -EINTR;
			continue;
		}
		if (ret == -ENOMEM || ret == -EINTR)
			return ret;
		if (ret) {
			/* e.g. the backing was munmapped: defined exit. */
			*exit = OVCMEM_EXIT_FAULT_FAILED;
			return 0;
		}
	}
}

/* Walk an access over its pages; region already resolved and checked. */
static int ovcmem_vcpu_walk(struct ovcmem_mem_region *r,
			    struct ovcmem_access *a, u64 len)
{
	struct ovcmem_vcpu_chunk c = {
		.op = a->op,
		.value = a->value,
		.hash = OVCMEM_FNV64_OFFSET,
	};
	u64 gpa = a->gpa, end = a->gpa + len, seed = a->value;
	unsigned int n = 0;
	int ret;

	while (gpa < end) {
		c.gpa = gpa;
		c.off = offset_in_page(gpa);
		c.len = min_t(u64, end - gpa, PAGE_SIZE - c.off);
		if (c.op == OVCMEM_ACCESS_FILL)
			c.value = seed;
		ret = ovcmem_vcpu_page(r, &c, &a->exit);
		if (ret || a->exit != OVCMEM_EXIT_OK)
			return ret;
		gpa += c.len;
		if (++n % OVCMEM_VCPU_RESCHED_PAGES == 0) {
			if (signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	if (a->op == OVCMEM_ACCESS_CHECKSUM)
		a->value = c.hash;
	else if (a->op == OVCMEM_ACCESS_READ64)
		a->value = c.value;
	return 0;
}

/**
 * ovcmem_vcpu_access - perform one guest access
 * @p: the partition
 * @a: the access; @a->exit and @a->value are filled in
 *
 * The guest sees exits, never errors: a gpa in no region is
 * OVCMEM_EXIT_UNMAPPED. That is legitimate, not a driver bug: the VMM may
 * have unmapped the region (from another thread, racing this vCPU) or the
 * guest may simply touch a hole, so there is no WARN here.
 *
 * The caller holds p->layout for read.
 *
 * Return: 0 (see @a->exit), -EINVAL for a malformed access, -EINTR, or
 * -ENOMEM.
 */
static int ovcmem_vcpu_access(struct ovcmem_partition *p,
			      struct ovcmem_access *a)
{
	u64 len = a->op == OVCMEM_ACCESS_FILL ||
		  a->op == OVCMEM_ACCESS_CHECKSUM ? a->len : sizeof(u64);
	struct ovcmem_mem_region *r;
	int ret;

	a->exit = OVCMEM_EXIT_OK;
	ret = ovcmem_access_validate(a);
	if (ret)
		return ret;

	r = ovcmem_region_by_gfn(p, a->gpa >> PAGE_SHIFT);
	if (!r) {
		a->exit = OVCMEM_EXIT_UNMAPPED;
	} else if (r->type == OVCMEM_REGION_TYPE_MMIO) {
		a->exit = OVCMEM_EXIT_MMIO;
	} else if (ovcmem_op_writes(a->op) &&
		   !(r->flags & OVCMEM_REGION_WRITABLE)) {
		a->exit = OVCMEM_EXIT_PERMISSION;
	} else if (((a->gpa + len - 1) >> PAGE_SHIFT) >= ovcmem_region_end(r)) {
		/* The uapi keeps a bulk access inside one region. */
		ret = -EINVAL;
	} else {
		atomic64_inc(&r->stats.accesses);
		ret = ovcmem_vcpu_walk(r, a, len);
	}
	return ret;
}

/**
 * ovcmem_vcpu_run - OVCMEM_VCPU_RUN
 * @p: the partition (owner fd)
 * @uarg: struct ovcmem_vcpu_run
 *
 * Return: 0 (each access's exit says how it ended), -EINVAL, -EFAULT,
 * -EPERM (not a thread of the owner), -ESRCH (owner gone), -EINTR, -ENOMEM.
 * @done is written back in every case but -EFAULT on the argument itself.
 */
long ovcmem_vcpu_run(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_vcpu_run run;
	struct ovcmem_access *acc;
	void __user *uacc;
	long ret = 0;
	u32 i, n;

	if (copy_from_user(&run, uarg, sizeof(run)))
		return -EFAULT;
	if (run.count > OVCMEM_VCPU_MAX_BATCH)
		return -EINVAL;
	if (ovcmem_partition_owner_gone(p))
		return -ESRCH;
	if (current->mm != p->mm)
		return -EPERM;
	run.done = 0;
	if (!run.count)
		return copy_to_user(uarg, &run, sizeof(run)) ? -EFAULT : 0;

	uacc = u64_to_user_ptr(run.accesses);
	acc = kvmalloc_array(run.count, sizeof(*acc), GFP_KERNEL);
	if (!acc)
		return -ENOMEM;
	if (copy_from_user(acc, uacc, run.count * sizeof(*acc))) {
		kvfree(acc);
		return -EFAULT;
	}

	/*
	 * The layout lock is held across the batch rather than per access,
	 * and let go whenever MAP/UNMAP waits for it, so a batch of small
	 * accesses does not pay for it 4096 times nor holds a writer off.
	 */
	down_read(&p->layout);
	for (i = 0; i < run.count; i++) {
		ret = ovcmem_vcpu_access(p, &acc[i]);
		if (ret || acc[i].exit != OVCMEM_EXIT_OK)
			break;
		run.done++;
		if (signal_pending(current) && i + 1 < run.count) {
			ret = -EINTR;
			break;
		}
		if (rwsem_is_contended(&p->layout) || need_resched()) {
			up_read(&p->layout);
			cond_resched();
			down_read(&p->layout);
		}
	}
	up_read(&p->layout);

	/* Write back every access done, plus the one that stopped us. */
	n = min(run.count, run.done + 1);
	if (copy_to_user(uacc, acc, n * sizeof(*acc)) ||
	    copy_to_user(uarg, &run, sizeof(run)))
		ret = -EFAULT;
	kvfree(acc);
	return ret;
}
