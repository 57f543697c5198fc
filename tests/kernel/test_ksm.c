// SPDX-License-Identifier: GPL-2.0
/*
 * KSM sharing between VMs (issue 14): transparent page sharing, done the
 * Linux way.
 *
 * Two partitions (two VMs) in one VMM process, each with one MOVABLE
 * region at the same guest address, filled by their vCPUs with the same
 * pattern: page for page identical content. The VMM marks the backings
 * mergeable (madvise(MADV_MERGEABLE), as QEMU does for KVM); KSM merges
 * each pair into one write-protected page. The tests prove:
 *   - sharing happens: /sys/kernel/mm/ksm/pages_sharing rises by the
 *     region's pages, and pagemap shows both VMs' gfn i on one pfn;
 *   - the SLAT maps merged pages read-only: a guest read (an intercept
 *     that maps the whole 2 MiB block) leaves every page shared;
 *   - a guest write is a write intercept that breaks the sharing of that
 *     page alone (a private copy in its VM) and never writes the shared
 *     page: the other VM reads its old data everywhere;
 *   - unmerging (MADV_UNMERGEABLE, or stopping KSM with run=2) gives each
 *     VM private pages again, with its data, through fresh SLAT entries.
 * Checksums of both VMs' whole regions at every step. Skipped, with the
 * reason, on a kernel without KSM (both Debian kernels have CONFIG_KSM=y).
 */
#include "ovcmem_test.h"

#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)
#define SEED 0x4b534d14ULL
#define KSM "/sys/kernel/mm/ksm/"
#define BYTES (4ULL << 20)
#define NPAGES (BYTES / OVT_PAGE)

struct vm {
	int pfd;
	char *mem;
};

