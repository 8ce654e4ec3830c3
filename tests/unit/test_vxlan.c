/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The overlay library: VTEP state building (VNIs, peers, flood lists, stable
 * VTEP indices), encapsulation byte for byte against a reference made with
 * scapy, decapsulation and every drop reason of a received packet, ARP for
 * the local VTEP and for the peers' underlay MACs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_ip.h>

#include "vxlan/vxlan.h"

/* scapy: Ether(52:54:00:00:00:01 > :02)/IP(10.30.0.1 > 10.30.0.2, id 1)/ICMP echo/"hvnet" */
static const char INNER_HEX[] = "525400000002525400000001080045000021000100004001669d0a1e00010a1e"
				"000208009aee1234000168766e6574";
/*
 * scapy: Ether(02:00:00:00:00:0a > 02:00:00:00:00:0b)/IP(192.0.2.1 > 192.0.2.2,
 * ttl 64, id 0, DF)/UDP(50000 > 4789)/VXLAN(flags 0x08, vni 300), checksums
 * computed by scapy.
 */
static const char OUTER_HEX[] = "02000000000b02000000000a080045000053000040004011b696c0000201c000"
				"0202c35012b5003fc4b90800000000012c00";

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0x0b};
static const uint8_t IP_A[4] = {192, 0, 2, 1};
static const uint8_t IP_B[4] = {192, 0, 2, 2};
static const uint8_t IP_C[4] = {192, 0, 2, 3};

static size_t
unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* A host with LOCAL, segment 3 = VNI 300, segment 5 = VNI 100, and PEERS. */
static struct hv_vx_conf *
conf_make(const uint8_t local[4], const uint8_t mac[6], const uint8_t (*peers)[4], unsigned n)
{
	struct hv_vx_conf *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	memcpy(c->local_ip, local, 4);
	memcpy(c->uplink_mac, mac, 6);
	c->uplink = 7;
	c->uplink_mtu = 1500;
	for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++)
		c->seg_vni[s] = HV_VX_NO_VNI;
	c->seg_vni[3] = 300;
	c->seg_vni[5] = 100;
	for (unsigned i = 0; i < n; i++) {
		memcpy(c->peers[i].ip, peers[i], 4);
		c->peers[i].all_segs = true;
	}
	c->n_peers = (uint16_t)n;
	return c;
}

