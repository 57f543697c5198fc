// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM backings (issue 17, item 0): MAP_REGION accepts anonymous
 * memory and shmem only, and refuses with -EOPNOTSUPP whatever the driver
 * may not touch or cannot keep dirty (docs/guest-ram-backings.md):
 * secretmem (not in the kernel's direct map: touching it oopsed the host),
 * hugetlb, special and PFNMAP mappings, MAP_DROPPABLE memory (6.12),
 * files of other filesystems. A
 * backing the VMM swaps in after MAP_REGION (munmap, then mmap at the same
 * address) is refused when the region faults, as a guest exit.
 *
 * The rig fails the run on any kernel report, so the secretmem tests also
 * prove that the old oops sequence now ends cleanly.
 */
#include <sys/mount.h>
#include <sys/syscall.h>

#include "ovcmem_test.h"

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif

#define GFN 0x100000ULL
#define GPA (GFN * OVT_PAGE)
#define SIZE OVT_2M

/* Print why a test could not run here; the test then passes vacuously. */
#define SKIP(fmt, ...)                                                  \
	do {                                                            \
		printf("# SKIP %s: " fmt "\n", harness_current,         \
		       ##__VA_ARGS__);                                  \
		return;                                                 \
	} while (0)

/*
 * A secretmem fd of @size bytes, or -1 with the reason in errno: ENOSYS
 * when the kernel has it off (6.1 needs secretmem.enable=1 on the command
 * line; 6.12 has it on by default).
 */
static int secretmem_fd(size_t size)
{
	int fd = syscall(SYS_memfd_secret, 0);

	if (fd < 0)
		return -1;
	CHECK(ftruncate(fd, size) == 0);
	return fd;
}

/* The exact sequence: written secret memory, MAP_REGION, a read. */
TEST(secretmem_is_refused_and_the_oops_sequence_fails_cleanly)
{
	int pfd = ovt_partition_ok(0, NULL), fd = secretmem_fd(SIZE);
	__u64 v;
	char *mem;

	if (fd < 0)
		SKIP("memfd_secret: %s (6.1 needs secretmem.enable=1)",
		     strerror(errno));
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(mem != MAP_FAILED);
	memset(mem, 0x5a, SIZE);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE), EOPNOTSUPP);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE, 0), EOPNOTSUPP);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		    EOPNOTSUPP);
	/* Nothing was mapped: the vCPU read is an exit, not a touch. */
	CHECK_EQ(ovt_read64(pfd, GPA, &v), OVCMEM_EXIT_UNMAPPED);
	CHECK_EQ(ovt_objects("regions"), 0);
	close(pfd);
}

/* Secret memory mmap()ed over a region's backing after MAP_REGION. */
TEST(secretmem_swapped_in_after_map_is_refused_at_fault)
{
	int pfd = ovt_partition_ok(0, NULL), fd;
	char *mem = ovt_mmap_aligned(SIZE, OVT_2M, 0), *sec;
	__u64 v, mapped;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 1), OVCMEM_EXIT_OK);
	fd = secretmem_fd(SIZE);
	if (fd < 0) {
		close(pfd);
		SKIP("memfd_secret: %s (6.1 needs secretmem.enable=1)",
		     strerror(errno));
	}
	sec = mmap(mem, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		   fd, 0);
	CHECK(sec == mem);
	memset(sec, 0x5a, SIZE);
	CHECK_EQ(ovt_read64(pfd, GPA, &v), OVCMEM_EXIT_FAULT_FAILED);
	CHECK_EQ(ovt_write64(pfd, GPA + 8, 1), OVCMEM_EXIT_FAULT_FAILED);
	CHECK_ERRNO(ovt_prefault(pfd, GFN, SIZE / OVT_PAGE, &mapped),
		    EOPNOTSUPP);
	CHECK_EQ(ovt_stats_ok(pfd, GFN).pages_mapped, 0);
	/* The VMM's secret stays as it wrote it. */
	CHECK_EQ(((unsigned char *)sec)[8], 0x5a);
	close(pfd);
}

/* A file on ramfs: a filesystem other than tmpfs. */
static char *ramfs_file_map(const char *dir, size_t size, int *fd)
{
	char path[256];
	char *mem;

	CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	CHECK(mount("ovt", dir, "ramfs", 0, NULL) == 0);
	snprintf(path, sizeof(path), "%s/ram", dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(*fd >= 0);
	CHECK(ftruncate(*fd, size) == 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	CHECK(mem != MAP_FAILED);
	return mem;
}

TEST(file_of_another_filesystem_is_refused)
{
	int pfd = ovt_partition_ok(0, NULL), fd;
	char *mem = ramfs_file_map("/tmp/ovt-ramfs", SIZE, &fd), *priv;

	memset(mem, 1, SIZE);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE), EOPNOTSUPP);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		    EOPNOTSUPP);
	priv = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(priv != MAP_FAILED);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, priv, SIZE, 0), EOPNOTSUPP);
	munmap(mem, SIZE);
	munmap(priv, SIZE);
	close(fd);
	close(pfd);
	umount("/tmp/ovt-ramfs");
}

