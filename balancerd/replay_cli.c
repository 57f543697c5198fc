// SPDX-License-Identifier: GPL-2.0
/*
 * balancerctl replay FILE... [--policy FILE|DIR] [--from T] [--to T]
 *                            [--vm GLOB] [--json]
 *
 * Exit: 0, 1 (a difference from the recorded decisions, an unreadable
 * trace or policy), 2 (usage).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "policy_cli.h"
#include "replay.h"
#include "replay_cli.h"
#include "replay_print.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: balancerctl replay FILE... [--policy FILE|DIR] "
		"[--from T] [--to T] [--vm GLOB] [--json]\n"
		"\n"
		"Feed a trace recorded by balancerd --record through "
		"decide().\n"
		"Without --policy: the recorded policy, which must make the\n"
		"recorded decisions exactly. With it: what that policy would\n"
		"have asked for, open-loop (the guests' response is not\n"
		"simulated). Give rotated files oldest first: FILE.1 FILE.\n"
		"\n"
		"  -p, --policy FILE|DIR  a policy file or directory\n"
		"  --from T, --to T       only ticks T after the first one "
		"(\"10m\", \"1h30m\")\n"
		"  --vm GLOB              only VMs whose name matches\n"
		"  -j, --json             one JSON object\n");
}

static int parse_time(const char *opt, const char *s, usec_t *ret)
{
	if (parse_duration(s, ret) == 0)
		return 0;
	fprintf(stderr,
		"balancerctl: %s %s: expected a duration since the first "
		"tick, e.g. \"90s\" or \"1h30m\"\n",
		opt, s);
	return -EINVAL;
}

int replay_main(int argc, char **argv, bool json)
{
	static const struct option longopts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"vm", required_argument, NULL, 'v'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct replay_options o = {0};
	struct policy policy = {0};
	const char *policy_path = NULL;
	struct replay rp;
	char err[1024], esc[4096];
	int c, r;

	optind = 0; /* 0: glibc re-initializes, after main()'s getopt */
	while ((c = getopt_long(argc, argv, "p:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'f':
			if (parse_time("--from", optarg, &o.from) < 0)
				return 2;
			break;
		case 't':
			if (parse_time("--to", optarg, &o.to) < 0)
				return 2;
			break;
		case 'v':
			o.vm_glob = optarg;
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
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (policy_path && cli_load_policy(policy_path, &policy) < 0)
		return 1;
	o.policy = policy_path ? &policy : NULL;
	replay_init(&rp, &o);
	r = replay_files(&rp, argv + optind, (size_t)(argc - optind), err,
			 sizeof(err));
	if (r < 0)
		fprintf(stderr, "balancerctl: %s\n",
			escape_text(err, esc, sizeof(esc)));
	else
		replay_print(&rp, stdout, json);
	r = r < 0 || rp.differences ? 1 : 0;
	replay_free(&rp);
	if (policy_path)
		policy_free(&policy);
	return r;
}
