// SPDX-License-Identifier: GPL-2.0
/*
 * balancerd against hostile names, odd files and careless admins (issue
 * 12): each test proves one behaviour on a fake tree, and failed before
 * its fix. Tenants choose VM names; admins write the config and the
 * policies; local users may put anything where a path points.
 * Run from the repository root (some tests run build/balancerd and
 * build/balancerctl, and skip when they are not built).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "escape.h"
#include "fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"
#include "trace_record.h"
#include "metrics.h"
#include "ovcmem_client.h"
#include "policy.h"
#include "safe_open.h"
#include "signals.h"
#include "state.h"
#include "trace.h"

#define SEC 1000000ULL

/* Every VM in one class that reclaims, so that each tick acts. */
static const char *const policy_all =
	"{\"interval\": \"1s\", \"host\": {\"low_watermark\": \"15%\", "
	"\"min_watermark\": \"5%\", \"high_watermark\": \"30%\"},\n"
	" \"classes\": [{\"name\": \"all\", \"match\": [\"*\"], "
	"\"floor\": \"25%\", \"max_reclaim_rate\": \"64M\", "
	"\"prefault\": false}]}\n";

struct fixture {
	struct fake_tree t;
	struct balancer *b;
	char out[600]; /* a binary's output */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	log_open(LOG_TARGET_MEMORY);
	/* Between the watermarks: proactive reclaim. */
	fake_tree_create(&f->t, 64 * GiB, 16 * GiB);
	fake_policy(&f->t, "50-all.json", policy_all);
	snprintf(f->out, sizeof(f->out), "%s/out.txt", f->t.root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	alarm(0);
	balancer_free(f->b);
	fake_tree_destroy(&f->t);
	log_memory_clear();
	free(f);
	return 0;
}

static void start(struct fixture *f)
{
	struct balancer_options o = {.root = f->t.root,
				     .config_path = f->t.config};

	assert_int_equal(balancer_new(&o, &f->b), 0);
}

/* The daemon's config with @extra members ("" or ", \"k\": v"). */
static void write_config(struct fixture *f, const char *globs,
			 const char *state_file, const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "{\"cgroup_root\": \"/sys/fs/cgroup\", \"vm_globs\": [%s],\n"
		 " \"policy_dir\": \"%s\", \"driver_path\": \"\",\n"
		 " \"state_file\": \"%s\"%s}\n",
		 globs, f->t.policy_dir, state_file, extra);
	fake_write(f->t.config, text);
}

/* Run @argv (stdout and stderr to f->out) for at most 20 s: a program
 * that would never end is killed (SIGALRM) rather than hang the suite. */
static int run(struct fixture *f, char *const argv[])
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		alarm(20);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *slurp(const char *path)
{
	return fake_slurp(path);
}

static bool has_byte(const char *s, char c)
{
	return strchr(s, c) != NULL;
}

/* No entry of the memory log holds a control byte, in its message or in
 * any field. */
static void assert_log_clean(void)
{
	for (size_t i = 0; i < log_memory_count(); i++) {
		const struct log_entry *e = log_memory_get(i);

		assert_true(escape_is_clean(e->message));
		for (size_t k = 0; k < e->n_fields; k++)
			assert_true(escape_is_clean(e->fields[k].value));
	}
}

static json_t *state_of(struct fixture *f)
{
	char err[256];
	json_t *doc = NULL;

	assert_int_equal(state_read(f->t.state_file, &doc, err, sizeof(err)),
			 0);
	return doc;
}

/* The VM object of the state named @name, or NULL. */
static json_t *state_vm(json_t *doc, const char *name)
{
	json_t *vm;
	size_t i;

	json_array_foreach(json_object_get(doc, "vms"), i, vm)
	{
		const char *n = json_string_value(json_object_get(vm, "name"));

		if (n && !strcmp(n, name))
			return vm;
	}
	return NULL;
}

