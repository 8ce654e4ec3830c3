/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the segment gateways: the learned neighbour table
 * (vswitch/neigh.c), port security decisions (vswitch/portsec.c), the TTL
 * decrement (packet/packet.c), and the gateway stage (vswitch/gateway.c)
 * built from a policy text: routes, declared bindings, ARP/NS answers, ICMP
 * errors, the rewrite of a routed frame. Frames are built by hand; answers
 * are checked by parsing them as a guest would.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_malloc.h>

#include "firewall/classify.h"
#include "firewall/lang/lang.h"
#include "packet/packet.h"
#include "packet/reply.h"
#include "vswitch/gateway.h"
#include "vswitch/neigh.h"
#include "vswitch/portsec.h"
#include "vswitch/vswitch.h"

/* ---- frames ---- */

struct frame {
	uint8_t b[1600];
	uint32_t len;
};

static const uint8_t MAC_A[6] = {0x52, 0x54, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x52, 0x54, 0, 0, 0, 0x0b};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void
put(struct frame *f, const void *p, uint32_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(f, b, 2);
}

static void
ip4(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void
ip6(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static uint16_t
csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (; n >= 2; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
eth(struct frame *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	f->len = 0;
	put(f, dst, 6);
	put(f, src, 6);
	put16(f, type);
}

static void
arp(struct frame *f, const uint8_t *src, uint16_t op, const uint8_t *sha, const char *spa,
    const char *tpa)
{
	uint8_t a[4], zero[6] = {0};

	eth(f, op == 1 ? BCAST : MAC_B, src, 0x0806);
	put16(f, 1);
	put16(f, 0x0800);
	put(f, (uint8_t[]){6, 4}, 2);
	put16(f, op);
	put(f, sha, 6);
	ip4(spa, a);
	put(f, a, 4);
	put(f, zero, 6);
	ip4(tpa, a);
	put(f, a, 4);
}

/* IPv4 ICMP echo request with a valid header checksum */
static void
echo4(struct frame *f, const uint8_t *dst_mac, const uint8_t *src_mac, const char *src,
      const char *dst, uint8_t ttl, uint8_t proto)
{
	uint8_t h[20] = {0x45, 0, 0, 28, 0, 1, 0x40, 0, ttl, proto};
	uint8_t icmp[8] = {8, 0, 0, 0, 0, 7, 0, 1};
	uint16_t c;

	eth(f, dst_mac, src_mac, 0x0800);
	ip4(src, h + 12);
	ip4(dst, h + 16);
	c = csum(h, 20, 0);
	h[10] = (uint8_t)(c >> 8);
	h[11] = (uint8_t)c;
	put(f, h, 20);
	c = csum(icmp, 8, 0);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	put(f, icmp, 8);
}

/* IPv4 UDP (for DHCP) */
static void
udp4(struct frame *f, const uint8_t *src_mac, const char *src, const char *dst, uint16_t sport,
     uint16_t dport)
{
	uint8_t h[20] = {0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17};

	eth(f, BCAST, src_mac, 0x0800);
	ip4(src, h + 12);
	ip4(dst, h + 16);
	put(f, h, 20);
	put16(f, sport);
	put16(f, dport);
	put16(f, 8);
	put16(f, 0);
}

/* IPv6 with an ICMPv6 message TYPE (NS/NA with TARGET, or an echo) */
static void
icmp6(struct frame *f, const uint8_t *dst_mac, const uint8_t *src_mac, const char *src,
      const char *dst, uint8_t hop, uint8_t type, const char *target)
{
	uint8_t h[40] = {0x60, 0, 0, 0, 0, 0, 58, hop};
	uint8_t m[32] = {type};
	uint16_t plen = target ? 24 : 8;

	eth(f, dst_mac, src_mac, 0x86dd);
	h[4] = (uint8_t)(plen >> 8);
	h[5] = (uint8_t)plen;
	ip6(src, h + 8);
	ip6(dst, h + 24);
	put(f, h, 40);
	if (target)
		ip6(target, m + 8);
	put(f, m, plen);
}

static void
parse(const struct frame *f, struct hv_pkt_meta *m)
{
	assert_int_equal(hv_pkt_parse(f->b, f->len, m), HV_DROP_NONE);
}

/* ---- the neighbour table ---- */

static void
neigh_table(void **state)
{
	struct hv_neigh_table *t = hv_neigh_create(8, 0);
	struct hv_neigh_entry e;
	uint8_t a[16] = {10, 0, 0, 1}, b[16];
	int n = 0;

	(void)state;
	assert_non_null(t);
	assert_int_equal(hv_neigh_capacity(t), 8);
	assert_int_equal(hv_neigh_learn(t, 1, 4, a, MAC_A, 3, 100), 1);
	assert_int_equal(hv_neigh_learn(t, 1, 4, a, MAC_B, 4, 110), 0); /* moved */
	assert_int_equal(hv_neigh_lookup(t, 1, 4, a, 120, 0, &e), 0);
	assert_memory_equal(e.mac, MAC_B, 6);
	assert_int_equal(e.port, 4);
	/* segments are separate; families too */
	assert_int_equal(hv_neigh_lookup(t, 2, 4, a, 120, 0, &e), -ENOENT);
	assert_int_equal(hv_neigh_lookup(t, 1, 6, a, 120, 0, &e), -ENOENT);
	assert_int_equal(hv_neigh_learn(t, 1, 5, a, MAC_A, 3, 100), -EINVAL);
	/* too old */
	assert_int_equal(hv_neigh_lookup(t, 1, 4, a, 200, 50, &e), -ENOENT);
	assert_int_equal(hv_neigh_lookup(t, 1, 4, a, 150, 50, &e), 0);
	/* bounded: 100 addresses in an 8-slot table keep at most 8, the newest of each set */
	for (unsigned i = 0; i < 100; i++) {
		memset(b, 0, sizeof(b));
		b[0] = 10;
		b[3] = (uint8_t)(i + 2);
		assert_true(hv_neigh_learn(t, 1, 4, b, MAC_A, 3, 1000 + i) >= 0);
	}
	assert_int_equal(hv_neigh_lookup(t, 1, 4, b, 2000, 0, &e), 0); /* the last one */
	n = (int)hv_neigh_flush(t, 2);
	assert_int_equal(n, 0);
	n = (int)hv_neigh_flush(t, -1);
	assert_true(n > 0 && n <= 8);
	assert_int_equal(hv_neigh_lookup(t, 1, 4, b, 2000, 0, &e), -ENOENT);
	hv_neigh_free(t);

	/* a port's share: 3 entries behind port 5, the 4th refused, others still learn */
	t = hv_neigh_create(64, 3);
	assert_non_null(t);
	for (unsigned i = 0; i < 4; i++) {
		memset(b, 0, sizeof(b));
		b[0] = 10;
		b[3] = (uint8_t)(i + 1);
		assert_int_equal(hv_neigh_learn(t, 1, 4, b, MAC_A, 5, 10), i < 3 ? 1 : -ENOSPC);
	}
	assert_int_equal(hv_neigh_port_count(t, 5), 3);
	assert_int_equal(hv_neigh_learn(t, 1, 4, b, MAC_B, 6, 10), 1);
	/* a refresh is no new entry; a move to a full port is refused */
	b[3] = 1;
	assert_int_equal(hv_neigh_learn(t, 1, 4, b, MAC_A, 5, 11), 0);
	b[3] = 4;
	assert_int_equal(hv_neigh_learn(t, 1, 4, b, MAC_A, 5, 12), -ENOSPC);
	assert_int_equal(hv_neigh_flush(t, 1), 4);
	assert_int_equal(hv_neigh_port_count(t, 5), 0);
	assert_int_equal(hv_neigh_port_count(t, 6), 0);
	hv_neigh_free(t);
}

/* ---- port security ---- */

static void
psec_setup(struct hv_portsec *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->on = true;
	ps->has_mac = true;
	memcpy(ps->mac, MAC_A, 6);
	hv_pkt_ll6_of_mac(MAC_A, ps->ll6);
	ip4("10.0.0.5", ps->ip4[0]);
	ps->n4 = 1;
	ip6("fd00::5", ps->ip6[0]);
	ps->n6 = 1;
}

static enum hv_drop_reason
check(const struct hv_portsec *ps, const struct frame *f)
{
	struct hv_pkt_meta m;

	parse(f, &m);
	return hv_portsec_check(ps, f->b, f->len, &m);
}

static void
portsec_decisions(void **state)
{
	struct hv_portsec ps;
	struct frame f;
	char ll[64];
	uint8_t lla[16];

	(void)state;
	psec_setup(&ps);
	echo4(&f, MAC_B, MAC_A, "10.0.0.5", "10.0.0.9", 64, 1);
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	echo4(&f, MAC_B, MAC_B, "10.0.0.5", "10.0.0.9", 64, 1);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_MAC);
	echo4(&f, MAC_B, MAC_A, "10.0.0.6", "10.0.0.9", 64, 1);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_IP);
	/* DHCP from 0.0.0.0 to the server port only */
	udp4(&f, MAC_A, "0.0.0.0", "255.255.255.255", 68, 67);
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	udp4(&f, MAC_A, "0.0.0.0", "255.255.255.255", 68, 53);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_IP);
	/* ARP: a reply forged for another address, a sender MAC that is not ours */
	arp(&f, MAC_A, 2, MAC_A, "10.0.0.6", "10.0.0.9");
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_ARP);
	arp(&f, MAC_A, 2, MAC_A, "10.0.0.5", "10.0.0.9");
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	arp(&f, MAC_A, 1, MAC_B, "10.0.0.5", "10.0.0.9");
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_ARP);
	arp(&f, MAC_A, 1, MAC_A, "0.0.0.0", "10.0.0.5"); /* an RFC 5227 probe */
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	/* IPv6: bound, the MAC's link-local, another link-local, DAD from :: */
	icmp6(&f, MAC_B, MAC_A, "fd00::5", "fd00::9", 64, 128, NULL);
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	hv_pkt_ll6_of_mac(MAC_A, lla);
	inet_ntop(AF_INET6, lla, ll, sizeof(ll));
	assert_string_equal(ll, "fe80::5054:ff:fe00:a");
	icmp6(&f, MAC_B, MAC_A, ll, "fe80::9", 64, 128, NULL);
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	icmp6(&f, MAC_B, MAC_A, "fe80::1", "fe80::9", 64, 128, NULL);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_IP);
	icmp6(&f, MAC_B, MAC_A, "fd00::6", "fd00::9", 64, 128, NULL);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_IP);
	icmp6(&f, MAC_B, MAC_A, "::", "ff02::1:ff00:5", 255, 135, "fd00::5");
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	icmp6(&f, MAC_B, MAC_A, "::", "fd00::9", 64, 128, NULL);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_IP);
	/* unsolicited NA: for our address fine, for another's not */
	icmp6(&f, MAC_B, MAC_A, "fd00::5", "ff02::1", 255, 136, "fd00::5");
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	icmp6(&f, MAC_B, MAC_A, "fd00::5", "ff02::1", 255, 136, "fd00::6");
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_ND);
	/* off: anything goes */
	ps.on = false;
	echo4(&f, MAC_B, MAC_B, "10.0.0.6", "10.0.0.9", 64, 1);
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	/* only a MAC bound: addresses are not checked, the MAC is */
	psec_setup(&ps);
	ps.n4 = ps.n6 = 0;
	echo4(&f, MAC_B, MAC_A, "10.0.0.77", "10.0.0.9", 64, 1);
	assert_int_equal(check(&ps, &f), HV_DROP_NONE);
	echo4(&f, MAC_B, MAC_B, "10.0.0.77", "10.0.0.9", 64, 1);
	assert_int_equal(check(&ps, &f), HV_DROP_PORTSEC_MAC);
}

