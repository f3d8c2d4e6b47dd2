/*
 * The write-policy plugin wire protocol (strfry-compatible), without any
 * I/O: building request lines, splitting the plugin's output into lines,
 * and parsing reply lines. Pure functions, safe on any thread.
 *
 * Request (one line to the plugin's stdin):
 *   {"type":"new","event":<event JSON>,"receivedAt":<unix s>,
 *    "sourceType":"IP4"|"IP6"|"Import"|"Stream"|"Sync",
 *    "sourceInfo":"<ip or url>","authed":"<pubkey hex or empty>"}
 * Reply (one line on its stdout):
 *   {"id":"<event id hex>","action":"accept"|"reject"|"shadowReject",
 *    "msg":"<text>"}            (msg optional; other keys ignored)
 */
#ifndef TERN_PLUGIN_PROTO_H
#define TERN_PLUGIN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/event.h>
#include <tern/types.h>

/* Longest reply line accepted; longer lines are discarded whole. */
#define TERN__PLUGIN_LINE_MAX 16384

typedef enum tern__plugin_action {
	TERN__PLUGIN_ACCEPT = 0,
	TERN__PLUGIN_REJECT,
	TERN__PLUGIN_SHADOW_REJECT,
} tern__plugin_action;

typedef struct tern__plugin_reply {
	uint8_t id[32];
	tern__plugin_action action;
	/* For REJECT: the client's reason. A msg that starts with a NIP-01
	 * prefix ("rate-limited: slow down") keeps it; any other text, or
	 * none, is sent as "blocked: <msg>". Empty for the other actions. */
	tern_reason why;
} tern__plugin_reply;

/*
 * Builds the request line for ev (ending in '\n') in a malloc'd buffer:
 * *out (caller frees) and *outlen. source_type is one of the strfry words;
 * source_info and authed_hex are NUL-terminated (may be ""). Returns 0 or
 * TERN_ENOMEM.
 */
int tern__plugin_request(const tern_event *ev, uint64_t received_at,
			 const char *source_type, const char *source_info,
			 const char *authed_hex, char **out, size_t *outlen);

/*
 * Parses one reply line (without its '\n'). Returns 0, or TERN_EPARSE
 * with err (may be NULL) saying why: not JSON, no valid "id" (64 hex
 * digits), unknown or missing "action", "msg" not a string.
 */
int tern__plugin_reply_parse(const uint8_t *line, size_t len,
			     tern__plugin_reply *out, tern_reason *err);

/* Fills why from a plugin's reject msg as described for tern__plugin_reply
 * (decoded text; may contain anything; truncated on a UTF-8 boundary). */
void tern__plugin_reason_from_msg(tern_reason *why, tern_slice msg);

/*
 * Splits a byte stream into lines. Each complete line is passed to the
 * callback without its '\n' (a trailing '\r' is removed too). A line
 * longer than max is dropped whole; the callback then gets it as
 * (NULL, its length so far, ctx) once, so the caller can log it.
 */
typedef void (*tern__plugin_line_fn)(void *ctx, const uint8_t *line,
				     size_t len);

typedef struct tern__plugin_lines {
	uint8_t *buf;
	size_t len, cap, max;
	size_t dropped;   /* bytes of the overlong line being skipped */
	bool discarding;  /* inside an overlong line */
} tern__plugin_lines;

void tern__plugin_lines_init(tern__plugin_lines *l, size_t max);
/* Feeds n bytes. Returns 0 or TERN_ENOMEM (the partial line is lost). */
int tern__plugin_lines_feed(tern__plugin_lines *l, const uint8_t *p, size_t n,
			    tern__plugin_line_fn fn, void *ctx);
/* Passes a final unterminated line, if any, then empties l. */
void tern__plugin_lines_flush(tern__plugin_lines *l, tern__plugin_line_fn fn,
			      void *ctx);
void tern__plugin_lines_free(tern__plugin_lines *l);

#endif
