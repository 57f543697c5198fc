// SPDX-License-Identifier: GPL-2.0
/* guestsim: latency histogram, clock and /proc readers for the reports. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "guestsim.h"

uint64_t gs_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t gs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void gs_hist_reset(struct gs_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Log-linear buckets: 8 per power of two, about 12% wide. */
static unsigned bucket_of(uint64_t ns)
{
	unsigned e;

	if (ns < 8)
		return (unsigned)ns;
	e = 63 - (unsigned)__builtin_clzll(ns);
	return (e - 2) * 8 + (unsigned)((ns >> (e - 3)) & 7);
}

static double bucket_mid_ns(unsigned b)
{
	unsigned e, sub;
	double lo, w;

	if (b < 8)
		return b;
	e = b / 8 + 2;
	sub = b % 8;
	w = (double)(1ULL << (e - 3));
	lo = (double)(1ULL << e) + sub * w;
	return lo + w / 2;
}

void gs_hist_add(struct gs_hist *h, uint64_t ns)
{
	unsigned b = bucket_of(ns);

	if (b >= sizeof(h->buckets) / sizeof(h->buckets[0]))
		b = sizeof(h->buckets) / sizeof(h->buckets[0]) - 1;
	h->buckets[b]++;
	h->n++;
}

double gs_hist_pct_us(const struct gs_hist *h, double pct)
{
	uint64_t want, cum = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)(pct / 100.0 * (double)h->n);
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < sizeof(h->buckets) / sizeof(h->buckets[0]);
	     b++) {
		cum += h->buckets[b];
		if (cum >= want)
			return bucket_mid_ns(b) / 1000.0;
	}
	return 0;
}

/* Rss of the whole process, from /proc/self/smaps_rollup (kB), -1 if unknown.
 */
long gs_rss_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "re");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
