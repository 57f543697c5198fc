// SPDX-License-Identifier: GPL-2.0
/*
 * The multi-gen LRU as balancerd's MGLRU cold source uses it
 * (balancerd/cold_mglru.c), on the real kernel: a memcg with a known hot
 * and cold layout, aged three times the way the source ages it ("+ id
 * node max_seq 1 1" on every node, the hot set touched between rounds),
 * must report as cold (lru_gen_node_old_pages, the source's own sum) the
 * cold bytes within 10%; evicting the cold generations ("- id node seq
 * 200 nr") must take cold pages and leave the hot set resident: touching
 * it again takes no major fault.
 *
 * The second test asks what those ages are worth for a guest whose
 * accesses do not go through the host's page tables (a KVM guest through
 * EPT; an ovcmem guest through the driver's SLAT): the hot set is touched
 * by vCPU accesses only, and the kernel can learn of them only through
 * the mmu notifier's young callbacks (ovcmem's clear_young, as KVM's).
 * Which MGLRU paths consult them differs by kernel (docs/signals.md):
 *   - 6.12: the aging walk clears young bits with ptep_clear_young_notify,
 *     so the generations follow the guest: cold bytes within 10% of the
 *     truth, as for host accesses;
 *   - 6.1: the walk reads the host's young bits only, so the guest's hot
 *     set ages like cold memory (all of it counts cold); eviction checks
 *     every folio through rmap (folio_referenced, which asks the
 *     notifier), which keeps the guest's hot pages resident all the same;
 *     but nothing cleared the guest's accessed bits before, so its first
 *     pass finds every page the guest ever touched referenced and takes
 *     nothing (it clears them): the cold go from the second pass on.
 * Both: the guest's data survives eviction (checksums).
 *
 * The parser is balancerd's, linked in (the rig reads the line below).
 *
 * rig-link: balancerd/lru_gen.c balancerd/units.c
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ovcmem_test.h"

#include "lru_gen.h"

#define LRU_GEN	    "/sys/kernel/debug/lru_gen"
#define PAGE	    4096UL
#define HOT_BYTES   (16UL << 20)
#define COLD_BYTES  (48UL << 20)
#define ROUND_MS    1500
/* Idle at least this long counts cold: more than a round, less than two. */
#define COLD_AGE_MS 2000

static char lru_text[1 << 20];

struct want {
	const char *path; /* the memcg's, as lru_gen prints it */
	struct lru_gen_memcg m;
	int found;
};

static int keep(const struct lru_gen_memcg *m, void *userdata)
{
	struct want *w = userdata;

	if (strcmp(m->path, w->path) == 0) {
		w->m = *m;
		w->found = 1;
	}
	return 0;
}

/* The memcg @path in lru_gen now; FAILs when it is not there. */
static void read_memcg(const char *path, struct want *w)
{
	static struct lru_gen_memcg scratch;
	int fd = open(LRU_GEN, O_RDONLY);
	size_t n = 0;
	ssize_t got;

	CHECK(fd >= 0);
	while ((got = read(fd, lru_text + n, sizeof(lru_text) - 1 - n)) > 0)
		n += (size_t)got;
	close(fd);
	CHECK(n < sizeof(lru_text) - 1);
	lru_text[n] = '\0';
	memset(w, 0, sizeof(*w));
	w->path = path;
	CHECK_EQ(lru_gen_parse(lru_text, &scratch, keep, w), 0);
	CHECK(w->found);
}

