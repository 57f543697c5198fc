// SPDX-License-Identifier: GPL-2.0
/*
 * balancerctl simulate's scenario loader: any file given as a scenario.
 * A scenario that loads is run through the model for a few ticks under a
 * fixed policy and reported, as balancerctl simulate would.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "simulate.h"

/*
 * The model costs O(units) a tick (simulate.h), more when the host runs
 * short and sorts every unit, so a loaded scenario runs for at most this
 * many units x ticks: a few milliseconds under the sanitizers, 40 at
 * worst, so that the gate stays quick. A scenario over it even for one
 * tick (a host of large VMs, such as S1's) is loaded only.
 */
#define MODEL_UNIT_TICKS (1ULL << 16)
/* Ticks enough for the cold ages below to pass and actions to follow. */
#define MODEL_TICKS_MAX 24

/*
 * Classes that take every path of the act step: PAGEOUT on ovcmem VMs,
 * RECLAIM on plain ones, PREFAULT (latency), SET_HIGH and SET_LOW
 * (batch), MERGE, and no class at all for "x-*". Short cold ages and
 * high watermarks, so that a few ticks reach them.
 */
static const char policy_text[] =
	"{\"interval\": \"1s\", \"backoff\": \"2s\", \"hysteresis\": 0.05,"
	" \"host\": {\"low_watermark\": \"40%\", \"min_watermark\": \"20%\","
	" \"high_watermark\": \"60%\", \"psi_full_limit\": 1.0},"
	" \"classes\": ["
	" {\"name\": \"none\", \"match\": [\"x-*\"], \"priority\": 0,"
	" \"shares\": 1, \"floor\": \"100%\", \"pressure_target\": 100,"
	" \"cold_age\": \"1h\", \"max_reclaim_rate\": \"1M\","
	" \"prefault\": false},"
	" {\"name\": \"latency\", \"match\": [\"web-*\"], \"priority\": 100,"
	" \"shares\": 200, \"floor\": \"30%\", \"pressure_target\": 0.5,"
	" \"cold_age\": \"2s\", \"max_reclaim_rate\": \"64M\","
	" \"prefault\": true, \"merge\": true},"
	" {\"name\": \"batch\", \"match\": [\"batch-*\"], \"priority\": 0,"
	" \"shares\": 25, \"floor\": \"5%\", \"pressure_target\": 10,"
	" \"cold_age\": \"1s\", \"max_reclaim_rate\": \"1G\","
	" \"prefault\": false, \"memory_high\": \"50%\","
	" \"memory_low\": \"10%\"},"
	" {\"name\": \"default\", \"match\": [\"*\"], \"priority\": 50,"
	" \"shares\": 100, \"floor\": \"10%\", \"pressure_target\": 2,"
	" \"cold_age\": \"3s\", \"max_reclaim_rate\": \"256M\","
	" \"prefault\": true}]}";

static const struct policy *fuzz_policy(void)
{
	static struct policy p;
	static bool loaded;
	struct policy_errors errs = {0};

	if (!loaded) {
		/* A policy that does not load is the target's own bug. */
		if (policy_load_string(policy_text, "fuzz-policy.json", &p,
				       &errs) < 0)
			abort();
		policy_errors_free(&errs);
		loaded = true;
	}
	return &p;
}

/* The units vm_init() gives each VM, summed. */
static uint64_t model_units(const struct sim_scenario *s)
{
	uint64_t units = 0;

	for (size_t i = 0; i < s->n_vms; i++) {
		uint64_t pages = s->vms[i].size / 4096;

		units += pages < SIM_UNITS_MAX ? pages : SIM_UNITS_MAX;
	}
	return units;
}

static void run_model(const struct sim_scenario *s)
{
	static FILE *null;
	uint64_t units = model_units(s), ticks = s->duration / s->interval;
	struct sim_result r;

	if (units && ticks > MODEL_UNIT_TICKS / units)
		ticks = MODEL_UNIT_TICKS / units;
	if (ticks > MODEL_TICKS_MAX)
		ticks = MODEL_TICKS_MAX;
	if (!ticks)
		return;
	if (!null)
		null = fopen("/dev/null", "w");
	if (sim_run(s, fuzz_policy(), ticks * s->interval, &r) < 0)
		return;
	/* The run is whole ticks (sim_run), as many as asked. */
	if (r.ticks != ticks)
		abort();
	if (null) {
		sim_print(&r, s->file, "fuzz-policy.json", null, false);
		sim_print(&r, s->file, "fuzz-policy.json", null, true);
	}
	sim_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errs = {0};
	struct sim_scenario s;
	char path[64], line[1024];

	if (fuzz_file(data, size, path, sizeof(path)) < 0)
		return 0;
	if (sim_scenario_load_file(path, &s, &errs) == 0) {
		run_model(&s);
		sim_scenario_free(&s);
	}
	/* What balancerctl prints of each problem. */
	for (size_t i = 0; i < errs.n; i++)
		policy_error_format(&errs.items[i], line, sizeof(line));
	policy_errors_free(&errs);
	return 0;
}
