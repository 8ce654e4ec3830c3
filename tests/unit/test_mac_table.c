/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the MAC learning table: learning, moves, segment isolation,
 * the three bounds, static entries, aging, flush, walk order, and lcores
 * learning while the control thread ages and flushes.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "vswitch/mac_table.h"

static struct rte_rcu_qsbr *qsbr;
static unsigned table_seq;

static struct hv_mac_table *
table(uint32_t capacity, uint32_t port_limit, uint32_t segment_limit)
{
	struct hv_mac_table_conf c = {
		.capacity = capacity,
		.port_limit = port_limit,
		.segment_limit = segment_limit,
		.socket_id = SOCKET_ID_ANY,
		.qsbr = qsbr,
	};
	char name[32];
	struct hv_mac_table *t;

	snprintf(name, sizeof(name), "test_mac_%u", table_seq++);
	c.name = name;
	t = hv_mac_table_create(&c);
	assert_non_null(t);
	return t;
}

static void
mac(uint8_t *m, uint32_t i)
{
	m[0] = 0x02;
	m[1] = 0;
	m[2] = (uint8_t)(i >> 24);
	m[3] = (uint8_t)(i >> 16);
	m[4] = (uint8_t)(i >> 8);
	m[5] = (uint8_t)i;
}

static void
bad_conf(void **state)
{
	struct hv_mac_table_conf c = {.capacity = 0, .qsbr = qsbr, .name = "bad"};

	(void)state;
	errno = 0;
	assert_null(hv_mac_table_create(&c));
	assert_int_equal(errno, EINVAL);
	c.capacity = 16;
	c.qsbr = NULL;
	assert_null(hv_mac_table_create(&c));
	assert_int_equal(errno, EINVAL);
	assert_null(hv_mac_table_create(NULL));
}

static void
learn_lookup_refresh_move(void **state)
{
	struct hv_mac_table *t = table(1024, 0, 0);
	uint8_t a[6];
	uint64_t now = rte_get_tsc_cycles();

	(void)state;
	mac(a, 1);
	assert_int_equal(hv_mac_table_lookup(t, 1, a), -ENOENT);
	assert_int_equal(hv_mac_table_learn(t, 1, a, 3, now), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_lookup(t, 1, a), 3);
	assert_int_equal(hv_mac_table_learn(t, 1, a, 3, now + 1), HV_MAC_REFRESHED);
	assert_int_equal(hv_mac_table_count(t), 1);
	assert_int_equal(hv_mac_table_port_count(t, 3), 1);
	assert_int_equal(hv_mac_table_segment_count(t, 1), 1);

	assert_int_equal(hv_mac_table_learn(t, 1, a, 4, now + 2), HV_MAC_MOVED);
	assert_int_equal(hv_mac_table_lookup(t, 1, a), 4);
	assert_int_equal(hv_mac_table_port_count(t, 3), 0);
	assert_int_equal(hv_mac_table_port_count(t, 4), 1);
	assert_int_equal(hv_mac_table_count(t), 1);
	hv_mac_table_free(t);
}

static void
segments_are_isolated(void **state)
{
	struct hv_mac_table *t = table(1024, 0, 0);
	uint8_t a[6];
	uint64_t now = rte_get_tsc_cycles();

	(void)state;
	mac(a, 7);
	assert_int_equal(hv_mac_table_learn(t, 1, a, 1, now), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_lookup(t, 2, a), -ENOENT);
	/* the same MAC in another segment is another entry, not a move */
	assert_int_equal(hv_mac_table_learn(t, 2, a, 2, now), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_lookup(t, 1, a), 1);
	assert_int_equal(hv_mac_table_lookup(t, 2, a), 2);
	assert_int_equal(hv_mac_table_count(t), 2);
	assert_int_equal(hv_mac_table_flush(t, 2, -1, false), 1);
	assert_int_equal(hv_mac_table_lookup(t, 1, a), 1);
	assert_int_equal(hv_mac_table_lookup(t, 2, a), -ENOENT);
	hv_mac_table_free(t);
}

