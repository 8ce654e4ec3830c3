/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control requests of the firewall: policy.apply / rollback / status /
 * trace, fw.show, ct.list / stats / flush. Control thread only. A policy is
 * read, checked and compiled completely before anything changes; the swap
 * itself is hv_switch_set_policy() (one pointer store and a grace period).
 * Connection tables are read through entry snapshots and flushed through
 * each worker's mailbox, never written from here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>

#include "firewall/lang/lang.h"
#include "vswitch/control.h"

static const char *const action_names[] = {"allow", "block", "reject"};

static const char *
action_name(uint8_t a)
{
	return a < 3 ? action_names[a] : "?";
}

/* The diagnostics of D as text (for an error message) and as a JSON array. */
static char *
diags_text(const struct hv_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	hv_diags_print(f, d);
	fclose(f);
	return buf;
}

static json_t *
diags_json(const struct hv_diags *d, enum hv_diag_sev sev)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct hv_diag *g = &d->v[i];

		if (g->sev != sev)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:s}", "file",
						   g->loc.src ? hv_src_path(g->loc.src) : "",
						   "line", (int)g->loc.line, "column",
						   (int)g->loc.col, "message", g->msg));
	}
	return a;
}

/* Policy segment ids of every switch segment under FW. */
static void
seg_pol_of(const struct hv_switch *sw, const struct hv_fw *fw, uint16_t *seg_pol)
{
	for (unsigned s = 0; s < HV_MAX_SEGMENTS; s++)
		seg_pol[s] = hv_switch_policy_seg(sw, fw, (uint16_t)s);
}

/* Live connections that FW would refuse. */
static uint64_t
count_cut(struct hv_switch *sw, const struct hv_fw *fw)
{
	uint16_t seg_pol[HV_MAX_SEGMENTS];
	uint8_t port_pol[HV_MAX_PORTS] = {0};
	uint64_t cut = 0, now = rte_rdtsc();

	if (fw == NULL)
		return 0;
	seg_pol_of(sw, fw, seg_pol);
	for (unsigned i = 0; i < HV_MAX_PORTS; i++)
		if (sw->ports[i] != NULL)
			port_pol[i] = hv_fw_port_id(fw, sw->ports[i]->name);
	for (unsigned w = 0; w < sw->n_workers; w++) {
		const struct hv_ct *ct = sw->ct[w];

		for (uint32_t s = 0; s < ct->capacity; s++) {
			struct hv_ct_entry e;
			struct hv_fw_pkt k;
			const struct hv_fw_pkt *kp = &k;
			uint32_t rule;

			if (!__atomic_load_n(&ct->e[s].used, __ATOMIC_RELAXED) ||
			    !hv_ct_snapshot(ct, s, &e) || e.expire <= now)
				continue;
			hv_fw_pkt_of_entry(seg_pol, port_pol, &e, &k);
			hv_fw_classify(fw, &kp, 1, &rule);
			if (fw->rules[rule].action != HV_FW_ALLOW)
				cut++;
		}
	}
	return cut;
}

/* Whether rule I of A and rule J of B match the same packets the same way. */
static bool
rule_same(const struct hv_fw *a, uint32_t i, const struct hv_fw *b, uint32_t j)
{
	const struct hv_ir_rule_info *ri = &a->ir->rules[i], *rj = &b->ir->rules[j];

	if (a->rules[i].action != b->rules[j].action || a->rules[i].log != b->rules[j].log ||
	    ri->count != rj->count)
		return false;
	for (size_t k = 0; k < ri->count; k++) {
		struct hv_ir_rule x = a->ir->entries[ri->first + k];
		struct hv_ir_rule y = b->ir->entries[rj->first + k];

		/* port ids are each policy's own: compare the names */
		if ((x.in_port == 0) != (y.in_port == 0) ||
		    (x.in_port != 0 &&
		     strcmp(a->ir->ports[x.in_port - 1], b->ir->ports[y.in_port - 1]) != 0))
			return false;
		x.rule = y.rule = 0;
		x.in_port = y.in_port = 0;
		if (memcmp(&x, &y, sizeof(x)) != 0)
			return false;
	}
	return true;
}

