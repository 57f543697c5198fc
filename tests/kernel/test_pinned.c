// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned RAM (issue 3, test 7): PINNED regions and every RAM region of an
 * ENCRYPTED partition are pinned at map time, mapped whole, and never
 * invalidated by reclaim, swap-out or compaction; their data stays.
 */
#include <sys/stat.h>

#include "ovcmem_test.h"

#define GFN 0x40000ULL
#define GPA (GFN * OVT_PAGE)
#define SIZE (8 * OVT_2M)

/* Put this process in a fresh memory cgroup; returns its directory. */
static const char *own_cgroup(const char *name)
{
	static char dir[128];
	char path[192], pid[32];

	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s.%d", name, getpid());
	CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	CHECK(ovt_write_file(path, pid) == 0);
	return dir;
}

/* Everything the host can do to take memory back, short of munmap. */
static void squeeze(void *mem, size_t bytes, const char *cg)
{
	char path[192];

	/* These may fail (nothing reclaimable): only the effect matters. */
	madvise(mem, bytes, MADV_PAGEOUT);
	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	ovt_write_file(path, "256M");
	ovt_write_file("/proc/sys/vm/compact_memory", "1");
	madvise(mem, bytes, MADV_PAGEOUT);
}

static void pinned_survives(__u64 pflags, __u32 rflags)
{
	const char *cg = own_cgroup("pinned");
	int pfd = ovt_partition_ok(pflags, NULL);
	char *mem = ovt_mmap_anon(SIZE);
	struct ovcmem_stats s;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE,
				OVCMEM_REGION_WRITABLE | rflags), 0);
	CHECK_EQ(ovt_objects("pinned_pages"), SIZE / OVT_PAGE);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 0x51), OVCMEM_EXIT_OK);
	squeeze(mem, SIZE, cg);
	s = ovt_stats_ok(pfd, GFN);
	CHECK_EQ(s.invalidations, 0);
	CHECK_EQ(s.pages_invalidated, 0);
	CHECK_EQ(s.pages_mapped, SIZE / OVT_PAGE);
	CHECK_EQ(s.intercepts, 0);
	CHECK_EQ(ovt_verify(pfd, GPA, SIZE, 0x51, NULL), 0);
	/* The host still sees the very same pages. */
	CHECK_EQ(((__u64 *)mem)[12345], ovcmem_pattern(0x51, GPA + 8 * 12345));
	CHECK_EQ(ovt_stats_ok(pfd, GFN).intercepts, 0);
	CHECK_EQ(ovt_unmap_region(pfd, GFN, SIZE), 0);
	CHECK_EQ(ovt_objects("pinned_pages"), 0);
	close(pfd);
}

TEST(pinned_region_survives_reclaim)
{
	pinned_survives(0, OVCMEM_REGION_PINNED);
}

TEST(encrypted_partition_survives_reclaim)
{
	pinned_survives(OVCMEM_PARTITION_ENCRYPTED, 0);
}

/* For contrast: the same squeeze does invalidate a movable region. */
TEST(movable_region_is_invalidated_by_the_same_squeeze)
{
	const char *cg = own_cgroup("movable");
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_anon(SIZE);

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 0x52), OVCMEM_EXIT_OK);
	squeeze(mem, SIZE, cg);
	CHECK(ovt_stats_ok(pfd, GFN).pages_invalidated > 0);
	CHECK_EQ(ovt_verify(pfd, GPA, SIZE, 0x52, NULL), 0);
	CHECK(ovt_stats_ok(pfd, GFN).refaults > 0);
	close(pfd);
}

TEST(pinned_thp_gets_large_entries)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_thp(SIZE);

	/* Populate as THPs first, then pin them. */
	memset(mem, 1, SIZE);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK(ovt_stats_ok(pfd, GFN).large_entries > 0);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 0x53), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_verify(pfd, GPA, SIZE, 0x53, NULL), 0);
	close(pfd);
}

/*
 * The documented result of munmap under a pinned region: the guest keeps
 * the pinned pages (as with a hardware SLAT) until the region is unmapped.
 */
TEST(pinned_region_keeps_pages_after_munmap)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_anon(SIZE);

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 0x54), OVCMEM_EXIT_OK);
	CHECK(munmap(mem, SIZE) == 0);
	CHECK_EQ(ovt_verify(pfd, GPA, SIZE, 0x54, NULL), 0);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).invalidations, 0);
	CHECK_EQ(ovt_unmap_region(pfd, GFN, SIZE), 0);
	CHECK_EQ(ovt_objects("pinned_pages"), 0);
	close(pfd);
}

TEST(pinned_read_only_region)
{
	int pfd = ovt_partition_ok(0, NULL);
	__u64 *mem = ovt_mmap_anon(OVT_2M), v;

	mem[3] = 33;
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, OVT_2M, OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(ovt_read64(pfd, GPA + 24, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 33);
	CHECK_EQ(ovt_write64(pfd, GPA, 1), OVCMEM_EXIT_PERMISSION);
	close(pfd);
}

/*
 * A read-only pin of memory the VMM has not written yet, then the VMM
 * writes it: the guest must read what the VMM wrote. On 6.1 a plain
 * read-only pin held the shared zero page, which the VMM's first write
 * replaced by a new page the guest never saw (issue 17, item 7).
 */
static void read_only_pin_sees_later_write(char *mem, size_t bytes)
{
	int pfd = ovt_partition_ok(0, NULL);
	__u64 bad = 0;
	size_t i;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, bytes, OVCMEM_REGION_PINNED),
		 0);
	for (i = 0; i < bytes / 8; i++)
		((__u64 *)mem)[i] = ovcmem_pattern(0x77, GPA + 8 * i);
	if (ovt_verify(pfd, GPA, bytes, 0x77, &bad))
		FAIL("guest reads stale memory at gpa %#llx",
		     (unsigned long long)bad);
	CHECK_EQ(ovt_write64(pfd, GPA, 1), OVCMEM_EXIT_PERMISSION);
	close(pfd);
}

TEST(read_only_pin_sees_the_vmms_later_write)
{
	read_only_pin_sees_later_write(ovt_mmap_anon(OVT_2M), OVT_2M);
}

TEST(read_only_pin_of_thp_sees_the_vmms_later_write)
{
	read_only_pin_sees_later_write(ovt_mmap_thp(OVT_2M), OVT_2M);
}

/* The same over memfd (shared): the pin holds the page cache page. */
TEST(read_only_pin_of_memfd_sees_the_vmms_later_write)
{
	int fd = memfd_create("ovt-pin", MFD_CLOEXEC);
	char *mem;

	CHECK(fd >= 0 && ftruncate(fd, OVT_2M) == 0);
	mem = mmap(NULL, OVT_2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(mem != MAP_FAILED);
	read_only_pin_sees_later_write(mem, OVT_2M);
	close(fd);
}

int main(void)
{
	return run_tests();
}
