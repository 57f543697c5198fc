// SPDX-License-Identifier: GPL-2.0
/*
 * Discover: which cgroups are VMs, what their names are, and which VM a
 * process belongs to.
 *
 * The globs are matched one path component at a time with fnmatch(3)
 * over readdir(3), rather than handing root+glob to glob(3): the root
 * (a test's mkdtemp dir, an admin's --root) must never be read as a
 * pattern, and libvirt's names carry backslashes that glob(3) would take
 * as escapes in any part of the path.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "discover.h"
#include "host_path.h"

/* ---- names ------------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo systemd's unit-name escaping (\xNN) of @n bytes of @s. */
static int unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\') {
			int hi, lo;

			if (i + 3 >= n || s[i + 1] != 'x')
				return -EINVAL;
			hi = hexval(s[i + 2]);
			lo = hexval(s[i + 3]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 3;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static bool strip_suffix(char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	if (n <= k || strcmp(s + n - k, suffix))
		return false;
	s[n - k] = '\0';
	return true;
}

/*
 * libvirt names a domain's machine "<driver>-<id>-<name>" (since 3.x;
 * "<driver>-<name>" before), and machined's scope is "machine-" plus
 * that. Return where the domain name starts in @s.
 */
static const char *libvirt_domain_name(const char *s)
{
	static const char *const drivers[] = {"qemu-", "lxc-", "libxl-"};
	const char *p;

	if (strncmp(s, "machine-", 8))
		return s;
	s += 8;
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (strncmp(s, drivers[i], strlen(drivers[i])))
			continue;
		p = s + strlen(drivers[i]);
		s = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p > s && *p == '-')
			return p + 1; /* "" when nothing follows: -EINVAL */
		return s;
	}
	return s;
}

int vm_name_from_cgroup(const char *cgroup_path, char *name, size_t len)
{
	char buf[VM_NAME_MAX * 4];
	const char *last, *n;
	size_t l;
	int r;

	l = strlen(cgroup_path);
	while (l && cgroup_path[l - 1] == '/')
		l--;
	last = cgroup_path + l;
	while (last > cgroup_path && last[-1] != '/')
		last--;
	if (last == cgroup_path + l)
		return -EINVAL;
	r = unescape(last, (size_t)(cgroup_path + l - last), buf, sizeof(buf));
	if (r < 0)
		return r;
	if (!strip_suffix(buf, ".scope"))
		strip_suffix(buf, ".service");
	n = libvirt_domain_name(buf);
	if (!*n || strchr(n, '/'))
		return -EINVAL;
	if (strlen(n) >= len)
		return -ENAMETOOLONG;
	strcpy(name, n);
	return 0;
}

/* ---- the list --------------------------------------------------------- */

/*
 * The cgroups found, as offsets into one pool of strings while the walk
 * grows it; pointers once it is done. With ten thousand VMs a slot of
 * CGROUP_PATH_MAX bytes each was 5 MB a tick, for paths of ~50 bytes.
 */
struct found {
	char *pool;
	size_t len, cap;
	size_t *off;
	size_t n, cap_off;
};

static int found_add(struct found *f, const char *cgroup)
{
	size_t k = strlen(cgroup) + 1;

	if (k > CGROUP_PATH_MAX)
		return 0; /* cannot be a VM we could name; skip */
	if (f->n == f->cap_off) {
		size_t cap = f->cap_off ? f->cap_off * 2 : 16;
		size_t *p = realloc(f->off, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->off = p;
		f->cap_off = cap;
	}
	if (f->len + k > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4096;
		char *p;

		while (cap < f->len + k)
			cap *= 2;
		p = realloc(f->pool, cap);
		if (!p)
			return -ENOMEM;
		f->pool = p;
		f->cap = cap;
	}
	memcpy(f->pool + f->len, cgroup, k);
	f->off[f->n++] = f->len;
	f->len += k;
	return 0;
}

static int cmp_cgroup(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Drop adjacent duplicates of a sorted list. */
static void dedup(struct vm_list *l)
{
	size_t k = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (k && !strcmp(l->cgroups[k - 1], l->cgroups[i]))
			continue;
		l->cgroups[k++] = l->cgroups[i];
	}
	l->n = k;
}

void vm_list_free(struct vm_list *l)
{
	free(l->cgroups);
	free(l->pool);
	l->cgroups = NULL;
	l->pool = NULL;
	l->n = 0;
	l->n_slices = 0;
	l->slice[0] = '\0';
}

bool cgroup_within(const char *cgroup, const char *ancestor)
{
	size_t k = strlen(ancestor);

	return !strncmp(cgroup, ancestor, k) &&
	       (cgroup[k] == '\0' || cgroup[k] == '/');
}

long vm_list_lookup(const struct vm_list *l, const char *cgroup)
{
	for (size_t i = 0; i < l->n; i++)
		if (cgroup_within(cgroup, l->cgroups[i]))
			return (long)i;
	return -ENOENT;
}

/* ---- discovery -------------------------------------------------------- */

struct walk {
	struct vm_list *list;
	struct found found;
	char abs[PATH_MAX]; /* root/cgroup_root */
};

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "@a/@b" into @buf; false when it does not fit. */
static bool path_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n >= 0 && (size_t)n < len;
}

/* d_type when the filesystem gives it (cgroupfs does), else stat(2). */
static bool entry_is_dir(const struct walk *w, const struct dirent *de,
			 const char *rel)
{
	char path[PATH_MAX];

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return path_join(path, sizeof(path), w->abs, rel) && is_dir(path);
}

/* A slice groups units (system.slice, machine.slice): never one VM. */
static bool is_slice(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, ".slice");
}

