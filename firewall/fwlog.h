/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_FIREWALL_FWLOG_H
#define HV_FIREWALL_FWLOG_H

/*
 * The firewall's verdict log.
 *
 * Worker lcores (producers) hand fixed-size records to the log when a rule
 * with `log` matches; a writer thread owned by the log turns them into JSON
 * lines and, optionally, pcapng packets whose comment names the rule.
 *
 * Threads, in one paragraph: hv_fwlog_open(), hv_fwlog_close(),
 * hv_fwlog_reopen() and hv_fwlog_pause() are control-path calls, made by one
 * control thread (they are not safe against each other). Producer i calls
 * hv_fwlog_submit(l, i, ...) and hv_fwlog_note_ratelimited(l, i) from exactly
 * one thread at a time (its worker lcore); these never block, allocate, lock
 * or enter the kernel: a record that does not fit in the producer's ring is
 * dropped and counted. hv_fwlog_stats() may be called from any thread. The
 * writer thread (a plain pthread) is the only thread that touches the files
 * once the log is open. Producers must have stopped submitting before
 * hv_fwlog_close().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;

#define HV_FWLOG_SNAP	    256 /* bytes of the frame kept for pcapng */
#define HV_FWLOG_RULE_MAX   64	/* rule id, NUL included */
#define HV_FWLOG_REASON_MAX 24
#define HV_FWLOG_NAME_MAX   32	 /* segment and port names */
#define HV_FWLOG_MAX_IFACES 1024 /* pcapng interfaces per section, see hv_fwlog_stats */
#define HV_FWLOG_RING_MAX   65536

/* Columns: enum suffix, name shown in the JSON and pcapng comment. */
#define HV_FWLOG_VERDICTS(X) \
	X(ALLOW, "allow")    \
	X(BLOCK, "block")    \
	X(REJECT, "reject")  \
	X(DROP, "drop") /* dropped before the rules: ct_invalid, policy_changed, ... */

enum hv_fwlog_verdict {
#define HV_FWLOG_VERDICT_ENUM_(sym, name) HV_FWLOG_##sym,
	HV_FWLOG_VERDICTS(HV_FWLOG_VERDICT_ENUM_)
#undef HV_FWLOG_VERDICT_ENUM_
	HV_FWLOG_VERDICT_MAX
};

/* "allow", "block", ...; "unknown" for a value outside the enum. */
const char *hv_fwlog_verdict_name(unsigned verdict);

/*
 * One log record. Self-contained (no pointers), so a producer may reuse or
 * free everything it copied from as soon as hv_fwlog_submit() returns.
 * Strings are NUL-terminated when shorter than their array; a full array is
 * read as a string of that length. Zero the record before filling it.
 */
