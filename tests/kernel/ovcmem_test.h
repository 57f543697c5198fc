/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the in-guest ovcmem suites (tests/kernel/test_*.c).
 *
 * Include after harness.h. Helpers whose name ends in _ok FAIL() the
 * running test on any error; the others return what the kernel said
 * (ioctl return value, -1 and errno) so a test can check the errno.
 *
 * Rule for everyone editing this file: only add helpers, never change the
 * signature or meaning of an existing one (several suites depend on it).
 */
#ifndef OVCMEM_TEST_H
#define OVCMEM_TEST_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <linux/ovcmem.h>

#include "harness.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif

#define OVT_PAGE 4096ULL
#define OVT_2M (2ULL << 20)
#define OVT_DEBUGFS "/sys/kernel/debug/ovcmem"

/* ---- device and partitions ------------------------------------------ */

/* Open /dev/ovcmem; returns the fd or -1 (errno set). */
static inline int ovt_open_dev(void)
{
	return open(OVCMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

/*
 * OVCMEM_CREATE_PARTITION on @dev; returns the partition fd or -1.
 * @id may be NULL.
 */
static inline int ovt_create_partition(int dev, __u64 flags, __u64 *id)
{
	struct ovcmem_create_partition cp = { .flags = flags };
	int fd = ioctl(dev, OVCMEM_CREATE_PARTITION, &cp);

	if (fd >= 0 && id)
		*id = cp.id;
	return fd;
}

/* Open the device, create a partition, close the device; FAILs on error. */
static inline int ovt_partition_ok(__u64 flags, __u64 *id)
{
	int dev = ovt_open_dev();
	int fd;

	CHECK(dev >= 0);
	fd = ovt_create_partition(dev, flags, id);
	CHECK(fd >= 0);
	close(dev);
	return fd;
}

/* OVCMEM_OPEN_PARTITION (monitor fd); returns the fd or -1. */
static inline int ovt_open_partition(int dev, __u64 id)
{
	struct ovcmem_open_partition op = { .id = id };

	return ioctl(dev, OVCMEM_OPEN_PARTITION, &op);
}

/* ---- memory ------------------------------------------------------------ */

/* Anonymous private read/write mapping; FAILs on error. */
static inline void *ovt_mmap_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/*
 * Anonymous mapping of @size bytes whose address is @offset modulo @align
 * (@align a power of two). FAILs on error. Unmap with munmap(p, size).
 */
static inline void *ovt_mmap_aligned(size_t size, size_t align, size_t offset)
{
	size_t span = size + align + offset;
	char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	CHECK(raw != MAP_FAILED);
	a = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
	a += offset;
	if (a > (uintptr_t)raw)
		munmap(raw, a - (uintptr_t)raw);
	if ((uintptr_t)raw + span > a + size)
		munmap((void *)(a + size), (uintptr_t)raw + span - (a + size));
	return (void *)a;
}

/* 2 MiB-aligned anonymous memory with MADV_HUGEPAGE; FAILs on error. */
static inline void *ovt_mmap_thp(size_t size)
{
	void *p = ovt_mmap_aligned(size, OVT_2M, 0);

	CHECK(madvise(p, size, MADV_HUGEPAGE) == 0);
	return p;
}

/* ---- regions ----------------------------------------------------------- */

/* OVCMEM_MAP_REGION; returns the ioctl's result (0, or -1 and errno). */
static inline int ovt_map_region(int pfd, __u64 gfn, const void *uaddr,
				 __u64 size, __u32 flags)
{
	struct ovcmem_region r = {
		.guest_pfn = gfn,
		.userspace_addr = (__u64)(uintptr_t)uaddr,
		.size = size,
		.flags = flags,
	};

	return ioctl(pfd, OVCMEM_MAP_REGION, &r);
}

/* OVCMEM_UNMAP_REGION; returns the ioctl's result. */
static inline int ovt_unmap_region(int pfd, __u64 gfn, __u64 size)
{
	struct ovcmem_region r = { .guest_pfn = gfn, .size = size };

	return ioctl(pfd, OVCMEM_UNMAP_REGION, &r);
}

/* ---- the vCPU ---------------------------------------------------------- */

/* OVCMEM_VCPU_RUN on @count accesses; returns the ioctl's result. */
static inline int ovt_vcpu_run(int pfd, struct ovcmem_access *acc,
			       __u32 count, __u32 *done)
{
	struct ovcmem_vcpu_run run = {
		.accesses = (__u64)(uintptr_t)acc,
		.count = count,
	};
	int r = ioctl(pfd, OVCMEM_VCPU_RUN, &run);

	if (done)
		*done = run.done;
	return r;
}

/* One access; FAILs if the ioctl fails; returns the access's exit. */
static inline __u32 ovt_access1(int pfd, __u32 op, __u64 gpa, __u32 len,
				__u64 *value)
{
	struct ovcmem_access a = {
		.gpa = gpa, .value = *value, .op = op, .len = len,
	};

	CHECK(ovt_vcpu_run(pfd, &a, 1, NULL) == 0);
	*value = a.value;
	return a.exit;
}

/* Guest 64-bit write; returns the exit (OVCMEM_EXIT_OK on success). */
static inline __u32 ovt_write64(int pfd, __u64 gpa, __u64 val)
{
	return ovt_access1(pfd, OVCMEM_ACCESS_WRITE64, gpa, 0, &val);
}

/* Guest 64-bit read into *@val; returns the exit. */
static inline __u32 ovt_read64(int pfd, __u64 gpa, __u64 *val)
{
	*val = 0;
	return ovt_access1(pfd, OVCMEM_ACCESS_READ64, gpa, 0, val);
}

/*
 * FILL @len bytes (any multiple of 8, split into OVCMEM_ACCESS_MAX_LEN
 * chunks) from @gpa with the ovcmem_pattern of @seed; returns the first
 * exit that is not OK, or OVCMEM_EXIT_OK.
 */
static inline __u32 ovt_fill(int pfd, __u64 gpa, __u64 len, __u64 seed)
{
	while (len) {
		__u64 n = len < OVCMEM_ACCESS_MAX_LEN ? len :
			OVCMEM_ACCESS_MAX_LEN;
		__u64 v = seed;
		__u32 e = ovt_access1(pfd, OVCMEM_ACCESS_FILL, gpa, n, &v);

		if (e != OVCMEM_EXIT_OK)
			return e;
		gpa += n;
		len -= n;
	}
	return OVCMEM_EXIT_OK;
}

/* The CHECKSUM the kernel must return for a FILL of (@gpa, @len, @seed). */
static inline __u64 ovt_pattern_checksum(__u64 gpa, __u64 len, __u64 seed)
{
	__u64 h = OVCMEM_FNV64_OFFSET, off;

	for (off = 0; off < len; off += 8)
		h = ovcmem_fnv64_word(h, ovcmem_pattern(seed, gpa + off));
	return h;
}

/* FNV-1a-64 of @len bytes of user memory, as CHECKSUM computes it. */
static inline __u64 ovt_user_checksum(const void *p, __u64 len)
{
	const __u64 *w = p;
	__u64 h = OVCMEM_FNV64_OFFSET, i;

	for (i = 0; i < len / 8; i++)
		h = ovcmem_fnv64_word(h, w[i]);
	return h;
}

/* CHECKSUM of one chunk (@len <= OVCMEM_ACCESS_MAX_LEN); returns exit. */
static inline __u32 ovt_checksum(int pfd, __u64 gpa, __u32 len, __u64 *sum)
{
	*sum = 0;
	return ovt_access1(pfd, OVCMEM_ACCESS_CHECKSUM, gpa, len, sum);
}

/*
 * Read @len bytes back through the vCPU and compare with the FILL pattern
 * of @seed, chunk by chunk. Returns 0 if identical, -1 on a mismatch or an
 * exit other than OK (the first bad chunk's gpa goes to *@bad if non-NULL).
 */
static inline int ovt_verify(int pfd, __u64 gpa, __u64 len, __u64 seed,
			     __u64 *bad)
{
	/* Small chunks so a mismatch is located precisely. */
	const __u64 chunk = 1ULL << 20;

	while (len) {
		__u64 n = len < chunk ? len : chunk, sum;

		if (ovt_checksum(pfd, gpa, n, &sum) != OVCMEM_EXIT_OK ||
		    sum != ovt_pattern_checksum(gpa, n, seed)) {
			if (bad)
				*bad = gpa;
			return -1;
		}
		gpa += n;
		len -= n;
	}
	return 0;
}

/* ---- stats, scan, prefault --------------------------------------------- */

/* GET_STATS of a region (@gfn) or OVCMEM_STATS_PARTITION; FAILs on error. */
static inline struct ovcmem_stats ovt_stats_ok(int pfd, __u64 gfn)
{
	struct ovcmem_get_stats gs = { .guest_pfn = gfn };

	CHECK(ioctl(pfd, OVCMEM_GET_STATS, &gs) == 0);
	return gs.stats;
}

/* OVCMEM_PREFAULT; returns the ioctl result, pages mapped in *@mapped. */
static inline int ovt_prefault(int pfd, __u64 gfn, __u64 npages,
			       __u64 *mapped)
{
	struct ovcmem_prefault pf = { .guest_pfn = gfn, .npages = npages };
	int r = ioctl(pfd, OVCMEM_PREFAULT, &pf);

	if (mapped)
		*mapped = pf.pages_mapped;
	return r;
}

/*
 * OVCMEM_SCAN into caller bitmaps (ceil(npages/64) words each; @dirty may
 * be NULL). Returns the ioctl result; counts in *@nacc / *@ndirty if
 * non-NULL.
 */
static inline int ovt_scan(int pfd, __u64 gfn, __u64 npages, __u64 *acc,
			   __u64 *dirty, __u32 flags, __u64 *nacc,
			   __u64 *ndirty)
{
	struct ovcmem_scan s = {
		.guest_pfn = gfn,
		.npages = npages,
		.accessed_bitmap = (__u64)(uintptr_t)acc,
		.dirty_bitmap = (__u64)(uintptr_t)dirty,
		.flags = flags,
	};
	int r = ioctl(pfd, OVCMEM_SCAN, &s);

	if (nacc)
		*nacc = s.accessed;
	if (ndirty)
		*ndirty = s.dirty;
	return r;
}

static inline int ovt_bit(const __u64 *bm, __u64 i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

/* ---- module state (debugfs) -------------------------------------------- */

/*
 * Value of @key in /sys/kernel/debug/ovcmem/objects (lines "key value";
 * keys: partitions, monitors, regions, slat_tables, pinned_pages, total).
 * Returns -1 if the file or key is missing.
 */
static inline long ovt_objects(const char *key)
{
	FILE *f = fopen(OVT_DEBUGFS "/objects", "r");
	char k[64];
	long v, ret = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", k, &v) == 2) {
		if (!strcmp(k, key)) {
			ret = v;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Write @s to the file @path; returns 0 or -1 (errno set). */
static inline int ovt_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* ---- host memory management: pagemap, meminfo, cgroups ---------------- */
/*
 * For the suites that make the host take guest memory back (reclaim,
 * teardown, stress, oom, aging). The rig runs them as root, so pagemap
 * shows pfns and the cgroup files are writable.
 */

#include <dirent.h>
#include <sys/stat.h>

#define OVT_PM_PFN_MASK ((1ULL << 55) - 1)
#define OVT_PM_SWAP (1ULL << 62)
#define OVT_PM_PRESENT (1ULL << 63)
#define OVT_CGROUP_ROOT "/sys/fs/cgroup"

/* /proc/self/pagemap entries of @npages pages from @addr; FAILs on error. */
static inline void ovt_pagemap_ok(const void *addr, size_t npages, __u64 *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)addr / OVT_PAGE) * 8;

	CHECK(fd >= 0);
	CHECK(pread(fd, out, npages * 8, off) == (ssize_t)(npages * 8));
	close(fd);
}

/* Pages present in both pagemap snapshots whose pfn differs. */
static inline size_t ovt_pfns_changed(const __u64 *a, const __u64 *b,
				      size_t n)
{
	size_t i, moved = 0;

	for (i = 0; i < n; i++)
		moved += (a[i] & OVT_PM_PRESENT) && (b[i] & OVT_PM_PRESENT) &&
			 (a[i] & OVT_PM_PFN_MASK) != (b[i] & OVT_PM_PFN_MASK);
	return moved;
}

/* NUMA nodes with memory, as a bitmask of node ids < 64 (0 if unknown). */
static inline __u64 ovt_memory_nodes(void)
{
	DIR *d = opendir("/sys/devices/system/node");
	struct dirent *e;
	__u64 mask = 0;
	char p[300];
	int id;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, "node%d", &id) != 1 || id >= 64)
			continue;
		snprintf(p, sizeof(p), "/sys/devices/system/node/%s/meminfo",
			 e->d_name);
		if (access(p, R_OK) == 0)
			mask |= 1ULL << id;
	}
	closedir(d);
	return mask;
}

