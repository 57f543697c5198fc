// SPDX-License-Identifier: GPL-2.0
/*
 * Privileges and accounting (issue 17, items 3, 4 and 5).
 *
 * An owner fd's powers are bound to the owner's mm: a forked child (even
 * one that dropped to nobody) can use none of them through the inherited
 * fd. Pinned pages count against RLIMIT_MEMLOCK unless the caller has
 * CAP_IPC_LOCK, and show as VmPin. Kernel memory the driver keeps for a
 * caller is charged to the caller's memory cgroup, and one user can hold
 * at most OVCMEM_MAX_PARTITIONS_PER_USER partitions.
 */
#include <sys/resource.h>

#include "ovcmem_test.h"

#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)
#define BYTES (4ULL << 20)
#define NPAGES (BYTES / OVT_PAGE)
#define NOBODY 65534

/* Become nobody: no capabilities left. FAILs on error. */
static void become_nobody(void)
{
	CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0);
	CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);
}

/* Run @fn in a forked child; FAIL unless it exits 0. */
static void in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("child failed (status %#x)", status);
}

struct inherited {
	int pfd;
	char *mem;
	int as_nobody;
};

/* Everything the partition fd offers, from the child: all -EPERM. */
static void try_everything(void *arg)
{
	struct inherited *in = arg;
	struct ovcmem_access a = { .gpa = GPA, .op = OVCMEM_ACCESS_WRITE64 };
	struct ovcmem_get_stats gs = { .guest_pfn = OVCMEM_STATS_PARTITION };
	struct ovcmem_region_info info[4];
	struct ovcmem_list_regions lr = {
		.regions = (__u64)(uintptr_t)info, .capacity = 4,
	};
	static __u64 acc[NPAGES / 64], dirty[NPAGES / 64];
	int pfd = in->pfd;

	if (in->as_nobody)
		become_nobody();
	CHECK_ERRNO(ovt_unmap_region(pfd, GFN, BYTES), EPERM);
	CHECK_ERRNO(ovt_scan(pfd, GFN, NPAGES, acc, dirty,
			     OVCMEM_SCAN_FLAGS_ALL, NULL, NULL), EPERM);
	CHECK_ERRNO(ovt_prefault(pfd, GFN, NPAGES, NULL), EPERM);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_GET_STATS, &gs), EPERM);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_LIST_REGIONS, &lr), EPERM);
	CHECK_ERRNO(ovt_map_region(pfd, GFN + 0x10000, in->mem, BYTES, 0),
		    EPERM);
	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EPERM);
	CHECK(close(pfd) == 0);
}

static void forked_child_gets_eperm(int as_nobody)
{
	static __u64 acc[NPAGES / 64], dirty[NPAGES / 64];
	struct inherited in = { .as_nobody = as_nobody };
	__u64 nacc, ndirty;

	in.mem = ovt_mmap_anon(BYTES);
	in.pfd = ovt_partition_ok(0, NULL);
	CHECK_EQ(ovt_map_region(in.pfd, GFN, in.mem, BYTES,
				OVCMEM_REGION_WRITABLE), 0);
	CHECK_EQ(ovt_fill(in.pfd, GPA, BYTES, 5), OVCMEM_EXIT_OK);
	in_child(try_everything, &in);
	/*
	 * The VM is as it was: mapped, its dirty log uncleared (the fork's
	 * COW invalidated the entries, and with them the accessed bits; the
	 * dirty bits moved to the log), its data intact.
	 */
	CHECK_EQ(ovt_stats_ok(in.pfd, GFN).pages, NPAGES);
	CHECK_EQ(ovt_scan(in.pfd, GFN, NPAGES, acc, dirty, 0, &nacc, &ndirty),
		 0);
	CHECK_EQ(ndirty, NPAGES);
	CHECK(ovt_verify(in.pfd, GPA, BYTES, 5, NULL) == 0);
	close(in.pfd);
}

TEST(forked_child_as_nobody_cannot_use_inherited_owner_fd)
{
	forked_child_gets_eperm(1);
}

TEST(forked_child_as_root_cannot_use_inherited_owner_fd)
{
	forked_child_gets_eperm(0);
}

/* VmPin of this process in KiB. */
static long long vm_pin_kb(void)
{
	return ovt_keyed_value("/proc/self/status", "VmPin");
}

static void set_memlock(rlim_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
}

