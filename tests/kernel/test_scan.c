// SPDX-License-Identifier: GPL-2.0
/*
 * Accessed/dirty scan (issue 3, test 10): SCAN reports exactly the gfns the
 * vCPU touched (dirty: wrote), not the ones a fault batch mapped around
 * them; clearing works per bit kind; 2 MiB entries report their 512 gfns.
 */
#include "ovcmem_test.h"

#define GFN 0x40000ULL
#define GPA (GFN * OVT_PAGE)
#define NPAGES 2048ULL
#define WORDS (NPAGES / 64)

static int vm_4k(void)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_aligned(NPAGES * OVT_PAGE, OVT_2M, 0);

	CHECK(madvise(mem, NPAGES * OVT_PAGE, MADV_NOHUGEPAGE) == 0);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, NPAGES * OVT_PAGE,
				OVCMEM_REGION_WRITABLE), 0);
	return pfd;
}

static int in(const __u64 *set, int n, __u64 v)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i] == v)
			return 1;
	return 0;
}

TEST(scan_reports_exactly_the_touched_gfns)
{
	static const __u64 rd[] = { 0, 1, 511, 512, 1000, 2047 };
	static const __u64 wr[] = { 3, 700, 1000, 1500 };
	const int nrd = sizeof(rd) / sizeof(rd[0]);
	const int nwr = sizeof(wr) / sizeof(wr[0]);
	int pfd = vm_4k(), i;
	__u64 acc[WORDS], dirty[WORDS], na, nd, v;

	for (i = 0; i < nrd; i++)
		CHECK_EQ(ovt_read64(pfd, GPA + rd[i] * OVT_PAGE + 8, &v),
			 OVCMEM_EXIT_OK);
	for (i = 0; i < nwr; i++)
		CHECK_EQ(ovt_write64(pfd, GPA + wr[i] * OVT_PAGE, i),
			 OVCMEM_EXIT_OK);
	/* Every page got mapped by the batches, only these were touched. */
	CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped, NPAGES);

	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty, 0, &na, &nd), 0);
	CHECK_EQ(na, nrd + nwr - 1);	/* 1000 is in both */
	CHECK_EQ(nd, nwr);
	for (i = 0; i < (int)NPAGES; i++) {
		int a = in(rd, nrd, i) || in(wr, nwr, i);

		if (ovt_bit(acc, i) != a)
			FAIL("gfn +%d accessed %d, want %d", i,
			     ovt_bit(acc, i), a);
		if (ovt_bit(dirty, i) != in(wr, nwr, i))
			FAIL("gfn +%d dirty %d", i, ovt_bit(dirty, i));
	}
	close(pfd);
}

TEST(scan_clear_accessed_and_dirty_separately)
{
	int pfd = vm_4k();
	__u64 acc[WORDS], dirty[WORDS], na, nd, v;

	CHECK_EQ(ovt_write64(pfd, GPA + 5 * OVT_PAGE, 1), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_read64(pfd, GPA + 6 * OVT_PAGE, &v), OVCMEM_EXIT_OK);

	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty,
			  OVCMEM_SCAN_CLEAR_ACCESSED, &na, &nd), 0);
	CHECK_EQ(na, 2);
	CHECK_EQ(nd, 1);
	/* Accessed cleared, dirty kept. */
	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty,
			  OVCMEM_SCAN_CLEAR_DIRTY, &na, &nd), 0);
	CHECK_EQ(na, 0);
	CHECK_EQ(nd, 1);
	CHECK(ovt_bit(dirty, 5));
	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty, 0, &na, &nd), 0);
	CHECK_EQ(na, 0);
	CHECK_EQ(nd, 0);
	/* Touch again: seen again. */
	CHECK_EQ(ovt_read64(pfd, GPA + 6 * OVT_PAGE, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, NULL,
			  OVCMEM_SCAN_FLAGS_ALL, &na, &nd), 0);
	CHECK_EQ(na, 1);
	CHECK_EQ(nd, 0);
	CHECK(ovt_bit(acc, 6));
	close(pfd);
}

TEST(scan_sub_range_and_outside_regions)
{
	int pfd = vm_4k();
	__u64 acc[WORDS + 2], na, v;

	CHECK_EQ(ovt_write64(pfd, GPA + 100 * OVT_PAGE, 1), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_write64(pfd, GPA + 101 * OVT_PAGE, 1), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_read64(pfd, GPA, &v), OVCMEM_EXIT_OK);
	/* A range starting at gfn +100 that runs past the region's end. */
	CHECK_EQ(ovt_scan(pfd, GFN + 100, NPAGES, acc, NULL, 0, &na, NULL), 0);
	CHECK_EQ(na, 2);
	CHECK(ovt_bit(acc, 0) && ovt_bit(acc, 1));
	/* Nothing before the region. */
	CHECK_EQ(ovt_scan(pfd, 0, 64, acc, NULL, 0, &na, NULL), 0);
	CHECK_EQ(na, 0);
	/* An odd count: only the bits asked for are reported. */
	CHECK_EQ(ovt_scan(pfd, GFN + 99, 2, acc, NULL, 0, &na, NULL), 0);
	CHECK_EQ(na, 1);
	CHECK_EQ(acc[0], 2);
	close(pfd);
}

TEST(scan_large_entry_reports_whole_block)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_thp(4 * OVT_2M);
	__u64 acc[WORDS], dirty[WORDS], na, nd;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, 4 * OVT_2M,
				OVCMEM_REGION_WRITABLE), 0);
	CHECK_EQ(ovt_write64(pfd, GPA + 600 * OVT_PAGE, 1), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).large_entries, 1);
	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty,
			  OVCMEM_SCAN_FLAGS_ALL, &na, &nd), 0);
	CHECK_EQ(na, 512);
	CHECK_EQ(nd, 512);
	CHECK(ovt_bit(acc, 512) && ovt_bit(acc, 1023) && !ovt_bit(acc, 511));
	CHECK_EQ(ovt_scan(pfd, GFN, NPAGES, acc, dirty, 0, &na, &nd), 0);
	CHECK_EQ(na, 0);
	CHECK_EQ(nd, 0);
	close(pfd);
}

TEST(scan_after_invalidation_forgets)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_aligned(OVT_2M, OVT_2M, 0);
	__u64 acc[8], na;

	CHECK(madvise(mem, OVT_2M, MADV_NOHUGEPAGE) == 0);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, OVT_2M,
				OVCMEM_REGION_WRITABLE), 0);
	CHECK_EQ(ovt_write64(pfd, GPA, 1), OVCMEM_EXIT_OK);
	CHECK(madvise(mem, OVT_2M, MADV_DONTNEED) == 0);
	/* No entry, no bits: the balancer sees a page the host took. */
	CHECK_EQ(ovt_scan(pfd, GFN, 512, acc, NULL, 0, &na, NULL), 0);
	CHECK_EQ(na, 0);
	close(pfd);
}

int main(void)
{
	return run_tests();
}
