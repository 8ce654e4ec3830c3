/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nftables backend: a checked policy (struct hv_ir) compiled to an
 * nftables ruleset for Linux bridges, printed in nft syntax or committed to
 * the kernel as one netlink batch (libnftnl objects over libmnl), so that an
 * apply is atomic. No DPDK; linked by hvnetctl. docs/nftables.md has the
 * mapping and every known difference from hvnetd.
 *
 * Shape of the ruleset (one table per lab):
 *
 *   table inet NAME     stateful rules in a prerouting chain; bridged IPv4/IPv6
 *                       reaches it through br_netfilter
 *                       (net.bridge.bridge-nf-call-ip{,6}tables = 1); with
 *                       opts.routing also chains forward, routed and input
 *   table bridge NAME   non-IP frames, when the default is not allow
 *   table ip/ip6 NAME   with opts.mirrors: the mirrors' dup copies
 *
 * A segment is a Linux bridge: a rule's segment is `iifname "BRIDGE"`.
 *
 * Threading: none; every function may be called from any one thread.
 * Library code: nothing is printed, errors come back as text in ERR.
 */
#ifndef HV_NFT_H
#define HV_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "firewall/lang/lang.h"

#define HV_NFT_NAME_MAX	 64    /* table name, bytes without the NUL */
#define HV_NFT_MAX_RULES 65536 /* nft rules in one ruleset (one batch) */
#define HV_NFT_IFNAMSIZ	 16    /* IFNAMSIZ */
#define HV_NFT_ERR_MAX	 512   /* a useful size for ERR buffers */

struct hv_nft_opts {
	const char *table; /* NULL: "hvnet" */
	/* bridge (interface) name of segment i, indexed by segment id; NULL or
	 * a NULL entry: the segment's own name */
	const char *const *bridges;
	size_t n_bridges;
	/* the segments' gateways route between their bridges (the kernel lab):
	 * every bridge carries hv_nft_gateway_mac() of its segment and the
	 * gateway addresses, IP forwarding is on, and the ruleset gets chains
	 * forward (routed packets to chain routed: the policy with the ingress
	 * segment as iifname and the destination segment as oifname) and input
	 * (pings of a gateway's own address and ND only). No effect on a policy
	 * without gateways. */
	bool routing;
	/* the file's mirrors as nft dup copies (the kernel lab; docs/nftables.md,
	 * "Mirrors"): a mirror port is the device named like the port, which
	 * must exist in the namespace at commit time, with
	 * permanent neighbour entries for HV_NFT_MIRROR_HOP4 and _HOP6 that
	 * carry the MAC the copies go to (hv_nft_commit resolves the ports in
	 * the namespace it commits to). A mirror the kernel cannot express is
	 * left out whole, with a note naming it and the feature. */
	bool mirrors;
	/* the interface VXLAN arrives on (the kernel lab's overlay), or NULL:
	 * the chains that see it accept UDP to VXLAN_PORT there, before the
	 * policy (the policy applies to the frames inside, on the bridges) */
	const char *underlay;
	uint16_t vxlan_port;
	/* where `log` rules send their lines: 0, the kernel log (`log prefix
	 * "RULE-ID: "`, level warning; from a namespace other than the initial
	 * one only with the host-wide sysctl net.netfilter.nf_log_all_netns=1);
	 * 1 to 65535, that NFLOG group of the namespace (`log prefix "RULE-ID: "
	 * group N`: to a netlink listener such as `tcpdump -i nflog:N`; none
	 * listening, the lines are lost). The kernel lab uses HV_NFT_LAB_LOG_GROUP. */
	uint16_t log_group;
	/* with mirrors: a mirror nft dup cannot express but tc can
	 * (hv_nft_mirror_tc_unsupported() is NULL) is left to the caller, with
	 * no note: the kernel lab copies it with tc mirred */
	bool tc_mirrors;
};

