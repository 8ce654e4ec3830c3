/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the language library's bounds and helpers: what the golden
 * tests (tests/lang) cannot show in a one-file snippet: include depth, file
 * size, the diagnostic cap, the per-rule expansion cap, first-match trace,
 * and the address helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "firewall/lang/lang.h"

static bool
has_msg(const struct hv_diags *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i].msg, needle))
			return true;
	return false;
}

static struct hv_ir *
check_text(const char *text, struct hv_diags *d, struct hv_prog **p)
{
	*p = hv_lang_parse_buffer("t.hvnet", text, strlen(text), false, d);
	return hv_lang_check(*p, d);
}

static void
include_depth_is_bounded(void **state)
{
	char dir[] = "/tmp/hvlang-XXXXXX", path[256];
	struct hv_diags d = {0};
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* f0 includes f1 includes ... f29: deeper than HV_LANG_MAX_INCLUDE */
	for (int i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "%s/f%d.hvnet", dir, i);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		if (i < 29)
			fprintf(f, "include \"f%d.hvnet\"\n", i + 1);
		fprintf(f, "segment s%d { vni %d }\n", i, i + 1);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/f0.hvnet", dir);
	struct hv_prog *p = hv_lang_parse_file(path, &d);
	assert_true(d.n_errors >= 1);
	assert_true(has_msg(&d, "includes nested deeper than 16"));
	hv_prog_free(p);
	hv_diags_free(&d);
	for (int i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "%s/f%d.hvnet", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

static void
huge_input_is_refused(void **state)
{
	size_t len = HV_LANG_MAX_FILE + 1;
	char *big = malloc(len);
	struct hv_diags d = {0};
	(void)state;

	assert_non_null(big);
	memset(big, '#', len);
	struct hv_prog *p = hv_lang_parse_buffer("big.hvnet", big, len, false, &d);
	assert_int_equal(d.n_errors, 1);
	assert_true(has_msg(&d, "larger than 64 MiB"));
	assert_null(hv_lang_check(p, &d));
	hv_prog_free(p);
	hv_diags_free(&d);
	free(big);
}

static void
diagnostics_are_capped_and_counted(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct hv_diags d = {0};
	struct hv_prog *p;
	(void)state;

	for (int i = 0; i < 200; i++)
		fprintf(f, "segment s%d { vni 0 }\n", i);
	fclose(f);
	assert_null(check_text(text, &d, &p));
	assert_int_equal(d.n, HV_DIAG_MAX);
	assert_int_equal(d.n_errors, 200);
	assert_int_equal(d.n_dropped, 200 - HV_DIAG_MAX);
	hv_prog_free(p);
	hv_diags_free(&d);
	free(text);
}

static void
rule_expansion_is_capped(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct hv_diags d = {0};
	struct hv_prog *p;
	(void)state;

	/* 300 x 300 addresses = 90,000 entries > HV_LANG_MAX_EXPAND_RULE */
	fputs("segment a { subnet 10.0.0.0/8 }\nset x = {", f);
	for (int i = 0; i < 300; i++)
		fprintf(f, "%s10.1.%d.%d", i ? ", " : " ", i / 250, i % 250 + 1);
	fputs(" }\npolicy {\n\tallow @x -> @x\n}\n", f);
	fclose(f);
	assert_null(check_text(text, &d, &p));
	assert_true(has_msg(&d, "rule expands to 300 x 300 x 1 classifier entries"));
	hv_prog_free(p);
	hv_diags_free(&d);
	free(text);
}

static const char lab[] = "segment app { subnet 10.30.0.0/24, fd00:30::/64 }\n"
			  "segment db { subnet 10.20.0.0/24 }\n"
			  "guest db1 { nic eth0 { segment db; ip 10.20.0.21/24 } }\n"
			  "service pg = tcp/5432\n"
			  "policy {\n"
			  "\tr1: block app 10.30.0.66 -> any\n"
			  "\tr2: allow app -> guest db1 service pg\n"
			  "\tr3: reject log app -> db\n"
			  "\tdefault allow\n"
			  "}\n";

static void
trace(const struct hv_ir *ir, const char *pkt, const char *rule, enum hv_action act)
{
	struct hv_trace_pkt tp;
	struct hv_trace_result res;
	char err[128];

	assert_true(hv_trace_parse(pkt, &tp, err, sizeof(err)));
	hv_trace_run(ir, &tp, &res);
	if (rule == NULL)
		assert_null(res.entry);
	else
		assert_string_equal(res.rule->id, rule);
	assert_int_equal(res.action, act);
}

static void
trace_is_first_match(void **state)
{
	struct hv_diags d = {0};
	struct hv_prog *p;
	struct hv_ir *ir = check_text(lab, &d, &p);
	struct hv_trace_pkt tp;
	char err[128];
	(void)state;

	assert_non_null(ir);
	trace(ir, "tcp 10.30.0.5:1000 -> 10.20.0.21:5432", "r2", HV_ALLOW);
	trace(ir, "tcp 10.30.0.66:1000 -> 10.20.0.21:5432", "r1", HV_BLOCK);
	trace(ir, "tcp 10.30.0.5:1000 -> 10.20.0.21:22", "r3", HV_REJECT);
	trace(ir, "udp 10.30.0.5:1000 -> 10.20.0.9:53", "r3", HV_REJECT);
	trace(ir, "icmp 10.20.0.9 -> 10.30.0.5", NULL, HV_ALLOW);
	trace(ir, "tcp [fd00:30::5]:1000 -> [fd00:30::6]:80", NULL, HV_ALLOW);
	assert_false(hv_trace_parse("tcp 10.0.0.1 -> 10.0.0.2", &tp, err, sizeof(err)));
	assert_non_null(strstr(err, "destination port"));
	assert_false(hv_trace_parse("icmp 10.0.0.1 -> fd00::1", &tp, err, sizeof(err)));
	assert_false(hv_trace_parse("gre 10.0.0.1 -> 10.0.0.2", &tp, err, sizeof(err)));
	assert_false(hv_trace_parse("tcp 10.0.0.1:1 10.0.0.2:2", &tp, err, sizeof(err)));
	hv_ir_free(ir);
	hv_prog_free(p);
	hv_diags_free(&d);
}

/* `port NAME` terms: trace by ingress port, its parse, the explanation */
static void
trace_by_port(void **state)
{
	static const char text[] = "segment app { subnet 10.30.0.0/24, fd00:30::/64 }\n"
				   "policy {\n"
				   "\ta: allow port web-a -> app tcp/80\n"
				   "\tb: allow app 10.30.0.12 port web-b port web-c -> any\n"
				   "\tc: block app -> app tcp/80\n"
				   "\tdefault allow\n"
				   "}\n";
	struct hv_diags d = {0};
	struct hv_prog *p;
	struct hv_ir *ir = check_text(text, &d, &p);
	struct hv_trace_pkt tp;
	struct hv_trace_result res;
	char err[160], *out = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	assert_non_null(ir);
	assert_int_equal(ir->n_ports, 3);
	assert_int_equal(hv_ir_port_id(ir, "web-a"), 1);
	assert_int_equal(hv_ir_port_id(ir, "web-c"), 3);
	assert_int_equal(hv_ir_port_id(ir, "web-d"), 0);
	trace(ir, "tcp 10.30.0.11:1000 -> 10.30.0.20:80 port web-a", "a", HV_ALLOW);
	trace(ir, "tcp [fd00:30::11]:1000 -> [fd00:30::20]:80   port   web-a", "a", HV_ALLOW);
	/* the same packet from another port, or with no port: the port rule does not match */
	trace(ir, "tcp 10.30.0.11:1000 -> 10.30.0.20:80 port web-b", "c", HV_BLOCK);
	trace(ir, "tcp 10.30.0.11:1000 -> 10.30.0.20:80", "c", HV_BLOCK);
	trace(ir, "tcp 10.30.0.12:1000 -> 10.30.0.20:80 port web-c", "b", HV_ALLOW);
	trace(ir, "tcp 10.30.0.13:1000 -> 10.30.0.20:80 port web-c", "c", HV_BLOCK);
	trace(ir, "icmp 10.30.0.12 -> 10.30.0.20 port web-b", "b", HV_ALLOW);

	assert_true(hv_trace_parse("tcp 10.30.0.11:1 -> 10.30.0.20:80 port web-a", &tp, err,
				   sizeof(err)));
	assert_string_equal(tp.in_port, "web-a");
	assert_int_equal(tp.dport, 80);
	assert_false(hv_trace_parse("tcp 10.0.0.1:1 -> 10.0.0.2:2 port", &tp, err, sizeof(err)));
	assert_non_null(strstr(err, "port NAME"));
	assert_false(
		hv_trace_parse("tcp 10.0.0.1:1 -> 10.0.0.2:2 port a b", &tp, err, sizeof(err)));
	assert_false(
		hv_trace_parse("tcp 10.0.0.1:1 -> 10.0.0.2:2 port a/b", &tp, err, sizeof(err)));
	assert_non_null(strstr(err, "bad port name"));
	assert_false(hv_trace_parse("tcp 10.0.0.1:1 -> 10.0.0.2:2 port "
				    "a-port-name-longer-than-31-chars",
				    &tp, err, sizeof(err)));
	assert_false(hv_trace_parse("tcp 10.0.0.1:1 -> 10.0.0.2:2 prt a", &tp, err, sizeof(err)));

	/* explain names the port and why the rule matched */
	assert_true(hv_trace_parse("tcp 10.30.0.11:1000 -> 10.30.0.20:80 port web-a", &tp, err,
				   sizeof(err)));
	hv_trace_run(ir, &tp, &res);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	hv_trace_explain(f, ir, &tp, &res);
	fclose(f);
	assert_non_null(strstr(out, "in port      web-a\n"));
	assert_non_null(strstr(out, "the source came in on port web-a"));
	free(out);
	assert_true(hv_trace_parse("tcp 10.30.0.11:1000 -> 10.30.0.20:80 port zz", &tp, err,
				   sizeof(err)));
	hv_trace_run(ir, &tp, &res);
	out = NULL;
	f = open_memstream(&out, &len);
	assert_non_null(f);
	hv_trace_explain(f, ir, &tp, &res);
	fclose(f);
	assert_non_null(strstr(out, "zz, which no rule of the policy names"));
	free(out);
	hv_ir_free(ir);
	hv_prog_free(p);
	hv_diags_free(&d);

	/* the canonical form keeps the terms and reads back to the same rule list */
	memset(&d, 0, sizeof(d));
	ir = check_text(text, &d, &p);
	assert_non_null(ir);
	out = NULL;
	f = open_memstream(&out, &len);
	hv_prog_print(f, p);
	fclose(f);
	assert_non_null(strstr(out, "b: allow app 10.30.0.12 port web-b port web-c -> any"));
	{
		struct hv_diags d2 = {0};
		struct hv_prog *p2;
		struct hv_ir *ir2 = check_text(out, &d2, &p2);
		char *a = NULL, *b = NULL;
		size_t la = 0, lb = 0;
		FILE *fa = open_memstream(&a, &la), *fb = open_memstream(&b, &lb);

		assert_non_null(ir2);
		hv_ir_print(fa, ir);
		hv_ir_print(fb, ir2);
		fclose(fa);
		fclose(fb);
		assert_string_equal(a, b);
		assert_non_null(strstr(a, "port=web-c -> * any"));
		free(a);
		free(b);
		hv_ir_free(ir2);
		hv_prog_free(p2);
		hv_diags_free(&d2);
	}
	free(out);
	hv_ir_free(ir);
	hv_prog_free(p);
	hv_diags_free(&d);
}

static void
prefixes(void **state)
{
	struct hv_prefix a, b;
	bool hb;
	char buf[64];
	(void)state;

	assert_true(hv_prefix_parse("10.1.2.3/16", &a, &hb));
	assert_true(hb);
	hv_prefix_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.0.0/16");
	assert_true(hv_prefix_parse("10.1.200.7", &b, &hb));
	assert_false(hb);
	assert_true(hv_prefix_contains(&a, &b));
	assert_false(hv_prefix_contains(&b, &a));
	assert_true(hv_prefix_parse("2001:db8::/32", &a, NULL));
	assert_true(hv_prefix_parse("2001:db8:ffff::1", &b, NULL));
	assert_true(hv_prefix_overlap(&a, &b));
	assert_false(hv_prefix_parse("10.0.0.0/33", &a, NULL));
	assert_false(hv_prefix_parse("2001:db8::/129", &a, NULL));
	assert_false(hv_prefix_parse("10.0.0.0/", &a, NULL));
	assert_false(hv_prefix_parse("/8", &a, NULL));
	assert_false(hv_prefix_parse("10.0.0", &a, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(include_depth_is_bounded),
		cmocka_unit_test(huge_input_is_refused),
		cmocka_unit_test(diagnostics_are_capped_and_counted),
		cmocka_unit_test(rule_expansion_is_capped),
		cmocka_unit_test(trace_is_first_match),
		cmocka_unit_test(trace_by_port),
		cmocka_unit_test(prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
