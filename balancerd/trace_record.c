// SPDX-License-Identifier: GPL-2.0
/*
 * The trace recorder: the tick copies what decide() read, decided and
 * achieved (a memcpy: about 2 MiB for 1000 VMs) and queues the copy; a
 * writer thread makes the JSON line (about 40 ms for 1000 VMs) and
 * writes it, so neither the serializing nor a slow disk delays balancing.
 *
 * Headers for a start or a reload are made by the tick thread (the policy
 * is the manager's and changes at a reload); the writer keeps the last
 * one's policy to write the header that starts each file after a
 * rotation, with the state the tick's copy carries. When the queue holds
 * more than TRACE_QUEUE_MAX a tick is dropped, and the next tick writes a
 * "gap" header with decide()'s state, from which a replay picks up
 * again. A write or rotation that fails stops recording for good (until a
 * reload names a file again).
 *
 * The log is not thread-safe: the writer only notes a failure, and the
 * tick thread says it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "safe_open.h"
#include "state.h"
#include "trace.h"
#include "trace_record.h"

/* What may wait for the writer, in bytes of copies and lines: a few
 * seconds of a 1000-VM host on a disk that stalls. */
#define TRACE_QUEUE_MAX (64U << 20)

/* One tick, copied: what the writer makes a line of. */
struct tick_copy {
	struct tick_input in; /* points into this copy; classes NULL */
	struct host_signals host;
	struct vm_signals *vms;
	char (*classes)[POLICY_NAME_MAX];
	struct tick_output out;
	struct trace_result *res;
	struct balancer_state state; /* after the tick: a rotation's header */
};

struct trace_item {
	struct trace_item *next;
	size_t cost; /* bytes counted against TRACE_QUEUE_MAX */
	/* A header line, with its policy, interval and dry_run for the
	 * headers of later rotations; or a tick. */
	char *line;
	json_t *policy;
	usec_t interval;
	bool dry_run;
	struct tick_copy *tick;
};

struct trace_recorder {
	char path[4096];
	uint64_t max_bytes;

	/* The tick thread's. */
	struct trace_result *results;
	size_t n_results, cap_results;
	const struct policy *policy; /* the manager's, for headers */
	usec_t interval;
	bool dry_run;
	bool gap; /* a tick was dropped: a header is due */
	bool drop_logged, fail_logged;

	/* Shared, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct trace_item *head, *tail;
	size_t queued, queue_max;
	bool closing, paused, busy;
	/* Set by the writer, read by the tick thread. */
	atomic_bool failed, lost;
	atomic_int fail_err;
	atomic_bool fail_rotate;

	/* The writer's. */
	int fd;
	uint64_t file_bytes;
	json_t *w_policy;
	usec_t w_interval;
	bool w_dry_run;
	bool w_skip; /* a tick was lost: none until the "gap" header */
	pthread_t writer;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * The trace at @path, opened to append to: only a regular file (or none
 * yet) in a directory nobody else may swap files in, as for the state
 * file (state_path_check()), so that a device node is never written to.
 * The open cannot block (a FIFO put there after the check would hang the
 * daemon at start: ENXIO without a reader) nor follow a link, and what
 * it opened is checked again. Returns the fd or a negative errno,
 * -ENOTREGULAR for anything but a regular file.
 */
static int open_trace(const char *path)
{
	struct stat st;
	int fd, r = state_path_check(path);

	if (r < 0)
		return r;
	fd = open(path,
		  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY |
			  O_NONBLOCK | O_NOFOLLOW,
		  0640);
	if (fd < 0)
		return errno == ENXIO || errno == ELOOP ? -ENOTREGULAR : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISREG(st.st_mode) ? -errno : -ENOTREGULAR;
		close(fd);
		return r;
	}
	return fd;
}

/* What open_trace() returned, in words. */
static const char *trace_strerror(int r)
{
	if (r == -EPERM)
		return "its directory is not ours, or others may write to it";
	return open_strerror(r);
}

static void tick_copy_free(struct tick_copy *c)
{
	if (!c)
		return;
	free(c->vms);
	free(c->classes);
	free(c->out.actions);
	free(c->res);
	free(c->state.vms);
	free(c);
}

