/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nftables backend (nft.h). Compiling goes through a small model of
 * the ruleset (tables, chains, rules made of matches, statements and a
 * verdict) from which two writers work: one prints nft syntax, the other
 * builds libnftnl objects into one netlink batch. Both walk the same model,
 * so what `policy compile` prints is what `--apply` commits.
 *
 * The expressions built for each match are those nft itself generates for
 * the printed text (checked by tests/system/test_nft.sh against `nft list
 * ruleset`), so that an nftables user reading the kernel's ruleset sees the
 * text we print.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "firewall/nft.h"

#define NFT_COMMENT_MAX	   128 /* nft's limit on a rule comment */
#define NFT_LOG_PREFIX_MAX 127 /* NF_LOG_PREFIXLEN - 1 */
#define NFT_CHAIN_NAME_MAX 64
#define NFT_NOTES_MAX	   64 /* notes kept; the rest are counted in the last */

/* nft's datatype numbers (NFTNL_SET_KEY_TYPE), so that `nft list` prints
 * set elements by name */
#define NFT_TYPE_ETHERTYPE    10
#define NFT_TYPE_ICMP6_TYPE   29
#define NFT_TYPE_IPADDR	      7
#define NFT_TYPE_IP6ADDR      8
#define NFT_TYPE_INET_SERVICE 13

/* ct state bits as the kernel loads them (nf_conntrack_common.h) */
#define CT_INVALID     1u
#define CT_ESTABLISHED 2u
#define CT_RELATED     4u
#define CT_NEW	       8u

/* ---- the model ---- */

enum m_kind {
	M_IIFNAME,	/* iifname "BR" */
	M_OIFNAME,	/* oifname "BR" */
	M_ETHER_DADDR,	/* ether daddr MAC (with nft's meta iiftype ether dependency) */
	M_NFPROTO,	/* meta nfproto ipv4|ipv6 */
	M_ADDR,		/* ip[6] saddr|daddr PREFIX */
	M_ADDR_SET,	/* ip[6] saddr|daddr { HOSTS } or @NAME */
	M_DPORT_SET,	/* tcp|udp dport { PORTS } or @NAME */
	M_L4PROTO,	/* meta l4proto P */
	M_DPORT,	/* tcp|udp dport N[-M] */
	M_ICMP_TYPE,	/* icmp|icmpv6 type T */
	M_CT_STATE,	/* ct state BITS */
	M_TCP_NOT_SYN,	/* tcp flags != syn / fin,syn,rst,ack */
	M_ND_BYPASS,	/* icmpv6 type { ND and MLD } */
	M_ETHER_NOT_IP, /* ether type != { ip, arp, ip6 } */
	M_MARK_ALL,	/* meta mark & BITS == BITS */
	M_MARK_ANY,	/* meta mark & BITS != 0x00000000 */
};

struct match {
	enum m_kind kind;
	uint8_t family; /* 4 or 6: M_NFPROTO, M_ADDR, M_ICMP_TYPE */
	bool dst;	/* M_ADDR */
	uint8_t proto;	/* M_L4PROTO, M_DPORT */
	uint16_t lo, hi;
	int16_t type;
	uint32_t bits; /* M_CT_STATE, M_MARK_* */
	struct hv_prefix prefix;
	char ifname[HV_NFT_IFNAMSIZ];
	uint8_t mac[6]; /* M_ETHER_DADDR */
	/* M_ADDR_SET, M_DPORT_SET: sorted elements (owned by the hv_nft), and
	 * the named set they are, or "" for an anonymous one */
	const struct hv_prefix *addrs;
	const uint16_t *ports;
	size_t n_elems;
	char set[NFT_CHAIN_NAME_MAX];
};

/* a named set of the inet table: a `set` of the file, or a service's ports */
struct nset {
	char name[NFT_CHAIN_NAME_MAX];
	uint8_t kind; /* 4, 6: addresses; 'p': ports */
	const struct hv_prefix *addrs;
	const uint16_t *ports;
	size_t n;
};

enum verdict {
	V_NONE,
	V_ACCEPT,
	V_DROP,
	V_JUMP,
	V_REJECT_TCP,	/* reject with tcp reset */
	V_REJECT_PORT,	/* reject (icmpx port-unreachable) */
	V_REJECT_ADMIN, /* reject with icmpx admin-prohibited */
};

#define RULE_MATCHES_MAX 8

struct nrule {
	struct match m[RULE_MATCHES_MAX];
	unsigned n_m;
	bool limit;
	uint32_t rate, burst;
	bool log;
	uint16_t log_group; /* 0: the kernel log; N: NFLOG group N */
	char prefix[NFT_LOG_PREFIX_MAX + 1];
	uint32_t mark_or; /* meta mark set meta mark | MARK_OR (a mirror's bit) */
	uint8_t dup;	  /* 4 or 6: dup to the mirror next hop device DUP_DEV */
	char dup_dev[HV_NFT_IFNAMSIZ];
	bool keep_drop; /* a drop that is not the policy's (never mirrored) */
	enum verdict v;
	char target[NFT_CHAIN_NAME_MAX]; /* V_JUMP */
	char comment[NFT_COMMENT_MAX + 1];
	const char *what; /* for kernel errors: "rule web (x.hvnet:3:2)" */
};

/* the hook of a base chain */
enum hook {
	HOOK_NONE, /* a regular chain, reached by jump */
	HOOK_PREROUTING,
	HOOK_FORWARD, /* inet: routed and (br_netfilter) bridged packets; bridge: bridged */
	HOOK_INPUT,
};

struct nchain {
	char name[NFT_CHAIN_NAME_MAX];
	enum hook hook;
	int prio; /* base chains: "filter" + PRIO */
	struct nrule *rules;
	size_t n, cap;
};

struct ntable {
	int family; /* NFPROTO_INET, NFPROTO_BRIDGE, NFPROTO_IPV4 or NFPROTO_IPV6 */
	struct nchain *chains;
	size_t n;
};

struct hv_nft {
	char table[HV_NFT_NAME_MAX + 1];
	struct ntable inet, bridge;
	bool has_bridge;
	struct ntable ip4, ip6; /* the mirrors' copies (nft dup), when has_mirror */
	bool has_mirror;
	char (*dup_ports)[HV_NFT_IFNAMSIZ]; /* devices of dup statements */
	size_t n_dup_ports;
	size_t n_rules;
	char *notes[NFT_NOTES_MAX + 1];
	size_t n_notes, n_notes_dropped;
	char **whats; /* strings owned for nrule.what */
	size_t n_whats, cap_whats;
	struct nset *sets; /* named sets of the inet table */
	size_t n_sets;
	void **blobs; /* element arrays owned for matches and sets */
	size_t n_blobs, cap_blobs;
};

/* ---- compile ---- */

struct cc {
	struct hv_nft *n;
	const struct hv_ir *ir;
	const struct hv_nft_opts *opts;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 3, 4))) cc_fail(struct cc *c, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -e;
}

static void __attribute__((format(printf, 2, 3))) cc_note(struct cc *c, const char *fmt, ...)
{
	struct hv_nft *n = c->n;
	va_list ap;
	char *s = NULL;

	if (n->n_notes >= NFT_NOTES_MAX) {
		n->n_notes_dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		n->notes[n->n_notes++] = s;
}

static struct nchain *
chain_add(struct ntable *t, const char *name, enum hook hook)
{
	struct nchain *ch = realloc(t->chains, (t->n + 1) * sizeof(*ch));

	if (ch == NULL)
		return NULL;
	t->chains = ch;
	ch = &t->chains[t->n++];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->hook = hook;
	return ch;
}

static struct nrule *
rule_add(struct cc *c, struct nchain *ch)
{
	if (c->n->n_rules >= HV_NFT_MAX_RULES) {
		cc_fail(c, E2BIG,
			"the ruleset needs more than %u nft rules; use wider prefixes or fewer rules",
			HV_NFT_MAX_RULES);
		return NULL;
	}
	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 16;
		struct nrule *v = realloc(ch->rules, cap * sizeof(*v));
		if (v == NULL) {
			cc_fail(c, ENOMEM, "out of memory");
			return NULL;
		}
		ch->rules = v;
		ch->cap = cap;
	}
	struct nrule *r = &ch->rules[ch->n++];
	memset(r, 0, sizeof(*r));
	c->n->n_rules++;
	return r;
}

static struct match *
match_add(struct nrule *r, enum m_kind k)
{
	/* callers add at most RULE_MATCHES_MAX; an overflow is a bug here */
	if (r->n_m >= RULE_MATCHES_MAX)
		abort();
	struct match *m = &r->m[r->n_m++];
	memset(m, 0, sizeof(*m));
	m->kind = k;
	return m;
}

static const char *
what_add(struct cc *c, const char *fmt, ...)
{
	struct hv_nft *n = c->n;
	va_list ap;
	char *s;

	if (n->n_whats == n->cap_whats) {
		size_t cap = n->cap_whats ? n->cap_whats * 2 : 16;
		char **v = realloc(n->whats, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		n->whats = v;
		n->cap_whats = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		n->whats[n->n_whats++] = s;
	return s;
}

static bool
ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= HV_NFT_IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == '"' || *s <= ' ' || *s >= 127)
			return false;
	return true;
}

static bool
name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > HV_NFT_NAME_MAX)
		return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static const char *
seg_bridge(struct cc *c, uint16_t seg)
{
	if (c->opts && seg < c->opts->n_bridges && c->opts->bridges && c->opts->bridges[seg])
		return c->opts->bridges[seg];
	return c->ir->prog->segments.v[seg].name;
}

static const char *
rule_where(const struct hv_rule *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s (%s:%u:%u)", r->id, hv_src_path(r->loc.src), r->loc.line,
		 r->loc.col);
	return buf;
}

/* the verdict of ACTION: accept, drop, or the shared reject chain */
static void
rule_set_action(struct nrule *r, enum hv_action a)
{
	switch (a) {
	case HV_ALLOW:
		r->v = V_ACCEPT;
		break;
	case HV_BLOCK:
		r->v = V_DROP;
		break;
	case HV_REJECT:
		r->v = V_JUMP;
		snprintf(r->target, sizeof(r->target), "reject_packet");
		break;
	}
}

/*
 * A logged rule gets a chain of its own: a rate-limited log rule, then its
 * verdict. The limit is per rule (shared by all its entries), as hvnetd's
 * token bucket is.
 */
static int
log_chain_add(struct cc *c, const struct hv_rule *r, const char *chain_name, const char *what)
{
	struct nchain *ch = chain_add(&c->n->inet, chain_name, HOOK_NONE);
	char where[512];

	if (ch == NULL)
		return cc_fail(c, ENOMEM, "out of memory");
	if (strlen(r->id) + 2 > NFT_LOG_PREFIX_MAX)
		return cc_fail(
			c, EINVAL,
			"rule %s: its id is longer than nftables' log prefix (%d bytes); give the rule a shorter label",
			rule_where(r, where, sizeof(where)), NFT_LOG_PREFIX_MAX - 2);
	struct nrule *lr = rule_add(c, ch);
	if (lr == NULL)
		return -errno;
	lr->limit = true;
	lr->rate = r->log_rate ? r->log_rate : 10;
	lr->burst = r->log_burst ? r->log_burst : 20;
	lr->log = true;
	lr->log_group = c->opts ? c->opts->log_group : 0;
	snprintf(lr->prefix, sizeof(lr->prefix), "%s: ", r->is_default ? "default" : r->id);
	lr->what = what;
	struct nrule *vr = rule_add(c, ch);
	if (vr == NULL)
		return -errno;
	rule_set_action(vr, r->action);
	vr->what = what;
	return 0;
}

