/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl lab up --datapath kernel (lab_kernel.h): a lab file on Linux
 * bridges, veth pairs and nftables, with no hvnetd.
 *
 *   NAME.switch     a network namespace: one bridge per segment (named after
 *                   the segment when that is an interface name, else hvbrN),
 *                   br_netfilter on (bridge-nf-call-ip{,6}tables), default
 *                   routes through lo (a TCP reset needs a route back), and
 *                   the policy as table inet hvnet / table bridge hvnet
 *   NAME-GUEST      the guest's namespace (the netns guest kind of vmm/),
 *                   its NIC N the guest end of a veth pair whose switch end,
 *                   GUEST-N (or hvkG-N when longer than 15 bytes), is a port
 *                   of the segment's bridge
 *   QEMU guests     QEMU runs in NAME.switch, each NIC the persistent tap
 *                   GUEST-N there, a port of the segment's bridge
 *
 * Under a policy, the segments' gateways route between the bridges (their
 * addresses and gateway MAC on the bridges, forwarding on, radvd where the
 * file asks for router advertisements); mirrors are nft dup copies to their
 * port; the overlay's `dev` moves into NAME.switch and each carried VNI gets
 * a vxlan device on its segment's bridge. docs/nftables.md has the details.
 *
 * Everything is recorded in /run/hvnet/labs/NAME/state.json before it is
 * made, in the format cli/lab.c reads, so lab down removes it after any
 * failure or crash; a failed lab up runs lab down itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <pcap/pcap.h>
#include <linux/veth.h>

#include "cli/lab.h"
#include "cli/lab_kernel.h"
#include "firewall/lang/lang.h"
#include "firewall/nft.h"
#include "vmm/vmm.h"

#define LABS_DIR	"/run/hvnet/labs"
#define KIFNAMSIZ	16 /* IFNAMSIZ */
#define SWITCH_SUFFIX	".switch"
#define NFT_TABLE	"hvnet"
#define BR_NF_IPTABLES	"/proc/sys/net/bridge/bridge-nf-call-iptables"
#define BR_NF_IP6TABLES "/proc/sys/net/bridge/bridge-nf-call-ip6tables"

/* ---- running code inside a namespace ---- */

static int
ns_open(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct ns_job {
	const char *ns;
	int (*fn)(void *arg);
	void *arg;
	int rc;
};

static void *
ns_job_thread(void *p)
{
	struct ns_job *j = p;
	int fd = ns_open(j->ns);

	if (fd < 0) {
		j->rc = fd;
		return NULL;
	}
	j->rc = setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
	close(fd);
	if (j->rc == 0)
		j->rc = j->fn(j->arg);
	return NULL;
}

/* FN(ARG) on a thread inside namespace NS, which dies with the thread: the
 * caller never changes namespace. FN's result, or -errno of entering NS */
static int
ns_run(const char *ns, int (*fn)(void *arg), void *arg)
{
	struct ns_job j = {ns, fn, arg, 0};
	pthread_t th;
	int e = pthread_create(&th, NULL, ns_job_thread, &j);

	if (e != 0)
		return -e;
	pthread_join(th, NULL);
	return j.rc;
}

/* ---- rtnetlink, in the current namespace ---- */

static int
rt_request(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int rc;

	if (nl == NULL)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	unsigned portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL);
	rc = rc < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return rc;
}

static struct nlmsghdr *
newlink_msg(char *buf, int ifindex, uint16_t extra_flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | extra_flags;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

static int
link_up(const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int ifindex = (int)if_nametoindex(name);

	if (ifindex == 0)
		return -ENODEV;
	struct nlmsghdr *nlh = newlink_msg(buf, ifindex, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = IFF_UP;
	return rt_request(nlh);
}

/* the bridge's bound on learned addresses (Linux 6.8; newer than Debian 12's
 * uapi headers, hence the number) */
#ifndef IFLA_BR_FDB_MAX_LEARNED
#define IFLA_BR_FDB_MAX_LEARNED 49
#endif

/* a bridge; MAC NULL: the kernel picks its address */
static int
bridge_add(const char *name, uint32_t mac_limit, const uint8_t *mac)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = newlink_msg(buf, 0, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info, *data;
	int rc;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mac != NULL)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	if (mac_limit) {
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		mnl_attr_put_u32(nlh, IFLA_BR_FDB_MAX_LEARNED, mac_limit);
		mnl_attr_nest_end(nlh, data);
	}
	mnl_attr_nest_end(nlh, info);
	rc = rt_request(nlh);
	return rc ? rc : link_up(name);
}

/* a veth pair: HOST here, a port of bridge MASTER; PEER in namespace NSFD */
static int
veth_add(const char *host, const char *peer, int nsfd, const char *master, uint32_t mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = newlink_msg(buf, 0, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info, *data, *pe;
	struct ifinfomsg *pifm;
	int master_ifindex = master != NULL ? (int)if_nametoindex(master) : -1;
	int rc;

	if (master_ifindex == 0)
		return -ENODEV;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
	if (master != NULL)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_ifindex);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pe = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	memset(pifm, 0, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, pe);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	rc = rt_request(nlh);
	return rc ? rc : link_up(host);
}

/* a default route of FAMILY through lo: TCP resets for bridged packets need
 * a route back to the sender to exist (the reset itself leaves through the
 * bridge port the packet came in on) */
static int
route_default_lo(int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int lo = (int)if_nametoindex("lo");

	if (lo == 0)
		return -ENODEV;
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)lo);
	return rt_request(nlh);
}

/* address P (a host address) with the prefix length PLEN on interface
 * NAME; IPv6 without duplicate address detection, usable at once */
static int
addr_add(const char *name, const struct hv_prefix *p, unsigned plen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	int ifindex = (int)if_nametoindex(name);

	if (ifindex == 0)
		return -ENODEV;
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = p->family == 4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_flags = p->family == 6 ? IFA_F_NODAD : 0;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, p->family == 4 ? 4 : 16, p->a);
	mnl_attr_put(nlh, IFA_ADDRESS, p->family == 4 ? 4 : 16, p->a);
	return rt_request(nlh);
}

/* a permanent neighbour entry: ADDR (FAMILY 4 or 6) at MAC on IFINDEX */
static int
neigh_add(int ifindex, int family, const uint8_t *addr, const uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = family == 4 ? AF_INET : AF_INET6;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, family == 4 ? 4 : 16, addr);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	return rt_request(nlh);
}

static int
sysctl_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		rc = -errno;
	close(fd);
	return rc;
}

/* ---- names ---- */

static bool
ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= KIFNAMSIZ)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s >= 127)
			return false;
	return true;
}

struct knic {
	struct hv_vmm_nic vn;
	char host[KIFNAMSIZ];
	struct hv_prefix *ips;
};

struct kguest {
	const struct hv_guest *g;
	char instance[NAME_MAX + 1];
	struct knic *nics;
	struct hv_vmm_nic *vnics;
	struct hv_vmm_guest vg;
};

static void
kguests_free(struct kguest *kg, size_t n)
{
	for (size_t i = 0; kg && i < n; i++) {
		for (size_t j = 0; kg[i].nics && j < kg[i].g->nics.n; j++)
			free(kg[i].nics[j].ips);
		free(kg[i].nics);
		free(kg[i].vnics);
	}
	free(kg);
}

static char *
where(const struct hv_loc *loc, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%u:%u", hv_src_path(loc->src), loc->line, loc->col);
	return buf;
}

