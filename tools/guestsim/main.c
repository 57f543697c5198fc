// SPDX-License-Identifier: GPL-2.0
/*
 * guestsim: a synthetic VM. Allocates guest RAM, registers it with ovcmem
 * (or not, in plain mode), writes a known pattern into every page through
 * the vCPU, then plays a guest: a hot working set read (and partly written)
 * at a target rate, uniform or zipf, changing by phases; every read is
 * checked against the pattern and pages are checksummed now and then. One
 * JSON line a second on stdout.
 *
 * Exit: 0 fine, 1 could not run, 2 usage, 3 wrong data or failed accesses.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guestsim.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: guestsim [options]\n"
		"A synthetic VM: guest RAM through ovcmem's vCPU (or plain "
		"memory), a hot\n"
		"working set, one JSON line per report interval on stdout.\n"
		"\n"
		"  --size SIZE            guest RAM (256M; K/M/G suffixes)\n"
		"  --thp on|off           transparent huge pages for guest RAM "
		"(on)\n"
		"  --mode ovcmem|plain    through /dev/ovcmem, or touch memory "
		"directly (ovcmem)\n"
		"  --pinned               pinned region (plain mode: mlock)\n"
		"  --hot FRACTION         hot share of RAM, 25%% or 0.25 "
		"(25%%)\n"
		"  --offset FRACTION      where the hot set starts (0%%)\n"
		"  --access uniform|zipf  how hot pages are chosen (uniform)\n"
		"  --rate N               target accesses/s, 0 = as fast as "
		"possible (0)\n"
		"  --writes FRACTION      share of accesses that write "
		"(rewriting the\n"
		"                         pattern, so data stays checkable) "
		"(10%%)\n"
		"  --phase T:K=V[,K=V]    at time T change hot=, offset=, "
		"rate=, access=;\n"
		"                         repeatable, e.g. --phase "
		"60s:hot=50%%\n"
		"  --duration T           stop after T (0 = until SIGTERM) "
		"(0)\n"
		"  --seed N               pattern and workload seed (1)\n"
		"  --report-interval T    JSON line period (1s)\n"
		"  --verify-interval T    checksum a hot page every T (100ms)\n"
		"  --verify-cold-interval T  checksum a random page of all RAM "
		"every T (10s)\n"
		"  --verify-all-at-exit   checksum all of guest RAM before "
		"exiting\n"
		"  --batch N              accesses per vCPU run, 1..4096 (16)\n"
		"  --name NAME            label for the JSON lines\n"
		"  -h, --help\n"
		"\n"
		"Lines: "
		"{\"vm\",\"t\",\"ts\",\"phase\",\"hot_pct\",\"accesses\","
		"\"rate\",\n"
		"\"total_accesses\",\"intercepts\",\"refaults\",\"p50_us\","
		"\"p99_us\",\"max_us\",\n"
		"\"resident_kb\",\"mapped_pages\",\"errors\"}; intercepts, "
		"refaults and accesses\n"
		"count the interval; latencies are of one vCPU run (--batch "
		"accesses).\n"
		"First line has \"event\":\"ready\" (after the fill), last "
		"\"event\":\"exit\".\n"
		"Exit status: 0 fine, 1 could not run, 2 usage, 3 wrong data "
		"or failed accesses.\n");
}

static int bad_value(const char *opt, const char *val, const char *hint)
{
	fprintf(stderr, "guestsim: invalid value '%s' for %s%s%s\n", val, opt,
		hint ? ": " : "", hint ? hint : "");
	fprintf(stderr, "Try 'guestsim --help'.\n");
	return 2;
}

static int cmp_phase(const void *a, const void *b)
{
	const struct gs_phase *x = a, *y = b;

	return x->at_us < y->at_us ? -1 : x->at_us > y->at_us;
}

static double realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
			      .tv_nsec = (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

static int parse_args(int argc, char **argv, struct gs_opts *o)
{
	enum {
		O_SIZE = 256,
		O_THP,
		O_MODE,
		O_PINNED,
		O_HOT,
		O_OFFSET,
		O_ACCESS,
		O_RATE,
		O_WRITES,
		O_PHASE,
		O_DURATION,
		O_SEED,
		O_REPORT,
		O_VERIFY,
		O_VERIFY_COLD,
		O_VERIFY_ALL,
		O_BATCH,
		O_NAME,
	};
	static const struct option lo[] = {
		{"size", required_argument, 0, O_SIZE},
		{"thp", required_argument, 0, O_THP},
		{"mode", required_argument, 0, O_MODE},
		{"pinned", no_argument, 0, O_PINNED},
		{"hot", required_argument, 0, O_HOT},
		{"offset", required_argument, 0, O_OFFSET},
		{"access", required_argument, 0, O_ACCESS},
		{"rate", required_argument, 0, O_RATE},
		{"writes", required_argument, 0, O_WRITES},
		{"phase", required_argument, 0, O_PHASE},
		{"duration", required_argument, 0, O_DURATION},
		{"seed", required_argument, 0, O_SEED},
		{"report-interval", required_argument, 0, O_REPORT},
		{"verify-interval", required_argument, 0, O_VERIFY},
		{"verify-cold-interval", required_argument, 0, O_VERIFY_COLD},
		{"verify-all-at-exit", no_argument, 0, O_VERIFY_ALL},
		{"batch", required_argument, 0, O_BATCH},
		{"name", required_argument, 0, O_NAME},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int c;

	*o = (struct gs_opts){
		.size = 256ULL << 20,
		.thp = true,
		.mode = GS_MODE_OVCMEM,
		.hot = 0.25,
		.access = GS_UNIFORM,
		.seed = 1,
		.report_us = 1000000,
		.verify_us = 100000,
		.verify_cold_us = 10000000,
		.writes = 0.10,
		.batch = 16,
		.name = "",
	};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;

		switch (c) {
		case O_SIZE:
			if (gs_parse_size(optarg, &o->size) ||
			    o->size < (2ULL << 20))
				return bad_value(
					"--size", optarg,
					"a size of at least 2M, e.g. 256M");
			break;
		case O_THP:
			if (!strcmp(optarg, "on"))
				o->thp = true;
			else if (!strcmp(optarg, "off"))
				o->thp = false;
			else
				return bad_value("--thp", optarg, "on or off");
			break;
		case O_MODE:
			if (!strcmp(optarg, "ovcmem"))
				o->mode = GS_MODE_OVCMEM;
			else if (!strcmp(optarg, "plain"))
				o->mode = GS_MODE_PLAIN;
			else
				return bad_value("--mode", optarg,
						 "ovcmem or plain");
			break;
		case O_PINNED:
			o->pinned = true;
			break;
		case O_HOT:
			if (gs_parse_fraction(optarg, &o->hot) || o->hot <= 0)
				return bad_value(
					"--hot", optarg,
					"a share in (0, 100%], e.g. 25%");
			break;
		case O_OFFSET:
			if (gs_parse_fraction(optarg, &o->offset))
				return bad_value("--offset", optarg,
						 "a share in [0, 100%]");
			break;
		case O_ACCESS:
			if (!strcmp(optarg, "uniform"))
				o->access = GS_UNIFORM;
			else if (!strcmp(optarg, "zipf"))
				o->access = GS_ZIPF;
			else
				return bad_value("--access", optarg,
						 "uniform or zipf");
			break;
		case O_RATE:
			errno = 0;
			o->rate = strtod(optarg, &end);
			if (errno || end == optarg || *end || o->rate < 0)
				return bad_value(
					"--rate", optarg,
					"accesses per second, 0 = unlimited");
			break;
		case O_WRITES:
			if (gs_parse_fraction(optarg, &o->writes))
				return bad_value("--writes", optarg,
						 "a share, e.g. 10%");
			break;
		case O_PHASE: {
			char err[128];

			if (o->n_phases >= GS_MAX_PHASES) {
				fprintf(stderr,
					"guestsim: at most %d --phase\n",
					GS_MAX_PHASES);
				return 2;
			}
			if (gs_parse_phase(optarg, &o->phases[o->n_phases], err,
					   sizeof(err)))
				return bad_value("--phase", optarg, err);
			o->n_phases++;
			break;
		}
		case O_DURATION:
			if (gs_parse_duration(optarg, &o->duration_us))
				return bad_value("--duration", optarg,
						 "e.g. 120s, 2m");
			break;
		case O_SEED:
			errno = 0;
			o->seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end)
				return bad_value("--seed", optarg,
						 "an integer");
			break;
		case O_REPORT:
			if (gs_parse_duration(optarg, &o->report_us) ||
			    o->report_us < 10000)
				return bad_value("--report-interval", optarg,
						 "at least 10ms");
			break;
		case O_VERIFY:
			if (gs_parse_duration(optarg, &o->verify_us))
				return bad_value("--verify-interval", optarg,
						 "e.g. 100ms, 0 = never");
			break;
		case O_VERIFY_COLD:
			if (gs_parse_duration(optarg, &o->verify_cold_us))
				return bad_value("--verify-cold-interval",
						 optarg, "e.g. 10s, 0 = never");
			break;
		case O_VERIFY_ALL:
			o->verify_all_at_exit = true;
			break;
		case O_BATCH: {
			unsigned long b;

			errno = 0;
			b = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || b < 1 || b > 4096)
				return bad_value("--batch", optarg, "1..4096");
			o->batch = (unsigned)b;
			break;
		}
		case O_NAME:
			o->name = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'guestsim --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"guestsim: unexpected argument '%s'\nTry 'guestsim "
			"--help'.\n",
			argv[optind]);
		return 2;
	}
	qsort(o->phases, (size_t)o->n_phases, sizeof(o->phases[0]), cmp_phase);
	return 0;
}

/* JSON-escape a short label (names are plain, but be safe). */
static void print_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	struct gs_opts o;
	int r = parse_args(argc, argv, &o);

	if (r)
		return r;
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	struct gs_vm *vm = gs_vm_create(&o);

	if (!vm)
		return 1;
	uint64_t pages = gs_vm_pages(vm);
	uint64_t t_fill = gs_now_us();

	if (gs_vm_fill(vm)) {
		gs_vm_destroy(vm);
		return 1;
	}
	t_fill = gs_now_us() - t_fill;

	struct gs_rng rng;
	struct gs_hotset hs;
	double hot = o.hot, offset = o.offset, rate = o.rate;
	enum gs_access access = o.access;
	int phase = 0;

	gs_rng_seed(&rng, o.seed * 7919 + 17);
	gs_hotset_set(&hs, pages, hot, offset, access);

	struct gs_counters c0, c1;

	gs_vm_counters(vm, &c0);
	printf("{\"event\":\"ready\",\"vm\":");
	print_str(o.name);
	printf(",\"ts\":%.3f,\"mode\":\"%s\",\"pinned\":%s,\"thp\":%s,\"size\":"
	       "%llu,"
	       "\"pages\":%llu,\"fill_ms\":%.1f,\"resident_kb\":%ld,\"mapped_"
	       "pages\":%llu,"
	       "\"pid\":%d}\n",
	       realtime_s(), o.mode == GS_MODE_PLAIN ? "plain" : "ovcmem",
	       o.pinned ? "true" : "false", o.thp ? "true" : "false",
	       (unsigned long long)(pages * GS_PAGE_SIZE),
	       (unsigned long long)pages, t_fill / 1000.0, gs_rss_kb(),
	       (unsigned long long)c0.mapped_pages, (int)getpid());

	uint64_t pg[4096];
	uint16_t wd[4096];
	bool wr[4096];
	struct gs_hist hist;
	uint64_t start = gs_now_us(), now = start;
	uint64_t next_report = start + o.report_us;
	uint64_t next_verify = start + o.verify_us;
	uint64_t next_cold = start + o.verify_cold_us;
	uint64_t rate_epoch = start, rate_done = 0;
	uint64_t interval_acc = 0, total_acc = 0, interval_start = start;
	uint64_t bad = 0, verify_bad = 0, verify_fail = 0, verifies = 0;
	uint64_t max_ns = 0;

	gs_hist_reset(&hist);
	while (!stop) {
		now = gs_now_us();
		uint64_t el = now - start;

		while (phase < o.n_phases && o.phases[phase].at_us <= el) {
			const struct gs_phase *p = &o.phases[phase];

			if (p->hot >= 0)
				hot = p->hot;
			if (p->offset >= 0)
				offset = p->offset;
			if (p->access >= 0)
				access = (enum gs_access)p->access;
			if (p->rate >= 0) {
				rate = p->rate;
				rate_epoch = now;
				rate_done = 0;
			}
			gs_hotset_set(&hs, pages, hot, offset, access);
			phase++;
		}
		if (now >= next_report) {
			double secs = (now - interval_start) / 1e6;

			gs_vm_counters(vm, &c1);
			printf("{\"vm\":");
			print_str(o.name);
			printf(",\"t\":%.1f,\"ts\":%.3f,\"phase\":%d,\"hot_"
			       "pct\":%.1f,"
			       "\"accesses\":%llu,\"rate\":%.0f,\"total_"
			       "accesses\":%llu,"
			       "\"intercepts\":%llu,\"refaults\":%llu,\"p50_"
			       "us\":%.1f,"
			       "\"p99_us\":%.1f,\"max_us\":%.1f,\"resident_"
			       "kb\":%ld,"
			       "\"mapped_pages\":%llu,\"errors\":%llu}\n",
			       el / 1e6, realtime_s(), phase, hot * 100.0,
			       (unsigned long long)interval_acc,
			       secs > 0 ? interval_acc / secs : 0.0,
			       (unsigned long long)total_acc,
			       (unsigned long long)(c1.intercepts -
						    c0.intercepts),
			       (unsigned long long)(c1.refaults - c0.refaults),
			       gs_hist_pct_us(&hist, 50),
			       gs_hist_pct_us(&hist, 99), max_ns / 1000.0,
			       gs_rss_kb(), (unsigned long long)c1.mapped_pages,
			       (unsigned long long)(bad + verify_bad +
						    verify_fail));
			c0 = c1;
			gs_hist_reset(&hist);
			max_ns = 0;
			interval_acc = 0;
			interval_start = now;
			while (next_report <= now)
				next_report += o.report_us;
		}
		if (o.duration_us && el >= o.duration_us)
			break;
		if (o.verify_us && now >= next_verify) {
			int v = gs_vm_verify(vm, gs_hotset_pick(&hs, &rng), 1);

			verifies++;
			verify_bad += v == 1;
			verify_fail += v < 0;
			next_verify = now + o.verify_us;
		}
		if (o.verify_cold_us && now >= next_cold) {
			int v = gs_vm_verify(vm, gs_rng_below(&rng, pages), 1);

			verifies++;
			verify_bad += v == 1;
			verify_fail += v < 0;
			next_cold = now + o.verify_cold_us;
		}

		unsigned n = o.batch;

		if (rate > 0) {
			double due = rate * (double)(now - rate_epoch) / 1e6;

			if ((double)rate_done >= due) {
				/* Ahead of schedule: sleep until the next
				 * access is due. */
				uint64_t wait = (uint64_t)(((double)rate_done +
							    1 - due) /
							   rate * 1e6);
				uint64_t cap = next_report > now
						       ? next_report - now
						       : 0;

				if (wait > cap)
					wait = cap;
				if (wait > 50000)
					wait = 50000;
				if (wait)
					sleep_us(wait);
				continue;
			}
			double owe = due - (double)rate_done + 1;

			if (owe < n)
				n = owe < 1 ? 1 : (unsigned)owe;
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t x = gs_rng_next(&rng);

			pg[i] = gs_hotset_pick(&hs, &rng);
			wd[i] = (uint16_t)(x % GS_WORDS_PER_PAGE);
			wr[i] = o.writes > 0 &&
				(double)((x >> 16) & 0xffff) / 65536.0 <
					o.writes;
		}
		uint64_t t0 = gs_now_ns();
		unsigned done = gs_vm_access(vm, pg, wd, wr, n, &bad);
		uint64_t ns = gs_now_ns() - t0;

		gs_hist_add(&hist, ns);
		if (ns > max_ns)
			max_ns = ns;
		interval_acc += done;
		total_acc += done;
		rate_done += done;
	}

	uint64_t all_bad = 0, all_fail = 0;
	double verify_all_s = 0;

	if (o.verify_all_at_exit) {
		uint64_t t0 = gs_now_us();

		for (uint64_t p = 0; p < pages; p += 512) {
			int v = gs_vm_verify(vm, p,
					     pages - p < 512 ? pages - p : 512);

			all_bad += v == 1;
			all_fail += v < 0;
		}
		verify_all_s = (gs_now_us() - t0) / 1e6;
	}
	gs_vm_counters(vm, &c1);
	uint64_t errors = bad + verify_bad + verify_fail + all_bad + all_fail;

	printf("{\"event\":\"exit\",\"vm\":");
	print_str(o.name);
	printf(",\"t\":%.1f,\"ts\":%.3f,\"total_accesses\":%llu,\"verifies\":%"
	       "llu,"
	       "\"bad_reads\":%llu,\"bad_checksums\":%llu,\"failed_checks\":%"
	       "llu,"
	       "\"verify_all\":%s,\"verify_all_bad_chunks\":%llu,\"verify_all_"
	       "s\":%.2f,"
	       "\"errors\":%llu,\"resident_kb\":%ld,\"mapped_pages\":%llu}\n",
	       (gs_now_us() - start) / 1e6, realtime_s(),
	       (unsigned long long)total_acc, (unsigned long long)verifies,
	       (unsigned long long)bad, (unsigned long long)verify_bad,
	       (unsigned long long)verify_fail,
	       o.verify_all_at_exit ? "true" : "false",
	       (unsigned long long)(all_bad + all_fail), verify_all_s,
	       (unsigned long long)errors, gs_rss_kb(),
	       (unsigned long long)c1.mapped_pages);
	gs_vm_destroy(vm);
	if (errors) {
		fprintf(stderr,
			"guestsim: %llu errors (wrong data or failed "
			"accesses)\n",
			(unsigned long long)errors);
		return 3;
	}
	return 0;
}
