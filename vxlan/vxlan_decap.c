/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive side of the overlay: what a frame on the uplink is (VXLAN for a
 * segment, ARP for the VTEP, or a drop with a reason). Fast path: no
 * allocation, no locks, no logging. Every read goes through at(), which
 * returns NULL for bytes past the frame's end.
 */
#include <string.h>

#include <rte_ip.h>

#include "vxlan/vxlan.h"

#define ETH_HDR	     14
#define ETH_P_IPV4   0x0800
#define ETH_P_IPV6   0x86dd
#define ETH_P_ARP    0x0806
#define IPV4_HDR     20
#define IPV6_HDR     40
#define UDP_HDR	     8
#define VXLAN_HDR    8
#define VXLAN_F_I    0x08
#define ARP_LEN	     28
#define IPPROTO_UDP_ 17

static inline const uint8_t *
at(const uint8_t *frame, uint32_t len, uint32_t off, uint32_t n)
{
	if (off > len || n > len - off)
		return NULL;
	return frame + off;
}

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
arp_in(const struct hv_vx_state *st, const uint8_t *frame, uint32_t len, struct hv_vx_rx *rx,
       uint8_t *reply, size_t reply_size)
{
	const uint8_t *a = at(frame, len, ETH_HDR, ARP_LEN);
	const struct hv_vx_peer *peer;
	uint16_t op;

	if (a == NULL) {
		rx->drop = HV_DROP_ARP_TRUNCATED;
		return;
	}
	if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IPV4 || a[4] != 6 || a[5] != 4) {
		rx->drop = HV_DROP_ARP_MALFORMED;
		return;
	}
	op = rd16(a + 6);
	rx->kind = HV_VX_RX_ARP;
	/* a request or a reply from a VTEP tells us its MAC */
	peer = hv_vx_peer_find(st, a + 14);
	if (peer != NULL && !(a[8] & 1))
		rx->neigh_learned = hv_vx_neigh_set(&st->neigh[peer->vtep], a + 8);
	if (op != 1 || memcmp(a + 24, st->local_ip, 4) != 0 || (a[8] & 1) ||
	    reply_size < ETH_HDR + ARP_LEN)
		return;
	/* who-has LOCAL: LOCAL is at the uplink's MAC */
	memcpy(reply, a + 8, 6);
	memcpy(reply + 6, st->local_mac, 6);
	reply[12] = ETH_P_ARP >> 8;
	reply[13] = ETH_P_ARP & 0xff;
	uint8_t *r = reply + ETH_HDR;
	memcpy(r, a, 6); /* htype, ptype, hlen, plen */
	r[6] = 0;
	r[7] = 2;
	memcpy(r + 8, st->local_mac, 6);
	memcpy(r + 14, st->local_ip, 4);
	memcpy(r + 18, a + 8, 6);
	memcpy(r + 24, a + 14, 4);
	rx->reply_len = ETH_HDR + ARP_LEN;
}

/* Whether the inner frame at IN (N bytes) is itself VXLAN to the overlay port. */
static bool
inner_is_vxlan(const struct hv_vx_state *st, const uint8_t *in, uint32_t n)
{
	const uint8_t *e = at(in, n, 0, ETH_HDR), *ip, *udp;
	uint32_t l4;

	if (e == NULL)
		return false;
	if (rd16(e + 12) == ETH_P_IPV4) {
		ip = at(in, n, ETH_HDR, IPV4_HDR);
		if (ip == NULL || (ip[0] >> 4) != 4 || ip[9] != IPPROTO_UDP_ ||
		    (rd16(ip + 6) & 0x1fff) != 0)
			return false;
		l4 = ETH_HDR + (uint32_t)(ip[0] & 0xf) * 4;
	} else if (rd16(e + 12) == ETH_P_IPV6) {
		ip = at(in, n, ETH_HDR, IPV6_HDR);
		if (ip == NULL || ip[6] != IPPROTO_UDP_)
			return false;
		l4 = ETH_HDR + IPV6_HDR;
	} else {
		return false;
	}
	udp = at(in, n, l4, UDP_HDR);
	return udp != NULL && rd16(udp + 2) == st->udp_port;
}

