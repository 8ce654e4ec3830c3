/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection tracking: keys, the TCP state machine and window checks, limits
 * with early drop, aging. One table per worker; see conntrack.h for who may
 * call what.
 *
 * The TCP window check follows the scheme of Guido van Rooney's "Real
 * Stateful TCP Packet Filtering in IP Filter", which Linux's conntrack also
 * uses: per direction, the highest sequence end sent, the highest end the
 * other side's acknowledgements and windows allow, and the largest window.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_random.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "firewall/conntrack.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define MAXACKWINCONST 66000 /* as Linux: acks may lag this far behind */

static const char *const state_names[HV_CT_STATE_MAX] = {
#define HV_CT_STATE_NAME_(s, n) n,
	HV_CT_STATES(HV_CT_STATE_NAME_)
#undef HV_CT_STATE_NAME_
};

static const struct {
	const char *name;
	uint32_t dflt;
} timeouts[HV_CT_TO_MAX] = {
#define HV_CT_TO_INFO_(s, n, d) {n, d},
	HV_CT_TIMEOUTS(HV_CT_TO_INFO_)
#undef HV_CT_TO_INFO_
};

const char *
hv_ct_state_name(uint8_t s)
{
	return s < HV_CT_STATE_MAX ? state_names[s] : "?";
}

const char *
hv_ct_timeout_name(enum hv_ct_timeout t)
{
	return (unsigned)t < HV_CT_TO_MAX ? timeouts[t].name : "?";
}

uint32_t
hv_ct_timeout_default(enum hv_ct_timeout t)
{
	return (unsigned)t < HV_CT_TO_MAX ? timeouts[t].dflt : 0;
}

int
hv_ct_timeout_from_name(const char *name)
{
	for (int i = 0; i < HV_CT_TO_MAX; i++)
		if (strcmp(name, timeouts[i].name) == 0)
			return i;
	return -1;
}

/* Counters and statistics: one writer (the worker), read by anyone. */
#define CT_SET(f, v) __atomic_store_n(&(f), (v), __ATOMIC_RELAXED)
#define CT_INC(f)    CT_SET(f, (f) + 1)

/* ---- the table ---- */

/*
 * The index: buckets of eight ways, each a 16-bit signature of the hash
 * (0: a free way) and an entry index, one cache line a bucket. A key has a
 * first bucket (the hash's low bits) and a second one (the first XOR a
 * function of the signature, so either one names the other) and lives in
 * the first unless it was full; a bucket counts how many of its keys live in
 * their second, and a lookup reads that one only when there are some. The
 * key itself is in the entry's first line, with its expiry: an established
 * packet costs the bucket and the entry, where rte_hash, with its separate
 * key store, cost a bucket, a key slot and then the entry (bench/RESULTS.md).
 * There are at least a quarter as many buckets as entries (a power of two:
 * at least twice the ways needed),
 * and an insert whose two buckets are full moves one resident of either to
 * its other bucket; a key that still finds no way is refused as a full
 * table. Worker only: the control thread reads entries, never buckets.
 */
#define CT_WAYS 8

static uint32_t hash_seed[2] = {0x6876, 0x1f3d5b79}; /* see hash_words() */
static bool hash_seeded;

struct hv_ct_bucket {
	uint16_t sig[CT_WAYS];
	uint32_t idx[CT_WAYS];
	uint32_t over; /* keys whose first bucket this is, living in their second */
	uint32_t pad[3];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct hv_ct_bucket) == 64, "a bucket is one cache line");
_Static_assert(sizeof(struct hv_ct_key) == 48, "the key is six words");

/* what lookup_start leaves for _finish besides a candidate */
#define CT_ABSENT (-1) /* no candidate, and no key of this bucket lives in its second */
#define CT_SEARCH (-2) /* several candidates, or a second bucket to read: look again */

static inline uint16_t
ct_sig(uint32_t h)
{
	uint16_t s = (uint16_t)(h >> 16);

	return s != 0 ? s : 1;
}

static inline uint32_t
ct_alt(const struct hv_ct *ct, uint32_t b, uint16_t sig)
{
	return (b ^ (((uint32_t)sig * 0x9e3779b1u) >> 13 | 1)) & ct->bk_mask;
}

/* The ways of B holding signature SIG: bit 2w for way w. */
static inline uint32_t
bucket_hits(const struct hv_ct_bucket *b, uint16_t sig)
{
#ifdef __SSE2__
	__m128i v = _mm_cmpeq_epi16(_mm_load_si128((const __m128i *)(const void *)b->sig),
				    _mm_set1_epi16((short)sig));

	return (uint32_t)_mm_movemask_epi8(v) & 0x5555u;
#else
	uint32_t m = 0;

	for (unsigned w = 0; w < CT_WAYS; w++)
		if (b->sig[w] == sig)
			m |= 1u << (2 * w);
	return m;
#endif
}

static inline uint64_t
key_word(const struct hv_ct_key *k, unsigned i)
{
	uint64_t v;

	memcpy(&v, (const char *)k + 8 * i, sizeof(v));
	return v;
}

/*
 * Word by word from the two keys. Copying each key into an array first had
 * GCC stage both through the stack in 16-byte halves and read them back in
 * 8-byte words, on the path of every established packet.
 */
static inline bool
key_eq(const struct hv_ct_key *x, const struct hv_ct_key *y)
{
	return ((key_word(x, 0) ^ key_word(y, 0)) | (key_word(x, 1) ^ key_word(y, 1)) |
		(key_word(x, 2) ^ key_word(y, 2)) | (key_word(x, 3) ^ key_word(y, 3)) |
		(key_word(x, 4) ^ key_word(y, 4)) | (key_word(x, 5) ^ key_word(y, 5))) == 0;
}

static inline int32_t
bucket_find(const struct hv_ct *ct, const struct hv_ct_bucket *b, const struct hv_ct_key *k,
	    uint16_t sig)
{
	for (uint32_t m = bucket_hits(b, sig); m != 0; m &= m - 1) {
		uint32_t i = b->idx[__builtin_ctz(m) >> 1];

		if (key_eq(&ct->e[i].key, k))
			return (int32_t)i;
	}
	return -1;
}

