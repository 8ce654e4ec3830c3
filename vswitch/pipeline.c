/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop: rx burst -> parse -> ingress checks -> learn -> forward
 * (unicast or flood inside the segment) -> tx burst. Fast path: no locks, no
 * allocation, no logging. docs/datapath.md walks one packet through it.
 */
#include <errno.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "packet/packet.h"
#include "packet/reply.h"
#include "vswitch/vhost.h"
#include "vswitch/vswitch.h"

struct hv_switch *hv_sw;

struct tx_buf {
	uint16_t n;
	struct rte_mbuf *pkts[HV_BURST];
};

/* Worker-private scratch state; lives as long as the worker loop. */
#define REJECT_RATE    1000 /* answers to rejected packets, per second and worker */
#define REJECT_BURST   100
#define GW_PENDING_MAX 64   /* routed packets waiting for ARP/NS, per worker */
#define GW_PENDING_MS  1000 /* how long one waits before it is dropped */
#define GW_ASK_SLOTS   16   /* destinations asked for lately, per worker (route_ask) */

struct worker_ctx {
	struct hv_switch *sw;
	struct hv_worker *w;
	struct hv_ct *ct;
	struct hv_fwlog_bucket reject_bucket; /* a flood of rejected packets gets few answers */
	struct hv_mac_cache *mac_cache;
	struct hv_mirror_wctx mwc; /* mirror taps: this worker, its tx */
	const struct hv_dp_state *st;
	uint64_t now;
	uint64_t neigh_max_age; /* tsc: --neigh-age */
	uint16_t n_dirty;
	uint16_t dirty[HV_MAX_PORTS];
	struct tx_buf tx[HV_MAX_PORTS];
	uint64_t vx_next_poll; /* TSC of the next look at unresolved VTEPs */
	struct hv_port vx_in;  /* the ingress of decapsulated frames: a VTEP in a segment */
	uint8_t vx_in_ip[4];   /* the address vx_in's name was made from */
	uint64_t next_ra;      /* tsc: the next periodic router advertisement (worker 0) */
	/* routed packets waiting for their destination's MAC (bounded) */
	uint16_t n_pend;
	struct gw_pending {
		struct rte_mbuf *m;
		uint64_t deadline; /* tsc */
		uint16_t in_port, sseg, dseg;
		uint8_t family;
		uint8_t addr[16];
		uint8_t src_mac[6]; /* the sender's, for the unreachable if it expires */
	} pend[GW_PENDING_MAX];
	/* routed destinations whose MAC no table had, asked for lately (route_ask) */
	uint8_t ask_next;
	struct gw_asked {
		uint64_t at; /* tsc; 0: free */
		uint16_t dseg;
		uint8_t family;
		uint8_t addr[16];
	} asked[GW_ASK_SLOTS];
};

static inline void
count_drop(struct worker_ctx *c, uint16_t port, uint16_t seg, enum hv_drop_reason r)
{
	struct hv_worker *w = c->w;

	HV_CNT_ADD(w->drops[r], 1);
	HV_CNT_ADD(w->port[port].drops[r], 1);
	HV_CNT_ADD(w->seg[seg].drops, 1);
}

/* count_drop() for a frame that may have no ingress port (HV_GW_NO_PORT: hvnetd's own). */
static inline void
count_drop_from(struct worker_ctx *c, uint16_t port, uint16_t seg, enum hv_drop_reason r)
{
	if (likely(port < HV_MAX_PORTS)) {
		count_drop(c, port, seg, r);
		return;
	}
	HV_CNT_ADD(c->w->drops[r], 1);
	HV_CNT_ADD(c->w->seg[seg].drops, 1);
}

static void
tx_flush(struct worker_ctx *c, uint16_t port_id)
{
	struct tx_buf *b = &c->tx[port_id];
	const struct hv_port *p = c->st->ports[port_id];
	struct hv_worker *w = c->w;
	uint16_t sent = 0;
	uint64_t bytes = 0;

	if (b->n == 0)
		return;
	if (likely(p != NULL)) {
		uint16_t q = (uint16_t)(w->index % p->nb_txq);

		for (uint16_t i = 0; i < b->n; i++)
			bytes += rte_pktmbuf_pkt_len(b->pkts[i]);
		if (p->kind == HV_PORT_VHOST_USER)
			sent = hv_vhost_tx(p, q, b->pkts, b->n);
		else
			sent = rte_eth_tx_burst(p->eth_port, q, b->pkts, b->n);
		if (unlikely(sent < b->n)) {
			for (uint16_t i = sent; i < b->n; i++)
				bytes -= rte_pktmbuf_pkt_len(b->pkts[i]);
		}
		HV_CNT_ADD(w->port[port_id].tx_packets, sent);
		HV_CNT_ADD(w->port[port_id].tx_bytes, bytes);
		if (likely(p->segment < HV_MAX_SEGMENTS)) /* an uplink is in none */
			HV_CNT_ADD(w->seg[p->segment].tx_packets, sent);
		HV_CNT_ADD(w->tx_packets, sent);
	}
	if (unlikely(sent < b->n)) {
		uint16_t lost = (uint16_t)(b->n - sent);

		/* Counted against the destination port: its queue was full. */
		HV_CNT_ADD(w->drops[HV_DROP_TX_FULL], lost);
		HV_CNT_ADD(w->port[port_id].drops[HV_DROP_TX_FULL], lost);
		if (p != NULL && p->segment < HV_MAX_SEGMENTS)
			HV_CNT_ADD(w->seg[p->segment].drops, lost);
		rte_pktmbuf_free_bulk(&b->pkts[sent], lost);
	}
	b->n = 0;
}

static inline void
tx_enqueue(struct worker_ctx *c, uint16_t port_id, struct rte_mbuf *m)
{
	struct tx_buf *b = &c->tx[port_id];

	if (b->n == 0)
		c->dirty[c->n_dirty++] = port_id;
	b->pkts[b->n++] = m;
	if (unlikely(b->n == HV_BURST)) {
		tx_flush(c, port_id);
		/* still listed as dirty; flushing an empty buffer is a no-op */
	}
}

static void
tx_flush_all(struct worker_ctx *c)
{
	for (uint16_t i = 0; i < c->n_dirty; i++)
		tx_flush(c, c->dirty[i]);
	c->n_dirty = 0;
}

/* ---- mirror taps (vswitch/mirror.c; docs/mirror.md) ---- */

/* A mirror copy goes out of a mirror port through this worker's own tx buffer. */
static void
mirror_tx(void *arg, uint16_t port, struct rte_mbuf *m)
{
	tx_enqueue(arg, port, m);
}

/* Tap wire, verdict any: the frame as the guest sent it, right after it parsed. */
static inline void
mirror_wire(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf *m)
{
	uint32_t mask = c->st->mir.wire_any & c->st->mir.in[in->id];
	struct hv_mirror_pkt info = {.in_port = in->id,
				     .out_port = HV_MIRROR_NONE,
				     .seg = in->segment,
				     .verdict = HV_MIRROR_V_ANY,
				     .in_name = in->name};

	if (likely(mask == 0))
		return;
	hv_mirror_tap(&c->st->mir, &c->mwc, mask, m, &info);
}

/* Tap wire, verdict allowed or blocked: the same bytes, once the firewall decided. */
static inline void
mirror_verdict(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf *m, bool allowed,
	       const char *rule)
{
	uint32_t mask = c->st->mir.wire_verdict & c->st->mir.in[in->id];
	struct hv_mirror_pkt info = {.in_port = in->id,
				     .out_port = HV_MIRROR_NONE,
				     .seg = in->segment,
				     .verdict = allowed ? HV_MIRROR_V_ALLOWED : HV_MIRROR_V_BLOCKED,
				     .in_name = in->name,
				     .rule = rule};

	if (likely(mask == 0))
		return;
	hv_mirror_tap(&c->st->mir, &c->mwc, mask, m, &info);
}

/*
 * Tap delivered: the frame handed to OUT, as its receiver gets it. A flooded
 * frame is copied once per session, at the first delivery the session
 * selects: DONE holds the sessions that copied it already. Returns DONE.
 */
static inline uint32_t
mirror_delivered(struct worker_ctx *c, const struct hv_port *in, const struct hv_port *out,
		 struct rte_mbuf *m, uint32_t done)
{
	uint32_t mask =
		c->st->mir.delivered & (c->st->mir.in[in->id] | c->st->mir.out[out->id]) & ~done;
	struct hv_mirror_pkt info = {.in_port = in->id,
				     .out_port = out->id,
				     .seg = in->segment,
				     .verdict = HV_MIRROR_V_ALLOWED,
				     .in_name = in->name,
				     .out_name = out->name};

	if (likely(mask == 0))
		return done;
	hv_mirror_tap(&c->st->mir, &c->mwc, mask, m, &info);
	return done | mask;
}

static uint16_t vx_flood(struct worker_ctx *c, uint16_t in_port, uint16_t seg, struct rte_mbuf *m,
			 const struct hv_pkt_meta *pm, const uint8_t *icmp_src);

/*
 * Send @m to every port of its segment except @in, and to the segment's
 * remote VTEPs when it came from a local port (a frame from the overlay is
 * never sent back into it: split horizon).
 */
static void
flood(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf *m,
      const struct hv_pkt_meta *pm)
{
	const struct hv_dp_seg *seg = &c->st->segs[in->segment];
	/* a local ingress port is a member of its own segment, a VTEP is not */
	const bool local = !hv_slot_is_vtep(in->id);
	uint16_t copies = (uint16_t)(seg->n_ports - (local ? 1 : 0)), remote = 0;
	uint32_t mirrored = 0;

	if (c->st->vx != NULL && local)
		remote = vx_flood(c, in->id, in->segment, m, pm, NULL);
	if (unlikely(copies == 0)) {
		if (remote == 0)
			count_drop(c, in->id, in->segment, HV_DROP_NO_DESTINATION);
		else
			HV_CNT_ADD(c->w->seg[in->segment].flooded, 1);
		rte_pktmbuf_free(m);
		return;
	}
	HV_CNT_ADD(c->w->seg[in->segment].flooded, 1);
	HV_CNT_ADD(c->w->stage.tx, copies);
	/*
	 * Every copy is the same mbuf with one reference per destination: the
	 * software PMDs copy the data out on tx and never write to it.
	 */
	if (copies > 1)
		/* a chained mbuf (a jumbo frame) needs the reference on every segment */
		for (struct rte_mbuf *s = m; s != NULL; s = s->next)
			rte_mbuf_refcnt_update(s, (int16_t)(copies - 1));
	for (uint16_t i = 0; i < seg->n_ports; i++) {
		uint16_t out = seg->ports[i];

		if (out == in->id)
			continue;
		if (unlikely(c->st->mir.delivered != 0))
			mirrored = mirror_delivered(c, in, c->st->ports[out], m, mirrored);
		tx_enqueue(c, out, m);
	}
}

