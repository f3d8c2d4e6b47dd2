/* Unit tests for src/ws/frame.c: the WebSocket frame parser and writer. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "ws/frame.h"

/* ---- helpers ----------------------------------------------------------- */

#define MAX_EVENTS 64

typedef struct {
	uint8_t opcode;
	bool compressed;
	uint16_t close_code;
	size_t n;
	uint8_t *p; /* copy of the payload */
} rec_event;

typedef struct {
	rec_event ev[MAX_EVENTS];
	int count;
	int rc;              /* final return code */
	uint16_t err_code;   /* close code after an error */
	const char *err;     /* reason after an error */
} run_result;

static void result_free(run_result *r)
{
	for (int k = 0; k < r->count; k++)
		free(r->ev[k].p);
	r->count = 0;
}

/*
 * Feeds in[0..len) to a fresh parser in chunks of `chunk` bytes (0: all
 * at once), on a private copy (the parser unmasks in place).
 */
static void run(const uint8_t *in, size_t len, size_t chunk, uint64_t max, bool deflate,
		run_result *r)
{
	tern__ws_parser p;
	tern__ws_buf buf = { 0 };
	uint8_t *copy = malloc(len ? len : 1);
	size_t off = 0;

	memcpy(copy, in, len);
	memset(r, 0, sizeof *r);
	cr_assert_eq(tern__ws_parser_init(&p, max, deflate), 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len) {
		size_t end = off + chunk < len ? off + chunk : len;

		while (off < end) {
			tern__ws_event ev;
			size_t used;
			int rc = tern__ws_parse(&p, copy + off, end - off, &buf, &ev, &used);

			cr_assert_leq(used, end - off);
			off += used;
			if (rc) {
				r->rc = rc;
				r->err_code = ev.close_code;
				r->err = ev.error;
				cr_assert_not_null(ev.error);
				goto out;
			}
			if (!ev.opcode) {
				cr_assert_eq(off, end, "need-more must consume everything");
				break;
			}
			cr_assert_lt(r->count, MAX_EVENTS);
			rec_event *e = &r->ev[r->count++];
			e->opcode = ev.opcode;
			e->compressed = ev.compressed;
			e->close_code = ev.close_code;
			e->n = ev.payload.n;
			e->p = malloc(e->n ? e->n : 1);
			if (e->n)
				memcpy(e->p, ev.payload.p, e->n);
		}
	}
out:
	tern__ws_buf_free(&buf);
	free(copy);
}

static bool same_result(const run_result *a, const run_result *b)
{
	if (a->count != b->count || a->rc != b->rc || a->err_code != b->err_code)
		return false;
	if ((a->err == NULL) != (b->err == NULL) || (a->err && strcmp(a->err, b->err)))
		return false;
	for (int k = 0; k < a->count; k++) {
		const rec_event *x = &a->ev[k], *y = &b->ev[k];

		if (x->opcode != y->opcode || x->compressed != y->compressed ||
		    x->close_code != y->close_code || x->n != y->n || memcmp(x->p, y->p, x->n))
			return false;
	}
	return true;
}

/* Checks that every chunking gives the same result as the whole input. */
static void run_all_splits(const uint8_t *in, size_t len, uint64_t max, bool deflate,
			   run_result *whole)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 13, 64 };

	run(in, len, 0, max, deflate, whole);
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		run_result r;

		run(in, len, chunks[k], max, deflate, &r);
		cr_assert(same_result(whole, &r), "chunk size %zu differs from whole input",
			  chunks[k]);
		result_free(&r);
	}
}

/* Appends a masked client frame with first byte b0 (minimal length). */
static size_t put_frame(uint8_t *out, uint8_t b0, const void *payload, size_t n,
			const uint8_t key[4])
{
	size_t h = tern__ws_frame_header(out, 0, false, false, n);
	const uint8_t *pl = payload;

	out[0] = b0;
	out[1] |= 0x80;
	memcpy(out + h, key, 4);
	for (size_t k = 0; k < n; k++)
		out[h + 4 + k] = pl[k] ^ key[k & 3];
	return h + 4 + n;
}

static const uint8_t key1[4] = { 0x37, 0xfa, 0x21, 0x3d };
static const uint8_t key2[4] = { 0xa1, 0x00, 0x5c, 0xff };

