/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ovcmem internals: the objects, how they map onto HMM, and the lock rules.
 *
 * HMM terms (Documentation/mm/hmm.rst, "address space mirroring"):
 *
 *   HMM                      ovcmem
 *   ---------------------    ------------------------------------------
 *   CPU / primary owner      the owner process (its mm backs guest RAM)
 *   device                   the VM, i.e. one partition
 *   device page table        the SLAT (gfn -> host pfn), ovcmem_slat.c
 *   device fault             a GPA intercept: a vCPU access that misses
 *                            in the SLAT, served by ovcmem_fault.c
 *   invalidate callback      ovcmem_notifier.c: the host takes a range
 *                            back (reclaim, migration, THP split, munmap,
 *                            COW after fork); the SLAT entries are cleared
 *                            and the next guest touch faults again
 *
 * Objects and lifetimes:
 *
 *   partition   one VM. Refcounted (kref): the owner fd holds one reference,
 *               every monitor fd another. It holds mmgrab() on the owner mm
 *               (never mmget() for long: the partition must not keep the
 *               address space alive); paths that walk the mm take
 *               mmget_not_zero() for their duration.
 *   region      a range of guest-physical memory of one type (enum
 *               ovcmem_region_type). Owned by the partition's region list.
 *   SLAT        one per partition, behind struct ovcmem_slat_ops.
 *
 * Lock rules (outer to inner):
 *
 *   ovcmem_partitions_lock (mutex)  the global partition list
 *   partition->layout (rw_semaphore)
 *         write: MAP/UNMAP/teardown change the region list;
 *         read: everything that looks regions up and may sleep (vCPU,
 *         fault, prefault, scan, stats). The region list is also an RCU
 *         list so that the host-aging callbacks, which run under the
 *         host's page table lock, can walk it without sleeping. The mm
 *         release callback takes it for read, so the mm notifier is never
 *         unregistered (which waits for that callback) with it held.
 *   mm->mmap_lock (read)            around the backing check and
 *         hmm_range_fault() (one lock hold, so the pages come from VMAs
 *         just checked), and in MAP for the VMA checks; never taken by our
 *         callbacks.
 *         Also (read) in MAP around each chunk's pin_user_pages(), with
 *         the check of the VMA it pins from.
 *         SET_MERGEABLE holds no layout lock across it (region references
 *         instead, as PREFAULT): (write) only to change VMA flags, with no
 *         fault and no charge under it; (read) around each 2 MiB block's
 *         snapshot and unsharing faults, which charge the owner's memcg
 *         and run the interval notifiers (they take region->mutex: no
 *         region->mutex may be held across it). No monitor call holds
 *         the layout lock, or the mmap_lock for write, across work that
 *         may wait on the owner's memcg, so an OOM-killed owner's release
 *         and the OOM reaper never wait on one.
 *   region->mutex                   the lock of the HMM contract: the fault
 *         path checks mmu_interval_read_retry() under it and installs SLAT
 *         entries before dropping it; the invalidate callback takes it
 *         (mutex_trylock when the range is not blockable) and calls
 *         mmu_interval_set_seq() under it. Never held across
 *         hmm_range_fault() or any allocation that may reclaim.
 *   SLAT lock (spinlock, inside ovcmem_slat.c)  the table's entries.
 *         A vCPU access holds it while it touches the host page, which is
 *         what makes an invalidation wait for an access in flight (a
 *         hardware SLAT gets the same from the TLB flush).
 *   region->log_lock (spinlock)     the dirty log; taken under the SLAT
 *         lock when a cleared entry's dirty bit moves to the log, and
 *         alone by SCAN.
 *
 * Dirty pages: a guest write never goes through the owner's page tables,
 * so the driver marks the folio dirty itself (anon and shmem folios only,
 * whose ->dirty_folio is a flag update that never sleeps): at the write,
 * and again when an entry the guest wrote through is cleared, from the
 * invalidate callback, i.e. before the host unmaps the page and looks at
 * its dirty bit (try_to_unmap_one, MADV_FREE, shmem writeback).
 */
#ifndef _OVCMEM_H
#define _OVCMEM_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/version.h>

#include <linux/ovcmem.h>

