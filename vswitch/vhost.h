/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_VHOST_H
#define HV_VSWITCH_VHOST_H

/*
 * vhost-user ports on rte_vhost directly (vswitch/vhost.c), as OVS drives
 * them, rather than through the net_vhost ethdev: the worker calls
 * rte_vhost_dequeue_burst / rte_vhost_enqueue_burst itself. That skips
 * net_vhost's per-packet loops and the per-packet statistics net_vhost asks
 * rte_vhost to keep (hvnetd counts per port itself), and frees sent mbufs in
 * bulk. See docs/threading.md, "vhost-user ports".
 *
 * Virtqueue numbering is virtio's: queue pair q is vring 2q (the guest's
 * receive ring, where hvnetd transmits) and 2q + 1 (the guest's transmit
 * ring, where hvnetd receives).
 */
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_vhost.h>

#include "vswitch/vswitch.h"

/*
 * Register @p's socket with rte_vhost (as server, or as client of a guest
 * that listens) and start serving it. 0 or -errno with a message in @err.
 */
int hv_vhost_open(struct hv_switch *sw, struct hv_port *p, const char *path, bool client, char *err,
		  size_t err_size);
/* Unregister @p's socket; a guest still attached is detached first. */
void hv_vhost_close(struct hv_port *p);

/* vrings tracked in a port's vhost.ready: 2 x HV_MAX_WORKERS fit */
#define HV_VHOST_MAX_VRINGS 64

static inline bool
hv_vhost_vring_ready(const struct hv_port *p, uint16_t vring)
{
	return vring < HV_VHOST_MAX_VRINGS &&
	       (__atomic_load_n(&p->vhost.ready, __ATOMIC_RELAXED) >> vring & 1);
}

/*
 * Receive up to @n (at most 32, rte_vhost's burst) frames of rx queue @q.
 * The device number is read once: vhost.c's destroy callback clears it and
 * waits for every worker's next quiescent report before rte_vhost frees the
 * device, so it stays valid until this worker's next report.
 */
static inline uint16_t
hv_vhost_rx(const struct hv_port *p, uint16_t q, struct rte_mempool *mp, struct rte_mbuf **pkts,
	    uint16_t n)
{
	const int vid = __atomic_load_n(&p->vhost.vid, __ATOMIC_ACQUIRE);
	const uint16_t vring = (uint16_t)(2 * q + 1);

	if (vid < 0 || !hv_vhost_vring_ready(p, vring))
		return 0;
	return rte_vhost_dequeue_burst(vid, vring, mp, pkts, n);
}

/*
 * Send up to @n frames on tx queue @q. rte_vhost copies what it sends into
 * the guest's buffers, so those mbufs are freed here; the caller owns (and
 * counts) the ones not sent.
 */
static inline uint16_t
hv_vhost_tx(const struct hv_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	const int vid = __atomic_load_n(&p->vhost.vid, __ATOMIC_ACQUIRE);
	const uint16_t vring = (uint16_t)(2 * q);
	uint16_t sent;

	if (vid < 0 || !hv_vhost_vring_ready(p, vring))
		return 0;
	sent = rte_vhost_enqueue_burst(vid, vring, pkts, n);
	rte_pktmbuf_free_bulk(pkts, sent);
	return sent;
}

#endif
