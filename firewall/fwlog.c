/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The firewall's verdict log: per-producer SP/SC rings drained by one writer
 * thread into a JSON-lines file and, optionally, a pcapng file.
 *
 * The producer side (hv_fwlog_submit, hv_fwlog_note_ratelimited,
 * hv_fwlog_rec_snap) is fast-path code: no locks, no allocation, no
 * syscalls. Everything else runs on the control thread or the writer.
 *
 * Control thread <-> writer: the control thread never touches the file
 * descriptors while the writer runs. It posts a request (pause, resume,
 * new files, stop) under ctl.mu, raises ctl.req and waits on ctl.done; the
 * writer polls ctl.req once per drain round (one relaxed load), applies the
 * request under ctl.mu and signals ctl.done. The writer takes the mutex only
 * for requests and idle sleeps, so a busy writer cannot starve the control
 * thread and the control thread never waits behind a write(2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/pcapng.h"
#include "firewall/fwlog.h"

/* One writer per counter; anyone may read. Same convention as vswitch.h. */
#define FWLOG_CNT_ADD(c, n) __atomic_store_n(&(c), (c) + (n), __ATOMIC_RELAXED)
#define FWLOG_CNT_READ(c)   __atomic_load_n(&(c), __ATOMIC_RELAXED)

#define FWLOG_ESIZE	       RTE_ALIGN_CEIL(sizeof(struct hv_fwlog_rec), 4)
#define FWLOG_BURST	       32
#define FWLOG_BUF_SIZE	       (64 * 1024)
#define FWLOG_JSON_LINE_MAX    2048 /* bound on one formatted line, see json_format() */
#define FWLOG_PCAP_REC_MAX     1024 /* bound on one IDB + EPB, see pcap_format() */
#define FWLOG_DEFAULT_RING     1023
#define FWLOG_DEFAULT_IDLE_US  10000
#define FWLOG_IDLE_FIRST_DIV   8 /* first idle sleep: idle_us / 8, then doubling */
#define FWLOG_OTHER_IFACE_NAME "(other)"

/*
 * The dequeue copies FWLOG_ESIZE bytes per element straight into an array
 * of records, so the ring element and the array stride must agree.
 */
_Static_assert(sizeof(struct hv_fwlog_rec) % 4 == 0, "record size must be a multiple of 4");
_Static_assert(HV_FWLOG_SNAP <= UINT16_MAX, "snap_len is 16 bits");
_Static_assert(HV_FWLOG_MAX_IFACES < UINT16_MAX, "iface hash stores ids in 16 bits");

struct fwlog_producer {
	struct rte_ring *ring;
	uint64_t submitted; /* written by the producer only */
	uint64_t dropped_full;
	uint64_t rate_limited;
} __rte_cache_aligned;

struct hv_fwlog {
	struct fwlog_producer *prod;
	unsigned n_prod;
	unsigned idle_us;
	char *json_path;
	char *pcap_path;

	/* Writer-owned while the thread runs. */
	int json_fd;
	int pcap_fd; /* -1: no pcapng */
	struct hv_wbuf jbuf;
	struct hv_wbuf pbuf;
	struct hv_fwlog_rec *burst; /* FWLOG_BURST records */
	struct hv_pcapng_ifaces ifaces;

	/* Written by the writer only. */
	uint64_t written;
	uint64_t pcap_written;
	uint64_t write_errors;
	uint64_t pcap_iface_overflow;
	uint64_t reopens;

	pthread_t thread;
	struct {
		pthread_mutex_t mu;
		pthread_cond_t wake; /* writer waits: idle or paused */
		pthread_cond_t done; /* control thread waits for an answer */
		int req;	     /* raised by the control thread, read by the writer */
		bool stop;
		bool pause;
		bool paused;
		bool reopen_pending;
		int new_json_fd;
		int new_pcap_fd;
	} ctl;
};

static const char *const verdict_names[] = {
#define HV_FWLOG_VERDICT_NAME_(sym, name) [HV_FWLOG_##sym] = name,
	HV_FWLOG_VERDICTS(HV_FWLOG_VERDICT_NAME_)
#undef HV_FWLOG_VERDICT_NAME_
};

const char *
hv_fwlog_verdict_name(unsigned verdict)
{
	if (verdict >= HV_FWLOG_VERDICT_MAX)
		return "unknown";
	return verdict_names[verdict];
}

/* ---- producer side (fast path) ---- */

bool
hv_fwlog_submit(struct hv_fwlog *l, unsigned producer, const struct hv_fwlog_rec *r)
{
	struct fwlog_producer *p;

	if (unlikely(producer >= l->n_prod))
		return false;
	p = &l->prod[producer];
	/* The elem API takes a non-const pointer but only reads from it. */
	if (unlikely(rte_ring_sp_enqueue_elem(p->ring, (void *)(uintptr_t)r, FWLOG_ESIZE) != 0)) {
		FWLOG_CNT_ADD(p->dropped_full, 1);
		return false;
	}
	FWLOG_CNT_ADD(p->submitted, 1);
	return true;
}

void
hv_fwlog_note_ratelimited(struct hv_fwlog *l, unsigned producer)
{
	if (likely(producer < l->n_prod))
		FWLOG_CNT_ADD(l->prod[producer].rate_limited, 1);
}

void
hv_fwlog_rec_snap(struct hv_fwlog_rec *r, const struct rte_mbuf *m)
{
	uint32_t n = rte_pktmbuf_pkt_len(m);
	const void *p;

	r->pkt_len = n;
	if (n > HV_FWLOG_SNAP)
		n = HV_FWLOG_SNAP;
	p = rte_pktmbuf_read(m, 0, n, r->snap);
	if (p == NULL) { /* chain shorter than pkt_len says: keep nothing */
		r->snap_len = 0;
		return;
	}
	if (p != r->snap)
		memcpy(r->snap, p, n);
	r->snap_len = (uint16_t)n;
}

void
hv_fwlog_stats(const struct hv_fwlog *l, struct hv_fwlog_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < l->n_prod; i++) {
		s->submitted += FWLOG_CNT_READ(l->prod[i].submitted);
		s->dropped_full += FWLOG_CNT_READ(l->prod[i].dropped_full);
		s->rate_limited += FWLOG_CNT_READ(l->prod[i].rate_limited);
	}
	s->written = FWLOG_CNT_READ(l->written);
	s->pcap_written = FWLOG_CNT_READ(l->pcap_written);
	s->write_errors = FWLOG_CNT_READ(l->write_errors);
	s->pcap_iface_overflow = FWLOG_CNT_READ(l->pcap_iface_overflow);
	s->reopens = FWLOG_CNT_READ(l->reopens);
}

