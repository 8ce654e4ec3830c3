/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VXLAN_H
#define HV_VXLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/drop.h"
#include "packet/packet.h"

/*
 * The VXLAN overlay (RFC 7348): the VTEP table, encapsulation and
 * decapsulation, flood lists, underlay neighbour resolution and the overlay
 * MTU. docs/overlay.md is the user's view.
 *
 * The library does not depend on DPDK: it works on byte buffers, so that the
 * unit tests and the fuzzer (tests/fuzz/fuzz_vxlan.c) run it as the datapath
 * does. vswitch/pipeline.c moves the mbufs.
 *
 * Threads and ownership:
 *  - struct hv_vx_state is built by the control thread (hv_vx_state_build),
 *    published with the datapath state (struct hv_dp_state.vx) and immutable
 *    once published; it is freed (hv_vx_state_free) after a grace period.
 *  - struct hv_vx_neigh (the underlay MAC of each VTEP) is the one mutable
 *    part: one array per switch, owned by struct hv_vx_ctl, written by any
 *    worker with atomic stores (an ARP reply or request from the VTEP's
 *    address, or the outer source MAC of a valid VXLAN packet from it) and
 *    read by any worker with atomic loads. The control thread resets an entry
 *    only after the state that listed its VTEP was unpublished.
 *  - struct hv_vx_ctl (VTEP index allocation) belongs to the control thread.
 *
 * The fast-path functions (hv_vx_rx, hv_vx_encap, hv_vx_arp_request,
 * hv_vx_flow_port, hv_vx_neigh_*) allocate nothing, take no lock and never log.
 * Every byte they read from a frame is bounds-checked against its length.
 */

#define HV_VX_HDR_LEN	    50 /* outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */
#define HV_VX_OVERHEAD	    50 /* what the overlay MTU loses to the outer headers */
#define HV_VX_MAX_VTEPS	    256
#define HV_VX_MAX_LEARNED   64	 /* VTEPs learned with `learn yes`, at most */
#define HV_VX_MAX_SEGS	    1024 /* = HV_MAX_SEGMENTS */
#define HV_VX_NO_VNI	    0xffffffffu
#define HV_VX_PORT	    4789
#define HV_VX_TTL	    64
#define HV_VX_VNI_MAX	    0xffffffu
#define HV_VX_ARP_RETRY_S   1  /* an unresolved VTEP is asked again after this */
#define HV_VX_ARP_REFRESH_S 30 /* a resolved one is asked again after this */

/* The underlay neighbour (next hop MAC) of one VTEP. */
struct hv_vx_neigh {
	uint64_t mac;	    /* the 6 MAC bytes in the low 48 bits, bit 48: valid; atomic */
	uint64_t asked_tsc; /* last ARP request sent for it; atomic */
};
#define HV_VX_NEIGH_VALID  (1ull << 48)
#define HV_VX_NEIGH_STATIC (1ull << 49) /* configured: never asked for, never overwritten */

/* One remote VTEP. */
struct hv_vx_peer {
	uint8_t ip[4]; /* network order */
	uint16_t vtep; /* its index: MAC entries point at it (slot base + vtep) */
	bool all_segs; /* declared without `segment`: every segment with a VNI */
	bool learned;  /* not declared: learned from its traffic (`learn yes`), never flooded to */
	uint64_t segs[HV_VX_MAX_SEGS / 64]; /* switch segments it carries */
};

/* What the overlay block asks for, resolved to the switch: the input of a build. */
struct hv_vx_conf {
	uint8_t local_ip[4];
	uint16_t udp_port; /* 0: 4789 */
	uint8_t ttl;	   /* 0: 64 */
	bool learn;
	bool udp_csum;	 /* compute the outer UDP checksum; else 0 (RFC 7348 5) */
	uint16_t uplink; /* port slot of the uplink */
	uint8_t uplink_mac[6];
	uint16_t uplink_mtu;		  /* IP MTU of the uplink */
	uint32_t seg_vni[HV_VX_MAX_SEGS]; /* per switch segment, HV_VX_NO_VNI when none */
	uint16_t n_peers;
	struct {
		uint8_t ip[4];
		bool all_segs;
		bool learned;
		uint64_t segs[HV_VX_MAX_SEGS / 64];
	} peers[HV_VX_MAX_VTEPS];
};

