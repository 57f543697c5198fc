// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle (issue 3, test 1): partitions come and go; regions of each type
 * map, list, work and unmap; the monitor lists what exists; and closing
 * everything brings the driver's object count back where it was.
 */
#include "ovcmem_test.h"

#define GFN 0x100ULL
#define SIZE (4 * OVT_2M)

static struct ovcmem_region_info *list_regions(int pfd, __u32 *count)
{
	static struct ovcmem_region_info info[OVCMEM_MAX_REGIONS];
	struct ovcmem_list_regions lr = {
		.regions = (__u64)(uintptr_t)info,
		.capacity = OVCMEM_MAX_REGIONS,
	};

	CHECK(ioctl(pfd, OVCMEM_LIST_REGIONS, &lr) == 0);
	*count = lr.count;
	return info;
}

TEST(partition_create_and_close)
{
	long before = ovt_objects("partitions");
	__u64 id1, id2;
	int a, b;

	CHECK(before >= 0);
	a = ovt_partition_ok(0, &id1);
	b = ovt_partition_ok(0, &id2);
	CHECK(id1 != id2);
	CHECK(id1 != 0 && id2 != 0);
	CHECK_EQ(ovt_objects("partitions"), before + 2);
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	close(a);
	close(b);
	CHECK_EQ(ovt_objects("partitions"), before);
}

TEST(partition_rejects_unknown_flags)
{
	int dev = ovt_open_dev();

	CHECK(dev >= 0);
	CHECK_ERRNO(ovt_create_partition(dev, 1ULL << 7, NULL), EINVAL);
	close(dev);
}

TEST(map_unmap_each_type)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mov = ovt_mmap_anon(SIZE), *pin = ovt_mmap_anon(SIZE);
	struct ovcmem_region_info *info;
	__u32 n;

	CHECK_EQ(ovt_map_region(pfd, GFN, mov, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_map_region(pfd, 0x10000, pin, SIZE,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(ovt_map_region(pfd, 0x20000, NULL, OVT_PAGE * 16,
				OVCMEM_REGION_MMIO), 0);

	info = list_regions(pfd, &n);
	CHECK_EQ(n, 3);
	CHECK_EQ(info[0].guest_pfn, GFN);
	CHECK_EQ(info[0].type, OVCMEM_REGION_TYPE_MOVABLE_RAM);
	CHECK_EQ(info[0].userspace_addr, (uintptr_t)mov);
	CHECK_EQ(info[0].size, SIZE);
	CHECK_EQ(info[1].type, OVCMEM_REGION_TYPE_PINNED_RAM);
	CHECK_EQ(info[2].type, OVCMEM_REGION_TYPE_MMIO);
	CHECK_EQ(info[2].size, OVT_PAGE * 16);

	/* Pinned RAM is mapped whole at creation, movable RAM not at all. */
	CHECK_EQ(ovt_stats_ok(pfd, 0x10000).pages_mapped, SIZE / OVT_PAGE);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped, 0);
	CHECK_EQ(ovt_stats_ok(pfd, OVCMEM_STATS_PARTITION).pages,
		 2 * SIZE / OVT_PAGE);

	CHECK_EQ(ovt_unmap_region(pfd, 0x20000, OVT_PAGE * 16), 0);
	CHECK_EQ(ovt_unmap_region(pfd, 0x10000, SIZE), 0);
	CHECK_ERRNO(ovt_unmap_region(pfd, 0x10000, SIZE), ENOENT);
	/* UNMAP needs the exact guest_pfn and size. */
	CHECK_ERRNO(ovt_unmap_region(pfd, GFN, SIZE / 2), ENOENT);
	CHECK_ERRNO(ovt_unmap_region(pfd, GFN + 1, SIZE), ENOENT);
	list_regions(pfd, &n);
	CHECK_EQ(n, 1);
	CHECK_EQ(ovt_unmap_region(pfd, GFN, SIZE), 0);
	list_regions(pfd, &n);
	CHECK_EQ(n, 0);
	close(pfd);
}

TEST(encrypted_partition_pins_ram)
{
	int pfd = ovt_partition_ok(OVCMEM_PARTITION_ENCRYPTED, NULL);
	char *mem = ovt_mmap_anon(SIZE);
	struct ovcmem_region_info *info;
	__u32 n;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	info = list_regions(pfd, &n);
	CHECK_EQ(n, 1);
	CHECK_EQ(info[0].type, OVCMEM_REGION_TYPE_PINNED_RAM);
	CHECK_EQ(info[0].flags, OVCMEM_REGION_WRITABLE);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped, SIZE / OVT_PAGE);
	close(pfd);
}

