/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exec channel of QEMU guests: a virtio-serial port (hvnet.exec) whose
 * host side is a unix socket of QEMU's, and whose guest side is served by
 * the init of vmm/guest-image.sh. The protocol is in vmm.h. Every byte of
 * an answer comes from the guest: the reader bounds the header line, parses
 * its numbers strictly, and never keeps more than one line of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vmm/vmm.h"

enum {
	RD_SYNC,
	RD_OUT,
	RD_ERR,
	RD_DONE
};

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
hv_exec_request(char *const argv[], const char *id, char **out, size_t *len)
{
	size_t n = 0, cap = 0, b, o;
	char *script, *line;

	if (argv == NULL || argv[0] == NULL)
		return -EINVAL;
	/* the quoted script: 'arg' 'it'\''s' ... */
	for (size_t i = 0; argv[i] != NULL; i++) {
		cap += 3;
		for (const char *c = argv[i]; *c; c++)
			cap += *c == '\'' ? 4 : 1;
		if (cap > HV_EXEC_SCRIPT_MAX)
			return -E2BIG;
	}
	script = malloc(cap + 1);
	if (script == NULL)
		return -ENOMEM;
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (i)
			script[n++] = ' ';
		script[n++] = '\'';
		for (const char *c = argv[i]; *c; c++) {
			if (*c == '\'') {
				memcpy(script + n, "'\\''", 4);
				n += 4;
			} else {
				script[n++] = *c;
			}
		}
		script[n++] = '\'';
	}
	/* EXEC ID BASE64\n */
	b = (n + 2) / 3 * 4;
	line = malloc(strlen(id) + b + 8);
	if (line == NULL) {
		free(script);
		return -ENOMEM;
	}
	o = (size_t)sprintf(line, "EXEC %s ", id);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(uint8_t)script[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)(uint8_t)script[i + 1] << 8;
		if (left > 2)
			v |= (uint8_t)script[i + 2];
		line[o++] = b64chars[(v >> 18) & 63];
		line[o++] = b64chars[(v >> 12) & 63];
		line[o++] = left > 1 ? b64chars[(v >> 6) & 63] : '=';
		line[o++] = left > 2 ? b64chars[v & 63] : '=';
	}
	line[o++] = '\n';
	line[o] = '\0';
	free(script);
	*out = line;
	*len = o;
	return 0;
}

void
hv_exec_reader_init(struct hv_exec_reader *r, const char *id)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->state = RD_SYNC;
	r->status = -1;
}

