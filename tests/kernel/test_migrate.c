// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory that really moves (issue 14): NUMA migration and
 * compaction of guest RAM while vCPU threads run.
 *
 * The rig boots its guest with two fake NUMA nodes (numa=fake=2), so
 * move_pages, mbind(MPOL_MF_MOVE) and migrate_pages move pages for real;
 * with one node every test here fails rather than proving nothing. All of
 * it goes through the uapi and the raw syscalls (no libnuma).
 *
 * While the host moves the pages, vCPU threads keep reading (CHECKSUM)
 * and rewriting (FILL with the same seed, so the content never changes)
 * their half of the region; any read that differs is counted and fails
 * the test. Afterwards each test proves:
 *   - where the pages are: the move_pages status query names the target
 *     node for every page;
 *   - that they moved: pagemap shows a new pfn for every page;
 *   - that the SLAT followed: pages_invalidated covers the moved pages,
 *     refaults count them back, and the CPU and the vCPU see each other's
 *     writes (an entry left on the old pfn fails that even when the old
 *     page still holds the old data);
 *   - that nothing was lost: the vCPU's checksum of the whole region.
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "ovcmem_test.h"

#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)
#define SEED 0x5eed1401ULL
#define NR_VCPUS 2

struct vm {
	int pfd;
	char *mem;
	size_t bytes;
	size_t npages;
};

struct vcpu {
	pthread_t thread;
	struct vm *vm;
	__u64 gpa;
	__u64 len;
	volatile int *stop;
	unsigned long rounds;
	unsigned long bad;
	unsigned long exits;
};

static void vm_setup(struct vm *v, size_t bytes, int thp, __u32 flags)
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
			     OVCMEM_REGION_WRITABLE | flags) == 0);
	CHECK_EQ(ovt_fill(v->pfd, GPA, bytes, SEED), OVCMEM_EXIT_OK);
}

static void vm_verify_ok(struct vm *v, __u64 seed)
{
	__u64 bad = 0;

	if (ovt_verify(v->pfd, GPA, v->bytes, seed, &bad))
		FAIL("vCPU read back differs from seed %#llx at gpa %#llx",
		     (unsigned long long)seed, (unsigned long long)bad);
}

/* The CPU and the vCPU see each other's writes, both ways. */
static void vm_coherent_ok(struct vm *v, __u64 seed_cpu, __u64 seed_vcpu)
{
	__u64 *w = (__u64 *)v->mem;
	size_t i;

	for (i = 0; i < v->bytes / 8; i++)
		w[i] = ovcmem_pattern(seed_cpu, GPA + 8 * i);
	vm_verify_ok(v, seed_cpu);
	CHECK_EQ(ovt_fill(v->pfd, GPA, v->bytes, seed_vcpu), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_cpu_mismatches(v->mem, GPA, v->bytes, seed_vcpu), 0);
}