/* The entry holding key K of hash H, or -1 (expired or not). */
static int32_t
ct_find(const struct hv_ct *ct, const struct hv_ct_key *k, uint32_t h)
{
	uint32_t b = h & ct->bk_mask;
	uint16_t sig = ct_sig(h);
	int32_t i = bucket_find(ct, &ct->bk[b], k, sig);

	if (i >= 0 || ct->bk[b].over == 0)
		return i;
	return bucket_find(ct, &ct->bk[ct_alt(ct, b, sig)], k, sig);
}

static bool
bucket_put(struct hv_ct_bucket *b, uint16_t sig, uint32_t slot)
{
	uint32_t m = bucket_hits(b, 0);
	unsigned w;

	if (m == 0)
		return false;
	w = (unsigned)__builtin_ctz(m) >> 1;
	b->idx[w] = slot;
	b->sig[w] = sig;
	return true;
}

/* Make a way in bucket B by moving a resident to its other bucket. */
static bool
bucket_make_room(struct hv_ct *ct, uint32_t b)
{
	struct hv_ct_bucket *bb = &ct->bk[b];

	for (unsigned w = 0; w < CT_WAYS; w++) {
		uint16_t sig = bb->sig[w];
		uint32_t slot = bb->idx[w], other = ct_alt(ct, b, sig);

		if (!bucket_put(&ct->bk[other], sig, slot))
			continue;
		bb->sig[w] = 0;
		if ((ct->e[slot].hash & ct->bk_mask) == b)
			bb->over++; /* left its first bucket */
		else
			ct->bk[other].over--; /* back in its first */
		return true;
	}
	return false;
}

static bool
ct_insert(struct hv_ct *ct, uint32_t h, uint32_t slot)
{
	uint32_t b1 = h & ct->bk_mask;
	uint16_t sig = ct_sig(h);
	uint32_t b2 = ct_alt(ct, b1, sig);

	if (bucket_put(&ct->bk[b1], sig, slot))
		return true;
	if (bucket_put(&ct->bk[b2], sig, slot) ||
	    (bucket_make_room(ct, b2) && bucket_put(&ct->bk[b2], sig, slot))) {
		ct->bk[b1].over++;
		return true;
	}
	return bucket_make_room(ct, b1) && bucket_put(&ct->bk[b1], sig, slot);
}

static void
ct_remove(struct hv_ct *ct, uint32_t slot, uint32_t h)
{
	uint32_t b1 = h & ct->bk_mask;
	uint16_t sig = ct_sig(h);

	for (int pass = 0; pass < 2; pass++) {
		struct hv_ct_bucket *b = &ct->bk[pass == 0 ? b1 : ct_alt(ct, b1, sig)];

		for (uint32_t m = bucket_hits(b, sig); m != 0; m &= m - 1) {
			unsigned w = (unsigned)__builtin_ctz(m) >> 1;

			if (b->idx[w] != slot)
				continue;
			b->sig[w] = 0;
			if (pass == 1)
				ct->bk[b1].over--;
			return;
		}
	}
}

uint32_t
hv_ct_bucket_of(const struct hv_ct *ct, uint32_t hash, bool second)
{
	uint32_t b = hash & ct->bk_mask;

	return second ? ct_alt(ct, b, ct_sig(hash)) : b;
}

const char *
hv_ct_verify(const struct hv_ct *ct)
{
	uint32_t nb = ct->bk_mask + 1, indexed = 0, free_n = 0, used = 0;
	uint32_t *over = calloc(nb, sizeof(*over));
	const char *bad = NULL;

	if (over == NULL)
		return "out of memory";
	for (uint32_t i = 0; i < ct->capacity; i++) {
		const struct hv_ct_entry *e = &ct->e[i];
		uint32_t first = e->hash & ct->bk_mask;

		if (!e->used)
			continue;
		used++;
		if (ct_find(ct, &e->key, e->hash) != (int32_t)i)
			bad = "a live entry that lookup does not find";
		else if (bucket_find(ct, &ct->bk[first], &e->key, ct_sig(e->hash)) < 0)
			over[first]++;
	}
	for (uint32_t b = 0; b < nb && bad == NULL; b++) {
		const struct hv_ct_bucket *bb = &ct->bk[b];

		if (over[b] != bb->over)
			bad = "a bucket's count of keys in their second bucket is wrong";
		for (unsigned w = 0; w < CT_WAYS && bad == NULL; w++) {
			const struct hv_ct_entry *e;
			uint32_t first;

			if (bb->sig[w] == 0)
				continue;
			indexed++;
			if (bb->idx[w] >= ct->capacity) {
				bad = "a way indexes past the entries";
				break;
			}
			e = &ct->e[bb->idx[w]];
			first = e->hash & ct->bk_mask;
			if (!e->used)
				bad = "a way indexes a free entry";
			else if (bb->sig[w] != ct_sig(e->hash))
				bad = "a way's signature is not its entry's";
			else if (b != first && b != ct_alt(ct, first, bb->sig[w]))
				bad = "an entry in neither of its buckets";
		}
	}
	free(over);
	if (bad != NULL)
		return bad;
	if (indexed != used || used != ct->count)
		return "the ways, the live entries and the count disagree";
	for (uint32_t s = ct->free_head; s != HV_CT_NIL; s = ct->e[s].next)
		if (s >= ct->capacity || ct->e[s].used || ++free_n > ct->capacity)
			return "the free chain holds a live entry or loops";
	if (free_n + used != ct->capacity)
		return "entries neither live nor free";
	return NULL;
}

