/* Unit tests for src/http/request.c: the strict HTTP/1.1 request-head parser. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "http/request.h"

/* The parser's answer, for comparing two runs. */
typedef struct answer {
	int rc, status;
	const char *reason;
} answer;

/* Parses a private, exact-size copy so that ASan sees any read past len. */
static answer parse_n(tern__http_request *req, const void *src, size_t n,
		      const tern__http_limits *lim)
{
	uint8_t *b = malloc(n ? n : 1);
	answer a;

	cr_assert(b);
	memcpy(b, src, n);
	a.rc = tern__http_parse(req, n ? b : NULL, n, lim);
	a.status = req->status;
	a.reason = req->reason;
	free(b);
	return a;
}

/*
 * Parses s whole (into *req, slices pointing into s), then every prefix
 * of it: each prefix must answer "need more" or exactly the whole answer.
 */
static int parse_n_checked(tern__http_request *req, const char *s, size_t n,
			   const tern__http_limits *lim)
{
	static tern__http_request part;
	int whole = tern__http_parse(req, (const uint8_t *)s, n, lim);

	for (size_t i = 0; i < n; i++) {
		answer a = parse_n(&part, s, i, lim);
		if (a.rc == TERN__HTTP_NEED_MORE) {
			cr_assert_eq(a.status, 0);
			cr_assert_null(a.reason);
			continue;
		}
		cr_assert_eq(a.rc, whole, "prefix %zu of %zu: rc %d, whole %d", i, n,
			     a.rc, whole);
		cr_assert_eq(a.status, req->status);
		cr_assert((!a.reason && !req->reason) ||
			  (a.reason && req->reason && !strcmp(a.reason, req->reason)));
	}
	return whole;
}

static int parse_checked(tern__http_request *req, const char *s,
			 const tern__http_limits *lim)
{
	return parse_n_checked(req, s, strlen(s), lim);
}

static tern__http_request req;

static bool slice_is(tern_slice s, const char *z)
{
	return s.n == strlen(z) && (s.n == 0 || memcmp(s.p, z, s.n) == 0);
}

