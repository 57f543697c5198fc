// SPDX-License-Identifier: GPL-2.0
/*
 * act_execute() on a fake cgroup tree: what is written where, that a dry
 * run writes nothing, and how EAGAIN (partial reclaim) is reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "act.h"
#include "fake_tree.h"
#include "log.h"
#include "refault_map.h"

#define CG "machine.slice/vm1.scope"

struct fixture {
	struct fake_tree t;
	struct act_context ctx;
	struct vm_signals vm;
	/* The fake kernel behind the write hook. */
	int answer;		/* what the write returns */
	uint64_t current_after; /* memory.current after the write */
	int calls;
	char last_path[4096], last_data[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	log_open(LOG_TARGET_MEMORY);
	fake_tree_create(&f->t, 16 * GiB, 8 * GiB);
	fake_vm_add(&f->t, "vm1", 1 * GiB, 2 * GiB);
	f->ctx.root = f->t.root;
	f->ctx.cgroup_root = "/sys/fs/cgroup";
	snprintf(f->vm.name, sizeof(f->vm.name), "vm1");
	snprintf(f->vm.cgroup, sizeof(f->vm.cgroup), CG);
	f->vm.memory_current = 1 * GiB;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fake_tree_destroy(&f->t);
	log_memory_clear();
	free(f);
	return 0;
}

static struct action reclaim(uint64_t bytes)
{
	struct action a = {.kind = ACTION_RECLAIM, .vm = 0, .bytes = bytes};

	snprintf(a.reason, sizeof(a.reason), "test");
	return a;
}

/* A kernel that reclaims only part and says EAGAIN, as memory.reclaim
 * does when it gives up. */
static int fake_kernel(const char *path, const char *data, void *userdata)
{
	struct fixture *f = userdata;

	f->calls++;
	snprintf(f->last_path, sizeof(f->last_path), "%s", path);
	snprintf(f->last_data, sizeof(f->last_data), "%s", data);
	if (f->current_after)
		fake_vm_current(&f->t, "vm1", f->current_after);
	return f->answer;
}

static void test_reclaim_writes_bytes(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(3 * MiB);
	struct act_result res;

	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.reclaim"),
			    "3145728");
	assert_int_equal(res.bytes_done, 3 * MiB);
	assert_false(res.partial);
	assert_int_equal(res.error, 0);
}

static void test_dry_run_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(64 * MiB);
	struct act_result res;

	f->ctx.dry_run = true;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_true(res.dry_run);
	assert_int_equal(res.bytes_done, 0);
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.reclaim"), "");
	a.kind = ACTION_SET_HIGH;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.high"), "max\n");
}

static void test_eagain_partial(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(4 * MiB);
	struct act_result res;

	f->ctx.write = fake_kernel;
	f->ctx.write_userdata = f;
	f->answer = -EAGAIN;
	f->current_after = 1 * GiB - 3 * MiB;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_data, "4194304");
	assert_non_null(strstr(f->last_path, CG "/memory.reclaim"));
	assert_true(res.partial);
	assert_int_equal(res.error, 0);
	assert_int_equal(res.bytes_done, 3 * MiB);
}

static void test_eagain_nothing(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(64 * MiB);
	struct act_result res;

	f->ctx.write = fake_kernel;
	f->ctx.write_userdata = f;
	f->answer = -EAGAIN;
	/* memory.current grew meanwhile: nothing was reclaimed, and the
	 * difference must not wrap around. */
	f->current_after = 1 * GiB + 5 * MiB;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_true(res.partial);
	assert_int_equal(res.bytes_done, 0);
}

static void test_eagain_more_than_asked_is_capped(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(8 * MiB);
	struct act_result res;

	f->ctx.write = fake_kernel;
	f->ctx.write_userdata = f;
	f->answer = -EAGAIN;
	f->current_after = 512 * MiB; /* others freed memory too */
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_int_equal(res.bytes_done, 8 * MiB);
}

