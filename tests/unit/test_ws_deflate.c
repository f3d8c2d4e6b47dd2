/* Unit tests for src/ws/deflate.c: permessage-deflate (RFC 7692). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <tern/error.h>

#include "ws/deflate.h"
#include "ws/frame.h"

static tern__ws_pmd_thread th;

static void setup(void)
{
	tern__ws_pmd_thread_init(&th, -1);
}

static void teardown(void)
{
	tern__ws_pmd_thread_free(&th);
}

TestSuite(ws_deflate, .init = setup, .fini = teardown);

static const uint8_t hello_z[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };

static tern_slice sl(const void *p, size_t n)
{
	return (tern_slice){ p, n };
}

static void expect_inflate(tern__ws_pmd_conn *c, const uint8_t *z, size_t zn, const char *want)
{
	tern__ws_buf out = { 0 };
	uint16_t code = 0;
	int rc = tern__ws_pmd_inflate(&th, c, sl(z, zn), 1000, true, &out, &code);

	cr_assert_eq(rc, 0, "inflate: %d", rc);
	cr_assert_eq(out.len, strlen(want));
	if (out.len)
		cr_assert_eq(memcmp(out.p, want, out.len), 0);
	tern__ws_buf_free(&out);
}

/* RFC 7692 section 7.2.3.1: "Hello" in one compressed message. */
Test(ws_deflate, rfc_hello_both_ways)
{
	tern__ws_buf out = { 0 };
	uint8_t h[TERN__WS_HEADER_MAX];

	cr_assert_eq(tern__ws_pmd_deflate(&th, NULL, sl("Hello", 5), &out), 0);
	cr_assert_eq(out.len, sizeof hello_z);
	cr_assert_eq(memcmp(out.p, hello_z, sizeof hello_z), 0);
	cr_assert_eq(tern__ws_frame_header(h, TERN__WS_OP_TEXT, true, true, out.len), 2);
	cr_assert_eq(h[0], 0xc1);
	cr_assert_eq(h[1], 0x07);
	tern__ws_buf_free(&out);
	expect_inflate(NULL, hello_z, sizeof hello_z, "Hello");
}

/* The same message sent by a client, whole and fragmented (7.2.3.1). */
Test(ws_deflate, rfc_client_frames_parse_then_inflate)
{
	static const uint8_t key[4] = { 1, 2, 3, 4 };
	/* 0xc1 0x07 ... and 0x41 0x03 f2 48 cd + 0x80 0x04 c9 c9 07 00 */
	uint8_t in[64];
	size_t n = 0, used, off = 0;
	tern__ws_parser p;
	tern__ws_buf buf = { 0 };
	tern__ws_event ev;
	const uint8_t *parts[3] = { hello_z, hello_z, hello_z + 3 };
	const size_t lens[3] = { 7, 3, 4 };
	const uint8_t b0[3] = { 0xc1, 0x41, 0x80 };

	for (int f = 0; f < 3; f++) {
		in[n++] = b0[f];
		in[n++] = (uint8_t)(0x80 | lens[f]);
		memcpy(in + n, key, 4);
		n += 4;
		for (size_t k = 0; k < lens[f]; k++)
			in[n++] = parts[f][k] ^ key[k & 3];
	}
	tern__ws_parser_init(&p, 100, true);
	for (int m = 0; m < 2; m++) {
		tern__ws_buf out = { 0 };
		uint16_t code;

		cr_assert_eq(tern__ws_parse(&p, in + off, n - off, &buf, &ev, &used), 0);
		off += used;
		cr_assert_eq(ev.opcode, TERN__WS_OP_TEXT);
		cr_assert(ev.compressed);
		cr_assert_eq(ev.payload.n, 7);
		cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, ev.payload, 100, true, &out, &code), 0);
		cr_assert_eq(out.len, 5);
		cr_assert_eq(memcmp(out.p, "Hello", 5), 0);
		tern__ws_buf_free(&out);
	}
	cr_assert_eq(off, n);
	tern__ws_buf_free(&buf);
}

