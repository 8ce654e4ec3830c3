/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl policy check | show | trace: offline, no daemon needed. The same
 * library (firewall/lang) that hvnetd uses reads the files.
 *
 * Exit codes: 0 clean, 1 errors (or an unreadable file), 2 warnings only
 * with check --strict, and 2 for usage errors as elsewhere in hvnetctl
 * (the message on stderr tells the two apart).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/policy.h"
#include "firewall/lang/lang.h"

static const char policy_usage[] =
	"Usage: hvnetctl policy check [--strict] [--json] FILE...\n"
	"       hvnetctl policy show [--ir] FILE\n"
	"       hvnetctl policy trace [--json] FILE 'PROTO SRC[:PORT] -> DST[:PORT]'\n"
	"\n"
	"Read policy and lab files offline (no daemon needed).\n"
	"\n"
	"  check   report every error and warning with file:line:column; each FILE\n"
	"          is checked on its own (a file brings in others with include);\n"
	"          exit 0 clean, 1 errors, 2 warnings only (with --strict)\n"
	"  show    print the files back in canonical form (--ir: the flat rule\n"
	"          list the classifier is built from)\n"
	"  trace   say which rule decides a packet, and why; e.g.\n"
	"          'tcp 10.30.0.11:40000 -> 10.20.0.21:5432', 'icmp 10.0.0.1 -> 10.0.0.2',\n"
	"          'udp [2001:db8::1]:5353 -> [2001:db8::2]:53'\n";

static json_t *
diags_json(const struct hv_diags *d)
{
	static const char *const sev[] = {"error", "warning", "note"};
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct hv_diag *dg = &d->v[i];
		json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:s}", "severity", sev[dg->sev], "file",
				      hv_src_path(dg->loc.src), "line", (int)dg->loc.line, "column",
				      (int)dg->loc.col, "message", dg->msg);
		if (dg->hint)
			json_object_set_new(o, "hint", json_string(dg->hint));
		json_array_append_new(a, o);
	}
	return a;
}

/* parse + check (+ lint); returns the IR or NULL, with the program in *PROG */
static struct hv_ir *
load(const char *const *files, size_t n, bool lint, struct hv_prog **prog, struct hv_diags *d)
{
	struct hv_ir *ir;

	*prog = hv_lang_parse_files(files, n, d);
	ir = hv_lang_check(*prog, d);
	if (ir && lint)
		hv_lang_lint(ir, d);
	return ir;
}

static int
check_one(const char *file, bool strict, json_t *json_out)
{
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir = load(&file, 1, true, &prog, &d);
	int rc = d.n_errors ? 1 : (strict && d.n_warnings) ? 2 : 0;

	if (json_out) {
		json_t *o = json_pack("{s:s, s:b, s:i, s:i, s:o}", "file", file, "ok",
				      d.n_errors == 0, "errors", (int)d.n_errors, "warnings",
				      (int)d.n_warnings, "diagnostics", diags_json(&d));
		if (ir) {
			json_object_set_new(o, "segments",
					    json_integer((json_int_t)prog->segments.n));
			json_object_set_new(o, "guests", json_integer((json_int_t)prog->guests.n));
			json_object_set_new(o, "rules", json_integer((json_int_t)ir->n_rules));
			json_object_set_new(o, "entries", json_integer((json_int_t)ir->n_entries));
		}
		json_array_append_new(json_out, o);
	} else {
		hv_diags_print(stderr, &d);
		if (ir)
			fprintf(stderr,
				"%s: %zu segments, %zu guests, %zu rules (%zu entries): %s%zu warning%s\n",
				file, prog->segments.n, prog->guests.n, ir->n_rules, ir->n_entries,
				d.n_warnings ? "" : "ok, ", d.n_warnings,
				d.n_warnings == 1 ? "" : "s");
		else
			fprintf(stderr, "%s: %zu error%s, %zu warning%s; nothing was built\n", file,
				d.n_errors, d.n_errors == 1 ? "" : "s", d.n_warnings,
				d.n_warnings == 1 ? "" : "s");
	}
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	return rc;
}

