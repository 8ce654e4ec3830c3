/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the frame parser: well-formed frames of every kind, each
 * malformed case with its reason, every truncation of valid frames, and the
 * real-world captures of ../shared/corpus.
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/packet.h"

/* ---- a small frame builder ---- */

struct frame {
	uint8_t b[2048];
	uint32_t len;
};

static void
put(struct frame *f, const void *p, uint32_t n)
{
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

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void
eth(struct frame *f, const uint8_t *dst, uint16_t type)
{
	f->len = 0;
	put(f, dst, 6);
	put(f, MAC_A, 6);
	put16(f, type);
}

/* IPv4 header; @opt_len bytes of options (NOPs unless @opts given); returns its offset. */
static uint32_t
ipv4(struct frame *f, uint8_t proto, uint16_t payload, const uint8_t *opts, uint8_t opt_len,
     uint16_t frag)
{
	uint32_t at = f->len;

	put8(f, (uint8_t)(0x40 | ((20 + opt_len) / 4)));
	put8(f, 0);
	put16(f, (uint16_t)(20 + opt_len + payload));
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0x0a000001);
	put32(f, 0x0a000002);
	for (uint8_t i = 0; i < opt_len; i++)
		put8(f, opts ? opts[i] : 1);
	return at;
}

static void
ipv6(struct frame *f, uint8_t next, uint16_t payload)
{
	put32(f, 0x60000000);
	put16(f, payload);
	put8(f, next);
	put8(f, 64);
	for (int i = 0; i < 16; i++)
		put8(f, i == 0 ? 0xfe : i == 1 ? 0x80 : i == 15 ? 1 : 0);
	for (int i = 0; i < 16; i++)
		put8(f, i == 0 ? 0xfe : i == 1 ? 0x80 : i == 15 ? 2 : 0);
}

static void
tcp(struct frame *f, uint8_t doff_words, uint8_t flags)
{
	put16(f, 40000);
	put16(f, 443);
	put32(f, 1000);
	put32(f, 2000);
	put8(f, (uint8_t)(doff_words << 4));
	put8(f, flags);
	put16(f, 65535);
	put32(f, 0);
	for (int i = 5; i < doff_words; i++)
		put32(f, 0x01010101); /* NOP options */
}

static void
udp(struct frame *f, uint16_t ulen)
{
	put16(f, 5353);
	put16(f, 53);
	put16(f, ulen);
	put16(f, 0);
}

static void
icmp_echo(struct frame *f, uint8_t type, uint16_t id)
{
	put8(f, type);
	put8(f, 0);
	put16(f, 0);
	put16(f, id);
	put16(f, 1);
}

static enum hv_drop_reason
parse(const struct frame *f, struct hv_pkt_meta *m)
{
	/* parse a heap copy of exactly f->len bytes so ASan sees any over-read */
	uint8_t *copy = malloc(f->len ? f->len : 1);
	enum hv_drop_reason r;

	memcpy(copy, f->b, f->len);
	r = hv_pkt_parse(copy, f->len, m);
	free(copy);
	return r;
}

#define assert_reason(f, want)                                                  \
	do {                                                                    \
		struct hv_pkt_meta m_;                                          \
		enum hv_drop_reason r_ = parse((f), &m_);                       \
		if (r_ != (want))                                               \
			fail_msg("parsed as %s, expected %s", hv_drop_name(r_), \
				 hv_drop_name(want));                           \
	} while (0)

/* ---- well-formed frames ---- */

static void
arp_request(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;
	char line[256];

	(void)state;
	eth(&f, MAC_BCAST, 0x0806);
	put16(&f, 1);
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 1);
	put(&f, MAC_A, 6);
	put32(&f, 0x0a000001);
	put(&f, (uint8_t[6]){0}, 6);
	put32(&f, 0x0a000002);
	put(&f, (uint8_t[18]){0}, 18); /* Ethernet padding */
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.l3, HV_L3_ARP);
	assert_int_equal(m.arp_op, 1);
	assert_int_equal(m.l3_off, 14);
	assert_memory_equal(m.src_ip, ((uint8_t[]){10, 0, 0, 1}), 4);
	assert_memory_equal(m.dst_ip, ((uint8_t[]){10, 0, 0, 2}), 4);
	assert_true(m.flags & HV_PKT_F_DST_BCAST);
	assert_true(m.flags & HV_PKT_F_DST_MCAST);
	hv_pkt_format(&m, line, sizeof(line));
	assert_non_null(strstr(line, "arp who-has 10.0.0.2 tell 10.0.0.1"));
}

