/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the policy language: any bytes go through the lexer, parser,
 * checker and linter. A file that checks clean must also survive the
 * canonical printer: printing it and reading the print back must give the
 * same IR, byte for byte in its dump (abort otherwise).
 *
 * The first line, with a leading '#' dropped, is also read as a `policy
 * trace` packet (hv_trace_parse, 'port NAME' included); when it parses and
 * the file checks, that packet is traced, and so is a fixed one from each
 * port the policy names.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/lang/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
ir_dump(const struct hv_ir *ir, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		abort();
	hv_ir_print(f, ir);
	fclose(f);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_diags d = {0};
	struct hv_prog *p;
	struct hv_ir *ir;

	struct hv_trace_pkt line_pkt;
	bool have_line_pkt;
	char line[256], line_err[160];
	size_t ll = 0, skip = size && data[0] == '#' ? 1 : 0;

	if (size > 64 * 1024)
		return 0; /* bigger inputs only slow the fuzzer down; limits are unit-tested */
	while (skip + ll < size && ll < sizeof(line) - 1 && data[skip + ll] != '\n' &&
	       data[skip + ll] != '\0')
		ll++;
	memcpy(line, data + skip, ll);
	line[ll] = '\0';
	have_line_pkt = hv_trace_parse(line, &line_pkt, line_err, sizeof(line_err));
	p = hv_lang_parse_buffer("fuzz.hvnet", (const char *)data, size, false, &d);
	ir = hv_lang_check(p, &d);
	if (ir != NULL) {
		struct hv_diags d2 = {0};
		struct hv_trace_pkt pkt;
		struct hv_trace_result res;
		char err[128], *text = NULL, *a, *b;
		size_t tlen = 0, alen, blen;
		FILE *f;

		hv_lang_lint(ir, &d);
		for (size_t i = 0; i < 2 + ir->n_ports; i++) {
			if (i == 0 && !have_line_pkt)
				continue;
			if (i == 0)
				pkt = line_pkt;
			else if (!hv_trace_parse("tcp 10.0.0.1:1000 -> 10.0.0.2:22", &pkt, err,
						 sizeof(err)))
				abort();
			if (i >= 2) /* from each named port in turn */
				snprintf(pkt.in_port, sizeof(pkt.in_port), "%s", ir->ports[i - 2]);
			hv_trace_run(ir, &pkt, &res);
			f = fopen("/dev/null", "w");
			if (f) {
				hv_trace_explain(f, ir, &pkt, &res);
				fclose(f);
			}
		}
		f = open_memstream(&text, &tlen);
		if (f == NULL)
			abort();
		hv_prog_print(f, p);
		fclose(f);
		struct hv_prog *p2 = hv_lang_parse_buffer("fuzz.hvnet", text, tlen, false, &d2);
		struct hv_ir *ir2 = hv_lang_check(p2, &d2);
		if (ir2 == NULL) {
			hv_diags_print(stderr, &d2);
			fprintf(stderr, "--- canonical form that failed to parse:\n%s", text);
			abort();
		}
		a = ir_dump(ir, &alen);
		b = ir_dump(ir2, &blen);
		if (alen != blen || memcmp(a, b, alen) != 0) {
			fprintf(stderr, "IR differs after printing:\n%s\n---\n%s", a, b);
			abort();
		}
		free(a);
		free(b);
		free(text);
		hv_ir_free(ir2);
		hv_prog_free(p2);
		hv_diags_free(&d2);
	}
	hv_ir_free(ir);
	hv_prog_free(p);
	hv_diags_free(&d);
	return 0;
}