static size_t
utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
	} else {
		return 0;
	}
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * A name from a record as a JSON string. Names come from the policy and the
 * port configuration, not from guests, but the file must stay valid JSON
 * whatever they hold: quotes and control characters are escaped and bytes
 * that are not UTF-8 become U+FFFD. At most 6 output bytes per input byte.
 */
static void
json_str(struct hv_wbuf *b, const char *s, size_t max)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t n = strnlen(s, max);
	char esc[8];

	hv_wbuf_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(u + i, n - i);

		if (k == 0) {
			hv_wbuf_puts(b, "\\ufffd");
			i++;
			continue;
		}
		if (k == 1 && (u[i] == '"' || u[i] == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			hv_wbuf_put(b, esc, 2);
		} else if (k == 1 && u[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
			hv_wbuf_put(b, esc, 6);
		} else {
			hv_wbuf_put(b, u + i, k);
		}
		i += k;
	}
	hv_wbuf_put(b, "\"", 1);
}

/* A name for the pcapng comment: valid UTF-8 kept, anything else '?'. */
static void
comment_str(struct hv_wbuf *b, const char *s, size_t max)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t n = strnlen(s, max);

	if (n == 0) {
		hv_wbuf_put(b, "-", 1);
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(u + i, n - i);

		if (k == 0 || (k == 1 && (u[i] < 0x21 || u[i] == 0x7f))) {
			hv_wbuf_put(b, "?", 1);
			i++;
			continue;
		}
		hv_wbuf_put(b, u + i, k);
		i += k;
	}
}

static const char *
proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		return NULL;
	}
}

/* ---- JSON ---- */

