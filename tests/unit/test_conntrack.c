/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection tracking: the TCP state machine from handshake to TIME_WAIT,
 * window checks, bad flags, reopening, UDP and ICMP echo pseudo-connections,
 * ICMP errors as RELATED (IPv4 and IPv6), timeouts and aging, the bounds
 * (table, management reserve, segment, port) with early drop, flush filters
 * and snapshots. Frames are built byte by byte and go through the real
 * parser, as on the datapath.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "firewall/conntrack.h"

#define HZ     1000000ull /* one tick a microsecond */
#define SEC(s) ((uint64_t)(s)*HZ)

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

/* ---- frames ---- */

struct frame {
	uint8_t b[1600];
	uint32_t len;
	struct hv_pkt_meta m;
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Ethernet + IPv4/IPv6 header for an L4 of L4LEN bytes; returns the L4 offset. */
static uint32_t
ip_hdr(struct frame *f, bool v6, const char *src, const char *dst, uint8_t proto, uint32_t l4len)
{
	uint8_t *b = f->b;

	memset(f, 0, sizeof(*f));
	memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (!v6) {
		put16(b + 12, 0x0800);
		b[14] = 0x45;
		put16(b + 16, (uint16_t)(20 + l4len));
		b[22] = 64;
		b[23] = proto;
		assert_int_equal(inet_pton(AF_INET, src, b + 26), 1);
		assert_int_equal(inet_pton(AF_INET, dst, b + 30), 1);
		f->len = 34 + l4len;
		return 34;
	}
	put16(b + 12, 0x86dd);
	b[14] = 0x60;
	put16(b + 18, (uint16_t)l4len);
	b[20] = proto;
	b[21] = 64;
	assert_int_equal(inet_pton(AF_INET6, src, b + 22), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, b + 38), 1);
	f->len = 54 + l4len;
	return 54;
}

static void
parse(struct frame *f)
{
	assert_int_equal(hv_pkt_parse(f->b, f->len, &f->m), HV_DROP_NONE);
}

static void
tcp(struct frame *f, const char *src, uint16_t sport, const char *dst, uint16_t dport,
    uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, uint32_t payload, int wscale)
{
	bool v6 = strchr(src, ':') != NULL;
	uint32_t hl = wscale >= 0 ? 24 : 20;
	uint32_t o = ip_hdr(f, v6, src, dst, 6, hl + payload);
	uint8_t *t = f->b + o;

	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	put16(t + 14, win);
	if (wscale >= 0) {
		t[20] = 1; /* NOP */
		t[21] = 3;
		t[22] = 3;
		t[23] = (uint8_t)wscale;
	}
	parse(f);
}

static void
udp(struct frame *f, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	bool v6 = strchr(src, ':') != NULL;
	uint32_t o = ip_hdr(f, v6, src, dst, 17, 12);

	put16(f->b + o, sport);
	put16(f->b + o + 2, dport);
	put16(f->b + o + 4, 12);
	parse(f);
}

static void
echo(struct frame *f, const char *src, const char *dst, bool reply, uint16_t id)
{
	bool v6 = strchr(src, ':') != NULL;
	uint32_t o = ip_hdr(f, v6, src, dst, v6 ? 58 : 1, 16);

	f->b[o] = v6 ? (reply ? 129 : 128) : (reply ? 0 : 8);
	put16(f->b + o + 4, id);
	parse(f);
}

/* An ICMP error from ROUTER to the sender of QUOTED, quoting QUOTE_LEN of its IP packet. */
static void
icmp_error(struct frame *f, const char *router, const struct frame *quoted, uint32_t quote_len)
{
	bool v6 = quoted->m.l3 == HV_L3_IPV6;
	char dst[64];
	uint32_t o;

	inet_ntop(v6 ? AF_INET6 : AF_INET, quoted->m.src_ip, dst, sizeof(dst));
	o = ip_hdr(f, v6, router, dst, v6 ? 58 : 1, 8 + quote_len);
	f->b[o] = v6 ? 1 : 3; /* destination unreachable */
	f->b[o + 1] = v6 ? 4 : 3;
	memcpy(f->b + o + 8, quoted->b + quoted->m.l3_off, quote_len);
	parse(f);
}