static inline void
count_learn(struct hv_worker *w, uint8_t res)
{
	switch ((enum hv_mac_learn_result)res) {
	case HV_MAC_REFRESHED:
		break;
	case HV_MAC_LEARNED:
		HV_CNT_ADD(w->learn.learned, 1);
		break;
	case HV_MAC_MOVED:
		HV_CNT_ADD(w->learn.moved, 1);
		break;
	case HV_MAC_LIMIT_PORT:
		HV_CNT_ADD(w->learn.limit_port, 1);
		break;
	case HV_MAC_LIMIT_SEGMENT:
		HV_CNT_ADD(w->learn.limit_segment, 1);
		break;
	case HV_MAC_LIMIT_TABLE:
		HV_CNT_ADD(w->learn.limit_table, 1);
		break;
	case HV_MAC_STATIC_CONFLICT:
		HV_CNT_ADD(w->learn.static_conflict, 1);
		break;
	}
}

/* ---- the firewall stage (docs/firewall.md) ---- */

static inline void
drop_pkt(struct worker_ctx *c, uint16_t port, uint16_t seg, enum hv_drop_reason r,
	 struct rte_mbuf *m)
{
	count_drop(c, port, seg, r);
	rte_pktmbuf_free(m);
}

/* Neighbour discovery and MLD pass like ARP: the policy is about IP traffic. */
static inline bool
fw_bypass(const struct hv_pkt_meta *m)
{
	if (m->l3 == HV_L3_ARP)
		return true;
	if (m->l3 == HV_L3_IPV6 && m->l4_proto == 58 && (m->flags & HV_PKT_F_L4)) {
		uint8_t t = m->icmp_type;

		return (t >= 133 && t <= 137) || (t >= 130 && t <= 132) || t == 143;
	}
	return false;
}

/*
 * What the classifier sees of a packet from policy segment PSEG to DPSEG
 * that came in on the port the policy numbers IN_PORT (0: one it does not name).
 */
static inline void
fw_pkt_of(const struct hv_pkt_meta *m, uint16_t pseg, uint16_t dpseg, uint8_t in_port,
	  struct hv_fw_pkt *k)
{
	k->family = m->l3 == HV_L3_IPV4 ? 4 : 6;
	k->proto = m->l4_proto;
	k->in_port = in_port;
	k->src_seg = pseg;
	k->dst_seg = dpseg; /* another segment's when the packet is routed */
	memcpy(k->src, m->src_ip, 16);
	memcpy(k->dst, m->dst_ip, 16);
	k->sport = k->dport = 0;
	if (!(m->flags & HV_PKT_F_L4))
		return;
	if (m->l4_proto == 6 || m->l4_proto == 17) {
		k->sport = m->sport;
		k->dport = m->dport;
	} else if (m->l4_proto == 1 || m->l4_proto == 58) {
		k->dport = (uint16_t)(m->icmp_type << 8 | m->icmp_code);
	}
}

/*
 * A connection admitted under an older policy: still allowed by the one in
 * force? Re-stamps it when it is.
 */
static bool
fw_recheck(struct worker_ctx *c, const struct hv_fw *fw, uint32_t slot)
{
	const struct hv_ct_entry *e = &c->ct->e[slot];
	struct hv_fw_pkt k;
	const struct hv_fw_pkt *kp = &k;
	uint32_t rule;

	hv_fw_pkt_of_entry(c->st->seg_pol, c->st->port_pol, e, &k);
	hv_fw_classify(fw, &kp, 1, &rule);
	if (fw->rules[rule].action != HV_FW_ALLOW)
		return false;
	hv_ct_restamp(c->ct, slot, rule, (uint32_t)fw->epoch);
	return true;
}

/*
 * Answer a rejected packet on the port it came from: a RST for TCP, ICMP
 * port unreachable for UDP (what a closed port says), administratively
 * prohibited for the rest. A reply that may not be sent (to a broadcast, about
 * an ICMP error, ...) or finds no mbuf is skipped; the drop is counted anyway.
 */
static void
send_reject(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf *m,
	    const struct hv_pkt_meta *pm)
{
	struct rte_mbuf *r;
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	bool v6 = pm->l3 == HV_L3_IPV6;
	size_t n;

	/* a sender behind a remote VTEP gets no answer (docs/overlay.md) */
	if (hv_slot_is_vtep(in->id))
		return;
	if (!hv_fwlog_bucket_take(&c->reject_bucket, c->now, rte_get_tsc_hz(), REJECT_RATE,
				  REJECT_BURST)) {
		HV_CNT_ADD(c->w->fw.rejects_ratelimited, 1);
		return;
	}
	r = rte_pktmbuf_alloc(c->sw->pool);
	if (r == NULL)
		return;
	if (pm->l4_proto == 6 && (pm->flags & HV_PKT_F_L4))
		n = hv_reply_tcp_rst(data, len, pm, rte_pktmbuf_mtod(r, uint8_t *),
				     rte_pktmbuf_tailroom(r));
	else
		n = hv_reply_icmp_error(data, len, pm, v6 ? 1 : 3,
					pm->l4_proto == 17 ? (v6 ? 4 : 3) : (v6 ? 1 : 13), 0, NULL,
					rte_pktmbuf_mtod(r, uint8_t *), rte_pktmbuf_tailroom(r));
	if (n == 0) {
		rte_pktmbuf_free(r);
		return;
	}
	r->data_len = (uint16_t)n;
	r->pkt_len = (uint32_t)n;
	HV_CNT_ADD(c->w->fw.rejects_sent, 1);
	tx_enqueue(c, in->id, r);
}

/* One line in the policy's verdict log, within the rule's rate. */
static void
fw_log(struct worker_ctx *c, struct hv_fw *fw, uint32_t rule, uint8_t verdict, const char *reason,
       const struct hv_port *in, uint16_t pseg, const struct hv_pkt_meta *m, struct rte_mbuf *mb)
{
	const struct hv_fw_rule *fr = &fw->rules[rule];
	struct hv_worker *w = c->w;
	struct hv_fwlog_rec rec;
	struct timespec ts;

	if (!hv_fwlog_bucket_take(&fw->bucket[w->index][rule], c->now, rte_get_tsc_hz(),
				  fr->log_rate, fr->log_burst)) {
		hv_fwlog_note_ratelimited(fw->log, w->index);
		HV_CNT_ADD(w->fw.log_ratelimited, 1);
		return;
	}
	memset(&rec, 0, offsetof(struct hv_fwlog_rec, snap));
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	rec.verdict = verdict;
	rec.family = m->l3 == HV_L3_IPV4 ? 4 : m->l3 == HV_L3_IPV6 ? 6 : 0;
	rec.proto = m->l4_proto;
	memcpy(rec.src_ip, m->src_ip, 16);
	memcpy(rec.dst_ip, m->dst_ip, 16);
	if (m->flags & HV_PKT_F_L4) {
		rec.sport = m->sport;
		rec.dport = m->dport;
		rec.icmp_type = m->icmp_type;
		rec.icmp_code = m->icmp_code;
	}
	snprintf(rec.rule, sizeof(rec.rule), "%s", fr->id);
	snprintf(rec.reason, sizeof(rec.reason), "%s", reason);
	snprintf(rec.segment, sizeof(rec.segment), "%s", hv_fw_segment_name(fw, pseg));
	snprintf(rec.port, sizeof(rec.port), "%s", in->name);
	rec.pkt_len = rte_pktmbuf_pkt_len(mb);
	if (verdict == HV_FWLOG_ALLOW)
		rec.no_pcap = 1;
	else
		hv_fwlog_rec_snap(&rec, mb);
	if (hv_fwlog_submit(fw->log, w->index, &rec))
		HV_CNT_ADD(w->fw.log_submitted, 1);
}

#define FW_OPEN	     1 /* allowed: open a connection */
#define FW_STATELESS 2 /* allowed: pass without one */

/*
 * Decide the N packets PKTS (metadata META, connection keys CP, destination
 * segments DSEG) that arrived on IN from segment SRC_SEG (IN's own, or the
 * source segment of frames a remote gateway routed); KEEP[k] says which go
 * on to forward. Dropped ones are freed and counted here.
 */
static inline bool
fw_tracked(const struct hv_ct_pkt *p)
{
	return p->kind != HV_CT_K_NONE && p->kind != HV_CT_K_ICMP_OTHER;
}

