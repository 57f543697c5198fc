// SPDX-License-Identifier: GPL-2.0
/* A tick's actions on several VMs at once. See act_pool.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "act_pool.h"

/* The most threads a tick uses, whatever the CPU count. */
#define ACT_POOL_MAX 8

/*
 * Lock rules: @lock guards @next and @finished[]; @res[i] is written by
 * the one worker that runs action i before it sets finished[i] under the
 * lock, and read by the caller only after it saw finished[i] under the
 * lock.
 */
struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t n, next; /* actions; first action of the next group */
	const size_t *vm_of;
	bool *finished;
	struct act_result *res;
	act_pool_exec_fn exec;
	void *userdata;
};

/* Take the next VM's run of actions: [*first, *end). */
static bool take_group(struct pool *p, size_t *first, size_t *end)
{
	size_t i, e;

	pthread_mutex_lock(&p->lock);
	i = e = p->next;
	while (e < p->n && p->vm_of[e] == p->vm_of[i])
		e++;
	p->next = e;
	pthread_mutex_unlock(&p->lock);
	*first = i;
	*end = e;
	return i < e;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	size_t i, end;

	while (take_group(p, &i, &end)) {
		for (; i < end; i++) {
			p->exec(i, &p->res[i], p->userdata);
			pthread_mutex_lock(&p->lock);
			p->finished[i] = true;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

static unsigned int count_groups(size_t n, const size_t *vm_of)
{
	unsigned int g = 0;

	if (!vm_of)
		return n ? 1 : 0; /* unknown: one group, in order */
	for (size_t i = 0; i < n; i++)
		g += i == 0 || vm_of[i] != vm_of[i - 1];
	return g;
}

static void run_sequential(size_t n, act_pool_exec_fn exec,
			   act_pool_done_fn done, void *userdata)
{
	for (size_t i = 0; i < n; i++) {
		struct act_result res = {0};

		exec(i, &res, userdata);
		done(i, &res, userdata);
		act_result_release(&res);
	}
}

/* Wait until action @i is finished, calling @idle every second. */
static void wait_finished(struct pool *p, size_t i, act_pool_idle_fn idle,
			  void *userdata)
{
	pthread_mutex_lock(&p->lock);
	while (!p->finished[i]) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) ==
			    ETIMEDOUT &&
		    idle) {
			pthread_mutex_unlock(&p->lock);
			idle(userdata);
			pthread_mutex_lock(&p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

unsigned int act_pool_run(size_t n, const size_t *vm_of, unsigned int workers,
			  act_pool_exec_fn exec, act_pool_done_fn done,
			  act_pool_idle_fn idle, void *userdata)
{
	unsigned int groups = count_groups(n, vm_of), started = 0;
	pthread_t tid[ACT_POOL_MAX];
	struct pool p = {
		.n = n,
		.vm_of = vm_of,
		.exec = exec,
		.userdata = userdata,
	};

	if (workers > ACT_POOL_MAX)
		workers = ACT_POOL_MAX;
	if (workers > groups)
		workers = groups;
	if (workers <= 1)
		goto sequential;
	p.finished = calloc(n, sizeof(*p.finished));
	p.res = calloc(n, sizeof(*p.res));
	if (!p.finished || !p.res)
		goto free_sequential;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	while (started < workers &&
	       pthread_create(&tid[started], NULL, worker, &p) == 0)
		started++;
	if (started == 0) {
		pthread_cond_destroy(&p.cond);
		pthread_mutex_destroy(&p.lock);
		goto free_sequential;
	}
	for (size_t i = 0; i < n; i++) {
		wait_finished(&p, i, idle, userdata);
		done(i, &p.res[i], userdata);
		act_result_release(&p.res[i]);
	}
	for (unsigned int k = 0; k < started; k++)
		pthread_join(tid[k], NULL);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	free(p.finished);
	free(p.res);
	return started;

free_sequential:
	free(p.finished);
	free(p.res);
sequential:
	run_sequential(n, exec, done, userdata);
	return 0;
}
