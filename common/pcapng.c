/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcapng and pcap blocks into a byte buffer (common/pcapng.h). The block
 * layouts follow the pcapng draft (draft-ietf-opsawg-pcapng) and libpcap's
 * savefile format.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pcapng.h"

#define PCAPNG_SHB	   0x0A0D0D0Au
#define PCAPNG_IDB	   0x00000001u
#define PCAPNG_EPB	   0x00000006u
#define PCAPNG_BOM	   0x1A2B3C4Du
#define PCAPNG_OPT_END	   0
#define PCAPNG_SHB_USERAPP 4
#define PCAPNG_IF_NAME	   2
#define PCAPNG_IF_TSRESOL  9
#define LINKTYPE_ETHERNET  1
#define PCAP_MAGIC_US	   0xa1b2c3d4u

void
hv_wbuf_put(struct hv_wbuf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	if (n == 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
hv_wbuf_puts(struct hv_wbuf *b, const char *s)
{
	hv_wbuf_put(b, s, strlen(s));
}

void
hv_wbuf_printf(struct hv_wbuf *b, const char *fmt, ...)
{
	size_t room = b->cap - b->len;
	va_list ap;
	int n;

	if (room == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->len += (size_t)n < room ? (size_t)n : room - 1;
}

void
hv_wbuf_u16(struct hv_wbuf *b, uint16_t v)
{
	hv_wbuf_put(b, &v, sizeof(v));
}

void
hv_wbuf_u32(struct hv_wbuf *b, uint32_t v)
{
	hv_wbuf_put(b, &v, sizeof(v));
}

void
hv_wbuf_pad4(struct hv_wbuf *b)
{
	static const uint8_t zero[4];

	hv_wbuf_put(b, zero, (4 - (b->len & 3)) & 3);
}

int
hv_wbuf_write(int fd, const struct hv_wbuf *b)
{
	const uint8_t *p = b->data;
	size_t n = b->len;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void
hv_pcapng_opt(struct hv_wbuf *b, uint16_t code, const void *v, uint16_t len)
{
	hv_wbuf_u16(b, code);
	hv_wbuf_u16(b, len);
	hv_wbuf_put(b, v, len);
	hv_wbuf_pad4(b);
}

/* Patch the total length into both ends of the block that starts at START. */
static void
block_end(struct hv_wbuf *b, size_t start)
{
	uint32_t total = (uint32_t)(b->len - start + 4);

	hv_wbuf_u32(b, total);
	if (start + 8 <= b->len)
		memcpy(b->data + start + 4, &total, 4);
}

void
hv_pcapng_shb(struct hv_wbuf *b, const char *app)
{
	size_t start = b->len;

	hv_wbuf_u32(b, PCAPNG_SHB);
	hv_wbuf_u32(b, 0); /* total length, patched */
	hv_wbuf_u32(b, PCAPNG_BOM);
	hv_wbuf_u16(b, 1);	    /* major */
	hv_wbuf_u16(b, 0);	    /* minor */
	hv_wbuf_u32(b, UINT32_MAX); /* section length: unknown (-1) */
	hv_wbuf_u32(b, UINT32_MAX);
	hv_pcapng_opt(b, PCAPNG_SHB_USERAPP, app, (uint16_t)strnlen(app, 256));
	hv_pcapng_opt(b, PCAPNG_OPT_END, NULL, 0);
	block_end(b, start);
}

void
hv_pcapng_idb(struct hv_wbuf *b, const char *name, size_t name_max, uint32_t snaplen)
{
	static const uint8_t tsresol = 9; /* timestamps in nanoseconds */
	size_t start = b->len;
	size_t n = strnlen(name, name_max);

	hv_wbuf_u32(b, PCAPNG_IDB);
	hv_wbuf_u32(b, 0);
	hv_wbuf_u16(b, LINKTYPE_ETHERNET);
	hv_wbuf_u16(b, 0);
	hv_wbuf_u32(b, snaplen);
	if (n > 0)
		hv_pcapng_opt(b, PCAPNG_IF_NAME, name, (uint16_t)n);
	hv_pcapng_opt(b, PCAPNG_IF_TSRESOL, &tsresol, 1);
	hv_pcapng_opt(b, PCAPNG_OPT_END, NULL, 0);
	block_end(b, start);
}

size_t
hv_pcapng_epb_begin(struct hv_wbuf *b, uint32_t ifid, uint64_t time_ns, const void *data,
		    uint32_t caplen, uint32_t origlen)
{
	size_t start = b->len;

	hv_wbuf_u32(b, PCAPNG_EPB);
	hv_wbuf_u32(b, 0);
	hv_wbuf_u32(b, ifid);
	hv_wbuf_u32(b, (uint32_t)(time_ns >> 32));
	hv_wbuf_u32(b, (uint32_t)time_ns);
	hv_wbuf_u32(b, caplen);
	hv_wbuf_u32(b, origlen);
	hv_wbuf_put(b, data, caplen);
	hv_wbuf_pad4(b);
	return start;
}

size_t
hv_pcapng_comment_begin(struct hv_wbuf *b)
{
	size_t start = b->len;

	hv_wbuf_u16(b, HV_PCAPNG_OPT_COMMENT);
	hv_wbuf_u16(b, 0); /* patched */
	return start;
}

void
hv_pcapng_comment_end(struct hv_wbuf *b, size_t start)
{
	uint16_t len = (uint16_t)(b->len - start - 4);

	if (start + 4 <= b->len)
		memcpy(b->data + start + 2, &len, 2);
	hv_wbuf_pad4(b);
}

void
hv_pcapng_epb_end(struct hv_wbuf *b, size_t start)
{
	hv_pcapng_opt(b, PCAPNG_OPT_END, NULL, 0);
	block_end(b, start);
}

int
hv_pcapng_ifaces_init(struct hv_pcapng_ifaces *t, unsigned max, size_t name_max, uint32_t snaplen,
		      const char *other_name)
{
	memset(t, 0, sizeof(*t));
	if (max == 0 || max > 32768 || name_max == 0)
		return -EINVAL;
	t->max = max;
	t->name_max = name_max;
	t->snaplen = snaplen;
	t->other_name = other_name;
	for (t->hash_cap = 1; t->hash_cap < 2 * max; t->hash_cap <<= 1)
		;
	t->names = calloc(max, name_max);
	t->hash = calloc(t->hash_cap, sizeof(t->hash[0]));
	if (t->names == NULL || t->hash == NULL) {
		hv_pcapng_ifaces_free(t);
		return -ENOMEM;
	}
	return 0;
}

void
hv_pcapng_ifaces_free(struct hv_pcapng_ifaces *t)
{
	free(t->names);
	free(t->hash);
	t->names = NULL;
	t->hash = NULL;
}

void
hv_pcapng_ifaces_reset(struct hv_pcapng_ifaces *t)
{
	t->n = 0;
	memset(t->hash, 0, t->hash_cap * sizeof(t->hash[0]));
}

static uint32_t
name_hash(const char *name, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h;
}

uint32_t
hv_pcapng_iface(struct hv_pcapng_ifaces *t, struct hv_wbuf *b, const char *name, uint64_t *overflow)
{
	size_t n = strnlen(name, t->name_max);
	uint32_t h = name_hash(name, n) & (t->hash_cap - 1);
	uint16_t id;

	for (;; h = (h + 1) & (t->hash_cap - 1)) {
		uint16_t slot = t->hash[h];
		const char *known;

		if (slot == 0)
			break;
		known = t->names + (size_t)(slot - 1) * t->name_max;
		if (strnlen(known, t->name_max) == n && memcmp(known, name, n) == 0)
			return slot - 1u;
	}
	if (t->n >= t->max - 1) {
		__atomic_store_n(overflow, *overflow + 1, __ATOMIC_RELAXED);
		if (t->n == t->max - 1) {
			hv_pcapng_idb(b, t->other_name, t->name_max, t->snaplen);
			t->n++;
		}
		return t->max - 1;
	}
	id = (uint16_t)t->n++;
	memset(t->names + (size_t)id * t->name_max, 0, t->name_max);
	memcpy(t->names + (size_t)id * t->name_max, name, n);
	t->hash[h] = (uint16_t)(id + 1);
	hv_pcapng_idb(b, name, t->name_max, t->snaplen);
	return id;
}

void
hv_pcap_file_header(struct hv_wbuf *b, uint32_t snaplen)
{
	hv_wbuf_u32(b, PCAP_MAGIC_US);
	hv_wbuf_u16(b, 2);
	hv_wbuf_u16(b, 4);
	hv_wbuf_u32(b, 0); /* thiszone */
	hv_wbuf_u32(b, 0); /* sigfigs */
	hv_wbuf_u32(b, snaplen);
	hv_wbuf_u32(b, LINKTYPE_ETHERNET);
}

void
hv_pcap_record(struct hv_wbuf *b, uint64_t time_ns, const void *data, uint32_t caplen,
	       uint32_t origlen)
{
	hv_wbuf_u32(b, (uint32_t)(time_ns / 1000000000u));
	hv_wbuf_u32(b, (uint32_t)(time_ns % 1000000000u / 1000u));
	hv_wbuf_u32(b, caplen);
	hv_wbuf_u32(b, origlen);
	hv_wbuf_put(b, data, caplen);
}
