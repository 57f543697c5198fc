// SPDX-License-Identifier: GPL-2.0
/*
 * Nothing lost (issue 3, item 5): whatever the host does to the memory
 * behind a MOVABLE region -- MADV_PAGEOUT, memory.reclaim into zram swap,
 * compaction, page migration (soft offline, move_pages, migrate_pages),
 * THP collapse, KSM merging -- the guest reads back exactly what it wrote,
 * and the counters tell what happened.
 *
 * move_pages/migrate_pages need a second NUMA node: the rig boots its
 * guest with numa=fake=2, and the tests assert that every page moved (one
 * node fails them: a migration that moves nothing proves nothing); soft
 * offline migrates on one node too. tests/kernel/test_migrate.c covers
 * migration while vCPUs run, THP and pinned regions.
 *
 * Every test writes a pattern through the vCPU (FILL), lets the host take
 * the pages, then reads them back through the vCPU (CHECKSUM against the
 * FNV value computed here). Where the host moved pages, pagemap proves it
 * (pfn changed, or swapped), and the test also checks coherence both ways:
 * the CPU writes a new pattern that the vCPU must see, and the vCPU writes
 * one that the CPU must see. A SLAT entry left pointing at the old page
 * fails that, even when the old page still holds the old data.
 *
 * Counter rules checked (deltas over the host's action, 4 KiB entries):
 *   pages_invalidated >= pages the host took (swapped or moved)
 *   pages_mapped      <= pages - pages the host took, before the read back
 *   refaults          >= pages the host took, after the read back
 *   refaults          <= pages_invalidated
 */
#include <sys/syscall.h>

#include "ovcmem_test.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

/* gfn 0x100000 = 4 GiB: 2 MiB aligned, away from gpa 0. */
#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)

struct vm {
	int pfd;
	char *mem;
	size_t bytes;
	size_t npages;
};

/*
 * A partition with one WRITABLE MOVABLE region of @bytes at GFN. With
 * @thp the memory is MADV_HUGEPAGE (2 MiB entries possible), else
 * MADV_NOHUGEPAGE so that every count below is in exact 4 KiB pages.
 */
static void vm_setup(struct vm *v, size_t bytes, int thp)
{
	v->pfd = ovt_partition_ok(0, NULL);
	v->bytes = bytes;
	v->npages = bytes / OVT_PAGE;
	if (thp) {
		v->mem = ovt_mmap_thp(bytes);
	} else {
		v->mem = ovt_mmap_aligned(bytes, OVT_2M, 0);
		CHECK(madvise(v->mem, bytes, MADV_NOHUGEPAGE) == 0);
	}
	CHECK(ovt_map_region(v->pfd, GFN, v->mem, bytes,
			     OVCMEM_REGION_WRITABLE) == 0);
}

static struct ovcmem_stats vm_stats(struct vm *v)
{
	return ovt_stats_ok(v->pfd, GFN);
}

/* The FILL pattern of @seed, written by the CPU. */
static void cpu_fill(char *mem, __u64 gpa, size_t bytes, __u64 seed)
{
	__u64 *w = (__u64 *)mem;
	size_t i;

	for (i = 0; i < bytes / 8; i++)
		w[i] = ovcmem_pattern(seed, gpa + 8 * i);
}

static void vm_fill_ok(struct vm *v, __u64 seed)
{
	CHECK_EQ(ovt_fill(v->pfd, GPA, v->bytes, seed), OVCMEM_EXIT_OK);
}

static void vm_verify_ok(struct vm *v, __u64 seed)
{
	__u64 bad = 0;

	if (ovt_verify(v->pfd, GPA, v->bytes, seed, &bad))
		FAIL("vCPU read back differs from seed %#llx at gpa %#llx",
		     (unsigned long long)seed, (unsigned long long)bad);
}

/*
 * Both directions after the host moved pages: the vCPU sees what the CPU
 * wrote, the CPU sees what the vCPU wrote.
 */
