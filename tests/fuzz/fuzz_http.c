/*
 * libFuzzer target for the HTTP request-head parser (src/http/request.c)
 * and, on heads it accepts, the WebSocket handshake (src/ws/handshake.c).
 *
 * Input: two option bytes, then the bytes of the connection.
 *   byte 0: bit 7 set -> default max_head_bytes, else 24 + 4 * (b & 0x7f)
 *   byte 1: low nibble -> max_headers (0 = default), high nibble ->
 *           max_target = 8 * n (0 = default)
 *
 * Checked:
 *  - every call parses an exact-size heap copy, so ASan catches any read
 *    past len;
 *  - incremental feeding agrees with the whole input: every prefix (all of
 *    them for short inputs, a spread of them otherwise, always including
 *    the ones around the end of the head) answers "need more" or exactly
 *    the whole answer (return value, status, reason);
 *  - bytes after a decided answer never change it;
 *  - the answer is well-formed: statuses match error codes, accepted
 *    heads end with CRLFCRLF, every slice lies inside the input, names are
 *    tokens, values carry no outer whitespace, no CR/LF inside a value;
 *  - on accepted heads the handshake validation runs; an accepted
 *    handshake has a 28-byte accept key equal to a recomputation and a
 *    101 response that fits in TERN__WS_RESPONSE_MAX bytes; a refusal has a status and reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "http/request.h"
#include "ws/handshake.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_http: check failed: %s (line %d)\n", \
				#cond, __LINE__);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* Up to this size every split position is checked. */
#define ALL_SPLITS_MAX 512
/* Above it, this many positions spread over the input. */
#define SOME_SPLITS 48

static tern__http_request whole, part;

static int parse_copy(tern__http_request *req, const uint8_t *data, size_t n,
		      const tern__http_limits *lim)
{
	uint8_t *b = malloc(n ? n : 1);
	int rc;

	CHECK(b);
	if (n)
		memcpy(b, data, n);
	rc = tern__http_parse(req, n ? b : NULL, n, lim);
	free(b);
	return rc;
}

