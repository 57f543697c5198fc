// SPDX-License-Identifier: GPL-2.0
/*
 * Signals: pure parsers of /proc and cgroupfs text, and the acquire
 * functions that read those files below a root directory.
 *
 * Plain open/read rather than libcgroup: see docs/signals.md. In short,
 * libcgroup resolves controllers through its own view of the mount table,
 * which a fixture tree under --root cannot provide, and it adds nothing
 * for cgroup v2's flat "key value" files.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discover.h"
#include "host_path.h"
#include "signals.h"
#include "units.h"

/*
 * Idle-age bucket bounds, in ticks (scans): at the default 1 s interval
 * bucket 0 is "touched in the last second", then up to 10 s, 30 s, 1 min,
 * 2 min, and bucket 5 is "over 2 min": the ages at which an admin sets
 * cold_age, so the histogram answers "how much is colder than that".
 */
const unsigned int idle_bucket_ticks[IDLE_BUCKETS - 1] = {0, 10, 30, 60, 120};

/* memory.stat of 6.12 is ~3 KiB; meminfo ~1.5 KiB. Room to spare. */
#define SIGNAL_FILE_MAX 16384

/* ---- small lexing helpers --------------------------------------------- */

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Copy the line at @s into @buf (NUL-terminated); return the next line. */
static const char *next_line(const char *s, char *buf, size_t len)
{
	const char *nl = strchr(s, '\n');
	size_t n = nl ? (size_t)(nl - s) : strlen(s);

	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return nl ? nl + 1 : s + strlen(s);
}

/* "key value" with one number; 0, or -EINVAL. */
static int split_key_value(char *line, char **key, uint64_t *value)
{
	char *sp = strpbrk(line, " \t");
	const char *end;
	int r;

	if (!sp || sp == line)
		return -EINVAL;
	*sp = '\0';
	*key = line;
	r = lex_u64(skip_blanks(sp + 1), &end, value);
	if (r < 0)
		return r;
	end = skip_blanks(end);
	return *end ? -EINVAL : 0;
}

/* ---- PSI --------------------------------------------------------------- */

/*
 * The kernel's "12.34": hundredths, as a whole number over 100.0. That
 * division is rounded once, to the double nearest the decimal, which is
 * what strtod() returns for it: the same value for a tenth of the work.
 * false for any other spelling (strtod() then reads it).
 */
static bool lex_hundredths(const char *s, double *ret, char **end)
{
	uint64_t n = 0;
	size_t digits = 0;

	for (; *s >= '0' && *s <= '9' && digits < 12; s++, digits++)
		n = n * 10 + (uint64_t)(*s - '0');
	if (!digits || s[0] != '.' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
	    s[2] > '9' || (s[3] >= '0' && s[3] <= '9'))
		return false;
	n = n * 100 + (uint64_t)(s[1] - '0') * 10 + (uint64_t)(s[2] - '0');
	*ret = (double)n / 100.0;
	*end = (char *)(uintptr_t)(s + 3);
	return true;
}

/* "avg10=0.12 avg60=0.00 avg300=0.00 total=1234" */
static int parse_psi_fields(const char *s, struct psi_line *ret)
{
	static const char *const names[] = {"avg10=", "avg60=", "avg300="};
	double *avgs[] = {&ret->avg10, &ret->avg60, &ret->avg300};
	const char *end;
	char *e;

	for (size_t i = 0; i < 3; i++) {
		s = skip_blanks(s);
		if (strncmp(s, names[i], strlen(names[i])))
			return -EINVAL;
		s += strlen(names[i]);
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		if (!lex_hundredths(s, avgs[i], &e))
			*avgs[i] = strtod(s, &e);
		if (e == s || (*e != ' ' && *e != '\t'))
			return -EINVAL;
		/* A share of time: "1e999" is no percentage (it would be
		 * infinity, critical in decide() and null in the state). */
		if (!(*avgs[i] <= 100.0))
			return -ERANGE;
		s = e;
	}
	s = skip_blanks(s);
	if (strncmp(s, "total=", 6) || lex_u64(s + 6, &end, &ret->total_us))
		return -EINVAL;
	if (*skip_blanks(end))
		return -EINVAL;
	ret->present = true;
	return 0;
}

