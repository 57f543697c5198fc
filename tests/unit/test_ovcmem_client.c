// SPDX-License-Identifier: GPL-2.0
/*
 * The ovcmem monitor client against a fake driver: this program defines
 * ioctl(2) itself, which the client's calls bind to, and plays
 * /dev/ovcmem for a regular file standing in for the device node (the
 * real driver is exercised in the QEMU guests of tests/e2e).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "ovcmem_client.h"

#define PART_ID 7
#define OWNER	4242
#define GFN0	0x100ULL
#define UA0	0x7f0000000000ULL
#define NPAGES	1024ULL /* 4 MiB */
#define HOT	64	/* pages [0, HOT) are touched every scan */

/* The fake driver's state. */
static struct {
	ino_t dev_ino;
	int part_fd;
	bool exists;
	struct ovcmem_stats stats;
	int prefault_errno;
	unsigned int prefault_delay_ms;
	uint64_t touch; /* page index also touched in scans, 0: none */
	uint64_t prefault_gfn[64], prefault_npages[64];
	size_t n_prefaults;
	int mergeable; /* -1 until SET_MERGEABLE; then its value */
	int merge_errno;
} drv;

static bool is_dev(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_ino == drv.dev_ino;
}

static int fake_fail(int e)
{
	errno = e;
	return -1;
}

static int fake_dev_ioctl(unsigned long req, void *arg)
{
	if (req == OVCMEM_LIST_PARTITIONS) {
		struct ovcmem_list_partitions *lp = arg;
		struct ovcmem_partition_info *pi =
			(void *)(uintptr_t)lp->partitions;

		lp->count = drv.exists ? 1 : 0;
		if (drv.exists && lp->capacity >= 1) {
			memset(pi, 0, sizeof(*pi));
			pi->id = PART_ID;
			pi->owner_pid = OWNER;
			pi->nr_regions = 1;
			pi->pages = NPAGES;
			pi->pages_mapped = NPAGES;
		}
		return 0;
	}
	if (req == OVCMEM_OPEN_PARTITION) {
		struct ovcmem_open_partition *op = arg;

		if (!drv.exists || op->id != PART_ID)
			return fake_fail(ENOENT);
		drv.part_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return drv.part_fd;
	}
	return fake_fail(ENOTTY);
}

static int fake_part_ioctl(unsigned long req, void *arg)
{
	if (!drv.exists)
		return fake_fail(ENODEV);
	if (req == OVCMEM_LIST_REGIONS) {
		struct ovcmem_list_regions *lr = arg;
		struct ovcmem_region_info *ri = (void *)(uintptr_t)lr->regions;

		lr->count = 1;
		if (lr->capacity >= 1) {
			ri->guest_pfn = GFN0;
			ri->userspace_addr = UA0;
			ri->size = NPAGES * 4096;
			ri->flags = OVCMEM_REGION_WRITABLE;
			ri->type = OVCMEM_REGION_TYPE_MOVABLE_RAM;
		}
		return 0;
	}
	if (req == OVCMEM_GET_STATS) {
		struct ovcmem_get_stats *gs = arg;

		if (gs->guest_pfn != OVCMEM_STATS_PARTITION)
			return fake_fail(EINVAL);
		gs->stats = drv.stats;
		return 0;
	}
	if (req == OVCMEM_SCAN) {
		struct ovcmem_scan *s = arg;
		uint64_t *bm = (void *)(uintptr_t)s->accessed_bitmap;

		assert_int_equal(s->flags, OVCMEM_SCAN_CLEAR_ACCESSED);
		memset(bm, 0, (s->npages + 63) / 64 * 8);
		for (uint64_t i = 0; i < s->npages; i++)
			if (s->guest_pfn + i - GFN0 < HOT ||
			    (drv.touch && s->guest_pfn + i - GFN0 == drv.touch))
				bm[i / 64] |= 1ULL << (i % 64);
		s->accessed = HOT;
		return 0;
	}
	if (req == OVCMEM_SET_MERGEABLE) {
		struct ovcmem_set_mergeable *sm = arg;

		if (drv.merge_errno)
			return fake_fail(drv.merge_errno);
		if (sm->reserved || sm->mergeable > 1)
			return fake_fail(EINVAL);
		/* One VMA backs the region: it changes once per value. */
		sm->vmas = drv.mergeable != (int)sm->mergeable;
		drv.mergeable = (int)sm->mergeable;
		return 0;
	}
	if (req == OVCMEM_PREFAULT) {
		struct ovcmem_prefault *pf = arg;

		if (drv.prefault_delay_ms)
			usleep(drv.prefault_delay_ms * 1000);
		if (drv.prefault_errno)
			return fake_fail(drv.prefault_errno);
		drv.prefault_gfn[drv.n_prefaults] = pf->guest_pfn;
		drv.prefault_npages[drv.n_prefaults++] = pf->npages;
		pf->pages_mapped = pf->npages;
		return 0;
	}
	return fake_fail(ENOTTY);
}

