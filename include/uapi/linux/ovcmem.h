/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ovcmem: unpinned guest memory for overcommitted virtualization hosts.
 *
 * The one interface shared by the kernel module (driver/), the daemon
 * (balancerd/), the tools and the tests. Every field is marked (in) when
 * userspace fills it, (out) when the kernel does, (in/out) for both.
 * Padding and reserved fields must be zero on input; the kernel rejects
 * anything else with -EINVAL so that they can be given meaning later.
 *
 * Objects:
 *   /dev/ovcmem            control device
 *   partition fd           one VM, returned by OVCMEM_CREATE_PARTITION
 *                          (owner fd) or OVCMEM_OPEN_PARTITION (monitor fd)
 *
 * Owner fds accept every partition ioctl but SET_MERGEABLE (-EPERM: the VMM
 * has madvise() for its own memory). Monitor fds (CAP_SYS_ADMIN only)
 * accept GET_STATS, SCAN, PREFAULT, LIST_REGIONS and SET_MERGEABLE: they
 * observe and warm a VM and switch its page sharing, but cannot change its
 * layout or play its vCPU (-EPERM).
 *
 * An owner fd works only in the process that created the partition (the
 * same mm): every ioctl on it from another process fails with -EPERM. Both
 * kinds of fd are O_CLOEXEC; a copy inherited across fork, or passed over
 * a unix socket, can only be closed (the VM lives until the last copy is
 * closed). Monitor fds work in any process that holds them.
 *
 * Guest RAM may only be backed by anonymous memory (THP included) or shmem
 * (memfd, tmpfs, MAP_SHARED|MAP_ANONYMOUS); see docs/guest-ram-backings.md.
 * MOVABLE RAM moves with the host's memory management: NUMA migration,
 * compaction and KSM clear the SLAT entries they touch and the guest's
 * next access maps the new page.
 *
 * Page sharing (KSM) is the VMM's choice, made on the backing memory with
 * madvise(MADV_MERGEABLE) (or prctl(PR_SET_MEMORY_MERGE)), as under KVM;
 * there is no region flag. Where the backing is mergeable, the driver
 * faults pages for read and maps merged pages read-only; a guest write to
 * one takes a write intercept that gives that page alone a private copy,
 * never writing the shared page.
 * Guest writes mark the backing folio dirty (at the write and again when
 * the host takes the page back), so host reclaim, MADV_FREE and shmem
 * swap-out never drop data the guest wrote.
 *
 * Kernel memory a partition uses (regions, bitmaps, SLAT tables) is
 * charged to the memory cgroup of the process that causes it. Pinned pages
 * (PINNED regions, ENCRYPTED partitions) count against the creator's
 * RLIMIT_MEMLOCK (the user's locked_vm, as io_uring counts them) and show
 * as VmPin of the owner; CAP_IPC_LOCK lifts the limit.
 */
#ifndef _UAPI_LINUX_OVCMEM_H
#define _UAPI_LINUX_OVCMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Next to mshv's 0xB8: the driver generalises its movable regions. */
#define OVCMEM_IOCTL_MAGIC 0xB9

#define OVCMEM_DEVICE_PATH "/dev/ovcmem"

/* Guest pages are always 4 KiB, whatever backs them on the host side. */
#define OVCMEM_PAGE_SHIFT 12
#define OVCMEM_PAGE_SIZE (1ULL << OVCMEM_PAGE_SHIFT)
/* A large SLAT entry maps 512 guest pages (2 MiB). */
#define OVCMEM_LARGE_PAGE_SHIFT 21
#define OVCMEM_LARGE_PAGE_PAGES 512

/* ---- /dev/ovcmem ------------------------------------------------------ */

/*
 * Partitions one user may have with an open owner fd at a time
 * (CREATE_PARTITION fails with -ENOSPC beyond it).
 */
#define OVCMEM_MAX_PARTITIONS_PER_USER 64

/* The partition's RAM must stay pinned (SEV/TDX-like guests). */
#define OVCMEM_PARTITION_ENCRYPTED (1ULL << 0)
#define OVCMEM_PARTITION_FLAGS_ALL (OVCMEM_PARTITION_ENCRYPTED)

/**
 * struct ovcmem_create_partition - argument of OVCMEM_CREATE_PARTITION
 * @flags: (in) OVCMEM_PARTITION_* flags
 * @id: (out) partition id, unique for the module's lifetime
 *
 * The ioctl returns a new partition fd (O_CLOEXEC) bound to the calling
 * process's mm: every region of the partition must be memory of that mm,
 * and only that process may use the fd (see the top of this file).
 * -ENOSPC if the caller's user has OVCMEM_MAX_PARTITIONS_PER_USER already.
 */
struct ovcmem_create_partition {
	__u64 flags;
	__u64 id;
};

/**
 * struct ovcmem_partition_info - one partition, as the monitor sees it
 * @id: (out) partition id
 * @flags: (out) OVCMEM_PARTITION_* flags
 * @owner_pid: (out) tgid of the process that created it, in the caller's
 *             pid namespace; 0 once the owner has exited
 * @nr_regions: (out) number of regions mapped
 * @pages: (out) guest pages in all regions
 * @pages_mapped: (out) guest pages with a valid SLAT entry
 */
struct ovcmem_partition_info {
	__u64 id;
	__u64 flags;
	__s32 owner_pid;
	__u32 nr_regions;
	__u64 pages;
	__u64 pages_mapped;
};

/**
 * struct ovcmem_list_partitions - argument of OVCMEM_LIST_PARTITIONS
 * @partitions: (in) user pointer to an array of struct ovcmem_partition_info
 * @capacity: (in) number of elements @partitions has room for (may be 0)
 * @count: (out) number of partitions that exist; only min(@count,
 *         @capacity) elements are written
 *
 * Needs CAP_SYS_ADMIN (-EPERM otherwise).
 */
struct ovcmem_list_partitions {
	__u64 partitions;
	__u32 capacity;
	__u32 count;
};

/**
 * struct ovcmem_open_partition - argument of OVCMEM_OPEN_PARTITION
 * @id: (in) partition id from OVCMEM_LIST_PARTITIONS
 * @reserved: (in) must be 0
 *
 * Returns a monitor fd for the partition. Needs CAP_SYS_ADMIN (-EPERM);
 * -ENOENT if no such partition exists.
 */
struct ovcmem_open_partition {
	__u64 id;
	__u64 reserved;
};

#define OVCMEM_CREATE_PARTITION \
	_IOWR(OVCMEM_IOCTL_MAGIC, 0x00, struct ovcmem_create_partition)
#define OVCMEM_LIST_PARTITIONS \
	_IOWR(OVCMEM_IOCTL_MAGIC, 0x01, struct ovcmem_list_partitions)
#define OVCMEM_OPEN_PARTITION \
	_IOW(OVCMEM_IOCTL_MAGIC, 0x02, struct ovcmem_open_partition)

/* ---- partition fd: regions -------------------------------------------- */

#define OVCMEM_REGION_WRITABLE (1U << 0)
#define OVCMEM_REGION_EXECUTABLE (1U << 1)
/* RAM that must stay resident: pinned with FOLL_LONGTERM at map time. */
#define OVCMEM_REGION_PINNED (1U << 2)
/* Device memory: no pages, every access exits to userspace. */
#define OVCMEM_REGION_MMIO (1U << 3)
#define OVCMEM_REGION_FLAGS_ALL                                   \
	(OVCMEM_REGION_WRITABLE | OVCMEM_REGION_EXECUTABLE |      \
	 OVCMEM_REGION_PINNED | OVCMEM_REGION_MMIO)

/*
 * The type a region gets from its flags and its partition: MMIO if
 * OVCMEM_REGION_MMIO; else PINNED RAM if OVCMEM_REGION_PINNED or the
 * partition is encrypted; else MOVABLE RAM (the default for RAM).
 */
enum ovcmem_region_type {
	OVCMEM_REGION_TYPE_MMIO = 1,
	OVCMEM_REGION_TYPE_PINNED_RAM = 2,
	OVCMEM_REGION_TYPE_MOVABLE_RAM = 3,
};

/**
 * struct ovcmem_region - argument of OVCMEM_MAP_REGION / OVCMEM_UNMAP_REGION
 * @guest_pfn: (in) first guest frame number
 * @userspace_addr: (in) page-aligned address in the owner's mm backing the
 *                  region; for MMIO, any page-aligned address (not touched)
 * @size: (in) bytes, a non-zero multiple of OVCMEM_PAGE_SIZE
 * @flags: (in) OVCMEM_REGION_* flags
 * @reserved: (in) must be 0
 *
 * MAP errors: -EINVAL zero/unaligned size or address, unknown flags, MMIO
 * combined with PINNED, gfn + pages overflow; -EEXIST overlap with another
 * region in GFN space or in user address space; -EFAULT user range not
 * fully mapped in the owner's mm; -EOPNOTSUPP the range maps memory guest
 * RAM may not use (anything but anonymous memory and shmem: secretmem,
 * hugetlb, DAX, VM_IO/VM_PFNMAP/VM_MIXEDMAP device memory, MAP_DROPPABLE
 * memory, files of other filesystems, guest_memfd's included); -EACCES
 * WRITABLE over a mapping that is not writable; -E2BIG more than
 * OVCMEM_MAX_REGION_PAGES pages; -ENOSPC more than
 * OVCMEM_MAX_REGIONS regions; -ENOMEM no memory, or a pinned region would
 * take the creator's pinned pages past RLIMIT_MEMLOCK (without
 * CAP_IPC_LOCK); -ESRCH the owner has exited; -EPERM not the owner's
 * process.
 *
 * The backing is checked again whenever a MOVABLE region faults: if the
 * VMM has replaced it with memory of a refused kind, the access ends with
 * OVCMEM_EXIT_FAULT_FAILED (PREFAULT: -EOPNOTSUPP).
 *
 * A PINNED region over a private mapping is pinned for write even when
 * not WRITABLE (read-only for the guest still): a read-only pin of memory
 * never written would hold the shared zero page, which the VMM's own
 * first write replaces. This allocates the pages at MAP time.
 *
 * UNMAP takes the region whose guest_pfn and size match exactly
 * (-ENOENT otherwise); userspace_addr and flags are ignored. Like every
 * owner fd ioctl it works only in the owner's process (-EPERM elsewhere),
 * so once the owner has exited its regions go with the last close of the
 * owner fd, not with UNMAP. A PREFAULT running on the region stops with
 * -EINVAL and leaves no entry of it behind.
 */
struct ovcmem_region {
	__u64 guest_pfn;
	__u64 userspace_addr;
	__u64 size;
	__u32 flags;
	__u32 reserved;
};

/* 64 GiB of guest pages per region. */
#define OVCMEM_MAX_REGION_PAGES (1ULL << 24)
#define OVCMEM_MAX_REGIONS 256

/**
 * struct ovcmem_region_info - one region, as OVCMEM_LIST_REGIONS reports it
 * @guest_pfn: (out) first guest frame number
 * @userspace_addr: (out) backing address in the owner's mm
 * @size: (out) bytes
 * @flags: (out) OVCMEM_REGION_* flags as given at map time
 * @type: (out) enum ovcmem_region_type
 */
struct ovcmem_region_info {
	__u64 guest_pfn;
	__u64 userspace_addr;
	__u64 size;
	__u32 flags;
	__u32 type;
};

/**
 * struct ovcmem_list_regions - argument of OVCMEM_LIST_REGIONS
 * @regions: (in) user pointer to an array of struct ovcmem_region_info
 * @capacity: (in) elements @regions has room for (may be 0)
 * @count: (out) regions that exist, ordered by guest_pfn
 */
struct ovcmem_list_regions {
	__u64 regions;
	__u32 capacity;
	__u32 count;
};

#define OVCMEM_MAP_REGION _IOW(OVCMEM_IOCTL_MAGIC, 0x10, struct ovcmem_region)
#define OVCMEM_UNMAP_REGION _IOW(OVCMEM_IOCTL_MAGIC, 0x11, struct ovcmem_region)
#define OVCMEM_LIST_REGIONS \
	_IOWR(OVCMEM_IOCTL_MAGIC, 0x12, struct ovcmem_list_regions)

/* ---- partition fd: the vCPU ------------------------------------------- */

/*
 * Access operations. The 64-bit ones need an 8-byte aligned gpa. The bulk
 * ones cover @len bytes from @gpa (8-byte aligned, a multiple of 8, at most
 * OVCMEM_ACCESS_MAX_LEN, inside one region) word by word, so a test can
 * move and check megabytes with one call:
 *   FILL      writes word i (at gpa + 8*i) = ovcmem_pattern(value, gpa + 8*i)
 *   CHECKSUM  returns in @value the FNV-1a-64 of all words read, in order,
 *             each word fed as 8 little-endian bytes
 */
enum ovcmem_access_op {
	OVCMEM_ACCESS_READ64 = 1,
	OVCMEM_ACCESS_WRITE64 = 2,
	OVCMEM_ACCESS_FILL = 3,
	OVCMEM_ACCESS_CHECKSUM = 4,
};

#define OVCMEM_ACCESS_MAX_LEN (64ULL << 20)

/*
 * Why an access ended. Anything but OK stops the batch at that access and
 * is reported in the access itself, as a VM exit would be: the ioctl still
 * returns 0.
 */
enum ovcmem_exit {
	OVCMEM_EXIT_OK = 0,
	OVCMEM_EXIT_MMIO = 1,		/* gpa lies in an MMIO region */
	OVCMEM_EXIT_UNMAPPED = 2,	/* gpa lies in no region */
	OVCMEM_EXIT_PERMISSION = 3,	/* write to a region not WRITABLE */
	OVCMEM_EXIT_FAULT_FAILED = 4,	/* host memory could not be faulted */
};

/**
 * struct ovcmem_access - one guest access
 * @gpa: (in) guest physical address
 * @value: (in/out) WRITE64: value written; FILL: pattern seed;
 *         READ64: value read; CHECKSUM: the checksum
 * @op: (in) enum ovcmem_access_op
 * @len: (in) bytes, for FILL and CHECKSUM; ignored otherwise
 * @exit: (out) enum ovcmem_exit
 * @reserved: (in) must be 0
 */
struct ovcmem_access {
	__u64 gpa;
	__u64 value;
	__u32 op;
	__u32 len;
	__u32 exit;
	__u32 reserved;
};

/**
 * struct ovcmem_vcpu_run - argument of OVCMEM_VCPU_RUN
 * @accesses: (in) user pointer to an array of struct ovcmem_access
 * @count: (in) number of accesses, at most OVCMEM_VCPU_MAX_BATCH
 * @done: (out) accesses completed with OVCMEM_EXIT_OK; the one at index
 *        @done (if < @count) holds the exit that stopped the batch
 *
 * Plays a guest touching guest-physical memory: a SLAT hit reads or writes
 * the host page; a miss is a GPA intercept served by the fault path, then
 * the access is retried. Accessed (and, for writes, dirty) bits are set.
 * Only on the owner fd, and only from a thread of the owner's process
 * (-EPERM otherwise). -EINTR if a signal arrives; @done says how far it got,
 * and the access at index @done was not run (it is no exit): run the rest
 * again from there.
 */
struct ovcmem_vcpu_run {
	__u64 accesses;
	__u32 count;
	__u32 done;
};

#define OVCMEM_VCPU_MAX_BATCH 4096

#define OVCMEM_VCPU_RUN _IOWR(OVCMEM_IOCTL_MAGIC, 0x20, struct ovcmem_vcpu_run)

/* ---- partition fd: for the balancer ----------------------------------- */

/**
 * struct ovcmem_stats - counters of a partition or of one region
 * @pages: guest pages (RAM regions only)
 * @pages_mapped: pages with a valid SLAT entry now
 * @large_entries: 2 MiB SLAT entries now
 * @intercepts: GPA intercepts (SLAT misses) served
 * @fault_batches: hmm_range_fault batches completed
 * @fault_retries: batches restarted because an invalidation raced them
 * @pages_faulted: pages mapped by the fault path (intercepts + prefault)
 * @refaults: pages faulted again after the host had invalidated them
 * @invalidations: notifier invalidate calls that hit the region
 * @pages_invalidated: valid SLAT entries' pages cleared by them
 * @invalidations_nonblock_failed: non-blockable invalidations refused
 *        because the lock was held (the core retries them)
 * @pages_prefaulted: pages mapped by OVCMEM_PREFAULT
 * @young_cleared: accessed bits cleared by host aging (clear_young)
 * @accesses: vCPU accesses performed
 *
 * Counters only grow, except the three "now" gauges; totals survive the
 * region they came from (partition stats include unmapped regions' counts).
 */
struct ovcmem_stats {
	__u64 pages;
	__u64 pages_mapped;
	__u64 large_entries;
	__u64 intercepts;
	__u64 fault_batches;
	__u64 fault_retries;
	__u64 pages_faulted;
	__u64 refaults;
	__u64 invalidations;
	__u64 pages_invalidated;
	__u64 invalidations_nonblock_failed;
	__u64 pages_prefaulted;
	__u64 young_cleared;
	__u64 accesses;
	__u64 reserved[8];
};

/* Select the whole partition rather than one region in GET_STATS. */
#define OVCMEM_STATS_PARTITION (~0ULL)

/**
 * struct ovcmem_get_stats - argument of OVCMEM_GET_STATS
 * @guest_pfn: (in) OVCMEM_STATS_PARTITION, or the guest_pfn of a region
 *             (exact match, -ENOENT otherwise)
 * @stats: (out) the counters
 */
struct ovcmem_get_stats {
	__u64 guest_pfn;
	struct ovcmem_stats stats;
};

#define OVCMEM_SCAN_CLEAR_ACCESSED (1U << 0)
#define OVCMEM_SCAN_CLEAR_DIRTY (1U << 1)
#define OVCMEM_SCAN_FLAGS_ALL \
	(OVCMEM_SCAN_CLEAR_ACCESSED | OVCMEM_SCAN_CLEAR_DIRTY)

/* One SCAN or PREFAULT call covers at most 4 GiB of guest memory. */
#define OVCMEM_SCAN_MAX_PAGES (1ULL << 20)

/**
 * struct ovcmem_scan - argument of OVCMEM_SCAN
 * @guest_pfn: (in) first gfn
 * @npages: (in) gfns to scan, 1..OVCMEM_SCAN_MAX_PAGES; gfns outside any
 *          RAM region read as neither accessed nor dirty
 * @accessed_bitmap: (in) user pointer to ceil(@npages / 64) __u64 words;
 *                   bit i (word i / 64, bit i % 64) = gfn @guest_pfn + i
 *                   was accessed by the vCPU since the last clear
 * @dirty_bitmap: (in) the same for writes; 0 to skip
 * @flags: (in) OVCMEM_SCAN_CLEAR_*: clear the bits after reading them
 * @reserved: (in) must be 0
 * @accessed: (out) number of bits set in @accessed_bitmap
 * @dirty: (out) number of bits set in @dirty_bitmap
 *
 * These bits are the balancer's, kept apart from the ones host aging
 * consumes (young), so neither observer erases what the other needs.
 * A 2 MiB entry reports and clears its bits for all its 512 gfns at once.
 *
 * The dirty log has no gaps: a gfn the guest wrote after the SCAN that
 * last cleared its dirty bit is reported dirty, even if the host has taken
 * the page back since (reclaim, swap, migration, THP split, munmap of the
 * backing, owner exit, ...), for as long as its region stays mapped
 * (UNMAP_REGION drops the region and its log). Accessed bits describe the
 * SLAT entries present now.
 *
 * SCAN is all-or-nothing: the bits are fetched (and cleared, as @flags
 * ask) into kernel buffers, then copied out; if any copy fails (-EFAULT),
 * the dirty bits taken are put back and the accessed bits restored on the
 * entries still present, so the next SCAN reports them.
 */
struct ovcmem_scan {
	__u64 guest_pfn;
	__u64 npages;
	__u64 accessed_bitmap;
	__u64 dirty_bitmap;
	__u32 flags;
	__u32 reserved;
	__u64 accessed;
	__u64 dirty;
};

/**
 * struct ovcmem_prefault - argument of OVCMEM_PREFAULT
 * @guest_pfn: (in) first gfn
 * @npages: (in) 1..OVCMEM_SCAN_MAX_PAGES; the range must lie in one
 *          MOVABLE RAM region (-EINVAL otherwise)
 * @pages_mapped: (out) pages that had no SLAT entry and now have one
 *
 * Faults the range in through the same path as intercepts, without a
 * guest access, so that a VM the balancer restores does not stall on its
 * first touches. -EINTR on a pending signal; -EBUSY when the host kept
 * invalidating one 2 MiB block for a second (it is reclaiming that range
 * right now: try again later); -ESRCH when the owner exits (before or
 * during the call: a prefault never keeps an exiting VM alive, e.g. one
 * that its own charges got OOM-killed); -EOPNOTSUPP when the range now
 * maps memory guest RAM may not use; -EINVAL too when the owner unmaps
 * the region while the call runs (it stops at the next 2 MiB block and
 * leaves no entry of the dead region). On -EINTR, -EBUSY and -ESRCH
 * @pages_mapped is partial.
 */
struct ovcmem_prefault {
	__u64 guest_pfn;
	__u64 npages;
	__u64 pages_mapped;
};

/**
 * struct ovcmem_set_mergeable - argument of OVCMEM_SET_MERGEABLE
 * @mergeable: (in) 1: KSM may merge identical pages of the partition's
 *             guest RAM with other mergeable memory; 0: unmerge them (each
 *             VM gets private copies again) and take them out of KSM
 * @reserved: (in) must be 0
 * @vmas: (out, on success) VMAs of the owner whose mergeable state this
 *        call changed; 0 when all were already so
 *
 * The balancer's way to turn page sharing on or off for a VM it does not
 * own: it is what the VMM's own madvise(MADV_MERGEABLE / MADV_UNMERGEABLE)
 * over its guest RAM would do (process_madvise() refuses those). It
 * applies to every VMA that backs a RAM region of the partition, whole,
 * including any part outside the region (KSM keeps its state per VMA; the
 * VMA is not split); a VMA backing several regions is counted once, and a
 * VMA already in that state is left alone, so the call is idempotent.
 * KSM merges private anonymous memory only: a shared backing (memfd,
 * shmem) is left as it is and not counted. Pinned pages are never merged
 * (KSM skips pages with extra references), so a PINNED region gains
 * nothing but loses nothing either. Regions mapped after the call are not
 * covered unless the VMM maps them from a VMA already mergeable.
 *
 * A call that changes nothing is cheap (the owner's mmap_lock is taken
 * for read only), so a balancer may repeat it every tick.
 *
 * Sharing is seen per owner process in /proc/<pid>/ksm_merging_pages
 * (its pages KSM merged, all the process's VMs together; it falls at
 * ksmd's next scan after an unmerge) and host-wide in /sys/kernel/mm/ksm/.
 * Merging happens later, in ksmd, if /sys/kernel/mm/ksm/run is 1;
 * unmerging happens in the call: it stops KSM merging in those VMAs, then
 * copies every merged page of the regions (pages of the VMAs outside every
 * region stay shared until written), 2 MiB at a time, holding the owner's
 * mmap_lock for read only (the VM's faults go on), and charging the copies
 * to the owner's memory cgroup. With no room there for ksm_merging_pages
 * pages, that cgroup's OOM killer runs (as for the VMM's own madvise);
 * the call holds no lock the dying owner or the OOM reaper needs, stops
 * at the next 2 MiB once the owner is dying (-ESRCH), or ends in -ENOMEM.
 * An unmerge that stopped early leaves the VMAs unmergeable and some
 * pages shared until written; calling again with @mergeable 0 copies the
 * rest (and reports @vmas 0).
 *
 * Monitor fd only: the owner fd gets -EPERM. -EINVAL on @mergeable > 1 or
 * nonzero @reserved; -ESRCH when the owner has exited, is dying (killed,
 * OOM victim) or closed its fd; -EOPNOTSUPP on a kernel without KSM;
 * -EINTR on a signal (nothing or part done; repeat the call, which the
 * kernel may do itself under SA_RESTART); -ENOMEM when unmerging runs out
 * of memory for the private copies; -EBUSY when the host kept taking a
 * block back (reclaim) while it was being unmerged (part done; repeat).
 */
struct ovcmem_set_mergeable {
	__u32 mergeable;
	__u32 reserved;
	__u64 vmas;
};

#define OVCMEM_GET_STATS _IOWR(OVCMEM_IOCTL_MAGIC, 0x30, struct ovcmem_get_stats)
#define OVCMEM_SCAN _IOWR(OVCMEM_IOCTL_MAGIC, 0x31, struct ovcmem_scan)
#define OVCMEM_PREFAULT _IOWR(OVCMEM_IOCTL_MAGIC, 0x32, struct ovcmem_prefault)
#define OVCMEM_SET_MERGEABLE \
	_IOWR(OVCMEM_IOCTL_MAGIC, 0x33, struct ovcmem_set_mergeable)

/*
 * The FILL pattern. The first two words of every 64-byte line are a cheap
 * 64-bit mix of seed and address, so that a page that comes back from
 * swap at the wrong place, or zeroed, cannot match. The other six repeat
 * a word of the seed, so that a page compresses about 3:1 (lzo-rle), as
 * typical guest memory does: paged out to zram, it frees host memory as
 * it would in production, where random data would free none.
 */
static inline __u64 ovcmem_pattern(__u64 seed, __u64 gpa)
{
	__u64 x;

	if (gpa & 0x30)
		return seed ^ 0x5a5a5a5a5a5a5a5aULL;
	x = seed ^ (gpa * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

#define OVCMEM_FNV64_OFFSET 0xcbf29ce484222325ULL
#define OVCMEM_FNV64_PRIME 0x100000001b3ULL

/* Feed one 64-bit word, as 8 little-endian bytes, into an FNV-1a-64 hash. */
static inline __u64 ovcmem_fnv64_word(__u64 hash, __u64 word)
{
	int i;

	for (i = 0; i < 8; i++) {
		hash ^= (word >> (8 * i)) & 0xff;
		hash *= OVCMEM_FNV64_PRIME;
	}
	return hash;
}

#endif /* _UAPI_LINUX_OVCMEM_H */
