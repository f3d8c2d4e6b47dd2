/*
 * Ref-counted shared buffers and the bounded per-connection output queue.
 *
 * A stored event's JSON is copied once into a tern__rbuf and shared by every
 * delivery of it, on every I/O thread (the count is atomic). A connection's
 * output queue is a list of byte ranges of ref-counted buffers (a reference
 * is held while a range is queued): shared event bodies, and the queue's own
 * append chunks, which hold frame headers and message envelopes. Chunks
 * never move once allocated, so ranges handed to an asynchronous write stay
 * valid while more is appended. The queue is flushed once per loop turn as
 * one iovec array (tern__outq_iov), so many messages leave in one system
 * call. An empty queue holds no memory but its entry array.
 *
 * A queue is used by one thread (its connection's I/O thread). Sizes are
 * counted in tern__outq.bytes so that the caller can apply its
 * slow-consumer limit.
 */
#ifndef TERN_RELAY_OUTQ_H
#define TERN_RELAY_OUTQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct tern__rbuf {
	atomic_uint refs;
	size_t len;
	uint8_t data[];
} tern__rbuf;

/* A buffer of len bytes (contents undefined) with one reference, or NULL. */
tern__rbuf *tern__rbuf_new(size_t len);
/* A buffer holding a copy of p[0..len), or NULL. */
tern__rbuf *tern__rbuf_dup(const void *p, size_t len);
/* Takes a reference; returns b. Thread-safe. */
tern__rbuf *tern__rbuf_ref(tern__rbuf *b);
/* Drops a reference, freeing b at zero. b may be NULL. Thread-safe. */
void tern__rbuf_unref(tern__rbuf *b);

/* One queued range of b. */
typedef struct tern__outq_ent {
	tern__rbuf *b;
	size_t off;
	size_t len;
	bool end;  /* the last range of a frame */
} tern__outq_ent;

/* Size of the append chunks that hold small pieces. */
#define TERN__OUTQ_CHUNK 4096

typedef struct tern__outq {
	tern__outq_ent *ents;
	uint32_t head, n, cap;  /* live entries are ents[head .. head+n) */
	tern__rbuf *chunk;      /* current append chunk (len = capacity) */
	size_t chunk_used;
	size_t bytes;           /* bytes queued and not yet written */
	bool mid_frame;         /* part of the head frame was written */
} tern__outq;

void tern__outq_init(tern__outq *q);
/* Drops every queued range and frees the queue's memory. */
void tern__outq_free(tern__outq *q);

static inline bool tern__outq_empty(const tern__outq *q)
{
	return q->n == 0;
}

/*
 * Appends a copy of p[0..n) (kept in an append chunk; adjacent ranges of
 * one chunk are merged). Returns 0 or TERN_ENOMEM (nothing queued).
 */
int tern__outq_copy(tern__outq *q, const void *p, size_t n);

/*
 * Queues n bytes in an append chunk and returns where to write them (the
 * caller fills them before the next flush), or NULL when out of memory.
 */
uint8_t *tern__outq_reserve(tern__outq *q, size_t n);

/* Appends b[off .. off+n) taking a new reference to b. 0 or TERN_ENOMEM. */
int tern__outq_ref(tern__outq *q, tern__rbuf *b, size_t off, size_t n);

/*
 * Fills at most max iovecs with the queued ranges, in order. Returns the
 * number filled. The pointers stay valid until the queue is modified.
 */
unsigned tern__outq_iov(const tern__outq *q, struct iovec *iov, unsigned max);

/* Marks the end of a frame: everything queued so far forms whole frames. */
void tern__outq_end_frame(tern__outq *q);

/*
 * Drops queued frames that have not started to be written, keeping the
 * first keep bytes (e.g. those handed to an asynchronous write) and the
 * rest of the frame they end in, and the rest of a frame already partly
 * written, so that what remains is whole frames. Used to make room for a
 * close frame when a slow consumer is dropped.
 */
void tern__outq_drop_unsent(tern__outq *q, size_t keep);

/* Removes the first n bytes (n <= q->bytes), dropping references to shared
 * buffers that were fully written. */
void tern__outq_consume(tern__outq *q, size_t n);

#endif
