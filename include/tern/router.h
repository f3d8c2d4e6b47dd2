/*
 * tern/router.h - a relay that routes each event and each filter to one
 * of several sub-stores by matcher functions (khatru's Router).
 *
 * A router is a storage backend (tern/backend.h) made of routes. A route
 * is an event matcher, a filter matcher and a backend (e.g. an LMDB store
 * through tern_lmdb_backend, a tern_memory, or any custom backend). Routes
 * are tried in the order they were added; the first whose matcher says
 * yes takes the item:
 *
 *  - each accepted event is saved in the backend of the first route whose
 *    event matcher accepts it (its result is the client's OK); an event no
 *    route takes is refused "blocked: no route for this event";
 *  - each filter of a REQ or COUNT is answered by the backend of the first
 *    route whose filter matcher accepts it; a filter no route takes matches
 *    nothing.
 *
 * The relay's hooks (tern/hooks.h) run once, before routing, for every
 * event and filter, and live subscriptions see every accepted event
 * whatever its route. Results of filters sent to different routes are not
 * merged by time: each route answers its filters in turn (khatru answers
 * every filter on its own too); within one route they are newest first.
 *
 *     tern_router *rt;
 *     tern_router_new(&rt);
 *     tern_router_add(rt, is_chat, wants_chat, NULL, &tern_memory_backend, mem);
 *     tern_router_add(rt, any_event, any_filter, NULL, &tern_lmdb_backend,
 *                     tern_relay_store(r));    // opens the configured store
 *     tern_relay_set_backend(r, &tern_router_backend, rt);
 *     tern_relay_run(r);
 *     ...
 *     tern_relay_free(r);
 *     tern_router_free(rt);
 *
 * At shutdown the relay flushes its backend: the router's flush calls the
 * flush of every route's backend (tern_backend_ops.flush), so once
 * tern_relay_run() has returned no routed save is still completing.
 *
 * Threads: matchers run on the relay's I/O threads, concurrently: they must
 * be thread-safe and must not block. Add routes before the relay runs.
 */
#ifndef TERN_ROUTER_H
#define TERN_ROUTER_H

#include <stdbool.h>

#include <tern/backend.h>
#include <tern/event.h>
#include <tern/filter.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_router tern_router;

/* Matchers: true when the route takes ev / f. NULL matches nothing. */
typedef bool (*tern_route_event_fn)(void *ud, const tern_event *ev);
typedef bool (*tern_route_filter_fn)(void *ud, const tern_filter *f);

/* Creates a router without routes. Returns 0 or TERN_ENOMEM. */
int tern_router_new(tern_router **out);

/*
 * Appends a route: events ev_match accepts are saved in (ops, self),
 * filters f_match accepts are answered by it. ud is passed to both
 * matchers. ops needs save and the three query functions; self stays the
 * caller's and must outlive the router. Returns 0, TERN_EINVAL or
 * TERN_ENOMEM. Not while the relay runs.
 */
int tern_router_add(tern_router *rt, tern_route_event_fn ev_match,
		    tern_route_filter_fn f_match, void *ud,
		    const tern_backend_ops *ops, void *self);

/* Frees rt (after the relay using it was freed). rt may be NULL. */
void tern_router_free(tern_router *rt);

/* The router as a backend: self is a tern_router *. */
extern const tern_backend_ops tern_router_backend;

#ifdef __cplusplus
}
#endif
#endif