/*
 * We are out of tree, so we cannot "select MMU_NOTIFIER" as the seed's
 * reviewer suggested; we require it (and HMM_MIRROR for hmm_range_fault)
 * and refuse to build without it instead of carrying #ifdef'd stubs.
 */
#if !IS_ENABLED(CONFIG_MMU_NOTIFIER) || !IS_ENABLED(CONFIG_HMM_MIRROR)
#error "ovcmem requires CONFIG_MMU_NOTIFIER and CONFIG_HMM_MIRROR"
#endif

#if !defined(CONFIG_64BIT) || OVCMEM_PAGE_SIZE != PAGE_SIZE
/* SLAT entries and the SCAN bitmaps assume both. */
#error "ovcmem requires a 64-bit kernel with 4 KiB pages"
#endif

struct ovcmem_slat;

/* Counters of a region; partition totals add the dead regions' ones. */
struct ovcmem_counters {
	atomic64_t pages_mapped;	/* gauge */
	atomic64_t large_entries;	/* gauge */
	atomic64_t intercepts;
	atomic64_t fault_batches;
	atomic64_t fault_retries;
	atomic64_t pages_faulted;
	atomic64_t refaults;
	atomic64_t invalidations;
	atomic64_t pages_invalidated;
	atomic64_t invalidations_nonblock_failed;
	atomic64_t pages_prefaulted;
	atomic64_t young_cleared;
	atomic64_t accesses;
};

/**
 * struct ovcmem_mem_region - one guest-physical range
 * @node: in partition->regions, sorted by @gfn (RCU list)
 * @partition: the partition the region belongs to
 * @type: MMIO, PINNED RAM or MOVABLE RAM; decided once at creation
 * @flags: OVCMEM_REGION_* as given by userspace
 * @gfn: first guest frame
 * @npages: guest pages
 * @uaddr: backing address in the owner mm
 * @mni: interval notifier (MOVABLE RAM only)
 * @mutex: see the lock rules above (MOVABLE RAM only)
 * @invalidated: bit per page, set when an invalidation cleared its SLAT
 *	entry and cleared when it is faulted again (a refault); under @mutex
 * @log_lock: protects @dirty_log (a spinlock: taken under the SLAT lock)
 * @dirty_log: bit per page (RAM only): the guest wrote the page through a
 *	SLAT entry that has gone since, and no SCAN has reported it yet
 * @ref: the partition's list holds one; a PREFAULT working on the region
 *	without the layout lock holds another
 * @dead: set under @mutex when the region is destroyed: a fault that
 *	raced the destruction installs nothing
 * @pages: pinned pages (PINNED RAM only)
 * @stats: counters
 */
struct ovcmem_mem_region {
	struct list_head node;
	struct ovcmem_partition *partition;
	enum ovcmem_region_type type;
	u32 flags;
	u64 gfn;
	u64 npages;
	unsigned long uaddr;
	struct mmu_interval_notifier mni;
	struct mutex mutex;	/* see the lock rules above */
	unsigned long *invalidated;
	spinlock_t log_lock;	/* see above */
	unsigned long *dirty_log;
	refcount_t ref;
	bool dead;
	struct page **pages;
	struct ovcmem_counters stats;
};

/**
 * struct ovcmem_partition - one VM
 * @ref: owner fd + monitor fds
 * @id: unique for the module's lifetime
 * @flags: OVCMEM_PARTITION_*
 * @node: in the global partition list while the owner fd is open
 * @mm: the owner mm (mmgrab)
 * @owner: the owner's thread group pid (for the monitor listing)
 * @user: the creator's user, charged for pinned pages (RLIMIT_MEMLOCK)
 *	and counted against OVCMEM_MAX_PARTITIONS_PER_USER
 * @mn: plain mmu notifier on @mm: release and the host-aging callbacks
 * @mn_registered: @mn is registered and must be unregistered
 * @mm_released: @mm has been torn down (release callback ran)
 * @closed: the owner fd has been released
 * @layout: see the lock rules above
 * @regions: sorted by gfn
 * @nr_regions: entries in @regions
 * @slat: the second-level address translation
 * @dead: counters of regions already unmapped
 */
