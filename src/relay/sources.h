/*
 * The relay's storage (tern/backend.h): the backend that stores events and
 * answers queries, and the extra read-only query sources next to it.
 *
 * REQ results of several sources are merged here: each source already
 * returns newest first, so the merge buffers one slice of rows per source
 * and repeatedly emits the newest head (a k-way merge), dropping an event
 * two sources both return and applying each filter's limit to the merged
 * stream. With one source (the common case) queries go straight through,
 * with no copy.
 *
 * A router (router.h) answers each filter from the relay it was routed
 * to, each over its own sources: rel[i] names filter i's relay (rel NULL:
 * every filter is r's, the path of a relay without routes). A query whose
 * filters go to several relays reads one relay's part after the other;
 * counts add up.
 *
 * The source list is fixed while the relay runs; everything here may be
 * called from any I/O thread.
 */
#ifndef TERN_RELAY_SOURCES_H
#define TERN_RELAY_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/backend.h>

typedef struct tern__source {
	const void *owner;
	const tern_backend_ops *ops;
	void *self;
} tern__source;

/* The relay's list; NULL means "the LMDB store alone". */
typedef struct tern__sources {
	tern__source *v; /* v[0] is the backend, then the query sources */
	size_t n, cap;
} tern__sources;

void tern__sources_free(tern__sources *s);

/* Writes ev through the relay's backend (ops.save). */
int tern__sources_save(tern_relay *r, const tern_event *ev,
		       tern_store_write_cb cb, void *ctx);

/* ---- merged queries ------------------------------------------------- */

typedef struct tern__mquery tern__mquery;

/* As tern_query_begin(), over the n sources of src. */
int tern__sources_merge_begin(tern__mquery **out, const tern__source *src,
			      size_t nsrc, const tern_filter *fs, size_t n,
			      uint32_t limit_cap);
/* As tern_query_begin(), each filter over its relay's sources. */
int tern__sources_query_begin(tern__mquery **out, tern_relay *r,
			      const tern_filter *fs, const uint32_t *rel,
			      size_t n, uint32_t limit_cap);

/* As tern_query_next(): 1 while rows may remain, 0 when every source is
 * done or cb stopped the query, or a negative error. */
int tern__sources_query_next(tern__mquery *q, uint32_t max_rows,
			     tern_store_visit_cb cb, void *ctx);

/* The relay whose rows tern__sources_query_next() visits now (for its
 * hooks); NULL for a bare merge. */
tern_relay *tern__sources_query_relay(const tern__mquery *q);

/* Ends the query in every source; q may be NULL. */
void tern__sources_query_end(tern__mquery *q);

/* One-shot: begin, next until done, end. */
int tern__sources_query(tern_relay *r, const tern_filter *fs,
			const uint32_t *rel, size_t n, uint32_t limit_cap,
			tern_store_visit_cb cb, void *ctx);

/* ---- counts ----------------------------------------------------------- */

/* The sum of every source's count (tern_backend_count()), each filter
 * counted by its relay's sources. */
int tern__sources_count(tern_relay *r, const tern_filter *fs,
			const uint32_t *rel, size_t n, uint64_t *count);

/*
 * Counts like tern__sources_count() and, when the request is one filter
 * that NIP-45 gives an HLL offset (tern_hll_offset()), fills regs with the
 * merged registers of every source and sets *has_hll.
 */
int tern__sources_count_hll(tern_relay *r, const tern_filter *fs,
			    const uint32_t *rel, size_t n, uint64_t *count,
			    uint8_t regs[TERN_HLL_REGISTERS], bool *has_hll);

/* ["COUNT","<sub>",{"count":N,"hll":"<512 hex>"}] (no "hll" when regs is
 * NULL), with tern__wire_count()'s contract. TERN__WIRE_SMALL_MAX bytes
 * suffice. */
size_t tern__sources_wire_count(char *buf, size_t cap, tern_slice sub,
				uint64_t n, const uint8_t *regs);

#endif
