/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mirror sessions at run time (vswitch/mirror.h): the tap on the fast path,
 * the filter (libpcap compiles, rte_bpf runs, JIT when there is one), the
 * writer thread with its files, and the datapath view built at publish.
 */
/* rte_bpf_convert() is still marked experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mbuf_dyn.h>
#include <rte_net.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/pcapng.h"
#include "vswitch/mirror.h"
#include "vswitch/vswitch.h"

_Static_assert(HV_MIRROR_SEGMENTS == HV_MAX_SEGMENTS, "segment tables differ");
_Static_assert(HV_MIRROR_PORTS == HV_MAX_PORTS, "port tables differ");
_Static_assert(HV_MIRROR_NAME_MAX == HV_NAME_MAX, "name lengths differ");

#define MIR_CNT_ADD(c, n) __atomic_store_n(&(c), (c) + (n), __ATOMIC_RELAXED)
#define MIR_CNT_READ(c)	  __atomic_load_n(&(c), __ATOMIC_RELAXED)

#define WRITER_BURST   128 /* per worker and round: one write(2) per round and file */
#define WRITER_BUF     (256 * 1024)
#define WRITER_IDLE_US 2000
/*
 * Writers run at this nice level: where they share a CPU with something
 * that forwards (a generator, a VMM's I/O thread, the guests themselves),
 * the copies yield and fall behind, which the bounded queues turn into
 * counted drops (queue_full), instead of forwarding slowing down. On a CPU
 * of their own it changes nothing. docs/mirror.md.
 */
#define WRITER_NICE    10
#define MAX_IFACES     HV_MAX_PORTS
#define POOL_EXTRA     512 /* copies on their way to mirror ports */
#define COMMENT_MAX    256 /* bound on one comment, see rec_format() */
#define BLOCK_OVERHEAD (28 + 4 + COMMENT_MAX + 8 + 4 + 128) /* EPB, options, an IDB */

uint64_t hv_mirror_copy_flag;

/* One queued copy: the mbuf and what the tap knew about it. */
struct mirror_rec {
	struct rte_mbuf *m;
	uint64_t time_ns;
	uint32_t pkt_len; /* the original's length */
	uint8_t dir;	  /* HV_PCAPNG_DIR_IN / _OUT */
	uint8_t verdict;
	uint16_t pad;
	char in_port[HV_MIRROR_NAME_MAX];
	char out_port[HV_MIRROR_NAME_MAX];
	char segment[HV_MIRROR_NAME_MAX];
	char rule[HV_MIRROR_RULE_MAX];
};
#define REC_ESIZE RTE_ALIGN_CEIL(sizeof(struct mirror_rec), 8)
_Static_assert(sizeof(struct mirror_rec) % 8 == 0, "ring element size");

struct mirror_wcnt {
	struct hv_mirror_counters c;
	uint64_t sample_ctr;
	uint64_t gre_seq; /* ERSPAN: GRE sequence numbers of this worker */
} __rte_cache_aligned;

/* A file or fd destination: owned by the writer thread once it runs. */
struct mirror_file {
	int fd;
	bool pcapng; /* else classic pcap (fd destinations) */
	struct hv_wbuf buf;
	struct hv_pcapng_ifaces ifaces;
	uint64_t file_bytes;
	uint64_t file_start_ns;
	uint64_t seq; /* rotation: number of the current file */
	int err;      /* fd destination: the errno that ended it */
	/* counters: written by the writer, read by anyone */
	uint64_t written;
	uint64_t write_errors;
	uint64_t files;
	char current[HV_MIRROR_PATH_MAX + 16];
};

struct hv_mirror_session {
	struct hv_mirror_conf conf;
	unsigned n_workers;
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *);
	bool cbpf_ok; /* fallback: libpcap's interpreter */
	struct bpf_program cbpf;
	struct rte_mempool *pool;
	struct rte_ring *ring[HV_MAX_WORKERS];
	unsigned n_files;
	struct mirror_file *file[HV_MIRROR_MAX_DESTS]; /* by destination index; NULL for ports */
	pthread_t writer;
	bool writer_running;
	bool stop;    /* control -> writer */
	bool done;    /* writer: count reached or the fd failed; workers stop copying */
	int done_err; /* positive errno, 0 when the count was reached */
	uint64_t total_written;
	struct mirror_wcnt cnt[HV_MAX_WORKERS];
};

int
hv_mirror_init(void)
{
	static const struct rte_mbuf_dynflag copy = {.name = "hvnet_mirror_copy"};
	int bit = rte_mbuf_dynflag_register(&copy);

	if (bit < 0)
		return -rte_errno;
	hv_mirror_copy_flag = 1ULL << bit;
	return 0;
}

const struct hv_mirror_conf *
hv_mirror_session_conf(const struct hv_mirror_session *s)
{
	return &s->conf;
}

