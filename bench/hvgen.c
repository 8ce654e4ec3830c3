/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvgen: a traffic generator for switch benchmarks, over two virtio-user
 * ports connected to the two vhost-user ports of the switch under test.
 *
 * Port 0 carries hosts A0..A(n-1), port 1 hosts B0..B(n-1), each with its own
 * MAC, so a learning switch sees --macs distinct source MACs that never move.
 * Every frame goes from some A to some B (or back) with a UDP source port
 * drawn from --flows flows. A warm-up sends one frame from every host so the
 * switch has learned them all; then the generator sends as fast as it can on
 * both ports from one lcore, receives on both, and reports what came back.
 *
 * Flow f is 10.1.0.0 + f / 60000 : 1024 + f % 60000 -> 10.0.0.2:9 over UDP,
 * so up to 60,000 flows differ in the source port and more in the address
 * too. With --reply, port 1 sends each flow's reverse (10.0.0.2:9 -> the
 * flow's source), so that a stateful firewall sees every flow as one
 * connection with traffic both ways; without it both ports send the forward
 * tuple. IPv4 checksums are correct; UDP checksums are 0 (none).
 *
 * Usage: hvgen [EAL args] -- --sock0 PATH --sock1 PATH [--macs N] [--flows N]
 *              [--seconds S] [--size BYTES] [--reply] [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#define BURST	32
#define NB_DESC 1024

struct conf {
	const char *sock[2];
	unsigned macs; /* total, both sides */
	unsigned flows;
	bool reply;
	double seconds;
	unsigned size;
	bool json;
};

struct side {
	uint64_t tx, tx_fail, rx, rx_bytes;
};

static volatile bool quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = true;
}

static void
host_mac(unsigned side, unsigned i, struct rte_ether_addr *a)
{
	a->addr_bytes[0] = 0x02;
	a->addr_bytes[1] = 0x68; /* 'h' */
	a->addr_bytes[2] = (uint8_t)side;
	a->addr_bytes[3] = (uint8_t)(i >> 16);
	a->addr_bytes[4] = (uint8_t)(i >> 8);
	a->addr_bytes[5] = (uint8_t)i;
}

/* A 64-byte-class UDP frame template; MACs and ports are patched per frame. */
static void
build_template(uint8_t *t, unsigned size)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)t;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	unsigned l3 = size - 4 - sizeof(*eth); /* without FCS */

	memset(t, 0, size);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)l3);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(1024);
	udp->dst_port = rte_cpu_to_be_16(9);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(l3 - sizeof(*ip)));
}

static int
port_setup(uint16_t port, struct rte_mempool *mp)
{
	struct rte_eth_conf ec;
	int rc;

	memset(&ec, 0, sizeof(ec));
	rc = rte_eth_dev_configure(port, 1, 1, &ec);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL,
					    mp);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	return rc;
}

#define FLOWS_PER_ADDR 60000

