/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `policy trace`: which rule decides a packet, and why, from the IR alone.
 * The segments of the two ends come from the subnets (the most specific
 * one) unless the caller sets them; the walk is the IR's first match, the
 * same order the classifier keeps.
 */
#include <ctype.h>
#include <stdio.h>

#include "internal.h"

void hv_rule_print(FILE *f, const struct hv_prog *g, const struct hv_rule *r);

/* "10.0.0.1", "10.0.0.1:80", "2001:db8::1", "[2001:db8::1]:80" */
static bool
parse_endpoint(const char *s, size_t n, struct hv_prefix *p, uint16_t *port, bool *has_port)
{
	char buf[80];
	const char *colon;

	*has_port = false;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *addr = buf, *ps = NULL;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (close == NULL)
			return false;
		*close = '\0';
		addr = buf + 1;
		if (close[1] == ':')
			ps = close + 2;
		else if (close[1] != '\0')
			return false;
	} else if ((colon = strchr(buf, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		buf[colon - buf] = '\0';
		ps = buf + (colon - buf) + 1;
	}
	if (strchr(addr, '/') || !hv_prefix_parse(addr, p, NULL))
		return false;
	if (ps) {
		uint32_t v;
		if (!hv_parse_u32(ps, &v) || v > 65535)
			return false;
		*port = (uint16_t)v;
		*has_port = true;
	}
	return true;
}

bool
hv_trace_parse(const char *s, struct hv_trace_pkt *pkt, char *err, size_t errlen)
{
	const char *p = s, *w;
	struct hv_svc_item it;
	const char *e;
	bool hp;

	memset(pkt, 0, sizeof(*pkt));
	pkt->src_seg = pkt->dst_seg = HV_SEG_ANY;
	pkt->icmp_type = -1;
	while (isspace((unsigned char)*p))
		p++;
	for (w = p; *p && !isspace((unsigned char)*p); p++)
		;
	char proto[32];
	if ((size_t)(p - w) >= sizeof(proto) || p == w) {
		snprintf(err, errlen, "expected a protocol first (tcp, udp, icmp, icmpv6)");
		return false;
	}
	memcpy(proto, w, (size_t)(p - w));
	proto[p - w] = '\0';
	if (!hv_parse_svc_item(proto, &it, &e) || it.proto == HV_PROTO_ANY ||
	    ((it.proto == HV_PROTO_TCP || it.proto == HV_PROTO_UDP) && strchr(proto, '/'))) {
		snprintf(err, errlen,
			 "'%s' is not a protocol (tcp, udp, icmp, icmp/echo-request, icmpv6, ...)",
			 proto);
		return false;
	}
	pkt->proto = it.proto;
	pkt->icmp_type = it.icmp_type;
	if ((pkt->proto == HV_PROTO_ICMP || pkt->proto == HV_PROTO_ICMPV6) && pkt->icmp_type < 0)
		pkt->icmp_type = pkt->proto == HV_PROTO_ICMP ? 8 : 128; /* echo request */

	const char *arrow = strstr(p, "->");
	if (arrow == NULL) {
		snprintf(err, errlen, "expected 'SOURCE -> DESTINATION'");
		return false;
	}
	const char *a = p, *b = arrow;
	while (isspace((unsigned char)*a))
		a++;
	while (b > a && isspace((unsigned char)b[-1]))
		b--;
	if (!parse_endpoint(a, (size_t)(b - a), &pkt->src, &pkt->sport, &hp)) {
		snprintf(err, errlen, "bad source '%.*s': expected ADDRESS[:PORT] or [IPV6]:PORT",
			 (int)(b - a), a);
		return false;
	}
	a = arrow + 2;
	while (isspace((unsigned char)*a))
		a++;
	b = a + strlen(a);
	while (b > a && isspace((unsigned char)b[-1]))
		b--;
	/* DESTINATION [port NAME]: the port the packet came in on */
	for (const char *q = a; q < b; q++) {
		if (!isspace((unsigned char)*q))
			continue;
		const char *kw = q;
		while (kw < b && isspace((unsigned char)*kw))
			kw++;
		if (b - kw < 4 || strncmp(kw, "port", 4) != 0 ||
		    (kw + 4 < b && !isspace((unsigned char)kw[4])))
			break;
		const char *nm = kw + 4;
		while (nm < b && isspace((unsigned char)*nm))
			nm++;
		size_t nl = (size_t)(b - nm);
		if (nl == 0 || nl > HV_PORT_NAME_MAX || memchr(nm, ' ', nl) ||
		    memchr(nm, '\t', nl)) {
			snprintf(
				err, errlen,
				"expected 'port NAME' after the destination, NAME a port name of 1-%d characters",
				HV_PORT_NAME_MAX);
			return false;
		}
		memcpy(pkt->in_port, nm, nl);
		pkt->in_port[nl] = '\0';
		if (!hv_port_name_valid(pkt->in_port)) {
			snprintf(err, errlen,
				 "bad port name '%s': letters, digits, '-', '_' and '.' only",
				 pkt->in_port);
			return false;
		}
		b = q;
		break;
	}
	if (!parse_endpoint(a, (size_t)(b - a), &pkt->dst, &pkt->dport, &hp)) {
		snprintf(err, errlen,
			 "bad destination '%.*s': expected ADDRESS[:PORT] or [IPV6]:PORT",
			 (int)(b - a), a);
		return false;
	}
	if ((pkt->proto == HV_PROTO_TCP || pkt->proto == HV_PROTO_UDP) && !hp) {
		snprintf(err, errlen, "%s needs a destination port (ADDRESS:PORT)", proto);
		return false;
	}
	if (pkt->src.family != pkt->dst.family) {
		snprintf(err, errlen, "source and destination are of different address families");
		return false;
	}
	if ((pkt->proto == HV_PROTO_ICMP && pkt->src.family != 4) ||
	    (pkt->proto == HV_PROTO_ICMPV6 && pkt->src.family != 6)) {
		snprintf(err, errlen, "icmp goes with IPv4 addresses, icmpv6 with IPv6");
		return false;
	}
	return true;
}

/* the segment whose subnet holds A most specifically; HV_SEG_ANY if none */
static uint16_t
segment_of(const struct hv_prog *g, const struct hv_prefix *a)
{
	uint16_t best = HV_SEG_ANY;
	int best_len = -1;

	for (size_t i = 0; i < g->segments.n; i++)
		for (size_t j = 0; j < g->segments.v[i].subnets.n; j++) {
			const struct hv_prefix *sn = &g->segments.v[i].subnets.v[j].p;
			if (hv_prefix_contains(sn, a) && sn->plen > best_len) {
				best = (uint16_t)i;
				best_len = sn->plen;
			}
		}
	return best;
}

static bool
side_match(uint16_t es, const struct hv_prefix *ep, uint16_t ps, const struct hv_prefix *pp)
{
	if (es != HV_SEG_ANY && es != ps)
		return false;
	return ep->plen == 0 || hv_prefix_contains(ep, pp);
}

static bool
entry_match(const struct hv_ir *ir, const struct hv_ir_rule *e, const struct hv_trace_pkt *p)
{
	if (e->family && e->family != p->src.family)
		return false;
	/* a packet from a port the policy does not name matches no port term */
	if (e->in_port &&
	    (e->in_port > ir->n_ports || strcmp(ir->ports[e->in_port - 1], p->in_port) != 0))
		return false;
	if (!side_match(e->src_seg, &e->src, p->src_seg, &p->src) ||
	    !side_match(e->dst_seg, &e->dst, p->dst_seg, &p->dst))
		return false;
	if (e->proto != HV_PROTO_ANY && e->proto != p->proto)
		return false;
	if (e->proto == HV_PROTO_TCP || e->proto == HV_PROTO_UDP)
		return p->dport >= e->dport_lo && p->dport <= e->dport_hi;
	if (e->icmp_type >= 0)
		return e->icmp_type == p->icmp_type;
	return true;
}

void
hv_trace_run(const struct hv_ir *ir, const struct hv_trace_pkt *pkt_in, struct hv_trace_result *res)
{
	struct hv_trace_pkt pkt = *pkt_in;

	memset(res, 0, sizeof(*res));
	if (pkt.src_seg == HV_SEG_ANY)
		pkt.src_seg = segment_of(ir->prog, &pkt.src);
	if (pkt.dst_seg == HV_SEG_ANY)
		pkt.dst_seg = segment_of(ir->prog, &pkt.dst);
	res->src_seg = pkt.src_seg;
	res->dst_seg = pkt.dst_seg;
	res->src_seg_known = pkt.src_seg != HV_SEG_ANY;
	res->dst_seg_known = pkt.dst_seg != HV_SEG_ANY;
	for (size_t i = 0; i < ir->n_entries; i++) {
		if (entry_match(ir, &ir->entries[i], &pkt)) {
			res->entry = &ir->entries[i];
			res->rule = ir->rules[res->entry->rule].rule;
			res->action = res->rule->action;
			res->log = res->rule->log;
			return;
		}
	}
	res->rule = ir->dflt;
	res->action = ir->default_action;
	res->log = ir->default_log;
}

static const char *
guest_of(const struct hv_prog *g, const struct hv_prefix *a, const char **nic)
{
	for (size_t i = 0; i < g->guests.n; i++)
		for (size_t j = 0; j < g->guests.v[i].nics.n; j++)
			for (size_t k = 0; k < g->guests.v[i].nics.v[j].ips.n; k++) {
				struct hv_prefix h = g->guests.v[i].nics.v[j].ips.v[k].p;
				h.plen = h.family == 4 ? 32 : 128;
				if (h.family == a->family && memcmp(h.a, a->a, 16) == 0) {
					*nic = g->guests.v[i].nics.v[j].name;
					return g->guests.v[i].name;
				}
			}
	return NULL;
}

static void
explain_end(FILE *f, const struct hv_ir *ir, const char *side, const struct hv_prefix *a,
	    bool known, uint16_t seg, uint16_t port, bool ports)
{
	char b[64];
	const char *nic = NULL, *guest = guest_of(ir->prog, a, &nic);

	hv_prefix_format(a, b, sizeof(b));
	fprintf(f, "  %-12s %s", side, b);
	if (ports)
		fprintf(f, " port %u", port);
	if (known)
		fprintf(f, ", segment %s", ir->prog->segments.v[seg].name);
	else
		fputs(", in no segment's subnet", f);
	if (guest)
		fprintf(f, ", guest %s (%s)", guest, nic);
	fputc('\n', f);
}

void
hv_trace_explain(FILE *f, const struct hv_ir *ir, const struct hv_trace_pkt *pkt,
		 const struct hv_trace_result *res)
{
	bool ports = pkt->proto == HV_PROTO_TCP || pkt->proto == HV_PROTO_UDP;
	const char *pn = hv_proto_name(pkt->proto);

	fprintf(f, "packet: %s", pn ? pn : "?");
	if (pkt->icmp_type >= 0) {
		const char *tn = hv_icmp_type_name(pkt->proto, pkt->icmp_type);
		if (tn)
			fprintf(f, " %s", tn);
		else
			fprintf(f, " type %d", pkt->icmp_type);
	}
	fputc('\n', f);
	explain_end(f, ir, "source", &pkt->src, res->src_seg_known, res->src_seg, pkt->sport,
		    ports);
	explain_end(f, ir, "destination", &pkt->dst, res->dst_seg_known, res->dst_seg, pkt->dport,
		    ports);
	if (pkt->in_port[0])
		fprintf(f, "  %-12s %s%s\n", "in port", pkt->in_port,
			hv_ir_port_id(ir, pkt->in_port) ? ""
							: ", which no rule of the policy names");
	else if (ir->n_ports)
		fprintf(f, "  %-12s none given: rules with a port term do not match\n", "in port");
	fprintf(f, "verdict: %s%s\n", hv_action_name(res->action), res->log ? ", logged" : "");
	if (res->entry) {
		const struct hv_rule *r = res->rule;
		fprintf(f, "decided by rule %s (%s:%u:%u), the first rule that matches:\n    ",
			r->id, hv_src_path(r->loc.src), r->loc.line, r->loc.col);
		hv_rule_print(f, ir->prog, r);
		fputc('\n', f);
		const struct hv_ir_rule *e = res->entry;
		char b[64];
		fputs("  because", f);
		if (e->src_seg == HV_SEG_ANY && e->src.plen == 0 && e->in_port)
			fprintf(f, " the source came in on port %s", ir->ports[e->in_port - 1]);
		else if (e->src_seg == HV_SEG_ANY && e->src.plen == 0)
			fputs(" the source may be anything", f);
		else {
			fputs(" the source is", f);
			if (e->src_seg != HV_SEG_ANY)
				fprintf(f, " in segment %s", ir->prog->segments.v[e->src_seg].name);
			if (e->src.plen) {
				hv_prefix_format(&e->src, b, sizeof(b));
				fprintf(f, "%s in %s", e->src_seg != HV_SEG_ANY ? " and" : "", b);
			}
			if (e->in_port)
				fprintf(f, " and came in on port %s", ir->ports[e->in_port - 1]);
		}
		if (e->dst_seg == HV_SEG_ANY && e->dst.plen == 0)
			fputs(", the destination may be anything", f);
		else {
			fputs(", the destination is", f);
			if (e->dst_seg != HV_SEG_ANY)
				fprintf(f, " in segment %s", ir->prog->segments.v[e->dst_seg].name);
			if (e->dst.plen) {
				hv_prefix_format(&e->dst, b, sizeof(b));
				fprintf(f, "%s in %s", e->dst_seg != HV_SEG_ANY ? " and" : "", b);
			}
		}
		if (e->proto == HV_PROTO_ANY)
			fputs(", any protocol", f);
		else if (ports)
			fprintf(f, ", %s port %u is in %u-%u", pn, pkt->dport, e->dport_lo,
				e->dport_hi);
		else
			fprintf(f, ", the protocol is %s", pn ? pn : "?");
		fputs("\n", f);
		size_t before = res->entry->rule;
		if (before)
			fprintf(f, "  the %zu rule%s before it did not match\n", before,
				before == 1 ? "" : "s");
	} else if (res->rule) {
		fprintf(f, "decided by the default (%s:%u:%u): no rule of %zu matches\n",
			hv_src_path(res->rule->loc.src), res->rule->loc.line, res->rule->loc.col,
			ir->n_rules);
	} else {
		fprintf(f,
			"decided by the implicit default (the policy has none): no rule of %zu matches\n",
			ir->n_rules);
	}
}
