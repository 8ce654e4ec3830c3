/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest lifecycle: one small interface, one implementation per guest kind.
 *
 * The lab launcher (cli/lab.c) drives every guest through the same steps,
 * and talks to hvnetd itself (vmm/ never does):
 *
 *   kind->create()        the guest's container exists (a network namespace;
 *                         later: a VM's state directory), before its ports
 *   kind->port_spec()     how hvnetd attaches each NIC (port.add kind and
 *                         options: a tap moved into the namespace; later:
 *                         vhost-user)
 *   kind->start()         after hvnetd has added the ports: configure and run
 *                         the guest (addresses, routes, link up; later: boot)
 *   kind->status()        is it running, and what does each NIC look like
 *   kind->exec()          run a command inside the guest
 *   kind->destroy()       remove everything create() and start() made; works
 *                         from the instance name alone (crash recovery), and
 *                         a guest that is already gone is not an error
 *
 * Library code: never prints, never exits (exec() excepted: on success it
 * does not return). Errors: 0 or -errno, with a message in ERR that says
 * what failed and for which guest. Not thread-safe across calls on one
 * guest; calls on different guests are independent.
 */
#ifndef HV_VMM_H
#define HV_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firewall/lang/lang.h"

#define HV_VMM_MAX_ADDRS     16 /* addresses reported per NIC by status() */
#define HV_VMM_MAX_PORT_OPTS 8

/* One NIC as the launcher resolved it from the lab file. */
struct hv_vmm_nic {
	const char *name;    /* the interface inside the guest: "eth0" */
	const char *port;    /* the hvnetd port: "web1-eth0" */
	const char *segment; /* segment name */
	const char *tap;     /* tap kinds: kernel interface name before the move */
	bool has_mac;
	uint8_t mac[6];
	uint32_t mtu;		     /* 0: leave the default */
	const struct hv_prefix *ips; /* address with the interface's prefix length */
	size_t n_ips;
	/* default routes to add through this NIC; family 0: none */
	struct hv_prefix gw4, gw6;
};

struct hv_vmm_guest {
	const char *name;      /* as in the lab file: "web1" */
	const char *instance;  /* system-wide name, unique per lab: "LAB-web1" */
	const char *state_dir; /* the lab's state directory, for files a kind keeps */
	struct hv_vmm_nic *nics;
	size_t n_nics;
};

/* What hvnetd's port.add gets for one NIC. */
struct hv_vmm_port_spec {
	const char *kind; /* "tap" */
	size_t n_opts;
	struct {
		char key[16];
		char value[128];
	} opts[HV_VMM_MAX_PORT_OPTS];
};

/* One NIC as seen inside a running guest. */
struct hv_vmm_link {
	bool present; /* the interface exists in the guest */
	bool up;      /* administratively up (IFF_UP) */
	bool carrier; /* lower layer up (IFF_LOWER_UP) */
	uint8_t mac[6];
	uint32_t mtu;
	struct hv_prefix addrs[HV_VMM_MAX_ADDRS]; /* global scope only */
	size_t n_addrs;
};

struct hv_vmm_kind {
	const char *name; /* the `kind` word of the lab file */
	int (*create)(const struct hv_vmm_guest *g, char *err, size_t err_size);
	int (*port_spec)(const struct hv_vmm_guest *g, const struct hv_vmm_nic *nic,
			 struct hv_vmm_port_spec *spec, char *err, size_t err_size);
	int (*start)(const struct hv_vmm_guest *g, char *err, size_t err_size);
	/* true when the guest exists and runs */
	bool (*running)(const char *instance, const char *state_dir);
	/* the NIC named NIC in the guest; 0 (link->present false if missing) or -errno */
	int (*link_status)(const char *instance, const char *state_dir, const char *nic,
			   struct hv_vmm_link *link, char *err, size_t err_size);
	/* runs ARGV in the guest with stdio inherited; returns only on failure */
	int (*exec)(const char *instance, const char *state_dir, char *const argv[], char *err,
		    size_t err_size);
	int (*destroy)(const char *instance, const char *state_dir, char *err, size_t err_size);
};

/* The kind for a lab file's `kind` word; NULL when it is not supported yet. */
const struct hv_vmm_kind *hv_vmm_kind_of(enum hv_guest_kind kind);
/* By name ("netns"), for state files; NULL when unknown. */
const struct hv_vmm_kind *hv_vmm_kind_find(const char *name);

extern const struct hv_vmm_kind hv_vmm_netns;

/* ---- network namespaces, for the netns kind and for tests ---- */

/* Create /run/netns/NAME (what `ip netns add NAME` does) with lo up.
 * -EEXIST when the name is taken. */
int hv_netns_create(const char *name, char *err, size_t err_size);
/* Kill what still runs in it, unmount and remove it; -ENOENT when absent. */
int hv_netns_delete(const char *name, char *err, size_t err_size);
bool hv_netns_exists(const char *name);

#endif /* HV_VMM_H */