/* Rule ids of a policy, sorted, for lookups by id. */
struct id_index {
	const struct hv_fw *fw;
	uint32_t *order; /* rule indexes sorted by id */
};

static const struct hv_fw *sort_fw;

static int
by_id(const void *a, const void *b)
{
	return strcmp(sort_fw->rules[*(const uint32_t *)a].id,
		      sort_fw->rules[*(const uint32_t *)b].id);
}

static int
index_build(struct id_index *x, const struct hv_fw *fw)
{
	x->fw = fw;
	x->order = malloc(sizeof(uint32_t) * (fw->n_rules + 1));
	if (x->order == NULL)
		return -1;
	for (uint32_t i = 0; i < fw->n_rules; i++)
		x->order[i] = i;
	sort_fw = fw; /* control thread only */
	qsort(x->order, fw->n_rules, sizeof(uint32_t), by_id);
	return 0;
}

static int32_t
rule_find(const struct id_index *x, const char *id)
{
	size_t lo = 0, hi = x->fw->n_rules;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(x->fw->rules[x->order[mid]].id, id);

		if (c == 0)
			return (int32_t)x->order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Rules added, removed and changed from OLD to NEW, by id; n log n. */
static json_t *
policy_diff(const struct hv_fw *old, const struct hv_fw *new)
{
	json_t *added = json_array(), *removed = json_array(), *changed = json_array();
	struct id_index xo = {0}, xn = {0};

	if ((old && index_build(&xo, old) != 0) || index_build(&xn, new) != 0) {
		free(xo.order);
		json_decref(added);
		json_decref(removed);
		json_decref(changed);
		return NULL;
	}
	for (uint32_t i = 0; i < new->n_rules; i++) {
		int32_t j = old ? rule_find(&xo, new->rules[i].id) : -1;

		if (j < 0)
			json_array_append_new(added, json_string(new->rules[i].id));
		else if (!rule_same(new, i, old, (uint32_t)j) ||
			 new->rules[i].log_rate != old->rules[j].log_rate ||
			 new->rules[i].log_burst != old->rules[j].log_burst)
			json_array_append_new(changed, json_string(new->rules[i].id));
	}
	for (uint32_t i = 0; old && i < old->n_rules; i++)
		if (rule_find(&xn, old->rules[i].id) < 0)
			json_array_append_new(removed, json_string(old->rules[i].id));
	if (old && (old->rules[old->n_rules].action != new->rules[new->n_rules].action ||
		    old->rules[old->n_rules].log != new->rules[new->n_rules].log))
		json_array_append_new(changed, json_string("default"));
	free(xo.order);
	free(xn.order);
	return json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "changed", changed);
}

void
ctl_path_near(char *out, size_t len, const char *policy_path, const char *path)
{
	const char *slash = strrchr(policy_path, '/');

	if (path[0] == '/' || slash == NULL)
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - policy_path), policy_path, path);
}

static int
open_log(struct hv_switch *sw, struct hv_fw *fw, const char *policy_path,
	 const struct hv_policy *pol, struct reply_err *e)
{
	char json[512], pcapng[512], err[512];
	struct hv_fwlog_conf lc = {.json_path = json, .n_producers = sw->n_workers};

	ctl_path_near(json, sizeof(json), policy_path, pol->log_file);
	if (pol->log_pcapng != NULL) {
		ctl_path_near(pcapng, sizeof(pcapng), policy_path, pol->log_pcapng);
		lc.pcapng_path = pcapng;
	}
	fw->log = hv_fwlog_open(&lc, err, sizeof(err));
	if (fw->log == NULL) {
		ctl_fail(e, errno ? errno : EINVAL, NULL,
			 "%s: log-file: %s; the policy in force is unchanged", policy_path, err);
		return -1;
	}
	return 0;
}

