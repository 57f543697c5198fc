// SPDX-License-Identifier: GPL-2.0
/*
 * The report of balancerctl simulate: the densification benchmark's
 * figures (bench/densify-figures.py) per VM and in total, for people or
 * as one JSON object. docs/simulate.md says how to read them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "escape.h"
#include "simulate.h"

#define MINUTE_SEC 60.0

static const char model_note[] =
	"a model of guests, not a measurement: hot and cold pages touched in "
	"a fixed pattern, refaults at a fixed cost, no guest kernel, no THP, "
	"no vCPU scheduling (docs/simulate.md)";

static double secs(usec_t t)
{
	return (double)t / USEC_PER_SEC;
}

/* The mark at @sec seconds, or -1 when the run is shorter. */
static int mark_at(const struct sim_result *r, unsigned int sec)
{
	for (size_t m = 0; m < r->n_marks; m++)
		if (r->marks[m] == sec * USEC_PER_SEC)
			return (int)m;
	return -1;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static double per_min(uint64_t n, usec_t span)
{
	return span ? (double)n / (secs(span) / MINUTE_SEC) : 0;
}

static usec_t after60(const struct sim_result *r)
{
	return r->duration > 60 * USEC_PER_SEC ? r->duration - 60 * USEC_PER_SEC
					       : 0;
}

/* The VMs' figures summed, in @t. */
static void total_of(const struct sim_result *r, struct sim_vm_result *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "total");
	for (size_t i = 0; i < r->n_vms; i++) {
		const struct sim_vm_result *v = &r->vms[i];

		t->size += v->size;
		for (size_t m = 0; m < r->n_marks; m++) {
			t->resident[m] += v->resident[m];
			t->cold[m] += v->cold[m];
			t->cold_out[m] += v->cold_out[m];
		}
		t->hot_out_max += v->hot_out_max;
		t->refaults += v->refaults;
		t->refaults_after60 += v->refaults_after60;
		t->stall_sec += v->stall_sec;
		t->asked_reclaim += v->asked_reclaim;
		t->asked_prefault += v->asked_prefault;
		t->pageout_done += v->pageout_done;
		t->reclaim_done += v->reclaim_done;
		t->prefault_done += v->prefault_done;
		t->high_reclaimed += v->high_reclaimed;
		t->host_reclaimed += v->host_reclaimed;
		t->restores += v->restores;
		t->backoffs += v->backoffs;
	}
}

/* ---- text ------------------------------------------------------------- */

static const char *cell_pct(const struct sim_vm_result *v, int m, char *buf)
{
	if (m < 0)
		return "-";
	snprintf(buf, 16, "%.0f%%", pct(v->cold_out[m], v->cold[m]));
	return buf;
}

static void print_by_time(const struct sim_result *r,
			  const struct sim_vm_result *t, bool resident,
			  FILE *out)
{
	char name[3 * VM_NAME_MAX], a[16];

	fprintf(out, "%-12s", "VM");
	for (size_t m = 0; m < r->n_marks; m++)
		fprintf(out, " %7s",
			format_duration(r->marks[m], a, sizeof(a)));
	fputc('\n', out);
	for (size_t i = 0; i <= r->n_vms; i++) {
		const struct sim_vm_result *v = i < r->n_vms ? &r->vms[i] : t;

		fprintf(out, "%-12s", escape_text(v->name, name, sizeof(name)));
		for (size_t m = 0; m < r->n_marks; m++) {
			if (resident)
				fprintf(out, " %7s",
					format_size(v->resident[m], a,
						    sizeof(a)));
			else
				fprintf(out, " %6.0f%%",
					pct(v->cold_out[m], v->cold[m]));
		}
		fputc('\n', out);
	}
}