static void expect_error(const uint8_t *in, size_t len, uint64_t max, bool deflate, int rc,
			 uint16_t code)
{
	run_result r;

	run_all_splits(in, len, max, deflate, &r);
	cr_assert_eq(r.rc, rc, "rc %d, expected %d (%s)", r.rc, rc, r.err ? r.err : "-");
	cr_assert_eq(r.err_code, code, "close code %u, expected %u (%s)", r.err_code, code,
		     r.err ? r.err : "-");
	result_free(&r);
}

/* ---- RFC 6455 section 5.7 examples ------------------------------------- */

Test(ws_frame, rfc_masked_hello_in_place)
{
	uint8_t in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	tern__ws_parser p;
	tern__ws_buf buf = { 0 };
	tern__ws_event ev;
	size_t used;

	cr_assert_eq(tern__ws_parser_init(&p, 1000, false), 0);
	cr_assert_eq(tern__ws_parse(&p, in, sizeof in, &buf, &ev, &used), 0);
	cr_assert_eq(used, sizeof in);
	cr_assert_eq(ev.opcode, TERN__WS_OP_TEXT);
	cr_assert_not(ev.compressed);
	cr_assert_eq(ev.payload.n, 5);
	cr_assert_eq(memcmp(ev.payload.p, "Hello", 5), 0);
	/* Whole frame in one chunk: unmasked in place, nothing buffered. */
	cr_assert_eq(ev.payload.p, in + 6);
	cr_assert_null(buf.p);
	cr_assert(tern__ws_parser_idle(&p));
}

Test(ws_frame, rfc_unmasked_hello_is_refused)
{
	const uint8_t in[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };

	expect_error(in, sizeof in, 1000, false, TERN_EPARSE, 1002);
}

Test(ws_frame, rfc_fragmented_hello)
{
	uint8_t in[64];
	size_t n = 0;
	run_result r;

	n += put_frame(in + n, 0x01, "Hel", 3, key1);
	n += put_frame(in + n, 0x80, "lo", 2, key2);
	run_all_splits(in, n, 1000, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].opcode, TERN__WS_OP_TEXT);
	cr_assert_eq(r.ev[0].n, 5);
	cr_assert_eq(memcmp(r.ev[0].p, "Hello", 5), 0);
	result_free(&r);
}

Test(ws_frame, rfc_ping_and_masked_pong)
{
	const uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	uint8_t in[64];
	size_t n;
	run_result r;

	n = put_frame(in, 0x89, "Hello", 5, key2);
	memcpy(in + n, pong, sizeof pong);
	n += sizeof pong;
	run_all_splits(in, n, 1000, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 2);
	cr_assert_eq(r.ev[0].opcode, TERN__WS_OP_PING);
	cr_assert_eq(r.ev[1].opcode, TERN__WS_OP_PONG);
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(r.ev[k].n, 5);
		cr_assert_eq(memcmp(r.ev[k].p, "Hello", 5), 0);
	}
	result_free(&r);
}

static void big_binary(size_t size, const uint8_t *expect_hdr, size_t hdr_len)
{
	uint8_t *payload = malloc(size), *in = malloc(size + 14);
	size_t n;
	run_result r;

	for (size_t k = 0; k < size; k++)
		payload[k] = (uint8_t)(k * 7 + 3);
	n = put_frame(in, 0x82, payload, size, key1);
	/* The masked header is the RFC's unmasked one plus the mask bit. */
	cr_assert_eq(n, hdr_len + 4 + size);
	cr_assert_eq(in[0], expect_hdr[0]);
	cr_assert_eq(in[1], expect_hdr[1] | 0x80);
	cr_assert_eq(memcmp(in + 2, expect_hdr + 2, hdr_len - 2), 0);
	run(in, n, 0, 1 << 20, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].opcode, TERN__WS_OP_BINARY);
	cr_assert_eq(r.ev[0].n, size);
	cr_assert_eq(memcmp(r.ev[0].p, payload, size), 0);
	result_free(&r);
	run(in, n, 1000, 1 << 20, false, &r);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(memcmp(r.ev[0].p, payload, size), 0);
	result_free(&r);
	free(payload);
	free(in);
}

Test(ws_frame, rfc_256_bytes_and_64k)
{
	const uint8_t h256[] = { 0x82, 0x7E, 0x01, 0x00 };
	const uint8_t h64k[] = { 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };

	big_binary(256, h256, sizeof h256);
	big_binary(65536, h64k, sizeof h64k);
}

/* ---- writer ------------------------------------------------------------ */