/* every name the lab needs, checked before anything is made; 0 or 1 */
static int
resolve(const char *lab, const struct hv_prog *prog, const char *state_dir,
	char (*bridges)[KIFNAMSIZ], struct kguest **out)
{
	struct kguest *kg = calloc(prog->guests.n + 1, sizeof(*kg));
	char w[PATH_MAX + 32];
	int bad = 0;

	*out = kg;
	if (kg == NULL)
		return 1;
	for (size_t s = 0; s < prog->segments.n; s++) {
		const char *name = prog->segments.v[s].name;
		if (ifname_ok(name))
			snprintf(bridges[s], KIFNAMSIZ, "%s", name);
		else
			snprintf(bridges[s], KIFNAMSIZ, "hvbr%u", (unsigned)(s % 100000));
	}
	for (size_t i = 0; i < prog->guests.n; i++) {
		const struct hv_guest *g = &prog->guests.v[i];
		struct kguest *k = &kg[i];

		k->g = g;
		if ((size_t)snprintf(k->instance, sizeof(k->instance), "%s-%s", lab, g->name) >=
		    sizeof(k->instance)) {
			hv_lab_err("%s: guest %s: the namespace name %s-%s is too long",
				   where(&g->loc, w, sizeof(w)), g->name, lab, g->name);
			bad++;
			continue;
		}
		k->nics = calloc(g->nics.n + 1, sizeof(*k->nics));
		k->vnics = calloc(g->nics.n + 1, sizeof(*k->vnics));
		if (k->nics == NULL || k->vnics == NULL)
			return 1;
		for (size_t j = 0; j < g->nics.n; j++) {
			const struct hv_nic *n = &g->nics.v[j];
			const struct hv_segment *seg = &prog->segments.v[n->seg_id];
			struct knic *kn = &k->nics[j];

			if (!ifname_ok(n->name)) {
				hv_lab_err(
					"%s: guest %s: nic name %s is not an interface name (1-15 bytes)",
					where(&n->loc, w, sizeof(w)), g->name, n->name);
				bad++;
				continue;
			}
			if ((size_t)snprintf(kn->host, sizeof(kn->host), "%s-%s", g->name,
					     n->name) >= sizeof(kn->host) ||
			    !ifname_ok(kn->host))
				/* unique within the lab's switch namespace; a clash would be EEXIST */
				snprintf(kn->host, sizeof(kn->host), "hvk%u-%u",
					 (unsigned)(i % 100000), (unsigned)(j % 100));
			kn->ips = calloc(n->ips.n + 1, sizeof(*kn->ips));
			if (kn->ips == NULL)
				return 1;
			for (size_t a = 0; a < n->ips.n; a++)
				kn->ips[a] = n->ips.v[a].p;
			kn->vn = (struct hv_vmm_nic){.name = n->name,
						     .port = kn->host,
						     .segment = seg->name,
						     .has_mac = n->has_mac,
						     .mtu = n->mtu ? n->mtu : seg->mtu,
						     .ips = kn->ips,
						     .n_ips = n->ips.n};
			memcpy(kn->vn.mac, n->mac, 6);
			if (g->kind == HV_GUEST_QEMU) {
				/* a tap of the switch namespace, named like a veth's
				 * switch end; the VM's MAC the same every time */
				kn->vn.tap = kn->host;
				if (!kn->vn.has_mac) {
					hv_qemu_mac_derive(k->instance, n->name, kn->vn.mac);
					kn->vn.has_mac = true;
				}
			}
			hv_vmm_nic_gateways(seg, n, &kn->vn.gw4, &kn->vn.gw6);
			k->vnics[j] = kn->vn;
		}
		k->vg = (struct hv_vmm_guest){.name = g->name,
					      .instance = k->instance,
					      .state_dir = state_dir,
					      .nics = k->vnics,
					      .n_nics = g->nics.n,
					      .memory = g->memory,
					      .cpus = g->cpus,
					      .image = g->image,
					      .tap_nics = g->kind == HV_GUEST_QEMU};
	}
	return bad ? 1 : 0;
}

/* ---- state ---- */

struct kstate {
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	json_t *o;
};

