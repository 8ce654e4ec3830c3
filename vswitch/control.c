/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket of hvnetd: a unix stream socket, newline-delimited
 * JSON requests (common/ctl.h, docs/control.md), served one at a time on the
 * control thread, together with signals and the once-a-second tick. A bad
 * request gets an error reply; nothing a client sends stops the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "common/ctl.h"
#include "common/log.h"
#include "vswitch/control.h"
#include "vswitch/vswitch.h"

#define MAX_CLIENTS 64

struct client {
	int fd;
	int id;	       /* unique while hvnetd runs: captures are owned by it */
	int passed_fd; /* descriptor received with the last request (SCM_RIGHTS), -1 none */
	struct hv_ctl_buf buf;
};

struct hv_control {
	struct hv_switch *sw;
	int listen_fd;
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	struct client clients[MAX_CLIENTS];
	struct client *cur; /* the client whose request is being served */
	int next_client_id;
	char path[108];
};

json_t *
ctl_fail(struct reply_err *e, int err, const char *hint, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	e->hint = hint;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return NULL;
}

/* args.key as a string; NULL (and an error in @e) when present but not a string. */
const char *
ctl_arg_str(json_t *args, const char *key, bool required, struct reply_err *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL) {
		if (required)
			ctl_fail(e, EINVAL, NULL, "missing argument '%s'", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		ctl_fail(e, EINVAL, NULL, "argument '%s' must be a string", key);
		return NULL;
	}
	return json_string_value(v);
}

int
ctl_arg_u32(json_t *args, const char *key, uint32_t *out, struct reply_err *e)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX) {
		ctl_fail(e, EINVAL, NULL, "argument '%s' must be a non-negative integer", key);
		return -EINVAL;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static void
mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static json_t *
drop_object(const uint64_t *drops, uint64_t *total)
{
	json_t *o = json_object();

	*total = 0;
	for (unsigned r = 1; r < HV_DROP_MAX; r++) {
		*total += drops[r];
		if (drops[r] != 0)
			json_object_set_new(o, hv_drop_name((enum hv_drop_reason)r),
					    json_integer((json_int_t)drops[r]));
	}
	return o;
}

/*
 * The link state as the PMD reports it. net_tap reads its interface's flags
 * in hvnetd's own namespace, so once the interface has moved into a guest's
 * namespace the PMD cannot see it: say so rather than report it down.
 */
static const char *
port_state(const struct hv_port *p)
{
	if (hv_port_link_up(p))
		return "up";
	return p->kind == HV_PORT_TAP && p->netns[0] != '\0' ? "unknown" : "down";
}

static json_t *
port_json(struct hv_switch *sw, const struct hv_port *p, const struct hv_worker *sum)
{
	const struct hv_port_counters *pc = &sum->port[p->id];
	char mac[18];
	uint64_t drops;
	json_t *opts = json_object();
	json_t *dr = drop_object(pc->drops, &drops);
	/* a vhost-user port has none: vswitch/vhost.c drives rte_vhost itself */
	json_t *ethdev = p->eth_port == HV_NO_ETHDEV ? json_null() : json_integer(p->eth_port);

	mac_str(p->mac, mac);
	for (unsigned i = 0; i < p->spec.n_opts; i++)
		json_object_set_new(opts, p->spec.opts[i].key, json_string(p->spec.opts[i].value));
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:b, s:i, s:i, s:o, s:I, s:I, s:I, "
			 "s:I, s:I, s:o, s:s, s:s, s:o}",
			 "name", p->name, "id", p->id, "kind", hv_port_kind_name(p->kind),
			 "segment", hv_port_is_uplink(p) ? "-" : sw->segments[p->segment]->name,
			 "state", port_state(p), "mac", mac, "mtu", p->mtu, "allow_vlan",
			 p->allow_vlan, "mac_limit", p->mac_limit, "macs",
			 hv_mac_table_port_count(sw->macs, p->id), "options", opts, "rx_packets",
			 (json_int_t)pc->rx_packets, "rx_bytes", (json_int_t)pc->rx_bytes,
			 "tx_packets", (json_int_t)pc->tx_packets, "tx_bytes",
			 (json_int_t)pc->tx_bytes, "drops", (json_int_t)drops, "drop_reasons", dr,
			 "netns", p->netns, "ifname", p->ifname, "ethdev", ethdev);
}

