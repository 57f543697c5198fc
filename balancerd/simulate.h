/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Simulate: decide() in a closed loop against a model of guests.
 *
 * Replay (replay.h) is open-loop: it cannot say what a policy would have
 * done to the guests. Here each VM is a model (docs/simulate.md): its
 * pages are hot or cold with an idle age, reclaim moves the oldest out to
 * zram, hot pages that are out refault at a fixed cost, and the stall
 * they cost comes back as the VM's PSI in the next tick's signals. It is
 * a model, not a measurement: no guest kernel, no THP, no vCPU scheduling.
 *
 * sim_run() is pure (no I/O, no clock): the same scenario and policy give
 * the same result, bit for bit. Loading (simulate_scenario.c) and the
 * report (simulate_print.c) are apart.
 */
#ifndef BALANCERD_SIMULATE_H
#define BALANCERD_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decide.h"
#include "json_check.h"
#include "policy.h"
#include "units.h"

/*
 * A VM is modelled in units of whole pages, at most this many units per
 * VM (a 256 MiB VM is one page a unit, a 64 GiB one 256 pages): a tick
 * costs O(units), so an hour of a large host stays under a second.
 */
#define SIM_UNITS_MAX  65536
#define SIM_PHASES_MAX 64
#define SIM_VMS_MAX    256
/* The times the report gives resident memory and cold reclaimed at. */
#define SIM_MARKS_MAX 12

enum sim_access {
	/* Each hot page touched once every @every, in a fixed sweep: no
	 * page of the hot set is ever idle longer than that. */
	SIM_ACCESS_SWEEP = 0,
	/* @touches_per_sec touches spread uniformly at random over the
	 * hot set (a seeded generator): a hot page sometimes sits idle far
	 * longer than the mean, as in guestsim. */
	SIM_ACCESS_RANDOM,
};

/* From @at on (since the start), the hot set is the first @hot of the
 * VM's memory, until the next phase. */
struct sim_phase {
	usec_t at;
	struct size_spec hot; /* bytes, or percent of the VM's size */
};

struct sim_vm_spec {
	char name[VM_NAME_MAX];
	uint64_t size;
	struct sim_phase phases[SIM_PHASES_MAX]; /* by @at, increasing */
	size_t n_phases;
	enum sim_access access;
	usec_t every;		/* SWEEP */
	double touches_per_sec; /* RANDOM */
	usec_t refault_cost;	/* vCPU stall per page faulted back */
	double zram_ratio;	/* stored bytes / compressed bytes, >= 1 */
	bool ovcmem; /* idle-age histograms (coldmap); else cgroup only */
	bool filled; /* every page written at start (the guest's fill) */
	/* The fill takes this long (0: done before the first tick): pages
	 * written in order, and no touches of the hot set before its end. */
	usec_t fill;
};

struct sim_scenario {
	char file[256];
	uint64_t mem_total;
	uint64_t swap_total; /* zram's capacity, in stored bytes */
	uint64_t host_used;  /* host memory not in any VM */
	/* Bytes a second one action moves (0: no limit): at most this
	 * times the interval each; the rest is reported not done. */
	uint64_t act_rate;
	usec_t interval, duration;
	uint64_t seed;
	struct sim_vm_spec *vms;
	size_t n_vms;
};

/* Scenario defaults, documented in docs/simulate.md. */
/* Ticks a run may have, whether the scenario or --seconds sets its
 * length: ages are kept as 32-bit ticks. */
#define SIM_TICKS_MAX		 10000000ULL
#define SIM_DEFAULT_INTERVAL	 USEC_PER_SEC
#define SIM_DEFAULT_DURATION	 (180 * USEC_PER_SEC)
#define SIM_DEFAULT_ZRAM_RATIO	 3.0
#define SIM_DEFAULT_REFAULT_COST 100 /* usec: a zram read and the fault */

/*
 * Load a scenario from @text (@file names it in errors) or from the file
 * @path. Returns 0 and fills @out, or -EINVAL with every problem appended
 * to @errs as "FILE:LINE:COL: key: what is wrong" (@out then untouched),
 * or another negative errno (also in @errs).
 */
int sim_scenario_load_string(const char *text, const char *file,
			     struct sim_scenario *out,
			     struct policy_errors *errs);
int sim_scenario_load_file(const char *path, struct sim_scenario *out,
			   struct policy_errors *errs);
void sim_scenario_free(struct sim_scenario *s);

/* What happened to one VM. Pages are 4 KiB; bytes are whole units. */
struct sim_vm_result {
	char name[VM_NAME_MAX];
	char class_name[POLICY_NAME_MAX]; /* "" when no class matched */
	uint64_t size;
	bool ovcmem;
	/* At each of the result's marks: resident bytes, the cold memory
	 * (not in the hot set then) and how much of it is out. */
	uint64_t resident[SIM_MARKS_MAX];
	uint64_t cold[SIM_MARKS_MAX], cold_out[SIM_MARKS_MAX];
	uint64_t hot_out_max; /* most hot bytes out at a tick's end */
	/* Major faults: pages of the hot set touched while out. */
	uint64_t refaults, refaults_after60;
	double stall_sec;    /* refaults x refault_cost */
	double psi_some_max; /* highest avg10 fed to decide(), percent */
	uint64_t asked_reclaim, asked_prefault; /* decide() asked */
	uint64_t pageout_done, reclaim_done;	/* and was done */
	uint64_t prefault_done;
	uint64_t high_reclaimed, host_reclaimed; /* memory.high, the host */
	uint64_t restores; /* PREFAULTs that brought something back */
	uint64_t backoffs; /* backoffs started */
	unsigned int cold_scale_max;
	/* The last phase that grew the hot set after the start (0: none),
	 * when its first restore ended, and the refaults in 30 s after. */
	usec_t spike_at, spike_restore_at;
	bool spike_restored;
	uint64_t spike_refaults30;
};

struct sim_result {
	usec_t interval, duration;
	uint64_t ticks, decisions;
	usec_t marks[SIM_MARKS_MAX];
	size_t n_marks;
	usec_t mode_time[_MODE_MAX];
	uint64_t mem_available_min;
	uint64_t zram_stored_max, zram_compressed_max;
	uint64_t oom_ticks; /* ticks the host could not find the memory */
	struct sim_vm_result *vms;
	size_t n_vms;
};

/*
 * Run @s through decide() under @p, for @s->duration (@duration > 0
 * overrides it). Returns 0 and fills @ret (free with sim_result_free),
 * or -ENOMEM.
 */
int sim_run(const struct sim_scenario *s, const struct policy *p,
	    usec_t duration, struct sim_result *ret);
void sim_result_free(struct sim_result *r);

/* The report, for people or as one JSON object (@json); @scenario and
 * @policy name the inputs. */
void sim_print(const struct sim_result *r, const char *scenario,
	       const char *policy, FILE *out, bool json);

#endif /* BALANCERD_SIMULATE_H */
