// SPDX-License-Identifier: GPL-2.0
/*
 * Host aging sees guest use (issue 3, item 11). A guest touches its memory
 * through the SLAT, not through the host's page tables, so the host's LRU
 * would call that memory cold unless the driver answers the mmu notifier's
 * young queries from the SLAT accessed bits, as KVM does.
 *
 * Setup in a cgroup of its own, so that memory.reclaim works on nothing
 * else:
 *   hot  region H  2 MiB: written, then read again and again, by the vCPU
 *   cold region C 16 MiB: written once by the host CPU, never by the guest
 * H is populated first and both are MADV_COLD'ed in that order, so on the
 * host's LRU the hot pages are the oldest and their CPU ptes are old: a
 * driver that did not report guest accesses would see H reclaimed first.
 * Then rounds of (touch H through the vCPU, memory.reclaim 1 MiB), 8 MiB in
 * all -- less than C. At least 90% of H must still be mapped in the SLAT,
 * the reclaim must really have taken cold pages, and the counters must
 * show that aging consulted H's accessed bits.
 */
#include "ovcmem_test.h"

#define H_GFN 0x100000ULL
#define C_GFN 0x110000ULL
#define H_BYTES (2ULL << 20)
#define C_BYTES (16ULL << 20)
#define ROUNDS 8
#define RECLAIM_STEP (1ULL << 20)
#define H_SEED 0x407ULL
#define C_SEED 0xc01dULL

struct aging {
	char cg[256];
	int pfd;
	char *h, *c;
};

static char *mem_4k(size_t bytes)
{
	char *p = ovt_mmap_aligned(bytes, OVT_2M, 0);

	CHECK(madvise(p, bytes, MADV_NOHUGEPAGE) == 0);
	return p;
}

/* The layout of the file comment: H written by the vCPU first, C by the
 * CPU, both made old on the host's LRU, in that order. */
