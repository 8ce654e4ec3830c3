/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The frame parser: Ethernet, up to two VLAN tags, ARP, IPv4 (with options),
 * IPv6 (with a bounded extension header walk), TCP, UDP, ICMP, ICMPv6.
 *
 * Every read goes through struct cursor: pull() hands out a pointer to the
 * next n bytes only if all n are inside the current limit, else NULL. The
 * limit starts at the frame's end and shrinks to the IP datagram's end once
 * the IP length is known, so Ethernet padding is never parsed as payload.
 *
 * What is not checked, on purpose: IP and L4 checksums (the kernel of the
 * receiving guest checks them; a switch forwarding a frame with a bad
 * checksum is what a wire would do), TCP option contents, and the payload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "packet/packet.h"

#define ETH_P_IPV4   0x0800
#define ETH_P_ARP    0x0806
#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ   0x9100
#define ETH_P_IPV6   0x86dd

#define IPPROTO_HOPOPTS_  0
#define IPPROTO_ICMP_	  1
#define IPPROTO_TCP_	  6
#define IPPROTO_UDP_	  17
#define IPPROTO_ROUTING_  43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_	  51
#define IPPROTO_ICMPV6_	  58
#define IPPROTO_NONE_	  59
#define IPPROTO_DSTOPTS_  60

struct cursor {
	const uint8_t *data;
	uint32_t off;
	uint32_t end; /* reads stop here: the frame's end, then the datagram's */
};

static inline const uint8_t *
pull(struct cursor *c, uint32_t n)
{
	const uint8_t *p;

	if (n > c->end - c->off)
		return NULL;
	p = c->data + c->off;
	c->off += n;
	return p;
}

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline __attribute__((always_inline)) enum hv_drop_reason
parse_arp(struct cursor *c, struct hv_pkt_meta *m)
{
	const uint8_t *a;

	m->l3 = HV_L3_ARP;
	m->l3_off = (uint16_t)c->off;
	a = pull(c, 28);
	if (a == NULL)
		return HV_DROP_ARP_TRUNCATED;
	/* Ethernet hardware, IPv4 protocol, the lengths those imply */
	if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IPV4 || a[4] != 6 || a[5] != 4)
		return HV_DROP_ARP_MALFORMED;
	m->l3_len = 28;
	m->arp_op = (uint8_t)(rd16(a + 6) > 0xff ? 0xff : rd16(a + 6));
	memcpy(m->src_ip, a + 14, 4);
	memcpy(m->dst_ip, a + 24, 4);
	return HV_DROP_NONE;
}

static inline __attribute__((always_inline)) enum hv_drop_reason
parse_l4(struct cursor *c, struct hv_pkt_meta *m, bool v6)
{
	const uint8_t *h;

	m->l4_off = (uint16_t)c->off;
	switch (m->l4_proto) {
	case IPPROTO_TCP_: {
		uint32_t doff;

		h = pull(c, 20);
		if (h == NULL)
			return HV_DROP_TCP_TRUNCATED;
		doff = (uint32_t)(h[12] >> 4) * 4;
		if (doff < 20 || pull(c, doff - 20) == NULL)
			return HV_DROP_TCP_BAD_DOFF;
		m->sport = rd16(h);
		m->dport = rd16(h + 2);
		m->tcp_seq = rd32(h + 4);
		m->tcp_ack = rd32(h + 8);
		m->tcp_flags = h[13];
		m->tcp_win = rd16(h + 14);
		break;
	}
	case IPPROTO_UDP_: {
		uint16_t ulen;

		h = pull(c, 8);
		if (h == NULL)
			return HV_DROP_UDP_TRUNCATED;
		ulen = rd16(h + 4);
		/* a first fragment holds only part of the datagram the length covers */
		if (ulen < 8 || (!(m->flags & HV_PKT_F_FRAG) && ulen - 8u > c->end - c->off))
			return HV_DROP_UDP_BAD_LEN;
		m->sport = rd16(h);
		m->dport = rd16(h + 2);
		break;
	}
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		if ((m->l4_proto == IPPROTO_ICMPV6_) != v6)
			return HV_DROP_NONE; /* ICMP in IPv6 or ICMPv6 in IPv4: opaque */
		h = pull(c, 8);
		if (h == NULL)
			return v6 ? HV_DROP_ICMP6_TRUNCATED : HV_DROP_ICMP_TRUNCATED;
		m->icmp_type = h[0];
		m->icmp_code = h[1];
		/* echo request/reply: the identifier stands for both ports */
		if ((!v6 && (h[0] == 8 || h[0] == 0)) || (v6 && (h[0] == 128 || h[0] == 129)))
			m->sport = m->dport = rd16(h + 4);
		break;
	default:
		return HV_DROP_NONE; /* a protocol hvnet does not look into */
	}
	m->flags |= HV_PKT_F_L4;
	m->payload_off = (uint16_t)c->off;
	return HV_DROP_NONE;
}

