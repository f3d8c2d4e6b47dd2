/* Internal hook lists (hooks.h). */
#include <stdlib.h>

#include <tern/error.h>

#include "relay/hooks.h"

int tern__hooks_add(tern__hook_list *l, const void *owner, void (*fn)(void),
		    void *ctx)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		tern__hook *v = realloc(l->v, cap * sizeof *v);

		if (!v)
			return TERN_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (tern__hook){ owner, fn, ctx };
	return 0;
}

static void remove_owner(tern__hook_list *l, const void *owner)
{
	size_t j = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].owner != owner)
			l->v[j++] = l->v[i];
	l->n = j;
}

void tern__hooks_remove_owner(tern__hooks *h, const void *owner)
{
	remove_owner(&h->reject_conn, owner);
	remove_owner(&h->reject_event, owner);
	remove_owner(&h->reject_filter, owner);
	remove_owner(&h->event_saved, owner);
}

void tern__hooks_free(tern__hooks *h)
{
	free(h->reject_conn.v);
	free(h->reject_event.v);
	free(h->reject_filter.v);
	free(h->event_saved.v);
	*h = (tern__hooks){ 0 };
}

bool tern__hooks_reject_conn(const tern__hooks *h, tern__conn *c,
			     const tern__http_request *req, tern_reason *why)
{
	for (size_t i = 0; i < h->reject_conn.n; i++) {
		const tern__hook *k = &h->reject_conn.v[i];

		if (((tern__reject_conn_fn)k->fn)(k->ctx, c, req, why))
			return true;
	}
	return false;
}

bool tern__hooks_reject_event(const tern__hooks *h, tern__conn *c,
			      const tern_event *ev, tern_reason *why)
{
	for (size_t i = 0; i < h->reject_event.n; i++) {
		const tern__hook *k = &h->reject_event.v[i];

		if (((tern__reject_event_fn)k->fn)(k->ctx, c, ev, why))
			return true;
	}
	return false;
}

bool tern__hooks_reject_filter(const tern__hooks *h, tern__conn *c,
			       const tern_filter *fs, size_t n, bool count,
			       tern_reason *why)
{
	for (size_t i = 0; i < h->reject_filter.n; i++) {
		const tern__hook *k = &h->reject_filter.v[i];

		if (((tern__reject_filter_fn)k->fn)(k->ctx, c, fs, n, count,
						    why))
			return true;
	}
	return false;
}

void tern__hooks_event_saved(const tern__hooks *h, tern__conn *c,
			     const tern_event *ev)
{
	for (size_t i = 0; i < h->event_saved.n; i++) {
		const tern__hook *k = &h->event_saved.v[i];

		((tern__event_saved_fn)k->fn)(k->ctx, c, ev);
	}
}
