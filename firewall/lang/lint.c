/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The linter: warnings for what can be proven from the IR, nothing more.
 *
 *  - a policy without a default;
 *  - a rule that can never match (its expansion is empty);
 *  - a rule shadowed by earlier rules: every one of its entries lies inside
 *    a single entry of some earlier rule. This is sound (a reported rule
 *    really never decides a packet) but not complete: a rule covered only
 *    by the union of several earlier entries is not reported.
 *  - a set or service that nothing uses;
 *  - a `port NAME` term in a file with guests, where NAME is no guest NIC's
 *    port (lab up names them GUEST-NIC; GUEST is known for a one-NIC guest);
 *    a file without guests takes its ports from the command line.
 *
 * The shadow check compares pairs of entries; it stops, with a note, after
 * HV_LINT_BUDGET comparisons so that a 100,000-rule file stays fast.
 */
#include <stdio.h>

#include "internal.h"

#ifndef HV_LINT_BUDGET
#define HV_LINT_BUDGET 50000000ull
#endif

static bool
side_covers(uint16_t as, const struct hv_prefix *ap, uint8_t af, uint16_t bs,
	    const struct hv_prefix *bp, uint8_t bf)
{
	if (as != HV_SEG_ANY && as != bs)
		return false;
	if (af == 0)
		return true; /* no address constraint at all */
	if (bf != af)
		return false;
	return ap->plen == 0 || (bp->plen >= ap->plen && hv_prefix_contains(ap, bp));
}

/* does entry A match every packet entry B matches? */
static bool
covers(const struct hv_ir_rule *a, const struct hv_ir_rule *b)
{
	if (!side_covers(a->src_seg, &a->src, a->family, b->src_seg, &b->src, b->family) ||
	    !side_covers(a->dst_seg, &a->dst, a->family, b->dst_seg, &b->dst, b->family))
		return false;
	if (a->in_port != 0 && a->in_port != b->in_port)
		return false;
	if (a->proto != HV_PROTO_ANY && a->proto != b->proto)
		return false;
	if (a->proto == HV_PROTO_ANY)
		return true;
	if (a->dport_lo > b->dport_lo || a->dport_hi < b->dport_hi)
		return false;
	return a->icmp_type < 0 || a->icmp_type == b->icmp_type;
}

static void
lint_shadow(const struct hv_ir *ir, struct hv_diags *d)
{
	uint64_t budget = HV_LINT_BUDGET;

	for (size_t i = 1; i < ir->n_rules; i++) {
		const struct hv_ir_rule_info *ri = &ir->rules[i];
		size_t by = SIZE_MAX; /* the one earlier rule covering all, if any */
		bool all = ri->count > 0, single = true;

		for (size_t k = 0; all && k < ri->count; k++) {
			const struct hv_ir_rule *b = &ir->entries[ri->first + k];
			bool found = false;
			for (size_t j = 0; j < ri->first && !found; j++) {
				if (budget-- == 0) {
					hv_diag_add(
						d, HV_DIAG_NOTE, ri->rule->loc, NULL,
						"shadowed-rule analysis stopped here after %llu comparisons",
						HV_LINT_BUDGET);
					return;
				}
				if (covers(&ir->entries[j], b)) {
					found = true;
					if (by == SIZE_MAX)
						by = ir->entries[j].rule;
					else if (by != ir->entries[j].rule)
						single = false;
				}
			}
			all = found;
		}
		if (!all)
			continue;
		const struct hv_rule *r = ri->rule;
		if (single) {
			const struct hv_rule *s = ir->rules[by].rule;
			char *hint = hv_asprintf(
				"rule %s (%s:%u:%u) matches all of its packets first", s->id,
				hv_src_path(s->loc.src), s->loc.line, s->loc.col);
			if (s->action == r->action)
				hv_diag_add(
					d, HV_DIAG_WARNING, r->loc, hint,
					"rule %s is redundant: an earlier rule already %ss its packets",
					r->id, hv_action_name(s->action));
			else
				hv_diag_add(
					d, HV_DIAG_WARNING, r->loc, hint,
					"rule %s is shadowed: an earlier rule %ss its packets, so it never does",
					r->id, hv_action_name(s->action));
			free(hint);
		} else {
			hv_diag_add(
				d, HV_DIAG_WARNING, r->loc,
				"each of its entries is matched first by an earlier rule",
				"rule %s is shadowed by earlier rules and never decides a packet",
				r->id);
		}
	}
}

