// SPDX-License-Identifier: GPL-2.0
/*
 * guestsim: guest RAM. In ovcmem mode every access goes through the
 * partition's vCPU (OVCMEM_VCPU_RUN), so a page the host reclaimed is a GPA
 * intercept and comes back through the driver's fault path. In plain mode
 * the process touches its own memory, like a guest whose RAM is mapped
 * directly (for comparison).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <linux/ovcmem.h>

#include "guestsim.h"

#define HUGE_SZ	   (2ULL << 20)
#define FILL_CHUNK (2ULL << 20)

struct gs_vm {
	const struct gs_opts *o;
	enum gs_mode mode;
	uint64_t seed;
	uint64_t size, pages;
	void *map; /* what mmap returned */
	size_t map_len;
	uint8_t *ram; /* guest RAM, 2 MiB aligned */
	int dev_fd, part_fd;
	uint64_t base_gpa;
	struct ovcmem_access *acc;
	unsigned acc_cap;
	bool exit_reported;
	unsigned char *mincore_vec;
};

uint64_t gs_expected_word(uint64_t seed, uint64_t page, unsigned word)
{
	return ovcmem_pattern(seed, page * GS_PAGE_SIZE + 8ULL * word);
}

uint64_t gs_vm_pages(const struct gs_vm *vm)
{
	return vm->pages;
}

/*
 * Run @n accesses. A signal (guestsim's own SIGTERM at the end of a run)
 * stops a batch with -EINTR after some accesses: that is not an exit, so
 * the rest is run again from where it stopped. *@done: the accesses done
 * before an exit (the one at index *@done) or all @n. 0 or a negative
 * errno.
 */
static int vcpu_run(struct gs_vm *vm, struct ovcmem_access *a, unsigned n,
		    unsigned *done)
{
	unsigned total = 0;

	while (total < n) {
		struct ovcmem_vcpu_run run = {
			.accesses = (uintptr_t)(a + total),
			.count = n - total,
		};
		int r = ioctl(vm->part_fd, OVCMEM_VCPU_RUN, &run);

		if (r < 0 && errno != EINTR) {
			*done = total;
			return -errno;
		}
		total += run.done;
		if (r == 0)
			break; /* all done, or an exit at index total */
	}
	*done = total;
	return 0;
}

static const char *exit_name(uint32_t e)
{
	switch (e) {
	case OVCMEM_EXIT_OK:
		return "ok";
	case OVCMEM_EXIT_MMIO:
		return "mmio";
	case OVCMEM_EXIT_UNMAPPED:
		return "unmapped";
	case OVCMEM_EXIT_PERMISSION:
		return "permission";
	case OVCMEM_EXIT_FAULT_FAILED:
		return "fault_failed";
	}
	return "unknown";
}