/* the NFLOG group of the kernel lab's log rules (docs/nftables.md, "Logging") */
#define HV_NFT_LAB_LOG_GROUP 1

/* Whether nft dup copies (opts.mirrors) express mirror M: NULL when they
 * do, else what they cannot (port selection, a filter, direction egress,
 * tap delivered, sampling, verdict allowed) */
const char *hv_nft_mirror_dup_unsupported(const struct hv_mirror *m);

/*
 * Whether tc (a cls_bpf classifier with mirred egress mirror actions on the
 * selected bridge ports: ingress for the wire tap, egress for the delivered
 * one) expresses mirror M: NULL when it does, else what it cannot (for a
 * note). tc sees frames, not verdicts: verdict any, or allowed at the
 * delivered tap (a delivered frame was allowed); no sampling. A filter is
 * compiled by the caller (libpcap, link type Ethernet).
 */
const char *hv_nft_mirror_tc_unsupported(const struct hv_mirror *m);

/* the next hops of the mirror copies (nft dup to ADDR device PORT) */
#define HV_NFT_MIRROR_HOP4 "169.254.68.76"
#define HV_NFT_MIRROR_HOP6 "fe80::6876"

struct hv_nft; /* a compiled ruleset, immutable */

/* The MAC of segment SEGMENT's gateway: the one hvnetd derives
 * (vswitch/gateway.c, hv_gw_mac_of), 02:68:76 and 24 bits of a hash of the
 * name, so that guests' neighbour caches agree on both datapaths. */
void hv_nft_gateway_mac(const char *segment, uint8_t mac[6]);

/*
 * Compile IR into a ruleset. Returns NULL and sets errno on failure, with
 * what and where in ERR: EINVAL for something the backend cannot express
 * (the rule's id and location, and the feature), ENOMEM, E2BIG past
 * HV_NFT_MAX_RULES. Nothing is half-built: the result is whole or NULL.
 */
struct hv_nft *hv_nft_compile(const struct hv_ir *ir, const struct hv_nft_opts *opts, char *err,
			      size_t errlen);
void hv_nft_free(struct hv_nft *n);

/* The ruleset in nft syntax, as `nft list ruleset` shows it once applied. */
void hv_nft_print(FILE *f, const struct hv_nft *n);

/* Notes about the compile (IR entries left out because they can never
 * match, ...), one line each; NULL past the last. */
const char *hv_nft_note(const struct hv_nft *n, size_t i);

size_t hv_nft_rule_count(const struct hv_nft *n);

/* The devices mirror copies go to (opts.mirrors), one name each; NULL past
 * the last. */
const char *hv_nft_mirror_port(const struct hv_nft *n, size_t i);

enum hv_nft_commit_mode {
	HV_NFT_APPLY, /* replace the tables of the same name, atomically */
	HV_NFT_CHECK, /* the kernel validates the same batch, then aborts it */
};

/*
 * Send the ruleset to the kernel in one batch: the tables of the same name
 * are deleted and created again in the same transaction, so applying twice
 * gives the same ruleset and a refused batch leaves the old one in force.
 * NETNS: a name under /run/netns, or a path to a namespace file, or NULL
 * for the caller's namespace (a short-lived thread enters it to open the
 * netlink socket; the caller's thread stays where it is). Returns 0 or -errno; on failure ERR names what the
 * kernel refused (the table, chain or rule and its hvnet rule id).
 */
int hv_nft_commit(const struct hv_nft *n, enum hv_nft_commit_mode mode, const char *netns,
		  char *err, size_t errlen);

/*
 * For tests of the kernel's refusal: appends to the prerouting chain a rule
 * that jumps to a chain that does not exist, which the kernel refuses
 * (ENOENT) after accepting everything before it. hvnetctl calls it when
 * HVNET_NFT_TEST_BREAK is set in the environment. Returns 0 or -ENOMEM.
 */
int hv_nft_break_for_test(struct hv_nft *n);

#endif /* HV_NFT_H */