/* How many entries of the memory log contain @needle. */
static size_t log_count(const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < log_memory_count(); i++)
		n += strstr(log_memory_get(i)->message, needle) != NULL;
	return n;
}

/* 1: a newline in a VM name cannot forge a log line or a status row. */
static void test_vm_name_newline_and_escape_are_escaped_everywhere(void **state)
{
	struct fixture *f = *state;
	static const char evil[] = "web\nbalancerd: error: forged\x1b]0;x\x07";
	/* As a label: the format's \n, the controls as text. */
	static const char label[] =
		"vm=\"web\\nbalancerd: error: forged\\\\x1b]0;x\\\\a\"";
	char *ctl[] = {"build/balancerctl", "--state-file", f->t.state_file,
		       "status", NULL};
	const char *out;
	json_t *doc;
	char *prom;
	size_t len;
	FILE *m;

	fake_vm_add(&f->t, evil, 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	assert_true(log_memory_find(MSGID_VM_APPEARED, 0, NULL) != NULL);
	assert_non_null(
		strstr(log_memory_find(MSGID_VM_APPEARED, 0, NULL)->message,
		       "web\\nbalancerd: error: forged\\x1b]0;x\\a"));
	assert_log_clean();
	/* What `balancerctl metrics` prints. */
	m = open_memstream(&prom, &len);
	assert_non_null(m);
	doc = state_of(f);
	assert_int_equal(metrics_format(m, doc), 0);
	json_decref(doc);
	fclose(m);
	assert_false(has_byte(prom, '\x1b'));
	assert_false(has_byte(prom, '\a'));
	assert_non_null(strstr(prom, label));
	free(prom);
	if (access(ctl[0], X_OK) < 0)
		return;
	run(f, ctl);
	out = slurp(f->out);
	assert_false(has_byte(out, '\x1b'));
	assert_false(has_byte(out, '\a'));
	assert_null(strstr(out, "\nbalancerd: error: forged"));
	assert_non_null(strstr(out, "web\\nbalancerd: error: forged"));
	ctl[3] = "metrics";
	assert_int_equal(run(f, ctl), 0);
	out = slurp(f->out);
	assert_false(has_byte(out, '\x1b'));
	assert_false(has_byte(out, '\a'));
	assert_non_null(strstr(out, label));
}

/* 2: a name that is not UTF-8 is published escaped, and explainable. */
static void test_non_utf8_name_published_escaped_and_explained(void **state)
{
	struct fixture *f = *state;
	char raw[] = "db\xff\xfe";
	char *ctl[] = {"build/balancerctl",
		       "--state-file",
		       f->t.state_file,
		       "explain",
		       raw,
		       NULL};
	json_t *doc, *vm;

	fake_vm_add(&f->t, raw, 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	doc = state_of(f);
	vm = state_vm(doc, "db\\xff\\xfe");
	assert_non_null(vm);
	assert_true(json_is_string(json_object_get(vm, "cgroup")));
	json_decref(doc);
	if (access(ctl[0], X_OK) < 0)
		return;
	assert_int_equal(run(f, ctl), 0);
	assert_non_null(strstr(slurp(f->out), "class:    all"));
	ctl[4] = "db\\xff\\xfe"; /* as status shows it */
	assert_int_equal(run(f, ctl), 0);
}

/* 3: two cgroups that decode to one name keep their own state. */
static void test_same_decoded_name_keeps_separate_state(void **state)
{
	struct fixture *f = *state;
	json_t *doc, *a, *b;

	/* libvirt's QEMU and LXC domains, both named "web". */
	fake_vm_add(&f->t, "machine-qemu\\x2d1\\x2dweb", 4 * GiB, 4 * GiB);
	fake_vm_add(&f->t, "machine-lxc\\x2d2\\x2dweb", 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	assert_int_equal(balancer_vm_count(f->b), 2);
	doc = state_of(f);
	a = state_vm(doc, "web");
	b = state_vm(doc, "web~2");
	assert_non_null(a);
	assert_non_null(b);
	/* Each reclaimed on its own account: neither total is the sum. */
	assert_true(json_integer_value(json_object_get(a, "reclaimed_total")) >
		    0);
	assert_true(json_integer_value(json_object_get(b, "reclaimed_total")) >
		    0);
	assert_int_equal(
		json_integer_value(json_object_get(a, "reclaimed_total")) +
			json_integer_value(
				json_object_get(b, "reclaimed_total")),
		json_integer_value(json_object_get(
			json_object_get(doc, "totals"), "reclaimed")));
	json_decref(doc);
}

/* Ticks @vm, the one VM, from @t0 for @ticks seconds; the state's
 * reclaimed_total of it, and its name in @name. */
static long long run_alone(struct fixture *f, const char *vm, usec_t t0,
			   unsigned int ticks, char *name, size_t len)
{
	json_t *doc, *v;
	long long n;

	fake_vm_add(&f->t, vm, 4 * GiB, 4 * GiB);
	for (unsigned int i = 0; i < ticks; i++)
		assert_int_equal(balancer_tick_at(f->b, t0 + i * SEC), 0);
	doc = state_of(f);
	assert_int_equal(json_array_size(json_object_get(doc, "vms")), 1);
	v = json_array_get(json_object_get(doc, "vms"), 0);
	snprintf(name, len, "%s",
		 json_string_value(json_object_get(v, "name")));
	n = json_integer_value(json_object_get(v, "reclaimed_total"));
	json_decref(doc);
	return n;
}

/* @gone's VM leaves, @next's comes a tick later, while the state of
 * @gone is still kept (10 minutes): @next, named alike, must start
 * afresh, with no backoff, budget or totals of the other cgroup. */
static void assert_successor_starts_afresh(struct fixture *f, const char *gone,
					   const char *next)
{
	char first[VM_NAME_MAX], second[VM_NAME_MAX];
	long long before, after;

	start(f);
	before = run_alone(f, gone, 1000 * SEC, 3, first, sizeof(first));
	/* More than one tick's budget. */
	assert_true(before > (long long)(64 * MiB));
	fake_vm_remove(&f->t, gone);
	assert_int_equal(balancer_tick_at(f->b, 1003 * SEC), 0);
	after = run_alone(f, next, 1004 * SEC, 1, second, sizeof(second));
	assert_string_equal(first, second); /* the same name, in turn */
	assert_true(after > 0);
	/* Its own one tick's, not the sum. */
	assert_true(after <= (long long)(64 * MiB));
}

/* 3: libvirt's QEMU domain "web" goes; an LXC domain "web" comes. */
static void test_name_of_a_vanished_vm_inherits_nothing(void **state)
{
	assert_successor_starts_afresh(*state, "machine-qemu\\x2d1\\x2dweb",
				       "machine-lxc\\x2d9\\x2dweb");
}

/* 3: two names too long to be a VM name, alike up to the cut. */
static void test_names_cut_to_one_prefix_keep_separate_state(void **state)
{
	char a[200], b[200];

	memset(a, 'w', sizeof(a));
	memcpy(a + sizeof(a) - 5, "-one", 5);
	memcpy(b, a, sizeof(b));
	memcpy(b + sizeof(b) - 5, "-two", 5);
	assert_successor_starts_afresh(*state, a, b);
}

/* 4: unreadable host signals are failed ticks: counted, published,
 * retried; status says so and exits 1; --ticks N ends. */
static void test_unreadable_host_is_a_published_failed_tick(void **state)
{
	struct fixture *f = *state;
	char path[700];
	char *daemon[] = {"build/balancerd",
			  "--root",
			  f->t.root,
			  "--config",
			  f->t.config,
			  "--ticks",
			  "2",
			  "--interval",
			  "10ms",
			  "--log-target",
			  "stderr",
			  NULL};
	char *ctl[] = {"build/balancerctl", "--state-file", f->t.state_file,
		       "status", NULL};
	json_t *doc;

	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	start(f);
	snprintf(path, sizeof(path), "%s/proc/meminfo", f->t.root);
	fake_write(path, "garbage\n");
	assert_true(balancer_tick_at(f->b, 1000 * SEC) < 0);
	assert_true(balancer_tick_at(f->b, 1001 * SEC) < 0);
	assert_int_equal(balancer_ticks_run(f->b), 2);
	doc = state_of(f);
	assert_true(json_is_false(json_object_get(doc, "last_tick_ok")));
	assert_non_null(
		strstr(json_string_value(json_object_get(doc, "last_error")),
		       "cannot read host signals"));
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(doc, "totals"), "failed_ticks")),
		2);
	json_decref(doc);
	if (access(ctl[0], X_OK) == 0) {
		assert_int_equal(run(f, ctl), 1);
		assert_non_null(strstr(slurp(f->out), "FAILING: cannot read "
						      "host signals"));
		/* There never was a good tick: not "-1s ago". */
		assert_non_null(strstr(slurp(f->out), "no good tick yet"));
	}
	if (access(daemon[0], X_OK) == 0) {
		/* Ends after 2 ticks, both failed: exit status 3. */
		assert_int_equal(run(f, daemon), 3);
		assert_non_null(strstr(slurp(f->out), "ticks failed"));
	}
	/* Readable again: the next tick decides, the error is gone. */
	fake_host(&f->t, 64 * GiB, 16 * GiB, 0, 0);
	assert_int_equal(balancer_tick_at(f->b, 1002 * SEC), 0);
	doc = state_of(f);
	assert_true(json_is_true(json_object_get(doc, "last_tick_ok")));
	assert_true(json_is_null(json_object_get(doc, "last_error")));
	json_decref(doc);
}

