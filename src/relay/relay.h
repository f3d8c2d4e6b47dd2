/*
 * Internals of the relay object (relay.c): what the I/O threads share,
 * and the hand-off between the store's writer thread and the I/O threads.
 *
 * Cross-thread traffic goes through each I/O thread's inbox (io.h): the
 * writer's callback posts an event's result to the thread that received
 * it, and the stored event (one ref-counted copy of its JSON) to every
 * I/O thread for live fan-out. Nothing else is shared between I/O threads
 * but the store, the hook lists (hooks.h), the per-IP
 * connection table (iplimit.h) and the counters.
 */
#ifndef TERN_RELAY_RELAY_H
#define TERN_RELAY_RELAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <tern/relay.h>
#include <tern/store.h>

#include "relay/hooks.h"
#include "relay/iplimit.h"
#include "relay/outq.h"
#include "relay/settings.h"

typedef struct tern__io tern__io;
typedef struct tern__conn tern__conn;
typedef struct tern__routes tern__routes;

struct tern_relay {
	tern_store *store;       /* the configuration's LMDB store, opened
				    on first need (relay.c: relay_store_open)
				    under mu; NULL until then */
	tern_store_options store_opts; /* to open it (dir = store_dir) */
	struct tern__sources *sources; /* backend + query sources (sources.h);
					  NULL: the store alone */
	tern__hooks hooks;
	tern__routes *routes;    /* routes to sub-relays (router.h); NULL:
				    none */
	tern_relay *parent;      /* a sub-relay that is a route: its router */
	uint32_t route_idx;      /* ... and its number there (>= 1); 0 for
				    any other relay */
	bool is_sub;             /* made by tern_relay_new_sub(): no I/O
				    thread (nio 0), never runs */
	tern__iplimit *iplim;    /* connections per client IP, relay-wide */
	unsigned nio;
	tern__io **io;
	char bind[64];
	uint16_t port;
	atomic_uint shutdown_grace; /* seconds (reloadable) */
	char *store_dir;         /* for the start-up line */
	char *settings_diff;     /* settings differing from the defaults */

	pthread_mutex_t mu;      /* guards set, and store while it opens */
	tern__settings *set;     /* current settings (each thread holds its
				    own reference, updated by reloads) */
	atomic_bool stop;
	bool ran;
	struct tern_manage *manage; /* NIP-86 API (manage.h); NULL: off */

	atomic_uint_fast64_t n_conns, n_accepted, n_slow, n_events_in,
		n_events_stored;
};

/*
 * One event handed to the store: the writer's callback context. Created
 * on the I/O thread that received the event; the callback fills status
 * and reason and posts it back to that thread, which answers OK and frees
 * it. conn stays allocated while it has pending events (conn.h).
 */
typedef struct tern__pending {
	tern__io *io;
	tern__conn *conn;         /* NULL for an injected event */
	struct tern__inject *inj; /* the injected event's request */
	tern__rbuf *json;         /* the event's canonical JSON */
	uint32_t rel;             /* the relay that handles it (router.h) */
	tern_write_status status;
	tern_reason reason;
} tern__pending;

/*
 * As tern_relay_new(), but the I/O threads get no listening socket: the
 * caller drives them itself (tern__conn_adopt(), each thread's loop). For
 * tests and fuzzing of the connection path without a network.
 */
int tern__relay_new_detached(tern_relay **out, const tern_config *cfg,
			     char *err, size_t errcap);

/* How a relay is made: listening, detached (below), or a sub-relay. */
typedef enum tern__relay_mode {
	TERN__RELAY_LISTEN,
	TERN__RELAY_DETACHED,
	TERN__RELAY_SUB,
} tern__relay_mode;

int tern__relay_create(tern_relay **out, const tern_config *cfg,
		       tern__relay_mode mode, char *err, size_t errcap);

/*
 * Posts json to every I/O thread for live fan-out (a reference each), to
 * the live filters of r: for a sub-relay, through its router's threads to
 * the filters routed to it. Thread-safe.
 */
void tern__relay_broadcast(tern_relay *r, tern__rbuf *json);

/* The relay whose I/O threads serve r: its router, or r. */
static inline tern_relay *tern__relay_runner(tern_relay *r)
{
	return r->parent ? r->parent : r;
}

/*
 * The hook reader slot of I/O thread `slot` of r, for r's own hook lists
 * and those of its sub-relays (which its threads read too): a quiescent
 * point, online, offline (hooks.h).
 */
void tern__relay_hooks_quiescent(tern_relay *r, size_t slot);
void tern__relay_hooks_online(tern_relay *r, size_t slot);
void tern__relay_hooks_offline(tern_relay *r, size_t slot);

/* Limits for re-parsing events the relay already accepted: never refuse. */
extern const tern_event_limits tern__relay_reparse_limits;

/* The store's write callback (ctx is a tern__pending). */
void tern__relay_write_cb(void *ctx, const tern_write_result *res);

#endif
