/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The netns guest kind: a named network namespace per guest, its NICs taps
 * of hvnetd that hvnetd moves in (port.add tap netns=... ifname=...), then
 * configured here: MAC, MTU, addresses, link up, default routes.
 *
 * The namespace is made the way `ip netns add` makes one, so that `ip -n`,
 * `ip netns exec` and hvnetd find it: a thread unshares its network
 * namespace and bind-mounts /proc/thread-self/ns/net onto /run/netns/NAME.
 * Everything that must happen inside the namespace runs on a short-lived
 * thread that setns()es into it, so the calling thread never changes
 * namespace (lab exec excepted: it enters for good, then execs).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>

#include "vmm/vmm.h"

#define NETNS_RUN_DIR "/run/netns"
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h; net/if.h lacks it and the two clash */
#endif

/* ---- rtnetlink ---- */

static unsigned nl_seq;

/* Send one request on a fresh socket and wait for its ack; 0 or -errno. */
static int
nl_request(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned portid, seq;
	int rc;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl == NULL)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto close;
	}
	portid = mnl_socket_get_portid(nl);
	seq = nlh->nlmsg_seq =
		__atomic_add_fetch(&nl_seq, 1, __ATOMIC_RELAXED) + (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto close;
	}
	/* a dump comes in several datagrams; a plain request in one ack */
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			rc = -errno;
			goto close;
		}
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	} while (rc > 0 && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP);
	rc = rc < 0 ? -errno : 0;
close:
	mnl_socket_close(nl);
	return rc;
}

static struct nlmsghdr *
link_msg(char *buf, uint16_t type, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

static int
link_set_flags(int ifindex, bool up)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, ifindex);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = up ? IFF_UP : 0;
	return nl_request(nlh, NULL, NULL);
}

static int
addr_add(int ifindex, const struct hv_prefix *p)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = p->family == 4 ? 4 : 16;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = p->family == 4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = p->plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	/* the addresses are the lab file's and unique in it: usable at once */
	if (p->family == 6)
		ifa->ifa_flags = IFA_F_NODAD;
	if (p->family == 4)
		mnl_attr_put(nlh, IFA_LOCAL, alen, p->a);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, p->a);
	return nl_request(nlh, NULL, NULL);
}

static int
route_add_default(int ifindex, const struct hv_prefix *gw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = gw->family == 4 ? AF_INET : AF_INET6;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, gw->family == 4 ? 4 : 16, gw->a);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nl_request(nlh, NULL, NULL);
}

/* ---- running code inside a namespace ---- */

struct ns_job {
	int nsfd;	      /* -1: unshare a new namespace instead of entering one */
	const char *mount_on; /* with nsfd -1: bind-mount the new namespace here */
	int (*fn)(struct ns_job *job);
	void *arg;
	int rc;
	char *err;
	size_t err_size;
};

static void *
ns_job_thread(void *arg)
{
	struct ns_job *job = arg;

	if (job->nsfd >= 0) {
		if (setns(job->nsfd, CLONE_NEWNET) != 0) {
			job->rc = -errno;
			snprintf(job->err, job->err_size, "cannot enter the namespace: %s",
				 strerror(errno));
			return NULL;
		}
	} else {
		if (unshare(CLONE_NEWNET) != 0) {
			job->rc = -errno;
			snprintf(job->err, job->err_size, "cannot create a network namespace: %s",
				 strerror(errno));
			return NULL;
		}
		/* thread-self: the namespace is this thread's, not the process's */
		if (mount("/proc/thread-self/ns/net", job->mount_on, "none", MS_BIND, NULL) != 0) {
			job->rc = -errno;
			snprintf(job->err, job->err_size, "cannot bind-mount it on %s: %s",
				 job->mount_on, strerror(errno));
			return NULL;
		}
	}
	job->rc = job->fn(job);
	return NULL;
}

static int
ns_job_run(struct ns_job *job)
{
	pthread_t th;
	int rc;

	job->rc = 0;
	rc = pthread_create(&th, NULL, ns_job_thread, job);
	if (rc != 0) {
		snprintf(job->err, job->err_size, "cannot start a thread: %s", strerror(rc));
		return -rc;
	}
	pthread_join(th, NULL);
	return job->rc;
}

static int
netns_path(const char *name, char *path, size_t size, char *err, size_t err_size)
{
	if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strlen(name) > NAME_MAX) {
		snprintf(err, err_size, "'%s' cannot name a network namespace", name);
		return -EINVAL;
	}
	snprintf(path, size, NETNS_RUN_DIR "/%s", name);
	return 0;
}

