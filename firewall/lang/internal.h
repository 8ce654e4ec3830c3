/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the language library's passes; not installed. */
#ifndef HV_LANG_INTERNAL_H
#define HV_LANG_INTERNAL_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"

struct hv_src {
	struct hv_src *next;
	char *path; /* as the user (or the include) named it */
	char *real; /* realpath, for include loops; may be NULL for buffers */
	char *text;
	size_t len;
};

/* Grow a HV_VEC by one zeroed element and return it; aborts on ENOMEM
 * (the library runs in the control plane, where that is the policy). */
void *hv_vec_grow(void *vec_v, size_t *n, size_t *cap, size_t elem);
#define VEC_PUSH(vec) \
	((__typeof__((vec)->v))hv_vec_grow(&(vec)->v, &(vec)->n, &(vec)->cap, sizeof(*(vec)->v)))
#define VEC_FREE(vec)                      \
	do {                               \
		free((vec)->v);            \
		(vec)->v = NULL;           \
		(vec)->n = (vec)->cap = 0; \
	} while (0)

char *hv_strdup(const char *s);
char *hv_strndup(const char *s, size_t n);
char *hv_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *hv_xcalloc(size_t n, size_t sz);

/* Add a diagnostic; HINT may be NULL. Returns it (NULL when capped). */
struct hv_diag *hv_diag_add(struct hv_diags *d, enum hv_diag_sev sev, struct hv_loc loc,
			    const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Levenshtein distance, capped at LIMIT+1. */
unsigned hv_edit_distance(const char *a, const char *b, unsigned limit);
/* The closest of N candidate names to NAME, if close enough; else NULL. */
const char *hv_closest(const char *name, const char *const *cands, size_t n);

/* ---- lexer ---- */

enum tok_kind {
	T_EOF,
	T_NL,	  /* end of a line, or ';' */
	T_WORD,	  /* names, keywords, numbers, addresses, ports, sizes */
	T_STRING, /* "..." with \" \\ \n \t escapes; text holds the value */
	T_LBRACE,
	T_RBRACE,
	T_COMMA,
	T_EQ,
	T_ARROW, /* -> */
	T_AT,
	T_ERROR, /* a character that starts no token; text says which */
};

struct tok {
	enum tok_kind kind;
	struct hv_loc loc;
	char *text; /* owned by the lexer's token array */
	bool semi;  /* T_NL written as ';' */
};

struct lexer {
	const struct hv_src *src;
	struct tok *toks;
	size_t n, cap;
};

/* Tokenize SRC entirely; lexical errors go to D (and as T_ERROR tokens). */
void hv_lex(struct lexer *lx, const struct hv_src *src, struct hv_diags *d);
void hv_lex_free(struct lexer *lx);
const char *hv_tok_desc(const struct tok *t, char *buf, size_t len);

/* ---- helpers shared by the checker, printer and trace ---- */

bool hv_name_valid(const char *s);
bool hv_parse_u32(const char *s, uint32_t *v);
bool hv_parse_size(const char *s, uint64_t *v);	    /* 64M, 1G, 512K, 4096 */
bool hv_parse_duration(const char *s, uint32_t *v); /* seconds: 30s, 5m, 1h, 1d */
bool hv_parse_mac(const char *s, uint8_t mac[6]);
/* "tcp/22", "tcp/1024-2048", "udp/53", "icmp", "icmp/echo-request", "icmpv6/128",
 * "tcp" (any port), "any"; ERR set on failure */
bool hv_parse_svc_item(const char *s, struct hv_svc_item *it, const char **err);
void hv_svc_item_format(const struct hv_svc_item *it, char *buf, size_t len);
const char *hv_icmp_type_name(uint8_t proto, int type);

#endif
