/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lexer: the whole file into a token array, each token with its
 * location.
 *
 * Words are deliberately wide ([A-Za-z0-9_.:/-]+, ending before "->"): one
 * word holds a name, a number, an address or prefix (IPv4 or IPv6), a MAC,
 * a service item such as tcp/1024-2048, or a size such as 64M, and the
 * parser decides which from where it stands. That keeps IPv6 addresses,
 * which are full of ':', out of the lexer's way.
 *
 * A newline ends a statement, as does ';'. A backslash at the end of a line
 * continues it; '#' starts a comment that runs to the end of the line.
 */
#include <ctype.h>
#include <stdio.h>

#include "internal.h"

static bool
word_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
}

static struct tok *
emit(struct lexer *lx, enum tok_kind k, uint32_t line, uint32_t col, uint32_t len)
{
	struct tok *t;

	if (lx->n == lx->cap) {
		size_t nc = lx->cap ? lx->cap * 2 : 256;
		struct tok *p = realloc(lx->toks, nc * sizeof(*p));
		if (p == NULL)
			abort();
		lx->toks = p;
		lx->cap = nc;
	}
	t = &lx->toks[lx->n++];
	memset(t, 0, sizeof(*t));
	t->kind = k;
	t->loc = (struct hv_loc){.src = lx->src, .line = line, .col = col, .len = len ? len : 1};
	return t;
}

void
hv_lex(struct lexer *lx, const struct hv_src *src, struct hv_diags *d)
{
	const char *s = src->text;
	size_t n = src->len, i = 0;
	uint32_t line = 1;
	size_t line_start = 0;

	lx->src = src;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t col = (uint32_t)(i - line_start + 1);

		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
		} else if (c == '#') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (c == '\\') {
			/* a continuation: backslash, optional blanks or comment, newline */
			size_t j = i + 1;
			while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
				j++;
			if (j < n && s[j] == '#')
				while (j < n && s[j] != '\n')
					j++;
			if (j < n && s[j] == '\n') {
				i = j + 1;
				line++;
				line_start = i;
			} else {
				struct tok *t = emit(lx, T_ERROR, line, col, 1);
				t->text = hv_strdup("\\");
				hv_diag_add(
					d, HV_DIAG_ERROR, t->loc,
					"a backslash continues a line only as its last character",
					"unexpected '\\'");
				i++;
			}
		} else if (c == '\n') {
			emit(lx, T_NL, line, col, 1);
			i++;
			line++;
			line_start = i;
		} else if (c == ';') {
			emit(lx, T_NL, line, col, 1)->semi = true;
			i++;
		} else if (c == '{') {
			emit(lx, T_LBRACE, line, col, 1);
			i++;
		} else if (c == '}') {
			emit(lx, T_RBRACE, line, col, 1);
			i++;
		} else if (c == ',') {
			emit(lx, T_COMMA, line, col, 1);
			i++;
		} else if (c == '=') {
			emit(lx, T_EQ, line, col, 1);
			i++;
		} else if (c == '@') {
			emit(lx, T_AT, line, col, 1);
			i++;
		} else if (c == '-' && i + 1 < n && s[i + 1] == '>') {
			emit(lx, T_ARROW, line, col, 2);
			i += 2;
		} else if (c == '"') {
			size_t j = i + 1, cap = 16, len = 0;
			char *v = hv_xcalloc(cap, 1);
			bool closed = false;

			while (j < n && s[j] != '\n') {
				char ch = s[j];
				if (ch == '"') {
					closed = true;
					j++;
					break;
				}
				if (ch == '\\' && j + 1 < n && s[j + 1] != '\n') {
					j++;
					ch = s[j] == 'n' ? '\n' : s[j] == 't' ? '\t' : s[j];
				}
				if (ch == '\0')
					ch = '?'; /* never let a NUL cut the string short */
				if (len + 1 >= cap) {
					cap *= 2;
					char *p = realloc(v, cap);
					if (p == NULL)
						abort();
					v = p;
				}
				v[len++] = ch;
				j++;
			}
			v[len] = '\0';
			struct tok *t = emit(lx, T_STRING, line, col, (uint32_t)(j - i));
			t->text = v;
			if (!closed)
				hv_diag_add(d, HV_DIAG_ERROR, t->loc,
					    "close the string with '\"' on the same line",
					    "unterminated string");
			i = j;
		} else if (word_char(c)) {
			size_t j = i;
			while (j < n && word_char((unsigned char)s[j]) &&
			       !(s[j] == '-' && j + 1 < n && s[j + 1] == '>'))
				j++;
			struct tok *t = emit(lx, T_WORD, line, col, (uint32_t)(j - i));
			t->text = hv_strndup(s + i, j - i);
			i = j;
		} else {
			struct tok *t = emit(lx, T_ERROR, line, col, 1);
			char buf[8];
			if (isprint(c))
				snprintf(buf, sizeof(buf), "'%c'", c);
			else
				snprintf(buf, sizeof(buf), "0x%02x", c);
			t->text = hv_strdup(buf);
			hv_diag_add(d, HV_DIAG_ERROR, t->loc, NULL, "unexpected character %s", buf);
			i++;
			/* skip the rest of a UTF-8 sequence: one error per character */
			while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
				i++;
		}
	}
	emit(lx, T_NL, line, (uint32_t)(n - line_start + 1), 1);
	emit(lx, T_EOF, line, (uint32_t)(n - line_start + 1), 1);
}

void
hv_lex_free(struct lexer *lx)
{
	for (size_t i = 0; i < lx->n; i++)
		free(lx->toks[i].text);
	free(lx->toks);
	memset(lx, 0, sizeof(*lx));
}

const char *
hv_tok_desc(const struct tok *t, char *buf, size_t len)
{
	switch (t->kind) {
	case T_EOF:
		return "end of file";
	case T_NL:
		return t->semi ? "';'" : "end of line";
	case T_WORD:
		snprintf(buf, len, "'%.40s'", t->text);
		return buf;
	case T_STRING:
		snprintf(buf, len, "string \"%.40s\"", t->text);
		return buf;
	case T_LBRACE:
		return "'{'";
	case T_RBRACE:
		return "'}'";
	case T_COMMA:
		return "','";
	case T_EQ:
		return "'='";
	case T_ARROW:
		return "'->'";
	case T_AT:
		return "'@'";
	case T_ERROR:
		snprintf(buf, len, "%s", t->text ? t->text : "?");
		return buf;
	}
	return "?";
}