static int
cmd_check(int argc, char **argv, bool json)
{
	bool strict = false;
	const char **files = calloc((size_t)argc + 1, sizeof(*files));
	size_t n = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--strict") == 0)
			strict = true;
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "hvnetctl: policy check: unknown option '%s'\n%s", argv[i],
				policy_usage);
			free(files);
			return 2;
		} else
			files[n++] = argv[i];
	}
	if (n == 0) {
		fprintf(stderr, "hvnetctl: policy check: no file given\n%s", policy_usage);
		free(files);
		return 2;
	}
	/* each file on its own: a lab that needs a policy file includes it */
	int rc = 0;
	json_t *all = json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		int r = check_one(files[i], strict, all);
		if (r == 1 || (r == 2 && rc == 0))
			rc = r;
	}
	if (json) {
		char *s = json_dumps(n == 1 ? json_array_get(all, 0) : all, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(all);
	}
	free(files);
	return rc;
}

static int
cmd_show(int argc, char **argv)
{
	bool show_ir = false;
	const char **files = calloc((size_t)argc + 1, sizeof(*files));
	size_t n = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--ir") == 0)
			show_ir = true;
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "hvnetctl: policy show: unknown option '%s'\n", argv[i]);
			free(files);
			return 2;
		} else
			files[n++] = argv[i];
	}
	if (n != 1) {
		fprintf(stderr, "hvnetctl: policy show: give one file (it may include others)\n%s",
			policy_usage);
		free(files);
		return 2;
	}
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir = load(files, n, false, &prog, &d);
	int rc = 0;

	if (ir == NULL) {
		hv_diags_print(stderr, &d);
		fprintf(stderr, "%zu error%s; nothing to show\n", d.n_errors,
			d.n_errors == 1 ? "" : "s");
		rc = 1;
	} else if (show_ir) {
		hv_ir_print(stdout, ir);
	} else {
		hv_prog_print(stdout, prog);
	}
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	free(files);
	return rc;
}

static int
cmd_trace(int argc, char **argv, bool json)
{
	const char **files = calloc((size_t)argc + 1, sizeof(*files));
	size_t n = 0;

	for (int i = 0; i < argc - 1; i++)
		files[n++] = argv[i];
	if (argc != 2) {
		fprintf(stderr,
			"hvnetctl: policy trace: give one file (it may include others), then the packet\n%s",
			policy_usage);
		free(files);
		return 2;
	}
	struct hv_trace_pkt pkt;
	char err[256];
	if (!hv_trace_parse(argv[argc - 1], &pkt, err, sizeof(err))) {
		fprintf(stderr,
			"hvnetctl: policy trace: %s\n  the packet is written 'tcp 10.30.0.11:40000 -> 10.20.0.21:5432'\n",
			err);
		free(files);
		return 2;
	}
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir = load(files, n, false, &prog, &d);
	int rc = 0;

	if (ir == NULL) {
		hv_diags_print(stderr, &d);
		fprintf(stderr, "%zu error%s; cannot trace\n", d.n_errors,
			d.n_errors == 1 ? "" : "s");
		rc = 1;
	} else {
		struct hv_trace_result res;
		hv_trace_run(ir, &pkt, &res);
		if (json) {
			const struct hv_rule *r = res.rule;
			json_t *o = json_pack("{s:s, s:b}", "verdict", hv_action_name(res.action),
					      "log", res.log);
			json_object_set_new(o, "rule", r ? json_string(r->id) : json_null());
			json_object_set_new(o, "default", json_boolean(res.entry == NULL));
			if (r) {
				char loc[512];
				snprintf(loc, sizeof(loc), "%s:%u:%u", hv_src_path(r->loc.src),
					 r->loc.line, r->loc.col);
				json_object_set_new(o, "location", json_string(loc));
			}
			json_object_set_new(
				o, "src_segment",
				res.src_seg_known ? json_string(prog->segments.v[res.src_seg].name)
						  : json_null());
			json_object_set_new(
				o, "dst_segment",
				res.dst_seg_known ? json_string(prog->segments.v[res.dst_seg].name)
						  : json_null());
			char *s = json_dumps(o, JSON_INDENT(2));
			puts(s);
			free(s);
			json_decref(o);
		} else {
			hv_trace_explain(stdout, ir, &pkt, &res);
		}
	}
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	free(files);
	return rc;
}

int
hv_cli_policy(int argc, char **argv, bool json)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(policy_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 2, argv + 2, json);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 2, argv + 2);
	if (strcmp(argv[1], "trace") == 0)
		return cmd_trace(argc - 2, argv + 2, json);
	fprintf(stderr, "hvnetctl: unknown command 'policy %s'\n%s", argv[1], policy_usage);
	return 2;
}
