/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The canonical printer (`hvnetctl policy show`) and the IR dump
 * (`policy show --ir`, the golden tests).
 *
 * Canonical form: includes inlined, one statement per line, settings in a
 * fixed order, a tab per level, sizes in the largest exact unit. Printing
 * and reparsing gives the same IR (tests/lang checks it on every file).
 */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

static void
print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void
print_size(FILE *f, uint64_t v)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u >= 0)
		fprintf(f, "%" PRIu64 "%c", v, units[u]);
	else
		fprintf(f, "%" PRIu64, v);
}

static void
print_duration(FILE *f, uint32_t s)
{
	if (s % 86400 == 0)
		fprintf(f, "%ud", s / 86400);
	else if (s % 3600 == 0)
		fprintf(f, "%uh", s / 3600);
	else if (s % 60 == 0)
		fprintf(f, "%um", s / 60);
	else
		fprintf(f, "%us", s);
}

static void
print_prefixes(FILE *f, const struct hv_loc_prefix *v, size_t n, bool keep_len)
{
	for (size_t i = 0; i < n; i++) {
		char b[64];
		struct hv_prefix p = v[i].p;
		if (keep_len) {
			/* interface addresses: address/len with the host bits */
			struct hv_prefix h = p;
			h.plen = h.family == 4 ? 32 : 128;
			hv_prefix_format(&h, b, sizeof(b));
			fprintf(f, "%s%s/%u", i ? ", " : "", b, p.plen);
		} else {
			hv_prefix_format(&p, b, sizeof(b));
			fprintf(f, "%s%s", i ? ", " : "", b);
		}
	}
}

static bool
guest_named(const struct hv_prog *g, const char *name)
{
	for (size_t i = 0; i < g->guests.n; i++)
		if (strcmp(g->guests.v[i].name, name) == 0)
			return true;
	return false;
}

static void
print_endpoint(FILE *f, const struct hv_prog *g, const struct hv_endpoint *e)
{
	if (e->any) {
		fputs("any", f);
		return;
	}
	for (size_t i = 0; i < e->terms.n; i++) {
		const struct hv_term *t = &e->terms.v[i];
		char b[64];
		if (i)
			fputc(' ', f);
		switch (t->kind) {
		case HV_TERM_NAME:
			fputs(t->ref.name, f);
			break;
		case HV_TERM_SEGMENT:
			fprintf(f, "%s%s", guest_named(g, t->ref.name) ? "segment " : "",
				t->ref.name);
			break;
		case HV_TERM_GUEST:
			fprintf(f, "guest %s", t->ref.name);
			break;
		case HV_TERM_SET:
			fprintf(f, "@%s", t->ref.name);
			break;
		case HV_TERM_PREFIX:
			hv_prefix_format(&t->prefix, b, sizeof(b));
			fputs(b, f);
			break;
		case HV_TERM_PORT:
			fprintf(f, "port %s", t->ref.name);
			break;
		case HV_TERM_NIC:
			fprintf(f, "nic %s", t->ref.name);
			break;
		}
	}
}

static void
print_log(FILE *f, const struct hv_rule *r)
{
	if (!r->log)
		return;
	fputs(" log", f);
	if (r->log_rate)
		fprintf(f, " rate %u/s", r->log_rate);
	if (r->log_burst)
		fprintf(f, " burst %u", r->log_burst);
}

void hv_rule_print(FILE *f, const struct hv_prog *g, const struct hv_rule *r);

void
hv_rule_print(FILE *f, const struct hv_prog *g, const struct hv_rule *r)
{
	if (r->label)
		fprintf(f, "%s: ", r->label);
	if (r->is_default) {
		fprintf(f, "default %s", hv_action_name(r->action));
		print_log(f, r);
		return;
	}
	fputs(hv_action_name(r->action), f);
	print_log(f, r);
	fputc(' ', f);
	print_endpoint(f, g, &r->from);
	fputs(" -> ", f);
	print_endpoint(f, g, &r->to);
	if (r->services.n || r->inline_svc.n) {
		fputs(" service ", f);
		for (size_t i = 0; i < r->services.n; i++)
			fprintf(f, "%s%s", i ? ", " : "", r->services.v[i].name);
		for (size_t i = 0; i < r->inline_svc.n; i++) {
			char b[64];
			hv_svc_item_format(&r->inline_svc.v[i], b, sizeof(b));
			fprintf(f, "%s%s", i || r->services.n ? ", " : "", b);
		}
	}
}

