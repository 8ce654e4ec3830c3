/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_H
#define HV_VSWITCH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include "common/drop.h"
#include "firewall/classify.h"
#include "firewall/conntrack.h"
#include "vswitch/gateway.h"
#include "vswitch/mac_table.h"
#include "vswitch/mirror.h"
#include "vxlan/vxlan.h"

struct rte_rcu_qsbr;
struct rte_ring;

/*
 * The switch: ports, segments, the published datapath state and the
 * per-worker counters. See docs/threading.md for the whole picture.
 *
 * Ownership in one paragraph: the control thread (the EAL main lcore) owns
 * struct hv_switch, every struct hv_port and struct hv_sw_segment, and is the
 * only writer of the published struct hv_dp_state pointer. A worker lcore
 * reads the current hv_dp_state once per poll iteration, between two
 * quiescent-state reports on sw->qsbr; a state, and every port it points
 * to, is immutable once published and is freed only after
 * rte_rcu_qsbr_synchronize() has seen every worker pass a quiescent point.
 * (One exception: a vhost-user port's vhost fields, which rte_vhost's
 * thread rewrites as guests come and go; vswitch/vhost.c.) Each worker
 * writes only its own struct hv_worker (counters); the control thread reads
 * those counters with relaxed atomic loads.
 */

/*
 * Port slots: 0 to HV_MAX_LOCAL_PORTS - 1 are ports; HV_VTEP_SLOT_BASE + i
 * stands for remote VTEP i of the overlay (vxlan/vxlan.h), so that the MAC
 * table, the per-port counters and the firewall name a remote VTEP the way
 * they name a port. A VTEP slot has no struct hv_port (ports[] is NULL there).
 */
#define HV_MAX_LOCAL_PORTS 256
#define HV_PORT_MTU	   1500 /* a port's MTU when not given mtu= (nor the overlay's) */
#define HV_VTEP_SLOT_BASE  HV_MAX_LOCAL_PORTS
#define HV_MAX_PORTS	   (HV_MAX_LOCAL_PORTS + HV_VX_MAX_VTEPS)
#define HV_SEG_NONE	   0xffff /* segment of an uplink port: it belongs to none */
#define HV_MAX_SEGMENTS	   1024
#define HV_MAX_WORKERS	   16
#define HV_MAX_RXQ	   16 /* rx queues polled per worker */
#define HV_NAME_MAX	   32
#define HV_BURST	   32

enum hv_port_kind {
	HV_PORT_TAP = 0,
	HV_PORT_VHOST_USER,
	HV_PORT_AF_PACKET,
	HV_PORT_PCAP,
	HV_PORT_RING,
	HV_PORT_NULL,
	HV_PORT_KIND_MAX
};

enum hv_poll_mode {
	HV_POLL_ADAPTIVE = 0, /* back off to short sleeps when idle */
	HV_POLL_BUSY,	      /* spin: benchmarks */
};

/* Parsed "KEY=VALUE" options of a port, kept for `port show`. */
#define HV_PORT_MAX_OPTS 16
struct hv_port_opt {
	char key[32];
	char value[256];
};

/* What `port add` asks for; filled from a --port spec or a control request. */
struct hv_port_spec {
	char name[HV_NAME_MAX];
	enum hv_port_kind kind;
	char segment[HV_NAME_MAX];
	unsigned n_opts;
	struct hv_port_opt opts[HV_PORT_MAX_OPTS];
};

struct hv_port {
	char name[HV_NAME_MAX];
	char devname[64]; /* DPDK vdev name, unique per process */
	enum hv_port_kind kind;
	uint16_t id;	   /* hvnet port slot, index in hv_dp_state.ports */
	uint16_t eth_port; /* DPDK ethdev port id; HV_NO_ETHDEV for vhost-user */
	uint16_t segment;  /* segment id */
	uint16_t nb_rxq;
	uint16_t nb_txq;
	uint16_t mtu;
	bool allow_vlan;
	bool mirror_dest; /* option mirror=yes: sends mirror copies only, never polled or flooded */
	bool portsec_off; /* port-security=no: no checks even where the file binds the NIC */
	bool portsec_lock; /* port-security=lock: learn and lock where the file binds nothing */
	uint32_t mac_limit;
	uint8_t mac[6];	 /* guest-side MAC where hvnet sets one (tap), else the ethdev's */
	char netns[64];	 /* tap: namespace the interface was moved to */
	char ifname[32]; /* tap: kernel interface name (inside netns if any) */
	uint16_t rxq_worker[HV_MAX_RXQ]; /* worker polling each rx queue, fixed at add */
	struct rte_ring *rings[2];	 /* ring ports: rx, tx */
	/*
	 * vhost-user ports (vswitch/vhost.c): the one part of a published port
	 * that changes, written by rte_vhost's thread as guests come and go
	 * and read by workers with atomic loads.
	 */
	struct {
		char path[108]; /* the vhost-user socket */
		int vid;	/* the rte_vhost device, -1 while no guest is attached */
		uint64_t ready; /* bit v: the guest has enabled vring v */
	} vhost;
	struct hv_port_spec spec;
};

