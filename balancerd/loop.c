// SPDX-License-Identifier: GPL-2.0
/*
 * The event loop, and nothing else: the steady timer, PSI triggers (the
 * host's and each VM's), SIGHUP reload and policy directory changes,
 * SIGTERM, sd_notify and the watchdog, as systemd-oomd's manager wires
 * its sd-event sources. Each wake-up runs balancer_tick_at() (tick.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "act.h"
#include "host_path.h"
#include "log.h"
#include "loop.h"
#include "manager.h"
#include "publish.h"
#include "tick.h"
#include "vm_table.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/*
 * PSI triggers hold a file descriptor each: beyond this many VMs the rest
 * are watched by the steady tick (and the host trigger) only, so that the
 * descriptors left are plenty for reading cgroup files.
 */
#define MAX_VM_TRIGGERS 512

/* Quiet time after the last policy file change before reloading. */
#define POLICY_SETTLE (250 * USEC_PER_MSEC)

/* PSI trigger window: the kernel accepts 500 ms .. 10 s; unprivileged
 * triggers need a multiple of 2 s, so 2 s works for both. */
#define PSI_WINDOW_US (2 * USEC_PER_SEC)
/* Host trigger: wake when tasks stalled 10% of the window. */
#define PSI_HOST_STALL_US (PSI_WINDOW_US / 10)
/* The kernel's minimum stall for a trigger. */
#define PSI_MIN_STALL_US (50 * USEC_PER_MSEC)

static int run_tick(struct balancer *b)
{
	char status[256];

	b->last_tick = now_monotonic();
	/* A failed tick is published and retried next time, not fatal. */
	(void)balancer_tick_at(b, b->last_tick);
	sd_notifyf(false, "STATUS=%s",
		   balancer_status(b, status, sizeof(status)));
	if (b->max_ticks && balancer_ticks_run(b) >= b->max_ticks)
		return sd_event_exit(b->event, 0);
	return 0;
}

static int on_deferred(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	return run_tick(userdata);
}

/* A pressure trigger fired: tick now, or as soon as the rate allows. */
static int request_tick(struct balancer *b)
{
	usec_t now = now_monotonic();
	int r;

	if (now - b->last_tick >= BALANCER_MIN_TICK_GAP)
		return run_tick(b);
	if (b->deferred) {
		int enabled = SD_EVENT_OFF;

		sd_event_source_get_enabled(b->deferred, &enabled);
		if (enabled != SD_EVENT_OFF)
			return 0;
		r = sd_event_source_set_time(
			b->deferred, b->last_tick + BALANCER_MIN_TICK_GAP);
		if (r >= 0)
			r = sd_event_source_set_enabled(b->deferred,
							SD_EVENT_ONESHOT);
		return r;
	}
	return sd_event_add_time(b->event, &b->deferred, CLOCK_MONOTONIC,
				 b->last_tick + BALANCER_MIN_TICK_GAP, 0,
				 on_deferred, b);
}

static int on_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct balancer *b = userdata;

	(void)fd;
	if (revents & EPOLLERR) {
		/* The cgroup went away; its entry is swept next tick. */
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return 0;
	}
	return request_tick(b);
}

/*
 * Arm a PSI trigger on @path. Returns 1 and *@ret, 0 when the file cannot
 * carry a trigger (a fixture tree's regular file, or a kernel without
 * PSI), or a negative errno.
 */
