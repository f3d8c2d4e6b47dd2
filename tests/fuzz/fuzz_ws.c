/*
 * libFuzzer target for the WebSocket frame codec (src/ws/frame.c) and
 * permessage-deflate (src/ws/deflate.c).
 *
 * Input: 4 bytes of settings, then data.
 *   byte 0: bit 0 deflate negotiated; bit 1 client context takeover;
 *           bit 2 server context takeover; bits 3-5 window bits - 8;
 *           bits 6-7 how many fragments (1..4) for the frame round trip.
 *   byte 1: max_message_length: (b + 1) * 8, or 64 KiB when b >= 0xF0.
 *   bytes 2-3: where to split the data for the second run.
 *
 * Checks (abort() on any disagreement):
 *  1. The data as client frames, fed whole, split in two at the chosen
 *     point, and byte by byte: identical events (payloads, close codes),
 *     identical final error. With deflate on, every compressed message is
 *     inflated too and the results (output or error) must agree. Every
 *     reported text message is valid UTF-8, and no message exceeds the
 *     limit.
 *  2. Round trip: data -> deflate -> inflate == data, twice in a row (the
 *     second message exercises context takeover), and inflating with a
 *     bound one byte short must fail with TERN_ETOOBIG.
 *  3. Frame round trip: data sent as masked client frames built with the
 *     writer's headers, in 1-4 fragments, parses back to exactly data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "ws/deflate.h"
#include "ws/frame.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_ws: check failed: %s (line %d)\n", \
				#cond, __LINE__);                              \
			abort();                                               \
		}                                                              \
	} while (0)

typedef struct {
	uint8_t flags;
	uint64_t max;
	size_t split;
} settings;

/* Append-only log of everything a run produced. */
typedef struct {
	uint8_t *p;
	size_t len, cap;
} log_buf;

static void log_put(log_buf *l, const void *p, size_t n)
{
	if (l->len + n > l->cap) {
		size_t cap = l->cap ? l->cap : 256;

		while (cap < l->len + n)
			cap *= 2;
		l->p = realloc(l->p, cap);
		CHECK(l->p);
		l->cap = cap;
	}
	if (n)
		memcpy(l->p + l->len, p, n);
	l->len += n;
}

static void log_int(log_buf *l, long v)
{
	log_put(l, &v, sizeof v);
}

static tern__ws_pmd_thread thread_ctx;

static tern__ws_pmd_params params_of(uint8_t flags)
{
	tern__ws_pmd_params pp;

	pp.client_no_context_takeover = !(flags & 2);
	pp.server_no_context_takeover = !(flags & 4);
	pp.server_max_window_bits = (uint8_t)(8 + ((flags >> 3) & 7));
	pp.client_max_window_bits = pp.server_max_window_bits;
	return pp;
}

/* Feeds `data` cut at the given points (sorted, ending with len). */
static void run(const settings *s, const uint8_t *data, size_t len, const size_t *cuts,
		size_t ncuts, log_buf *l)
{
	tern__ws_parser p;
	tern__ws_buf msg = { 0 }, out = { 0 };
	tern__ws_pmd_params pp = params_of(s->flags);
	tern__ws_pmd_conn conn;
	uint8_t *copy = malloc(len ? len : 1);
	size_t off = 0;
	bool deflate = s->flags & 1;

	CHECK(copy);
	memcpy(copy, data, len);
	tern__ws_pmd_conn_init(&conn, &pp);
	CHECK(tern__ws_parser_init(&p, s->max, deflate) == 0);
	for (size_t c = 0; c < ncuts; c++) {
		size_t end = cuts[c];

		while (off < end) {
			tern__ws_event ev;
			size_t used;
			int rc = tern__ws_parse(&p, copy + off, end - off, &msg, &ev, &used);

			CHECK(used <= end - off);
			off += used;
			if (rc) {
				CHECK(ev.error && ev.opcode == 0);
				CHECK(rc == TERN_EPARSE || rc == TERN_ETOOBIG || rc == TERN_ENOMEM);
				log_int(l, rc);
				log_int(l, ev.close_code);
				log_put(l, ev.error, strlen(ev.error));
				goto done;
			}
			if (!ev.opcode) {
				CHECK(off == end);
				break;
			}
			log_int(l, ev.opcode);
			log_int(l, ev.compressed);
			log_int(l, ev.close_code);
			log_int(l, (long)ev.payload.n);
			log_put(l, ev.payload.p, ev.payload.n);
			if (ev.opcode == TERN__WS_OP_TEXT || ev.opcode == TERN__WS_OP_BINARY) {
				CHECK(deflate || !ev.compressed);
				if (!ev.compressed) {
					CHECK(ev.payload.n <= s->max);
					if (ev.opcode == TERN__WS_OP_TEXT)
						CHECK(tern__utf8_valid(ev.payload.p, ev.payload.n));
				} else {
					uint16_t code = 0;

					out.len = 0;
					rc = tern__ws_pmd_inflate(&thread_ctx, &conn, ev.payload,
								  (size_t)s->max,
								  ev.opcode == TERN__WS_OP_TEXT, &out,
								  &code);
					log_int(l, rc);
					log_int(l, code);
					if (rc == 0) {
						CHECK(out.len <= s->max);
						if (ev.opcode == TERN__WS_OP_TEXT)
							CHECK(tern__utf8_valid(out.p, out.len));
						log_put(l, out.p, out.len);
					} else {
						CHECK(out.len == 0);
						CHECK(code == 1007 || code == 1009 || code == 1011);
						goto done; /* the relay closes here */
					}
				}
			}
			if (ev.opcode == TERN__WS_OP_CLOSE)
				CHECK(ev.close_code == 1005 ||
				      tern__ws_close_code_valid(ev.close_code));
			if (ev.opcode >= 8)
				CHECK(ev.payload.n <= TERN__WS_CONTROL_MAX);
			if (tern__ws_parser_idle(&p))
				tern__ws_buf_free(&msg); /* as the relay does */
		}
	}
	log_int(l, -1); /* ended without error */
done:
	tern__ws_buf_free(&msg);
	tern__ws_buf_free(&out);
	tern__ws_pmd_conn_free(&conn);
	free(copy);
}

