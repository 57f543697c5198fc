// SPDX-License-Identifier: GPL-2.0
/* Prometheus metrics: the state document as text exposition format. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"
#include "metrics.h"
#include "policy.h"
#include "state.h"

static const struct {
	const char *in, *out;
} escape_cases[] = {
	{"web-1", "web-1"},
	{"", ""},
	{"a\\b", "a\\\\b"},
	{"say \"hi\"", "say \\\"hi\\\""},
	{"line1\nline2", "line1\\nline2"},
	{"\\\"\n", "\\\\\\\"\\n"},
	/* Other controls as escape_text() shows them, backslash escaped. */
	{"tab\there", "tab\\\\there"},
	{"evil\x1b]0;pwned\x07x", "evil\\\\x1b]0;pwned\\\\ax"},
	{"c1\xc2\x9b, not UTF-8 \xff", "c1\\\\xc2\\\\x9b, not UTF-8 \\\\xff"},
	{"caf\xc3\xa9", "caf\xc3\xa9"},
	{"a}b{c=d,e", "a}b{c=d,e"},
};

static void test_escape_label(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(escape_cases) / sizeof(*escape_cases);
	     i++) {
		char buf[64];
		size_t n = metrics_escape_label(buf, sizeof(buf),
						escape_cases[i].in);

		assert_string_equal(buf, escape_cases[i].out);
		assert_int_equal(n, strlen(escape_cases[i].out));
	}
}

static void test_escape_label_truncates(void **unused)
{
	char buf[5];

	(void)unused;
	/* The length it needs, and a NUL-terminated prefix. */
	assert_int_equal(metrics_escape_label(buf, sizeof(buf), "\"\"\"\""), 8);
	assert_string_equal(buf, "\\\"\\\"");
	assert_int_equal(metrics_escape_label(NULL, 0, "a\nb"), 4);
}

static const struct {
	int error;
	bool partial, dry_run;
	enum action_outcome want;
} outcome_cases[] = {
	{0, false, false, OUTCOME_DONE},
	{0, true, false, OUTCOME_PARTIAL},
	{-EIO, false, false, OUTCOME_FAILED},
	{-EIO, true, false, OUTCOME_FAILED},
	{-ENOENT, false, false, OUTCOME_SKIPPED},
	{0, false, true, OUTCOME_DRY_RUN},
	{-EPERM, false, true, OUTCOME_DRY_RUN},
};

static void test_outcome_of(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(outcome_cases) / sizeof(*outcome_cases);
	     i++)
		assert_int_equal(action_outcome_of(outcome_cases[i].error,
						   outcome_cases[i].partial,
						   outcome_cases[i].dry_run),
				 outcome_cases[i].want);
}

/* ---- formatting, a state document per row ----------------------------- */

#define VM_WEB                                                                 \
	"{\"name\":\"web-1\",\"class\":\"latency\",\"size\":268435456,"        \
	"\"resident\":134217728,\"cold\":33554432,\"swap\":0,"                 \
	"\"class_info\":{\"floor\":134217728,\"ceiling\":null},"               \
	"\"pressure\":{\"some_avg10\":12.5,\"full_avg10\":0.25},"              \
	"\"refaults_total\":4608,\"reclaimed_total\":171966464,"               \
	"\"prefaulted_total\":25165824,\"backoff\":true,"                      \
	"\"pages_sharing\":4096}"
#define VM_PLAIN                                                               \
	"{\"name\":\"vm-plain\",\"class\":\"default\",\"size\":134217728,"     \
	"\"resident\":33554432,\"cold\":null,\"swap\":1048576,"                \
	"\"class_info\":{\"floor\":0,\"ceiling\":67108864},"                   \
	"\"pressure\":{\"some_avg10\":0,\"full_avg10\":0},"                    \
	"\"refaults_total\":0,\"reclaimed_total\":0,"                          \
	"\"prefaulted_total\":0,\"backoff\":false,\"pages_sharing\":null}"
/* A tenant chose this name: a quote, a backslash and a newline. */
#define VM_EVIL                                                                \
	"{\"name\":\"a\\\"b\\\\c\\nd\",\"class\":null,\"size\":1048576,"       \
	"\"resident\":1048576,\"cold\":null,\"class_info\":null,"              \
	"\"pressure\":{\"some_avg10\":0,\"full_avg10\":0},"                    \
	"\"backoff\":false}"