/*
 * The first memory node other than @node. The rig boots two (numa=fake=2);
 * with one, a migration test would prove nothing, so it fails.
 */
static inline int ovt_other_node_ok(int node)
{
	__u64 mask = ovt_memory_nodes();
	int i;

	for (i = 0; i < 64; i++)
		if (i != node && (mask >> i & 1))
			return i;
	FAIL("one NUMA node (%#llx): boot the guest with numa=fake=2",
	     (unsigned long long)mask);
}

/* Pages of [@addr, +@npages) that pagemap shows swapped out. */
static inline size_t ovt_count_swapped(const void *addr, size_t npages)
{
	__u64 *pm = calloc(npages, 8);
	size_t i, n = 0;

	CHECK(pm != NULL);
	ovt_pagemap_ok(addr, npages, pm);
	for (i = 0; i < npages; i++)
		n += !(pm[i] & OVT_PM_PRESENT) && (pm[i] & OVT_PM_SWAP);
	free(pm);
	return n;
}

/*
 * MADV_PAGEOUT @bytes from @addr up to @tries times, until every page is
 * swapped out. More than one pass can be needed: a kernel that consults the
 * references (6.1) only activates a page whose SLAT accessed bit was still
 * set, and the pass clears it. Returns the pages swapped out.
 */
