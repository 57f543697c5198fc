// SPDX-License-Identifier: GPL-2.0
/*
 * For the balancer: counters (GET_STATS) and the accessed/dirty scan
 * (SCAN), on owner and monitor fds alike.
 */
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

static void add64(atomic64_t *to, const atomic64_t *from)
{
	atomic64_add(atomic64_read(from), to);
}

/**
 * ovcmem_counters_add - add counters into others
 * @to: the sum
 * @from: what to add
 * @gauges: add the gauges (pages_mapped, large_entries) too; false when
 *	folding a dead region into its partition's totals
 */
void ovcmem_counters_add(struct ovcmem_counters *to,
			 const struct ovcmem_counters *from, bool gauges)
{
	add64(&to->intercepts, &from->intercepts);
	add64(&to->fault_batches, &from->fault_batches);
	add64(&to->fault_retries, &from->fault_retries);
	add64(&to->pages_faulted, &from->pages_faulted);
	add64(&to->refaults, &from->refaults);
	add64(&to->invalidations, &from->invalidations);
	add64(&to->pages_invalidated, &from->pages_invalidated);
	add64(&to->invalidations_nonblock_failed, &from->invalidations_nonblock_failed);
	add64(&to->pages_prefaulted, &from->pages_prefaulted);
	add64(&to->young_cleared, &from->young_cleared);
	add64(&to->accesses, &from->accesses);
	if (gauges) {
		add64(&to->pages_mapped, &from->pages_mapped);
		add64(&to->large_entries, &from->large_entries);
	}
}

void ovcmem_counters_export(const struct ovcmem_counters *c,
			    struct ovcmem_stats *out)
{
	out->pages_mapped = atomic64_read(&c->pages_mapped);
	out->large_entries = atomic64_read(&c->large_entries);
	out->intercepts = atomic64_read(&c->intercepts);
	out->fault_batches = atomic64_read(&c->fault_batches);
	out->fault_retries = atomic64_read(&c->fault_retries);
	out->pages_faulted = atomic64_read(&c->pages_faulted);
	out->refaults = atomic64_read(&c->refaults);
	out->invalidations = atomic64_read(&c->invalidations);
	out->pages_invalidated = atomic64_read(&c->pages_invalidated);
	out->invalidations_nonblock_failed = atomic64_read(&c->invalidations_nonblock_failed);
	out->pages_prefaulted = atomic64_read(&c->pages_prefaulted);
	out->young_cleared = atomic64_read(&c->young_cleared);
	out->accesses = atomic64_read(&c->accesses);
}

/**
 * ovcmem_partition_stats - sum a partition's counters
 * @p: the partition; the caller holds p->layout (read)
 * @out: filled in (reserved fields zeroed)
 */
void ovcmem_partition_stats(struct ovcmem_partition *p,
			    struct ovcmem_stats *out)
{
	struct ovcmem_counters sum = {};
	struct ovcmem_mem_region *r;
	u64 pages = 0;

	ovcmem_counters_add(&sum, &p->dead, false);
	list_for_each_entry(r, &p->regions, node) {
		ovcmem_counters_add(&sum, &r->stats, true);
		if (ovcmem_region_is_ram(r))
			pages += r->npages;
	}
	memset(out, 0, sizeof(*out));
	ovcmem_counters_export(&sum, out);
	out->pages = pages;
}

/**
 * ovcmem_get_stats - OVCMEM_GET_STATS
 * @p: the partition
 * @uarg: struct ovcmem_get_stats
 *
 * Return: 0, -EFAULT, or -ENOENT (no region starts at guest_pfn).
 */
long ovcmem_get_stats(struct ovcmem_partition *p, void __user *uarg)
{
	struct ovcmem_get_stats gs;
	struct ovcmem_mem_region *r;
	long ret = -ENOENT;

	if (copy_from_user(&gs.guest_pfn, uarg, sizeof(gs.guest_pfn)))
		return -EFAULT;

	down_read(&p->layout);
	if (gs.guest_pfn == OVCMEM_STATS_PARTITION) {
		ovcmem_partition_stats(p, &gs.stats);
		ret = 0;
	} else {
		list_for_each_entry(r, &p->regions, node) {
			if (r->gfn != gs.guest_pfn)
				continue;
			memset(&gs.stats, 0, sizeof(gs.stats));
			ovcmem_counters_export(&r->stats, &gs.stats);
			gs.stats.pages = ovcmem_region_is_ram(r) ?
					 r->npages : 0;
			ret = 0;
			break;
		}
	}
	up_read(&p->layout);

	if (!ret && copy_to_user(uarg, &gs, sizeof(gs)))
		ret = -EFAULT;
	return ret;
}

/*
 * Move the dirty log of every RAM region into @dirty for the range
 * [@gfn, @gfn + @npages) (bit i = @gfn + i), clearing the log if @clear;
 * @dirty may be NULL (clear only). The caller holds p->layout (read).
 */
