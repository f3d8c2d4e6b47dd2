/*
 * Internal WebSocket opening handshake, server side (RFC 6455 section
 * 4.2), with permessage-deflate negotiation (RFC 7692 section 7).
 *
 * Input is a request head already accepted by tern__http_parse(); output
 * is either a negotiated handshake (accept key and extension parameters)
 * from which the 101 response is written, or a refusal with the status to
 * answer, a static reason and, where the RFC asks for one, an extra
 * response header line.
 *
 * Refusals, in the order they are checked:
 *   405 method is not GET                  (extra "Allow: GET")
 *   400 HTTP/1.0                           (the handshake needs HTTP/1.1)
 *   400 no Host field
 *   400 Upgrade lacks the token "websocket"
 *   400 Connection lacks the token "upgrade"
 *   426 Sec-WebSocket-Version missing     (extra "Sec-WebSocket-Version: 13")
 *   400 Sec-WebSocket-Version sent more than once
 *   426 Sec-WebSocket-Version not exactly "13"  (same extra header)
 *   400 Sec-WebSocket-Key missing, sent more than once, or not the
 *       base64 of 16 bytes
 *   400 Sec-WebSocket-Extensions not well-formed (RFC 6455 section 9.1)
 *
 * Tokens in Upgrade and Connection, extension names and parameter names
 * are matched ASCII case-insensitively. Sec-WebSocket-Protocol is ignored:
 * the relay speaks no subprotocol, so none is selected (RFC 6455 allows
 * the server to answer without one).
 */
#ifndef TERN_WS_HANDSHAKE_H
#define TERN_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

/* Length of a Sec-WebSocket-Accept value (base64 of a SHA-1 digest). */
#define TERN__WS_ACCEPT_LEN 28
/* Room for any 101 response of tern__ws_handshake_response(), NUL
 * included (the longest, with every deflate parameter, is 285 bytes). */
#define TERN__WS_RESPONSE_MAX 320

/*
 * What the server is willing to do for permessage-deflate.
 * tern__ws_deflate_policy_default() gives: enabled, no context takeover
 * both ways, both windows 15 bits.
 *
 * No context takeover on both sides lets the relay drop (or share per
 * thread) its zlib streams between messages: memory per idle connection
 * stays flat, at the cost of a worse ratio for streams of small similar
 * messages. Turning server_no_context_takeover off keeps a deflate stream
 * (~256 KiB at 15 bits) per connection alive.
 */
typedef struct tern__ws_deflate_policy {
	bool enabled;
	/* Always answer server_no_context_takeover (the client may demand
	 * it anyway, which is honoured whatever this says). */
	bool server_no_context_takeover;
	/* Always answer client_no_context_takeover (the client must then
	 * reset its compressor per message; always allowed by RFC 7692). */
	bool client_no_context_takeover;
	/* Largest window the server compresses with: 9..15 (8 is taken as
	 * 9: zlib cannot produce 8-bit windows, so offers that demand
	 * server_max_window_bits=8 are declined). */
	uint8_t server_max_window_bits;
	/* Largest window the server wants the client to compress with: 8..15.
	 * Only enforceable when the client offers client_max_window_bits;
	 * otherwise the client may use 15 and the inflater must allow it. */
	uint8_t client_max_window_bits;
} tern__ws_deflate_policy;

/* The negotiated permessage-deflate parameters of one connection. */
typedef struct tern__ws_deflate {
	bool enabled; /* false: no compression (nothing else is meaningful) */
	bool server_no_context_takeover; /* reset our deflater per message */
	bool client_no_context_takeover; /* client resets its deflater */
	/* Window we must deflate with (9..15). */
	uint8_t server_max_window_bits;
	/* Largest window the client may use (8..15): inflate with at least
	 * this many bits (zlib's inflate needs windowBits >= this). */
	uint8_t client_max_window_bits;
	/* Whether the response carries *_max_window_bits (only then is it
	 * binding for the peer; see tern__ws_deflate_format). */
	bool send_server_max_window_bits;
	bool send_client_max_window_bits;
} tern__ws_deflate;

