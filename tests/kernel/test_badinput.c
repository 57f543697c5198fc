// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input (issue 3, test 2): every malformed request is rejected with its
 * own errno and changes nothing (the region list and the object count stay
 * as they were).
 */
#include "ovcmem_test.h"

#define GFN 0x1000ULL
#define SIZE (2 * OVT_2M)
/* An address no one maps (mmap_min_addr keeps page 0 free). */
#define BAD_PTR ((void *)0x10ULL)

static __u32 nr_regions(int pfd)
{
	struct ovcmem_list_regions lr = { 0 };

	CHECK(ioctl(pfd, OVCMEM_LIST_REGIONS, &lr) == 0);
	return lr.count;
}

/* A partition with one valid region at GFN over fresh memory. */
static int partition_with_region(char **mem)
{
	int pfd = ovt_partition_ok(0, NULL);

	*mem = ovt_mmap_anon(SIZE);
	CHECK_EQ(ovt_map_region(pfd, GFN, *mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	return pfd;
}

TEST(map_rejects_malformed_arguments)
{
	char *mem, *other = ovt_mmap_anon(SIZE);
	int pfd = partition_with_region(&mem);
	long objs = ovt_objects("total");
	struct ovcmem_region r = {
		.guest_pfn = 0x9000,
		.userspace_addr = (__u64)(uintptr_t)other,
		.size = OVT_PAGE,
		.reserved = 1,
	};

	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, other, 0, 0), EINVAL);
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, other, 100, 0), EINVAL);
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, other + 8, OVT_PAGE, 0),
		    EINVAL);
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, other, OVT_PAGE, 1U << 9),
		    EINVAL);
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, other, OVT_PAGE,
				   OVCMEM_REGION_MMIO | OVCMEM_REGION_PINNED),
		    EINVAL);
	/* gfn + pages beyond the 64-bit gpa space. */
	CHECK_ERRNO(ovt_map_region(pfd, ~0ULL - 1, other, 4 * OVT_PAGE, 0),
		    EINVAL);
	CHECK_ERRNO(ovt_map_region(pfd, 1ULL << 52, other, OVT_PAGE, 0),
		    EINVAL);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_MAP_REGION, &r), EINVAL);
	/* Huge counts. */
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, other,
				   (OVCMEM_MAX_REGION_PAGES + 1) * OVT_PAGE, 0),
		    E2BIG);
	CHECK_EQ(nr_regions(pfd), 1);
	CHECK_EQ(ovt_objects("total"), objs);
	close(pfd);
}

TEST(map_rejects_overlaps)
{
	char *mem, *other = ovt_mmap_anon(SIZE);
	int pfd = partition_with_region(&mem);

	/* GFN space: inside, straddling either end, covering. */
	CHECK_ERRNO(ovt_map_region(pfd, GFN + 1, other, OVT_PAGE, 0), EEXIST);
	CHECK_ERRNO(ovt_map_region(pfd, GFN - 1, other, 2 * OVT_PAGE, 0),
		    EEXIST);
	CHECK_ERRNO(ovt_map_region(pfd, GFN + SIZE / OVT_PAGE - 1, other,
				   2 * OVT_PAGE, 0), EEXIST);
	CHECK_ERRNO(ovt_map_region(pfd, 0, other, SIZE * 8, 0), EEXIST);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, NULL, OVT_PAGE,
				   OVCMEM_REGION_MMIO), EEXIST);
	/* User space: same memory under another gfn. */
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, mem + OVT_PAGE, OVT_PAGE, 0),
		    EEXIST);
	CHECK_ERRNO(ovt_map_region(pfd, 0x9000, mem - OVT_PAGE, 2 * OVT_PAGE,
				   0), EEXIST);
	CHECK_EQ(nr_regions(pfd), 1);
	/* Adjacent is fine. */
	CHECK_EQ(ovt_map_region(pfd, GFN + SIZE / OVT_PAGE, other, OVT_PAGE,
				0), 0);
	CHECK_EQ(nr_regions(pfd), 2);
	close(pfd);
}

TEST(map_rejects_unmapped_and_readonly_memory)
{
	char *mem = ovt_mmap_anon(SIZE), *ro;
	int pfd = ovt_partition_ok(0, NULL);

	CHECK(munmap(mem + OVT_PAGE, OVT_PAGE) == 0);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE, 0), EFAULT);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, (void *)0x100000, OVT_PAGE, 0),
		    EFAULT);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem + OVT_PAGE, OVT_PAGE,
				   OVCMEM_REGION_PINNED), EFAULT);

	ro = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, ro, SIZE,
				   OVCMEM_REGION_WRITABLE), EACCES);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, ro, SIZE,
				   OVCMEM_REGION_WRITABLE |
				   OVCMEM_REGION_PINNED), EACCES);
	CHECK_EQ(nr_regions(pfd), 0);
	/* Read-only over read-only is fine. */
	CHECK_EQ(ovt_map_region(pfd, GFN, ro, SIZE, 0), 0);
	close(pfd);
}