struct gs_vm *gs_vm_create(const struct gs_opts *o)
{
	struct gs_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->o = o;
	vm->mode = o->mode;
	vm->seed = o->seed;
	vm->size = o->size & ~(GS_PAGE_SIZE - 1);
	vm->pages = vm->size / GS_PAGE_SIZE;
	vm->dev_fd = vm->part_fd = -1;
	vm->map_len = vm->size + HUGE_SZ;
	vm->map = mmap(NULL, vm->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->map == MAP_FAILED) {
		fprintf(stderr, "guestsim: mmap %llu bytes: %s\n",
			(unsigned long long)vm->map_len, strerror(errno));
		free(vm);
		return NULL;
	}
	vm->ram = (uint8_t *)(((uintptr_t)vm->map + HUGE_SZ - 1) &
			      ~(HUGE_SZ - 1));
	if (madvise(vm->ram, vm->size,
		    o->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		fprintf(stderr, "guestsim: madvise(%s): %s (continuing)\n",
			o->thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE",
			strerror(errno));

	vm->acc_cap = OVCMEM_VCPU_MAX_BATCH;
	vm->acc = calloc(vm->acc_cap, sizeof(*vm->acc));
	if (!vm->acc)
		goto fail;

	if (vm->mode == GS_MODE_PLAIN) {
		vm->mincore_vec = malloc(vm->pages);
		if (!vm->mincore_vec)
			goto fail;
		if (o->pinned && mlock(vm->ram, vm->size))
			fprintf(stderr,
				"guestsim: mlock: %s (continuing unpinned)\n",
				strerror(errno));
		return vm;
	}

	vm->dev_fd = open(OVCMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (vm->dev_fd < 0) {
		fprintf(stderr,
			"guestsim: open %s: %s (is the ovcmem module loaded? "
			"--mode plain runs without it)\n",
			OVCMEM_DEVICE_PATH, strerror(errno));
		goto fail;
	}
	struct ovcmem_create_partition cp = {0};

	vm->part_fd = ioctl(vm->dev_fd, OVCMEM_CREATE_PARTITION, &cp);
	if (vm->part_fd < 0) {
		fprintf(stderr, "guestsim: OVCMEM_CREATE_PARTITION: %s\n",
			strerror(errno));
		goto fail;
	}
	struct ovcmem_region reg = {
		.guest_pfn = vm->base_gpa >> OVCMEM_PAGE_SHIFT,
		.userspace_addr = (uintptr_t)vm->ram,
		.size = vm->size,
		.flags = OVCMEM_REGION_WRITABLE |
			 (o->pinned ? OVCMEM_REGION_PINNED : 0),
	};
	if (ioctl(vm->part_fd, OVCMEM_MAP_REGION, &reg)) {
		fprintf(stderr,
			"guestsim: OVCMEM_MAP_REGION (%s, %llu bytes): %s\n",
			o->pinned ? "pinned" : "movable",
			(unsigned long long)vm->size, strerror(errno));
		goto fail;
	}
	return vm;
fail:
	gs_vm_destroy(vm);
	return NULL;
}

void gs_vm_destroy(struct gs_vm *vm)
{
	if (!vm)
		return;
	if (vm->part_fd >= 0)
		close(vm->part_fd);
	if (vm->dev_fd >= 0)
		close(vm->dev_fd);
	if (vm->map && vm->map != MAP_FAILED)
		munmap(vm->map, vm->map_len);
	free(vm->acc);
	free(vm->mincore_vec);
	free(vm);
}

int gs_vm_fill(struct gs_vm *vm)
{
	if (vm->mode == GS_MODE_PLAIN) {
		for (uint64_t p = 0; p < vm->pages; p++) {
			uint64_t *w = (uint64_t *)(vm->ram + p * GS_PAGE_SIZE);

			for (unsigned i = 0; i < GS_WORDS_PER_PAGE; i++)
				w[i] = gs_expected_word(vm->seed, p, i);
		}
		return 0;
	}
	uint64_t off = 0;

	while (off < vm->size) {
		unsigned n = 0, done;

		for (; n < 16 && off < vm->size; n++) {
			uint64_t len = vm->size - off;

			if (len > FILL_CHUNK)
				len = FILL_CHUNK;
			vm->acc[n] = (struct ovcmem_access){
				.gpa = vm->base_gpa + off,
				.value = vm->seed,
				.op = OVCMEM_ACCESS_FILL,
				.len = (uint32_t)len,
			};
			off += len;
		}
		int r = vcpu_run(vm, vm->acc, n, &done);

		if (r) {
			fprintf(stderr,
				"guestsim: OVCMEM_VCPU_RUN (fill): %s\n",
				strerror(-r));
			return -1;
		}
		if (done < n) {
			fprintf(stderr,
				"guestsim: fill stopped at gpa 0x%llx: exit "
				"%s\n",
				(unsigned long long)vm->acc[done].gpa,
				exit_name(vm->acc[done].exit));
			return -1;
		}
	}
	return 0;
}

unsigned gs_vm_access(struct gs_vm *vm, const uint64_t *pages,
		      const uint16_t *words, const bool *write, unsigned n,
		      uint64_t *bad)
{
	if (n > vm->acc_cap)
		n = vm->acc_cap;
	if (vm->mode == GS_MODE_PLAIN) {
		for (unsigned i = 0; i < n; i++) {
			volatile uint64_t *w =
				(volatile uint64_t *)(vm->ram +
						      pages[i] * GS_PAGE_SIZE) +
				words[i];
			uint64_t exp =
				gs_expected_word(vm->seed, pages[i], words[i]);

			if (write[i])
				*w = exp;
			else if (*w != exp)
				(*bad)++;
		}
		return n;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = vm->base_gpa + pages[i] * GS_PAGE_SIZE +
			       8ULL * words[i];

		vm->acc[i] = (struct ovcmem_access){
			.gpa = gpa,
			.op = write[i] ? OVCMEM_ACCESS_WRITE64
				       : OVCMEM_ACCESS_READ64,
			.value = write[i] ? gs_expected_word(vm->seed, pages[i],
							     words[i])
					  : 0,
		};
	}
	unsigned done = 0, total = 0;

	while (total < n) {
		int r = vcpu_run(vm, vm->acc + total, n - total, &done);

		for (unsigned i = total; i < total + done; i++)
			if (!write[i] &&
			    vm->acc[i].value != gs_expected_word(vm->seed,
								 pages[i],
								 words[i]))
				(*bad)++;
		total += done;
		if (r) {
			if (!vm->exit_reported)
				fprintf(stderr,
					"guestsim: OVCMEM_VCPU_RUN: %s\n",
					strerror(-r));
			vm->exit_reported = true;
			(*bad) += n - total;
			return n;
		}
		if (total < n) {
			/* An exit: count it and skip that access. */
			if (!vm->exit_reported)
				fprintf(stderr,
					"guestsim: access to gpa 0x%llx "
					"exited: %s\n",
					(unsigned long long)vm->acc[total].gpa,
					exit_name(vm->acc[total].exit));
			vm->exit_reported = true;
			(*bad)++;
			total++;
		}
	}
	return n;
}

int gs_vm_verify(struct gs_vm *vm, uint64_t page, uint64_t npages)
{
	uint64_t exp = OVCMEM_FNV64_OFFSET, got;

	if (page >= vm->pages)
		return -1;
	if (page + npages > vm->pages)
		npages = vm->pages - page;
	for (uint64_t p = page; p < page + npages; p++)
		for (unsigned i = 0; i < GS_WORDS_PER_PAGE; i++)
			exp = ovcmem_fnv64_word(
				exp, gs_expected_word(vm->seed, p, i));
	if (vm->mode == GS_MODE_PLAIN) {
		const volatile uint64_t *w =
			(const volatile uint64_t *)(vm->ram +
						    page * GS_PAGE_SIZE);

		got = OVCMEM_FNV64_OFFSET;
		for (uint64_t i = 0; i < npages * GS_WORDS_PER_PAGE; i++)
			got = ovcmem_fnv64_word(got, w[i]);
		return got == exp ? 0 : 1;
	}
	/* One CHECKSUM access covers at most OVCMEM_ACCESS_MAX_LEN bytes. */
	if (npages * GS_PAGE_SIZE > OVCMEM_ACCESS_MAX_LEN)
		return -1;
	struct ovcmem_access a = {
		.gpa = vm->base_gpa + page * GS_PAGE_SIZE,
		.op = OVCMEM_ACCESS_CHECKSUM,
		.len = (uint32_t)(npages * GS_PAGE_SIZE),
	};
	unsigned done;
	int r = vcpu_run(vm, &a, 1, &done);

	if (r || done != 1) {
		if (!vm->exit_reported)
			fprintf(stderr,
				"guestsim: CHECKSUM of page %llu failed: %s\n",
				(unsigned long long)page,
				r ? strerror(-r) : exit_name(a.exit));
		vm->exit_reported = true;
		return -1;
	}
	return a.value == exp ? 0 : 1;
}

void gs_vm_counters(struct gs_vm *vm, struct gs_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (vm->mode == GS_MODE_PLAIN) {
		struct rusage ru;

		if (!getrusage(RUSAGE_SELF, &ru)) {
			c->intercepts =
				(uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
			c->refaults = (uint64_t)ru.ru_majflt;
		}
		if (!mincore(vm->ram, vm->size, vm->mincore_vec))
			for (uint64_t i = 0; i < vm->pages; i++)
				c->mapped_pages += vm->mincore_vec[i] & 1;
		return;
	}
	struct ovcmem_get_stats gs = {.guest_pfn = OVCMEM_STATS_PARTITION};

	if (ioctl(vm->part_fd, OVCMEM_GET_STATS, &gs) == 0) {
		c->intercepts = gs.stats.intercepts;
		c->refaults = gs.stats.refaults;
		c->mapped_pages = gs.stats.pages_mapped;
		c->faulted = gs.stats.pages_faulted;
		c->prefaulted = gs.stats.pages_prefaulted;
		c->invalidated = gs.stats.pages_invalidated;
	}
}
