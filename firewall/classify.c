/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IR -> rte_acl. One ACL rule per IR entry, in one context per address
 * family; entries without an address family go into both. The key layouts
 * below are what rte_acl reads: the first field one byte, then groups of
 * four bytes, every multi-byte field big-endian (rte_acl compares input
 * bytes most significant first, while rule values are in host order).
 *
 * The first field must stand alone in its group (rte_acl reads one byte
 * there to pick the root of the trie), so the ingress port id takes the
 * first half of the ports group, where the source port used to be: no rule
 * ever matched on the source port, and the key stays the size it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "firewall/classify.h"
#include "firewall/lang/lang.h"

#define FW_LOG_RATE_DEFAULT  10 /* lines per second per rule and worker */
#define FW_LOG_BURST_DEFAULT 20

struct key4 {
	uint8_t proto;
	uint8_t pad[3];
	rte_be16_t src_seg, dst_seg;
	rte_be32_t src, dst;
	rte_be16_t in_port, dport; /* in_port: the policy's id of the ingress port, 0 none */
};

struct key6 {
	uint8_t proto;
	uint8_t pad[3];
	rte_be16_t src_seg, dst_seg;
	uint8_t src[16], dst[16];
	rte_be16_t in_port, dport;
};

enum {
	F4_PROTO,
	F4_SSEG,
	F4_DSEG,
	F4_SRC,
	F4_DST,
	F4_INPORT,
	F4_DPORT,
	F4_N
};
enum {
	F6_PROTO,
	F6_SSEG,
	F6_DSEG,
	F6_SRC0,
	F6_DST0 = F6_SRC0 + 4,
	F6_INPORT = F6_DST0 + 4,
	F6_DPORT,
	F6_N
};

RTE_ACL_RULE_DEF(acl4_rule, F4_N);
RTE_ACL_RULE_DEF(acl6_rule, F6_N);

#define FDEF(t, sz, fi, ii, st, mb)                                                \
	{                                                                          \
		.type = RTE_ACL_FIELD_TYPE_##t, .size = (sz), .field_index = (fi), \
		.input_index = (ii), .offset = offsetof(struct st, mb)             \
	}

static const struct rte_acl_field_def defs4[F4_N] = {
	FDEF(BITMASK, 1, F4_PROTO, 0, key4, proto), FDEF(RANGE, 2, F4_SSEG, 1, key4, src_seg),
	FDEF(RANGE, 2, F4_DSEG, 1, key4, dst_seg),  FDEF(MASK, 4, F4_SRC, 2, key4, src),
	FDEF(MASK, 4, F4_DST, 3, key4, dst),	    FDEF(RANGE, 2, F4_INPORT, 4, key4, in_port),
	FDEF(RANGE, 2, F4_DPORT, 4, key4, dport),
};

static const struct rte_acl_field_def defs6[F6_N] = {
	FDEF(BITMASK, 1, F6_PROTO, 0, key6, proto),   FDEF(RANGE, 2, F6_SSEG, 1, key6, src_seg),
	FDEF(RANGE, 2, F6_DSEG, 1, key6, dst_seg),    FDEF(MASK, 4, F6_SRC0 + 0, 2, key6, src[0]),
	FDEF(MASK, 4, F6_SRC0 + 1, 3, key6, src[4]),  FDEF(MASK, 4, F6_SRC0 + 2, 4, key6, src[8]),
	FDEF(MASK, 4, F6_SRC0 + 3, 5, key6, src[12]), FDEF(MASK, 4, F6_DST0 + 0, 6, key6, dst[0]),
	FDEF(MASK, 4, F6_DST0 + 1, 7, key6, dst[4]),  FDEF(MASK, 4, F6_DST0 + 2, 8, key6, dst[8]),
	FDEF(MASK, 4, F6_DST0 + 3, 9, key6, dst[12]), FDEF(RANGE, 2, F6_INPORT, 10, key6, in_port),
	FDEF(RANGE, 2, F6_DPORT, 10, key6, dport),
};

static void
set_range(struct rte_acl_field *f, uint16_t lo, uint16_t hi)
{
	f->value.u16 = lo;
	f->mask_range.u16 = hi;
}

static void
set_seg(struct rte_acl_field *f, uint16_t ir_seg)
{
	uint16_t s;

	if (ir_seg == HV_SEG_ANY) {
		set_range(f, 0, UINT16_MAX);
		return;
	}
	s = ir_seg;
	set_range(f, s, s);
}

/* An entry without a port term matches any ingress port, id 0 included. */
static void
set_in_port(struct rte_acl_field *f, uint8_t id)
{
	if (id == 0)
		set_range(f, 0, UINT16_MAX);
	else
		set_range(f, id, id);
}