#define HV_NO_ETHDEV UINT16_MAX

/* An uplink carries the overlay and belongs to no segment. */
static inline bool
hv_port_is_uplink(const struct hv_port *p)
{
	return p->segment == HV_SEG_NONE;
}

static inline bool
hv_slot_is_vtep(uint16_t slot)
{
	return slot >= HV_VTEP_SLOT_BASE && slot < HV_MAX_PORTS;
}

struct hv_sw_segment {
	char name[HV_NAME_MAX];
	uint16_t id;
	uint32_t mac_limit;
	uint16_t n_ports;
};

/* Immutable once published; see the ownership paragraph above. */
struct hv_dp_state {
	uint64_t generation;
	uint16_t n_workers;
	struct hv_port *ports[HV_MAX_PORTS];
	/* per segment: the member ports, the flood list */
	struct hv_dp_seg {
		uint16_t n_ports;
		uint16_t *ports;
	} segs[HV_MAX_SEGMENTS];
	/* the policy in force (NULL: none, everything passes) and, per switch
	 * segment, its id in that policy (HV_FW_SEG_UNNAMED when it has none) */
	struct hv_fw *fw;
	uint16_t seg_pol[HV_MAX_SEGMENTS];
	/* layer 3 of the policy in force: gateways, routes, bindings, port
	 * security (vswitch/gateway.h); NULL with no policy: nothing routed */
	struct hv_gw *gw;
	/* per port: the policy file's conn-limit of its guest NIC, 0 none */
	uint32_t port_conn_limit[HV_MAX_PORTS];
	/* per port slot: the id the policy in force gives the port's name in its
	 * `port` terms (hv_fw_port_id), 0 when it names none; set at every
	 * publish, so a port added later, or re-added under its name, matches */
	uint8_t port_pol[HV_MAX_PORTS];
	/* the overlay in force (NULL: none); immutable, see vxlan/vxlan.h */
	const struct hv_vx_state *vx;
	/* per worker: the (port, queue) pairs it polls */
	struct hv_dp_rx {
		uint16_t n;
		struct {
			uint16_t port; /* hvnet slot */
			uint16_t queue;
		} q[HV_MAX_RXQ];
	} rx[HV_MAX_WORKERS];
	/* the mirror sessions in force, as the taps see them (vswitch/mirror.h) */
	struct hv_mirror_dp mir;
	uint16_t flood_storage[]; /* backing store for segs[].ports */
};

/* Per-port counters, one copy per worker. */
struct hv_port_counters {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t drops[HV_DROP_MAX]; /* frames received on this port (or sent to it, tx) */
};

struct hv_seg_counters {
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t flooded; /* frames flooded (counted once per frame) */
	uint64_t drops;
};

struct hv_stage_counters {
	uint64_t parse;	  /* frames that entered parse */
	uint64_t ingress; /* frames that passed parse */
	uint64_t learn;	  /* frames that passed ingress checks */
	uint64_t forward; /* frames that reached forward */
	uint64_t tx;	  /* copies handed to tx (after flood) */
};

struct hv_learn_counters {
	uint64_t learned;
	uint64_t moved;
	uint64_t limit_port;
	uint64_t limit_segment;
	uint64_t limit_table;
	uint64_t static_conflict;
};

/* What the firewall stage decided, per worker (drops are counted by reason). */
struct hv_fw_stage_counters {
	uint64_t checked;     /* IP packets that entered the stage */
	uint64_t established; /* belonged to a tracked connection */
	uint64_t related;     /* ICMP errors of a tracked connection */
	uint64_t new_allowed; /* opened a connection */
	uint64_t stateless;   /* allowed by a rule without a connection (fragments, ICMP info) */
	uint64_t bypass;      /* ARP, neighbour discovery: not subject to the policy */
	uint64_t handoff_out; /* sent to the worker owning the connection */
	uint64_t handoff_in;
	uint64_t rejects_sent;
	uint64_t rejects_ratelimited; /* rejected packets not answered: over 1000/s per worker */
	uint64_t log_submitted;
	uint64_t log_ratelimited;
};

