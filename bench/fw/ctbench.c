/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctbench: connection setup on one core, through the functions the
 * datapath's firewall stage calls (vswitch/pipeline.c fw_stage), without
 * ports or I/O: for bursts of 32 new UDP flows, build the connection key,
 * look it up (a miss), check that it may open, classify it against the
 * policy (rte_acl), and open the connection; then answer each flow once
 * (lookup, track: the connection becomes established). Reports new
 * connections per second, replies per second, and the memory one tracked
 * connection costs (DPDK heap in use before and after a table of N).
 *
 * Usage: ctbench [EAL args] -- POLICY-FILE N
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>

#include "firewall/classify.h"
#include "firewall/conntrack.h"
#include "firewall/lang/lang.h"

#define BURST	   32
#define EST_FLOWS  100000 /* as in the datapath benchmark */
#define EST_ROUNDS 20

struct frame {
	uint8_t b[64];
	struct hv_pkt_meta m;
};

static void
udp_frame(struct frame *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	uint8_t *b = f->b;

	memset(b, 0, sizeof(f->b));
	memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	b[14] = 0x45;
	b[17] = 28;
	b[22] = 64;
	b[23] = 17;
	for (int i = 0; i < 4; i++) {
		b[26 + i] = (uint8_t)(src >> (24 - 8 * i));
		b[30 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	b[34] = (uint8_t)(sport >> 8);
	b[35] = (uint8_t)sport;
	b[36] = (uint8_t)(dport >> 8);
	b[37] = (uint8_t)dport;
	b[39] = 8;
	if (hv_pkt_parse(b, 42, &f->m) != HV_DROP_NONE) {
		fprintf(stderr, "ctbench: frame does not parse\n");
		exit(1);
	}
}

static size_t
heap_in_use(void)
{
	struct rte_malloc_socket_stats s;
	size_t total = 0;

	for (int sock = 0; sock < RTE_MAX_NUMA_NODES; sock++)
		if (rte_malloc_get_socket_stats(sock, &s) == 0)
			total += s.heap_allocsz_bytes;
	return total;
}

/* Open N connections, burst by burst, as the firewall stage does. */
static void
open_all(struct hv_ct *ct, struct hv_fw *fw, const struct frame *fwd, uint32_t n, uint64_t *opened,
	 uint64_t *refused)
{
	for (uint32_t i = 0; i < n; i += BURST) {
		unsigned cnt = n - i < BURST ? n - i : BURST, nc = 0;
		struct hv_ct_pkt cp[BURST];
		const struct hv_ct_pkt *cpp[BURST];
		int32_t slot[BURST];
		struct hv_fw_pkt fk[BURST];
		const struct hv_fw_pkt *fkp[BURST];
		uint32_t res[BURST], idx[BURST];
		uint64_t now = rte_rdtsc();

		for (unsigned j = 0; j < cnt; j++) {
			const struct frame *f = &fwd[i + j];

			hv_ct_pkt_build(&f->m, f->b, 42, 0, 0, &cp[j]);
			cpp[j] = &cp[j];
		}
		hv_ct_lookup_bulk(ct, cpp, cnt, now, slot);
		for (unsigned j = 0; j < cnt; j++) {
			const struct hv_pkt_meta *m = &fwd[i + j].m;

			if (slot[j] >= 0 || hv_ct_may_open(&cp[j], m) != HV_DROP_NONE)
				continue;
			fk[nc] = (struct hv_fw_pkt){.family = 4,
						    .proto = 17,
						    .src_seg = 0,
						    .dst_seg = 0,
						    .sport = m->sport,
						    .dport = m->dport};
			memcpy(fk[nc].src, m->src_ip, 16);
			memcpy(fk[nc].dst, m->dst_ip, 16);
			fkp[nc] = &fk[nc];
			idx[nc++] = j;
		}
		hv_fw_classify(fw, fkp, nc, res);
		for (unsigned c = 0; c < nc; c++) {
			unsigned j = idx[c];
			enum hv_drop_reason why;

			hv_fw_count(fw, 0, res[c], 42);
			if (fw->rules[res[c]].action == HV_FW_ALLOW &&
			    hv_ct_open(ct, &cp[j], &fwd[i + j].m, fwd[i + j].b, 42, 1, 0, false, 0,
				       0, res[c], fw->epoch, now, &why) >= 0)
				(*opened)++;
			else
				(*refused)++;
		}
	}
}

/*
 * Packets of established connections, as the firewall stage sees them: the
 * key, the lookup and the state update, on n flows in both directions, burst
 * by burst, the datapath's case without its I/O. In order: bursts of one
 * direction then the other, each walking the flows in order as hvgen sends
 * them. Otherwise in a random order, which no cache or prefetcher follows.
 * Returns the packets passed; *cycles gets the cycles each.
 */
static uint64_t
established(struct hv_ct *ct, const struct frame *fwd, const struct frame *rev, uint32_t n,
	    bool random, double *cycles)
{
	uint32_t *order = malloc(sizeof(*order) * 2 * n);
	uint64_t passed = 0, t0, t1, total = (uint64_t)EST_ROUNDS * 2 * n;

	if (order == NULL)
		return 0;
	/*
	 * order[i] = flow << 1 | direction (1: the reply). Bursts alternate
	 * between the directions, and each direction walks the flows from its
	 * own place, half the table apart, as hvgen's two ports do.
	 */
	for (uint32_t i = 0; i < 2 * n; i++) {
		const uint32_t burst = i / BURST, dir = burst & 1;
		const uint32_t rank = (burst / 2) * BURST + i % BURST; /* in its direction */

		order[i] = (dir ? (rank + n / 2) % n : rank % n) << 1 | dir;
	}
	if (random) {
		srand(7);
		for (uint32_t i = 2 * n - 1; i > 0; i--) {
			const uint64_t r = (uint64_t)rand() << 31 ^ (uint64_t)rand();
			const uint32_t j = (uint32_t)(r % (i + 1)), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
	}
	t0 = rte_rdtsc();
	for (unsigned r = 0; r < EST_ROUNDS; r++)
		for (uint32_t i = 0; i < 2 * n; i += BURST) {
			unsigned cnt = 2 * n - i < BURST ? 2 * n - i : BURST;
			struct hv_ct_pkt cp[BURST];
			const struct hv_ct_pkt *cpp[BURST];
			const struct frame *f[BURST];
			int32_t slot[BURST];
			uint64_t now = rte_rdtsc();

			for (unsigned j = 0; j < cnt; j++) {
				uint32_t o = order[i + j];

				f[j] = o & 1 ? &rev[o >> 1] : &fwd[o >> 1];
				hv_ct_pkt_build(&f[j]->m, f[j]->b, 42, 0, 0, &cp[j]);
				cpp[j] = &cp[j];
			}
			hv_ct_lookup_bulk(ct, cpp, cnt, now, slot);
			for (unsigned j = 0; j < cnt; j++) {
				bool reopen;

				if (slot[j] >= 0 &&
				    hv_ct_track(ct, (uint32_t)slot[j], &cp[j], &f[j]->m, f[j]->b,
						42, now, &reopen) == HV_DROP_NONE)
					passed++;
			}
		}
	t1 = rte_rdtsc();
	free(order);
	*cycles = (double)(t1 - t0) / (double)total;
	return passed;
}

int
main(int argc, char **argv)
{
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir;
	struct hv_fw *fw;
	struct hv_ct *ct;
	char err[256];
	uint32_t n;
	size_t before, after;
	struct frame *fwd, *rev;
	uint64_t t0, t1, t2, tf0, tf1, opened = 0, refused = 0, replied = 0, first = 0, est;
	double est_cycles, est_r_cycles;
	uint64_t est_r;
	double hz;
	int k = rte_eal_init(argc, argv);

	if (k < 0)
		return 1;
	argc -= k;
	argv += k;
	if (argc != 3) {
		fprintf(stderr, "usage: ctbench [EAL args] -- POLICY-FILE N\n");
		return 2;
	}
	n = (uint32_t)strtoul(argv[2], NULL, 10);
	prog = hv_lang_parse_file(argv[1], &d);
	ir = prog && d.n_errors == 0 ? hv_lang_check(prog, &d) : NULL;
	if (ir == NULL) {
		hv_diags_print(stderr, &d);
		return 1;
	}
	fw = hv_fw_build(prog, ir, 1, "ctb", err, sizeof(err));
	if (fw == NULL) {
		fprintf(stderr, "ctbench: %s\n", err);
		return 1;
	}
	fw->epoch = 1;

	before = heap_in_use();
	{
		struct hv_ct_conf cc = {.name = "ctbench",
					.socket_id = SOCKET_ID_ANY,
					.capacity = n,
					.hz = rte_get_tsc_hz()};

		ct = hv_ct_create(&cc, err, sizeof(err));
	}
	after = heap_in_use();
	if (ct == NULL) {
		fprintf(stderr, "ctbench: %s\n", err);
		return 1;
	}
	fwd = calloc(n, sizeof(*fwd));
	rev = calloc(n, sizeof(*rev));
	if (fwd == NULL || rev == NULL)
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t a = 0x0a010000u + i / 60000;
		uint16_t p = (uint16_t)(1024 + i % 60000);

		udp_frame(&fwd[i], a, p, 0x0a000002, 9);
		udp_frame(&rev[i], 0x0a000002, 9, a, p);
	}

	hz = (double)rte_get_tsc_hz();
	/* first fill: the table's memory is touched for the first time */
	tf0 = rte_rdtsc();
	open_all(ct, fw, fwd, n, &first, &refused);
	tf1 = rte_rdtsc();
	{
		const struct hv_ct_filter all = {.seg = HV_CT_ANY_SEG, .port = HV_CT_ANY_PORT};

		hv_ct_flush(ct, &all);
	}
	refused = 0;
	t0 = rte_rdtsc();
	open_all(ct, fw, fwd, n, &opened, &refused);
	t1 = rte_rdtsc();
	for (uint32_t i = 0; i < n; i += BURST) {
		unsigned cnt = n - i < BURST ? n - i : BURST;
		struct hv_ct_pkt cp[BURST];
		const struct hv_ct_pkt *cpp[BURST];
		int32_t slot[BURST];
		uint64_t now = rte_rdtsc();

		for (unsigned j = 0; j < cnt; j++) {
			hv_ct_pkt_build(&rev[i + j].m, rev[i + j].b, 42, 0, 0, &cp[j]);
			cpp[j] = &cp[j];
		}
		hv_ct_lookup_bulk(ct, cpp, cnt, now, slot);
		for (unsigned j = 0; j < cnt; j++) {
			bool reopen;

			if (slot[j] >= 0 &&
			    hv_ct_track(ct, (uint32_t)slot[j], &cp[j], &rev[i + j].m, rev[i + j].b,
					42, now, &reopen) == HV_DROP_NONE)
				replied++;
		}
	}
	t2 = rte_rdtsc();
	est = established(ct, fwd, rev, n < EST_FLOWS ? n : EST_FLOWS, false, &est_cycles);
	est_r = established(ct, fwd, rev, n < EST_FLOWS ? n : EST_FLOWS, true, &est_r_cycles);
	printf("policy: %u rules, %u classifier entries\n", fw->n_rules, fw->n_entries);
	printf("first fill (table memory faulted in as it goes): %" PRIu64 " in %.3f s: %.2f M/s\n",
	       first, (double)(tf1 - tf0) / hz, (double)first / ((double)(tf1 - tf0) / hz) / 1e6);
	printf("new connections: %" PRIu64 " opened, %" PRIu64 " refused, %.3f s: %.2f M/s, "
	       "%.0f cycles each\n",
	       opened, refused, (double)(t1 - t0) / hz,
	       (double)opened / ((double)(t1 - t0) / hz) / 1e6,
	       (double)(t1 - t0) / (double)(opened + refused));
	printf("first replies (established): %" PRIu64 ", %.2f M/s, %.0f cycles each\n", replied,
	       (double)replied / ((double)(t2 - t1) / hz) / 1e6,
	       (double)(t2 - t1) / (double)(replied ? replied : 1));
	printf("established packets (%u flows both ways, bursts of %u; key, lookup, state update): "
	       "in order %" PRIu64 ", %.0f cycles each; in random order %" PRIu64
	       ", %.0f cycles each\n",
	       n < EST_FLOWS ? n : EST_FLOWS, BURST, est, est_cycles, est_r, est_r_cycles);
	printf("memory: a table of %u connections takes %.1f MiB of DPDK heap: %.0f bytes per "
	       "connection (entry %zu bytes + its share of the index buckets)\n",
	       n, (double)(after - before) / 1048576.0, (double)(after - before) / n,
	       sizeof(struct hv_ct_entry));
	hv_ct_free(ct);
	hv_fw_free(fw);
	hv_diags_free(&d);
	free(fwd);
	free(rev);
	return opened == n ? 0 : 1;
}
