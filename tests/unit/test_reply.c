/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the reply builders (TCP RST, ICMP and ICMPv6 errors).
 *
 * Originals are built by hand, byte by byte. Each reply is checked as its
 * receiver would see it: it parses cleanly, its MACs, addresses and ports are
 * the original's swapped, its VLAN tags are the original's, its RST sequence
 * numbers follow RFC 9293 3.10.7.1, its ICMP message quotes the original, and
 * every checksum adds up under a one's-complement sum written here,
 * independently of the one in reply.c. The builders read a heap copy of
 * exactly the original's length and write into a heap buffer of exactly
 * out_size bytes, so ASan sees any read or write out of bounds.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/packet.h"
#include "packet/reply.h"

/* ---- a small frame builder ---- */

struct frame {
	uint8_t b[2048];
	uint32_t len;
};

static void
put(struct frame *f, const void *p, uint32_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void
put16(struct frame *f, uint16_t v)
{
	put8(f, (uint8_t)(v >> 8));
	put8(f, (uint8_t)v);
}

static void
put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static const uint8_t MAC_GUEST[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_PEER[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t MAC_MCAST[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

static const uint8_t IP4_GUEST[4] = {10, 0, 0, 1};
static const uint8_t IP4_PEER[4] = {192, 0, 2, 7};
static const uint8_t IP4_GW[4] = {10, 0, 0, 254};
static const uint8_t IP6_GUEST[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t IP6_PEER[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 7};
static const uint8_t IP6_GW[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xff, [15] = 0xfe};
static const uint8_t IP6_ALL_NODES[16] = {0xff, 0x02, [15] = 1};

/* Ethernet header from the guest, with @n_vlans tags (802.1ad outer, 802.1Q inner). */
static void
eth(struct frame *f, const uint8_t *dst, unsigned n_vlans, uint16_t type)
{
	f->len = 0;
	put(f, dst, 6);
	put(f, MAC_GUEST, 6);
	if (n_vlans == 2) {
		put16(f, 0x88a8);
		put16(f, 0x2000 | 300); /* PCP 1, VID 300 */
	}
	if (n_vlans >= 1) {
		put16(f, 0x8100);
		put16(f, 0xa000 | 42); /* PCP 5, VID 42 */
	}
	put16(f, type);
}

static void
ip4(struct frame *f, uint8_t proto, uint32_t payload, const uint8_t *src, const uint8_t *dst,
    uint16_t frag)
{
	put8(f, 0x45);
	put8(f, 0x10);
	put16(f, (uint16_t)(20 + payload));
	put16(f, 0x4242);
	put16(f, frag);
	put8(f, 17);
	put8(f, proto);
	put16(f, 0xbeef); /* the builders never check the original's checksum */
	put(f, src, 4);
	put(f, dst, 4);
}

static void
ip6(struct frame *f, uint8_t next, uint32_t payload, const uint8_t *src, const uint8_t *dst)
{
	put32(f, 0x6ab12345); /* traffic class and flow label the reply must not copy */
	put16(f, (uint16_t)payload);
	put8(f, next);
	put8(f, 9);
	put(f, src, 16);
	put(f, dst, 16);
}

static void
tcp(struct frame *f, uint8_t flags, uint32_t seq, uint32_t ack)
{
	put16(f, 40000);
	put16(f, 443);
	put32(f, seq);
	put32(f, ack);
	put8(f, 5 << 4);
	put8(f, flags);
	put16(f, 29200);
	put32(f, 0);
}

static void
udp(struct frame *f, uint32_t payload)
{
	put16(f, 5353);
	put16(f, 53);
	put16(f, (uint16_t)(8 + payload));
	put16(f, 0);
}

static void
icmp(struct frame *f, uint8_t type, uint8_t code)
{
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put16(f, 0x1234);
	put16(f, 1);
}

static void
fill(struct frame *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8(f, (uint8_t)(i * 7 + 3));
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* A whole TCP segment from the guest: @n_vlans tags, IPv4 or IPv6, @plen bytes of payload. */
static void
tcp_frame(struct frame *f, bool v6, unsigned n_vlans, uint8_t flags, uint32_t seq, uint32_t ack,
	  uint32_t plen)
{
	eth(f, MAC_PEER, n_vlans, v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(f, 6, 20 + plen, IP6_GUEST, IP6_PEER);
	else
		ip4(f, 6, 20 + plen, IP4_GUEST, IP4_PEER, 0x4000);
	tcp(f, flags, seq, ack);
	fill(f, plen);
}

static void
udp_frame(struct frame *f, bool v6, unsigned n_vlans, uint32_t plen)
{
	eth(f, MAC_PEER, n_vlans, v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(f, 17, 8 + plen, IP6_GUEST, IP6_PEER);
	else
		ip4(f, 17, 8 + plen, IP4_GUEST, IP4_PEER, 0);
	udp(f, plen);
	fill(f, plen);
}

static void
icmp_frame(struct frame *f, bool v6, uint8_t type, uint8_t code, uint32_t plen)
{
	eth(f, MAC_PEER, 0, v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(f, 58, 8 + plen, IP6_GUEST, IP6_PEER);
	else
		ip4(f, 1, 8 + plen, IP4_GUEST, IP4_PEER, 0);
	icmp(f, type, code);
	fill(f, plen);
}

/* Overwrite the IPv4 destination of a frame built above (no VLAN tags). */
static void
set_ip4_dst(struct frame *f, const uint8_t *dst)
{
	memcpy(f->b + 14 + 16, dst, 4);
}

static void
set_ip4_src(struct frame *f, const uint8_t *src)
{
	memcpy(f->b + 14 + 12, src, 4);
}

static void
set_ip6_src(struct frame *f, const uint8_t *src)
{
	memcpy(f->b + 14 + 8, src, 16);
}

static void
set_ip6_dst(struct frame *f, const uint8_t *dst)
{
	memcpy(f->b + 14 + 24, dst, 16);
}

/* ---- running the builders, as ASan would like ---- */

struct reply {
	uint8_t b[HV_REPLY_FRAME_MAX];
	size_t len;
	struct hv_pkt_meta m; /* the reply, parsed */
};

enum which {
	RST,
	ICMP
};

static size_t
build(enum which w, const struct frame *f, uint32_t flen, uint8_t type, uint8_t code, uint32_t info,
      const uint8_t *src_ip, size_t out_size, struct reply *r)
{
	uint8_t *copy = malloc(f->len ? f->len : 1), *out = malloc(out_size ? out_size : 1);
	struct hv_pkt_meta m;
	size_t n;

	assert_non_null(copy);
	assert_non_null(out);
	memcpy(copy, f->b, f->len);
	assert_int_equal(hv_pkt_parse(copy, f->len, &m), HV_DROP_NONE);
	if (w == RST)
		n = hv_reply_tcp_rst(copy, flen, &m, out, out_size);
	else
		n = hv_reply_icmp_error(copy, flen, &m, type, code, info, src_ip, out, out_size);
	assert_true(n <= out_size);
	if (r != NULL) {
		assert_true(n <= sizeof(r->b));
		memcpy(r->b, out, n);
		r->len = n;
	}
	free(out);
	free(copy);
	return n;
}

static size_t
rst(const struct frame *f, struct reply *r)
{
	return build(RST, f, f->len, 0, 0, 0, NULL, HV_REPLY_FRAME_MAX, r);
}

static size_t
icmp_err(const struct frame *f, uint8_t type, uint8_t code, uint32_t info, const uint8_t *src_ip,
	 struct reply *r)
{
	return build(ICMP, f, f->len, type, code, info, src_ip, HV_REPLY_FRAME_MAX, r);
}

/* ---- what a receiver checks ---- */

/*
 * One's-complement sum of big-endian 16-bit words, folding the carry back at
 * every step (reply.c sums into 32 bits and folds at the end). Data that
 * includes a correct checksum sums to 0xffff.
 */
static uint16_t
ones_sum(const uint8_t *p, size_t n)
{
	uint16_t s = 0;

	for (size_t i = 0; i < n; i += 2) {
		uint32_t t = (uint32_t)s + (uint32_t)(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));

		s = (uint16_t)(t + (t >> 16));
	}
	return s;
}

/* The L4 checksum of the reply's IP payload, with the pseudo-header when @pseudo. */
static void
assert_l4_csum(const struct reply *r, bool pseudo)
{
	bool v6 = r->m.l3 == HV_L3_IPV6;
	const uint8_t *ip = r->b + r->m.l3_off;
	uint32_t iph = v6 ? 40 : 20, l4_len = r->m.l3_len - iph;
	uint8_t buf[40 + HV_REPLY_ICMP6_MAX];
	size_t n = 0;

	if (pseudo && v6) {
		memcpy(buf, ip + 8, 32);
		buf[32] = (uint8_t)(l4_len >> 24);
		buf[33] = (uint8_t)(l4_len >> 16);
		buf[34] = (uint8_t)(l4_len >> 8);
		buf[35] = (uint8_t)l4_len;
		buf[36] = buf[37] = buf[38] = 0;
		buf[39] = ip[6];
		n = 40;
	} else if (pseudo) {
		memcpy(buf, ip + 12, 8);
		buf[8] = 0;
		buf[9] = ip[9];
		buf[10] = (uint8_t)(l4_len >> 8);
		buf[11] = (uint8_t)l4_len;
		n = 12;
	}
	assert_true(n + l4_len <= sizeof(buf));
	memcpy(buf + n, ip + iph, l4_len);
	assert_int_equal(ones_sum(buf, n + l4_len), 0xffff);
}

/* The reply parses cleanly, and its L2 and IP headers answer @f's. */
static void
assert_reply_headers(const struct frame *f, struct reply *r, const uint8_t *exp_src)
{
	struct hv_pkt_meta o;
	uint8_t *copy;
	size_t alen;
	const uint8_t *ip;

	assert_int_equal(hv_pkt_parse(f->b, f->len, &o), HV_DROP_NONE);
	copy = malloc(r->len);
	assert_non_null(copy);
	memcpy(copy, r->b, r->len);
	assert_int_equal(hv_pkt_parse(copy, (uint32_t)r->len, &r->m), HV_DROP_NONE);
	free(copy);

	/* L2: swapped MACs, the same tags, TPIDs included, in the same order */
	assert_memory_equal(r->m.dst_mac, o.src_mac, 6);
	assert_memory_equal(r->m.src_mac, o.dst_mac, 6);
	assert_int_equal(r->m.n_vlans, o.n_vlans);
	for (unsigned i = 0; i < o.n_vlans; i++)
		assert_int_equal(r->m.vlan_tci[i], o.vlan_tci[i]);
	assert_memory_equal(r->b + 12, f->b + 12, 4u * o.n_vlans);
	assert_int_equal(r->m.ethertype, o.ethertype);

	/* L3: swapped addresses (or the given source), fresh header fields */
	assert_int_equal(r->m.l3, o.l3);
	alen = o.l3 == HV_L3_IPV6 ? 16 : 4;
	assert_memory_equal(r->m.src_ip, exp_src ? exp_src : o.dst_ip, alen);
	assert_memory_equal(r->m.dst_ip, o.src_ip, alen);
	assert_int_equal(r->m.ttl, 64);
	assert_int_equal(r->len, r->m.l3_off + r->m.l3_len); /* no padding, nothing after */
	assert_false(r->m.flags & (HV_PKT_F_FRAG | HV_PKT_F_IP_OPTIONS | HV_PKT_F_IPV6_EXT));
	ip = r->b + r->m.l3_off;
	if (o.l3 == HV_L3_IPV4) {
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(get16(ip + 4), 0);	 /* ID */
		assert_int_equal(get16(ip + 6), 0x4000); /* DF, offset 0 */
		assert_int_equal(ones_sum(ip, 20), 0xffff);
	} else {
		assert_int_equal(get32(ip), 0x60000000); /* class and flow label 0 */
	}
}

/* A RST answering @f, with the sequence numbers and flags RFC 9293 3.10.7.1 gives. */
static void
assert_rst(const struct frame *f, struct reply *r, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct hv_pkt_meta o;
	const uint8_t *th;

	assert_reply_headers(f, r, NULL);
	assert_int_equal(hv_pkt_parse(f->b, f->len, &o), HV_DROP_NONE);
	assert_int_equal(r->m.l4_proto, 6);
	assert_true(r->m.flags & HV_PKT_F_L4);
	assert_int_equal(r->m.sport, o.dport);
	assert_int_equal(r->m.dport, o.sport);
	assert_int_equal(r->m.tcp_seq, seq);
	assert_int_equal(r->m.tcp_ack, ack);
	assert_int_equal(r->m.tcp_flags, flags);
	assert_int_equal(r->m.tcp_win, 0);
	th = r->b + r->m.l4_off;
	assert_int_equal(th[12], 0x50); /* data offset 5 */
	assert_int_equal(get16(th + 18), 0);
	assert_int_equal(r->m.payload_off, r->m.l4_off + 20);
	assert_int_equal(r->len, r->m.l4_off + 20);
	if (r->m.l3 == HV_L3_IPV4)
		assert_int_equal(r->b[r->m.l3_off + 1], 0); /* TOS */
	assert_l4_csum(r, true);
}

/* An ICMP error answering @f that quotes as much of it as the caps allow. */
static void
assert_icmp(const struct frame *f, struct reply *r, uint8_t type, uint8_t code, uint32_t info,
	    const uint8_t *exp_src)
{
	struct hv_pkt_meta o;
	bool v6;
	uint32_t cap, qlen;
	const uint8_t *msg;

	assert_reply_headers(f, r, exp_src);
	assert_int_equal(hv_pkt_parse(f->b, f->len, &o), HV_DROP_NONE);
	v6 = o.l3 == HV_L3_IPV6;
	assert_int_equal(r->m.l4_proto, v6 ? 58 : 1);
	assert_true(r->m.flags & HV_PKT_F_L4);
	assert_int_equal(r->m.icmp_type, type);
	assert_int_equal(r->m.icmp_code, code);
	msg = r->b + r->m.l4_off;
	assert_int_equal(get32(msg + 4), info);

	cap = v6 ? 1280 : 576;
	qlen = o.l3_len < cap - (v6 ? 48 : 28) ? o.l3_len : cap - (v6 ? 48 : 28);
	assert_int_equal(r->m.l3_len, (v6 ? 40 : 20) + 8 + qlen);
	assert_true(r->m.l3_len <= cap);
	assert_memory_equal(msg + 8, f->b + o.l3_off, qlen);
	if (!v6)
		assert_int_equal(r->b[r->m.l3_off + 1], 0xc0); /* TOS */
	assert_l4_csum(r, v6);
}

/* ---- TCP RST ---- */

static void
rst_answers_syn(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	tcp_frame(&f, false, 0, TH_SYN, 1000, 0, 0);
	assert_int_not_equal(rst(&f, &r), 0);
	assert_rst(&f, &r, 0, 1001, TH_RST | TH_ACK);
	assert_int_equal(r.len, 14 + 20 + 20);
}

static void
rst_answers_ack_with_data_v4(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	tcp_frame(&f, false, 0, TH_ACK | TH_PSH, 5000, 0xfffffff0u, 100);
	assert_int_not_equal(rst(&f, &r), 0);
	assert_rst(&f, &r, 0xfffffff0u, 0, TH_RST);
}

static void
rst_answers_ack_with_data_v6(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	tcp_frame(&f, true, 0, TH_ACK | TH_PSH, 5000, 7000, 333);
	assert_int_equal(rst(&f, &r), 14 + 40 + 20);
	assert_rst(&f, &r, 7000, 0, TH_RST);
}

static void
rst_counts_payload_syn_and_fin(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	/* FIN without ACK, 10 bytes of data, 6 bytes of Ethernet padding not counted */
	tcp_frame(&f, false, 0, TH_FIN, 0xfffffff8u, 0, 10);
	fill(&f, 6);
	assert_int_not_equal(rst(&f, &r), 0);
	assert_rst(&f, &r, 0, 0xfffffff8u + 10 + 1, TH_RST | TH_ACK); /* wraps to 3 */

	/* SYN and FIN together count one each; IPv6 this time */
	tcp_frame(&f, true, 0, TH_SYN | TH_FIN, 100, 0, 4);
	assert_int_not_equal(rst(&f, &r), 0);
	assert_rst(&f, &r, 0, 100 + 4 + 2, TH_RST | TH_ACK);

	/* FIN with ACK: the ACK rule wins */
	tcp_frame(&f, false, 0, TH_FIN | TH_ACK, 100, 555, 0);
	assert_int_not_equal(rst(&f, &r), 0);
	assert_rst(&f, &r, 555, 0, TH_RST);
}

static void
rst_keeps_vlan_tags(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	tcp_frame(&f, false, 1, TH_SYN, 1, 0, 0);
	assert_int_equal(rst(&f, &r), 18 + 20 + 20);
	assert_rst(&f, &r, 0, 2, TH_RST | TH_ACK);
	assert_int_equal(get16(r.b + 12), 0x8100);
	assert_int_equal(get16(r.b + 14), 0xa000 | 42);

	tcp_frame(&f, true, 2, TH_ACK, 1, 2, 0);
	assert_int_equal(rst(&f, &r), 22 + 40 + 20);
	assert_rst(&f, &r, 2, 0, TH_RST);
	assert_int_equal(get16(r.b + 12), 0x88a8);
	assert_int_equal(get16(r.b + 14), 0x2000 | 300);
	assert_int_equal(get16(r.b + 16), 0x8100);
	assert_int_equal(get16(r.b + 18), 0xa000 | 42);
	assert_int_equal(get16(r.b + 20), 0x86dd);
}

static void
rst_refusals(void **state)
{
	static const uint8_t zero4[4] = {0}, bcast4[4] = {255, 255, 255, 255},
			     lo4[4] = {127, 0, 0, 1}, mcast4[4] = {224, 0, 0, 251}, zero6[16] = {0};
	struct frame f;

	(void)state;
	tcp_frame(&f, false, 0, TH_RST, 1, 0, 0); /* never answer a RST */
	assert_int_equal(rst(&f, NULL), 0);
	tcp_frame(&f, false, 0, TH_RST | TH_ACK, 1, 2, 0);
	assert_int_equal(rst(&f, NULL), 0);
	udp_frame(&f, false, 0, 8); /* not TCP */
	assert_int_equal(rst(&f, NULL), 0);
	icmp_frame(&f, false, 8, 0, 8);
	assert_int_equal(rst(&f, NULL), 0);

	tcp_frame(&f, false, 0, TH_SYN, 1, 0, 0);
	memcpy(f.b, MAC_BCAST, 6);
	assert_int_equal(rst(&f, NULL), 0);
	memcpy(f.b, MAC_MCAST, 6);
	assert_int_equal(rst(&f, NULL), 0);

	tcp_frame(&f, false, 0, TH_SYN, 1, 0, 0);
	f.b[6] |= 1; /* multicast source MAC */
	assert_int_equal(rst(&f, NULL), 0);

	tcp_frame(&f, false, 0, TH_SYN, 1, 0, 0);
	set_ip4_dst(&f, mcast4);
	assert_int_equal(rst(&f, NULL), 0);
	set_ip4_dst(&f, bcast4);
	assert_int_equal(rst(&f, NULL), 0);
	set_ip4_dst(&f, zero4);
	assert_int_equal(rst(&f, NULL), 0);

	const uint8_t *bad_src4[] = {zero4, bcast4, lo4, mcast4, (uint8_t[]){240, 1, 2, 3}};
	for (unsigned i = 0; i < sizeof(bad_src4) / sizeof(bad_src4[0]); i++) {
		tcp_frame(&f, false, 0, TH_SYN, 1, 0, 0);
		set_ip4_src(&f, bad_src4[i]);
		assert_int_equal(rst(&f, NULL), 0);
	}

	tcp_frame(&f, true, 0, TH_SYN, 1, 0, 0);
	set_ip6_src(&f, zero6);
	assert_int_equal(rst(&f, NULL), 0);
	tcp_frame(&f, true, 0, TH_SYN, 1, 0, 0);
	set_ip6_src(&f, IP6_ALL_NODES);
	assert_int_equal(rst(&f, NULL), 0);
	tcp_frame(&f, true, 0, TH_SYN, 1, 0, 0);
	set_ip6_dst(&f, IP6_ALL_NODES);
	assert_int_equal(rst(&f, NULL), 0);
	set_ip6_dst(&f, zero6);
	assert_int_equal(rst(&f, NULL), 0);
}

/* A first fragment without ACK: its segment length is unknown, so no ACK-based RST. */
static void
rst_fragment(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	eth(&f, MAC_PEER, 0, 0x0800);
	ip4(&f, 6, 20 + 16, IP4_GUEST, IP4_PEER, 0x2000 /* MF */);
	tcp(&f, TH_SYN, 1, 0);
	fill(&f, 16);
	assert_int_equal(rst(&f, NULL), 0);

	eth(&f, MAC_PEER, 0, 0x0800);
	ip4(&f, 6, 20 + 16, IP4_GUEST, IP4_PEER, 0x2000);
	tcp(&f, TH_ACK, 1, 77);
	fill(&f, 16);
	assert_int_not_equal(rst(&f, &r), 0);
	assert_rst(&f, &r, 77, 0, TH_RST);
}

static void
rst_out_too_small(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	tcp_frame(&f, true, 1, TH_SYN, 1, 0, 0);
	assert_int_equal(build(RST, &f, f.len, 0, 0, 0, NULL, 18 + 40 + 20 - 1, NULL), 0);
	assert_int_equal(build(RST, &f, f.len, 0, 0, 0, NULL, 0, NULL), 0);
	assert_int_equal(build(RST, &f, f.len, 0, 0, 0, NULL, 18 + 40 + 20, &r), 18 + 40 + 20);
	assert_rst(&f, &r, 0, 2, TH_RST | TH_ACK);
}

/* ---- ICMP errors ---- */

static void
icmp_port_unreachable_udp(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	udp_frame(&f, false, 0, 30);
	assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, &r), 14 + 20 + 8 + 20 + 8 + 30);
	assert_icmp(&f, &r, 3, 3, 0, NULL);

	udp_frame(&f, true, 0, 30);
	assert_int_equal(icmp_err(&f, 1, 4, 0, NULL, &r), 14 + 40 + 8 + 40 + 8 + 30);
	assert_icmp(&f, &r, 1, 4, 0, NULL);
}

static void
icmp_reject_tcp(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	/* admin prohibited (3/13, 1/1), as `reject` with an ICMP answer sends */
	tcp_frame(&f, false, 0, TH_SYN, 1, 0, 0);
	assert_int_not_equal(icmp_err(&f, 3, 13, 0, NULL, &r), 0);
	assert_icmp(&f, &r, 3, 13, 0, NULL);
	tcp_frame(&f, true, 0, TH_ACK, 1, 0, 50);
	assert_int_not_equal(icmp_err(&f, 1, 1, 0, NULL, &r), 0);
	assert_icmp(&f, &r, 1, 1, 0, NULL);
}

static void
icmp_mtu_info(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	udp_frame(&f, false, 0, 1400);
	assert_int_not_equal(icmp_err(&f, 3, 4, 1400, NULL, &r), 0);
	assert_icmp(&f, &r, 3, 4, 1400, NULL);
	assert_memory_equal(r.b + r.m.l4_off + 4, ((uint8_t[]){0, 0, 0x05, 0x78}), 4);

	udp_frame(&f, true, 0, 1400);
	assert_int_not_equal(icmp_err(&f, 2, 0, 1280, NULL, &r), 0);
	assert_icmp(&f, &r, 2, 0, 1280, NULL);
	assert_memory_equal(r.b + r.m.l4_off + 4, ((uint8_t[]){0, 0, 0x05, 0x00}), 4);
}

/* An original too long to quote whole: the reply's datagram stops at 576 / 1280 bytes. */
static void
icmp_quote_capped(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	udp_frame(&f, false, 1, 1000);
	fill(&f, 20); /* and bytes after the datagram, never quoted */
	assert_int_equal(icmp_err(&f, 11, 0, 0, NULL, &r), 18 + 576);
	assert_icmp(&f, &r, 11, 0, 0, NULL);
	assert_int_equal(r.m.l3_len, 576);
	assert_memory_equal(r.b + 18 + 28, f.b + 18, 548);

	udp_frame(&f, true, 2, 1400);
	assert_int_equal(icmp_err(&f, 3, 0, 0, NULL, &r), 22 + 1280);
	assert_icmp(&f, &r, 3, 0, 0, NULL);
	assert_int_equal(r.m.l3_len, 1280);
	assert_memory_equal(r.b + 22 + 48, f.b + 22, 1232);

	/* exactly at the cap, and one byte under it */
	udp_frame(&f, false, 0, 548 - 28);
	assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, &r), 14 + 576);
	assert_icmp(&f, &r, 3, 3, 0, NULL);
	udp_frame(&f, false, 0, 548 - 28 + 1);
	assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, &r), 14 + 576);
	assert_icmp(&f, &r, 3, 3, 0, NULL);
}

/* Echo originals may be answered; the source may be a router's own address. */
static void
icmp_time_exceeded_echo_from_gateway(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	icmp_frame(&f, false, 8, 0, 56);
	assert_int_not_equal(icmp_err(&f, 11, 0, 0, IP4_GW, &r), 0);
	assert_icmp(&f, &r, 11, 0, 0, IP4_GW);

	icmp_frame(&f, true, 128, 0, 56);
	assert_int_not_equal(icmp_err(&f, 3, 0, 0, IP6_GW, &r), 0);
	assert_icmp(&f, &r, 3, 0, 0, IP6_GW);

	/* other informational messages too: timestamp, ICMPv6 echo reply */
	icmp_frame(&f, false, 13, 0, 12);
	assert_int_not_equal(icmp_err(&f, 3, 13, 0, NULL, &r), 0);
	assert_icmp(&f, &r, 3, 13, 0, NULL);
	icmp_frame(&f, true, 129, 0, 0);
	assert_int_not_equal(icmp_err(&f, 1, 1, 0, NULL, &r), 0);
	assert_icmp(&f, &r, 1, 1, 0, NULL);
}

static void
icmp_keeps_vlan_tags(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	udp_frame(&f, false, 1, 10);
	assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, &r), 18 + 28 + 28 + 10);
	assert_icmp(&f, &r, 3, 3, 0, NULL);
	udp_frame(&f, true, 2, 10);
	assert_int_equal(icmp_err(&f, 1, 4, 0, NULL, &r), 22 + 48 + 48 + 10);
	assert_icmp(&f, &r, 1, 4, 0, NULL);
	assert_memory_equal(r.b + 12, ((uint8_t[]){0x88, 0xa8, 0x21, 0x2c, 0x81, 0x00, 0xa0, 42}),
			    8);
}

