/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parser: tokens into the AST of lang.h, by recursive descent.
 *
 * On an error the parser reports it and resynchronises at the next end of
 * statement (newline or ';') or at the '}' that closes the block it is in,
 * so that one run reports every error of a file (up to HV_DIAG_MAX).
 * Names are not resolved here; that is the checker's job (check.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "internal.h"

struct parser {
	struct lexer lx;
	size_t pos;
	struct hv_diags *d;
	struct hv_prog *prog;
	const char *const *incstack; /* realpaths of the files being read */
	unsigned incdepth;
	bool allow_include;
	unsigned depth; /* brace nesting */
	size_t nfiles;
};

static const char *const reserved[] = {
	"any", "tcp",	  "udp", "icmp", "icmpv6", "segment", "guest",
	"set", "service", "log", "from", "port",   "nic",
};

static const struct tok *
peek(struct parser *p)
{
	return &p->lx.toks[p->pos];
}

static const struct tok *
peek2(struct parser *p)
{
	return p->pos + 1 < p->lx.n ? &p->lx.toks[p->pos + 1] : &p->lx.toks[p->lx.n - 1];
}

static const struct tok *
next(struct parser *p)
{
	const struct tok *t = &p->lx.toks[p->pos];
	if (t->kind != T_EOF)
		p->pos++;
	return t;
}

static bool
is_word(const struct tok *t, const char *w)
{
	return t->kind == T_WORD && strcmp(t->text, w) == 0;
}

static bool
accept_word(struct parser *p, const char *w)
{
	if (is_word(peek(p), w)) {
		next(p);
		return true;
	}
	return false;
}

static void
skip_nl(struct parser *p)
{
	while (peek(p)->kind == T_NL)
		next(p);
}

/* report "expected WHAT, found X" at the current token */
static void
expected(struct parser *p, const char *what, const char *hint)
{
	char buf[64];
	const struct tok *t = peek(p);

	if (t->kind == T_ERROR)
		return; /* the lexer has said it */
	hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, hint, "expected %s, found %s", what,
		    hv_tok_desc(t, buf, sizeof(buf)));
}

/*
 * Skip to the end of the current statement: past the next end of line at
 * this brace depth, or up to (not past) the '}' that closes this block.
 */
static void
sync_stmt(struct parser *p)
{
	int depth = 0;

	for (;;) {
		const struct tok *t = peek(p);
		if (t->kind == T_EOF)
			return;
		if (t->kind == T_LBRACE) {
			depth++;
		} else if (t->kind == T_RBRACE) {
			if (depth == 0)
				return;
			depth--;
			if (depth == 0) {
				next(p);
				return;
			}
		} else if (t->kind == T_NL && depth == 0) {
			next(p);
			return;
		}
		next(p);
	}
}

/* the end of a statement: a newline, ';', or the '}' of the block (not consumed) */
static bool
end_stmt(struct parser *p)
{
	const struct tok *t = peek(p);

	if (t->kind == T_NL) {
		next(p);
		return true;
	}
	if (t->kind == T_RBRACE || t->kind == T_EOF)
		return true;
	expected(p, "end of line or ';'", NULL);
	sync_stmt(p);
	return false;
}

static bool
take_name(struct parser *p, const char *what, char **name, struct hv_loc *loc)
{
	const struct tok *t = peek(p);

	if (t->kind != T_WORD || !hv_name_valid(t->text)) {
		char w[80];
		snprintf(w, sizeof(w), "a %s name", what);
		expected(
			p, w,
			"names start with a letter or '_' and hold letters, digits, '_', '-', '.'");
		return false;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcmp(t->text, reserved[i]) == 0) {
			hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, "choose another name",
				    "'%s' is a reserved word and cannot name a %s", t->text, what);
			next(p);
			return false;
		}
	}
	*name = hv_strdup(t->text);
	if (loc)
		*loc = t->loc;
	next(p);
	return true;
}

static bool
take_ref(struct parser *p, const char *what, struct hv_ref *r)
{
	return take_name(p, what, &r->name, &r->loc);
}

/* push a reference onto VEC, popping it again when the name is bad */
#define PUSH_REF(p, what, vec) (take_ref((p), (what), VEC_PUSH(vec)) || ((vec)->n--, false))

static bool
take_u32(struct parser *p, const char *what, uint32_t min, uint32_t max, uint32_t *v)
{
	const struct tok *t = peek(p);
	uint32_t x;

	if (t->kind != T_WORD || !hv_parse_u32(t->text, &x) || x < min || x > max) {
		char w[96];
		snprintf(w, sizeof(w), "%s (a number %u-%u)", what, min, max);
		expected(p, w, NULL);
		return false;
	}
	*v = x;
	next(p);
	return true;
}

static bool
take_prefix(struct parser *p, const char *what, bool host_only, bool want_len,
	    struct hv_loc_prefix *lp)
{
	const struct tok *t = peek(p);
	bool host_bits;

	if (t->kind != T_WORD || !hv_prefix_parse(t->text, &lp->p, &host_bits)) {
		expected(p, what, "an IPv4 or IPv6 address, with /LEN for a prefix");
		return false;
	}
	lp->loc = t->loc;
	if (host_only && strchr(t->text, '/') != NULL && !want_len) {
		hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, "write the address without /LEN",
			    "expected %s, found the prefix '%s'", what, t->text);
		next(p);
		return false;
	}
	if (want_len) {
		/* an interface address: keep the host bits, remember the length */
		bool hb;
		struct hv_prefix full;
		char buf[64];
		const char *slash = strchr(t->text, '/');
		size_t n = slash ? (size_t)(slash - t->text) : strlen(t->text);
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, t->text, n);
		buf[n] = '\0';
		hv_prefix_parse(buf, &full, &hb);
		uint8_t plen = lp->p.plen;
		lp->p = full;
		lp->p.plen = plen;
	} else if (host_bits) {
		char fixed[64];
		hv_prefix_format(&lp->p, fixed, sizeof(fixed));
		char *hint = hv_asprintf("did you mean '%s'?", fixed);
		hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, hint,
			    "prefix '%s' has bits set after its length", t->text);
		free(hint);
		next(p);
		return false;
	}
	next(p);
	return true;
}

