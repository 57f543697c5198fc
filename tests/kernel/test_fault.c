// SPDX-License-Identifier: GPL-2.0
/*
 * The fault path (issue 3, tests 3 and 4): intercept batches are the 2 MiB
 * block in GFN space clipped to the region; THP-backed congruent memory gets
 * 2 MiB SLAT entries, anything else 4 KiB ones; splitting the THP clears the
 * 2 MiB entry and the data stays right; refaults and prefaults are counted.
 */
#include "ovcmem_test.h"

#define BLK 512ULL

static struct ovcmem_stats st(int pfd, __u64 gfn)
{
	return ovt_stats_ok(pfd, gfn);
}

/* Bytes of THP backing this process has, from smaps_rollup. */
static long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

TEST(first_touch_maps_gfn_aligned_block_clipped_to_region)
{
	/* Region gfns [0x100, 0x100 + 1000): not 512-aligned at either end. */
	const __u64 gfn = 0x100, npages = 1000;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_aligned(npages * OVT_PAGE, OVT_2M, 0);
	__u64 acc[16], nacc, v;

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, npages * OVT_PAGE,
				OVCMEM_REGION_WRITABLE), 0);

	/* gfn 0x150 lies in block [0, 0x200): the region holds 0x100 of it. */
	CHECK_EQ(ovt_read64(pfd, 0x150 * OVT_PAGE, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).pages_mapped, 0x200 - gfn);
	CHECK_EQ(st(pfd, gfn).fault_batches, 1);
	CHECK_EQ(st(pfd, gfn).intercepts, 1);

	/* gfn 0x3ff: block [0x200, 0x400), whole inside the region. */
	CHECK_EQ(ovt_write64(pfd, 0x3ff * OVT_PAGE, 1), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).pages_mapped, 0x400 - gfn);

	/* Last block [0x400, 0x600) clipped at the region end 0x4e8. */
	CHECK_EQ(ovt_read64(pfd, 0x4e7 * OVT_PAGE, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).pages_mapped, npages);
	CHECK_EQ(st(pfd, gfn).fault_batches, 3);

	/* Hits do not intercept. */
	CHECK_EQ(ovt_read64(pfd, 0x101 * OVT_PAGE, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).intercepts, 3);
	CHECK_EQ(st(pfd, gfn).large_entries, 0);
	CHECK_EQ(st(pfd, gfn).accesses, 4);

	/* Only the 4 touched gfns are accessed, though 1000 are mapped. */
	CHECK_EQ(ovt_scan(pfd, gfn, 1000, acc, NULL, 0, &nacc, NULL), 0);
	CHECK_EQ(nacc, 4);
	close(pfd);
}

TEST(thp_congruent_gets_large_entries)
{
	const size_t bytes = 8 * OVT_2M;
	const __u64 gfn = 0x40000;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_thp(bytes);

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, gfn * OVT_PAGE, bytes, 7), OVCMEM_EXIT_OK);
	printf("# AnonHugePages %ld kB\n", anon_huge_kb());
	CHECK(anon_huge_kb() >= (long)(bytes >> 10));
	CHECK_EQ(st(pfd, gfn).large_entries, bytes / OVT_2M);
	CHECK_EQ(st(pfd, gfn).pages_mapped, bytes / OVT_PAGE);
	CHECK_EQ(st(pfd, gfn).fault_batches, bytes / OVT_2M);
	CHECK_EQ(ovt_verify(pfd, gfn * OVT_PAGE, bytes, 7, NULL), 0);
	CHECK_EQ(((__u64 *)mem)[3], ovcmem_pattern(7, gfn * OVT_PAGE + 24));
	close(pfd);
}

TEST(thp_not_congruent_gets_4k_entries)
{
	const size_t bytes = 4 * OVT_2M;
	/* uaddr is 2 MiB-aligned, gfn is one page off: not congruent. */
	const __u64 gfn = 0x40001;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_thp(bytes);

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, gfn * OVT_PAGE, bytes, 8), OVCMEM_EXIT_OK);
	CHECK(anon_huge_kb() > 0);
	CHECK_EQ(st(pfd, gfn).large_entries, 0);
	CHECK_EQ(st(pfd, gfn).pages_mapped, bytes / OVT_PAGE);
	CHECK_EQ(ovt_verify(pfd, gfn * OVT_PAGE, bytes, 8, NULL), 0);
	close(pfd);
}

TEST(thp_unaligned_region_start_congruent)
{
	/*
	 * Region from gfn 0x100 over memory at 2 MiB + 1 MiB: congruent. The
	 * blocks wholly inside get 2 MiB entries, the partial edges 4 KiB.
	 */
	const size_t bytes = 3 * OVT_2M;
	const __u64 gfn = 0x100;
	int pfd = ovt_partition_ok(0, NULL);
	char *thp = ovt_mmap_thp(bytes + OVT_2M);
	char *mem = thp + (1 << 20);

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, gfn * OVT_PAGE, bytes, 9), OVCMEM_EXIT_OK);
	/* Blocks 1 and 2 inside; block 0 and 3 are halves. */
	CHECK_EQ(st(pfd, gfn).large_entries, 2);
	CHECK_EQ(st(pfd, gfn).pages_mapped, bytes / OVT_PAGE);
	CHECK_EQ(ovt_verify(pfd, gfn * OVT_PAGE, bytes, 9, NULL), 0);
	close(pfd);
}