static void
test_build(void **state)
{
	static const uint8_t peers[2][4] = {{192, 0, 2, 3}, {192, 0, 2, 2}};
	struct hv_vx_ctl *x = calloc(1, sizeof(*x));
	struct hv_vx_conf *c = conf_make(IP_A, MAC_A, peers, 2);
	struct hv_vx_state *st;
	const struct hv_vx_peer *p;
	char err[256];

	(void)state;
	c->peers[0].all_segs = false; /* 192.0.2.3 carries segment 5 only */
	c->peers[0].segs[0] = 1u << 5;
	st = hv_vx_state_build(x, c, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(st->mtu, 1450);
	assert_int_equal(st->udp_port, 4789);
	assert_int_equal(st->ttl, 64);
	assert_int_equal(hv_vx_vni_seg(st, 300), 3);
	assert_int_equal(hv_vx_vni_seg(st, 100), 5);
	assert_int_equal(hv_vx_vni_seg(st, 200), -1);
	/* peers sorted by address; segment 3 floods to .2 only, segment 5 to both */
	assert_int_equal(st->n_peers, 2);
	assert_memory_equal(st->peers[0].ip, IP_B, 4);
	p = hv_vx_peer_find(st, IP_C);
	assert_non_null(p);
	assert_false(hv_vx_peer_has_seg(p, 3));
	assert_true(hv_vx_peer_has_seg(p, 5));
	assert_null(hv_vx_peer_find(st, IP_A));
	assert_int_equal(st->flood_n[3], 1);
	assert_int_equal(st->flood[st->flood_off[3]], hv_vx_peer_find(st, IP_B)->vtep);
	assert_int_equal(st->flood_n[5], 2);
	assert_int_equal(st->flood_n[4], 0);
	hv_vx_ctl_commit(x, st, NULL, NULL);
	free(c);
	hv_vx_state_free(st);
	free(x);
}

static unsigned gone_calls;
static uint16_t gone_last;

static void
gone(void *arg, uint16_t vtep)
{
	(void)arg;
	gone_calls++;
	gone_last = vtep;
}

/* A rebuild keeps the indices of addresses it keeps; dropped ones are reported once. */
static void
test_indices_stable(void **state)
{
	static const uint8_t two[2][4] = {{192, 0, 2, 2}, {192, 0, 2, 3}};
	static const uint8_t one[1][4] = {{192, 0, 2, 3}};
	struct hv_vx_ctl *x = calloc(1, sizeof(*x));
	struct hv_vx_conf *c = conf_make(IP_A, MAC_A, two, 2);
	struct hv_vx_state *st, *st2;
	uint16_t v2, v3;
	char err[256];

	(void)state;
	st = hv_vx_state_build(x, c, err, sizeof(err));
	assert_non_null(st);
	hv_vx_ctl_commit(x, st, gone, NULL);
	v2 = hv_vx_peer_find(st, IP_B)->vtep;
	v3 = hv_vx_peer_find(st, IP_C)->vtep;
	assert_int_not_equal(v2, v3);
	hv_vx_neigh_set(&x->neigh[v3], MAC_B);
	free(c);
	c = conf_make(IP_A, MAC_A, one, 1);
	st2 = hv_vx_state_build(x, c, err, sizeof(err));
	assert_non_null(st2);
	assert_int_equal(hv_vx_peer_find(st2, IP_C)->vtep, v3);
	gone_calls = 0;
	hv_vx_ctl_commit(x, st2, gone, NULL);
	assert_int_equal(gone_calls, 1);
	assert_int_equal(gone_last, v2);
	/* the neighbour of a kept VTEP stays resolved */
	uint8_t mac[6];
	assert_true(hv_vx_neigh_mac(&st2->neigh[v3], mac));
	assert_memory_equal(mac, MAC_B, 6);
	hv_vx_state_free(st);
	hv_vx_state_free(st2);
	free(c);
	free(x);
}

static void
test_build_errors(void **state)
{
	static const uint8_t bad[][4] = {{192, 0, 2, 1}, {224, 0, 0, 1}, {0, 0, 0, 0}};
	static const uint8_t dup[2][4] = {{192, 0, 2, 2}, {192, 0, 2, 2}};
	struct hv_vx_ctl *x = calloc(1, sizeof(*x));
	struct hv_vx_conf *c;
	char err[256];

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		c = conf_make(IP_A, MAC_A, &bad[i], 1);
		errno = 0;
		assert_null(hv_vx_state_build(x, c, err, sizeof(err)));
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err, "not a unicast address"));
		free(c);
	}
	c = conf_make(IP_A, MAC_A, dup, 2);
	assert_null(hv_vx_state_build(x, c, err, sizeof(err)));
	assert_non_null(strstr(err, "listed twice"));
	c->n_peers = 1;
	c->seg_vni[9] = 300; /* two segments, one VNI */
	assert_null(hv_vx_state_build(x, c, err, sizeof(err)));
	assert_non_null(strstr(err, "VNI 300 is given to two segments"));
	c->seg_vni[9] = HV_VX_NO_VNI;
	c->uplink_mtu = 600;
	assert_null(hv_vx_state_build(x, c, err, sizeof(err)));
	free(c);
	free(x);
}

struct pair {
	struct hv_vx_ctl xa, xb;
	struct hv_vx_state *a, *b; /* host A (192.0.2.1) and host B (192.0.2.2) */
};