/* memory that lives as long as the ruleset; NULL on failure */
static void *
blob_alloc(struct hv_nft *n, size_t count, size_t size)
{
	if (n->n_blobs == n->cap_blobs) {
		size_t cap = n->cap_blobs ? n->cap_blobs * 2 : 64;
		void **v = realloc(n->blobs, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		n->blobs = v;
		n->cap_blobs = cap;
	}
	void *p = calloc(count ? count : 1, size);
	if (p)
		n->blobs[n->n_blobs++] = p;
	return p;
}

/*
 * One rule's IR entries, grouped: entries that differ only in one host
 * address or one destination port become one nft rule with a set, as an
 * nftables user writes them. Within one rule the order of its entries does
 * not matter (they share the verdict), so grouping keeps first-match order.
 */
struct gent {
	uint16_t seg;  /* iifname: the ingress segment, or HV_SEG_ANY */
	uint16_t oseg; /* oifname (routed only): the destination segment, or HV_SEG_ANY */
	uint8_t fam, proto;
	int16_t icmp;
	struct hv_prefix *src, *dst; /* n_src 0: no constraint */
	size_t n_src, n_dst;
	uint16_t *lo, *hi; /* n_port 0: no port; > 1: single ports only */
	size_t n_port;
	bool dead;
};

#define GROUP_MAX 1024 /* entries of one rule grouped (quadratic); beyond, one rule each */

static int
prefix_cmp(const void *a, const void *b)
{
	const struct hv_prefix *x = a, *y = b;
	size_t len = x->family == 4 ? 4 : 16;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	int c = memcmp(x->a, y->a, len);
	return c ? c : (int)x->plen - (int)y->plen;
}

static int
port_cmp(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return x < y ? -1 : x > y;
}

static bool
plist_eq(const struct hv_prefix *a, size_t na, const struct hv_prefix *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (prefix_cmp(&a[i], &b[i]) != 0)
			return false;
	return true;
}

static bool
hosts_only(const struct hv_prefix *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].plen != (p[i].family == 4 ? 32 : 128))
			return false;
	return n > 0;
}

static bool
ports_eq(const struct gent *a, const struct gent *b)
{
	if (a->n_port != b->n_port)
		return false;
	for (size_t i = 0; i < a->n_port; i++)
		if (a->lo[i] != b->lo[i] || a->hi[i] != b->hi[i])
			return false;
	return true;
}

static bool
single_ports(const struct gent *g)
{
	for (size_t i = 0; i < g->n_port; i++)
		if (g->lo[i] != g->hi[i])
			return false;
	return g->n_port > 0;
}

/* union of two sorted lists into a new sorted list without duplicates */
static struct hv_prefix *
plist_union(struct hv_nft *n, const struct hv_prefix *a, size_t na, const struct hv_prefix *b,
	    size_t nb, size_t *out_n)
{
	struct hv_prefix *v = blob_alloc(n, na + nb, sizeof(*v));
	size_t k = 0;

	if (v == NULL)
		return NULL;
	memcpy(v, a, na * sizeof(*v));
	memcpy(v + na, b, nb * sizeof(*v));
	qsort(v, na + nb, sizeof(*v), prefix_cmp);
	for (size_t i = 0; i < na + nb; i++)
		if (k == 0 || prefix_cmp(&v[k - 1], &v[i]) != 0)
			v[k++] = v[i];
	*out_n = k;
	return v;
}

static uint16_t *
ports_union(struct hv_nft *n, const uint16_t *a, size_t na, const uint16_t *b, size_t nb,
	    size_t *out_n)
{
	uint16_t *v = blob_alloc(n, na + nb, sizeof(*v));
	size_t k = 0;

	if (v == NULL)
		return NULL;
	memcpy(v, a, na * sizeof(*v));
	memcpy(v + na, b, nb * sizeof(*v));
	qsort(v, na + nb, sizeof(*v), port_cmp);
	for (size_t i = 0; i < na + nb; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	*out_n = k;
	return v;
}

enum gdim {
	G_PORT,
	G_SRC,
	G_DST
};

static bool
gent_mergeable(const struct gent *a, const struct gent *b, enum gdim d)
{
	if (a->seg != b->seg || a->oseg != b->oseg || a->fam != b->fam || a->proto != b->proto ||
	    a->icmp != b->icmp)
		return false;
	if (d != G_PORT && !ports_eq(a, b))
		return false;
	if (d != G_SRC && !plist_eq(a->src, a->n_src, b->src, b->n_src))
		return false;
	if (d != G_DST && !plist_eq(a->dst, a->n_dst, b->dst, b->n_dst))
		return false;
	switch (d) {
	case G_PORT:
		return (a->proto == HV_PROTO_TCP || a->proto == HV_PROTO_UDP) && single_ports(a) &&
		       single_ports(b);
	case G_SRC:
		return hosts_only(a->src, a->n_src) && hosts_only(b->src, b->n_src);
	case G_DST:
		return hosts_only(a->dst, a->n_dst) && hosts_only(b->dst, b->n_dst);
	}
	return false;
}

static int
gent_merge(struct hv_nft *n, struct gent *a, const struct gent *b, enum gdim d)
{
	size_t k;

	switch (d) {
	case G_PORT: {
		uint16_t *v = ports_union(n, a->lo, a->n_port, b->lo, b->n_port, &k);
		if (v == NULL)
			return -ENOMEM;
		a->lo = a->hi = v;
		a->n_port = k;
		break;
	}
	case G_SRC:
		if ((a->src = plist_union(n, a->src, a->n_src, b->src, b->n_src, &a->n_src)) ==
		    NULL)
			return -ENOMEM;
		break;
	case G_DST:
		if ((a->dst = plist_union(n, a->dst, a->n_dst, b->dst, b->n_dst, &a->n_dst)) ==
		    NULL)
			return -ENOMEM;
		break;
	}
	return 0;
}

static bool
set_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len + 4 > NFT_CHAIN_NAME_MAX)
		return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* the named set holding exactly these elements, made on first use */
