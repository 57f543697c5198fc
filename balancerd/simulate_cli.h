/* SPDX-License-Identifier: GPL-2.0 */
/* `balancerctl simulate`: options, loading, the report (simulate.h). */
#ifndef BALANCERD_SIMULATE_CLI_H
#define BALANCERD_SIMULATE_CLI_H

#include <stdbool.h>

/*
 * @argv[0] is "simulate", the rest its arguments; @json: --json was given
 * before the command. Returns the exit code: 0, 1 (an invalid scenario or
 * policy), 2 (usage).
 */
int simulate_main(int argc, char **argv, bool json);

#endif /* BALANCERD_SIMULATE_CLI_H */
