/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment gateways (gateway.h): the control-thread build of struct hv_gw
 * from the policy in force, and the fast-path stage that answers ARP and
 * neighbour discovery and decides what to route. Fast path: no allocation,
 * no locks, no logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>

#include "firewall/classify.h"
#include "firewall/lang/lang.h"
#include "packet/reply.h"
#include "vswitch/gateway.h"
#include "vswitch/vswitch.h"

_Static_assert(sizeof(((struct hv_gw *)0)->psec) / sizeof(((struct hv_gw *)0)->psec[0]) ==
		       HV_MAX_LOCAL_PORTS,
	       "port security covers the local port slots");

#define LPM_RULES  1024
#define LPM4_TBL8S 256
#define LPM6_TBL8S 2048

void
hv_gw_mac_of(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	/* 02: locally administered, unicast; 68:76 is "hv" */
	mac[0] = 0x02;
	mac[1] = 0x68;
	mac[2] = 0x76;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static int
bind_cmp(const void *a, const void *b)
{
	const struct hv_gw_bind *x = a, *y = b;

	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

const struct hv_gw_bind *
hv_gw_bind_find(const struct hv_gw *gw, uint16_t seg, uint8_t family, const uint8_t *addr)
{
	struct hv_gw_bind key = {.seg = seg, .family = family};
	uint32_t lo = 0, hi = gw->n_binds;

	memcpy(key.addr, addr, family == 4 ? 4 : 16);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = bind_cmp(&key, &gw->binds[mid]);

		if (c == 0)
			return &gw->binds[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int
hv_gw_route_lookup(const struct hv_gw *gw, uint8_t family, const uint8_t *addr)
{
	uint32_t hop;

	if (family == 4) {
		uint32_t ip = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
			      (uint32_t)addr[2] << 8 | addr[3];

		if (gw->lpm4 == NULL || rte_lpm_lookup(gw->lpm4, ip, &hop) != 0)
			return -1;
		return (int)hop;
	}
	if (gw->lpm6 == NULL || rte_lpm6_lookup(gw->lpm6, addr, &hop) != 0)
		return -1;
	return (int)hop;
}

/* The NIC behind port NAME: "GUEST-NIC", or "GUEST" when it has one NIC. */
static const struct hv_nic *
nic_of_port(const struct hv_prog *prog, const char *name)
{
	for (size_t i = 0; i < prog->guests.n; i++) {
		const struct hv_guest *g = &prog->guests.v[i];
		size_t gl = strlen(g->name);

		if (strncmp(name, g->name, gl) != 0)
			continue;
		for (size_t j = 0; j < g->nics.n; j++) {
			const struct hv_nic *n = &g->nics.v[j];

			if ((name[gl] == '-' && strcmp(name + gl + 1, n->name) == 0) ||
			    (name[gl] == '\0' && g->nics.n == 1))
				return n;
		}
	}
	return NULL;
}

/* Port security of PORT under PROG. */
static int
psec_build(const struct hv_switch *sw, const struct hv_prog *prog, const struct hv_port *p,
	   struct hv_portsec *ps, char *err, size_t errlen)
{
	const struct hv_nic *n = nic_of_port(prog, p->name);

	memset(ps, 0, sizeof(*ps));
	if (p->portsec_off)
		return 0;
	if (n == NULL || (!n->has_mac && n->ips.n == 0)) {
		ps->lock = p->portsec_lock; /* nothing declared: learn and lock, if asked */
		return 0;
	}
	(void)sw;
	ps->has_mac = n->has_mac;
	if (n->has_mac) {
		memcpy(ps->mac, n->mac, 6);
		hv_pkt_ll6_of_mac(n->mac, ps->ll6);
	}
	for (size_t k = 0; k < n->ips.n; k++) {
		const struct hv_prefix *a = &n->ips.v[k].p;

		if ((a->family == 4 ? ps->n4 : ps->n6) == HV_PORTSEC_MAX_IPS) {
			snprintf(err, errlen, "port '%s': more than %d IPv%u addresses bound",
				 p->name, HV_PORTSEC_MAX_IPS, a->family);
			return -E2BIG;
		}
		if (a->family == 4)
			memcpy(ps->ip4[ps->n4++], a->a, 4);
		else
			memcpy(ps->ip6[ps->n6++], a->a, 16);
	}
	ps->on = ps->has_mac || ps->n4 + ps->n6 > 0;
	return 0;
}

struct hv_gw *
hv_gw_build(const struct hv_switch *sw, const struct hv_fw *fw, uint64_t name_seq, char *err,
	    size_t errlen)
{
	const struct hv_prog *prog = fw->prog;
	struct hv_gw *gw;
	struct rte_lpm_config c4 = {.max_rules = LPM_RULES, .number_tbl8s = LPM4_TBL8S};
	struct rte_lpm6_config c6 = {.max_rules = LPM_RULES, .number_tbl8s = LPM6_TBL8S};
	char name[64];
	size_t n_binds = 0;

	gw = rte_zmalloc("hv_gw", sizeof(*gw), 0);
	if (gw == NULL) {
		snprintf(err, errlen, "out of memory for the gateways");
		return NULL;
	}
	snprintf(name, sizeof(name), "hv_rt4_%" PRIu64, name_seq);
	gw->lpm4 = rte_lpm_create(name, SOCKET_ID_ANY, &c4);
	snprintf(name, sizeof(name), "hv_rt6_%" PRIu64, name_seq);
	gw->lpm6 = rte_lpm6_create(name, SOCKET_ID_ANY, &c6);
	if (gw->lpm4 == NULL || gw->lpm6 == NULL) {
		snprintf(err, errlen, "cannot create the route tables: %s",
			 rte_strerror(rte_errno));
		goto fail;
	}
	for (size_t i = 0; i < prog->segments.n; i++) {
		const struct hv_segment *s = &prog->segments.v[i];
		int sid = hv_switch_seg_of_policy(sw, fw, (uint16_t)i);
		struct hv_gw_seg *g;

		if (sid < 0)
			continue; /* not on this switch */
		for (size_t k = 0; k < s->subnets.n; k++) {
			const struct hv_prefix *p = &s->subnets.v[k].p;
			int rc;

			if (p->family == 4)
				rc = rte_lpm_add(gw->lpm4,
						 (uint32_t)p->a[0] << 24 | (uint32_t)p->a[1] << 16 |
							 (uint32_t)p->a[2] << 8 | p->a[3],
						 p->plen, (uint32_t)sid);
			else
				rc = rte_lpm6_add(gw->lpm6, p->a, p->plen, (uint32_t)sid);
			if (rc != 0) {
				snprintf(err, errlen, "segment '%s': cannot add a route: %s",
					 s->name, strerror(-rc));
				goto fail;
			}
		}
		if (s->gateways.n == 0)
			continue;
		if (sid >= HV_GW_MAX_SEGS) {
			snprintf(
				err, errlen,
				"segment '%s' has a gateway but switch segment id %d: gateways need ids below %d (add the segment earlier)",
				s->name, sid, HV_GW_MAX_SEGS);
			goto fail;
		}
		g = &gw->seg[sid];
		g->on = true;
		g->ra = s->router_adv;
		g->pseg = (uint16_t)i;
		hv_gw_mac_of(s->name, g->mac);
		hv_pkt_ll6_of_mac(g->mac, g->ll6);
		for (size_t k = 0; k < s->gateways.n; k++) {
			const struct hv_prefix *p = &s->gateways.v[k].p;

			if (p->family == 4) {
				g->has4 = true;
				memcpy(g->ip4, p->a, 4);
			} else {
				g->has6 = true;
				memcpy(g->ip6, p->a, 16);
			}
		}
		for (size_t k = 0; k < s->subnets.n && g->n_subnets < HV_GW_MAX_SUBNETS; k++) {
			g->subnets[g->n_subnets].family = s->subnets.v[k].p.family;
			g->subnets[g->n_subnets].plen = s->subnets.v[k].p.plen;
			memcpy(g->subnets[g->n_subnets].a, s->subnets.v[k].p.a, 16);
			g->n_subnets++;
		}
		gw->n_on++;
	}
	/* declared bindings: static neighbours */
	for (size_t i = 0; i < prog->guests.n; i++)
		for (size_t j = 0; j < prog->guests.v[i].nics.n; j++)
			n_binds += prog->guests.v[i].nics.v[j].ips.n;
	if (n_binds > HV_GW_MAX_BINDS) {
		snprintf(err, errlen, "%zu guest addresses: at most %d", n_binds, HV_GW_MAX_BINDS);
		goto fail;
	}
	gw->binds = rte_zmalloc("hv_gw_binds", (n_binds ? n_binds : 1) * sizeof(*gw->binds), 0);
	if (gw->binds == NULL) {
		snprintf(err, errlen, "out of memory for the guest bindings");
		goto fail;
	}
	for (size_t i = 0; i < prog->guests.n; i++) {
		const struct hv_guest *g = &prog->guests.v[i];

		for (size_t j = 0; j < g->nics.n; j++) {
			const struct hv_nic *n = &g->nics.v[j];
			int sid = hv_switch_seg_of_policy(sw, fw, n->seg_id);
			char pname[2 * HV_NAME_MAX + 2];
			uint16_t port = HV_GW_NO_PORT;

			if (sid < 0)
				continue;
			snprintf(pname, sizeof(pname), "%s-%s", g->name, n->name);
			for (unsigned p = 0; p < HV_MAX_PORTS; p++) {
				const struct hv_port *hp = sw->ports[p];

				if (hp != NULL &&
				    (strcmp(hp->name, pname) == 0 ||
				     (g->nics.n == 1 && strcmp(hp->name, g->name) == 0)))
					port = (uint16_t)p;
			}
			for (size_t k = 0; k < n->ips.n; k++) {
				struct hv_gw_bind *b = &gw->binds[gw->n_binds++];

				b->seg = (uint16_t)sid;
				b->family = n->ips.v[k].p.family;
				memcpy(b->addr, n->ips.v[k].p.a, b->family == 4 ? 4 : 16);
				b->has_mac = n->has_mac;
				memcpy(b->mac, n->mac, 6);
				b->port = port;
			}
		}
	}
	qsort(gw->binds, gw->n_binds, sizeof(*gw->binds), bind_cmp);
	for (unsigned p = 0; p < HV_MAX_PORTS && p < RTE_DIM(gw->psec); p++)
		if (sw->ports[p] != NULL &&
		    psec_build(sw, prog, sw->ports[p], &gw->psec[p], err, errlen) != 0)
			goto fail;
	return gw;
fail:
	hv_gw_free(gw);
	return NULL;
}

void
hv_gw_free(struct hv_gw *gw)
{
	if (gw == NULL)
		return;
	rte_lpm_free(gw->lpm4);
	rte_lpm6_free(gw->lpm6);
	rte_free(gw->binds);
	rte_free(gw);
}

/* ---- fast path ---- */

static const uint8_t zero16[16];

/* Learn (FAMILY, ADDR) at MAC behind PORT when ADDR is inside segment SEG. */
static void
gw_learn(const struct hv_gw *gw, struct hv_neigh_table *nt, uint16_t seg, uint16_t port,
	 uint8_t family, const uint8_t *addr, const uint8_t *mac, uint64_t now,
	 struct hv_gw_counters *cnt)
{
	bool ll = family == 6 && addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
	int rc;

	if (memcmp(addr, zero16, family == 4 ? 4 : 16) == 0 || hv_mac_is_multicast(mac))
		return;
	/* only addresses of the segment: a guest cannot plant entries for others */
	if (!ll && hv_gw_route_lookup(gw, family, addr) != seg)
		return;
	rc = hv_neigh_learn(nt, seg, family, addr, mac, port, now);
	if (rc >= 0)
		__atomic_store_n(&cnt->learned, cnt->learned + 1, __ATOMIC_RELAXED);
	else if (rc == -EBUSY)
		__atomic_store_n(&cnt->learn_busy, cnt->learn_busy + 1, __ATOMIC_RELAXED);
	else if (rc == -ENOSPC)
		__atomic_store_n(&cnt->learn_limit, cnt->learn_limit + 1, __ATOMIC_RELAXED);
}

#define CNT_INC(f) __atomic_store_n(&(f), (f) + 1, __ATOMIC_RELAXED)

/* The MAC to answer for (SEG, FAMILY, ADDR) asked on PORT, or NULL: the gateway's,
 * or a bound guest's other than the asker's own. *router: it is the gateway. */
static const uint8_t *
gw_answer_mac(const struct hv_gw *gw, uint16_t seg, uint16_t port, uint8_t family,
	      const uint8_t *addr, bool *router)
{
	const struct hv_gw_seg *g = seg < HV_GW_MAX_SEGS ? &gw->seg[seg] : NULL;
	const struct hv_gw_bind *b;

	*router = false;
	if (g != NULL && g->on) {
		if ((family == 4 && g->has4 && memcmp(addr, g->ip4, 4) == 0) ||
		    (family == 6 && ((g->has6 && memcmp(addr, g->ip6, 16) == 0) ||
				     memcmp(addr, g->ll6, 16) == 0))) {
			*router = true;
			return g->mac;
		}
	}
	b = hv_gw_bind_find(gw, seg, family, addr);
	if (b == NULL || !b->has_mac || b->port == port)
		return NULL;
	return b->mac;
}

static bool
is_group(uint8_t family, const uint8_t *a)
{
	return family == 4 ? a[0] >= 224 || memcmp(a, zero16, 4) == 0 : a[0] == 0xff;
}

enum hv_gw_verdict
hv_gw_ingress(const struct hv_gw *gw, struct hv_neigh_table *nt, uint16_t seg, uint16_t port,
	      const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, uint64_t now,
	      struct hv_gw_counters *cnt, uint16_t *dseg, enum hv_drop_reason *why, uint8_t *out,
	      size_t *out_len)
{
	const struct hv_gw_seg *g = seg < HV_GW_MAX_SEGS ? &gw->seg[seg] : NULL;
	const bool to_gw = g != NULL && g->on && memcmp(m->dst_mac, g->mac, 6) == 0;
	const uint8_t family = m->l3 == HV_L3_IPV6 ? 6 : 4;
	const uint8_t *mac;
	uint8_t target[16];
	bool router;
	int d;

	*out_len = 0;
	*why = HV_DROP_NONE;
	if (m->l3 == HV_L3_ARP) {
		const uint8_t *sha = hv_pkt_arp_sha(frame, len, m);

		if (sha != NULL)
			gw_learn(gw, nt, seg, port, 4, m->src_ip, sha, now, cnt);
		if (m->arp_op == 1 && memcmp(m->src_ip, m->dst_ip, 4) != 0 &&
		    (mac = gw_answer_mac(gw, seg, port, 4, m->dst_ip, &router)) != NULL) {
			*out_len = hv_reply_arp(frame, len, m, mac, out, HV_REPLY_FRAME_MAX);
			if (*out_len != 0) {
				CNT_INC(*(router ? &cnt->arp_answered : &cnt->arp_suppressed));
				return HV_GW_DONE;
			}
		}
		return to_gw ? HV_GW_DONE : HV_GW_PASS; /* an answer to the gateway's request */
	}
	if (m->l3 == HV_L3_IPV6 && m->l4_proto == 58 && (m->flags & HV_PKT_F_L4) &&
	    m->icmp_type == 133 && m->icmp_code == 0 && m->ttl == 255) {
		/* a router solicitation: answered where the file asks for advertisements */
		static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
		const bool unspec = memcmp(m->src_ip, zero16, 16) == 0;

		if (g == NULL || !g->on || !g->ra || hv_mac_is_multicast(m->src_mac) ||
		    m->src_ip[0] == 0xff)
			return HV_GW_PASS;
		*out_len = hv_gw_ra(gw, seg, unspec ? all_nodes : m->src_ip, m->src_mac, out,
				    HV_REPLY_FRAME_MAX);
		if (*out_len == 0)
			return HV_GW_PASS;
		CNT_INC(cnt->ra_sent);
		return HV_GW_DONE;
	}
	if (m->l3 == HV_L3_IPV6 && hv_pkt_nd_target(frame, len, m, target)) {
		if (m->icmp_type == 136) {
			gw_learn(gw, nt, seg, port, 6, target, m->src_mac, now, cnt);
			return to_gw ? HV_GW_DONE : HV_GW_PASS;
		}
		gw_learn(gw, nt, seg, port, 6, m->src_ip, m->src_mac, now, cnt);
		mac = gw_answer_mac(gw, seg, port, 6, target, &router);
		if (mac != NULL) {
			*out_len =
				hv_reply_nd_na(frame, len, m, mac, router, out, HV_REPLY_FRAME_MAX);
			if (*out_len != 0) {
				CNT_INC(*(router ? &cnt->nd_answered : &cnt->nd_suppressed));
				return HV_GW_DONE;
			}
		}
		return to_gw ? HV_GW_DONE : HV_GW_PASS;
	}
	if (!to_gw)
		return HV_GW_PASS;
	/* a frame for the gateway's MAC: routed, answered or dropped here */
	if ((family == 4 && g->has4 && memcmp(m->dst_ip, g->ip4, 4) == 0 && m->l3 == HV_L3_IPV4) ||
	    (family == 6 && g->has6 && memcmp(m->dst_ip, g->ip6, 16) == 0)) {
		/* a ping of the gateway is answered (like a router's own address) */
		*out_len = hv_reply_icmp_echo(frame, len, m, out, HV_REPLY_FRAME_MAX);
		if (*out_len != 0) {
			CNT_INC(cnt->echo_answered);
			return HV_GW_DONE;
		}
	}
	if ((m->l3 != HV_L3_IPV4 && m->l3 != HV_L3_IPV6) || is_group(family, m->dst_ip) ||
	    (family == 4 && g->has4 && memcmp(m->dst_ip, g->ip4, 4) == 0) ||
	    (family == 6 && ((g->has6 && memcmp(m->dst_ip, g->ip6, 16) == 0) ||
			     memcmp(m->dst_ip, g->ll6, 16) == 0)) ||
	    (family == 6 && m->dst_ip[0] == 0xfe && (m->dst_ip[1] & 0xc0) == 0x80)) {
		*why = HV_DROP_GW_LOCAL;
		return HV_GW_DONE;
	}
	d = hv_gw_route_lookup(gw, family, m->dst_ip);
	if (d < 0 || d >= HV_GW_MAX_SEGS || !gw->seg[d].on ||
	    !(family == 4 ? gw->seg[d].has4 : gw->seg[d].has6) ||
	    !(family == 4 ? g->has4 : g->has6)) {
		/* net unreachable (ICMPv4 3/0), no route (ICMPv6 1/0), from the gateway */
		*out_len =
			hv_reply_icmp_error(frame, len, m, family == 4 ? 3 : 1, 0, 0,
					    family == 4 ? g->ip4 : g->ip6, out, HV_REPLY_FRAME_MAX);
		*why = HV_DROP_GW_NO_ROUTE;
		return HV_GW_DONE;
	}
	if (m->ttl <= 1) {
		/* time exceeded in transit: ICMPv4 11/0, ICMPv6 3/0 */
		*out_len =
			hv_reply_icmp_error(frame, len, m, family == 4 ? 11 : 3, 0, 0,
					    family == 4 ? g->ip4 : g->ip6, out, HV_REPLY_FRAME_MAX);
		*why = HV_DROP_GW_TTL;
		return HV_GW_DONE;
	}
	if (family == 6 && m->src_ip[0] == 0xfe && (m->src_ip[1] & 0xc0) == 0x80) {
		/* RFC 4291 2.5.6: a link-local source never leaves its link;
		 * destination unreachable, beyond scope of source address (ICMPv6
		 * 1/2, RFC 4443 3.1), from the gateway's link-local address, as a
		 * Linux router answers */
		*out_len = hv_reply_icmp_error(frame, len, m, 1, 2, 0, g->ll6, out,
					       HV_REPLY_FRAME_MAX);
		*why = HV_DROP_GW_SCOPE;
		return HV_GW_DONE;
	}
	*dseg = (uint16_t)d;
	return HV_GW_ROUTE;
}

int
hv_gw_route_resolve(const struct hv_gw *gw, const struct hv_neigh_table *nt, uint16_t dseg,
		    uint8_t family, const uint8_t *addr, uint8_t *frame, uint64_t now,
		    uint64_t max_age)
{
	const struct hv_gw_bind *b = hv_gw_bind_find(gw, dseg, family, addr);
	struct hv_neigh_entry e;

	if (b != NULL && b->has_mac) {
		memcpy(frame, b->mac, 6);
		return 0;
	}
	if (hv_neigh_lookup(nt, dseg, family, addr, now, max_age, &e) != 0)
		return -ENOENT;
	memcpy(frame, e.mac, 6);
	return 0;
}

int
hv_gw_route_out(const struct hv_gw *gw, const struct hv_neigh_table *nt, uint16_t dseg,
		uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, uint64_t now,
		uint64_t max_age)
{
	if (dseg >= HV_GW_MAX_SEGS || hv_pkt_ttl_dec(frame, len, m) != 0)
		return -EINVAL;
	memcpy(frame + 6, gw->seg[dseg].mac, 6);
	return hv_gw_route_resolve(gw, nt, dseg, m->l3 == HV_L3_IPV6 ? 6 : 4, m->dst_ip, frame, now,
				   max_age);
}

size_t
hv_gw_solicit(const struct hv_gw *gw, uint16_t dseg, uint8_t family, const uint8_t *addr,
	      uint8_t *out, size_t out_size)
{
	const struct hv_gw_seg *g = dseg < HV_GW_MAX_SEGS ? &gw->seg[dseg] : NULL;

	if (g == NULL || !g->on)
		return 0;
	if (family == 4)
		return g->has4 ? hv_reply_arp_request(g->mac, g->ip4, addr, out, out_size) : 0;
	return g->has6 ? hv_reply_nd_ns(g->mac, g->ll6, addr, out, out_size) : 0;
}

size_t
hv_gw_ra(const struct hv_gw *gw, uint16_t seg, const uint8_t dst[16], const uint8_t dst_mac[6],
	 uint8_t *out, size_t out_size)
{
	const struct hv_gw_seg *g = seg < HV_GW_MAX_SEGS ? &gw->seg[seg] : NULL;
	uint8_t pfx[HV_REPLY_RA_MAX_PREFIXES][16], plen[HV_REPLY_RA_MAX_PREFIXES];
	unsigned n = 0;

	if (g == NULL || !g->on || !g->ra || !g->has6)
		return 0;
	for (unsigned k = 0; k < g->n_subnets && n < HV_REPLY_RA_MAX_PREFIXES; k++)
		if (g->subnets[k].family == 6) {
			memcpy(pfx[n], g->subnets[k].a, 16);
			plen[n++] = g->subnets[k].plen;
		}
	return hv_reply_nd_ra(g->mac, g->ll6, dst, dst_mac, (const uint8_t(*)[16])pfx, plen, n, out,
			      out_size);
}

bool
hv_gw_idle(const struct hv_gw *gw)
{
	if (gw->n_on != 0 || gw->n_binds != 0)
		return false;
	for (size_t p = 0; p < RTE_DIM(gw->psec); p++)
		if (gw->psec[p].on || gw->psec[p].lock)
			return false;
	return true;
}

enum hv_gw_vtep_verdict
hv_gw_from_vtep(const struct hv_gw *gw, uint16_t seg, const uint8_t *frame, uint32_t len,
		uint64_t carried, uint16_t *src_seg)
{
	const struct hv_gw_seg *g = seg < HV_GW_MAX_SEGS ? &gw->seg[seg] : NULL;
	uint16_t type;
	uint8_t family;
	const uint8_t *src;
	int s;

	*src_seg = seg;
	if (g == NULL || !g->on || len < 14)
		return HV_GW_VTEP_PASS;
	type = (uint16_t)(frame[12] << 8 | frame[13]);
	if (memcmp(frame + 6, g->mac, 6) != 0) {
		/* a guest's answer to a gateway's request: for every host's gateway */
		if (memcmp(frame, g->mac, 6) != 0)
			return HV_GW_VTEP_PASS;
		if (type == 0x0806 && len >= 14 + 28 && frame[20] == 0 && frame[21] == 2)
			return HV_GW_VTEP_NEIGH;
		if (type == 0x86dd && len >= 14 + 40 + 4 && frame[20] == 58 && frame[54] == 136)
			return HV_GW_VTEP_NEIGH;
		return HV_GW_VTEP_PASS;
	}
	/* from the gateway: its own ARP request or NS, from its own address */
	if (type == 0x0806) {
		if (len >= 14 + 28 && frame[20] == 0 && frame[21] == 1 && g->has4 &&
		    memcmp(frame + 14 + 8, g->mac, 6) == 0 && memcmp(frame + 28, g->ip4, 4) == 0)
			return HV_GW_VTEP_OWN;
		return HV_GW_VTEP_SPOOF;
	}
	if (type == 0x0800 && len >= 14 + 20 && (frame[14] >> 4) == 4) {
		family = 4;
		src = frame + 14 + 12;
	} else if (type == 0x86dd && len >= 14 + 40 && (frame[14] >> 4) == 6) {
		family = 6;
		src = frame + 14 + 8;
		if (frame[20] == 58 && len >= 14 + 40 + 4 && frame[54] == 135 &&
		    memcmp(src, g->ll6, 16) == 0)
			return HV_GW_VTEP_OWN;
	} else {
		return HV_GW_VTEP_SPOOF; /* a gateway sends IP and ARP only, never tagged */
	}
	/* routed: the source segment must be another one, with a gateway, carried by the VTEP */
	s = hv_gw_route_lookup(gw, family, src);
	if (s < 0 || s >= HV_GW_MAX_SEGS || s == seg || !gw->seg[s].on ||
	    !(family == 4 ? gw->seg[s].has4 && g->has4 : gw->seg[s].has6 && g->has6) ||
	    !((carried >> s) & 1))
		return HV_GW_VTEP_SPOOF;
	*src_seg = (uint16_t)s;
	return HV_GW_VTEP_ROUTED;
}
