/*
 * One client connection's transport: the TCP handle and its lifetime, the
 * upgrade to WebSocket and the WebSocket phase (frame parser, deflate,
 * close handshake, keepalive), and the bounded output queue. The HTTP
 * phase that comes first (reading a request, routing and answering it)
 * is conn_http.h. What a connection means to the protocol (subscriptions,
 * auth) lives in session.h.
 *
 * Lifetime: a connection is closed asynchronously (never freed under its
 * own callback). After its handle's close callback it leaves the thread's
 * list; its memory is kept while the store still has events of it
 * (pending > 0), so that results arriving later find it and are dropped.
 *
 * Connections per IP (relay.limits.max_connections_per_ip): without a
 * trusted proxy header a connection is counted under its socket peer's
 * address as soon as it is accepted, so that connections which never send
 * a request count too. With a trusted proxy header the peer is the proxy,
 * so the connection is counted under the header's address once the
 * request head is read (under the peer's when the header is missing). One
 * over the limit is answered HTTP 429, whatever it asked for, and is not
 * counted. The reject-connection hooks then run for WebSocket upgrades;
 * their refusal is a 429 too.
 *
 * Order of replies: messages leave in the order of the client messages
 * that caused them (order.h says exactly what is ordered); messages sent
 * while the OK of an earlier EVENT is awaited are held, unframed, and
 * framed when released.
 *
 * Slow consumers: when queued and held output passes
 * relay.limits.max_output_queue bytes, unsent frames are dropped, a close frame 1008 "slow consumer" is
 * queued, and the connection is counted and closed.
 */
#ifndef TERN_RELAY_CONN_H
#define TERN_RELAY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http/request.h"
#include "relay/ctx.h"
#include "relay/iplimit.h"
#include "relay/order.h"
#include "relay/outq.h"
#include "relay/session.h"
#include "ws/deflate.h"
#include "ws/frame.h"

typedef struct tern__io tern__io;

/* Time a client gets to send its request head (and an HTTP handler's
 * answer gets to be sent). */
#define TERN__CONN_HEAD_TIMEOUT_MS 10000

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
	tern__ipslot *ipslot;     /* counted in the relay's per-IP table */
	bool ip_counted;          /* counting done (ipslot may be NULL) */
	bool ip_over;             /* over max_connections_per_ip: 429 */

	/* HTTP phase (conn_http.h) */
	bool http_job;            /* an HTTP handler is answering the
				     request (http_hooks.h) */
	uint8_t *head;            /* request head so far */
	size_t head_len;
	size_t head_cap;          /* bytes of head when grown to hold a
				     request body (manage.h); 0: the
				     default head size */

	tern__ws_parser wp;
	tern__ws_buf wmsg;
	tern__ws_pmd_conn pmd;

	tern__outq out;
	tern__order order;        /* replies held behind an awaited OK */
	size_t inflight;          /* bytes handed to uv_write */
	uv_write_t wreq;

	uint64_t last_rx;         /* uv_now() of the last frame received */
	uint64_t last_ping;       /* uv_now() of the last ping sent */
	uint64_t close_deadline;  /* CLOSING: drop at this uv_now() */
	uint64_t opened;

	tern__session sess;
	tern__conn_hooks hk;      /* user data, parked deferral (ctx.h) */
};

/* Accepts a connection from io's listener. */
void tern__conn_accept(tern__io *io);

/*
 * Serves a connected stream socket fd on io as if it had been accepted
 * (its IP is its peer's address, "?" for a socket without one). Takes
 * ownership of fd. Returns the connection (owned by io: it is freed after
 * it closes), or NULL (fd closed). For tests and fuzzing; on io's thread.
 */
tern__conn *tern__conn_adopt(tern__io *io, int fd);

/*
 * Queues one text message made of the concatenation of parts (framed,
 * and compressed when negotiated). Returns 0, or an error after which the
 * connection is being closed (out of memory, slow consumer).
 */
int tern__conn_send(tern__conn *c, const tern_slice *parts, size_t n);
/* ["EVENT",<sub>,<json>] with json shared when not compressed. */
int tern__conn_send_event(tern__conn *c, tern_slice sub, tern__rbuf *json);

/*
 * Ordering of replies (order.h). tern__conn_expect_reply(): a reply
 * identified by key will come later; what is sent meanwhile waits behind
 * it. tern__conn_reply_begin(): the messages sent until
 * tern__conn_reply_end() are that reply (false: no such awaited reply,
 * messages are sent as usual); reply_end releases what was waiting.
 */
void tern__conn_expect_reply(tern__conn *c, const void *key);
bool tern__conn_reply_begin(tern__conn *c, const void *key);
void tern__conn_reply_end(tern__conn *c);

/* Bytes of output queued or held for c. */
static inline size_t tern__conn_backlog(const tern__conn *c)
{
	return c->out.bytes + c->order.bytes;
}

/* Starts the close handshake with code and reason (WebSocket), or drops
 * the connection (HTTP phase). */
void tern__conn_close(tern__conn *c, unsigned code, const char *reason);
/* Closes the socket now. */
void tern__conn_abort(tern__conn *c);

/* Writes the queued output (the io's flush pass). */
void tern__conn_flush(tern__conn *c);

/*
 * Counts c under c->ip in the relay-wide per-IP table (above); sets
 * c->ip_over when that is over the limit. Once per connection.
 */
void tern__conn_count_ip(tern__conn *c);

/*
 * A WebSocket upgrade request req, parsed from head[0..hlen), with
 * rest[0..nrest) the bytes read after it: runs the reject-connection
 * hooks, then upgrades (handing rest to the WebSocket parser) or answers
 * 429. When a hook defers, c is parked with copies of head and rest as
 * its saved input. HTTP phase, c's I/O thread.
 */
void tern__conn_upgrade(tern__conn *c, const tern__http_request *req,
			const uint8_t *head, size_t hlen, uint8_t *rest,
			size_t nrest);

/* Keepalive and close deadlines; called once a second. */
void tern__conn_tick(tern__conn *c, uint64_t now);

/* A connection whose handle is closed and that has no pending events is
 * freed. Called when a pending result arrives. */
void tern__conn_release(tern__conn *c);

/*
 * Deferred verdicts (ctx.h). tern__conn_park(): d holds the message being
 * handled; c stops reading and keeps the rest of its input for later (d
 * counts as pending). tern__conn_unpark(): after the verdict was applied,
 * replays the kept input and reads again (unless a replayed message
 * parked c again). tern__conn_deferral_resume(): the verdict of a
 * deferred reject-connection hook; frees d.
 */
void tern__conn_park(tern__conn *c, tern_deferral *d);
void tern__conn_unpark(tern__conn *c);
void tern__conn_deferral_resume(tern_deferral *d);

static inline bool tern__conn_open(const tern__conn *c)
{
	return c->state == TERN__CONN_WS;
}

#endif
