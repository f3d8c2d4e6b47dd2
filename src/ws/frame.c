/*
 * WebSocket frame codec (RFC 6455 section 5). Contract in frame.h.
 *
 * Why our own codec rather than wslay: wslay's context carries about
 * 8.8 KB of fixed buffers per connection, twice the whole per-connection
 * budget for idle connections (4 KiB). Here the per-connection state is
 * 56 bytes without pointers, and the message buffer exists only while a
 * message is arriving in pieces.
 */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "ws/frame.h"

enum { ST_HEADER, ST_PAYLOAD, ST_CLOSED, ST_ERROR };

/* p->flags */
#define F_DEFLATE 0x01    /* permessage-deflate negotiated */
#define F_COMPRESSED 0x02 /* the open data message has RSV1 */
#define F_RELEASE 0x04    /* msg->len must go back to msg_len */
#define F_PARTIAL 0x08    /* part of this frame's payload is in msg */

/* First header byte. */
#define B0_FIN 0x80
#define B0_RSV1 0x40
#define B0_RSV23 0x30
#define B1_MASK 0x80

enum {
	E_NONE,
	E_UNMASKED,
	E_RSV23,
	E_RSV1,
	E_RSV1_CONT,
	E_RSV1_CONTROL,
	E_OPCODE,
	E_CTL_FRAG,
	E_CTL_LEN,
	E_NONMINIMAL,
	E_LEN64,
	E_CONT,
	E_INTERLEAVED,
	E_TOOBIG,
	E_UTF8,
	E_CLOSE_LEN,
	E_CLOSE_CODE,
	E_CLOSE_UTF8,
	E_NOMEM,
};

static const struct {
	uint16_t code;
	const char *msg;
} errors[] = {
	[E_NONE] = { 0, NULL },
	[E_UNMASKED] = { 1002, "client frame is not masked" },
	[E_RSV23] = { 1002, "RSV2 or RSV3 set" },
	[E_RSV1] = { 1002, "RSV1 set without permessage-deflate" },
	[E_RSV1_CONT] = { 1002, "RSV1 set on a continuation frame" },
	[E_RSV1_CONTROL] = { 1002, "RSV1 set on a control frame" },
	[E_OPCODE] = { 1002, "unknown opcode" },
	[E_CTL_FRAG] = { 1002, "fragmented control frame" },
	[E_CTL_LEN] = { 1002, "control frame payload over 125 bytes" },
	[E_NONMINIMAL] = { 1002, "frame length not minimally encoded" },
	[E_LEN64] = { 1002, "frame length has its top bit set" },
	[E_CONT] = { 1002, "continuation frame without a message" },
	[E_INTERLEAVED] = { 1002, "data frame inside a fragmented message" },
	[E_TOOBIG] = { 1009, "message too big" },
	[E_UTF8] = { 1007, "text message is not valid UTF-8" },
	[E_CLOSE_LEN] = { 1002, "close frame payload of one byte" },
	[E_CLOSE_CODE] = { 1002, "invalid close code" },
	[E_CLOSE_UTF8] = { 1007, "close reason is not valid UTF-8" },
	[E_NOMEM] = { 1011, "out of memory" },
};

/* ---- buffer ------------------------------------------------------------ */

int tern__ws_buf_reserve(tern__ws_buf *b, size_t extra, size_t limit)
{
	size_t need, cap;
	uint8_t *np;

	if (extra > SIZE_MAX - b->len)
		return TERN_ETOOBIG;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	/* Doubling keeps appends amortized O(1); the limit keeps a buffer
	 * from growing past what the message can still need. */
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	if (cap < need)
		cap = need;
	np = realloc(b->p, cap);
	if (!np)
		return TERN_ENOMEM;
	b->p = np;
	b->cap = cap;
	return 0;
}

void tern__ws_buf_free(tern__ws_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

bool tern__ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

/* ---- parser ------------------------------------------------------------ */

/*
 * XORs n bytes of src with the mask, starting at mask offset off, into
 * dst (dst == src unmasks in place). Eight bytes per step: the key
 * repeats every 4 bytes, so a rotated 8-byte pattern covers any run.
 */
static void unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4],
		   unsigned off)
{
	uint8_t m[8];
	uint64_t mw, w;
	size_t i = 0;

	for (unsigned k = 0; k < 8; k++)
		m[k] = mask[(off + k) & 3];
	memcpy(&mw, m, 8);
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= mw;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ m[i & 7];
}