static void
fw_stage(struct worker_ctx *c, const struct hv_fw *fw_c, const struct hv_port *in, uint16_t src_seg,
	 struct rte_mbuf **pkts, const struct hv_pkt_meta *meta, struct hv_ct_pkt *cp,
	 const uint16_t *dseg, uint16_t n, const uint16_t *tr, uint16_t n_tr, int32_t *slot,
	 bool *keep)
{
	struct hv_fw *fw = (struct hv_fw *)(uintptr_t)fw_c; /* its counters only */
	struct hv_worker *w = c->w;
	struct hv_ct *ct = c->ct;
	const uint16_t seg = in->segment, pseg = c->st->seg_pol[src_seg];
	const bool mgmt = pseg < HV_FW_MAX_SEGS && fw->seg_mgmt[pseg];
	uint32_t seg_limit = 0;
	uint16_t cls[HV_BURST];
	uint8_t mode[HV_BURST];
	uint16_t n_cls = 0, n_ip = 0;
	struct hv_fw_pkt fk[HV_BURST];
	const struct hv_fw_pkt *fkp[HV_BURST];
	uint32_t res[HV_BURST];
	uint64_t deleted;	 /* the table's deletions when the lookups finished */
	uint32_t port_limit = 0; /* 0: the table's default (--port-conn-limit) */

	if (pseg < HV_FW_MAX_SEGS && fw->seg_conn_limit[pseg])
		seg_limit = (fw->seg_conn_limit[pseg] + c->st->n_workers - 1) / c->st->n_workers;
	if (c->st->port_conn_limit[in->id])
		port_limit =
			(c->st->port_conn_limit[in->id] + c->st->n_workers - 1) / c->st->n_workers;
	for (uint16_t k = 0; k < n; k++) {
		const struct hv_pkt_meta *m = &meta[k];

		keep[k] = true;
		if (fw_bypass(m)) {
			HV_CNT_ADD(w->fw.bypass, 1);
			mirror_verdict(c, in, pkts[k], true, "bypass");
			continue;
		}
		if (m->l3 == HV_L3_NONE) {
			if (fw->rules[fw->n_rules].action != HV_FW_ALLOW) {
				keep[k] = false;
				mirror_verdict(c, in, pkts[k], false, "fw_non_ip");
				drop_pkt(c, in->id, seg, HV_DROP_FW_NON_IP, pkts[k]);
			} else {
				mirror_verdict(c, in, pkts[k], true, fw->rules[fw->n_rules].id);
			}
			continue;
		}
		n_ip++;
		if (!fw_tracked(&cp[k])) {
			mode[k] = FW_STATELESS;
			cls[n_cls++] = k;
		}
		/* the tracked ones were looked up before learning (rx_burst_process) */
	}
	HV_CNT_ADD(w->fw.checked, n_ip);
	for (uint16_t i = 0; i < n_tr; i++)
		slot[i] = hv_ct_lookup_finish(ct, &cp[tr[i]], slot[i], c->now);
	deleted = ct->stats.deleted;
	for (uint16_t i = 0; i < n_tr; i++) {
		const uint16_t k = tr[i];
		const struct hv_pkt_meta *m = &meta[k];
		struct rte_mbuf *mb = pkts[k];
		enum hv_drop_reason r;
		bool reopen = false;

		/*
		 * An earlier packet of this burst may have deleted the entry found
		 * for this one (a reopen, a cut): look such a packet up again. No
		 * connection opens before the loop below, so a deleted entry is
		 * still free here, and no deletion at all is the common case.
		 */
		if (slot[i] >= 0 && unlikely(ct->stats.deleted != deleted) && !ct->e[slot[i]].used)
			slot[i] = hv_ct_lookup(ct, &cp[k], c->now);
		if (slot[i] >= 0) {
			uint32_t s = (uint32_t)slot[i];

			if (unlikely(ct->e[s].epoch != (uint32_t)fw->epoch) &&
			    !fw_recheck(c, fw, s)) {
				hv_ct_delete(ct, s);
				__atomic_store_n(&ct->stats.policy_cut, ct->stats.policy_cut + 1,
						 __ATOMIC_RELAXED);
				keep[k] = false;
				mirror_verdict(c, in, mb, false, "ct_policy_cut");
				drop_pkt(c, in->id, seg, HV_DROP_CT_POLICY_CUT, mb);
				continue;
			}
			r = hv_ct_track(ct, s, &cp[k], m, rte_pktmbuf_mtod(mb, const uint8_t *),
					rte_pktmbuf_data_len(mb), c->now, &reopen);
			if (unlikely(r != HV_DROP_NONE)) {
				keep[k] = false;
				mirror_verdict(c, in, mb, false, hv_drop_name(r));
				drop_pkt(c, in->id, seg, r, mb);
				continue;
			}
			if (likely(!reopen)) {
				if (unlikely(c->st->mir.wire_verdict != 0))
					mirror_verdict(c, in, mb, true,
						       ct->e[s].rule <= fw->n_rules
							       ? fw->rules[ct->e[s].rule].id
							       : NULL);
				if (cp[k].kind == HV_CT_K_ICMP_ERROR)
					HV_CNT_ADD(w->fw.related, 1);
				else
					HV_CNT_ADD(w->fw.established, 1);
				continue;
			}
		}
		r = hv_ct_may_open(&cp[k], m);
		if (r != HV_DROP_NONE) {
			keep[k] = false;
			mirror_verdict(c, in, mb, false, hv_drop_name(r));
			drop_pkt(c, in->id, seg, r, mb);
			continue;
		}
		mode[k] = FW_OPEN;
		cls[n_cls++] = k;
	}
	if (n_cls == 0)
		return;
	for (uint16_t i = 0; i < n_cls; i++) {
		fw_pkt_of(&meta[cls[i]], pseg, c->st->seg_pol[dseg[cls[i]]],
			  c->st->port_pol[in->id], &fk[i]);
		fkp[i] = &fk[i];
	}
	hv_fw_classify(fw, fkp, n_cls, res);
	for (uint16_t i = 0; i < n_cls; i++) {
		const uint16_t k = cls[i];
		const struct hv_fw_rule *fr = &fw->rules[res[i]];
		struct rte_mbuf *mb = pkts[k];

		if (fr->action == HV_FW_ALLOW && mode[k] == FW_OPEN) {
			enum hv_drop_reason why = HV_DROP_NONE;

			/* a connection the limits refuse is not the rule's: counted by reason */
			if (hv_ct_open(ct, &cp[k], &meta[k], rte_pktmbuf_mtod(mb, const uint8_t *),
				       rte_pktmbuf_data_len(mb), in->id, src_seg, mgmt, seg_limit,
				       port_limit, res[i], (uint32_t)fw->epoch, c->now, &why) < 0) {
				keep[k] = false;
				mirror_verdict(c, in, mb, false, hv_drop_name(why));
				drop_pkt(c, in->id, seg, why, mb);
				continue;
			}
			HV_CNT_ADD(w->fw.new_allowed, 1);
		} else if (fr->action == HV_FW_ALLOW) {
			HV_CNT_ADD(w->fw.stateless, 1);
		}
		hv_fw_count(fw, w->index, res[i], rte_pktmbuf_pkt_len(mb));
		if (unlikely(fr->log) && fw->log != NULL)
			fw_log(c, fw, res[i],
			       fr->action == HV_FW_ALLOW   ? HV_FWLOG_ALLOW
			       : fr->action == HV_FW_BLOCK ? HV_FWLOG_BLOCK
							   : HV_FWLOG_REJECT,
			       res[i] == fw->n_rules ? "default" : "rule", in, pseg, &meta[k], mb);
		mirror_verdict(c, in, mb, fr->action == HV_FW_ALLOW, fr->id);
		if (fr->action == HV_FW_ALLOW)
			continue;
		keep[k] = false;
		if (fr->action == HV_FW_REJECT) {
			send_reject(c, in, mb, &meta[k]);
			drop_pkt(c, in->id, seg, HV_DROP_FW_REJECT, mb);
		} else {
			drop_pkt(c, in->id, seg, HV_DROP_FW_BLOCK, mb);
		}
	}
}

/* ---- the overlay (vxlan/, docs/overlay.md) ---- */

/* A drop counted against a port alone: an uplink belongs to no segment. */
static inline void
vx_drop(struct worker_ctx *c, uint16_t port, enum hv_drop_reason r, struct rte_mbuf *m)
{
	HV_CNT_ADD(c->w->drops[r], 1);
	HV_CNT_ADD(c->w->port[port].drops[r], 1);
	rte_pktmbuf_free(m);
}

/* Send the N bytes at FRAME out of the uplink, padded to the Ethernet minimum. */
static void
vx_send_raw(struct worker_ctx *c, const struct hv_vx_state *vx, const uint8_t *frame, size_t n)
{
	struct rte_mbuf *r = rte_pktmbuf_alloc(c->sw->pool);
	uint8_t *b;

	if (r == NULL || n > rte_pktmbuf_tailroom(r)) {
		rte_pktmbuf_free(r);
		return;
	}
	b = rte_pktmbuf_mtod(r, uint8_t *);
	memcpy(b, frame, n);
	if (n < 60) {
		memset(b + n, 0, 60 - n);
		n = 60;
	}
	r->data_len = (uint16_t)n;
	r->pkt_len = (uint32_t)n;
	tx_enqueue(c, vx->uplink, r);
}

/* Ask for the underlay MAC of VTEP when it is due (one worker wins the claim). */
static void
vx_ask(struct worker_ctx *c, const struct hv_vx_state *vx, uint16_t vtep)
{
	uint8_t req[64];
	size_t n;

	if (!hv_vx_neigh_should_ask(&vx->neigh[vtep], c->now, rte_get_tsc_hz()))
		return;
	n = hv_vx_arp_request(vx, vtep, req, sizeof(req));
	if (n == 0)
		return;
	HV_CNT_ADD(c->w->vx.arp_requests, 1);
	vx_send_raw(c, vx, req, n);
}

/* Worker 0, every 100 ms: resolve the peers nobody sent to yet, refresh the others. */
static void
vx_poll(struct worker_ctx *c)
{
	const struct hv_vx_state *vx = c->st->vx;

	c->vx_next_poll = c->now + rte_get_tsc_hz() / 10;
	for (uint16_t i = 0; i < vx->n_peers; i++)
		vx_ask(c, vx, vx->peers[i].vtep);
}

/*
 * @m (from local port @in_port, in segment @seg) does not fit the overlay
 * MTU: tell the sender, when it may be told: ICMP fragmentation needed for
 * IPv4 with DF, packet too big for IPv6, within the reject rate; from
 * @icmp_src when not NULL (a routed frame: its sender's gateway), else from
 * the address the sender addressed. The caller frees @m.
 */
