// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "act.h"
#include "cold_source.h"
#include "discover.h"
#include "host_path.h"
#include "log.h"
#include "refault_map.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_WILLNEED
#define MADV_WILLNEED 3
#endif

/*
 * Large actions go in slices, with act_progress() between them: under
 * emulation (or with slow swap) paging out a few hundred MiB takes longer
 * than the service's watchdog, and the caller pings it between slices.
 */
#define ADVISE_CHUNK (16ULL << 20)
/*
 * One PAGEOUT action may take this long; what is left is refunded to the
 * rate budget and waits a tick. A tick is single-flight: a pageout that
 * runs for seconds (under emulation, 64 MiB to zram can) delays the next
 * tick, and with it the restore of a VM whose working set just grew.
 */
#define PAGEOUT_BUDGET (2 * USEC_PER_SEC)
/*
 * memory.reclaim goes in slices as small, with the same time budget: on
 * Debian 6.1 under emulation (classic LRU, THP-backed anon to zram) the
 * kernel took 15 s for one 25.6 MiB write, 0.6 s a MiB, and the service's
 * 10 s watchdog killed balancerd in the middle of it (bench/densify.sh
 * --mode plain). A slice is one write; the watchdog is pinged between.
 */
#define RECLAIM_CHUNK	   (4ULL << 20)
#define RECLAIM_FILE_CHUNK (128ULL << 20)
#define RECLAIM_BUDGET	   (2 * USEC_PER_SEC)

/* Kernel limit on iovecs per process_madvise(2) call (UIO_MAXIOV). */
#define ACT_IOV_MAX 1024
/* Guest RAM mappings are large; smaller ones are QEMU's own heap. */
#define GUEST_MAPPING_MIN (2ULL << 20)
/* pagemap entries read per pread(2): 512 pages, one 2 MiB block. */
#define PAGEMAP_CHUNK	512
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGE_4K		4096ULL

/* Raw syscalls: glibc 2.36 lacks pidfd_open, and older ones lack
 * process_madvise. */
static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static ssize_t sys_process_madvise(int pidfd, const struct iovec *iov, size_t n,
				   int advice)
{
	return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0);
}

static void act_progress(const struct act_context *ctx)
{
	if (ctx->progress)
		ctx->progress(ctx->progress_userdata);
}

int act_cgroup_path(const struct act_context *ctx, const char *cgroup,
		    const char *file, char *buf, size_t len)
{
	return host_cgroup_path(buf, len, ctx->root, ctx->cgroup_root, cgroup,
				file);
}

