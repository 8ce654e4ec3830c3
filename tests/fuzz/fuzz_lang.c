/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the policy language: any bytes go through the lexer, parser,
 * checker and linter. A file that checks clean must also survive the
 * canonical printer: printing it and reading the print back must give the
 * same IR, byte for byte in its dump (abort otherwise).
 */
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

	if (size > 64 * 1024)
		return 0; /* bigger inputs only slow the fuzzer down; limits are unit-tested */
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
		if (hv_trace_parse("tcp 10.0.0.1:1000 -> 10.0.0.2:22", &pkt, err, sizeof(err))) {
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