/* ---- the table under test ---- */

static struct hv_ct *ct;
static unsigned ct_seq;
static uint64_t now = 1000;

static struct hv_ct *
table(uint32_t capacity, uint32_t reserve, uint32_t port_limit)
{
	struct hv_ct_conf c = {.socket_id = SOCKET_ID_ANY,
			       .capacity = capacity,
			       .mgmt_reserve = reserve,
			       .port_limit = port_limit,
			       .hz = HZ};
	char name[32], err[128];
	struct hv_ct *t;

	snprintf(name, sizeof(name), "test_ct_%u", ct_seq++);
	c.name = name;
	t = hv_ct_create(&c, err, sizeof(err));
	if (t == NULL)
		fprintf(stderr, "%s\n", err);
	assert_non_null(t);
	return t;
}

static int
setup(void **state)
{
	(void)state;
	ct = table(1024, 64, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	hv_ct_free(ct);
	ct = NULL;
	return 0;
}

static void
build(struct frame *f, struct hv_ct_pkt *p, uint16_t seg)
{
	assert_int_equal(hv_ct_pkt_build(&f->m, f->b, f->len, seg, seg, p), HV_DROP_NONE);
}

/* Open a connection with F (segment 1, port 3, not management); returns the slot. */
static int32_t
open_conn(struct frame *f)
{
	struct hv_ct_pkt p;
	enum hv_drop_reason why = HV_DROP_NONE;
	int32_t s;

	build(f, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1);
	assert_int_equal(hv_ct_may_open(&p, &f->m), HV_DROP_NONE);
	s = hv_ct_open(ct, &p, &f->m, f->b, f->len, 3, 1, false, 0, 0, 0, 1, now, &why);
	assert_true(s >= 0);
	return s;
}

/* Track F on its connection; asserts it is found and returns the verdict. */
static enum hv_drop_reason
track(struct frame *f, int32_t want_slot)
{
	struct hv_ct_pkt p;
	bool reopen;
	int32_t s;

	build(f, &p, 1);
	s = hv_ct_lookup(ct, &p, now);
	assert_int_equal(s, want_slot);
	return hv_ct_track(ct, (uint32_t)s, &p, &f->m, f->b, f->len, now, &reopen);
}

static uint8_t
state_of(int32_t s)
{
	struct hv_ct_entry e;

	assert_true(hv_ct_snapshot(ct, (uint32_t)s, &e));
	return e.state;
}

#define C "10.0.0.1"
#define S "10.0.0.2"

static void
test_tcp_lifecycle(void **state)
{
	struct frame f;
	int32_t s;
	struct hv_ct_entry e;

	(void)state;
	tcp(&f, C, 40000, S, 22, SYN, 1000, 0, 64240, 0, 7);
	s = open_conn(&f);
	assert_int_equal(state_of(s), HV_CT_SYN_SENT);
	tcp(&f, S, 22, C, 40000, SYN | ACK, 5000, 1001, 65160, 0, 7);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_SYN_RECV);
	tcp(&f, C, 40000, S, 22, ACK, 1001, 5001, 502, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_ESTABLISHED);
	/* data both ways; with window scale 7, 502 << 7 bytes may be in flight */
	tcp(&f, C, 40000, S, 22, PSH | ACK, 1001, 5001, 502, 1000, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	tcp(&f, S, 22, C, 40000, PSH | ACK, 5001, 2001, 509, 40000, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	/* the client closes */
	tcp(&f, C, 40000, S, 22, FIN | ACK, 2001, 45001, 502, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_FIN_WAIT);
	tcp(&f, S, 22, C, 40000, ACK, 45001, 2002, 509, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_CLOSE_WAIT);
	tcp(&f, S, 22, C, 40000, FIN | ACK, 45001, 2002, 509, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_LAST_ACK);
	tcp(&f, C, 40000, S, 22, ACK, 2002, 45002, 502, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_TIME_WAIT);
	assert_true(hv_ct_snapshot(ct, (uint32_t)s, &e));
	assert_int_equal(e.packets[0], 5);
	assert_int_equal(e.packets[1], 4);
	assert_true(e.flags & HV_CT_F_WSCALE);
	assert_true(e.flags & HV_CT_F_REPLIED);
	/* TIME_WAIT lasts 120 s; then the entry is gone */
	now += SEC(119);
	assert_int_equal(hv_ct_age(ct, now, 1024), 0);
	now += SEC(2);
	assert_int_equal(hv_ct_age(ct, now, 1024), 1);
	assert_int_equal(ct->count, 0);
}

static void
test_tcp_invalid(void **state)
{
	struct frame f;
	struct hv_ct_pkt p;
	int32_t s;

	(void)state;
	/* no connection: only a SYN may open one */
	tcp(&f, C, 40001, S, 80, ACK, 1, 1, 1000, 0, -1);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_may_open(&p, &f.m), HV_DROP_CT_TCP_NO_CONN);
	tcp(&f, C, 40001, S, 80, SYN | FIN, 1, 0, 1000, 0, -1);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_may_open(&p, &f.m), HV_DROP_CT_TCP_FLAGS);
	tcp(&f, C, 40001, S, 80, 0, 1, 0, 1000, 0, -1);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_may_open(&p, &f.m), HV_DROP_CT_TCP_FLAGS);

	/* no window scaling: windows are what they say */
	tcp(&f, C, 40001, S, 80, SYN, 100, 0, 1000, 0, -1);
	s = open_conn(&f);
	/* a SYN-ACK that does not acknowledge the SYN */
	tcp(&f, S, 80, C, 40001, SYN | ACK, 7000, 555, 2000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_WINDOW);
	/* a SYN from the responder: simultaneous open is not followed */
	tcp(&f, S, 80, C, 40001, SYN, 7000, 0, 2000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_STATE);
	tcp(&f, S, 80, C, 40001, SYN | ACK, 7000, 101, 2000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	tcp(&f, C, 40001, S, 80, ACK, 101, 7001, 1000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_ESTABLISHED);
	/* data beyond what the server's window allows */
	tcp(&f, C, 40001, S, 80, ACK, 101 + 2001, 7001, 1000, 10, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_WINDOW);
	/* acknowledging data never sent */
	tcp(&f, C, 40001, S, 80, ACK, 101, 7001 + 5000, 1000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_WINDOW);
	/* far in the past */
	tcp(&f, C, 40001, S, 80, ACK, 101 - 100000, 7001, 1000, 10, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_WINDOW);
	/* a SYN inside an established connection */
	tcp(&f, C, 40001, S, 80, SYN, 101, 0, 1000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_STATE);
	/* bad flags on an existing connection */
	tcp(&f, C, 40001, S, 80, SYN | RST, 101, 0, 1000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_FLAGS);
	/* still established: nothing above changed it */
	assert_int_equal(state_of(s), HV_CT_ESTABLISHED);
	tcp(&f, C, 40001, S, 80, ACK, 101, 7001, 1000, 500, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	/* a RST inside the window closes it */
	tcp(&f, S, 80, C, 40001, RST, 7001, 0, 0, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_CLOSE);
	/* data still in flight after it passes, as in Linux, and stays closed */
	tcp(&f, C, 40001, S, 80, ACK, 601, 7001, 1000, 1, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_CLOSE);
	/* a SYN+ACK on it does not */
	tcp(&f, S, 80, C, 40001, SYN | ACK, 7001, 602, 1000, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_STATE);
}

static void
test_tcp_refused_and_reopen(void **state)
{
	struct frame f;
	struct hv_ct_pkt p;
	bool reopen;
	int32_t s;

	(void)state;
	tcp(&f, C, 40002, S, 81, SYN, 1, 0, 1000, 0, -1);
	s = open_conn(&f);
	/* a RST that does not acknowledge the SYN is not believed */
	tcp(&f, S, 81, C, 40002, RST | ACK, 0, 77, 0, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_CT_TCP_WINDOW);
	tcp(&f, S, 81, C, 40002, RST | ACK, 0, 2, 0, 0, -1);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_CLOSE);
	/* a new SYN on the closed connection starts a new one */
	tcp(&f, C, 40002, S, 81, SYN, 9000, 0, 1000, 0, -1);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_track(ct, (uint32_t)s, &p, &f.m, f.b, f.len, now, &reopen),
			 HV_DROP_NONE);
	assert_true(reopen);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1);
	assert_int_equal(ct->stats.reopened, 1);
}