#define TOP(mode, vms)                                                         \
	"{\"version\":1,\"time\":1764670000,\"dry_run\":false,\"mode\":"       \
	"\"" mode "\",\"driver\":true,"                                        \
	"\"host\":{\"mem_total\":2147483648,\"mem_available\":1073741824,"     \
	"\"psi_some_avg10\":1.5,\"psi_full_avg10\":0},"                        \
	"\"totals\":{\"ticks\":120,\"failed_ticks\":2,\"actions\":7,"          \
	"\"errors\":1,"                                                        \
	"\"reclaimed\":1000,\"prefaulted\":300,\"paged_out\":2000,"            \
	"\"metrics\":{\"daemon_version\":\"9.9\","                             \
	"\"actions\":{\"reclaim\":{\"done\":3,\"failed\":1},"                  \
	"\"prefault\":{\"partial\":2}},"                                       \
	"\"errors\":{\"host\":0,\"action\":1},"                                \
	"\"tick_buckets\":[1,2,0,0,0,0,0,0,1],\"tick_count\":4,"               \
	"\"tick_usec_sum\":1500000,\"tick_usec_last\":2000}},"                 \
	"\"vms\":[" vms "]}"

#define MAX_LINES 20
static const struct {
	const char *name;
	const char *state;
	const char *present[MAX_LINES]; /* whole lines */
	const char *absent[MAX_LINES];	/* substrings */
} format_cases[] = {
	{"no VMs",
	 TOP("proactive", ""),
	 {"balancerd_vms 0", "balancerd_host_mode{mode=\"proactive\"} 1",
	  "balancerd_host_mode{mode=\"tight\"} 0",
	  "balancerd_host_mode{mode=\"critical\"} 0",
	  "balancerd_host_mode{mode=\"restore\"} 0",
	  "balancerd_host_memory_available_bytes 1073741824",
	  "balancerd_host_pressure_some_ratio 0.015",
	  "balancerd_state_timestamp_seconds 1764670000",
	  "balancerd_ovcmem_driver 1", "balancerd_dry_run 0",
	  "balancerd_build_info{version=\"9.9\"} 1"},
	 {"balancerd_vm_", "vm=\""}},
	{"counters and histogram",
	 TOP("tight", ""),
	 {"balancerd_host_mode{mode=\"tight\"} 1",
	  "balancerd_actions_total{action=\"reclaim\",outcome=\"done\"} 3",
	  "balancerd_actions_total{action=\"reclaim\",outcome=\"failed\"} 1",
	  "balancerd_actions_total{action=\"prefault\",outcome=\"partial\"} 2",
	  "balancerd_reclaimed_bytes_total{action=\"reclaim\"} 1000",
	  "balancerd_reclaimed_bytes_total{action=\"pageout\"} 2000",
	  "balancerd_prefaulted_bytes_total 300",
	  "balancerd_errors_total{source=\"action\"} 1",
	  "balancerd_ticks_total 120", "balancerd_failed_ticks_total 2",
	  "balancerd_tick_duration_seconds_bucket{le=\"0.001\"} 1",
	  "balancerd_tick_duration_seconds_bucket{le=\"0.0025\"} 3",
	  "balancerd_tick_duration_seconds_bucket{le=\"1\"} 3",
	  "balancerd_tick_duration_seconds_bucket{le=\"+Inf\"} 4",
	  "balancerd_tick_duration_seconds_sum 1.5",
	  "balancerd_tick_duration_seconds_count 4",
	  "balancerd_last_tick_duration_seconds 0.002"},
	 {"balancerd_host_mode{mode=\"tight\"} 0"}},
	{"two VMs",
	 TOP("restore", VM_WEB "," VM_PLAIN),
	 {"balancerd_vms 2",
	  "balancerd_vm_resident_bytes{vm=\"web-1\",class=\"latency\"} "
	  "134217728",
	  "balancerd_vm_resident_bytes{vm=\"vm-plain\",class=\"default\"} "
	  "33554432",
	  "balancerd_vm_cold_bytes{vm=\"web-1\",class=\"latency\"} 33554432",
	  "balancerd_vm_floor_bytes{vm=\"web-1\",class=\"latency\"} "
	  "134217728",
	  "balancerd_vm_ceiling_bytes{vm=\"web-1\",class=\"latency\"} +Inf",
	  "balancerd_vm_ceiling_bytes{vm=\"vm-plain\",class=\"default\"} "
	  "67108864",
	  "balancerd_vm_pressure_some_ratio{vm=\"web-1\",class=\"latency\"} "
	  "0.125",
	  "balancerd_vm_pressure_full_ratio{vm=\"web-1\",class=\"latency\"} "
	  "0.0025",
	  "balancerd_vm_refaults_total{vm=\"web-1\",class=\"latency\"} 4608",
	  "balancerd_vm_reclaimed_bytes_total{vm=\"web-1\",class=\"latency\"}"
	  " 171966464",
	  "balancerd_vm_prefaulted_bytes_total{vm=\"web-1\",class="
	  "\"latency\"} 25165824",
	  "balancerd_vm_backoff{vm=\"web-1\",class=\"latency\"} 1",
	  "balancerd_vm_ksm_pages_sharing{vm=\"web-1\",class=\"latency\"} "
	  "4096",
	  "balancerd_vm_swap_bytes{vm=\"vm-plain\",class=\"default\"} "
	  "1048576"},
	 /* Cold is unknown without ovcmem, KSM on a kernel that does not
	  * count it per process: no series rather than 0. */
	 {"balancerd_vm_cold_bytes{vm=\"vm-plain\"",
	  "balancerd_vm_ksm_pages_sharing{vm=\"vm-plain\""}},
	{"a tenant's name is escaped",
	 TOP("critical", VM_EVIL),
	 {"balancerd_vm_resident_bytes{vm=\"a\\\"b\\\\c\\nd\",class=\"\"} "
	  "1048576"},
	 /* No class: no floor nor ceiling; no raw newline in a label. */
	 {"balancerd_vm_floor_bytes", "balancerd_vm_ceiling_bytes", "vm=\"a\"b",
	  "c\nd"}},
	{"an older daemon's file, without the counters",
	 "{\"mode\":\"tight\",\"vms\":[]}",
	 {"balancerd_host_mode{mode=\"tight\"} 1", "balancerd_vms 0"},
	 {"balancerd_actions_total", "balancerd_tick_duration",
	  "balancerd_build_info", "balancerd_host_memory"}},
};

