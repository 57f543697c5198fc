// SPDX-License-Identifier: GPL-2.0
/*
 * Logging: the API through the memory sink, the auto target's journal
 * detection, and the fields of every entry type the daemon emits, driven
 * through balancer ticks on a fake tree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"

#define SEC 1000000ULL

static const char *const good_policy =
	"{\n"
	"  \"interval\": \"1s\",\n"
	"  \"host\": {\"low_watermark\": \"15%\", \"min_watermark\": \"5%\",\n"
	"           \"high_watermark\": \"30%\", \"psi_full_limit\": 5.0},\n"
	"  \"classes\": [\n"
	"    {\"name\": \"batch\", \"match\": [\"batch-*\"], \"priority\": 0,\n"
	"     \"shares\": 100, \"floor\": \"10%\", \"pressure_target\": 5.0,\n"
	"     \"cold_age\": \"1m\", \"max_reclaim_rate\": \"256M\",\n"
	"     \"prefault\": false}\n"
	"  ]\n"
	"}\n";

static int setup(void **state)
{
	(void)state;
	log_open(LOG_TARGET_MEMORY);
	log_set_max_level(LOG_INFO);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_memory_clear();
	return 0;
}

static void test_msgids_fixed_and_unique(void **state)
{
	(void)state;
	assert_null(log_msgid_string(MSGID_NONE));
	for (int i = 1; i < _MSGID_MAX; i++) {
		const char *a = log_msgid_string((enum log_msgid)i);

		assert_non_null(a);
		assert_int_equal(strlen(a), 32);
		assert_int_equal(strspn(a, "0123456789abcdef"), 32);
		for (int k = 1; k < i; k++)
			assert_string_not_equal(
				a, log_msgid_string((enum log_msgid)k));
	}
	/* The catalog and docs/logging.md name this one. */
	assert_string_equal(log_msgid_string(MSGID_ACTION),
			    "d9acf7c106354fe19ad810ff4fd2604e");
	assert_null(log_msgid_string(_MSGID_MAX));
}

static void test_target_names(void **state)
{
	enum log_target t;

	(void)state;
	assert_int_equal(log_target_from_string("journal", &t), 0);
	assert_int_equal(t, LOG_TARGET_JOURNAL);
	assert_int_equal(log_target_from_string("stderr", &t), 0);
	assert_int_equal(t, LOG_TARGET_STDERR);
	assert_int_equal(log_target_from_string("auto", &t), 0);
	assert_int_equal(t, LOG_TARGET_AUTO);
	assert_int_equal(log_target_from_string("syslog", &t), -EINVAL);
	assert_string_equal(log_target_name(LOG_TARGET_JOURNAL), "journal");
}

static void test_send_fields(void **state)
{
	struct log_field f[2];
	const struct log_entry *e;

	(void)state;
	log_field_set(&f[0], "VM", "%s", "vm3");
	log_field_set(&f[1], "BYTES_REQUESTED", "%d", 4096);
	assert_int_equal(
		log_send(LOG_NOTICE, MSGID_ACTION, f, 2, "hello %d", 42), 0);
	assert_int_equal(log_memory_count(), 1);
	e = log_memory_get(0);
	assert_int_equal(e->priority, LOG_NOTICE);
	assert_int_equal(e->msgid, MSGID_ACTION);
	assert_string_equal(e->message, "hello 42");
	assert_int_equal(e->n_fields, 2);
	assert_string_equal(log_entry_field(e, "VM"), "vm3");
	assert_string_equal(log_entry_field(e, "BYTES_REQUESTED"), "4096");
	assert_null(log_entry_field(e, "REASON"));
	assert_null(log_memory_get(1));
	assert_ptr_equal(log_memory_find(MSGID_ACTION, 0, NULL), e);
	assert_null(log_memory_find(MSGID_SUMMARY, 0, NULL));
}

/* What the journal sink handed to sd_journal_sendv(), item by item. */
static char journal_items[32][600];
static int journal_n, journal_calls, journal_result;