static void
test_udp_and_echo(void **state)
{
	struct frame f, q;
	struct hv_ct_pkt p;
	int32_t s, e;

	(void)state;
	udp(&f, C, 5353, S, 53);
	s = open_conn(&f);
	assert_int_equal(state_of(s), HV_CT_UNREPLIED);
	udp(&f, S, 53, C, 5353);
	assert_int_equal(track(&f, s), HV_DROP_NONE);
	assert_int_equal(state_of(s), HV_CT_REPLIED);
	/* another source port is another connection */
	udp(&f, S, 53, C, 5354);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1);
	/* ... and the same tuple in another segment too */
	udp(&f, S, 53, C, 5353);
	build(&f, &p, 2);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1);
	/* a replied UDP flow lives 120 s without traffic, not 30 */
	now += SEC(100);
	udp(&q, C, 5353, S, 53);
	build(&q, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), s);

	/* ICMP echo, IPv6 */
	echo(&f, "fd00::1", "fd00::2", true, 77);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_may_open(&p, &f.m), HV_DROP_CT_ICMP_NO_CONN);
	echo(&f, "fd00::1", "fd00::2", false, 77);
	e = open_conn(&f);
	echo(&f, "fd00::2", "fd00::1", true, 77);
	assert_int_equal(track(&f, e), HV_DROP_NONE);
	assert_int_equal(state_of(e), HV_CT_REPLIED);
	/* unreplied UDP dies after 30 s */
	udp(&f, C, 6000, S, 53);
	s = open_conn(&f);
	now += SEC(31);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1);
	assert_true(ct->stats.expired >= 1);
}