static void ovcmem_scan_logs(struct ovcmem_partition *p, u64 gfn, u64 npages,
			     unsigned long *dirty, bool clear)
{
	struct ovcmem_mem_region *r;
	unsigned long i, lo, hi;

	list_for_each_entry(r, &p->regions, node) {
		if (!r->dirty_log || r->gfn >= gfn + npages ||
		    ovcmem_region_end(r) <= gfn)
			continue;
		lo = max(gfn, r->gfn) - r->gfn;
		hi = min(gfn + npages, ovcmem_region_end(r)) - r->gfn;
		spin_lock(&r->log_lock);
		if (dirty) {
			i = lo;
			while ((i = find_next_bit(r->dirty_log, hi, i)) < hi) {
				__set_bit(i + r->gfn - gfn, dirty);
				i++;
			}
		}
		if (clear)
			bitmap_clear(r->dirty_log, lo, hi - lo);
		spin_unlock(&r->log_lock);
		cond_resched();
	}
}

/*
 * A SCAN that cleared bits could not hand them out: put them back. Dirty
 * bits go to the regions' dirty logs (the next SCAN reports them whether
 * or not their entries still exist); accessed bits go back to the entries
 * still present. The caller holds p->layout (read).
 */
static void ovcmem_scan_restore(struct ovcmem_partition *p, u64 gfn,
				u64 npages, const unsigned long *acc,
				const unsigned long *dirty, u32 flags)
{
	struct ovcmem_mem_region *r;
	unsigned long i, lo, hi;

	if (flags & OVCMEM_SCAN_CLEAR_ACCESSED)
		p->slat->ops->restore(p->slat, gfn, npages, acc);
	if (!(flags & OVCMEM_SCAN_CLEAR_DIRTY))
		return;
	list_for_each_entry(r, &p->regions, node) {
		if (!r->dirty_log || r->gfn >= gfn + npages ||
		    ovcmem_region_end(r) <= gfn)
			continue;
		lo = max(gfn, r->gfn) - gfn;
		hi = min(gfn + npages, ovcmem_region_end(r)) - gfn;
		spin_lock(&r->log_lock);
		i = lo;
		while ((i = find_next_bit(dirty, hi, i)) < hi) {
			__set_bit(i + gfn - r->gfn, r->dirty_log);
			i++;
		}
		spin_unlock(&r->log_lock);
	}
}

/**
 * ovcmem_scan - OVCMEM_SCAN
 * @p: the partition
 * @uarg: struct ovcmem_scan
 *
 * The bitmaps are built in kernel memory (at most 128 KiB each): the SLAT
 * entries' bits and the dirty logs of entries gone since the last SCAN.
 * They are copied out after the locks are dropped; if that fails, the
 * bits a CLEAR flag took are put back (ovcmem_scan_restore()), so a SCAN
 * either hands its bits out or leaves them for the next one.
 *
 * Return: 0, -EINVAL, -EFAULT or -ENOMEM.
 */
long ovcmem_scan(struct ovcmem_partition *p, void __user *uarg)
{
	unsigned long *acc = NULL, *dirty = NULL;
	struct ovcmem_scan s;
	size_t words, bytes;
	long ret = 0;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if (s.reserved || (s.flags & ~OVCMEM_SCAN_FLAGS_ALL) || !s.npages ||
	    s.npages > OVCMEM_SCAN_MAX_PAGES ||
	    s.guest_pfn + s.npages < s.guest_pfn)
		return -EINVAL;

	/* The uapi's bitmaps are __u64 words: size ours the same way. */
	words = DIV_ROUND_UP(s.npages, 64);
	bytes = words * sizeof(u64);
	acc = kvzalloc(bytes, GFP_KERNEL_ACCOUNT);
	/* Collected even when not reported, to put back if we must. */
	if (s.dirty_bitmap || (s.flags & OVCMEM_SCAN_CLEAR_DIRTY))
		dirty = kvzalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!acc || (!dirty && (s.dirty_bitmap ||
				(s.flags & OVCMEM_SCAN_CLEAR_DIRTY)))) {
		ret = -ENOMEM;
		goto out;
	}

	down_read(&p->layout);
	p->slat->ops->scan(p->slat, s.guest_pfn, s.npages, acc, dirty,
			   s.flags);
	ovcmem_scan_logs(p, s.guest_pfn, s.npages, dirty,
			 s.flags & OVCMEM_SCAN_CLEAR_DIRTY);
	up_read(&p->layout);

	s.accessed = bitmap_weight(acc, s.npages);
	s.dirty = s.dirty_bitmap ? bitmap_weight(dirty, s.npages) : 0;
	/* unsigned long and __u64 bitmaps agree on 64-bit little endian. */
	if (copy_to_user(u64_to_user_ptr(s.accessed_bitmap), acc, bytes) ||
	    (s.dirty_bitmap && copy_to_user(u64_to_user_ptr(s.dirty_bitmap), dirty,
				   bytes)) ||
	    copy_to_user(uarg, &s, sizeof(s))) {
		ret = -EFAULT;
		if (s.flags) {
			down_read(&p->layout);
			ovcmem_scan_restore(p, s.guest_pfn, s.npages, acc,
					    dirty, s.flags);
			up_read(&p->layout);
		}
	}
out:
	kvfree(acc);
	kvfree(dirty);
	return ret;
}
