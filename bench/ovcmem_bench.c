// SPDX-License-Identifier: GPL-2.0
/*
 * ovcmem driver benchmark (issue 3, "Benchmark"). Runs in the test guest
 * (bench/driver-vm.sh boots it) and prints figures, not pass/fail:
 *
 *   1. mapping throughput of one big region, MOVABLE (SLAT filled by GPA
 *      intercepts, one 2 MiB fault batch per intercept) against PINNED
 *      (pinned and mapped whole by MAP_REGION), as a ratio; once with the
 *      host pages already present ("warm": the cost of mapping) and once
 *      without ("cold": allocation and zeroing included);
 *   2. vCPU accesses that hit the SLAT, per second, against a plain
 *      userspace loop reading the same words; and bulk CHECKSUM bandwidth
 *      against the same FNV loop in userspace;
 *   3. invalidation: SLAT pages cleared per second while MADV_PAGEOUT
 *      sends the region to zram, and the cost of the notifier, measured as
 *      the same pageout / MADV_DONTNEED on memory that no region covers.
 *
 *   ovcmem_bench [MiB]     region size for 1 (default 512)
 *
 * Figures from the emulated (TCG) guest compare paths with each other;
 * their absolute values say little about real hardware.
 */
#include <time.h>

#include "ovcmem_test.h"