static void
test_icmp_related(void **state)
{
	struct frame f, err;
	struct hv_ct_pkt p;
	int32_t s;
	bool reopen;

	(void)state;
	/* IPv4: a UDP flow, and a port unreachable from the server quoting it */
	udp(&f, C, 7000, S, 514);
	s = open_conn(&f);
	icmp_error(&err, S, &f, 28);
	build(&err, &p, 1);
	assert_int_equal(p.kind, HV_CT_K_ICMP_ERROR);
	assert_int_equal(hv_ct_lookup(ct, &p, now), s);
	assert_int_equal(hv_ct_track(ct, (uint32_t)s, &p, &err.m, err.b, err.len, now, &reopen),
			 HV_DROP_NONE);
	assert_int_equal(ct->stats.related, 1);
	/* ... from a router elsewhere on the path too */
	icmp_error(&err, "10.0.9.9", &f, 28);
	build(&err, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), s);
	/* an error quoting a flow nobody opened */
	udp(&f, C, 7001, S, 514);
	icmp_error(&err, S, &f, 28);
	build(&err, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1);
	assert_int_equal(hv_ct_may_open(&p, &err.m), HV_DROP_CT_ICMP_NO_CONN);
	/* a quote cut before the ports */
	udp(&f, C, 7000, S, 514);
	icmp_error(&err, S, &f, 22);
	assert_int_equal(hv_ct_pkt_build(&err.m, err.b, err.len, 1, 1, &p), HV_DROP_CT_ICMP_QUOTE);
	icmp_error(&err, S, &f, 12);
	assert_int_equal(hv_ct_pkt_build(&err.m, err.b, err.len, 1, 1, &p), HV_DROP_CT_ICMP_QUOTE);

	/* IPv6: a TCP connection and a packet-too-big style error */
	tcp(&f, "fd00::1", 41000, "fd00::2", 443, SYN, 1, 0, 1000, 0, -1);
	s = open_conn(&f);
	icmp_error(&err, "fd00::2", &f, 60);
	build(&err, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), s);
}

