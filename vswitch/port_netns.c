/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel side of tap ports: move the interface DPDK created into a
 * guest's network namespace, rename it there, set its MTU and bring it up.
 * Plain rtnetlink over libmnl; the part that must run inside the namespace
 * runs on a short-lived thread that setns()es into it, so the control
 * thread never leaves the root namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "vswitch/vswitch.h"

/* Send one request on a fresh socket and wait for its ack. 0 or -errno. */
static int
nl_transact(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned portid;
	int rc;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl == NULL)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto close;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto close;
	}
	rc = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (rc < 0) {
		rc = -errno;
		goto close;
	}
	rc = mnl_cb_run(buf, (size_t)rc, nlh->nlmsg_seq, portid, NULL, NULL);
	rc = rc < 0 ? -errno : 0;
close:
	mnl_socket_close(nl);
	return rc;
}

static struct nlmsghdr *
newlink_msg(char *buf, unsigned ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned)time(NULL);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	return nlh;
}

struct in_netns_job {
	int nsfd;
	const char *ifname;
	unsigned mtu;
	bool up; /* bring it up too */
	int rc;
	const char *what;
};

static void *
in_netns_up(void *arg)
{
	struct in_netns_job *job = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned ifindex;

	if (setns(job->nsfd, CLONE_NEWNET) != 0) {
		job->rc = -errno;
		job->what = "enter the namespace";
		return NULL;
	}
	ifindex = if_nametoindex(job->ifname);
	if (ifindex == 0) {
		job->rc = -errno;
		job->what = "find the interface in the namespace";
		return NULL;
	}
	nlh = newlink_msg(buf, ifindex);
	ifm = mnl_nlmsg_get_payload(nlh);
	if (job->up) {
		ifm->ifi_flags = IFF_UP;
		ifm->ifi_change = IFF_UP;
	}
	if (job->mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, job->mtu);
	job->rc = nl_transact(nlh);
	job->what = job->up ? "bring the interface up" : "set the MTU";
	return NULL;
}

/* Run JOB (its nsfd open) on a thread inside the namespace; 0 or -errno, JOB->what on failure. */
static int
in_netns_run(struct in_netns_job *job)
{
	pthread_t th;
	int rc = pthread_create(&th, NULL, in_netns_up, job);

	if (rc != 0) {
		job->what = "start a thread to enter the namespace";
		return -rc;
	}
	pthread_join(th, NULL);
	return job->rc;
}

int
hv_netns_set_mtu(const char *netns, const char *ifname, unsigned mtu, char *err, size_t err_size)
{
	char path[256];
	struct in_netns_job job;
	int rc;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	job = (struct in_netns_job){
		.nsfd = open(path, O_RDONLY | O_CLOEXEC), .ifname = ifname, .mtu = mtu};
	if (job.nsfd < 0) {
		rc = -errno;
		snprintf(err, err_size, "network namespace '%s' not found: %s", netns,
			 strerror(errno));
		return rc;
	}
	rc = in_netns_run(&job);
	if (rc != 0)
		snprintf(err, err_size, "namespace '%s', interface '%s': cannot %s: %s", netns,
			 ifname, job.what, strerror(-rc));
	close(job.nsfd);
	return rc;
}

int
hv_netns_move_link(const char *ifname, const char *netns, const char *new_name, unsigned mtu,
		   char *err, size_t err_size)
{
	char path[256];
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct in_netns_job job;
	unsigned ifindex;
	int nsfd, rc;

	if (strchr(netns, '/') != NULL || netns[0] == '\0' || netns[0] == '.') {
		snprintf(err, err_size,
			 "netns=%s: expected the name of a namespace (ip netns list)", netns);
		return -EINVAL;
	}
	if (new_name != NULL && (new_name[0] == '\0' || strlen(new_name) >= IFNAMSIZ)) {
		snprintf(err, err_size, "ifname=%s: interface names have 1 to %d bytes", new_name,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		rc = -errno;
		snprintf(
			err, err_size,
			"network namespace '%s' not found (%s: %s); create it with: ip netns add %s",
			netns, path, strerror(errno), netns);
		return rc;
	}
	ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		rc = -errno;
		snprintf(err, err_size, "interface '%s' vanished before it could be moved", ifname);
		goto close_ns;
	}
	nlh = newlink_msg(buf, ifindex);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	if (new_name != NULL)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
	rc = nl_transact(nlh);
	if (rc != 0) {
		snprintf(err, err_size, "cannot move '%s' into namespace '%s'%s%s: %s%s", ifname,
			 netns, new_name ? " as " : "", new_name ? new_name : "", strerror(-rc),
			 rc == -EEXIST ? " (that name is taken there)" : "");
		goto close_ns;
	}

	job = (struct in_netns_job){
		.nsfd = nsfd, .ifname = new_name ? new_name : ifname, .mtu = mtu, .up = true};
	rc = in_netns_run(&job);
	if (rc != 0)
		snprintf(err, err_size, "namespace '%s', interface '%s': cannot %s: %s", netns,
			 job.ifname, job.what, strerror(-rc));
close_ns:
	close(nsfd);
	return rc;
}