/* Walk IPv4 options: EOL ends, NOP is one byte, others are TLVs of length >= 2. */
static inline bool
ipv4_options_valid(const uint8_t *o, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		if (o[i] == 0)
			return true;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (n - i < 2 || o[i + 1] < 2 || o[i + 1] > n - i)
			return false;
		i += o[i + 1];
	}
	return true;
}

static inline __attribute__((always_inline)) enum hv_drop_reason
parse_ipv4(struct cursor *c, struct hv_pkt_meta *m)
{
	uint32_t start = c->off, ihl, total;
	const uint8_t *h;
	uint16_t frag;

	m->l3 = HV_L3_IPV4;
	m->l3_off = (uint16_t)start;
	h = pull(c, 20);
	if (h == NULL)
		return HV_DROP_IPV4_TRUNCATED;
	if (h[0] >> 4 != 4)
		return HV_DROP_IPV4_BAD_VERSION;
	ihl = (uint32_t)(h[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > c->end - start)
		return HV_DROP_IPV4_BAD_IHL;
	total = rd16(h + 2);
	if (total < ihl || total > c->end - start)
		return HV_DROP_IPV4_BAD_TOTAL_LEN;
	c->end = start + total; /* what follows is Ethernet padding */
	m->l3_len = (uint16_t)total;
	m->ttl = h[8];
	m->l4_proto = h[9];
	memcpy(m->src_ip, h + 12, 4);
	memcpy(m->dst_ip, h + 16, 4);
	if (ihl > 20) {
		const uint8_t *opt = pull(c, ihl - 20);

		m->flags |= HV_PKT_F_IP_OPTIONS;
		if (opt == NULL || !ipv4_options_valid(opt, ihl - 20))
			return HV_DROP_IPV4_BAD_OPTIONS;
	}
	frag = rd16(h + 6);
	if (frag & 0x3fff) { /* MF, or a non-zero offset */
		uint32_t off = (uint32_t)(frag & 0x1fff) * 8;

		m->flags |= HV_PKT_F_FRAG;
		m->frag_off = (uint16_t)off;
		if (off + (total - ihl) > 65535)
			return HV_DROP_IPV4_BAD_FRAGMENT;
		/* RFC 1858: an offset of 8 bytes can only rewrite the TCP flags */
		if (off == 8 && m->l4_proto == IPPROTO_TCP_)
			return HV_DROP_IPV4_BAD_FRAGMENT;
		if (off != 0) {
			m->flags |= HV_PKT_F_FRAG_LATER;
			m->l4_off = (uint16_t)c->off;
			return HV_DROP_NONE;
		}
	}
	return parse_l4(c, m, false);
}

static inline __attribute__((always_inline)) enum hv_drop_reason
parse_ipv6(struct cursor *c, struct hv_pkt_meta *m)
{
	uint32_t start = c->off, plen;
	const uint8_t *h;
	uint8_t next;
	bool seen_frag = false;

	m->l3 = HV_L3_IPV6;
	m->l3_off = (uint16_t)start;
	h = pull(c, 40);
	if (h == NULL)
		return HV_DROP_IPV6_TRUNCATED;
	if (h[0] >> 4 != 6)
		return HV_DROP_IPV6_BAD_VERSION;
	plen = rd16(h + 4);
	if (plen > c->end - c->off)
		return HV_DROP_IPV6_BAD_PAYLOAD_LEN;
	c->end = c->off + plen;
	m->l3_len = (uint16_t)(40 + plen);
	m->ttl = h[7];
	memcpy(m->src_ip, h + 8, 16);
	memcpy(m->dst_ip, h + 24, 16);
	next = h[6];

	for (unsigned n = 0;; n++) {
		const uint8_t *e;
		uint32_t len;

		switch (next) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_:
		case IPPROTO_FRAGMENT_:
			break;
		default:
			m->l4_proto = next;
			if (next == IPPROTO_NONE_)
				return HV_DROP_NONE;
			return parse_l4(c, m, true);
		}
		if (n == HV_PKT_MAX_IPV6_EXT)
			return HV_DROP_IPV6_EXT_TOO_MANY;
		m->flags |= HV_PKT_F_IPV6_EXT;
		/* hop-by-hop options may only come first (RFC 8200 4.1) */
		if (next == IPPROTO_HOPOPTS_ && n != 0)
			return HV_DROP_IPV6_EXT_MALFORMED;
		e = pull(c, 8);
		if (e == NULL)
			return HV_DROP_IPV6_EXT_TRUNCATED;
		if (next == IPPROTO_FRAGMENT_) {
			uint16_t fo = rd16(e + 2);

			if (seen_frag)
				return HV_DROP_IPV6_EXT_MALFORMED;
			seen_frag = true;
			if (e[1] != 0 &&
			    e[1] != 0xff) /* reserved byte; 0xff tolerated by RFC 6946 */
				return HV_DROP_IPV6_BAD_FRAGMENT;
			m->flags |= HV_PKT_F_FRAG;
			m->frag_off = (uint16_t)(fo & 0xfff8);
			if (m->frag_off != 0) {
				m->flags |= HV_PKT_F_FRAG_LATER;
				m->l4_proto = e[0];
				m->l4_off = (uint16_t)c->off;
				return HV_DROP_NONE;
			}
			/* a first fragment, or an atomic one (RFC 6946): the L4 header follows */
			next = e[0];
			continue;
		}
		len = next == IPPROTO_AH_ ? ((uint32_t)e[1] + 2) * 4 : ((uint32_t)e[1] + 1) * 8;
		if (pull(c, len - 8) == NULL)
			return HV_DROP_IPV6_EXT_TRUNCATED;
		next = e[0];
	}
}