/* Immutable once published. */
struct hv_vx_state {
	uint8_t local_ip[4];
	uint8_t local_mac[6];
	uint16_t uplink;
	uint16_t udp_port;
	uint8_t ttl;
	bool learn;
	bool udp_csum;
	uint16_t uplink_mtu;
	uint16_t mtu; /* the overlay MTU: uplink_mtu - HV_VX_OVERHEAD */
	uint32_t seg_vni[HV_VX_MAX_SEGS];
	uint16_t n_vni;
	struct hv_vx_vni {
		uint32_t vni;
		uint16_t seg;
	} vni[HV_VX_MAX_SEGS]; /* sorted by vni */
	uint16_t n_peers;
	struct hv_vx_peer peers[HV_VX_MAX_VTEPS]; /* sorted by address */
	/* per segment, the VTEPs a flooded frame is replicated to */
	uint16_t flood_off[HV_VX_MAX_SEGS];
	uint16_t flood_n[HV_VX_MAX_SEGS];
	uint8_t vtep_ip[HV_VX_MAX_VTEPS][4]; /* by VTEP index; 0.0.0.0 unused */
	struct hv_vx_neigh *neigh;	     /* HV_VX_MAX_VTEPS entries, mutable */
	/*
	 * The outer headers' fixed part (source MAC, IPv4 with TTL, DF and the
	 * local address, the UDP port, the I flag), copied whole for each frame
	 * and completed, and the sum of its IPv4 header words (host order).
	 */
	uint8_t hdr[64] __attribute__((aligned(16)));
	uint32_t hdr_ip_sum;
	uint32_t n_flood;
	uint16_t flood[]; /* VTEP indices */
};

/* Control-thread side: VTEP index allocation and the neighbour table. */
struct hv_vx_ctl {
	uint8_t vtep_ip[HV_VX_MAX_VTEPS][4]; /* in use by the published state */
	bool used[HV_VX_MAX_VTEPS];
	struct hv_vx_neigh neigh[HV_VX_MAX_VTEPS];
};

/*
 * Build the state for CONF. VTEP indices stay those of the published state
 * for addresses it already has (so MAC entries stay valid); new addresses
 * take free indices. Returns NULL with errno: EINVAL (message in ERR) for a
 * configuration that cannot work, ENOMEM. Control thread.
 */
struct hv_vx_state *hv_vx_state_build(struct hv_vx_ctl *x, const struct hv_vx_conf *conf, char *err,
				      size_t err_size);
/*
 * The state ST (or NULL: no overlay) is now published and the one before it
 * is unreachable: forget the indices ST does not use and reset their
 * neighbours. Calls GONE(arg, vtep) for each index dropped, so the caller
 * flushes the MAC entries that point at it. Control thread.
 */
void hv_vx_ctl_commit(struct hv_vx_ctl *x, const struct hv_vx_state *st,
		      void (*gone)(void *arg, uint16_t vtep), void *arg);
void hv_vx_state_free(struct hv_vx_state *st);

/* The peer with address IP, or NULL. */
const struct hv_vx_peer *hv_vx_peer_find(const struct hv_vx_state *st, const uint8_t ip[4]);
/* The switch segment of VNI, or -1. */
int hv_vx_vni_seg(const struct hv_vx_state *st, uint32_t vni);
/*
 * The ones' complement sum of the 20-byte IPv4 header at IP (options not
 * included), folded to 16 bits in storage order: 0xffff for a header whose
 * checksum is right; with the checksum field zero, its complement is the
 * checksum. Two 64-bit and one 32-bit load instead of ten 16-bit adds.
 */
