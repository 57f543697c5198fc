/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Act: carry out what decide() asked for, and nothing else.
 *
 *   RECLAIM   write the byte count to <cgroup>/memory.reclaim
 *   PAGEOUT   the VM's cold source gives back what is idle at least
 *             min_idle (ovcmem: process_madvise(MADV_PAGEOUT) of the
 *             coldmap's ranges); bytes_done is what left memory.current,
 *             not what was advised
 *   PREFAULT  the VM's cold source faults back what the VM refaults
 *             (ovcmem PREFAULT; "none" and "mglru": MADV_WILLNEED of the
 *             swapped pages around where the VM refaults, refault_map.h)
 *   SET_HIGH  write memory.high ("max" for MEMORY_UNLIMITED)
 *   SET_LOW   write memory.low
 *
 * Every path is below ctx->root, so tests act on a fixture tree. With
 * ctx->dry_run nothing is written: the action is only reported.
 */
#ifndef BALANCERD_ACT_H
#define BALANCERD_ACT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "decide.h"
#include "signals.h"

struct cold_source_ops;

/*
 * Writes one cgroup file; tests replace it to play a kernel that answers
 * EAGAIN. Returns 0 or a negative errno, as write(2) would report it.
 */
typedef int (*act_write_fn)(const char *path, const char *data, void *userdata);

/* A cgroup file act keeps open for the caller (init fd to -1). */
struct act_kept_file {
	int fd;	      /* -1: opened on first use */
	bool regular; /* not cgroupfs (a fixture): truncate after writes */
};

/* Close @f's descriptor, if open. */
void act_kept_file_close(struct act_kept_file *f);

struct act_context {
	const char *root;	 /* "/" in production */
	const char *cgroup_root; /* "/sys/fs/cgroup", below root */
	bool dry_run;
	/* The VM's cold-memory source (cold_source.h): PAGEOUT gives back
	 * through it, PREFAULT faults back through it. NULL: "none". */
	const struct cold_source_ops *cold;
	void *cold_state;
	unsigned int cold_ticks; /* PAGEOUT: idle this many ticks */
	act_write_fn write;	 /* NULL: act_write_file() */
	/* The VM's memory.reclaim, kept open between ticks by the caller;
	 * NULL: opened per write. */
	struct act_kept_file *reclaim;
	void *write_userdata;
	/* Called between the slices of a large action (NULL: nothing), so
	 * that the daemon can tell the watchdog it is making progress. */
	void (*progress)(void *userdata);
	void *progress_userdata;
};

struct act_result {
	uint64_t bytes_done; /* reclaimed / faulted in / the value set */
	/* PAGEOUT: what process_madvise() accepted (bytes_done is what
	 * left memory.current; partial when under half of this). */
	uint64_t bytes_advised;
	int error;	  /* 0, or the negative errno that stopped it */
	bool partial;	  /* the kernel gave less than asked (EAGAIN) */
	bool out_of_time; /* PAGEOUT: stopped at its time budget */
	usec_t duration;  /* how long it took, monotonic */
	bool dry_run;	  /* nothing was done on purpose */
	/* PAGEOUT: the guest ranges that left (owner-mm addresses), for the
	 * source to record when the action is settled; malloc'ed, freed by
	 * act_result_release(). */
	struct iovec *taken;
	size_t n_taken;
};

/* Free what @res owns (taken). */
void act_result_release(struct act_result *res);

/* The default writer: open(O_WRONLY|O_TRUNC), one write(2), close. */
int act_write_file(const char *path, const char *data, void *userdata);

/*
 * Carry out @a on @vm. Fills @res in every case. Returns 0 when the action
 * ran to completion or partially (res->partial: EAGAIN from memory.reclaim
 * is the kernel saying "I reclaimed less", not a failure), or a negative
 * errno (also in res->error): -ENOENT when the VM's cgroup vanished,
 * -EOPNOTSUPP when the means are missing (PAGEOUT without ovcmem ranges,
 * no pid to advise), or what the kernel answered.
 */
int act_execute(const struct act_context *ctx, const struct action *a,
		const struct vm_signals *vm, struct act_result *res);

/*
 * For sources (cold_source.h). process_madvise(MADV_PAGEOUT) of @iov (the
 * VM's owner-mm ranges, oldest first; cut short in place when out of
 * time), in slices and passes within the action's time budget: fills
 * @res as a PAGEOUT result, res->taken with what left. 0 or a negative
 * errno.
 */
int act_pageout_ranges(const struct act_context *ctx,
		       const struct vm_signals *vm, struct iovec *iov, size_t n,
		       struct act_result *res);
/*
 * Restore without ovcmem (refault_map.h): a new pagemap sample of the
 * VMM's guest RAM (its large writable mappings) when the VM's refault
 * counters rose since the last, then MADV_WILLNEED of up to @bytes of the
 * swapped pages of the blocks where it refaults and of their neighbours,
 * hottest first; never the rest of the VM. res->bytes_done: what was
 * advised (0 when the VM refaults nowhere we know). -EOPNOTSUPP without a
 * pid, -ENOENT when the process is gone.
 */
int act_prefault_refaulted(const struct act_context *ctx,
			   const struct vm_signals *vm, uint64_t bytes,
			   struct act_result *res);
/*
 * A pagemap sample of @vm's guest RAM into its refault map: the baseline
 * the next refaults are seen against, and the judgement of what was
 * prefaulted. act_execute() takes one after a RECLAIM or PAGEOUT that
 * took something from a VM without ovcmem, at most every 5 s per VM
 * (REFAULT_BASELINE_SPACING). 0 or a negative errno.
 */
int act_refault_sample(const struct act_context *ctx,
		       const struct vm_signals *vm);
/* @cgroup's prefault totals so far (refault_map.h); false when no map is
 * kept for it. */
struct refault_totals;
bool act_refault_totals(const char *cgroup, struct refault_totals *ret);
/* Drop every VM's refault map (tests, exit). */
void act_refault_forget_all(void);

/*
 * One line of /proc/PID/maps ("lo-hi perms offset dev inode path"):
 * whether it is guest RAM as PAGEOUT takes it (writable, at least
 * GUEST_MAPPING_MIN, lo < hi), with its start and length. Pure.
 */
bool act_maps_line_guest_ram(const char *line, uint64_t *start, uint64_t *len);

/* Path of @file in @vm's cgroup below ctx->root. Returns 0 or
 * -ENAMETOOLONG. */
int act_cgroup_path(const struct act_context *ctx, const char *cgroup,
		    const char *file, char *buf, size_t len);

#endif /* BALANCERD_ACT_H */
