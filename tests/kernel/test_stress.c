// SPDX-License-Identifier: GPL-2.0
/*
 * Stress (issue 3, item 8): vCPU threads fill, check and poke guest memory
 * while other threads make the host take it back as fast as they can:
 * MADV_PAGEOUT, memory.reclaim into zram, compaction, soft-offline page
 * migration, and PREFAULT racing the intercepts. For a bounded time (the
 * guest is emulated and slow), then: the data is intact, every coherence
 * probe agreed, and the counters add up.
 *
 * Layout, one partition:
 *   region A  8 MiB 4 KiB pages   vCPU thread 0: FILL / CHECKSUM rounds
 *   region B  8 MiB THP           vCPU thread 1: FILL / CHECKSUM rounds
 *   region C  2 MiB 4 KiB pages   probe thread: CPU writes, vCPU reads,
 *                                 vCPU writes, CPU reads, word by word
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ovcmem_test.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif

#define RUN_SECONDS 8
#define A_GFN 0x100000ULL
#define B_GFN 0x101000ULL
#define C_GFN 0x102000ULL
#define AB_BYTES (8ULL << 20)
#define C_BYTES (2ULL << 20)

static int pfd;
static char *mem_a, *mem_b, *mem_c;
static char cg[256];
static atomic_int stop;
static atomic_ullong accesses_done;	/* accesses completed OK, all threads */
static atomic_ullong rounds, probes, pageouts, reclaims, compactions,
	offlines, prefaults;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u64 xorshift(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static char *region_mem(size_t bytes, int thp)
{
	char *p;

	if (thp)
		return ovt_mmap_thp(bytes);
	p = ovt_mmap_aligned(bytes, OVT_2M, 0);
	CHECK(madvise(p, bytes, MADV_NOHUGEPAGE) == 0);
	return p;
}

/* Fill the whole region with a new seed, then check it, round after round. */
static void *vcpu_rounds(void *arg)
{
	__u64 gfn = (uintptr_t)arg, gpa = gfn * OVT_PAGE, seed = gfn, bad;

	while (!atomic_load(&stop)) {
		seed = seed * 6364136223846793005ULL + 1;
		if (ovt_fill(pfd, gpa, AB_BYTES, seed) != OVCMEM_EXIT_OK)
			FAIL("FILL of gfn %#llx did not exit OK",
			     (unsigned long long)gfn);
		atomic_fetch_add(&accesses_done, 1);
		if (ovt_verify(pfd, gpa, AB_BYTES, seed, &bad))
			FAIL("round %llu: data lost at gpa %#llx",
			     (unsigned long long)atomic_load(&rounds),
			     (unsigned long long)bad);
		atomic_fetch_add(&accesses_done, AB_BYTES >> 20);
		atomic_fetch_add(&rounds, 1);
	}
	return NULL;
}

/* CPU and vCPU must see each other's last write to any word of C. */
static void *probe(void *arg)
{
	volatile __u64 *w = (volatile __u64 *)mem_c;
	__u64 s = 0x9e3779b97f4a7c15ULL, i, v, got;

	(void)arg;
	while (!atomic_load(&stop)) {
		i = xorshift(&s) % (C_BYTES / 8);
		v = xorshift(&s);
		w[i] = v;
		if (ovt_read64(pfd, C_GFN * OVT_PAGE + 8 * i, &got) !=
		    OVCMEM_EXIT_OK)
			FAIL("probe read did not exit OK");
		if (got != v)
			FAIL("vCPU read %#llx, CPU wrote %#llx (word %llu)",
			     (unsigned long long)got, (unsigned long long)v,
			     (unsigned long long)i);
		v = xorshift(&s);
		if (ovt_write64(pfd, C_GFN * OVT_PAGE + 8 * i, v) !=
		    OVCMEM_EXIT_OK)
			FAIL("probe write did not exit OK");
		if (w[i] != v)
			FAIL("CPU read %#llx, vCPU wrote %#llx (word %llu)",
			     (unsigned long long)w[i], (unsigned long long)v,
			     (unsigned long long)i);
		atomic_fetch_add(&accesses_done, 2);
		atomic_fetch_add(&probes, 1);
	}
	return NULL;
}

/* One region per pass, in turn: A, B, C. */
static void *pageout_loop(void *arg)
{
	char *mem[] = { mem_a, mem_b, mem_c };
	size_t len[] = { AB_BYTES, AB_BYTES, C_BYTES };
	unsigned int i = 0;
	double t, worst = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		t = now();
		CHECK(madvise(mem[i % 3], len[i % 3], MADV_PAGEOUT) == 0);
		t = now() - t;
		worst = t > worst ? t : worst;
		atomic_fetch_add(&pageouts, 1);
		i++;
		/* Gaps, or back-to-back invalidations starve the faults
		 * (mmu_interval_read_begin waits for a quiet moment). */
		usleep(20000);
	}
	printf("# slowest MADV_PAGEOUT pass: %.2f s\n", worst);
	return NULL;
}