/* 4: a state file nobody rewrites is stale: status exits 1. */
static void test_status_of_a_stale_state_exits_nonzero(void **state)
{
	struct fixture *f = *state;
	char *ctl[] = {"build/balancerctl", "--state-file", f->t.state_file,
		       "status", NULL};
	json_t *doc;

	fake_write(f->t.state_file,
		   "{\"version\": 1, \"time\": 1000, \"interval_usec\": "
		   "1000000, \"mode\": \"calm\", \"vms\": []}\n");
	doc = state_of(f);
	assert_true(state_is_stale(doc, 1000 + 3 + STATE_STALE_SLACK_SEC + 1,
				   NULL));
	assert_false(state_is_stale(doc, 1002, NULL));
	json_decref(doc);
	if (access(ctl[0], X_OK) < 0)
		return;
	assert_int_equal(run(f, ctl), 1);
	assert_non_null(strstr(slurp(f->out), "STALE"));
}

/* 4: a tick that fails after a reload publishes the new policy's
 * classes, not the freed ones of the old policy. */
static void test_failed_tick_after_reload_publishes_new_classes(void **state)
{
	struct fixture *f = *state;
	char path[700];
	json_t *doc;

	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	fake_policy(&f->t, "50-all.json",
		    "{\"classes\": [{\"name\": \"renamed\", \"match\": "
		    "[\"*\"]}]}");
	assert_int_equal(balancer_reload(f->b), 0);
	snprintf(path, sizeof(path), "%s/proc/meminfo", f->t.root);
	fake_write(path, "garbage\n");
	assert_true(balancer_tick_at(f->b, 1001 * SEC) < 0);
	doc = state_of(f);
	assert_string_equal(json_string_value(json_object_get(
				    state_vm(doc, "vm1"), "class")),
			    "renamed");
	json_decref(doc);
}

