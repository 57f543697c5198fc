/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening files whose path comes from configuration (a policy file, the
 * config, the state file) or from a directory listing: only a regular
 * file is read. A FIFO would block the open or the read for ever (the
 * event loop with it), a device node could be anything; both are refused
 * after an open that cannot block (O_NONBLOCK), by fstat(2).
 */
#ifndef BALANCERD_SAFE_OPEN_H
#define BALANCERD_SAFE_OPEN_H

#include <errno.h>

/*
 * What open_regular() returns for something that is not a regular file:
 * an errno that open(2) and read(2) never return, so that it cannot be
 * taken for another cause. open_strerror() words it.
 */
#define ENOTREGULAR EBADFD

/*
 * Open @path read-only (O_CLOEXEC | O_NOCTTY | O_NONBLOCK). Returns the fd,
 * or -ENOTREGULAR when it is not a regular file (-EISDIR for a
 * directory), or another negative errno.
 */
int open_regular(const char *path);

/* strerror(-@r), with a message of ours for -ENOTREGULAR. */
const char *open_strerror(int r);

/*
 * Open the device node @path read-write (for /dev/ovcmem): -ENODEV when
 * @path is a FIFO, socket or block device, -EISDIR for a directory. A
 * regular file is let through (tests stand one in for the node), as is
 * any character device (/dev/zero too): the caller's ioctl probe tells
 * those apart from the driver. Returns the fd or a negative errno.
 */
int open_char_device(const char *path);

#endif /* BALANCERD_SAFE_OPEN_H */
