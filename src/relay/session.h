/*
 * The Nostr protocol of one WebSocket connection: dispatch of client
 * messages (one handle_<verb> per verb), NIP-42 state, stored-event scans
 * of REQs, live subscriptions (in the thread's subscription index), and
 * the OK answers of events the store has committed.
 *
 * Runs on the connection's I/O thread.
 */
#ifndef TERN_RELAY_SESSION_H
#define TERN_RELAY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#include "relay/auth.h"

typedef struct tern__conn tern__conn;
typedef struct tern__io tern__io;
typedef struct tern__pending tern__pending;
typedef struct tern__inject tern__inject;
typedef struct tern_deferral tern_deferral;

typedef struct tern__session {
	tern__auth auth;
	uint32_t nscans; /* REQ scans of this connection in progress */
} tern__session;

/* On WebSocket open: initializes s and sends the AUTH challenge. */
int tern__session_open(tern__conn *c);
/* On close: drops subscriptions and scans. */
void tern__session_close(tern__conn *c);

/* Handles one complete text message. */
void tern__session_message(tern__conn *c, const uint8_t *msg, size_t len);

/* Answers OK for a committed (or refused) event; runs on-event-saved. */
void tern__session_result(tern__io *io, tern__pending *p);

/* Runs one slice of every scan in progress on io. Returns true when some
 * remain. */
bool tern__session_scan_step(tern__io *io);

/* A deferred event's verdict has come back (ctx.h): continues its
 * pipeline, frees d and lets its connection read again. */
void tern__session_deferral_resume(tern_deferral *d);

/* Runs an injected event (inject.h) through the pipeline; io is the
 * thread it was posted to. */
void tern__session_inject(tern__io *io, tern__inject *inj);

/* Sends ["AUTH", challenge]. */
void tern__session_send_auth(tern__conn *c);

#endif
