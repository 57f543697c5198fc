/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake host for the daemon's tests: a mkdtemp directory holding
 * proc/meminfo, proc/pressure/memory and sys/fs/cgroup/machine.slice/
 * vmN.scope/{memory.current, memory.stat, memory.pressure, memory.events,
 * memory.max, memory.reclaim, ...}, plus a config file, a policy
 * directory and a state file path, ready for balancer_new(--root).
 *
 * memory.reclaim and friends are regular files: a test reads back what
 * the daemon wrote. Every helper aborts the test on failure (assert).
 */
#ifndef TESTS_UNIT_FAKE_TREE_H
#define TESTS_UNIT_FAKE_TREE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct fake_tree {
	char root[256];	      /* the fake "/" */
	char config[512];     /* root/etc/balancerd.json */
	char policy_dir[512]; /* root/etc/policies.d */
	char state_file[512]; /* root/run/state.json */
};

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

/* Create the tree with a host of @total bytes, @avail available, no
 * pressure, the config and an empty policy directory. */
void fake_tree_create(struct fake_tree *t, uint64_t total, uint64_t avail);
/* rm -rf the whole tree. */
void fake_tree_destroy(struct fake_tree *t);

void fake_host(struct fake_tree *t, uint64_t total, uint64_t avail,
	       double psi_some10, double psi_full10);

/* A VM scope machine.slice/<name>.scope with @current bytes in use and
 * memory.max @max (0: "max"). */
void fake_vm_add(struct fake_tree *t, const char *name, uint64_t current,
		 uint64_t max);
void fake_vm_remove(struct fake_tree *t, const char *name);
void fake_vm_current(struct fake_tree *t, const char *name, uint64_t current);
void fake_vm_pressure(struct fake_tree *t, const char *name, double some10,
		      double full10);
/* Write @text to the VM's cgroup file @file. */
void fake_vm_write(struct fake_tree *t, const char *name, const char *file,
		   const char *text);
/* The contents of the VM's @file (static buffer, "" if missing), and
 * whether it exists. */
const char *fake_vm_read(struct fake_tree *t, const char *name,
			 const char *file);
/* Empty the VM's memory.reclaim, memory.high and memory.low. */
void fake_vm_clear_writes(struct fake_tree *t, const char *name);

/* Write policy file @file (e.g. "50-test.json") into the policy dir. */
void fake_policy(struct fake_tree *t, const char *file, const char *json);

/* The contents of @path (a static buffer of 64 KiB, cut there). */
const char *fake_slurp(const char *path);

/* Write @text to @path, creating parent directories. */
void fake_write(const char *path, const char *text);
/* mkdir -p: every missing directory of @path, @path included. */
void fake_mkdir_p(const char *path);
/* rm -rf @path; returns nftw()'s result. */
int fake_rm_rf(const char *path);

#endif /* TESTS_UNIT_FAKE_TREE_H */