#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *mem_host(size_t bytes, int populate, int thp)
{
	char *p = ovt_mmap_aligned(bytes, OVT_2M, 0);
	size_t i;

	CHECK(madvise(p, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0);
	if (populate)
		for (i = 0; i < bytes; i += OVT_PAGE)
			p[i] = 1;
	return p;
}

static char *mem_4k(size_t bytes, int populate)
{
	return mem_host(bytes, populate, 0);
}

/* Seconds to map @bytes into the SLAT and touch each 2 MiB block once. */
static double map_seconds(size_t bytes, int pinned, int warm, int thp)
{
	char *mem = mem_host(bytes, warm, thp);
	int pfd = ovt_partition_ok(0, NULL);
	struct ovcmem_stats s;
	double t0, t;
	size_t off;
	__u64 v;

	t0 = now();
	CHECK(ovt_map_region(pfd, GFN, mem, bytes,
			     OVCMEM_REGION_WRITABLE |
				     (pinned ? OVCMEM_REGION_PINNED : 0)) == 0);
	for (off = 0; off < bytes; off += OVT_2M)
		CHECK_EQ(ovt_read64(pfd, GPA + off, &v), OVCMEM_EXIT_OK);
	t = now() - t0;
	s = ovt_stats_ok(pfd, GFN);
	if (s.pages_mapped != bytes / OVT_PAGE)
		printf("bench: warning: %llu of %zu pages mapped\n",
		       (unsigned long long)s.pages_mapped,
		       (size_t)(bytes / OVT_PAGE));
	printf("bench:   %s %s%s: %.3f s, %llu intercepts, %llu fault batches, "
	       "%llu 2 MiB entries\n",
	       pinned ? "pinned" : "movable", warm ? "warm" : "cold",
	       thp ? " THP" : "", t, (unsigned long long)s.intercepts,
	       (unsigned long long)s.fault_batches,
	       (unsigned long long)s.large_entries);
	close(pfd);
	munmap(mem, bytes);
	return t;
}

/* Best of three runs each, alternating, so that neither gets the fresher
 * memory state. */
static void bench_mapping_one(size_t mib, int warm, int thp)
{
	size_t bytes = mib << 20;
	double mov = 1e9, pin = 1e9, t;
	int rep;

	for (rep = 0; rep < 3; rep++) {
		t = map_seconds(bytes, 0, warm, thp);
		mov = t < mov ? t : mov;
		t = map_seconds(bytes, 1, warm, thp);
		pin = t < pin ? t : pin;
	}
	printf("bench: map %zu MiB %s%s: movable %.0f MiB/s, pinned %.0f "
	       "MiB/s, movable/pinned %.2f\n",
	       mib,
	       warm ? "warm (host pages present)"
		    : "cold (allocation included)",
	       thp ? ", THP" : ", 4 KiB", mib / mov, mib / pin, pin / mov);
}

static void bench_mapping(size_t mib)
{
	bench_mapping_one(mib, 1, 0);
	bench_mapping_one(mib, 0, 0);
	bench_mapping_one(mib, 1, 1);
}

/* ---- hit accesses ------------------------------------------------------- */

#define HIT_SPAN    (16ULL << 20)
#define HIT_STRIDE  64
#define MIN_SECONDS 1.5

static void bench_hits(void)
{
	const size_t n = HIT_SPAN / HIT_STRIDE;
	struct ovcmem_access *acc = calloc(OVCMEM_VCPU_MAX_BATCH, sizeof(*acc));
	char *mem = mem_4k(HIT_SPAN, 1);
	int pfd = ovt_partition_ok(0, NULL);
	volatile __u64 sink = 0;
	double t0, t, vcpu_rate, user_rate, vcpu_bw, user_bw;
	__u64 done_n = 0, passes = 0, i, j, sum;
	struct ovcmem_stats s0, s1;
	__u32 done;

	CHECK(acc != NULL);
	CHECK(ovt_map_region(pfd, GFN, mem, HIT_SPAN, OVCMEM_REGION_WRITABLE) ==
	      0);
	CHECK_EQ(ovt_fill(pfd, GPA, HIT_SPAN, 1), OVCMEM_EXIT_OK);
	s0 = ovt_stats_ok(pfd, GFN);

	t0 = now();
	do {
		for (i = 0; i < n; i += OVCMEM_VCPU_MAX_BATCH) {
			for (j = 0; j < OVCMEM_VCPU_MAX_BATCH; j++) {
				acc[j].gpa = GPA + (i + j) * HIT_STRIDE;
				acc[j].op = OVCMEM_ACCESS_READ64;
				acc[j].exit = 0;
			}
			CHECK(ovt_vcpu_run(pfd, acc, OVCMEM_VCPU_MAX_BATCH,
					   &done) == 0);
			CHECK_EQ(done, OVCMEM_VCPU_MAX_BATCH);
			done_n += done;
		}
	} while ((t = now() - t0) < MIN_SECONDS);
	vcpu_rate = done_n / t;
	s1 = ovt_stats_ok(pfd, GFN);
	if (s1.intercepts != s0.intercepts)
		printf("bench: warning: %llu intercepts during the hit run\n",
		       (unsigned long long)(s1.intercepts - s0.intercepts));

	done_n = 0;
	t0 = now();
	do {
		for (i = 0; i < n; i++)
			sink += *(volatile __u64 *)(mem + i * HIT_STRIDE);
		done_n += n;
	} while ((t = now() - t0) < MIN_SECONDS);
	user_rate = done_n / t;
	printf("bench: hit READ64: vCPU %.2f M/s (batches of %d), userspace "
	       "loop %.2f M/s, vCPU/userspace %.3f\n",
	       vcpu_rate / 1e6, OVCMEM_VCPU_MAX_BATCH, user_rate / 1e6,
	       vcpu_rate / user_rate);

	t0 = now();
	do {
		for (i = 0; i < HIT_SPAN; i += 1 << 20)
			CHECK_EQ(ovt_checksum(pfd, GPA + i, 1 << 20, &sum),
				 OVCMEM_EXIT_OK);
		passes++;
	} while ((t = now() - t0) < MIN_SECONDS);
	vcpu_bw = passes * (HIT_SPAN >> 20) / t;
	passes = 0;
	t0 = now();
	do {
		sink += ovt_user_checksum(mem, HIT_SPAN);
		passes++;
	} while ((t = now() - t0) < MIN_SECONDS);
	user_bw = passes * (HIT_SPAN >> 20) / t;
	printf("bench: bulk CHECKSUM: vCPU %.1f MiB/s, userspace %.1f MiB/s, "
	       "vCPU/userspace %.3f\n",
	       vcpu_bw, user_bw, vcpu_bw / user_bw);
	(void)sink;
	close(pfd);
	munmap(mem, HIT_SPAN);
	free(acc);
}

/* ---- invalidation -------------------------------------------------------- */

#define INVAL_BYTES (64ULL << 20)

/*
 * Time @advice over INVAL_BYTES of memory, in a region (filled and mapped
 * through the vCPU) or not; for MADV_PAGEOUT, repeat until all is out.
 * Returns seconds; pages invalidated in *@inval.
 */
static double advise_seconds(int advice, int in_region, __u64 *inval)
{
	char *mem = mem_4k(INVAL_BYTES, 1);
	int pfd = ovt_partition_ok(0, NULL);
	struct ovcmem_stats s0, s1;
	__u64 *w = (__u64 *)mem, k;
	double t0, t;
	int pass;

	/* The same page state both ways: written by the CPU; with a
	 * region, also mapped in the SLAT by a vCPU read of every page. */
	for (k = 0; k < INVAL_BYTES / 8; k++)
		w[k] = ovcmem_pattern(7, GPA + 8 * k);
	if (in_region) {
		CHECK(ovt_map_region(pfd, GFN, mem, INVAL_BYTES,
				     OVCMEM_REGION_WRITABLE) == 0);
		CHECK(ovt_verify(pfd, GPA, INVAL_BYTES, 7, NULL) == 0);
		CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped,
			 INVAL_BYTES / OVT_PAGE);
	}
	s0 = in_region ? ovt_stats_ok(pfd, GFN) : (struct ovcmem_stats){0};
	t0 = now();
	for (pass = 0; pass < 4; pass++) {
		CHECK(madvise(mem, INVAL_BYTES, advice) == 0);
		if (advice != MADV_PAGEOUT ||
		    ovt_count_swapped(mem, INVAL_BYTES / OVT_PAGE) ==
			    INVAL_BYTES / OVT_PAGE)
			break;
	}
	t = now() - t0;
	s1 = in_region ? ovt_stats_ok(pfd, GFN) : s0;
	*inval = s1.pages_invalidated - s0.pages_invalidated;
	close(pfd);
	munmap(mem, INVAL_BYTES);
	return t;
}

