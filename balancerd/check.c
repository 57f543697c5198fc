// SPDX-License-Identifier: GPL-2.0
/* balancerd --check and balancerctl check: validate without running. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "config.h"
#include "escape.h"
#include "check.h"
#include "manager.h"
#include "policy.h"
#include "safe_open.h"

int balancer_check(const char *config_path, const char *policy_dir,
		   char *const *files, size_t n_files, FILE *out, FILE *err)
{
	struct policy_errors errs = {0};
	struct daemon_config cfg = {0};
	struct policy p = {0};
	bool have_cfg = false;
	const char *what;
	char buf[1024], shown[PATH_MAX * ESCAPE_GROWTH],
		shown2[sizeof(buf) * ESCAPE_GROWTH];
	int r = 0, rc;

	if (n_files) {
		r = policy_load_files((const char *const *)files, n_files, &p,
				      &errs);
		what = n_files == 1 ? files[0] : "the given files";
	} else {
		if (config_path) {
			r = daemon_config_load(config_path, &cfg, &errs);
			have_cfg = r >= 0;
		}
		if (!policy_dir)
			policy_dir = have_cfg ? cfg.policy_dir
					      : "/etc/balancerd/policies.d";
		what = policy_dir;
		if (r >= 0)
			r = policy_load_dir(policy_dir, &p, &errs);
		else {
			/* Still check the policies: report everything. */
			struct policy_errors e2 = {0};

			if (policy_load_dir(policy_dir, &p, &e2) == 0)
				policy_free(&p);
			for (size_t i = 0; i < e2.n; i++) {
				policy_error_format(&e2.items[i], buf,
						    sizeof(buf));
				fprintf(err, "%s\n", buf);
			}
			policy_errors_free(&e2);
		}
	}
	for (size_t i = 0; i < errs.n; i++) {
		policy_error_format(&errs.items[i], buf, sizeof(buf));
		fprintf(err, "%s\n", buf);
	}
	if (r >= 0 && have_cfg &&
	    balancer_settings_check(policy_dir, cfg.state_file, buf,
				    sizeof(buf)) < 0) {
		/* The policies are fine, the settings together are not. */
		fprintf(err, "%s: %s\n",
			escape_text(config_path, shown, sizeof(shown)),
			escape_text(buf, shown2, sizeof(shown2)));
		policy_free(&p);
		r = -EINVAL;
	}
	rc = r;
	escape_text(what, shown, sizeof(shown));
	if (r < 0 && errs.n == 0 && r != -EINVAL)
		fprintf(err, "%s: %s\n", shown, open_strerror(r));
	if (r >= 0) {
		fprintf(out, "%s: ok, %zu class%s\n", shown, p.n_classes,
			p.n_classes == 1 ? "" : "es");
		policy_free(&p);
		rc = 0;
	}
	policy_errors_free(&errs);
	if (have_cfg)
		daemon_config_free(&cfg);
	return rc;
}