struct hv_ct *
hv_ct_create(const struct hv_ct_conf *conf, char *err, size_t errlen)
{
	struct hv_ct *ct;
	uint32_t nb;

	if (conf->capacity < 64 || conf->mgmt_reserve >= conf->capacity ||
	    conf->capacity > (1u << 30)) {
		snprintf(err, errlen, "connection table of %u with a reserve of %u: %s",
			 conf->capacity, conf->mgmt_reserve,
			 conf->capacity > (1u << 30) ? "too large" : "too small");
		return NULL;
	}
	nb = rte_align32pow2(conf->capacity / 4);
	if (!hash_seeded) {
		uint64_t r = rte_rand();

		hash_seed[0] = (uint32_t)r;
		hash_seed[1] = (uint32_t)(r >> 32);
		hash_seeded = true;
	}
	ct = rte_zmalloc_socket("hv_ct", sizeof(*ct), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ct == NULL)
		goto nomem;
	ct->e = rte_zmalloc_socket("hv_ct_entries", sizeof(*ct->e) * conf->capacity,
				   RTE_CACHE_LINE_SIZE, conf->socket_id);
	ct->bk = rte_zmalloc_socket("hv_ct_buckets", sizeof(*ct->bk) * nb, RTE_CACHE_LINE_SIZE,
				    conf->socket_id);
	if (ct->e == NULL || ct->bk == NULL)
		goto nomem_ct;
	/*
	 * Touch every page now: without hugepages the memory arrives lazily, and
	 * faulting it in while connections open cut the first fill of a table
	 * of 1,000,000 to a tenth of the steady setup rate (bench/RESULTS.md).
	 */
	memset(ct->e, 0, sizeof(*ct->e) * conf->capacity);
	memset(ct->bk, 0, sizeof(*ct->bk) * nb);
	for (uint32_t i = 0; i < conf->capacity; i++)
		ct->e[i].next = i + 1 < conf->capacity ? i + 1 : HV_CT_NIL;
	ct->free_head = 0;
	ct->bk_mask = nb - 1;
	ct->capacity = conf->capacity;
	ct->mgmt_reserve = conf->mgmt_reserve;
	ct->port_limit = conf->port_limit;
	ct->hz = conf->hz;
	/* see hv_ct_age: one sweep a second, or 256 Ki slots a second for larger tables */
	uint64_t sweep = conf->hz * (conf->capacity / HV_CT_AGE_RATE + 1);

	ct->age_tsc_per_slot = sweep / conf->capacity ? sweep / conf->capacity : 1;
	ct->age_slots_per_tsc = ((uint64_t)conf->capacity << 32) / (sweep ? sweep : 1);
	ct->age_last = 0;
	for (int i = 0; i < HV_CT_TO_MAX; i++) {
		uint32_t s = conf->timeouts[i] ? conf->timeouts[i] : timeouts[i].dflt;

		ct->to[i] = (uint64_t)s * conf->hz;
	}
	for (int i = 0; i < 2; i++)
		ct->head[i] = ct->tail[i] = HV_CT_NIL;
	return ct;
nomem_ct:
	rte_free(ct->bk);
	rte_free(ct->e);
	rte_free(ct);
nomem:
	snprintf(err, errlen, "out of memory for a connection table of %u", conf->capacity);
	return NULL;
}

void
hv_ct_free(struct hv_ct *ct)
{
	if (ct == NULL)
		return;
	rte_free(ct->bk);
	rte_free(ct->e);
	rte_free(ct);
}

/* ---- entry writes: a sequence count readers can check ---- */

