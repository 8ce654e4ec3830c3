/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * langbench: time the language library's passes on one file, best of R
 * runs each: parse (read, lex, parse), check (resolve, checks, IR) and lint.
 * Prints one JSON object. Usage: langbench FILE [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "firewall/lang/lang.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	double best_parse = 1e9, best_check = 1e9, best_lint = 1e9;
	size_t rules = 0, entries = 0;
	int runs = argc > 2 ? atoi(argv[2]) : 3;

	if (argc < 2) {
		fprintf(stderr, "usage: langbench FILE [RUNS]\n");
		return 2;
	}
	for (int r = 0; r < runs; r++) {
		struct hv_diags d = {0};
		double t0 = now();
		struct hv_prog *p = hv_lang_parse_file(argv[1], &d);
		double t1 = now();
		struct hv_ir *ir = hv_lang_check(p, &d);
		double t2 = now();
		if (ir == NULL) {
			hv_diags_print(stderr, &d);
			return 1;
		}
		hv_lang_lint(ir, &d);
		double t3 = now();
		rules = ir->n_rules;
		entries = ir->n_entries;
		best_parse = t1 - t0 < best_parse ? t1 - t0 : best_parse;
		best_check = t2 - t1 < best_check ? t2 - t1 : best_check;
		best_lint = t3 - t2 < best_lint ? t3 - t2 : best_lint;
		hv_ir_free(ir);
		hv_prog_free(p);
		hv_diags_free(&d);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"file\": \"%s\", \"rules\": %zu, \"entries\": %zu, \"parse_s\": %.4f, "
	       "\"check_s\": %.4f, \"parse_check_s\": %.4f, \"lint_s\": %.4f, \"max_rss_kb\": %ld}\n",
	       argv[1], rules, entries, best_parse, best_check, best_parse + best_check, best_lint,
	       ru.ru_maxrss);
	return 0;
}