static int
netns_open(const char *name, char *err, size_t err_size)
{
	char path[PATH_MAX];
	int fd, rc;

	rc = netns_path(name, path, sizeof(path), err, err_size);
	if (rc != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_size, "network namespace %s: %s", name, strerror(errno));
		return rc;
	}
	return fd;
}

bool
hv_netns_exists(const char *name)
{
	char err[64];
	struct statfs sfs;
	bool ok;
	int fd = netns_open(name, err, sizeof(err));

	if (fd < 0)
		return false;
	/* the file a half-made namespace leaves behind is no namespace */
	ok = fstatfs(fd, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
	close(fd);
	return ok;
}

/* Make /run/netns a shared mount point, as `ip netns add` does, so that a
 * namespace mounted there shows in every mount namespace. */
static int
run_dir_prepare(char *err, size_t err_size)
{
	if (mkdir(NETNS_RUN_DIR, 0755) != 0 && errno != EEXIST) {
		snprintf(err, err_size, "cannot create " NETNS_RUN_DIR ": %s", strerror(errno));
		return -errno;
	}
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL) {
		snprintf(err, err_size, "cannot make " NETNS_RUN_DIR " a shared mount: %s",
			 strerror(errno));
		return -errno;
	}
	/* not a mount point yet */
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) != 0 ||
	    mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) != 0) {
		snprintf(err, err_size, "cannot make " NETNS_RUN_DIR " a shared mount: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

static int
job_lo_up(struct ns_job *job)
{
	int rc = link_set_flags((int)if_nametoindex("lo"), true);

	if (rc != 0)
		snprintf(job->err, job->err_size, "cannot bring lo up: %s", strerror(-rc));
	return rc;
}

int
hv_netns_create(const char *name, char *err, size_t err_size)
{
	char path[PATH_MAX];
	struct ns_job job = {.nsfd = -1, .mount_on = path, .fn = job_lo_up};
	char why[256];
	int fd, rc;

	rc = netns_path(name, path, sizeof(path), err, err_size);
	if (rc != 0)
		return rc;
	rc = run_dir_prepare(err, err_size);
	if (rc != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			snprintf(
				err, err_size,
				"network namespace %s exists already (ip netns list); remove it or pick another lab name with --name",
				name);
		else
			snprintf(err, err_size, "cannot create %s: %s", path, strerror(errno));
		return rc;
	}
	close(fd);
	job.err = why;
	job.err_size = sizeof(why);
	rc = ns_job_run(&job);
	if (rc != 0) {
		snprintf(err, err_size, "network namespace %s: %s", name, why);
		umount2(path, MNT_DETACH);
		unlink(path);
	}
	return rc;
}

/* SIGKILL every process whose network namespace is the one of ST. */
static void
netns_kill_all(const struct stat *st)
{
	for (int round = 0; round < 20; round++) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		int found = 0;

		if (d == NULL)
			return;
		while ((e = readdir(d)) != NULL) {
			char p[64];
			struct stat ps;
			char *end;
			long pid = strtol(e->d_name, &end, 10);

			if (*end != '\0' || pid <= 0 || pid == getpid())
				continue;
			snprintf(p, sizeof(p), "/proc/%ld/ns/net", pid);
			if (stat(p, &ps) != 0 || ps.st_dev != st->st_dev || ps.st_ino != st->st_ino)
				continue;
			kill((pid_t)pid, SIGKILL);
			found++;
		}
		closedir(d);
		if (found == 0)
			return;
		usleep(50000);
	}
}

int
hv_netns_delete(const char *name, char *err, size_t err_size)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	rc = netns_path(name, path, sizeof(path), err, err_size);
	if (rc != 0)
		return rc;
	if (stat(path, &st) != 0) {
		rc = -errno;
		snprintf(err, err_size, "network namespace %s: %s", name, strerror(errno));
		return rc;
	}
	if (hv_netns_exists(name))
		netns_kill_all(&st);
	/* a file without a mount (a create that died halfway) only needs unlink */
	if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL) {
		rc = -errno;
		snprintf(err, err_size, "cannot unmount %s: %s", path, strerror(errno));
		return rc;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, err_size, "cannot remove %s: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

/* ---- the netns kind ---- */

static int
job_configure(struct ns_job *job)
{
	const struct hv_vmm_guest *g = job->arg;
	bool have_gw4 = false, have_gw6 = false;

	for (size_t i = 0; i < g->n_nics; i++) {
		const struct hv_vmm_nic *nic = &g->nics[i];
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *nlh;
		int ifindex = (int)if_nametoindex(nic->name);
		int rc;

		if (ifindex == 0) {
			snprintf(job->err, job->err_size, "no interface %s in the namespace",
				 nic->name);
			return -ENODEV;
		}
		/* a MAC cannot change on every device while up: down, set, up */
		rc = link_set_flags(ifindex, false);
		if (rc == 0 && (nic->has_mac || nic->mtu)) {
			nlh = link_msg(buf, RTM_NEWLINK, ifindex);
			if (nic->has_mac)
				mnl_attr_put(nlh, IFLA_ADDRESS, 6, nic->mac);
			if (nic->mtu)
				mnl_attr_put_u32(nlh, IFLA_MTU, nic->mtu);
			rc = nl_request(nlh, NULL, NULL);
			if (rc != 0) {
				snprintf(job->err, job->err_size, "%s: cannot set %s%s%s: %s",
					 nic->name, nic->has_mac ? "the MAC" : "",
					 nic->has_mac && nic->mtu ? " and " : "",
					 nic->mtu ? "the MTU" : "", strerror(-rc));
				return rc;
			}
		}
		if (rc == 0)
			rc = link_set_flags(ifindex, true);
		if (rc != 0) {
			snprintf(job->err, job->err_size, "%s: cannot set the link up: %s",
				 nic->name, strerror(-rc));
			return rc;
		}
		for (size_t j = 0; j < nic->n_ips; j++) {
			rc = addr_add(ifindex, &nic->ips[j]);
			if (rc != 0) {
				char a[64];

				hv_prefix_format(&nic->ips[j], a, sizeof(a));
				snprintf(job->err, job->err_size, "%s: cannot add address %s: %s",
					 nic->name, a, strerror(-rc));
				return rc;
			}
		}
		/* one default route per family: the first NIC that offers one */
		const struct hv_prefix *gws[2] = {nic->gw4.family ? &nic->gw4 : NULL,
						  nic->gw6.family ? &nic->gw6 : NULL};
		bool *have[2] = {&have_gw4, &have_gw6};
		for (int f = 0; f < 2; f++) {
			if (gws[f] == NULL || *have[f])
				continue;
			rc = route_add_default(ifindex, gws[f]);
			if (rc != 0) {
				char a[64];

				hv_prefix_format(gws[f], a, sizeof(a));
				snprintf(job->err, job->err_size,
					 "%s: cannot add the default route via %s: %s", nic->name,
					 a, strerror(-rc));
				return rc;
			}
			*have[f] = true;
		}
	}
	return 0;
}

static int
netns_create_guest(const struct hv_vmm_guest *g, char *err, size_t err_size)
{
	return hv_netns_create(g->instance, err, err_size);
}

static int
netns_port_spec(const struct hv_vmm_guest *g, const struct hv_vmm_nic *nic,
		struct hv_vmm_port_spec *spec, char *err, size_t err_size)
{
	size_t n = 0;

#define OPT(k, ...)                                                                           \
	do {                                                                                  \
		snprintf(spec->opts[n].key, sizeof(spec->opts[n].key), "%s", k);              \
		if ((size_t)snprintf(spec->opts[n].value, sizeof(spec->opts[n].value),        \
				     __VA_ARGS__) >= sizeof(spec->opts[n].value)) {           \
			snprintf(err, err_size, "guest %s, nic %s: %s= is too long", g->name, \
				 nic->name, k);                                               \
			return -ENAMETOOLONG;                                                 \
		}                                                                             \
		n++;                                                                          \
	} while (0)

	spec->kind = "tap";
	OPT("netns", "%s", g->instance);
	OPT("ifname", "%s", nic->name);
	if (nic->tap != NULL)
		OPT("iface", "%s", nic->tap);
	if (nic->has_mac)
		OPT("mac", "%02x:%02x:%02x:%02x:%02x:%02x", nic->mac[0], nic->mac[1], nic->mac[2],
		    nic->mac[3], nic->mac[4], nic->mac[5]);
	if (nic->mtu)
		OPT("mtu", "%u", nic->mtu);
#undef OPT
	spec->n_opts = n;
	return 0;
}

static int
netns_start(const struct hv_vmm_guest *g, char *err, size_t err_size)
{
	struct ns_job job = {
		.fn = job_configure, .arg = (void *)g, .err = err, .err_size = err_size};
	int rc;

	job.nsfd = netns_open(g->instance, err, err_size);
	if (job.nsfd < 0)
		return job.nsfd;
	rc = ns_job_run(&job);
	close(job.nsfd);
	return rc;
}

static bool
netns_running(const char *instance, const char *state_dir)
{
	(void)state_dir;
	return hv_netns_exists(instance);
}

struct link_query {
	int ifindex;
	struct hv_vmm_link *link;
};

static int
link_attr_cb(const struct nlattr *attr, void *data)
{
	struct hv_vmm_link *link = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == 6)
			memcpy(link->mac, mnl_attr_get_payload(attr), 6);
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			link->mtu = mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

static int
link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_query *q = data;
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK || ifm->ifi_index != q->ifindex)
		return MNL_CB_OK;
	q->link->up = (ifm->ifi_flags & IFF_UP) != 0;
	q->link->carrier = (ifm->ifi_flags & IFF_LOWER_UP) != 0;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, q->link);
	return MNL_CB_OK;
}

