/*
 * Internal WebSocket frame codec (RFC 6455 section 5), server side:
 * an incremental parser of client-to-server frames and an encoder of
 * server-to-client frame headers. Framing only: reading, writing and
 * buffering are the relay's.
 *
 * Memory. The parser's state is one small struct per connection
 * (sizeof(tern__ws_parser) == 56 on LP64) and holds no pointers. The
 * bytes of a message that arrives in pieces (several fragments, or one
 * frame split across reads) are gathered in a tern__ws_buf that the
 * caller owns and passes on every call; whenever tern__ws_parser_idle()
 * is true the caller may free it (tern__ws_buf_free), so an idle
 * connection holds no buffer at all. A message that arrives as one
 * unfragmented frame wholly inside one input chunk (the common case) is
 * unmasked in place in the caller's input and never copied.
 *
 * Parsing contract ("consumed / need more / error"):
 *  - tern__ws_parse(p, in, len, msg, ev, &consumed) consumes input until
 *    either one event completes (ev->opcode != 0, consumed <= len: call
 *    again with in + consumed) or the input is exhausted (ev->opcode == 0,
 *    consumed == len: read more).
 *  - Any split of the input (byte by byte included) yields the same
 *    events and the same error as the whole input.
 *  - It never reads in[len] or beyond. It writes to in[] only to unmask
 *    payload in place (the bytes of the frames it reports).
 *  - Errors are final: the close code to send and a static reason are in
 *    ev, and every later call returns the same error.
 *
 * Checks, each failing the connection with the close code shown:
 *   1002  a frame without the mask bit (clients must mask)
 *   1002  RSV2 or RSV3 set; RSV1 set unless permessage-deflate was
 *         negotiated, and then only on the first frame of a data message
 *   1002  an unknown opcode (3-7, 11-15)
 *   1002  a control frame with FIN clear or a payload over 125 bytes
 *   1002  a length not in its minimal encoding, or a 64-bit length with
 *         the top bit set (RFC 6455 section 5.2: MUST be minimal)
 *   1002  a continuation frame with no message started; a text/binary
 *         frame while a fragmented message is in progress
 *   1009  a data message whose payload so far plus this frame's length
 *         exceeds max_message (decided from the frame header, before any
 *         payload byte is read; for compressed messages the bound on the
 *         compressed bytes is max_message + max_message / 8192 + 16, to
 *         leave room for stored blocks; the inflated size is bounded by
 *         tern__ws_pmd_inflate)
 *   1007  a text message (not compressed) that is not valid UTF-8,
 *         checked incrementally across fragments and calls, failing at
 *         the first byte that cannot start or continue a valid sequence
 *   1002  a close payload of 1 byte, or a close code not valid to
 *         receive (valid: 1000-1003, 1007-1011, 3000-4999)
 *   1007  a close reason that is not valid UTF-8 (invalid payload data,
 *         RFC 6455 sections 7.4.1 and 8.1)
 *   1011  out of memory while growing the message buffer
 * Compressed text messages are checked for UTF-8 after inflating
 * (tern__ws_pmd_inflate with text = true).
 *
 * After a close frame is reported the parser ignores (consumes and
 * discards) all further input: nothing may follow a close frame.
 *
 * Thread: a parser and its buffer belong to one connection; no globals.
 */
#ifndef TERN_WS_FRAME_H
#define TERN_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#include "core/utf8.h"

/* Opcodes (RFC 6455 section 5.2). */
enum {
	TERN__WS_OP_CONT = 0x0,
	TERN__WS_OP_TEXT = 0x1,
	TERN__WS_OP_BINARY = 0x2,
	TERN__WS_OP_CLOSE = 0x8,
	TERN__WS_OP_PING = 0x9,
	TERN__WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1) the relay sends or reports. */
enum {
	TERN__WS_CLOSE_NORMAL = 1000,
	TERN__WS_CLOSE_GOING_AWAY = 1001,
	TERN__WS_CLOSE_PROTOCOL = 1002,
	TERN__WS_CLOSE_UNSUPPORTED = 1003,
	TERN__WS_CLOSE_NO_STATUS = 1005, /* reported only: empty close frame */
	TERN__WS_CLOSE_INVALID_DATA = 1007,
	TERN__WS_CLOSE_POLICY = 1008,
	TERN__WS_CLOSE_TOO_BIG = 1009,
	TERN__WS_CLOSE_INTERNAL = 1011,
};

/* Largest control frame payload, and largest server frame header. */
#define TERN__WS_CONTROL_MAX 125
#define TERN__WS_HEADER_MAX 10
/* Room for a whole close frame built by tern__ws_close_frame(). */
#define TERN__WS_CLOSE_FRAME_MAX (2 + TERN__WS_CONTROL_MAX)

/*
 * A growable byte buffer owned by the caller. A zeroed struct is a valid
 * empty buffer. The parser appends to it; the caller frees it.
 */
typedef struct tern__ws_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
} tern__ws_buf;

/*
 * Makes room for `extra` more bytes after b->len. Grows geometrically but
 * never past `limit` bytes of capacity, unless len + extra itself is
 * larger (then exactly that much). Returns 0, TERN_ENOMEM (b unchanged)
 * or TERN_ETOOBIG when len + extra overflows size_t.
 */