static const char *
named_set_use(struct cc *c, const char *name, uint8_t kind, const struct hv_prefix *addrs,
	      const uint16_t *ports, size_t n_elems)
{
	struct hv_nft *n = c->n;

	for (size_t i = 0; i < n->n_sets; i++) {
		struct nset *s = &n->sets[i];
		if (strcmp(s->name, name) != 0)
			continue;
		/* same name, other content: keep it anonymous */
		if (s->kind != kind || s->n != n_elems)
			return NULL;
		if (kind == 'p' ? memcmp(s->ports, ports, n_elems * sizeof(*ports)) != 0
				: !plist_eq(s->addrs, s->n, addrs, n_elems))
			return NULL;
		return s->name;
	}
	struct nset *v = realloc(n->sets, (n->n_sets + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	n->sets = v;
	struct nset *s = &n->sets[n->n_sets++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = kind;
	s->addrs = addrs;
	s->ports = ports;
	s->n = n_elems;
	return s->name;
}

/* a `set` of the file whose members of FAMILY are exactly ADDRS */
static const char *
named_addr_set(struct cc *c, uint8_t family, const struct hv_prefix *addrs, size_t n)
{
	const struct hv_prog *g = c->ir->prog;

	for (size_t i = 0; i < g->sets.n; i++) {
		const struct hv_set *st = &g->sets.v[i];
		struct hv_prefix tmp[64];
		size_t k = 0;
		bool other = false;

		if (!set_name_valid(st->name) || st->members.n > 64)
			continue;
		for (size_t j = 0; j < st->members.n; j++) {
			if (st->members.v[j].p.family == family)
				tmp[k++] = st->members.v[j].p;
			else
				other = true;
		}
		qsort(tmp, k, sizeof(tmp[0]), prefix_cmp);
		size_t u = 0;
		for (size_t j = 0; j < k; j++)
			if (u == 0 || prefix_cmp(&tmp[u - 1], &tmp[j]) != 0)
				tmp[u++] = tmp[j];
		if (!plist_eq(tmp, u, addrs, n))
			continue;
		char name[NFT_CHAIN_NAME_MAX];
		snprintf(name, sizeof(name), "%s%s", st->name,
			 other ? (family == 4 ? "_v4" : "_v6") : "");
		const char *r = named_set_use(c, name, family, addrs, NULL, n);
		if (r)
			return r;
	}
	return NULL;
}

/* a service of the file that is exactly these ports of PROTO */
static const char *
named_port_set(struct cc *c, uint8_t proto, const uint16_t *ports, size_t n)
{
	const struct hv_prog *g = c->ir->prog;

	for (size_t i = 0; i < g->services.n; i++) {
		const struct hv_service *sv = &g->services.v[i];
		uint16_t tmp[64];
		size_t k = 0;
		bool ok = set_name_valid(sv->name) && sv->items.n <= 64;

		for (size_t j = 0; ok && j < sv->items.n; j++) {
			const struct hv_svc_item *it = &sv->items.v[j];
			if (it->proto != proto || it->lo != it->hi)
				ok = false;
			else
				tmp[k++] = it->lo;
		}
		if (!ok)
			continue;
		qsort(tmp, k, sizeof(tmp[0]), port_cmp);
		size_t u = 0;
		for (size_t j = 0; j < k; j++)
			if (u == 0 || tmp[u - 1] != tmp[j])
				tmp[u++] = tmp[j];
		if (u != n || memcmp(tmp, ports, n * sizeof(*ports)) != 0)
			continue;
		const char *r = named_set_use(c, sv->name, 'p', NULL, ports, n);
		if (r)
			return r;
	}
	return NULL;
}

static int
addr_match_add(struct cc *c, struct nrule *nr, uint8_t fam, bool dst, const struct hv_prefix *p,
	       size_t n)
{
	if (n == 1) {
		struct match *m = match_add(nr, M_ADDR);
		m->family = fam;
		m->dst = dst;
		m->prefix = p[0];
		return 0;
	}
	struct match *m = match_add(nr, M_ADDR_SET);
	m->family = fam;
	m->dst = dst;
	m->addrs = p;
	m->n_elems = n;
	const char *name = named_addr_set(c, fam, p, n);
	if (name)
		snprintf(m->set, sizeof(m->set), "%s", name);
	return 0;
}

static int
emit_gent(struct cc *c, struct nchain *fwd, const struct gent *g, const struct hv_rule *r,
	  const char *log_chain, const char *what)
{
	char where[512];
	struct nrule *nr = rule_add(c, fwd);

	if (nr == NULL)
		return -E2BIG;
	nr->what = what;
	if (strlen(r->id) > NFT_COMMENT_MAX)
		return cc_fail(
			c, EINVAL,
			"rule %s: its id is longer than an nftables comment (%d bytes); give the rule a shorter label",
			rule_where(r, where, sizeof(where)), NFT_COMMENT_MAX);
	snprintf(nr->comment, sizeof(nr->comment), "%s", r->id);
	for (int side = 0; side < 2; side++) {
		uint16_t seg = side == 0 ? g->seg : g->oseg;
		if (seg == HV_SEG_ANY)
			continue;
		const char *br = seg_bridge(c, seg);
		if (!ifname_valid(br))
			return cc_fail(
				c, EINVAL,
				"segment %s (used by rule %s): its bridge name '%s' is not an interface name (1-15 bytes, no '/', ':', quotes or spaces); name the bridge with --bridge %s=IFNAME",
				c->ir->prog->segments.v[seg].name,
				rule_where(r, where, sizeof(where)), br,
				c->ir->prog->segments.v[seg].name);
		snprintf(match_add(nr, side == 0 ? M_IIFNAME : M_OIFNAME)->ifname, HV_NFT_IFNAMSIZ,
			 "%s", br);
	}
	bool icmp = g->proto == HV_PROTO_ICMP || g->proto == HV_PROTO_ICMPV6;
	uint8_t fam = g->fam;
	if (icmp)
		fam = g->proto == HV_PROTO_ICMP ? 4 : 6;
	bool addr = g->n_src || g->n_dst;
	if (g->n_src)
		addr_match_add(c, nr, fam, false, g->src, g->n_src);
	if (g->n_dst)
		addr_match_add(c, nr, fam, true, g->dst, g->n_dst);
	/* a family constraint with nothing else to carry it */
	if (fam && !addr && !(icmp && g->icmp >= 0))
		match_add(nr, M_NFPROTO)->family = fam;
	if (icmp && g->icmp >= 0) {
		struct match *m = match_add(nr, M_ICMP_TYPE);
		m->family = fam;
		m->type = g->icmp;
	} else if (g->n_port == 1) {
		struct match *m = match_add(nr, M_DPORT);
		m->proto = g->proto;
		m->lo = g->lo[0];
		m->hi = g->hi[0];
	} else if (g->n_port > 1) {
		struct match *m = match_add(nr, M_DPORT_SET);
		m->proto = g->proto;
		m->ports = g->lo;
		m->n_elems = g->n_port;
		const char *name = named_port_set(c, g->proto, g->lo, g->n_port);
		if (name)
			snprintf(m->set, sizeof(m->set), "%s", name);
	} else if (g->proto != HV_PROTO_ANY) {
		match_add(nr, M_L4PROTO)->proto = g->proto;
	}
	if (log_chain) {
		nr->v = V_JUMP;
		snprintf(nr->target, sizeof(nr->target), "%s", log_chain);
	} else {
		rule_set_action(nr, r->action);
	}
	return 0;
}

/* one source rule: its entries grouped, then emitted into FWD; returns how
 * many entries were left out (bridged: they join two segments) or -errno.
 * ROUTED: FWD decides routed packets, whose ingress segment is the bridge
 * they came in on (iifname) and whose destination segment the bridge they
 * leave by (oifname), the two segments hvnetd classifies a routed packet by. */
static long
compile_rule_entries(struct cc *c, struct nchain *fwd, const struct hv_ir_rule_info *ri,
		     const char *log_chain, const char *what, bool routed)
{
	struct hv_nft *n = c->n;
	struct gent *g = calloc(ri->count + 1, sizeof(*g));
	size_t ng = 0;
	long skipped = 0;
	int rc = 0;

	if (g == NULL)
		return cc_fail(c, ENOMEM, "out of memory");
	for (size_t k = 0; k < ri->count; k++) {
		const struct hv_ir_rule *e = &c->ir->entries[ri->first + k];
		if (e->in_port != 0) {
			/*
			 * The rules live in inet prerouting, where br_netfilter
			 * shows the bridge as the input device: the bridge port
			 * (physindev) has no nft match there (meta ibrname and
			 * ibrport belong to the bridge family). docs/nftables.md.
			 */
			const struct hv_rule *r = ri->rule;
			free(g);
			return cc_fail(
				c, EINVAL,
				"rule %s (%s:%u:%u): the nftables backend cannot express 'port %s' (the ingress port): its rules run in table inet, where a bridged packet's input device is the bridge, not the bridge port; name the source by guest or address instead",
				r->id, hv_src_path(r->loc.src), r->loc.line, r->loc.col,
				c->ir->ports[e->in_port - 1]);
		}
		if (!routed && e->src_seg != HV_SEG_ANY && e->dst_seg != HV_SEG_ANY &&
		    e->src_seg != e->dst_seg) {
			skipped++;
			continue;
		}
		struct gent *x = &g[ng++];
		if (routed) {
			x->seg = e->src_seg;
			x->oseg = e->dst_seg;
		} else {
			x->seg = e->src_seg != HV_SEG_ANY ? e->src_seg : e->dst_seg;
			x->oseg = HV_SEG_ANY;
		}
		x->fam = e->family;
		x->proto = e->proto;
		x->icmp = e->icmp_type;
		if (e->family && e->src.plen) {
			if ((x->src = blob_alloc(n, 1, sizeof(*x->src))) == NULL)
				goto nomem;
			x->src[0] = e->src;
			x->n_src = 1;
		}
		if (e->family && e->dst.plen) {
			if ((x->dst = blob_alloc(n, 1, sizeof(*x->dst))) == NULL)
				goto nomem;
			x->dst[0] = e->dst;
			x->n_dst = 1;
		}
		if ((e->proto == HV_PROTO_TCP || e->proto == HV_PROTO_UDP) &&
		    !(e->dport_lo == 0 && e->dport_hi == 65535)) {
			x->lo = blob_alloc(n, 1, sizeof(*x->lo));
			x->hi = blob_alloc(n, 1, sizeof(*x->hi));
			if (x->lo == NULL || x->hi == NULL)
				goto nomem;
			x->lo[0] = e->dport_lo;
			x->hi[0] = e->dport_hi;
			x->n_port = 1;
		}
	}
	if (ng <= GROUP_MAX) {
		static const enum gdim dims[] = {G_PORT, G_SRC, G_DST};
		for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
			for (size_t i = 0; i < ng; i++) {
				if (g[i].dead)
					continue;
				for (size_t j = i + 1; j < ng; j++) {
					if (g[j].dead || !gent_mergeable(&g[i], &g[j], dims[d]))
						continue;
					if (gent_merge(n, &g[i], &g[j], dims[d]) < 0)
						goto nomem;
					g[j].dead = true;
				}
			}
	}
	for (size_t i = 0; i < ng && rc == 0; i++)
		if (!g[i].dead)
			rc = emit_gent(c, fwd, &g[i], ri->rule, log_chain, what);
	free(g);
	return rc < 0 ? rc : skipped;
nomem:
	free(g);
	return cc_fail(c, ENOMEM, "out of memory");
}

static int
compile_preamble(struct cc *c, struct nchain *fwd)
{
	struct nrule *r;

	if ((r = rule_add(c, fwd)) == NULL)
		return -E2BIG;
	match_add(r, M_ND_BYPASS);
	r->v = V_ACCEPT;
	snprintf(r->comment, sizeof(r->comment), "neighbour discovery and MLD bypass the policy");
	r->what = "the ND/MLD bypass rule";
	if ((r = rule_add(c, fwd)) == NULL)
		return -E2BIG;
	match_add(r, M_CT_STATE)->bits = CT_ESTABLISHED | CT_RELATED;
	r->v = V_ACCEPT;
	snprintf(r->comment, sizeof(r->comment), "packets of allowed connections");
	r->what = "the established/related rule";
	if ((r = rule_add(c, fwd)) == NULL)
		return -E2BIG;
	match_add(r, M_CT_STATE)->bits = CT_INVALID;
	r->v = V_DROP;
	snprintf(r->comment, sizeof(r->comment), "INVALID is always dropped");
	r->what = "the invalid rule";
	if ((r = rule_add(c, fwd)) == NULL)
		return -E2BIG;
	match_add(r, M_TCP_NOT_SYN);
	r->v = V_DROP;
	snprintf(r->comment, sizeof(r->comment), "a TCP connection opens with a SYN");
	r->what = "the TCP SYN rule";
	return 0;
}

void
hv_nft_gateway_mac(const char *segment, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a, as hvnetd's hv_gw_mac_of */

	for (const char *p = segment; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x68; /* "hv" */
	mac[2] = 0x76;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

/* segment S's gateway address of FAMILY, or NULL */
static const struct hv_prefix *
seg_gateway(const struct hv_segment *sg, uint8_t family)
{
	for (size_t k = 0; k < sg->gateways.n; k++)
		if (sg->gateways.v[k].p.family == family)
			return &sg->gateways.v[k].p;
	return NULL;
}

static bool
routing_on(const struct cc *c)
{
	if (c->opts == NULL || !c->opts->routing)
		return false;
	for (size_t s = 0; s < c->ir->prog->segments.n; s++)
		if (c->ir->prog->segments.v[s].gateways.n > 0)
			return true;
	return false;
}

/* the overlay's VXLAN on its underlay interface: accepted in CH */
static int
underlay_rule_add(struct cc *c, struct nchain *ch)
{
	struct nrule *r;

	if (c->opts == NULL || c->opts->underlay == NULL)
		return 0;
	if (!ifname_valid(c->opts->underlay))
		return cc_fail(c, EINVAL, "overlay: underlay '%s' is not an interface name",
			       c->opts->underlay);
	if ((r = rule_add(c, ch)) == NULL)
		return -E2BIG;
	snprintf(match_add(r, M_IIFNAME)->ifname, HV_NFT_IFNAMSIZ, "%s", c->opts->underlay);
	struct match *m = match_add(r, M_DPORT);
	m->proto = HV_PROTO_UDP;
	m->lo = m->hi = c->opts->vxlan_port ? c->opts->vxlan_port : 4789;
	r->v = V_ACCEPT;
	r->what = "the overlay's VXLAN rule";
	snprintf(r->comment, sizeof(r->comment), "VXLAN of the overlay");
	return 0;
}

/* a rule of CH that starts with iifname BRIDGE-OF-S and, with MAC, ether
 * daddr GATEWAY-MAC-OF-S; 0 or -errno */
static int
gw_rule_add(struct cc *c, struct nchain *ch, size_t s, bool mac, const char *what,
	    struct nrule **out)
{
	const struct hv_segment *sg = &c->ir->prog->segments.v[s];
	const char *br = seg_bridge(c, (uint16_t)s);
	struct nrule *r;

	if (!ifname_valid(br))
		return cc_fail(
			c, EINVAL,
			"segment %s: its bridge name '%s' is not an interface name (1-15 bytes, no '/', ':', quotes or spaces); name the bridge with --bridge %s=IFNAME",
			sg->name, br, sg->name);
	if ((r = rule_add(c, ch)) == NULL)
		return -E2BIG;
	snprintf(match_add(r, M_IIFNAME)->ifname, HV_NFT_IFNAMSIZ, "%s", br);
	if (mac)
		hv_nft_gateway_mac(sg->name, match_add(r, M_ETHER_DADDR)->mac);
	r->what = what;
	*out = r;
	return 0;
}

/*
 * The gateways (opts->routing): each bridge carries its segment's gateway
 * MAC, so a frame to that MAC is for the gateway. In prerouting such frames
 * skip the bridged rules (they are routed, or for the gateway itself) when
 * the segment has a gateway of their family and are dropped otherwise, as
 * hvnetd routes only between segments with gateways of the family. In
 * forward they go to chain ROUTED (the policy for routed packets); bridged
 * packets, which br_netfilter also passes through forward (in and out on
 * the same bridge), were decided in prerouting. Input lets the gateways
 * answer pings of their own addresses and neighbour discovery, nothing else
 * (hvnetd: gw_local). Chains are passed by index: adding chains moves them.
 */
static int
compile_gateways(struct cc *c, size_t ipre, size_t ifwd, size_t iin)
{
	const struct hv_prog *prog = c->ir->prog;
	struct ntable *t = &c->n->inet;
	struct nrule *r;
	int rc;

	if ((r = rule_add(c, &t->chains[iin])) == NULL)
		return -E2BIG;
	match_add(r, M_ND_BYPASS);
	r->v = V_ACCEPT;
	snprintf(r->comment, sizeof(r->comment), "neighbour discovery of the gateways");
	r->what = "the ND rule of chain input";
	for (size_t s = 0; s < prog->segments.n; s++) {
		const struct hv_segment *sg = &prog->segments.v[s];
		const struct hv_prefix *g4 = seg_gateway(sg, 4), *g6 = seg_gateway(sg, 6);
		const char *what_pre = "a gateway rule of chain prerouting";

		if (g4 || g6) {
			if ((rc = gw_rule_add(c, &t->chains[ipre], s, true, what_pre, &r)) < 0)
				return rc;
			if (!(g4 && g6))
				match_add(r, M_NFPROTO)->family = g4 ? 4 : 6;
			r->v = V_ACCEPT;
			snprintf(r->comment, sizeof(r->comment), "to the gateway of %s", sg->name);
		}
		if (!(g4 && g6)) {
			if ((rc = gw_rule_add(c, &t->chains[ipre], s, true, what_pre, &r)) < 0)
				return rc;
			r->v = V_DROP;
			r->keep_drop = true;
			snprintf(r->comment, sizeof(r->comment), "%s has no %sgateway", sg->name,
				 g4   ? "IPv6 "
				 : g6 ? "IPv4 "
				      : "");
		}
		if (!g4 && !g6)
			continue;
		rc = gw_rule_add(c, &t->chains[ifwd], s, true, "a gateway rule of chain forward",
				 &r);
		if (rc < 0)
			return rc;
		r->v = V_JUMP;
		snprintf(r->target, sizeof(r->target), "routed");
		snprintf(r->comment, sizeof(r->comment), "routed by the gateway of %s", sg->name);
		for (int f = 0; f < 2; f++) {
			const struct hv_prefix *gw = f == 0 ? g4 : g6;
			if (gw == NULL)
				continue;
			rc = gw_rule_add(c, &t->chains[iin], s, false,
					 "a gateway rule of chain input", &r);
			if (rc < 0)
				return rc;
			addr_match_add(c, r, gw->family, true, gw, 1);
			struct match *m = match_add(r, M_ICMP_TYPE);
			m->family = gw->family;
			m->type = gw->family == 4 ? 8 : 128;
			r->v = V_ACCEPT;
			snprintf(r->comment, sizeof(r->comment), "the gateway of %s answers pings",
				 sg->name);
		}
	}
	if ((rc = underlay_rule_add(c, &t->chains[iin])) < 0)
		return rc;
	if ((r = rule_add(c, &t->chains[iin])) == NULL)
		return -E2BIG;
	r->v = V_DROP;
	r->what = "the last rule of chain input";
	snprintf(r->comment, sizeof(r->comment), "nothing else for the gateways");
	return 0;
}

#define MIRROR_BITS 16 /* mirrors with verdict blocked: one mark bit each */

static int
dup_port_add(struct hv_nft *n, const char *port)
{
	for (size_t i = 0; i < n->n_dup_ports; i++)
		if (strcmp(n->dup_ports[i], port) == 0)
			return 0;
	char(*p)[HV_NFT_IFNAMSIZ] = realloc(n->dup_ports, (n->n_dup_ports + 1) * sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	n->dup_ports = p;
	snprintf(n->dup_ports[n->n_dup_ports++], HV_NFT_IFNAMSIZ, "%s", port);
	return 0;
}

const char *
hv_nft_mirror_dup_unsupported(const struct hv_mirror *m)
{
	if (m->ports.n > 0)
		return "port selection (inet hooks see a bridged packet's bridge, not its port; select segments instead)";
	if (m->filter)
		return "a filter (nft has no tcpdump expressions)";
	if (m->dir == HV_DIR_EGRESS)
		return "direction egress";
	if (m->tap_delivered)
		return "tap delivered";
	if (m->sample > 1)
		return "sampling";
	if (m->verdict == HV_VERDICT_ALLOWED)
		return "verdict allowed";
	return NULL;
}

const char *
hv_nft_mirror_tc_unsupported(const struct hv_mirror *m)
{
	if (m->sample > 1)
		return "sampling";
	if (m->verdict == HV_VERDICT_BLOCKED)
		return "verdict blocked (tc sees frames, not verdicts)";
	if (!m->tap_delivered && m->verdict == HV_VERDICT_ALLOWED)
		return "verdict allowed at the wire tap (tc sees frames, not verdicts)";
	if (m->tap_delivered && m->dir != HV_DIR_EGRESS)
		return "tap delivered of the frames the selected ports send (tc copies what a port is delivered: direction egress)";
	return NULL;
}

/* the rules of mirror M in CH: one per selected segment (BY_SEGMENT; none
 * selected: one for every packet). PORT NULL: chain blocked's rule, which
 * marks the packet with BIT; else a copy (dup of family DUP) to PORT, of
 * packets marked BIT when BIT is not 0 */
static int
mirror_rules(struct cc *c, struct nchain *ch, const struct hv_mirror *m, bool by_segment,
	     uint32_t bit, const char *port, uint8_t dup)
{
	size_t n = by_segment && m->segments.n ? m->segments.n : 1;

	for (size_t i = 0; i < n; i++) {
		struct nrule *r = rule_add(c, ch);
		if (r == NULL)
			return -E2BIG;
		r->what = "a mirror rule";
		if (by_segment && m->segments.n) {
			size_t sid = 0;
			while (sid < c->ir->prog->segments.n &&
			       strcmp(c->ir->prog->segments.v[sid].name, m->segments.v[i].name) !=
				       0)
				sid++;
			if (sid == c->ir->prog->segments.n)
				return cc_fail(c, EINVAL, "mirror %s: no segment %s", m->name,
					       m->segments.v[i].name);
			const char *br = seg_bridge(c, (uint16_t)sid);
			if (!ifname_valid(br))
				return cc_fail(
					c, EINVAL,
					"mirror %s: the bridge name '%s' of segment %s is not an interface name",
					m->name, br, m->segments.v[i].name);
			snprintf(match_add(r, M_IIFNAME)->ifname, HV_NFT_IFNAMSIZ, "%s", br);
		}
		if (port == NULL) {
			r->mark_or = bit; /* chain blocked: mark it */
		} else {
			if (bit)
				match_add(r, M_MARK_ALL)->bits = bit;
			r->dup = dup;
			snprintf(r->dup_dev, sizeof(r->dup_dev), "%s", port);
		}
		snprintf(r->comment, sizeof(r->comment), "mirror %s", m->name);
	}
	return 0;
}

/*
 * The file's mirrors (opts->mirrors), as nft dup copies. `dup` exists in
 * the ip and ip6 families only, so the copies are made in tables ip NAME
 * and ip6 NAME:
 *  - verdict any: a prerouting chain at priority filter - 10, before the
 *    policy, copies every packet entering a selected segment;
 *  - verdict blocked: the policy's drops jump to chain blocked of the inet
 *    table, which marks a packet of a selected segment with the mirror's bit
 *    and accepts it; the ip and ip6 tables' prerouting and forward chains,
 *    at priority filter + 10, copy marked packets to the mirror's ports and
 *    then drop them.
 */
static int
compile_mirrors(struct cc *c, bool routing)
{
	const struct hv_prog *prog = c->ir->prog;
	struct hv_nft *n = c->n;
	uint32_t blocked_mask = 0;
	bool any = false;
	int rc;

	uint32_t *bits = calloc(prog->mirrors.n + 1, sizeof(*bits));
	bool *on = calloc(prog->mirrors.n + 1, sizeof(*on));
	if (bits == NULL || on == NULL) {
		rc = cc_fail(c, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < prog->mirrors.n; k++) {
		const struct hv_mirror *m = &prog->mirrors.v[k];
		const char *why = hv_nft_mirror_dup_unsupported(m);
		size_t ports = 0;

		if (why && c->opts->tc_mirrors) {
			const char *tc_why = hv_nft_mirror_tc_unsupported(m);
			if (tc_why == NULL)
				continue; /* the caller's tc mirred copies it */
			cc_note(c,
				"mirror %s is not set up: the kernel datapath cannot express %s (nft dup) nor %s (tc mirred)",
				m->name, why, tc_why);
			continue;
		}
		if (why) {
			cc_note(c, "mirror %s is not set up: the kernel datapath cannot express %s",
				m->name, why);
			continue;
		}
		for (size_t d = 0; d < m->dests.n; d++) {
			const struct hv_mirror_dest *md = &m->dests.v[d];
			if (md->kind == HV_DEST_PORT && md->port && ifname_valid(md->port)) {
				ports++;
			} else if (md->kind == HV_DEST_PORT) {
				cc_note(c,
					"mirror %s: port %s is not an interface name: no copies to it",
					m->name, md->port ? md->port : "?");
			} else {
				cc_note(c,
					"mirror %s: %s destinations are not done on the kernel datapath (capture on the mirror port instead: tcpdump -i PORT -w FILE)",
					m->name, md->kind == HV_DEST_PCAP ? "pcap" : "remote");
			}
		}
		if (ports == 0) {
			cc_note(c, "mirror %s is not set up: it has no port destination", m->name);
			continue;
		}
		if (m->verdict == HV_VERDICT_BLOCKED) {
			size_t nb = (size_t)__builtin_popcount(blocked_mask);
			if (nb >= MIRROR_BITS) {
				cc_note(c,
					"mirror %s is not set up: more than %d mirrors of blocked packets",
					m->name, MIRROR_BITS);
				continue;
			}
			bits[k] = 1u << nb;
			blocked_mask |= bits[k];
		} else {
			any = true;
		}
		if (m->snaplen)
			cc_note(c,
				"mirror %s: copies are whole packets (snaplen %u is not applied)",
				m->name, m->snaplen);
		cc_note(c,
			"mirror %s: IPv4 and IPv6 packets only, copied at the IP layer (Ethernet header rewritten, TTL one less)",
			m->name);
		on[k] = true;
	}
	if (!any && !blocked_mask) {
		rc = 0;
		goto out;
	}

	/* inet: the policy's drops go through chain blocked */
	if (blocked_mask) {
		if (chain_add(&n->inet, "blocked", HOOK_NONE) == NULL) {
			rc = cc_fail(c, ENOMEM, "out of memory");
			goto out;
		}
		struct nchain *bl = &n->inet.chains[n->inet.n - 1];
		for (size_t k = 0; k < prog->mirrors.n; k++)
			if (on[k] && bits[k] &&
			    (rc = mirror_rules(c, bl, &prog->mirrors.v[k], true, bits[k], NULL,
					       0)) < 0)
				goto out;
		struct nrule *r = rule_add(c, bl);
		if (r == NULL) {
			rc = -E2BIG;
			goto out;
		}
		match_add(r, M_MARK_ANY)->bits = blocked_mask;
		r->v = V_ACCEPT;
		r->what = "the mirrored-drop rule of chain blocked";
		snprintf(r->comment, sizeof(r->comment),
			 "copied, then dropped, in tables ip and ip6 %s", n->table);
		if ((r = rule_add(c, bl)) == NULL) {
			rc = -E2BIG;
			goto out;
		}
		r->v = V_DROP;
		r->keep_drop = true;
		r->what = "the drop rule of chain blocked";
		for (size_t i = 0; i + 1 < n->inet.n; i++) {
			struct nchain *ch = &n->inet.chains[i];
			if (ch->hook == HOOK_FORWARD || ch->hook == HOOK_INPUT ||
			    strcmp(ch->name, "reject_packet") == 0)
				continue;
			for (size_t j = 0; j < ch->n; j++)
				if (ch->rules[j].v == V_DROP && !ch->rules[j].keep_drop) {
					ch->rules[j].v = V_JUMP;
					snprintf(ch->rules[j].target, sizeof(ch->rules[j].target),
						 "blocked");
				}
		}
	}

	/* ip and ip6: the copies */
	n->ip4.family = NFPROTO_IPV4;
	n->ip6.family = NFPROTO_IPV6;
	for (int f = 0; f < 2; f++) {
		struct ntable *t = f == 0 ? &n->ip4 : &n->ip6;
		uint8_t fam = f == 0 ? 4 : 6;
		static const struct {
			const char *name;
			enum hook hook;
			int prio;
			bool blocked;
		} chains[] = {
			{"mirror_any", HOOK_PREROUTING, -10, false},
			{"prerouting", HOOK_PREROUTING, 10, true},
			{"forward", HOOK_FORWARD, 10, true},
		};
		for (size_t ci = 0; ci < sizeof(chains) / sizeof(chains[0]); ci++) {
			if (chains[ci].blocked ? !blocked_mask : !any)
				continue;
			if (chains[ci].hook == HOOK_FORWARD && !routing)
				continue;
			if (chain_add(t, chains[ci].name, chains[ci].hook) == NULL) {
				rc = cc_fail(c, ENOMEM, "out of memory");
				goto out;
			}
			struct nchain *ch = &t->chains[t->n - 1];
			ch->prio = chains[ci].prio;
			for (size_t k = 0; k < prog->mirrors.n; k++) {
				const struct hv_mirror *m = &prog->mirrors.v[k];
				if (!on[k] || (bits[k] != 0) != chains[ci].blocked)
					continue;
				for (size_t d = 0; d < m->dests.n; d++) {
					const struct hv_mirror_dest *md = &m->dests.v[d];
					if (md->kind != HV_DEST_PORT || !md->port ||
					    !ifname_valid(md->port))
						continue;
					if ((rc = dup_port_add(n, md->port)) < 0) {
						rc = cc_fail(c, ENOMEM, "out of memory");
						goto out;
					}
					rc = mirror_rules(c, ch, m, !chains[ci].blocked, bits[k],
							  md->port, fam);
					if (rc < 0)
						goto out;
				}
			}
			if (chains[ci].blocked) {
				struct nrule *r = rule_add(c, ch);
				if (r == NULL) {
					rc = -E2BIG;
					goto out;
				}
				match_add(r, M_MARK_ANY)->bits = blocked_mask;
				r->v = V_DROP;
				r->what = "the drop rule of a mirror chain";
				snprintf(r->comment, sizeof(r->comment), "blocked by the policy");
			}
		}
	}
	n->has_mirror = true;
	rc = 0;
out:
	free(bits);
	free(on);
	return rc;
}

const char *
hv_nft_mirror_port(const struct hv_nft *n, size_t i)
{
	return i < n->n_dup_ports ? n->dup_ports[i] : NULL;
}

static int
compile_reject_chain(struct cc *c)
{
	struct nchain *ch = chain_add(&c->n->inet, "reject_packet", HOOK_NONE);
	struct nrule *r;

	if (ch == NULL)
		return cc_fail(c, ENOMEM, "out of memory");
	if ((r = rule_add(c, ch)) == NULL)
		return -E2BIG;
	match_add(r, M_L4PROTO)->proto = HV_PROTO_TCP;
	r->v = V_REJECT_TCP;
	r->what = "the TCP reset rule of chain reject_packet";
	if ((r = rule_add(c, ch)) == NULL)
		return -E2BIG;
	match_add(r, M_L4PROTO)->proto = HV_PROTO_UDP;
	r->v = V_REJECT_PORT;
	r->what = "the port unreachable rule of chain reject_packet";
	if ((r = rule_add(c, ch)) == NULL)
		return -E2BIG;
	r->v = V_REJECT_ADMIN;
	r->what = "the admin prohibited rule of chain reject_packet";
	return 0;
}

static int
compile(struct cc *c)
{
	const struct hv_ir *ir = c->ir;
	struct hv_nft *n = c->n;
	bool any_reject = ir->default_action == HV_REJECT;
	int rc;

	n->inet.family = NFPROTO_INET;
	n->bridge.family = NFPROTO_BRIDGE;
	for (size_t i = 0; i < ir->n_rules; i++)
		any_reject |= ir->rules[i].rule->action == HV_REJECT && ir->rules[i].count > 0;
	if (any_reject && (rc = compile_reject_chain(c)) < 0)
		return rc;

	/* the chains of logged rules first: a jump needs its target */
	char **log_chain = calloc(ir->n_rules + 1, sizeof(*log_chain));
	const char **whats = calloc(ir->n_rules + 1, sizeof(*whats));
	if (log_chain == NULL || whats == NULL) {
		rc = cc_fail(c, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= ir->n_rules; i++) {
		const struct hv_rule *r = i < ir->n_rules ? ir->rules[i].rule : ir->dflt;
		char where[512];
		if (r == NULL) { /* no default written: block, no log */
			whats[i] = "the default rule";
			continue;
		}
		whats[i] = what_add(c, "rule %s", rule_where(r, where, sizeof(where)));
		if (whats[i] == NULL) {
			rc = cc_fail(c, ENOMEM, "out of memory");
			goto out;
		}
		if (!r->log || (i < ir->n_rules && ir->rules[i].count == 0))
			continue;
		char name[NFT_CHAIN_NAME_MAX];
		if (i == ir->n_rules)
			snprintf(name, sizeof(name), "log_default");
		else
			snprintf(name, sizeof(name), "log_rule_%zu", i + 1);
		log_chain[i] = strdup(name);
		if (log_chain[i] == NULL) {
			rc = cc_fail(c, ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = log_chain_add(c, r, name, whats[i])) < 0)
			goto out;
	}

	/* every inet chain before any rule: chain_add moves the chains */
	const bool routing = routing_on(c);
	size_t iroute = 0, ipre = n->inet.n, ifwd = 0, iin = 0;
	if (routing) {
		iroute = ipre++;
		ifwd = ipre + 1;
		iin = ipre + 2;
	}
	if ((routing && chain_add(&n->inet, "routed", HOOK_NONE) == NULL) ||
	    chain_add(&n->inet, "prerouting", HOOK_PREROUTING) == NULL ||
	    (routing && (chain_add(&n->inet, "forward", HOOK_FORWARD) == NULL ||
			 chain_add(&n->inet, "input", HOOK_INPUT) == NULL))) {
		rc = cc_fail(c, ENOMEM, "out of memory");
		goto out;
	}
	struct nchain *fwd = &n->inet.chains[ipre];
	struct nchain *routed = routing ? &n->inet.chains[iroute] : NULL;
	if ((rc = compile_preamble(c, fwd)) < 0 || (rc = underlay_rule_add(c, fwd)) < 0)
		goto out;
	if (routing) {
		/* routed replies of allowed connections; INVALID and a TCP
		 * connection without SYN were dropped in prerouting */
		struct nrule *r = rule_add(c, routed);
		if (r == NULL) {
			rc = -E2BIG;
			goto out;
		}
		match_add(r, M_CT_STATE)->bits = CT_ESTABLISHED | CT_RELATED;
		r->v = V_ACCEPT;
		snprintf(r->comment, sizeof(r->comment), "packets of allowed connections");
		r->what = "the established/related rule of chain routed";
		if ((r = rule_add(c, routed)) == NULL) {
			rc = -E2BIG;
			goto out;
		}
		snprintf(match_add(r, M_OIFNAME)->ifname, HV_NFT_IFNAMSIZ, "lo");
		r->v = V_DROP;
		r->keep_drop = true;
		snprintf(r->comment, sizeof(r->comment), "outside every gateway's subnets");
		r->what = "the no-route rule of chain routed";
		if ((rc = compile_gateways(c, ipre, ifwd, iin)) < 0)
			goto out;
	}
	for (size_t i = 0; i < ir->n_rules; i++) {
		const struct hv_ir_rule_info *ri = &ir->rules[i];
		size_t skipped = 0;
		if (ri->count == 0) {
			cc_note(c, "rule %s: left out: %s", ri->rule->id,
				ri->never ? ri->never : "it matches no packet");
			continue;
		}
		rc = 0;
		long sk = compile_rule_entries(c, fwd, ri, log_chain[i], whats[i], false);
		if (sk >= 0 && routing)
			rc = (int)compile_rule_entries(c, routed, ri, log_chain[i], whats[i], true);
		if (sk < 0 || rc < 0) {
			rc = sk < 0 ? (int)sk : rc;
			goto out;
		}
		skipped = routing ? 0 : (size_t)sk;
		if (ri->rule->action == HV_REJECT)
			cc_note(c,
				"rule %s: reject answers TCP with a reset; on Linux bridges other protocols are dropped without the ICMP error hvnetd sends",
				ri->rule->id);
		if (skipped)
			cc_note(c,
				"rule %s: %zu of its %zu entries left out: they join two different segments, which bridges alone never do (--gateways routes them)",
				ri->rule->id, skipped, ri->count);
	}
	/* bounds hvnetd enforces that this ruleset does not: said, not dropped */
	for (size_t i = 0; i < ir->prog->segments.n; i++) {
		const struct hv_segment *sg = &ir->prog->segments.v[i];
		if (sg->conn_limit)
			cc_note(c, "segment %s: conn-limit %u is not enforced by the nft backend",
				sg->name, sg->conn_limit);
		if (sg->mac_limit)
			cc_note(c,
				"segment %s: mac-limit %u is not part of the ruleset (lab up --datapath kernel sets it on the bridge)",
				sg->name, sg->mac_limit);
	}
	for (size_t i = 0; i < ir->prog->guests.n; i++)
		for (size_t j = 0; j < ir->prog->guests.v[i].nics.n; j++)
			if (ir->prog->guests.v[i].nics.v[j].conn_limit)
				cc_note(c,
					"guest %s, nic %s: conn-limit %u is not enforced by the nft backend",
					ir->prog->guests.v[i].name,
					ir->prog->guests.v[i].nics.v[j].name,
					ir->prog->guests.v[i].nics.v[j].conn_limit);
	if (ir->default_action == HV_REJECT)
		cc_note(c,
			"default: reject answers TCP with a reset; on Linux bridges other protocols are dropped without the ICMP error hvnetd sends");
	/* the default, bridged and routed */
	for (int k = 0; k < (routing ? 2 : 1); k++) {
		struct nrule *d = rule_add(c, k == 0 ? fwd : routed);
		if (d == NULL) {
			rc = -E2BIG;
			goto out;
		}
		snprintf(d->comment, sizeof(d->comment), "default");
		d->what = whats[ir->n_rules];
		if (log_chain[ir->n_rules]) {
			d->v = V_JUMP;
			snprintf(d->target, sizeof(d->target), "%s", log_chain[ir->n_rules]);
		} else {
			rule_set_action(d, ir->default_action);
		}
	}

	if (c->opts && c->opts->mirrors && ir->prog->mirrors.n > 0 &&
	    (rc = compile_mirrors(c, routing)) < 0)
		goto out;

	/* non-IP frames never reach the inet table: a bridge table drops them
	 * when the default is not allow (hvnetd: fw_non_ip) */
	if (ir->default_action != HV_ALLOW) {
		struct nchain *bf = chain_add(&n->bridge, "forward", HOOK_FORWARD);
		if (bf == NULL) {
			rc = cc_fail(c, ENOMEM, "out of memory");
			goto out;
		}
		struct nrule *r = rule_add(c, bf);
		if (r == NULL) {
			rc = -E2BIG;
			goto out;
		}
		match_add(r, M_ETHER_NOT_IP);
		r->v = V_DROP;
		snprintf(r->comment, sizeof(r->comment), "non-IP frames under a default of %s",
			 hv_action_name(ir->default_action));
		r->what = "the non-IP rule of the bridge table";
		n->has_bridge = true;
	}
	rc = 0;
out:
	if (log_chain)
		for (size_t i = 0; i <= ir->n_rules; i++)
			free(log_chain[i]);
	free(log_chain);
	free(whats);
	return rc;
}

struct hv_nft *
hv_nft_compile(const struct hv_ir *ir, const struct hv_nft_opts *opts, char *err, size_t errlen)
{
	struct hv_nft *n = calloc(1, sizeof(*n));
	struct cc c = {n, ir, opts, err, errlen};
	const char *table = opts && opts->table ? opts->table : "hvnet";
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (!name_valid(table)) {
		snprintf(
			err, errlen,
			"table name '%s': 1-%d letters, digits, '_' or '-', starting with a letter or '_'",
			table, HV_NFT_NAME_MAX);
		hv_nft_free(n);
		errno = EINVAL;
		return NULL;
	}
	snprintf(n->table, sizeof(n->table), "%s", table);
	rc = compile(&c);
	if (rc < 0) {
		hv_nft_free(n);
		errno = -rc;
		return NULL;
	}
	if (n->n_notes_dropped)
		cc_note(&c, "%zu more notes", n->n_notes_dropped);
	return n;
}

static void
table_free(struct ntable *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->chains[i].rules);
	free(t->chains);
}

void
hv_nft_free(struct hv_nft *n)
{
	if (n == NULL)
		return;
	table_free(&n->inet);
	table_free(&n->bridge);
	table_free(&n->ip4);
	table_free(&n->ip6);
	free(n->dup_ports);
	for (size_t i = 0; i < n->n_notes; i++)
		free(n->notes[i]);
	for (size_t i = 0; i < n->n_whats; i++)
		free(n->whats[i]);
	free(n->whats);
	for (size_t i = 0; i < n->n_blobs; i++)
		free(n->blobs[i]);
	free(n->blobs);
	free(n->sets);
	free(n);
}

const char *
hv_nft_note(const struct hv_nft *n, size_t i)
{
	return i < n->n_notes ? n->notes[i] : NULL;
}

size_t
hv_nft_rule_count(const struct hv_nft *n)
{
	return n->n_rules;
}

int
hv_nft_break_for_test(struct hv_nft *n)
{
	struct cc c = {.n = n};
	char err[64];
	struct nchain *fwd = NULL;

	c.err = err;
	c.errlen = sizeof(err);
	for (size_t i = 0; i < n->inet.n; i++)
		if (n->inet.chains[i].hook == HOOK_PREROUTING)
			fwd = &n->inet.chains[i];
	struct nrule *r = fwd ? rule_add(&c, fwd) : NULL;
	if (r == NULL)
		return -ENOMEM;
	r->v = V_JUMP;
	snprintf(r->target, sizeof(r->target), "no_such_chain");
	snprintf(r->comment, sizeof(r->comment), "broken on purpose");
	r->what = "the rule broken on purpose (HVNET_NFT_TEST_BREAK)";
	return 0;
}

/* ---- printing: nft syntax ---- */

static const char *const icmp_names[] = {
	[0] = "echo-reply",	      [3] = "destination-unreachable",
	[4] = "source-quench",	      [5] = "redirect",
	[8] = "echo-request",	      [9] = "router-advertisement",
	[10] = "router-solicitation", [11] = "time-exceeded",
	[12] = "parameter-problem",   [13] = "timestamp-request",
	[14] = "timestamp-reply",     [15] = "info-request",
	[16] = "info-reply",	      [17] = "address-mask-request",
	[18] = "address-mask-reply",
};

static const char *
icmp6_name(int t)
{
	switch (t) {
	case 1:
		return "destination-unreachable";
	case 2:
		return "packet-too-big";
	case 3:
		return "time-exceeded";
	case 4:
		return "parameter-problem";
	case 128:
		return "echo-request";
	case 129:
		return "echo-reply";
	case 130:
		return "mld-listener-query";
	case 131:
		return "mld-listener-report";
	case 132:
		return "mld-listener-done";
	case 133:
		return "nd-router-solicit";
	case 134:
		return "nd-router-advert";
	case 135:
		return "nd-neighbor-solicit";
	case 136:
		return "nd-neighbor-advert";
	case 137:
		return "nd-redirect";
	case 138:
		return "router-renumbering";
	case 141:
		return "ind-neighbor-solicit";
	case 142:
		return "ind-neighbor-advert";
	case 143:
		return "mld2-listener-report";
	}
	return NULL;
}

/* ICMPv6 types that bypass the policy, as in hvnetd: MLD and ND */
static const uint8_t nd_bypass_types[] = {130, 131, 132, 133, 134, 135, 136, 137, 143};

static void
print_proto(FILE *f, uint8_t p)
{
	/* nft names protocols from the protocol database, as getprotobynumber does */
	struct protoent *pe = getprotobynumber(p);

	if (pe)
		fprintf(f, "%s", pe->p_name);
	else
		fprintf(f, "%u", p);
}

static void
print_match(FILE *f, const struct match *m)
{
	char buf[64];

	switch (m->kind) {
	case M_IIFNAME:
		fprintf(f, "iifname \"%s\"", m->ifname);
		break;
	case M_OIFNAME:
		fprintf(f, "oifname \"%s\"", m->ifname);
		break;
	case M_ETHER_DADDR:
		fprintf(f, "ether daddr %02x:%02x:%02x:%02x:%02x:%02x", m->mac[0], m->mac[1],
			m->mac[2], m->mac[3], m->mac[4], m->mac[5]);
		break;
	case M_NFPROTO:
		fprintf(f, "meta nfproto %s", m->family == 4 ? "ipv4" : "ipv6");
		break;
	case M_ADDR:
		hv_prefix_format(&m->prefix, buf, sizeof(buf));
		fprintf(f, "%s %s %s", m->family == 4 ? "ip" : "ip6", m->dst ? "daddr" : "saddr",
			buf);
		break;
	case M_ADDR_SET:
		fprintf(f, "%s %s ", m->family == 4 ? "ip" : "ip6", m->dst ? "daddr" : "saddr");
		if (m->set[0]) {
			fprintf(f, "@%s", m->set);
		} else {
			fputs("{ ", f);
			for (size_t i = 0; i < m->n_elems; i++) {
				hv_prefix_format(&m->addrs[i], buf, sizeof(buf));
				fprintf(f, "%s%s", i ? ", " : "", buf);
			}
			fputs(" }", f);
		}
		break;
	case M_DPORT_SET:
		fprintf(f, "%s dport ", m->proto == HV_PROTO_TCP ? "tcp" : "udp");
		if (m->set[0]) {
			fprintf(f, "@%s", m->set);
		} else {
			fputs("{ ", f);
			for (size_t i = 0; i < m->n_elems; i++)
				fprintf(f, "%s%u", i ? ", " : "", m->ports[i]);
			fputs(" }", f);
		}
		break;
	case M_L4PROTO:
		fputs("meta l4proto ", f);
		print_proto(f, m->proto);
		break;
	case M_DPORT:
		fprintf(f, "%s dport %u", m->proto == HV_PROTO_TCP ? "tcp" : "udp", m->lo);
		if (m->hi != m->lo)
			fprintf(f, "-%u", m->hi);
		break;
	case M_ICMP_TYPE: {
		const char *name = NULL;
		if (m->family == 4 && m->type < (int)(sizeof(icmp_names) / sizeof(icmp_names[0])))
			name = icmp_names[m->type];
		else if (m->family == 6)
			name = icmp6_name(m->type);
		fprintf(f, "%s type ", m->family == 4 ? "icmp" : "icmpv6");
		if (name)
			fputs(name, f);
		else
			fprintf(f, "%d", m->type);
		break;
	}
	case M_CT_STATE: {
		static const struct {
			uint32_t bit;
			const char *name;
		} st[] = {
			{CT_INVALID, "invalid"},
			{CT_ESTABLISHED, "established"},
			{CT_RELATED, "related"},
			{CT_NEW, "new"},
		};
		const char *sep = "";
		fputs("ct state ", f);
		for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
			if (m->bits & st[i].bit) {
				fprintf(f, "%s%s", sep, st[i].name);
				sep = ",";
			}
		break;
	}
	case M_TCP_NOT_SYN:
		fputs("tcp flags != syn / fin,syn,rst,ack", f);
		break;
	case M_ND_BYPASS:
		fputs("icmpv6 type { ", f);
		for (size_t i = 0; i < sizeof(nd_bypass_types); i++)
			fprintf(f, "%s%s", i ? ", " : "", icmp6_name(nd_bypass_types[i]));
		fputs(" }", f);
		break;
	case M_ETHER_NOT_IP:
		fputs("ether type != { ip, arp, ip6 }", f);
		break;
	case M_MARK_ALL:
		fprintf(f, "meta mark & 0x%08x == 0x%08x", m->bits, m->bits);
		break;
	case M_MARK_ANY:
		fprintf(f, "meta mark & 0x%08x != 0x00000000", m->bits);
		break;
	}
}

static void
print_rule(FILE *f, const struct nrule *r)
{
	const char *sep = "";

	fputs("\t\t", f);
	for (unsigned i = 0; i < r->n_m; i++) {
		fputs(sep, f);
		print_match(f, &r->m[i]);
		sep = " ";
	}
	if (r->mark_or) {
		fprintf(f, "%smeta mark set meta mark | 0x%08x", sep, r->mark_or);
		sep = " ";
	}
	if (r->limit) {
		fprintf(f, "%slimit rate %u/second", sep, r->rate);
		if (r->burst != 5) /* nft's default, which it does not print */
			fprintf(f, " burst %u packets", r->burst);
		sep = " ";
	}
	if (r->log) {
		fprintf(f, "%slog prefix \"%s\"", sep, r->prefix);
		if (r->log_group)
			fprintf(f, " group %u", r->log_group);
		sep = " ";
	}
	if (r->dup) {
		fprintf(f, "%sdup to %s device \"%s\"", sep,
			r->dup == 4 ? HV_NFT_MIRROR_HOP4 : HV_NFT_MIRROR_HOP6, r->dup_dev);
		sep = " ";
	}
	switch (r->v) {
	case V_NONE:
		break;
	case V_ACCEPT:
		fprintf(f, "%saccept", sep);
		break;
	case V_DROP:
		fprintf(f, "%sdrop", sep);
		break;
	case V_JUMP:
		fprintf(f, "%sjump %s", sep, r->target);
		break;
	case V_REJECT_TCP:
		fprintf(f, "%sreject with tcp reset", sep);
		break;
	case V_REJECT_PORT:
		fprintf(f, "%sreject", sep);
		break;
	case V_REJECT_ADMIN:
		fprintf(f, "%sreject with icmpx admin-prohibited", sep);
		break;
	}
	if (r->comment[0])
		fprintf(f, " comment \"%s\"", r->comment);
	fputc('\n', f);
}

/* a named set as nft lists it, line breaks included: nft puts two IPv4
 * addresses, five ports or one IPv6 address on a line */
static void
print_set(FILE *f, const struct nset *s)
{
	char buf[64];
	unsigned per_line = s->kind == 'p' ? 5 : s->kind == 4 ? 2 : 1, count = 0;

	fprintf(f, "\tset %s {\n\t\ttype %s\n\t\telements = { ", s->name,
		s->kind == 'p' ? "inet_service"
		: s->kind == 4 ? "ipv4_addr"
			       : "ipv6_addr");
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			fputs(count == 0 ? ",\n\t\t\t     " : ", ", f);
		if (s->kind == 'p') {
			fprintf(f, "%u", s->ports[i]);
		} else {
			hv_prefix_format(&s->addrs[i], buf, sizeof(buf));
			fputs(buf, f);
		}
		if (++count >= per_line)
			count = 0;
	}
	fputs(" }\n\t}\n", f);
}

static const char *
family_name(int family)
{
	switch (family) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	default:
		return "bridge";
	}
}

static void
print_table(FILE *f, const struct ntable *t, const char *name, const struct hv_nft *n)
{
	bool first = true;

	fprintf(f, "table %s %s {\n", family_name(t->family), name);
	for (size_t i = 0; t->family == NFPROTO_INET && i < n->n_sets; i++) {
		if (!first)
			fputc('\n', f);
		print_set(f, &n->sets[i]);
		first = false;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct nchain *ch = &t->chains[i];
		if (!first)
			fputc('\n', f);
		first = false;
		fprintf(f, "\tchain %s {\n", ch->name);
		if (ch->hook != HOOK_NONE) {
			fprintf(f, "\t\ttype filter hook %s priority filter",
				ch->hook == HOOK_PREROUTING ? "prerouting"
				: ch->hook == HOOK_FORWARD  ? "forward"
							    : "input");
			if (ch->prio)
				fprintf(f, " %c %d", ch->prio > 0 ? '+' : '-',
					ch->prio > 0 ? ch->prio : -ch->prio);
			fputs("; policy accept;\n", f);
		}
		for (size_t k = 0; k < ch->n; k++)
			print_rule(f, &ch->rules[k]);
		fputs("\t}\n", f);
	}
	fputs("}\n", f);
}

void
hv_nft_print(FILE *f, const struct hv_nft *n)
{
	/* in the batch's order, which is the kernel's listing order */
	print_table(f, &n->inet, n->table, n);
	if (n->has_bridge)
		print_table(f, &n->bridge, n->table, n);
	if (n->has_mirror) {
		print_table(f, &n->ip4, n->table, n);
		print_table(f, &n->ip6, n->table, n);
	}
}

/* ---- building: libnftnl objects into one batch ---- */

struct batch {
	char *buf;
	size_t len, cap;
	uint32_t seq, seq0;
	const char **what; /* per seq - seq0: what the message creates */
	size_t n_what, cap_what;
	uint32_t set_id;   /* transaction-wide set ids */
	uint32_t anon_idx; /* the kernel names anonymous sets __setN from 0 per table */
	const struct hv_nft *n;
	uint32_t *named_ids;	 /* per hv_nft.sets */
	const unsigned *ifindex; /* per hv_nft.dup_ports, in the target namespace */
	int err;
};

/* one message's worth of scratch; the largest we build is a small set */
#define MSG_MAX 16384

static char *
batch_reserve(struct batch *b, const char *what)
{
	if (b->err)
		return NULL;
	if (b->cap - b->len < MSG_MAX) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		while (cap - b->len < MSG_MAX)
			cap *= 2;
		char *v = realloc(b->buf, cap);
		if (v == NULL) {
			b->err = -ENOMEM;
			return NULL;
		}
		memset(v + b->len, 0, cap - b->len);
		b->buf = v;
		b->cap = cap;
	}
	if (b->n_what == b->cap_what) {
		size_t cap = b->cap_what ? b->cap_what * 2 : 64;
		const char **v = realloc(b->what, cap * sizeof(*v));
		if (v == NULL) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->what = v;
		b->cap_what = cap;
	}
	b->what[b->n_what++] = what;
	return b->buf + b->len;
}

static void
batch_commit_msg(struct batch *b, struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_len > MSG_MAX) /* cannot happen with our sizes; never send it */
		b->err = -EMSGSIZE;
	b->len += MNL_ALIGN(nlh->nlmsg_len);
	b->seq++;
}

static void
put_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void
put_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void
put_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_rule_add_expr(r, e);
}

static void
put_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint8_t zero[16] = {0};

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	nftnl_rule_add_expr(r, e);
}

static void
put_u8_cmp(struct nftnl_rule *r, uint32_t op, uint8_t v)
{
	put_cmp(r, op, &v, 1);
}

static void
put_nfproto(struct nftnl_rule *r, uint8_t family)
{
	put_meta(r, NFT_META_NFPROTO);
	put_u8_cmp(r, NFT_CMP_EQ, family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
}

static void
put_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	put_meta(r, NFT_META_L4PROTO);
	put_u8_cmp(r, NFT_CMP_EQ, proto);
}

/* an anonymous constant set of KEYLEN-byte keys, sent before the rule */
/* a set of KEYLEN-byte keys, sent before the rules that use it: NAMED, or
 * anonymous and constant (then its kernel name goes to NAME_OUT) */
static int
put_set(struct batch *b, const char *table, int family, const char *named, uint32_t key_type,
	uint32_t key_len, const void *keys, size_t n_keys, const char *what, char *name_out,
	size_t name_len, uint32_t *id_out)
{
	struct nftnl_set *s = nftnl_set_alloc();
	char *buf;
	struct nlmsghdr *nlh;

	if (s == NULL)
		return -ENOMEM;
	uint32_t id = ++b->set_id;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	if (named) {
		snprintf(name_out, name_len, "%s", named);
		nftnl_set_set_str(s, NFTNL_SET_NAME, named);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	} else {
		snprintf(name_out, name_len, "__set%u", b->anon_idx++);
		nftnl_set_set_str(s, NFTNL_SET_NAME, "__set%d");
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
	}
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, (uint32_t)family);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	for (size_t i = 0; i < n_keys; i++) {
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();
		if (el == NULL) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, (const char *)keys + i * key_len,
				   key_len);
		nftnl_set_elem_add(s, el);
	}
	if ((buf = batch_reserve(b, what)) == NULL) {
		nftnl_set_free(s);
		return b->err;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, (uint16_t)family, NLM_F_CREATE | NLM_F_ACK,
				    b->seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	batch_commit_msg(b, nlh);
	if ((buf = batch_reserve(b, what)) == NULL) {
		nftnl_set_free(s);
		return b->err;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, (uint16_t)family,
				    NLM_F_CREATE | NLM_F_ACK, b->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_commit_msg(b, nlh);
	nftnl_set_free(s);
	*id_out = id;
	return b->err;
}

static void
put_lookup(struct nftnl_rule *r, const char *set, uint32_t id, bool invert)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
	if (invert)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	nftnl_rule_add_expr(r, e);
}

