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
/* --log-group: the log statements name the NFLOG group and nothing else changes */
static void
log_to_nflog_group(void **state)
{
	(void)state;
	struct compiled c;
	struct hv_nft_opts opts = {.log_group = 7};
	compile_text(&c,
		     "segment app { class application }\n"
		     "policy {\n"
		     "\tno-db: block log app -> app tcp/5432\n"
		     "\tdefault allow\n"
		     "}\n",
		     &opts);
	assert_non_null(c.nft);
	assert_non_null(strstr(
		c.text, "\tchain log_rule_1 {\n"
			"\t\tlimit rate 10/second burst 20 packets log prefix \"no-db: \" group 7\n"
			"\t\tdrop\n"
			"\t}\n"));
	assert_null(strstr(c.text, "log_default"));
	compiled_free(&c);
}

/* which mirrors tc mirred takes where nft dup cannot (the kernel lab) */
static void
mirrors_for_tc(void **state)
{
	(void)state;
	static const char src[] =
		"segment app { subnet 10.0.0.0/24 }\n"
		"policy {\n  default block\n}\n"
		"mirror seg { select segment app\n  to port ids-eth0 }\n"
		"mirror flt { select port a-eth0\n  filter \"tcp port 22\"\n"
		"  to port ids-eth0 }\n"
		"mirror dlv { select port a-eth0, direction egress\n  tap delivered\n"
		"  to port ids-eth0 }\n"
		"mirror blk { select port a-eth0, verdict blocked\n  to port ids-eth0 }\n"
		"mirror smp { select port a-eth0\n  sample 1/10\n  to port ids-eth0 }\n";
	struct hv_nft_opts opts = {.mirrors = true, .tc_mirrors = true};
	const struct hv_mirror *m;
	struct compiled c;

	compile_text(&c, src, &opts);
	assert_non_null(c.nft);
	m = c.prog->mirrors.v;
	assert_int_equal(c.prog->mirrors.n, 5);
	assert_null(hv_nft_mirror_dup_unsupported(&m[0])); /* nft dup */
	assert_non_null(hv_nft_mirror_dup_unsupported(&m[1]));
	assert_null(hv_nft_mirror_tc_unsupported(&m[1])); /* tc: port and filter */
	assert_null(hv_nft_mirror_tc_unsupported(&m[2])); /* tc: delivered, egress */
	assert_non_null(strstr(hv_nft_mirror_tc_unsupported(&m[3]), "verdict blocked"));
	assert_non_null(strstr(hv_nft_mirror_tc_unsupported(&m[4]), "sampling"));
	/* tc's are left to the caller without a note; the others are noted */
	for (size_t i = 0; hv_nft_note(c.nft, i); i++) {
		assert_null(strstr(hv_nft_note(c.nft, i), "mirror flt is not set up"));
		assert_null(strstr(hv_nft_note(c.nft, i), "mirror dlv is not set up"));
	}
	bool noted = false;
	for (size_t i = 0; hv_nft_note(c.nft, i); i++)
		noted |=
			strstr(hv_nft_note(c.nft, i),
			       "mirror smp is not set up: the kernel datapath cannot express port selection") !=
				NULL &&
			strstr(hv_nft_note(c.nft, i), "nor sampling (tc mirred)") != NULL;
	assert_true(noted);
	compiled_free(&c);
}

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

/* an ingress-port term has no nft match in table inet: a clear refusal
 * naming the rule, its location and the feature; nothing is built */
static void
port_terms_are_refused(void **state)
{
	(void)state;
	struct compiled c;
	const char *src = "segment app { subnet 10.30.0.0/24 }\n"
			  "policy {\n"
			  "\tweb: allow app -> app tcp/80\n"
			  "\tallow app 10.30.0.11 port web1 -> app tcp/22\n"
			  "\tdefault block\n"
			  "}\n";

	compile_text(&c, src, NULL);
	assert_null(c.nft);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(c.err, "rule t.hvnet:4 (t.hvnet:4:2)"));
	assert_non_null(strstr(c.err, "cannot express 'port web1' (the ingress port)"));
	compiled_free(&c);
}

/* --gateways (the kernel lab): rules between segments go to chain routed
 * with iifname and oifname; frames to a bridge's gateway MAC skip the
 * bridged rules only for a family the segment has a gateway of */
