/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the host side of the QEMU exec channel (vmm/qemu_exec.c): whatever
 * bytes a guest writes on hvnet.exec reach hv_exec_reader_feed(). The first
 * byte picks how the input is cut into reads; the reader must never deliver
 * more output than it was given, never report a status outside 0..255,
 * never consume bytes it was not given, and always take a whole read
 * unless it is done or failed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "vmm/vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t out, err;
};

static void
sink(void *arg, int stream, const uint8_t *buf, size_t len)
{
	struct seen *s = arg;

	(void)buf;
	if (stream == 1)
		s->out += len;
	else if (stream == 2)
		s->err += len;
	else
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_exec_reader r;
	struct seen s = {0, 0};
	size_t chunk, off = 1;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 17 + 1;
	hv_exec_reader_init(&r, "0123456789abcdef");
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk, used = 0;
		int rc = hv_exec_reader_feed(&r, data + off, n, &used, sink, &s);

		if (used > n)
			abort();
		off += used;
		if (s.out + s.err > off)
			abort(); /* delivered bytes it was never given */
		if (rc < 0)
			break;
		if (rc == 1) {
			if (r.status < 0 || r.status > 255)
				abort();
			break;
		}
		if (used != n)
			abort(); /* not done, yet it left bytes */
	}
	return 0;
}