static int busy_after_two(const char *path, const char *data, void *userdata)
{
	struct fixture *f = userdata;

	(void)path;
	f->calls++;
	snprintf(f->last_data, sizeof(f->last_data), "%s", data);
	if (f->calls < 3)
		return 0;
	fake_vm_current(&f->t, "vm1", f->current_after);
	return -EAGAIN;
}

static void count_progress(void *userdata)
{
	(*(int *)userdata)++;
}

/* Large reclaims go in 4 MiB slices, with progress reported between
 * them; EAGAIN in a slice ends it, the slices before it count. */
static void test_large_reclaim_in_slices(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(10 * MiB);
	struct act_result res;
	int progress = 0;

	f->vm.memory_current = 1 * GiB;
	f->ctx.write = busy_after_two;
	f->ctx.write_userdata = f;
	f->ctx.progress = count_progress;
	f->ctx.progress_userdata = &progress;
	/* The third slice (2M) reclaims 1M and gives up. */
	f->current_after = 1 * GiB - 8 * MiB - 1 * MiB;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_int_equal(f->calls, 3);
	assert_string_equal(f->last_data, "2097152"); /* 2M */
	assert_int_equal(progress, 2);
	assert_true(res.partial);
	assert_int_equal(res.bytes_done, 9 * MiB);
}

static void test_write_error_reported(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(64 * MiB);
	struct act_result res;

	f->ctx.write = fake_kernel;
	f->ctx.write_userdata = f;
	f->answer = -EBUSY;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), -EBUSY);
	assert_int_equal(res.error, -EBUSY);
	assert_int_equal(res.bytes_done, 0);
}

static void test_vanished_cgroup(void **state)
{
	struct fixture *f = *state;
	struct action a = reclaim(64 * MiB);
	struct act_result res;

	fake_vm_remove(&f->t, "vm1");
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), -ENOENT);
	assert_int_equal(res.error, -ENOENT);
}

static void test_set_high_low(void **state)
{
	struct fixture *f = *state;
	struct action a = {.kind = ACTION_SET_HIGH, .bytes = MEMORY_UNLIMITED};
	struct act_result res;

	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.high"), "max");
	a.bytes = 768 * MiB;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.high"),
			    "805306368");
	a.kind = ACTION_SET_LOW;
	a.bytes = 256 * MiB;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.low"),
			    "268435456");
	assert_int_equal(res.bytes_done, 256 * MiB);
}

static void test_pageout_needs_ovcmem(void **state)
{
	struct fixture *f = *state;
	struct action a = {.kind = ACTION_PAGEOUT, .bytes = 64 * MiB};
	struct act_result res;

	f->vm.pid = 1;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), -EOPNOTSUPP);
	assert_int_equal(res.error, -EOPNOTSUPP);
}

static void test_prefault_without_pid(void **state)
{
	struct fixture *f = *state;
	struct action a = {.kind = ACTION_PREFAULT, .bytes = 64 * MiB};
	struct act_result res;

	f->vm.pid = 0;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), -EOPNOTSUPP);
}

static void test_prefault_vanished_process(void **state)
{
	struct fixture *f = *state;
	struct action a = {.kind = ACTION_PREFAULT, .bytes = 64 * MiB};
	struct act_result res;

	/* No proc/PID/maps in the fake tree: the process is gone. */
	f->vm.pid = 4242;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), -ENOENT);
}

/*
 * Restore without ovcmem, through act_execute (source "none"): this very
 * process plays the VMM, with four 2 MiB blocks of real anonymous memory
 * (process_madvise needs a live mapping), and the fake tree's
 * proc/PID/maps and proc/PID/pagemap say what is swapped.
 */
#define RAM_BLOCKS 4
#define PM_SWAPPED (1ULL << 62)
#define PM_PRESENT (1ULL << 63)