static void
never_learns_multicast_or_zero(void **state)
{
	struct hv_mac_table *t = table(64, 0, 0);
	uint8_t mc[6] = {0x01, 0, 0x5e, 0, 0, 1}, zero[6] = {0};

	(void)state;
	assert_int_not_equal(hv_mac_table_learn(t, 0, mc, 1, 1), HV_MAC_LEARNED);
	assert_int_not_equal(hv_mac_table_learn(t, 0, zero, 1, 1), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_count(t), 0);
	hv_mac_table_free(t);
}

static void
port_limit(void **state)
{
	struct hv_mac_table *t = table(1024, 100, 0);
	uint64_t now = rte_get_tsc_cycles();
	uint8_t a[6];

	(void)state;
	assert_int_equal(hv_mac_table_set_port_limit(t, 5, 3), 0);
	for (uint32_t i = 0; i < 3; i++) {
		mac(a, i);
		assert_int_equal(hv_mac_table_learn(t, 0, a, 5, now), HV_MAC_LEARNED);
	}
	mac(a, 3);
	assert_int_equal(hv_mac_table_learn(t, 0, a, 5, now), HV_MAC_LIMIT_PORT);
	assert_int_equal(hv_mac_table_lookup(t, 0, a), -ENOENT);
	assert_int_equal(hv_mac_table_port_count(t, 5), 3);
	/* known ones still refresh */
	mac(a, 0);
	assert_int_equal(hv_mac_table_learn(t, 0, a, 5, now), HV_MAC_REFRESHED);
	/* a MAC does not move onto a port at its limit */
	mac(a, 50);
	assert_int_equal(hv_mac_table_learn(t, 0, a, 6, now), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_learn(t, 0, a, 5, now), HV_MAC_LIMIT_PORT);
	assert_int_equal(hv_mac_table_lookup(t, 0, a), 6);
	/* other ports use the default from the conf */
	for (uint32_t i = 100; i < 199; i++) {
		mac(a, i);
		assert_int_equal(hv_mac_table_learn(t, 0, a, 7, now), HV_MAC_LEARNED);
	}
	mac(a, 199);
	assert_int_equal(hv_mac_table_learn(t, 0, a, 7, now), HV_MAC_LEARNED);
	mac(a, 200);
	assert_int_equal(hv_mac_table_learn(t, 0, a, 7, now), HV_MAC_LIMIT_PORT);
	assert_int_equal(hv_mac_table_set_port_limit(t, HV_MAC_MAX_PORTS, 1), -EINVAL);
	hv_mac_table_free(t);
}

static void
segment_and_table_limits(void **state)
{
	struct hv_mac_table *t = table(10, 0, 0);
	uint64_t now = rte_get_tsc_cycles();
	uint8_t a[6];

	(void)state;
	assert_int_equal(hv_mac_table_set_segment_limit(t, 1, 4), 0);
	for (uint32_t i = 0; i < 4; i++) {
		mac(a, i);
		assert_int_equal(hv_mac_table_learn(t, 1, a, (uint16_t)i, now), HV_MAC_LEARNED);
	}
	mac(a, 4);
	assert_int_equal(hv_mac_table_learn(t, 1, a, 9, now), HV_MAC_LIMIT_SEGMENT);
	assert_int_equal(hv_mac_table_segment_count(t, 1), 4);
	for (uint32_t i = 10; i < 16; i++) {
		mac(a, i);
		assert_int_equal(hv_mac_table_learn(t, 2, a, 1, now), HV_MAC_LEARNED);
	}
	mac(a, 16);
	assert_int_equal(hv_mac_table_learn(t, 2, a, 1, now), HV_MAC_LIMIT_TABLE);
	assert_int_equal(hv_mac_table_count(t), 10);
	/* room again after a flush */
	assert_int_equal(hv_mac_table_flush(t, 1, -1, false), 4);
	assert_int_equal(hv_mac_table_learn(t, 2, a, 1, now), HV_MAC_LEARNED);
	hv_mac_table_free(t);
}

