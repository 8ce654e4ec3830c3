/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz connection tracking with sequences of frames: the input is a list of
 * [1 byte flags][2 bytes length][frame] records. Each frame goes through the
 * parser and, when it parses, through what the firewall stage does with it:
 * key (the ICMP quote parser included), lookup, track or open, on a small
 * table (64 connections, 8 kept for management) so that limits and early
 * drop are reached. Flags pick the direction's segment, management or not,
 * and how far the clock moves. After every frame the table's books must
 * balance: live entries == count, early-drop lists only hold live embryonic
 * entries, never more than the capacity. The table is emptied before each
 * input, so every input replays alone.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "firewall/conntrack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hv_ct *ct;
static char rundir[512];

/* EAL leaves /var/run/dpdk/PREFIX behind; each run has its own prefix */
static void
cleanup(void)
{
	DIR *d;
	struct dirent *de;

	hv_ct_free(ct);
	rte_eal_cleanup();
	d = opendir(rundir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(rundir);
}

static void
setup(void)
{
	char prefix[64];
	char *argv[] = {"fuzz_ct",     "--no-huge",	"-m",	"128",
			"--no-pci",    "--file-prefix", prefix, "--no-telemetry",
			"--log-level", "*:error",	NULL};
	struct hv_ct_conf c = {.name = "fuzz_ct",
			       .socket_id = SOCKET_ID_ANY,
			       .capacity = 64,
			       .mgmt_reserve = 8,
			       .port_limit = 40,
			       .hz = 1000};
	char err[128];

	snprintf(prefix, sizeof(prefix), "fuzz_ct_%d", (int)getpid());
	if (rte_eal_init(10, argv) < 0)
		abort();
	ct = hv_ct_create(&c, err, sizeof(err));
	if (ct == NULL)
		abort();
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	atexit(cleanup);
}

static void
check_books(void)
{
	uint32_t used = 0, listed = 0, other = 0;

	for (uint32_t s = 0; s < ct->capacity; s++)
		if (ct->e[s].used) {
			used++;
			if (!(ct->e[s].flags & HV_CT_F_MGMT))
				other++;
		}
	if (used != ct->count || other != ct->count_other || used > ct->capacity)
		abort();
	for (int l = 0; l < 2; l++)
		for (uint32_t s = ct->head[l], prev = HV_CT_NIL; s != HV_CT_NIL;
		     s = ct->e[s].next) {
			if (s >= ct->capacity || !ct->e[s].used ||
			    !(ct->e[s].flags & HV_CT_F_EMBRYONIC) || ct->e[s].prev != prev ||
			    ++listed > used)
				abort();
			prev = s;
		}
	if (hv_ct_verify(ct) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hv_ct_filter all = {.seg = HV_CT_ANY_SEG, .port = HV_CT_ANY_PORT};
	uint64_t now = 1000000;
	size_t off = 0;

	if (ct == NULL)
		setup();
	hv_ct_flush(ct, &all);
	while (off + 3 <= size) {
		uint8_t flags = data[off];
		uint32_t len = (uint32_t)data[off + 1] << 8 | data[off + 2];
		struct hv_pkt_meta m;
		struct hv_ct_pkt p;
		uint8_t *frame;
		uint16_t seg = flags & 1, port = (uint16_t)((flags >> 1) & 3);
		bool mgmt = (flags & 8) != 0;

		off += 3;
		if (len > size - off)
			len = (uint32_t)(size - off);
		frame = malloc(len ? len : 1);
		if (frame == NULL)
			return 0;
		memcpy(frame, data + off, len);
		off += len;
		now += (uint64_t)(flags >> 4) * (flags & 0x80 ? 100000 : 1);
		if (hv_pkt_parse(frame, len, &m) == HV_DROP_NONE &&
		    hv_ct_pkt_build(&m, frame, len, seg, seg, &p) == HV_DROP_NONE &&
		    p.kind != HV_CT_K_NONE) {
			int32_t s = hv_ct_lookup(ct, &p, now);
			bool reopen = false;
			enum hv_drop_reason why;

			if (s >= 0) {
				why = hv_ct_track(ct, (uint32_t)s, &p, &m, frame, len, now,
						  &reopen);
				if ((unsigned)why >= HV_DROP_MAX)
					abort();
			}
			if ((s < 0 || reopen) && hv_ct_may_open(&p, &m) == HV_DROP_NONE)
				hv_ct_open(ct, &p, &m, frame, len, port, seg, mgmt, 20,
					   flags & 4 ? 10 : 0, 0, 1, now, &why);
		}
		hv_ct_age(ct, now, 4);
		check_books();
		free(frame);
	}
	return 0;
}
