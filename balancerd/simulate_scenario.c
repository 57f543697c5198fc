// SPDX-License-Identifier: GPL-2.0
/*
 * Scenario files of balancerctl simulate: JSON to struct sim_scenario,
 * every problem collected as "FILE:LINE:COL: key: what is wrong". The
 * format is in docs/simulate.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simulate.h"

/* Bounds, so that a typo cannot ask for a run of years or petabytes. */
#define SIM_INTERVAL_MIN (10 * USEC_PER_MSEC)
#define SIM_INTERVAL_MAX (3600 * USEC_PER_SEC)
#define SIM_DURATION_MAX (7 * 24 * 3600 * USEC_PER_SEC)
#define SIM_SIZE_MIN	 (1ULL << 20)
#define SIM_SIZE_MAX	 (1ULL << 44) /* 16 TiB */
#define SIM_COST_MAX	 (10 * USEC_PER_SEC)
#define SIM_RATIO_MAX	 100.0

static const char *const top_keys[] = {
	"description", "mem_total", "swap", "host_used", "act_rate",
	"interval",    "duration",  "seed", "vms",	 NULL,
};
static const char *const vm_keys[] = {
	"description", "name",	 "size",	 "ovcmem",     "filled", "fill",
	"hot",	       "access", "refault_cost", "zram_ratio", NULL,
};
static const char *const phase_keys[] = {"at", "bytes", NULL};
static const char *const access_keys[] = {"every", "touches_per_second", NULL};

void sim_scenario_free(struct sim_scenario *s)
{
	free(s->vms);
	s->vms = NULL;
	s->n_vms = 0;
}

/* A size in bytes that must be there; 1 when it is and is valid. */
static int need_size(struct jcheck *c, const json_t *obj, const char *key,
		     uint64_t min, uint64_t *ret)
{
	struct size_spec spec = {0};
	char a[16];
	int r = jcheck_size_spec(c, obj, key, false, &spec);

	if (r == 0)
		jcheck_error_missing(c, key);
	if (r <= 0)
		return r;
	if (spec.bytes < min || spec.bytes > SIM_SIZE_MAX) {
		jcheck_push_key(c, key);
		jcheck_error(c, false, "expected a size from %s to 16T",
			     format_size(min, a, sizeof(a)));
		jcheck_pop(c);
		return -1;
	}
	*ret = spec.bytes;
	return 1;
}

static void parse_phase(struct jcheck *c, const json_t *j,
			struct sim_vm_spec *v, size_t i)
{
	struct sim_phase *ph = &v->phases[i];
	char a[16], b[16];

	if (!jcheck_object(c, j, "an object {\"at\": ..., \"bytes\": ...}",
			   phase_keys))
		return;
	if (jcheck_duration(c, j, "at", 0, SIM_DURATION_MAX, &ph->at) == 0)
		jcheck_error_missing(c, "at");
	if (jcheck_size_spec(c, j, "bytes", true, &ph->hot) == 0)
		jcheck_error_missing(c, "bytes");
	if (i > 0 && ph->at <= v->phases[i - 1].at &&
	    json_object_get(j, "at")) {
		jcheck_push_key(c, "at");
		jcheck_error(c, false,
			     "expected a time after the previous phase's %s, "
			     "found %s",
			     format_duration(v->phases[i - 1].at, a, sizeof(a)),
			     format_duration(ph->at, b, sizeof(b)));
		jcheck_pop(c);
	}
	if (ph->hot.set && !ph->hot.is_percent && v->size &&
	    ph->hot.bytes > v->size) {
		jcheck_push_key(c, "bytes");
		jcheck_error(c, false,
			     "expected at most the VM's size %s, found %s",
			     format_size(v->size, a, sizeof(a)),
			     format_size(ph->hot.bytes, b, sizeof(b)));
		jcheck_pop(c);
	}
}