static void vm_coherent_ok(struct vm *v, __u64 seed_cpu, __u64 seed_vcpu)
{
	cpu_fill(v->mem, GPA, v->bytes, seed_cpu);
	vm_verify_ok(v, seed_cpu);
	vm_fill_ok(v, seed_vcpu);
	CHECK_EQ(ovt_cpu_mismatches(v->mem, GPA, v->bytes, seed_vcpu), 0);
}

static size_t count_present(const __u64 *pm, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += !!(pm[i] & OVT_PM_PRESENT);
	return k;
}

/*
 * The counter rules of the file comment, for @taken pages the host took
 * between @before and @after (the latter read before the read back).
 */
static void check_invalidated(struct vm *v, const struct ovcmem_stats *before,
			      const struct ovcmem_stats *after, size_t taken)
{
	CHECK(after->pages_invalidated - before->pages_invalidated >= taken);
	CHECK(after->invalidations > before->invalidations);
	CHECK(after->pages_mapped <= v->npages - taken);
}

/* @before: before the host's action; @after: after the read back. */
static void check_refaulted(const struct ovcmem_stats *before,
			    const struct ovcmem_stats *after, size_t taken)
{
	__u64 refaults = after->refaults - before->refaults;
	__u64 inval = after->pages_invalidated - before->pages_invalidated;

	CHECK(refaults >= taken);
	CHECK(refaults <= inval);
	CHECK(after->intercepts > before->intercepts);
	CHECK(after->pages_faulted - before->pages_faulted >= refaults);
}

/* ---- MADV_PAGEOUT ------------------------------------------------------ */

static void pageout_round_trip(int thp)
{
	struct ovcmem_stats s0, s1, s2;
	struct vm v;
	size_t out;
	__u64 *pm;

	vm_setup(&v, 8 << 20, thp);
	vm_fill_ok(&v, 0x5eed0001);
	s0 = vm_stats(&v);
	CHECK_EQ(s0.pages, v.npages);
	CHECK_EQ(s0.pages_mapped, v.npages);

	out = ovt_pageout(v.mem, v.bytes, 4);
	printf("# %s: %zu of %zu pages swapped out\n", thp ? "thp" : "4k",
	       out, v.npages);
	/* zram swap is there: the host must really have taken most of it. */
	CHECK(out >= v.npages / 2);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, out);

	vm_verify_ok(&v, 0x5eed0001);
	s2 = vm_stats(&v);
	check_refaulted(&s0, &s2, out);
	CHECK_EQ(s2.pages_mapped, v.npages);

	/* The vCPU's read went through the host: the pages are back in. */
	pm = calloc(v.npages, 8);
	CHECK(pm != NULL);
	ovt_pagemap_ok(v.mem, v.npages, pm);
	CHECK_EQ(count_present(pm, v.npages), v.npages);
	CHECK_EQ(ovt_cpu_mismatches(v.mem, GPA, v.bytes, 0x5eed0001), 0);
}

TEST_TIMEOUT(pageout_4k_nothing_lost, 60)
{
	pageout_round_trip(0);
}

TEST_TIMEOUT(pageout_thp_nothing_lost, 60)
{
	pageout_round_trip(1);
}

/*
 * Swap-in by the CPU (not the vCPU) must not leave the SLAT pointing at
 * the swapped-out page: the vCPU sees the CPU's new data, and vice versa.
 */
TEST_TIMEOUT(pageout_then_cpu_and_vcpu_agree, 60)
{
	struct ovcmem_stats s0, s1;
	struct vm v;
	size_t out;

	vm_setup(&v, 4 << 20, 0);
	vm_fill_ok(&v, 0x5eed0101);
	s0 = vm_stats(&v);
	out = ovt_pageout(v.mem, v.bytes, 4);
	CHECK(out >= v.npages / 2);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, out);

	vm_coherent_ok(&v, 0x5eed0102, 0x5eed0103);

	/* And once more, with the vCPU first to touch the swapped pages. */
	out = ovt_pageout(v.mem, v.bytes, 4);
	CHECK(out >= v.npages / 2);
	vm_fill_ok(&v, 0x5eed0104);
	CHECK_EQ(ovt_cpu_mismatches(v.mem, GPA, v.bytes, 0x5eed0104), 0);
	vm_verify_ok(&v, 0x5eed0104);
}