int tern__ws_parser_init(tern__ws_parser *p, uint64_t max_message, bool deflate)
{
	memset(p, 0, sizeof *p);
	if (max_message == 0)
		return TERN_EINVAL;
	p->max_message = max_message;
	p->hdr_need = 2;
	p->state = ST_HEADER;
	p->flags = deflate ? F_DEFLATE : 0;
	return 0;
}

bool tern__ws_parser_idle(const tern__ws_parser *p)
{
	return p->msg_op == 0 && !(p->flags & F_PARTIAL);
}

static int fail(tern__ws_parser *p, tern__ws_event *ev, int e)
{
	p->state = ST_ERROR;
	p->err = (uint8_t)e;
	p->err_code = errors[e].code;
	ev->opcode = 0;
	ev->close_code = p->err_code;
	ev->error = errors[e].msg;
	ev->payload.p = NULL;
	ev->payload.n = 0;
	switch (p->err_code) {
	case TERN__WS_CLOSE_TOO_BIG:
		return TERN_ETOOBIG;
	case TERN__WS_CLOSE_INTERNAL:
		return TERN_ENOMEM;
	default:
		return TERN_EPARSE;
	}
}

/* Checks the first two header bytes; sets the full header size. */
static int header_start(tern__ws_parser *p)
{
	uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
	unsigned op = b0 & 0x0F, len7 = b1 & 0x7F;

	if (b0 & B0_RSV23)
		return E_RSV23;
	if (op != TERN__WS_OP_CONT && op != TERN__WS_OP_TEXT &&
	    op != TERN__WS_OP_BINARY && op != TERN__WS_OP_CLOSE &&
	    op != TERN__WS_OP_PING && op != TERN__WS_OP_PONG)
		return E_OPCODE;
	if (op >= 8) {
		if (!(b0 & B0_FIN))
			return E_CTL_FRAG;
		if (b0 & B0_RSV1)
			return E_RSV1_CONTROL;
	} else if (op == TERN__WS_OP_CONT) {
		if (!p->msg_op)
			return E_CONT;
		if (b0 & B0_RSV1)
			return E_RSV1_CONT;
	} else {
		if (p->msg_op)
			return E_INTERLEAVED;
		if ((b0 & B0_RSV1) && !(p->flags & F_DEFLATE))
			return E_RSV1;
	}
	if (!(b1 & B1_MASK))
		return E_UNMASKED;
	if (op >= 8 && len7 > TERN__WS_CONTROL_MAX)
		return E_CTL_LEN;
	p->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	return E_NONE;
}

/* Bound on a data message's wire payload; see frame.h (1009). */
static uint64_t wire_limit(const tern__ws_parser *p, bool compressed)
{
	uint64_t lim = p->max_message, slack;

	if (!compressed)
		return lim;
	slack = lim / 8192 + 16;
	return lim > UINT64_MAX - slack ? UINT64_MAX : lim + slack;
}

/* The header is complete: decode the length, check it, start the frame. */
static int header_end(tern__ws_parser *p)
{
	const uint8_t *h = p->hdr;
	unsigned op = h[0] & 0x0F, len7 = h[1] & 0x7F;
	uint64_t n;

	if (len7 < 126) {
		n = len7;
	} else if (len7 == 126) {
		n = (uint64_t)h[2] << 8 | h[3];
		if (n < 126)
			return E_NONMINIMAL;
	} else {
		n = 0;
		for (int k = 0; k < 8; k++)
			n = n << 8 | h[2 + k];
		if (n >> 63)
			return E_LEN64;
		if (n <= 0xFFFF)
			return E_NONMINIMAL;
	}
	if (op < 8) {
		bool compressed = op == TERN__WS_OP_CONT ? (p->flags & F_COMPRESSED)
							 : (h[0] & B0_RSV1);
		uint64_t lim = wire_limit(p, compressed);

		/* Decided here, before any payload byte: the peer cannot make
		 * us buffer (or even read) a message we will refuse. */
		if (n > lim - p->msg_len)
			return E_TOOBIG;
		if (op != TERN__WS_OP_CONT) {
			p->msg_op = (uint8_t)op;
			p->msg_len = 0;
			p->utf8 = 0;
			if (compressed)
				p->flags |= F_COMPRESSED;
			else
				p->flags &= ~F_COMPRESSED;
		}
	}
	memcpy(p->mask, h + p->hdr_need - 4, 4);
	p->remaining = n;
	p->mask_off = 0;
	p->state = ST_PAYLOAD;
	return E_NONE;
}