static int
kstate_save(struct kstate *st)
{
	char tmp[PATH_MAX + 32];

	snprintf(tmp, sizeof(tmp), "%s.tmp", st->path);
	if (json_dump_file(st->o, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
		hv_lab_err("cannot write %s", tmp);
		return -EIO;
	}
	if (rename(tmp, st->path) != 0) {
		int e = errno;
		hv_lab_err("cannot write %s: %s", st->path, strerror(e));
		return -e;
	}
	return 0;
}

/* ---- mirrors ---- */

struct mac_job {
	const char *ifname;
	uint8_t mac[6];
};

/* inside a guest's namespace: the MAC of its NIC */
static int
nic_mac(void *arg)
{
	struct mac_job *j = arg;
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", j->ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rc = -errno;
	else
		memcpy(j->mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return rc;
}

struct mirror_job {
	struct hv_nft *nft;
	const char *port;
	const uint8_t *mac;
};

/* a host route to DST (FAMILY 4 or 6) on IFINDEX: via GW (on-link) when GW
 * is given, else straight through the interface (scope link) */
static int
route_add(int ifindex, int family, const uint8_t *dst, const uint8_t *gw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	size_t alen = family == 4 ? 4 : 16;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family == 4 ? AF_INET : AF_INET6;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = gw != NULL ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (gw != NULL)
		rtm->rtm_flags = RTNH_F_ONLINK;
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (gw != NULL)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return rt_request(nlh);
}

/* inside the switch namespace: the mirror port's next hops. nft dup sends a copy to HV_NFT_MIRROR_HOP4/6 on the
 * port; the kernel resolves the MAC of a route's gateway, or else of the
 * packet's own destination, so the hops are routed via a second address
 * whose permanent neighbour entry is the mirror guest's MAC. */
static int
mirror_port_setup(void *arg)
{
	struct mirror_job *j = arg;
	static const uint8_t hop4[4] = {169, 254, 68, 76}, gw4[4] = {169, 254, 68, 77};
	static const uint8_t hop6[16] = {0xfe, 0x80, [14] = 0x68, 0x76};
	static const uint8_t gw6[16] = {0xfe, 0x80, [14] = 0x68, 0x77};
	int ifindex = (int)if_nametoindex(j->port), rc;

	if (ifindex == 0)
		return -ENODEV;
	if ((rc = neigh_add(ifindex, 4, gw4, j->mac)) != 0 ||
	    (rc = neigh_add(ifindex, 6, gw6, j->mac)) != 0 ||
	    (rc = route_add(ifindex, 4, hop4, gw4)) != 0 ||
	    (rc = route_add(ifindex, 6, hop6, gw6)) != 0)
		return rc;
	return 0;
}

/* every mirror port of NFT: the NIC of a guest of the lab; its copies go to
 * that NIC's MAC. 0, or 1 with the error printed */
static int
up_mirror_ports(const char *swns, struct hv_nft *nft, struct kguest *kg, size_t n_guests)
{
	for (size_t i = 0; hv_nft_mirror_port(nft, i); i++) {
		const char *port = hv_nft_mirror_port(nft, i);
		struct kguest *k = NULL;
		size_t nic = 0;

		for (size_t g = 0; g < n_guests && k == NULL; g++)
			for (size_t j = 0; j < kg[g].vg.n_nics && k == NULL; j++)
				if (strcmp(kg[g].nics[j].host, port) == 0) {
					k = &kg[g];
					nic = j;
				}
		if (k == NULL) {
			hv_lab_err(
				"mirror port %s is no guest NIC of this lab (on the kernel datapath a mirror port is GUEST-NIC)",
				port);
			return 1;
		}
		struct mac_job mj = {.ifname = k->g->nics.v[nic].name};
		int rc = 0;
		if (k->g->kind == HV_GUEST_QEMU)
			memcpy(mj.mac, k->vnics[nic].mac, 6); /* QEMU's, from the file or derived */
		else
			rc = ns_run(k->instance, nic_mac, &mj);
		struct mirror_job j = {nft, port, mj.mac};
		if (rc == 0)
			rc = ns_run(swns, mirror_port_setup, &j);
		if (rc != 0) {
			hv_lab_err("mirror port %s (guest %s): %s", port, k->g->name,
				   strerror(-rc));
			return 1;
		}
		hv_lab_progress(
			"mirror port %s: copies to guest %s, nic %s (%02x:%02x:%02x:%02x:%02x:%02x)",
			port, k->g->name, k->g->nics.v[nic].name, mj.mac[0], mj.mac[1], mj.mac[2],
			mj.mac[3], mj.mac[4], mj.mac[5]);
	}
	return 0;
}

/*
 * Mirrors nft dup cannot express (port selection, a filter, the delivered
 * tap) but tc can (hv_nft_mirror_tc_unsupported): on each selected bridge
 * port of the switch namespace, a clsact qdisc and a cls_bpf classifier
 * (the filter compiled by libpcap for Ethernet, or a program that takes
 * every frame) whose actions mirror the frame out of each destination
 * port (mirred egress mirror, then pipe: the original goes on untouched).
 * The wire tap is the port's ingress (what the guest sends), the delivered
 * tap its egress (what the bridge delivers to it).
 */
#define TC_MIRROR_DESTS_MAX 8 /* port destinations of one tc mirror */

struct tc_mirror_job {
	const char *dev;	       /* a selected port */
	bool egress;		       /* else ingress */
	uint16_t prio;		       /* one per mirror */
	const struct sock_filter *ops; /* the classic BPF program */
	uint16_t n_ops;
	const char *const *dests; /* devices copies go out of */
	size_t n_dests;
};

/* A new-object request of TYPE for the tc object of PARENT on IFINDEX, in BUF. */
static struct nlmsghdr *
tc_msg(char *buf, uint16_t type, int ifindex, uint32_t parent)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	return nlh;
}

/* inside the switch namespace: one classifier of a tc mirror on one port */
static int
tc_mirror_setup(void *arg)
{
	const struct tc_mirror_job *j = arg;
	/* room for the program (up to BPF_MAXINSNS instructions) and the actions */
	const size_t size =
		MNL_SOCKET_BUFFER_SIZE + (size_t)j->n_ops * sizeof(*j->ops) + j->n_dests * 256;
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;
	int ifindex = (int)if_nametoindex(j->dev), rc;

	if (ifindex == 0)
		return -ENODEV;
	char *buf = malloc(size);
	if (buf == NULL)
		return -ENOMEM;
	/* the clsact qdisc, once per port */
	nlh = tc_msg(buf, RTM_NEWQDISC, ifindex, TC_H_CLSACT);
	tcm = mnl_nlmsg_get_payload(nlh);
	tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
	rc = rt_request(nlh);
	if (rc != 0 && rc != -EEXIST)
		goto free_buf;

	nlh = tc_msg(buf, RTM_NEWTFILTER, ifindex,
		     TC_H_MAKE(TC_H_CLSACT, j->egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS));
	tcm = mnl_nlmsg_get_payload(nlh);
	tcm->tcm_info = TC_H_MAKE((uint32_t)j->prio << 16, htons(ETH_P_ALL));
	mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
	struct nlattr *opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u16(nlh, TCA_BPF_OPS_LEN, j->n_ops);
	mnl_attr_put(nlh, TCA_BPF_OPS, j->n_ops * sizeof(*j->ops), j->ops);
	struct nlattr *acts = mnl_attr_nest_start(nlh, TCA_BPF_ACT);
	for (size_t d = 0; d < j->n_dests; d++) {
		int out = (int)if_nametoindex(j->dests[d]);
		if (out == 0) {
			rc = -ENODEV;
			goto free_buf;
		}
		struct nlattr *a = mnl_attr_nest_start(nlh, (uint16_t)(d + 1));
		mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
		struct nlattr *ao = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
		struct tc_mirred parm = {.action = TC_ACT_PIPE,
					 .eaction = TCA_EGRESS_MIRROR,
					 .ifindex = (uint32_t)out};
		mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(parm), &parm);
		mnl_attr_nest_end(nlh, ao);
		mnl_attr_nest_end(nlh, a);
	}
	mnl_attr_nest_end(nlh, acts);
	mnl_attr_nest_end(nlh, opts);
	rc = rt_request(nlh);
free_buf:
	free(buf);
	return rc;
}

/* the switch-side device of the guest NIC whose hvnet port is PORT, or NULL */
static const char *
port_host(struct kguest *kg, size_t n_guests, const char *port, const char **segment)
{
	for (size_t g = 0; g < n_guests; g++)
		for (size_t j = 0; j < kg[g].vg.n_nics; j++)
			if (strcmp(kg[g].vnics[j].port, port) == 0) {
				if (segment)
					*segment = kg[g].vnics[j].segment;
				return kg[g].nics[j].host;
			}
	return NULL;
}

static bool is_mirror_port(const struct hv_prog *prog, const char *port);

/* every mirror that tc expresses and nft dup does not. 0, or 1 with the
 * error printed (the lab is rolled back) */
