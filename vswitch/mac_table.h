/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_MAC_TABLE_H
#define HV_VSWITCH_MAC_TABLE_H

#include <stdbool.h>
#include <stdint.h>

struct rte_rcu_qsbr;

/*
 * The MAC learning table: (segment, MAC) -> port, one logical table per
 * segment held in one rte_hash so that a lookup is one probe.
 *
 * Threads: hv_mac_table_lookup() and hv_mac_table_learn() are called by the
 * datapath lcores, concurrently, without locks (rte_hash in lock-free
 * read/write mode with multi-writer add). Everything else (create, free,
 * limits, age, flush, walk) is called by the control thread only. Deleted
 * entries are reclaimed after an RCU grace period on the qsbr variable given
 * at creation, so a lookup that raced a delete never reads a reused slot.
 *
 * Bounds: the table holds at most conf.capacity entries. Each port and each
 * segment has a limit on learned entries (0 = no limit beyond capacity). At
 * a bound the rule is Linux's fdb_max_learned: the new MAC is not learned
 * (the frame is still forwarded; replies to it are flooded in its segment)
 * and the refusal is reported to the caller, who counts it. Existing entries
 * keep refreshing; a MAC that moves to a port at its limit is not moved.
 */

#define HV_MAC_MAX_PORTS    512 /* local ports, then one slot per remote VTEP */
#define HV_MAC_MAX_SEGMENTS 4096

enum hv_mac_learn_result {
	HV_MAC_REFRESHED = 0,	/* known on this port; timestamp updated */
	HV_MAC_LEARNED,		/* new entry */
	HV_MAC_MOVED,		/* known on another port of the segment; now on this one */
	HV_MAC_LIMIT_PORT,	/* not learned: the port is at its limit */
	HV_MAC_LIMIT_SEGMENT,	/* not learned: the segment is at its limit */
	HV_MAC_LIMIT_TABLE,	/* not learned: the table is full */
	HV_MAC_STATIC_CONFLICT, /* not moved: the MAC is a static entry of another port */
};

#define HV_MAC_F_STATIC (1u << 0) /* configured, never aged or moved */

struct hv_mac_table_conf {
	uint32_t capacity;	   /* total entries, all segments */
	uint32_t port_limit;	   /* default per-port limit for ports with none set */
	uint32_t segment_limit;	   /* default per-segment limit for segments with none set */
	int socket_id;		   /* NUMA socket for the hash, SOCKET_ID_ANY is fine */
	struct rte_rcu_qsbr *qsbr; /* the datapath's qsbr variable; required */
	const char *name;	   /* unique per process (rte_hash name) */
};

struct hv_mac_entry {
	uint16_t segment;
	uint16_t port;
	uint8_t mac[6];
	uint8_t flags;	 /* HV_MAC_F_* */
	uint64_t age_ns; /* time since last seen, filled by walk */
};

struct hv_mac_table;

/* Create a table; NULL with errno set (EINVAL for a bad conf, ENOMEM). */
struct hv_mac_table *hv_mac_table_create(const struct hv_mac_table_conf *conf);
/* Free @t; no lcore may use it any more. NULL is fine. */
void hv_mac_table_free(struct hv_mac_table *t);

/* Set the learn limit of @port / @segment (0 = default from conf). 0 or -EINVAL. */
int hv_mac_table_set_port_limit(struct hv_mac_table *t, uint16_t port, uint32_t limit);
int hv_mac_table_set_segment_limit(struct hv_mac_table *t, uint16_t segment, uint32_t limit);
/* Entries currently learned on @port / in @segment. */
uint32_t hv_mac_table_port_count(const struct hv_mac_table *t, uint16_t port);
uint32_t hv_mac_table_segment_count(const struct hv_mac_table *t, uint16_t segment);
uint32_t hv_mac_table_count(const struct hv_mac_table *t);

/*
 * Datapath: the port @mac is on in @segment, or -ENOENT. Must run inside the
 * caller's RCU read side (between quiescent-state reports).
 */
int hv_mac_table_lookup(struct hv_mac_table *t, uint16_t segment, const uint8_t mac[6]);

/*
 * Datapath: note that @mac was seen on @port in @segment at @now_tsc (TSC
 * cycles, rte_get_tsc_cycles()). Never learns multicast or all-zero MACs
 * (the caller drops those first). Same RCU rule as lookup.
 */
enum hv_mac_learn_result hv_mac_table_learn(struct hv_mac_table *t, uint16_t segment,
					    const uint8_t mac[6], uint16_t port, uint64_t now_tsc);

/*
 * A per-lcore exact-match cache in front of the table (the idea of OVS's
 * EMC): a direct-mapped array of recent (segment, MAC) -> port answers, so
 * that a steady flow of known MACs costs a CRC and one cache line instead of
 * a cuckoo-hash probe. The table keeps a generation number that every
 * delete, move and static change bumps; hv_mac_cache_sync() empties the cache
 * when it changed. Call it once per poll-loop iteration, after the RCU
 * quiescent report. A cache belongs to one lcore; pass NULL for none.
 */
struct hv_mac_cache;
struct hv_mac_cache *hv_mac_cache_create(int socket_id);
void hv_mac_cache_free(struct hv_mac_cache *c);
void hv_mac_cache_sync(const struct hv_mac_table *t, struct hv_mac_cache *c);

/*
 * Datapath, a burst at once (n <= HV_MAC_BULK_MAX): ports[i] is the port of
 * macs[i] in @segment, or -ENOENT. Same RCU rule as lookup.
 */
#define HV_MAC_BULK_MAX 64
void hv_mac_table_lookup_bulk(struct hv_mac_table *t, struct hv_mac_cache *cache, uint16_t segment,
			      const uint8_t *const macs[], unsigned n, int ports[]);

/*
 * Datapath, a burst at once: hv_mac_table_learn() for macs[i] seen on @port,
 * result in res[i]. Known MACs on @port (the common case) cost one bulk
 * lookup for the whole burst; the rest take the single-MAC path.
 */
void hv_mac_table_learn_bulk(struct hv_mac_table *t, struct hv_mac_cache *cache, uint16_t segment,
			     const uint8_t *const macs[], unsigned n, uint16_t port,
			     uint64_t now_tsc, uint8_t res[]);

/* Control: add or replace a static entry. 0, -ENOSPC (table full), -EINVAL. */
int hv_mac_table_add_static(struct hv_mac_table *t, uint16_t segment, const uint8_t mac[6],
			    uint16_t port);

/* Control: remove dynamic entries not seen for @max_age_ns. Returns the number removed. */
uint32_t hv_mac_table_age(struct hv_mac_table *t, uint64_t now_tsc, uint64_t max_age_ns);

/*
 * Control: remove entries of @segment (or all segments when @segment < 0) and
 * of @port (or all ports when @port < 0); static entries only when
 * @with_static. Returns the number removed. Used by `mac flush` and when a
 * port or segment is deleted.
 */
uint32_t hv_mac_table_flush(struct hv_mac_table *t, int segment, int port, bool with_static);

/*
 * Control: call @cb for every entry (of @segment, or all when @segment < 0),
 * ordered by segment then MAC. Stops and returns the callback's value when
 * it is non-zero; 0 otherwise.
 */
int hv_mac_table_walk(struct hv_mac_table *t, int segment, uint64_t now_tsc,
		      int (*cb)(const struct hv_mac_entry *e, void *arg), void *arg);

#endif