static bool same_reason(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_prefix(const uint8_t *data, size_t n, size_t i, int rc,
			 const tern__http_limits *lim)
{
	int prc = parse_copy(&part, data, i, lim);

	if (prc == TERN__HTTP_NEED_MORE) {
		CHECK(part.status == 0 && part.reason == NULL);
		return;
	}
	CHECK(prc == rc);
	CHECK(part.status == whole.status);
	CHECK(same_reason(part.reason, whole.reason));
	(void)n;
}

static bool in_buf(tern_slice s, const uint8_t *buf, size_t len)
{
	if (s.n == 0)
		return true;
	return s.p >= buf && s.p + s.n <= buf + len;
}

static bool is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_success(const uint8_t *buf, size_t len, int rc,
			  const tern__http_limits *lim)
{
	size_t max_headers = lim->max_headers ? lim->max_headers
					      : TERN__HTTP_DEFAULT_MAX_HEADERS;
	size_t max_head = lim->max_head_bytes ? lim->max_head_bytes
					      : TERN__HTTP_DEFAULT_MAX_HEAD;
	size_t max_target = lim->max_target ? lim->max_target
					    : TERN__HTTP_DEFAULT_MAX_TARGET;

	CHECK((size_t)rc <= len && rc >= 16); /* "G / HTTP/1.0\r\n\r\n" */
	CHECK((size_t)rc <= max_head);
	CHECK(whole.head_len == (size_t)rc);
	CHECK(memcmp(buf + rc - 4, "\r\n\r\n", 4) == 0);
	CHECK(whole.status == 0 && whole.reason == NULL);
	CHECK(whole.minor_version == 0 || whole.minor_version == 1);
	CHECK(whole.n_headers <= max_headers);
	CHECK(whole.method.n >= 1 && whole.method.n <= TERN__HTTP_METHOD_MAX);
	CHECK(in_buf(whole.method, buf, len) && in_buf(whole.target, buf, len));
	CHECK(whole.target.n >= 1 && whole.target.n <= max_target);
	CHECK(whole.target.p[0] == '/');
	CHECK(whole.path.p == whole.target.p && whole.path.n <= whole.target.n);
	if (whole.query.p) {
		CHECK(whole.path.n + 1 + whole.query.n == whole.target.n);
		CHECK(whole.target.p[whole.path.n] == '?');
	} else {
		CHECK(whole.path.n == whole.target.n);
	}
	for (size_t i = 0; i < whole.n_headers; i++) {
		tern_slice nm = whole.headers[i].name, v = whole.headers[i].value;
		CHECK(nm.n > 0 && in_buf(nm, buf, rc) && in_buf(v, buf, rc));
		for (size_t k = 0; k < nm.n; k++)
			CHECK(is_tchar(nm.p[k]));
		if (v.n) {
			CHECK(v.p[0] != ' ' && v.p[0] != '\t');
			CHECK(v.p[v.n - 1] != ' ' && v.p[v.n - 1] != '\t');
		}
		for (size_t k = 0; k < v.n; k++)
			CHECK(v.p[k] != '\r' && v.p[k] != '\n' && v.p[k] != 0);
	}
	CHECK(whole.has_content_length || whole.content_length == 0);
	CHECK(!tern__http_header_find(&whole, "transfer-encoding"));
	CHECK(tern__http_header_count(&whole, "host") <= 1);
}

static void check_handshake(void)
{
	tern__ws_deflate_policy pol;
	tern__ws_handshake hs;
	char resp[TERN__WS_RESPONSE_MAX], again[TERN__WS_ACCEPT_LEN + 1];
	size_t n = 0;
	int rc;

	tern__ws_deflate_policy_default(&pol);
	pol.server_max_window_bits = 12;
	pol.client_max_window_bits = 10;
	rc = tern__ws_handshake_check(&whole, &pol, &hs);
	if (rc) {
		CHECK(rc == TERN_EPARSE);
		CHECK(hs.status == 400 || hs.status == 405 || hs.status == 426);
		CHECK(hs.reason && !hs.deflate.enabled);
		CHECK(tern__ws_handshake_response(&hs, resp, sizeof resp, &n) == TERN_EINVAL);
		return;
	}
	CHECK(hs.status == 0 && !hs.reason && !hs.extra_header);
	CHECK(strlen(hs.accept) == TERN__WS_ACCEPT_LEN);
	const tern__http_header *key = tern__http_header_find(&whole, "sec-websocket-key");
	CHECK(key && tern__ws_key_valid(key->value));
	CHECK(tern__ws_accept_key(key->value, again) == 0);
	CHECK(strcmp(again, hs.accept) == 0);
	if (hs.deflate.enabled) {
		CHECK(hs.deflate.server_max_window_bits >= 9 &&
		      hs.deflate.server_max_window_bits <= 12);
		CHECK(hs.deflate.client_max_window_bits >= 8 &&
		      hs.deflate.client_max_window_bits <= 15);
		CHECK(hs.deflate.server_no_context_takeover &&
		      hs.deflate.client_no_context_takeover);
	}
	CHECK(tern__ws_handshake_response(&hs, resp, sizeof resp, &n) == 0);
	CHECK(n == strlen(resp) && n > 4 && memcmp(resp + n - 4, "\r\n\r\n", 4) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern__http_limits lim = { 0 };
	int rc;

	if (size < 2)
		return 0;
	if (!(data[0] & 0x80))
		lim.max_head_bytes = 24 + 4 * (size_t)(data[0] & 0x7f);
	lim.max_headers = data[1] & 0x0f;
	lim.max_target = 8 * (size_t)(data[1] >> 4);
	data += 2;
	size -= 2;

	rc = parse_copy(&whole, data, size, &lim);
	if (rc == TERN__HTTP_NEED_MORE) {
		CHECK(whole.status == 0 && whole.reason == NULL);
	} else if (rc < 0) {
		CHECK(whole.reason != NULL);
		if (rc == TERN_ETOOBIG)
			CHECK(whole.status == 414 || whole.status == 431);
		else
			CHECK(rc == TERN_EPARSE && (whole.status == 400 ||
				whole.status == 501 || whole.status == 505));
	}

	/* Prefixes: need more, or the same answer. */
	if (size <= ALL_SPLITS_MAX) {
		for (size_t i = 0; i < size; i++)
			check_prefix(data, size, i, rc, &lim);
	} else {
		uint32_t h = 2166136261u;
		for (size_t i = 0; i < size; i += 1 + size / 64)
			h = (h ^ data[i]) * 16777619u;
		for (int k = 0; k < SOME_SPLITS; k++) {
			h = h * 1103515245u + 12345u;
			check_prefix(data, size, h % size, rc, &lim);
		}
		check_prefix(data, size, size - 1, rc, &lim);
		if (rc > 0) {
			check_prefix(data, size, (size_t)rc - 1, rc, &lim);
			check_prefix(data, size, (size_t)rc, rc, &lim);
		}
	}

	/* A decided answer does not depend on later bytes. */
	if (rc != TERN__HTTP_NEED_MORE) {
		uint8_t *more = malloc(size + 1);
		CHECK(more);
		memcpy(more, data, size);
		more[size] = '\n';
		CHECK(tern__http_parse(&part, more, size + 1, &lim) == rc);
		CHECK(part.status == whole.status && same_reason(part.reason, whole.reason));
		free(more);
	}

	if (rc > 0) {
		/* whole's slices point into a freed copy: parse the input in
		 * place for the structural checks and the handshake. */
		CHECK(tern__http_parse(&whole, data, size, &lim) == rc);
		check_success(data, size, rc, &lim);
		check_handshake();
	}
	return 0;
}
