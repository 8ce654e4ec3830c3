/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl: the command-line client of hvnetd's control socket.
 *
 * Each invocation sends one request and prints the reply, as a table for
 * people or, with --json, as the daemon's JSON result for scripts. Exit codes
 * (stable, for scripts): 0 success, 1 the daemon refused the request, 2 bad
 * usage, 3 cannot reach the daemon, 4 protocol error or timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/lab.h"
#include "cli/mirror.h"
#include "cli/policy.h"
#include "common/ctl.h"

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,
	EXIT_PROTO = 4,
};

struct opts {
	const char *socket;
	bool json;
	bool all;
	int timeout_ms;
};

static const char usage_text[] =
	"Usage: hvnetctl [OPTIONS] OBJECT COMMAND [ARGS...]\n"
	"\n"
	"Control a running hvnetd over its control socket.\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH     control socket (default $HVNET_SOCKET, else " HV_CTL_DEFAULT_PATH
	")\n"
	"  -i, --instance NAME   the socket of instance NAME (/run/hvnet/NAME.sock)\n"
	"  -j, --json            print the daemon's JSON result instead of tables\n"
	"  -a, --all             stats: list every drop reason, zero or not\n"
	"  -t, --timeout MS      how long to wait for a reply (default 5000)\n"
	"  -h, --help            this text\n"
	"\n"
	"Commands:\n"
	"  version                                 daemon version, instance, workers\n"
	"  port list                               ports with state and counters\n"
	"  port show NAME                          one port, with its drop reasons\n"
	"  port add NAME KIND SEGMENT [KEY=VAL...]  add a port while traffic flows\n"
	"        KIND: tap, vhost-user, af_packet, pcap, ring, null\n"
	"        SEGMENT '-': an uplink, the VXLAN overlay's port (docs/overlay.md)\n"
	"        common keys: mac-limit=N allow-vlan=yes mtu=N\n"
	"                     port-security=no|lock (docs/routing.md)\n"
	"        tap: iface=IF netns=NS mac=MAC   vhost-user: path=SOCK mode=server|client\n"
	"        af_packet: iface=IF             pcap: rx=FILE tx=FILE\n"
	"  port del NAME                           remove a port (its MACs are flushed)\n"
	"  segment list                            segments with ports, MACs, counters\n"
	"  segment show NAME\n"
	"  segment add NAME [mac-limit=N]\n"
	"  segment del NAME                        only when no port is in it\n"
	"  mac show [SEGMENT]                      the learned MAC table\n"
	"  mac flush [SEGMENT] [port=NAME]         forget learned MACs\n"
	"  stats [--all]                           per port, segment, stage, drop reason\n"
	"  stats clear                             zero the counters\n"
	"  policy apply FILE                       check, compile and put FILE in force atomically;\n"
	"                                          reports rules added/removed/changed and the\n"
	"                                          live connections it cuts\n"
	"  policy rollback                         put the policy before the last apply back\n"
	"  policy status                           the policy in force and the previous one\n"
	"  policy clear                            no policy: every packet passes (rollback undoes)\n"
	"  policy trace 'PACKET'                   the live verdict: connection table, then rules\n"
	"                                          (PACKET ends with 'port IN': the ingress port)\n"
	"  fw show                                 rules in force with their hit counters\n"
	"  route show                              segment gateways (MAC, addresses, subnets),\n"
	"                                          routed/blocked per segment pair, gateway counters,\n"
	"                                          each port's port security (bound, lock, off)\n"
	"  neigh show [SEGMENT]                    neighbours: declared in the policy file and\n"
	"                                          learned from ARP/ND by the gateways\n"
	"  ct list [FILTER...]                     tracked connections (FILTER: segment=S port=P\n"
	"                                          proto=tcp|udp|icmp|icmpv6|N host=ADDR limit=N)\n"
	"  ct stats                                connection table use, limits and timeouts\n"
	"  ct flush [FILTER...]                    forget connections (their next packet is new)\n"
	"  mirror list                             mirror sessions with their counters\n"
	"  mirror show NAME\n"
	"  mirror add NAME [SELECT...] to DEST...  copy selected packets (docs/mirror.md):\n"
	"        SELECT: segment S, port P (repeatable), direction in|out|both,\n"
	"                verdict allowed|blocked|any, tap wire|delivered,\n"
	"                filter 'EXPR' (tcpdump syntax), snaplen N, sample N\n"
	"        DEST: pcap FILE [rotate SIZE] [every SECS] [keep N] | port NAME [vlan-tag]\n"
	"              | remote IPV4 vxlan VNI|erspan ID via PORT [source IPV4] [mac MAC]\n"
	"  mirror del NAME                         stop a session, close its files\n"
	"  capture PORT|SEGMENT [-f FILTER] [-c COUNT] [-s SNAPLEN] -w FILE|-\n"
	"                                          ad hoc capture in pcap; '-w -' writes to\n"
	"                                          stdout (| tcpdump -r -); Ctrl-C ends it\n"
	"  vtep show                               the VXLAN overlay: local VTEP, uplink, MTU,\n"
	"                                          peers (underlay MAC, segments, counters), VNIs\n"
	"  vtep neigh ADDRESS MAC                  a static underlay MAC for peer ADDRESS: no ARP\n"
	"                                          for it, until the peer leaves the overlay\n"
	"  raw CMD [JSON-ARGS]                     send any request (see docs/control.md)\n"
	"\n"
	"Offline (no daemon; see 'hvnetctl policy help' and docs/language.md):\n"
	"  policy check [--strict] FILE...         errors and warnings, file:line:column\n"
	"  policy show [--ir] FILE                 canonical form, or the flat rule list\n"
	"  policy trace FILE 'PACKET'              which rule decides a packet, and why\n"
	"  policy compile --target nft FILE        the policy as an nftables ruleset for Linux\n"
	"                                          bridges (--check, --apply [--netns NS])\n"
	"\n"
	"Labs (a private hvnetd per lab; see 'hvnetctl lab help' and docs/labs.md):\n"
	"  lab up [--name NAME] FILE               start hvnetd, segments, guests, ports, policy\n"
	"  lab down [NAME]                         remove all of it, also after a crash\n"
	"  lab status [NAME]                       guests, NICs, addresses, links, counters\n"
	"  lab exec [NAME] GUEST -- CMD [ARGS...]  run a command inside a guest\n"
	"  lab console [NAME] GUEST                a QEMU guest's serial console (Ctrl-] leaves)\n"
	"  lab graph [NAME|FILE] [--svg|--png OUT] the topology as Graphviz DOT\n"
	"\n"
	"Exit status: 0 ok, 1 the daemon refused the request, 2 usage error,\n"
	"3 cannot connect to the daemon, 4 protocol error or timeout.\n";

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hvnetctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'hvnetctl --help'.\n");
	exit(EXIT_USAGE);
}