static void
ipv4_tcp_syn(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 6, 24, NULL, 0, 0x4000 /* DF */);
	tcp(&f, 6, 0x02);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.l3, HV_L3_IPV4);
	assert_int_equal(m.l4_proto, 6);
	assert_true(m.flags & HV_PKT_F_L4);
	assert_false(m.flags & (HV_PKT_F_FRAG | HV_PKT_F_DST_MCAST | HV_PKT_F_IP_OPTIONS));
	assert_int_equal(m.sport, 40000);
	assert_int_equal(m.dport, 443);
	assert_int_equal(m.tcp_flags, 0x02);
	assert_int_equal(m.tcp_seq, 1000);
	assert_int_equal(m.tcp_ack, 2000);
	assert_int_equal(m.tcp_win, 65535);
	assert_int_equal(m.ttl, 64);
	assert_int_equal(m.l3_off, 14);
	assert_int_equal(m.l4_off, 34);
	assert_int_equal(m.payload_off, 58);
	assert_int_equal(m.l3_len, 44);
	assert_memory_equal(m.src_mac, MAC_A, 6);
	assert_memory_equal(m.dst_mac, MAC_B, 6);
}

static void
ipv4_udp_with_padding(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, NULL, 0, 0);
	udp(&f, 8);
	put(&f, (uint8_t[18]){0}, 18); /* padding to 60 bytes is not payload */
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.sport, 5353);
	assert_int_equal(m.dport, 53);
	assert_int_equal(m.l3_len, 28);
}

static void
ipv4_icmp_echo(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 1, 8, NULL, 0, 0);
	icmp_echo(&f, 8, 0x4242);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.icmp_type, 8);
	assert_int_equal(m.sport, 0x4242);
	assert_int_equal(m.dport, 0x4242);
}

static void
ipv4_options(void **state)
{
	static const uint8_t rr[8] = {1, 7, 7, 4, 0, 0, 0, 0}; /* NOP, record route (7 bytes) */
	static const uint8_t eol[4] = {0, 0x55, 0x55, 0x55};   /* EOL ends the list */
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, rr, 8, 0);
	udp(&f, 8);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_true(m.flags & HV_PKT_F_IP_OPTIONS);
	assert_int_equal(m.l4_off, 14 + 28);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, eol, 4, 0);
	udp(&f, 8);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
}

static void
ipv4_fragments(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 16, NULL, 0, 0x2000 /* MF, offset 0 */);
	udp(&f, 24);
	put(&f, (uint8_t[8]){0}, 8);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_true(m.flags & HV_PKT_F_FRAG);
	assert_false(m.flags & HV_PKT_F_FRAG_LATER);
	assert_true(m.flags & HV_PKT_F_L4);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 16, NULL, 0, 3 /* offset 24 bytes */);
	put(&f, (uint8_t[16]){0}, 16);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_true(m.flags & HV_PKT_F_FRAG_LATER);
	assert_false(m.flags & HV_PKT_F_L4);
	assert_int_equal(m.frag_off, 24);
	assert_int_equal(m.l4_off, 34);
}

static void
ipv6_tcp(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 6, 20);
	tcp(&f, 5, 0x12);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.l3, HV_L3_IPV6);
	assert_int_equal(m.l4_proto, 6);
	assert_int_equal(m.tcp_flags, 0x12);
	assert_int_equal(m.l4_off, 54);
	assert_int_equal(m.l3_len, 60);
	assert_int_equal(m.src_ip[0], 0xfe);
	assert_int_equal(m.dst_ip[15], 2);
	assert_false(m.flags & HV_PKT_F_IPV6_EXT);
}

