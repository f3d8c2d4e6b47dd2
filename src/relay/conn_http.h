/*
 * The HTTP phase of a client connection (conn.h): reading one request
 * (its head, and the body of a NIP-86 call or of a request for the HTTP
 * handlers), routing it, and the relay's own answers: the NIP-11
 * document, the HTML landing page, 404 / 405 / 204, errors, all with the
 * CORS headers and "Connection: close". Parsing the head is
 * http/request.h; a WebSocket upgrade is handed back to conn.h, NIP-86
 * calls to manage.h and other requests to the HTTP handlers
 * (http_hooks.h).
 *
 * Each connection serves one request: once an answer is queued the
 * connection stops reading and closes when the answer is sent
 * (TERN__CONN_HTTP_END). Everything here runs on the connection's I/O
 * thread.
 */
#ifndef TERN_RELAY_CONN_HTTP_H
#define TERN_RELAY_CONN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/conn.h"

/*
 * Input in[0..len) of a connection in the HTTP phase (not parked): kept
 * in c->head until the request is complete, then routed. Bytes read past
 * the request go with it (to the WebSocket parser after an upgrade).
 */
void tern__conn_http_feed(tern__conn *c, const uint8_t *in, size_t len);

/* Queues a complete HTTP answer (CORS headers, Connection: close, then
 * extra: more header lines, each ending in CRLF, or NULL) and closes once
 * it is sent. HTTP phase only. */
void tern__conn_http_reply(tern__conn *c, int status, const char *ctype,
			   const void *body, size_t len, const char *extra);

/* As tern__conn_http_reply(), without the body when head_only; extra may
 * be of any length. */
void tern__conn_http_answer(tern__conn *c, int status, const char *ctype,
			    const void *body, size_t len, const char *extra,
			    bool head_only);
/* A text/plain error answer "<status> <text>: <reason>". */
void tern__conn_http_error(tern__conn *c, int status, const char *reason,
			   const char *extra);

/* The relay's own answer to a request it does not serve (http_hooks.h:
 * when no handler answered). */
typedef enum tern__http_unserved {
	TERN__HTTP_NOT_FOUND,  /* 404 */
	TERN__HTTP_BAD_METHOD, /* 405, with Allow */
	TERN__HTTP_PREFLIGHT,  /* OPTIONS: 204 with the CORS headers */
} tern__http_unserved;
void tern__conn_http_unserved(tern__conn *c, tern__http_unserved u);

/*
 * A request handed to a thread-pool job (http_hooks.h): job_begin stops
 * reading, counts the job as pending and suspends the request timeout;
 * job_end (I/O thread, when the job is back) undoes the count and gives
 * the answer the request timeout anew to be sent. Whether the connection
 * is still there to answer is then tern__conn_http_waiting().
 */
void tern__conn_http_job_begin(tern__conn *c);
void tern__conn_http_job_end(tern__conn *c);

static inline bool tern__conn_http_waiting(const tern__conn *c)
{
	return !c->handle_closed && c->state == TERN__CONN_HTTP;
}

#endif
