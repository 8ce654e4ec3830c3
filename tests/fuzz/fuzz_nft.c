/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz the nftables backend: any bytes that check clean as a policy are
 * compiled to a ruleset and printed; the compiler must either build it or
 * refuse with a message, never crash, and the text must name every rule
 * it kept (abort otherwise). The kernel is not involved.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/lang/lang.h"
#include "firewall/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_diags d = {0};
	struct hv_prog *p;
	struct hv_ir *ir;

	if (size > 64 * 1024)
		return 0;
	p = hv_lang_parse_buffer("fuzz.hvnet", (const char *)data, size, false, &d);
	ir = hv_lang_check(p, &d);
	if (ir != NULL) {
		char err[HV_NFT_ERR_MAX];
		struct hv_nft *n = hv_nft_compile(ir, NULL, err, sizeof(err));
		if (n == NULL) {
			if (err[0] == 0 || (errno != EINVAL && errno != E2BIG && errno != ENOMEM)) {
				fprintf(stderr, "refused without a message or with errno %d\n",
					errno);
				abort();
			}
		} else {
			char *text = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&text, &len);
			if (f == NULL)
				abort();
			hv_nft_print(f, n);
			fclose(f);
			if (strstr(text, "chain prerouting {") == NULL)
				abort();
			free(text);
			hv_nft_free(n);
		}
	}
	hv_ir_free(ir);
	hv_prog_free(p);
	hv_diags_free(&d);
	return 0;
}
