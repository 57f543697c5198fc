// SPDX-License-Identifier: GPL-2.0
/*
 * Guest writes and the dirty log (issue 17, items 1 and 2).
 *
 * A guest write goes through the SLAT, never through the owner's page
 * tables, so only the driver can tell the host that the page now holds
 * data. These tests make the host reclaim exactly the memory it would drop
 * if nobody did: anonymous pages the VMM had MADV_FREE'd (4 KiB and THP)
 * and shmem pages the VMM had only read. The guest's data must survive.
 *
 * The dirty log must have no gaps: SCAN reports every page written since
 * the last clearing SCAN, even when the host took the page back meanwhile,
 * and a SCAN that cannot copy its result out keeps the bits it cleared.
 */
#include "ovcmem_test.h"

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)
#define BYTES (4ULL << 20)
#define NPAGES (BYTES / OVT_PAGE)
#define SEED 0x17

static char *mem_4k(size_t bytes)
{
	char *p = ovt_mmap_aligned(bytes, OVT_2M, 0);

	CHECK(madvise(p, bytes, MADV_NOHUGEPAGE) == 0);
	return p;
}

/*
 * Make the host take @mem back: MADV_PAGEOUT passes, and memory.reclaim of
 * @cg if given. Several passes: the first one's invalidation makes the
 * guest's writes visible (a lazily freed folio turns dirty and stays), the
 * next ones write the pages out. Returns the pages invalidated.
 */
static __u64 host_reclaims(int pfd, void *mem, size_t bytes, const char *cg)
{
	int pass;

	for (pass = 0; pass < 4; pass++) {
		CHECK(madvise(mem, bytes, MADV_PAGEOUT) == 0);
		if (cg)
			ovt_cgroup_reclaim(cg, 64ULL << 20);
	}
	return ovt_stats_ok(pfd, GFN).pages_invalidated;
}

/* The VMM wrote, then MADV_FREE'd; the guest writes; the host reclaims. */
static void madv_free_then_guest_writes(char *mem)
{
	int pfd = ovt_partition_ok(0, NULL);
	__u64 bad = 0, taken;

	memset(mem, 0x11, BYTES);
	CHECK(madvise(mem, BYTES, MADV_FREE) == 0);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	taken = host_reclaims(pfd, mem, BYTES, NULL);
	printf("# host took %llu of %llu pages, %zu now swapped\n",
	       (unsigned long long)taken, (unsigned long long)NPAGES,
	       ovt_count_swapped(mem, NPAGES));
	CHECK(taken > 0);
	if (ovt_verify(pfd, GPA, BYTES, SEED, &bad))
		FAIL("guest data lost after reclaim at gpa %#llx",
		     (unsigned long long)bad);
	CHECK_EQ(ovt_cpu_mismatches(mem, GPA, BYTES, SEED), 0);
	close(pfd);
}

TEST_TIMEOUT(madv_free_4k_guest_writes_survive_reclaim, 300)
{
	madv_free_then_guest_writes(mem_4k(BYTES));
}

TEST_TIMEOUT(madv_free_thp_guest_writes_survive_reclaim, 300)
{
	madv_free_then_guest_writes(ovt_mmap_thp(BYTES));
}

/* Shmem the VMM had only read (clean folios); the guest writes them. */
static void shmem_read_then_guest_writes(int shared_anon)
{
	char cg[256], *mem;
	volatile char sink = 0;
	__u64 bad = 0, taken;
	size_t i;
	int pfd, fd = -1;

	ovt_cgroup_create_ok(shared_anon ? "ovt-dirty-shanon" : "ovt-dirty-shm",
			     cg, sizeof(cg));
	ovt_cgroup_enter_ok(cg, 0);
	if (shared_anon) {
		mem = mmap(NULL, BYTES, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	} else {
		fd = memfd_create("ovt-dirty", MFD_CLOEXEC);
		CHECK(fd >= 0 && ftruncate(fd, BYTES) == 0);
		mem = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   0);
	}
	CHECK(mem != MAP_FAILED);
	for (i = 0; i < BYTES; i += OVT_PAGE)
		sink += mem[i];
	pfd = ovt_partition_ok(0, NULL);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	taken = host_reclaims(pfd, mem, BYTES, cg);
	printf("# host took %llu of %llu pages\n", (unsigned long long)taken,
	       (unsigned long long)NPAGES);
	CHECK(taken > 0);
	if (ovt_verify(pfd, GPA, BYTES, SEED, &bad))
		FAIL("guest data lost after reclaim at gpa %#llx",
		     (unsigned long long)bad);
	CHECK_EQ(ovt_cpu_mismatches(mem, GPA, BYTES, SEED), 0);
	close(pfd);
	munmap(mem, BYTES);
	if (fd >= 0)
		close(fd);
	CHECK(ovt_cgroup_remove(cg) == 0);
}

TEST_TIMEOUT(memfd_guest_writes_survive_reclaim, 300)
{
	shmem_read_then_guest_writes(0);
}

TEST_TIMEOUT(shared_anon_guest_writes_survive_reclaim, 300)
{
	shmem_read_then_guest_writes(1);
}