static void write_cmd(const char *cmd)
{
	if (ovt_write_file(LRU_GEN, cmd) != 0)
		FAIL("writing '%.*s' to " LRU_GEN ": %s",
		     (int)strcspn(cmd, "\n"), cmd, strerror(errno));
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* One aging round, as the source does it: every node, one write. Prints
 * what the page-table walk took (a figure, not a check: under TCG it is
 * an upper bound). */
static void age_all_nodes(const char *path)
{
	uint64_t t0;
	struct want w;
	char cmds[64 * 48];
	size_t len = 0;

	read_memcg(path, &w);
	for (size_t i = 0; i < w.m.n_nodes; i++) {
		int r = lru_gen_format_age(
			cmds + len, sizeof(cmds) - len, w.m.id,
			w.m.nodes[i].id, lru_gen_node_max_seq(&w.m.nodes[i]),
			true);

		CHECK(r > 0);
		len += (size_t)r;
	}
	t0 = now_us();
	write_cmd(cmds);
	printf("# aging walk: %" PRIu64 " us for %lu MiB of anon memory\n",
	       now_us() - t0, (HOT_BYTES + COLD_BYTES) >> 20);
}

static void touch(char *p, size_t bytes, char v)
{
	for (size_t off = 0; off < bytes; off += PAGE)
		p[off] = v;
}

static uint64_t cold_pages(const char *path, uint64_t age_ms,
			   uint64_t seq[LRU_GEN_NODES_MAX], size_t *n_nodes,
			   struct want *w)
{
	uint64_t pages = 0;

	read_memcg(path, w);
	*n_nodes = w->m.n_nodes;
	for (size_t i = 0; i < w->m.n_nodes; i++)
		pages += lru_gen_node_old_pages(&w->m.nodes[i], age_ms, true,
						&seq[i]);
	return pages;
}

static void print_memcg(const struct want *w)
{
	for (size_t i = 0; i < w->m.n_nodes; i++)
		for (size_t g = 0; g < w->m.nodes[i].n_gens; g++) {
			const struct lru_gen_gen *x = &w->m.nodes[i].gens[g];

			printf("# node %u gen %" PRIu64 " age %" PRIu64
			       " ms anon %" PRIu64 " file %" PRIu64 "\n",
			       w->m.nodes[i].id, x->seq, x->age_ms, x->anon,
			       x->file);
		}
}

static void cold_bytes_and_eviction(void);

/*
 * The rig runs the suites in one boot: the multi-gen LRU is put back as
 * it was (off on 6.1) for the suites after this one, whatever happens to
 * the test, which runs @fn in a child of its own.
 */
static void with_mglru_on(void (*fn)(void))
{
	char was[32] = "";
	int fd = open("/sys/kernel/mm/lru_gen/enabled", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, was, sizeof(was) - 1) : -1;
	int status = 0;
	pid_t pid;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		FAIL("this kernel has no multi-gen LRU");
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK(ovt_write_file("/sys/kernel/mm/lru_gen/enabled", "y") ==
		      0);
		fn();
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(ovt_write_file("/sys/kernel/mm/lru_gen/enabled",
			     strtoul(was, NULL, 16) & 1 ? "y" : "n") == 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		_exit(1); /* the child said why */
}

TEST_TIMEOUT(mglru_cold_bytes_and_eviction, 300)
{
	with_mglru_on(cold_bytes_and_eviction);
}

static void cold_bytes_and_eviction(void)
{
	char cg[256], path[300], cmds[64 * 64];
	uint64_t seq[LRU_GEN_NODES_MAX], cold, truth = COLD_BYTES / PAGE;
	size_t n_nodes = 0, len = 0, swapped, hot_swapped;
	struct rusage ru0, ru1;
	struct want w;
	char *hot, *coldmem;

	ovt_cgroup_create_ok("ovt-mglru", cg, sizeof(cg));
	ovt_cgroup_enter_ok(cg, 0);
	snprintf(path, sizeof(path), "%s", cg + strlen(OVT_CGROUP_ROOT));

	hot = ovt_mmap_anon(HOT_BYTES);
	coldmem = ovt_mmap_anon(COLD_BYTES);
	CHECK(madvise(hot, HOT_BYTES, MADV_NOHUGEPAGE) == 0);
	CHECK(madvise(coldmem, COLD_BYTES, MADV_NOHUGEPAGE) == 0);
	touch(coldmem, COLD_BYTES, 1);
	touch(hot, HOT_BYTES, 1);

	for (int round = 0; round < 3; round++) {
		usleep(ROUND_MS * 1000);
		touch(hot, HOT_BYTES, (char)(2 + round));
		age_all_nodes(path);
	}
	usleep(ROUND_MS * 1000);
	cold = cold_pages(path, COLD_AGE_MS, seq, &n_nodes, &w);
	print_memcg(&w);
	printf("# cold %" PRIu64 " pages reported, %" PRIu64 " true\n", cold,
	       truth);
	if (cold * 10 < truth * 9 || cold * 10 > truth * 11)
		FAIL("MGLRU reports %" PRIu64 " cold pages, truth %" PRIu64
		     " (more than 10%% off)",
		     cold, truth);

	/* Evict the cold generations, bounded to the cold set's size,
	 * anon only (swappiness 200), as the source's give-back does. */
	for (size_t i = 0; i < n_nodes; i++) {
		uint64_t old = lru_gen_node_old_pages(&w.m.nodes[i],
						      COLD_AGE_MS, true, NULL);
		int r;

		if (!old)
			continue;
		r = lru_gen_format_evict(cmds + len, sizeof(cmds) - len,
					 w.m.id, w.m.nodes[i].id, seq[i], 200,
					 old);
		CHECK(r > 0);
		len += (size_t)r;
	}
	CHECK(len > 0);
	write_cmd(cmds);
	swapped = ovt_count_swapped(coldmem, COLD_BYTES / PAGE);
	hot_swapped = ovt_count_swapped(hot, HOT_BYTES / PAGE);
	printf("# evicted: %zu of %lu cold pages swapped, %zu of %lu hot\n",
	       swapped, COLD_BYTES / PAGE, hot_swapped, HOT_BYTES / PAGE);
	CHECK(swapped * 2 >= COLD_BYTES / PAGE); /* it took cold pages */
	CHECK_EQ(hot_swapped, 0);		 /* and no hot one */

	CHECK(getrusage(RUSAGE_SELF, &ru0) == 0);
	touch(hot, HOT_BYTES, 9);
	CHECK(getrusage(RUSAGE_SELF, &ru1) == 0);
	CHECK_EQ(ru1.ru_majflt - ru0.ru_majflt, 0);

	munmap(hot, HOT_BYTES);
	munmap(coldmem, COLD_BYTES);
	CHECK(ovt_cgroup_remove(cg) == 0);
}

/* ---- guest accesses (through the SLAT, not the host's page tables) ---- */

#define GUEST_GFN 0x100000ULL
#define GUEST_GPA (GUEST_GFN * OVT_PAGE)
#define GUEST_SEED 0x6d676c72ULL

static void guest_ages(void);

/* The kernel's release as a number: 6.12 -> 612. */
static int kernel_release(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	CHECK(uname(&u) == 0);
	CHECK(sscanf(u.release, "%d.%d", &major, &minor) == 2);
	return major * 100 + minor;
}

TEST_TIMEOUT(mglru_ages_of_guest_accesses, 300)
{
	with_mglru_on(guest_ages);
}

static void guest_ages(void)
{
	const size_t bytes = HOT_BYTES + COLD_BYTES;
	const __u64 hot_gpa = GUEST_GPA + COLD_BYTES;
	char cg[256], path[300], cmds[64 * 64];
	uint64_t seq[LRU_GEN_NODES_MAX], cold, truth = COLD_BYTES / PAGE;
	uint64_t all = bytes / PAGE;
	size_t n_nodes = 0, len = 0, hot_swapped, cold_swapped;
	struct ovcmem_stats st;
	struct want w;
	__u64 sum, bad = 0;
	int pfd, release = kernel_release();
	char *mem;

	ovt_cgroup_create_ok("ovt-mglru-guest", cg, sizeof(cg));
	ovt_cgroup_enter_ok(cg, 0);
	snprintf(path, sizeof(path), "%s", cg + strlen(OVT_CGROUP_ROOT));

	/* Guest RAM: cold first, the hot 16 MiB at its end. The guest
	 * writes all of it once (the host's PTEs come from those faults). */
	pfd = ovt_partition_ok(0, NULL);
	mem = ovt_mmap_aligned(bytes, OVT_2M, 0);
	CHECK(madvise(mem, bytes, MADV_NOHUGEPAGE) == 0);
	CHECK(ovt_map_region(pfd, GUEST_GFN, mem, bytes,
			     OVCMEM_REGION_WRITABLE) == 0);
	CHECK_EQ(ovt_fill(pfd, GUEST_GPA, bytes, GUEST_SEED), OVCMEM_EXIT_OK);

	for (int round = 0; round < 3; round++) {
		usleep(ROUND_MS * 1000);
		/* The guest reads its hot set; the host never touches it. */
		CHECK_EQ(ovt_checksum(pfd, hot_gpa, HOT_BYTES, &sum),
			 OVCMEM_EXIT_OK);
		age_all_nodes(path);
	}
	usleep(ROUND_MS * 1000);
	cold = cold_pages(path, COLD_AGE_MS, seq, &n_nodes, &w);
	print_memcg(&w);
	st = ovt_stats_ok(pfd, GUEST_GFN);
	printf("# kernel %d.%d: MGLRU counts %" PRIu64 " pages cold of %" PRIu64
	       "; truth %" PRIu64 " (the guest's hot set is %lu); "
	       "young_cleared %llu\n",
	       release / 100, release % 100, cold, all, truth,
	       HOT_BYTES / PAGE, (unsigned long long)st.young_cleared);
	if (release >= 612) {
		/* The aging walk asks the notifier: it sees the guest. */
		CHECK(st.young_cleared > 0);
		if (cold * 10 < truth * 9 || cold * 10 > truth * 11)
			FAIL("MGLRU reports %" PRIu64 " cold pages, truth %" PRIu64
			     ": the walk did not see the guest's accesses",
			     cold, truth);
	} else {
		/* Blind walk: the hot set aged with the cold (within 10%
		 * of everything). If this fails, the kernel learned to ask
		 * the notifier: update docs/signals.md and this test. */
		if (cold * 10 < all * 9)
			FAIL("MGLRU reports %" PRIu64 " cold pages of %" PRIu64
			     ": this kernel's walk sees guest accesses now",
			     cold, all);
	}

	/*
	 * Evict what MGLRU calls old, bounded as the source does it, while
	 * the guest keeps using its hot set. Eviction checks each folio
	 * through rmap, which asks the notifier (clear_flush_young): where
	 * the walk never cleared the guest's accessed bits (6.1), the first
	 * pass finds every page the guest ever touched referenced and takes
	 * nothing, and clears those bits; the next pass takes what the guest
	 * left alone since. Two passes at most, each figure printed.
	 */
	for (int pass = 0; pass < 2; pass++) {
		len = 0;
		if (pass) {
			/* What pass 1 kept went back to the youngest
			 * generation: let it age again, the guest reading
			 * its hot set all along. */
			for (int round = 0; round < 3; round++) {
				usleep(ROUND_MS * 1000);
				CHECK_EQ(ovt_checksum(pfd, hot_gpa, HOT_BYTES,
						      &sum),
					 OVCMEM_EXIT_OK);
				age_all_nodes(path);
			}
			usleep(ROUND_MS * 1000);
			cold = cold_pages(path, COLD_AGE_MS, seq, &n_nodes, &w);
		}
		for (size_t i = 0; i < n_nodes; i++) {
			uint64_t old = lru_gen_node_old_pages(
				&w.m.nodes[i], COLD_AGE_MS, true, NULL);
			int r;

			if (!old)
				continue;
			r = lru_gen_format_evict(cmds + len, sizeof(cmds) - len,
						 w.m.id, w.m.nodes[i].id,
						 seq[i], 200, old);
			CHECK(r > 0);
			len += (size_t)r;
		}
		CHECK_EQ(ovt_checksum(pfd, hot_gpa, HOT_BYTES, &sum),
			 OVCMEM_EXIT_OK);
		if (len)
			write_cmd(cmds);
		cold_swapped = ovt_count_swapped(mem, COLD_BYTES / PAGE);
		hot_swapped =
			ovt_count_swapped(mem + COLD_BYTES, HOT_BYTES / PAGE);
		printf("# kernel %d.%d, eviction pass %d (%" PRIu64
		       " pages old): %zu of %lu cold pages evicted, %zu of "
		       "%lu hot\n",
		       release / 100, release % 100, pass + 1, cold,
		       cold_swapped, COLD_BYTES / PAGE, hot_swapped,
		       HOT_BYTES / PAGE);
		if (cold_swapped * 2 >= COLD_BYTES / PAGE)
			break;
	}
	CHECK(cold_swapped * 2 >= COLD_BYTES / PAGE);
	/* At most a tenth of the hot set: eviction asks the notifier on
	 * both kernels (folio_referenced). */
	if (hot_swapped * 10 > HOT_BYTES / PAGE)
		FAIL("eviction took %zu of the guest's %lu hot pages",
		     hot_swapped, HOT_BYTES / PAGE);
	if (ovt_verify(pfd, GUEST_GPA, bytes, GUEST_SEED, &bad) != 0)
		FAIL("guest data wrong at gpa 0x%llx after eviction",
		     (unsigned long long)bad);

	close(pfd);
	munmap(mem, bytes);
	CHECK(ovt_cgroup_remove(cg) == 0);
}

int main(void)
{
	return run_tests();
}
