// SPDX-License-Identifier: GPL-2.0
/*
 * The monitor interface on /dev/ovcmem: list partitions and open one for
 * GET_STATS, SCAN, PREFAULT and LIST_REGIONS (which the owner fd offers
 * too) and SET_MERGEABLE (monitor fd only). A monitor sees every VM on
 * the host, so both need CAP_SYS_ADMIN on top of access to the device.
 */
#include <linux/capability.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ovcmem.h"

static void ovcmem_partition_info(struct ovcmem_partition *p,
				  struct ovcmem_partition_info *info)
{
	struct ovcmem_stats st;

	down_read(&p->layout);
	ovcmem_partition_stats(p, &st);
	info->nr_regions = p->nr_regions;
	up_read(&p->layout);

	info->id = p->id;
	info->flags = p->flags;
	info->owner_pid = ovcmem_partition_owner_gone(p) ? 0 :
			  pid_vnr(p->owner);
	info->pages = st.pages;
	info->pages_mapped = st.pages_mapped;
}

/**
 * ovcmem_list_partitions - OVCMEM_LIST_PARTITIONS
 * @uarg: struct ovcmem_list_partitions
 *
 * Return: 0, -EPERM, -EFAULT or -ENOMEM.
 */
long ovcmem_list_partitions(void __user *uarg)
{
	struct ovcmem_partition_info __user *uinfo;
	struct ovcmem_partition_info info;
	struct ovcmem_list_partitions lp;
	struct ovcmem_partition *p;
	long ret = 0;
	u32 n = 0;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&lp, uarg, sizeof(lp)))
		return -EFAULT;
	uinfo = u64_to_user_ptr(lp.partitions);

	/*
	 * copy_to_user() under the global mutex is fine: faulting on the
	 * monitor's own buffer never needs this mutex.
	 */
	mutex_lock(&ovcmem_partitions_lock);
	list_for_each_entry(p, &ovcmem_partitions, node) {
		if (n < lp.capacity) {
			memset(&info, 0, sizeof(info));
			ovcmem_partition_info(p, &info);
			if (copy_to_user(&uinfo[n], &info, sizeof(info))) {
				ret = -EFAULT;
				break;
			}
		}
		n++;
	}
	mutex_unlock(&ovcmem_partitions_lock);
	if (ret)
		return ret;
	lp.count = n;
	return copy_to_user(uarg, &lp, sizeof(lp)) ? -EFAULT : 0;
}

/**
 * ovcmem_open_partition - OVCMEM_OPEN_PARTITION
 * @uarg: struct ovcmem_open_partition
 *
 * Return: a monitor fd, or -EPERM, -EFAULT, -EINVAL, -ENOENT.
 */
long ovcmem_open_partition(void __user *uarg)
{
	struct ovcmem_open_partition op;
	struct ovcmem_partition *p, *found = NULL;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&op, uarg, sizeof(op)))
		return -EFAULT;
	if (op.reserved)
		return -EINVAL;

	mutex_lock(&ovcmem_partitions_lock);
	list_for_each_entry(p, &ovcmem_partitions, node) {
		if (p->id == op.id) {
			kref_get(&p->ref);
			found = p;
			break;
		}
	}
	mutex_unlock(&ovcmem_partitions_lock);
	if (!found)
		return -ENOENT;
	return ovcmem_monitor_fd(found);
}

/**
 * ovcmem_monitor_ioctl - the ioctls only a monitor fd offers
 * @p: the partition
 * @cmd: the ioctl
 * @uarg: its argument
 *
 * They act on the VM from outside, as the balancer does; the VMM has its
 * own means (SET_MERGEABLE: its madvise()), so the owner fd gets -EPERM,
 * as a monitor fd does for the owner's ioctls.
 *
 * Return: the command's result, or -ENOTTY.
 */
long ovcmem_monitor_ioctl(struct ovcmem_partition *p, unsigned int cmd,
			  void __user *uarg)
{
	switch (cmd) {
	case OVCMEM_SET_MERGEABLE:
		return ovcmem_set_mergeable(p, uarg);
	}
	return -ENOTTY;
}
