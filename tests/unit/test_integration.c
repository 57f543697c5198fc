// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon end to end on a fake tree: balancer ticks over a scripted
 * sequence of host and VM signals, asserting the bytes written to each
 * VM's memory.reclaim; a reload with a bad policy (kept) then a good one
 * (applied); and the real binaries (build/balancerd, build/balancerctl)
 * run with --root via fork/exec. Run from the repository root.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"
#include "state.h"

#define SEC 1000000ULL

/*
 * Two classes with round numbers: batch gives 64M a second down to 25%,
 * web 32M a second down to 50%. 64 GiB host: low 9.6G, high 19.2G.
 */
static const char *const policy_v1 =
	"{\n"
	"  \"interval\": \"1s\",\n"
	"  \"backoff\": \"30s\",\n"
	"  \"hysteresis\": 0.1,\n"
	"  \"host\": {\"low_watermark\": \"15%\", \"min_watermark\": \"5%\",\n"
	"           \"high_watermark\": \"30%\", \"psi_full_limit\": 5.0},\n"
	"  \"classes\": [\n"
	"    {\"name\": \"batch\", \"match\": [\"batch-*\"], \"priority\": 0,\n"
	"     \"shares\": 100, \"floor\": \"25%\", \"pressure_target\": 5.0,\n"
	"     \"cold_age\": \"1m\", \"max_reclaim_rate\": \"64M\",\n"
	"     \"prefault\": false},\n"
	"    {\"name\": \"web\", \"match\": [\"web-*\"], \"priority\": 100,\n"
	"     \"shares\": 100, \"floor\": \"50%\", \"pressure_target\": 1.0,\n"
	"     \"cold_age\": \"5m\", \"max_reclaim_rate\": \"%RATE%\",\n"
	"     \"prefault\": true, \"merge\": true}\n"
	"  ]\n"
	"}\n";

struct fixture {
	struct fake_tree t;
	struct balancer *b;
	usec_t now;
};

static void write_policy(struct fake_tree *t, const char *web_rate)
{
	char buf[4096];
	const char *at = strstr(policy_v1, "%RATE%");

	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - policy_v1), policy_v1,
		 web_rate, at + strlen("%RATE%"));
	fake_policy(t, "50-test.json", buf);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct balancer_options o = {0};

	assert_non_null(f);
	log_open(LOG_TARGET_MEMORY);
	/* Between the watermarks: proactive. */
	fake_tree_create(&f->t, 64 * GiB, 16 * GiB);
	write_policy(&f->t, "32M");
	fake_vm_add(&f->t, "batch-1", 4 * GiB, 4 * GiB);
	fake_vm_add(&f->t, "web-1", 4 * GiB, 4 * GiB);
	o.root = f->t.root;
	o.config_path = f->t.config;
	assert_int_equal(balancer_new(&o, &f->b), 0);
	f->now = 1000 * SEC;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	balancer_free(f->b);
	fake_tree_destroy(&f->t);
	log_memory_clear();
	free(f);
	return 0;
}

/* What the daemon wrote to @vm's memory.reclaim ("" = nothing = 0). */
static uint64_t reclaimed(struct fixture *f, const char *vm)
{
	const char *s = fake_vm_read(&f->t, vm, "memory.reclaim");

	return *s ? strtoull(s, NULL, 10) : 0;
}

/*
 * One tick at now, then play the kernel: each VM's memory.current drops
 * by what was written to its memory.reclaim, which is emptied.
 */
static void tick(struct fixture *f, uint64_t *batch, uint64_t *web)
{
	static const char *const names[] = {"batch-1", "web-1"};
	uint64_t *out[] = {batch, web};

	assert_int_equal(balancer_tick_at(f->b, f->now), 0);
	for (int i = 0; i < 2; i++) {
		const char *cur =
			fake_vm_read(&f->t, names[i], "memory.current");
		uint64_t c = strtoull(cur, NULL, 10), r;

		if (!*cur) { /* removed by the test */
			*out[i] = 0;
			continue;
		}
		r = reclaimed(f, names[i]);
		*out[i] = r;
		fake_vm_current(&f->t, names[i], c > r ? c - r : 0);
		fake_vm_clear_writes(&f->t, names[i]);
	}
	f->now += SEC;
}

