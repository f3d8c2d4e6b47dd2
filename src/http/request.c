/*
 * Strict, incremental HTTP/1.1 request-head parser (contract in
 * request.h).
 *
 * The parser is a single left-to-right pass over buf with no state kept
 * between calls. Every decision depends only on the bytes before the
 * cursor, and running out of bytes is only reported when the cursor
 * reaches len: that is what makes the answer for a prefix either
 * "need more" or the answer for the whole input, and lets the fuzz target
 * check it at every split point.
 *
 * Internal step functions return 1 to continue, TERN__HTTP_NEED_MORE (0)
 * or a negative error (with req->status/reason set).
 */
#include "http/request.h"

#include <limits.h>
#include <string.h>

#include <tern/error.h>

/* Keeps the byte count returnable as a positive int. */
#define HEAD_HARD_MAX ((size_t)1 << 30)

typedef struct scan {
	const uint8_t *buf;
	size_t len;  /* bytes available */
	size_t max;  /* max_head_bytes */
	size_t pos;  /* cursor */
	tern__http_request *req;
} scan;

static int fail(tern__http_request *req, int err, int status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	return err;
}

static int bad(scan *s, const char *reason)
{
	return fail(s->req, TERN_EPARSE, 400, reason);
}

/*
 * Is there a byte at the cursor? The head limit is checked before the
 * input length so that the answer depends on the position only.
 */
static int need_byte(scan *s)
{
	if (s->pos >= s->max)
		return fail(s->req, TERN_ETOOBIG, 431,
			    "request head larger than the limit");
	if (s->pos >= s->len)
		return TERN__HTTP_NEED_MORE;
	return 1;
}

#define NEED(s)                                                                \
	do {                                                                   \
		int need_rc_ = need_byte(s);                                   \
		if (need_rc_ != 1)                                             \
			return need_rc_;                                       \
	} while (0)

#define STEP(expr)                                                             \
	do {                                                                   \
		int step_rc_ = (expr);                                         \
		if (step_rc_ != 1)                                             \
			return step_rc_;                                       \
	} while (0)

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(uint8_t c)
{
	uint8_t l = c | 0x20;

	return is_digit(c) || (l >= 'a' && l <= 'z');
}