/* ---- memory.reclaim into zram ------------------------------------------ */

TEST_TIMEOUT(memcg_reclaim_to_zram_nothing_lost, 60)
{
	struct ovcmem_stats s0, s1, s2;
	char cg[256];
	struct vm v;
	size_t out = 0;
	int i;

	ovt_cgroup_create_ok("ovt-reclaim", cg, sizeof(cg));
	ovt_cgroup_enter_ok(cg, 0);
	vm_setup(&v, 16 << 20, 0);
	vm_fill_ok(&v, 0x5eed0201);
	s0 = vm_stats(&v);
	CHECK_EQ(s0.pages_mapped, v.npages);

	/*
	 * Ask for more than the region: the cgroup holds little else. EAGAIN
	 * only says the kernel fell short of the request; what counts is what
	 * pagemap shows afterwards.
	 */
	for (i = 0; i < 4; i++) {
		if (ovt_cgroup_reclaim(cg, 32ULL << 20) != 0)
			CHECK(errno == EAGAIN);
		out = ovt_count_swapped(v.mem, v.npages);
		if (out >= v.npages * 3 / 4)
			break;
	}
	printf("# memory.reclaim swapped out %zu of %zu pages\n", out,
	       v.npages);
	CHECK(out >= v.npages / 4);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, out);

	vm_verify_ok(&v, 0x5eed0201);
	s2 = vm_stats(&v);
	check_refaulted(&s0, &s2, out);
	CHECK_EQ(s2.pages_mapped, v.npages);
	CHECK_EQ(ovt_cpu_mismatches(v.mem, GPA, v.bytes, 0x5eed0201), 0);

	munmap(v.mem, v.bytes);
	close(v.pfd);
	CHECK(ovt_cgroup_remove(cg) == 0);
}

/* ---- compaction --------------------------------------------------------- */

/*
 * Compaction moves movable pages from the low end of a zone to free pages
 * at its high end. To give it our pages to move, a big filler first takes
 * what the allocator hands out first, then the region's pages are
 * allocated interleaved with a second filler, and both fillers are freed
 * before compacting. Where the allocator put the pages is still its
 * choice: the test reports how many moved and checks the counters against
 * that number.
 */
TEST_TIMEOUT(compaction_nothing_lost, 60)
{
	struct ovcmem_stats s0, s1, s2;
	const size_t bytes = 16 << 20, big = 384 << 20;
	size_t i, n = bytes / OVT_PAGE, moved, pass;
	__u64 *pm0, *pm1, lo = ~0ULL, hi = 0;
	char *filler, *filler_big;
	struct vm v;

	filler_big = ovt_mmap_aligned(big, OVT_2M, 0);
	CHECK(madvise(filler_big, big, MADV_NOHUGEPAGE) == 0);
	for (i = 0; i < big; i += OVT_PAGE)
		filler_big[i] = 1;
	vm_setup(&v, bytes, 0);
	filler = ovt_mmap_aligned(bytes, OVT_2M, 0);
	CHECK(madvise(filler, bytes, MADV_NOHUGEPAGE) == 0);
	for (i = 0; i < n; i++) {
		v.mem[i * OVT_PAGE] = 1;
		filler[i * OVT_PAGE] = 1;
	}
	CHECK(munmap(filler, bytes) == 0);
	CHECK(munmap(filler_big, big) == 0);
	vm_fill_ok(&v, 0x5eed0301);

	pm0 = calloc(n, 8);
	pm1 = calloc(n, 8);
	CHECK(pm0 && pm1);
	ovt_pagemap_ok(v.mem, n, pm0);
	CHECK_EQ(count_present(pm0, n), n);
	for (i = 0; i < n; i++) {
		__u64 pfn = pm0[i] & OVT_PM_PFN_MASK;

		lo = pfn < lo ? pfn : lo;
		hi = pfn > hi ? pfn : hi;
	}
	s0 = vm_stats(&v);
	CHECK_EQ(s0.pages_mapped, n);

	for (pass = 0, moved = 0; pass < 2 && !moved; pass++) {
		CHECK(ovt_write_file("/proc/sys/vm/compact_memory", "1") == 0);
		ovt_pagemap_ok(v.mem, n, pm1);
		moved = ovt_pfns_changed(pm0, pm1, n);
	}
	printf("# compaction moved %zu of %zu pages of the region (pfns %#llx-%#llx)\n",
	       moved, n, (unsigned long long)lo, (unsigned long long)hi);
	s1 = vm_stats(&v);
	if (moved)
		check_invalidated(&v, &s0, &s1, moved);
	vm_verify_ok(&v, 0x5eed0301);
	s2 = vm_stats(&v);
	if (moved)
		check_refaulted(&s0, &s2, moved);
	vm_coherent_ok(&v, 0x5eed0302, 0x5eed0303);
}