struct hv_fwlog_rec {
	uint64_t time_ns;  /* CLOCK_REALTIME, nanoseconds since the epoch */
	uint32_t pkt_len;  /* original frame length */
	uint16_t snap_len; /* bytes valid in snap[], <= HV_FWLOG_SNAP */
	uint16_t sport;	   /* host order; tcp/udp only */
	uint16_t dport;
	uint8_t verdict;   /* enum hv_fwlog_verdict */
	uint8_t family;	   /* 4, 6, or 0 when the frame is not IP */
	uint8_t proto;	   /* IP protocol number */
	uint8_t icmp_type; /* icmp/icmpv6 only */
	uint8_t icmp_code;
	uint8_t no_pcap;    /* JSON only: the packet itself is not written to the pcapng file */
	uint8_t src_ip[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t dst_ip[16];
	char rule[HV_FWLOG_RULE_MAX];	  /* "app-to-mgmt", "policy.hvnet:12" */
	char reason[HV_FWLOG_REASON_MAX]; /* "rule", "default", "ct_invalid", ... */
	char segment[HV_FWLOG_NAME_MAX];
	char port[HV_FWLOG_NAME_MAX];
	uint8_t snap[HV_FWLOG_SNAP]; /* first bytes of the frame, for pcapng */
};

/*
 * Copy the first min(pkt_len, HV_FWLOG_SNAP) bytes of a (possibly segmented)
 * mbuf into r->snap and set r->snap_len and r->pkt_len. Fast-path safe.
 */
void hv_fwlog_rec_snap(struct hv_fwlog_rec *r, const struct rte_mbuf *m);

struct hv_fwlog_conf {
	const char *json_path;	 /* required; appended to, created 0640 */
	const char *pcapng_path; /* NULL: no pcapng; appended to (a new section), created 0640 */
	unsigned n_producers;	 /* 1..RTE_MAX_LCORE: one ring per worker lcore */
	/*
	 * Records each producer's ring holds, exactly (1..HV_FWLOG_RING_MAX);
	 * 0 means 1023. The ring occupies the next power of two above this
	 * many slots, so 2^k - 1 wastes no memory.
	 */
	unsigned ring_size;
	/*
	 * Longest writer sleep while every ring is empty (0 means 10000). It
	 * sleeps 1/8 of this after a round with records, doubling while idle;
	 * size rings to hold what producers may submit in this time.
	 */
	unsigned idle_sleep_us;
};

struct hv_fwlog_stats {
	uint64_t submitted;    /* records accepted by hv_fwlog_submit() */
	uint64_t dropped_full; /* records refused because the producer's ring was full */
	uint64_t rate_limited; /* hv_fwlog_note_ratelimited() calls */
	uint64_t written;      /* JSON lines written */
	uint64_t pcap_written; /* pcapng packets written */
	uint64_t write_errors; /* failed writes (each loses the rest of one batch for one file) */
	uint64_t pcap_iface_overflow; /* packets filed under the shared "(other)" interface */
	uint64_t reopens;	      /* successful hv_fwlog_reopen() calls */
};

struct hv_fwlog;

/*
 * Open the files, create one single-producer/single-consumer ring per
 * producer and start the writer thread. Needs the EAL (rings live in DPDK
 * memory). Returns NULL on failure with errno set and a message in err
 * naming what failed (the path and strerror for a file).
 */
struct hv_fwlog *hv_fwlog_open(const struct hv_fwlog_conf *conf, char *err, size_t errlen);

/*
 * Stop the writer after it has written everything queued, close the files
 * and free the log. NULL is a no-op. Producers must be stopped first.
 */
void hv_fwlog_close(struct hv_fwlog *l);

/*
 * Open the same paths again and switch the writer to them (for log
 * rotation: rename the files, then call this). A pcapng file gets a new
 * section header. Returns 0, or -errno with a message in err and the old
 * files still in use.
 */
int hv_fwlog_reopen(struct hv_fwlog *l, char *err, size_t errlen);

/*
 * Pause (true) or resume (false) the writer; returns once the writer has
 * seen it, so after hv_fwlog_pause(l, true) nothing more is dequeued until
 * resumed or closed. For tests; hv_fwlog_close() drains even while paused.
 */
void hv_fwlog_pause(struct hv_fwlog *l, bool pause);

/*
 * Queue a copy of *r on producer's ring. Never blocks. Returns false, and
 * counts dropped_full, when the ring is full; false, uncounted, when
 * producer >= n_producers. Call only from the one thread that owns producer.
 */
bool hv_fwlog_submit(struct hv_fwlog *l, unsigned producer, const struct hv_fwlog_rec *r);

/* Count one record the caller's rate limiter refused. Same thread rule as submit. */
void hv_fwlog_note_ratelimited(struct hv_fwlog *l, unsigned producer);

/* Sum every counter (relaxed loads: each value is recent, not a snapshot). */
void hv_fwlog_stats(const struct hv_fwlog *l, struct hv_fwlog_stats *s);

/*
 * Token bucket for the workers, checked before building a record. One
 * bucket per (worker, whatever is limited); not shared between threads.
 * Integer only, no division: tokens are kept scaled by tsc_hz, so one token
 * is tsc_hz units and each TSC tick adds rate_per_s units.
 */
struct hv_fwlog_bucket {
	uint64_t tokens_scaled;
	uint64_t last_tsc;
};

static inline uint64_t
hv_fwlog_bucket_cap_(uint64_t tsc_hz, uint32_t burst)
{
	uint64_t cap;

	if (__builtin_mul_overflow((uint64_t)burst, tsc_hz, &cap))
		return UINT64_MAX;
	return cap;
}

/* Start full: burst tokens at now_tsc. */
static inline void
hv_fwlog_bucket_init(struct hv_fwlog_bucket *b, uint64_t now_tsc, uint64_t tsc_hz, uint32_t burst)
{
	b->tokens_scaled = hv_fwlog_bucket_cap_(tsc_hz, burst);
	b->last_tsc = now_tsc;
}

/*
 * Refill for the time since the last call (at rate_per_s, up to burst
 * tokens), then take one token. Returns false when none is left; the caller
 * counts that as rate-limited. rate_per_s 0: only the initial burst; burst
 * 0: always false. A TSC value older than the last one refills nothing.
 */
static inline bool
hv_fwlog_bucket_take(struct hv_fwlog_bucket *b, uint64_t now_tsc, uint64_t tsc_hz,
		     uint32_t rate_per_s, uint32_t burst)
{
	uint64_t cap = hv_fwlog_bucket_cap_(tsc_hz, burst);
	uint64_t add, tokens = b->tokens_scaled;

	if (now_tsc > b->last_tsc) {
		if (__builtin_mul_overflow(now_tsc - b->last_tsc, (uint64_t)rate_per_s, &add) ||
		    __builtin_add_overflow(tokens, add, &tokens))
			tokens = cap;
		b->last_tsc = now_tsc;
	}
	if (tokens > cap)
		tokens = cap;
	if (tsc_hz == 0 || tokens < tsc_hz) {
		b->tokens_scaled = tokens;
		return false;
	}
	b->tokens_scaled = tokens - tsc_hz;
	return true;
}

#endif /* HV_FIREWALL_FWLOG_H */