static void
print_segment(FILE *f, const struct hv_segment *s)
{
	fprintf(f, "segment %s {\n", s->name);
	if (s->cls != HV_CLASS_NONE)
		fprintf(f, "\tclass %s\n", hv_class_name(s->cls));
	if (s->has_vni)
		fprintf(f, "\tvni %u\n", s->vni);
	if (s->subnets.n) {
		fputs("\tsubnet ", f);
		print_prefixes(f, s->subnets.v, s->subnets.n, false);
		fputc('\n', f);
	}
	if (s->gateways.n) {
		fputs("\tgateway ", f);
		print_prefixes(f, s->gateways.v, s->gateways.n, false);
		fputc('\n', f);
	}
	if (s->conn_limit)
		fprintf(f, "\tconn-limit %u\n", s->conn_limit);
	if (s->mac_limit)
		fprintf(f, "\tmac-limit %u\n", s->mac_limit);
	if (s->mtu)
		fprintf(f, "\tmtu %u\n", s->mtu);
	if (s->router_adv)
		fputs("\trouter-advertisements\n", f);
	fputs("}\n", f);
}

static void
print_guest(FILE *f, const struct hv_guest *gu)
{
	fprintf(f, "guest %s {\n", gu->name);
	fprintf(f, "\tkind %s\n", gu->kind == HV_GUEST_QEMU ? "qemu" : "netns");
	if (gu->memory) {
		fputs("\tmemory ", f);
		print_size(f, gu->memory);
		fputc('\n', f);
	}
	if (gu->cpus)
		fprintf(f, "\tcpus %u\n", gu->cpus);
	if (gu->image) {
		fputs("\timage ", f);
		print_string(f, gu->image);
		fputc('\n', f);
	}
	for (size_t i = 0; i < gu->nics.n; i++) {
		const struct hv_nic *n = &gu->nics.v[i];
		fprintf(f, "\tnic %s {\n", n->name);
		if (n->segment.name)
			fprintf(f, "\t\tsegment %s\n", n->segment.name);
		if (n->has_mac)
			fprintf(f, "\t\tmac %02x:%02x:%02x:%02x:%02x:%02x\n", n->mac[0], n->mac[1],
				n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		if (n->ips.n) {
			fputs("\t\tip ", f);
			print_prefixes(f, n->ips.v, n->ips.n, true);
			fputc('\n', f);
		}
		if (n->mtu)
			fprintf(f, "\t\tmtu %u\n", n->mtu);
		if (n->conn_limit)
			fprintf(f, "\t\tconn-limit %u\n", n->conn_limit);
		fputs("\t}\n", f);
	}
	fputs("}\n", f);
}

static void
print_mirror(FILE *f, const struct hv_mirror *m)
{
	static const char *const dirs[] = {"both", "ingress", "egress"};
	static const char *const verdicts[] = {"any", "allowed", "blocked"};
	bool first = true;

	fprintf(f, "mirror %s {\n", m->name);
	fputs("\tselect ", f);
	for (size_t i = 0; i < m->segments.n; i++, first = false)
		fprintf(f, "%ssegment %s", first ? "" : ", ", m->segments.v[i].name);
	for (size_t i = 0; i < m->ports.n; i++, first = false)
		fprintf(f, "%sport %s", first ? "" : ", ", m->ports.v[i].name);
	fprintf(f, "%sdirection %s, verdict %s\n", first ? "" : ", ", dirs[m->dir],
		verdicts[m->verdict]);
	if (m->filter) {
		fputs("\tfilter ", f);
		print_string(f, m->filter);
		fputc('\n', f);
	}
	fprintf(f, "\ttap %s\n", m->tap_delivered ? "delivered" : "wire");
	if (m->snaplen)
		fprintf(f, "\tsnaplen %u\n", m->snaplen);
	if (m->sample > 1)
		fprintf(f, "\tsample %u\n", m->sample);
	for (size_t i = 0; i < m->dests.n; i++) {
		const struct hv_mirror_dest *d = &m->dests.v[i];
		char b[64];
		fputs("\tto ", f);
		switch (d->kind) {
		case HV_DEST_PCAP:
			fputs("pcap ", f);
			print_string(f, d->path);
			if (d->rotate_size) {
				fputs(" rotate ", f);
				print_size(f, d->rotate_size);
			}
			if (d->rotate_secs) {
				fputs(" every ", f);
				print_duration(f, d->rotate_secs);
			}
			if (d->keep)
				fprintf(f, " keep %u", d->keep);
			break;
		case HV_DEST_PORT:
			fprintf(f, "port %s", d->port);
			if (d->netns)
				fprintf(f, " netns %s", d->netns);
			if (d->vlan_tag)
				fputs(" vlan-tag", f);
			break;
		case HV_DEST_REMOTE:
			hv_prefix_format(&d->remote, b, sizeof(b));
			fprintf(f, "remote %s %s %u", b, d->erspan ? "erspan" : "vxlan",
				d->remote_id);
			break;
		}
		fputc('\n', f);
	}
	fputs("}\n", f);
}

static void
print_overlay(FILE *f, const struct hv_overlay *o)
{
	char b[64];

	fputs("overlay {\n", f);
	if (o->has_local) {
		hv_prefix_format(&o->local, b, sizeof(b));
		fprintf(f, "\tlocal %s", b);
		if (o->dev)
			fprintf(f, " dev %s", o->dev);
		fputc('\n', f);
	} else if (o->dev) {
		fprintf(f, "\tdev %s\n", o->dev);
	}
	fprintf(f, "\tport %u\n\tttl %u\n\tlearn %s\n\tudp-checksum %s\n", o->port, o->ttl,
		o->learn ? "yes" : "no", o->udp_csum ? "yes" : "no");
	for (size_t i = 0; i < o->peers.n; i++) {
		const struct hv_peer *p = &o->peers.v[i];
		hv_prefix_format(&p->addr, b, sizeof(b));
		fprintf(f, "\tpeer %s", b);
		for (size_t j = 0; j < p->segments.n; j++)
			fprintf(f, "%s%s", j ? ", " : " segment ", p->segments.v[j].name);
		fputc('\n', f);
	}
	fputs("}\n", f);
}

void
hv_prog_print(FILE *f, const struct hv_prog *g)
{
	bool sep = false;

	for (size_t i = 0; i < g->segments.n; i++, sep = true) {
		if (i)
			fputc('\n', f);
		print_segment(f, &g->segments.v[i]);
	}
	if (g->services.n && sep)
		fputc('\n', f);
	for (size_t i = 0; i < g->services.n; i++, sep = true) {
		const struct hv_service *s = &g->services.v[i];
		size_t own = s->resolved ? s->n_own : s->items.n;
		fprintf(f, "service %s = ", s->name);
		for (size_t j = 0; j < own; j++) {
			char b[64];
			hv_svc_item_format(&s->items.v[j], b, sizeof(b));
			fprintf(f, "%s%s", j ? ", " : "", b);
		}
		for (size_t j = 0; j < s->uses.n; j++)
			fprintf(f, "%s%s", j || own ? ", " : "", s->uses.v[j].name);
		fputc('\n', f);
	}
	if (g->sets.n && sep)
		fputc('\n', f);
	for (size_t i = 0; i < g->sets.n; i++, sep = true) {
		const struct hv_set *s = &g->sets.v[i];
		size_t own = s->resolved ? s->n_own : s->members.n;
		fprintf(f, "set %s = { ", s->name);
		print_prefixes(f, s->members.v, own, false);
		for (size_t j = 0; j < s->uses.n; j++)
			fprintf(f, "%s@%s", j || own ? ", " : "", s->uses.v[j].name);
		fputs(" }\n", f);
	}
	for (size_t i = 0; i < g->guests.n; i++, sep = true) {
		if (sep)
			fputc('\n', f);
		print_guest(f, &g->guests.v[i]);
	}
	for (size_t i = 0; i < g->policies.n; i++, sep = true) {
		const struct hv_policy *pol = &g->policies.v[i];
		if (sep)
			fputc('\n', f);
		fprintf(f, "policy%s%s {\n", pol->name ? " " : "", pol->name ? pol->name : "");
		if (pol->log_file) {
			fputs("\tlog-file ", f);
			print_string(f, pol->log_file);
			fputc('\n', f);
		}
		if (pol->log_pcapng) {
			fputs("\tlog-pcapng ", f);
			print_string(f, pol->log_pcapng);
			fputc('\n', f);
		}
		for (size_t j = 0; j < pol->rules.n; j++) {
			fputc('\t', f);
			hv_rule_print(f, g, &pol->rules.v[j]);
			fputc('\n', f);
		}
		if (pol->has_default) {
			fputc('\t', f);
			hv_rule_print(f, g, &pol->dflt);
			fputc('\n', f);
		}
		fputs("}\n", f);
	}
	for (size_t i = 0; i < g->mirrors.n; i++, sep = true) {
		if (sep)
			fputc('\n', f);
		print_mirror(f, &g->mirrors.v[i]);
	}
	if (g->overlay.present) {
		if (sep)
			fputc('\n', f);
		print_overlay(f, &g->overlay);
	}
}

static void
print_side(FILE *f, const struct hv_prog *g, uint16_t seg, const struct hv_prefix *p)
{
	char b[64];

	fputs(seg == HV_SEG_ANY ? "*" : g->segments.v[seg].name, f);
	if (p->plen) {
		hv_prefix_format(p, b, sizeof(b));
		fprintf(f, ":%s", b);
	}
}

void
hv_ir_print(FILE *f, const struct hv_ir *ir)
{
	const struct hv_prog *g = ir->prog;

	fprintf(f, "# %zu segments, %zu guests, %zu rules, %zu entries\n", g->segments.n,
		g->guests.n, ir->n_rules, ir->n_entries);
	for (size_t i = 0; i < g->segments.n; i++) {
		const struct hv_segment *s = &g->segments.v[i];
		fprintf(f, "segment %u %s class=%s vni=%u", s->id, s->name, hv_class_name(s->cls),
			s->has_vni ? s->vni : 0);
		fputc('\n', f);
	}
	for (size_t i = 0; i < g->guests.n; i++) {
		const struct hv_guest *gu = &g->guests.v[i];
		for (size_t j = 0; j < gu->nics.n; j++) {
			const struct hv_nic *n = &gu->nics.v[j];
			fprintf(f, "nic %s.%s segment=%u", gu->name, n->name, n->seg_id);
			if (n->has_mac)
				fprintf(f, " mac=%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
					n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
			for (size_t k = 0; k < n->ips.n; k++) {
				char b[64];
				struct hv_prefix h = n->ips.v[k].p;
				h.plen = h.family == 4 ? 32 : 128;
				hv_prefix_format(&h, b, sizeof(b));
				fprintf(f, " ip=%s/%u", b, n->ips.v[k].p.plen);
			}
			fputc('\n', f);
		}
	}
	for (size_t i = 0; i < ir->n_ports; i++)
		fprintf(f, "port %zu %s\n", i + 1, ir->ports[i]);
	for (size_t i = 0; i < ir->n_entries; i++) {
		const struct hv_ir_rule *e = &ir->entries[i];
		const struct hv_rule *r = ir->rules[e->rule].rule;
		/* the rule by position (and name): no file:line, so that a reprinted
		 * file gives the same dump */
		fprintf(f, "%zu r%u%s%s %s%s ipv%c ", i, e->rule, r->label ? ":" : "",
			r->label ? r->label : "", hv_action_name(r->action), r->log ? " log" : "",
			e->family ? '0' + e->family : '*');
		print_side(f, g, e->src_seg, &e->src);
		if (e->in_port)
			fprintf(f, " port=%s", ir->ports[e->in_port - 1]);
		fputs(" -> ", f);
		print_side(f, g, e->dst_seg, &e->dst);
		const char *pn = hv_proto_name(e->proto);
		if (pn)
			fprintf(f, " %s", pn);
		else
			fprintf(f, " proto-%u", e->proto);
		if (e->proto == HV_PROTO_TCP || e->proto == HV_PROTO_UDP)
			fprintf(f, " dport=%u-%u", e->dport_lo, e->dport_hi);
		if (e->icmp_type >= 0)
			fprintf(f, " type=%d", e->icmp_type);
		fputc('\n', f);
	}
	fprintf(f, "default %s%s\n", hv_action_name(ir->default_action),
		ir->default_log ? " log" : "");
}