static struct pair *
pair_make_csum(bool udp_csum)
{
	struct pair *p = calloc(1, sizeof(*p));
	struct hv_vx_conf *c;
	char err[256];

	assert_non_null(p);
	c = conf_make(IP_A, MAC_A, &IP_B, 1);
	c->udp_csum = udp_csum;
	p->a = hv_vx_state_build(&p->xa, c, err, sizeof(err));
	free(c);
	c = conf_make(IP_B, MAC_B, &IP_A, 1);
	p->b = hv_vx_state_build(&p->xb, c, err, sizeof(err));
	free(c);
	assert_non_null(p->a);
	assert_non_null(p->b);
	hv_vx_ctl_commit(&p->xa, p->a, NULL, NULL);
	hv_vx_ctl_commit(&p->xb, p->b, NULL, NULL);
	return p;
}

/* Two hosts as the overlay block makes them by default: the outer UDP checksum 0 */
static struct pair *
pair_make(void)
{
	return pair_make_csum(false);
}

static void
pair_free(struct pair *p)
{
	hv_vx_state_free(p->a);
	hv_vx_state_free(p->b);
	free(p);
}

/* The outer headers, byte for byte as scapy makes them, then decapsulated on B. */
static void
test_encap_exact(void **state)
{
	struct pair *p = pair_make();
	uint8_t buf[256], want[64];
	size_t n = unhex(INNER_HEX, buf + HV_VX_HDR_LEN), w = unhex(OUTER_HEX, want);
	uint16_t vb = p->a->peers[0].vtep;
	struct hv_vx_rx rx;
	uint8_t reply[64];

	(void)state;
	assert_int_equal(w, HV_VX_HDR_LEN);
	/* no underlay MAC yet: nothing is written */
	memset(buf, 0xee, HV_VX_HDR_LEN);
	assert_int_equal(hv_vx_encap(p->a, vb, 300, 50000, buf, (uint32_t)n),
			 HV_DROP_VXLAN_NO_NEIGHBOUR);
	assert_int_equal(buf[0], 0xee);
	hv_vx_neigh_set(&p->a->neigh[vb], MAC_B);
	assert_int_equal(hv_vx_encap(p->a, vb, 300, 50000, buf, (uint32_t)n), HV_DROP_NONE);
	/* by default the UDP checksum (bytes 40-41) is 0, as RFC 7348 says it should be */
	assert_memory_equal(buf, want, 40);
	assert_int_equal(buf[40] | buf[41], 0);
	assert_memory_equal(buf + 42, want + 42, HV_VX_HDR_LEN - 42);
	/* with `udp-checksum yes`, scapy's checksum too */
	{
		struct pair *q = pair_make_csum(true);
		uint8_t cb[256];

		memcpy(cb + HV_VX_HDR_LEN, buf + HV_VX_HDR_LEN, n);
		hv_vx_neigh_set(&q->a->neigh[q->a->peers[0].vtep], MAC_B);
		assert_int_equal(
			hv_vx_encap(q->a, q->a->peers[0].vtep, 300, 50000, cb, (uint32_t)n),
			HV_DROP_NONE);
		assert_memory_equal(cb, want, HV_VX_HDR_LEN);
		pair_free(q);
	}

	hv_vx_rx(p->b, buf, (uint32_t)(HV_VX_HDR_LEN + n), &rx, reply, sizeof(reply));
	assert_int_equal(rx.kind, HV_VX_RX_DECAP);
	assert_int_equal(rx.seg, 3);
	assert_int_equal(rx.vni, 300);
	assert_int_equal(rx.inner_off, HV_VX_HDR_LEN);
	assert_int_equal(rx.inner_len, n);
	assert_int_equal(rx.vtep, p->b->peers[0].vtep);
	assert_false(rx.reserved_set);
	/* B learned A's underlay MAC from the packet */
	assert_true(rx.neigh_learned);
	uint8_t mac[6];
	assert_true(hv_vx_neigh_mac(&p->b->neigh[rx.vtep], mac));
	assert_memory_equal(mac, MAC_A, 6);
	pair_free(p);
}

