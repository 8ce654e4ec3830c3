/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reply builders: TCP RST and ICMP / ICMPv6 errors sent back to a guest.
 *
 * The original frame is hostile guest input and @m is only as good as the
 * caller's bookkeeping, so the offsets in @m are checked against the frame
 * before they are used, and every byte taken from the frame (VLAN tags, the
 * quoted datagram) comes through frame_bytes(), which returns NULL rather
 * than a pointer to bytes past the frame's end. Every write is checked
 * against @out_size once, up front, against the reply's exact length.
 */
#include <stdbool.h>
#include <string.h>

#include "packet/reply.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd

#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_ICMPV6_ 58

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define IPV4_HDR       20
#define IPV6_HDR       40
#define TCP_HDR	       20
#define ICMP_HDR       8
#define REPLY_TTL      64
#define ICMP4_TOS      0xc0 /* internetwork control, what Linux sends its ICMP errors with */
#define IPV4_DF	       0x4000
#define ICMP6_PTB      2
#define ICMP6_PARM     4
#define ICMP6_REDIRECT 137

/* Bytes [off, off + n) of the frame, or NULL when any of them lies past its end. */
static inline const uint8_t *
frame_bytes(const uint8_t *frame, uint32_t len, uint32_t off, uint32_t n)
{
	if (off > len || n > len - off)
		return NULL;
	return frame + off;
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* RFC 1071 one's-complement sum of @n bytes, added to @sum (not yet folded). */
static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n >= 2; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The sum of the IPv4 (RFC 793) or IPv6 (RFC 8200 8.1) pseudo-header. */
static uint32_t
pseudo_sum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint32_t l4_len)
{
	size_t alen = v6 ? 16 : 4;
	uint32_t sum;

	sum = csum_add(0, src, alen);
	sum = csum_add(sum, dst, alen);
	return sum + proto + (l4_len >> 16) + (l4_len & 0xffff);
}

static bool
ip6_is_zero_upto(const uint8_t *a, unsigned n)
{
	uint8_t acc = 0;

	for (unsigned i = 0; i < n; i++)
		acc |= a[i];
	return acc == 0;
}

/*
 * May @a stand for a single host, as a source? Not IPv4 0/8 ("this host"),
 * 127/8 (loopback: never on a wire), 224/4 (multicast) or 240/4 (class E and
 * the limited broadcast); not IPv6 ::, ::1 or ff00::/8.
 */
static bool
ip_is_host(bool v6, const uint8_t *a)
{
	if (!v6)
		return a[0] != 0 && a[0] != 127 && a[0] < 224;
	if (a[0] == 0xff)
		return false;
	return !ip6_is_zero_upto(a, 15) || (a[15] != 0 && a[15] != 1);
}

/* Is @a an IPv4 multicast, class E or broadcast address, or an IPv6 multicast one? */
static bool
ip_is_group(bool v6, const uint8_t *a)
{
	return v6 ? a[0] == 0xff : a[0] >= 224;
}

/*
 * Checks both builders make of the original, and the reply's L2 header
 * length (0: no reply). @m must agree with the frame about where the IP
 * datagram is, and the whole datagram must lie inside the frame.
 */
static uint32_t
reply_l2_len(uint32_t len, const struct hv_pkt_meta *m)
{
	bool v6 = m->l3 == HV_L3_IPV6;
	uint32_t l2;

	if (m->l3 != HV_L3_IPV4 && m->l3 != HV_L3_IPV6)
		return 0;
	if (m->n_vlans > HV_PKT_MAX_VLANS)
		return 0;
	l2 = 14 + 4u * m->n_vlans;
	if (m->l3_off != l2 || m->l3_len < (v6 ? IPV6_HDR : IPV4_HDR))
		return 0;
	if (m->l3_off > len || m->l3_len > len - m->l3_off)
		return 0;
	/* an answer to a multicast source MAC would go to a group */
	if (hv_mac_is_multicast(m->src_mac) || !ip_is_host(v6, m->src_ip))
		return 0;
	return l2;
}

