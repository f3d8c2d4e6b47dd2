/*
 * Scanner-level entry point of the filter parser (src/nostr/filter.c), for
 * parsers of larger messages that carry filters inside them (REQ, COUNT,
 * NEG-OPEN): the filter is read in place from the caller's scanner, with no
 * second pass over its bytes.
 */
#ifndef TERN_NOSTR_FILTER_INTERNAL_H
#define TERN_NOSTR_FILTER_INTERNAL_H

#include <tern/filter.h>

#include "proto/json.h"

/*
 * Parses one filter object at j's cursor (whitespace before it allowed) and
 * leaves the cursor just after its closing '}'. lim may be NULL for the
 * defaults. lim->max_depth counts from the filter object itself (the object
 * is level 1), whatever the scanner's current depth; the scanner's own
 * max_depth still applies. lim->max_json bounds the object's bytes.
 *
 * Errors are those of tern_filter_parse() with the same reasons (written to
 * why, which should be the scanner's), plus "filter must be a JSON object"
 * when the value at the cursor is something else. On error the scanner's
 * error is latched and *f is unspecified. Allocates into a.
 */
int tern__filter_parse_json(tern__json *j, tern_filter *f,
			    const tern_filter_limits *lim, tern_arena *a,
			    tern_reason *why);

/* Binary searches over a parsed filter's sorted lists (ids or authors;
 * kinds), shared with the store's candidate checks. */
bool tern__filter_has_b32(const uint8_t (*v)[32], uint32_t n,
			  const uint8_t *key);
bool tern__filter_has_kind(const uint16_t *v, uint32_t n, uint32_t kind);

/* True when f cannot match any event by its structure: an empty ids,
 * authors, kinds or tag-value list (which hooks may leave; the parser
 * never makes one) or since > until. */
bool tern__filter_matches_nothing(const tern_filter *f);

#endif