static json_t *
segment_json(struct hv_switch *sw, const struct hv_sw_segment *seg, const struct hv_worker *sum)
{
	const struct hv_seg_counters *sc = &sum->seg[seg->id];
	uint64_t reasons[HV_DROP_MAX] = {0}, total;
	json_t *ports = json_array();

	for (unsigned i = 0; i < HV_MAX_PORTS; i++) {
		const struct hv_port *p = sw->ports[i];

		if (p == NULL || p->segment != seg->id)
			continue;
		json_array_append_new(ports, json_string(p->name));
		for (unsigned r = 0; r < HV_DROP_MAX; r++)
			reasons[r] += sum->port[i].drops[r];
	}
	return json_pack("{s:s, s:i, s:o, s:i, s:i, s:I, s:I, s:I, s:I, s:o}", "name", seg->name,
			 "id", seg->id, "ports", ports, "macs",
			 hv_mac_table_segment_count(sw->macs, seg->id), "mac_limit", seg->mac_limit,
			 "rx_packets", (json_int_t)sc->rx_packets, "tx_packets",
			 (json_int_t)sc->tx_packets, "flooded", (json_int_t)sc->flooded, "drops",
			 (json_int_t)sc->drops, "drop_reasons", drop_object(reasons, &total));
}

static struct hv_worker *
counters(struct hv_switch *sw)
{
	struct hv_worker *sum = rte_malloc("hv_sum", sizeof(*sum), 0);

	if (sum != NULL)
		hv_switch_counters(sw, sum);
	return sum;
}

/* ---- handlers ---- */

static json_t *
h_version(struct hv_control *c, json_t *args, struct reply_err *e)
{
	(void)args;
	(void)e;
	return json_pack("{s:s, s:i, s:s, s:i, s:s, s:b, s:s, s:I}", "version", "0.1.0", "pid",
			 (int)getpid(), "instance", c->sw->conf.instance, "workers",
			 c->sw->n_workers, "poll_mode",
			 c->sw->conf.poll_mode == HV_POLL_BUSY ? "busy" : "adaptive", "hugepages",
			 rte_eal_has_hugepages() != 0, "socket", c->path, "tsc_hz",
			 (json_int_t)rte_get_tsc_hz());
}

static json_t *
h_port_list(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_worker *sum = counters(c->sw);
	json_t *a = json_array();

	(void)args;
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	for (unsigned i = 0; i < HV_MAX_PORTS; i++)
		if (c->sw->ports[i] != NULL)
			json_array_append_new(a, port_json(c->sw, c->sw->ports[i], sum));
	rte_free(sum);
	return a;
}

static json_t *
h_port_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *name = ctl_arg_str(args, "name", true, e);
	struct hv_port *p;
	struct hv_worker *sum;
	json_t *r;

	if (name == NULL)
		return NULL;
	p = hv_port_find(c->sw, name);
	if (p == NULL)
		return ctl_fail(e, ENOENT, "hvnetctl port list shows the ports",
				"port '%s' does not exist", name);
	sum = counters(c->sw);
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	r = port_json(c->sw, p, sum);
	rte_free(sum);
	return r;
}

