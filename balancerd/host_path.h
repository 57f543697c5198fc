/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Paths of the host's files below --root (host_path.c): the one place
 * that joins them, so that "/", "" and a test's directory all mean the
 * same thing everywhere and a path too long is an error, never a cut.
 */
#ifndef BALANCERD_HOST_PATH_H
#define BALANCERD_HOST_PATH_H

#include <stddef.h>

/* cgroup2's mount point when the configuration names none. */
#define HOST_CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"

/* The prefix of every host path: "" for the live system (@root NULL, ""
 * or "/"), else @root. For messages and for host_path(). */
const char *host_root(const char *root);

/*
 * @root's prefix followed by @fmt's expansion, which names an absolute
 * path ("/proc/%d/maps"). 0, or -ENAMETOOLONG when it does not fit in
 * @len (@buf then holds "").
 */
int host_path(char *buf, size_t len, const char *root, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The directory of @cgroup (relative to the cgroup root; "" or NULL: the
 * root itself) below @cgroup_root (NULL: HOST_CGROUP_ROOT_DEFAULT; with
 * or without its leading "/") below @root, and @file in it unless NULL.
 * 0 or -ENAMETOOLONG, as host_path().
 */
int host_cgroup_path(char *buf, size_t len, const char *root,
		     const char *cgroup_root, const char *cgroup,
		     const char *file);

#endif /* BALANCERD_HOST_PATH_H */
