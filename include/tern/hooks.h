/*
 * tern/hooks.h - the framework: hook points of a tern_relay.
 *
 * A relay runs every connection, event and filter through ordered lists of
 * hooks. A custom relay is a few registrations:
 *
 *     static tern_verdict only_kind_1(void *ud, tern_ctx *x,
 *                                     const tern_event *ev, tern_reason *why)
 *     {
 *             if (ev->kind == 1)
 *                     return TERN_PASS;
 *             tern_reason_set(why, TERN_PREFIX_BLOCKED, "only notes here");
 *             return TERN_REJECT;
 *     }
 *     ...
 *     tern_on_reject_event(r, "mine", only_kind_1, NULL);
 *
 * Rules shared by every list:
 *  - Hooks run in registration order. In a reject list the first
 *    TERN_REJECT wins and the rest are skipped; TERN_ACCEPT also ends the
 *    list (the item is accepted without asking later hooks); TERN_PASS
 *    gives the next hook its turn. With no hook registered a list costs
 *    nothing.
 *  - Every registration names an owner (any pointer, e.g. a string
 *    literal or a plugin's state); tern_hooks_remove_owner() removes all of
 *    that owner's hooks at once.
 *  - Register and remove at any time, from any thread, hooks included.
 *    Each list is copy-on-write: a change builds a new list and swaps it
 *    in atomically; items already being handled finish with the list they
 *    started with, items read afterwards see the new one. Old lists are
 *    freed once every I/O thread has finished its loop turn. So a removed
 *    hook may still be called (by another thread, or to finish an item in
 *    progress) until every I/O thread has finished its current turn: free
 *    what its ud points to after tern_relay_run() has returned, or keep it.
 *    ud is passed back as is.
 *  - Hooks must not block: they run on the relay's I/O threads (or its
 *    writer thread where said). A hook that needs I/O returns TERN_DEFER
 *    and completes later (tern_ctx_defer()). HTTP handlers are the
 *    exception: they run on a thread pool and may block
 *    (tern_http_handler_fn).
 *  - A rejecting hook fills why; its prefix decides the reply, and
 *    TERN_PREFIX_AUTH_REQUIRED also makes the relay send an AUTH challenge.
 *    A rejection with TERN_PREFIX_NONE is sent as "blocked".
 *
 * Each typedef's comment says on which thread the hook runs.
 */
#ifndef TERN_HOOKS_H
#define TERN_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_relay tern_relay;
typedef struct tern_conn tern_conn;         /* one client connection */
typedef struct tern_ctx tern_ctx;           /* the call a hook runs in */
typedef struct tern_deferral tern_deferral; /* a verdict to give later */

typedef enum tern_verdict {
	TERN_PASS = 0, /* no opinion: the next hook decides */
	TERN_REJECT,   /* refuse, with the reason filled */
	TERN_ACCEPT,   /* accept: skip the rest of this list */
	TERN_DEFER,    /* the verdict comes later via tern_deferral_complete() */
	/* Reject-event hooks only ("shadow reject", strfry's shadowReject):
	 * the client is told OK true (with why's wire form as the message,
	 * "" when why is left empty) but the event is neither stored nor
	 * broadcast, and no on-event-saved/on-ephemeral-event hook runs;
	 * later hooks are skipped. Also a valid deferred verdict. Elsewhere
	 * it counts as TERN_REJECT. */
	TERN_SHADOW_REJECT,
} tern_verdict;

/* ---- the context of a call ------------------------------------------- */

/* The relay whose hook this is (for a hook of a sub-relay, the sub-relay:
 * tern/router.h). */
tern_relay *tern_ctx_relay(const tern_ctx *x);

/* The client connection the item came from, or NULL for internal calls
 * (events injected with tern_relay_inject_event()). */
tern_conn *tern_ctx_conn(const tern_ctx *x);

/* True when the item was not sent by a client (see tern_ctx_conn()). */
bool tern_ctx_is_internal(const tern_ctx *x);

/* The subscription id of the REQ/COUNT being handled (filter hooks), or
 * of the listener (prevent-broadcast, overwrite-response-event); empty
 * elsewhere. Valid during the hook call. */