static void parse_hot(struct jcheck *c, const json_t *vm, struct sim_vm_spec *v)
{
	const json_t *list = json_object_get(vm, "hot"), *item;
	char found[64];
	size_t i;

	if (!list) {
		jcheck_error_missing(c, "hot");
		return;
	}
	jcheck_push_key(c, "hot");
	if (!json_is_array(list) || !json_array_size(list) ||
	    json_array_size(list) > SIM_PHASES_MAX) {
		jcheck_error(
			c, false,
			"expected a list of 1 to %d phases {\"at\": "
			"\"0s\", \"bytes\": \"25%%\"}, found %s",
			SIM_PHASES_MAX,
			json_is_array(list)
				? (json_array_size(list) ? "too many"
							 : "an empty list")
				: jcheck_describe(list, found, sizeof(found)));
		jcheck_pop(c);
		return;
	}
	json_array_foreach(list, i, item)
	{
		jcheck_push_index(c, i);
		parse_phase(c, item, v, i);
		jcheck_pop(c);
	}
	v->n_phases = json_array_size(list);
	jcheck_pop(c);
}

static void parse_access(struct jcheck *c, const json_t *vm,
			 struct sim_vm_spec *v)
{
	const json_t *a = json_object_get(vm, "access");
	int every, rate;

	if (!a) {
		jcheck_error_missing(c, "access");
		return;
	}
	jcheck_push_key(c, "access");
	if (jcheck_object(c, a,
			  "an object {\"every\": \"4s\"} or "
			  "{\"touches_per_second\": 4000}",
			  access_keys)) {
		every = jcheck_duration(c, a, "every", SIM_INTERVAL_MIN,
					SIM_DURATION_MAX, &v->every);
		rate = jcheck_number(c, a, "touches_per_second", 0, true, 1e12,
				     &v->touches_per_sec);
		v->access = rate ? SIM_ACCESS_RANDOM : SIM_ACCESS_SWEEP;
		if ((every != 0) == (rate != 0))
			jcheck_error(c, false,
				     "expected exactly one of \"every\" and "
				     "\"touches_per_second\"");
	}
	jcheck_pop(c);
}

static void parse_vm(struct jcheck *c, const json_t *j, struct sim_vm_spec *v)
{
	char desc[1024];

	if (!jcheck_object(c, j, "a VM object", vm_keys))
		return;
	jcheck_string(c, j, "description", desc, sizeof(desc));
	if (jcheck_string(c, j, "name", v->name, sizeof(v->name)) == 0)
		jcheck_error_missing(c, "name");
	else if (json_is_string(json_object_get(j, "name")) && !v->name[0]) {
		jcheck_push_key(c, "name");
		jcheck_error(c, false, "expected a VM name, found \"\"");
		jcheck_pop(c);
	}
	need_size(c, j, "size", SIM_SIZE_MIN, &v->size);
	jcheck_bool(c, j, "ovcmem", &v->ovcmem);
	jcheck_bool(c, j, "filled", &v->filled);
	if (jcheck_duration(c, j, "fill", 0, SIM_DURATION_MAX, &v->fill) > 0 &&
	    !v->filled) {
		jcheck_push_key(c, "fill");
		jcheck_error(c, false,
			     "expected no fill for a VM with \"filled\": "
			     "false");
		jcheck_pop(c);
	}
	jcheck_duration(c, j, "refault_cost", 0, SIM_COST_MAX,
			&v->refault_cost);
	jcheck_number(c, j, "zram_ratio", 1, false, SIM_RATIO_MAX,
		      &v->zram_ratio);
	parse_hot(c, j, v);
	parse_access(c, j, v);
}

static void check_unique(struct jcheck *c, const struct sim_scenario *s)
{
	for (size_t i = 0; i < s->n_vms; i++)
		for (size_t k = 0; k < i; k++) {
			if (!s->vms[i].name[0] ||
			    strcmp(s->vms[i].name, s->vms[k].name))
				continue;
			jcheck_push_index(c, i);
			jcheck_push_key(c, "name");
			jcheck_error(c, false,
				     "expected a name of its own, found "
				     "\"%s\" as in vms[%zu]",
				     s->vms[i].name, k);
			jcheck_pop(c);
			jcheck_pop(c);
			break;
		}
}

static void parse_vms(struct jcheck *c, const json_t *root,
		      struct sim_scenario *s)
{
	const json_t *list = json_object_get(root, "vms"), *item;
	char found[64];
	size_t i;

