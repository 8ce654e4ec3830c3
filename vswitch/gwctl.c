/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control requests of the segment gateways: route.show (gateways, routes,
 * counters per segment pair) and neigh.show (declared and learned
 * neighbours). docs/control.md documents both. Control thread only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "vswitch/control.h"
#include "vswitch/gateway.h"
#include "vswitch/vswitch.h"

static void
addr_str(uint8_t family, const uint8_t *a, char *buf, size_t size)
{
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)size);
}

static void
mac_fmt(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static const char *
seg_name(const struct hv_switch *sw, unsigned id)
{
	return id < HV_MAX_SEGMENTS && sw->segments[id] != NULL ? sw->segments[id]->name : "?";
}

/* Per port: how it is checked and against what (declared, or locked so far). */
static json_t *
portsec_json(const struct hv_switch *sw, const struct hv_gw *gw)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
		const struct hv_port *p = sw->ports[i];
		struct hv_portsec ps;
		json_t *addrs = json_array();
		const char *mode = "off";
		char mac[18] = "";

		if (p == NULL)
			continue;
		memset(&ps, 0, sizeof(ps));
		if (gw != NULL && gw->psec[i].lock) {
			mode = "lock";
			hv_portsec_of_lock(&sw->psec_lock[i], &ps);
		} else if (gw != NULL && gw->psec[i].on) {
			mode = "bound";
			ps = gw->psec[i];
		}
		if (ps.has_mac)
			mac_fmt(ps.mac, mac);
		for (unsigned k = 0; k < ps.n4 + ps.n6; k++) {
			char t[INET6_ADDRSTRLEN];

			if (k < ps.n4)
				addr_str(4, ps.ip4[k], t, sizeof(t));
			else
				addr_str(6, ps.ip6[k - ps.n4], t, sizeof(t));
			json_array_append_new(addrs, json_string(t));
		}
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "port", p->name, "mode",
						   mode, "mac", mac, "addresses", addrs));
	}
	return a;
}

static json_t *
h_route_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const struct hv_gw *gw = sw->state->gw;
	json_t *routes = json_array(), *pairs = json_array();
	struct hv_worker *sum;

	(void)args;
	sum = rte_zmalloc("hv_sum", sizeof(*sum), 0);
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	hv_switch_counters(sw, sum);
	for (unsigned s = 0; gw != NULL && s < HV_GW_MAX_SEGS; s++) {
		const struct hv_gw_seg *g = &gw->seg[s];
		json_t *subnets = json_array();
		char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "", mac[18];

		if (!g->on)
			continue;
		for (unsigned k = 0; k < g->n_subnets; k++) {
			char a[INET6_ADDRSTRLEN], p[64];

			addr_str(g->subnets[k].family, g->subnets[k].a, a, sizeof(a));
			snprintf(p, sizeof(p), "%s/%u", a, g->subnets[k].plen);
			json_array_append_new(subnets, json_string(p));
		}
		if (g->has4)
			addr_str(4, g->ip4, a4, sizeof(a4));
		if (g->has6)
			addr_str(6, g->ip6, a6, sizeof(a6));
		mac_fmt(g->mac, mac);
		json_array_append_new(routes,
				      json_pack("{s:s, s:o, s:s, s:s, s:s}", "segment",
						seg_name(sw, s), "subnets", subnets, "gateway4", a4,
						"gateway6", a6, "mac", mac));
	}
	for (unsigned a = 0; a < HV_GW_MAX_SEGS; a++)
		for (unsigned b = 0; b < HV_GW_MAX_SEGS; b++) {
			const struct hv_gw_pair *p = &sum->pair[a][b];

			if (p->routed == 0 && p->blocked == 0)
				continue;
			json_array_append_new(pairs,
					      json_pack("{s:s, s:s, s:I, s:I}", "from",
							seg_name(sw, a), "to", seg_name(sw, b),
							"routed", (json_int_t)p->routed, "blocked",
							(json_int_t)p->blocked));
		}
	json_t *cnt = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "arp_answered",
		(json_int_t)sum->gw.arp_answered, "nd_answered", (json_int_t)sum->gw.nd_answered,
		"arp_suppressed", (json_int_t)sum->gw.arp_suppressed, "nd_suppressed",
		(json_int_t)sum->gw.nd_suppressed, "learned", (json_int_t)sum->gw.learned,
		"learn_busy", (json_int_t)sum->gw.learn_busy, "learn_limit",
		(json_int_t)sum->gw.learn_limit, "routed", (json_int_t)sum->gw.routed, "queued",
		(json_int_t)sum->gw.queued, "solicits", (json_int_t)sum->gw.solicits, "icmp_sent",
		(json_int_t)sum->gw.replies_sent, "ra_sent", (json_int_t)sum->gw.ra_sent,
		"echo_answered", (json_int_t)sum->gw.echo_answered);
	json_t *drops = json_object();
	for (unsigned r = 1; r < HV_DROP_MAX; r++) {
		const char *st = hv_drop_stage((enum hv_drop_reason)r);

		if (strcmp(st, "gateway") == 0 || strncmp(hv_drop_name(r), "portsec_", 8) == 0)
			json_object_set_new(drops, hv_drop_name((enum hv_drop_reason)r),
					    json_integer((json_int_t)sum->drops[r]));
	}
	rte_free(sum);
	return json_pack("{s:b, s:o, s:o, s:o, s:o, s:o}", "policy", sw->fw != NULL, "gateways",
			 routes, "pairs", pairs, "counters", cnt, "drops", drops, "port_security",
			 portsec_json(sw, gw));
}

