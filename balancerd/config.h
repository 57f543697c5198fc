/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Daemon settings, /etc/balancerd/balancerd.json (balancerd.json(5)):
 * where cgroups, policies, the driver and the published files are, and
 * the steady interval. Loading is the only I/O; errors are collected as
 * the policy loader's are (json_check.h).
 */
#ifndef BALANCERD_CONFIG_H
#define BALANCERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "cold_mglru.h"
#include "json_check.h"
#include "units.h"

#define BALANCERD_CONFIG_PATH "/etc/balancerd/balancerd.json"

struct daemon_config {
	char cgroup_root[256]; /* "/sys/fs/cgroup" */
	char **vm_globs;       /* cgroup paths relative to cgroup_root,
				* default "machine.slice/\*.scope" */
	size_t n_vm_globs;
	char policy_dir[256];	 /* "/etc/balancerd/policies.d" */
	char driver_path[256];	 /* "/dev/ovcmem"; "" disables */
	char state_file[256];	 /* "/run/balancerd/state.json" */
	char metrics_file[256];	 /* node_exporter textfile; "" disables */
	char record[256];	 /* trace of every tick; "" (default) off */
	usec_t metrics_interval; /* at most one metrics write per this */
	usec_t interval;	 /* 0: take the policy's */
	bool dry_run;
	char log_target[16];	  /* "auto", "journal", "stderr" */
	enum mglru_setting mglru; /* "auto" (default), "enable", "off" */
};

/* Defaults, then the file if it exists (-ENOENT for a missing file is not
 * an error: defaults apply). Errors as for policies; on error @out is
 * untouched. On success free @out with daemon_config_free(). */
int daemon_config_load(const char *path, struct daemon_config *out,
		       struct policy_errors *errs);
void daemon_config_free(struct daemon_config *c);

#endif /* BALANCERD_CONFIG_H */
