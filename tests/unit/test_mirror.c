/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mirror sessions without a switch: a hand-made datapath view, real
 * sessions (filter, writer, files), frames tapped as the pipeline would tap
 * them; the files are read back block by block and checked byte for byte.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcap/pcap.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "vswitch/mirror.h"

/* Port names as the switch holds them: HV_MIRROR_NAME_MAX bytes, which the tap copies whole */
static const char WEB1[HV_MIRROR_NAME_MAX] = "web1";
static const char DB1[HV_MIRROR_NAME_MAX] = "db1";

static char tmpdir[64];
static struct rte_mempool *pool;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* An Ethernet/IPv4/TCP (proto 6) or UDP (17) frame of LEN bytes to DPORT. */
static size_t
frame(uint8_t *f, size_t len, uint8_t proto, uint16_t dport, uint8_t tag)
{
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	uint16_t ip_len = (uint16_t)(len - 14);

	memset(f, tag, len);
	memcpy(f, eth, 14);
	f[14] = 0x45;
	f[15] = 0;
	f[16] = (uint8_t)(ip_len >> 8);
	f[17] = (uint8_t)ip_len;
	f[18] = f[19] = f[20] = f[21] = 0;
	f[22] = 64;
	f[23] = proto;
	f[24] = f[25] = 0;
	memcpy(f + 26, (uint8_t[]){10, 30, 0, 11, 10, 30, 0, 12}, 8);
	f[34] = 0x9c;
	f[35] = 0x41; /* sport 40001 */
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	if (proto == 6) {
		f[46] = 0x50; /* data offset 5 */
		f[47] = 0x02; /* SYN */
	} else {
		f[38] = (uint8_t)((ip_len - 20) >> 8);
		f[39] = (uint8_t)(ip_len - 20);
	}
	return len;
}

static struct rte_mbuf *
mbuf_of(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	return m;
}

static void
conf_base(struct hv_mirror_conf *c, const char *name, const char *file)
{
	memset(c, 0, sizeof(*c));
	c->owner = -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->n_dests = 1;
	c->dests[0].kind = HV_MIRROR_TO_PCAPNG;
	c->dests[0].fd = -1;
	snprintf(c->dests[0].path, sizeof(c->dests[0].path), "%s/%s", tmpdir, file);
}

static struct hv_mirror_dp *
dp_with(struct hv_mirror_session *s, bool delivered, bool by_verdict)
{
	struct hv_mirror_dp *dp = calloc(1, sizeof(*dp));

	assert_non_null(dp);
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		for (unsigned d = 0; d < HV_MIRROR_MAX_DESTS; d++)
			dp->dest_port[i][d] = HV_MIRROR_NONE;
	dp->s[0] = s;
	if (delivered)
		dp->delivered = 1;
	else if (by_verdict)
		dp->wire_verdict = 1;
	else
		dp->wire_any = 1;
	strcpy(dp->seg_name[3], "app");
	return dp;
}

static void
no_tx(void *arg, uint16_t port, struct rte_mbuf *m)
{
	(void)arg;
	(void)port;
	rte_pktmbuf_free(m);
	fail_msg("no port destination in this test");
}

static struct hv_mirror_wctx wctx = {.worker = 0, .tx = no_tx};

/* ---- reading pcapng back ---- */

struct epb {
	uint32_t ifid, caplen, origlen, flags;
	const uint8_t *data;
	char comment[512];
};

struct pcapng {
	uint8_t *buf;
	size_t len;
	unsigned n_shb, n_idb, n_epb;
	char idb_name[8][64];
	struct epb epb[64];
};

