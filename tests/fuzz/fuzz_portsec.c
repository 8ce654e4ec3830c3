/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz port security and the neighbour table with hostile frames. The input
 * is 27 bytes of bindings (flags, a MAC, an IPv4 and an IPv6 address) and a
 * frame. Every frame that parses is checked against the bindings: the
 * decision must be "pass" or one of the port-security reasons, and reading
 * the frame must stay inside it (ASan watches a heap copy of exactly its
 * length). The frame's source addresses are then learned into a small
 * neighbour table and looked up again, as a gateway would. Every frame,
 * parsed or not, is also classified as if it came from a remote VTEP
 * (hv_gw_from_vtep) against a gateway with the bound MAC and addresses: the
 * verdict must be consistent with the frame's MACs, and reading stay inside
 * it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/packet.h"
#include "vswitch/gateway.h"
#include "vswitch/neigh.h"
#include "vswitch/portsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 27

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hv_neigh_table *nt;
	static struct hv_gw *gw; /* no LPM tables: no source is in a segment */
	struct hv_gw_seg *g;
	enum hv_gw_vtep_verdict v;
	uint16_t src;
	struct hv_portsec ps;
	struct hv_pkt_meta m;
	struct hv_neigh_entry e;
	enum hv_drop_reason r;
	uint8_t *copy;
	uint32_t len;

	if (size < HDR || size > 65535 + HDR)
		return 0;
	if (nt == NULL && (nt = hv_neigh_create(16, 0)) == NULL)
		abort();
	if (gw == NULL && (gw = calloc(1, sizeof(*gw))) == NULL)
		abort();
	memset(&ps, 0, sizeof(ps));
	ps.on = data[0] & 1;
	ps.has_mac = (data[0] & 2) != 0;
	memcpy(ps.mac, data + 1, 6);
	hv_pkt_ll6_of_mac(ps.mac, ps.ll6);
	ps.n4 = (data[0] & 4) ? 1 : 0;
	memcpy(ps.ip4[0], data + 7, 4);
	ps.n6 = (data[0] & 8) ? 1 : 0;
	memcpy(ps.ip6[0], data + 11, 16);
	len = (uint32_t)(size - HDR);
	copy = malloc(len ? len : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + HDR, len);
	/* the same bytes as what a remote VTEP sent into segment 0 */
	g = &gw->seg[0];
	g->on = true;
	g->has4 = ps.n4 != 0;
	g->has6 = ps.n6 != 0;
	memcpy(g->mac, ps.mac, 6);
	memcpy(g->ip4, ps.ip4[0], 4);
	memcpy(g->ip6, ps.ip6[0], 16);
	memcpy(g->ll6, ps.ll6, 16);
	v = hv_gw_from_vtep(gw, 0, copy, len, ~0ull, &src);
	if (v == HV_GW_VTEP_ROUTED || v > HV_GW_VTEP_SPOOF || src != 0)
		abort(); /* routed needs a source in another segment: there is none */
	if (v != HV_GW_VTEP_PASS &&
	    (len < 14 || (memcmp(copy, g->mac, 6) != 0 && memcmp(copy + 6, g->mac, 6) != 0)))
		abort(); /* only what is to or from the gateway's MAC is the gateway's business */
	if (hv_pkt_parse(copy, len, &m) == HV_DROP_NONE) {
		r = hv_portsec_check(&ps, copy, len, &m);
		if (r != HV_DROP_NONE && r != HV_DROP_PORTSEC_MAC && r != HV_DROP_PORTSEC_IP &&
		    r != HV_DROP_PORTSEC_ARP && r != HV_DROP_PORTSEC_ND)
			abort();
		if (!ps.on && r != HV_DROP_NONE)
			abort();
		if (m.l3 != HV_L3_NONE) {
			uint8_t fam = m.l3 == HV_L3_IPV6 ? 6 : 4;

			if (hv_neigh_learn(nt, data[0] >> 4, fam, m.src_ip, m.src_mac, 1, size) < 0)
				abort(); /* one thread: never busy */
			if (hv_neigh_lookup(nt, data[0] >> 4, fam, m.src_ip, size, 0, &e) != 0 ||
			    memcmp(e.mac, m.src_mac, 6) != 0)
				abort();
		}
	}
	free(copy);
	return 0;
}