/* Never an error about an error (RFC 1122 3.2.2, RFC 4443 2.4(e)). */
static void
icmp_not_about_errors(void **state)
{
	static const uint8_t v4_errors[] = {3, 4, 5, 11, 12, 9, 10, 42};
	static const uint8_t v6_errors[] = {1, 2, 3, 4, 100, 127, 137 /* redirect */};
	struct frame f;

	(void)state;
	for (unsigned i = 0; i < sizeof(v4_errors); i++) {
		icmp_frame(&f, false, v4_errors[i], 0, 28);
		assert_int_equal(icmp_err(&f, 3, 13, 0, NULL, NULL), 0);
		assert_int_equal(icmp_err(&f, 11, 0, 0, IP4_GW, NULL), 0);
	}
	for (unsigned i = 0; i < sizeof(v6_errors); i++) {
		icmp_frame(&f, true, v6_errors[i], 0, 48);
		assert_int_equal(icmp_err(&f, 1, 1, 0, NULL, NULL), 0);
		assert_int_equal(icmp_err(&f, 2, 0, 1280, IP6_GW, NULL), 0);
	}
}

static void
icmp_not_about_later_fragments(void **state)
{
	struct frame f;
	struct reply r;

	(void)state;
	eth(&f, MAC_PEER, 0, 0x0800);
	ip4(&f, 17, 64, IP4_GUEST, IP4_PEER, 0x2000 | 185); /* offset 1480, MF */
	fill(&f, 64);
	assert_int_equal(icmp_err(&f, 3, 13, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 11, 1, 0, IP4_GW, NULL), 0);

	/* IPv6: a fragment header with a non-zero offset */
	eth(&f, MAC_PEER, 0, 0x86dd);
	ip6(&f, 44, 8 + 64, IP6_GUEST, IP6_PEER);
	put8(&f, 17);
	put8(&f, 0);
	put16(&f, 1232 | 1); /* offset 1232, M */
	put32(&f, 0xabcd);
	fill(&f, 64);
	assert_int_equal(icmp_err(&f, 1, 1, 0, NULL, NULL), 0);

	/* a first fragment may be answered, and is quoted with its fragment header */
	eth(&f, MAC_PEER, 0, 0x86dd);
	ip6(&f, 44, 8 + 8 + 64, IP6_GUEST, IP6_PEER);
	put8(&f, 17);
	put8(&f, 0);
	put16(&f, 1); /* offset 0, M */
	put32(&f, 0xabcd);
	udp(&f, 1000);
	fill(&f, 64);
	assert_int_not_equal(icmp_err(&f, 1, 1, 0, NULL, &r), 0);
	assert_icmp(&f, &r, 1, 1, 0, NULL);
	eth(&f, MAC_PEER, 0, 0x0800);
	ip4(&f, 17, 8 + 64, IP4_GUEST, IP4_PEER, 0x2000);
	udp(&f, 1000);
	fill(&f, 64);
	assert_int_not_equal(icmp_err(&f, 3, 13, 0, NULL, &r), 0);
	assert_icmp(&f, &r, 3, 13, 0, NULL);
}