static void test_proactive_steps_and_backoff(void **state)
{
	struct fixture *f = *state;
	uint64_t batch, web;

	/* Calm VMs: a full step each, the class's rate for one second. */
	tick(f, &batch, &web);
	assert_int_equal(balancer_mode(f->b), MODE_PROACTIVE);
	assert_int_equal(batch, 64 * MiB);
	assert_int_equal(web, 32 * MiB);

	/* web-1 at half its target: half a step. batch-1 over its target:
	 * nothing, and it backs off. */
	fake_vm_pressure(&f->t, "web-1", 0.5, 0);
	fake_vm_pressure(&f->t, "batch-1", 6.0, 1.0);
	tick(f, &batch, &web);
	assert_int_equal(batch, 0);
	assert_int_equal(web, 16 * MiB);

	/* batch-1 is calm again but backing off (30 s). */
	fake_vm_pressure(&f->t, "web-1", 0, 0);
	fake_vm_pressure(&f->t, "batch-1", 0, 0);
	tick(f, &batch, &web);
	assert_int_equal(batch, 0);
	assert_int_equal(web, 32 * MiB);

	/* After the backoff it gives again. */
	f->now += 30 * SEC;
	tick(f, &batch, &web);
	assert_int_equal(batch, 64 * MiB);
	assert_int_equal(web, 32 * MiB);
	assert_int_equal(balancer_totals(f->b)->reclaimed,
			 (64 + 32 + 16 + 32 + 64 + 32) * MiB);
}

static void test_tight_and_floor(void **state)
{
	struct fixture *f = *state;
	uint64_t batch, web;

	/* 4 GiB of 64 available: tight. Both give what their budget
	 * allows; neither more than its rate. */
	fake_host(&f->t, 64 * GiB, 4 * GiB, 0, 0);
	tick(f, &batch, &web);
	assert_int_equal(balancer_mode(f->b), MODE_TIGHT);
	assert_int_equal(batch, 64 * MiB);
	assert_true(web <= 32 * MiB);

	/* batch-1 10M above its floor (25% of 4G): 10M and no more. */
	fake_vm_current(&f->t, "batch-1", 1 * GiB + 10 * MiB);
	tick(f, &batch, &web);
	assert_int_equal(batch, 10 * MiB);
	tick(f, &batch, &web);
	assert_int_equal(batch, 0);
	assert_string_equal(fake_vm_read(&f->t, "batch-1", "memory.current"),
			    "1073741824\n");
}

static void test_vanish_and_appear(void **state)
{
	struct fixture *f = *state;
	uint64_t batch, web;

	tick(f, &batch, &web);
	fake_vm_remove(&f->t, "web-1");
	tick(f, &batch, &web);
	assert_int_equal(balancer_vm_count(f->b), 1);
	assert_non_null(log_memory_find(MSGID_VM_VANISHED, 0, NULL));
	/* It comes back: a new VM, a new full bucket. */
	fake_vm_add(&f->t, "web-1", 4 * GiB, 4 * GiB);
	tick(f, &batch, &web);
	assert_int_equal(balancer_vm_count(f->b), 2);
	assert_int_equal(web, 32 * MiB);
}

static void test_reload_bad_then_good(void **state)
{
	struct fixture *f = *state;
	uint64_t batch, web;

	tick(f, &batch, &web);
	assert_int_equal(web, 32 * MiB);

	/* A bad policy: rejected, the running one stays. */
	fake_policy(&f->t, "50-test.json", "{\"classes\": [ {\"name\": ");
	assert_int_equal(balancer_reload(f->b), -EINVAL);
	assert_non_null(log_memory_find(MSGID_RELOAD_FAILED, 0, NULL));
	assert_int_equal(balancer_policy(f->b)->n_classes, 2);
	tick(f, &batch, &web);
	assert_int_equal(batch, 64 * MiB);
	assert_int_equal(web, 32 * MiB);

	/* A good one with web at 48M a second: applied. */
	write_policy(&f->t, "48M");
	assert_int_equal(balancer_reload(f->b), 0);
	assert_non_null(log_memory_find(MSGID_RELOAD_OK, 0, NULL));
	tick(f, &batch, &web);
	assert_int_equal(batch, 64 * MiB);
	assert_int_equal(web, 48 * MiB);
}

