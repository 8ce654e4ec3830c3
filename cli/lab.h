/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_CLI_LAB_H
#define HV_CLI_LAB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * hvnetctl lab up | down | status | exec | console | graph: ARGV[0] is "lab"; the
 * words after it are not touched by hvnetctl's option parsing (lab exec
 * passes them to the command), so --json may also be given here. Returns
 * the exit code: 0 ok, 1 failed (what failed is on stderr), 2 usage.
 * lab exec returns only when the command could not be started.
 */
int hv_cli_lab(int argc, char **argv, bool json);

/* "hvnetctl: lab: MESSAGE" on stderr; progress lines on stdout, flushed so
 * that a slow step shows. For both datapaths' lab code. */
void hv_lab_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hv_lab_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Before a lab with QEMU guests creates anything: QEMU can run and the guest
 * image is built (or rebuilt when stale). 0, or 1 with what is wrong printed.
 * Both datapaths' lab up use it. */
struct hv_prog;
int hv_lab_qemu_prepare(const struct hv_prog *prog);

/* A guest's entry in a lab's state file (name, kind, instance, its NICs with
 * port, segment, MTU, addresses and MAC), which lab status and lab down read
 * back; both datapaths write it. */
struct hv_vmm_nic;
json_t *hv_lab_guest_json(const char *name, const char *kind, const char *instance,
			  const struct hv_vmm_nic *nics, size_t n_nics);

#endif