/* What the overlay did, per worker (its drops are counted by reason). */
struct hv_vx_counters {
	uint64_t decap;		  /* VXLAN packets decapsulated into a segment */
	uint64_t encap;		  /* frames encapsulated (unicast and flood copies) */
	uint64_t flood_copies;	  /* of which head-end replicated copies */
	uint64_t reserved_bits;	  /* received with reserved VXLAN bits set (ignored) */
	uint64_t arp_in;	  /* ARP frames on the uplink, handled by the VTEP */
	uint64_t arp_replies;	  /* answers for the local VTEP address */
	uint64_t arp_requests;	  /* requests for peers' addresses */
	uint64_t neigh_learned;	  /* a peer's underlay MAC learned or changed */
	uint64_t too_big_replies; /* ICMP frag-needed / packet-too-big sent to guests */
	uint64_t learn_requests;  /* packets from unknown VTEPs passed on to be learned */
};

struct hv_worker {
	unsigned lcore;
	unsigned index;
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t busy_cycles; /* cycles spent in polls that returned packets */
	uint64_t idle_polls;
	uint64_t sleeps;
	uint64_t drops[HV_DROP_MAX];
	struct hv_stage_counters stage;
	struct hv_learn_counters learn;
	struct hv_fw_stage_counters fw;
	struct hv_gw_counters gw;
	struct hv_port_counters port[HV_MAX_PORTS];
	struct hv_seg_counters seg[HV_MAX_SEGMENTS];
	struct hv_vx_counters vx;
	/* routed and blocked, per (source, destination) segment with a gateway */
	struct hv_gw_pair pair[HV_GW_MAX_SEGS][HV_GW_MAX_SEGS];
} __rte_cache_aligned;

/*
 * The opening packet of connection E as the classifier sees it, SEG_POL
 * mapping switch segments to policy segments and PORT_POL port slots to the
 * policy's port ids: what a policy re-check (datapath) and the cut count of
 * an apply (control) classify. Its ingress port is the initiator's, the
 * port the connection was opened from, whichever way the packet that
 * triggers the re-check goes.
 */
static inline void
hv_fw_pkt_of_entry(const uint16_t *seg_pol, const uint8_t *port_pol, const struct hv_ct_entry *e,
		   struct hv_fw_pkt *k)
{
	const struct hv_ct_end *o = (e->flags & HV_CT_F_ORIG_B) ? &e->key.b : &e->key.a;
	const struct hv_ct_end *r = (e->flags & HV_CT_F_ORIG_B) ? &e->key.a : &e->key.b;

	k->family = e->key.family;
	k->proto = e->key.proto;
	k->src_seg = o->seg < HV_MAX_SEGMENTS ? seg_pol[o->seg] : HV_FW_SEG_UNNAMED;
	k->dst_seg = r->seg < HV_MAX_SEGMENTS ? seg_pol[r->seg] : HV_FW_SEG_UNNAMED;
	memcpy(k->src, o->addr, 16);
	memcpy(k->dst, r->addr, 16);
	k->in_port = e->in_port < HV_MAX_PORTS ? port_pol[e->in_port] : 0;
	k->sport = k->dport = 0;
	if (k->proto == 6 || k->proto == 17) {
		k->sport = o->port;
		k->dport = r->port;
	} else if (k->proto == 1 || k->proto == 58) {
		k->dport = (uint16_t)((k->proto == 1 ? 8 : 128) << 8); /* an echo request */
	}
}

/* Counters are written by one worker and read by the control thread. */
#define HV_CNT_ADD(c, n) __atomic_store_n(&(c), (c) + (n), __ATOMIC_RELAXED)
#define HV_CNT_READ(c)	 __atomic_load_n(&(c), __ATOMIC_RELAXED)

