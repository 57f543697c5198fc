// SPDX-License-Identifier: GPL-2.0
/*
 * Simulate: decide() in a closed loop against the guest model. Each row
 * of the behaviour table is a scenario with what the policy must have
 * done to it (cold memory reclaimed, refaults, restores, modes); pairs
 * of runs compare a faster rate with a slower one; two runs of one
 * scenario give the same report; bad scenario files are refused with
 * "FILE:LINE:COL: key: what is wrong"; balancerctl simulate's output and
 * exit codes. Run from the repository root (it execs build/balancerctl).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "simulate.h"

/* One class for every VM; %s is the rate, then the cold age. */
static const char policy_fmt[] =
	"{\"interval\": \"1s\", \"backoff\": \"30s\", \"hysteresis\": 0.1,"
	" \"host\": {\"low_watermark\": \"15%%\", \"min_watermark\": \"5%%\","
	" \"high_watermark\": \"30%%\", \"psi_full_limit\": 5.0},"
	" \"classes\": [{\"name\": \"all\", \"match\": [\"*\"],"
	" \"priority\": 50, \"shares\": 100, \"floor\": \"10%%\","
	" \"pressure_target\": 1.0, \"cold_age\": \"%s\","
	" \"max_reclaim_rate\": \"%s\", \"prefault\": true}]}";

static void load_policy(const char *rate, const char *cold_age,
			struct policy *p)
{
	struct policy_errors errs = {0};
	char text[1024];

	snprintf(text, sizeof(text), policy_fmt, cold_age, rate);
	if (policy_load_string(text, "test-policy.json", p, &errs) < 0) {
		char msg[512];

		policy_error_format(&errs.items[0], msg, sizeof(msg));
		fail_msg("policy: %s", msg);
	}
	policy_errors_free(&errs);
}

static void load_scenario(const char *text, struct sim_scenario *s)
{
	struct policy_errors errs = {0};

	if (sim_scenario_load_string(text, "test.json", s, &errs) < 0) {
		char msg[512];

		policy_error_format(&errs.items[0], msg, sizeof(msg));
		fail_msg("scenario: %s", msg);
	}
	policy_errors_free(&errs);
}

static void run(const char *scenario, const char *rate, const char *cold_age,
		struct sim_result *r)
{
	struct sim_scenario s;
	struct policy p;

	load_scenario(scenario, &s);
	load_policy(rate, cold_age, &p);
	assert_int_equal(sim_run(&s, &p, 0, r), 0);
	policy_free(&p);
	sim_scenario_free(&s);
}

static int mark(const struct sim_result *r, unsigned int sec)
{
	for (size_t m = 0; m < r->n_marks; m++)
		if (r->marks[m] == sec * USEC_PER_SEC)
			return (int)m;
	fail_msg("no mark at %u s", sec);
	return -1;
}

static double cold_pct(const struct sim_result *r, size_t vm, unsigned int sec)
{
	int m = mark(r, sec);

	return 100.0 * (double)r->vms[vm].cold_out[m] /
	       (double)r->vms[vm].cold[m];
}

/* ---- behaviour, one scenario a row ------------------------------------ */

#define ONE_VM(mem, extra, hot, access)                                        \
	"{\"mem_total\": \"" mem "\", \"duration\": \"180s\", \"vms\": "       \
	"[{\"name\": \"vm1\", \"size\": \"256M\", " extra "\"hot\": " hot      \
	", \"access\": " access "}]}"

struct row {
	const char *name;
	const char *scenario;
	const char *rate, *cold_age;
	void (*check)(const struct sim_result *r);
};

/* A constant hot set: the cold 75% is out within 60 s, and the hot set,
 * touched every 4 s, is never taken (no refaults). */
static void check_steady(const struct sim_result *r)
{
	assert_true(cold_pct(r, 0, 60) >= 90);
	assert_true(cold_pct(r, 0, 180) >= 90);
	assert_int_equal(r->vms[0].refaults, 0);
	assert_int_equal(r->vms[0].hot_out_max, 0);
	assert_true(r->vms[0].pageout_done >= 180ULL << 20);
}

/* Random touches leave some hot pages idle past a short cold age: they
 * are paged out and come back, and the cold age is stretched. */
static void check_random_short_age(const struct sim_result *r)
{
	assert_true(cold_pct(r, 0, 60) >= 90);
	assert_true(r->vms[0].refaults > 0);
	assert_true(r->vms[0].cold_scale_max > 1);
}