static void
vx_too_big(struct worker_ctx *c, const struct hv_vx_state *vx, uint16_t in_port, uint16_t seg,
	   struct rte_mbuf *m, const struct hv_pkt_meta *pm, const uint8_t *icmp_src)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	struct rte_mbuf *r;
	uint8_t type;
	size_t n;

	count_drop_from(c, in_port, seg, HV_DROP_VXLAN_TOO_BIG);
	if (in_port >= HV_MAX_LOCAL_PORTS || c->st->ports[in_port] == NULL)
		return; /* hvnetd's own frame, or its sender's port is gone */
	if (pm->l3 == HV_L3_IPV4) {
		/* without DF the sender asked for fragmentation: RFC 7348 4.3 forbids it here */
		if ((uint32_t)pm->l3_off + 8 > len || !(d[pm->l3_off + 6] & 0x40))
			return;
		type = 3; /* destination unreachable, code 4: fragmentation needed */
	} else if (pm->l3 == HV_L3_IPV6) {
		type = 2; /* packet too big */
	} else {
		return;
	}
	if (!hv_fwlog_bucket_take(&c->reject_bucket, c->now, rte_get_tsc_hz(), REJECT_RATE,
				  REJECT_BURST))
		return;
	r = rte_pktmbuf_alloc(c->sw->pool);
	if (r == NULL)
		return;
	n = hv_reply_icmp_error(d, len, pm, type, type == 3 ? 4 : 0, vx->mtu, icmp_src,
				rte_pktmbuf_mtod(r, uint8_t *), rte_pktmbuf_tailroom(r));
	if (n == 0) {
		rte_pktmbuf_free(r);
		return;
	}
	r->data_len = (uint16_t)n;
	r->pkt_len = (uint32_t)n;
	HV_CNT_ADD(c->w->vx.too_big_replies, 1);
	tx_enqueue(c, in_port, r);
}

/* Bytes [off, off + n) of @m into @dst; false when @m is shorter. */
static inline bool
vx_read(const struct rte_mbuf *m, uint32_t off, uint32_t n, uint8_t *dst)
{
	const void *p = rte_pktmbuf_read(m, off, n, dst);

	if (p == NULL)
		return false;
	if (p != dst)
		memcpy(dst, p, n);
	return true;
}

/*
 * Encapsulate @m (parsed as @pm, from local port @in_port, HV_GW_NO_PORT for
 * hvnetd's own frames; in segment @seg) for VTEP @vtep with @vni and queue
 * it on the uplink. @own: @m is ours to send or free (a
 * unicast); else it is left alone (a flood copy). In place when @m is ours,
 * untagged, direct, in one piece and has the headroom; otherwise into a new
 * buffer, without the VLAN tags. Returns whether a copy went out; a failure
 * is counted against @in_port.
 */
static bool
vx_send(struct worker_ctx *c, const struct hv_vx_state *vx, uint16_t in_port, uint16_t seg,
	struct rte_mbuf *m, const struct hv_pkt_meta *pm, uint16_t vtep, uint32_t vni, bool own)
{
	const uint16_t sport = hv_vx_flow_port(pm), slot = (uint16_t)(HV_VTEP_SLOT_BASE + vtep);
	enum hv_drop_reason why = HV_DROP_NONE;
	struct rte_mbuf *out = NULL;
	bool m_done = !own; /* not ours, or already sent or freed */

	if (own && pm->n_vlans == 0 && RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 &&
	    rte_pktmbuf_is_contiguous(m) && rte_pktmbuf_headroom(m) >= HV_VX_HDR_LEN) {
		uint32_t inner = rte_pktmbuf_pkt_len(m);
		uint8_t *b = (uint8_t *)rte_pktmbuf_prepend(m, HV_VX_HDR_LEN);

		why = hv_vx_encap(vx, vtep, vni, sport, b, inner);
		if (why == HV_DROP_NONE) {
			out = m;
			m_done = true;
		} else {
			rte_pktmbuf_adj(m, HV_VX_HDR_LEN);
		}
	} else {
		/* the inner frame without VLAN tags: a guest's VLAN never leaves the host */
		uint32_t tags = 4u * pm->n_vlans, inner = rte_pktmbuf_pkt_len(m) - tags;
		struct rte_mbuf *r = rte_pktmbuf_alloc(c->sw->pool);
		uint8_t *b;

		if (r == NULL || HV_VX_HDR_LEN + inner > rte_pktmbuf_tailroom(r)) {
			why = r == NULL ? HV_DROP_VXLAN_NO_BUFFER : HV_DROP_VXLAN_TOO_BIG;
			rte_pktmbuf_free(r);
		} else {
			b = rte_pktmbuf_mtod(r, uint8_t *);
			if (!vx_read(m, 0, 12, b + HV_VX_HDR_LEN) ||
			    !vx_read(m, 12 + tags, inner - 12, b + HV_VX_HDR_LEN + 12))
				why = HV_DROP_VXLAN_NO_BUFFER;
			else
				why = hv_vx_encap(vx, vtep, vni, sport, b, inner);
			if (why == HV_DROP_NONE) {
				r->data_len = (uint16_t)(HV_VX_HDR_LEN + inner);
				r->pkt_len = HV_VX_HDR_LEN + inner;
				out = r;
			} else {
				rte_pktmbuf_free(r);
			}
		}
	}
	if (!m_done)
		rte_pktmbuf_free(m); /* ours, and copied or not sent */
	if (out == NULL) {
		if (why == HV_DROP_VXLAN_NO_NEIGHBOUR)
			vx_ask(c, vx, vtep);
		count_drop_from(c, in_port, seg, why);
		return false;
	}
	HV_CNT_ADD(c->w->vx.encap, 1);
	HV_CNT_ADD(c->w->port[slot].tx_packets, 1);
	HV_CNT_ADD(c->w->port[slot].tx_bytes, rte_pktmbuf_pkt_len(out));
	HV_CNT_ADD(c->w->stage.tx, 1);
	tx_enqueue(c, vx->uplink, out);
	return true;
}

/*
 * Frame @m of segment @seg (its VNI is that segment's), from port @in_port,
 * for a MAC learned behind VTEP @vtep. A routed frame's @seg is its
 * destination segment and @icmp_src its sender's gateway's address (see
 * vx_too_big), NULL for a switched frame. Returns false when that VTEP no
 * longer carries the segment (the caller floods), true when @m was sent or
 * dropped.
 */
static bool
vx_unicast(struct worker_ctx *c, uint16_t in_port, uint16_t seg, struct rte_mbuf *m,
	   const struct hv_pkt_meta *pm, uint16_t vtep, const uint8_t *icmp_src)
{
	const struct hv_vx_state *vx = c->st->vx;
	const struct hv_vx_peer *peer;
	uint32_t vni;

	if (vx == NULL)
		return false;
	peer = hv_vx_peer_find(vx, vx->vtep_ip[vtep]);
	vni = vx->seg_vni[seg];
	if (peer == NULL || peer->vtep != vtep || vni == HV_VX_NO_VNI ||
	    !hv_vx_peer_has_seg(peer, seg))
		return false;
	/* from the overlay back into it: never (split horizon) */
	if (hv_slot_is_vtep(in_port)) {
		count_drop(c, in_port, seg, HV_DROP_HAIRPIN);
		rte_pktmbuf_free(m);
		return true;
	}
	if (!hv_vx_fits(vx, rte_pktmbuf_pkt_len(m) - 14u - 4u * pm->n_vlans)) {
		vx_too_big(c, vx, in_port, seg, m, pm, icmp_src);
		rte_pktmbuf_free(m);
		return true;
	}
	vx_send(c, vx, in_port, seg, m, pm, vtep, vni, true);
	return true;
}

/*
 * Head-end replication of @m (of segment @seg, from port @in_port) to the
 * segment's VTEPs; returns the copies sent. @m is left to the caller.
 */
static uint16_t
vx_flood(struct worker_ctx *c, uint16_t in_port, uint16_t seg, struct rte_mbuf *m,
	 const struct hv_pkt_meta *pm, const uint8_t *icmp_src)
{
	const struct hv_vx_state *vx = c->st->vx;
	uint16_t n, off, sent = 0;
	uint32_t vni;

	vni = vx->seg_vni[seg];
	n = vx->flood_n[seg];
	if (vni == HV_VX_NO_VNI || n == 0)
		return 0;
	if (!hv_vx_fits(vx, rte_pktmbuf_pkt_len(m) - 14u - 4u * pm->n_vlans)) {
		vx_too_big(c, vx, in_port, seg, m, pm, icmp_src);
		return 0;
	}
	off = vx->flood_off[seg];
	for (uint16_t i = 0; i < n; i++)
		if (vx_send(c, vx, in_port, seg, m, pm, vx->flood[off + i], vni, false)) {
			HV_CNT_ADD(c->w->vx.flood_copies, 1);
			sent++;
		}
	return sent;
}

/* The ingress of frames decapsulated from VTEP @vtep into segment @seg, or NULL. */
static const struct hv_port *
vx_ingress(struct worker_ctx *c, uint16_t vtep, uint16_t seg)
{
	const struct hv_vx_state *vx = c->st->vx;
	struct hv_port *in = &c->vx_in;
	const uint8_t *ip;

	if (vx == NULL || vtep >= HV_VX_MAX_VTEPS || seg >= HV_MAX_SEGMENTS ||
	    vx->seg_vni[seg] == HV_VX_NO_VNI)
		return NULL;
	ip = vx->vtep_ip[vtep];
	in->segment = seg;
	in->allow_vlan = false;
	/* the name only when the VTEP or its address changed: this runs per burst */
	if (in->id != HV_VTEP_SLOT_BASE + vtep || memcmp(c->vx_in_ip, ip, 4) != 0) {
		in->id = (uint16_t)(HV_VTEP_SLOT_BASE + vtep);
		memcpy(c->vx_in_ip, ip, 4);
		snprintf(in->name, sizeof(in->name), "vtep:%u.%u.%u.%u", ip[0], ip[1], ip[2],
			 ip[3]);
	}
	return in;
}

/* ---- the gateway stage (docs/routing.md; the logic is vswitch/gateway.c) ---- */

/* Send the LEN bytes at BUF, built by hvnetd, on port PORT. */
static void
gw_emit(struct worker_ctx *c, uint16_t port, const uint8_t *buf, size_t len)
{
	struct rte_mbuf *r = rte_pktmbuf_alloc(c->sw->pool);

	if (r == NULL)
		return;
	if (len > rte_pktmbuf_tailroom(r)) {
		rte_pktmbuf_free(r);
		return;
	}
	memcpy(rte_pktmbuf_mtod(r, uint8_t *), buf, len);
	r->data_len = (uint16_t)len;
	r->pkt_len = (uint32_t)len;
	tx_enqueue(c, port, r);
}

/*
 * Send M to every port of segment SEG (a routed frame's unknown destination,
 * the gateway's own ARP/NS, its advertisements) and, when PM is given, to
 * the segment's remote VTEPs too (head-end replication; ICMP_SRC as for
 * vx_unicast). IN_PORT: the port the frame came from, HV_GW_NO_PORT for
 * hvnetd's own.
 */