void
hv_mirror_session_counters(const struct hv_mirror_session *s, struct hv_mirror_counters *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned w = 0; w < s->n_workers; w++) {
		const struct hv_mirror_counters *x = &s->cnt[w].c;

		c->selected += MIR_CNT_READ(x->selected);
		c->filtered += MIR_CNT_READ(x->filtered);
		c->sampled_out += MIR_CNT_READ(x->sampled_out);
		c->copied += MIR_CNT_READ(x->copied);
		c->copy_failed += MIR_CNT_READ(x->copy_failed);
		c->queue_full += MIR_CNT_READ(x->queue_full);
		c->dest_down += MIR_CNT_READ(x->dest_down);
		c->port_sent += MIR_CNT_READ(x->port_sent);
	}
}

void
hv_mirror_session_dest_stats(const struct hv_mirror_session *s, unsigned d,
			     struct hv_mirror_dest_stats *st)
{
	const struct mirror_file *f = d < HV_MIRROR_MAX_DESTS ? s->file[d] : NULL;

	memset(st, 0, sizeof(*st));
	if (f == NULL)
		return;
	st->written = MIR_CNT_READ(f->written);
	st->write_errors = MIR_CNT_READ(f->write_errors);
	st->files = MIR_CNT_READ(f->files);
	/* the name changes only at rotation; a torn read shows a stale name, never overflows */
	memcpy(st->current, f->current, sizeof(st->current) - 1);
}

