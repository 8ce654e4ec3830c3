/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hvnet language: policy and lab files.
 *
 * One library, no DPDK, linked into hvnetctl, hvnetd and the lab launcher.
 * Reading a file goes through three passes, each keeping source locations:
 *
 *   hv_lang_parse_file()   lexer + parser -> AST (struct hv_prog); includes
 *   hv_lang_check()        names resolved, semantic checks -> IR (struct hv_ir)
 *   hv_lang_lint()         warnings that can be proven (shadowed rules, ...)
 *
 * Every problem goes into a struct hv_diags with file:line:column; a program
 * with any error yields no IR. See docs/language.md for the grammar.
 */
#ifndef HV_LANG_H
#define HV_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- source locations and diagnostics ---- */

struct hv_src; /* one file's text, kept for caret lines */

struct hv_loc {
	const struct hv_src *src;
	uint32_t line; /* 1-based */
	uint32_t col;  /* 1-based, in bytes */
	uint32_t len;  /* bytes to underline, at least 1 */
};

enum hv_diag_sev {
	HV_DIAG_ERROR,
	HV_DIAG_WARNING,
	HV_DIAG_NOTE,
};

struct hv_diag {
	enum hv_diag_sev sev;
	struct hv_loc loc;
	char *msg;  /* what is wrong and what was expected */
	char *hint; /* "did you mean ...?" or what to do; may be NULL */
};

#define HV_DIAG_MAX 50 /* errors reported per run; the rest are counted */

struct hv_diags {
	struct hv_diag *v;
	size_t n, cap;
	size_t n_errors, n_warnings;
	size_t n_dropped; /* beyond HV_DIAG_MAX */
};

const char *hv_src_path(const struct hv_src *src);
void hv_diags_free(struct hv_diags *d);
/* file:line:col: severity: message, the source line, a caret, the hint */
void hv_diags_print(FILE *f, const struct hv_diags *d);
/* as above, one diagnostic */
void hv_diag_print(FILE *f, const struct hv_diag *dg);

/* ---- addresses ---- */

struct hv_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t plen;
	uint8_t a[16]; /* network order; IPv4 in a[0..3]; host bits zero */
};

/* "10.0.0.0/8", "10.0.0.1" (a /32), "2001:db8::/32"; false if not one */
bool hv_prefix_parse(const char *s, struct hv_prefix *p, bool *host_bits_set);
/* as text, with /len unless a full-length host */
void hv_prefix_format(const struct hv_prefix *p, char *buf, size_t len);
bool hv_prefix_contains(const struct hv_prefix *outer, const struct hv_prefix *inner);
bool hv_prefix_overlap(const struct hv_prefix *a, const struct hv_prefix *b);

/* ---- the AST (struct hv_prog) ---- */

#define HV_VEC(T)              \
	struct {               \
		T *v;          \
		size_t n, cap; \
	}

struct hv_ref {
	char *name;
	struct hv_loc loc;
};

enum hv_seg_class {
	HV_CLASS_NONE,
	HV_CLASS_MANAGEMENT,
	HV_CLASS_INFRASTRUCTURE,
	HV_CLASS_APPLICATION,
};

struct hv_loc_prefix {
	struct hv_prefix p;
	struct hv_loc loc;
};

struct hv_segment {
	char *name;
	struct hv_loc loc;
	uint16_t id; /* position among segments, set by the checker */
	enum hv_seg_class cls;
	bool has_vni;
	uint32_t vni;
	HV_VEC(struct hv_loc_prefix) subnets;
	HV_VEC(struct hv_loc_prefix) gateways; /* host prefixes */
	uint32_t conn_limit;		       /* 0: none */
	uint32_t mac_limit;		       /* 0: none */
	uint32_t mtu;			       /* 0: default */
	bool router_adv; /* router-advertisements: the IPv6 gateway sends RAs */
	struct hv_loc router_adv_loc;
};

/* protocol numbers; 0 in a rule or service item means any protocol */
#define HV_PROTO_ANY	0
#define HV_PROTO_ICMP	1
#define HV_PROTO_TCP	6
#define HV_PROTO_UDP	17
#define HV_PROTO_ICMPV6 58