#define REFUSED(input, err, st, why)                                           \
	do {                                                                   \
		int rc_ = parse_checked(&req, (input), NULL);                  \
		cr_assert_eq(rc_, (err), "rc %d for %s", rc_, #input);         \
		cr_assert_eq(req.status, (st), "status %d for %s", req.status, #input); \
		cr_assert_str_eq(req.reason, (why));                           \
	} while (0)

/* ---- accepted requests --------------------------------------------------- */

Test(http, simple_get)
{
	const char *s = "GET /chat?x=1&y=%41 HTTP/1.1\r\n"
			"Host: relay.example.com\r\n"
			"Upgrade: websocket\r\n"
			"\r\n";
	int rc = parse_checked(&req, s, NULL);

	cr_assert_eq(rc, (int)strlen(s));
	cr_assert_eq(req.head_len, strlen(s));
	cr_assert_eq(req.method_id, TERN__HTTP_GET);
	cr_assert(slice_is(req.method, "GET"));
	cr_assert(slice_is(req.target, "/chat?x=1&y=%41"));
	cr_assert(slice_is(req.path, "/chat"));
	cr_assert(slice_is(req.query, "x=1&y=%41"));
	cr_assert_eq(req.minor_version, 1);
	cr_assert_eq(req.n_headers, 2);
	cr_assert(slice_is(req.headers[0].name, "Host"));
	cr_assert(slice_is(req.headers[0].value, "relay.example.com"));
	cr_assert(slice_is(req.headers[1].name, "Upgrade"));
	cr_assert(slice_is(req.headers[1].value, "websocket"));
	cr_assert_not(req.has_content_length);
	cr_assert_eq(req.status, 0);
	cr_assert_null(req.reason);
}

Test(http, query_slices)
{
	parse_checked(&req, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", NULL);
	cr_assert(slice_is(req.path, "/"));
	cr_assert_null(req.query.p, "no '?' means no query");
	cr_assert_eq(req.query.n, 0);

	parse_checked(&req, "GET /? HTTP/1.1\r\nHost: h\r\n\r\n", NULL);
	cr_assert(slice_is(req.path, "/"));
	cr_assert_not_null(req.query.p, "'?' gives an empty, present query");
	cr_assert_eq(req.query.n, 0);

	parse_checked(&req, "GET /a/b?c?d=/:@!$&'()*+,;=-._~ HTTP/1.1\r\nHost: h\r\n\r\n", NULL);
	cr_assert(slice_is(req.path, "/a/b"));
	cr_assert(slice_is(req.query, "c?d=/:@!$&'()*+,;=-._~"));
}

Test(http, methods)
{
	static const struct { const char *m; tern__http_method id; } cases[] = {
		{ "GET", TERN__HTTP_GET }, { "HEAD", TERN__HTTP_HEAD },
		{ "POST", TERN__HTTP_POST }, { "OPTIONS", TERN__HTTP_OPTIONS },
		{ "PATCH", TERN__HTTP_OTHER }, { "get", TERN__HTTP_OTHER },
		{ "M-SEARCH", TERN__HTTP_OTHER },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(buf, sizeof buf, "%s / HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].m);
		cr_assert_gt(parse_checked(&req, buf, NULL), 0);
		cr_assert_eq(req.method_id, cases[i].id, "%s", cases[i].m);
		cr_assert(slice_is(req.method, cases[i].m));
	}
}

Test(http, ows_trimmed_and_empty_values)
{
	const char *s = "GET / HTTP/1.1\r\n"
			"Host:h\r\n"
			"A: \t spaced  out \t \r\n"
			"B:\r\n"
			"C:   \r\n"
			"D: caf\xc3\xa9\x80\xff\r\n"
			"\r\n";

	cr_assert_gt(parse_checked(&req, s, NULL), 0);
	cr_assert_eq(req.n_headers, 5);
	cr_assert(slice_is(req.headers[0].value, "h"));
	cr_assert(slice_is(req.headers[1].value, "spaced  out"));
	cr_assert(slice_is(req.headers[2].value, ""));
	cr_assert(slice_is(req.headers[3].value, ""));
	cr_assert(slice_is(req.headers[4].value, "caf\xc3\xa9\x80\xff"), "obs-text allowed");
}

Test(http, leading_empty_lines_skipped)
{
	const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";

	cr_assert_eq(parse_checked(&req, s, NULL), (int)strlen(s));
	cr_assert(slice_is(req.method, "GET"));
}

Test(http, http10_without_host)
{
	const char *s = "GET /x HTTP/1.0\r\n\r\n";

	cr_assert_eq(parse_checked(&req, s, NULL), (int)strlen(s));
	cr_assert_eq(req.minor_version, 0);
	cr_assert_eq(req.n_headers, 0);
}

Test(http, body_and_pipelining_left_alone)
{
	const char *s = "POST /admin HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
			"hello"
			"GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t head = strlen("POST /admin HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
	int rc = parse_checked(&req, s, NULL);

	cr_assert_eq(rc, (int)head);
	cr_assert(req.has_content_length);
	cr_assert_eq(req.content_length, 5);
	rc = parse_checked(&req, s + head + 5, NULL);
	cr_assert_eq(rc, (int)strlen(s + head + 5));
	cr_assert(slice_is(req.path, "/next"));
}

Test(http, need_more_and_empty_input)
{
	cr_assert_eq(tern__http_parse(&req, NULL, 0, NULL), TERN__HTTP_NEED_MORE);
	cr_assert_eq(parse_n(&req, "GET / HTTP/1.1\r\nHost: h\r\n\r", 26, NULL).rc,
		     TERN__HTTP_NEED_MORE);
	cr_assert_eq(req.status, 0);
	cr_assert_null(req.reason);
}

/* Feeding one byte at a time into a growing buffer: the answer appears
 * exactly when the last byte of the head arrives. */
Test(http, byte_by_byte_equals_whole)
{
	const char *s = "GET /feed?a=b HTTP/1.1\r\nHost: h:7777\r\nConnection: Upgrade\r\n\r\n";
	size_t n = strlen(s);
	uint8_t buf[256];
	tern__http_request r2;

	for (size_t i = 1; i <= n; i++) {
		memcpy(buf, s, i);
		int rc = tern__http_parse(&r2, buf, i, NULL);
		if (i < n)
			cr_assert_eq(rc, TERN__HTTP_NEED_MORE, "at %zu", i);
		else
			cr_assert_eq(rc, (int)n);
	}
	cr_assert(slice_is(r2.query, "a=b"));
	cr_assert_eq(r2.n_headers, 2);
}

/* ---- refusals ------------------------------------------------------------ */

Test(http, request_line_refusals)
{
	REFUSED(" GET / HTTP/1.1\r\n", TERN_EPARSE, 400,
		"request-line must start with a method token");
	REFUSED("G(T / HTTP/1.1\r\n", TERN_EPARSE, 400, "invalid character in method");
	REFUSED("GET\t/ HTTP/1.1\r\n", TERN_EPARSE, 400, "invalid character in method");
	REFUSED("\nGET / HTTP/1.1\r\n", TERN_EPARSE, 400, "bare LF (lines must end with CRLF)");
	REFUSED("\rGET / HTTP/1.1\r\n", TERN_EPARSE, 400, "CR not followed by LF");
	REFUSED("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n", TERN_EPARSE, 501,
		"method not implemented (token too long)");
	REFUSED("GET  / HTTP/1.1\r\n", TERN_EPARSE, 400,
		"request-target must be origin-form (start with '/')");
	REFUSED("GET http://h/ HTTP/1.1\r\n", TERN_EPARSE, 400,
		"request-target must be origin-form (start with '/')");
	REFUSED("OPTIONS * HTTP/1.1\r\n", TERN_EPARSE, 400,
		"request-target must be origin-form (start with '/')");
	REFUSED("GET /a#frag HTTP/1.1\r\n", TERN_EPARSE, 400,
		"invalid character in request-target");
	REFUSED("GET /a|b HTTP/1.1\r\n", TERN_EPARSE, 400, "invalid character in request-target");
	REFUSED("GET /caf\xc3\xa9 HTTP/1.1\r\n", TERN_EPARSE, 400,
		"invalid character in request-target");
	REFUSED("GET /\r\n", TERN_EPARSE, 400, "invalid character in request-target");
	REFUSED("GET /%zz HTTP/1.1\r\n", TERN_EPARSE, 400,
		"invalid percent-encoding in request-target");
	REFUSED("GET /%4 HTTP/1.1\r\n", TERN_EPARSE, 400,
		"invalid percent-encoding in request-target");
	REFUSED("GET / HTTP/1.1 \r\n", TERN_EPARSE, 400, "malformed HTTP-version");
	REFUSED("GET / http/1.1\r\n", TERN_EPARSE, 400, "malformed HTTP-version");
	REFUSED("GET / HTTP/1.11\r\n", TERN_EPARSE, 400, "malformed HTTP-version");
	REFUSED("GET / HTTP/11\r\n", TERN_EPARSE, 400, "malformed HTTP-version");
	REFUSED("GET /a b HTTP/1.1\r\n", TERN_EPARSE, 400, "malformed HTTP-version");
	REFUSED("GET / HTTP/1.1\n", TERN_EPARSE, 400, "bare LF (lines must end with CRLF)");
	REFUSED("GET / HTTP/1.1\rX", TERN_EPARSE, 400, "CR not followed by LF");
	REFUSED("GET / HTTP/2.0\r\n", TERN_EPARSE, 505, "HTTP version not supported");
	REFUSED("GET / HTTP/1.2\r\n", TERN_EPARSE, 505, "HTTP version not supported");
	REFUSED("GET / HTTP/0.9\r\n", TERN_EPARSE, 505, "HTTP version not supported");
}

Test(http, field_refusals)
{
#define L1 "GET / HTTP/1.1\r\n"
	REFUSED(L1 "Host : h\r\n\r\n", TERN_EPARSE, 400,
		"whitespace between header field name and colon");
	REFUSED(L1 "Host\t: h\r\n\r\n", TERN_EPARSE, 400,
		"whitespace between header field name and colon");
	REFUSED(L1 " Host: h\r\n\r\n", TERN_EPARSE, 400,
		"whitespace before the first header field");
	REFUSED(L1 "Host: h\r\nX: a\r\n b\r\n\r\n", TERN_EPARSE, 400,
		"obsolete line folding in header field");
	REFUSED(L1 "Host: h\r\nX: a\r\n\tb\r\n\r\n", TERN_EPARSE, 400,
		"obsolete line folding in header field");
	REFUSED(L1 "Ho(st: h\r\n\r\n", TERN_EPARSE, 400, "invalid character in header field name");
	REFUSED(L1 ": h\r\n\r\n", TERN_EPARSE, 400, "empty header field name");
	REFUSED(L1 "Host\r\n\r\n", TERN_EPARSE, 400, "header field line without colon");
	REFUSED(L1 "Host: h\nX: y\r\n\r\n", TERN_EPARSE, 400, "bare LF (lines must end with CRLF)");
	REFUSED(L1 "Host: h\r\n\n", TERN_EPARSE, 400, "bare LF (lines must end with CRLF)");
	REFUSED(L1 "Host: h\r\n\rX", TERN_EPARSE, 400, "CR not followed by LF");
	REFUSED(L1 "X: a\rb\r\n\r\n", TERN_EPARSE, 400, "CR not followed by LF");
	REFUSED(L1 "X: a\x01b\r\n\r\n", TERN_EPARSE, 400, "control character in header field value");
	REFUSED(L1 "X: a\x7f\r\n\r\n", TERN_EPARSE, 400, "control character in header field value");
	cr_assert_eq(parse_n_checked(&req, L1 "X: a\0b\r\n\r\n", sizeof(L1) - 1 + 10, NULL),
		     TERN_EPARSE);
	cr_assert_str_eq(req.reason, "control character in header field value");
}

Test(http, head_refusals)
{
	REFUSED(L1 "\r\n", TERN_EPARSE, 400, "missing Host header");
	REFUSED(L1 "Host: a\r\nhost: b\r\n\r\n", TERN_EPARSE, 400, "more than one Host header");
	REFUSED("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n", TERN_EPARSE, 400,
		"more than one Host header");
	REFUSED(L1 "Host: a/b\r\n\r\n", TERN_EPARSE, 400, "invalid Host header");
	REFUSED(L1 "Host: a b\r\n\r\n", TERN_EPARSE, 400, "invalid Host header");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", TERN_EPARSE,
		501, "Transfer-Encoding not supported");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", TERN_EPARSE,
		501, "Transfer-Encoding not supported");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		TERN_EPARSE, 400, "both Transfer-Encoding and Content-Length");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		TERN_EPARSE, 400, "more than one Content-Length header");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", TERN_EPARSE, 400,
		"invalid Content-Length");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n", TERN_EPARSE, 400,
		"invalid Content-Length");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", TERN_EPARSE, 400,
		"invalid Content-Length");
	REFUSED("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
		TERN_EPARSE, 400, "invalid Content-Length");
}

