// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "coldmap.h"
#include "discover.h"
#include "ovcmem_client.h"
#include "safe_open.h"

/* PREFAULT works in 2 MiB steps so that it stops close to what was asked
 * instead of mapping a whole region at once. */
#define PREFAULT_STEP_PAGES OVCMEM_LARGE_PAGE_PAGES
/* Ranges asked of the coldmap per call; more come on the next tick. */
#define RANGES_MAX 4096
/* A block that refaulted, or a page touched, this many intervals ago or
 * less is part of what a restore brings back. */
#define RESTORE_RECENT_TICKS 5
/* Evicted blocks between two refaulting ones this close (16 MiB) are
 * restored with them: a working set grows in runs, not page by page. */
#define RESTORE_GAP_BLOCKS 8

struct region {
	struct ovcmem_region_info info;
	bool movable;	    /* MOVABLE RAM: scanned, aged, reclaimable */
	struct coldmap map; /* idle ages, when movable */
};

struct part {
	struct ovcmem_part pub;
	int fd;
	bool seen; /* listed by the latest refresh */
	bool have_prev;
	struct ovcmem_stats prev; /* for the counter deltas */
	struct region *regions;
	size_t n_regions;
	usec_t last_scan;   /* @now of the last collect, 0 before */
	unsigned int age_k; /* intervals per coldmap age unit, >= 1 */
	usec_t age_credit;  /* time scanned but not yet aged (< a unit) */
};

struct ovcmem_client {
	char root[256];
	int ctl_fd;
	struct part *parts;
	size_t n_parts, cap_parts;
	uint64_t *bitmap; /* scratch for SCAN, OVCMEM_SCAN_MAX_PAGES bits */
};

int ovcmem_client_open(const char *root, const char *path,
		       struct ovcmem_client **ret)
{
	struct ovcmem_client *c;
	int fd;

	struct ovcmem_list_partitions probe = {0};

	if (!path || !*path)
		return -ENOENT;
	/* Not a character device: not ours (a FIFO would block). */
	fd = open_char_device(path);
	if (fd == -ENODEV || fd == -EISDIR)
		return -ENODEV;
	if (fd < 0)
		/* A node without a module behind it is the same as none. */
		return fd == -ENXIO ? -ENOENT : fd;
	/* /dev/zero opens as well: only the driver knows its ioctls. A
	 * count-only listing asks nothing of it. */
	if (ioctl(fd, OVCMEM_LIST_PARTITIONS, &probe) < 0 &&
	    (errno == ENOTTY || errno == EINVAL)) {
		close(fd);
		return -ENOTTY;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(c->root, sizeof(c->root), "%s", root);
	c->ctl_fd = fd;
	*ret = c;
	return 0;
}

static void part_clear(struct part *p)
{
	if (p->fd >= 0)
		close(p->fd);
	for (size_t i = 0; i < p->n_regions; i++)
		coldmap_free(&p->regions[i].map);
	free(p->regions);
	p->regions = NULL;
	p->n_regions = 0;
}

void ovcmem_client_free(struct ovcmem_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_parts; i++)
		part_clear(&c->parts[i]);
	free(c->parts);
	free(c->bitmap);
	if (c->ctl_fd >= 0)
		close(c->ctl_fd);
	free(c);
}

static struct part *find(struct ovcmem_client *c, uint64_t id)
{
	for (size_t i = 0; i < c->n_parts; i++)
		if (c->parts[i].pub.id == id)
			return &c->parts[i];
	return NULL;
}