json_t *
hv_fw_apply_file(struct hv_switch *sw, const char *path, struct reply_err *e)
{
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir = NULL;
	struct hv_fw *fw;
	char err[512];
	json_t *diff, *warnings, *mir_warnings;
	static struct hv_mirror_plan plan; /* control thread only */
	uint64_t cut;

	prog = hv_lang_parse_file(path, &d);
	if (prog == NULL) {
		hv_diags_free(&d);
		return ctl_fail(e, ENOMEM, NULL, "out of memory reading %s", path);
	}
	if (d.n_errors == 0)
		ir = hv_lang_check(prog, &d);
	if (ir == NULL) {
		char *t = diags_text(&d);

		ctl_fail(e, EINVAL, "nothing changed; `hvnetctl policy check FILE` shows the same",
			 "%s: %zu error(s); the policy in force is unchanged\n%s", path, d.n_errors,
			 t ? t : "");
		free(t);
		hv_diags_free(&d);
		hv_prog_free(prog);
		return NULL;
	}
	hv_lang_lint(ir, &d);
	fw = hv_fw_build(prog, ir, sw->n_workers, "pol", err, sizeof(err));
	if (fw == NULL) {
		hv_ir_free(ir);
		hv_prog_free(prog);
		hv_diags_free(&d);
		return ctl_fail(e, ENOMEM, NULL, "%s: %s; the policy in force is unchanged", path,
				err);
	}
	fw->epoch = sw->fw_epoch + 1;
	snprintf(fw->path, sizeof(fw->path), "%s", path);
	if (ir->policy != NULL && ir->policy->log_pcapng != NULL && ir->policy->log_file == NULL) {
		hv_fw_free(fw);
		hv_diags_free(&d);
		return ctl_fail(e, EINVAL, "add log-file \"PATH\" to the policy block",
				"%s: log-pcapng needs a log-file beside it; the policy in force is "
				"unchanged",
				path);
	}
	if (ir->policy != NULL && ir->policy->log_file != NULL &&
	    open_log(sw, fw, path, ir->policy, e) != 0) {
		hv_fw_free(fw);
		hv_diags_free(&d);
		return NULL;
	}
	/* an overlay that cannot work here refuses the whole file */
	if (hv_switch_overlay_check(sw, fw, err, sizeof(err)) != 0) {
		hv_fw_free(fw);
		hv_diags_free(&d);
		return ctl_fail(e, EINVAL, "fix the overlay block; docs/overlay.md",
				"%s; the policy in force is unchanged", err);
	}
	diff = policy_diff(sw->fw, fw);
	if (diff == NULL) {
		hv_fw_free(fw);
		hv_diags_free(&d);
		return ctl_fail(e, ENOMEM, NULL, "out of memory; the policy in force is unchanged");
	}
	{
		/* what the gateways cannot take fails here, with its reason */
		char gerr[256];
		struct hv_gw *probe = hv_gw_build(sw, fw, ++sw->gw_seq, gerr, sizeof(gerr));

		if (probe == NULL) {
			json_decref(diff);
			hv_fw_free(fw);
			hv_diags_free(&d);
			return ctl_fail(e, EINVAL, "see docs/routing.md",
					"%s: %s; the policy in force is unchanged", path, gerr);
		}
		hv_gw_free(probe);
	}
	/* the file's mirror sessions: created (files open) before anything changes */
	mir_warnings = json_array();
	if (hv_mirror_plan_prepare(sw, prog, path, &plan, mir_warnings, e) != 0) {
		json_decref(mir_warnings);
		json_decref(diff);
		hv_fw_free(fw);
		hv_diags_free(&d);
		return NULL;
	}
	cut = count_cut(sw, fw);
	hv_mirror_plan_swap(sw, &plan);
	if (hv_switch_set_policy(sw, fw) != 0) {
		hv_mirror_plan_unswap(sw, &plan);
		hv_mirror_plan_discard(&plan);
		json_decref(mir_warnings);
		json_decref(diff);
		hv_fw_free(fw);
		hv_diags_free(&d);
		return ctl_fail(e, ENOMEM, NULL, "out of memory publishing the policy; unchanged");
	}
	/* the publish waited for every worker: the replaced sessions are unused */
	hv_mirror_plan_finish(&plan);
	hv_mirror_dest_macs_flush(sw);
	sw->fw_epoch++;
	warnings = diags_json(&d, HV_DIAG_WARNING);
	hv_diags_free(&d);
	hv_switch_overlay_warn(sw, warnings);
	json_object_set_new(diff, "epoch", json_integer((json_int_t)fw->epoch));
	json_object_set_new(diff, "path", json_string(path));
	json_object_set_new(diff, "rules", json_integer(fw->n_rules));
	json_object_set_new(diff, "entries", json_integer(fw->n_entries));
	json_object_set_new(diff, "connections_cut", json_integer((json_int_t)cut));
	json_object_set_new(diff, "warnings", warnings);
	json_object_set_new(diff, "mirrors", json_integer(plan.n));
	json_object_set_new(diff, "mirror_warnings", mir_warnings);
	return diff;
}