/* Is @line one of @text's lines? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/*
 * The exposition format's rules that a reader would trip over: every
 * sample's family has a TYPE line before it, each family's lines are
 * together (a family never comes back after another began), and no
 * line is empty.
 */
static void assert_well_formed(const char *text)
{
	char family[128] = "", seen[4096] = " ";
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		char name[128];
		size_t len;

		assert_non_null(nl);
		assert_true(nl > p);
		if (!strncmp(p, "# TYPE ", 7)) {
			sscanf(p + 7, "%127s", name);
			snprintf(family, sizeof(family), "%s", name);
			/* Declared once. */
			strcat(name, " ");
			assert_null(strstr(seen, name - 0));
			assert_true(strlen(seen) + strlen(name) + 2 <
				    sizeof(seen));
			strcat(seen, name);
		} else if (*p != '#') {
			len = strcspn(p, "{ ");
			assert_true(len < sizeof(name));
			memcpy(name, p, len);
			name[len] = '\0';
			assert_true(family[0]);
			assert_int_equal(strncmp(name, family, strlen(family)),
					 0);
		}
		p = nl + 1;
	}
}

static void test_format(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(*format_cases);
	     i++) {
		json_error_t je;
		json_t *doc = json_loads(format_cases[i].state, 0, &je);
		char *text;

		if (!doc)
			fail_msg("row '%s': bad JSON: %s", format_cases[i].name,
				 je.text);
		text = metrics_format_string(doc);
		assert_non_null(text);
		for (size_t k = 0; k < MAX_LINES && format_cases[i].present[k];
		     k++)
			if (!has_line(text, format_cases[i].present[k]))
				fail_msg("row '%s': no line '%s' in:\n%s",
					 format_cases[i].name,
					 format_cases[i].present[k], text);
		for (size_t k = 0; k < MAX_LINES && format_cases[i].absent[k];
		     k++)
			if (strstr(text, format_cases[i].absent[k]))
				fail_msg("row '%s': '%s' should not be in:\n%s",
					 format_cases[i].name,
					 format_cases[i].absent[k], text);
		assert_well_formed(text);
		free(text);
		json_decref(doc);
	}
}

