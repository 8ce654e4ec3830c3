/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control path of the overlay: build the immutable VTEP state from the
 * configuration, keep VTEP indices stable across rebuilds, and retire the
 * indices a new state no longer uses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vxlan/vxlan.h"

const char *
hv_vx_ip_str(const uint8_t ip[4], char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	return buf;
}

static int
ip_cmp(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 4);
}

static int
peer_cmp(const void *a, const void *b)
{
	return ip_cmp(((const struct hv_vx_peer *)a)->ip, ((const struct hv_vx_peer *)b)->ip);
}

static int
vni_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct hv_vx_vni *)a)->vni, y = ((const struct hv_vx_vni *)b)->vni;

	return x < y ? -1 : x > y;
}

/* An address no unicast VTEP can have: 0/8, 127/8, multicast, class E, broadcast. */
static bool
ip_unicast(const uint8_t ip[4])
{
	return ip[0] != 0 && ip[0] != 127 && ip[0] < 224;
}

static int
vtep_index(struct hv_vx_ctl *x, bool *taken, const uint8_t ip[4])
{
	for (int i = 0; i < HV_VX_MAX_VTEPS; i++)
		if (x->used[i] && ip_cmp(x->vtep_ip[i], ip) == 0) {
			taken[i] = true;
			return i;
		}
	for (int i = 0; i < HV_VX_MAX_VTEPS; i++)
		if (!x->used[i] && !taken[i]) {
			taken[i] = true;
			return i;
		}
	return -1;
}

struct hv_vx_state *
hv_vx_state_build(struct hv_vx_ctl *x, const struct hv_vx_conf *conf, char *err, size_t err_size)
{
	struct hv_vx_state *st;
	bool taken[HV_VX_MAX_VTEPS] = {false};
	uint32_t n_flood = 0;
	char a[16];

	if (!ip_unicast(conf->local_ip)) {
		snprintf(err, err_size, "local VTEP address %s is not a unicast address",
			 hv_vx_ip_str(conf->local_ip, a));
		errno = EINVAL;
		return NULL;
	}
	if (conf->uplink_mtu < 576 + HV_VX_OVERHEAD) {
		snprintf(err, err_size, "uplink MTU %u leaves less than 576 bytes to the overlay",
			 conf->uplink_mtu);
		errno = EINVAL;
		return NULL;
	}
	if (conf->n_peers > HV_VX_MAX_VTEPS) {
		snprintf(err, err_size, "%u peers, at most %d", conf->n_peers, HV_VX_MAX_VTEPS);
		errno = EINVAL;
		return NULL;
	}
	/* the flood lists hold at most one entry per (segment, peer) */
	for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++) {
		if (conf->seg_vni[s] == HV_VX_NO_VNI)
			continue;
		for (unsigned p = 0; p < conf->n_peers; p++)
			if (conf->peers[p].all_segs ||
			    (conf->peers[p].segs[s / 64] >> (s % 64)) & 1)
				n_flood++;
	}
	st = calloc(1, sizeof(*st) + n_flood * sizeof(st->flood[0]));
	if (st == NULL)
		return NULL;
	memcpy(st->local_ip, conf->local_ip, 4);
	memcpy(st->local_mac, conf->uplink_mac, 6);
	st->uplink = conf->uplink;
	st->udp_port = conf->udp_port ? conf->udp_port : HV_VX_PORT;
	st->ttl = conf->ttl ? conf->ttl : HV_VX_TTL;
	st->learn = conf->learn;
	st->udp_csum = conf->udp_csum;
	hv_vx_hdr_init(st);
	st->uplink_mtu = conf->uplink_mtu;
	st->mtu = (uint16_t)(conf->uplink_mtu - HV_VX_OVERHEAD);
	st->neigh = x->neigh;
	for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++) {
		uint32_t v = conf->seg_vni[s];

		st->seg_vni[s] = v;
		if (v == HV_VX_NO_VNI)
			continue;
		if (v > HV_VX_VNI_MAX) {
			snprintf(err, err_size, "VNI %u is larger than 24 bits", v);
			goto invalid;
		}
		for (unsigned i = 0; i < st->n_vni; i++)
			if (st->vni[i].vni == v) {
				snprintf(err, err_size, "VNI %u is given to two segments", v);
				goto invalid;
			}
		st->vni[st->n_vni].vni = v;
		st->vni[st->n_vni++].seg = (uint16_t)s;
	}
	qsort(st->vni, st->n_vni, sizeof(st->vni[0]), vni_cmp);
	for (unsigned p = 0; p < conf->n_peers; p++) {
		struct hv_vx_peer *pe = &st->peers[p];
		int idx;

		if (!ip_unicast(conf->peers[p].ip) ||
		    ip_cmp(conf->peers[p].ip, conf->local_ip) == 0) {
			snprintf(err, err_size, "peer %s is not a unicast address of another host",
				 hv_vx_ip_str(conf->peers[p].ip, a));
			goto invalid;
		}
		for (unsigned q = 0; q < p; q++)
			if (ip_cmp(conf->peers[q].ip, conf->peers[p].ip) == 0) {
				snprintf(err, err_size, "peer %s is listed twice",
					 hv_vx_ip_str(conf->peers[p].ip, a));
				goto invalid;
			}
		idx = vtep_index(x, taken, conf->peers[p].ip);
		if (idx < 0) {
			snprintf(err, err_size, "no free VTEP index");
			goto invalid;
		}
		memcpy(pe->ip, conf->peers[p].ip, 4);
		pe->vtep = (uint16_t)idx;
		pe->all_segs = conf->peers[p].all_segs;
		pe->learned = conf->peers[p].learned;
		for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++)
			if (st->seg_vni[s] != HV_VX_NO_VNI &&
			    (pe->all_segs || (conf->peers[p].segs[s / 64] >> (s % 64)) & 1))
				pe->segs[s / 64] |= 1ull << (s % 64);
		memcpy(st->vtep_ip[idx], pe->ip, 4);
	}
	st->n_peers = conf->n_peers;
	qsort(st->peers, st->n_peers, sizeof(st->peers[0]), peer_cmp);
	for (unsigned s = 0; s < HV_VX_MAX_SEGS; s++) {
		st->flood_off[s] = (uint16_t)st->n_flood;
		for (unsigned p = 0; p < st->n_peers; p++)
			if (!st->peers[p].learned && hv_vx_peer_has_seg(&st->peers[p], (uint16_t)s))
				st->flood[st->n_flood++] = st->peers[p].vtep;
		st->flood_n[s] = (uint16_t)(st->n_flood - st->flood_off[s]);
	}
	return st;