struct neigh_walk {
	struct hv_switch *sw;
	json_t *a;
	int seg;
	uint64_t now;
};

static int
neigh_cb(const struct hv_neigh_entry *n, void *arg)
{
	struct neigh_walk *nw = arg;
	const struct hv_port *p = n->port < HV_MAX_PORTS ? nw->sw->ports[n->port] : NULL;
	char a[INET6_ADDRSTRLEN], mac[18], vtep[24] = "-";

	if (nw->seg >= 0 && n->seg != nw->seg)
		return 0;
	/* learned from an answer that came over the overlay: the VTEP behind it */
	if (hv_slot_is_vtep(n->port)) {
		const uint8_t *ip = nw->sw->vxctl.vtep_ip[n->port - HV_VTEP_SLOT_BASE];

		snprintf(vtep, sizeof(vtep), "vtep:%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	}
	addr_str(n->family, n->addr, a, sizeof(a));
	mac_fmt(n->mac, mac);
	json_array_append_new(
		nw->a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "segment",
				 seg_name(nw->sw, n->seg), "address", a, "mac", mac, "port",
				 p ? p->name : vtep, "origin", "learned", "age_s",
				 nw->now > n->time ? (double)(nw->now - n->time) / rte_get_tsc_hz()
						   : 0.0));
	return 0;
}

static json_t *
h_neigh_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const struct hv_gw *gw = sw->state->gw;
	const char *name = ctl_arg_str(args, "segment", false, e);
	struct neigh_walk nw = {.sw = sw, .seg = -1, .now = rte_get_tsc_cycles()};

	if (e->err)
		return NULL;
	if (name != NULL) {
		const struct hv_sw_segment *s = hv_segment_find(sw, name);

		if (s == NULL)
			return ctl_fail(e, ENOENT, "hvnetctl segment list shows the segments",
					"segment '%s' does not exist", name);
		nw.seg = s->id;
	}
	nw.a = json_array();
	for (uint32_t i = 0; gw != NULL && i < gw->n_binds; i++) {
		const struct hv_gw_bind *b = &gw->binds[i];
		const struct hv_port *p = b->port < HV_MAX_PORTS ? sw->ports[b->port] : NULL;
		char a[INET6_ADDRSTRLEN], mac[18] = "-";

		if (nw.seg >= 0 && b->seg != nw.seg)
			continue;
		addr_str(b->family, b->addr, a, sizeof(a));
		if (b->has_mac)
			mac_fmt(b->mac, mac);
		json_array_append_new(nw.a,
				      json_pack("{s:s, s:s, s:s, s:s, s:s}", "segment",
						seg_name(sw, b->seg), "address", a, "mac", mac,
						"port", p ? p->name : "-", "origin", "declared"));
	}
	hv_neigh_walk(sw->neigh, neigh_cb, &nw);
	return json_pack("{s:o, s:I}", "neighbours", nw.a, "capacity",
			 (json_int_t)hv_neigh_capacity(sw->neigh));
}

const struct hv_ctl_handler hv_gw_handlers[] = {
	{"route.show", h_route_show},
	{"neigh.show", h_neigh_show},
};
const size_t hv_gw_n_handlers = sizeof(hv_gw_handlers) / sizeof(hv_gw_handlers[0]);