struct addr_attrs {
	const struct nlattr *local, *address;
};

static int
addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_attrs *a = data;

	if (mnl_attr_get_type(attr) == IFA_LOCAL)
		a->local = attr;
	else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
		a->address = attr;
	return MNL_CB_OK;
}

static int
addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_query *q = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_attrs a = {0};
	const struct nlattr *at;
	struct hv_prefix *p;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != q->ifindex ||
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE || q->link->n_addrs >= HV_VMM_MAX_ADDRS)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &a);
	at = a.local ? a.local : a.address;
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (at == NULL || mnl_attr_get_payload_len(at) != alen)
		return MNL_CB_OK;
	p = &q->link->addrs[q->link->n_addrs++];
	memset(p, 0, sizeof(*p));
	p->family = ifa->ifa_family == AF_INET ? 4 : 6;
	p->plen = ifa->ifa_prefixlen;
	memcpy(p->a, mnl_attr_get_payload(at), alen);
	return MNL_CB_OK;
}

static int
job_link_status(struct ns_job *job)
{
	struct link_query q = {.link = job->arg};
	const char *name = job->mount_on; /* the NIC name rides here */
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int rc;

	q.ifindex = (int)if_nametoindex(name);
	if (q.ifindex == 0)
		return 0; /* not present */
	q.link->present = true;
	nlh = link_msg(buf, RTM_GETLINK, q.ifindex);
	rc = nl_request(nlh, link_cb, &q);
	if (rc != 0) {
		snprintf(job->err, job->err_size, "%s: cannot read the link: %s", name,
			 strerror(-rc));
		return rc;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	rc = nl_request(nlh, addr_cb, &q);
	if (rc != 0)
		snprintf(job->err, job->err_size, "%s: cannot read the addresses: %s", name,
			 strerror(-rc));
	return rc;
}

static int
netns_link_status(const char *instance, const char *state_dir, const char *nic,
		  struct hv_vmm_link *link, char *err, size_t err_size)
{
	struct ns_job job = {.fn = job_link_status,
			     .arg = link,
			     .mount_on = nic,
			     .err = err,
			     .err_size = err_size};
	int rc;

	(void)state_dir;
	memset(link, 0, sizeof(*link));
	job.nsfd = netns_open(instance, err, err_size);
	if (job.nsfd < 0)
		return job.nsfd;
	rc = ns_job_run(&job);
	close(job.nsfd);
	return rc;
}

static int
netns_exec(const char *instance, const char *state_dir, char *const argv[], char *err,
	   size_t err_size)
{
	int fd, rc;

	(void)state_dir;
	fd = netns_open(instance, err, err_size);
	if (fd < 0)
		return fd;
	if (setns(fd, CLONE_NEWNET) != 0) {
		rc = -errno;
		snprintf(err, err_size, "cannot enter network namespace %s: %s", instance,
			 strerror(errno));
		close(fd);
		return rc;
	}
	close(fd);
	/* Like `ip netns exec`: a private /sys that shows the namespace's
	 * interfaces. Best effort: the command runs in the namespace anyway. */
	if (unshare(CLONE_NEWNS) == 0 && mount("", "/", "none", MS_SLAVE | MS_REC, NULL) == 0 &&
	    umount2("/sys", MNT_DETACH) == 0)
		mount(instance, "/sys", "sysfs", 0, NULL);
	execvp(argv[0], argv);
	rc = -errno;
	snprintf(err, err_size, "cannot run %s: %s", argv[0], strerror(errno));
	return rc;
}

static int
netns_destroy(const char *instance, const char *state_dir, char *err, size_t err_size)
{
	int rc;

	(void)state_dir;
	rc = hv_netns_delete(instance, err, err_size);
	return rc == -ENOENT ? 0 : rc;
}

const struct hv_vmm_kind hv_vmm_netns = {
	.name = "netns",
	.create = netns_create_guest,
	.port_spec = netns_port_spec,
	.start = netns_start,
	.running = netns_running,
	.link_status = netns_link_status,
	.exec = netns_exec,
	.destroy = netns_destroy,
};