bool
hv_mirror_session_done(const struct hv_mirror_session *s, int *err)
{
	if (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
		return false;
	*err = s->done_err;
	return true;
}

const char *
hv_mirror_session_filter_engine(const struct hv_mirror_session *s)
{
	return s->jit != NULL	? "rte_bpf-jit"
	       : s->bpf != NULL ? "rte_bpf"
	       : s->cbpf_ok	? "libpcap"
				: "none";
}

uint64_t
hv_mirror_session_written(const struct hv_mirror_session *s)
{
	return MIR_CNT_READ(s->total_written);
}

/* ---- the fast path ---- */

#define VXLAN_PORT	4789
#define REMOTE_OVERHEAD (14 + 20 + 8 + 8) /* VXLAN: UDP + VXLAN; ERSPAN II: GRE with seq + ERSPAN */
#define GRE_S_FLAG	0x1000
#define GRE_ERSPAN_II	0x88be

/*
 * Put Ethernet/IPv4 and then UDP/VXLAN (RFC 7348) or GRE/ERSPAN type II
 * (draft-foschiano-erspan) in front of a copy. VXLAN: the UDP source port
 * varies with HASH (the inner Ethernet header) so that a collector behind
 * ECMP or RSS spreads the load, and the UDP checksum is 0, as RFC 7348
 * allows. ERSPAN II: GRE with the sequence number SEQ (per worker and
 * session), version 1, the session id, no VLAN, index 0.
 */
static int
remote_encap(struct rte_mbuf *cp, const struct hv_mirror_dest_conf *dc, const uint8_t *smac,
	     uint32_t hash, uint32_t seq)
{
	uint32_t inner = rte_pktmbuf_pkt_len(cp);
	uint8_t *h;
	uint16_t ip_len = (uint16_t)(inner + 20 + 8 + 8), udp_len = (uint16_t)(inner + 16);
	uint16_t sport = (uint16_t)(49152 + (hash & 0x3fff));
	struct rte_ipv4_hdr *ip;

	if (inner > 65535 - (REMOTE_OVERHEAD - 14))
		return -EMSGSIZE;
	h = (uint8_t *)rte_pktmbuf_prepend(cp, REMOTE_OVERHEAD);
	if (h == NULL)
		return -ENOSPC;
	memcpy(h, dc->mac, 6);
	memcpy(h + 6, smac, 6);
	h[12] = 0x08;
	h[13] = 0x00;
	ip = (struct rte_ipv4_hdr *)(h + 14);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(ip_len);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = dc->kind == HV_MIRROR_TO_ERSPAN ? IPPROTO_GRE : IPPROTO_UDP;
	memcpy(&ip->src_addr, dc->source, 4);
	memcpy(&ip->dst_addr, dc->remote, 4);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	h += 34;
	if (dc->kind == HV_MIRROR_TO_ERSPAN) {
		h[0] = GRE_S_FLAG >> 8;
		h[1] = 0;
		h[2] = GRE_ERSPAN_II >> 8;
		h[3] = GRE_ERSPAN_II & 0xff;
		h[4] = (uint8_t)(seq >> 24);
		h[5] = (uint8_t)(seq >> 16);
		h[6] = (uint8_t)(seq >> 8);
		h[7] = (uint8_t)seq;
		h += 8;
		h[0] = 0x10; /* version 1 (type II), VLAN 0 */
		h[1] = 0;
		h[2] = (uint8_t)((dc->vni >> 8) & 0x03); /* COS 0, En 0, T 0, session id */
		h[3] = (uint8_t)dc->vni;
		h[4] = h[5] = h[6] = h[7] = 0; /* reserved, index 0 */
		return 0;
	}
	h[0] = (uint8_t)(sport >> 8);
	h[1] = (uint8_t)sport;
	h[2] = VXLAN_PORT >> 8;
	h[3] = VXLAN_PORT & 0xff;
	h[4] = (uint8_t)(udp_len >> 8);
	h[5] = (uint8_t)udp_len;
	h[6] = h[7] = 0;
	h += 8;
	h[0] = 0x08; /* I flag: the VNI is valid */
	h[1] = h[2] = h[3] = 0;
	h[4] = (uint8_t)(dc->vni >> 16);
	h[5] = (uint8_t)(dc->vni >> 8);
	h[6] = (uint8_t)dc->vni;
	h[7] = 0;
	return 0;
}

static inline bool
filter_pass(const struct hv_mirror_session *s, struct rte_mbuf *m)
{
	if (s->jit != NULL)
		return s->jit(m) != 0;
	if (s->bpf != NULL)
		return rte_bpf_exec(s->bpf, m) != 0;
	if (s->cbpf_ok) {
		struct pcap_pkthdr h = {.caplen = rte_pktmbuf_data_len(m),
					.len = rte_pktmbuf_pkt_len(m)};

		return pcap_offline_filter(&s->cbpf, &h, rte_pktmbuf_mtod(m, const u_char *)) != 0;
	}
	return true;
}

bool
hv_mirror_session_filter_match(const struct hv_mirror_session *s, struct rte_mbuf *m)
{
	return filter_pass(s, m);
}

static inline void
name_copy(char *dst, const char *src)
{
	size_t n;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	/* names are NUL-terminated within HV_MIRROR_NAME_MAX (name_valid in switch.c) */
	n = strnlen(src, HV_MIRROR_NAME_MAX - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * A copy of @m for session @s, marked as a copy, at most snaplen bytes. A
 * frame in one segment (the common case) is copied by hand: rte_pktmbuf_copy
 * walks segments and copies every field, which costs the worker more than
 * the frame itself.
 */
static inline struct rte_mbuf *
copy_make(struct hv_mirror_session *s, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	struct rte_mbuf *c;

	if (s->conf.snaplen != 0 && len > s->conf.snaplen)
		len = s->conf.snaplen;
	if (likely(rte_pktmbuf_is_contiguous(m))) {
		c = rte_pktmbuf_alloc(s->pool);
		if (c == NULL)
			return NULL;
		if (unlikely(len > rte_pktmbuf_tailroom(c))) {
			rte_pktmbuf_free(c);
			return NULL;
		}
		rte_memcpy(rte_pktmbuf_mtod(c, void *), rte_pktmbuf_mtod(m, const void *), len);
		c->data_len = (uint16_t)len;
		c->pkt_len = len;
		c->port = m->port;
		c->vlan_tci = m->vlan_tci;
		c->ol_flags = (m->ol_flags & ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL)) |
			      hv_mirror_copy_flag;
		return c;
	}
	c = rte_pktmbuf_copy(m, s->pool, 0, len);
	if (c != NULL)
		c->ol_flags |= hv_mirror_copy_flag;
	return c;
}

static void
tap_session(const struct hv_mirror_dp *dp, struct hv_mirror_wctx *wc, unsigned i,
	    struct rte_mbuf *m, const struct hv_mirror_pkt *info, uint64_t *now_ns)
{
	struct hv_mirror_session *s = dp->s[i];
	struct hv_mirror_counters *c = &s->cnt[wc->worker].c;
	struct mirror_rec rec;
	struct rte_mbuf *cp;

	if (s->conf.verdict != HV_MIRROR_V_ANY && s->conf.verdict != info->verdict)
		return;
	if (unlikely(__atomic_load_n(&s->done, __ATOMIC_RELAXED)))
		return;
	if (!filter_pass(s, m)) {
		MIR_CNT_ADD(c->filtered, 1);
		return;
	}
	MIR_CNT_ADD(c->selected, 1);
	if (s->conf.sample > 1) {
		uint64_t n = s->cnt[wc->worker].sample_ctr++;

		if (n % s->conf.sample != 0) {
			MIR_CNT_ADD(c->sampled_out, 1);
			return;
		}
	}
	for (unsigned d = 0; d < s->conf.n_dests; d++) {
		const struct hv_mirror_dest_conf *dc = &s->conf.dests[d];
		uint16_t slot;

		if (dc->kind != HV_MIRROR_TO_PORT && !HV_MIRROR_IS_REMOTE(dc->kind))
			continue;
		slot = dp->dest_port[i][d];
		if (slot == HV_MIRROR_NONE) {
			MIR_CNT_ADD(c->dest_down, 1);
			continue;
		}
		cp = copy_make(s, m);
		if (cp == NULL) {
			MIR_CNT_ADD(c->copy_failed, 1);
			continue;
		}
		if (HV_MIRROR_IS_REMOTE(dc->kind)) {
			uint32_t hash = rte_hash_crc(rte_pktmbuf_mtod(cp, void *), 14, 0);

			if (remote_encap(cp, dc, dp->port_mac[slot], hash,
					 (uint32_t)s->cnt[wc->worker].gre_seq++) != 0) {
				rte_pktmbuf_free(cp);
				MIR_CNT_ADD(c->copy_failed, 1);
				continue;
			}
		} else if (dc->vlan_tag) {
			cp->vlan_tci = (uint16_t)((info->seg + 1) & 0xfff);
			if (rte_vlan_insert(&cp) != 0) {
				rte_pktmbuf_free(cp);
				MIR_CNT_ADD(c->copy_failed, 1);
				continue;
			}
		}
		MIR_CNT_ADD(c->copied, 1);
		MIR_CNT_ADD(c->port_sent, 1);
		wc->tx(wc->arg, slot, cp);
	}
	if (s->n_files == 0)
		return;
	/* a full queue takes no copy: count it before paying for one (the worker
	 * is the ring's only producer, so it cannot fill in between) */
	if (unlikely(rte_ring_full(s->ring[wc->worker]))) {
		MIR_CNT_ADD(c->queue_full, 1);
		return;
	}
	cp = copy_make(s, m);
	if (cp == NULL) {
		MIR_CNT_ADD(c->copy_failed, 1);
		return;
	}
	MIR_CNT_ADD(c->copied, 1);
	if (*now_ns == 0) { /* once per poll round of the worker (hv_mirror_wctx) */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		*now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	rec.m = cp;
	rec.time_ns = *now_ns;
	rec.pkt_len = rte_pktmbuf_pkt_len(m);
	rec.dir = (dp->in[info->in_port] & (1u << i)) ? HV_PCAPNG_DIR_IN : HV_PCAPNG_DIR_OUT;
	rec.verdict = info->verdict;
	rec.pad = 0;
	name_copy(rec.in_port, info->in_name);
	name_copy(rec.out_port, info->out_name);
	name_copy(rec.segment, dp->seg_name[info->seg < HV_MIRROR_SEGMENTS ? info->seg : 0]);
	if (info->rule != NULL) {
		size_t n = strnlen(info->rule, sizeof(rec.rule) - 1);

		memcpy(rec.rule, info->rule, n);
		rec.rule[n] = '\0';
	} else {
		rec.rule[0] = '\0';
	}
	if (rte_ring_sp_enqueue_elem(s->ring[wc->worker], &rec, REC_ESIZE) != 0) {
		rte_pktmbuf_free(cp);
		MIR_CNT_ADD(c->queue_full, 1);
	}
}

void
hv_mirror_tap(const struct hv_mirror_dp *dp, struct hv_mirror_wctx *wc, uint32_t mask,
	      struct rte_mbuf *m, const struct hv_mirror_pkt *info)
{
	if (m->ol_flags & hv_mirror_copy_flag)
		return; /* a copy is never mirrored again */
	while (mask != 0) {
		unsigned i = (unsigned)__builtin_ctz(mask);

		mask &= mask - 1;
		if (likely(dp->s[i] != NULL))
			tap_session(dp, wc, i, m, info, &wc->now_ns);
	}
}

/* ---- the writer ---- */

static const char *const verdict_names[] = {"-", "allowed", "blocked"};

/*
 * One record into one file. Bound: IDB (~60) + EPB header 28 + data + pad 3 +
 * comment (4 + at most COMMENT_MAX) + epb_flags 8 + end 4 + trailer 4.
 */
static void
rec_format(struct mirror_file *f, const struct mirror_rec *r, const uint8_t *data, uint32_t caplen)
{
	struct hv_wbuf *b = &f->buf;
	uint64_t ovf = 0;

	if (!f->pcapng) {
		hv_pcap_record(b, r->time_ns, data, caplen, r->pkt_len);
		return;
	}
	/* one interface per hvnet port: the one the frame was seen on by this session */
	const char *port =
		r->dir == HV_PCAPNG_DIR_IN || r->out_port[0] == '\0' ? r->in_port : r->out_port;
	uint32_t ifid = hv_pcapng_iface(&f->ifaces, b, port, &ovf);
	size_t start = hv_pcapng_epb_begin(b, ifid, r->time_ns, data, caplen, r->pkt_len);
	size_t copt = hv_pcapng_comment_begin(b);
	uint32_t flags = r->dir;

	/* the fields are NUL-terminated within the record (tap_session) */
	hv_wbuf_puts(b, "segment=");
	hv_wbuf_puts(b, r->segment);
	hv_wbuf_puts(b, " port=");
	hv_wbuf_puts(b, r->in_port);
	if (r->out_port[0] != '\0') {
		hv_wbuf_puts(b, " out=");
		hv_wbuf_puts(b, r->out_port);
	}
	hv_wbuf_puts(b, r->dir == HV_PCAPNG_DIR_IN ? " direction=ingress verdict="
						   : " direction=egress verdict=");
	hv_wbuf_puts(b, r->verdict < 3 ? verdict_names[r->verdict] : "?");
	hv_wbuf_puts(b, " rule=");
	hv_wbuf_puts(b, r->rule[0] ? r->rule : "-");
	hv_pcapng_comment_end(b, copt);
	hv_pcapng_opt(b, HV_PCAPNG_EPB_FLAGS, &flags, 4);
	hv_pcapng_epb_end(b, start);
}

/* The name of file number SEQ of a rotated destination: "dir/app.pcapng" -> "dir/app-00003.pcapng". */
static void
file_name(const struct hv_mirror_dest_conf *dc, uint64_t seq, char *out, size_t len)
{
	const char *slash = strrchr(dc->path, '/');
	const char *dot = strrchr(slash ? slash + 1 : dc->path, '.');

	if (dc->rotate_size == 0 && dc->rotate_secs == 0) {
		snprintf(out, len, "%s", dc->path);
		return;
	}
	if (dot == NULL || dot == (slash ? slash + 1 : dc->path))
		snprintf(out, len, "%s-%05llu", dc->path, (unsigned long long)seq);
	else
		snprintf(out, len, "%.*s-%05llu%s", (int)(dot - dc->path), dc->path,
			 (unsigned long long)seq, dot);
}

static uint64_t
now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* mkdir -p of the directory of PATH (a capture directory named in a policy file). */
static void
make_parent_dirs(const char *path)
{
	char dir[HV_MIRROR_PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(dir, 0750); /* an error shows when the file is opened */
		*p = '/';
	}
}

/* Open file SEQ of DC and write its section header. 0 or -errno (message in ERR). */
static int
file_open(struct mirror_file *f, const struct hv_mirror_dest_conf *dc, uint64_t seq, char *err,
	  size_t errlen)
{
	char name[sizeof(f->current)];
	int fd, rc;

	file_name(dc, seq, name, sizeof(name));
	make_parent_dirs(name);
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		rc = -errno;
		snprintf(
			err, errlen,
			"cannot open capture file '%s': %s (check that the directory exists and is writable)",
			name, strerror(-rc));
		return rc;
	}
	f->buf.len = 0;
	hv_pcapng_shb(&f->buf, "hvnet mirror");
	rc = hv_wbuf_write(fd, &f->buf);
	f->buf.len = 0;
	if (rc != 0) {
		snprintf(err, errlen, "cannot write capture file '%s': %s", name, strerror(-rc));
		close(fd);
		return rc;
	}
	if (dc->keep != 0 && seq >= dc->keep) {
		char old[sizeof(f->current)];

		file_name(dc, seq - dc->keep, old, sizeof(old));
		unlink(old);
	}
	f->fd = fd;
	f->seq = seq;
	f->file_bytes = 0;
	f->file_start_ns = now_realtime_ns();
	hv_pcapng_ifaces_reset(&f->ifaces);
	memcpy(f->current, name, sizeof(f->current));
	MIR_CNT_ADD(f->files, 1);
	return 0;
}

/*
 * A capture's descriptor is often a pipe into a reader that may stall
 * (tcpdump stopped with ^Z): write it in pieces of PIPE_BUF, each once poll()
 * says it fits, so that the writer never blocks for good and a session
 * being freed (s->stop) is never held up by its reader. 0 or -errno.
 */
static int
fd_write(struct hv_mirror_session *s, int fd, const struct hv_wbuf *b)
{
	size_t off = 0;

	while (off < b->len) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		size_t n = b->len - off < PIPE_BUF ? b->len - off : PIPE_BUF;
		ssize_t w;
		int rc = poll(&p, 1, 50);

		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0) {
			if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
				return -ETIMEDOUT;
			continue;
		}
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EPIPE;
		w = write(fd, b->data + off, n);
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (w > 0)
			off += (size_t)w;
	}
	return 0;
}

