/*
 * Internal strict JSON scanner shared by the event, filter and message
 * parsers (RFC 8259, no extensions). Zero-copy: it walks a (buf, len) slice,
 * never reads past it, and decodes strings into the caller's arena only
 * when they contain escapes.
 *
 * On any error the scanner fills its tern_reason (prefix INVALID) with a
 * precise message, latches the error (every later call fails fast with the
 * same code) and returns TERN_EPARSE (or TERN_ETOOBIG / TERN_ENOMEM).
 */
#ifndef TERN_PROTO_JSON_H
#define TERN_PROTO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/types.h>

typedef struct tern__json {
	const uint8_t *start, *p, *end; /* input and cursor */
	uint32_t depth, max_depth;      /* current / allowed nesting */
	int err;                        /* latched error, 0 if none */
	tern_reason *why;               /* may be NULL */
	bool first; /* innermost open container has no member read yet */
} tern__json;

/*
 * max_depth counts open containers: a top-level object is depth 1, an array
 * inside it depth 2. Opening one more than max_depth fails with TERN_ETOOBIG
 * ("nesting deeper than N levels at offset M"). Error messages carry byte
 * offsets relative to buf.
 */
void tern__json_init(tern__json *j, const uint8_t *buf, size_t len,
		     uint32_t max_depth, tern_reason *why);

/* Records an error (first one wins) and returns it. */
int tern__json_fail(tern__json *j, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Skips JSON whitespace; returns the next byte without consuming it, or -1
 * at the end of input. */
int tern__json_peek(tern__json *j);

/* Object iteration. begin consumes '{'. next returns 1 with the member's
 * decoded key in *key and the ':' consumed (the value is next), 0 after
 * consuming the closing '}', or a negative error. Keys are decoded like
 * strings (tern__json_string). */
int tern__json_obj_begin(tern__json *j);
int tern__json_obj_next(tern__json *j, tern_arena *a, tern_slice *key);

/* Array iteration: begin consumes '['; next returns 1 when an element
 * follows (not consumed), 0 after consuming ']', or a negative error. */
int tern__json_arr_begin(tern__json *j);
int tern__json_arr_next(tern__json *j);

/*
 * Reads a string value. With a == NULL, a string containing escapes fails
 * with TERN_EINVAL (only raw slices can be returned without an arena). *out gets the decoded bytes: a slice of the input
 * when the string has no escapes (then *raw is true), else a copy in a with
 * escapes decoded (surrogate pairs joined; lone surrogates refused). UTF-8
 * is validated (overlongs, surrogates and code points > U+10FFFF refused).
 * raw may be NULL.
 */
int tern__json_string(tern__json *j, tern_arena *a, tern_slice *out, bool *raw);

/* Reads a non-negative integer: digits only, no sign, fraction, exponent or
 * leading zero; refuses values above UINT64_MAX. */
int tern__json_uint64(tern__json *j, uint64_t *out);

/* Same as tern__json_uint64, but any refusal (wrong type, sign, fraction,
 * exponent, leading zero, overflow) is reported with the caller's message
 * msg verbatim, e.g. "\"since\" must be a non-negative integer". */
int tern__json_uint64_or(tern__json *j, uint64_t *out, const char *msg);

/* Skips one value of any type, validating it, within max_depth. */
int tern__json_skip(tern__json *j);

/* Skips whitespace and fails with "trailing garbage" unless at the end. */
int tern__json_finish(tern__json *j);

/*
 * Canonical NIP-01 string escaping: \n \" \\ \r \t \b \f as two-character
 * escapes, other bytes < 0x20 as \u00xx (lowercase hex), everything else
 * verbatim. escaped_len is the quoted length; escape writes the quoted
 * string to dst and returns the end.
 */
size_t tern__json_escaped_len(tern_slice s);
uint8_t *tern__json_escape(uint8_t *dst, tern_slice s);

#endif