static json_t *
h_policy_apply(struct hv_control *c, json_t *args, struct reply_err *e)
{
	const char *path = ctl_arg_str(args, "path", true, e);

	if (path == NULL)
		return NULL;
	return hv_fw_apply_file(ctl_switch(c), path, e);
}

static json_t *
h_policy_rollback(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	struct hv_fw *prev = sw->fw_prev;
	json_t *diff;
	uint64_t cut;

	(void)args;
	if (prev == NULL)
		return ctl_fail(e, ENOENT, "rollback restores the policy before the last apply",
				"there is no previous policy");
	diff = policy_diff(sw->fw, prev);
	if (diff == NULL)
		return ctl_fail(e, ENOMEM, NULL, "out of memory; unchanged");
	cut = count_cut(sw, prev);
	prev->epoch = sw->fw_epoch + 1; /* not published now: safe to write */
	if (hv_switch_set_policy(sw, prev) != 0) {
		json_decref(diff);
		return ctl_fail(e, ENOMEM, NULL, "out of memory; unchanged");
	}
	sw->fw_epoch++;
	json_object_set_new(diff, "epoch", json_integer((json_int_t)prev->epoch));
	json_object_set_new(diff, "path", json_string(prev->path));
	json_object_set_new(diff, "rules", json_integer(prev->n_rules));
	json_object_set_new(diff, "entries", json_integer(prev->n_entries));
	json_object_set_new(diff, "connections_cut", json_integer((json_int_t)cut));
	json_object_set_new(diff, "warnings", json_array());
	return diff;
}

/* No policy: every packet passes again; the one removed is kept for rollback. */
static json_t *
h_policy_clear(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	json_t *res;

	(void)args;
	if (sw->fw == NULL)
		return ctl_fail(e, ENOENT, NULL, "no policy in force");
	res = json_pack("{s:s, s:I}", "removed", sw->fw->path, "epoch", (json_int_t)sw->fw->epoch);
	if (hv_switch_set_policy(sw, NULL) != 0) {
		json_decref(res);
		return ctl_fail(e, ENOMEM, NULL, "out of memory; unchanged");
	}
	return res;
}

static json_t *
policy_brief(const struct hv_fw *fw)
{
	if (fw == NULL)
		return json_null();
	return json_pack("{s:s, s:I, s:i, s:i, s:i, s:i, s:s, s:b}", "path", fw->path, "epoch",
			 (json_int_t)fw->epoch, "rules", (int)fw->n_rules, "entries",
			 (int)fw->n_entries, "entries_ipv4", (int)fw->n_entries4, "entries_ipv6",
			 (int)fw->n_entries6, "default", action_name(fw->rules[fw->n_rules].action),
			 "default_log", fw->rules[fw->n_rules].log);
}

static json_t *
h_policy_status(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);

	(void)args;
	(void)e;
	return json_pack("{s:o, s:o}", "current", policy_brief(sw->fw), "previous",
			 policy_brief(sw->fw_prev));
}