/* { a, b, c } or a, b, c: calls ITEM for each; newlines allowed inside braces */
static bool
list(struct parser *p, bool (*item)(struct parser *, void *), void *arg)
{
	bool ok = true;

	if (peek(p)->kind == T_LBRACE) {
		next(p);
		skip_nl(p);
		while (peek(p)->kind != T_RBRACE) {
			if (peek(p)->kind == T_EOF) {
				expected(p, "'}' to close the list", NULL);
				return false;
			}
			if (!item(p, arg)) {
				/* skip to the next ',' or '}' */
				while (peek(p)->kind != T_COMMA && peek(p)->kind != T_RBRACE &&
				       peek(p)->kind != T_EOF)
					next(p);
				ok = false;
			}
			skip_nl(p);
			if (peek(p)->kind == T_COMMA) {
				next(p);
				skip_nl(p);
			} else if (peek(p)->kind != T_RBRACE) {
				expected(p, "',' or '}'", NULL);
				while (peek(p)->kind != T_RBRACE && peek(p)->kind != T_EOF)
					next(p);
				ok = false;
			}
		}
		next(p);
		return ok;
	}
	for (;;) {
		if (!item(p, arg))
			return false;
		if (peek(p)->kind != T_COMMA)
			return true;
		next(p);
		skip_nl(p); /* a trailing comma continues the list on the next line */
	}
}

/* ---- blocks ---- */

typedef bool (*item_fn)(struct parser *p, const struct tok *kw, void *obj);

/* '{' items '}' where each item starts with a keyword from KEYWORDS */
static void
block(struct parser *p, const char *what, const char *const *keywords, size_t nkw, item_fn fn,
      void *obj)
{
	if (peek(p)->kind != T_LBRACE) {
		char w[64];
		snprintf(w, sizeof(w), "'{' to open the %s", what);
		expected(p, w, NULL);
		sync_stmt(p);
		return;
	}
	struct hv_loc open = peek(p)->loc;
	next(p);
	if (++p->depth > HV_LANG_MAX_NESTING) {
		hv_diag_add(p->d, HV_DIAG_ERROR, open, NULL, "blocks nested deeper than %d",
			    HV_LANG_MAX_NESTING);
		p->depth--;
		return;
	}
	for (;;) {
		skip_nl(p);
		const struct tok *t = peek(p);
		if (t->kind == T_RBRACE) {
			next(p);
			break;
		}
		if (t->kind == T_EOF) {
			char w[64];
			snprintf(w, sizeof(w), "'}' to close the %s opened at line %u", what,
				 open.line);
			expected(p, w, NULL);
			break;
		}
		if (t->kind != T_WORD) {
			char w[64];
			snprintf(w, sizeof(w), "a %s setting", what);
			expected(p, w, NULL);
			sync_stmt(p);
			continue;
		}
		size_t k;
		for (k = 0; k < nkw; k++)
			if (strcmp(t->text, keywords[k]) == 0)
				break;
		if (k == nkw) {
			const char *near = hv_closest(t->text, keywords, nkw);
			char *hint = near ? hv_asprintf("did you mean '%s'?", near) : NULL;
			if (hint == NULL) {
				size_t len = 0;
				char lst[512];
				for (size_t j = 0; j < nkw && len < sizeof(lst) - 40; j++)
					len += (size_t)snprintf(lst + len, sizeof(lst) - len,
								"%s%s", j ? ", " : "", keywords[j]);
				hint = hv_asprintf("a %s takes: %s", what, lst);
			}
			hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, hint, "unknown %s setting '%s'",
				    what, t->text);
			free(hint);
			sync_stmt(p);
			continue;
		}
		next(p);
		if (fn(p, t, obj))
			end_stmt(p);
		else
			sync_stmt(p);
	}
	p->depth--;
}

static void
dup_setting(struct parser *p, const struct tok *kw)
{
	hv_diag_add(p->d, HV_DIAG_ERROR, kw->loc, "keep one of them", "'%s' is set twice",
		    kw->text);
}

/* segment */

static bool
subnet_item(struct parser *p, void *arg)
{
	struct hv_segment *s = arg;
	struct hv_loc_prefix lp;

	if (!take_prefix(p, "a subnet prefix", false, false, &lp))
		return false;
	*VEC_PUSH(&s->subnets) = lp;
	return true;
}

static bool
gateway_item(struct parser *p, void *arg)
{
	struct hv_segment *s = arg;
	struct hv_loc_prefix lp;

	if (!take_prefix(p, "a gateway address", true, false, &lp))
		return false;
	*VEC_PUSH(&s->gateways) = lp;
	return true;
}

static const char *const seg_kw[] = {"class",	   "vni",	"subnet", "gateway",
				     "conn-limit", "mac-limit", "mtu",	  "router-advertisements"};

static bool
seg_item(struct parser *p, const struct tok *kw, void *obj)
{
	struct hv_segment *s = obj;
	const char *k = kw->text;

	if (strcmp(k, "class") == 0) {
		static const char *const cls[] = {"management", "infrastructure", "application"};
		const struct tok *t = peek(p);
		if (s->cls != HV_CLASS_NONE)
			dup_setting(p, kw);
		for (int i = 0; i < 3; i++) {
			if (is_word(t, cls[i])) {
				s->cls = (enum hv_seg_class)(i + 1);
				next(p);
				return true;
			}
		}
		const char *near = t->kind == T_WORD ? hv_closest(t->text, cls, 3) : NULL;
		char *hint = near ? hv_asprintf("did you mean '%s'?", near) : NULL;
		expected(p, "a class: management, infrastructure or application", hint);
		free(hint);
		return false;
	}
	if (strcmp(k, "vni") == 0) {
		if (s->has_vni)
			dup_setting(p, kw);
		if (!take_u32(p, "a VNI", 1, (1u << 24) - 1, &s->vni))
			return false;
		s->has_vni = true;
		return true;
	}
	if (strcmp(k, "subnet") == 0)
		return list(p, subnet_item, s);
	if (strcmp(k, "gateway") == 0)
		return list(p, gateway_item, s);
	if (strcmp(k, "conn-limit") == 0)
		return take_u32(p, "a connection limit", 1, UINT32_MAX, &s->conn_limit);
	if (strcmp(k, "mac-limit") == 0)
		return take_u32(p, "a MAC limit", 1, UINT32_MAX, &s->mac_limit);
	if (strcmp(k, "router-advertisements") == 0) {
		/* a flag: the segment's IPv6 gateway advertises itself */
		if (s->router_adv)
			dup_setting(p, kw);
		s->router_adv = true;
		s->router_adv_loc = kw->loc;
		return true;
	}
	return take_u32(p, "an MTU", 576, 9000, &s->mtu);
}

/* service */

