/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_CLI_POLICY_H
#define HV_CLI_POLICY_H

#include <stdbool.h>

/* hvnetctl policy ...: ARGV[0] is "policy"; returns the exit code */
int hv_cli_policy(int argc, char **argv, bool json);

#endif