static void
static_entries(void **state)
{
	struct hv_mac_table *t = table(64, 1, 0);
	uint64_t now = rte_get_tsc_cycles();
	uint8_t s[6], a[6];

	(void)state;
	mac(s, 100);
	mac(a, 101);
	assert_int_equal(hv_mac_table_add_static(t, 0, s, 2), 0);
	assert_int_equal(hv_mac_table_lookup(t, 0, s), 2);
	assert_int_equal(hv_mac_table_learn(t, 0, s, 3, now), HV_MAC_STATIC_CONFLICT);
	assert_int_equal(hv_mac_table_lookup(t, 0, s), 2);
	/* statics do not count against learn limits */
	assert_int_equal(hv_mac_table_learn(t, 0, a, 2, now), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_port_count(t, 2), 1);
	assert_int_equal(hv_mac_table_count(t), 2);
	/* never aged */
	assert_int_equal(hv_mac_table_age(t, now + rte_get_tsc_hz() * 1000, 1000000000ull), 1);
	assert_int_equal(hv_mac_table_lookup(t, 0, s), 2);
	assert_int_equal(hv_mac_table_lookup(t, 0, a), -ENOENT);
	/* flushed only when asked */
	assert_int_equal(hv_mac_table_flush(t, -1, -1, false), 0);
	assert_int_equal(hv_mac_table_flush(t, -1, -1, true), 1);
	assert_int_equal(hv_mac_table_count(t), 0);
	assert_int_equal(hv_mac_table_add_static(t, 0, (uint8_t[6]){1, 0, 0, 0, 0, 1}, 1), -EINVAL);
	hv_mac_table_free(t);
}

static void
aging(void **state)
{
	struct hv_mac_table *t = table(1024, 0, 0);
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_get_tsc_cycles();
	uint8_t a[6];

	(void)state;
	for (uint32_t i = 0; i < 10; i++) {
		mac(a, i);
		/* five seen at t0, five 200 s later */
		assert_int_equal(
			hv_mac_table_learn(t, 0, a, (uint16_t)(i % 2), t0 + (i >= 5) * 200 * hz),
			HV_MAC_LEARNED);
	}
	/* at t0 + 301 s with 300 s aging: only the first five are older */
	assert_int_equal(hv_mac_table_age(t, t0 + 301 * hz, 300ull * 1000000000), 5);
	assert_int_equal(hv_mac_table_count(t), 5);
	assert_int_equal(hv_mac_table_port_count(t, 0) + hv_mac_table_port_count(t, 1), 5);
	assert_int_equal(hv_mac_table_segment_count(t, 0), 5);
	mac(a, 0);
	assert_int_equal(hv_mac_table_lookup(t, 0, a), -ENOENT);
	mac(a, 9);
	assert_int_equal(hv_mac_table_lookup(t, 0, a), 1);
	/* a refresh keeps an entry alive */
	assert_int_equal(hv_mac_table_learn(t, 0, a, 1, t0 + 600 * hz), HV_MAC_REFRESHED);
	assert_int_equal(hv_mac_table_age(t, t0 + 601 * hz, 300ull * 1000000000), 4);
	assert_int_equal(hv_mac_table_lookup(t, 0, a), 1);
	hv_mac_table_free(t);
}

/*
 * Remote MACs: the overlay learns them on the slots above the local ports,
 * one per remote VTEP (vswitch.h HV_VTEP_SLOT_BASE): bounded per VTEP, aged,
 * moved to and from local ports, flushed when the VTEP goes.
 */