/* The working set doubles at 60 s: what was paged out refaults, and the
 * policy restores it (prefault) within two ticks, and does not take it
 * again. */
static void check_doubling(const struct sim_result *r)
{
	const struct sim_vm_result *v = &r->vms[0];

	assert_int_equal(v->spike_at, 60 * USEC_PER_SEC);
	assert_true(v->spike_refaults30 > 0);
	assert_true(v->spike_restored);
	assert_true(v->spike_restore_at - v->spike_at <= 2 * USEC_PER_SEC);
	assert_true(v->restores >= 1 && v->prefault_done > 0);
	/* and none after: the new hot set is not taken again */
	assert_int_equal(v->refaults, v->spike_refaults30);
	assert_true(v->resident[r->n_marks - 1] >= 128ULL << 20);
}

/* Without ovcmem, memory.reclaim's LRU takes hot pages once the cold
 * ones are gone: refaults, stall, and backoffs at the pressure target. */
static void check_plain(const struct sim_result *r)
{
	const struct sim_vm_result *v = &r->vms[0];

	assert_false(v->ovcmem);
	assert_true(v->reclaim_done > 0);
	assert_int_equal(v->pageout_done, 0);
	assert_true(v->refaults > 0);
	assert_true(v->backoffs >= 1);
	assert_true(v->psi_some_max >= 1.0);
}

/* A fill of 60 s, as guestsim's under emulation: the hot set, written
 * first, sits idle past the cold age before the guest starts touching it,
 * is paged out with the rest, and comes back when the accesses begin,
 * by refaults and the restore they set off; then the VM settles at its
 * hot set. */
static void check_slow_fill(const struct sim_result *r)
{
	const struct sim_vm_result *v = &r->vms[0];
	const uint64_t hot_pages = (64ULL << 20) / 4096;

	assert_true(v->resident[mark(r, 30)] < 128ULL << 20);
	/* the whole hot set came back, by refaults or the restore */
	assert_true(v->refaults > 0);
	assert_true(v->refaults <= hot_pages);
	assert_true(v->refaults * 4096 + v->prefault_done >= 60ULL << 20);
	assert_true(v->restores >= 1);
	assert_true(v->resident[r->n_marks - 1] >= 60ULL << 20);
	assert_true(v->resident[r->n_marks - 1] <= 70ULL << 20);
}

/* 256M filled on a 264M host: MemAvailable starts under 5%, and the
 * lowest priority gives what it can, cold memory first. */
static void check_pressure(const struct sim_result *r)
{
	assert_true(r->mode_time[MODE_CRITICAL] > 0);
	assert_true(r->vms[0].pageout_done + r->vms[0].reclaim_done > 0);
	/* and once the cold memory is out, the host is calm again */
	assert_true(r->mode_time[MODE_CRITICAL] < 30 * USEC_PER_SEC);
	assert_true(r->mode_time[MODE_RESTORE] > 60 * USEC_PER_SEC);
	assert_int_equal(r->oom_ticks, 0);
}

/* The same VM on a roomy host never leaves restore/proactive. */
static void check_roomy(const struct sim_result *r)
{
	assert_int_equal(r->mode_time[MODE_CRITICAL], 0);
	assert_int_equal(r->mode_time[MODE_TIGHT], 0);
	assert_true(r->mode_time[MODE_RESTORE] > 0);
}