static void
ipv6_ext_chain(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 0, 8 + 16 + 8 + 8);
	put8(&f, 60); /* hop-by-hop, 8 bytes, next: destination options */
	put8(&f, 0);
	put(&f, (uint8_t[6]){1, 4, 0, 0, 0, 0}, 6);
	put8(&f, 44); /* destination options, 16 bytes, next: fragment */
	put8(&f, 1);
	put(&f, (uint8_t[14]){1, 12}, 14);
	put8(&f, 17); /* fragment: offset 0, M set, next: UDP */
	put8(&f, 0);
	put16(&f, 1);
	put32(&f, 0xabcd);
	udp(&f, 8);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_true(m.flags & HV_PKT_F_IPV6_EXT);
	assert_true(m.flags & HV_PKT_F_FRAG);
	assert_false(m.flags & HV_PKT_F_FRAG_LATER);
	assert_true(m.flags & HV_PKT_F_L4);
	assert_int_equal(m.l4_proto, 17);
	assert_int_equal(m.l4_off, 54 + 32);

	/* a later fragment: no L4 */
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 44, 16);
	put8(&f, 6);
	put8(&f, 0);
	put16(&f, 8 << 3);
	put32(&f, 0xabcd);
	put(&f, (uint8_t[8]){0}, 8);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_true(m.flags & HV_PKT_F_FRAG_LATER);
	assert_int_equal(m.frag_off, 64);
	assert_false(m.flags & HV_PKT_F_L4);
}

static void
icmp6_echo(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 58, 8);
	icmp_echo(&f, 128, 77);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.icmp_type, 128);
	assert_int_equal(m.sport, 77);
	assert_true(m.flags & HV_PKT_F_L4);
}

static void
vlan_tags(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, MAC_B, 0x8100);
	put16(&f, 0x2000 | 10);
	put16(&f, 0x0800);
	ipv4(&f, 17, 8, NULL, 0, 0);
	udp(&f, 8);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.n_vlans, 1);
	assert_int_equal(m.vlan_tci[0], 0x200a);
	assert_int_equal(m.ethertype, 0x0800);
	assert_int_equal(m.l3_off, 18);
	assert_true(m.flags & HV_PKT_F_VLAN);

	eth(&f, MAC_B, 0x88a8);
	put16(&f, 20);
	put16(&f, 0x8100);
	put16(&f, 10);
	put16(&f, 0x0806);
	assert_int_equal(parse(&f, &m), HV_DROP_ARP_TRUNCATED);
	assert_int_equal(m.n_vlans, 2);
	assert_int_equal(m.vlan_tci[0], 20);
	assert_int_equal(m.vlan_tci[1], 10);
}

static void
unknown_ethertype(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	eth(&f, (uint8_t[6]){0x01, 0x80, 0xc2, 0, 0, 0x0e}, 0x88cc);
	put(&f, (uint8_t[46]){2, 7, 4}, 46);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_int_equal(m.l3, HV_L3_NONE);
	assert_int_equal(m.ethertype, 0x88cc);
	assert_true(m.flags & HV_PKT_F_DST_MCAST);
	assert_false(m.flags & HV_PKT_F_DST_BCAST);

	/* unknown IP protocol: fine, no L4 */
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 47 /* GRE */, 4, NULL, 0, 0);
	put32(&f, 0);
	assert_int_equal(parse(&f, &m), HV_DROP_NONE);
	assert_false(m.flags & HV_PKT_F_L4);
	assert_int_equal(m.l4_proto, 47);
}

/* ---- malformed frames, one per reason ---- */

