/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The language library's small pieces: vectors, diagnostics with caret
 * lines, "did you mean", and the parsers for the literals the language
 * knows (addresses, MACs, sizes, durations, service items).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

void *
hv_vec_grow(void *vec_v, size_t *n, size_t *cap, size_t elem)
{
	void **v = vec_v;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		void *p = realloc(*v, nc * elem);

		if (p == NULL)
			abort();
		*v = p;
		*cap = nc;
	}
	void *e = (char *)*v + *n * elem;
	memset(e, 0, elem);
	(*n)++;
	return e;
}

void *
hv_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		abort();
	return p;
}

char *
hv_strndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		abort();
	return p;
}

char *
hv_strdup(const char *s)
{
	return hv_strndup(s, strlen(s));
}

char *
hv_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* ---- diagnostics ---- */

const char *
hv_src_path(const struct hv_src *src)
{
	return src ? src->path : "<input>";
}

struct hv_diag *
hv_diag_add(struct hv_diags *d, enum hv_diag_sev sev, struct hv_loc loc, const char *hint,
	    const char *fmt, ...)
{
	struct hv_diag *dg;
	va_list ap;

	if (sev == HV_DIAG_ERROR)
		d->n_errors++;
	else if (sev == HV_DIAG_WARNING)
		d->n_warnings++;
	if (d->n >= HV_DIAG_MAX) {
		d->n_dropped++;
		return NULL;
	}
	dg = VEC_PUSH(d);
	dg->sev = sev;
	dg->loc = loc;
	if (dg->loc.len == 0)
		dg->loc.len = 1;
	va_start(ap, fmt);
	if (vasprintf(&dg->msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	dg->hint = hint ? hv_strdup(hint) : NULL;
	return dg;
}

void
hv_diags_free(struct hv_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].msg);
		free(d->v[i].hint);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static const char *const sev_names[] = {"error", "warning", "note"};

void
hv_diag_print(FILE *f, const struct hv_diag *dg)
{
	const struct hv_src *src = dg->loc.src;

	if (dg->loc.line == 0) {
		fprintf(f, "%s: %s: %s\n", hv_src_path(src), sev_names[dg->sev], dg->msg);
	} else {
		fprintf(f, "%s:%u:%u: %s: %s\n", hv_src_path(src), dg->loc.line, dg->loc.col,
			sev_names[dg->sev], dg->msg);
	}
	if (src != NULL && dg->loc.line > 0) {
		/* the line, then a caret under the offending text */
		const char *p = src->text, *end = src->text + src->len;
		for (uint32_t l = 1; l < dg->loc.line && p < end; p++)
			if (*p == '\n')
				l++;
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		size_t w = (size_t)(e - p);
		fprintf(f, "  %5u | %.*s\n        | ", dg->loc.line, (int)w, p);
		for (uint32_t i = 1; i < dg->loc.col && i <= w; i++)
			fputc(p[i - 1] == '\t' ? '\t' : ' ', f);
		fputc('^', f);
		uint32_t len = dg->loc.len;
		if (dg->loc.col + len - 1 > w + 1)
			len = (uint32_t)(w + 2 > dg->loc.col ? w + 2 - dg->loc.col : 1);
		for (uint32_t i = 1; i < len; i++)
			fputc('~', f);
		fputc('\n', f);
	}
	if (dg->hint != NULL)
		fprintf(f, "        = %s\n", dg->hint);
}

struct diag_key {
	size_t file_rank; /* order of the file's first diagnostic */
	uint32_t line, col;
	size_t idx;
};

static int
diag_key_cmp(const void *a, const void *b)
{
	const struct diag_key *x = a, *y = b;

	if (x->file_rank != y->file_rank)
		return x->file_rank < y->file_rank ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* in source order: the passes find problems in their own order */
void
hv_diags_print(FILE *f, const struct hv_diags *d)
{
	struct diag_key *k = hv_xcalloc(d->n, sizeof(*k));

	for (size_t i = 0; i < d->n; i++) {
		size_t rank = i;
		for (size_t j = 0; j < i; j++) {
			if (d->v[j].loc.src == d->v[i].loc.src) {
				rank = k[j].file_rank;
				break;
			}
		}
		k[i] = (struct diag_key){rank, d->v[i].loc.line, d->v[i].loc.col, i};
	}
	qsort(k, d->n, sizeof(*k), diag_key_cmp);
	for (size_t i = 0; i < d->n; i++)
		hv_diag_print(f, &d->v[k[i].idx]);
	free(k);
	if (d->n_dropped)
		fprintf(f, "(%zu more diagnostics not shown; fix the ones above first)\n",
			d->n_dropped);
}

unsigned
hv_edit_distance(const char *a, const char *b, unsigned limit)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[64];

	if (la >= 63 || lb >= 63)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned prev = row[0], best;
		row[0] = (unsigned)i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned cur = row[j];
			unsigned sub = prev + (tolower((unsigned char)a[i - 1]) !=
					       tolower((unsigned char)b[j - 1]));
			unsigned v = row[j - 1] + 1 < cur + 1 ? row[j - 1] + 1 : cur + 1;
			row[j] = sub < v ? sub : v;
			prev = cur;
			if (row[j] < best)
				best = row[j];
		}
		if (best > limit)
			return limit + 1;
	}
	return row[lb] > limit ? limit + 1 : row[lb];
}

