/*
 * Client-to-relay messages (NIP-01, NIP-42, NIP-45, NIP-77): one WebSocket
 * text message in, one tagged struct out, or a refusal that says exactly
 * what to answer.
 *
 *   ["EVENT", <event>]                          NIP-01
 *   ["REQ", <sub id>, <filter>, ...]            NIP-01, at least one filter
 *   ["CLOSE", <sub id>]                         NIP-01
 *   ["AUTH", <event>]                           NIP-42
 *   ["COUNT", <sub id>, <filter>, ...]          NIP-45, at least one filter
 *   ["NEG-OPEN", <sub id>, <filter>, <hex>]     NIP-77
 *   ["NEG-MSG", <sub id>, <hex>]                NIP-77
 *   ["NEG-CLOSE", <sub id>]                     NIP-77
 *
 * The message is read once with the shared strict scanner (src/proto/json.h).
 * Filters are parsed in place into the caller's arena. Events are only
 * delimited and validated as JSON here: the relay hands msg->event to
 * tern_event_parse(), which owns the event rules.
 *
 * Verbs and subscription ids are compared and measured after JSON unescaping
 * ("\u0045VENT" is EVENT). Verbs are case-sensitive.
 *
 * Memory: slices point into buf or into the arena; the result is valid until
 * buf changes or the arena is reset. Thread-safe (the arena is the caller's).
 */
#ifndef TERN_PROTO_MESSAGE_H
#define TERN_PROTO_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/filter.h>
#include <tern/types.h>

/* NIP-01: a subscription id is a non-empty string of at most 64 characters
 * (counted as Unicode code points of the decoded string). */
#define TERN__MSG_SUB_MAX 64

typedef enum tern__msg_type {
	TERN__MSG_UNKNOWN = 0, /* verb not read, or not one of the below */
	TERN__MSG_EVENT,
	TERN__MSG_REQ,
	TERN__MSG_COUNT,
	TERN__MSG_CLOSE,
	TERN__MSG_AUTH,
	TERN__MSG_NEG_OPEN,
	TERN__MSG_NEG_MSG,
	TERN__MSG_NEG_CLOSE,
} tern__msg_type;

/* What the relay answers a refused message with (NIP-01 / NIP-77). */
typedef enum tern__msg_reply {
	TERN__MSG_REPLY_NONE = 0, /* parsed: no error reply */
	TERN__MSG_REPLY_NOTICE,   /* ["NOTICE", "<reason>"]: no id is known */
	TERN__MSG_REPLY_CLOSED,   /* ["CLOSED", <sub>, "<reason>"] (REQ, COUNT) */
	TERN__MSG_REPLY_OK,       /* ["OK", <id>, false, "<reason>"] (EVENT, AUTH) */
	TERN__MSG_REPLY_NEG_ERR,  /* ["NEG-ERR", <sub>, "<reason>"] (NEG-*) */
} tern__msg_reply;

typedef struct tern__msg {
	tern__msg_type type;
	tern__msg_reply reply;   /* NONE on success */
	/* EVENT, AUTH: the event object's exact bytes, inside buf. */
	tern_slice event;
	/* REQ, COUNT, CLOSE, NEG-*: decoded subscription id. Also set on a
	 * CLOSED / NEG-ERR refusal (then possibly empty or too long). */
	tern_slice sub;
	/* REQ, COUNT (nfilters >= 1), NEG-OPEN (nfilters == 1). */
	tern_filter *filters;
	uint32_t nfilters;
	/* NEG-OPEN, NEG-MSG: the negentropy message, hex-decoded (arena).
	 * The hex must be non-empty and of even length; NIP-77 does not fix
	 * the case of its digits, so both cases are accepted. */
	tern_slice neg;
	/* Reply OK: the event id as 64 lowercase hex characters. */
	tern_slice id;
} tern__msg;

typedef struct tern__msg_limits {
	size_t max_bytes;      /* bytes of one message (default 524288: twice
	                        * the largest event tern_event_parse() takes
	                        * by default, so the envelope never decides) */
	uint32_t max_depth;    /* JSON nesting, the message array being level 1
	                        * (default 20: above the event parser's 16 plus
	                        * the array, so only the inner parsers refuse) */
	uint32_t max_filters;  /* filters in one REQ or COUNT (default 20) */
	tern_filter_limits filter; /* per filter (tern_filter_limits_defaults) */
} tern__msg_limits;

void tern__msg_limits_defaults(tern__msg_limits *l);

/*
 * Parses one client message from buf[0..len). lim may be NULL for the
 * defaults. Whitespace around every token is allowed; anything after the
 * closing ']' is an error.
 *
 * Returns 0 with m filled and m->reply == TERN__MSG_REPLY_NONE; or
 * TERN_EPARSE (malformed), TERN_ETOOBIG (a limit) or TERN_ENOMEM (arena
 * exhausted), with m->reply saying which reply to send, the fields it needs
 * (m->sub for CLOSED and NEG-ERR, m->id for OK) and m->type when the verb was
 * recognised. why (may be NULL) gets the reason ("invalid: ...",
 * "unsupported: ..." from the filter parser, "error: ..." for memory), e.g.
 *   NOTICE  invalid: message is not a JSON array
 *   NOTICE  invalid: unknown message type "FOO"
 *   NOTICE  invalid: CLOSE takes exactly one subscription id
 *   CLOSED  invalid: subscription id must be 1-64 characters
 *   CLOSED  invalid: too many filters (max 20)
 *   OK      invalid: EVENT takes exactly one event
 *
 * Which reply: once a REQ/COUNT subscription id string has been read, every
 * later problem (bad filter, malformed JSON, trailing garbage) is CLOSED, and
 * NEG-ERR likewise for NEG-*; EVENT and AUTH problems are OK false when an id
 * can be read from the event (tern__msg_event_id()); everything else, CLOSE
 * included (it has no reply of its own), is NOTICE.
 */
int tern__msg_parse(tern__msg *m, const uint8_t *buf, size_t len,
		    const tern__msg_limits *lim, tern_arena *a,
		    tern_reason *why);

/*
 * Best-effort extraction of an event's "id" from possibly malformed JSON
 * starting at buf (an object): walks the top-level members until "id" or the
 * first syntax error. True when an "id" member was reached whose value is a
 * string of 64 lowercase hex characters; *id then holds them (in buf, or in
 * a when escaped). Use it to answer OK false when tern_event_parse() refuses
 * msg->event. Never reads past len.
 */
bool tern__msg_event_id(const uint8_t *buf, size_t len, uint32_t max_depth,
			tern_arena *a, tern_slice *id);

/* The wire verb of a type ("EVENT", ...), or "" for TERN__MSG_UNKNOWN. */
const char *tern__msg_type_name(tern__msg_type t);

#endif
