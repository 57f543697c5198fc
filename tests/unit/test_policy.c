// SPDX-License-Identifier: GPL-2.0
/*
 * Policies: the shipped ones load, and every way of getting one wrong gets
 * the exact message an admin will read (file:line:column, JSON path, what
 * was expected, what was found).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "json_locate.h"
#include "policy.h"

/* Tests run from the repository root (make check does so). */
#ifndef SRCDIR
#define SRCDIR "."
#endif

/* One valid class, and documents built around classes. */
#define CLASS(extra) "{\"name\": \"a\", \"match\": [\"*\"]" extra "}"
#define DOC(classes) "{\"classes\": [" classes "]}"

/* All errors of a load, formatted, one per line. */
static char *errors_text(const struct policy_errors *errs)
{
	size_t cap = 1 + errs->n * 700, off = 0;
	char *s = calloc(1, cap);

	assert_non_null(s);
	for (size_t i = 0; i < errs->n; i++) {
		char line[700];

		policy_error_format(&errs->items[i], line, sizeof(line));
		off += (size_t)snprintf(s + off, cap - off, "%s%s",
					i ? "\n" : "", line);
	}
	return s;
}

static const struct bad_policy {
	const char *what;
	const char *json;
	const char *error; /* every error, in order, "\n" between */
} bad_policies[] = {
	/* --- syntax: file:line:column from jansson, at the token's start */
	{"trailing comma", "{\"classes\": [],}",
	 "t.json:1:16: syntax error: string or '}' expected near '}'"},
	{"missing comma, second line",
	 "{\n  \"interval\": \"1s\"\n  \"backoff\": \"2s\"\n}",
	 "t.json:3:3: syntax error: '}' expected near '\"backoff\"'"},
	{"duplicate key", "{\"interval\": \"1s\", \"interval\": \"2s\"}",
	 "t.json:1:20: syntax error: duplicate object key near "
	 "'\"interval\"'"},
	{"empty file", "",
	 "t.json:1:1: syntax error: '[' or '{' expected near end of file"},
	{"unterminated list", "{\"classes\": [",
	 "t.json:1:14: syntax error: ']' expected near end of file"},
	{"bad token", "{\"host\": {\"psi_full_limit\": tru}}",
	 "t.json:1:29: syntax error: invalid token near 'tru'"},
	{"comment", "{\n  // no comments in JSON\n}",
	 "t.json:2:3: syntax error: string or '}' expected near '/'"},
	{"top level is a list", "[]",
	 "t.json:1:1: expected an object at the top level, found a list"},

	/* --- unknown keys, with the nearest known key */
	{"top-level typo",
	 "{\"intervall\": \"1s\", \"classes\": [" CLASS("") "]}",
	 "t.json:1:2: intervall: unknown key 'intervall' (did you mean "
	 "'interval'?)"},
	{"host typo", "{\"host\": {\"low_watermak\": \"10%\"}}",
	 "t.json:1:11: host.low_watermak: unknown key 'low_watermak' (did you "
	 "mean 'low_watermark'?)"},
	{"class typo", DOC(CLASS(", \"flor\": \"10%\"")),
	 "t.json:1:44: classes[0].flor: unknown key 'flor' (did you mean "
	 "'floor'?)"},
	{"class key in capitals", DOC(CLASS(", \"Floor\": \"10%\"")),
	 "t.json:1:44: classes[0].Floor: unknown key 'Floor' (did you mean "
	 "'floor'?)"},
	{"host key at top level", "{\"low_watermark\": \"10%\"}",
	 "t.json:1:2: low_watermark: unknown key 'low_watermark' (known keys: "
	 "description, interval, backoff, hysteresis, host, classes)"},
	{"unknown class key, nothing near", DOC(CLASS(", \"colour\": 1")),
	 "t.json:1:44: classes[0].colour: unknown key 'colour' (known keys: "
	 "name, description, match, priority, shares, floor, ceiling, "
	 "pressure_target, cold_age, max_reclaim_rate, prefault, memory_high, "
	 "memory_low, merge)"},

	{"control characters in a key", "{\"inter\\nval\": \"1s\"}",
	 "t.json:1:2: inter?val: unknown key 'inter?val' (did you mean "
	 "'interval'?)"},

	/* --- wrong types */
	{"duration as a number", "{\"interval\": 1}",
	 "t.json:1:14: interval: expected a duration such as \"30s\" or "
	 "\"500ms\", found 1"},
	{"number as a string", "{\"hysteresis\": \"0.1\"}",
	 "t.json:1:16: hysteresis: expected a number from 0 to 0.9, found "
	 "\"0.1\""},
	{"host as a list", "{\"host\": []}",
	 "t.json:1:10: host: expected an object, found a list"},
	{"classes as an object", "{\"classes\": {}}",
	 "t.json:1:13: classes: expected a list of class objects, found an "
	 "object"},
	{"class as a string", DOC("\"web\""),
	 "t.json:1:14: classes[0]: expected a class object, found \"web\""},
	{"name as a number", DOC("{\"name\": 5, \"match\": [\"*\"]}"),
	 "t.json:1:23: classes[0].name: expected a string, found 5"},
	{"match as a string", DOC("{\"name\": \"a\", \"match\": \"web-*\"}"),
	 "t.json:1:37: classes[0].match: expected a list of strings, found "
	 "\"web-*\""},
	{"glob as a number", DOC("{\"name\": \"a\", \"match\": [1]}"),
	 "t.json:1:38: classes[0].match[0]: expected a string, found 1"},
	{"prefault as a string", DOC(CLASS(", \"prefault\": \"yes\"")),
	 "t.json:1:56: classes[0].prefault: expected true or false, found "
	 "\"yes\""},
	{"merge as a string", DOC(CLASS(", \"merge\": \"on\"")),
	 "t.json:1:53: classes[0].merge: expected true or false, found "
	 "\"on\""},
	{"priority as a word", DOC(CLASS(", \"priority\": \"high\"")),
	 "t.json:1:56: classes[0].priority: expected an integer from -1000 to "
	 "1000, found \"high\""},
	{"priority with a fraction", DOC(CLASS(", \"priority\": 1.5")),
	 "t.json:1:56: classes[0].priority: expected an integer from -1000 to "
	 "1000, found 1.5"},
	{"pressure target null", DOC(CLASS(", \"pressure_target\": null")),
	 "t.json:1:63: classes[0].pressure_target: expected a number above 0 "
	 "and at most 100, found null"},
	{"floor as a number", DOC(CLASS(", \"floor\": 50")),
	 "t.json:1:53: classes[0].floor: expected a size such as \"512M\", "
	 "\"4G\" or \"10%\", found 50"},

	/* --- bad units */
	{"size with an unknown suffix", DOC(CLASS(", \"floor\": \"50x\"")),
	 "t.json:1:53: classes[0].floor: expected a size such as \"512M\", "
	 "\"4G\" or \"10%\", found \"50x\""},
	{"size in decimal gigabytes", DOC(CLASS(", \"memory_high\": \"4GB\"")),
	 "t.json:1:59: classes[0].memory_high: expected a size such as "
	 "\"512M\", \"4G\" or \"10%\", found \"4GB\""},
	{"duration without a unit", DOC(CLASS(", \"cold_age\": \"10\"")),
	 "t.json:1:56: classes[0].cold_age: expected a duration such as "
	 "\"30s\" or \"500ms\", found \"10\""},
	{"duration in words", "{\"backoff\": \"30 seconds\"}",
	 "t.json:1:13: backoff: expected a duration such as \"30s\" or "
	 "\"500ms\", found \"30 seconds\""},
	{"rate per minute", DOC(CLASS(", \"max_reclaim_rate\": \"64M/min\"")),
	 "t.json:1:64: classes[0].max_reclaim_rate: expected a rate in bytes "
	 "per second such as \"64M\" or \"64M/s\", found \"64M/min\""},
	{"rate as a percentage", DOC(CLASS(", \"max_reclaim_rate\": \"10%\"")),
	 "t.json:1:64: classes[0].max_reclaim_rate: expected a rate in bytes "
	 "per second such as \"64M\" or \"64M/s\", found \"10%\""},
	{"watermark percentage in words",
	 "{\"host\": {\"min_watermark\": \"five%\"}}",
	 "t.json:1:28: host.min_watermark: expected a size such as \"512M\", "
	 "\"4G\" or \"10%\", found \"five%\""},

	/* --- out of range */
	{"floor over 100%", DOC(CLASS(", \"floor\": \"150%\"")),
	 "t.json:1:53: classes[0].floor: expected a percentage from 0% to "
	 "100%, found \"150%\""},
	{"size over 64 bits", DOC(CLASS(", \"ceiling\": \"99999E\"")),
	 "t.json:1:55: classes[0].ceiling: expected a size below 16E, found "
	 "\"99999E\""},
	{"hysteresis over 0.9", "{\"hysteresis\": 1.5}",
	 "t.json:1:16: hysteresis: expected a number from 0 to 0.9, found "
	 "1.5"},
	{"pressure target 0", DOC(CLASS(", \"pressure_target\": 0")),
	 "t.json:1:63: classes[0].pressure_target: expected a number above 0 "
	 "and at most 100, found 0"},
	{"no shares", DOC(CLASS(", \"shares\": 0")),
	 "t.json:1:54: classes[0].shares: expected an integer from 1 to "
	 "10000, found 0"},
	{"priority too high", DOC(CLASS(", \"priority\": 5000")),
	 "t.json:1:56: classes[0].priority: expected an integer from -1000 to "
	 "1000, found 5000"},
	{"interval too short", "{\"interval\": \"1ms\"}",
	 "t.json:1:14: interval: expected a duration from 10ms to 1h, found "
	 "\"1ms\""},
	{"cold age too long", DOC(CLASS(", \"cold_age\": \"30d\"")),
	 "t.json:1:56: classes[0].cold_age: expected a duration from 1s to "
	 "168h, found \"30d\""},
	{"host PSI limit over 100", "{\"host\": {\"psi_full_limit\": 101}}",
	 "t.json:1:29: host.psi_full_limit: expected a number above 0 and at "
	 "most 100, found 101"},
	{"negative PSI limit", "{\"host\": {\"psi_full_limit\": -1}}",
	 "t.json:1:29: host.psi_full_limit: expected a number above 0 and at "
	 "most 100, found -1"},
	{"zero reclaim rate", DOC(CLASS(", \"max_reclaim_rate\": \"0\"")),
	 "t.json:1:64: classes[0].max_reclaim_rate: expected a rate above 0, "
	 "found \"0\""},

	/* --- contradictions */
	{"floor above ceiling, percent",
	 DOC(CLASS(", \"floor\": \"60%\", \"ceiling\": \"50%\"")),
	 "t.json:1:53: classes[0].floor: floor 60% is above ceiling 50%"},
	{"floor above ceiling, bytes",
	 DOC(CLASS(", \"floor\": \"8G\", \"ceiling\": \"4G\"")),
	 "t.json:1:53: classes[0].floor: floor 8G is above ceiling 4G"},
	{"memory_low above memory_high",
	 DOC(CLASS(", \"memory_high\": \"4G\", \"memory_low\": \"6G\"")),
	 "t.json:1:79: classes[0].memory_low: memory_low 6G is above "
	 "memory_high 4G"},
	{"low watermark above high",
	 "{\"host\": {\"low_watermark\": \"40%\", \"high_watermark\": "
	 "\"30%\"}}",
	 "t.json:1:28: host.low_watermark: low_watermark 40% is above "
	 "high_watermark 30%"},
	{"low watermark above the default high",
	 "{\"host\": {\"low_watermark\": \"35%\"}}",
	 "t.json:1:28: host.low_watermark: low_watermark 35% is above "
	 "high_watermark 30% (the default)"},
	{"min watermark above low", "{\"host\": {\"min_watermark\": \"20%\"}}",
	 "t.json:1:28: host.min_watermark: min_watermark 20% is above "
	 "low_watermark 15% (the default)"},
	{"min above high, low in other units",
	 "{\"host\": {\"min_watermark\": \"10%\", \"low_watermark\": \"1G\", "
	 "\"high_watermark\": \"5%\"}}",
	 "t.json:1:28: host.min_watermark: min_watermark 10% is above "
	 "high_watermark 5%"},

	/* --- classes */
	{"duplicate class names",
	 DOC("{\"name\": \"web\", \"match\": [\"web-*\"]},\n"
	     " {\"name\": \"web\", \"match\": [\"api-*\"]}"),
	 "t.json:2:11: classes[1].name: duplicate class name 'web' (first "
	 "defined at t.json:1)"},
	{"empty match list", DOC("{\"name\": \"a\", \"match\": []}"),
	 "t.json:1:37: classes[0].match: expected a non-empty list of strings, "
	 "found an empty list"},
	{"empty glob", DOC("{\"name\": \"a\", \"match\": [\"\"]}"),
	 "t.json:1:38: classes[0].match[0]: expected a non-empty string, found "
	 "\"\""},
	{"class after a catch-all",
	 DOC("{\"name\": \"all\", \"match\": [\"*\"]},\n"
	     " {\"name\": \"web\", \"match\": [\"web-*\"]}"),
	 "t.json:2:27: classes[1].match: class 'web' can never match: class "
	 "'all' (t.json:1) before it matches every name with glob '*'"},
	{"class inside an earlier prefix",
	 DOC("{\"name\": \"web\", \"match\": [\"web-*\"]},\n"
	     " {\"name\": \"webdb\", \"match\": [\"web-db-*\", \"web-[ab]\"]}"),
	 "t.json:2:29: classes[1].match: class 'webdb' can never match: class "
	 "'web' (t.json:1) before it takes every name its globs match (glob "
	 "'web-*')"},
	{"missing name", DOC("{\"match\": [\"*\"]}"),
	 "t.json:1:14: classes[0].name: missing required key 'name'"},
	{"missing match", DOC("{\"name\": \"a\"}"),
	 "t.json:1:14: classes[0].match: missing required key 'match'"},
	{"name with a space", DOC("{\"name\": \"a b\", \"match\": [\"*\"]}"),
	 "t.json:1:23: classes[0].name: expected a name of letters, digits, "
	 "'-', '_' and '.', found \"a b\""},
	{"name too long",
	 DOC("{\"name\": "
	     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "a"
	     "\", \"match\": [\"*\"]}"),
	 "t.json:1:23: classes[0].name: expected a string of at most 63 "
	 "bytes, found 64 bytes"},
	{"glob with an unclosed bracket",
	 DOC("{\"name\": \"a\", \"match\": [\"web-[12\"]}"),
	 "t.json:1:38: classes[0].match[0]: expected a glob, found "
	 "\"web-[12\", which has an unclosed '['"},
	{"empty class list", "{\"classes\": []}",
	 "t.json:1:13: classes: expected a non-empty list of class objects, "
	 "found an empty list"},
	{"no classes at all", "{\"interval\": \"2s\"}",
	 "t.json: classes: no classes defined: every VM would be left alone"},

	/* --- several problems: all reported, in document order */
	{"unknown key after a bad value",
	 "{\"hysteresis\": 2, \"bakoff\": \"1s\", \"classes\": [" CLASS(
		 "") "]}",
	 "t.json:1:16: hysteresis: expected a number from 0 to 0.9, found 2\n"
	 "t.json:1:19: bakoff: unknown key 'bakoff' (did you mean "
	 "'backoff'?)"},
	{"three problems at once",
	 "{\n"
	 "  \"interval\": \"fast\",\n"
	 "  \"classes\": [\n"
	 "    {\"name\": \"a\", \"match\": [\"*\"], \"prio\": 1},\n"
	 "    {\"name\": \"b\", \"match\": [\"b-*\"], \"floor\": \"200%\"}\n"
	 "  ]\n"
	 "}\n",
	 "t.json:2:15: interval: expected a duration such as \"30s\" or "
	 "\"500ms\", found \"fast\"\n"
	 "t.json:4:35: classes[0].prio: unknown key 'prio' (did you mean "
	 "'priority'?)\n"
	 "t.json:5:46: classes[1].floor: expected a percentage from 0% to "
	 "100%, found \"200%\""},
};

