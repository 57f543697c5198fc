// SPDX-License-Identifier: GPL-2.0
/* The replay's report: a table for people, or one JSON object. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "escape.h"
#include "replay.h"
#include "replay_print.h"

#define OPEN_LOOP_NOTE                                                         \
	"open-loop: the recorded signals are what the host did under the "     \
	"recorded policy; what this policy would have done to the guests "     \
	"is not simulated"

static const char *size_str(uint64_t v, char *buf)
{
	return format_size(v, buf, 16);
}

static const char *dur_str(usec_t v, char *buf, size_t len)
{
	/* whole seconds: the trace's tick times carry scheduling noise */
	if (v < USEC_PER_SEC)
		return strncpy(buf, "0s", len);
	return format_duration(v / USEC_PER_SEC * USEC_PER_SEC, buf, len);
}

static void total_of(const struct replay *rp, struct replay_vm *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "total");
	for (size_t i = 0; i < rp->n_vms; i++)
		for (int k = 0; k < 2; k++) {
			const struct replay_vm *v = &rp->vms[i];

			t->reclaim[k] += v->reclaim[k];
			t->prefault[k] += v->prefault[k];
			t->actions[k] += v->actions[k];
			t->backoffs[k] += v->backoffs[k];
			t->floor_ticks[k] += v->floor_ticks[k];
			t->ceiling_ticks[k] += v->ceiling_ticks[k];
		}
}

static void print_row(FILE *out, const struct replay_vm *v)
{
	char a[16], b[16], c[16], d[16], name[64];

	fprintf(out,
		"%-20s %8s %8s  %8s %8s  %5" PRIu64 " %5" PRIu64 "  %5" PRIu64
		" %5" PRIu64 "  %5" PRIu64 " %5" PRIu64 "\n",
		escape_text(v->name, name, sizeof(name)),
		size_str(v->reclaim[0], a), size_str(v->reclaim[1], b),
		size_str(v->prefault[0], c), size_str(v->prefault[1], d),
		v->backoffs[0], v->backoffs[1], v->floor_ticks[0],
		v->floor_ticks[1], v->ceiling_ticks[0], v->ceiling_ticks[1]);
}

static void print_kept(const struct replay *rp, FILE *out, const char *head,
		       const char *left, const char *right)
{
	char d[32], name[VM_NAME_MAX * 4], a[(REASON_MAX + 64) * 4],
		b[(REASON_MAX + 64) * 4];

	if (!rp->n_kept)
		return;
	fprintf(out, "%s\n", head);
	for (size_t i = 0; i < rp->n_kept; i++) {
		const struct replay_departure *k = &rp->kept[i];

		fprintf(out, "  tick %" PRIu64 " (+%s) %s\n", k->tick,
			dur_str(k->at, d, sizeof(d)),
			k->vm[0] ? escape_text(k->vm, name, sizeof(name))
				 : "host");
		fprintf(out, "    %-9s %s\n", left,
			escape_text(k->recorded, a, sizeof(a)));
		fprintf(out, "    %-9s %s\n", right,
			escape_text(k->replayed, b, sizeof(b)));
	}
}

/* A gap's dropped ticks are in no figure here: say how many gaps. */
static void print_headers(const struct replay *rp, FILE *out)
{
	fprintf(out, "trace: %" PRIu64 " headers, %" PRIu64 " gaps%s\n",
		rp->headers, rp->gaps,
		rp->gaps ? " (ticks the recorder dropped: not replayed)" : "");
}