/* ---- migration ---------------------------------------------------------- */

/*
 * MADV_SOFT_OFFLINE migrates each page of the range to a new page and
 * retires the old one: a migration that happens for sure, on one node.
 * It fails if something holds an extra reference on the page, which a
 * MOVABLE region must not do.
 */
TEST_TIMEOUT(soft_offline_migration_nothing_lost, 60)
{
	struct ovcmem_stats s0, s1, s2;
	const size_t nmig = 64;
	__u64 pm0[64], pm1[64];
	struct vm v;

	vm_setup(&v, 2 << 20, 0);
	vm_fill_ok(&v, 0x5eed0401);
	ovt_pagemap_ok(v.mem, nmig, pm0);
	CHECK_EQ(count_present(pm0, nmig), nmig);
	s0 = vm_stats(&v);

	CHECK(madvise(v.mem, nmig * OVT_PAGE, MADV_SOFT_OFFLINE) == 0);
	ovt_pagemap_ok(v.mem, nmig, pm1);
	CHECK_EQ(ovt_pfns_changed(pm0, pm1, nmig), nmig);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, nmig);

	vm_verify_ok(&v, 0x5eed0401);
	s2 = vm_stats(&v);
	check_refaulted(&s0, &s2, nmig);
	CHECK_EQ(s2.pages_mapped, v.npages);
	vm_coherent_ok(&v, 0x5eed0402, 0x5eed0403);
}

/* Current node of each of @n pages from @mem (move_pages query). */
static void page_nodes(char *mem, size_t n, int *status)
{
	void **pages = calloc(n, sizeof(*pages));
	size_t i;

	CHECK(pages != NULL);
	for (i = 0; i < n; i++)
		pages[i] = mem + i * OVT_PAGE;
	CHECK(syscall(SYS_move_pages, 0, n, pages, NULL, status, 0) == 0);
	free(pages);
}

/* move_pages to the other node migrates every page (two nodes needed). */
TEST_TIMEOUT(move_pages_nothing_lost, 60)
{
	struct ovcmem_stats s0, s1, s2;
	const size_t n = 128;
	__u64 pm0[128], pm1[128];
	int status[128], nodes[128], target;
	void *pages[128];
	size_t i, moved;
	struct vm v;

	vm_setup(&v, 2 << 20, 0);
	vm_fill_ok(&v, 0x5eed0501);
	page_nodes(v.mem, n, status);
	CHECK(status[0] >= 0);
	target = ovt_other_node_ok(status[0]);
	for (i = 0; i < n; i++) {
		pages[i] = v.mem + i * OVT_PAGE;
		nodes[i] = target;
	}
	ovt_pagemap_ok(v.mem, n, pm0);
	s0 = vm_stats(&v);
	CHECK(syscall(SYS_move_pages, 0, n, pages, nodes, status,
		      MPOL_MF_MOVE) == 0);
	for (i = 0; i < n; i++)
		CHECK_EQ(status[i], target);
	ovt_pagemap_ok(v.mem, n, pm1);
	moved = ovt_pfns_changed(pm0, pm1, n);
	printf("# move_pages to node %d moved %zu of %zu pages\n", target,
	       moved, n);
	CHECK_EQ(moved, n);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, moved);
	vm_verify_ok(&v, 0x5eed0501);
	s2 = vm_stats(&v);
	check_refaulted(&s0, &s2, moved);
	vm_coherent_ok(&v, 0x5eed0502, 0x5eed0503);
}

