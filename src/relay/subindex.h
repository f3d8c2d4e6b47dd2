/*
 * Index of live subscriptions (src/relay/subindex.c).
 *
 * Every I/O thread keeps one index of the subscriptions its connections have
 * open, so that a new event is checked only against the filters that could
 * match it, never against every subscription (docs/ARCHITECTURE.md, "Live
 * matching is indexed").
 *
 * A subscription is (owner, id, filters): owner is an opaque non-NULL
 * pointer chosen by the caller (the connection), id the NIP-01 subscription
 * id (0..TERN__SUBINDEX_ID_MAX bytes, any bytes), filters a list of parsed
 * filters. The index keeps its own deep copy of the filters, in one
 * allocation per subscription, so the caller may reset the arena the
 * filters were parsed into as soon as tern__subindex_add() returns.
 *
 * Each filter is filed under one key family, the most selective it has:
 * its ids, else its authors, else the values of its tag field with the
 * fewest values, else its kinds; a filter with none of these is on a
 * catch-all list. Filters that can match nothing ("search", since > until,
 * an empty list) are kept for listing but not filed at all.
 *
 * Threads: an index is NOT thread-safe. It belongs to one thread (one per
 * I/O loop) and every call on it must come from that thread.
 *
 * Re-entrancy: the callbacks of tern__subindex_match() and
 * tern__subindex_foreach() must not add or remove subscriptions; the
 * mutating calls refuse with -EBUSY while one of those is running. Close
 * connections after the walk (e.g. from the loop's next turn).
 *
 * Memory: bounded by what is indexed. Removing a subscription frees its
 * block, its postings, the keys left empty, and shrinks the hash tables
 * when they become sparse; tern__subindex_stats() reports the bytes held.
 */
#ifndef TERN_RELAY_SUBINDEX_H
#define TERN_RELAY_SUBINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/event.h>
#include <tern/filter.h>
#include <tern/types.h>

/* Longest subscription id, in bytes: NIP-01 asks relays to accept 64
 * characters, which take up to 256 bytes of UTF-8. */
#define TERN__SUBINDEX_ID_MAX 256

typedef struct tern__subindex tern__subindex;

/*
 * What callers see of one subscription. Owned by the index; valid until the
 * subscription is removed or replaced, or the index is freed.
 */
typedef struct tern__subindex_sub {
	void *owner;               /* as given to tern__subindex_add() */
	tern_slice id;             /* the id's bytes; id.p[id.n] is a NUL */
	const tern_filter *filters; /* the index's deep copies */
	uint32_t nfilters;
} tern__subindex_sub;

/* Counters, for tests, benchmarks and metrics. */
typedef struct tern__subindex_counts {
	size_t subs;      /* live subscriptions */
	size_t owners;    /* owners with at least one subscription */
	size_t filters;   /* filters of all subscriptions, filed or not */
	size_t keys;      /* distinct keys in the hash table */
	size_t postings;  /* (filter, key) entries, catch-all included */
	size_t catchall;  /* filters on the catch-all list */
	size_t bytes;     /* heap bytes held by the index */
} tern__subindex_counts;

/*
 * Creates an empty index in *out. Seeds its hash function from the kernel's
 * random source, so that clients cannot choose tag values that collide.
 * Returns 0 or TERN_ENOMEM.
 */
int tern__subindex_new(tern__subindex **out);

/* Frees ix and every subscription in it. ix may be NULL. Must not be called
 * from a callback of the index. */
void tern__subindex_free(tern__subindex *ix);

/*
 * Adds the subscription (owner, id) with nfilters deep-copied filters. If
 * owner already has a subscription with this id it is replaced (NIP-01: a
 * REQ with an open subscription's id replaces it); the replaced one's
 * tern__subindex_sub becomes invalid. nfilters may be 0 (matches nothing).
 * If out is not NULL, *out gets the new subscription's view.
 *
 * The caller enforces its own limits (tern__subindex_count(),
 * tern__subindex_find() tells a replacement from a new subscription).
 *
 * Returns 0; TERN_EINVAL if owner is NULL; TERN_ETOOBIG if id is longer
 * than TERN__SUBINDEX_ID_MAX or the filters need more than SIZE_MAX bytes;
 * TERN_ENOMEM (then the index is unchanged: a subscription being replaced
 * stays in place); -EBUSY from inside a callback.
 */
int tern__subindex_add(tern__subindex *ix, void *owner, tern_slice id,
		       const tern_filter *filters, size_t nfilters,
		       const tern__subindex_sub **out);

/*
 * As tern__subindex_add(), each filter i belonging to route routes[i]
 * (routes NULL: all to route 0): it matches only the events matched with
 * that route (tern__subindex_match_route()). Routes keep the relays of a
 * router apart (relay/router.h); an index without them has route 0 only.
 */
int tern__subindex_add_routed(tern__subindex *ix, void *owner, tern_slice id,
			      const tern_filter *filters, size_t nfilters,
			      const uint32_t *routes,
			      const tern__subindex_sub **out);

/* The route of filter i of sub. */
uint32_t tern__subindex_route(const tern__subindex_sub *sub, uint32_t i);

/* Removes owner's subscription id. Returns 0, TERN_ENOTFOUND, or -EBUSY
 * from inside a callback. */
int tern__subindex_remove(tern__subindex *ix, void *owner, tern_slice id);

/*
 * Removes every subscription of owner (the connection closed), in time
 * proportional to their number. Returns 0 (also when owner had none) or
 * -EBUSY from inside a callback.
 */
int tern__subindex_remove_all(tern__subindex *ix, void *owner);

/* owner's subscription id, or NULL. */
const tern__subindex_sub *tern__subindex_find(const tern__subindex *ix,
					      void *owner, tern_slice id);

/* Number of live subscriptions of owner (0 for an unknown owner). */
size_t tern__subindex_count(const tern__subindex *ix, void *owner);

/*
 * Called once per subscription that ev matches. Must not block, and must not
 * add or remove subscriptions (see above).
 */
typedef void (*tern__subindex_visit_fn)(void *ctx, const tern__subindex_sub *sub);

/*
 * Finds the subscriptions that ev matches: those with at least one filter f
 * for which tern_filter_match(f, ev) holds (so "limit" is ignored, "since"
 * and "until" apply). Calls visit exactly once for each of them, in no
 * particular order. Only candidates filed under ev's id, pubkey, kind, the
 * (name, first value) of each of its single-letter tags, and the catch-all
 * list are examined. Allocates nothing. Returns the number of visits.
 */
size_t tern__subindex_match(tern__subindex *ix, const tern_event *ev,
			    tern__subindex_visit_fn visit, void *ctx);

/* As tern__subindex_match() (which is route 0), over the filters of
 * route only: a subscription is visited when one of those matches. */
size_t tern__subindex_match_route(tern__subindex *ix, const tern_event *ev,
				  uint32_t route,
				  tern__subindex_visit_fn visit, void *ctx);

/*
 * Calls fn for each subscription of owner, or of every owner when owner is
 * NULL (e.g. to list the live filters). Stops at the first non-zero return
 * of fn and returns it; returns 0 after a full walk. fn must not add or
 * remove subscriptions.
 */
int tern__subindex_foreach(tern__subindex *ix, void *owner,
			   int (*fn)(void *ctx, const tern__subindex_sub *sub),
			   void *ctx);

/* True when no filter is filed, so no event can match anything: lets the
 * caller skip preparing an event for tern__subindex_match(). */
bool tern__subindex_idle(const tern__subindex *ix);

/* Fills *st with the index's counters. */
void tern__subindex_stats(const tern__subindex *ix, tern__subindex_counts *st);

#endif