static void
icmp_not_to_groups(void **state)
{
	static const uint8_t bcast4[4] = {255, 255, 255, 255}, mcast4[4] = {224, 0, 0, 251},
			     class_e[4] = {250, 0, 0, 1};
	struct frame f;
	struct reply r;

	(void)state;
	udp_frame(&f, false, 0, 8);
	memcpy(f.b, MAC_BCAST, 6);
	assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 3, 3, 0, IP4_GW, NULL), 0);
	memcpy(f.b, MAC_MCAST, 6);
	assert_int_equal(icmp_err(&f, 11, 0, 0, IP4_GW, NULL), 0);

	const uint8_t *groups[] = {bcast4, mcast4, class_e};
	for (unsigned i = 0; i < 3; i++) {
		udp_frame(&f, false, 0, 8);
		set_ip4_dst(&f, groups[i]);
		assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, NULL), 0);
		assert_int_equal(icmp_err(&f, 11, 0, 0, IP4_GW, NULL), 0);
	}

	/* IPv6 multicast: only packet-too-big and parameter problem code 2 may go ... */
	udp_frame(&f, true, 0, 1400);
	set_ip6_dst(&f, IP6_ALL_NODES);
	memcpy(f.b, (uint8_t[]){0x33, 0x33, 0, 0, 0, 1}, 6);
	assert_int_equal(icmp_err(&f, 1, 4, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 3, 0, 0, IP6_GW, NULL), 0);
	assert_int_equal(icmp_err(&f, 4, 1, 0, IP6_GW, NULL), 0);
	/* ... and need a source of their own, a multicast address being none */
	assert_int_equal(icmp_err(&f, 2, 0, 1280, NULL, NULL), 0);
	assert_int_not_equal(icmp_err(&f, 2, 0, 1280, IP6_GW, &r), 0);
	assert_icmp(&f, &r, 2, 0, 1280, IP6_GW);
	assert_int_not_equal(icmp_err(&f, 4, 2, 40, IP6_GW, &r), 0);
	assert_icmp(&f, &r, 4, 2, 40, IP6_GW);
}