static void
flood_seg(struct worker_ctx *c, uint16_t seg, uint16_t in_port, struct rte_mbuf *m,
	  const struct hv_pkt_meta *pm, const uint8_t *icmp_src)
{
	const struct hv_dp_seg *s = &c->st->segs[seg];
	uint16_t remote = 0;

	if (pm != NULL && c->st->vx != NULL)
		remote = vx_flood(c, in_port, seg, m, pm, icmp_src);
	if (s->n_ports == 0) {
		if (remote != 0) {
			HV_CNT_ADD(c->w->seg[seg].flooded, 1);
			rte_pktmbuf_free(m);
			return;
		}
		count_drop_from(c, in_port, seg, HV_DROP_NO_DESTINATION);
		rte_pktmbuf_free(m);
		return;
	}
	HV_CNT_ADD(c->w->seg[seg].flooded, 1);
	HV_CNT_ADD(c->w->stage.tx, s->n_ports);
	if (s->n_ports > 1)
		for (struct rte_mbuf *x = m; x != NULL; x = x->next)
			rte_mbuf_refcnt_update(x, (int16_t)(s->n_ports - 1));
	for (uint16_t i = 0; i < s->n_ports; i++)
		tx_enqueue(c, s->ports[i], m);
}

/* The address of SSEG's gateway of PM's family: the source of ICMP errors about a routed packet. */
static inline const uint8_t *
route_icmp_src(const struct hv_gw *gw, uint16_t sseg, const struct hv_pkt_meta *pm)
{
	const struct hv_gw_seg *g = sseg < HV_GW_MAX_SEGS ? &gw->seg[sseg] : NULL;

	if (g == NULL || !g->on)
		return NULL;
	if (pm->l3 == HV_L3_IPV6)
		return g->has6 ? g->ip6 : NULL;
	return g->has4 ? g->ip4 : NULL;
}

static void gw_solicit(struct worker_ctx *c, const struct hv_gw *gw, uint16_t dseg, uint8_t family,
		       const uint8_t *addr);

/*
 * A routed frame to PM's destination in DSEG is flooded: its MAC is known
 * (declared, or a neighbour) but no MAC table entry says where it is. With
 * an overlay, ask for it (at most once a second per destination and
 * worker): its answer to the gateway reaches every host (docs/overlay.md),
 * which then learn its MAC behind its VTEP and stop flooding.
 */
static void
route_ask(struct worker_ctx *c, const struct hv_gw *gw, uint16_t dseg, const struct hv_pkt_meta *pm)
{
	const uint8_t family = pm->l3 == HV_L3_IPV6 ? 6 : 4;
	struct gw_asked *a;

	for (unsigned i = 0; i < GW_ASK_SLOTS; i++) {
		a = &c->asked[i];
		if (a->at != 0 && a->dseg == dseg && a->family == family &&
		    memcmp(a->addr, pm->dst_ip, 16) == 0) {
			if (c->now - a->at < rte_get_tsc_hz())
				return;
			a->at = c->now;
			gw_solicit(c, gw, dseg, family, pm->dst_ip);
			return;
		}
	}
	a = &c->asked[c->ask_next++ % GW_ASK_SLOTS];
	a->at = c->now;
	a->dseg = dseg;
	a->family = family;
	memcpy(a->addr, pm->dst_ip, 16);
	gw_solicit(c, gw, dseg, family, pm->dst_ip);
}

/*
 * A routed frame, rewritten and resolved (PM: as it arrived from IN_PORT in
 * SSEG): to its destination's port in DSEG; to the VTEP its destination's MAC
 * is learned behind, with DSEG's VNI; flooded in DSEG (local ports and
 * VTEPs) when its MAC is not learned.
 */
static void
route_tx(struct worker_ctx *c, const struct hv_gw *gw, uint16_t in_port, uint16_t sseg,
	 uint16_t dseg, struct rte_mbuf *m, const struct hv_pkt_meta *pm)
{
	const uint8_t *dst = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct hv_port *out;
	int d;

	/* through this worker's MAC cache, as switched frames are */
	hv_mac_table_lookup_bulk(c->sw->macs, c->mac_cache, dseg, &dst, 1, &d);
	out = d >= 0 ? c->st->ports[d] : NULL;

	HV_CNT_ADD(c->w->gw.routed, 1);
	if (sseg < HV_GW_MAX_SEGS && dseg < HV_GW_MAX_SEGS)
		HV_CNT_ADD(c->w->pair[sseg][dseg].routed, 1);
	if (out != NULL && out->segment == dseg) {
		HV_CNT_ADD(c->w->stage.tx, 1);
		tx_enqueue(c, out->id, m);
		return;
	}
	if (c->st->vx == NULL) {
		flood_seg(c, dseg, HV_GW_NO_PORT, m, NULL, NULL);
		return;
	}
	/* the destination is on another host, or unknown: the overlay of DSEG */
	if (d >= 0 && hv_slot_is_vtep((uint16_t)d) &&
	    vx_unicast(c, in_port, dseg, m, pm, (uint16_t)(d - HV_VTEP_SLOT_BASE),
		       route_icmp_src(gw, sseg, pm)))
		return;
	flood_seg(c, dseg, in_port, m, pm, route_icmp_src(gw, sseg, pm));
	route_ask(c, gw, dseg, pm);
}

static inline uint64_t
neigh_max_age(const struct worker_ctx *c)
{
	return c->neigh_max_age;
}

/* Ask segment DSEG for (FAMILY, ADDR) with the gateway's ARP request or NS. */
static void
gw_solicit(struct worker_ctx *c, const struct hv_gw *gw, uint16_t dseg, uint8_t family,
	   const uint8_t *addr)
{
	uint8_t buf[128];
	size_t n = hv_gw_solicit(gw, dseg, family, addr, buf, sizeof(buf));
	struct hv_pkt_meta pm;
	struct rte_mbuf *r;

	if (n == 0 || (r = rte_pktmbuf_alloc(c->sw->pool)) == NULL)
		return;
	memcpy(rte_pktmbuf_mtod(r, uint8_t *), buf, n);
	r->data_len = (uint16_t)n;
	r->pkt_len = (uint32_t)n;
	HV_CNT_ADD(c->w->gw.solicits, 1);
	/* asked on the remote hosts too: the destination may be a guest there */
	flood_seg(c, dseg, HV_GW_NO_PORT, r,
		  c->st->vx != NULL && hv_pkt_parse(buf, (uint32_t)n, &pm) == HV_DROP_NONE ? &pm
											   : NULL,
		  NULL);
}

/* Route M (allowed by the firewall) from IN's segment into DSEG. */
static void
route_forward(struct worker_ctx *c, const struct hv_gw *gw, const struct hv_port *in,
	      struct rte_mbuf *m, const struct hv_pkt_meta *pm, uint16_t dseg)
{
	uint8_t family = pm->l3 == HV_L3_IPV6 ? 6 : 4;
	struct gw_pending *p;
	bool asked = false;
	int rc;

	rc = hv_gw_route_out(gw, c->sw->neigh, dseg, rte_pktmbuf_mtod(m, uint8_t *),
			     rte_pktmbuf_data_len(m), pm, c->now, neigh_max_age(c));
	if (likely(rc == 0)) {
		route_tx(c, gw, in->id, in->segment, dseg, m, pm);
		return;
	}
	if (rc != -ENOENT) {
		drop_pkt(c, in->id, in->segment, HV_DROP_GW_TTL, m);
		return;
	}
	if (c->n_pend == GW_PENDING_MAX) {
		drop_pkt(c, in->id, in->segment, HV_DROP_GW_QUEUE_FULL, m);
		return;
	}
	for (uint16_t i = 0; i < c->n_pend && !asked; i++)
		asked = c->pend[i].dseg == dseg && c->pend[i].family == family &&
			memcmp(c->pend[i].addr, pm->dst_ip, 16) == 0;
	p = &c->pend[c->n_pend++];
	p->m = m;
	p->deadline = c->now + rte_get_tsc_hz() / 1000 * GW_PENDING_MS;
	p->in_port = in->id;
	p->sseg = in->segment;
	p->dseg = dseg;
	p->family = family;
	memcpy(p->addr, pm->dst_ip, 16);
	memcpy(p->src_mac, pm->src_mac, 6);
	HV_CNT_ADD(c->w->gw.queued, 1);
	if (!asked)
		gw_solicit(c, gw, dseg, family, pm->dst_ip);
}

/*
 * A routed packet whose destination never answered: ICMP host unreachable
 * (ICMPv6 address unreachable) to its sender, from the sender's gateway.
 * The frame was rewritten for the destination segment, so the metadata is
 * made to look as it arrived.
 */
static void
gw_unreachable(struct worker_ctx *c, const struct hv_gw *gw, const struct gw_pending *p)
{
	const uint8_t *data = rte_pktmbuf_mtod(p->m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(p->m);
	const struct hv_gw_seg *g;
	struct hv_pkt_meta m;
	uint8_t out[HV_REPLY_FRAME_MAX];
	size_t n;

	if (gw == NULL || p->sseg >= HV_GW_MAX_SEGS || !gw->seg[p->sseg].on ||
	    c->st->ports[p->in_port] == NULL || hv_pkt_parse(data, len, &m) != HV_DROP_NONE)
		return;
	g = &gw->seg[p->sseg];
	memcpy(m.src_mac, p->src_mac, 6);
	memcpy(m.dst_mac, g->mac, 6);
	if (!(p->family == 4 ? g->has4 : g->has6) ||
	    !hv_fwlog_bucket_take(&c->reject_bucket, c->now, rte_get_tsc_hz(), REJECT_RATE,
				  REJECT_BURST))
		return;
	n = hv_reply_icmp_error(data, len, &m, p->family == 4 ? 3 : 1, p->family == 4 ? 1 : 3, 0,
				p->family == 4 ? g->ip4 : g->ip6, out, sizeof(out));
	if (n == 0)
		return;
	HV_CNT_ADD(c->w->gw.replies_sent, 1);
	gw_emit(c, p->in_port, out, n);
}

/* Worker 0, every 30 s: each gateway that the file asks to advertises itself. */
static void
gw_ra_periodic(struct worker_ctx *c)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	const struct hv_gw *gw = c->st->gw;
	uint8_t out[HV_REPLY_FRAME_MAX];

	c->next_ra = c->now + 30 * rte_get_tsc_hz();
	for (uint16_t s = 0; gw != NULL && s < HV_GW_MAX_SEGS; s++) {
		size_t n;
		struct rte_mbuf *r;

		if (!gw->seg[s].ra || c->st->segs[s].n_ports == 0)
			continue;
		n = hv_gw_ra(gw, s, all_nodes, all_nodes_mac, out, sizeof(out));
		if (n == 0 || (r = rte_pktmbuf_alloc(c->sw->pool)) == NULL)
			continue;
		memcpy(rte_pktmbuf_mtod(r, uint8_t *), out, n);
		r->data_len = (uint16_t)n;
		r->pkt_len = (uint32_t)n;
		HV_CNT_ADD(c->w->gw.ra_sent, 1);
		flood_seg(c, s, HV_GW_NO_PORT, r, NULL,
			  NULL); /* each host's gateway advertises itself */
	}
}

