// SPDX-License-Identifier: GPL-2.0
/*
 * Replay: a recorded run through the recorded policy makes the recorded
 * decisions exactly (and a tampered trace is caught); through a changed
 * policy it departs where, and only where, the change matters (table
 * rows); the window and VM filters; balancerctl replay's output and exit
 * codes. Run from the repository root (it execs build/balancerctl).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"
#include "replay.h"
#include "trace_synth.h"

#define TICKS 100

struct fix {
	char dir[64];
	char trace[128];
	char policy[128];
	uint64_t decided;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	log_open(LOG_TARGET_MEMORY);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_replay.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->trace, sizeof(f->trace), "%s/trace.jsonl", f->dir);
	snprintf(f->policy, sizeof(f->policy), "%s/policy.json", f->dir);
	f->decided = synth_record(f->trace, TICKS, 0, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fake_rm_rf(f->dir);
	log_memory_clear();
	free(f);
	return 0;
}

static void run(const char *trace, const struct replay_options *o,
		struct replay *rp)
{
	char *paths[1] = {(char *)trace}, err[1024] = "";

	replay_init(rp, o);
	if (replay_files(rp, paths, 1, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static const struct replay_vm *vm_of(const struct replay *rp, const char *name)
{
	for (size_t i = 0; i < rp->n_vms; i++)
		if (!strcmp(rp->vms[i].name, name))
			return &rp->vms[i];
	fail_msg("no figures for %s", name);
	return NULL;
}

static void test_exact(void **state)
{
	struct fix *f = *state;
	struct replay rp;

	run(f->trace, NULL, &rp);
	assert_int_equal(rp.ticks, TICKS);
	assert_int_equal(rp.decisions, f->decided);
	assert_int_equal(rp.differences, 0);
	/* the recorded and replayed figures are the same numbers */
	for (size_t i = 0; i < rp.n_vms; i++) {
		assert_true(rp.vms[i].reclaim[0] == rp.vms[i].reclaim[1]);
		assert_true(rp.vms[i].backoffs[0] == rp.vms[i].backoffs[1]);
	}
	/* the script visits every mode, and backs web-1 off */
	for (int m = 0; m < _MODE_MAX; m++)
		assert_true(rp.mode_time[0][m] > 0);
	assert_true(vm_of(&rp, "web-1")->backoffs[0] > 0);
	assert_true(vm_of(&rp, "web-1")->ceiling_ticks[0] > 0);
	assert_true(vm_of(&rp, "batch-1")->reclaim[0] > 0);
	replay_free(&rp);
}

/* A reload: the new header's policy takes over, still exact. */
static void test_exact_across_reload(void **state)
{
	struct fix *f = *state;
	struct replay rp;

	unlink(f->trace);
	synth_record(f->trace, TICKS, 0,
		     synth_policy_edit(synth_policy, "\"64M\"", "\"16M\""));
	run(f->trace, NULL, &rp);
	assert_int_equal(rp.headers, 2);
	assert_int_equal(rp.differences, 0);
	replay_free(&rp);
}

/* The check can fail: one recorded byte count changed is one
 * difference, named with its VM and both sides. */
static void test_tampered(void **state)
{
	struct fix *f = *state;
	char cmd[512];
	struct replay rp;

	/* the first pageout of batch-1 (vm 1) asked for one page more */
	snprintf(cmd, sizeof(cmd),
		 "perl -0pi -e 's/(\"kind\":\"pageout\",\"vm\":1,"
		 "\"name\":\"batch-1\",\"bytes\":)(\\d+)/$1.($2+4096)/e' %s",
		 f->trace);
	assert_int_equal(system(cmd), 0);
	run(f->trace, NULL, &rp);
	assert_int_equal(rp.differences, 1);
	assert_string_equal(rp.kept[0].vm, "batch-1");
	assert_non_null(strstr(rp.kept[0].recorded, "pageout"));
	assert_string_not_equal(rp.kept[0].recorded, rp.kept[0].replayed);
	replay_free(&rp);
}

enum rel { SAME, LESS, MORE };

