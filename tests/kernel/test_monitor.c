// SPDX-License-Identifier: GPL-2.0
/*
 * Monitor (issue 3, test 12): a privileged second process lists the
 * partitions, opens one, reads its stats, regions and scan, and prefaults
 * it, but cannot change it or run its vCPU; an unprivileged one gets
 * -EPERM (or cannot even open the device); a monitor fd outlives the VM
 * with its final counters and no memory.
 */
#include <linux/capability.h>
#include <sys/syscall.h>

#include "ovcmem_test.h"

#define GFN 0x40000ULL
#define GPA (GFN * OVT_PAGE)
#define SIZE (4 * OVT_2M)

/* Drop every capability of this process (uid stays 0). */
static void drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };

	CHECK(syscall(SYS_capset, &hdr, data) == 0);
}

static int run_child(void (*fn)(__u64 id, pid_t owner), __u64 id)
{
	pid_t owner = getpid(), pid = fork();
	int status;

	CHECK(pid >= 0);
	if (pid == 0) {
		fn(id, owner);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int find(int dev, __u64 id, struct ovcmem_partition_info *out)
{
	struct ovcmem_partition_info info[64];
	struct ovcmem_list_partitions lp = {
		.partitions = (__u64)(uintptr_t)info, .capacity = 64,
	};
	__u32 i;

	CHECK_EQ(ioctl(dev, OVCMEM_LIST_PARTITIONS, &lp), 0);
	for (i = 0; i < lp.count && i < 64; i++) {
		if (info[i].id == id) {
			*out = info[i];
			return 1;
		}
	}
	return 0;
}

static void privileged_monitor(__u64 id, pid_t owner)
{
	struct ovcmem_region_info ri[4];
	struct ovcmem_list_regions lr = {
		.regions = (__u64)(uintptr_t)ri, .capacity = 4,
	};
	struct ovcmem_partition_info info;
	int dev = ovt_open_dev(), mon;
	__u64 mapped, acc[SIZE / OVT_PAGE / 64], na;
	struct ovcmem_access a = { .gpa = GPA, .op = OVCMEM_ACCESS_READ64 };

	CHECK(dev >= 0);
	CHECK(find(dev, id, &info));
	CHECK_EQ(info.owner_pid, owner);
	CHECK_EQ(info.nr_regions, 1);
	CHECK_EQ(info.pages, SIZE / OVT_PAGE);
	CHECK_EQ(info.pages_mapped, 512);

	mon = ovt_open_partition(dev, id);
	CHECK(mon >= 0);
	CHECK(fcntl(mon, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ(ovt_stats_ok(mon, OVCMEM_STATS_PARTITION).pages_mapped, 512);
	CHECK_EQ(ovt_stats_ok(mon, GFN).intercepts, 1);
	CHECK_EQ(ioctl(mon, OVCMEM_LIST_REGIONS, &lr), 0);
	CHECK_EQ(lr.count, 1);
	CHECK_EQ(ri[0].guest_pfn, GFN);
	CHECK(ri[0].userspace_addr != 0);
	CHECK_EQ(ovt_scan(mon, GFN, SIZE / OVT_PAGE, acc, NULL, 0, &na, NULL),
		 0);
	CHECK_EQ(na, 1);

	/* Warm the VM: prefault works from the monitor, in the owner's mm. */
	CHECK_EQ(ovt_prefault(mon, GFN, SIZE / OVT_PAGE, &mapped), 0);
	CHECK_EQ(mapped, SIZE / OVT_PAGE - 512);
	CHECK_EQ(ovt_stats_ok(mon, GFN).pages_prefaulted, mapped);

	/* Observe and warm, never change or run. */
	CHECK_ERRNO(ovt_map_region(mon, 0x100, NULL, OVT_PAGE,
				   OVCMEM_REGION_MMIO), EPERM);
	CHECK_ERRNO(ovt_unmap_region(mon, GFN, SIZE), EPERM);
	CHECK_ERRNO(ovt_vcpu_run(mon, &a, 1, NULL), EPERM);
	close(mon);
	close(dev);
}

static void unprivileged_monitor(__u64 id, pid_t owner)
{
	struct ovcmem_list_partitions lp = { 0 };
	struct ovcmem_open_partition op = { .id = id };
	int dev = ovt_open_dev();

	(void)owner;
	CHECK(dev >= 0);
	drop_caps();
	CHECK_ERRNO(ioctl(dev, OVCMEM_LIST_PARTITIONS, &lp), EPERM);
	CHECK_ERRNO(ioctl(dev, OVCMEM_OPEN_PARTITION, &op), EPERM);
	close(dev);
}

static void nobody(__u64 id, pid_t owner)
{
	(void)id;
	(void)owner;
	CHECK(setgid(65534) == 0);
	CHECK(setuid(65534) == 0);
	/* Mode 0600 root: the device itself is closed to others. */
	CHECK_ERRNO(ovt_open_dev(), EACCES);
}

TEST(privileged_process_monitors_and_prefaults)
{
	char *mem = ovt_mmap_anon(SIZE);
	__u64 id;
	int pfd = ovt_partition_ok(0, &id);

	/*
	 * Keep the guest memory out of the monitor child: a fork would
	 * write-protect it for copy-on-write, and that invalidates the SLAT.
	 */
	CHECK(madvise(mem, SIZE, MADV_DONTFORK) == 0);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_write64(pfd, GPA, 1), OVCMEM_EXIT_OK);
	CHECK(run_child(privileged_monitor, id));
	/* The prefaulted VM runs without intercepts. */
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 5), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).intercepts, 1);
	close(pfd);
}

TEST(unprivileged_process_gets_eperm)
{
	__u64 id;
	int pfd = ovt_partition_ok(0, &id);

	CHECK(run_child(unprivileged_monitor, id));
	CHECK(run_child(nobody, id));
	close(pfd);
}

TEST(monitor_fd_outlives_the_vm_without_its_memory)
{
	long parts = ovt_objects("partitions");
	long regions = ovt_objects("regions");
	char *mem = ovt_mmap_anon(SIZE);
	int dev = ovt_open_dev(), pfd, mon;
	struct ovcmem_partition_info info;
	struct ovcmem_stats s;
	__u64 id;

	CHECK(dev >= 0);
	pfd = ovt_partition_ok(0, &id);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 6), OVCMEM_EXIT_OK);
	mon = ovt_open_partition(dev, id);
	CHECK(mon >= 0);
	CHECK_EQ(ovt_objects("monitors"), 1);
	close(pfd);

	/* Gone from the list, but the monitor keeps the final counters. */
	CHECK(!find(dev, id, &info));
	CHECK_ERRNO(ovt_open_partition(dev, id), ENOENT);
	s = ovt_stats_ok(mon, OVCMEM_STATS_PARTITION);
	CHECK_EQ(s.pages_mapped, 0);
	CHECK_EQ(s.pages_faulted, SIZE / OVT_PAGE);
	CHECK_EQ(s.accesses, 1);
	CHECK_ERRNO(ovt_prefault(mon, GFN, 1, NULL), ESRCH);
	CHECK_EQ(ovt_objects("regions"), regions);
	CHECK_EQ(ovt_objects("partitions"), parts + 1);
	close(mon);
	CHECK_EQ(ovt_objects("partitions"), parts);
	CHECK_EQ(ovt_objects("monitors"), 0);
	close(dev);
}

int main(void)
{
	return run_tests();
}