static int capture_sendv(const struct iovec *iov, int n)
{
	journal_calls++;
	journal_n = n < 32 ? n : 32;
	for (int i = 0; i < journal_n; i++) {
		size_t len = iov[i].iov_len < 599 ? iov[i].iov_len : 599;

		memcpy(journal_items[i], iov[i].iov_base, len);
		journal_items[i][len] = '\0';
	}
	return journal_result;
}

/* The item "KEY=..." the sink sent, or NULL. */
static const char *journal_item(const char *key)
{
	size_t k = strlen(key);

	for (int i = 0; i < journal_n; i++)
		if (!strncmp(journal_items[i], key, k) &&
		    journal_items[i][k] == '=')
			return journal_items[i] + k + 1;
	return NULL;
}

static void test_journal_sink_fields(void **state)
{
	char longer[400];
	struct log_field f[8];

	(void)state;
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	log_set_journal_sendv(capture_sendv);
	journal_result = 0;
	journal_calls = 0;
	log_open(LOG_TARGET_JOURNAL);
	log_field_str(&f[0], "VM", "web\n1");
	log_field_u64(&f[1], "BYTES_REQUESTED", UINT64_MAX);
	log_field_int(&f[2], "ERRNO", -5);
	log_field_int(&f[3], "DRY_RUN", 0);
	log_field_percent(&f[4], "PSI_SOME_AVG10", 12.345);
	log_field_set(&f[5], "REASON", "%s %d", "over", 7);
	log_field_str(&f[6], "CGROUP", longer);
	log_field_str(&f[7], "POLICY", NULL);
	assert_int_equal(log_send(LOG_WARNING, MSGID_ACTION, f, 8,
				  "vm %s\x1b[2J", "web\n1"),
			 0);
	assert_int_equal(journal_calls, 1);
	assert_int_equal(journal_n, 4 + 8);
	/* The message and every text field escaped; numbers as numbers. */
	assert_string_equal(journal_item("MESSAGE"), "vm web\\n1\\x1b[2J");
	assert_string_equal(journal_item("PRIORITY"), "4");
	assert_string_equal(journal_item("SYSLOG_IDENTIFIER"), "balancerd");
	assert_string_equal(journal_item("MESSAGE_ID"),
			    log_msgid_string(MSGID_ACTION));
	assert_string_equal(journal_item("VM"), "web\\n1");
	assert_string_equal(journal_item("BYTES_REQUESTED"),
			    "18446744073709551615");
	assert_string_equal(journal_item("ERRNO"), "-5");
	assert_string_equal(journal_item("DRY_RUN"), "0");
	assert_string_equal(journal_item("PSI_SOME_AVG10"), "12.35");
	assert_string_equal(journal_item("REASON"), "over 7");
	/* A borrowed string is cut where a formatted one is. */
	assert_int_equal(strlen(journal_item("CGROUP")), LOG_VALUE_MAX - 1);
	assert_string_equal(journal_item("POLICY"), "");
	/* No MESSAGE_ID for plain diagnostics. */
	log_info("plain");
	assert_int_equal(journal_calls, 2);
	assert_int_equal(journal_n, 3);
	assert_null(journal_item("MESSAGE_ID"));
	assert_string_equal(journal_item("PRIORITY"), "6");
	/* Filtered out: the sink is not called at all. */
	log_debug("noise");
	assert_int_equal(journal_calls, 2);
	log_set_journal_sendv(NULL);
	log_open(LOG_TARGET_MEMORY);
}