tern_slice tern_ctx_sub_id(const tern_ctx *x);

/*
 * Asks for a deferred verdict: only in reject-connection and reject-event
 * hooks. The hook then returns TERN_DEFER (once it has a deferral, the
 * relay waits for it whatever the hook returns) and, later, from any
 * thread, calls tern_deferral_complete() exactly once. Until then the
 * relay holds that item: the connection's later messages wait behind it
 * (input is kept, about one message's worth, then reading pauses), so
 * they are handled, and answered, in order; other connections are not
 * affected. A WebSocket upgrade held this way still has the 10 s
 * request-head timeout. Calling it twice in one hook call returns the
 * same deferral. Returns NULL (the hook must then decide now) when out
 * of memory or when called from another kind of hook. A hook that
 * returns TERN_DEFER without a deferral rejects the item ("error:").
 */
tern_deferral *tern_ctx_defer(tern_ctx *x);

/*
 * Gives a deferred verdict: TERN_PASS (the list continues after the hook
 * that deferred, or where it was if that hook was removed meanwhile),
 * TERN_ACCEPT, TERN_REJECT (why: the reason; may be NULL) or, for events,
 * TERN_SHADOW_REJECT. Any other value rejects with "error:". The
 * connection's I/O thread resumes the item at its next loop turn.
 * Thread-safe, also from inside the hook itself; frees d. If the
 * connection closed meanwhile, the verdict is dropped. Must be called
 * before tern_relay_free() (after tern_relay_run() returned is fine: the
 * verdict is dropped, an injected event's callback gets an error).
 */
void tern_deferral_complete(tern_deferral *d, tern_verdict v,
			    const tern_reason *why);

/* ---- connection accessors (I/O thread of the connection only) -------- */

/* The client's IP address as text: the socket peer, or, when
 * relay.trusted_proxy_header is set and the request has it, the last
 * address in that header (the one the trusted proxy saw). Valid while the
 * connection lives. */
const char *tern_conn_ip(const tern_conn *c);

/* A number unique among the relay's connections since it started. */
uint64_t tern_conn_id(const tern_conn *c);

/* NIP-42: how many pubkeys the connection has authenticated as, and the
 * i-th one (32 bytes, valid while the connection lives). */
size_t tern_conn_authed_count(const tern_conn *c);
const uint8_t *tern_conn_authed_pubkey(const tern_conn *c, size_t i);
bool tern_conn_is_authed_as(const tern_conn *c, const uint8_t pubkey[32]);

/* Sends an AUTH challenge now (the relay sends one when a connection
 * opens, and after every auth-required rejection). No-op unless the
 * WebSocket is open. */
void tern_conn_request_auth(tern_conn *c);

/* Per-connection user data. free_fn (may be NULL) runs once when the
 * connection closes, after the on-disconnect hooks (also for connections
 * that never became WebSockets, e.g. set by a reject-connection hook).
 * Setting it again replaces it without freeing the old one. */
void *tern_conn_user_data(const tern_conn *c);
void tern_conn_set_user_data(tern_conn *c, void *data,
			     void (*free_fn)(void *));

/* ---- hook types -------------------------------------------------------- */

/* Before the WebSocket upgrade is answered (I/O thread), after the
 * connections-per-IP limit. TERN_REJECT answers HTTP 429 with why's wire
 * form. May defer. tern_ctx_conn() is the connection (not yet open). */
typedef tern_verdict (*tern_reject_connection_fn)(void *ud, tern_ctx *x,
						 tern_reason *why);

/* After the upgrade (and the first AUTH challenge) / when that WebSocket
 * connection is gone, before its subscriptions and NIP-42 state are
 * dropped (I/O thread). Plain HTTP requests get neither. */
typedef void (*tern_on_connect_fn)(void *ud, tern_ctx *x);
typedef void (*tern_on_disconnect_fn)(void *ud, tern_ctx *x);