static void
icmp_not_from_non_hosts(void **state)
{
	static const uint8_t v4[][4] = {{0, 0, 0, 0},	{0, 1, 2, 3},	{127, 0, 0, 1},
					{224, 0, 0, 1}, {240, 0, 0, 1}, {255, 255, 255, 255}};
	static const uint8_t v6[][16] = {{0}, {[15] = 1}, {0xff, 0x02, [15] = 1}, {0xff}};
	struct frame f;

	(void)state;
	for (unsigned i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		udp_frame(&f, false, 0, 8);
		set_ip4_src(&f, v4[i]);
		assert_int_equal(icmp_err(&f, 3, 3, 0, NULL, NULL), 0);
		/* nor from such a source of our own */
		udp_frame(&f, false, 0, 8);
		assert_int_equal(icmp_err(&f, 11, 0, 0, v4[i], NULL), 0);
	}
	for (unsigned i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		udp_frame(&f, true, 0, 8);
		set_ip6_src(&f, v6[i]);
		assert_int_equal(icmp_err(&f, 1, 4, 0, NULL, NULL), 0);
		assert_int_equal(icmp_err(&f, 2, 0, 1280, IP6_GW, NULL), 0);
		udp_frame(&f, true, 0, 8);
		assert_int_equal(icmp_err(&f, 3, 0, 0, v6[i], NULL), 0);
	}
}