struct fake_vmm {
	char *raw, *ram; /* ram: REFAULT_BLOCK_BYTES aligned */
	char pagemap[4096];
};

static void fake_vmm_create(struct fixture *f, struct fake_vmm *m)
{
	size_t len = (RAM_BLOCKS + 1) * REFAULT_BLOCK_BYTES;
	char path[4096], maps[128];
	uintptr_t a;

	m->raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m->raw != MAP_FAILED);
	a = ((uintptr_t)m->raw + REFAULT_BLOCK_BYTES - 1) &
	    ~(uintptr_t)(REFAULT_BLOCK_BYTES - 1);
	m->ram = (char *)a;
	snprintf(path, sizeof(path), "%s/proc/%d", f->t.root, (int)getpid());
	fake_mkdir_p(path);
	/* a small writable mapping first: QEMU's own, never guest RAM */
	snprintf(maps, sizeof(maps),
		 "1000-3000 rw-p 00000000 00:00 0\n%lx-%lx rw-p 00000000 "
		 "00:00 0\n",
		 (unsigned long)a,
		 (unsigned long)(a + RAM_BLOCKS * REFAULT_BLOCK_BYTES));
	snprintf(path, sizeof(path), "%s/proc/%d/maps", f->t.root,
		 (int)getpid());
	fake_write(path, maps);
	snprintf(m->pagemap, sizeof(m->pagemap), "%s/proc/%d/pagemap",
		 f->t.root, (int)getpid());
	f->vm.pid = getpid();
}

static void fake_vmm_destroy(struct fake_vmm *m)
{
	munmap(m->raw, (RAM_BLOCKS + 1) * REFAULT_BLOCK_BYTES);
	act_refault_forget_all();
}

/* Pages [lo, hi) of the RAM (counted from its start) are present, the
 * others swapped. */
static void fake_vmm_pages(struct fake_vmm *m, unsigned int lo, unsigned int hi)
{
	unsigned int pages = RAM_BLOCKS * REFAULT_BLOCK_PAGES;
	uint64_t *ents = calloc(pages, sizeof(*ents));
	FILE *pm = fopen(m->pagemap, "w");

	assert_non_null(ents);
	assert_non_null(pm);
	for (unsigned int i = 0; i < pages; i++)
		ents[i] = i >= lo && i < hi ? PM_PRESENT | 1234 : PM_SWAPPED;
	assert_int_equal(fseeko(pm,
				(off_t)((uintptr_t)m->ram / REFAULT_PAGE_BYTES *
					sizeof(uint64_t)),
				SEEK_SET),
			 0);
	assert_int_equal(fwrite(ents, sizeof(*ents), pages, pm), pages);
	fclose(pm);
	free(ents);
}

static const char *restore_field(const char *key)
{
	for (size_t i = log_memory_count(); i-- > 0;) {
		const struct log_entry *e = log_memory_get(i);
		const char *v = log_entry_field(e, "RESTORE_PREFAULTED_BYTES");

		if (v)
			return log_entry_field(e, key);
	}
	return NULL;
}

