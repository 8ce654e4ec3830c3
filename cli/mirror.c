/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl mirror add ... (the words into mirror.add's JSON), the mirror
 * tables, and hvnetctl capture (an ad hoc capture written by hvnetd into a
 * descriptor this process opened: a file, or its standard output).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/mirror.h"
#include "common/ctl.h"

static int
fail(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
	snprintf(err, len, fmt, a, b);
	return -EINVAL;
}

/* "64M" -> 67108864; K, M, G in powers of 1024. */
static int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* "90", "90s", "15m", "1h" -> seconds */
static int
parse_secs(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v > UINT32_MAX)
		return -EINVAL;
	if (*end == 'm')
		v *= 60, end++;
	else if (*end == 'h')
		v *= 3600, end++;
	else if (*end == 's')
		end++;
	if (*end != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (strncmp(s, "1/", 2) == 0) /* sample 1/N */
		s += 2;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *
abs_path(const char *p, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (p[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL || strlen(cwd) + strlen(p) + 2 > len)
		return p;
	strcpy(buf, cwd);
	strcat(buf, "/");
	strcat(buf, p);
	return buf;
}

int
hv_cli_mirror_add_args(int argc, char **argv, json_t *args, char *err, size_t errlen)
{
	json_t *segs = json_array(), *ports = json_array(), *to = json_array();
	char pbuf[PATH_MAX];
	uint64_t v;
	int i = 1;

	json_object_set_new(args, "segments", segs);
	json_object_set_new(args, "ports", ports);
	json_object_set_new(args, "to", to);
	if (argc < 1)
		return fail(err, errlen, "mirror add: needs a NAME%s%s", "", "");
	json_object_set_new(args, "name", json_string(argv[0]));
	while (i < argc) {
		const char *k = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "to") == 0) {
			json_t *d = json_object();

			if (a == NULL || i + 2 >= argc) {
				json_decref(d);
				return fail(err, errlen,
					    "mirror add: 'to' needs pcap FILE or port NAME%s%s", "",
					    "");
			}
			if (strcmp(a, "pcap") == 0) {
				json_object_set_new(
					d, "pcap",
					json_string(abs_path(argv[i + 2], pbuf, sizeof(pbuf))));
			} else if (strcmp(a, "port") == 0) {
				json_object_set_new(d, "port", json_string(argv[i + 2]));
			} else if (strcmp(a, "remote") == 0) {
				json_object_set_new(d, "remote", json_string(argv[i + 2]));
			} else {
				json_decref(d);
				return fail(
					err, errlen,
					"mirror add: unknown destination '%s'%s (pcap, port, remote)",
					a, "");
			}
			i += 3;
			/* the destination's own settings follow it */
			while (i < argc) {
				const char *dk = argv[i], *da = i + 1 < argc ? argv[i + 1] : NULL;

				if (strcmp(dk, "vlan-tag") == 0) {
					json_object_set_new(d, "vlan_tag", json_true());
					i++;
					continue;
				}
				if (da != NULL &&
				    (strcmp(dk, "via") == 0 || strcmp(dk, "source") == 0 ||
				     strcmp(dk, "mac") == 0)) {
					json_object_set_new(d, dk, json_string(da));
					i += 2;
					continue;
				}
				if (da != NULL &&
				    (strcmp(dk, "vxlan") == 0 || strcmp(dk, "erspan") == 0)) {
					if (parse_num(da, 0xffffff, &v) != 0) {
						json_decref(d);
						return fail(err, errlen,
							    "mirror add: bad %s id '%s'", dk, da);
					}
					json_object_set_new(d, dk, json_integer((json_int_t)v));
					i += 2;
					continue;
				}
				if (strcmp(dk, "rotate") != 0 && strcmp(dk, "every") != 0 &&
				    strcmp(dk, "keep") != 0)
					break;
				if (da == NULL) {
					json_decref(d);
					return fail(err, errlen, "mirror add: '%s' needs a value%s",
						    dk, "");
				}
				if ((dk[0] == 'r' && parse_size(da, &v) != 0) ||
				    (dk[0] == 'e' && parse_secs(da, &v) != 0) ||
				    (dk[0] == 'k' && parse_num(da, 100000, &v) != 0)) {
					json_decref(d);
					return fail(err, errlen, "mirror add: bad %s '%s'", dk, da);
				}
				json_object_set_new(d, dk, json_integer((json_int_t)v));
				i += 2;
			}
			json_array_append_new(to, d);
			continue;
		}
		if (a == NULL)
			return fail(err, errlen, "mirror add: '%s' needs a value%s", k, "");
		if (strcmp(k, "segment") == 0) {
			json_array_append_new(segs, json_string(a));
		} else if (strcmp(k, "port") == 0) {
			json_array_append_new(ports, json_string(a));
		} else if (strcmp(k, "direction") == 0) {
			const char *d = strcmp(a, "in") == 0	? "ingress"
					: strcmp(a, "out") == 0 ? "egress"
								: a;
			json_object_set_new(args, "direction", json_string(d));
		} else if (strcmp(k, "verdict") == 0) {
			const char *d = strcmp(a, "allow") == 0	  ? "allowed"
					: strcmp(a, "block") == 0 ? "blocked"
								  : a;
			json_object_set_new(args, "verdict", json_string(d));
		} else if (strcmp(k, "tap") == 0 || strcmp(k, "filter") == 0) {
			json_object_set_new(args, k, json_string(a));
		} else if (strcmp(k, "snaplen") == 0 || strcmp(k, "sample") == 0) {
			if (parse_num(a, 1u << 30, &v) != 0)
				return fail(err, errlen, "mirror add: bad %s '%s'", k, a);
			json_object_set_new(args, k, json_integer((json_int_t)v));
		} else {
			return fail(
				err, errlen,
				"mirror add: unknown setting '%s'%s (segment, port, direction, verdict, tap, filter, snaplen, sample, to)",
				k, "");
		}
		i += 2;
	}
	return 0;
}

static void
print_one(json_t *m)
{
	json_t *cfg = json_object_get(m, "config"), *k = json_object_get(m, "counters");
	json_t *d;
	size_t i;
	char *sel = json_dumps(json_object_get(cfg, "segments"), JSON_COMPACT);
	char *prt = json_dumps(json_object_get(cfg, "ports"), JSON_COMPACT);

	printf("mirror %s%s\n", json_string_value(json_object_get(m, "name")),
	       json_is_true(json_object_get(cfg, "from_policy")) ? " (policy file)" : "");
	printf("  select   segments %s ports %s direction %s verdict %s tap %s\n", sel ? sel : "",
	       prt ? prt : "", json_string_value(json_object_get(cfg, "direction")),
	       json_string_value(json_object_get(cfg, "verdict")),
	       json_string_value(json_object_get(cfg, "tap")));
	free(sel);
	free(prt);
	printf("  filter   %s\n", json_string_length(json_object_get(cfg, "filter"))
					  ? json_string_value(json_object_get(cfg, "filter"))
					  : "(every packet)");
	printf("  snaplen  %lld  sample 1/%lld\n",
	       (long long)json_integer_value(json_object_get(cfg, "snaplen")),
	       (long long)json_integer_value(json_object_get(cfg, "sample")));
	printf("  counters selected %lld filtered %lld sampled_out %lld copied %lld written %lld\n",
	       (long long)json_integer_value(json_object_get(k, "selected")),
	       (long long)json_integer_value(json_object_get(k, "filtered")),
	       (long long)json_integer_value(json_object_get(k, "sampled_out")),
	       (long long)json_integer_value(json_object_get(k, "copied")),
	       (long long)json_integer_value(json_object_get(m, "written")));
	printf("  dropped  queue_full %lld copy_failed %lld dest_down %lld\n",
	       (long long)json_integer_value(json_object_get(k, "queue_full")),
	       (long long)json_integer_value(json_object_get(k, "copy_failed")),
	       (long long)json_integer_value(json_object_get(k, "dest_down")));
	json_array_foreach(json_object_get(m, "destinations"), i, d) {
		const char *kind = json_string_value(json_object_get(d, "kind"));

		if (kind != NULL && (strcmp(kind, "vxlan") == 0 || strcmp(kind, "erspan") == 0))
			printf("  to %s %lld via %s: %s\n", kind,
			       (long long)json_integer_value(json_object_get(
				       d, strcmp(kind, "vxlan") == 0 ? "vni" : "session_id")),
			       json_string_value(json_object_get(d, "port")),
			       json_string_value(json_object_get(d, "state")));
		else if (kind != NULL && strcmp(kind, "port") == 0)
			printf("  to port  %s%s: %s\n",
			       json_string_value(json_object_get(d, "port")),
			       json_is_true(json_object_get(d, "vlan_tag")) ? " vlan-tag" : "",
			       json_string_value(json_object_get(d, "state")));
		else
			printf("  to %-6s %s: written %lld, write errors %lld, files %lld\n",
			       kind ? kind : "?", json_string_value(json_object_get(d, "file")),
			       (long long)json_integer_value(json_object_get(d, "written")),
			       (long long)json_integer_value(json_object_get(d, "write_errors")),
			       (long long)json_integer_value(json_object_get(d, "files")));
	}
}

void
hv_cli_print_mirrors(json_t *r)
{
	json_t *m;
	size_t i;

	if (json_is_array(r)) {
		if (json_array_size(r) == 0)
			printf("no mirror sessions\n");
		json_array_foreach(r, i, m)
			print_one(m);
		return;
	}
	print_one(r);
}

/* ---- capture ---- */

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const char capture_usage[] =
	"usage: hvnetctl capture PORT|SEGMENT [-f FILTER] [-c COUNT] [-s SNAPLEN] -w FILE|-";

int
hv_cli_capture(int argc, char **argv, const char *socket_path, bool json)
{
	const char *target = NULL, *filter = NULL, *out = NULL;
	uint64_t count = 0, snaplen = 0;
	json_t *args, *reply = NULL, *res;
	char session[64];
	long long written = 0;
	int fd, ofd, rc, status = 0;
	struct sigaction sa = {.sa_handler = on_signal};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((strcmp(a, "-f") == 0 || strcmp(a, "-c") == 0 || strcmp(a, "-w") == 0 ||
		     strcmp(a, "-s") == 0) &&
		    i + 1 < argc) {
			const char *v = argv[++i];

			if (a[1] == 'f')
				filter = v;
			else if (a[1] == 'w')
				out = v;
			else if (parse_num(v, a[1] == 'c' ? UINT32_MAX : 65535,
					   a[1] == 'c' ? &count : &snaplen) != 0) {
				fprintf(stderr, "hvnetctl: capture: bad %s '%s'\n%s\n", a, v,
					capture_usage);
				return 2;
			}
		} else if (target == NULL && a[0] != '-') {
			target = a;
		} else {
			fprintf(stderr, "hvnetctl: capture: unexpected '%s'\n%s\n", a,
				capture_usage);
			return 2;
		}
	}
	if (target == NULL || out == NULL) {
		fprintf(stderr, "hvnetctl: capture: needs a PORT or SEGMENT and -w\n%s\n",
			capture_usage);
		return 2;
	}
	if (strcmp(out, "-") == 0)
		ofd = dup(STDOUT_FILENO);
	else
		ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ofd < 0) {
		fprintf(stderr, "hvnetctl: capture: cannot open %s: %s\n", out, strerror(errno));
		return 1;
	}
	fd = hv_ctl_connect(socket_path);
	if (fd < 0) {
		fprintf(stderr, "hvnetctl: cannot connect to %s: %s\n", socket_path, strerror(-fd));
		close(ofd);
		return 3;
	}
	args = json_pack("{s:s, s:I, s:I}", "target", target, "count", (json_int_t)count, "snaplen",
			 (json_int_t)snaplen);
	if (filter != NULL)
		json_object_set_new(args, "filter", json_string(filter));
	rc = hv_ctl_call_fd(fd, "capture.start", args, ofd, 5000, &reply);
	close(ofd); /* hvnetd holds its own copy */
	if (rc != 0 || !json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");

		fprintf(stderr, "hvnetctl: capture: %s\n",
			rc != 0 ? strerror(-rc) : json_string_value(json_object_get(e, "message")));
		json_decref(reply);
		close(fd);
		return rc != 0 ? 4 : 1;
	}
	snprintf(session, sizeof(session), "%s",
		 json_string_value(json_object_get(json_object_get(reply, "result"), "session")));
	json_decref(reply);
	fprintf(stderr, "hvnetctl: capturing on %s%s%s\n", target, filter ? ", filter " : "",
		filter ? filter : "");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &(struct sigaction){.sa_handler = SIG_IGN}, NULL);
	while (!interrupted) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		rc = hv_ctl_call(fd, "capture.status", json_pack("{s:s}", "session", session), 5000,
				 &reply);
		if (rc != 0 || !json_is_true(json_object_get(reply, "ok"))) {
			fprintf(stderr, "hvnetctl: capture: the daemon ended it (%s)\n",
				rc != 0 ? strerror(-rc) : "gone");
			json_decref(reply);
			status = 1;
			break;
		}
		res = json_object_get(reply, "result");
		written = (long long)json_integer_value(json_object_get(res, "written"));
		if (json_is_true(json_object_get(res, "done"))) {
			const char *e = json_string_value(json_object_get(res, "error"));

			if (e != NULL && e[0] != '\0') {
				fprintf(stderr, "hvnetctl: capture: output: %s\n", e);
				status = 1;
			}
			if (json)
				print_one(res);
			json_decref(reply);
			break;
		}
		json_decref(reply);
	}
	close(fd); /* an interrupted capture ends with the connection */
	fprintf(stderr, "%lld packets captured\n", written);
	return status;
}
