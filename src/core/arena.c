/*
 * Bump allocator (include/tern/arena.h). Blocks are kept across resets, so a
 * long-lived arena stops calling malloc once it has seen its largest message.
 */
#include <stdint.h>
#include <stdlib.h>

#include <tern/arena.h>

#define ARENA_MIN_BLOCK 16384

struct tern_arena_block {
	tern_arena_block *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};

void tern_arena_init(tern_arena *a, size_t limit)
{
	a->head = NULL;
	a->spare = NULL;
	a->limit = limit;
	a->used = 0;
}

static tern_arena_block *arena_take_block(tern_arena *a, size_t need)
{
	tern_arena_block **pp, *b;
	size_t cap;

	for (pp = &a->spare; (b = *pp); pp = &b->next) {
		if (b->cap >= need) {
			*pp = b->next;
			b->used = 0;
			return b;
		}
	}
	cap = need < ARENA_MIN_BLOCK ? ARENA_MIN_BLOCK : need;
	if (a->head && a->head->cap * 2 > cap)
		cap = a->head->cap * 2; /* grow geometrically */
	if (cap > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->cap = cap;
	b->used = 0;
	return b;
}

void *tern_arena_alloc(tern_arena *a, size_t size)
{
	tern_arena_block *b = a->head;
	size_t sz;
	void *p;

	if (size > SIZE_MAX - 15)
		return NULL;
	sz = (size + 15) & ~(size_t)15;
	if (a->limit && (sz > a->limit || a->used > a->limit - sz))
		return NULL;
	if (!b || b->cap - b->used < sz) {
		b = arena_take_block(a, sz);
		if (!b)
			return NULL;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += sz;
	a->used += sz;
	return p;
}

void tern_arena_reset(tern_arena *a)
{
	tern_arena_block *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		b->used = 0;
		b->next = a->spare;
		a->spare = b;
	}
	a->head = NULL;
	a->used = 0;
}

void tern_arena_free(tern_arena *a)
{
	tern_arena_block *b, *next;

	tern_arena_reset(a);
	for (b = a->spare; b; b = next) {
		next = b->next;
		free(b);
	}
	a->spare = NULL;
}