Test(ws_frame, writer_headers_match_rfc)
{
	uint8_t h[TERN__WS_HEADER_MAX];
	const uint8_t hello[] = { 0x81, 0x05 };
	const uint8_t h256[] = { 0x82, 0x7E, 0x01, 0x00 };
	const uint8_t h64k[] = { 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };
	const uint8_t frag1[] = { 0x01, 0x03 }, frag2[] = { 0x80, 0x02 };
	const uint8_t comp[] = { 0xc1, 0x07 };

	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_TEXT, true, false, 5), 2);
	cr_assert_eq(memcmp(h, hello, 2), 0);
	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_BINARY, true, false, 256), 4);
	cr_assert_eq(memcmp(h, h256, 4), 0);
	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_BINARY, true, false, 65536), 10);
	cr_assert_eq(memcmp(h, h64k, 10), 0);
	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_TEXT, false, false, 3), 2);
	cr_assert_eq(memcmp(h, frag1, 2), 0);
	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_CONT, true, false, 2), 2);
	cr_assert_eq(memcmp(h, frag2, 2), 0);
	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_TEXT, true, true, 7), 2);
	cr_assert_eq(memcmp(h, comp, 2), 0);
	/* Length boundaries: minimal encodings only. */
	cr_assert_eq(tern__ws_frame_header(h, 1, true, false, 125), 2);
	cr_assert_eq(tern__ws_frame_header(h, 1, true, false, 126), 4);
	cr_assert_eq(tern__ws_frame_header(h, 1, true, false, 65535), 4);
	cr_assert_eq(h[2], 0xff);
	cr_assert_eq(tern__ws_frame_header(h, 1, true, false, 65536), 10);
	cr_assert_eq(tern__ws_frame_header(h, 1, true, false, 0x0102030405060708ull), 10);
	cr_assert_eq(h[2], 0x01);
	cr_assert_eq(h[9], 0x08);
}

Test(ws_frame, writer_control_frames)
{
	uint8_t f[TERN__WS_CLOSE_FRAME_MAX];
	const uint8_t ping[] = { 0x89, 0x05, 'H', 'e', 'l', 'l', 'o' };
	uint8_t big[126] = { 0 };

	cr_assert_eq(tern__ws_control_frame(f, TERN__WS_OP_PING, (const uint8_t *)"Hello", 5), 7);
	cr_assert_eq(memcmp(f, ping, 7), 0);
	cr_assert_eq(tern__ws_control_frame(f, TERN__WS_OP_PONG, NULL, 0), 2);
	cr_assert_eq(f[0], 0x8a);
	cr_assert_eq(f[1], 0);
	cr_assert_eq(tern__ws_control_frame(f, TERN__WS_OP_PONG, big, 125), 127);
	cr_assert_eq(tern__ws_control_frame(f, TERN__WS_OP_PONG, big, 126), 0);
	cr_assert_eq(tern__ws_control_frame(f, TERN__WS_OP_TEXT, big, 1), 0);
}

Test(ws_frame, writer_close_frames)
{
	uint8_t f[TERN__WS_CLOSE_FRAME_MAX];
	char reason[200];
	size_t n;

	n = tern__ws_close_frame(f, 0, "ignored", 7);
	cr_assert_eq(n, 2);
	cr_assert_eq(f[0], 0x88);
	cr_assert_eq(f[1], 0);
	n = tern__ws_close_frame(f, 1009, "too big", 7);
	cr_assert_eq(n, 11);
	cr_assert_eq(f[1], 9);
	cr_assert_eq(f[2], 0x03);
	cr_assert_eq(f[3], 0xf1);
	cr_assert_eq(memcmp(f + 4, "too big", 7), 0);
	n = tern__ws_close_frame(f, 1000, NULL, 99);
	cr_assert_eq(n, 4);
	/* 122 ASCII bytes then a 3-byte character: cut before it. */
	memset(reason, 'a', 122);
	memcpy(reason + 122, "\xe2\x82\xac", 3);
	n = tern__ws_close_frame(f, 1001, reason, 125);
	cr_assert_eq(n, 4 + 122);
	cr_assert(tern__utf8_valid(f + 4, n - 4));
	memset(reason, 'b', sizeof reason);
	n = tern__ws_close_frame(f, 1001, reason, sizeof reason);
	cr_assert_eq(n, 2 + 125);
	cr_assert_eq(f[1], 125);
}

