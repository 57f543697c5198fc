// SPDX-License-Identifier: GPL-2.0
/* Daemon settings, /etc/balancerd/balancerd.json: see balancerd.json(5). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "metrics.h"
#include "config.h"
#include "host_path.h"
#include "policy.h"

#define DEFAULT_CGROUP_ROOT HOST_CGROUP_ROOT_DEFAULT
#define DEFAULT_VM_GLOB	    "machine.slice/*.scope"
#define DEFAULT_POLICY_DIR  "/etc/balancerd/policies.d"
#define DEFAULT_DRIVER_PATH "/dev/ovcmem"
#define DEFAULT_STATE_FILE  "/run/balancerd/state.json"
#define DEFAULT_LOG_TARGET  "auto"
#define CONFIG_INTERVAL_MAX (3600 * USEC_PER_SEC)

static const char *const config_keys[] = {
	"description", "cgroup_root",  "vm_globs",	   "policy_dir",
	"driver_path", "state_file",   "interval",	   "dry_run",
	"log_target",  "metrics_file", "metrics_interval", "record",
	"mglru",       NULL,
};
static const char *const log_targets[] = {"auto", "journal", "stderr", NULL};

void daemon_config_free(struct daemon_config *c)
{
	if (!c)
		return;
	strv_free(c->vm_globs, c->n_vm_globs);
	c->vm_globs = NULL;
	c->n_vm_globs = 0;
}

static int config_defaults(struct daemon_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->cgroup_root, sizeof(c->cgroup_root), DEFAULT_CGROUP_ROOT);
	snprintf(c->policy_dir, sizeof(c->policy_dir), DEFAULT_POLICY_DIR);
	snprintf(c->driver_path, sizeof(c->driver_path), DEFAULT_DRIVER_PATH);
	snprintf(c->state_file, sizeof(c->state_file), DEFAULT_STATE_FILE);
	snprintf(c->log_target, sizeof(c->log_target), DEFAULT_LOG_TARGET);
	snprintf(c->metrics_file, sizeof(c->metrics_file),
		 METRICS_DEFAULT_FILE);
	c->metrics_interval = METRICS_DEFAULT_INTERVAL;
	c->vm_globs = calloc(1, sizeof(*c->vm_globs));
	if (!c->vm_globs)
		return -ENOMEM;
	c->vm_globs[0] = strdup(DEFAULT_VM_GLOB);
	if (!c->vm_globs[0]) {
		free(c->vm_globs);
		c->vm_globs = NULL;
		return -ENOMEM;
	}
	c->n_vm_globs = 1;
	return 0;
}

/* A string that must not be empty (the path keys but driver_path). */
static void check_nonempty(struct jcheck *chk, const json_t *root,
			   const char *key, char *buf, size_t len)
{
	char saved[256];

	snprintf(saved, sizeof(saved), "%s", buf);
	if (jcheck_string(chk, root, key, buf, len) > 0 && !buf[0]) {
		jcheck_push_key(chk, key);
		jcheck_error(chk, false, "expected a path, found \"\"");
		jcheck_pop(chk);
		snprintf(buf, len, "%s", saved);
	}
}

/*
 * NULL when @glob stays below cgroup_root, else why not: an absolute
 * path, or a "." or ".." component (balancerd would write memory.reclaim
 * wherever it leads).
 */
static const char *vm_glob_problem(const char *glob)
{
	if (glob[0] == '/')
		return "";
	for (const char *p = glob; *p;) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return ", which has a '.' or '..' component that "
			       "leaves it";
		p += n;
		while (*p == '/')
			p++;
	}
	return NULL;
}

static void parse_config(struct jcheck *chk, const json_t *root,
			 struct daemon_config *c)
{
	char desc[1024], target[64];
	char **globs = NULL;
	size_t n_globs = 0;

