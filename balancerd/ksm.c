// SPDX-License-Identifier: GPL-2.0
/* Per-VM KSM counts (ksm.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host_path.h"
#include "ksm.h"
#include "units.h"

int ksm_parse_merging_pages(const char *text, uint64_t *ret)
{
	const char *end;
	int r = lex_u64(text, &end, ret);

	if (r < 0)
		return r;
	if (*end == '\n')
		end++;
	return *end ? -EINVAL : 0;
}

int ksm_read_merging_pages(const char *root, pid_t pid, uint64_t *ret)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd, r;

	if (pid <= 0)
		return -ENOENT;
	if (host_path(path, sizeof(path), root, "/proc/%d/ksm_merging_pages",
		      (int)pid) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = '\0';
	return ksm_parse_merging_pages(buf, ret);
}
