// SPDX-License-Identifier: GPL-2.0
/*
 * The trace recorder: the tick serializes its line and queues it; a
 * writer thread writes, so a slow or full disk never delays balancing.
 *
 * The tick thread owns every decision (what to write, when to rotate,
 * when a header is due); the writer only executes them in order. When
 * the queue is over TRACE_QUEUE_MAX the line is dropped and the next
 * tick writes a "gap" header with decide()'s state, from which a replay
 * picks up again. A write or open that fails is logged once and
 * recording stops for good (until the next reload names a file).
 *
 * The log is not thread-safe: the writer only notes a failure, and the
 * tick thread says it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "trace.h"

/* Lines waiting for the writer, in bytes: a few seconds of a large host
 * on a disk that stalls, without growing the daemon unboundedly. */
#define TRACE_QUEUE_MAX (32U << 20)

struct trace_item {
	struct trace_item *next;
	bool rotate; /* FILE -> FILE.1, then a new FILE */
	size_t len;
	char line[];
};

struct trace_recorder {
	char path[4096];
	uint64_t max_bytes;

	/* The tick thread's. */
	uint64_t file_bytes; /* FILE's size once the queue is written */
	struct trace_result *results;
	size_t n_results, cap_results;
	const struct policy *policy; /* the last header's, for rotations */
	usec_t interval;
	bool dry_run;
	bool gap; /* a line was dropped: a header is due */
	bool drop_logged;

	/* Shared with the writer, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct trace_item *head, *tail;
	size_t queued;
	bool closing;
	atomic_bool failed;
	atomic_int fail_err; /* the writer's errno, for the tick to log */
	atomic_bool fail_rotate;
	bool fail_logged; /* the tick thread's */

	int fd; /* the writer's */
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

static int open_trace(const char *path)
{
	int fd =
		open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
		     0640);

	return fd < 0 ? -errno : fd;
}

static int rotate(struct trace_recorder *r)
{
	char old[sizeof(r->path) + 2];

	snprintf(old, sizeof(old), "%s.1", r->path);
	close(r->fd);
	r->fd = -1;
	if (rename(r->path, old) < 0)
		return -errno;
	r->fd = open_trace(r->path);
	return r->fd < 0 ? r->fd : 0;
}

static void *writer_main(void *userdata)
{
	struct trace_recorder *r = userdata;

	for (;;) {
		struct trace_item *it;
		int e = 0;

		pthread_mutex_lock(&r->lock);
		while (!r->head && !r->closing)
			pthread_cond_wait(&r->cond, &r->lock);
		it = r->head;
		if (it) {
			r->head = it->next;
			if (!r->head)
				r->tail = NULL;
			r->queued -= it->len;
		}
		pthread_mutex_unlock(&r->lock);
		if (!it)
			return NULL; /* closing, queue empty */
		if (!atomic_load(&r->failed)) {
			e = it->rotate ? rotate(r)
				       : write_all(r->fd, it->line, it->len);
			if (e < 0) {
				atomic_store(&r->fail_err, e);
				atomic_store(&r->fail_rotate, it->rotate);
				atomic_store(&r->failed, true);
			}
		}
		free(it);
	}
}

/* Queue @line (NULL: a rotation). False when it was dropped. */
static bool enqueue(struct trace_recorder *r, const char *line)
{
	size_t len = line ? strlen(line) : 0;
	struct trace_item *it;
	bool ok;

	it = malloc(sizeof(*it) + len + 1);
	if (!it)
		return false;
	it->next = NULL;
	it->rotate = !line;
	it->len = len;
	memcpy(it->line, line ? line : "", len + 1);
	pthread_mutex_lock(&r->lock);
	ok = !line || r->queued + len <= TRACE_QUEUE_MAX;
	if (ok) {
		if (r->tail)
			r->tail->next = it;
		else
			r->head = it;
		r->tail = it;
		r->queued += len;
		pthread_cond_signal(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	if (!ok)
		free(it);
	else
		r->file_bytes = line ? r->file_bytes + len : 0;
	return ok;
}

static void queue_header(struct trace_recorder *r, const char *why,
			 const struct balancer_state *s)
{
	char *line =
		trace_header_line(why, r->interval, r->dry_run, r->policy, s);

	/* When it cannot be queued, the next tick tries again. */
	r->gap = !line || !enqueue(r, line);
	free(line);
}

int trace_recorder_open(const char *path, uint64_t max_bytes, const char *why,
			usec_t interval, bool dry_run, const struct policy *p,
			const struct balancer_state *s,
			struct trace_recorder **ret)
{
	struct trace_recorder *r = calloc(1, sizeof(*r));
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
	r->fd = open_trace(path);
	if (r->fd < 0) {
		e = r->fd;
		log_error_errno(e, "trace %s: cannot open; not recording",
				path);
		free(r);
		return e;
	}
	if (fstat(r->fd, &st) == 0)
		r->file_bytes = (uint64_t)st.st_size;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	e = -pthread_create(&r->writer, NULL, writer_main, r);
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
	log_error_errno(atomic_load(&r->fail_err),
			"trace %s: cannot %s; recording stops, balancing "
			"goes on",
			r->path,
			atomic_load(&r->fail_rotate) ? "rotate" : "write");
}

void trace_recorder_close(struct trace_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->writer, NULL);
	report_failure(r);
	if (r->fd >= 0)
		close(r->fd);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->results);
	free(r);
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
	char *line;

	if (r)
		report_failure(r);
	if (!trace_recorder_active(r))
		return;
	if (r->gap) {
		/* The state after this tick: its line is left out. */
		queue_header(r, "gap", s);
		goto done;
	}
	if (out->n_actions > r->n_results)
		trace_recorder_result(r, out->n_actions - 1,
				      &(struct act_result){0});
	line = trace_tick_line(
		in, out, out->n_actions <= r->cap_results ? r->results : NULL);
	if (!line || !enqueue(r, line)) {
		r->gap = true;
		if (!r->drop_logged)
			log_warning("trace %s: the disk is behind, ticks "
				    "dropped (a \"gap\" header follows)",
				    r->path);
		r->drop_logged = true;
	}
	free(line);
done:
	if (r->results)
		memset(r->results, 0, r->cap_results * sizeof(*r->results));
	r->n_results = 0;
	/* Rotate after a whole tick, so each file starts with a header
	 * holding the state the next tick starts from. */
	if (!r->gap && r->file_bytes >= r->max_bytes && enqueue(r, NULL))
		queue_header(r, "rotate", s);
}