static const struct row rows[] = {
	{"steady hot set, sweep",
	 ONE_VM("4G", "", "[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		"{\"every\": \"4s\"}"),
	 "64M", "20s", check_steady},
	{"random touches, short cold age",
	 ONE_VM("4G", "", "[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		"{\"touches_per_second\": 4000}"),
	 "64M", "5s", check_random_short_age},
	{"working set doubles at 60 s",
	 ONE_VM("4G", "\"refault_cost\": \"20us\", ",
		"[{\"at\": \"0s\", \"bytes\": \"25%\"}, "
		"{\"at\": \"60s\", \"bytes\": \"50%\"}]",
		"{\"every\": \"10s\"}"),
	 "64M", "30s", check_doubling},
	{"plain VM, reclaim by LRU",
	 ONE_VM("4G", "\"ovcmem\": false, \"refault_cost\": \"2ms\", ",
		"[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		"{\"every\": \"4s\"}"),
	 "64M", "20s", check_plain},
	{"slow fill, then accesses",
	 ONE_VM("4G", "\"fill\": \"60s\", ",
		"[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		"{\"every\": \"4s\"}"),
	 "64M", "20s", check_slow_fill},
	{"host pressure escalates the mode",
	 ONE_VM("264M", "", "[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		"{\"every\": \"4s\"}"),
	 "64M", "20s", check_pressure},
	{"roomy host stays calm",
	 ONE_VM("16G", "", "[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		"{\"every\": \"4s\"}"),
	 "64M", "20s", check_roomy},
};

static void test_behaviour(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sim_result r;

		print_message("row: %s\n", rows[i].name);
		run(rows[i].scenario, rows[i].rate, rows[i].cold_age, &r);
		assert_int_equal(r.ticks, 180);
		rows[i].check(&r);
		sim_result_free(&r);
	}
}

/* ---- a faster rate reclaims sooner and refaults more ------------------ */

static void test_rate(void **state)
{
	/* Plain: nothing tells hot from cold but the LRU, so a rate past
	 * the cold memory takes hot pages. */
	static const char sc[] =
		ONE_VM("4G", "\"ovcmem\": false, \"refault_cost\": \"200us\", ",
		       "[{\"at\": \"0s\", \"bytes\": \"25%\"}]",
		       "{\"every\": \"4s\"}");
	struct sim_result slow, fast;

	(void)state;
	run(sc, "4M", "20s", &slow);
	run(sc, "256M", "20s", &fast);
	assert_true(cold_pct(&fast, 0, 30) > cold_pct(&slow, 0, 30) + 20);
	assert_true(fast.vms[0].refaults > 2 * slow.vms[0].refaults);
	assert_true(fast.vms[0].hot_out_max > slow.vms[0].hot_out_max);
	sim_result_free(&slow);
	sim_result_free(&fast);
}

/* A slow act step (act_rate) delays the reclaim, and only delays it. */
static void test_act_rate(void **state)
{
#define STEADY(extra)                                                          \
	"{\"mem_total\": \"4G\", " extra "\"vms\": [{\"name\": \"vm1\", "      \
	"\"size\": \"256M\", \"hot\": [{\"at\": \"0s\", \"bytes\": "           \
	"\"25%\"}], \"access\": {\"every\": \"4s\"}}]}"
	struct sim_result fast, slow;

	(void)state;
	run(STEADY(""), "64M", "20s", &fast);
	run(STEADY("\"act_rate\": \"2M\", "), "64M", "20s", &slow);
	assert_true(cold_pct(&fast, 0, 30) >= 90);
	/* 2M/s from 21 s on: about 20M of 192M by 30 s, 80M by 60 s */
	assert_true(cold_pct(&slow, 0, 30) < 15);
	assert_true(cold_pct(&slow, 0, 60) < 50);
	assert_true(cold_pct(&slow, 0, 180) >= 90);
	assert_int_equal(slow.vms[0].refaults, 0);
	sim_result_free(&fast);
	sim_result_free(&slow);
#undef STEADY
}

/* A duration that is not whole intervals: the run stops at the last
 * whole one, and its figures are there. */
static void test_whole_ticks(void **state)
{
	struct sim_result r;

	(void)state;
	run("{\"mem_total\": \"4G\", \"interval\": \"3s\", \"duration\": "
	    "\"100s\", \"vms\": [{\"name\": \"vm1\", \"size\": \"256M\", "
	    "\"hot\": [{\"at\": \"0s\", \"bytes\": \"25%\"}], \"access\": "
	    "{\"every\": \"4s\"}}]}",
	    "64M", "20s", &r);
	assert_int_equal(r.ticks, 33);
	assert_int_equal(r.duration, 99 * USEC_PER_SEC);
	assert_int_equal(r.marks[r.n_marks - 1], 99 * USEC_PER_SEC);
	assert_true(r.vms[0].resident[r.n_marks - 1] >= 60ULL << 20);
	assert_true(r.vms[0].cold_out[r.n_marks - 1] > 0);
	sim_result_free(&r);
}

/* ---- determinism ------------------------------------------------------- */

static char *report(const char *scenario, bool json)
{
	struct sim_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	run(scenario, "64M", "5s", &r);
	sim_print(&r, "test.json", "test-policy.json", f, json);
	fclose(f);
	sim_result_free(&r);
	return buf;
}

#define RANDOM_TWO(seed)                                                       \
	"{\"mem_total\": \"1G\", \"seed\": " seed ", \"vms\": ["               \
	"{\"name\": \"a\", \"size\": \"256M\", \"hot\": [{\"at\": \"0s\", "    \
	"\"bytes\": \"25%\"}, {\"at\": \"60s\", \"bytes\": \"50%\"}], "        \
	"\"access\": {\"touches_per_second\": 4000}},"                         \
	"{\"name\": \"b\", \"size\": \"256M\", \"ovcmem\": false, \"hot\": "   \
	"[{\"at\": \"0s\", \"bytes\": \"30%\"}], "                             \
	"\"access\": {\"touches_per_second\": 2000}}]}"

static void test_deterministic(void **state)
{
	char *a, *b, *c;

	(void)state;
	for (int json = 0; json < 2; json++) {
		a = report(RANDOM_TWO("7"), json);
		b = report(RANDOM_TWO("7"), json);
		c = report(RANDOM_TWO("8"), json);
		assert_string_equal(a, b);
		/* the seed is used: another one, other refaults */
		assert_string_not_equal(a, c);
		free(a);
		free(b);
		free(c);
	}
}

/* ---- bad scenarios ----------------------------------------------------- */

#define GOOD_VM                                                                \
	"{\"name\": \"vm1\", \"size\": \"256M\", \"hot\": [{\"at\": \"0s\", "  \
	"\"bytes\": \"25%\"}], \"access\": {\"every\": \"4s\"}}"

static const struct {
	const char *text;
	const char *want; /* in the first error */
} bad[] = {
	{"{\"vms\": [" GOOD_VM "]}",
	 "test.json:1:1: mem_total: missing required key 'mem_total'"},
	{"{\"mem_total\": \"4G\", \"vms\": []}",
	 "vms: expected a list of 1 to 256 VMs, found an empty list"},
	{"{\"mem_total\": \"4G\", \"vms\": [{\"name\": \"vm1\", \"size\": "
	 "\"256M\", \"hot\": [{\"at\": \"0s\", \"bytes\": \"512M\"}], "
	 "\"access\": {\"every\": \"4s\"}}]}",
	 "vms[0].hot[0].bytes: expected at most the VM's size 256M, found "
	 "512M"},
	{"{\"mem_total\": \"4G\", \"vms\": [{\"name\": \"vm1\", \"size\": "
	 "\"256M\", \"hot\": [{\"at\": \"10s\", \"bytes\": \"1M\"}, {\"at\": "
	 "\"5s\", \"bytes\": \"2M\"}], \"access\": {\"every\": \"4s\"}}]}",
	 "vms[0].hot[1].at: expected a time after the previous phase's 10s, "
	 "found 5s"},
	{"{\"mem_total\": \"4G\", \"vms\": [{\"name\": \"vm1\", \"size\": "
	 "\"256M\", \"hot\": [{\"at\": \"0s\", \"bytes\": \"1M\"}], "
	 "\"access\": {\"every\": \"4s\", \"touches_per_second\": 5}}]}",
	 "vms[0].access: expected exactly one of \"every\" and "
	 "\"touches_per_second\""},
	{"{\"mem_total\": \"4G\", \"vms\": [{\"name\": \"vm1\", \"sise\": "
	 "\"256M\"}]}",
	 "vms[0].sise: unknown key 'sise' (did you mean 'size'?)"},
	{"{\"mem_total\": \"4G\", \"vms\": [" GOOD_VM ", " GOOD_VM "]}",
	 "vms[1].name: expected a name of its own, found \"vm1\" as in "
	 "vms[0]"},
	{"{\"mem_total\": \"4G\", \"vms\": [{\"name\": \"vm1\", \"size\": "
	 "\"256M\", \"zram_ratio\": 0.5, \"hot\": [{\"at\": \"0s\", "
	 "\"bytes\": \"1M\"}], \"access\": {\"every\": \"4s\"}}]}",
	 "vms[0].zram_ratio: expected a number from 1 to 100, found 0.5"},
	{"{\"mem_total\": \"4G\", \"interval\": \"10s\", \"duration\": "
	 "\"5s\", \"vms\": [" GOOD_VM "]}",
	 "duration: expected from one interval (10s)"},
	{"{\"mem_total\": \"4G\", \"vms\": [" GOOD_VM "}", "test.json:1:"},
	{"[]", "test.json:1:1: expected an object at the top level"},
	{"{\"mem_total\": \"4G\", \"vms\": [{\"name\": \"vm1\", \"size\": "
	 "\"256M\", \"filled\": false, \"fill\": \"10s\", \"hot\": [{\"at\": "
	 "\"0s\", \"bytes\": \"1M\"}], \"access\": {\"every\": \"4s\"}}]}",
	 "vms[0].fill: expected no fill for a VM with \"filled\": false"},
};

static void test_bad_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_errors errs = {0};
		struct sim_scenario s = {0};
		char msg[512];

		print_message("bad: %s\n", bad[i].want);
		assert_int_equal(sim_scenario_load_string(
					 bad[i].text, "test.json", &s, &errs),
				 -EINVAL);
		assert_true(errs.n >= 1);
		assert_null(s.vms);
		policy_error_format(&errs.items[0], msg, sizeof(msg));
		if (!strstr(msg, bad[i].want))
			fail_msg("got \"%s\", want \"%s\"", msg, bad[i].want);
		policy_errors_free(&errs);
	}
}

/* The shipped examples load and run. */
static void test_examples(void **state)
{
	static const char *const files[] = {
		"docs/examples/simulate/s1.json",
		"docs/examples/simulate/s1-loaded.json",
		"docs/examples/simulate/tight-host.json",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct policy_errors errs = {0};
		struct sim_scenario s;
		struct sim_result r;
		struct policy p;

		assert_int_equal(sim_scenario_load_file(files[i], &s, &errs),
				 0);
		load_policy("64M", "20s", &p);
		assert_int_equal(sim_run(&s, &p, 30 * USEC_PER_SEC, &r), 0);
		assert_int_equal(r.ticks, 30);
		sim_result_free(&r);
		policy_free(&p);
		sim_scenario_free(&s);
	}
}

/* ---- balancerctl simulate ---------------------------------------------- */

static int ctl(const char *out, const char *err, char *const argv[])
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
			_exit(127);
		execv("build/balancerctl", argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_cli(void **state)
{
	char dir[] = "/tmp/test_simulate.XXXXXX", out[64], err[64], bad[64];
	const char *s1 = "docs/examples/simulate/s1.json";
	const char *pol = "policies/default.json";

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);

	assert_int_equal(
		ctl(out, err,
		    (char *const[]){"balancerctl", "simulate", (char *)s1,
				    "--policy", (char *)pol, "--seconds", "70",
				    NULL}),
		0);
	assert_non_null(strstr(fake_slurp(out), "not a measurement"));
	assert_non_null(strstr(fake_slurp(out), "70 s at 1s, 6 VMs"));
	assert_non_null(strstr(fake_slurp(out), "m-vm6: hot set grew at 60s"));

	assert_int_equal(ctl(out, err,
			     (char *const[]){"balancerctl", "--json",
					     "simulate", (char *)s1, "-p",
					     (char *)pol, "-s", "30", NULL}),
			 0);
	assert_non_null(strstr(fake_slurp(out), "\"ticks\": 30"));
	assert_non_null(strstr(fake_slurp(out), "\"model\": \"a model"));

	fake_write(bad, "{\"mem_total\": \"4G\",\n \"vms\": 3}\n");
	assert_int_equal(ctl(out, err,
			     (char *const[]){"balancerctl", "simulate", bad,
					     "--policy", (char *)pol, NULL}),
			 1);
	assert_non_null(strstr(fake_slurp(err), "bad.json:2:9: vms: expected "
						"a list of 1 to 256 VMs"));

	/* usage: no policy, a bad --seconds, two scenarios */
	assert_int_equal(ctl(out, err,
			     (char *const[]){"balancerctl", "simulate",
					     (char *)s1, NULL}),
			 2);
	assert_int_equal(
		ctl(out, err,
		    (char *const[]){"balancerctl", "simulate", (char *)s1, "-p",
				    (char *)pol, "--seconds", "0", NULL}),
		2);
	assert_int_equal(
		ctl(out, err,
		    (char *const[]){"balancerctl", "simulate", (char *)s1,
				    (char *)s1, "-p", (char *)pol, NULL}),
		2);
	fake_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_behaviour),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_act_rate),
		cmocka_unit_test(test_whole_ticks),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_bad_scenarios),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