static bool is_hex(uint8_t c)
{
	uint8_t l = c | 0x20;

	return is_digit(c) || (l >= 'a' && l <= 'f');
}

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c)
{
	if (is_alnum(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|':
	case '~':
		return true;
	default:
		return false;
	}
}

/* RFC 3986 unreserved / sub-delims / ":" / "@" ('%' is handled apart). */
static bool is_uri_char(uint8_t c)
{
	if (is_alnum(c))
		return true;
	switch (c) {
	case '-': case '.': case '_': case '~':                     /* unreserved */
	case '!': case '$': case '&': case '\'': case '(': case ')': /* sub-delims */
	case '*': case '+': case ',': case ';': case '=':
	case ':': case '@':
		return true;
	default:
		return false;
	}
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

static bool slice_ieq(tern_slice s, const char *z, size_t zn)
{
	if (s.n != zn)
		return false;
	for (size_t i = 0; i < zn; i++)
		if (lower(s.p[i]) != lower((uint8_t)z[i]))
			return false;
	return true;
}

/* Consumes the LF of a CRLF whose CR is at the cursor. */
static int crlf(scan *s)
{
	s->pos++; /* CR */
	NEED(s);
	if (s->buf[s->pos] != '\n')
		return bad(s, "CR not followed by LF");
	s->pos++;
	return 1;
}

static int skip_empty_lines(scan *s)
{
	for (;;) {
		NEED(s);
		if (s->buf[s->pos] == '\n')
			return bad(s, "bare LF (lines must end with CRLF)");
		if (s->buf[s->pos] != '\r')
			return 1;
		STEP(crlf(s));
	}
}

static int parse_method(scan *s)
{
	size_t start = s->pos;
	tern__http_request *req = s->req;

	for (;;) {
		NEED(s);
		uint8_t c = s->buf[s->pos];
		if (is_tchar(c)) {
			if (s->pos - start == TERN__HTTP_METHOD_MAX)
				return fail(req, TERN_EPARSE, 501,
					    "method not implemented (token too long)");
			s->pos++;
			continue;
		}
		if (c == ' ' && s->pos > start)
			break;
		if (s->pos == start)
			return bad(s, "request-line must start with a method token");
		return bad(s, "invalid character in method");
	}
	req->method = (tern_slice){ s->buf + start, s->pos - start };
	s->pos++; /* SP */

	static const struct { const char *name; tern__http_method id; } known[] = {
		{ "GET", TERN__HTTP_GET },
		{ "HEAD", TERN__HTTP_HEAD },
		{ "POST", TERN__HTTP_POST },
		{ "OPTIONS", TERN__HTTP_OPTIONS },
	};
	req->method_id = TERN__HTTP_OTHER;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		size_t n = strlen(known[i].name);
		/* Methods are case-sensitive (RFC 9110 section 9.1). */
		if (req->method.n == n && memcmp(req->method.p, known[i].name, n) == 0)
			req->method_id = known[i].id;
	}
	return 1;
}

static int parse_target(scan *s, size_t max_target)
{
	size_t start = s->pos, qmark = 0;
	int pct = 0; /* hex digits still expected after a '%' */
	tern__http_request *req = s->req;

	NEED(s);
	if (s->buf[s->pos] != '/')
		return bad(s, "request-target must be origin-form (start with '/')");
	for (;;) {
		NEED(s);
		uint8_t c = s->buf[s->pos];
		if (pct) {
			if (!is_hex(c))
				return bad(s, "invalid percent-encoding in request-target");
			pct--;
		} else if (c == ' ') {
			break;
		} else if (c == '%') {
			pct = 2;
		} else if (c == '?') {
			if (!qmark)
				qmark = s->pos;
		} else if (c != '/' && !is_uri_char(c)) {
			return bad(s, "invalid character in request-target");
		}
		if (s->pos - start == max_target)
			return fail(req, TERN_ETOOBIG, 414, "request-target too long");
		s->pos++;
	}
	req->target = (tern_slice){ s->buf + start, s->pos - start };
	if (qmark) {
		req->path = (tern_slice){ s->buf + start, qmark - start };
		req->query = (tern_slice){ s->buf + qmark + 1, s->pos - qmark - 1 };
	} else {
		req->path = req->target;
		req->query = (tern_slice){ NULL, 0 };
	}
	s->pos++; /* SP */
	return 1;
}

static int parse_version(scan *s)
{
	static const char prefix[] = "HTTP/";
	tern__http_request *req = s->req;
	uint8_t major, minor;

	for (size_t i = 0; i < sizeof prefix - 1; i++) {
		NEED(s);
		if (s->buf[s->pos] != (uint8_t)prefix[i])
			return bad(s, "malformed HTTP-version");
		s->pos++;
	}
	NEED(s);
	major = s->buf[s->pos];
	if (!is_digit(major))
		return bad(s, "malformed HTTP-version");
	s->pos++;
	NEED(s);
	if (s->buf[s->pos] != '.')
		return bad(s, "malformed HTTP-version");
	s->pos++;
	NEED(s);
	minor = s->buf[s->pos];
	if (!is_digit(minor))
		return bad(s, "malformed HTTP-version");
	s->pos++;
	if (major != '1' || (minor != '0' && minor != '1'))
		return fail(req, TERN_EPARSE, 505, "HTTP version not supported");
	req->minor_version = minor - '0';
	NEED(s);
	if (s->buf[s->pos] == '\n')
		return bad(s, "bare LF (lines must end with CRLF)");
	if (s->buf[s->pos] != '\r')
		return bad(s, "malformed HTTP-version");
	return crlf(s);
}

/* Parses one field line whose first byte (not CR) is at the cursor. */
static int parse_field(scan *s, size_t max_headers)
{
	tern__http_request *req = s->req;
	size_t start = s->pos, vstart, vend;
	uint8_t c = s->buf[s->pos];

	if (c == '\n')
		return bad(s, "bare LF (lines must end with CRLF)");
	if (is_ows(c))
		return bad(s, req->n_headers ? "obsolete line folding in header field"
					     : "whitespace before the first header field");
	if (req->n_headers == max_headers)
		return fail(req, TERN_ETOOBIG, 431, "too many header fields");
	for (;;) {
		NEED(s);
		c = s->buf[s->pos];
		if (!is_tchar(c))
			break;
		s->pos++;
	}
	if (c != ':') {
		if (c == '\r' || c == '\n')
			return bad(s, "header field line without colon");
		if (is_ows(c) && s->pos > start)
			return bad(s, "whitespace between header field name and colon");
		return bad(s, "invalid character in header field name");
	}
	if (s->pos == start)
		return bad(s, "empty header field name");
	tern_slice name = { s->buf + start, s->pos - start };
	s->pos++; /* ':' */

	for (;;) {
		NEED(s);
		if (!is_ows(s->buf[s->pos]))
			break;
		s->pos++;
	}
	vstart = vend = s->pos;
	for (;;) {
		NEED(s);
		c = s->buf[s->pos];
		if (c == '\r')
			break;
		if (c == '\n')
			return bad(s, "bare LF (lines must end with CRLF)");
		s->pos++;
		if (is_ows(c))
			continue;
		if (c < 0x20 || c == 0x7f)
			return bad(s, "control character in header field value");
		vend = s->pos; /* trailing OWS is trimmed */
	}
	STEP(crlf(s));
	req->headers[req->n_headers].name = name;
	req->headers[req->n_headers].value = (tern_slice){ s->buf + vstart, vend - vstart };
	req->n_headers++;
	return 1;
}

static bool host_valid(tern_slice v)
{
	for (size_t i = 0; i < v.n; i++) {
		uint8_t c = v.p[i];
		if (!is_uri_char(c) && c != '[' && c != ']' && c != '%')
			return false;
	}
	return true;
}

/* Checks that need the whole head: Host, Transfer-Encoding, Content-Length. */
static int check_head(tern__http_request *req)
{
	size_t hosts = tern__http_header_count(req, "host");
	const tern__http_header *h;

	if (hosts > 1)
		return fail(req, TERN_EPARSE, 400, "more than one Host header");
	if (hosts == 0 && req->minor_version == 1)
		return fail(req, TERN_EPARSE, 400, "missing Host header");
	h = tern__http_header_find(req, "host");
	if (h && !host_valid(h->value))
		return fail(req, TERN_EPARSE, 400, "invalid Host header");

	size_t cls = tern__http_header_count(req, "content-length");
	if (tern__http_header_find(req, "transfer-encoding")) {
		if (cls)
			return fail(req, TERN_EPARSE, 400,
				    "both Transfer-Encoding and Content-Length");
		return fail(req, TERN_EPARSE, 501, "Transfer-Encoding not supported");
	}
	if (cls > 1)
		return fail(req, TERN_EPARSE, 400, "more than one Content-Length header");
	if (cls == 1) {
		h = tern__http_header_find(req, "content-length");
		if (tern__http_content_length(h->value, &req->content_length))
			return fail(req, TERN_EPARSE, 400, "invalid Content-Length");
		req->has_content_length = true;
	}
	return 1;
}

static int parse_head(scan *s, const tern__http_limits *lim)
{
	size_t max_headers = lim->max_headers;

	STEP(skip_empty_lines(s));
	STEP(parse_method(s));
	STEP(parse_target(s, lim->max_target));
	STEP(parse_version(s));
	for (;;) {
		NEED(s);
		if (s->buf[s->pos] == '\r') {
			STEP(crlf(s));
			break;
		}
		STEP(parse_field(s, max_headers));
	}
	return check_head(s->req);
}

int tern__http_parse(tern__http_request *req, const uint8_t *buf, size_t len,
		     const tern__http_limits *lim)
{
	tern__http_limits l = { 0 };
	scan s;
	int rc;

	if (lim)
		l = *lim;
	if (!l.max_head_bytes)
		l.max_head_bytes = TERN__HTTP_DEFAULT_MAX_HEAD;
	if (l.max_head_bytes > HEAD_HARD_MAX)
		l.max_head_bytes = HEAD_HARD_MAX;
	if (!l.max_headers)
		l.max_headers = TERN__HTTP_DEFAULT_MAX_HEADERS;
	if (l.max_headers > TERN__HTTP_HEADERS_CAP)
		l.max_headers = TERN__HTTP_HEADERS_CAP;
	if (!l.max_target)
		l.max_target = TERN__HTTP_DEFAULT_MAX_TARGET;

	req->method_id = TERN__HTTP_OTHER;
	req->method = req->target = req->path = req->query = (tern_slice){ NULL, 0 };
	req->minor_version = 0;
	req->has_content_length = false;
	req->content_length = 0;
	req->head_len = 0;
	req->n_headers = 0;
	req->status = 0;
	req->reason = NULL;

	s = (scan){ .buf = buf, .len = buf ? len : 0, .max = l.max_head_bytes,
		    .pos = 0, .req = req };
	rc = parse_head(&s, &l);
	if (rc != 1)
		return rc;
	req->head_len = s.pos;
	return (int)s.pos;
}

const tern__http_header *tern__http_header_find(const tern__http_request *req,
						const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->n_headers; i++)
		if (slice_ieq(req->headers[i].name, name, n))
			return &req->headers[i];
	return NULL;
}

