/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_FW_CONNTRACK_H
#define HV_FW_CONNTRACK_H

/*
 * Connection tracking, one table per worker lcore.
 *
 * A connection is keyed by its two endpoints (segment, address, port) in a
 * canonical order, so both directions of a flow have one key and one hash;
 * the datapath sends every packet of a flow to the worker that the hash
 * names, so no table is ever shared between lcores on the fast path.
 *
 * Threads: everything here that takes a struct hv_ct is called by the
 * table's own worker only, except hv_ct_snapshot() and the counters (any
 * thread: each entry carries a sequence count, odd while its worker writes
 * it) and hv_ct_create()/hv_ct_free() (control thread, while no worker runs
 * the table). Requests from the control thread (flush) go through
 * struct hv_ct_mailbox, which the worker polls once per iteration.
 *
 * Semantics follow nftables' ct state (docs/firewall.md lists the
 * differences): a packet is NEW when it opens a connection (TCP: a SYN
 * without ACK; UDP, ICMP echo request, other protocols: any first packet),
 * ESTABLISHED when it belongs to a tracked connection, RELATED when it is an
 * ICMP/ICMPv6 error quoting a tracked connection, and INVALID otherwise
 * (a TCP segment outside the window, bad flags, a TCP packet other than a
 * SYN with no connection, an echo reply or an ICMP error with none).
 */

#include <stdbool.h>
#include <stdint.h>

#include "common/drop.h"
#include "packet/packet.h"

struct hv_ct_bucket;

#define HV_CT_MAX_PORTS 256
#define HV_CT_MAX_SEGS	1024
#define HV_CT_NIL	UINT32_MAX
#define HV_CT_AGE_RATE	262144 /* slots a second the aging scan visits at most, past 1 s sweeps */

/* TCP states (nf_conntrack's names), then the pseudo-states of other protocols */
#define HV_CT_STATES(X)               \
	X(NONE, "none")               \
	X(SYN_SENT, "syn_sent")       \
	X(SYN_RECV, "syn_recv")       \
	X(ESTABLISHED, "established") \
	X(FIN_WAIT, "fin_wait")       \
	X(CLOSE_WAIT, "close_wait")   \
	X(LAST_ACK, "last_ack")       \
	X(TIME_WAIT, "time_wait")     \
	X(CLOSE, "close")             \
	X(UNREPLIED, "unreplied")     \
	X(REPLIED, "replied")

enum hv_ct_state {
#define HV_CT_STATE_ENUM_(s, n) HV_CT_##s,
	HV_CT_STATES(HV_CT_STATE_ENUM_)
#undef HV_CT_STATE_ENUM_
	HV_CT_STATE_MAX
};

/* Timeouts, in seconds; defaults are Linux's (nf_conntrack_*_timeout_*). */
#define HV_CT_TIMEOUTS(X)                             \
	X(TCP_SYN_SENT, "tcp_syn_sent", 120)          \
	X(TCP_SYN_RECV, "tcp_syn_recv", 60)           \
	X(TCP_ESTABLISHED, "tcp_established", 432000) \
	X(TCP_FIN_WAIT, "tcp_fin_wait", 120)          \
	X(TCP_CLOSE_WAIT, "tcp_close_wait", 60)       \
	X(TCP_LAST_ACK, "tcp_last_ack", 30)           \
	X(TCP_TIME_WAIT, "tcp_time_wait", 120)        \
	X(TCP_CLOSE, "tcp_close", 10)                 \
	X(UDP, "udp", 30)                             \
	X(UDP_STREAM, "udp_stream", 120)              \
	X(ICMP, "icmp", 30)                           \
	X(GENERIC, "generic", 600)

enum hv_ct_timeout {
#define HV_CT_TO_ENUM_(s, n, d) HV_CT_TO_##s,
	HV_CT_TIMEOUTS(HV_CT_TO_ENUM_)
#undef HV_CT_TO_ENUM_
	HV_CT_TO_MAX
};

/* One endpoint of a connection (20 bytes, no padding). */
struct hv_ct_end {
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint16_t seg;
	uint16_t port; /* TCP/UDP port, ICMP echo identifier, 0 otherwise */
};

/*
 * 48 bytes, compared as six 64-bit words (the pads are always zero).
 * The canonical order puts the smaller endpoint first, comparing them as
 * two 64-bit words and one 32-bit word (any fixed total order would do).
 */