/* For each EVENT whose id and signature are valid, before it is stored or
 * broadcast (I/O thread), and for injected events (internal). The
 * relay's own checks of relay.limits (auth_required, created_at window,
 * NIP-13) and NIP-70 come first, as hooks of owner "tern". May defer. */
typedef tern_verdict (*tern_reject_event_fn)(void *ud, tern_ctx *x,
					    const tern_event *ev,
					    tern_reason *why);

/* For each event of its author a kind-5 deletion would remove, before
 * it is removed. Runs where the backend applies the deletion: the LMDB
 * store's writer thread, inside the write transaction; for the memory
 * backend and other backends that take the hooks through
 * tern_backend_ops.set_deletion_outcome, the thread that saves (an I/O
 * thread of the relay). Must be quick and must not call the store or
 * backend. Return false to keep target; the deletion (and its tombstone,
 * so target cannot be sent again once gone) is stored either way. The
 * first false wins. A backend without set_deletion_outcome (see
 * tern/backend.h) never calls these hooks. */
typedef bool (*tern_overwrite_deletion_outcome_fn)(void *ud,
						  const tern_event *target,
						  const tern_event *deletion);

/* After an event is committed (before its OK is sent; not for
 * duplicates) / after an ephemeral event is accepted, before its fan-out
 * (I/O thread of the connection that sent it; for internal events, the
 * first I/O thread; tern_ctx_conn() may be a connection that closed
 * meanwhile: its accessors still work). */
typedef void (*tern_on_event_saved_fn)(void *ud, tern_ctx *x,
				       const tern_event *ev);
typedef void (*tern_on_ephemeral_event_fn)(void *ud, tern_ctx *x,
					   const tern_event *ev);

/* For each filter of a REQ (after the overwrite-filter hooks, live-only
 * filters included) / of a COUNT (after the overwrite-count-filter hooks,
 * likewise) (I/O thread). One rejection closes the
 * whole request (CLOSED with why). Cannot defer. */
typedef tern_verdict (*tern_reject_filter_fn)(void *ud, tern_ctx *x,
					     const tern_filter *f,
					     tern_reason *why);

/*
 * May change each filter of a REQ before the reject-filter hooks and the
 * query (I/O thread): f's fields, and what they point to, may be replaced
 * with memory from a (valid for the whole request; lists must stay sorted
 * and unique, as the parser makes them). Setting *live_only makes the
 * filter skip stored events: it only waits for new ones (EOSE comes at
 * once when every filter is live-only). Not called for COUNT (see
 * tern_overwrite_count_filter_fn: register the same function in both
 * lists to rewrite both).
 */
typedef void (*tern_overwrite_filter_fn)(void *ud, tern_ctx *x,
					 tern_filter *f, tern_arena *a,
					 bool *live_only);

/*
 * As tern_overwrite_filter_fn, for each filter of a COUNT, before the
 * reject-count-filter hooks and the count (I/O thread; every hook runs,
 * in order, each seeing the previous one's changes). Setting *live_only
 * means the filter counts nothing: it adds 0 to the count. So does a
 * filter a hook leaves unable to match anything (an empty "ids",
 * "authors" or "kinds" list or tag value list, or since > until): the
 * backend is not asked. "limit" is ignored by counts, as always.
 * tern_ctx_sub_id() is the COUNT's id.
 */
typedef tern_overwrite_filter_fn tern_overwrite_count_filter_fn;

/*
 * After a connection authenticated pubkey with NIP-42: the AUTH event was
 * valid and pubkey is one of tern_conn_authed_pubkey() (I/O thread of the
 * connection, before the OK true is queued). Once per AUTH message that
 * succeeds, also when the connection was already authed as pubkey (its
 * authed count then stays the same); never for a refused AUTH. No
 * verdict; must not block. pubkey (32 bytes) is valid during the call.
 * With a router, the router's hooks run (NIP-42 is the router's).
 */
typedef void (*tern_on_auth_fn)(void *ud, tern_ctx *x,
				const uint8_t pubkey[32]);

/* Return true to not send ev to the listening connection of x (I/O
 * thread of the listener; tern_ctx_sub_id() is the subscription). Runs
 * for live events only (stored ones go through the filters), after the
 * restricted-kinds check. The first true wins. */
