/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl policy check | show | trace: offline, no daemon needed. The same
 * library (firewall/lang) that hvnetd uses reads the files.
 *
 * Exit codes: 0 clean, 1 errors (or an unreadable file), 2 warnings only
 * with check --strict, and 2 for usage errors as elsewhere in hvnetctl
 * (the message on stderr tells the two apart).
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/policy.h"
#include "firewall/lang/lang.h"
#include "firewall/nft.h"

static const char policy_usage[] =
	"Usage: hvnetctl policy check [--strict] [--json] FILE...\n"
	"       hvnetctl policy show [--ir] FILE\n"
	"       hvnetctl policy trace [--json] FILE 'PROTO SRC[:PORT] -> DST[:PORT] [port IN]'\n"
	"       hvnetctl policy compile --target nft [--table NAME] [--bridge SEG=IFNAME]...\n"
	"                               [--gateways] [--mirrors] [--log-group N]\n"
	"                               [--check | --apply] [--netns NS] [--json] FILE\n"
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
	"          'udp [2001:db8::1]:5353 -> [2001:db8::2]:53'; 'port IN' names the\n"
	"          switch port the packet came in on, for rules with a port term\n"
	"  compile translate the policy for another firewall. --target nft: an\n"
	"          nftables ruleset for Linux bridges (docs/nftables.md), printed in\n"
	"          nft syntax (what `nft list ruleset` shows once it is applied):\n"
	"          table inet NAME (default hvnet) with the stateful rules in a\n"
	"          prerouting chain, and table bridge NAME for non-IP frames.\n"
	"          Segment S is the Linux bridge named S unless --bridge S=IFNAME\n"
	"          names it; bridged traffic reaches the rules through br_netfilter\n"
	"          (sysctl net.bridge.bridge-nf-call-iptables=1, -ip6tables=1).\n"
	"          --gateways  the ruleset of a host whose segment gateways route\n"
	"                   between the bridges (what lab up --datapath kernel\n"
	"                   applies): each bridge carries its gateway's MAC, routed\n"
	"                   packets are decided in chain routed by ingress and\n"
	"                   destination bridge, and the gateways answer pings and\n"
	"                   neighbour discovery only (chain input)\n"
	"          --mirrors  the file's mirrors as nft dup copies to their ports\n"
	"                   (tables ip and ip6 NAME, as the kernel lab applies\n"
	"                   them); with --check or --apply each mirror port must\n"
	"                   be an interface of the namespace\n"
	"          --log-group N  log rules send their lines to NFLOG group N\n"
	"                   (1-65535) of the namespace, read with e.g. tcpdump -v\n"
	"                   -i nflog:N there (the prefix is the rule id), as the\n"
	"                   kernel lab does with group 1; without it they go to\n"
	"                   the kernel log, which a namespace other than the\n"
	"                   initial one writes only with the host-wide sysctl\n"
	"                   net.netfilter.nf_log_all_netns=1\n"
	"          --check  send the ruleset to the kernel, which validates it and\n"
	"                   commits nothing (as nft -c)\n"
	"          --apply  commit it in one atomic netlink transaction, replacing\n"
	"                   the tables of the same name (applying twice changes\n"
	"                   nothing; a refused ruleset leaves the old one in force)\n"
	"          --netns NS  the network namespace (/run/netns/NS, or a path) to\n"
	"                   check or apply in\n"
	"          A rule nftables cannot express is an error naming the rule;\n"
	"          notes (entries that can never match) go to stderr.\n"
	"          Exit 0 done, 1 errors (the file, the compiler or the kernel).\n";

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
			json_object_set_new(o, "in_port",
					    pkt.in_port[0] ? json_string(pkt.in_port)
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

static int
compile_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "hvnetctl: policy compile: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", policy_usage);
	return 2;
}