struct hv_svc_item {
	struct hv_loc loc;
	uint8_t proto;
	uint16_t lo, hi;   /* destination ports (tcp/udp); 0-65535 when unset */
	int16_t icmp_type; /* icmp/icmpv6 type, -1 = any */
};

struct hv_service {
	char *name;
	struct hv_loc loc;
	HV_VEC(struct hv_svc_item) items;
	HV_VEC(struct hv_ref) uses; /* other services included by name */
	size_t n_own;		    /* items written here; the rest come from uses */
	bool used;
	bool resolving, resolved; /* for definition cycles */
};

struct hv_set {
	char *name;
	struct hv_loc loc;
	HV_VEC(struct hv_loc_prefix) members;
	HV_VEC(struct hv_ref) uses; /* other sets included by name */
	size_t n_own;		    /* members written here */
	bool used;
	bool resolving, resolved;
};

struct hv_nic {
	char *name;
	struct hv_loc loc;
	struct hv_ref segment;
	uint16_t seg_id;
	bool has_mac;
	uint8_t mac[6];
	struct hv_loc mac_loc;
	HV_VEC(struct hv_loc_prefix) ips; /* address + the subnet length written */
	uint32_t mtu;
	uint32_t conn_limit; /* connections its port may open; 0: the daemon's default */
};

enum hv_guest_kind {
	HV_GUEST_NETNS,
	HV_GUEST_QEMU,
};

struct hv_guest {
	char *name;
	struct hv_loc loc;
	enum hv_guest_kind kind;
	bool has_kind;
	uint64_t memory; /* bytes, qemu */
	uint32_t cpus;
	char *image;
	HV_VEC(struct hv_nic) nics;
};

enum hv_action {
	HV_ALLOW,
	HV_BLOCK,
	HV_REJECT,
};

enum hv_term_kind {
	HV_TERM_NAME,	 /* a segment or a guest, resolved by the checker */
	HV_TERM_SEGMENT, /* segment NAME */
	HV_TERM_GUEST,	 /* guest NAME */
	HV_TERM_SET,	 /* @NAME or set NAME */
	HV_TERM_PREFIX,	 /* an address or prefix */
	HV_TERM_PORT,	 /* port NAME: the ingress switch port (source only) */
	HV_TERM_NIC,	 /* nic GUEST.NIC: the port lab up gives that NIC (source only) */
};

struct hv_term {
	enum hv_term_kind kind;
	struct hv_ref ref;
	struct hv_prefix prefix;
	void *target;	 /* resolved: struct hv_segment, hv_guest or hv_set */
	uint8_t port_id; /* HV_TERM_PORT, HV_TERM_NIC: its id in hv_ir.ports, set by the checker */
	char *port;	 /* HV_TERM_NIC: the port's name, GUEST-NIC, set by the checker */
};

struct hv_endpoint {
	struct hv_loc loc;
	bool any;
	/* at most one segment-like term (segment or guest), then address
	 * terms that narrow it; a list of alternatives is written { a, b } */
	HV_VEC(struct hv_term) terms;
};

struct hv_rule {
	char *label; /* NULL: the id is file:line */
	char *id;    /* label, or file:line; set by the parser */
	struct hv_loc loc;
	enum hv_action action;
	bool log;
	uint32_t log_rate; /* per second; 0 = the default */
	uint32_t log_burst;
	bool is_default;
	bool has_from, has_to;
	struct hv_endpoint from, to;
	HV_VEC(struct hv_ref) services; /* named services */
	HV_VEC(struct hv_svc_item) inline_svc;
	uint32_t index; /* position in the policy, set by the checker */
	bool broken;	/* did not parse; the checker skips it */
};

struct hv_policy {
	char *name; /* may be NULL */
	struct hv_loc loc;
	HV_VEC(struct hv_rule) rules; /* without the default */
	bool has_default;
	struct hv_rule dflt;
	char *log_file;	  /* log-file "PATH": JSON lines of logged verdicts; NULL: none */
	char *log_pcapng; /* log-pcapng "PATH": the dropped packets that were logged */
};

enum hv_direction {
	HV_DIR_BOTH,
	HV_DIR_INGRESS,
	HV_DIR_EGRESS,
};

