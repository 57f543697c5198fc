// SPDX-License-Identifier: GPL-2.0
/*
 * settle_action(): where an action's result goes, table by table. Each
 * row settles one action on a VM whose decide() state asked for it, and
 * checks every place the result must reach: decide()'s state (bucket
 * refund, restorable), the totals, the decision ring, the "read limits
 * back" flag, the STATUS= line and the journal.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "settle.h"

#define M   (1ULL << 20)
#define SEC USEC_PER_SEC

struct row {
	const char *name;
	enum action_kind kind;
	uint64_t asked;
	struct act_result res;
	/* expected */
	uint64_t reclaimed, paged_out, prefaulted; /* totals */
	uint64_t errors;
	uint64_t budget;     /* decide's bucket after the refund */
	uint64_t restorable; /* decide's restorable bytes after */
	bool limits_written;
	const char *last_action;
	const char *journal; /* substring of the MSGID_ACTION message */
	int priority;
};

/* decide()'s state before each row: 10M left in a 64M bucket, @asked
 * pending, 100M restorable. */
#define BUDGET	   (10 * M)
#define RESTORABLE (100 * M)

static const struct row rows[] = {
	{"reclaim done in full: counted, restorable, nothing refunded",
	 ACTION_RECLAIM,
	 32 * M,
	 {.bytes_done = 32 * M},
	 .reclaimed = 32 * M,
	 .budget = BUDGET,
	 .restorable = RESTORABLE + 32 * M,
	 .last_action = "vm1 reclaim 32M",
	 .journal = "vm1 reclaim 32M (done 32M)",
	 .priority = LOG_INFO},
	{"reclaim partial (EAGAIN): what was not done goes back in the bucket",
	 ACTION_RECLAIM,
	 32 * M,
	 {.bytes_done = 8 * M, .partial = true},
	 .reclaimed = 8 * M,
	 .budget = BUDGET + 24 * M,
	 .restorable = RESTORABLE + 8 * M,
	 .last_action = "vm1 reclaim 32M",
	 .journal = "(partial: done 8M)",
	 .priority = LOG_INFO},
	{"reclaim failed: an error, all refunded",
	 ACTION_RECLAIM,
	 32 * M,
	 {.error = -EIO},
	 .errors = 1,
	 .budget = BUDGET + 32 * M,
	 .restorable = RESTORABLE,
	 .last_action = "vm1 reclaim 32M",
	 .journal = "(failed: Input/output error)",
	 .priority = LOG_WARNING},
	{"the VM went away: not an error",
	 ACTION_RECLAIM,
	 32 * M,
	 {.error = -ENOENT},
	 .budget = BUDGET + 32 * M,
	 .restorable = RESTORABLE,
	 .last_action = "vm1 reclaim 32M",
	 .journal = "(skipped: VM gone)",
	 .priority = LOG_INFO},
	{"dry run: decide's state untouched, the record says so",
	 ACTION_RECLAIM,
	 32 * M,
	 {.dry_run = true},
	 .budget = BUDGET,
	 .restorable = RESTORABLE,
	 .last_action = "vm1 reclaim 32M",
	 .journal = "(dry run)",
	 .priority = LOG_INFO},
	{"pageout: counted as paged out, restorable",
	 ACTION_PAGEOUT,
	 16 * M,
	 {.bytes_done = 16 * M, .bytes_advised = 16 * M},
	 .paged_out = 16 * M,
	 .budget = BUDGET,
	 .restorable = RESTORABLE + 16 * M,
	 .last_action = "vm1 pageout 16M",
	 .journal = "vm1 pageout 16M (done 16M)",
	 .priority = LOG_INFO},
	{"pageout partly resident: partial, the rest refunded",
	 ACTION_PAGEOUT,
	 16 * M,
	 {.bytes_done = 4 * M, .bytes_advised = 16 * M, .partial = true},
	 .paged_out = 4 * M,
	 .budget = BUDGET + 12 * M,
	 .restorable = RESTORABLE + 4 * M,
	 .last_action = "vm1 pageout 16M",
	 .journal = "(partial: done 4M of 16M advised, the rest stayed "
		    "resident)",
	 .priority = LOG_INFO},
	{"prefault: no longer restorable",
	 ACTION_PREFAULT,
	 64 * M,
	 {.bytes_done = 40 * M},
	 .prefaulted = 40 * M,
	 .budget = BUDGET,
	 .restorable = RESTORABLE - 40 * M,
	 .last_action = "vm1 prefault 64M",
	 .journal = "vm1 prefault 64M (done 40M)",
	 .priority = LOG_INFO},
	{"memory.high set: read back next tick",
	 ACTION_SET_HIGH,
	 1024 * M,
	 {.bytes_done = 1024 * M},
	 .budget = BUDGET,
	 .restorable = RESTORABLE,
	 .limits_written = true,
	 .last_action = "vm1 set_high 1G",
	 .journal = "vm1 set_high 1G",
	 .priority = LOG_INFO},
	{"memory.high relaxed to max",
	 ACTION_SET_HIGH,
	 MEMORY_UNLIMITED,
	 {.bytes_done = 0},
	 .budget = BUDGET,
	 .restorable = RESTORABLE,
	 .limits_written = true,
	 .last_action = "vm1 set_high max",
	 .journal = "vm1 set_high max",
	 .priority = LOG_INFO},
	{"memory.low set: read back next tick",
	 ACTION_SET_LOW,
	 512 * M,
	 {.bytes_done = 512 * M},
	 .budget = BUDGET,
	 .restorable = RESTORABLE,
	 .limits_written = true,
	 .last_action = "vm1 set_low 512M",
	 .journal = "vm1 set_low 512M",
	 .priority = LOG_INFO},
};