static void item_free(struct trace_item *it)
{
	free(it->line);
	json_decref(it->policy);
	tick_copy_free(it->tick);
	free(it);
}

/* ---- the writer ------------------------------------------------------- */

/* A tick's line could not be made: the ticks after it are left out too,
 * until the tick thread's "gap" header restarts the file's state. */
static void lose(struct trace_recorder *r)
{
	r->w_skip = true;
	atomic_store(&r->lost, true);
}

static int write_line(struct trace_recorder *r, const char *line)
{
	size_t n = strlen(line);
	int e = write_all(r->fd, line, n);

	if (e == 0)
		r->file_bytes += n;
	return e;
}

/* FILE -> FILE.1, a new FILE that starts with the state after @c. */
static int rotate(struct trace_recorder *r, const struct tick_copy *c)
{
	char old[sizeof(r->path) + 2], *hdr;
	int e;

	snprintf(old, sizeof(old), "%s.1", r->path);
	/* The rename must not replace a device node put at "<path>.1". */
	e = state_path_check(old);
	if (e < 0)
		return e;
	close(r->fd);
	r->fd = -1;
	if (rename(r->path, old) < 0)
		return -errno;
	r->fd = open_trace(r->path);
	if (r->fd < 0)
		return r->fd;
	r->file_bytes = 0;
	hdr = trace_header_line_json("rotate", r->w_interval, r->w_dry_run,
				     r->w_policy, &c->state);
	if (!hdr) {
		lose(r);
		return 0;
	}
	e = write_line(r, hdr);
	free(hdr);
	return e;
}

static int write_tick(struct trace_recorder *r, const struct tick_copy *c)
{
	char *line = trace_tick_line_named(&c->in, c->classes, &c->out, c->res);
	int e;

	if (!line) {
		lose(r);
		return 0;
	}
	e = write_line(r, line);
	free(line);
	/* After a whole tick, so each file starts with a header holding the
	 * state the next tick starts from. */
	if (e == 0 && r->file_bytes >= r->max_bytes && r->w_policy) {
		e = rotate(r, c);
		if (e < 0)
			atomic_store(&r->fail_rotate, true);
	}
	return e;
}

static int write_item(struct trace_recorder *r, struct trace_item *it)
{
	if (it->tick)
		return r->w_skip ? 0 : write_tick(r, it->tick);
	r->w_skip = false;
	json_decref(r->w_policy);
	r->w_policy = it->policy;
	it->policy = NULL;
	r->w_interval = it->interval;
	r->w_dry_run = it->dry_run;
	return write_line(r, it->line);
}

static void *writer_main(void *userdata)
{
	struct trace_recorder *r = userdata;

	for (;;) {
		struct trace_item *it;
		int e;

		pthread_mutex_lock(&r->lock);
		r->busy = false;
		pthread_cond_broadcast(&r->cond); /* trace_recorder_flush */
		while ((!r->head || r->paused) && !r->closing)
			pthread_cond_wait(&r->cond, &r->lock);
		it = r->head;
		r->busy = it != NULL;
		if (it) {
			r->head = it->next;
			if (!r->head)
				r->tail = NULL;
			r->queued -= it->cost;
		}
		pthread_mutex_unlock(&r->lock);
		if (!it)
			return NULL; /* closing, and all is written */
		if (!atomic_load(&r->failed)) {
			e = write_item(r, it);
			if (e < 0) {
				atomic_store(&r->fail_err, e);
				atomic_store(&r->failed, true);
			}
		}
		item_free(it);
	}
}

/* ---- the tick thread ---------------------------------------------------- */