static void test_prefault_where_it_refaults(void **state)
{
	struct fixture *f = *state;
	struct action reclaim_a = {.kind = ACTION_RECLAIM, .bytes = 8 * MiB};
	struct action a = {.kind = ACTION_PREFAULT, .bytes = 64 * MiB};
	struct refault_totals t;
	struct act_result res;
	struct fake_vmm m;
	int r;

	fake_vmm_create(f, &m);
	/* everything swapped: our reclaim took it, the baseline follows */
	fake_vmm_pages(&m, 0, 0);
	assert_int_equal(act_execute(&f->ctx, &reclaim_a, &f->vm, &res), 0);
	assert_true(act_refault_totals(CG, &t));
	/* no refaults yet: a prefault finds nothing to do, says nothing */
	log_memory_clear();
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_int_equal(res.bytes_done, 0);
	assert_null(restore_field("VM"));
	/* the VM touched the first 100 pages of block 1 */
	fake_vmm_pages(&m, 512, 612);
	f->vm.pgmajfault = 100;
	r = act_execute(&f->ctx, &a, &f->vm, &res);
	/* process_madvise needs CAP_SYS_NICE; valgrind knows no pidfd_open */
	if (r == -EPERM || r == -ENOSYS)
		skip();
	assert_int_equal(r, 0);
	/* block 1's 412 still swapped, blocks 0 and 2 whole; not block 3 */
	assert_int_equal(res.bytes_done, (412 + 2 * 512) * REFAULT_PAGE_BYTES);
	assert_string_equal(restore_field("RESTORE_REFAULTED_PAGES"), "100");
	assert_string_equal(restore_field("PREFAULTED_PAGES_TOTAL"), "1436");
	/* a budget smaller than that: block 1 first */
	act_refault_forget_all();
	fake_vmm_pages(&m, 0, 0);
	f->vm.pgmajfault = 0;
	assert_int_equal(act_refault_sample(&f->ctx, &f->vm), 0);
	fake_vmm_pages(&m, 512, 612);
	f->vm.pgmajfault = 100;
	a.bytes = 100 * REFAULT_PAGE_BYTES;
	assert_int_equal(act_execute(&f->ctx, &a, &f->vm, &res), 0);
	assert_int_equal(res.bytes_done, 100 * REFAULT_PAGE_BYTES);
	/* the VM then touches those 100: used, not refaults */
	fake_vmm_pages(&m, 512, 712);
	assert_int_equal(act_refault_sample(&f->ctx, &f->vm), 0);
	assert_true(act_refault_totals(CG, &t));
	assert_int_equal(t.prefaulted, 100);
	assert_int_equal(t.used, 100);
	assert_int_equal(t.refaulted, 100);
	fake_vmm_destroy(&m);
}

/* After a reclaim the baseline is taken again only when the last one is
 * 5 s old: a reclaim right after another walks nothing. */
static void test_baseline_spaced(void **state)
{
	struct fixture *f = *state;
	struct action reclaim_a = {.kind = ACTION_RECLAIM, .bytes = 8 * MiB};
	struct refault_totals t;
	struct act_result res;
	struct fake_vmm m;

	fake_vmm_create(f, &m);
	fake_vmm_pages(&m, 0, 0);
	assert_int_equal(act_execute(&f->ctx, &reclaim_a, &f->vm, &res), 0);
	fake_vmm_pages(&m, 512, 612);
	assert_int_equal(act_execute(&f->ctx, &reclaim_a, &f->vm, &res), 0);
	assert_true(act_refault_totals(CG, &t));
	assert_int_equal(t.refaulted, 0); /* not looked again */
	assert_int_equal(act_refault_sample(&f->ctx, &f->vm), 0);
	assert_true(act_refault_totals(CG, &t));
	assert_int_equal(t.refaulted, 100);
	fake_vmm_destroy(&m);
}

/* One map per VM, found again by its cgroup whatever the order they
 * came in; a new VMM process (another pid) starts a new one. */
