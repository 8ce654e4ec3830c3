/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_GATEWAY_H
#define HV_VSWITCH_GATEWAY_H

/*
 * Segment gateways: the distributed router inside hvnetd (docs/routing.md).
 *
 * struct hv_gw is what the policy file says about layer 3, compiled for the
 * datapath: per switch segment its gateway addresses and MAC, the segments'
 * subnets in two LPM tables (rte_lpm, rte_lpm6; next hop: the switch segment
 * id), the guests' declared bindings (static neighbours, sorted for binary
 * search) and each port's port-security bindings. It is built by the control
 * thread at every publish (hv_switch_publish) from the policy in force,
 * published in struct hv_dp_state, immutable once published and freed after
 * a grace period, like the rest of that state. With no policy there is no
 * struct hv_gw: nothing is routed, no port is checked.
 *
 * The fast-path functions below take no mbufs: they read the frame, and
 * write what hvnetd must answer into a buffer the pipeline sends.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/drop.h"
#include "packet/packet.h"
#include "vswitch/neigh.h"
#include "vswitch/portsec.h"

struct rte_lpm;
struct rte_lpm6;
struct hv_switch;
struct hv_fw;

#define HV_GW_MAX_SEGS	  64   /* switch segments below this id may have a gateway */
#define HV_GW_MAX_SUBNETS 8    /* per segment, kept for `route show` */
#define HV_GW_MAX_BINDS	  8192 /* declared (guest NIC, address) bindings */
#define HV_GW_NO_PORT	  0xffff

struct hv_gw_seg {
	bool on; /* the segment has a gateway address */
	bool has4, has6;
	bool ra;       /* router-advertisements: answer RS, advertise every 30 s */
	uint16_t pseg; /* its id in the policy */
	uint8_t mac[6];
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint8_t ll6[16]; /* fe80::/64 EUI-64 of mac: the source of its NS and NA */
	uint8_t n_subnets;
	struct {
		uint8_t family, plen;
		uint8_t a[16];
	} subnets[HV_GW_MAX_SUBNETS];
};

struct hv_gw_bind {
	uint16_t seg; /* switch segment */
	uint8_t family;
	uint8_t has_mac;
	uint8_t addr[16];
	uint8_t mac[6];
	uint16_t port; /* the port of the NIC, HV_GW_NO_PORT when none is up */
};

struct hv_gw {
	struct hv_gw_seg seg[HV_GW_MAX_SEGS];
	uint16_t n_on;
	struct rte_lpm *lpm4;
	struct rte_lpm6 *lpm6;
	uint32_t n_binds;
	struct hv_gw_bind *binds;
	struct hv_portsec psec[256]; /* per port slot (HV_MAX_PORTS) */
};

/* What the gateway stage did, per worker (drops are counted by reason). */
struct hv_gw_counters {
	uint64_t arp_answered;	 /* ARP requests for a gateway answered */
	uint64_t nd_answered;	 /* neighbour solicitations for a gateway answered */
	uint64_t arp_suppressed; /* ARP requests for a bound guest answered, not flooded */
	uint64_t nd_suppressed;	 /* the same for neighbour solicitations */
	uint64_t learned;	 /* neighbours learned or refreshed */
	uint64_t learn_busy;	 /* learning skipped: another worker held the slot */
	uint64_t learn_limit;	 /* learning refused: the port had its share of the table */
	uint64_t routed;	 /* packets routed (sent on in the destination segment) */
	uint64_t queued;	 /* packets that waited for their destination's MAC */
	uint64_t solicits;	 /* ARP requests and NS sent by a gateway */
	uint64_t replies_sent;	 /* ICMP time exceeded / unreachable sent */
	uint64_t ra_sent;	 /* router advertisements (answers and periodic) */
	uint64_t echo_answered;	 /* pings of a gateway address answered */
};

/* Per worker and (source, destination) segment pair. */
struct hv_gw_pair {
	uint64_t routed;
	uint64_t blocked; /* dropped by the firewall stage */
};

/*
 * Build the layer-3 state of the policy FW for switch SW (control thread).
 * NULL with a message in ERR on failure (out of memory, a segment id past
 * HV_GW_MAX_SEGS with a gateway, too many bindings). NAME_SEQ makes the LPM
 * tables' names unique.
 */
struct hv_gw *hv_gw_build(const struct hv_switch *sw, const struct hv_fw *fw, uint64_t name_seq,
			  char *err, size_t errlen);
void hv_gw_free(struct hv_gw *gw);
/* Nothing for the gateway stage to do: no gateway, no binding, no port
 * security; the switch then publishes none and the stage costs nothing. */
bool hv_gw_idle(const struct hv_gw *gw);

/* The MAC of the gateway of segment NAME: 02:68:76 ("hv") + 24 bits of FNV-1a of NAME. */
void hv_gw_mac_of(const char *name, uint8_t mac[6]);

