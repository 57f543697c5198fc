// SPDX-License-Identifier: GPL-2.0
/* A scripted host recorded to a trace: see trace_synth.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"
#include "policy.h"
#include "trace.h"
#include "trace_synth.h"

#define SYN_M	(1ULL << 20)
#define SYN_G	(1ULL << 30)
#define SYN_SEC USEC_PER_SEC
#define PAGE	4096ULL

/*
 * 16G host: low 2.4G, min 0.8G, high 4.8G. web is worth more and rated
 * lower; batch has ovcmem signals and a short cold age.
 */
const char synth_policy[] =
	"{\"interval\": \"1s\", \"backoff\": \"10s\", \"hysteresis\": 0.1,\n"
	" \"host\": {\"low_watermark\": \"15%\", \"min_watermark\": \"5%\",\n"
	"          \"high_watermark\": \"30%\", \"psi_full_limit\": 5.0},\n"
	" \"classes\": [\n"
	"  {\"name\": \"web\", \"match\": [\"web-*\"], \"priority\": 100,\n"
	"   \"floor\": \"50%\", \"ceiling\": \"90%\", \"pressure_target\": "
	"1.0,\n"
	"   \"cold_age\": \"20s\", \"max_reclaim_rate\": \"64M\",\n"
	"   \"prefault\": true},\n"
	"  {\"name\": \"batch\", \"match\": [\"batch-*\"], \"priority\": 0,\n"
	"   \"floor\": \"10%\", \"pressure_target\": 5.0, \"cold_age\": "
	"\"10s\",\n"
	"   \"max_reclaim_rate\": \"128M\", \"prefault\": false,\n"
	"   \"memory_high\": \"95%\"}\n"
	" ]}\n";

const char *synth_policy_edit(const char *policy, const char *from,
			      const char *to)
{
	static char buf[4096];
	const char *at = strstr(policy, from);

	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - policy), policy, to,
		 at + strlen(from));
	return buf;
}

/* The script, by tick: the host's MemAvailable over a 20-tick cycle. */
static uint64_t host_avail(unsigned int k)
{
	unsigned int c = k % 20;

	if (c < 6)
		return 4 * SYN_G; /* proactive */
	if (c < 10)
		return 2 * SYN_G; /* tight */
	if (c < 12)
		return SYN_G / 2; /* critical */
	if (c < 16)
		return 3 * SYN_G; /* proactive again */
	return 6 * SYN_G;	  /* restore */
}

static void vms_init(struct vm_signals *v)
{
	memset(v, 0, 3 * sizeof(*v));
	snprintf(v[0].name, sizeof(v[0].name), "web-1");
	snprintf(v[0].cgroup, sizeof(v[0].cgroup), "machine.slice/web-1.scope");
	v[0].pid = 100;
	v[0].memory_max = 4 * SYN_G;
	v[0].memory_current = 3800 * SYN_M; /* above the 90% ceiling */
	snprintf(v[1].name, sizeof(v[1].name), "batch-1");
	v[1].pid = 200;
	v[1].memory_max = MEMORY_UNLIMITED;
	v[1].memory_current = 4 * SYN_G;
	v[1].ovcmem.present = true;
	v[1].ovcmem.pages = 4 * SYN_G / PAGE;
	snprintf(v[2].name, sizeof(v[2].name), "lone-1");
	v[2].memory_max = MEMORY_UNLIMITED;
	v[2].memory_current = SYN_G;
}

/* Tick @k's moving signals. */
static void vms_script(struct vm_signals *v, unsigned int k)
{
	static const uint64_t idle_mib[IDLE_BUCKETS] = {512, 300, 400,
							300, 200, 300};
	struct ovcmem_signals *o = &v[1].ovcmem;

	v[0].psi.some.present = true;
	v[0].psi.some.avg10 = k % 20 == 4 || k % 20 == 5 ? 2.5 : 0.25;
	v[0].d_refault_anon = k % 20 == 18 ? 2048 : 0;
	v[1].psi.some.present = true;
	v[1].psi.some.avg10 = 0.5 + 0.125 * (k % 4);
	o->pages_mapped = v[1].memory_current / PAGE;
	o->cold_valid = true;
	for (unsigned int b = 0; b < IDLE_BUCKETS; b++)
		o->idle_pages[b] = idle_mib[b] * SYN_M / PAGE;
	/* idle >= 10 ticks: most of bucket 1 and all older ones */
	o->cold_pages = (250 + 400 + 300 + 200 + 300) * SYN_M / PAGE;
	o->d_refaults = k % 20 == 17 ? 512 : 0;
}

