/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user ports: the socket, rte_vhost's device callbacks and the
 * handshake with the workers (the datapath half is in vhost.h).
 *
 * rte_vhost calls new_device, destroy_device and vring_state_changed on its
 * own thread. They find the port by its socket path in a small registry and
 * publish what changed in the port's vhost fields. destroy_device must not
 * return while a worker may still be inside rte_vhost with the old device
 * number: rte_vhost frees the device right after it. It clears the number
 * and waits on the switch's QSBR variable, which every worker reports at the
 * top of its poll loop, so no worker holds the old number when it returns.
 * The callbacks hold no rte_vhost lock a worker waits on when they run
 * (rte_vhost calls destroy_device from GET_VRING_BASE and from connection
 * close, outside its per-queue locks), so the wait ends.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_rcu_qsbr.h>
#include <rte_vhost.h>

#include "common/log.h"
#include "vswitch/vhost.h"

/*
 * Offloads hvnetd does not take from guests: it would have to finish their
 * checksums and segment their super-frames in software before the firewall
 * and the overlay could see ordinary frames. Without them guests send
 * complete frames of at most their MTU, as OVS-DPDK asks when userspace TSO
 * is off.
 */
#define HV_VHOST_UNSUPPORTED                                                  \
	((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |     \
	 (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN) | \
	 (1ULL << VIRTIO_NET_F_HOST_UFO))

_Static_assert(2 * HV_MAX_WORKERS <= HV_VHOST_MAX_VRINGS, "a worker's vrings beyond vhost.ready");

static pthread_mutex_t vh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hv_port *vh_ports[HV_MAX_LOCAL_PORTS]; /* by slot; under vh_lock */
static struct rte_rcu_qsbr *vh_qsbr;

/* The registered port of socket @path. Under vh_lock. */
static struct hv_port *
vh_by_path(const char *path)
{
	for (unsigned i = 0; i < HV_MAX_LOCAL_PORTS; i++)
		if (vh_ports[i] != NULL && strcmp(vh_ports[i]->vhost.path, path) == 0)
			return vh_ports[i];
	return NULL;
}

/* The registered port whose socket device @vid came in on. Under vh_lock. */
static struct hv_port *
vh_find(int vid)
{
	char path[PATH_MAX];

	if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0)
		return NULL;
	return vh_by_path(path);
}

static int
vh_new_device(int vid)
{
	struct hv_port *p;

	pthread_mutex_lock(&vh_lock);
	p = vh_find(vid);
	if (p == NULL) {
		pthread_mutex_unlock(&vh_lock);
		HV_WARN("vhost-user device %d: no port has its socket", vid);
		return -1;
	}
	/* workers poll: the guest need not kick, nor the switch interrupt it */
	for (uint16_t i = 0; i < rte_vhost_get_vring_num(vid); i++)
		rte_vhost_enable_guest_notification(vid, i, 0);
	__atomic_store_n(&p->vhost.vid, vid, __ATOMIC_RELEASE);
	HV_INFO("port '%s': vhost-user guest attached (device %d, %u vrings)", p->name, vid,
		rte_vhost_get_vring_num(vid));
	pthread_mutex_unlock(&vh_lock);
	return 0;
}

static void
vh_destroy_device(int vid)
{
	struct hv_port *p;

	pthread_mutex_lock(&vh_lock);
	p = vh_find(vid);
	if (p != NULL && __atomic_load_n(&p->vhost.vid, __ATOMIC_RELAXED) == vid) {
		__atomic_store_n(&p->vhost.vid, -1, __ATOMIC_RELEASE);
		__atomic_store_n(&p->vhost.ready, 0, __ATOMIC_RELAXED);
		/* rte_vhost frees the device once this returns */
		rte_rcu_qsbr_synchronize(vh_qsbr, RTE_QSBR_THRID_INVALID);
		HV_INFO("port '%s': vhost-user guest detached (device %d)", p->name, vid);
	}
	pthread_mutex_unlock(&vh_lock);
}

static int
vh_vring_state_changed(int vid, uint16_t vring, int enable)
{
	struct hv_port *p;

	if (vring >= HV_VHOST_MAX_VRINGS)
		return 0; /* beyond any queue a worker uses */
	pthread_mutex_lock(&vh_lock);
	p = vh_find(vid);
	if (p != NULL) {
		if (enable)
			__atomic_fetch_or(&p->vhost.ready, 1ULL << vring, __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&p->vhost.ready, ~(1ULL << vring), __ATOMIC_RELEASE);
		HV_DEBUG("port '%s': vring %u %s", p->name, vring, enable ? "enabled" : "disabled");
	}
	pthread_mutex_unlock(&vh_lock);
	return 0;
}

static const struct rte_vhost_device_ops vh_ops = {
	.new_device = vh_new_device,
	.destroy_device = vh_destroy_device,
	.vring_state_changed = vh_vring_state_changed,
};

int
hv_vhost_open(struct hv_switch *sw, struct hv_port *p, const char *path, bool client, char *err,
	      size_t err_size)
{
	uint64_t flags = RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS;
	const struct hv_port *other;
	const char *what;

	if (client)
		flags |= RTE_VHOST_USER_CLIENT; /* and reconnect when the guest restarts */
	snprintf(p->vhost.path, sizeof(p->vhost.path), "%s", path);
	p->vhost.vid = -1;
	p->vhost.ready = 0;
	p->eth_port = HV_NO_ETHDEV;
	/* the switch's side of the link: "VHOST" and the slot, locally administered */
	memcpy(p->mac, (const uint8_t[]){0x56, 0x48, 0x4f, 0x53, 0x54, 0x00}, 6);
	p->mac[5] = (uint8_t)p->id;

	pthread_mutex_lock(&vh_lock);
	other = vh_by_path(path);
	if (other != NULL) {
		snprintf(err, err_size, "port '%s': path=%s is the socket of port '%s'", p->name,
			 path, other->name);
		pthread_mutex_unlock(&vh_lock);
		return -EEXIST;
	}
	vh_qsbr = sw->qsbr;
	vh_ports[p->id] = p;
	pthread_mutex_unlock(&vh_lock);

	what = "register";
	if (rte_vhost_driver_register(path, flags) != 0)
		goto fail;
	what = "configure";
	if (rte_vhost_driver_disable_features(path, HV_VHOST_UNSUPPORTED) != 0 ||
	    rte_vhost_driver_callback_register(path, &vh_ops) != 0)
		goto unregister;
	what = client ? "start connecting to" : "listen on";
	if (rte_vhost_driver_start(path) != 0)
		goto unregister;
	return 0;

unregister:
	rte_vhost_driver_unregister(path);
fail:
	pthread_mutex_lock(&vh_lock);
	vh_ports[p->id] = NULL;
	pthread_mutex_unlock(&vh_lock);
	snprintf(err, err_size,
		 client ? "port '%s': cannot %s vhost-user socket %s (see hvnetd's log)"
			: "port '%s': cannot %s vhost-user socket %s (does the file exist already? "
			  "see hvnetd's log)",
		 p->name, what, path);
	return -EIO;
}

void
hv_vhost_close(struct hv_port *p)
{
	/* destroys an attached device first, through vh_destroy_device */
	if (rte_vhost_driver_unregister(p->vhost.path) != 0)
		HV_WARN("port '%s': rte_vhost could not unregister %s", p->name, p->vhost.path);
	pthread_mutex_lock(&vh_lock);
	vh_ports[p->id] = NULL;
	pthread_mutex_unlock(&vh_lock);
}
