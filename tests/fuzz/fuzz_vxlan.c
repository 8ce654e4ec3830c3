/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the overlay's receive path: any frame received on the uplink is
 * classified by hv_vx_rx() against a fixed two-host overlay. It must never
 * read outside the frame (a heap copy of exactly its size lets ASan see any
 * overread), and what it accepts must hold: an inner frame that lies inside
 * the outer one, an ARP reply that is a well-formed ARP reply; and a
 * decapsulated frame encapsulated again by the peer must decapsulate to the
 * same bytes (the round trip).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/packet.h"
#include "vxlan/vxlan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hv_vx_ctl xa, xb;
static struct hv_vx_state *host_a, *host_b; /* 192.0.2.1 and 192.0.2.2 */

static struct hv_vx_state *
host(struct hv_vx_ctl *x, uint8_t me, uint8_t peer)
{
	static struct hv_vx_conf c;
	struct hv_vx_state *st;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.local_ip[0] = 192;
	c.local_ip[2] = 2;
	c.local_ip[3] = me;
	c.uplink_mac[0] = 2;
	c.uplink_mac[5] = me;
	c.uplink_mtu = 1500;
	for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++)
		c.seg_vni[s] = HV_VX_NO_VNI;
	c.seg_vni[1] = 300;
	c.seg_vni[2] = 100;
	c.peers[0].ip[0] = 192;
	c.peers[0].ip[2] = 2;
	c.peers[0].ip[3] = peer;
	c.peers[0].all_segs = true;
	c.n_peers = 1;
	st = hv_vx_state_build(x, &c, err, sizeof(err));
	if (st == NULL)
		abort();
	hv_vx_ctl_commit(x, st, NULL, NULL);
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_vx_rx rx, rx2;
	uint8_t reply[64], *copy, *buf;
	struct hv_pkt_meta m;

	if (host_a == NULL) {
		host_a = host(&xa, 1, 2);
		host_b = host(&xb, 2, 1);
		/* A knows B's underlay MAC, so that it can encapsulate */
		hv_vx_neigh_set(&host_a->neigh[host_a->peers[0].vtep],
				(const uint8_t[6]){2, 0, 0, 0, 0, 2});
	}
	if (size > 65535)
		return 0;
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	hv_vx_rx(host_b, copy, (uint32_t)size, &rx, reply, sizeof(reply));
	switch (rx.kind) {
	case HV_VX_RX_DROP:
		if (rx.drop == HV_DROP_NONE || rx.drop >= HV_DROP_MAX)
			abort();
		break;
	case HV_VX_RX_ARP:
		if (rx.reply_len != 0) {
			if (rx.reply_len > sizeof(reply) ||
			    hv_pkt_parse(reply, (uint32_t)rx.reply_len, &m) != HV_DROP_NONE ||
			    m.l3 != HV_L3_ARP || m.arp_op != 2 ||
			    memcmp(m.src_ip, host_b->local_ip, 4))
				abort();
		}
		break;
	case HV_VX_RX_DECAP:
		if ((size_t)rx.inner_off + rx.inner_len > size || (rx.seg != 1 && rx.seg != 2))
			abort();
		/* back the other way: A encapsulates the inner frame, B decapsulates it */
		buf = malloc((size_t)HV_VX_HDR_LEN + rx.inner_len);
		if (buf == NULL)
			break;
		memcpy(buf + HV_VX_HDR_LEN, copy + rx.inner_off, rx.inner_len);
		if (hv_vx_encap(host_a, host_a->peers[0].vtep, rx.vni, 50000, buf, rx.inner_len) !=
		    HV_DROP_NONE)
			abort();
		hv_vx_rx(host_b, buf, HV_VX_HDR_LEN + rx.inner_len, &rx2, reply, sizeof(reply));
		/* the same frame, unless it is VXLAN itself (nesting is refused) */
		if (rx2.kind == HV_VX_RX_DECAP) {
			if (rx2.inner_len != rx.inner_len || rx2.seg != rx.seg ||
			    memcmp(buf + rx2.inner_off, copy + rx.inner_off, rx.inner_len) != 0)
				abort();
		} else if (rx2.drop != HV_DROP_VXLAN_NESTED) {
			abort();
		}
		free(buf);
		break;
	default:
		abort();
	}
	free(copy);
	return 0;
}