/* Frames the writer builds (masked by the test) parse back unchanged. */
Test(ws_frame, writer_round_trip_through_parser)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	uint8_t *payload = malloc(70000), *in = malloc(70000 + 20);

	for (size_t k = 0; k < 70000; k++)
		payload[k] = (uint8_t)(k ^ (k >> 8));
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t h = tern__ws_frame_header(in, TERN__WS_OP_BINARY, true, false, sizes[s]);
		run_result r;

		in[1] |= 0x80;
		memcpy(in + h, key2, 4);
		for (size_t k = 0; k < sizes[s]; k++)
			in[h + 4 + k] = payload[k] ^ key2[k & 3];
		run(in, h + 4 + sizes[s], 0, 1 << 20, false, &r);
		cr_assert_eq(r.rc, 0, "size %zu: %s", sizes[s], r.err ? r.err : "");
		cr_assert_eq(r.count, 1);
		cr_assert_eq(r.ev[0].n, sizes[s]);
		cr_assert_eq(memcmp(r.ev[0].p, payload, sizes[s]), 0);
		result_free(&r);
	}
	free(payload);
	free(in);
}

/* ---- protocol errors --------------------------------------------------- */

Test(ws_frame, header_errors_and_codes)
{
	uint8_t in[64];
	size_t n;

	/* RSV2, RSV3. */
	n = put_frame(in, 0xA1, "x", 1, key1);
	expect_error(in, n, 100, true, TERN_EPARSE, 1002);
	n = put_frame(in, 0x91, "x", 1, key1);
	expect_error(in, n, 100, true, TERN_EPARSE, 1002);
	/* RSV1 without deflate. */
	n = put_frame(in, 0xC1, "x", 1, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1002);
	/* Unknown opcodes. */
	for (uint8_t op = 3; op <= 15; op++) {
		if (op >= 8 && op <= 10)
			continue;
		n = put_frame(in, (uint8_t)(0x80 | op), "x", 1, key1);
		expect_error(in, n, 100, false, TERN_EPARSE, 1002);
	}
	/* Control frames: FIN clear, RSV1 (even with deflate), 126 bytes. */
	n = put_frame(in, 0x09, "x", 1, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1002);
	n = put_frame(in, 0xC9, "x", 1, key1);
	expect_error(in, n, 100, true, TERN_EPARSE, 1002);
	{
		const uint8_t ctl126[] = { 0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4 };

		expect_error(ctl126, sizeof ctl126, 1000, false, TERN_EPARSE, 1002);
	}
	/* Unmasked data frame. */
	{
		const uint8_t unmasked[] = { 0x82, 0x01, 0x00 };

		expect_error(unmasked, sizeof unmasked, 100, false, TERN_EPARSE, 1002);
	}
}