invalid:
	free(st);
	errno = EINVAL;
	return NULL;
}

void
hv_vx_ctl_commit(struct hv_vx_ctl *x, const struct hv_vx_state *st,
		 void (*gone)(void *arg, uint16_t vtep), void *arg)
{
	bool keep[HV_VX_MAX_VTEPS] = {false};

	for (unsigned p = 0; st != NULL && p < st->n_peers; p++)
		keep[st->peers[p].vtep] = true;
	for (unsigned i = 0; i < HV_VX_MAX_VTEPS; i++) {
		if (keep[i]) {
			/* a new index, or an address kept: its neighbour stays */
			if (!x->used[i] || ip_cmp(x->vtep_ip[i], st->vtep_ip[i]) != 0)
				memset(&x->neigh[i], 0, sizeof(x->neigh[i]));
			x->used[i] = true;
			memcpy(x->vtep_ip[i], st->vtep_ip[i], 4);
			continue;
		}
		if (!x->used[i])
			continue;
		x->used[i] = false;
		memset(x->vtep_ip[i], 0, 4);
		memset(&x->neigh[i], 0, sizeof(x->neigh[i]));
		if (gone != NULL)
			gone(arg, (uint16_t)i);
	}
}

void
hv_vx_state_free(struct hv_vx_state *st)
{
	free(st);
}

const struct hv_vx_peer *
hv_vx_peer_find(const struct hv_vx_state *st, const uint8_t ip[4])
{
	unsigned lo = 0, hi = st->n_peers;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = ip_cmp(st->peers[mid].ip, ip);

		if (c == 0)
			return &st->peers[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
hv_vx_vni_seg(const struct hv_vx_state *st, uint32_t vni)
{
	unsigned lo = 0, hi = st->n_vni;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (st->vni[mid].vni == vni)
			return st->vni[mid].seg;
		if (st->vni[mid].vni < vni)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool
hv_vx_neigh_set(struct hv_vx_neigh *n, const uint8_t mac[6])
{
	uint64_t v = HV_VX_NEIGH_VALID, old;

	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * (5 - i));
	old = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);
	if (old == v || (old & HV_VX_NEIGH_STATIC))
		return false;
	__atomic_store_n(&n->mac, v, __ATOMIC_RELAXED);
	return true;
}

void
hv_vx_neigh_set_static(struct hv_vx_neigh *n, const uint8_t mac[6])
{
	uint64_t v = HV_VX_NEIGH_VALID | HV_VX_NEIGH_STATIC;

	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * (5 - i));
	__atomic_store_n(&n->mac, v, __ATOMIC_RELAXED);
}

bool
hv_vx_neigh_should_ask(struct hv_vx_neigh *n, uint64_t now_tsc, uint64_t hz)
{
	uint64_t asked = __atomic_load_n(&n->asked_tsc, __ATOMIC_RELAXED);
	uint64_t mac = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);
	bool valid = mac & HV_VX_NEIGH_VALID;
	uint64_t every = (valid ? HV_VX_ARP_REFRESH_S : HV_VX_ARP_RETRY_S) * hz;

	if (mac & HV_VX_NEIGH_STATIC)
		return false;

	if (asked != 0 && now_tsc - asked < every)
		return false;
	return __atomic_compare_exchange_n(&n->asked_tsc, &asked, now_tsc, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}