static json_t *
h_port_add(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_port_spec spec;
	const char *name, *kind, *segment, *key;
	json_t *opts, *v;
	int k, rc;

	memset(&spec, 0, sizeof(spec));
	name = ctl_arg_str(args, "name", true, e);
	kind = name ? ctl_arg_str(args, "kind", true, e) : NULL;
	segment = kind ? ctl_arg_str(args, "segment", true, e) : NULL;
	if (segment == NULL)
		return NULL;
	k = hv_port_kind_parse(kind);
	if (k < 0)
		return ctl_fail(e, EINVAL, "kinds: tap, vhost-user, af_packet, pcap, ring, null",
				"unknown port kind '%s'", kind);
	if (strlen(name) >= sizeof(spec.name) || strlen(segment) >= sizeof(spec.segment))
		return ctl_fail(e, ENAMETOOLONG, NULL, "names have at most %d bytes",
				HV_NAME_MAX - 1);
	strcpy(spec.name, name);
	strcpy(spec.segment, segment);
	spec.kind = (enum hv_port_kind)k;
	opts = json_object_get(args, "options");
	if (opts != NULL && !json_is_object(opts))
		return ctl_fail(e, EINVAL, NULL, "argument 'options' must be an object of strings");
	json_object_foreach(opts, key, v) {
		char num[32];
		const char *val;

		if (json_is_string(v))
			val = json_string_value(v);
		else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			val = num;
		} else if (json_is_boolean(v))
			val = json_is_true(v) ? "yes" : "no";
		else
			return ctl_fail(e, EINVAL, NULL, "option '%s' must be a string", key);
		if (spec.n_opts == HV_PORT_MAX_OPTS || strlen(key) >= sizeof(spec.opts[0].key) ||
		    strlen(val) >= sizeof(spec.opts[0].value))
			return ctl_fail(e, E2BIG, NULL, "too many or too long options");
		strcpy(spec.opts[spec.n_opts].key, key);
		strcpy(spec.opts[spec.n_opts].value, val);
		spec.n_opts++;
	}
	rc = hv_port_add(c->sw, &spec, e->msg, sizeof(e->msg));
	if (rc != 0) {
		e->err = -rc;
		if (rc == -ENOENT)
			e->hint =
				"hvnetctl segment list shows the segments; segment add creates one";
		return NULL;
	}
	return h_port_show(c, args, e);
}

static json_t *
h_port_del(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *name = ctl_arg_str(args, "name", true, e);
	uint32_t flushed = 0;
	int rc;

	if (name == NULL)
		return NULL;
	rc = hv_port_del(c->sw, name, &flushed, e->msg, sizeof(e->msg));
	if (rc != 0) {
		e->err = -rc;
		if (rc == -ENOENT)
			e->hint = "hvnetctl port list shows the ports";
		return NULL;
	}
	return json_pack("{s:s, s:i}", "name", name, "flushed_macs", flushed);
}

static json_t *
h_segment_list(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_worker *sum = counters(c->sw);
	json_t *a = json_array();

	(void)args;
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	for (unsigned i = 0; i < HV_MAX_SEGMENTS; i++)
		if (c->sw->segments[i] != NULL)
			json_array_append_new(a, segment_json(c->sw, c->sw->segments[i], sum));
	rte_free(sum);
	return a;
}

static json_t *
h_segment_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *name = ctl_arg_str(args, "name", true, e);
	struct hv_sw_segment *seg;
	struct hv_worker *sum;
	json_t *r;

	if (name == NULL)
		return NULL;
	seg = hv_segment_find(c->sw, name);
	if (seg == NULL)
		return ctl_fail(e, ENOENT, "hvnetctl segment list shows the segments",
				"segment '%s' does not exist", name);
	sum = counters(c->sw);
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	r = segment_json(c->sw, seg, sum);
	rte_free(sum);
	return r;
}

static json_t *
h_segment_add(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *name = ctl_arg_str(args, "name", true, e);
	uint32_t limit = 0;
	int rc;

	if (name == NULL || ctl_arg_u32(args, "mac_limit", &limit, e) != 0)
		return NULL;
	rc = hv_segment_add(c->sw, name, limit, e->msg, sizeof(e->msg));
	if (rc != 0) {
		e->err = -rc;
		return NULL;
	}
	return h_segment_show(c, args, e);
}

static json_t *
h_segment_del(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *name = ctl_arg_str(args, "name", true, e);
	int rc;

	if (name == NULL)
		return NULL;
	rc = hv_segment_del(c->sw, name, e->msg, sizeof(e->msg));
	if (rc != 0) {
		e->err = -rc;
		return NULL;
	}
	return json_object();
}

struct mac_walk {
	struct hv_switch *sw;
	json_t *a;
};