static uint32_t
u32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void
pcapng_read(const char *path, struct pcapng *f)
{
	FILE *fp = fopen(path, "rb");
	size_t off = 0;

	memset(f, 0, sizeof(*f));
	assert_non_null(fp);
	f->buf = malloc(1 << 20);
	f->len = fread(f->buf, 1, 1 << 20, fp);
	fclose(fp);
	while (off + 12 <= f->len) {
		uint32_t type = u32_at(f->buf + off), total = u32_at(f->buf + off + 4);
		const uint8_t *b = f->buf + off;
		size_t opt = 0, end = total - 4;

		assert_true(total >= 12 && total % 4 == 0 && off + total <= f->len);
		assert_int_equal(u32_at(b + total - 4), total); /* the trailing length */
		if (type == 0x0A0D0D0A) {
			assert_int_equal(u32_at(b + 8), 0x1A2B3C4D);
			f->n_shb++;
		} else if (type == 1) {
			opt = 16;
			for (size_t o = opt; o + 4 <= end;) {
				uint16_t code, len;

				memcpy(&code, b + o, 2);
				memcpy(&len, b + o + 2, 2);
				if (code == 0)
					break;
				if (code == 2 && f->n_idb < 8)
					snprintf(f->idb_name[f->n_idb], 64, "%.*s", len, b + o + 4);
				o += 4 + ((len + 3u) & ~3u);
			}
			f->n_idb++;
		} else if (type == 6) {
			struct epb *e = &f->epb[f->n_epb++];

			assert_true(f->n_epb <= 64);
			e->ifid = u32_at(b + 8);
			e->caplen = u32_at(b + 20);
			e->origlen = u32_at(b + 24);
			e->data = b + 28;
			for (size_t o = 28 + ((e->caplen + 3u) & ~3u); o + 4 <= end;) {
				uint16_t code, len;

				memcpy(&code, b + o, 2);
				memcpy(&len, b + o + 2, 2);
				if (code == 0)
					break;
				if (code == 1)
					snprintf(e->comment, sizeof(e->comment), "%.*s", len,
						 b + o + 4);
				if (code == 2)
					e->flags = u32_at(b + o + 4);
				o += 4 + ((len + 3u) & ~3u);
			}
		}
		off += total;
	}
	assert_int_equal(off, f->len); /* nothing after the last whole block */
}

/* ---- tests ---- */

/* Verdict, filter and the copy flag decide; the file holds exactly the selected frame. */
static void
select_verdict_filter(void **state)
{
	struct hv_mirror_conf c;
	struct hv_mirror_session *s;
	struct hv_mirror_dp *dp;
	struct hv_mirror_counters k;
	struct pcapng f;
	uint8_t db[80], web[80], udp[70];
	struct hv_mirror_pkt blocked = {.in_port = 1,
					.out_port = HV_MIRROR_NONE,
					.seg = 3,
					.verdict = HV_MIRROR_V_BLOCKED,
					.in_name = WEB1,
					.rule = "no-db"};
	struct hv_mirror_pkt allowed = blocked;
	struct rte_mbuf *m;
	char err[256], path[128];

	(void)state;
	allowed.verdict = HV_MIRROR_V_ALLOWED;
	allowed.rule = "web";
	conf_base(&c, "t1", "t1.pcapng");
	c.verdict = HV_MIRROR_V_BLOCKED;
	strcpy(c.filter, "tcp port 5432");
	s = hv_mirror_session_create(&c, 1, err, sizeof(err));
	assert_non_null(s);
#if defined(RTE_ARCH_X86_64) || defined(RTE_ARCH_ARM64)
	/* the fast path: the libpcap program converted for rte_bpf, JIT-compiled */
	assert_string_equal(hv_mirror_session_filter_engine(s), "rte_bpf-jit");
#endif
	dp = dp_with(s, false, true);
	dp->in[1] = 1;

	frame(db, sizeof(db), 6, 5432, 0xd1);
	frame(web, sizeof(web), 6, 80, 0xd2);
	frame(udp, sizeof(udp), 17, 5432, 0xd3);
	m = mbuf_of(db, sizeof(db));
	hv_mirror_tap(dp, &wctx, 1, m, &blocked); /* selected */
	hv_mirror_tap(dp, &wctx, 1, m, &allowed); /* verdict not selected: not even counted */
	m->ol_flags |= hv_mirror_copy_flag;
	hv_mirror_tap(dp, &wctx, 1, m, &blocked); /* a copy: never mirrored */
	m->ol_flags &= ~hv_mirror_copy_flag;
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), db, sizeof(db)); /* untouched */
	rte_pktmbuf_free(m);
	m = mbuf_of(web, sizeof(web));
	hv_mirror_tap(dp, &wctx, 1, m, &blocked); /* filtered */
	rte_pktmbuf_free(m);
	m = mbuf_of(udp, sizeof(udp));
	hv_mirror_tap(dp, &wctx, 1, m, &blocked); /* udp port 5432: filtered */
	hv_mirror_tap(dp, &wctx, 0, m, &blocked); /* not in the mask */
	rte_pktmbuf_free(m);

	hv_mirror_session_counters(s, &k);
	assert_int_equal(k.selected, 1);
	assert_int_equal(k.filtered, 2);
	assert_int_equal(k.copied, 1);
	assert_int_equal(k.queue_full + k.copy_failed + k.dest_down, 0);
	hv_mirror_session_free(s); /* drains the queue into the file */
	free(dp);

	snprintf(path, sizeof(path), "%s/t1.pcapng", tmpdir);
	pcapng_read(path, &f);
	assert_int_equal(f.n_shb, 1);
	assert_int_equal(f.n_idb, 1);
	assert_string_equal(f.idb_name[0], "web1");
	assert_int_equal(f.n_epb, 1);
	assert_int_equal(f.epb[0].ifid, 0);
	assert_int_equal(f.epb[0].caplen, sizeof(db));
	assert_int_equal(f.epb[0].origlen, sizeof(db));
	assert_memory_equal(f.epb[0].data, db, sizeof(db));
	assert_string_equal(f.epb[0].comment,
			    "segment=app port=web1 direction=ingress verdict=blocked rule=no-db");
	assert_int_equal(f.epb[0].flags, 1); /* inbound */
	free(f.buf);
}