/*
 * Write the reply's Ethernet header: MACs swapped, the original's VLAN tags
 * (TPID and TCI, outermost first) copied from the frame, then @ethertype.
 * Returns false when the tags are not inside the frame.
 */
static bool
reply_write_l2(uint8_t *out, const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
	       uint16_t ethertype)
{
	uint32_t tags = 4u * m->n_vlans;
	const uint8_t *t = frame_bytes(frame, len, 12, tags);

	if (t == NULL)
		return false;
	memcpy(out, m->src_mac, 6);
	memcpy(out + 6, m->dst_mac, 6);
	memcpy(out + 12, t, tags);
	wr16(out + 12 + tags, ethertype);
	return true;
}

static void
reply_write_ipv4(uint8_t *h, uint8_t tos, uint16_t total, uint8_t proto, const uint8_t *src,
		 const uint8_t *dst)
{
	h[0] = 0x45;
	h[1] = tos;
	wr16(h + 2, total);
	wr16(h + 4, 0); /* ID 0 is fine with DF set (RFC 6864 4.1) */
	wr16(h + 6, IPV4_DF);
	h[8] = REPLY_TTL;
	h[9] = proto;
	wr16(h + 10, 0);
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	wr16(h + 10, csum_fold(csum_add(0, h, IPV4_HDR)));
}

static void
reply_write_ipv6(uint8_t *h, uint16_t plen, uint8_t next, const uint8_t *src, const uint8_t *dst)
{
	wr32(h, 0x60000000); /* version 6, traffic class 0, flow label 0 */
	wr16(h + 4, plen);
	h[6] = next;
	h[7] = REPLY_TTL;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
}

size_t
hv_reply_tcp_rst(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, uint8_t *out,
		 size_t out_size)
{
	bool v6 = m->l3 == HV_L3_IPV6;
	uint32_t l2 = reply_l2_len(len, m), iph = v6 ? IPV6_HDR : IPV4_HDR;
	uint32_t seg_end, payload, seq, ack;
	uint8_t flags, *ip, *th;
	size_t need;

	if (l2 == 0)
		return 0;
	if (m->l4_proto != IPPROTO_TCP_ || !(m->flags & HV_PKT_F_L4) || (m->tcp_flags & TCP_RST))
		return 0;
	/* the RST comes from the original's destination: it must be one host */
	if (hv_mac_is_multicast(m->dst_mac) || !ip_is_host(v6, m->dst_ip))
		return 0;
	seg_end = (uint32_t)m->l3_off + m->l3_len;
	if (m->l4_off < m->l3_off + iph || m->payload_off < m->l4_off + TCP_HDR ||
	    m->payload_off > seg_end)
		return 0;
	payload = seg_end - m->payload_off;
	/* a fragment's length is not the segment's: only an ACK-based RST is exact */
	if ((m->flags & HV_PKT_F_FRAG) && !(m->tcp_flags & TCP_ACK))
		return 0;
	need = l2 + iph + TCP_HDR;
	if (out_size < need)
		return 0;

	if (m->tcp_flags & TCP_ACK) {
		seq = m->tcp_ack;
		ack = 0;
		flags = TCP_RST;
	} else {
		seq = 0;
		ack = m->tcp_seq + payload + !!(m->tcp_flags & TCP_SYN) +
		      !!(m->tcp_flags & TCP_FIN);
		flags = TCP_RST | TCP_ACK;
	}

	if (!reply_write_l2(out, frame, len, m, v6 ? ETH_P_IPV6 : ETH_P_IPV4))
		return 0;
	ip = out + l2;
	th = ip + iph;
	wr16(th, m->dport);
	wr16(th + 2, m->sport);
	wr32(th + 4, seq);
	wr32(th + 8, ack);
	th[12] = (TCP_HDR / 4) << 4;
	th[13] = flags;
	wr16(th + 14, 0); /* window */
	wr16(th + 16, 0); /* checksum, below */
	wr16(th + 18, 0); /* urgent pointer */
	wr16(th + 16,
	     csum_fold(csum_add(pseudo_sum(v6, m->dst_ip, m->src_ip, IPPROTO_TCP_, TCP_HDR), th,
				TCP_HDR)));
	if (v6)
		reply_write_ipv6(ip, TCP_HDR, IPPROTO_TCP_, m->dst_ip, m->src_ip);
	else
		reply_write_ipv4(ip, 0, IPV4_HDR + TCP_HDR, IPPROTO_TCP_, m->dst_ip, m->src_ip);
	return need;
}