static bool checks_utf8(const tern__ws_parser *p)
{
	return p->msg_op == TERN__WS_OP_TEXT && !(p->flags & F_COMPRESSED);
}

/*
 * The current frame's payload is complete and is `pl`. Returns an error
 * index, or E_NONE with ev->opcode set when an event is to be reported.
 */
static int frame_end(tern__ws_parser *p, tern__ws_event *ev, tern_slice pl, bool in_msg)
{
	uint8_t b0 = p->hdr[0];
	unsigned op = b0 & 0x0F;

	p->state = ST_HEADER;
	p->hdr_len = 0;
	p->hdr_need = 2;
	p->flags &= ~F_PARTIAL;
	if (op >= 8) {
		if (op == TERN__WS_OP_CLOSE) {
			if (pl.n == 1)
				return E_CLOSE_LEN;
			if (pl.n == 0) {
				ev->close_code = TERN__WS_CLOSE_NO_STATUS;
			} else {
				unsigned code = (unsigned)pl.p[0] << 8 | pl.p[1];

				if (!tern__ws_close_code_valid(code))
					return E_CLOSE_CODE;
				if (!tern__utf8_valid(pl.p + 2, pl.n - 2))
					return E_CLOSE_UTF8;
				ev->close_code = (uint16_t)code;
				pl.p += 2;
				pl.n -= 2;
			}
			p->state = ST_CLOSED;
		}
		ev->opcode = (uint8_t)op;
		ev->payload = pl;
		/* A control payload gathered in msg sits after the partial
		 * data message: drop it from msg on the next call. */
		if (in_msg)
			p->flags |= F_RELEASE;
		return E_NONE;
	}
	if (!(b0 & B0_FIN))
		return E_NONE;
	if (checks_utf8(p) && p->utf8 != 0)
		return E_UTF8; /* ends inside a character */
	ev->opcode = p->msg_op;
	ev->compressed = (p->flags & F_COMPRESSED) != 0;
	ev->payload = pl;
	p->msg_op = 0;
	p->msg_len = 0;
	p->flags &= ~F_COMPRESSED;
	p->flags |= F_RELEASE;
	return E_NONE;
}