const char *
hv_closest(const char *name, const char *const *cands, size_t n)
{
	size_t len = strlen(name);
	unsigned limit = len <= 3 ? 1 : len <= 6 ? 2 : 3, best = limit + 1;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		unsigned dist = hv_edit_distance(name, cands[i], limit);
		if (dist < best) {
			best = dist;
			pick = cands[i];
		}
	}
	return pick;
}

/* ---- addresses ---- */

bool
hv_prefix_parse(const char *s, struct hv_prefix *p, bool *host_bits_set)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;

	memset(p, 0, sizeof(*p));
	if (host_bits_set)
		*host_bits_set = false;
	if (alen == 0 || alen >= sizeof(buf))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, p->a) == 1) {
		p->family = 4;
		max = 32;
	} else if (strchr(buf, ':') && inet_pton(AF_INET6, buf, p->a) == 1) {
		p->family = 6;
		max = 128;
	} else {
		return false;
	}
	if (slash) {
		uint32_t len;
		if (!hv_parse_u32(slash + 1, &len) || len > max)
			return false;
		p->plen = (uint8_t)len;
	} else {
		p->plen = (uint8_t)max;
	}
	/* clear host bits, noting whether any were set */
	for (unsigned bit = p->plen; bit < max; bit++) {
		uint8_t m = (uint8_t)(0x80 >> (bit % 8));
		if (p->a[bit / 8] & m) {
			if (host_bits_set)
				*host_bits_set = true;
			p->a[bit / 8] &= (uint8_t)~m;
		}
	}
	return true;
}

void
hv_prefix_format(const struct hv_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->a, a, sizeof(a));
	if (p->plen == (p->family == 4 ? 32 : 128))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->plen);
}

static bool
bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rem == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rem));
	return (a[bytes] & m) == (b[bytes] & m);
}

bool
hv_prefix_contains(const struct hv_prefix *outer, const struct hv_prefix *inner)
{
	return outer->family == inner->family && outer->plen <= inner->plen &&
	       bits_equal(outer->a, inner->a, outer->plen);
}

bool
hv_prefix_overlap(const struct hv_prefix *a, const struct hv_prefix *b)
{
	return hv_prefix_contains(a, b) || hv_prefix_contains(b, a);
}

/* ---- literals ---- */

bool
hv_name_valid(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

bool
hv_port_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > HV_PORT_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

bool
hv_parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long x;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

static bool
parse_scaled(const char *s, uint64_t *v, const char *units, const uint64_t *mult)
{
	char *end;
	unsigned long long x;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno)
		return false;
	uint64_t m = 1;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (u == NULL || end[1] != '\0')
			return false;
		m = mult[u - units];
	}
	if (x > UINT64_MAX / m)
		return false;
	*v = x * m;
	return true;
}

bool
hv_parse_size(const char *s, uint64_t *v)
{
	static const uint64_t mult[] = {1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40};
	return parse_scaled(s, v, "KMGT", mult);
}

bool
hv_parse_duration(const char *s, uint32_t *v)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400};
	uint64_t x;

	if (!parse_scaled(s, &x, "SMHD", mult) || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

bool
hv_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return false;
		mac[i] = (uint8_t)b[i];
	}
	return true;
}

static const struct {
	uint8_t proto;
	uint8_t type;
	const char *name;
} icmp_types[] = {
	{HV_PROTO_ICMP, 0, "echo-reply"},
	{HV_PROTO_ICMP, 3, "destination-unreachable"},
	{HV_PROTO_ICMP, 8, "echo-request"},
	{HV_PROTO_ICMP, 11, "time-exceeded"},
	{HV_PROTO_ICMPV6, 1, "destination-unreachable"},
	{HV_PROTO_ICMPV6, 2, "packet-too-big"},
	{HV_PROTO_ICMPV6, 3, "time-exceeded"},
	{HV_PROTO_ICMPV6, 128, "echo-request"},
	{HV_PROTO_ICMPV6, 129, "echo-reply"},
	{HV_PROTO_ICMPV6, 133, "router-solicitation"},
	{HV_PROTO_ICMPV6, 134, "router-advertisement"},
	{HV_PROTO_ICMPV6, 135, "neighbor-solicitation"},
	{HV_PROTO_ICMPV6, 136, "neighbor-advertisement"},
};

