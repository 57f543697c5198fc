// SPDX-License-Identifier: GPL-2.0
/*
 * balancerd: reclaim and prefault guest memory by policy.
 *
 * Exit codes:
 *   0  clean exit (SIGTERM/SIGINT, --ticks done, --check passed)
 *   1  invalid configuration or policy (--check failed, or at start)
 *   2  usage error
 *   3  runtime failure (event loop, out of memory, unreadable host)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "check.h"
#include "config.h"
#include "loop.h"
#include "manager.h"
#include "units.h"

#ifndef BALANCERD_VERSION
#error "BALANCERD_VERSION comes from debian/changelog (see the Makefile)"
#endif

enum {
	EXIT_OK = 0,
	EXIT_INVALID = 1,
	EXIT_USAGE = 2,
	EXIT_RUNTIME = 3,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: balancerd [OPTIONS]\n"
		"       balancerd --check [FILES...]\n"
		"\n"
		"Reclaim cold guest memory and fault it back in, by policy.\n"
		"\n"
		"  -c, --config PATH      daemon settings (default %s)\n"
		"  -p, --policy-dir DIR   policy directory (overrides the "
		"config)\n"
		"      --check [FILES...] validate the config and policies "
		"(or FILES, together,\n"
		"                         as one policy directory) and exit\n"
		"  -n, --dry-run          decide and log, change nothing\n"
		"  -l, --log-target T     auto, journal or stderr\n"
		"  -s, --state-file PATH  where to publish state (\"\" = "
		"nowhere)\n"
		"  -i, --interval DUR     steady tick, e.g. 1s, 500ms\n"
		"      --root DIR         read/write DIR/proc, DIR/sys "
		"(tests)\n"
		"      --ticks N          run N ticks, then exit (tests)\n"
		"      --driver PATH      ovcmem device (\"\" disables)\n"
		"      --record FILE      a trace of every tick, for "
		"balancerctl replay\n"
		"  -v, --verbose          log debug messages too\n"
		"  -V, --version          print the version\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 ok, 1 invalid configuration or policy, 2 "
		"usage, 3 runtime failure.\n",
		BALANCERD_CONFIG_PATH);
}

enum {
	OPT_CHECK = 0x100,
	OPT_ROOT,
	OPT_TICKS,
	OPT_DRIVER,
	OPT_RECORD,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"policy-dir", required_argument, NULL, 'p'},
		{"check", no_argument, NULL, OPT_CHECK},
		{"dry-run", no_argument, NULL, 'n'},
		{"log-target", required_argument, NULL, 'l'},
		{"state-file", required_argument, NULL, 's'},
		{"interval", required_argument, NULL, 'i'},
		{"root", required_argument, NULL, OPT_ROOT},
		{"ticks", required_argument, NULL, OPT_TICKS},
		{"driver", required_argument, NULL, OPT_DRIVER},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"record", required_argument, NULL, OPT_RECORD},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct balancer_options opts = {0};
	enum log_target target = LOG_TARGET_AUTO;
	const char *config = NULL;
	struct balancer *b = NULL;
	bool check = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:p:nl:s:i:vVh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'p':
			opts.policy_dir = optarg;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'n':
			opts.dry_run = true;
			break;
		case 'l':
			if (log_target_from_string(optarg, &target) < 0 ||
			    target == LOG_TARGET_MEMORY) {
				fprintf(stderr,
					"balancerd: --log-target: expected "
					"auto, journal or stderr, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			opts.log_target_given = true;
			break;
		case 's':
			opts.state_file = optarg;
			break;
		case 'i':
			if (parse_duration(optarg, &opts.interval) < 0 ||
			    opts.interval == 0) {
				fprintf(stderr,
					"balancerd: --interval: expected a "
					"duration such as 1s or 500ms, got "
					"'%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_ROOT:
			opts.root = optarg;
			break;
		case OPT_TICKS: {
			char *end;

			errno = 0;
			opts.max_ticks = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' ||
			    opts.max_ticks == 0) {
				fprintf(stderr,
					"balancerd: --ticks: expected a "
					"positive number, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_DRIVER:
			opts.driver_path = optarg;
			break;
		case OPT_RECORD:
			opts.record = optarg;
			break;
		case 'v':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'V':
			printf("balancerd %s\n", BALANCERD_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}

	if (check) {
		r = balancer_check(config ? config : BALANCERD_CONFIG_PATH,
				   opts.policy_dir, argv + optind,
				   (size_t)(argc - optind), stdout, stderr);
		return r == 0 ? EXIT_OK : EXIT_INVALID;
	}
	if (optind < argc) {
		fprintf(stderr, "balancerd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	log_open(target);
	opts.config_path = config;
	r = balancer_new(&opts, &b);
	if (r == -EINVAL)
		return EXIT_INVALID;
	if (r < 0) {
		log_error_errno(r, "cannot start");
		return EXIT_RUNTIME;
	}
	r = balancer_run(b);
	balancer_free(b);
	return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