/* Binds the client's ioctl() calls to the fake driver. */
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (drv.dev_ino && is_dev(fd))
		return fake_dev_ioctl(req, arg);
	if (drv.part_fd > 0 && fd == drv.part_fd)
		return fake_part_ioctl(req, arg);
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* One tick of the balancer's clock: a second. */
static usec_t fake_now;

static int collect(struct ovcmem_client *c, uint64_t id,
		   struct ovcmem_signals *s)
{
	fake_now += USEC_PER_SEC;
	return ovcmem_client_collect(c, id, 3, fake_now, USEC_PER_SEC, s);
}

struct fixture {
	struct fake_tree t;
	char dev[600];
	struct ovcmem_client *c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[700];
	struct stat st;

	assert_non_null(f);
	memset(&drv, 0, sizeof(drv));
	drv.exists = true;
	drv.mergeable = -1;
	fake_tree_create(&f->t, 16 * GiB, 8 * GiB);
	snprintf(f->dev, sizeof(f->dev), "%s/ovcmem", f->t.root);
	fake_write(f->dev, "");
	assert_int_equal(stat(f->dev, &st), 0);
	drv.dev_ino = st.st_ino;
	snprintf(path, sizeof(path), "%s/proc/%d/cgroup", f->t.root, OWNER);
	/* QEMU under libvirt lives below the VM's scope. */
	fake_write(path, "0::/machine.slice/vm1.scope/libvirt/emulator\n");
	assert_int_equal(ovcmem_client_open(f->t.root, f->dev, &f->c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ovcmem_client_free(f->c);
	fake_tree_destroy(&f->t);
	free(f);
	return 0;
}

static void test_absent_driver(void **state)
{
	struct fixture *f = *state;
	struct ovcmem_client *c = NULL;
	char path[700];

	snprintf(path, sizeof(path), "%s/no-such-device", f->t.root);
	assert_int_equal(ovcmem_client_open(f->t.root, path, &c), -ENOENT);
	assert_int_equal(ovcmem_client_open(f->t.root, "", &c), -ENOENT);
	assert_null(c);
	assert_int_equal(ovcmem_client_count(NULL), 0);
}

static void test_partitions_map_to_vms(void **state)
{
	struct fixture *f = *state;
	const struct ovcmem_part *p;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	assert_int_equal(ovcmem_client_count(f->c), 1);
	p = ovcmem_client_get(f->c, 0);
	assert_int_equal(p->id, PART_ID);
	assert_int_equal(p->owner_pid, OWNER);
	assert_string_equal(p->cgroup,
			    "machine.slice/vm1.scope/libvirt/emulator");
	assert_ptr_equal(
		ovcmem_client_find_cgroup(f->c, "machine.slice/vm1.scope"), p);
	/* A prefix of the name is not an ancestor. */
	assert_null(ovcmem_client_find_cgroup(f->c, "machine.slice/vm1.sc"));
	assert_null(ovcmem_client_find_cgroup(f->c, "machine.slice/vm2.scope"));

	/* The partition goes away: forgotten. */
	drv.exists = false;
	assert_int_equal(ovcmem_client_refresh(f->c), 0);
	assert_null(ovcmem_client_find_cgroup(f->c, "machine.slice/vm1.scope"));
}

static void test_stats_and_ages(void **state)
{
	struct fixture *f = *state;
	struct ovcmem_signals s;
	uint64_t total = 0;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	drv.stats.pages = NPAGES;
	drv.stats.pages_mapped = NPAGES;
	drv.stats.refaults = 100;
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	assert_true(s.present);
	assert_int_equal(s.partition_id, PART_ID);
	assert_int_equal(s.pages, NPAGES);
	assert_int_equal(s.d_refaults, 0); /* first sight: no delta */
	assert_true(s.cold_valid);
	assert_int_equal(s.cold_pages, 0); /* nothing watched idle yet */
	for (int i = 0; i < 4; i++) {
		drv.stats.refaults += 10;
		assert_int_equal(collect(f->c, PART_ID, &s), 0);
	}
	assert_int_equal(s.d_refaults, 10);
	/* Idle for four scans now, beyond the cold age of three. */
	assert_int_equal(s.cold_pages, NPAGES - HOT);
	for (int k = 0; k < IDLE_BUCKETS; k++)
		total += s.idle_pages[k];
	assert_int_equal(total, NPAGES);
	assert_int_equal(s.idle_pages[0], HOT); /* touched in the last scan */
	/* A counter that went back (id reused): no delta, no wrap. */
	drv.stats.refaults = 5;
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	assert_int_equal(s.d_refaults, 0);
	assert_int_equal(collect(f->c, 99, &s), -ENOENT);
}

/* Ages count intervals of wall time, not calls: a late tick ages more. */
static void test_late_tick_ages_more(void **state)
{
	struct fixture *f = *state;
	struct ovcmem_signals s;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	assert_int_equal(s.cold_pages, 0);		 /* idle one interval */
	fake_now += 2 * USEC_PER_SEC + USEC_PER_SEC / 3; /* 3.33 s later */
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	/* 1 + 3 intervals: beyond the cold age of three */
	assert_int_equal(s.cold_pages, NPAGES - HOT);
}

/* A cold age of 600 intervals does not fit a byte of ages: the unit
 * becomes 3 intervals, and pages turn cold after 600 s, not 254. */
static void test_long_cold_age(void **state)
{
	struct fixture *f = *state;
	struct ovcmem_signals s;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	for (int t = 0; t <= 599; t++) {
		fake_now += USEC_PER_SEC;
		assert_int_equal(ovcmem_client_collect(f->c, PART_ID, 600,
						       fake_now, USEC_PER_SEC,
						       &s),
				 0);
	}
	/* 599 s after the first scan: 199 units of 3 s, not yet cold */
	assert_int_equal(s.cold_pages, 0);
	fake_now += USEC_PER_SEC;
	assert_int_equal(ovcmem_client_collect(f->c, PART_ID, 600, fake_now,
					       USEC_PER_SEC, &s),
			 0);
	assert_int_equal(s.cold_pages, NPAGES - HOT);
	/* Back to a cold age of 3 intervals: ages are rescaled, the idle
	 * pages (600 s) are cold at once. */
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	assert_int_equal(s.cold_pages, NPAGES - HOT);
}

static void test_cold_ranges_then_prefault(void **state)
{
	struct fixture *f = *state;
	struct ovcmem_signals s;
	struct iovec *iov;
	uint64_t done, total;
	size_t n;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(collect(f->c, PART_ID, &s), 0);
	/* 1 MiB of the cold pages, as owner addresses, merged. */
	assert_int_equal(
		ovcmem_client_cold_ranges(f->c, PART_ID, 3, 1 << 20, &iov, &n),
		0);
	assert_int_equal(n, 1);
	assert_int_equal((uintptr_t)iov[0].iov_base, UA0 + HOT * 4096);
	assert_int_equal(iov[0].iov_len, 1 << 20);

	/* Paged out: no longer cold. */
	ovcmem_client_mark_evicted(f->c, PART_ID, iov, n);
	free(iov);
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	assert_int_equal(s.cold_pages, NPAGES - HOT - 256);

	/* Nothing refaults: only the block the guest works in (block 0,
	 * pages [0, 512), where [0, HOT) is touched) is faulted in, whole;
	 * idle block 1 is left alone. */
	assert_int_equal(
		ovcmem_client_prefault(f->c, PART_ID, 1 << 20, 0, &done), 0);
	assert_int_equal(drv.n_prefaults, 1);
	assert_int_equal(drv.prefault_gfn[0], GFN0);
	assert_int_equal(drv.prefault_npages[0], 512);
	assert_int_equal(done, 2 << 20); /* the fake maps all it is asked */
	/* Block 0's evicted pages are resident again (in the histogram,
	 * which counts only resident pages), young: not cold. */
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	total = 0;
	for (int k = 0; k < IDLE_BUCKETS; k++)
		total += s.idle_pages[k];
	assert_int_equal(total, NPAGES);
	assert_int_equal(s.cold_pages, NPAGES - HOT - 256);

	/* Page out [100, 300) of block 0 and [600, 700) of block 1, then
	 * the guest touches page 650: a refault. The driver maps block 1
	 * whole, so nothing of it is evicted any more; restore brings back
	 * the evicted pages next to it (block 0's) first, then works
	 * through the blocks in use. */
	iov = (struct iovec[]){
		{(void *)(uintptr_t)(UA0 + 100 * 4096), 200 * 4096},
		{(void *)(uintptr_t)(UA0 + 600 * 4096), 100 * 4096}};
	ovcmem_client_mark_evicted(f->c, PART_ID, iov, 2);
	drv.touch = 650;
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	total = 0;
	for (int k = 0; k < IDLE_BUCKETS; k++)
		total += s.idle_pages[k];
	assert_int_equal(total, NPAGES - 200);
	drv.n_prefaults = 0;
	assert_int_equal(
		ovcmem_client_prefault(f->c, PART_ID, 1 << 20, 0, &done), 0);
	assert_int_equal(drv.n_prefaults, 2);
	assert_int_equal(drv.prefault_gfn[0], GFN0 + 100);
	assert_int_equal(drv.prefault_npages[0], 200);
	assert_int_equal(drv.prefault_gfn[1], GFN0);
	assert_int_equal(drv.prefault_npages[1], 512);
	drv.touch = 0;

	/* Racing invalidations: partial, not failed. */
	drv.prefault_errno = EBUSY;
	assert_int_equal(
		ovcmem_client_prefault(f->c, PART_ID, 1 << 20, 0, &done),
		-EAGAIN);
	assert_int_equal(done, 0);
	drv.prefault_errno = EPERM;
	assert_int_equal(
		ovcmem_client_prefault(f->c, PART_ID, 1 << 20, 0, &done),
		-EPERM);
}

/* The time budget stops a prefault between driver calls; each call here
 * takes 100 ms (a real one gives up after a second of racing). */
static void test_prefault_budget(void **state)
{
	struct fixture *f = *state;
	struct ovcmem_signals s;
	struct timespec t0, t1;
	uint64_t done;
	double secs;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	drv.touch = 600; /* block 1 is in use too: 4 MiB to walk */
	assert_int_equal(collect(f->c, PART_ID, &s), 0);
	drv.prefault_delay_ms = 100;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* 50 ms allow the first 2 MiB call, not the second */
	assert_int_equal(ovcmem_client_prefault(f->c, PART_ID, 4 << 20,
						50 * 1000, &done),
			 -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 1.0);
	assert_int_equal(drv.n_prefaults, 1);
	assert_int_equal(done, 2 << 20);
	/* without a budget, both */
	drv.n_prefaults = 0;
	assert_int_equal(
		ovcmem_client_prefault(f->c, PART_ID, 4 << 20, 0, &done), 0);
	assert_int_equal(drv.n_prefaults, 2);
	assert_int_equal(done, 4 << 20);
}

/* The merge switch reaches the driver as a valid SET_MERGEABLE, and its
 * errors come back as they are (the journal names them). */
static void test_set_mergeable(void **state)
{
	struct fixture *f = *state;
	uint64_t vmas = 99;

	assert_int_equal(ovcmem_client_refresh(f->c), 1);
	assert_int_equal(
		ovcmem_client_set_mergeable(f->c, PART_ID + 1, true, &vmas),
		-ENOENT);
	assert_int_equal(vmas, 0);
	assert_int_equal(
		ovcmem_client_set_mergeable(f->c, PART_ID, true, &vmas), 0);
	assert_int_equal(drv.mergeable, 1);
	assert_int_equal(vmas, 1);
	assert_int_equal(
		ovcmem_client_set_mergeable(f->c, PART_ID, true, &vmas), 0);
	assert_int_equal(vmas, 0); /* already so */
	assert_int_equal(
		ovcmem_client_set_mergeable(f->c, PART_ID, false, &vmas), 0);
	assert_int_equal(drv.mergeable, 0);
	assert_int_equal(vmas, 1);
	drv.merge_errno = ENOTTY; /* a driver from before the call */
	assert_int_equal(
		ovcmem_client_set_mergeable(f->c, PART_ID, true, &vmas),
		-ENOTTY);
	assert_int_equal(drv.mergeable, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_absent_driver),	 T(test_partitions_map_to_vms),
		T(test_stats_and_ages),	 T(test_late_tick_ages_more),
		T(test_long_cold_age),	 T(test_cold_ranges_then_prefault),
		T(test_prefault_budget), T(test_set_mergeable),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