static bool
icmp_type_is_error(bool v6, uint8_t type)
{
	if (v6)
		return type >= 1 && type <= 4;
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* RFC 1122 3.2.2, RFC 4443 2.4(e): never answer an ICMP error (or an ICMPv6 redirect). */
static bool
orig_is_icmp_error(bool v6, const struct hv_pkt_meta *m)
{
	if (m->l4_proto != (v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_))
		return false;
	if (!(m->flags & HV_PKT_F_L4))
		return true; /* its type is unknown: assume the worst */
	if (v6)
		return m->icmp_type < 128 || m->icmp_type == ICMP6_REDIRECT;
	switch (m->icmp_type) {
	case 0:	 /* echo reply */
	case 8:	 /* echo */
	case 13: /* timestamp */
	case 14: /* timestamp reply */
	case 15: /* information request */
	case 16: /* information reply */
	case 17: /* address mask request */
	case 18: /* address mask reply */
		return false;
	default:
		return true;
	}
}

size_t
hv_reply_icmp_error(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, uint8_t type,
		    uint8_t code, uint32_t info, const uint8_t *src_ip, uint8_t *out,
		    size_t out_size)
{
	bool v6 = m->l3 == HV_L3_IPV6;
	uint32_t l2 = reply_l2_len(len, m), iph = v6 ? IPV6_HDR : IPV4_HDR;
	uint32_t cap, qlen, msg_len, sum;
	const uint8_t *src, *quote;
	uint8_t *ip, *icmp;
	bool group_ok;
	size_t need;

	if (l2 == 0 || !icmp_type_is_error(v6, type))
		return 0;
	if ((m->flags & HV_PKT_F_FRAG_LATER) || m->frag_off != 0)
		return 0;
	if (orig_is_icmp_error(v6, m))
		return 0;
	/* RFC 4443 2.4(e.3): path MTU discovery works for multicast too */
	group_ok = v6 && (type == ICMP6_PTB || (type == ICMP6_PARM && code == 2));
	if (!group_ok && (hv_mac_is_multicast(m->dst_mac) || ip_is_group(v6, m->dst_ip)))
		return 0;
	src = src_ip != NULL ? src_ip : m->dst_ip;
	if (!ip_is_host(v6, src))
		return 0;

	cap = (v6 ? HV_REPLY_ICMP6_MAX : HV_REPLY_ICMP4_MAX) - iph - ICMP_HDR;
	qlen = m->l3_len < cap ? m->l3_len : cap;
	quote = frame_bytes(frame, len, m->l3_off, qlen);
	if (quote == NULL)
		return 0;
	msg_len = ICMP_HDR + qlen;
	need = l2 + iph + msg_len;
	if (out_size < need)
		return 0;

	if (!reply_write_l2(out, frame, len, m, v6 ? ETH_P_IPV6 : ETH_P_IPV4))
		return 0;
	ip = out + l2;
	icmp = ip + iph;
	icmp[0] = type;
	icmp[1] = code;
	wr16(icmp + 2, 0);
	wr32(icmp + 4, info);
	memcpy(icmp + ICMP_HDR, quote, qlen);
	if (v6) {
		reply_write_ipv6(ip, (uint16_t)msg_len, IPPROTO_ICMPV6_, src, m->src_ip);
		sum = pseudo_sum(true, src, m->src_ip, IPPROTO_ICMPV6_, msg_len);
	} else {
		reply_write_ipv4(ip, ICMP4_TOS, (uint16_t)(iph + msg_len), IPPROTO_ICMP_, src,
				 m->src_ip);
		sum = 0;
	}
	wr16(icmp + 2, csum_fold(csum_add(sum, icmp, msg_len)));
	return need;
}

/* ---- ARP and neighbour discovery: the gateway's answers and questions ---- */

#define ETH_P_ARP    0x0806
#define ARP_LEN	     28
#define ND_MSG_LEN   32 /* NS/NA with one link-layer address option */
#define ND_HOP_LIMIT 255
#define ND_NS	     135
#define ND_NA	     136

/* Ethernet header with explicit MACs, no tags; the length written (14). */
static uint32_t
write_eth(uint8_t *out, const uint8_t *dst, const uint8_t *src, uint16_t ethertype)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	wr16(out + 12, ethertype);
	return 14;
}

