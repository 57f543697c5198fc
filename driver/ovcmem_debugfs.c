// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only text views for admins and tests, under /sys/kernel/debug/ovcmem:
 *   objects     live objects of the module ("key value" lines), so that a
 *               test can prove that teardown leaks nothing
 *   partitions  the GET_STATS counters of every partition
 */
#include <linux/debugfs.h>
#include <linux/pid.h>
#include <linux/seq_file.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

static struct dentry *ovcmem_debugfs_dir;

static int ovcmem_objects_show(struct seq_file *m, void *unused)
{
	long parts = atomic_read(&ovcmem_nr_partitions);
	long mons = atomic_read(&ovcmem_nr_monitors);
	long regions = atomic_read(&ovcmem_nr_regions);
	long tables = atomic_read(&ovcmem_nr_slat_tables);
	s64 pinned = atomic64_read(&ovcmem_nr_pinned_pages);

	seq_printf(m, "partitions %ld\n", parts);
	seq_printf(m, "monitors %ld\n", mons);
	seq_printf(m, "regions %ld\n", regions);
	seq_printf(m, "slat_tables %ld\n", tables);
	seq_printf(m, "pinned_pages %lld\n", pinned);
	seq_printf(m, "total %lld\n", parts + mons + regions + tables + pinned);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ovcmem_objects);

static const char *ovcmem_region_type_name(enum ovcmem_region_type type)
{
	switch (type) {
	case OVCMEM_REGION_TYPE_MMIO:
		return "mmio";
	case OVCMEM_REGION_TYPE_PINNED_RAM:
		return "pinned";
	case OVCMEM_REGION_TYPE_MOVABLE_RAM:
		return "movable";
	}
	return "?";
}

#define SHOW(f) seq_printf(m, "  " #f " %llu\n", (unsigned long long)st.f)

static int ovcmem_partitions_show(struct seq_file *m, void *unused)
{
	struct ovcmem_mem_region *r;
	struct ovcmem_partition *p;
	struct ovcmem_stats st;

	mutex_lock(&ovcmem_partitions_lock);
	list_for_each_entry(p, &ovcmem_partitions, node) {
		down_read(&p->layout);
		ovcmem_partition_stats(p, &st);
		seq_printf(m, "partition %llu flags %#llx owner %d regions %u slat %s\n",
			   p->id, p->flags,
			   ovcmem_partition_owner_gone(p) ? 0 :
			   pid_nr(p->owner), p->nr_regions,
			   p->slat->ops->name);
		list_for_each_entry(r, &p->regions, node)
			seq_printf(m, "  region gfn %#llx pages %llu uaddr %#lx type %s flags %#x\n",
				   r->gfn, r->npages, r->uaddr,
				   ovcmem_region_type_name(r->type), r->flags);
		up_read(&p->layout);
		SHOW(pages);
		SHOW(pages_mapped);
		SHOW(large_entries);
		SHOW(intercepts);
		SHOW(fault_batches);
		SHOW(fault_retries);
		SHOW(pages_faulted);
		SHOW(refaults);
		SHOW(invalidations);
		SHOW(pages_invalidated);
		SHOW(invalidations_nonblock_failed);
		SHOW(pages_prefaulted);
		SHOW(young_cleared);
		SHOW(accesses);
	}
	mutex_unlock(&ovcmem_partitions_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ovcmem_partitions);

void ovcmem_debugfs_init(void)
{
	/* debugfs is optional: errors are ignored by design. */
	ovcmem_debugfs_dir = debugfs_create_dir("ovcmem", NULL);
	debugfs_create_file("objects", 0400, ovcmem_debugfs_dir, NULL,
			    &ovcmem_objects_fops);
	debugfs_create_file("partitions", 0400, ovcmem_debugfs_dir, NULL,
			    &ovcmem_partitions_fops);
}

void ovcmem_debugfs_exit(void)
{
	debugfs_remove_recursive(ovcmem_debugfs_dir);
}
