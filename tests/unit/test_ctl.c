/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the control protocol (common/ctl.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctl.h"

static void
parse_ok(void **state)
{
	const char *line = "{\"id\": 7, \"cmd\": \"port.add\", \"args\": {\"name\": \"p0\"}}";
	struct hv_ctl_request req;
	char err[256];

	(void)state;
	assert_int_equal(hv_ctl_request_parse(line, strlen(line), &req, err, sizeof(err)), 0);
	assert_int_equal(req.id, 7);
	assert_string_equal(req.cmd, "port.add");
	assert_string_equal(json_string_value(json_object_get(req.args, "name")), "p0");
	hv_ctl_request_clear(&req);
	assert_null(req.root);
}

static void
parse_args_default_to_empty_object(void **state)
{
	const char *line = "{\"cmd\": \"version\"}";
	struct hv_ctl_request req;
	char err[256];

	(void)state;
	assert_int_equal(hv_ctl_request_parse(line, strlen(line), &req, err, sizeof(err)), 0);
	assert_int_equal(req.id, 0);
	assert_true(json_is_object(req.args));
	assert_int_equal(json_object_size(req.args), 0);
	hv_ctl_request_clear(&req);
}

static void
parse_errors_name_the_bad_part(void **state)
{
	static const struct {
		const char *line;
		const char *expect;
	} cases[] = {
		{"{\"cmd\": ", "line 1 column"},
		{"[1, 2]", "must be a JSON object"},
		{"{\"id\": \"x\", \"cmd\": \"a\"}", "'id' must be an integer"},
		{"{\"id\": 1}", "missing 'cmd'"},
		{"{\"cmd\": 5}", "'cmd' must be a non-empty string"},
		{"{\"cmd\": \"\"}", "'cmd' must be a non-empty string"},
		{"{\"cmd\": \"a\\u0000b\"}", "NUL"},
		{"{\"cmd\": \"a\", \"args\": [1]}", "'args' must be an object"},
		{"{\"cmd\": \"a\", \"cmd\": \"b\"}", "duplicate"},
		{"", "line"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hv_ctl_request req;
		char err[256] = "";

		assert_int_equal(hv_ctl_request_parse(cases[i].line, strlen(cases[i].line), &req,
						      err, sizeof(err)),
				 -EINVAL);
		if (strstr(err, cases[i].expect) == NULL)
			fail_msg("case %zu '%s': error '%s' lacks '%s'", i, cases[i].line, err,
				 cases[i].expect);
		assert_null(req.root);
	}
}

static void
reply_shapes(void **state)
{
	json_t *ok, *er, *e;
	char *s;
	size_t len;

	(void)state;
	ok = hv_ctl_reply_ok(3, json_pack("{s:i}", "n", 1));
	assert_non_null(ok);
	assert_true(json_is_true(json_object_get(ok, "ok")));
	assert_int_equal(json_integer_value(json_object_get(ok, "id")), 3);
	s = hv_ctl_dump(ok, &len);
	assert_string_equal(s, "{\"id\":3,\"ok\":true,\"result\":{\"n\":1}}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	json_decref(ok);

	er = hv_ctl_reply_error(4, ENOENT, "try port list", "port '%s' does not exist", "x");
	e = json_object_get(er, "error");
	assert_true(json_is_false(json_object_get(er, "ok")));
	assert_string_equal(json_string_value(json_object_get(e, "code")), "ENOENT");
	assert_int_equal(json_integer_value(json_object_get(e, "errno")), ENOENT);
	assert_string_equal(json_string_value(json_object_get(e, "message")),
			    "port 'x' does not exist");
	assert_string_equal(json_string_value(json_object_get(e, "hint")), "try port list");
	json_decref(er);

	ok = hv_ctl_reply_ok(1, NULL);
	assert_true(json_is_null(json_object_get(ok, "result")));
	json_decref(ok);
}

static void
dump_refuses_oversized(void **state)
{
	size_t n = HV_CTL_MAX_MSG;
	char *big = malloc(n + 1);
	json_t *msg;

	(void)state;
	memset(big, 'a', n);
	big[n] = '\0';
	msg = hv_ctl_reply_ok(1, json_string(big));
	assert_null(hv_ctl_dump(msg, NULL));
	json_decref(msg);
	free(big);
}

static void
buf_reassembles_lines(void **state)
{
	struct hv_ctl_buf b;
	char *line;
	size_t len;

	(void)state;
	hv_ctl_buf_init(&b);
	assert_int_equal(hv_ctl_buf_next(&b, &line, &len), 0);
	assert_int_equal(hv_ctl_buf_feed(&b, "{\"cmd\":", 7), 0);
	assert_int_equal(hv_ctl_buf_next(&b, &line, &len), 0);
	assert_int_equal(hv_ctl_buf_feed(&b, "\"a\"}\n{\"cmd\":\"b\"}\npartial", 24), 0);
	assert_int_equal(hv_ctl_buf_next(&b, &line, &len), 1);
	assert_string_equal(line, "{\"cmd\":\"a\"}");
	assert_int_equal(len, 11);
	free(line);
	assert_int_equal(hv_ctl_buf_next(&b, &line, &len), 1);
	assert_string_equal(line, "{\"cmd\":\"b\"}");
	free(line);
	assert_int_equal(hv_ctl_buf_next(&b, &line, &len), 0);
	assert_int_equal(b.len, 7); /* "partial" stays */
	hv_ctl_buf_free(&b);
}

static void
buf_rejects_overlong_line(void **state)
{
	struct hv_ctl_buf b;
	char chunk[65536];
	char *line;
	size_t len;
	int rc = 0;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	hv_ctl_buf_init(&b);
	for (size_t sent = 0; sent <= HV_CTL_MAX_MSG + sizeof(chunk) && rc == 0;
	     sent += sizeof(chunk)) {
		rc = hv_ctl_buf_feed(&b, chunk, sizeof(chunk));
		if (rc == 0)
			rc = hv_ctl_buf_next(&b, &line, &len);
	}
	assert_int_equal(rc, -EMSGSIZE);
	/* the error sticks: the connection must be closed */
	assert_int_equal(hv_ctl_buf_feed(&b, "\n", 1), -EMSGSIZE);
	assert_int_equal(hv_ctl_buf_next(&b, &line, &len), -EMSGSIZE);
	assert_true(b.len <= HV_CTL_MAX_MSG + sizeof(chunk));
	hv_ctl_buf_free(&b);
}

/* A fake daemon on one end of a socketpair: answers one request. */
struct fake {
	int fd;
	int mode; /* 0 echo ok, 1 garbage, 2 close, 3 silent, 4 other id first */
};

static void *
fake_daemon(void *arg)
{
	struct fake *f = arg;
	struct hv_ctl_buf b;
	char chunk[4096], *line;
	size_t len;
	ssize_t n;
	int rc = 0;

	hv_ctl_buf_init(&b);
	while (rc == 0) {
		n = read(f->fd, chunk, sizeof(chunk));
		if (n <= 0)
			goto out;
		hv_ctl_buf_feed(&b, chunk, (size_t)n);
		rc = hv_ctl_buf_next(&b, &line, &len);
	}
	struct hv_ctl_request req;
	char err[128];
	if (hv_ctl_request_parse(line, len, &req, err, sizeof(err)) == 0) {
		json_t *r = hv_ctl_reply_ok(
			req.id, json_pack("{s:s, s:O}", "cmd", req.cmd, "args", req.args));
		char *s = hv_ctl_dump(r, &len);

		if (f->mode == 1) {
			if (write(f->fd, "not json\n", 9) < 0)
				abort();
		} else if (f->mode == 4) {
			json_t *other = hv_ctl_reply_ok(req.id + 1000, NULL);
			char *o = hv_ctl_dump(other, &len);

			if (write(f->fd, o, strlen(o)) < 0)
				abort();
			free(o);
			json_decref(other);
		}
		if (f->mode == 0 || f->mode == 4) {
			if (write(f->fd, s, strlen(s)) < 0)
				abort();
		}
		if (f->mode == 3)
			sleep(1);
		free(s);
		json_decref(r);
		hv_ctl_request_clear(&req);
	}
	free(line);
out:
	hv_ctl_buf_free(&b);
	close(f->fd);
	return NULL;
}

static int
call_with(int mode, int timeout_ms, json_t **reply)
{
	int sv[2];
	pthread_t t;
	struct fake f;
	int rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f.fd = sv[1];
	f.mode = mode;
	pthread_create(&t, NULL, fake_daemon, &f);
	rc = hv_ctl_call(sv[0], "port.show", json_pack("{s:s}", "name", "p0"), timeout_ms, reply);
	close(sv[0]);
	pthread_join(t, NULL);
	return rc;
}

static void
call_roundtrip(void **state)
{
	json_t *reply;
	json_t *res;

	(void)state;
	assert_int_equal(call_with(0, 2000, &reply), 0);
	res = json_object_get(reply, "result");
	assert_string_equal(json_string_value(json_object_get(res, "cmd")), "port.show");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(res, "args"), "name")), "p0");
	json_decref(reply);

	/* a reply to another request id is skipped */
	assert_int_equal(call_with(4, 2000, &reply), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(reply, "result"), "cmd")),
		"port.show");
	json_decref(reply);
}

