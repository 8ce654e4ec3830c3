/* SPDX-License-Identifier: BSD-3-Clause */
/* Port security decisions (portsec.h). Fast path: no allocation, no logging. */
#include <string.h>

#include "vswitch/portsec.h"

static const uint8_t zero16[16];

bool
hv_portsec_owns(const struct hv_portsec *ps, uint8_t family, const uint8_t *addr)
{
	if (family == 4) {
		for (unsigned i = 0; i < ps->n4; i++)
			if (memcmp(ps->ip4[i], addr, 4) == 0)
				return true;
		return false;
	}
	if (ps->has_mac && memcmp(ps->ll6, addr, 16) == 0)
		return true;
	for (unsigned i = 0; i < ps->n6; i++)
		if (memcmp(ps->ip6[i], addr, 16) == 0)
			return true;
	return false;
}

/* With no MAC bound, the EUI-64 link-local of the frame's source MAC is the port's own. */
static bool
ll6_of_src(const struct hv_portsec *ps, const struct hv_pkt_meta *m, const uint8_t *addr)
{
	uint8_t ll[16];

	if (ps->has_mac)
		return false; /* hv_portsec_owns compared it with ps->ll6 */
	hv_pkt_ll6_of_mac(m->src_mac, ll);
	return memcmp(ll, addr, 16) == 0;
}

enum hv_drop_reason
hv_portsec_check(const struct hv_portsec *ps, const uint8_t *data, uint32_t len,
		 const struct hv_pkt_meta *m)
{
	const bool ip_bound = ps->n4 + ps->n6 > 0;
	uint8_t target[16];

	if (!ps->on)
		return HV_DROP_NONE;
	if (ps->has_mac && memcmp(m->src_mac, ps->mac, 6) != 0)
		return HV_DROP_PORTSEC_MAC;
	switch (m->l3) {
	case HV_L3_ARP: {
		const uint8_t *sha = hv_pkt_arp_sha(data, len, m);

		if (sha == NULL || (ps->has_mac && memcmp(sha, ps->mac, 6) != 0))
			return HV_DROP_PORTSEC_ARP;
		if (!ip_bound || memcmp(m->src_ip, zero16, 4) == 0)
			return HV_DROP_NONE; /* 0.0.0.0: an RFC 5227 probe */
		return hv_portsec_owns(ps, 4, m->src_ip) ? HV_DROP_NONE : HV_DROP_PORTSEC_ARP;
	}
	case HV_L3_IPV4:
		if (!ip_bound || hv_portsec_owns(ps, 4, m->src_ip))
			return HV_DROP_NONE;
		/* DHCP: a client without an address yet */
		if (memcmp(m->src_ip, zero16, 4) == 0 && m->l4_proto == 17 &&
		    (m->flags & HV_PKT_F_L4) && m->dport == 67)
			return HV_DROP_NONE;
		return HV_DROP_PORTSEC_IP;
	case HV_L3_IPV6:
		if (!ip_bound && !ps->has_mac)
			return HV_DROP_NONE;
		/* an advertisement speaks for its target, whatever its source */
		if (m->l4_proto == 58 && (m->flags & HV_PKT_F_L4) && m->icmp_type == 136) {
			if (!hv_pkt_nd_target(data, len, m, target))
				return HV_DROP_PORTSEC_ND;
			if (!hv_portsec_owns(ps, 6, target) && !ll6_of_src(ps, m, target) &&
			    ip_bound)
				return HV_DROP_PORTSEC_ND;
		}
		if (!ip_bound || hv_portsec_owns(ps, 6, m->src_ip) || ll6_of_src(ps, m, m->src_ip))
			return HV_DROP_NONE;
		/* duplicate address detection and MLD reports come from :: */
		if (memcmp(m->src_ip, zero16, 16) == 0 && m->l4_proto == 58 &&
		    (m->flags & HV_PKT_F_L4) &&
		    (m->icmp_type == 135 || m->icmp_type == 143 || m->icmp_type == 131))
			return HV_DROP_NONE;
		return HV_DROP_PORTSEC_IP;
	default:
		return HV_DROP_NONE;
	}
}

/* Claim field CLAIM of @l; true when this caller owns it and must write it, then set SET. */
static bool
lock_claim(struct hv_portsec_lock *l, uint32_t claim)
{
	if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) & claim)
		return false;
	return !(__atomic_fetch_or(&l->state, claim, __ATOMIC_ACQUIRE) & claim);
}

static void
lock_set(struct hv_portsec_lock *l, uint32_t set)
{
	__atomic_fetch_or(&l->state, set, __ATOMIC_RELEASE);
}

void
hv_portsec_of_lock(const struct hv_portsec_lock *l, struct hv_portsec *ps)
{
	uint32_t st = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);

	memset(ps, 0, sizeof(*ps));
	if (st & HV_PORTSEC_L_MAC) {
		ps->has_mac = true;
		memcpy(ps->mac, l->mac, 6);
		hv_pkt_ll6_of_mac(l->mac, ps->ll6);
	}
	if (st & HV_PORTSEC_L_IP4) {
		memcpy(ps->ip4[0], l->ip4, 4);
		ps->n4 = 1;
	}
	if (st & HV_PORTSEC_L_IP6) {
		memcpy(ps->ip6[0], l->ip6, 16);
		ps->n6 = 1;
	}
	ps->on = ps->has_mac || ps->n4 + ps->n6 > 0;
}

enum hv_drop_reason
hv_portsec_lock_check(struct hv_portsec_lock *l, const uint8_t *data, uint32_t len,
		      const struct hv_pkt_meta *m)
{
	struct hv_portsec ps;

	if (!hv_mac_is_multicast(m->src_mac) && !hv_mac_is_zero(m->src_mac) &&
	    lock_claim(l, HV_PORTSEC_L_MAC_CLAIM)) {
		memcpy(l->mac, m->src_mac, 6);
		lock_set(l, HV_PORTSEC_L_MAC);
	}
	if ((m->l3 == HV_L3_IPV4 || m->l3 == HV_L3_ARP) && memcmp(m->src_ip, zero16, 4) != 0 &&
	    m->src_ip[0] < 224 && lock_claim(l, HV_PORTSEC_L_IP4_CLAIM)) {
		memcpy(l->ip4, m->src_ip, 4);
		lock_set(l, HV_PORTSEC_L_IP4);
	}
	if (m->l3 == HV_L3_IPV6 && memcmp(m->src_ip, zero16, 16) != 0 && m->src_ip[0] != 0xff &&
	    !(m->src_ip[0] == 0xfe && (m->src_ip[1] & 0xc0) == 0x80) &&
	    lock_claim(l, HV_PORTSEC_L_IP6_CLAIM)) {
		memcpy(l->ip6, m->src_ip, 16);
		lock_set(l, HV_PORTSEC_L_IP6);
	}
	hv_portsec_of_lock(l, &ps);
	return hv_portsec_check(&ps, data, len, m);
}