static void
file_flush(struct hv_mirror_session *s, struct mirror_file *f)
{
	int rc;

	if (f->buf.len == 0 || f->fd < 0)
		return;
	rc = f->pcapng ? hv_wbuf_write(f->fd, &f->buf) : fd_write(s, f->fd, &f->buf);
	if (rc == 0) {
		MIR_CNT_ADD(f->written, f->buf.nrec);
		MIR_CNT_ADD(s->total_written, f->buf.nrec);
		f->file_bytes += f->buf.len;
	} else {
		MIR_CNT_ADD(f->write_errors, 1);
		if (!f->pcapng) { /* a capture's reader went away: the capture is over */
			f->err = -rc;
			close(f->fd);
			f->fd = -1;
			s->done_err = -rc;
			__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
		}
	}
	f->buf.len = 0;
	f->buf.nrec = 0;
}

/* Start the next file when this one is full or old enough. */
static void
file_maybe_rotate(struct hv_mirror_session *s, struct mirror_file *f,
		  const struct hv_mirror_dest_conf *dc, uint64_t add)
{
	char err[256];
	bool by_size = dc->rotate_size != 0 && f->file_bytes + f->buf.len + add > dc->rotate_size &&
		       f->file_bytes + f->buf.len > 0;
	bool by_time = dc->rotate_secs != 0 &&
		       now_realtime_ns() - f->file_start_ns >= dc->rotate_secs * 1000000000ull;

	if (!f->pcapng || (!by_size && !by_time))
		return;
	file_flush(s, f);
	close(f->fd);
	f->fd = -1;
	if (file_open(f, dc, f->seq + 1, err, sizeof(err)) != 0)
		MIR_CNT_ADD(f->write_errors, 1); /* the next rotation check tries again */
}