int ovcmem_regions_check(const struct ovcmem_region_info *info, size_t n)
{
	uint64_t end_prev = 0;

	if (n > OVCMEM_REGIONS_MAX)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		const struct ovcmem_region_info *ri = &info[i];
		uint64_t pages = ri->size / OVCMEM_PAGE_SIZE;

		if (!ri->size || ri->size % OVCMEM_PAGE_SIZE ||
		    ri->guest_pfn > UINT64_MAX - pages)
			return -EPROTO;
		/* The uapi promises them ordered by guest_pfn, apart. */
		if (i && ri->guest_pfn < end_prev)
			return -EPROTO;
		if (ri->type == OVCMEM_REGION_TYPE_MOVABLE_RAM &&
		    pages > OVCMEM_REGION_PAGES_MAX)
			return -EPROTO;
		end_prev = ri->guest_pfn + pages;
	}
	return 0;
}

/* (Re)read @p's regions; keeps the ages of regions that did not change. */
static int load_regions(struct part *p)
{
	struct ovcmem_list_regions lr = {0};
	struct ovcmem_region_info *info = NULL;
	struct region *regs;
	int r;

	for (unsigned int tries = 0;; tries++) {
		if (ioctl(p->fd, OVCMEM_LIST_REGIONS, &lr) < 0) {
			r = -errno;
			free(info);
			return r;
		}
		if (lr.count <= lr.capacity)
			break;
		free(info);
		/* The count sizes an allocation: bounded before it does. */
		if (lr.count > OVCMEM_REGIONS_MAX)
			return -EPROTO;
		if (tries + 1 >= OVCMEM_LIST_TRIES)
			return -EAGAIN;
		info = calloc(lr.count, sizeof(*info));
		if (!info)
			return -ENOMEM;
		lr.capacity = lr.count;
		lr.regions = (uint64_t)(uintptr_t)info;
	}
	/* What the driver said sizes our allocations: check it first. */
	r = ovcmem_regions_check(info, lr.count);
	if (r < 0) {
		free(info);
		return r;
	}
	regs = calloc(lr.count ? lr.count : 1, sizeof(*regs));
	if (!regs) {
		free(info);
		return -ENOMEM;
	}
	for (size_t i = 0; i < lr.count; i++) {
		regs[i].info = info[i];
		regs[i].movable =
			info[i].type == OVCMEM_REGION_TYPE_MOVABLE_RAM;
		for (size_t j = 0; j < p->n_regions; j++) {
			struct region *o = &p->regions[j];

			if (o->movable &&
			    o->info.guest_pfn == info[i].guest_pfn &&
			    o->info.size == info[i].size &&
			    o->info.userspace_addr == info[i].userspace_addr) {
				regs[i].map = o->map;
				memset(&o->map, 0, sizeof(o->map));
			}
		}
		if (regs[i].movable && !regs[i].map.age) {
			r = coldmap_init(&regs[i].map, info[i].guest_pfn,
					 info[i].size / OVCMEM_PAGE_SIZE);
			if (r < 0) {
				for (size_t k = 0; k <= i; k++)
					coldmap_free(&regs[k].map);
				free(regs);
				free(info);
				return r;
			}
		}
	}
	for (size_t j = 0; j < p->n_regions; j++)
		coldmap_free(&p->regions[j].map);
	free(p->regions);
	free(info);
	p->regions = regs;
	p->n_regions = lr.count;
	return 0;
}

static int list_partitions(struct ovcmem_client *c,
			   struct ovcmem_partition_info **ret, size_t *n)
{
	struct ovcmem_list_partitions lp = {0};
	struct ovcmem_partition_info *info = NULL;

	for (unsigned int tries = 0;; tries++) {
		if (ioctl(c->ctl_fd, OVCMEM_LIST_PARTITIONS, &lp) < 0) {
			int r = -errno;

			free(info);
			return r;
		}
		if (lp.count <= lp.capacity)
			break;
		free(info);
		if (lp.count > OVCMEM_PARTITIONS_MAX)
			return -EPROTO;
		if (tries + 1 >= OVCMEM_LIST_TRIES)
			return -EAGAIN;
		/* Room for a few more: partitions appear while we ask. */
		lp.capacity = lp.count + 8;
		info = calloc(lp.capacity, sizeof(*info));
		if (!info)
			return -ENOMEM;
		lp.partitions = (uint64_t)(uintptr_t)info;
	}
	*ret = info;
	*n = lp.count;
	return 0;
}