static void print_text(const struct replay *rp, FILE *out)
{
	char a[32], b[32];
	struct replay_vm total;

	if (!rp->opt.policy) {
		fprintf(out,
			"replay: %" PRIu64 " ticks, %" PRIu64
			" decisions, %" PRIu64 " differences\n",
			rp->ticks, rp->decisions, rp->differences);
		print_headers(rp, out);
		print_kept(rp, out,
			   "first differences (a bug: decide() is not "
			   "deterministic):",
			   "recorded:", "replayed:");
		return;
	}
	fprintf(out,
		"replay: %" PRIu64 " ticks, %" PRIu64 " decisions, %" PRIu64
		" departures from the recorded decisions\n",
		rp->ticks, rp->decisions, rp->departures);
	print_headers(rp, out);
	fprintf(out, "%s\n", OPEN_LOOP_NOTE);
	fprintf(out,
		"the recorded policy replays with %" PRIu64 " differences%s\n",
		rp->differences, rp->differences ? " (a bug)" : "");
	fprintf(out, "\ntime per mode   recorded  replayed\n");
	for (int m = 0; m < _MODE_MAX; m++)
		fprintf(out, "  %-12s %9s %9s\n", host_mode_name(m),
			dur_str(rp->mode_time[0][m], a, sizeof(a)),
			dur_str(rp->mode_time[1][m], b, sizeof(b)));
	fprintf(out,
		"\n%-20s %17s  %17s  %11s  %11s  %11s\n"
		"%-20s %8s %8s  %8s %8s  %5s %5s  %5s %5s  %5s %5s\n",
		"", "reclaim asked", "prefault asked", "backoffs",
		"floor ticks", "above ceil", "vm", "rec", "new", "rec", "new",
		"rec", "new", "rec", "new", "rec", "new");
	for (size_t i = 0; i < rp->n_vms; i++)
		print_row(out, &rp->vms[i]);
	total_of(rp, &total);
	print_row(out, &total);
	fprintf(out, "\n");
	print_kept(rp, out, "first departures:", "recorded:", "replayed:");
}

static json_t *pair(const uint64_t v[2])
{
	return json_pack("{s:I,s:I}", "recorded", (json_int_t)v[0], "replayed",
			 (json_int_t)v[1]);
}

/* Names and reasons for JSON: escaped where they are not UTF-8. */
static json_t *text_json(const char *s)
{
	char buf[(REASON_MAX + 64) * ESCAPE_GROWTH];

	return json_string(utf8_is_valid(s) ? s
					    : escape_text(s, buf, sizeof(buf)));
}

static json_t *figures_json(const struct replay_vm *v)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "reclaim",
			 pair(v->reclaim), "prefault", pair(v->prefault),
			 "actions", pair(v->actions), "backoffs",
			 pair(v->backoffs), "floor_ticks", pair(v->floor_ticks),
			 "ceiling_ticks", pair(v->ceiling_ticks));
}

static void print_json(const struct replay *rp, FILE *out)
{
	json_t *o = json_object(), *vms = json_object(), *kept = json_array(),
	       *modes = json_object();
	struct replay_vm total;

	for (size_t i = 0; i < rp->n_vms; i++) {
		const struct replay_vm *v = &rp->vms[i];

		char buf[VM_NAME_MAX * ESCAPE_GROWTH];

		json_object_set_new(
			vms,
			utf8_is_valid(v->name)
				? v->name
				: escape_text(v->name, buf, sizeof(buf)),
			figures_json(v));
	}
	for (int m = 0; m < _MODE_MAX; m++) {
		uint64_t t[2] = {rp->mode_time[0][m] / USEC_PER_SEC,
				 rp->mode_time[1][m] / USEC_PER_SEC};

		json_object_set_new(modes, host_mode_name(m), pair(t));
	}
	for (size_t i = 0; i < rp->n_kept; i++) {
		const struct replay_departure *k = &rp->kept[i];

		json_array_append_new(
			kept,
			json_pack("{s:I,s:I,s:o,s:o,s:o}", "tick",
				  (json_int_t)k->tick, "at_us",
				  (json_int_t)k->at, "vm",
				  k->vm[0] ? text_json(k->vm) : json_null(),
				  "recorded", text_json(k->recorded),
				  "replayed", text_json(k->replayed)));
	}
	total_of(rp, &total);
	json_object_set_new(o, "open_loop", json_boolean(rp->opt.policy));
	json_object_set_new(o, "ticks", json_integer((json_int_t)rp->ticks));
	json_object_set_new(o, "decisions",
			    json_integer((json_int_t)rp->decisions));
	json_object_set_new(o, "differences",
			    json_integer((json_int_t)rp->differences));
	json_object_set_new(o, "departures",
			    json_integer((json_int_t)rp->departures));
	json_object_set_new(o, "headers",
			    json_integer((json_int_t)rp->headers));
	json_object_set_new(o, "gaps", json_integer((json_int_t)rp->gaps));
	json_object_set_new(o, "seconds_per_mode", modes);
	json_object_set_new(o, "vms", vms);
	json_object_set_new(o, "total", figures_json(&total));
	json_object_set_new(
		o, rp->opt.policy ? "first_departures" : "first_differences",
		kept);
	json_dumpf(o, out, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	fputc('\n', out);
	json_decref(o);
}

void replay_print(const struct replay *rp, FILE *out, bool json)
{
	if (json)
		print_json(rp, out);
	else
		print_text(rp, out);
}
