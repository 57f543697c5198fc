// SPDX-License-Identifier: GPL-2.0
/*
 * Traces: every line reads back to what was written (the policy to the
 * same structs, decide()'s state and a tick's signals field by field);
 * the recorder rotates and survives a full disk and an unwritable path;
 * malformed traces get an error naming file and line.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "fake_tree.h"
#include "log.h"
#include "replay.h"
#include "trace.h"
#include "trace_synth.h"

struct dir {
	char path[64];
	char file[128];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	snprintf(d->path, sizeof(d->path), "/tmp/test_trace.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->file, sizeof(d->file), "%s/trace.jsonl", d->path);
	log_open(LOG_TARGET_MEMORY);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	fake_rm_rf(d->path);
	log_memory_clear();
	free(d);
	return 0;
}

static void load_file(const char *path, struct policy *p)
{
	struct policy_errors errs = {0};

	assert_int_equal(policy_load_files(&path, 1, p, &errs), 0);
	policy_errors_free(&errs);
}

static void assert_size_equal(const struct size_spec *a,
			      const struct size_spec *b)
{
	assert_int_equal(a->set, b->set);
	assert_int_equal(a->is_percent, b->is_percent);
	assert_true(a->bytes == b->bytes);
	assert_true(a->percent == b->percent); /* exact: same double */
}

/* The shipped policies come back field by field, doubles exactly. */
static void test_policy_round_trip(void **state)
{
	static const char *const files[] = {"policies/default.json",
					    "policies/conservative.json",
					    "policies/aggressive.json"};
	struct balancer_state s = {0};

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		struct policy p = {0};
		struct trace_header h;
		struct trace_tick t;
		char err[256] = "", *line;

		load_file(files[f], &p);
		line = trace_header_line("start", USEC_PER_SEC, false, &p, &s);
		assert_non_null(line);
		assert_int_equal(trace_parse_line(line, strlen(line) - 1, &h,
						  &t, err, sizeof(err)),
				 TRACE_LINE_HEADER);
		assert_int_equal(h.policy.n_classes, p.n_classes);
		assert_true(h.policy.interval == p.interval);
		assert_true(h.policy.backoff == p.backoff);
		assert_true(h.policy.hysteresis == p.hysteresis);
		assert_true(h.policy.host.psi_full_limit ==
			    p.host.psi_full_limit);
		assert_size_equal(&h.policy.host.low_watermark,
				  &p.host.low_watermark);
		assert_size_equal(&h.policy.host.min_watermark,
				  &p.host.min_watermark);
		assert_size_equal(&h.policy.host.high_watermark,
				  &p.host.high_watermark);
		for (size_t i = 0; i < p.n_classes; i++) {
			const struct policy_class *a = &p.classes[i],
						  *b = &h.policy.classes[i];

			assert_string_equal(a->name, b->name);
			assert_int_equal(a->n_match, b->n_match);
			for (size_t m = 0; m < a->n_match; m++)
				assert_string_equal(a->match[m], b->match[m]);
			assert_int_equal(a->priority, b->priority);
			assert_int_equal(a->shares, b->shares);
			assert_size_equal(&a->floor, &b->floor);
			assert_size_equal(&a->ceiling, &b->ceiling);
			assert_true(a->pressure_target == b->pressure_target);
			assert_true(a->cold_age == b->cold_age);
			assert_true(a->max_reclaim_rate == b->max_reclaim_rate);
			assert_int_equal(a->prefault, b->prefault);
			assert_size_equal(&a->memory_high, &b->memory_high);
			assert_size_equal(&a->memory_low, &b->memory_low);
		}
		trace_header_free(&h);
		free(line);
		policy_free(&p);
	}
}

/* Percentages with nine fraction digits, the most the loader reads. */
static void test_policy_odd_percent(void **state)
{
	const char *json =
		synth_policy_edit(synth_policy, "\"50%\"", "\"33.333333333%\"");
	struct policy_errors errs = {0};
	struct balancer_state s = {0};
	struct policy p = {0};
	struct trace_header h;
	struct trace_tick t;
	char err[256], *line;

	(void)state;
	assert_int_equal(policy_load_string(json, "t.json", &p, &errs), 0);
	line = trace_header_line("start", USEC_PER_SEC, true, &p, &s);
	assert_int_equal(trace_parse_line(line, strlen(line) - 1, &h, &t, err,
					  sizeof(err)),
			 TRACE_LINE_HEADER);
	assert_true(h.policy.classes[0].floor.percent ==
		    p.classes[0].floor.percent);
	assert_true(h.dry_run);
	trace_header_free(&h);
	policy_free(&p);
	free(line);
}

