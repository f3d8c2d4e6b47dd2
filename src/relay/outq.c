/* Ref-counted buffers and the per-connection output queue (outq.h). */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "relay/outq.h"

tern__rbuf *tern__rbuf_new(size_t len)
{
	tern__rbuf *b = malloc(sizeof *b + len);

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	return b;
}

tern__rbuf *tern__rbuf_dup(const void *p, size_t len)
{
	tern__rbuf *b = tern__rbuf_new(len);

	if (b && len)
		memcpy(b->data, p, len);
	return b;
}

tern__rbuf *tern__rbuf_ref(tern__rbuf *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void tern__rbuf_unref(tern__rbuf *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1,
					   memory_order_acq_rel) == 1)
		free(b);
}

void tern__outq_init(tern__outq *q)
{
	memset(q, 0, sizeof *q);
}

void tern__outq_free(tern__outq *q)
{
	for (uint32_t i = 0; i < q->n; i++)
		tern__rbuf_unref(q->ents[q->head + i].b);
	tern__rbuf_unref(q->chunk);
	free(q->ents);
	memset(q, 0, sizeof *q);
}

/* Makes room for one more entry at the tail. */
static int grow(tern__outq *q)
{
	tern__outq_ent *e;
	uint32_t cap;

	if (q->head + q->n < q->cap)
		return 0;
	if (q->head > 0 && q->n <= q->cap / 2) {
		memmove(q->ents, q->ents + q->head, q->n * sizeof *q->ents);
		q->head = 0;
		return 0;
	}
	cap = q->cap ? q->cap * 2 : 16;
	e = realloc(q->ents, cap * sizeof *e);
	if (!e)
		return TERN_ENOMEM;
	q->ents = e;
	q->cap = cap;
	return 0;
}

static tern__outq_ent *tail(tern__outq *q)
{
	return q->n ? &q->ents[q->head + q->n - 1] : NULL;
}

int tern__outq_ref(tern__outq *q, tern__rbuf *b, size_t off, size_t n)
{
	tern__outq_ent *e;

	if (n == 0)
		return 0;
	if (grow(q))
		return TERN_ENOMEM;
	e = &q->ents[q->head + q->n++];
	e->b = tern__rbuf_ref(b);
	e->off = off;
	e->len = n;
	e->end = false;
	q->bytes += n;
	return 0;
}

void tern__outq_end_frame(tern__outq *q)
{
	if (q->n)
		q->ents[q->head + q->n - 1].end = true;
}

void tern__outq_drop_unsent(tern__outq *q, size_t keep)
{
	uint32_t i = 0;

	if (keep == 0 && !q->mid_frame)
		goto drop;
	/* Keep the entries covering keep bytes (at least the head when a
	 * frame is under way), then up to the end of that frame. */
	while (i < q->n) {
		tern__outq_ent *e = &q->ents[q->head + i];
		bool covering = keep > 0 || i == 0;

		keep = keep > e->len ? keep - e->len : 0;
		i++;
		if (!covering && e->end)
			break;
		if (covering && keep == 0 && e->end)
			break;
	}
drop:
	for (uint32_t j = i; j < q->n; j++) {
		tern__outq_ent *e = &q->ents[q->head + j];

		q->bytes -= e->len;
		tern__rbuf_unref(e->b);
	}
	q->n = i;
	/* New appends must not extend a dropped chunk range. */
	tern__rbuf_unref(q->chunk);
	q->chunk = NULL;
	q->chunk_used = 0;
}

uint8_t *tern__outq_reserve(tern__outq *q, size_t n)
{
	tern__outq_ent *e;
	uint8_t *p;

	if (n > TERN__OUTQ_CHUNK / 2) {
		/* Large pieces get a buffer of their own. */
		tern__rbuf *b = tern__rbuf_new(n);

		if (!b)
			return NULL;
		if (tern__outq_ref(q, b, 0, n)) {
			tern__rbuf_unref(b);
			return NULL;
		}
		tern__rbuf_unref(b); /* the queue holds it now */
		return b->data;
	}
	if (!q->chunk || q->chunk->len - q->chunk_used < n) {
		tern__rbuf *c = tern__rbuf_new(TERN__OUTQ_CHUNK);

		if (!c)
			return NULL;
		tern__rbuf_unref(q->chunk);
		q->chunk = c;
		q->chunk_used = 0;
	}
	e = tail(q);
	if (e && !e->end && e->b == q->chunk &&
	    e->off + e->len == q->chunk_used) {
		e->len += n;
		q->bytes += n;
	} else if (tern__outq_ref(q, q->chunk, q->chunk_used, n)) {
		return NULL;
	}
	p = q->chunk->data + q->chunk_used;
	q->chunk_used += n;
	return p;
}

int tern__outq_copy(tern__outq *q, const void *p, size_t n)
{
	uint8_t *dst;

	if (n == 0)
		return 0;
	dst = tern__outq_reserve(q, n);
	if (!dst)
		return TERN_ENOMEM;
	memcpy(dst, p, n);
	return 0;
}

unsigned tern__outq_iov(const tern__outq *q, struct iovec *iov, unsigned max)
{
	unsigned i;

	for (i = 0; i < max && i < q->n; i++) {
		const tern__outq_ent *e = &q->ents[q->head + i];

		iov[i].iov_base = (void *)(e->b->data + e->off);
		iov[i].iov_len = e->len;
	}
	return i;
}

void tern__outq_consume(tern__outq *q, size_t n)
{
	while (n > 0 && q->n > 0) {
		tern__outq_ent *e = &q->ents[q->head];

		if (n < e->len) {
			e->off += n;
			e->len -= n;
			q->bytes -= n;
			q->mid_frame = true;
			return;
		}
		q->mid_frame = !e->end;
		n -= e->len;
		q->bytes -= e->len;
		tern__rbuf_unref(e->b);
		q->head++;
		q->n--;
	}
	if (q->n == 0) {
		q->head = 0;
		q->mid_frame = false;
		/* An idle connection keeps no chunk. */
		tern__rbuf_unref(q->chunk);
		q->chunk = NULL;
		q->chunk_used = 0;
	}
}
