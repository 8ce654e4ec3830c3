/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nftables backend's output for small policies (golden text: what
 * `hvnetctl policy compile --target nft` prints and `nft list ruleset` shows
 * once applied; tests/system/test_nft.sh checks the kernel agrees), and its
 * refusals: what it cannot express is an error naming the rule or segment.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firewall/lang/lang.h"
#include "firewall/nft.h"

struct compiled {
	struct hv_prog *prog;
	struct hv_ir *ir;
	struct hv_nft *nft;
	struct hv_diags d;
	char err[HV_NFT_ERR_MAX];
	char *text;
};

static void
compile_text(struct compiled *c, const char *src, const struct hv_nft_opts *opts)
{
	memset(c, 0, sizeof(*c));
	c->prog = hv_lang_parse_buffer("t.hvnet", src, strlen(src), false, &c->d);
	c->ir = hv_lang_check(c->prog, &c->d);
	assert_non_null(c->ir);
	c->nft = hv_nft_compile(c->ir, opts, c->err, sizeof(c->err));
	if (c->nft) {
		size_t len;
		FILE *f = open_memstream(&c->text, &len);
		hv_nft_print(f, c->nft);
		fclose(f);
	}
}

static void
compiled_free(struct compiled *c)
{
	hv_nft_free(c->nft);
	hv_ir_free(c->ir);
	hv_prog_free(c->prog);
	hv_diags_free(&c->d);
	free(c->text);
}

#define PREAMBLE                                                                                                                                                                                                                                                             \
	"\t\ticmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect, mld2-listener-report } accept comment \"neighbour discovery and MLD bypass the policy\"\n" \
	"\t\tct state established,related accept comment \"packets of allowed connections\"\n"                                                                                                                                                                               \
	"\t\tct state invalid drop comment \"INVALID is always dropped\"\n"                                                                                                                                                                                                  \
	"\t\ttcp flags != syn / fin,syn,rst,ack drop comment \"a TCP connection opens with a SYN\"\n"

#define BRIDGE_TABLE(dflt)                                                                         \
	"table bridge hvnet {\n"                                                                   \
	"\tchain forward {\n"                                                                      \
	"\t\ttype filter hook forward priority filter; policy accept;\n"                           \
	"\t\tether type != { ip, arp, ip6 } drop comment \"non-IP frames under a default of " dflt \
	"\"\n"                                                                                     \
	"\t}\n"                                                                                    \
	"}\n"

static void
rules_addresses_ports_icmp(void **state)
{
	(void)state;
	struct compiled c;
	compile_text(&c,
		     "segment app { subnet 10.30.0.0/24, fd00:30::/64 }\n"
		     "segment db { subnet 10.20.0.0/24 }\n"
		     "set admins = { 10.30.0.10, 10.30.0.128/25 }\n"
		     "policy {\n"
		     "\tssh: allow app @admins -> app tcp/22\n"
		     "\tping: allow app -> app icmpv6/echo-request\n"
		     "\thigh: allow app -> 10.30.0.5 udp/1000-2000\n"
		     "\tcross: allow app -> db\n"
		     "\tdefault block\n"
		     "}\n",
		     NULL);
	assert_non_null(c.nft);
	assert_string_equal(
		c.text,
		"table inet hvnet {\n"
		"\tchain prerouting {\n"
		"\t\ttype filter hook prerouting priority filter; policy accept;\n" PREAMBLE
		"\t\tiifname \"app\" ip saddr 10.30.0.10 tcp dport 22 accept comment \"ssh\"\n"
		"\t\tiifname \"app\" ip saddr 10.30.0.128/25 tcp dport 22 accept comment \"ssh\"\n"
		"\t\tiifname \"app\" icmpv6 type echo-request accept comment \"ping\"\n"
		"\t\tiifname \"app\" ip daddr 10.30.0.5 udp dport 1000-2000 accept comment \"high\"\n"
		"\t\tdrop comment \"default\"\n"
		"\t}\n"
		"}\n" BRIDGE_TABLE("block"));
	/* app -> db joins two bridges: left out, and said so */
	assert_non_null(hv_nft_note(c.nft, 0));
	assert_non_null(strstr(hv_nft_note(c.nft, 0), "rule cross: 1 of its 1 entries left out"));
	assert_null(hv_nft_note(c.nft, 1));
	compiled_free(&c);
}

static void
log_reject_and_bridges(void **state)
{
	(void)state;
	struct compiled c;
	const char *bridges[] = {"br-app"};
	struct hv_nft_opts opts = {.table = "lab1", .bridges = bridges, .n_bridges = 1};
	compile_text(&c,
		     "segment app { class application }\n"
		     "policy {\n"
		     "\tno-db: reject log rate 3/s burst 7 app -> app tcp/5432\n"
		     "\tdefault allow log\n"
		     "}\n",
		     &opts);
	assert_non_null(c.nft);
	assert_string_equal(
		c.text, "table inet lab1 {\n"
			"\tchain reject_packet {\n"
			"\t\tmeta l4proto tcp reject with tcp reset\n"
			"\t\tmeta l4proto udp reject\n"
			"\t\treject with icmpx admin-prohibited\n"
			"\t}\n"
			"\n"
			"\tchain log_rule_1 {\n"
			"\t\tlimit rate 3/second burst 7 packets log prefix \"no-db: \"\n"
			"\t\tjump reject_packet\n"
			"\t}\n"
			"\n"
			"\tchain log_default {\n"
			"\t\tlimit rate 10/second burst 20 packets log prefix \"default: \"\n"
			"\t\taccept\n"
			"\t}\n"
			"\n"
			"\tchain prerouting {\n"
			"\t\ttype filter hook prerouting priority filter; policy accept;\n" PREAMBLE
			"\t\tiifname \"br-app\" tcp dport 5432 jump log_rule_1 comment \"no-db\"\n"
			"\t\tjump log_default comment \"default\"\n"
			"\t}\n"
			"}\n");
	compiled_free(&c);
}

