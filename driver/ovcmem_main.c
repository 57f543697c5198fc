// SPDX-License-Identifier: GPL-2.0
/*
 * ovcmem: unpinned guest memory for overcommitted virtualization hosts.
 *
 * The control device /dev/ovcmem and module init/exit. The model, the
 * mapping between HMM's terms and ours, and the lock rules are written once,
 * in ovcmem.h.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "ovcmem.h"

/* Protects ovcmem_partitions, the partitions whose owner fd is open. */
DEFINE_MUTEX(ovcmem_partitions_lock);
LIST_HEAD(ovcmem_partitions);

atomic_t ovcmem_nr_partitions = ATOMIC_INIT(0);
atomic_t ovcmem_nr_monitors = ATOMIC_INIT(0);
atomic_t ovcmem_nr_regions = ATOMIC_INIT(0);
atomic_t ovcmem_nr_slat_tables = ATOMIC_INIT(0);
atomic64_t ovcmem_nr_pinned_pages = ATOMIC64_INIT(0);

static long ovcmem_dev_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case OVCMEM_CREATE_PARTITION:
		return ovcmem_create_partition(uarg);
	case OVCMEM_LIST_PARTITIONS:
		return ovcmem_list_partitions(uarg);
	case OVCMEM_OPEN_PARTITION:
		return ovcmem_open_partition(uarg);
	}
	return -ENOTTY;
}

static const struct file_operations ovcmem_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ovcmem_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Mode 0600: a udev rule (etc/) may widen it to a group. */
static struct miscdevice ovcmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ovcmem",
	.fops = &ovcmem_dev_fops,
	.mode = 0600,
};

static int __init ovcmem_init(void)
{
	int ret;

	ret = misc_register(&ovcmem_misc);
	if (ret)
		return ret;
	ovcmem_debugfs_init();
	return 0;
}

/*
 * No partition can exist here: every partition and monitor fd holds a
 * reference on this module (fops->owner), so unloading waits for them.
 */
static void __exit ovcmem_exit(void)
{
	ovcmem_debugfs_exit();
	misc_deregister(&ovcmem_misc);
}

module_init(ovcmem_init);
module_exit(ovcmem_exit);

MODULE_DESCRIPTION("Unpinned guest memory with a software SLAT for overcommitted hosts");
MODULE_LICENSE("GPL");