/* 5: a FIFO at the state path: balancerctl answers, does not block. */
static void test_state_fifo_refused_without_blocking(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	json_t *doc = NULL;
	char *ctl[] = {"build/balancerctl", "--state-file", f->t.state_file,
		       "status", NULL};

	assert_int_equal(mkfifo(f->t.state_file, 0644), 0);
	alarm(20); /* a blocking open would end the suite here */
	assert_int_equal(state_read(f->t.state_file, &doc, err, sizeof(err)),
			 -ENOTREGULAR);
	alarm(0);
	assert_null(doc);
	if (access(ctl[0], X_OK) < 0)
		return;
	assert_int_equal(run(f, ctl), 1);
	assert_non_null(strstr(slurp(f->out), "not a regular file"));
}

/* 6: a reload (SIGHUP) re-reads balancerd.json and applies it. */
static void test_reload_rereads_config(void **state)
{
	struct fixture *f = *state;
	const struct log_entry *e;

	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	fake_vm_add(&f->t, "other", 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	assert_int_equal(balancer_vm_count(f->b), 2);
	assert_string_not_equal(fake_vm_read(&f->t, "vm1", "memory.reclaim"),
				"");
	fake_vm_clear_writes(&f->t, "vm1");
	write_config(f, "\"machine.slice/vm*.scope\"", f->t.state_file,
		     ", \"dry_run\": true");
	assert_int_equal(balancer_reload(f->b), 0);
	e = log_memory_find(MSGID_RELOAD_OK, 0, NULL);
	assert_non_null(e);
	assert_non_null(strstr(e->message, "vm_globs"));
	assert_non_null(strstr(e->message, "dry_run"));
	assert_int_equal(balancer_tick_at(f->b, 1001 * SEC), 0);
	assert_int_equal(balancer_vm_count(f->b), 1); /* the new globs */
	assert_string_equal(fake_vm_read(&f->t, "vm1", "memory.reclaim"),
			    ""); /* dry run now */
}

/* 7: a FIFO named *.json in the policy directory is refused at once. */
static void test_policy_dir_fifo_refused_without_blocking(void **state)
{
	struct fixture *f = *state;
	struct policy_errors errs = {0};
	struct policy p = {0};
	char path[700], line[1024];

	snprintf(path, sizeof(path), "%s/60-fifo.json", f->t.policy_dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	alarm(20);
	assert_true(policy_load_dir(f->t.policy_dir, &p, &errs) < 0);
	alarm(0);
	assert_true(errs.n >= 1);
	policy_error_format(&errs.items[0], line, sizeof(line));
	assert_non_null(strstr(line, "60-fifo.json: cannot read: not a "
				     "regular file"));
	policy_errors_free(&errs);
}

/* A policy of @n classes behind a catch-all of each, and a last class
 * the one before it covers; malloc'ed. */
static char *large_policy(size_t n)
{
	size_t cap = n * 64 + 256, len = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "{\"classes\": [\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"{\"name\": \"c%zu\", \"match\": "
					"[\"t%zu-*\", \"u%zu\"]},\n",
					i, i, i);
	snprintf(text + len, cap - len,
		 "{\"name\": \"late\", \"match\": "
		 "[\"t%zu-x*\", \"u%zu\"]}]}\n",
		 n - 1, n - 1);
	return text;
}

/* The glob comparisons loading large_policy(@n) takes; checks that only
 * the last class is found covered, at its own line. */
static unsigned long long check_large_policy(size_t n)
{
	unsigned long long before = policy_glob_comparisons;
	struct policy_errors errs = {0};
	struct policy p = {0};
	char *text = large_policy(n), want[128];

	assert_int_equal(policy_load_string(text, "big.json", &p, &errs),
			 -EINVAL);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want),
		 "class 'late' can never match: class 'c%zu' (big.json:%zu)",
		 n - 1, n + 1);
	assert_non_null(strstr(errs.items[0].message, want));
	assert_int_equal(errs.items[0].line, n + 2);
	policy_errors_free(&errs);
	free(text);
	return policy_glob_comparisons - before;
}

