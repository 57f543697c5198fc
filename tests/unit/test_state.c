// SPDX-License-Identifier: GPL-2.0
/*
 * The state file: the decision ring, the JSON built from a snapshot, the
 * atomic publish (temp + fsync + rename) and reading it back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "state.h"

struct fixture {
	struct fake_tree t;
	struct vm_signals vms[2];
	struct host_signals host;
	struct policy_class cls;
	const struct policy_class *classes[2];
	const char *why[2];
	const char *sources[2]; /* cold sources: [1] NULL reads "none" */
	struct vm_state vs;
	const struct vm_state *vstates[2];
	struct decision_ring ring;
	const struct decision_ring *rings[2];
	uint64_t cold[2];
	struct state_snapshot snap;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct decision_record d = {.when = 1700000000,
				    .kind = ACTION_RECLAIM,
				    .mode = MODE_TIGHT,
				    .bytes_requested = 64 * MiB,
				    .bytes_done = 60 * MiB,
				    .partial = true};

	assert_non_null(f);
	fake_tree_create(&f->t, 16 * GiB, 8 * GiB);
	f->host.mem_total = 16 * GiB;
	f->host.mem_available = 1 * GiB;
	f->host.psi.some.avg10 = 1.5;
	snprintf(f->vms[0].name, VM_NAME_MAX, "vm1");
	snprintf(f->vms[0].cgroup, CGROUP_PATH_MAX, "machine.slice/vm1.scope");
	f->vms[0].memory_current = 3 * GiB;
	f->vms[0].memory_max = 4 * GiB;
	f->vms[0].memory_high = MEMORY_UNLIMITED;
	f->vms[0].psi.some.avg10 = 0.25;
	snprintf(f->vms[1].name, VM_NAME_MAX, "stray");
	snprintf(f->vms[1].cgroup, CGROUP_PATH_MAX,
		 "machine.slice/stray.scope");
	f->vms[1].memory_current = 1 * GiB;
	f->vms[1].memory_max = MEMORY_UNLIMITED;

	snprintf(f->cls.name, sizeof(f->cls.name), "batch");
	f->cls.priority = 10;
	f->cls.shares = 100;
	f->cls.floor = (struct size_spec){
		.set = true, .is_percent = true, .percent = 25};
	f->cls.pressure_target = 5.0;
	f->cls.max_reclaim_rate = 256 * MiB;
	snprintf(f->cls.source, sizeof(f->cls.source), "50-default.json");
	f->cls.source_line = 12;
	f->classes[0] = &f->cls;
	f->why[0] = "class 'batch' (50-default.json:12): glob 'vm*' matched";
	f->sources[0] = "mglru";
	snprintf(f->vs.name, sizeof(f->vs.name), "vm1");
	f->vs.size = 4 * GiB;
	f->vs.reclaimed_total = 60 * MiB;
	f->vstates[0] = &f->vs;
	snprintf(d.reason, sizeof(d.reason), "host tight: 1G available");
	decision_ring_push(&f->ring, &d);
	f->rings[0] = &f->ring;
	f->cold[0] = 512 * MiB;
	f->cold[1] = UINT64_MAX;

	f->snap.now = 1700000001;
	f->snap.mode = MODE_TIGHT;
	f->snap.mode_reason = "MemAvailable 1G under low watermark 2.4G";
	f->snap.policy_dir = "/etc/balancerd/policies.d";
	f->snap.host = &f->host;
	f->snap.n_vms = 2;
	f->snap.vms = f->vms;
	f->snap.classes = f->classes;
	f->snap.match_why = f->why;
	f->snap.cold_source = f->sources;
	f->snap.vm_states = f->vstates;
	f->snap.recent = f->rings;
	f->snap.cold_bytes = f->cold;
	f->snap.totals.ticks = 7;
	f->snap.totals.reclaimed = 60 * MiB;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fake_tree_destroy(&f->t);
	free(f);
	return 0;
}

static void test_ring(void **state)
{
	struct decision_ring r = {0};
	struct decision_record d = {0};

	(void)state;
	assert_null(decision_ring_get(&r, 0));
	for (int i = 0; i < 11; i++) {
		d.bytes_requested = (uint64_t)i;
		decision_ring_push(&r, &d);
	}
	assert_int_equal(r.n, STATE_RECENT_MAX);
	/* Oldest first: 11 pushed, 8 kept, so 3..10. */
	assert_int_equal(decision_ring_get(&r, 0)->bytes_requested, 3);
	assert_int_equal(decision_ring_get(&r, 7)->bytes_requested, 10);
	assert_null(decision_ring_get(&r, 8));
}

