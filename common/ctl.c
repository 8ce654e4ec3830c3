/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control protocol, both ends: request parsing and reply building for
 * hvnetd, line framing for either side, and a blocking call for clients.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/ctl.h"

int
hv_ctl_request_parse(const char *line, size_t len, struct hv_ctl_request *req, char *err,
		     size_t err_size)
{
	json_error_t jerr;
	json_t *root, *id, *cmd, *args;

	memset(req, 0, sizeof(*req));
	if (len > HV_CTL_MAX_MSG) {
		snprintf(err, err_size, "request of %zu bytes exceeds %u", len, HV_CTL_MAX_MSG);
		return -EINVAL;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, err_size, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, err_size, "a request must be a JSON object");
		goto fail_root;
	}
	id = json_object_get(root, "id");
	if (id != NULL && !json_is_integer(id)) {
		snprintf(err, err_size, "'id' must be an integer");
		goto fail_root;
	}
	cmd = json_object_get(root, "cmd");
	if (cmd == NULL) {
		snprintf(err, err_size, "missing 'cmd'");
		goto fail_root;
	}
	if (!json_is_string(cmd) || json_string_length(cmd) == 0) {
		snprintf(err, err_size, "'cmd' must be a non-empty string");
		goto fail_root;
	}
	if (strlen(json_string_value(cmd)) != json_string_length(cmd)) {
		snprintf(err, err_size, "'cmd' contains a NUL byte");
		goto fail_root;
	}
	args = json_object_get(root, "args");
	if (args == NULL || json_is_null(args)) {
		args = json_object();
		if (args == NULL || json_object_set_new(root, "args", args) != 0) {
			snprintf(err, err_size, "out of memory");
			goto fail_root;
		}
	} else if (!json_is_object(args)) {
		snprintf(err, err_size, "'args' must be an object");
		goto fail_root;
	}
	req->id = id ? json_integer_value(id) : 0;
	req->cmd = json_string_value(cmd);
	req->args = args;
	req->root = root;
	return 0;

fail_root:
	json_decref(root);
	return -EINVAL;
}