/* 8: the class check and class positions of a large policy: 8000
 * classes behind a catch-all are each found, at their own line; and the
 * check's work grows with the policy, not with its square (counted in
 * glob comparisons, not timed: four times the classes must not cost
 * sixteen times the comparisons, as the pairwise check did). */
static void test_large_policy_checks_every_class(void **state)
{
	unsigned long long small, large;

	(void)state;
	small = check_large_policy(2000);
	large = check_large_policy(8000);
	assert_true(small > 0);
	assert_true(large < 6 * small);
}

/* 9: vm_globs stay below cgroup_root; slices are never VMs. */
static void test_vm_globs_confined_and_slices_left_out(void **state)
{
	struct fixture *f = *state;
	struct policy_errors errs = {0};
	struct daemon_config c;
	struct vm_list l = {0};
	char *up[] = {"../../../tmp/*"}, *all[] = {"*"};
	char path[700], line[1024];

	write_config(f, "\"../../../tmp/*\"", f->t.state_file, "");
	assert_int_equal(daemon_config_load(f->t.config, &c, &errs), -EINVAL);
	policy_error_format(&errs.items[0], line, sizeof(line));
	assert_non_null(strstr(line, "'..' component"));
	policy_errors_free(&errs);

	/* A directory outside the cgroup root that the glob would reach. */
	snprintf(path, sizeof(path), "%s/tmp/victim", f->t.root);
	fake_mkdir_p(path);
	assert_int_equal(discover_vms(f->t.root, "sys/fs/cgroup/machine.slice",
				      up, 1, &l),
			 0);
	assert_int_equal(l.n, 0);
	vm_list_free(&l);

	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/system.slice",
		 f->t.root);
	fake_mkdir_p(path);
	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	assert_int_equal(discover_vms(f->t.root, "sys/fs/cgroup", all, 1, &l),
			 0);
	assert_int_equal(l.n, 0); /* machine.slice, system.slice */
	assert_int_equal(l.n_slices, 2);
	vm_list_free(&l);

	write_config(f, "\"*\"", f->t.state_file, "");
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	assert_int_equal(balancer_vm_count(f->b), 0);
	assert_int_equal(log_count("vm_globs match 2 slices"), 1);
	balancer_free(f->b);
	f->b = NULL;

	/* Not slices, but no VMs either: systemd's init.scope, and a
	 * cgroup that holds units. Each is said once (not every tick), with
	 * the glob; a libvirt VM's own sub-cgroups make it no less a VM. */
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/init.scope", f->t.root);
	fake_mkdir_p(path);
	snprintf(path, sizeof(path),
		 "%s/sys/fs/cgroup/user@0.service/app.slice", f->t.root);
	fake_mkdir_p(path);
	snprintf(path, sizeof(path),
		 "%s/sys/fs/cgroup/machine.slice/vm1.scope/libvirt/emulator",
		 f->t.root);
	fake_mkdir_p(path);
	write_config(f, "\"*\", \"machine.slice/*.scope\"", f->t.state_file,
		     "");
	log_memory_clear();
	start(f);
	for (unsigned int i = 0; i < 3; i++)
		balancer_tick_at(f->b, (1001 + i) * SEC);
	assert_int_equal(log_count("vm_globs' \"*\" matches init.scope, "
				   "systemd's own"),
			 1);
	assert_int_equal(log_count("vm_globs' \"*\" matches user@0.service, "
				   "which holds units (app.slice, ...)"),
			 1);
	assert_int_equal(log_count("matches machine.slice/vm1.scope"), 0);
	assert_int_equal(log_count("not a VM"), 2);
}

