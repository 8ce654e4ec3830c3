/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_MIRROR_H
#define HV_VSWITCH_MIRROR_H

/*
 * Mirror sessions: copies of selected packets to capture files, to mirror
 * ports, or to an ad hoc capture (`hvnetctl capture`). docs/mirror.md is the
 * user's view.
 *
 * Threads, in one paragraph: a session is created and freed by the control
 * thread (hv_mirror_session_create / _free), which also lists the sessions in
 * force in struct hv_switch and publishes them with the datapath state: the
 * state carries a struct hv_mirror_dp (selection masks per port, destination
 * port slots, the session pointers), rebuilt by hv_mirror_dp_build() at every
 * publish so that sessions follow ports by name across deletes and re-adds.
 * Workers call hv_mirror_tap() on the fast path: it never blocks, locks or
 * enters the kernel; copies for files go on the session's per-worker SP/SC
 * ring (a full ring drops the copy and counts queue_full), copies for ports
 * go to the worker's own tx buffers through the callback. One writer thread
 * per session with file destinations drains the rings, writes the files
 * (rotating them) and frees the copies. A session is freed only after a
 * publish without it has returned (grace period), so no worker still holds
 * its pointer.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "vswitch/mac_table.h"

#define HV_MIRROR_MAX_SESSIONS 32 /* a session is one bit in the masks below */
#define HV_MIRROR_MAX_DESTS    8
#define HV_MIRROR_MAX_SEL      16 /* segments, and ports, named per session */
#define HV_MIRROR_NAME_MAX     32
#define HV_MIRROR_PATH_MAX     256
#define HV_MIRROR_FILTER_MAX   1024
#define HV_MIRROR_RULE_MAX     64
#define HV_MIRROR_RING	       1024 /* copies queued per worker and session */
#define HV_MIRROR_SEGMENTS     1024 /* == HV_MAX_SEGMENTS, checked in mirror.c */
#define HV_MIRROR_PORTS	       HV_MAC_MAX_PORTS
#define HV_MIRROR_NONE	       UINT16_MAX
#define HV_MIRROR_KEEP_MAX     100000

enum hv_mirror_dir {
	HV_MIRROR_BOTH = 0,
	HV_MIRROR_INGRESS,
	HV_MIRROR_EGRESS,
};

enum hv_mirror_verdict {
	HV_MIRROR_V_ANY = 0, /* as a selection; as a packet's verdict: not decided yet */
	HV_MIRROR_V_ALLOWED,
	HV_MIRROR_V_BLOCKED,
};

enum hv_mirror_dest_kind {
	HV_MIRROR_TO_PCAPNG = 0, /* a pcapng file (rotated) */
	HV_MIRROR_TO_PORT,	 /* a port added with mirror=yes */
	HV_MIRROR_TO_FD,	 /* classic pcap on a descriptor (hvnetctl capture) */
	HV_MIRROR_TO_VXLAN,	 /* VXLAN (IPv4, UDP 4789) to a collector, out of a named port */
	HV_MIRROR_TO_ERSPAN, /* ERSPAN type II (IPv4, GRE) to a collector, out of a named port */
};

/* A destination whose copies are encapsulated to a collector. */
#define HV_MIRROR_IS_REMOTE(k) ((k) == HV_MIRROR_TO_VXLAN || (k) == HV_MIRROR_TO_ERSPAN)

struct hv_mirror_dest_conf {
	enum hv_mirror_dest_kind kind;
	char path[HV_MIRROR_PATH_MAX]; /* pcapng */
	uint64_t rotate_size;	       /* bytes, 0 = none */
	uint32_t rotate_secs;	       /* 0 = none */
	uint32_t keep;		       /* files kept when rotating, 0 = all */
	char port[HV_MIRROR_NAME_MAX]; /* port; remote: the port the copies leave by */
	bool vlan_tag;		       /* port: 802.1Q tag with VLAN id = segment id + 1 */
	uint8_t remote[4];	       /* remote: the collector's IPv4 address */
	uint8_t source[4];	       /* remote: the outer source address */
	uint8_t mac[6];		       /* remote: the outer destination MAC (default broadcast) */
	uint32_t vni;		       /* vxlan: VNI 1-16777215; erspan: session id 0-1023 */
	int fd;			       /* fd: owned by the session once created */
};