static void
write_arp(uint8_t *a, uint16_t op, const uint8_t *sha, const uint8_t *spa, const uint8_t *tha,
	  const uint8_t *tpa)
{
	wr16(a, 1);
	wr16(a + 2, ETH_P_IPV4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, spa, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tpa, 4);
}

/* An NS or NA message with its link-layer address option, checksummed. */
static void
write_nd(uint8_t *ip, uint8_t type, uint32_t flags, const uint8_t *src, const uint8_t *dst,
	 const uint8_t *target, const uint8_t *mac)
{
	uint8_t *icmp = ip + IPV6_HDR;

	reply_write_ipv6(ip, ND_MSG_LEN, IPPROTO_ICMPV6_, src, dst);
	ip[7] = ND_HOP_LIMIT;
	icmp[0] = type;
	icmp[1] = 0;
	wr16(icmp + 2, 0);
	wr32(icmp + 4, flags);
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == ND_NS ? 1 : 2; /* source / target link-layer address */
	icmp[25] = 1;			  /* in units of 8 bytes */
	memcpy(icmp + 26, mac, 6);
	wr16(icmp + 2, csum_fold(csum_add(pseudo_sum(true, src, dst, IPPROTO_ICMPV6_, ND_MSG_LEN),
					  icmp, ND_MSG_LEN)));
}

size_t
hv_reply_arp(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, const uint8_t mac[6],
	     uint8_t *out, size_t out_size)
{
	uint32_t l2 = 14 + 4u * m->n_vlans;
	const uint8_t *a, *tags;

	if (m->l3 != HV_L3_ARP || m->arp_op != 1 || m->n_vlans > HV_PKT_MAX_VLANS ||
	    m->l3_off != l2)
		return 0;
	a = frame_bytes(frame, len, l2, ARP_LEN);
	tags = frame_bytes(frame, len, 12, 4u * m->n_vlans);
	if (a == NULL || tags == NULL || hv_mac_is_multicast(m->src_mac) ||
	    hv_mac_is_multicast(mac) || !ip_is_host(false, a + 14) || out_size < l2 + ARP_LEN)
		return 0;
	memcpy(out, m->src_mac, 6);
	memcpy(out + 6, mac, 6);
	memcpy(out + 12, tags, 4u * m->n_vlans);
	wr16(out + 12 + 4u * m->n_vlans, ETH_P_ARP);
	/* the asked-for address is ours; the asker learns it from our answer */
	write_arp(out + l2, 2, mac, a + 24, a + 8, a + 14);
	return l2 + ARP_LEN;
}