static inline void
write_begin(struct hv_ct_entry *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void
write_end(struct hv_ct_entry *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

bool
hv_ct_snapshot(const struct hv_ct *ct, uint32_t slot, struct hv_ct_entry *out)
{
	const struct hv_ct_entry *e;

	if (slot >= ct->capacity)
		return false;
	e = &ct->e[slot];
	for (int tries = 0; tries < 100; tries++) {
		uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE), s2;

		if (s1 & 1)
			continue;
		memcpy(out, e, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return out->used != 0;
	}
	return false;
}

/* ---- early-drop lists ---- */

static void
list_add(struct hv_ct *ct, uint32_t slot)
{
	struct hv_ct_entry *e = &ct->e[slot];
	unsigned l = (e->flags & HV_CT_F_MGMT) ? 1 : 0;

	e->prev = ct->tail[l];
	e->next = HV_CT_NIL;
	if (ct->tail[l] != HV_CT_NIL)
		ct->e[ct->tail[l]].next = slot;
	else
		ct->head[l] = slot;
	ct->tail[l] = slot;
	e->flags |= HV_CT_F_EMBRYONIC;
}

static void
list_del(struct hv_ct *ct, uint32_t slot)
{
	struct hv_ct_entry *e = &ct->e[slot];
	unsigned l = (e->flags & HV_CT_F_MGMT) ? 1 : 0;

	if (!(e->flags & HV_CT_F_EMBRYONIC))
		return;
	if (e->prev != HV_CT_NIL)
		ct->e[e->prev].next = e->next;
	else
		ct->head[l] = e->next;
	if (e->next != HV_CT_NIL)
		ct->e[e->next].prev = e->prev;
	else
		ct->tail[l] = e->prev;
	e->flags &= (uint8_t)~HV_CT_F_EMBRYONIC;
}

/* ---- keys ---- */

/*
 * The key is built in registers as its six 64-bit words and stored once:
 * writing it field by field and then hashing it as words made every word
 * load wait for several smaller stores (no store-to-load forwarding), the
 * costliest few instructions of the whole firewall stage. The layout is
 * struct hv_ct_key's on a little-endian machine:
 *
 *   word 0, 1  a.addr
 *   word 2     a.seg | a.port << 16 | b.addr[0..3] << 32
 *   word 3     b.addr[4..11]
 *   word 4     b.addr[12..15] | b.seg << 32 | b.port << 48
 *   word 5     family | proto << 8
 *
 * Endpoints are ordered by (address low word, address high word, seg|port).
 */
_Static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the key words assume little-endian");
_Static_assert(offsetof(struct hv_ct_key, b) == 20 && offsetof(struct hv_ct_key, family) == 40,
	       "the key layout the words are built for");

/*
 * The hash's secret, drawn when the first table is created (before any
 * worker runs, and the same for every table: a packet handed to another
 * worker keeps its hash), so that a guest cannot choose keys that collide in
 * the index, as Linux seeds its conntrack hash (nf_conntrack_hash_rnd).
 */
static inline uint32_t
hash_words(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3, uint64_t w4, uint64_t w5)
{
	uint32_t a = hash_seed[0], b = hash_seed[1];

	/* two independent chains: the CRC instruction's latency, not its rate, bounds one */
	a = rte_hash_crc_8byte(w0, a);
	b = rte_hash_crc_8byte(w1, b);
	a = rte_hash_crc_8byte(w2, a);
	b = rte_hash_crc_8byte(w3, b);
	a = rte_hash_crc_8byte(w4, a);
	b = rte_hash_crc_8byte(w5, b);
	return a ^ (b * 0x9e3779b1u);
}

/*
 * One 8-byte store of a register. Left to itself, GCC paired the key's
 * words into 16-byte stores through a spill to the stack, read back by a
 * 16-byte load that no store could forward to: half of make_key's samples
 * in profiles of both benchmarks.
 */
static inline void
store_word(struct hv_ct_key *k, unsigned i, uint64_t v)
{
#if defined(__x86_64__)
	__asm__("movq %1, %0" : "=m"(*((uint64_t *)(void *)k + i)) : "r"(v));
#else
	memcpy((char *)k + 8 * i, &v, 8);
#endif
}

static void
make_key(struct hv_ct_pkt *p, uint8_t family, uint8_t proto, const uint8_t *src, const uint8_t *dst,
	 uint16_t src_seg, uint16_t dst_seg, uint16_t sport, uint16_t dport)
{
	uint64_t x0, x1 = 0, y0, y1 = 0, w0, w1, w2, w3, w4, w5;
	uint32_t xs = (uint32_t)src_seg | (uint32_t)sport << 16;
	uint32_t ys = (uint32_t)dst_seg | (uint32_t)dport << 16;
	bool swap;

	if (family == 4) {
		uint32_t s4, d4;

		memcpy(&s4, src, 4);
		memcpy(&d4, dst, 4);
		x0 = s4;
		y0 = d4;
	} else {
		memcpy(&x0, src, 8);
		memcpy(&x1, src + 8, 8);
		memcpy(&y0, dst, 8);
		memcpy(&y1, dst + 8, 8);
	}
	swap = x0 != y0 ? x0 > y0 : x1 != y1 ? x1 > y1 : xs > ys;
	if (swap) {
		uint64_t t0 = x0, t1 = x1;
		uint32_t ts = xs;

		x0 = y0;
		x1 = y1;
		xs = ys;
		y0 = t0;
		y1 = t1;
		ys = ts;
	}
	w0 = x0;
	w1 = x1;
	w2 = xs | y0 << 32;
	w3 = y0 >> 32 | y1 << 32;
	w4 = y1 >> 32 | (uint64_t)ys << 32;
	w5 = (uint64_t)family | (uint64_t)proto << 8;
	store_word(&p->key, 0, w0);
	store_word(&p->key, 1, w1);
	store_word(&p->key, 2, w2);
	store_word(&p->key, 3, w3);
	store_word(&p->key, 4, w4);
	store_word(&p->key, 5, w5);
	p->from_b = swap;
	p->hash = hash_words(w0, w1, w2, w3, w4, w5);
}

static inline uint16_t
rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static bool
icmp_is_error(bool v6, uint8_t type)
{
	if (v6)
		return type >= 1 && type <= 4;
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/*
 * The connection an ICMP error quotes: the quoted packet went from the
 * error's destination to somewhere past the error's source, so its source
 * segment is the error's destination segment.
 */
static enum hv_drop_reason
quoted_key(const struct hv_pkt_meta *m, const uint8_t *frame, uint32_t len, uint16_t src_seg,
	   uint16_t dst_seg, struct hv_ct_pkt *p)
{
	uint32_t end = (uint32_t)m->l3_off + m->l3_len;
	uint32_t off = m->payload_off, ihl, l4;
	const uint8_t *q;
	uint8_t proto;
	uint16_t sport = 0, dport = 0;
	bool v6 = m->l3 == HV_L3_IPV6;

	if (end > len)
		end = len;
	if (off >= end)
		return HV_DROP_CT_ICMP_QUOTE;
	q = frame + off;
	if (!v6) {
		if (end - off < 20 || (q[0] >> 4) != 4)
			return HV_DROP_CT_ICMP_QUOTE;
		ihl = (uint32_t)(q[0] & 0xf) * 4;
		if (ihl < 20 || ihl > end - off)
			return HV_DROP_CT_ICMP_QUOTE;
		proto = q[9];
		l4 = off + ihl;
		/* a quoted non-first fragment carries no ports */
		if ((rd16(q + 6) & 0x1fff) != 0)
			proto = 0xff;
	} else {
		if (end - off < 40 || (q[0] >> 4) != 6)
			return HV_DROP_CT_ICMP_QUOTE;
		proto = q[6];
		l4 = off + 40;
	}
	if (proto == 6 || proto == 17) {
		if (end - l4 < 4)
			return HV_DROP_CT_ICMP_QUOTE;
		sport = rd16(frame + l4);
		dport = rd16(frame + l4 + 2);
	} else if ((proto == 1 && !v6) || (proto == 58 && v6)) {
		uint8_t t;

		if (end - l4 < 8)
			return HV_DROP_CT_ICMP_QUOTE;
		t = frame[l4];
		/* only an echo request opens a connection an error can quote */
		if (t != (v6 ? 128 : 8))
			return HV_DROP_CT_ICMP_NO_CONN;
		sport = dport = rd16(frame + l4 + 4);
	}
	if (!v6)
		make_key(p, 4, proto, q + 12, q + 16, dst_seg, src_seg, sport, dport);
	else
		make_key(p, 6, proto, q + 8, q + 24, dst_seg, src_seg, sport, dport);
	return HV_DROP_NONE;
}

enum hv_drop_reason
hv_ct_pkt_build(const struct hv_pkt_meta *m, const uint8_t *frame, uint32_t len, uint16_t src_seg,
		uint16_t dst_seg, struct hv_ct_pkt *p)
{
	uint8_t family;
	bool v6, l4 = (m->flags & HV_PKT_F_L4) != 0;

	p->kind = HV_CT_K_NONE;
	if (m->l3 == HV_L3_IPV4)
		family = 4;
	else if (m->l3 == HV_L3_IPV6)
		family = 6;
	else
		return HV_DROP_NONE;
	if (m->flags & HV_PKT_F_FRAG_LATER)
		return HV_DROP_NONE;
	v6 = family == 6;
	switch (m->l4_proto) {
	case 6:
		p->kind = l4 ? HV_CT_K_TCP : HV_CT_K_NONE;
		break;
	case 17:
		p->kind = l4 ? HV_CT_K_UDP : HV_CT_K_NONE;
		break;
	case 1:
	case 58:
		if (!l4) {
			p->kind = HV_CT_K_OTHER; /* ICMP in IPv6 or ICMPv6 in IPv4 */
			break;
		}
		if (m->icmp_type == (v6 ? 128 : 8))
			p->kind = HV_CT_K_ICMP_ECHO_REQ;
		else if (m->icmp_type == (v6 ? 129 : 0))
			p->kind = HV_CT_K_ICMP_ECHO_REPLY;
		else if (icmp_is_error(v6, m->icmp_type))
			p->kind = HV_CT_K_ICMP_ERROR;
		else
			p->kind = HV_CT_K_ICMP_OTHER;
		break;
	default:
		p->kind = HV_CT_K_OTHER;
		break;
	}
	if (p->kind == HV_CT_K_NONE)
		return HV_DROP_NONE;
	if (p->kind == HV_CT_K_ICMP_ERROR)
		return quoted_key(m, frame, len, src_seg, dst_seg, p);
	if (p->kind == HV_CT_K_OTHER)
		make_key(p, family, m->l4_proto, m->src_ip, m->dst_ip, src_seg, dst_seg, 0, 0);
	else
		make_key(p, family, m->l4_proto, m->src_ip, m->dst_ip, src_seg, dst_seg, m->sport,
			 m->dport);
	return HV_DROP_NONE;
}

/* ---- lookup, delete, aging ---- */

void
hv_ct_delete(struct hv_ct *ct, uint32_t slot)
{
	struct hv_ct_entry *e = &ct->e[slot];

	if (!e->used)
		return;
	write_begin(e);
	list_del(ct, slot);
	ct_remove(ct, slot, e->hash);
	e->used = 0;
	e->next = ct->free_head;
	ct->free_head = slot;
	write_end(e);
	CT_SET(ct->count, ct->count - 1);
	if (!(e->flags & HV_CT_F_MGMT))
		CT_SET(ct->count_other, ct->count_other - 1);
	if (e->seg < HV_CT_MAX_SEGS)
		CT_SET(ct->seg_count[e->seg], ct->seg_count[e->seg] - 1);
	if (e->in_port < HV_CT_MAX_PORTS)
		CT_SET(ct->port_count[e->in_port], ct->port_count[e->in_port] - 1);
	CT_INC(ct->stats.deleted);
}

static inline int32_t
check_found(struct hv_ct *ct, int32_t pos, uint64_t now)
{
	if (pos < 0)
		return -1;
	if (unlikely(ct->e[pos].expire <= now)) {
		hv_ct_delete(ct, (uint32_t)pos);
		CT_INC(ct->stats.expired);
		return -1;
	}
	return pos;
}

void
hv_ct_lookup_start(struct hv_ct *ct, const struct hv_ct_pkt *const *pkts, unsigned n, int32_t *pos)
{
	/* the buckets are cold: ask for all of them before reading any */
	for (unsigned i = 0; i < n; i++)
		rte_prefetch0(&ct->bk[pkts[i]->hash & ct->bk_mask]);
	for (unsigned i = 0; i < n; i++) {
		const uint32_t h = pkts[i]->hash;
		const struct hv_ct_bucket *b = &ct->bk[h & ct->bk_mask];
		uint32_t m = bucket_hits(b, ct_sig(h));

		if (likely(m != 0 && (m & (m - 1)) == 0)) {
			const struct hv_ct_entry *e = &ct->e[b->idx[__builtin_ctz(m) >> 1]];

			pos[i] = (int32_t)(e - ct->e);
			rte_prefetch0(e);
			rte_prefetch0((const char *)e + 64);
			if (pkts[i]->kind == HV_CT_K_TCP)
				rte_prefetch0((const char *)e + 128);
		} else {
			pos[i] = m == 0 && b->over == 0 ? CT_ABSENT : CT_SEARCH;
		}
	}
}

int32_t
hv_ct_lookup_finish(struct hv_ct *ct, const struct hv_ct_pkt *p, int32_t pos, uint64_t now)
{
	/* the candidate may be another key with the same signature, or deleted since */
	if (pos >= 0 ? !ct->e[pos].used || !key_eq(&ct->e[pos].key, &p->key) : pos == CT_SEARCH)
		pos = ct_find(ct, &p->key, p->hash);
	return check_found(ct, pos, now);
}

void
hv_ct_lookup_bulk(struct hv_ct *ct, const struct hv_ct_pkt *const *pkts, unsigned n, uint64_t now,
		  int32_t *slot)
{
	hv_ct_lookup_start(ct, pkts, n, slot);
	for (unsigned i = 0; i < n; i++)
		slot[i] = hv_ct_lookup_finish(ct, pkts[i], slot[i], now);
}

int32_t
hv_ct_lookup(struct hv_ct *ct, const struct hv_ct_pkt *p, uint64_t now)
{
	return check_found(ct, ct_find(ct, &p->key, p->hash), now);
}

unsigned
hv_ct_age(struct hv_ct *ct, uint64_t now, unsigned budget)
{
	/*
	 * Paced by time, not by poll iterations: a worker that polls millions
	 * of times a second used to walk 32 slots (32 cache misses, one entry
	 * is three lines) every time, as much work per burst as the burst.
	 * Expired entries a packet meets are deleted by its lookup anyway; the
	 * scan only reclaims idle ones, so within a period is soon enough.
	 */
	uint64_t owed, scan;
	unsigned done = 0;

	if (now < ct->age_last)
		return 0;
	owed = now - ct->age_last;
	if (owed > ct->age_tsc_per_slot * ct->capacity) /* at most one sweep is owed */
		owed = ct->age_tsc_per_slot * ct->capacity;
	scan = (owed * ct->age_slots_per_tsc) >> 32;
	if (scan == 0)
		return 0;
	if (scan > budget * 4u)
		scan = budget * 4u;
	if (scan > ct->capacity)
		scan = ct->capacity;
	ct->age_last = now - owed + scan * ct->age_tsc_per_slot;
	for (uint32_t i = 0; i < (uint32_t)scan && done < budget; i++) {
		uint32_t s = ct->age_cursor;
		struct hv_ct_entry *e = &ct->e[s];

		ct->age_cursor = s + 1 == ct->capacity ? 0 : s + 1;
		if (e->used && e->expire <= now) {
			hv_ct_delete(ct, s);
			CT_INC(ct->stats.expired);
			done++;
		}
	}
	return done;
}

bool
hv_ct_filter_match(const struct hv_ct_entry *e, const struct hv_ct_filter *f)
{
	size_t alen;

	if (f->seg != HV_CT_ANY_SEG && e->key.a.seg != f->seg && e->key.b.seg != f->seg)
		return false;
	if (f->port != HV_CT_ANY_PORT && e->in_port != f->port)
		return false;
	if (f->proto && e->key.proto != f->proto)
		return false;
	if (f->family && e->key.family != f->family)
		return false;
	if (f->has_host) {
		alen = e->key.family == 4 ? 4 : 16;
		if (e->key.family != f->family && f->family)
			return false;
		if (memcmp(e->key.a.addr, f->host.addr, alen) != 0 &&
		    memcmp(e->key.b.addr, f->host.addr, alen) != 0)
			return false;
	}
	return true;
}

uint32_t
hv_ct_flush(struct hv_ct *ct, const struct hv_ct_filter *f)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < ct->capacity; s++)
		if (ct->e[s].used && hv_ct_filter_match(&ct->e[s], f)) {
			hv_ct_delete(ct, s);
			n++;
		}
	return n;
}

void
hv_ct_restamp(struct hv_ct *ct, uint32_t slot, uint32_t rule, uint32_t epoch)
{
	struct hv_ct_entry *e = &ct->e[slot];

	write_begin(e);
	e->rule = rule;
	e->epoch = epoch;
	write_end(e);
}

void
hv_ct_mailbox_poll(struct hv_ct *ct)
{
	uint32_t req = __atomic_load_n(&ct->mbox.req, __ATOMIC_ACQUIRE);

	if (likely(req == ct->mbox.done))
		return;
	ct->mbox.flushed = hv_ct_flush(ct, &ct->mbox.filter);
	__atomic_store_n(&ct->mbox.done, req, __ATOMIC_RELEASE);
}

/* ---- TCP ---- */

static inline bool
before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool
after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

/* The window scale option of a SYN, or -1. Bounds: the TCP header as parsed. */
static int
tcp_wscale(const struct hv_pkt_meta *m, const uint8_t *frame, uint32_t len)
{
	uint32_t off = (uint32_t)m->l4_off + 20, end = m->payload_off;

	if (end > len)
		end = len;
	while (off < end) {
		uint8_t kind = frame[off];

		if (kind == 0)
			break;
		if (kind == 1) {
			off++;
			continue;
		}
		if (off + 1 >= end || frame[off + 1] < 2 || frame[off + 1] > end - off)
			break;
		if (kind == 3 && frame[off + 1] == 3)
			return frame[off + 2] > 14 ? 14 : frame[off + 2];
		off += frame[off + 1];
	}
	return -1;
}

static uint32_t
tcp_payload(const struct hv_pkt_meta *m)
{
	uint32_t end = (uint32_t)m->l3_off + m->l3_len;

	return end > m->payload_off ? end - m->payload_off : 0;
}

static void
tcp_dir_init(struct hv_ct_tcp_dir *s, const struct hv_pkt_meta *m, const uint8_t *frame,
	     uint32_t len, uint32_t end)
{
	int ws = (m->tcp_flags & TCP_SYN) ? tcp_wscale(m, frame, len) : -1;

	s->end = s->maxend = end;
	s->maxwin = m->tcp_win ? m->tcp_win : 1;
	s->seen = 1;
	s->ws_opt = ws >= 0;
	s->ws_val = ws >= 0 ? (uint8_t)ws : 0;
	s->wscale = 0;
}

/* Valid flag combinations, PSH, URG, ECE and CWR aside. */
static bool
tcp_flags_valid(uint8_t f)
{
	f &= TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK;
	switch (f) {
	case TCP_SYN:
	case TCP_SYN | TCP_ACK:
	case TCP_RST:
	case TCP_RST | TCP_ACK:
	case TCP_FIN | TCP_ACK:
	case TCP_ACK:
		return true;
	default:
		return false;
	}
}

/* The window check and update for a packet from direction DIR. */
static bool
tcp_window(struct hv_ct_entry *e, unsigned dir, const struct hv_pkt_meta *m, const uint8_t *frame,
	   uint32_t len)
{
	struct hv_ct_tcp_dir *s = &e->td[dir], *r = &e->td[!dir];
	uint8_t f = m->tcp_flags;
	uint32_t seq = m->tcp_seq, ack = m->tcp_ack, win = m->tcp_win;
	uint32_t end = seq + tcp_payload(m) + ((f & TCP_SYN) ? 1 : 0) + ((f & TCP_FIN) ? 1 : 0);

	if (!s->seen) {
		/* the first packet this way: the responder's SYN-ACK */
		tcp_dir_init(s, m, frame, len, end);
		if (s->ws_opt && r->ws_opt) {
			s->wscale = s->ws_val;
			r->wscale = r->ws_val;
			e->flags |= HV_CT_F_WSCALE;
		}
	} else if ((f & TCP_SYN) && !(f & TCP_ACK) && e->state == HV_CT_SYN_SENT && dir == 0) {
		tcp_dir_init(s, m, frame, len, end); /* a retransmitted SYN */
	}
	if (!(f & TCP_SYN))
		win <<= s->wscale;
	if (!(f & TCP_ACK))
		ack = r->end;
	if (r->seen) {
		uint32_t maxack = s->maxwin > MAXACKWINCONST ? s->maxwin : MAXACKWINCONST;

		if (!(!after(seq, s->maxend) && !before(end, s->end - r->maxwin) &&
		      !after(ack, r->end) && !before(ack, r->end - maxack)))
			return false;
	}
	if (s->maxwin < win)
		s->maxwin = win;
	if (after(end, s->end))
		s->end = end;
	if (r->maxwin != 0 && after(end, s->maxend))
		r->maxwin += end - s->maxend;
	if ((f & TCP_ACK) && after(ack + win, r->maxend - 1))
		r->maxend = ack + win + (win == 0);
	return true;
}

static uint32_t
timeout_of(const struct hv_ct *ct, const struct hv_ct_entry *e)
{
	(void)ct;
	switch (e->state) {
	case HV_CT_SYN_SENT:
		return HV_CT_TO_TCP_SYN_SENT;
	case HV_CT_SYN_RECV:
		return HV_CT_TO_TCP_SYN_RECV;
	case HV_CT_ESTABLISHED:
		return HV_CT_TO_TCP_ESTABLISHED;
	case HV_CT_FIN_WAIT:
		return HV_CT_TO_TCP_FIN_WAIT;
	case HV_CT_CLOSE_WAIT:
		return HV_CT_TO_TCP_CLOSE_WAIT;
	case HV_CT_LAST_ACK:
		return HV_CT_TO_TCP_LAST_ACK;
	case HV_CT_TIME_WAIT:
		return HV_CT_TO_TCP_TIME_WAIT;
	case HV_CT_CLOSE:
		return HV_CT_TO_TCP_CLOSE;
	default:
		break;
	}
	if (e->pclass == HV_CT_P_UDP)
		return e->state == HV_CT_REPLIED ? HV_CT_TO_UDP_STREAM : HV_CT_TO_UDP;
	if (e->pclass == HV_CT_P_ICMP)
		return HV_CT_TO_ICMP;
	return HV_CT_TO_GENERIC;
}

static enum hv_drop_reason
tcp_track(struct hv_ct_entry *e, unsigned dir, const struct hv_pkt_meta *m, const uint8_t *frame,
	  uint32_t len, bool *reopen)
{
	uint8_t f = m->tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK);
	uint8_t st = e->state, next = st;
	bool syn = f == TCP_SYN, synack = f == (TCP_SYN | TCP_ACK);
	bool rst = (f & TCP_RST) != 0, fin = (f & TCP_FIN) != 0;

	if (!tcp_flags_valid(m->tcp_flags))
		return HV_DROP_CT_TCP_FLAGS;
	if (syn && (st == HV_CT_TIME_WAIT || st == HV_CT_CLOSE)) {
		*reopen = true; /* a new connection on the same ports */
		return HV_DROP_NONE;
	}
	switch (st) {
	case HV_CT_SYN_SENT:
		if (syn && dir == 0)
			break;
		if (synack && dir == 1) {
			if (m->tcp_ack != e->td[0].end)
				return HV_DROP_CT_TCP_WINDOW;
			next = HV_CT_SYN_RECV;
			break;
		}
		if (rst && dir == 1) {
			/* a refusal must acknowledge the SYN */
			if (!(f & TCP_ACK) || m->tcp_ack != e->td[0].end)
				return HV_DROP_CT_TCP_WINDOW;
			next = HV_CT_CLOSE;
			goto set; /* the responder never sent a SYN: no window to check */
		}
		if (rst && dir == 0) {
			next = HV_CT_CLOSE;
			break;
		}
		return HV_DROP_CT_TCP_STATE;
	case HV_CT_SYN_RECV:
		if ((syn && dir == 0) || (synack && dir == 1))
			break; /* retransmissions */
		if (syn || synack)
			return HV_DROP_CT_TCP_STATE;
		if (rst)
			next = HV_CT_CLOSE;
		else if (dir == 0)
			next = fin ? HV_CT_FIN_WAIT : HV_CT_ESTABLISHED;
		break;
	case HV_CT_ESTABLISHED:
		if (synack && dir == 1)
			break; /* our ACK of it was lost */
		if (syn || synack)
			return HV_DROP_CT_TCP_STATE;
		if (rst)
			next = HV_CT_CLOSE;
		else if (fin)
			next = HV_CT_FIN_WAIT;
		break;
	case HV_CT_FIN_WAIT:
	case HV_CT_CLOSE_WAIT:
	case HV_CT_LAST_ACK:
	case HV_CT_TIME_WAIT:
		if (syn || synack)
			return HV_DROP_CT_TCP_STATE;
		if (rst) {
			next = HV_CT_CLOSE;
			break;
		}
		if (dir != e->closer) {
			if (fin && (st == HV_CT_FIN_WAIT || st == HV_CT_CLOSE_WAIT))
				next = HV_CT_LAST_ACK;
			else if (st == HV_CT_FIN_WAIT && !before(m->tcp_ack, e->td[e->closer].end))
				next = HV_CT_CLOSE_WAIT;
		} else if (st == HV_CT_LAST_ACK && !before(m->tcp_ack, e->td[!e->closer].end)) {
			next = HV_CT_TIME_WAIT;
		}
		break;
	case HV_CT_CLOSE:
		/*
		 * As Linux: segments still in flight when a RST closed the
		 * connection pass (window-checked) until it expires, so that the
		 * receiver can answer them with its own RST; a SYN+ACK does not.
		 */
		if (synack)
			return HV_DROP_CT_TCP_STATE;
		break;
	default:
		return HV_DROP_CT_TCP_STATE;
	}
	if (!tcp_window(e, dir, m, frame, len))
		return HV_DROP_CT_TCP_WINDOW;
set:
	if (next == HV_CT_FIN_WAIT && st != HV_CT_FIN_WAIT)
		e->closer = (uint8_t)dir;
	e->state = next;
	return HV_DROP_NONE;
}