static void aging_setup(struct aging *a, const char *name)
{
	__u64 *w;
	size_t i;

	ovt_cgroup_create_ok(name, a->cg, sizeof(a->cg));
	ovt_cgroup_enter_ok(a->cg, 0);
	a->pfd = ovt_partition_ok(0, NULL);
	a->h = mem_4k(H_BYTES);
	a->c = mem_4k(C_BYTES);
	CHECK(ovt_map_region(a->pfd, H_GFN, a->h, H_BYTES,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK(ovt_map_region(a->pfd, C_GFN, a->c, C_BYTES,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK_EQ(ovt_fill(a->pfd, H_GFN * OVT_PAGE, H_BYTES, H_SEED),
		 OVCMEM_EXIT_OK);
	w = (__u64 *)a->c;
	for (i = 0; i < C_BYTES / 8; i++)
		w[i] = ovcmem_pattern(C_SEED, C_GFN * OVT_PAGE + 8 * i);
	CHECK(madvise(a->h, H_BYTES, MADV_COLD) == 0);
	CHECK(madvise(a->c, C_BYTES, MADV_COLD) == 0);
	CHECK_EQ(ovt_stats_ok(a->pfd, H_GFN).pages_mapped, H_BYTES / OVT_PAGE);
}

/* The guest reads its whole hot set. */
static void touch_hot(struct aging *a)
{
	__u64 i, sum;

	for (i = 0; i < H_BYTES; i += OVT_2M) {
		CHECK_EQ(ovt_checksum(a->pfd, H_GFN * OVT_PAGE + i, OVT_2M,
				      &sum),
			 OVCMEM_EXIT_OK);
		CHECK_EQ(sum, ovt_pattern_checksum(H_GFN * OVT_PAGE + i,
						   OVT_2M, H_SEED));
	}
}

static void reclaim_step(struct aging *a, unsigned long long bytes)
{
	if (ovt_cgroup_reclaim(a->cg, bytes) != 0)
		CHECK(errno == EAGAIN);
}

static void aging_done(struct aging *a)
{
	/* Nothing lost on either side, whatever went to swap. */
	CHECK(ovt_verify(a->pfd, H_GFN * OVT_PAGE, H_BYTES, H_SEED, NULL) == 0);
	CHECK(ovt_verify(a->pfd, C_GFN * OVT_PAGE, C_BYTES, C_SEED, NULL) == 0);
	close(a->pfd);
	munmap(a->h, H_BYTES);
	munmap(a->c, C_BYTES);
	CHECK(ovt_cgroup_remove(a->cg) == 0);
}

TEST_TIMEOUT(reclaim_spares_the_guest_hot_set, 60)
{
	const size_t h_pages = H_BYTES / OVT_PAGE, c_pages = C_BYTES / OVT_PAGE;
	struct ovcmem_stats h0, h1;
	size_t c_out, h_out;
	__u64 min_mapped = ~0ULL;
	struct aging a;
	int r;

	aging_setup(&a, "ovt-aging");
	h0 = ovt_stats_ok(a.pfd, H_GFN);
	for (r = 0; r < ROUNDS; r++) {
		touch_hot(&a);
		reclaim_step(&a, RECLAIM_STEP);
		/* Measured right after each reclaim: the next touch would
		 * fault back whatever was lost and hide it. */
		h1 = ovt_stats_ok(a.pfd, H_GFN);
		if (h1.pages_mapped < min_mapped)
			min_mapped = h1.pages_mapped;
		printf("# round %d: hot set %llu/%zu mapped, cold swapped %zu/%zu\n",
		       r, (unsigned long long)h1.pages_mapped, h_pages,
		       ovt_count_swapped(a.c, c_pages), c_pages);
	}

	h1 = ovt_stats_ok(a.pfd, H_GFN);
	c_out = ovt_count_swapped(a.c, c_pages);
	h_out = ovt_count_swapped(a.h, h_pages);
	printf("# hot set: at least %llu of %zu pages mapped, %llu refaulted (%zu swapped now), young cleared %llu; cold set: %zu of %zu swapped\n",
	       (unsigned long long)min_mapped, h_pages,
	       (unsigned long long)(h1.refaults - h0.refaults), h_out,
	       (unsigned long long)h1.young_cleared, c_out, c_pages);
	/* The reclaim really happened, and took less than the cold set. */
	CHECK(c_out >= ROUNDS * RECLAIM_STEP / OVT_PAGE / 4);
	CHECK(c_out < c_pages);
	/* The hot set stayed (the whole point), after every reclaim, and the
	 * guest hardly had to fault any of it back. */
	CHECK(min_mapped * 10 >= h_pages * 9);
	CHECK(h_out * 10 <= h_pages);
	CHECK((h1.refaults - h0.refaults) * 10 <= h_pages);
	/* Host aging asked the SLAT and cleared the hot pages' bits. */
	CHECK(h1.young_cleared > h0.young_cleared);
	aging_done(&a);
}

/*
 * The other half of the contract: the accessed bits are consumed, not
 * sticky. Once the guest stops touching H, reclaiming more than what is
 * left of C must take H too; a driver that kept answering "young" would
 * make guest memory unreclaimable.
 */
TEST_TIMEOUT(hot_set_goes_cold_when_the_guest_stops, 60)
{
	const size_t h_pages = H_BYTES / OVT_PAGE, c_pages = C_BYTES / OVT_PAGE;
	struct ovcmem_stats h1;
	struct aging a;
	int r;

	aging_setup(&a, "ovt-aging-stop");
	for (r = 0; r < ROUNDS / 2; r++) {
		touch_hot(&a);
		reclaim_step(&a, RECLAIM_STEP);
	}
	h1 = ovt_stats_ok(a.pfd, H_GFN);
	CHECK(h1.pages_mapped * 10 >= h_pages * 9);
	/* The guest goes idle; the host keeps reclaiming, past all of C. */
	for (r = 0; r < 16; r++) {
		reclaim_step(&a, 2 * RECLAIM_STEP);
		h1 = ovt_stats_ok(a.pfd, H_GFN);
		if (h1.pages_mapped * 2 < h_pages)
			break;
	}
	printf("# idle guest: after %d more reclaims, hot set %llu/%zu mapped (%zu swapped), cold %zu/%zu swapped\n",
	       r + 1, (unsigned long long)h1.pages_mapped, h_pages,
	       ovt_count_swapped(a.h, h_pages), ovt_count_swapped(a.c, c_pages),
	       c_pages);
	CHECK(h1.pages_mapped * 2 < h_pages);
	CHECK(ovt_count_swapped(a.h, h_pages) * 2 > h_pages);
	aging_done(&a);
}

int main(void)
{
	return run_tests();
}