/*
 * One record as one line. Size bound: four names of at most 64+24+32+32
 * bytes, 6 bytes each escaped (912), two addresses (2 * 46), the time (27)
 * and the fixed keys and numbers (< 300): well under FWLOG_JSON_LINE_MAX.
 */
static void
json_format(struct hv_wbuf *b, const struct hv_fwlog_rec *r)
{
	time_t sec = (time_t)(r->time_ns / 1000000000u);
	unsigned usec = (unsigned)(r->time_ns % 1000000000u / 1000u);
	const char *pn = proto_name(r->proto);
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	struct tm tm;

	if (gmtime_r(&sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	hv_wbuf_printf(
		b, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06uZ\",\"rule\":", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	json_str(b, r->rule, sizeof(r->rule));
	hv_wbuf_printf(b, ",\"verdict\":\"%s\",\"reason\":", hv_fwlog_verdict_name(r->verdict));
	json_str(b, r->reason, sizeof(r->reason));
	hv_wbuf_puts(b, ",\"segment\":");
	json_str(b, r->segment, sizeof(r->segment));
	hv_wbuf_puts(b, ",\"port\":");
	json_str(b, r->port, sizeof(r->port));
	if (r->family == 4 || r->family == 6) {
		int af = r->family == 4 ? AF_INET : AF_INET6;

		if (inet_ntop(af, r->src_ip, src, sizeof(src)) == NULL)
			strcpy(src, "?");
		if (inet_ntop(af, r->dst_ip, dst, sizeof(dst)) == NULL)
			strcpy(dst, "?");
		hv_wbuf_printf(b, ",\"family\":%u", r->family);
		if (pn != NULL)
			hv_wbuf_printf(b, ",\"proto\":\"%s\"", pn);
		else
			hv_wbuf_printf(b, ",\"proto\":%u", r->proto);
		hv_wbuf_printf(b, ",\"src\":\"%s\",\"dst\":\"%s\"", src, dst);
		if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP)
			hv_wbuf_printf(b, ",\"sport\":%u,\"dport\":%u", r->sport, r->dport);
		else if (r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6)
			hv_wbuf_printf(b, ",\"icmp_type\":%u,\"icmp_code\":%u", r->icmp_type,
				       r->icmp_code);
	}
	hv_wbuf_printf(b, ",\"len\":%u}\n", r->pkt_len);
}

/* ---- pcapng ---- */

/*
 * An IDB (first sight of the port) plus one EPB. Size bound: IDB 52 bytes,
 * EPB 28 + 256 snap + 4 option header + comment (~40 fixed + 64 + 24 + 32 +
 * 32 names) + 4 end + 4 trailer: under FWLOG_PCAP_REC_MAX.
 */
static void
pcap_format(struct hv_fwlog *l, const struct hv_fwlog_rec *r)
{
	struct hv_wbuf *b = &l->pbuf;
	uint32_t caplen = r->snap_len > HV_FWLOG_SNAP ? HV_FWLOG_SNAP : r->snap_len;
	uint32_t origlen = r->pkt_len > caplen ? r->pkt_len : caplen;
	uint32_t ifid;
	size_t start, copt;

	ifid = hv_pcapng_iface(&l->ifaces, b, r->port,
			       &l->pcap_iface_overflow); /* may write an IDB first */
	start = hv_pcapng_epb_begin(b, ifid, r->time_ns, r->snap, caplen, origlen);
	copt = hv_pcapng_comment_begin(b);
	hv_wbuf_puts(b, "rule=");
	comment_str(b, r->rule, sizeof(r->rule));
	hv_wbuf_printf(b, " verdict=%s reason=", hv_fwlog_verdict_name(r->verdict));
	comment_str(b, r->reason, sizeof(r->reason));
	hv_wbuf_puts(b, " segment=");
	comment_str(b, r->segment, sizeof(r->segment));
	hv_wbuf_puts(b, " port=");
	comment_str(b, r->port, sizeof(r->port));
	hv_pcapng_comment_end(b, copt);
	hv_pcapng_epb_end(b, start);
}

/* ---- writer ---- */

static void
writer_flush(struct hv_fwlog *l, struct hv_wbuf *b, int fd, uint64_t *ok_counter)
{
	if (b->len > 0) {
		if (hv_wbuf_write(fd, b) == 0)
			FWLOG_CNT_ADD(*ok_counter, b->nrec);
		else
			FWLOG_CNT_ADD(l->write_errors, 1);
	}
	b->len = 0;
	b->nrec = 0;
}

static void
writer_flush_all(struct hv_fwlog *l)
{
	writer_flush(l, &l->jbuf, l->json_fd, &l->written);
	if (l->pcap_fd >= 0)
		writer_flush(l, &l->pbuf, l->pcap_fd, &l->pcap_written);
}

/* One burst from every ring, written out. Returns the number of records. */
static unsigned
writer_drain_round(struct hv_fwlog *l)
{
	unsigned total = 0;

	for (unsigned p = 0; p < l->n_prod; p++) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(l->prod[p].ring, l->burst, FWLOG_ESIZE,
							    FWLOG_BURST, NULL);

		for (unsigned i = 0; i < n; i++) {
			if (FWLOG_BUF_SIZE - l->jbuf.len < FWLOG_JSON_LINE_MAX)
				writer_flush(l, &l->jbuf, l->json_fd, &l->written);
			json_format(&l->jbuf, &l->burst[i]);
			l->jbuf.nrec++;
			if (l->pcap_fd < 0 || l->burst[i].no_pcap)
				continue;
			if (FWLOG_BUF_SIZE - l->pbuf.len < FWLOG_PCAP_REC_MAX)
				writer_flush(l, &l->pbuf, l->pcap_fd, &l->pcap_written);
			pcap_format(l, &l->burst[i]);
			l->pbuf.nrec++;
		}
		total += n;
	}
	writer_flush_all(l);
	return total;
}

/* Apply the control thread's requests. Returns true when asked to stop. */
static bool
writer_requests(struct hv_fwlog *l)
{
	bool stop;

	pthread_mutex_lock(&l->ctl.mu);
	for (;;) {
		__atomic_store_n(&l->ctl.req, 0, __ATOMIC_RELAXED);
		if (l->ctl.reopen_pending) {
			close(l->json_fd);
			l->json_fd = l->ctl.new_json_fd;
			if (l->pcap_fd >= 0) {
				close(l->pcap_fd);
				l->pcap_fd = l->ctl.new_pcap_fd;
				hv_pcapng_ifaces_reset(
					&l->ifaces); /* the new file starts a new section */
			}
			l->ctl.reopen_pending = false;
			FWLOG_CNT_ADD(l->reopens, 1);
		}
		stop = l->ctl.stop;
		l->ctl.paused = l->ctl.pause && !stop;
		pthread_cond_broadcast(&l->ctl.done);
		if (!l->ctl.paused)
			break;
		pthread_cond_wait(&l->ctl.wake, &l->ctl.mu);
	}
	pthread_mutex_unlock(&l->ctl.mu);
	return stop;
}

/*
 * Sleep after an empty round. The first sleep after work is short (records
 * tend to come in runs); each further empty round doubles it up to idle_us,
 * so an idle log costs ~100 wakeups a second, not a spinning core. A
 * control request wakes the writer at once.
 */
static void
writer_idle(struct hv_fwlog *l, unsigned *sleep_us)
{
	struct timespec ts;

	pthread_mutex_lock(&l->ctl.mu);
	if (!__atomic_load_n(&l->ctl.req, __ATOMIC_RELAXED)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)*sleep_us * 1000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&l->ctl.wake, &l->ctl.mu, &ts);
	}
	pthread_mutex_unlock(&l->ctl.mu);
	*sleep_us = *sleep_us >= l->idle_us / 2 ? l->idle_us : *sleep_us * 2;
}