Test(ws_frame, length_encoding_must_be_minimal)
{
	/* 16-bit form for 125 bytes; 64-bit form for 65535; top bit set. */
	const uint8_t len16[] = { 0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4 };
	const uint8_t len16_ok[] = { 0x82, 0xFE, 0x00, 0x7E, 1, 2, 3, 4 };
	const uint8_t len64[] = { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4 };
	const uint8_t len64_zero[] = { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	const uint8_t top[] = { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4 };
	run_result r;

	expect_error(len16, sizeof len16, 1 << 20, false, TERN_EPARSE, 1002);
	expect_error(len64, sizeof len64, 1 << 20, false, TERN_EPARSE, 1002);
	expect_error(len64_zero, sizeof len64_zero, 1 << 20, false, TERN_EPARSE, 1002);
	/* The top bit is checked before the size limit. */
	expect_error(top, sizeof top, UINT64_MAX, false, TERN_EPARSE, 1002);
	/* 126 in the 16-bit form is fine: need more, no error. */
	run(len16_ok, sizeof len16_ok, 0, 1 << 20, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 0);
}

Test(ws_frame, fragmentation_errors)
{
	uint8_t in[64];
	size_t n;

	/* Continuation with nothing started. */
	n = put_frame(in, 0x80, "x", 1, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1002);
	/* A new text frame while a message is open. */
	n = put_frame(in, 0x01, "a", 1, key1);
	n += put_frame(in + n, 0x81, "b", 1, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1002);
	/* Binary after an open text message, even with FIN. */
	n = put_frame(in, 0x01, "a", 1, key1);
	n += put_frame(in + n, 0x02, "b", 1, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1002);
	/* RSV1 on a continuation frame of a compressed message. */
	n = put_frame(in, 0x41, "a", 1, key1);
	n += put_frame(in + n, 0xC0, "b", 1, key1);
	expect_error(in, n, 100, true, TERN_EPARSE, 1002);
	/* Continuation after a completed message. */
	n = put_frame(in, 0x81, "a", 1, key1);
	n += put_frame(in + n, 0x80, "b", 1, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1002);
}

Test(ws_frame, too_big_is_decided_from_the_header)
{
	/* A header announcing 101 bytes with max 100, and no payload at all. */
	const uint8_t hdr[] = { 0x82, 0xE5, 1, 2, 3, 4 };
	uint8_t *in = malloc(400);
	uint8_t pl[101];
	size_t n;
	run_result r;

	memset(pl, 'x', sizeof pl);
	expect_error(hdr, sizeof hdr, 100, false, TERN_ETOOBIG, 1009);
	/* A 64-bit length far beyond the limit, before any payload. */
	{
		const uint8_t huge[] = { 0x82, 0xFF, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4 };

		expect_error(huge, sizeof huge, 1 << 20, false, TERN_ETOOBIG, 1009);
	}
	/* Exactly the limit is fine. */
	n = put_frame(in, 0x81, pl, 100, key1);
	run_all_splits(in, n, 100, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].n, 100);
	result_free(&r);
	/* Fragments: 60 + 40 fits; 60 + 41 fails at the second header. */
	n = put_frame(in, 0x01, pl, 60, key1);
	n += put_frame(in + n, 0x80, pl, 40, key2);
	run_all_splits(in, n, 100, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.ev[0].n, 100);
	result_free(&r);
	n = put_frame(in, 0x01, pl, 60, key1);
	n += tern__ws_frame_header(in + n, 0, true, false, 41);
	in[n - 1] |= 0x80;
	memcpy(in + n, key2, 4);
	n += 4; /* header only: refused before the payload arrives */
	expect_error(in, n, 100, false, TERN_ETOOBIG, 1009);
	/* Control frames do not count towards the message size. */
	n = put_frame(in, 0x01, pl, 60, key1);
	n += put_frame(in + n, 0x89, pl, 100, key2);
	n += put_frame(in + n, 0x80, pl, 40, key2);
	run_all_splits(in, n, 100, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 2);
	result_free(&r);
	/* Compressed: slack of max/8192 + 16 for stored blocks. */
	n = put_frame(in, 0xC2, pl, 100, key1);
	run(in, n, 0, 84, true, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert(r.ev[0].compressed);
	result_free(&r);
	expect_error(in, n, 83, true, TERN_ETOOBIG, 1009);
	free(in);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Reference decoder: computes code points, then checks the rules. */
static bool ref_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp, min;
		int more;

		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xE0) == 0xC0) {
			cp = s[i] & 0x1F, more = 1, min = 0x80;
		} else if ((s[i] & 0xF0) == 0xE0) {
			cp = s[i] & 0x0F, more = 2, min = 0x800;
		} else if ((s[i] & 0xF8) == 0xF0) {
			cp = s[i] & 0x07, more = 3, min = 0x10000;
		} else {
			return false;
		}
		if (i + (size_t)more >= n)
			return false;
		for (int k = 1; k <= more; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += (size_t)more + 1;
	}
	return true;
}

Test(ws_frame, utf8_matches_reference_exhaustively)
{
	uint8_t s[4];

	for (unsigned a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		cr_assert_eq(tern__utf8_valid(s, 1), ref_utf8(s, 1), "%02x", a);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			cr_assert_eq(tern__utf8_valid(s, 2), ref_utf8(s, 2), "%02x %02x", a, b);
			if (a < 0xE0 || a > 0xF4)
				continue;
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				bool got = tern__utf8_valid(s, 3);

				if (got != ref_utf8(s, 3))
					cr_assert_fail("%02x %02x %02x", a, b, c);
				if (a < 0xF0 || (b & 0xC0) != 0x80 || (c & 0xC0) != 0x80)
					continue;
				for (unsigned d = 0x70; d < 0xD0; d++) {
					s[3] = (uint8_t)d;
					if (tern__utf8_valid(s, 4) != ref_utf8(s, 4))
						cr_assert_fail("%02x %02x %02x %02x", a, b, c, d);
				}
			}
		}
	}
}