static int
up_tc_mirrors(const char *swns, const struct hv_prog *prog, struct kguest *kg, size_t n_guests)
{
	static const struct sock_filter take_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffffffffu)};

	for (size_t i = 0; i < prog->mirrors.n; i++) {
		const struct hv_mirror *m = &prog->mirrors.v[i];
		const char *dests[TC_MIRROR_DESTS_MAX];
		size_t n_dests = 0, n_sel = 0;
		struct bpf_program fp = {0};
		char sel[256] = "";
		int rc = 0;

		if (hv_nft_mirror_dup_unsupported(m) == NULL ||
		    hv_nft_mirror_tc_unsupported(m) != NULL)
			continue;
		for (size_t d = 0; d < m->dests.n; d++) {
			const struct hv_mirror_dest *md = &m->dests.v[d];
			if (md->kind != HV_DEST_PORT) {
				hv_lab_progress(
					"note: mirror %s: %s destinations are not done on the kernel datapath (capture on the mirror port instead: tcpdump -i PORT -w FILE)",
					m->name, md->kind == HV_DEST_PCAP ? "pcap" : "remote");
				continue;
			}
			const char *host = port_host(kg, n_guests, md->port, NULL);
			if (host == NULL) {
				hv_lab_err(
					"mirror %s: port %s is no guest NIC of this lab (on the kernel datapath a mirror port is GUEST-NIC)",
					m->name, md->port);
				return 1;
			}
			if (n_dests == TC_MIRROR_DESTS_MAX) {
				hv_lab_progress(
					"note: mirror %s: tc copies go to its first %d ports only, not to %s",
					m->name, TC_MIRROR_DESTS_MAX, md->port);
				continue;
			}
			dests[n_dests++] = host;
		}
		if (n_dests == 0) {
			hv_lab_progress("note: mirror %s is not set up: it has no port destination",
					m->name);
			continue;
		}
		for (size_t p = 0; p < m->ports.n; p++)
			if (port_host(kg, n_guests, m->ports.v[p].name, NULL) == NULL) {
				hv_lab_err("mirror %s: port %s is no guest NIC of this lab",
					   m->name, m->ports.v[p].name);
				return 1;
			}
		const struct sock_filter *ops = take_all;
		uint16_t n_ops = 1;
		if (m->filter) {
			pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
			if (pd == NULL ||
			    pcap_compile(pd, &fp, m->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
				hv_lab_err("mirror %s: bad filter \"%s\": %s", m->name, m->filter,
					   pd ? pcap_geterr(pd) : "out of memory");
				if (pd)
					pcap_close(pd);
				return 1;
			}
			pcap_close(pd);
			if (fp.bf_len > BPF_MAXINSNS) {
				hv_lab_err(
					"mirror %s: filter \"%s\" compiles to %u instructions, more than the kernel's classic BPF takes (%d); simplify it",
					m->name, m->filter, fp.bf_len, BPF_MAXINSNS);
				pcap_freecode(&fp);
				return 1;
			}
			ops = (const struct sock_filter *)fp.bf_insns;
			n_ops = (uint16_t)fp.bf_len;
		}
		const bool egress = m->tap_delivered;
		for (size_t g = 0; g < n_guests && rc == 0; g++)
			for (size_t j = 0; j < kg[g].vg.n_nics && rc == 0; j++) {
				const struct hv_vmm_nic *vn = &kg[g].vnics[j];
				bool take = m->ports.n == 0 && m->segments.n == 0;
				for (size_t p = 0; p < m->ports.n; p++)
					take |= strcmp(m->ports.v[p].name, vn->port) == 0;
				for (size_t s = 0; s < m->segments.n; s++)
					take |= strcmp(m->segments.v[s].name, vn->segment) == 0;
				if (!take || is_mirror_port(prog, vn->port))
					continue;
				struct tc_mirror_job tj = {kg[g].nics[j].host,
							   egress,
							   (uint16_t)(i + 1),
							   ops,
							   n_ops,
							   dests,
							   n_dests};
				rc = ns_run(swns, tc_mirror_setup, &tj);
				if (rc != 0)
					hv_lab_err("mirror %s: tc on port %s: %s", m->name,
						   vn->port, strerror(-rc));
				else if (strlen(sel) + strlen(vn->port) + 3 < sizeof(sel))
					snprintf(sel + strlen(sel), sizeof(sel) - strlen(sel),
						 "%s%s", n_sel ? ", " : "", vn->port);
				n_sel++;
			}
		pcap_freecode(&fp);
		if (rc != 0)
			return 1;
		if (m->snaplen)
			hv_lab_progress(
				"note: mirror %s: copies are whole frames (snaplen %u is not applied)",
				m->name, m->snaplen);
		hv_lab_progress(
			"mirror %s: tc mirred copies of the frames %s port%s %s%s%s%s to %s%s",
			m->name, egress ? "delivered to" : "sent by", n_sel == 1 ? "" : "s",
			n_sel ? sel : "(none)", m->filter ? " matching \"" : "",
			m->filter ? m->filter : "", m->filter ? "\"" : "", dests[0],
			n_dests > 1 ? " and more" : "");
	}
	return 0;
}

/* ---- the overlay: a vxlan device per segment VNI ---- */

/* move interface NAME of the current namespace into namespace NSFD */
static int
link_move(const char *name, int nsfd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int ifindex = (int)if_nametoindex(name);

	if (ifindex == 0)
		return -ENODEV;
	struct nlmsghdr *nlh = newlink_msg(buf, ifindex, 0);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	return rt_request(nlh);
}

/* vxlan device NAME for VNI on underlay UL (local address LOCAL), a port of
 * bridge MASTER; remote MACs are learned behind the VTEP they came from */
static int
vxlan_add(const char *name, uint32_t vni, const struct hv_overlay *ov, int ul, const char *master)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = newlink_msg(buf, 0, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info, *data;
	int master_ifindex = (int)if_nametoindex(master), rc;

	if (master_ifindex == 0)
		return -ENODEV;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_ifindex);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vni);
	if (ov->local.family == 4)
		mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, 4, ov->local.a);
	else
		mnl_attr_put(nlh, IFLA_VXLAN_LOCAL6, 16, ov->local.a);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, (uint32_t)ul);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(ov->port ? ov->port : 4789));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_TTL, ov->ttl ? ov->ttl : 64);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 1);
	/* the outer UDP checksum over IPv4 as hvnetd sends it: 0 unless `udp-checksum yes` */
	if (ov->local.family == 4)
		mnl_attr_put_u8(nlh, IFLA_VXLAN_UDP_CSUM, ov->udp_csum ? 1 : 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	rc = rt_request(nlh);
	return rc ? rc : link_up(name);
}

/* the flood entry of vxlan IFINDEX towards PEER (head-end replication) */
static int
vxlan_flood_add(int ifindex, const struct hv_prefix *peer)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	static const uint8_t zero[6];
	struct ndmsg *nd;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	nd->ndm_flags = NTF_SELF;
	mnl_attr_put(nlh, NDA_LLADDR, 6, zero);
	mnl_attr_put(nlh, NDA_DST, peer->family == 4 ? 4 : 16, peer->a);
	return rt_request(nlh);
}

/* does PEER carry segment SG (no segments: every segment with a VNI)? */
static bool
peer_carries(const struct hv_peer *peer, const struct hv_segment *sg)
{
	if (peer->segments.n == 0)
		return true;
	for (size_t i = 0; i < peer->segments.n; i++)
		if (strcmp(peer->segments.v[i].name, sg->name) == 0)
			return true;
	return false;
}

struct overlay_job {
	const struct hv_prog *prog;
	char (*bridges)[KIFNAMSIZ];
};

/* inside the switch namespace, the underlay interface already moved in:
 * its address, routes to the peers, and a vxlan device per carried VNI */
static int
overlay_setup(void *arg)
{
	const struct overlay_job *j = arg;
	const struct hv_overlay *ov = &j->prog->overlay;
	int ul = (int)if_nametoindex(ov->dev), rc;
	char a[64];

	if (ul == 0)
		return -ENODEV;
	if ((rc = link_up(ov->dev)) != 0 ||
	    (rc = addr_add(ov->dev, &ov->local, ov->local.family == 4 ? 32 : 128)) != 0) {
		hv_lab_err("overlay: underlay %s: %s", ov->dev, strerror(-rc));
		return rc;
	}
	for (size_t p = 0; p < ov->peers.n; p++)
		if ((rc = route_add(ul, ov->peers.v[p].addr.family, ov->peers.v[p].addr.a, NULL)) !=
		    0) {
			hv_prefix_format(&ov->peers.v[p].addr, a, sizeof(a));
			hv_lab_err("overlay: route to peer %s over %s: %s", a, ov->dev,
				   strerror(-rc));
			return rc;
		}
	for (size_t s = 0; s < j->prog->segments.n; s++) {
		const struct hv_segment *sg = &j->prog->segments.v[s];
		char name[KIFNAMSIZ], peers[512] = "";
		size_t len = 0, n = 0;
		int vx;

		if (!sg->has_vni)
			continue;
		for (size_t p = 0; p < ov->peers.n; p++)
			n += peer_carries(&ov->peers.v[p], sg);
		if (n == 0)
			continue;
		snprintf(name, sizeof(name), "vx%u", sg->vni);
		if ((rc = vxlan_add(name, sg->vni, ov, ul, j->bridges[s])) != 0 ||
		    (vx = (int)if_nametoindex(name)) == 0) {
			hv_lab_err("segment %s: cannot create vxlan %s (VNI %u) on %s: %s",
				   sg->name, name, sg->vni, ov->dev, strerror(rc ? -rc : ENODEV));
			return rc ? rc : -ENODEV;
		}
		for (size_t p = 0; p < ov->peers.n; p++) {
			if (!peer_carries(&ov->peers.v[p], sg))
				continue;
			hv_prefix_format(&ov->peers.v[p].addr, a, sizeof(a));
			if ((rc = vxlan_flood_add(vx, &ov->peers.v[p].addr)) != 0) {
				hv_lab_err("segment %s: flood entry of %s to peer %s: %s", sg->name,
					   name, a, strerror(-rc));
				return rc;
			}
			if (len < sizeof(peers))
				len += (size_t)snprintf(peers + len, sizeof(peers) - len, "%s%s",
							len ? ", " : "", a);
		}
		hv_lab_progress("segment %s: vxlan %s (VNI %u) on bridge %s, peers %s", sg->name,
				name, sg->vni, j->bridges[s], peers);
	}
	return 0;
}