/*
 * migrate_pages moves every page of the process from one node set to
 * another (two nodes needed).
 */
TEST_TIMEOUT(migrate_pages_nothing_lost, 60)
{
	struct ovcmem_stats s0, s1, s2;
	__u64 from, to, *pm0, *pm1;
	int *status, src, dst;
	size_t moved, i, on_src = 0;
	struct vm v;
	long r;

	vm_setup(&v, 4 << 20, 0);
	vm_fill_ok(&v, 0x5eed0601);
	status = calloc(v.npages, sizeof(*status));
	pm0 = calloc(v.npages, 8);
	pm1 = calloc(v.npages, 8);
	CHECK(status && pm0 && pm1);
	page_nodes(v.mem, v.npages, status);
	src = status[0];
	dst = ovt_other_node_ok(src);
	for (i = 0; i < v.npages; i++)
		on_src += status[i] == src;
	from = 1ULL << src;
	to = 1ULL << dst;
	ovt_pagemap_ok(v.mem, v.npages, pm0);
	s0 = vm_stats(&v);
	r = syscall(SYS_migrate_pages, 0, 64, &from, &to);
	CHECK(r >= 0);
	ovt_pagemap_ok(v.mem, v.npages, pm1);
	moved = ovt_pfns_changed(pm0, pm1, v.npages);
	printf("# migrate_pages %d -> %d moved %zu of %zu pages (%ld not moved)\n",
	       src, dst, moved, v.npages, r);
	CHECK_EQ(r, 0);
	CHECK_EQ(on_src, v.npages);
	CHECK_EQ(moved, on_src);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, moved);
	vm_verify_ok(&v, 0x5eed0601);
	s2 = vm_stats(&v);
	check_refaulted(&s0, &s2, moved);
	vm_coherent_ok(&v, 0x5eed0602, 0x5eed0603);
}

/* ---- exact accounting of a partial invalidation --------------------------- */

/*
 * Two regions over adjacent halves of one mapping (far apart in GFN
 * space); MADV_DONTNEED over [1M, 3M) hits the second half of the first
 * and the first half of the second. Each region clamps the range to
 * itself and clears exactly those pages (DONTNEED splits no VMA, so no
 * other invalidation muddies the count); what was dropped reads back as
 * zero (fresh anonymous memory), the rest as the pattern.
 */