/* A line written again from what was read is the same line. */
static void assert_rewrites(const char *line, const struct policy *p)
{
	struct trace_header h;
	struct trace_tick t;
	char err[256] = "", *again = NULL;
	int k = trace_parse_line(line, strlen(line) - 1, &h, &t, err,
				 sizeof(err));

	if (k < 0)
		fail_msg("%s", err);
	if (k == TRACE_LINE_HEADER) {
		again = trace_header_line(h.why, h.interval, h.dry_run,
					  &h.policy, &h.state);
		trace_header_free(&h);
	} else {
		const struct policy_class *cls[8] = {0};
		struct tick_input in = {.now = t.now,
					.interval = t.interval,
					.host = &t.host,
					.vms = t.vms,
					.n_vms = t.n_vms,
					.classes = cls};
		struct tick_output out = {.mode = t.mode,
					  .actions = t.actions,
					  .n_actions = t.n_actions};

		assert_true(t.n_vms <= 8);
		snprintf(out.mode_reason, sizeof(out.mode_reason), "%s",
			 t.mode_reason);
		for (size_t i = 0; i < t.n_vms; i++)
			for (size_t c = 0; t.classes[i][0] && c < p->n_classes;
			     c++)
				if (!strcmp(p->classes[c].name, t.classes[i]))
					cls[i] = &p->classes[c];
		again = trace_tick_line(&in, &out, t.results);
		trace_tick_free(&t);
	}
	assert_non_null(again);
	assert_string_equal(again, line);
	free(again);
}

/* A recorded run, read back line by line. */
static void test_recording_round_trip(void **state)
{
	struct dir *d = *state;
	struct policy_errors errs = {0};
	struct policy p = {0};
	char line[1 << 16];
	unsigned int headers = 0, ticks = 0, with_actions = 0;
	FILE *f;

	synth_record(d->file, 40, 0, NULL);
	assert_int_equal(policy_load_string(synth_policy, "p", &p, &errs), 0);
	f = fopen(d->file, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		assert_non_null(strchr(line, '\n'));
		assert_rewrites(line, &p);
		headers += strstr(line, "\"type\":\"header\"") != NULL;
		ticks += strstr(line, "\"type\":\"tick\"") != NULL;
		with_actions += strstr(line, "\"done\":") != NULL;
	}
	fclose(f);
	assert_int_equal(headers, 1);
	assert_int_equal(ticks, 40);
	assert_true(with_actions > 10); /* the script makes it act */
	policy_free(&p);
}

/* Values JSON cannot hold as such: > INT64_MAX, NaN, non-UTF-8 names. */
static void test_odd_values(void **state)
{
	struct host_signals host = {
		.mem_total = UINT64_MAX,
		.psi.full = {.present = true, .avg10 = NAN, .avg60 = INFINITY}};
	struct vm_signals v = {.memory_max = MEMORY_UNLIMITED, .pid = -1};
	struct tick_input in = {.now = 5, .host = &host, .vms = &v, .n_vms = 1};
	struct action a = {.kind = ACTION_SET_HIGH,
			   .bytes = MEMORY_UNLIMITED,
			   .mode = MODE_RESTORE};
	struct trace_result res = {
		.bytes_done = 1, .error = -EIO, .partial = true};
	struct tick_output out = {
		.mode = MODE_RESTORE, .actions = &a, .n_actions = 1};
	struct trace_header h;
	struct trace_tick t;
	char err[256], *line;

	(void)state;
	snprintf(v.name, sizeof(v.name), "vm\xff\x01");
	snprintf(a.reason, sizeof(a.reason), "why \xfe");
	line = trace_tick_line(&in, &out, &res);
	assert_non_null(line);
	assert_int_equal(trace_parse_line(line, strlen(line) - 1, &h, &t, err,
					  sizeof(err)),
			 TRACE_LINE_TICK);
	assert_true(t.host.mem_total == UINT64_MAX);
	assert_true(isnan(t.host.psi.full.avg10));
	assert_true(isinf(t.host.psi.full.avg60));
	assert_true(t.vms[0].memory_max == MEMORY_UNLIMITED);
	assert_int_equal(t.vms[0].pid, -1);
	assert_string_equal(t.vms[0].name, "vm\xff\x01");
	assert_string_equal(t.actions[0].reason, "why \xfe");
	assert_true(t.actions[0].bytes == MEMORY_UNLIMITED);
	assert_int_equal(t.results[0].error, -EIO);
	assert_true(t.results[0].partial);
	trace_tick_free(&t);
	free(line);
}