/* A valid packet from A to B, LEN bytes in BUF. */
static size_t
valid_packet(struct pair *p, uint8_t *buf)
{
	size_t n = unhex(INNER_HEX, buf + HV_VX_HDR_LEN);
	uint16_t vb = p->a->peers[0].vtep;

	hv_vx_neigh_set(&p->a->neigh[vb], MAC_B);
	assert_int_equal(hv_vx_encap(p->a, vb, 300, 50000, buf, (uint32_t)n), HV_DROP_NONE);
	return HV_VX_HDR_LEN + n;
}

static enum hv_drop_reason
rx_drop(struct pair *p, const uint8_t *buf, size_t len)
{
	struct hv_vx_rx rx;
	uint8_t reply[64];
	uint8_t *copy = malloc(len ? len : 1); /* exactly LEN bytes: ASan sees any overread */

	memcpy(copy, buf, len);
	hv_vx_rx(p->b, copy, (uint32_t)len, &rx, reply, sizeof(reply));
	free(copy);
	if (rx.kind == HV_VX_RX_DECAP)
		return HV_DROP_NONE;
	assert_int_equal(rx.kind, HV_VX_RX_DROP);
	return rx.drop;
}

static void
fix_ip_csum(uint8_t *ip)
{
	uint32_t s = 0;

	ip[10] = ip[11] = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	ip[10] = (uint8_t)(~s >> 8);
	ip[11] = (uint8_t)~s;
}

static void
test_decap_drops(void **state)
{
	struct pair *p = pair_make();
	uint8_t buf[256], m[256];
	size_t len = valid_packet(p, buf);
	struct hv_vx_rx rx;
	uint8_t reply[64];

	(void)state;
	assert_int_equal(rx_drop(p, buf, len), HV_DROP_NONE);
	/* every truncation is a drop, never a read past the end */
	for (size_t l = 0; l < len; l++)
		if (l < HV_VX_HDR_LEN)
			assert_int_not_equal(rx_drop(p, buf, l), HV_DROP_NONE);
	assert_int_equal(rx_drop(p, buf, 10), HV_DROP_ETH_TRUNCATED);
	assert_int_equal(rx_drop(p, buf, 40), HV_DROP_VXLAN_OUTER_MALFORMED);
	/* UDP length too short for the VXLAN header */
	memcpy(m, buf, len);
	m[38] = 0;
	m[39] = 12;
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_TRUNCATED);
	/* no I flag */
	memcpy(m, buf, len);
	m[42] = 0x00;
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_BAD_FLAGS);
	/* reserved bits: ignored, but reported */
	memcpy(m, buf, len);
	m[42] = 0x88;
	m[49] = 0x01;
	hv_vx_rx(p->b, m, (uint32_t)len, &rx, reply, sizeof(reply));
	assert_int_equal(rx.kind, HV_VX_RX_DECAP);
	assert_true(rx.reserved_set);
	/* unknown VNI */
	memcpy(m, buf, len);
	m[48] = 0x2d; /* 301 */
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_UNKNOWN_VNI);
	/* from an address that is not a peer */
	memcpy(m, buf, len);
	m[14 + 15] = 9;
	fix_ip_csum(m + 14);
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_UNKNOWN_VTEP);
	/* not to the local VTEP */
	memcpy(m, buf, len);
	m[14 + 19] = 9;
	fix_ip_csum(m + 14);
	assert_int_equal(rx_drop(p, m, len), HV_DROP_UPLINK_NOT_VTEP);
	/* another UDP port, another protocol */
	memcpy(m, buf, len);
	m[36] = 0x21;
	m[37] = 0x18; /* 8472 */
	assert_int_equal(rx_drop(p, m, len), HV_DROP_UPLINK_NOT_VXLAN);
	memcpy(m, buf, len);
	m[14 + 9] = 6;
	fix_ip_csum(m + 14);
	assert_int_equal(rx_drop(p, m, len), HV_DROP_UPLINK_NOT_VXLAN);
	/* a bad IPv4 header checksum, a fragment */
	memcpy(m, buf, len);
	m[14 + 10] ^= 1;
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_OUTER_MALFORMED);
	memcpy(m, buf, len);
	m[14 + 6] = 0x20; /* MF */
	fix_ip_csum(m + 14);
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_OUTER_MALFORMED);
	/* IPv4 total length past the frame */
	memcpy(m, buf, len);
	m[14 + 2] = 0x05;
	fix_ip_csum(m + 14);
	assert_int_equal(rx_drop(p, m, len), HV_DROP_VXLAN_OUTER_MALFORMED);
	/* IPv6 on the uplink: not for the IPv4 VTEP */
	memcpy(m, buf, len);
	m[12] = 0x86;
	m[13] = 0xdd;
	assert_int_equal(rx_drop(p, m, len), HV_DROP_UPLINK_NOT_VTEP);
	pair_free(p);
}