static void
udp_from(struct frame *f, unsigned i)
{
	char src[32];

	snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, 1 + i % 250);
	udp(f, src, (uint16_t)(1024 + i), S, 9);
}

static int32_t
try_open(struct frame *f, uint16_t port, uint16_t seg, bool mgmt, uint32_t seg_limit,
	 enum hv_drop_reason *why)
{
	struct hv_ct_pkt p;

	build(f, &p, seg);
	*why = HV_DROP_NONE;
	return hv_ct_open(ct, &p, &f->m, f->b, f->len, port, seg, mgmt, seg_limit, 0, 0, 1, now,
			  why);
}

static void
test_limits(void **state)
{
	struct frame f;
	enum hv_drop_reason why;
	struct hv_ct_pkt p;
	unsigned i;

	(void)state;
	hv_ct_free(ct);
	ct = table(64, 8, 40);

	/* one port floods: it stops at its own limit of 40 */
	for (i = 0; i < 40; i++) {
		udp_from(&f, i);
		assert_true(try_open(&f, 5, 1, false, 0, &why) >= 0);
	}
	udp_from(&f, i++);
	assert_int_equal(try_open(&f, 5, 1, false, 0, &why), -1);
	assert_int_equal(why, HV_DROP_CT_LIMIT_PORT);
	/* a segment limit */
	udp_from(&f, i++);
	assert_int_equal(try_open(&f, 6, 2, false, 0, &why) >= 0, 1);
	udp_from(&f, i++);
	assert_int_equal(try_open(&f, 6, 2, false, 1, &why), -1);
	assert_int_equal(why, HV_DROP_CT_LIMIT_SEGMENT);
	/* other ports fill the rest of the non-management share (56) */
	for (unsigned n = 0; n < 15; n++) {
		udp_from(&f, i++);
		assert_true(try_open(&f, (uint16_t)(7 + n), 1, false, 0, &why) >= 0);
	}
	assert_int_equal(ct->count, 56);
	/* the next one evicts the oldest embryonic (unreplied) connection */
	udp_from(&f, i++);
	assert_true(try_open(&f, 30, 1, false, 0, &why) >= 0);
	assert_int_equal(ct->stats.early_drops, 1);
	assert_int_equal(ct->count, 56);
	udp_from(&f, 0);
	build(&f, &p, 1);
	assert_int_equal(hv_ct_lookup(ct, &p, now), -1); /* the oldest is gone */
	/* management connections get the reserve, without evicting anyone */
	for (unsigned n = 0; n < 8; n++) {
		udp_from(&f, i++);
		assert_true(try_open(&f, 40, 0, true, 0, &why) >= 0);
	}
	assert_int_equal(ct->count, 64);
	assert_int_equal(ct->stats.early_drops, 1);

	/* once nothing is embryonic, a full table refuses */
	hv_ct_free(ct);
	ct = table(64, 8, 0);
	for (i = 0; i < 56; i++) {
		int32_t s;
		bool reopen;
		struct frame r;

		udp_from(&f, i);
		s = try_open(&f, 5, 1, false, 0, &why);
		assert_true(s >= 0);
		/* the reply makes it established: no longer evictable */
		udp(&r, S, 9, "10.1.0.1", 1);
		memcpy(r.b + 30, f.b + 26, 4); /* destination = the source above */
		put16(r.b + 36, (uint16_t)(1024 + i));
		parse(&r);
		build(&r, &p, 1);
		assert_int_equal(hv_ct_lookup(ct, &p, now), s);
		assert_int_equal(hv_ct_track(ct, (uint32_t)s, &p, &r.m, r.b, r.len, now, &reopen),
				 HV_DROP_NONE);
	}
	udp_from(&f, i++);
	assert_int_equal(try_open(&f, 5, 1, false, 0, &why), -1);
	assert_int_equal(why, HV_DROP_CT_LIMIT_RESERVE);
	/* an administrator still gets in */
	udp_from(&f, i++);
	assert_true(try_open(&f, 9, 0, true, 0, &why) >= 0);
}

