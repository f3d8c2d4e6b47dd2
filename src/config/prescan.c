/*
 * Pre-scan of configuration text before libconfig reads it (see the
 * comment at the top of config.c for why): refuses what libconfig 1.5
 * would misread or leak on, and suffixes 64-bit integer literals.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "config/prescan.h"

/* Writes "NAME:LINE: " (or "NAME: ", or nothing without a name) and the
 * message into err; returns rc. */
static int pfail(char *err, size_t errcap, const char *name, unsigned line,
		 int rc, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int pfail(char *err, size_t errcap, const char *name, unsigned line,
		 int rc, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!errcap)
		return rc;
	if (name && line)
		n = snprintf(err, errcap, "%s:%u: ", name, line);
	else if (name)
		n = snprintf(err, errcap, "%s: ", name);
	else
		err[0] = '\0';
	if (n < 0 || (size_t)n >= errcap)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err + n, errcap - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- prescan: literal checks, 64-bit rewriting ------------------------- */

static bool is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '*';
}

static bool is_name_char(char ch)
{
	return is_name_start(ch) || (ch >= '0' && ch <= '9') || ch == '-' ||
	       ch == '_';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int hexval(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Classifies the number-like token t[0..n). Returns 1 when it is an
 * integer literal (decimal with optional sign, or unsigned hex, with an
 * optional L/LL suffix) that libconfig would misread unless suffixed
 * (plain, beyond 32 bits), 0 when it may pass unchanged (including
 * anything that is not an integer literal: floats, garbage for libconfig
 * to refuse), -1 when it lies outside the signed 64-bit range.
 */
static int classify_number(const char *t, size_t n)
{
	size_t i = 0, digits = 0;
	bool neg = false, hex = false, overflow = false;
	uint64_t mag = 0, base = 10;

	if (t[0] == '+' || t[0] == '-')
		neg = t[i++] == '-';
	if (i + 1 < n && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X')) {
		if (i)
			return 0; /* signed hex: libconfig refuses it */
		hex = true;
		base = 16;
		i += 2;
	}
	for (; i < n; i++, digits++) {
		int d = hex ? hexval(t[i]) : (is_digit(t[i]) ? t[i] - '0' : -1);

		if (d < 0)
			break;
		if (mag > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		else
			mag = mag * base + (uint64_t)d;
	}
	if (!digits)
		return 0;
	size_t suffix = n - i;
	if (!(suffix == 0 || (suffix == 1 && t[i] == 'L') ||
	      (suffix == 2 && t[i] == 'L' && t[i + 1] == 'L')))
		return 0;
	if (overflow || mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return -1;
	return suffix == 0 && mag > (uint64_t)INT32_MAX;
}

/*
 * Copies text to a new buffer (*out, caller frees), appending "L" to the
 * integer literals libconfig would truncate; refuses @include, integer
 * literals beyond 64 bits, nesting deeper than MAX_DEPTH, and the syntax
 * errors on which libconfig 1.5 leaks memory:
 *  - an unterminated string;
 *  - a string where the grammar allows none (the parser drops the string
 *    token it cannot shift without freeing it). A string may only start a
 *    value - after '=' or ':' in a group, after '[', '(' or ',' inside an
 *    array or list - or continue the string before it ("a" "b").
 */
#define MAX_DEPTH 64

int tern__config_prescan(const char *text, size_t len, char **out,
			 const char *name, char *err, size_t errcap)
{
	/* every rewritten literal has >= 10 characters and gains one; a
	   final newline and the NUL may follow */
	char *o = malloc(len + len / 10 + 3);
	char stack[MAX_DEPTH]; /* open brackets */
	size_t i = 0, k = 0, depth = 0;
	unsigned line = 1;
	bool in_line_comment = false;
	char prev = 0; /* last token: 's'tring, 'n'ame, 'i'nteger or itself */
	int rc;

	if (!o)
		return pfail(err, errcap, name, 0, TERN_ENOMEM, "out of memory");
	while (i < len) {
		char ch = text[i];
		size_t start = i;

		if (ch == '"') {
			char ctx = depth ? stack[depth - 1] : '{';
			bool ok = prev == 's' ||
				  (ctx == '{' ? prev == '=' || prev == ':'
					      : prev == ctx || prev == ',');

			if (!ok) {
				rc = pfail(err, errcap, name, line, TERN_EPARSE,
					  "syntax error");
				goto err;
			}
			for (i++; i < len && text[i] != '"'; i++)
				if (text[i] == '\\' && i + 1 < len)
					i++;
			if (i >= len) {
				rc = pfail(err, errcap, name, line, TERN_EPARSE,
					  "unterminated string");
				goto err;
			}
			i++;
			prev = 's';
		} else if (ch == '#' || (ch == '/' && text[i + 1] == '/')) {
			while (i < len && text[i] != '\n')
				i++;
			in_line_comment = i == len;
		} else if (ch == '/' && text[i + 1] == '*') {
			const char *end = strstr(text + i + 2, "*/");

			i = end ? (size_t)(end - text) + 2 : len;
		} else if (ch == '@' && !strncmp(text + i + 1, "include", 7)) {
			rc = pfail(err, errcap, name, line, TERN_EPARSE,
				  "@include is not supported");
			goto err;
		} else if (is_name_start(ch)) {
			while (i < len && is_name_char(text[i]))
				i++;
			prev = 'n';
		} else if (is_digit(ch) ||
			   ((ch == '+' || ch == '-') && is_digit(text[i + 1]))) {
			bool hexlit = ch == '0' &&
				      (text[i + 1] == 'x' || text[i + 1] == 'X');

			for (i++; i < len; i++) {
				char d = text[i];

				if (!(is_digit(d) || is_name_start(d) || d == '.' ||
				      ((d == '+' || d == '-') && !hexlit &&
				       (text[i - 1] == 'e' || text[i - 1] == 'E'))))
					break;
			}
			int r = classify_number(text + start, i - start);
			if (r < 0) {
				rc = pfail(err, errcap, name, line, TERN_EPARSE,
					  "integer %.*s is out of range",
					  (int)(i - start > 40 ? 40 : i - start),
					  text + start);
				goto err;
			}
			memcpy(o + k, text + start, i - start);
			k += i - start;
			if (r)
				o[k++] = 'L';
			prev = 'i';
			continue;
		} else {
			i++;
			if (ch == '{' || ch == '[' || ch == '(') {
				if (depth == MAX_DEPTH) {
					rc = pfail(err, errcap, name, line, TERN_EPARSE,
						  "nested deeper than %d",
						  MAX_DEPTH);
					goto err;
				}
				stack[depth++] = ch;
			} else if ((ch == '}' || ch == ']' || ch == ')') && depth) {
				depth--;
			}
			if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' &&
			    ch != '\f' && ch != '\v')
				prev = ch;
		}
		for (size_t j = start; j < i; j++)
			line += text[j] == '\n';
		memcpy(o + k, text + start, i - start);
		k += i - start;
	}
	/* libconfig 1.5 refuses a # or // comment that ends the text without
	   a newline: end it for it */
	if (in_line_comment)
		o[k++] = '\n';
	o[k] = '\0';
	*out = o;
	return 0;
err:
	free(o);
	return rc;
}
