// SPDX-License-Identifier: GPL-2.0
/*
 * balancerctl simulate SCENARIO.json --policy FILE|DIR [--seconds N]
 *                      [--json]
 *
 * Exit: 0, 1 (an invalid scenario or policy), 2 (usage).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_cli.h"
#include "simulate.h"
#include "simulate_cli.h"

/* A week: the scenario's own bound on "duration". */
#define SECONDS_MAX (7 * 24 * 3600)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: balancerctl simulate SCENARIO.json --policy FILE|DIR "
		"[--seconds N] [--json]\n"
		"\n"
		"Run decide() tick by tick against a model of the scenario's\n"
		"guests (closed loop: the refaults and stalls a policy causes\n"
		"come back as the next tick's signals) and print the\n"
		"densification benchmark's figures. A model, not a\n"
		"measurement: docs/simulate.md says what it leaves out.\n"
		"\n"
		"  -p, --policy FILE|DIR  a policy file or directory\n"
		"  -s, --seconds N        simulated seconds (default: the\n"
		"                         scenario's \"duration\")\n"
		"  -j, --json             one JSON object\n");
}

static int load_scenario(const char *path, struct sim_scenario *s)
{
	struct policy_errors errs = {0};
	int r = sim_scenario_load_file(path, s, &errs);

	if (r < 0)
		cli_print_policy_errors(&errs);
	if (r < 0 && !errs.n)
		fprintf(stderr, "balancerctl: cannot load scenario %s: %s\n",
			path, strerror(-r));
	policy_errors_free(&errs);
	return r;
}

static int parse_seconds(const char *s, usec_t *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || !n || n > SECONDS_MAX || *s == '-') {
		fprintf(stderr,
			"balancerctl: --seconds %s: expected a whole number of "
			"seconds from 1 to %d\n",
			s, SECONDS_MAX);
		return -EINVAL;
	}
	*ret = n * USEC_PER_SEC;
	return 0;
}

int simulate_main(int argc, char **argv, bool json)
{
	static const struct option longopts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"seconds", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct sim_scenario sc = {0};
	struct policy policy = {0};
	struct sim_result res;
	const char *policy_path = NULL;
	usec_t duration = 0;
	int c, r;

	optind = 0; /* 0: glibc re-initializes, after main()'s getopt */
	while ((c = getopt_long(argc, argv, "p:s:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 's':
			if (parse_seconds(optarg, &duration) < 0)
				return 2;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || !policy_path) {
		usage(stderr);
		return 2;
	}
	if (load_scenario(argv[optind], &sc) < 0)
		return 1;
	if (cli_load_policy(policy_path, &policy) < 0) {
		sim_scenario_free(&sc);
		return 1;
	}
	if (duration && duration < sc.interval) {
		fprintf(stderr,
			"balancerctl: --seconds: shorter than the scenario's "
			"interval\n");
		r = 2;
	} else if (duration && duration / sc.interval > SIM_TICKS_MAX) {
		fprintf(stderr,
			"balancerctl: --seconds: more than %llu of the "
			"scenario's intervals\n",
			SIM_TICKS_MAX);
		r = 2;
	} else if (sim_run(&sc, &policy, duration, &res) < 0) {
		fprintf(stderr, "balancerctl: simulate: out of memory\n");
		r = 1;
	} else {
		sim_print(&res, argv[optind], policy_path, stdout, json);
		sim_result_free(&res);
		r = 0;
	}
	policy_free(&policy);
	sim_scenario_free(&sc);
	return r;
}
