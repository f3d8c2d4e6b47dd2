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
 *     if (tern_relay_new(&r, &cfg) == 0) {
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
#include <tern/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_relay tern_relay;

/*
 * Creates a relay for cfg: validates cfg, opens the store in
 * cfg->store.dir (creating it if needed), and binds one listening socket
 * per I/O thread to relay.bind:relay.port (SO_REUSEPORT), so that a busy
 * port is reported here rather than by tern_relay_run(). No thread is
 * started yet.
 *
 * On failure *out is NULL and, when errcap > 0, err gets a one-line
 * message (e.g. "bind 127.0.0.1:7777: address already in use").
 * Returns 0, TERN_EINVAL (invalid configuration), TERN_ENOMEM, a store
 * error (tern_store_open()) or -errno (socket, bind, listen).
 * Call from one thread; the relay may then be run from any one thread.
 */
int tern_relay_new(tern_relay **out, const tern_config *cfg, char *err,
		   size_t errcap);

/*
 * Serves clients until tern_relay_stop(): starts the I/O threads (the
 * calling thread runs the first of them) and returns once they have all
 * finished and the store's writer has committed every event it had
 * accepted. Returns 0, or -errno / TERN_ENOMEM when a thread could not be
 * started (then nothing is left running). May be called once per relay.
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

/* The relay's store (for reading, or for tools in the same process).
 * Valid until tern_relay_free(). */
tern_store *tern_relay_store(tern_relay *r);

/*
 * Frees a relay that is not running (never run, or tern_relay_run() has
 * returned): closes listeners and the store. r may be NULL.
 */
void tern_relay_free(tern_relay *r);

#ifdef __cplusplus
}
#endif
#endif
