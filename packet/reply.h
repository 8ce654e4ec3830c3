/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_REPLY_H
#define HV_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/packet.h"

/*
 * Builders for the packets hvnet sends back to a guest on its own behalf: a
 * TCP RST when a firewall rule says `reject` for TCP, and ICMP / ICMPv6
 * errors for `reject` of other traffic, TTL expiry and MTU problems.
 *
 * Common contract:
 *  - @frame is the original frame (@len bytes) and @m what hv_pkt_parse()
 *    made of it with HV_DROP_NONE. The frame is hostile guest input: every
 *    byte read from it is bounds-checked against @len, and offsets in @m that
 *    do not fit the frame make the builder refuse, never read outside it.
 *  - The reply is a complete Ethernet frame written to @out (@out_size
 *    bytes, not overlapping @frame): destination MAC = the original's source MAC, source MAC = the
 *    original's destination MAC (the reply appears to come from the host the
 *    guest addressed), and the original's VLAN tags, TPIDs included, in the
 *    same order. It is not padded to 60 bytes (NICs pad on transmit; virtio
 *    guests take short frames).
 *  - The return value is the reply's length, or 0 when no reply may be sent
 *    (the rules are listed per builder) or @out is too small for it. Nothing
 *    is written past @out + @out_size; on 0 the contents of @out are
 *    unspecified.
 *  - The reply's IP header: IPv4 with IHL 5, ID 0, DF, TTL 64; IPv6 with
 *    traffic class 0, flow label 0, hop limit 64. Its destination is the
 *    original's source.
 *  - No source may be answered that is not a single host: IPv4 0/8, 127/8,
 *    224/4 and 240/4 (class D, class E and 255.255.255.255); IPv6 ::, ::1 and
 *    ff00::/8; and a multicast source MAC.
 *  - Pure functions of their arguments: thread-safe, no allocation, no DPDK.
 */

#define HV_REPLY_ICMP4_MAX 576	/* RFC 1812 4.3.2.3: an ICMPv4 error's IP datagram, at most */
#define HV_REPLY_ICMP6_MAX 1280 /* RFC 4443 2.4(c): an ICMPv6 error's IPv6 packet, at most */
#define HV_REPLY_L2_MAX	   (14 + 4 * HV_PKT_MAX_VLANS)
/* an @out of this size always holds any reply the builders make */
#define HV_REPLY_FRAME_MAX (HV_REPLY_L2_MAX + HV_REPLY_ICMP6_MAX)

/*
 * Build a TCP RST answering the TCP segment @frame, per RFC 9293 3.10.7.1:
 * if the original has ACK, the RST has seq = its ack, no ACK flag, ack 0;
 * otherwise seq 0, ACK set, ack = its seq + payload length (+1 for SYN, +1
 * for FIN). Ports and addresses swapped, data offset 5, window 0. IP source is
 * the original's destination; TOS / traffic class 0.
 *
 * Returns 0 (no RST) when @m is not TCP over IPv4/IPv6 with HV_PKT_F_L4, the
 * original has RST set, the original's destination MAC or IP is multicast or
 * broadcast (or its IP is 0.0.0.0 / ::, which the RST could not come from),
 * its source is not a single host (see above), it is a fragment without ACK
 * (the segment's length is unknown), or @out is too small.
 */
size_t hv_reply_tcp_rst(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
			uint8_t *out, size_t out_size);

/*
 * Build an ICMPv4 error (when @m is IPv4) or ICMPv6 error (when IPv6) of
 * @type/@code answering @frame. @info is the 32-bit field after the checksum,
 * written big-endian: the next-hop MTU in its low 16 bits for ICMPv4
 * "fragmentation needed", the MTU for ICMPv6 "packet too big", the pointer
 * for parameter problems, 0 otherwise.
 *
 * The message quotes the original IP datagram from its IP header on, cut so
 * that the reply's IP datagram is at most HV_REPLY_ICMP4_MAX (IPv4) or
 * HV_REPLY_ICMP6_MAX (IPv6) bytes, and never past the original's IP length or
 * the frame's end. The reply's IP source is @src_ip (4 or 16 bytes as the
 * family goes) when not NULL, e.g. a router's own address for "time
 * exceeded", else the original's destination. ICMPv4 errors go with TOS 0xc0
 * (internetwork control, as Linux sends them); ICMPv6 with traffic class 0.
 *
 * Returns 0 (no error) when @type is not an error type (ICMPv4: 3, 4, 5, 11,
 * 12; ICMPv6: 1 to 4) or, per RFC 1122 3.2.2, RFC 1812 4.3.2.7 and RFC 4443
 * 2.4(e), when the original is:
 *  - an ICMP error itself (ICMPv4: any type but echo, echo reply, timestamp,
 *    information and address mask request / reply; ICMPv6: types below 128)
 *    or an ICMPv6 redirect;
 *  - a non-first fragment;
 *  - to a multicast or broadcast MAC or IP, except ICMPv6 "packet too big"
 *    and "parameter problem" code 2, which RFC 4443 allows for multicast
 *    (those then need @src_ip, a multicast address being no source);
 *  - from a source that is not a single host (see above);
 * and when the reply's source would be unspecified, multicast or broadcast,
 * or @out is too small (HV_REPLY_FRAME_MAX always suffices).
 */
