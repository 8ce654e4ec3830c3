/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MAC learning table (see mac_table.h for the contract).
 *
 * Layout: one rte_hash, lock-free for readers (RW_CONCURRENCY_LF) with
 * multi-writer add, keyed by (segment, MAC). The hash's data is the port, so
 * a lookup is one probe and one atomic load. Beside the hash, a slot array
 * indexed by the key position holds what the control thread needs without
 * iterating the hash (which is not safe against concurrent writers): the key,
 * flags, and the last-seen timestamp the datapath refreshes.
 *
 * Deletes (age, flush) run on the control thread only: delete the keys, wait
 * one RCU grace period for the batch, then free the key positions. In LF mode
 * rte_hash never reuses a deleted position by itself, so a reader that found
 * a position just before the delete never sees it reused for another MAC.
 *
 * Counts per port and per segment are relaxed atomics. A learn reserves its
 * place in every count it is bounded by before it inserts and gives it back
 * when a bound or a concurrent learn of the same MAC gets in the way, so the
 * limits are never exceeded, even with several lcores learning at once.
 * Static entries count in the table total only, not against learn limits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_atomic.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "vswitch/mac_table.h"

#define LOAD(p)	    __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ADD(p, v)   __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define SUB(p, v)   __atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)

struct mac_key {
	uint16_t segment;
	uint8_t mac[6];
};

enum {
	SLOT_FREE = 0,
	SLOT_READY = 1,
	SLOT_FILLING = 2,
	SLOT_BUSY = 3, /* a move, a static change or a delete decision holds it */
	SLOT_DEAD = 4  /* key deleted, position waiting for the grace period */
};

struct mac_slot {
	struct mac_key key;
	uint16_t port;	   /* mirror of the hash data, for the control thread */
	uint8_t flags;	   /* HV_MAC_F_* */
	uint8_t in_use;	   /* SLOT_*: FREE > FILLING > READY <> BUSY > DEAD > FREE */
	uint64_t last_tsc; /* refreshed by the datapath at most once per refresh_cycles */
};

struct hv_mac_table {
	struct rte_hash *hash;
	struct rte_rcu_qsbr *qsbr;
	struct mac_slot *slots;
	uint32_t n_slots;
	uint32_t capacity;
	uint32_t count; /* every entry, static included */
	uint64_t gen;	/* bumped by every delete, move and static change (caches) */
	uint32_t default_port_limit;
	uint32_t default_segment_limit;
	uint64_t refresh_cycles;
	uint32_t port_limit[HV_MAC_MAX_PORTS];
	uint32_t segment_limit[HV_MAC_MAX_SEGMENTS];
	uint32_t port_count[HV_MAC_MAX_PORTS];
	uint32_t segment_count[HV_MAC_MAX_SEGMENTS];
};

static inline void
make_key(struct mac_key *k, uint16_t segment, const uint8_t mac[6])
{
	k->segment = segment;
	memcpy(k->mac, mac, 6);
}

static inline void *
port_data(uint16_t port)
{
	return (void *)(uintptr_t)port;
}