enum hv_drop_reason
hv_pkt_parse(const uint8_t *data, uint32_t len, struct hv_pkt_meta *m)
{
	/* offsets in hv_pkt_meta are 16 bits: a longer buffer is read on its first 64 KiB */
	struct cursor c = {.data = data, .off = 0, .end = len > UINT16_MAX ? UINT16_MAX : len};
	const uint8_t *h;
	uint16_t type;

	memset(m, 0, sizeof(*m));
	h = pull(&c, 14);
	if (h == NULL)
		return HV_DROP_ETH_TRUNCATED;
	memcpy(m->dst_mac, h, 6);
	memcpy(m->src_mac, h + 6, 6);
	if (hv_mac_is_multicast(m->dst_mac)) {
		m->flags |= HV_PKT_F_DST_MCAST;
		if ((h[0] & h[1] & h[2] & h[3] & h[4] & h[5]) == 0xff)
			m->flags |= HV_PKT_F_DST_BCAST;
	}
	type = rd16(h + 12);
	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ) {
		const uint8_t *tag;

		m->flags |= HV_PKT_F_VLAN;
		if (m->n_vlans == HV_PKT_MAX_VLANS) {
			m->ethertype = type;
			return HV_DROP_VLAN_TOO_DEEP;
		}
		tag = pull(&c, 4);
		if (tag == NULL) {
			m->ethertype = type;
			return HV_DROP_VLAN_TRUNCATED;
		}
		m->vlan_tci[m->n_vlans++] = rd16(tag);
		type = rd16(tag + 2);
	}
	m->ethertype = type;
	switch (type) {
	case ETH_P_ARP:
		return parse_arp(&c, m);
	case ETH_P_IPV4:
		return parse_ipv4(&c, m);
	case ETH_P_IPV6:
		return parse_ipv6(&c, m);
	default:
		m->l3_off = (uint16_t)c.off;
		return HV_DROP_NONE;
	}
}

static int
fmt_mac(char *b, size_t n, const uint8_t *a)
{
	return snprintf(b, n, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
}

static const char *
fmt_ip(const struct hv_pkt_meta *m, const uint8_t *a, char *b, size_t n)
{
	return inet_ntop(m->l3 == HV_L3_IPV6 ? AF_INET6 : AF_INET, a, b, (socklen_t)n) ? b : "?";
}

int
hv_pkt_format(const struct hv_pkt_meta *m, char *buf, size_t size)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], smac[18], dmac[18];
	size_t n = 0;
	int w;