static int add_part(struct ovcmem_client *c,
		    const struct ovcmem_partition_info *pi)
{
	struct ovcmem_open_partition op = {.id = pi->id};
	struct part *p;
	int fd;

	fd = ioctl(c->ctl_fd, OVCMEM_OPEN_PARTITION, &op);
	if (fd < 0)
		return -errno;
	if (c->n_parts == c->cap_parts) {
		size_t cap = c->cap_parts ? c->cap_parts * 2 : 8;
		struct part *np = realloc(c->parts, cap * sizeof(*np));

		if (!np) {
			close(fd);
			return -ENOMEM;
		}
		c->parts = np;
		c->cap_parts = cap;
	}
	p = &c->parts[c->n_parts++];
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->pub.id = pi->id;
	return 0;
}

int ovcmem_client_refresh(struct ovcmem_client *c)
{
	struct ovcmem_partition_info *info = NULL;
	size_t n = 0, i;
	int r;

	r = list_partitions(c, &info, &n);
	if (r < 0)
		return r;
	for (i = 0; i < c->n_parts; i++)
		c->parts[i].seen = false;
	for (i = 0; i < n; i++) {
		struct part *p = find(c, info[i].id);

		if (!p) {
			r = add_part(c, &info[i]);
			if (r == -ENOENT)
				continue; /* gone between list and open */
			if (r < 0)
				break;
			p = &c->parts[c->n_parts - 1];
		}
		p->seen = true;
		p->pub.owner_pid = info[i].owner_pid;
		p->pub.pages = info[i].pages;
		p->pub.pages_mapped = info[i].pages_mapped;
		if (p->pub.owner_pid <= 0 ||
		    cgroup_of_pid(c->root, p->pub.owner_pid, p->pub.cgroup,
				  sizeof(p->pub.cgroup)) < 0)
			p->pub.cgroup[0] = 0;
		if (p->n_regions != info[i].nr_regions) {
			r = load_regions(p);
			if (r < 0 && r != -ENOENT)
				break;
		}
		r = 0;
	}
	free(info);
	/* Forget partitions that are gone. */
	for (i = 0; i < c->n_parts;) {
		if (!c->parts[i].seen) {
			part_clear(&c->parts[i]);
			c->parts[i] = c->parts[--c->n_parts];
		} else {
			i++;
		}
	}
	return r < 0 ? r : (int)c->n_parts;
}

size_t ovcmem_client_count(const struct ovcmem_client *c)
{
	return c ? c->n_parts : 0;
}

const struct ovcmem_part *ovcmem_client_get(const struct ovcmem_client *c,
					    size_t i)
{
	return i < c->n_parts ? &c->parts[i].pub : NULL;
}

const struct ovcmem_part *
ovcmem_client_find_cgroup(const struct ovcmem_client *c, const char *cgroup)
{
	for (size_t i = 0; c && i < c->n_parts; i++) {
		const char *pc = c->parts[i].pub.cgroup;

		/* The VM's scope itself, or below it: libvirt puts QEMU in
		 * "<scope>/libvirt/emulator". */
		if (pc[0] && cgroup_within(pc, cgroup))
			return &c->parts[i].pub;
	}
	return NULL;
}

/* Scan one region with clear and feed its coldmap, ageing by @step. */
static int scan_region(struct ovcmem_client *c, struct part *p,
		       struct region *rg, unsigned int step)
{
	uint64_t pages = rg->info.size / OVCMEM_PAGE_SIZE;
	int r;