enum hv_verdict_sel {
	HV_VERDICT_ANY,
	HV_VERDICT_ALLOWED,
	HV_VERDICT_BLOCKED,
};

enum hv_dest_kind {
	HV_DEST_PCAP,
	HV_DEST_PORT,
	HV_DEST_REMOTE,
};

struct hv_mirror_dest {
	enum hv_dest_kind kind;
	struct hv_loc loc;
	char *path;	      /* pcap */
	uint64_t rotate_size; /* bytes, 0 = none */
	uint32_t rotate_secs; /* 0 = none */
	uint32_t keep;	      /* files kept, 0 = unbounded */
	char *port;	      /* port */
	char *netns;
	bool vlan_tag;
	struct hv_prefix remote; /* remote */
	bool erspan;		 /* else vxlan */
	uint32_t remote_id;	 /* VNI or ERSPAN session id */
};

struct hv_mirror {
	char *name;
	struct hv_loc loc;
	HV_VEC(struct hv_ref) segments;
	HV_VEC(struct hv_ref) ports;
	enum hv_direction dir;
	enum hv_verdict_sel verdict;
	bool tap_delivered; /* else wire */
	char *filter;
	struct hv_loc filter_loc;
	uint32_t snaplen; /* 0 = whole frame */
	uint32_t sample;  /* 1 in N, 1 = all */
	HV_VEC(struct hv_mirror_dest) dests;
};

struct hv_peer {
	struct hv_prefix addr;
	struct hv_loc loc;
	HV_VEC(struct hv_ref) segments; /* empty: every segment with a VNI */
};

struct hv_overlay {
	bool present;
	struct hv_loc loc;
	bool has_local;
	struct hv_prefix local;
	char *dev;
	uint16_t port; /* 4789 unless set */
	uint8_t ttl;
	bool learn;
	bool udp_csum; /* udp-checksum yes: compute the outer UDP checksum (RFC 7348: 0) */
	HV_VEC(struct hv_peer) peers;
};

struct hv_prog {
	struct hv_src *srcs; /* every file read, for diagnostics */
	HV_VEC(struct hv_segment) segments;
	HV_VEC(struct hv_service) services;
	HV_VEC(struct hv_set) sets;
	HV_VEC(struct hv_guest) guests;
	HV_VEC(struct hv_policy) policies;
	HV_VEC(struct hv_mirror) mirrors;
	struct hv_overlay overlay;
	size_t n_rules;
};

/* Limits that bound what hostile input can make the library do. */
#define HV_LANG_MAX_FILE	(64u << 20) /* bytes per file */
#define HV_LANG_MAX_INCLUDE	16	    /* include depth */
#define HV_LANG_MAX_FILES	256	    /* files per program */
#define HV_LANG_MAX_NESTING	16	    /* brace depth */
#define HV_LANG_MAX_IR		(8u << 20)  /* IR entries after expansion */
#define HV_LANG_MAX_EXPAND_RULE 65536	    /* IR entries from one rule */

/*
 * Parse FILE (and what it includes) into a new program. Returns NULL only on
 * out-of-memory; errors go to D and leave a partial AST that must not be
 * used for anything but freeing.
 */
struct hv_prog *hv_lang_parse_file(const char *path, struct hv_diags *d);
/* Parse text held in memory; NAME is what diagnostics call it. Includes are
 * resolved from the current directory unless ALLOW_INCLUDE is false. */
struct hv_prog *hv_lang_parse_buffer(const char *name, const char *text, size_t len,
				     bool allow_include, struct hv_diags *d);
/* Parse several files into one program, in order (as if included). */
struct hv_prog *hv_lang_parse_files(const char *const *paths, size_t n, struct hv_diags *d);
void hv_prog_free(struct hv_prog *p);

/* ---- the IR: a flat, ordered rule list and the resolved topology ---- */

#define HV_SEG_ANY 0xffff

/*
 * Port names a policy may use in `port NAME` terms: hvnetd's port names
 * (1-31 letters, digits, '-', '_', '.'). The IR numbers the distinct names
 * of a policy from 1 (hv_ir.ports[id - 1]); 0 is "no port term", which an
 * entry reads as any port and a packet as a port the policy does not name.
 * The classifier keeps the id in one byte.
 */