/* ---- limits -------------------------------------------------------------- */

Test(http, head_limit_boundary)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: 0123456789\r\n\r\n";
	size_t n = strlen(s);
	tern__http_limits lim = { .max_head_bytes = n };

	cr_assert_eq(parse_checked(&req, s, &lim), (int)n, "exactly at the limit");
	lim.max_head_bytes = n - 1;
	cr_assert_eq(parse_checked(&req, s, &lim), TERN_ETOOBIG);
	cr_assert_eq(req.status, 431);
	cr_assert_str_eq(req.reason, "request head larger than the limit");
	/* The caller only ever needs max_head_bytes buffered for an answer. */
	cr_assert_eq(parse_n(&req, s, n - 1, &lim).rc, TERN_ETOOBIG);
	cr_assert_eq(parse_n(&req, s, n - 2, &lim).rc, TERN__HTTP_NEED_MORE);
}

Test(http, head_limit_default)
{
	size_t n = 9000;
	char *s = malloc(n + 1);
	const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ";

	memset(s, 'a', n);
	memcpy(s, pre, strlen(pre));
	memcpy(s + n - 4, "\r\n\r\n", 4);
	s[n] = '\0';
	cr_assert_eq(parse_checked(&req, s, NULL), TERN_ETOOBIG);
	cr_assert_eq(req.status, 431);
	/* A bare LF past the limit does not change the answer. */
	s[TERN__HTTP_DEFAULT_MAX_HEAD + 10] = '\n';
	cr_assert_eq(parse_n(&req, s, n, NULL).rc, TERN_ETOOBIG);
	/* One before it does: the first offending byte decides. */
	s[TERN__HTTP_DEFAULT_MAX_HEAD - 10] = '\n';
	cr_assert_eq(parse_n(&req, s, n, NULL).status, 400);
	free(s);
}