static int psi_trigger(struct balancer *b, const char *path, usec_t stall,
		       sd_event_source **ret)
{
	char trig[64];
	struct statfs sfs;
	int fd, r;

	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == EACCES ? 0 : -errno;
	if (fstatfs(fd, &sfs) < 0 ||
	    ((unsigned long)sfs.f_type != PROC_SUPER_MAGIC &&
	     (unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)) {
		/* Writing a trigger into a fixture would overwrite it. */
		close(fd);
		if (!b->psi_skip_logged)
			log_debug("%s is not a kernel pressure file: PSI "
				  "triggers off, steady ticks only",
				  path);
		b->psi_skip_logged = true;
		return 0;
	}
	if (stall < PSI_MIN_STALL_US)
		stall = PSI_MIN_STALL_US;
	snprintf(trig, sizeof(trig), "some %" PRIu64 " %" PRIu64, stall,
		 (uint64_t)PSI_WINDOW_US);
	if (write(fd, trig, strlen(trig) + 1) < 0) {
		r = -errno;
		close(fd);
		/* Steady ticks still run: a warning, not a failure. */
		log_warning_errno(r, "cannot set PSI trigger on %s", path);
		return 0;
	}
	r = sd_event_add_io(b->event, ret, fd, EPOLLPRI, on_psi, b);
	if (r < 0) {
		close(fd);
		return r;
	}
	sd_event_source_set_io_fd_own(*ret, true);
	return 1;
}

void psi_trigger_vm(struct balancer *b, struct vm_entry *e)
{
	char path[PATH_MAX];
	const struct policy_class *c;
	usec_t stall = PSI_HOST_STALL_US;
	struct act_context ctx = {.root = b->root,
				  .cgroup_root = b->cfg.cgroup_root};

	if (e->psi_tried || b->psi_skip_logged)
		return;
	e->psi_tried = true;
	/* Each trigger holds a file descriptor for the VM's lifetime. */
	if (b->n_vm_triggers >= MAX_VM_TRIGGERS) {
		if (!b->trigger_cap_logged)
			log_notice("%u VMs have PSI triggers; the others are "
				   "watched by the steady tick only",
				   MAX_VM_TRIGGERS);
		b->trigger_cap_logged = true;
		return;
	}
	if (act_cgroup_path(&ctx, e->cgroup, "memory.pressure", path,
			    sizeof(path)) < 0)
		return;
	/* Wake when the VM's stall reaches its class's pressure target. */
	c = e->class;
	if (c && c->pressure_target > 0)
		stall = (usec_t)(c->pressure_target / 100.0 * PSI_WINDOW_US);
	if (psi_trigger(b, path, stall, &e->psi) == 1)
		b->n_vm_triggers++;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct balancer *b = userdata;
	int r;

	(void)usec;
	r = run_tick(b);
	if (r < 0)
		return r;
	r = sd_event_source_set_time_relative(s, b->interval);
	if (r >= 0)
		r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return r;
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct balancer *b = userdata;

	(void)s;
	(void)usec;
	log_info("policy directory %s changed, reloading", b->policy_dir);
	balancer_reload(b);
	return 0;
}

/*
 * A policy file was written, moved in or removed. Editors and config
 * management write several files, and temp files, in a burst: reload once
 * the directory has been quiet for POLICY_SETTLE.
 */
static int on_policy_change(sd_event_source *s, const struct inotify_event *ev,
			    void *userdata)
{
	struct balancer *b = userdata;
	size_t len = ev->len ? strlen(ev->name) : 0;
	int r;

	(void)s;
	if (len < 5 || strcmp(ev->name + len - 5, ".json") != 0)
		return 0; /* temp files, backups, *.dist */
	if (b->settle) {
		r = sd_event_source_set_time_relative(b->settle, POLICY_SETTLE);
		if (r >= 0)
			r = sd_event_source_set_enabled(b->settle,
							SD_EVENT_ONESHOT);
		return r;
	}
	return sd_event_add_time_relative(b->event, &b->settle, CLOCK_MONOTONIC,
					  POLICY_SETTLE, 0, on_settled, b);
}

/* Watch b->policy_dir (again, after a reload that changed it). */
int watch_policy_dir(struct balancer *b)
{
	int r;

	b->watch = sd_event_source_disable_unref(b->watch);
	r = sd_event_add_inotify(b->event, &b->watch, b->policy_dir,
				 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
					 IN_DELETE | IN_ONLYDIR,
				 on_policy_change, b);
	if (r < 0)
		log_warning_errno(r,
				  "cannot watch %s: reload with SIGHUP after "
				  "editing policies",
				  b->policy_dir);
	return r;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *userdata)
{
	struct balancer *b = userdata;

	(void)s;
	if (si->ssi_signo == SIGHUP) {
		sd_notify(false, "RELOADING=1");
		balancer_reload(b);
		sd_notify(false, "READY=1");
		return 0;
	}
	log_info("signal %s received, exiting", strsignal((int)si->ssi_signo));
	return sd_event_exit(b->event, 0);
}

/*
 * balancerctl asks for a fresh state file by writing
 * <state_file>.request (balancerctl.c): publish now, what the latest
 * tick saw, even when the state file is not due (publish.c).
 */
static int on_request(sd_event_source *s, const struct inotify_event *ev,
		      void *userdata)
{
	struct balancer *b = userdata;
	const char *base = strrchr(b->state_file, '/');

	(void)s;
	base = base ? base + 1 : b->state_file;
	if (!ev->len || strncmp(ev->name, base, strlen(base)) ||
	    strcmp(ev->name + strlen(base), STATE_REQUEST_SUFFIX))
		return 0;
	(void)balancer_publish_now(b); /* says why if it fails */
	return 0;
}

int watch_publish_requests(struct balancer *b)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(b->state_file, '/');
	int r;

	b->request_watch = sd_event_source_disable_unref(b->request_watch);
	if (!b->state_file[0] || !b->event)
		return 0;
	if (!slash)
		copy_str(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s",
			 slash == b->state_file ? 1
						: (int)(slash - b->state_file),
			 b->state_file);
	r = sd_event_add_inotify(b->event, &b->request_watch, dir,
				 IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR,
				 on_request, b);
	if (r < 0)
		log_debug("cannot watch %s for balancerctl's requests (%s): "
			  "the state file is fresh only as often as it is "
			  "written",
			  dir, strerror(-r));
	return r;
}

