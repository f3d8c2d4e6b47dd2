/*
 * tern/arena.h - a bump allocator for per-message scratch memory.
 *
 * Parsing one message (an event, a filter) allocates into an arena; the
 * arena is reset, not freed piecemeal, before the next message. Memory comes
 * from a list of blocks that are kept across resets, so a long-lived arena
 * reaches a steady state with no malloc calls at all.
 *
 * An arena is not thread-safe: one per thread (or per connection).
 */
#ifndef TERN_ARENA_H
#define TERN_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_arena_block tern_arena_block;

typedef struct tern_arena {
	tern_arena_block *head;  /* block being filled */
	tern_arena_block *spare; /* blocks kept from earlier resets */
	size_t limit;            /* max total bytes (0 = unlimited) */
	size_t used;             /* bytes handed out since the last reset */
} tern_arena;

/* Initializes an empty arena; limit caps the bytes one message may use
 * (0 = no cap). Allocates nothing. */
void tern_arena_init(tern_arena *a, size_t limit);

/* Returns size bytes aligned to 16, or NULL when out of memory or when the
 * arena's limit would be passed. Valid until the next reset or free. */
void *tern_arena_alloc(tern_arena *a, size_t size);

/* Makes all memory reusable; pointers handed out before become invalid. */
void tern_arena_reset(tern_arena *a);

/* Frees every block. The arena may be reused after tern_arena_init(). */
void tern_arena_free(tern_arena *a);

#ifdef __cplusplus
}
#endif
#endif
