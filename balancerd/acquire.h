/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The acquire step (acquire.c): the host's and the listed VMs' signals
 * for decide(), read from their kept-open files.
 */
#ifndef BALANCERD_ACQUIRE_H
#define BALANCERD_ACQUIRE_H

struct balancer;

/* The host's signals into b->host. 0 or a negative errno. */
int acquire_host(struct balancer *b);
/*
 * Read the listed VMs into vms[]; those gone mid-read are left out and
 * swept from the table with the others not seen. entry_of[] is stable
 * after it. 0, or a negative errno: nothing of this tick may be used
 * (n_vms is 0).
 */
int acquire_vms(struct balancer *b);

#endif /* BALANCERD_ACQUIRE_H */