static int
cmd_compile(int argc, char **argv, bool json)
{
	const char *target = NULL, *table = NULL, *netns = NULL, *file = NULL;
	bool check = false, apply = false, gateways = false, mirrors = false;
	unsigned long log_group = 0;
	const char **bridge_args = calloc((size_t)argc + 1, sizeof(*bridge_args));
	size_t n_bridge = 0;
	int rc = 1;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < argc;
		if (strcmp(a, "--target") == 0 && has_next)
			target = argv[++i];
		else if (strcmp(a, "--table") == 0 && has_next)
			table = argv[++i];
		else if (strcmp(a, "--netns") == 0 && has_next)
			netns = argv[++i];
		else if (strcmp(a, "--bridge") == 0 && has_next)
			bridge_args[n_bridge++] = argv[++i];
		else if (strcmp(a, "--check") == 0)
			check = true;
		else if (strcmp(a, "--gateways") == 0)
			gateways = true;
		else if (strcmp(a, "--mirrors") == 0)
			mirrors = true;
		else if (strcmp(a, "--apply") == 0)
			apply = true;
		else if (strcmp(a, "--log-group") == 0 && has_next) {
			char *end;
			errno = 0;
			log_group = strtoul(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || argv[i][0] == '-' || log_group < 1 ||
			    log_group > 65535) {
				free(bridge_args);
				return compile_usage(
					"--log-group: expected a group 1-65535, not '%s'", argv[i]);
			}
		} else if (a[0] == '-' && a[1]) {
			free(bridge_args);
			return compile_usage("unknown option or missing value: '%s'", a);
		} else if (file) {
			free(bridge_args);
			return compile_usage(
				"give one file (it may include others); '%s' is one more", a);
		} else
			file = a;
	}
	if (target == NULL || strcmp(target, "nft") != 0) {
		free(bridge_args);
		return compile_usage("the target is --target nft (the one there is), not '%s'",
				     target ? target : "(none)");
	}
	if (file == NULL) {
		free(bridge_args);
		return compile_usage("no file given%s", "");
	}
	if (check && apply) {
		free(bridge_args);
		return compile_usage("--check and --apply exclude each other%s", "");
	}
	if (netns && !check && !apply) {
		free(bridge_args);
		return compile_usage("--netns goes with --check or --apply%s", "");
	}

	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir = load(&file, 1, false, &prog, &d);
	const char **bridges = NULL;
	struct hv_nft *nft = NULL;
	char err[HV_NFT_ERR_MAX] = "";

	if (ir == NULL) {
		hv_diags_print(stderr, &d);
		fprintf(stderr, "%s: %zu error%s; nothing was compiled\n", file, d.n_errors,
			d.n_errors == 1 ? "" : "s");
		goto out;
	}
	bridges = calloc(prog->segments.n + 1, sizeof(*bridges));
	for (size_t i = 0; i < n_bridge; i++) {
		const char *eq = strchr(bridge_args[i], '=');
		size_t k;
		for (k = 0; eq && k < prog->segments.n; k++)
			if (strlen(prog->segments.v[k].name) == (size_t)(eq - bridge_args[i]) &&
			    strncmp(prog->segments.v[k].name, bridge_args[i],
				    (size_t)(eq - bridge_args[i])) == 0)
				break;
		if (eq == NULL || k == prog->segments.n) {
			fprintf(stderr,
				"hvnetctl: policy compile: --bridge %s: expected SEGMENT=IFNAME with a segment of %s\n",
				bridge_args[i], file);
			rc = 2;
			goto out;
		}
		bridges[k] = eq + 1;
	}
	struct hv_nft_opts opts = {.table = table,
				   .bridges = bridges,
				   .n_bridges = prog->segments.n,
				   .routing = gateways,
				   .mirrors = mirrors,
				   .log_group = (uint16_t)log_group};
	nft = hv_nft_compile(ir, &opts, err, sizeof(err));
	if (nft == NULL) {
		fprintf(stderr, "hvnetctl: policy compile: %s: %s\n", file, err);
		goto out;
	}
	int krc = 0;
	if (getenv("HVNET_NFT_TEST_BREAK") && hv_nft_break_for_test(nft) < 0) {
		fprintf(stderr, "hvnetctl: policy compile: out of memory\n");
		goto out;
	}
	if (check || apply)
		krc = hv_nft_commit(nft, apply ? HV_NFT_APPLY : HV_NFT_CHECK, netns, err,
				    sizeof(err));
	if (json) {
		char *text = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&text, &len);
		if (mf) {
			hv_nft_print(mf, nft);
			fclose(mf);
		}
		json_t *notes = json_array();
		for (size_t i = 0; hv_nft_note(nft, i); i++)
			json_array_append_new(notes, json_string(hv_nft_note(nft, i)));
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:s}", "file", file, "target",
				      "nft", "table", table ? table : "hvnet", "rules",
				      (int)hv_nft_rule_count(nft), "notes", notes, "ruleset",
				      text ? text : "");
		json_object_set_new(o, "log_group",
				    log_group ? json_integer((json_int_t)log_group) : json_null());
		json_object_set_new(o, "mode",
				    json_string(apply	? "apply"
						: check ? "check"
							: "print"));
		if (check || apply) {
			json_object_set_new(o, "ok", json_boolean(krc == 0));
			json_object_set_new(o, "netns", netns ? json_string(netns) : json_null());
			if (krc)
				json_object_set_new(o, "error", json_string(err));
		}
		char *s = json_dumps(o, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(o);
		free(text);
	} else {
		for (size_t i = 0; hv_nft_note(nft, i); i++)
			fprintf(stderr, "note: %s\n", hv_nft_note(nft, i));
		if (!check && !apply)
			hv_nft_print(stdout, nft);
	}
	if (krc) {
		fprintf(stderr, "hvnetctl: policy compile: %s%s%s: %s; nothing was %s\n", file,
			netns ? " in namespace " : "", netns ? netns : "", err,
			apply ? "changed" : "committed");
		goto out;
	}
	if (!json && (check || apply))
		fprintf(stderr, "%s: %zu nft rules %s%s%s\n", file, hv_nft_rule_count(nft),
			apply ? "applied (table inet "
			      : "accepted by the kernel (nothing committed",
			apply ? (table ? table : "hvnet") : "", apply ? ")" : ")");
	rc = 0;
out:
	hv_nft_free(nft);
	free(bridges);
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	free(bridge_args);
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
	if (strcmp(argv[1], "compile") == 0)
		return cmd_compile(argc - 2, argv + 2, json);
	fprintf(stderr, "hvnetctl: unknown command 'policy %s'\n%s", argv[1], policy_usage);
	return 2;
}