/* SCAN @gfn's @NPAGES; returns the dirty count (and accessed in *@nacc). */
static __u64 scan(int pfd, __u32 flags, __u64 *nacc)
{
	static __u64 acc[NPAGES / 64], dirty[NPAGES / 64];
	__u64 na, nd;

	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty, flags, &na, &nd), 0);
	if (nacc)
		*nacc = na;
	return nd;
}

/* Written after the last clearing SCAN, then taken by the host. */
static void dirty_log_survives(int how)
{
	char *mem = mem_4k(BYTES);
	int pfd = ovt_partition_ok(0, NULL);

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	CHECK_EQ(scan(pfd, OVCMEM_SCAN_FLAGS_ALL, NULL), NPAGES);
	CHECK_EQ(scan(pfd, 0, NULL), 0);

	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED + 1), OVCMEM_EXIT_OK);
	if (how == 0)
		host_reclaims(pfd, mem, BYTES, NULL);
	else
		CHECK(madvise(mem, BYTES, MADV_DONTNEED) == 0);
	/* The host took pages the guest wrote since the last SCAN. */
	CHECK(ovt_stats_ok(pfd, GFN).pages_mapped < NPAGES);
	/* Reported, and reported again until a SCAN clears it. */
	CHECK_EQ(scan(pfd, 0, NULL), NPAGES);
	CHECK_EQ(scan(pfd, OVCMEM_SCAN_CLEAR_DIRTY, NULL), NPAGES);
	CHECK_EQ(scan(pfd, 0, NULL), 0);
	close(pfd);
}

TEST_TIMEOUT(dirty_log_reports_writes_reclaimed_since, 300)
{
	dirty_log_survives(0);
}

TEST(dirty_log_reports_writes_zapped_since)
{
	dirty_log_survives(1);
}

/* A bitmap pointer the kernel cannot write. */
static __u64 *unwritable_page(void)
{
	void *p = mmap(NULL, OVT_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/*
 * SCAN with both CLEAR flags whose copy-out fails (-EFAULT at the dirty
 * bitmap, at the accessed bitmap, or at the argument itself) clears
 * nothing: the next SCAN still reports every page.
 */
TEST(scan_clear_with_bad_bitmap_leaves_bits_set)
{
	static __u64 acc[NPAGES / 64], dirty[NPAGES / 64];
	char *mem = mem_4k(BYTES);
	int pfd = ovt_partition_ok(0, NULL);
	struct ovcmem_scan *ro;
	__u64 *bad = unwritable_page(), nacc;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);

	CHECK_ERRNO(ovt_scan(pfd, GFN, NPAGES, acc, bad, OVCMEM_SCAN_FLAGS_ALL,
			     NULL, NULL), EFAULT);
	CHECK_ERRNO(ovt_scan(pfd, GFN, NPAGES, acc, (__u64 *)8,
			     OVCMEM_SCAN_FLAGS_ALL, NULL, NULL), EFAULT);
	CHECK_ERRNO(ovt_scan(pfd, GFN, NPAGES, bad, dirty,
			     OVCMEM_SCAN_FLAGS_ALL, NULL, NULL), EFAULT);
	CHECK_EQ(scan(pfd, 0, &nacc), NPAGES);
	CHECK_EQ(nacc, NPAGES);

	/* The argument itself read-only: read in fine, written back not. */
	ro = mmap(NULL, OVT_PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	ro->guest_pfn = GFN;
	ro->npages = NPAGES;
	ro->accessed_bitmap = (__u64)(uintptr_t)acc;
	ro->dirty_bitmap = (__u64)(uintptr_t)dirty;
	ro->flags = OVCMEM_SCAN_FLAGS_ALL;
	CHECK(mprotect(ro, OVT_PAGE, PROT_READ) == 0);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_SCAN, ro), EFAULT);
	CHECK_EQ(scan(pfd, 0, &nacc), NPAGES);
	CHECK_EQ(nacc, NPAGES);

	/* Dirty bits cleared without a dirty bitmap are put back too. */
	CHECK_ERRNO(ovt_scan(pfd, GFN, NPAGES, bad, NULL,
			     OVCMEM_SCAN_FLAGS_ALL, NULL, NULL), EFAULT);
	CHECK_EQ(scan(pfd, 0, &nacc), NPAGES);

	/* A good clearing SCAN does clear. */
	CHECK_EQ(scan(pfd, OVCMEM_SCAN_FLAGS_ALL, NULL), NPAGES);
	CHECK_EQ(scan(pfd, 0, &nacc), 0);
	CHECK_EQ(nacc, 0);
	close(pfd);
}

/* A failed clearing SCAN over pages already taken keeps their log bits. */
TEST(scan_clear_with_bad_bitmap_keeps_logged_bits)
{
	char *mem = mem_4k(BYTES);
	int pfd = ovt_partition_ok(0, NULL);
	__u64 *bad = unwritable_page();
	static __u64 acc[NPAGES / 64];

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	CHECK(madvise(mem, BYTES, MADV_DONTNEED) == 0);
	CHECK_ERRNO(ovt_scan(pfd, GFN, NPAGES, acc, bad, OVCMEM_SCAN_FLAGS_ALL,
			     NULL, NULL), EFAULT);
	CHECK_EQ(scan(pfd, 0, NULL), NPAGES);
	close(pfd);
}

int main(void)
{
	return run_tests();
}