static json_t *
h_fw_show(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const struct hv_fw *fw = sw->fw;
	json_t *rules, *res;

	(void)args;
	if (fw == NULL)
		return ctl_fail(e, ENOENT, "hvnetctl policy apply FILE puts one in force",
				"no policy in force: every packet passes");
	rules = json_array();
	for (uint32_t i = 0; i <= fw->n_rules; i++) {
		struct hv_fw_counter cnt;
		const struct hv_fw_rule *r = &fw->rules[i];

		hv_fw_rule_counters(fw, i, &cnt);
		json_array_append_new(
			rules,
			json_pack("{s:s, s:s, s:b, s:i, s:I, s:I}", "id", r->id, "action",
				  action_name(r->action), "log", r->log, "entries",
				  i < fw->n_rules ? (int)fw->ir->rules[i].count : 0, "packets",
				  (json_int_t)cnt.packets, "bytes", (json_int_t)cnt.bytes));
	}
	res = json_pack("{s:o, s:o}", "policy", policy_brief(fw), "rules", rules);
	if (fw->log != NULL) {
		struct hv_fwlog_stats ls;

		hv_fwlog_stats(fw->log, &ls);
		json_object_set_new(res, "log",
				    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "submitted",
					      (json_int_t)ls.submitted, "dropped_full",
					      (json_int_t)ls.dropped_full, "rate_limited",
					      (json_int_t)ls.rate_limited, "written",
					      (json_int_t)ls.written, "pcap_written",
					      (json_int_t)ls.pcap_written, "write_errors",
					      (json_int_t)ls.write_errors));
	}
	return res;
}

/* ---- connections ---- */

static int
parse_filter(struct hv_switch *sw, json_t *args, struct hv_ct_filter *f, struct reply_err *e)
{
	const char *s;

	memset(f, 0, sizeof(*f));
	f->seg = HV_CT_ANY_SEG;
	f->port = HV_CT_ANY_PORT;
	if ((s = ctl_arg_str(args, "segment", false, e)) != NULL) {
		const struct hv_sw_segment *g = hv_segment_find(sw, s);

		if (g == NULL)
			return ctl_fail(e, ENOENT, NULL, "no segment '%s'", s), -1;
		f->seg = g->id;
	}
	if ((s = ctl_arg_str(args, "port", false, e)) != NULL) {
		const struct hv_port *p = hv_port_find(sw, s);

		if (p == NULL)
			return ctl_fail(e, ENOENT, NULL, "no port '%s'", s), -1;
		f->port = p->id;
	}
	if ((s = ctl_arg_str(args, "proto", false, e)) != NULL) {
		static const struct {
			const char *n;
			uint8_t v;
		} names[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}};
		char *end;
		unsigned long v;

		f->proto = 0;
		for (size_t i = 0; i < 4; i++)
			if (strcmp(s, names[i].n) == 0)
				f->proto = names[i].v;
		if (f->proto == 0) {
			v = strtoul(s, &end, 10);
			if (*s == '\0' || *end || v == 0 || v > 255)
				return ctl_fail(
					       e, EINVAL, NULL,
					       "proto '%s': expected tcp, udp, icmp, icmpv6 or 1-255",
					       s),
				       -1;
			f->proto = (uint8_t)v;
		}
	}
	if ((s = ctl_arg_str(args, "host", false, e)) != NULL) {
		if (inet_pton(AF_INET, s, f->host.addr) == 1)
			f->family = 4;
		else if (inet_pton(AF_INET6, s, f->host.addr) == 1)
			f->family = 6;
		else
			return ctl_fail(e, EINVAL, NULL, "host '%s' is not an address", s), -1;
		f->has_host = true;
	}
	return e->err ? -1 : 0;
}

static const char *
seg_name(struct hv_switch *sw, uint16_t id)
{
	return id < HV_MAX_SEGMENTS && sw->segments[id] ? sw->segments[id]->name : "?";
}