static void
call_errors(void **state)
{
	json_t *reply;

	(void)state;
	assert_int_equal(call_with(1, 2000, &reply), -EPROTO);
	assert_null(reply);
	assert_int_equal(call_with(2, 2000, &reply), -ECONNRESET);
	assert_int_equal(call_with(3, 100, &reply), -ETIMEDOUT);
	assert_int_equal(hv_ctl_connect("/nonexistent/hvnet.sock"), -ENOENT);
}

static void
errno_names(void **state)
{
	(void)state;
	assert_string_equal(hv_errno_name(ENOENT), "ENOENT");
	assert_string_equal(hv_errno_name(EEXIST), "EEXIST");
	assert_string_equal(hv_errno_name(EINVAL), "EINVAL");
	assert_string_equal(hv_errno_name(9999), "E9999");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_ok),
		cmocka_unit_test(parse_args_default_to_empty_object),
		cmocka_unit_test(parse_errors_name_the_bad_part),
		cmocka_unit_test(reply_shapes),
		cmocka_unit_test(dump_refuses_oversized),
		cmocka_unit_test(buf_reassembles_lines),
		cmocka_unit_test(buf_rejects_overlong_line),
		cmocka_unit_test(call_roundtrip),
		cmocka_unit_test(call_errors),
		cmocka_unit_test(errno_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
