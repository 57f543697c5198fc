// SPDX-License-Identifier: GPL-2.0
/*
 * Partition fds: creation, lifetime, and the partition ioctl dispatch.
 *
 * A partition has two kinds of fd. The owner fd (CREATE_PARTITION) is the
 * VM itself: closing it tears the partition down (regions, notifiers,
 * pins, SLAT entries) and removes it from the monitor's list. Monitor fds
 * (OPEN_PARTITION) only hold a reference on the structure, so that a
 * monitor's GET_STATS keeps working and returns the final counters after
 * the VM is gone; they never keep the owner's mm alive.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ovcmem.h"
#include "ovcmem_slat.h"

static atomic64_t ovcmem_next_id = ATOMIC64_INIT(0);

static void ovcmem_partition_free(struct kref *ref)
{
	struct ovcmem_partition *p = container_of(ref, struct ovcmem_partition,
						  ref);

	/* The owner fd's release destroyed every region already. */
	p->slat->ops->destroy(p->slat);
	put_pid(p->owner);
	free_uid(p->user);
	mmdrop(p->mm);
	kfree(p);
	atomic_dec(&ovcmem_nr_partitions);
}

void ovcmem_partition_put(struct ovcmem_partition *p)
{
	kref_put(&p->ref, ovcmem_partition_free);
}

/**
 * ovcmem_partition_owner_gone - has the owner's address space gone away?
 * @p: the partition
 *
 * Every ioctl that needs the owner's memory fails with -ESRCH then.
 *
 * Return: true once the owner process has exited (its mm was torn down,
 * the release callback cleared the SLAT) or the owner fd was closed.
 */
bool ovcmem_partition_owner_gone(struct ovcmem_partition *p)
{
	return READ_ONCE(p->mm_released) || READ_ONCE(p->closed) ||
	       !atomic_read(&p->mm->mm_users);
}

static long ovcmem_partition_ioctl(struct file *file, unsigned int cmd,
				   unsigned long arg);

/*
 * Add @p to the global list unless its user already has
 * OVCMEM_MAX_PARTITIONS_PER_USER partitions with an open owner fd. Every
 * partition costs its creator kernel memory (charged to the memcg, but
 * the bound keeps one user from holding an unbounded number of notifiers
 * on the mm notifier chains the whole host walks).
 */
static int ovcmem_partition_list_add(struct ovcmem_partition *p)
{
	struct ovcmem_partition *q;
	unsigned int n = 0;
	int ret = 0;

	mutex_lock(&ovcmem_partitions_lock);
	list_for_each_entry(q, &ovcmem_partitions, node)
		n += q->user == p->user;
	if (n >= OVCMEM_MAX_PARTITIONS_PER_USER)
		ret = -ENOSPC;
	else
		list_add_tail(&p->node, &ovcmem_partitions);
	mutex_unlock(&ovcmem_partitions_lock);
	return ret;
}

static void ovcmem_partition_list_del(struct ovcmem_partition *p)
{
	mutex_lock(&ovcmem_partitions_lock);
	list_del_init(&p->node);
	mutex_unlock(&ovcmem_partitions_lock);
}

static int ovcmem_owner_release(struct inode *inode, struct file *file)
{
	struct ovcmem_partition *p = file->private_data;

	ovcmem_partition_list_del(p);

	/*
	 * Unregister the mm notifier before taking the layout lock: it waits
	 * (synchronize_srcu) for a release callback in flight, and that
	 * callback takes the layout lock for read. If the mm is still alive,
	 * unregistering runs the release callback itself, which clears the
	 * SLAT.
	 */
	if (p->mn_registered)
		mmu_notifier_unregister(&p->mn, p->mm);

	down_write(&p->layout);
	WRITE_ONCE(p->closed, true);
	ovcmem_destroy_regions(p);
	up_write(&p->layout);

	ovcmem_partition_put(p);
	return 0;
}

static int ovcmem_monitor_release(struct inode *inode, struct file *file)
{
	atomic_dec(&ovcmem_nr_monitors);
	ovcmem_partition_put(file->private_data);
	return 0;
}