int parse_psi(const char *text, struct psi *ret)
{
	char line[256];
	struct psi psi = {0};

	while (*text) {
		struct psi_line *l;
		int r;

		text = next_line(text, line, sizeof(line));
		if (!*line)
			continue;
		if (!strncmp(line, "some ", 5))
			l = &psi.some;
		else if (!strncmp(line, "full ", 5))
			l = &psi.full;
		else
			return -EINVAL;
		r = parse_psi_fields(line + 5, l);
		if (r < 0)
			return r;
	}
	if (!psi.some.present)
		return -EINVAL;
	*ret = psi;
	return 0;
}

/* ---- /proc/meminfo ----------------------------------------------------- */

int parse_meminfo(const char *text, struct host_signals *ret)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"MemTotal", offsetof(struct host_signals, mem_total)},
		{"MemAvailable", offsetof(struct host_signals, mem_available)},
		{"SwapTotal", offsetof(struct host_signals, swap_total)},
		{"SwapFree", offsetof(struct host_signals, swap_free)},
	};
	unsigned int seen = 0;
	char line[256];
	int r;

	while (*text) {
		char *colon, *key;
		uint64_t v;

		text = next_line(text, line, sizeof(line));
		if (!*line)
			continue;
		colon = strchr(line, ':');
		if (!colon)
			return -EINVAL;
		*colon = ' ';
		/* "N kB": drop the unit before the generic split. */
		key = strstr(colon, " kB");
		if (key && !key[3])
			*key = '\0';
		r = split_key_value(line, &key, &v);
		if (r < 0)
			return r;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(key, keys[i].key))
				continue;
			if (v > UINT64_MAX / 1024)
				return -ERANGE;
			*(uint64_t *)((char *)ret + keys[i].off) = v * 1024;
			seen |= 1u << i;
		}
	}
	/* Without MemTotal and MemAvailable the host cannot be judged. */
	return (seen & 3) == 3 ? 0 : -EINVAL;
}

/* ---- memory.stat, memory.events, single values ------------------------ */

struct stat_key {
	const char *key;
	size_t off;
};

#define VM_KEY(k, field)                                                       \
	{                                                                      \
		k, offsetof(struct vm_signals, field)                          \
	}

static const struct stat_key memory_stat_keys[] = {
	VM_KEY("anon", anon),
	VM_KEY("file", file),
	VM_KEY("zswap", zswap),
	VM_KEY("zswapped", zswapped),
	VM_KEY("workingset_refault_anon", workingset_refault_anon),
	VM_KEY("workingset_refault_file", workingset_refault_file),
	VM_KEY("pgscan", pgscan),
	VM_KEY("pgsteal", pgsteal),
	VM_KEY("pgmajfault", pgmajfault),
};

static const struct stat_key memory_events_keys[] = {
	VM_KEY("low", events_low),	     VM_KEY("high", events_high),
	VM_KEY("max", events_max),	     VM_KEY("oom", events_oom),
	VM_KEY("oom_kill", events_oom_kill),
};

/* Parse "key value" lines into @ret's fields named by @keys. */
static int parse_flat_keyed(const char *text, const struct stat_key *keys,
			    size_t n_keys, struct vm_signals *ret)
{
	char line[256];
	bool any = false;
	int r;

	while (*text) {
		char *key;
		uint64_t v;

		text = next_line(text, line, sizeof(line));
		if (!*line)
			continue;
		r = split_key_value(line, &key, &v);
		if (r < 0)
			return r;
		any = true;
		for (size_t i = 0; i < n_keys; i++)
			if (key[0] == keys[i].key[0] &&
			    !strcmp(key, keys[i].key))
				*(uint64_t *)((char *)ret + keys[i].off) = v;
	}
	return any ? 0 : -EINVAL;
}