static void test_format_rejects_non_state(void **unused)
{
	const char *bad[] = {"[]", "{}", "{\"vms\":{}}", "3"};

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *doc = json_loads(bad[i], JSON_DECODE_ANY, NULL);

		assert_non_null(doc);
		assert_int_equal(metrics_format(stdout, doc), -EINVAL);
		json_decref(doc);
	}
}

/* Only the VMs of the document get series: a vanished VM leaves. */
static void test_cardinality_follows_vms(void **unused)
{
	json_t *two = json_loads(TOP("tight", VM_WEB "," VM_PLAIN), 0, NULL);
	json_t *one = json_loads(TOP("tight", VM_PLAIN), 0, NULL);
	char *t2, *t1;

	(void)unused;
	assert_non_null(two);
	assert_non_null(one);
	t2 = metrics_format_string(two);
	t1 = metrics_format_string(one);
	assert_non_null(strstr(t2, "vm=\"web-1\""));
	assert_null(strstr(t1, "vm=\"web-1\""));
	assert_non_null(strstr(t1, "vm=\"vm-plain\""));
	free(t2);
	free(t1);
	json_decref(two);
	json_decref(one);
}

/* ---- counting, through the JSON the state carries ------------------- */

static const struct {
	usec_t duration;
	const char *line; /* a cumulative bucket it must count in */
} tick_cases[] = {
	{500, "balancerd_tick_duration_seconds_bucket{le=\"0.001\"} 1"},
	{1000, "balancerd_tick_duration_seconds_bucket{le=\"0.001\"} 1"},
	{1001, "balancerd_tick_duration_seconds_bucket{le=\"0.0025\"} 1"},
	{60000, "balancerd_tick_duration_seconds_bucket{le=\"0.1\"} 1"},
	{2000000, "balancerd_tick_duration_seconds_bucket{le=\"1\"} 0"},
	{2000000, "balancerd_tick_duration_seconds_bucket{le=\"+Inf\"} 1"},
};

static char *format_counters(const struct metrics_counters *c)
{
	json_t *doc =
		json_pack("{s:s, s:{s:o}, s:[]}", "mode", "proactive", "totals",
			  "metrics", metrics_counters_json(c), "vms");
	char *text;

	assert_non_null(doc);
	text = metrics_format_string(doc);
	json_decref(doc);
	assert_non_null(text);
	return text;
}

static void test_count_tick(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(tick_cases) / sizeof(*tick_cases); i++) {
		struct metrics_counters c = {0};
		char *text;

		metrics_count_tick(&c, tick_cases[i].duration);
		text = format_counters(&c);
		if (!has_line(text, tick_cases[i].line))
			fail_msg("tick of %llu us: no '%s' in:\n%s",
				 (unsigned long long)tick_cases[i].duration,
				 tick_cases[i].line, text);
		assert_true(has_line(
			text, "balancerd_tick_duration_seconds_count 1"));
		free(text);
	}
}

static void test_count_actions_and_errors(void **unused)
{
	struct metrics_counters c = {0};
	char *text;

	(void)unused;
	metrics_count_action(&c, ACTION_PAGEOUT, OUTCOME_PARTIAL);
	metrics_count_action(&c, ACTION_PAGEOUT, OUTCOME_PARTIAL);
	metrics_count_action(&c, ACTION_SET_HIGH, OUTCOME_DRY_RUN);
	metrics_count_action(&c, _ACTION_MAX, OUTCOME_DONE); /* ignored */
	metrics_count_error(&c, ERROR_SOURCE_CGROUP);
	metrics_count_error(&c, _ERROR_SOURCE_MAX); /* ignored */
	text = format_counters(&c);
	assert_true(has_line(text, "balancerd_actions_total{action=\"pageout\","
				   "outcome=\"partial\"} 2"));
	assert_true(has_line(text, "balancerd_actions_total{action="
				   "\"set_high\",outcome=\"dry_run\"} 1"));
	assert_true(has_line(text, "balancerd_actions_total{action=\"reclaim\","
				   "outcome=\"done\"} 0"));
	assert_true(has_line(text, "balancerd_errors_total{source=\"cgroup\"} "
				   "1"));
	assert_true(has_line(text, "balancerd_errors_total{source=\"metrics\"} "
				   "0"));
	assert_null(strstr(text, "unknown"));
	free(text);
}

