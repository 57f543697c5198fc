// SPDX-License-Identifier: GPL-2.0
/* guestsim: random numbers, the hot set, and the option value parsers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestsim.h"

void gs_rng_seed(struct gs_rng *r, uint64_t seed)
{
	r->s = seed ^ 0x853c49e6748fea9bULL;
	if (!r->s)
		r->s = 1;
	gs_rng_next(r);
}

/* splitmix64: small, fast, good enough for a workload. */
uint64_t gs_rng_next(struct gs_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double gs_rng_unit(struct gs_rng *r)
{
	return (double)(gs_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t gs_rng_below(struct gs_rng *r, uint64_t n)
{
	return n ? gs_rng_next(r) % n : 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

void gs_hotset_set(struct gs_hotset *h, uint64_t pages, double hot,
		   double offset, enum gs_access access)
{
	uint64_t hp = (uint64_t)(hot * (double)pages + 0.5);

	if (hp < 1)
		hp = 1;
	if (hp > pages)
		hp = pages;
	h->pages = pages;
	h->hot_pages = hp;
	h->start = (uint64_t)(offset * (double)pages) % pages;
	h->access = access;
	/* A stride coprime with the hot set scatters zipf ranks over it. */
	h->stride = 2654435761ULL % hp;
	if (!h->stride)
		h->stride = 1;
	while (gcd(h->stride, hp) != 1)
		h->stride++;
}

uint64_t gs_hotset_pick(const struct gs_hotset *h, struct gs_rng *r)
{
	uint64_t i;

	if (h->access == GS_ZIPF && h->hot_pages > 1) {
		/* Zipf (s = 1) by inverse CDF of the continuous 1/x law. */
		double u = gs_rng_unit(r);
		uint64_t rank =
			(uint64_t)exp(u * log((double)h->hot_pages + 1.0)) - 1;

		if (rank >= h->hot_pages)
			rank = h->hot_pages - 1;
		i = (rank * h->stride) % h->hot_pages;
	} else {
		i = gs_rng_below(r, h->hot_pages);
	}
	return (h->start + i) % h->pages;
}

int gs_parse_size(const char *s, uint64_t *ret)
{
	char *end;
	double v;
	uint64_t mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end)
		return -1;
	*ret = (uint64_t)(v * (double)mul);
	return 0;
}

int gs_parse_duration(const char *s, uint64_t *ret_us)
{
	char *end;
	double v, mul = 1e6;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		mul = 1e6;
	else if (!strcmp(end, "ms"))
		mul = 1e3;
	else if (!strcmp(end, "us"))
		mul = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e6;
	else if (!strcmp(end, "h"))
		mul = 3600e6;
	else
		return -1;
	*ret_us = (uint64_t)(v * mul);
	return 0;
}

/* "25%", "0.25" -> 0.25, within [0, 1]. */
int gs_parse_fraction(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	if (*end == '%') {
		v /= 100.0;
		end++;
	} else if (v > 1.0) {
		return -1;
	}
	if (*end || v < 0 || v > 1.0)
		return -1;
	*ret = v;
	return 0;
}

/* "60s:hot=50%,offset=25%,rate=20000,access=zipf" */
int gs_parse_phase(const char *s, struct gs_phase *p, char *err, size_t errlen)
{
	char buf[256], *colon, *tok, *save = NULL;

	memset(p, 0, sizeof(*p));
	p->hot = p->offset = p->rate = -1;
	p->access = -1;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon) {
		snprintf(err, errlen, "expected TIME:key=value[,key=value...]");
		return -1;
	}
	*colon = 0;
	if (gs_parse_duration(buf, &p->at_us)) {
		snprintf(err, errlen, "bad time '%s' (e.g. 60s, 1.5m)", buf);
		return -1;
	}
	snprintf(p->label, sizeof(p->label), "%s", colon + 1);
	for (tok = strtok_r(colon + 1, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *k = tok, *v;

		if (!eq) {
			snprintf(err, errlen, "expected key=value, got '%s'",
				 tok);
			return -1;
		}
		*eq = 0;
		v = eq + 1;
		if (!strcmp(k, "hot")) {
			if (gs_parse_fraction(v, &p->hot) || p->hot <= 0) {
				snprintf(err, errlen,
					 "bad hot '%s' (e.g. 50%%)", v);
				return -1;
			}
		} else if (!strcmp(k, "offset")) {
			if (gs_parse_fraction(v, &p->offset)) {
				snprintf(err, errlen,
					 "bad offset '%s' (e.g. 50%%)", v);
				return -1;
			}
		} else if (!strcmp(k, "rate")) {
			char *end;

			p->rate = strtod(v, &end);
			if (end == v || *end || p->rate < 0) {
				snprintf(err, errlen, "bad rate '%s'", v);
				return -1;
			}
		} else if (!strcmp(k, "access")) {
			if (!strcmp(v, "uniform"))
				p->access = GS_UNIFORM;
			else if (!strcmp(v, "zipf"))
				p->access = GS_ZIPF;
			else {
				snprintf(err, errlen,
					 "bad access '%s' (uniform|zipf)", v);
				return -1;
			}
		} else {
			snprintf(err, errlen,
				 "unknown key '%s' (hot, offset, rate, access)",
				 k);
			return -1;
		}
	}
	return 0;
}
