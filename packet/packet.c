/* SPDX-License-Identifier: BSD-3-Clause */
/* Placeholder until the parser lands: accepts only what it can bound-check. */
#include <stdio.h>
#include <string.h>

#include "packet/packet.h"

enum hv_drop_reason
hv_pkt_parse(const uint8_t *data, uint32_t len, struct hv_pkt_meta *m)
{
	memset(m, 0, sizeof(*m));
	if (len < 14)
		return HV_DROP_ETH_TRUNCATED;
	memcpy(m->dst_mac, data, 6);
	memcpy(m->src_mac, data + 6, 6);
	m->ethertype = (uint16_t)(data[12] << 8 | data[13]);
	if (hv_mac_is_multicast(m->dst_mac))
		m->flags |= HV_PKT_F_DST_MCAST;
	return HV_DROP_NONE;
}

int
hv_pkt_format(const struct hv_pkt_meta *m, char *buf, size_t size)
{
	return snprintf(buf, size, "ethertype 0x%04x", m->ethertype);
}