static void test_bad_policies(void **state)
{
	size_t n = sizeof(bad_policies) / sizeof(*bad_policies);
	int failures = 0;

	(void)state;
	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		const struct bad_policy *b = &bad_policies[i];
		struct policy p = {.n_classes = 4242};
		struct policy_errors errs = {0};
		char *got;
		int r;

		r = policy_load_string(b->json, "t.json", &p, &errs);
		got = errors_text(&errs);
		if (r != -EINVAL || strcmp(got, b->error) != 0) {
			print_error("%s: r=%d\n  got:  %s\n  want: %s\n",
				    b->what, r, got, b->error);
			failures++;
		}
		/* @out untouched on failure */
		assert_int_equal(p.n_classes, 4242);
		free(got);
		policy_errors_free(&errs);
	}
	assert_int_equal(failures, 0);
}

static void load_ok(const char *path, struct policy *p)
{
	struct policy_errors errs = {0};
	const char *paths[] = {path};
	int r;

	r = policy_load_files(paths, 1, p, &errs);
	if (r != 0) {
		char *got = errors_text(&errs);

		fail_msg("%s: r=%d\n%s", path, r, got);
	}
	assert_int_equal(errs.n, 0);
	policy_errors_free(&errs);
}

static void test_shipped_policies(void **state)
{
	static const char *const files[] = {"default.json", "conservative.json",
					    "aggressive.json"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		const struct policy_class *k;
		struct policy p;
		char path[512], why[256];

		snprintf(path, sizeof(path), "%s/policies/%s", SRCDIR,
			 files[i]);
		load_ok(path, &p);
		assert_true(p.n_classes >= 2);
		/* each ends with a catch-all: the demo's VMs all get a class */
		k = &p.classes[p.n_classes - 1];
		assert_int_equal(k->n_match, 1);
		assert_string_equal(k->match[0], "*");
		for (int v = 1; v <= 6; v++) {
			char vm[16];

			snprintf(vm, sizeof(vm), "vm%d", v);
			assert_non_null(policy_match(&p, vm, why, sizeof(why)));
		}
		assert_non_null(policy_match(&p, "web-1", why, sizeof(why)));
		assert_non_null(policy_match(&p, "batch-1", why, sizeof(why)));
		/* sane orderings the decide() engineer may rely on */
		assert_true(p.host.min_watermark.percent <=
			    p.host.low_watermark.percent);
		assert_true(p.host.low_watermark.percent <=
			    p.host.high_watermark.percent);
		policy_free(&p);
	}
}