/* the underlay interface of the overlay block moves from the caller's
 * namespace into the switch namespace, which gets the VTEP; 0 or 1 */
static int
up_overlay(const char *swns, const struct hv_prog *prog, char (*bridges)[KIFNAMSIZ])
{
	const struct hv_overlay *ov = &prog->overlay;
	int fd = ns_open(swns), rc;
	char a[64];

	if (fd < 0) {
		hv_lab_err("cannot open namespace %s: %s", swns, strerror(-fd));
		return 1;
	}
	rc = link_move(ov->dev, fd);
	close(fd);
	if (rc != 0) {
		hv_lab_err("overlay: cannot move underlay interface %s into %s: %s", ov->dev, swns,
			   strerror(-rc));
		return 1;
	}
	struct overlay_job j = {prog, bridges};
	if (ns_run(swns, overlay_setup, &j) != 0)
		return 1;
	hv_prefix_format(&ov->local, a, sizeof(a));
	hv_lab_progress("overlay: VTEP %s on %s (moved into %s), UDP port %u", a, ov->dev, swns,
			ov->port ? ov->port : 4789);
	return 0;
}

/* ---- router advertisements: radvd in the switch namespace ---- */

#define RADVD "radvd"

/* radvd's configuration for the segments whose file entry asks for router
 * advertisements, as hvnetd sends them (vswitch/gateway.c): from the
 * gateway's link-local address (the bridge's, from the gateway MAC), router
 * lifetime 1800 s, every 30 s at most, the segment's IPv6 subnets on-link
 * and not autonomous (addresses stay the file's). 0 when no segment asks,
 * 1 when written, -errno */
static int
radvd_conf_write(const char *path, const struct hv_prog *prog, char (*bridges)[KIFNAMSIZ])
{
	FILE *f = NULL;
	char a[64];

	for (size_t s = 0; s < prog->segments.n; s++) {
		const struct hv_segment *sg = &prog->segments.v[s];
		bool gw6 = false;
		for (size_t k = 0; k < sg->gateways.n; k++)
			gw6 |= sg->gateways.v[k].p.family == 6;
		if (!sg->router_adv || !gw6)
			continue;
		if (f == NULL && (f = fopen(path, "w")) == NULL)
			return -errno;
		fprintf(f,
			"# segment %s (hvnetctl lab up --datapath kernel)\n"
			"interface %s {\n"
			"\tAdvSendAdvert on;\n"
			"\tMinRtrAdvInterval 10;\n"
			"\tMaxRtrAdvInterval 30;\n"
			"\tAdvDefaultLifetime 1800;\n",
			sg->name, bridges[s]);
		for (size_t k = 0; k < sg->subnets.n; k++) {
			if (sg->subnets.v[k].p.family != 6)
				continue;
			hv_prefix_format(&sg->subnets.v[k].p, a, sizeof(a));
			fprintf(f,
				"\tprefix %s {\n\t\tAdvOnLink on;\n\t\tAdvAutonomous off;\n"
				"\t\tAdvValidLifetime 86400;\n\t\tAdvPreferredLifetime 14400;\n\t};\n",
				a);
		}
		fputs("};\n", f);
	}
	if (f == NULL)
		return 0;
	if (fclose(f) != 0)
		return -errno;
	return 1;
}

/* radvd with CONF, daemonized inside namespace SWNS, its pid in PIDFILE.
 * 0, or 1 with the error printed */
static int
radvd_start(const char *swns, const char *conf, const char *pidfile, const char *log)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		hv_lab_err("router advertisements: fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		int fd = ns_open(swns);
		if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
			_exit(126);
		execlp(RADVD, RADVD, "-C", conf, "-p", pidfile, "-m", "logfile", "-l", log,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (code == 127)
			hv_lab_err(
				"router advertisements: cannot run %s (apt-get install radvd; scripts/install-deps.sh)",
				RADVD);
		else
			hv_lab_err("router advertisements: radvd failed (exit %d); its log: %s",
				   code, log);
		return 1;
	}
	/* the daemon writes its pid file once it runs */
	for (int i = 0; i < 50; i++) {
		if (access(pidfile, R_OK) == 0)
			return 0;
		usleep(20000);
	}
	hv_lab_err("router advertisements: radvd did not start (no %s); its log: %s", pidfile, log);
	return 1;
}

/* stop the radvd of PIDFILE, if it runs; 0 or -errno */
static int
radvd_stop(const char *pidfile)
{
	char comm[64] = "", path[64];
	long pid = 0;
	FILE *f = fopen(pidfile, "r");

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 1)
		return 0;
	/* only a radvd: a stale file may name a reused pid */
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = 0;
	fclose(f);
	if (strncmp(comm, RADVD, strlen(RADVD)) != 0)
		return 0;
	if (kill((pid_t)pid, SIGTERM) != 0)
		return -errno;
	for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++)
		usleep(10000);
	return 0;
}

/* ---- lab up ---- */

struct switch_job {
	const char *swns;
	const struct hv_prog *prog;
	char (*bridges)[KIFNAMSIZ];
	bool routing; /* the segments' gateways route (a policy is in force) */
};

/* the prefix length of the subnet of SG that holds gateway GW */
static unsigned
gateway_plen(const struct hv_segment *sg, const struct hv_prefix *gw)
{
	for (size_t k = 0; k < sg->subnets.n; k++)
		if (sg->subnets.v[k].p.family == gw->family &&
		    hv_prefix_contains(&sg->subnets.v[k].p, gw))
			return sg->subnets.v[k].p.plen;
	return gw->plen; /* the language refuses a gateway outside the subnets */
}