static enum hv_drop_reason
lock_check(struct hv_portsec_lock *l, const struct frame *f)
{
	struct hv_pkt_meta m;

	parse(f, &m);
	return hv_portsec_lock_check(l, f->b, f->len, &m);
}

static void
portsec_learn_and_lock(void **state)
{
	struct hv_portsec_lock l;
	struct hv_portsec ps;
	struct frame f;
	uint8_t a[16];

	(void)state;
	memset(&l, 0, sizeof(l));
	/* a DHCP discover locks the MAC, not an address */
	udp4(&f, MAC_A, "0.0.0.0", "255.255.255.255", 68, 67);
	assert_int_equal(lock_check(&l, &f), HV_DROP_NONE);
	hv_portsec_of_lock(&l, &ps);
	assert_true(ps.on && ps.has_mac);
	assert_int_equal(ps.n4, 0);
	echo4(&f, MAC_B, MAC_A, "10.0.0.5", "10.0.0.9", 64, 1);
	assert_int_equal(lock_check(&l, &f), HV_DROP_NONE);
	hv_portsec_of_lock(&l, &ps);
	assert_int_equal(ps.n4, 1);
	ip4("10.0.0.5", a);
	assert_memory_equal(ps.ip4[0], a, 4);
	/* locked: another MAC, another address, a forged ARP */
	echo4(&f, MAC_B, MAC_B, "10.0.0.5", "10.0.0.9", 64, 1);
	assert_int_equal(lock_check(&l, &f), HV_DROP_PORTSEC_MAC);
	echo4(&f, MAC_B, MAC_A, "10.0.0.6", "10.0.0.9", 64, 1);
	assert_int_equal(lock_check(&l, &f), HV_DROP_PORTSEC_IP);
	arp(&f, MAC_A, 2, MAC_A, "10.0.0.6", "10.0.0.9");
	assert_int_equal(lock_check(&l, &f), HV_DROP_PORTSEC_ARP);
	/* IPv6: link-local of the locked MAC passes and locks nothing; the first global locks */
	hv_pkt_ll6_of_mac(MAC_A, a);
	{
		char ll[64];

		inet_ntop(AF_INET6, a, ll, sizeof(ll));
		icmp6(&f, MAC_B, MAC_A, ll, "fe80::9", 64, 128, NULL);
		assert_int_equal(lock_check(&l, &f), HV_DROP_NONE);
	}
	icmp6(&f, MAC_B, MAC_A, "fd00::5", "fd00::9", 64, 128, NULL);
	assert_int_equal(lock_check(&l, &f), HV_DROP_NONE);
	icmp6(&f, MAC_B, MAC_A, "fd00::6", "fd00::9", 64, 128, NULL);
	assert_int_equal(lock_check(&l, &f), HV_DROP_PORTSEC_IP);
	icmp6(&f, MAC_B, MAC_A, "fe80::1", "fe80::9", 64, 128, NULL);
	assert_int_equal(lock_check(&l, &f), HV_DROP_PORTSEC_IP);
}