static void note_slice(struct vm_list *l, const char *cgroup)
{
	size_t n = strlen(cgroup);

	if (l->n_slices++)
		return;
	if (n >= sizeof(l->slice))
		n = sizeof(l->slice) - 1;
	memcpy(l->slice, cgroup, n);
	l->slice[n] = '\0';
}

/*
 * Match the components of @pattern (from @comp on) below @rel, a path
 * relative to the cgroup root ("" at the top).
 */
static int walk_match(struct walk *w, const char *rel, const char *pattern)
{
	const char *slash = strchr(pattern, '/');
	size_t clen = slash ? (size_t)(slash - pattern) : strlen(pattern);
	char comp[NAME_MAX + 1], dir[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (clen == 0) /* "a//b" or a trailing '/' */
		return slash ? walk_match(w, rel, slash + 1) : 0;
	if (clen > NAME_MAX)
		return 0;
	memcpy(comp, pattern, clen);
	comp[clen] = '\0';
	/* Confined below the cgroup root, whatever the caller's glob says
	 * (the config refuses these too). */
	if (!strcmp(comp, ".") || !strcmp(comp, ".."))
		return 0;
	if (!path_join(dir, sizeof(dir), w->abs, rel))
		return 0;
	d = opendir(dir);
	if (!d) /* a missing slice is an empty match, as is a vanished one */
		return errno == ENOENT || errno == ENOTDIR || errno == ENODEV
			       ? 0
			       : -errno;
	while (r == 0 && (de = readdir(d))) {
		int n;

		if (fnmatch(comp, de->d_name, FNM_PERIOD))
			continue;
		n = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			     de->d_name);
		if (n < 0 || (size_t)n >= sizeof(sub))
			continue;
		if (!entry_is_dir(w, de, sub))
			continue;
		if (slash && slash[1])
			r = walk_match(w, sub, slash + 1);
		else if (is_slice(de->d_name))
			note_slice(w->list, sub);
		else
			r = found_add(&w->found, sub);
	}
	closedir(d);
	return r;
}

int discover_vms(const char *root, const char *cgroup_root, char *const *globs,
		 size_t n_globs, struct vm_list *ret)
{
	struct walk *w;
	struct vm_list l = {0};
	int r = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->list = &l;
	r = host_cgroup_path(w->abs, sizeof(w->abs), root, cgroup_root, NULL,
			     NULL);
	for (size_t i = 0; r == 0 && i < n_globs; i++)
		r = walk_match(w, "", globs[i]);
	if (r == 0 && w->found.n) {
		l.cgroups = malloc(w->found.n * sizeof(*l.cgroups));
		if (!l.cgroups)
			r = -ENOMEM;
	}
	l.pool = w->found.pool;
	for (size_t i = 0; r == 0 && i < w->found.n; i++)
		l.cgroups[i] = l.pool + w->found.off[i];
	if (r == 0)
		l.n = w->found.n;
	free(w->found.off);
	free(w);
	if (r < 0) {
		vm_list_free(&l);
		return r;
	}
	if (l.n)
		qsort(l.cgroups, l.n, sizeof(*l.cgroups), cmp_cgroup);
	dedup(&l); /* overlapping globs */
	*ret = l;
	return 0;
}

/* ---- odd matches ------------------------------------------------------ */

const char *vm_globs_match(char *const *globs, size_t n_globs,
			   const char *cgroup)
{
	for (size_t i = 0; i < n_globs; i++)
		if (!fnmatch(globs[i], cgroup, FNM_PATHNAME | FNM_PERIOD))
			return globs[i];
	return NULL;
}

/* A systemd unit's cgroup: what a VM's own sub-cgroups are not. */
static bool is_unit(const char *name)
{
	static const char *const kinds[] = {".slice", ".scope", ".service"};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t k = strlen(kinds[i]);

		if (n > k && !strcmp(name + n - k, kinds[i]))
			return true;
	}
	return false;
}

int cgroup_oddity(const char *root, const char *cgroup_root, const char *cgroup,
		  char *child, size_t len)
{
	const char *last = strrchr(cgroup, '/');
	char path[PATH_MAX];
	struct dirent *de;
	int n, r = CGROUP_ODD_NONE;
	DIR *d;

	if (len)
		child[0] = '\0';
	if (!strcmp(last ? last + 1 : cgroup, "init.scope"))
		return CGROUP_ODD_INIT;
	n = host_cgroup_path(path, sizeof(path), root, cgroup_root, cgroup,
			     NULL);
	if (n < 0)
		return n;
	d = opendir(path);
	if (!d)
		return -errno;
	while (r == CGROUP_ODD_NONE && (de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (de->d_name[0] == '.' || !is_unit(de->d_name))
			continue;
		if (len)
			snprintf(child, len, "%s", de->d_name);
		r = CGROUP_ODD_PARENT;
	}
	closedir(d);
	return r;
}

/* ---- processes -------------------------------------------------------- */

int parse_proc_cgroup(const char *text, char *ret, size_t len)
{
	/* cgroup v2's line is "0::/path"; v1 lines name their controllers. */
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n >= 4 && !strncmp(line, "0::/", 4)) {
			if (n - 4 >= len)
				return -ENAMETOOLONG;
			memcpy(ret, line + 4, n - 4);
			ret[n - 4] = '\0';
			return 0;
		}
		line += n + (end != NULL);
	}
	return -ENOMEDIUM;
}

int cgroup_of_pid(const char *root, pid_t pid, char *ret, size_t len)
{
	char path[PATH_MAX], buf[4096];
	size_t n = 0;
	FILE *f;
	int k;

	k = host_path(path, sizeof(path), root, "/proc/%d/cgroup", (int)pid);
	if (k < 0)
		return k;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return parse_proc_cgroup(buf, ret, len);
}
