/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_COMMON_PCAPNG_H
#define HV_COMMON_PCAPNG_H

/*
 * Capture file blocks, built into a caller's byte buffer: pcapng (section
 * header, one interface block per name, enhanced packet blocks with options)
 * and classic pcap (file header, record header). Shared by the firewall's
 * verdict log (firewall/fwlog.c) and the mirror writer (vswitch/mirror.c).
 *
 * No I/O, no allocation but in hv_pcapng_ifaces_init(), no DPDK: the caller
 * owns the buffer and writes it out. Callers keep at least the bound of what
 * they are about to add free in the buffer (every writer below truncates
 * rather than overflow, which would corrupt the file, so size the buffer).
 * Not thread-safe: one buffer, one thread. Multi-byte fields are in host
 * order, as both formats allow (the section header's byte-order magic and
 * the pcap magic say which).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv_wbuf {
	uint8_t *data;
	size_t cap;
	size_t len;
	unsigned nrec; /* records whose bytes are in data; the caller's to count */
};

/* Append N bytes of P; truncated at the buffer's end (see the contract above). */
void hv_wbuf_put(struct hv_wbuf *b, const void *p, size_t n);
void hv_wbuf_puts(struct hv_wbuf *b, const char *s);
void hv_wbuf_printf(struct hv_wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hv_wbuf_u16(struct hv_wbuf *b, uint16_t v);
void hv_wbuf_u32(struct hv_wbuf *b, uint32_t v);
/* Zero bytes up to the next multiple of 4 of b->len. */
void hv_wbuf_pad4(struct hv_wbuf *b);
/* Write all of B to FD (retrying short writes and EINTR); 0 or -errno. */
int hv_wbuf_write(int fd, const struct hv_wbuf *b);

#define HV_PCAPNG_OPT_COMMENT 1
#define HV_PCAPNG_EPB_FLAGS   2
#define HV_PCAPNG_DIR_IN      1 /* epb_flags bits 0-1: inbound */
#define HV_PCAPNG_DIR_OUT     2 /* outbound */

/* A section header block naming APP (shb_userappl). At most 64 + strlen(APP) bytes. */
void hv_pcapng_shb(struct hv_wbuf *b, const char *app);
/* An Ethernet interface block named NAME (up to NAME_MAX bytes), timestamps in ns. */
void hv_pcapng_idb(struct hv_wbuf *b, const char *name, size_t name_max, uint32_t snaplen);
/*
 * Start an enhanced packet block: header, CAPLEN bytes of DATA, padding.
 * Returns where the block starts, for hv_pcapng_epb_end(). Add options in
 * between (hv_pcapng_opt, or a comment built with the two calls below).
 */
size_t hv_pcapng_epb_begin(struct hv_wbuf *b, uint32_t ifid, uint64_t time_ns, const void *data,
			   uint32_t caplen, uint32_t origlen);
void hv_pcapng_opt(struct hv_wbuf *b, uint16_t code, const void *v, uint16_t len);
/* An opt_comment whose text the caller appends between begin and end. */
size_t hv_pcapng_comment_begin(struct hv_wbuf *b);
void hv_pcapng_comment_end(struct hv_wbuf *b, size_t start);
/* End of options and the block's trailing length. */
void hv_pcapng_epb_end(struct hv_wbuf *b, size_t start);

/*
 * Interface ids by name, for one pcapng section: hv_pcapng_iface() returns
 * the id of NAME, writing its interface block into the buffer on first
 * sight. Once max - 1 names are known, new names share the last id, whose
 * block is named OTHER_NAME, and *overflow is incremented for each packet
 * filed there. Names are compared on their first name_max bytes.
 */
struct hv_pcapng_ifaces {
	unsigned max;	   /* ids available, at most 65535 */
	unsigned n;	   /* ids handed out in this section */
	size_t name_max;   /* bytes of a name kept */
	uint32_t snaplen;  /* written in every interface block */
	char *names;	   /* max * name_max */
	uint16_t *hash;	   /* 2 * max slots (a power of two): 0 empty, else id + 1 */
	unsigned hash_cap; /* slots */
	const char *other_name;
};

/* 0, or -ENOMEM / -EINVAL (max 0 or above 32768). */
int hv_pcapng_ifaces_init(struct hv_pcapng_ifaces *t, unsigned max, size_t name_max,
			  uint32_t snaplen, const char *other_name);
void hv_pcapng_ifaces_free(struct hv_pcapng_ifaces *t);
/* Forget every name: the next section starts afresh. */
void hv_pcapng_ifaces_reset(struct hv_pcapng_ifaces *t);
uint32_t hv_pcapng_iface(struct hv_pcapng_ifaces *t, struct hv_wbuf *b, const char *name,
			 uint64_t *overflow);

/* Classic pcap: the 24-byte file header (Ethernet, microseconds) and a 16-byte record header. */
void hv_pcap_file_header(struct hv_wbuf *b, uint32_t snaplen);
void hv_pcap_record(struct hv_wbuf *b, uint64_t time_ns, const void *data, uint32_t caplen,
		    uint32_t origlen);

#endif