/* A region's memory replaced by a ramfs file after MAP_REGION. */
TEST(file_swapped_in_after_map_is_refused_at_fault)
{
	int pfd = ovt_partition_ok(0, NULL), fd;
	char *mem = ovt_mmap_aligned(SIZE, OVT_2M, 0);
	char *file = ramfs_file_map("/tmp/ovt-ramfs2", SIZE, &fd), *m;
	__u64 v;

	CHECK_EQ(ovt_map_region(pfd, GFN, mem, SIZE, OVCMEM_REGION_WRITABLE),
		 0);
	CHECK_EQ(ovt_fill(pfd, GPA, SIZE, 1), OVCMEM_EXIT_OK);
	m = mmap(mem, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0);
	CHECK(m == mem);
	CHECK_EQ(ovt_read64(pfd, GPA, &v), OVCMEM_EXIT_FAULT_FAILED);
	CHECK_ERRNO(ovt_prefault(pfd, GFN, 1, NULL), EOPNOTSUPP);
	munmap(file, SIZE);
	munmap(mem, SIZE);
	close(fd);
	close(pfd);
	umount("/tmp/ovt-ramfs2");
}

/* Make @n 2 MiB hugetlb pages available; returns 0 or -1. */
static int hugetlb_reserve(int n)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", n);
	return ovt_write_file("/proc/sys/vm/nr_hugepages", v);
}

TEST(hugetlb_is_refused)
{
	int pfd = ovt_partition_ok(0, NULL), fd;
	char *mem;

	if (hugetlb_reserve(2))
		SKIP("cannot reserve hugetlb pages: %s", strerror(errno));
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (mem == MAP_FAILED)
		SKIP("MAP_HUGETLB: %s", strerror(errno));
	memset(mem, 1, SIZE);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE), EOPNOTSUPP);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE | OVCMEM_REGION_PINNED),
		    EOPNOTSUPP);
	munmap(mem, SIZE);

	fd = memfd_create("ovt-huge", MFD_HUGETLB | MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, SIZE) == 0);
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(mem != MAP_FAILED);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, mem, SIZE,
				   OVCMEM_REGION_WRITABLE), EOPNOTSUPP);
	munmap(mem, SIZE);
	close(fd);
	close(pfd);
	hugetlb_reserve(0);
}

/* Start of the line of /proc/self/maps that ends in @name, or NULL. */
static void *maps_find(const char *name, size_t *size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	void *ret = NULL;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, name) ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		ret = (void *)lo;
		*size = hi - lo;
		break;
	}
	fclose(f);
	return ret;
}

/* The vDSO: a special mapping (neither anonymous nor a file's). */
TEST(special_mapping_is_refused)
{
	int pfd = ovt_partition_ok(0, NULL);
	size_t size;
	void *vdso = maps_find("[vdso]", &size);

	if (!vdso)
		SKIP("no [vdso] in /proc/self/maps");
	CHECK_ERRNO(ovt_map_region(pfd, GFN, vdso, size, 0), EOPNOTSUPP);
	close(pfd);
}

/* [vvar]: VM_PFNMAP | VM_IO, pages the kernel maps by pfn. */
TEST(pfnmap_mapping_is_refused)
{
	int pfd = ovt_partition_ok(0, NULL);
	size_t size;
	void *vvar = maps_find("[vvar]", &size);

	if (!vvar)
		SKIP("no [vvar] in /proc/self/maps");
	CHECK_ERRNO(ovt_map_region(pfd, GFN, vvar, size, 0), EOPNOTSUPP);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, vvar, size,
				   OVCMEM_REGION_PINNED), EOPNOTSUPP);
	close(pfd);
}

/*
 * MAP_DROPPABLE (6.11+): private anonymous memory whose pages reclaim may
 * drop even when dirty (they read back as zeroes). Guest writes must never
 * be lost, so it is refused as guest RAM. 6.1 has no such mapping: mmap()
 * rejects the map type, and the test says so.
 */
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
TEST(droppable_anonymous_memory_is_refused)
{
	int pfd = ovt_partition_ok(0, NULL);
	void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		       MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED && errno == EINVAL)
		SKIP("this kernel has no MAP_DROPPABLE (6.11+)");
	CHECK(p != MAP_FAILED);
	memset(p, 1, SIZE);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, p, SIZE, OVCMEM_REGION_WRITABLE),
		    EOPNOTSUPP);
	CHECK_ERRNO(ovt_map_region(pfd, GFN, p, SIZE, OVCMEM_REGION_PINNED),
		    EOPNOTSUPP);
	close(pfd);
}

/* The supported kinds: private anon, shared anon, memfd, a tmpfs file. */
TEST(anon_and_shmem_backings_are_accepted)
{
	int pfd = ovt_partition_ok(0, NULL), mfd, tfd;
	char *anon = ovt_mmap_anon(SIZE), *shanon, *memfd, *tmpf;
	__u64 gfn = GFN, step = SIZE / OVT_PAGE;
	char *all[4];
	int i;

	shanon = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shanon != MAP_FAILED);
	mfd = memfd_create("ovt-ram", MFD_CLOEXEC);
	CHECK(mfd >= 0 && ftruncate(mfd, SIZE) == 0);
	memfd = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(memfd != MAP_FAILED);
	tfd = open("/tmp/ovt-tmpfs-ram", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(tfd >= 0 && ftruncate(tfd, SIZE) == 0);
	tmpf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	CHECK(tmpf != MAP_FAILED);
	all[0] = anon;
	all[1] = shanon;
	all[2] = memfd;
	all[3] = tmpf;
	for (i = 0; i < 4; i++, gfn += step) {
		CHECK_EQ(ovt_map_region(pfd, gfn, all[i], SIZE,
					OVCMEM_REGION_WRITABLE), 0);
		CHECK_EQ(ovt_fill(pfd, gfn * OVT_PAGE, SIZE, i),
			 OVCMEM_EXIT_OK);
		CHECK_EQ(ovt_cpu_mismatches(all[i], gfn * OVT_PAGE, SIZE, i),
			 0);
	}
	close(pfd);
	unlink("/tmp/ovt-tmpfs-ram");
}

int main(void)
{
	return run_tests();
}
