// SPDX-License-Identifier: GPL-2.0
/*
 * balancerctl: read balancerd's published state.
 *
 *   status        one line per VM
 *   top           the same, refreshed every second (q or Ctrl-C quits)
 *   explain VM    which class governs VM and why, its limits, the last
 *                 decisions with their reasons
 *   check FILE... validate policy files, as balancerd --check
 *   replay FILE...  a recorded trace through a policy (replay_cli.c)
 *   simulate FILE   a policy against a model of guests (simulate_cli.c)
 *
 * Exit codes: 0 ok, 1 failure (no state, VM unknown, invalid policy),
 * 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "escape.h"
#include "log.h"
#include "safe_open.h"
#include "metrics.h"
#include "replay_cli.h"
#include "simulate_cli.h"
#include "state.h"
#include "units.h"

#define DEFAULT_STATE_FILE "/run/balancerd/state.json"

static const char *state_file = DEFAULT_STATE_FILE;
static bool json_output;
static volatile sig_atomic_t quit;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: balancerctl [--json] [--state-file PATH] COMMAND\n"
		"\n"
		"Commands:\n"
		"  status         table of VMs: class, size, current, cold, "
		"pressure, last action\n"
		"  top            the same, refreshed every second (q "
		"quits)\n"
		"  explain VM     which class matched VM and why, its "
		"limits, last decisions\n"
		"  metrics        the state as Prometheus text (as in the "
		"textfile collector's file)\n"
		"  check FILE...  validate policy files\n"
		"  replay FILE... [--policy FILE|DIR] [--from T] [--to T] "
		"[--vm GLOB]\n"
		"                 a trace of balancerd --record through the "
		"recorded\n"
		"                 or another policy (replay --help)\n"
		"  simulate SCENARIO.json --policy FILE|DIR [--seconds N]\n"
		"                 the policy against a model of guests, "
		"closed loop\n"
		"                 (simulate --help)\n"
		"\n"
		"Options:\n"
		"  -j, --json             machine-readable output\n"
		"  -s, --state-file PATH  default %s\n"
		"  -V, --version\n"
		"  -h, --help\n",
		DEFAULT_STATE_FILE);
}

/*
 * @s escaped for the terminal (escape.h): the state holds names that
 * tenants chose. A few buffers in turn, for several in one printf.
 */
static const char *esc(const char *s)
{
	static char bufs[8][1024];
	static unsigned int next;
	char *buf = bufs[next++ % 8];

	return escape_text(s ? s : "", buf, sizeof(bufs[0]));
}

/*
 * Ask the daemon for a fresh state file (state.h: it publishes at once
 * what its latest tick saw) and wait, a little, until it is newer than
 * the request. Without the right to ask (not root), or without an
 * answer (no daemon), the file is read as it is, and its age says how
 * fresh it is.
 */
static void request_fresh_state(void)
{
	char path[4096];
	struct timespec asked;
	struct stat st;
	int fd;

	if (snprintf(path, sizeof(path), "%s%s", state_file,
		     STATE_REQUEST_SUFFIX) >= (int)sizeof(path))
		return;
	clock_gettime(CLOCK_REALTIME, &asked);
	/* Under a second old: fresh enough. Older than a running daemon
	 * ever leaves it (it writes at least every 10 s): none to ask. */
	if (stat(state_file, &st) < 0 ||
	    st.st_mtim.tv_sec + STATE_REQUEST_ALIVE_SEC < asked.tv_sec ||
	    (asked.tv_sec - st.st_mtim.tv_sec) * 1000000000LL +
			    (asked.tv_nsec - st.st_mtim.tv_nsec) <
		    1000000000LL)
		return;
	fd = open(path,
		  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK |
			  O_CLOEXEC,
		  0600);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) < 0) {
		close(fd);
		return;
	}
	close(fd);
	for (int waited = 0; waited < STATE_REQUEST_WAIT_MS; waited += 20) {
		if (stat(state_file, &st) == 0 &&
		    (st.st_mtim.tv_sec > asked.tv_sec ||
		     (st.st_mtim.tv_sec == asked.tv_sec &&
		      st.st_mtim.tv_nsec >= asked.tv_nsec)))
			return;
		usleep(20 * 1000);
	}
}