static void
gateways_route_by_bridge(void **state)
{
	(void)state;
	static const char src[] =
		"segment app { subnet 10.30.0.0/24, fd00:30::/64; gateway 10.30.0.1, fd00:30::1 }\n"
		"segment db { subnet 10.20.0.0/24; gateway 10.20.0.1 }\n"
		"segment lone { subnet 10.40.0.0/24 }\n"
		"policy {\n"
		"  app-db: allow app -> db service tcp/5432\n"
		"  in-app: allow app -> app\n"
		"  default block\n"
		"}\n";
	struct hv_nft_opts opts = {.routing = true};
	struct compiled c;
	uint8_t mac[6];

	/* hvnetd's gateway MAC of "app", as `hvnetctl route show` prints it */
	hv_nft_gateway_mac("app", mac);
	static const uint8_t app_mac[6] = {0x02, 0x68, 0x76, 0x6a, 0x83, 0x2c};
	assert_memory_equal(mac, app_mac, 6);

	compile_text(&c, src, &opts);
	assert_non_null(c.nft);
	const char *routed = strstr(c.text, "\tchain routed {\n");
	const char *pre = strstr(c.text, "\tchain prerouting {\n");
	const char *fwd = strstr(c.text, "\tchain forward {\n");
	const char *in = strstr(c.text, "\tchain input {\n");
	assert_non_null(routed);
	assert_true(routed < pre && pre < fwd && fwd < in);
	/* the routed policy: ingress and destination bridge */
	const char *r = strstr(routed, "\t\tct state established,related accept");
	assert_true(r != NULL && r < pre);
	r = strstr(routed,
		   "\t\tiifname \"app\" oifname \"db\" tcp dport 5432 accept comment \"app-db\"\n");
	assert_true(r != NULL && r < pre);
	r = strstr(routed, "\t\tiifname \"app\" oifname \"app\" accept comment \"in-app\"\n");
	assert_true(r != NULL && r < pre);
	r = strstr(routed, "\t\tdrop comment \"default\"\n");
	assert_true(r != NULL && r < pre);
	/* bridged: the rule between segments is not there */
	const char *b = strstr(pre, "comment \"app-db\"");
	assert_true(b == NULL || b > fwd);
	assert_non_null(strstr(
		pre,
		"\t\tiifname \"app\" ether daddr 02:68:76:6a:83:2c accept comment \"to the gateway of app\"\n"));
	hv_nft_gateway_mac("db", mac);
	char line[256];
	snprintf(
		line, sizeof(line),
		"\t\tiifname \"db\" ether daddr 02:68:76:%02x:%02x:%02x meta nfproto ipv4 accept comment \"to the gateway of db\"\n"
		"\t\tiifname \"db\" ether daddr 02:68:76:%02x:%02x:%02x drop comment \"db has no IPv6 gateway\"\n",
		mac[3], mac[4], mac[5], mac[3], mac[4], mac[5]);
	assert_non_null(strstr(pre, line));
	hv_nft_gateway_mac("lone", mac);
	snprintf(
		line, sizeof(line),
		"\t\tiifname \"lone\" ether daddr 02:68:76:%02x:%02x:%02x drop comment \"lone has no gateway\"\n",
		mac[3], mac[4], mac[5]);
	assert_non_null(strstr(pre, line));
	/* forward: only the gateways' frames to chain routed; lone has none */
	assert_non_null(strstr(
		fwd,
		"\t\tiifname \"app\" ether daddr 02:68:76:6a:83:2c jump routed comment \"routed by the gateway of app\"\n"));
	assert_true(strstr(fwd, "iifname \"lone\"") == NULL ||
		    strstr(fwd, "iifname \"lone\"") > in);
	/* input: pings of the gateways' own addresses, then drop */
	assert_non_null(strstr(
		in,
		"\t\tiifname \"db\" ip daddr 10.20.0.1 icmp type echo-request accept comment \"the gateway of db answers pings\"\n"));
	assert_non_null(strstr(
		in,
		"\t\tiifname \"app\" ip6 daddr fd00:30::1 icmpv6 type echo-request accept comment \"the gateway of app answers pings\"\n"));
	assert_non_null(strstr(in, "\t\tdrop comment \"nothing else for the gateways\"\n\t}\n}"));
	compiled_free(&c);

	/* without --gateways: no routing chains, the rule is left out, with a note */
	compile_text(&c, src, NULL);
	assert_non_null(c.nft);
	assert_null(strstr(c.text, "chain routed"));
	assert_null(strstr(c.text, "ether daddr"));
	assert_non_null(hv_nft_note(c.nft, 0));
	assert_non_null(strstr(hv_nft_note(c.nft, 0), "rule app-db: 1 of its 1 entries left out"));
	compiled_free(&c);
}