size_t tern__http_header_count(const tern__http_request *req, const char *name)
{
	size_t n = strlen(name), count = 0;

	for (size_t i = 0; i < req->n_headers; i++)
		if (slice_ieq(req->headers[i].name, name, n))
			count++;
	return count;
}

bool tern__http_list_has_token(tern_slice value, const char *token)
{
	size_t tn = strlen(token), i = 0;

	while (i < value.n) {
		size_t b = i, e;

		while (i < value.n && value.p[i] != ',')
			i++;
		e = i;
		while (b < e && is_ows(value.p[b]))
			b++;
		while (e > b && is_ows(value.p[e - 1]))
			e--;
		if (slice_ieq((tern_slice){ value.p + b, e - b }, token, tn))
			return true;
		i++; /* ',' */
	}
	return false;
}

bool tern__http_header_has_token(const tern__http_request *req,
				 const char *name, const char *token)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->n_headers; i++)
		if (slice_ieq(req->headers[i].name, name, n) &&
		    tern__http_list_has_token(req->headers[i].value, token))
			return true;
	return false;
}

int tern__http_content_length(tern_slice value, uint64_t *out)
{
	uint64_t v = 0;

	if (value.n == 0)
		return TERN_EPARSE;
	for (size_t i = 0; i < value.n; i++) {
		uint8_t c = value.p[i];
		if (!is_digit(c))
			return TERN_EPARSE;
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10)
			return TERN_EPARSE;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*out = v;
	return 0;
}
