/*
 * tern/filter.h - NIP-01 filters: strict parsing and matching.
 *
 * A parsed filter points into the input buffer and the caller's arena and
 * is valid until either changes. Lists are sorted and de-duplicated by the
 * parser so that matching is a binary search.
 *
 * Semantics (docs/ARCHITECTURE.md has the rationale):
 *  - "ids", "authors", "#e" and "#p" values must be 64-character lowercase
 *    hex; "kinds" values integers in 0..65535; "since"/"until"/"limit"
 *    non-negative integers. Lists must be non-empty arrays. A "limit"
 *    above 2^32-1 is clamped to UINT32_MAX (it means "everything").
 *    "since" greater than "until" is accepted and matches nothing.
 *  - "#<letter>" for a single letter a-z or A-Z; values are strings.
 *  - "search" (NIP-50) is parsed and kept, but tern's own store does not do
 *    full-text search: a filter with "search" matches no stored event.
 *  - Any other field is refused with TERN_PREFIX_UNSUPPORTED.
 */
#ifndef TERN_FILTER_H
#define TERN_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/event.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_tag_filter {
	char name;               /* the letter after '#' */
	uint32_t nvalues;        /* >= 1 */
	const tern_slice *values; /* decoded, sorted (memcmp order), unique */
} tern_tag_filter;

typedef struct tern_filter {
	const uint8_t (*ids)[32];     /* sorted, unique; NULL if absent */
	uint32_t nids;
	const uint8_t (*authors)[32]; /* sorted, unique; NULL if absent */
	uint32_t nauthors;
	const uint16_t *kinds;        /* sorted, unique; NULL if absent */
	uint32_t nkinds;
	const tern_tag_filter *tags;  /* sorted by name, one per name */
	uint32_t ntags;
	uint64_t since;               /* 0 when absent */
	uint64_t until;               /* UINT64_MAX when absent */
	uint32_t limit;               /* valid when has_limit */
	bool has_limit;
	bool has_search;
	tern_slice search;            /* decoded; valid when has_search */
} tern_filter;

typedef struct tern_filter_limits {
	uint32_t max_values;  /* values in one list (default 1000) */
	uint32_t max_tags;    /* "#x" fields in one filter (default 26) */
	size_t max_json;      /* bytes of one filter's JSON (default 131072:
	                       * 1000 hex values alone take ~67 KB) */
	uint32_t max_depth;   /* JSON nesting (default 8) */
} tern_filter_limits;

void tern_filter_limits_defaults(tern_filter_limits *l);

/*
 * Parses one filter object from buf[0..len) (whitespace around it allowed).
 * lim may be NULL for the defaults. On error, why (may be NULL) gets a
 * precise reason meant for the client, e.g.
 *   invalid: "kinds" must be an array of integers 0-65535
 *   invalid: "ids" must not be empty
 *   invalid: duplicate field "limit"
 *   unsupported: filter contains unknown field "x"   (TERN_PREFIX_UNSUPPORTED)
 *   invalid: too many values in "authors" (max 1000) (TERN_ETOOBIG)
 *   error: filter needs too much memory              (TERN_ENOMEM)
 * and *f is unspecified. Returns 0, TERN_EPARSE, TERN_ETOOBIG or TERN_ENOMEM.
 * Thread-safe (the arena is the caller's).
 */
int tern_filter_parse(tern_filter *f, const uint8_t *buf, size_t len,
		      const tern_filter_limits *lim, tern_arena *a,
		      tern_reason *why);

/*
 * Parses either one filter object or a non-empty JSON array of filter
 * objects (as the command-line tools accept). On success *out points to
 * *n >= 1 filters in the arena. max_json applies to each filter object.
 * Same errors as tern_filter_parse().
 */
int tern_filter_parse_list(tern_filter **out, size_t *n, const uint8_t *buf,
			   size_t len, const tern_filter_limits *lim,
			   tern_arena *a, tern_reason *why);

/* True if ev passes every condition of f. "limit" is ignored; a filter with
 * "search" matches nothing (see above). */
bool tern_filter_match(const tern_filter *f, const tern_event *ev);

/* True if ev passes any of the n filters. */
bool tern_filters_match(const tern_filter *fs, size_t n, const tern_event *ev);

/*
 * True if a and b are the same filter: same lists (as parsed: sorted,
 * unique), bounds, limit and search. Useful to drop repeated filters of one
 * request. Pure; thread-safe.
 */
bool tern_filter_equal(const tern_filter *a, const tern_filter *b);

/*
 * Writes f back as compact JSON into buf (NUL-terminated, truncated to cap;
 * cap may be 0); returns the full length, like snprintf. Fields come in a
 * fixed order (ids, authors, kinds, tags by name, since, until, limit,
 * search); ids and authors as hex; strings with the canonical escaping of
 * event.h. since == 0 and until == UINT64_MAX are left out, as they are
 * what absence means, so tern_filter_parse() of the output gives a filter
 * tern_filter_equal() to f. Bytes below 0x20 are escaped, so the output
 * holds no NUL before its terminator.
 */
size_t tern_filter_format(const tern_filter *f, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