int balancer_run(struct balancer *b)
{
	char path[PATH_MAX + 32];
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(-errno, "sigprocmask");
	r = sd_event_new(&b->event);
	if (r < 0)
		return log_error_errno(r, "cannot create event loop");
	r = sd_event_add_signal(b->event, NULL, SIGTERM, on_signal, b);
	if (r >= 0)
		r = sd_event_add_signal(b->event, NULL, SIGINT, on_signal, b);
	if (r >= 0)
		r = sd_event_add_signal(b->event, NULL, SIGHUP, on_signal, b);
	if (r < 0)
		return log_error_errno(r, "cannot watch signals");
	r = sd_event_add_time_relative(b->event, &b->timer, CLOCK_MONOTONIC,
				       b->interval, b->interval / 20, on_timer,
				       b);
	if (r < 0)
		return log_error_errno(r, "cannot arm the tick timer");
	/* Pings WATCHDOG=1 itself when $WATCHDOG_USEC is set. */
	if (sd_watchdog_enabled(false, &b->watchdog_usec) <= 0)
		b->watchdog_usec = 0;
	r = sd_event_set_watchdog(b->event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog");
	host_path(path, sizeof(path), b->root, "/proc/pressure/memory");
	watch_policy_dir(b);
	watch_publish_requests(b);
	r = psi_trigger(b, path, PSI_HOST_STALL_US, &b->host_psi);
	if (r < 0)
		log_warning_errno(r, "no PSI trigger on %s", path);

	r = run_tick(b); /* the first tick at once, not an interval late */
	if (r < 0)
		return log_error_errno(r, "first tick");
	sd_notify(false, "READY=1");
	if (!b->max_ticks || balancer_ticks_run(b) < b->max_ticks)
		r = sd_event_loop(b->event);
	sd_notify(false, "STOPPING=1");
	if (r < 0)
		return log_error_errno(r, "event loop failed");
	/* --ticks N: the exit status says whether the last one failed. */
	if (b->max_ticks && b->last_error[0]) {
		log_error("the last of %" PRIu64 " ticks failed (%" PRIu64
			  " failed in all): %s",
			  balancer_ticks_run(b), b->totals.failed_ticks,
			  b->last_error);
		return b->host_err < 0 ? b->host_err : -EIO;
	}
	return 0;
}
