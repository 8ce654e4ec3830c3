/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the daemon's side of the control protocol: arbitrary bytes arrive on
 * the socket, are split into lines, and each line is parsed as a request and
 * answered, as hvnetd's control loop does.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_ctl_buf b;
	size_t off = 0;

	hv_ctl_buf_init(&b);
	/* feed in two pieces so that reassembly across reads is exercised */
	while (off < size) {
		size_t n = off == 0 ? size / 2 + 1 : size - off;
		char *line;
		size_t len;
		int rc;

		if (n > size - off)
			n = size - off;
		if (hv_ctl_buf_feed(&b, (const char *)data + off, n) != 0)
			break;
		off += n;
		while ((rc = hv_ctl_buf_next(&b, &line, &len)) == 1) {
			struct hv_ctl_request req;
			char err[256];
			json_t *reply;

			if (hv_ctl_request_parse(line, len, &req, err, sizeof(err)) == 0) {
				reply = hv_ctl_reply_ok(req.id, json_deep_copy(req.args));
				hv_ctl_request_clear(&req);
			} else {
				reply = hv_ctl_reply_error(0, 22, NULL, "bad request: %s", err);
			}
			free(hv_ctl_dump(reply, &len));
			json_decref(reply);
			free(line);
		}
		if (rc < 0)
			break;
	}
	hv_ctl_buf_free(&b);
	return 0;
}
