/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event loop (loop.c): the steady timer, PSI triggers, SIGHUP
 * reload, the policy directory's and balancerctl's watches, and
 * sd_notify READY/STATUS/WATCHDOG.
 */
#ifndef BALANCERD_LOOP_H
#define BALANCERD_LOOP_H

struct balancer;
struct vm_entry;

/*
 * Run the event loop until SIGTERM/SIGINT or max_ticks: steady timer, PSI
 * triggers, SIGHUP reload, sd_notify READY/STATUS/WATCHDOG. Returns 0 on a
 * clean exit or a negative errno.
 */
int balancer_run(struct balancer *b);

/* Arm @e's memory.pressure trigger, once per entry (at most
 * MAX_VM_TRIGGERS in all). */
void psi_trigger_vm(struct balancer *b, struct vm_entry *e);
/* Watch b->policy_dir for changes (again after a reload changed it). */
int watch_policy_dir(struct balancer *b);
/* Watch the state file's directory for balancerctl's requests (again
 * after a reload changed state_file). */
int watch_publish_requests(struct balancer *b);

#endif /* BALANCERD_LOOP_H */
