/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Discover: which cgroups are VMs, what their names are, and which VM a
 * process belongs to. Reads directories and /proc/PID/cgroup below a root
 * directory ("/" in production, a fixture tree in tests); the name
 * decoding is pure.
 */
#ifndef BALANCERD_DISCOVER_H
#define BALANCERD_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VM_NAME_MAX	128
#define CGROUP_PATH_MAX 512

/*
 * Decode a VM's name from its cgroup's last component, undoing systemd's
 * \xNN escaping and libvirt's machine-qemu-<id>-<name>.scope layout:
 * "machine-qemu\x2d1\x2dvm1.scope" -> "vm1"; "vm7.scope" -> "vm7".
 * Returns 0, -EINVAL (empty or undecodable) or -ENAMETOOLONG (@len).
 */
int vm_name_from_cgroup(const char *cgroup_path, char *name, size_t len);

struct vm_list {
	/* Relative to the cgroup root, each shorter than CGROUP_PATH_MAX;
	 * pointers into @pool, which holds them back to back. */
	char **cgroups;
	size_t n;
	char *pool;
	/* Slices the globs matched ("*" matches system.slice): not VMs,
	 * left out, counted for a warning; @slice is the first. */
	size_t n_slices;
	char slice[CGROUP_PATH_MAX];
};

/*
 * Find VM cgroups below @root@cgroup_root matching any of @globs (each
 * relative to the cgroup root, e.g. "machine.slice/\*.scope"), sorted.
 * A glob never leaves the cgroup root: "." and ".." components match
 * nothing. Cgroups named *.slice are left out (see n_slices).
 * Returns 0 or a negative errno. A missing slice is an empty list.
 */
int discover_vms(const char *root, const char *cgroup_root, char *const *globs,
		 size_t n_globs, struct vm_list *ret);

/*
 * The first of @globs that matches @cgroup (relative to the cgroup root)
 * as discover_vms() matches them, component by component; NULL if none
 * does (a VM found through its ovcmem partition). Pure.
 */
const char *vm_globs_match(char *const *globs, size_t n_globs,
			   const char *cgroup);

enum cgroup_oddity {
	CGROUP_ODD_NONE = 0,
	CGROUP_ODD_INIT,   /* init.scope: systemd's own, PID 1 */
	CGROUP_ODD_PARENT, /* it holds units: a child *.slice, *.scope or
			    * *.service cgroup */
};

/*
 * Whether @cgroup (below @root@cgroup_root), matched as a VM, is one that
 * vm_globs should not have matched (a careless "*"): init.scope, or a
 * cgroup that groups units as a slice does. A VMM's own sub-cgroups
 * (libvirt's "libvirt/emulator", "vcpu0") are not units: a libvirt VM is
 * not odd. Returns an enum cgroup_oddity, the first unit child's name in
 * @child (@len bytes) for CGROUP_ODD_PARENT, or a negative errno. Reads
 * one directory: for a VM first seen, not every tick.
 */
int cgroup_oddity(const char *root, const char *cgroup_root, const char *cgroup,
		  char *child, size_t len);

/*
 * The text of /proc/PID/cgroup: the cgroup v2 line's path ("0::/a/b" ->
 * "a/b") into @ret of @len bytes. Returns 0, -ENOMEDIUM without such a
 * line (cgroup v1 only), or -ENAMETOOLONG. Pure.
 */
int parse_proc_cgroup(const char *text, char *ret, size_t len);

/*
 * The cgroup (relative to the cgroup root) of process @pid, from
 * @root/proc/PID/cgroup ("0::/machine.slice/x.scope"). Returns 0 or a
 * negative errno (-ESRCH if the process is gone).
 */
int cgroup_of_pid(const char *root, pid_t pid, char *ret, size_t len);

/*
 * Whether @cgroup is @ancestor or below it ("a/b" is within "a", "ab" is
 * not). Pure; the one spelling of that test.
 */
bool cgroup_within(const char *cgroup, const char *ancestor);

/*
 * The VM of @l whose cgroup is @cgroup or an ancestor of it (a qemu pid
 * lives in libvirt's "<scope>/libvirt/emulator"), for mapping an ovcmem
 * partition's owner pid to its VM. Returns the index, or -ENOENT.
 */
long vm_list_lookup(const struct vm_list *l, const char *cgroup);

void vm_list_free(struct vm_list *l);

#endif /* BALANCERD_DISCOVER_H */