static void
malformed(void **state)
{
	struct frame f;
	uint8_t bad_opts[4] = {7, 9, 0, 0}; /* option length past the options */
	uint8_t zero_len_opt[4] = {0x44, 0, 0, 0};

	(void)state;
	f.len = 13;
	memset(f.b, 0, 13);
	assert_reason(&f, HV_DROP_ETH_TRUNCATED);

	eth(&f, MAC_B, 0x8100);
	put16(&f, 1);
	assert_reason(&f, HV_DROP_VLAN_TRUNCATED);

	eth(&f, MAC_B, 0x8100);
	for (int i = 0; i < 3; i++) {
		put16(&f, 1);
		put16(&f, 0x8100);
	}
	assert_reason(&f, HV_DROP_VLAN_TOO_DEEP);

	eth(&f, MAC_B, 0x0806);
	put(&f, (uint8_t[20]){0, 1, 8, 0, 6, 4}, 20);
	assert_reason(&f, HV_DROP_ARP_TRUNCATED);

	eth(&f, MAC_B, 0x0806);
	put(&f, (uint8_t[28]){0, 6, 8, 0, 6, 4}, 28); /* hardware type 6 */
	assert_reason(&f, HV_DROP_ARP_MALFORMED);

	eth(&f, MAC_B, 0x0800);
	put(&f, (uint8_t[19]){0x45}, 19);
	assert_reason(&f, HV_DROP_IPV4_TRUNCATED);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, NULL, 0, 0);
	udp(&f, 8);
	f.b[14] = 0x65; /* version 6 under the IPv4 ethertype */
	assert_reason(&f, HV_DROP_IPV4_BAD_VERSION);
	f.b[14] = 0x44; /* IHL 16 bytes */
	assert_reason(&f, HV_DROP_IPV4_BAD_IHL);
	f.b[14] = 0x4f; /* IHL 60 bytes, past the frame */
	assert_reason(&f, HV_DROP_IPV4_BAD_IHL);
	f.b[14] = 0x45;
	f.b[16] = 0;
	f.b[17] = 19; /* total length below the header */
	assert_reason(&f, HV_DROP_IPV4_BAD_TOTAL_LEN);
	f.b[17] = 29; /* one byte past the frame */
	assert_reason(&f, HV_DROP_IPV4_BAD_TOTAL_LEN);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, bad_opts, 4, 0);
	udp(&f, 8);
	assert_reason(&f, HV_DROP_IPV4_BAD_OPTIONS);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, zero_len_opt, 4, 0);
	udp(&f, 8);
	assert_reason(&f, HV_DROP_IPV4_BAD_OPTIONS);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 6, 20, NULL, 0, 1); /* TCP fragment at offset 8 (RFC 1858) */
	put(&f, (uint8_t[20]){0}, 20);
	assert_reason(&f, HV_DROP_IPV4_BAD_FRAGMENT);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 16, NULL, 0, 0x1fff); /* offset 65528 + 16 bytes > 65535 */
	put(&f, (uint8_t[16]){0}, 16);
	assert_reason(&f, HV_DROP_IPV4_BAD_FRAGMENT);

	eth(&f, MAC_B, 0x86dd);
	put(&f, (uint8_t[39]){0x60}, 39);
	assert_reason(&f, HV_DROP_IPV6_TRUNCATED);
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 59, 0);
	f.b[14] = 0x40;
	assert_reason(&f, HV_DROP_IPV6_BAD_VERSION);
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 17, 9);
	udp(&f, 8);
	assert_reason(&f, HV_DROP_IPV6_BAD_PAYLOAD_LEN);

	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 60, 8);
	put8(&f, 17);
	put8(&f, 1); /* says 16 bytes, the payload holds 8 */
	put(&f, (uint8_t[6]){0}, 6);
	assert_reason(&f, HV_DROP_IPV6_EXT_TRUNCATED);

	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 60, 8 * (HV_PKT_MAX_IPV6_EXT + 1));
	for (int i = 0; i <= HV_PKT_MAX_IPV6_EXT; i++) {
		put8(&f, 60);
		put(&f, (uint8_t[7]){0}, 7);
	}
	assert_reason(&f, HV_DROP_IPV6_EXT_TOO_MANY);

	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 60, 16);
	put8(&f, 0); /* hop-by-hop after destination options */
	put(&f, (uint8_t[7]){0}, 7);
	put8(&f, 59);
	put(&f, (uint8_t[7]){0}, 7);
	assert_reason(&f, HV_DROP_IPV6_EXT_MALFORMED);

	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 44, 16);
	put8(&f, 44); /* two fragment headers */
	put(&f, (uint8_t[7]){0, 0, 1}, 7);
	put8(&f, 59);
	put(&f, (uint8_t[7]){0}, 7);
	assert_reason(&f, HV_DROP_IPV6_EXT_MALFORMED);

	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 44, 8);
	put8(&f, 59);
	put8(&f, 0x12); /* reserved byte set */
	put(&f, (uint8_t[6]){0}, 6);
	assert_reason(&f, HV_DROP_IPV6_BAD_FRAGMENT);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 6, 19, NULL, 0, 0);
	put(&f, (uint8_t[19]){0}, 19);
	assert_reason(&f, HV_DROP_TCP_TRUNCATED);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 6, 20, NULL, 0, 0);
	tcp(&f, 4, 0x02);
	assert_reason(&f, HV_DROP_TCP_BAD_DOFF);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 6, 20, NULL, 0, 0);
	tcp(&f, 5, 0x02);
	f.b[14 + 20 + 12] = 0x60; /* 24-byte header in a 20-byte segment */
	assert_reason(&f, HV_DROP_TCP_BAD_DOFF);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 7, NULL, 0, 0);
	put(&f, (uint8_t[7]){0}, 7);
	assert_reason(&f, HV_DROP_UDP_TRUNCATED);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, NULL, 0, 0);
	udp(&f, 7);
	assert_reason(&f, HV_DROP_UDP_BAD_LEN);
	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 17, 8, NULL, 0, 0);
	udp(&f, 9);
	put(&f, (uint8_t[20]){0}, 20); /* padding does not count as datagram */
	assert_reason(&f, HV_DROP_UDP_BAD_LEN);

	eth(&f, MAC_B, 0x0800);
	ipv4(&f, 1, 4, NULL, 0, 0);
	put32(&f, 0x08000000);
	assert_reason(&f, HV_DROP_ICMP_TRUNCATED);
	eth(&f, MAC_B, 0x86dd);
	ipv6(&f, 58, 4);
	put32(&f, 0x80000000);
	assert_reason(&f, HV_DROP_ICMP6_TRUNCATED);
}

