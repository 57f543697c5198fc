/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A replay's figures (replay_print.c), as text for people or as JSON.
 */
#ifndef BALANCERD_REPLAY_PRINT_H
#define BALANCERD_REPLAY_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include "replay.h"

/* The report, for people or as one JSON object (@json). */
void replay_print(const struct replay *rp, FILE *out, bool json);

#endif /* BALANCERD_REPLAY_PRINT_H */