static int load_state(json_t **ret)
{
	char err[512] = "";
	int r;

	request_fresh_state();
	r = state_read(state_file, ret, err, sizeof(err));

	if (r == -ENOENT)
		fprintf(stderr,
			"balancerctl: balancerd not running? no state "
			"at %s\n",
			esc(state_file));
	else if (r == -EINVAL)
		fprintf(stderr, "balancerctl: unreadable state: %s\n",
			esc(err));
	else if (r < 0)
		fprintf(stderr, "balancerctl: cannot read %s: %s\n",
			esc(state_file), open_strerror(r));
	return r;
}

/* The string @k of @o, escaped; "" when absent. */
static const char *str(json_t *o, const char *k)
{
	return esc(json_string_value(json_object_get(o, k)));
}

/* Sizes as "1.5G"; null (unknown, or unlimited) as "-". */
static char *size_of(json_t *o, const char *k, char *buf, size_t len)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		snprintf(buf, len, "-");
	else
		format_size((uint64_t)json_integer_value(v), buf, len);
	return buf;
}

/* The record's "time" (seconds since the epoch) as local time. */
static const char *time_of(json_t *o, const char *fmt, char *buf, size_t len)
{
	time_t t = (time_t)json_integer_value(json_object_get(o, "time"));
	struct tm tm;

	if (!t || !localtime_r(&t, &tm) || !strftime(buf, len, fmt, &tm))
		snprintf(buf, len, "-");
	return buf;
}

static void last_action_text(json_t *vm, char *buf, size_t len)
{
	json_t *la = json_object_get(vm, "last_action");
	const char *tag = "";
	char req[32], done[32], when[32];

	if (!json_is_object(la)) {
		snprintf(buf, len, "-");
		return;
	}
	if (json_is_true(json_object_get(la, "dry_run")))
		tag = " (dry run)";
	else if (json_is_string(json_object_get(la, "error")))
		tag = " (failed)";
	else if (json_is_true(json_object_get(la, "partial")))
		tag = " (partial)";
	size_of(la, "bytes_requested", req, sizeof(req));
	size_of(la, "bytes_done", done, sizeof(done));
	snprintf(buf, len, "%s %s %s, done %s%s",
		 time_of(la, "%H:%M:%S", when, sizeof(when)), str(la, "action"),
		 req, done, tag);
}

/*
 * The state's age, and the daemon's trouble if any: a state file that is
 * no longer rewritten, or ticks that decide nothing. Returns true when
 * all is well.
 */
static bool print_health(json_t *doc, FILE *f)
{
	json_t *tot = json_object_get(doc, "totals");
	json_int_t ok_time =
		json_integer_value(json_object_get(doc, "last_ok_time"));
	long long age;
	bool stale = state_is_stale(doc, time(NULL), &age);
	bool failing = json_is_false(json_object_get(doc, "last_tick_ok"));

	fprintf(f, "  state %llds old, written by pid %lld%s\n", age,
		(long long)json_integer_value(json_object_get(doc, "pid")),
		stale ? ": STALE, is balancerd running?" : "");
	if (failing && ok_time)
		fprintf(f,
			"  FAILING: %s (%lld failed ticks; last good tick "
			"%llds ago)\n",
			str(doc, "last_error"),
			(long long)json_integer_value(
				json_object_get(tot, "failed_ticks")),
			(long long)(time(NULL) - ok_time));
	else if (failing)
		fprintf(f,
			"  FAILING: %s (%lld failed ticks; no good tick "
			"yet)\n",
			str(doc, "last_error"),
			(long long)json_integer_value(
				json_object_get(tot, "failed_ticks")));
	return !stale && !failing;
}