static unsigned
writer_round(struct hv_mirror_session *s)
{
	struct mirror_rec recs[WRITER_BURST];
	unsigned total = 0;

	for (unsigned w = 0; w < s->n_workers; w++) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(s->ring[w], recs, REC_ESIZE,
							    WRITER_BURST, NULL);

		for (unsigned k = 0; k < n; k++) {
			struct rte_mbuf *m = recs[k].m;
			uint32_t caplen = rte_pktmbuf_pkt_len(m);
			const uint8_t *data;

			/* a chained copy (snaplen above one mbuf) is written piece by piece below */
			data = m->nb_segs == 1 ? rte_pktmbuf_mtod(m, const uint8_t *) : NULL;
			for (unsigned d = 0; d < s->conf.n_dests; d++) {
				struct mirror_file *f = s->file[d];

				if (f == NULL || f->fd < 0)
					continue;
				if (s->conf.count != 0 &&
				    MIR_CNT_READ(s->total_written) + f->buf.nrec >= s->conf.count)
					continue;
				file_maybe_rotate(s, f, &s->conf.dests[d], caplen + BLOCK_OVERHEAD);
				if (f->fd < 0)
					continue;
				if (f->buf.cap - f->buf.len < caplen + BLOCK_OVERHEAD)
					file_flush(s, f);
				if (f->buf.cap - f->buf.len < caplen + BLOCK_OVERHEAD)
					continue; /* larger than the buffer: cannot happen (snaplen <= 65535) */
				if (data != NULL) {
					rec_format(f, &recs[k], data, caplen);
				} else {
					/* linearize into the buffer through rte_pktmbuf_read */
					uint8_t *big = malloc(caplen);

					if (big == NULL) {
						MIR_CNT_ADD(f->write_errors, 1);
						continue;
					}
					rec_format(f, &recs[k], rte_pktmbuf_read(m, 0, caplen, big),
						   caplen);
					free(big);
				}
				f->buf.nrec++;
			}
			rte_pktmbuf_free(m);
		}
		total += n;
	}
	for (unsigned d = 0; d < s->conf.n_dests; d++)
		if (s->file[d] != NULL)
			file_flush(s, s->file[d]);
	if (s->conf.count != 0 && MIR_CNT_READ(s->total_written) >= s->conf.count)
		__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return total;
}

