/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ethdev behind each port kind: which DPDK virtual device it is, how it
 * is created, configured, started and removed. Control thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "common/log.h"
#include "vswitch/vhost.h"
#include "vswitch/vswitch.h"

#define RX_DESC 1024
#define TX_DESC 1024

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -EINVAL; /* a port's own MAC is never multicast */
	return 0;
}

/* Build the vdev name and arguments of @p; sets nb_rxq / nb_txq. */
static int
port_devargs(struct hv_switch *sw, struct hv_port *p, char *args, size_t size, char *err,
	     size_t err_size)
{
	const struct hv_port_spec *spec = &p->spec;
	uint64_t seq = ++sw->vdev_seq;
	int n = 0;

	p->nb_rxq = 1;
	p->nb_txq = (uint16_t)sw->n_workers;
	switch (p->kind) {
	case HV_PORT_TAP: {
		const char *iface = hv_port_spec_opt(spec, "iface");
		const char *mac = hv_port_spec_opt(spec, "mac");

		if (iface == NULL)
			snprintf(p->ifname, sizeof(p->ifname), "hv-%.12s", p->name);
		else if (strlen(iface) >= IFNAMSIZ || strchr(iface, ',') != NULL) {
			snprintf(err, err_size, "port '%s': iface=%s is not a valid interface name",
				 p->name, iface);
			return -EINVAL;
		} else
			snprintf(p->ifname, sizeof(p->ifname), "%s", iface);
		if (if_nametoindex(p->ifname) != 0) {
			snprintf(
				err, err_size,
				"port '%s': a kernel interface named '%s' exists already; pick another with iface=NAME",
				p->name, p->ifname);
			return -EEXIST;
		}
		snprintf(p->devname, sizeof(p->devname), "net_tap_hv%" PRIu64, seq);
		/* the tap PMD wants as many rx queues as tx queues: every worker polls one */
		p->nb_rxq = p->nb_txq;
		n = snprintf(args, size, "iface=%s", p->ifname);
		if (mac != NULL) {
			if (parse_mac(mac, p->mac) != 0) {
				snprintf(
					err, err_size,
					"port '%s': mac=%s: expected a unicast MAC like 52:54:00:12:34:56",
					p->name, mac);
				return -EINVAL;
			}
			n += snprintf(args + n, size - (size_t)n, ",mac=%s", mac);
		}
		break;
	}
	case HV_PORT_VHOST_USER: {
		const char *path = hv_port_spec_opt(spec, "path");
		const char *mode = hv_port_spec_opt(spec, "mode");

		if (path == NULL || path[0] == '\0') {
			snprintf(
				err, err_size,
				"port '%s': vhost-user ports need path=SOCKET (the vhost-user socket)",
				p->name);
			return -EINVAL;
		}
		if (strlen(path) >= sizeof(p->vhost.path)) { /* a socket address's sun_path */
			snprintf(err, err_size, "port '%s': path=%s: at most %zu bytes", p->name,
				 path, sizeof(p->vhost.path) - 1);
			return -EINVAL;
		}
		if (mode != NULL && strcmp(mode, "client") != 0 && strcmp(mode, "server") != 0) {
			snprintf(
				err, err_size,
				"port '%s': mode=%s: expected client (QEMU owns the socket) or server (hvnetd does)",
				p->name, mode);
			return -EINVAL;
		}
		/* no ethdev: vswitch/vhost.c drives rte_vhost itself */
		snprintf(p->devname, sizeof(p->devname), "vhost-user");
		n = snprintf(args, size, "%s", path);
		break;
	}
	case HV_PORT_AF_PACKET: {
		const char *iface = hv_port_spec_opt(spec, "iface");

		if (iface == NULL || if_nametoindex(iface) == 0) {
			snprintf(
				err, err_size,
				iface == NULL
					? "port '%s': af_packet ports need iface=NAME (an existing kernel interface)"
					: "port '%s': no kernel interface named '%s'",
				p->name, iface);
			return iface == NULL ? -EINVAL : -ENODEV;
		}
		snprintf(p->ifname, sizeof(p->ifname), "%s", iface);
		snprintf(p->devname, sizeof(p->devname), "net_af_packet_hv%" PRIu64, seq);
		/* the kernel fans frames out over all qpairs: poll every one */
		p->nb_rxq = (uint16_t)sw->n_workers;
		n = snprintf(args, size, "iface=%s,qpairs=%u", iface, sw->n_workers);
		break;
	}
	case HV_PORT_PCAP: {
		const char *rx = hv_port_spec_opt(spec, "rx");
		const char *tx = hv_port_spec_opt(spec, "tx");

		if (sw->n_workers != 1) {
			snprintf(
				err, err_size,
				"port '%s': pcap ports have one transmit queue and need a single worker",
				p->name);
			return -ENOTSUP;
		}
		if (rx == NULL && tx == NULL) {
			snprintf(err, err_size, "port '%s': pcap ports need rx=FILE and/or tx=FILE",
				 p->name);
			return -EINVAL;
		}
		if ((rx && strchr(rx, ',')) || (tx && strchr(tx, ','))) {
			snprintf(err, err_size, "port '%s': pcap file names may not contain ','",
				 p->name);
			return -EINVAL;
		}
		snprintf(p->devname, sizeof(p->devname), "net_pcap_hv%" PRIu64, seq);
		/* without rx_pcap net_pcap receives nothing; without a tx file, discard */
		if (rx != NULL)
			n = snprintf(args, size, "rx_pcap=%s,tx_pcap=%s", rx,
				     tx ? tx : "/dev/null");
		else
			n = snprintf(args, size, "tx_pcap=%s", tx);
		p->nb_txq = 1;
		break;
	}
	case HV_PORT_NULL:
		snprintf(p->devname, sizeof(p->devname), "net_null_hv%" PRIu64, seq);
		/* a sink: net_null would otherwise receive zero-filled frames forever */
		n = snprintf(args, size, "no-rx=1");
		break;
	case HV_PORT_RING:
		/* created with rte_eth_from_rings(), not as a vdev */
		snprintf(p->devname, sizeof(p->devname), "hv_ring_%s", p->name);
		args[0] = '\0';
		break;
	default:
		snprintf(err, err_size, "port '%s': unknown kind", p->name);
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= size) {
		snprintf(err, err_size, "port '%s': options too long", p->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * Ring ports: two rte_rings, "<name>_rx" (hvnetd receives what is enqueued
 * there) and "<name>_tx" (hvnetd enqueues what it sends). Another thread of
 * the process, or a benchmark, feeds and drains them.
 */
static int
ring_port_create(struct hv_switch *sw, struct hv_port *p, char *err, size_t err_size)
{
	char rname[RTE_RING_NAMESIZE];
	int port;

	snprintf(rname, sizeof(rname), "%.20s_rx", p->name);
	p->rings[0] = rte_ring_create(rname, 1024, (int)rte_socket_id(), RING_F_SC_DEQ);
	snprintf(rname, sizeof(rname), "%.20s_tx", p->name);
	p->rings[1] = rte_ring_create(rname, 1024, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (p->rings[0] == NULL || p->rings[1] == NULL) {
		snprintf(err, err_size, "port '%s': cannot create rings: %s", p->name,
			 rte_strerror(rte_errno));
		goto free_rings;
	}
	/* every worker transmits on its own queue; all of them feed the one tx ring */
	struct rte_ring *tx[HV_MAX_WORKERS];

	for (unsigned i = 0; i < sw->n_workers; i++)
		tx[i] = p->rings[1];
	port = rte_eth_from_rings(p->devname, &p->rings[0], 1, tx, sw->n_workers, rte_socket_id());
	if (port < 0) {
		snprintf(err, err_size, "port '%s': cannot create ring port: %s", p->name,
			 rte_strerror(rte_errno));
		goto free_rings;
	}
	p->eth_port = (uint16_t)port;
	return 0;

free_rings:
	rte_ring_free(p->rings[0]);
	rte_ring_free(p->rings[1]);
	p->rings[0] = p->rings[1] = NULL;
	return -ENOMEM;
}

static int
port_configure(struct hv_switch *sw, struct hv_port *p, char *err, size_t err_size)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_ether_addr addr;
	uint16_t nb_rxd = RX_DESC, nb_txd = TX_DESC;
	int rc;

	rc = rte_eth_dev_info_get(p->eth_port, &info);
	if (rc != 0) {
		snprintf(err, err_size, "port '%s': cannot read device info: %s", p->name,
			 strerror(-rc));
		return rc;
	}
	if (p->nb_rxq > info.max_rx_queues)
		p->nb_rxq = info.max_rx_queues;
	if (p->nb_txq > info.max_tx_queues) {
		snprintf(err, err_size,
			 "port '%s': device has %u tx queues, %u workers need one each", p->name,
			 info.max_tx_queues, sw->n_workers);
		return -ENOTSUP;
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(p->eth_port, p->nb_rxq, p->nb_txq, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->eth_port, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; rc == 0 && q < p->nb_rxq; q++)
		rc = rte_eth_rx_queue_setup(p->eth_port, q, nb_rxd,
					    (unsigned)rte_eth_dev_socket_id(p->eth_port), NULL,
					    sw->pool);
	for (uint16_t q = 0; rc == 0 && q < p->nb_txq; q++)
		rc = rte_eth_tx_queue_setup(p->eth_port, q, nb_txd,
					    (unsigned)rte_eth_dev_socket_id(p->eth_port), NULL);
	if (rc != 0) {
		snprintf(err, err_size, "port '%s': cannot configure %u rx / %u tx queues: %s",
			 p->name, p->nb_rxq, p->nb_txq, strerror(-rc));
		return rc;
	}
	if (p->kind == HV_PORT_TAP) {
		rc = rte_eth_dev_set_mtu(p->eth_port, p->mtu);
		if (rc != 0) {
			snprintf(err, err_size, "port '%s': cannot set mtu %u: %s", p->name, p->mtu,
				 strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(p->eth_port);
	if (rc != 0) {
		snprintf(err, err_size, "port '%s': cannot start: %s", p->name, strerror(-rc));
		return rc;
	}
	/* a switch port receives every frame, whatever its destination */
	rc = rte_eth_promiscuous_enable(p->eth_port);
	if (rc != 0 && rc != -ENOTSUP)
		HV_WARN("port '%s': cannot enable promiscuous mode: %s", p->name, strerror(-rc));
	if (p->kind != HV_PORT_TAP && rte_eth_macaddr_get(p->eth_port, &addr) == 0)
		memcpy(p->mac, addr.addr_bytes, 6);
	return 0;
}

int
hv_port_open(struct hv_switch *sw, struct hv_port *p, char *err, size_t err_size)
{
	char args[512];
	const char *netns, *ifname;
	int rc;

	rc = port_devargs(sw, p, args, sizeof(args), err, err_size);
	if (rc != 0)
		return rc;

	if (p->kind == HV_PORT_VHOST_USER) {
		const char *mode = hv_port_spec_opt(&p->spec, "mode");

		rc = hv_vhost_open(sw, p, args, mode != NULL && strcmp(mode, "client") == 0, err,
				   err_size);
		if (rc != 0)
			return rc;
		HV_INFO("port '%s' (vhost-user, %s) added", p->name, args);
		return 0;
	}
	if (p->kind == HV_PORT_RING) {
		rc = ring_port_create(sw, p, err, err_size);
		if (rc != 0)
			return rc;
	} else {
		rc = rte_eal_hotplug_add("vdev", p->devname, args);
		if (rc != 0) {
			snprintf(err, err_size, "port '%s': cannot create %s device (%s): %s",
				 p->name, hv_port_kind_name(p->kind), args, strerror(-rc));
			return rc;
		}
		rc = rte_eth_dev_get_port_by_name(p->devname, &p->eth_port);
		if (rc != 0) {
			snprintf(err, err_size, "port '%s': device %s has no ethdev", p->name,
				 p->devname);
			rte_eal_hotplug_remove("vdev", p->devname);
			return -ENODEV;
		}
	}
	rc = port_configure(sw, p, err, err_size);
	if (rc != 0)
		goto close;

	if (p->kind == HV_PORT_TAP) {
		if (rte_eth_macaddr_get(p->eth_port, (struct rte_ether_addr *)p->mac) != 0)
			memset(p->mac, 0, sizeof(p->mac));
		netns = hv_port_spec_opt(&p->spec, "netns");
		ifname = hv_port_spec_opt(&p->spec, "ifname");
		if (ifname != NULL && netns == NULL) {
			snprintf(
				err, err_size,
				"port '%s': ifname= renames the interface inside netns=; without a namespace use iface=",
				p->name);
			rc = -EINVAL;
			goto close;
		}
		if (netns != NULL) {
			rc = hv_netns_move_link(p->ifname, netns, ifname, p->mtu, err, err_size);
			if (rc != 0)
				goto close;
			snprintf(p->netns, sizeof(p->netns), "%s", netns);
			if (ifname != NULL)
				snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
		}
	}
	HV_INFO("port '%s' (%s, ethdev %u, %s) added", p->name, hv_port_kind_name(p->kind),
		p->eth_port, p->devname);
	return 0;

close:
	hv_port_close(sw, p);
	return rc;
}

void
hv_port_close(struct hv_switch *sw, struct hv_port *p)
{
	(void)sw;
	if (p->kind == HV_PORT_VHOST_USER) {
		hv_vhost_close(p);
		return;
	}
	rte_eth_dev_stop(p->eth_port);
	rte_eth_dev_close(p->eth_port);
	if (p->kind == HV_PORT_RING) {
		rte_ring_free(p->rings[0]);
		rte_ring_free(p->rings[1]);
		p->rings[0] = p->rings[1] = NULL;
	} else {
		rte_eal_hotplug_remove("vdev", p->devname);
	}
}

int
hv_port_link_up(const struct hv_port *p)
{
	struct rte_eth_link link;

	if (p->kind == HV_PORT_VHOST_USER)
		return __atomic_load_n(&p->vhost.vid, __ATOMIC_RELAXED) >= 0;
	if (rte_eth_link_get_nowait(p->eth_port, &link) != 0)
		return 0;
	return link.link_status == RTE_ETH_LINK_UP;
}