int parse_memory_stat(const char *text, struct vm_signals *ret)
{
	return parse_flat_keyed(
		text, memory_stat_keys,
		sizeof(memory_stat_keys) / sizeof(memory_stat_keys[0]), ret);
}

int parse_memory_events(const char *text, struct vm_signals *ret)
{
	return parse_flat_keyed(text, memory_events_keys,
				sizeof(memory_events_keys) /
					sizeof(memory_events_keys[0]),
				ret);
}

int parse_memory_value(const char *text, uint64_t *ret)
{
	const char *end;
	uint64_t v;
	int r;

	text = skip_blanks(text);
	if (!strncmp(text, "max", 3)) {
		v = MEMORY_UNLIMITED;
		end = text + 3;
	} else {
		r = lex_u64(text, &end, &v);
		if (r < 0)
			return r;
	}
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static uint64_t counter_delta(uint64_t now, uint64_t before)
{
	/* A counter that went back means a new cgroup of the same name. */
	return now >= before ? now - before : 0;
}

/* ---- file access ------------------------------------------------------- */

/*
 * Read a whole small file. A file (or its cgroup) that is gone, before
 * the open or between open and read (a removed cgroup's open files read
 * as -ENODEV), is -ENOENT.
 */
static int read_text_at(int dfd, const char *path, char *buf, size_t size)
{
	size_t n = 0;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO in a fixture or an admin's cgroup_root reads
	 * as empty (garbage) instead of stopping the tick. */
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENODEV ? -ENOENT : -errno;
	while (n < size - 1) {
		ssize_t k = read(fd, buf + n, size - 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = errno == ENODEV ? -ENOENT : -errno;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		/*
		 * cgroupfs and procfs hand a whole small file to one read; a
		 * short read that ends a line is the end, and saves the
		 * second read(2) that would return 0 (a third of a tick's
		 * system calls).
		 */
		if ((size_t)k < size - 1 - (n - (size_t)k) &&
		    buf[n - 1] == '\n')
			break;
	}
	close(fd);
	if (r == 0 && n == size - 1)
		r = -EFBIG;
	buf[n] = '\0';
	return r;
}

static int read_text(const char *path, char *buf, size_t size)
{
	return read_text_at(AT_FDCWD, path, buf, size);
}

/* ---- host ------------------------------------------------------------- */

int host_signals_acquire(const char *root, struct host_signals *ret)
{
	char path[PATH_MAX], buf[SIGNAL_FILE_MAX];
	struct host_signals h = {0};
	int r;

	r = host_path(path, sizeof(path), root, "/proc/meminfo");
	if (r == 0)
		r = read_text(path, buf, sizeof(buf));
	if (r == 0)
		r = parse_meminfo(buf, &h);
	if (r < 0)
		return r;
	/* Kernels without CONFIG_PSI (or psi=0): no pressure, not an error. */
	r = host_path(path, sizeof(path), root, "/proc/pressure/memory");
	if (r == 0)
		r = read_text(path, buf, sizeof(buf));
	if (r == 0)
		r = parse_psi(buf, &h.psi);
	if (r < 0 && r != -ENOENT && r != -EOPNOTSUPP)
		return r;
	*ret = h;
	return 0;
}

/* ---- one VM ----------------------------------------------------------- */

/*
 * One VM's directory, opened once: its files are opened relative to it,
 * which spares the kernel a walk of the whole path per file (a tick
 * reads ten files of each of up to a thousand VMs).
 */
struct cg_reader {
	/* Its path, joined only when needed (a descriptor to open, or a
	 * missing file to explain): "" until then. */
	const char *root, *cgroup_root, *cgroup;
	char dir[PATH_MAX];
	int dfd;
	struct vm_files *files; /* kept open between ticks, or NULL */
	char buf[SIGNAL_FILE_MAX];
};

/* The files kept open: read every tick, some ticks, or every tenth. */
static const char *const kept_files[VM_FILES_KEPT] = {
	"memory.current", "memory.pressure",	 "memory.stat",
	"memory.max",	  "memory.high",	 "memory.low",
	"memory.events",  "memory.swap.current", "cgroup.procs",
};

void vm_files_init(struct vm_files *f)
{
	f->dfd = -1;
	f->stat_age = 0;
	for (size_t i = 0; i < VM_FILES_KEPT; i++)
		f->fd[i] = -1;
}

void vm_files_close(struct vm_files *f)
{
	if (!f)
		return;
	if (f->dfd >= 0)
		close(f->dfd);
	for (size_t i = 0; i < VM_FILES_KEPT; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	vm_files_init(f);
}

/* Read an open file from its start: one pread(2). A removed cgroup's
 * open files read as -ENODEV: -ENOENT. */
static int pread_text(int fd, char *buf, size_t size)
{
	ssize_t k;

	do
		k = pread(fd, buf, size - 1, 0);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return errno == ENODEV ? -ENOENT : -errno;
	buf[k] = '\0';
	return (size_t)k == size - 1 ? -EFBIG : 0;
}

/* @file through its kept descriptor, opened on first use; -1 when it is
 * not one to keep, or no descriptor is left (then read as before). */
static int kept_fd(struct cg_reader *cg, const char *file)
{
	size_t i;
	int fd;

	if (!cg->files)
		return -1;
	for (i = 0; i < VM_FILES_KEPT; i++)
		if (!strcmp(kept_files[i], file))
			break;
	if (i == VM_FILES_KEPT)
		return -1;
	if (cg->files->fd[i] >= 0)
		return cg->files->fd[i];
	fd = openat(cg->dfd, file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1; /* read_text_at() says why */
	cg->files->fd[i] = fd;
	return fd;
}

static bool dir_exists(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The cgroup's directory, joined on first use. */
static int cg_dir(struct cg_reader *cg, const char **ret)
{
	int r = 0;

	if (!cg->dir[0])
		r = host_cgroup_path(cg->dir, sizeof(cg->dir), cg->root,
				     cg->cgroup_root, cg->cgroup, NULL);
	*ret = cg->dir;
	return r;
}

/*
 * Read one file of the cgroup. A missing file is -ENOENT when the whole
 * cgroup is gone, -ENODATA when only that file is absent (a controller
 * or CONFIG_PSI/swap accounting that is off).
 */
static int cg_read(struct cg_reader *cg, const char *file)
{
	int fd = kept_fd(cg, file);
	int r = fd >= 0 ? pread_text(fd, cg->buf, sizeof(cg->buf))
			: read_text_at(cg->dfd, file, cg->buf, sizeof(cg->buf));
	const char *dir;

	if (r == -ENOENT && cg_dir(cg, &dir) == 0 && dir_exists(dir))
		return -ENODATA;
	return r;
}

/* A single-value file; absent -> @dflt. */
static int cg_read_value(struct cg_reader *cg, const char *file, uint64_t dflt,
			 uint64_t *ret)
{
	int r = cg_read(cg, file);

	if (r == -ENODATA) {
		*ret = dflt;
		return 0;
	}
	return r < 0 ? r : parse_memory_value(cg->buf, ret);
}

pid_t parse_cgroup_procs(const char *text)
{
	const char *end;
	uint64_t pid;

	if (lex_u64(text, &end, &pid) < 0 || (*end && *end != '\n'))
		return 0;
	return pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

/* The first pid in the scope, or in libvirt's emulator sub-cgroup. */
static pid_t cg_first_pid(struct cg_reader *cg)
{
	static const char *const files[] = {"cgroup.procs",
					    "libvirt/emulator/cgroup.procs"};

	for (size_t i = 0; i < 2; i++) {
		pid_t pid;

		if (cg_read(cg, files[i]) < 0)
			continue;
		pid = parse_cgroup_procs(cg->buf);
		if (pid > 0)
			return pid;
	}
	return 0;
}

static int vm_read_current(struct cg_reader *cg, struct vm_signals *v)
{
	int r;

	/* No memory.current in a live cgroup: no memory controller there. */
	r = cg_read(cg, "memory.current");
	if (r == -ENODATA)
		return -EOPNOTSUPP;
	return r < 0 ? r : parse_memory_value(cg->buf, &v->memory_current);
}

/* The files that change only when someone writes them, or rarely. */
static int vm_read_slow_files(struct cg_reader *cg, struct vm_signals *v)
{
	int r;

	r = cg_read_value(cg, "memory.max", MEMORY_UNLIMITED, &v->memory_max);
	if (r == 0)
		r = cg_read_value(cg, "memory.high", MEMORY_UNLIMITED,
				  &v->memory_high);
	if (r == 0)
		r = cg_read_value(cg, "memory.low", 0, &v->memory_low);
	if (r == 0)
		r = cg_read_value(cg, "memory.swap.current", 0,
				  &v->swap_current);
	if (r == 0)
		r = cg_read(cg, "memory.events");
	if (r == 0)
		r = parse_memory_events(cg->buf, v);
	if (r == -ENODATA)
		r = 0;
	if (r == 0)
		v->pid = cg_first_pid(cg);
	return r;
}

/* Keep @prev's values of the files vm_read_slow_files() reads. */
static void vm_copy_slow_files(const struct vm_prev *prev, struct vm_signals *v)
{
	v->memory_max = prev->memory_max;
	v->memory_high = prev->memory_high;
	v->memory_low = prev->memory_low;
	v->swap_current = prev->swap_current;
	v->events_low = prev->events_low;
	v->events_high = prev->events_high;
	v->events_max = prev->events_max;
	v->events_oom = prev->events_oom;
	v->events_oom_kill = prev->events_oom_kill;
	v->pid = prev->pid;
}

/* Keep @prev's memory.stat values (their deltas stay 0). */
static void vm_copy_stat(const struct vm_prev *prev, struct vm_signals *v)
{
	v->anon = prev->anon;
	v->file = prev->file;
	v->zswap = prev->zswap;
	v->zswapped = prev->zswapped;
	v->workingset_refault_anon = prev->workingset_refault_anon;
	v->workingset_refault_file = prev->workingset_refault_file;
	v->pgscan = prev->pgscan;
	v->pgsteal = prev->pgsteal;
	v->pgmajfault = prev->pgmajfault;
}

/* memory.pressure, if PSI is on. */
static int vm_read_pressure(struct cg_reader *cg, struct vm_signals *v)
{
	int r = cg_read(cg, "memory.pressure");

	if (r == 0)
		r = parse_psi(cg->buf, &v->psi);
	return r == -ENODATA || r == -EOPNOTSUPP ? 0 : r;
}

static int vm_read_stat(struct cg_reader *cg, struct vm_signals *v)
{
	int r = cg_read(cg, "memory.stat");

	if (r < 0)
		return r == -ENODATA ? -ENOENT : r;
	return parse_memory_stat(cg->buf, v);
}

/* Whether anything moved since @prev that memory.stat would explain:
 * the VM stalled (PSI's total), or it grew by faulting pages in. */
static bool vm_moved(const struct vm_prev *prev, const struct vm_signals *v)
{
	if (v->psi.some.present != prev->psi.some.present ||
	    v->psi.some.total_us != prev->psi.some.total_us)
		return true;
	return v->memory_current >= prev->memory_current + VM_STAT_GROWTH;
}

static void vm_deltas(const struct vm_prev *prev, struct vm_signals *v)
{
	if (!prev || prev->vanished)
		return;
	v->d_refault_anon = counter_delta(v->workingset_refault_anon,
					  prev->workingset_refault_anon);
	v->d_refault_file = counter_delta(v->workingset_refault_file,
					  prev->workingset_refault_file);
	v->d_pgmajfault = counter_delta(v->pgmajfault, prev->pgmajfault);
	if (prev->psi.some.present && v->psi.some.present)
		v->d_psi_some_us = counter_delta(v->psi.some.total_us,
						 prev->psi.some.total_us);
	if (prev->psi.full.present && v->psi.full.present)
		v->d_psi_full_us = counter_delta(v->psi.full.total_us,
						 prev->psi.full.total_us);
}

static int vm_read_all(struct cg_reader *cg, const struct vm_prev *prev,
		       unsigned int flags, struct vm_signals *v)
{
	bool usable = prev && !prev->vanished;
	bool hot = (flags & VM_ACQUIRE_SKIP_SLOW) && usable;
	bool skip_stat = (flags & VM_ACQUIRE_SKIP_STAT) && usable && cg->files;
	int r;

	r = vm_read_current(cg, v);
	if (r == 0)
		r = vm_read_pressure(cg, v);
	if (r == 0 && skip_stat && !vm_moved(prev, v)) {
		vm_copy_stat(prev, v);
		cg->files->stat_age++;
	} else if (r == 0) {
		r = vm_read_stat(cg, v);
		if (cg->files)
			cg->files->stat_age = 0;
	}
	if (r == 0 && hot)
		vm_copy_slow_files(prev, v);
	else if (r == 0)
		r = vm_read_slow_files(cg, v);
	return r;
}

int vm_signals_acquire_files(const char *root, const char *cgroup_root,
			     const char *cgroup, struct vm_files *files,
			     const struct vm_prev *prev, unsigned int flags,
			     struct vm_signals *ret)
{
	struct cg_reader *cg;
	struct vm_signals v = {0};
	int r;

	if (strlen(cgroup) >= sizeof(v.cgroup))
		return -ENAMETOOLONG;
	strcpy(v.cgroup, cgroup);
	if (vm_name_from_cgroup(cgroup, v.name, sizeof(v.name)) < 0)
		snprintf(v.name, sizeof(v.name), "%s", cgroup);
	cg = malloc(sizeof(*cg));
	if (!cg)
		return -ENOMEM;
	cg->files = files;
	cg->root = root;
	cg->cgroup_root = cgroup_root;
	cg->cgroup = cgroup;
	cg->dir[0] = '\0';
	cg->dfd = files && files->dfd >= 0 ? files->dfd : -1;
	r = 0;
	if (cg->dfd < 0) {
		const char *dir;

		r = cg_dir(cg, &dir);
		if (r == 0)
			cg->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r == 0 && cg->dfd < 0)
			r = errno == ENODEV || errno == ENOTDIR ? -ENOENT
								: -errno;
	}
	if (r == 0 && files)
		files->dfd = cg->dfd; /* kept with the files */
	if (r == 0)
		r = vm_read_all(cg, prev, flags, &v);
	if (!files && cg->dfd >= 0)
		close(cg->dfd);
	free(cg);
	/* A cgroup that went away, and one of the same name made again,
	 * are read afresh from new descriptors next time. */
	if (r < 0 && files)
		vm_files_close(files);
	if (r == -ENOENT)
		v.vanished = true;
	else if (r < 0)
		return r;
	vm_deltas(prev, &v);
	*ret = v;
	return r;
}

void vm_prev_keep(struct vm_prev *p, const struct vm_signals *v)
{
	*p = (struct vm_prev){
		.vanished = v->vanished,
		.pid = v->pid,
		.memory_current = v->memory_current,
		.memory_max = v->memory_max,
		.memory_high = v->memory_high,
		.memory_low = v->memory_low,
		.swap_current = v->swap_current,
		.anon = v->anon,
		.file = v->file,
		.zswap = v->zswap,
		.zswapped = v->zswapped,
		.workingset_refault_anon = v->workingset_refault_anon,
		.workingset_refault_file = v->workingset_refault_file,
		.pgscan = v->pgscan,
		.pgsteal = v->pgsteal,
		.pgmajfault = v->pgmajfault,
		.events_low = v->events_low,
		.events_high = v->events_high,
		.events_max = v->events_max,
		.events_oom = v->events_oom,
		.events_oom_kill = v->events_oom_kill,
		.psi = v->psi,
		.ksm_known = v->ksm_known,
		.ksm_merging_pages = v->ksm_merging_pages,
	};
}
