/*
 * tern/relay.h - the relay: a WebSocket Nostr server over an event store.
 *
 * A tern_relay owns N I/O threads (one libuv loop each, each with its own
 * SO_REUSEPORT listener on the configured address) and the store with its
 * writer thread. It speaks HTTP/1.1 (WebSocket upgrade, NIP-11 relay
 * information, a small HTML page for browsers, CORS) and NIP-01 over
 * WebSocket, with NIP-42 (AUTH), NIP-45 (COUNT) and NIP-70 (protected
 * events). docs/ARCHITECTURE.md describes the data path.
 *
 * Lifecycle:
 *
 *     tern_config cfg;
 *     tern_config_defaults(&cfg);
 *     ... load a file, apply flags ...
 *     tern_relay *r;
 *     char err[256];
 *     if (tern_relay_new(&r, &cfg, err, sizeof err) == 0) {
 *             tern_relay_run(r);      // blocks until tern_relay_stop()
 *             tern_relay_free(r);
 *     }
 *     tern_config_free(&cfg);
 *
 * The relay copies what it needs from the configuration: the caller may
 * free or reuse cfg as soon as tern_relay_new() or tern_relay_reload()
 * returns.
 */
#ifndef TERN_RELAY_H
#define TERN_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/config.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/store.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_relay tern_relay;

/*
 * Creates a relay for cfg: validates cfg and binds one listening socket
 * per I/O thread to relay.bind:relay.port (SO_REUSEPORT), so that a busy
 * port is reported here rather than by tern_relay_run(). No thread is
 * started yet, and the store of cfg->store is not opened yet: the relay
 * opens it when it needs it (tern_relay_run() without a backend set by
 * tern_relay_set_backend(), or tern_relay_store()), so a relay with its
 * own backend needs no store directory.
 *
 * On failure *out is NULL and, when errcap > 0, err gets a one-line
 * message (e.g. "bind 127.0.0.1:7777: address already in use").
 * Returns 0, TERN_EINVAL (invalid configuration), TERN_ENOMEM or -errno
 * (socket, bind, listen).
 * Call from one thread; the relay may then be run from any one thread.
 */
int tern_relay_new(tern_relay **out, const tern_config *cfg, char *err,
		   size_t errcap);

/*
 * Serves clients until tern_relay_stop(): opens the LMDB store of the
 * configuration if the relay stores into it (no tern_relay_set_backend()),
 * starts the I/O threads (the calling thread runs the first of them) and
 * returns once they have all finished and the backend has completed every
 * save it had accepted (the LMDB store's writer has committed them; a
 * custom backend's ops.flush, tern/backend.h). A router (tern/router.h)
 * does the same for the backend of each of its sub-relays.
 *
 * SIGPIPE: a write to a client that has gone raises SIGPIPE, whose default
 * action kills the process. When its disposition is SIG_DFL, this sets it
 * to SIG_IGN (process-wide, and left so after return); a handler the
 * program installed is kept. Embedding programs need not ignore it.
 *
 * Returns 0; a store error (tern_store_open(), whose message is logged;
 * also for a sub-relay's store); -errno / TERN_ENOMEM when a thread could
 * not be started (then nothing is left running); TERN_EINVAL when r has
 * run already or is a sub-relay. May be called once per relay.
 */
int tern_relay_run(tern_relay *r);

/*
 * Asks the relay to stop, gracefully: listeners close at once, every
 * connection is sent a close frame with code 1001 ("going away"), events
 * already handed to the store are committed and answered, and after
 * relay.shutdown_grace seconds any connection still open is dropped.
 * tern_relay_run() then returns.
 *
 * Async-signal-safe and thread-safe: it only sets a flag and wakes the
 * loops, so it may be called from a signal handler. Calling it again, or
 * before tern_relay_run(), is harmless (run then returns at once).
 */
void tern_relay_stop(tern_relay *r);

/*
 * Applies the settings of cfg that can change without a restart: every
 * relay.limits value, relay.info (NIP-11 and the HTML page),
 * relay.service_url, relay.auth.restricted_kinds, relay.trusted_proxy_header,
 * relay.log_level, relay.shutdown_grace and the websocket ping times. Connections stay open; the
 * new limits apply to messages read after each I/O thread has picked them
 * up (at its next loop turn). Settings that need a restart (bind, port,
 * io_threads, store) are ignored here; tern_config_diff() tells which.
 *
 * Returns 0, TERN_EINVAL (cfg does not validate; err as in
 * tern_relay_new(), the relay keeps its settings) or TERN_ENOMEM.
 * Thread-safe; not async-signal-safe (call it from a loop or thread that
 * watches the signal, not from the handler).
 */
