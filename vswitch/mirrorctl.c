/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control requests of mirrors: mirror.add / del / list / show, the ad hoc
 * capture (capture.start / capture.status), and the mirror sessions of a
 * policy file. Control thread only. A session is created completely (filter
 * compiled, files open) before it is published; one is freed only after a
 * publish without it (vswitch/mirror.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "firewall/lang/lang.h"
#include "vswitch/control.h"

static int
mirror_index(const struct hv_switch *sw, const char *name)
{
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		if (sw->mirrors[i] != NULL &&
		    strcmp(hv_mirror_session_conf(sw->mirrors[i])->name, name) == 0)
			return (int)i;
	return -1;
}

static int
mirror_free_slot(const struct hv_switch *sw)
{
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		if (sw->mirrors[i] == NULL)
			return (int)i;
	return -1;
}

void
hv_mirror_dest_macs_flush(struct hv_switch *sw)
{
	for (unsigned p = 0; p < HV_MAX_PORTS; p++)
		if (sw->ports[p] != NULL && hv_mirror_port_is_dest(sw, sw->ports[p]))
			hv_mac_table_flush(sw->macs, -1, (int)p, false);
}

/* Publish S in a free slot. On failure S is still the caller's. */
static int
mirror_install(struct hv_switch *sw, struct hv_mirror_session *s, struct reply_err *e)
{
	const char *name = hv_mirror_session_conf(s)->name;
	int i;

	if (mirror_index(sw, name) >= 0) {
		ctl_fail(e, EEXIST, "hvnetctl mirror del NAME removes it", "mirror '%s' exists",
			 name);
		return -EEXIST;
	}
	i = mirror_free_slot(sw);
	if (i < 0) {
		ctl_fail(e, ENOSPC, NULL, "no room for mirror '%s': %d sessions exist", name,
			 HV_MIRROR_MAX_SESSIONS);
		return -ENOSPC;
	}
	sw->mirrors[i] = s;
	if (hv_switch_publish(sw) != 0) {
		sw->mirrors[i] = NULL;
		ctl_fail(e, ENOMEM, NULL, "out of memory publishing mirror '%s'", name);
		return -ENOMEM;
	}
	hv_mirror_dest_macs_flush(sw); /* no unicast frame goes to a new mirror port */
	return 0;
}

/* Unpublish and free session I. */
static int
mirror_remove(struct hv_switch *sw, int i)
{
	struct hv_mirror_session *s = sw->mirrors[i];

	sw->mirrors[i] = NULL;
	if (hv_switch_publish(sw) != 0) {
		sw->mirrors[i] = s;
		return -ENOMEM;
	}
	hv_mirror_session_free(s); /* the publish waited for every worker */
	return 0;
}

static const char *
dest_kind_name(enum hv_mirror_dest_kind k)
{
	return k == HV_MIRROR_TO_PCAPNG	  ? "pcapng"
	       : k == HV_MIRROR_TO_PORT	  ? "port"
	       : k == HV_MIRROR_TO_VXLAN  ? "vxlan"
	       : k == HV_MIRROR_TO_ERSPAN ? "erspan"
					  : "capture";
}

static json_t *
mirror_json(const struct hv_switch *sw, int i)
{
	const struct hv_mirror_session *s = sw->mirrors[i];
	const struct hv_mirror_conf *c = hv_mirror_session_conf(s);
	const struct hv_dp_state *st = sw->state;
	struct hv_mirror_counters k;
	json_t *dests = json_array();
	int done_err = 0;
	bool done = hv_mirror_session_done(s, &done_err);

	hv_mirror_session_counters(s, &k);
	for (unsigned d = 0; d < c->n_dests; d++) {
		const struct hv_mirror_dest_conf *dc = &c->dests[d];
		struct hv_mirror_dest_stats ds;
		json_t *o;

		hv_mirror_session_dest_stats(s, d, &ds);
		if (dc->kind == HV_MIRROR_TO_PORT || HV_MIRROR_IS_REMOTE(dc->kind)) {
			uint16_t slot = st->mir.dest_port[i][d];

			o = json_pack("{s:s, s:s, s:b, s:s}", "kind", dest_kind_name(dc->kind),
				      "port", dc->port, "vlan_tag", dc->vlan_tag, "state",
				      slot != HV_MIRROR_NONE ? "up" : "down: no such port");
			if (dc->kind == HV_MIRROR_TO_VXLAN)
				json_object_set_new(o, "vni", json_integer(dc->vni));
			if (dc->kind == HV_MIRROR_TO_ERSPAN)
				json_object_set_new(o, "session_id", json_integer(dc->vni));
		} else {
			o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "kind", dest_kind_name(dc->kind),
				      "file", ds.current, "written", (json_int_t)ds.written,
				      "write_errors", (json_int_t)ds.write_errors, "files",
				      (json_int_t)ds.files);
		}
		json_array_append_new(dests, o);
	}
	return json_pack(
		"{s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:o, s:b, s:s}",
		"name", c->name, "filter_engine", hv_mirror_session_filter_engine(s), "config",
		hv_mirror_conf_to_json(c), "counters", "selected", (json_int_t)k.selected,
		"filtered", (json_int_t)k.filtered, "sampled_out", (json_int_t)k.sampled_out,
		"copied", (json_int_t)k.copied, "copy_failed", (json_int_t)k.copy_failed,
		"queue_full", (json_int_t)k.queue_full, "dest_down", (json_int_t)k.dest_down,
		"port_sent", (json_int_t)k.port_sent, "written",
		(json_int_t)hv_mirror_session_written(s), "destinations", dests, "done", done,
		"error", done_err ? strerror(done_err) : "");
}