static int
mac_walk_cb(const struct hv_mac_entry *m, void *arg)
{
	struct mac_walk *mw = arg;
	const struct hv_sw_segment *seg = mw->sw->segments[m->segment];
	const struct hv_port *p = m->port < HV_MAX_PORTS ? mw->sw->ports[m->port] : NULL;
	char mac[18], vtep[24] = "?";

	mac_str(m->mac, mac);
	/* a remote MAC: the VTEP behind it */
	if (hv_slot_is_vtep(m->port)) {
		const uint8_t *ip = mw->sw->vxctl.vtep_ip[m->port - HV_VTEP_SLOT_BASE];

		snprintf(vtep, sizeof(vtep), "vtep:%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	}
	json_array_append_new(mw->a, json_pack("{s:s, s:s, s:s, s:f, s:b}", "segment",
					       seg ? seg->name : "?", "mac", mac, "port",
					       p ? p->name : vtep, "age_s", (double)m->age_ns / 1e9,
					       "static", (m->flags & HV_MAC_F_STATIC) != 0));
	return 0;
}

static int
segment_arg(struct hv_control *c, json_t *args, int *seg_id, struct reply_err *e)
{
	const char *name = ctl_arg_str(args, "segment", false, e);
	struct hv_sw_segment *seg;

	*seg_id = -1;
	if (name == NULL)
		return e->err ? -EINVAL : 0;
	seg = hv_segment_find(c->sw, name);
	if (seg == NULL) {
		ctl_fail(e, ENOENT, "hvnetctl segment list shows the segments",
			 "segment '%s' does not exist", name);
		return -ENOENT;
	}
	*seg_id = seg->id;
	return 0;
}

static json_t *
h_mac_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct mac_walk mw = {.sw = c->sw, .a = json_array()};
	int seg;

	if (segment_arg(c, args, &seg, e) != 0) {
		json_decref(mw.a);
		return NULL;
	}
	hv_mac_table_walk(c->sw->macs, seg, rte_get_tsc_cycles(), mac_walk_cb, &mw);
	return mw.a;
}

static json_t *
h_mac_flush(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *pname = ctl_arg_str(args, "port", false, e);
	int seg, port = -1;

	if (e->err || segment_arg(c, args, &seg, e) != 0)
		return NULL;
	if (pname != NULL) {
		struct hv_port *p = hv_port_find(c->sw, pname);

		if (p == NULL)
			return ctl_fail(e, ENOENT, "hvnetctl port list shows the ports",
					"port '%s' does not exist", pname);
		port = p->id;
	}
	return json_pack("{s:i}", "flushed", hv_mac_table_flush(c->sw->macs, seg, port, false));
}

static json_t *
h_stats(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = c->sw;
	struct hv_worker *sum = counters(sw);
	json_t *ports = json_array(), *segs = json_array(), *drops = json_array();
	json_t *lcores = json_array();

	(void)args;
	if (sum == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory");
	for (unsigned i = 0; i < HV_MAX_PORTS; i++)
		if (sw->ports[i] != NULL)
			json_array_append_new(ports, port_json(sw, sw->ports[i], sum));
	for (unsigned i = 0; i < HV_MAX_SEGMENTS; i++)
		if (sw->segments[i] != NULL)
			json_array_append_new(segs, segment_json(sw, sw->segments[i], sum));
	for (unsigned r = 1; r < HV_DROP_MAX; r++)
		json_array_append_new(drops,
				      json_pack("{s:s, s:s, s:I, s:s}", "reason",
						hv_drop_name((enum hv_drop_reason)r), "stage",
						hv_drop_stage((enum hv_drop_reason)r), "count",
						(json_int_t)sum->drops[r], "help",
						hv_drop_help((enum hv_drop_reason)r)));
	for (unsigned w = 0; w < sw->n_workers; w++) {
		const struct hv_worker *wk = sw->workers[w];
		const struct hv_worker *b = sw->baseline;
		/* per-lcore figures are shown raw (the baseline is a sum over workers) */
		uint64_t rx = HV_CNT_READ(wk->rx_packets);
		uint64_t busy = HV_CNT_READ(wk->busy_cycles);

		(void)b;
		json_array_append_new(
			lcores, json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:f}", "lcore", wk->lcore,
					  "rx_packets", (json_int_t)rx, "tx_packets",
					  (json_int_t)HV_CNT_READ(wk->tx_packets), "busy_cycles",
					  (json_int_t)busy, "idle_polls",
					  (json_int_t)HV_CNT_READ(wk->idle_polls), "sleeps",
					  (json_int_t)HV_CNT_READ(wk->sleeps), "cycles_per_packet",
					  rx ? (double)busy / (double)rx : 0.0));
	}
	json_t *stages = json_pack(
		"[{s:s, s:I, s:I}, {s:s, s:I, s:I}, {s:s, s:I, s:I}, {s:s, s:I, s:I}, "
		"{s:s, s:I, s:I}]",
		"stage", "parse", "packets", (json_int_t)sum->stage.parse, "drops",
		(json_int_t)(sum->stage.parse - sum->stage.ingress), "stage", "ingress", "packets",
		(json_int_t)sum->stage.ingress, "drops",
		(json_int_t)(sum->stage.ingress - sum->stage.learn), "stage", "learn", "packets",
		(json_int_t)sum->stage.learn, "drops", (json_int_t)0, "stage", "forward", "packets",
		(json_int_t)sum->stage.forward, "drops",
		(json_int_t)(sum->drops[HV_DROP_HAIRPIN] + sum->drops[HV_DROP_NO_DESTINATION]),
		"stage", "tx", "packets", (json_int_t)sum->stage.tx, "drops",
		(json_int_t)sum->drops[HV_DROP_TX_FULL]);
	json_t *learn = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "learned", (json_int_t)sum->learn.learned,
		"moved", (json_int_t)sum->learn.moved, "limit_port",
		(json_int_t)sum->learn.limit_port, "limit_segment",
		(json_int_t)sum->learn.limit_segment, "limit_table",
		(json_int_t)sum->learn.limit_table, "static_conflict",
		(json_int_t)sum->learn.static_conflict, "entries", hv_mac_table_count(sw->macs));
	json_t *fw = json_pack(
		"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "policy",
		sw->fw != NULL, "checked", (json_int_t)sum->fw.checked, "established",
		(json_int_t)sum->fw.established, "related", (json_int_t)sum->fw.related,
		"new_allowed", (json_int_t)sum->fw.new_allowed, "stateless",
		(json_int_t)sum->fw.stateless, "bypass", (json_int_t)sum->fw.bypass, "handoff_out",
		(json_int_t)sum->fw.handoff_out, "handoff_in", (json_int_t)sum->fw.handoff_in,
		"rejects_sent", (json_int_t)sum->fw.rejects_sent, "rejects_ratelimited",
		(json_int_t)sum->fw.rejects_ratelimited, "log_submitted",
		(json_int_t)sum->fw.log_submitted, "log_ratelimited",
		(json_int_t)sum->fw.log_ratelimited);
	rte_free(sum);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "ports", ports, "segments", segs,
			 "stages", stages, "drops", drops, "lcores", lcores, "mac_learn", learn,
			 "firewall", fw);
}

