/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Policies: what an admin writes in /etc/balancerd/policies.d/\*.json
 * (the daemon settings, balancerd.json, are config.h's).
 *
 * Loading is the only I/O here; everything else in the daemon reads the
 * structs below and never the JSON.
 */
#ifndef BALANCERD_POLICY_H
#define BALANCERD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_check.h"
#include "units.h"

#define POLICY_NAME_MAX 64

/*
 * Resolve @spec against @reference (MemTotal for host watermarks, the VM's
 * size for class floors and ceilings). Returns @fallback when !spec->set.
 */
uint64_t size_spec_resolve(const struct size_spec *spec, uint64_t reference,
			   uint64_t fallback);

/*
 * One class of VMs; the first class whose globs match a VM's name wins.
 * Omitted keys take the defaults listed in docs/policies.md; floor,
 * ceiling, memory_high and memory_low stay !set when omitted (no floor, no
 * ceiling, not managed). Host watermarks are always set (defaults 15%, 5%,
 * 30% of MemTotal).
 */
/*
 * KSM page sharing of a VM's guest RAM ("merge"). Unset leaves it to the
 * VMM (QEMU marks guest RAM mergeable on its own unless told
 * mem-merge=off); balancerd can switch it only for VMs with an ovcmem
 * partition (OVCMEM_SET_MERGEABLE).
 */
enum policy_merge {
	POLICY_MERGE_UNSET = 0,
	POLICY_MERGE_ON,
	POLICY_MERGE_OFF,
};

struct policy_class {
	char name[POLICY_NAME_MAX];
	char **match; /* fnmatch(3) globs on the VM name */
	size_t n_match;
	int priority;		  /* higher = more important = reclaimed last */
	unsigned int shares;	  /* reclaim weight inside one priority: a VM
				   * gives up memory in inverse proportion */
	struct size_spec floor;	  /* never reclaim below (of VM size) */
	struct size_spec ceiling; /* reclaim above this even when calm */
	double pressure_target;	  /* memory.pressure some avg10, percent */
	usec_t cold_age;	  /* idle this long counts as cold */
	uint64_t max_reclaim_rate;    /* bytes per second, per VM */
	bool prefault;		      /* restore: fault memory back in */
	struct size_spec memory_high; /* manage memory.high if set */
	struct size_spec memory_low;  /* manage memory.low if set */
	enum policy_merge merge;
	/* Where the class was defined, for `balancerctl explain`. */
	char source[256];
	int source_line;
};

struct host_policy {
	struct size_spec low_watermark;	 /* MemAvailable below: tight */
	struct size_spec min_watermark;	 /* MemAvailable below: critical */
	struct size_spec high_watermark; /* MemAvailable above: restore ok */
	double psi_full_limit;		 /* host full avg10 %: critical */
};

/* The merged policy of all files in the policy directory. */
struct policy {
	struct host_policy host;
	usec_t interval;   /* steady tick */
	usec_t backoff;	   /* no reclaim after a VM's pressure crossed
			    * its target, for this long */
	double hysteresis; /* fraction, e.g. 0.1: a mode is left only
			    * when the signal is this far past the
			    * threshold that entered it */
	struct policy_class *classes;
	size_t n_classes;
};

/*
 * Load and validate policy files, merging their classes in the order
 * given (callers sort directory entries by name). At most one file may
 * carry "host" and "interval"-like global keys; the others only classes.
 *
 * Returns 0 and fills @out, or -EINVAL with every problem appended to
 * @errs (@out untouched), or another negative errno on I/O failure (also
 * described in @errs). Errors come in document order, each file's in turn.
 */
int policy_load_files(const char *const *paths, size_t n_paths,
		      struct policy *out, struct policy_errors *errs);

/* Same, from every *.json in @dir (not hidden ones) sorted by name in
 * byte order; -ENOENT (described in @errs) when there is none. */
int policy_load_dir(const char *dir, struct policy *out,
		    struct policy_errors *errs);

/*
 * Glob comparisons the loaders' class checks ("can never match",
 * duplicate names) made since the program started, each index slot
 * probed counting one: the check is linear in the globs, and tests bound
 * its work with this rather than with a clock. Any other way of
 * comparing globs there must count here too. Loaders run on one thread.
 */
extern unsigned long long policy_glob_comparisons;

/* Same, from a string (tests); @name stands in for the file name. */
int policy_load_string(const char *json, const char *name, struct policy *out,
		       struct policy_errors *errs);

void policy_free(struct policy *p);

/*
 * The class that governs VM @vm_name: the first class with a matching
 * glob, or NULL when none matches (the VM is then left alone, and the
 * daemon says so once). When @why is given, it receives a sentence such as
 * "class 'web' (policies.d/10-web.json:12): glob 'web-*' matched".
 */
const struct policy_class *policy_match(const struct policy *p,
					const char *vm_name, char *why,
					size_t why_len);

#endif /* BALANCERD_POLICY_H */
