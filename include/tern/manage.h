/*
 * tern/manage.h - the NIP-86 relay management API.
 *
 * NIP-86 lets an administrator manage a relay over HTTP: a POST to the
 * relay's URL with `Content-Type: application/nostr+json+rpc`, a body
 * `{"method":"banpubkey","params":["<hex>","spam"]}` and a NIP-98
 * `Authorization: Nostr <base64 of a kind-27235 event>` header. The relay
 * answers `{"result":...}`, or `{"result":null,"error":"..."}`.
 *
 * The relay does the HTTP, the authorization and the JSON; a program
 * supplies what each method does, as a struct of optional callbacks (one
 * per method, khatru's ManagementAPI), plus reject-api-call hooks that
 * decide who may call:
 *
 *     static int ban(void *ud, const tern_manage_call *call,
 *                    tern_manage_result *res)
 *     {
 *             my_ban(ud, call->key, call->reason);   // may block
 *             return 0;                              // {"result":true}
 *     }
 *     ...
 *     tern_manage_ops ops = { .ban_pubkey = ban, .list_banned_pubkeys = ls };
 *     tern_manage *m;
 *     tern_manage_new(&m, &ops, my_state);
 *     tern_manage_on_reject_api_call(m, "mine", only_admins, NULL);
 *     tern_relay_set_manage(relay, m);
 *     tern_relay_run(relay);
 *     tern_relay_free(relay);
 *     tern_manage_free(m);
 *
 * What the relay does with a request (in this order):
 *  1. Only a POST to "/" whose Content-Type is application/nostr+json+rpc
 *     (parameters such as "; charset=utf-8" are ignored) is a management
 *     call, and only on a relay with a tern_manage set; any other POST is
 *     answered 405 as before. The body needs a Content-Length (411
 *     otherwise) of at most TERN_MANAGE_MAX_BODY bytes (413 otherwise).
 *  2. Authorization (NIP-98, with NIP-86's mandatory payload tag): the
 *     header must be "Nostr <base64>" of an event of kind 27235 with a
 *     valid id and signature, created_at within TERN_MANAGE_AUTH_WINDOW
 *     seconds of the relay's clock, a "method" tag equal to POST (ASCII
 *     case-insensitive), a "u" tag equal to the relay's URL and a
 *     "payload" tag equal to the lowercase hex SHA-256 of the body.
 *     The relay's URL is relay.service_url and its http(s) counterpart
 *     (ws:// <-> http://, wss:// <-> https://); without a service_url,
 *     any of those four schemes followed by the request's Host. A single
 *     trailing '/' is ignored on both sides. Any failure: HTTP 401 (with
 *     `WWW-Authenticate: Nostr`) and
 *     {"result":null,"error":"unauthorized: <why>"}.
 *  3. The body must be a JSON object with a string "method" and an
 *     optional array "params" (other members are ignored): else 400 with
 *     an "invalid request: ..." error.
 *  4. The params of a standard method are checked and decoded into the
 *     tern_manage_call (see the table below): a mismatch is answered
 *     {"error":"invalid params: ..."} without calling anything.
 *  5. The reject-api-call hooks run, in order: the first TERN_REJECT wins
 *     and is answered HTTP 401 with the reason's wire form as the error
 *     (TERN_PREFIX_NONE is sent as "blocked: ..."); TERN_ACCEPT skips the
 *     rest of the hooks; TERN_PASS gives the next hook its turn; any
 *     other verdict rejects with "error: ...".
 *  6. "supportedmethods" is answered by the relay: the names of the
 *     methods whose callback is set, then ops.generic_methods. Another
 *     method runs its callback, or ops.generic when the method has no
 *     callback of its own (neither: {"error":"method not supported: X"}).
 *     A callback that returns 0 answers its result ({"result":true} for
 *     the methods that return true); one that returns an error answers
 *     the message it set with tern_manage_result_error(), or
 *     tern_strerror() of the code.
 * Every answer to a management call is application/json with the CORS
 * headers of the relay's other HTTP answers (which also allow POST and the
 * Authorization header).
 *
 * Threads: the I/O thread only reads the request; steps 2-6 (hooks and
 * callbacks included) run on a thread of libuv's thread pool, so they MAY
 * block (disk, the store, the network). Several calls may run at once, on
 * different threads: callbacks must be thread-safe. A call taking longer
 * than 10 seconds (the HTTP request timeout) still completes, but its
 * connection has been closed and the answer is dropped. tern_relay_run()
 * returns only once the calls in progress have completed.
 */