static long long ksm_value(const char *name)
{
	char p[128];
	long long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), KSM "%s", name);
	f = fopen(p, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Returns 0 when KSM is there (and set up to scan fast), else skips. */
static int ksm_ready(void)
{
	if (access(KSM "run", W_OK) != 0) {
		printf("# skip: no %s (kernel without CONFIG_KSM?): %s\n",
		       KSM "run", strerror(errno));
		return -1;
	}
	/* Start from nothing merged: run=2 unmerges whatever is. */
	CHECK(ovt_write_file(KSM "run", "2") == 0);
	CHECK(ovt_write_file(KSM "pages_to_scan", "10000") == 0);
	CHECK(ovt_write_file(KSM "sleep_millisecs", "10") == 0);
	return 0;
}

/* A VM whose region holds the pattern of SEED, mergeable. */
static void vm_setup(struct vm *v)
{
	v->pfd = ovt_partition_ok(0, NULL);
	v->mem = ovt_mmap_aligned(BYTES, OVT_2M, 0);
	/* KSM merges 4 KiB pages; keep THP out of the picture. */
	CHECK(madvise(v->mem, BYTES, MADV_NOHUGEPAGE) == 0);
	CHECK(ovt_map_region(v->pfd, GFN, v->mem, BYTES,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK_EQ(ovt_fill(v->pfd, GPA, BYTES, SEED), OVCMEM_EXIT_OK);
	CHECK(madvise(v->mem, BYTES, MADV_MERGEABLE) == 0);
}

/* The vCPU reads the whole region; returns its checksum. */
static __u64 vm_checksum(struct vm *v)
{
	__u64 sum = 0;

	CHECK_EQ(ovt_checksum(v->pfd, GPA, BYTES, &sum), OVCMEM_EXIT_OK);
	return sum;
}

/* Gfns whose page is one pfn in both VMs (pagemap). */
static size_t pages_shared_between(struct vm *a, struct vm *b)
{
	static __u64 pa[NPAGES], pb[NPAGES];
	size_t i, n = 0;

	ovt_pagemap_ok(a->mem, NPAGES, pa);
	ovt_pagemap_ok(b->mem, NPAGES, pb);
	for (i = 0; i < NPAGES; i++)
		n += (pa[i] & OVT_PM_PRESENT) && (pb[i] & OVT_PM_PRESENT) &&
		     (pa[i] & OVT_PM_PFN_MASK) == (pb[i] & OVT_PM_PFN_MASK);
	return n;
}

/* Wait (bounded) until KSM shares every page of the pair. */
static void merge_ok(struct vm *a, struct vm *b)
{
	long long sharing0 = ksm_value("pages_sharing"), sharing = sharing0;
	size_t shared = 0;
	int tenths;

	CHECK(ovt_write_file(KSM "run", "1") == 0);
	for (tenths = 0; tenths < 600; tenths++) {
		shared = pages_shared_between(a, b);
		if (shared == NPAGES)
			break;
		usleep(100000);
	}
	sharing = ksm_value("pages_sharing");
	printf("# ksm: %zu of %llu gfns on one pfn in both VMs, pages_sharing %lld -> %lld, within %.1f s\n",
	       shared, NPAGES, sharing0, sharing, tenths / 10.0);
	CHECK_EQ(shared, NPAGES);
	CHECK(sharing - sharing0 >= (long long)NPAGES);
	/* Stop scanning (run=0 keeps what is merged) so nothing changes. */
	CHECK(ovt_write_file(KSM "run", "0") == 0);
}

/*
 * Merge, then read: the intercepts map every 2 MiB block read-only and
 * leave all pages shared; the checksums are the pattern's.
 */
static void merge_and_read_ok(struct vm *a, struct vm *b, __u64 want)
{
	struct ovcmem_stats s0, s1;

	merge_ok(a, b);
	s0 = ovt_stats_ok(a->pfd, GFN);
	/* KSM write-protected each page first: every entry was cleared. */
	CHECK_EQ(s0.pages_mapped, 0);
	CHECK_EQ(vm_checksum(a), want);
	CHECK_EQ(vm_checksum(b), want);
	s1 = ovt_stats_ok(a->pfd, GFN);
	CHECK_EQ(s1.pages_mapped, NPAGES);
	CHECK_EQ(s1.intercepts - s0.intercepts, BYTES / OVT_2M);
	CHECK_EQ(pages_shared_between(a, b), NPAGES);
}

/*
 * Two VMs with the same content, merged and read: 0, or -1 when the
 * kernel has no KSM (skipped).
 */
static int merged_pair(struct vm *a, struct vm *b)
{
	if (ksm_ready())
		return -1;
	vm_setup(a);
	vm_setup(b);
	merge_and_read_ok(a, b, ovt_pattern_checksum(GPA, BYTES, SEED));
	return 0;
}

TEST_TIMEOUT(identical_vms_share_pages_and_guest_reads_keep_them_shared, 120)
{
	struct vm a, b;

	if (merged_pair(&a, &b))
		return;
	CHECK(ovt_write_file(KSM "run", "2") == 0);
}

/*
 * A guest write to a merged page: a write intercept (the entry is
 * read-only) that makes a private copy for that gfn of that VM only.
 */
TEST_TIMEOUT(guest_write_breaks_sharing_of_that_page_only, 120)
{
	__u64 want = ovt_pattern_checksum(GPA, BYTES, SEED), v;
	const __u64 gpa = GPA + 37 * OVT_PAGE + 64;
	struct ovcmem_stats s0, s1;
	__u64 *wa = NULL, *wb = NULL;
	struct vm a, b;

	if (merged_pair(&a, &b))
		return;

	s0 = ovt_stats_ok(a.pfd, GFN);
	CHECK_EQ(ovt_write64(a.pfd, gpa, 0xdeadbeefULL), OVCMEM_EXIT_OK);
	s1 = ovt_stats_ok(a.pfd, GFN);
	/* One write intercept; the COW in the host cleared the old entry. */
	CHECK_EQ(s1.intercepts - s0.intercepts, 1);
	CHECK(s1.pages_invalidated - s0.pages_invalidated >= 1);
	/* Only that gfn left the shared page. */
	CHECK_EQ(pages_shared_between(&a, &b), NPAGES - 1);

	/* A sees its write, through the SLAT and through the host mapping. */
	CHECK_EQ(ovt_read64(a.pfd, gpa, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0xdeadbeefULL);
	wa = (__u64 *)(a.mem + (gpa - GPA));
	CHECK_EQ(*wa, 0xdeadbeefULL);
	/* B, and the shared page, never saw it. */
	CHECK_EQ(ovt_read64(b.pfd, gpa, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, ovcmem_pattern(SEED, gpa));
	wb = (__u64 *)(b.mem + (gpa - GPA));
	CHECK_EQ(*wb, ovcmem_pattern(SEED, gpa));
	CHECK_EQ(vm_checksum(&b), want);
	CHECK(vm_checksum(&a) != want);
	/* Put the word back: A's region is the pattern again. */
	CHECK_EQ(ovt_write64(a.pfd, gpa, ovcmem_pattern(SEED, gpa)),
		 OVCMEM_EXIT_OK);
	CHECK_EQ(vm_checksum(&a), want);
	CHECK_EQ(ovt_cpu_mismatches(a.mem, GPA, BYTES, SEED), 0);
	CHECK_EQ(ovt_cpu_mismatches(b.mem, GPA, BYTES, SEED), 0);
	CHECK(ovt_write_file(KSM "run", "2") == 0);
}

/* Unmerge: each VM gets private pages back, with its data. */
static void unmerge_ok(int how)
{
	__u64 want = ovt_pattern_checksum(GPA, BYTES, SEED);
	struct ovcmem_stats s0, s1;
	struct vm a, b;

	if (merged_pair(&a, &b))
		return;

	s0 = ovt_stats_ok(a.pfd, GFN);
	if (how) {
		CHECK(ovt_write_file(KSM "run", "2") == 0);
	} else {
		CHECK(madvise(a.mem, BYTES, MADV_UNMERGEABLE) == 0);
		CHECK(madvise(b.mem, BYTES, MADV_UNMERGEABLE) == 0);
	}
	CHECK_EQ(pages_shared_between(&a, &b), 0);
	s1 = ovt_stats_ok(a.pfd, GFN);
	/* Every shared page was replaced: every entry dropped. */
	CHECK(s1.pages_invalidated - s0.pages_invalidated >= NPAGES);
	CHECK_EQ(s1.pages_mapped, 0);
	CHECK_EQ(vm_checksum(&a), want);
	CHECK_EQ(vm_checksum(&b), want);
	/* Private again: a write needs no further copy and stays in A. */
	s0 = ovt_stats_ok(a.pfd, GFN);
	CHECK_EQ(ovt_fill(a.pfd, GPA, BYTES, SEED + 1), OVCMEM_EXIT_OK);
	s1 = ovt_stats_ok(a.pfd, GFN);
	CHECK_EQ(s1.pages_invalidated, s0.pages_invalidated);
	CHECK_EQ(ovt_cpu_mismatches(a.mem, GPA, BYTES, SEED + 1), 0);
	CHECK_EQ(vm_checksum(&b), want);
	CHECK(ovt_write_file(KSM "run", "2") == 0);
}

TEST_TIMEOUT(madv_unmergeable_restores_private_pages, 120)
{
	unmerge_ok(0);
}

TEST_TIMEOUT(ksm_stop_restores_private_pages, 120)
{
	unmerge_ok(1);
}

int main(void)
{
	return run_tests();
}
