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
 * --l3 gives every host an address of its own, side s host i being
 * 10.(1+s).(1+i/250).(2+i%250), and flow f runs between host f % n of side 0
 * (UDP port 1024 + f % 60000) and host (7f + 3) % n of side 1 (port 9); the
 * warm-up is a gratuitous ARP from every host, so a switch with gateways
 * learns each host as a neighbour. With --gw0 MAC and --gw1 MAC as well, side
 * p sends to the gateway MAC gw<p> instead of the peer host: the two sides are
 * two segments, 10.1.0.0/16 and 10.2.0.0/16, routed by the switch.
 *
 * --vxlan VNI --vtep-mac MAC makes port 1 an underlay: every frame it sends
 * is the same inner frame inside VXLAN (RFC 7348) from VTEP 192.0.2.2 to
 * 192.0.2.1 (UDP port 4789, source port from the flow, no UDP checksum),
 * Ethernet to MAC (the switch's uplink), so the switch under test
 * decapsulates one direction and encapsulates the other.
 *
 * Every frame that comes back is read, and those that are not what the mode
 * expects (a frame on the underlay that is not VXLAN to port 4789; with
 * gateways, a frame whose source MAC is not the gateway's; otherwise one
 * that is neither IPv4 nor ARP) are counted as rx_unexpected.
 *
 * Usage: hvgen [EAL args] -- --sock0 PATH --sock1 PATH [--macs N] [--flows N]
 *              [--seconds S] [--size BYTES] [--reply] [--l3 [--gw0 MAC --gw1 MAC]]
 *              [--vxlan VNI --vtep-mac MAC] [--json]
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

#include <rte_arp.h>
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
	bool l3;     /* hosts have addresses of their own */
	bool routed; /* frames go to the gateways gw[] */
	struct rte_ether_addr gw[2];
	bool vxlan; /* port 1 is an underlay */
	uint32_t vni;
	struct rte_ether_addr vtep_mac; /* the switch's uplink */
};

struct side {
	uint64_t tx, tx_fail, rx, rx_bytes, rx_unexpected;
};

#define VX_HDR_LEN 50 /* outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */

static uint8_t vx_tmpl[VX_HDR_LEN];

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

static uint32_t
host_ip(unsigned side, unsigned i)
{
	return 0x0a000000u | (1u + side) << 16 | (1u + i / 250) << 8 | (2u + i % 250);
}

/* The outer headers of --vxlan, all constant but the UDP source port. */
static void
build_vx_template(const struct conf *c, unsigned inner_len)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)vx_tmpl;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint8_t *vx = (uint8_t *)(udp + 1);

	memset(vx_tmpl, 0, sizeof(vx_tmpl));
	eth->dst_addr = c->vtep_mac;
	host_mac(0xff, 2, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(VX_HDR_LEN - 14 + inner_len));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0xc0000202); /* 192.0.2.2 */
	ip->dst_addr = rte_cpu_to_be_32(0xc0000201); /* 192.0.2.1 */
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->dst_port = rte_cpu_to_be_16(4789);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(VX_HDR_LEN - 34 + inner_len));
	vx[0] = 0x08; /* I flag */
	vx[4] = (uint8_t)(c->vni >> 16);
	vx[5] = (uint8_t)(c->vni >> 8);
	vx[6] = (uint8_t)c->vni;
}

/*
 * Wraps the frame in m, written VX_HDR_LEN bytes into its data room, into
 * the outer headers, which go in front of it from the data room's start.
 * Not prepended into the headroom: the receive side's virtio header lives
 * there (the pool's buffers serve both directions), and a peer VTEP's
 * frames come from a NIC, not from a CPU that dirties that cache line.
 */
static void
vx_wrap(struct rte_mbuf *m, uint16_t sport)
{
	uint8_t *o = rte_pktmbuf_mtod(m, uint8_t *);

	memcpy(o, vx_tmpl, VX_HDR_LEN);
	o[34] = (uint8_t)(sport >> 8 | 0xc0); /* 49152 and up */
	o[35] = (uint8_t)sport;
	m->data_len = (uint16_t)(m->data_len + VX_HDR_LEN);
	m->pkt_len += VX_HDR_LEN;
}