int act_write_file(const char *path, const char *data, void *userdata)
{
	size_t len = strlen(data);
	ssize_t w;
	int fd, r = 0;

	(void)userdata;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	w = write(fd, data, len);
	if (w < 0)
		r = -errno;
	else if ((size_t)w != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

static int read_current(const struct act_context *ctx, const char *cgroup,
			uint64_t *ret)
{
	char path[PATH_MAX], buf[64];
	ssize_t n;
	int fd, r;

	r = act_cgroup_path(ctx, cgroup, "memory.current", path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = 0;
	return parse_memory_value(buf, ret);
}

static int write_value(const struct act_context *ctx, const char *cgroup,
		       const char *file, uint64_t bytes)
{
	char path[PATH_MAX], data[32];
	int r;

	r = act_cgroup_path(ctx, cgroup, file, path, sizeof(path));
	if (r < 0)
		return r;
	if (bytes == MEMORY_UNLIMITED)
		snprintf(data, sizeof(data), "max");
	else
		snprintf(data, sizeof(data), "%" PRIu64, bytes);
	if (ctx->write)
		return ctx->write(path, data, ctx->write_userdata);
	return act_write_file(path, data, NULL);
}

void act_kept_file_close(struct act_kept_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/*
 * Write @bytes to the VM's memory.reclaim through the descriptor kept in
 * ctx->reclaim: one pwrite(2) on cgroupfs. A file elsewhere (a test's
 * fixture tree) is truncated after, as O_TRUNC would. Without a kept
 * descriptor (or with a test's writer), as write_value().
 */
/* Open the kept memory.reclaim descriptor if it is not yet. */
static int kept_reclaim_open(const struct act_context *ctx,
			     const struct vm_signals *vm)
{
	struct act_kept_file *k = ctx->reclaim;
	char path[PATH_MAX];
	struct statfs sfs;
	int r;

	if (k->fd >= 0)
		return 0;
	r = act_cgroup_path(ctx, vm->cgroup, "memory.reclaim", path,
			    sizeof(path));
	if (r < 0)
		return r;
	k->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (k->fd < 0)
		return errno == ENODEV ? -ENOENT : -errno;
	k->regular = fstatfs(k->fd, &sfs) < 0 ||
		     (unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC;
	return 0;
}

/*
 * The slice of one memory.reclaim write. A kept file that is not
 * cgroupfs (a fixture) reclaims nothing and keeps only the last write:
 * there one slice of RECLAIM_FILE_CHUNK, so that it shows the request.
 */
static uint64_t reclaim_slice(const struct act_context *ctx,
			      const struct vm_signals *vm)
{
	if (!ctx->write && ctx->reclaim && kept_reclaim_open(ctx, vm) == 0 &&
	    ctx->reclaim->regular)
		return RECLAIM_FILE_CHUNK;
	return RECLAIM_CHUNK;
}

static int write_reclaim(const struct act_context *ctx,
			 const struct vm_signals *vm, uint64_t bytes)
{
	struct act_kept_file *k = ctx->reclaim;
	char data[32];
	ssize_t w;
	int r;

	if (ctx->write || !k)
		return write_value(ctx, vm->cgroup, "memory.reclaim", bytes);
	r = kept_reclaim_open(ctx, vm);
	if (r < 0)
		return r;
	snprintf(data, sizeof(data), "%" PRIu64, bytes);
	w = pwrite(k->fd, data, strlen(data), 0);
	if (w < 0) {
		r = errno == ENODEV ? -ENOENT : -errno;
		if (r != -EAGAIN && r != -EINTR)
			act_kept_file_close(k); /* afresh next time */
		return r;
	}
	if ((size_t)w != strlen(data))
		return -EIO;
	if (k->regular && ftruncate(k->fd, w) < 0)
		return -errno;
	return 0;
}

/*
 * memory.reclaim for @bytes, measured: what memory.current lost, at most
 * @bytes, starting from @before. EAGAIN is a partial reclaim, not an
 * error.
 */
static int reclaim_measured(const struct act_context *ctx,
			    const struct vm_signals *vm, uint64_t before,
			    uint64_t bytes, uint64_t *done, bool *partial,
			    bool *out_of_time)
{
	usec_t deadline = now_monotonic() + RECLAIM_BUDGET;
	uint64_t after = 0, slice = reclaim_slice(ctx, vm);
	int r = 0;

	*done = 0;
	while (*done < bytes) {
		uint64_t chunk = bytes - *done < slice ? bytes - *done : slice;

		if (*done) {
			act_progress(ctx);
			/* the rest goes back to the rate budget */
			if (now_monotonic() > deadline) {
				*partial = *out_of_time = true;
				break;
			}
		}
		r = write_reclaim(ctx, vm, chunk);
		if (r < 0)
			break;
		/* The kernel returns success only once it reclaimed at
		 * least what was asked. */
		*done += chunk;
	}
	if (r != -EAGAIN)
		return r;
	*partial = true;
	/* What left since @before, less the chunks already counted. */
	if (read_current(ctx, vm->cgroup, &after) == 0 && before > after &&
	    before - after > *done)
		*done = before - after < bytes ? before - after : bytes;
	return 0;
}

static int do_reclaim(const struct act_context *ctx, const struct action *a,
		      const struct vm_signals *vm, struct act_result *res)
{
	/* "before" is this tick's reading, taken moments ago: reading it
	 * again for every action would double the daemon's file I/O, and it
	 * only matters for the rare partial reclaim. */
	return reclaim_measured(ctx, vm, vm->memory_current, a->bytes,
				&res->bytes_done, &res->partial,
				&res->out_of_time);
}

/*
 * Advise @n ranges in batches of ACT_IOV_MAX and ADVISE_CHUNK bytes;
 * *@done = bytes advised, from the start of @iov. Past @deadline
 * (monotonic usec, 0: none) it stops between batches.
 */
static int advise(const struct act_context *ctx, pid_t pid,
		  const struct iovec *iov, size_t n, int advice,
		  usec_t deadline, uint64_t *done)
{
	struct iovec batch[ACT_IOV_MAX];
	uint64_t off = 0; /* into iov[i] */
	size_t i = 0;
	int pidfd, r = 0;

	*done = 0;
	if (pid <= 0)
		return -EOPNOTSUPP;
	pidfd = sys_pidfd_open(pid);
	if (pidfd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	while (i < n) {
		uint64_t bytes = 0;
		size_t k = 0;
		ssize_t w;

		/* At most ADVISE_CHUNK bytes per call, splitting ranges. */
		while (i < n && k < ACT_IOV_MAX && bytes < ADVISE_CHUNK) {
			uint64_t len = iov[i].iov_len - off;

			if (len > ADVISE_CHUNK - bytes)
				len = ADVISE_CHUNK - bytes;
			batch[k].iov_base = (char *)iov[i].iov_base + off;
			batch[k++].iov_len = len;
			bytes += len;
			off += len;
			if (off == iov[i].iov_len) {
				i++;
				off = 0;
			}
		}
		w = sys_process_madvise(pidfd, batch, k, advice);
		if (w < 0) {
			r = -errno;
			break;
		}
		*done += (uint64_t)w;
		if (i < n)
			act_progress(ctx);
		if (deadline && now_monotonic() > deadline)
			break;
	}
	close(pidfd);
	return r;
}

/* Under half of what was advised left memory.current: the kernel kept
 * the rest (pages it could not isolate or unmap, or the guest touched
 * again at once). */
#define PAGEOUT_SHORT(freed, advised) ((freed) < (advised) / 2)
/* Over an eighth stayed: worth a second pass (see PAGEOUT_PASSES). */
#define PAGEOUT_RETRY(freed, advised) ((freed) < (advised) - (advised) / 8)

/*
 * Before 6.9 MADV_PAGEOUT honours references, and the mmu notifier reports
 * a guest page as young until someone clears it: the first pass over
 * freshly mapped guest pages clears the young bits and frees little, a
 * second one frees them. More passes do not help.
 */
#define PAGEOUT_PASSES 2

/* Advise @iov out and measure what left memory.current since @before. */
static int pageout_pass(const struct act_context *ctx,
			const struct vm_signals *vm, const struct iovec *iov,
			size_t n, uint64_t before, usec_t deadline,
			uint64_t *advised, uint64_t *freed, uint64_t *after)
{
	int r = advise(ctx, vm->pid, iov, n, MADV_PAGEOUT, deadline, advised);

	*freed = 0;
	if (r == 0 && read_current(ctx, vm->cgroup, after) == 0 &&
	    before > *after)
		*freed =
			before - *after < *advised ? before - *after : *advised;
	return r;
}

/* Cut @iov to its first @bytes; returns the new count of ranges. */
static size_t iov_prefix(struct iovec *iov, size_t n, uint64_t bytes)
{
	size_t k = 0;

	while (k < n && bytes) {
		if (iov[k].iov_len > bytes)
			iov[k].iov_len = bytes;
		bytes -= iov[k].iov_len;
		k++;
	}
	return k;
}

static int iov_add(struct iovec **iov, size_t *n, size_t *cap, uint64_t addr,
		   uint64_t len);

/* The pagemap entries of [@va, @end), at most PAGEMAP_CHUNK, into @ents:
 * how many, 0 at the end of the file, or -errno. */
static ssize_t pagemap_read(int pm, uint64_t va, uint64_t end, uint64_t *ents)
{
	uint64_t pages = (end - va) / PAGE_4K;
	ssize_t rd;

	if (pages > PAGEMAP_CHUNK)
		pages = PAGEMAP_CHUNK;
	rd = pread(pm, ents, pages * sizeof(uint64_t),
		   (off_t)(va / PAGE_4K * sizeof(uint64_t)));
	if (rd < 0)
		return -errno;
	return rd / (ssize_t)sizeof(uint64_t);
}

/* Called with up to PAGEMAP_CHUNK entries, the first for the page at
 * @va; 0 to go on, or a negative errno to stop the walk with. */
typedef int (*pagemap_fn)(uint64_t va, const uint64_t *ents, size_t n,
			  void *userdata);

/*
 * The one pagemap walk: the entries of @pid's pages in @iov (in order),
 * a chunk at a time, to @fn. 0, -ENOENT when the process is gone, or
 * -errno.
 */
static int pagemap_walk(const char *root, pid_t pid, const struct iovec *iov,
			size_t n, pagemap_fn fn, void *userdata)
{
	uint64_t ents[PAGEMAP_CHUNK];
	char path[PATH_MAX];
	int pm, r = 0;

	r = host_path(path, sizeof(path), root, "/proc/%d/pagemap", (int)pid);
	if (r < 0)
		return r;
	pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return -errno;
	for (size_t k = 0; k < n && r == 0; k++) {
		uint64_t va = (uint64_t)(uintptr_t)iov[k].iov_base;
		uint64_t end = va + iov[k].iov_len;

		while (va < end && r == 0) {
			ssize_t got = pagemap_read(pm, va, end, ents);

			if (got <= 0) {
				r = got < 0 ? (int)got : -EIO;
				break;
			}
			r = fn(va, ents, (size_t)got, userdata);
			va += (uint64_t)got * PAGE_4K;
		}
	}
	close(pm);
	return r;
}

struct gone {
	struct iovec *iov;
	size_t n, cap;
};

static int add_gone(uint64_t va, const uint64_t *ents, size_t n, void *ud)
{
	struct gone *g = ud;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		if (!(ents[i] & PAGEMAP_PRESENT))
			r = iov_add(&g->iov, &g->n, &g->cap, va + i * PAGE_4K,
				    PAGE_4K);
	return r;
}

/*
 * The pages of @iov that are not resident any more, by /proc/PID/pagemap
 * (swapped out, or never faulted in), as *@ret. Returns 0 or -errno.
 */
static int gone_ranges(const char *root, pid_t pid, const struct iovec *iov,
		       size_t n, struct iovec **ret, size_t *ret_n)
{
	struct gone g = {0};
	int r = pagemap_walk(root, pid, iov, n, add_gone, &g);

	if (r < 0) {
		free(g.iov);
		return r;
	}
	*ret = g.iov;
	*ret_n = g.n;
	return 0;
}

/*
 * What a pageout of @iov took, for the source to record when the action
 * is settled: the pages that are not resident now, whatever freed them
 * (often the host had swapped some already: advising them again frees
 * nothing, and counting them cold would pick the same ranges tick after
 * tick). Pages that stayed remain cold candidates. Without pagemap (no
 * permission) every advised page counts as taken: one still resident is
 * then missed until the guest touches it, which is better than a pageout
 * stuck on the same ranges.
 */
static void note_taken(const struct act_context *ctx,
		       const struct vm_signals *vm, const struct iovec *iov,
		       size_t n, struct act_result *res)
{
	struct iovec *gone = NULL;
	size_t g = 0;

	if (gone_ranges(ctx->root ? ctx->root : "/", vm->pid, iov, n, &gone,
			&g) < 0) {
		gone = n ? malloc(n * sizeof(*gone)) : NULL;
		if (!gone)
			return; /* -ENOMEM: those pages count as cold again */
		memcpy(gone, iov, n * sizeof(*gone));
		g = n;
	}
	res->taken = gone;
	res->n_taken = g;
}

int act_pageout_ranges(const struct act_context *ctx,
		       const struct vm_signals *vm, struct iovec *iov, size_t n,
		       struct act_result *res)
{
	uint64_t before = vm->memory_current, after = 0, freed = 0;
	uint64_t total = 0, advised = 0;
	usec_t deadline = now_monotonic() + PAGEOUT_BUDGET;
	int r = 0;

	for (size_t k = 0; k < n; k++)
		total += iov[k].iov_len;
	for (int pass = 0; pass < PAGEOUT_PASSES && r == 0; pass++) {
		if (pass) {
			/* again over what the first pass reached, in time */
			if (now_monotonic() > deadline)
				break;
			n = iov_prefix(iov, n, advised);
			act_progress(ctx);
		}
		r = pageout_pass(ctx, vm, iov, n, before, deadline, &advised,
				 &freed, &after);
		if (pass == 0)
			res->bytes_advised = advised;
		if (!PAGEOUT_RETRY(freed, advised))
			break;
	}
	if (r == 0)
		note_taken(ctx, vm, iov, iov_prefix(iov, n, res->bytes_advised),
			   res);
	res->bytes_done = freed;
	/* Less than asked is reported, not made up for through
	 * memory.reclaim: on a VM that touches its pages again as fast as
	 * they leave, that only blocks the tick. decide() sees BYTES_DONE. */
	res->out_of_time = r == 0 && res->bytes_advised < total;
	res->partial = r == 0 && (res->out_of_time ||
				  PAGEOUT_SHORT(freed, res->bytes_advised));
	return r;
}

static int do_pageout(const struct act_context *ctx, const struct action *a,
		      const struct vm_signals *vm, struct act_result *res)
{
	if (!ctx->cold || !ctx->cold->give_back)
		return -EOPNOTSUPP; /* the source cannot tell what is cold */
	return ctx->cold->give_back(ctx->cold_state, ctx, vm, ctx->cold_ticks,
				    a->bytes, res);
}

void act_result_release(struct act_result *res)
{
	free(res->taken);
	res->taken = NULL;
	res->n_taken = 0;
}

/* Append [addr, addr+len) to @iov, merging with the last range. */
static int iov_add(struct iovec **iov, size_t *n, size_t *cap, uint64_t addr,
		   uint64_t len)
{
	if (*n) {
		struct iovec *last = &(*iov)[*n - 1];

		if ((uint64_t)(uintptr_t)last->iov_base + last->iov_len ==
		    addr) {
			last->iov_len += len;
			return 0;
		}
	}
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct iovec *p = realloc(*iov, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*iov = p;
		*cap = c;
	}
	(*iov)[(*n)++] = (struct iovec){(void *)(uintptr_t)addr, len};
	return 0;
}

/*
 * Restore without ovcmem (refault_map.h): where the VM refaults, from
 * pagemap samples of its guest RAM, and the swapped pages around there.
 * The maps live here, one per VM, because the "none" source has no state
 * of its own; a worker touches only its VM's map, the lock guards the
 * table. A VM unseen for REFAULT_FORGET is dropped (it vanished, or has
 * had nothing reclaimed or prefaulted for that long: its next reclaim
 * makes a new baseline).
 */
#define REFAULT_FORGET (10 * 60 * USEC_PER_SEC)
/*
 * A walk costs 15-70 ms per GiB of guest RAM (1 GiB of THP-backed anon on
 * the 2-CPU build host, loaded): after a reclaim, one per VM at most this
 * often. What a VM gives back and refaults within it is missed; what it
 * refaults of its older cold memory (a working set that grows) is not.
 */
#define REFAULT_BASELINE_SPACING (5 * USEC_PER_SEC)
/* What we prefault is watched for the class's cold age (cold_ticks at the
 * default 1 s interval), within these bounds. */
#define PREFAULT_WATCH_MIN (5 * USEC_PER_SEC)
/* A prefault reads from swap in the caller's context (synchronously from
 * zram): past this it stops between batches, the hottest blocks done. */
#define PREFAULT_BUDGET	   (1 * USEC_PER_SEC)
#define PREFAULT_WATCH_MAX (10 * 60 * USEC_PER_SEC)

struct refault_vm {
	char cgroup[CGROUP_PATH_MAX];
	pid_t pid;
	usec_t used_at;
	struct refault_map map;
};

static pthread_mutex_t refault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct refault_vm **refault_vms;
static size_t refault_n, refault_cap;

static void refault_vm_free(struct refault_vm *rv)
{
	refault_map_free(&rv->map);
	free(rv);
}

/* Index of @cgroup in the table (sorted by cgroup), or where it goes. */
static size_t refault_find(const char *cgroup, bool *found)
{
	size_t lo = 0, hi = refault_n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(refault_vms[mid]->cgroup, cgroup);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void refault_remove_at(size_t i)
{
	refault_vm_free(refault_vms[i]);
	memmove(&refault_vms[i], &refault_vms[i + 1],
		(refault_n - i - 1) * sizeof(*refault_vms));
	refault_n--;
}

/* The maps of VMs unseen for REFAULT_FORGET go, once a minute. */
static void refault_sweep(usec_t now)
{
	static usec_t next;

	if (now < next)
		return;
	next = now + 60 * USEC_PER_SEC;
	for (size_t i = refault_n; i-- > 0;)
		if (now > refault_vms[i]->used_at + REFAULT_FORGET)
			refault_remove_at(i);
}

/* @vm's map (a new one for a new VM or a new VMM process), NULL without
 * memory. */
static struct refault_vm *refault_vm_of(const struct vm_signals *vm, usec_t now)
{
	struct refault_vm *rv = NULL;
	bool found;
	size_t i;

	pthread_mutex_lock(&refault_lock);
	refault_sweep(now);
	i = refault_find(vm->cgroup, &found);
	if (found) {
		rv = refault_vms[i];
	} else {
		if (refault_n == refault_cap) {
			size_t c = refault_cap ? refault_cap * 2 : 16;
			struct refault_vm **p =
				realloc(refault_vms, c * sizeof(*p));

			if (!p)
				goto out;
			refault_vms = p;
			refault_cap = c;
		}
		rv = calloc(1, sizeof(*rv));
		if (!rv)
			goto out;
		snprintf(rv->cgroup, sizeof(rv->cgroup), "%s", vm->cgroup);
		rv->pid = vm->pid;
		refault_map_init(&rv->map);
		memmove(&refault_vms[i + 1], &refault_vms[i],
			(refault_n - i) * sizeof(*refault_vms));
		refault_vms[i] = rv;
		refault_n++;
	}
	if (rv->pid != vm->pid) {
		/* another process: other addresses */
		refault_map_free(&rv->map);
		rv->pid = vm->pid;
	}
	rv->used_at = now;
out:
	pthread_mutex_unlock(&refault_lock);
	return rv;
}

static void refault_vm_drop(const char *cgroup)
{
	bool found;
	size_t i;

	pthread_mutex_lock(&refault_lock);
	i = refault_find(cgroup, &found);
	if (found)
		refault_remove_at(i);
	pthread_mutex_unlock(&refault_lock);
}

void act_refault_forget_all(void)
{
	pthread_mutex_lock(&refault_lock);
	for (size_t i = 0; i < refault_n; i++)
		refault_vm_free(refault_vms[i]);
	free(refault_vms);
	refault_vms = NULL;
	refault_n = refault_cap = 0;
	pthread_mutex_unlock(&refault_lock);
}

bool act_refault_totals(const char *cgroup, struct refault_totals *ret)
{
	bool found;
	size_t i;

	pthread_mutex_lock(&refault_lock);
	i = refault_find(cgroup, &found);
	if (found)
		*ret = refault_vms[i]->map.totals;
	pthread_mutex_unlock(&refault_lock);
	return found;
}

bool act_maps_line_guest_ram(const char *line, uint64_t *start, uint64_t *len)
{
	unsigned long long lo, hi;
	char perms[8];

	if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 ||
	    strlen(perms) < 2 || perms[1] != 'w' || hi <= lo ||
	    hi - lo < GUEST_MAPPING_MIN)
		return false;
	*start = lo;
	*len = hi - lo;
	return true;
}

/* Guest RAM: the process's large writable mappings, in address order
 * (/proc/PID/maps). 0, -ENOENT when the process is gone, or -errno. */
static int guest_mappings(const char *root, pid_t pid, struct iovec **ret,
			  size_t *ret_n)
{
	char path[PATH_MAX], line[512];
	struct iovec *iov = NULL;
	size_t n = 0, cap = 0;
	bool line_start = true;
	FILE *maps;
	int r = 0;

	r = host_path(path, sizeof(path), root, "/proc/%d/maps", (int)pid);
	if (r < 0)
		return r;
	maps = fopen(path, "re");
	if (!maps)
		return -errno;
	while (r == 0 && fgets(line, sizeof(line), maps)) {
		uint64_t lo, len;
		/* The rest of a line longer than the buffer (a long path)
		 * is not a line of its own. */
		bool whole = line_start;

		line_start = strchr(line, '\n') != NULL;
		if (whole && act_maps_line_guest_ram(line, &lo, &len))
			r = iov_add(&iov, &n, &cap, lo, len);
	}
	fclose(maps);
	if (r < 0) {
		free(iov);
		return r;
	}
	*ret = iov;
	*ret_n = n;
	return 0;
}

static int add_sample(uint64_t va, const uint64_t *ents, size_t n, void *ud)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = refault_sample_add(ud, va + i * PAGE_4K,
				       ents[i] & PAGEMAP_SWAPPED,
				       ents[i] & PAGEMAP_PRESENT);
	return r;
}

/* The VM's refault counters: they move when it faults in what was
 * reclaimed (MGLRU and the classic LRU count refaults differently, major
 * faults both). */
static uint64_t refault_counters(const struct vm_signals *vm)
{
	return vm->workingset_refault_anon + vm->pgmajfault;
}

static int sample_vm(const struct act_context *ctx, const struct vm_signals *vm,
		     struct refault_vm *rv, usec_t now,
		     struct refault_update *u)
{
	const char *root = ctx->root ? ctx->root : "/";
	struct refault_sample s = {0};
	struct iovec *ram = NULL;
	size_t n = 0;
	int r;

	r = guest_mappings(root, vm->pid, &ram, &n);
	if (r == 0)
		r = pagemap_walk(root, vm->pid, ram, n, add_sample, &s);
	if (r == 0)
		r = refault_map_update(&rv->map, &s, now, refault_counters(vm),
				       u);
	free(ram);
	refault_sample_free(&s);
	if (r == -ENOENT || r == -ESRCH)
		refault_vm_drop(vm->cgroup);
	return r;
}

/* One journal entry for what the restore learned or did; none when
 * nothing happened (most ticks). */
static void log_restore(const struct vm_signals *vm,
			const struct refault_vm *rv,
			const struct refault_update *u, uint64_t planned,
			uint64_t done)
{
	const struct refault_totals *t = &rv->map.totals;
	unsigned int against = refault_totals_against_permille(t);
	char pl[16], dn[16];
	struct log_field f[10];
	size_t k = 0;

	if (!done && !u->wasted && !u->reclaimed_again)
		return;
	log_field_set(&f[k++], "VM", "%s", vm->name);
	log_field_set(&f[k++], "RESTORE_REFAULTED_PAGES", "%" PRIu64,
		      u->refaulted);
	log_field_set(&f[k++], "RESTORE_HOT_BLOCKS", "%zu", u->hot_blocks);
	log_field_set(&f[k++], "RESTORE_PLANNED_BYTES", "%" PRIu64, planned);
	log_field_set(&f[k++], "RESTORE_PREFAULTED_BYTES", "%" PRIu64, done);
	log_field_set(&f[k++], "PREFAULTED_PAGES_TOTAL", "%" PRIu64,
		      t->prefaulted);
	log_field_set(&f[k++], "PREFAULT_USED_PAGES_TOTAL", "%" PRIu64,
		      t->used);
	log_field_set(&f[k++], "PREFAULT_WASTED_PAGES_TOTAL", "%" PRIu64,
		      t->wasted);
	log_field_set(&f[k++], "PREFAULT_RECLAIMED_AGAIN_PAGES_TOTAL",
		      "%" PRIu64, t->reclaimed_again);
	log_send(LOG_INFO, MSGID_NONE, f, k,
		 "%s restore: %" PRIu64 " pages refaulted in %zu hot blocks "
		 "since the last look, prefaulted %s of %s planned around "
		 "them; so far %" PRIu64 " pages prefaulted, %" PRIu64
		 " used, %" PRIu64 " never used, %" PRIu64
		 " reclaimed again (%u.%u%% against)",
		 vm->name, u->refaulted, u->hot_blocks,
		 format_size(done, dn, sizeof(dn)),
		 format_size(planned, pl, sizeof(pl)), t->prefaulted, t->used,
		 t->wasted, t->reclaimed_again, against / 10, against % 10);
}

/* A sample after @spacing since the last (0: now). */
static int refault_sample_spaced(const struct act_context *ctx,
				 const struct vm_signals *vm, usec_t spacing)
{
	struct refault_update u = {0};
	usec_t now = now_monotonic();
	struct refault_vm *rv;
	int r;

	if (vm->pid <= 0)
		return -EOPNOTSUPP;
	rv = refault_vm_of(vm, now);
	if (!rv)
		return -ENOMEM;
	if (rv->map.sampled && now < rv->map.last_sample + spacing)
		return 0;
	r = sample_vm(ctx, vm, rv, now, &u);
	if (r == 0)
		log_restore(vm, rv, &u, 0, 0);
	return r;
}

int act_refault_sample(const struct act_context *ctx,
		       const struct vm_signals *vm)
{
	return refault_sample_spaced(ctx, vm, 0);
}

static usec_t prefault_watch(const struct act_context *ctx)
{
	usec_t w = (usec_t)ctx->cold_ticks * USEC_PER_SEC;

	if (!ctx->cold_ticks || ctx->cold_ticks == UINT_MAX ||
	    w > PREFAULT_WATCH_MAX)
		return PREFAULT_WATCH_MAX;
	return w < PREFAULT_WATCH_MIN ? PREFAULT_WATCH_MIN : w;
}

int act_prefault_refaulted(const struct act_context *ctx,
			   const struct vm_signals *vm, uint64_t bytes,
			   struct act_result *res)
{
	struct refault_update u = {0};
	struct refault_range *plan = NULL;
	usec_t now = now_monotonic();
	struct iovec *iov = NULL;
	uint64_t planned = 0;
	struct refault_vm *rv;
	size_t n = 0;
	int r = 0;

	if (vm->pid <= 0)
		return -EOPNOTSUPP;
	rv = refault_vm_of(vm, now);
	if (!rv)
		return -ENOMEM;
	/* A new look only when the VM faulted something in since the
	 * last: otherwise the last one still says where it refaults. */
	if (refault_map_counters_rose(&rv->map, refault_counters(vm)))
		r = sample_vm(ctx, vm, rv, now, &u);
	if (r == 0)
		r = refault_map_plan(&rv->map, now, bytes, &plan, &n, &planned);
	if (r == 0 && n) {
		iov = malloc(n * sizeof(*iov));
		if (!iov)
			r = -ENOMEM;
	}
	if (r == 0 && n) {
		for (size_t k = 0; k < n; k++)
			iov[k] = (struct iovec){(void *)(uintptr_t)plan[k].addr,
						plan[k].len};
		r = advise(ctx, vm->pid, iov, n, MADV_WILLNEED,
			   now + PREFAULT_BUDGET, &res->bytes_done);
		/* what was advised before an error still went out */
		refault_map_mark(&rv->map, plan, n, res->bytes_done, now,
				 prefault_watch(ctx));
	}
	if (r == 0)
		log_restore(vm, rv, &u, planned, res->bytes_done);
	res->partial = r == 0 && res->bytes_done < planned;
	free(iov);
	free(plan);
	return r;
}

static int do_prefault(const struct act_context *ctx, const struct action *a,
		       const struct vm_signals *vm, struct act_result *res)
{
	const struct cold_source_ops *ops =
		ctx->cold ? ctx->cold : &cold_source_none;

	return ops->fault_back(ctx->cold_state, ctx, vm, a->bytes, res);
}

int act_execute(const struct act_context *ctx, const struct action *a,
		const struct vm_signals *vm, struct act_result *res)
{
	usec_t t0 = now_monotonic();
	int r;

	memset(res, 0, sizeof(*res));
	if (ctx->dry_run) {
		res->dry_run = true;
		return 0;
	}
	switch (a->kind) {
	case ACTION_RECLAIM:
		r = do_reclaim(ctx, a, vm, res);
		break;
	case ACTION_PAGEOUT:
		r = do_pageout(ctx, a, vm, res);
		break;
	case ACTION_PREFAULT:
		r = do_prefault(ctx, a, vm, res);
		break;
	case ACTION_SET_HIGH:
		r = write_value(ctx, vm->cgroup, "memory.high", a->bytes);
		if (r == 0)
			res->bytes_done = a->bytes;
		break;
	case ACTION_SET_LOW:
		r = write_value(ctx, vm->cgroup, "memory.low", a->bytes);
		if (r == 0)
			res->bytes_done = a->bytes;
		break;
	case ACTION_MERGE:
	case ACTION_UNMERGE:
		r = cold_source_set_merge(ctx, vm, a->kind == ACTION_MERGE,
					  res);
		break;
	default:
		r = -EINVAL;
		break;
	}
	/* A new baseline of where the VM's memory is, right after we took
	 * some: its refaults from here on show where its working set is. */
	if (r == 0 && res->bytes_done && vm->pid > 0 &&
	    (a->kind == ACTION_RECLAIM || a->kind == ACTION_PAGEOUT) &&
	    ctx->cold != &cold_source_ovcmem)
		(void)refault_sample_spaced(ctx, vm, REFAULT_BASELINE_SPACING);
	res->error = r;
	res->duration = now_monotonic() - t0;
	return r;
}
