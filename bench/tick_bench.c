// SPDX-License-Identifier: GPL-2.0
/*
 * balancerd tick benchmark: one tick over a fake tree of N VMs (discover,
 * read every VM's cgroup files, decide, act, log, publish the state file).
 *
 *   tick_bench [--vms N] [--ticks T] [--daemon PATH] [--no-state]
 *              [--strace] [--steady]
 *
 * Prints CPU time per tick (getrusage, user + system), wall time per tick,
 * the cost per VM, the benchmark's peak RSS, the CPU share at a 1 s
 * interval, and with --daemon the peak RSS of the real daemon running T
 * ticks on the same tree; with --strace also the daemon's system calls
 * per VM and steady tick (strace -c -f over two runs of different
 * lengths: the difference is the steady ticks, without start-up).
 *
 * What a live host does, not what the fixture needs: the tick's entries
 * go through the journal sink, every field formatted as journald would
 * get it, to a stand-in for sd_journal_sendv() that only counts (the
 * socket write is one sendmsg(2) per entry, journald's work is not
 * ours); the daemon runs log to /dev/null, one write(2) per entry. The
 * fake tree's memory.reclaim is a plain file, which act.c truncates
 * after each write (cgroupfs needs no such thing): those ftruncate(2)s
 * are counted apart and left out of the figure per VM.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/unit/fake_tree.h"
#include "log.h"
#include "manager.h"
#include "tick.h"

#define SEC 1000000ULL
/* balancerd.service's LimitNOFILE: a VM keeps its files open only within
 * the descriptor limit, so a shell's limit would measure a daemon that
 * reopens most VMs' files every tick. */
#define UNIT_NOFILE 524288
/* --steady gives up if the VMs still act after this many ticks. */
#define STEADY_WARMUP_MAX 2000

/* The unit's descriptor limit for this process and the daemons it runs,
 * when allowed (root); else what there is, said once. */
static void set_unit_nofile(void)
{
	struct rlimit rl = {UNIT_NOFILE, UNIT_NOFILE};

	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < UNIT_NOFILE)
		printf("note: RLIMIT_NOFILE hard limit %llu, not the unit's "
		       "%d: VMs beyond it reopen their files every tick\n",
		       (unsigned long long)rl.rlim_max, UNIT_NOFILE);
}

static unsigned long journal_entries, journal_bytes;

/* sd_journal_sendv()'s stand-in: the entry is built, then dropped. */
static int journal_count(const struct iovec *iov, int n)
{
	journal_entries++;
	for (int i = 0; i < n; i++)
		journal_bytes += iov[i].iov_len;
	return 0;
}

static double tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_sec(ru.ru_utime) + tv_sec(ru.ru_stime);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* The name of VM @i, as build_tree() made it. */
static void vm_name(unsigned int i, char *buf, size_t len)
{
	static const char *const prefix[] = {"web", "batch", "vm"};

	snprintf(buf, len, "%s-%u", prefix[i % 3], i);
}

static void build_tree(struct fake_tree *t, unsigned int n)
{
	char name[32], pol[65536];
	FILE *f = fopen("policies/default.json", "re");
	size_t len;

	if (!f) {
		fprintf(stderr, "run from the repository root: %s\n",
			strerror(errno));
		exit(1);
	}
	len = fread(pol, 1, sizeof(pol) - 1, f);
	fclose(f);
	pol[len] = 0;
	/* 256 GiB host with 64 GiB available: proactive, every VM trims. */
	fake_tree_create(t, 256 * GiB, 64 * GiB);
	fake_policy(t, "50-default.json", pol);
	for (unsigned int i = 0; i < n; i++) {
		vm_name(i, name, sizeof(name));
		fake_vm_add(t, name, 2 * GiB, 4 * GiB);
	}
}

/* The daemon's interval in these runs: long enough that every VM gets a
 * step over MIN_STEP (decide.md), short enough to run many ticks. */
#define DAEMON_INTERVAL "100ms"

/* System calls of the daemon running @ticks ticks on @t, by strace -c
 * -f, or -1; those that only the fixture needs (ftruncate) in
 * *@fixture_only. */