/* Queue @it, or free it when the queue is full. False: dropped. */
static bool enqueue(struct trace_recorder *r, struct trace_item *it)
{
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = r->queued + it->cost <= r->queue_max;
	if (ok) {
		if (r->tail)
			r->tail->next = it;
		else
			r->head = it;
		r->tail = it;
		r->queued += it->cost;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	if (!ok)
		item_free(it);
	return ok;
}

static void queue_header(struct trace_recorder *r, const char *why,
			 const struct balancer_state *s)
{
	struct trace_item *it = calloc(1, sizeof(*it));

	if (it) {
		it->policy = trace_policy_json(r->policy);
		it->interval = r->interval;
		it->dry_run = r->dry_run;
		if (it->policy)
			it->line = trace_header_line_json(
				why, r->interval, r->dry_run, it->policy, s);
		it->cost = it->line ? strlen(it->line) : 0;
	}
	if (it && !it->line) {
		item_free(it);
		it = NULL;
	}
	/* When it cannot be queued, the next tick tries again. */
	r->gap = !it || !enqueue(r, it);
}

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *p = malloc(n ? n * size : 1);

	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

static struct tick_copy *tick_copy_of(const struct trace_recorder *r,
				      const struct tick_input *in,
				      const struct tick_output *out,
				      const struct balancer_state *s)
{
	struct tick_copy *c = calloc(1, sizeof(*c));
	size_t nv = in->n_vms, na = out->n_actions;

	if (!c)
		return NULL;
	c->host = *in->host;
	c->vms = dup_array(in->vms, nv, sizeof(*c->vms));
	c->classes = calloc(nv ? nv : 1, sizeof(*c->classes));
	c->out = *out;
	c->out.actions = dup_array(out->actions, na, sizeof(*out->actions));
	c->out.cap_actions = na;
	c->res = calloc(na ? na : 1, sizeof(*c->res));
	c->state = *s;
	c->state.vms = dup_array(s->vms, s->n_vms, sizeof(*s->vms));
	c->state.cap_vms = s->n_vms;
	if (!c->vms || !c->classes || !c->out.actions || !c->res ||
	    !c->state.vms) {
		tick_copy_free(c);
		return NULL;
	}
	for (size_t i = 0; in->classes && i < nv; i++)
		if (in->classes[i])
			snprintf(c->classes[i], sizeof(c->classes[i]), "%s",
				 in->classes[i]->name);
	memcpy(c->res, r->results,
	       (na < r->n_results ? na : r->n_results) * sizeof(*c->res));
	c->in = (struct tick_input){.now = in->now,
				    .interval = in->interval,
				    .host = &c->host,
				    .vms = c->vms,
				    .n_vms = nv};
	return c;
}

int trace_recorder_open(const char *path, uint64_t max_bytes, const char *why,
			usec_t interval, bool dry_run, const struct policy *p,
			const struct balancer_state *s,
			struct trace_recorder **ret)
{
	struct trace_recorder *r = calloc(1, sizeof(*r));
	sigset_t all, old_mask;
	struct stat st;
	int e;

	if (!r)
		return -ENOMEM;
	if (snprintf(r->path, sizeof(r->path), "%s", path) >=
	    (int)sizeof(r->path)) {
		free(r);
		return -ENAMETOOLONG;
	}
	r->max_bytes = max_bytes ? max_bytes : TRACE_DEFAULT_MAX_BYTES;
	r->queue_max = TRACE_QUEUE_MAX;
	r->fd = open_trace(path);
	if (r->fd < 0) {
		e = r->fd;
		log_error("trace %s: cannot open: %s; not recording", path,
			  trace_strerror(e));
		free(r);
		return e;
	}
	if (fstat(r->fd, &st) == 0)
		r->file_bytes = (uint64_t)st.st_size;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	/* The writer takes no signal: a recorder opened before the event
	 * loop blocks SIGHUP/SIGTERM for its signalfd would otherwise leave
	 * a thread where their default action (exit) still applies. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old_mask);
	e = -pthread_create(&r->writer, NULL, writer_main, r);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (e < 0) {
		log_error_errno(e, "trace %s: no writer thread; not recording",
				path);
		close(r->fd);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		free(r);
		return e;
	}
	r->interval = interval;
	r->dry_run = dry_run;
	r->policy = p;
	queue_header(r, why, s);
	log_info("recording ticks to %s (rotated at %llu MiB)", path,
		 (unsigned long long)(r->max_bytes >> 20));
	*ret = r;
	return 0;
}

/* Once, from the tick thread: the writer cannot log. */
static void report_failure(struct trace_recorder *r)
{
	if (!atomic_load(&r->failed) || r->fail_logged)
		return;
	r->fail_logged = true;
	log_error("trace %s: cannot %s: %s; recording stops, balancing "
		  "goes on",
		  r->path, atomic_load(&r->fail_rotate) ? "rotate" : "write",
		  trace_strerror(atomic_load(&r->fail_err)));
}

void trace_recorder_close(struct trace_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->writer, NULL);
	report_failure(r);
	if (r->fd >= 0)
		close(r->fd);
	json_decref(r->w_policy);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->results);
	free(r);
}