/* keys of an address or port list in network order, as the kernel compares them */
static uint8_t *
keys_of(const struct hv_prefix *addrs, const uint16_t *ports, size_t n, uint32_t *key_len)
{
	uint32_t len = addrs ? (addrs[0].family == 4 ? 4 : 16) : 2;
	uint8_t *k = calloc(n ? n : 1, len);

	if (k == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (addrs) {
			memcpy(k + i * len, addrs[i].a, len);
		} else {
			uint16_t v = htons(ports[i]);
			memcpy(k + i * len, &v, 2);
		}
	}
	*key_len = len;
	return k;
}

static uint32_t
named_set_id(const struct batch *b, const char *name)
{
	for (size_t i = 0; i < b->n->n_sets; i++)
		if (strcmp(b->n->sets[i].name, name) == 0)
			return b->named_ids[i];
	return 0;
}

/* the lookup of a M_ADDR_SET or M_DPORT_SET: the named set, or a new anonymous one */
static int
put_list_lookup(struct batch *b, const char *table, int family, struct nftnl_rule *r,
		const struct match *m, const char *what)
{
	char setname[NFT_CHAIN_NAME_MAX];
	uint32_t id, key_len;
	int rc;

	if (m->set[0]) {
		put_lookup(r, m->set, named_set_id(b, m->set), false);
		return 0;
	}
	uint8_t *keys =
		keys_of(m->kind == M_ADDR_SET ? m->addrs : NULL, m->ports, m->n_elems, &key_len);
	if (keys == NULL)
		return -ENOMEM;
	uint32_t type = m->kind == M_DPORT_SET ? NFT_TYPE_INET_SERVICE
			: m->family == 4       ? NFT_TYPE_IPADDR
					       : NFT_TYPE_IP6ADDR;
	rc = put_set(b, table, family, NULL, type, key_len, keys, m->n_elems, what, setname,
		     sizeof(setname), &id);
	free(keys);
	if (rc == 0)
		put_lookup(r, setname, id, false);
	return rc;
}