typedef bool (*tern_prevent_broadcast_fn)(void *ud, tern_ctx *x,
					  const tern_event *ev);

/*
 * May replace the JSON of an event about to be sent to a client (stored
 * or live; I/O thread; tern_ctx_sub_id() is the subscription): set *json
 * to other text (allocated in a, valid for the send; sent as is) and
 * return true, or return false to send it unchanged. A later hook gets
 * the JSON an earlier one set (ev stays the original). With no hook
 * registered events are spliced without being parsed.
 */
typedef bool (*tern_overwrite_response_event_fn)(void *ud, tern_ctx *x,
						 const tern_event *ev,
						 tern_slice *json,
						 tern_arena *a);

/* NIP-11 fields a hook may change per request. Strings are NUL-terminated
 * and only need to stay valid during the request. */
typedef struct tern_relay_info {
	const char *name, *description, *pubkey, *contact, *icon, *banner;
	const char *privacy_policy, *terms_of_service, *posting_policy;
	const uint32_t *supported_nips;
	size_t nsupported_nips;
} tern_relay_info;

/* Before a NIP-11 document is written (I/O thread), for each request:
 * info starts as the configured relay.info and supported NIPs. */
typedef void (*tern_overwrite_relay_information_fn)(void *ud, tern_ctx *x,
						    tern_relay_info *info);

/* ---- HTTP requests the relay does not serve ----------------------------- */

/* Largest request body handed to an HTTP handler (1 MiB). A request for
 * the handlers with a larger Content-Length is answered 413. */
#define TERN_HTTP_MAX_BODY (1u << 20)

/* One header line of a request: NUL-terminated copies. */
typedef struct tern_http_header {
	const char *name;  /* as sent: compare case-insensitively */
	const char *value; /* surrounding spaces trimmed; may be "" */
} tern_http_header;

/*
 * A request handed to HTTP handlers. Everything is a copy owned by the
 * relay, valid during the handler call only.
 */
typedef struct tern_http_request {
	tern_relay *relay;               /* the relay that received it */
	const char *method;              /* "GET", "POST", ... (as sent) */
	const char *path;                /* "/metrics": the target up to '?',
					    percent-escapes as sent */
	const char *query;               /* after the first '?' ("" for a
					    bare '?'); NULL without '?' */
	const tern_http_header *headers; /* in the order sent */
	size_t nheaders;
	tern_slice body;                 /* the Content-Length bytes (at most
					    TERN_HTTP_MAX_BODY); empty
					    without a Content-Length */
	const char *ip;                  /* the client, as tern_conn_ip() */
	uint64_t conn_id;                /* as tern_conn_id() */
} tern_http_request;

/* The first header named name (ASCII case-insensitive): its value, or
 * NULL. */
const char *tern_http_request_header(const tern_http_request *req,
				     const char *name);

/* The answer a handler builds (opaque; owned by the relay). The calls
 * below are for the handler that got it, during its call. */
typedef struct tern_http_response tern_http_response;

/*
 * Sets the answer: status (200-599), content_type (NULL: no Content-Type
 * header) and body[0..len) (copied; body may be NULL when len is 0).
 * Calling it again replaces status, type and body. The relay adds
 * Content-Length, Connection: close and the CORS headers it sends with
 * all its replies; the body is not sent for HEAD requests, nor for 204
 * and 304. Returns 0, TERN_EINVAL (status out of range, a control
 * character in content_type) or TERN_ENOMEM.
 */
int tern_http_respond(tern_http_response *res, int status,
		      const char *content_type, const void *body, size_t len);

/*
 * Adds a header line name: value to the answer (copied). name must be an
 * HTTP token, value must not hold control characters (TAB aside); the
 * headers the relay writes itself (Content-Length, Content-Type,
 * Connection, Transfer-Encoding and the Access-Control-Allow-* CORS
 * headers) are refused. At most 8 KiB of headers per answer. Returns 0,
 * TERN_EINVAL or TERN_ENOMEM.
 */
int tern_http_response_header(tern_http_response *res, const char *name,
			      const char *value);