static long daemon_syscalls(const char *path, struct fake_tree *t,
			    unsigned int ticks, long *fixture_only)
{
	char out[600], nticks[16], line[256];
	long calls = -1;
	int status;
	FILE *f;
	pid_t pid;

	*fixture_only = 0;
	snprintf(out, sizeof(out), "%s/strace.txt", t->root);
	snprintf(nticks, sizeof(nticks), "%u", ticks);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		execlp("strace", "strace", "-f", "-c", "-o", out, path,
		       "--root", t->root, "--config", t->config, "--ticks",
		       nticks, "--interval", DAEMON_INTERVAL, "--log-target",
		       "stderr", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	f = fopen(out, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char name[64];
		double pct, secs;
		long usecs, n, errors;

		/* "100.00    0.123456           1    123456      789 total",
		 * the errors column empty when there were none. */
		if (sscanf(line, "%lf %lf %ld %ld %ld %63s", &pct, &secs,
			   &usecs, &n, &errors, name) == 6 ||
		    sscanf(line, "%lf %lf %ld %ld %63s", &pct, &secs, &usecs,
			   &n, name) == 5) {
			if (!strcmp(name, "total"))
				calls = n;
			else if (!strcmp(name, "ftruncate"))
				*fixture_only = n;
		}
	}
	if (f)
		fclose(f);
	return calls;
}

/* Peak RSS of the real daemon running @ticks ticks on @t, in KiB. */
static long daemon_rss(const char *path, struct fake_tree *t,
		       unsigned int ticks, double *cpu)
{
	char nticks[16];
	struct rusage ru;
	int status;
	pid_t pid;

	snprintf(nticks, sizeof(nticks), "%u", ticks);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		execl(path, path, "--root", t->root, "--config", t->config,
		      "--ticks", nticks, "--interval", DAEMON_INTERVAL,
		      "--log-target", "stderr", (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	*cpu = tv_sec(ru.ru_utime) + tv_sec(ru.ru_stime);
	return ru.ru_maxrss;
}

/*
 * What the kernel would have done with this tick's memory.reclaim
 * writes: memory.current less what was asked (the fixture's files do not
 * shrink by themselves). Outside the measured time. Returns how many VMs
 * were asked.
 */
static unsigned int apply_reclaims(struct fake_tree *t, unsigned int n)
{
	unsigned int asked = 0;
	char name[32];

	for (unsigned int i = 0; i < n; i++) {
		unsigned long long cur, want;

		vm_name(i, name, sizeof(name));
		want = strtoull(fake_vm_read(t, name, "memory.reclaim"), NULL,
				10);
		if (!want)
			continue;
		asked++;
		cur = strtoull(fake_vm_read(t, name, "memory.current"), NULL,
			       10);
		fake_vm_current(t, name, cur > want ? cur - want : 0);
		fake_vm_write(t, name, "memory.reclaim", "");
	}
	return asked;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"vms", required_argument, NULL, 'n'},
		{"ticks", required_argument, NULL, 't'},
		{"daemon", required_argument, NULL, 'd'},
		{"no-state", no_argument, NULL, 's'},
		{"strace", no_argument, NULL, 'S'},
		{"steady", no_argument, NULL, 'Q'},
		{0},
	};
	unsigned int n = 1000, ticks = 20;
	const char *daemon = NULL;
	bool count_syscalls = false, steady = false;
	struct balancer_options o = {0};
	struct fake_tree t;
	struct balancer *b;
	double c0, w0, cpu, wall;
	unsigned int warmup = 0;
	uint64_t before;
	usec_t now = 1000 * SEC;
	int c, r;

	while ((c = getopt_long(argc, argv, "n:t:d:sSQ", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 't':
			ticks = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			daemon = optarg;
			break;
		case 's':
			o.state_file = ""; /* what publishing costs */
			break;
		case 'S':
			count_syscalls = true;
			break;
		case 'Q':
			steady = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [--vms N] [--ticks T] "
				"[--daemon PATH] [--no-state] [--strace] "
				"[--steady]\n",
				argv[0]);
			return 2;
		}
	}
	if (!ticks)
		ticks = 1;
	set_unit_nofile();
	build_tree(&t, n);
	if (!freopen("/dev/null", "w", stderr))
		return 1;
	log_set_journal_sendv(journal_count);
	log_open(LOG_TARGET_JOURNAL);
	o.log_target_given = true;
	o.root = t.root;
	o.config_path = t.config;
	r = balancer_new(&o, &b);
	if (r < 0) {
		printf("balancer_new: %s\n", strerror(-r));
		return 1;
	}
	/* Warm the page cache and the VM table: the steady state is what
	 * runs every second for months. --steady: until the VMs have given
	 * what the policy lets them give and sit quiet (the fixture's
	 * reclaims applied between ticks, as the kernel would). */
	for (unsigned int i = 0; i < (steady ? STEADY_WARMUP_MAX : 2);
	     i++, now += SEC) {
		balancer_tick_at(b, now);
		if (steady && !apply_reclaims(&t, n) && i >= 2) {
			warmup = i + 1;
			break;
		}
	}
	before = balancer_totals(b)->actions;
	cpu = wall = 0;
	for (unsigned int i = 0; i < ticks; i++, now += SEC) {
		c0 = cpu_now();
		w0 = wall_now();
		if (balancer_tick_at(b, now) < 0)
			return 1;
		cpu += cpu_now() - c0;
		wall += wall_now() - w0;
		if (steady)
			apply_reclaims(&t, n);
	}
	cpu /= ticks;
	wall /= ticks;
	if (steady)
		printf("vms %u: steady after %u warm-up ticks%s, %.2f "
		       "actions per measured tick\n",
		       n, warmup, warmup ? "" : " (not reached)",
		       (double)(balancer_totals(b)->actions - before) / ticks);
	printf("vms %u ticks %u%s: cpu/tick %.3f ms, wall/tick %.3f ms, "
	       "cpu share at 1 s interval %.3f%% of a core, "
	       "per VM %.2f us\n",
	       n, ticks, steady ? " steady" : "", cpu * 1e3, wall * 1e3,
	       cpu * 100.0, n ? cpu * 1e6 / n : 0.0);
	printf("vms %u: benchmark process rss %ld KiB (peak %ld KiB), actions "
	       "%" PRIu64 ", journal entries %lu (%lu bytes of fields)\n",
	       n, rss_kib("VmRSS:"), rss_kib("VmHWM:"),
	       balancer_totals(b)->actions, journal_entries, journal_bytes);
	balancer_free(b);
	if (daemon) {
		double dcpu = 0;
		long kib = daemon_rss(daemon, &t, ticks, &dcpu);

		if (kib < 0)
			printf("vms %u: %s did not run cleanly\n", n, daemon);
		else
			printf("vms %u: balancerd peak rss %ld KiB (%.1f MiB), "
			       "cpu %.3f ms/tick over %u ticks incl. start\n",
			       n, kib, kib / 1024.0, dcpu * 1e3 / ticks, ticks);
	}
	if (daemon && count_syscalls) {
		/* Steady ticks only: the difference of two runs. */
		unsigned int short_run = 5, long_run = 5 + ticks;
		long fa, fz, a = daemon_syscalls(daemon, &t, short_run, &fa);
		long z = daemon_syscalls(daemon, &t, long_run, &fz);

		if (a < 0 || z < 0 || z < a)
			printf("vms %u: strace -c did not run (is strace "
			       "installed?)\n",
			       n);
		else
			printf("vms %u: system calls per VM and steady tick "
			       "%.2f (strace -c -f: %ld over %u ticks, %ld "
			       "over %u; without the fixture's ftruncate, "
			       "%.2f per VM and tick)\n",
			       n,
			       (double)((z - fz) - (a - fa)) /
				       (long_run - short_run) / n,
			       z - fz, long_run, a - fa, short_run,
			       (double)(fz - fa) / (long_run - short_run) / n);
	}
	fake_tree_destroy(&t);
	return 0;
}
