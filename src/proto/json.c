/*
 * Strict zero-copy JSON scanner (src/proto/json.h), RFC 8259 with no
 * extensions.
 *
 * Speed matters here: every EVENT and REQ goes through it. Strings are
 * scanned eight bytes at a time while they hold plain ASCII (no quote,
 * backslash, control byte or high bit), which is the common case for tag
 * values, hex ids and most content; only the bytes that need a decision take
 * the byte-wise path. A string without escapes is returned as a slice of the
 * input; one with escapes is validated in a first pass, then decoded into an
 * arena buffer of exactly its raw length (decoding never grows a string).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tern/error.h>

#include "proto/json.h"

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static const uint8_t empty_input[1];

/* Non-zero iff some byte of v is zero. */
static inline uint64_t has_zero(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

/* Non-zero iff some byte of w needs the byte-wise string path: '"', '\\',
 * a control byte (< 0x20) or a byte with the high bit set. */
static inline uint64_t scan_special(uint64_t w)
{
	return (w | has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) |
		((w - ONES * 0x20) & ~w)) & HIGHS;
}

/* Non-zero iff some byte of w must be escaped in canonical output. */
static inline uint64_t escape_special(uint64_t w)
{
	return (has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) |
		((w - ONES * 0x20) & ~w)) & HIGHS;
}

static inline bool is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