static json_t *
h_mirror_list(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	json_t *a = json_array();

	(void)args;
	(void)e;
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		if (sw->mirrors[i] != NULL)
			json_array_append_new(a, mirror_json(sw, (int)i));
	return a;
}

static json_t *
h_mirror_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const char *name = ctl_arg_str(args, "name", true, e);
	int i;

	if (name == NULL)
		return NULL;
	i = mirror_index(sw, name);
	if (i < 0)
		return ctl_fail(e, ENOENT, "hvnetctl mirror list shows the mirrors",
				"mirror '%s' does not exist", name);
	return mirror_json(sw, i);
}

static json_t *
h_mirror_add(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	struct hv_mirror_conf conf;
	struct hv_mirror_session *s;
	char err[512];

	if (hv_mirror_conf_from_json(args, &conf, err, sizeof(err)) != 0)
		return ctl_fail(e, EINVAL, "docs/mirror.md lists the settings", "%s", err);
	if (mirror_index(sw, conf.name) >= 0)
		return ctl_fail(e, EEXIST, "hvnetctl mirror del NAME removes it",
				"mirror '%s' exists", conf.name);
	s = hv_mirror_session_create(&conf, sw->n_workers, err, sizeof(err));
	if (s == NULL)
		return ctl_fail(e, errno ? errno : EINVAL, NULL, "%s; nothing was created", err);
	if (mirror_install(sw, s, e) != 0) {
		hv_mirror_session_free(s);
		return NULL;
	}
	return mirror_json(sw, mirror_index(sw, conf.name));
}

static json_t *
h_mirror_del(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const char *name = ctl_arg_str(args, "name", true, e);
	json_t *last;
	int i;

	if (name == NULL)
		return NULL;
	i = mirror_index(sw, name);
	if (i < 0)
		return ctl_fail(e, ENOENT, "hvnetctl mirror list shows the mirrors",
				"mirror '%s' does not exist", name);
	last = mirror_json(sw, i);
	if (mirror_remove(sw, i) != 0) {
		json_decref(last);
		return ctl_fail(e, ENOMEM, NULL, "out of memory removing mirror '%s'", name);
	}
	return last;
}

/*
 * capture.start {target, filter?, count?, snaplen?} with the output
 * descriptor passed alongside (SCM_RIGHTS): a temporary session writing
 * classic pcap, owned by this client.
 */