/* The waiting packets whose destination answered go on; the expired are dropped. */
static void
gw_pending_poll(struct worker_ctx *c)
{
	const struct hv_gw *gw = c->st->gw;
	uint16_t kept = 0;

	for (uint16_t i = 0; i < c->n_pend; i++) {
		struct gw_pending *p = &c->pend[i];

		if (gw != NULL && p->dseg < HV_GW_MAX_SEGS && gw->seg[p->dseg].on &&
		    hv_gw_route_resolve(gw, c->sw->neigh, p->dseg, p->family, p->addr,
					rte_pktmbuf_mtod(p->m, uint8_t *), c->now,
					neigh_max_age(c)) == 0) {
			struct hv_pkt_meta pm;

			/* as it arrived: from its sender to its gateway (for the overlay) */
			if (hv_pkt_parse(rte_pktmbuf_mtod(p->m, const uint8_t *),
					 rte_pktmbuf_data_len(p->m), &pm) != HV_DROP_NONE) {
				drop_pkt(c, p->in_port, p->sseg, HV_DROP_GW_NO_NEIGH, p->m);
				continue;
			}
			memcpy(pm.src_mac, p->src_mac, 6);
			if (p->sseg < HV_GW_MAX_SEGS)
				memcpy(pm.dst_mac, gw->seg[p->sseg].mac, 6);
			route_tx(c, gw, p->in_port, p->sseg, p->dseg, p->m, &pm);
			continue;
		}
		if (gw == NULL || c->now > p->deadline) {
			gw_unreachable(c, gw, p);
			drop_pkt(c, p->in_port, p->sseg, HV_DROP_GW_NO_NEIGH, p->m);
			continue;
		}
		c->pend[kept++] = *p;
	}
	c->n_pend = kept;
}

/* Whether PM is an ARP reply or a neighbour advertisement to SEG's gateway. */
static inline bool
gw_is_answer(const struct hv_gw *gw, uint16_t seg, const struct hv_pkt_meta *pm)
{
	if (seg >= HV_GW_MAX_SEGS || memcmp(pm->dst_mac, gw->seg[seg].mac, 6) != 0)
		return false;
	if (pm->l3 == HV_L3_ARP)
		return pm->arp_op == 2;
	return pm->l3 == HV_L3_IPV6 && pm->l4_proto == 58 && (pm->flags & HV_PKT_F_L4) &&
	       pm->icmp_type == 136;
}

/*
 * Port security and the gateway stage for one parsed frame M of IN: the
 * drop reason, with *done set when the stage consumed (answered) the frame,
 * *routed and *dseg when it is for another segment.
 */
static enum hv_drop_reason
gw_stage(struct worker_ctx *c, const struct hv_gw *gw, const struct hv_port *in, struct rte_mbuf *m,
	 const struct hv_pkt_meta *pm, uint16_t *dseg, bool *routed, bool *done)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	uint8_t out[HV_REPLY_FRAME_MAX];
	enum hv_drop_reason why;
	enum hv_gw_verdict v;
	size_t out_len;

	*done = false;
	if (unlikely(gw->psec[in->id].lock))
		why = hv_portsec_lock_check(&c->sw->psec_lock[in->id], data, len, pm);
	else
		why = hv_portsec_check(&gw->psec[in->id], data, len, pm);
	if (unlikely(why != HV_DROP_NONE))
		return why;
	v = hv_gw_ingress(gw, c->sw->neigh, in->segment, in->id, data, len, pm, c->now, &c->w->gw,
			  dseg, &why, out, &out_len);
	if (likely(v == HV_GW_PASS))
		return HV_DROP_NONE;
	if (v == HV_GW_ROUTE) {
		*routed = true;
		/* the destination's neighbour entry comes in while the burst is firewalled */
		hv_neigh_prefetch(c->sw->neigh, *dseg, pm->l3 == HV_L3_IPV6 ? 6 : 4, pm->dst_ip);
		return HV_DROP_NONE;
	}
	if (out_len != 0) {
		if (why != HV_DROP_NONE) { /* an ICMP error: as rate-limited as rejects */
			if (!hv_fwlog_bucket_take(&c->reject_bucket, c->now, rte_get_tsc_hz(),
						  REJECT_RATE, REJECT_BURST))
				out_len = 0;
			else
				HV_CNT_ADD(c->w->gw.replies_sent, 1);
		}
		if (out_len != 0)
			gw_emit(c, in->id, out, out_len);
	}
	if (why == HV_DROP_NONE) {
		*done = true;
		/*
		 * A guest's ARP reply or NA to the gateway may answer another
		 * host's gateway (its request came over the overlay): every host
		 * of the segment gets a copy and learns the neighbour.
		 */
		if (unlikely(c->st->vx != NULL) && out_len == 0 &&
		    gw_is_answer(gw, in->segment, pm))
			vx_flood(c, in->id, in->segment, m, pm, NULL);
		rte_pktmbuf_free(m);
	}
	return why;
}

/* Packets of one burst for other workers, sent once the burst is parsed. */
struct handoff_buf {
	uint16_t n[HV_MAX_WORKERS];
	struct rte_mbuf *pkts[HV_MAX_WORKERS][HV_BURST];
};

/* Hand the collected packets to the workers that track their connections. */
static void
handoff_flush(struct worker_ctx *c, const struct hv_port *in, struct handoff_buf *hb)
{
	for (unsigned o = 0; o < c->st->n_workers; o++) {
		unsigned n = hb->n[o], sent;

		if (n == 0)
			continue;
		sent = rte_ring_mp_enqueue_burst(c->sw->handoff[o], (void **)hb->pkts[o], n, NULL);
		HV_CNT_ADD(c->w->fw.handoff_out, sent);
		for (unsigned i = sent; i < n; i++)
			drop_pkt(c, in->id, in->segment, HV_DROP_HANDOFF_FULL, hb->pkts[o][i]);
	}
}

/* Frames not sent by a remote gateway (the gw_src of rx_burst_process()). */
#define FROM_GUEST 0xffff

/*
 * The hand-off tag of a frame: its ingress slot (below 1024), its segment
 * (below 2048) and its gw_src (FROM_GUEST, or a segment below 64 with a
 * gateway), so that its owner processes it as it arrived.
 */
_Static_assert(HV_MAX_PORTS <= 1024 && HV_MAX_SEGMENTS <= 2048 && HV_GW_MAX_SEGS < 127,
	       "the hand-off tag holds a slot, a segment and a gateway source");
static inline uint32_t
handoff_tag(uint16_t slot, uint16_t seg, uint16_t gw_src)
{
	return slot | (uint32_t)seg << 10 | (uint32_t)(gw_src == FROM_GUEST ? 0 : gw_src + 1) << 21;
}

/*
 * One rx burst of one port, stage by stage over the whole burst, so that the
 * MAC table is probed with one bulk lookup for the sources and one for the
 * destinations instead of two lookups per frame. GW_SRC is FROM_GUEST except
 * for frames from a VTEP that a remote host's gateway sent (docs/overlay.md,
 * "Routing across hosts"): then it is the segment they were routed from (or
 * their own for the gateway's ARP/NS), their source MAC (the gateway's) is
 * not learned and the firewall sees them from that segment.
 */
