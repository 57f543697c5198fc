/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A policy named on balancerctl's command line (policy_cli.c), for the
 * commands that run decide() offline: replay and simulate.
 */
#ifndef BALANCERD_POLICY_CLI_H
#define BALANCERD_POLICY_CLI_H

#include "policy.h"

/* Each of @errs on stderr as "balancerctl: FILE:LINE:COL: ...", escaped
 * (file names and values come from anyone). */
void cli_print_policy_errors(const struct policy_errors *errs);

/*
 * Load @path, a policy file or a directory of them as balancerd reads
 * one, into @p. 0, or a negative errno with every error on stderr.
 */
int cli_load_policy(const char *path, struct policy *p);

#endif /* BALANCERD_POLICY_CLI_H */