/* Best of three runs each, alternating with and without a region. */
static void bench_advice(int advice, const char *name)
{
	const size_t pages = INVAL_BYTES / OVT_PAGE;
	double with = 1e9, without = 1e9, t;
	__u64 inval = 0, none, n;
	int rep;

	for (rep = 0; rep < 3; rep++) {
		t = advise_seconds(advice, 0, &none);
		without = t < without ? t : without;
		t = advise_seconds(advice, 1, &n);
		if (t < with) {
			with = t;
			inval = n;
		}
	}
	printf("bench: %s %llu MiB: %.0f pages invalidated/s (%llu of %zu "
	       "pages in %.3f s); same without a region %.3f s: notifier "
	       "overhead %+.1f%%\n",
	       name, INVAL_BYTES >> 20, inval / with, (unsigned long long)inval,
	       pages, with, without, 100.0 * (with - without) / without);
}

static void bench_invalidation(void)
{
	bench_advice(MADV_PAGEOUT, "MADV_PAGEOUT to zram");
	bench_advice(MADV_DONTNEED, "MADV_DONTNEED");
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 512;

	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_current = "ovcmem_bench";
	printf("bench: ovcmem driver, region %zu MiB, page size 4 KiB "
	       "(MADV_NOHUGEPAGE)\n",
	       mib);
	bench_mapping(mib);
	bench_hits();
	bench_invalidation();
	printf("bench: done\n");
	return 0;
}