static void
rx_burst_process(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf **pkts, uint16_t n,
		 bool handed, uint16_t gw_src)
{
	struct hv_worker *w = c->w;
	struct hv_mac_table *macs = c->sw->macs;
	struct hv_port_counters *pc = &w->port[in->id];
	const uint16_t seg = in->segment, src_seg = gw_src == FROM_GUEST ? seg : gw_src;
	struct hv_pkt_meta meta[HV_BURST];
	const uint8_t *src[HV_BURST], *dst[HV_BURST];
	uint16_t idx[HV_BURST], uidx[HV_BURST];
	uint8_t learn_res[HV_BURST];
	int dst_port[HV_BURST];
	uint16_t n_parsed = 0, n_ok = 0, n_uni = 0;
	uint64_t bytes = 0;
	const struct hv_fw *fw = c->st->fw;
	struct hv_ct_pkt cp[HV_BURST];
	struct rte_mbuf *okp[HV_BURST];
	bool keep[HV_BURST];
	const struct hv_ct_pkt *trp[HV_BURST];
	uint16_t tr[HV_BURST], n_tr = 0;
	int32_t ct_pos[HV_BURST];
	struct handoff_buf hb;
	uint16_t n_handed = 0;
	const struct hv_gw *gw = c->st->gw;
	uint16_t dseg[HV_BURST];
	bool routed[HV_BURST];

	if (fw != NULL && c->st->n_workers > 1)
		memset(hb.n, 0, sizeof(hb.n[0]) * c->st->n_workers);
	/* parse and ingress checks */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct hv_pkt_meta *pm = &meta[n_ok];
		enum hv_drop_reason r;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		bytes += rte_pktmbuf_pkt_len(m);
		r = hv_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), pm);
		if (likely(r == HV_DROP_NONE)) {
			n_parsed++;
			if (unlikely(c->st->mir.wire_any != 0) && !handed)
				mirror_wire(c, in, m);
			if (unlikely(hv_mac_is_multicast(pm->src_mac) ||
				     hv_mac_is_zero(pm->src_mac)))
				r = HV_DROP_SRC_MAC_INVALID;
			else if (unlikely(pm->n_vlans != 0 && !in->allow_vlan))
				r = HV_DROP_VLAN_NOT_ALLOWED;
		}
		dseg[n_ok] = seg;
		routed[n_ok] = false;
		/*
		 * Port security and the gateways are for local ports: a frame from
		 * the overlay was checked, and routed if it was to be, on the host
		 * where it entered (and a VTEP's slot is beyond gw->psec[]).
		 */
		if (gw != NULL && likely(r == HV_DROP_NONE) && !hv_slot_is_vtep(in->id)) {
			bool done;

			r = gw_stage(c, gw, in, m, pm, &dseg[n_ok], &routed[n_ok], &done);
			if (done)
				continue;
		}
		if (likely(r == HV_DROP_NONE) && fw != NULL) {
			r = hv_ct_pkt_build(pm, rte_pktmbuf_mtod(m, const uint8_t *),
					    rte_pktmbuf_data_len(m), src_seg, dseg[n_ok],
					    &cp[n_ok]);
			/* both directions of a connection are tracked by one worker */
			if (r == HV_DROP_NONE && cp[n_ok].kind != HV_CT_K_NONE &&
			    c->st->n_workers > 1 && !handed) {
				unsigned owner = cp[n_ok].hash % c->st->n_workers;

				if (owner != w->index) {
					/* the port, and the segment for a VTEP's frame */
					*RTE_MBUF_DYNFIELD(m, hv_mbuf_in_port_off, uint32_t *) =
						handoff_tag(in->id, seg, gw_src);
					hb.pkts[owner][hb.n[owner]++] = m;
					n_handed++;
					continue;
				}
			}
		}
		if (unlikely(r != HV_DROP_NONE)) {
			count_drop(c, in->id, seg, r);
			rte_pktmbuf_free(m);
			continue;
		}
		src[n_ok] = pm->src_mac;
		okp[n_ok] = m;
		idx[n_ok++] = i;
	}
	if (n_handed != 0)
		handoff_flush(c, in, &hb);
	/*
	 * Each stage counts the frames that entered it (docs/datapath.md). A
	 * frame handed to the worker owning its connection was counted at parse
	 * and ingress by the worker that received it, from learn on by its owner.
	 */
	if (!handed) {
		HV_CNT_ADD(w->stage.parse, n);
		HV_CNT_ADD(w->stage.ingress, n_parsed);
	}
	HV_CNT_ADD(w->stage.learn, n_ok);
	HV_CNT_ADD(w->stage.forward, n_ok);

	/*
	 * Connections: look them up now and let learning run while their entries
	 * come in from memory; the firewall stage below finishes the lookup.
	 */
	if (fw != NULL) {
		for (uint16_t k = 0; k < n_ok; k++)
			if (fw_tracked(&cp[k]) && !fw_bypass(&meta[k])) {
				trp[n_tr] = &cp[k];
				tr[n_tr++] = k;
			}
		hv_ct_lookup_start(c->ct, trp, n_tr, ct_pos);
	}
	/* learn: one bulk probe for the burst's sources (a gateway's MAC is no guest's) */
	if (likely(gw_src == FROM_GUEST))
		hv_mac_table_learn_bulk(macs, c->mac_cache, seg, src, n_ok, in->id, c->now,
					learn_res);
	else
		memset(learn_res, HV_MAC_REFRESHED, n_ok);
	if (fw != NULL)
		fw_stage(c, fw, in, src_seg, okp, meta, cp, dseg, n_ok, tr, n_tr, ct_pos, keep);
	/* routed by a remote gateway and blocked here: counted for the pair */
	if (unlikely(src_seg != seg) && fw != NULL && src_seg < HV_GW_MAX_SEGS &&
	    seg < HV_GW_MAX_SEGS)
		for (uint16_t k = 0; k < n_ok; k++)
			if (!keep[k])
				HV_CNT_ADD(w->pair[src_seg][seg].blocked, 1);
	for (uint16_t k = 0; k < n_ok; k++) {
		if (unlikely(learn_res[k] != HV_MAC_REFRESHED))
			count_learn(w, learn_res[k]);
		if (fw == NULL && unlikely(c->st->mir.wire_verdict != 0))
			mirror_verdict(c, in, okp[k], true,
				       NULL); /* no policy: every packet passes */
		if (unlikely(routed[k])) {
			/* routed: to the destination segment, or counted as blocked */
			if (fw != NULL && !keep[k]) {
				if (seg < HV_GW_MAX_SEGS && dseg[k] < HV_GW_MAX_SEGS)
					HV_CNT_ADD(w->pair[seg][dseg[k]].blocked, 1);
			} else {
				route_forward(c, gw, in, okp[k], &meta[k], dseg[k]);
			}
			continue;
		}
		if (fw != NULL && !keep[k])
			continue;
		if (!(meta[k].flags & HV_PKT_F_DST_MCAST)) {
			dst[n_uni] = meta[k].dst_mac;
			uidx[n_uni++] = k;
		}
	}

	/* forward: one bulk probe for the unicast destinations */
	hv_mac_table_lookup_bulk(macs, c->mac_cache, seg, dst, n_uni, dst_port);
	for (uint16_t k = 0, u = 0; k < n_ok; k++) {
		struct rte_mbuf *m = pkts[idx[k]];
		int d;

		if ((fw != NULL && !keep[k]) || routed[k])
			continue;
		if (u == n_uni || uidx[u] != k) {
			flood(c, in, m, &meta[k]); /* broadcast or multicast */
			continue;
		}
		d = dst_port[u++];
		/* behind a remote VTEP: encapsulated (or flooded if that VTEP is gone) */
		if (d >= 0 && hv_slot_is_vtep((uint16_t)d) &&
		    vx_unicast(c, in->id, seg, m, &meta[k], (uint16_t)(d - HV_VTEP_SLOT_BASE),
			       NULL))
			continue;
		if (d >= 0) {
			const struct hv_port *out = c->st->ports[d];

			/*
			 * An entry for a port that is gone, or (transiently, while a
			 * deleted port's entries are flushed) for a port of another
			 * segment, is treated as unknown: flood in the frame's own
			 * segment, never leave it.
			 */
			if (likely(out != NULL && out->segment == seg)) {
				if (unlikely(out == in)) {
					count_drop(c, in->id, seg, HV_DROP_HAIRPIN);
					rte_pktmbuf_free(m);
					continue;
				}
				HV_CNT_ADD(w->stage.tx, 1);
				if (unlikely(c->st->mir.delivered != 0))
					mirror_delivered(c, in, out, m, 0);
				tx_enqueue(c, out->id, m);
				continue;
			}
		}
		flood(c, in, m, &meta[k]);
	}
	if (handed) {
		HV_CNT_ADD(w->fw.handoff_in, n);
		return; /* counted as received by the worker that received it */
	}
	HV_CNT_ADD(pc->rx_packets, n);
	HV_CNT_ADD(pc->rx_bytes, bytes);
	HV_CNT_ADD(w->seg[seg].rx_packets, n);
	HV_CNT_ADD(w->rx_packets, n);
}

/* Packets other workers handed over: processed in runs of one ingress port. */
static uint32_t
handoff_drain(struct worker_ctx *c)
{
	struct rte_ring *r = c->sw->handoff[c->w->index];
	struct rte_mbuf *pkts[HV_BURST];
	unsigned n, i = 0;

	if (r == NULL)
		return 0;
	n = rte_ring_sc_dequeue_burst(r, (void **)pkts, HV_BURST, NULL);
	while (i < n) {
		uint32_t key = *RTE_MBUF_DYNFIELD(pkts[i], hv_mbuf_in_port_off, uint32_t *);
		uint16_t port = (uint16_t)(key & 0x3ff), g = (uint16_t)(key >> 21);
		const struct hv_port *in = port < HV_MAX_PORTS ? c->st->ports[port] : NULL;
		unsigned j = i + 1;

		if (hv_slot_is_vtep(port))
			in = vx_ingress(c, (uint16_t)(port - HV_VTEP_SLOT_BASE),
					(uint16_t)((key >> 10) & 0x7ff));
		while (j < n && *RTE_MBUF_DYNFIELD(pkts[j], hv_mbuf_in_port_off, uint32_t *) == key)
			j++;
		if (in == NULL) {
			/* the port went away meanwhile */
			HV_CNT_ADD(c->w->drops[HV_DROP_NO_DESTINATION], j - i);
			rte_pktmbuf_free_bulk(&pkts[i], j - i);
		} else {
			rx_burst_process(c, in, &pkts[i], (uint16_t)(j - i), true,
					 g == 0 ? FROM_GUEST : (uint16_t)(g - 1));
		}
		i = j;
	}
	return n;
}

/*
 * The decapsulated frame @m of segment rx->seg from VTEP rx->vtep, whose
 * segment has a gateway here: is it a remote gateway's (docs/overlay.md,
 * "Routing across hosts")? Returns true when it goes on into the pipeline,
 * with *gw_src the segment a remote gateway routed it from (its own segment
 * for the gateway's ARP/NS), FROM_GUEST for a guest's frame; false when it
 * was consumed here: a guest's answer to a gateway (learned as a neighbour
 * and as a MAC behind the VTEP), or a forgery (dropped, vxlan_gw_spoof).
 */
