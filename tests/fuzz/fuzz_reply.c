/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the reply builders: any frame the parser accepts is answered with a
 * TCP RST and ICMP / ICMPv6 errors, into an output buffer of the full size
 * and into one of a size taken from the input. The builders must never read
 * outside the frame or write outside the buffer (ASan watches heap copies of
 * exactly the right sizes), and every reply they make must parse cleanly,
 * fit its buffer and stay within the 576 / 1280-byte caps of ICMP errors.
 * The gateway's ARP replies and neighbour advertisements answering the frame,
 * and its ARP requests and solicitations for the addresses the frame names,
 * must parse as what they are.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/packet.h"
#include "packet/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t GW4[4] = {10, 0, 0, 254};
static const uint8_t GW6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0xfe};

/* A reply of @n bytes in @out (@out_size) answering @o must be a well-formed frame. */
static void
check_reply(const struct hv_pkt_meta *o, const uint8_t *out, size_t n, size_t out_size, bool icmp)
{
	struct hv_pkt_meta r;
	uint8_t *copy;

	if (n == 0)
		return;
	if (n > out_size || n > HV_REPLY_FRAME_MAX)
		abort();
	copy = malloc(n);
	if (copy == NULL)
		abort();
	memcpy(copy, out, n);
	if (hv_pkt_parse(copy, (uint32_t)n, &r) != HV_DROP_NONE)
		abort();
	free(copy);
	if (r.l3 != o->l3 || r.n_vlans != o->n_vlans || !(r.flags & HV_PKT_F_L4))
		abort();
	if (memcmp(r.dst_mac, o->src_mac, 6) != 0 || memcmp(r.src_mac, o->dst_mac, 6) != 0)
		abort();
	if (memcmp(r.dst_ip, o->src_ip, r.l3 == HV_L3_IPV6 ? 16 : 4) != 0)
		abort();
	if (n != (size_t)r.l3_off + r.l3_len)
		abort();
	if (icmp) {
		if (r.l4_proto != (r.l3 == HV_L3_IPV6 ? 58 : 1))
			abort();
		if (r.l3_len > (r.l3 == HV_L3_IPV6 ? HV_REPLY_ICMP6_MAX : HV_REPLY_ICMP4_MAX))
			abort();
	} else if (r.l4_proto != 6 || !(r.tcp_flags & 0x04) || o->tcp_flags & 0x04) {
		abort();
	}
}

/* Build one reply into a heap buffer of exactly @out_size bytes and check it. */
static void
try_reply(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, bool icmp, uint8_t type,
	  uint8_t code, uint32_t info, const uint8_t *src_ip, size_t out_size)
{
	uint8_t *out = malloc(out_size ? out_size : 1);
	size_t n;

	if (out == NULL)
		abort();
	if (icmp)
		n = hv_reply_icmp_error(frame, len, m, type, code, info, src_ip, out, out_size);
	else
		n = hv_reply_tcp_rst(frame, len, m, out, out_size);
	check_reply(m, out, n, out_size, icmp);
	free(out);
}

static const uint8_t GWMAC[6] = {0x02, 0x68, 0x76, 1, 2, 3};

/* An ARP reply, NA, ARP request or NS of @n bytes in a buffer of @out_size. */
static void
check_nd(const uint8_t *out, size_t n, size_t out_size, bool arp, uint8_t op)
{
	struct hv_pkt_meta r;
	uint8_t t[16];
	uint8_t *copy;

	if (n == 0)
		return;
	if (n > out_size)
		abort();
	copy = malloc(n);
	if (copy == NULL)
		abort();
	memcpy(copy, out, n);
	if (hv_pkt_parse(copy, (uint32_t)n, &r) != HV_DROP_NONE)
		abort();
	if (memcmp(r.src_mac, GWMAC, 6) != 0)
		abort();
	if (arp ? (r.l3 != HV_L3_ARP || r.arp_op != op ||
		   hv_pkt_arp_sha(copy, (uint32_t)n, &r) == NULL)
		: (r.l3 != HV_L3_IPV6 || r.icmp_type != op ||
		   !hv_pkt_nd_target(copy, (uint32_t)n, &r, t)))
		abort();
	free(copy);
}