static void test_typed_fields_in_memory(void **state)
{
	struct log_field f[3];
	const struct log_entry *e;

	(void)state;
	log_field_u64(&f[0], "MEM_AVAILABLE", 0);
	log_field_int(&f[1], "ERRNO", 95);
	log_field_percent(&f[2], "VM_PRESSURE_SOME_AVG10", 0.005);
	log_send(LOG_INFO, MSGID_SUMMARY, f, 3, "typed");
	e = log_memory_get(0);
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "MEM_AVAILABLE"), "0");
	assert_string_equal(log_entry_field(e, "ERRNO"), "95");
	assert_string_equal(log_entry_field(e, "VM_PRESSURE_SOME_AVG10"),
			    "0.01");
	/* Percentages print as "%.2f" would, on the kernel's two-decimal
	 * values and on any other. */
	for (int k = 0; k < 4000; k++) {
		double v = k < 2000 ? k * 0.05 : (k - 2000) * 0.0123457 - 3;
		char want[LOG_VALUE_MAX];

		if (k == 3999)
			v = 1e12 + 0.125;
		log_memory_clear();
		log_field_percent(&f[0], "PSI_SOME_AVG10", v);
		log_send(LOG_INFO, MSGID_NONE, f, 1, "pct");
		snprintf(want, sizeof(want), "%.2f", v);
		e = log_memory_get(0);
		assert_non_null(e);
		assert_string_equal(log_entry_field(e, "PSI_SOME_AVG10"), want);
	}
}

static void test_errno_and_levels(void **state)
{
	const struct log_entry *e;

	(void)state;
	assert_int_equal(log_error_errno(-ENOENT, "cannot open %s", "x"),
			 -ENOENT);
	e = log_memory_get(0);
	assert_int_equal(e->priority, LOG_ERR);
	assert_string_equal(e->message, "cannot open x: No such file or "
					"directory");
	assert_string_equal(log_entry_field(e, "ERRNO"), "2");
	assert_int_equal(log_info("plain"), 0);
	assert_int_equal(log_memory_count(), 2);
	/* Debug is below the default level: dropped. */
	log_debug("noise");
	assert_int_equal(log_memory_count(), 2);
	log_set_max_level(LOG_DEBUG);
	log_debug("noise");
	assert_int_equal(log_memory_count(), 3);
	log_set_max_level(LOG_WARNING);
	log_info("dropped");
	assert_int_equal(log_memory_count(), 3);
}

static void test_auto_detects_journal(void **state)
{
	char buf[64];
	struct stat st;

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	assert_int_equal(log_open(LOG_TARGET_AUTO), LOG_TARGET_JOURNAL);
	/* Inherited from a parent whose stderr was the journal, but ours
	 * is something else now. */
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", buf, 1);
	assert_int_equal(log_open(LOG_TARGET_AUTO), LOG_TARGET_STDERR);
	setenv("JOURNAL_STREAM", "garbage", 1);
	assert_int_equal(log_open(LOG_TARGET_AUTO), LOG_TARGET_STDERR);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(log_open(LOG_TARGET_AUTO), LOG_TARGET_STDERR);
	assert_int_equal(log_open(LOG_TARGET_MEMORY), LOG_TARGET_MEMORY);
}

/* ---- the daemon's entries --------------------------------------------- */

static struct balancer *start(struct fake_tree *t)
{
	struct balancer_options o = {
		.root = t->root,
		.config_path = t->config,
	};
	struct balancer *b = NULL;

	assert_int_equal(balancer_new(&o, &b), 0);
	return b;
}

static const struct log_entry *find(enum log_msgid id, const char *vm)
{
	for (size_t i = 0; i < log_memory_count(); i++) {
		const struct log_entry *e = log_memory_get(i);
		const char *v;

		if (e->msgid != id)
			continue;
		v = log_entry_field(e, "VM");
		if (!vm || (v && strcmp(v, vm) == 0))
			return e;
	}
	return NULL;
}