int tern_relay_reload(tern_relay *r, const tern_config *cfg, char *err,
		      size_t errcap);

/* Counters of a running relay (approximate while it runs). */
typedef struct tern_relay_stats {
	uint64_t connections;      /* WebSocket and HTTP connections open */
	uint64_t accepted;         /* connections accepted since start */
	uint64_t slow_consumers;   /* connections closed for a full
				      output queue */
	uint64_t events_received;  /* EVENT messages read */
	uint64_t events_stored;    /* events committed to the store */
} tern_relay_stats;

/* Fills *st. Thread-safe. */
void tern_relay_stats_get(tern_relay *r, tern_relay_stats *st);

/*
 * The LMDB store of the configuration (for reading, for tools in the same
 * process), opened by this call
 * if it is not open yet. NULL when it cannot be opened (the reason is
 * logged). Valid until tern_relay_free(). Thread-safe.
 */
tern_store *tern_relay_store(tern_relay *r);

/* ---- relay-level calls (the framework: see tern/hooks.h) -------------- */

/*
 * The outcome of an injected event, as the OK message to a client would
 * carry it: ok true when stored (why "duplicate: ..." if it was already),
 * accepted as ephemeral, or shadow-rejected; else false with the reason.
 * Runs on an I/O thread of the relay (the first one), or on the thread
 * that completed a deferral when the relay has stopped meanwhile.
 */
typedef void (*tern_relay_inject_fn)(void *ud, bool ok,
				     const tern_reason *why);

/*
 * Runs the event json[0..len) through the relay's whole pipeline as an
 * internal call (tern_ctx_is_internal() is true in its hooks): strict
 * parse, id and signature check, reject-event hooks, then the store and
 * live fan-out (or fan-out only for ephemeral kinds); on-event-saved and
 * on-ephemeral-event hooks run as for a client's event. The JSON is
 * copied: the caller may reuse it at once. cb (may be NULL) is called
 * exactly once with the outcome - unless this returns an error.
 *
 * Returns 0, TERN_ENOMEM, or TERN_ECLOSED when the relay's I/O threads
 * have ended. Thread-safe; callable before tern_relay_run() (the event
 * waits until the relay runs).
 */
int tern_relay_inject_event(tern_relay *r, const uint8_t *json, size_t len,
			    tern_relay_inject_fn cb, void *ud);

/*
 * Sends ev to every live subscription it matches, on every I/O thread,
 * without storing it and without reject-event hooks (prevent-broadcast
 * and overwrite-response-event hooks still apply per listener). ev is
 * copied (its canonical JSON): it may be freed at once. The id and
 * signature are not checked: that is the caller's business. Returns 0,
 * TERN_ENOMEM or TERN_EINVAL (ev->json empty). Thread-safe.
 */
int tern_relay_broadcast(tern_relay *r, const tern_event *ev);

/*
 * Called once per filter of every live subscription: conn_id is the
 * connection's tern_conn_id(), sub_id its subscription id. Everything is
 * valid during the call only. Return false to stop.
 */
typedef bool (*tern_live_filter_fn)(void *ud, uint64_t conn_id,
				    tern_slice sub_id, const tern_filter *f);

/*
 * Lists the live filters of all connections (khatru's
 * GetListeningFilters): each I/O thread copies its own into a snapshot,
 * then cb runs over it on the calling thread. Blocks until every running
 * I/O thread has answered (they answer at their next loop turn). May be
 * called from any thread, hooks included. Returns 0 or TERN_ENOMEM.
 */
int tern_relay_foreach_live_filter(tern_relay *r, tern_live_filter_fn cb,
				   void *ud);

/*
 * Frees a relay that is not running (never run, or tern_relay_run() has
 * returned): closes listeners and the store (if it was opened). r may be
 * NULL.
 */
void tern_relay_free(tern_relay *r);

#ifdef __cplusplus
}
#endif
#endif
