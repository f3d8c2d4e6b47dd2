/*
 * The context hooks run in (tern_ctx), the public face of a connection
 * (tern_conn), deferred verdicts (tern_deferral), and the typed runners
 * the relay calls at each hook point (ctx.c).
 *
 * A tern_conn is the relay's tern__conn seen through the public accessors:
 * the two pointer types convert with tern__conn_pub()/tern__conn_of(), the
 * public struct is never defined.
 *
 * Deferrals: a reject-connection or reject-event hook that calls
 * tern_ctx_defer() gets a tern_deferral describing where the chain
 * stopped (the hook, its index) and what waits (a connection's upgrade, or
 * an event with a copy of its JSON). The relay parks the item (conn.h:
 * reading stops, later input is kept), and tern_deferral_complete(), from
 * any thread, posts the deferral to the I/O thread it belongs to, where
 * tern__deferral_resume() continues the chain. A parked connection
 * counts the deferral in its pending count so that its memory outlives
 * a close; the deferral is then dropped when it comes back.
 */
#ifndef TERN_RELAY_CTX_H
#define TERN_RELAY_CTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/backend.h>
#include <tern/hooks.h>

#include "relay/hooks.h"
#include "relay/outq.h"

typedef struct tern__conn tern__conn;
typedef struct tern__io tern__io;
typedef struct tern__inject tern__inject;

typedef enum tern__defer_kind {
	TERN__DEFER_CONN,  /* a WebSocket upgrade (reject-connection) */
	TERN__DEFER_EVENT, /* an EVENT or injected event (reject-event) */
} tern__defer_kind;

/* What a deferrable hook call may defer (set by the runner). */
typedef struct tern__defer_req {
	tern__defer_kind kind;
	tern__io *io;
	tern__conn *c;
	tern__inject *inj;
	const tern_event *ev;
	tern_deferral *d;       /* made by tern_ctx_defer() */
	uint32_t rel;           /* the relay whose hooks run (router.h) */
} tern__defer_req;

struct tern_ctx {
	tern_relay *r;
	tern__conn *c;          /* NULL for internal calls */
	tern_slice sub;         /* REQ/COUNT/listener subscription id */
	tern__defer_req *dreq;  /* set in deferrable hooks only */
};

struct tern_deferral {
	tern__io *io;           /* the thread that resumes it */
	tern__conn *c;          /* NULL for injected events */
	tern__inject *inj;      /* the injected event's request, or NULL */
	tern__defer_kind kind;
	/* where the chain stopped */
	void (*fn)(void);
	void *ud;
	size_t idx;
	tern__rbuf *json;       /* EVENT: the event's JSON */
	uint32_t rel;           /* EVENT: the relay it was routed to */
	/* the verdict */
	atomic_bool completed;
	tern_verdict v;
	tern_reason why;
};

/* Hook state of one connection (embedded in tern__conn). */
typedef struct tern__conn_hooks {
	tern_deferral *parked;  /* the item waiting for a verdict */
	uint8_t *saved;         /* input read after the parked item */
	size_t nsaved;
	void *ud;               /* tern_conn_set_user_data() */
	void (*ud_free)(void *);
	bool connected;         /* on-connect hooks ran */
	bool paused;            /* reading stopped while parked */
} tern__conn_hooks;

static inline tern_conn *tern__conn_pub(tern__conn *c)
{
	return (tern_conn *)c;
}

static inline tern__conn *tern__conn_of(const tern_conn *c)
{
	return (tern__conn *)c;
}

/* Frees d and what it holds (not its connection). */
void tern__deferral_free(tern_deferral *d);
/* On d's I/O thread: continues the chain with d's verdict; frees d. */
void tern__deferral_resume(tern_deferral *d);

/* Runs free_fn of the connection's user data (once). */
void tern__conn_hooks_free(tern__conn_hooks *hk);

/* ---- runners (on the threads include/tern/hooks.h names) ------------ */

/*
 * The reject lists that may defer. from is NULL to start the list, or the
 * deferral that stopped it (the list resumes after its hook). Returns the
 * verdict: TERN_PASS when every hook passed (or none is registered);
 * TERN_DEFER with *d set (the caller parks the item). why gets the
 * rejecting hook's reason.
 */
tern_verdict tern__run_reject_conn(tern_relay *r, tern__io *io, tern__conn *c,
				   const tern_deferral *from,
				   tern_reason *why, tern_deferral **d);
tern_verdict tern__run_reject_event(tern_relay *r, tern__io *io,
				    tern__conn *c, tern__inject *inj,
				    const tern_event *ev,
				    const tern_deferral *from, tern_reason *why,
				    tern_deferral **d);

void tern__run_connect(tern_relay *r, tern__conn *c);
void tern__run_disconnect(tern_relay *r, tern__conn *c);
void tern__run_event_saved(tern_relay *r, tern__conn *c,
			   const tern_event *ev);
void tern__run_ephemeral(tern_relay *r, tern__conn *c, const tern_event *ev);

/* Per filter: true (with why) when a hook rejects f. */
bool tern__run_reject_filter(tern_relay *r, tern__conn *c, tern_slice sub,
			     const tern_filter *f, bool count,
			     tern_reason *why);
/* The overwrite-filter hooks (REQ) or overwrite-count-filter hooks
 * (count) of r, on f. */
void tern__run_overwrite_filter(tern_relay *r, tern__conn *c, tern_slice sub,
				tern_filter *f, bool count, tern_arena *a,
				bool *live_only);
/* The on-auth hooks: c has just authenticated as pubkey. */
void tern__run_auth(tern_relay *r, tern__conn *c, const uint8_t pubkey[32]);
/* True when a hook vetoes sending ev to subscription sub of c. */
bool tern__run_prevent_broadcast(tern_relay *r, tern__conn *c,
				 tern_slice sub, const tern_event *ev);
/* True when a hook replaced *json (memory from a). */
bool tern__run_overwrite_response(tern_relay *r, tern__conn *c,
				  tern_slice sub, const tern_event *ev,
				  tern_slice *json, tern_arena *a);
void tern__run_relay_info(tern_relay *r, tern__conn *c,
			  tern_relay_info *info);

/*
 * The deletion-outcome callback of the relay's LMDB store and backends
 * (tern_deletion_outcome.fn): ctx is the relay. Returns false to keep
 * target. Any thread: the store's writer, an I/O thread saving into a
 * backend, a backend's own thread.
 */
bool tern__run_deletion_outcome(void *ctx, const tern_event *target,
				const tern_event *deletion);
/* Their question: is any deletion-outcome hook registered? */
bool tern__deletion_outcome_wanted(void *ctx);

/*
 * Hands the backend (ops, self) r's overwrite-deletion-outcome hooks
 * (on: the two callbacks above with ctx r) or takes them back (!on),
 * through ops->set_deletion_outcome; nothing when it has none (the LMDB
 * store gets them at open, tern_store_options). With on before the
 * backend's first save for r, with !on after its flush, before r is
 * freed.
 */
void tern__relay_deletion_outcome(tern_relay *r, const tern_backend_ops *ops,
				  void *self, bool on);

#endif