#define APPEND(...)                                                                              \
	do {                                                                                     \
		w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, __VA_ARGS__); \
		if (w > 0)                                                                       \
			n += (size_t)w;                                                          \
	} while (0)

	fmt_mac(smac, sizeof(smac), m->src_mac);
	fmt_mac(dmac, sizeof(dmac), m->dst_mac);
	APPEND("%s > %s", smac, dmac);
	for (unsigned i = 0; i < m->n_vlans && i < HV_PKT_MAX_VLANS; i++)
		APPEND(" vlan %u", m->vlan_tci[i] & 0x0fff);
	switch (m->l3) {
	case HV_L3_ARP:
		fmt_ip(m, m->src_ip, s, sizeof(s));
		fmt_ip(m, m->dst_ip, d, sizeof(d));
		if (m->arp_op == 1)
			APPEND(" arp who-has %s tell %s", d, s);
		else if (m->arp_op == 2)
			APPEND(" arp reply %s", s);
		else
			APPEND(" arp op %u", m->arp_op);
		break;
	case HV_L3_IPV4:
	case HV_L3_IPV6:
		fmt_ip(m, m->src_ip, s, sizeof(s));
		fmt_ip(m, m->dst_ip, d, sizeof(d));
		APPEND(" %s %s > %s", m->l3 == HV_L3_IPV4 ? "ip" : "ip6", s, d);
		if (m->flags & HV_PKT_F_FRAG)
			APPEND(" frag off %u%s", m->frag_off,
			       m->flags & HV_PKT_F_FRAG_LATER ? "" : " (first)");
		if (!(m->flags & HV_PKT_F_L4))
			APPEND(" proto %u", m->l4_proto);
		else if (m->l4_proto == 6)
			APPEND(" tcp %u > %u flags 0x%02x seq %u ack %u win %u", m->sport, m->dport,
			       m->tcp_flags, m->tcp_seq, m->tcp_ack, m->tcp_win);
		else if (m->l4_proto == 17)
			APPEND(" udp %u > %u", m->sport, m->dport);
		else
			APPEND(" %s type %u code %u", m->l4_proto == 1 ? "icmp" : "icmp6",
			       m->icmp_type, m->icmp_code);
		APPEND(" ttl %u len %u", m->ttl, m->l3_len);
		break;
	default:
		APPEND(" ethertype 0x%04x", m->ethertype);
		break;
	}
#undef APPEND
	return (int)n;
}

/* ---- fields the gateway reads, and the one header field it writes ---- */

const uint8_t *
hv_pkt_arp_sha(const uint8_t *data, uint32_t len, const struct hv_pkt_meta *m)
{
	if (m->l3 != HV_L3_ARP || m->l3_off > len || len - m->l3_off < 28)
		return NULL;
	return data + m->l3_off + 8;
}

bool
hv_pkt_nd_target(const uint8_t *data, uint32_t len, const struct hv_pkt_meta *m, uint8_t target[16])
{
	uint32_t end;

	if (m->l3 != HV_L3_IPV6 || m->l4_proto != 58 || !(m->flags & HV_PKT_F_L4) ||
	    (m->flags & HV_PKT_F_FRAG))
		return false;
	if ((m->icmp_type != 135 && m->icmp_type != 136) || m->icmp_code != 0 || m->ttl != 255)
		return false;
	/* the message must hold its 24 bytes both in the frame and in the IPv6 payload */
	end = (uint32_t)m->l3_off + m->l3_len;
	if (end > len || m->l4_off > end || end - m->l4_off < 24)
		return false;
	memcpy(target, data + m->l4_off + 8, 16);
	return true;
}

int
hv_pkt_ttl_dec(uint8_t *data, uint32_t len, const struct hv_pkt_meta *m)
{
	uint8_t *h;

	if (m->l3 == HV_L3_IPV6) {
		if (m->l3_off > len || len - m->l3_off < 40)
			return -EINVAL;
		h = data + m->l3_off;
		if (h[7] <= 1)
			return -EINVAL;
		h[7]--;
		return 0;
	}
	if (m->l3 != HV_L3_IPV4 || m->l3_off > len || len - m->l3_off < 20)
		return -EINVAL;
	h = data + m->l3_off;
	if (h[8] <= 1)
		return -EINVAL;
	/*
	 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). The TTL is the high byte of
	 * the 16-bit word it shares with the protocol, so m' = m - 0x0100.
	 */
	{
		uint32_t old = (uint32_t)h[8] << 8 | h[9];
		uint32_t new = old - 0x0100;
		uint32_t sum = (uint16_t) ~((uint32_t)h[10] << 8 | h[11]);

		sum += (uint16_t)~old;
		sum += new;
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		sum = (uint16_t)~sum;
		h[8]--;
		h[10] = (uint8_t)(sum >> 8);
		h[11] = (uint8_t)sum;
	}
	return 0;
}

void
hv_pkt_ll6_of_mac(const uint8_t mac[6], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}