static json_t *
h_stats_clear(struct hv_control *c, json_t *args, struct reply_err *e)
{
	(void)args;
	(void)e;
	hv_switch_counters_clear(c->sw);
	return json_object();
}

/* SIGHUP: the verdict log files of the policy in force are reopened (logrotate). */
static void
reopen_logs(struct hv_switch *sw)
{
	char err[256];

	if (sw->fw == NULL || sw->fw->log == NULL)
		return;
	if (hv_fwlog_reopen(sw->fw->log, err, sizeof(err)) != 0)
		HV_ERR("SIGHUP: cannot reopen the verdict log: %s", err);
	else
		HV_INFO("SIGHUP: verdict log files reopened");
}

struct hv_switch *
ctl_switch(struct hv_control *c)
{
	return c->sw;
}

int
ctl_take_fd(struct hv_control *c)
{
	int fd;

	if (c->cur == NULL)
		return -1;
	fd = c->cur->passed_fd;
	c->cur->passed_fd = -1;
	return fd;
}

int
ctl_client_id(struct hv_control *c)
{
	return c->cur ? c->cur->id : -1;
}

static const struct hv_ctl_handler handlers[] = {
	{"version", h_version},		  {"port.list", h_port_list},
	{"port.show", h_port_show},	  {"port.add", h_port_add},
	{"port.del", h_port_del},	  {"segment.list", h_segment_list},
	{"segment.show", h_segment_show}, {"segment.add", h_segment_add},
	{"segment.del", h_segment_del},	  {"mac.show", h_mac_show},
	{"mac.flush", h_mac_flush},	  {"stats", h_stats},
	{"stats.clear", h_stats_clear},
};