Test(ws_frame, utf8_random_strings_and_incremental_split)
{
	uint8_t s[40];
	unsigned seed = 12345;

	for (int iter = 0; iter < 200000; iter++) {
		size_t n = (size_t)(iter % 40);

		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			/* Bias towards lead and continuation bytes. */
			uint8_t c = (uint8_t)(seed >> 16);
			s[k] = (seed >> 8) & 1 ? (uint8_t)(0x80 | (c & 0x7F)) : c;
		}
		bool ref = ref_utf8(s, n);
		cr_assert_eq(tern__utf8_valid(s, n), ref);
		/* Split at every point: the incremental answer is the same. */
		for (size_t cut = 0; cut <= n; cut++) {
			uint8_t st = 0;
			bool ok = tern__utf8_step(&st, s, cut) && tern__utf8_step(&st, s + cut, n - cut) &&
				  st == 0;

			cr_assert_eq(ok, ref);
		}
	}
}

Test(ws_frame, utf8_split_across_fragments_and_calls)
{
	/* "€" (e2 82 ac) split 1+2 across fragments, then "𝄞" split 3+1. */
	uint8_t in[128];
	size_t n = 0;
	run_result r;

	n += put_frame(in + n, 0x01, "a\xe2", 2, key1);
	n += put_frame(in + n, 0x00, "\x82\xac" "b\xf0\x9d\x84", 6, key2);
	n += put_frame(in + n, 0x89, "ping", 4, key1);
	n += put_frame(in + n, 0x80, "\x9e", 1, key1);
	run_all_splits(in, n, 100, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 2);
	cr_assert_eq(r.ev[0].opcode, TERN__WS_OP_PING);
	cr_assert_eq(r.ev[1].opcode, TERN__WS_OP_TEXT);
	cr_assert_eq(r.ev[1].n, 9);
	cr_assert_eq(memcmp(r.ev[1].p, "a\xe2\x82\xac" "b\xf0\x9d\x84\x9e", 9), 0);
	result_free(&r);
}

Test(ws_frame, utf8_errors_are_1007)
{
	static const char *bad[] = {
		"\xc0\x80",         /* overlong NUL */
		"\xed\xa0\x80",     /* surrogate */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xff",
		"abc\x80",
		"\xe2\x82",         /* ends inside a character */
	};
	uint8_t in[64];
	size_t n;

	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		n = put_frame(in, 0x81, bad[k], strlen(bad[k]), key1);
		expect_error(in, n, 100, false, TERN_EPARSE, 1007);
	}
	/* Invalid sequence split across fragments: fails in the second. */
	n = put_frame(in, 0x01, "\xed", 1, key1);
	n += put_frame(in + n, 0x80, "\xa0\x80", 2, key2);
	expect_error(in, n, 100, false, TERN_EPARSE, 1007);
	/* Fails fast: the bad byte is refused before the message ends. */
	n = put_frame(in, 0x01, "ok\xff", 3, key1);
	expect_error(in, n, 100, false, TERN_EPARSE, 1007);
	/* Truncated at the end of a fragmented message. */
	n = put_frame(in, 0x01, "a", 1, key1);
	n += put_frame(in + n, 0x80, "\xf0\x9d", 2, key2);
	expect_error(in, n, 100, false, TERN_EPARSE, 1007);
	/* Binary messages and compressed text are not checked here. */
	n = put_frame(in, 0x82, "\xff", 1, key1);
	{
		run_result r;

		run(in, n, 0, 100, false, &r);
		cr_assert_eq(r.rc, 0);
		result_free(&r);
		n = put_frame(in, 0xC1, "\xff", 1, key1);
		run(in, n, 0, 100, true, &r);
		cr_assert_eq(r.rc, 0);
		cr_assert(r.ev[0].compressed);
		result_free(&r);
	}
}

/* ---- close frames ------------------------------------------------------ */

static void close_payload(const void *pl, size_t n, int rc, uint16_t code)
{
	uint8_t in[160];
	size_t len = put_frame(in, 0x88, pl, n, key1);
	run_result r;

	run_all_splits(in, len, 100, false, &r);
	cr_assert_eq(r.rc, rc, "close payload of %zu bytes", n);
	if (rc == 0) {
		cr_assert_eq(r.count, 1);
		cr_assert_eq(r.ev[0].opcode, TERN__WS_OP_CLOSE);
		cr_assert_eq(r.ev[0].close_code, code);
		cr_assert_eq(r.ev[0].n, n > 2 ? n - 2 : 0);
		if (n > 2)
			cr_assert_eq(memcmp(r.ev[0].p, (const uint8_t *)pl + 2, n - 2), 0);
	} else {
		cr_assert_eq(r.err_code, code);
	}
	result_free(&r);
}