static int count_lines(const char *path, const char *needle)
{
	char line[1 << 16];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += !needle || strstr(line, needle);
	fclose(f);
	return n;
}

/* FILE.1 takes the older lines; each file starts with a header whose
 * state the next tick starts from, so FILE.1 FILE replays exactly. */
static void test_rotation(void **state)
{
	struct dir *d = *state;
	char old[160], err[512] = "";
	char *paths[2] = {old, d->file};
	struct replay rp;
	struct stat st;
	int first_rotate;
	FILE *f;
	char head[64];

	synth_record(d->file, 60, 16 << 10, NULL);
	snprintf(old, sizeof(old), "%s.1", d->file);
	assert_int_equal(stat(old, &st), 0);
	/* a file ends past the cap by at most one tick's line */
	assert_true(st.st_size >= 16 << 10);
	assert_true(st.st_size < (16 << 10) + 8192);
	f = fopen(d->file, "r");
	assert_non_null(fgets(head, sizeof(head), f));
	fclose(f);
	first_rotate = strstr(head, "\"type\":\"header\"") != NULL;
	assert_true(first_rotate);
	assert_int_equal(count_lines(d->file, "\"why\":\"rotate\""), 1);

	replay_init(&rp, NULL);
	assert_int_equal(replay_files(&rp, paths, 2, err, sizeof(err)), 0);
	assert_true(rp.ticks > 5);
	assert_true(rp.ticks < 60); /* the oldest were rotated away */
	assert_int_equal(rp.differences, 0);
	replay_free(&rp);
}

static size_t count_log(const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < log_memory_count(); i++)
		n += strstr(log_memory_get(i)->message, needle) != NULL;
	return n;
}

/* A disk that stalls for 20 ticks: the queue fills, ticks are dropped
 * (said once), "gap" headers carry the state on, and what was written
 * replays exactly. */
static void stall_hook(struct trace_recorder *r, unsigned int k, void *data)
{
	(void)data;
	if (k == 0)
		trace_recorder_set_queue_max(r, 40 << 10); /* a few ticks */
	if (k == 5) { /* an empty queue: the same ticks fit every run */
		trace_recorder_flush(r);
		trace_recorder_pause(r, true);
	}
	if (k == 25) {
		/* Room again, so that a writer slowed by a loaded machine
		 * drops nothing after the stall: the counts below are exact. */
		trace_recorder_set_queue_max(r, 64 << 20);
		trace_recorder_pause(r, false);
		trace_recorder_flush(r);
	}
}

static void test_disk_behind(void **state)
{
	struct dir *d = *state;
	char *paths[1] = {d->file}, err[512] = "";
	struct replay rp;

	log_memory_clear();
	synth_record_hooked(d->file, 40, 0, NULL, stall_hook, NULL);
	assert_int_equal(count_log("the disk is behind, ticks dropped"), 1);
	assert_true(count_lines(d->file, "\"why\":\"gap\"") >= 1);
	replay_init(&rp, NULL);
	assert_int_equal(replay_files(&rp, paths, 1, err, sizeof(err)), 0);
	assert_true(rp.gaps >= 1);
	/* 5 before the stall, some queued in it, 14 after it (the first
	 * tick after it gives its place to a "gap" header) */
	assert_true(rp.ticks > 5 + 14);
	assert_true(rp.ticks < 40);
	assert_int_equal(rp.differences, 0);
	replay_free(&rp);
}

/* A full disk: said once, recording stops, ticks go on. A file size
 * limit stands in for it (/dev/full is no longer taken: a trace is a
 * regular file). */
