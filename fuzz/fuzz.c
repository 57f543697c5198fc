// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	/* One memfd for the process, rewritten per input: creating one per
	 * input costs more than the loader under test. */
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0)
		return -1;
	if (size && pwrite(fd, data, size, 0) != (ssize_t)size)
		return -1;
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return 0;
}