/* Every prefix of a valid frame parses without reading past it. */
static void
truncation_sweep(void **state)
{
	struct frame frames[4], cut;
	unsigned n = 0;

	(void)state;
	eth(&frames[n], MAC_B, 0x0800);
	ipv4(&frames[n], 6, 32, NULL, 0, 0);
	tcp(&frames[n++], 8, 0x18);
	eth(&frames[n], MAC_B, 0x8100);
	put16(&frames[n], 5);
	put16(&frames[n], 0x86dd);
	ipv6(&frames[n], 0, 16 + 8);
	put8(&frames[n], 43);
	put(&frames[n], (uint8_t[7]){0}, 7);
	put8(&frames[n], 58);
	put8(&frames[n], 0);
	put(&frames[n], (uint8_t[6]){0}, 6);
	icmp_echo(&frames[n++], 129, 5);
	eth(&frames[n], MAC_B, 0x0800);
	ipv4(&frames[n], 17, 12, (const uint8_t[8]){1, 1, 1, 1, 1, 1, 1, 0}, 8, 0);
	udp(&frames[n], 12);
	put32(&frames[n++], 0xdeadbeef);
	eth(&frames[n], MAC_BCAST, 0x0806);
	put(&frames[n++], (uint8_t[28]){0, 1, 8, 0, 6, 4, 0, 2}, 28);

	for (unsigned i = 0; i < n; i++) {
		struct hv_pkt_meta m;

		assert_int_equal(parse(&frames[i], &m), HV_DROP_NONE);
		for (uint32_t len = 0; len < frames[i].len; len++) {
			enum hv_drop_reason r;

			memcpy(cut.b, frames[i].b, len);
			cut.len = len;
			r = parse(&cut, &m);
			/* every cut removes part of a header or of a length-bound payload */
			if (r == HV_DROP_NONE || strcmp(hv_drop_stage(r), "parse") != 0)
				fail_msg("frame %u cut to %u bytes parsed as %s", i, len,
					 hv_drop_name(r));
		}
	}
}