/* a file's `set` and `service` become named nft sets when a rule uses
 * exactly their members; other groups of hosts or ports anonymous sets */
static void
named_and_anonymous_sets(void **state)
{
	(void)state;
	struct compiled c;
	compile_text(
		&c,
		"segment app { subnet 10.30.0.0/24, fd00:30::/64 }\n"
		"service web = tcp/80, tcp/443, tcp/8443, tcp/8000, tcp/8001, tcp/8002\n"
		"service dns = udp/53, tcp/53\n"
		"set admins = { 10.30.0.10, 10.30.0.11, 10.30.0.12, fd00:30::10, fd00:30::11 }\n"
		"set few = { 10.30.0.20, 10.30.0.21 }\n"
		"policy {\n"
		"\ta: allow app @admins -> app service web\n"
		"\tb: allow @few -> 10.30.0.5 service dns\n"
		"\tc: allow app -> 10.30.0.7 10.30.0.8 tcp/22, tcp/23\n"
		"\td: allow app -> 10.30.0.128/25 tcp/22\n"
		"\tdefault allow\n"
		"}\n",
		NULL);
	assert_non_null(c.nft);
	assert_string_equal(
		c.text,
		"table inet hvnet {\n"
		"\tset admins_v4 {\n"
		"\t\ttype ipv4_addr\n"
		"\t\telements = { 10.30.0.10, 10.30.0.11,\n"
		"\t\t\t     10.30.0.12 }\n"
		"\t}\n"
		"\n"
		"\tset web {\n"
		"\t\ttype inet_service\n"
		"\t\telements = { 80, 443, 8000, 8001, 8002,\n"
		"\t\t\t     8443 }\n"
		"\t}\n"
		"\n"
		"\tset admins_v6 {\n"
		"\t\ttype ipv6_addr\n"
		"\t\telements = { fd00:30::10,\n"
		"\t\t\t     fd00:30::11 }\n"
		"\t}\n"
		"\n"
		"\tset few {\n"
		"\t\ttype ipv4_addr\n"
		"\t\telements = { 10.30.0.20, 10.30.0.21 }\n"
		"\t}\n"
		"\n"
		"\tchain prerouting {\n"
		"\t\ttype filter hook prerouting priority filter; policy accept;\n" PREAMBLE
		"\t\tiifname \"app\" ip saddr @admins_v4 tcp dport @web accept comment \"a\"\n"
		"\t\tiifname \"app\" ip6 saddr @admins_v6 tcp dport @web accept comment \"a\"\n"
		"\t\tip saddr @few ip daddr 10.30.0.5 udp dport 53 accept comment \"b\"\n"
		"\t\tip saddr @few ip daddr 10.30.0.5 tcp dport 53 accept comment \"b\"\n"
		"\t\tiifname \"app\" ip daddr { 10.30.0.7, 10.30.0.8 } tcp dport { 22, 23 } accept comment \"c\"\n"
		"\t\tiifname \"app\" ip daddr 10.30.0.128/25 tcp dport 22 accept comment \"d\"\n"
		"\t\taccept comment \"default\"\n"
		"\t}\n"
		"}\n");
	compiled_free(&c);
}

static void
refusals_name_what_and_where(void **state)
{
	(void)state;
	struct compiled c;
	const char *src = "segment application-servers { class application }\n"
			  "policy {\n"
			  "\tweb: allow application-servers -> application-servers tcp/80\n"
			  "}\n";

	/* a segment name too long for a bridge: the segment, the rule, the fix */
	compile_text(&c, src, NULL);
	assert_null(c.nft);
	assert_int_equal(errno, EINVAL);
	assert_non_null(
		strstr(c.err, "segment application-servers (used by rule web (t.hvnet:3:2))"));
	assert_non_null(strstr(c.err, "--bridge application-servers=IFNAME"));
	compiled_free(&c);

	/* named, it compiles */
	const char *bridges[] = {"appsrv"};
	struct hv_nft_opts opts = {.bridges = bridges, .n_bridges = 1};
	compile_text(&c, src, &opts);
	assert_non_null(c.nft);
	assert_non_null(strstr(c.text, "iifname \"appsrv\" tcp dport 80 accept comment \"web\""));
	compiled_free(&c);

	/* a table name nft could not print back */
	struct hv_nft_opts bad_table = {.table = "no spaces"};
	compile_text(&c, src, &bad_table);
	assert_null(c.nft);
	assert_non_null(strstr(c.err, "table name 'no spaces'"));
	compiled_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rules_addresses_ports_icmp),
		cmocka_unit_test(log_reject_and_bridges),
		cmocka_unit_test(named_and_anonymous_sets),
		cmocka_unit_test(refusals_name_what_and_where),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
