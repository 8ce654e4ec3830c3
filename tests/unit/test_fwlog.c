/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the firewall verdict log: JSON lines from two producers,
 * field by field; a full ring drops and counts; the pcapng file read back
 * by libpcap and block by block; the interface bound; rotation with
 * reopen; the token bucket on synthetic TSC values; open errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcap/pcap.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "firewall/fwlog.h"

#define T0_NS	 1700000000123456789ull /* 2023-11-14T22:13:20.123456789Z */
#define T0_TEXT	 "2023-11-14T22:13:20.123456Z"
#define PER_PROD 1000

static char tmpdir[64];

static void
path_in_tmp(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
	unlink(buf);
}

static void
set_str(char *dst, size_t n, const char *s)
{
	size_t len = strlen(s);

	/* a record's string may fill its array with no NUL */
	memset(dst, 0, n);
	memcpy(dst, s, len < n ? len : n);
}

static struct hv_fwlog_rec
rec(const char *rule, unsigned verdict, const char *reason, const char *seg, const char *port)
{
	struct hv_fwlog_rec r;

	memset(&r, 0, sizeof(r));
	r.time_ns = T0_NS;
	r.verdict = (uint8_t)verdict;
	set_str(r.rule, sizeof(r.rule), rule);
	set_str(r.reason, sizeof(r.reason), reason);
	set_str(r.segment, sizeof(r.segment), seg);
	set_str(r.port, sizeof(r.port), port);
	return r;
}

static void
rec_addr(struct hv_fwlog_rec *r, uint8_t proto, const char *src, const char *dst)
{
	int af = strchr(src, ':') ? AF_INET6 : AF_INET;

	r->family = af == AF_INET ? 4 : 6;
	r->proto = proto;
	assert_int_equal(inet_pton(af, src, r->src_ip), 1);
	assert_int_equal(inet_pton(af, dst, r->dst_ip), 1);
}

static struct hv_fwlog *
open_log(const char *json, const char *pcapng, unsigned n_prod, unsigned ring)
{
	struct hv_fwlog_conf c = {
		.json_path = json,
		.pcapng_path = pcapng,
		.n_producers = n_prod,
		.ring_size = ring,
	};
	char err[256] = "";
	struct hv_fwlog *l = hv_fwlog_open(&c, err, sizeof(err));

	if (l == NULL)
		fail_msg("%s", err);
	return l;
}

/* Every line of a file parsed as JSON, in a new array. */
static json_t *
read_lines(const char *path)
{
	json_t *arr = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		json_error_t je;
		json_t *o;

		assert_int_equal(line[n - 1], '\n');
		o = json_loadb(line, (size_t)n, 0, &je);
		if (o == NULL)
			fail_msg("bad JSON line: %s (%s)", line, je.text);
		assert_true(json_is_object(o));
		json_array_append_new(arr, o);
	}
	free(line);
	fclose(f);
	return arr;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("key %s is not a string", key);
	return json_string_value(v);
}

static json_int_t
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("key %s is not an integer", key);
	return json_integer_value(v);
}

static bool
time_format_ok(const char *s)
{
	/* YYYY-MM-DDTHH:MM:SS.uuuuuuZ */
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return false;
	}
	return true;
}

/* ---- (1) two producers, every field ---- */

struct prod_arg {
	struct hv_fwlog *l;
	unsigned id;
};