static void
remote_vtep_slots(void **state)
{
	const uint16_t vtep = 256 + 3, other = 256 + 4;
	struct hv_mac_table *t = table(1024, 2, 0);
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_get_tsc_cycles();
	uint8_t a[6];

	(void)state;
	for (uint32_t i = 0; i < 3; i++) {
		mac(a, 100 + i);
		assert_int_equal(hv_mac_table_learn(t, 7, a, vtep, t0),
				 i < 2 ? HV_MAC_LEARNED : HV_MAC_LIMIT_PORT);
	}
	assert_int_equal(hv_mac_table_port_count(t, vtep), 2);
	assert_int_equal(hv_mac_table_set_port_limit(t, vtep, 3), 0);
	assert_int_equal(hv_mac_table_learn(t, 7, a, vtep, t0), HV_MAC_LEARNED);
	assert_int_equal(hv_mac_table_lookup(t, 7, a), vtep);
	/* the guest moved from behind one VTEP to another, then to a local port */
	assert_int_equal(hv_mac_table_learn(t, 7, a, other, t0), HV_MAC_MOVED);
	assert_int_equal(hv_mac_table_learn(t, 7, a, 1, t0 + 200 * hz), HV_MAC_MOVED);
	assert_int_equal(hv_mac_table_port_count(t, vtep), 2);
	assert_int_equal(hv_mac_table_port_count(t, other), 0);
	/* the VTEP's entries age like any */
	assert_int_equal(hv_mac_table_age(t, t0 + 301 * hz, 300ull * 1000000000), 2);
	assert_int_equal(hv_mac_table_port_count(t, vtep), 0);
	mac(a, 100);
	assert_int_equal(hv_mac_table_learn(t, 7, a, vtep, t0 + 400 * hz), HV_MAC_LEARNED);
	/* the VTEP leaves the overlay: its entries are flushed */
	assert_int_equal(hv_mac_table_flush(t, -1, vtep, true), 1);
	assert_int_equal(hv_mac_table_lookup(t, 7, a), -ENOENT);
	assert_int_equal(hv_mac_table_set_port_limit(t, HV_MAC_MAX_PORTS - 1, 1), 0);
	hv_mac_table_free(t);
}

static int
collect(const struct hv_mac_entry *e, void *arg)
{
	struct hv_mac_entry *v = arg;
	unsigned i = 0;

	while (v[i].port != 0xffff)
		i++;
	v[i] = *e;
	v[i + 1].port = 0xffff;
	return 0;
}