static int setup(void **state)
{
	(void)state;
	log_open(LOG_TARGET_MEMORY);
	return 0;
}

static void run_row(const struct row *w)
{
	struct vm_state vs = {.name = "vm1",
			      .bucket_cap = 64 * M,
			      .reclaim_budget = BUDGET,
			      .restorable = RESTORABLE};
	struct balancer_state bs = {.vms = &vs, .n_vms = 1, .cap_vms = 1};
	struct state_totals totals = {0};
	struct host_signals host = {.mem_available = 3ULL << 30};
	struct vm_signals v = {.name = "vm1"};
	struct decision_ring ring = {0};
	char *json = strdup("[]");
	bool limits = false;
	char last[64] = "";
	struct settle_tick t = {.state = &bs,
				.totals = &totals,
				.host = &host,
				.now = 100 * SEC,
				.wall = 1700000000,
				.last_action = last,
				.last_action_len = sizeof(last)};
	struct settle_vm vm = {.signals = &v,
			       .class_name = "web",
			       .recent = &ring,
			       .recent_json = &json,
			       .limits_written = &limits};
	struct action a = {.kind = w->kind,
			   .bytes = w->asked,
			   .mode = MODE_PROACTIVE,
			   .reason = "because"};
	const struct decision_record *rec;
	const struct log_entry *e;

	if (w->kind == ACTION_RECLAIM)
		vs.pending_reclaim = w->asked;
	if (w->kind == ACTION_PAGEOUT)
		vs.pending_pageout = w->asked;
	log_memory_clear();
	settle_action(&t, &vm, &a, &w->res);

	print_message("%s\n", w->name);
	assert_int_equal(totals.actions, 1);
	assert_int_equal(totals.errors, w->errors);
	assert_int_equal(totals.reclaimed, w->reclaimed);
	assert_int_equal(totals.paged_out, w->paged_out);
	assert_int_equal(totals.prefaulted, w->prefaulted);
	assert_int_equal(vs.reclaim_budget, w->budget);
	assert_int_equal(vs.restorable, w->restorable);
	assert_int_equal(limits, w->limits_written);
	assert_string_equal(last, w->last_action);
	/* the ring holds it, and the JSON cache of the ring is dropped */
	assert_int_equal(ring.n, 1);
	rec = decision_ring_get(&ring, 0);
	assert_int_equal(rec->kind, w->kind);
	assert_int_equal(rec->bytes_requested, w->asked);
	assert_int_equal(rec->bytes_done, w->res.bytes_done);
	assert_int_equal(rec->error, w->res.error);
	assert_int_equal(rec->partial, w->res.partial);
	assert_int_equal(rec->dry_run, w->res.dry_run);
	assert_int_equal(rec->when, 1700000000);
	assert_string_equal(rec->reason, "because");
	assert_null(json);
	/* one journal entry, with its fields */
	e = log_memory_find(MSGID_ACTION, 0, NULL);
	assert_non_null(e);
	assert_int_equal(e->priority, w->priority);
	assert_non_null(strstr(e->message, w->journal));
	assert_string_equal(log_entry_field(e, "POLICY"), "web");
	assert_string_equal(log_entry_field(e, "VM"), "vm1");
	assert_string_equal(log_entry_field(e, "MEM_AVAILABLE"), "3221225472");
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

/* A VM decide() no longer knows (forgotten) is settled all the same,
 * with its state left alone; optional outputs may be absent. */
static void test_unknown_vm_and_no_outputs(void **state)
{
	struct balancer_state bs = {0};
	struct state_totals totals = {0};
	struct host_signals host = {0};
	struct vm_signals v = {.name = "gone"};
	struct decision_ring ring = {0};
	struct settle_tick t = {.state = &bs, .totals = &totals, .host = &host};
	struct settle_vm vm = {.signals = &v, .recent = &ring};
	struct action a = {.kind = ACTION_SET_LOW, .bytes = M};
	struct act_result res = {.bytes_done = M};

	(void)state;
	settle_action(&t, &vm, &a, &res);
	assert_int_equal(totals.actions, 1);
	assert_int_equal(ring.n, 1);
	assert_int_equal(bs.n_vms, 0);
}

/* A source that records what it was told to settle. */
static size_t fake_settled;
static uint64_t fake_taken_bytes;

static void fake_settle(void *state, const struct vm_signals *v,
			const struct action *a, const struct act_result *res)
{
	(void)state;
	(void)v;
	(void)a;
	fake_settled++;
	for (size_t i = 0; i < res->n_taken; i++)
		fake_taken_bytes += res->taken[i].iov_len;
}

static bool fake_serves(void *state, const char *cgroup)
{
	(void)cgroup;
	return state != NULL;
}

static const struct cold_source_ops fake_source = {
	.name = "fake",
	.serves = fake_serves,
	.settle = fake_settle,
};

/* What a pageout took reaches the VM's source when it is settled (and
 * only then: act does not touch the source's pages); a dry run does
 * not. */
static void test_taken_reaches_the_source(void **state)
{
	struct vm_state vs = {.name = "vm1", .bucket_cap = 64 * M};
	struct balancer_state bs = {.vms = &vs, .n_vms = 1, .cap_vms = 1};
	struct state_totals totals = {0};
	struct host_signals host = {0};
	struct vm_signals v = {.name = "vm1"};
	struct decision_ring ring = {0};
	struct cold_source src = {&fake_source, &vs};
	struct settle_tick t = {.state = &bs, .totals = &totals, .host = &host};
	struct settle_vm vm = {.signals = &v, .recent = &ring, .cold = &src};
	struct action a = {.kind = ACTION_PAGEOUT, .bytes = 16 * M};
	struct iovec taken[2] = {{(void *)0x10000, 8 * M},
				 {(void *)0x2000000, 4 * M}};
	struct act_result res = {
		.bytes_done = 12 * M, .taken = taken, .n_taken = 2};
	struct act_result dry = {.dry_run = true};

	(void)state;
	fake_settled = 0;
	fake_taken_bytes = 0;
	settle_action(&t, &vm, &a, &res);
	assert_int_equal(fake_settled, 1);
	assert_int_equal(fake_taken_bytes, 12 * M);
	settle_action(&t, &vm, &a, &dry);
	assert_int_equal(fake_settled, 1);
	/* no source: settled all the same */
	vm.cold = NULL;
	settle_action(&t, &vm, &a, &res);
	assert_int_equal(totals.actions, 3);
}

/* The first source that serves a VM is its source; "none" serves every
 * VM, also when no source has its state. */
static void test_cold_source_choice(void **state)
{
	void *states[COLD_SOURCES_MAX] = {0};
	struct cold_source src;

	(void)state;
	assert_true(cold_source_count >= 2);
	assert_ptr_equal(cold_source_table[cold_source_count - 1],
			 &cold_source_none);
	src = cold_source_choose(states, "machine.slice/vm1.scope");
	assert_ptr_equal(src.ops, &cold_source_none);
	assert_string_equal(cold_source_name(&src), "none");
	assert_string_equal(cold_source_name(NULL), "none");
	/* none cannot tell what is cold: no give_back, so PAGEOUT is
	 * -EOPNOTSUPP; it can fault back */
	assert_null(cold_source_none.give_back);
	assert_non_null(cold_source_none.fault_back);
	assert_non_null(cold_source_ovcmem.give_back);
	assert_false(cold_source_ovcmem.serves(NULL, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_unknown_vm_and_no_outputs),
		cmocka_unit_test(test_taken_reaches_the_source),
		cmocka_unit_test(test_cold_source_choice),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