static json_t *
dispatch(struct hv_control *c, const char *line, size_t len)
{
	const struct {
		const struct hv_ctl_handler *v;
		size_t n;
	} tables[] = {
		{handlers, sizeof(handlers) / sizeof(handlers[0])},
		{hv_fw_handlers, hv_fw_n_handlers},
		{hv_mirror_handlers, hv_mirror_n_handlers},
		{hv_vx_handlers, hv_vx_n_handlers},
		{hv_gw_handlers, hv_gw_n_handlers},
	};
	struct hv_ctl_request req;
	struct reply_err e = {0};
	char err[512];
	json_t *result, *reply;

	if (hv_ctl_request_parse(line, len, &req, err, sizeof(err)) != 0)
		return hv_ctl_reply_error(0, EINVAL, "see docs/control.md", "bad request: %s", err);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < tables[t].n; i++) {
			const struct hv_ctl_handler *h = &tables[t].v[i];

			if (strcmp(h->cmd, req.cmd) != 0)
				continue;
			result = h->fn(c, req.args, &e);
			if (result == NULL && e.err == 0)
				ctl_fail(&e, ENOMEM, NULL, "out of memory");
			reply = e.err ? hv_ctl_reply_error(req.id, e.err, e.hint, "%s", e.msg)
				      : hv_ctl_reply_ok(req.id, result);
			if (e.err)
				HV_DEBUG("%s: %s", req.cmd, e.msg);
			hv_ctl_request_clear(&req);
			return reply;
		}
	}
	reply = hv_ctl_reply_error(
		req.id, EOPNOTSUPP,
		"commands: version, port.*, segment.*, mac.show, mac.flush, stats, policy.*, fw.show, ct.*, mirror.*, capture.*, vtep.*, route.show, neigh.show",
		"unknown command '%s'", req.cmd);
	hv_ctl_request_clear(&req);
	return reply;
}

static void
client_close(struct hv_control *c, struct client *cl)
{
	epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	hv_ctl_buf_free(&cl->buf);
	cl->fd = -1;
	if (cl->passed_fd >= 0)
		close(cl->passed_fd);
	cl->passed_fd = -1;
	hv_mirror_client_gone(c->sw, cl->id); /* its captures end with it */
}

static int
client_send(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno; /* includes the SO_SNDTIMEO timeout */
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
client_readable(struct hv_control *c, struct client *cl)
{
	char buf[4096];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = &cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(cl->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	char *line;
	size_t len;
	int rc;

	/* descriptors passed with a request (hvnetctl capture): keep the last one */
	for (struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; h != NULL;
	     h = CMSG_NXTHDR(&mh, h)) {
		size_t nfd;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t k = 0; k < nfd; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + k * sizeof(int), sizeof(int));
			if (cl->passed_fd >= 0)
				close(cl->passed_fd);
			cl->passed_fd = fd;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c, cl);
		return;
	}
	if (n < 0)
		return;
	rc = hv_ctl_buf_feed(&cl->buf, buf, (size_t)n);
	while (rc == 0 && (rc = hv_ctl_buf_next(&cl->buf, &line, &len)) == 1) {
		json_t *reply;

		c->cur = cl;
		reply = dispatch(c, line, len);
		c->cur = NULL;
		char *out = reply ? hv_ctl_dump(reply, &len) : NULL;

		free(line);
		json_decref(reply);
		if (out == NULL) {
			reply = hv_ctl_reply_error(0, E2BIG, NULL, "reply too large");
			out = hv_ctl_dump(reply, &len);
			json_decref(reply);
		}
		rc = out ? client_send(cl->fd, out, len) : -ENOMEM;
		free(out);
	}
	if (rc < 0) {
		if (rc == -EMSGSIZE) {
			json_t *reply = hv_ctl_reply_error(
				0, EMSGSIZE, NULL, "request longer than %u bytes", HV_CTL_MAX_MSG);
			char *out = hv_ctl_dump(reply, &len);

			if (out != NULL)
				client_send(cl->fd, out, len);
			free(out);
			json_decref(reply);
		}
		client_close(c, cl);
	}
}