static void *
writer_main(void *arg)
{
	struct hv_mirror_session *s = arg;
	unsigned idle = 0;

	/* per thread on Linux; failure (a seccomp profile, say) leaves it at 0 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (writer_round(s) > 0) {
			idle = 0;
			continue;
		}
		/* idle: a short sleep, growing to WRITER_IDLE_US; time rotation checked here too */
		for (unsigned d = 0; d < s->conf.n_dests; d++)
			if (s->file[d] != NULL && s->file[d]->fd >= 0)
				file_maybe_rotate(s, s->file[d], &s->conf.dests[d], 0);
		idle = idle < WRITER_IDLE_US ? idle * 2 + 50 : WRITER_IDLE_US;
		usleep(idle);
	}
	while (writer_round(s) > 0) /* producers are gone: this ends */
		;
	return NULL;
}

/* ---- control path ---- */

static int
filter_compile(struct hv_mirror_session *s, char *err, size_t errlen)
{
	pcap_t *p;
	struct rte_bpf_prm *prm;

	if (s->conf.filter[0] == '\0')
		return 0;
	p = pcap_open_dead(DLT_EN10MB, 65535);
	if (p == NULL) {
		snprintf(err, errlen, "mirror '%s': cannot set up libpcap", s->conf.name);
		return -ENOMEM;
	}
	if (pcap_compile(p, &s->cbpf, s->conf.filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "mirror '%s': bad filter \"%s\": %s", s->conf.name,
			 s->conf.filter, pcap_geterr(p));
		pcap_close(p);
		return -EINVAL;
	}
	pcap_close(p);
	s->cbpf_ok = true;
	prm = rte_bpf_convert(&s->cbpf);
	if (prm != NULL) {
		struct rte_bpf_jit jit = {0};

		/*
		 * DPDK's converter turns a cBPF indirect load (ld [x + k]) into
		 * an eBPF BPF_IND load whose index register is src_reg 0, which
		 * is A (R0), not X (R7): every filter that reads behind a header
		 * of variable length ("tcp port 80", "icmp[0] = 8") read the
		 * wrong bytes. Index those loads by X, as cBPF means them.
		 */
		for (uint32_t k = 0; k < prm->nb_ins; k++) {
			struct ebpf_insn *in = (struct ebpf_insn *)(uintptr_t)&prm->ins[k];

			if (BPF_CLASS(in->code) == BPF_LD && BPF_MODE(in->code) == BPF_IND)
				in->src_reg = EBPF_REG_7;
		}
		s->bpf = rte_bpf_load(prm);
		rte_free(prm);
		if (s->bpf != NULL && rte_bpf_get_jit(s->bpf, &jit) == 0)
			s->jit = jit.func;
	}
	return 0; /* without rte_bpf, libpcap's interpreter runs the filter */
}