static void
test_flush_and_keys(void **state)
{
	struct frame f, g;
	struct hv_ct_pkt p, q;
	struct hv_ct_filter flt = {.seg = HV_CT_ANY_SEG, .port = HV_CT_ANY_PORT};

	(void)state;
	/* both directions give one key and one hash */
	tcp(&f, "10.9.0.1", 1234, "10.9.0.2", 80, SYN, 1, 0, 100, 0, -1);
	tcp(&g, "10.9.0.2", 80, "10.9.0.1", 1234, SYN | ACK, 1, 2, 100, 0, -1);
	build(&f, &p, 4);
	build(&g, &q, 4);
	assert_memory_equal(&p.key, &q.key, sizeof(p.key));
	assert_int_equal(p.hash, q.hash);
	assert_true(p.from_b != q.from_b);

	udp(&f, C, 1, S, 2);
	open_conn(&f);
	udp(&f, C, 1, S, 3);
	open_conn(&f);
	echo(&f, C, S, false, 5);
	open_conn(&f);
	assert_int_equal(ct->count, 3);
	flt.proto = 17;
	assert_int_equal(hv_ct_flush(ct, &flt), 2);
	assert_int_equal(ct->count, 1);
	flt.proto = 0;
	flt.seg = 2;
	assert_int_equal(hv_ct_flush(ct, &flt), 0);
	flt.seg = 1;
	assert_int_equal(hv_ct_flush(ct, &flt), 1);
	assert_int_equal(ct->count, 0);
	/* the mailbox: a request is acted on at the next poll */
	udp(&f, C, 1, S, 2);
	open_conn(&f);
	ct->mbox.filter = (struct hv_ct_filter){.seg = HV_CT_ANY_SEG, .port = 3};
	__atomic_store_n(&ct->mbox.req, ct->mbox.req + 1, __ATOMIC_RELEASE);
	hv_ct_mailbox_poll(ct);
	assert_int_equal(ct->mbox.done, ct->mbox.req);
	assert_int_equal(ct->mbox.flushed, 1);
	assert_int_equal(ct->count, 0);
}

/* A UDP key of source port SPORT, its hash replaced by HASH (the table never rehashes a key). */
static void
forced(struct frame *f, struct hv_ct_pkt *p, uint16_t sport, uint32_t hash)
{
	udp(f, C, sport, S, 53);
	build(f, p, 1);
	p->hash = hash;
}

static int32_t
forced_open(uint16_t sport, uint32_t hash, enum hv_drop_reason *why)
{
	struct frame f;
	struct hv_ct_pkt p;

	forced(&f, &p, sport, hash);
	*why = HV_DROP_NONE;
	return hv_ct_open(ct, &p, &f.m, f.b, f.len, 3, 1, true, 0, 0, 0, 1, now, why);
}

static int32_t
forced_lookup(uint16_t sport, uint32_t hash)
{
	struct frame f;
	struct hv_ct_pkt p;
	const struct hv_ct_pkt *pp = &p;
	int32_t one, bulk;

	forced(&f, &p, sport, hash);
	one = hv_ct_lookup(ct, &p, now);
	hv_ct_lookup_bulk(ct, &pp, 1, now, &bulk);
	assert_int_equal(one, bulk);
	return one;
}

