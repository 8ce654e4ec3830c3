/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the arguments of the mirror.add control request (a client's bytes):
 * parse them as JSON, turn them into a session configuration, and print the
 * configuration back; a configuration that parses must check and round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vswitch/mirror.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hv_mirror_conf c, again;
	char err[512];
	json_t *args = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	json_t *back;

	if (args == NULL)
		return 0;
	if (hv_mirror_conf_from_json(args, &c, err, sizeof(err)) == 0) {
		if (hv_mirror_conf_check(&c, err, sizeof(err)) != 0)
			abort(); /* what parsed must pass the same check */
		back = hv_mirror_conf_to_json(&c);
		if (back == NULL || hv_mirror_conf_from_json(back, &again, err, sizeof(err)) != 0 ||
		    strcmp(again.name, c.name) != 0 || again.n_dests != c.n_dests)
			abort(); /* what show prints, add takes back */
		json_decref(back);
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort(); /* the message is a string */
	}
	json_decref(args);
	return 0;
}