/* As nobody with a 64 KiB memlock limit: 32 MiB of pins are refused. */
static void pin_past_memlock(void *unused)
{
	const size_t big = 32 << 20, small = 32 << 10;
	int pfd = ovt_partition_ok(0, NULL);
	int enc = ovt_partition_ok(OVCMEM_PARTITION_ENCRYPTED, NULL);
	char *mem = ovt_mmap_anon(big);

	(void)unused;
	set_memlock(64 << 10);
	become_nobody();
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, big,
				   OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		    ENOMEM);
	CHECK_ERRNO(ovt_map_region(enc, GFN, mem, big, OVCMEM_REGION_WRITABLE),
		    ENOMEM);
	CHECK_EQ(vm_pin_kb(), 0);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, small,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(vm_pin_kb(), small >> 10);
	/* 32 KiB more would be 64 KiB: fine; 64 KiB more is not. */
	CHECK_ERRNO(ovt_map_region(enc, GFN, mem + small, 2 * small,
				   OVCMEM_REGION_WRITABLE),
		    ENOMEM);
	CHECK_EQ(ovt_map_region(enc, GFN, mem + small, small,
				OVCMEM_REGION_WRITABLE), 0);
	CHECK_EQ(vm_pin_kb(), 2 * (small >> 10));
	CHECK_EQ(ovt_unmap_region(pfd, GFN, small), 0);
	CHECK_EQ(ovt_unmap_region(enc, GFN, small), 0);
	CHECK_EQ(vm_pin_kb(), 0);
	close(pfd);
	close(enc);
}

TEST(pinned_pages_count_against_memlock_when_unprivileged)
{
	in_child(pin_past_memlock, NULL);
}

/* As root (CAP_IPC_LOCK) the same limit does not apply; VmPin counts. */
static void pin_with_cap_ipc_lock(void *unused)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_anon(BYTES);

	(void)unused;
	set_memlock(64 << 10);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, BYTES,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(vm_pin_kb(), BYTES >> 10);
	close(pfd);
	CHECK_EQ(vm_pin_kb(), 0);
}

TEST(cap_ipc_lock_lifts_the_memlock_limit_not_the_count)
{
	in_child(pin_with_cap_ipc_lock, NULL);
}

/* As nobody: OVCMEM_MAX_PARTITIONS_PER_USER partitions, then -ENOSPC. */
static void partitions_up_to_bound(void *unused)
{
	int fds[OVCMEM_MAX_PARTITIONS_PER_USER], dev = ovt_open_dev(), i;

	(void)unused;
	CHECK(dev >= 0);
	become_nobody();
	for (i = 0; i < OVCMEM_MAX_PARTITIONS_PER_USER; i++) {
		fds[i] = ovt_create_partition(dev, 0, NULL);
		CHECK(fds[i] >= 0);
	}
	CHECK_ERRNO(ovt_create_partition(dev, 0, NULL), ENOSPC);
	close(fds[0]);
	fds[0] = ovt_create_partition(dev, 0, NULL);
	CHECK(fds[0] >= 0);
	for (i = 0; i < OVCMEM_MAX_PARTITIONS_PER_USER; i++)
		close(fds[i]);
	close(dev);
}

TEST(partitions_per_user_are_bounded)
{
	long base = ovt_objects_total();

	in_child(partitions_up_to_bound, NULL);
	CHECK_EQ(ovt_objects_settle(base, 2000), base);
}

/*
 * Region bookkeeping is kernel memory of the caller: MAP_REGION over big
 * unpopulated read-only reservations must raise the caller's cgroup's
 * memory.current by at least one bit per guest page (what the driver
 * keeps per page at the very least).
 */
static long long memory_current(const char *cg)
{
	char path[512];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(fscanf(f, "%lld", &v) == 1);
	fclose(f);
	return v;
}

static void map_big_regions(void *cg)
{
	const __u64 region = 16ULL << 30, nregions = 8;
	long long before, after;
	int pfd;
	__u64 i;

	ovt_cgroup_enter_ok(cg, 0);
	pfd = ovt_partition_ok(0, NULL);
	before = memory_current(cg);
	for (i = 0; i < nregions; i++) {
		void *m = mmap(NULL, region, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			       0);

		CHECK(m != MAP_FAILED);
		CHECK_EQ(ovt_map_region(pfd, GFN + i * (region >> 12), m,
					region, 0), 0);
	}
	after = memory_current(cg);
	printf("# memory.current rose by %lld KiB for %llu GiB of regions\n",
	       (after - before) >> 10,
	       (unsigned long long)(nregions * region >> 30));
	CHECK(after - before >= (long long)(nregions * (region >> 12) / 8));
	close(pfd);
}

TEST(region_bookkeeping_is_charged_to_the_callers_cgroup)
{
	char cg[256];

	ovt_cgroup_create_ok("ovt-kmem", cg, sizeof(cg));
	in_child(map_big_regions, cg);
	CHECK(ovt_cgroup_remove(cg) == 0);
}

int main(void)
{
	return run_tests();
}
