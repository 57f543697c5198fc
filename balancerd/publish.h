/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The publish step (publish.c): the state file balancerctl reads, the
 * metrics file, the STATUS= line and the journal's summary.
 */
#ifndef BALANCERD_PUBLISH_H
#define BALANCERD_PUBLISH_H

#include <stddef.h>

#include "units.h"

struct balancer;

/* Publish after the tick at monotonic @now (paces the metrics file).
 * 0 or a negative errno, logged once per cause. */
int publish(struct balancer *b, usec_t now);
/* The one-minute summary in the journal, when due. */
void log_summary(struct balancer *b, usec_t now);

/*
 * Write the state file now, from the latest tick (balancerctl's request:
 * state.h, STATE_REQUEST_SUFFIX), even when it is not due: with many VMs
 * it is written only every few ticks (publish.c). 0 or a negative errno.
 */
int balancer_publish_now(struct balancer *b);

/* The one-line STATUS= summary. Returns @buf. */
char *balancer_status(const struct balancer *b, char *buf, size_t len);

#endif /* BALANCERD_PUBLISH_H */
