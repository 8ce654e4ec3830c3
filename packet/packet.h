/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_PACKET_H
#define HV_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/drop.h"

/*
 * Per-packet metadata and the frame parser.
 *
 * The parser reads a frame through one bounds-checked cursor over
 * (data, len) and never reads a byte at or past data + len. It does not
 * depend on DPDK, so that hvnetctl, the fuzzers and the unit tests can use it;
 * the datapath calls it on the first segment of an mbuf (hvnet never receives
 * chained mbufs on its software ports; a chained mbuf is parsed on its first
 * segment only, which can only make it look shorter, never longer).
 *
 * All multi-byte fields in struct hv_pkt_meta are in host byte order unless
 * the name ends in _be. Addresses are kept as raw bytes, in network order.
 */

#define HV_PKT_MAX_VLANS    2 /* 802.1Q, or 802.1ad + 802.1Q */
#define HV_PKT_MAX_IPV6_EXT 8 /* extension headers walked before giving up */

enum hv_l3 {
	HV_L3_NONE = 0, /* an ethertype hvnet does not parse (LLDP, STP via LLC...) */
	HV_L3_ARP,
	HV_L3_IPV4,
	HV_L3_IPV6,
};

/* hv_pkt_meta.flags */
#define HV_PKT_F_VLAN	    (1u << 0) /* at least one VLAN tag */
#define HV_PKT_F_IP_OPTIONS (1u << 1) /* IPv4 options present */
#define HV_PKT_F_FRAG	    (1u << 2) /* IPv4/IPv6 fragment (first or later) */
#define HV_PKT_F_FRAG_LATER (1u << 3) /* non-first fragment: no L4 header */
#define HV_PKT_F_L4	    (1u << 4) /* l4 fields (ports / icmp type) are valid */
#define HV_PKT_F_DST_BCAST  (1u << 5) /* destination MAC ff:ff:ff:ff:ff:ff */
#define HV_PKT_F_DST_MCAST  (1u << 6) /* destination MAC multicast (incl. broadcast) */
#define HV_PKT_F_IPV6_EXT   (1u << 7) /* IPv6 extension headers present */

struct hv_pkt_meta {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint16_t ethertype;		     /* innermost, after any VLAN tags */
	uint16_t vlan_tci[HV_PKT_MAX_VLANS]; /* outermost first */
	uint8_t n_vlans;
	uint8_t l3;	      /* enum hv_l3 */
	uint8_t l4_proto;     /* IP protocol / IPv6 next header of the L4 (after ext headers) */
	uint8_t ttl;	      /* IPv4 TTL or IPv6 hop limit */
	uint16_t flags;	      /* HV_PKT_F_* */
	uint16_t l3_off;      /* offset of the ARP/IP header from the frame start */
	uint16_t l4_off;      /* offset of the L4 header (valid with HV_PKT_F_L4 or a fragment) */
	uint16_t l3_len;      /* IPv4 total length / 40 + IPv6 payload length; ARP: 28 */
	uint16_t payload_off; /* offset of the L4 payload (valid with HV_PKT_F_L4) */
	uint8_t src_ip[16];   /* IPv4 in the first 4 bytes; ARP: sender protocol address */
	uint8_t dst_ip[16];   /* IPv4 in the first 4 bytes; ARP: target protocol address */
	uint16_t sport;	      /* TCP/UDP; ICMP echo: identifier */
	uint16_t dport;	      /* TCP/UDP; ICMP echo: identifier too, so flows are symmetric */
	uint8_t icmp_type;    /* ICMP / ICMPv6 */
	uint8_t icmp_code;
	uint8_t tcp_flags; /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ... */
	uint8_t arp_op;	   /* ARP opcode (1 request, 2 reply) when l3 == HV_L3_ARP */
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint16_t tcp_win;
	uint16_t frag_off; /* fragment offset in bytes (IPv4 and IPv6) */
};

/*
 * Parse the frame @data of @len bytes into @m (which is fully overwritten).
 *
 * Returns HV_DROP_NONE when the frame is well formed as far as hvnet reads it,
 * else the named reason it must be dropped for; @m then holds what was parsed
 * before the fault (useful for counters and traces, never for forwarding).
 * Frames of an ethertype hvnet does not parse are well formed (l3 HV_L3_NONE).
 * Never reads outside [data, data + len). Thread-safe, no allocation.
 */
enum hv_drop_reason hv_pkt_parse(const uint8_t *data, uint32_t len, struct hv_pkt_meta *m);

/* Format @m as one line ("52:54:..:01 > ff:.. arp who-has 10.0.0.2 tell 10.0.0.1") into @buf. */
int hv_pkt_format(const struct hv_pkt_meta *m, char *buf, size_t size);

/*
 * Neighbour discovery and ARP fields the gateway reads (docs/routing.md).
 * Each reads the frame @data of @len bytes that hv_pkt_parse() made @m of,
 * checks every offset against @len, and fails rather than read past it.
 */

/* ARP sender hardware address of an ARP frame (l3 HV_L3_ARP), or NULL. */
const uint8_t *hv_pkt_arp_sha(const uint8_t *data, uint32_t len, const struct hv_pkt_meta *m);

/*
 * The target address of an ICMPv6 neighbour solicitation (135) or
 * advertisement (136) into @target: true when @m is one, with code 0, hop
 * limit 255 (RFC 4861 7.1.1 / 7.1.2: only then is it from the link) and at
 * least 24 bytes of ICMPv6 message inside the frame.
 */
bool hv_pkt_nd_target(const uint8_t *data, uint32_t len, const struct hv_pkt_meta *m,
		      uint8_t target[16]);

/*
 * Decrement the IPv4 TTL (updating the header checksum incrementally, RFC
 * 1624) or the IPv6 hop limit of the writable frame @data in place. Returns 0,
 * or -EINVAL when @m is not IPv4/IPv6, its header is not inside the frame or
 * the TTL is already 0 or 1 (the packet must not be forwarded: time exceeded).
 */
int hv_pkt_ttl_dec(uint8_t *data, uint32_t len, const struct hv_pkt_meta *m);

/* The EUI-64 link-local address fe80::/64 of @mac (RFC 4291 2.5.1, RFC 4862). */
void hv_pkt_ll6_of_mac(const uint8_t mac[6], uint8_t out[16]);

static inline bool
hv_mac_is_multicast(const uint8_t *mac)
{
	return (mac[0] & 1) != 0;
}

static inline bool
hv_mac_is_zero(const uint8_t *mac)
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

#endif