Test(ws_frame, close_codes)
{
	static const unsigned good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999 };
	static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000, 65535 };
	uint8_t pl[2];

	close_payload("", 0, 0, 1005);
	close_payload("\x03", 1, TERN_EPARSE, 1002);
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
		pl[0] = (uint8_t)(good[k] >> 8);
		pl[1] = (uint8_t)good[k];
		close_payload(pl, 2, 0, (uint16_t)good[k]);
		cr_assert(tern__ws_close_code_valid(good[k]));
	}
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		pl[0] = (uint8_t)(bad[k] >> 8);
		pl[1] = (uint8_t)bad[k];
		close_payload(pl, 2, TERN_EPARSE, 1002);
		cr_assert_not(tern__ws_close_code_valid(bad[k]));
	}
	close_payload("\x03\xe8" "bye \xe2\x82\xac", 9, 0, 1000);
	close_payload("\x03\xe8" "bad \xe2\x82", 8, TERN_EPARSE, 1007);
	close_payload("\x03\xe8" "\xc0\xaf", 4, TERN_EPARSE, 1007);
}

Test(ws_frame, input_after_close_is_ignored)
{
	uint8_t in[64];
	size_t n;
	run_result r;

	n = put_frame(in, 0x88, "\x03\xe8", 2, key1);
	n += put_frame(in + n, 0x81, "late", 4, key2);
	in[n++] = 0xFF; /* garbage that would be an error */
	run_all_splits(in, n, 100, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.ev[0].close_code, 1000);
	result_free(&r);
}

/* ---- state, buffering, equivalence ------------------------------------- */

Test(ws_frame, state_is_small)
{
	cr_assert_leq(sizeof(tern__ws_parser), 64);
	cr_log_info("sizeof(tern__ws_parser) = %zu", sizeof(tern__ws_parser));
}