static void *
writer_main(void *arg)
{
	struct hv_fwlog *l = arg;
	unsigned first = l->idle_us / FWLOG_IDLE_FIRST_DIV ? l->idle_us / FWLOG_IDLE_FIRST_DIV : 1;
	unsigned sleep_us = first;

	for (;;) {
		if (__atomic_load_n(&l->ctl.req, __ATOMIC_RELAXED) && writer_requests(l))
			break;
		if (writer_drain_round(l) > 0)
			sleep_us = first;
		else
			writer_idle(l, &sleep_us);
	}
	/* Stopping: producers are done, so this ends. */
	while (writer_drain_round(l) > 0)
		;
	return NULL;
}

/* Post a request; with mu held. */
static void
ctl_post(struct hv_fwlog *l)
{
	__atomic_store_n(&l->ctl.req, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&l->ctl.wake);
}

void
hv_fwlog_pause(struct hv_fwlog *l, bool pause)
{
	pthread_mutex_lock(&l->ctl.mu);
	l->ctl.pause = pause;
	ctl_post(l);
	while (l->ctl.paused != pause)
		pthread_cond_wait(&l->ctl.done, &l->ctl.mu);
	pthread_mutex_unlock(&l->ctl.mu);
}

/* ---- open, reopen, close ---- */

