/*
 * One client connection's transport: the TCP handle, the HTTP phase
 * (request head, routes), the WebSocket phase (frame parser, deflate,
 * close handshake, keepalive) and the bounded output queue. What a
 * connection means to the protocol (subscriptions, auth) lives in
 * session.h.
 *
 * Lifetime: a connection is closed asynchronously (never freed under its
 * own callback). After its handle's close callback it leaves the thread's
 * list; its memory is kept while the store still has events of it
 * (pending > 0), so that results arriving later find it and are dropped.
 *
 * Slow consumers: when queued output passes relay.limits.max_output_queue
 * bytes, unsent frames are dropped, a close frame 1008 "slow consumer" is
 * queued, and the connection is counted and closed.
 */
#ifndef TERN_RELAY_CONN_H
#define TERN_RELAY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "relay/outq.h"
#include "relay/session.h"
#include "ws/deflate.h"
#include "ws/frame.h"

typedef struct tern__io tern__io;

typedef enum tern__conn_state {
	TERN__CONN_HTTP,     /* reading a request head */
	TERN__CONN_HTTP_END, /* response queued; close once flushed */
	TERN__CONN_WS,       /* WebSocket open */
	TERN__CONN_CLOSING,  /* close frame sent; waiting for the peer's */
	TERN__CONN_DEAD,     /* handle closing or closed */
} tern__conn_state;

struct tern__conn {
	tern__io *io;
	uv_tcp_t tcp;
	tern__conn *prev, *next;  /* io->conns */
	tern__conn *dirty_next;
	bool dirty;
	tern__conn_state state;
	bool handle_closed;       /* close callback ran */
	bool peer_closed;         /* peer's close frame received */
	bool deflate;             /* permessage-deflate negotiated */
	bool upgraded;            /* became a WebSocket (for logs) */
	uint32_t pending;         /* events at the writer */
	uint64_t serial;          /* connection number, for logs */
	char ip[64];

	uint8_t *head;            /* HTTP phase: request head so far */
	size_t head_len;

	tern__ws_parser wp;
	tern__ws_buf wmsg;
	tern__ws_pmd_conn pmd;

	tern__outq out;
	size_t inflight;          /* bytes handed to uv_write */
	uv_write_t wreq;

	uint64_t last_rx;         /* uv_now() of the last frame received */
	uint64_t last_ping;       /* uv_now() of the last ping sent */
	uint64_t close_deadline;  /* CLOSING: drop at this uv_now() */
	uint64_t opened;

	tern__session sess;
};

/* Accepts a connection from io's listener. */
void tern__conn_accept(tern__io *io);

/*
 * Queues one text message made of the concatenation of parts (framed,
 * and compressed when negotiated). Returns 0, or an error after which the
 * connection is being closed (out of memory, slow consumer).
 */
int tern__conn_send(tern__conn *c, const tern_slice *parts, size_t n);
/* ["EVENT",<sub>,<json>] with json shared when not compressed. */
int tern__conn_send_event(tern__conn *c, tern_slice sub, tern__rbuf *json);

/* Starts the close handshake with code and reason (WebSocket), or drops
 * the connection (HTTP phase). */
void tern__conn_close(tern__conn *c, unsigned code, const char *reason);
/* Closes the socket now. */
void tern__conn_abort(tern__conn *c);

/* Writes the queued output (the io's flush pass). */
void tern__conn_flush(tern__conn *c);

/* Keepalive and close deadlines; called once a second. */
void tern__conn_tick(tern__conn *c, uint64_t now);

/* A connection whose handle is closed and that has no pending events is
 * freed. Called when a pending result arrives. */
void tern__conn_release(tern__conn *c);

static inline bool tern__conn_open(const tern__conn *c)
{
	return c->state == TERN__CONN_WS;
}

#endif