enum hv_drop_reason
hv_ct_track(struct hv_ct *ct, uint32_t slot, const struct hv_ct_pkt *p, const struct hv_pkt_meta *m,
	    const uint8_t *frame, uint32_t len, uint64_t now, bool *reopen)
{
	struct hv_ct_entry *e = &ct->e[slot];
	unsigned dir = hv_ct_dir(e, p);
	enum hv_drop_reason r = HV_DROP_NONE;

	*reopen = false;
	write_begin(e);
	if (p->kind == HV_CT_K_TCP) {
		r = tcp_track(e, dir, m, frame, len, reopen);
		if (r == HV_DROP_NONE && !*reopen && e->state != HV_CT_SYN_SENT &&
		    e->state != HV_CT_SYN_RECV)
			list_del(ct, slot);
	} else if (p->kind == HV_CT_K_ICMP_ERROR) {
		/* RELATED: counted, changes nothing */
		write_end(e);
		CT_INC(ct->stats.related);
		return HV_DROP_NONE;
	} else if (dir == 1 && e->state == HV_CT_UNREPLIED) {
		e->state = HV_CT_REPLIED;
		list_del(ct, slot);
	}
	if (r == HV_DROP_NONE && !*reopen) {
		if (dir == 1)
			e->flags |= HV_CT_F_REPLIED;
		e->packets[dir]++;
		e->bytes[dir] += len;
		e->expire = now + ct->to[timeout_of(ct, e)];
	}
	write_end(e);
	if (*reopen) {
		hv_ct_delete(ct, slot);
		CT_INC(ct->stats.reopened);
	}
	return r;
}

