/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_COMMON_CTL_H
#define HV_COMMON_CTL_H

#include <stddef.h>
#include <jansson.h>

/*
 * The control protocol between hvnetctl (and vmm/) and hvnetd, shared by
 * both ends. See docs/control.md for the commands.
 *
 * Framing: over a unix stream socket, one JSON object per line ('\n'
 * terminated), at most HV_CTL_MAX_MSG bytes including the newline.
 *
 *   request: {"id": 7, "cmd": "port.add", "args": {...}}
 *   reply:   {"id": 7, "ok": true, "result": ...}
 *            {"id": 7, "ok": false, "error": {"code": "ENOENT", "errno": 2,
 *                                            "message": "...", "hint": "..."}}
 *
 * Library code: never prints, never exits. Thread-safe (no global state).
 */

#define HV_CTL_MAX_MSG	    (1u << 20)
#define HV_CTL_DEFAULT_PATH "/run/hvnet/hvnetd.sock"

struct hv_ctl_request {
	json_int_t id;
	const char *cmd; /* points into @root */
	json_t *args;	 /* borrowed from @root; an empty object when absent */
	json_t *root;	 /* owned: json_decref() it (hv_ctl_request_clear) */
};

/*
 * Parse one request line (without its newline). On error returns -EINVAL and
 * writes a message naming the bad part ("line 1 column 9: ...", "'cmd' must
 * be a string") into @err.
 */
int hv_ctl_request_parse(const char *line, size_t len, struct hv_ctl_request *req, char *err,
			 size_t err_size);
void hv_ctl_request_clear(struct hv_ctl_request *req);

/* Build a request; steals @args (may be NULL). NULL on ENOMEM. */
json_t *hv_ctl_request_new(json_int_t id, const char *cmd, json_t *args);

/* Build replies. hv_ctl_reply_ok steals @result (NULL -> JSON null). */
json_t *hv_ctl_reply_ok(json_int_t id, json_t *result);
/* @err is a positive errno; @hint may be NULL. */
json_t *hv_ctl_reply_error(json_int_t id, int err, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Serialize @msg (compact, one line, with the trailing '\n') into a malloc'd
 * string; NULL when it would exceed HV_CTL_MAX_MSG or on ENOMEM.
 */
char *hv_ctl_dump(const json_t *msg, size_t *len);

/*
 * Line reassembly for a stream socket: feed bytes as they arrive, take whole
 * lines out. A line longer than HV_CTL_MAX_MSG puts the buffer in an error
 * state (-EMSGSIZE from hv_ctl_buf_next) and the connection should be closed.
 */
struct hv_ctl_buf {
	char *data;
	size_t len;
	size_t cap;
	int error;
};

void hv_ctl_buf_init(struct hv_ctl_buf *b);
void hv_ctl_buf_free(struct hv_ctl_buf *b);
/* Append @n bytes; 0, -ENOMEM or -EMSGSIZE. */
int hv_ctl_buf_feed(struct hv_ctl_buf *b, const char *p, size_t n);
/*
 * Take the next whole line: copies it (NUL-terminated, without '\n') into a
 * malloc'd *line of *len bytes and returns 1; 0 when no whole line is
 * buffered; -EMSGSIZE / -ENOMEM on error.
 */
int hv_ctl_buf_next(struct hv_ctl_buf *b, char **line, size_t *len);

/* Client side: connect to @path; a connected fd or -errno. */
int hv_ctl_connect(const char *path);
/*
 * Client side: send @cmd with @args (stolen) on @fd and wait up to
 * @timeout_ms for the reply with the same id; returns 0 and the reply in
 * *reply (caller decrefs), or -errno (-ETIMEDOUT, -ECONNRESET, -EPROTO for a
 * reply that is not valid JSON).
 */
int hv_ctl_call(int fd, const char *cmd, json_t *args, int timeout_ms, json_t **reply);

/* hv_ctl_call() passing descriptor PASS_FD with the request (SCM_RIGHTS); -1: none. */
int hv_ctl_call_fd(int fd, const char *cmd, json_t *args, int pass_fd, int timeout_ms,
		   json_t **reply);

/* "ENOENT" for ENOENT, etc.; "E<number>" for errnos it does not name. */
const char *hv_errno_name(int err);

#endif