static bool
vx_from_gateway(struct worker_ctx *c, const struct hv_vx_state *vx, const struct hv_gw *gw,
		struct rte_mbuf *m, const struct hv_vx_rx *rx, uint16_t *gw_src)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint32_t len = rte_pktmbuf_data_len(m);
	const uint16_t slot = (uint16_t)(HV_VTEP_SLOT_BASE + rx->vtep);
	const uint8_t *gmac = gw->seg[rx->seg].mac;
	const struct hv_vx_peer *peer;
	enum hv_gw_vtep_verdict v;
	uint16_t src;

	/* the common case, a guest's frame to a guest, costs two compares */
	if (len < 14 || (memcmp(d + 6, gmac, 6) != 0 && memcmp(d, gmac, 6) != 0))
		return true;
	peer = hv_vx_peer_find(vx, vx->vtep_ip[rx->vtep]);
	v = hv_gw_from_vtep(gw, rx->seg, d, len, peer != NULL ? peer->segs[0] : 0, &src);
	switch (v) {
	case HV_GW_VTEP_PASS:
		return true;
	case HV_GW_VTEP_OWN:
	case HV_GW_VTEP_ROUTED:
		*gw_src = src;
		return true;
	case HV_GW_VTEP_NEIGH: {
		struct hv_pkt_meta pm;
		enum hv_drop_reason why = hv_pkt_parse(d, len, &pm);
		uint8_t out[HV_REPLY_FRAME_MAX], res;
		const uint8_t *mac = pm.src_mac;
		uint16_t dseg;
		size_t out_len;

		if (why == HV_DROP_NONE && (hv_mac_is_multicast(pm.src_mac) || pm.n_vlans != 0))
			why = HV_DROP_SRC_MAC_INVALID;
		if (why != HV_DROP_NONE) {
			count_drop(c, slot, rx->seg, why);
			rte_pktmbuf_free(m);
			return false;
		}
		/* the neighbour for this host's gateway, the MAC behind its VTEP */
		hv_gw_ingress(gw, c->sw->neigh, rx->seg, slot, d, len, &pm, c->now, &c->w->gw,
			      &dseg, &why, out, &out_len);
		hv_mac_table_learn_bulk(c->sw->macs, c->mac_cache, rx->seg, &mac, 1, slot, c->now,
					&res);
		if (res != HV_MAC_REFRESHED)
			count_learn(c->w, res);
		HV_CNT_ADD(c->w->port[slot].rx_packets, 1);
		HV_CNT_ADD(c->w->port[slot].rx_bytes, len);
		rte_pktmbuf_free(m);
		return false;
	}
	case HV_GW_VTEP_SPOOF:
	default:
		count_drop(c, slot, rx->seg, HV_DROP_VXLAN_GW_SPOOF);
		rte_pktmbuf_free(m);
		return false;
	}
}

/*
 * A burst from an uplink: ARP for the local VTEP is answered, VXLAN packets
 * are decapsulated and go through rx_burst_process() as frames received from
 * their VTEP in their segment, in runs of one (segment, VTEP); the rest is
 * dropped by reason.
 */
static void
uplink_rx(struct worker_ctx *c, const struct hv_port *up, struct rte_mbuf **pkts, uint16_t n)
{
	const struct hv_vx_state *vx = c->st->vx;
	const struct hv_gw *gw = c->st->gw;
	struct hv_worker *w = c->w;
	struct rte_mbuf *run[HV_BURST];
	uint16_t n_run = 0, run_seg = 0, run_vtep = 0, run_src = FROM_GUEST, n_decap = 0;
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint16_t gw_src = FROM_GUEST;
		uint8_t reply[64];
		struct hv_vx_rx rx;
		uint32_t len;

		bytes += rte_pktmbuf_pkt_len(m);
		if (vx == NULL || vx->uplink != up->id) {
			vx_drop(c, up->id, HV_DROP_VXLAN_NO_OVERLAY, m);
			continue;
		}
		hv_vx_rx(vx, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), &rx,
			 reply, sizeof(reply));
		if (rx.neigh_learned)
			HV_CNT_ADD(w->vx.neigh_learned, 1);
		if (rx.kind == HV_VX_RX_ARP) {
			HV_CNT_ADD(w->vx.arp_in, 1);
			if (rx.reply_len != 0) {
				HV_CNT_ADD(w->vx.arp_replies, 1);
				vx_send_raw(c, vx, reply, rx.reply_len);
			}
			rte_pktmbuf_free(m);
			continue;
		}
		if (rx.kind != HV_VX_RX_DECAP) {
			/* `learn yes`: the control thread may make its sender a peer */
			if (rx.learn && c->sw->vx_learn != NULL) {
				uint64_t v = (uint64_t)rx.src_ip[0] << 24 |
					     (uint64_t)rx.src_ip[1] << 16 |
					     (uint64_t)rx.src_ip[2] << 8 | rx.src_ip[3] |
					     (uint64_t)rx.seg << 32;

				if (rte_ring_mp_enqueue(c->sw->vx_learn, (void *)(uintptr_t)v) == 0)
					HV_CNT_ADD(w->vx.learn_requests, 1);
			}
			vx_drop(c, up->id, rx.drop, m);
			continue;
		}
		if (rx.reserved_set)
			HV_CNT_ADD(w->vx.reserved_bits, 1);
		n_decap++;
		rte_pktmbuf_adj(m, rx.inner_off);
		len = rte_pktmbuf_pkt_len(m);
		if (len > rx.inner_len)
			rte_pktmbuf_trim(m, (uint16_t)(len - rx.inner_len)); /* outer padding */
		/* what a remote gateway sent, or a guest sent to the gateway */
		if (gw != NULL && rx.seg < HV_GW_MAX_SEGS && gw->seg[rx.seg].on &&
		    !vx_from_gateway(c, vx, gw, m, &rx, &gw_src))
			continue;
		if (n_run != 0 && (rx.seg != run_seg || rx.vtep != run_vtep || gw_src != run_src)) {
			rx_burst_process(c, vx_ingress(c, run_vtep, run_seg), run, n_run, false,
					 run_src);
			n_run = 0;
		}
		run_seg = rx.seg;
		run_vtep = rx.vtep;
		run_src = gw_src;
		run[n_run++] = m;
	}
	if (n_run != 0)
		rx_burst_process(c, vx_ingress(c, run_vtep, run_seg), run, n_run, false, run_src);
	HV_CNT_ADD(w->vx.decap, n_decap);
	HV_CNT_ADD(w->port[up->id].rx_packets, n);
	HV_CNT_ADD(w->port[up->id].rx_bytes, bytes);
	/* a decapsulated frame is counted again, as received from its VTEP */
	HV_CNT_ADD(w->rx_packets, n - n_decap);
}

static void
idle_sleep(uint32_t us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};

	nanosleep(&ts, NULL);
}

int
hv_worker_main(void *arg)
{
	struct hv_worker *w = arg;
	struct hv_switch *sw = hv_sw;
	struct worker_ctx *c;
	uint32_t sleep_us = 1;
	uint32_t idle_streak = 0;
	const bool adaptive = sw->conf.poll_mode == HV_POLL_ADAPTIVE;
	const uint32_t max_sleep = sw->conf.max_sleep_us;

	c = rte_zmalloc("hv_worker_ctx", sizeof(*c), RTE_CACHE_LINE_SIZE);
	if (c == NULL)
		return -ENOMEM;
	c->sw = sw;
	c->w = w;
	c->mwc.worker = w->index;
	c->mwc.tx = mirror_tx;
	c->mwc.arg = c;
	c->ct = sw->ct[w->index];
	c->neigh_max_age =
		(uint64_t)(sw->conf.neigh_age_s ? sw->conf.neigh_age_s : 300) * rte_get_tsc_hz();
	hv_fwlog_bucket_init(&c->reject_bucket, rte_rdtsc(), rte_get_tsc_hz(), REJECT_BURST);
	c->mac_cache = hv_mac_cache_create((int)rte_socket_id());
	if (c->mac_cache == NULL) {
		rte_free(c);
		return -ENOMEM;
	}
	/* nanosleep() of a few microseconds must not become 50 us of timer slack */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	rte_rcu_qsbr_thread_register(sw->qsbr, w->index);
	rte_rcu_qsbr_thread_online(sw->qsbr, w->index);

	while (!__atomic_load_n(&sw->stop, __ATOMIC_RELAXED)) {
		const struct hv_dp_state *st;
		const struct hv_dp_rx *rx;
		uint64_t t0;
		uint32_t total = 0;

		/* Nothing from the previous iteration is referenced past here. */
		rte_rcu_qsbr_quiescent(sw->qsbr, w->index);
		hv_mac_cache_sync(sw->macs, c->mac_cache);
		st = __atomic_load_n(&sw->state, __ATOMIC_ACQUIRE);
		c->st = st;
		rx = &st->rx[w->index];
		t0 = rte_rdtsc();
		c->now = t0;
		c->mwc.now_ns = 0;

		for (uint16_t i = 0; i < rx->n; i++) {
			const struct hv_port *in = st->ports[rx->q[i].port];
			struct rte_mbuf *pkts[HV_BURST];
			uint16_t n;

			if (in->kind == HV_PORT_VHOST_USER)
				n = hv_vhost_rx(in, rx->q[i].queue, sw->pool, pkts, HV_BURST);
			else
				n = rte_eth_rx_burst(in->eth_port, rx->q[i].queue, pkts, HV_BURST);
			if (n == 0)
				continue;
			total += n;
			if (unlikely(hv_port_is_uplink(in)))
				uplink_rx(c, in, pkts, n);
			else
				rx_burst_process(c, in, pkts, n, false, FROM_GUEST);
		}
		total += handoff_drain(c);
		if (st->vx != NULL && w->index == 0 && t0 >= c->vx_next_poll)
			vx_poll(c);
		if (unlikely(c->n_pend != 0))
			gw_pending_poll(c);
		if (unlikely(w->index == 0 && st->gw != NULL && t0 > c->next_ra))
			gw_ra_periodic(c);
		tx_flush_all(c);
		hv_ct_age(c->ct, t0, 8);
		hv_ct_mailbox_poll(c->ct);

		if (total != 0) {
			HV_CNT_ADD(w->busy_cycles, rte_rdtsc() - t0);
			idle_streak = 0;
			sleep_us = 1;
			continue;
		}
		HV_CNT_ADD(w->idle_polls, 1);
		if (!adaptive || ++idle_streak < 128)
			continue;
		/*
		 * Idle: sleep, doubling up to max_sleep_us, so that an idle
		 * daemon costs little CPU yet wakes within max_sleep_us of a
		 * packet. The state pointer is re-read after the sleep.
		 */
		HV_CNT_ADD(w->sleeps, 1);
		idle_sleep(sleep_us);
		if (sleep_us < max_sleep)
			sleep_us = sleep_us * 2 > max_sleep ? max_sleep : sleep_us * 2;
	}

	for (uint16_t i = 0; i < c->n_pend; i++)
		rte_pktmbuf_free(c->pend[i].m);
	rte_rcu_qsbr_thread_offline(sw->qsbr, w->index);
	rte_rcu_qsbr_thread_unregister(sw->qsbr, w->index);
	hv_mac_cache_free(c->mac_cache);
	rte_free(c);
	return 0;
}
