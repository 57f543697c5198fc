/* SPDX-License-Identifier: GPL-2.0 */
/* `balancerctl replay`: options, reading, the report (replay.h). */
#ifndef BALANCERD_REPLAY_CLI_H
#define BALANCERD_REPLAY_CLI_H

#include <stdbool.h>

/*
 * @argv[0] is "replay", the rest its arguments; @json: --json was given
 * before the command. Returns the exit code: 0, 1 (a difference from the
 * recorded decisions, or an unreadable trace or policy), 2 (usage).
 */
int replay_main(int argc, char **argv, bool json);

#endif /* BALANCERD_REPLAY_CLI_H */