/*
 * The index (buckets of signatures beside the entries): keys that share a
 * first bucket spill into their second ones, keys with one hash are told
 * apart by their keys, a full pair of buckets moves a resident away, and a
 * key with no way left is refused as a full table. Hashes are forced.
 */
static void
test_table_index(void **state)
{
	uint32_t x = 7, h1 = 0x00010000u | x, h2, hz, y, z;
	enum hv_drop_reason why;
	int32_t s[32];

	(void)state;
	/* eight keys fill bucket X, a ninth with another signature lives in its second */
	for (unsigned i = 0; i < 8; i++)
		assert_true((s[i] = forced_open((uint16_t)(100 + i), h1, &why)) >= 0);
	h2 = 0x00020000u | x;
	y = hv_ct_bucket_of(ct, h2, true);
	assert_true((s[8] = forced_open(200, h2, &why)) >= 0);
	assert_null(hv_ct_verify(ct));
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(forced_lookup((uint16_t)(100 + i), h1), s[i]);
	assert_int_equal(forced_lookup(200, h2), s[8]);
	/* same hash, other key: not found, and found once opened */
	assert_int_equal(forced_lookup(108, h1), -1);
	/* fill Y's remaining seven ways with keys whose first bucket is Y */
	hz = 0x00030000u | y;
	z = hv_ct_bucket_of(ct, hz, true);
	assert_true(z != x);
	for (unsigned i = 0; i < 7; i++)
		assert_true(forced_open((uint16_t)(300 + i), hz, &why) >= 0);
	assert_null(hv_ct_verify(ct));
	/* X and Y full: one of Y's own keys moves to its second bucket Z */
	assert_true((s[9] = forced_open(201, h2, &why)) >= 0);
	assert_null(hv_ct_verify(ct));
	assert_int_equal(forced_lookup(201, h2), s[9]);
	for (unsigned i = 0; i < 7; i++)
		assert_true(forced_lookup((uint16_t)(300 + i), hz) >= 0);
	/* delete everything: the index is empty again, every count back to zero */
	for (uint32_t i = 0; i < ct->capacity; i++)
		hv_ct_delete(ct, i);
	assert_int_equal(ct->count, 0);
	assert_null(hv_ct_verify(ct));
	assert_int_equal(forced_lookup(100, h1), -1);
	/* sixteen keys of one hash fill both its buckets, and a seventeenth has no way left */
	for (unsigned i = 0; i < 16; i++)
		assert_true(forced_open((uint16_t)(400 + i), 0x00050000u | 100, &why) >= 0);
	assert_int_equal(forced_open(416, 0x00050000u | 100, &why), -1);
	assert_int_equal(why, HV_DROP_CT_LIMIT_TABLE);
	assert_int_equal(ct->count, 16);
	assert_null(hv_ct_verify(ct));
	for (unsigned i = 0; i < 16; i++)
		assert_true(forced_lookup((uint16_t)(400 + i), 0x00050000u | 100) >= 0);
}