TEST(thp_split_by_mprotect_clears_large_entry)
{
	const size_t bytes = 4 * OVT_2M;
	const __u64 gfn = 0x40000, gpa = gfn * OVT_PAGE;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_thp(bytes);
	struct ovcmem_stats s0, s1;

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, gpa, bytes, 10), OVCMEM_EXIT_OK);
	s0 = st(pfd, gfn);
	CHECK_EQ(s0.large_entries, 4);

	/* Read-only page in the middle of block 1: the PMD must split. */
	CHECK(mprotect(mem + OVT_2M + 16 * OVT_PAGE, OVT_PAGE, PROT_READ) == 0);
	s1 = st(pfd, gfn);
	CHECK_EQ(s1.large_entries, 3);
	CHECK(s1.invalidations > s0.invalidations);
	CHECK(s1.pages_invalidated - s0.pages_invalidated >= BLK);

	/* Everything still reads right; block 1 comes back as 4 KiB. */
	CHECK_EQ(ovt_verify(pfd, gpa, bytes, 10, NULL), 0);
	CHECK_EQ(st(pfd, gfn).large_entries, 3);
	CHECK_EQ(st(pfd, gfn).pages_mapped, bytes / OVT_PAGE);
	CHECK(st(pfd, gfn).refaults >= 1);
	close(pfd);
}

TEST(thp_split_by_partial_dontneed_clears_large_entry)
{
	const size_t bytes = 2 * OVT_2M;
	const __u64 gfn = 0x40000, gpa = gfn * OVT_PAGE;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_thp(bytes);
	__u64 v;

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, gpa, bytes, 11), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).large_entries, 2);

	/* Drop one 4 KiB page of block 0 (it reads back as zero after). */
	CHECK(madvise(mem + 5 * OVT_PAGE, OVT_PAGE, MADV_DONTNEED) == 0);
	CHECK_EQ(st(pfd, gfn).large_entries, 1);
	CHECK_EQ(ovt_read64(pfd, gpa + 5 * OVT_PAGE + 64, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0);
	CHECK_EQ(ovt_verify(pfd, gpa, 5 * OVT_PAGE, 11, NULL), 0);
	CHECK_EQ(ovt_verify(pfd, gpa + 6 * OVT_PAGE, bytes - 6 * OVT_PAGE, 11,
			    NULL), 0);
	close(pfd);
}

TEST(refaults_count_pages_the_host_took)
{
	const size_t bytes = OVT_2M;
	const __u64 gfn = 0x40000, gpa = gfn * OVT_PAGE;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_aligned(bytes, OVT_2M, 0);
	struct ovcmem_stats s;

	CHECK(madvise(mem, bytes, MADV_NOHUGEPAGE) == 0);
	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, gpa, bytes, 12), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).refaults, 0);
	CHECK(madvise(mem, bytes / 2, MADV_DONTNEED) == 0);
	s = st(pfd, gfn);
	CHECK_EQ(s.pages_mapped, BLK / 2);
	CHECK_EQ(s.pages_invalidated, BLK / 2);
	/* Touching once refaults the whole batch the host had taken. */
	CHECK_EQ(ovt_fill(pfd, gpa, bytes, 13), OVCMEM_EXIT_OK);
	s = st(pfd, gfn);
	CHECK_EQ(s.refaults, BLK / 2);
	CHECK_EQ(s.pages_faulted, BLK + BLK / 2);
	CHECK_EQ(s.pages_mapped, BLK);
	close(pfd);
}

TEST(prefault_maps_without_intercepts)
{
	const size_t bytes = 4 * OVT_2M;
	const __u64 gfn = 0x40000, gpa = gfn * OVT_PAGE;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_anon(bytes);
	__u64 mapped = 0;

	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_prefault(pfd, gfn + 10, 1000, &mapped), 0);
	CHECK_EQ(mapped, 1000);
	CHECK_EQ(st(pfd, gfn).pages_prefaulted, 1000);
	CHECK_EQ(st(pfd, gfn).pages_mapped, 1000);
	/* Again: nothing new. */
	CHECK_EQ(ovt_prefault(pfd, gfn + 10, 1000, &mapped), 0);
	CHECK_EQ(mapped, 0);
	CHECK_EQ(ovt_prefault(pfd, gfn, bytes / OVT_PAGE, &mapped), 0);
	CHECK_EQ(mapped, bytes / OVT_PAGE - 1000);
	CHECK_EQ(ovt_fill(pfd, gpa, bytes, 14), OVCMEM_EXIT_OK);
	CHECK_EQ(st(pfd, gfn).intercepts, 0);
	CHECK_EQ(ovt_verify(pfd, gpa, bytes, 14, NULL), 0);
	/* Pinned and MMIO regions cannot be prefaulted. */
	CHECK_EQ(ovt_map_region(pfd, 0x100, NULL, OVT_PAGE,
				OVCMEM_REGION_MMIO), 0);
	CHECK_ERRNO(ovt_prefault(pfd, 0x100, 1, NULL), EINVAL);
	close(pfd);
}

TEST(read_fault_on_readonly_region_maps_zero_or_data)
{
	const size_t bytes = OVT_2M;
	const __u64 gfn = 0x40000;
	int pfd = ovt_partition_ok(0, NULL);
	__u64 *mem = ovt_mmap_anon(bytes), v;

	mem[100] = 0xabc;
	CHECK_EQ(ovt_map_region(pfd, gfn, mem, bytes, 0), 0);
	CHECK_EQ(ovt_read64(pfd, gfn * OVT_PAGE + 800, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0xabc);
	/* A host write after the guest's read is visible (COW'd or not). */
	mem[101] = 0xdef;
	CHECK_EQ(ovt_read64(pfd, gfn * OVT_PAGE + 808, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0xdef);
	close(pfd);
}

int main(void)
{
	return run_tests();
}
