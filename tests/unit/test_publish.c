// SPDX-License-Identifier: GPL-2.0
/*
 * When the state file is written (publish.c): every tick with a few VMs;
 * beyond STATE_EVERY_TICK_VMS (25) every n/25 ticks; at once when balancerctl
 * asks (balancer_publish_now), or when VMs come or go. The state's
 * totals.ticks says which tick a file is from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "log.h"
#include "publish.h"
#include "manager.h"
#include "tick.h"
#include "state.h"

#define SEC USEC_PER_SEC

static const char policy[] =
	"{\"interval\": \"1s\", \"classes\": [{\"name\": \"all\", "
	"\"match\": [\"*\"]}]}";

/* totals.ticks of the published state, or -1 without one. */
static long long published_tick(const struct fake_tree *t)
{
	char err[256];
	json_t *doc;
	long long ticks;

	if (state_read(t->state_file, &doc, err, sizeof(err)) < 0)
		return -1;
	ticks = json_integer_value(
		json_object_get(json_object_get(doc, "totals"), "ticks"));
	json_decref(doc);
	return ticks;
}

static struct balancer *start(struct fake_tree *t, unsigned int n)
{
	struct balancer_options o = {0};
	struct balancer *b;
	char name[32];

	fake_tree_create(t, 64 * GiB, 32 * GiB);
	fake_policy(t, "50-all.json", policy);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "vm-%u", i);
		fake_vm_add(t, name, 1 * GiB, 2 * GiB);
	}
	o.root = t->root;
	o.config_path = t->config;
	assert_int_equal(balancer_new(&o, &b), 0);
	return b;
}

static int setup(void **state)
{
	(void)state;
	log_open(LOG_TARGET_MEMORY);
	return 0;
}

/* 10 VMs (up to STATE_EVERY_TICK_VMS, 25): every tick. */
static void test_few_vms_every_tick(void **state)
{
	struct fake_tree t;
	struct balancer *b = start(&t, 10);

	(void)state;
	for (int i = 1; i <= 4; i++) {
		assert_int_equal(balancer_tick_at(b, 1000 * SEC + i * SEC), 0);
		assert_int_equal(published_tick(&t), i);
	}
	balancer_free(b);
	fake_tree_destroy(&t);
}

/* 60 VMs: every third tick (60/25, rounded up), a request at once, a VM gone at
 * once. */
static void test_many_vms_every_few_ticks(void **state)
{
	struct fake_tree t;
	struct balancer *b = start(&t, 60);
	usec_t now = 1000 * SEC;

	(void)state;
	assert_int_equal(balancer_tick_at(b, now), 0);
	assert_int_equal(published_tick(&t), 1); /* the first: at once */
	assert_int_equal(balancer_tick_at(b, now += SEC), 0);
	assert_int_equal(published_tick(&t), 1);
	assert_int_equal(balancer_tick_at(b, now += SEC), 0);
	assert_int_equal(published_tick(&t), 1);
	assert_int_equal(balancer_tick_at(b, now += SEC), 0);
	assert_int_equal(published_tick(&t), 4); /* 3 intervals later */
	assert_int_equal(balancer_tick_at(b, now += SEC), 0);
	assert_int_equal(published_tick(&t), 4);
	/* balancerctl asks: the latest tick's state, now */
	assert_int_equal(balancer_publish_now(b), 0);
	assert_int_equal(published_tick(&t), 5);
	/* a VM vanished: published at once */
	fake_vm_remove(&t, "vm-7");
	assert_int_equal(balancer_tick_at(b, now += SEC), 0);
	assert_int_equal(published_tick(&t), 6);
	assert_int_equal(balancer_vm_count(b), 59);
	balancer_free(b);
	fake_tree_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_few_vms_every_tick),
		cmocka_unit_test(test_many_vms_every_few_ticks),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