/*
 * Serves an HTTP request the relay itself does not serve: any path other
 * than "/" (WebSocket upgrades aside: those are the relay's on any path),
 * and on "/" any method other than GET, HEAD and OPTIONS (and NIP-86
 * POSTs when a management API is set). Handlers run in registration
 * order on libuv's thread pool (shared with NIP-86 calls and sized by
 * UV_THREADPOOL_SIZE, 4 by default), never on an I/O thread: a handler
 * may block (files, a database), and several run at once, so handlers
 * must be thread-safe. Answer by calling tern_http_respond() (and
 * tern_http_response_header()) and returning true: the rest of the list
 * is skipped. Return false to decline: what it set is discarded and the
 * next handler gets the request; when every handler declines, the relay
 * answers as without handlers (404, 405, or 204 for an OPTIONS
 * preflight). A handler that returns true without having called
 * tern_http_respond() answers 500.
 *
 * The request, body included, must arrive within the relay's 10 s
 * request timeout; the handlers then take the time they need, and the
 * answer gets 10 s more to be sent. If the client closes meanwhile the
 * answer is dropped. One request per connection (the answer closes it).
 * A router runs its own handlers: those of its sub-relays never run.
 * tern_relay_run() returns once the handlers in progress have returned.
 */
typedef bool (*tern_http_handler_fn)(void *ud, const tern_http_request *req,
				     tern_http_response *res);

/* ---- registration ------------------------------------------------------ */

/* Each appends fn to its list under owner. Returns 0, TERN_EINVAL (fn is
 * NULL) or TERN_ENOMEM. Thread-safe. */
int tern_on_reject_connection(tern_relay *r, const void *owner,
			      tern_reject_connection_fn fn, void *ud);
int tern_on_connect(tern_relay *r, const void *owner, tern_on_connect_fn fn,
		    void *ud);
int tern_on_disconnect(tern_relay *r, const void *owner,
		       tern_on_disconnect_fn fn, void *ud);
int tern_on_reject_event(tern_relay *r, const void *owner,
			 tern_reject_event_fn fn, void *ud);
int tern_on_overwrite_deletion_outcome(tern_relay *r, const void *owner,
				       tern_overwrite_deletion_outcome_fn fn,
				       void *ud);
int tern_on_event_saved(tern_relay *r, const void *owner,
			tern_on_event_saved_fn fn, void *ud);
int tern_on_ephemeral_event(tern_relay *r, const void *owner,
			    tern_on_ephemeral_event_fn fn, void *ud);
int tern_on_reject_filter(tern_relay *r, const void *owner,
			  tern_reject_filter_fn fn, void *ud);
int tern_on_reject_count_filter(tern_relay *r, const void *owner,
				tern_reject_filter_fn fn, void *ud);
int tern_on_overwrite_filter(tern_relay *r, const void *owner,
			     tern_overwrite_filter_fn fn, void *ud);
int tern_on_overwrite_count_filter(tern_relay *r, const void *owner,
				   tern_overwrite_count_filter_fn fn,
				   void *ud);
int tern_on_auth(tern_relay *r, const void *owner, tern_on_auth_fn fn,
		 void *ud);
int tern_on_http_request(tern_relay *r, const void *owner,
			 tern_http_handler_fn fn, void *ud);
int tern_on_prevent_broadcast(tern_relay *r, const void *owner,
			      tern_prevent_broadcast_fn fn, void *ud);
int tern_on_overwrite_response_event(tern_relay *r, const void *owner,
				     tern_overwrite_response_event_fn fn,
				     void *ud);
int tern_on_overwrite_relay_information(tern_relay *r, const void *owner,
					tern_overwrite_relay_information_fn fn,
					void *ud);

/* Removes every hook (of every list) registered under owner (see the
 * rules above for when its last call may still happen), and the owner's
 * reject-api-call hooks of r's management API when one is set
 * (tern_relay_set_manage(), tern_manage_remove_owner()). Thread-safe. */
void tern_hooks_remove_owner(tern_relay *r, const void *owner);

#ifdef __cplusplus
}
#endif
#endif
