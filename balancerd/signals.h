/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Signals: what one tick knows about the host and each VM.
 *
 * Two layers, kept apart as systemd-oomd does:
 *   parse_*   pure functions from file text to structs (tested on fixtures)
 *   *_acquire read files under a root directory ("/" in production, a
 *             fixture tree in tests) and call the parsers
 */
#ifndef BALANCERD_SIGNALS_H
#define BALANCERD_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "discover.h"
#include "units.h"

/* "no limit" in memory.max / memory.high */
#define MEMORY_UNLIMITED UINT64_MAX

struct psi_line {
	bool present;
	double avg10, avg60, avg300; /* percent */
	uint64_t total_us;	     /* cumulative stall */
};

struct psi {
	struct psi_line some, full;
};

struct host_signals {
	uint64_t mem_total, mem_available;
	uint64_t swap_total, swap_free;
	struct psi psi;
};

/* Idle-age buckets of a VM's guest pages (from ovcmem scans). */
#define IDLE_BUCKETS 6
/*
 * Inclusive upper bounds in ticks idle for buckets 0..4 (bucket b holds
 * ages in (bound[b-1], bound[b]]); bucket 5 is older. Age 0 = accessed in
 * the latest scan.
 */
extern const unsigned int idle_bucket_ticks[IDLE_BUCKETS - 1];

struct ovcmem_signals {
	bool present;
	/* The ovcmem partition (ids start at 1), or 0 when the view comes
	 * from another cold source (the kernel's MGLRU ages). */
	uint64_t partition_id;
	uint64_t pages, pages_mapped;
	/* Counter deltas since the previous tick (0 on the first). */
	uint64_t d_intercepts, d_refaults, d_pages_invalidated;
	uint64_t idle_pages[IDLE_BUCKETS]; /* mapped pages by idle age */
	/*
	 * Pages idle at least the VM's class cold_age, counted exactly from
	 * the coldmap by the caller (coldmap_count_older); when !cold_valid,
	 * decide() estimates it from idle_pages[] instead.
	 */
	bool cold_valid;
	uint64_t cold_pages;
};

struct vm_signals {
	char name[VM_NAME_MAX];	      /* decoded, e.g. "vm1" */
	char cgroup[CGROUP_PATH_MAX]; /* relative to the cgroup root */
	pid_t pid;		      /* a process of the VM, 0 if unknown */
	bool vanished;		      /* cgroup went away mid-read */

	uint64_t memory_current, memory_max, memory_high, memory_low;
	uint64_t swap_current;
	/* memory.stat */
	uint64_t anon, file, zswap, zswapped;
	uint64_t workingset_refault_anon, workingset_refault_file;
	uint64_t pgscan, pgsteal, pgmajfault;
	/* Deltas since the previous tick (0 on the first). */
	uint64_t d_refault_anon, d_refault_file, d_pgmajfault;
	uint64_t d_psi_some_us, d_psi_full_us;

	struct psi psi;
	/* memory.events */
	uint64_t events_low, events_high, events_max, events_oom,
		events_oom_kill;
	/* Pages of the VM's process that KSM merged (ksm.h), read with the
	 * slow files; !ksm_known when the kernel or the pid cannot say. */
	bool ksm_known;
	uint64_t ksm_merging_pages;

	struct ovcmem_signals ovcmem;
};

/*
 * Parsers. Each returns 0, or -EINVAL for text it cannot make sense of
 * (garbage, truncated lines), or -ERANGE for a number over 64 bits; on
 * error the output may be partly written. Keys they do not know are skipped, so
 * a newer kernel's extra lines do not break them; keys they know but that are
 * missing stay 0 (memory.stat differs between 6.1 and 6.12).
 */
int parse_psi(const char *text, struct psi *ret);
int parse_meminfo(const char *text, struct host_signals *ret);
int parse_memory_stat(const char *text, struct vm_signals *ret);
int parse_memory_events(const char *text, struct vm_signals *ret);
/* "max" -> MEMORY_UNLIMITED, else a decimal byte count. */
int parse_memory_value(const char *text, uint64_t *ret);