/* ---- the writer ------------------------------------------------------- */

static const struct {
	usec_t interval;
	usec_t at[4];
	bool due[4];
} due_cases[] = {
	{10, {5, 10, 15, 16}, {true, false, true, false}},
	{10, {100, 109, 110, 200}, {true, false, true, true}},
	{0 /* default 15 s */,
	 {1, 14 * USEC_PER_SEC, 15 * USEC_PER_SEC + 1, 16 * USEC_PER_SEC},
	 {true, false, true, false}},
};

static void test_writer_due(void **unused)
{
	struct metrics_writer w;

	(void)unused;
	for (size_t i = 0; i < sizeof(due_cases) / sizeof(*due_cases); i++) {
		metrics_writer_init(&w, "/x/balancerd.prom",
				    due_cases[i].interval);
		for (size_t k = 0; k < 4; k++)
			assert_int_equal(
				metrics_writer_due(&w, due_cases[i].at[k]),
				due_cases[i].due[k]);
	}
	metrics_writer_init(&w, "", 10); /* off */
	assert_false(metrics_writer_due(&w, 100));
}

static void test_publish(void **unused)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[64], absent[96];
	json_t *doc = json_loads(TOP("tight", VM_EVIL), 0, NULL);
	char *want, got[16384];
	struct stat st;
	FILE *f;
	size_t n;

	(void)unused;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/balancerd.prom", dir);
	snprintf(absent, sizeof(absent), "%s/no-such-dir/balancerd.prom", dir);
	assert_int_equal(metrics_publish(absent, doc), 1);
	assert_int_equal(metrics_publish(path, doc), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	want = metrics_format_string(doc);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, want);
	/* Replaced, not appended to; no temp file left. */
	assert_int_equal(metrics_publish(path, doc), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, strlen(want));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(want);
	json_decref(doc);
}

/* ---- the settings in balancerd.json ----------------------------------- */

static const struct {
	const char *json;
	int r;
	const char *file;
	usec_t interval;
	const char *error; /* a substring of the first error */
} config_cases[] = {
	{"{}", 0, METRICS_DEFAULT_FILE, METRICS_DEFAULT_INTERVAL, NULL},
	{"{\"metrics_file\": \"\"}", 0, "", METRICS_DEFAULT_INTERVAL, NULL},
	{"{\"metrics_file\": \"/srv/m/b.prom\", \"metrics_interval\": "
	 "\"2s\"}",
	 0, "/srv/m/b.prom", 2 * USEC_PER_SEC, NULL},
	{"{\"metrics_interval\": \"500ms\"}", -EINVAL, NULL, 0,
	 "metrics_interval"},
	{"{\"metrics_interval\": \"2h\"}", -EINVAL, NULL, 0,
	 "metrics_interval"},
	{"{\"metrics_file\": 3}", -EINVAL, NULL, 0, "metrics_file"},
	{"{\"metrics_intervall\": \"2s\"}", -EINVAL, NULL, 0,
	 "metrics_interval"},
};

static void test_config_keys(void **unused)
{
	char path[] = "/tmp/test_metrics_config.XXXXXX";
	int fd;

	(void)unused;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(config_cases) / sizeof(*config_cases);
	     i++) {
		struct policy_errors errs = {0};
		struct daemon_config c = {0};
		FILE *f = fopen(path, "w");
		char msg[1024] = "";
		int r;

		assert_non_null(f);
		fputs(config_cases[i].json, f);
		fclose(f);
		r = daemon_config_load(path, &c, &errs);
		if (errs.n)
			policy_error_format(&errs.items[0], msg, sizeof(msg));
		if (r != config_cases[i].r)
			fail_msg("%s: returned %d, expected %d (%s)",
				 config_cases[i].json, r, config_cases[i].r,
				 msg);
		if (r == 0) {
			assert_string_equal(c.metrics_file,
					    config_cases[i].file);
			assert_int_equal(c.metrics_interval,
					 config_cases[i].interval);
			daemon_config_free(&c);
		} else if (!strstr(msg, config_cases[i].error)) {
			fail_msg("%s: error '%s' does not name %s",
				 config_cases[i].json, msg,
				 config_cases[i].error);
		}
		policy_errors_free(&errs);
	}
	unlink(path);
}

