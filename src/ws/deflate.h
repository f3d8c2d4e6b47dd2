/*
 * Internal permessage-deflate (RFC 7692) message codec on zlib.
 *
 * Memory trade-off. A zlib deflate stream at 15 window bits costs about
 * 256 KiB (128 KiB window + 128 KiB hash/lit buffers at memLevel 8), an
 * inflate stream about 39 KiB (32 KiB window + state). Kept per
 * connection ("context takeover"), that is 64x the 4 KiB budget of an
 * idle connection. So:
 *  - With no_context_takeover (the default negotiation), no stream
 *    belongs to a connection: each I/O thread owns one inflater and one
 *    deflater per window size (tern__ws_pmd_thread), reset before every
 *    message (inflateReset / deflateReset). Messages are processed one at
 *    a time on a thread, so sharing costs nothing but the reset.
 *    A connection then holds only its negotiated parameters.
 *  - With context takeover (allowed as an option, per direction), the
 *    connection gets its own stream for that direction, created lazily on
 *    the first message and kept until tern__ws_pmd_conn_free(): better
 *    ratios on streams of similar messages, at the memory cost above.
 *
 * Window bits. The inflater always accepts the negotiated client window or
 * any smaller one (shared inflaters use 15; a connection's own inflater
 * uses max(9, client_max_window_bits)). zlib cannot produce raw deflate
 * with an 8-bit window (deflateInit2 refuses it), so
 * server_max_window_bits = 8 deflates with 9, the usual mapping; the
 * handshake therefore declines offers that require 8.
 *
 * Thread: a tern__ws_pmd_thread belongs to one thread; a tern__ws_pmd_conn
 * to one connection served by that thread. No globals.
 */
#ifndef TERN_WS_DEFLATE_H
#define TERN_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#include "ws/frame.h"

/*
 * Negotiated parameters of one connection (the same values as the
 * handshake's tern__ws_deflate result). Window bits outside 8..15 are
 * clamped into it.
 */
typedef struct tern__ws_pmd_params {
	bool server_no_context_takeover; /* reset our deflater per message */
	bool client_no_context_takeover; /* the client resets per message */
	uint8_t server_max_window_bits;  /* window we deflate with */
	uint8_t client_max_window_bits;  /* largest window the client uses */
} tern__ws_pmd_params;

/*
 * Per-thread shared streams (created lazily, on first use).
 * Private fields; zero-initialize through tern__ws_pmd_thread_init().
 */
typedef struct tern__ws_pmd_thread {
	void *inflater;    /* z_stream *, 15-bit window */
	void *deflater[8]; /* z_stream * per window bits 8 + i (index 0 unused) */
	int level;         /* zlib compression level */
} tern__ws_pmd_thread;

/* Per-connection state: 24 bytes; streams only with context takeover. */
typedef struct tern__ws_pmd_conn {
	tern__ws_pmd_params params;
	void *inflater; /* z_stream *, NULL until first needed */
	void *deflater; /* z_stream *, NULL until first needed */
} tern__ws_pmd_conn;

/*
 * Initializes t. level: zlib level 0..9 or -1 (Z_DEFAULT_COMPRESSION);
 * anything else is taken as -1. Allocates nothing.
 */
void tern__ws_pmd_thread_init(tern__ws_pmd_thread *t, int level);

/* Frees the streams of t. t may be reinitialized afterwards. */
void tern__ws_pmd_thread_free(tern__ws_pmd_thread *t);

/* Initializes c for a connection with the negotiated parameters. */
void tern__ws_pmd_conn_init(tern__ws_pmd_conn *c, const tern__ws_pmd_params *params);

/* Frees c's streams (if any). Call when the connection closes. */
void tern__ws_pmd_conn_free(tern__ws_pmd_conn *c);

/*
 * Inflates one received message (the payload of a message reported with
 * compressed = true; the trailing 00 00 ff ff is appended here) and
 * appends the result to out. An empty payload is taken as an empty
 * message (the canonical form is the one byte 00).
 *
 * @t:    the thread's shared streams (required).
 * @c:    the connection, or NULL for no context takeover with 15 bits.
 * @max:  bound on the inflated size. Decided while inflating: out grows
 *        by at most max bytes (never allocated past that), and the call
 *        fails with TERN_ETOOBIG as soon as one more byte would come out.
 * @text: the message is text: the output must be valid UTF-8.
 * @close_code: out, on failure: the close code to send (may be NULL).
 *
 * Returns 0; TERN_ETOOBIG (1009); TERN_EPARSE (1007: corrupt or
 * truncated deflate data, or invalid UTF-8); TERN_ENOMEM (1011). On
 * failure out->len is restored; a connection's own inflater is then in an
 * undefined state and the connection must be closed.
 */
int tern__ws_pmd_inflate(tern__ws_pmd_thread *t, tern__ws_pmd_conn *c, tern_slice in,
			 size_t max, bool text, tern__ws_buf *out, uint16_t *close_code);

/*
 * Deflates one outgoing message (raw deflate, Z_SYNC_FLUSH, the trailing
 * 00 00 ff ff removed, RFC 7692 section 7.2.1) and appends it to out.
 * Send it with RSV1 set on the first frame. An empty message gives the
 * one byte 00. With server_no_context_takeover the output depends only on
 * the input, the level and the window bits, so one compressed copy can be
 * shared by every connection with those parameters.
 * @t and @c as for tern__ws_pmd_inflate(); t's level is used.
 * Returns 0, TERN_ENOMEM, or TERN_ETOOBIG (input over 4 GiB).
 */
int tern__ws_pmd_deflate(tern__ws_pmd_thread *t, tern__ws_pmd_conn *c, tern_slice in,
			 tern__ws_buf *out);

#endif