static void check_parse(const settings *s, const uint8_t *data, size_t len)
{
	log_buf a = { 0 }, b = { 0 }, c = { 0 };
	size_t cuts[2] = { s->split, len };
	size_t *each;

	run(s, data, len, &len, 1, &a);
	run(s, data, len, cuts, 2, &b);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
	each = malloc((len ? len : 1) * sizeof *each);
	CHECK(each);
	for (size_t k = 0; k < len; k++)
		each[k] = k + 1;
	run(s, data, len, each, len, &c);
	CHECK(a.len == c.len && (a.len == 0 || memcmp(a.p, c.p, a.len) == 0));
	free(each);
	free(a.p);
	free(b.p);
	free(c.p);
}

static void check_round_trip(const settings *s, const uint8_t *data, size_t len)
{
	tern__ws_pmd_params pp = params_of(s->flags);
	tern__ws_pmd_conn tx, rx;
	tern__ws_buf z = { 0 }, out = { 0 };
	uint16_t code;
	tern__ws_pmd_params mirror = pp;

	/* The receiver's "client" side is what the sender's server side did. */
	mirror.client_no_context_takeover = pp.server_no_context_takeover;
	mirror.client_max_window_bits = pp.server_max_window_bits;
	tern__ws_pmd_conn_init(&tx, &pp);
	tern__ws_pmd_conn_init(&rx, &mirror);
	for (int m = 0; m < 2; m++) {
		z.len = 0;
		out.len = 0;
		CHECK(tern__ws_pmd_deflate(&thread_ctx, &tx, (tern_slice){ data, len }, &z) == 0);
		CHECK(tern__ws_pmd_inflate(&thread_ctx, &rx, (tern_slice){ z.p, z.len }, len, false,
					   &out, &code) == 0);
		CHECK(out.len == len && (len == 0 || memcmp(out.p, data, len) == 0));
	}
	/* One byte short must be refused (a fresh, shared inflater). */
	if (len > 0) {
		tern__ws_pmd_params none = pp;

		none.server_no_context_takeover = none.client_no_context_takeover = true;
		tern__ws_pmd_conn_free(&tx);
		tern__ws_pmd_conn_init(&tx, &none);
		z.len = 0;
		tern__ws_buf_free(&out); /* its capacity is checked below */
		CHECK(tern__ws_pmd_deflate(&thread_ctx, &tx, (tern_slice){ data, len }, &z) == 0);
		CHECK(tern__ws_pmd_inflate(&thread_ctx, NULL, (tern_slice){ z.p, z.len }, len - 1,
					   false, &out, &code) == TERN_ETOOBIG);
		CHECK(code == 1009 && out.len == 0 && out.cap <= len - 1);
	}
	tern__ws_buf_free(&z);
	tern__ws_buf_free(&out);
	tern__ws_pmd_conn_free(&tx);
	tern__ws_pmd_conn_free(&rx);
}

static void check_frames(const settings *s, const uint8_t *data, size_t len)
{
	static const uint8_t key[4] = { 0x5a, 0x01, 0xc3, 0x7e };
	unsigned nfrag = 1 + (s->flags >> 6);
	uint8_t *wire = malloc(len + nfrag * 14);
	size_t w = 0, at = 0, used, off = 0;
	tern__ws_parser p;
	tern__ws_buf msg = { 0 };
	tern__ws_event ev;
	int events = 0;

	CHECK(wire);
	for (unsigned f = 0; f < nfrag; f++) {
		size_t n = f + 1 == nfrag ? len - at : (len - at) / 2;
		size_t h = tern__ws_frame_header(wire + w, f ? TERN__WS_OP_CONT : TERN__WS_OP_BINARY,
						 f + 1 == nfrag, false, n);

		wire[w + 1] |= 0x80;
		memcpy(wire + w + h, key, 4);
		for (size_t k = 0; k < n; k++)
			wire[w + h + 4 + k] = data[at + k] ^ key[k & 3];
		w += h + 4 + n;
		at += n;
	}
	CHECK(tern__ws_parser_init(&p, len ? len : 1, false) == 0);
	while (off < w) {
		CHECK(tern__ws_parse(&p, wire + off, w - off, &msg, &ev, &used) == 0);
		off += used;
		if (ev.opcode) {
			CHECK(ev.opcode == TERN__WS_OP_BINARY);
			CHECK(ev.payload.n == len);
			CHECK(len == 0 || memcmp(ev.payload.p, data, len) == 0);
			events++;
		}
	}
	CHECK(events == 1);
	tern__ws_buf_free(&msg);
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static bool init;
	settings s;
	const uint8_t *data;
	size_t len;

	if (!init) {
		tern__ws_pmd_thread_init(&thread_ctx, -1);
		init = true;
	}
	if (n < 4)
		return 0;
	s.flags = in[0];
	s.max = in[1] >= 0xF0 ? 65536 : ((uint64_t)in[1] + 1) * 8;
	data = in + 4;
	len = n - 4;
	s.split = ((size_t)in[2] << 8 | in[3]) % (len + 1);
	check_parse(&s, data, len);
	check_round_trip(&s, data, len);
	check_frames(&s, data, len);
	return 0;
}