/* A full table of real keys: every one found, one at a time and in bulk, after churn too. */
static void
test_table_full(void **state)
{
	struct frame f[64];
	struct hv_ct_pkt p[64];
	const struct hv_ct_pkt *pp[64];
	int32_t slot[64];
	enum hv_drop_reason why;

	(void)state;
	for (uint32_t i = 0; i < ct->capacity; i++) {
		struct frame g;
		struct hv_ct_pkt q;

		udp(&g, C, (uint16_t)(10000 + i), S, 53);
		build(&g, &q, 1);
		assert_true(hv_ct_open(ct, &q, &g.m, g.b, g.len, 3, 1, true, 0, 0, 0, 1, now,
				       &why) >= 0);
	}
	assert_int_equal(ct->count, ct->capacity);
	assert_null(hv_ct_verify(ct));
	/* delete every third, reopen them: churn through the free chain */
	for (uint32_t i = 0; i < ct->capacity; i += 3)
		hv_ct_delete(ct, i);
	assert_null(hv_ct_verify(ct));
	for (uint32_t i = 0; i < ct->capacity; i++) {
		struct frame g;
		struct hv_ct_pkt q;

		udp(&g, C, (uint16_t)(10000 + i), S, 53);
		build(&g, &q, 1);
		if (hv_ct_lookup(ct, &q, now) < 0)
			assert_true(hv_ct_open(ct, &q, &g.m, g.b, g.len, 3, 1, true, 0, 0, 0, 1,
					       now, &why) >= 0);
	}
	assert_int_equal(ct->count, ct->capacity);
	assert_null(hv_ct_verify(ct));
	for (uint32_t base = 0; base < ct->capacity; base += 64) {
		for (unsigned j = 0; j < 64; j++) {
			udp(&f[j], C, (uint16_t)(10000 + base + j), S, 53);
			build(&f[j], &p[j], 1);
			pp[j] = &p[j];
		}
		hv_ct_lookup_bulk(ct, pp, 64, now, slot);
		for (unsigned j = 0; j < 64; j++) {
			struct hv_ct_entry e;

			assert_true(slot[j] >= 0);
			assert_true(hv_ct_snapshot(ct, (uint32_t)slot[j], &e));
			assert_memory_equal(&e.key, &p[j].key, sizeof(e.key));
		}
	}
}

/* EAL leaves /var/run/dpdk/PREFIX behind, and each run has a prefix of its own */
static void
eal_rundir_remove(const char *rundir)
{
	DIR *d = opendir(rundir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(rundir);
}

/* The aging scan is paced by time: a sweep a second, whatever the calls. */
static void
test_age_paced(void **state)
{
	struct frame f;
	uint32_t cursor;
	unsigned n = 0;

	(void)state;
	hv_ct_age(ct, now, 1024); /* pays off what is owed so far */
	for (unsigned i = 0; i < 100; i++) {
		udp(&f, C, (uint16_t)(6000 + i), S, 53);
		open_conn(&f);
	}
	assert_int_equal(ct->count, 100);
	/* a call at the same time as the last scans nothing, however often */
	cursor = ct->age_cursor;
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(hv_ct_age(ct, now, 8), 0);
	assert_int_equal(ct->age_cursor, cursor);
	/* past the 30 s of unreplied UDP: what is owed is a whole sweep */
	now += SEC(31);
	hv_ct_age(ct, now, 1024);
	assert_int_equal(ct->count, 0);
	for (unsigned i = 0; i < 100; i++) {
		udp(&f, C, (uint16_t)(7000 + i), S, 53);
		open_conn(&f);
	}
	now += SEC(31);
	ct->age_last = now; /* owe nothing: pace the scan from here */
	cursor = ct->age_cursor;
	/* 10 ms visit a hundredth of the table */
	now += HZ / 100;
	n = hv_ct_age(ct, now, 1024);
	assert_in_range((ct->age_cursor + 1024 - cursor) % 1024, 9, 11);
	assert_true(n <= 11);
	/* and a second's calls, every millisecond, sweep it all */
	for (unsigned i = 0; i < 1000; i++) {
		now += HZ / 1000;
		n += hv_ct_age(ct, now, 8);
	}
	assert_int_equal(n, 100);
	assert_int_equal(ct->count, 0);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {argv[0], "--no-huge",	  "--no-pci",	 "-m",
		       "256",	"--log-level",	  "lib.*:error", "--file-prefix",
		       prefix,	"--no-telemetry", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_refused_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_and_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_related, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_age_paced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
	};

	(void)argc;
	/* a prefix of this process's own: two checkouts may run the tests at once */
	snprintf(prefix, sizeof(prefix), "hv_test_conntrack_%d", (int)getpid());
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	{
		char rundir[256];
		int rc = cmocka_run_group_tests(tests, NULL, NULL);

		snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		eal_rundir_remove(rundir);
		return rc;
	}
}