static int
stop_at_two(const struct hv_mac_entry *e, void *arg)
{
	(void)e;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void
flush_and_walk(void **state)
{
	struct hv_mac_table *t = table(1024, 0, 0);
	uint64_t hz = rte_get_tsc_hz(), now = rte_get_tsc_cycles();
	struct hv_mac_entry v[32];
	uint8_t a[6];
	int calls = 0;

	(void)state;
	/* learned out of order: segment 2 first, MACs descending */
	for (int seg = 2; seg >= 1; seg--)
		for (int i = 5; i >= 0; i--) {
			mac(a, (uint32_t)i);
			assert_int_equal(
				hv_mac_table_learn(t, (uint16_t)seg, a, (uint16_t)(i % 3), now),
				HV_MAC_LEARNED);
		}
	v[0].port = 0xffff;
	assert_int_equal(hv_mac_table_walk(t, -1, now + 2 * hz, collect, v), 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(v[i].segment, i < 6 ? 1 : 2);
		assert_int_equal(v[i].mac[5], i % 6);
		assert_true(v[i].age_ns >= 1900000000ull && v[i].age_ns <= 2100000000ull);
	}
	assert_int_equal(v[12].port, 0xffff);
	v[0].port = 0xffff;
	assert_int_equal(hv_mac_table_walk(t, 2, now, collect, v), 0);
	assert_int_equal(v[6].port, 0xffff);
	assert_int_equal(v[0].segment, 2);
	assert_int_equal(hv_mac_table_walk(t, -1, now, stop_at_two, &calls), 42);

	/* by port in one segment, by port everywhere, then everything */
	assert_int_equal(hv_mac_table_flush(t, 1, 0, false), 2);
	assert_int_equal(hv_mac_table_port_count(t, 0), 2);
	assert_int_equal(hv_mac_table_flush(t, -1, 1, false), 4);
	assert_int_equal(hv_mac_table_count(t), 6);
	assert_int_equal(hv_mac_table_flush(t, -1, -1, false), 6);
	assert_int_equal(hv_mac_table_count(t), 0);
	assert_int_equal(hv_mac_table_segment_count(t, 1) + hv_mac_table_segment_count(t, 2), 0);
	/* the freed positions are reused */
	for (uint32_t i = 0; i < 1000; i++) {
		mac(a, i);
		assert_int_equal(hv_mac_table_learn(t, 3, a, 1, now), HV_MAC_LEARNED);
	}
	assert_int_equal(hv_mac_table_flush(t, 3, -1, false), 1000);
	hv_mac_table_free(t);
}

static void
bulk_and_cache(void **state)
{
	struct hv_mac_table *t = table(1024, 0, 0);
	struct hv_mac_cache *cache = hv_mac_cache_create(SOCKET_ID_ANY);
	uint64_t now = rte_get_tsc_cycles();
	uint8_t m[40][6], zero[6] = {0};
	const uint8_t *p[41];
	uint8_t res[41];
	int ports[41];

	(void)state;
	assert_non_null(cache);
	for (unsigned i = 0; i < 40; i++) {
		mac(m[i], 1000 + i);
		p[i] = m[i];
	}
	p[40] = zero; /* an all-zero MAC never hits, not even an empty entry */
	hv_mac_cache_sync(t, cache);
	hv_mac_table_learn_bulk(t, cache, 1, p, 40, 5, now, res);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(res[i], HV_MAC_LEARNED);
	/* twice: the first fills the cache, the second answers from it */
	for (int round = 0; round < 2; round++) {
		hv_mac_table_learn_bulk(t, cache, 1, p, 40, 5, now, res);
		hv_mac_table_lookup_bulk(t, cache, 1, p, 41, ports);
		for (unsigned i = 0; i < 40; i++) {
			assert_int_equal(res[i], HV_MAC_REFRESHED);
			assert_int_equal(ports[i], 5);
		}
		assert_int_equal(ports[40], -ENOENT);
	}
	/* other segments do not see them */
	hv_mac_table_lookup_bulk(t, cache, 2, p, 40, ports);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(ports[i], -ENOENT);
	/* a move from another lcore: after a sync the cache gives the new port */
	assert_int_equal(hv_mac_table_learn(t, 1, m[3], 6, now), HV_MAC_MOVED);
	hv_mac_cache_sync(t, cache);
	hv_mac_table_lookup_bulk(t, cache, 1, p, 40, ports);
	assert_int_equal(ports[3], 6);
	assert_int_equal(ports[4], 5);
	hv_mac_table_learn_bulk(t, cache, 1, p, 40, 5, now, res);
	assert_int_equal(res[3], HV_MAC_MOVED);
	/* a flush: after a sync nothing is answered from the cache */
	assert_int_equal(hv_mac_table_flush(t, 1, -1, false), 40);
	hv_mac_cache_sync(t, cache);
	hv_mac_table_lookup_bulk(t, cache, 1, p, 40, ports);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(ports[i], -ENOENT);
	/* refreshes through the cache keep entries from aging */
	hv_mac_table_learn_bulk(t, cache, 1, p, 40, 5, now, res);
	hv_mac_table_learn_bulk(t, cache, 1, p, 40, 5, now, res);
	hv_mac_table_learn_bulk(t, cache, 1, p, 40, 5, now + 200 * rte_get_tsc_hz(), res);
	assert_int_equal(hv_mac_table_age(t, now + 250 * rte_get_tsc_hz(), 100ull * 1000000000), 0);
	assert_int_equal(hv_mac_table_age(t, now + 301 * rte_get_tsc_hz(), 100ull * 1000000000),
			 40);
	hv_mac_cache_free(cache);
	hv_mac_table_free(t);
}

/* ---- concurrency: datapath threads learn while the control thread deletes ---- */

struct worker {
	struct hv_mac_table *t;
	unsigned id;
	volatile bool *stop;
	uint64_t learned, lookups, bad;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct hv_mac_cache *cache;
	uint8_t m[32][6], res[32];
	const uint8_t *p[32];
	int ports[32];
	uint32_t i = 0;

	rte_thread_register(); /* rte_hash's per-lcore caches need an lcore id */
	cache = hv_mac_cache_create(SOCKET_ID_ANY);
	rte_rcu_qsbr_thread_register(qsbr, w->id);
	rte_rcu_qsbr_thread_online(qsbr, w->id);
	for (unsigned k = 0; k < 32; k++)
		p[k] = m[k];
	/* the datapath's way: quiescent, sync the cache, a burst of bulk calls */
	while (!*w->stop) {
		uint16_t port = (uint16_t)(w->id * 10 + (i / 32) % 4);

		rte_rcu_qsbr_quiescent(qsbr, w->id);
		hv_mac_cache_sync(w->t, cache);
		for (unsigned k = 0; k < 32; k++, i++)
			mac(m[k], (w->id << 16) | (i % 10000));
		hv_mac_table_learn_bulk(w->t, cache, (uint16_t)w->id, p, 32, port,
					rte_get_tsc_cycles(), res);
		hv_mac_table_lookup_bulk(w->t, cache, (uint16_t)w->id, p, 32, ports);
		for (unsigned k = 0; k < 32; k++) {
			if (res[k] == HV_MAC_LEARNED)
				w->learned++;
			/* on this thread's ports, or flushed: never someone else's */
			if (ports[k] != -ENOENT &&
			    (ports[k] < (int)w->id * 10 || ports[k] >= (int)w->id * 10 + 4))
				w->bad++;
			w->lookups++;
		}
	}
	rte_rcu_qsbr_thread_offline(qsbr, w->id);
	rte_rcu_qsbr_thread_unregister(qsbr, w->id);
	hv_mac_cache_free(cache);
	rte_thread_unregister();
	return NULL;
}

static int
count_cb(const struct hv_mac_entry *e, void *arg)
{
	(void)e;
	(*(uint32_t *)arg)++;
	return 0;
}

/*
 * A MAC that moves between two ports on one lcore while the control thread
 * flushes and ages it: a move must never re-insert a key a delete removed
 * (an entry no walk, age or flush sees again) nor give back a place twice.
 */
struct mover {
	struct hv_mac_table *t;
	volatile bool *stop;
	uint64_t moves;
};

static void *
mover_main(void *arg)
{
	struct mover *mv = arg;
	uint8_t m[6];

	rte_thread_register();
	rte_rcu_qsbr_thread_register(qsbr, 3);
	rte_rcu_qsbr_thread_online(qsbr, 3);
	for (uint64_t it = 0; !*mv->stop; it++) {
		rte_rcu_qsbr_quiescent(qsbr, 3);
		for (uint32_t i = 0; i < 64; i++) {
			mac(m, 5000 + i);
			if (hv_mac_table_learn(mv->t, 1, m, (uint16_t)(1 + (it & 1)),
					       rte_get_tsc_cycles()) == HV_MAC_MOVED)
				mv->moves++;
		}
	}
	rte_rcu_qsbr_thread_offline(qsbr, 3);
	rte_rcu_qsbr_thread_unregister(qsbr, 3);
	rte_thread_unregister();
	return NULL;
}

static int
port_count_cb(const struct hv_mac_entry *e, void *arg)
{
	((uint32_t *)arg)[e->port]++;
	return 0;
}

static void
move_racing_delete(void **state)
{
	struct hv_mac_table *t = table(1024, 0, 0);
	volatile bool stop = false;
	struct mover mv = {.t = t, .stop = &stop};
	uint32_t walked[3] = {0};
	uint8_t m[6];
	pthread_t th;

	(void)state;
	/*
	 * The EAL pinned this thread to lcore 0 and a new thread inherits that:
	 * let the mover run on any CPU, or every grace period waits for a
	 * scheduler tick.
	 */
	{
		pthread_attr_t attr;
		cpu_set_t all;

		CPU_ZERO(&all);
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &all);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(all), &all);
		assert_int_equal(pthread_create(&th, &attr, mover_main, &mv), 0);
		pthread_attr_destroy(&attr);
	}
	for (int round = 0; round < 400; round++) {
		if (round % 2)
			hv_mac_table_flush(t, 1, 1 + round % 4 / 2, false);
		else
			hv_mac_table_age(t, rte_get_tsc_cycles(), 2000); /* 2 us */
		usleep(200);
	}
	stop = true;
	pthread_join(th, NULL);
	assert_true(mv.moves > 0);
	hv_mac_table_walk(t, -1, rte_get_tsc_cycles(), port_count_cb, walked);
	assert_int_equal(hv_mac_table_port_count(t, 1), walked[1]);
	assert_int_equal(hv_mac_table_port_count(t, 2), walked[2]);
	assert_int_equal(hv_mac_table_count(t), walked[1] + walked[2]);
	/* after a flush of everything, nothing is left behind in the hash */
	hv_mac_table_flush(t, -1, -1, true);
	assert_int_equal(hv_mac_table_count(t), 0);
	assert_int_equal(hv_mac_table_port_count(t, 1) + hv_mac_table_port_count(t, 2), 0);
	for (uint32_t i = 0; i < 64; i++) {
		mac(m, 5000 + i);
		assert_int_equal(hv_mac_table_lookup(t, 1, m), -ENOENT);
	}
	hv_mac_table_free(t);
}