TEST(too_many_regions)
{
	int pfd = ovt_partition_ok(0, NULL);
	int i;

	for (i = 0; i < OVCMEM_MAX_REGIONS; i++)
		CHECK_EQ(ovt_map_region(pfd, 2 * i, NULL, OVT_PAGE,
					OVCMEM_REGION_MMIO), 0);
	CHECK_ERRNO(ovt_map_region(pfd, 100000, NULL, OVT_PAGE,
				   OVCMEM_REGION_MMIO), ENOSPC);
	CHECK_EQ(nr_regions(pfd), OVCMEM_MAX_REGIONS);
	close(pfd);
}

TEST(bad_user_pointers)
{
	char *mem;
	int pfd = partition_with_region(&mem), dev = ovt_open_dev();
	struct ovcmem_vcpu_run run = { .accesses = 0x10, .count = 1 };
	struct ovcmem_list_regions lr = { .regions = 0x10, .capacity = 4 };
	struct ovcmem_list_partitions lp = { .partitions = 0x10,
					     .capacity = 4 };
	struct ovcmem_scan s = { .guest_pfn = GFN, .npages = 64,
				 .accessed_bitmap = 0x10 };

	CHECK(dev >= 0);
	CHECK_ERRNO(ioctl(dev, OVCMEM_CREATE_PARTITION, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(dev, OVCMEM_LIST_PARTITIONS, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(dev, OVCMEM_LIST_PARTITIONS, &lp), EFAULT);
	CHECK_ERRNO(ioctl(dev, OVCMEM_OPEN_PARTITION, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_MAP_REGION, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_UNMAP_REGION, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_LIST_REGIONS, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_LIST_REGIONS, &lr), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_VCPU_RUN, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_VCPU_RUN, &run), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_GET_STATS, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_SCAN, BAD_PTR), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_SCAN, &s), EFAULT);
	s.accessed_bitmap = (__u64)(uintptr_t)mem;
	s.dirty_bitmap = 0x10;
	CHECK_ERRNO(ioctl(pfd, OVCMEM_SCAN, &s), EFAULT);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_PREFAULT, BAD_PTR), EFAULT);
	CHECK_EQ(nr_regions(pfd), 1);
	close(pfd);
	close(dev);
}

TEST(wrong_fd_type)
{
	int pfd = ovt_partition_ok(0, NULL), dev = ovt_open_dev();
	struct ovcmem_create_partition cp = { 0 };
	struct ovcmem_region r = { 0 };
	int fd = open("/dev/null", O_RDWR);

	CHECK(dev >= 0 && fd >= 0);
	/* Partition ioctls on the device, device ioctls on a partition. */
	CHECK_ERRNO(ioctl(dev, OVCMEM_MAP_REGION, &r), ENOTTY);
	CHECK_ERRNO(ioctl(dev, OVCMEM_VCPU_RUN, &r), ENOTTY);
	CHECK_ERRNO(ioctl(pfd, OVCMEM_CREATE_PARTITION, &cp), ENOTTY);
	CHECK_ERRNO(ioctl(pfd, _IO(OVCMEM_IOCTL_MAGIC, 0x7f)), ENOTTY);
	/* Our ioctls on someone else's fd. */
	CHECK_ERRNO(ioctl(fd, OVCMEM_MAP_REGION, &r), ENOTTY);
	close(fd);
	close(pfd);
	close(dev);
}

TEST(bad_accesses)
{
	char *mem;
	int pfd = partition_with_region(&mem);
	struct ovcmem_access a = { .gpa = GFN * OVT_PAGE + 4,
				   .op = OVCMEM_ACCESS_READ64 };
	struct ovcmem_vcpu_run run = { .accesses = (__u64)(uintptr_t)&a };

	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EINVAL);
	a.gpa = GFN * OVT_PAGE;
	a.op = 99;
	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EINVAL);
	a.op = OVCMEM_ACCESS_FILL;
	a.len = 12;
	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EINVAL);
	a.len = 0;
	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EINVAL);
	/* Bulk accesses stay inside one region. */
	a.len = SIZE + 8;
	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EINVAL);
	a.len = 8;
	a.reserved = 1;
	CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EINVAL);
	run.count = OVCMEM_VCPU_MAX_BATCH + 1;
	CHECK_ERRNO(ioctl(pfd, OVCMEM_VCPU_RUN, &run), EINVAL);
	close(pfd);
}