struct hv_mac_table *
hv_mac_table_create(const struct hv_mac_table_conf *conf)
{
	struct rte_hash_parameters hp;
	struct hv_mac_table *t;
	uint32_t entries;

	if (conf == NULL || conf->capacity == 0 || conf->capacity > (1u << 26) ||
	    conf->qsbr == NULL || conf->name == NULL) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("hv_mac_table", sizeof(*t), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* cuckoo hashing cannot fill every bucket: leave headroom beyond capacity */
	entries = conf->capacity + conf->capacity / 4 + 64;
	memset(&hp, 0, sizeof(hp));
	hp.name = conf->name;
	hp.entries = entries;
	hp.key_len = sizeof(struct mac_key);
	hp.hash_func = rte_hash_crc;
	hp.socket_id = conf->socket_id;
	hp.extra_flag =
		RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
	t->hash = rte_hash_create(&hp);
	if (t->hash == NULL) {
		errno = rte_errno == EEXIST ? EEXIST : ENOMEM;
		goto free_table;
	}
	/*
	 * With multi-writer add, each lcore caches free key positions, so
	 * positions range beyond @entries (rte_hash sizes its key store the same
	 * way). Every position is bounds-checked against n_slots anyway.
	 */
	t->n_slots = entries + RTE_MAX_LCORE * 64;
	t->slots = rte_zmalloc_socket("hv_mac_slots", sizeof(*t->slots) * t->n_slots,
				      RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (t->slots == NULL) {
		errno = ENOMEM;
		goto free_hash;
	}
	t->qsbr = conf->qsbr;
	t->capacity = conf->capacity;
	t->default_port_limit = conf->port_limit;
	t->default_segment_limit = conf->segment_limit;
	t->refresh_cycles = rte_get_tsc_hz() / 1000;
	return t;

free_hash:
	rte_hash_free(t->hash);
free_table:
	rte_free(t);
	return NULL;
}

void
hv_mac_table_free(struct hv_mac_table *t)
{
	if (t == NULL)
		return;
	rte_hash_free(t->hash);
	rte_free(t->slots);
	rte_free(t);
}

int
hv_mac_table_set_port_limit(struct hv_mac_table *t, uint16_t port, uint32_t limit)
{
	if (port >= HV_MAC_MAX_PORTS)
		return -EINVAL;
	STORE(&t->port_limit[port], limit);
	return 0;
}

int
hv_mac_table_set_segment_limit(struct hv_mac_table *t, uint16_t segment, uint32_t limit)
{
	if (segment >= HV_MAC_MAX_SEGMENTS)
		return -EINVAL;
	STORE(&t->segment_limit[segment], limit);
	return 0;
}

uint32_t
hv_mac_table_port_count(const struct hv_mac_table *t, uint16_t port)
{
	return port < HV_MAC_MAX_PORTS ? LOAD(&t->port_count[port]) : 0;
}

uint32_t
hv_mac_table_segment_count(const struct hv_mac_table *t, uint16_t segment)
{
	return segment < HV_MAC_MAX_SEGMENTS ? LOAD(&t->segment_count[segment]) : 0;
}

uint32_t
hv_mac_table_count(const struct hv_mac_table *t)
{
	return LOAD(&t->count);
}

int
hv_mac_table_lookup(struct hv_mac_table *t, uint16_t segment, const uint8_t mac[6])
{
	struct mac_key k;
	void *data;

	make_key(&k, segment, mac);
	if (rte_hash_lookup_data(t->hash, &k, &data) < 0)
		return -ENOENT;
	return (int)(uintptr_t)data;
}

/*
 * Take the slot of an entry that is in the hash, so that no other lcore moves
 * it and the control thread does not delete it meanwhile (a few stores and one
 * hash update). Waits out a slot being filled or held; false when the slot is
 * not (or no longer) a live entry: FREE or DEAD.
 */
static inline bool
slot_lock(struct mac_slot *s)
{
	for (;;) {
		uint8_t st = SLOT_READY;

		if (__atomic_compare_exchange_n(&s->in_use, &st, SLOT_BUSY, false, __ATOMIC_ACQUIRE,
						__ATOMIC_ACQUIRE))
			return true;
		if (st == SLOT_FREE || st == SLOT_DEAD)
			return false;
		rte_pause();
	}
}

static inline void
slot_unlock(struct mac_slot *s)
{
	__atomic_store_n(&s->in_use, SLOT_READY, __ATOMIC_RELEASE);
}

static inline uint32_t
limit_of(uint32_t set, uint32_t dflt)
{
	return set ? set : dflt;
}

/* Take one place in @count bounded by @limit (0 = none); false when full. */
static inline bool
reserve(uint32_t *count, uint32_t limit)
{
	uint32_t n = ADD(count, 1);

	if (limit != 0 && n > limit) {
		SUB(count, 1);
		return false;
	}
	return true;
}

static enum hv_mac_learn_result
learn_new(struct hv_mac_table *t, const struct mac_key *k, uint16_t port, uint64_t now_tsc)
{
	uint16_t segment = k->segment;
	enum hv_mac_learn_result res;
	struct mac_slot *s;
	int32_t pos;

	if (!reserve(&t->count, t->capacity))
		return HV_MAC_LIMIT_TABLE;
	if (!reserve(&t->segment_count[segment],
		     limit_of(LOAD(&t->segment_limit[segment]), t->default_segment_limit))) {
		res = HV_MAC_LIMIT_SEGMENT;
		goto unreserve_table;
	}
	if (!reserve(&t->port_count[port],
		     limit_of(LOAD(&t->port_limit[port]), t->default_port_limit))) {
		res = HV_MAC_LIMIT_PORT;
		goto unreserve_segment;
	}
	/* key and port in one step: a lookup never sees the key without its port */
	if (rte_hash_add_key_data(t->hash, k, port_data(port)) != 0) {
		res = HV_MAC_LIMIT_TABLE; /* buckets full before capacity: rare */
		goto unreserve_port;
	}
	pos = rte_hash_lookup(t->hash, k);
	if (pos < 0 || (uint32_t)pos >= t->n_slots) {
		res = HV_MAC_LIMIT_TABLE;
		goto unreserve_port;
	}
	s = &t->slots[pos];
	{
		uint8_t expected = SLOT_FREE;

		if (!__atomic_compare_exchange_n(&s->in_use, &expected, SLOT_FILLING, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			/*
			 * Another lcore learned the same MAC at the same moment and owns
			 * the slot; our add may have overwritten its port: put it back
			 * once the owner has filled the slot (a few stores away). Under
			 * the slot lock, so that the key cannot have been deleted (the
			 * add would resurrect it) and no move is half done. A DEAD slot
			 * is being deleted: nothing to put back.
			 */
			if (slot_lock(s)) {
				if (s->port != port)
					rte_hash_add_key_data(t->hash, k, port_data(s->port));
				slot_unlock(s);
			}
			res = HV_MAC_REFRESHED;
			goto unreserve_port;
		}
	}
	s->key = *k;
	STORE(&s->port, port);
	STORE(&s->flags, 0);
	STORE(&s->last_tsc, now_tsc);
	__atomic_store_n(&s->in_use, SLOT_READY, __ATOMIC_RELEASE);
	return HV_MAC_LEARNED;

unreserve_port:
	SUB(&t->port_count[port], 1);
unreserve_segment:
	SUB(&t->segment_count[segment], 1);
unreserve_table:
	SUB(&t->count, 1);
	return res;
}

enum hv_mac_learn_result
hv_mac_table_learn(struct hv_mac_table *t, uint16_t segment, const uint8_t mac[6], uint16_t port,
		   uint64_t now_tsc)
{
	struct mac_key k;
	struct mac_slot *s;
	void *data;
	int32_t pos;
	uint16_t old;

	if ((mac[0] & 1) || (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0 ||
	    port >= HV_MAC_MAX_PORTS || segment >= HV_MAC_MAX_SEGMENTS)
		return HV_MAC_LIMIT_TABLE;
	make_key(&k, segment, mac);
	pos = rte_hash_lookup_data(t->hash, &k, &data);
	if (pos < 0)
		return learn_new(t, &k, port, now_tsc);
	if ((uint32_t)pos >= t->n_slots)
		return HV_MAC_LIMIT_TABLE;
	s = &t->slots[pos];
	old = (uint16_t)(uintptr_t)data;
	if (old == port) {
		if (now_tsc - LOAD(&s->last_tsc) > t->refresh_cycles)
			STORE(&s->last_tsc, now_tsc);
		return HV_MAC_REFRESHED;
	}
	/*
	 * A move rewrites the hash data, which would re-insert the key if the
	 * control thread had deleted it meanwhile (an entry no walk, age or
	 * flush could see again), and two lcores moving the same MAC would both
	 * give back the old port's place: the slot lock excludes both. A slot
	 * that is not live (being deleted, or not yet claimed by the lcore that
	 * added the key) takes the new-MAC path, which copes with both.
	 */
	if (!slot_lock(s))
		return learn_new(t, &k, port, now_tsc);
	old = s->port; /* under the lock the slot, not the hash, is the truth */
	if (old == port) {
		slot_unlock(s);
		return HV_MAC_REFRESHED;
	}
	if (s->flags & HV_MAC_F_STATIC) {
		slot_unlock(s);
		return HV_MAC_STATIC_CONFLICT;
	}
	if (!reserve(&t->port_count[port],
		     limit_of(LOAD(&t->port_limit[port]), t->default_port_limit))) {
		slot_unlock(s);
		return HV_MAC_LIMIT_PORT;
	}
	STORE(&s->last_tsc, now_tsc);
	STORE(&s->port, port);
	__atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
	/* the key is in the hash (the lock keeps it there): this updates its data */
	rte_hash_add_key_data(t->hash, &k, port_data(port));
	slot_unlock(s);
	SUB(&t->port_count[old], 1);
	return HV_MAC_MOVED;
}

/* ---- the per-lcore exact-match cache ---- */

#ifndef HV_MAC_CACHE_ORDER
#define HV_MAC_CACHE_ORDER 12
#endif
#define CACHE_ENTRIES (1u << HV_MAC_CACHE_ORDER) /* 16 bytes each: 64 KiB by default */

struct cache_entry {
	uint64_t key;  /* 1 << 63 | segment << 48 | MAC; 0 = empty */
	uint32_t slot; /* position in the table, to refresh the timestamp */
	uint16_t port;
	uint16_t stamp; /* coarse time of the last refresh through this entry */
};

/* Refresh through a cache entry once per 2^26 TSC cycles (tens of ms). */
#define CACHE_STAMP(tsc) ((uint16_t)((tsc) >> 26))

struct hv_mac_cache {
	uint64_t gen;
	struct cache_entry e[CACHE_ENTRIES];
};

static inline uint64_t
cache_key(uint16_t segment, const uint8_t *mac)
{
	uint32_t hi;
	uint16_t lo;

	/* two loads and byte swaps: network order keeps the low MAC bits low (see cache_slot) */
	memcpy(&hi, mac, 4);
	memcpy(&lo, mac + 4, 2);
	/* bit 63 marks a used entry: a zeroed entry matches no key */
	return 1ull << 63 | (uint64_t)segment << 48 | (uint64_t)rte_be_to_cpu_32(hi) << 16 |
	       rte_be_to_cpu_16(lo);
}

static inline struct cache_entry *
cache_slot(struct hv_mac_cache *c, uint64_t key)
{
	/*
	 * CRC32-C is linear over GF(2): MACs handed out in sequence (as labs and
	 * VMMs do) differ only in their low bits, and with the key in network
	 * order those bits map one-to-one onto the 12 index bits, so 1,000
	 * sequential MACs take 1,000 distinct entries.  With the bytes in host
	 * order they took 512 and evicted each other on every burst; a
	 * multiplicative hash took ~820 (random placement).
	 */
	return &c->e[rte_hash_crc_8byte(key, 0) & (CACHE_ENTRIES - 1)];
}

struct hv_mac_cache *
hv_mac_cache_create(int socket_id)
{
	return rte_zmalloc_socket("hv_mac_cache", sizeof(struct hv_mac_cache), RTE_CACHE_LINE_SIZE,
				  socket_id);
}

void
hv_mac_cache_free(struct hv_mac_cache *c)
{
	rte_free(c);
}

void
hv_mac_cache_sync(const struct hv_mac_table *t, struct hv_mac_cache *c)
{
	uint64_t gen;

	/*
	 * The caller has just reported quiescence, and no fence is needed here:
	 * a delete bumps gen before rte_rcu_qsbr_synchronize() releases the new
	 * token, and rte_rcu_qsbr_quiescent() stores that token (ending the
	 * grace period for this lcore) only after an acquire load of it, so the
	 * load below, later in program order, sees the bump whenever this lcore
	 * has just acknowledged the delete's grace period. A load that misses a
	 * bump belongs to an iteration whose report did not end it.
	 */
	gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
	if (likely(gen == c->gen))
		return;
	memset(c->e, 0, sizeof(c->e));
	c->gen = gen;
}

void
hv_mac_table_lookup_bulk(struct hv_mac_table *t, struct hv_mac_cache *cache, uint16_t segment,
			 const uint8_t *const macs[], unsigned n, int ports[])
{
	struct mac_key keys[HV_MAC_BULK_MAX];
	const void *kp[HV_MAC_BULK_MAX];
	int32_t pos[HV_MAC_BULK_MAX];
	unsigned miss[HV_MAC_BULK_MAX];
	struct cache_entry *ce[HV_MAC_BULK_MAX];
	uint64_t ck[HV_MAC_BULK_MAX];
	unsigned n_miss = 0;

	for (unsigned i = 0; i < n; i++) {
		if (cache != NULL) {
			uint64_t key = cache_key(segment, macs[i]);
			struct cache_entry *e = cache_slot(cache, key);

			ck[i] = key;
			ce[i] = e;
			if (e->key == key) {
				ports[i] = e->port;
				continue;
			}
		}
		make_key(&keys[n_miss], segment, macs[i]);
		kp[n_miss] = &keys[n_miss];
		miss[n_miss++] = i;
	}
	if (n_miss == 0)
		return;
	rte_hash_lookup_bulk(t->hash, kp, n_miss, pos);
	for (unsigned j = 0; j < n_miss; j++) {
		unsigned i = miss[j];
		const struct mac_slot *s;

		ports[i] = -ENOENT;
		if (pos[j] < 0 || (uint32_t)pos[j] >= t->n_slots)
			continue;
		s = &t->slots[pos[j]];
		/* the slot mirrors the hash data once READY; before that ask the hash */
		if (__atomic_load_n(&s->in_use, __ATOMIC_ACQUIRE) == SLOT_READY) {
			ports[i] = LOAD(&s->port);
			if (cache != NULL) {
				struct cache_entry *e = ce[i];

				e->key = ck[i];
				e->slot = (uint32_t)pos[j];
				e->port = (uint16_t)ports[i];
				e->stamp = (uint16_t)~0u; /* refresh on the first source hit */
			}
		} else {
			ports[i] = hv_mac_table_lookup(t, segment, macs[i]);
		}
	}
}

void
hv_mac_table_learn_bulk(struct hv_mac_table *t, struct hv_mac_cache *cache, uint16_t segment,
			const uint8_t *const macs[], unsigned n, uint16_t port, uint64_t now_tsc,
			uint8_t res[])
{
	struct mac_key keys[HV_MAC_BULK_MAX];
	const void *kp[HV_MAC_BULK_MAX];
	int32_t pos[HV_MAC_BULK_MAX];
	unsigned miss[HV_MAC_BULK_MAX];
	struct cache_entry *ce[HV_MAC_BULK_MAX];
	uint64_t ck[HV_MAC_BULK_MAX];
	unsigned n_miss = 0;

	for (unsigned i = 0; i < n; i++) {
		if (cache != NULL) {
			uint64_t key = cache_key(segment, macs[i]);
			struct cache_entry *e = cache_slot(cache, key);

			ck[i] = key;
			ce[i] = e;
			/* known here: a refresh, at most one store a millisecond */
			if (e->key == key && e->port == port) {
				/* the slot's line is written only when the entry's stamp is old */
				if (unlikely(e->stamp != CACHE_STAMP(now_tsc))) {
					STORE(&t->slots[e->slot].last_tsc, now_tsc);
					e->stamp = CACHE_STAMP(now_tsc);
				}
				res[i] = HV_MAC_REFRESHED;
				continue;
			}
		}
		make_key(&keys[n_miss], segment, macs[i]);
		kp[n_miss] = &keys[n_miss];
		miss[n_miss++] = i;
	}
	if (n_miss == 0)
		return;
	rte_hash_lookup_bulk(t->hash, kp, n_miss, pos);
	for (unsigned j = 0; j < n_miss; j++) {
		unsigned i = miss[j];
		struct mac_slot *s;

		if (likely(pos[j] >= 0 && (uint32_t)pos[j] < t->n_slots)) {
			s = &t->slots[pos[j]];
			if (likely(__atomic_load_n(&s->in_use, __ATOMIC_ACQUIRE) == SLOT_READY &&
				   LOAD(&s->port) == port)) {
				if (unlikely(now_tsc - LOAD(&s->last_tsc) > t->refresh_cycles))
					STORE(&s->last_tsc, now_tsc);
				res[i] = HV_MAC_REFRESHED;
				if (cache != NULL) {
					struct cache_entry *e = ce[i];

					e->key = ck[i];
					e->slot = (uint32_t)pos[j];
					e->port = port;
					e->stamp = CACHE_STAMP(now_tsc);
				}
				continue;
			}
		}
		res[i] = (uint8_t)hv_mac_table_learn(t, segment, macs[i], port, now_tsc);
	}
}

int
hv_mac_table_add_static(struct hv_mac_table *t, uint16_t segment, const uint8_t mac[6],
			uint16_t port)
{
	struct mac_key k;
	struct mac_slot *s;
	int32_t pos;

	if ((mac[0] & 1) || port >= HV_MAC_MAX_PORTS || segment >= HV_MAC_MAX_SEGMENTS)
		return -EINVAL;
	make_key(&k, segment, mac);
	pos = rte_hash_lookup(t->hash, &k);
	if (pos >= 0 && (uint32_t)pos < t->n_slots) {
		int rc;

		s = &t->slots[pos];
		/* FREE: an lcore added the key and is about to claim the slot */
		while (!slot_lock(s))
			rte_pause();
		if (!(s->flags & HV_MAC_F_STATIC)) {
			/* a learned entry becomes static: it leaves the learn counts */
			SUB(&t->port_count[s->port], 1);
			SUB(&t->segment_count[segment], 1);
		}
		STORE(&s->flags, HV_MAC_F_STATIC);
		STORE(&s->port, port);
		__atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
		rc = rte_hash_add_key_data(t->hash, &k, port_data(port)) == 0 ? 0 : -ENOSPC;
		slot_unlock(s);
		return rc;
	}
	if (!reserve(&t->count, t->capacity))
		return -ENOSPC;
	if (rte_hash_add_key_data(t->hash, &k, port_data(port)) != 0 ||
	    (pos = rte_hash_lookup(t->hash, &k)) < 0 || (uint32_t)pos >= t->n_slots) {
		SUB(&t->count, 1);
		return -ENOSPC;
	}
	s = &t->slots[pos];
	s->key = k;
	s->port = port;
	s->flags = HV_MAC_F_STATIC;
	s->last_tsc = rte_get_tsc_cycles();
	__atomic_store_n(&s->in_use, SLOT_READY, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Remove every in-use slot @match selects: delete the keys, wait one grace
 * period so that no lcore still holds a position, then release the positions.
 */
static uint32_t
remove_matching(struct hv_mac_table *t, bool (*match)(const struct mac_slot *, const void *),
		const void *arg)
{
	uint32_t *dead, n = 0;

	dead = malloc(sizeof(*dead) * t->n_slots);
	if (dead == NULL)
		return 0;
	for (uint32_t i = 0; i < t->n_slots; i++) {
		struct mac_slot *s = &t->slots[i];
		uint8_t st = __atomic_load_n(&s->in_use, __ATOMIC_ACQUIRE);

		if ((st != SLOT_READY && st != SLOT_BUSY) || !match(s, arg))
			continue;
		/* decide under the slot lock: no move is half done, none starts */
		if (!slot_lock(s))
			continue;
		if (!match(s, arg) || rte_hash_del_key(t->hash, &s->key) != (int32_t)i) {
			slot_unlock(s);
			continue;
		}
		/* lcores that still find the position see DEAD and leave the slot alone */
		__atomic_store_n(&s->in_use, SLOT_DEAD, __ATOMIC_RELEASE);
		if (!(s->flags & HV_MAC_F_STATIC)) {
			SUB(&t->port_count[LOAD(&s->port)], 1);
			SUB(&t->segment_count[s->key.segment], 1);
		}
		SUB(&t->count, 1);
		dead[n++] = i;
	}
	if (n > 0) {
		/* caches drop their copies at their next sync, within the grace period */
		__atomic_add_fetch(&t->gen, 1, __ATOMIC_SEQ_CST);
		rte_rcu_qsbr_synchronize(t->qsbr, RTE_QSBR_THRID_INVALID);
		for (uint32_t i = 0; i < n; i++) {
			__atomic_store_n(&t->slots[dead[i]].in_use, SLOT_FREE, __ATOMIC_RELEASE);
			rte_hash_free_key_with_position(t->hash, (int32_t)dead[i]);
		}
	}
	free(dead);
	return n;
}

struct age_arg {
	uint64_t now_tsc;
	uint64_t max_cycles;
};

static bool
match_age(const struct mac_slot *s, const void *arg)
{
	const struct age_arg *a = arg;
	uint64_t seen = LOAD(&s->last_tsc);

	if (s->flags & HV_MAC_F_STATIC)
		return false;
	/* a stamp from another core's TSC may be a little ahead of ours */
	return a->now_tsc > seen && a->now_tsc - seen > a->max_cycles;
}

uint32_t
hv_mac_table_age(struct hv_mac_table *t, uint64_t now_tsc, uint64_t max_age_ns)
{
	struct age_arg a = {
		.now_tsc = now_tsc,
		.max_cycles = (uint64_t)((double)max_age_ns * (double)rte_get_tsc_hz() / 1e9),
	};

	return remove_matching(t, match_age, &a);
}

struct flush_arg {
	int segment;
	int port;
	bool with_static;
};

static bool
match_flush(const struct mac_slot *s, const void *arg)
{
	const struct flush_arg *f = arg;

	if ((s->flags & HV_MAC_F_STATIC) && !f->with_static)
		return false;
	return (f->segment < 0 || s->key.segment == f->segment) &&
	       (f->port < 0 || LOAD(&s->port) == f->port);
}

uint32_t
hv_mac_table_flush(struct hv_mac_table *t, int segment, int port, bool with_static)
{
	struct flush_arg f = {.segment = segment, .port = port, .with_static = with_static};

	return remove_matching(t, match_flush, &f);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct hv_mac_entry *x = a, *y = b;

	if (x->segment != y->segment)
		return x->segment < y->segment ? -1 : 1;
	return memcmp(x->mac, y->mac, 6);
}

int
hv_mac_table_walk(struct hv_mac_table *t, int segment, uint64_t now_tsc,
		  int (*cb)(const struct hv_mac_entry *e, void *arg), void *arg)
{
	uint64_t hz = rte_get_tsc_hz();
	struct hv_mac_entry *v;
	uint32_t n = 0;
	int rc = 0;

	v = malloc(sizeof(*v) * (LOAD(&t->count) + 64));
	if (v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n_slots && n < LOAD(&t->count) + 64; i++) {
		const struct mac_slot *s = &t->slots[i];
		uint8_t st = __atomic_load_n(&s->in_use, __ATOMIC_ACQUIRE);
		uint64_t seen;

		if (st != SLOT_READY && st != SLOT_BUSY)
			continue;
		if (segment >= 0 && s->key.segment != segment)
			continue;
		seen = LOAD(&s->last_tsc);
		v[n].segment = s->key.segment;
		v[n].port = LOAD(&s->port);
		memcpy(v[n].mac, s->key.mac, 6);
		v[n].flags = LOAD(&s->flags);
		v[n].age_ns = now_tsc > seen
				      ? (uint64_t)((double)(now_tsc - seen) * 1e9 / (double)hz)
				      : 0;
		n++;
	}
	qsort(v, n, sizeof(*v), entry_cmp);
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = cb(&v[i], arg);
	free(v);
	return rc;
}