void
hv_vx_rx(const struct hv_vx_state *st, const uint8_t *frame, uint32_t len, struct hv_vx_rx *rx,
	 uint8_t *reply, size_t reply_size)
{
	const uint8_t *e, *ip, *udp, *vx;
	const struct hv_vx_peer *peer;
	uint32_t ihl, tot, ulen, l4;
	int seg;

	memset(rx, 0, sizeof(*rx));
	rx->kind = HV_VX_RX_DROP;
	e = at(frame, len, 0, ETH_HDR);
	if (e == NULL) {
		rx->drop = HV_DROP_ETH_TRUNCATED;
		return;
	}
	if (rd16(e + 12) == ETH_P_ARP) {
		arp_in(st, frame, len, rx, reply, reply_size);
		return;
	}
	if (rd16(e + 12) != ETH_P_IPV4 || (e[0] & 1)) {
		rx->drop = HV_DROP_UPLINK_NOT_VTEP;
		return;
	}
	ip = at(frame, len, ETH_HDR, IPV4_HDR);
	if (ip == NULL || (ip[0] >> 4) != 4) {
		rx->drop = HV_DROP_VXLAN_OUTER_MALFORMED;
		return;
	}
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	if (ihl < IPV4_HDR || at(frame, len, ETH_HDR, ihl) == NULL || tot < ihl ||
	    tot > len - ETH_HDR ||
	    (ihl == IPV4_HDR ? hv_vx_ip4_sum(ip) : rte_raw_cksum(ip, ihl)) != 0xffff) {
		rx->drop = HV_DROP_VXLAN_OUTER_MALFORMED;
		return;
	}
	if (memcmp(ip + 16, st->local_ip, 4) != 0) {
		rx->drop = HV_DROP_UPLINK_NOT_VTEP;
		return;
	}
	if (ip[9] != IPPROTO_UDP_) {
		rx->drop = HV_DROP_UPLINK_NOT_VXLAN;
		return;
	}
	/* the overlay never fragments; a fragment cannot be decapsulated alone */
	if ((rd16(ip + 6) & 0x3fff) != 0) {
		rx->drop = HV_DROP_VXLAN_OUTER_MALFORMED;
		return;
	}
	l4 = ETH_HDR + ihl;
	udp = tot - ihl >= UDP_HDR ? at(frame, len, l4, UDP_HDR) : NULL;
	if (udp == NULL) {
		rx->drop = HV_DROP_VXLAN_OUTER_MALFORMED;
		return;
	}
	ulen = rd16(udp + 4);
	if (ulen < UDP_HDR || ulen > tot - ihl) {
		rx->drop = HV_DROP_VXLAN_OUTER_MALFORMED;
		return;
	}
	if (rd16(udp + 2) != st->udp_port) {
		rx->drop = HV_DROP_UPLINK_NOT_VXLAN;
		return;
	}
	/* the UDP checksum is not verified (RFC 7348 5: a receiver MAY); see docs/overlay.md */
	vx = ulen >= UDP_HDR + VXLAN_HDR ? at(frame, len, l4 + UDP_HDR, VXLAN_HDR) : NULL;
	if (vx == NULL) {
		rx->drop = HV_DROP_VXLAN_TRUNCATED;
		return;
	}
	if (!(vx[0] & VXLAN_F_I)) {
		rx->drop = HV_DROP_VXLAN_BAD_FLAGS;
		return;
	}
	rx->reserved_set = (vx[0] & ~VXLAN_F_I) || vx[1] || vx[2] || vx[3] || vx[7];
	rx->vni = (uint32_t)vx[4] << 16 | (uint32_t)vx[5] << 8 | vx[6];
	seg = hv_vx_vni_seg(st, rx->vni);
	if (seg < 0) {
		rx->drop = HV_DROP_VXLAN_UNKNOWN_VNI;
		return;
	}
	peer = hv_vx_peer_find(st, ip + 12);
	if (peer == NULL || !hv_vx_peer_has_seg(peer, (uint16_t)seg)) {
		rx->drop = HV_DROP_VXLAN_UNKNOWN_VTEP;
		if (st->learn && ip[12] != 0 && ip[12] != 127 && ip[12] < 224) {
			rx->learn = true;
			memcpy(rx->src_ip, ip + 12, 4);
			rx->seg = (uint16_t)seg;
		}
		return;
	}
	rx->inner_off = (uint16_t)(l4 + UDP_HDR + VXLAN_HDR);
	rx->inner_len = ulen - UDP_HDR - VXLAN_HDR;
	if (inner_is_vxlan(st, frame + rx->inner_off, rx->inner_len)) {
		rx->drop = HV_DROP_VXLAN_NESTED;
		return;
	}
	if (!(e[6] & 1))
		rx->neigh_learned = hv_vx_neigh_set(&st->neigh[peer->vtep], e + 6);
	rx->seg = (uint16_t)seg;
	rx->vtep = peer->vtep;
	rx->kind = HV_VX_RX_DECAP;
}
