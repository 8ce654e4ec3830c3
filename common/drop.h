/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_COMMON_DROP_H
#define HV_COMMON_DROP_H

/*
 * The one list of reasons for which hvnet drops a frame.
 *
 * Every drop anywhere in the datapath names one of these; the same list
 * feeds the per-lcore counters, `hvnetctl stats`, docs/datapath.md and the
 * tests. Add a reason here, never a bare "dropped" counter elsewhere.
 *
 * Columns: enum suffix, stable name (shown to users, used in JSON), stage,
 * one-line explanation.
 */
#define HV_DROP_REASONS(X)                                                                         \
	/* parse: packet/ */                                                                       \
	X(ETH_TRUNCATED, "eth_truncated", "parse", "frame shorter than an Ethernet header")        \
	X(VLAN_TRUNCATED, "vlan_truncated", "parse", "802.1Q tag cut short")                       \
	X(VLAN_TOO_DEEP, "vlan_too_deep", "parse", "more than two stacked VLAN tags")              \
	X(ARP_TRUNCATED, "arp_truncated", "parse", "ARP header cut short")                         \
	X(ARP_MALFORMED, "arp_malformed", "parse",                                                 \
	  "ARP with wrong hardware/protocol type or length")                                       \
	X(IPV4_TRUNCATED, "ipv4_truncated", "parse", "IPv4 header cut short")                      \
	X(IPV4_BAD_VERSION, "ipv4_bad_version", "parse", "IPv4 ethertype with version != 4")       \
	X(IPV4_BAD_IHL, "ipv4_bad_ihl", "parse", "IPv4 header length below 20 or past the frame")  \
	X(IPV4_BAD_TOTAL_LEN, "ipv4_bad_total_len", "parse",                                       \
	  "IPv4 total length below the header length or past the frame")                           \
	X(IPV4_BAD_OPTIONS, "ipv4_bad_options", "parse", "IPv4 option list malformed")             \
	X(IPV4_BAD_FRAGMENT, "ipv4_bad_fragment", "parse",                                         \
	  "IPv4 fragment past 65535 bytes or a tiny overlapping TCP fragment")                     \
	X(IPV6_TRUNCATED, "ipv6_truncated", "parse", "IPv6 header cut short")                      \
	X(IPV6_BAD_VERSION, "ipv6_bad_version", "parse", "IPv6 ethertype with version != 6")       \
	X(IPV6_BAD_PAYLOAD_LEN, "ipv6_bad_payload_len", "parse",                                   \
	  "IPv6 payload length past the frame")                                                    \
	X(IPV6_EXT_TRUNCATED, "ipv6_ext_truncated", "parse", "IPv6 extension header cut short")    \
	X(IPV6_EXT_TOO_MANY, "ipv6_ext_too_many", "parse", "IPv6 extension header chain too long") \
	X(IPV6_EXT_MALFORMED, "ipv6_ext_malformed", "parse",                                       \
	  "IPv6 extension header out of order or repeated")                                        \
	X(IPV6_BAD_FRAGMENT, "ipv6_bad_fragment", "parse", "IPv6 fragment header malformed")       \
	X(TCP_TRUNCATED, "tcp_truncated", "parse", "TCP header cut short")                         \
	X(TCP_BAD_DOFF, "tcp_bad_doff", "parse", "TCP data offset below 5 or past the packet")     \
	X(UDP_TRUNCATED, "udp_truncated", "parse", "UDP header cut short")                         \
	X(UDP_BAD_LEN, "udp_bad_len", "parse", "UDP length below 8 or past the packet")            \
	X(ICMP_TRUNCATED, "icmp_truncated", "parse", "ICMP header cut short")                      \
	X(ICMP6_TRUNCATED, "icmp6_truncated", "parse", "ICMPv6 header cut short")                  \
	/* ingress: vswitch/ */                                                                    \
	X(SRC_MAC_INVALID, "src_mac_invalid", "ingress", "source MAC is multicast or all-zero")    \
	X(VLAN_NOT_ALLOWED, "vlan_not_allowed", "ingress",                                         \
	  "guest sent a VLAN-tagged frame on a port that does not allow it")                       \
	X(PORTSEC_MAC, "portsec_mac", "ingress",                                                   \
	  "port security: source MAC is not the one bound to the port")                            \
	X(PORTSEC_IP, "portsec_ip", "ingress",                                                     \
	  "port security: source IPv4/IPv6 address is not bound to the port")                      \
	X(PORTSEC_ARP, "portsec_arp", "ingress",                                                   \
	  "port security: ARP for an address or MAC not bound to the port")                        \
	X(PORTSEC_ND, "portsec_nd", "ingress",                                                     \
	  "port security: neighbour advertisement for an address not bound to the port")           \
	/* gateway: vswitch/gateway.c */                                                           \
	X(GW_LOCAL, "gw_local", "gateway",                                                         \
	  "sent to the gateway itself, which answers only ARP, neighbour discovery and pings")     \
	X(GW_NO_ROUTE, "gw_no_route", "gateway",                                                   \
	  "destination in no segment with a gateway (ICMP unreachable sent)")                      \
	X(GW_TTL, "gw_ttl_exceeded", "gateway",                                                    \
	  "TTL or hop limit ran out (ICMP time exceeded sent)")                                    \
	X(GW_SCOPE, "gw_beyond_scope", "gateway",                                                  \
	  "IPv6 from a link-local source, never routed (ICMPv6 beyond scope sent)")                \
	X(GW_NO_NEIGH, "gw_no_neigh", "gateway",                                                   \
	  "destination guest did not answer ARP/NS in time (ICMP host unreachable sent)")          \
	X(GW_QUEUE_FULL, "gw_queue_full", "gateway",                                               \
	  "too many packets already waiting for their destination's MAC")                          \
	/* forward: vswitch/ */                                                                    \
	X(HAIRPIN, "hairpin", "forward", "destination MAC is on the port the frame came from")     \
	X(NO_DESTINATION, "no_destination", "forward",                                             \
	  "flooded frame with no other port in its segment")                                       \
	/* firewall: firewall/ */                                                                  \
	X(HANDOFF_FULL, "handoff_full", "firewall",                                                \
	  "the worker that owns the packet's connection had a full queue")                         \
	X(FW_BLOCK, "fw_block", "firewall", "blocked by a policy rule or the default")             \
	X(FW_REJECT, "fw_reject", "firewall",                                                      \
	  "rejected by a policy rule (a RST or unreachable was sent)")                             \
	X(FW_NON_IP, "fw_non_ip", "firewall",                                                      \
	  "a frame that is neither IP nor ARP, under a policy whose default is not allow")         \
	X(CT_TCP_FLAGS, "ct_tcp_flags", "firewall",                                                \
	  "INVALID: TCP flag combination no stack sends")                                          \
	X(CT_TCP_NO_CONN, "ct_tcp_no_conn", "firewall",                                            \
	  "INVALID: a TCP segment other than a SYN with no connection")                            \
	X(CT_TCP_WINDOW, "ct_tcp_window", "firewall",                                              \
	  "INVALID: TCP sequence or acknowledgement number outside the window")                    \
	X(CT_TCP_STATE, "ct_tcp_state", "firewall",                                                \
	  "INVALID: TCP segment not valid in the connection's state")                              \
	X(CT_ICMP_NO_CONN, "ct_icmp_no_conn", "firewall",                                          \
	  "INVALID: ICMP echo reply or ICMP error with no connection")                             \
	X(CT_ICMP_QUOTE, "ct_icmp_quote", "firewall",                                              \
	  "INVALID: ICMP error whose quoted header is cut short")                                  \
	X(CT_POLICY_CUT, "ct_policy_cut", "firewall",                                              \
	  "connection that the policy applied since no longer allows")                             \
	X(CT_LIMIT_TABLE, "ct_limit_table", "firewall", "connection table full")                   \
	X(CT_LIMIT_RESERVE, "ct_limit_reserve", "firewall",                                        \
	  "connection table full except the management reserve")                                   \
	X(CT_LIMIT_SEGMENT, "ct_limit_segment", "firewall", "segment's connection limit reached")  \
	X(CT_LIMIT_PORT, "ct_limit_port", "firewall", "port's connection limit reached")           \
	/* overlay: vxlan/ */                                                                      \
	X(UPLINK_NOT_VTEP, "uplink_not_vtep", "overlay",                                           \
	  "uplink frame that is neither ARP nor IPv4 to the local VTEP address")                   \
	X(UPLINK_NOT_VXLAN, "uplink_not_vxlan", "overlay",                                         \
	  "IPv4 packet to the local VTEP that is not UDP to the overlay port")                     \
	X(VXLAN_OUTER_MALFORMED, "vxlan_outer_malformed", "overlay",                               \
	  "outer IPv4 or UDP header cut short or inconsistent, bad IPv4 checksum, or a fragment")  \
	X(VXLAN_TRUNCATED, "vxlan_truncated", "overlay", "VXLAN header cut short")                 \
	X(VXLAN_BAD_FLAGS, "vxlan_bad_flags", "overlay", "VXLAN header without the I (VNI) flag")  \
	X(VXLAN_UNKNOWN_VNI, "vxlan_unknown_vni", "overlay", "VNI of no segment on this host")     \
	X(VXLAN_UNKNOWN_VTEP, "vxlan_unknown_vtep", "overlay",                                     \
	  "VXLAN packet from an address that is not a peer of its VNI")                            \
	X(VXLAN_NESTED, "vxlan_nested", "overlay",                                                 \
	  "VXLAN packet inside a VXLAN packet (nesting is bounded at one level)")                  \
	X(VXLAN_NO_OVERLAY, "vxlan_no_overlay", "overlay",                                         \
	  "frame on an uplink, or for a remote VTEP, while no overlay is in force")                \
	X(VXLAN_NO_NEIGHBOUR, "vxlan_no_neighbour", "overlay",                                     \
	  "the remote VTEP's underlay MAC is not resolved yet (an ARP request was sent)")          \
	X(VXLAN_TOO_BIG, "vxlan_too_big", "overlay",                                               \
	  "frame larger than the overlay MTU (ICMP frag-needed / packet-too-big sent back)")       \
	X(VXLAN_NO_BUFFER, "vxlan_no_buffer", "overlay", "no buffer for an encapsulated copy")     \
	X(VXLAN_GW_SPOOF, "vxlan_gw_spoof", "overlay",                                             \
	  "frame from a VTEP with a gateway's source MAC that no gateway sends (docs/overlay.md)") \
	/* tx: vswitch/ */                                                                         \
	X(TX_FULL, "tx_full", "tx", "destination port's transmit queue was full")

enum hv_drop_reason {
	HV_DROP_NONE = 0,
#define HV_DROP_ENUM_(sym, name, stage, help) HV_DROP_##sym,
	HV_DROP_REASONS(HV_DROP_ENUM_)
#undef HV_DROP_ENUM_
	HV_DROP_MAX
};

/* Stable user-facing name of @r ("eth_truncated"); "none" for HV_DROP_NONE. */
const char *hv_drop_name(enum hv_drop_reason r);
/* Pipeline stage that owns @r ("parse", "ingress", "forward", "tx"). */
const char *hv_drop_stage(enum hv_drop_reason r);
/* One-line explanation of @r, for `hvnetctl stats --explain` and the docs. */
const char *hv_drop_help(enum hv_drop_reason r);
/* Reason whose name is @name, or HV_DROP_MAX when there is none. */
enum hv_drop_reason hv_drop_from_name(const char *name);

#endif
