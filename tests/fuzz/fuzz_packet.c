/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the frame parser: any bytes, any length. The parser must return a
 * valid reason, never read outside the input (ASan watches a heap copy of
 * exactly @size bytes), and keep the offsets it reports inside the frame.
 * The ARP/ND readers and the TTL decrement of the gateways run on every frame
 * that parses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_pkt_meta m;
	enum hv_drop_reason r;
	uint8_t *copy;
	char line[512];

	if (size > 65535)
		return 0;
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = hv_pkt_parse(copy, (uint32_t)size, &m);
	if ((unsigned)r >= HV_DROP_MAX)
		abort();
	if (r == HV_DROP_NONE) {
		if (m.l3_off > size || m.l4_off > size || m.payload_off > size)
			abort();
		if ((m.flags & HV_PKT_F_L4) && m.payload_off < m.l4_off)
			abort();
	}
	if (r == HV_DROP_NONE) {
		uint8_t t[16];
		const uint8_t *sha = hv_pkt_arp_sha(copy, (uint32_t)size, &m);

		/* what the gateway reads of ARP and neighbour discovery, and writes */
		if (sha != NULL && (sha < copy || sha + 6 > copy + size))
			abort();
		(void)hv_pkt_nd_target(copy, (uint32_t)size, &m, t);
		if (hv_pkt_ttl_dec(copy, (uint32_t)size, &m) == 0 && m.ttl <= 1)
			abort();
	}
	hv_pkt_format(&m, line, sizeof(line));
	hv_pkt_format(&m, line, 8); /* truncating output is fine too */
	free(copy);
	return 0;
}