Test(http, header_count_limit)
{
	const char *s = L1 "Host: h\r\nA: 1\r\nB: 2\r\n\r\n";
	tern__http_limits lim = { .max_headers = 3 };

	cr_assert_gt(parse_checked(&req, s, &lim), 0);
	cr_assert_eq(req.n_headers, 3);
	lim.max_headers = 2;
	cr_assert_eq(parse_checked(&req, s, &lim), TERN_ETOOBIG);
	cr_assert_eq(req.status, 431);
	cr_assert_str_eq(req.reason, "too many header fields");
}

Test(http, header_count_default_and_cap)
{
	char *s = malloc(16384), *p = s;
	tern__http_limits lim = { .max_headers = 100000 };

	p += sprintf(p, L1 "Host: h\r\n");
	for (int i = 1; i < 64; i++)
		p += sprintf(p, "X%d: %d\r\n", i, i);
	strcpy(p, "\r\n");
	cr_assert_gt(parse_checked(&req, s, NULL), 0, "64 fields pass by default");
	strcpy(p, "Y: 1\r\n\r\n");
	cr_assert_eq(parse_checked(&req, s, NULL), TERN_ETOOBIG);
	cr_assert_str_eq(req.reason, "too many header fields");

	/* A huge max_headers is clamped to the array capacity. */
	p = s + sprintf(s, L1 "Host: h\r\n");
	for (int i = 1; i <= TERN__HTTP_HEADERS_CAP; i++)
		p += sprintf(p, "X%d: %d\r\n", i, i);
	strcpy(p, "\r\n");
	lim.max_head_bytes = 16384;
	cr_assert_eq(tern__http_parse(&req, (const uint8_t *)s, strlen(s), &lim), TERN_ETOOBIG);
	cr_assert_eq(req.status, 431);
	free(s);
}