/* The declared binding of (SEG, FAMILY, ADDR), or NULL. Any thread. */
const struct hv_gw_bind *hv_gw_bind_find(const struct hv_gw *gw, uint16_t seg, uint8_t family,
					 const uint8_t *addr);

/* Switch segment whose subnet holds (FAMILY, ADDR), or -1. Any thread. */
int hv_gw_route_lookup(const struct hv_gw *gw, uint8_t family, const uint8_t *addr);

enum hv_gw_verdict {
	HV_GW_PASS,  /* not for the gateway: switch it in its segment */
	HV_GW_ROUTE, /* for another segment (*dseg): firewall, then hv_gw_route_out */
	HV_GW_DONE,  /* consumed: answered (*why HV_DROP_NONE) or dropped (*why) */
};

/*
 * The gateway stage for one frame of segment SEG received on port PORT
 * (after port security): answers ARP/NS for the gateway and for bound
 * guests, learns neighbours from ARP and neighbour discovery into NT, and
 * decides frames sent to the gateway's MAC. A frame to answer (ARP reply,
 * NA, ICMP error) is written to OUT (HV_REPLY_FRAME_MAX bytes) and its
 * length to *out_len (0: none), to be sent back on PORT. Worker threads.
 */
enum hv_gw_verdict hv_gw_ingress(const struct hv_gw *gw, struct hv_neigh_table *nt, uint16_t seg,
				 uint16_t port, const uint8_t *frame, uint32_t len,
				 const struct hv_pkt_meta *m, uint64_t now,
				 struct hv_gw_counters *cnt, uint16_t *dseg,
				 enum hv_drop_reason *why, uint8_t *out, size_t *out_len);

/*
 * Make the writable frame (FRAME, LEN, parsed into M) routed into segment
 * DSEG: TTL or hop limit decremented, source MAC the gateway's, destination
 * MAC the destination guest's when known (declared, or learned no longer
 * than MAX_AGE ago). 0, or -ENOENT when the destination's MAC is not known
 * (the frame is otherwise rewritten; hv_gw_route_resolve finishes it).
 */
int hv_gw_route_out(const struct hv_gw *gw, const struct hv_neigh_table *nt, uint16_t dseg,
		    uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, uint64_t now,
		    uint64_t max_age);

/* Set the destination MAC of a frame hv_gw_route_out left unresolved: 0 or -ENOENT. */
int hv_gw_route_resolve(const struct hv_gw *gw, const struct hv_neigh_table *nt, uint16_t dseg,
			uint8_t family, const uint8_t *addr, uint8_t *frame, uint64_t now,
			uint64_t max_age);

/*
 * The router advertisement of the gateway of SEG (router-advertisements in
 * the file) to (DST, DST_MAC), into OUT (HV_REPLY_FRAME_MAX bytes): its
 * length, 0 when the segment sends none.
 */
size_t hv_gw_ra(const struct hv_gw *gw, uint16_t seg, const uint8_t dst[16],
		const uint8_t dst_mac[6], uint8_t *out, size_t out_size);

/*
 * The ARP request or neighbour solicitation the gateway of DSEG sends for
 * (FAMILY, ADDR), into OUT (at least 86 bytes): its length, 0 when the
 * segment has no gateway of that family.
 */
size_t hv_gw_solicit(const struct hv_gw *gw, uint16_t dseg, uint8_t family, const uint8_t *addr,
		     uint8_t *out, size_t out_size);

/*
 * What a frame decapsulated from a remote VTEP into segment SEG is to the
 * gateways (docs/overlay.md, "Routing across hosts"). Every host's gateway of
 * a segment has the same MAC, so a frame from another host whose source MAC
 * is SEG's gateway's was sent by that host's gateway: routed there into SEG
 * (its source segment is the one whose subnet holds its source address), or
 * the gateway's own ARP request / neighbour solicitation for a neighbour.
 */
enum hv_gw_vtep_verdict {
	HV_GW_VTEP_PASS, /* not the gateway's: switched like any frame from the overlay */
	HV_GW_VTEP_OWN, /* the gateway's ARP request or NS: switched, not learned (*src_seg = SEG) */
	HV_GW_VTEP_ROUTED, /* routed by the sender's gateway from *src_seg into SEG */
	HV_GW_VTEP_NEIGH, /* an ARP reply or NA to the gateway: a neighbour for this host to learn */
	HV_GW_VTEP_SPOOF, /* the gateway's source MAC on a frame no gateway sends: drop */
};

/*
 * Classify FRAME (LEN bytes, the inner frame of a VXLAN packet of segment
 * SEG). CARRIED has bit s set for each switch segment s < 64 that the
 * sending VTEP carries: a routed frame is accepted only from a source
 * segment the VTEP carries, other than SEG, with a gateway of the frame's
 * family on both. Reads the frame bounds-checked; any thread.
 */
enum hv_gw_vtep_verdict hv_gw_from_vtep(const struct hv_gw *gw, uint16_t seg, const uint8_t *frame,
					uint32_t len, uint64_t carried, uint16_t *src_seg);

#endif