static void test_full_disk(void **state)
{
	struct dir *d = *state;
	struct rlimit old, full = {.rlim_cur = 8192};
	char want[200];

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	full.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN); /* write(2) fails with EFBIG instead */
	log_memory_clear();
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &full), 0);
	synth_record(d->file, 30, 0, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	snprintf(want, sizeof(want), "trace %s: cannot write", d->file);
	assert_int_equal(count_log(want), 1);
}

static void test_unwritable(void **state)
{
	struct dir *d = *state;
	struct balancer_state s = {0};
	struct trace_recorder *r = NULL;
	struct policy p = {0};
	char path[160];

	snprintf(path, sizeof(path), "%s/no/such/dir/trace", d->path);
	log_memory_clear();
	assert_int_equal(trace_recorder_open(path, 0, "start", USEC_PER_SEC,
					     false, &p, &s, &r),
			 -ENOENT);
	assert_null(r);
	assert_int_equal(count_log("cannot open: No such file or directory; "
				   "not recording"),
			 1);
	/* the manager's calls are no-ops without a recorder */
	trace_recorder_result(NULL, 0, &(struct act_result){0});
	trace_recorder_tick(NULL, NULL, NULL, NULL);
	trace_recorder_close(NULL);
}

/* balancerd.json's "record": off unless given. */
static void test_config_key(void **state)
{
	struct dir *d = *state;
	struct policy_errors errs = {0};
	struct daemon_config c;
	char path[160];

	snprintf(path, sizeof(path), "%s/balancerd.json", d->path);
	fake_write(path, "{}");
	assert_int_equal(daemon_config_load(path, &c, &errs), 0);
	assert_string_equal(c.record, "");
	daemon_config_free(&c);
	fake_write(path, "{\"record\": \"/var/lib/balancerd/trace.jsonl\"}");
	assert_int_equal(daemon_config_load(path, &c, &errs), 0);
	assert_string_equal(c.record, "/var/lib/balancerd/trace.jsonl");
	daemon_config_free(&c);
	fake_write(path, "{\"record\": 1}");
	assert_int_equal(daemon_config_load(path, &c, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	policy_errors_free(&errs);
}

/* ---- malformed traces ---------------------------------------------------- */

static const char tick_line[] =
	"{\"type\":\"tick\",\"now\":5,\"host\":{},\"vms\":[],"
	"\"mode\":\"proactive\",\"mode_reason\":\"\",\"actions\":[]}\n";

struct bad {
	const char *name;
	const char *body; /* after a valid header when %H is its start */
	unsigned long line;
	const char *says;
};

static const struct bad bad_rows[] = {
	{"empty file", "", 0, "no header: not a trace"},
	{"tick first", tick_line, 1, "a tick before any header"},
	{"not JSON", "%H{\"type\":\"tick\",\n", 2, "not JSON"},
	{"no type", "%H{\"now\":1}\n", 2, "without a \"type\""},
	{"unknown type", "%H{\"type\":\"tock\"}\n", 2, "unknown line type"},
	{"unknown version", "{\"type\":\"header\",\"format\":99}\n", 1,
	 "trace format 99 is not supported"},
	{"no version", "{\"type\":\"header\"}\n", 1, "without a format"},
	{"truncated", "%H{\"type\":\"tick\",\"now\":5", 2, "truncated line"},
	{"bad number",
	 "%H{\"type\":\"tick\",\"now\":5,\"host\":{},\"vms\":[{\"name\":"
	 "\"a\",\"memory_current\":-3}],\"mode\":\"proactive\","
	 "\"mode_reason\":\"\",\"actions\":[]}\n",
	 2, "vms[0].memory_current: not a valid non-negative integer"},
	{"action of no VM",
	 "%H{\"type\":\"tick\",\"now\":5,\"host\":{},\"vms\":[],\"mode\":"
	 "\"proactive\",\"mode_reason\":\"\",\"actions\":[{\"kind\":"
	 "\"reclaim\",\"vm\":0,\"bytes\":1,\"mode\":\"tight\","
	 "\"reason\":\"\"}]}\n",
	 2, "actions[0].vm: not an index into vms"},
	{"unknown class",
	 "%H{\"type\":\"tick\",\"now\":5,\"host\":{},\"vms\":[{\"name\":"
	 "\"a\",\"class\":\"nope\"}],\"mode\":\"proactive\","
	 "\"mode_reason\":\"\",\"actions\":[]}\n",
	 2, "class 'nope', which the header's policy does not have"},
	{"bad policy",
	 "{\"type\":\"header\",\"format\":1,\"interval\":1000000,"
	 "\"policy\":{\"classes\":[]},\"state\":{}}\n",
	 1, "the recorded policy is invalid"},
	{"unsorted state",
	 "{\"type\":\"header\",\"format\":1,\"interval\":1000000,"
	 "\"policy\":{\"classes\":[{\"name\":\"a\",\"match\":[\"*\"]}]},"
	 "\"state\":{\"mode\":\"tight\",\"last_tick\":0,\"mode_since\":0,"
	 "\"vms\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}\n",
	 1, "not sorted by name"},
};

static void write_bad(const char *path, const char *body)
{
	struct balancer_state s = {0};
	struct policy_errors errs = {0};
	struct policy p = {0};
	const char *h = strstr(body, "%H");
	char *hdr;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (h) {
		assert_int_equal(
			policy_load_string(synth_policy, "p", &p, &errs), 0);
		hdr = trace_header_line("start", USEC_PER_SEC, false, &p, &s);
		fputs(hdr, f);
		free(hdr);
		policy_free(&p);
		body = h + 2;
	}
	fputs(body, f);
	fclose(f);
}

static void test_malformed(void **state)
{
	struct dir *d = *state;

	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad *b = &bad_rows[i];
		char *paths[1] = {d->file}, err[1024] = "", where[256];
		struct replay rp;
		int r;

		write_bad(d->file, b->body);
		replay_init(&rp, NULL);
		r = replay_files(&rp, paths, 1, err, sizeof(err));
		replay_free(&rp);
		if (b->line)
			snprintf(where, sizeof(where), "%s:%lu: ", d->file,
				 b->line);
		else
			snprintf(where, sizeof(where), "%s: ", d->file);
		if (r >= 0 || !strstr(err, where) || !strstr(err, b->says))
			fail_msg("%s: got %d \"%s\", want \"%s...%s\"", b->name,
				 r, err, where, b->says);
	}
}

/* 1 GB without a newline: refused at the line cap, not read whole. */
static void test_huge_file(void **state)
{
	struct dir *d = *state;
	char *paths[1] = {d->file}, err[1024] = "", want[256];
	struct replay rp;
	int fd = open(d->file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1LL << 30), 0); /* sparse */
	close(fd);
	replay_init(&rp, NULL);
	assert_int_equal(replay_files(&rp, paths, 1, err, sizeof(err)), -EFBIG);
	replay_free(&rp);
	snprintf(want, sizeof(want), "%s:1: line longer than 64 MiB", d->file);
	assert_non_null(strstr(err, want));
}