static void test_default_policy_classes(void **state)
{
	struct policy p;
	const struct policy_class *web, *batch, *other;
	char why[256];

	(void)state;
	load_ok(SRCDIR "/policies/default.json", &p);
	web = policy_match(&p, "web-1", why, sizeof(why));
	batch = policy_match(&p, "batch-1", why, sizeof(why));
	other = policy_match(&p, "vm3", why, sizeof(why));
	assert_non_null(web);
	assert_non_null(batch);
	assert_non_null(other);
	assert_true(web->priority > other->priority);
	assert_true(other->priority > batch->priority);
	assert_true(web->floor.percent > batch->floor.percent);
	assert_true(web->pressure_target < batch->pressure_target);
	policy_free(&p);
}

/* A file of nonsense gets a bounded list, not one error per key. */
static void test_too_many_errors(void **state)
{
	char json[4096] = "{";
	struct policy p;
	struct policy_errors errs = {0};
	char last[512];
	size_t off = 1;

	(void)state;
	for (int i = 0; i < 80; i++)
		off += (size_t)snprintf(json + off, sizeof(json) - off,
					"%s\"k%d\": 1", i ? ", " : "", i);
	snprintf(json + off, sizeof(json) - off, "}");
	assert_int_equal(policy_load_string(json, "t.json", &p, &errs),
			 -EINVAL);
	assert_int_equal(errs.n, 51);
	policy_error_format(&errs.items[0], last, sizeof(last));
	assert_non_null(strstr(last, "t.json:1:2: k0: unknown key 'k0'"));
	policy_error_format(&errs.items[50], last, sizeof(last));
	assert_string_equal(
		last, "t.json: too many errors; only the first 50 are shown");
	policy_errors_free(&errs);
}

