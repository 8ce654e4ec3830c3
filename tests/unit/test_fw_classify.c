/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier against a naive linear walk of the IR.
 *
 * Random policies (segments with IPv4 and IPv6 subnets, sets, guests,
 * services with port ranges, ICMP types and bare protocols, rules with every
 * kind of endpoint, ingress-port terms among them) are written as text, read
 * by the language library, and compiled to rte_acl; random packets (addresses
 * drawn from subnets, sets, guests and elsewhere; ports at and around every
 * range edge; ingress ports named by the policy or not) are classified
 * both ways, and the deciding rule must be the same for every packet. A
 * policy segment the switch lacks, and a switch segment the policy does not
 * name, are part of every run. Seeds are printed so that a failure can be
 * replayed with HV_FW_SEED.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>

#include "firewall/classify.h"
#include "firewall/lang/lang.h"

/* --- a small deterministic generator --- */

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static uint32_t
pick(uint32_t n)
{
	return rnd() % n;
}

/* --- the reference: the IR's first match, walked linearly --- */

#define N_INPORTS 5 /* ingress ports p0..p4; rules name p0..p3 only */

static bool
prefix_match(const struct hv_prefix *p, const uint8_t *a)
{
	unsigned full = p->plen / 8, rest = p->plen % 8;

	if (memcmp(p->a, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((p->a[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool
seg_match(uint16_t ir_seg, uint16_t pkt_seg)
{
	if (ir_seg == HV_SEG_ANY)
		return true;
	return ir_seg == pkt_seg;
}

/* PORT: the name of the port the packet came in on */
static uint32_t
linear(const struct hv_ir *ir, const struct hv_fw_pkt *p, const char *port)
{
	for (size_t i = 0; i < ir->n_entries; i++) {
		const struct hv_ir_rule *e = &ir->entries[i];

		if (e->family != 0 && e->family != p->family)
			continue;
		if (e->in_port != 0 && strcmp(ir->ports[e->in_port - 1], port) != 0)
			continue;
		if (!seg_match(e->src_seg, p->src_seg) || !seg_match(e->dst_seg, p->dst_seg))
			continue;
		if (e->src.plen && (e->src.family != p->family || !prefix_match(&e->src, p->src)))
			continue;
		if (e->dst.plen && (e->dst.family != p->family || !prefix_match(&e->dst, p->dst)))
			continue;
		if (e->proto != HV_PROTO_ANY && e->proto != p->proto)
			continue;
		if (e->proto == HV_PROTO_TCP || e->proto == HV_PROTO_UDP) {
			if (p->dport < e->dport_lo || p->dport > e->dport_hi)
				continue;
		} else if ((e->proto == HV_PROTO_ICMP || e->proto == HV_PROTO_ICMPV6) &&
			   e->icmp_type >= 0) {
			if ((p->dport >> 8) != e->icmp_type)
				continue;
		}
		return e->rule;
	}
	return (uint32_t)ir->n_rules;
}

/* --- random policies --- */

#define N_SEGS 5

struct gen {
	char *text;
	size_t len, cap;
	unsigned n_ports; /* port numbers used in services, for packets */
	uint16_t ports[256];
};

static void
emit(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(g->text + g->len, g->cap - g->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < g->cap - g->len)
			break;
		g->cap = g->cap * 2 + (size_t)n + 256;
		g->text = realloc(g->text, g->cap);
		assert_non_null(g->text);
	}
	g->len += (size_t)n;
}

static void
note_port(struct gen *g, uint16_t p)
{
	if (g->n_ports < 256)
		g->ports[g->n_ports++] = p;
}

static void
emit_item(struct gen *g)
{
	uint16_t a, b;

	switch (pick(8)) {
	case 0:
	case 1:
	case 2:
		a = (uint16_t)(pick(4) == 0 ? pick(65536) : 20 + pick(80));
		b = (uint16_t)(pick(2) ? a : (a + pick(200) > 65535 ? 65535 : a + pick(200)));
		note_port(g, a);
		note_port(g, b);
		emit(g, "%s/%u", pick(3) ? "tcp" : "udp", a);
		if (b != a)
			emit(g, "-%u", b);
		break;
	case 3:
		emit(g, "icmp/%u", pick(3) ? (pick(2) ? 8 : 0) : pick(256));
		break;
	case 4:
		emit(g, "icmpv6/%u", pick(3) ? 128 : pick(256));
		break;
	case 5:
		emit(g, "%s", pick(2) ? "tcp" : "udp");
		break;
	case 6:
		emit(g, "%u", pick(2) ? 47 : pick(2) ? 1 : 58);
		break;
	default:
		emit(g, "icmp");
		break;
	}
}

/* SRC: a source, which may name ingress ports */
static void
emit_endpoint(struct gen *g, bool src)
{
	unsigned n;

	if (src && pick(6) == 0) {
		/* ports alone */
		n = 1 + pick(2);
		for (unsigned i = 0; i < n; i++)
			emit(g, " port p%u", pick(N_INPORTS - 1));
		return;
	}
	if (pick(5) == 0) {
		emit(g, "any");
		return;
	}
	if (src && pick(4) == 0)
		emit(g, " port p%u", pick(N_INPORTS - 1));
	n = 1 + pick(2);
	for (unsigned i = 0; i < n; i++) {
		switch (pick(7)) {
		case 0:
		case 1:
			emit(g, " s%u", pick(N_SEGS));
			break;
		case 2:
			emit(g, " guest g%u", pick(4));
			break;
		case 3:
			emit(g, " @set%u", pick(3));
			break;
		case 4:
			emit(g, " 10.%u.%u.0/%u", pick(N_SEGS), pick(4), 24 + pick(9));
			break;
		case 5:
			if (pick(2))
				emit(g, " fd00:%u::%x", pick(N_SEGS), pick(32));
			else
				emit(g, " fd00:%u::/%u", pick(N_SEGS), 32 + pick(97));
			break;
		default:
			emit(g, " segment s%u", pick(N_SEGS));
			break;
		}
	}
}

static char *
gen_policy(struct gen *g, unsigned n_rules)
{
	static const char *actions[] = {"allow", "block", "reject"};

	g->len = 0;
	g->n_ports = 0;
	emit(g, "");
	for (unsigned s = 0; s < N_SEGS; s++)
		emit(g, "segment s%u { class %s; subnet 10.%u.0.0/16, fd00:%u::/64 }\n", s,
		     s == 0 ? "management" : "application", s, s);
	for (unsigned i = 0; i < 3; i++)
		emit(g, "set set%u = { 10.%u.%u.%u, 10.%u.%u.0/28, fd00:%u::%x }\n", i,
		     pick(N_SEGS), pick(4), 1 + pick(250), pick(N_SEGS), pick(4), pick(N_SEGS),
		     1 + pick(16));
	for (unsigned i = 0; i < 4; i++)
		emit(g,
		     "guest g%u { nic eth0 { segment s%u; ip 10.%u.1.%u/16, fd00:%u::%x/64 } }\n",
		     i, i % N_SEGS, i % N_SEGS, 10 + i, i % N_SEGS, 0x10 + i);
	emit(g, "service web = tcp/80, tcp/443\nservice dns = udp/53, tcp/53\n");
	note_port(g, 80);
	note_port(g, 443);
	note_port(g, 53);
	emit(g, "policy {\n");
	for (unsigned r = 0; r < n_rules; r++) {
		emit(g, "  r%u: %s ", r, actions[pick(3)]);
		emit_endpoint(g, true);
		emit(g, " -> ");
		emit_endpoint(g, false);
		switch (pick(4)) {
		case 0:
			break;
		case 1:
			emit(g, " service %s", pick(2) ? "web" : "dns");
			break;
		default: {
			unsigned k = 1 + pick(3);

			emit(g, " ");
			for (unsigned i = 0; i < k; i++) {
				if (i)
					emit(g, ", ");
				emit_item(g);
			}
		}
		}
		emit(g, "\n");
	}
	emit(g, "  default %s\n}\n", actions[pick(3)]);
	return g->text;
}

/* --- random packets --- */

static void
gen_addr(struct hv_fw_pkt *p, uint8_t *a)
{
	memset(a, 0, 16);
	if (p->family == 4) {
		a[0] = 10;
		a[1] = (uint8_t)(pick(8) ? pick(N_SEGS) : pick(256));
		a[2] = (uint8_t)pick(5);
		a[3] = (uint8_t)(pick(2) ? pick(20) : pick(256));
	} else {
		a[0] = 0xfd;
		a[2] = 0;
		a[3] = (uint8_t)(pick(8) ? pick(N_SEGS) : pick(256));
		a[15] = (uint8_t)(pick(2) ? pick(32) : pick(256));
		if (pick(4) == 0)
			a[8] = (uint8_t)pick(256);
	}
}

static void
gen_pkt(const struct gen *g, struct hv_fw_pkt *p, unsigned n_switch_segs)
{
	static const uint8_t protos[] = {6, 6, 6, 17, 17, 1, 58, 47};

	memset(p, 0, sizeof(*p));
	p->family = pick(3) ? 4 : 6;
	p->proto = protos[pick(sizeof(protos))];
	/* a policy segment, or a switch segment the policy does not name */
	p->src_seg = (uint16_t)pick(n_switch_segs);
	p->dst_seg = pick(3) ? p->src_seg : (uint16_t)pick(n_switch_segs);
	if (p->src_seg == N_SEGS)
		p->src_seg = HV_FW_SEG_UNNAMED;
	if (p->dst_seg == N_SEGS)
		p->dst_seg = HV_FW_SEG_UNNAMED;
	gen_addr(p, p->src);
	gen_addr(p, p->dst);
	if (p->proto == 6 || p->proto == 17) {
		p->sport = (uint16_t)pick(65536);
		if (g->n_ports && pick(4)) {
			int d = (int)g->ports[pick(g->n_ports)] + (int)pick(3) - 1;

			p->dport = (uint16_t)(d < 0 ? 0 : d > 65535 ? 65535 : d);
		} else {
			p->dport = (uint16_t)pick(65536);
		}
	} else if (p->proto == 1 || p->proto == 58) {
		uint8_t t = (uint8_t)(pick(2) ? (pick(2) ? 8 : 128) : pick(256));

		p->dport = (uint16_t)(t << 8 | pick(4));
	}
}

/* --- the test --- */

static void
run_one(uint64_t seed, unsigned n_rules, unsigned n_pkts)
{
	struct gen g = {0};
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir;
	struct hv_fw *fw;
	char err[256];
	unsigned n_switch_segs = N_SEGS + 1;
	unsigned mismatches = 0;
	const char *text;

	rng_state = seed | 1;
	text = gen_policy(&g, n_rules);
	prog = hv_lang_parse_buffer("gen.hvnet", text, strlen(text), false, &d);
	assert_non_null(prog);
	ir = hv_lang_check(prog, &d);
	if (ir == NULL) {
		hv_diags_print(stderr, &d);
		fprintf(stderr, "seed %llu: generated policy does not check:\n%s\n",
			(unsigned long long)seed, text);
		fail();
	}
	fw = hv_fw_build(prog, ir, 1, "test", err, sizeof(err));
	if (fw == NULL)
		fprintf(stderr, "seed %llu: %s\n", (unsigned long long)seed, err);
	assert_non_null(fw);

	for (unsigned done = 0; done < n_pkts;) {
		struct hv_fw_pkt pk[64];
		const struct hv_fw_pkt *pp[64];
		uint32_t res[64];
		char port[64][8];
		unsigned n = 1 + pick(64);

		for (unsigned i = 0; i < n; i++) {
			gen_pkt(&g, &pk[i], n_switch_segs);
			/* the id the switch publishes for the port's name */
			snprintf(port[i], sizeof(port[i]), "p%u", pick(N_INPORTS));
			pk[i].in_port = hv_fw_port_id(fw, port[i]);
			pp[i] = &pk[i];
		}
		hv_fw_classify(fw, pp, n, res);
		for (unsigned i = 0; i < n; i++) {
			uint32_t want = linear(ir, &pk[i], port[i]);

			if (res[i] != want && mismatches++ < 5) {
				char s[64], t[64];

				inet_ntop(pk[i].family == 4 ? AF_INET : AF_INET6, pk[i].src, s,
					  sizeof(s));
				inet_ntop(pk[i].family == 4 ? AF_INET : AF_INET6, pk[i].dst, t,
					  sizeof(t));
				fprintf(stderr,
					"seed %llu: proto %u %s:%u (seg %u, port %s) -> %s:%u (seg %u): "
					"classifier %s, linear %s\n",
					(unsigned long long)seed, pk[i].proto, s, pk[i].sport,
					pk[i].src_seg, port[i], t, pk[i].dport, pk[i].dst_seg,
					fw->rules[res[i]].id, fw->rules[want].id);
			}
		}
		done += n;
	}
	if (mismatches)
		fprintf(stderr, "policy of seed %llu:\n%s", (unsigned long long)seed, text);
	assert_int_equal(mismatches, 0);
	hv_fw_free(fw); /* frees prog and ir */
	hv_diags_free(&d);
	free(g.text);
}

static uint64_t
base_seed(void)
{
	const char *s = getenv("HV_FW_SEED");

	return s ? strtoull(s, NULL, 0) : 0x5eed0001;
}

static void
test_differential_small(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 40; i++)
		run_one(base_seed() + i, 1 + i % 12, 4000);
}

static void
test_differential_large(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 4; i++)
		run_one(base_seed() + 1000 + i, 300, 50000);
}

/* A fixed policy: what a reader of nist-800-125b expects, rule by rule. */
/* Classify P, its addresses SRC and DST (text), and assert that rule WANT decides (case I). */
static uint32_t
expect_rule(struct hv_fw *fw, struct hv_fw_pkt *p, const char *src, const char *dst,
	    const char *want, size_t i)
{
	const struct hv_fw_pkt *pp = p;
	int af = p->family == 4 ? AF_INET : AF_INET6;
	uint32_t r;

	assert_int_equal(inet_pton(af, src, p->src), 1);
	assert_int_equal(inet_pton(af, dst, p->dst), 1);
	hv_fw_classify(fw, &pp, 1, &r);
	if (strcmp(fw->rules[r].id, want) != 0)
		fprintf(stderr, "case %zu: got %s, want %s\n", i, fw->rules[r].id, want);
	assert_string_equal(fw->rules[r].id, want);
	return r;
}

static void
test_known_verdicts(void **state)
{
	static const char text[] =
		"segment mgmt { class management; subnet 10.10.0.0/24, fd00:10::/64 }\n"
		"segment app { class application; subnet 10.30.0.0/24; conn-limit 100 }\n"
		"set admins = { 10.10.0.10, fd00:10::10 }\n"
		"policy {\n"
		"  ssh: allow mgmt @admins -> any tcp/22\n"
		"  web: allow mgmt -> app tcp/80, tcp/8000-8080\n"
		"  ping: allow any -> any icmp/echo-request, icmpv6/echo-request\n"
		"  gre: reject app -> mgmt 47\n"
		"  default block log\n"
		"}\n";
	struct hv_diags d = {0};
	struct hv_prog *prog = hv_lang_parse_buffer("k.hvnet", text, sizeof(text) - 1, false, &d);
	struct hv_ir *ir = hv_lang_check(prog, &d);
	struct hv_fw *fw;
	char err[128];
	struct {
		uint8_t family, proto;
		uint16_t ss, ds;
		const char *src, *dst;
		uint16_t sport, dport;
		const char *want;
	} cases[] = {
		{4, 6, 0, 0, "10.10.0.10", "10.10.0.20", 40000, 22, "ssh"},
		{4, 6, 0, 0, "10.10.0.11", "10.10.0.20", 40000, 22, "default"},
		{6, 6, 0, 0, "fd00:10::10", "fd00:10::20", 40000, 22, "ssh"},
		{4, 6, 0, 1, "10.10.0.10", "10.30.0.5", 1, 22, "ssh"},
		{4, 6, 0, 1, "10.10.0.11", "10.30.0.5", 1, 8080, "web"},
		{4, 6, 0, 1, "10.10.0.11", "10.30.0.5", 1, 8081, "default"},
		{4, 17, 0, 1, "10.10.0.11", "10.30.0.5", 1, 80, "default"},
		{4, 1, 1, 0, "10.30.0.5", "10.10.0.1", 0, 8 << 8, "ping"},
		{4, 1, 1, 0, "10.30.0.5", "10.10.0.1", 0, 0 << 8, "default"},
		{6, 58, 1, 0, "fd00:30::5", "fd00:10::1", 0, 128 << 8, "ping"},
		{4, 47, 1, 0, "10.30.0.5", "10.10.0.1", 0, 0, "gre"},
		{4, 47, 0, 1, "10.10.0.1", "10.30.0.5", 0, 0, "default"},
		{4, 1, HV_FW_SEG_UNNAMED, HV_FW_SEG_UNNAMED, "10.99.0.1", "10.99.0.2", 0, 8 << 8,
		 "ping"},
		{4, 6, HV_FW_SEG_UNNAMED, 0, "10.10.0.10", "10.10.0.20", 1, 22, "default"},
	};

	(void)state;
	assert_non_null(ir);
	fw = hv_fw_build(prog, ir, 2, "known", err, sizeof(err));
	assert_non_null(fw);
	assert_int_equal(fw->seg_conn_limit[1], 100);
	assert_int_equal(fw->seg_mgmt[0], 1);
	assert_int_equal(fw->seg_mgmt[1], 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hv_fw_pkt p = {.family = cases[i].family,
				      .proto = cases[i].proto,
				      .src_seg = cases[i].ss,
				      .dst_seg = cases[i].ds,
				      .sport = cases[i].sport,
				      .dport = cases[i].dport};
		uint32_t r = expect_rule(fw, &p, cases[i].src, cases[i].dst, cases[i].want, i);

		hv_fw_count(fw, (unsigned)(i % 2), r, 100);
	}
	{
		struct hv_fw_counter c;

		hv_fw_rule_counters(fw, fw->n_rules, &c); /* the default */
		assert_int_equal(c.packets, 6);
		assert_int_equal(c.bytes, 600);
		assert_int_equal(fw->rules[fw->n_rules].action, HV_BLOCK);
		assert_true(fw->rules[fw->n_rules].log);
		assert_int_equal(fw->rules[3].action, HV_REJECT);
	}
	hv_fw_free(fw);
	hv_diags_free(&d);
}

/* Ingress-port terms: what a reader of the rules expects, in both families. */
static void
test_port_verdicts(void **state)
{
	static const char text[] =
		"segment app { subnet 10.30.0.0/24, fd00:30::/64 }\n"
		"policy {\n"
		"  a-web: allow port web-a -> app tcp/80\n"
		"  b-ssh: allow app 10.30.0.12 fd00:30::12 port web-b port web-c -> app tcp/22\n"
		"  no-web: block any -> app tcp/80\n"
		"  any-ssh: reject app -> app tcp/22\n"
		"  default allow\n"
		"}\n";
	struct hv_diags d = {0};
	struct hv_prog *prog = hv_lang_parse_buffer("p.hvnet", text, sizeof(text) - 1, false, &d);
	struct hv_ir *ir = hv_lang_check(prog, &d);
	struct hv_fw *fw;
	char err[128];
	struct {
		uint8_t family;
		const char *port, *src, *dst;
		uint16_t dport;
		const char *want;
	} cases[] = {
		{4, "web-a", "10.30.0.11", "10.30.0.20", 80, "a-web"},
		{6, "web-a", "fd00:30::11", "fd00:30::20", 80, "a-web"},
		/* another guest's port, even with web-a's address: not a-web */
		{4, "web-b", "10.30.0.11", "10.30.0.20", 80, "no-web"},
		{6, "web-b", "fd00:30::11", "fd00:30::20", 80, "no-web"},
		/* a port the policy does not name matches only rules without a port */
		{4, "other", "10.30.0.11", "10.30.0.20", 80, "no-web"},
		{4, "", "10.30.0.11", "10.30.0.20", 80, "no-web"},
		/* port and address narrow each other; the ports are alternatives */
		{4, "web-b", "10.30.0.12", "10.30.0.20", 22, "b-ssh"},
		{4, "web-c", "10.30.0.12", "10.30.0.20", 22, "b-ssh"},
		{6, "web-c", "fd00:30::12", "fd00:30::20", 22, "b-ssh"},
		{4, "web-a", "10.30.0.12", "10.30.0.20", 22, "any-ssh"},
		{4, "web-b", "10.30.0.13", "10.30.0.20", 22, "any-ssh"},
		{4, "web-a", "10.30.0.11", "10.30.0.20", 443, "default"},
	};

	(void)state;
	assert_non_null(ir);
	assert_int_equal(ir->n_ports, 3);
	fw = hv_fw_build(prog, ir, 1, "ports", err, sizeof(err));
	assert_non_null(fw);
	assert_int_equal(hv_fw_port_id(fw, "web-a"), 1);
	assert_int_equal(hv_fw_port_id(fw, "web-c"), 3);
	assert_int_equal(hv_fw_port_id(fw, "other"), 0);
	assert_int_equal(hv_fw_port_id(NULL, "web-a"), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hv_fw_pkt p = {.family = cases[i].family,
				      .proto = 6,
				      .src_seg = 0,
				      .dst_seg = 0,
				      .sport = 40000,
				      .dport = cases[i].dport,
				      .in_port = hv_fw_port_id(fw, cases[i].port)};

		expect_rule(fw, &p, cases[i].src, cases[i].dst, cases[i].want, i);
	}
	hv_fw_free(fw);
	hv_diags_free(&d);
}

/* EAL leaves /var/run/dpdk/PREFIX behind, and each run has a prefix of its own */
static void
eal_rundir_remove(const char *rundir)
{
	DIR *d = opendir(rundir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(rundir);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {argv[0], "--no-huge",	  "--no-pci",	 "-m",
		       "512",	"--log-level",	  "lib.*:error", "--file-prefix",
		       prefix,	"--no-telemetry", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_verdicts),
		cmocka_unit_test(test_port_verdicts),
		cmocka_unit_test(test_differential_small),
		cmocka_unit_test(test_differential_large),
	};

	(void)argc;
	/* a prefix of this process's own: two checkouts may run the tests at once */
	snprintf(prefix, sizeof(prefix), "hv_test_fw_classify_%d", (int)getpid());
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	{
		char rundir[256];
		int rc = cmocka_run_group_tests(tests, NULL, NULL);

		snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		eal_rundir_remove(rundir);
		return rc;
	}
}
