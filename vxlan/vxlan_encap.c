/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transmit side of the overlay: the outer headers of a frame for a remote
 * VTEP, the flow hash behind the outer source port, and the ARP requests
 * that resolve a VTEP's underlay MAC. Fast path: no allocation, no locks, no
 * logging.
 */
#include <string.h>

#include <rte_jhash.h>
#include <rte_ip.h>

#include "vxlan/vxlan.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP  0x0806
#define IPV4_DF	   0x4000

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint16_t
hv_vx_flow_port(const struct hv_pkt_meta *m)
{
	/* Jenkins hash over what identifies the flow; the same inner flow, the same port */
	uint32_t h;
	uint8_t buf[12 + 32 + 5];
	size_t n = 0, alen = m->l3 == HV_L3_IPV6 ? 16 : 4;

	memcpy(buf, m->dst_mac, 6);
	memcpy(buf + 6, m->src_mac, 6);
	n = 12;
	if (m->l3 == HV_L3_IPV4 || m->l3 == HV_L3_IPV6) {
		memcpy(buf + n, m->src_ip, alen);
		memcpy(buf + n + alen, m->dst_ip, alen);
		n += 2 * alen;
		buf[n++] = m->l4_proto;
		if (m->flags & HV_PKT_F_L4) {
			wr16(buf + n, m->sport);
			wr16(buf + n + 2, m->dport);
			n += 4;
		}
	}
	h = rte_jhash(buf, (uint32_t)n, 0);
	h ^= h >> 16;
	return (uint16_t)(49152 + (h % 16384));
}

enum hv_drop_reason
hv_vx_encap(const struct hv_vx_state *st, uint16_t vtep, uint32_t vni, uint16_t sport, uint8_t *buf,
	    uint32_t inner_len)
{
	uint8_t mac[6];
	uint8_t *ip = buf + 14, *udp = buf + 34, *vx = buf + 42;
	uint32_t ulen = 8 + 8 + inner_len;
	uint16_t c;

	if (inner_len > 65535 - 20 - 8 - 8) /* the outer IPv4 total length */
		return HV_DROP_VXLAN_TOO_BIG;
	if (vtep >= HV_VX_MAX_VTEPS || !hv_vx_neigh_mac(&st->neigh[vtep], mac))
		return HV_DROP_VXLAN_NO_NEIGHBOUR;
	memcpy(buf, mac, 6);
	memcpy(buf + 6, st->local_mac, 6);
	wr16(buf + 12, ETH_P_IPV4);
	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, (uint16_t)(20 + ulen));
	wr16(ip + 4, 0); /* ID 0: DF is set, the packet is never fragmented (RFC 6864) */
	wr16(ip + 6, IPV4_DF);
	ip[8] = st->ttl;
	ip[9] = 17;
	wr16(ip + 10, 0);
	memcpy(ip + 12, st->local_ip, 4);
	memcpy(ip + 16, st->vtep_ip[vtep], 4);
	c = rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip); /* in network order */
	memcpy(ip + 10, &c, 2);
	wr16(udp, sport);
	wr16(udp + 2, st->udp_port);
	wr16(udp + 4, (uint16_t)ulen);
	wr16(udp + 6, 0);
	vx[0] = 0x08; /* I: the VNI is valid */
	vx[1] = vx[2] = vx[3] = 0;
	vx[4] = (uint8_t)(vni >> 16);
	vx[5] = (uint8_t)(vni >> 8);
	vx[6] = (uint8_t)vni;
	vx[7] = 0;
	/* pseudo header, UDP and VXLAN headers and the inner frame; 0 is sent as 0xffff */
	c = rte_ipv4_udptcp_cksum((const struct rte_ipv4_hdr *)ip, udp);
	memcpy(udp + 6, &c, 2);
	return HV_DROP_NONE;
}

size_t
hv_vx_arp_request(const struct hv_vx_state *st, uint16_t vtep, uint8_t *out, size_t out_size)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t *a = out + 14;

	if (out_size < 42 || vtep >= HV_VX_MAX_VTEPS ||
	    (st->vtep_ip[vtep][0] | st->vtep_ip[vtep][1] | st->vtep_ip[vtep][2] |
	     st->vtep_ip[vtep][3]) == 0)
		return 0;
	memcpy(out, bcast, 6);
	memcpy(out + 6, st->local_mac, 6);
	wr16(out + 12, ETH_P_ARP);
	wr16(a, 1);
	wr16(a + 2, ETH_P_IPV4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, st->local_mac, 6);
	memcpy(a + 14, st->local_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, st->vtep_ip[vtep], 4);
	return 42;
}
