/*
 * One I/O thread: a libuv loop with its own SO_REUSEPORT listener, its
 * connections, its live subscription index and its inbox.
 *
 * Loop turn: read callbacks parse input and queue replies; the check
 * handle then flushes every connection with queued output (one write per
 * connection); an idle handle is active while stored-event scans are in
 * progress, so long queries run in slices without blocking the loop; a
 * one-second timer does keepalive pings and shutdown deadlines.
 *
 * Everything here runs on the thread, except tern__io_post() and
 * tern__io_wake(), which any thread may call.
 */
#ifndef TERN_RELAY_IO_H
#define TERN_RELAY_IO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <tern/arena.h>

#include "relay/relay.h"
#include "relay/subindex.h"
#include "ws/deflate.h"
#include "ws/frame.h"

/* Messages posted to an I/O thread. */
typedef enum tern__io_msg_kind {
	TERN__IO_RESULT,   /* p: a tern__pending whose write completed */
	TERN__IO_FANOUT,   /* p: a tern__rbuf holding an event's JSON, rel:
			      the relay that handled it (router.h) */
	TERN__IO_SETTINGS, /* p: a tern__settings reference */
	TERN__IO_DEFERRAL, /* p: a completed tern_deferral (ctx.h) */
	TERN__IO_INJECT,   /* p: a tern__inject (inject.h) */
	TERN__IO_LIVESNAP, /* p: a tern__livesnap to add this thread's
			      live filters to (inject.h) */
} tern__io_msg_kind;

/* Period of each I/O thread's tick (tern__conn_tick()), in ms. */
#define TERN__IO_TICK_MS 1000

typedef struct tern__io_msg {
	tern__io_msg_kind kind;
	uint32_t rel;
	void *p;
} tern__io_msg;

typedef struct tern__scan tern__scan;

struct tern__io {
	tern_relay *r;
	unsigned idx;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_async_t wake;
	uv_check_t check;
	uv_idle_t idle;
	uv_timer_t tick;
	pthread_t thread;
	bool thread_started;
	int listen_fd;

	pthread_mutex_t mu;   /* guards the inbox and closed */
	tern__io_msg *inbox;
	size_t ninbox, capinbox;
	bool closed;          /* the loop is gone: posts are dropped */
	bool running;         /* the loop runs (tern__io_run) */

	tern__settings *set;
	tern__subindex *subs;
	tern_arena arena;     /* per-message scratch */
	tern_arena harena;    /* hooks' scratch while sending stored events */
	tern__ws_pmd_thread pmd;
	tern__ws_buf scratch, zbuf; /* message assembly and deflate output */
	uint8_t readbuf[65536];

	tern__conn *conns;    /* every connection of this thread */
	size_t nconns;
	tern__conn *dirty;    /* connections with output to flush */
	tern__scan *scans;    /* stored-event scans in progress */
	uint64_t npending;    /* events of this thread at the writer */

	bool stopping;        /* shutdown: no reads, no accepts */
	bool closing_conns;   /* 1001 sent to every connection */
	uint64_t stop_deadline; /* uv_now() ms after which all is dropped */
};

/* Creates the thread's state and, when listen is true, its listening
 * socket (without one, connections come only from tern__conn_adopt()). */
int tern__io_new(tern__io **out, tern_relay *r, unsigned idx, bool listen,
		 char *err, size_t errcap);
/* Runs the loop until the relay stops (on the calling thread). */
void tern__io_run(tern__io *io);
void tern__io_free(tern__io *io);

/* Queues a message for the thread and wakes it. Thread-safe. Returns
 * false (nothing queued) when the loop has ended or memory is short. */
bool tern__io_post(tern__io *io, tern__io_msg_kind kind, void *p);
/* Wakes the loop (async-signal-safe). */
void tern__io_wake(tern__io *io);
/* Posts TERN__IO_FANOUT of json for the live filters of relay rel. */
bool tern__io_post_fanout(tern__io *io, tern__rbuf *json, uint32_t rel);
/* As tern__io_post(), but only while the loop runs (not before). */
bool tern__io_post_if_running(tern__io *io, tern__io_msg_kind kind, void *p);
/* The I/O thread the caller runs on, or NULL. */
tern__io *tern__io_current(void);
/* On io's thread: answers the live-filter snapshots posted to it now,
 * outside the loop's turn (inject.c, while waiting for other threads). */
void tern__io_serve_livesnaps(tern__io *io);

/* Queues c for the flush pass of this loop turn. */
void tern__io_mark_dirty(tern__io *io, tern__conn *c);
/* Makes the idle handle run scans. */
void tern__io_scans_active(tern__io *io);
/* Sends json (canonical event JSON) to every local subscription with a
 * filter of relay rel (router.h; 0 without routes) that it matches,
 * honouring restricted kinds and that relay's hooks. */
void tern__io_fanout(tern__io *io, tern__rbuf *json, uint32_t rel);

/* Milliseconds of the loop clock. */
static inline uint64_t tern__io_now(tern__io *io)
{
	return uv_now(&io->loop);
}

#endif