static json_t *
entry_json(struct hv_switch *sw, unsigned worker, const struct hv_ct_entry *x, uint64_t now)
{
	const struct hv_ct_end *o = (x->flags & HV_CT_F_ORIG_B) ? &x->key.b : &x->key.a;
	const struct hv_ct_end *r = (x->flags & HV_CT_F_ORIG_B) ? &x->key.a : &x->key.b;
	int af = x->key.family == 4 ? AF_INET : AF_INET6;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	const char *rule = "?";
	const struct hv_fw *fw = sw->fw;
	const struct hv_port *p = x->in_port < HV_MAX_PORTS ? sw->ports[x->in_port] : NULL;
	double hz = (double)rte_get_tsc_hz();
	json_t *j;

	inet_ntop(af, o->addr, src, sizeof(src));
	inet_ntop(af, r->addr, dst, sizeof(dst));
	if (fw != NULL && x->epoch == (uint32_t)fw->epoch && x->rule <= fw->n_rules)
		rule = fw->rules[x->rule].id;
	else if (fw != NULL)
		rule = "(an earlier policy; re-checked on the next packet)";
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:I}",
		      "worker", (int)worker, "proto", hv_proto_name(x->key.proto) ?: "?", "src",
		      src, "dst", dst, "src_segment", seg_name(sw, o->seg), "dst_segment",
		      seg_name(sw, r->seg), "state", hv_ct_state_name(x->state), "ct_state",
		      (x->flags & HV_CT_F_REPLIED) ? "established" : "new", "rule", rule, "age_s",
		      (double)(now - x->created) / hz, "expires_in_s",
		      x->expire > now ? (double)(x->expire - now) / hz : 0.0, "packets_orig",
		      (json_int_t)x->packets[0], "bytes_orig", (json_int_t)x->bytes[0],
		      "packets_reply", (json_int_t)x->packets[1], "bytes_reply",
		      (json_int_t)x->bytes[1]);
	json_object_set_new(j, "proto_number", json_integer(x->key.proto));
	json_object_set_new(j, "port", json_string(p ? p->name : "?"));
	if (x->key.proto == 6 || x->key.proto == 17) {
		json_object_set_new(j, "sport", json_integer(o->port));
		json_object_set_new(j, "dport", json_integer(r->port));
	} else if (x->key.proto == 1 || x->key.proto == 58) {
		json_object_set_new(j, "id", json_integer(o->port));
	}
	return j;
}

static json_t *
h_ct_list(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	struct hv_ct_filter f;
	uint32_t limit = 1000, n = 0, total = 0;
	uint64_t now = rte_rdtsc();
	json_t *list;

	if (parse_filter(sw, args, &f, e) != 0 || ctl_arg_u32(args, "limit", &limit, e) != 0)
		return NULL;
	list = json_array();
	for (unsigned w = 0; w < sw->n_workers; w++) {
		const struct hv_ct *ct = sw->ct[w];

		for (uint32_t s = 0; s < ct->capacity; s++) {
			struct hv_ct_entry x;

			if (!__atomic_load_n(&ct->e[s].used, __ATOMIC_RELAXED) ||
			    !hv_ct_snapshot(ct, s, &x) || !hv_ct_filter_match(&x, &f) ||
			    x.expire <= now)
				continue;
			total++;
			if (n < limit) {
				json_array_append_new(list, entry_json(sw, w, &x, now));
				n++;
			}
		}
	}
	return json_pack("{s:o, s:i, s:b}", "connections", list, "total", (int)total, "truncated",
			 total > n);
}