/* The example in docs/policies.md is a valid policy. */
static void test_doc_example(void **state)
{
	struct policy p;
	struct policy_errors errs = {0};
	char buf[16384], *start, *end;
	FILE *f = fopen(SRCDIR "/docs/policies.md", "r");
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	start = strstr(buf, "```json\n");
	assert_non_null(start);
	start += strlen("```json\n");
	end = strstr(start, "```");
	assert_non_null(end);
	*end = 0;
	if (policy_load_string(start, "policies.md", &p, &errs) != 0) {
		char *got = errors_text(&errs);

		fail_msg("%s", got);
	}
	assert_int_equal(p.n_classes, 2);
	policy_free(&p);
}

static void test_defaults(void **state)
{
	struct policy p;
	struct policy_errors errs = {0};
	const struct policy_class *k;

	(void)state;
	assert_int_equal(
		policy_load_string(DOC(CLASS("")), "t.json", &p, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(p.interval, 1 * USEC_PER_SEC);
	assert_int_equal(p.backoff, 30 * USEC_PER_SEC);
	assert_true(p.hysteresis == 0.1);
	assert_true(p.host.low_watermark.set &&
		    p.host.low_watermark.is_percent);
	assert_true(p.host.low_watermark.percent == 15.0);
	assert_true(p.host.min_watermark.percent == 5.0);
	assert_true(p.host.high_watermark.percent == 30.0);
	assert_true(p.host.psi_full_limit == 5.0);
	assert_int_equal(p.n_classes, 1);
	k = &p.classes[0];
	assert_string_equal(k->name, "a");
	assert_int_equal(k->priority, 0);
	assert_int_equal(k->shares, 100);
	assert_false(k->floor.set);
	assert_false(k->ceiling.set);
	assert_false(k->memory_high.set);
	assert_false(k->memory_low.set);
	assert_true(k->pressure_target == 1.0);
	assert_int_equal(k->cold_age, 120 * USEC_PER_SEC);
	assert_int_equal(k->max_reclaim_rate, 32ULL << 20);
	assert_true(k->prefault);
	assert_int_equal(k->merge, POLICY_MERGE_UNSET);
	assert_string_equal(k->source, "t.json");
	assert_int_equal(k->source_line, 1);
	policy_free(&p);
}

static void test_every_key(void **state)
{
	static const char json[] =
		"{\n"
		"  \"description\": \"all keys\",\n"
		"  \"interval\": \"500ms\", \"backoff\": \"1m\", "
		"\"hysteresis\": 0.2,\n"
		"  \"host\": {\"low_watermark\": \"4G\", \"min_watermark\": "
		"\"1G\", \"high_watermark\": \"8G\", \"psi_full_limit\": 2},\n"
		"  \"classes\": [\n"
		"    {\"name\": \"db\", \"description\": \"x\", \"match\": "
		"[\"db-*\", \"pg?\"],\n"
		"     \"priority\": -5, \"shares\": 300, \"floor\": \"2G\", "
		"\"ceiling\": \"90%\",\n"
		"     \"pressure_target\": 0.25, \"cold_age\": \"90s\", "
		"\"max_reclaim_rate\": \"16M/s\",\n"
		"     \"prefault\": false, \"memory_high\": \"95%\", "
		"\"memory_low\": \"1.5G\", \"merge\": true},\n"
		"    {\"name\": \"rest\", \"match\": [\"*\"], \"merge\": "
		"false}\n"
		"  ]\n"
		"}\n";
	struct policy p;
	struct policy_errors errs = {0};
	const struct policy_class *k;

	(void)state;
	assert_int_equal(policy_load_string(json, "all.json", &p, &errs), 0);
	assert_int_equal(p.interval, 500 * USEC_PER_MSEC);
	assert_int_equal(p.backoff, 60 * USEC_PER_SEC);
	assert_true(p.hysteresis == 0.2);
	assert_false(p.host.low_watermark.is_percent);
	assert_int_equal(p.host.low_watermark.bytes, 4ULL << 30);
	assert_int_equal(p.host.min_watermark.bytes, 1ULL << 30);
	assert_int_equal(p.host.high_watermark.bytes, 8ULL << 30);
	assert_true(p.host.psi_full_limit == 2.0);
	k = &p.classes[0];
	assert_int_equal(k->n_match, 2);
	assert_string_equal(k->match[1], "pg?");
	assert_int_equal(k->priority, -5);
	assert_int_equal(k->shares, 300);
	assert_int_equal(k->floor.bytes, 2ULL << 30);
	assert_true(k->ceiling.is_percent && k->ceiling.percent == 90.0);
	assert_true(k->pressure_target == 0.25);
	assert_int_equal(k->cold_age, 90 * USEC_PER_SEC);
	assert_int_equal(k->max_reclaim_rate, 16ULL << 20);
	assert_false(k->prefault);
	assert_true(k->memory_high.set && k->memory_high.percent == 95.0);
	assert_int_equal(k->memory_low.bytes, 3ULL << 29);
	assert_int_equal(k->merge, POLICY_MERGE_ON);
	assert_int_equal(k->source_line, 6);
	assert_int_equal(p.classes[1].merge, POLICY_MERGE_OFF);
	policy_free(&p);
}

static void test_match(void **state)
{
	static const char json[] =
		"{\"classes\": [\n"
		"  {\"name\": \"web\", \"match\": [\"web-*\", \"api-?\"]},\n"
		"  {\"name\": \"batch\", \"match\": [\"batch-*\"]}\n"
		"]}";
	struct policy p;
	struct policy_errors errs = {0};
	const struct policy_class *k;
	char why[256];

	(void)state;
	assert_int_equal(policy_load_string(json, "m.json", &p, &errs), 0);

	k = policy_match(&p, "api-7", why, sizeof(why));
	assert_non_null(k);
	assert_string_equal(k->name, "web");
	assert_string_equal(why,
			    "class 'web' (m.json:2): glob 'api-?' matched");

	k = policy_match(&p, "batch-1", why, sizeof(why));
	assert_non_null(k);
	assert_string_equal(why,
			    "class 'batch' (m.json:3): glob 'batch-*' matched");

	/* a VM no class takes is left alone, and we say why */
	assert_null(policy_match(&p, "vm1", why, sizeof(why)));
	assert_string_equal(why, "no class matches 'vm1': tried 'web' (web-*, "
				 "api-?), 'batch' (batch-*); the VM is left "
				 "alone");
	assert_null(policy_match(&p, "api-10", NULL, 0));
	/* a short buffer is truncated, never overrun */
	assert_null(policy_match(&p, "vm1", why, 12));
	assert_string_equal(why, "no class ma");
	policy_free(&p);
}

static void test_first_class_wins(void **state)
{
	static const char json[] = DOC(
		"{\"name\": \"db\", \"match\": [\"db-*\"], \"priority\": 9},"
		"{\"name\": \"web\", \"match\": [\"*-web\", \"web-*\"]},"
		"{\"name\": \"rest\", \"match\": [\"*\"]}");
	struct policy p;
	struct policy_errors errs = {0};

	(void)state;
	assert_int_equal(policy_load_string(json, "t.json", &p, &errs), 0);
	/* "db-web" fits both db and web: the first listed wins */
	assert_string_equal(policy_match(&p, "db-web", NULL, 0)->name, "db");
	assert_string_equal(policy_match(&p, "x-web", NULL, 0)->name, "web");
	assert_string_equal(policy_match(&p, "vm1", NULL, 0)->name, "rest");
	policy_free(&p);
}

/* A scratch policies.d of our own. */
static char *make_dir(const char *const *names, const char *const *bodies,
		      size_t n)
{
	char *dir = strdup("/tmp/test_policy.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < n; i++) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(bodies[i], f);
		fclose(f);
	}
	return dir;
}

static void remove_dir(char *dir, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	free(dir);
}

static void test_dir_merge(void **state)
{
	/* Listed out of order: the load sorts by name. */
	static const char *const names[] = {"90-rest.json", "10-host.json",
					    "50-web.json", "README",
					    ".hidden.json"};
	static const char *const bodies[] = {
		DOC("{\"name\": \"rest\", \"match\": [\"*\"]}"),
		"{\"interval\": \"2s\", \"host\": {\"low_watermark\": "
		"\"20%\"}}",
		DOC("{\"name\": \"web\", \"match\": [\"web-*\"]}"),
		"not json",
		"not json either",
	};
	struct policy p;
	struct policy_errors errs = {0};
	char *dir = make_dir(names, bodies, 5);
	char why[256], want[512];

	(void)state;
	assert_int_equal(policy_load_dir(dir, &p, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(p.interval, 2 * USEC_PER_SEC);
	assert_true(p.host.low_watermark.percent == 20.0);
	assert_int_equal(p.n_classes, 2);
	assert_string_equal(p.classes[0].name, "web");
	assert_string_equal(p.classes[1].name, "rest");
	assert_non_null(policy_match(&p, "web-1", why, sizeof(why)));
	snprintf(want, sizeof(want),
		 "class 'web' (%s/50-web.json:1): glob 'web-*' matched", dir);
	assert_string_equal(why, want);
	policy_free(&p);
	remove_dir(dir, names, 5);
}

static void test_dir_conflicts(void **state)
{
	static const char *const names[] = {"10-a.json", "20-b.json",
					    "30-c.json"};
	static const char *const bodies[] = {
		"{\"interval\": \"2s\",\n"
		" \"classes\": [{\"name\": \"all\", \"match\": [\"*\"]}]}",
		"{\"host\": {},\n"
		" \"classes\": [{\"name\": \"all\", \"match\": [\"x\"]}]}",
		"{\"classes\": [{\"name\": \"web\", \"match\": [\"web-*\"]}]}",
	};
	struct policy p = {.n_classes = 77};
	struct policy_errors errs = {0};
	char *dir = make_dir(names, bodies, 3), *got, want[2048];

	(void)state;
	assert_int_equal(policy_load_dir(dir, &p, &errs), -EINVAL);
	assert_int_equal(p.n_classes, 77);
	got = errors_text(&errs);
	snprintf(
		want, sizeof(want),
		"%s/20-b.json:1:2: host: global settings are already given by "
		"%s/10-a.json; only one policy file may set interval, backoff, "
		"hysteresis and host\n"
		"%s/20-b.json:2:23: classes[0].name: duplicate class name "
		"'all' (first defined at %s/10-a.json:2)\n"
		"%s/30-c.json:1:39: classes[0].match: class 'web' can never "
		"match: class 'all' (%s/10-a.json:2) before it matches every "
		"name with glob '*'",
		dir, dir, dir, dir, dir, dir);
	assert_string_equal(got, want);
	free(got);
	policy_errors_free(&errs);
	remove_dir(dir, names, 3);
}

static void test_io_errors(void **state)
{
	static const char *const missing[] = {"/nonexistent/p.json"};
	struct policy p;
	struct policy_errors errs = {0};
	char *got, *dir;

	(void)state;
	assert_int_equal(policy_load_files(missing, 1, &p, &errs), -ENOENT);
	got = errors_text(&errs);
	assert_string_equal(got, "/nonexistent/p.json: cannot read: No such "
				 "file or directory");
	free(got);
	policy_errors_free(&errs);

	assert_int_equal(policy_load_dir("/nonexistent", &p, &errs), -ENOENT);
	assert_int_equal(errs.n, 1);
	policy_errors_free(&errs);

	dir = make_dir(NULL, NULL, 0);
	assert_int_equal(policy_load_dir(dir, &p, &errs), -ENOENT);
	got = errors_text(&errs);
	assert_non_null(strstr(got, ": no policy files (*.json) in this "
				    "directory"));
	free(got);
	policy_errors_free(&errs);
	remove_dir(dir, NULL, 0);
}

static void test_size_spec_resolve(void **state)
{
	struct size_spec unset = {0};
	struct size_spec pct = {.set = true, .is_percent = true, .percent = 25};
	struct size_spec abs = {.set = true, .bytes = 4096};
	struct size_spec full = {
		.set = true, .is_percent = true, .percent = 100};

	(void)state;
	assert_int_equal(size_spec_resolve(&unset, 1000, 7), 7);
	assert_int_equal(size_spec_resolve(NULL, 1000, 7), 7);
	assert_int_equal(size_spec_resolve(&pct, 1000, 7), 250);
	assert_int_equal(size_spec_resolve(&pct, 16ULL << 30, 7), 4ULL << 30);
	assert_int_equal(size_spec_resolve(&abs, 1000, 7), 4096);
	assert_int_equal(size_spec_resolve(&full, UINT64_MAX, 0), UINT64_MAX);
}

static void test_error_format(void **state)
{
	struct policy_error e = {.file = "f.json",
				 .line = 3,
				 .column = 7,
				 .path = "classes[1].floor",
				 .message = "floor 60% is above ceiling 50%"};
	char buf[512];

	(void)state;
	policy_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "f.json:3:7: classes[1].floor: floor 60% is "
				 "above ceiling 50%");
	e.line = 0;
	policy_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "f.json: classes[1].floor: floor 60% is "
				 "above ceiling 50%");
	e.path[0] = 0;
	policy_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "f.json: floor 60% is above ceiling 50%");
	policy_error_format(&e, buf, 5);
	assert_string_equal(buf, "f.js");
}

static void test_locate(void **state)
{
	static const char text[] =
		"{\n"
		"  \"a\": {\"b\\u00e9\": [10, {\"c\": true}]},\n"
		"  \"é\": 1, \"d\": \"x\"\n"
		"}";
	const struct json_step c_path[] = {
		{"a", 0}, {"b\xc3\xa9", 0}, {NULL, 1}, {"c", 0}};
	const struct json_step d_path[] = {{"d", 0}};
	const struct json_step missing[] = {{"a", 0}, {"zz", 0}};
	const struct json_step past_end[] = {
		{"a", 0}, {"b\xc3\xa9", 0}, {NULL, 2}};
	struct json_pos k, v;
	char buf[64];

	(void)state;
	assert_int_equal(json_locate(text, strlen(text), c_path, 4, &k, &v), 0);
	assert_int_equal(k.line, 2);
	assert_int_equal(k.column, 26);
	assert_int_equal(v.column, 31);
	/* "é" is one column, as jansson counts */
	assert_int_equal(json_locate(text, strlen(text), d_path, 1, &k, &v), 0);
	assert_int_equal(k.line, 3);
	assert_int_equal(k.column, 11);
	assert_int_equal(v.column, 16);
	assert_int_equal(json_locate(text, strlen(text), missing, 2, &k, &v),
			 -ENOENT);
	assert_int_equal(json_locate(text, strlen(text), past_end, 3, &k, &v),
			 -ENOENT);
	assert_int_equal(json_locate(text, strlen(text), NULL, 0, &k, &v), 0);
	assert_int_equal(v.line, 1);
	assert_int_equal(v.column, 1);

	assert_string_equal(json_path_format(c_path, 4, buf, sizeof(buf)),
			    "a.b\xc3\xa9[1].c");
	assert_string_equal(
		json_path_format(
			(const struct json_step[]){{"x.y", 0}, {"z", 0}}, 2,
			buf, sizeof(buf)),
		"[\"x.y\"].z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_policies),
		cmocka_unit_test(test_shipped_policies),
		cmocka_unit_test(test_default_policy_classes),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_doc_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_first_class_wins),
		cmocka_unit_test(test_dir_merge),
		cmocka_unit_test(test_dir_conflicts),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_size_spec_resolve),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_locate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
