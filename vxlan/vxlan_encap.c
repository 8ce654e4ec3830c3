/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transmit side of the overlay: the outer headers of a frame for a remote
 * VTEP, the flow hash behind the outer source port, and the ARP requests
 * that resolve a VTEP's underlay MAC. Fast path: no allocation, no locks, no
 * logging.
 */
#include <string.h>

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

static inline uint64_t
ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t
ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * The UDP checksum of the datagram at UDP (ULEN bytes) inside the IPv4
 * header IP, in network order as it is stored, 0 sent as 0xffff. The same
 * value as rte_ipv4_udptcp_cksum(), which adds 16-bit words one at a time;
 * this adds 32-bit halves of 64-bit loads into a 64-bit sum and folds once
 * at the end (RFC 1071: a ones' complement sum may be taken over any word
 * size and in either byte order), several times faster over a frame.
 */
static uint16_t
udp_cksum(const uint8_t *ip, const uint8_t *udp, uint32_t ulen)
{
	const uint8_t *p = udp;
	uint32_t n = ulen;
	uint64_t s;

	/* the pseudo header: addresses, protocol and length, as stored */
	s = (uint64_t)ld32(ip + 12) + ld32(ip + 16) + rte_cpu_to_be_16(17) +
	    rte_cpu_to_be_16((uint16_t)ulen);
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w = ld64(p);

		s += (w & 0xffffffffu) + (w >> 32);
	}
	if (n >= 4) {
		s += ld32(p);
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		s += h;
		p += 2;
		n -= 2;
	}
	if (n != 0) {
		uint16_t h = 0;

		memcpy(&h, p, 1); /* the odd byte, padded with zero, in storage order */
		s += h;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = ~s & 0xffff;
	return s == 0 ? 0xffff : (uint16_t)s;
}

uint16_t
hv_vx_flow_port(const struct hv_pkt_meta *m)
{
	/*
	 * What identifies the flow, as 64-bit words, each multiplied by its own
	 * odd constant and summed; the top bits of the sum depend on every input
	 * bit. An ECMP spread needs no more, and this costs a few cycles where a
	 * byte-wise hash over the same 25-49 bytes cost tens.
	 */
	uint64_t h = ld64(m->dst_mac) * 0x9e3779b97f4a7c15ull +
		     (uint64_t)ld32(m->src_mac + 2) * 0xc2b2ae3d27d4eb4full;

	if (m->l3 == HV_L3_IPV4) {
		h += ((uint64_t)ld32(m->src_ip) << 32 | ld32(m->dst_ip)) * 0x165667b19e3779f9ull;
	} else if (m->l3 == HV_L3_IPV6) {
		h += (ld64(m->src_ip) ^ ld64(m->dst_ip + 8)) * 0x165667b19e3779f9ull;
		h += (ld64(m->src_ip + 8) ^ ld64(m->dst_ip) >> 1) * 0xd6e8feb86659fd93ull;
	}
	if (m->l3 == HV_L3_IPV4 || m->l3 == HV_L3_IPV6) {
		uint64_t l4 = m->l4_proto;

		if (m->flags & HV_PKT_F_L4)
			l4 |= (uint64_t)m->sport << 8 | (uint64_t)m->dport << 24;
		h += (l4 + 1) * 0x27d4eb2f165667c5ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint16_t)(49152 + (h >> 50)); /* the top 14 bits: 49152-65535 */
}

void
hv_vx_hdr_init(struct hv_vx_state *st)
{
	uint8_t *b = st->hdr, *ip = b + 14, *udp = b + 34;

	memset(b, 0, sizeof(st->hdr));
	memcpy(b + 6, st->local_mac, 6);
	wr16(b + 12, ETH_P_IPV4);
	ip[0] = 0x45;
	wr16(ip + 6, IPV4_DF); /* ID 0: DF is set, the packet is never fragmented (RFC 6864) */
	ip[8] = st->ttl;
	ip[9] = 17;
	memcpy(ip + 12, st->local_ip, 4);
	wr16(udp + 2, st->udp_port);
	b[42] = 0x08; /* VXLAN: I, the VNI is valid */
	st->hdr_ip_sum = 0;
	for (unsigned i = 0; i < 20; i += 2)
		st->hdr_ip_sum += (uint32_t)ip[i] << 8 | ip[i + 1];
}

enum hv_drop_reason
hv_vx_encap(const struct hv_vx_state *st, uint16_t vtep, uint32_t vni, uint16_t sport, uint8_t *buf,
	    uint32_t inner_len)
{
	uint8_t *ip = buf + 14, *udp = buf + 34, *vx = buf + 42;
	const uint8_t *dst;
	uint32_t ulen = 8 + 8 + inner_len, s;
	uint64_t mac;
	uint16_t c;

	if (inner_len > 65535 - 20 - 8 - 8) /* the outer IPv4 total length */
		return HV_DROP_VXLAN_TOO_BIG;
	if (vtep >= HV_VX_MAX_VTEPS)
		return HV_DROP_VXLAN_NO_NEIGHBOUR;
	mac = __atomic_load_n(&st->neigh[vtep].mac, __ATOMIC_RELAXED);
	if (!(mac & HV_VX_NEIGH_VALID))
		return HV_DROP_VXLAN_NO_NEIGHBOUR;
	/*
	 * The fixed part in a few wide stores, then the fields of this frame.
	 * The IPv4 checksum is summed from the values, not read back from the
	 * header: loads of bytes just stored one or two at a time wait until
	 * the stores drain (no store-to-load forwarding), which a profile put
	 * at a third of this function's time.
	 */
	memcpy(buf, st->hdr, HV_VX_HDR_LEN);
	for (int i = 0; i < 6; i++)
		buf[i] = (uint8_t)(mac >> (8 * (5 - i)));
	dst = st->vtep_ip[vtep];
	memcpy(ip + 16, dst, 4);
	wr16(ip + 2, (uint16_t)(20 + ulen));
	s = st->hdr_ip_sum + 20 + ulen + ((uint32_t)dst[0] << 8 | dst[1]) +
	    ((uint32_t)dst[2] << 8 | dst[3]);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	c = s == 0xffff ? (uint16_t)s : (uint16_t)~s; /* as before: a sum of all ones stays */
	wr16(ip + 10, c);
	wr16(udp, sport);
	wr16(udp + 4, (uint16_t)ulen);
	vx[4] = (uint8_t)(vni >> 16);
	vx[5] = (uint8_t)(vni >> 8);
	vx[6] = (uint8_t)vni;
	/*
	 * The UDP checksum is 0 unless the overlay block says `udp-checksum yes`
	 * (RFC 7348 5: it SHOULD be sent as 0; Linux's udpcsum and OVS's csum
	 * are off unless asked for). Else the pseudo header, UDP and VXLAN
	 * headers and the inner frame, a sum of 0 sent as 0xffff; computed here:
	 * left to a vhost-user uplink as a partial checksum it cost more
	 * (bench/RESULTS.md), and no other uplink kind offers the offload.
	 */
	if (st->udp_csum) {
		c = udp_cksum(ip, udp, ulen);
		memcpy(udp + 6, &c, 2);
	}
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