/* ---- docs/trace-format.md names every key ------------------------------ */

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* The whole file, NUL-terminated (malloc'd). */
static char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool doc_names(const char *doc, const char *word)
{
	char quoted[128];

	snprintf(quoted, sizeof(quoted), "`%s`", word);
	return strstr(doc, quoted) != NULL;
}

/* The first key in @j, at any depth, that @doc does not name; NULL. */
static const char *unnamed_key(json_t *j, const char *doc)
{
	const char *key, *r;
	json_t *v;
	size_t i;

	json_array_foreach(j, i, v)
	{
		if ((r = unnamed_key(v, doc)))
			return r;
	}
	json_object_foreach(j, key, v)
	{
		if (!doc_names(doc, key))
			return key;
		if ((r = unnamed_key(v, doc)))
			return r;
	}
	return NULL;
}

static void assert_line_named(const char *line, const char *doc)
{
	json_error_t je;
	json_t *o = json_loads(line, 0, &je);
	const char *key;

	if (!o)
		fail_msg("not JSON: %s", je.text);
	key = unnamed_key(o, doc);
	if (key)
		fail_msg("docs/trace-format.md does not name the key `%s` that "
			 "trace.c writes",
			 key);
	json_decref(o);
}

/* A policy with every key a class and the host may have. */
static const char full_policy[] =
	"{\"interval\": \"1s\", \"backoff\": \"5s\", \"hysteresis\": 0.1,\n"
	" \"host\": {\"low_watermark\": \"15%\", \"min_watermark\": \"5%\",\n"
	"  \"high_watermark\": \"30%\", \"psi_full_limit\": 5.0},\n"
	" \"classes\": [{\"name\": \"web\", \"match\": [\"web-*\"],\n"
	"  \"priority\": 1, \"shares\": 100, \"floor\": \"10%\",\n"
	"  \"ceiling\": \"90%\", \"pressure_target\": 1.0, \"cold_age\": "
	"\"10s\",\n"
	"  \"max_reclaim_rate\": \"64M\", \"prefault\": true,\n"
	"  \"memory_high\": \"95%\", \"memory_low\": \"5%\", \"merge\": "
	"true}]}\n";

/*
 * The format is an interface, and its page must keep up with trace.c: a
 * header and a tick with every field of every table set (all bytes 1, so
 * no field is left out as zero; a string field runs into the zeroes after
 * the struct) and each key written must be named on the page in
 * backquotes. So must every mode, action kind and header reason.
 */
static void test_doc_names_every_key(void **state)
{
	static const char *const whys[] = {"start", "reload", "rotate", "gap"};
	struct {
		struct vm_state vs;
		char end[8];
	} st = {0};
	struct {
		struct vm_signals v;
		char end[8];
	} vm = {0};
	struct host_signals host;
	struct balancer_state s = {0};
	struct policy_errors errs = {0};
	struct policy p = {0};
	const char names[1][POLICY_NAME_MAX] = {"web"};
	struct action acts[_ACTION_MAX];
	struct trace_result res[_ACTION_MAX];
	struct tick_input in = {.now = 1,
				.interval = 1,
				.host = &host,
				.vms = &vm.v,
				.n_vms = 1};
	struct tick_output out = {.mode = MODE_RESTORE,
				  .actions = acts,
				  .n_actions = _ACTION_MAX};
	char *doc = read_whole(SRCDIR "/docs/trace-format.md"), *line;

	(void)state;
	memset(&st.vs, 1, sizeof(st.vs));
	snprintf(st.vs.name, sizeof(st.vs.name), "web-1");
	s = (struct balancer_state){.mode = MODE_TIGHT,
				    .mode_since = 1,
				    .last_tick = 1,
				    .vms = &st.vs,
				    .n_vms = 1};
	assert_int_equal(policy_load_string(full_policy, "p", &p, &errs), 0);
	line = trace_header_line("gap", 1, true, &p, &s);
	assert_non_null(line);
	assert_line_named(line, doc);
	free(line);

	memset(&host, 1, sizeof(host));
	memset(&vm.v, 1, sizeof(vm.v));
	snprintf(vm.v.name, sizeof(vm.v.name), "web-1");
	for (int k = 0; k < _ACTION_MAX; k++) {
		acts[k] = (struct action){.kind = (enum action_kind)k,
					  .bytes = 1,
					  .mode = MODE_TIGHT,
					  .min_idle = 1};
		/* not UTF-8: written as {"hex": ...} */
		snprintf(acts[k].reason, sizeof(acts[k].reason), "\xff");
		res[k] = (struct trace_result){.bytes_done = 1,
					       .error = -EIO,
					       .partial = true,
					       .dry_run = true};
	}
	snprintf(out.mode_reason, sizeof(out.mode_reason), "why");
	line = trace_tick_line_named(&in, names, &out, res);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"hex\""));
	assert_line_named(line, doc);
	free(line);

	for (int m = 0; m < _MODE_MAX; m++)
		if (!doc_names(doc, host_mode_name((enum host_mode)m)))
			fail_msg("mode `%s` not named", host_mode_name(m));
	for (int k = 0; k < _ACTION_MAX; k++)
		if (!doc_names(doc, action_kind_name((enum action_kind)k)))
			fail_msg("action kind `%s` not named",
				 action_kind_name((enum action_kind)k));
	for (size_t i = 0; i < sizeof(whys) / sizeof(whys[0]); i++)
		assert_true(doc_names(doc, whys[i]));
	policy_free(&p);
	policy_errors_free(&errs);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_round_trip),
		cmocka_unit_test(test_policy_odd_percent),
		cmocka_unit_test_setup_teardown(test_recording_round_trip,
						setup, teardown),
		cmocka_unit_test(test_odd_values),
		cmocka_unit_test(test_doc_names_every_key),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_behind, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_huge_file, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
