/*
 * Small pieces shared by the backends and the relay's query sources:
 * deep copies of filters, and the sort key of an event read from its
 * canonical JSON.
 */
#ifndef TERN_BACKEND_SUPPORT_H
#define TERN_BACKEND_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern/arena.h>
#include <tern/filter.h>
#include <tern/types.h>

/* An empty filter (matches everything): since 0, until UINT64_MAX. */
void tern__support_filter_init(tern_filter *f);

/* Copies n filters and everything they point to into a. Returns the copy,
 * or NULL when out of memory (or n == 0). */
tern_filter *tern__support_filters_copy(tern_arena *a, const tern_filter *fs,
					size_t n);

/*
 * Reads created_at, id and pubkey (either may be NULL) of an event from its
 * canonical JSON, where they sit at fixed places:
 * {"id":"<64 hex>","pubkey":"<64 hex>","created_at":N,...
 * Falls back to a full parse when json does not start that way. Returns
 * false when json is not an event.
 */
bool tern__support_json_key(tern_slice json, uint64_t *created_at,
			    uint8_t id[32], uint8_t pubkey[32]);

/* Newest first, then lowest id: <0 when (ca1, id1) comes first. */
static inline int tern__support_order(uint64_t ca1, const uint8_t *id1,
				      uint64_t ca2, const uint8_t *id2)
{
	if (ca1 != ca2)
		return ca1 > ca2 ? -1 : 1;
	return memcmp(id1, id2, 32);
}

#endif