/* ---- TTL ---- */

static void
ttl_decrement(void **state)
{
	struct frame f;
	struct hv_pkt_meta m;

	(void)state;
	for (unsigned ttl = 2; ttl < 256; ttl += 37) {
		echo4(&f, MAC_B, MAC_A, "10.0.0.5", "192.168.255.254", (uint8_t)ttl, 1);
		parse(&f, &m);
		assert_int_equal(hv_pkt_ttl_dec(f.b, f.len, &m), 0);
		assert_int_equal(f.b[14 + 8], ttl - 1);
		assert_int_equal(csum(f.b + 14, 20, 0), 0); /* the header still sums */
	}
	echo4(&f, MAC_B, MAC_A, "10.0.0.5", "10.0.0.9", 1, 1);
	parse(&f, &m);
	assert_int_equal(hv_pkt_ttl_dec(f.b, f.len, &m), -EINVAL);
	icmp6(&f, MAC_B, MAC_A, "fd00::5", "fd00::9", 2, 128, NULL);
	parse(&f, &m);
	assert_int_equal(hv_pkt_ttl_dec(f.b, f.len, &m), 0);
	assert_int_equal(f.b[14 + 7], 1);
	assert_int_equal(hv_pkt_ttl_dec(f.b, f.len, &m), -EINVAL);
	/* a frame cut short is refused, not read past */
	assert_int_equal(hv_pkt_ttl_dec(f.b, 30, &m), -EINVAL);
}