void
hv_mirror_session_free(struct hv_mirror_session *s)
{
	if (s == NULL)
		return;
	if (s->writer_running) {
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		pthread_join(s->writer, NULL);
	}
	for (unsigned w = 0; w < HV_MAX_WORKERS; w++) {
		struct mirror_rec r;

		if (s->ring[w] == NULL)
			continue;
		while (rte_ring_sc_dequeue_elem(s->ring[w], &r, REC_ESIZE) == 0)
			rte_pktmbuf_free(r.m);
		rte_ring_free(s->ring[w]);
	}
	for (unsigned d = 0; d < HV_MIRROR_MAX_DESTS; d++) {
		struct mirror_file *f = s->file[d];

		if (f == NULL)
			continue;
		if (f->fd >= 0)
			close(f->fd);
		free(f->buf.data);
		hv_pcapng_ifaces_free(&f->ifaces);
		free(f);
	}
	for (unsigned d = 0; d < s->conf.n_dests; d++)
		if (s->conf.dests[d].kind == HV_MIRROR_TO_FD && s->file[d] == NULL &&
		    s->conf.dests[d].fd >= 0)
			close(s->conf.dests[d].fd);
	if (s->bpf != NULL)
		rte_bpf_destroy(s->bpf);
	if (s->cbpf_ok)
		pcap_freecode(&s->cbpf);
	rte_mempool_free(s->pool);
	rte_free(s);
}

static int
dest_open(struct hv_mirror_session *s, unsigned d, char *err, size_t errlen)
{
	struct hv_mirror_dest_conf *dc = &s->conf.dests[d];
	struct mirror_file *f;
	int rc;

	if (dc->kind == HV_MIRROR_TO_PORT || HV_MIRROR_IS_REMOTE(dc->kind))
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	s->file[d] = f;
	f->fd = -1;
	f->buf.data = malloc(WRITER_BUF);
	f->buf.cap = WRITER_BUF;
	if (f->buf.data == NULL)
		return -ENOMEM;
	s->n_files++;
	if (dc->kind == HV_MIRROR_TO_FD) {
		f->fd = dc->fd;
		dc->fd = -1; /* the file owns it now */
		f->pcapng = false;
		snprintf(f->current, sizeof(f->current), "(descriptor)");
		hv_pcap_file_header(&f->buf, s->conf.snaplen ? s->conf.snaplen : 65535);
		rc = hv_wbuf_write(f->fd, &f->buf);
		f->buf.len = 0;
		if (rc != 0) {
			snprintf(err, errlen, "capture: cannot write to the output: %s",
				 strerror(-rc));
			return rc;
		}
		MIR_CNT_ADD(f->files, 1);
		return 0;
	}
	f->pcapng = true;
	rc = hv_pcapng_ifaces_init(&f->ifaces, MAX_IFACES, HV_MIRROR_NAME_MAX,
				   s->conf.snaplen ? s->conf.snaplen : 65535, "(other)");
	if (rc != 0)
		return rc;
	return file_open(f, dc, 0, err, errlen);
}

struct hv_mirror_session *
hv_mirror_session_create(const struct hv_mirror_conf *conf, unsigned n_workers, char *err,
			 size_t errlen)
{
	static unsigned seq; /* DPDK object names are process-wide; control thread only */
	struct hv_mirror_session *s;
	char name[RTE_MEMPOOL_NAMESIZE];
	sigset_t all, old;
	int rc;

	if (hv_mirror_conf_check(conf, err, errlen) != 0) {
		for (unsigned d = 0; d < conf->n_dests; d++)
			if (conf->dests[d].kind == HV_MIRROR_TO_FD && conf->dests[d].fd >= 0)
				close(conf->dests[d].fd);
		errno = EINVAL;
		return NULL;
	}
	s = rte_zmalloc("hv_mirror", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL) {
		for (unsigned d = 0; d < conf->n_dests; d++)
			if (conf->dests[d].kind == HV_MIRROR_TO_FD && conf->dests[d].fd >= 0)
				close(conf->dests[d].fd);
		snprintf(err, errlen, "mirror '%s': out of memory", conf->name);
		errno = ENOMEM;
		return NULL;
	}
	s->conf = *conf;
	s->n_workers = n_workers;
	seq++;
	rc = filter_compile(s, err, errlen);
	if (rc != 0)
		goto fail;
	/* its own pool: copies held by a slow writer never starve forwarding of mbufs */
	snprintf(name, sizeof(name), "hv_mir%u", seq);
	s->pool = rte_pktmbuf_pool_create(name, n_workers * HV_MIRROR_RING + POOL_EXTRA, 64, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (s->pool == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "mirror '%s': cannot create its pool of copies: %s",
			 conf->name, rte_strerror(rte_errno));
		goto fail;
	}
	for (unsigned w = 0; w < n_workers; w++) {
		char rname[RTE_RING_NAMESIZE];

		snprintf(rname, sizeof(rname), "hv_mir%u_%u", seq, w);
		s->ring[w] = rte_ring_create_elem(rname, REC_ESIZE, HV_MIRROR_RING, SOCKET_ID_ANY,
						  RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (s->ring[w] == NULL) {
			rc = -ENOMEM;
			snprintf(err, errlen, "mirror '%s': cannot create its queue: %s",
				 conf->name, rte_strerror(rte_errno));
			goto fail;
		}
	}
	for (unsigned d = 0; d < conf->n_dests; d++) {
		rc = dest_open(s, d, err, errlen);
		if (rc != 0) {
			if (rc == -ENOMEM)
				snprintf(err, errlen, "mirror '%s': out of memory", conf->name);
			goto fail;
		}
	}
	if (s->n_files > 0) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&s->writer, NULL, writer_main, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			snprintf(err, errlen, "mirror '%s': cannot start its writer: %s",
				 conf->name, strerror(rc));
			rc = -rc;
			goto fail;
		}
		s->writer_running = true;
		pthread_setname_np(s->writer, "hv-mirror");
	}
	return s;