/* The gateway's answers (ARP reply, NA) and questions (ARP request, NS). */
static void
try_nd(const uint8_t *frame, uint32_t len, const struct hv_pkt_meta *m, size_t out_size)
{
	uint8_t *out = malloc(out_size ? out_size : 1);
	uint8_t a[16];

	if (out == NULL)
		abort();
	check_nd(out, hv_reply_arp(frame, len, m, GWMAC, out, out_size), out_size, true, 2);
	check_nd(out, hv_reply_nd_na(frame, len, m, GWMAC, len & 1, out, out_size), out_size, false,
		 136);
	/* questions for the addresses the frame names */
	memcpy(a, m->dst_ip, 16);
	check_nd(out, hv_reply_arp_request(GWMAC, GW4, a, out, out_size), out_size, true, 1);
	check_nd(out, hv_reply_nd_ns(GWMAC, GW6, a, out, out_size), out_size, false, 135);
	{
		/* an echo reply: parses, is an echo reply, to the frame's source */
		size_t n = hv_reply_icmp_echo(frame, len, m, out, out_size);

		if (n != 0) {
			struct hv_pkt_meta r;
			uint8_t *copy = malloc(n);

			if (copy == NULL || n > out_size)
				abort();
			memcpy(copy, out, n);
			if (hv_pkt_parse(copy, (uint32_t)n, &r) != HV_DROP_NONE ||
			    r.icmp_type != (r.l3 == HV_L3_IPV6 ? 129 : 0) ||
			    memcmp(r.dst_mac, m->src_mac, 6) != 0)
				abort();
			free(copy);
		}
	}
	{
		/* a router advertisement to the frame's source, with its addresses as prefixes */
		static const uint8_t ll[16] = {0xfe, 0x80, [15] = 1};
		uint8_t pfx[2][16];
		const uint8_t plen[2] = {m->dst_ip[0] & 0x7f, m->src_ip[0] & 0x7f};
		size_t n;

		memcpy(pfx[0], m->dst_ip, 16);
		memcpy(pfx[1], m->src_ip, 16);
		n = hv_reply_nd_ra(GWMAC, ll, m->src_ip, m->src_mac, (const uint8_t(*)[16])pfx,
				   plen, len & 3 ? 2 : 0, out, out_size);
		if (n != 0) {
			struct hv_pkt_meta r;
			uint8_t *copy = malloc(n);

			if (copy == NULL || n > out_size)
				abort();
			memcpy(copy, out, n);
			if (hv_pkt_parse(copy, (uint32_t)n, &r) != HV_DROP_NONE ||
			    r.icmp_type != 134)
				abort();
			free(copy);
		}
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_pkt_meta m;
	uint8_t *copy;
	size_t small;
	bool v6;

	if (size > 65535)
		return 0;
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (hv_pkt_parse(copy, (uint32_t)size, &m) != HV_DROP_NONE)
		goto free_copy;
	v6 = m.l3 == HV_L3_IPV6;
	/* a second, input-chosen buffer size reaches the "too small" edges */
	small = size ? (size_t)data[size - 1] * 5 + (size_t)data[0] % 5 : 0;

	try_nd(copy, (uint32_t)size, &m, HV_REPLY_FRAME_MAX);
	try_nd(copy, (uint32_t)size, &m, small);

	try_reply(copy, (uint32_t)size, &m, false, 0, 0, 0, NULL, HV_REPLY_FRAME_MAX);
	try_reply(copy, (uint32_t)size, &m, false, 0, 0, 0, NULL, small);
	/* `reject`: administratively prohibited */
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 1 : 3, v6 ? 1 : 13, 0, NULL,
		  HV_REPLY_FRAME_MAX);
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 1 : 3, v6 ? 1 : 13, 0, NULL, small);
	/* a router's: time exceeded and packet too big, from its own address */
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 3 : 11, 0, 0, v6 ? GW6 : GW4,
		  HV_REPLY_FRAME_MAX);
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 2 : 3, v6 ? 0 : 4, 1280, v6 ? GW6 : GW4,
		  HV_REPLY_FRAME_MAX);
	/* the overlay's: too big for its MTU, from the original's destination */
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 2 : 3, v6 ? 0 : 4, 1450, NULL,
		  HV_REPLY_FRAME_MAX);
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 2 : 3, v6 ? 0 : 4, 1450, NULL, small);
	/* the ICMP type of the wrong family is refused, never misbuilt */
	try_reply(copy, (uint32_t)size, &m, true, v6 ? 3 : 1, 0, 0, NULL, HV_REPLY_FRAME_MAX);
free_copy:
	free(copy);
	return 0;
}
