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
 * the last clearing SCAN, even when the host took the page back meanwhile
 * (reclaim, zap, a 2 MiB entry torn down whole, NUMA migration), and a
 * SCAN that cannot copy its result out keeps the bits it cleared.
 */
#include <sys/syscall.h>

#include "ovcmem_test.h"

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

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

/* SCAN without clearing into @dirty; returns the dirty count. */
static __u64 scan_into(int pfd, __u64 *dirty)
{
	static __u64 acc[NPAGES / 64];
	__u64 nd;

	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty, 0, NULL, &nd), 0);
	return nd;
}

/* Pages of each 2 MiB block the guest writes after the clearing SCAN. */
static const __u64 thp_written[] = { 0, 5, 511 };

/*
 * THP-backed guest RAM, mapped with 2 MiB entries: after a clearing SCAN
 * the guest writes three pages of each block; the host then zaps the whole
 * range, which tears every 2 MiB entry down at once. SCAN must report each
 * written page (a 2 MiB entry has one dirty bit, so more of the block may
 * be reported too), before and after the zap, until a clearing SCAN.
 */
TEST(dirty_log_reports_writes_through_2m_entries_zapped_since)
{
	static __u64 dirty[NPAGES / 64];
	char *mem = ovt_mmap_thp(BYTES);
	int pfd = ovt_partition_ok(0, NULL), round;
	__u64 block, i, nd;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	/* The rig's THP=always: every block is one 2 MiB entry. */
	CHECK_EQ(ovt_stats_ok(pfd, GFN).large_entries, BYTES / OVT_2M);
	CHECK_EQ(scan(pfd, OVCMEM_SCAN_FLAGS_ALL, NULL), NPAGES);
	CHECK_EQ(scan(pfd, 0, NULL), 0);

	for (block = 0; block < NPAGES; block += 512)
		for (i = 0; i < sizeof(thp_written) / sizeof(*thp_written);
		     i++)
			CHECK_EQ(ovt_write64(pfd, GPA + (block +
					     thp_written[i]) * OVT_PAGE, i + 1),
				 OVCMEM_EXIT_OK);
	for (round = 0; round < 2; round++) {
		if (round == 1) {
			CHECK(madvise(mem, BYTES, MADV_DONTNEED) == 0);
			CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped, 0);
		}
		nd = scan_into(pfd, dirty);
		printf("# %s the zap: %llu pages reported dirty\n",
		       round ? "after" : "before", (unsigned long long)nd);
		for (block = 0; block < NPAGES; block += 512)
			for (i = 0; i < sizeof(thp_written) /
				    sizeof(*thp_written); i++)
				if (!ovt_bit(dirty, block + thp_written[i]))
					FAIL("page %llu written, not reported",
					     (unsigned long long)(block +
						     thp_written[i]));
	}
	CHECK(scan(pfd, OVCMEM_SCAN_CLEAR_DIRTY, NULL) > 0);
	CHECK_EQ(scan(pfd, 0, NULL), 0);
	close(pfd);
}

/* Every page of [@mem, +@n pages) to @node; returns pages not moved. */
static long move_all(char *mem, size_t n, int node, int *status)
{
	void **pages = calloc(n, sizeof(*pages));
	int *nodes = calloc(n, sizeof(*nodes));
	size_t i;
	long r;

	CHECK(pages && nodes);
	for (i = 0; i < n; i++) {
		pages[i] = mem + i * OVT_PAGE;
		nodes[i] = node;
	}
	r = syscall(SYS_move_pages, 0, n, pages, node < 0 ? NULL : nodes,
		    status, node < 0 ? 0 : MPOL_MF_MOVE);
	free(pages);
	free(nodes);
	return r;
}

/*
 * Written after the last clearing SCAN, then moved to the other NUMA node
 * of the rig (numa=fake=2) by move_pages: migration clears the entries of
 * the old pages, and SCAN must still report every page written, and the
 * data must have moved with them. @thp: THP backing (moved whole, 2 MiB
 * entries torn down whole).
 */
static void dirty_log_survives_migration(int thp)
{
	static int status[NPAGES];
	char *mem = thp ? ovt_mmap_thp(BYTES) : mem_4k(BYTES);
	int pfd = ovt_partition_ok(0, NULL), from, to;
	__u64 i, off = 0, there = 0;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	CHECK_EQ(scan(pfd, OVCMEM_SCAN_FLAGS_ALL, NULL), NPAGES);
	CHECK_EQ(ovt_fill(pfd, GPA, BYTES, SEED + 1), OVCMEM_EXIT_OK);

	CHECK_EQ(move_all(mem, NPAGES, -1, status), 0);
	from = status[0];
	CHECK(from >= 0);
	to = ovt_other_node_ok(from);
	for (i = 0; i < NPAGES; i++)
		there += status[i] == to;
	CHECK_EQ(move_all(mem, NPAGES, to, status), 0);
	CHECK_EQ(move_all(mem, NPAGES, -1, status), 0);
	for (i = 0; i < NPAGES; i++)
		off += status[i] != to;
	printf("# moved node %d -> %d: %llu pages were there already, %llu of %llu elsewhere after, %llu still mapped\n",
	       from, to, (unsigned long long)there, (unsigned long long)off,
	       (unsigned long long)NPAGES,
	       (unsigned long long)ovt_stats_ok(pfd, GFN).pages_mapped);
	CHECK_EQ(off, 0);
	CHECK(there < NPAGES);
	/* The moved pages' entries went with them. */
	CHECK(ovt_stats_ok(pfd, GFN).pages_mapped <= there);
	CHECK_EQ(scan(pfd, 0, NULL), NPAGES);
	CHECK_EQ(ovt_verify(pfd, GPA, BYTES, SEED + 1, NULL), 0);
	CHECK_EQ(scan(pfd, OVCMEM_SCAN_CLEAR_DIRTY, NULL), NPAGES);
	CHECK_EQ(scan(pfd, 0, NULL), 0);
	close(pfd);
}

TEST(dirty_log_reports_writes_migrated_since)
{
	dirty_log_survives_migration(0);
}

TEST(dirty_log_reports_thp_writes_migrated_since)
{
	dirty_log_survives_migration(1);
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
