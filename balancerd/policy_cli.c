// SPDX-License-Identifier: GPL-2.0
/* A policy named on balancerctl's command line (policy_cli.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "policy_cli.h"

void cli_print_policy_errors(const struct policy_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		char msg[1024], esc[4096];

		policy_error_format(&errs->items[i], msg, sizeof(msg));
		fprintf(stderr, "balancerctl: %s\n",
			escape_text(msg, esc, sizeof(esc)));
	}
}

int cli_load_policy(const char *path, struct policy *p)
{
	struct policy_errors errs = {0};
	struct stat st;
	int r;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		r = policy_load_dir(path, p, &errs);
	else
		r = policy_load_files(&path, 1, p, &errs);
	if (r < 0)
		cli_print_policy_errors(&errs);
	if (r < 0 && !errs.n) {
		char esc[4096];

		fprintf(stderr, "balancerctl: cannot load policy %s: %s\n",
			escape_text(path, esc, sizeof(esc)), strerror(-r));
	}
	policy_errors_free(&errs);
	return r;
}
