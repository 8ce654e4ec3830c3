/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_CONTROL_H
#define HV_VSWITCH_CONTROL_H

/*
 * What the handlers of control requests share (control.c, fwctl.c). Control
 * thread only.
 */

#include <jansson.h>

#include "vswitch/vswitch.h"

struct hv_control;

/* What a handler reports back besides its result. */
struct reply_err {
	int err; /* positive errno; 0 = ok */
	char msg[2048];
	const char *hint;
};

typedef json_t *(*handler_fn)(struct hv_control *c, json_t *args, struct reply_err *e);

struct hv_ctl_handler {
	const char *cmd;
	handler_fn fn;
};

/* Record an error in E; returns NULL for `return ctl_fail(...)`. */
json_t *ctl_fail(struct reply_err *e, int err, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* args.KEY as a string; NULL (with an error in E only when REQUIRED or mistyped). */
const char *ctl_arg_str(json_t *args, const char *key, bool required, struct reply_err *e);
/* args.KEY into *OUT when present; -EINVAL with an error in E when mistyped. */
int ctl_arg_u32(json_t *args, const char *key, uint32_t *out, struct reply_err *e);
struct hv_switch *ctl_switch(struct hv_control *c);

/* fwctl.c: policy.*, fw.*, ct.* */
extern const struct hv_ctl_handler hv_fw_handlers[];
extern const size_t hv_fw_n_handlers;

/* gwctl.c: route.show, neigh.show */
extern const struct hv_ctl_handler hv_gw_handlers[];
extern const size_t hv_gw_n_handlers;

/*
 * Read, check and compile the policy file PATH and put it in force.
 * Returns the report (what changed, connections cut, warnings) or NULL with
 * the reason in E; on failure the policy in force is unchanged.
 */
json_t *hv_fw_apply_file(struct hv_switch *sw, const char *path, struct reply_err *e);

#endif