static void
icmp_only_error_types(void **state)
{
	struct frame f;

	(void)state;
	udp_frame(&f, false, 0, 8);
	assert_int_equal(icmp_err(&f, 0, 0, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 8, 0, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 1, 0, 0, NULL, NULL), 0);
	udp_frame(&f, true, 0, 8);
	assert_int_equal(icmp_err(&f, 0, 0, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 5, 0, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 128, 0, 0, NULL, NULL), 0);
	assert_int_equal(icmp_err(&f, 11, 0, 0, NULL, NULL), 0); /* an ICMPv4 type */
}

static void
icmp_out_too_small(void **state)
{
	struct frame f;
	struct reply r;
	size_t need = 14 + 28 + 28 + 100;

	(void)state;
	udp_frame(&f, false, 0, 100);
	assert_int_equal(build(ICMP, &f, f.len, 3, 3, 0, NULL, need - 1, NULL), 0);
	assert_int_equal(build(ICMP, &f, f.len, 3, 3, 0, NULL, 14, NULL), 0);
	assert_int_equal(build(ICMP, &f, f.len, 3, 3, 0, NULL, need, &r), need);
	assert_icmp(&f, &r, 3, 3, 0, NULL);
}

/*
 * The meta of a whole frame, handed over with a shorter length (a caller that
 * got the two out of step): no reply, and no read past the shorter length
 * (the builders get a heap copy of exactly that many bytes).
 */
