// SPDX-License-Identifier: GPL-2.0
/* Paths of the host's files below --root (host_path.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host_path.h"

const char *host_root(const char *root)
{
	return root && strcmp(root, "/") ? root : "";
}

static int fits(char *buf, size_t len, int n)
{
	if (n >= 0 && (size_t)n < len)
		return 0;
	if (len)
		buf[0] = '\0';
	return -ENAMETOOLONG;
}

int host_path(char *buf, size_t len, const char *root, const char *fmt, ...)
{
	const char *prefix = host_root(root);
	size_t plen = strlen(prefix);
	va_list ap;
	int n;

	if (plen >= len)
		return fits(buf, len, -1);
	memcpy(buf, prefix, plen);
	va_start(ap, fmt);
	n = vsnprintf(buf + plen, len - plen, fmt, ap);
	va_end(ap);
	return fits(buf, len, n < 0 ? n : (int)plen + n);
}

int host_cgroup_path(char *buf, size_t len, const char *root,
		     const char *cgroup_root, const char *cgroup,
		     const char *file)
{
	const char *cg_root =
		cgroup_root ? cgroup_root : HOST_CGROUP_ROOT_DEFAULT;

	while (*cg_root == '/')
		cg_root++;
	if (!cgroup)
		cgroup = "";
	return host_path(buf, len, root, "/%s%s%s%s%s", cg_root,
			 *cgroup ? "/" : "", cgroup, file ? "/" : "",
			 file ? file : "");
}
