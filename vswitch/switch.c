/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-thread side of the switch: segments, ports, and the datapath
 * state that the workers read. Every change builds a new hv_dp_state off to
 * the side, publishes it with one pointer store, waits for every worker to
 * pass a quiescent point, and only then frees what the old state referenced.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "common/log.h"
#include "firewall/lang/lang.h"
#include "vswitch/vswitch.h"

static const char *const kind_names[HV_PORT_KIND_MAX] = {
	[HV_PORT_TAP] = "tap",
	[HV_PORT_VHOST_USER] = "vhost-user",
	[HV_PORT_AF_PACKET] = "af_packet",
	[HV_PORT_PCAP] = "pcap",
	[HV_PORT_RING] = "ring",
	[HV_PORT_NULL] = "null",
};

int
hv_port_kind_parse(const char *s)
{
	for (int i = 0; i < HV_PORT_KIND_MAX; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return i;
	/* accept the spellings people type */
	if (strcmp(s, "vhost") == 0 || strcmp(s, "vhostuser") == 0 || strcmp(s, "vhost_user") == 0)
		return HV_PORT_VHOST_USER;
	if (strcmp(s, "af-packet") == 0 || strcmp(s, "afpacket") == 0)
		return HV_PORT_AF_PACKET;
	return -1;
}

const char *
hv_port_kind_name(enum hv_port_kind k)
{
	return (unsigned)k < HV_PORT_KIND_MAX ? kind_names[k] : "unknown";
}

/* Option keys match with '-' and '_' equal: mac-limit and mac_limit are one key. */
static bool
opt_key_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

const char *
hv_port_spec_opt(const struct hv_port_spec *spec, const char *key)
{
	for (unsigned i = 0; i < spec->n_opts; i++)
		if (opt_key_eq(spec->opts[i].key, key))
			return spec->opts[i].value;
	return NULL;
}

static bool
name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= HV_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

int
hv_port_spec_parse(const char *s, struct hv_port_spec *spec, char *err, size_t err_size)
{
	char buf[1024];
	char *fields[4] = {NULL};
	char *p;
	int kind;

	memset(spec, 0, sizeof(*spec));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, err_size, "port spec too long (%zu bytes, at most %zu)", strlen(s),
			 sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, s);
	/* NAME:KIND:SEGMENT[:OPTIONS]; options may contain ':' (paths), so split 3 times */
	p = buf;
	for (int i = 0; i < 3; i++) {
		fields[i] = p;
		p = strchr(p, ':');
		if (p == NULL) {
			if (i < 2) {
				snprintf(
					err, err_size,
					"port spec '%s': expected NAME:KIND:SEGMENT[:KEY=VALUE,...]",
					s);
				return -EINVAL;
			}
			break;
		}
		*p++ = '\0';
	}
	fields[3] = p;
	if (!name_valid(fields[0])) {
		snprintf(err, err_size,
			 "port spec '%s': bad port name '%s' (1-%d letters, digits, '-', '_', '.')",
			 s, fields[0], HV_NAME_MAX - 1);
		return -EINVAL;
	}
	kind = hv_port_kind_parse(fields[1]);
	if (kind < 0) {
		snprintf(
			err, err_size,
			"port spec '%s': unknown port kind '%s' (tap, vhost-user, af_packet, pcap, ring, null)",
			s, fields[1]);
		return -EINVAL;
	}
	if (!name_valid(fields[2])) {
		snprintf(err, err_size, "port spec '%s': bad segment name '%s'", s, fields[2]);
		return -EINVAL;
	}
	snprintf(spec->name, sizeof(spec->name), "%s", fields[0]);
	spec->kind = (enum hv_port_kind)kind;
	snprintf(spec->segment, sizeof(spec->segment), "%s", fields[2]);
	for (char *opt = fields[3]; opt != NULL && *opt != '\0';) {
		char *next = strchr(opt, ',');
		char *eq;

		if (next != NULL)
			*next++ = '\0';
		eq = strchr(opt, '=');
		if (eq == NULL || eq == opt) {
			snprintf(err, err_size, "port spec '%s': option '%s' is not KEY=VALUE", s,
				 opt);
			return -EINVAL;
		}
		*eq = '\0';
		if (spec->n_opts == HV_PORT_MAX_OPTS || strlen(opt) >= sizeof(spec->opts[0].key) ||
		    strlen(eq + 1) >= sizeof(spec->opts[0].value)) {
			snprintf(err, err_size, "port spec '%s': too many or too long options", s);
			return -EINVAL;
		}
		strcpy(spec->opts[spec->n_opts].key, opt);
		strcpy(spec->opts[spec->n_opts].value, eq + 1);
		spec->n_opts++;
		opt = next;
	}
	return 0;
}

