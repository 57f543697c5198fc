/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The MGLRU cold source (cold_source.h, cold_mglru.c): the kernel's own
 * page ages, from the multi-gen LRU's debugfs file (lru_gen.h), for VMs
 * without an ovcmem partition.
 */
#ifndef BALANCERD_COLD_MGLRU_H
#define BALANCERD_COLD_MGLRU_H

#include <stddef.h>

/* balancerd.json "mglru" (balancerd.json(5)). */
enum mglru_setting {
	MGLRU_AUTO,   /* use it when the kernel has it on */
	MGLRU_ENABLE, /* turn it on at start */
	MGLRU_OFF,    /* never use it */
};

int mglru_setting_from_string(const char *s, enum mglru_setting *ret);
const char *mglru_setting_name(enum mglru_setting s);

struct cold_mglru;

/*
 * The source's state for a daemon under @root ("/" in production), as
 * @setting says: "enable" writes y to sys/kernel/mm/lru_gen/enabled when
 * it is off (and logs it); "auto" logs the one command that would. 0 and
 * *@ret set, or 0 and *@ret NULL when the source is not available, with
 * the reason in @why (for the journal and the source choice); a negative
 * errno only for -ENOMEM.
 */
int cold_mglru_open(const char *root, enum mglru_setting setting,
		    struct cold_mglru **ret, char *why, size_t why_len);
void cold_mglru_free(struct cold_mglru *m);

#endif /* BALANCERD_COLD_MGLRU_H */