/* 10: the state file never replaces what is not a regular file; "" in
 * balancerd.json publishes nothing. */
static void test_state_file_only_replaces_regular_files(void **state)
{
	struct fixture *f = *state;
	struct policy_errors errs = {0};
	struct daemon_config c;
	json_t *doc = json_object();
	struct stat st;

	assert_int_equal(mkfifo(f->t.state_file, 0644), 0);
	assert_int_equal(state_publish(f->t.state_file, doc), -ENOTREGULAR);
	assert_int_equal(lstat(f->t.state_file, &st), 0);
	assert_true(S_ISFIFO(st.st_mode)); /* untouched */
	assert_int_equal(unlink(f->t.state_file), 0);
	assert_int_equal(state_publish(f->t.state_file, doc), 0);
	json_decref(doc);

	write_config(f, "\"machine.slice/*.scope\"", "", "");
	assert_int_equal(daemon_config_load(f->t.config, &c, &errs), 0);
	assert_string_equal(c.state_file, "");
	daemon_config_free(&c);
}

/* 10: a record path (balancerd.json's "record", --record) that is a
 * FIFO or a device node is refused at once: the daemon does not hang at
 * start, and nothing is appended to the node. */
static void test_record_path_only_a_regular_file(void **state)
{
	struct fixture *f = *state;
	struct balancer_state s = {0};
	struct trace_recorder *r = NULL;
	struct policy p = {0};
	char fifo[700], extra[800], path[700];
	struct stat st;

	snprintf(fifo, sizeof(fifo), "%s/trace.fifo", f->t.root);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	alarm(20); /* a blocking open would end the suite here */
	assert_int_equal(
		trace_recorder_open(fifo, 0, "start", SEC, false, &p, &s, &r),
		-ENOTREGULAR);
	assert_null(r);
	assert_int_equal(trace_recorder_open("/dev/null", 0, "start", SEC,
					     false, &p, &s, &r),
			 -ENOTREGULAR);
	assert_null(r);
	/* The daemon, configured so, starts and ticks. */
	snprintf(extra, sizeof(extra), ", \"record\": \"%s\"", fifo);
	write_config(f, "\"machine.slice/*.scope\"", f->t.state_file, extra);
	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	alarm(0);
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* A regular file is still recorded to. */
	snprintf(path, sizeof(path), "%s/trace.jsonl", f->t.root);
	assert_int_equal(
		trace_recorder_open(path, 0, "start", SEC, false, &p, &s, &r),
		0);
	trace_recorder_close(r);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);
}