static int
build_match(struct batch *b, const char *table, int family, struct nftnl_rule *r,
	    const struct match *m, bool *nfproto_done, const char *what)
{
	char setname[32];
	uint32_t id;
	int rc;

	switch (m->kind) {
	case M_IIFNAME:
	case M_OIFNAME: {
		char name[HV_NFT_IFNAMSIZ] = {0};
		memcpy(name, m->ifname, strnlen(m->ifname, HV_NFT_IFNAMSIZ - 1));
		put_meta(r, m->kind == M_IIFNAME ? NFT_META_IIFNAME : NFT_META_OIFNAME);
		put_cmp(r, NFT_CMP_EQ, name, sizeof(name));
		break;
	}
	case M_ETHER_DADDR: {
		/* what nft emits for `ether daddr` outside the bridge family: the
		 * link header is Ethernet only when the input device's type says so */
		uint16_t ether = 1; /* ARPHRD_ETHER */
		put_meta(r, NFT_META_IIFTYPE);
		put_cmp(r, NFT_CMP_EQ, &ether, sizeof(ether));
		put_payload(r, NFT_PAYLOAD_LL_HEADER, 0, 6);
		put_cmp(r, NFT_CMP_EQ, m->mac, 6);
		break;
	}
	case M_NFPROTO:
		put_nfproto(r, m->family);
		*nfproto_done = true;
		break;
	case M_ADDR: {
		uint32_t alen = m->family == 4 ? 4 : 16;
		uint32_t base_off = m->family == 4 ? (m->dst ? 16 : 12) : (m->dst ? 24 : 8);
		uint32_t bytes = (m->prefix.plen + 7) / 8;
		if (!*nfproto_done) {
			put_nfproto(r, m->family);
			*nfproto_done = true;
		}
		if (bytes > alen)
			bytes = alen;
		put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, base_off, bytes);
		if (m->prefix.plen % 8) {
			uint8_t mask[16] = {0};
			for (uint32_t i = 0; i < m->prefix.plen; i++)
				mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			put_bitwise(r, mask, bytes);
		}
		put_cmp(r, NFT_CMP_EQ, m->prefix.a, bytes);
		break;
	}
	case M_ADDR_SET:
		if (!*nfproto_done) {
			put_nfproto(r, m->family);
			*nfproto_done = true;
		}
		put_payload(r, NFT_PAYLOAD_NETWORK_HEADER,
			    m->family == 4 ? (m->dst ? 16 : 12) : (m->dst ? 24 : 8),
			    m->family == 4 ? 4 : 16);
		return put_list_lookup(b, table, family, r, m, what);
	case M_DPORT_SET:
		put_l4proto(r, m->proto);
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
		return put_list_lookup(b, table, family, r, m, what);
	case M_L4PROTO:
		put_l4proto(r, m->proto);
		break;
	case M_DPORT: {
		uint16_t lo = htons(m->lo), hi = htons(m->hi);
		put_l4proto(r, m->proto);
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
		if (m->lo == m->hi) {
			put_cmp(r, NFT_CMP_EQ, &lo, 2);
		} else {
			put_cmp(r, NFT_CMP_GTE, &lo, 2);
			put_cmp(r, NFT_CMP_LTE, &hi, 2);
		}
		break;
	}
	case M_ICMP_TYPE:
		if (!*nfproto_done) {
			put_nfproto(r, m->family);
			*nfproto_done = true;
		}
		put_l4proto(r, m->family == 4 ? HV_PROTO_ICMP : HV_PROTO_ICMPV6);
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		put_u8_cmp(r, NFT_CMP_EQ, (uint8_t)m->type);
		break;
	case M_CT_STATE: {
		struct nftnl_expr *e = nftnl_expr_alloc("ct");
		uint32_t zero = 0;
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		nftnl_rule_add_expr(r, e);
		put_bitwise(r, &m->bits, 4);
		put_cmp(r, NFT_CMP_NEQ, &zero, 4);
		break;
	}
	case M_TCP_NOT_SYN: {
		uint8_t mask = 0x17, syn = 0x02; /* fin|syn|rst|ack, syn */
		put_l4proto(r, HV_PROTO_TCP);
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
		put_bitwise(r, &mask, 1);
		put_u8_cmp(r, NFT_CMP_NEQ, syn);
		break;
	}
	case M_ND_BYPASS:
		rc = put_set(b, table, family, NULL, NFT_TYPE_ICMP6_TYPE, 1, nd_bypass_types,
			     sizeof(nd_bypass_types), what, setname, sizeof(setname), &id);
		if (rc < 0)
			return rc;
		put_nfproto(r, 6);
		put_l4proto(r, HV_PROTO_ICMPV6);
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		put_lookup(r, setname, id, false);
		break;
	case M_MARK_ALL:
	case M_MARK_ANY: {
		uint32_t zero = 0;
		put_meta(r, NFT_META_MARK);
		put_bitwise(r, &m->bits, 4);
		if (m->kind == M_MARK_ALL)
			put_cmp(r, NFT_CMP_EQ, &m->bits, 4);
		else
			put_cmp(r, NFT_CMP_NEQ, &zero, 4);
		break;
	}
	case M_ETHER_NOT_IP: {
		/* network order, ascending, as nft lists them */
		uint16_t types[3] = {htons(0x0800), htons(0x0806), htons(0x86dd)};
		rc = put_set(b, table, family, NULL, NFT_TYPE_ETHERTYPE, 2, types, 3, what, setname,
			     sizeof(setname), &id);
		if (rc < 0)
			return rc;
		put_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2);
		put_lookup(r, setname, id, true);
		break;
	}
	}
	return 0;
}