static void test_dry_run_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct balancer_options o = {0};
	struct balancer *dry;
	uint64_t batch, web;

	o.root = f->t.root;
	o.config_path = f->t.config;
	o.dry_run = true;
	assert_int_equal(balancer_new(&o, &dry), 0);
	balancer_free(f->b);
	f->b = dry;
	tick(f, &batch, &web);
	tick(f, &batch, &web);
	assert_int_equal(batch, 0);
	assert_int_equal(web, 0);
	assert_non_null(log_memory_find(MSGID_ACTION, 0, NULL));
	assert_int_equal(balancer_totals(f->b)->reclaimed, 0);
}

static void test_state_published(void **state)
{
	struct fixture *f = *state;
	json_t *doc, *vms;
	uint64_t batch, web;
	char err[256];

	tick(f, &batch, &web);
	assert_int_equal(state_read(f->t.state_file, &doc, err, sizeof(err)),
			 0);
	vms = json_object_get(doc, "vms");
	assert_int_equal(json_array_size(vms), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(vms, 0), "class")),
			    "batch");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(vms, 0), "last_action"),
			"action")),
		"reclaim");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(doc, "totals"), "reclaimed")),
			 96 * MiB);
	json_decref(doc);
}

/* ---- the real binaries ------------------------------------------------ */

/* Run @argv, stdout+stderr to @out_path. Returns the exit status. */
static int run(char *const argv[], const char *out_path)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static const char *slurp(const char *path)
{
	return fake_slurp(path);
}

static void test_binary_runs_ticks(void **state)
{
	struct fixture *f = *state;
	char out[600], root[300], config[600];
	char *argv[] = {"build/balancerd",
			"--root",
			root,
			"--config",
			config,
			"--ticks",
			"3",
			"--interval",
			"50ms",
			"--log-target",
			"stderr",
			NULL};
	char *ctl[] = {"build/balancerctl", "--state-file", f->t.state_file,
		       "explain",	    "web-1",	    NULL};
	const char *log;

	if (access(argv[0], X_OK) < 0)
		skip(); /* make userspace first */
	/* web-1's VMM, with pages KSM merged; batch-1 has no process. */
	fake_vm_write(&f->t, "web-1", "cgroup.procs", "4242\n");
	snprintf(out, sizeof(out), "%s/proc/4242/ksm_merging_pages", f->t.root);
	fake_write(out, "1536\n");
	snprintf(root, sizeof(root), "%s", f->t.root);
	snprintf(config, sizeof(config), "%s", f->t.config);
	snprintf(out, sizeof(out), "%s/out.txt", f->t.root);
	assert_int_equal(run(argv, out), 0);
	log = slurp(out);
	/* decide() steps at the effective interval, the command line's
	 * 50 ms, not the policy's 1 s (balancerd.json(5)): one interval of
	 * the 64M/s rate, every tick. */
	assert_non_null(strstr(log, "batch-1 reclaim 3.2M (done 3.2M) "
				    "mode=proactive: pressure 0.00% < target "
				    "5.00%: step 3.2M"));
	assert_null(strstr(log, "reclaim 64M"));
	assert_non_null(strstr(log, "web-1 appeared"));
	assert_true(reclaimed(f, "batch-1") > 0);
	assert_true(access(f->t.state_file, R_OK) == 0);

	if (access(ctl[0], X_OK) < 0)
		return;
	assert_int_equal(run(ctl, out), 0);
	log = slurp(out);
	assert_non_null(strstr(log, "class:    web"));
	assert_non_null(strstr(log, "glob 'web-*' matched"));
	/* No ovcmem partition here: balancerd cannot switch KSM for it, and
	 * says so; what KSM merged of it is shown all the same. */
	assert_non_null(strstr(log, "merge:    on (not applied: needs an "
				    "ovcmem partition); 1536 pages merged"));
	assert_non_null(strstr(log, "reclaim"));
	ctl[3] = "status";
	ctl[4] = NULL;
	assert_int_equal(run(ctl, out), 0);
	assert_non_null(strstr(slurp(out), "batch-1"));
	ctl[3] = "explain";
	ctl[4] = "nosuchvm";
	assert_int_equal(run(ctl, out), 1);
	assert_non_null(strstr(slurp(out), "no VM named 'nosuchvm'"));
	ctl[2] = "/nonexistent/state.json";
	ctl[3] = "status";
	ctl[4] = NULL;
	assert_int_equal(run(ctl, out), 1);
	assert_non_null(strstr(slurp(out), "balancerd not running? no state "
					   "at /nonexistent/state.json"));
}