/*
 * The fast path's filter against libpcap's own interpreter: filters that read
 * behind headers of variable length (indirect loads) over frames with IP
 * options, DF set, IPv6, ICMP, VLAN tags and truncation. A converter that
 * indexes ld [x + k] wrongly fails here.
 */
static size_t
frame_v4(uint8_t *f, uint8_t proto, uint8_t ihl, uint16_t sport, uint16_t dport, uint8_t icmp_type,
	 bool vlan)
{
	size_t o = 0, l4;

	memset(f, 0, 128);
	memcpy(f, (uint8_t[]){2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}, 12);
	o = 12;
	if (vlan) {
		f[o++] = 0x81;
		f[o++] = 0x00;
		f[o++] = 0x00;
		f[o++] = 0x07;
	}
	f[o++] = 0x08;
	f[o++] = 0x00;
	f[o] = (uint8_t)(0x40 | ihl);
	f[o + 6] = 0x40; /* DF */
	f[o + 8] = 64;
	f[o + 9] = proto;
	memcpy(f + o + 12, (uint8_t[]){10, 30, 0, 11, 10, 20, 0, 21}, 8);
	l4 = o + (size_t)ihl * 4;
	if (proto == 1) {
		f[l4] = icmp_type;
	} else {
		f[l4] = (uint8_t)(sport >> 8);
		f[l4 + 1] = (uint8_t)sport;
		f[l4 + 2] = (uint8_t)(dport >> 8);
		f[l4 + 3] = (uint8_t)dport;
		if (proto == 6)
			f[l4 + 12] = 0x50;
		f[l4 + 13] = 0x12; /* SYN+ACK for tcp; length byte for udp */
	}
	f[o + 3] = (uint8_t)(l4 + 20 - o);
	return l4 + 20;
}

static size_t
frame_v6(uint8_t *f, uint8_t next, uint16_t dport)
{
	memset(f, 0, 128);
	memcpy(f, (uint8_t[]){2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd}, 14);
	f[14] = 0x60;
	f[19] = 20;
	f[20] = next;
	f[21] = 64;
	f[22] = 0xfd;
	f[38] = 0xfd;
	f[37] = 0x11;
	f[53] = 0x21;
	f[54] = 0x9c;
	f[55] = 0x41;
	f[56] = (uint8_t)(dport >> 8);
	f[57] = (uint8_t)dport;
	if (next == 58)
		f[54] = 128; /* echo request */
	return 74;
}