/* inside the switch namespace: segment S's gateway addresses on its bridge */
static int
gateway_setup(const struct switch_job *j, size_t s)
{
	const struct hv_segment *sg = &j->prog->segments.v[s];
	char line[512], a[64];
	size_t len = 0;
	uint8_t mac[6];
	int rc;

	if (sg->gateways.n == 0)
		return 0;
	for (size_t k = 0; k < sg->gateways.n; k++) {
		const struct hv_prefix *gw = &sg->gateways.v[k].p;
		struct hv_prefix net = *gw;

		net.plen = (uint8_t)gateway_plen(sg, gw);
		hv_prefix_format(&net, a, sizeof(a));
		if ((rc = addr_add(j->bridges[s], gw, net.plen)) != 0) {
			hv_lab_err("segment %s: cannot add gateway address %s to bridge %s: %s",
				   sg->name, a, j->bridges[s], strerror(-rc));
			return rc;
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s", k ? ", " : "", a);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
	}
	hv_nft_gateway_mac(sg->name, mac);
	hv_lab_progress("segment %s: gateway %s on bridge %s, MAC %02x:%02x:%02x:%02x:%02x:%02x",
			sg->name, line, j->bridges[s], mac[0], mac[1], mac[2], mac[3], mac[4],
			mac[5]);
	return 0;
}

/* inside the switch namespace */
static int
switch_setup(void *arg)
{
	const struct switch_job *j = arg;
	const char *swns = j->swns;
	const struct hv_prog *prog = j->prog;
	char(*bridges)[KIFNAMSIZ] = j->bridges;
	int rc;

	/* bridged IPv4 and IPv6 go through the inet hooks: the policy's table */
	if ((rc = sysctl_write(BR_NF_IPTABLES, "1")) != 0 ||
	    (rc = sysctl_write(BR_NF_IP6TABLES, "1")) != 0) {
		hv_lab_err(
			"namespace %s: cannot turn on br_netfilter (%s): %s; the kernel needs CONFIG_BRIDGE_NETFILTER",
			swns, BR_NF_IPTABLES, strerror(-rc));
		goto out;
	}
	if ((rc = route_default_lo(AF_INET)) != 0 || (rc = route_default_lo(AF_INET6)) != 0) {
		hv_lab_err(
			"namespace %s: cannot add the default routes through lo (for TCP resets): %s",
			swns, strerror(-rc));
		goto out;
	}
	/* the gateways: a router in this namespace (forwarding here only;
	 * redirects off, as hvnetd sends none) */
	if (j->routing) {
		static const char *const fwd[][2] = {
			{"/proc/sys/net/ipv4/ip_forward", "1"},
			{"/proc/sys/net/ipv6/conf/all/forwarding", "1"},
			{"/proc/sys/net/ipv4/conf/all/send_redirects", "0"},
			{"/proc/sys/net/ipv4/conf/default/send_redirects", "0"},
			/* link-local addresses usable at once: radvd advertises
			 * from the bridge's as soon as it starts */
			{"/proc/sys/net/ipv6/conf/all/accept_dad", "0"},
			{"/proc/sys/net/ipv6/conf/default/accept_dad", "0"},
		};
		for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
			if ((rc = sysctl_write(fwd[i][0], fwd[i][1])) != 0) {
				hv_lab_err("namespace %s: cannot set %s to %s: %s", swns, fwd[i][0],
					   fwd[i][1], strerror(-rc));
				goto out;
			}
	}
	for (size_t s = 0; s < prog->segments.n; s++) {
		uint8_t mac[6];
		hv_nft_gateway_mac(prog->segments.v[s].name, mac);
		rc = bridge_add(bridges[s], prog->segments.v[s].mac_limit, j->routing ? mac : NULL);
		if (rc != 0) {
			hv_lab_err("segment %s: cannot create bridge %s in %s: %s",
				   prog->segments.v[s].name, bridges[s], swns, strerror(-rc));
			goto out;
		}
		if (prog->segments.v[s].mac_limit)
			hv_lab_progress(
				"segment %s: bridge %s in namespace %s, at most %u learned MAC addresses",
				prog->segments.v[s].name, bridges[s], swns,
				prog->segments.v[s].mac_limit);
		else
			hv_lab_progress("segment %s: bridge %s in namespace %s",
					prog->segments.v[s].name, bridges[s], swns);
		if (j->routing && (rc = gateway_setup(j, s)) != 0)
			goto out;
	}
out:
	return rc;
}

static int
up_switch(const char *swns, const struct hv_prog *prog, char (*bridges)[KIFNAMSIZ], bool routing)
{
	struct switch_job j = {swns, prog, bridges, routing};
	int rc = ns_run(swns, switch_setup, &j);

	if (rc == -ENOENT || rc == -EPERM)
		hv_lab_err("cannot enter namespace %s: %s", swns, strerror(-rc));
	return rc;
}

struct veth_job {
	struct kguest *k;
	char (*bridges)[KIFNAMSIZ];
	int gfd;
	const struct hv_prog *prog;
};

/* Is PORT the `to port` of a mirror? hvnetd switches no traffic to or from
 * such a port (it receives copies only); on the kernel its veth stays out
 * of the bridge, so the two datapaths agree on what reaches it. */
static bool
is_mirror_port(const struct hv_prog *prog, const char *port)
{
	for (size_t i = 0; i < prog->mirrors.n; i++)
		for (size_t d = 0; d < prog->mirrors.v[i].dests.n; d++) {
			const struct hv_mirror_dest *md = &prog->mirrors.v[i].dests.v[d];

			if (md->kind == HV_DEST_PORT && md->port != NULL &&
			    strcmp(md->port, port) == 0)
				return true;
		}
	return false;
}

/* a persistent tap NAME (a QEMU guest's NIC) in the current namespace, a port
 * of bridge MASTER (NULL: none), up */
static int
tap_add(const char *name, const char *master, uint32_t mtu)
{
	struct ifreq ifr = {0};
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		rc = -errno;
	close(fd);
	if (rc != 0)
		return rc;
	int ifindex = (int)if_nametoindex(name);
	int master_ifindex = master ? (int)if_nametoindex(master) : 0;
	if (ifindex == 0 || (master && master_ifindex == 0))
		return -ENODEV;
	struct nlmsghdr *nlh = newlink_msg(buf, ifindex, 0);
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_ifindex);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if ((rc = rt_request(nlh)) != 0)
		return rc;
	return link_up(name);
}

/* inside the switch namespace: a QEMU guest's taps, then QEMU itself, which
 * opens them by name in this namespace (the forked QEMU stays in it) */
static int
guest_qemu(void *arg)
{
	struct veth_job *j = arg;
	struct kguest *k = j->k;
	char err[512];
	int rc = 0;

	for (size_t i = 0; i < k->vg.n_nics && rc == 0; i++) {
		const struct hv_nic *n = &k->g->nics.v[i];
		const bool mirror = is_mirror_port(j->prog, k->vnics[i].port);

		rc = tap_add(k->nics[i].host, mirror ? NULL : j->bridges[n->seg_id],
			     k->vnics[i].mtu);
		if (rc != 0) {
			hv_lab_err("guest %s, nic %s: cannot create tap %s (bridge %s): %s",
				   k->g->name, n->name, k->nics[i].host, j->bridges[n->seg_id],
				   strerror(-rc));
			return rc;
		}
	}
	rc = hv_vmm_qemu.start(&k->vg, err, sizeof(err));
	if (rc != 0)
		hv_lab_err("guest %s: %s", k->g->name, err);
	return rc;
}

/* a QEMU guest is up once its exec channel answers (it configured its NICs
 * before); 0, or -errno with the error printed */
static int
qemu_wait(const struct kguest *k)
{
	time_t start = time(NULL);

	while (time(NULL) - start < 120) {
		if (!hv_vmm_qemu.running(k->instance, k->vg.state_dir)) {
			hv_lab_err("guest %s: QEMU exited while booting (its log: %s/)", k->g->name,
				   k->vg.state_dir);
			return -ECHILD;
		}
		if (hv_qemu_ready(k->instance, k->vg.state_dir, 2000) == 0) {
			hv_lab_progress("guest %s: up after %ld s, exec channel answers",
					k->g->name, (long)(time(NULL) - start));
			return 0;
		}
	}
	hv_lab_err("guest %s: not up after 120 s", k->g->name);
	return -ETIMEDOUT;
}

