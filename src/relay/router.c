/* Routes to sub-relays (tern/router.h, relay/router.h). */
#include <stdlib.h>

#include <tern/error.h>
#include <tern/router.h>

#include "relay/relay.h"
#include "relay/router.h"

int tern_relay_new_sub(tern_relay **out, const tern_config *cfg, char *err,
		       size_t errcap)
{
	return tern__relay_create(out, cfg, TERN__RELAY_SUB, err, errcap);
}

void tern__routes_free(tern__routes *rt)
{
	if (!rt)
		return;
	free(rt->v);
	free(rt->rel);
	free(rt);
}

/* r's table, made on the first route: rel[0] is r. */
static tern__routes *ensure(tern_relay *r)
{
	tern__routes *rt = r->routes;

	if (rt)
		return rt;
	rt = calloc(1, sizeof *rt);
	if (!rt)
		return NULL;
	rt->rel = malloc(4 * sizeof *rt->rel);
	if (!rt->rel) {
		free(rt);
		return NULL;
	}
	rt->caprel = 4;
	rt->rel[0] = r;
	rt->nrel = 1;
	r->routes = rt;
	return rt;
}

/* Gives sub its number in rt (a new one if it has none). Returns 0 or
 * TERN_ENOMEM. */
static int number(tern_relay *r, tern__routes *rt, tern_relay *sub)
{
	int rc;

	if (sub->parent)
		return 0;
	if (rt->nrel == UINT32_MAX)
		return TERN_ENOMEM;
	if (rt->nrel == rt->caprel) {
		tern_relay **v = realloc(rt->rel, 2 * rt->caprel * sizeof *v);

		if (!v)
			return TERN_ENOMEM;
		rt->rel = v;
		rt->caprel *= 2;
	}
	/* r's I/O threads read sub's hook lists: one reader slot each, and
	 * the shared one after them (hooks.h). */
	rc = tern__hooks_set_slots(&sub->hooks, (size_t)r->nio + 1);
	if (rc)
		return rc;
	sub->parent = r;
	sub->route_idx = rt->nrel;
	rt->rel[rt->nrel++] = sub;
	return 0;
}

int tern_relay_add_route(tern_relay *r, tern_route_event_fn ev_match,
			 tern_route_filter_fn f_match, void *ud,
			 tern_relay *sub)
{
	tern__routes *rt;
	int rc;

	if (!r || !sub || r->ran || r->is_sub || !sub->is_sub ||
	    (sub->parent && sub->parent != r))
		return TERN_EINVAL;
	rt = ensure(r);
	if (!rt)
		return TERN_ENOMEM;
	if (rt->n == rt->cap) {
		size_t cap = rt->cap ? 2 * rt->cap : 4;
		tern__route *v = realloc(rt->v, cap * sizeof *v);

		if (!v)
			return TERN_ENOMEM;
		rt->v = v;
		rt->cap = cap;
	}
	rc = number(r, rt, sub);
	if (rc)
		return rc;
	rt->v[rt->n++] = (tern__route){ ev_match, f_match, ud,
					sub->route_idx };
	return 0;
}

uint32_t tern__router_event_slow(tern_relay *r, const tern_event *ev)
{
	const tern__routes *rt = r->routes;

	for (size_t i = 0; i < rt->n; i++)
		if (rt->v[i].ev_match && rt->v[i].ev_match(rt->v[i].ud, ev))
			return rt->v[i].rel;
	return 0;
}

static uint32_t route_filter(const tern__routes *rt, const tern_filter *f)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->v[i].f_match && rt->v[i].f_match(rt->v[i].ud, f))
			return rt->v[i].rel;
	return 0;
}

uint32_t *tern__router_filters(tern_relay *r, const tern_filter *fs, size_t n,
			       tern_arena *a, bool *oom)
{
	uint32_t *rel;

	*oom = false;
	if (!r->routes)
		return NULL;
	rel = tern_arena_alloc(a, (n ? n : 1) * sizeof *rel);
	if (!rel) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		rel[i] = route_filter(r->routes, &fs[i]);
	return rel;
}