/* ---- the gateway stage, from a policy ---- */

static const char policy[] =
	"segment a { subnet 10.1.0.0/24, fd00:1::/64; gateway 10.1.0.1, fd00:1::1; "
	"router-advertisements }\n"
	"segment b { subnet 10.2.0.0/24, fd00:2::/64; gateway 10.2.0.1, fd00:2::1 }\n"
	"segment c { subnet 10.3.0.0/24 }\n"
	"guest hb { kind netns; nic eth0 { segment b; mac 52:54:00:00:00:0b; ip 10.2.0.5/24 } }\n"
	"policy { default allow }\n";

struct gw_fixture {
	struct hv_switch *sw;
	struct hv_fw *fw;
	struct hv_gw *gw;
	struct hv_neigh_table *nt;
};

static int
gw_setup(void **state)
{
	struct gw_fixture *x = calloc(1, sizeof(*x));
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir;
	char err[256];
	const char *names[] = {"a", "b", "c"};

	x->sw = calloc(1, sizeof(*x->sw));
	for (unsigned i = 0; i < 3; i++) {
		x->sw->segments[i] = calloc(1, sizeof(struct hv_sw_segment));
		snprintf(x->sw->segments[i]->name, HV_NAME_MAX, "%s", names[i]);
		x->sw->segments[i]->id = (uint16_t)i;
	}
	x->sw->ports[0] = calloc(1, sizeof(struct hv_port));
	snprintf(x->sw->ports[0]->name, HV_NAME_MAX, "hb");
	x->sw->ports[0]->segment = 1;
	prog = hv_lang_parse_buffer("gw.hvnet", policy, strlen(policy), false, &d);
	ir = hv_lang_check(prog, &d);
	if (ir == NULL)
		hv_diags_print(stderr, &d);
	assert_non_null(ir);
	x->fw = hv_fw_build(prog, ir, 1, "gwtest", err, sizeof(err));
	assert_non_null(x->fw);
	x->gw = hv_gw_build(x->sw, x->fw, 1, err, sizeof(err));
	if (x->gw == NULL)
		fprintf(stderr, "%s\n", err);
	assert_non_null(x->gw);
	x->nt = hv_neigh_create(64, 0);
	hv_diags_free(&d);
	*state = x;
	return 0;
}