#define HV_PORT_NAME_MAX 31
#define HV_IR_MAX_PORTS	 255
bool hv_port_name_valid(const char *s);

struct hv_ir_rule {
	uint32_t rule;	  /* index into hv_ir.rules (the source rule) */
	uint16_t src_seg; /* HV_SEG_ANY or a segment id */
	uint16_t dst_seg;
	uint8_t family;	 /* 0: any (no address constraint on either side), 4, 6 */
	uint8_t proto;	 /* HV_PROTO_ANY or a number */
	uint8_t in_port; /* 0: any ingress port; else the id of a name in hv_ir.ports */
	int16_t icmp_type;
	struct hv_prefix src, dst; /* plen 0: any address of the family */
	uint16_t dport_lo, dport_hi;
};

struct hv_ir_rule_info {
	const struct hv_rule *rule; /* id, location, action, log */
	size_t first, count;	    /* its entries in hv_ir.entries */
	const char *never;	    /* count == 0: why it can never match */
};

struct hv_ir {
	const struct hv_prog *prog; /* the topology: segments, guests, mirrors, overlay */
	const struct hv_policy *policy;
	struct hv_ir_rule_info *rules; /* in order, without the default */
	size_t n_rules;
	const struct hv_rule *dflt; /* NULL: no default written (block, no log) */
	struct hv_ir_rule *entries; /* in first-match order */
	size_t n_entries;
	enum hv_action default_action; /* block when the policy has no default */
	bool default_log;
	/* the port names of the policy's `port` terms, in order of first use;
	 * name i has id i + 1; the strings belong to the program */
	const char **ports;
	size_t n_ports;
};

/* The id of port NAME in IR (1..n_ports), or 0 when the policy does not name it. */
uint8_t hv_ir_port_id(const struct hv_ir *ir, const char *name);

/* Resolve and check P; on success (no errors) return its IR. */
struct hv_ir *hv_lang_check(struct hv_prog *p, struct hv_diags *d);
void hv_ir_free(struct hv_ir *ir);
/* Warnings that can be proven; adds to D. */
void hv_lang_lint(const struct hv_ir *ir, struct hv_diags *d);

/* Canonical form of the program (one file, includes inlined). */
void hv_prog_print(FILE *f, const struct hv_prog *p);
/* The IR, one entry a line (for golden tests and `policy show --ir`). */
void hv_ir_print(FILE *f, const struct hv_ir *ir);

/* ---- trace: which rule decides a packet ---- */

struct hv_trace_pkt {
	uint8_t proto;
	struct hv_prefix src, dst; /* host prefixes */
	uint16_t sport, dport;
	int16_t icmp_type;
	uint16_t src_seg, dst_seg;	    /* HV_SEG_ANY: from the addresses */
	char in_port[HV_PORT_NAME_MAX + 1]; /* the ingress port; "": none given */
};

/* "tcp 10.30.0.11:40000 -> 10.20.0.21:5432", "icmp 10.0.0.1 -> 10.0.0.2",
 * "udp [2001:db8::1]:53 -> [2001:db8::2]:53", each optionally followed by
 * "port NAME", the ingress port; on failure ERR says why. */
bool hv_trace_parse(const char *s, struct hv_trace_pkt *pkt, char *err, size_t errlen);

struct hv_trace_result {
	bool src_seg_known, dst_seg_known;
	uint16_t src_seg, dst_seg;
	const struct hv_ir_rule *entry; /* NULL: no rule matched: the default */
	const struct hv_rule *rule;	/* the deciding rule (the default too), or NULL */
	enum hv_action action;
	bool log;
};

void hv_trace_run(const struct hv_ir *ir, const struct hv_trace_pkt *pkt,
		  struct hv_trace_result *res);
/* the verdict and why, in words */
void hv_trace_explain(FILE *f, const struct hv_ir *ir, const struct hv_trace_pkt *pkt,
		      const struct hv_trace_result *res);

const char *hv_action_name(enum hv_action a);
const char *hv_class_name(enum hv_seg_class c);
const char *hv_proto_name(uint8_t proto);

#endif /* HV_LANG_H */