static void test_daemon_entries(void **state)
{
	static const char *const action_fields[] = {
		"VM",
		"POLICY",
		"ACTION",
		"BYTES_REQUESTED",
		"BYTES_DONE",
		"REASON",
		"MODE",
		"PSI_SOME_AVG10",
		"PSI_FULL_AVG10",
		"MEM_AVAILABLE",
		"VM_PRESSURE_SOME_AVG10",
		"DRY_RUN",
	};
	struct fake_tree t;
	const struct log_entry *e;
	struct balancer *b;
	usec_t now = 1000 * SEC;

	(void)state;
	/* Tight: 1 GiB of 16 GiB available, under the 15% watermark. */
	fake_tree_create(&t, 16 * GiB, 1 * GiB);
	fake_policy(&t, "50-test.json", good_policy);
	fake_vm_add(&t, "batch-1", 4 * GiB, 4 * GiB);
	fake_vm_add(&t, "stray", 1 * GiB, 0);
	b = start(&t);

	e = find(MSGID_DRIVER_ABSENT, NULL);
	assert_non_null(e);
	assert_int_equal(e->priority, LOG_INFO);

	assert_int_equal(balancer_tick_at(b, now), 0);
	e = find(MSGID_VM_APPEARED, "batch-1");
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "CGROUP"),
			    "machine.slice/batch-1.scope");
	e = find(MSGID_VM_UNMATCHED, "stray");
	assert_non_null(e);
	assert_int_equal(e->priority, LOG_WARNING);
	assert_null(find(MSGID_VM_UNMATCHED, "batch-1"));

	e = find(MSGID_MODE_CHANGE, NULL);
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "MODE"), "tight");
	assert_string_equal(log_entry_field(e, "PREVIOUS_MODE"), "none");
	assert_non_null(log_entry_field(e, "REASON"));
	assert_string_equal(log_entry_field(e, "MEM_AVAILABLE"), "1073741824");

	e = find(MSGID_ACTION, "batch-1");
	assert_non_null(e);
	for (size_t i = 0; i < sizeof(action_fields) / sizeof(*action_fields);
	     i++)
		assert_non_null(log_entry_field(e, action_fields[i]));
	assert_string_equal(log_entry_field(e, "POLICY"), "batch");
	assert_string_equal(log_entry_field(e, "ACTION"), "reclaim");
	assert_string_equal(log_entry_field(e, "MODE"), "tight");
	assert_string_equal(log_entry_field(e, "DRY_RUN"), "0");
	assert_string_equal(log_entry_field(e, "MEM_AVAILABLE"), "1073741824");
	assert_string_equal(log_entry_field(e, "BYTES_DONE"),
			    log_entry_field(e, "BYTES_REQUESTED"));
	assert_non_null(strstr(e->message, "batch-1 reclaim "));
	assert_non_null(strstr(e->message, "mode=tight: "));
	/* The unmatched VM is left alone. */
	assert_null(find(MSGID_ACTION, "stray"));
	/* ... and said so only once. */
	log_memory_clear();
	assert_int_equal(balancer_tick_at(b, now + 1 * SEC), 0);
	assert_null(find(MSGID_VM_UNMATCHED, "stray"));
	assert_null(find(MSGID_MODE_CHANGE, NULL));

	/* A summary once a minute. */
	assert_int_equal(balancer_tick_at(b, now + 62 * SEC), 0);
	e = find(MSGID_SUMMARY, NULL);
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "MODE"), "tight");
	assert_string_equal(log_entry_field(e, "VMS"), "2");
	assert_non_null(log_entry_field(e, "RECLAIMED_TOTAL"));
	assert_non_null(strstr(e->message, "mode tight, 2 VMs"));

	/* Vanished. */
	log_memory_clear();
	fake_vm_remove(&t, "stray");
	assert_int_equal(balancer_tick_at(b, now + 63 * SEC), 0);
	e = find(MSGID_VM_VANISHED, "stray");
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "CGROUP"),
			    "machine.slice/stray.scope");

	/* Reload: failed, then ok. */
	log_memory_clear();
	fake_policy(&t, "60-bad.json", "{\"classes\": [{\"name\": 3}]}\n");
	assert_int_equal(balancer_reload(b), -EINVAL);
	e = find(MSGID_RELOAD_FAILED, NULL);
	assert_non_null(e);
	assert_int_equal(e->priority, LOG_ERR);
	assert_string_equal(log_entry_field(e, "POLICY_DIR"), t.policy_dir);
	assert_non_null(log_entry_field(e, "ERRORS"));
	/* Each error is an entry of its own, naming the file. */
	assert_non_null(strstr(log_memory_get(0)->message, "60-bad.json"));
	log_memory_clear();
	fake_policy(&t, "60-bad.json",
		    "{\"classes\": [{\"name\": \"extra\", "
		    "\"match\": [\"extra-*\"]}]}\n");
	assert_int_equal(balancer_reload(b), 0);
	e = find(MSGID_RELOAD_OK, NULL);
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "CLASSES"), "2");

	balancer_free(b);
	fake_tree_destroy(&t);
}