/* ---- reading results ---- */

static const char *
s_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long
i_of(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* ---- printers ---- */

static void
print_drop_reasons(json_t *reasons, const char *indent)
{
	const char *k;
	json_t *v;

	json_object_foreach(reasons, k, v) {
		printf("%s%-24s %lld\n", indent, k, (long long)json_integer_value(v));
	}
}

static void
print_ports(json_t *ports)
{
	size_t i;
	json_t *p;

	printf("%-16s %-10s %-12s %-5s %-17s %5s %5s %12s %12s %9s\n", "NAME", "KIND", "SEGMENT",
	       "STATE", "MAC", "MTU", "MACS", "RX-PKTS", "TX-PKTS", "DROPS");
	json_array_foreach(ports, i, p) {
		printf("%-16s %-10s %-12s %-5s %-17s %5lld %5lld %12lld %12lld %9lld\n",
		       s_of(p, "name"), s_of(p, "kind"), s_of(p, "segment"), s_of(p, "state"),
		       s_of(p, "mac"), i_of(p, "mtu"), i_of(p, "macs"), i_of(p, "rx_packets"),
		       i_of(p, "tx_packets"), i_of(p, "drops"));
	}
}

static void
print_port(json_t *p)
{
	json_t *opts = json_object_get(p, "options");
	const char *k;
	json_t *v;

	printf("port %s (id %lld)\n", s_of(p, "name"), i_of(p, "id"));
	printf("  kind:       %s\n", s_of(p, "kind"));
	printf("  segment:    %s\n", s_of(p, "segment"));
	printf("  state:      %s\n", s_of(p, "state"));
	printf("  mac:        %s   mtu %lld\n", s_of(p, "mac"), i_of(p, "mtu"));
	if (strcmp(s_of(p, "ifname"), "") != 0 && strcmp(s_of(p, "ifname"), "-") != 0)
		printf("  interface:  %s%s%s\n", s_of(p, "ifname"),
		       strcmp(s_of(p, "netns"), "") ? " in netns " : "",
		       strcmp(s_of(p, "netns"), "") ? s_of(p, "netns") : "");
	printf("  vlan tags:  %s\n",
	       json_is_true(json_object_get(p, "allow_vlan")) ? "allowed" : "dropped");
	printf("  macs:       %lld learned (limit %lld%s)\n", i_of(p, "macs"), i_of(p, "mac_limit"),
	       i_of(p, "mac_limit") ? "" : ": the daemon default");
	if (json_object_size(opts) > 0) {
		printf("  options:   ");
		json_object_foreach(opts, k, v) {
			printf(" %s=%s", k, json_string_value(v));
		}
		printf("\n");
	}
	printf("  rx:         %lld packets, %lld bytes\n", i_of(p, "rx_packets"),
	       i_of(p, "rx_bytes"));
	printf("  tx:         %lld packets, %lld bytes\n", i_of(p, "tx_packets"),
	       i_of(p, "tx_bytes"));
	printf("  drops:      %lld\n", i_of(p, "drops"));
	print_drop_reasons(json_object_get(p, "drop_reasons"), "    ");
}

static void
print_segments(json_t *segs)
{
	size_t i, j;
	json_t *s, *pn;

	printf("%-12s %5s %6s %6s %12s %12s %10s %9s  %s\n", "NAME", "ID", "MACS", "LIMIT",
	       "RX-PKTS", "TX-PKTS", "FLOODED", "DROPS", "PORTS");
	json_array_foreach(segs, i, s) {
		printf("%-12s %5lld %6lld %6lld %12lld %12lld %10lld %9lld  ", s_of(s, "name"),
		       i_of(s, "id"), i_of(s, "macs"), i_of(s, "mac_limit"), i_of(s, "rx_packets"),
		       i_of(s, "tx_packets"), i_of(s, "flooded"), i_of(s, "drops"));
		json_array_foreach(json_object_get(s, "ports"), j, pn) {
			printf("%s%s", j ? "," : "", json_string_value(pn));
		}
		printf("\n");
	}
}

static void
print_segment(json_t *s)
{
	json_t *arr = json_array();

	json_array_append(arr, s);
	print_segments(arr);
	json_decref(arr);
	if (json_object_size(json_object_get(s, "drop_reasons")) > 0) {
		printf("drop reasons:\n");
		print_drop_reasons(json_object_get(s, "drop_reasons"), "  ");
	}
}

static void
print_macs(json_t *macs)
{
	size_t i;
	json_t *m;

	printf("%-12s %-17s %-16s %8s  %s\n", "SEGMENT", "MAC", "PORT", "AGE(s)", "TYPE");
	json_array_foreach(macs, i, m) {
		printf("%-12s %-17s %-16s %8.1f  %s\n", s_of(m, "segment"), s_of(m, "mac"),
		       s_of(m, "port"), json_number_value(json_object_get(m, "age_s")),
		       json_is_true(json_object_get(m, "static")) ? "static" : "learned");
	}
	printf("%zu entries\n", json_array_size(macs));
}

static void
print_routes(json_t *r)
{
	json_t *v, *cnt = json_object_get(r, "counters");
	size_t i;
	const char *key;

	if (!json_is_true(json_object_get(r, "policy")))
		printf("no policy in force: no gateways, nothing is routed\n");
	printf("%-12s %-17s %-16s %-24s %s\n", "SEGMENT", "GATEWAY MAC", "IPv4", "IPv6", "SUBNETS");
	json_array_foreach(json_object_get(r, "gateways"), i, v) {
		json_t *sn;
		size_t j;

		printf("%-12s %-17s %-16s %-24s", s_of(v, "segment"), s_of(v, "mac"),
		       *s_of(v, "gateway4") ? s_of(v, "gateway4") : "-",
		       *s_of(v, "gateway6") ? s_of(v, "gateway6") : "-");
		json_array_foreach(json_object_get(v, "subnets"), j, sn)
			printf(" %s", json_string_value(sn));
		printf("\n");
	}
	printf("\n%-12s %-12s %12s %12s\n", "FROM", "TO", "ROUTED", "BLOCKED");
	json_array_foreach(json_object_get(r, "pairs"), i, v)
		printf("%-12s %-12s %12lld %12lld\n", s_of(v, "from"), s_of(v, "to"),
		       i_of(v, "routed"), i_of(v, "blocked"));
	printf("\ngateway:");
	json_object_foreach(cnt, key, v)
		printf(" %s %lld", key, (long long)json_integer_value(v));
	printf("\ndrops:");
	json_object_foreach(json_object_get(r, "drops"), key, v)
		printf(" %s %lld", key, (long long)json_integer_value(v));
	printf("\n\n%-16s %-6s %-17s %s\n", "PORT", "CHECK", "MAC", "ADDRESSES");
	json_array_foreach(json_object_get(r, "port_security"), i, v) {
		json_t *ad;
		size_t j;

		printf("%-16s %-6s %-17s", s_of(v, "port"), s_of(v, "mode"),
		       *s_of(v, "mac") ? s_of(v, "mac") : "-");
		json_array_foreach(json_object_get(v, "addresses"), j, ad)
			printf(" %s", json_string_value(ad));
		printf("\n");
	}
}

static void
print_neighs(json_t *r)
{
	json_t *n, *a = json_object_get(r, "neighbours");
	size_t i;

	printf("%-12s %-28s %-17s %-16s %-9s %s\n", "SEGMENT", "ADDRESS", "MAC", "PORT", "ORIGIN",
	       "AGE(s)");
	json_array_foreach(a, i, n) {
		printf("%-12s %-28s %-17s %-16s %-9s", s_of(n, "segment"), s_of(n, "address"),
		       s_of(n, "mac"), s_of(n, "port"), s_of(n, "origin"));
		if (json_object_get(n, "age_s") != NULL)
			printf(" %.1f", json_number_value(json_object_get(n, "age_s")));
		printf("\n");
	}
	printf("%zu entries (learned table holds %lld)\n", json_array_size(a), i_of(r, "capacity"));
}

static void
print_stats(json_t *r, bool all)
{
	json_t *v, *learn = json_object_get(r, "mac_learn");
	size_t i;

	printf("Ports\n");
	print_ports(json_object_get(r, "ports"));
	printf("\nSegments\n");
	print_segments(json_object_get(r, "segments"));
	printf("\nStages\n%-10s %14s %12s\n", "STAGE", "PACKETS", "DROPS");
	json_array_foreach(json_object_get(r, "stages"), i, v) {
		printf("%-10s %14lld %12lld\n", s_of(v, "stage"), i_of(v, "packets"),
		       i_of(v, "drops"));
	}
	printf("\nDrops by reason%s\n%-22s %-8s %12s  %s\n",
	       all ? "" : " (non-zero; --all for every reason)", "REASON", "STAGE", "COUNT",
	       "MEANING");
	json_array_foreach(json_object_get(r, "drops"), i, v) {
		if (!all && i_of(v, "count") == 0)
			continue;
		printf("%-22s %-8s %12lld  %s\n", s_of(v, "reason"), s_of(v, "stage"),
		       i_of(v, "count"), s_of(v, "help"));
	}
	printf("\nMAC learning: %lld entries, %lld learned, %lld moved, refused: %lld port limit, "
	       "%lld segment limit, %lld table full, %lld static\n",
	       i_of(learn, "entries"), i_of(learn, "learned"), i_of(learn, "moved"),
	       i_of(learn, "limit_port"), i_of(learn, "limit_segment"), i_of(learn, "limit_table"),
	       i_of(learn, "static_conflict"));
	{
		json_t *fw = json_object_get(r, "firewall");

		if (json_is_true(json_object_get(fw, "policy")) || i_of(fw, "checked"))
			printf("Firewall: %lld IP packets checked: %lld established, %lld related, "
			       "%lld opened a connection, %lld allowed without one, %lld ARP/ND "
			       "passed; %lld rejects sent; hand-off %lld out, %lld in; log %lld "
			       "lines, %lld over the rate\n",
			       i_of(fw, "checked"), i_of(fw, "established"), i_of(fw, "related"),
			       i_of(fw, "new_allowed"), i_of(fw, "stateless"), i_of(fw, "bypass"),
			       i_of(fw, "rejects_sent"), i_of(fw, "handoff_out"),
			       i_of(fw, "handoff_in"), i_of(fw, "log_submitted"),
			       i_of(fw, "log_ratelimited"));
	}
	printf("\n%-6s %14s %14s %10s %14s\n", "LCORE", "RX-PKTS", "TX-PKTS", "CYC/PKT", "SLEEPS");
	json_array_foreach(json_object_get(r, "lcores"), i, v) {
		printf("%-6lld %14lld %14lld %10.1f %14lld\n", i_of(v, "lcore"),
		       i_of(v, "rx_packets"), i_of(v, "tx_packets"),
		       json_number_value(json_object_get(v, "cycles_per_packet")),
		       i_of(v, "sleeps"));
	}
}

static void
print_version(json_t *r)
{
	printf("hvnetd %s (pid %lld), instance %s, %lld worker(s), %s polling, %s, socket %s\n",
	       s_of(r, "version"), i_of(r, "pid"), s_of(r, "instance"), i_of(r, "workers"),
	       s_of(r, "poll_mode"),
	       json_is_true(json_object_get(r, "hugepages")) ? "hugepages" : "no hugepages",
	       s_of(r, "socket"));
}

/* ---- building requests ---- */

/* KEY=VAL into @obj (KEY with '-' mapped to '_' when @underscore). */
static void
add_kv(json_t *obj, const char *arg, bool underscore, const char *what)
{
	const char *eq = strchr(arg, '=');
	char key[64];
	size_t n;

	if (eq == NULL || eq == arg)
		usage_error("%s '%s' is not KEY=VALUE", what, arg);
	n = (size_t)(eq - arg);
	if (n >= sizeof(key))
		usage_error("%s key in '%s' is too long", what, arg);
	memcpy(key, arg, n);
	key[n] = '\0';
	for (char *c = key; underscore && *c; c++)
		if (*c == '-')
			*c = '_';
	json_object_set_new(obj, key, json_string(eq + 1));
}

struct request {
	const char *cmd;
	json_t *args;
	void (*print)(json_t *result);
};

static void
print_ok(json_t *r)
{
	(void)r;
}

static void
print_flushed(json_t *r)
{
	printf("%lld entries flushed\n", i_of(r, "flushed"));
}

static void
print_port_del(json_t *r)
{
	printf("port %s removed, %lld MAC entries flushed\n", s_of(r, "name"),
	       i_of(r, "flushed_macs"));
}

static void
print_raw(json_t *r)
{
	char *s = json_dumps(r, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static bool g_all;

static void
print_stats_cb(json_t *r)
{
	print_stats(r, g_all);
}

static void
need(int argc, int min, int max, const char *what)
{
	if (argc < min)
		usage_error("'%s' needs more arguments", what);
	if (max >= 0 && argc > max)
		usage_error("'%s' takes at most %d argument(s)", what, max - 2);
}

static void
print_names(const char *what, json_t *a)
{
	size_t i;
	json_t *v;

	if (json_array_size(a) == 0)
		return;
	printf("  %s:", what);
	json_array_foreach(a, i, v)
		printf("%s %s", i ? "," : "", json_string_value(v));
	putchar('\n');
}

static void
print_policy_change(json_t *r)
{
	size_t i;
	json_t *v;

	printf("policy %s in force (epoch %lld): %lld rules, %lld classifier entries\n",
	       s_of(r, "path"), i_of(r, "epoch"), i_of(r, "rules"), i_of(r, "entries"));
	print_names("added", json_object_get(r, "added"));
	print_names("removed", json_object_get(r, "removed"));
	print_names("changed", json_object_get(r, "changed"));
	printf("  %lld live connection(s) no longer allowed: cut on their next packet\n",
	       i_of(r, "connections_cut"));
	json_array_foreach(json_object_get(r, "warnings"), i, v)
		printf("  warning: %s:%lld:%lld: %s\n", s_of(v, "file"), i_of(v, "line"),
		       i_of(v, "column"), s_of(v, "message"));
}

static void
print_policy_cleared(json_t *r)
{
	printf("policy %s (epoch %lld) removed: every packet passes; `policy rollback` puts it "
	       "back\n",
	       s_of(r, "removed"), i_of(r, "epoch"));
}

static void
print_policy_brief(const char *what, json_t *p)
{
	if (!json_is_object(p)) {
		printf("%-9s none\n", what);
		return;
	}
	printf("%-9s %s (epoch %lld): %lld rules, %lld entries (%lld IPv4, %lld IPv6), default %s%s\n",
	       what, s_of(p, "path"), i_of(p, "epoch"), i_of(p, "rules"), i_of(p, "entries"),
	       i_of(p, "entries_ipv4"), i_of(p, "entries_ipv6"), s_of(p, "default"),
	       json_is_true(json_object_get(p, "default_log")) ? " log" : "");
}

static void
print_policy_status(json_t *r)
{
	print_policy_brief("current", json_object_get(r, "current"));
	print_policy_brief("previous", json_object_get(r, "previous"));
}

static void
print_fw_show(json_t *r)
{
	size_t i;
	json_t *v;

	print_policy_brief("policy", json_object_get(r, "policy"));
	printf("%-32s %-7s %-4s %8s %12s %14s\n", "RULE", "ACTION", "LOG", "ENTRIES", "PACKETS",
	       "BYTES");
	json_array_foreach(json_object_get(r, "rules"), i, v)
		printf("%-32s %-7s %-4s %8lld %12lld %14lld\n", s_of(v, "id"), s_of(v, "action"),
		       json_is_true(json_object_get(v, "log")) ? "yes" : "-", i_of(v, "entries"),
		       i_of(v, "packets"), i_of(v, "bytes"));
	if (json_is_object(json_object_get(r, "log"))) {
		json_t *l = json_object_get(r, "log");

		printf("log: %lld lines written, %lld packets to pcapng; dropped: %lld queue full, "
		       "%lld over the rate; %lld write errors\n",
		       i_of(l, "written"), i_of(l, "pcap_written"), i_of(l, "dropped_full"),
		       i_of(l, "rate_limited"), i_of(l, "write_errors"));
	}
}

static void
endpoint(char *buf, size_t len, json_t *c, const char *addr, const char *port)
{
	const char *a = s_of(c, addr);
	bool v6 = strchr(a, ':') != NULL;

	if (json_object_get(c, port))
		snprintf(buf, len, v6 ? "[%s]:%lld" : "%s:%lld", a, i_of(c, port));
	else
		snprintf(buf, len, "%s", a);
}

static void
print_ct_list(json_t *r)
{
	size_t i;
	json_t *c;

	printf("%-6s %-30s %-30s %-17s %-11s %-11s %-16s %8s %8s\n", "PROTO", "SOURCE",
	       "DESTINATION", "SEGMENTS", "STATE", "CT", "RULE", "EXPIRES", "PACKETS");
	json_array_foreach(json_object_get(r, "connections"), i, c) {
		char src[64], dst[64], segs[80];

		endpoint(src, sizeof(src), c, "src", "sport");
		endpoint(dst, sizeof(dst), c, "dst", "dport");
		snprintf(segs, sizeof(segs), "%s>%s", s_of(c, "src_segment"),
			 s_of(c, "dst_segment"));
		printf("%-6s %-30s %-30s %-17s %-11s %-11s %-16s %7.0fs %8lld\n", s_of(c, "proto"),
		       src, dst, segs, s_of(c, "state"), s_of(c, "ct_state"), s_of(c, "rule"),
		       json_real_value(json_object_get(c, "expires_in_s")),
		       i_of(c, "packets_orig") + i_of(c, "packets_reply"));
	}
	printf("%lld connection(s)%s\n", i_of(r, "total"),
	       json_is_true(json_object_get(r, "truncated")) ? " (list truncated: limit=N)" : "");
}

static void
print_ct_stats(json_t *r)
{
	const char *k;
	json_t *v;

	printf("connections %lld of %lld (management reserve %lld), port limit %lld\n",
	       i_of(r, "connections"), i_of(r, "capacity"), i_of(r, "mgmt_reserve"),
	       i_of(r, "port_limit"));
	printf("created %lld, deleted %lld, expired %lld, early drops %lld, related %lld, "
	       "cut by policy %lld, reopened %lld\n",
	       i_of(r, "created"), i_of(r, "deleted"), i_of(r, "expired"), i_of(r, "early_drops"),
	       i_of(r, "related"), i_of(r, "policy_cut"), i_of(r, "reopened"));
	printf("timeouts (s):");
	json_object_foreach(json_object_get(r, "timeouts_s"), k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\nrefusals and INVALID packets: hvnetctl stats (firewall stage)\n");
}

static void
print_ct_flush(json_t *r)
{
	printf("%lld connection(s) flushed\n", i_of(r, "flushed"));
}

static void
print_live_trace(json_t *r)
{
	json_t *c = json_object_get(r, "connection");

	fputs(s_of(r, "explain"), stdout);
	if (json_is_object(c))
		printf("connection: %s %s state %s (%s), worker %lld: the packet belongs to it\n",
		       s_of(c, "proto"), s_of(c, "src"), s_of(c, "state"), s_of(c, "ct_state"),
		       i_of(c, "worker"));
	else
		printf("connection: none tracked; the rules decide (a TCP packet other than a SYN "
		       "would be INVALID)\n");
	printf("live verdict: %s (compiled classifier: rule %s)\n", s_of(r, "verdict"),
	       s_of(r, "rule"));
}

static void
add_filters(json_t *args, int argc, char **argv, int from, const char *what)
{
	for (int i = from; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == NULL || (strncmp(argv[i], "segment=", 8) &&
				   strncmp(argv[i], "port=", 5) && strncmp(argv[i], "proto=", 6) &&
				   strncmp(argv[i], "host=", 5) && strncmp(argv[i], "limit=", 6)))
			usage_error("%s: unknown filter '%s' (segment= port= proto= host= limit=)",
				    what, argv[i]);
		if (strncmp(argv[i], "limit=", 6) == 0) {
			char *end;
			long v = strtol(eq + 1, &end, 10);

			if (*end || v <= 0)
				usage_error("%s: limit '%s' is not a positive number", what,
					    eq + 1);
			json_object_set_new(args, "limit", json_integer(v));
			continue;
		}
		add_kv(args, argv[i], false, what);
	}
}

static void
print_vtep_show(json_t *r)
{
	json_t *c = json_object_get(r, "counters"), *p, *v, *seg;
	const char *k;
	size_t i, j;

	if (!json_is_true(json_object_get(r, "active"))) {
		printf("overlay configured but not active: %s\n", s_of(r, "error"));
		return;
	}
	printf("local %s on uplink %s, UDP port %lld, TTL %lld, learn %s, UDP checksum %s\n",
	       s_of(r, "local"), s_of(r, "uplink"), i_of(r, "udp_port"), i_of(r, "ttl"),
	       json_is_true(json_object_get(r, "learn")) ? "yes" : "no",
	       json_is_true(json_object_get(r, "udp_checksum")) ? "computed" : "0 (RFC 7348)");
	printf("uplink MTU %lld, overlay MTU %lld\n", i_of(r, "uplink_mtu"), i_of(r, "mtu"));
	printf("VNIs:");
	json_array_foreach(json_object_get(r, "vnis"), i, v)
		printf(" %s=%lld", s_of(v, "segment"), i_of(v, "vni"));
	printf("\n%-16s %-18s %-24s %10s %10s %6s %8s\n", "PEER", "UNDERLAY MAC", "SEGMENTS", "RX",
	       "TX", "MACS", "DROPS");
	json_array_foreach(json_object_get(r, "peers"), i, p) {
		char segs[128] = "";
		size_t n = 0;

		json_array_foreach(json_object_get(p, "segments"), j, seg)
			if (n < sizeof(segs))
				n += (size_t)snprintf(segs + n, sizeof(segs) - n, "%s%s",
						      j ? "," : "", json_string_value(seg));
		printf("%-16s %-18s %-24s %10lld %10lld %6lld %8lld\n", s_of(p, "address"),
		       json_is_string(json_object_get(p, "mac")) ? s_of(p, "mac") : "(unresolved)",
		       segs, i_of(p, "rx_packets"), i_of(p, "tx_packets"), i_of(p, "macs"),
		       i_of(p, "drops"));
	}
	printf("counters:");
	json_object_foreach(c, k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\ndrops:");
	json_object_foreach(json_object_get(r, "drops"), k, v)
		if (json_integer_value(v) != 0 || g_all)
			printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
}

static struct request
parse_command(int argc, char **argv)
{
	struct request rq = {.args = json_object(), .print = print_raw};
	const char *obj = argv[0], *verb = argc > 1 ? argv[1] : NULL;

	if (strcmp(obj, "version") == 0) {
		need(argc, 1, 1, "version");
		rq.cmd = "version";
		rq.print = print_version;
	} else if (strcmp(obj, "port") == 0) {
		if (verb == NULL)
			usage_error("'port' needs a command: list, show, add, del");
		if (strcmp(verb, "list") == 0) {
			need(argc, 2, 2, "port list");
			rq.cmd = "port.list";
			rq.print = print_ports;
		} else if (strcmp(verb, "show") == 0) {
			need(argc, 3, 3, "port show NAME");
			rq.cmd = "port.show";
			json_object_set_new(rq.args, "name", json_string(argv[2]));
			rq.print = print_port;
		} else if (strcmp(verb, "add") == 0) {
			json_t *opts = json_object();

			need(argc, 5, -1, "port add NAME KIND SEGMENT");
			rq.cmd = "port.add";
			json_object_set_new(rq.args, "name", json_string(argv[2]));
			json_object_set_new(rq.args, "kind", json_string(argv[3]));
			json_object_set_new(rq.args, "segment", json_string(argv[4]));
			for (int i = 5; i < argc; i++)
				add_kv(opts, argv[i], false, "port option");
			json_object_set_new(rq.args, "options", opts);
			rq.print = print_port;
		} else if (strcmp(verb, "del") == 0) {
			need(argc, 3, 3, "port del NAME");
			rq.cmd = "port.del";
			json_object_set_new(rq.args, "name", json_string(argv[2]));
			rq.print = print_port_del;
		} else {
			usage_error("unknown port command '%s' (list, show, add, del)", verb);
		}
	} else if (strcmp(obj, "segment") == 0) {
		if (verb == NULL)
			usage_error("'segment' needs a command: list, show, add, del");
		if (strcmp(verb, "list") == 0) {
			need(argc, 2, 2, "segment list");
			rq.cmd = "segment.list";
			rq.print = print_segments;
		} else if (strcmp(verb, "show") == 0 || strcmp(verb, "add") == 0 ||
			   strcmp(verb, "del") == 0) {
			need(argc, 3, verb[0] == 'a' ? 4 : 3, "segment show|add|del NAME");
			rq.cmd = verb[0] == 's'	  ? "segment.show"
				 : verb[0] == 'a' ? "segment.add"
						  : "segment.del";
			json_object_set_new(rq.args, "name", json_string(argv[2]));
			if (argc == 4) {
				const char *v = argv[3];
				char *end;
				unsigned long n;

				if (strncmp(v, "mac-limit=", 10) != 0)
					usage_error(
						"segment add: unknown option '%s' (mac-limit=N)",
						v);
				errno = 0;
				n = strtoul(v + 10, &end, 10);
				if (errno || *end || end == v + 10 || n > UINT32_MAX)
					usage_error("segment add: '%s' is not a number", v + 10);
				json_object_set_new(rq.args, "mac_limit",
						    json_integer((json_int_t)n));
			}
			rq.print = verb[0] == 'd' ? print_ok : print_segment;
		} else {
			usage_error("unknown segment command '%s' (list, show, add, del)", verb);
		}
	} else if (strcmp(obj, "mac") == 0) {
		if (verb == NULL)
			usage_error("'mac' needs a command: show, flush");
		if (strcmp(verb, "show") == 0) {
			need(argc, 2, 3, "mac show [SEGMENT]");
			rq.cmd = "mac.show";
			if (argc == 3)
				json_object_set_new(rq.args, "segment", json_string(argv[2]));
			rq.print = print_macs;
		} else if (strcmp(verb, "flush") == 0) {
			need(argc, 2, 4, "mac flush [SEGMENT] [port=NAME]");
			rq.cmd = "mac.flush";
			for (int i = 2; i < argc; i++) {
				if (strncmp(argv[i], "port=", 5) == 0)
					json_object_set_new(rq.args, "port",
							    json_string(argv[i] + 5));
				else if (strchr(argv[i], '=') == NULL)
					json_object_set_new(rq.args, "segment",
							    json_string(argv[i]));
				else
					usage_error("mac flush: unknown option '%s'", argv[i]);
			}
			rq.print = print_flushed;
		} else {
			usage_error("unknown mac command '%s' (show, flush)", verb);
		}
	} else if (strcmp(obj, "stats") == 0) {
		if (verb != NULL && strcmp(verb, "clear") == 0) {
			need(argc, 2, 2, "stats clear");
			rq.cmd = "stats.clear";
			rq.print = print_ok;
		} else {
			need(argc, 1, 1, "stats");
			rq.cmd = "stats";
			rq.print = print_stats_cb;
		}
	} else if (strcmp(obj, "policy") == 0) {
		if (verb == NULL)
			usage_error("'policy' needs a command");
		if (strcmp(verb, "apply") == 0) {
			char abs[PATH_MAX];

			need(argc, 3, 3, "policy apply FILE");
			/* the daemon reads the file: give it a path that does not depend on our cwd */
			if (realpath(argv[2], abs) == NULL)
				usage_error("policy apply: %s: %s", argv[2], strerror(errno));
			rq.cmd = "policy.apply";
			json_object_set_new(rq.args, "path", json_string(abs));
			rq.print = print_policy_change;
		} else if (strcmp(verb, "rollback") == 0) {
			need(argc, 2, 2, "policy rollback");
			rq.cmd = "policy.rollback";
			rq.print = print_policy_change;
		} else if (strcmp(verb, "clear") == 0) {
			need(argc, 2, 2, "policy clear");
			rq.cmd = "policy.clear";
			rq.print = print_policy_cleared;
		} else if (strcmp(verb, "status") == 0) {
			need(argc, 2, 2, "policy status");
			rq.cmd = "policy.status";
			rq.print = print_policy_status;
		} else if (strcmp(verb, "trace") == 0) {
			need(argc, 3, 3, "policy trace 'PACKET'");
			rq.cmd = "policy.trace";
			json_object_set_new(rq.args, "packet", json_string(argv[2]));
			rq.print = print_live_trace;
		} else {
			usage_error("unknown policy command '%s'", verb);
		}
	} else if (strcmp(obj, "route") == 0) {
		if (verb == NULL || strcmp(verb, "show") != 0)
			usage_error("'route' has one command: show");
		need(argc, 2, 2, "route show");
		rq.cmd = "route.show";
		rq.print = print_routes;
	} else if (strcmp(obj, "neigh") == 0) {
		if (verb == NULL || strcmp(verb, "show") != 0)
			usage_error("'neigh' has one command: show");
		need(argc, 2, 3, "neigh show [SEGMENT]");
		rq.cmd = "neigh.show";
		if (argc == 3)
			json_object_set_new(rq.args, "segment", json_string(argv[2]));
		rq.print = print_neighs;
	} else if (strcmp(obj, "fw") == 0) {
		if (verb == NULL || strcmp(verb, "show") != 0)
			usage_error("'fw' has one command: show");
		need(argc, 2, 2, "fw show");
		rq.cmd = "fw.show";
		rq.print = print_fw_show;
	} else if (strcmp(obj, "ct") == 0) {
		if (verb == NULL)
			usage_error("'ct' needs a command: list, stats, flush");
		if (strcmp(verb, "list") == 0) {
			rq.cmd = "ct.list";
			add_filters(rq.args, argc, argv, 2, "ct list");
			rq.print = print_ct_list;
		} else if (strcmp(verb, "stats") == 0) {
			need(argc, 2, 2, "ct stats");
			rq.cmd = "ct.stats";
			rq.print = print_ct_stats;
		} else if (strcmp(verb, "flush") == 0) {
			rq.cmd = "ct.flush";
			add_filters(rq.args, argc, argv, 2, "ct flush");
			json_object_del(rq.args, "limit");
			rq.print = print_ct_flush;
		} else {
			usage_error("unknown ct command '%s' (list, stats, flush)", verb);
		}
	} else if (strcmp(obj, "mirror") == 0) {
		if (verb == NULL)
			usage_error("'mirror' needs a command: list, show, add, del");
		rq.print = hv_cli_print_mirrors;
		if (strcmp(verb, "list") == 0) {
			need(argc, 2, 2, "mirror list");
			rq.cmd = "mirror.list";
		} else if (strcmp(verb, "show") == 0 || strcmp(verb, "del") == 0) {
			need(argc, 3, 3, "mirror show|del NAME");
			rq.cmd = verb[0] == 's' ? "mirror.show" : "mirror.del";
			json_object_set_new(rq.args, "name", json_string(argv[2]));
		} else if (strcmp(verb, "add") == 0) {
			char err[256];

			need(argc, 3, -1, "mirror add NAME ... to DEST");
			rq.cmd = "mirror.add";
			if (hv_cli_mirror_add_args(argc - 2, argv + 2, rq.args, err, sizeof(err)) !=
			    0)
				usage_error("%s", err);
		} else {
			usage_error("unknown mirror command '%s' (list, show, add, del)", verb);
		}
	} else if (strcmp(obj, "vtep") == 0) {
		if (verb != NULL && strcmp(verb, "neigh") == 0) {
			need(argc, 4, 4, "vtep neigh ADDRESS MAC");
			rq.cmd = "vtep.neigh";
			json_object_set_new(rq.args, "address", json_string(argv[2]));
			json_object_set_new(rq.args, "mac", json_string(argv[3]));
		} else if (verb != NULL && strcmp(verb, "show") == 0) {
			need(argc, 2, 2, "vtep show");
			rq.cmd = "vtep.show";
			rq.print = print_vtep_show;
		} else {
			usage_error("'vtep' commands: show, neigh ADDRESS MAC");
		}
	} else if (strcmp(obj, "raw") == 0) {
		need(argc, 2, 3, "raw CMD [JSON-ARGS]");
		rq.cmd = argv[1];
		if (argc == 3) {
			json_error_t jerr;

			json_decref(rq.args);
			rq.args = json_loads(argv[2], 0, &jerr);
			if (rq.args == NULL)
				usage_error("raw: JSON-ARGS: column %d: %s", jerr.column,
					    jerr.text);
		}
	} else {
		usage_error("unknown object '%s' (version, port, segment, mac, stats, policy, fw, "
			    "ct, mirror, capture, vtep, lab, raw)",
			    obj);
	}
	return rq;
}

int
main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"instance", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.socket = getenv("HVNET_SOCKET"), .timeout_ms = 5000};
	static char inst_path[108];
	struct request rq;
	json_t *reply = NULL, *err;
	int c, fd, rc;

	if (o.socket == NULL || o.socket[0] == '\0')
		o.socket = HV_CTL_DEFAULT_PATH;
	/* '+': options stop at the first command word, except --json/--all anywhere (below). */
	while ((c = getopt_long(argc, argv, "+s:i:jat:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 'i':
			if (snprintf(inst_path, sizeof(inst_path), "/run/hvnet/%s.sock", optarg) >=
			    (int)sizeof(inst_path))
				usage_error("instance name '%s' is too long", optarg);
			o.socket = inst_path;
			break;
		case 'j':
			o.json = true;
			break;
		case 'a':
			o.all = true;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > 3600000)
				usage_error("--timeout '%s' is not a number of milliseconds",
					    optarg);
			o.timeout_ms = (int)v;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'hvnetctl --help'.\n");
			return EXIT_USAGE;
		}
	}
	/* lab parses its own words: lab exec hands them to a command as they are */
	if (optind < argc && strcmp(argv[optind], "lab") == 0)
		return hv_cli_lab(argc - optind, argv + optind, o.json);
	/* Accept --json / --all / -j / -a after the command words too. */
	int n = 0;
	char **words = argv + optind;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			o.json = true;
		else if (strcmp(argv[i], "--all") == 0 || strcmp(argv[i], "-a") == 0)
			o.all = true;
		else
			words[n++] = argv[i];
	}
	if (n == 0)
		usage_error("no command given");
	/* offline commands: no daemon */
	if (strcmp(words[0], "policy") == 0 &&
	    !(n >= 2 && (strcmp(words[1], "apply") == 0 || strcmp(words[1], "rollback") == 0 ||
			 strcmp(words[1], "status") == 0 || strcmp(words[1], "clear") == 0 ||
			 (strcmp(words[1], "trace") == 0 && n == 3))))
		return hv_cli_policy(n, words, o.json);
	g_all = o.all;
	/* capture keeps its connection open while hvnetd writes */
	if (strcmp(words[0], "capture") == 0)
		return hv_cli_capture(n, words, o.socket, o.json);
	rq = parse_command(n, words);

	fd = hv_ctl_connect(o.socket);
	if (fd < 0) {
		fprintf(stderr, "hvnetctl: cannot connect to %s: %s\n", o.socket, strerror(-fd));
		if (fd == -ENOENT || fd == -ECONNREFUSED)
			fprintf(stderr, "  hint: is hvnetd running? (-s PATH or -i INSTANCE picks "
					"another daemon)\n");
		json_decref(rq.args);
		return EXIT_CONNECT;
	}
	rc = hv_ctl_call(fd, rq.cmd, rq.args, o.timeout_ms, &reply);
	close(fd);
	if (rc != 0) {
		fprintf(stderr, "hvnetctl: %s: %s\n", rq.cmd,
			rc == -ETIMEDOUT ? "no reply from hvnetd (timed out)"
			: rc == -EPROTO	 ? "hvnetd sent a reply that is not JSON"
					 : strerror(-rc));
		return EXIT_PROTO;
	}
	if (!json_is_boolean(json_object_get(reply, "ok"))) {
		fprintf(stderr, "hvnetctl: %s: reply without 'ok'\n", rq.cmd);
		json_decref(reply);
		return EXIT_PROTO;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		err = json_object_get(reply, "error");
		if (o.json) {
			char *s = json_dumps(err, JSON_INDENT(2));

			fprintf(stderr, "%s\n", s ? s : "{}");
			free(s);
		}
		fprintf(stderr, "hvnetctl: %s: %s (%s)\n", rq.cmd, s_of(err, "message"),
			s_of(err, "code"));
		if (json_is_string(json_object_get(err, "hint")))
			fprintf(stderr, "  hint: %s\n", s_of(err, "hint"));
		json_decref(reply);
		return EXIT_REFUSED;
	}
	if (o.json)
		print_raw(json_object_get(reply, "result"));
	else
		rq.print(json_object_get(reply, "result"));
	json_decref(reply);
	return EXIT_OK;
}