struct hv_switch_conf {
	char instance[64];
	char socket_path[108];
	enum hv_poll_mode poll_mode;
	unsigned n_workers;
	uint32_t mbufs;
	uint32_t mac_capacity;
	uint32_t port_mac_limit;
	uint32_t segment_mac_limit;
	uint32_t mac_age_s;
	uint32_t max_sleep_us;		    /* adaptive mode: longest idle sleep */
	uint32_t ct_max;		    /* connections tracked, all workers together */
	uint32_t ct_mgmt_reserve_pct;	    /* share kept for management connections */
	uint32_t port_conn_limit;	    /* per port, 0 = none */
	uint32_t ct_timeouts[HV_CT_TO_MAX]; /* seconds, 0 = default */
	uint32_t neigh_capacity;	    /* learned neighbours, all segments together */
	uint32_t neigh_port_limit;	    /* learned neighbours per port, 0 = no share */
	uint32_t neigh_age_s;		    /* a learned neighbour older than this is asked again */
};

struct hv_switch {
	struct hv_switch_conf conf;
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *qsbr;
	struct hv_mac_table *macs;
	struct hv_dp_state *state; /* published; written by the control thread only */
	uint64_t generation;
	struct hv_port *ports[HV_MAX_PORTS];
	struct hv_sw_segment *segments[HV_MAX_SEGMENTS];
	unsigned n_workers;
	struct hv_worker *workers[HV_MAX_WORKERS];
	volatile bool stop;
	uint64_t vdev_seq;
	/* the firewall: the policy in force, the one before it (rollback) */
	struct hv_fw *fw, *fw_prev;
	uint64_t fw_epoch;
	struct hv_ct *ct[HV_MAX_WORKERS];	  /* one connection table per worker */
	struct rte_ring *handoff[HV_MAX_WORKERS]; /* packets for the worker owning their flow */
	/* mirror sessions in force, by bit; published in hv_dp_state.mir (vswitch/mirror.h) */
	struct hv_mirror_session *mirrors[HV_MIRROR_MAX_SESSIONS];
	/* the overlay: the state in force (also in state->vx), VTEP indices and
	 * neighbours, and why there is none when the policy asks for one */
	struct hv_vx_state *vx;
	struct hv_vx_ctl vxctl;
	char vx_error[256];
	/* `learn yes`: (address, segment) of unknown VTEPs, from the workers (MP/SC),
	 * and the VTEPs learned from it, kept while the overlay learns */
	struct rte_ring *vx_learn;
	uint16_t n_vx_learned;
	struct hv_vx_learned {
		uint8_t ip[4];
		uint64_t segs[HV_VX_MAX_SEGS / 64];
	} vx_learned[HV_VX_MAX_LEARNED];
	/* baseline taken by `stats clear`, subtracted from what is shown */
	struct hv_worker *baseline;
	/* neighbours learned by the gateways (any worker writes; vswitch/neigh.h) */
	struct hv_neigh_table *neigh;
	uint64_t gw_seq; /* names of the route tables, unique per build */
	/* per port slot: what learn-and-lock port security locked (workers write;
	 * reset when a port takes the slot) */
	struct hv_portsec_lock *psec_lock;
};

/* --- switch.c: control-thread operations (never from a worker) --- */

int hv_switch_init(struct hv_switch *sw, const struct hv_switch_conf *conf);
void hv_switch_fini(struct hv_switch *sw);
/* Start the worker lcores. */
int hv_switch_start(struct hv_switch *sw);
/* Stop the worker lcores and wait for them. */
void hv_switch_stop(struct hv_switch *sw);

struct hv_sw_segment *hv_segment_find(struct hv_switch *sw, const char *name);
/* 0 or -errno with a message in @err. */
int hv_segment_add(struct hv_switch *sw, const char *name, uint32_t mac_limit, char *err,
		   size_t err_size);
int hv_segment_del(struct hv_switch *sw, const char *name, char *err, size_t err_size);

struct hv_port *hv_port_find(struct hv_switch *sw, const char *name);
/* Create, start and publish a port. 0 or -errno with a message in @err. */
int hv_port_add(struct hv_switch *sw, const struct hv_port_spec *spec, char *err, size_t err_size);
/* Unpublish, wait for the workers, stop and free a port. @flushed: MACs removed. */
int hv_port_del(struct hv_switch *sw, const char *name, uint32_t *flushed, char *err,
		size_t err_size);

/* Rebuild and publish the datapath state after a port/segment change. */
int hv_switch_publish(struct hv_switch *sw);

/* Sum of the workers' counters, less the baseline. */
void hv_switch_counters(struct hv_switch *sw, struct hv_worker *sum);
void hv_switch_counters_clear(struct hv_switch *sw);

