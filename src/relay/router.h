/*
 * Routes of a relay to its sub-relays (include/tern/router.h; router.c).
 *
 * A router numbers the relays its routes lead to: 0 is the router itself,
 * 1.. its distinct sub-relays in the order their first route was added (a
 * sub-relay knows its number, tern_relay.route_idx). Everything the I/O
 * threads carry about a routed item - a pending save, a deferral, a
 * fan-out message, a live filter in the subscription index - carries that
 * number, and tern__router_relay() turns it back into the relay.
 *
 * Without routes (r->routes NULL) every number is 0 and the helpers below
 * are one test: the fast path of a relay without routes does not change.
 *
 * The table is fixed once the router runs; everything here may then be
 * called from any I/O thread.
 */
#ifndef TERN_RELAY_ROUTER_H
#define TERN_RELAY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/router.h>

#include "relay/relay.h"

typedef struct tern__route {
	tern_route_event_fn ev_match;
	tern_route_filter_fn f_match;
	void *ud;
	uint32_t rel;            /* the relay it leads to (>= 1) */
} tern__route;

struct tern__routes {
	tern__route *v;          /* in the order they were added */
	size_t n, cap;
	tern_relay **rel;        /* rel[0] is the router, then its
				    sub-relays */
	uint32_t nrel;
	size_t caprel;
};

void tern__routes_free(tern__routes *rt);

/* The relay numbered i by r's routes (0: r itself). */
static inline tern_relay *tern__router_relay(tern_relay *r, uint32_t i)
{
	return i ? r->routes->rel[i] : r;
}

uint32_t tern__router_event_slow(tern_relay *r, const tern_event *ev);

/* The number of the relay that handles ev (the first route whose event
 * matcher accepts it, else 0). */
static inline uint32_t tern__router_event(tern_relay *r, const tern_event *ev)
{
	return r->routes ? tern__router_event_slow(r, ev) : 0;
}

/*
 * The relay number of each of the n filters, in an array from a; NULL
 * when r has no routes (every filter is r's) - or, with *oom set, when a
 * is out of memory.
 */
uint32_t *tern__router_filters(tern_relay *r, const tern_filter *fs, size_t n,
			       tern_arena *a, bool *oom);

#endif
