/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checker: resolves every name of a parsed program, checks what the
 * language promises (no undefined or duplicate names, no overlapping
 * subnets, guest addresses inside their segment, no MAC or IP used twice,
 * no endpoint outside every segment, no include or definition cycles), and
 * expands the policy into the IR: a flat, first-match list of entries, each
 * a (segment, prefix) pair per side, a protocol and a port range.
 */
#include <pcap/pcap.h>
#include <stdio.h>

#include "internal.h"

/* ---- a string map, open addressing (names -> objects) ---- */

struct smap {
	const char **keys;
	void **vals;
	size_t cap, n;
};

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void smap_put(struct smap *m, const char *k, void *v);

static void
smap_grow(struct smap *m)
{
	struct smap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->n = 0;
	m->keys = hv_xcalloc(m->cap, sizeof(*m->keys));
	m->vals = hv_xcalloc(m->cap, sizeof(*m->vals));
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i])
			smap_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

static void
smap_put(struct smap *m, const char *k, void *v)
{
	if ((m->n + 1) * 2 > m->cap)
		smap_grow(m);
	size_t i = str_hash(k) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], k) != 0)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
}

static void *
smap_get(const struct smap *m, const char *k)
{
	if (m->cap == 0)
		return NULL;
	size_t i = str_hash(k) & (m->cap - 1);
	while (m->keys[i]) {
		if (strcmp(m->keys[i], k) == 0)
			return m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

static void
smap_free(struct smap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- the checker's state ---- */

struct checker {
	struct hv_prog *g;
	struct hv_diags *d;
	struct smap segs, svcs, sets, guests;
	HV_VEC(const char *) ports; /* the policy's port names; id = index + 1 */
	bool ports_full;	    /* said once: more than HV_IR_MAX_PORTS */
};

static void
loc_str(struct hv_loc l, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u:%u", hv_src_path(l.src), l.line, l.col);
}

static void
define(struct checker *c, struct smap *m, const char *kind, const char *name, struct hv_loc loc,
       void *obj, struct hv_loc (*loc_of)(void *))
{
	void *prev = smap_get(m, name);

	if (prev != NULL) {
		char where[256], *hint;
		loc_str(loc_of(prev), where, sizeof(where));
		hint = hv_asprintf("the first is at %s; rename or remove one", where);
		hv_diag_add(c->d, HV_DIAG_ERROR, loc, hint, "%s '%s' is defined twice", kind, name);
		free(hint);
		return;
	}
	smap_put(m, name, obj);
}

static struct hv_loc
seg_loc(void *o)
{
	return ((struct hv_segment *)o)->loc;
}
static struct hv_loc
svc_loc(void *o)
{
	return ((struct hv_service *)o)->loc;
}
static struct hv_loc
set_loc(void *o)
{
	return ((struct hv_set *)o)->loc;
}
static struct hv_loc
guest_loc(void *o)
{
	return ((struct hv_guest *)o)->loc;
}

/* "unknown segment 'ap'", with "did you mean" over the names of MAP (and OTHER) */
static void
undefined(struct checker *c, const struct hv_ref *r, const char *kind, const struct smap *m,
	  const struct smap *other, const char *other_kind)
{
	const char **cands = hv_xcalloc(m->n + (other ? other->n : 0) + 1, sizeof(*cands));
	size_t n = 0;
	char *hint = NULL;

	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			cands[n++] = m->keys[i];
	size_t n_own = n;
	if (other)
		for (size_t i = 0; i < other->cap; i++)
			if (other->keys[i])
				cands[n++] = other->keys[i];
	const char *near = hv_closest(r->name, cands, n);
	if (near) {
		bool own = false;
		for (size_t i = 0; i < n_own; i++)
			own |= cands[i] == near;
		hint = own ? hv_asprintf("did you mean '%s'?", near)
			   : hv_asprintf("did you mean %s '%s'?", other_kind, near);
	}
	hv_diag_add(c->d, HV_DIAG_ERROR, r->loc, hint, "unknown %s '%s'", kind, r->name);
	free(hint);
	free(cands);
}

/* ---- topology ---- */

struct seg_prefix {
	const struct hv_segment *seg;
	const struct hv_loc_prefix *lp;
};

static int
seg_prefix_cmp(const void *x, const void *y)
{
	const struct hv_prefix *a = &((const struct seg_prefix *)x)->lp->p;
	const struct hv_prefix *b = &((const struct seg_prefix *)y)->lp->p;
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->a, b->a, 16);
	if (r)
		return r;
	return a->plen < b->plen ? -1 : a->plen > b->plen;
}

/*
 * Overlapping subnets, within and across segments, in O(n log n): sorted by
 * address then length, a prefix overlaps an earlier one only if one of the
 * chain of prefixes still "open" (containing it) does.
 */
static void
check_overlaps(struct checker *c)
{
	const struct hv_prog *g = c->g;
	HV_VEC(struct seg_prefix) all = {0};
	struct seg_prefix *stack;
	size_t depth = 0;

	for (size_t i = 0; i < g->segments.n; i++)
		for (size_t k = 0; k < g->segments.v[i].subnets.n; k++)
			*VEC_PUSH(&all) = (struct seg_prefix){&g->segments.v[i],
							      &g->segments.v[i].subnets.v[k]};
	if (all.n < 2) {
		VEC_FREE(&all);
		return;
	}
	qsort(all.v, all.n, sizeof(*all.v), seg_prefix_cmp);
	stack = hv_xcalloc(all.n, sizeof(*stack));
	for (size_t i = 0; i < all.n; i++) {
		const struct seg_prefix *b = &all.v[i];
		while (depth && !hv_prefix_contains(&stack[depth - 1].lp->p, &b->lp->p))
			depth--;
		if (depth) {
			const struct seg_prefix *a = &stack[depth - 1];
			char pa[64], pb[64], where[256], *hint;
			hv_prefix_format(&a->lp->p, pa, sizeof(pa));
			hv_prefix_format(&b->lp->p, pb, sizeof(pb));
			loc_str(a->lp->loc, where, sizeof(where));
			hint = hv_asprintf(
				"segments are isolated: give each its own subnet (%s is at %s)", pa,
				where);
			if (a->seg == b->seg)
				hv_diag_add(c->d, HV_DIAG_ERROR, b->lp->loc, hint,
					    "subnet %s overlaps %s of the same segment '%s'", pb,
					    pa, a->seg->name);
			else
				hv_diag_add(c->d, HV_DIAG_ERROR, b->lp->loc, hint,
					    "subnet %s of segment '%s' overlaps %s of segment '%s'",
					    pb, b->seg->name, pa, a->seg->name);
			free(hint);
		}
		stack[depth++] = *b;
	}
	free(stack);
	VEC_FREE(&all);
}

static int
seg_vni_cmp(const void *x, const void *y)
{
	const struct hv_segment *a = *(const struct hv_segment *const *)x;
	const struct hv_segment *b = *(const struct hv_segment *const *)y;

	if (a->vni != b->vni)
		return a->vni < b->vni ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* duplicate VNIs, by sorting */
static void
check_vnis(struct checker *c)
{
	const struct hv_prog *g = c->g;
	const struct hv_segment **v = hv_xcalloc(g->segments.n, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < g->segments.n; i++)
		if (g->segments.v[i].has_vni)
			v[n++] = &g->segments.v[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), seg_vni_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (v[i]->vni != v[first]->vni) {
			first = i;
			continue;
		}
		/* reported against the first segment with that VNI */
		hv_diag_add(c->d, HV_DIAG_ERROR, v[i]->loc, "each segment needs its own VNI",
			    "segment '%s' has VNI %u, as does segment '%s'", v[i]->name, v[i]->vni,
			    v[first]->name);
	}
	free(v);
}

static void
check_segments(struct checker *c)
{
	struct hv_prog *g = c->g;

	for (size_t i = 0; i < g->segments.n; i++) {
		struct hv_segment *s = &g->segments.v[i];
		s->id = (uint16_t)i;
		define(c, &c->segs, "segment", s->name, s->loc, s, seg_loc);
	}
	if (g->segments.n >= HV_SEG_ANY)
		hv_diag_add(c->d, HV_DIAG_ERROR, g->segments.v[HV_SEG_ANY - 1].loc, NULL,
			    "more than %d segments", HV_SEG_ANY - 1);
	check_overlaps(c);
	check_vnis(c);
	for (size_t i = 0; i < g->segments.n; i++) {
		struct hv_segment *a = &g->segments.v[i];
		/* router advertisements come from the IPv6 gateway */
		if (a->router_adv) {
			bool v6 = false;

			for (size_t k = 0; k < a->gateways.n; k++)
				v6 |= a->gateways.v[k].p.family == 6;
			if (!v6)
				hv_diag_add(
					c->d, HV_DIAG_ERROR, a->router_adv_loc,
					"add an IPv6 gateway: gateway ADDRESS",
					"segment '%s' asks for router advertisements but has no IPv6 gateway",
					a->name);
		}
		/* a gateway inside one of the segment's subnets */
		for (size_t k = 0; k < a->gateways.n; k++) {
			bool in = false;
			bool fam = false;
			for (size_t l = 0; l < a->subnets.n; l++) {
				in |= hv_prefix_contains(&a->subnets.v[l].p, &a->gateways.v[k].p);
				fam |= a->subnets.v[l].p.family == a->gateways.v[k].p.family;
			}
			char ga[64];
			hv_prefix_format(&a->gateways.v[k].p, ga, sizeof(ga));
			if (!in)
				hv_diag_add(c->d, HV_DIAG_ERROR, a->gateways.v[k].loc,
					    fam ? "pick an address inside the segment's subnet"
						: "add a subnet of that address family",
					    "gateway %s is outside every subnet of segment '%s'",
					    ga, a->name);
			for (size_t l = 0; l < k; l++)
				if (a->gateways.v[l].p.family == a->gateways.v[k].p.family)
					hv_diag_add(c->d, HV_DIAG_ERROR, a->gateways.v[k].loc,
						    "one gateway per address family",
						    "segment '%s' has a second IPv%u gateway",
						    a->name, a->gateways.v[k].p.family);
		}
	}
}

/* flatten a service's named uses into its items; cycles are errors */
static bool
resolve_service(struct checker *c, struct hv_service *s)
{
	if (s->resolved)
		return true;
	if (s->resolving) {
		hv_diag_add(c->d, HV_DIAG_ERROR, s->loc, "a service cannot include itself",
			    "service '%s' is part of a definition cycle", s->name);
		return false;
	}
	s->resolving = true;
	s->n_own = s->items.n;
	for (size_t i = 0; i < s->uses.n; i++) {
		struct hv_service *u = smap_get(&c->svcs, s->uses.v[i].name);
		if (u == NULL) {
			undefined(c, &s->uses.v[i], "service", &c->svcs, NULL, NULL);
			continue;
		}
		u->used = true;
		if (!resolve_service(c, u))
			continue;
		for (size_t j = 0; j < u->items.n; j++)
			*VEC_PUSH(&s->items) = u->items.v[j];
	}
	s->resolving = false;
	s->resolved = true;
	return true;
}

static bool
resolve_set(struct checker *c, struct hv_set *s)
{
	if (s->resolved)
		return true;
	if (s->resolving) {
		hv_diag_add(c->d, HV_DIAG_ERROR, s->loc, "a set cannot include itself",
			    "set '%s' is part of a definition cycle", s->name);
		return false;
	}
	s->resolving = true;
	s->n_own = s->members.n;
	for (size_t i = 0; i < s->uses.n; i++) {
		struct hv_set *u = smap_get(&c->sets, s->uses.v[i].name);
		if (u == NULL) {
			undefined(c, &s->uses.v[i], "set", &c->sets, NULL, NULL);
			continue;
		}
		u->used = true;
		if (!resolve_set(c, u))
			continue;
		for (size_t j = 0; j < u->members.n; j++)
			*VEC_PUSH(&s->members) = u->members.v[j];
	}
	s->resolving = false;
	s->resolved = true;
	return true;
}

struct addr_use {
	const uint8_t *key;
	size_t len;
	struct hv_loc loc;
	const char *who;
};

static int
addr_use_cmp(const void *a, const void *b)
{
	const struct addr_use *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int r = memcmp(x->key, y->key, x->len);
	if (r)
		return r;
	/* earlier definitions first, so the error points at the later one */
	if (x->loc.src != y->loc.src)
		return 0;
	return x->loc.line < y->loc.line ? -1 : x->loc.line > y->loc.line;
}

static void
report_dups(struct checker *c, struct addr_use *u, size_t n, const char *what)
{
	if (n < 2)
		return;
	qsort(u, n, sizeof(*u), addr_use_cmp);
	for (size_t i = 1; i < n; i++) {
		if (u[i].len != u[i - 1].len || memcmp(u[i].key, u[i - 1].key, u[i].len) != 0)
			continue;
		char where[256], *hint;
		loc_str(u[i - 1].loc, where, sizeof(where));
		hint = hv_asprintf("it is already %s's, at %s", u[i - 1].who, where);
		hv_diag_add(c->d, HV_DIAG_ERROR, u[i].loc, hint, "%s used twice", what);
		free(hint);
	}
}

static void
check_guests(struct checker *c)
{
	struct hv_prog *g = c->g;
	HV_VEC(struct addr_use) macs = {0}, ips = {0};

	for (size_t i = 0; i < g->guests.n; i++) {
		struct hv_guest *gu = &g->guests.v[i];
		define(c, &c->guests, "guest", gu->name, gu->loc, gu, guest_loc);
		if (gu->nics.n == 0)
			hv_diag_add(c->d, HV_DIAG_ERROR, gu->loc,
				    "add: nic eth0 { segment NAME; ip ADDR/LEN; }",
				    "guest '%s' has no nic", gu->name);
		for (size_t j = 0; j < gu->nics.n; j++) {
			struct hv_nic *n = &gu->nics.v[j];
			for (size_t k = 0; k < j; k++)
				if (strcmp(gu->nics.v[k].name, n->name) == 0)
					hv_diag_add(c->d, HV_DIAG_ERROR, n->loc, NULL,
						    "guest '%s' has two nics named '%s'", gu->name,
						    n->name);
			if (n->segment.name == NULL) {
				hv_diag_add(c->d, HV_DIAG_ERROR, n->loc, "add: segment NAME",
					    "nic '%s' of guest '%s' is in no segment", n->name,
					    gu->name);
				continue;
			}
			struct hv_segment *s = smap_get(&c->segs, n->segment.name);
			if (s == NULL) {
				undefined(c, &n->segment, "segment", &c->segs, NULL, NULL);
				continue;
			}
			n->seg_id = s->id;
			if (n->has_mac) {
				struct addr_use *u = VEC_PUSH(&macs);
				*u = (struct addr_use){n->mac, 6, n->mac_loc, gu->name};
			}
			for (size_t k = 0; k < n->ips.n; k++) {
				struct hv_loc_prefix *ip = &n->ips.v[k];
				struct hv_prefix host = ip->p;
				host.plen = host.family == 4 ? 32 : 128;
				bool in = false, fam = false;
				for (size_t l = 0; l < s->subnets.n; l++) {
					fam |= s->subnets.v[l].p.family == host.family;
					in |= hv_prefix_contains(&s->subnets.v[l].p, &host);
				}
				char a[64];
				hv_prefix_format(&host, a, sizeof(a));
				if (fam && !in) {
					char sn[64];
					hv_prefix_format(&s->subnets.v[0].p, sn, sizeof(sn));
					char *hint = hv_asprintf(
						"segment '%s' has subnet %s%s", s->name, sn,
						s->subnets.n > 1 ? " (and others)" : "");
					hv_diag_add(
						c->d, HV_DIAG_ERROR, ip->loc, hint,
						"address %s of guest '%s' is outside its segment '%s'",
						a, gu->name, s->name);
					free(hint);
				}
				for (size_t l = 0; l < s->gateways.n; l++)
					if (memcmp(s->gateways.v[l].p.a, host.a, 16) == 0 &&
					    s->gateways.v[l].p.family == host.family)
						hv_diag_add(
							c->d, HV_DIAG_ERROR, ip->loc,
							"pick another address",
							"address %s of guest '%s' is the gateway of segment '%s'",
							a, gu->name, s->name);
				struct addr_use *u = VEC_PUSH(&ips);
				*u = (struct addr_use){ip->p.a, ip->p.family == 4 ? 4 : 16, ip->loc,
						       gu->name};
			}
		}
	}
	report_dups(c, macs.v, macs.n, "MAC address");
	report_dups(c, ips.v, ips.n, "IP address");
	VEC_FREE(&macs);
	VEC_FREE(&ips);
}

static void
check_mirrors(struct checker *c)
{
	struct hv_prog *g = c->g;
	struct smap names = {0};

	for (size_t i = 0; i < g->mirrors.n; i++) {
		struct hv_mirror *m = &g->mirrors.v[i];
		struct hv_mirror *prev = smap_get(&names, m->name);
		if (prev)
			hv_diag_add(c->d, HV_DIAG_ERROR, m->loc, NULL,
				    "mirror '%s' is defined twice (first at line %u)", m->name,
				    prev->loc.line);
		else
			smap_put(&names, m->name, m);
		for (size_t j = 0; j < m->segments.n; j++)
			if (!smap_get(&c->segs, m->segments.v[j].name))
				undefined(c, &m->segments.v[j], "segment", &c->segs, NULL, NULL);
		if (m->dests.n == 0)
			hv_diag_add(
				c->d, HV_DIAG_ERROR, m->loc,
				"add: to pcap \"FILE\", to port NAME, or to remote ADDRESS vxlan VNI",
				"mirror '%s' has no destination", m->name);
		if (m->filter) {
			/* compiled here as the datapath will: errors show at the string */
			pcap_t *pc = pcap_open_dead(DLT_EN10MB, 65535);
			struct bpf_program bp;
			if (pc == NULL)
				abort();
			if (pcap_compile(pc, &bp, m->filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
				hv_diag_add(c->d, HV_DIAG_ERROR, m->filter_loc,
					    "the filter uses tcpdump's syntax (man pcap-filter)",
					    "bad filter: %s", pcap_geterr(pc));
			else
				pcap_freecode(&bp);
			pcap_close(pc);
		}
	}
	smap_free(&names);
}

static void
check_overlay(struct checker *c)
{
	struct hv_overlay *o = &c->g->overlay;

	if (!o->present)
		return;
	if (!o->has_local)
		hv_diag_add(c->d, HV_DIAG_ERROR, o->loc, "add: local ADDRESS dev UPLINK",
			    "the overlay has no local VTEP address");
	for (size_t i = 0; i < o->peers.n; i++) {
		struct hv_peer *p = &o->peers.v[i];
		if (o->has_local && p->addr.family == o->local.family &&
		    memcmp(p->addr.a, o->local.a, 16) == 0)
			hv_diag_add(c->d, HV_DIAG_ERROR, p->loc, NULL,
				    "the overlay lists its own local address as a peer");
		for (size_t j = 0; j < i; j++)
			if (memcmp(&o->peers.v[j].addr, &p->addr, sizeof(p->addr)) == 0)
				hv_diag_add(c->d, HV_DIAG_ERROR, p->loc, "list each peer once",
					    "peer listed twice");
		for (size_t j = 0; j < p->segments.n; j++) {
			struct hv_segment *s = smap_get(&c->segs, p->segments.v[j].name);
			if (s == NULL)
				undefined(c, &p->segments.v[j], "segment", &c->segs, NULL, NULL);
			else if (!s->has_vni)
				hv_diag_add(c->d, HV_DIAG_ERROR, p->segments.v[j].loc,
					    "add: vni N to the segment",
					    "segment '%s' crosses the overlay but has no VNI",
					    s->name);
		}
	}
}

/* ---- policy: endpoints and the IR ---- */

struct alt {
	uint16_t seg;
	bool has_prefix;
	struct hv_prefix p;
	uint8_t port; /* ingress port id, 0 any */
};

typedef HV_VEC(struct alt) alt_vec;
typedef HV_VEC(struct hv_ir_rule) ir_vec;

/* Number port NAME of term T (the same name, the same id); NAME outlives the IR. */
static bool
port_id(struct checker *c, struct hv_term *t, const char *name)
{
	for (size_t i = 0; i < c->ports.n; i++) {
		if (strcmp(c->ports.v[i], name) == 0) {
			t->port_id = (uint8_t)(i + 1);
			return true;
		}
	}
	if (c->ports.n >= HV_IR_MAX_PORTS) {
		if (c->ports_full)
			return false;
		c->ports_full = true;
		hv_diag_add(c->d, HV_DIAG_ERROR, t->ref.loc,
			    "the classifier keeps the ingress port in one byte; name fewer ports",
			    "the policy names more than %u ports", HV_IR_MAX_PORTS);
		return false;
	}
	*VEC_PUSH(&c->ports) = name;
	t->port_id = (uint8_t)c->ports.n;
	return true;
}

/*
 * nic GUEST.NIC: the port `lab up` creates for that NIC, GUEST-NIC. A guest
 * name may hold '.', so every split is tried.
 */
static bool
nic_port(struct checker *c, struct hv_term *t)
{
	const char *name = t->ref.name;
	const struct hv_guest *gu = NULL;
	const char *nic = NULL;

	for (const char *dot = strchr(name, '.'); dot && !nic; dot = strchr(dot + 1, '.')) {
		char *g = hv_strndup(name, (size_t)(dot - name));
		const struct hv_guest *cand = smap_get(&c->guests, g);
		free(g);
		if (cand == NULL)
			continue;
		gu = cand;
		for (size_t j = 0; j < cand->nics.n; j++)
			if (strcmp(cand->nics.v[j].name, dot + 1) == 0)
				nic = cand->nics.v[j].name;
	}
	if (gu == NULL) {
		struct hv_ref r = {hv_strndup(name, (size_t)(strchr(name, '.') - name)),
				   t->ref.loc};
		undefined(c, &r, "guest", &c->guests, NULL, NULL);
		free(r.name);
		return false;
	}
	if (nic == NULL) {
		char *hint = hv_asprintf("its nics: %s%s", gu->nics.n ? gu->nics.v[0].name : "none",
					 gu->nics.n > 1 ? ", ..." : "");
		hv_diag_add(c->d, HV_DIAG_ERROR, t->ref.loc, hint, "guest '%s' has no nic '%s'",
			    gu->name, name + strlen(gu->name) + 1);
		free(hint);
		return false;
	}
	if (t->port == NULL)
		t->port = hv_asprintf("%s-%s", gu->name, nic);
	if (!hv_port_name_valid(t->port)) {
		hv_diag_add(
			c->d, HV_DIAG_ERROR, t->ref.loc,
			"hvnetd port names have at most 31 bytes; shorten the guest or nic name",
			"the port of nic %s, '%s', is longer than %d bytes", name, t->port,
			HV_PORT_NAME_MAX);
		return false;
	}
	return port_id(c, t, t->port);
}

static bool
resolve_endpoint(struct checker *c, struct hv_endpoint *e)
{
	bool ok = true;

	for (size_t i = 0; i < e->terms.n; i++) {
		struct hv_term *t = &e->terms.v[i];
		switch (t->kind) {
		case HV_TERM_NAME: {
			void *s = smap_get(&c->segs, t->ref.name);
			void *g = smap_get(&c->guests, t->ref.name);
			if (s && g) {
				char *hint = hv_asprintf("write 'segment %s' or 'guest %s'",
							 t->ref.name, t->ref.name);
				hv_diag_add(c->d, HV_DIAG_ERROR, t->ref.loc, hint,
					    "'%s' names both a segment and a guest", t->ref.name);
				free(hint);
				ok = false;
			} else if (s) {
				t->kind = HV_TERM_SEGMENT;
				t->target = s;
			} else if (g) {
				t->kind = HV_TERM_GUEST;
				t->target = g;
			} else if (smap_get(&c->sets, t->ref.name)) {
				char *hint = hv_asprintf("write @%s for a set", t->ref.name);
				hv_diag_add(c->d, HV_DIAG_ERROR, t->ref.loc, hint,
					    "'%s' is a set, not a segment or a guest", t->ref.name);
				free(hint);
				ok = false;
			} else {
				/* did you mean: segments and guests */
				undefined(c, &t->ref, "segment or guest", &c->segs, &c->guests,
					  "guest");
				ok = false;
			}
			break;
		}
		case HV_TERM_SEGMENT:
			t->target = smap_get(&c->segs, t->ref.name);
			if (!t->target) {
				undefined(c, &t->ref, "segment", &c->segs, NULL, NULL);
				ok = false;
			}
			break;
		case HV_TERM_GUEST:
			t->target = smap_get(&c->guests, t->ref.name);
			if (!t->target) {
				undefined(c, &t->ref, "guest", &c->guests, NULL, NULL);
				ok = false;
			}
			break;
		case HV_TERM_SET:
			t->target = smap_get(&c->sets, t->ref.name);
			if (!t->target) {
				undefined(c, &t->ref, "set", &c->sets, NULL, NULL);
				ok = false;
			} else {
				((struct hv_set *)t->target)->used = true;
			}
			break;
		case HV_TERM_PREFIX:
			break;
		case HV_TERM_PORT:
			if (!port_id(c, t, t->ref.name))
				ok = false;
			break;
		case HV_TERM_NIC:
			if (!nic_port(c, t))
				ok = false;
			break;
		}
	}
	return ok;
}

static bool
any_segment_has_subnet(const struct hv_prog *g, uint8_t family)
{
	for (size_t i = 0; i < g->segments.n; i++)
		for (size_t j = 0; j < g->segments.v[i].subnets.n; j++)
			if (g->segments.v[i].subnets.v[j].p.family == family)
				return true;
	return false;
}

static bool
in_some_segment(const struct hv_prog *g, const struct hv_prefix *p)
{
	for (size_t i = 0; i < g->segments.n; i++)
		for (size_t j = 0; j < g->segments.v[i].subnets.n; j++)
			if (hv_prefix_overlap(&g->segments.v[i].subnets.v[j].p, p))
				return true;
	return false;
}

/*
 * An endpoint as alternatives, each (segment or any, prefix or none, ingress
 * port or any). Where-terms (segments, guests) are alternatives; address
 * terms (prefixes, sets) narrow them, and are alternatives among themselves;
 * port terms narrow the result again, and are alternatives among themselves.
 */
static void
expand_endpoint(struct checker *c, const struct hv_endpoint *e, alt_vec *out)
{
	alt_vec where = {0};
	HV_VEC(struct hv_loc_prefix) addrs = {0};
	HV_VEC(uint8_t) ports = {0};
	size_t first = out->n;

	if (e->any) {
		*VEC_PUSH(out) = (struct alt){.seg = HV_SEG_ANY};
		return;
	}
	for (size_t i = 0; i < e->terms.n; i++) {
		const struct hv_term *t = &e->terms.v[i];
		if (t->kind == HV_TERM_SEGMENT) {
			*VEC_PUSH(&where) =
				(struct alt){.seg = ((struct hv_segment *)t->target)->id};
		} else if (t->kind == HV_TERM_GUEST) {
			const struct hv_guest *gu = t->target;
			for (size_t j = 0; j < gu->nics.n; j++) {
				for (size_t k = 0; k < gu->nics.v[j].ips.n; k++) {
					struct alt *a = VEC_PUSH(&where);
					a->seg = gu->nics.v[j].seg_id;
					a->has_prefix = true;
					a->p = gu->nics.v[j].ips.v[k].p;
					a->p.plen = a->p.family == 4 ? 32 : 128;
				}
			}
		} else if (t->kind == HV_TERM_SET) {
			const struct hv_set *s = t->target;
			for (size_t j = 0; j < s->members.n; j++)
				*VEC_PUSH(&addrs) = s->members.v[j];
		} else if (t->kind == HV_TERM_PORT || t->kind == HV_TERM_NIC) {
			bool dup = false; /* `nic g.n port g-n`: one port, once */
			for (size_t j = 0; j < ports.n; j++)
				dup |= ports.v[j] == t->port_id;
			if (!dup)
				*VEC_PUSH(&ports) = t->port_id;
		} else {
			*VEC_PUSH(&addrs) = (struct hv_loc_prefix){t->prefix, t->ref.loc};
		}
	}
	if (where.n == 0 && addrs.n == 0) {
		*VEC_PUSH(out) = (struct alt){.seg = HV_SEG_ANY}; /* ports alone */
	} else if (where.n == 0) {
		for (size_t i = 0; i < addrs.n; i++)
			*VEC_PUSH(out) = (struct alt){HV_SEG_ANY, true, addrs.v[i].p, 0};
	} else if (addrs.n == 0) {
		for (size_t i = 0; i < where.n; i++)
			*VEC_PUSH(out) = where.v[i];
	} else {
		for (size_t i = 0; i < where.n; i++) {
			const struct alt *w = &where.v[i];
			for (size_t j = 0; j < addrs.n; j++) {
				const struct hv_prefix *a = &addrs.v[j].p;
				if (w->has_prefix) {
					if (hv_prefix_contains(a, &w->p))
						*VEC_PUSH(out) = *w;
					continue;
				}
				const struct hv_segment *s = &c->g->segments.v[w->seg];
				bool fam = false;
				for (size_t k = 0; k < s->subnets.n; k++) {
					const struct hv_prefix *sn = &s->subnets.v[k].p;
					fam |= sn->family == a->family;
					if (hv_prefix_contains(sn, a))
						*VEC_PUSH(out) = (struct alt){w->seg, true, *a, 0};
					else if (hv_prefix_contains(a, sn))
						*VEC_PUSH(out) = (struct alt){w->seg, true, *sn, 0};
				}
				/* a segment without a subnet of that family: the address narrows it */
				if (!fam)
					*VEC_PUSH(out) = (struct alt){w->seg, true, *a, 0};
			}
		}
	}
	if (ports.n != 0) {
		/* each alternative once per port, in the order the ports are written */
		size_t n = out->n - first;
		for (size_t j = 1; j < ports.n; j++) {
			for (size_t i = 0; i < n; i++) {
				struct alt a = out->v[first + i]; /* VEC_PUSH may move out->v */
				*VEC_PUSH(out) = a;
			}
		}
		for (size_t j = 0; j < ports.n; j++)
			for (size_t i = 0; i < n; i++)
				out->v[first + j * n + i].port = ports.v[j];
	}
	VEC_FREE(&where);
	VEC_FREE(&addrs);
	VEC_FREE(&ports);
}

/* endpoints given only by addresses must reach some segment */
static void
check_endpoint_in_segment(struct checker *c, const struct hv_endpoint *e, const char *side)
{
	bool has_where = false;
	const struct hv_term *first = NULL;

	for (size_t i = 0; i < e->terms.n; i++) {
		const struct hv_term *t = &e->terms.v[i];
		has_where |= t->kind == HV_TERM_SEGMENT || t->kind == HV_TERM_GUEST;
		if (!first && (t->kind == HV_TERM_SET || t->kind == HV_TERM_PREFIX))
			first = t;
	}
	if (e->any || has_where || first == NULL)
		return;
	for (size_t i = 0; i < e->terms.n; i++) {
		const struct hv_term *t = &e->terms.v[i];
		if (t->kind == HV_TERM_PREFIX) {
			if (!any_segment_has_subnet(c->g, t->prefix.family) ||
			    in_some_segment(c->g, &t->prefix))
				return;
		} else if (t->kind == HV_TERM_SET && t->target) {
			const struct hv_set *s = t->target;
			for (size_t j = 0; j < s->members.n; j++)
				if (!any_segment_has_subnet(c->g, s->members.v[j].p.family) ||
				    in_some_segment(c->g, &s->members.v[j].p))
					return;
		} else if (t->kind != HV_TERM_PORT && t->kind != HV_TERM_NIC) {
			return; /* a port narrows the addresses; it does not place them */
		}
	}
	hv_diag_add(
		c->d, HV_DIAG_ERROR, e->loc,
		"every address of a rule must lie in some segment's subnet; check the address or add the subnet",
		"the %s of this rule is in no segment", side);
}

struct svc_alt {
	uint8_t proto;
	uint16_t lo, hi;
	int16_t icmp_type;
};

static size_t
expand_rule(struct checker *c, struct hv_rule *r, ir_vec *out, uint32_t idx, const char **never)
{
	alt_vec src = {0}, dst = {0};
	HV_VEC(struct svc_alt) svc = {0};
	size_t before = out->n;
	bool fam_mismatch = false, proto_mismatch = false;

	expand_endpoint(c, &r->from, &src);
	expand_endpoint(c, &r->to, &dst);
	for (size_t i = 0; i < r->services.n; i++) {
		const struct hv_service *s = smap_get(&c->svcs, r->services.v[i].name);
		for (size_t j = 0; s && j < s->items.n; j++)
			*VEC_PUSH(&svc) =
				(struct svc_alt){s->items.v[j].proto, s->items.v[j].lo,
						 s->items.v[j].hi, s->items.v[j].icmp_type};
	}
	for (size_t i = 0; i < r->inline_svc.n; i++) {
		const struct hv_svc_item *it = &r->inline_svc.v[i];
		*VEC_PUSH(&svc) = (struct svc_alt){it->proto, it->lo, it->hi, it->icmp_type};
	}
	if (r->services.n == 0 && r->inline_svc.n == 0)
		*VEC_PUSH(&svc) = (struct svc_alt){HV_PROTO_ANY, 0, 65535, -1};

	if ((uint64_t)src.n * dst.n * svc.n > HV_LANG_MAX_EXPAND_RULE) {
		char *hint = hv_asprintf("at most %u; split the rule or use wider prefixes",
					 HV_LANG_MAX_EXPAND_RULE);
		hv_diag_add(c->d, HV_DIAG_ERROR, r->loc, hint,
			    "rule expands to %zu x %zu x %zu classifier entries", src.n, dst.n,
			    svc.n);
		free(hint);
		goto out;
	}
	for (size_t i = 0; i < src.n; i++) {
		for (size_t j = 0; j < dst.n; j++) {
			const struct alt *s = &src.v[i], *d = &dst.v[j];
			uint8_t fs = s->has_prefix ? s->p.family : 0;
			uint8_t fd = d->has_prefix ? d->p.family : 0;
			if (fs && fd && fs != fd) {
				fam_mismatch = true;
				continue;
			}
			for (size_t k = 0; k < svc.n; k++) {
				uint8_t fam = fs ? fs : fd;
				const struct svc_alt *v = &svc.v[k];
				if (v->proto == HV_PROTO_ICMP || v->proto == HV_PROTO_ICMPV6) {
					uint8_t pf = v->proto == HV_PROTO_ICMP ? 4 : 6;
					if (fam && fam != pf) {
						proto_mismatch = true;
						continue;
					}
					fam = pf;
				}
				if (out->n >= HV_LANG_MAX_IR) {
					hv_diag_add(
						c->d, HV_DIAG_ERROR, r->loc, NULL,
						"the policy expands to more than %u classifier entries",
						HV_LANG_MAX_IR);
					goto out;
				}
				struct hv_ir_rule *e = VEC_PUSH(out);
				e->rule = idx;
				e->src_seg = s->seg;
				e->dst_seg = d->seg;
				e->family = fam;
				if (s->has_prefix)
					e->src = s->p;
				else
					e->src.family = fam;
				if (d->has_prefix)
					e->dst = d->p;
				else
					e->dst.family = fam;
				e->proto = v->proto;
				e->in_port = s->port;
				e->dport_lo = v->lo;
				e->dport_hi = v->hi;
				e->icmp_type = v->icmp_type;
			}
		}
	}
	if (out->n == before) {
		if (src.n == 0 || dst.n == 0)
			*never =
				src.n == 0
					? "its source addresses lie outside its source segments"
					: "its destination addresses lie outside its destination segments";
		else if (fam_mismatch && !proto_mismatch)
			*never = "its source and destination are of different address families";
		else if (proto_mismatch)
			*never =
				"its protocols do not exist in its address family (icmp is IPv4, icmpv6 is IPv6)";
		else
			*never = "it matches no packet";
	}
out:
	VEC_FREE(&src);
	VEC_FREE(&dst);
	VEC_FREE(&svc);
	return out->n - before;
}

static void
check_rule_refs(struct checker *c, struct hv_rule *r)
{
	for (size_t i = 0; i < r->services.n; i++) {
		struct hv_service *s = smap_get(&c->svcs, r->services.v[i].name);
		if (s == NULL)
			undefined(c, &r->services.v[i], "service", &c->svcs, NULL, NULL);
		else
			s->used = true;
	}
}

static struct hv_ir *
check_policy(struct checker *c)
{
	struct hv_prog *g = c->g;
	struct hv_ir *ir = hv_xcalloc(1, sizeof(*ir));
	ir_vec entries = {0};
	struct smap labels = {0};
	struct hv_policy *pol = g->policies.n ? &g->policies.v[0] : NULL;

	ir->prog = g;
	ir->default_action = HV_BLOCK;
	for (size_t i = 1; i < g->policies.n; i++)
		hv_diag_add(
			c->d, HV_DIAG_ERROR, g->policies.v[i].loc,
			"put every rule in one policy block; rules are first-match, top to bottom",
			"a second policy block (the first is at %s:%u)",
			hv_src_path(g->policies.v[0].loc.src), g->policies.v[0].loc.line);
	if (pol == NULL)
		return ir;
	ir->policy = pol;
	ir->rules = hv_xcalloc(pol->rules.n, sizeof(*ir->rules));
	ir->n_rules = pol->rules.n;
	for (size_t i = 0; i < pol->rules.n; i++) {
		struct hv_rule *r = &pol->rules.v[i];
		r->index = (uint32_t)i;
		ir->rules[i].rule = r;
		if (r->label) {
			struct hv_rule *prev = smap_get(&labels, r->label);
			if (prev)
				hv_diag_add(
					c->d, HV_DIAG_ERROR, r->loc,
					"rule names show in logs and counters; make them unique",
					"rule name '%s' is used twice (first at line %u)", r->label,
					prev->loc.line);
			else
				smap_put(&labels, r->label, r);
		}
		if (r->broken)
			continue;
		/* both sides, so that both report their errors */
		bool ok_from = resolve_endpoint(c, &r->from);
		bool ok_to = resolve_endpoint(c, &r->to);
		bool ok = ok_from && ok_to;
		check_rule_refs(c, r);
		if (!ok)
			continue;
		check_endpoint_in_segment(c, &r->from, "source");
		check_endpoint_in_segment(c, &r->to, "destination");
		if (c->d->n_errors)
			continue; /* expand only a clean policy */
		ir->rules[i].first = entries.n;
		ir->rules[i].count = expand_rule(c, r, &entries, (uint32_t)i, &ir->rules[i].never);
	}
	if (pol->has_default) {
		ir->dflt = &pol->dflt;
		ir->default_action = pol->dflt.action;
		ir->default_log = pol->dflt.log;
	}
	ir->entries = entries.v;
	ir->n_entries = entries.n;
	ir->ports = c->ports.v;
	ir->n_ports = c->ports.n;
	c->ports.v = NULL;
	c->ports.n = c->ports.cap = 0;
	smap_free(&labels);
	return ir;
}

struct hv_ir *
hv_lang_check(struct hv_prog *g, struct hv_diags *d)
{
	struct checker c = {.g = g, .d = d};
	struct hv_ir *ir = NULL;

	/* runs after syntax errors too (the parser leaves only whole items in
	 * the AST, and marks broken rules), so one run reports both kinds */
	{
		check_segments(&c);
		for (size_t i = 0; i < g->services.n; i++)
			define(&c, &c.svcs, "service", g->services.v[i].name, g->services.v[i].loc,
			       &g->services.v[i], svc_loc);
		for (size_t i = 0; i < g->sets.n; i++)
			define(&c, &c.sets, "set", g->sets.v[i].name, g->sets.v[i].loc,
			       &g->sets.v[i], set_loc);
		for (size_t i = 0; i < g->services.n; i++)
			resolve_service(&c, &g->services.v[i]);
		for (size_t i = 0; i < g->sets.n; i++)
			resolve_set(&c, &g->sets.v[i]);
		check_guests(&c);
		check_mirrors(&c);
		check_overlay(&c);
		ir = check_policy(&c);
	}
	smap_free(&c.segs);
	smap_free(&c.svcs);
	smap_free(&c.sets);
	smap_free(&c.guests);
	VEC_FREE(&c.ports);
	if (d->n_errors) {
		hv_ir_free(ir);
		return NULL;
	}
	return ir;
}

void
hv_ir_free(struct hv_ir *ir)
{
	if (ir == NULL)
		return;
	free(ir->rules);
	free(ir->entries);
	free(ir->ports);
	free(ir);
}

uint8_t
hv_ir_port_id(const struct hv_ir *ir, const char *name)
{
	for (size_t i = 0; ir != NULL && i < ir->n_ports; i++)
		if (strcmp(ir->ports[i], name) == 0)
			return (uint8_t)(i + 1);
	return 0;
}