/* 7.2.3.2: sharing the LZ77 window, and the same without it. */
Test(ws_deflate, rfc_shared_window_and_no_context)
{
	static const uint8_t second_z[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	tern__ws_pmd_params takeover = { false, false, 15, 15 };
	tern__ws_pmd_params none = { true, true, 15, 15 };
	tern__ws_pmd_conn c;
	tern__ws_buf out = { 0 };

	tern__ws_pmd_conn_init(&c, &takeover);
	cr_assert_eq(tern__ws_pmd_deflate(&th, &c, sl("Hello", 5), &out), 0);
	cr_assert_eq(out.len, sizeof hello_z);
	cr_assert_eq(memcmp(out.p, hello_z, sizeof hello_z), 0);
	out.len = 0;
	cr_assert_eq(tern__ws_pmd_deflate(&th, &c, sl("Hello", 5), &out), 0);
	cr_assert_eq(out.len, sizeof second_z);
	cr_assert_eq(memcmp(out.p, second_z, sizeof second_z), 0);
	cr_assert_not_null(c.deflater, "takeover keeps a stream on the connection");
	/* The receiving side with takeover decodes the back reference. */
	cr_assert_null(c.inflater, "created lazily");
	expect_inflate(&c, hello_z, sizeof hello_z, "Hello");
	expect_inflate(&c, second_z, sizeof second_z, "Hello");
	cr_assert_not_null(c.inflater);
	tern__ws_pmd_conn_free(&c);
	cr_assert_null(c.inflater);
	cr_assert_null(c.deflater);

	/* Without takeover both messages are identical and self-contained,
	 * and the connection holds no stream at all. */
	tern__ws_pmd_conn_init(&c, &none);
	for (int m = 0; m < 2; m++) {
		out.len = 0;
		cr_assert_eq(tern__ws_pmd_deflate(&th, &c, sl("Hello", 5), &out), 0);
		cr_assert_eq(out.len, sizeof hello_z);
		cr_assert_eq(memcmp(out.p, hello_z, sizeof hello_z), 0);
		expect_inflate(&c, hello_z, sizeof hello_z, "Hello");
	}
	cr_assert_null(c.inflater);
	cr_assert_null(c.deflater);
	/* A back reference into a previous message must fail without it. */
	{
		tern__ws_buf o2 = { 0 };
		uint16_t code = 0;

		cr_assert_eq(tern__ws_pmd_inflate(&th, &c, sl(second_z, sizeof second_z), 100,
						  true, &o2, &code),
			     TERN_EPARSE);
		cr_assert_eq(code, 1007);
		cr_assert_eq(o2.len, 0);
		tern__ws_buf_free(&o2);
	}
	tern__ws_pmd_conn_free(&c);
	tern__ws_buf_free(&out);
}

/* 7.2.3.3, 7.2.3.4, 7.2.3.5 and the empty message of 7.2.3.6. */
Test(ws_deflate, rfc_other_block_shapes)
{
	static const uint8_t stored[] = { 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65,
					  0x6c, 0x6c, 0x6f, 0x00 };
	static const uint8_t bfinal[] = { 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00 };
	static const uint8_t two[] = { 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
				       0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00 };
	static const uint8_t empty[] = { 0x00 };
	tern__ws_buf out = { 0 };

	expect_inflate(NULL, stored, sizeof stored, "Hello");
	expect_inflate(NULL, bfinal, sizeof bfinal, "Hello");
	expect_inflate(NULL, two, sizeof two, "Hello");
	expect_inflate(NULL, empty, sizeof empty, "");
	expect_inflate(NULL, empty, 0, "");
	cr_assert_eq(tern__ws_pmd_deflate(&th, NULL, sl("", 0), &out), 0);
	cr_assert_eq(out.len, 1);
	cr_assert_eq(out.p[0], 0x00);
	tern__ws_buf_free(&out);
}

/* After a BFINAL message, a takeover stream still knows the window. */
Test(ws_deflate, bfinal_keeps_window_with_takeover)
{
	static const uint8_t bfinal[] = { 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00 };
	static const uint8_t second_z[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };
	tern__ws_pmd_params takeover = { false, false, 15, 15 };
	tern__ws_pmd_conn c;

	tern__ws_pmd_conn_init(&c, &takeover);
	expect_inflate(&c, bfinal, sizeof bfinal, "Hello");
	expect_inflate(&c, second_z, sizeof second_z, "Hello");
	expect_inflate(&c, hello_z, sizeof hello_z, "Hello");
	tern__ws_pmd_conn_free(&c);
}

static uint8_t *zlib_raw(const uint8_t *in, size_t n, size_t *zn)
{
	z_stream s;
	uint8_t *out;

	memset(&s, 0, sizeof s);
	cr_assert_eq(deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
	out = malloc(deflateBound(&s, n) + 16);
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)deflateBound(&s, n) + 16;
	cr_assert_eq(deflate(&s, Z_SYNC_FLUSH), Z_OK);
	*zn = (size_t)(s.next_out - out) - 4;
	deflateEnd(&s);
	return out;
}

Test(ws_deflate, inflate_bomb_is_bounded)
{
	size_t big = 16u << 20, zn;
	uint8_t *zeros = calloc(1, big);
	uint8_t *z = zlib_raw(zeros, big, &zn);
	tern__ws_buf out = { 0 };
	uint16_t code = 0;

	cr_assert_lt(zn, 64 * 1024, "16 MiB of zeros compress to %zu bytes", zn);
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(z, zn), 1 << 20, false, &out, &code),
		     TERN_ETOOBIG);
	cr_assert_eq(code, 1009);
	cr_assert_eq(out.len, 0, "output rolled back");
	cr_assert_leq(out.cap, 1u << 20, "never allocated past the bound: %zu", out.cap);
	tern__ws_buf_free(&out);
	/* With a prefix already in out, the bound is on what is added. */
	out.len = 0;
	cr_assert_eq(tern__ws_buf_reserve(&out, 10, 10), 0);
	memcpy(out.p, "0123456789", 10);
	out.len = 10;
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(z, zn), 4096, false, &out, &code),
		     TERN_ETOOBIG);
	cr_assert_eq(out.len, 10);
	cr_assert_leq(out.cap, 10 + 4096);
	tern__ws_buf_free(&out);
	free(z);
	free(zeros);
}