/* inside the switch namespace: the guest's veth pairs */
static int
guest_veths(void *arg)
{
	struct veth_job *j = arg;
	struct kguest *k = j->k;
	int rc = 0;

	for (size_t i = 0; i < k->vg.n_nics && rc == 0; i++) {
		const struct hv_nic *n = &k->g->nics.v[i];
		const bool mirror = is_mirror_port(j->prog, k->vnics[i].port);

		rc = veth_add(k->nics[i].host, n->name, j->gfd,
			      mirror ? NULL : j->bridges[n->seg_id], k->vnics[i].mtu);
		if (rc != 0)
			hv_lab_err("guest %s, nic %s: cannot create veth %s (bridge %s) - %s: %s",
				   k->g->name, n->name, k->nics[i].host, j->bridges[n->seg_id],
				   n->name, strerror(-rc));
	}
	return rc;
}

static int
up_guest(struct kstate *st, const char *swns, struct kguest *k, const struct hv_prog *prog,
	 char (*bridges)[KIFNAMSIZ])
{
	const bool vm = k->g->kind == HV_GUEST_QEMU;
	const struct hv_vmm_kind *kind = vm ? &hv_vmm_qemu : &hv_vmm_netns;
	char err[512];
	int rc, gfd;

	json_array_append_new(json_object_get(st->o, "guests"),
			      hv_lab_guest_json(k->g->name,
						k->g->kind == HV_GUEST_QEMU ? "qemu" : "netns",
						k->instance, k->vnics, k->vg.n_nics));
	if ((rc = kstate_save(st)) != 0)
		return rc;
	rc = kind->create(&k->vg, err, sizeof(err));
	if (rc != 0) {
		hv_lab_err("guest %s: %s", k->g->name, err);
		if (rc == -EEXIST) { /* not ours: lab down must leave it */
			json_t *gs = json_object_get(st->o, "guests");
			json_array_remove(gs, json_array_size(gs) - 1);
			kstate_save(st);
		}
		return rc;
	}
	if (vm) {
		struct veth_job vj = {k, bridges, -1, prog};
		if ((rc = ns_run(swns, guest_qemu, &vj)) != 0 || (rc = qemu_wait(k)) != 0)
			return rc;
		goto show;
	}
	gfd = ns_open(k->instance);
	if (gfd < 0) {
		hv_lab_err("guest %s: cannot open namespace %s: %s", k->g->name, k->instance,
			   strerror(-gfd));
		return gfd;
	}
	struct veth_job vj = {k, bridges, gfd, prog};
	rc = ns_run(swns, guest_veths, &vj);
	close(gfd);
	if (rc != 0)
		return rc;
	rc = kind->start(&k->vg, err, sizeof(err));
	if (rc != 0) {
		hv_lab_err("guest %s: %s", k->g->name, err);
		return rc;
	}
show:
	for (size_t j = 0; j < k->vg.n_nics; j++) {
		const struct hv_vmm_nic *vn = &k->vnics[j];
		char line[1024], a[64];
		size_t len = (size_t)snprintf(line, sizeof(line), "guest %s: %s %s, %s", k->g->name,
					      vm ? "QEMU" : "namespace", k->instance, vn->name);
		for (size_t i = 0; i < vn->n_ips && len < sizeof(line); i++) {
			hv_prefix_format(&vn->ips[i], a, sizeof(a));
			len += (size_t)snprintf(line + len, sizeof(line) - len, ", %s", a);
		}
		if (len < sizeof(line))
			snprintf(line + len, sizeof(line) - len,
				 "; segment %s, port %s (%sbridge %s)", vn->segment, vn->port,
				 vm ? "a tap on " : "", bridges[k->g->nics.v[j].seg_id]);
		hv_lab_progress("%s", line);
	}
	return 0;
}

