/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_CLI_MIRROR_H
#define HV_CLI_MIRROR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * hvnetctl's mirror and capture commands (docs/mirror.md).
 *
 * hv_cli_mirror_add_args: the words after `mirror add` (NAME first) into the
 * arguments of mirror.add in ARGS. 0, or -EINVAL with the bad word in ERR.
 */
int hv_cli_mirror_add_args(int argc, char **argv, json_t *args, char *err, size_t errlen);
/* A mirror.show result (an object) or a mirror.list result (an array), as text. */
void hv_cli_print_mirrors(json_t *r);
/*
 * `hvnetctl capture PORT|SEGMENT [-f FILTER] [-c COUNT] [-s SNAPLEN] -w FILE|-`
 * (ARGV[0] is "capture"). Returns the exit status.
 */
int hv_cli_capture(int argc, char **argv, const char *socket_path, bool json);

#endif