static int
open_file(const char *path, const char *what, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0) {
		int e = errno;

		snprintf(
			err, errlen,
			"fwlog: cannot open %s '%s': %s (check that the directory exists and is writable)",
			what, path, strerror(e));
		return -e;
	}
	return fd;
}

/* Open both files and, for pcapng, write the section header. */
static int
open_files(const struct hv_fwlog *l, int *json_fd, int *pcap_fd, char *err, size_t errlen)
{
	uint8_t shb[64];
	struct hv_wbuf b = {.data = shb, .cap = sizeof(shb)};
	int rc;

	*json_fd = open_file(l->json_path, "JSON log", err, errlen);
	if (*json_fd < 0)
		return *json_fd;
	*pcap_fd = -1;
	if (l->pcap_path == NULL)
		return 0;
	*pcap_fd = open_file(l->pcap_path, "pcapng log", err, errlen);
	if (*pcap_fd < 0) {
		rc = *pcap_fd;
		goto close_json;
	}
	hv_pcapng_shb(&b, "hvnet fwlog");
	rc = hv_wbuf_write(*pcap_fd, &b);
	if (rc < 0) {
		snprintf(err, errlen, "fwlog: cannot write to pcapng log '%s': %s", l->pcap_path,
			 strerror(-rc));
		goto close_pcap;
	}
	return 0;

close_pcap:
	close(*pcap_fd);
	*pcap_fd = -1;
close_json:
	close(*json_fd);
	*json_fd = -1;
	return rc;
}

static void
fwlog_free(struct hv_fwlog *l)
{
	if (l->prod != NULL)
		for (unsigned i = 0; i < l->n_prod; i++)
			rte_ring_free(l->prod[i].ring);
	free(l->prod);
	free(l->json_path);
	free(l->pcap_path);
	free(l->jbuf.data);
	free(l->pbuf.data);
	free(l->burst);
	hv_pcapng_ifaces_free(&l->ifaces);
	free(l);
}