/* VXLAN in VXLAN is dropped at the first level: nesting is bounded. */
static void
test_decap_nested(void **state)
{
	struct pair *p = pair_make();
	uint8_t inner[256], outer[512];
	size_t n = valid_packet(p, inner);
	uint16_t vb = p->a->peers[0].vtep;

	(void)state;
	memcpy(outer + HV_VX_HDR_LEN, inner, n);
	assert_int_equal(hv_vx_encap(p->a, vb, 300, 50001, outer, (uint32_t)n), HV_DROP_NONE);
	assert_int_equal(rx_drop(p, outer, HV_VX_HDR_LEN + n), HV_DROP_VXLAN_NESTED);
	pair_free(p);
}

/* `learn yes`: an unknown sender is still dropped, but offered for learning; once
 * learned it is accepted for that segment and never flooded to. */
static void
test_learn(void **state)
{
	struct pair *p = pair_make();
	struct hv_vx_conf *c;
	struct hv_vx_state *b2;
	uint8_t buf[256];
	size_t len = valid_packet(p, buf);
	struct hv_vx_rx rx;
	uint8_t reply[64];
	char err[256];

	(void)state;
	buf[14 + 15] = 9; /* from 192.0.2.9 */
	fix_ip_csum(buf + 14);
	hv_vx_rx(p->b, buf, (uint32_t)len, &rx, reply, sizeof(reply));
	assert_int_equal(rx.drop, HV_DROP_VXLAN_UNKNOWN_VTEP);
	assert_false(rx.learn); /* learn no */
	c = conf_make(IP_B, MAC_B, &IP_A, 1);
	c->learn = true;
	b2 = hv_vx_state_build(&p->xb, c, err, sizeof(err));
	assert_non_null(b2);
	hv_vx_rx(b2, buf, (uint32_t)len, &rx, reply, sizeof(reply));
	assert_int_equal(rx.drop, HV_DROP_VXLAN_UNKNOWN_VTEP);
	assert_true(rx.learn);
	assert_int_equal(rx.seg, 3);
	assert_memory_equal(rx.src_ip, ((const uint8_t[4]){192, 0, 2, 9}), 4);
	hv_vx_state_free(b2);
	/* learned for segment 3: accepted there, not flooded to */
	c->peers[1].ip[0] = 192;
	c->peers[1].ip[2] = 2;
	c->peers[1].ip[3] = 9;
	c->peers[1].learned = true;
	c->peers[1].segs[0] = 1u << 3;
	c->n_peers = 2;
	b2 = hv_vx_state_build(&p->xb, c, err, sizeof(err));
	assert_non_null(b2);
	hv_vx_rx(b2, buf, (uint32_t)len, &rx, reply, sizeof(reply));
	assert_int_equal(rx.kind, HV_VX_RX_DECAP);
	assert_int_equal(b2->flood_n[3], 1);
	assert_int_equal(b2->flood[b2->flood_off[3]], hv_vx_peer_find(b2, IP_A)->vtep);
	hv_vx_state_free(b2);
	free(c);
	pair_free(p);
}