static bool
svc_elem(struct parser *p, void *arg)
{
	struct hv_service *s = arg;
	const struct tok *t = peek(p);
	struct hv_svc_item it;
	const char *err = NULL;

	if (t->kind == T_WORD && hv_parse_svc_item(t->text, &it, &err)) {
		it.loc = t->loc;
		*VEC_PUSH(&s->items) = it;
		next(p);
		return true;
	}
	if (t->kind == T_WORD && strchr(t->text, '/') == NULL && hv_name_valid(t->text)) {
		struct hv_ref *r = VEC_PUSH(&s->uses);
		r->name = hv_strdup(t->text);
		r->loc = t->loc;
		next(p);
		return true;
	}
	expected(
		p,
		"a service item such as tcp/22, udp/1024-2048, icmp/echo-request, or a service name",
		err);
	return false;
}

/* set */

static bool
set_elem(struct parser *p, void *arg)
{
	struct hv_set *s = arg;
	struct hv_loc_prefix lp;

	if (peek(p)->kind == T_AT) {
		next(p);
		return PUSH_REF(p, "set", &s->uses);
	}
	if (!take_prefix(p, "an address, a prefix or @SET", false, false, &lp))
		return false;
	*VEC_PUSH(&s->members) = lp;
	return true;
}

/* guest */

static bool
ip_item(struct parser *p, void *arg)
{
	struct hv_nic *n = arg;
	struct hv_loc_prefix lp;

	if (!take_prefix(p, "an interface address ADDR/LEN", false, true, &lp))
		return false;
	*VEC_PUSH(&n->ips) = lp;
	return true;
}

static const char *const nic_kw[] = {"segment", "mac", "ip", "mtu", "conn-limit"};

static bool
nic_item(struct parser *p, const struct tok *kw, void *obj)
{
	struct hv_nic *n = obj;
	const char *k = kw->text;

	if (strcmp(k, "segment") == 0) {
		if (n->segment.name)
			dup_setting(p, kw);
		free(n->segment.name);
		n->segment.name = NULL;
		return take_ref(p, "segment", &n->segment);
	}
	if (strcmp(k, "mac") == 0) {
		const struct tok *t = peek(p);
		if (t->kind != T_WORD || !hv_parse_mac(t->text, n->mac)) {
			expected(p, "a MAC address such as 52:54:00:12:34:56", NULL);
			return false;
		}
		if (n->mac[0] & 1) {
			hv_diag_add(
				p->d, HV_DIAG_ERROR, t->loc,
				"the first octet must be even; 52:54:00:... is the usual prefix for guests",
				"MAC '%s' is a multicast address", t->text);
			next(p);
			return false;
		}
		n->has_mac = true;
		n->mac_loc = t->loc;
		next(p);
		return true;
	}
	if (strcmp(k, "ip") == 0)
		return list(p, ip_item, n);
	if (strcmp(k, "conn-limit") == 0)
		return take_u32(p, "a connection limit", 1, UINT32_MAX, &n->conn_limit);
	return take_u32(p, "an MTU", 576, 9000, &n->mtu);
}

static const char *const guest_kw[] = {"kind", "memory", "cpus", "image", "nic"};

static bool
guest_item(struct parser *p, const struct tok *kw, void *obj)
{
	struct hv_guest *g = obj;
	const char *k = kw->text;
	const struct tok *t = peek(p);

	if (strcmp(k, "kind") == 0) {
		static const char *const kinds[] = {"netns", "qemu"};
		if (g->has_kind)
			dup_setting(p, kw);
		for (int i = 0; i < 2; i++) {
			if (is_word(t, kinds[i])) {
				g->kind = (enum hv_guest_kind)i;
				g->has_kind = true;
				next(p);
				return true;
			}
		}
		const char *near = t->kind == T_WORD ? hv_closest(t->text, kinds, 2) : NULL;
		char *hint = near ? hv_asprintf("did you mean '%s'?", near) : NULL;
		expected(p, "a guest kind: netns or qemu", hint);
		free(hint);
		return false;
	}
	if (strcmp(k, "memory") == 0) {
		if (t->kind != T_WORD || !hv_parse_size(t->text, &g->memory) ||
		    g->memory < (16u << 20)) {
			expected(p, "a memory size of at least 16M, such as 256M or 1G", NULL);
			return false;
		}
		next(p);
		return true;
	}
	if (strcmp(k, "cpus") == 0)
		return take_u32(p, "a CPU count", 1, 256, &g->cpus);
	if (strcmp(k, "image") == 0) {
		if (t->kind != T_STRING) {
			expected(p, "the image path as a string", NULL);
			return false;
		}
		free(g->image);
		g->image = hv_strdup(t->text);
		next(p);
		return true;
	}
	/* nic NAME { ... } */
	struct hv_nic *n = VEC_PUSH(&g->nics);
	if (!take_name(p, "NIC", &n->name, &n->loc)) {
		g->nics.n--;
		return false;
	}
	block(p, "nic", nic_kw, sizeof(nic_kw) / sizeof(nic_kw[0]), nic_item, n);
	return true;
}

/* policy */

static bool
svc_ref_or_item(struct parser *p, void *arg)
{
	struct hv_rule *r = arg;
	const struct tok *t = peek(p);
	struct hv_svc_item it;
	const char *err = NULL;

	if (t->kind == T_WORD && hv_parse_svc_item(t->text, &it, &err)) {
		it.loc = t->loc;
		*VEC_PUSH(&r->inline_svc) = it;
		next(p);
		return true;
	}
	if (t->kind == T_WORD && strchr(t->text, '/') == NULL && hv_name_valid(t->text))
		return PUSH_REF(p, "service", &r->services);
	expected(p, "a service name or an item such as tcp/22", err);
	return false;
}

/* does T begin the service part of a rule (after the destination)? */
static bool
starts_svc(const struct tok *t)
{
	struct hv_svc_item it;
	const char *err;
	struct hv_prefix pfx;

	if (t->kind != T_WORD)
		return false;
	if (is_word(t, "service"))
		return true;
	if (is_word(t, "any") || hv_prefix_parse(t->text, &pfx, NULL))
		return false;
	return hv_parse_svc_item(t->text, &it, &err);
}

/*
 * port NAME: the switch port a packet came in on. NAME is an hvnetd port
 * name (docs/control.md), which may start with a digit. nic GUEST.NIC: the
 * port of that NIC of the file's guest (the checker resolves it). Only the
 * source has either: the classifier runs before the egress port is known.
 */
