/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_PORTSEC_H
#define HV_VSWITCH_PORTSEC_H

/*
 * Port security: what a guest NIC may send as its own (docs/routing.md).
 *
 * A port's bindings come from the policy file (a guest NIC's mac and ip
 * lines, the NIC sitting on the port named GUEST-NIC or GUEST); the port
 * option port-security=off turns the checks off for one port. The decision
 * is a pure function of the bindings, the frame and its metadata: no DPDK,
 * no state, any thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include "common/drop.h"
#include "packet/packet.h"

#define HV_PORTSEC_MAX_IPS 8 /* addresses bound per family and port */

struct hv_portsec {
	bool on;      /* checks apply (the NIC has bindings and the port did not opt out) */
	bool has_mac; /* the NIC declares a MAC: the only source MAC allowed */
	uint8_t mac[6];
	uint8_t n4, n6; /* bound addresses; a family with none is not checked */
	uint8_t ip4[HV_PORTSEC_MAX_IPS][4];
	uint8_t ip6[HV_PORTSEC_MAX_IPS][16];
	uint8_t ll6[16]; /* fe80::/64 EUI-64 of mac, when has_mac */
	bool lock;	 /* no bindings, port-security=lock: learn and lock (below) */
};

/*
 * May the port bound by @ps send the frame @data (@len bytes) that
 * hv_pkt_parse() made @m of? HV_DROP_NONE, or why not:
 *  - HV_DROP_PORTSEC_MAC: the source MAC is not the bound MAC;
 *  - HV_DROP_PORTSEC_ARP: an ARP whose sender hardware address is not the
 *    bound MAC, or whose sender address is not bound (0.0.0.0, a probe, is
 *    allowed);
 *  - HV_DROP_PORTSEC_ND: a neighbour advertisement for a target that is not
 *    bound (nor the port's link-local);
 *  - HV_DROP_PORTSEC_IP: an IPv4 source not bound (0.0.0.0 only for DHCP, UDP
 *    to port 67), an IPv6 source neither bound nor the link-local of the
 *    bound MAC (:: only for neighbour solicitations and MLD reports: duplicate
 *    address detection).
 */
enum hv_drop_reason hv_portsec_check(const struct hv_portsec *ps, const uint8_t *data, uint32_t len,
				     const struct hv_pkt_meta *m);

/*
 * Learn-and-lock, for a port with port-security=lock whose NIC the file
 * binds to nothing: the first unicast source MAC the port sends is locked,
 * and so are its first IPv4 source (an IPv4 packet's or an ARP sender's,
 * 0.0.0.0 aside) and its first IPv6 source that is not link-local or ::.
 * From then on the port is checked as if the file bound it to those (its
 * link-local being the EUI-64 of the locked MAC). A lock lasts as long as the
 * port: deleting and adding the port starts over.
 *
 * Written by the datapath (whichever worker sees the frame first) and read by
 * any thread: each field is claimed with an atomic OR, written, then marked
 * set with a release OR; a field claimed but not yet set is not checked.
 */
#define HV_PORTSEC_L_MAC_CLAIM 0x01u
#define HV_PORTSEC_L_MAC       0x02u
#define HV_PORTSEC_L_IP4_CLAIM 0x04u
#define HV_PORTSEC_L_IP4       0x08u
#define HV_PORTSEC_L_IP6_CLAIM 0x10u
#define HV_PORTSEC_L_IP6       0x20u

struct hv_portsec_lock {
	uint32_t state; /* HV_PORTSEC_L_* */
	uint8_t mac[6];
	uint8_t ip4[4];
	uint8_t ip6[16];
};

/* Lock what @m teaches @l (see above), then check @m as hv_portsec_check does. */
enum hv_drop_reason hv_portsec_lock_check(struct hv_portsec_lock *l, const uint8_t *data,
					  uint32_t len, const struct hv_pkt_meta *m);

/* The bindings @l has locked so far, as a struct hv_portsec (on when any is). */
void hv_portsec_of_lock(const struct hv_portsec_lock *l, struct hv_portsec *ps);

/* Is @addr (@family 4 or 6) one of the addresses bound to @ps (link-local included)? */
bool hv_portsec_owns(const struct hv_portsec *ps, uint8_t family, const uint8_t *addr);

#endif