/* What a session is made of: from a policy file, `mirror add` or `capture`. */
struct hv_mirror_conf {
	char name[HV_MIRROR_NAME_MAX];
	unsigned n_segments, n_ports;
	char segments[HV_MIRROR_MAX_SEL][HV_MIRROR_NAME_MAX];
	char ports[HV_MIRROR_MAX_SEL][HV_MIRROR_NAME_MAX];
	enum hv_mirror_dir dir;
	enum hv_mirror_verdict verdict;
	bool delivered;			   /* tap point: delivered, else wire */
	char filter[HV_MIRROR_FILTER_MAX]; /* tcpdump syntax; empty = every packet */
	uint32_t snaplen;		   /* bytes copied, 0 = whole frame */
	uint32_t sample;		   /* 1 in N; 0 or 1 = every packet */
	uint64_t count;			   /* stop after this many written (capture), 0 = never */
	unsigned n_dests;
	struct hv_mirror_dest_conf dests[HV_MIRROR_MAX_DESTS];
	bool from_policy; /* made by a policy file: the next apply replaces it */
	int owner;	  /* control client owning a capture, -1 none */
};

/*
 * Check a configuration before anything is created: names, limits, the
 * combinations that could select nothing (tap wire with direction egress,
 * tap delivered with verdict blocked). 0 or -EINVAL with a message naming
 * the session and the setting in ERR.
 */
int hv_mirror_conf_check(const struct hv_mirror_conf *c, char *err, size_t errlen);

/*
 * Parse the JSON arguments of `mirror.add` (docs/control.md) into C
 * (fds are -1). No DPDK: the fuzz target links it alone. 0 or -EINVAL with
 * what and where in ERR.
 */
struct json_t;
int hv_mirror_conf_from_json(const struct json_t *args, struct hv_mirror_conf *c, char *err,
			     size_t errlen);
/* The configuration as JSON (what `mirror show` prints under "config"). */
struct json_t *hv_mirror_conf_to_json(const struct hv_mirror_conf *c);

/* Counters, per worker (fast path) and per destination (writer). */
struct hv_mirror_counters {
	uint64_t selected;    /* matched port/segment, direction, verdict and filter */
	uint64_t filtered;    /* matched all but the filter */
	uint64_t sampled_out; /* selected, skipped by 1-in-N sampling */
	uint64_t copied;      /* copies made */
	uint64_t copy_failed; /* no mbuf for a copy, or the VLAN tag did not fit: skipped */
	uint64_t queue_full;  /* the writer's queue was full: copy dropped */
	uint64_t dest_down;   /* a destination port that does not exist (or is not a mirror port) */
	uint64_t port_sent;   /* copies handed to mirror ports */
};

struct hv_mirror_dest_stats {
	uint64_t written; /* packets written (files) or handed to tx (ports) */
	uint64_t write_errors;
	uint64_t files; /* files opened (rotation) */
	char current[HV_MIRROR_PATH_MAX + 16];
};

struct hv_mirror_session;

/*
 * Create a session: compile the filter (libpcap's message on error), open
 * and start every file (a path that cannot be written is an error now, not
 * a loss later), create the rings, the copy pool and the writer. Nothing is
 * published. Returns NULL with errno and a message in ERR. Control thread.
 * An fd destination's descriptor is taken over, also on failure.
 */
struct hv_mirror_session *hv_mirror_session_create(const struct hv_mirror_conf *conf,
						   unsigned n_workers, char *err, size_t errlen);
/*
 * Stop the writer after it wrote what is queued, close the files and free
 * everything. Only once no published state lists the session. NULL no-op.
 */
void hv_mirror_session_free(struct hv_mirror_session *s);
const struct hv_mirror_conf *hv_mirror_session_conf(const struct hv_mirror_session *s);
/* Sum of the workers' counters. */
void hv_mirror_session_counters(const struct hv_mirror_session *s, struct hv_mirror_counters *c);
void hv_mirror_session_dest_stats(const struct hv_mirror_session *s, unsigned d,
				  struct hv_mirror_dest_stats *st);