static int
build_rule(struct batch *b, const char *table, int family, const char *chain,
	   const struct nrule *nr)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	bool nfproto_done = false;
	struct nlmsghdr *nlh;
	char *buf;
	int rc;

	if (r == NULL)
		return -ENOMEM;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	for (unsigned i = 0; i < nr->n_m; i++)
		if ((rc = build_match(b, table, family, r, &nr->m[i], &nfproto_done, nr->what)) < 0)
			goto out;
	if (nr->mark_or) {
		/* meta mark set meta mark | BIT */
		uint32_t mask = ~nr->mark_or;
		struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
		put_meta(r, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &nr->mark_or, 4);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("meta");
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
		nftnl_rule_add_expr(r, e);
	}
	if (nr->dup) {
		/* the device by ifindex, which the kernel needs at load time */
		uint32_t ifindex = 0;
		for (size_t i = 0; i < b->n->n_dup_ports; i++)
			if (strcmp(b->n->dup_ports[i], nr->dup_dev) == 0)
				ifindex = b->ifindex ? b->ifindex[i] : 0;
		if (ifindex == 0) {
			rc = -ENODEV;
			goto out;
		}
		static const uint8_t hop4[4] = {169, 254, 68, 76}; /* HV_NFT_MIRROR_HOP4 */
		static const uint8_t hop6[16] = {0xfe, 0x80, [14] = 0x68, 0x76};
		struct nftnl_expr *e = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, nr->dup == 4 ? hop4 : hop6,
			       nr->dup == 4 ? 4 : 16);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &ifindex, 4);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("dup");
		nftnl_expr_set_u32(e, NFTNL_EXPR_DUP_SREG_ADDR, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DUP_SREG_DEV, NFT_REG_2);
		nftnl_rule_add_expr(r, e);
	}
	if (nr->limit) {
		struct nftnl_expr *e = nftnl_expr_alloc("limit");
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, nr->rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, nr->burst);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
		nftnl_rule_add_expr(r, e);
	}
	if (nr->log) {
		struct nftnl_expr *e = nftnl_expr_alloc("log");
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, nr->prefix);
		/* a group (NFLOG, to a netlink listener) and a level (the kernel
		 * log) exclude each other */
		if (nr->log_group)
			nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, nr->log_group);
		else
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_LEVEL, 4); /* warning: nft's default */
		nftnl_rule_add_expr(r, e);
	}
	switch (nr->v) {
	case V_NONE:
		break;
	case V_ACCEPT:
	case V_DROP:
	case V_JUMP: {
		struct nftnl_expr *e = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
				   nr->v == V_ACCEPT ? NF_ACCEPT
				   : nr->v == V_DROP ? NF_DROP
						     : (uint32_t)NFT_JUMP);
		if (nr->v == V_JUMP)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, nr->target);
		nftnl_rule_add_expr(r, e);
		break;
	}
	case V_REJECT_TCP:
	case V_REJECT_PORT:
	case V_REJECT_ADMIN: {
		struct nftnl_expr *e = nftnl_expr_alloc("reject");
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE,
				   nr->v == V_REJECT_TCP ? NFT_REJECT_TCP_RST
							 : NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE,
				  nr->v == V_REJECT_TCP	   ? 0
				  : nr->v == V_REJECT_PORT ? NFT_REJECT_ICMPX_PORT_UNREACH
							   : NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		nftnl_rule_add_expr(r, e);
		break;
	}
	}
	if (nr->comment[0]) {
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
		if (ud == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, nr->comment);
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
				    nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	if ((buf = batch_reserve(b, nr->what)) == NULL) {
		rc = b->err;
		goto out;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, (uint16_t)family,
				    NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, b->seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_commit_msg(b, nlh);
	rc = b->err;
out:
	nftnl_rule_free(r);
	return rc;
}

static int
build_table_msg(struct batch *b, const char *table, int family, uint16_t type, const char *what)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char *buf;
	struct nlmsghdr *nlh;

	if (t == NULL)
		return -ENOMEM;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, (uint32_t)family);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	if ((buf = batch_reserve(b, what)) == NULL) {
		nftnl_table_free(t);
		return b->err;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, type, (uint16_t)family,
				    (type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0) | NLM_F_ACK,
				    b->seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_commit_msg(b, nlh);
	nftnl_table_free(t);
	return b->err;
}