static bool
port_term(struct parser *p, struct hv_term *term, bool is_from)
{
	const struct tok *kw = next(p), *t = peek(p);
	const bool nic = term->kind == HV_TERM_NIC;

	if (!is_from) {
		hv_diag_add(
			p->d, HV_DIAG_ERROR, kw->loc,
			"write the port on the source side; name the destination by segment, guest or address",
			"a destination cannot be a port: the firewall decides before the port a packet leaves by is known");
		if (t->kind == T_WORD)
			next(p);
		return false;
	}
	if (nic) {
		if (t->kind != T_WORD || !hv_name_valid(t->text) || strchr(t->text, '.') == NULL) {
			expected(p, "GUEST.NIC",
				 "a guest of this file and one of its nics, such as web1.eth0");
			return false;
		}
	} else if (t->kind != T_WORD || !hv_port_name_valid(t->text)) {
		expected(
			p, "a port name",
			"a port name has 1-31 letters, digits, '-', '_' or '.', as hvnetctl port list shows it");
		return false;
	}
	term->ref.name = hv_strdup(t->text);
	term->ref.loc = t->loc;
	next(p);
	return true;
}

static bool
endpoint(struct parser *p, struct hv_endpoint *e, bool is_from)
{
	e->loc = peek(p)->loc;
	if (accept_word(p, "any"))
		return true == (e->any = true);
	for (;;) {
		const struct tok *t = peek(p);
		struct hv_term *term;

		if (t->kind == T_NL || t->kind == T_RBRACE || t->kind == T_EOF ||
		    t->kind == T_ARROW || (!is_from && starts_svc(t)))
			break;
		term = VEC_PUSH(&e->terms);
		if (t->kind == T_AT) {
			next(p);
			term->kind = HV_TERM_SET;
			if (!take_ref(p, "set", &term->ref)) {
				e->terms.n--;
				return false;
			}
		} else if (is_word(t, "port") || is_word(t, "nic")) {
			term->kind = is_word(t, "port") ? HV_TERM_PORT : HV_TERM_NIC;
			if (!port_term(p, term, is_from)) {
				e->terms.n--;
				return false;
			}
		} else if (is_word(t, "segment") || is_word(t, "guest") || is_word(t, "set")) {
			term->kind = is_word(t, "segment") ? HV_TERM_SEGMENT
				     : is_word(t, "guest") ? HV_TERM_GUEST
							   : HV_TERM_SET;
			next(p);
			if (!take_ref(p,
				      term->kind == HV_TERM_SEGMENT ? "segment"
				      : term->kind == HV_TERM_GUEST ? "guest"
								    : "set",
				      &term->ref)) {
				e->terms.n--;
				return false;
			}
		} else if (t->kind == T_WORD && hv_prefix_parse(t->text, &term->prefix, NULL)) {
			struct hv_loc_prefix lp;
			term->kind = HV_TERM_PREFIX;
			term->ref.loc = t->loc;
			if (!take_prefix(p, "an address or prefix", false, false, &lp)) {
				e->terms.n--;
				return false;
			}
			term->prefix = lp.p;
		} else if (t->kind == T_WORD && hv_name_valid(t->text)) {
			term->kind = HV_TERM_NAME;
			term->ref.name = hv_strdup(t->text);
			term->ref.loc = t->loc;
			next(p);
		} else {
			e->terms.n--;
			expected(
				p,
				is_from ? "a source (segment, guest, @set, address, port or any) or '->'"
					: "a destination (segment, guest, @set, address or any), a service, or end of line",
				NULL);
			return false;
		}
	}
	if (e->terms.n == 0) {
		expected(p,
			 is_from ? "a source: any, a segment, a guest, @set, an address or a port"
				 : "a destination: any, a segment, a guest, @set or an address",
			 NULL);
		return false;
	}
	return true;
}

static bool
log_clause(struct parser *p, struct hv_rule *r)
{
	if (!accept_word(p, "log"))
		return true;
	r->log = true;
	if (accept_word(p, "rate")) {
		const struct tok *t = peek(p);
		const char *slash = t->kind == T_WORD ? strchr(t->text, '/') : NULL;
		uint32_t n;
		char num[16];
		if (slash == NULL || (size_t)(slash - t->text) >= sizeof(num)) {
			expected(p, "a rate such as 10/s or 100/m", NULL);
			return false;
		}
		memcpy(num, t->text, (size_t)(slash - t->text));
		num[slash - t->text] = '\0';
		if (!hv_parse_u32(num, &n) || n == 0 ||
		    (strcmp(slash, "/s") != 0 && strcmp(slash, "/m") != 0)) {
			expected(p, "a rate such as 10/s or 100/m", NULL);
			return false;
		}
		/* per minute rounds up to a per-second rate with a burst of the minute's count */
		if (strcmp(slash, "/m") == 0) {
			r->log_rate = (n + 59) / 60;
			r->log_burst = n;
		} else {
			r->log_rate = n;
		}
		next(p);
	}
	if (accept_word(p, "burst")) {
		if (!take_u32(p, "a burst", 1, 1000000, &r->log_burst))
			return false;
	}
	return true;
}

static bool
action(struct parser *p, struct hv_rule *r)
{
	static const char *const acts[] = {"allow", "block", "reject"};
	const struct tok *t = peek(p);

	for (int i = 0; i < 3; i++) {
		if (is_word(t, acts[i])) {
			r->action = (enum hv_action)i;
			next(p);
			return true;
		}
	}
	static const char *const cands[] = {"allow", "block", "reject", "default",
					    "drop",  "deny",  "accept"};
	const char *near = t->kind == T_WORD ? hv_closest(t->text, cands, 7) : NULL;
	char *hint = NULL;
	if (near && (strcmp(near, "drop") == 0 || strcmp(near, "deny") == 0))
		hint = hv_strdup("hvnet says 'block' for a silent drop and 'reject' to answer");
	else if (near && strcmp(near, "accept") == 0)
		hint = hv_strdup("hvnet says 'allow'");
	else if (near)
		hint = hv_asprintf("did you mean '%s'?", near);
	expected(p, "a rule: allow, block, reject or default", hint);
	free(hint);
	return false;
}

static void
set_rule_id(struct hv_rule *r)
{
	if (r->label)
		r->id = hv_strdup(r->label);
	else
		r->id = hv_asprintf("%s:%u", hv_src_path(r->loc.src), r->loc.line);
}