static void print_status(json_t *doc, FILE *f)
{
	json_t *vms = json_object_get(doc, "vms"), *host, *vm, *tot;
	char a[32], b[32], c[32], d[32], last[128];
	size_t i;

	host = json_object_get(doc, "host");
	tot = json_object_get(doc, "totals");
	fprintf(f,
		"mode %s%s  MemAvailable %s of %s  PSI some %.1f%% full "
		"%.1f%%  reclaimed %s  prefaulted %s\n",
		str(doc, "mode"),
		json_is_true(json_object_get(doc, "dry_run")) ? " (dry run)"
							      : "",
		size_of(host, "mem_available", a, sizeof(a)),
		size_of(host, "mem_total", b, sizeof(b)),
		json_number_value(json_object_get(host, "psi_some_avg10")),
		json_number_value(json_object_get(host, "psi_full_avg10")),
		size_of(tot, "reclaimed", c, sizeof(c)),
		size_of(tot, "prefaulted", d, sizeof(d)));
	if (str(doc, "mode_reason")[0])
		fprintf(f, "  %s\n", str(doc, "mode_reason"));
	print_health(doc, f);
	fprintf(f, "\n%-16s %-12s %8s %8s %8s %9s  %s\n", "VM", "CLASS", "SIZE",
		"CURRENT", "COLD", "PRESSURE", "LAST ACTION");
	json_array_foreach(vms, i, vm)
	{
		const char *cls = json_is_string(json_object_get(vm, "class"))
					  ? str(vm, "class")
					  : NULL;
		json_t *psi = json_object_get(vm, "pressure");

		last_action_text(vm, last, sizeof(last));
		fprintf(f, "%-16s %-12s %8s %8s %8s %8.1f%%  %s\n",
			str(vm, "name"), cls ? cls : "(none)",
			size_of(vm, "size", a, sizeof(a)),
			size_of(vm, "current", b, sizeof(b)),
			size_of(vm, "cold", c, sizeof(c)),
			json_number_value(json_object_get(psi, "some_avg10")),
			last);
	}
	if (!json_array_size(vms))
		fprintf(f, "(no VMs)\n");
}