Test(ws_frame, errors_are_sticky)
{
	uint8_t in[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	uint8_t good[16];
	tern__ws_parser p;
	tern__ws_buf buf = { 0 };
	tern__ws_event ev;
	size_t used, n = put_frame(good, 0x81, "ok", 2, key1);

	cr_assert_eq(tern__ws_parser_init(&p, 0, false), TERN_EINVAL);
	tern__ws_parser_init(&p, 100, false);
	cr_assert_eq(tern__ws_parse(&p, in, sizeof in, &buf, &ev, &used), TERN_EPARSE);
	cr_assert_eq(ev.close_code, 1002);
	cr_assert_str_eq(ev.error, "client frame is not masked");
	cr_assert_eq(tern__ws_parse(&p, good, n, &buf, &ev, &used), TERN_EPARSE);
	cr_assert_eq(ev.close_code, 1002);
	cr_assert_eq(ev.opcode, 0);
}

Test(ws_frame, control_inside_fragmented_message_uses_one_buffer)
{
	uint8_t in[256];
	uint8_t data[100];
	size_t n = 0, used, off = 0;
	tern__ws_parser p;
	tern__ws_buf buf = { 0 };
	tern__ws_event ev;

	for (size_t k = 0; k < sizeof data; k++)
		data[k] = (uint8_t)('a' + k % 26);
	n += put_frame(in + n, 0x02, data, 50, key1);
	n += put_frame(in + n, 0x89, "ping!", 5, key2);
	n += put_frame(in + n, 0x80, data + 50, 50, key1);
	tern__ws_parser_init(&p, 1000, false);
	/* Feed in two reads cutting the ping in half. */
	size_t cut = (50 + 6) + 6 + 2; /* data frame, ping header, 2 bytes */
	cr_assert_eq(tern__ws_parse(&p, in, cut, &buf, &ev, &used), 0);
	cr_assert_eq(ev.opcode, 0);
	cr_assert_eq(used, cut);
	cr_assert_not(tern__ws_parser_idle(&p));
	off = cut;
	cr_assert_eq(tern__ws_parse(&p, in + off, n - off, &buf, &ev, &used), 0);
	cr_assert_eq(ev.opcode, TERN__WS_OP_PING);
	cr_assert_eq(ev.payload.n, 5);
	cr_assert_eq(memcmp(ev.payload.p, "ping!", 5), 0);
	cr_assert_eq(ev.payload.p, buf.p + 50, "control payload after the partial message");
	off += used;
	cr_assert_eq(tern__ws_parse(&p, in + off, n - off, &buf, &ev, &used), 0);
	cr_assert_eq(ev.opcode, TERN__WS_OP_BINARY);
	cr_assert_eq(ev.payload.n, 100);
	cr_assert_eq(memcmp(ev.payload.p, data, 100), 0);
	cr_assert_eq(off + used, n);
	cr_assert(tern__ws_parser_idle(&p));
	/* Idle: the buffer may go, and the parser carries on without it. */
	tern__ws_buf_free(&buf);
	n = put_frame(in, 0x01, "x", 1, key1);
	n += put_frame(in + n, 0x80, "y", 1, key2);
	cr_assert_eq(tern__ws_parse(&p, in, n, &buf, &ev, &used), 0);
	cr_assert_eq(ev.opcode, TERN__WS_OP_TEXT);
	cr_assert_eq(ev.payload.n, 2);
	cr_assert_eq(memcmp(ev.payload.p, "xy", 2), 0);
	tern__ws_buf_free(&buf);
}

Test(ws_frame, empty_frames)
{
	uint8_t in[64];
	size_t n = 0;
	run_result r;

	n += put_frame(in + n, 0x81, "", 0, key1);
	n += put_frame(in + n, 0x01, "", 0, key1);
	n += put_frame(in + n, 0x00, "", 0, key2);
	n += put_frame(in + n, 0x89, "", 0, key2);
	n += put_frame(in + n, 0x80, "", 0, key2);
	n += put_frame(in + n, 0x82, "", 0, key1);
	n += put_frame(in + n, 0x88, "", 0, key1);
	run_all_splits(in, n, 100, false, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 5);
	cr_assert_eq(r.ev[0].opcode, TERN__WS_OP_TEXT);
	cr_assert_eq(r.ev[1].opcode, TERN__WS_OP_PING);
	cr_assert_eq(r.ev[2].opcode, TERN__WS_OP_TEXT);
	cr_assert_eq(r.ev[3].opcode, TERN__WS_OP_BINARY);
	cr_assert_eq(r.ev[4].opcode, TERN__WS_OP_CLOSE);
	cr_assert_eq(r.ev[4].close_code, 1005);
	for (int k = 0; k < 5; k++)
		cr_assert_eq(r.ev[k].n, 0);
	result_free(&r);
}

Test(ws_frame, mixed_stream_any_split_equals_whole)
{
	uint8_t *in = malloc(4096), pl[300];
	size_t n = 0;
	run_result r;

	for (size_t k = 0; k < sizeof pl; k++)
		pl[k] = (uint8_t)(' ' + k % 90);
	n += put_frame(in + n, 0x81, pl, 300, key1);
	n += put_frame(in + n, 0xC1, pl, 17, key2); /* compressed flag only */
	n += put_frame(in + n, 0x02, pl, 126, key2);
	n += put_frame(in + n, 0x8A, pl, 125, key1);
	n += put_frame(in + n, 0x00, pl, 1, key1);
	n += put_frame(in + n, 0x89, "", 0, key1);
	n += put_frame(in + n, 0x80, pl + 3, 200, key2);
	n += put_frame(in + n, 0x41, pl, 9, key1);
	n += put_frame(in + n, 0x80, pl, 9, key1);
	n += put_frame(in + n, 0x88, "\x0f\xa0" "done", 6, key2);
	run_all_splits(in, n, 1000, true, &r);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.count, 7);
	cr_assert_eq(r.ev[0].n, 300);
	cr_assert(r.ev[1].compressed);
	cr_assert_eq(r.ev[2].opcode, TERN__WS_OP_PONG);
	cr_assert_eq(r.ev[3].opcode, TERN__WS_OP_PING);
	cr_assert_eq(r.ev[4].opcode, TERN__WS_OP_BINARY);
	cr_assert_eq(r.ev[4].n, 327);
	cr_assert_eq(memcmp(r.ev[4].p + 127, pl + 3, 200), 0);
	cr_assert(r.ev[5].compressed);
	cr_assert_eq(r.ev[5].n, 18);
	cr_assert_eq(r.ev[6].close_code, 4000);
	cr_assert_eq(r.ev[6].n, 4);
	result_free(&r);
	free(in);
}

Test(ws_frame, buffer_reserve_limits)
{
	tern__ws_buf b = { 0 };

	cr_assert_eq(tern__ws_buf_reserve(&b, 10, 100), 0);
	cr_assert_eq(b.cap, 100, "capped by the limit");
	b.len = 100;
	cr_assert_eq(tern__ws_buf_reserve(&b, 5, 100), 0);
	cr_assert_eq(b.cap, 105, "past the limit only as far as needed");
	cr_assert_eq(tern__ws_buf_reserve(&b, SIZE_MAX, SIZE_MAX), TERN_ETOOBIG);
	tern__ws_buf_free(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.cap, 0);
}