enum hv_drop_reason
hv_ct_may_open(const struct hv_ct_pkt *p, const struct hv_pkt_meta *m)
{
	switch (p->kind) {
	case HV_CT_K_TCP:
		if (!tcp_flags_valid(m->tcp_flags))
			return HV_DROP_CT_TCP_FLAGS;
		if ((m->tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK)) != TCP_SYN)
			return HV_DROP_CT_TCP_NO_CONN;
		return HV_DROP_NONE;
	case HV_CT_K_ICMP_ECHO_REPLY:
	case HV_CT_K_ICMP_ERROR:
		return HV_DROP_CT_ICMP_NO_CONN;
	default:
		return HV_DROP_NONE;
	}
}

/* Evict the oldest embryonic connection of list L; false when it is empty. */
static bool
early_drop(struct hv_ct *ct, unsigned l)
{
	if (ct->head[l] == HV_CT_NIL)
		return false;
	hv_ct_delete(ct, ct->head[l]);
	CT_INC(ct->stats.early_drops);
	return true;
}

int32_t
hv_ct_open(struct hv_ct *ct, const struct hv_ct_pkt *p, const struct hv_pkt_meta *m,
	   const uint8_t *frame, uint32_t len, uint16_t in_port, uint16_t seg, bool mgmt,
	   uint32_t seg_limit, uint32_t port_limit, uint32_t rule, uint32_t epoch, uint64_t now,
	   enum hv_drop_reason *why)
{
	struct hv_ct_entry *e;
	int32_t pos;