static bool
rule(struct parser *p, struct hv_policy *pol)
{
	const struct tok *t = peek(p);
	struct hv_rule r = {0};

	r.loc = t->loc;
	/* label: allow ... */
	if (t->kind == T_WORD && t->text[0] && t->text[strlen(t->text) - 1] == ':' &&
	    peek2(p)->kind == T_WORD) {
		char *lab = hv_strndup(t->text, strlen(t->text) - 1);
		if (!hv_name_valid(lab)) {
			hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, NULL,
				    "'%s' is not a valid rule name", lab);
			free(lab);
			return false;
		}
		r.label = lab;
		next(p);
	}
	if (accept_word(p, "default")) {
		r.is_default = true;
		if (pol->has_default) {
			hv_diag_add(p->d, HV_DIAG_ERROR, r.loc, "keep one default",
				    "the policy already has a default (line %u)",
				    pol->dflt.loc.line);
			free(r.label);
			return false;
		}
		if (!action(p, &r) || !log_clause(p, &r)) {
			free(r.label);
			return false;
		}
		set_rule_id(&r);
		pol->dflt = r;
		pol->has_default = true;
		return true;
	}
	if (pol->has_default) {
		hv_diag_add(p->d, HV_DIAG_ERROR, r.loc, "move the default to the end of the policy",
			    "a rule after the default can never match");
		/* parse on for more errors, but drop the rule */
	}
	struct hv_rule *rp = VEC_PUSH(&pol->rules);
	*rp = r;
	rp->broken = true; /* until the whole rule has parsed */
	set_rule_id(rp);
	if (!action(p, rp) || !log_clause(p, rp))
		return false;
	accept_word(p, "from");
	rp->has_from = true;
	if (!endpoint(p, &rp->from, true))
		return false;
	if (peek(p)->kind != T_ARROW) {
		expected(p, "'->' between source and destination", NULL);
		return false;
	}
	next(p);
	rp->has_to = true;
	if (!endpoint(p, &rp->to, false))
		return false;
	if (accept_word(p, "service") || starts_svc(peek(p))) {
		if (!list(p, svc_ref_or_item, rp))
			return false;
	}
	rp->broken = pol->has_default; /* a rule after the default is an error already */
	return true;
}

static void
policy_block(struct parser *p, struct hv_policy *pol)
{
	if (peek(p)->kind != T_LBRACE) {
		expected(p, "'{' to open the policy", NULL);
		sync_stmt(p);
		return;
	}
	struct hv_loc open = next(p)->loc;
	for (;;) {
		skip_nl(p);
		const struct tok *t = peek(p);
		if (t->kind == T_RBRACE) {
			next(p);
			return;
		}
		if (t->kind == T_EOF) {
			char w[64];
			snprintf(w, sizeof(w), "'}' to close the policy opened at line %u",
				 open.line);
			expected(p, w, NULL);
			return;
		}
		if ((is_word(t, "log-file") || is_word(t, "log-pcapng")) &&
		    peek2(p)->kind == T_STRING) {
			char **dst = is_word(t, "log-file") ? &pol->log_file : &pol->log_pcapng;
			const struct tok *kw = next(p), *v = next(p);

			if (*dst != NULL)
				hv_diag_add(p->d, HV_DIAG_ERROR, kw->loc, NULL,
					    "'%s' is set twice in this policy", kw->text);
			else if (v->text[0] == '\0')
				hv_diag_add(p->d, HV_DIAG_ERROR, v->loc, NULL,
					    "'%s' needs a file name", kw->text);
			else
				*dst = hv_strdup(v->text);
			end_stmt(p);
			continue;
		}
		if (rule(p, pol))
			end_stmt(p);
		else
			sync_stmt(p);
	}
}

/* mirror */

static bool
select_item(struct parser *p, void *arg)
{
	struct hv_mirror *m = arg;
	const struct tok *t = peek(p);

	if (accept_word(p, "segment"))
		return PUSH_REF(p, "segment", &m->segments);
	if (accept_word(p, "port"))
		return PUSH_REF(p, "port", &m->ports);
	if (accept_word(p, "direction")) {
		t = peek(p);
		if (is_word(t, "ingress") || is_word(t, "in"))
			m->dir = HV_DIR_INGRESS;
		else if (is_word(t, "egress") || is_word(t, "out"))
			m->dir = HV_DIR_EGRESS;
		else if (is_word(t, "both"))
			m->dir = HV_DIR_BOTH;
		else {
			expected(p, "a direction: ingress, egress or both", NULL);
			return false;
		}
		next(p);
		return true;
	}
	if (accept_word(p, "verdict")) {
		t = peek(p);
		if (is_word(t, "allowed") || is_word(t, "allow"))
			m->verdict = HV_VERDICT_ALLOWED;
		else if (is_word(t, "blocked") || is_word(t, "block"))
			m->verdict = HV_VERDICT_BLOCKED;
		else if (is_word(t, "any"))
			m->verdict = HV_VERDICT_ANY;
		else {
			expected(p, "a verdict: allowed, blocked or any", NULL);
			return false;
		}
		next(p);
		return true;
	}
	static const char *const sel[] = {"segment", "port", "direction", "verdict"};
	const char *near = t->kind == T_WORD ? hv_closest(t->text, sel, 4) : NULL;
	char *hint = near ? hv_asprintf("did you mean '%s'?", near) : NULL;
	expected(p, "a selection: segment NAME, port NAME, direction D or verdict V", hint);
	free(hint);
	return false;
}

static bool
dest(struct parser *p, struct hv_mirror *m)
{
	const struct tok *t = peek(p);
	struct hv_mirror_dest *d = VEC_PUSH(&m->dests);

	d->loc = t->loc;
	if (accept_word(p, "pcap")) {
		d->kind = HV_DEST_PCAP;
		if (peek(p)->kind != T_STRING) {
			expected(p, "the capture file as a string", NULL);
			return false;
		}
		d->path = hv_strdup(next(p)->text);
		for (;;) {
			t = peek(p);
			if (accept_word(p, "rotate")) {
				t = peek(p);
				if (t->kind != T_WORD || !hv_parse_size(t->text, &d->rotate_size) ||
				    d->rotate_size < 4096) {
					expected(p, "a file size of at least 4K, such as 64M",
						 NULL);
					return false;
				}
				next(p);
			} else if (accept_word(p, "every")) {
				t = peek(p);
				if (t->kind != T_WORD ||
				    !hv_parse_duration(t->text, &d->rotate_secs) ||
				    d->rotate_secs == 0) {
					expected(p, "a duration such as 30s, 5m or 1h", NULL);
					return false;
				}
				next(p);
			} else if (accept_word(p, "keep")) {
				if (!take_u32(p, "a number of files", 1, 100000, &d->keep))
					return false;
			} else {
				return true;
			}
		}
	}
	if (accept_word(p, "port")) {
		d->kind = HV_DEST_PORT;
		if (!take_name(p, "port", &d->port, NULL))
			return false;
		for (;;) {
			if (accept_word(p, "netns")) {
				if (!take_name(p, "namespace", &d->netns, NULL))
					return false;
			} else if (accept_word(p, "vlan-tag")) {
				d->vlan_tag = true;
			} else {
				return true;
			}
		}
	}
	if (accept_word(p, "remote")) {
		struct hv_loc_prefix lp;
		d->kind = HV_DEST_REMOTE;
		if (!take_prefix(p, "the collector's address", true, false, &lp))
			return false;
		d->remote = lp.p;
		if (accept_word(p, "vxlan")) {
			return take_u32(p, "a VNI", 1, (1u << 24) - 1, &d->remote_id);
		} else if (accept_word(p, "erspan")) {
			d->erspan = true;
			return take_u32(p, "an ERSPAN session id", 0, 1023, &d->remote_id);
		}
		expected(p, "the encapsulation: vxlan VNI or erspan ID", NULL);
		return false;
	}
	m->dests.n--;
	expected(p, "a destination: pcap \"FILE\", port NAME or remote ADDRESS", NULL);
	return false;
}

