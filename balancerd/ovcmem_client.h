/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's side of /dev/ovcmem: the monitor interface.
 *
 * List partitions (OVCMEM_LIST_PARTITIONS), open a monitor fd for each
 * (OVCMEM_OPEN_PARTITION), and per tick read counters (GET_STATS, as
 * deltas), scan accessed bits with clear (SCAN) into per-page idle ages,
 * and fault ranges back in (PREFAULT). Without the driver the feature is
 * off: ovcmem_client_open() says -ENOENT and the caller logs it once.
 */
#ifndef BALANCERD_OVCMEM_CLIENT_H
#define BALANCERD_OVCMEM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <linux/ovcmem.h>

#include "signals.h"
#include "units.h"

struct ovcmem_client;

/* One partition as the daemon tracks it. */
struct ovcmem_part {
	uint64_t id;
	pid_t owner_pid;	      /* 0 once the owner exited */
	char cgroup[CGROUP_PATH_MAX]; /* of the owner, "" if unknown */
	uint64_t pages, pages_mapped;
};

/*
 * Open the control device at @path (e.g. "/dev/ovcmem", not below any
 * root: devices are not faked). @root is used to map owner pids to
 * cgroups (@root/proc/PID/cgroup). Returns 0 and *@ret, -ENOENT when the
 * driver is absent (no device node or ENXIO), -ENODEV when @path is not
 * a character device (never opened in a way that blocks), -ENOTTY when
 * it is one that does not answer ovcmem's ioctls (/dev/zero), or
 * another negative errno (-EACCES/-EPERM without the capability).
 */
int ovcmem_client_open(const char *root, const char *path,
		       struct ovcmem_client **ret);
void ovcmem_client_free(struct ovcmem_client *c);

/* Bounds on what OVCMEM_LIST_REGIONS may report: far above any VM, far
 * below what would make the daemon's per-page coldmaps exhaust memory
 * (1 TiB of guest RAM per region). */
#define OVCMEM_REGIONS_MAX	4096
#define OVCMEM_REGION_PAGES_MAX (1ULL << 28)
/* The same for OVCMEM_LIST_PARTITIONS (64 per user, by the uapi). */
#define OVCMEM_PARTITIONS_MAX 65536
/* A listing asked again because it grew meanwhile, at most this often:
 * then -EAGAIN, to be tried next tick, rather than a loop for ever. */
#define OVCMEM_LIST_TRIES 8

/*
 * Whether @n regions as OVCMEM_LIST_REGIONS returned them make sense:
 * non-empty, page-multiple sizes, ordered by guest_pfn without overlap,
 * no wrap-around, within the bounds above. Pure. Returns 0 or -EPROTO.
 */
int ovcmem_regions_check(const struct ovcmem_region_info *info, size_t n);

/*
 * List partitions, open monitor fds for new ones, forget those gone.
 * Returns the number of partitions, or a negative errno: -EPROTO when
 * the driver reports more partitions or regions than the bounds above,
 * -EAGAIN when a listing kept growing for OVCMEM_LIST_TRIES asks.
 */
int ovcmem_client_refresh(struct ovcmem_client *c);

size_t ovcmem_client_count(const struct ovcmem_client *c);
const struct ovcmem_part *ovcmem_client_get(const struct ovcmem_client *c,
					    size_t i);
/* The partition whose owner lives in @cgroup or below it, or NULL. */
const struct ovcmem_part *
ovcmem_client_find_cgroup(const struct ovcmem_client *c, const char *cgroup);

/*
 * Read partition @id's counters (deltas since the last call) and scan its
 * accessed bits with clear into each region's coldmap, ageing every page
 * that was not touched by the @interval periods since the last call
 * (@now, monotonic usec; rounded, at least one). Fills @ret: present,
 * pages, deltas, the idle histogram, and cold_pages (idle >= @cold_ticks
 * intervals, cold_valid). Returns 0, -ENOENT if the partition is gone,
 * or another negative errno.
 */
int ovcmem_client_collect(struct ovcmem_client *c, uint64_t id,
			  unsigned int cold_ticks, usec_t now, usec_t interval,
			  struct ovcmem_signals *ret);

/*
 * Fault up to @bytes of partition @id back in, only where the guest is
 * working: first the pages the balancer paged out around the 2 MiB
 * blocks that refaulted in the last few intervals (coldmap.h), then
 * whatever is unmapped in
 * the blocks the guest touched in that time (pages the host reclaimed on
 * its own). Blocks the guest leaves idle are not brought back.
 * -EAGAIN when a signal or racing invalidations stopped it early (the
 * driver gives up on a block the host keeps invalidating for a second:
 * -EBUSY), or when it ran past @budget usec (0: no limit), checked
 * between 2 MiB steps. *@done receives the bytes newly mapped. Returns 0
 * or a negative errno. Calls for different partitions may run in
 * different threads at once (act_pool.h): each touches only its own.
 */
int ovcmem_client_prefault(struct ovcmem_client *c, uint64_t id, uint64_t bytes,
			   usec_t budget, uint64_t *done);

/*
 * The owner-mm address ranges of partition @id's pages idle for at least
 * @min_idle_ticks, at most @max_bytes in all, merged; for
 * process_madvise(MADV_PAGEOUT). *@ret is malloc'ed (free it). Returns 0
 * (possibly with *@n == 0) or a negative errno.
 */
int ovcmem_client_cold_ranges(struct ovcmem_client *c, uint64_t id,
			      unsigned int min_idle_ticks, uint64_t max_bytes,
			      struct iovec **ret, size_t *n);

/*
 * Turn KSM sharing of partition @id's guest RAM on (@mergeable) or off
 * (OVCMEM_SET_MERGEABLE: the driver does the owner's madvise in its
 * stead). *@vmas receives the owner's VMAs it changed (0: already so).
 * Returns 0, -ENOENT if the partition is unknown, -ENOTTY from a driver
 * that predates the call, or the driver's errno (-ESRCH: the owner is
 * exiting; -EOPNOTSUPP: no KSM in the kernel; -EINTR).
 */
int ovcmem_client_set_mergeable(struct ovcmem_client *c, uint64_t id,
				bool mergeable, uint64_t *vmas);

/* Record that @iov (from ovcmem_client_cold_ranges) was paged out, so
 * those pages are not counted cold again and come back first on restore. */
void ovcmem_client_mark_evicted(struct ovcmem_client *c, uint64_t id,
				const struct iovec *iov, size_t n);

#endif /* BALANCERD_OVCMEM_CLIENT_H */