	pos = ct_find(ct, &p->key, p->hash);
	if (pos >= 0)
		return pos; /* opened by an earlier packet of the same burst */
	if (port_limit == 0)
		port_limit = ct->port_limit;
	if (port_limit && in_port < HV_CT_MAX_PORTS && ct->port_count[in_port] >= port_limit) {
		*why = HV_DROP_CT_LIMIT_PORT;
		return -1;
	}
	if (seg_limit && seg < HV_CT_MAX_SEGS && ct->seg_count[seg] >= seg_limit) {
		*why = HV_DROP_CT_LIMIT_SEGMENT;
		return -1;
	}
	if (!mgmt && ct->count_other >= ct->capacity - ct->mgmt_reserve && !early_drop(ct, 0)) {
		*why = HV_DROP_CT_LIMIT_RESERVE;
		return -1;
	}
	if (ct->count >= ct->capacity && !early_drop(ct, 0) && !early_drop(ct, 1)) {
		*why = HV_DROP_CT_LIMIT_TABLE;
		return -1;
	}
	/* count < capacity: a free entry exists */
	pos = (int32_t)ct->free_head;
	if (ct->free_head == HV_CT_NIL || !ct_insert(ct, p->hash, (uint32_t)pos)) {
		*why = HV_DROP_CT_LIMIT_TABLE; /* or no way left in either bucket */
		return -1;
	}
	e = &ct->e[pos];
	ct->free_head = e->next;
	write_begin(e);
	e->used = 1;
	e->key = p->key;
	e->hash = p->hash;
	e->flags = (uint8_t)((p->from_b ? HV_CT_F_ORIG_B : 0) | (mgmt ? HV_CT_F_MGMT : 0));
	e->closer = 0;
	e->in_port = in_port;
	e->seg = seg;
	e->rule = rule;
	e->epoch = epoch;
	e->pclass = p->key.proto == 6				? HV_CT_P_TCP
		    : p->key.proto == 17			? HV_CT_P_UDP
		    : (p->key.proto == 1 || p->key.proto == 58) ? HV_CT_P_ICMP
								: HV_CT_P_OTHER;
	e->created = now;
	e->packets[0] = 1;
	e->bytes[0] = len;
	e->packets[1] = e->bytes[1] = 0;
	memset(e->td, 0, sizeof(e->td));
	if (p->kind == HV_CT_K_TCP) {
		uint32_t end = m->tcp_seq + tcp_payload(m) + 1;

		tcp_dir_init(&e->td[0], m, frame, len, end);
		e->state = HV_CT_SYN_SENT;
	} else {
		e->state = HV_CT_UNREPLIED;
	}
	e->expire = now + ct->to[timeout_of(ct, e)];
	list_add(ct, (uint32_t)pos);
	write_end(e);
	CT_SET(ct->count, ct->count + 1);
	if (!mgmt)
		CT_SET(ct->count_other, ct->count_other + 1);
	if (seg < HV_CT_MAX_SEGS)
		CT_INC(ct->seg_count[seg]);
	if (in_port < HV_CT_MAX_PORTS)
		CT_INC(ct->port_count[in_port]);
	CT_INC(ct->stats.created);
	return pos;
}