int tern__ws_buf_reserve(tern__ws_buf *b, size_t extra, size_t limit);

/* Frees b's memory and zeroes it. b may be a zeroed buffer. */
void tern__ws_buf_free(tern__ws_buf *b);

/*
 * Parser state of one connection. Private: use the functions below.
 * 56 bytes on LP64, no pointers, no allocation.
 */
typedef struct tern__ws_parser {
	uint64_t max_message; /* bound on a data message's payload */
	uint64_t msg_len;     /* payload bytes of the data message so far */
	uint64_t remaining;   /* payload bytes left in the current frame */
	uint8_t hdr[14];      /* header bytes gathered so far */
	uint8_t mask[4];      /* masking key of the current frame */
	uint8_t hdr_len;      /* bytes in hdr */
	uint8_t hdr_need;     /* header size once known (2 until then) */
	uint8_t state;        /* header, payload, closed, error */
	uint8_t frame;        /* current frame: opcode | FIN/RSV1 flags */
	uint8_t msg_op;       /* TEXT/BINARY of the open message, or 0 */
	uint8_t flags;        /* deflate allowed, compressed, release, ... */
	uint8_t utf8;         /* UTF-8 validator state of the message */
	uint8_t mask_off;     /* payload bytes of this frame so far, mod 4 */
	uint8_t err;          /* reason index after an error */
	uint16_t err_code;    /* close code after an error */
} tern__ws_parser;

/*
 * What one tern__ws_parse() call produced.
 *  opcode       0: no event (all input consumed, need more);
 *               TEXT/BINARY: a complete data message;
 *               PING, PONG, CLOSE: a control frame.
 *  compressed   data messages: RSV1 was set (payload is deflated; pass it
 *               to tern__ws_pmd_inflate).
 *  close_code   CLOSE: the code received (1005 when the payload was
 *               empty). After an error: the code to close with.
 *  payload      the unmasked payload (CLOSE: the reason after the code).
 *               It points into `in` or into the caller's buffer, and
 *               stays valid until the next call on this parser or until
 *               the caller changes or frees either.
 *  error        after an error: a static description, else NULL.
 */
typedef struct tern__ws_event {
	uint8_t opcode;
	bool compressed;
	uint16_t close_code;
	tern_slice payload;
	const char *error;
} tern__ws_event;

/*
 * Initializes p for a new connection.
 * @max_message: largest data message payload accepted (>= 1).
 * @deflate:     permessage-deflate was negotiated (RSV1 allowed).
 * Returns 0 or TERN_EINVAL (max_message == 0).
 */
int tern__ws_parser_init(tern__ws_parser *p, uint64_t max_message, bool deflate);

/*
 * True when no data message is partly received: the caller's message
 * buffer holds nothing the parser needs and may be freed.
 */
bool tern__ws_parser_idle(const tern__ws_parser *p);

/*
 * Parses client frames from in[0..len). See the contract at the top.
 * @msg: the connection's message buffer (may be a zeroed buffer). The
 *       parser sets msg->len itself; the caller must not change its
 *       contents, and may free it only when tern__ws_parser_idle().
 * @ev:  out, always written.
 * @consumed: out, bytes of `in` used.
 * Returns 0, or on error TERN_EPARSE (close code 1002 or 1007),
 * TERN_ETOOBIG (1009) or TERN_ENOMEM (1011), with ev->close_code and
 * ev->error set.
 */
int tern__ws_parse(tern__ws_parser *p, uint8_t *in, size_t len,
		   tern__ws_buf *msg, tern__ws_event *ev, size_t *consumed);

/* True when code may appear in a close frame received from a peer. */
bool tern__ws_close_code_valid(unsigned code);

/*
 * Encodes a server-to-client frame header (unmasked, minimal length) into
 * out[TERN__WS_HEADER_MAX] and returns its size (2, 4 or 10). The payload
 * follows it unchanged, so header and payload go out in one writev().
 * @opcode: TEXT, BINARY, CONT or a control opcode.
 * @fin:    last frame of the message (control frames: always true).
 * @rsv1:   the message is compressed (first frame only).
 * @len:    payload length (control frames: <= 125, not checked here).
 */
size_t tern__ws_frame_header(uint8_t out[TERN__WS_HEADER_MAX], unsigned opcode,
			     bool fin, bool rsv1, uint64_t len);

/*
 * Builds a complete ping or pong frame (header + payload) into out, which
 * must hold 2 + n bytes (TERN__WS_CLOSE_FRAME_MAX always suffices).
 * Returns the frame size, or 0 when n > 125 or opcode is not PING/PONG.
 */
size_t tern__ws_control_frame(uint8_t *out, unsigned opcode, const uint8_t *payload,
			      size_t n);

/*
 * Builds a complete close frame into out[TERN__WS_CLOSE_FRAME_MAX]:
 * code (big-endian) then reason, the reason cut to 123 bytes at a UTF-8
 * character boundary. code 0 builds an empty close frame (no code, no
 * reason). reason may be NULL. Returns the frame size.
 */
size_t tern__ws_close_frame(uint8_t out[TERN__WS_CLOSE_FRAME_MAX], unsigned code,
			    const char *reason, size_t reason_len);

#endif