static void
accept_client(struct hv_control *c)
{
	struct timeval tv = {.tv_sec = 2};
	struct epoll_event ev = {.events = EPOLLIN};
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < MAX_CLIENTS; i++) {
		struct client *cl = &c->clients[i];

		if (cl->fd >= 0)
			continue;
		/* a client that stops reading cannot hold the control thread for long */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		cl->fd = fd;
		cl->id = ++c->next_client_id;
		cl->passed_fd = -1;
		hv_ctl_buf_init(&cl->buf);
		ev.data.u32 = i;
		if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)
			client_close(c, cl);
		return;
	}
	HV_WARN("control: %d clients connected already; refusing one more", MAX_CLIENTS);
	close(fd);
}

#define EV_LISTEN 1000
#define EV_SIGNAL 1001
#define EV_TIMER  1002

static int
make_dirs(const char *path)
{
	char dir[108];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct hv_control *
hv_control_open(struct hv_switch *sw, char *err, size_t err_size)
{
	struct hv_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev;
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	sigset_t mask;
	int rc, fd;

	if (c == NULL)
		return NULL;
	c->sw = sw;
	c->listen_fd = c->epoll_fd = c->signal_fd = c->timer_fd = -1;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", sw->conf.socket_path);
	if (strlen(sw->conf.socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_size, "control socket path too long: %s", sw->conf.socket_path);
		errno = ENAMETOOLONG;
		goto fail;
	}
	strcpy(sa.sun_path, c->path);

	/* A live daemon on this path is an error; a stale socket file is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(
			err, err_size,
			"another hvnetd is listening on %s; give this one its own --instance or --socket",
			c->path);
		errno = EADDRINUSE;
		goto fail;
	}
	if (fd >= 0)
		close(fd);
	unlink(c->path);
	rc = make_dirs(c->path);
	if (rc != 0) {
		snprintf(err, err_size, "cannot create the directory of %s: %s", c->path,
			 strerror(-rc));
		errno = -rc;
		goto fail;
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->path, 0660) != 0 || listen(c->listen_fd, 16) != 0) {
		snprintf(err, err_size, "cannot listen on %s: %s", c->path, strerror(errno));
		goto fail;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	c->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->signal_fd < 0 || c->timer_fd < 0 || c->epoll_fd < 0 ||
	    timerfd_settime(c->timer_fd, 0, &its, NULL) != 0) {
		snprintf(err, err_size, "cannot set up the control loop: %s", strerror(errno));
		goto fail;
	}
	ev.events = EPOLLIN;
	ev.data.u32 = EV_LISTEN;
	epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->listen_fd, &ev);
	ev.data.u32 = EV_SIGNAL;
	epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->signal_fd, &ev);
	ev.data.u32 = EV_TIMER;
	epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->timer_fd, &ev);
	return c;

fail:
	rc = errno;
	hv_control_close(c);
	errno = rc;
	return NULL;
}

void
hv_control_close(struct hv_control *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(c, &c->clients[i]);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
	}
	if (c->epoll_fd >= 0)
		close(c->epoll_fd);
	if (c->signal_fd >= 0)
		close(c->signal_fd);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	free(c);
}

int
hv_control_run(struct hv_control *c)
{
	struct epoll_event evs[16];

	while (!c->sw->stop) {
		int n = epoll_wait(c->epoll_fd, evs, 16, 1000);

		if (n < 0 && errno != EINTR) {
			HV_ERR("control loop: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;

			if (id == EV_LISTEN) {
				accept_client(c);
			} else if (id == EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(c->signal_fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reopen_logs(c->sw);
					continue;
				}
				HV_INFO("signal %u: shutting down", si.ssi_signo);
				return 0;
			} else if (id == EV_TIMER) {
				uint64_t ticks;

				if (read(c->timer_fd, &ticks, sizeof(ticks)) > 0)
					hv_switch_tick(c->sw);
			} else if (id < MAX_CLIENTS && c->clients[id].fd >= 0) {
				client_readable(c, &c->clients[id]);
			}
		}
	}
	return 0;
}