static void *reclaim_loop(void *arg)
{
	double t, worst = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		t = now();
		if (ovt_cgroup_reclaim(cg, 1ULL << 20) != 0)
			CHECK(errno == EAGAIN);
		t = now() - t;
		worst = t > worst ? t : worst;
		atomic_fetch_add(&reclaims, 1);
		usleep(20000);
	}
	printf("# slowest memory.reclaim: %.2f s\n", worst);
	return NULL;
}

/* Compaction and page migration: each retires (soft-offline) one page of
 * A or C now and then; a few hundred lost pages are nothing to the guest. */
static void *migrate_loop(void *arg)
{
	__u64 s = 12345;
	int n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		char *m = (n & 1) ? mem_a : mem_c;
		size_t bytes = (n & 1) ? AB_BYTES : C_BYTES;
		char *page = m + (xorshift(&s) % (bytes / OVT_PAGE)) * OVT_PAGE;

		if (n++ % 16 == 0) {
			CHECK(ovt_write_file("/proc/sys/vm/compact_memory",
					     "1") == 0);
			atomic_fetch_add(&compactions, 1);
		}
		/* A page swapped out right now has nothing to migrate
		 * (EFAULT/EIO are fine); anything else is a failure. */
		if (madvise(page, OVT_PAGE, MADV_SOFT_OFFLINE) == 0)
			atomic_fetch_add(&offlines, 1);
		else if (errno != EIO && errno != EBUSY && errno != EFAULT &&
			 errno != EAGAIN)
			FAIL("MADV_SOFT_OFFLINE: %s", strerror(errno));
		usleep(20000);
	}
	return NULL;
}

static void *prefault_loop(void *arg)
{
	__u64 mapped;

	(void)arg;
	while (!atomic_load(&stop)) {
		/* EBUSY: the reclaimers kept invalidating a block for a
		 * second; the driver gives up with partial progress. */
		CHECK(ovt_prefault(pfd, A_GFN, AB_BYTES / OVT_PAGE, &mapped) ==
			      0 ||
		      errno == EBUSY);
		CHECK(mapped <= AB_BYTES / OVT_PAGE);
		atomic_fetch_add(&prefaults, 1);
		usleep(5000);
	}
	return NULL;
}

static void add_stats(struct ovcmem_stats *sum, const struct ovcmem_stats *s)
{
	const __u64 *in = (const __u64 *)s;
	__u64 *out = (__u64 *)sum;
	size_t i;

	for (i = 0; i < sizeof(*s) / 8; i++)
		out[i] += in[i];
}

/* Monotonic counters: partition totals equal the sum of the regions'
 * (nothing was unmapped); read the partition before and after the regions
 * so that a late host invalidation cannot make this flaky. */
#define CHECK_SUM(field)                                              \
	do {                                                          \
		CHECK(p0.field <= sum.field);                         \
		CHECK(sum.field <= p1.field);                         \
	} while (0)