	if (!list) {
		jcheck_error_missing(c, "vms");
		return;
	}
	jcheck_push_key(c, "vms");
	if (!json_is_array(list) || !json_array_size(list) ||
	    json_array_size(list) > SIM_VMS_MAX) {
		jcheck_error(
			c, false, "expected a list of 1 to %d VMs, found %s",
			SIM_VMS_MAX,
			json_is_array(list)
				? (json_array_size(list) ? "too many"
							 : "an empty list")
				: jcheck_describe(list, found, sizeof(found)));
		jcheck_pop(c);
		return;
	}
	s->vms = calloc(json_array_size(list), sizeof(*s->vms));
	if (!s->vms) {
		c->enomem = -ENOMEM;
		jcheck_pop(c);
		return;
	}
	s->n_vms = json_array_size(list);
	json_array_foreach(list, i, item)
	{
		struct sim_vm_spec *v = &s->vms[i];

		v->ovcmem = true;
		v->filled = true;
		v->refault_cost = SIM_DEFAULT_REFAULT_COST;
		v->zram_ratio = SIM_DEFAULT_ZRAM_RATIO;
		jcheck_push_index(c, i);
		parse_vm(c, item, v);
		jcheck_pop(c);
	}
	check_unique(c, s);
	jcheck_pop(c);
}

static void parse_top(struct jcheck *c, const json_t *root,
		      struct sim_scenario *s)
{
	long long seed = 1;
	struct size_spec swap = {0};
	char desc[1024], a[32];

	if (!jcheck_object(c, root, "an object at the top level", top_keys))
		return;
	jcheck_string(c, root, "description", desc, sizeof(desc));
	need_size(c, root, "mem_total", SIM_SIZE_MIN, &s->mem_total);
	/* Without it, half of MemTotal: zram's usual size. */
	if (jcheck_size_spec(c, root, "swap", false, &swap) > 0)
		s->swap_total = swap.bytes;
	else
		s->swap_total = s->mem_total / 2;
	if (json_object_get(root, "host_used"))
		need_size(c, root, "host_used", 0, &s->host_used);
	jcheck_rate(c, root, "act_rate", &s->act_rate);
	s->interval = SIM_DEFAULT_INTERVAL;
	s->duration = SIM_DEFAULT_DURATION;
	jcheck_duration(c, root, "interval", SIM_INTERVAL_MIN, SIM_INTERVAL_MAX,
			&s->interval);
	jcheck_duration(c, root, "duration", 1, SIM_DURATION_MAX, &s->duration);
	if (s->duration < s->interval ||
	    s->duration / s->interval > SIM_TICKS_MAX) {
		jcheck_push_key(c, "duration");
		jcheck_error(c, false,
			     "expected from one interval (%s) to %llu of "
			     "them",
			     format_duration(s->interval, a, sizeof(a)),
			     SIM_TICKS_MAX);
		jcheck_pop(c);
	}
	jcheck_int(c, root, "seed", 0, INT64_MAX, &seed);
	s->seed = (uint64_t)seed;
	parse_vms(c, root, s);
}

int sim_scenario_load_string(const char *text, const char *file,
			     struct sim_scenario *out,
			     struct policy_errors *errs)
{
	struct sim_scenario s = {0};
	size_t before = errs->n;
	struct jcheck chk;
	json_t *root;
	int r = 0;

	snprintf(s.file, sizeof(s.file), "%s", file);
	root = jcheck_parse(file, text, strlen(text), errs);
	if (!root)
		return -EINVAL;
	jcheck_init(&chk, file, text, strlen(text), errs);
	parse_top(&chk, root, &s);
	json_decref(root);
	if (chk.enomem)
		r = -ENOMEM;
	else if (errs->n > before)
		r = -EINVAL;
	if (r < 0) {
		sim_scenario_free(&s);
		return r;
	}
	*out = s;
	return 0;
}

int sim_scenario_load_file(const char *path, struct sim_scenario *out,
			   struct policy_errors *errs)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = jcheck_read_file(path, &text, &len, errs);
	if (r < 0)
		return r;
	if (strlen(text) != len) {
		policy_errors_add(errs, path, 0, 0, "",
				  "not a text file (a NUL byte)");
		free(text);
		return -EINVAL;
	}
	r = sim_scenario_load_string(text, path, out, errs);
	free(text);
	return r;
}