size_t
hv_reply_nd_na(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
	       const uint8_t mac[6], bool router, uint8_t *out, size_t out_size)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	uint32_t l2 = 14 + 4u * m->n_vlans;
	uint8_t target[16];
	const uint8_t *tags, *dst;
	bool dad;
	uint32_t flags;

	if (m->icmp_type != ND_NS || m->n_vlans > HV_PKT_MAX_VLANS || m->l3_off != l2 ||
	    !hv_pkt_nd_target(frame, len, m, target))
		return 0;
	tags = frame_bytes(frame, len, 12, 4u * m->n_vlans);
	if (tags == NULL || hv_mac_is_multicast(m->src_mac) || hv_mac_is_multicast(mac) ||
	    !ip_is_host(true, target) || out_size < l2 + IPV6_HDR + ND_MSG_LEN)
		return 0;
	/* RFC 4861 7.2.4: a solicitation from :: (duplicate address detection) is
	 * answered to all-nodes, without the solicited flag */
	dad = ip6_is_zero_upto(m->src_ip, 16);
	if (!dad && !ip_is_host(true, m->src_ip))
		return 0;
	dst = dad ? all_nodes : m->src_ip;
	memcpy(out, dad ? all_nodes_mac : m->src_mac, 6);
	memcpy(out + 6, mac, 6);
	memcpy(out + 12, tags, 4u * m->n_vlans);
	wr16(out + 12 + 4u * m->n_vlans, ETH_P_IPV6);
	flags = (router ? 0x80000000u : 0) | (dad ? 0 : 0x40000000u) | 0x20000000u;
	write_nd(out + l2, ND_NA, flags, target, dst, target, mac);
	return l2 + IPV6_HDR + ND_MSG_LEN;
}

size_t
hv_reply_arp_request(const uint8_t mac[6], const uint8_t spa[4], const uint8_t tpa[4], uint8_t *out,
		     size_t out_size)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[6];

	if (out_size < 14 + ARP_LEN || hv_mac_is_multicast(mac))
		return 0;
	write_eth(out, bcast, mac, ETH_P_ARP);
	write_arp(out + 14, 1, mac, spa, zero, tpa);
	return 14 + ARP_LEN;
}

size_t
hv_reply_nd_ns(const uint8_t mac[6], const uint8_t src[16], const uint8_t target[16], uint8_t *out,
	       size_t out_size)
{
	uint8_t dst[16] = {0xff, 0x02, [11] = 1, [12] = 0xff};
	uint8_t dmac[6] = {0x33, 0x33, 0xff};

	if (out_size < 14 + IPV6_HDR + ND_MSG_LEN || hv_mac_is_multicast(mac) ||
	    !ip_is_host(true, target) || !ip_is_host(true, src))
		return 0;
	/* the target's solicited-node multicast group (RFC 4291 2.7.1) */
	memcpy(dst + 13, target + 13, 3);
	memcpy(dmac + 3, target + 13, 3);
	write_eth(out, dmac, mac, ETH_P_IPV6);
	write_nd(out + 14, ND_NS, 0, src, dst, target, mac);
	return 14 + IPV6_HDR + ND_MSG_LEN;
}

#define ND_RS	      133
#define ND_RA	      134
#define RA_LIFETIME   1800  /* s: router lifetime (RFC 4861 default: 3 x MaxRtrAdvInterval) */
#define RA_VALID      86400 /* s: prefix valid lifetime */
#define RA_PREFERRED  14400 /* s: prefix preferred lifetime */
#define RA_FIXED      16    /* ICMPv6 header and RA fields */
#define RA_PREFIX_OPT 32

