/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The overlay on the control thread: the `overlay` block of the policy in
 * force, resolved against the switch (uplink port, segments by name), built
 * into the immutable VTEP state that hv_switch_publish() publishes, and the
 * check a policy apply runs before it changes anything. In the switch
 * library, since switch.c builds the state at every publish; the control
 * requests (vtep.*) are in vxctl.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "common/log.h"
#include "firewall/lang/lang.h"
#include "vswitch/control.h"

/* "FILE:LINE:COL" of LOC into BUF. */
static const char *
loc_str(const struct hv_loc *loc, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%u:%u", loc->src ? hv_src_path(loc->src) : "?", loc->line,
		 loc->col);
	return buf;
}

/* The uplink the overlay block names (or the only one when it names none). */
static struct hv_port *
find_uplink(struct hv_switch *sw, const struct hv_overlay *o, char *err, size_t err_size)
{
	struct hv_port *up = NULL;
	char at[300];
	unsigned n = 0;

	loc_str(&o->loc, at, sizeof(at));
	if (o->dev != NULL) {
		up = hv_port_find(sw, o->dev);
		if (up == NULL || !hv_port_is_uplink(up)) {
			snprintf(
				err, err_size,
				"%s: overlay dev '%s' is not an uplink port of this hvnetd (add it "
				"with: hvnetctl port add %s af_packet - iface=IF)",
				at, o->dev, o->dev);
			return NULL;
		}
		return up;
	}
	for (unsigned i = 0; i < HV_MAX_LOCAL_PORTS; i++)
		if (sw->ports[i] != NULL && hv_port_is_uplink(sw->ports[i])) {
			up = sw->ports[i];
			n++;
		}
	if (n != 1) {
		snprintf(err, err_size,
			 "%s: the overlay names no dev and this hvnetd has %u uplink ports (add "
			 "`dev PORT` to the overlay block)",
			 at, n);
		return NULL;
	}
	return up;
}

/*
 * The MTU of the kernel interface an af_packet or tap uplink sits on (the
 * underlay's, as far as this host knows it), or 0 when it cannot be read.
 */
static unsigned
uplink_kernel_mtu(const struct hv_port *up)
{
	const char *ifname = hv_port_spec_opt(&up->spec, "iface");
	char path[96];
	unsigned mtu = 0;
	FILE *f;

	if (up->kind != HV_PORT_AF_PACKET || ifname == NULL || strchr(ifname, '/') != NULL)
		return 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", ifname);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%u", &mtu) != 1)
		mtu = 0;
	fclose(f);
	return mtu;
}

/*
 * The configuration FW's overlay block gives on this switch, into CONF.
 * 1: there is one; 0: the file has no overlay block; -EINVAL: it cannot work
 * here (why, with FILE:LINE:COL, in ERR).
 */