/* Every frame of the real-world captures in ../shared/corpus parses safely. */
/* Parse every frame of the Ethernet captures in @dir; counts into the arguments. */
static void
parse_captures(const char *dir, unsigned *files, unsigned *frames, unsigned *dropped,
	       unsigned *by_reason)
{
	char path[4096], errbuf[PCAP_ERRBUF_SIZE];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct pcap_pkthdr *h;
		const u_char *data;
		pcap_t *p;

		if (strstr(de->d_name, ".pcap") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		p = pcap_open_offline(path, errbuf);
		if (p == NULL)
			continue;
		if (pcap_datalink(p) != DLT_EN10MB) {
			pcap_close(p);
			continue;
		}
		(*files)++;
		while (pcap_next_ex(p, &h, &data) == 1) {
			struct hv_pkt_meta m;
			uint8_t *copy = malloc(h->caplen ? h->caplen : 1);
			enum hv_drop_reason r;

			memcpy(copy, data, h->caplen);
			r = hv_pkt_parse(copy, h->caplen, &m);
			free(copy);
			assert_true((unsigned)r < HV_DROP_MAX);
			(*frames)++;
			if (r != HV_DROP_NONE) {
				(*dropped)++;
				by_reason[r]++;
			}
		}
		pcap_close(p);
	}
	closedir(d);
}

static void
print_summary(const char *what, unsigned files, unsigned frames, unsigned dropped,
	      const unsigned *by_reason)
{
	print_message("%s: %u files, %u frames, %u dropped\n", what, files, frames, dropped);
	for (unsigned r = 1; r < HV_DROP_MAX; r++)
		if (by_reason[r])
			print_message("  %-22s %u\n", hv_drop_name((enum hv_drop_reason)r),
				      by_reason[r]);
}

/* The malformed captures kept in tests/unit/data/corpus: always present. */
static void
bundled_captures(void **state)
{
	const char *data = getenv("HV_TEST_DATA");
	unsigned files = 0, frames = 0, dropped = 0, by_reason[HV_DROP_MAX] = {0};
	char dir[4096];

	(void)state;
	assert_non_null(data);
	snprintf(dir, sizeof(dir), "%s/corpus", data);
	parse_captures(dir, &files, &frames, &dropped, by_reason);
	print_summary("bundled", files, frames, dropped, by_reason);
	assert_int_equal(files, 8);
	assert_true(dropped > 0); /* they are malformed on purpose */
	assert_true(by_reason[HV_DROP_ARP_MALFORMED] > 0);
}

/* Every frame of the real-world captures in ../shared/corpus parses safely. */
static void
shared_corpus(void **state)
{
	const char *root = getenv("HV_CORPUS_DIR");
	unsigned files = 0, frames = 0, dropped = 0, by_reason[HV_DROP_MAX] = {0};
	char dir[4096];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tcpdump", root ? root : "../shared/corpus");
	{
		DIR *d = opendir(dir);

		if (d == NULL) {
			print_message("shared corpus: %s not found, skipped\n", dir);
			skip();
		}
		closedir(d);
	}
	parse_captures(dir, &files, &frames, &dropped, by_reason);
	print_summary("shared corpus", files, frames, dropped, by_reason);
	assert_true(files > 50);
	assert_true(frames > 1000);
	/* real traffic is mostly well formed; the malformed captures are a minority */
	assert_true(dropped < frames / 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arp_request),
		cmocka_unit_test(ipv4_tcp_syn),
		cmocka_unit_test(ipv4_udp_with_padding),
		cmocka_unit_test(ipv4_icmp_echo),
		cmocka_unit_test(ipv4_options),
		cmocka_unit_test(ipv4_fragments),
		cmocka_unit_test(ipv6_tcp),
		cmocka_unit_test(ipv6_ext_chain),
		cmocka_unit_test(icmp6_echo),
		cmocka_unit_test(vlan_tags),
		cmocka_unit_test(unknown_ethertype),
		cmocka_unit_test(malformed),
		cmocka_unit_test(truncation_sweep),
		cmocka_unit_test(bundled_captures),
		cmocka_unit_test(shared_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