static int
gw_teardown(void **state)
{
	struct gw_fixture *x = *state;

	hv_gw_free(x->gw);
	hv_fw_free(x->fw);
	hv_neigh_free(x->nt);
	for (unsigned i = 0; i < 3; i++)
		free(x->sw->segments[i]);
	free(x->sw->ports[0]);
	free(x->sw);
	free(x);
	return 0;
}

static enum hv_gw_verdict
ingress(struct gw_fixture *x, uint16_t seg, uint16_t port, const struct frame *f, uint16_t *dseg,
	enum hv_drop_reason *why, struct frame *out)
{
	struct hv_pkt_meta m;
	struct hv_gw_counters cnt = {0};
	size_t n;
	enum hv_gw_verdict v;

	parse(f, &m);
	v = hv_gw_ingress(x->gw, x->nt, seg, port, f->b, f->len, &m, 1000, &cnt, dseg, why, out->b,
			  &n);
	out->len = (uint32_t)n;
	return v;
}

static void
gw_routes_and_bindings(void **state)
{
	struct gw_fixture *x = *state;
	uint8_t a[16];
	const struct hv_gw_bind *b;

	ip4("10.2.0.77", a);
	assert_int_equal(hv_gw_route_lookup(x->gw, 4, a), 1);
	ip4("10.3.0.7", a);
	assert_int_equal(hv_gw_route_lookup(x->gw, 4, a), 2); /* a segment without a gateway */
	ip4("10.9.0.1", a);
	assert_int_equal(hv_gw_route_lookup(x->gw, 4, a), -1);
	ip6("fd00:2::9", a);
	assert_int_equal(hv_gw_route_lookup(x->gw, 6, a), 1);
	ip4("10.2.0.5", a);
	b = hv_gw_bind_find(x->gw, 1, 4, a);
	assert_non_null(b);
	assert_memory_equal(b->mac, MAC_B, 6);
	assert_int_equal(b->port, 0);
	assert_null(hv_gw_bind_find(x->gw, 0, 4, a));
	assert_true(x->gw->seg[0].on && x->gw->seg[1].on && !x->gw->seg[2].on);
	assert_int_equal(x->gw->seg[0].mac[0], 0x02);
	/* the NIC's port is checked */
	assert_true(x->gw->psec[0].on);
	assert_int_equal(x->gw->psec[0].n4, 1);
}