static inline uint16_t
hv_vx_ip4_sum(const uint8_t *ip)
{
	uint64_t a, b, s;
	uint32_t c;

	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	memcpy(&c, ip + 16, 4);
	s = (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32) + c;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Whether PEER carries switch segment SEG. */
static inline bool
hv_vx_peer_has_seg(const struct hv_vx_peer *p, uint16_t seg)
{
	return seg < HV_VX_MAX_SEGS && (p->segs[seg / 64] >> (seg % 64)) & 1;
}

/* ---- receive (vxlan_decap.c) ---- */

enum hv_vx_rx_kind {
	HV_VX_RX_DROP = 0, /* drop, rx.drop says why */
	HV_VX_RX_DECAP,	   /* a VXLAN packet: the inner frame is at inner_off */
	HV_VX_RX_ARP,	   /* ARP handled by the VTEP; a reply was built when reply_len != 0 */
};

struct hv_vx_rx {
	uint8_t kind;	   /* enum hv_vx_rx_kind */
	bool reserved_set; /* reserved bits of the VXLAN header were not zero (ignored) */
	bool learn;	   /* dropped as vxlan_unknown_vtep, but `learn yes` may accept its sender
		     * (src_ip) for segment seg */
	uint8_t src_ip[4];
	bool neigh_learned; /* the sender's MAC was new or changed */
	enum hv_drop_reason drop;
	uint16_t inner_off;
	uint16_t inner_len; /* from the UDP length: Ethernet padding of the outer frame excluded */
	uint16_t seg;
	uint16_t vtep;
	uint32_t vni;
	size_t reply_len;
};

/*
 * Classify frame (LEN bytes) received on the uplink. A VXLAN packet to the
 * local VTEP from a peer of its VNI is HV_VX_RX_DECAP: the inner frame starts
 * at inner_off, in segment seg, from VTEP vtep. An ARP request for the local
 * address is answered into REPLY (REPLY_SIZE bytes, 60 are enough); an ARP
 * packet from a VTEP's address updates its neighbour entry. Everything else is
 * a drop with a reason; a VXLAN packet from an address that is no peer of its
 * VNI sets learn (with src_ip and seg) when the overlay learns VTEPs. Checks: outer Ethernet, no outer VLAN, IPv4 with a
 * correct header checksum, not a fragment, to the local address, UDP to the
 * overlay port, 8-byte VXLAN header with the I flag, a known VNI, a sender
 * that is a peer of the VNI, and an inner frame that is not VXLAN to the
 * overlay port again (nesting is bounded at one level).
 * Thread-safe (atomic neighbour stores).
 */
void hv_vx_rx(const struct hv_vx_state *st, const uint8_t *frame, uint32_t len, struct hv_vx_rx *rx,
	      uint8_t *reply, size_t reply_size);

/* ---- transmit (vxlan_encap.c) ---- */

/*
 * The outer UDP source port for the inner frame M: a hash of its addresses,
 * protocol and ports, in 49152-65535 (RFC 7348 5), so that an ECMP underlay
 * spreads flows and keeps each one on one path. Same frame, same port.
 */
uint16_t hv_vx_flow_port(const struct hv_pkt_meta *m);

/*
 * Write the outer headers in BUF[0, 50) for the inner frame at BUF + 50
 * (INNER_LEN bytes, no VLAN tag) sent to VTEP index VTEP with VNI: Ethernet
 * from the uplink's MAC to the VTEP's resolved MAC, IPv4 (DF set, the
 * configured TTL, ID 0, header checksum), UDP from SPORT to the overlay port
 * with its checksum 0, or computed over the whole packet with `udp-checksum
 * yes` (never 0 then: 0xffff instead), and the VXLAN header (I flag, VNI,
 * reserved bits 0).
 * Returns HV_DROP_NONE, HV_DROP_VXLAN_NO_NEIGHBOUR when the VTEP's MAC is
 * not resolved, or HV_DROP_VXLAN_TOO_BIG when the outer IPv4 packet would
 * pass 65535 bytes (BUF untouched). Thread-safe.
 */
/* Fill ST's header template from its addresses, port and TTL (hv_vx_state_build). */
void hv_vx_hdr_init(struct hv_vx_state *st);

enum hv_drop_reason hv_vx_encap(const struct hv_vx_state *st, uint16_t vtep, uint32_t vni,
				uint16_t sport, uint8_t *buf, uint32_t inner_len);

/*
 * Whether an inner frame of L3_LEN bytes of IP (frame length less Ethernet
 * and VLAN headers) fits the overlay MTU.
 */
static inline bool
hv_vx_fits(const struct hv_vx_state *st, uint32_t l3_len)
{
	return l3_len <= st->mtu;
}

/*
 * ARP request from the local VTEP for the address of VTEP index VTEP, into
 * OUT (at least 42 bytes). Returns its length, 0 when OUT is too small or
 * the index is unused.
 */
size_t hv_vx_arp_request(const struct hv_vx_state *st, uint16_t vtep, uint8_t *out,
			 size_t out_size);

/*
 * Whether the caller should send an ARP request for VTEP now: when it is not
 * resolved and was not asked for HV_VX_ARP_RETRY_S, or resolved and not
 * asked for HV_VX_ARP_REFRESH_S. Claims the request (one worker wins).
 */
bool hv_vx_neigh_should_ask(struct hv_vx_neigh *n, uint64_t now_tsc, uint64_t hz);

/* The resolved MAC of N into MAC; false when unresolved. */
static inline bool
hv_vx_neigh_mac(const struct hv_vx_neigh *n, uint8_t mac[6])
{
	uint64_t v = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);

	if (!(v & HV_VX_NEIGH_VALID))
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(v >> (8 * (5 - i)));
	return true;
}

/* Store MAC for N, unless N is static; true when it was unresolved or different. */
bool hv_vx_neigh_set(struct hv_vx_neigh *n, const uint8_t mac[6]);
/* Make N a static entry for MAC (control thread; workers see it at once). */
void hv_vx_neigh_set_static(struct hv_vx_neigh *n, const uint8_t mac[6]);

/* ---- tests and control ---- */

/* "192.0.2.1" of IP into BUF (16 bytes). */
const char *hv_vx_ip_str(const uint8_t ip[4], char *buf);

#endif