/* Destination "port" range of an entry, in the key's terms. */
static void
entry_ports(const struct hv_ir_rule *e, uint16_t *lo, uint16_t *hi)
{
	*lo = 0;
	*hi = UINT16_MAX;
	if (e->proto == HV_PROTO_TCP || e->proto == HV_PROTO_UDP) {
		*lo = e->dport_lo;
		*hi = e->dport_hi;
	} else if ((e->proto == HV_PROTO_ICMP || e->proto == HV_PROTO_ICMPV6) &&
		   e->icmp_type >= 0) {
		*lo = (uint16_t)(e->icmp_type << 8);
		*hi = (uint16_t)(*lo | 0xff);
	}
}

static void
fill_common(const struct hv_ir_rule *e, uint32_t idx, struct rte_acl_rule_data *d,
	    struct rte_acl_field *proto)
{
	d->category_mask = 1;
	d->priority = (int32_t)(RTE_ACL_MAX_PRIORITY - idx);
	d->userdata = idx + 1;
	proto->value.u8 = e->proto;
	proto->mask_range.u8 = e->proto == HV_PROTO_ANY ? 0 : 0xff;
}

static void
fill4(struct acl4_rule *r, const struct hv_ir_rule *e, uint32_t idx)
{
	uint16_t lo, hi;
	uint32_t a;

	memset(r, 0, sizeof(*r));
	fill_common(e, idx, &r->data, &r->field[F4_PROTO]);
	set_seg(&r->field[F4_SSEG], e->src_seg);
	set_seg(&r->field[F4_DSEG], e->dst_seg);
	if (e->src.plen) {
		memcpy(&a, e->src.a, 4);
		r->field[F4_SRC].value.u32 = ntohl(a);
		r->field[F4_SRC].mask_range.u32 = e->src.plen;
	}
	if (e->dst.plen) {
		memcpy(&a, e->dst.a, 4);
		r->field[F4_DST].value.u32 = ntohl(a);
		r->field[F4_DST].mask_range.u32 = e->dst.plen;
	}
	set_in_port(&r->field[F4_INPORT], e->in_port);
	entry_ports(e, &lo, &hi);
	set_range(&r->field[F4_DPORT], lo, hi);
}

static void
fill6_addr(struct rte_acl_field *f, const struct hv_prefix *p)
{
	for (int w = 0; w < 4; w++) {
		int bits = p->plen - 32 * w;
		uint32_t a;

		if (bits <= 0)
			continue; /* value 0, length 0: any */
		memcpy(&a, &p->a[4 * w], 4);
		f[w].value.u32 = ntohl(a);
		f[w].mask_range.u32 = (uint32_t)(bits > 32 ? 32 : bits);
	}
}

static void
fill6(struct acl6_rule *r, const struct hv_ir_rule *e, uint32_t idx)
{
	uint16_t lo, hi;

	memset(r, 0, sizeof(*r));
	fill_common(e, idx, &r->data, &r->field[F6_PROTO]);
	set_seg(&r->field[F6_SSEG], e->src_seg);
	set_seg(&r->field[F6_DSEG], e->dst_seg);
	if (e->src.plen)
		fill6_addr(&r->field[F6_SRC0], &e->src);
	if (e->dst.plen)
		fill6_addr(&r->field[F6_DST0], &e->dst);
	set_in_port(&r->field[F6_INPORT], e->in_port);
	entry_ports(e, &lo, &hi);
	set_range(&r->field[F6_DPORT], lo, hi);
}

#define ADD_BATCH 4096