/* Capture: COUNT packets written, or its descriptor failed (*ERR then set). */
bool hv_mirror_session_done(const struct hv_mirror_session *s, int *err);
/*
 * What runs the filter: "none", "rte_bpf-jit" (rte_bpf_convert + the JIT),
 * "rte_bpf" (its interpreter) or "libpcap" (pcap_offline_filter).
 */
const char *hv_mirror_session_filter_engine(const struct hv_mirror_session *s);
/* Does M pass S's filter (true when it has none)? The engine above runs it. */
bool hv_mirror_session_filter_match(const struct hv_mirror_session *s, struct rte_mbuf *m);
/* Written packets over all file and fd destinations (the first such destination). */
uint64_t hv_mirror_session_written(const struct hv_mirror_session *s);

/* The datapath's view, embedded in struct hv_dp_state (immutable once published). */
struct hv_mirror_dp {
	uint32_t wire_any;     /* tap wire, verdict any: tapped right after parse */
	uint32_t wire_verdict; /* tap wire, verdict allowed or blocked: tapped at the verdict */
	uint32_t delivered;    /* tap delivered: tapped where frames go to tx */
	uint32_t in[HV_MIRROR_PORTS];  /* sessions selecting frames received on the port */
	uint32_t out[HV_MIRROR_PORTS]; /* sessions selecting frames sent to the port */
	uint16_t dest_port[HV_MIRROR_MAX_SESSIONS][HV_MIRROR_MAX_DESTS]; /* slot or NONE */
	struct hv_mirror_session *s[HV_MIRROR_MAX_SESSIONS];
	uint8_t port_mac[HV_MIRROR_PORTS][6]; /* outer source MAC of VXLAN copies */
	char seg_name[HV_MIRROR_SEGMENTS][HV_MIRROR_NAME_MAX];
};

/* What the tap point knows of a packet. */
struct hv_mirror_pkt {
	uint16_t in_port;  /* slot */
	uint16_t out_port; /* slot, or HV_MIRROR_NONE before forwarding */
	uint16_t seg;	   /* the frame's segment */
	uint8_t verdict;   /* enum hv_mirror_verdict: ANY = not decided yet */
	/* port names: each points at HV_MIRROR_NAME_MAX bytes (a port's name field), copied whole */
	const char *in_name;
	const char *out_name; /* NULL before forwarding */
	const char *rule;     /* the rule that decided, a drop reason, or NULL */
};

/* The worker's side: who it is and how a copy goes out of a port. */
struct hv_mirror_wctx {
	unsigned worker;
	void (*tx)(void *arg, uint16_t port, struct rte_mbuf *m);
	void *arg;
	/* CLOCK_REALTIME of this poll round's first copy, 0 until then: the worker
	 * zeroes it at the start of each round, so copies made in one round (one
	 * burst per port, microseconds apart) share one timestamp */
	uint64_t now_ns;
};

/* mbuf flag set on every copy; a packet carrying it is never mirrored. 0 before init. */
extern uint64_t hv_mirror_copy_flag;
/* Register the flag (control thread, at start). 0 or -errno. */
int hv_mirror_init(void);

/*
 * Mirror M to the sessions in MASK that select it: check verdict, filter and
 * sampling, copy (M itself is never modified), and queue or send the copies.
 * Fast path; counts everything in the session's counters of WC->worker.
 */
void hv_mirror_tap(const struct hv_mirror_dp *dp, struct hv_mirror_wctx *wc, uint32_t mask,
		   struct rte_mbuf *m, const struct hv_mirror_pkt *info);

struct hv_switch;
struct hv_port;
/*
 * Whether P sends mirror copies only: added with mirror=yes, or named by a
 * port destination of a session in force in SW. Such a port is left out of
 * flood lists and rx polling (hv_switch_publish) and of every selection.
 */
bool hv_mirror_port_is_dest(const struct hv_switch *sw, const struct hv_port *p);
/* Fill DP from the sessions in force in SW and its ports and segments. Control thread. */
void hv_mirror_dp_build(const struct hv_switch *sw, struct hv_mirror_dp *dp);

#endif