static json_t *
h_ct_stats(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	json_t *workers = json_array();
	struct hv_ct_stats sum = {0};
	uint64_t count = 0, capacity = 0, reserve = 0;
	json_t *to = json_object();

	(void)args;
	(void)e;
	for (unsigned w = 0; w < sw->n_workers; w++) {
		const struct hv_ct *ct = sw->ct[w];
		struct hv_ct_stats s;

#define RD(f) __atomic_load_n(&ct->stats.f, __ATOMIC_RELAXED)
		s.created = RD(created);
		s.deleted = RD(deleted);
		s.expired = RD(expired);
		s.early_drops = RD(early_drops);
		s.related = RD(related);
		s.policy_cut = RD(policy_cut);
		s.reopened = RD(reopened);
#undef RD
		json_array_append_new(
			workers,
			json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				  "worker", (int)w, "connections",
				  (int)__atomic_load_n(&ct->count, __ATOMIC_RELAXED), "capacity",
				  (int)ct->capacity, "mgmt_reserve", (int)ct->mgmt_reserve,
				  "created", (json_int_t)s.created, "deleted",
				  (json_int_t)s.deleted, "expired", (json_int_t)s.expired,
				  "early_drops", (json_int_t)s.early_drops, "related",
				  (json_int_t)s.related, "policy_cut", (json_int_t)s.policy_cut,
				  "reopened", (json_int_t)s.reopened));
		count += __atomic_load_n(&ct->count, __ATOMIC_RELAXED);
		capacity += ct->capacity;
		reserve += ct->mgmt_reserve;
		sum.created += s.created;
		sum.deleted += s.deleted;
		sum.expired += s.expired;
		sum.early_drops += s.early_drops;
		sum.related += s.related;
		sum.policy_cut += s.policy_cut;
		sum.reopened += s.reopened;
	}
	for (int i = 0; i < HV_CT_TO_MAX; i++)
		json_object_set_new(
			to, hv_ct_timeout_name((enum hv_ct_timeout)i),
			json_integer((json_int_t)(sw->ct[0]->to[i] / rte_get_tsc_hz())));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:o, s:o}",
			 "connections", (json_int_t)count, "capacity", (json_int_t)capacity,
			 "mgmt_reserve", (json_int_t)reserve, "created", (json_int_t)sum.created,
			 "deleted", (json_int_t)sum.deleted, "expired", (json_int_t)sum.expired,
			 "early_drops", (json_int_t)sum.early_drops, "related",
			 (json_int_t)sum.related, "policy_cut", (json_int_t)sum.policy_cut,
			 "reopened", (json_int_t)sum.reopened, "port_limit",
			 (int)sw->conf.port_conn_limit, "timeouts_s", to, "workers", workers);
}

static json_t *
h_ct_flush(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	struct hv_ct_filter f;
	uint64_t flushed = 0;

	if (parse_filter(sw, args, &f, e) != 0)
		return NULL;
	for (unsigned w = 0; w < sw->n_workers; w++) {
		struct hv_ct *ct = sw->ct[w];
		uint32_t req = ct->mbox.req + 1;
		struct timespec ts = {0, 200000};
		int waited = 0;

		ct->mbox.filter = f;
		__atomic_store_n(&ct->mbox.req, req, __ATOMIC_RELEASE);
		while (__atomic_load_n(&ct->mbox.done, __ATOMIC_ACQUIRE) != req) {
			if (++waited > 25000) /* 5 s */
				return ctl_fail(e, ETIMEDOUT, NULL,
						"worker %u did not answer the flush", w);
			nanosleep(&ts, NULL);
		}
		flushed += ct->mbox.flushed;
	}
	return json_pack("{s:I}", "flushed", (json_int_t)flushed);
}

/* ---- trace against the live policy and connections ---- */