/* A validated (or refused) opening handshake. */
typedef struct tern__ws_handshake {
	char accept[TERN__WS_ACCEPT_LEN + 1]; /* NUL-terminated */
	tern__ws_deflate deflate;
	/* After a refusal: status (400, 405, 426), static reason, and a
	 * static header line to add to the response ("Name: value\r\n") or
	 * NULL. 0 / NULL / NULL after success. */
	int status;
	const char *reason;
	const char *extra_header;
} tern__ws_handshake;

/* Fills p with the default policy described above. */
void tern__ws_deflate_policy_default(tern__ws_deflate_policy *p);

/*
 * True when req asks for a WebSocket upgrade at all (an Upgrade field
 * holding the token "websocket"): lets a router send such requests to
 * tern__ws_handshake_check() and everything else to the HTTP routes.
 */
bool tern__ws_is_upgrade(const tern__http_request *req);

/*
 * Validates an opening handshake and negotiates permessage-deflate.
 *
 * @req: a head accepted by tern__http_parse(); its buffer must still be
 *       valid. Nothing in hs points into it afterwards.
 * @pol: deflate policy, or NULL (or pol->enabled false) for none.
 * @hs:  out. On success accept and deflate are set.
 *
 * Returns 0, TERN_EPARSE with hs->status/reason/extra_header set (see the
 * table at the top of this file), or TERN_ECRYPTO when libcrypto fails
 * (hs->status 500). Thread-safe; no allocation beyond libcrypto's.
 */
int tern__ws_handshake_check(const tern__http_request *req,
			     const tern__ws_deflate_policy *pol,
			     tern__ws_handshake *hs);

/*
 * Computes the Sec-WebSocket-Accept value for key (the client's
 * Sec-WebSocket-Key, as sent): base64(SHA-1(key + RFC 6455 GUID)).
 * out receives TERN__WS_ACCEPT_LEN characters and a NUL.
 * Returns 0 or TERN_ECRYPTO. The key is not validated here.
 */
int tern__ws_accept_key(tern_slice key, char out[TERN__WS_ACCEPT_LEN + 1]);

/*
 * True when key is the canonical base64 encoding of exactly 16 bytes:
 * 22 base64 characters whose last one carries no stray bits, then "==".
 */
bool tern__ws_key_valid(tern_slice key);

/*
 * Negotiates permessage-deflate from the Sec-WebSocket-Extensions field
 * lines of req (all lines form one list). Offers are tried in the
 * client's order; the first acceptable one under pol wins. An offer with
 * an unknown parameter, a duplicated parameter, a value where none is
 * allowed or an invalid value (window bits outside 8..15, leading zeros,
 * missing) is declined, as RFC 7692 section 7 requires; other extensions
 * are ignored. Values may be tokens or quoted-strings.
 *
 * Returns 0 with *out set (out->enabled false when nothing was accepted
 * or pol is NULL/disabled), or TERN_EPARSE when the field is not
 * well-formed (*reason set to a static string; out->enabled false).
 */
int tern__ws_deflate_negotiate(const tern__http_request *req,
			       const tern__ws_deflate_policy *pol,
			       tern__ws_deflate *out, const char **reason);

/*
 * Writes the Sec-WebSocket-Extensions response value for d, e.g.
 * "permessage-deflate; server_no_context_takeover;
 * client_no_context_takeover; server_max_window_bits=10", NUL-terminated
 * and truncated to cap (cap may be 0). Returns the full length (like
 * snprintf); 0 when d->enabled is false.
 */
size_t tern__ws_deflate_format(const tern__ws_deflate *d, char *buf, size_t cap);

/*
 * Writes the complete "101 Switching Protocols" response for a successful
 * handshake into buf (not NUL-terminated): status line, Upgrade,
 * Connection, Sec-WebSocket-Accept, Sec-WebSocket-Extensions when
 * deflate is enabled, and the empty line; a NUL follows it in buf.
 * TERN__WS_RESPONSE_MAX bytes always suffice. Returns 0 with *out_len set (NUL excluded), TERN_EINVAL when hs is a refusal, or
 * TERN_ETOOBIG when cap is too small (nothing useful written).
 */
int tern__ws_handshake_response(const tern__ws_handshake *hs, char *buf,
				size_t cap, size_t *out_len);

#endif