static void test_dry_run_entry(void **state)
{
	struct balancer_options o = {0};
	struct fake_tree t;
	const struct log_entry *e;
	struct balancer *b;

	(void)state;
	fake_tree_create(&t, 16 * GiB, 1 * GiB);
	fake_policy(&t, "50-test.json", good_policy);
	fake_vm_add(&t, "batch-1", 4 * GiB, 4 * GiB);
	o.root = t.root;
	o.config_path = t.config;
	o.dry_run = true;
	assert_int_equal(balancer_new(&o, &b), 0);
	assert_int_equal(balancer_tick_at(b, 1000 * SEC), 0);
	e = find(MSGID_ACTION, "batch-1");
	assert_non_null(e);
	assert_string_equal(log_entry_field(e, "DRY_RUN"), "1");
	assert_string_equal(log_entry_field(e, "BYTES_DONE"), "0");
	assert_non_null(strstr(e->message, "(dry run)"));
	assert_string_equal(fake_vm_read(&t, "batch-1", "memory.reclaim"), "");
	balancer_free(b);
	fake_tree_destroy(&t);
}

static int gone(const char *path, const char *data, void *userdata)
{
	(void)path;
	(void)data;
	(void)userdata;
	return -ENOENT;
}

static int busy(const char *path, const char *data, void *userdata)
{
	(void)path;
	(void)data;
	(void)userdata;
	return -EBUSY;
}

/* A VM gone between reading and acting is not an error; EBUSY is. */
static void test_failed_and_gone_entries(void **state)
{
	struct balancer_options o = {0};
	struct fake_tree t;
	const struct log_entry *e;
	struct balancer *b;

	(void)state;
	fake_tree_create(&t, 16 * GiB, 1 * GiB);
	fake_policy(&t, "50-test.json", good_policy);
	fake_vm_add(&t, "batch-1", 4 * GiB, 4 * GiB);
	o.root = t.root;
	o.config_path = t.config;
	o.write = gone;
	assert_int_equal(balancer_new(&o, &b), 0);
	assert_int_equal(balancer_tick_at(b, 1000 * SEC), 0);
	e = find(MSGID_ACTION, "batch-1");
	assert_non_null(e);
	assert_int_equal(e->priority, LOG_INFO);
	assert_non_null(strstr(e->message, "(skipped: VM gone)"));
	assert_string_equal(log_entry_field(e, "ERRNO"), "2");
	assert_int_equal(balancer_totals(b)->errors, 0);
	balancer_free(b);

	log_memory_clear();
	o.write = busy;
	assert_int_equal(balancer_new(&o, &b), 0);
	assert_int_equal(balancer_tick_at(b, 1000 * SEC), 0);
	e = find(MSGID_ACTION, "batch-1");
	assert_non_null(e);
	assert_int_equal(e->priority, LOG_WARNING);
	assert_non_null(
		strstr(e->message, "(failed: Device or resource busy)"));
	assert_string_equal(log_entry_field(e, "ERRNO"), "16");
	assert_string_equal(log_entry_field(e, "BYTES_DONE"), "0");
	assert_int_equal(balancer_totals(b)->errors, 1);
	balancer_free(b);
	fake_tree_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_msgids_fixed_and_unique),
		T(test_target_names),
		T(test_send_fields),
		T(test_errno_and_levels),
		T(test_journal_sink_fields),
		T(test_typed_fields_in_memory),
		T(test_auto_detects_journal),
		T(test_daemon_entries),
		T(test_dry_run_entry),
		T(test_failed_and_gone_entries),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