static void
gw_answers(void **state)
{
	struct gw_fixture *x = *state;
	struct frame f, out;
	struct hv_pkt_meta m;
	uint16_t dseg = 0;
	enum hv_drop_reason why;
	uint8_t t[16], a[4];
	struct hv_neigh_entry e;

	/* ARP for the gateway: answered with its MAC, and the asker is learned */
	arp(&f, MAC_A, 1, MAC_A, "10.1.0.9", "10.1.0.1");
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_NONE);
	parse(&out, &m);
	assert_int_equal(m.arp_op, 2);
	assert_memory_equal(m.src_mac, x->gw->seg[0].mac, 6);
	assert_memory_equal(m.dst_mac, MAC_A, 6);
	ip4("10.1.0.1", a);
	assert_memory_equal(m.src_ip, a, 4);
	ip4("10.1.0.9", a);
	assert_int_equal(hv_neigh_lookup(x->nt, 0, 4, a, 1000, 0, &e), 0);
	assert_memory_equal(e.mac, MAC_A, 6);
	/* an ARP from an address outside the segment teaches nothing */
	arp(&f, MAC_A, 1, MAC_A, "10.2.0.99", "10.1.0.7");
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_PASS);
	ip4("10.2.0.99", a);
	assert_int_equal(hv_neigh_lookup(x->nt, 0, 4, a, 1000, 0, &e), -ENOENT);
	/* ARP for a bound guest: suppressed (answered with its MAC) unless it asks itself */
	arp(&f, MAC_A, 1, MAC_A, "10.2.0.9", "10.2.0.5");
	assert_int_equal(ingress(x, 1, 7, &f, &dseg, &why, &out), HV_GW_DONE);
	parse(&out, &m);
	assert_memory_equal(m.src_mac, MAC_B, 6);
	assert_int_equal(ingress(x, 1, 0, &f, &dseg, &why, &out), HV_GW_PASS);
	/* ARP for an unknown guest floods as before */
	arp(&f, MAC_A, 1, MAC_A, "10.2.0.9", "10.2.0.6");
	assert_int_equal(ingress(x, 1, 7, &f, &dseg, &why, &out), HV_GW_PASS);
	/* NS for the gateway: an NA with the router flag */
	icmp6(&f, (const uint8_t[]){0x33, 0x33, 0xff, 0, 0, 1}, MAC_A, "fd00:1::9",
	      "ff02::1:ff00:1", 255, 135, "fd00:1::1");
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	parse(&out, &m);
	assert_int_equal(m.icmp_type, 136);
	assert_true(hv_pkt_nd_target(out.b, out.len, &m, t));
	{
		uint8_t want[16];

		ip6("fd00:1::1", want);
		assert_memory_equal(t, want, 16);
	}
	assert_int_equal(out.b[14 + 40 + 4] & 0xe0, 0xe0); /* router, solicited, override */
	/* a router solicitation: a router advertisement where the file asks for them */
	icmp6(&f, (const uint8_t[]){0x33, 0x33, 0, 0, 0, 2}, MAC_A, "fe80::9", "ff02::2", 255, 133,
	      NULL);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	parse(&out, &m);
	assert_int_equal(m.icmp_type, 134);
	assert_int_equal(m.ttl, 255);
	assert_memory_equal(m.dst_mac, MAC_A, 6);
	assert_memory_equal(m.src_ip, x->gw->seg[0].ll6, 16);
	assert_int_equal(out.len, 14 + 40 + 16 + 8 + 32); /* one prefix: fd00:1::/64 */
	assert_int_equal(ingress(x, 1, 7, &f, &dseg, &why, &out), HV_GW_PASS); /* b: none */
	/* an NS with a hop limit other than 255 is not from the link: not answered */
	icmp6(&f, (const uint8_t[]){0x33, 0x33, 0xff, 0, 0, 1}, MAC_A, "fd00:1::9",
	      "ff02::1:ff00:1", 64, 135, "fd00:1::1");
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_PASS);
}