static int print_json(json_t *v)
{
	char *s = json_dumps(v,
			     JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

/* Exit 1 when the state is stale or the daemon's ticks fail: scripts
 * and monitoring rely on the status, not on reading the table. */
/* The same text balancerd writes for node_exporter (metrics.h). */
static int cmd_metrics(void)
{
	json_t *doc;
	int r = load_state(&doc);

	if (r < 0)
		return 1;
	r = metrics_format(stdout, doc);
	json_decref(doc);
	if (r == -EINVAL)
		fprintf(stderr, "balancerctl: %s is not a balancerd state\n",
			esc(state_file));
	else if (r < 0 || fflush(stdout) != 0)
		fprintf(stderr, "balancerctl: cannot write metrics: %s\n",
			strerror(r < 0 ? -r : errno));
	return r < 0 || ferror(stdout) ? 1 : 0;
}

static int cmd_status(void)
{
	json_t *doc;
	bool healthy;
	int r = load_state(&doc);

	if (r < 0)
		return 1;
	if (json_output)
		r = print_json(doc);
	else
		print_status(doc, stdout);
	healthy = !state_is_stale(doc, time(NULL), NULL) &&
		  !json_is_false(json_object_get(doc, "last_tick_ok"));
	if (!healthy && json_output)
		fprintf(stderr, "balancerctl: balancerd is %s\n",
			json_is_false(json_object_get(doc, "last_tick_ok"))
				? "failing"
				: "not updating its state");
	json_decref(doc);
	return r < 0 || !healthy ? 1 : 0;
}

static void on_sigint(int sig)
{
	(void)sig;
	quit = 1;
}

static int cmd_top(void)
{
	struct termios old, raw;
	bool tty = isatty(STDIN_FILENO);
	struct sigaction sa = {.sa_handler = on_sigint};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		tty = false;
	}
	while (!quit) {
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		json_t *doc;
		char err[512] = "";
		int r;

		request_fresh_state();
		r = state_read(state_file, &doc, err, sizeof(err));

		/* Home and clear: redraw in place, no curses needed. */
		fputs("\033[H\033[2J", stdout);
		if (r == 0) {
			print_status(doc, stdout);
			json_decref(doc);
		} else if (r == -ENOENT) {
			printf("balancerd not running? no state at %s\n",
			       esc(state_file));
		} else {
			printf("cannot read %s: %s\n", esc(state_file),
			       err[0] ? esc(err) : open_strerror(r));
		}
		printf("\n(q to quit)\n");
		fflush(stdout);
		/* Keys only from a terminal: a pipe or /dev/null at EOF
		 * would be readable at once, and spin. */
		if (poll(&p, tty ? 1 : 0, 1000) > 0 && (p.revents & POLLIN)) {
			char ch;

			if (read(STDIN_FILENO, &ch, 1) == 1 &&
			    (ch == 'q' || ch == 'Q'))
				break;
		}
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
	return 0;
}

/* KSM: what the class asks, whether balancerd can do it for this VM,
 * and what KSM merged of it. */
static void explain_merge(json_t *vm, json_t *ci)
{
	json_t *merge = json_object_get(ci, "merge");
	json_t *sharing = json_object_get(vm, "pages_sharing");
	bool driver = json_is_true(json_object_get(vm, "ovcmem"));
	char shared[64] = "not counted by this kernel";

	if (json_is_integer(sharing))
		snprintf(shared, sizeof(shared), "%lld pages merged",
			 (long long)json_integer_value(sharing));
	if (json_is_boolean(merge))
		printf("  merge:    %s%s; %s\n",
		       json_is_true(merge) ? "on" : "off",
		       driver ? ""
			      : " (not applied: needs an ovcmem partition)",
		       shared);
	else
		printf("  merge:    the VMM's choice; %s\n", shared);
}

static void explain_class(json_t *vm)
{
	json_t *ci = json_object_get(vm, "class_info");
	char a[32], b[32], c[32];
	usec_t age;
	char dur[32];

	if (!json_is_object(ci)) {
		printf("  class:    none: %s\n", str(vm, "match")[0]
							 ? str(vm, "match")
							 : "no class matched");
		printf("            balancerd leaves this VM alone.\n");
		return;
	}
	printf("  class:    %s\n", str(ci, "name"));
	printf("  why:      %s\n", str(vm, "match"));
	printf("  cold:     from %s\n",
	       str(vm, "cold_source")[0] ? str(vm, "cold_source") : "none");
	printf("  defined:  %s:%lld\n", str(ci, "source"),
	       (long long)json_integer_value(
		       json_object_get(ci, "source_line")));
	age = (usec_t)json_integer_value(json_object_get(ci, "cold_age_usec"));
	format_duration(age, dur, sizeof(dur));
	printf("  limits:   priority %lld, shares %lld, floor %s, ceiling %s, "
	       "pressure target %.1f%%,\n"
	       "            cold age %s, max reclaim rate %s/s, prefault "
	       "%s\n",
	       (long long)json_integer_value(json_object_get(ci, "priority")),
	       (long long)json_integer_value(json_object_get(ci, "shares")),
	       size_of(ci, "floor", a, sizeof(a)),
	       size_of(ci, "ceiling", b, sizeof(b)),
	       json_number_value(json_object_get(ci, "pressure_target")), dur,
	       size_of(ci, "max_reclaim_rate", c, sizeof(c)),
	       json_is_true(json_object_get(ci, "prefault")) ? "on" : "off");
	explain_merge(vm, ci);
}

/*
 * Whether @vm is the one @name names: its name or cgroup as published,
 * or as shown (escaped): a name that is not UTF-8 is published escaped,
 * and an admin may paste either form.
 */
static bool vm_is(json_t *vm, const char *name)
{
	static const char *const keys[] = {"name", "cgroup"};
	char shown[1024];

	escape_text(name, shown, sizeof(shown));
	for (size_t k = 0; k < 2; k++) {
		const char *v = json_string_value(json_object_get(vm, keys[k]));

		if (v && (!strcmp(v, name) || !strcmp(v, shown) ||
			  !strcmp(esc(v), shown)))
			return true;
	}
	return false;
}

static int cmd_explain(const char *name)
{
	json_t *doc, *vm, *found = NULL, *psi, *recent, *d;
	char a[32], b[32], c[32], e[32], when[32];
	size_t i;
	int r = load_state(&doc);

	if (r < 0)
		return 1;
	json_array_foreach(json_object_get(doc, "vms"), i, vm)
	{
		if (vm_is(vm, name))
			found = vm;
	}
	if (!found) {
		fprintf(stderr, "balancerctl: no VM named '%s' in %s (known:",
			esc(name), esc(state_file));
		json_array_foreach(json_object_get(doc, "vms"), i, vm)
			fprintf(stderr, " %s", str(vm, "name"));
		fprintf(stderr, ")\n");
		json_decref(doc);
		return 1;
	}
	if (json_output) {
		print_json(found);
		json_decref(doc);
		return 0;
	}
	printf("%s (cgroup %s)\n", str(found, "name"), str(found, "cgroup"));
	explain_class(found);
	psi = json_object_get(found, "pressure");
	printf("  now:      size %s, current %s, swap %s, cold %s, pressure "
	       "some %.1f%% full %.1f%%; host mode %s\n",
	       size_of(found, "size", a, sizeof(a)),
	       size_of(found, "current", b, sizeof(b)),
	       size_of(found, "swap", c, sizeof(c)),
	       size_of(found, "cold", e, sizeof(e)),
	       json_number_value(json_object_get(psi, "some_avg10")),
	       json_number_value(json_object_get(psi, "full_avg10")),
	       str(doc, "mode"));
	recent = json_object_get(found, "recent");
	printf("  decisions (oldest first):\n");
	if (!json_array_size(recent))
		printf("    none yet\n");
	json_array_foreach(recent, i, d)
	{
		const char *err =
			json_string_value(json_object_get(d, "error"));

		printf("    %s %-9s %-8s asked %s, done %s%s%s%s\n      %s\n",
		       time_of(d, "%Y-%m-%d %H:%M:%S", when, sizeof(when)),
		       str(d, "mode"), str(d, "action"),
		       size_of(d, "bytes_requested", a, sizeof(a)),
		       size_of(d, "bytes_done", b, sizeof(b)),
		       json_is_true(json_object_get(d, "partial"))
			       ? " (partial)"
			       : "",
		       json_is_true(json_object_get(d, "dry_run"))
			       ? " (dry run)"
			       : "",
		       err ? " (failed)" : "", str(d, "reason"));
		if (err)
			printf("      error: %s\n", esc(err));
	}
	json_decref(doc);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"state-file", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *cmd;
	int c;

	while ((c = getopt_long(argc, argv, "+js:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'V':
			printf("balancerctl %s\n", BALANCERD_VERSION);
			return 0;
		case 'j':
			json_output = true;
			break;
		case 's':
			state_file = optarg;
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
	cmd = argv[optind++];
	if (!strcmp(cmd, "replay"))
		return replay_main(argc - optind + 1, argv + optind - 1,
				   json_output);
	if (!strcmp(cmd, "simulate"))
		return simulate_main(argc - optind + 1, argv + optind - 1,
				     json_output);
	/* Options may follow the command too: "balancerctl status --json". */
	while ((c = getopt_long(argc, argv, "+js:h", longopts, NULL)) != -1) {
		if (c == 'j')
			json_output = true;
		else if (c == 's')
			state_file = optarg;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!strcmp(cmd, "status") && optind == argc)
		return cmd_status();
	if (!strcmp(cmd, "metrics") && optind == argc)
		return cmd_metrics();
	if (!strcmp(cmd, "top") && optind == argc)
		return cmd_top();
	if (!strcmp(cmd, "explain") && optind + 1 == argc)
		return cmd_explain(argv[optind]);
	if (!strcmp(cmd, "check") && optind < argc) {
		log_open(LOG_TARGET_STDERR);
		return balancer_check(NULL, NULL, argv + optind,
				      (size_t)(argc - optind), stdout,
				      stderr) == 0
			       ? 0
			       : 1;
	}
	fprintf(stderr, "balancerctl: unknown command or wrong arguments: %s\n",
		cmd);
	usage(stderr);
	return 2;
}
