/*
 * tern/router.h - a relay that hands each event and each filter to one of
 * several sub-relays (khatru's Router).
 *
 * A router is an ordinary relay, the one that runs, with routes. A route
 * is an event matcher, a filter matcher and a sub-relay: a tern_relay made
 * with tern_relay_new_sub(), with its own hooks (tern/hooks.h), its own
 * backend (its configured LMDB store, or tern_relay_set_backend()) and
 * query sources, that never runs itself. Routes are tried in the order
 * they were added; the first whose matcher says yes takes the item, and
 * when none does the router takes it, as a relay without routes would:
 *
 *  - an EVENT (or an event injected into the router) goes to one relay.
 *    Everything that follows is that relay's: its reject-event hooks, its
 *    backend, its on-event-saved or on-ephemeral-event hooks, and its live
 *    filters (below) with its prevent-broadcast and overwrite-response-
 *    event hooks. A NIP-09 deletion deletes from that relay's backend.
 *  - each filter of a REQ or COUNT goes to one relay, chosen from the
 *    filter as the client sent it: that relay's overwrite-filter and
 *    reject-filter (or reject-count-filter) hooks run for it, and its
 *    backend and query sources answer it. As a live filter it belongs to
 *    that relay: it sees the events that relay handles (saved, ephemeral,
 *    or sent by tern_relay_broadcast() on it) and no others.
 *
 * A REQ whose filters go to several relays gets each relay's stored events
 * in turn (each relay's newest first), then one EOSE; a COUNT adds up the
 * relays' counts (the NIP-45 "hll" of a one-filter COUNT comes from its
 * relay).
 *
 * What belongs to the connection stays with the router: reject-connection,
 * on-connect, on-disconnect and overwrite-relay-information hooks, NIP-11,
 * NIP-42, the limits and other settings of its configuration (relay.*,
 * restricted kinds included), signature checks and its counters. A
 * sub-relay's hooks see the client's connection through the usual
 * accessors (tern_ctx_conn(): IP, authed pubkeys, user data), and
 * tern_ctx_relay() is the sub-relay. The router's own hooks do not run for
 * what goes to a sub-relay - policies (tern/policy.h) included: apply them
 * to each relay that should have them. The relay's built-in event checks
 * (relay.limits, NIP-70: docs/HOOKS.md) are in every relay's reject-event
 * list and read the router's settings.
 *
 *     tern_relay *r, *chat, *rest;
 *     tern_relay_new(&r, &cfg, err, sizeof err);           // listens
 *     tern_relay_new_sub(&chat, &chat_cfg, err, sizeof err);
 *     tern_relay_set_backend(chat, &tern_memory_backend, mem);
 *     tern_on_reject_event(chat, "chat", chat_rules, NULL);
 *     tern_relay_new_sub(&rest, &rest_cfg, err, sizeof err); // its LMDB store
 *     tern_relay_add_route(r, is_chat, wants_chat, NULL, chat);
 *     tern_relay_add_route(r, any_event, any_filter, NULL, rest);
 *     tern_relay_run(r);
 *     tern_relay_free(r);
 *     tern_relay_free(chat);
 *     tern_relay_free(rest);
 *     tern_memory_close(mem);
 *
 * Running: tern_relay_run() of the router opens the backend of every
 * sub-relay as it opens its own (a sub-relay's configured LMDB store is
 * opened then, with the sub-relay's overwrite-deletion-outcome hooks) and,
 * before it returns, flushes them all (tern_backend_ops.flush), so that
 * no save of any relay is still completing.
 *
 * Each relay of a router needs a backend of its own (a backend takes the
 * overwrite-deletion-outcome hooks of one relay): tern_relay_run() of a
 * router whose relays share a backend, or a store directory, returns
 * TERN_EINVAL.
 *
 * Ownership: the router does not own its sub-relays. Free them with
 * tern_relay_free() once the router's tern_relay_run() has returned (or
 * if it never ran), before or after the router, then what their backends
 * and hooks point to. A sub-relay must not be freed, nor get a new backend,
 * while its router runs; hooks may be added to and removed from it at any
 * time, as on any relay.
 *
 * Threads: matchers run on the router's I/O threads, several at once
 * (injected events: on its first I/O thread). They must be thread-safe
 * and must not block; they get the event after its id and signature were
 * checked, or the filter after it was parsed, valid during the call only.
 */
#ifndef TERN_ROUTER_H
#define TERN_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/config.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/relay.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Matchers: true when the route takes ev / f. ud is tern_relay_add_route's. */
typedef bool (*tern_route_event_fn)(void *ud, const tern_event *ev);
typedef bool (*tern_route_filter_fn)(void *ud, const tern_filter *f);

/*
 * Creates a sub-relay: a relay that serves as the route of a router and
 * never runs itself. It is made like tern_relay_new() (cfg is validated
 * and copied; the caller may free it on return) but binds no socket and
 * starts no thread; of cfg it uses the store section only (the LMDB
 * store opened when its router runs, unless tern_relay_set_backend()
 * gives it another backend). Register its hooks, policies, backend and
 * query sources with the usual calls.
 *
 * On a sub-relay, the relay-level calls of tern/relay.h act through its
 * router once it is a route: tern_relay_inject_event() runs the event on
 * the router's first I/O thread through the sub-relay's hooks and backend
 * (no matcher is asked; TERN_EINVAL before the sub-relay is a route);
 * tern_relay_broadcast() reaches the live filters routed to it;
 * tern_relay_foreach_live_filter() lists those (and on the router, the
 * filters that were routed to none). tern_relay_run() returns TERN_EINVAL;
 * tern_relay_stop() and tern_relay_reload() have no effect that matters;
 * tern_relay_stats_get() gives zeros (the router counts everything).
 *
 * On failure *out is NULL and err (when errcap > 0) gets a one-line
 * message. Returns 0, TERN_EINVAL (invalid configuration) or TERN_ENOMEM.
 */
int tern_relay_new_sub(tern_relay **out, const tern_config *cfg, char *err,
		       size_t errcap);

/*
 * Appends a route to r: events ev_match accepts and filters f_match
 * accepts go to sub, ud being passed to both. A NULL matcher accepts
 * nothing (e.g. a route for events only). The same sub-relay may be on
 * several routes of r, but on no other relay's.
 *
 * Call before tern_relay_run(r), from the thread that sets r up.
 * Returns 0; TERN_ENOMEM; TERN_EINVAL when r or sub is NULL, r runs or
 * has run, r is itself a sub-relay, sub was not made by
 * tern_relay_new_sub(), or sub is a route of another relay.
 */
int tern_relay_add_route(tern_relay *r, tern_route_event_fn ev_match,
			 tern_route_filter_fn f_match, void *ud,
			 tern_relay *sub);

#ifdef __cplusplus
}
#endif
#endif