Test(http, target_limit)
{
	const char *s = "GET /0123456789 HTTP/1.1\r\nHost: h\r\n\r\n";
	tern__http_limits lim = { .max_target = 11 };

	cr_assert_gt(parse_checked(&req, s, &lim), 0, "exactly at the limit");
	lim.max_target = 10;
	cr_assert_eq(parse_checked(&req, s, &lim), TERN_ETOOBIG);
	cr_assert_eq(req.status, 414);
	cr_assert_str_eq(req.reason, "request-target too long");
	/* Refused as soon as the limit is crossed, before the line ends. */
	cr_assert_eq(parse_n(&req, s, 15, &lim).rc, TERN_ETOOBIG);
}

/* ---- helpers ------------------------------------------------------------- */

Test(http, header_lookup)
{
	const char *s = L1 "Host: h\r\nconnection: keep-alive\r\nCONNECTION: Upgrade\r\n\r\n";
	const tern__http_header *h;

	cr_assert_gt(parse_checked(&req, s, NULL), 0);
	h = tern__http_header_find(&req, "Connection");
	cr_assert_not_null(h);
	cr_assert(slice_is(h->value, "keep-alive"), "first line wins");
	cr_assert_eq(tern__http_header_count(&req, "connection"), 2);
	cr_assert_null(tern__http_header_find(&req, "upgrade"));
	cr_assert_null(tern__http_header_find(&req, "Hos"));
	cr_assert(tern__http_header_has_token(&req, "connection", "upgrade"),
		  "tokens are searched across lines");
	cr_assert_not(tern__http_header_has_token(&req, "connection", "close"));
}

static bool has(const char *list, const char *tok)
{
	return tern__http_list_has_token((tern_slice){ (const uint8_t *)list, strlen(list) }, tok);
}

Test(http, token_lists)
{
	cr_assert(has("keep-alive, Upgrade", "upgrade"));
	cr_assert(has("UPGRADE", "upgrade"));
	cr_assert(has(" ,\t, upgrade \t,", "upgrade"));
	cr_assert(has("a,upgrade", "upgrade"));
	cr_assert_not(has("upgrade-insecure", "upgrade"));
	cr_assert_not(has("upgrade;q=1", "upgrade"));
	cr_assert_not(has("up grade", "upgrade"));
	cr_assert_not(has("", "upgrade"));
	cr_assert_not(has(",,,", "upgrade"));
	cr_assert_not(has("keep-alive", "upgrade"));
}

static int cl(const char *v, uint64_t *out)
{
	return tern__http_content_length((tern_slice){ (const uint8_t *)v, strlen(v) }, out);
}

Test(http, content_length)
{
	uint64_t v = 77;

	cr_assert_eq(cl("0", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(cl("12345", &v), 0);
	cr_assert_eq(v, 12345);
	cr_assert_eq(cl("007", &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(cl("9223372036854775807", &v), 0);
	cr_assert_eq(v, 9223372036854775807ULL);
	v = 1;
	cr_assert_eq(cl("9223372036854775808", &v), TERN_EPARSE);
	cr_assert_eq(cl("18446744073709551616", &v), TERN_EPARSE);
	cr_assert_eq(cl("", &v), TERN_EPARSE);
	cr_assert_eq(cl("+1", &v), TERN_EPARSE);
	cr_assert_eq(cl("-1", &v), TERN_EPARSE);
	cr_assert_eq(cl(" 1", &v), TERN_EPARSE);
	cr_assert_eq(cl("1 ", &v), TERN_EPARSE);
	cr_assert_eq(cl("0x10", &v), TERN_EPARSE);
	cr_assert_eq(v, 1, "untouched on error");
}