/*
 * Make FW (built with hv_fw_build, epoch set) the policy in force: publish,
 * wait a grace period, keep the previous one for rollback and free the one
 * before it. FW NULL removes the policy.
 */
int hv_switch_set_policy(struct hv_switch *sw, struct hv_fw *fw);
/* Switch segment id of policy segment POL_SEG of FW, or -1. */
int hv_switch_seg_of_policy(const struct hv_switch *sw, const struct hv_fw *fw, uint16_t pol_seg);
/* Policy segment id of switch segment SEG under FW, or HV_FW_SEG_UNNAMED. */
uint16_t hv_switch_policy_seg(const struct hv_switch *sw, const struct hv_fw *fw, uint16_t seg);
/* mbuf field carrying the ingress port of a packet handed to another worker */
extern int hv_mbuf_in_port_off;

/*
 * The overlay FW's file asks for, checked against the switch (uplink port,
 * addresses, VNIs): 0, or -EINVAL with FILE:LINE:COLUMN and what is wrong
 * in ERR. Changes nothing. vswitch/vxctl.c.
 */
int hv_switch_overlay_check(struct hv_switch *sw, const struct hv_fw *fw, char *err,
			    size_t err_size);
/* Take in the VTEPs the workers asked to learn; republish when one is new. */
void hv_switch_overlay_learn(struct hv_switch *sw);
/*
 * Tap ports not given mtu= follow the overlay: the overlay MTU in a segment
 * that crosses it, HV_PORT_MTU (1500) in one that does not (any more), set
 * on their kernel interface (inside its namespace). After every publish.
 */
void hv_switch_overlay_mtu(struct hv_switch *sw);
/* Build the overlay state of the policy in force (NULL: none, why in sw->vx_error). */
struct hv_vx_state *hv_switch_overlay_build(struct hv_switch *sw);

/* Periodic control work (MAC aging); call about once a second. */
void hv_switch_tick(struct hv_switch *sw);

/* "tap" -> HV_PORT_TAP; -1 when unknown. */
int hv_port_kind_parse(const char *s);
const char *hv_port_kind_name(enum hv_port_kind k);
/* Value of option @key in @spec, or NULL. */
const char *hv_port_spec_opt(const struct hv_port_spec *spec, const char *key);
/*
 * Parse "NAME:KIND:SEGMENT[:KEY=VALUE,...]" (the --port syntax) into @spec.
 * 0 or -EINVAL with a message naming the bad part in @err.
 */
int hv_port_spec_parse(const char *s, struct hv_port_spec *spec, char *err, size_t err_size);

/* --- port.c: ethdev life cycle of one port (vhost-user: vswitch/vhost.c) --- */

/*
 * Create the ethdev for @p (fields from spec already set), configure and
 * start it; for a vhost-user port, register its socket with rte_vhost.
 */
int hv_port_open(struct hv_switch *sw, struct hv_port *p, char *err, size_t err_size);
/* Stop, close and remove the ethdev of @p (unregister its vhost-user socket). */
void hv_port_close(struct hv_switch *sw, struct hv_port *p);
/* Link state of @p: 1 up, 0 down. */
int hv_port_link_up(const struct hv_port *p);

/* --- port_netns.c: kernel side of tap ports (netlink over libmnl) --- */

/*
 * Move kernel interface @ifname into network namespace @netns (a name under
 * /run/netns), rename it @new_name there (NULL keeps the name), set @mtu
 * (0 keeps it) and bring it up. 0 or -errno with a message in @err.
 */
int hv_netns_move_link(const char *ifname, const char *netns, const char *new_name, unsigned mtu,
		       char *err, size_t err_size);
/* Set the MTU of @ifname inside @netns. 0 or -errno with a message in @err. */
int hv_netns_set_mtu(const char *netns, const char *ifname, unsigned mtu, char *err,
		     size_t err_size);

/* --- pipeline.c: the worker loop --- */

/* lcore entry point; @arg is the struct hv_worker of that lcore. */
int hv_worker_main(void *arg);
/* The switch the workers run; set before hv_switch_start. */
extern struct hv_switch *hv_sw;

/* --- control.c: the control socket --- */

struct hv_control;
/* Listen on conf.socket_path (mode 0660, directory created). NULL + errno. */
struct hv_control *hv_control_open(struct hv_switch *sw, char *err, size_t err_size);
void hv_control_close(struct hv_control *c);
/* Run the control loop until SIGINT/SIGTERM (or sw->stop). */
int hv_control_run(struct hv_control *c);

#endif