static const char *const mirror_kw[] = {"select", "filter", "tap", "snaplen", "sample", "to"};

static bool
mirror_item(struct parser *p, const struct tok *kw, void *obj)
{
	struct hv_mirror *m = obj;
	const char *k = kw->text;
	const struct tok *t = peek(p);

	if (strcmp(k, "select") == 0)
		return list(p, select_item, m);
	if (strcmp(k, "filter") == 0) {
		if (t->kind != T_STRING) {
			expected(p, "a tcpdump filter as a string, such as \"tcp port 5432\"",
				 NULL);
			return false;
		}
		free(m->filter);
		m->filter = hv_strdup(t->text);
		m->filter_loc = t->loc;
		next(p);
		return true;
	}
	if (strcmp(k, "tap") == 0) {
		if (is_word(t, "wire"))
			m->tap_delivered = false;
		else if (is_word(t, "delivered"))
			m->tap_delivered = true;
		else {
			expected(p, "a tap point: wire or delivered", NULL);
			return false;
		}
		next(p);
		return true;
	}
	if (strcmp(k, "snaplen") == 0)
		return take_u32(p, "a snap length", 64, 65535, &m->snaplen);
	if (strcmp(k, "sample") == 0) {
		/* "sample 10" or "sample 1/10": one packet in ten */
		if (t->kind == T_WORD && strncmp(t->text, "1/", 2) == 0 &&
		    hv_parse_u32(t->text + 2, &m->sample) && m->sample >= 1 &&
		    m->sample <= 1u << 30) {
			next(p);
			return true;
		}
		return take_u32(p, "a sampling rate N (one packet in N)", 1, 1u << 30, &m->sample);
	}
	return dest(p, m);
}

/* overlay */

static bool
peer_seg(struct parser *p, void *arg)
{
	struct hv_peer *peer = arg;
	return PUSH_REF(p, "segment", &peer->segments);
}

static const char *const overlay_kw[] = {"local", "dev",	  "port", "ttl",
					 "learn", "udp-checksum", "peer"};

/* yes or no, into *V */
static bool
take_yes_no(struct parser *p, bool *v)
{
	if (accept_word(p, "yes"))
		*v = true;
	else if (accept_word(p, "no"))
		*v = false;
	else {
		expected(p, "yes or no", NULL);
		return false;
	}
	return true;
}

static bool
overlay_item(struct parser *p, const struct tok *kw, void *obj)
{
	struct hv_overlay *o = obj;
	const char *k = kw->text;
	struct hv_loc_prefix lp;

	if (strcmp(k, "local") == 0) {
		if (o->has_local)
			dup_setting(p, kw);
		if (!take_prefix(p, "the local VTEP address", true, false, &lp))
			return false;
		o->local = lp.p;
		o->has_local = true;
		if (accept_word(p, "dev")) {
			free(o->dev);
			o->dev = NULL;
			return take_name(p, "device", &o->dev, NULL);
		}
		return true;
	}
	if (strcmp(k, "dev") == 0) {
		free(o->dev);
		o->dev = NULL;
		return take_name(p, "device", &o->dev, NULL);
	}
	if (strcmp(k, "port") == 0) {
		uint32_t v;
		if (!take_u32(p, "a UDP port", 1, 65535, &v))
			return false;
		o->port = (uint16_t)v;
		return true;
	}
	if (strcmp(k, "ttl") == 0) {
		uint32_t v;
		if (!take_u32(p, "a TTL", 1, 255, &v))
			return false;
		o->ttl = (uint8_t)v;
		return true;
	}
	if (strcmp(k, "learn") == 0)
		return take_yes_no(p, &o->learn);
	if (strcmp(k, "udp-checksum") == 0)
		return take_yes_no(p, &o->udp_csum);
	struct hv_peer *peer = VEC_PUSH(&o->peers);
	if (!take_prefix(p, "a peer VTEP address", true, false, &lp)) {
		o->peers.n--;
		return false;
	}
	peer->addr = lp.p;
	peer->loc = lp.loc;
	if (accept_word(p, "segment"))
		return list(p, peer_seg, peer);
	return true;
}

/* ---- top level ---- */

static void parse_src(struct parser *p, struct hv_src *src);

static char *
include_path(const struct hv_src *from, const char *name)
{
	if (name[0] == '/' || from->real == NULL)
		return hv_strdup(name);
	const char *slash = strrchr(from->path, '/');
	if (slash == NULL)
		return hv_strdup(name);
	return hv_asprintf("%.*s/%s", (int)(slash - from->path), from->path, name);
}

