/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_CLI_LAB_H
#define HV_CLI_LAB_H

#include <stdbool.h>

/*
 * hvnetctl lab up | down | status | exec | console | graph: ARGV[0] is "lab"; the
 * words after it are not touched by hvnetctl's option parsing (lab exec
 * passes them to the command), so --json may also be given here. Returns
 * the exit code: 0 ok, 1 failed (what failed is on stderr), 2 usage.
 * lab exec returns only when the command could not be started.
 */
int hv_cli_lab(int argc, char **argv, bool json);

#endif
