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
 * No ovcmem here: these are the kernel's own page ages. The parser is
 * balancerd's, linked in (the rig reads the line below).
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
 * the test, which runs in a child of its own.
 */
TEST_TIMEOUT(mglru_cold_bytes_and_eviction, 300)
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
		cold_bytes_and_eviction();
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(ovt_write_file("/sys/kernel/mm/lru_gen/enabled",
			     strtoul(was, NULL, 16) & 1 ? "y" : "n") == 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		_exit(1); /* the child said why */
}

static void cold_bytes_and_eviction(void)
{
	char cg[256], path[300], cmds[64 * 64];
	uint64_t seq[LRU_GEN_NODES_MAX], cold, truth = COLD_BYTES / PAGE;
	size_t n_nodes = 0, len = 0, swapped, hot_swapped;
	struct rusage ru0, ru1;
	struct want w;
	char *hot, *coldmem;

	CHECK(ovt_write_file("/sys/kernel/mm/lru_gen/enabled", "y") == 0);
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

int main(void)
{
	return run_tests();
}