static struct hv_src *
load_src(struct parser *p, const char *path, struct hv_loc at, bool top)
{
	struct hv_src *src;
	FILE *f;
	struct stat st;

	f = fopen(path, "r");
	if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		if (top)
			hv_diag_add(p->d, HV_DIAG_ERROR, at, NULL, "cannot read %s: %s", path,
				    f ? "not a regular file" : strerror(errno));
		else
			hv_diag_add(p->d, HV_DIAG_ERROR, at,
				    "the path is relative to the including file",
				    "cannot include \"%s\": %s", path,
				    f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	if ((uint64_t)st.st_size > HV_LANG_MAX_FILE) {
		hv_diag_add(p->d, HV_DIAG_ERROR, at, NULL, "%s is larger than %u MiB", path,
			    HV_LANG_MAX_FILE >> 20);
		fclose(f);
		return NULL;
	}
	src = hv_xcalloc(1, sizeof(*src));
	src->path = hv_strdup(path);
	src->real = realpath(path, NULL);
	src->text = hv_xcalloc((size_t)st.st_size + 1, 1);
	src->len = fread(src->text, 1, (size_t)st.st_size, f);
	fclose(f);
	return src;
}

static void
add_src(struct parser *p, struct hv_src *src)
{
	struct hv_src **pp = &p->prog->srcs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = src;
	p->nfiles++;
}

static bool
already_read(struct parser *p, const char *real)
{
	for (const struct hv_src *s = p->prog->srcs; s; s = s->next)
		if (s->real && strcmp(s->real, real) == 0)
			return true;
	return false;
}

static void
do_include(struct parser *p, const struct tok *kw)
{
	const struct tok *t = peek(p);

	if (t->kind != T_STRING) {
		expected(p, "the file to include, as a string", NULL);
		sync_stmt(p);
		return;
	}
	next(p);
	if (!p->allow_include) {
		hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, NULL, "include is not allowed here");
		end_stmt(p);
		return;
	}
	char *path = include_path(p->lx.src, t->text);
	char *real = realpath(path, NULL);
	if (real != NULL) {
		for (unsigned i = 0; i < p->incdepth; i++) {
			if (strcmp(p->incstack[i], real) == 0) {
				char chain[1024];
				size_t len = 0;
				for (unsigned j = i; j < p->incdepth && len < sizeof(chain) - 64;
				     j++) {
					const char *b = strrchr(p->incstack[j], '/');
					len += (size_t)snprintf(chain + len, sizeof(chain) - len,
								"%s -> ",
								b ? b + 1 : p->incstack[j]);
				}
				const char *b = strrchr(real, '/');
				snprintf(chain + len, sizeof(chain) - len, "%s", b ? b + 1 : real);
				char *hint = hv_asprintf("the chain is %s", chain);
				hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, hint,
					    "include loop: \"%s\" is already being read", t->text);
				free(hint);
				goto out;
			}
		}
		if (already_read(p, real))
			goto out; /* each file is read once, like #pragma once */
	}
	if (p->incdepth >= HV_LANG_MAX_INCLUDE) {
		hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, NULL, "includes nested deeper than %d",
			    HV_LANG_MAX_INCLUDE);
		goto out;
	}
	if (p->nfiles >= HV_LANG_MAX_FILES) {
		hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, NULL, "more than %d files included",
			    HV_LANG_MAX_FILES);
		goto out;
	}
	struct hv_src *src = load_src(p, path, t->loc, false);
	if (src != NULL) {
		struct parser sub = *p;
		const char *stack[HV_LANG_MAX_INCLUDE + 1];
		memcpy(stack, p->incstack, p->incdepth * sizeof(*stack));
		stack[p->incdepth] = src->real ? src->real : src->path;
		sub.incstack = stack;
		sub.incdepth = p->incdepth + 1;
		sub.pos = 0;
		memset(&sub.lx, 0, sizeof(sub.lx));
		add_src(p, src);
		parse_src(&sub, src);
		p->nfiles = sub.nfiles;
	}
out:
	(void)kw;
	free(real);
	free(path);
	end_stmt(p);
}

static void
statement(struct parser *p)
{
	const struct tok *t = peek(p);
	struct hv_prog *g = p->prog;

	if (t->kind != T_WORD) {
		expected(
			p,
			"a statement (segment, service, set, guest, policy, mirror, overlay, include)",
			NULL);
		sync_stmt(p);
		return;
	}
	if (accept_word(p, "include")) {
		do_include(p, t);
	} else if (accept_word(p, "segment")) {
		struct hv_segment *s = VEC_PUSH(&g->segments);
		if (!take_name(p, "segment", &s->name, &s->loc)) {
			g->segments.n--;
			sync_stmt(p);
			return;
		}
		block(p, "segment", seg_kw, sizeof(seg_kw) / sizeof(seg_kw[0]), seg_item, s);
		end_stmt(p);
	} else if (accept_word(p, "service")) {
		struct hv_service *s = VEC_PUSH(&g->services);
		if (!take_name(p, "service", &s->name, &s->loc)) {
			g->services.n--;
			sync_stmt(p);
			return;
		}
		if (peek(p)->kind != T_EQ) {
			expected(p, "'=' after the service name", "service NAME = tcp/22, udp/53");
			sync_stmt(p);
			return;
		}
		next(p);
		if (list(p, svc_elem, s))
			end_stmt(p);
		else
			sync_stmt(p);
	} else if (accept_word(p, "set")) {
		struct hv_set *s = VEC_PUSH(&g->sets);
		if (!take_name(p, "set", &s->name, &s->loc)) {
			g->sets.n--;
			sync_stmt(p);
			return;
		}
		if (peek(p)->kind != T_EQ) {
			expected(p, "'=' after the set name",
				 "set NAME = { 10.0.0.1, 2001:db8::/64 }");
			sync_stmt(p);
			return;
		}
		next(p);
		if (list(p, set_elem, s))
			end_stmt(p);
		else
			sync_stmt(p);
	} else if (accept_word(p, "guest")) {
		struct hv_guest *gu = VEC_PUSH(&g->guests);
		if (!take_name(p, "guest", &gu->name, &gu->loc)) {
			g->guests.n--;
			sync_stmt(p);
			return;
		}
		block(p, "guest", guest_kw, sizeof(guest_kw) / sizeof(guest_kw[0]), guest_item, gu);
		end_stmt(p);
	} else if (accept_word(p, "policy")) {
		struct hv_policy *pol = VEC_PUSH(&g->policies);
		pol->loc = t->loc;
		if (peek(p)->kind == T_WORD && !take_name(p, "policy", &pol->name, &pol->loc)) {
			sync_stmt(p);
			return;
		}
		policy_block(p, pol);
		end_stmt(p);
	} else if (accept_word(p, "mirror")) {
		struct hv_mirror *m = VEC_PUSH(&g->mirrors);
		m->sample = 1;
		if (!take_name(p, "mirror", &m->name, &m->loc)) {
			g->mirrors.n--;
			sync_stmt(p);
			return;
		}
		block(p, "mirror", mirror_kw, sizeof(mirror_kw) / sizeof(mirror_kw[0]), mirror_item,
		      m);
		end_stmt(p);
	} else if (accept_word(p, "overlay")) {
		if (g->overlay.present) {
			hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, "one overlay block per lab",
				    "a second overlay block (the first is at %s:%u)",
				    hv_src_path(g->overlay.loc.src), g->overlay.loc.line);
		}
		g->overlay.present = true;
		g->overlay.loc = t->loc;
		if (g->overlay.port == 0)
			g->overlay.port = 4789;
		if (g->overlay.ttl == 0)
			g->overlay.ttl = 64;
		block(p, "overlay", overlay_kw, sizeof(overlay_kw) / sizeof(overlay_kw[0]),
		      overlay_item, &g->overlay);
		end_stmt(p);
	} else {
		static const char *const stmts[] = {"segment", "service", "set",     "guest",
						    "policy",  "mirror",  "overlay", "include"};
		const char *near = hv_closest(t->text, stmts, 8);
		char *hint =
			near ? hv_asprintf("did you mean '%s'?", near)
			     : hv_strdup(
				       "a file holds segment, service, set, guest, policy, mirror, overlay and include statements");
		hv_diag_add(p->d, HV_DIAG_ERROR, t->loc, hint, "unknown statement '%s'", t->text);
		free(hint);
		sync_stmt(p);
	}
}