static void print_text(const struct sim_result *r, const char *scenario,
		       const char *policy, FILE *out)
{
	struct sim_vm_result t;
	char a[16], b[16], c[16], d[16], esc1[1024], esc2[1024];
	bool first = true;

	total_of(r, &t);
	fprintf(out, "simulate: %s\n", model_note);
	fprintf(out,
		"scenario %s, policy %s: %.0f s at %s, %zu VMs, %" PRIu64
		" decisions\n",
		escape_text(scenario, esc1, sizeof(esc1)),
		escape_text(policy, esc2, sizeof(esc2)), secs(r->duration),
		format_duration(r->interval, a, sizeof(a)), r->n_vms,
		r->decisions);
	fprintf(out,
		"host: lowest MemAvailable %s; zram at most %s stored in %s; "
		"modes:",
		format_size(r->mem_available_min, b, sizeof(b)),
		format_size(r->zram_stored_max, c, sizeof(c)),
		format_size(r->zram_compressed_max, d, sizeof(d)));
	for (int m = 0; m < _MODE_MAX; m++) {
		if (!r->mode_time[m])
			continue;
		fprintf(out, "%s %s %.0fs", first ? "" : ",",
			host_mode_name((enum host_mode)m),
			secs(r->mode_time[m]));
		first = false;
	}
	fputc('\n', out);
	if (r->oom_ticks)
		fprintf(out,
			"host: out of memory in %" PRIu64
			" ticks (zram full, nothing left to reclaim)\n",
			r->oom_ticks);

	fprintf(out,
		"\n%-12s %-10s %7s %8s %8s %9s %9s %10s %9s %9s %10s %8s %8s\n",
		"VM", "class", "size", "cold60", "cold-end", "resident",
		"majf/min", "majf/min>60", "stall", "reclaimed", "prefaulted",
		"restores", "backoffs");
	for (size_t i = 0; i <= r->n_vms; i++) {
		const struct sim_vm_result *v = i < r->n_vms ? &r->vms[i] : &t;
		char name[3 * VM_NAME_MAX], e[16], f[16], g[16], h[16], k[16];
		char m60[16];
		int mk = mark_at(r, 60);
		size_t end = r->n_marks - 1;

		if (after60(r))
			snprintf(m60, sizeof(m60), "%.0f",
				 per_min(v->refaults_after60, after60(r)));
		else
			snprintf(m60, sizeof(m60), "-");
		fprintf(out,
			"%-12s %-10s %7s %8s %8s %9s %9.0f %10s %8.1fs %9s "
			"%10s %8" PRIu64 " %8" PRIu64 "\n",
			escape_text(v->name, name, sizeof(name)),
			i == r->n_vms	   ? ""
			: v->class_name[0] ? v->class_name
					   : "(none)",
			format_size(v->size, e, sizeof(e)), cell_pct(v, mk, f),
			cell_pct(v, (int)end, g),
			format_size(v->resident[end], h, sizeof(h)),
			per_min(v->refaults, r->duration), m60, v->stall_sec,
			format_size(v->pageout_done + v->reclaim_done, k,
				    sizeof(k)),
			format_size(v->prefault_done, a, sizeof(a)),
			v->restores, v->backoffs);
	}

	fprintf(out, "\ncold memory reclaimed by time (%% of what is not in "
		     "the hot set then):\n");
	print_by_time(r, &t, false, out);
	fprintf(out, "\nresident by time:\n");
	print_by_time(r, &t, true, out);

	for (size_t i = 0; i < r->n_vms; i++) {
		const struct sim_vm_result *v = &r->vms[i];
		char name[3 * VM_NAME_MAX];

		if (!v->spike_at)
			continue;
		fprintf(out, "\n%s: hot set grew at %.0fs; ",
			escape_text(v->name, name, sizeof(name)),
			secs(v->spike_at));
		if (v->spike_restored)
			fprintf(out, "first restore %.0fs after",
				secs(v->spike_restore_at - v->spike_at));
		else
			fprintf(out, "no restore");
		fprintf(out, "; %" PRIu64 " refaults in the 30 s after\n",
			v->spike_refaults30);
	}
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *vm_json(const struct sim_result *r,
		       const struct sim_vm_result *v, bool total)
{
	json_t *o = json_object(), *res = json_array(), *cold = json_array();
	int m60 = mark_at(r, 60);

	for (size_t m = 0; m < r->n_marks; m++) {
		json_array_append_new(res,
				      json_integer((json_int_t)v->resident[m]));
		json_array_append_new(
			cold, json_real(pct(v->cold_out[m], v->cold[m])));
	}
	json_object_set_new(o, "name", json_string(v->name));
	if (!total) {
		json_object_set_new(o, "class",
				    v->class_name[0]
					    ? json_string(v->class_name)
					    : json_null());
		json_object_set_new(o, "ovcmem", json_boolean(v->ovcmem));
	}
	json_object_set_new(o, "size", json_integer((json_int_t)v->size));
	json_object_set_new(o, "resident", res);
	json_object_set_new(o, "cold_reclaimed_pct", cold);
	json_object_set_new(
		o, "cold60_pct",
		m60 < 0 ? json_null()
			: json_real(pct(v->cold_out[m60], v->cold[m60])));
	json_object_set_new(o, "refaults",
			    json_integer((json_int_t)v->refaults));
	json_object_set_new(o, "majf_per_min",
			    json_real(per_min(v->refaults, r->duration)));
	json_object_set_new(
		o, "majf_per_min_after60",
		after60(r) ? json_real(per_min(v->refaults_after60, after60(r)))
			   : json_null());
	json_object_set_new(o, "stall_s", json_real(v->stall_sec));
	if (!total)
		json_object_set_new(o, "psi_some_avg10_max",
				    json_real(v->psi_some_max));
	json_object_set_new(o, "reclaim_asked",
			    json_integer((json_int_t)v->asked_reclaim));
	json_object_set_new(o, "pageout_done",
			    json_integer((json_int_t)v->pageout_done));
	json_object_set_new(o, "reclaim_done",
			    json_integer((json_int_t)v->reclaim_done));
	json_object_set_new(o, "prefault_asked",
			    json_integer((json_int_t)v->asked_prefault));
	json_object_set_new(o, "prefaulted",
			    json_integer((json_int_t)v->prefault_done));
	json_object_set_new(o, "restores",
			    json_integer((json_int_t)v->restores));
	json_object_set_new(o, "backoffs",
			    json_integer((json_int_t)v->backoffs));
	json_object_set_new(o, "high_reclaimed",
			    json_integer((json_int_t)v->high_reclaimed));
	json_object_set_new(o, "host_reclaimed",
			    json_integer((json_int_t)v->host_reclaimed));
	json_object_set_new(o, "hot_out_max",
			    json_integer((json_int_t)v->hot_out_max));
	if (!total) {
		json_object_set_new(o, "cold_scale_max",
				    json_integer(v->cold_scale_max));
		json_object_set_new(
			o, "spike",
			!v->spike_at
				? json_null()
				: json_pack(
					  "{s:f,s:o,s:I}", "at_s",
					  secs(v->spike_at),
					  "first_restore_after_s",
					  v->spike_restored
						  ? json_real(secs(
							    v->spike_restore_at -
							    v->spike_at))
						  : json_null(),
					  "refaults_30s",
					  (json_int_t)v->spike_refaults30));
	}
	return o;
}

static void print_json(const struct sim_result *r, const char *scenario,
		       const char *policy, FILE *out)
{
	json_t *o = json_object(), *modes = json_object(), *vms = json_array();
	json_t *marks = json_array();
	struct sim_vm_result t;

	total_of(r, &t);
	for (int m = 0; m < _MODE_MAX; m++)
		json_object_set_new(modes, host_mode_name((enum host_mode)m),
				    json_real(secs(r->mode_time[m])));
	for (size_t m = 0; m < r->n_marks; m++)
		json_array_append_new(marks, json_real(secs(r->marks[m])));
	for (size_t i = 0; i < r->n_vms; i++)
		json_array_append_new(vms, vm_json(r, &r->vms[i], false));
	json_object_set_new(o, "model", json_string(model_note));
	json_object_set_new(o, "scenario", json_string(scenario));
	json_object_set_new(o, "policy", json_string(policy));
	json_object_set_new(o, "seconds", json_real(secs(r->duration)));
	json_object_set_new(o, "interval_s", json_real(secs(r->interval)));
	json_object_set_new(o, "ticks", json_integer((json_int_t)r->ticks));
	json_object_set_new(o, "decisions",
			    json_integer((json_int_t)r->decisions));
	json_object_set_new(o, "modes_s", modes);
	json_object_set_new(
		o, "host",
		json_pack("{s:I,s:I,s:I,s:I}", "mem_available_min",
			  (json_int_t)r->mem_available_min, "zram_stored_max",
			  (json_int_t)r->zram_stored_max, "zram_compressed_max",
			  (json_int_t)r->zram_compressed_max, "oom_ticks",
			  (json_int_t)r->oom_ticks));
	json_object_set_new(o, "marks_s", marks);
	json_object_set_new(o, "vms", vms);
	json_object_set_new(o, "total", vm_json(r, &t, true));
	json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(o);
}

void sim_print(const struct sim_result *r, const char *scenario,
	       const char *policy, FILE *out, bool json)
{
	if (json)
		print_json(r, scenario, policy, out);
	else
		print_text(r, scenario, policy, out);
}
