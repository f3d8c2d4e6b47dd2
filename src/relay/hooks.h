/*
 * The relay's internal hook lists: the pipeline of every EVENT and REQ runs
 * through them, so that the public framework API can expose them as they
 * are. Each list is ordered; for the reject lists the first rejection wins.
 *
 * Registration happens before the relay runs (it is not synchronised with
 * the I/O threads). Entries are grouped by owner so that they can be
 * removed together.
 *
 * Threads: reject-connection hooks run on the I/O thread of the connection,
 * once its HTTP request head is read and before a WebSocket upgrade is
 * answered; reject-event and reject-filter hooks run on the I/O thread that
 * received the message; on-event-saved hooks run on the I/O thread of the
 * connection that sent the event, after the store committed it. None may
 * block.
 */
#ifndef TERN_RELAY_HOOKS_H
#define TERN_RELAY_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/event.h>
#include <tern/filter.h>
#include <tern/types.h>

typedef struct tern__conn tern__conn;
typedef struct tern__http_request tern__http_request;

/* Return true to refuse a WebSocket upgrade request (req: its parsed head;
 * the client IP is the connection's, trusted proxy header applied). The
 * client gets HTTP 429 with why's text as the body. */
typedef bool (*tern__reject_conn_fn)(void *ctx, tern__conn *c,
				     const tern__http_request *req,
				     tern_reason *why);

/* Return true to reject ev, with why set (its prefix decides the reply:
 * auth-required also sends an AUTH challenge). c is NULL for events that
 * do not come from a connection. */
typedef bool (*tern__reject_event_fn)(void *ctx, tern__conn *c,
				      const tern_event *ev, tern_reason *why);
/* Return true to refuse a REQ (or COUNT when count is true). */
typedef bool (*tern__reject_filter_fn)(void *ctx, tern__conn *c,
				       const tern_filter *fs, size_t n,
				       bool count, tern_reason *why);
/* Told about each event the store committed (c: the sender, or NULL). */
typedef void (*tern__event_saved_fn)(void *ctx, tern__conn *c,
				     const tern_event *ev);

typedef struct tern__hook {
	const void *owner;
	void (*fn)(void);
	void *ctx;
} tern__hook;

typedef struct tern__hook_list {
	tern__hook *v;
	size_t n, cap;
} tern__hook_list;

typedef struct tern__hooks {
	tern__hook_list reject_conn;
	tern__hook_list reject_event;
	tern__hook_list reject_filter;
	tern__hook_list event_saved;
} tern__hooks;

/* Appends fn to l. Returns 0 or TERN_ENOMEM. */
int tern__hooks_add(tern__hook_list *l, const void *owner, void (*fn)(void),
		    void *ctx);
/* Removes every entry of owner from every list of h. */
void tern__hooks_remove_owner(tern__hooks *h, const void *owner);
void tern__hooks_free(tern__hooks *h);

/* Runs the lists; the reject ones stop at the first rejection. */
bool tern__hooks_reject_conn(const tern__hooks *h, tern__conn *c,
			     const tern__http_request *req, tern_reason *why);
bool tern__hooks_reject_event(const tern__hooks *h, tern__conn *c,
			      const tern_event *ev, tern_reason *why);
bool tern__hooks_reject_filter(const tern__hooks *h, tern__conn *c,
			       const tern_filter *fs, size_t n, bool count,
			       tern_reason *why);
void tern__hooks_event_saved(const tern__hooks *h, tern__conn *c,
			     const tern_event *ev);

#endif