static int
build_table(struct batch *b, const struct ntable *t, const char *table, bool present)
{
	const char *fam = t->family == NFPROTO_INET   ? "table inet"
			  : t->family == NFPROTO_IPV4 ? "table ip"
			  : t->family == NFPROTO_IPV6 ? "table ip6"
						      : "table bridge";
	const char *fam_del = t->family == NFPROTO_INET	  ? "table inet (delete)"
			      : t->family == NFPROTO_IPV4 ? "table ip (delete)"
			      : t->family == NFPROTO_IPV6 ? "table ip6 (delete)"
							  : "table bridge (delete)";
	int rc;

	/* add (so that delete cannot fail on a missing table), delete, and
	 * add again: the transaction replaces whatever was there */
	rc = build_table_msg(b, table, t->family, NFT_MSG_NEWTABLE, fam);
	if (rc == 0)
		rc = build_table_msg(b, table, t->family, NFT_MSG_DELTABLE, fam_del);
	if (rc < 0 || !present)
		return rc;
	if ((rc = build_table_msg(b, table, t->family, NFT_MSG_NEWTABLE, fam)) < 0)
		return rc;
	b->anon_idx = 0;
	for (size_t i = 0; t->family == NFPROTO_INET && i < b->n->n_sets; i++) {
		const struct nset *ns = &b->n->sets[i];
		char setname[NFT_CHAIN_NAME_MAX];
		uint32_t key_len;
		uint8_t *keys =
			keys_of(ns->kind == 'p' ? NULL : ns->addrs, ns->ports, ns->n, &key_len);
		if (keys == NULL)
			return -ENOMEM;
		uint32_t type = ns->kind == 'p' ? NFT_TYPE_INET_SERVICE
				: ns->kind == 4 ? NFT_TYPE_IPADDR
						: NFT_TYPE_IP6ADDR;
		rc = put_set(b, table, t->family, ns->name, type, key_len, keys, ns->n,
			     "a named set", setname, sizeof(setname), &b->named_ids[i]);
		free(keys);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct nchain *ch = &t->chains[i];
		struct nftnl_chain *c = nftnl_chain_alloc();
		char *buf;
		struct nlmsghdr *nlh;

		if (c == NULL)
			return -ENOMEM;
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, (uint32_t)t->family);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, ch->name);
		if (ch->hook != HOOK_NONE) {
			/* inet: prerouting, where br_netfilter's bridged
			 * packets can still be answered with a TCP reset;
			 * forward and input for a lab's gateways */
			uint32_t hooknum = 2; /* NF_BR_FORWARD */
			if (t->family != NFPROTO_BRIDGE)
				hooknum = ch->hook == HOOK_PREROUTING ? NF_INET_PRE_ROUTING
					  : ch->hook == HOOK_FORWARD  ? NF_INET_FORWARD
								      : NF_INET_LOCAL_IN;
			nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hooknum);
			/* "filter": 0 in inet, -200 in bridge */
			nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO,
					    t->family == NFPROTO_BRIDGE ? -200 : ch->prio);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		}
		if ((buf = batch_reserve(b, "a chain")) == NULL) {
			nftnl_chain_free(c);
			return b->err;
		}
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, (uint16_t)t->family,
					    NLM_F_CREATE | NLM_F_ACK, b->seq);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_commit_msg(b, nlh);
		nftnl_chain_free(c);
		if (b->err)
			return b->err;
	}
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < t->chains[i].n; k++)
			if ((rc = build_rule(b, table, t->family, t->chains[i].name,
					     &t->chains[i].rules[k])) < 0)
				return rc;
	return 0;
}

