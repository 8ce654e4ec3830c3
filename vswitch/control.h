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
/*
 * The descriptor the client of the request being served passed with it
 * (SCM_RIGHTS), now the caller's to close; -1 when none came.
 */
int ctl_take_fd(struct hv_control *c);
/* An id of the client being served, unique while hvnetd runs. */
int ctl_client_id(struct hv_control *c);
/* PATH as written in the file POLICY_PATH: relative to that file's directory. */
void ctl_path_near(char *out, size_t len, const char *policy_path, const char *path);

/* fwctl.c: policy.*, fw.*, ct.* */
extern const struct hv_ctl_handler hv_fw_handlers[];
extern const size_t hv_fw_n_handlers;

/* mirrorctl.c: mirror.*, capture.* */
extern const struct hv_ctl_handler hv_mirror_handlers[];
extern const size_t hv_mirror_n_handlers;
/* Forget the MACs learned on ports that are now mirror destinations. */
void hv_mirror_dest_macs_flush(struct hv_switch *sw);
/* Client CLIENT closed its connection: end its captures. */
void hv_mirror_client_gone(struct hv_switch *sw, int client);
struct hv_prog;
/*
 * The mirror sessions of a policy file, on their way in: NEXT (N of them,
 * REUSED[k] when the policy in force has the same session, which then goes
 * on unchanged) and OLD (the policy's sessions they replace, by slot).
 */
struct hv_mirror_plan {
	struct hv_mirror_session *next[HV_MIRROR_MAX_SESSIONS];
	bool reused[HV_MIRROR_MAX_SESSIONS];
	unsigned n;
	struct hv_mirror_session *old[HV_MIRROR_MAX_SESSIONS];
};
/*
 * Create the sessions of policy file PATH (program PROG), not published;
 * warnings (left-out remote destinations) appended to WARNINGS. 0, or -1
 * with the reason in E and nothing created.
 */
int hv_mirror_plan_prepare(struct hv_switch *sw, const struct hv_prog *prog, const char *path,
			   struct hv_mirror_plan *plan, json_t *warnings, struct reply_err *e);
/* Put the plan's sessions in sw->mirrors in place of the policy's; the next publish makes it so. */
void hv_mirror_plan_swap(struct hv_switch *sw, struct hv_mirror_plan *plan);
/* Undo hv_mirror_plan_swap() (before a publish). */
void hv_mirror_plan_unswap(struct hv_switch *sw, struct hv_mirror_plan *plan);
/* Free the plan's new sessions (the apply failed; after unswap, if swapped). */
void hv_mirror_plan_discard(struct hv_mirror_plan *plan);
/* Free the replaced sessions (after the publish that dropped them). */
void hv_mirror_plan_finish(struct hv_mirror_plan *plan);
/* gwctl.c: route.show, neigh.show */
extern const struct hv_ctl_handler hv_gw_handlers[];
extern const size_t hv_gw_n_handlers;

/*
 * Read, check and compile the policy file PATH and put it in force.
 * Returns the report (what changed, connections cut, warnings) or NULL with
 * the reason in E; on failure the policy in force is unchanged.
 */
/* vxctl.c: vtep.* */
extern const struct hv_ctl_handler hv_vx_handlers[];
extern const size_t hv_vx_n_handlers;

/*
 * Append to WARNINGS (and log) what the overlay in force cannot carry: guest
 * ports of its segments whose MTU is larger than the overlay's.
 */
void hv_switch_overlay_warn(struct hv_switch *sw, json_t *warnings);

json_t *hv_fw_apply_file(struct hv_switch *sw, const char *path, struct reply_err *e);

#endif
