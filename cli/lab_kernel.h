/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl lab up --datapath kernel: the lab on the Linux kernel instead of
 * hvnetd (docs/labs.md, docs/nftables.md). A switch namespace NAME.switch
 * holds one Linux bridge per segment and the policy as nftables rules
 * (firewall/nft.h); each guest NIC is a veth pair from its bridge into the
 * guest's namespace. The state file has the format of an hvnetd lab, plus
 * "datapath": "kernel" and "switch_netns", so that lab down, status and
 * exec (cli/lab.c) work on it unchanged.
 */
#ifndef HV_CLI_LAB_KERNEL_H
#define HV_CLI_LAB_KERNEL_H

#include <jansson.h>
#include <stdbool.h>

/* Bring FILE up as lab NAME (validated by the caller) on the kernel
 * datapath; progress on stdout, errors on stderr. On failure everything
 * made is removed (lab down NAME). Returns the exit code (0, 1). */
int hv_lab_kernel_up(const char *file, const char *name);

/* lab down's part for a kernel lab: remove the switch namespace (its
 * bridges, veth ends and nftables tables go with it) recorded in STATE.
 * 0 also when there is none or it is already gone; -errno otherwise, with
 * the reason on stderr. */
int hv_lab_kernel_teardown(json_t *state, bool verbose);

#endif