int tern__ws_parse(tern__ws_parser *p, uint8_t *in, size_t len, tern__ws_buf *msg,
		   tern__ws_event *ev, size_t *consumed)
{
	size_t i = 0;
	int e;

	memset(ev, 0, sizeof *ev);
	*consumed = 0;
	if (p->state == ST_ERROR)
		return fail(p, ev, p->err);
	if (p->state == ST_CLOSED) {
		*consumed = len;
		return 0;
	}
	if (p->flags & F_RELEASE) {
		msg->len = (size_t)p->msg_len;
		p->flags &= ~F_RELEASE;
	}
	while (i < len || (p->state == ST_PAYLOAD && p->remaining == 0)) {
		unsigned op;
		size_t n;

		if (p->state == ST_HEADER) {
			n = (size_t)(p->hdr_need - p->hdr_len);
			if (n > len - i)
				n = len - i;
			memcpy(p->hdr + p->hdr_len, in + i, n);
			p->hdr_len += (uint8_t)n;
			i += n;
			if (p->hdr_len < p->hdr_need)
				break;
			e = p->hdr_need == 2 ? header_start(p) : header_end(p);
			if (e)
				goto error;
			continue;
		}

		/* Payload. */
		op = p->hdr[0] & 0x0F;
		n = len - i;
		if (!(p->flags & F_PARTIAL) && n >= p->remaining &&
		    (op >= 8 || (op != TERN__WS_OP_CONT && (p->hdr[0] & B0_FIN)))) {
			/* The whole payload of a control frame or of a
			 * single-frame message is here: unmask in place. */
			tern_slice pl = { in + i, (size_t)p->remaining };

			unmask(in + i, in + i, pl.n, p->mask, 0);
			if (op < 8 && checks_utf8(p) && !tern__utf8_step(&p->utf8, pl.p, pl.n)) {
				e = E_UTF8;
				goto error;
			}
			i += pl.n;
			p->remaining = 0;
			e = frame_end(p, ev, pl, false);
			if (e)
				goto error;
		} else {
			uint8_t *dst;
			int rc;

			if (n > p->remaining)
				n = (size_t)p->remaining;
			if (n) {
				rc = tern__ws_buf_reserve(msg, n,
							  msg->len + (size_t)p->remaining);
				if (rc) {
					e = E_NOMEM;
					goto error;
				}
				dst = msg->p + msg->len;
				unmask(dst, in + i, n, p->mask, p->mask_off);
				if (op < 8 && checks_utf8(p) &&
				    !tern__utf8_step(&p->utf8, dst, n)) {
					e = E_UTF8;
					goto error;
				}
			}
			msg->len += n;
			if (op < 8)
				p->msg_len += n;
			i += n;
			p->remaining -= n;
			p->mask_off = (uint8_t)((p->mask_off + n) & 3);
			p->flags |= F_PARTIAL;
			if (p->remaining)
				continue;
			if (op >= 8) {
				tern_slice pl = { msg->p + p->msg_len,
						  msg->len - (size_t)p->msg_len };

				e = frame_end(p, ev, pl, true);
			} else {
				tern_slice pl = { msg->p, msg->len };

				e = frame_end(p, ev, pl, true);
			}
			if (e)
				goto error;
		}
		if (ev->opcode)
			break;
	}
	*consumed = i;
	return 0;
error:
	*consumed = i;
	return fail(p, ev, e);
}

/* ---- writer ------------------------------------------------------------ */

size_t tern__ws_frame_header(uint8_t out[TERN__WS_HEADER_MAX], unsigned opcode, bool fin,
			     bool rsv1, uint64_t len)
{
	out[0] = (uint8_t)((fin ? B0_FIN : 0) | (rsv1 ? B0_RSV1 : 0) | (opcode & 0x0F));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int k = 0; k < 8; k++)
		out[2 + k] = (uint8_t)(len >> (56 - 8 * k));
	return 10;
}

size_t tern__ws_control_frame(uint8_t *out, unsigned opcode, const uint8_t *payload, size_t n)
{
	if ((opcode != TERN__WS_OP_PING && opcode != TERN__WS_OP_PONG) ||
	    n > TERN__WS_CONTROL_MAX)
		return 0;
	out[0] = (uint8_t)(B0_FIN | opcode);
	out[1] = (uint8_t)n;
	if (n)
		memcpy(out + 2, payload, n);
	return 2 + n;
}

size_t tern__ws_close_frame(uint8_t out[TERN__WS_CLOSE_FRAME_MAX], unsigned code,
			    const char *reason, size_t reason_len)
{
	size_t max = TERN__WS_CONTROL_MAX - 2;

	out[0] = B0_FIN | TERN__WS_OP_CLOSE;
	if (code == 0) {
		out[1] = 0;
		return 2;
	}
	if (!reason)
		reason_len = 0;
	if (reason_len > max) {
		/* Cut before the character that straddles the limit. */
		reason_len = max;
		while (reason_len > 0 && ((uint8_t)reason[reason_len] & 0xC0) == 0x80)
			reason_len--;
	}
	out[1] = (uint8_t)(2 + reason_len);
	out[2] = (uint8_t)(code >> 8);
	out[3] = (uint8_t)code;
	if (reason_len)
		memcpy(out + 4, reason, reason_len);
	return 4 + reason_len;
}
