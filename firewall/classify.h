/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_FW_CLASSIFY_H
#define HV_FW_CLASSIFY_H

/*
 * The compiled policy: the IR of firewall/lang turned into two rte_acl
 * contexts (IPv4, IPv6) plus what the datapath needs beside them (rule ids,
 * actions, log settings, per-rule counters, connection limits).
 *
 * Life cycle (docs/threading.md): the control thread builds a struct hv_fw
 * off to the side with hv_fw_build(), publishes it with one pointer store,
 * and frees the previous one with hv_fw_free() after an RCU grace period.
 * Once built a struct hv_fw is immutable except for its counters, each of
 * which one worker writes. hv_fw_classify() may be called from any thread.
 *
 * Matching is the IR's first match: an ACL rule's priority falls with its
 * entry's position, so the highest-priority match is the first entry in IR
 * order; a packet no entry matches gets the default (rule index n_rules).
 *
 * Classification key (what a packet is matched on): protocol, source and
 * destination segment (the policy's segment ids: the datapath maps its own
 * segments to them by name), the ingress port (the policy's id of the
 * port's name, hv_fw_port_id(); 0 for a port the policy does not name,
 * which only entries without a port term match), addresses, and the
 * destination port. TCP/UDP carry their destination port; ICMP and ICMPv6
 * carry (type << 8 | code); everything else, non-first fragments included,
 * carries 0, so that a rule with a port range or an ICMP type never
 * matches them. No rule matches on the source port: it is not in the key.
 */

#include <stdbool.h>
#include <stdint.h>

#include "firewall/fwlog.h"

struct rte_acl_ctx;
struct hv_prog;
struct hv_ir;

/* actions: the values of enum hv_action of firewall/lang/lang.h */
#define HV_FW_ALLOW  0
#define HV_FW_BLOCK  1
#define HV_FW_REJECT 2

#define HV_FW_MAX_WORKERS 16
#define HV_FW_SEG_UNNAMED 0xfffd /* a switch segment the policy does not name */
#define HV_FW_MAX_SEGS	  1024	 /* policy segment ids are below this */

struct hv_fw_rule {
	char id[64];	/* the rule's label, or file:line; "default" */
	uint8_t action; /* HV_FW_ALLOW, HV_FW_BLOCK, HV_FW_REJECT */
	bool log;
	uint32_t log_rate; /* per second */
	uint32_t log_burst;
};

struct hv_fw_counter {
	uint64_t packets;
	uint64_t bytes;
};

struct hv_fw {
	uint64_t epoch;			 /* set by the owner before publication */
	struct rte_acl_ctx *acl4, *acl6; /* NULL when no entry of that family */
	uint32_t n_rules;		 /* rules[n_rules] is the default */
	struct hv_fw_rule *rules;
	uint32_t *entry_rule; /* ACL userdata - 1 -> rule index */
	uint32_t n_entries;
	uint32_t n_entries4, n_entries6;
	/* per policy segment: connection limit (0 none), management class */
	uint32_t seg_conn_limit[HV_FW_MAX_SEGS];
	uint8_t seg_mgmt[HV_FW_MAX_SEGS];
	/* per worker, n_rules + 1 counters; written by that worker only */
	unsigned n_workers;
	struct hv_fw_counter *cnt[HV_FW_MAX_WORKERS];
	/* the verdict log (NULL: the policy names no log-file), owned; per worker
	 * and rule, the log rate limiter */
	struct hv_fwlog *log;
	struct hv_fwlog_bucket *bucket[HV_FW_MAX_WORKERS];
	/* the source, kept for `policy show`, `policy trace` and apply diffs */
	struct hv_prog *prog;
	struct hv_ir *ir;
	char path[256];
};

/* What a packet is classified on; host byte order. */
struct hv_fw_pkt {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;
	uint16_t src_seg, dst_seg; /* policy segment ids, HV_FW_SEG_UNNAMED */
	uint8_t src[16], dst[16];  /* network order; IPv4 in the first 4 bytes */
	uint16_t sport, dport;	   /* see the key description above; sport is not classified */
	uint8_t in_port;	   /* the ingress port's id in the policy, 0: unnamed */
};

/*
 * Compile IR (whose program is PROG) for N_WORKERS workers. On success the returned object owns PROG and IR. On
 * failure returns NULL with the reason in ERR and the caller keeps both.
 * Control thread only; may take a while (rte_acl_build).
 */
struct hv_fw *hv_fw_build(struct hv_prog *prog, struct hv_ir *ir, unsigned n_workers,
			  const char *name, char *err, size_t errlen);
void hv_fw_free(struct hv_fw *fw);

/*
 * Classify N packets; RES[i] is the index of the deciding rule in fw->rules
 * (n_rules for the default). Packets of a family other than 4 or 6 get the
 * default. N at most 64. Any thread.
 */
void hv_fw_classify(const struct hv_fw *fw, const struct hv_fw_pkt *const *pkts, unsigned n,
		    uint32_t *res);

/*
 * The id the policy of FW gives port NAME in its `port` terms (1-255), or 0
 * when it names no such port (FW NULL too). Control thread: the datapath
 * reads ids from its published state (hv_dp_state.port_pol), never by name.
 */
uint8_t hv_fw_port_id(const struct hv_fw *fw, const char *name);

/* Name of policy segment PSEG, or "-" (any thread, while FW is alive). */
const char *hv_fw_segment_name(const struct hv_fw *fw, uint16_t pseg);

/* Sum of the workers' counters of rule R. */
void hv_fw_rule_counters(const struct hv_fw *fw, uint32_t r, struct hv_fw_counter *out);

static inline void
hv_fw_count(struct hv_fw *fw, unsigned worker, uint32_t rule, uint32_t bytes)
{
	struct hv_fw_counter *c = &fw->cnt[worker][rule];

	__atomic_store_n(&c->packets, c->packets + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->bytes, c->bytes + bytes, __ATOMIC_RELAXED);
}

#endif