/* A vCPU thread: read and rewrite its range, unchanged, until told. */
static void *vcpu_loop(void *arg)
{
	struct vcpu *c = arg;
	__u64 want = ovt_pattern_checksum(c->gpa, c->len, SEED), sum;

	while (!*c->stop) {
		if (ovt_checksum(c->vm->pfd, c->gpa, c->len, &sum) !=
		    OVCMEM_EXIT_OK)
			c->exits++;
		else if (sum != want)
			c->bad++;
		if (ovt_fill(c->vm->pfd, c->gpa, c->len, SEED) !=
		    OVCMEM_EXIT_OK)
			c->exits++;
		__atomic_add_fetch(&c->rounds, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void vcpus_start(struct vm *v, struct vcpu *c, volatile int *stop)
{
	__u64 half = v->bytes / NR_VCPUS;
	int i;

	*stop = 0;
	for (i = 0; i < NR_VCPUS; i++) {
		c[i] = (struct vcpu){ .vm = v, .gpa = GPA + i * half,
				      .len = half, .stop = stop };
		CHECK(pthread_create(&c[i].thread, NULL, vcpu_loop, &c[i]) == 0);
	}
	/* The host acts while they run: wait until each has done a round. */
	for (i = 0; i < NR_VCPUS; i++)
		while (!__atomic_load_n(&c[i].rounds, __ATOMIC_ACQUIRE))
			usleep(1000);
}

static void vcpus_stop_ok(struct vcpu *c, volatile int *stop)
{
	unsigned long rounds = 0;
	int i;

	*stop = 1;
	for (i = 0; i < NR_VCPUS; i++) {
		CHECK(pthread_join(c[i].thread, NULL) == 0);
		CHECK_EQ(c[i].bad, 0);
		CHECK_EQ(c[i].exits, 0);
		rounds += c[i].rounds;
	}
	printf("# vCPUs ran %lu rounds meanwhile\n", rounds);
}

/* move_pages(2) on @n pages from @mem: @nodes NULL queries. */
static long move_pages(char *mem, size_t n, const int *nodes, int *status)
{
	void **pages = calloc(n, sizeof(*pages));
	size_t i;
	long r;

	CHECK(pages != NULL);
	for (i = 0; i < n; i++)
		pages[i] = mem + i * OVT_PAGE;
	r = syscall(SYS_move_pages, 0, n, pages, nodes, status,
		    nodes ? MPOL_MF_MOVE : 0);
	free(pages);
	return r;
}

/* move_pages of every page of @v to @target; @status gets the statuses. */
static long move_all(struct vm *v, int target, int *status)
{
	int *nodes = calloc(v->npages, sizeof(*nodes));
	size_t i;
	long r;

	CHECK(nodes != NULL);
	for (i = 0; i < v->npages; i++)
		nodes[i] = target;
	errno = 0;
	r = move_pages(v->mem, v->npages, nodes, status);
	free(nodes);
	return r;
}

/* Pages of @mem not on @node, by the move_pages status query. */
static size_t pages_off_node(struct vm *v, int node)
{
	int *status = calloc(v->npages, sizeof(*status));
	size_t i, off = 0;

	CHECK(status != NULL);
	CHECK_EQ(move_pages(v->mem, v->npages, NULL, status), 0);
	for (i = 0; i < v->npages; i++)
		off += status[i] != node;
	free(status);
	return off;
}

static int first_page_node(struct vm *v)
{
	int status;

	CHECK_EQ(move_pages(v->mem, 1, NULL, &status), 0);
	CHECK(status >= 0);
	return status;
}

static __u64 *pagemap_ok(struct vm *v)
{
	__u64 *pm = calloc(v->npages, 8);

	CHECK(pm != NULL);
	ovt_pagemap_ok(v->mem, v->npages, pm);
	return pm;
}

/*
 * After the host moved @moved pages between @s0 and @s1 (vCPUs stopped):
 * the SLAT dropped them, the read back refaults them to the new pfns.
 */
static void check_followed(struct vm *v, const struct ovcmem_stats *s0,
			   size_t moved, int settled)
{
	struct ovcmem_stats s1 = ovt_stats_ok(v->pfd, GFN), s2;

	printf("# moved %zu pages: %llu pages invalidated, %llu refaults while the vCPUs ran\n",
	       moved,
	       (unsigned long long)(s1.pages_invalidated -
				    s0->pages_invalidated),
	       (unsigned long long)(s1.refaults - s0->refaults));
	CHECK(s1.pages_invalidated - s0->pages_invalidated >= moved);
	CHECK(s1.invalidations > s0->invalidations);
	vm_verify_ok(v, SEED);
	s2 = ovt_stats_ok(v->pfd, GFN);
	CHECK(s2.refaults - s0->refaults >= moved);
	CHECK(s2.refaults - s0->refaults <=
	      s2.pages_invalidated - s0->pages_invalidated);
	/* Background compaction may still be moving a page or two. */
	if (settled)
		CHECK_EQ(s2.pages_mapped, v->npages);
}

/*
 * move_pages of every page of a 4 KiB region to the other node while two
 * vCPUs read and write it.
 */
TEST_TIMEOUT(move_pages_while_vcpus_run_lands_every_page_on_target, 120)
{
	struct ovcmem_stats s0;
	struct vcpu c[NR_VCPUS];
	volatile int stop;
	__u64 *pm0, *pm1;
	int *status, target;
	size_t i;
	long r;
	struct vm v;

	vm_setup(&v, 8 << 20, 0, 0);
	target = ovt_other_node_ok(first_page_node(&v));
	CHECK_EQ(pages_off_node(&v, target), v.npages);
	status = calloc(v.npages, sizeof(*status));
	CHECK(status != NULL);
	pm0 = pagemap_ok(&v);
	s0 = ovt_stats_ok(v.pfd, GFN);

	vcpus_start(&v, c, &stop);
	r = move_all(&v, target, status);
	vcpus_stop_ok(c, &stop);
	CHECK_EQ(r, 0);
	for (i = 0; i < v.npages; i++)
		CHECK_EQ(status[i], target);
	CHECK_EQ(pages_off_node(&v, target), 0);
	pm1 = pagemap_ok(&v);
	CHECK_EQ(ovt_pfns_changed(pm0, pm1, v.npages), v.npages);
	check_followed(&v, &s0, v.npages, 1);
	vm_coherent_ok(&v, SEED + 1, SEED + 2);
}

/*
 * mbind(MPOL_BIND, MPOL_MF_MOVE) of a THP-backed region, mapped with
 * 2 MiB SLAT entries, while two vCPUs run. What we observe on both
 * kernels (x86-64 migrates THPs whole): each huge page moves as one
 * 2 MiB page, the 2 MiB entry is cleared whole and the refault maps a
 * 2 MiB entry again on the new huge page. The test asserts exactly that.
 */
TEST_TIMEOUT(mbind_moves_thp_region_whole_while_vcpus_run, 120)
{
	const size_t blocks = 8;
	struct ovcmem_stats s0, s1;
	struct vcpu c[NR_VCPUS];
	volatile int stop;
	__u64 *pm0, *pm1, mask;
	int target;
	size_t b;
	struct vm v;

	vm_setup(&v, blocks * OVT_2M, 1, 0);
	s0 = ovt_stats_ok(v.pfd, GFN);
	CHECK_EQ(s0.large_entries, blocks);
	target = ovt_other_node_ok(first_page_node(&v));
	mask = 1ULL << target;
	pm0 = pagemap_ok(&v);

	vcpus_start(&v, c, &stop);
	CHECK(syscall(SYS_mbind, v.mem, v.bytes, MPOL_BIND, &mask, 64,
		      MPOL_MF_MOVE) == 0);
	vcpus_stop_ok(c, &stop);
	CHECK_EQ(pages_off_node(&v, target), 0);
	pm1 = pagemap_ok(&v);
	CHECK_EQ(ovt_pfns_changed(pm0, pm1, v.npages), v.npages);
	/* Whole: each block is still 512 contiguous pfns from an aligned one. */
	for (b = 0; b < blocks; b++) {
		__u64 first = pm1[b * 512] & OVT_PM_PFN_MASK;
		size_t i;

		CHECK_EQ(first % 512, 0);
		for (i = 1; i < 512; i++)
			CHECK_EQ(pm1[b * 512 + i] & OVT_PM_PFN_MASK, first + i);
	}
	check_followed(&v, &s0, v.npages, 1);
	s1 = ovt_stats_ok(v.pfd, GFN);
	printf("# large entries: %llu before, %llu after the move\n",
	       (unsigned long long)s0.large_entries,
	       (unsigned long long)s1.large_entries);
	CHECK_EQ(s1.large_entries, blocks);
	vm_coherent_ok(&v, SEED + 3, SEED + 4);
}

/*
 * migrate_pages moves the whole process from the region's node to the
 * other one while two vCPUs run.
 */
TEST_TIMEOUT(migrate_pages_while_vcpus_run_moves_the_region, 120)
{
	struct ovcmem_stats s0;
	struct vcpu c[NR_VCPUS];
	volatile int stop;
	__u64 *pm0, *pm1, from, to;
	int src, dst;
	long r;
	struct vm v;

	vm_setup(&v, 8 << 20, 0, 0);
	src = first_page_node(&v);
	dst = ovt_other_node_ok(src);
	CHECK_EQ(pages_off_node(&v, src), 0);
	from = 1ULL << src;
	to = 1ULL << dst;
	pm0 = pagemap_ok(&v);
	s0 = ovt_stats_ok(v.pfd, GFN);

	vcpus_start(&v, c, &stop);
	r = syscall(SYS_migrate_pages, 0, 64, &from, &to);
	vcpus_stop_ok(c, &stop);
	CHECK_EQ(r, 0);
	CHECK_EQ(pages_off_node(&v, dst), 0);
	pm1 = pagemap_ok(&v);
	CHECK_EQ(ovt_pfns_changed(pm0, pm1, v.npages), v.npages);
	check_followed(&v, &s0, v.npages, 1);
	vm_coherent_ok(&v, SEED + 5, SEED + 6);
}

/*
 * A PINNED region holds long-term pins: migration cannot move its pages,
 * and the kernel says so (move_pages returns how many it could not move).
 * The pages stay where they were, the SLAT keeps its entries, and the
 * region keeps working.
 */
TEST_TIMEOUT(pinned_region_refuses_to_move_and_keeps_working, 120)
{
	struct ovcmem_stats s0, s1;
	struct vcpu c[NR_VCPUS];
	volatile int stop;
	__u64 *pm0, *pm1;
	int *status, src;
	long r;
	struct vm v;

	vm_setup(&v, 4 << 20, 0, OVCMEM_REGION_PINNED);
	src = first_page_node(&v);
	status = calloc(v.npages, sizeof(*status));
	CHECK(status != NULL);
	pm0 = pagemap_ok(&v);
	s0 = ovt_stats_ok(v.pfd, GFN);

	vcpus_start(&v, c, &stop);
	r = move_all(&v, ovt_other_node_ok(src), status);
	vcpus_stop_ok(c, &stop);
	printf("# move_pages of a pinned region: returned %ld (errno %d)\n",
	       r, errno);
	/* The kernel's answer: the number of pages it did not move. */
	CHECK_EQ(r, v.npages);
	CHECK_EQ(pages_off_node(&v, src), 0);
	pm1 = pagemap_ok(&v);
	CHECK_EQ(ovt_pfns_changed(pm0, pm1, v.npages), 0);
	s1 = ovt_stats_ok(v.pfd, GFN);
	CHECK_EQ(s1.pages_mapped, v.npages);
	CHECK_EQ(s1.intercepts, s0.intercepts);
	vm_verify_ok(&v, SEED);
	vm_coherent_ok(&v, SEED + 7, SEED + 8);
}

/* ---- compaction ----------------------------------------------------------- */

/*
 * A region whose pages are spread thinly over one node's memory, so that
 * compaction has them to move: the process is bound to the last memory
 * node (the kernel and the initramfs use the first), the region's pages
 * are allocated interleaved with a big filler, and every other filler
 * page is freed, leaving most of the node's free memory in single pages.
 * That is also what makes kcompactd's proactive compaction start.
 */
static void vm_setup_fragmented(struct vm *v, int *node)
{
	const size_t bytes = 16 << 20, fill = 256 << 20, per = fill / bytes;
	__u64 mask = ovt_memory_nodes();
	size_t i, k;
	char *filler;

	CHECK(mask != 0);
	*node = 63 - __builtin_clzll(mask);
	mask = 1ULL << *node;
	CHECK(syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64) == 0);

	v->pfd = ovt_partition_ok(0, NULL);
	v->bytes = bytes;
	v->npages = bytes / OVT_PAGE;
	v->mem = ovt_mmap_aligned(bytes, OVT_2M, 0);
	filler = ovt_mmap_aligned(fill, OVT_2M, 0);
	CHECK(madvise(v->mem, bytes, MADV_NOHUGEPAGE) == 0);
	CHECK(madvise(filler, fill, MADV_NOHUGEPAGE) == 0);
	for (i = 0; i < v->npages; i++) {
		v->mem[i * OVT_PAGE] = 1;
		for (k = 0; k < per; k++)
			filler[(i * per + k) * OVT_PAGE] = 1;
	}
	for (i = 0; i < fill / OVT_PAGE; i += 2)
		CHECK(madvise(filler + i * OVT_PAGE, OVT_PAGE,
			      MADV_DONTNEED) == 0);
	CHECK(ovt_map_region(v->pfd, GFN, v->mem, bytes,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK_EQ(ovt_fill(v->pfd, GPA, bytes, SEED), OVCMEM_EXIT_OK);
	CHECK_EQ(pages_off_node(v, *node), 0);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long x = -1;

	CHECK(f != NULL);
	CHECK(fscanf(f, "%ld", &x) == 1);
	fclose(f);
	return x;
}

/*
 * /proc/sys/vm/compact_memory while two vCPUs run: whatever compaction
 * moves, the SLAT follows and nothing is lost.
 */
TEST_TIMEOUT(compact_memory_while_vcpus_run_loses_nothing, 120)
{
	struct ovcmem_stats s0;
	struct vcpu c[NR_VCPUS];
	volatile int stop;
	__u64 *pm0, *pm1;
	size_t moved = 0;
	int pass, node;
	struct vm v;

	vm_setup_fragmented(&v, &node);
	pm0 = pagemap_ok(&v);
	s0 = ovt_stats_ok(v.pfd, GFN);

	vcpus_start(&v, c, &stop);
	for (pass = 0; pass < 4 && moved < v.npages / 4; pass++) {
		CHECK(ovt_write_file("/proc/sys/vm/compact_memory", "1") == 0);
		pm1 = pagemap_ok(&v);
		moved = ovt_pfns_changed(pm0, pm1, v.npages);
		free(pm1);
	}
	vcpus_stop_ok(c, &stop);
	pm1 = pagemap_ok(&v);
	moved = ovt_pfns_changed(pm0, pm1, v.npages);
	printf("# compact_memory moved %zu of %zu pages on node %d in %d passes\n",
	       moved, v.npages, node, pass);
	CHECK(moved > 0);
	check_followed(&v, &s0, moved, 0);
	vm_coherent_ok(&v, SEED + 9, SEED + 10);
}

/*
 * Proactive compaction (kcompactd, driven by compaction_proactiveness)
 * while two vCPUs run. kcompactd compacts a node on its own only when the
 * node's free memory is fragmented past the watermark the knob sets, so
 * the test makes it so: the process is bound to one node, the region's
 * pages are allocated interleaved with a big filler, and every other
 * filler page is freed, leaving most free memory of the node in single
 * pages. Raised to 100, the knob makes kcompactd compact in the
 * background until the fragmentation falls, moving the region's pages
 * under the vCPUs. The wait for it is bounded; it is not a timing
 * assertion.
 */
TEST_TIMEOUT(proactive_compaction_while_vcpus_run_loses_nothing, 300)
{
	const char *knob = "/proc/sys/vm/compaction_proactiveness";
	struct ovcmem_stats s0;
	struct vcpu c[NR_VCPUS];
	volatile int stop;
	__u64 *pm0, *pm1;
	long old = read_long(knob);
	size_t moved = 0;
	char buf[32];
	int node, tenths;
	struct vm v;

	vm_setup_fragmented(&v, &node);
	pm0 = pagemap_ok(&v);
	s0 = ovt_stats_ok(v.pfd, GFN);

	vcpus_start(&v, c, &stop);
	CHECK(ovt_write_file(knob, "100") == 0);
	for (tenths = 0; tenths < 1800 && moved < v.npages / 4; tenths++) {
		usleep(100000);
		pm1 = pagemap_ok(&v);
		moved = ovt_pfns_changed(pm0, pm1, v.npages);
		free(pm1);
	}
	snprintf(buf, sizeof(buf), "%ld", old);
	CHECK(ovt_write_file(knob, buf) == 0);
	vcpus_stop_ok(c, &stop);
	pm1 = pagemap_ok(&v);
	moved = ovt_pfns_changed(pm0, pm1, v.npages);
	printf("# proactive compaction of node %d moved %zu of %zu pages within %.1f s\n",
	       node, moved, v.npages, tenths / 10.0);
	CHECK(moved > 0);
	check_followed(&v, &s0, moved, 0);
	vm_coherent_ok(&v, SEED + 11, SEED + 12);
}

int main(void)
{
	return run_tests();
}
