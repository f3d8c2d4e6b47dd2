/* Per-connection ordering of replies (order.h). */
#include <stdlib.h>

#include <tern/error.h>

#include "relay/order.h"

struct tern__order_seg {
	tern__order_seg *next;
	const void *key;
	bool complete;     /* its reply is written */
	tern__outq reply;  /* the awaited reply */
	tern__outq after;  /* messages sent after the segment opened */
};

void tern__order_init(tern__order *o)
{
	*o = (tern__order){ 0 };
}

static void seg_free(tern__order_seg *s)
{
	tern__outq_free(&s->reply);
	tern__outq_free(&s->after);
	free(s);
}

void tern__order_clear(tern__order *o)
{
	tern__order_seg *s, *next;

	for (s = o->head; s; s = next) {
		next = s->next;
		seg_free(s);
	}
	*o = (tern__order){ 0 };
}

int tern__order_expect(tern__order *o, const void *key)
{
	tern__order_seg *s = calloc(1, sizeof *s);

	if (!s)
		return TERN_ENOMEM;
	s->key = key;
	tern__outq_init(&s->reply);
	tern__outq_init(&s->after);
	if (o->tail)
		o->tail->next = s;
	else
		o->head = s;
	o->tail = s;
	o->nsegs++;
	return 0;
}

int tern__order_hold(tern__order *o, const tern_slice *parts,
		     tern__rbuf *const *bufs, size_t n)
{
	tern__outq *q;
	size_t before, total = 0;
	uint32_t first;

	if (!o->tail)
		return TERN_EINVAL;
	q = o->reply ? &o->reply->reply : &o->tail->after;
	before = q->bytes;
	first = q->n;
	for (size_t i = 0; i < n; i++) {
		const tern_slice *p = &parts[i];
		int rc;

		if (!p->n)
			continue;
		total += p->n;
		if (bufs && bufs[i])
			rc = tern__outq_ref(q, bufs[i],
					    (size_t)(p->p - bufs[i]->data),
					    p->n);
		else
			rc = tern__outq_copy(q, p->p, p->n);
		if (rc)
			goto nomem;
	}
	if (total == 0)
		return 0; /* nothing to send: relay messages are never empty */
	tern__outq_end_frame(q);
	o->bytes += q->bytes - before;
	return 0;
nomem:
	/* Undo the partial message: drop the ranges appended. */
	while (q->n > first) {
		tern__outq_ent *e = &q->ents[q->head + q->n - 1];

		q->bytes -= e->len;
		tern__rbuf_unref(e->b);
		q->n--;
	}
	/* A merged chunk range may have grown: the chunk's spare room is
	 * left unused (the next append starts a fresh range). */
	tern__rbuf_unref(q->chunk);
	q->chunk = NULL;
	q->chunk_used = 0;
	return TERN_ENOMEM;
}

bool tern__order_reply_begin(tern__order *o, const void *key)
{
	for (tern__order_seg *s = o->head; s; s = s->next) {
		if (s->key == key && !s->complete) {
			o->reply = s;
			o->direct = s == o->head;
			return true;
		}
	}
	return false;
}

/* Passes the whole messages of q to sink, in order. */
static int release_queue(tern__order *o, tern__outq *q,
			 tern__order_sink sink, void *ctx)
{
	uint32_t start = 0;
	size_t len = 0;

	for (uint32_t i = 0; i < q->n; i++) {
		const tern__outq_ent *e = &q->ents[q->head + i];
		int rc;

		len += e->len;
		if (!e->end)
			continue;
		o->bytes -= len;
		rc = sink(ctx, &q->ents[q->head + start], i + 1 - start, len);
		if (rc)
			return rc;
		start = i + 1;
		len = 0;
	}
	return 0;
}

int tern__order_reply_end(tern__order *o, tern__order_sink sink, void *ctx)
{
	int rc = 0;

	if (!o->reply)
		return 0;
	o->reply->complete = true;
	o->reply = NULL;
	o->direct = false;
	while (o->head && o->head->complete) {
		/* Unlinked before the sink runs: a sink that ends the
		 * connection may clear the order meanwhile. */
		tern__order_seg *s = o->head;

		o->head = s->next;
		if (!o->head)
			o->tail = NULL;
		o->nsegs--;
		rc = release_queue(o, &s->reply, sink, ctx);
		if (rc == 0)
			rc = release_queue(o, &s->after, sink, ctx);
		seg_free(s);
		if (rc) {
			tern__order_clear(o);
			return rc;
		}
	}
	return 0;
}