static void
short_length_refused(void **state)
{
	struct frame f;

	(void)state;
	tcp_frame(&f, false, 2, TH_SYN, 1, 0, 40);
	for (uint32_t n = 0; n < f.len; n++) {
		uint8_t *copy = malloc(n ? n : 1), out[HV_REPLY_FRAME_MAX];
		struct hv_pkt_meta m;

		assert_int_equal(hv_pkt_parse(f.b, f.len, &m), HV_DROP_NONE);
		memcpy(copy, f.b, n);
		assert_int_equal(hv_reply_tcp_rst(copy, n, &m, out, sizeof(out)), 0);
		assert_int_equal(hv_reply_icmp_error(copy, n, &m, 3, 13, 0, NULL, out, sizeof(out)),
				 0);
		free(copy);
	}
}

/* ---- real captures ---- */

struct capture_stats {
	unsigned files, frames, rsts, icmps;
};

/* Answer one captured frame both ways; whatever comes out must parse and add up. */
static void
answer_captured(const uint8_t *b, uint32_t n, struct capture_stats *st)
{
	struct frame f;
	struct hv_pkt_meta m;
	struct reply r;
	bool v6;

	if (n > sizeof(f.b) || hv_pkt_parse(b, n, &m) != HV_DROP_NONE)
		return;
	if (m.l3 != HV_L3_IPV4 && m.l3 != HV_L3_IPV6)
		return;
	memcpy(f.b, b, n);
	f.len = n;
	st->frames++;
	v6 = m.l3 == HV_L3_IPV6;
	if (rst(&f, &r) != 0) {
		struct hv_pkt_meta copy;

		assert_int_equal(hv_pkt_parse(r.b, (uint32_t)r.len, &copy), HV_DROP_NONE);
		assert_reply_headers(&f, &r, NULL);
		assert_l4_csum(&r, true);
		st->rsts++;
	}
	if (icmp_err(&f, v6 ? 1 : 3, v6 ? 1 : 13, 0, NULL, &r) != 0) {
		assert_icmp(&f, &r, v6 ? 1 : 3, v6 ? 1 : 13, 0, NULL);
		st->icmps++;
	}
}