static void
filter_vs_libpcap(void **state)
{
	static const char *const filters[] = {
		"tcp port 5432",
		"tcp dst port 80",
		"udp port 53",
		"icmp[icmptype] == icmp-echo",
		"icmp[0] == 0",
		"tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
		"ip[9] == 6 and tcp[2:2] > 1000",
		"ip6 and tcp port 5432",
		"icmp6",
		"vlan and tcp port 5432",
		"not tcp port 22",
		"host 10.20.0.21 and (tcp or icmp)",
		"len > 60",
	};
	uint8_t frames[16][128];
	size_t lens[16], n = 0;
	unsigned checked = 0;

	(void)state;
	lens[n] = frame_v4(frames[n], 6, 5, 40001, 5432, 0, false), n++;
	lens[n] = frame_v4(frames[n], 6, 7, 40001, 5432, 0, false), n++; /* IP options */
	lens[n] = frame_v4(frames[n], 6, 5, 5432, 40001, 0, false), n++;
	lens[n] = frame_v4(frames[n], 6, 6, 40001, 80, 0, false), n++;
	lens[n] = frame_v4(frames[n], 17, 5, 40001, 53, 0, false), n++;
	lens[n] = frame_v4(frames[n], 17, 8, 53, 40001, 0, false), n++;
	lens[n] = frame_v4(frames[n], 1, 5, 0, 0, 8, false), n++;
	lens[n] = frame_v4(frames[n], 1, 6, 0, 0, 0, false), n++;
	lens[n] = frame_v4(frames[n], 6, 5, 40001, 5432, 0, true), n++;
	lens[n] = frame_v4(frames[n], 6, 5, 40001, 22, 0, false), n++;
	lens[n] = frame_v6(frames[n], 6, 5432), n++;
	lens[n] = frame_v6(frames[n], 58, 0), n++;
	memcpy(frames[n], frames[1], 128), lens[n] = 40, n++; /* cut inside the IP options */
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		struct hv_mirror_conf c;
		struct hv_mirror_session *s;
		struct bpf_program prog;
		pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
		char err[256];

		assert_non_null(p);
		assert_int_equal(pcap_compile(p, &prog, filters[i], 1, PCAP_NETMASK_UNKNOWN), 0);
		conf_base(&c, "fx", "fx.pcapng");
		snprintf(c.filter, sizeof(c.filter), "%s", filters[i]);
		s = hv_mirror_session_create(&c, 1, err, sizeof(err));
		assert_non_null(s);
		for (size_t k = 0; k < n; k++) {
			struct pcap_pkthdr h = {.caplen = (bpf_u_int32)lens[k],
						.len = (bpf_u_int32)lens[k]};
			bool want = pcap_offline_filter(&prog, &h, frames[k]) != 0;
			struct rte_mbuf *m = mbuf_of(frames[k], lens[k]);

			if (hv_mirror_session_filter_match(s, m) != want)
				fail_msg("filter \"%s\" (%s) on frame %zu: %s, libpcap says %s",
					 filters[i], hv_mirror_session_filter_engine(s), k,
					 want ? "no match" : "match", want ? "match" : "no match");
			rte_pktmbuf_free(m);
			checked++;
		}
		hv_mirror_session_free(s);
		pcap_freecode(&prog);
		pcap_close(p);
	}
	assert_int_equal(checked, n * (sizeof(filters) / sizeof(filters[0])));
}

/* 1 in 3 of 9 selected frames, each cut to the snaplen. */
static void
sample_snaplen(void **state)
{
	struct hv_mirror_conf c;
	struct hv_mirror_session *s;
	struct hv_mirror_dp *dp;
	struct hv_mirror_counters k;
	struct pcapng f;
	uint8_t fr[9][200];
	struct hv_mirror_pkt info = {.in_port = 1,
				     .out_port = HV_MIRROR_NONE,
				     .seg = 3,
				     .verdict = HV_MIRROR_V_ANY,
				     .in_name = WEB1};
	char err[256], path[128];

	(void)state;
	conf_base(&c, "t2", "t2.pcapng");
	c.sample = 3;
	c.snaplen = 64;
	s = hv_mirror_session_create(&c, 1, err, sizeof(err));
	assert_non_null(s);
	dp = dp_with(s, false, false);
	dp->in[1] = 1;
	for (unsigned i = 0; i < 9; i++) {
		struct rte_mbuf *m = mbuf_of(fr[i], frame(fr[i], 200, 17, 53, (uint8_t)i));

		hv_mirror_tap(dp, &wctx, dp->wire_any & dp->in[1], m, &info);
		rte_pktmbuf_free(m);
	}
	hv_mirror_session_counters(s, &k);
	assert_int_equal(k.selected, 9);
	assert_int_equal(k.sampled_out, 6);
	hv_mirror_session_free(s);
	free(dp);
	snprintf(path, sizeof(path), "%s/t2.pcapng", tmpdir);
	pcapng_read(path, &f);
	assert_int_equal(f.n_epb, 3);
	for (unsigned i = 0; i < 3; i++) { /* frames 0, 3 and 6 */
		assert_int_equal(f.epb[i].caplen, 64);
		assert_int_equal(f.epb[i].origlen, 200);
		assert_memory_equal(f.epb[i].data, fr[3 * i], 64);
		assert_string_equal(f.epb[i].comment,
				    "segment=app port=web1 direction=ingress verdict=- rule=-");
	}
	free(f.buf);
}