/* Create and build the context of FAMILY; *out stays NULL when no entry has it. */
static int
build_ctx(const struct hv_ir *ir, int family, const char *name, struct rte_acl_ctx **out,
	  uint32_t *count, char *err, size_t errlen)
{
	static unsigned seq;
	const size_t rsz = family == 4 ? sizeof(struct acl4_rule) : sizeof(struct acl6_rule);
	struct rte_acl_param prm = {0};
	struct rte_acl_config cfg = {0};
	struct rte_acl_ctx *ctx;
	char nm[RTE_ACL_NAMESIZE];
	uint8_t *batch;
	uint32_t n = 0, nb = 0;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < ir->n_entries; i++)
		if (ir->entries[i].family == 0 || ir->entries[i].family == family)
			n++;
	*count = n;
	if (n == 0)
		return 0;
	snprintf(nm, sizeof(nm), "%.16s_%u_%d", name, seq++, family);
	prm.name = nm;
	prm.socket_id = SOCKET_ID_ANY;
	prm.rule_size = (uint32_t)rsz;
	prm.max_rule_num = n;
	ctx = rte_acl_create(&prm);
	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create the IPv%d classifier: %s", family,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	batch = malloc(rsz * ADD_BATCH);
	if (batch == NULL) {
		rte_acl_free(ctx);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < ir->n_entries; i++) {
		const struct hv_ir_rule *e = &ir->entries[i];

		if (e->family != 0 && e->family != family)
			continue;
		if (family == 4)
			fill4((struct acl4_rule *)(batch + nb * rsz), e, (uint32_t)i);
		else
			fill6((struct acl6_rule *)(batch + nb * rsz), e, (uint32_t)i);
		if (++nb == ADD_BATCH || i + 1 == ir->n_entries) {
			rc = rte_acl_add_rules(ctx, (const struct rte_acl_rule *)batch, nb);
			if (rc != 0)
				goto fail;
			nb = 0;
		}
	}
	if (nb != 0 && (rc = rte_acl_add_rules(ctx, (const struct rte_acl_rule *)batch, nb)) != 0)
		goto fail;
	cfg.num_categories = 1;
	if (family == 4) {
		cfg.num_fields = F4_N;
		memcpy(cfg.defs, defs4, sizeof(defs4));
	} else {
		cfg.num_fields = F6_N;
		memcpy(cfg.defs, defs6, sizeof(defs6));
	}
	rc = rte_acl_build(ctx, &cfg);
	if (rc != 0)
		goto fail;
	free(batch);
	*out = ctx;
	return 0;
fail:
	snprintf(err, errlen, "cannot build the IPv%d classifier (%u entries): %s", family, n,
		 strerror(rc < 0 ? -rc : rc));
	free(batch);
	rte_acl_free(ctx);
	return rc < 0 ? rc : -rc;
}

static void
copy_rule(struct hv_fw_rule *fr, const struct hv_rule *r, const char *id, enum hv_action a,
	  bool log)
{
	snprintf(fr->id, sizeof(fr->id), "%s", id);
	fr->action = (uint8_t)a;
	fr->log = log;
	fr->log_rate = r && r->log_rate ? r->log_rate : FW_LOG_RATE_DEFAULT;
	fr->log_burst = r && r->log_burst ? r->log_burst : FW_LOG_BURST_DEFAULT;
}