static uint32_t
pcap32(const uint8_t *p, bool swap)
{
	return swap ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		    : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Classic pcap files of Ethernet frames only (a small reader: this test links no libpcap). */
static void
answer_capture_file(const char *path, struct capture_stats *st)
{
	uint8_t gh[24], rh[16], *buf;
	FILE *fp = fopen(path, "rb");
	bool swap;

	if (fp == NULL)
		return;
	if (fread(gh, 1, sizeof(gh), fp) != sizeof(gh))
		goto close_file;
	if (memcmp(gh, "\xd4\xc3\xb2\xa1", 4) == 0 || memcmp(gh, "\x4d\x3c\xb2\xa1", 4) == 0)
		swap = false;
	else if (memcmp(gh, "\xa1\xb2\xc3\xd4", 4) == 0 || memcmp(gh, "\xa1\xb2\x3c\x4d", 4) == 0)
		swap = true;
	else
		goto close_file;
	if (pcap32(gh + 20, swap) != 1) /* LINKTYPE_ETHERNET */
		goto close_file;
	buf = malloc(65536);
	assert_non_null(buf);
	st->files++;
	while (fread(rh, 1, sizeof(rh), fp) == sizeof(rh)) {
		uint32_t caplen = pcap32(rh + 8, swap);

		if (caplen > 65536 || fread(buf, 1, caplen, fp) != caplen)
			break;
		answer_captured(buf, caplen, st);
	}
	free(buf);
close_file:
	fclose(fp);
}

static void
answer_capture_dir(const char *dir, struct capture_stats *st)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strstr(e->d_name, ".pcap") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		answer_capture_file(path, st);
	}
	closedir(d);
}