/* A delivered tap selected by the egress port: filed under that port, outbound. */
static void
delivered_egress(void **state)
{
	struct hv_mirror_conf c;
	struct hv_mirror_session *s;
	struct hv_mirror_dp *dp;
	struct pcapng f;
	uint8_t a[64], b[64];
	struct hv_mirror_pkt to_db = {.in_port = 1,
				      .out_port = 2,
				      .seg = 3,
				      .verdict = HV_MIRROR_V_ALLOWED,
				      .in_name = WEB1,
				      .out_name = DB1};
	struct hv_mirror_pkt to_web = {.in_port = 2,
				       .out_port = 1,
				       .seg = 3,
				       .verdict = HV_MIRROR_V_ALLOWED,
				       .in_name = DB1,
				       .out_name = WEB1};
	char err[256], path[128];
	struct rte_mbuf *m;

	(void)state;
	conf_base(&c, "t3", "t3.pcapng");
	c.delivered = true;
	c.dir = HV_MIRROR_EGRESS;
	s = hv_mirror_session_create(&c, 1, err, sizeof(err));
	assert_non_null(s);
	dp = dp_with(s, true, false);
	dp->out[2] = 1; /* ports [db1] direction egress */
	m = mbuf_of(a, frame(a, sizeof(a), 6, 5432, 0xa));
	hv_mirror_tap(dp, &wctx, dp->delivered & (dp->in[1] | dp->out[2]), m, &to_db);
	rte_pktmbuf_free(m);
	m = mbuf_of(b, frame(b, sizeof(b), 6, 40001, 0xb));
	hv_mirror_tap(dp, &wctx, dp->delivered & (dp->in[2] | dp->out[1]), m, &to_web);
	rte_pktmbuf_free(m);
	hv_mirror_session_free(s);
	free(dp);
	snprintf(path, sizeof(path), "%s/t3.pcapng", tmpdir);
	pcapng_read(path, &f);
	assert_int_equal(f.n_epb, 1);
	assert_string_equal(f.idb_name[0], "db1");
	assert_memory_equal(f.epb[0].data, a, sizeof(a));
	assert_string_equal(
		f.epb[0].comment,
		"segment=app port=web1 out=db1 direction=egress verdict=allowed rule=-");
	assert_int_equal(f.epb[0].flags, 2); /* outbound */
	free(f.buf);
}

