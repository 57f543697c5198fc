// SPDX-License-Identifier: GPL-2.0
/*
 * The action pool: every action runs once, one VM's in order, several
 * VMs' at the same time; results come back in list order on the calling
 * thread; the caller is woken to ping its watchdog while it waits.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "act_pool.h"

#define N_MAX 16

static struct {
	pthread_mutex_t lock;
	size_t vm_of[N_MAX];
	int runs[N_MAX];
	size_t order[N_MAX], n_order; /* exec order, all threads */
	size_t done_order[N_MAX], n_done;
	pthread_t caller;
	bool done_on_caller;
	bool vm1_started;
	bool overlapped;       /* action 0 saw vm 1 start while it ran */
	unsigned int sleep_ms; /* in action 0 */
	int idles;
} t;

static void reset(void)
{
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.lock, NULL);
	t.caller = pthread_self();
	t.done_on_caller = true;
}

static void exec(size_t i, struct act_result *res, void *userdata)
{
	(void)userdata;
	pthread_mutex_lock(&t.lock);
	t.runs[i]++;
	t.order[t.n_order++] = i;
	if (t.vm_of[i] == 1)
		t.vm1_started = true;
	pthread_mutex_unlock(&t.lock);
	if (i == 0) {
		/* Wait up to 2 s for VM 1's first action to start. */
		for (int k = 0; k < 200 && !t.overlapped; k++) {
			pthread_mutex_lock(&t.lock);
			t.overlapped = t.vm1_started;
			pthread_mutex_unlock(&t.lock);
			if (!t.overlapped)
				usleep(10 * 1000);
		}
		usleep(t.sleep_ms * 1000);
	}
	res->bytes_done = 1000 + i;
}

static void done(size_t i, const struct act_result *res, void *userdata)
{
	(void)userdata;
	assert_int_equal(res->bytes_done, 1000 + i);
	if (!pthread_equal(pthread_self(), t.caller))
		t.done_on_caller = false;
	t.done_order[t.n_done++] = i;
}

static void idle(void *userdata)
{
	(void)userdata;
	t.idles++;
}

/* Position of action @i in the exec order. */
static size_t pos(size_t i)
{
	for (size_t k = 0; k < t.n_order; k++)
		if (t.order[k] == i)
			return k;
	return SIZE_MAX;
}

static void test_parallel_in_order(void **state)
{
	/* vm 0: actions 0, 1; vm 1: 2, 3; vm 2: 4 */
	const size_t vms[] = {0, 0, 1, 1, 2};
	const size_t n = sizeof(vms) / sizeof(vms[0]);

	(void)state;
	reset();
	memcpy(t.vm_of, vms, sizeof(vms));
	assert_int_equal(act_pool_run(n, t.vm_of, 2, exec, done, idle, NULL),
			 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t.runs[i], 1);
		assert_int_equal(t.done_order[i], i);
	}
	assert_int_equal(t.n_done, n);
	assert_true(t.done_on_caller);
	assert_true(t.overlapped); /* vm 1 ran while vm 0 did */
	assert_true(pos(0) < pos(1));
	assert_true(pos(2) < pos(3));
}

static void test_sequential(void **state)
{
	const size_t vms[] = {0, 1, 2};

	(void)state;
	reset();
	memcpy(t.vm_of, vms, sizeof(vms));
	/* one worker: in this thread, one by one, so no overlap */
	assert_int_equal(act_pool_run(3, t.vm_of, 1, exec, done, idle, NULL),
			 0);
	assert_false(t.overlapped);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(t.order[i], i);
		assert_int_equal(t.done_order[i], i);
	}
	/* one VM: nothing to run side by side */
	reset();
	assert_int_equal(act_pool_run(3, t.vm_of, 4, exec, done, idle, NULL),
			 0);
	assert_int_equal(t.n_done, 3);
	/* nothing at all */
	reset();
	assert_int_equal(act_pool_run(0, t.vm_of, 4, exec, done, idle, NULL),
			 0);
	assert_int_equal(t.n_done, 0);
}

static void test_idle_while_waiting(void **state)
{
	const size_t vms[] = {0, 1};

	(void)state;
	reset();
	memcpy(t.vm_of, vms, sizeof(vms));
	t.sleep_ms = 1500;
	assert_int_equal(act_pool_run(2, t.vm_of, 2, exec, done, idle, NULL),
			 2);
	assert_true(t.idles >= 1);
	assert_int_equal(t.n_done, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parallel_in_order),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_idle_while_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