#ifndef TERN_MANAGE_H
#define TERN_MANAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/hooks.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest request body accepted (bytes); a larger one is answered 413. */
#define TERN_MANAGE_MAX_BODY 65536
/* Largest accepted distance between an authorization's created_at and the
 * relay's clock, either way (seconds). */
#define TERN_MANAGE_AUTH_WINDOW 60

typedef struct tern_manage tern_manage;
typedef struct tern_manage_result tern_manage_result;

typedef enum tern_manage_param_type {
	TERN_MANAGE_PARAM_STRING, /* a JSON string */
	TERN_MANAGE_PARAM_NUMBER, /* a JSON number */
	TERN_MANAGE_PARAM_OTHER,  /* true, false, null, an object, an array */
} tern_manage_param_type;

/* One element of the request's "params" array. */
typedef struct tern_manage_param {
	tern_manage_param_type type;
	tern_slice json;  /* the element's JSON text, as sent */
	const char *str;  /* STRING: the decoded, NUL-terminated text (a
			     string holding U+0000 is refused in step 3);
			     NULL for other types */
} tern_manage_param;

/*
 * One management call. Everything it points to is valid during the
 * callback or hook only.
 *
 * Decoded arguments, by method (NIP-86 names; each with its callback):
 *
 *   method                       params                   fields set
 *   banpubkey, unbanpubkey,      ["<64 hex>", reason?]    key, reason
 *   allowpubkey, unallowpubkey
 *   banevent, unbanevent,        ["<64 hex id>", reason?] key, reason
 *   allowevent, unallowevent
 *   changerelayname,             ["<text>"]               text
 *   changerelaydescription,
 *   changerelayicon
 *   allowkind, disallowkind      [<integer 0..65535>]     kind
 *   blockip, unblockip           ["<IPv4|IPv6>", reason?] text (the
 *                                                         address in its
 *                                                         canonical form),
 *                                                         reason
 *   list* and supportedmethods   []                       -
 *
 * Hex must be 64 lowercase hex digits. reason is "" when absent. Other
 * fields are zero / "". For any method, params/nparams hold the raw
 * params (for generic methods, they are all there is).
 */
typedef struct tern_manage_call {
	tern_relay *relay;
	const char *method;     /* as sent (NIP-86 names are lowercase) */
	uint8_t caller[32];     /* pubkey of the NIP-98 authorization */
	const char *ip;         /* client address (tern_conn_ip() rules) */
	uint8_t key[32];        /* pubkey or event id */
	const char *reason;
	const char *text;
	uint32_t kind;
	const tern_manage_param *params;
	size_t nparams;
} tern_manage_call;

/*
 * A method's callback: does the work and returns 0, or a negative error
 * (TERN_E* or -errno) after which the answer is the error (set a message
 * with tern_manage_result_error()). A list method adds its items to res;
 * the other standard methods add nothing (their result is true). Runs on a
 * thread-pool thread; may block. ud is tern_manage_new()'s.
 */
typedef int (*tern_manage_fn)(void *ud, const tern_manage_call *call,
			      tern_manage_result *res);

/*
 * The methods a relay supports: NULL callbacks are "not supported" (and
 * not listed by supportedmethods). Field <-> NIP-86 method: ban_pubkey
 * banpubkey, unban_pubkey unbanpubkey, ... (the method name without
 * underscores); the list results:
 *   list_banned_pubkeys, list_allowed_pubkeys: [{"pubkey":..,"reason":..}]
 *   list_events_needing_moderation, list_banned_events,
 *   list_allowed_events:                       [{"id":..,"reason":..}]
 *   list_blocked_ips:                          [{"ip":..,"reason":..}]
 *   list_allowed_kinds, list_disallowed_kinds: [<kind>, ...]
 * generic answers every other method (khatru's Generic): its result is
 * what it sets with tern_manage_result_json(), true when it sets none.
 * generic_methods (NULL-terminated, may be NULL) are the names it answers,
 * listed by supportedmethods.
 */