/* A capture: classic pcap on a pipe, over after COUNT packets. */
static void
capture_fd_count(void **state)
{
	struct hv_mirror_conf c;
	struct hv_mirror_session *s;
	struct hv_mirror_dp *dp;
	struct hv_mirror_pkt info = {.in_port = 1,
				     .out_port = HV_MIRROR_NONE,
				     .seg = 3,
				     .verdict = HV_MIRROR_V_ANY,
				     .in_name = WEB1};
	uint8_t fr[60], got[4096];
	int p[2], err_no = 0;
	ssize_t n;
	char err[256];
	uint32_t magic, caplen;

	(void)state;
	assert_int_equal(pipe(p), 0);
	conf_base(&c, "t4", "unused");
	c.dests[0].kind = HV_MIRROR_TO_FD;
	c.dests[0].fd = p[1];
	c.count = 2;
	s = hv_mirror_session_create(&c, 1, err, sizeof(err));
	assert_non_null(s);
	dp = dp_with(s, false, false);
	dp->in[1] = 1;
	for (unsigned i = 0; i < 5; i++) {
		struct rte_mbuf *m = mbuf_of(fr, frame(fr, sizeof(fr), 17, 53, (uint8_t)i));

		hv_mirror_tap(dp, &wctx, 1, m, &info);
		rte_pktmbuf_free(m);
		for (unsigned t = 0; t < 200 && i == 1 && !hv_mirror_session_done(s, &err_no); t++)
			usleep(5000);
	}
	assert_true(hv_mirror_session_done(s, &err_no));
	assert_int_equal(err_no, 0);
	assert_int_equal(hv_mirror_session_written(s), 2);
	hv_mirror_session_free(s); /* closes its end of the pipe */
	free(dp);
	n = read(p[0], got, sizeof(got));
	close(p[0]);
	assert_int_equal(n, 24 + 2 * (16 + 60)); /* header and exactly two records */
	memcpy(&magic, got, 4);
	assert_int_equal(magic, 0xa1b2c3d4);
	memcpy(&caplen, got + 24 + 8, 4);
	assert_int_equal(caplen, 60);
	frame(fr, sizeof(fr), 17, 53, 1);
	assert_memory_equal(got + 24 + 16 + 60 + 16, fr, 60); /* the second frame tapped */
}

/* Rotation by time: a new file once the current one is a second old; keep 2. */
static void
rotate_by_time(void **state)
{
	struct hv_mirror_conf c;
	struct hv_mirror_session *s;
	struct hv_mirror_dp *dp;
	struct hv_mirror_dest_stats ds;
	struct hv_mirror_pkt info = {.in_port = 1,
				     .out_port = HV_MIRROR_NONE,
				     .seg = 3,
				     .verdict = HV_MIRROR_V_ANY,
				     .in_name = WEB1};
	struct pcapng f;
	uint8_t fr[60];
	char err[256], path[160];

	(void)state;
	conf_base(&c, "t5", "rot/r.pcapng");
	c.dests[0].rotate_secs = 1;
	c.dests[0].keep = 2;
	s = hv_mirror_session_create(&c, 1, err, sizeof(err));
	assert_non_null(s);
	dp = dp_with(s, false, false);
	dp->in[1] = 1;
	for (unsigned i = 0; i < 3; i++) {
		struct rte_mbuf *m = mbuf_of(fr, frame(fr, sizeof(fr), 17, 53, (uint8_t)i));

		hv_mirror_tap(dp, &wctx, 1, m, &info);
		rte_pktmbuf_free(m);
		usleep(1300 * 1000);
	}
	hv_mirror_session_dest_stats(s, 0, &ds);
	assert_true(ds.files >= 3);
	hv_mirror_session_free(s);
	free(dp);
	/* file 0 is gone (keep 2); the newest files hold the later frames, one each or none */
	snprintf(path, sizeof(path), "%s/rot/r-00000.pcapng", tmpdir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/rot/r-%05u.pcapng", tmpdir, (unsigned)ds.files - 1);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/rot/r-%05u.pcapng", tmpdir, (unsigned)ds.files - 2);
	pcapng_read(path, &f);
	assert_int_equal(f.n_shb, 1); /* every file is a whole capture of its own */
	assert_true(f.n_epb <= 1);
	free(f.buf);
}