static void
gw_routing(void **state)
{
	struct gw_fixture *x = *state;
	const uint8_t *gwmac = x->gw->seg[0].mac;
	struct frame f, out;
	struct hv_pkt_meta m, om;
	uint16_t dseg = 0;
	enum hv_drop_reason why;
	uint8_t a[16];

	/* to a guest of another segment: routed */
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.2.0.5", 64, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_ROUTE);
	assert_int_equal(dseg, 1);
	parse(&f, &m);
	assert_int_equal(hv_gw_route_out(x->gw, x->nt, dseg, f.b, f.len, &m, 1000, 0), 0);
	assert_memory_equal(f.b, MAC_B, 6);		    /* the bound guest's MAC */
	assert_memory_equal(f.b + 6, x->gw->seg[1].mac, 6); /* from b's gateway */
	assert_int_equal(f.b[14 + 8], 63);
	assert_int_equal(csum(f.b + 14, 20, 0), 0);
	/* an unknown guest: -ENOENT until it is learned */
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.2.0.77", 64, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_ROUTE);
	parse(&f, &m);
	assert_int_equal(hv_gw_route_out(x->gw, x->nt, dseg, f.b, f.len, &m, 1000, 0), -ENOENT);
	ip4("10.2.0.77", a);
	assert_int_equal(hv_gw_route_resolve(x->gw, x->nt, 1, 4, a, f.b, 1000, 0), -ENOENT);
	assert_int_equal(hv_neigh_learn(x->nt, 1, 4, a, MAC_A, 9, 1000), 1);
	assert_int_equal(hv_gw_route_resolve(x->gw, x->nt, 1, 4, a, f.b, 1000, 0), 0);
	assert_memory_equal(f.b, MAC_A, 6);
	/* the gateway's ARP request for it */
	out.len = (uint32_t)hv_gw_solicit(x->gw, 1, 4, a, out.b, sizeof(out.b));
	assert_int_equal(out.len, 42);
	parse(&out, &om);
	assert_int_equal(om.arp_op, 1);
	assert_memory_equal(om.dst_ip, a, 4);
	ip6("fd00:2::77", a);
	out.len = (uint32_t)hv_gw_solicit(x->gw, 1, 6, a, out.b, sizeof(out.b));
	assert_int_equal(out.len, 86);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 135);
	assert_int_equal(out.b[0], 0x33);
	assert_int_equal(out.b[5], 0x77); /* the solicited-node group */
	assert_int_equal(hv_gw_solicit(x->gw, 2, 4, a, out.b, sizeof(out.b)), 0);

	/* TTL 1: time exceeded from the gateway's address */
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.2.0.5", 1, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_GW_TTL);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 11);
	ip4("10.1.0.1", a);
	assert_memory_equal(om.src_ip, a, 4);
	/* no segment, or a segment without a gateway: net unreachable */
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.9.0.5", 64, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_GW_NO_ROUTE);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 3);
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.3.0.5", 64, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_GW_NO_ROUTE);
	/* IPv6: routed, hop limit 1 gets ICMPv6 time exceeded */
	icmp6(&f, gwmac, MAC_A, "fd00:1::9", "fd00:2::5", 64, 128, NULL);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_ROUTE);
	assert_int_equal(dseg, 1);
	icmp6(&f, gwmac, MAC_A, "fd00:1::9", "fd00:2::5", 1, 128, NULL);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_GW_TTL);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 3);
	/* from a link-local source: never routed (RFC 4291 2.5.6), ICMPv6
	 * beyond scope (1/2) back from the gateway's link-local address */
	icmp6(&f, gwmac, MAC_A, "fe80::9", "fd00:2::5", 64, 128, NULL);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_GW_SCOPE);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 1);
	assert_int_equal(om.icmp_code, 2);
	assert_memory_equal(om.src_ip, x->gw->seg[0].ll6, 16);
	ip6("fe80::9", a);
	assert_memory_equal(om.dst_ip, a, 16);
	/* a ping of the gateway: answered from its address */
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.1.0.1", 64, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_NONE);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 0);
	ip4("10.1.0.1", a);
	assert_memory_equal(om.src_ip, a, 4);
	assert_memory_equal(om.dst_mac, MAC_A, 6);
	assert_int_equal(csum(out.b + 14 + 20, out.len - 34, 0), 0);
	icmp6(&f, gwmac, MAC_A, "fd00:1::9", "fd00:1::1", 64, 128, NULL);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_NONE);
	parse(&out, &om);
	assert_int_equal(om.icmp_type, 129);
	/* anything else for the gateway itself: dropped, named */
	echo4(&f, gwmac, MAC_A, "10.1.0.9", "10.1.0.1", 64, 47);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_DONE);
	assert_int_equal(why, HV_DROP_GW_LOCAL);
	/* not to the gateway's MAC: switched */
	echo4(&f, MAC_B, MAC_A, "10.1.0.9", "10.2.0.5", 64, 1);
	assert_int_equal(ingress(x, 0, 5, &f, &dseg, &why, &out), HV_GW_PASS);
}

/* ---- frames from a remote VTEP: what a remote gateway sent (docs/overlay.md) ---- */