int hv_mbuf_in_port_off = -1;

/* Per-worker connection tables and hand-off rings, the mbuf field. */
static int
switch_fw_init(struct hv_switch *sw)
{
	static const struct rte_mbuf_dynfield in_port = {
		.name = "hvnet_in_port",
		.size = sizeof(uint32_t),
		.align = __alignof__(uint32_t),
	};
	uint32_t per = (sw->conf.ct_max + sw->n_workers - 1) / sw->n_workers;
	char err[256];

	hv_mbuf_in_port_off = rte_mbuf_dynfield_register(&in_port);
	if (hv_mbuf_in_port_off < 0) {
		HV_ERR("cannot register an mbuf field: %s", rte_strerror(rte_errno));
		return -1;
	}
	if (per < 64)
		per = 64;
	for (unsigned i = 0; i < sw->n_workers; i++) {
		struct hv_ct_conf cc = {
			.socket_id = (int)rte_lcore_to_socket_id(sw->workers[i]->lcore),
			.capacity = per,
			.mgmt_reserve =
				(uint32_t)((uint64_t)per * sw->conf.ct_mgmt_reserve_pct / 100),
			.port_limit = sw->conf.port_conn_limit
					      ? (sw->conf.port_conn_limit + sw->n_workers - 1) /
							sw->n_workers
					      : 0,
			.hz = rte_get_tsc_hz(),
		};
		char name[32];

		memcpy(cc.timeouts, sw->conf.ct_timeouts, sizeof(cc.timeouts));
		snprintf(name, sizeof(name), "hv_ct_%u", i);
		cc.name = name;
		sw->ct[i] = hv_ct_create(&cc, err, sizeof(err));
		if (sw->ct[i] == NULL) {
			HV_ERR("%s (lower --ct-max, or give more memory with --mem)", err);
			return -1;
		}
		if (sw->n_workers > 1) {
			snprintf(name, sizeof(name), "hv_handoff_%u", i);
			sw->handoff[i] = rte_ring_create(name, 4096, cc.socket_id, RING_F_SC_DEQ);
			if (sw->handoff[i] == NULL) {
				HV_ERR("cannot create ring %s: %s", name, rte_strerror(rte_errno));
				return -1;
			}
		}
	}
	return 0;
}

uint16_t
hv_switch_policy_seg(const struct hv_switch *sw, const struct hv_fw *fw, uint16_t seg)
{
	const struct hv_prog *prog;

	if (fw == NULL || seg >= HV_MAX_SEGMENTS || sw->segments[seg] == NULL)
		return HV_FW_SEG_UNNAMED;
	prog = fw->prog;
	for (size_t i = 0; i < prog->segments.n && i < HV_FW_MAX_SEGS; i++)
		if (strcmp(prog->segments.v[i].name, sw->segments[seg]->name) == 0)
			return (uint16_t)i;
	return HV_FW_SEG_UNNAMED;
}

int
hv_switch_seg_of_policy(const struct hv_switch *sw, const struct hv_fw *fw, uint16_t pol_seg)
{
	const struct hv_sw_segment *s;

	if (fw == NULL || pol_seg >= fw->prog->segments.n)
		return -1;
	s = hv_segment_find((struct hv_switch *)(uintptr_t)sw, fw->prog->segments.v[pol_seg].name);
	return s ? s->id : -1;
}

/*
 * The conn-limit the policy gives the NIC behind port NAME: the NIC of
 * guest G named N sits on the port named "G-N", or "G" when G has one NIC
 * (what `hvnetctl lab up` creates). 0 when none.
 */
static uint32_t
port_conn_limit(const struct hv_fw *fw, const char *name)
{
	const struct hv_prog *prog;

	if (fw == NULL || fw->prog == NULL)
		return 0;
	prog = fw->prog;
	for (size_t i = 0; i < prog->guests.n; i++) {
		const struct hv_guest *g = &prog->guests.v[i];
		size_t gl = strlen(g->name);

		if (strncmp(name, g->name, gl) != 0)
			continue;
		for (size_t j = 0; j < g->nics.n; j++) {
			const struct hv_nic *n = &g->nics.v[j];

			if ((name[gl] == '-' && strcmp(name + gl + 1, n->name) == 0) ||
			    (name[gl] == '\0' && g->nics.n == 1))
				return n->conn_limit;
		}
	}
	return 0;
}