static void test_refault_maps_per_vm(void **state)
{
	static const char *const cgroups[] = {
		"machine.slice/c.scope", "machine.slice/a.scope",
		"machine.slice/b.scope", "machine.slice/aa.scope"};
	struct fixture *f = *state;
	struct refault_totals t;
	struct fake_vmm m;

	fake_vmm_create(f, &m);
	for (size_t i = 0; i < 4; i++) {
		fake_vmm_pages(&m, 0, 0);
		snprintf(f->vm.cgroup, sizeof(f->vm.cgroup), "%s", cgroups[i]);
		assert_int_equal(act_refault_sample(&f->ctx, &f->vm), 0);
		/* a refault of i + 1 pages, for this VM only */
		fake_vmm_pages(&m, 0, (unsigned int)i + 1);
		assert_int_equal(act_refault_sample(&f->ctx, &f->vm), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_true(act_refault_totals(cgroups[i], &t));
		assert_int_equal(t.refaulted, i + 1);
	}
	assert_false(act_refault_totals("machine.slice/d.scope", &t));
	/* the VM's process changed: its old map says nothing about it */
	f->vm.pid = getpid() + 1;
	snprintf(f->vm.cgroup, sizeof(f->vm.cgroup), "%s", cgroups[2]);
	assert_int_equal(act_refault_sample(&f->ctx, &f->vm), -ENOENT);
	assert_false(act_refault_totals(cgroups[2], &t));
	assert_true(act_refault_totals(cgroups[3], &t));
	fake_vmm_destroy(&m);
}

/* The process left: its map goes with it. */
static void test_refault_map_dropped_with_process(void **state)
{
	struct fixture *f = *state;
	struct refault_totals t;
	struct fake_vmm m;
	char path[4096];

	fake_vmm_create(f, &m);
	fake_vmm_pages(&m, 0, 0);
	assert_int_equal(act_refault_sample(&f->ctx, &f->vm), 0);
	assert_true(act_refault_totals(CG, &t));
	snprintf(path, sizeof(path), "%s/proc/%d", f->t.root, (int)getpid());
	assert_int_equal(fake_rm_rf(path), 0);
	assert_int_equal(act_refault_sample(&f->ctx, &f->vm), -ENOENT);
	assert_false(act_refault_totals(CG, &t));
	fake_vmm_destroy(&m);
}

static void test_path_too_long(void **state)
{
	struct fixture *f = *state;
	char buf[32];

	assert_int_equal(act_cgroup_path(&f->ctx, CG, "memory.reclaim", buf,
					 sizeof(buf)),
			 -ENAMETOOLONG);
}

/* /proc/PID/maps lines: only large writable ranges are guest RAM, and
 * a range that ends before it starts is none. */
static void test_maps_line_guest_ram(void **state)
{
	uint64_t start = 0, len = 0;

	(void)state;
	assert_true(act_maps_line_guest_ram(
		"7f2a40000000-7f2b40000000 rw-s 00000000 00:01 2051 "
		"/memfd:pc.ram (deleted)",
		&start, &len));
	assert_int_equal(start, 0x7f2a40000000ULL);
	assert_int_equal(len, 0x100000000ULL);
	assert_false(act_maps_line_guest_ram(
		"55d5c8a00000-55d5c8f2a000 r-xp 00000000 fe:01 1 /usr/bin/qemu",
		&start, &len));
	assert_false(act_maps_line_guest_ram(
		"7f2b40000000-7f2b40100000 rw-p 00000000 00:00 0", &start,
		&len)); /* 1 MiB: QEMU's own */
	assert_false(act_maps_line_guest_ram(
		"7f2b40200000-7f2a40000000 rw-p 00000000 00:00 0", &start,
		&len)); /* backwards */
	assert_false(act_maps_line_guest_ram("7f2b40200000-", &start, &len));
	assert_false(act_maps_line_guest_ram("1-2 r", &start, &len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reclaim_writes_bytes),
		T(test_dry_run_writes_nothing),
		T(test_eagain_partial),
		T(test_eagain_nothing),
		T(test_eagain_more_than_asked_is_capped),
		T(test_large_reclaim_in_slices),
		T(test_write_error_reported),
		T(test_vanished_cgroup),
		T(test_set_high_low),
		T(test_pageout_needs_ovcmem),
		T(test_prefault_without_pid),
		T(test_prefault_vanished_process),
		T(test_prefault_where_it_refaults),
		T(test_refault_map_dropped_with_process),
		T(test_baseline_spaced),
		T(test_refault_maps_per_vm),
		T(test_path_too_long),
		T(test_maps_line_guest_ram),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