const char *
hv_icmp_type_name(uint8_t proto, int type)
{
	for (size_t i = 0; i < sizeof(icmp_types) / sizeof(icmp_types[0]); i++)
		if (icmp_types[i].proto == proto && icmp_types[i].type == type)
			return icmp_types[i].name;
	return NULL;
}

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
	{"any", HV_PROTO_ANY}, {"icmp", HV_PROTO_ICMP},	    {"tcp", HV_PROTO_TCP},
	{"udp", HV_PROTO_UDP}, {"icmpv6", HV_PROTO_ICMPV6},
};

const char *
hv_proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return NULL;
}

static bool
parse_port(const char *s, size_t n, uint16_t *v)
{
	char buf[8];
	uint32_t x;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!hv_parse_u32(buf, &x) || x > 65535)
		return false;
	*v = (uint16_t)x;
	return true;
}

bool
hv_parse_svc_item(const char *s, struct hv_svc_item *it, const char **err)
{
	const char *slash = strchr(s, '/');
	size_t plen = slash ? (size_t)(slash - s) : strlen(s);
	bool found = false;

	it->lo = 0;
	it->hi = 65535;
	it->icmp_type = -1;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strlen(protos[i].name) == plen && strncmp(s, protos[i].name, plen) == 0) {
			it->proto = protos[i].proto;
			found = true;
		}
	}
	if (!found) {
		char buf[8];
		uint32_t x;
		if (plen == 0 || plen >= sizeof(buf)) {
			*err = "a protocol (tcp, udp, icmp, icmpv6, any or a number 0-255)";
			return false;
		}
		memcpy(buf, s, plen);
		buf[plen] = '\0';
		if (!hv_parse_u32(buf, &x) || x > 255) {
			*err = "a protocol (tcp, udp, icmp, icmpv6, any or a number 0-255)";
			return false;
		}
		it->proto = (uint8_t)x;
	}
	if (slash == NULL)
		return true;
	const char *arg = slash + 1;
	if (it->proto == HV_PROTO_TCP || it->proto == HV_PROTO_UDP) {
		const char *dash = strchr(arg, '-');
		if (dash == NULL) {
			if (!parse_port(arg, strlen(arg), &it->lo)) {
				*err = "a port 0-65535 or a range LO-HI";
				return false;
			}
			it->hi = it->lo;
		} else if (!parse_port(arg, (size_t)(dash - arg), &it->lo) ||
			   !parse_port(dash + 1, strlen(dash + 1), &it->hi)) {
			*err = "a port 0-65535 or a range LO-HI";
			return false;
		} else if (it->lo > it->hi) {
			*err = "a range whose low port is not above its high port";
			return false;
		}
		return true;
	}
	if (it->proto == HV_PROTO_ICMP || it->proto == HV_PROTO_ICMPV6) {
		uint32_t x;
		for (size_t i = 0; i < sizeof(icmp_types) / sizeof(icmp_types[0]); i++) {
			if (icmp_types[i].proto == it->proto &&
			    strcmp(icmp_types[i].name, arg) == 0) {
				it->icmp_type = icmp_types[i].type;
				return true;
			}
		}
		if (hv_parse_u32(arg, &x) && x <= 255) {
			it->icmp_type = (int16_t)x;
			return true;
		}
		*err = "an ICMP type: a number 0-255 or a name such as echo-request";
		return false;
	}
	*err = "ports only after tcp or udp, a type only after icmp or icmpv6";
	return false;
}

void
hv_svc_item_format(const struct hv_svc_item *it, char *buf, size_t len)
{
	const char *pn = hv_proto_name(it->proto);
	char p[8];

	if (pn == NULL) {
		snprintf(p, sizeof(p), "%u", it->proto);
		pn = p;
	}
	if ((it->proto == HV_PROTO_TCP || it->proto == HV_PROTO_UDP) &&
	    !(it->lo == 0 && it->hi == 65535)) {
		if (it->lo == it->hi)
			snprintf(buf, len, "%s/%u", pn, it->lo);
		else
			snprintf(buf, len, "%s/%u-%u", pn, it->lo, it->hi);
	} else if (it->icmp_type >= 0) {
		const char *tn = hv_icmp_type_name(it->proto, it->icmp_type);
		if (tn)
			snprintf(buf, len, "%s/%s", pn, tn);
		else
			snprintf(buf, len, "%s/%d", pn, it->icmp_type);
	} else {
		snprintf(buf, len, "%s", pn);
	}
}

const char *
hv_action_name(enum hv_action a)
{
	return a == HV_ALLOW ? "allow" : a == HV_BLOCK ? "block" : "reject";
}

const char *
hv_class_name(enum hv_seg_class c)
{
	static const char *const n[] = {"none", "management", "infrastructure", "application"};
	return n[c];
}