static int
overlay_conf(struct hv_switch *sw, const struct hv_fw *fw, struct hv_vx_conf *conf, char *err,
	     size_t err_size)
{
	const struct hv_prog *prog = fw != NULL ? fw->prog : NULL;
	const struct hv_overlay *o;
	struct hv_port *up;
	struct rte_ether_addr mac;
	char at[300];
	unsigned kmtu;

	if (prog == NULL || !prog->overlay.present)
		return 0;
	o = &prog->overlay;
	memset(conf, 0, sizeof(*conf));
	if (!o->has_local || o->local.family != 4) {
		snprintf(err, err_size,
			 "%s: the local VTEP address must be IPv4 (an IPv6 underlay "
			 "is not supported yet)",
			 loc_str(&o->loc, at, sizeof(at)));
		return -EINVAL;
	}
	up = find_uplink(sw, o, err, err_size);
	if (up == NULL)
		return -EINVAL;
	memcpy(conf->local_ip, o->local.a, 4);
	conf->udp_port = o->port;
	conf->ttl = o->ttl;
	conf->learn = o->learn;
	conf->udp_csum = o->udp_csum;
	conf->uplink = up->id;
	conf->uplink_mtu = up->mtu;
	/* the underlay is only as large as the kernel interface under the uplink */
	kmtu = uplink_kernel_mtu(up);
	if (kmtu != 0 && kmtu < conf->uplink_mtu)
		conf->uplink_mtu = (uint16_t)kmtu;
	if (rte_eth_macaddr_get(up->eth_port, &mac) == 0)
		memcpy(conf->uplink_mac, mac.addr_bytes, 6);
	else
		memcpy(conf->uplink_mac, up->mac, 6);
	for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++) {
		conf->seg_vni[s] = HV_VX_NO_VNI;
		if (sw->segments[s] == NULL)
			continue;
		for (size_t i = 0; i < prog->segments.n; i++)
			if (prog->segments.v[i].has_vni &&
			    strcmp(prog->segments.v[i].name, sw->segments[s]->name) == 0)
				conf->seg_vni[s] = prog->segments.v[i].vni;
	}
	if (o->peers.n > HV_VX_MAX_VTEPS) {
		snprintf(err, err_size, "%s: %zu peers, at most %d",
			 loc_str(&o->loc, at, sizeof(at)), o->peers.n, HV_VX_MAX_VTEPS);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->peers.n; i++) {
		const struct hv_peer *pe = &o->peers.v[i];
		const uint8_t *a = pe->addr.a;

		if (pe->addr.family != 4) {
			snprintf(err, err_size, "%s: peer: an IPv6 underlay is not supported yet",
				 loc_str(&pe->loc, at, sizeof(at)));
			return -EINVAL;
		}
		/* no address of a single remote host is reachable as these */
		if (a[0] == 0 || a[0] == 127 || a[0] >= 224) {
			snprintf(err, err_size,
				 "%s: peer %u.%u.%u.%u is unreachable: not a unicast host address",
				 loc_str(&pe->loc, at, sizeof(at)), a[0], a[1], a[2], a[3]);
			return -EINVAL;
		}
		memcpy(conf->peers[i].ip, a, 4);
		conf->peers[i].all_segs = pe->segments.n == 0;
		for (size_t j = 0; j < pe->segments.n; j++) {
			struct hv_sw_segment *seg = hv_segment_find(sw, pe->segments.v[j].name);

			/* a segment this host does not have: nothing of it to carry */
			if (seg != NULL)
				conf->peers[i].segs[seg->id / 64] |= 1ull << (seg->id % 64);
		}
	}
	conf->n_peers = (uint16_t)o->peers.n;
	/* the VTEPs learned from their traffic, while the file says `learn yes` */
	for (unsigned l = 0; o->learn && l < sw->n_vx_learned; l++) {
		const struct hv_vx_learned *x = &sw->vx_learned[l];
		bool declared = memcmp(x->ip, conf->local_ip, 4) == 0;

		for (unsigned i = 0; i < o->peers.n && !declared; i++)
			declared = memcmp(conf->peers[i].ip, x->ip, 4) == 0;
		if (declared || conf->n_peers == HV_VX_MAX_VTEPS)
			continue;
		memcpy(conf->peers[conf->n_peers].ip, x->ip, 4);
		conf->peers[conf->n_peers].learned = true;
		memcpy(conf->peers[conf->n_peers].segs, x->segs, sizeof(x->segs));
		conf->n_peers++;
	}
	return 1;
}

int
hv_switch_overlay_check(struct hv_switch *sw, const struct hv_fw *fw, char *err, size_t err_size)
{
	struct hv_vx_conf *conf = malloc(sizeof(*conf));
	struct hv_vx_state *st;
	char why[256], at[300];
	int rc;

	if (conf == NULL)
		return -ENOMEM;
	rc = overlay_conf(sw, fw, conf, err, err_size);
	if (rc <= 0) {
		free(conf);
		return rc;
	}
	/* building touches nothing the datapath reads: a dry run */
	st = hv_vx_state_build(&sw->vxctl, conf, why, sizeof(why));
	free(conf);
	if (st == NULL) {
		if (errno == ENOMEM)
			return -ENOMEM;
		snprintf(err, err_size, "%s: overlay: %s",
			 loc_str(&fw->prog->overlay.loc, at, sizeof(at)), why);
		return -EINVAL;
	}
	hv_vx_state_free(st);
	return 0;
}

struct hv_vx_state *
hv_switch_overlay_build(struct hv_switch *sw)
{
	struct hv_vx_conf *conf = malloc(sizeof(*conf));
	struct hv_vx_state *st = NULL;
	int rc;

	sw->vx_error[0] = '\0';
	if (conf == NULL) {
		snprintf(sw->vx_error, sizeof(sw->vx_error), "out of memory");
		return NULL;
	}
	rc = overlay_conf(sw, sw->fw, conf, sw->vx_error, sizeof(sw->vx_error));
	if (rc > 0) {
		char why[256];

		st = hv_vx_state_build(&sw->vxctl, conf, why, sizeof(why));
		if (st == NULL)
			snprintf(sw->vx_error, sizeof(sw->vx_error), "%s", why);
	}
	free(conf);
	return st;
}

void
hv_switch_overlay_mtu(struct hv_switch *sw)
{
	const struct hv_vx_state *vx = sw->vx;

	for (unsigned i = 0; i < HV_MAX_LOCAL_PORTS; i++) {
		struct hv_port *p = sw->ports[i];
		unsigned want;
		char err[256];
		int rc;

		if (p == NULL || p->kind != HV_PORT_TAP || hv_port_is_uplink(p) ||
		    p->segment >= HV_MAX_SEGMENTS || hv_port_spec_opt(&p->spec, "mtu") != NULL)
			continue;
		want = vx != NULL && vx->seg_vni[p->segment] != HV_VX_NO_VNI ? vx->mtu
									     : HV_PORT_MTU;
		if (p->mtu == want)
			continue;
		if (p->netns[0] != '\0') {
			rc = hv_netns_set_mtu(p->netns, p->ifname, want, err, sizeof(err));
		} else {
			rc = rte_eth_dev_set_mtu(p->eth_port, (uint16_t)want);
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		}
		if (rc != 0) {
			HV_WARN("port '%s': cannot set MTU %u for the overlay: %s", p->name, want,
				err);
			continue;
		}
		HV_INFO("port '%s' (segment %s): MTU %u, was %u (%s)", p->name,
			sw->segments[p->segment]->name, want, p->mtu,
			want == HV_PORT_MTU ? "the segment left the overlay" : "the overlay's");
		p->mtu = (uint16_t)want;
	}
}