/* Count of @needle in file @path. */
static int count_in(const char *path, const char *needle)
{
	const char *p = slurp(path);
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* Wait up to 10 s for @needle to appear @n times in @path. */
static bool wait_for(const char *path, const char *needle, int n)
{
	for (int i = 0; i < 1000; i++) {
		if (access(path, R_OK) == 0 && count_in(path, needle) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_binary_reload_and_exit(void **state)
{
	struct fixture *f = *state;
	char out[600], root[300], config[600], bad[700];
	char *argv[] = {
		"build/balancerd", "--root", root,	     "--config", config,
		"--interval",	   "100ms",  "--log-target", "stderr",	 NULL};
	int status;
	pid_t pid;

	if (access(argv[0], X_OK) < 0)
		skip();
	snprintf(root, sizeof(root), "%s", f->t.root);
	snprintf(config, sizeof(config), "%s", f->t.config);
	snprintf(out, sizeof(out), "%s/out.txt", f->t.root);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			_exit(127);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_true(wait_for(out, "web-1 reclaim", 1));

	/* A broken policy file appears: the change is noticed, the reload
	 * fails, the running policy stays and the daemon keeps going. */
	fake_policy(&f->t, "60-bad.json", "{\"classes\": [ {\"name\": ");
	assert_true(wait_for(out, "failed (1 error): keeping the running", 1));
	assert_non_null(strstr(slurp(out), "60-bad.json:1:"));
	/* Fixed: reloaded. */
	snprintf(bad, sizeof(bad), "%s/60-bad.json", f->t.policy_dir);
	assert_int_equal(unlink(bad), 0);
	assert_true(wait_for(out, "policy reloaded from", 1));
	/* SIGHUP reloads too. */
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(wait_for(out, "policy reloaded from", 2));
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(slurp(out), "exiting"));
}

static void test_binary_check(void **state)
{
	struct fixture *f = *state;
	char out[600], bad[600];
	char *argv[] = {"build/balancerd", "--check", bad, NULL};
	char *good[] = {"build/balancerd", "--check", "policies/default.json",
			NULL};
	char *usage[] = {"build/balancerd", "--ticks", "zero", NULL};

	if (access(argv[0], X_OK) < 0)
		skip();
	snprintf(out, sizeof(out), "%s/out.txt", f->t.root);
	snprintf(bad, sizeof(bad), "%s/bad.json", f->t.root);
	fake_write(bad, "{\n  \"classes\": [\n    {\"name\": \"x\", "
			"\"flor\": \"1G\"}\n  ]\n}\n");
	assert_int_equal(run(argv, out), 1);
	/* file:line:column: path: message */
	assert_non_null(strstr(slurp(out), "bad.json:3:"));
	assert_non_null(strstr(slurp(out), "classes[0]"));
	assert_int_equal(run(good, out), 0);
	assert_non_null(strstr(slurp(out), "ok"));
	assert_int_equal(run(usage, out), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_proactive_steps_and_backoff),
		T(test_tight_and_floor),
		T(test_vanish_and_appear),
		T(test_reload_bad_then_good),
		T(test_dry_run_writes_nothing),
		T(test_state_published),
		T(test_binary_runs_ticks),
		T(test_binary_reload_and_exit),
		T(test_binary_check),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