static int
batch_build(struct batch *b, const struct hv_nft *n, bool end)
{
	char *buf;
	int rc;

	b->seq = b->seq0 = (uint32_t)time(NULL);
	b->n = n;
	b->named_ids = calloc(n->n_sets + 1, sizeof(*b->named_ids));
	if (b->named_ids == NULL)
		return -ENOMEM;
	if ((buf = batch_reserve(b, "the batch start")) == NULL)
		return b->err;
	batch_commit_msg(b, nftnl_batch_begin(buf, b->seq));
	if ((rc = build_table(b, &n->inet, n->table, true)) < 0)
		return rc;
	/* the bridge table of an earlier apply goes even when this one has none */
	if ((rc = build_table(b, &n->bridge, n->table, n->has_bridge)) < 0)
		return rc;
	/* the mirrors' tables, only where the ruleset has mirrors: a plain
	 * policy leaves the namespace's ip and ip6 tables alone */
	if (n->has_mirror && ((rc = build_table(b, &n->ip4, n->table, true)) < 0 ||
			      (rc = build_table(b, &n->ip6, n->table, true)) < 0))
		return rc;
	/* without the end message the kernel validates everything and aborts
	 * (nfnetlink's NFNL_ABORT_VALIDATE): a check that commits nothing */
	if (end) {
		if ((buf = batch_reserve(b, "the batch end (commit)")) == NULL)
			return b->err;
		batch_commit_msg(b, nftnl_batch_end(buf, b->seq));
	}
	return b->err;
}

/* ---- the netlink conversation ---- */

/*
 * The nf_tables socket of namespace NETNS (NULL: the caller's). A socket
 * belongs to the namespace it was made in, whichever thread uses it later,
 * so a short-lived thread enters the namespace and makes it: the calling
 * thread never changes namespace.
 */
struct sock_job {
	const char *netns;
	const struct hv_nft *n;
	unsigned *ifindex; /* out: of n's mirror ports, in NETNS */
	struct mnl_socket *nl;
	int rc;
	char *err;
	size_t errlen;
};

static void *
sock_job_run(void *arg)
{
	struct sock_job *j = arg;
	char path[512];

	if (j->netns) {
		if (strchr(j->netns, '/'))
			snprintf(path, sizeof(path), "%s", j->netns);
		else
			snprintf(path, sizeof(path), "/run/netns/%s", j->netns);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			j->rc = -errno;
			snprintf(j->err, j->errlen, "network namespace %s (%s): %s%s", j->netns,
				 path, strerror(-j->rc),
				 j->rc == -ENOENT ? "; create it with ip netns add, or give a path"
						  : "");
			return NULL;
		}
		if (setns(fd, CLONE_NEWNET) < 0) {
			j->rc = -errno;
			close(fd);
			snprintf(j->err, j->errlen, "cannot enter network namespace %s: %s",
				 j->netns, strerror(-j->rc));
			return NULL;
		}
		close(fd);
	}
	/* the mirror ports' ifindex, which the kernel needs at load time, in
	 * the namespace the ruleset goes to */
	for (size_t i = 0; i < j->n->n_dup_ports; i++) {
		j->ifindex[i] = if_nametoindex(j->n->dup_ports[i]);
		if (j->ifindex[i] == 0) {
			j->rc = -ENODEV;
			snprintf(j->err, j->errlen,
				 "mirror port %s: no such interface in network namespace %s",
				 j->n->dup_ports[i], j->netns ? j->netns : "of hvnetctl");
			return NULL;
		}
	}
	j->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (j->nl == NULL || mnl_socket_bind(j->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		j->rc = -errno;
		if (j->nl)
			mnl_socket_close(j->nl);
		j->nl = NULL;
		snprintf(j->err, j->errlen, "netlink socket (nf_tables): %s%s", strerror(-j->rc),
			 j->rc == -EPERM ? "; run as root (CAP_NET_ADMIN)" : "");
	}
	return NULL;
}

static struct mnl_socket *
nft_socket_open(const struct hv_nft *n, unsigned *ifindex, const char *netns, int *rc, char *err,
		size_t errlen)
{
	struct sock_job j = {
		.netns = netns, .n = n, .ifindex = ifindex, .err = err, .errlen = errlen};
	pthread_t th;
	int e;

	if (netns == NULL) {
		sock_job_run(&j);
	} else if ((e = pthread_create(&th, NULL, sock_job_run, &j)) != 0) {
		j.rc = -e;
		snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
	} else {
		pthread_join(th, NULL);
	}
	*rc = j.rc;
	return j.nl;
}

int
hv_nft_commit(const struct hv_nft *n, enum hv_nft_commit_mode mode, const char *netns, char *err,
	      size_t errlen)
{
	struct batch b = {0};
	struct mnl_socket *nl = NULL;
	unsigned *ifindex = NULL;
	int rc;
	char rbuf[MNL_SOCKET_BUFFER_SIZE];

	if (err && errlen)
		err[0] = 0;
	ifindex = calloc(n->n_dup_ports + 1, sizeof(*ifindex));
	if (ifindex == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((nl = nft_socket_open(n, ifindex, netns, &rc, err, errlen)) == NULL)
		goto out;
	b.ifindex = ifindex;
	rc = batch_build(&b, n, mode == HV_NFT_APPLY);
	if (rc < 0) {
		snprintf(err, errlen, "building the netlink batch: %s", strerror(-rc));
		goto out;
	}

	/* the batch goes in one sendmsg; the replies must fit in the receive
	 * buffer: one ack per message */
	int sz = (int)(b.len + 65536), rsz = (int)(b.n_what * 64 + 65536);
	int fd = mnl_socket_get_fd(nl);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rsz, sizeof(rsz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rsz, sizeof(rsz));
	if (mnl_socket_sendto(nl, b.buf, b.len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "sending the batch (%zu bytes): %s", b.len, strerror(-rc));
		goto out;
	}
	/* nfnetlink handles the batch inside sendmsg: every answer is queued
	 * by now. One ack per message that asked for it; an error names the
	 * message by its sequence number. */
	size_t acks = 0, want = 0;
	for (size_t i = 0; i < b.n_what; i++)
		want++;
	want -= 1 + (mode == HV_NFT_APPLY); /* batch begin and end ask for none */
	rc = 0;
	for (;;) {
		ssize_t len = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			rc = -errno;
			snprintf(err, errlen, "reading the kernel's answer: %s%s", strerror(-rc),
				 rc == -ENOBUFS ? " (too many answers for the socket buffer)" : "");
			break;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		size_t left = (size_t)len;
		while (mnl_nlmsg_ok(nlh, (int)left)) {
			if (nlh->nlmsg_type == NLMSG_ERROR &&
			    nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct nlmsgerr))) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (e->error == 0) {
					acks++;
				} else if (rc == 0) {
					uint32_t s = e->msg.nlmsg_seq - b.seq0;
					rc = e->error;
					snprintf(err, errlen, "the kernel refused %s: %s",
						 s < b.n_what && b.what[s] ? b.what[s]
									   : "the batch",
						 strerror(-rc));
				}
			}
			nlh = mnl_nlmsg_next(nlh, (int *)&left);
		}
	}
	if (rc == 0 && acks < want) {
		rc = -EPROTO;
		snprintf(
			err, errlen,
			"the kernel acknowledged %zu of %zu messages: the ruleset may not be in force",
			acks, want);
	}
out:
	if (nl)
		mnl_socket_close(nl);
	free(b.buf);
	free(b.what);
	free(b.named_ids);
	free(ifindex);
	return rc;
}