void
hv_switch_overlay_warn(struct hv_switch *sw, json_t *warnings)
{
	const struct hv_vx_state *vx = sw->vx;
	const struct hv_loc *loc;

	if (vx == NULL || sw->fw == NULL)
		return;
	loc = &sw->fw->prog->overlay.loc;
	if (sw->ports[vx->uplink] != NULL && vx->uplink_mtu < sw->ports[vx->uplink]->mtu) {
		const struct hv_port *up = sw->ports[vx->uplink];
		char msg[300];

		snprintf(msg, sizeof(msg),
			 "uplink '%s' has MTU %u but its interface %s only %u: the overlay MTU is "
			 "%u",
			 up->name, up->mtu, hv_port_spec_opt(&up->spec, "iface"), vx->uplink_mtu,
			 vx->mtu);
		HV_WARN("%s", msg);
		json_array_append_new(warnings, json_pack("{s:s, s:i, s:i, s:s}", "file",
							  loc->src ? hv_src_path(loc->src) : "",
							  "line", (int)loc->line, "column",
							  (int)loc->col, "message", msg));
	}
	for (unsigned i = 0; i < HV_MAX_LOCAL_PORTS; i++) {
		const struct hv_port *p = sw->ports[i];
		char msg[300];

		if (p == NULL || hv_port_is_uplink(p) || vx->seg_vni[p->segment] == HV_VX_NO_VNI ||
		    p->mtu <= vx->mtu)
			continue;
		snprintf(
			msg, sizeof(msg),
			"port '%s' (segment %s) has MTU %u, more than the overlay's %u: its larger "
			"packets to other hosts get ICMP frag-needed / packet-too-big; give it "
			"mtu=%u",
			p->name, sw->segments[p->segment]->name, p->mtu, vx->mtu, vx->mtu);
		HV_WARN("%s", msg);
		json_array_append_new(warnings, json_pack("{s:s, s:i, s:i, s:s}", "file",
							  loc->src ? hv_src_path(loc->src) : "",
							  "line", (int)loc->line, "column",
							  (int)loc->col, "message", msg));
	}
}

void
hv_switch_overlay_learn(struct hv_switch *sw)
{
	static bool full_warned;
	bool changed = false;
	void *obj;

	while (sw->vx_learn != NULL && rte_ring_sc_dequeue(sw->vx_learn, &obj) == 0) {
		uint64_t v = (uint64_t)(uintptr_t)obj;
		uint8_t ip[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
				 (uint8_t)v};
		uint16_t seg = (uint16_t)(v >> 32);
		struct hv_vx_learned *x = NULL;
		char a[16];

		/* asked for under the state in force: still learning, still a segment of it */
		if (sw->vx == NULL || !sw->vx->learn || seg >= HV_VX_MAX_SEGS ||
		    sw->segments[seg] == NULL || sw->vx->seg_vni[seg] == HV_VX_NO_VNI)
			continue;
		for (unsigned i = 0; i < sw->n_vx_learned && x == NULL; i++)
			if (memcmp(sw->vx_learned[i].ip, ip, 4) == 0)
				x = &sw->vx_learned[i];
		if (x == NULL) {
			if (sw->n_vx_learned == HV_VX_MAX_LEARNED) {
				/* once: the underlay may be flooding us with addresses */
				if (!full_warned)
					HV_WARN("overlay: VTEP %s not learned: %d learned VTEPs "
						"already (apply the file again to forget them)",
						hv_vx_ip_str(ip, a), HV_VX_MAX_LEARNED);
				full_warned = true;
				continue;
			}
			x = &sw->vx_learned[sw->n_vx_learned++];
			memset(x, 0, sizeof(*x));
			memcpy(x->ip, ip, 4);
		}
		if ((x->segs[seg / 64] >> (seg % 64)) & 1)
			continue;
		x->segs[seg / 64] |= 1ull << (seg % 64);
		changed = true;
		HV_INFO("overlay: learned VTEP %s for segment %s (VNI %u)", hv_vx_ip_str(ip, a),
			sw->segments[seg]->name, sw->vx->seg_vni[seg]);
	}
	if (changed && hv_switch_publish(sw) != 0)
		HV_ERR("overlay: cannot publish the learned VTEPs (out of memory)");
}