int
hv_switch_set_policy(struct hv_switch *sw, struct hv_fw *fw)
{
	struct hv_fw *drop = sw->fw_prev;
	int rc;

	sw->n_vx_learned = 0; /* a new overlay block learns its VTEPs afresh */
	sw->fw_prev = sw->fw;
	sw->fw = fw;
	rc = hv_switch_publish(sw); /* synchronizes: no worker reads what it replaced */
	if (rc != 0) {
		sw->fw = sw->fw_prev;
		sw->fw_prev = drop;
		return rc;
	}
	if (drop != fw && drop != sw->fw_prev)
		hv_fw_free(drop);
	return 0;
}

int
hv_switch_init(struct hv_switch *sw, const struct hv_switch_conf *conf)
{
	struct hv_mac_table_conf mconf;
	size_t sz;
	unsigned lcore;

	memset(sw, 0, sizeof(*sw));
	sw->conf = *conf;
	sw->n_workers = rte_lcore_count() - 1;
	if (sw->n_workers == 0 || sw->n_workers > HV_MAX_WORKERS) {
		HV_ERR("need 1 to %d worker lcores besides the main one, have %u", HV_MAX_WORKERS,
		       sw->n_workers);
		return -EINVAL;
	}
	sw->conf.n_workers = sw->n_workers;

	sw->pool = rte_pktmbuf_pool_create("hv_mbufs", conf->mbufs, 256, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (sw->pool == NULL) {
		HV_ERR("cannot create a pool of %u mbufs: %s (give more memory with --mem, or fewer with --mbufs)",
		       conf->mbufs, rte_strerror(rte_errno));
		return -ENOMEM;
	}

	sz = rte_rcu_qsbr_get_memsize(sw->n_workers);
	sw->qsbr = rte_zmalloc("hv_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (sw->qsbr == NULL || rte_rcu_qsbr_init(sw->qsbr, sw->n_workers) != 0) {
		HV_ERR("cannot set up RCU for %u workers", sw->n_workers);
		return -ENOMEM;
	}

	memset(&mconf, 0, sizeof(mconf));
	mconf.capacity = conf->mac_capacity;
	mconf.port_limit = conf->port_mac_limit;
	mconf.segment_limit = conf->segment_mac_limit;
	mconf.socket_id = (int)rte_socket_id();
	mconf.qsbr = sw->qsbr;
	mconf.name = "hv_macs";
	sw->macs = hv_mac_table_create(&mconf);
	if (sw->macs == NULL) {
		HV_ERR("cannot create a MAC table of %u entries: %s", conf->mac_capacity,
		       strerror(errno));
		return -errno;
	}

	sw->baseline = rte_zmalloc("hv_baseline", sizeof(struct hv_worker), RTE_CACHE_LINE_SIZE);
	if (sw->baseline == NULL)
		return -ENOMEM;
	unsigned i = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct hv_worker *w =
			rte_zmalloc_socket("hv_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
					   (int)rte_lcore_to_socket_id(lcore));

		if (w == NULL)
			return -ENOMEM;
		w->lcore = lcore;
		w->index = i;
		sw->workers[i++] = w;
	}
	if (switch_fw_init(sw) != 0)
		return -ENOMEM;
	if (hv_mirror_init() != 0) {
		HV_ERR("cannot register the mbuf flag of mirror copies");
		return -ENOMEM;
	}
	sw->vx_learn = rte_ring_create("hv_vx_learn", 256, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (sw->vx_learn == NULL) {
		HV_ERR("cannot create ring hv_vx_learn: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	sw->psec_lock = rte_zmalloc("hv_psec_lock", HV_MAX_PORTS * sizeof(*sw->psec_lock), 0);
	if (sw->psec_lock == NULL)
		return -ENOMEM;
	sw->neigh = hv_neigh_create(sw->conf.neigh_capacity ? sw->conf.neigh_capacity : 4096,
				    sw->conf.neigh_port_limit);
	if (sw->neigh == NULL) {
		HV_ERR("cannot create a neighbour table of %u entries", sw->conf.neigh_capacity);
		return -ENOMEM;
	}
	hv_sw = sw;
	return hv_switch_publish(sw);
}

int
hv_switch_start(struct hv_switch *sw)
{
	for (unsigned i = 0; i < sw->n_workers; i++) {
		int rc = rte_eal_remote_launch(hv_worker_main, sw->workers[i],
					       sw->workers[i]->lcore);
		if (rc != 0) {
			HV_ERR("cannot start worker on lcore %u: %s", sw->workers[i]->lcore,
			       strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void
hv_switch_stop(struct hv_switch *sw)
{
	__atomic_store_n(&sw->stop, true, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
}

void
hv_switch_fini(struct hv_switch *sw)
{
	for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
		struct hv_port *p = sw->ports[i];

		if (p == NULL)
			continue;
		hv_port_close(sw, p);
		free(p);
		sw->ports[i] = NULL;
	}
	for (unsigned i = 0; i < HV_MAX_SEGMENTS; i++) {
		free(sw->segments[i]);
		sw->segments[i] = NULL;
	}
	hv_mac_table_free(sw->macs);
	/* the workers have stopped: nothing reads the sessions any more */
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++) {
		hv_mirror_session_free(sw->mirrors[i]);
		sw->mirrors[i] = NULL;
	}
	hv_neigh_free(sw->neigh);
	sw->neigh = NULL;
	rte_free(sw->psec_lock);
	sw->psec_lock = NULL;
	if (sw->state != NULL)
		hv_gw_free(sw->state->gw);
	rte_free(sw->state);
	hv_vx_state_free(sw->vx);
	sw->vx = NULL;
	rte_ring_free(sw->vx_learn);
	sw->vx_learn = NULL;
	hv_fw_free(sw->fw);
	hv_fw_free(sw->fw_prev);
	for (unsigned i = 0; i < HV_MAX_WORKERS; i++) {
		hv_ct_free(sw->ct[i]);
		rte_ring_free(sw->handoff[i]);
	}
	for (unsigned i = 0; i < sw->n_workers; i++)
		rte_free(sw->workers[i]);
	rte_free(sw->baseline);
	rte_free(sw->qsbr);
	rte_mempool_free(sw->pool);
	sw->pool = NULL;
}

/* A VTEP index the overlay no longer uses: forget the MACs behind it. */
static void
vtep_gone(void *arg, uint16_t vtep)
{
	struct hv_switch *sw = arg;

	hv_mac_table_flush(sw->macs, -1, HV_VTEP_SLOT_BASE + vtep, true);
}

int
hv_switch_publish(struct hv_switch *sw)
{
	struct hv_dp_state *st, *old;
	struct hv_vx_state *vx, *old_vx;
	unsigned n_ports = 0, used = 0;

	for (unsigned i = 0; i < HV_MAX_PORTS; i++)
		if (sw->ports[i] != NULL)
			n_ports++;
	st = rte_zmalloc("hv_dp_state", sizeof(*st) + n_ports * sizeof(uint16_t),
			 RTE_CACHE_LINE_SIZE);
	if (st == NULL)
		return -ENOMEM;
	vx = hv_switch_overlay_build(sw);
	st->vx = vx;
	st->generation = ++sw->generation;
	st->n_workers = (uint16_t)sw->n_workers;
	st->fw = sw->fw;
	if (sw->fw != NULL) {
		char err[256];

		/* the gateways, routes and bindings of the file, for these ports */
		st->gw = hv_gw_build(sw, sw->fw, ++sw->gw_seq, err, sizeof(err));
		if (st->gw == NULL) {
			HV_ERR("policy %s: %s", sw->fw->path, err);
			rte_free(st);
			return -EINVAL;
		}
		if (hv_gw_idle(st->gw)) {
			hv_gw_free(st->gw);
			st->gw = NULL;
		}
	}
	for (unsigned s = 0; s < HV_MAX_SEGMENTS; s++)
		st->seg_pol[s] = hv_switch_policy_seg(sw, sw->fw, (uint16_t)s);
	for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
		if (sw->ports[i] != NULL) {
			st->port_conn_limit[i] = port_conn_limit(sw->fw, sw->ports[i]->name);
			st->port_pol[i] = hv_fw_port_id(sw->fw, sw->ports[i]->name);
		}
	}
	for (unsigned s = 0; s < HV_MAX_SEGMENTS; s++) {
		if (sw->segments[s] == NULL)
			continue;
		st->segs[s].ports = &st->flood_storage[used];
		for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
			struct hv_port *p = sw->ports[i];

			/* a mirror port gets mirror copies only: no flooded frame */
			if (p != NULL && p->segment == s && !hv_mirror_port_is_dest(sw, p))
				st->flood_storage[used++] = (uint16_t)i;
		}
		st->segs[s].n_ports = (uint16_t)(&st->flood_storage[used] - st->segs[s].ports);
	}
	for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
		struct hv_port *p = sw->ports[i];

		if (p == NULL)
			continue;
		st->ports[i] = p;
		if (hv_mirror_port_is_dest(sw, p))
			continue; /* transmit only: what an IDS port sends is not switched */
		for (uint16_t q = 0; q < p->nb_rxq; q++) {
			struct hv_dp_rx *rx = &st->rx[p->rxq_worker[q]];

			rx->q[rx->n].port = (uint16_t)i;
			rx->q[rx->n].queue = q;
			rx->n++;
		}
	}

	hv_mirror_dp_build(sw, &st->mir);

	old = sw->state;
	old_vx = sw->vx;
	__atomic_store_n(&sw->state, st, __ATOMIC_RELEASE);
	/* Wait until no worker can still be reading @old (or a port it lists). */
	rte_rcu_qsbr_synchronize(sw->qsbr, RTE_QSBR_THRID_INVALID);
	if (old != NULL)
		hv_gw_free(old->gw);
	rte_free(old);
	sw->vx = vx;
	/* VTEP indices the new state dropped: their neighbours and MACs go */
	hv_vx_ctl_commit(&sw->vxctl, vx, vtep_gone, sw);
	hv_vx_state_free(old_vx);
	hv_switch_overlay_mtu(sw);
	return 0;
}

struct hv_sw_segment *
hv_segment_find(struct hv_switch *sw, const char *name)
{
	for (unsigned i = 0; i < HV_MAX_SEGMENTS; i++)
		if (sw->segments[i] != NULL && strcmp(sw->segments[i]->name, name) == 0)
			return sw->segments[i];
	return NULL;
}

struct hv_port *
hv_port_find(struct hv_switch *sw, const char *name)
{
	for (unsigned i = 0; i < HV_MAX_PORTS; i++)
		if (sw->ports[i] != NULL && strcmp(sw->ports[i]->name, name) == 0)
			return sw->ports[i];
	return NULL;
}

int
hv_segment_add(struct hv_switch *sw, const char *name, uint32_t mac_limit, char *err,
	       size_t err_size)
{
	struct hv_sw_segment *seg;
	unsigned id;
	int rc;

	if (!name_valid(name)) {
		snprintf(err, err_size,
			 "bad segment name '%s' (1-%d letters, digits, '-', '_', '.')", name,
			 HV_NAME_MAX - 1);
		return -EINVAL;
	}
	if (hv_segment_find(sw, name) != NULL) {
		snprintf(err, err_size, "segment '%s' exists", name);
		return -EEXIST;
	}
	for (id = 0; id < HV_MAX_SEGMENTS; id++)
		if (sw->segments[id] == NULL)
			break;
	if (id == HV_MAX_SEGMENTS) {
		snprintf(err, err_size, "no room for segment '%s': %d segments exist", name,
			 HV_MAX_SEGMENTS);
		return -ENOSPC;
	}
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return -ENOMEM;
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->id = (uint16_t)id;
	seg->mac_limit = mac_limit;
	rc = hv_mac_table_set_segment_limit(sw->macs, seg->id, mac_limit);
	if (rc != 0) {
		snprintf(err, err_size, "segment '%s': bad MAC limit %u", name, mac_limit);
		free(seg);
		return rc;
	}
	for (unsigned w = 0; w < sw->n_workers; w++)
		memset(&sw->workers[w]->seg[id], 0, sizeof(sw->workers[w]->seg[id]));
	memset(&sw->baseline->seg[id], 0, sizeof(sw->baseline->seg[id]));
	sw->segments[id] = seg;
	return hv_switch_publish(sw);
}

int
hv_segment_del(struct hv_switch *sw, const char *name, char *err, size_t err_size)
{
	struct hv_sw_segment *seg = hv_segment_find(sw, name);
	int rc;

	if (seg == NULL) {
		snprintf(err, err_size, "segment '%s' does not exist", name);
		return -ENOENT;
	}
	if (seg->n_ports != 0) {
		snprintf(err, err_size, "segment '%s' still has %u port(s); delete them first",
			 name, seg->n_ports);
		return -EBUSY;
	}
	sw->segments[seg->id] = NULL;
	rc = hv_switch_publish(sw);
	hv_mac_table_flush(sw->macs, seg->id, -1, true);
	hv_mac_table_set_segment_limit(sw->macs, seg->id, 0);
	free(seg);
	return rc;
}

static int
parse_u32_opt(const struct hv_port_spec *spec, const char *key, uint32_t min, uint32_t max,
	      uint32_t *out, char *err, size_t err_size)
{
	const char *v = hv_port_spec_opt(spec, key);
	char *end;
	unsigned long x;

	if (v == NULL)
		return 0;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < min || x > max) {
		snprintf(err, err_size, "port '%s': option %s=%s: expected a number from %u to %u",
			 spec->name, key, v, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

static int
parse_bool_opt(const struct hv_port_spec *spec, const char *key, bool *out, char *err,
	       size_t err_size)
{
	const char *v = hv_port_spec_opt(spec, key);

	if (v == NULL)
		return 0;
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off")) {
		*out = false;
		return 0;
	}
	snprintf(err, err_size, "port '%s': option %s=%s: expected yes or no", spec->name, key, v);
	return -EINVAL;
}

/* The options each kind takes, besides the common ones. */
static const char *const common_opts[] = {"allow-vlan", "mac-limit",	 "mtu",
					  "mirror",	"port-security", NULL};
static const char *const kind_opts[HV_PORT_KIND_MAX][8] = {
	[HV_PORT_TAP] = {"iface", "netns", "ifname", "mac", NULL},
	[HV_PORT_VHOST_USER] = {"path", "mode", "queues", NULL},
	[HV_PORT_AF_PACKET] = {"iface", NULL},
	[HV_PORT_PCAP] = {"rx", "tx", NULL},
	[HV_PORT_RING] = {NULL},
	[HV_PORT_NULL] = {NULL},
};

static int
check_opts(const struct hv_port_spec *spec, char *err, size_t err_size)
{
	for (unsigned i = 0; i < spec->n_opts; i++) {
		const char *k = spec->opts[i].key;
		bool ok = false;

		for (unsigned j = 0; common_opts[j] != NULL && !ok; j++)
			ok = opt_key_eq(k, common_opts[j]);
		for (unsigned j = 0; kind_opts[spec->kind][j] != NULL && !ok; j++)
			ok = opt_key_eq(k, kind_opts[spec->kind][j]);
		if (!ok) {
			char known[256] = "";
			size_t n = 0;

			for (unsigned j = 0; kind_opts[spec->kind][j] != NULL; j++)
				n += (size_t)snprintf(known + n, sizeof(known) - n, "%s, ",
						      kind_opts[spec->kind][j]);
			snprintf(
				err, err_size,
				"port '%s': %s ports take no option '%s' (they take: %sallow-vlan, mac-limit, mtu, mirror, port-security)",
				spec->name, hv_port_kind_name(spec->kind), k, known);
			return -EINVAL;
		}
	}
	return 0;
}

/* Pick the worker with the fewest rx queues for each queue; fixed for the port's life. */
static int
assign_rx_queues(struct hv_switch *sw, struct hv_port *p, char *err, size_t err_size)
{
	unsigned load[HV_MAX_WORKERS] = {0};

	for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
		const struct hv_port *o = sw->ports[i];

		if (o != NULL)
			for (uint16_t q = 0; q < o->nb_rxq; q++)
				load[o->rxq_worker[q]]++;
	}
	for (uint16_t q = 0; q < p->nb_rxq; q++) {
		unsigned best = 0;

		for (unsigned w = 1; w < sw->n_workers; w++)
			if (load[w] < load[best])
				best = w;
		if (load[best] >= HV_MAX_RXQ) {
			snprintf(
				err, err_size,
				"port '%s': every worker already polls %d queues; add workers (--cpus)",
				p->name, HV_MAX_RXQ);
			return -ENOSPC;
		}
		p->rxq_worker[q] = (uint16_t)best;
		load[best]++;
	}
	return 0;
}

int
hv_port_add(struct hv_switch *sw, const struct hv_port_spec *spec, char *err, size_t err_size)
{
	struct hv_sw_segment *seg;
	struct hv_port *p;
	unsigned id;
	uint32_t mtu = HV_PORT_MTU, mac_limit = 0;
	bool allow_vlan = false, mirror_dest = false, portsec = true, portsec_lock = false;
	const char *ps_opt = hv_port_spec_opt(spec, "port-security");
	int rc;

	if (!name_valid(spec->name)) {
		snprintf(err, err_size, "bad port name '%s' (1-%d letters, digits, '-', '_', '.')",
			 spec->name, HV_NAME_MAX - 1);
		return -EINVAL;
	}
	if ((unsigned)spec->kind >= HV_PORT_KIND_MAX) {
		snprintf(err, err_size, "port '%s': bad kind", spec->name);
		return -EINVAL;
	}
	if (hv_port_find(sw, spec->name) != NULL) {
		snprintf(err, err_size, "port '%s' exists", spec->name);
		return -EEXIST;
	}
	/* "-": an uplink, the overlay's port, in no segment */
	seg = strcmp(spec->segment, "-") == 0 ? NULL : hv_segment_find(sw, spec->segment);
	if (seg == NULL && strcmp(spec->segment, "-") != 0) {
		snprintf(err, err_size, "port '%s': segment '%s' does not exist", spec->name,
			 spec->segment);
		return -ENOENT;
	}
	rc = check_opts(spec, err, err_size);
	if (rc == 0)
		rc = parse_u32_opt(spec, "mtu", 68, 9000, &mtu, err, err_size);
	if (rc == 0)
		rc = parse_u32_opt(spec, "mac-limit", 0, 1u << 24, &mac_limit, err, err_size);
	if (rc == 0)
		rc = parse_bool_opt(spec, "allow-vlan", &allow_vlan, err, err_size);
	if (rc == 0)
		rc = parse_bool_opt(spec, "mirror", &mirror_dest, err, err_size);
	if (rc == 0 && ps_opt != NULL && strcmp(ps_opt, "lock") == 0)
		portsec_lock = true;
	else if (rc == 0 && ps_opt != NULL &&
		 parse_bool_opt(spec, "port-security", &portsec, err, err_size) != 0) {
		snprintf(err, err_size,
			 "port '%s': option port-security=%s: expected yes, no or lock", spec->name,
			 ps_opt);
		rc = -EINVAL;
	}
	if (rc != 0)
		return rc;
	/* a guest in a segment that crosses the overlay gets the overlay's MTU */
	if (hv_port_spec_opt(spec, "mtu") == NULL && seg != NULL && sw->vx != NULL &&
	    sw->vx->seg_vni[seg->id] != HV_VX_NO_VNI)
		mtu = sw->vx->mtu;
	if (mtu + RTE_ETHER_HDR_LEN + 8 > RTE_MBUF_DEFAULT_DATAROOM) {
		snprintf(
			err, err_size,
			"port '%s': mtu %u is larger than this build's frame buffers allow (at most %u)",
			spec->name, mtu, RTE_MBUF_DEFAULT_DATAROOM - RTE_ETHER_HDR_LEN - 8);
		return -EINVAL;
	}
	for (id = 0; id < HV_MAX_LOCAL_PORTS; id++)
		if (sw->ports[id] == NULL)
			break;
	if (id == HV_MAX_LOCAL_PORTS) {
		snprintf(err, err_size, "no room for port '%s': %d ports exist", spec->name,
			 HV_MAX_LOCAL_PORTS);
		return -ENOSPC;
	}

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", spec->name);
	p->kind = spec->kind;
	p->id = (uint16_t)id;
	p->segment = seg != NULL ? seg->id : HV_SEG_NONE;
	p->mtu = (uint16_t)mtu;
	p->allow_vlan = allow_vlan;
	p->mirror_dest = mirror_dest;
	p->portsec_off = !portsec;
	p->portsec_lock = portsec_lock;
	/* the slot is referenced by no published state: nothing is locked yet */
	memset(&sw->psec_lock[id], 0, sizeof(sw->psec_lock[id]));
	p->mac_limit = mac_limit;
	p->spec = *spec;

	rc = hv_port_open(sw, p, err, err_size);
	if (rc != 0) {
		free(p);
		return rc;
	}
	rc = assign_rx_queues(sw, p, err, err_size);
	if (rc != 0)
		goto close_port;
	rc = hv_mac_table_set_port_limit(sw->macs, p->id, mac_limit);
	if (rc != 0) {
		snprintf(err, err_size, "port '%s': bad mac_limit %u", p->name, mac_limit);
		goto close_port;
	}
	/* The slot is referenced by no published state: its counters start at zero. */
	for (unsigned w = 0; w < sw->n_workers; w++)
		memset(&sw->workers[w]->port[id], 0, sizeof(sw->workers[w]->port[id]));
	memset(&sw->baseline->port[id], 0, sizeof(sw->baseline->port[id]));

	sw->ports[id] = p;
	if (seg != NULL)
		seg->n_ports++;
	rc = hv_switch_publish(sw);
	if (rc != 0) {
		sw->ports[id] = NULL;
		if (seg != NULL)
			seg->n_ports--;
		snprintf(err, err_size, "port '%s': cannot publish the new state: %s", p->name,
			 strerror(-rc));
		goto close_port;
	}
	return 0;

close_port:
	hv_port_close(sw, p);
	free(p);
	return rc;
}

int
hv_port_del(struct hv_switch *sw, const char *name, uint32_t *flushed, char *err, size_t err_size)
{
	struct hv_port *p = hv_port_find(sw, name);
	struct hv_sw_segment *seg;
	int rc;

	if (p == NULL) {
		snprintf(err, err_size, "port '%s' does not exist", name);
		return -ENOENT;
	}
	seg = hv_port_is_uplink(p) ? NULL : sw->segments[p->segment];
	sw->ports[p->id] = NULL;
	if (seg != NULL)
		seg->n_ports--;
	/* After this returns no worker polls, or transmits to, the port. */
	rc = hv_switch_publish(sw);
	if (rc != 0) {
		sw->ports[p->id] = p;
		if (seg != NULL)
			seg->n_ports++;
		snprintf(err, err_size, "port '%s': cannot publish the new state: %s", name,
			 strerror(-rc));
		return rc;
	}
	hv_port_close(sw, p);
	/* Flush before the slot can be reused, so no entry points at a newcomer. */
	*flushed = hv_mac_table_flush(sw->macs, -1, p->id, true);
	hv_mac_table_set_port_limit(sw->macs, p->id, 0);
	free(p);
	return 0;
}

/* Counters are plain uint64_t from rx_packets to the end of struct hv_worker. */
#define CNT_FIRST offsetof(struct hv_worker, rx_packets)
#define CNT_WORDS ((sizeof(struct hv_worker) - CNT_FIRST) / sizeof(uint64_t))

void
hv_switch_counters(struct hv_switch *sw, struct hv_worker *sum)
{
	uint64_t *dst = (uint64_t *)((char *)sum + CNT_FIRST);
	const uint64_t *base = (const uint64_t *)((const char *)sw->baseline + CNT_FIRST);

	memset(sum, 0, sizeof(*sum));
	for (unsigned w = 0; w < sw->n_workers; w++) {
		const uint64_t *src = (const uint64_t *)((const char *)sw->workers[w] + CNT_FIRST);

		for (size_t i = 0; i < CNT_WORDS; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
	for (size_t i = 0; i < CNT_WORDS; i++)
		dst[i] -= base[i];
}

void
hv_switch_counters_clear(struct hv_switch *sw)
{
	struct hv_worker *sum = rte_zmalloc("hv_sum", sizeof(*sum), 0);
	uint64_t *base = (uint64_t *)((char *)sw->baseline + CNT_FIRST);
	const uint64_t *s;

	if (sum == NULL)
		return;
	hv_switch_counters(sw, sum);
	s = (const uint64_t *)((const char *)sum + CNT_FIRST);
	for (size_t i = 0; i < CNT_WORDS; i++)
		base[i] += s[i];
	rte_free(sum);
}

void
hv_switch_tick(struct hv_switch *sw)
{
	uint32_t aged;

	hv_switch_overlay_learn(sw);
	if (sw->conf.mac_age_s == 0)
		return;
	aged = hv_mac_table_age(sw->macs, rte_get_tsc_cycles(),
				(uint64_t)sw->conf.mac_age_s * 1000000000ull);
	if (aged != 0)
		HV_DEBUG("aged out %u MAC entries", aged);
}