TEST(data_moves_both_ways)
{
	int pfd = ovt_partition_ok(0, NULL);
	__u64 *mem = ovt_mmap_anon(SIZE);
	__u64 v, gpa = GFN * OVT_PAGE;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	/* Guest writes, host sees it. */
	CHECK_EQ(ovt_write64(pfd, gpa + 8, 0x1122334455667788ULL),
		 OVCMEM_EXIT_OK);
	CHECK_EQ(mem[1], 0x1122334455667788ULL);
	/* Host writes, guest sees it. */
	mem[1000] = 0xdeadbeefULL;
	CHECK_EQ(ovt_read64(pfd, gpa + 8000, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 0xdeadbeefULL);
	/* Bulk, and the checksum agrees with the host's view. */
	CHECK_EQ(ovt_fill(pfd, gpa, SIZE, 42), OVCMEM_EXIT_OK);
	CHECK_EQ(ovt_verify(pfd, gpa, SIZE, 42, NULL), 0);
	CHECK_EQ(mem[7], ovcmem_pattern(42, gpa + 56));
	CHECK(ovt_checksum(pfd, gpa, 1 << 20, &v) == OVCMEM_EXIT_OK);
	CHECK_EQ(v, ovt_user_checksum(mem, 1 << 20));
	close(pfd);
}

TEST(pinned_and_mmio_accesses)
{
	int pfd = ovt_partition_ok(0, NULL);
	__u64 *mem = ovt_mmap_anon(SIZE);
	__u64 v;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(ovt_map_region(pfd, 0x9000, NULL, OVT_PAGE,
				OVCMEM_REGION_MMIO), 0);
	CHECK_EQ(ovt_write64(pfd, GFN * OVT_PAGE, 77), OVCMEM_EXIT_OK);
	CHECK_EQ(mem[0], 77);
	CHECK_EQ(ovt_read64(pfd, 0x9000 * OVT_PAGE, &v), OVCMEM_EXIT_MMIO);
	CHECK_EQ(ovt_write64(pfd, 0x9000 * OVT_PAGE, 1), OVCMEM_EXIT_MMIO);
	CHECK_EQ(ovt_read64(pfd, 0x8000 * OVT_PAGE, &v), OVCMEM_EXIT_UNMAPPED);
	/* No intercepts on pinned RAM: everything was mapped up front. */
	CHECK_EQ(ovt_stats_ok(pfd, GFN).intercepts, 0);
	close(pfd);
}

TEST(batch_stops_at_first_exit)
{
	int pfd = ovt_partition_ok(0, NULL);
	char *mem = ovt_mmap_anon(SIZE);
	struct ovcmem_access acc[4] = {
		{ .gpa = GFN * OVT_PAGE, .value = 5,
		  .op = OVCMEM_ACCESS_WRITE64 },
		{ .gpa = GFN * OVT_PAGE, .op = OVCMEM_ACCESS_READ64 },
		{ .gpa = 0, .op = OVCMEM_ACCESS_READ64 },
		{ .gpa = GFN * OVT_PAGE, .op = OVCMEM_ACCESS_READ64 },
	};
	__u32 done = 99;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_vcpu_run(pfd, acc, 4, &done), 0);
	CHECK_EQ(done, 2);
	CHECK_EQ(acc[1].value, 5);
	CHECK_EQ(acc[2].exit, OVCMEM_EXIT_UNMAPPED);
	CHECK_EQ(acc[3].exit, 0);
	CHECK_EQ(ovt_vcpu_run(pfd, acc, 0, &done), 0);
	CHECK_EQ(done, 0);
	close(pfd);
}

TEST(read_only_region)
{
	int pfd = ovt_partition_ok(0, NULL);
	__u64 *mem = ovt_mmap_anon(SIZE);
	__u64 v;

	mem[0] = 9;
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, 0), 0);
	CHECK_EQ(ovt_read64(pfd, GFN * OVT_PAGE, &v), OVCMEM_EXIT_OK);
	CHECK_EQ(v, 9);
	CHECK_EQ(ovt_write64(pfd, GFN * OVT_PAGE, 1), OVCMEM_EXIT_PERMISSION);
	CHECK_EQ(mem[0], 9);
	close(pfd);
}

TEST(monitor_lists_partitions)
{
	struct ovcmem_partition_info info[64];
	struct ovcmem_list_partitions lp = {
		.partitions = (__u64)(uintptr_t)info, .capacity = 64,
	};
	int pfd, dev = ovt_open_dev(), i, found = 0;
	char *mem = ovt_mmap_anon(SIZE);
	__u64 id;

	pfd = ovt_partition_ok(0, &id);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_write64(pfd, GFN * OVT_PAGE, 1), OVCMEM_EXIT_OK);
	CHECK_EQ(ioctl(dev, OVCMEM_LIST_PARTITIONS, &lp), 0);
	CHECK(lp.count >= 1);
	for (i = 0; i < (int)lp.count && i < 64; i++) {
		if (info[i].id != id)
			continue;
		found = 1;
		CHECK_EQ(info[i].owner_pid, getpid());
		CHECK_EQ(info[i].nr_regions, 1);
		CHECK_EQ(info[i].pages, SIZE / OVT_PAGE);
		CHECK_EQ(info[i].pages_mapped, 256);
	}
	CHECK(found);
	/* Capacity 0 only counts. */
	lp.capacity = 0;
	lp.count = 0;
	CHECK_EQ(ioctl(dev, OVCMEM_LIST_PARTITIONS, &lp), 0);
	CHECK(lp.count >= 1);
	close(pfd);
	close(dev);
}

TEST(closing_releases_everything)
{
	long before = ovt_objects("total");
	char *mem = ovt_mmap_thp(SIZE), *pin = ovt_mmap_anon(SIZE);
	int pfd, mon, dev = ovt_open_dev();
	__u64 id;

	CHECK(before >= 0);
	pfd = ovt_partition_ok(0, &id);
	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_map_region(pfd, 0x10000, pin, SIZE,
				OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		 0);
	CHECK_EQ(ovt_fill(pfd, GFN * OVT_PAGE, SIZE, 1), OVCMEM_EXIT_OK);
	mon = ovt_open_partition(dev, id);
	CHECK(mon >= 0);
	CHECK(ovt_objects("total") > before);
	close(pfd);
	/* The monitor keeps the counters, not the memory. */
	CHECK_EQ(ovt_stats_ok(mon, OVCMEM_STATS_PARTITION).pages_mapped, 0);
	CHECK_EQ(ovt_objects("pinned_pages"), 0);
	CHECK_EQ(ovt_objects("regions"), 0);
	close(mon);
	close(dev);
	CHECK_EQ(ovt_objects("total"), before);
}

int main(void)
{
	return run_tests();
}
