/*
 * permessage-deflate message codec (RFC 7692). Contract and the memory
 * trade-off in deflate.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <tern/error.h>

#include "ws/deflate.h"

/* zlib's default; 256 KiB per deflater at 15 window bits. */
#define MEM_LEVEL 8

static const uint8_t sync_tail[4] = { 0x00, 0x00, 0xff, 0xff };

static z_stream *new_inflater(int wbits)
{
	z_stream *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	if (inflateInit2(s, -wbits) != Z_OK) {
		free(s);
		return NULL;
	}
	return s;
}

static z_stream *new_deflater(int level, int wbits)
{
	z_stream *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	if (deflateInit2(s, level, Z_DEFLATED, -wbits, MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(s);
		return NULL;
	}
	return s;
}

static void free_inflater(void *p)
{
	if (p) {
		inflateEnd(p);
		free(p);
	}
}

static void free_deflater(void *p)
{
	if (p) {
		deflateEnd(p);
		free(p);
	}
}

/* 0 (not negotiated) means 15; otherwise clamped into 8..15. */
static uint8_t clamp_bits(uint8_t b)
{
	if (b == 0 || b > 15)
		return 15;
	return b < 8 ? 8 : b;
}

void tern__ws_pmd_thread_init(tern__ws_pmd_thread *t, int level)
{
	memset(t, 0, sizeof *t);
	t->level = (level >= 0 && level <= 9) ? level : Z_DEFAULT_COMPRESSION;
}

void tern__ws_pmd_thread_free(tern__ws_pmd_thread *t)
{
	free_inflater(t->inflater);
	t->inflater = NULL;
	for (size_t k = 0; k < sizeof t->deflater / sizeof t->deflater[0]; k++) {
		free_deflater(t->deflater[k]);
		t->deflater[k] = NULL;
	}
}

void tern__ws_pmd_conn_init(tern__ws_pmd_conn *c, const tern__ws_pmd_params *params)
{
	memset(c, 0, sizeof *c);
	if (params)
		c->params = *params;
	else
		c->params.server_no_context_takeover = c->params.client_no_context_takeover = true;
	c->params.server_max_window_bits = clamp_bits(c->params.server_max_window_bits);
	c->params.client_max_window_bits = clamp_bits(c->params.client_max_window_bits);
}

void tern__ws_pmd_conn_free(tern__ws_pmd_conn *c)
{
	free_inflater(c->inflater);
	free_deflater(c->deflater);
	c->inflater = NULL;
	c->deflater = NULL;
}

/*
 * After a final block (BFINAL = 1, allowed by RFC 7692 section 7.2.3.4)
 * zlib's inflater stops; with context takeover the next message may still
 * refer back to this one, so restart the stream with its window kept.
 */
static int restart_keeping_window(z_stream *s)
{
	uint8_t *dict = malloc(1u << 15);
	uInt n = 0;
	int rc;

	if (!dict)
		return TERN_ENOMEM;
	rc = inflateGetDictionary(s, dict, &n);
	if (rc == Z_OK)
		rc = inflateReset(s);
	if (rc == Z_OK && n)
		rc = inflateSetDictionary(s, dict, n);
	free(dict);
	return rc == Z_OK ? 0 : TERN_ENOMEM;
}

static int inflate_fail(tern__ws_buf *out, size_t start, uint16_t *close_code, int err)
{
	out->len = start;
	if (close_code)
		*close_code = err == TERN_ETOOBIG ? TERN__WS_CLOSE_TOO_BIG
			      : err == TERN_EPARSE ? TERN__WS_CLOSE_INVALID_DATA
						   : TERN__WS_CLOSE_INTERNAL;
	return err;
}

int tern__ws_pmd_inflate(tern__ws_pmd_thread *t, tern__ws_pmd_conn *c, tern_slice in,
			 size_t max, bool text, tern__ws_buf *out, uint16_t *close_code)
{
	bool own = c && !c->params.client_no_context_takeover;
	size_t start = out->len, produced = 0;
	size_t limit = max > SIZE_MAX - start ? SIZE_MAX : start + max;
	bool ended = false;
	z_stream *s;

	if (in.n > UINT_MAX)
		return inflate_fail(out, start, close_code, TERN_ETOOBIG);
	/* An empty payload is an empty message (the RFC's form is the one
	 * byte 00, but "nothing" is unambiguous); the stream is untouched. */
	if (in.n == 0)
		return 0;
	if (own) {
		if (!c->inflater) {
			int wb = c->params.client_max_window_bits;

			/* Raw inflate accepts 8, but a peer that maps 8 to
			 * 9 (as zlib-based ones must) would then fail. */
			c->inflater = new_inflater(wb < 9 ? 9 : wb);
		}
		s = c->inflater;
	} else {
		if (!t->inflater)
			t->inflater = new_inflater(15);
		s = t->inflater;
		if (s && inflateReset(s) != Z_OK)
			return inflate_fail(out, start, close_code, TERN_ENOMEM);
	}
	if (!s)
		return inflate_fail(out, start, close_code, TERN_ENOMEM);

	/* The message, then the 00 00 ff ff its sender stripped. */
	for (int seg = 0; seg < 2 && !ended; seg++) {
		bool full = false; /* the last call filled the output */

		s->next_in = (Bytef *)(seg ? sync_tail : in.p);
		s->avail_in = seg ? 4 : (uInt)in.n;
		while (s->avail_in > 0 || full) {
			uInt in_before = s->avail_in, out_before;
			uint8_t probe;
			size_t got;
			int rc;

			if (produced == max) {
				/* At the bound: one more byte means 1009. */
				s->next_out = &probe;
				s->avail_out = 1;
			} else {
				size_t room = out->cap - out->len;

				if (room == 0) {
					size_t want = max - produced;

					if (want > 4096)
						want = 4096;
					if (tern__ws_buf_reserve(out, want, limit))
						return inflate_fail(out, start, close_code,
								    TERN_ENOMEM);
					room = out->cap - out->len;
				}
				if (room > max - produced)
					room = max - produced;
				if (room > UINT_MAX)
					room = UINT_MAX;
				s->next_out = out->p + out->len;
				s->avail_out = (uInt)room;
			}
			out_before = s->avail_out;
			rc = inflate(s, Z_SYNC_FLUSH);
			got = out_before - s->avail_out;
			if (got && produced == max)
				return inflate_fail(out, start, close_code, TERN_ETOOBIG);
			out->len += got;
			produced += got;
			full = s->avail_out == 0;
			if (rc == Z_STREAM_END) {
				ended = true;
				break;
			}
			if (rc == Z_MEM_ERROR)
				return inflate_fail(out, start, close_code, TERN_ENOMEM);
			if (rc != Z_OK && rc != Z_BUF_ERROR)
				return inflate_fail(out, start, close_code, TERN_EPARSE);
			if (got == 0 && s->avail_in == in_before) {
				/* No progress: nothing pending and no input left,
				 * or a stream zlib cannot advance. */
				if (s->avail_in == 0)
					break;
				return inflate_fail(out, start, close_code, TERN_EPARSE);
			}
		}
	}
	/*
	 * A complete message leaves the inflater between blocks (bit 128 of
	 * data_type: zlib returned just after a block ended); anything else
	 * is a truncated block.
	 */
	if (!ended && !(s->data_type & 128))
		return inflate_fail(out, start, close_code, TERN_EPARSE);
	if (ended && own) {
		int rc = restart_keeping_window(s);

		if (rc)
			return inflate_fail(out, start, close_code, rc);
	}
	if (text && !tern__utf8_valid(out->p + start, produced))
		return inflate_fail(out, start, close_code, TERN_EPARSE);
	return 0;
}

int tern__ws_pmd_deflate(tern__ws_pmd_thread *t, tern__ws_pmd_conn *c, tern_slice in,
			 tern__ws_buf *out)
{
	bool own = c && !c->params.server_no_context_takeover;
	int wb = c ? c->params.server_max_window_bits : 15;
	size_t start = out->len;
	z_stream *s;

	if (wb < 9)
		wb = 9; /* zlib cannot deflate raw with an 8-bit window */
	if (in.n > UINT_MAX)
		return TERN_ETOOBIG;
	if (in.n == 0) {
		/*
		 * An empty stored block, flushed: the byte 00 once the sync
		 * tail is stripped. Written directly because a takeover
		 * stream just flushed has nothing to emit (zlib answers
		 * Z_BUF_ERROR), and the block leaves any window unchanged.
		 */
		if (tern__ws_buf_reserve(out, 1, SIZE_MAX))
			return TERN_ENOMEM;
		out->p[out->len++] = 0x00;
		return 0;
	}
	if (own) {
		if (!c->deflater)
			c->deflater = new_deflater(t->level, wb);
		s = c->deflater;
	} else {
		if (!t->deflater[wb - 8])
			t->deflater[wb - 8] = new_deflater(t->level, wb);
		s = t->deflater[wb - 8];
		if (s && deflateReset(s) != Z_OK)
			return TERN_ENOMEM;
	}
	if (!s)
		return TERN_ENOMEM;

	s->next_in = (Bytef *)in.p;
	s->avail_in = (uInt)in.n;
	for (;;) {
		size_t room = out->cap - out->len;
		int rc;

		/* deflateBound() covers one Z_FINISH call; the sync flush
		 * marker and a takeover stream's pending bits fit in the
		 * extra 64. Rarely short: then the loop grows again. */
		if (room < 64 || room < s->avail_in) {
			size_t want = deflateBound(s, s->avail_in) + 64;

			if (tern__ws_buf_reserve(out, want, SIZE_MAX)) {
				out->len = start;
				return TERN_ENOMEM;
			}
			room = out->cap - out->len;
		}
		if (room > UINT_MAX)
			room = UINT_MAX;
		s->next_out = out->p + out->len;
		s->avail_out = (uInt)room;
		rc = deflate(s, Z_SYNC_FLUSH);
		out->len += room - s->avail_out;
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			out->len = start;
			return rc == Z_MEM_ERROR ? TERN_ENOMEM : TERN_EINVAL;
		}
		/* Output left over: the input is consumed and flushed. */
		if (s->avail_out != 0)
			break;
	}
	if (out->len - start < 4 || memcmp(out->p + out->len - 4, sync_tail, 4) != 0) {
		out->len = start; /* zlib broke its flush contract */
		return TERN_EINVAL;
	}
	out->len -= 4;
	return 0;
}