static void
test_arp(void **state)
{
	struct pair *p = pair_make();
	uint8_t req[64], reply[64];
	struct hv_vx_rx rx;
	uint16_t va = p->b->peers[0].vtep, vb = p->a->peers[0].vtep;
	uint8_t mac[6];
	size_t n;

	(void)state;
	/* A asks for B's address */
	n = hv_vx_arp_request(p->a, vb, req, sizeof(req));
	assert_int_equal(n, 42);
	assert_memory_equal(req + 6, MAC_A, 6);
	assert_memory_equal(req + 14 + 24, IP_B, 4);
	assert_int_equal(hv_vx_arp_request(p->a, 200, req, sizeof(req)), 0); /* unused index */
	n = hv_vx_arp_request(p->a, vb, req, sizeof(req));
	/* B answers and learns A's MAC from the request */
	hv_vx_rx(p->b, req, (uint32_t)n, &rx, reply, sizeof(reply));
	assert_int_equal(rx.kind, HV_VX_RX_ARP);
	assert_int_equal(rx.reply_len, 42);
	assert_true(rx.neigh_learned);
	assert_true(hv_vx_neigh_mac(&p->b->neigh[va], mac));
	assert_memory_equal(mac, MAC_A, 6);
	assert_memory_equal(reply, MAC_A, 6);
	assert_memory_equal(reply + 6, MAC_B, 6);
	assert_int_equal(reply[14 + 7], 2); /* a reply */
	assert_memory_equal(reply + 14 + 8, MAC_B, 6);
	assert_memory_equal(reply + 14 + 14, IP_B, 4);
	/* A learns B's MAC from the reply and sends no reply to a reply */
	assert_false(hv_vx_neigh_mac(&p->a->neigh[vb], mac));
	hv_vx_rx(p->a, reply, 42, &rx, req, sizeof(req));
	assert_int_equal(rx.kind, HV_VX_RX_ARP);
	assert_int_equal(rx.reply_len, 0);
	assert_true(hv_vx_neigh_mac(&p->a->neigh[vb], mac));
	assert_memory_equal(mac, MAC_B, 6);
	/* a short or malformed ARP is a drop */
	assert_int_equal(rx_drop(p, reply, 30), HV_DROP_ARP_TRUNCATED);
	reply[14 + 4] = 8;
	assert_int_equal(rx_drop(p, reply, 42), HV_DROP_ARP_MALFORMED);
	pair_free(p);
}

static void
test_neigh_ask(void **state)
{
	struct hv_vx_neigh n = {0};
	const uint64_t hz = 1000;

	(void)state;
	assert_true(hv_vx_neigh_should_ask(&n, 5000, hz));
	assert_false(hv_vx_neigh_should_ask(&n, 5500, hz)); /* within a second */
	assert_true(hv_vx_neigh_should_ask(&n, 6001, hz));
	hv_vx_neigh_set(&n, MAC_A);
	assert_false(hv_vx_neigh_should_ask(&n, 8000, hz)); /* resolved: every 30 s */
	assert_true(hv_vx_neigh_should_ask(&n, 6001 + 30 * hz, hz));
	assert_false(hv_vx_neigh_set(&n, MAC_A));
	assert_true(hv_vx_neigh_set(&n, MAC_B));
	/* a static entry is never asked for and never overwritten by what arrives */
	uint8_t mac[6];
	hv_vx_neigh_set_static(&n, MAC_A);
	assert_false(hv_vx_neigh_should_ask(&n, 6001 + 100 * hz, hz));
	assert_false(hv_vx_neigh_set(&n, MAC_B));
	assert_true(hv_vx_neigh_mac(&n, mac));
	assert_memory_equal(mac, MAC_A, 6);
}

/* The outer UDP checksum, for every inner length up to 300 bytes and random
 * contents, is the one DPDK's reference computes (and 0 goes out as 0xffff). */