int
hv_lab_kernel_up(const char *file, const char *name)
{
	struct hv_diags d = {0};
	struct hv_prog *prog = NULL;
	struct hv_ir *ir = NULL;
	struct kguest *kg = NULL;
	struct hv_nft *nft = NULL;
	char(*bridges)[KIFNAMSIZ] = NULL;
	char abs[PATH_MAX], swns[NAME_MAX + 1], err[HV_NFT_ERR_MAX];
	struct kstate st = {0};
	int rc = 1;

	/* 1. the file, the names and the ruleset, before anything is made */
	prog = hv_lang_parse_file(file, &d);
	if (prog != NULL)
		ir = hv_lang_check(prog, &d);
	if (ir != NULL)
		hv_lang_lint(ir, &d);
	hv_diags_print(stderr, &d);
	if (ir == NULL) {
		fprintf(stderr, "%s: %zu error%s, %zu warning%s; nothing was created\n", file,
			d.n_errors, d.n_errors == 1 ? "" : "s", d.n_warnings,
			d.n_warnings == 1 ? "" : "s");
		goto free;
	}
	if (realpath(file, abs) == NULL) {
		hv_lab_err("%s: %s", file, strerror(errno));
		goto free;
	}
	if ((size_t)snprintf(swns, sizeof(swns), "%s" SWITCH_SUFFIX, name) >= sizeof(swns)) {
		hv_lab_err("lab name %s is too long", name);
		goto free;
	}
	snprintf(st.dir, sizeof(st.dir), LABS_DIR "/%s", name);
	snprintf(st.path, sizeof(st.path), "%s/state.json", st.dir);
	bridges = calloc(prog->segments.n + 1, sizeof(*bridges));
	if (bridges == NULL || resolve(name, prog, st.dir, bridges, &kg) != 0 ||
	    hv_lab_qemu_prepare(prog) != 0)
		goto free;
	/* gateways route only under a policy, as in hvnetd */
	bool routing = false;
	for (size_t s = 0; prog->policies.n > 0 && s < prog->segments.n; s++)
		routing |= prog->segments.v[s].gateways.n > 0;
	if (prog->policies.n > 0) {
		const char **br = calloc(prog->segments.n + 1, sizeof(*br));
		if (br == NULL)
			goto free;
		for (size_t s = 0; s < prog->segments.n; s++)
			br[s] = bridges[s];
		struct hv_nft_opts opts = {.table = NFT_TABLE,
					   .bridges = br,
					   .n_bridges = prog->segments.n,
					   .routing = true,
					   .mirrors = true,
					   .underlay =
						   prog->overlay.present ? prog->overlay.dev : NULL,
					   .vxlan_port = prog->overlay.port,
					   .log_group = HV_NFT_LAB_LOG_GROUP,
					   .tc_mirrors = true};
		nft = hv_nft_compile(ir, &opts, err, sizeof(err));
		free(br);
		if (nft == NULL) {
			hv_lab_err(
				"%s: the policy cannot go on the kernel datapath: %s; nothing was created",
				file, err);
			goto free;
		}
	}

	/* the overlay's underlay interface is moved into the switch namespace */
	if (prog->overlay.present) {
		const struct hv_overlay *ov = &prog->overlay;
		if (!ov->has_local || ov->dev == NULL) {
			hv_lab_err(
				"%s: overlay: the kernel datapath needs `local ADDRESS dev INTERFACE` (the underlay interface, moved into the lab's switch namespace); nothing was created",
				where(&ov->loc, err, sizeof(err)));
			goto free;
		}
		if (if_nametoindex(ov->dev) == 0) {
			hv_lab_err(
				"%s: overlay: no interface %s here: the kernel datapath moves the underlay interface of `dev` into the lab's switch namespace (create it first, e.g. one end of a veth pair); nothing was created",
				where(&ov->loc, err, sizeof(err)), ov->dev);
			goto free;
		}
	}

	/* 2. the state directory: one lab of a name at a time */
	if ((mkdir("/run/hvnet", 0755) != 0 && errno != EEXIST) ||
	    (mkdir(LABS_DIR, 0755) != 0 && errno != EEXIST)) {
		hv_lab_err("cannot create " LABS_DIR ": %s", strerror(errno));
		goto free;
	}
	if (mkdir(st.dir, 0755) != 0) {
		if (errno == EEXIST)
			hv_lab_err(
				"a lab named %s is up (state in %s); take it down first with: hvnetctl lab down %s",
				name, st.dir, name);
		else
			hv_lab_err("cannot create %s: %s", st.dir, strerror(errno));
		goto free;
	}
	char inst[64], sock[128];
	snprintf(inst, sizeof(inst), "lab-%s", name);
	snprintf(sock, sizeof(sock), "/run/hvnet/%s.sock", inst);
	st.o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:[]}", "version", 1,
			 "name", name, "file", abs, "instance", inst, "socket", sock, "phase",
			 "starting", "datapath", "kernel", "switch_netns", swns, "segments",
			 "guests");
	if (st.o == NULL || kstate_save(&st) != 0)
		goto rollback;
	hv_lab_progress("lab %s from %s, kernel datapath", name, abs);

	/* 3. the switch: a namespace, a bridge per segment */
	rc = hv_netns_create(swns, err, sizeof(err));
	if (rc != 0) {
		hv_lab_err("switch namespace %s: %s", swns, err);
		if (rc == -EEXIST) {
			json_object_del(st.o, "switch_netns");
			kstate_save(&st);
		}
		goto rollback;
	}
	if (up_switch(swns, prog, bridges, routing) != 0)
		goto rollback;
	for (size_t s = 0; s < prog->segments.n; s++)
		json_array_append_new(json_object_get(st.o, "segments"),
				      json_string(prog->segments.v[s].name));
	if (kstate_save(&st) != 0)
		goto rollback;
	if (prog->overlay.present && up_overlay(swns, prog, bridges) != 0)
		goto rollback;

	/* 4. guests */
	for (size_t i = 0; i < prog->guests.n; i++)
		if (up_guest(&st, swns, &kg[i], prog, bridges) != 0)
			goto rollback;

	/* 5. the policy, in one transaction; the mirrors tc copies */
	if (nft != NULL && up_mirror_ports(swns, nft, kg, prog->guests.n) != 0)
		goto rollback;
	if (up_tc_mirrors(swns, prog, kg, prog->guests.n) != 0)
		goto rollback;
	if (nft != NULL) {
		rc = hv_nft_commit(nft, HV_NFT_APPLY, swns, err, sizeof(err));
		if (rc != 0) {
			hv_lab_err("policy: %s", err);
			goto rollback;
		}
		for (size_t i = 0; hv_nft_note(nft, i); i++)
			hv_lab_progress("note: %s", hv_nft_note(nft, i));
		hv_lab_progress(
			"policy: %zu nft rules in table inet %s of namespace %s (nft list ruleset there), default %s%s",
			hv_nft_rule_count(nft), NFT_TABLE, swns, hv_action_name(ir->default_action),
			ir->default_log ? " log" : "");
		bool logs = ir->default_log;
		for (size_t i = 0; i < ir->n_rules; i++)
			logs |= ir->rules[i].rule->log;
		if (logs)
			hv_lab_progress(
				"policy log: NFLOG group %d of namespace %s, prefix \"RULE-ID: \" (ip netns exec %s tcpdump -v -i nflog:%d); no log-file",
				HV_NFT_LAB_LOG_GROUP, swns, swns, HV_NFT_LAB_LOG_GROUP);
		json_object_set_new(st.o, "policy", json_string(abs));
	} else {
		hv_lab_progress("policy: none in the file (the bridges forward everything)");
	}
	/* 6. router advertisements, where the file asks */
	if (routing) {
		char conf[PATH_MAX + 32], pidf[PATH_MAX + 32], log[PATH_MAX + 32];
		snprintf(conf, sizeof(conf), "%s/radvd.conf", st.dir);
		snprintf(pidf, sizeof(pidf), "%s/radvd.pid", st.dir);
		snprintf(log, sizeof(log), "%s/radvd.log", st.dir);
		int w = radvd_conf_write(conf, prog, bridges);
		if (w < 0) {
			hv_lab_err("cannot write %s: %s", conf, strerror(-w));
			goto rollback;
		}
		if (w > 0) {
			json_object_set_new(st.o, "radvd_pid_file", json_string(pidf));
			if (kstate_save(&st) != 0 || radvd_start(swns, conf, pidf, log) != 0)
				goto rollback;
			for (size_t s = 0; s < prog->segments.n; s++)
				if (prog->segments.v[s].router_adv)
					hv_lab_progress(
						"segment %s: router advertisements from bridge %s (radvd, %s)",
						prog->segments.v[s].name, bridges[s], conf);
		}
	}
	if (nft == NULL)
		for (size_t i = 0; i < prog->mirrors.n; i++)
			if (hv_nft_mirror_dup_unsupported(&prog->mirrors.v[i]) == NULL ||
			    hv_nft_mirror_tc_unsupported(&prog->mirrors.v[i]) != NULL)
				hv_lab_progress(
					"note: mirror %s is not set up: without a policy the kernel datapath has no mirrors (its destination ports are left out of the bridges, as hvnetd does)",
					prog->mirrors.v[i].name);
	if (prog->overlay.present && !prog->overlay.learn)
		hv_lab_progress(
			"note: overlay: learn no is not enforced: Linux vxlan devices accept VXLAN from any VTEP");
	json_object_set_new(st.o, "phase", json_string("up"));
	if (kstate_save(&st) != 0)
		goto rollback;
	hv_lab_progress(
		"lab %s is up on the kernel datapath: %zu segment%s, %zu guest%s; switch namespace %s",
		name, prog->segments.n, prog->segments.n == 1 ? "" : "s", prog->guests.n,
		prog->guests.n == 1 ? "" : "s", swns);
	hv_lab_progress(
		"  hvnetctl lab status %s; hvnetctl lab exec %s GUEST -- CMD; hvnetctl lab down %s",
		name, name, name);
	rc = 0;
	goto free;

rollback:
	hv_lab_err("lab up %s failed; removing what it created", name);
	if (st.o == NULL) {
		rmdir(st.dir);
	} else {
		char *av[] = {"lab", "down", (char *)name, NULL};
		if (hv_cli_lab(3, av, false) == 0)
			hv_lab_progress("lab %s: rolled back, nothing is left", name);
	}
	rc = 1;
free:
	json_decref(st.o);
	hv_nft_free(nft);
	kguests_free(kg, prog ? prog->guests.n : 0);
	free(bridges);
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	return rc;
}

int
hv_lab_kernel_teardown(json_t *state, bool verbose)
{
	const char *swns = json_string_value(json_object_get(state, "switch_netns"));
	const char *radvd = json_string_value(json_object_get(state, "radvd_pid_file"));
	char err[512];
	int rc;

	if (radvd != NULL && (rc = radvd_stop(radvd)) != 0)
		hv_lab_err("radvd of %s: %s", radvd, strerror(-rc));
	else if (radvd != NULL && verbose)
		hv_lab_progress("router advertisements stopped (radvd)");
	if (swns == NULL)
		return 0;
	rc = hv_netns_delete(swns, err, sizeof(err));
	if (rc == -ENOENT) {
		if (verbose)
			hv_lab_progress("switch namespace %s: was already gone", swns);
		return 0;
	}
	if (rc != 0) {
		hv_lab_err("switch namespace %s: %s", swns, err);
		return rc;
	}
	if (verbose)
		hv_lab_progress("switch namespace %s removed (bridges, veths, nftables tables)",
				swns);
	return 0;
}