Test(ws_deflate, limit_is_exact)
{
	uint8_t data[5000];
	size_t zn;
	uint8_t *z;
	tern__ws_buf out = { 0 };
	uint16_t code;

	for (size_t k = 0; k < sizeof data; k++)
		data[k] = (uint8_t)('a' + (k * k) % 26);
	z = zlib_raw(data, sizeof data, &zn);
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(z, zn), sizeof data, true, &out, &code), 0);
	cr_assert_eq(out.len, sizeof data);
	cr_assert_eq(memcmp(out.p, data, sizeof data), 0);
	cr_assert_leq(out.cap, sizeof data);
	tern__ws_buf_free(&out);
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(z, zn), sizeof data - 1, true, &out, &code),
		     TERN_ETOOBIG);
	cr_assert_eq(code, 1009);
	tern__ws_buf_free(&out);
	free(z);
}

Test(ws_deflate, corrupt_truncated_and_bad_utf8)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x12 };
	static const uint8_t truncated[] = { 0xf2, 0x48 };
	static const uint8_t bad_stored_len[] = { 0x00, 0x05, 0x00, 0xfb, 0xff, 'H' };
	tern__ws_buf out = { 0 };
	uint16_t code = 0;
	size_t zn;
	uint8_t *z = zlib_raw((const uint8_t *)"ok\xff", 3, &zn);

	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(garbage, sizeof garbage), 100, false,
					  &out, &code),
		     TERN_EPARSE);
	cr_assert_eq(code, 1007);
	code = 0;
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(truncated, sizeof truncated), 100, false,
					  &out, &code),
		     TERN_EPARSE);
	cr_assert_eq(code, 1007);
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(bad_stored_len, sizeof bad_stored_len),
					  100, false, &out, &code),
		     TERN_EPARSE);
	/* Invalid UTF-8 after inflating a text message; fine as binary. */
	code = 0;
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(z, zn), 100, true, &out, &code),
		     TERN_EPARSE);
	cr_assert_eq(code, 1007);
	cr_assert_eq(out.len, 0);
	cr_assert_eq(tern__ws_pmd_inflate(&th, NULL, sl(z, zn), 100, false, &out, &code), 0);
	cr_assert_eq(out.len, 3);
	/* The shared inflater is reset: a good message works right after. */
	out.len = 0;
	expect_inflate(NULL, hello_z, sizeof hello_z, "Hello");
	tern__ws_buf_free(&out);
	free(z);
}

/* Messages of many shapes survive deflate -> inflate, for every window
 * size and both takeover modes, several messages in a row. */
Test(ws_deflate, round_trips)
{
	static const size_t sizes[] = { 0, 1, 5, 100, 4095, 4096, 70000, 300000 };
	uint8_t *data = malloc(300000);
	unsigned seed = 7;

	for (size_t k = 0; k < 300000; k++) {
		seed = seed * 1103515245u + 12345u;
		/* Half text-like, half noise: stored and Huffman blocks. */
		data[k] = k < 150000 ? (uint8_t)('a' + (seed >> 16) % 8) : (uint8_t)(seed >> 16);
	}
	for (int bits = 8; bits <= 15; bits++) {
		for (int mode = 0; mode < 2; mode++) {
			tern__ws_pmd_params pp = { mode == 0, mode == 0, (uint8_t)bits,
						   (uint8_t)bits };
			tern__ws_pmd_conn tx, rx;

			tern__ws_pmd_conn_init(&tx, &pp);
			tern__ws_pmd_conn_init(&rx, &pp);
			for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
				/* Text messages may not cut a character: the data
				 * is ASCII up to 150000, so use offsets inside. */
				const uint8_t *msg = data + (sizes[s] > 150000 ? 0 : s * 3);
				tern__ws_buf z = { 0 }, out = { 0 };
				uint16_t code = 0;
				int rc;

				cr_assert_eq(tern__ws_pmd_deflate(&th, &tx, sl(msg, sizes[s]), &z), 0);
				rc = tern__ws_pmd_inflate(&th, &rx, sl(z.p, z.len), sizes[s], false,
							  &out, &code);
				cr_assert_eq(rc, 0, "bits %d mode %d size %zu: rc %d", bits, mode,
					     sizes[s], rc);
				cr_assert_eq(out.len, sizes[s]);
				if (sizes[s])
					cr_assert_eq(memcmp(out.p, msg, sizes[s]), 0);
				tern__ws_buf_free(&z);
				tern__ws_buf_free(&out);
			}
			cr_assert_eq(tx.deflater != NULL, mode == 1);
			cr_assert_eq(rx.inflater != NULL, mode == 1);
			tern__ws_pmd_conn_free(&tx);
			tern__ws_pmd_conn_free(&rx);
		}
	}
	free(data);
}