static void
test_encap_cksum(void **state)
{
	struct pair *p = pair_make_csum(true);
	uint16_t vb = p->a->peers[0].vtep;
	uint8_t buf[HV_VX_HDR_LEN + 300];
	uint32_t seed = 12345;

	(void)state;
	hv_vx_neigh_set(&p->a->neigh[vb], MAC_B);
	for (uint32_t n = 14; n <= 300; n++) {
		for (int round = 0; round < 4; round++) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + 14);
			uint8_t *udp = buf + 34;
			uint16_t got, want;

			for (uint32_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[HV_VX_HDR_LEN + i] = (uint8_t)(seed >> 16);
			}
			if (round == 3) /* all ones: sums that fold to 0xffff */
				memset(buf + HV_VX_HDR_LEN, 0xff, n);
			assert_int_equal(hv_vx_encap(p->a, vb, 300, (uint16_t)(49152 + n), buf, n),
					 HV_DROP_NONE);
			memcpy(&got, udp + 6, 2);
			memset(udp + 6, 0, 2);
			want = rte_ipv4_udptcp_cksum(ip, udp);
			assert_int_equal(got, want);
			/* and the outer IPv4 header's, as DPDK computes it and as decap checks it */
			assert_int_equal(hv_vx_ip4_sum(buf + 14), 0xffff);
			memcpy(&got, buf + 24, 2);
			memset(buf + 24, 0, 2);
			assert_int_equal(got, rte_ipv4_cksum(ip));
		}
	}
	pair_free(p);
}

static void
test_flow_port(void **state)
{
	struct hv_pkt_meta m;
	uint8_t f[64];
	size_t n = unhex(INNER_HEX, f);
	uint16_t a, b;

	(void)state;
	assert_int_equal(hv_pkt_parse(f, (uint32_t)n, &m), HV_DROP_NONE);
	a = hv_vx_flow_port(&m);
	assert_int_equal(a, hv_vx_flow_port(&m));
	assert_true(a >= 49152);
	m.sport++;
	b = hv_vx_flow_port(&m);
	assert_true(b >= 49152);
	assert_int_not_equal(a, b);

	/* an ECMP spread: 1,000 flows differing in one field each way land on
	 * nearly as many of the 16,384 ports (about 970 expected at random) */
	static uint8_t seen[16384];
	const struct {
		uint8_t l3;
		int field; /* 0 sport, 1 dport, 2 last byte pair of the source address */
	} cases[] = {{HV_L3_IPV4, 0},
		     {HV_L3_IPV4, 1},
		     {HV_L3_IPV4, 2},
		     {HV_L3_IPV6, 0},
		     {HV_L3_IPV6, 2}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct hv_pkt_meta v = m;
		unsigned distinct = 0;

		memset(seen, 0, sizeof(seen));
		v.l3 = cases[c].l3;
		for (unsigned i = 0; i < 1000; i++) {
			uint16_t p;

			if (cases[c].field == 0)
				v.sport = (uint16_t)(1024 + i);
			else if (cases[c].field == 1)
				v.dport = (uint16_t)(1024 + i);
			else if (v.l3 == HV_L3_IPV4)
				v.src_ip[2] = (uint8_t)(i >> 8), v.src_ip[3] = (uint8_t)i;
			else
				v.src_ip[14] = (uint8_t)(i >> 8), v.src_ip[15] = (uint8_t)i;
			p = hv_vx_flow_port(&v);
			assert_true(p >= 49152);
			distinct += !seen[p - 49152];
			seen[p - 49152] = 1;
		}
		assert_true(distinct >= 940);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),	     cmocka_unit_test(test_indices_stable),
		cmocka_unit_test(test_build_errors), cmocka_unit_test(test_encap_exact),
		cmocka_unit_test(test_decap_drops),  cmocka_unit_test(test_decap_nested),
		cmocka_unit_test(test_arp),	     cmocka_unit_test(test_neigh_ask),
		cmocka_unit_test(test_flow_port),    cmocka_unit_test(test_encap_cksum),
		cmocka_unit_test(test_learn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