struct ovcmem_partition {
	struct kref ref;
	u64 id;
	u64 flags;
	struct list_head node;
	struct mm_struct *mm;
	struct pid *owner;
	struct user_struct *user;
	struct mmu_notifier mn;
	bool mn_registered;
	bool mm_released;
	bool closed;
	struct rw_semaphore layout;
	struct list_head regions;
	unsigned int nr_regions;
	struct ovcmem_slat *slat;
	struct ovcmem_counters dead;
};

/* Live objects, for /sys/kernel/debug/ovcmem/objects (leak checks). */
extern atomic_t ovcmem_nr_partitions;
extern atomic_t ovcmem_nr_monitors;
extern atomic_t ovcmem_nr_regions;
extern atomic_t ovcmem_nr_slat_tables;
extern atomic64_t ovcmem_nr_pinned_pages;

/* ovcmem_main.c */
extern struct mutex ovcmem_partitions_lock;
extern struct list_head ovcmem_partitions;

/* ovcmem_partition.c */
long ovcmem_create_partition(void __user *uarg);
void ovcmem_partition_put(struct ovcmem_partition *p);
long ovcmem_monitor_fd(struct ovcmem_partition *p);
bool ovcmem_partition_owner_gone(struct ovcmem_partition *p);

/* ovcmem_region.c */
long ovcmem_map_region(struct ovcmem_partition *p, void __user *uarg);
long ovcmem_unmap_region(struct ovcmem_partition *p, void __user *uarg);
long ovcmem_list_regions(struct ovcmem_partition *p, void __user *uarg);
void ovcmem_destroy_regions(struct ovcmem_partition *p);
struct ovcmem_mem_region *
ovcmem_region_by_gfn(struct ovcmem_partition *p, u64 gfn);
void ovcmem_region_unmap_gfns(struct ovcmem_mem_region *r, u64 gfn, u64 n);
void ovcmem_region_put(struct ovcmem_mem_region *r);
int ovcmem_backing_check(struct mm_struct *mm, unsigned long start,
			 unsigned long end, bool need_all, bool *mergeable);

/*
 * The guest wrote @page: make its folio dirty so that reclaim writes it
 * out instead of dropping it. Callers only hold pages of supported
 * backings (anon, shmem), whose ->dirty_folio never sleeps, so this is
 * fine under a spinlock.
 */
static inline void ovcmem_page_written(struct page *page)
{
	struct folio *folio = page_folio(page);

	if (!folio_test_dirty(folio))
		folio_mark_dirty(folio);
}

static inline u64 ovcmem_region_end(const struct ovcmem_mem_region *r)
{
	return r->gfn + r->npages;
}

static inline bool ovcmem_region_is_ram(const struct ovcmem_mem_region *r)
{
	return r->type != OVCMEM_REGION_TYPE_MMIO;
}

/* ovcmem_fault.c */
int ovcmem_fault_gfn(struct ovcmem_mem_region *r, u64 gfn, bool write,
		     u64 *mapped);
long ovcmem_prefault(struct ovcmem_partition *p, void __user *uarg);

/* ovcmem_notifier.c */
extern const struct mmu_interval_notifier_ops ovcmem_region_mni_ops;
extern const struct mmu_notifier_ops ovcmem_partition_mn_ops;

/* ovcmem_vcpu.c */
long ovcmem_vcpu_run(struct ovcmem_partition *p, void __user *uarg);

/* ovcmem_stats.c */
void ovcmem_counters_add(struct ovcmem_counters *to,
			 const struct ovcmem_counters *from, bool gauges);
void ovcmem_counters_export(const struct ovcmem_counters *c,
			    struct ovcmem_stats *out);
void ovcmem_partition_stats(struct ovcmem_partition *p,
			    struct ovcmem_stats *out);
long ovcmem_get_stats(struct ovcmem_partition *p, void __user *uarg);
long ovcmem_scan(struct ovcmem_partition *p, void __user *uarg);

/* ovcmem_monitor.c */
long ovcmem_list_partitions(void __user *uarg);
long ovcmem_open_partition(void __user *uarg);
long ovcmem_monitor_ioctl(struct ovcmem_partition *p, unsigned int cmd,
			  void __user *uarg);

/* ovcmem_ksm.c */
long ovcmem_set_mergeable(struct ovcmem_partition *p, void __user *uarg);

/* ovcmem_debugfs.c */
void ovcmem_debugfs_init(void);
void ovcmem_debugfs_exit(void);

#endif /* _OVCMEM_H */
