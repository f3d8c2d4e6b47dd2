/*
 * Per-connection ordering of replies: a connection's messages to its
 * client leave in the order of the client messages that caused them, even
 * when a reply is only known later (the OK of an EVENT, which waits for the
 * store's commit).
 *
 * What is ordered: every text message the relay sends on a connection -
 * OK, NOTICE, CLOSED, EOSE, COUNT, AUTH, NEG-ERR, the stored events of a
 * REQ and live events for its subscriptions. While the OK of an earlier
 * EVENT is awaited, every later message of that connection is held behind
 * it (live events too, so that a subscription's events never overtake the
 * replies queued before them; they are delayed by at most the commit time
 * of the events ahead of them). Control frames (ping, pong, close) are not
 * ordered: they go out at once. Other connections are never held up by
 * this one.
 *
 * Shape: a FIFO of segments, one per awaited reply (tern__order_expect(),
 * called when an event goes to the store). A segment holds that reply once
 * it is written, then the messages sent after it was opened and before the
 * next one. When a reply is written (tern__order_reply_begin/end), every
 * complete segment at the head of the FIFO is released, in order, through
 * the caller's sink: the reply, then the held messages. Replies may complete
 * in any order; release order is always arrival order.
 *
 * Held messages are kept whole and unframed (each is a run of ranges of
 * ref-counted buffers in a tern__outq, the last range marked end), so that
 * the caller frames - and compresses, keeping a deflate stream in order -
 * only when it releases them. Shared event bodies are referenced, not
 * copied.
 *
 * Memory: bytes held are counted in tern__order.bytes so that the caller
 * applies its output bound (slow consumer) to held and queued output
 * together. Segments number at most the connection's events at the store
 * (bounded by the store's queue); an empty segment holds no buffers.
 *
 * One connection's order is used on its I/O thread only.
 */
#ifndef TERN_RELAY_ORDER_H
#define TERN_RELAY_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#include "relay/outq.h"

typedef struct tern__order_seg tern__order_seg;

typedef struct tern__order {
	tern__order_seg *head, *tail;
	tern__order_seg *reply;   /* segment whose reply is being written */
	bool direct;              /* ... and it is the head: sent directly */
	uint32_t nsegs;
	size_t bytes;             /* bytes of messages held */
} tern__order;

/*
 * Receives one released message: ents[0..n) are its ranges in order
 * (len bytes in all). The sink takes its own references if it keeps them.
 * Returns 0, or an error that stops the release (the connection is
 * closing; what is left is dropped).
 */
typedef int (*tern__order_sink)(void *ctx, const tern__outq_ent *ents,
				size_t n, size_t len);

void tern__order_init(tern__order *o);
/* Drops every segment and held message. o is then empty and usable. */
void tern__order_clear(tern__order *o);

/* True while messages must be held (tern__order_hold()) rather than sent:
 * a reply is awaited, or one that is not next in line is being written.
 * The reply of the oldest awaited segment is not held: it goes out
 * directly (the common case costs no copy). */
static inline bool tern__order_holding(const tern__order *o)
{
	return o->head != NULL && !o->direct;
}

/*
 * Opens a segment for a reply that will come later, identified by key
 * (not NULL; unique among open segments). Messages held from now on wait
 * behind it. Returns 0 or TERN_ENOMEM (nothing opened: the reply will not
 * be ordered).
 */
int tern__order_expect(tern__order *o, const void *key);

/*
 * Holds one message made of the concatenation of parts[0..n). When bufs
 * is not NULL and bufs[i] is not NULL, parts[i] lies inside bufs[i] and is
 * referenced instead of copied. The message goes into the reply being
 * written (between tern__order_reply_begin/end), else behind the newest
 * awaited reply. Returns 0 or TERN_ENOMEM (nothing held). Only while
 * tern__order_holding().
 */
int tern__order_hold(tern__order *o, const tern_slice *parts,
		     tern__rbuf *const *bufs, size_t n);

/*
 * Starts writing the reply for key: messages sent until
 * tern__order_reply_end() form that reply - sent directly when it is the
 * oldest awaited one (tern__order_holding() is then false), else held.
 * Returns false (nothing started) when no open segment has key, e.g.
 * after tern__order_clear().
 */
bool tern__order_reply_begin(tern__order *o, const void *key);

/*
 * Ends the reply started by tern__order_reply_begin() and releases, in
 * order, every complete segment at the head through sink. Returns 0 or
 * the sink's error (then everything still held was dropped).
 */
int tern__order_reply_end(tern__order *o, tern__order_sink sink, void *ctx);

#endif