static inline size_t off(const tern__json *j, const uint8_t *p)
{
	return (size_t)(p - j->start);
}

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && *p <= ' ' &&
	       (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

void tern__json_init(tern__json *j, const uint8_t *buf, size_t len,
		     uint32_t max_depth, tern_reason *why)
{
	if (!buf) {
		buf = empty_input;
		len = 0;
	}
	j->start = buf;
	j->p = buf;
	j->end = buf + len;
	j->depth = 0;
	j->max_depth = max_depth;
	j->err = 0;
	j->why = why;
	j->first = true;
}

int tern__json_fail(tern__json *j, int err, const char *fmt, ...)
{
	va_list ap;

	if (j->err)
		return j->err;
	j->err = err;
	if (j->why) {
		j->why->prefix = err == TERN_ENOMEM ? TERN_PREFIX_ERROR
						    : TERN_PREFIX_INVALID;
		va_start(ap, fmt);
		vsnprintf(j->why->msg, sizeof j->why->msg, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* "expected <what> at offset N" or "unexpected end of input ..." */
static int expected(tern__json *j, const uint8_t *p, const char *what)
{
	if (p >= j->end)
		return tern__json_fail(j, TERN_EPARSE,
				       "unexpected end of input at offset %zu (expected %s)",
				       off(j, p), what);
	return tern__json_fail(j, TERN_EPARSE, "expected %s at offset %zu",
			       what, off(j, p));
}

int tern__json_peek(tern__json *j)
{
	if (j->err)
		return -1;
	j->p = skip_ws(j->p, j->end);
	return j->p < j->end ? *j->p : -1;
}

/* ---- strings ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (2..4), or 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF refused). */
static inline size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
	size_t left = (size_t)(end - p);
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;

	if (c < 0xc2)
		return 0; /* stray continuation byte or overlong 2-byte form */
	if (c < 0xe0)
		return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (left < 3)
			return 0;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (left < 4)
			return 0;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static inline int hexval(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The 4 hex digits at p (caller checked they are in bounds), or -1. */
static inline int32_t hex4(const uint8_t *p)
{
	int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]),
	    d = hexval(p[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (a << 12) | (b << 8) | (c << 4) | d;
}

static int bad_escape(tern__json *j, const uint8_t *p)
{
	if (p + 1 >= j->end)
		return tern__json_fail(j, TERN_EPARSE,
				       "unterminated escape at offset %zu",
				       off(j, p));
	if (p[1] > 0x20 && p[1] < 0x7f)
		return tern__json_fail(j, TERN_EPARSE,
				       "bad escape \\%c at offset %zu", p[1],
				       off(j, p));
	return tern__json_fail(j, TERN_EPARSE,
			       "bad escape \\ followed by byte 0x%02x at offset %zu",
			       p[1], off(j, p));
}

/*
 * Validates the escape at p (p[0] == '\\') and returns its raw length
 * (2, 6 or 12 for a surrogate pair), or 0 after recording an error.
 */
static size_t check_escape(tern__json *j, const uint8_t *p)
{
	size_t left = (size_t)(j->end - p);
	int32_t cp, lo;

	if (left < 2) {
		bad_escape(j, p);
		return 0;
	}
	switch (p[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		return 2;
	case 'u':
		break;
	default:
		bad_escape(j, p);
		return 0;
	}
	if (left < 6 || (cp = hex4(p + 2)) < 0) {
		tern__json_fail(j, TERN_EPARSE, "bad \\u escape at offset %zu",
				off(j, p));
		return 0;
	}
	if (cp < 0xd800 || cp > 0xdfff)
		return 6;
	if (cp <= 0xdbff && left >= 12 && p[6] == '\\' && p[7] == 'u' &&
	    (lo = hex4(p + 8)) >= 0xdc00 && lo <= 0xdfff)
		return 12;
	tern__json_fail(j, TERN_EPARSE,
			"unpaired surrogate \\u%04x at offset %zu",
			(unsigned)cp, off(j, p));
	return 0;
}

/*
 * Scans and validates the string whose opening quote is at q. On success
 * *close is its closing quote and *esc its first backslash (NULL if none).
 */
static int scan_string(tern__json *j, const uint8_t *q, const uint8_t **close,
		       const uint8_t **esc)
{
	const uint8_t *p = q + 1, *end = j->end;
	size_t n;

	*esc = NULL;
	for (;;) {
		while (end - p >= 8) {
			uint64_t w;

			memcpy(&w, p, 8);
			if (scan_special(w))
				break;
			p += 8;
		}
		if (p >= end)
			return tern__json_fail(j, TERN_EPARSE,
					       "unterminated string at offset %zu",
					       off(j, q));
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (!(n = check_escape(j, p)))
				return j->err;
			if (!*esc)
				*esc = p;
			p += n;
		} else if (*p < 0x20) {
			return tern__json_fail(j, TERN_EPARSE,
					       "unescaped control character 0x%02x in string at offset %zu",
					       *p, off(j, p));
		} else if (*p < 0x80) {
			p++;
		} else {
			if (!(n = utf8_seq(p, end)))
				return tern__json_fail(j, TERN_EPARSE,
						       "invalid UTF-8 at offset %zu",
						       off(j, p));
			p += n;
		}
	}
	*close = p;
	return 0;
}

static inline uint8_t *put_utf8(uint8_t *d, uint32_t cp)
{
	if (cp < 0x80) {
		*d++ = (uint8_t)cp;
	} else if (cp < 0x800) {
		*d++ = (uint8_t)(0xc0 | (cp >> 6));
		*d++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (uint8_t)(0xe0 | (cp >> 12));
		*d++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		*d++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (uint8_t)(0xf0 | (cp >> 18));
		*d++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		*d++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		*d++ = (uint8_t)(0x80 | (cp & 0x3f));
	}
	return d;
}

/* Decodes s[0..close) (already validated by scan_string) into d. */
static uint8_t *decode(uint8_t *d, const uint8_t *s, const uint8_t *close)
{
	while (s < close) {
		const uint8_t *bs;
		uint32_t cp, lo;

		if (*s != '\\') {
			bs = memchr(s, '\\', (size_t)(close - s));
			if (!bs)
				bs = close;
			memcpy(d, s, (size_t)(bs - s));
			d += bs - s;
			s = bs;
			continue;
		}
		switch (s[1]) {
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			cp = (uint32_t)hex4(s + 2);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				lo = (uint32_t)hex4(s + 8);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			d = put_utf8(d, cp);
			s += 4;
			break;
		default: /* '"', '\\', '/' */
			*d++ = s[1];
			break;
		}
		s += 2;
	}
	return d;
}

/* Reads the string at q (known to be '"'); decodes into a when needed. */
static int read_string(tern__json *j, const uint8_t *q, tern_arena *a,
		       tern_slice *out, bool *raw)
{
	const uint8_t *close, *esc;
	uint8_t *buf, *d;
	size_t pre;
	int rc;

	if ((rc = scan_string(j, q, &close, &esc)))
		return rc;
	j->p = close + 1;
	if (!esc) {
		out->p = q + 1;
		out->n = (size_t)(close - q - 1);
		if (raw)
			*raw = true;
		return 0;
	}
	if (!a)
		return tern__json_fail(j, TERN_EINVAL,
				       "escaped string at offset %zu needs an arena",
				       off(j, q));
	buf = tern_arena_alloc(a, (size_t)(close - q - 1));
	if (!buf)
		return tern__json_fail(j, TERN_ENOMEM, "out of memory");
	pre = (size_t)(esc - q - 1);
	memcpy(buf, q + 1, pre);
	d = decode(buf + pre, esc, close);
	out->p = buf;
	out->n = (size_t)(d - buf);
	if (raw)
		*raw = false;
	return 0;
}

int tern__json_string(tern__json *j, tern_arena *a, tern_slice *out, bool *raw)
{
	const uint8_t *p;

	if (j->err)
		return j->err;
	p = skip_ws(j->p, j->end);
	if (p >= j->end || *p != '"')
		return expected(j, p, "a string");
	return read_string(j, p, a, out, raw);
}

/* ---- containers ---------------------------------------------------------- */

static int enter(tern__json *j, const uint8_t *p)
{
	if (j->depth >= j->max_depth)
		return tern__json_fail(j, TERN_ETOOBIG,
				       "nesting deeper than %u levels at offset %zu",
				       (unsigned)j->max_depth, off(j, p));
	j->depth++;
	j->p = p + 1;
	j->first = true;
	return 0;
}

static inline void leave(tern__json *j, const uint8_t *p)
{
	j->depth--;
	j->p = p + 1;
	j->first = false;
}

int tern__json_obj_begin(tern__json *j)
{
	const uint8_t *p;

	if (j->err)
		return j->err;
	p = skip_ws(j->p, j->end);
	if (p >= j->end || *p != '{')
		return expected(j, p, "an object");
	return enter(j, p);
}

/* obj_next; with decode false the key is validated but not returned. */
static int obj_next(tern__json *j, tern_arena *a, tern_slice *key, bool decode_key)
{
	const uint8_t *p, *end = j->end, *close, *esc;
	int rc;

	if (j->err)
		return j->err;
	p = skip_ws(j->p, end);
	if (p < end && *p == '}') {
		leave(j, p);
		return 0;
	}
	if (!j->first) {
		if (p >= end || *p != ',')
			return expected(j, p, "',' or '}'");
		p = skip_ws(p + 1, end);
	}
	if (p >= end || *p != '"')
		return expected(j, p, "a string key");
	if (decode_key) {
		rc = read_string(j, p, a, key, NULL);
	} else {
		rc = scan_string(j, p, &close, &esc);
		if (!rc)
			j->p = close + 1;
	}
	if (rc)
		return rc;
	p = skip_ws(j->p, end);
	if (p >= end || *p != ':')
		return expected(j, p, "':'");
	j->p = p + 1;
	j->first = false;
	return 1;
}

int tern__json_obj_next(tern__json *j, tern_arena *a, tern_slice *key)
{
	return obj_next(j, a, key, true);
}

int tern__json_arr_begin(tern__json *j)
{
	const uint8_t *p;

	if (j->err)
		return j->err;
	p = skip_ws(j->p, j->end);
	if (p >= j->end || *p != '[')
		return expected(j, p, "an array");
	return enter(j, p);
}

int tern__json_arr_next(tern__json *j)
{
	const uint8_t *p, *end = j->end;

	if (j->err)
		return j->err;
	p = skip_ws(j->p, end);
	if (p < end && *p == ']') {
		leave(j, p);
		return 0;
	}
	if (!j->first) {
		if (p >= end || *p != ',')
			return expected(j, p, "',' or ']'");
		p = skip_ws(p + 1, end);
		if (p < end && *p == ']')
			return expected(j, p, "a value");
	}
	if (p >= end)
		return expected(j, p, "a value");
	j->p = p;
	j->first = false;
	return 1;
}

/* ---- numbers and literals ------------------------------------------------ */

static int read_uint(tern__json *j, uint64_t *out, const char *msg)
{
	const uint8_t *p, *s, *end = j->end;
	uint64_t v = 0;

	if (j->err)
		return j->err;
	p = s = skip_ws(j->p, end);
	if (p >= end || !is_digit(*p))
		goto bad;
	if (*p == '0' && p + 1 < end && is_digit(p[1]))
		goto bad; /* leading zero */
	/* 19 digits always fit; only the 20th needs an overflow check. */
	while (p < end && is_digit(*p) && p - s < 19)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p < end && is_digit(*p)) {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			goto bad;
		v = v * 10 + d;
		p++;
		if (p < end && is_digit(*p))
			goto bad;
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		goto bad;
	j->p = p;
	*out = v;
	return 0;
bad:
	if (msg)
		return tern__json_fail(j, TERN_EPARSE, "%s", msg);
	return tern__json_fail(j, TERN_EPARSE,
			       "expected a non-negative integer at offset %zu",
			       off(j, s));
}

int tern__json_uint64(tern__json *j, uint64_t *out)
{
	return read_uint(j, out, NULL);
}

int tern__json_uint64_or(tern__json *j, uint64_t *out, const char *msg)
{
	return read_uint(j, out, msg);
}

static int skip_number(tern__json *j, const uint8_t *p)
{
	const uint8_t *s = p, *end = j->end;

	if (*p == '-')
		p++;
	if (p >= end || !is_digit(*p))
		goto bad;
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			goto bad;
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !is_digit(*p))
			goto bad;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			goto bad;
		while (p < end && is_digit(*p))
			p++;
	}
	j->p = p;
	return 0;
bad:
	return tern__json_fail(j, TERN_EPARSE, "bad number at offset %zu",
			       off(j, s));
}

static int skip_literal(tern__json *j, const uint8_t *p, const char *lit,
			size_t n)
{
	if ((size_t)(j->end - p) < n || memcmp(p, lit, n) != 0)
		return expected(j, p, "a value");
	j->p = p + n;
	return 0;
}

static int skip_value(tern__json *j)
{
	const uint8_t *p, *close, *esc;
	int rc;

	p = skip_ws(j->p, j->end);
	if (p >= j->end)
		return expected(j, p, "a value");
	switch (*p) {
	case '"':
		if ((rc = scan_string(j, p, &close, &esc)))
			return rc;
		j->p = close + 1;
		return 0;
	case '{':
		if ((rc = enter(j, p)))
			return rc;
		while ((rc = obj_next(j, NULL, NULL, false)) == 1)
			if ((rc = skip_value(j)))
				return rc;
		return rc;
	case '[':
		if ((rc = enter(j, p)))
			return rc;
		while ((rc = tern__json_arr_next(j)) == 1)
			if ((rc = skip_value(j)))
				return rc;
		return rc;
	case 't':
		return skip_literal(j, p, "true", 4);
	case 'f':
		return skip_literal(j, p, "false", 5);
	case 'n':
		return skip_literal(j, p, "null", 4);
	default:
		if (*p == '-' || is_digit(*p))
			return skip_number(j, p);
		return expected(j, p, "a value");
	}
}

int tern__json_skip(tern__json *j)
{
	if (j->err)
		return j->err;
	return skip_value(j);
}

int tern__json_finish(tern__json *j)
{
	const uint8_t *p;

	if (j->err)
		return j->err;
	p = skip_ws(j->p, j->end);
	if (p < j->end)
		return tern__json_fail(j, TERN_EPARSE,
				       "trailing garbage at offset %zu", off(j, p));
	j->p = p;
	return 0;
}

/* ---- canonical escaping -------------------------------------------------- */

/*
 * For each byte: 0 = copied verbatim, otherwise the letter of its
 * two-character escape, or 'u' for the \u00xx form.
 */
static const uint8_t esc_letter[256] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	['"'] = '"', ['\\'] = '\\',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u',
};

/* Index of the first byte of s[i..n) that needs escaping, or n. */
static inline size_t next_special(const uint8_t *s, size_t i, size_t n)
{
	while (n - i >= 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (escape_special(w))
			break;
		i += 8;
	}
	while (i < n && !esc_letter[s[i]])
		i++;
	return i;
}

size_t tern__json_escaped_len(tern_slice s)
{
	size_t len = s.n + 2, i = 0;

	while ((i = next_special(s.p, i, s.n)) < s.n) {
		len += esc_letter[s.p[i]] == 'u' ? 5 : 1;
		i++;
	}
	return len;
}

uint8_t *tern__json_escape(uint8_t *dst, tern_slice s)
{
	static const char hexdig[] = "0123456789abcdef";
	size_t i = 0, k;

	*dst++ = '"';
	while (i < s.n) {
		k = next_special(s.p, i, s.n);
		if (k > i) {
			memcpy(dst, s.p + i, k - i);
			dst += k - i;
		}
		if (k >= s.n)
			break;
		uint8_t c = s.p[k], e = esc_letter[c];

		*dst++ = '\\';
		if (e == 'u') {
			memcpy(dst, "u00", 3);
			dst[3] = (uint8_t)hexdig[c >> 4];
			dst[4] = (uint8_t)hexdig[c & 15];
			dst += 5;
		} else {
			*dst++ = e;
		}
		i = k + 1;
	}
	*dst++ = '"';
	return dst;
}
