// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe_open.h"

static int open_checked(const char *path, int flags, mode_t want, mode_t also)
{
	struct stat st;
	int fd;

	fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if ((st.st_mode & S_IFMT) != want && (st.st_mode & S_IFMT) != also) {
		close(fd);
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		return want == S_IFCHR ? -ENODEV : -ENOTREGULAR;
	}
	return fd;
}

int open_regular(const char *path)
{
	return open_checked(path, O_RDONLY, S_IFREG, S_IFREG);
}

int open_char_device(const char *path)
{
	/* A regular file passes, for tests that stand one in for the node
	 * and fake ioctl(2): a real one fails the caller's ioctl probe. */
	return open_checked(path, O_RDWR, S_IFCHR, S_IFREG);
}

const char *open_strerror(int r)
{
	if (r == -ENOTREGULAR)
		return "not a regular file (a FIFO, socket or device node)";
	return strerror(r < 0 ? -r : r);
}