struct hv_fwlog *
hv_fwlog_open(const struct hv_fwlog_conf *conf, char *err, size_t errlen)
{
	static unsigned seq; /* ring names are process-wide */
	unsigned ring_size;
	struct hv_fwlog *l;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (conf == NULL || conf->json_path == NULL || conf->n_producers == 0) {
		snprintf(err, errlen,
			 "fwlog: a JSON log path and at least one producer are needed");
		errno = EINVAL;
		return NULL;
	}
	if (conf->n_producers > RTE_MAX_LCORE) {
		snprintf(err, errlen,
			 "fwlog: %u producers is above the limit of %u (RTE_MAX_LCORE)",
			 conf->n_producers, RTE_MAX_LCORE);
		errno = EINVAL;
		return NULL;
	}
	ring_size = conf->ring_size ? conf->ring_size : FWLOG_DEFAULT_RING;
	if (ring_size > HV_FWLOG_RING_MAX) {
		snprintf(err, errlen, "fwlog: ring size %u is above the limit of %u records",
			 ring_size, HV_FWLOG_RING_MAX);
		errno = EINVAL;
		return NULL;
	}

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		goto nomem;
	l->json_fd = -1;
	l->pcap_fd = -1;
	l->n_prod = conf->n_producers;
	l->idle_us = conf->idle_sleep_us ? conf->idle_sleep_us : FWLOG_DEFAULT_IDLE_US;
	l->prod = aligned_alloc(RTE_CACHE_LINE_SIZE, l->n_prod * sizeof(l->prod[0]));
	if (l->prod != NULL) /* before any goto: fwlog_free() walks the rings */
		memset(l->prod, 0, l->n_prod * sizeof(l->prod[0]));
	l->json_path = strdup(conf->json_path);
	l->pcap_path = conf->pcapng_path ? strdup(conf->pcapng_path) : NULL;
	l->jbuf.data = malloc(FWLOG_BUF_SIZE);
	l->jbuf.cap = FWLOG_BUF_SIZE;
	l->pbuf.data = malloc(FWLOG_BUF_SIZE);
	l->pbuf.cap = FWLOG_BUF_SIZE;
	l->burst = calloc(FWLOG_BURST, sizeof(l->burst[0]));
	rc = hv_pcapng_ifaces_init(&l->ifaces, HV_FWLOG_MAX_IFACES, HV_FWLOG_NAME_MAX,
				   HV_FWLOG_SNAP, FWLOG_OTHER_IFACE_NAME);
	if (l->prod == NULL || l->json_path == NULL ||
	    (conf->pcapng_path != NULL && l->pcap_path == NULL) || l->jbuf.data == NULL ||
	    l->pbuf.data == NULL || l->burst == NULL || rc != 0)
		goto free_log;

	for (unsigned i = 0; i < l->n_prod; i++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "fwlog%u_%u",
			 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), i);
		/* EXACT_SZ: the ring holds ring_size records, not ring_size - 1. */
		l->prod[i].ring =
			rte_ring_create_elem(name, FWLOG_ESIZE, ring_size, SOCKET_ID_ANY,
					     RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (l->prod[i].ring == NULL) {
			rc = rte_errno;
			snprintf(err, errlen,
				 "fwlog: cannot create the ring of %u records for producer %u: %s",
				 ring_size, i, rte_strerror(rc));
			errno = rc;
			goto free_log_errno;
		}
	}

	rc = open_files(l, &l->json_fd, &l->pcap_fd, err, errlen);
	if (rc < 0) {
		errno = -rc;
		goto free_log_errno;
	}

	pthread_mutex_init(&l->ctl.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->ctl.wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&l->ctl.done, NULL);
	l->ctl.new_json_fd = -1;
	l->ctl.new_pcap_fd = -1;

	/* The writer takes no signals: they belong to the daemon's main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thread, NULL, writer_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "fwlog: cannot start the writer thread: %s", strerror(rc));
		errno = rc;
		goto destroy_sync;
	}
	pthread_setname_np(l->thread, "hv-fwlog");
	return l;

destroy_sync:
	pthread_cond_destroy(&l->ctl.done);
	pthread_cond_destroy(&l->ctl.wake);
	pthread_mutex_destroy(&l->ctl.mu);
	close(l->json_fd);
	if (l->pcap_fd >= 0)
		close(l->pcap_fd);
free_log_errno:
	rc = errno;
	fwlog_free(l);
	errno = rc;
	return NULL;
free_log:
	fwlog_free(l);
nomem:
	snprintf(err, errlen, "fwlog: out of memory");
	errno = ENOMEM;
	return NULL;
}

int
hv_fwlog_reopen(struct hv_fwlog *l, char *err, size_t errlen)
{
	int json_fd, pcap_fd, rc;

	rc = open_files(l, &json_fd, &pcap_fd, err, errlen);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&l->ctl.mu);
	l->ctl.new_json_fd = json_fd;
	l->ctl.new_pcap_fd = pcap_fd;
	l->ctl.reopen_pending = true;
	ctl_post(l);
	while (l->ctl.reopen_pending)
		pthread_cond_wait(&l->ctl.done, &l->ctl.mu);
	pthread_mutex_unlock(&l->ctl.mu);
	return 0;
}

void
hv_fwlog_close(struct hv_fwlog *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->ctl.mu);
	l->ctl.stop = true;
	ctl_post(l);
	pthread_mutex_unlock(&l->ctl.mu);
	pthread_join(l->thread, NULL);

	pthread_cond_destroy(&l->ctl.done);
	pthread_cond_destroy(&l->ctl.wake);
	pthread_mutex_destroy(&l->ctl.mu);
	close(l->json_fd);
	if (l->pcap_fd >= 0)
		close(l->pcap_fd);
	fwlog_free(l);
}