static inline size_t ovt_pageout(void *addr, size_t bytes, int tries)
{
	size_t npages = bytes / OVT_PAGE, n = 0;

	while (tries-- > 0) {
		CHECK(madvise(addr, bytes, MADV_PAGEOUT) == 0);
		n = ovt_count_swapped(addr, npages);
		if (n == npages)
			break;
	}
	return n;
}

/* "@key N" in a flat keyed file (memory.events, memory.stat, /proc/vmstat)
 * or "@key: N kB" in /proc/meminfo; returns N, or -1 if missing. */
static inline long long ovt_keyed_value(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t klen = strlen(key);
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + klen;

		if (strncmp(line, key, klen) || (*p != ' ' && *p != ':'))
			continue;
		if (*p == ':')
			p++;
		v = strtoll(p, NULL, 10);
		break;
	}
	fclose(f);
	return v;
}

/* /proc/meminfo's @key in KiB, or -1. */
static inline long long ovt_meminfo_kb(const char *key)
{
	return ovt_keyed_value("/proc/meminfo", key);
}

/* Create OVT_CGROUP_ROOT/@name.<pid> and put its path in @path; FAILs. */
static inline void ovt_cgroup_create_ok(const char *name, char *path,
					size_t len)
{
	snprintf(path, len, OVT_CGROUP_ROOT "/%s.%d", name, (int)getpid());
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* Write @val to the file @file of cgroup @cg; 0 or -1 (errno set). */
static inline int ovt_cgroup_write(const char *cg, const char *file,
				   const char *val)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", cg, file);
	return ovt_write_file(p, val);
}