	if (!jcheck_object(chk, root, "an object at the top level",
			   config_keys))
		return;
	jcheck_string(chk, root, "description", desc, sizeof(desc));
	check_nonempty(chk, root, "cgroup_root", c->cgroup_root,
		       sizeof(c->cgroup_root));
	check_nonempty(chk, root, "policy_dir", c->policy_dir,
		       sizeof(c->policy_dir));
	/* "" publishes nothing, as --state-file "" does. */
	jcheck_string(chk, root, "state_file", c->state_file,
		      sizeof(c->state_file));
	jcheck_string(chk, root, "driver_path", c->driver_path,
		      sizeof(c->driver_path));
	jcheck_duration(chk, root, "interval", 0, CONFIG_INTERVAL_MAX,
			&c->interval);
	jcheck_bool(chk, root, "dry_run", &c->dry_run);
	/* "" writes no metrics file; so does a directory that is absent. */
	jcheck_string(chk, root, "metrics_file", c->metrics_file,
		      sizeof(c->metrics_file));
	jcheck_duration(chk, root, "metrics_interval", USEC_PER_SEC,
			CONFIG_INTERVAL_MAX, &c->metrics_interval);
	/* "" (the default) records nothing: docs/trace-format.md. */
	jcheck_string(chk, root, "record", c->record, sizeof(c->record));

	/* The multi-gen LRU, for VMs without ovcmem: cold_mglru.h. */
	if (jcheck_string(chk, root, "mglru", target, sizeof(target)) > 0 &&
	    mglru_setting_from_string(target, &c->mglru) < 0) {
		jcheck_push_key(chk, "mglru");
		jcheck_error(chk, false,
			     "expected one of \"auto\", \"enable\", \"off\", "
			     "found \"%s\"",
			     target);
		jcheck_pop(chk);
	}

	if (jcheck_string(chk, root, "log_target", target, sizeof(target)) >
	    0) {
		size_t i;

		for (i = 0; log_targets[i]; i++)
			if (strcmp(target, log_targets[i]) == 0)
				break;
		if (log_targets[i]) {
			snprintf(c->log_target, sizeof(c->log_target), "%s",
				 log_targets[i]);
		} else {
			jcheck_push_key(chk, "log_target");
			jcheck_error(chk, false,
				     "expected one of \"auto\", \"journal\", "
				     "\"stderr\", found \"%s\"",
				     target);
			jcheck_pop(chk);
		}
	}

	if (jcheck_string_list(chk, root, "vm_globs", 255, &globs, &n_globs) >
	    0) {
		bool bad = false;

		jcheck_push_key(chk, "vm_globs");
		for (size_t i = 0; i < n_globs; i++) {
			const char *why = vm_glob_problem(globs[i]);

			if (!why)
				continue;
			jcheck_push_index(chk, i);
			jcheck_error(chk, false,
				     "expected a glob relative to cgroup_root, "
				     "found \"%s\"%s",
				     globs[i], why);
			jcheck_pop(chk);
			bad = true;
		}
		jcheck_pop(chk);
		if (bad) {
			strv_free(globs, n_globs);
		} else {
			strv_free(c->vm_globs, c->n_vm_globs);
			c->vm_globs = globs;
			c->n_vm_globs = n_globs;
		}
	}
}

int daemon_config_load(const char *path, struct daemon_config *out,
		       struct policy_errors *errs)
{
	struct daemon_config c;
	struct policy_errors io = {0};
	struct jcheck chk;
	size_t before = errs->n;
	char *text = NULL;
	size_t len = 0;
	json_t *root;
	int r;

	r = config_defaults(&c);
	if (r < 0)
		return r;
	/* A missing file means defaults: read it aside, so that case adds
	 * nothing to @errs. */
	r = jcheck_read_file(path, &text, &len, &io);
	if (r == -ENOENT) {
		policy_errors_free(&io);
		*out = c;
		return 0;
	}
	if (r < 0) {
		for (size_t i = 0; i < io.n; i++)
			policy_errors_add(errs, io.items[i].file, 0, 0, "",
					  "%s", io.items[i].message);
		policy_errors_free(&io);
		daemon_config_free(&c);
		return r;
	}
	policy_errors_free(&io);

	root = jcheck_parse(path, text, len, errs);
	if (root) {
		jcheck_init(&chk, path, text, len, errs);
		parse_config(&chk, root, &c);
		json_decref(root);
		if (chk.enomem)
			r = -ENOMEM;
	}
	free(text);
	if (r == 0 && errs->n > before)
		r = -EINVAL;
	if (r < 0) {
		daemon_config_free(&c);
		return r;
	}
	*out = c;
	return 0;
}