/*
 * Every IP frame of the bundled captures and of ../shared/corpus (real
 * traffic, and frames made to crash dissectors) is answered, where the rules
 * allow, with a reply that parses and adds up.
 */
static void
real_captures(void **state)
{
	const char *data = getenv("HV_TEST_DATA"), *root = getenv("HV_CORPUS_DIR");
	struct capture_stats st = {0};
	char dir[4096];

	(void)state;
	if (data != NULL) {
		snprintf(dir, sizeof(dir), "%s/corpus", data);
		answer_capture_dir(dir, &st);
	}
	snprintf(dir, sizeof(dir), "%s/tcpdump", root ? root : "../shared/corpus");
	answer_capture_dir(dir, &st);
	print_message("captures: %u files, %u IP frames, %u RSTs, %u ICMP errors\n", st.files,
		      st.frames, st.rsts, st.icmps);
	/* the bundled captures alone hold few IP frames; ../shared/corpus many */
	if (st.frames == 0)
		skip();
	assert_true(st.rsts + st.icmps > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rst_answers_syn),
		cmocka_unit_test(rst_answers_ack_with_data_v4),
		cmocka_unit_test(rst_answers_ack_with_data_v6),
		cmocka_unit_test(rst_counts_payload_syn_and_fin),
		cmocka_unit_test(rst_keeps_vlan_tags),
		cmocka_unit_test(rst_refusals),
		cmocka_unit_test(rst_fragment),
		cmocka_unit_test(rst_out_too_small),
		cmocka_unit_test(icmp_port_unreachable_udp),
		cmocka_unit_test(icmp_reject_tcp),
		cmocka_unit_test(icmp_mtu_info),
		cmocka_unit_test(icmp_quote_capped),
		cmocka_unit_test(icmp_time_exceeded_echo_from_gateway),
		cmocka_unit_test(icmp_keeps_vlan_tags),
		cmocka_unit_test(icmp_not_about_errors),
		cmocka_unit_test(icmp_not_about_later_fragments),
		cmocka_unit_test(icmp_not_to_groups),
		cmocka_unit_test(icmp_not_from_non_hosts),
		cmocka_unit_test(icmp_only_error_types),
		cmocka_unit_test(icmp_out_too_small),
		cmocka_unit_test(short_length_refused),
		cmocka_unit_test(real_captures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