static void test_build(void **state)
{
	struct fixture *f = *state;
	json_t *doc = state_build(&f->snap), *vm, *la, *ci;

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "mode")),
			    "tight");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(doc, "totals"), "ticks")),
			 7);
	assert_int_equal(json_array_size(json_object_get(doc, "vms")), 2);
	vm = json_array_get(json_object_get(doc, "vms"), 0);
	assert_string_equal(json_string_value(json_object_get(vm, "name")),
			    "vm1");
	assert_string_equal(json_string_value(json_object_get(vm, "class")),
			    "batch");
	assert_int_equal(json_integer_value(json_object_get(vm, "size")),
			 4 * GiB);
	assert_int_equal(json_integer_value(json_object_get(vm, "cold")),
			 512 * MiB);
	/* "max" is null: jansson integers are signed. */
	assert_true(json_is_null(json_object_get(vm, "high")));
	ci = json_object_get(vm, "class_info");
	assert_int_equal(json_integer_value(json_object_get(ci, "floor")),
			 1 * GiB);
	assert_true(json_is_null(json_object_get(ci, "ceiling")));
	assert_int_equal(json_integer_value(json_object_get(ci, "source_line")),
			 12);
	la = json_object_get(vm, "last_action");
	assert_string_equal(json_string_value(json_object_get(la, "action")),
			    "reclaim");
	assert_string_equal(json_string_value(json_object_get(la, "reason")),
			    "host tight: 1G available");
	assert_true(json_is_true(json_object_get(la, "partial")));
	assert_int_equal(json_array_size(json_object_get(vm, "recent")), 1);
	assert_string_equal(
		json_string_value(json_object_get(vm, "cold_source")), "mglru");

	vm = json_array_get(json_object_get(doc, "vms"), 1);
	assert_string_equal(
		json_string_value(json_object_get(vm, "cold_source")), "none");
	assert_true(json_is_null(json_object_get(vm, "class")));
	assert_true(json_is_null(json_object_get(vm, "cold")));
	assert_true(json_is_null(json_object_get(vm, "last_action")));
	assert_true(json_is_null(json_object_get(vm, "max")));
	json_decref(doc);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_publish_roundtrip(void **state)
{
	struct fixture *f = *state;
	json_t *doc = state_build(&f->snap), *back = NULL;
	char err[256], dir[600];
	struct stat st;

	assert_int_equal(state_publish(f->t.state_file, doc), 0);
	assert_int_equal(state_read(f->t.state_file, &back, err, sizeof(err)),
			 0);
	assert_true(json_equal(doc, back));
	assert_int_equal(stat(f->t.state_file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* Nothing left behind but the file itself. */
	snprintf(dir, sizeof(dir), "%s/run", f->t.root);
	assert_int_equal(count_entries(dir), 1);
	json_decref(back);
	json_decref(doc);
}

static void test_publish_is_atomic(void **state)
{
	struct fixture *f = *state;
	json_t *doc = state_build(&f->snap), *back = NULL;
	struct stat before, after;
	char old[64] = "", err[256];
	int fd;

	assert_int_equal(state_publish(f->t.state_file, doc), 0);
	assert_int_equal(stat(f->t.state_file, &before), 0);
	/* A reader holding the old file keeps reading the old contents,
	 * whole: the new one replaces it by rename, not by rewriting. */
	fd = open(f->t.state_file, O_RDONLY);
	assert_true(fd >= 0);
	f->snap.mode = MODE_CRITICAL;
	json_decref(doc);
	doc = state_build(&f->snap);
	assert_int_equal(state_publish(f->t.state_file, doc), 0);
	assert_int_equal(stat(f->t.state_file, &after), 0);
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_true(read(fd, old, sizeof(old) - 1) > 0);
	close(fd);
	assert_non_null(strchr(old, '{'));
	assert_int_equal(state_read(f->t.state_file, &back, err, sizeof(err)),
			 0);
	assert_string_equal(json_string_value(json_object_get(back, "mode")),
			    "critical");
	json_decref(back);
	json_decref(doc);
}

static void test_snapshot_streamed_equals_built(void **state)
{
	struct fixture *f = *state;
	json_t *doc = state_build(&f->snap), *back = NULL;
	char err[256];

	assert_int_equal(state_publish_snapshot(f->t.state_file, &f->snap), 0);
	assert_int_equal(state_read(f->t.state_file, &back, err, sizeof(err)),
			 0);
	assert_true(json_equal(doc, back));
	json_decref(back);
	/* The same with "recent" handed in serialised, as the daemon does. */
	{
		char *cached = state_recent_json(&f->ring);
		const char *rj[2] = {cached, NULL};

		assert_non_null(cached);
		f->snap.recent_json = rj;
		assert_int_equal(
			state_publish_snapshot(f->t.state_file, &f->snap), 0);
		assert_int_equal(
			state_read(f->t.state_file, &back, err, sizeof(err)),
			0);
		assert_true(json_equal(doc, back));
		json_decref(back);
		f->snap.recent_json = NULL;
		free(cached);
	}
	/* No VMs: still a document with an empty list. */
	f->snap.n_vms = 0;
	assert_int_equal(state_publish_snapshot(f->t.state_file, &f->snap), 0);
	assert_int_equal(state_read(f->t.state_file, &back, err, sizeof(err)),
			 0);
	assert_int_equal(json_array_size(json_object_get(back, "vms")), 0);
	assert_true(json_is_array(json_object_get(back, "vms")));
	json_decref(back);
	json_decref(doc);
}

static void test_publish_errors(void **state)
{
	struct fixture *f = *state;
	json_t *doc = state_build(&f->snap);
	char path[700];

	snprintf(path, sizeof(path), "%s/no/such/dir/state.json", f->t.root);
	assert_int_equal(state_publish(path, doc), -ENOENT);
	json_decref(doc);
}

static void test_read_errors(void **state)
{
	struct fixture *f = *state;
	json_t *doc = NULL;
	char err[512] = "";

	assert_int_equal(state_read(f->t.state_file, &doc, err, sizeof(err)),
			 -ENOENT);
	fake_write(f->t.state_file, "{\"mode\": \n");
	assert_int_equal(state_read(f->t.state_file, &doc, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, f->t.state_file));
	fake_write(f->t.state_file, "[1, 2]\n");
	assert_int_equal(state_read(f->t.state_file, &doc, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a JSON object"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_ring),
		T(test_build),
		T(test_publish_roundtrip),
		T(test_publish_is_atomic),
		T(test_snapshot_streamed_equals_built),
		T(test_publish_errors),
		T(test_read_errors),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