size_t
hv_reply_nd_ra(const uint8_t mac[6], const uint8_t src[16], const uint8_t dst[16],
	       const uint8_t dst_mac[6], const uint8_t (*prefixes)[16], const uint8_t *plens,
	       unsigned n, uint8_t *out, size_t out_size)
{
	uint32_t msg_len = RA_FIXED + 8 + RA_PREFIX_OPT * n;
	uint8_t *ip = out + 14, *icmp = out + 14 + IPV6_HDR, *o;

	if (n > HV_REPLY_RA_MAX_PREFIXES || out_size < 14 + IPV6_HDR + msg_len ||
	    hv_mac_is_multicast(mac) || src[0] != 0xfe || (src[1] & 0xc0) != 0x80)
		return 0;
	write_eth(out, dst_mac, mac, ETH_P_IPV6);
	reply_write_ipv6(ip, (uint16_t)msg_len, IPPROTO_ICMPV6_, src, dst);
	ip[7] = ND_HOP_LIMIT;
	memset(icmp, 0, msg_len);
	icmp[0] = ND_RA;
	icmp[4] = REPLY_TTL; /* current hop limit for the hosts */
	icmp[5] = 0;	     /* no DHCPv6: the file assigns addresses */
	wr16(icmp + 6, RA_LIFETIME);
	o = icmp + RA_FIXED;
	o[0] = 1; /* source link-layer address */
	o[1] = 1;
	memcpy(o + 2, mac, 6);
	o += 8;
	for (unsigned i = 0; i < n; i++, o += RA_PREFIX_OPT) {
		o[0] = 3; /* prefix information */
		o[1] = 4;
		o[2] = plens[i];
		o[3] = 0x80; /* on-link; not autonomous: no SLAAC addresses */
		wr32(o + 4, RA_VALID);
		wr32(o + 8, RA_PREFERRED);
		memcpy(o + 16, prefixes[i], 16);
	}
	wr16(icmp + 2, csum_fold(csum_add(pseudo_sum(true, src, dst, IPPROTO_ICMPV6_, msg_len),
					  icmp, msg_len)));
	return 14 + IPV6_HDR + msg_len;
}

size_t
hv_reply_icmp_echo(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, uint8_t *out,
		   size_t out_size)
{
	bool v6 = m->l3 == HV_L3_IPV6;
	uint32_t l2 = reply_l2_len(len, m), iph = v6 ? IPV6_HDR : IPV4_HDR;
	uint32_t msg_len, sum;
	const uint8_t *msg;
	uint8_t *ip, *icmp;

	if (l2 == 0 || !(m->flags & HV_PKT_F_L4) || (m->flags & HV_PKT_F_FRAG) ||
	    m->l4_proto != (v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_) ||
	    m->icmp_type != (v6 ? 128 : 8) || m->icmp_code != 0)
		return 0;
	if (hv_mac_is_multicast(m->dst_mac) || ip_is_group(v6, m->dst_ip) ||
	    !ip_is_host(v6, m->dst_ip))
		return 0;
	/* the message runs from the ICMP header to the end of the IP packet */
	if (m->l4_off < m->l3_off + iph || m->l4_off - m->l3_off > m->l3_len)
		return 0;
	msg_len = m->l3_len - (m->l4_off - m->l3_off);
	msg = frame_bytes(frame, len, m->l4_off, msg_len);
	if (msg == NULL || msg_len < ICMP_HDR || out_size < l2 + iph + msg_len)
		return 0;
	if (!reply_write_l2(out, frame, len, m, v6 ? ETH_P_IPV6 : ETH_P_IPV4))
		return 0;
	ip = out + l2;
	icmp = ip + iph;
	memcpy(icmp, msg, msg_len);
	icmp[0] = v6 ? 129 : 0;
	wr16(icmp + 2, 0);
	if (v6) {
		reply_write_ipv6(ip, (uint16_t)msg_len, IPPROTO_ICMPV6_, m->dst_ip, m->src_ip);
		sum = pseudo_sum(true, m->dst_ip, m->src_ip, IPPROTO_ICMPV6_, msg_len);
	} else {
		reply_write_ipv4(ip, 0, (uint16_t)(iph + msg_len), IPPROTO_ICMP_, m->dst_ip,
				 m->src_ip);
		sum = 0;
	}
	wr16(icmp + 2, csum_fold(csum_add(sum, icmp, msg_len)));
	return l2 + iph + msg_len;
}