struct hv_fw *
hv_fw_build(struct hv_prog *prog, struct hv_ir *ir, unsigned n_workers, const char *name, char *err,
	    size_t errlen)
{
	struct hv_fw *fw;

	if (n_workers == 0 || n_workers > HV_FW_MAX_WORKERS) {
		snprintf(err, errlen, "bad worker count %u", n_workers);
		return NULL;
	}
	if (ir->n_entries >= RTE_ACL_MAX_PRIORITY) {
		snprintf(err, errlen, "%zu classifier entries: more than the classifier takes",
			 ir->n_entries);
		return NULL;
	}
	fw = calloc(1, sizeof(*fw));
	if (fw == NULL)
		goto nomem;
	fw->n_rules = (uint32_t)ir->n_rules;
	fw->n_entries = (uint32_t)ir->n_entries;
	fw->n_workers = n_workers;
	fw->rules = calloc(fw->n_rules + 1, sizeof(*fw->rules));
	fw->entry_rule = calloc(fw->n_entries + 1, sizeof(*fw->entry_rule));
	if (fw->rules == NULL || fw->entry_rule == NULL)
		goto nomem_fw;
	for (uint32_t i = 0; i < fw->n_rules; i++) {
		const struct hv_rule *r = ir->rules[i].rule;

		copy_rule(&fw->rules[i], r, r->id, r->action, r->log);
	}
	copy_rule(&fw->rules[fw->n_rules], ir->dflt, "default", ir->default_action,
		  ir->default_log);
	for (uint32_t i = 0; i < fw->n_entries; i++)
		fw->entry_rule[i] = ir->entries[i].rule;
	for (unsigned w = 0; w < n_workers; w++) {
		fw->cnt[w] =
			rte_zmalloc("hv_fw_cnt", sizeof(struct hv_fw_counter) * (fw->n_rules + 1),
				    RTE_CACHE_LINE_SIZE);
		fw->bucket[w] = rte_zmalloc("hv_fw_bucket",
					    sizeof(struct hv_fwlog_bucket) * (fw->n_rules + 1),
					    RTE_CACHE_LINE_SIZE);
		if (fw->cnt[w] == NULL || fw->bucket[w] == NULL)
			goto nomem_fw;
		for (uint32_t r = 0; r <= fw->n_rules; r++)
			hv_fwlog_bucket_init(&fw->bucket[w][r], rte_rdtsc(), rte_get_tsc_hz(),
					     fw->rules[r].log_burst);
	}
	for (size_t i = 0; i < prog->segments.n && i < HV_FW_MAX_SEGS; i++) {
		fw->seg_conn_limit[i] = prog->segments.v[i].conn_limit;
		fw->seg_mgmt[i] = prog->segments.v[i].cls == HV_CLASS_MANAGEMENT;
	}
	if (build_ctx(ir, 4, name, &fw->acl4, &fw->n_entries4, err, errlen) != 0 ||
	    build_ctx(ir, 6, name, &fw->acl6, &fw->n_entries6, err, errlen) != 0)
		goto fail;
	fw->prog = prog;
	fw->ir = ir;
	return fw;
nomem_fw:
	snprintf(err, errlen, "out of memory");
fail:
	/* the caller keeps PROG and IR */
	fw->prog = NULL;
	fw->ir = NULL;
	hv_fw_free(fw);
	return NULL;
nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void
hv_fw_free(struct hv_fw *fw)
{
	if (fw == NULL)
		return;
	rte_acl_free(fw->acl4);
	rte_acl_free(fw->acl6);
	hv_fwlog_close(fw->log);
	for (unsigned w = 0; w < HV_FW_MAX_WORKERS; w++) {
		rte_free(fw->cnt[w]);
		rte_free(fw->bucket[w]);
	}
	free(fw->rules);
	free(fw->entry_rule);
	hv_ir_free(fw->ir);
	hv_prog_free(fw->prog);
	free(fw);
}

void
hv_fw_classify(const struct hv_fw *fw, const struct hv_fw_pkt *const *pkts, unsigned n,
	       uint32_t *res)
{
	struct key4 k4[64];
	struct key6 k6[64];
	const uint8_t *d4[64], *d6[64];
	uint32_t r4[64], r6[64];
	unsigned i4[64], i6[64];
	unsigned n4 = 0, n6 = 0;

	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++) {
		const struct hv_fw_pkt *p = pkts[i];

		res[i] = fw->n_rules;
		if (p->family == 4 && fw->acl4 != NULL) {
			struct key4 *k = &k4[n4];

			k->proto = p->proto;
			k->pad[0] = k->pad[1] = k->pad[2] = 0;
			k->src_seg = rte_cpu_to_be_16(p->src_seg);
			k->dst_seg = rte_cpu_to_be_16(p->dst_seg);
			memcpy(&k->src, p->src, 4);
			memcpy(&k->dst, p->dst, 4);
			k->in_port = rte_cpu_to_be_16(p->in_port);
			k->dport = rte_cpu_to_be_16(p->dport);
			d4[n4] = (const uint8_t *)k;
			i4[n4++] = i;
		} else if (p->family == 6 && fw->acl6 != NULL) {
			struct key6 *k = &k6[n6];

			k->proto = p->proto;
			k->pad[0] = k->pad[1] = k->pad[2] = 0;
			k->src_seg = rte_cpu_to_be_16(p->src_seg);
			k->dst_seg = rte_cpu_to_be_16(p->dst_seg);
			memcpy(k->src, p->src, 16);
			memcpy(k->dst, p->dst, 16);
			k->in_port = rte_cpu_to_be_16(p->in_port);
			k->dport = rte_cpu_to_be_16(p->dport);
			d6[n6] = (const uint8_t *)k;
			i6[n6++] = i;
		}
	}
	if (n4 != 0 && rte_acl_classify(fw->acl4, d4, r4, n4, 1) == 0)
		for (unsigned j = 0; j < n4; j++)
			if (r4[j] != 0)
				res[i4[j]] = fw->entry_rule[r4[j] - 1];
	if (n6 != 0 && rte_acl_classify(fw->acl6, d6, r6, n6, 1) == 0)
		for (unsigned j = 0; j < n6; j++)
			if (r6[j] != 0)
				res[i6[j]] = fw->entry_rule[r6[j] - 1];
}

void
hv_fw_rule_counters(const struct hv_fw *fw, uint32_t r, struct hv_fw_counter *out)
{
	out->packets = 0;
	out->bytes = 0;
	if (r > fw->n_rules)
		return;
	for (unsigned w = 0; w < fw->n_workers; w++) {
		out->packets += __atomic_load_n(&fw->cnt[w][r].packets, __ATOMIC_RELAXED);
		out->bytes += __atomic_load_n(&fw->cnt[w][r].bytes, __ATOMIC_RELAXED);
	}
}

uint8_t
hv_fw_port_id(const struct hv_fw *fw, const char *name)
{
	return fw == NULL ? 0 : hv_ir_port_id(fw->ir, name);
}

const char *
hv_fw_segment_name(const struct hv_fw *fw, uint16_t pseg)
{
	if (fw->prog == NULL || pseg >= fw->prog->segments.n)
		return "-";
	return fw->prog->segments.v[pseg].name;
}