static json_t *
h_policy_trace(struct hv_control *c, json_t *args, struct reply_err *e)
{
	struct hv_switch *sw = ctl_switch(c);
	const struct hv_fw *fw = sw->fw;
	const char *text = ctl_arg_str(args, "packet", true, e);
	struct hv_trace_pkt tp;
	struct hv_trace_result tr;
	struct hv_fw_pkt k = {0};
	const struct hv_fw_pkt *kp = &k;
	uint32_t rule;
	char err[256], *expl = NULL;
	size_t elen = 0;
	FILE *f;
	json_t *res, *conn = json_null();
	int ss = -1, ds = -1;

	if (text == NULL)
		return NULL;
	if (fw == NULL)
		return ctl_fail(e, ENOENT, "hvnetctl policy apply FILE puts one in force",
				"no policy in force: every packet passes");
	if (!hv_trace_parse(text, &tp, err, sizeof(err)))
		return ctl_fail(e, EINVAL, "e.g. 'tcp 10.30.0.11:40000 -> 10.20.0.21:5432'",
				"packet '%s': %s", text, err);
	hv_trace_run(fw->ir, &tp, &tr);
	/* the compiled classifier's answer for the same packet */
	k.family = tp.src.family;
	k.proto = tp.proto;
	k.src_seg = tr.src_seg_known ? tr.src_seg : HV_FW_SEG_UNNAMED;
	k.dst_seg = tr.dst_seg_known ? tr.dst_seg : HV_FW_SEG_UNNAMED;
	memcpy(k.src, tp.src.a, 16);
	memcpy(k.dst, tp.dst.a, 16);
	k.in_port = tp.in_port[0] ? hv_fw_port_id(fw, tp.in_port) : 0;
	if (tp.proto == 6 || tp.proto == 17) {
		k.sport = tp.sport;
		k.dport = tp.dport;
	} else if ((tp.proto == 1 || tp.proto == 58) && tp.icmp_type >= 0) {
		k.dport = (uint16_t)(tp.icmp_type << 8);
	}
	hv_fw_classify(fw, &kp, 1, &rule);
	f = open_memstream(&expl, &elen);
	if (f != NULL) {
		hv_trace_explain(f, fw->ir, &tp, &tr);
		fclose(f);
	}
	/* a tracked connection of this packet decides before the rules */
	if (tr.src_seg_known)
		ss = hv_switch_seg_of_policy(sw, fw, tr.src_seg);
	if (tr.dst_seg_known)
		ds = hv_switch_seg_of_policy(sw, fw, tr.dst_seg);
	if (ss >= 0 && ds >= 0) {
		uint64_t now = rte_rdtsc();
		struct hv_ct_pkt cp;
		struct hv_pkt_meta m;

		memset(&m, 0, sizeof(m));
		m.l3 = tp.src.family == 4 ? HV_L3_IPV4 : HV_L3_IPV6;
		m.l4_proto = tp.proto;
		m.flags = HV_PKT_F_L4;
		memcpy(m.src_ip, tp.src.a, 16);
		memcpy(m.dst_ip, tp.dst.a, 16);
		m.sport = tp.sport;
		m.dport = tp.dport;
		m.icmp_type = (uint8_t)(tp.icmp_type >= 0 ? tp.icmp_type : 0);
		if (tp.proto == 1 || tp.proto == 58)
			m.sport = m.dport = 0; /* echo identifier unknown: matches id 0 only */
		if (hv_ct_pkt_build(&m, NULL, 0, (uint16_t)ss, (uint16_t)ds, &cp) == HV_DROP_NONE &&
		    cp.kind != HV_CT_K_NONE && cp.kind != HV_CT_K_ICMP_ERROR) {
			for (unsigned w = 0; w < sw->n_workers && json_is_null(conn); w++) {
				const struct hv_ct *ct = sw->ct[w];

				for (uint32_t s = 0; s < ct->capacity; s++) {
					struct hv_ct_entry x;

					if (!__atomic_load_n(&ct->e[s].used, __ATOMIC_RELAXED) ||
					    !hv_ct_snapshot(ct, s, &x) ||
					    memcmp(&x.key, &cp.key, sizeof(x.key)) != 0 ||
					    x.expire <= now)
						continue;
					conn = entry_json(sw, w, &x, now);
					break;
				}
			}
		}
	}
	res = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:s}", "packet", text, "rule",
			fw->rules[rule].id, "action", action_name(fw->rules[rule].action), "log",
			fw->rules[rule].log, "ir_rule", tr.rule ? tr.rule->id : "default",
			"src_segment",
			tr.src_seg_known ? fw->prog->segments.v[tr.src_seg].name : "", "connection",
			conn, "explain", expl ? expl : "");
	json_object_set_new(res, "in_port", tp.in_port[0] ? json_string(tp.in_port) : json_null());
	json_object_set_new(res, "verdict",
			    json_string(!json_is_null(conn) ? "allow (established connection)"
							    : action_name(fw->rules[rule].action)));
	free(expl);
	return res;
}

const struct hv_ctl_handler hv_fw_handlers[] = {
	{"policy.apply", h_policy_apply},
	{"policy.rollback", h_policy_rollback},
	{"policy.status", h_policy_status},
	{"policy.trace", h_policy_trace},
	{"policy.clear", h_policy_clear},
	{"fw.show", h_fw_show},
	{"ct.list", h_ct_list},
	{"ct.stats", h_ct_stats},
	{"ct.flush", h_ct_flush},
};
const size_t hv_fw_n_handlers = sizeof(hv_fw_handlers) / sizeof(hv_fw_handlers[0]);
