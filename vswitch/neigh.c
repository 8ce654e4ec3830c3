/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The learned neighbour table: set-associative, sequence-counted slots (see
 * neigh.h for the concurrency contract).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include "vswitch/neigh.h"

struct neigh_slot {
	uint32_t seq; /* odd while a writer owns the slot */
	struct hv_neigh_entry e;
};

struct hv_neigh_table {
	uint32_t mask; /* sets - 1 */
	uint32_t port_limit;
	struct neigh_slot *slots;
	uint32_t per_port[HV_NEIGH_MAX_PORTS]; /* entries learned behind each port */
};

/* Count an entry in or out of its port's share. */
static void
port_add(struct hv_neigh_table *t, uint16_t port, int d)
{
	if (port < HV_NEIGH_MAX_PORTS)
		__atomic_fetch_add(&t->per_port[port], (uint32_t)d, __ATOMIC_RELAXED);
}

uint32_t
hv_neigh_port_count(const struct hv_neigh_table *t, uint16_t port)
{
	return port < HV_NEIGH_MAX_PORTS ? __atomic_load_n(&t->per_port[port], __ATOMIC_RELAXED)
					 : 0;
}

struct hv_neigh_table *
hv_neigh_create(uint32_t capacity, uint32_t port_limit)
{
	struct hv_neigh_table *t;
	uint32_t n = HV_NEIGH_WAYS;

	if (capacity > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	while (n < capacity)
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->slots = calloc(n, sizeof(*t->slots));
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	t->mask = n / HV_NEIGH_WAYS - 1;
	t->port_limit = port_limit;
	return t;
}

void
hv_neigh_free(struct hv_neigh_table *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

uint32_t
hv_neigh_capacity(const struct hv_neigh_table *t)
{
	return (t->mask + 1) * HV_NEIGH_WAYS;
}

static uint32_t
neigh_hash(uint16_t seg, uint8_t family, const uint8_t *addr)
{
	uint32_t seed = (uint32_t)seg | (uint32_t)family << 16, w;
	uint64_t q[2];

	/*
	 * CRC32-C (one instruction per word; the byte-wise FNV-1a it replaces
	 * was a chain of dependent multiplies on every routed packet). Like the
	 * MAC cache's (mac_table.c), the words are in host order so that the
	 * low bits addresses handed out in sequence differ in stay low: CRC is
	 * linear, and they land in distinct sets.
	 */
	if (family == 4) {
		memcpy(&w, addr, 4);
		return rte_hash_crc_4byte(rte_be_to_cpu_32(w), seed);
	}
	memcpy(q, addr, 16);
	return rte_hash_crc_8byte(rte_be_to_cpu_64(q[1]),
				  rte_hash_crc_8byte(rte_be_to_cpu_64(q[0]), seed));
}

/* Whether the FAMILY addresses A and B are equal: word compares (a memcmp of
 * a variable length was a libc call per lookup on the routed path). */
static inline bool
addr_eq(const uint8_t *a, const uint8_t *b, uint8_t family)
{
	if (family == 4) {
		uint32_t x, y;

		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		return x == y;
	}
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

static inline bool
entry_is(const struct hv_neigh_entry *e, uint16_t seg, uint8_t family, const uint8_t *addr)
{
	return e->family == family && e->seg == seg && addr_eq(e->addr, addr, family);
}

/* A consistent copy of @s into @out; false when it is free. */
static bool
slot_read(const struct neigh_slot *s, struct hv_neigh_entry *out)
{
	for (;;) {
		uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), b;

		if (a & 1)
			continue; /* a writer is in the slot: a few stores, never a wait */
		memcpy(out, &s->e, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		b = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		if (a == b)
			return out->family != 0;
	}
}

static bool
slot_lock(struct neigh_slot *s, uint32_t *seq)
{
	uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

	if (a & 1)
		return false;
	if (!__atomic_compare_exchange_n(&s->seq, &a, a + 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	*seq = a + 1;
	return true;
}

static void
slot_unlock(struct neigh_slot *s, uint32_t seq)
{
	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
}

int
hv_neigh_learn(struct hv_neigh_table *t, uint16_t seg, uint8_t family, const uint8_t *addr,
	       const uint8_t mac[6], uint16_t port, uint64_t now)
{
	struct neigh_slot *set;
	struct hv_neigh_entry cur;
	int victim = -1, rc = 1;
	uint64_t oldest = UINT64_MAX;
	uint32_t seq;

	if (family != 4 && family != 6)
		return -EINVAL;
	set = &t->slots[(neigh_hash(seg, family, addr) & t->mask) * HV_NEIGH_WAYS];
	for (int i = 0; i < HV_NEIGH_WAYS; i++) {
		if (!slot_read(&set[i], &cur)) {
			if (oldest != 0) {
				victim = i;
				oldest = 0;
			}
			continue;
		}
		if (entry_is(&cur, seg, family, addr)) {
			victim = i;
			rc = 0;
			break;
		}
		if (cur.time < oldest) {
			oldest = cur.time;
			victim = i;
		}
	}
	/* a new entry, or one moving to this port, counts against its share */
	if (t->port_limit != 0 && (rc == 1 || cur.port != port) &&
	    hv_neigh_port_count(t, port) >= t->port_limit)
		return -ENOSPC;
	if (!slot_lock(&set[victim], &seq))
		return -EBUSY;
	if (set[victim].e.family != 0)
		port_add(t, set[victim].e.port, -1);
	port_add(t, port, 1);
	set[victim].e.seg = seg;
	set[victim].e.family = family;
	memset(set[victim].e.addr, 0, 16);
	memcpy(set[victim].e.addr, addr, family == 4 ? 4 : 16);
	memcpy(set[victim].e.mac, mac, 6);
	set[victim].e.port = port;
	set[victim].e.time = now;
	slot_unlock(&set[victim], seq);
	return rc;
}

void
hv_neigh_prefetch(const struct hv_neigh_table *t, uint16_t seg, uint8_t family, const uint8_t *addr)
{
	const struct neigh_slot *set =
		&t->slots[(neigh_hash(seg, family, addr) & t->mask) * HV_NEIGH_WAYS];

	/* a set of HV_NEIGH_WAYS slots spans a few cache lines */
	for (size_t off = 0; off < sizeof(*set) * HV_NEIGH_WAYS; off += 64)
		__builtin_prefetch((const char *)set + off);
}

int
hv_neigh_lookup(const struct hv_neigh_table *t, uint16_t seg, uint8_t family, const uint8_t *addr,
		uint64_t now, uint64_t max_age, struct hv_neigh_entry *out)
{
	const struct neigh_slot *set;

	if (family != 4 && family != 6)
		return -ENOENT;
	set = &t->slots[(neigh_hash(seg, family, addr) & t->mask) * HV_NEIGH_WAYS];
	for (int i = 0; i < HV_NEIGH_WAYS; i++) {
		/* a glance at the slot's key before a consistent copy of all of it */
		if (__atomic_load_n(&set[i].e.family, __ATOMIC_RELAXED) != family ||
		    __atomic_load_n(&set[i].e.seg, __ATOMIC_RELAXED) != seg)
			continue;
		if (!slot_read(&set[i], out) || !entry_is(out, seg, family, addr))
			continue;
		if (max_age != 0 && now > out->time && now - out->time > max_age)
			return -ENOENT;
		return 0;
	}
	return -ENOENT;
}

uint32_t
hv_neigh_flush(struct hv_neigh_table *t, int seg)
{
	uint32_t n = 0, seq;
	struct hv_neigh_entry cur;

	for (uint32_t i = 0; i < (t->mask + 1) * HV_NEIGH_WAYS; i++) {
		if (!slot_read(&t->slots[i], &cur) || (seg >= 0 && cur.seg != seg))
			continue;
		while (!slot_lock(&t->slots[i], &seq))
			;
		if (t->slots[i].e.family != 0)
			port_add(t, t->slots[i].e.port, -1);
		t->slots[i].e.family = 0;
		slot_unlock(&t->slots[i], seq);
		n++;
	}
	return n;
}

int
hv_neigh_walk(const struct hv_neigh_table *t, int (*fn)(const struct hv_neigh_entry *, void *),
	      void *arg)
{
	struct hv_neigh_entry cur;

	for (uint32_t i = 0; i < (t->mask + 1) * HV_NEIGH_WAYS; i++) {
		int rc;

		if (!slot_read(&t->slots[i], &cur))
			continue;
		rc = fn(&cur, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}