/*
 * The text of cgroup.procs: its first pid (a VM's scope holds the VMM,
 * first or alone), or 0 when the cgroup has no process or the first line
 * is not one pid (cut short, garbage). Pure.
 */
pid_t parse_cgroup_procs(const char *text);

/*
 * Read /proc/meminfo and /proc/pressure/memory below @root.
 * Returns 0 or a negative errno.
 */
int host_signals_acquire(const char *root, struct host_signals *ret);

/*
 * Skip the slow files, those that change only when someone writes them
 * or rarely (memory.max/high/low, swap.current, memory.events, the pid):
 * keep @prev's values. For daemons that refresh them every few ticks.
 * Without @prev everything is read.
 */
#define VM_ACQUIRE_SKIP_SLOW (1U << 0)
/*
 * Skip memory.stat too (keep @prev's values; their deltas are 0) unless
 * something moved since @prev: memory.pressure's stall total, or
 * memory.current grew by VM_STAT_GROWTH (pages faulted in: refaults are
 * what memory.stat is read for). Only with vm_files, whose stat_age lets
 * callers bound how long it is skipped.
 */
#define VM_ACQUIRE_SKIP_STAT (1U << 1)
/* 1 MiB: decide()'s refault rate that matters (256 faults a second) over
 * a one-second tick. */
#define VM_STAT_GROWTH (1ULL << 20)

/*
 * What the next read of a VM needs of this one: the counters its deltas
 * are taken from, and the values that VM_ACQUIRE_* flags keep instead of
 * reading. A third of struct vm_signals (no names, no ovcmem view): a
 * daemon keeps one per VM between ticks.
 */
struct vm_prev {
	bool vanished;
	pid_t pid;
	uint64_t memory_current, memory_max, memory_high, memory_low;
	uint64_t swap_current;
	uint64_t anon, file, zswap, zswapped;
	uint64_t workingset_refault_anon, workingset_refault_file;
	uint64_t pgscan, pgsteal, pgmajfault;
	uint64_t events_low, events_high, events_max, events_oom,
		events_oom_kill;
	struct psi psi;
	bool ksm_known;
	uint64_t ksm_merging_pages;
};

/* Keep what the next read needs of @v. */
void vm_prev_keep(struct vm_prev *p, const struct vm_signals *v);

/*
 * A VM's cgroup directory and the files read most ticks, kept open
 * between ticks: one pread(2) per file instead of openat, read, close.
 * Files that cannot be kept (no descriptor left) are read as before.
 */
#define VM_FILES_KEPT 9
struct vm_files {
	int dfd;
	int fd[VM_FILES_KEPT]; /* -1: not open */
	/* Reads since memory.stat was last read (0: the latest read). */
	unsigned int stat_age;
};

void vm_files_init(struct vm_files *f);
/* Close what is open; @f is init'ed again. */
void vm_files_close(struct vm_files *f);

/*
 * Read the VM's cgroup files below @root/sys/fs/cgroup (or the configured
 * cgroup root, given relative to @root as @cgroup_root) with VM_ACQUIRE_*
 * @flags (0: every file). @prev, if not NULL, is the previous tick's
 * signals of the same VM, for the deltas and what @flags skip.
 * Returns 0; -ENOENT if the cgroup vanished (ret->vanished set, name and
 * cgroup filled), -EOPNOTSUPP if the cgroup has no memory controller,
 * or another negative errno. Optional files that are
 * absent leave their fields at the "unset" value (memory.max/high: max;
 * memory.swap.current, memory.pressure, memory.events: 0 / !present).
 * ret->pid is the first pid of the scope or of libvirt's emulator
 * sub-cgroup. ret->ovcmem is left zeroed: the ovcmem client fills it.
 *
 * Through @files, kept open (opened on first use; closed when the cgroup
 * turned out gone or unreadable, so that a new cgroup of the same name is
 * opened afresh); @files NULL: opened and closed in the call.
 */
int vm_signals_acquire_files(const char *root, const char *cgroup_root,
			     const char *cgroup, struct vm_files *files,
			     const struct vm_prev *prev, unsigned int flags,
			     struct vm_signals *ret);

#endif /* BALANCERD_SIGNALS_H */