struct change {
	const char *name;
	const char *from, *to; /* in synth_policy */
	bool web_departs, batch_departs;
	enum rel web_reclaim, batch_reclaim;
	enum rel web_floor; /* floor ticks */
};

/*
 * web (priority 100) and batch (priority 0) are planned apart in the
 * proactive modes, and batch is asked first when the host is short: a
 * change to web's class must leave batch's decisions alone, and one to
 * batch's cold age changes nothing of web's.
 */
static const struct change changes[] = {
	{"the same policy", "\"web\"", "\"web\"", false, false, SAME, SAME,
	 SAME},
	{"half web's rate", "\"64M\"", "\"32M\"", true, false, LESS, SAME,
	 SAME},
	{"batch cold after 5m, not 10s", "\"cold_age\": \"10s\"",
	 "\"cold_age\": \"5m\"", false, true, SAME, LESS, SAME},
	{"web's floor at 85%", "\"50%\"", "\"85%\"", true, false, LESS, SAME,
	 MORE},
};

static void assert_rel(const char *row, const char *what, uint64_t rec,
		       uint64_t rep, enum rel want)
{
	enum rel got = rep == rec ? SAME : rep < rec ? LESS : MORE;

	if (got != want)
		fail_msg("%s: %s recorded %llu, replayed %llu", row, what,
			 (unsigned long long)rec, (unsigned long long)rep);
}

static uint64_t departures_of(const char *trace, const struct policy *p,
			      const char *glob)
{
	struct replay_options o = {.policy = p, .vm_glob = glob};
	struct replay rp;
	uint64_t n;

	run(trace, &o, &rp);
	n = rp.departures;
	replay_free(&rp);
	return n;
}

static void test_changed_policy(void **state)
{
	struct fix *f = *state;

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change *c = &changes[i];
		struct replay_options o = {0};
		struct policy_errors errs = {0};
		struct policy p = {0};
		const struct replay_vm *web, *batch;
		struct replay rp;

		assert_int_equal(
			policy_load_string(
				synth_policy_edit(synth_policy, c->from, c->to),
				"changed.json", &p, &errs),
			0);
		o.policy = &p;
		run(f->trace, &o, &rp);
		assert_int_equal(rp.ticks, TICKS);
		assert_int_equal(rp.differences, 0);
		web = vm_of(&rp, "web-1");
		batch = vm_of(&rp, "batch-1");
		assert_rel(c->name, "web reclaim", web->reclaim[0],
			   web->reclaim[1], c->web_reclaim);
		assert_rel(c->name, "batch reclaim", batch->reclaim[0],
			   batch->reclaim[1], c->batch_reclaim);
		assert_rel(c->name, "web floor ticks", web->floor_ticks[0],
			   web->floor_ticks[1], c->web_floor);
		if ((departures_of(f->trace, &p, "web-*") > 0) !=
		    c->web_departs)
			fail_msg("%s: web departures", c->name);
		if ((departures_of(f->trace, &p, "batch-*") > 0) !=
		    c->batch_departs)
			fail_msg("%s: batch departures", c->name);
		/* the host's mode does not depend on the classes */
		for (int m = 0; m < _MODE_MAX; m++)
			assert_true(rp.mode_time[0][m] == rp.mode_time[1][m]);
		if (c->web_departs || c->batch_departs) {
			assert_true(rp.n_kept > 0);
			assert_string_not_equal(rp.kept[0].recorded,
						rp.kept[0].replayed);
		}
		replay_free(&rp);
		policy_free(&p);
	}
}

static void test_window_and_glob(void **state)
{
	struct fix *f = *state;
	struct replay_options o = {.from = 10 * USEC_PER_SEC,
				   .to = 30 * USEC_PER_SEC,
				   .vm_glob = "web-*"};
	struct replay rp;

	run(f->trace, &o, &rp);
	assert_int_equal(rp.ticks, 20);
	assert_int_equal(rp.n_vms, 1);
	assert_string_equal(rp.vms[0].name, "web-1");
	assert_int_equal(rp.differences, 0);
	replay_free(&rp);
}