static unsigned
fill_burst(struct rte_mbuf **m, unsigned n, const uint8_t *tmpl, unsigned len, unsigned from,
	   const struct rte_ether_addr *src, const struct rte_ether_addr *dst, unsigned per_side,
	   unsigned flows, bool reply, uint64_t *seq)
{
	for (unsigned k = 0; k < n; k++) {
		uint8_t *p = rte_pktmbuf_mtod(m[k], uint8_t *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
		uint64_t s = (*seq)++;
		unsigned i = (unsigned)(s % per_side);
		unsigned j = (unsigned)((s * 7 + 3) % per_side);
		unsigned f = (unsigned)(s % flows);
		uint16_t fport = (uint16_t)(1024 + f % FLOWS_PER_ADDR);
		uint32_t faddr = 0x0a010000u + f / FLOWS_PER_ADDR;

		memcpy(p, tmpl, len);
		memcpy(p, &dst[j], 6);
		memcpy(p + 6, &src[i], 6);
		if (reply && from == 1) {
			ip->src_addr = rte_cpu_to_be_32(0x0a000002);
			ip->dst_addr = rte_cpu_to_be_32(faddr);
			p[34] = 0;
			p[35] = 9;
			p[36] = (uint8_t)(fport >> 8);
			p[37] = (uint8_t)fport;
		} else {
			ip->src_addr = rte_cpu_to_be_32(faddr);
			p[34] = (uint8_t)(fport >> 8);
			p[35] = (uint8_t)fport;
		}
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		m[k]->data_len = (uint16_t)len;
		m[k]->pkt_len = len;
	}
	return n;
}

static void
drain(uint16_t port, struct side *s)
{
	struct rte_mbuf *rx[BURST];
	uint16_t n = rte_eth_rx_burst(port, 0, rx, BURST);

	for (uint16_t k = 0; k < n; k++)
		s->rx_bytes += rx[k]->pkt_len;
	s->rx += n;
	rte_pktmbuf_free_bulk(rx, n);
}

static void
usage(void)
{
	fprintf(stderr,
		"Usage: hvgen [EAL args] -- --sock0 PATH --sock1 PATH [--macs N] [--flows N]\n"
		"             [--seconds S] [--size BYTES] [--reply] [--json]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"sock0", required_argument, NULL, '0'},
		{"sock1", required_argument, NULL, '1'},
		{"macs", required_argument, NULL, 'm'},
		{"flows", required_argument, NULL, 'f'},
		{"seconds", required_argument, NULL, 's'},
		{"size", required_argument, NULL, 'z'},
		{"json", no_argument, NULL, 'j'},
		{"reply", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct conf c = {.macs = 1000, .flows = 1000, .seconds = 10, .size = 64};
	struct rte_ether_addr *mac[2];
	struct side side[2] = {0};
	struct rte_mempool *mp;
	uint8_t tmpl[2048];
	uint64_t seq[2] = {0}, hz, t0, t1, deadline;
	unsigned per_side, len;
	int opt, n;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "hvgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case '0':
		case '1':
			c.sock[opt - '0'] = optarg;
			break;
		case 'm':
			c.macs = (unsigned)atoi(optarg);
			break;
		case 'f':
			c.flows = (unsigned)atoi(optarg);
			break;
		case 's':
			c.seconds = atof(optarg);
			break;
		case 'z':
			c.size = (unsigned)atoi(optarg);
			break;
		case 'j':
			c.json = true;
			break;
		case 'r':
			c.reply = true;
			break;
		default:
			usage();
		}
	}
	if (c.sock[0] == NULL || c.sock[1] == NULL || c.macs < 2 || c.flows < 1 || c.size < 64 ||
	    c.size > 1518 || c.seconds <= 0)
		usage();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	for (unsigned p = 0; p < 2; p++) {
		char name[32], args[512];

		snprintf(name, sizeof(name), "net_virtio_user%u", p);
		snprintf(args, sizeof(args), "path=%s,queues=1,queue_size=%d", c.sock[p], NB_DESC);
		if (rte_eal_hotplug_add("vdev", name, args) != 0) {
			fprintf(stderr, "hvgen: cannot connect virtio-user to %s\n", c.sock[p]);
			return 1;
		}
	}
	mp = rte_pktmbuf_pool_create("hvgen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "hvgen: mempool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (uint16_t p = 0; p < 2; p++)
		if (port_setup(p, mp) != 0) {
			fprintf(stderr, "hvgen: port %u setup failed\n", p);
			return 1;
		}

	per_side = c.macs / 2;
	for (unsigned s = 0; s < 2; s++) {
		mac[s] = calloc(per_side, sizeof(*mac[s]));
		for (unsigned i = 0; i < per_side; i++)
			host_mac(s, i, &mac[s][i]);
	}
	len = c.size - 4;
	build_template(tmpl, c.size);
	hz = rte_get_tsc_hz();

	/* warm-up: every host says hello (to a broadcast), twice, so all are learned */
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned p = 0; p < 2; p++) {
			for (unsigned i = 0; i < per_side; i += BURST) {
				struct rte_mbuf *m[BURST];
				unsigned k, cnt = RTE_MIN((unsigned)BURST, per_side - i);
				uint16_t sent;

				if (rte_pktmbuf_alloc_bulk(mp, m, cnt) != 0)
					break;
				for (k = 0; k < cnt; k++) {
					uint8_t *d = rte_pktmbuf_mtod(m[k], uint8_t *);

					memcpy(d, tmpl, len);
					memset(d, 0xff, 6);
					memcpy(d + 6, &mac[p][i + k], 6);
					m[k]->data_len = (uint16_t)len;
					m[k]->pkt_len = len;
				}
				sent = rte_eth_tx_burst((uint16_t)p, 0, m, (uint16_t)cnt);
				rte_pktmbuf_free_bulk(m + sent, cnt - sent);
				for (uint64_t w = rte_get_tsc_cycles() + hz / 10000;
				     rte_get_tsc_cycles() < w;)
					drain((uint16_t)(1 - p), &side[1 - p]);
			}
		}
	}
	for (uint64_t w = rte_get_tsc_cycles() + hz / 2; rte_get_tsc_cycles() < w;) {
		drain(0, &side[0]);
		drain(1, &side[1]);
	}
	memset(side, 0, sizeof(side));

	t0 = rte_get_tsc_cycles();
	deadline = t0 + (uint64_t)(c.seconds * (double)hz);
	while (!quit) {
		for (unsigned p = 0; p < 2; p++) {
			struct rte_mbuf *m[BURST];
			uint16_t sent;

			if (rte_pktmbuf_alloc_bulk(mp, m, BURST) == 0) {
				fill_burst(m, BURST, tmpl, len, p, mac[p], mac[1 - p], per_side,
					   c.flows, c.reply, &seq[p]);
				sent = rte_eth_tx_burst((uint16_t)p, 0, m, BURST);
				side[p].tx += sent;
				side[p].tx_fail += BURST - sent;
				rte_pktmbuf_free_bulk(m + sent, BURST - sent);
			}
			drain((uint16_t)p, &side[p]);
		}
		if (rte_get_tsc_cycles() >= deadline)
			break;
	}
	t1 = rte_get_tsc_cycles();
	/* let what is in flight arrive; it is not counted */
	double secs = (double)(t1 - t0) / (double)hz;
	uint64_t tx = side[0].tx + side[1].tx, rx = side[0].rx + side[1].rx;

	if (c.json)
		printf("{\"seconds\": %.3f, \"macs\": %u, \"flows\": %u, \"size\": %u, "
		       "\"tx_pps\": %.0f, \"rx_pps\": %.0f, \"tx_refused\": %" PRIu64 ", "
		       "\"rx0\": %" PRIu64 ", \"rx1\": %" PRIu64 ", \"loss\": %.4f}\n",
		       secs, c.macs, c.flows, c.size, (double)tx / secs, (double)rx / secs,
		       side[0].tx_fail + side[1].tx_fail, side[0].rx, side[1].rx,
		       tx ? 1.0 - (double)rx / (double)tx : 0.0);
	else
		printf("hvgen: %.1f s, %u MACs, %u flows, %u-byte frames: offered %.2f Mpps, "
		       "received %.2f Mpps (port0 %.2f, port1 %.2f), loss %.2f%%\n",
		       secs, c.macs, c.flows, c.size, (double)tx / secs / 1e6,
		       (double)rx / secs / 1e6, (double)side[0].rx / secs / 1e6,
		       (double)side[1].rx / secs / 1e6,
		       tx ? 100.0 * (1.0 - (double)rx / (double)tx) : 0.0);
	for (uint16_t p = 0; p < 2; p++) {
		rte_eth_dev_stop(p);
		rte_eth_dev_close(p);
	}
	rte_eal_cleanup();
	return 0;
}