/* A connection's deflater at 9 bits (8 maps to 9) never refers further
 * back than 512 bytes: a 9-bit inflater decodes it. */
Test(ws_deflate, window_bits_are_honoured)
{
	tern__ws_pmd_params p8 = { false, false, 8, 8 };
	tern__ws_pmd_conn c;
	tern__ws_buf z = { 0 };
	uint8_t data[4000];
	z_stream s;
	uint8_t out[4000];

	unsigned seed = 99;

	/* 2000 random bytes twice: only a window over 2000 finds the
	 * repeat, and a 9-bit inflater refuses distances over 512. */
	for (size_t k = 0; k < 2000; k++) {
		seed = seed * 1103515245u + 12345u;
		data[k] = data[k + 2000] = (uint8_t)(seed >> 16);
	}
	tern__ws_pmd_conn_init(&c, &p8);
	cr_assert_eq(c.params.server_max_window_bits, 8);
	cr_assert_eq(tern__ws_pmd_deflate(&th, &c, sl(data, sizeof data), &z), 0);
	memset(&s, 0, sizeof s);
	cr_assert_eq(inflateInit2(&s, -9), Z_OK);
	cr_assert_eq(tern__ws_buf_reserve(&z, 4, SIZE_MAX), 0);
	memcpy(z.p + z.len, "\x00\x00\xff\xff", 4);
	s.next_in = z.p;
	s.avail_in = (uInt)z.len + 4;
	s.next_out = out;
	s.avail_out = sizeof out;
	cr_assert_eq(inflate(&s, Z_SYNC_FLUSH), Z_OK);
	cr_assert_eq(s.avail_out, 0);
	cr_assert_eq(memcmp(out, data, sizeof data), 0);
	inflateEnd(&s);
	tern__ws_buf_free(&z);
	tern__ws_pmd_conn_free(&c);
}

Test(ws_deflate, params_are_clamped)
{
	tern__ws_pmd_params odd = { true, true, 0, 99 };
	tern__ws_pmd_conn c;

	tern__ws_pmd_conn_init(&c, &odd);
	cr_assert_eq(c.params.server_max_window_bits, 15);
	cr_assert_eq(c.params.client_max_window_bits, 15);
	odd.server_max_window_bits = 3;
	tern__ws_pmd_conn_init(&c, &odd);
	cr_assert_eq(c.params.server_max_window_bits, 8);
	tern__ws_pmd_conn_init(&c, NULL);
	cr_assert(c.params.server_no_context_takeover);
	cr_assert(c.params.client_no_context_takeover);
	cr_log_info("sizeof(tern__ws_pmd_conn) = %zu", sizeof(tern__ws_pmd_conn));
	cr_assert_leq(sizeof(tern__ws_pmd_conn), 24);
}

/* An empty message on a takeover stream, between two real ones. */
Test(ws_deflate, empty_message_with_takeover)
{
	tern__ws_pmd_params takeover = { false, false, 15, 15 };
	tern__ws_pmd_conn tx, rx;
	const char *msgs[] = { "Hello", "", "", "Hello" };

	tern__ws_pmd_conn_init(&tx, &takeover);
	tern__ws_pmd_conn_init(&rx, &takeover);
	for (int m = 0; m < 4; m++) {
		tern__ws_buf z = { 0 };

		cr_assert_eq(tern__ws_pmd_deflate(&th, &tx, sl(msgs[m], strlen(msgs[m])), &z), 0);
		cr_assert_geq(z.len, 1);
		expect_inflate(&rx, z.p, z.len, msgs[m]);
		tern__ws_buf_free(&z);
	}
	tern__ws_pmd_conn_free(&tx);
	tern__ws_pmd_conn_free(&rx);
}