/* A gratuitous ARP request from host i of side: who-has its own address. */
static unsigned
build_garp(uint8_t *d, const struct rte_ether_addr *mac, uint32_t ip, unsigned len)
{
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(d + 14);

	memset(d, 0, len);
	memset(d, 0xff, 6);
	memcpy(d + 6, mac, 6);
	d[12] = 0x08;
	d[13] = 0x06;
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	a->arp_data.arp_sha = *mac;
	a->arp_data.arp_sip = rte_cpu_to_be_32(ip);
	a->arp_data.arp_tip = rte_cpu_to_be_32(ip);
	return len;
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
	struct rte_eth_dev_info info;
	int rc;

	memset(&ec, 0, sizeof(ec));
	/* take partial checksums, as a Linux guest's virtio-net driver does */
	if (rte_eth_dev_info_get(port, &info) == 0)
		ec.rxmode.offloads = info.rx_offload_capa &
				     (RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
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

/* Flow f of --l3 between host f % n of side 0 and host (7f + 3) % n of side 1,
 * seen from side p: addresses, ports and MACs patched into frame p. */
static void
fill_l3(uint8_t *p, unsigned from, unsigned f, const struct conf *c,
	struct rte_ether_addr *const mac[2], unsigned per_side)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
	unsigned h[2] = {f % per_side, (f * 7 + 3) % per_side};
	uint16_t fport = (uint16_t)(1024 + f % FLOWS_PER_ADDR);
	uint16_t sport = from == 0 || !c->reply ? fport : 9;
	uint16_t dport = from == 0 || !c->reply ? 9 : fport;

	memcpy(p, c->routed ? &c->gw[from] : &mac[1 - from][h[1 - from]], 6);
	memcpy(p + 6, &mac[from][h[from]], 6);
	ip->src_addr = rte_cpu_to_be_32(host_ip(from, h[from]));
	ip->dst_addr = rte_cpu_to_be_32(host_ip(1 - from, h[1 - from]));
	p[34] = (uint8_t)(sport >> 8);
	p[35] = (uint8_t)sport;
	p[36] = (uint8_t)(dport >> 8);
	p[37] = (uint8_t)dport;
}

static unsigned
fill_burst(struct rte_mbuf **m, unsigned n, const uint8_t *tmpl, unsigned len, unsigned from,
	   struct rte_ether_addr *const mac[2], unsigned per_side, const struct conf *c,
	   uint64_t *seq)
{
	const struct rte_ether_addr *src = mac[from], *dst = mac[1 - from];

	const unsigned at = c->vxlan && from == 1 ? VX_HDR_LEN : 0; /* see vx_wrap */

	for (unsigned k = 0; k < n; k++) {
		uint8_t *p = rte_pktmbuf_mtod(m[k], uint8_t *) + at;
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
		uint64_t s = (*seq)++;
		unsigned i = (unsigned)(s % per_side);
		unsigned j = (unsigned)((s * 7 + 3) % per_side);
		unsigned f = (unsigned)(s % c->flows);
		uint16_t fport = (uint16_t)(1024 + f % FLOWS_PER_ADDR);
		uint32_t faddr = 0x0a010000u + f / FLOWS_PER_ADDR;

		memcpy(p, tmpl, len);
		if (c->l3) {
			fill_l3(p, from, f, c, mac, per_side);
		} else {
			memcpy(p, &dst[j], 6);
			memcpy(p + 6, &src[i], 6);
			if (c->reply && from == 1) {
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
		}
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		m[k]->data_len = (uint16_t)len;
		m[k]->pkt_len = len;
		if (c->vxlan && from == 1)
			vx_wrap(m[k], (uint16_t)(f * 2654435761u >> 18));
	}
	return n;
}

/* Is frame d, received on port, what this mode expects there? */
static bool
rx_expected(const struct conf *c, uint16_t port, const uint8_t *d, uint32_t len)
{
	if (c->vxlan && port == 1)
		return len >= VX_HDR_LEN && d[12] == 0x08 && d[13] == 0x00 &&
		       d[23] == IPPROTO_UDP && d[36] == 0x12 && d[37] == 0xb5;
	if (c->routed)
		return len >= 12 && memcmp(d + 6, &c->gw[port], 6) == 0;
	return len >= 14 && d[12] == 0x08 && (d[13] == 0x00 || d[13] == 0x06); /* IPv4, ARP */
}

static void
drain(const struct conf *c, uint16_t port, struct side *s)
{
	struct rte_mbuf *rx[BURST];
	uint16_t n = rte_eth_rx_burst(port, 0, rx, BURST);

	/* Every frame's header is read, in every mode, as a guest would: a
	 * receiver that never touched its frames would leave their lines in the
	 * switch's cache and favour the modes that don't check. */
	for (uint16_t k = 0; k < n; k++) {
		s->rx_bytes += rx[k]->pkt_len;
		if (!rx_expected(c, port, rte_pktmbuf_mtod(rx[k], const uint8_t *),
				 rte_pktmbuf_data_len(rx[k])))
			s->rx_unexpected++;
	}
	s->rx += n;
	rte_pktmbuf_free_bulk(rx, n);
}

static void
usage(void)
{
	fprintf(stderr,
		"Usage: hvgen [EAL args] -- --sock0 PATH --sock1 PATH [--macs N] [--flows N]\n"
		"             [--seconds S] [--size BYTES] [--reply] [--l3 [--gw0 MAC --gw1 MAC]]\n"
		"             [--vxlan VNI --vtep-mac MAC] [--json]\n");
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
		{"l3", no_argument, NULL, 'L'},
		{"gw0", required_argument, NULL, 'g'},
		{"gw1", required_argument, NULL, 'G'},
		{"vxlan", required_argument, NULL, 'x'},
		{"vtep-mac", required_argument, NULL, 'X'},
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
		case 'L':
			c.l3 = true;
			break;
		case 'g':
		case 'G':
			if (rte_ether_unformat_addr(optarg, &c.gw[opt == 'G']) != 0)
				usage();
			c.routed = true;
			break;
		case 'x':
			c.vni = (uint32_t)strtoul(optarg, NULL, 0);
			c.vxlan = true;
			break;
		case 'X':
			if (rte_ether_unformat_addr(optarg, &c.vtep_mac) != 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (c.sock[0] == NULL || c.sock[1] == NULL || c.macs < 2 || c.flows < 1 || c.size < 64 ||
	    c.size > 1518 || c.seconds <= 0 || (c.routed && !c.l3) || c.vni > 0xffffff ||
	    (c.vxlan && rte_is_zero_ether_addr(&c.vtep_mac)))
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
	if (c.vxlan)
		build_vx_template(&c, len);
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
					uint8_t *d = rte_pktmbuf_mtod(m[k], uint8_t *) +
						     (c.vxlan && p == 1 ? VX_HDR_LEN : 0);

					if (c.l3) {
						build_garp(d, &mac[p][i + k], host_ip(p, i + k),
							   len);
					} else {
						memcpy(d, tmpl, len);
						memset(d, 0xff, 6);
						memcpy(d + 6, &mac[p][i + k], 6);
					}
					m[k]->data_len = (uint16_t)len;
					m[k]->pkt_len = len;
					if (c.vxlan && p == 1)
						vx_wrap(m[k], (uint16_t)(i + k));
				}
				sent = rte_eth_tx_burst((uint16_t)p, 0, m, (uint16_t)cnt);
				rte_pktmbuf_free_bulk(m + sent, cnt - sent);
				for (uint64_t w = rte_get_tsc_cycles() + hz / 10000;
				     rte_get_tsc_cycles() < w;)
					drain(&c, (uint16_t)(1 - p), &side[1 - p]);
			}
		}
	}
	for (uint64_t w = rte_get_tsc_cycles() + hz / 2; rte_get_tsc_cycles() < w;) {
		drain(&c, 0, &side[0]);
		drain(&c, 1, &side[1]);
	}
	memset(side, 0, sizeof(side));

	t0 = rte_get_tsc_cycles();
	deadline = t0 + (uint64_t)(c.seconds * (double)hz);
	while (!quit) {
		for (unsigned p = 0; p < 2; p++) {
			struct rte_mbuf *m[BURST];
			uint16_t sent;

			if (rte_pktmbuf_alloc_bulk(mp, m, BURST) == 0) {
				fill_burst(m, BURST, tmpl, len, p, mac, per_side, &c, &seq[p]);
				sent = rte_eth_tx_burst((uint16_t)p, 0, m, BURST);
				side[p].tx += sent;
				side[p].tx_fail += BURST - sent;
				rte_pktmbuf_free_bulk(m + sent, BURST - sent);
			}
			drain(&c, (uint16_t)p, &side[p]);
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
		       "\"rx0\": %" PRIu64 ", \"rx1\": %" PRIu64 ", \"rx_unexpected\": %" PRIu64
		       ", \"loss\": %.4f}\n",
		       secs, c.macs, c.flows, c.size, (double)tx / secs, (double)rx / secs,
		       side[0].tx_fail + side[1].tx_fail, side[0].rx, side[1].rx,
		       side[0].rx_unexpected + side[1].rx_unexpected,
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