/* Run @argv[0] with its stdout in @out_path; its exit code. */
static int ctl_exec(const char *out_path, char *const argv[])
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(out_path, "w", stdout) ||
		    !freopen("/dev/null", "w", stderr))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* balancerctl's output (read it with fake_slurp) and exit code. */
static int ctl(const char *out_path, char *const argv[])
{
	char *args[16] = {"build/balancerctl"};

	for (size_t i = 1; argv[i - 1] && i < 16; i++)
		args[i] = argv[i];
	return ctl_exec(out_path, args);
}

static void test_cli(void **state)
{
	struct fix *f = *state;
	char out[128], want[128], cmd[512];
	const char *text;

	snprintf(out, sizeof(out), "%s/out", f->dir);
	assert_int_equal(ctl(out, (char *const[]){"balancerctl", "replay",
						  f->trace, NULL}),
			 0);
	snprintf(want, sizeof(want),
		 "replay: %d ticks, %llu decisions, 0 differences\n"
		 "trace: 1 headers, 0 gaps\n",
		 TICKS, (unsigned long long)f->decided);
	assert_string_equal(fake_slurp(out), want);

	fake_write(f->policy,
		   synth_policy_edit(synth_policy, "\"64M\"", "\"32M\""));
	assert_int_equal(
		ctl(out, (char *const[]){"balancerctl", "replay", f->trace,
					 "--policy", f->policy, NULL}),
		0);
	text = fake_slurp(out);
	assert_non_null(strstr(text, "open-loop"));
	assert_non_null(strstr(text, "first departures:"));
	assert_non_null(strstr(text, "web-1"));

	assert_int_equal(ctl(out, (char *const[]){"balancerctl", "--json",
						  "replay", f->trace, NULL}),
			 0);
	assert_non_null(strstr(fake_slurp(out), "\"differences\": 0"));

	snprintf(cmd, sizeof(cmd),
		 "perl -0pi -e 's/\"mode\":\"tight\",\"mode_reason\":\"/"
		 "\"mode\":\"tight\",\"mode_reason\":\"X/' %s",
		 f->trace);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ctl(out, (char *const[]){"balancerctl", "replay",
						  f->trace, NULL}),
			 1);
	assert_non_null(strstr(fake_slurp(out), "1 differences"));
	assert_int_equal(
		ctl(out, (char *const[]){"balancerctl", "replay", "--frm", "1s",
					 f->trace, NULL}),
		2);
}

