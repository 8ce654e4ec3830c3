/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_VSWITCH_NEIGH_H
#define HV_VSWITCH_NEIGH_H

/*
 * The learned neighbour table of the segment gateways: (segment, address)
 * -> MAC, for the guests the policy file gives no binding (docs/routing.md).
 *
 * One table for the whole switch, written by every worker and read by every
 * worker and the control thread, without locks: each slot carries a sequence
 * count, odd while a writer owns it. A writer takes a slot with one
 * compare-and-swap and gives up (the learning is skipped, and counted by the
 * caller) when another writer holds it; a reader copies the slot and retries
 * when the count moved. The table is bounded (its capacity, fixed at
 * creation) and set-associative: an address may live in one of 4 slots; when
 * all 4 hold others, the least recently confirmed one is replaced.
 *
 * No DPDK: plain C, so that the unit tests build it alone. hv_neigh_create()
 * and hv_neigh_free() are control-thread only; the rest any thread.
 */

#include <stdbool.h>
#include <stdint.h>

#define HV_NEIGH_WAYS 4

struct hv_neigh_entry {
	uint16_t seg;	  /* switch segment id */
	uint8_t family;	  /* 4 or 6; 0: free slot */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t mac[6];
	uint16_t port; /* where it was learned */
	uint64_t time; /* when it was last learned, in the caller's unit */
};

struct hv_neigh_table;

#define HV_NEIGH_MAX_PORTS 256

/*
 * A table of at least @capacity entries (rounded up to a power of two, at
 * least HV_NEIGH_WAYS), of which the entries learned behind one port (below
 * HV_NEIGH_MAX_PORTS) may be at most @port_limit (0: no share), so that one
 * guest cannot fill it for everyone. NULL with errno.
 */
struct hv_neigh_table *hv_neigh_create(uint32_t capacity, uint32_t port_limit);
void hv_neigh_free(struct hv_neigh_table *t);
uint32_t hv_neigh_capacity(const struct hv_neigh_table *t);

/*
 * Learn or refresh (@seg, @family, @addr) at @mac behind @port at time
 * @now. Returns 1 when a new entry was made (possibly replacing the oldest of
 * its set), 0 when an entry was refreshed or moved, -EBUSY when another
 * writer held a slot it needed (nothing changed), -ENOSPC when @port has its
 * share of the table already (nothing changed), -EINVAL on a bad family.
 */
int hv_neigh_learn(struct hv_neigh_table *t, uint16_t seg, uint8_t family, const uint8_t *addr,
		   const uint8_t mac[6], uint16_t port, uint64_t now);

/*
 * Look (@seg, @family, @addr) up: 0 with the entry in @out, or -ENOENT
 * (also when it is older than @max_age at @now; max_age 0: no limit).
 */
/* Datapath: start loading the set hv_neigh_lookup() will read for (SEG, FAMILY, ADDR). */
void hv_neigh_prefetch(const struct hv_neigh_table *t, uint16_t seg, uint8_t family,
		       const uint8_t *addr);
int hv_neigh_lookup(const struct hv_neigh_table *t, uint16_t seg, uint8_t family,
		    const uint8_t *addr, uint64_t now, uint64_t max_age,
		    struct hv_neigh_entry *out);

/* Entries learned behind @port now. */
uint32_t hv_neigh_port_count(const struct hv_neigh_table *t, uint16_t port);

/* Remove every entry of @seg (-1: all); returns how many. */
uint32_t hv_neigh_flush(struct hv_neigh_table *t, int seg);

/* Call @fn for each entry (a consistent copy of each); stops when it returns non-zero. */
int hv_neigh_walk(const struct hv_neigh_table *t, int (*fn)(const struct hv_neigh_entry *, void *),
		  void *arg);

#endif