void
hv_ctl_request_clear(struct hv_ctl_request *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

json_t *
hv_ctl_request_new(json_int_t id, const char *cmd, json_t *args)
{
	json_t *req = json_object();

	if (req == NULL)
		goto fail_args;
	if (args == NULL)
		args = json_object();
	if (json_object_set_new(req, "id", json_integer(id)) != 0 ||
	    json_object_set_new(req, "cmd", json_string(cmd)) != 0 ||
	    json_object_set_new(req, "args", args) != 0) {
		json_decref(req);
		return NULL;
	}
	return req;

fail_args:
	json_decref(args);
	return NULL;
}

json_t *
hv_ctl_reply_ok(json_int_t id, json_t *result)
{
	json_t *r = json_object();

	if (r == NULL) {
		json_decref(result);
		return NULL;
	}
	if (json_object_set_new(r, "id", json_integer(id)) != 0 ||
	    json_object_set_new(r, "ok", json_true()) != 0 ||
	    json_object_set_new(r, "result", result ? result : json_null()) != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *
hv_ctl_reply_error(json_int_t id, int err, const char *hint, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *r, *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	e = json_object();
	r = json_object();
	if (e == NULL || r == NULL)
		goto fail;
	if (json_object_set_new(e, "code", json_string(hv_errno_name(err))) != 0 ||
	    json_object_set_new(e, "errno", json_integer(err)) != 0 ||
	    json_object_set_new(e, "message", json_string(msg)) != 0 ||
	    (hint != NULL && json_object_set_new(e, "hint", json_string(hint)) != 0))
		goto fail;
	if (json_object_set_new(r, "id", json_integer(id)) != 0 ||
	    json_object_set_new(r, "ok", json_false()) != 0)
		goto fail;
	if (json_object_set_new(r, "error", e) != 0) {
		e = NULL; /* stolen even on failure */
		goto fail;
	}
	return r;

fail:
	json_decref(e);
	json_decref(r);
	return NULL;
}

char *
hv_ctl_dump(const json_t *msg, size_t *len)
{
	char *s = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t n;
	char *out;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	if (n + 1 > HV_CTL_MAX_MSG) {
		free(s);
		return NULL;
	}
	out = realloc(s, n + 2);
	if (out == NULL) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return out;
}

void
hv_ctl_buf_init(struct hv_ctl_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
hv_ctl_buf_free(struct hv_ctl_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int
hv_ctl_buf_feed(struct hv_ctl_buf *b, const char *p, size_t n)
{
	if (b->error)
		return b->error;
	if (n > HV_CTL_MAX_MSG + 1 - b->len && memchr(p, '\n', n) == NULL) {
		/* No line can end in what is buffered: it is already too long. */
		b->error = -EMSGSIZE;
		return b->error;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL) {
			b->error = -ENOMEM;
			return b->error;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
hv_ctl_buf_next(struct hv_ctl_buf *b, char **line, size_t *len)
{
	char *nl;
	size_t n;

	if (b->error)
		return b->error;
	nl = b->len ? memchr(b->data, '\n', b->len) : NULL;
	if (nl == NULL) {
		if (b->len >= HV_CTL_MAX_MSG) {
			b->error = -EMSGSIZE;
			return b->error;
		}
		return 0;
	}
	n = (size_t)(nl - b->data);
	if (n + 1 > HV_CTL_MAX_MSG) {
		b->error = -EMSGSIZE;
		return b->error;
	}
	*line = malloc(n + 1);
	if (*line == NULL)
		return -ENOMEM;
	memcpy(*line, b->data, n);
	(*line)[n] = '\0';
	*len = n;
	memmove(b->data, nl + 1, b->len - n - 1);
	b->len -= n + 1;
	return 1;
}

int
hv_ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The first bytes of a request, with PASS_FD alongside (SCM_RIGHTS). */
static int
send_fd(int fd, const char *p, size_t n, int pass_fd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)p, .iov_len = n};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = &cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	ssize_t w;

	memset(&cbuf, 0, sizeof(cbuf));
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &pass_fd, sizeof(int));
	do
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	return send_all(fd, p + w, n - (size_t)w);
}

int
hv_ctl_call(int fd, const char *cmd, json_t *args, int timeout_ms, json_t **reply)
{
	return hv_ctl_call_fd(fd, cmd, args, -1, timeout_ms, reply);
}

int
hv_ctl_call_fd(int fd, const char *cmd, json_t *args, int pass_fd, int timeout_ms, json_t **reply)
{
	static _Atomic json_int_t next_id = 1;
	json_int_t id = next_id++;
	struct hv_ctl_buf b;
	int64_t deadline = now_ms() + timeout_ms;
	json_t *req;
	char *out, *line;
	size_t len;
	int rc;

	*reply = NULL;
	req = hv_ctl_request_new(id, cmd, args);
	if (req == NULL)
		return -ENOMEM;
	out = hv_ctl_dump(req, &len);
	json_decref(req);
	if (out == NULL)
		return -EMSGSIZE;
	rc = pass_fd >= 0 ? send_fd(fd, out, len, pass_fd) : send_all(fd, out, len);
	free(out);
	if (rc != 0)
		return rc;

	hv_ctl_buf_init(&b);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char chunk[65536];
		int64_t left = deadline - now_ms();
		ssize_t n;

		rc = hv_ctl_buf_next(&b, &line, &len);
		if (rc < 0)
			break;
		if (rc == 1) {
			json_t *msg = json_loadb(line, len, 0, NULL);
			json_t *rid;

			free(line);
			if (msg == NULL || !json_is_object(msg)) {
				json_decref(msg);
				rc = -EPROTO;
				break;
			}
			rid = json_object_get(msg, "id");
			if (json_is_integer(rid) && json_integer_value(rid) != id) {
				json_decref(msg); /* a reply to someone else's request */
				continue;
			}
			*reply = msg;
			rc = 0;
			break;
		}
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			rc = -errno;
			break;
		}
		if (rc == 0)
			continue;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			rc = -ECONNRESET;
			break;
		}
		rc = hv_ctl_buf_feed(&b, chunk, (size_t)n);
		if (rc < 0)
			break;
	}
	hv_ctl_buf_free(&b);
	return rc;
}

const char *
hv_errno_name(int err)
{
	static __thread char other[16];

	switch (err) {
#define E(x)    \
	case x: \
		return #x
		E(EPERM);
		E(ENOENT);
		E(ESRCH);
		E(EINTR);
		E(EIO);
		E(ENXIO);
		E(E2BIG);
		E(EBADF);
		E(EAGAIN);
		E(ENOMEM);
		E(EACCES);
		E(EFAULT);
		E(EBUSY);
		E(EEXIST);
		E(ENODEV);
		E(ENOTDIR);
		E(EISDIR);
		E(EINVAL);
		E(ENFILE);
		E(EMFILE);
		E(ENOSPC);
		E(ERANGE);
		E(ENAMETOOLONG);
		E(ENOSYS);
		E(ENOTEMPTY);
		E(ELOOP);
		E(EPROTO);
		E(EMSGSIZE);
		E(EPROTONOSUPPORT);
		E(EOPNOTSUPP);
		E(EADDRINUSE);
		E(EADDRNOTAVAIL);
		E(ENETDOWN);
		E(ECONNRESET);
		E(ENOBUFS);
		E(EISCONN);
		E(ENOTCONN);
		E(ETIMEDOUT);
		E(ECONNREFUSED);
		E(EALREADY);
		E(EINPROGRESS);
		E(ECANCELED);
		E(EDOM);
#undef E
	}
	snprintf(other, sizeof(other), "E%d", err);
	return other;
}