static const struct file_operations ovcmem_owner_fops = {
	.owner = THIS_MODULE,
	.release = ovcmem_owner_release,
	.unlocked_ioctl = ovcmem_partition_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static const struct file_operations ovcmem_monitor_fops = {
	.owner = THIS_MODULE,
	.release = ovcmem_monitor_release,
	.unlocked_ioctl = ovcmem_partition_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Ioctls that change the VM or play its vCPU: owner fd only. */
static long ovcmem_owner_ioctl(struct ovcmem_partition *p, unsigned int cmd,
			       void __user *uarg)
{
	switch (cmd) {
	case OVCMEM_MAP_REGION:
		return ovcmem_map_region(p, uarg);
	case OVCMEM_UNMAP_REGION:
		return ovcmem_unmap_region(p, uarg);
	case OVCMEM_VCPU_RUN:
		return ovcmem_vcpu_run(p, uarg);
	}
	return -ENOTTY;
}

static long ovcmem_partition_ioctl(struct file *file, unsigned int cmd,
				   unsigned long arg)
{
	struct ovcmem_partition *p = file->private_data;
	void __user *uarg = (void __user *)arg;
	bool owner_fd = file->f_op == &ovcmem_owner_fops;

	/*
	 * An owner fd's powers are the owner's: only a thread of the process
	 * that created the partition (its mm) may use it. A copy inherited
	 * across fork (the fd is O_CLOEXEC, so exec drops it) or passed over
	 * a socket can only be closed; the last close still tears the VM
	 * down. Monitor fds are capabilities checked at open (CAP_SYS_ADMIN).
	 */
	if (owner_fd && current->mm != p->mm)
		return -EPERM;

	switch (cmd) {
	case OVCMEM_GET_STATS:
		return ovcmem_get_stats(p, uarg);
	case OVCMEM_SCAN:
		return ovcmem_scan(p, uarg);
	case OVCMEM_PREFAULT:
		return ovcmem_prefault(p, uarg);
	case OVCMEM_LIST_REGIONS:
		return ovcmem_list_regions(p, uarg);
	case OVCMEM_MAP_REGION:
	case OVCMEM_UNMAP_REGION:
	case OVCMEM_VCPU_RUN:
		if (!owner_fd)
			return -EPERM;
		return ovcmem_owner_ioctl(p, cmd, uarg);
	case OVCMEM_SET_MERGEABLE:
		if (owner_fd)
			return -EPERM;
		return ovcmem_monitor_ioctl(p, cmd, uarg);
	}
	return -ENOTTY;
}

static struct ovcmem_partition *ovcmem_partition_alloc(u64 flags)
{
	struct ovcmem_partition *p;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return NULL;
	p->slat = ovcmem_soft_slat_ops.create();
	if (!p->slat) {
		kfree(p);
		return NULL;
	}
	kref_init(&p->ref);
	p->id = atomic64_inc_return(&ovcmem_next_id);
	p->flags = flags;
	INIT_LIST_HEAD(&p->node);
	INIT_LIST_HEAD(&p->regions);
	init_rwsem(&p->layout);
	p->mm = current->mm;
	mmgrab(p->mm);
	p->owner = get_task_pid(current, PIDTYPE_TGID);
	p->user = get_current_user();
	p->mn.ops = &ovcmem_partition_mn_ops;
	atomic_inc(&ovcmem_nr_partitions);
	return p;
}

/**
 * ovcmem_create_partition - OVCMEM_CREATE_PARTITION
 * @uarg: struct ovcmem_create_partition
 *
 * Return: the new owner fd, or a negative errno.
 */
long ovcmem_create_partition(void __user *uarg)
{
	struct ovcmem_create_partition cp;
	struct ovcmem_partition *p;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&cp, uarg, sizeof(cp)))
		return -EFAULT;
	if (cp.flags & ~OVCMEM_PARTITION_FLAGS_ALL)
		return -EINVAL;
	if (!current->mm)
		return -EINVAL;

	p = ovcmem_partition_alloc(cp.flags);
	if (!p)
		return -ENOMEM;
	/*
	 * Listed from the start, so that the bound counts it; a monitor
	 * that opens it before the fd is installed just sees a VM with no
	 * regions.
	 */
	ret = ovcmem_partition_list_add(p);
	if (ret) {
		ovcmem_partition_put(p);
		return ret;
	}
	ret = mmu_notifier_register(&p->mn, p->mm);
	if (ret) {
		ovcmem_partition_list_del(p);
		ovcmem_partition_put(p);
		return ret;
	}
	p->mn_registered = true;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		mmu_notifier_unregister(&p->mn, p->mm);
		ovcmem_partition_list_del(p);
		ovcmem_partition_put(p);
		return fd;
	}
	file = anon_inode_getfile("[ovcmem-partition]", &ovcmem_owner_fops, p,
				  O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		mmu_notifier_unregister(&p->mn, p->mm);
		ovcmem_partition_list_del(p);
		ovcmem_partition_put(p);
		return PTR_ERR(file);
	}
	/* From here the file owns p: fput() tears everything down. */
	cp.id = p->id;
	if (copy_to_user(uarg, &cp, sizeof(cp))) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;
}

/**
 * ovcmem_monitor_fd - open a monitor fd on a partition
 * @p: the partition; the caller's reference passes to the new fd
 *
 * Return: the fd, or a negative errno (the reference is dropped then).
 */
long ovcmem_monitor_fd(struct ovcmem_partition *p)
{
	int fd;

	fd = anon_inode_getfd("[ovcmem-monitor]", &ovcmem_monitor_fops, p,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ovcmem_partition_put(p);
		return fd;
	}
	atomic_inc(&ovcmem_nr_monitors);
	return fd;
}