TEST(bad_scan_stats_prefault)
{
	char *mem;
	int pfd = partition_with_region(&mem);
	__u64 bm[8];
	struct ovcmem_get_stats gs = { .guest_pfn = GFN + 1 };

	CHECK_ERRNO(ioctl(pfd, OVCMEM_GET_STATS, &gs), ENOENT);
	CHECK_ERRNO(ovt_scan(pfd, GFN, 0, bm, NULL, 0, NULL, NULL), EINVAL);
	CHECK_ERRNO(ovt_scan(pfd, GFN, OVCMEM_SCAN_MAX_PAGES + 1, bm, NULL, 0,
			     NULL, NULL), EINVAL);
	CHECK_ERRNO(ovt_scan(pfd, GFN, 64, bm, NULL, 1U << 5, NULL, NULL),
		    EINVAL);
	CHECK_ERRNO(ovt_prefault(pfd, GFN, 0, NULL), EINVAL);
	CHECK_ERRNO(ovt_prefault(pfd, GFN - 1, 2, NULL), EINVAL);
	CHECK_ERRNO(ovt_prefault(pfd, GFN, SIZE / OVT_PAGE + 1, NULL), EINVAL);
	CHECK_ERRNO(ovt_prefault(pfd, GFN, OVCMEM_SCAN_MAX_PAGES + 1, NULL),
		    EINVAL);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped, 0);
	close(pfd);
}

TEST(open_partition_errors)
{
	int dev = ovt_open_dev();
	struct ovcmem_open_partition op = { .id = ~0ULL };

	CHECK(dev >= 0);
	CHECK_ERRNO(ioctl(dev, OVCMEM_OPEN_PARTITION, &op), ENOENT);
	op.reserved = 1;
	CHECK_ERRNO(ioctl(dev, OVCMEM_OPEN_PARTITION, &op), EINVAL);
	close(dev);
}

/*
 * A process that holds the owner fd (passed over a socket) is not the
 * owner: every partition ioctl fails with -EPERM, before and after the
 * owner exits; it can only close the fd, and that last close frees all.
 */
TEST(owner_fd_elsewhere_can_only_be_closed)
{
	struct ovcmem_access a = { .gpa = GFN * OVT_PAGE,
				   .op = OVCMEM_ACCESS_READ64 };
	__u64 acc[1], dirty[1];
	struct ovcmem_get_stats gs = { .guest_pfn = OVCMEM_STATS_PARTITION };
	struct ovcmem_region_info info[1];
	struct ovcmem_list_regions lr = {
		.regions = (__u64)(uintptr_t)info, .capacity = 1,
	};
	long base = ovt_objects_total();
	int sv[2], pfd, status, round;
	char *mem = ovt_mmap_anon(SIZE), c = 0;
	pid_t owner;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	owner = fork();
	CHECK(owner >= 0);
	if (owner == 0) {
		char *m = ovt_mmap_anon(SIZE);

		pfd = ovt_partition_ok(0, NULL);
		CHECK_EQ(ovt_map_region(pfd, GFN, m, SIZE,
					OVCMEM_REGION_WRITABLE), 0);
		CHECK_EQ(ovt_fill(pfd, GFN * OVT_PAGE, SIZE, 3), 0);
		CHECK(ovt_send_fd(sv[1], pfd) == 0);
		/* Live until told to exit. */
		CHECK(read(sv[1], &c, 1) == 1);
		_exit(0);
	}
	pfd = ovt_recv_fd(sv[0]);
	CHECK(pfd >= 0);
	for (round = 0; round < 2; round++) {
		CHECK_ERRNO(ovt_vcpu_run(pfd, &a, 1, NULL), EPERM);
		CHECK_ERRNO(ovt_map_region(pfd, 0x9000, mem, SIZE, 0), EPERM);
		CHECK_ERRNO(ovt_unmap_region(pfd, GFN, SIZE), EPERM);
		CHECK_ERRNO(ovt_prefault(pfd, GFN, 1, NULL), EPERM);
		CHECK_ERRNO(ovt_scan(pfd, GFN, 1, acc, dirty,
				     OVCMEM_SCAN_FLAGS_ALL, NULL, NULL),
			    EPERM);
		CHECK_ERRNO(ioctl(pfd, OVCMEM_GET_STATS, &gs), EPERM);
		CHECK_ERRNO(ioctl(pfd, OVCMEM_LIST_REGIONS, &lr), EPERM);
		if (round)
			break;
		/* Now let the owner exit: still nothing but close. */
		CHECK(write(sv[0], &c, 1) == 1);
		CHECK(waitpid(owner, &status, 0) == owner);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(close(pfd) == 0);
	CHECK_EQ(ovt_objects_settle(base, 2000), base);
}

int main(void)
{
	return run_tests();
}