/* 10: the metrics file replaces only a regular file, as the state file
 * does: not a FIFO, not a symlink (as root, not /dev/null). */
static void test_metrics_file_only_replaces_regular_files(void **state)
{
	struct fixture *f = *state;
	char path[700], target[700];
	struct stat st;
	json_t *doc;

	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	start(f);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	doc = state_of(f);
	snprintf(path, sizeof(path), "%s/balancerd.prom", f->t.root);
	snprintf(target, sizeof(target), "%s/elsewhere", f->t.root);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(metrics_publish(path, doc), -ENOTREGULAR);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode)); /* untouched */
	assert_int_equal(unlink(path), 0);
	fake_write(target, "mine\n");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(metrics_publish(path, doc), -ENOTREGULAR);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(slurp(target), "mine\n");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(metrics_publish(path, doc), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	json_decref(doc);
}

/* 11: a state file inside policy_dir is refused at start, clearly. */
static void test_state_file_in_policy_dir_refused_at_start(void **state)
{
	struct fixture *f = *state;
	struct balancer_options o = {.root = f->t.root,
				     .config_path = f->t.config};
	char path[700];
	bool said = false;

	snprintf(path, sizeof(path), "%s/state.json", f->t.policy_dir);
	write_config(f, "\"machine.slice/*.scope\"", path, "");
	assert_int_equal(balancer_new(&o, &f->b), -EINVAL);
	assert_null(f->b);
	for (size_t i = 0; i < log_memory_count(); i++)
		said |= strstr(log_memory_get(i)->message,
			       "is inside policy_dir") != NULL;
	assert_true(said);
}

