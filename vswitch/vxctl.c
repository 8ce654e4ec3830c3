/* SPDX-License-Identifier: BSD-3-Clause */
/* The overlay's control requests: vtep.show, vtep.neigh (the state: overlay.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "common/log.h"
#include "firewall/lang/lang.h"
#include "vswitch/control.h"
/* ---- vtep.show ---- */

static json_t *
vtep_counters(const struct hv_vx_counters *v)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "learn_requests",
			 (json_int_t)v->learn_requests, "decap", (json_int_t)v->decap, "encap",
			 (json_int_t)v->encap, "flood_copies", (json_int_t)v->flood_copies,
			 "reserved_bits", (json_int_t)v->reserved_bits, "arp_in",
			 (json_int_t)v->arp_in, "arp_replies", (json_int_t)v->arp_replies,
			 "arp_requests", (json_int_t)v->arp_requests, "neigh_learned",
			 (json_int_t)v->neigh_learned, "too_big_replies",
			 (json_int_t)v->too_big_replies);
}

static json_t *
h_vtep_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const struct hv_vx_state *vx = sw->vx;
	struct hv_worker *sum;
	json_t *res, *peers, *vnis, *drops;
	char ip[16];

	(void)args;
	if (sw->fw == NULL || sw->fw->prog == NULL || !sw->fw->prog->overlay.present)
		return ctl_fail(
			e, ENOENT,
			"put a policy file with an `overlay` block in force (docs/overlay.md)",
			"no overlay is configured");
	sum = rte_malloc("hv_sum", sizeof(*sum), 0);
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	hv_switch_counters(sw, sum);
	drops = json_object();
	for (unsigned r = 1; r < HV_DROP_MAX; r++)
		if (strcmp(hv_drop_stage((enum hv_drop_reason)r), "overlay") == 0)
			json_object_set_new(drops, hv_drop_name((enum hv_drop_reason)r),
					    json_integer((json_int_t)sum->drops[r]));
	res = json_pack("{s:b, s:s, s:o, s:o}", "active", vx != NULL, "error", sw->vx_error,
			"counters", vtep_counters(&sum->vx), "drops", drops);
	if (vx == NULL) {
		rte_free(sum);
		return res;
	}
	peers = json_array();
	vnis = json_array();
	for (unsigned i = 0; i < vx->n_vni; i++)
		json_array_append_new(vnis, json_pack("{s:s, s:I}", "segment",
						      sw->segments[vx->vni[i].seg]->name, "vni",
						      (json_int_t)vx->vni[i].vni));
	for (unsigned i = 0; i < vx->n_peers; i++) {
		const struct hv_vx_peer *p = &vx->peers[i];
		uint16_t slot = (uint16_t)(HV_VTEP_SLOT_BASE + p->vtep);
		const struct hv_port_counters *pc = &sum->port[slot];
		json_t *segs = json_array();
		uint8_t mac[6];
		char macs[18] = "";
		uint64_t dropped = 0;

		for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++)
			if (hv_vx_peer_has_seg(p, (uint16_t)s) && sw->segments[s] != NULL)
				json_array_append_new(segs, json_string(sw->segments[s]->name));
		bool is_static = __atomic_load_n(&vx->neigh[p->vtep].mac, __ATOMIC_RELAXED) &
				 HV_VX_NEIGH_STATIC;

		if (hv_vx_neigh_mac(&vx->neigh[p->vtep], mac))
			snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
				 mac[1], mac[2], mac[3], mac[4], mac[5]);
		for (unsigned r = 0; r < HV_DROP_MAX; r++)
			dropped += pc->drops[r];
		json_array_append_new(
			peers,
			json_pack("{s:s, s:i, s:b, s:b, s:o, s:o, s:I, s:I, s:I, s:I, s:i, s:I}",
				  "address", hv_vx_ip_str(p->ip, ip), "vtep", p->vtep, "learned",
				  p->learned, "static", is_static, "mac",
				  macs[0] ? json_string(macs) : json_null(), "segments", segs,
				  "rx_packets", (json_int_t)pc->rx_packets, "rx_bytes",
				  (json_int_t)pc->rx_bytes, "tx_packets",
				  (json_int_t)pc->tx_packets, "tx_bytes", (json_int_t)pc->tx_bytes,
				  "macs", hv_mac_table_port_count(sw->macs, slot), "drops",
				  (json_int_t)dropped));
	}
	rte_free(sum);
	json_object_set_new(res, "local", json_string(hv_vx_ip_str(vx->local_ip, ip)));
	json_object_set_new(res, "uplink", json_string(sw->ports[vx->uplink]->name));
	json_object_set_new(res, "udp_port", json_integer(vx->udp_port));
	json_object_set_new(res, "ttl", json_integer(vx->ttl));
	json_object_set_new(res, "learn", json_boolean(vx->learn));
	json_object_set_new(res, "udp_checksum", json_boolean(vx->udp_csum));
	json_object_set_new(res, "uplink_mtu", json_integer(vx->uplink_mtu));
	json_object_set_new(res, "mtu", json_integer(vx->mtu));
	json_object_set_new(res, "vnis", vnis);
	json_object_set_new(res, "peers", peers);
	return res;
}

/* vtep.neigh {address, mac}: a static underlay MAC for a peer (no ARP for it). */
static json_t *
h_vtep_neigh(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const char *addr = ctl_arg_str(args, "address", true, e), *macs;
	const struct hv_vx_peer *p;
	unsigned a[4], m[6];
	uint8_t ip[4], mac[6];
	char end;

	if (addr == NULL)
		return NULL;
	macs = ctl_arg_str(args, "mac", true, e);
	if (macs == NULL)
		return NULL;
	if (sscanf(addr, "%u.%u.%u.%u%c", &a[0], &a[1], &a[2], &a[3], &end) != 4 || a[0] > 255 ||
	    a[1] > 255 || a[2] > 255 || a[3] > 255)
		return ctl_fail(e, EINVAL, NULL, "'%s' is not an IPv4 address", addr);
	if (sscanf(macs, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &end) !=
		    6 ||
	    m[0] > 255 || m[1] > 255 || m[2] > 255 || m[3] > 255 || m[4] > 255 || m[5] > 255 ||
	    (m[0] & 1) || (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0)
		return ctl_fail(e, EINVAL, NULL, "'%s' is not a unicast MAC address", macs);
	for (int i = 0; i < 4; i++)
		ip[i] = (uint8_t)a[i];
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	if (sw->vx == NULL)
		return ctl_fail(e, ENOENT, "hvnetctl vtep show says why", "no overlay is active");
	p = hv_vx_peer_find(sw->vx, ip);
	if (p == NULL)
		return ctl_fail(e, ENOENT, "declare it with `peer ADDRESS` in the overlay block",
				"%s is not a peer of the overlay", addr);
	hv_vx_neigh_set_static(&sw->vxctl.neigh[p->vtep], mac);
	return json_pack("{s:s, s:s, s:b}", "address", addr, "mac", macs, "static", 1);
}

const struct hv_ctl_handler hv_vx_handlers[] = {
	{"vtep.show", h_vtep_show},
	{"vtep.neigh", h_vtep_neigh},
};
const size_t hv_vx_n_handlers = sizeof(hv_vx_handlers) / sizeof(hv_vx_handlers[0]);