static void
parse_src(struct parser *p, struct hv_src *src)
{
	hv_lex(&p->lx, src, p->d);
	p->pos = 0;
	for (;;) {
		skip_nl(p);
		if (peek(p)->kind == T_EOF)
			break;
		if (peek(p)->kind == T_RBRACE) {
			hv_diag_add(p->d, HV_DIAG_ERROR, peek(p)->loc, NULL,
				    "'}' closes nothing here");
			next(p);
			continue;
		}
		size_t before = p->pos;
		statement(p);
		if (p->pos == before)
			next(p); /* always make progress */
	}
	hv_lex_free(&p->lx);
}

static struct hv_prog *
parse_common(const char *const *paths, size_t n, struct hv_src *mem, bool allow_include,
	     struct hv_diags *d)
{
	struct hv_prog *prog = hv_xcalloc(1, sizeof(*prog));
	struct parser p = {.d = d, .prog = prog, .allow_include = allow_include};

	for (size_t i = 0; i < (mem ? 1 : n); i++) {
		struct hv_src *src = mem;
		if (src == NULL) {
			src = load_src(&p, paths[i], (struct hv_loc){0}, true);
			if (src == NULL)
				continue;
			if (src->real && already_read(&p, src->real)) {
				free(src->text);
				free(src->path);
				free(src->real);
				free(src);
				continue;
			}
		}
		const char *stack[1] = {src->real ? src->real : src->path};
		p.incstack = stack;
		p.incdepth = 1;
		add_src(&p, src);
		parse_src(&p, src);
	}
	return prog;
}

struct hv_prog *
hv_lang_parse_files(const char *const *paths, size_t n, struct hv_diags *d)
{
	return parse_common(paths, n, NULL, true, d);
}

struct hv_prog *
hv_lang_parse_file(const char *path, struct hv_diags *d)
{
	return parse_common(&path, 1, NULL, true, d);
}

struct hv_prog *
hv_lang_parse_buffer(const char *name, const char *text, size_t len, bool allow_include,
		     struct hv_diags *d)
{
	struct hv_src *src = hv_xcalloc(1, sizeof(*src));

	src->path = hv_strdup(name);
	src->text = hv_xcalloc(len + 1, 1);
	memcpy(src->text, text, len);
	src->len = len;
	if (len > HV_LANG_MAX_FILE) {
		struct hv_prog *prog = hv_xcalloc(1, sizeof(*prog));
		prog->srcs = src;
		hv_diag_add(d, HV_DIAG_ERROR, (struct hv_loc){.src = src}, NULL,
			    "input is larger than %u MiB", HV_LANG_MAX_FILE >> 20);
		return prog;
	}
	return parse_common(NULL, 0, src, allow_include, d);
}

/* ---- freeing ---- */

static void
free_refs(void *vec)
{
	HV_VEC(struct hv_ref) *v = vec;
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i].name);
	VEC_FREE(v);
}

static void
free_endpoint(struct hv_endpoint *e)
{
	for (size_t i = 0; i < e->terms.n; i++) {
		free(e->terms.v[i].ref.name);
		free(e->terms.v[i].port);
	}
	VEC_FREE(&e->terms);
}

static void
free_rule(struct hv_rule *r)
{
	free(r->label);
	free(r->id);
	free_endpoint(&r->from);
	free_endpoint(&r->to);
	free_refs(&r->services);
	VEC_FREE(&r->inline_svc);
}

void
hv_prog_free(struct hv_prog *g)
{
	if (g == NULL)
		return;
	for (struct hv_src *s = g->srcs, *n; s; s = n) {
		n = s->next;
		free(s->path);
		free(s->real);
		free(s->text);
		free(s);
	}
	for (size_t i = 0; i < g->segments.n; i++) {
		free(g->segments.v[i].name);
		VEC_FREE(&g->segments.v[i].subnets);
		VEC_FREE(&g->segments.v[i].gateways);
	}
	VEC_FREE(&g->segments);
	for (size_t i = 0; i < g->services.n; i++) {
		free(g->services.v[i].name);
		VEC_FREE(&g->services.v[i].items);
		free_refs(&g->services.v[i].uses);
	}
	VEC_FREE(&g->services);
	for (size_t i = 0; i < g->sets.n; i++) {
		free(g->sets.v[i].name);
		VEC_FREE(&g->sets.v[i].members);
		free_refs(&g->sets.v[i].uses);
	}
	VEC_FREE(&g->sets);
	for (size_t i = 0; i < g->guests.n; i++) {
		struct hv_guest *gu = &g->guests.v[i];
		free(gu->name);
		free(gu->image);
		for (size_t j = 0; j < gu->nics.n; j++) {
			free(gu->nics.v[j].name);
			free(gu->nics.v[j].segment.name);
			VEC_FREE(&gu->nics.v[j].ips);
		}
		VEC_FREE(&gu->nics);
	}
	VEC_FREE(&g->guests);
	for (size_t i = 0; i < g->policies.n; i++) {
		struct hv_policy *pol = &g->policies.v[i];
		free(pol->name);
		free(pol->log_file);
		free(pol->log_pcapng);
		for (size_t j = 0; j < pol->rules.n; j++)
			free_rule(&pol->rules.v[j]);
		VEC_FREE(&pol->rules);
		if (pol->has_default)
			free_rule(&pol->dflt);
	}
	VEC_FREE(&g->policies);
	for (size_t i = 0; i < g->mirrors.n; i++) {
		struct hv_mirror *m = &g->mirrors.v[i];
		free(m->name);
		free(m->filter);
		free_refs(&m->segments);
		free_refs(&m->ports);
		for (size_t j = 0; j < m->dests.n; j++) {
			free(m->dests.v[j].path);
			free(m->dests.v[j].port);
			free(m->dests.v[j].netns);
		}
		VEC_FREE(&m->dests);
	}
	VEC_FREE(&g->mirrors);
	free(g->overlay.dev);
	for (size_t i = 0; i < g->overlay.peers.n; i++)
		free_refs(&g->overlay.peers.v[i].segments);
	VEC_FREE(&g->overlay.peers);
	free(g);
}