/* Flat-keyed @key of the file @file of cgroup @cg, or -1. */
static inline long long ovt_cgroup_keyed(const char *cg, const char *file,
					 const char *key)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", cg, file);
	return ovt_keyed_value(p, key);
}

/* Move process @pid (0: the caller) into cgroup @cg; FAILs on error. */
static inline void ovt_cgroup_enter_ok(const char *cg, pid_t pid)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", pid ? (int)pid : (int)getpid());
	CHECK(ovt_cgroup_write(cg, "cgroup.procs", v) == 0);
}

/* Move the caller back to the root cgroup and remove @cg, waiting up to a
 * second for exited members to leave it. Returns 0 or -1. */
static inline int ovt_cgroup_remove(const char *cg)
{
	char v[32];
	int i;

	snprintf(v, sizeof(v), "%d", (int)getpid());
	ovt_write_file(OVT_CGROUP_ROOT "/cgroup.procs", v);
	for (i = 0; i < 100; i++) {
		if (rmdir(cg) == 0 || errno == ENOENT)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* memory.reclaim of @bytes in @cg: 0, or -1 with errno (EAGAIN: the kernel
 * reclaimed less than asked). */
static inline int ovt_cgroup_reclaim(const char *cg, unsigned long long bytes)
{
	char v[32];

	snprintf(v, sizeof(v), "%llu", bytes);
	return ovt_cgroup_write(cg, "memory.reclaim", v);
}

/* ---- passing fds between processes (SCM_RIGHTS) ------------------------ */

/* Send @fd over the unix socket @sock; returns 0 or -1. */
static inline int ovt_send_fd(int sock, int fd)
{
	char byte = 0, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c;

	memset(buf, 0, sizeof(buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receive an fd sent with ovt_send_fd(); returns it or -1. */
static inline int ovt_recv_fd(int sock)
{
	char byte, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The driver's live objects in all; FAILs if debugfs does not say. */
static inline long ovt_objects_total(void)
{
	long n = ovt_objects("total");

	if (n < 0)
		FAIL("no 'total' in " OVT_DEBUGFS "/objects");
	return n;
}

/*
 * Wait up to @ms for the object count to come back to @want (the driver
 * frees some objects through RCU or a work item); returns the last count.
 */
static inline long ovt_objects_settle(long want, int ms)
{
	long n = ovt_objects_total();
	int i;

	for (i = 0; i < ms / 10 && n != want; i++) {
		usleep(10000);
		n = ovt_objects_total();
	}
	return n;
}

/*
 * Words of @bytes at @mem, as the CPU reads them, that differ from the
 * FILL pattern of @seed for guest address @gpa onwards.
 */
static inline size_t ovt_cpu_mismatches(const char *mem, __u64 gpa,
					size_t bytes, __u64 seed)
{
	const __u64 *w = (const __u64 *)mem;
	size_t i, bad = 0;

	for (i = 0; i < bytes / 8; i++)
		bad += w[i] != ovcmem_pattern(seed, gpa + 8 * i);
	return bad;
}

#endif /* OVCMEM_TEST_H */