struct hv_ct_key {
	struct hv_ct_end a, b;
	uint8_t family;
	uint8_t proto;
	uint16_t pad;
	uint32_t pad2;
};

/* entry pclass */
#define HV_CT_P_TCP   0
#define HV_CT_P_UDP   1
#define HV_CT_P_ICMP  2
#define HV_CT_P_OTHER 3

/* entry flags */
#define HV_CT_F_ORIG_B	  0x01 /* the initiator is endpoint b */
#define HV_CT_F_REPLIED	  0x02 /* a packet was seen in the reply direction */
#define HV_CT_F_MGMT	  0x04 /* counts against the management reserve */
#define HV_CT_F_EMBRYONIC 0x08 /* on an early-drop list */
#define HV_CT_F_WSCALE	  0x10 /* both SYNs carried a window scale option */

struct hv_ct_tcp_dir {
	uint32_t end;	 /* highest sequence number sent + 1 */
	uint32_t maxend; /* highest end the other side allows */
	uint32_t maxwin; /* largest window seen from this side */
	uint8_t wscale;	 /* shift applied to this side's window */
	uint8_t seen;	 /* this side has sent a packet */
	uint8_t ws_opt;	 /* this side's SYN carried a window scale option */
	uint8_t ws_val;
};

struct hv_ct_entry {
	/*
	 * Line 0: what a lookup reads. The table's buckets hold a signature and
	 * an entry index, and the key lives here: a lookup costs the bucket's
	 * line and this one, and this one also says whether the entry is live.
	 */
	struct hv_ct_key key;
	uint64_t expire; /* tsc */
	uint32_t seq;	 /* odd while the worker writes the entry */
	uint8_t used;
	uint8_t state;	/* enum hv_ct_state */
	uint8_t flags;	/* HV_CT_F_* */
	uint8_t pclass; /* HV_CT_P_*: which timeouts apply, without reading the key */
	/* line 1: the rest of what every packet of an established connection touches */
	uint32_t hash;
	uint32_t rule;	/* index of the admitting rule in the policy of epoch */
	uint32_t epoch; /* of the admitting policy, modulo 2^32 */
	uint8_t closer; /* TCP: direction of the first FIN */
	uint8_t pad[3];
	uint64_t packets[2], bytes[2]; /* original, reply */
	uint16_t in_port;	       /* the initiator's port (hvnet slot) */
	uint16_t seg;		       /* the initiator's segment */
	uint32_t prev, next;	       /* early-drop list; next also chains free entries */
	uint32_t pad2;
	/* line 2: TCP windows, listing */
	struct hv_ct_tcp_dir td[2];
	uint64_t created; /* tsc */
} __attribute__((aligned(64)));

struct hv_ct_conf {
	const char *name;
	int socket_id;
	uint32_t capacity;		 /* connections in this table, >= 64 */
	uint32_t mgmt_reserve;		 /* of those, kept for management connections */
	uint32_t port_limit;		 /* per port, 0 = none */
	uint32_t timeouts[HV_CT_TO_MAX]; /* seconds; 0 = the default */
	uint64_t hz;			 /* tsc frequency */
};

/* Why a connection was not created or a packet was refused; counted by the caller. */
struct hv_ct_stats {
	uint64_t created;
	uint64_t deleted; /* by the worker: closed, expired, cut, flushed */
	uint64_t expired;
	uint64_t early_drops; /* embryonic connections evicted to admit new ones */
	uint64_t related;     /* ICMP errors admitted as RELATED */
	uint64_t policy_cut;  /* cut on their next packet after a policy apply */
	uint64_t reopened;    /* TCP: a SYN on a closed connection started it anew */
};

/* A request from the control thread; see hv_ct_mailbox_poll(). */
struct hv_ct_filter {
	uint16_t seg;	       /* HV_CT_ANY_SEG: any */
	uint16_t port;	       /* HV_CT_ANY_PORT: any */
	uint8_t proto;	       /* 0: any */
	uint8_t family;	       /* 0: any */
	struct hv_ct_end host; /* with has_host: either endpoint's address */
	bool has_host;
};
#define HV_CT_ANY_SEG  0xffff
#define HV_CT_ANY_PORT 0xffff