static void
known_rec(unsigned producer, unsigned i, struct hv_fwlog_rec *r)
{
	char rule[64];

	snprintf(rule, sizeof(rule), "p%u-%u", producer, i);
	*r = rec(rule, HV_FWLOG_ALLOW, "rule", "app", producer ? "web2" : "web1");
	r->time_ns = T0_NS + i * 1000ull;
	r->pkt_len = 60 + i;
	if (producer == 1) { /* the known records come from producer 0 only */
		if (i % 2)
			rec_addr(r, IPPROTO_TCP, "10.0.0.1", "10.0.0.2");
		return;
	}
	switch (i) {
	case 0:
		*r = rec("app-to-mgmt", HV_FWLOG_BLOCK, "rule", "app", "web1");
		r->pkt_len = 74;
		rec_addr(r, IPPROTO_TCP, "10.1.2.3", "192.168.0.254");
		r->sport = 40000;
		r->dport = 22;
		break;
	case 1:
		*r = rec("policy.hvnet:12", HV_FWLOG_REJECT, "default", "mgmt", "db1");
		r->pkt_len = 90;
		rec_addr(r, IPPROTO_UDP, "2001:db8::1", "fe80::1:2");
		r->sport = 5353;
		r->dport = 53;
		break;
	case 2:
		*r = rec("ping", HV_FWLOG_DROP, "ct_invalid", "app", "web1");
		r->pkt_len = 98;
		rec_addr(r, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2");
		r->icmp_type = 8;
		r->sport = 1111; /* not shown for icmp */
		break;
	case 3:
		*r = rec("nd", HV_FWLOG_ALLOW, "policy_changed", "app", "web1");
		r->pkt_len = 86;
		rec_addr(r, IPPROTO_ICMPV6, "::1", "ff02::1:ff00:1");
		r->icmp_type = 135;
		r->icmp_code = 0;
		break;
	case 4:
		*r = rec("gre", HV_FWLOG_BLOCK, "rule", "app", "web1");
		rec_addr(r, 47, "10.0.0.1", "10.0.0.2");
		r->pkt_len = 100;
		break;
	case 5:
		/* escaping: quote, backslash, control char, invalid UTF-8, a full array */
		*r = rec("a\"b\\c\x01\xff\xc3\xa9", HV_FWLOG_BLOCK, "rule", "seg", "");
		memset(r->port, 'p', sizeof(r->port));
		r->pkt_len = 42;
		break;
	default:
		if (i % 2)
			rec_addr(r, IPPROTO_TCP, "10.0.0.1", "10.0.0.2");
		break;
	}
	if (i < 6)
		r->time_ns = T0_NS;
}

static void *
producer_main(void *arg)
{
	struct prod_arg *a = arg;
	struct hv_fwlog_rec r;

	for (unsigned i = 0; i < PER_PROD; i++) {
		known_rec(a->id, i, &r);
		if (!hv_fwlog_submit(a->l, a->id, &r))
			return (void *)1;
	}
	return NULL;
}

static void
check_known(json_t *o, unsigned i)
{
	assert_string_equal(jstr(o, "time"), T0_TEXT);
	switch (i) {
	case 0:
		assert_string_equal(jstr(o, "rule"), "app-to-mgmt");
		assert_string_equal(jstr(o, "verdict"), "block");
		assert_string_equal(jstr(o, "reason"), "rule");
		assert_string_equal(jstr(o, "segment"), "app");
		assert_string_equal(jstr(o, "port"), "web1");
		assert_int_equal(jint(o, "family"), 4);
		assert_string_equal(jstr(o, "proto"), "tcp");
		assert_string_equal(jstr(o, "src"), "10.1.2.3");
		assert_string_equal(jstr(o, "dst"), "192.168.0.254");
		assert_int_equal(jint(o, "sport"), 40000);
		assert_int_equal(jint(o, "dport"), 22);
		assert_null(json_object_get(o, "icmp_type"));
		assert_int_equal(jint(o, "len"), 74);
		assert_int_equal(json_object_size(o), 13);
		break;
	case 1:
		assert_string_equal(jstr(o, "rule"), "policy.hvnet:12");
		assert_string_equal(jstr(o, "verdict"), "reject");
		assert_string_equal(jstr(o, "reason"), "default");
		assert_string_equal(jstr(o, "segment"), "mgmt");
		assert_string_equal(jstr(o, "port"), "db1");
		assert_int_equal(jint(o, "family"), 6);
		assert_string_equal(jstr(o, "proto"), "udp");
		assert_string_equal(jstr(o, "src"), "2001:db8::1");
		assert_string_equal(jstr(o, "dst"), "fe80::1:2");
		assert_int_equal(jint(o, "sport"), 5353);
		assert_int_equal(jint(o, "dport"), 53);
		assert_int_equal(jint(o, "len"), 90);
		break;
	case 2:
		assert_string_equal(jstr(o, "verdict"), "drop");
		assert_string_equal(jstr(o, "reason"), "ct_invalid");
		assert_string_equal(jstr(o, "proto"), "icmp");
		assert_string_equal(jstr(o, "src"), "10.0.0.1");
		assert_int_equal(jint(o, "icmp_type"), 8);
		assert_int_equal(jint(o, "icmp_code"), 0);
		assert_null(json_object_get(o, "sport"));
		assert_null(json_object_get(o, "dport"));
		assert_int_equal(json_object_size(o), 13);
		break;
	case 3:
		assert_string_equal(jstr(o, "verdict"), "allow");
		assert_string_equal(jstr(o, "reason"), "policy_changed");
		assert_string_equal(jstr(o, "proto"), "icmpv6");
		assert_string_equal(jstr(o, "src"), "::1");
		assert_string_equal(jstr(o, "dst"), "ff02::1:ff00:1");
		assert_int_equal(jint(o, "icmp_type"), 135);
		assert_int_equal(jint(o, "icmp_code"), 0);
		break;
	case 4:
		assert_int_equal(jint(o, "proto"), 47);
		assert_null(json_object_get(o, "sport"));
		assert_null(json_object_get(o, "icmp_type"));
		assert_int_equal(json_object_size(o), 11);
		break;
	case 5:
		assert_string_equal(jstr(o, "rule"), "a\"b\\c\x01\xef\xbf\xbd\xc3\xa9");
		assert_string_equal(jstr(o, "port"), "pppppppppppppppppppppppppppppppp");
		assert_null(json_object_get(o, "family"));
		assert_null(json_object_get(o, "src"));
		assert_int_equal(json_object_size(o), 7);
		break;
	}
}

static void
two_producers(void **state)
{
	char json[128];
	struct prod_arg a[2];
	pthread_t th[2];
	struct hv_fwlog_stats st;
	unsigned next[2] = {0, 0};
	struct stat sb;
	json_t *lines, *o;
	size_t idx;
	void *ret;

	(void)state;
	path_in_tmp(json, sizeof(json), "two.json");
	a[0].l = a[1].l = open_log(json, NULL, 2, 4096);
	for (unsigned p = 0; p < 2; p++) {
		a[p].id = p;
		assert_int_equal(pthread_create(&th[p], NULL, producer_main, &a[p]), 0);
	}
	for (unsigned p = 0; p < 2; p++) {
		assert_int_equal(pthread_join(th[p], &ret), 0);
		assert_null(ret);
	}
	hv_fwlog_stats(a[0].l, &st);
	assert_int_equal(st.submitted, 2 * PER_PROD);
	assert_int_equal(st.dropped_full, 0);
	hv_fwlog_close(a[0].l);

	assert_int_equal(stat(json, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	lines = read_lines(json);
	assert_int_equal(json_array_size(lines), 2 * PER_PROD);
	json_array_foreach(lines, idx, o) {
		const char *rule = jstr(o, "rule");
		unsigned p, i;

		assert_true(time_format_ok(jstr(o, "time")));
		if (sscanf(rule, "p%u-%u", &p, &i) != 2) {
			p = 0; /* a known record, told apart by its place in producer 0's order */
			i = next[0];
			assert_true(i < 6);
		}
		/* each producer's records come out in the order submitted */
		assert_int_equal(i, next[p]);
		next[p]++;
		if (p == 0 && i < 6) {
			check_known(o, i);
		} else {
			char exp_time[32];

			snprintf(exp_time, sizeof(exp_time), "2023-11-14T22:13:20.%06uZ",
				 123456 + i);
			assert_string_equal(jstr(o, "time"), exp_time);
			assert_string_equal(jstr(o, "port"), p ? "web2" : "web1");
			assert_int_equal(jint(o, "len"), 60 + i);
			if (i % 2)
				assert_string_equal(jstr(o, "proto"), "tcp");
			else
				assert_null(json_object_get(o, "proto"));
		}
	}
	assert_int_equal(next[0], PER_PROD);
	assert_int_equal(next[1], PER_PROD);
	json_decref(lines);
}

/* ---- (2) a full ring drops and counts ---- */

static unsigned
count_lines(const char *path)
{
	json_t *lines = read_lines(path);
	unsigned n = (unsigned)json_array_size(lines);

	json_decref(lines);
	return n;
}

static void
wait_written(struct hv_fwlog *l, uint64_t n)
{
	struct hv_fwlog_stats st;

	for (int i = 0; i < 5000; i++) {
		hv_fwlog_stats(l, &st);
		if (st.written >= n)
			break;
		usleep(1000);
	}
	assert_int_equal(st.written, n);
}

static void
full_ring_drops(void **state)
{
	struct hv_fwlog_rec r = rec("r", HV_FWLOG_BLOCK, "rule", "s", "p");
	struct hv_fwlog_stats st;
	struct hv_fwlog *l;
	char json[128];

	(void)state;
	path_in_tmp(json, sizeof(json), "full.json");
	l = open_log(json, NULL, 1, 8);
	hv_fwlog_pause(l, true);
	for (int i = 0; i < 8; i++)
		assert_true(hv_fwlog_submit(l, 0, &r));
	assert_false(hv_fwlog_submit(l, 0, &r));
	assert_false(hv_fwlog_submit(l, 1, &r)); /* no such producer: refused, uncounted */
	hv_fwlog_note_ratelimited(l, 0);
	hv_fwlog_stats(l, &st);
	assert_int_equal(st.submitted, 8);
	assert_int_equal(st.dropped_full, 1);
	assert_int_equal(st.rate_limited, 1);
	assert_int_equal(st.written, 0);
	assert_int_equal(count_lines(json), 0);

	hv_fwlog_pause(l, false);
	wait_written(l, 8);
	assert_int_equal(count_lines(json), 8);

	/* again, and close while paused: close still drains */
	hv_fwlog_pause(l, true);
	for (int i = 0; i < 8; i++)
		assert_true(hv_fwlog_submit(l, 0, &r));
	assert_false(hv_fwlog_submit(l, 0, &r));
	hv_fwlog_stats(l, &st);
	assert_int_equal(st.dropped_full, 2);
	hv_fwlog_close(l);
	assert_int_equal(count_lines(json), 16);
}

/* ---- (3) pcapng ---- */

struct block {
	uint32_t type;
	uint32_t len;
	const uint8_t *body; /* after type and length */
	uint32_t body_len;   /* len - 12 */
};

/* Read a whole file. */
static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d;
	long sz;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	assert_true(sz >= 0);
	rewind(f);
	d = malloc((size_t)sz + 1);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return d;
}

static uint32_t
rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t
rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Split a pcapng file into blocks, checking both length fields of each. */
static unsigned
walk_blocks(const uint8_t *d, size_t n, struct block *out, unsigned max)
{
	unsigned nb = 0;
	size_t off = 0;

	while (off < n) {
		uint32_t len;

		assert_true(n - off >= 12);
		len = rd32(d + off + 4);
		assert_int_equal(len % 4, 0);
		assert_true(len >= 12 && len <= n - off);
		assert_int_equal(rd32(d + off + len - 4), len);
		assert_true(nb < max);
		out[nb].type = rd32(d + off);
		out[nb].len = len;
		out[nb].body = d + off + 8;
		out[nb].body_len = len - 12;
		nb++;
		off += len;
	}
	return nb;
}

/* The value of option code in an option list, or NULL. */
static const uint8_t *
find_opt(const uint8_t *p, uint32_t n, uint16_t code, uint16_t *len)
{
	uint32_t off = 0;

	while (off + 4 <= n) {
		uint16_t c = rd16(p + off), l = rd16(p + off + 2);

		if (c == 0)
			break;
		assert_true(off + 4 + l <= n);
		if (c == code) {
			*len = l;
			return p + off + 4;
		}
		off += 4 + ((l + 3u) & ~3u);
	}
	return NULL;
}

static void
assert_opt_str(const uint8_t *opts, uint32_t n, uint16_t code, const char *want)
{
	uint16_t len = 0;
	const uint8_t *v = find_opt(opts, n, code, &len);

	assert_non_null(v);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(v, want, len);
}

static void
frame(uint8_t *f, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

static void
pcapng_file(void **state)
{
	char json[128], pcapng[128], perr[PCAP_ERRBUF_SIZE];
	static const struct {
		const char *rule, *port, *comment;
		unsigned verdict;
		uint32_t pkt_len;
		uint16_t snap_len;
	} want[] = {
		{"app-to-mgmt", "web1",
		 "rule=app-to-mgmt verdict=block reason=rule segment=app port=web1", HV_FWLOG_BLOCK,
		 60, 60},
		{"policy.hvnet:12", "web2",
		 "rule=policy.hvnet:12 verdict=allow reason=rule segment=app port=web2",
		 HV_FWLOG_ALLOW, 1514, HV_FWLOG_SNAP},
		{"app-to-mgmt", "web1",
		 "rule=app-to-mgmt verdict=block reason=rule segment=app port=web1", HV_FWLOG_BLOCK,
		 61, 61},
	};
	const unsigned n = sizeof(want) / sizeof(want[0]);
	struct pcap_pkthdr *h;
	const u_char *data;
	struct hv_fwlog *l;
	struct block b[16];
	unsigned nb, epb = 0, idb = 0;
	uint8_t *file;
	size_t fsz;
	pcap_t *pc;

	(void)state;
	path_in_tmp(json, sizeof(json), "pc.json");
	path_in_tmp(pcapng, sizeof(pcapng), "pc.pcapng");
	l = open_log(json, pcapng, 1, 0);
	for (unsigned i = 0; i < n; i++) {
		struct hv_fwlog_rec r =
			rec(want[i].rule, want[i].verdict, "rule", "app", want[i].port);

		r.time_ns = T0_NS + i;
		r.pkt_len = want[i].pkt_len;
		r.snap_len = want[i].snap_len;
		frame(r.snap, r.snap_len, i);
		rec_addr(&r, IPPROTO_TCP, "10.0.0.1", "10.0.0.2");
		assert_true(hv_fwlog_submit(l, 0, &r));
	}
	hv_fwlog_close(l);

	/* libpcap reads it back */
	pc = pcap_open_offline(pcapng, perr);
	if (pc == NULL)
		fail_msg("pcap_open_offline: %s", perr);
	assert_int_equal(pcap_datalink(pc), DLT_EN10MB);
	for (unsigned i = 0; i < n; i++) {
		uint8_t f[HV_FWLOG_SNAP];

		assert_int_equal(pcap_next_ex(pc, &h, &data), 1);
		assert_int_equal(h->caplen, want[i].snap_len);
		assert_int_equal(h->len, want[i].pkt_len);
		assert_int_equal(h->ts.tv_sec, 1700000000);
		assert_int_equal(h->ts.tv_usec, 123456);
		frame(f, want[i].snap_len, i);
		assert_memory_equal(data, f, want[i].snap_len);
	}
	assert_int_equal(pcap_next_ex(pc, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(pc);

	/* block by block */
	file = slurp(pcapng, &fsz);
	nb = walk_blocks(file, fsz, b, 16);
	assert_int_equal(nb, 1 + 2 + 3); /* SHB, IDB web1, IDB web2, 3 EPB */
	assert_int_equal(b[0].type, 0x0A0D0D0A);
	assert_int_equal(rd32(b[0].body), 0x1A2B3C4D);
	for (unsigned i = 1; i < nb; i++) {
		if (b[i].type == 1) {
			const char *names[] = {"web1", "web2"};
			uint16_t len;
			const uint8_t *v;

			assert_true(idb < 2);
			assert_int_equal(rd16(b[i].body), 1); /* Ethernet */
			assert_int_equal(rd32(b[i].body + 4), HV_FWLOG_SNAP);
			assert_opt_str(b[i].body + 8, b[i].body_len - 8, 2, names[idb]);
			v = find_opt(b[i].body + 8, b[i].body_len - 8, 9, &len);
			assert_non_null(v);
			assert_int_equal(len, 1);
			assert_int_equal(v[0], 9);
			idb++;
		} else {
			uint32_t cap, optoff;
			uint64_t ts;

			assert_int_equal(b[i].type, 6);
			assert_true(epb < n);
			/* web1, web2, web1: interfaces 0, 1, 0, each described before use */
			assert_int_equal(rd32(b[i].body), epb == 1 ? 1 : 0);
			assert_true(rd32(b[i].body) < idb);
			ts = (uint64_t)rd32(b[i].body + 4) << 32 | rd32(b[i].body + 8);
			assert_true(ts == T0_NS + epb);
			cap = rd32(b[i].body + 12);
			assert_int_equal(cap, want[epb].snap_len);
			assert_int_equal(rd32(b[i].body + 16), want[epb].pkt_len);
			optoff = 20 + ((cap + 3) & ~3u);
			assert_opt_str(b[i].body + optoff, b[i].body_len - optoff, 1,
				       want[epb].comment);
			epb++;
		}
	}
	assert_int_equal(idb, 2);
	assert_int_equal(epb, n);
	free(file);
	assert_int_equal(count_lines(json), n);
}

/* More distinct ports than interfaces: the rest share "(other)". */
static void
pcapng_iface_bound(void **state)
{
	const unsigned n = HV_FWLOG_MAX_IFACES + 76;
	char json[128], pcapng[128], name[32];
	struct hv_fwlog_stats st;
	struct hv_fwlog *l;
	struct block *b;
	unsigned nb, idb = 0, epb = 0;
	uint8_t *file;
	size_t fsz;

	(void)state;
	path_in_tmp(json, sizeof(json), "bound.json");
	path_in_tmp(pcapng, sizeof(pcapng), "bound.pcapng");
	l = open_log(json, pcapng, 1, 2048);
	for (unsigned i = 0; i < n; i++) {
		struct hv_fwlog_rec r;

		snprintf(name, sizeof(name), "port%u", i);
		r = rec("r", HV_FWLOG_BLOCK, "rule", "s", name);
		r.pkt_len = 60;
		r.snap_len = 60;
		assert_true(hv_fwlog_submit(l, 0, &r));
	}
	/* a name seen before the bound keeps its own interface */
	{
		struct hv_fwlog_rec r = rec("r", HV_FWLOG_BLOCK, "rule", "s", "port7");

		assert_true(hv_fwlog_submit(l, 0, &r));
	}
	wait_written(l, n + 1);
	hv_fwlog_pause(l, true); /* the writer is between rounds: pcapng counters final too */
	hv_fwlog_stats(l, &st);
	hv_fwlog_close(l);
	assert_int_equal(st.pcap_written, n + 1);
	assert_int_equal(st.pcap_iface_overflow, n - (HV_FWLOG_MAX_IFACES - 1));

	file = slurp(pcapng, &fsz);
	b = calloc(3 * n, sizeof(*b));
	nb = walk_blocks(file, fsz, b, 3 * n);
	for (unsigned i = 0; i < nb; i++) {
		if (b[i].type == 1) {
			if (idb == HV_FWLOG_MAX_IFACES - 1)
				assert_opt_str(b[i].body + 8, b[i].body_len - 8, 2, "(other)");
			idb++;
		} else if (b[i].type == 6) {
			uint32_t ifid = rd32(b[i].body);

			if (epb < HV_FWLOG_MAX_IFACES - 1)
				assert_int_equal(ifid, epb);
			else if (epb < n)
				assert_int_equal(ifid, HV_FWLOG_MAX_IFACES - 1);
			else
				assert_int_equal(ifid, 7);
			epb++;
		}
	}
	assert_int_equal(idb, HV_FWLOG_MAX_IFACES);
	assert_int_equal(epb, n + 1);
	free(b);
	free(file);
}

/* ---- rotation ---- */

static void
reopen_rotates(void **state)
{
	char json[128], json1[128], pcapng[128], pcapng1[128], err[256];
	struct hv_fwlog_rec r = rec("before", HV_FWLOG_BLOCK, "rule", "s", "p");
	struct block b[8];
	struct hv_fwlog *l;
	json_t *lines;
	uint8_t *file;
	size_t fsz;

	(void)state;
	path_in_tmp(json, sizeof(json), "rot.json");
	path_in_tmp(json1, sizeof(json1), "rot.json.1");
	path_in_tmp(pcapng, sizeof(pcapng), "rot.pcapng");
	path_in_tmp(pcapng1, sizeof(pcapng1), "rot.pcapng.1");
	l = open_log(json, pcapng, 1, 0);
	assert_true(hv_fwlog_submit(l, 0, &r));
	wait_written(l, 1);
	assert_int_equal(rename(json, json1), 0);
	assert_int_equal(rename(pcapng, pcapng1), 0);
	assert_int_equal(hv_fwlog_reopen(l, err, sizeof(err)), 0);
	set_str(r.rule, sizeof(r.rule), "after");
	assert_true(hv_fwlog_submit(l, 0, &r));
	hv_fwlog_close(l);

	lines = read_lines(json1);
	assert_int_equal(json_array_size(lines), 1);
	assert_string_equal(jstr(json_array_get(lines, 0), "rule"), "before");
	json_decref(lines);
	lines = read_lines(json);
	assert_int_equal(json_array_size(lines), 1);
	assert_string_equal(jstr(json_array_get(lines, 0), "rule"), "after");
	json_decref(lines);

	/* the new pcapng file is a section of its own: SHB, IDB, EPB */
	file = slurp(pcapng, &fsz);
	assert_int_equal(walk_blocks(file, fsz, b, 8), 3);
	assert_int_equal(b[0].type, 0x0A0D0D0A);
	assert_int_equal(b[1].type, 1);
	assert_int_equal(b[2].type, 6);
	assert_int_equal(rd32(b[2].body), 0);
	free(file);
}

/* ---- snap from an mbuf chain ---- */

static void
snap_from_mbuf(void **state)
{
	struct rte_mempool *mp =
		rte_pktmbuf_pool_create("fwlog_test", 15, 0, 0, 512, SOCKET_ID_ANY);
	struct rte_mbuf *a, *b, *c;
	struct hv_fwlog_rec r;
	uint8_t want[HV_FWLOG_SNAP];
	uint8_t *p;

	(void)state;
	assert_non_null(mp);
	a = rte_pktmbuf_alloc(mp);
	b = rte_pktmbuf_alloc(mp);
	assert_non_null(a);
	assert_non_null(b);
	/* 100 + 300 bytes in two segments: the snap crosses the boundary */
	p = (uint8_t *)rte_pktmbuf_append(a, 100);
	frame(want, sizeof(want), 3);
	memcpy(p, want, 100);
	p = (uint8_t *)rte_pktmbuf_append(b, 300);
	for (unsigned i = 0; i < 300; i++)
		p[i] = (uint8_t)((i + 100) * 7 + 3);
	assert_int_equal(rte_pktmbuf_chain(a, b), 0);
	memset(&r, 0, sizeof(r));
	hv_fwlog_rec_snap(&r, a);
	assert_int_equal(r.pkt_len, 400);
	assert_int_equal(r.snap_len, HV_FWLOG_SNAP);
	assert_memory_equal(r.snap, want, HV_FWLOG_SNAP);
	rte_pktmbuf_free(a);

	/* shorter than the snap: all of it */
	c = rte_pktmbuf_alloc(mp);
	assert_non_null(c);
	p = (uint8_t *)rte_pktmbuf_append(c, 42);
	memcpy(p, want, 42);
	hv_fwlog_rec_snap(&r, c);
	assert_int_equal(r.pkt_len, 42);
	assert_int_equal(r.snap_len, 42);
	assert_memory_equal(r.snap, want, 42);
	rte_pktmbuf_free(c);
	rte_mempool_free(mp);
}

/* ---- (4) token bucket ---- */

static void
token_bucket(void **state)
{
	const uint64_t hz = 1000; /* a 1 kHz "TSC" keeps the arithmetic readable */
	struct hv_fwlog_bucket b;
	uint64_t t = 5000;

	(void)state;
	hv_fwlog_bucket_init(&b, t, hz, 5);
	for (int i = 0; i < 5; i++)
		assert_true(hv_fwlog_bucket_take(&b, t, hz, 10, 5)); /* starts with burst */
	assert_false(hv_fwlog_bucket_take(&b, t, hz, 10, 5));	     /* empty */
	t += 50;						     /* half a token at 10/s */
	assert_false(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	t += 50; /* the other half */
	assert_true(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	assert_false(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	t += 300; /* 3 tokens */
	for (int i = 0; i < 3; i++)
		assert_true(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	assert_false(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	t -= 1000; /* TSC going back refills nothing */
	assert_false(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	t += 1000 + 3600 * hz; /* an hour: refills only up to burst */
	for (int i = 0; i < 5; i++)
		assert_true(hv_fwlog_bucket_take(&b, t, hz, 10, 5));
	assert_false(hv_fwlog_bucket_take(&b, t, hz, 10, 5));

	/* over a second at 10/s: exactly 10 more, nothing lost to rounding */
	{
		unsigned got = 0;

		for (int i = 0; i < 1000; i++) {
			t++;
			got += hv_fwlog_bucket_take(&b, t, hz, 10, 5);
		}
		assert_int_equal(got, 10);
	}

	/* real TSC rates and huge gaps saturate instead of overflowing */
	hv_fwlog_bucket_init(&b, 0, 3000000000ull, 100);
	for (int i = 0; i < 100; i++)
		assert_true(hv_fwlog_bucket_take(&b, 0, 3000000000ull, 1000000, 100));
	assert_false(hv_fwlog_bucket_take(&b, 0, 3000000000ull, 1000000, 100));
	assert_true(hv_fwlog_bucket_take(&b, UINT64_MAX / 2, 3000000000ull, 1000000, 100));
	hv_fwlog_bucket_init(&b, 0, UINT64_MAX / 2, UINT32_MAX); /* cap saturates */
	assert_true(hv_fwlog_bucket_take(&b, 1, UINT64_MAX / 2, UINT32_MAX, UINT32_MAX));

	/* burst 0 never admits; rate 0 never refills */
	hv_fwlog_bucket_init(&b, 0, hz, 0);
	assert_false(hv_fwlog_bucket_take(&b, 10 * hz, hz, 10, 0));
	hv_fwlog_bucket_init(&b, 0, hz, 1);
	assert_true(hv_fwlog_bucket_take(&b, 0, hz, 0, 1));
	assert_false(hv_fwlog_bucket_take(&b, 100 * hz, hz, 0, 1));
}

/* ---- (5) open errors ---- */

static void
open_errors(void **state)
{
	struct hv_fwlog_conf c = {.n_producers = 1};
	char err[256], json[128], bad[160];

	(void)state;
	c.json_path = "/nonexistent-hvnet-dir/fw.json";
	errno = 0;
	assert_null(hv_fwlog_open(&c, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent-hvnet-dir/fw.json"));
	assert_non_null(strstr(err, strerror(ENOENT)));

	/* a directory cannot be the log file (works even as root) */
	c.json_path = tmpdir;
	assert_null(hv_fwlog_open(&c, err, sizeof(err)));
	assert_int_equal(errno, EISDIR);
	assert_non_null(strstr(err, tmpdir));

	/* a bad pcapng path is named, not the JSON one */
	path_in_tmp(json, sizeof(json), "err.json");
	snprintf(bad, sizeof(bad), "%s/no-such-dir/x.pcapng", tmpdir);
	c.json_path = json;
	c.pcapng_path = bad;
	assert_null(hv_fwlog_open(&c, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, bad));
	assert_non_null(strstr(err, "pcapng"));

	c.pcapng_path = NULL;
	c.n_producers = 0;
	assert_null(hv_fwlog_open(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	c.n_producers = 100000;
	assert_null(hv_fwlog_open(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	c.n_producers = 1;
	c.ring_size = HV_FWLOG_RING_MAX + 1;
	assert_null(hv_fwlog_open(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_null(hv_fwlog_open(NULL, err, sizeof(err)));
	hv_fwlog_close(NULL);

	assert_string_equal(hv_fwlog_verdict_name(HV_FWLOG_REJECT), "reject");
	assert_string_equal(hv_fwlog_verdict_name(200), "unknown");
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {argv[0],
		       "--no-huge",
		       "-m",
		       "128",
		       "--no-pci",
		       "--no-telemetry",
		       "--log-level=error",
		       "--file-prefix",
		       prefix,
		       "-l",
		       "0",
		       NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_producers),  cmocka_unit_test(full_ring_drops),
		cmocka_unit_test(pcapng_file),	  cmocka_unit_test(pcapng_iface_bound),
		cmocka_unit_test(reopen_rotates), cmocka_unit_test(token_bucket),
		cmocka_unit_test(open_errors),	  cmocka_unit_test(snap_from_mbuf),
	};
	int rc;

	(void)argc;
	umask(022);
	snprintf(prefix, sizeof(prefix), "hvtest-fwlog-%d", (int)getpid());
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hvtest-fwlog-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}