/* 12: a policy file name with a newline or ESC stays on one line. */
static void test_policy_file_name_escaped_in_errors(void **state)
{
	struct fixture *f = *state;
	struct policy_errors errs = {0};
	struct policy p = {0};
	char line[1024];

	fake_policy(&f->t, "60-a\nb\x1b.json", "{\"classes\": 1}");
	assert_int_equal(policy_load_dir(f->t.policy_dir, &p, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	policy_error_format(&errs.items[0], line, sizeof(line));
	assert_false(has_byte(line, '\n'));
	assert_false(has_byte(line, '\x1b'));
	assert_non_null(strstr(line, "60-a\\nb\\x1b.json:1:"));
	policy_errors_free(&errs);
}

/* Also: a VM whose files are garbage is warned about once, not every
 * tick, and once more when it recovers. */
static void test_malformed_vm_file_warned_once(void **state)
{
	struct fixture *f = *state;
	size_t warnings = 0;

	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	fake_vm_write(&f->t, "vm1", "memory.stat", "anon x\n");
	start(f);
	for (unsigned int i = 0; i < 5; i++)
		assert_int_equal(balancer_tick_at(f->b, (1000 + i) * SEC), 0);
	for (size_t i = 0; i < log_memory_count(); i++)
		warnings += strstr(log_memory_get(i)->message,
				   "cannot read signals of cgroup") != NULL;
	assert_int_equal(warnings, 1);
	assert_int_equal(balancer_vm_count(f->b), 0);
}

/* Also: a PSI average of infinity is refused, not critical-and-0%. */
static void test_psi_infinity_refused(void **state)
{
	struct psi psi;

	(void)state;
	assert_int_equal(parse_psi("some avg10=1e999 avg60=0.00 avg300=0.00 "
				   "total=1\n",
				   &psi),
			 -ERANGE);
	assert_int_equal(parse_psi("some avg10=100.00 avg60=0.00 avg300=0.00 "
				   "total=1\n",
				   &psi),
			 0);
}

/* Also: /dev/zero as driver_path is not the driver. */
static void test_dev_zero_is_not_the_driver(void **state)
{
	struct fixture *f = *state;
	struct balancer_options o = {.root = f->t.root,
				     .config_path = f->t.config,
				     .driver_path = "/dev/zero"};
	json_t *doc;

	if (access("/dev/zero", R_OK | W_OK) < 0)
		skip();
	fake_vm_add(&f->t, "vm1", 4 * GiB, 4 * GiB);
	assert_int_equal(balancer_new(&o, &f->b), 0);
	assert_int_equal(balancer_tick_at(f->b, 1000 * SEC), 0);
	doc = state_of(f);
	assert_true(json_is_false(json_object_get(doc, "driver")));
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_vm_name_newline_and_escape_are_escaped_everywhere),
		T(test_non_utf8_name_published_escaped_and_explained),
		T(test_same_decoded_name_keeps_separate_state),
		T(test_name_of_a_vanished_vm_inherits_nothing),
		T(test_names_cut_to_one_prefix_keep_separate_state),
		T(test_unreadable_host_is_a_published_failed_tick),
		T(test_failed_tick_after_reload_publishes_new_classes),
		T(test_status_of_a_stale_state_exits_nonzero),
		T(test_state_fifo_refused_without_blocking),
		T(test_reload_rereads_config),
		T(test_policy_dir_fifo_refused_without_blocking),
		T(test_large_policy_checks_every_class),
		T(test_vm_globs_confined_and_slices_left_out),
		T(test_state_file_only_replaces_regular_files),
		T(test_record_path_only_a_regular_file),
		T(test_metrics_file_only_replaces_regular_files),
		T(test_state_file_in_policy_dir_refused_at_start),
		T(test_policy_file_name_escaped_in_errors),
		T(test_malformed_vm_file_warned_once),
		T(test_psi_infinity_refused),
		T(test_dev_zero_is_not_the_driver),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