struct hv_ct_mailbox {
	uint32_t req;  /* written by control */
	uint32_t done; /* written by the worker when it has acted on req */
	struct hv_ct_filter filter;
	uint32_t flushed; /* result */
};

struct hv_ct {
	struct hv_ct_bucket *bk; /* bk_mask + 1 buckets (conntrack.c) */
	struct hv_ct_entry *e;	 /* capacity entries */
	uint32_t bk_mask;
	uint32_t free_head; /* free entries, chained through next */
	uint32_t capacity;
	uint32_t mgmt_reserve;
	uint32_t port_limit;
	uint32_t count;		   /* live connections */
	uint32_t count_other;	   /* of those, not management */
	uint32_t head[2], tail[2]; /* early-drop lists: [0] other, [1] management */
	uint32_t age_cursor;
	uint64_t age_last;	    /* tsc the aging scan is paid up to */
	uint64_t age_tsc_per_slot;  /* the scan's pace: the table once per sweep period */
	uint64_t age_slots_per_tsc; /* the same, 32.32 fixed point */
	uint64_t to[HV_CT_TO_MAX];  /* tsc */
	uint64_t hz;
	uint32_t seg_count[HV_CT_MAX_SEGS];
	uint32_t port_count[HV_CT_MAX_PORTS];
	struct hv_ct_stats stats;
	struct hv_ct_mailbox mbox;
};

struct hv_ct *hv_ct_create(const struct hv_ct_conf *conf, char *err, size_t errlen);
void hv_ct_free(struct hv_ct *ct);

/* ---- building keys ---- */

enum hv_ct_kind {
	HV_CT_K_NONE = 0, /* not tracked (non-IP, non-first fragment) */
	HV_CT_K_TCP,
	HV_CT_K_UDP,
	HV_CT_K_ICMP_ECHO_REQ,
	HV_CT_K_ICMP_ECHO_REPLY,
	HV_CT_K_ICMP_ERROR, /* key is the quoted packet's connection */
	HV_CT_K_ICMP_OTHER, /* informational ICMP other than echo: decided by rules alone */
	HV_CT_K_OTHER,	    /* another protocol: a pseudo-connection on addresses */
};

/* What the datapath knows of one packet for tracking. */
struct hv_ct_pkt {
	enum hv_ct_kind kind;
	bool from_b; /* the packet's source is endpoint b of key */
	struct hv_ct_key key;
	uint32_t hash;
};

/*
 * Fill P from the parsed frame M (FRAME, LEN bytes) that arrived in segment
 * SRC_SEG for segment DST_SEG. For ICMP errors the quoted header is read
 * (bounds-checked) and P describes the quoted packet's connection; a quote
 * too short to name one gives HV_DROP_CT_ICMP_QUOTE. Returns HV_DROP_NONE or
 * that reason.
 */
enum hv_drop_reason hv_ct_pkt_build(const struct hv_pkt_meta *m, const uint8_t *frame, uint32_t len,
				    uint16_t src_seg, uint16_t dst_seg, struct hv_ct_pkt *p);

/* ---- the worker's operations ---- */

/*
 * Look up N (<= 64) keys with their hashes; SLOT[i] is the entry or -1. An
 * entry found expired at tsc NOW is deleted and reported as -1.
 */
void hv_ct_lookup_bulk(struct hv_ct *ct, const struct hv_ct_pkt *const *pkts, unsigned n,
		       uint64_t now, int32_t *slot);
/*
 * The same in two halves, so that other work can hide the cache misses:
 * _start reads the keys' buckets and prefetches the candidate entries, POS[i]
 * a candidate or a negative value; _finish compares the key of packet P
 * with its candidate and turns it into an entry index or -1 (expired
 * entries deleted). Deletions may come in between, no insertions.
 */
void hv_ct_lookup_start(struct hv_ct *ct, const struct hv_ct_pkt *const *pkts, unsigned n,
			int32_t *pos);
int32_t hv_ct_lookup_finish(struct hv_ct *ct, const struct hv_ct_pkt *p, int32_t pos, uint64_t now);
/* Look up one key; entry index or -1 (expired ones deleted, as above). */
int32_t hv_ct_lookup(struct hv_ct *ct, const struct hv_ct_pkt *p, uint64_t now);

