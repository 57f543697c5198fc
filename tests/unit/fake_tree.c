// SPDX-License-Identifier: GPL-2.0
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_tree.h"

void fake_mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			assert(!"mkdir failed");
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		assert(!"mkdir failed");
}

void fake_write(const char *path, const char *text)
{
	char dir[PATH_MAX], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		fake_mkdir_p(dir);
	}
	f = fopen(path, "we");
	assert(f);
	fputs(text, f);
	assert(fclose(f) == 0);
}

static void vm_path(struct fake_tree *t, const char *name, const char *file,
		    char *buf, size_t len)
{
	snprintf(buf, len, "%s/sys/fs/cgroup/machine.slice/%s.scope%s%s",
		 t->root, name, file ? "/" : "", file ? file : "");
}

void fake_host(struct fake_tree *t, uint64_t total, uint64_t avail,
	       double psi_some10, double psi_full10)
{
	char path[PATH_MAX], text[1024];

	snprintf(path, sizeof(path), "%s/proc/meminfo", t->root);
	snprintf(text, sizeof(text),
		 "MemTotal:       %" PRIu64 " kB\n"
		 "MemFree:        %" PRIu64 " kB\n"
		 "MemAvailable:   %" PRIu64 " kB\n"
		 "Buffers:               0 kB\n"
		 "Cached:                0 kB\n"
		 "SwapTotal:      %" PRIu64 " kB\n"
		 "SwapFree:       %" PRIu64 " kB\n",
		 total / 1024, avail / 1024, avail / 1024, total / 1024,
		 total / 1024);
	fake_write(path, text);
	snprintf(path, sizeof(path), "%s/proc/pressure/memory", t->root);
	snprintf(text, sizeof(text),
		 "some avg10=%.2f avg60=0.00 avg300=0.00 total=0\n"
		 "full avg10=%.2f avg60=0.00 avg300=0.00 total=0\n",
		 psi_some10, psi_full10);
	fake_write(path, text);
}

void fake_tree_create(struct fake_tree *t, uint64_t total, uint64_t avail)
{
	char text[4096];

	const char *tmp = getenv("TMPDIR");

	/* $TMPDIR: the benchmark puts the tree on tmpfs, closer to cgroupfs
	 * and procfs than a disk file system. */
	snprintf(t->root, sizeof(t->root), "%s/balancerd-test.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert(mkdtemp(t->root));
	snprintf(t->config, sizeof(t->config), "%s/etc/balancerd.json",
		 t->root);
	snprintf(t->policy_dir, sizeof(t->policy_dir), "%s/etc/policies.d",
		 t->root);
	snprintf(t->state_file, sizeof(t->state_file), "%s/run/state.json",
		 t->root);
	fake_mkdir_p(t->policy_dir);
	snprintf(text, sizeof(text), "%s/run", t->root);
	fake_mkdir_p(text);
	snprintf(text, sizeof(text), "%s/sys/fs/cgroup/machine.slice", t->root);
	fake_mkdir_p(text);
	fake_host(t, total, avail, 0, 0);
	snprintf(text, sizeof(text),
		 "{\n"
		 "  \"cgroup_root\": \"/sys/fs/cgroup\",\n"
		 "  \"vm_globs\": [\"machine.slice/*.scope\"],\n"
		 "  \"policy_dir\": \"%s\",\n"
		 "  \"driver_path\": \"\",\n"
		 "  \"state_file\": \"%s\",\n"
		 "  \"log_target\": \"stderr\"\n"
		 "}\n",
		 t->policy_dir, t->state_file);
	fake_write(t->config, text);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

int fake_rm_rf(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fake_tree_destroy(struct fake_tree *t)
{
	if (t->root[0])
		fake_rm_rf(t->root);
	t->root[0] = 0;
}

void fake_vm_write(struct fake_tree *t, const char *name, const char *file,
		   const char *text)
{
	char path[PATH_MAX];

	vm_path(t, name, file, path, sizeof(path));
	fake_write(path, text);
}

void fake_vm_current(struct fake_tree *t, const char *name, uint64_t current)
{
	char text[64];

	snprintf(text, sizeof(text), "%" PRIu64 "\n", current);
	fake_vm_write(t, name, "memory.current", text);
}

void fake_vm_pressure(struct fake_tree *t, const char *name, double some10,
		      double full10)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "some avg10=%.2f avg60=0.00 avg300=0.00 total=0\n"
		 "full avg10=%.2f avg60=0.00 avg300=0.00 total=0\n",
		 some10, full10);
	fake_vm_write(t, name, "memory.pressure", text);
}

void fake_vm_clear_writes(struct fake_tree *t, const char *name)
{
	fake_vm_write(t, name, "memory.reclaim", "");
	fake_vm_write(t, name, "memory.high", "max\n");
	fake_vm_write(t, name, "memory.low", "0\n");
}

void fake_vm_add(struct fake_tree *t, const char *name, uint64_t current,
		 uint64_t max)
{
	char text[512];

	fake_vm_current(t, name, current);
	snprintf(text, sizeof(text),
		 "anon %" PRIu64 "\nfile %" PRIu64
		 "\nworkingset_refault_anon 0\n"
		 "workingset_refault_file 0\n"
		 "pgscan 0\npgsteal 0\npgmajfault 0\n",
		 current * 3 / 4, current / 4);
	fake_vm_write(t, name, "memory.stat", text);
	if (max)
		snprintf(text, sizeof(text), "%" PRIu64 "\n", max);
	else
		snprintf(text, sizeof(text), "max\n");
	fake_vm_write(t, name, "memory.max", text);
	fake_vm_write(t, name, "memory.swap.current", "0\n");
	fake_vm_write(t, name, "memory.events",
		      "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
	fake_vm_pressure(t, name, 0, 0);
	fake_vm_clear_writes(t, name);
}

void fake_vm_remove(struct fake_tree *t, const char *name)
{
	char path[PATH_MAX];

	vm_path(t, name, NULL, path, sizeof(path));
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fake_vm_read(struct fake_tree *t, const char *name,
			 const char *file)
{
	static char buf[4096];
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	vm_path(t, name, file, path, sizeof(path));
	buf[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

void fake_policy(struct fake_tree *t, const char *file, const char *json)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t->policy_dir, file);
	fake_write(path, json);
}

const char *fake_slurp(const char *path)
{
	static char buf[65536];
	FILE *fp = fopen(path, "re");
	size_t n;

	assert(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	return buf;
}