/* A decimal number of at most 10 digits, no sign, no spaces; -1 if not. */
static int64_t
num_parse(const char *s, size_t len)
{
	int64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* One complete line (no newline) seen while in sync: 1 when it is a header
 * of ours (the reader moves on), 0 when it is something else, -EPROTO. */
static int
header_parse(struct hv_exec_reader *r)
{
	static const char exec_tag[] = "HVNET-EXEC ", data_tag[] = "HVNET-DATA ";
	const char *f[5];
	size_t fl[5], nf = 0, i = sizeof(exec_tag) - 1;
	bool data;
	int64_t a, b, c = 0;

	if (r->line_len < i)
		return 0;
	if (memcmp(r->line, exec_tag, i) == 0)
		data = false;
	else if (memcmp(r->line, data_tag, i) == 0)
		data = true;
	else
		return 0;
	/* the fields after the tag, single-space separated */
	while (i <= r->line_len && nf < 5) {
		size_t start = i;

		while (i < r->line_len && r->line[i] != ' ')
			i++;
		f[nf] = r->line + start;
		fl[nf] = i - start;
		nf++;
		i++; /* the space, or past the end */
	}
	if (nf < 1 || fl[0] != strlen(r->id) || memcmp(f[0], r->id, fl[0]) != 0)
		return 0; /* another request's answer */
	if (nf != (data ? 3u : 4u) || i <= r->line_len)
		return -EPROTO;
	a = num_parse(f[1], fl[1]);
	b = num_parse(f[2], fl[2]);
	if (!data)
		c = num_parse(f[3], fl[3]);
	if (data) {
		/* HVNET-DATA ID STREAM LEN: a piece of output, then back in sync */
		if ((a != 1 && a != 2) || b < 0 || b > HV_EXEC_OUTPUT_MAX)
			return -EPROTO;
		r->frame = true;
		if (a == 1) {
			r->out_left = (uint64_t)b;
			r->state = RD_OUT;
		} else {
			r->out_left = 0;
			r->err_left = (uint64_t)b;
			r->state = RD_ERR;
		}
		return 1;
	}
	/* HVNET-EXEC ID OUTLEN ERRLEN STATUS: the end (and the rest of the output) */
	if (a < 0 || b < 0 || c < 0 || c > 255 || a > HV_EXEC_OUTPUT_MAX || b > HV_EXEC_OUTPUT_MAX)
		return -EPROTO;
	r->frame = false;
	r->out_left = (uint64_t)a;
	r->err_left = (uint64_t)b;
	r->status = (int)c;
	r->state = RD_OUT;
	return 1;
}

int
hv_exec_reader_feed(struct hv_exec_reader *r, const uint8_t *buf, size_t len, size_t *used,
		    hv_exec_sink sink, void *arg)
{
	size_t i = 0;
	int rc;

	while (i < len && r->state != RD_DONE) {
		if (r->state == RD_SYNC) {
			uint8_t c = buf[i++];

			if (c != '\n') {
				if (r->line_len < sizeof(r->line))
					r->line[r->line_len++] = (char)c;
				else
					r->line_long = true;
				continue;
			}
			rc = r->line_long ? 0 : header_parse(r);
			r->line_len = 0;
			r->line_long = false;
			if (rc < 0) {
				*used = i;
				return rc;
			}
		} else {
			uint64_t *left = r->state == RD_OUT ? &r->out_left : &r->err_left;
			size_t n = len - i;

			if (n > *left)
				n = (size_t)*left;
			if (n > 0 && sink != NULL)
				sink(arg, r->state == RD_OUT ? 1 : 2, buf + i, n);
			i += n;
			*left -= n;
		}
		/* empty streams end at once; a piece ends back in sync */
		if (r->state == RD_OUT && r->out_left == 0)
			r->state = RD_ERR;
		if (r->state == RD_ERR && r->err_left == 0)
			r->state = r->frame ? RD_SYNC : RD_DONE;
	}
	*used = i;
	return r->state == RD_DONE ? 1 : 0;
}

static void
fd_sink(void *arg, int stream, const uint8_t *data, size_t len)
{
	const int *fds = arg;
	int fd = fds[stream - 1];

	/* a closed stdout must not stop the answer from being read */
	while (fd >= 0 && len > 0) {
		ssize_t w = write(fd, data, len);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		data += w;
		len -= (size_t)w;
	}
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
hv_exec_run(const char *sock_path, char *const argv[], int out_fd, int err_fd, int timeout_ms,
	    char *err, size_t err_size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct hv_exec_reader r;
	uint8_t buf[16384], rnd[8];
	char id[20], *req = NULL;
	size_t req_len, off = 0;
	int fds[2] = {out_fd, err_fd};
	long deadline = now_ms() + timeout_ms;
	int fd, rc, rfd;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_size, "%s: path too long for a unix socket", sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	/* an id no earlier answer can carry */
	rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (rfd < 0 || read(rfd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		uint64_t t = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);

		memcpy(rnd, &t, sizeof(rnd));
	}
	if (rfd >= 0)
		close(rfd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	rc = hv_exec_request(argv, id, &req, &req_len);
	if (rc != 0) {
		snprintf(err, err_size, "%s",
			 rc == -E2BIG ? "the command is too long for the exec channel (64 KiB)"
				      : strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		snprintf(err, err_size, "cannot connect to the exec channel %s: %s", sock_path,
			 strerror(errno));
		goto out;
	}
	while (off < req_len) {
		ssize_t w = send(fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = -errno;
			snprintf(err, err_size, "exec channel %s: %s", sock_path, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	hv_exec_reader_init(&r, id);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - now_ms();
		ssize_t n;
		size_t used;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			snprintf(err, err_size, "no answer on the exec channel within %d s",
				 timeout_ms / 1000);
			goto out;
		}
		rc = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? -ECONNRESET : -errno;
			snprintf(err, err_size, "the exec channel closed before the answer");
			goto out;
		}
		for (size_t at = 0; at < (size_t)n; at += used) {
			rc = hv_exec_reader_feed(&r, buf + at, (size_t)n - at, &used, fd_sink, fds);
			if (rc < 0) {
				snprintf(err, err_size, "malformed answer on the exec channel");
				goto out;
			}
			if (rc == 1) {
				rc = r.status;
				goto out;
			}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(req);
	return rc;
}

int
hv_unix_socket_state(const char *path)
{
	char line[512 + 108];
	FILE *f;
	bool listening = false, connected = false;

	if (access(path, F_OK) != 0)
		return -ENOENT;
	f = fopen("/proc/net/unix", "r");
	if (f == NULL)
		return 0;
	/* Num RefCount Protocol Flags Type St Inode Path */
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long flags, type, st;
		char p[sizeof(line)];
		size_t l;

		if (sscanf(line, "%*s %*s %*s %lx %lx %lx %*s %619s", &flags, &type, &st, p) != 4)
			continue;
		l = strlen(p);
		if (l != strlen(path) || memcmp(p, path, l) != 0)
			continue;
		if (flags & 0x10000) /* __SO_ACCEPTCON: a listener */
			listening = true;
		else if (st == 3) /* SS_CONNECTED: an accepted connection */
			connected = true;
	}
	fclose(f);
	return connected ? 2 : listening ? 1 : 0;
}