static void
lint_unused(const struct hv_ir *ir, struct hv_diags *d)
{
	const struct hv_prog *g = ir->prog;

	for (size_t i = 0; i < g->sets.n; i++)
		if (!g->sets.v[i].used)
			hv_diag_add(d, HV_DIAG_WARNING, g->sets.v[i].loc,
				    "use it in a rule as @NAME, or remove it",
				    "set '%s' is never used", g->sets.v[i].name);
	for (size_t i = 0; i < g->services.n; i++)
		if (!g->services.v[i].used)
			hv_diag_add(d, HV_DIAG_WARNING, g->services.v[i].loc,
				    "use it in a rule as 'service NAME', or remove it",
				    "service '%s' is never used", g->services.v[i].name);
}

/*
 * A `port` term that names no guest NIC's port. `hvnetctl lab up` names the
 * port of NIC N of guest G "G-N"; hvnetd also gives a one-NIC guest's NIC
 * file settings on a port named "G" (conn-limit, vswitch/switch.c), so both
 * are known names here.
 */
static void
lint_ports(const struct hv_ir *ir, struct hv_diags *d)
{
	const struct hv_prog *g = ir->prog;
	size_t n = 0, k = 0;
	char(*names)[2 * HV_PORT_NAME_MAX + 2];
	const char **cands;

	if (ir->policy == NULL || ir->n_ports == 0 || g->guests.n == 0)
		return;
	for (size_t i = 0; i < g->guests.n; i++)
		n += g->guests.v[i].nics.n + (g->guests.v[i].nics.n == 1);
	names = hv_xcalloc(n + 1, sizeof(*names));
	cands = hv_xcalloc(n + 1, sizeof(*cands));
	for (size_t i = 0; i < g->guests.n; i++) {
		const struct hv_guest *gu = &g->guests.v[i];
		for (size_t j = 0; j < gu->nics.n; j++, k++) {
			snprintf(names[k], sizeof(names[k]), "%s-%s", gu->name, gu->nics.v[j].name);
			cands[k] = names[k];
		}
		if (gu->nics.n == 1) {
			snprintf(names[k], sizeof(names[k]), "%s", gu->name);
			cands[k] = names[k];
			k++;
		}
	}
	for (size_t i = 0; i < ir->policy->rules.n; i++) {
		const struct hv_endpoint *e = &ir->policy->rules.v[i].from;
		for (size_t t = 0; t < e->terms.n; t++) {
			const struct hv_term *term = &e->terms.v[t];
			bool known = false;
			if (term->kind != HV_TERM_PORT)
				continue;
			for (size_t j = 0; j < k && !known; j++)
				known = strcmp(names[j], term->ref.name) == 0;
			if (known)
				continue;
			const char *near = hv_closest(term->ref.name, cands, k);
			char *hint =
				near ? hv_asprintf("did you mean '%s'?", near)
				     : hv_strdup(
					       "lab up names a guest NIC's port GUEST-NIC; a port from hvnetd's command line is fine");
			hv_diag_add(d, HV_DIAG_WARNING, term->ref.loc, hint,
				    "port '%s' is no guest NIC's port in this file",
				    term->ref.name);
			free(hint);
		}
	}
	free(names);
	free(cands);
}

void
hv_lang_lint(const struct hv_ir *ir, struct hv_diags *d)
{
	if (ir->policy != NULL && ir->dflt == NULL)
		hv_diag_add(
			d, HV_DIAG_WARNING, ir->policy->loc,
			"end the policy with 'default block log' to make it explicit and visible",
			"the policy has no default: packets no rule matches are blocked without a log");
	for (size_t i = 0; i < ir->n_rules; i++)
		if (ir->rules[i].count == 0 && ir->rules[i].never)
			hv_diag_add(d, HV_DIAG_WARNING, ir->rules[i].rule->loc, NULL,
				    "rule %s can never match: %s", ir->rules[i].rule->id,
				    ir->rules[i].never);
	lint_shadow(ir, d);
	lint_unused(ir, d);
	lint_ports(ir, d);
}