/* What acting achieves: all of it, but pageouts come back half-done on
 * odd ticks. */
static struct act_result outcome(const struct action *a, unsigned int k)
{
	struct act_result res = {.bytes_done = a->bytes};

	if (a->kind == ACTION_PAGEOUT && k % 2)
		res.bytes_done = a->bytes / 2;
	return res;
}

/* The kernel's part, once the tick is recorded as decide() read it. */
static void apply(struct vm_signals *v, const struct action *a, uint64_t done)
{
	struct vm_signals *vm = &v[a->vm];

	if (a->kind == ACTION_PAGEOUT || a->kind == ACTION_RECLAIM)
		vm->memory_current -=
			done < vm->memory_current ? done : vm->memory_current;
	else if (a->kind == ACTION_PREFAULT)
		vm->memory_current += done;
	else if (a->kind == ACTION_SET_HIGH)
		vm->memory_high = a->bytes;
	else if (a->kind == ACTION_SET_LOW)
		vm->memory_low = a->bytes;
}

static void load(struct policy *p, const char *json)
{
	struct policy_errors errs = {0};

	assert_int_equal(policy_load_string(json, "synth.json", p, &errs), 0);
	policy_errors_free(&errs);
}

uint64_t synth_record(const char *path, unsigned int n_ticks,
		      uint64_t max_bytes, const char *reload_policy)
{
	return synth_record_hooked(path, n_ticks, max_bytes, reload_policy,
				   NULL, NULL);
}

uint64_t synth_record_hooked(const char *path, unsigned int n_ticks,
			     uint64_t max_bytes, const char *reload_policy,
			     synth_hook_fn *hook, void *data)
{
	struct balancer_state state = {0};
	struct tick_output out = {0};
	struct trace_recorder *rec = NULL;
	struct host_signals host = {.mem_total = 16 * SYN_G};
	struct vm_signals v[3];
	const struct policy_class *cls[3];
	struct policy p = {0};
	uint64_t decided = 0;

	load(&p, synth_policy);
	vms_init(v);
	assert_int_equal(trace_recorder_open(path, max_bytes, "start", SYN_SEC,
					     false, &p, &state, &rec),
			 0);
	for (unsigned int k = 0; k < n_ticks; k++) {
		struct tick_input in = {.now = (1000 + k) * SYN_SEC,
					.interval = SYN_SEC,
					.host = &host,
					.vms = v,
					.n_vms = 3,
					.classes = cls};

		if (hook)
			hook(rec, k, data);
		if (reload_policy && k == n_ticks / 2) {
			policy_free(&p);
			load(&p, reload_policy);
			trace_recorder_update(&rec, path, "reload", SYN_SEC,
					      false, &p, &state);
		}
		host.mem_available = host_avail(k);
		vms_script(v, k);
		for (size_t i = 0; i < 3; i++)
			cls[i] = policy_match(&p, v[i].name, NULL, 0);
		tick_output_reset(&out);
		assert_int_equal(decide(&state, &p, &in, &out), 0);
		for (size_t i = 0; i < out.n_actions; i++) {
			struct act_result res = outcome(&out.actions[i], k);

			trace_recorder_result(rec, i, &res);
			decide_account(&state, v[out.actions[i].vm].name,
				       out.actions[i].kind, res.bytes_done,
				       in.now);
		}
		trace_recorder_tick(rec, &in, &out, &state);
		for (size_t i = 0; i < out.n_actions; i++)
			apply(v, &out.actions[i],
			      outcome(&out.actions[i], k).bytes_done);
		decided += out.n_actions;
	}
	trace_recorder_close(rec);
	tick_output_free(&out);
	balancer_state_free(&state);
	policy_free(&p);
	return decided;
}
