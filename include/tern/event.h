/*
 * tern/event.h - the NIP-01 event model: strict parsing, canonical form,
 * id and signature checks.
 *
 * Parsing is zero-copy where it can be: decoded strings that needed no
 * unescaping point into the input buffer; everything else lives in the
 * caller's arena. A parsed event is therefore valid until the input buffer
 * changes or the arena is reset, whichever comes first.
 *
 * The canonical JSON of an event (what tern stores and sends) is the compact
 * object
 *   {"id":"<hex>","pubkey":"<hex>","created_at":N,"kind":N,"tags":[...],
 *    "content":"...","sig":"<hex>"}
 * with strings escaped exactly as in the NIP-01 id serialization: \n \" \\
 * \r \t \b \f as two-character escapes, other bytes below 0x20 as \u00xx,
 * every other byte (U+007F and U+2028 included) verbatim. Its "tags" and
 * "content" values are therefore byte-identical to their parts of the id
 * preimage [0,"<pubkey>",created_at,kind,tags,"content"].
 *
 * All functions are thread-safe; the arena passed in is the caller's.
 */
#ifndef TERN_EVENT_H
#define TERN_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One tag: v[0] is its name, v[1] its value, ... (n may be 0). Decoded. */
typedef struct tern_tag {
	const tern_slice *v;
	uint32_t n;
} tern_tag;

typedef struct tern_event {
	uint8_t id[32];
	uint8_t pubkey[32];
	uint8_t sig[64];
	uint64_t created_at;
	uint32_t kind; /* 0..65535 */
	uint32_t ntags;
	const tern_tag *tags;
	tern_slice content; /* decoded UTF-8; may contain NUL */
	tern_slice json;    /* canonical compact JSON of the whole event */
	/* Offsets into json of the canonical "tags" array and the quoted
	 * "content" string, used to hash the id preimage without copying. */
	uint32_t tags_off, tags_len, content_off, content_len;
} tern_event;

/* Limits a parser enforces; beyond them input is refused (TERN_ETOOBIG). */
typedef struct tern_event_limits {
	size_t max_json;         /* bytes of the event's JSON text (default 262144) */
	size_t max_content;      /* bytes of decoded content (default 131072) */
	uint32_t max_tags;       /* number of tags (default 5000) */
	uint32_t max_tag_values; /* strings in one tag (default 256) */
	uint32_t max_depth;      /* JSON nesting of the whole event, the event
				    object being level 1 (default 16, min 3) */
} tern_event_limits;

/* Fills l with the defaults above. */
void tern_event_limits_defaults(tern_event_limits *l);

/*
 * Parses one event object from buf[0..len). The whole of buf must be the
 * object, optionally surrounded by JSON whitespace; anything else is
 * "trailing garbage". lim may be NULL for the defaults.
 *
 * Refuses, with why->prefix = TERN_PREFIX_INVALID and a precise message:
 * wrong JSON types; missing or duplicate fields; id/pubkey/sig that are not
 * lowercase hex of 64/64/128 characters; kind outside 0..65535; created_at
 * that is not a non-negative integer fitting 64 bits; tags that are not
 * arrays of strings; invalid UTF-8; bad escapes; trailing garbage. Unknown
 * fields are skipped (and not kept in the canonical JSON).
 *
 * Does NOT check the id or the signature (see tern_event_check()).
 *
 * Returns 0; TERN_EPARSE for malformed input; TERN_ETOOBIG past a limit;
 * TERN_ENOMEM when the arena is exhausted. why may be NULL.
 */
int tern_event_parse(tern_event *ev, const uint8_t *buf, size_t len,
		     const tern_event_limits *lim, tern_arena *a,
		     tern_reason *why);

/* SHA-256 of the NIP-01 id preimage of ev (from its canonical parts). */
void tern_event_compute_id(const tern_event *ev, uint8_t out[32]);

/*
 * Checks that ev->id is the hash of its content (TERN_EBADID) and that
 * ev->sig is a valid BIP-340 signature of the id by ev->pubkey
 * (TERN_EBADSIG). Returns 0 when both hold. why gets
 * "invalid: event id does not match" / "invalid: bad signature".
 */
int tern_event_check(const tern_event *ev, tern_reason *why);

/* The id check alone. */
int tern_event_check_id(const tern_event *ev, tern_reason *why);

/* The signature check alone (BIP-340 over ev->id). */
int tern_event_check_sig(const tern_event *ev, tern_reason *why);

/*
 * Returns the value (v[1]) of the first tag named name (v[0] == name), or
 * NULL if none has one. For "d" on addressable events use tern_event_d_tag().
 */
const tern_slice *tern_event_tag_value(const tern_event *ev, const char *name);

/* The "d" tag value of ev, or an empty slice if it has none. */
tern_slice tern_event_d_tag(const tern_event *ev);

/*
 * NIP-40: if ev has a valid ["expiration","<unix seconds>"] tag, stores the
 * time in *out and returns true. Malformed values are ignored (false).
 */
bool tern_event_expiration(const tern_event *ev, uint64_t *out);

/*
 * Parses an event address "<kind>:<pubkey hex>:<d>" (NIP-01 "a" tags, as
 * NIP-09 deletions use them; the last ':' may be missing when d is empty).
 * On success *d points into a. Returns false when a is malformed (kind not
 * 1-5 digits up to 65535, pubkey not 64 lowercase hex).
 */
bool tern_event_parse_address(tern_slice a, uint16_t *kind,
			      uint8_t pubkey[32], tern_slice *d);

/* NIP-70: true if ev carries the ["-"] tag. */
bool tern_event_is_protected(const tern_event *ev);

/* NIP-01 kind classes. */
static inline bool tern_kind_is_replaceable(uint32_t k)
{
	return k == 0 || k == 3 || (k >= 10000 && k < 20000);
}
static inline bool tern_kind_is_ephemeral(uint32_t k)
{
	return k >= 20000 && k < 30000;
}
static inline bool tern_kind_is_addressable(uint32_t k)
{
	return k >= 30000 && k < 40000;
}

#ifdef __cplusplus
}
#endif
#endif