static void
gw_from_vtep(void **state)
{
	struct gw_fixture *x = *state;
	const uint8_t *gwb = x->gw->seg[1].mac; /* b's gateway: the same MAC on every host */
	const uint64_t both = 3, only_b = 2;
	struct frame f, g;
	uint16_t src = 99;
	uint8_t a[16];

	/* a guest's frame: switched as any */
	echo4(&f, MAC_B, MAC_A, "10.2.0.9", "10.2.0.5", 64, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_PASS);
	assert_int_equal(src, 1);
	/* routed by the remote gateway from a into b: its source segment is a */
	echo4(&f, MAC_B, gwb, "10.1.0.9", "10.2.0.5", 63, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_ROUTED);
	assert_int_equal(src, 0);
	icmp6(&f, MAC_B, gwb, "fd00:1::9", "fd00:2::5", 63, 128, NULL);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_ROUTED);
	assert_int_equal(src, 0);
	/* ... but not from a VTEP that does not carry a */
	echo4(&f, MAC_B, gwb, "10.1.0.9", "10.2.0.5", 63, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, only_b, &src), HV_GW_VTEP_SPOOF);
	/* a source in the frame's own segment, in no segment, in one without a gateway */
	echo4(&f, MAC_B, gwb, "10.2.0.9", "10.2.0.5", 63, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_SPOOF);
	echo4(&f, MAC_B, gwb, "192.168.1.1", "10.2.0.5", 63, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_SPOOF);
	echo4(&f, MAC_B, gwb, "10.3.0.5", "10.2.0.5", 63, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, 7, &src), HV_GW_VTEP_SPOOF);
	icmp6(&f, MAC_B, gwb, "fe80::1", "fd00:2::5", 63, 128, NULL);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_SPOOF);
	/* the gateway's own ARP request and NS, as hv_gw_solicit builds them */
	ip4("10.2.0.77", a);
	g.len = (uint32_t)hv_gw_solicit(x->gw, 1, 4, a, g.b, sizeof(g.b));
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, g.b, g.len, both, &src), HV_GW_VTEP_OWN);
	assert_int_equal(src, 1);
	/* ... and a forged one: not from the gateway's address, or a reply */
	arp(&f, gwb, 1, gwb, "10.2.0.8", "10.2.0.77");
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_SPOOF);
	arp(&f, gwb, 1, gwb, "10.2.0.1", "10.2.0.77");
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_OWN);
	arp(&f, gwb, 2, gwb, "10.2.0.1", "10.2.0.77");
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_SPOOF);
	ip6("fd00:2::77", a);
	g.len = (uint32_t)hv_gw_solicit(x->gw, 1, 6, a, g.b, sizeof(g.b));
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, g.b, g.len, both, &src), HV_GW_VTEP_OWN);
	/* a guest's answer to the gateway: a neighbour for every host's gateway */
	arp(&f, MAC_A, 2, MAC_A, "10.2.0.77", "10.2.0.1");
	memcpy(f.b, gwb, 6);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_NEIGH);
	icmp6(&f, gwb, MAC_A, "fd00:2::77", "fe80::1", 255, 136, "fd00:2::77");
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_NEIGH);
	echo4(&f, gwb, MAC_A, "10.2.0.77", "10.1.0.5", 64, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_PASS);
	/* the gateway never sends a tagged frame, nor anything but IP and ARP */
	echo4(&f, MAC_B, gwb, "10.1.0.9", "10.2.0.5", 63, 1);
	memmove(f.b + 16, f.b + 12, f.len - 12);
	f.b[12] = 0x81;
	f.b[13] = 0;
	f.b[14] = 0;
	f.b[15] = 5;
	f.len += 4;
	assert_int_equal(hv_gw_from_vtep(x->gw, 1, f.b, f.len, both, &src), HV_GW_VTEP_SPOOF);
	/* a segment without a gateway, or none at all: nothing to recognise */
	echo4(&f, MAC_B, gwb, "10.1.0.9", "10.3.0.5", 63, 1);
	assert_int_equal(hv_gw_from_vtep(x->gw, 2, f.b, f.len, both, &src), HV_GW_VTEP_PASS);
	assert_int_equal(hv_gw_from_vtep(x->gw, 1000, f.b, f.len, both, &src), HV_GW_VTEP_PASS);
	/* cut short anywhere: decided from what is there, never read past it */
	echo4(&f, MAC_B, gwb, "10.1.0.9", "10.2.0.5", 63, 1);
	for (uint32_t n = 0; n < f.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		enum hv_gw_vtep_verdict v;

		memcpy(copy, f.b, n);
		v = hv_gw_from_vtep(x->gw, 1, copy, n, both, &src);
		assert_int_equal(v, n < 14   ? HV_GW_VTEP_PASS
				    : n < 34 ? HV_GW_VTEP_SPOOF
					     : HV_GW_VTEP_ROUTED);
		free(copy);
	}
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
	char *eal[] = {argv[0],
		       "--no-huge",
		       "-m",
		       "256",
		       "--no-pci",
		       "--no-telemetry",
		       "--log-level=error",
		       "--file-prefix",
		       prefix,
		       "-l",
		       "0",
		       NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(neigh_table),
		cmocka_unit_test(portsec_decisions),
		cmocka_unit_test(portsec_learn_and_lock),
		cmocka_unit_test(ttl_decrement),
		cmocka_unit_test_setup_teardown(gw_routes_and_bindings, gw_setup, gw_teardown),
		cmocka_unit_test_setup_teardown(gw_answers, gw_setup, gw_teardown),
		cmocka_unit_test_setup_teardown(gw_routing, gw_setup, gw_teardown),
		cmocka_unit_test_setup_teardown(gw_from_vtep, gw_setup, gw_teardown),
	};
	int rc;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "hvtest-gw-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(prefix, sizeof(prefix), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	eal_rundir_remove(prefix);
	return rc;
}