size_t hv_reply_icmp_error(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
			   uint8_t type, uint8_t code, uint32_t info, const uint8_t *src_ip,
			   uint8_t *out, size_t out_size);

/*
 * ARP and neighbour discovery, for the segment gateways and ARP/ND
 * suppression (docs/routing.md). Same contract as above, except that the
 * source MAC is @mac (the gateway's, or the bound MAC of the guest answered
 * for) rather than the original's destination.
 */

/*
 * An ARP reply to the ARP request @frame saying that its target protocol
 * address is at @mac, sent to the requester (its MAC and VLAN tags). 0 when
 * @m is not an ARP request (op 1), the requester's MAC is multicast, its
 * sender address is not a single host (a probe from 0.0.0.0 is not answered:
 * RFC 5227 probes want silence unless the address is taken, and the caller
 * decides that), or @out is too small (HV_REPLY_L2_MAX + 28 suffices).
 */
size_t hv_reply_arp(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
		    const uint8_t mac[6], uint8_t *out, size_t out_size);

/*
 * A neighbour advertisement answering the neighbour solicitation @frame
 * (see hv_pkt_nd_target for what counts as one): source the solicited target,
 * a target link-layer address option with @mac, flags override, router when
 * @router, solicited unless the solicitation came from :: (duplicate address
 * detection), which is answered to ff02::1 (RFC 4861 7.2.4). Hop limit 255.
 * 0 when @m is no valid NS, the target is not a single host, or @out is too
 * small (HV_REPLY_L2_MAX + 72 suffices).
 */
size_t hv_reply_nd_na(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
		      const uint8_t mac[6], bool router, uint8_t *out, size_t out_size);

/* A broadcast ARP request from (@mac, @spa) asking for @tpa; 42 bytes, or 0. */
size_t hv_reply_arp_request(const uint8_t mac[6], const uint8_t spa[4], const uint8_t tpa[4],
			    uint8_t *out, size_t out_size);

/*
 * A neighbour solicitation from (@mac, @src) for @target, to the target's
 * solicited-node group, with a source link-layer address option; 86 bytes,
 * or 0 when an address is not a single host or @out is too small.
 */
size_t hv_reply_nd_ns(const uint8_t mac[6], const uint8_t src[16], const uint8_t target[16],
		      uint8_t *out, size_t out_size);

/*
 * An ICMP echo reply (ICMPv6 129) answering the echo request @frame
 * addressed to a host hvnet stands for (a segment gateway): MACs and
 * addresses swapped, identifier, sequence and data kept, checksums computed.
 * 0 when @m is no echo request (code 0, not a fragment), is to a group or
 * from a source that is not a single host, or @out is too small (an echo of
 * the whole packet: HV_REPLY_L2_MAX plus its IP length suffices).
 */
size_t hv_reply_icmp_echo(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m,
			  uint8_t *out, size_t out_size);

/*
 * A router advertisement from (@mac, the link-local @src) to (@dst_mac,
 * @dst): hop limit 255, router lifetime 1800 s, no managed/other flags, a
 * source link-layer address option and one prefix information option per
 * prefix (@n at most HV_REPLY_RA_MAX_PREFIXES; on-link, not autonomous:
 * hosts learn their default router and the on-link prefixes, not addresses).
 * Its length, or 0 when @src is not link-local, @mac is multicast or @out is
 * too small (HV_REPLY_FRAME_MAX suffices).
 */
#define HV_REPLY_RA_MAX_PREFIXES 8
size_t hv_reply_nd_ra(const uint8_t mac[6], const uint8_t src[16], const uint8_t dst[16],
		      const uint8_t dst_mac[6], const uint8_t (*prefixes)[16], const uint8_t *plens,
		      unsigned n, uint8_t *out, size_t out_size);

#endif