TEST_TIMEOUT(vcpu_threads_against_reclaim_and_migration, 60)
{
	void *(*fns[])(void *) = { vcpu_rounds, vcpu_rounds, probe,
				   pageout_loop, reclaim_loop, migrate_loop,
				   prefault_loop };
	void *args[] = { (void *)(uintptr_t)A_GFN, (void *)(uintptr_t)B_GFN,
			 NULL, NULL, NULL, NULL, NULL };
	const size_t nthreads = sizeof(fns) / sizeof(fns[0]);
	struct ovcmem_stats p0, p1, sum = { 0 }, ra, rb, rc;
	pthread_t th[sizeof(fns) / sizeof(fns[0])];
	double t0;
	size_t i;

	ovt_cgroup_create_ok("ovt-stress", cg, sizeof(cg));
	ovt_cgroup_enter_ok(cg, 0);
	pfd = ovt_partition_ok(0, NULL);
	mem_a = region_mem(AB_BYTES, 0);
	mem_b = region_mem(AB_BYTES, 1);
	mem_c = region_mem(C_BYTES, 0);
	CHECK(ovt_map_region(pfd, A_GFN, mem_a, AB_BYTES,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK(ovt_map_region(pfd, B_GFN, mem_b, AB_BYTES,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK(ovt_map_region(pfd, C_GFN, mem_c, C_BYTES,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK_EQ(ovt_fill(pfd, C_GFN * OVT_PAGE, C_BYTES, 1), OVCMEM_EXIT_OK);
	atomic_fetch_add(&accesses_done, 1);

	t0 = now();
	for (i = 0; i < nthreads; i++)
		CHECK(pthread_create(&th[i], NULL, fns[i], args[i]) == 0);
	while (now() - t0 < RUN_SECONDS)
		usleep(100000);
	atomic_store(&stop, 1);
	for (i = 0; i < nthreads; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	printf("# %.1f s: %llu fill/check rounds, %llu probes, %llu pageout passes, %llu reclaims, %llu compactions, %llu pages migrated, %llu prefaults\n",
	       now() - t0, (unsigned long long)rounds,
	       (unsigned long long)probes, (unsigned long long)pageouts,
	       (unsigned long long)reclaims, (unsigned long long)compactions,
	       (unsigned long long)offlines, (unsigned long long)prefaults);
	/* The guest and the host both did real work (how much varies a lot
	 * from run to run in an emulated guest). */
	CHECK(rounds >= 1 && probes > 0 && pageouts > 0 && reclaims > 0);

	p0 = ovt_stats_ok(pfd, OVCMEM_STATS_PARTITION);
	ra = ovt_stats_ok(pfd, A_GFN);
	rb = ovt_stats_ok(pfd, B_GFN);
	rc = ovt_stats_ok(pfd, C_GFN);
	p1 = ovt_stats_ok(pfd, OVCMEM_STATS_PARTITION);
	add_stats(&sum, &ra);
	add_stats(&sum, &rb);
	add_stats(&sum, &rc);
	printf("# partition: mapped %llu/%llu, intercepts %llu, batches %llu, retries %llu, faulted %llu, refaults %llu, invalidations %llu (%llu pages, %llu nonblock failed), prefaulted %llu, accesses %llu\n",
	       (unsigned long long)p1.pages_mapped,
	       (unsigned long long)p1.pages,
	       (unsigned long long)p1.intercepts,
	       (unsigned long long)p1.fault_batches,
	       (unsigned long long)p1.fault_retries,
	       (unsigned long long)p1.pages_faulted,
	       (unsigned long long)p1.refaults,
	       (unsigned long long)p1.invalidations,
	       (unsigned long long)p1.pages_invalidated,
	       (unsigned long long)p1.invalidations_nonblock_failed,
	       (unsigned long long)p1.pages_prefaulted,
	       (unsigned long long)p1.accesses);

	CHECK_EQ(p1.pages, (2 * AB_BYTES + C_BYTES) / OVT_PAGE);
	CHECK_EQ(sum.pages, p1.pages);
	CHECK(p1.pages_mapped <= p1.pages);
	CHECK(ra.pages_mapped <= ra.pages && rb.pages_mapped <= rb.pages &&
	      rc.pages_mapped <= rc.pages);
	CHECK(rb.large_entries * OVCMEM_LARGE_PAGE_PAGES <= rb.pages_mapped);
	CHECK_EQ(ra.large_entries + rc.large_entries, 0);
	/* The host took pages and the guest faulted them back. */
	CHECK(p1.invalidations > 0 && p1.pages_invalidated > 0);
	CHECK(p1.refaults > 0);
	CHECK(p1.refaults <= p1.pages_invalidated);
	CHECK(p1.pages_faulted >= p1.refaults);
	CHECK(p1.pages_faulted >= p1.pages_prefaulted);
	CHECK(p1.intercepts > 0 && p1.fault_batches > 0);
	CHECK(p1.pages_prefaulted == ra.pages_prefaulted);
	CHECK(p1.accesses >= atomic_load(&accesses_done));
	CHECK_SUM(intercepts);
	CHECK_SUM(fault_batches);
	CHECK_SUM(fault_retries);
	CHECK_SUM(pages_faulted);
	CHECK_SUM(refaults);
	CHECK_SUM(invalidations);
	CHECK_SUM(pages_invalidated);
	CHECK_SUM(pages_prefaulted);
	CHECK_SUM(accesses);

	/* Quiet again: every byte is still what the last round wrote. */
	CHECK(madvise(mem_a, AB_BYTES, MADV_PAGEOUT) == 0);
	CHECK_EQ(ovt_fill(pfd, A_GFN * OVT_PAGE, AB_BYTES, 77), OVCMEM_EXIT_OK);
	CHECK(ovt_verify(pfd, A_GFN * OVT_PAGE, AB_BYTES, 77, NULL) == 0);
	CHECK_EQ(ovt_user_checksum(mem_a, AB_BYTES),
		 ovt_pattern_checksum(A_GFN * OVT_PAGE, AB_BYTES, 77));

	close(pfd);
	CHECK(ovt_cgroup_remove(cg) == 0);
}

int main(void)
{
	return run_tests();
}