typedef struct tern_manage_ops {
	tern_manage_fn ban_pubkey, unban_pubkey, list_banned_pubkeys;
	tern_manage_fn allow_pubkey, unallow_pubkey, list_allowed_pubkeys;
	tern_manage_fn list_events_needing_moderation;
	tern_manage_fn allow_event, unallow_event, list_allowed_events;
	tern_manage_fn ban_event, unban_event, list_banned_events;
	tern_manage_fn change_relay_name, change_relay_description,
		change_relay_icon;
	tern_manage_fn allow_kind, disallow_kind, list_allowed_kinds,
		list_disallowed_kinds;
	tern_manage_fn block_ip, unblock_ip, list_blocked_ips;
	tern_manage_fn generic;
	const char *const *generic_methods;
} tern_manage_ops;

/*
 * A reject-api-call hook (khatru's RejectAPICall): runs before every
 * method, supportedmethods included, with the authorized caller. Return
 * TERN_REJECT with why filled to refuse (HTTP 401), TERN_PASS or
 * TERN_ACCEPT. Thread-pool thread; may block.
 */
typedef tern_verdict (*tern_reject_api_call_fn)(void *ud,
						const tern_manage_call *call,
						tern_reason *why);

/*
 * Creates a management API answering with ops (copied; the strings of
 * ops->generic_methods are not, keep them alive) and ud. Returns 0,
 * TERN_EINVAL (ops or out NULL) or TERN_ENOMEM.
 */
int tern_manage_new(tern_manage **out, const tern_manage_ops *ops, void *ud);

/*
 * Appends a reject-api-call hook under owner. Returns 0, TERN_EINVAL or
 * TERN_ENOMEM. Thread-safe, at any time (a call in progress finishes with
 * the hooks it started with).
 */
int tern_manage_on_reject_api_call(tern_manage *m, const void *owner,
				   tern_reject_api_call_fn fn, void *ud);

/* Removes every reject-api-call hook of owner. tern_hooks_remove_owner()
 * also does this for the management API set on its relay. m may be NULL.
 * Thread-safe. */
void tern_manage_remove_owner(tern_manage *m, const void *owner);

/*
 * Serves m on r (NULL: no management API, POSTs are answered 405). With m
 * set, NIP-11 lists NIP 86. Call before tern_relay_run(), on the relay
 * that runs (a sub-relay of tern/router.h serves no HTTP). m must outlive
 * r: free it after tern_relay_free(). Returns 0 or TERN_EINVAL (r NULL).
 */
int tern_relay_set_manage(tern_relay *r, tern_manage *m);

/* Frees m (NULL is fine). Only once no relay serves it any more. */
void tern_manage_free(tern_manage *m);

/* ---- building a result (inside a callback) ---------------------------- */

/*
 * Appends one item to a list result: value is a pubkey or event id in hex,
 * or an IP address (list_blocked_ips); reason may be NULL. Both are
 * copied (JSON-escaped). Returns 0, TERN_ENOMEM, or TERN_EINVAL when the
 * method's result is not a list of such objects.
 */
int tern_manage_result_add(tern_manage_result *res, const char *value,
			   const char *reason);
/* The same with a 32-byte key, written as lowercase hex. */
int tern_manage_result_add_key(tern_manage_result *res, const uint8_t key[32],
			       const char *reason);
/* Appends a kind to a kinds list (list_allowed_kinds,
 * list_disallowed_kinds). Returns 0, TERN_ENOMEM or TERN_EINVAL. */
int tern_manage_result_add_kind(tern_manage_result *res, uint32_t kind);

/*
 * Sets the whole result to json[0..len), a JSON value sent as is (not
 * checked: it must be valid JSON), replacing any item added. For generic
 * methods mostly. Returns 0 or TERN_ENOMEM.
 */
int tern_manage_result_json(tern_manage_result *res, const char *json,
			    size_t len);

/*
 * Sets the error message answered when the callback returns an error
 * (printf-style, truncated to TERN_REASON_MAX). Returns TERN_EINVAL, so
 * that `return tern_manage_result_error(res, "no such kind");` fails the
 * call.
 */
int tern_manage_result_error(tern_manage_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
