/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a VM without ovcmem refaults, and what to fault back for it: the
 * planner behind the "none" and "mglru" sources' restore (no I/O; act.c
 * reads /proc/PID/pagemap and advises).
 *
 * A sample is one pagemap walk of the VMM's guest RAM mappings, per 2 MiB
 * block: which pages are swapped out and which are present. The map keeps,
 * per block, the pages that were swapped at the last sample. A page that
 * was swapped then and is present now came back without us: the VM
 * touched it (a refault). Blocks with refaults get heat (halved every
 * REFAULT_HEAT_HALF_LIFE); a plan is the still-swapped pages of the
 * hottest blocks and of their immediate neighbours, within a byte budget.
 * The VM's working set grows block by block, so the pages next to the
 * ones it refaulted are the ones it touches next; the rest of the VM's
 * swapped memory (its cold) stays where it is.
 *
 * MADV_WILLNEED reads a swapped page into the swap cache but leaves the
 * VM's page table entry a swap entry: pagemap shows the page swapped
 * until the VM touches it (then present, by a minor fault). So the map
 * also watches what it prefaulted, for the cold age after: a prefaulted
 * page seen present was used; one still swapped when the watch ends was
 * never used (wasted: a reclaim takes such a page again first, and
 * pagemap cannot tell a swap-cache page from one reclaimed again); one
 * seen present and then swapped within the watch was used and reclaimed
 * again. Both count against the restore ("prefaulted then reclaimed").
 *
 * Memory: a fixed-size record per 2 MiB block that has swapped, watched
 * or hot pages (200 bytes: 100 KiB per GiB of guest RAM when all of it is
 * swapped), nothing for a block wholly resident and cold.
 */
#ifndef BALANCERD_REFAULT_MAP_H
#define BALANCERD_REFAULT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "units.h"

#define REFAULT_PAGE_BYTES  4096ULL
#define REFAULT_BLOCK_PAGES 512
#define REFAULT_BLOCK_BYTES (REFAULT_BLOCK_PAGES * REFAULT_PAGE_BYTES)
#define REFAULT_BLOCK_WORDS (REFAULT_BLOCK_PAGES / 64)
/* A block's heat halves this often: refaults a minute old say little
 * about where the VM is now. */
#define REFAULT_HEAT_HALF_LIFE (10 * USEC_PER_SEC)

/* One 2 MiB block as one pagemap walk saw it. */
struct refault_sample_block {
	uint64_t addr; /* REFAULT_BLOCK_BYTES aligned, in the VMM */
	uint64_t swapped[REFAULT_BLOCK_WORDS]; /* bit i: page i swapped */
	uint64_t present[REFAULT_BLOCK_WORDS]; /* bit i: page i resident */
};

/* A walk: blocks in increasing address order, each address once. */
struct refault_sample {
	struct refault_sample_block *blocks;
	size_t n, cap;
};

/* Page @page of the block at @addr is swapped / present: appended to
 * @s, which must be fed in increasing address order. 0 or -ENOMEM. */
int refault_sample_add(struct refault_sample *s, uint64_t addr, bool swapped,
		       bool present);
void refault_sample_free(struct refault_sample *s);

struct refault_block {
	uint64_t addr;
	/* Swapped at the last sample, less what we prefaulted since. */
	uint64_t swapped[REFAULT_BLOCK_WORDS];
	/* Prefaulted and watched: not yet seen used, and seen used. */
	uint64_t pending[REFAULT_BLOCK_WORDS];
	uint64_t used[REFAULT_BLOCK_WORDS];
	usec_t watch_until; /* the watch of this block's prefaults ends */
	uint32_t heat;	    /* refaulted pages, halved every half life */
};

/* Running totals, in pages. */
struct refault_totals {
	uint64_t refaulted;	  /* swapped -> present without us */
	uint64_t prefaulted;	  /* advised by a plan (refault_map_mark) */
	uint64_t used;		  /* prefaulted, then seen present */
	uint64_t wasted;	  /* prefaulted, never seen present */
	uint64_t reclaimed_again; /* used, then swapped within the watch */
};

struct refault_map {
	struct refault_block *blocks; /* by address */
	size_t n, cap;
	bool sampled;	     /* a baseline exists */
	usec_t last_sample;  /* when */
	usec_t heat_decayed; /* heat is up to date to here */
	uint64_t counters;   /* the VM's refault counters at the last sample */
	struct refault_totals totals;
};

/* What one sample changed. */
struct refault_update {
	uint64_t refaulted;	  /* pages the VM refaulted since the last */
	size_t hot_blocks;	  /* blocks with heat now */
	uint64_t swapped;	  /* pages swapped now */
	uint64_t used;		  /* prefaulted pages seen present now */
	uint64_t wasted;	  /* prefaulted pages whose watch ended */
	uint64_t reclaimed_again; /* used ones swapped again */
};

/* A range to fault back: [addr, addr + len). */
struct refault_range {
	uint64_t addr, len;
};

void refault_map_init(struct refault_map *m);
void refault_map_free(struct refault_map *m);

/*
 * Take sample @s at @now: refaults since the last sample become heat,
 * the watched prefaults are judged, and @s is the new baseline. The first
 * sample only sets the baseline. @counters: the VM's refault counters
 * now (kept for refault_map_counters_rose). 0 or -ENOMEM (the map is then
 * as before @s).
 */
int refault_map_update(struct refault_map *m, const struct refault_sample *s,
		       usec_t now, uint64_t counters,
		       struct refault_update *ret);

/* Whether the VM's refault counters moved since the last sample (always
 * true before the first). */
bool refault_map_counters_rose(const struct refault_map *m, uint64_t counters);

/*
 * The plan at @now: the swapped pages (as of the last sample) of the
 * blocks with heat, hottest first (ties: lower address), each followed by
 * those of its neighbours 2 MiB below and above, at most @bytes in all.
 * Ranges in plan order, pages of a block merged; *@ret malloc'ed (NULL
 * when empty), *@bytes_planned their sum. 0 or -ENOMEM.
 */
int refault_map_plan(struct refault_map *m, usec_t now, uint64_t bytes,
		     struct refault_range **ret, size_t *n,
		     uint64_t *bytes_planned);

/*
 * The first @bytes of @ranges (a plan) were advised at @now: those pages
 * are no refaults of the VM when they turn present, and are watched until
 * @now + @watch. Returns the pages marked.
 */
uint64_t refault_map_mark(struct refault_map *m,
			  const struct refault_range *ranges, size_t n,
			  uint64_t bytes, usec_t now, usec_t watch);

/* Pages prefaulted then reclaimed (wasted + reclaimed again), per mille
 * of the pages whose watch ended or that were used; 0 with none. */
unsigned int refault_totals_against_permille(const struct refault_totals *t);

#endif /* BALANCERD_REFAULT_MAP_H */