/* Lines of @path that contain @needle. */
static unsigned int count_lines(const char *path, const char *needle)
{
	static char line[1 << 20];
	unsigned int n = 0;
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

/* A disk that stalls from tick 5 to 25 (as test_trace's test_disk_behind):
 * the recorder drops ticks and writes "gap" headers. */
static void stall_hook(struct trace_recorder *r, unsigned int k, void *data)
{
	(void)data;
	if (k == 0)
		trace_recorder_set_queue_max(r, 40 << 10);
	if (k == 5) {
		trace_recorder_flush(r);
		trace_recorder_pause(r, true);
	}
	if (k == 25) {
		trace_recorder_set_queue_max(r, 64 << 20);
		trace_recorder_pause(r, false);
		trace_recorder_flush(r);
	}
}

/* The report says how many headers and gaps the trace had, as many as
 * the file holds, in the text and in --json. */
static void test_gaps_reported(void **state)
{
	struct fix *f = *state;
	unsigned int headers, gaps;
	char out[128], want[96];
	json_error_t je;
	json_t *o;

	unlink(f->trace);
	synth_record_hooked(f->trace, 40, 0, NULL, stall_hook, NULL);
	headers = count_lines(f->trace, "\"type\":\"header\"");
	gaps = count_lines(f->trace, "\"why\":\"gap\"");
	assert_true(gaps >= 1);
	assert_int_equal(headers, gaps + 1); /* the start's */

	snprintf(out, sizeof(out), "%s/out", f->dir);
	fake_write(f->policy, synth_policy);
	assert_int_equal(ctl(out, (char *const[]){"balancerctl", "replay",
						  f->trace, NULL}),
			 0);
	snprintf(want, sizeof(want),
		 "\ntrace: %u headers, %u gaps (ticks the recorder dropped",
		 headers, gaps);
	assert_non_null(strstr(fake_slurp(out), want));

	assert_int_equal(ctl(out, (char *const[]){"balancerctl", "replay",
						  f->trace, "--policy",
						  f->policy, "--json", NULL}),
			 0);
	o = json_loads(fake_slurp(out), 0, &je);
	if (!o)
		fail_msg("--json: %s", je.text);
	assert_int_equal(json_integer_value(json_object_get(o, "headers")),
			 headers);
	assert_int_equal(json_integer_value(json_object_get(o, "gaps")), gaps);
	json_decref(o);
}

/* ---- the real daemon's traces ------------------------------------------ */

static const char daemon_policy[] =
	"{\"interval\": \"1s\", \"backoff\": \"5s\",\n"
	" \"host\": {\"low_watermark\": \"15%\", \"min_watermark\": \"5%\",\n"
	"          \"high_watermark\": \"30%\"},\n"
	" \"classes\": [\n"
	"  {\"name\": \"batch\", \"match\": [\"batch-*\"], \"floor\": "
	"\"25%\",\n"
	"   \"pressure_target\": 5.0, \"max_reclaim_rate\": \"64M\",\n"
	"   \"memory_high\": \"90%\"},\n"
	"  {\"name\": \"web\", \"match\": [\"web-*\"], \"priority\": 100,\n"
	"   \"floor\": \"50%\", \"ceiling\": \"95%\", \"pressure_target\": "
	"1.0,\n"
	"   \"max_reclaim_rate\": \"32M\"}\n"
	" ]}\n";

/* The kernel's part: memory.current drops by what memory.reclaim was
 * asked (the fake tree keeps the daemon's writes in files). */
static void drain(struct fake_tree *t, const char *vm)
{
	const char *cur = fake_vm_read(t, vm, "memory.current");
	uint64_t c = strtoull(cur, NULL, 10);
	uint64_t r = strtoull(fake_vm_read(t, vm, "memory.reclaim"), NULL, 10);

	fake_vm_current(t, vm, c > r ? c - r : 0);
	fake_vm_clear_writes(t, vm);
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	char buf[8192];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* The manager itself, ticked on a fake host through every mode, a
 * backoff and a reload: its trace replays with no difference. */
static void test_daemon_trace(void **state)
{
	struct fix *f = *state;
	static const char *const vms[] = {"batch-1", "web-1", "lone-9"};
	struct balancer_options o = {0};
	struct fake_tree t;
	struct balancer *b;
	struct replay rp;
	char trace[600];
	usec_t now = 5000 * USEC_PER_SEC;

	fake_tree_create(&t, 64 * GiB, 16 * GiB);
	fake_policy(&t, "50-test.json", daemon_policy);
	fake_vm_add(&t, "batch-1", 8 * GiB, 8 * GiB);
	fake_vm_add(&t, "web-1", 4 * GiB, 4 * GiB);
	fake_vm_add(&t, "lone-9", 1 * GiB, 0);
	snprintf(trace, sizeof(trace), "%s/trace.jsonl", t.root);
	o.root = t.root;
	o.config_path = t.config;
	o.record = trace;
	assert_int_equal(balancer_new(&o, &b), 0);
	for (unsigned int k = 0; k < 40; k++, now += USEC_PER_SEC) {
		uint64_t avail = k < 8	  ? 16 * GiB
				 : k < 14 ? 6 * GiB
				 : k < 16 ? 2 * GiB
				 : k < 30 ? 12 * GiB
					  : 30 * GiB;

		fake_host(&t, 64 * GiB, avail, 0, 0);
		fake_vm_pressure(&t, "web-1", k == 4 || k == 5 ? 3.0 : 0.2, 0);
		if (k == 20) {
			fake_policy(&t, "50-test.json",
				    synth_policy_edit(daemon_policy, "\"32M\"",
						      "\"16M\""));
			assert_int_equal(balancer_reload(b), 0);
		}
		assert_int_equal(balancer_tick_at(b, now), 0);
		for (size_t i = 0; i < 3; i++)
			drain(&t, vms[i]);
	}
	balancer_free(b);
	/* README.md's example: REPLAY_KEEP_TRACE=FILE keeps the trace. */
	if (getenv("REPLAY_KEEP_TRACE"))
		copy_file(trace, getenv("REPLAY_KEEP_TRACE"));

	run(trace, NULL, &rp);
	assert_int_equal(rp.ticks, 40);
	assert_int_equal(rp.headers, 2);
	assert_true(rp.decisions > 20);
	assert_int_equal(rp.differences, 0);
	assert_true(vm_of(&rp, "batch-1")->reclaim[0] > 0);
	assert_true(vm_of(&rp, "web-1")->backoffs[0] > 0);
	assert_true(rp.mode_time[0][MODE_TIGHT] > 0);
	assert_true(rp.mode_time[0][MODE_CRITICAL] > 0);
	assert_true(rp.mode_time[0][MODE_RESTORE] > 0);
	replay_free(&rp);
	fake_tree_destroy(&t);
	(void)f;
}

/* build/balancerd --record, then build/balancerctl replay. */
static void test_daemon_binary(void **state)
{
	struct fix *f = *state;
	struct fake_tree t;
	char trace[600], out[128];
	const char *text;

	if (access("build/balancerd", X_OK) < 0)
		skip();				 /* make userspace first */
	fake_tree_create(&t, 64 * GiB, 6 * GiB); /* tight */
	fake_policy(&t, "50-test.json", daemon_policy);
	fake_vm_add(&t, "batch-1", 8 * GiB, 8 * GiB);
	fake_vm_add(&t, "web-1", 4 * GiB, 4 * GiB);
	snprintf(trace, sizeof(trace), "%s/trace.jsonl", t.root);
	snprintf(out, sizeof(out), "%s/out", f->dir);
	assert_int_equal(
		ctl_exec(out, (char *const[]){"build/balancerd", "--root",
					      t.root, "--config", t.config,
					      "--ticks", "4", "--interval",
					      "20ms", "--record", trace,
					      "--log-target", "stderr", NULL}),
		0);
	assert_int_equal(
		ctl(out, (char *const[]){"balancerctl", "replay", trace, NULL}),
		0);
	text = fake_slurp(out);
	assert_non_null(strstr(text, "replay: 4 ticks, "));
	assert_non_null(strstr(text, " decisions, 0 differences\n"));
	assert_null(strstr(text, " 0 decisions"));
	fake_tree_destroy(&t);
}

/* Wait up to 10 s for @needle in @path; false if it never came or
 * @pid died first. */
static bool wait_for_line(const char *path, const char *needle, pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		if (access(path, R_OK) == 0 && strstr(fake_slurp(path), needle))
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	return false;
}

/* SIGHUP while recording reloads, as without a trace: the recorder's
 * writer thread must not be where the signal lands and kills. */
static void test_daemon_sighup_while_recording(void **state)
{
	struct fix *f = *state;
	struct fake_tree t;
	char trace[600], out[128];
	int status = -1;
	pid_t pid;

	(void)f;
	if (access("build/balancerd", X_OK) < 0)
		skip(); /* make userspace first */
	fake_tree_create(&t, 64 * GiB, 6 * GiB);
	fake_policy(&t, "50-test.json", daemon_policy);
	fake_vm_add(&t, "batch-1", 8 * GiB, 8 * GiB);
	snprintf(trace, sizeof(trace), "%s/trace.jsonl", t.root);
	snprintf(out, sizeof(out), "%s/out", f->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv("build/balancerd",
		      (char *const[]){"build/balancerd", "--root", t.root,
				      "--config", t.config, "--interval",
				      "20ms", "--record", trace, "--log-target",
				      "stderr", NULL});
		_exit(127);
	}
	assert_true(wait_for_line(trace, "\"type\":\"tick\"", pid));
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(wait_for_line(trace, "\"why\":\"reload\"", pid));
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fake_tree_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_across_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_window_and_glob, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_daemon_trace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_daemon_binary, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_daemon_sighup_while_recording, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
