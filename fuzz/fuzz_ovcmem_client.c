// SPDX-License-Identifier: GPL-2.0
/*
 * The ovcmem client's handling of what the driver's ioctls return
 * (LIST_PARTITIONS, OPEN_PARTITION, LIST_REGIONS, GET_STATS, SCAN,
 * PREFAULT, SET_MERGEABLE), through the client's own calls, a few rounds
 * of what the daemon does each tick. This program defines ioctl(2), as
 * tests/unit/test_ovcmem_client.c does: a fake driver whose every answer
 * (counts, region lists, bitmaps, errors) is read from the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fuzz.h"
#include "ovcmem_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Regions of the fake driver's making stay small (their coldmaps take a
 * byte a page): the bounds on sizes are ovcmem_regions_check()'s, fuzzed
 * by fuzz_ovcmem_regions. */
#define FUZZ_REGION_PAGES_MAX 8191

static struct {
	const uint8_t *p;
	size_t n;
	ino_t dev_ino;
} in;

/* The next @len bytes of the input; zeroes once it is used up. */
static void take(void *dst, size_t len)
{
	size_t k = len < in.n ? len : in.n;

	memcpy(dst, in.p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	in.p += k;
	in.n -= k;
}

static uint8_t take8(void)
{
	uint8_t v;

	take(&v, sizeof(v));
	return v;
}

/* A count: mostly small, sometimes any 32-bit value. */
static uint32_t take_count(void)
{
	uint8_t how = take8();
	uint32_t v;

	if (how < 0xe0)
		return how % 5;
	take(&v, sizeof(v));
	return v;
}

static bool is_dev(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_ino == in.dev_ino;
}

/* Partition fds are /dev/null's, opened by OPEN_PARTITION below. */
static bool is_part(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(1, 3);
}

static void fake_partitions(struct ovcmem_list_partitions *lp)
{
	struct ovcmem_partition_info *pi = (void *)(uintptr_t)lp->partitions;

	lp->count = take_count();
	for (uint32_t i = 0; pi && i < lp->count && i < lp->capacity; i++)
		take(&pi[i], sizeof(pi[i]));
}

static void fake_regions(struct ovcmem_list_regions *lr)
{
	struct ovcmem_region_info *ri = (void *)(uintptr_t)lr->regions;

	lr->count = take_count();
	for (uint32_t i = 0; ri && i < lr->count && i < lr->capacity; i++) {
		uint16_t pages;
		uint8_t odd;

		take(&ri[i], sizeof(ri[i]));
		take(&pages, sizeof(pages));
		odd = take8();
		/* Page multiples mostly, a ragged size now and then. */
		ri[i].size = (uint64_t)(pages % FUZZ_REGION_PAGES_MAX) *
				     OVCMEM_PAGE_SIZE +
			     (odd >= 0xf0 ? odd : 0);
		if (odd & 1)
			ri[i].type = OVCMEM_REGION_TYPE_MOVABLE_RAM;
	}
}

static void fake_scan(struct ovcmem_scan *s)
{
	uint64_t *bm = (void *)(uintptr_t)s->accessed_bitmap;
	uint8_t pattern = take8();

	/* One byte repeated: the bitmap may be 128 KiB, the input small. */
	if (bm && s->npages <= OVCMEM_SCAN_MAX_PAGES)
		memset(bm, pattern, (s->npages + 63) / 64 * 8);
	take(&s->accessed, sizeof(s->accessed));
}

static int fake_ioctl(unsigned long req, void *arg)
{
	static const int errnos[] = {ENOENT, ENODEV, EINTR,  EBUSY,
				     ENOMEM, ESRCH,  ENOTTY, EPROTO};
	uint8_t how = take8();

	if (how >= 0xf0) {
		errno = errnos[how & 7];
		return -1;
	}
	switch (req) {
	case OVCMEM_LIST_PARTITIONS:
		fake_partitions(arg);
		return 0;
	case OVCMEM_OPEN_PARTITION:
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case OVCMEM_LIST_REGIONS:
		fake_regions(arg);
		return 0;
	case OVCMEM_GET_STATS:
		take(&((struct ovcmem_get_stats *)arg)->stats,
		     sizeof(struct ovcmem_stats));
		return 0;
	case OVCMEM_SCAN:
		fake_scan(arg);
		return 0;
	case OVCMEM_PREFAULT:
		take(&((struct ovcmem_prefault *)arg)->pages_mapped,
		     sizeof(uint64_t));
		return 0;
	case OVCMEM_SET_MERGEABLE:
		take(&((struct ovcmem_set_mergeable *)arg)->vmas,
		     sizeof(uint64_t));
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

/* Binds the client's ioctl() calls to the fake driver. */
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (in.dev_ino && (is_dev(fd) || is_part(fd)))
		return fake_ioctl(req, arg);
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* What the daemon does with one partition in a tick. */
static void one_partition(struct ovcmem_client *c, uint64_t id, usec_t now)
{
	unsigned int cold = take8() % 16;
	struct ovcmem_signals sig;
	struct iovec *iov = NULL;
	uint64_t done = 0, vmas, want = 16ULL << 20;
	size_t n = 0;

	ovcmem_client_collect(c, id, cold ? cold : UINT_MAX, now, USEC_PER_SEC,
			      &sig);
	if (ovcmem_client_cold_ranges(c, id, take8() % 8, 64ULL << 20, &iov,
				      &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!iov[i].iov_len)
				abort(); /* a range of nothing */
		ovcmem_client_mark_evicted(c, id, iov, n);
	}
	free(iov);
	ovcmem_client_prefault(c, id, want, 0, &done);
	/* At most one 2 MiB step past what was asked. */
	if (done > want + (OVCMEM_LARGE_PAGE_PAGES * OVCMEM_PAGE_SIZE))
		abort();
	ovcmem_client_set_mergeable(c, id, take8() & 1, &vmas);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dev[64];
	struct ovcmem_client *c = NULL;
	usec_t now = 0;

	if (!dev[0]) {
		struct stat st;

		/* An empty regular file stands in for /dev/ovcmem. */
		if (fuzz_file(NULL, 0, dev, sizeof(dev)) < 0 ||
		    stat(dev, &st) < 0)
			abort();
		in.dev_ino = st.st_ino;
	}
	in.p = data;
	in.n = size;
	if (ovcmem_client_open("/nonexistent-fuzz-root", dev, &c) < 0)
		return 0;
	for (unsigned int round = 0; round < 3; round++) {
		int k = ovcmem_client_refresh(c);

		now += USEC_PER_SEC;
		for (int i = 0; i < k; i++) {
			const struct ovcmem_part *p = ovcmem_client_get(c, i);

			if (!p)
				abort(); /* refresh's count is the table's */
			one_partition(c, p->id, now);
		}
	}
	ovcmem_client_free(c);
	return 0;
}