static json_t *
h_capture_start(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const char *target = ctl_arg_str(args, "target", true, e);
	const char *filter = target ? ctl_arg_str(args, "filter", false, e) : NULL;
	struct hv_mirror_conf conf;
	struct hv_mirror_session *s;
	uint32_t count = 0, snaplen = 0;
	char err[512];
	int fd = ctl_take_fd(c);
	static unsigned seq;

	if (target == NULL || e->err || ctl_arg_u32(args, "count", &count, e) != 0 ||
	    ctl_arg_u32(args, "snaplen", &snaplen, e) != 0)
		goto fail;
	if (fd < 0) {
		ctl_fail(e, EINVAL, "hvnetctl capture passes it",
			 "capture needs the output descriptor passed with the request");
		goto fail;
	}
	memset(&conf, 0, sizeof(conf));
	conf.owner = ctl_client_id(c);
	snprintf(conf.name, sizeof(conf.name), "capture-%u", ++seq);
	if (hv_port_find(sw, target) != NULL) {
		snprintf(conf.ports[0], sizeof(conf.ports[0]), "%s", target);
		conf.n_ports = 1;
	} else if (hv_segment_find(sw, target) != NULL) {
		snprintf(conf.segments[0], sizeof(conf.segments[0]), "%s", target);
		conf.n_segments = 1;
	} else {
		ctl_fail(e, ENOENT, "hvnetctl port list and segment list show them",
			 "no port or segment named '%s'", target);
		goto fail;
	}
	/* like tcpdump on an interface: what the port sends and what it is sent, once each */
	conf.delivered = true;
	conf.dir = HV_MIRROR_BOTH;
	conf.count = count;
	conf.snaplen = snaplen;
	if (filter != NULL && strlen(filter) >= sizeof(conf.filter)) {
		ctl_fail(e, EINVAL, NULL, "filter longer than %zu bytes", sizeof(conf.filter) - 1);
		goto fail;
	}
	if (filter != NULL)
		strcpy(conf.filter, filter);
	conf.n_dests = 1;
	conf.dests[0].kind = HV_MIRROR_TO_FD;
	conf.dests[0].fd = fd;
	fd = -1; /* the session owns it from here, also when creation fails */
	s = hv_mirror_session_create(&conf, sw->n_workers, err, sizeof(err));
	if (s == NULL)
		return ctl_fail(e, errno ? errno : EINVAL, NULL, "%s", err);
	if (mirror_install(sw, s, e) != 0) {
		hv_mirror_session_free(s);
		return NULL;
	}
	return json_pack("{s:s, s:s}", "session", conf.name, "target", target);
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* capture.status {session}: counters; a finished capture is removed and reported done. */
static json_t *
h_capture_status(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const char *name = ctl_arg_str(args, "session", true, e);
	json_t *r;
	int i, err = 0;
	bool done;

	if (name == NULL)
		return NULL;
	i = mirror_index(sw, name);
	if (i < 0 || hv_mirror_session_conf(sw->mirrors[i])->owner != ctl_client_id(c))
		return ctl_fail(e, ENOENT, NULL, "no capture '%s' of this connection", name);
	done = hv_mirror_session_done(sw->mirrors[i], &err);
	r = mirror_json(sw, i);
	if (done && mirror_remove(sw, i) != 0) {
		json_decref(r);
		return ctl_fail(e, ENOMEM, NULL, "out of memory ending capture '%s'", name);
	}
	return r;
}

void
hv_mirror_client_gone(struct hv_switch *sw, int client)
{
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		if (sw->mirrors[i] != NULL &&
		    hv_mirror_session_conf(sw->mirrors[i])->owner == client &&
		    mirror_remove(sw, (int)i) != 0)
			HV_ERR("capture of a closed connection: out of memory removing it");
}

/* ---- mirrors of a policy file ---- */

/* The overlay block gives what a VXLAN copy needs: an IPv4 source and a port. */
static bool
prog_overlay_v4(const struct hv_prog *prog)
{
	return prog->overlay.present && prog->overlay.has_local &&
	       prog->overlay.local.family == 4 && prog->overlay.dev != NULL;
}

static int
conf_from_lang(const struct hv_prog *prog, const struct hv_mirror *m, const char *policy_path,
	       struct hv_mirror_conf *c, json_t *warnings, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->owner = -1;
	c->from_policy = true;
	snprintf(c->name, sizeof(c->name), "%s", m->name);
	if (strlen(m->name) >= sizeof(c->name) || m->segments.n > HV_MIRROR_MAX_SEL ||
	    m->ports.n > HV_MIRROR_MAX_SEL) {
		snprintf(
			err, errlen,
			"%s:%u: mirror '%s': name of at most %d bytes, at most %d segments and ports",
			policy_path, m->loc.line, m->name, HV_MIRROR_NAME_MAX - 1,
			HV_MIRROR_MAX_SEL);
		return -EINVAL;
	}
	for (size_t i = 0; i < m->segments.n; i++)
		snprintf(c->segments[i], HV_MIRROR_NAME_MAX, "%s", m->segments.v[i].name);
	for (size_t i = 0; i < m->ports.n; i++)
		snprintf(c->ports[i], HV_MIRROR_NAME_MAX, "%s", m->ports.v[i].name);
	c->n_segments = (unsigned)m->segments.n;
	c->n_ports = (unsigned)m->ports.n;
	c->dir = m->dir == HV_DIR_INGRESS  ? HV_MIRROR_INGRESS
		 : m->dir == HV_DIR_EGRESS ? HV_MIRROR_EGRESS
					   : HV_MIRROR_BOTH;
	c->verdict = m->verdict == HV_VERDICT_ALLOWED	? HV_MIRROR_V_ALLOWED
		     : m->verdict == HV_VERDICT_BLOCKED ? HV_MIRROR_V_BLOCKED
							: HV_MIRROR_V_ANY;
	c->delivered = m->tap_delivered;
	if (m->filter != NULL)
		snprintf(c->filter, sizeof(c->filter), "%s", m->filter);
	c->snaplen = m->snaplen;
	c->sample = m->sample;
	for (size_t d = 0; d < m->dests.n; d++) {
		const struct hv_mirror_dest *md = &m->dests.v[d];
		struct hv_mirror_dest_conf *dc = &c->dests[c->n_dests];

		if (md->kind == HV_DEST_REMOTE &&
		    (md->remote.family != 4 || !prog_overlay_v4(prog))) {
			char w[320];

			snprintf(
				w, sizeof(w),
				"%s:%u: mirror '%s': a remote collector must be IPv4, and needs an overlay block giving 'local' (IPv4) and 'dev'; this destination is left out",
				policy_path, md->loc.line, m->name);
			json_array_append_new(warnings, json_string(w));
			continue;
		}
		if (c->n_dests == HV_MIRROR_MAX_DESTS) {
			snprintf(err, errlen, "%s:%u: mirror '%s': at most %d destinations",
				 policy_path, md->loc.line, m->name, HV_MIRROR_MAX_DESTS);
			return -EINVAL;
		}
		memset(dc, 0, sizeof(*dc));
		dc->fd = -1;
		if (md->kind == HV_DEST_REMOTE) {
			dc->kind = md->erspan ? HV_MIRROR_TO_ERSPAN : HV_MIRROR_TO_VXLAN;
			memcpy(dc->remote, md->remote.a, 4);
			memcpy(dc->source, prog->overlay.local.a, 4);
			memset(dc->mac, 0xff, 6);
			dc->vni = md->remote_id;
			snprintf(dc->port, sizeof(dc->port), "%s", prog->overlay.dev);
		} else if (md->kind == HV_DEST_PCAP) {
			dc->kind = HV_MIRROR_TO_PCAPNG;
			ctl_path_near(dc->path, sizeof(dc->path), policy_path, md->path);
			dc->rotate_size = md->rotate_size;
			dc->rotate_secs = md->rotate_secs;
			dc->keep = md->keep;
		} else {
			dc->kind = HV_MIRROR_TO_PORT;
			snprintf(dc->port, sizeof(dc->port), "%s", md->port);
			dc->vlan_tag = md->vlan_tag;
		}
		c->n_dests++;
	}
	return 0;
}

int
hv_mirror_plan_prepare(struct hv_switch *sw, const struct hv_prog *prog, const char *path,
		       struct hv_mirror_plan *plan, json_t *warnings, struct reply_err *e)
{
	unsigned runtime = 0;
	char err[512];

	memset(plan, 0, sizeof(*plan));
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		if (sw->mirrors[i] != NULL && !hv_mirror_session_conf(sw->mirrors[i])->from_policy)
			runtime++;
	for (size_t k = 0; prog != NULL && k < prog->mirrors.n; k++) {
		const struct hv_mirror *m = &prog->mirrors.v[k];
		struct hv_mirror_conf conf;
		int j;

		if (conf_from_lang(prog, m, path, &conf, warnings, err, sizeof(err)) != 0) {
			ctl_fail(e, EINVAL, NULL, "%s; the policy in force is unchanged", err);
			goto fail;
		}
		if (conf.n_dests == 0)
			continue; /* remote destinations only: warned above */
		j = mirror_index(sw, conf.name);
		if (j >= 0 && !hv_mirror_session_conf(sw->mirrors[j])->from_policy) {
			ctl_fail(
				e, EEXIST, "hvnetctl mirror del NAME, or rename one",
				"%s:%u: mirror '%s' exists already (added with mirror add); the policy in force is unchanged",
				path, m->loc.line, conf.name);
			goto fail;
		}
		if (runtime + plan->n == HV_MIRROR_MAX_SESSIONS) {
			ctl_fail(
				e, ENOSPC, NULL,
				"%s: more than %d mirror sessions; the policy in force is unchanged",
				path, HV_MIRROR_MAX_SESSIONS);
			goto fail;
		}
		/*
		 * The same session as the policy in force has: keep it, files and
		 * counters, rather than start it again (which would truncate its files).
		 */
		if (j >= 0 &&
		    memcmp(&conf, hv_mirror_session_conf(sw->mirrors[j]), sizeof(conf)) == 0) {
			plan->reused[plan->n] = true;
			plan->next[plan->n++] = sw->mirrors[j];
			continue;
		}
		plan->next[plan->n] =
			hv_mirror_session_create(&conf, sw->n_workers, err, sizeof(err));
		if (plan->next[plan->n] == NULL) {
			ctl_fail(e, errno ? errno : EINVAL, NULL,
				 "%s:%u: %s; the policy in force is unchanged", path, m->loc.line,
				 err);
			goto fail;
		}
		plan->n++;
	}
	return 0;
fail:
	hv_mirror_plan_discard(plan);
	return -1;
}

void
hv_mirror_plan_discard(struct hv_mirror_plan *plan)
{
	while (plan->n > 0) {
		plan->n--;
		if (!plan->reused[plan->n])
			hv_mirror_session_free(plan->next[plan->n]);
	}
}

static bool
plan_has(const struct hv_mirror_plan *plan, const struct hv_mirror_session *s)
{
	for (unsigned k = 0; k < plan->n; k++)
		if (plan->next[k] == s)
			return true;
	return false;
}

void
hv_mirror_plan_swap(struct hv_switch *sw, struct hv_mirror_plan *plan)
{
	unsigned k = 0;

	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++) {
		plan->old[i] = NULL;
		if (sw->mirrors[i] != NULL && hv_mirror_session_conf(sw->mirrors[i])->from_policy &&
		    !plan_has(plan, sw->mirrors[i])) {
			plan->old[i] = sw->mirrors[i];
			sw->mirrors[i] = NULL;
		}
	}
	/* new sessions into free slots, the replaced sessions' slots last */
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++) {
			while (k < plan->n && plan->reused[k])
				k++;
			if (k == plan->n)
				return;
			if (sw->mirrors[i] == NULL && (pass == 1 || plan->old[i] == NULL))
				sw->mirrors[i] = plan->next[k++];
		}
}

void
hv_mirror_plan_unswap(struct hv_switch *sw, struct hv_mirror_plan *plan)
{
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		for (unsigned k = 0; k < plan->n; k++)
			if (sw->mirrors[i] == plan->next[k] && !plan->reused[k])
				sw->mirrors[i] = NULL;
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++)
		if (plan->old[i] != NULL)
			sw->mirrors[i] = plan->old[i];
}

void
hv_mirror_plan_finish(struct hv_mirror_plan *plan)
{
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++) {
		hv_mirror_session_free(plan->old[i]);
		plan->old[i] = NULL;
	}
}

const struct hv_ctl_handler hv_mirror_handlers[] = {
	{"mirror.list", h_mirror_list},	    {"mirror.show", h_mirror_show},
	{"mirror.add", h_mirror_add},	    {"mirror.del", h_mirror_del},
	{"capture.start", h_capture_start}, {"capture.status", h_capture_status},
};
const size_t hv_mirror_n_handlers = sizeof(hv_mirror_handlers) / sizeof(hv_mirror_handlers[0]);