/* --mirrors: a mirror of blocked packets marks them in chain blocked, which
 * every drop of the policy jumps to, and tables ip and ip6 copy and drop
 * them; a mirror with a filter is left out whole, with a note */
static void
mirrors_as_dup(void **state)
{
	(void)state;
	static const char src[] = "segment app { subnet 10.0.0.0/24 }\n"
				  "segment db { subnet 10.1.0.0/24 }\n"
				  "policy {\n"
				  "  web: allow app -> app service tcp/80\n"
				  "  default block log\n"
				  "}\n"
				  "mirror ids { select segment app, verdict blocked\n"
				  "  to port ids-eth0\n  to pcap \"/tmp/x.pcapng\" }\n"
				  "mirror flt { select segment db\n  filter \"tcp port 22\"\n"
				  "  to port ids-eth0 }\n";
	struct hv_nft_opts opts = {.mirrors = true};
	struct compiled c;

	compile_text(&c, src, &opts);
	assert_non_null(c.nft);
	assert_string_equal(hv_nft_mirror_port(c.nft, 0), "ids-eth0");
	assert_null(hv_nft_mirror_port(c.nft, 1));
	/* the default's log chain ends in the mirror's chain, not a drop */
	assert_non_null(strstr(
		c.text, "\tchain log_default {\n"
			"\t\tlimit rate 10/second burst 20 packets log prefix \"default: \"\n"
			"\t\tjump blocked\n"));
	assert_non_null(strstr(c.text, "\t\tct state invalid jump blocked comment"));
	assert_non_null(strstr(
		c.text,
		"\tchain blocked {\n"
		"\t\tiifname \"app\" meta mark set meta mark | 0x00000001 comment \"mirror ids\"\n"
		"\t\tmeta mark & 0x00000001 != 0x00000000 accept comment \"copied, then dropped, in tables ip and ip6 hvnet\"\n"
		"\t\tdrop\n"
		"\t}\n"));
	assert_non_null(strstr(
		c.text,
		"table ip hvnet {\n"
		"\tchain prerouting {\n"
		"\t\ttype filter hook prerouting priority filter + 10; policy accept;\n"
		"\t\tmeta mark & 0x00000001 == 0x00000001 dup to 169.254.68.76 device \"ids-eth0\" comment \"mirror ids\"\n"
		"\t\tmeta mark & 0x00000001 != 0x00000000 drop comment \"blocked by the policy\"\n"
		"\t}\n"
		"}\n"
		"table ip6 hvnet {\n"));
	assert_non_null(strstr(c.text, "dup to fe80::6876 device \"ids-eth0\""));
	/* no routing: no forward chains anywhere */
	assert_null(strstr(c.text, "hook forward priority filter +"));
	/* the filtered mirror is left out, and said so; the pcap too */
	bool filter_note = false, pcap_note = false;
	for (size_t i = 0; hv_nft_note(c.nft, i); i++) {
		const char *note = hv_nft_note(c.nft, i);
		filter_note |= strstr(note, "mirror flt is not set up") != NULL &&
			       strstr(note, "a filter") != NULL;
		pcap_note |= strstr(note, "mirror ids: pcap destinations are not done") != NULL;
	}
	assert_true(filter_note);
	assert_true(pcap_note);
	assert_null(strstr(c.text, "mirror flt\""));
	compiled_free(&c);

	/* without --mirrors the ruleset has none of it */
	compile_text(&c, src, NULL);
	assert_non_null(c.nft);
	assert_null(strstr(c.text, "blocked"));
	assert_null(strstr(c.text, "table ip "));
	compiled_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rules_addresses_ports_icmp),
		cmocka_unit_test(log_reject_and_bridges),
		cmocka_unit_test(log_to_nflog_group),
		cmocka_unit_test(mirrors_for_tc),
		cmocka_unit_test(named_and_anonymous_sets),
		cmocka_unit_test(refusals_name_what_and_where),
		cmocka_unit_test(port_terms_are_refused),
		cmocka_unit_test(gateways_route_by_bridge),
		cmocka_unit_test(mirrors_as_dup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