	if (!c->bitmap) {
		c->bitmap = malloc(OVCMEM_SCAN_MAX_PAGES / 8);
		if (!c->bitmap)
			return -ENOMEM;
	}
	for (uint64_t off = 0; off < pages; off += OVCMEM_SCAN_MAX_PAGES) {
		uint64_t n = pages - off < OVCMEM_SCAN_MAX_PAGES
				     ? pages - off
				     : OVCMEM_SCAN_MAX_PAGES;
		struct ovcmem_scan s = {
			.guest_pfn = rg->info.guest_pfn + off,
			.npages = n,
			.accessed_bitmap = (uint64_t)(uintptr_t)c->bitmap,
			.flags = OVCMEM_SCAN_CLEAR_ACCESSED,
		};

		if (ioctl(p->fd, OVCMEM_SCAN, &s) < 0)
			return -errno;
		/* The range asked for, whatever the driver left in @s. */
		r = coldmap_feed(&rg->map, rg->info.guest_pfn + off, n,
				 c->bitmap, step);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Intervals per age unit for a cold age of @cold_ticks intervals. */
static unsigned int units_for(unsigned int cold_ticks)
{
	return cold_ticks <= COLDMAP_COLD_MAX
		       ? 1
		       : (cold_ticks + COLDMAP_COLD_MAX - 1) / COLDMAP_COLD_MAX;
}

/* @ticks intervals in @p's age units, rounded up, at most AGE_MAX. */
static unsigned int in_units(const struct part *p, unsigned int ticks)
{
	unsigned int k = p->age_k ? p->age_k : 1;
	unsigned int u = ticks / k + (ticks % k != 0);

	return u > COLDMAP_AGE_MAX ? COLDMAP_AGE_MAX : u;
}

/*
 * Whole age units since the last scan; the remainder is kept for the
 * next one, so ages follow the clock exactly whatever the ticks' jitter.
 */
static unsigned int age_step(struct part *p, usec_t now, usec_t interval)
{
	usec_t unit = interval * p->age_k, step;

	if (p->last_scan && now > p->last_scan && unit)
		p->age_credit += now - p->last_scan;
	p->last_scan = now;
	if (!unit)
		return 0;
	step = p->age_credit / unit;
	if (step >= COLDMAP_AGE_MAX) {
		p->age_credit = 0;
		return COLDMAP_AGE_MAX;
	}
	p->age_credit -= step * unit;
	return (unsigned int)step;
}

/* A class with a longer cold age needs a coarser unit (and back). */
static void set_age_unit(struct part *p, unsigned int cold_ticks)
{
	unsigned int k;

	if (!p->age_k)
		p->age_k = 1;
	if (cold_ticks == UINT_MAX)
		return; /* no class: no cold age to fit */
	k = units_for(cold_ticks);
	if (k == p->age_k)
		return;
	for (size_t i = 0; i < p->n_regions; i++)
		if (p->regions[i].movable)
			coldmap_rescale(&p->regions[i].map, p->age_k, k);
	p->age_k = k;
	p->age_credit = 0;
}

int ovcmem_client_collect(struct ovcmem_client *c, uint64_t id,
			  unsigned int cold_ticks, usec_t now, usec_t interval,
			  struct ovcmem_signals *ret)
{
	struct ovcmem_get_stats gs = {.guest_pfn = OVCMEM_STATS_PARTITION};
	struct part *p = find(c, id);
	unsigned int step;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!p)
		return -ENOENT;
	if (ioctl(p->fd, OVCMEM_GET_STATS, &gs) < 0)
		return -errno;
	ret->present = true;
	ret->partition_id = id;
	ret->pages = gs.stats.pages;
	ret->pages_mapped = gs.stats.pages_mapped;
	/* Counters only grow while the partition lives; one that went back
	 * means the id was reused: no delta this tick. */
	if (p->have_prev && gs.stats.intercepts >= p->prev.intercepts &&
	    gs.stats.refaults >= p->prev.refaults &&
	    gs.stats.pages_invalidated >= p->prev.pages_invalidated) {
		ret->d_intercepts = gs.stats.intercepts - p->prev.intercepts;
		ret->d_refaults = gs.stats.refaults - p->prev.refaults;
		ret->d_pages_invalidated =
			gs.stats.pages_invalidated - p->prev.pages_invalidated;
	}
	p->prev = gs.stats;
	p->have_prev = true;
	set_age_unit(p, cold_ticks);
	step = age_step(p, now, interval);
	cold_ticks = in_units(p, cold_ticks);
	for (size_t i = 0; i < p->n_regions; i++) {
		struct region *rg = &p->regions[i];

		if (!rg->movable)
			continue;
		r = scan_region(c, p, rg, step);
		if (r < 0)
			return r;
		coldmap_histogram(&rg->map, ret->idle_pages);
		ret->cold_pages += coldmap_count_older(&rg->map, cold_ticks);
	}
	ret->cold_valid = true;
	return 0;
}

int ovcmem_client_set_mergeable(struct ovcmem_client *c, uint64_t id,
				bool mergeable, uint64_t *vmas)
{
	struct ovcmem_set_mergeable sm = {.mergeable = mergeable ? 1 : 0};
	struct part *p = find(c, id);

	*vmas = 0;
	if (!p)
		return -ENOENT;
	if (ioctl(p->fd, OVCMEM_SET_MERGEABLE, &sm) < 0)
		return -errno;
	*vmas = sm.vmas;
	return 0;
}

static int prefault_range(struct part *p, uint64_t gfn, uint64_t npages,
			  uint64_t *mapped)
{
	struct ovcmem_prefault pf = {.guest_pfn = gfn, .npages = npages};
	int r = ioctl(p->fd, OVCMEM_PREFAULT, &pf) < 0 ? -errno : 0;

	/* Interrupted, or racing invalidations kept it from finishing: what
	 * it mapped counts, and the rest waits for the next tick. Never more
	 * than was asked, whatever the driver says. */
	*mapped += pf.pages_mapped < npages ? pf.pages_mapped : npages;
	if (r == -EINTR || r == -EBUSY)
		return -EAGAIN;
	return r;
}

/* Prefault [@gfn, +@npages) of @rg in 2 MiB steps until @want pages
 * were mapped or @deadline passed; marks what it covered resident. */
static int prefault_span(struct part *p, struct region *rg, uint64_t gfn,
			 uint64_t npages, uint64_t want, usec_t deadline,
			 uint64_t *got)
{
	int r = 0;

	for (uint64_t off = 0; off < npages && *got < want && !r;
	     off += PREFAULT_STEP_PAGES) {
		uint64_t len = npages - off;

		if (deadline && now_monotonic() > deadline)
			return -EAGAIN;
		if (len > PREFAULT_STEP_PAGES)
			len = PREFAULT_STEP_PAGES;
		r = prefault_range(p, gfn + off, len, got);
		if (!r)
			coldmap_mark_resident(&rg->map, gfn + off, len);
	}
	return r;
}

/*
 * Ranges of one region, from @pick (a coldmap query), faulted in until
 * @want pages were mapped. Returns 0, -EAGAIN, or a driver error.
 */
static int prefault_picked(struct part *p, struct region *rg,
			   struct gfn_range *ranges, size_t n, uint64_t want,
			   usec_t deadline, uint64_t *got)
{
	int r = 0;

	for (size_t k = 0; k < n && *got < want && !r; k++)
		r = prefault_span(p, rg, ranges[k].gfn, ranges[k].npages, want,
				  deadline, got);
	return r;
}

static int prefault(struct ovcmem_client *c, uint64_t id, uint64_t bytes,
		    usec_t budget, uint64_t *done)
{
	usec_t deadline = budget ? now_monotonic() + budget : 0;
	struct part *p = find(c, id);
	uint64_t want = (bytes + OVCMEM_PAGE_SIZE - 1) / OVCMEM_PAGE_SIZE;
	uint64_t got = 0;
	struct gfn_range *ranges;
	bool movable = false;
	unsigned int recent;
	int r = 0;

	*done = 0;
	if (!p)
		return -ENOENT;
	recent = in_units(p, RESTORE_RECENT_TICKS);
	ranges = calloc(RANGES_MAX, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	/* First what the balancer took around the blocks the guest is
	 * faulting back in right now, then the pages the host reclaimed on
	 * its own from the blocks the guest is using. Blocks far from any
	 * activity stay out. */
	for (int phase = 0; phase < 2 && !r && got < want; phase++) {
		for (size_t i = 0; i < p->n_regions && !r && got < want; i++) {
			struct region *rg = &p->regions[i];
			size_t n;

			if (!rg->movable)
				continue;
			movable = true;
			n = phase == 0
				    ? coldmap_refaulted_ranges(
					      &rg->map, recent,
					      RESTORE_GAP_BLOCKS, want - got,
					      ranges, RANGES_MAX)
				    : coldmap_active_blocks(&rg->map, recent,
							    ranges, RANGES_MAX);
			r = prefault_picked(p, rg, ranges, n, want, deadline,
					    &got);
		}
	}
	free(ranges);
	*done = got * OVCMEM_PAGE_SIZE;
	if (!movable)
		return -EOPNOTSUPP; /* no movable RAM: nothing to fault in */
	return r;
}

int ovcmem_client_prefault(struct ovcmem_client *c, uint64_t id, uint64_t bytes,
			   usec_t budget, uint64_t *done)
{
	return prefault(c, id, bytes, budget, done);
}

int ovcmem_client_cold_ranges(struct ovcmem_client *c, uint64_t id,
			      unsigned int min_idle_ticks, uint64_t max_bytes,
			      struct iovec **ret, size_t *n)
{
	struct part *p = find(c, id);
	struct gfn_range *ranges;
	struct iovec *iov = NULL;
	size_t cnt = 0;
	uint64_t left = max_bytes / OVCMEM_PAGE_SIZE;

	*ret = NULL;
	*n = 0;
	if (!p)
		return -ENOENT;
	min_idle_ticks = in_units(p, min_idle_ticks);
	ranges = calloc(RANGES_MAX, sizeof(*ranges));
	iov = calloc(RANGES_MAX, sizeof(*iov));
	if (!ranges || !iov) {
		free(ranges);
		free(iov);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_regions && left && cnt < RANGES_MAX; i++) {
		struct region *rg = &p->regions[i];
		size_t k;

		if (!rg->movable)
			continue;
		k = coldmap_cold_ranges(&rg->map, min_idle_ticks, left, ranges,
					RANGES_MAX - cnt);
		for (size_t j = 0; j < k; j++) {
			uint64_t addr = rg->info.userspace_addr +
					(ranges[j].gfn - rg->info.guest_pfn) *
						OVCMEM_PAGE_SIZE;

			iov[cnt++] = (struct iovec){(void *)(uintptr_t)addr,
						    ranges[j].npages *
							    OVCMEM_PAGE_SIZE};
			left -= ranges[j].npages < left ? ranges[j].npages
							: left;
		}
	}
	free(ranges);
	*ret = iov;
	*n = cnt;
	return 0;
}

void ovcmem_client_mark_evicted(struct ovcmem_client *c, uint64_t id,
				const struct iovec *iov, size_t n)
{
	struct part *p = find(c, id);

	for (size_t i = 0; p && i < n; i++) {
		uint64_t addr = (uint64_t)(uintptr_t)iov[i].iov_base;

		for (size_t k = 0; k < p->n_regions; k++) {
			struct region *rg = &p->regions[k];

			if (!rg->movable || addr < rg->info.userspace_addr ||
			    addr >= rg->info.userspace_addr + rg->info.size)
				continue;
			coldmap_mark_evicted(
				&rg->map,
				rg->info.guest_pfn +
					(addr - rg->info.userspace_addr) /
						OVCMEM_PAGE_SIZE,
				iov[i].iov_len / OVCMEM_PAGE_SIZE);
		}
	}
}
