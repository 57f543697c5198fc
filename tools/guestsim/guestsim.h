/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guestsim: a synthetic VM for ovcmem + balancerd.
 *
 * main.c      options, the run loop, rate pacing, phases
 * workload.c  random numbers, hot-set geometry, uniform/zipf choice
 * ovcmem_vm.c guest RAM through /dev/ovcmem (partition, region, vCPU)
 *             or plain memory touched directly
 * report.c    latency histogram, JSON lines, /proc readers
 */
#ifndef GUESTSIM_H
#define GUESTSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GS_PAGE_SIZE	  4096ULL
#define GS_WORDS_PER_PAGE 512
#define GS_MAX_PHASES	  32

enum gs_access { GS_UNIFORM, GS_ZIPF };
enum gs_mode { GS_MODE_OVCMEM, GS_MODE_PLAIN };

/* A change of the working set at time @at_us (after start-up). */
struct gs_phase {
	uint64_t at_us;
	double hot;    /* fraction of memory hot; < 0: unchanged */
	double offset; /* start of the hot set, fraction; < 0: unchanged */
	double rate;   /* accesses/s; < 0: unchanged */
	int access;    /* enum gs_access; < 0: unchanged */
	char label[48];
};

struct gs_opts {
	uint64_t size;
	bool thp;
	enum gs_mode mode;
	bool pinned;
	double hot, offset;
	enum gs_access access;
	double rate;
	uint64_t duration_us;
	uint64_t seed;
	uint64_t report_us;
	uint64_t verify_us;	 /* checksum a hot page every ... */
	uint64_t verify_cold_us; /* checksum a random page of all RAM every ...
				  */
	double writes;		 /* fraction of accesses that write */
	unsigned batch;
	bool verify_all_at_exit;
	const char *name;
	struct gs_phase phases[GS_MAX_PHASES];
	int n_phases;
};

/* ---- workload.c ---- */
struct gs_rng {
	uint64_t s;
};
void gs_rng_seed(struct gs_rng *r, uint64_t seed);
uint64_t gs_rng_next(struct gs_rng *r);
double gs_rng_unit(struct gs_rng *r); /* [0, 1) */
uint64_t gs_rng_below(struct gs_rng *r, uint64_t n);

struct gs_hotset {
	uint64_t pages;	    /* all guest pages */
	uint64_t start;	    /* first hot page */
	uint64_t hot_pages; /* >= 1 */
	uint64_t stride;    /* coprime with hot_pages: rank -> page scatter */
	enum gs_access access;
};
void gs_hotset_set(struct gs_hotset *h, uint64_t pages, double hot,
		   double offset, enum gs_access access);
uint64_t gs_hotset_pick(const struct gs_hotset *h, struct gs_rng *r);

/* Parsers: 0 on success, -1 on a malformed value. */
int gs_parse_size(const char *s, uint64_t *ret);
int gs_parse_duration(const char *s, uint64_t *ret_us);
int gs_parse_fraction(const char *s, double *ret);
int gs_parse_phase(const char *s, struct gs_phase *ret, char *err,
		   size_t errlen);

/* ---- ovcmem_vm.c ---- */
struct gs_counters {
	uint64_t intercepts, refaults, mapped_pages, faulted, prefaulted,
		invalidated;
};

struct gs_vm;
/* Errors are printed to stderr; NULL on failure. */
struct gs_vm *gs_vm_create(const struct gs_opts *o);
void gs_vm_destroy(struct gs_vm *vm);
uint64_t gs_vm_pages(const struct gs_vm *vm);
/* Write the known pattern into every page. 0 or -1. */
int gs_vm_fill(struct gs_vm *vm);
/*
 * Access @n pages (word @words[i] of page @pages[i]); writes where
 * @write[i]. Returns the accesses that completed, and adds to @bad those
 * that read a value other than the pattern. A failed access (exit) is
 * reported once on stderr and counts as bad.
 */
unsigned gs_vm_access(struct gs_vm *vm, const uint64_t *pages,
		      const uint16_t *words, const bool *write, unsigned n,
		      uint64_t *bad);
/* Checksum @npages pages from @page against the pattern: 0 ok, 1 bad, -1
 * failed. */
int gs_vm_verify(struct gs_vm *vm, uint64_t page, uint64_t npages);
void gs_vm_counters(struct gs_vm *vm, struct gs_counters *c);
uint64_t gs_expected_word(uint64_t seed, uint64_t page, unsigned word);

/* ---- report.c ---- */
struct gs_hist {
	uint64_t buckets[512];
	uint64_t n;
};
void gs_hist_reset(struct gs_hist *h);
void gs_hist_add(struct gs_hist *h, uint64_t ns);
double gs_hist_pct_us(const struct gs_hist *h, double pct);
long gs_rss_kb(void);

uint64_t gs_now_us(void);
uint64_t gs_now_ns(void);

#endif