/* What is refused, and how it is said. */
static void
refusals(void **state)
{
	struct hv_mirror_conf c;
	char err[512];

	(void)state;
	conf_base(&c, "bad", "bad.pcapng");
	strcpy(c.filter, "tcp port");
	assert_null(hv_mirror_session_create(&c, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "mirror 'bad': bad filter \"tcp port\": "));
	conf_base(&c, "bad", "bad.pcapng");
	c.dir = HV_MIRROR_EGRESS;
	assert_int_equal(hv_mirror_conf_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "direction egress needs tap delivered"));
	conf_base(&c, "bad", "bad.pcapng");
	c.delivered = true;
	c.verdict = HV_MIRROR_V_BLOCKED;
	assert_int_equal(hv_mirror_conf_check(&c, err, sizeof(err)), -EINVAL);
	conf_base(&c, "bad", "bad.pcapng");
	snprintf(c.dests[0].path, sizeof(c.dests[0].path), "/proc/nope/x.pcapng");
	assert_null(hv_mirror_session_create(&c, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open capture file '/proc/nope/x.pcapng'"));
	conf_base(&c, "a b", "bad.pcapng");
	assert_int_equal(hv_mirror_conf_check(&c, err, sizeof(err)), -EINVAL);
}

/* mirror.add's JSON: what the CLI sends parses; mistakes say where. */
static void
conf_json(void **state)
{
	struct hv_mirror_conf c;
	char err[512];
	json_t *j;

	(void)state;
	j = json_loads("{\"name\":\"m\",\"segments\":[\"app\"],\"ports\":[\"web1\"],"
		       "\"direction\":\"ingress\",\"verdict\":\"blocked\",\"filter\":\"icmp\","
		       "\"snaplen\":128,\"sample\":10,\"to\":[{\"pcap\":\"/tmp/x.pcapng\","
		       "\"rotate\":65536,\"keep\":3},{\"port\":\"ids0\",\"vlan_tag\":true}]}",
		       0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), 0);
	json_decref(j);
	assert_string_equal(c.segments[0], "app");
	assert_int_equal(c.dir, HV_MIRROR_INGRESS);
	assert_int_equal(c.verdict, HV_MIRROR_V_BLOCKED);
	assert_int_equal(c.n_dests, 2);
	assert_int_equal(c.dests[0].rotate_size, 65536);
	assert_true(c.dests[1].vlan_tag);
	j = hv_mirror_conf_to_json(&c);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(c.sample, 10);

	j = json_loads("{\"name\":\"m\",\"to\":[{\"remote\":\"192.0.2.1\"}]}", 0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "destination 1: a remote needs"));
	json_decref(j);
	j = json_loads("{\"name\":\"m\",\"to\":[{\"remote\":\"192.0.2.1\",\"vxlan\":42,"
		       "\"via\":\"up0\",\"source\":\"192.0.2.9\",\"mac\":\"02:00:00:00:00:0a\"}]}",
		       0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(c.dests[0].kind, HV_MIRROR_TO_VXLAN);
	assert_int_equal(c.dests[0].vni, 42);
	assert_memory_equal(c.dests[0].remote, ((uint8_t[]){192, 0, 2, 1}), 4);
	assert_memory_equal(c.dests[0].source, ((uint8_t[]){192, 0, 2, 9}), 4);
	assert_int_equal(c.dests[0].mac[5], 0x0a);
	j = json_loads("{\"name\":\"m\",\"to\":[{\"remote\":\"192.0.2.1\",\"erspan\":7,"
		       "\"via\":\"up0\"}]}",
		       0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(c.dests[0].kind, HV_MIRROR_TO_ERSPAN);
	assert_int_equal(c.dests[0].vni, 7);
	assert_int_equal(c.dests[0].mac[0], 0xff); /* broadcast unless told */
	j = json_loads("{\"name\":\"m\",\"to\":[{\"remote\":\"192.0.2.1\",\"erspan\":1024,"
		       "\"via\":\"up0\"}]}",
		       0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'erspan' must be an integer from 0 to 1023"));
	json_decref(j);
	j = json_loads("{\"name\":\"m\",\"to\":[{\"remote\":\"2001:db8::1\",\"vxlan\":42,"
		       "\"via\":\"up0\"}]}",
		       0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "to[0]: 'remote' and 'source' must be IPv4"));
	json_decref(j);
	j = json_loads("{\"name\":\"m\",\"snaplen\":70000,\"to\":[{\"port\":\"p\"}]}", 0, NULL);
	assert_int_equal(hv_mirror_conf_from_json(j, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "snaplen"));
	json_decref(j);
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
		cmocka_unit_test(select_verdict_filter),
		cmocka_unit_test(filter_vs_libpcap),
		cmocka_unit_test(sample_snaplen),
		cmocka_unit_test(delivered_egress),
		cmocka_unit_test(capture_fd_count),
		cmocka_unit_test(rotate_by_time),
		cmocka_unit_test(refusals),
		cmocka_unit_test(conf_json),
	};
	int rc;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "hvtest-mirror-%d", (int)getpid());
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hvtest-mirror-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("mirror_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL || hv_mirror_init() != 0) {
		fprintf(stderr, "no mbuf pool or flag\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}
