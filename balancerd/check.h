/* SPDX-License-Identifier: GPL-2.0 */
/*
 * balancerd --check and balancerctl check (check.c): the configuration
 * and policies validated without running.
 */
#ifndef BALANCERD_CHECK_H
#define BALANCERD_CHECK_H

#include <stddef.h>
#include <stdio.h>

/*
 * Validate without running (balancerd --check, balancerctl check). With
 * @n_files > 0, those policy files; else the config at @config_path (NULL:
 * none) and the policy directory it names (or @policy_dir). Every error
 * goes to @err as "file:line:column: path: message"; a one-line verdict
 * to @out. Returns 0 when valid, -EINVAL when not, or another errno.
 */
int balancer_check(const char *config_path, const char *policy_dir,
		   char *const *files, size_t n_files, FILE *out, FILE *err);

#endif /* BALANCERD_CHECK_H */