fail:
	hv_mirror_session_free(s);
	errno = -rc;
	return NULL;
}

bool
hv_mirror_port_is_dest(const struct hv_switch *sw, const struct hv_port *p)
{
	if (p->mirror_dest)
		return true;
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++) {
		const struct hv_mirror_session *s = sw->mirrors[i];

		for (unsigned d = 0; s != NULL && d < s->conf.n_dests; d++)
			if (s->conf.dests[d].kind == HV_MIRROR_TO_PORT &&
			    strcmp(s->conf.dests[d].port, p->name) == 0)
				return true;
	}
	return false;
}

void
hv_mirror_dp_build(const struct hv_switch *sw, struct hv_mirror_dp *dp)
{
	memset(dp, 0, offsetof(struct hv_mirror_dp, seg_name));
	for (unsigned p = 0; p < HV_MAX_PORTS; p++)
		if (sw->ports[p] != NULL) {
			/*
			 * The switch's side of the port: p->mac, but for a tap that
			 * is the guest's, and the switch's is the ethdev's.
			 */
			struct rte_ether_addr a;

			if (sw->ports[p]->kind == HV_PORT_TAP &&
			    rte_eth_macaddr_get(sw->ports[p]->eth_port, &a) == 0)
				memcpy(dp->port_mac[p], a.addr_bytes, 6);
			else
				memcpy(dp->port_mac[p], sw->ports[p]->mac, 6);
		}
	for (unsigned s = 0; s < HV_MAX_SEGMENTS; s++)
		if (sw->segments[s] != NULL)
			memcpy(dp->seg_name[s], sw->segments[s]->name, HV_MIRROR_NAME_MAX);
	for (unsigned i = 0; i < HV_MIRROR_MAX_SESSIONS; i++) {
		struct hv_mirror_session *s = sw->mirrors[i];
		const struct hv_mirror_conf *c;
		uint32_t bit = 1u << i;

		for (unsigned d = 0; d < HV_MIRROR_MAX_DESTS; d++)
			dp->dest_port[i][d] = HV_MIRROR_NONE;
		if (s == NULL)
			continue;
		c = &s->conf;
		dp->s[i] = s;
		if (c->delivered)
			dp->delivered |= bit;
		else if (c->verdict == HV_MIRROR_V_ANY)
			dp->wire_any |= bit;
		else
			dp->wire_verdict |= bit;
		for (unsigned p = 0; p < HV_MAX_PORTS; p++) {
			const struct hv_port *port = sw->ports[p];
			bool sel = c->n_ports == 0 && c->n_segments == 0;

			if (port == NULL || hv_mirror_port_is_dest(sw, port))
				continue;
			for (unsigned k = 0; k < c->n_ports && !sel; k++)
				sel = strcmp(c->ports[k], port->name) == 0;
			for (unsigned k = 0; k < c->n_segments && !sel; k++)
				sel = sw->segments[port->segment] != NULL &&
				      strcmp(c->segments[k], sw->segments[port->segment]->name) ==
					      0;
			if (!sel)
				continue;
			if (c->dir != HV_MIRROR_EGRESS)
				dp->in[p] |= bit;
			if (c->dir != HV_MIRROR_INGRESS)
				dp->out[p] |= bit;
		}
		for (unsigned d = 0; d < c->n_dests; d++) {
			const struct hv_port *port;

			if (c->dests[d].kind != HV_MIRROR_TO_PORT &&
			    !HV_MIRROR_IS_REMOTE(c->dests[d].kind))
				continue;
			port = NULL;
			for (unsigned p = 0; p < HV_MAX_PORTS && port == NULL; p++)
				if (sw->ports[p] != NULL &&
				    strcmp(sw->ports[p]->name, c->dests[d].port) == 0)
					port = sw->ports[p];
			if (port != NULL)
				dp->dest_port[i][d] = port->id;
		}
	}
}