static void
concurrent_learn_and_delete(void **state)
{
	struct hv_mac_table *t = table(65536, 0, 0);
	volatile bool stop = false;
	struct worker w[2];
	pthread_t th[2];
	uint32_t removed = 0, walked = 0;

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		w[i] = (struct worker){.t = t, .id = i + 1, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int round = 0; round < 200; round++) {
		usleep(2000);
		if (round % 3 == 0)
			removed += hv_mac_table_flush(t, round % 2 ? 1 : 2, -1, false);
		else
			removed += hv_mac_table_age(t, rte_get_tsc_cycles(), 1000000); /* 1 ms */
	}
	stop = true;
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	hv_mac_table_walk(t, -1, rte_get_tsc_cycles(), count_cb, &walked);
	print_message("concurrent: learned %lu + %lu, lookups %lu + %lu, removed %u, left %u\n",
		      w[0].learned, w[1].learned, w[0].lookups, w[1].lookups, removed, walked);
	assert_int_equal(w[0].bad + w[1].bad, 0);
	assert_true(w[0].learned + w[1].learned > 20000);
	assert_int_equal(w[0].learned + w[1].learned, removed + walked);
	assert_int_equal(hv_mac_table_count(t), walked);
	assert_int_equal(hv_mac_table_segment_count(t, 1) + hv_mac_table_segment_count(t, 2),
			 walked);
	{
		uint32_t ports = 0;

		for (uint16_t p = 0; p < 30; p++)
			ports += hv_mac_table_port_count(t, p);
		assert_int_equal(ports, walked);
	}
	hv_mac_table_free(t);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {argv[0],
		       "--no-huge",
		       "-m",
		       "256",
		       "--no-pci",
		       "--no-telemetry",
		       "--log-level=error",
		       "--file-prefix",
		       prefix,
		       "-l",
		       "0",
		       NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_conf),
		cmocka_unit_test(learn_lookup_refresh_move),
		cmocka_unit_test(segments_are_isolated),
		cmocka_unit_test(never_learns_multicast_or_zero),
		cmocka_unit_test(port_limit),
		cmocka_unit_test(segment_and_table_limits),
		cmocka_unit_test(static_entries),
		cmocka_unit_test(aging),
		cmocka_unit_test(remote_vtep_slots),
		cmocka_unit_test(flush_and_walk),
		cmocka_unit_test(bulk_and_cache),
		cmocka_unit_test(move_racing_delete),
		cmocka_unit_test(concurrent_learn_and_delete),
	};
	size_t sz;
	int rc;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "hvtest-mac-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	sz = rte_rcu_qsbr_get_memsize(8);
	qsbr = rte_zmalloc("qsbr", sz, RTE_CACHE_LINE_SIZE);
	rte_rcu_qsbr_init(qsbr, 8);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_free(qsbr);
	rte_eal_cleanup();
	return rc;
}