/*
 * Track packet M of connection SLOT (P from hv_ct_pkt_build, FRAME of LEN
 * bytes for the TCP options), at tsc NOW: state machine, window checks,
 * counters, timeout. Returns HV_DROP_NONE (the packet belongs to the
 * connection) or the INVALID reason. A TCP SYN on a closed connection
 * (CLOSE, TIME_WAIT) deletes the entry and sets *REOPEN: the caller then
 * treats the packet as new.
 */
enum hv_drop_reason hv_ct_track(struct hv_ct *ct, uint32_t slot, const struct hv_ct_pkt *p,
				const struct hv_pkt_meta *m, const uint8_t *frame, uint32_t len,
				uint64_t now, bool *reopen);

/*
 * Whether packet P may open a connection at all (a SYN without ACK for
 * TCP, an echo request, any UDP or other packet): HV_DROP_NONE or the
 * INVALID reason.
 */
enum hv_drop_reason hv_ct_may_open(const struct hv_ct_pkt *p, const struct hv_pkt_meta *m);

/*
 * Create the connection opened by packet P (which may_open accepted) on
 * port IN_PORT of segment SEG, admitted by RULE of policy EPOCH; MGMT when it
 * touches a management segment; SEG_LIMIT the segment's bound for this table
 * (0 none); PORT_LIMIT the port's (0: the table's default, conf.port_limit). Evicts an embryonic connection when the table is full. Returns
 * the entry index (>= 0), or -1 with *WHY set to the limit that refused it.
 */
int32_t hv_ct_open(struct hv_ct *ct, const struct hv_ct_pkt *p, const struct hv_pkt_meta *m,
		   const uint8_t *frame, uint32_t len, uint16_t in_port, uint16_t seg, bool mgmt,
		   uint32_t seg_limit, uint32_t port_limit, uint32_t rule, uint32_t epoch,
		   uint64_t now, enum hv_drop_reason *why);

void hv_ct_delete(struct hv_ct *ct, uint32_t slot);

/*
 * The aging scan: visit the slots due since the last call, at a pace that
 * covers the table once per sweep period (1 s, longer for tables over
 * 256 Ki connections: at most 256 Ki slots a second), at most 4 * BUDGET
 * slots per call, and delete up to BUDGET expired entries among them.
 * Returns the deletions.
 */
unsigned hv_ct_age(struct hv_ct *ct, uint64_t now, unsigned budget);

/* Act on a pending control request, if any (worker, once per iteration). */
void hv_ct_mailbox_poll(struct hv_ct *ct);

/* A connection admitted by an older policy and still allowed: now RULE of EPOCH. */
void hv_ct_restamp(struct hv_ct *ct, uint32_t slot, uint32_t rule, uint32_t epoch);

/* Whether entry E matches F (any thread, on a snapshot). */
bool hv_ct_filter_match(const struct hv_ct_entry *e, const struct hv_ct_filter *f);

/* Delete the entries matching F; returns how many (worker). */
uint32_t hv_ct_flush(struct hv_ct *ct, const struct hv_ct_filter *f);

/* ---- any thread ---- */

/* A consistent copy of entry SLOT; false when it is unused or kept changing. */
bool hv_ct_snapshot(const struct hv_ct *ct, uint32_t slot, struct hv_ct_entry *out);

const char *hv_ct_state_name(uint8_t state);
const char *hv_ct_timeout_name(enum hv_ct_timeout t);
uint32_t hv_ct_timeout_default(enum hv_ct_timeout t);
/* "tcp_established" -> its index, or -1 */
int hv_ct_timeout_from_name(const char *name);

/*
 * For tests and fuzzers, O(capacity + buckets): the first (or SECOND)
 * bucket of HASH, and a check of the index against the entries (every live
 * entry indexed once and found, the counts of keys in their second bucket,
 * the free chain): NULL, or what is wrong.
 */
uint32_t hv_ct_bucket_of(const struct hv_ct *ct, uint32_t hash, bool second);
const char *hv_ct_verify(const struct hv_ct *ct);

/* Direction of a packet of entry E: 0 original, 1 reply. */
static inline unsigned
hv_ct_dir(const struct hv_ct_entry *e, const struct hv_ct_pkt *p)
{
	return (unsigned)(p->from_b != !!(e->flags & HV_CT_F_ORIG_B));
}

#endif