TEST_TIMEOUT(dontneed_across_regions_clears_exactly_its_range, 60)
{
	const size_t half = 2 << 20, hp = half / OVT_PAGE;
	const __u64 gfn2 = GFN + 0x10000, gpa2 = gfn2 * OVT_PAGE;
	struct ovcmem_stats a0, b0, a1, b1;
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_aligned(2 * half, OVT_2M, 0);
	__u64 v;

	CHECK(madvise(mem, 2 * half, MADV_NOHUGEPAGE) == 0);
	CHECK(ovt_map_region(pfd, GFN, mem, half, OVCMEM_REGION_WRITABLE) == 0);
	CHECK(ovt_map_region(pfd, gfn2, mem + half, half,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK_EQ(ovt_fill(pfd, GPA, half, 0x5eed0901), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_fill(pfd, gpa2, half, 0x5eed0902), OVCMEM_EXIT_OK);
	a0 = ovt_stats_ok(pfd, GFN);
	b0 = ovt_stats_ok(pfd, gfn2);
	CHECK_EQ(a0.pages_mapped, hp);
	CHECK_EQ(b0.pages_mapped, hp);

	CHECK(madvise(mem + half / 2, half, MADV_DONTNEED) == 0);
	a1 = ovt_stats_ok(pfd, GFN);
	b1 = ovt_stats_ok(pfd, gfn2);
	CHECK_EQ(a1.pages_mapped, hp / 2);
	CHECK_EQ(b1.pages_mapped, hp / 2);
	CHECK_EQ(a1.pages_invalidated - a0.pages_invalidated, hp / 2);
	CHECK_EQ(b1.pages_invalidated - b0.pages_invalidated, hp / 2);
	CHECK_EQ(a1.invalidations - a0.invalidations, 1);
	CHECK_EQ(b1.invalidations - b0.invalidations, 1);

	CHECK(ovt_verify(pfd, GPA, half / 2, 0x5eed0901, NULL) == 0);
	CHECK(ovt_verify(pfd, gpa2 + half / 2, half / 2, 0x5eed0902, NULL) ==
	      0);
	CHECK_EQ(ovt_read64(pfd, GPA + half / 2, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0);
	CHECK_EQ(ovt_read64(pfd, GPA + half - 8, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0);
	CHECK_EQ(ovt_read64(pfd, gpa2, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0);
	CHECK_EQ(ovt_read64(pfd, gpa2 + half / 2 - 8, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0);
	/* Dropped, not swapped: these refaults are fresh zero pages, still
	 * pages the host had taken away. */
	a1 = ovt_stats_ok(pfd, GFN);
	CHECK(a1.refaults - a0.refaults >= 1);
	CHECK(a1.refaults - a0.refaults <= hp / 2);
}

/* ---- THP collapse ------------------------------------------------------ */

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/*
 * MADV_COLLAPSE copies a range of 4 KiB pages into new huge pages and
 * swaps them in: every page moves. The 4 KiB SLAT entries must go, and the
 * next touch maps the new huge pages, as 2 MiB entries (the region and the
 * memory are both 2 MiB aligned).
 */
TEST_TIMEOUT(thp_collapse_nothing_lost, 60)
{
	const size_t bytes = 4 << 20, n = bytes / OVT_PAGE;
	struct ovcmem_stats s0, s1, s2;
	__u64 *pm0, *pm1;
	size_t moved;
	struct vm v;
	int i, r = -1;

	/* Neither NOHUGEPAGE (collapse refuses it) nor HUGEPAGE (the fill
	 * would fault huge pages already): the rig's THP mode is madvise. */
	v.pfd = ovt_partition_ok(0, NULL);
	v.bytes = bytes;
	v.npages = n;
	v.mem = ovt_mmap_aligned(bytes, OVT_2M, 0);
	CHECK(ovt_map_region(v.pfd, GFN, v.mem, bytes,
			     OVCMEM_REGION_WRITABLE) == 0);
	vm_fill_ok(&v, 0x5eed0701);
	s0 = vm_stats(&v);
	CHECK_EQ(s0.pages_mapped, n);
	CHECK_EQ(s0.large_entries, 0);
	pm0 = calloc(n, 8);
	pm1 = calloc(n, 8);
	CHECK(pm0 && pm1);
	ovt_pagemap_ok(v.mem, n, pm0);

	for (i = 0; i < 3 && r; i++) {
		r = madvise(v.mem, bytes, MADV_COLLAPSE);
		if (r) {
			CHECK(errno == EAGAIN || errno == ENOMEM);
			ovt_write_file("/proc/sys/vm/compact_memory", "1");
		}
	}
	CHECK(r == 0);
	ovt_pagemap_ok(v.mem, n, pm1);
	moved = ovt_pfns_changed(pm0, pm1, n);
	CHECK_EQ(moved, n);
	s1 = vm_stats(&v);
	check_invalidated(&v, &s0, &s1, moved);
	CHECK_EQ(s1.pages_mapped, 0);

	vm_verify_ok(&v, 0x5eed0701);
	s2 = vm_stats(&v);
	check_refaulted(&s0, &s2, moved);
	CHECK_EQ(s2.pages_mapped, n);
	CHECK_EQ(s2.large_entries, bytes / OVT_2M);
	vm_coherent_ok(&v, 0x5eed0702, 0x5eed0703);
}

/* ---- KSM ------------------------------------------------------------------ */

#define KSM "/sys/kernel/mm/ksm/"

static long long ksm_value(const char *name)
{
	char p[128];
	FILE *f;
	long long v = -1;

	snprintf(p, sizeof(p), KSM "%s", name);
	f = fopen(p, "r");
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Page @i's content: one of 8 kinds, so KSM merges 64 pages per kind. */
static __u64 ksm_word(size_t i, size_t w)
{
	return ovcmem_pattern(0x4b534d + i % 8, w * 8);
}

/*
 * KSM merges identical pages into one write-protected page: it
 * write-protects each page, then replaces the duplicates' ptes. The SLAT
 * must follow both: the guest reads the same data from the merged pages,
 * and a guest write breaks the sharing (a new page for that gfn) rather
 * than writing into the page that 63 other gfns now share.
 */
TEST_TIMEOUT(ksm_merge_nothing_lost, 60)
{
	const size_t bytes = 2 << 20, n = bytes / OVT_PAGE, wpp = OVT_PAGE / 8;
	struct ovcmem_stats s0, s1;
	__u64 *w, *pm0, *pm1, sum, v, expect;
	size_t i, k, moved;
	long long sharing = 0;
	struct vm v_;
	double waited;

	vm_setup(&v_, bytes, 0);
	w = (__u64 *)v_.mem;
	for (i = 0; i < n; i++)
		for (k = 0; k < wpp; k++)
			w[i * wpp + k] = ksm_word(i, k);
	expect = ovt_user_checksum(v_.mem, bytes);
	CHECK_EQ(ovt_checksum(v_.pfd, GPA, bytes, &sum), OVCMEM_EXIT_OK);
	CHECK_EQ(sum, expect);
	s0 = vm_stats(&v_);
	CHECK_EQ(s0.pages_mapped, n);
	pm0 = calloc(n, 8);
	pm1 = calloc(n, 8);
	CHECK(pm0 && pm1);
	ovt_pagemap_ok(v_.mem, n, pm0);

	CHECK(ovt_write_file(KSM "pages_to_scan", "5000") == 0);
	CHECK(ovt_write_file(KSM "sleep_millisecs", "10") == 0);
	CHECK(madvise(v_.mem, bytes, MADV_MERGEABLE) == 0);
	CHECK(ovt_write_file(KSM "run", "1") == 0);
	for (waited = 0; waited < 20; waited += 0.1) {
		sharing = ksm_value("pages_sharing");
		if (sharing >= (long long)(n - 8))
			break;
		usleep(100000);
	}
	printf("# ksm: pages_sharing %lld, pages_shared %lld after %.1f s\n",
	       sharing, ksm_value("pages_shared"), waited);
	CHECK(sharing >= (long long)(n / 2));
	ovt_write_file(KSM "run", "0");

	ovt_pagemap_ok(v_.mem, n, pm1);
	moved = ovt_pfns_changed(pm0, pm1, n);
	CHECK(moved >= (size_t)sharing - 8);
	s1 = vm_stats(&v_);
	check_invalidated(&v_, &s0, &s1, moved);

	/* Same data through the merged pages. */
	CHECK_EQ(ovt_checksum(v_.pfd, GPA, bytes, &sum), OVCMEM_EXIT_OK);
	CHECK_EQ(sum, expect);
	/* A guest write to page 8 stays in page 8; its 63 twins keep theirs. */
	CHECK_EQ(ovt_write64(v_.pfd, GPA + 8 * OVT_PAGE, 0xdeadbeef),
		 OVCMEM_EXIT_OK);
	CHECK_EQ(w[8 * wpp], 0xdeadbeef);
	for (i = 0; i < n; i += 8) {
		if (i == 8)
			continue;
		CHECK_EQ(w[i * wpp], ksm_word(i, 0));
		CHECK_EQ(ovt_read64(v_.pfd, GPA + i * OVT_PAGE, &v),
			 OVCMEM_EXIT_OK);
		CHECK_EQ(v, ksm_word(i, 0));
	}
	CHECK_EQ(ovt_read64(v_.pfd, GPA + 8 * OVT_PAGE, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0xdeadbeef);
	/* And a CPU write to a merged page is seen by the guest. */
	w[16 * wpp + 1] = 0xfeedface;
	CHECK_EQ(ovt_read64(v_.pfd, GPA + 16 * OVT_PAGE + 8, &v),
		 OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0xfeedface);
	CHECK_EQ(ovt_read64(v_.pfd, GPA + 24 * OVT_PAGE + 8, &v),
		 OVCMEM_EXIT_OK);
	CHECK_EQ(v, ksm_word(24, 1));
	ovt_write_file(KSM "run", "2");
}

int main(void)
{
	return run_tests();
}
