/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel samepage merging, as seen per VM: how many of the VMM's pages
 * KSM has merged into shared ones (/proc/PID/ksm_merging_pages, Linux
 * 5.19 and later). Shown in the state file and the metrics; whether a
 * VM's guest RAM is mergeable at all is the class's "merge" key
 * (decide.c) or the VMM's own madvise.
 */
#ifndef BALANCERD_KSM_H
#define BALANCERD_KSM_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The text of /proc/PID/ksm_merging_pages: one decimal count and a
 * newline. 0 or -EINVAL / -ERANGE. Pure.
 */
int ksm_parse_merging_pages(const char *text, uint64_t *ret);

/*
 * Read process @pid's merged page count below @root ("/" or a test
 * tree). 0; -ENOENT when the process or the file does not exist (an
 * older kernel, a process that exited), or another negative errno.
 */
int ksm_read_merging_pages(const char *root, pid_t pid, uint64_t *ret);

#endif /* BALANCERD_KSM_H */