/* ---- the daemon, on a fake tree ---------------------------------------- */

#define SEC 1000000ULL

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(text);
	if (!f) {
		free(text);
		return NULL;
	}
	n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/*
 * The file node_exporter reads says what the state file says (balancerctl
 * metrics prints the same text), names a tenant's VM safely, is written
 * at most once per metrics_interval, and forgets a VM that went away.
 */
static void test_daemon_writes_textfile(void **unused)
{
	/* systemd escapes: the VM is named a"b\c, with a quote and a
	 * backslash. */
	const char *evil_scope = "a\"b\\x5cc";
	struct balancer_options o = {0};
	struct fake_tree t;
	struct balancer *b;
	char dir[600], prom[700], *text, *want;
	json_t *state;

	(void)unused;
	log_open(LOG_TARGET_MEMORY);
	fake_tree_create(&t, 64 * GiB, 16 * GiB);
	fake_policy(&t, "50-test.json",
		    "{\"classes\": [{\"name\": \"all\", \"match\": [\"*\"], "
		    "\"floor\": \"25%\", \"ceiling\": \"1G\"}]}\n");
	fake_vm_add(&t, "web-1", 256 * MiB, 512 * MiB);
	fake_vm_add(&t, evil_scope, 64 * MiB, 128 * MiB);
	snprintf(dir, sizeof(dir), "%s/var/lib/prometheus/node-exporter",
		 t.root);
	snprintf(prom, sizeof(prom), "%s/balancerd.prom", dir);
	o.root = t.root;
	o.config_path = t.config;
	assert_int_equal(balancer_new(&o, &b), 0);

	/* No directory, no file (and no error). */
	assert_int_equal(balancer_tick_at(b, 1000 * SEC), 0);
	assert_null(read_file(prom));

	fake_mkdir_p(dir);
	assert_int_equal(balancer_tick_at(b, 1016 * SEC), 0);
	text = read_file(prom);
	assert_non_null(text);
	assert_int_equal(state_read(t.state_file, &state, NULL, 0), 0);
	want = metrics_format_string(state);
	assert_string_equal(text, want);
	assert_true(has_line(text, "balancerd_vms 2"));
	assert_true(has_line(text, "balancerd_vm_ceiling_bytes{vm=\"web-1\","
				   "class=\"all\"} 1073741824"));
	assert_non_null(strstr(text, "balancerd_vm_resident_bytes{vm=\"a\\\"b"
				     "\\\\c\",class=\"all\"} 67108864"));
	assert_true(has_line(text, "balancerd_errors_total{source=\"metrics\"} "
				   "0"));
	free(want);
	free(text);
	json_decref(state);

	/* Within metrics_interval (15 s): the file stays as it was. */
	fake_vm_remove(&t, "web-1");
	assert_int_equal(balancer_tick_at(b, 1020 * SEC), 0);
	text = read_file(prom);
	assert_non_null(strstr(text, "vm=\"web-1\""));
	free(text);
	/* Then web-1 is gone from it. */
	assert_int_equal(balancer_tick_at(b, 1032 * SEC), 0);
	text = read_file(prom);
	assert_true(has_line(text, "balancerd_vms 1"));
	assert_null(strstr(text, "web-1"));
	assert_true(has_line(text, "balancerd_ticks_total 4"));
	free(text);

	balancer_free(b);
	fake_tree_destroy(&t);
	log_memory_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_label),
		cmocka_unit_test(test_escape_label_truncates),
		cmocka_unit_test(test_outcome_of),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_rejects_non_state),
		cmocka_unit_test(test_cardinality_follows_vms),
		cmocka_unit_test(test_count_tick),
		cmocka_unit_test(test_count_actions_and_errors),
		cmocka_unit_test(test_writer_due),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_daemon_writes_textfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
