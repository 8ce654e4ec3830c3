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

#include "packet/packet.h"
#include "vswitch/vswitch.h"

struct hv_switch *hv_sw;

struct tx_buf {
	uint16_t n;
	struct rte_mbuf *pkts[HV_BURST];
};

/* Worker-private scratch state; lives as long as the worker loop. */
struct worker_ctx {
	struct hv_switch *sw;
	struct hv_worker *w;
	struct hv_mac_cache *mac_cache;
	const struct hv_dp_state *st;
	uint64_t now;
	uint16_t n_dirty;
	uint16_t dirty[HV_MAX_PORTS];
	struct tx_buf tx[HV_MAX_PORTS];
};

static inline void
count_drop(struct worker_ctx *c, uint16_t port, uint16_t seg, enum hv_drop_reason r)
{
	struct hv_worker *w = c->w;

	HV_CNT_ADD(w->drops[r], 1);
	HV_CNT_ADD(w->port[port].drops[r], 1);
	HV_CNT_ADD(w->seg[seg].drops, 1);
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
		sent = rte_eth_tx_burst(p->eth_port, q, b->pkts, b->n);
		if (unlikely(sent < b->n)) {
			for (uint16_t i = sent; i < b->n; i++)
				bytes -= rte_pktmbuf_pkt_len(b->pkts[i]);
		}
		HV_CNT_ADD(w->port[port_id].tx_packets, sent);
		HV_CNT_ADD(w->port[port_id].tx_bytes, bytes);
		HV_CNT_ADD(w->seg[p->segment].tx_packets, sent);
		HV_CNT_ADD(w->tx_packets, sent);
	}
	if (unlikely(sent < b->n)) {
		uint16_t lost = (uint16_t)(b->n - sent);

		/* Counted against the destination port: its queue was full. */
		HV_CNT_ADD(w->drops[HV_DROP_TX_FULL], lost);
		HV_CNT_ADD(w->port[port_id].drops[HV_DROP_TX_FULL], lost);
		if (p != NULL)
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

/* Send @m to every port of @seg except @in_port. */
static void
flood(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf *m)
{
	const struct hv_dp_seg *seg = &c->st->segs[in->segment];
	uint16_t copies = (uint16_t)(seg->n_ports - 1);

	/* the ingress port is always a member of its own segment */
	if (unlikely(seg->n_ports <= 1)) {
		count_drop(c, in->id, in->segment, HV_DROP_NO_DESTINATION);
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

		if (out != in->id)
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

/*
 * One rx burst of one port, stage by stage over the whole burst, so that the
 * MAC table is probed with one bulk lookup for the sources and one for the
 * destinations instead of two lookups per frame.
 */
static void
rx_burst_process(struct worker_ctx *c, const struct hv_port *in, struct rte_mbuf **pkts, uint16_t n)
{
	struct hv_worker *w = c->w;
	struct hv_mac_table *macs = c->sw->macs;
	struct hv_port_counters *pc = &w->port[in->id];
	const uint16_t seg = in->segment;
	struct hv_pkt_meta meta[HV_BURST];
	const uint8_t *src[HV_BURST], *dst[HV_BURST];
	uint16_t idx[HV_BURST], uidx[HV_BURST];
	uint8_t learn_res[HV_BURST];
	int dst_port[HV_BURST];
	uint16_t n_parsed = 0, n_ok = 0, n_uni = 0;
	uint64_t bytes = 0;

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
			if (unlikely(hv_mac_is_multicast(pm->src_mac) ||
				     hv_mac_is_zero(pm->src_mac)))
				r = HV_DROP_SRC_MAC_INVALID;
			else if (unlikely(pm->n_vlans != 0 && !in->allow_vlan))
				r = HV_DROP_VLAN_NOT_ALLOWED;
		}
		if (unlikely(r != HV_DROP_NONE)) {
			count_drop(c, in->id, seg, r);
			rte_pktmbuf_free(m);
			continue;
		}
		src[n_ok] = pm->src_mac;
		idx[n_ok++] = i;
	}
	/* each stage counts the frames that entered it (docs/datapath.md) */
	HV_CNT_ADD(w->stage.parse, n);
	HV_CNT_ADD(w->stage.ingress, n_parsed);
	HV_CNT_ADD(w->stage.learn, n_ok);
	HV_CNT_ADD(w->stage.forward, n_ok);

	/* learn: one bulk probe for the burst's sources */
	hv_mac_table_learn_bulk(macs, c->mac_cache, seg, src, n_ok, in->id, c->now, learn_res);
	for (uint16_t k = 0; k < n_ok; k++) {
		if (unlikely(learn_res[k] != HV_MAC_REFRESHED))
			count_learn(w, learn_res[k]);
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

		if (u == n_uni || uidx[u] != k) {
			flood(c, in, m); /* broadcast or multicast */
			continue;
		}
		d = dst_port[u++];
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
				tx_enqueue(c, out->id, m);
				continue;
			}
		}
		flood(c, in, m);
	}
	HV_CNT_ADD(pc->rx_packets, n);
	HV_CNT_ADD(pc->rx_bytes, bytes);
	HV_CNT_ADD(w->seg[seg].rx_packets, n);
	HV_CNT_ADD(w->rx_packets, n);
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

		for (uint16_t i = 0; i < rx->n; i++) {
			const struct hv_port *in = st->ports[rx->q[i].port];
			struct rte_mbuf *pkts[HV_BURST];
			uint16_t n;

			n = rte_eth_rx_burst(in->eth_port, rx->q[i].queue, pkts, HV_BURST);
			if (n == 0)
				continue;
			total += n;
			rx_burst_process(c, in, pkts, n);
		}
		tx_flush_all(c);

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

	rte_rcu_qsbr_thread_offline(sw->qsbr, w->index);
	rte_rcu_qsbr_thread_unregister(sw->qsbr, w->index);
	hv_mac_cache_free(c->mac_cache);
	rte_free(c);
	return 0;
}