void trace_recorder_set_queue_max(struct trace_recorder *r, size_t bytes)
{
	pthread_mutex_lock(&r->lock);
	r->queue_max = bytes;
	pthread_mutex_unlock(&r->lock);
}

void trace_recorder_pause(struct trace_recorder *r, bool paused)
{
	pthread_mutex_lock(&r->lock);
	r->paused = paused;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void trace_recorder_flush(struct trace_recorder *r)
{
	pthread_mutex_lock(&r->lock);
	while ((r->head && !r->paused) || r->busy)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

bool trace_recorder_active(const struct trace_recorder *r)
{
	return r && !atomic_load(&r->failed);
}

void trace_recorder_update(struct trace_recorder **rp, const char *path,
			   const char *why, usec_t interval, bool dry_run,
			   const struct policy *p,
			   const struct balancer_state *s)
{
	struct trace_recorder *r = *rp;

	if (r &&
	    (!path || strcmp(path, r->path) || !trace_recorder_active(r))) {
		trace_recorder_close(r);
		*rp = r = NULL;
	}
	if (!path || !*path)
		return;
	if (!r) {
		(void)trace_recorder_open(path, 0, why, interval, dry_run, p, s,
					  rp); /* logged */
		return;
	}
	r->interval = interval;
	r->dry_run = dry_run;
	r->policy = p;
	queue_header(r, why, s);
}

void trace_recorder_result(struct trace_recorder *r, size_t i,
			   const struct act_result *res)
{
	if (!trace_recorder_active(r))
		return;
	if (i >= r->cap_results) {
		size_t cap = i < 16 ? 16 : 2 * i;
		struct trace_result *p = realloc(r->results, cap * sizeof(*p));

		if (!p)
			return; /* that action's result reads as 0 */
		memset(p + r->cap_results, 0,
		       (cap - r->cap_results) * sizeof(*p));
		r->results = p;
		r->cap_results = cap;
	}
	r->results[i] = (struct trace_result){
		.bytes_done = res->bytes_done,
		.error = res->error,
		.partial = res->partial,
		.dry_run = res->dry_run,
	};
	if (i + 1 > r->n_results)
		r->n_results = i + 1;
}

void trace_recorder_tick(struct trace_recorder *r, const struct tick_input *in,
			 const struct tick_output *out,
			 const struct balancer_state *s)
{
	struct trace_item *it;

	if (r)
		report_failure(r);
	if (!trace_recorder_active(r))
		return;
	if (atomic_exchange(&r->lost, false))
		r->gap = true;
	if (r->gap) {
		/* The state after this tick: its line is left out. */
		queue_header(r, "gap", s);
		goto done;
	}
	it = calloc(1, sizeof(*it));
	if (it)
		it->tick = tick_copy_of(r, in, out, s);
	if (it && !it->tick) {
		item_free(it);
		it = NULL;
	}
	if (it)
		it->cost = sizeof(*it->tick) +
			   in->n_vms * (sizeof(struct vm_signals) +
					POLICY_NAME_MAX) +
			   out->n_actions * (sizeof(struct action) +
					     sizeof(struct trace_result)) +
			   s->n_vms * sizeof(struct vm_state);
	if (!it || !enqueue(r, it)) { /* enqueue frees what it drops */
		r->gap = true;
		if (!r->drop_logged)
			log_warning("trace %s: the disk is behind, ticks "
				    "dropped (a \"gap\" header follows)",
				    r->path);
		r->drop_logged = true;
	}
done:
	if (r->results)
		memset(r->results, 0, r->cap_results * sizeof(*r->results));
	r->n_results = 0;
}
