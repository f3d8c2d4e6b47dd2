/*
 * The plugin host: one child process speaking the write-policy protocol
 * (proto.h), owned by one dedicated thread running its own libuv loop.
 * Any thread submits requests; verdicts come back through a callback on
 * the host thread.
 *
 * Guarantees:
 *  - Every accepted request gets exactly one verdict: the plugin's reply
 *    (matched by event id, oldest request first), or the fail policy
 *    (fail_open: accept; else reject "error: ...") when the reply does
 *    not come within timeout_ms, the process dies before answering, or
 *    the host stops.
 *  - Submitting never blocks: at most max_pending requests are
 *    unresolved; beyond that tern__plugin_host_reserve() refuses.
 *  - The process is restarted when it dies (backoff 100 ms doubling to
 *    5 s, reset by a valid reply), killed and restarted when a reply is
 *    overdue (a plugin that stops reading or answering), and replaced
 *    when its script file changes (reload_on_change, commands without
 *    spaces only, as strfry does): new requests go to the new process
 *    while the old one gets EOF on stdin and may answer what it holds.
 *  - Its stderr is logged line by line (area "plugin"); unparseable
 *    stdout lines are logged and ignored.
 * The command runs as /bin/sh -c COMMAND in its own process group.
 */
#ifndef TERN_PLUGIN_HOST_H
#define TERN_PLUGIN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#include "plugin/proto.h"

typedef struct tern__plugin_host tern__plugin_host;

/*
 * A verdict (host thread). failed is true when it came from the fail
 * policy rather than the plugin; why is set for REJECT, else empty.
 */
typedef void (*tern__plugin_done_fn)(void *ctx, void *cookie,
				     tern__plugin_action action,
				     const tern_reason *why, bool failed);

typedef struct tern__plugin_host_opts {
	const char *command;     /* copied */
	uint32_t timeout_ms;     /* > 0 */
	uint32_t max_pending;    /* > 0 */
	uint32_t watch_ms;       /* file check interval; 0: 500 */
	bool fail_open;
	bool reload_on_change;
	tern__plugin_done_fn done;
	void *ctx;               /* passed to done */
} tern__plugin_host_opts;

typedef struct tern__plugin_host_stats {
	uint64_t requests;   /* submitted */
	uint64_t replies;    /* valid replies matched to a request */
	uint64_t failures;   /* verdicts from the fail policy */
	uint64_t garbage;    /* stdout lines that were not a valid reply */
	uint64_t spawns;     /* processes started */
	uint64_t reloads;    /* file changes acted upon */
} tern__plugin_host_stats;

/* Starts the thread and the process. Returns 0, TERN_EINVAL, TERN_ENOMEM
 * or -errno (thread). A process that fails to start is retried. */
int tern__plugin_host_start(tern__plugin_host **out,
			    const tern__plugin_host_opts *o);

/* Takes one of the max_pending slots. Returns 0, TERN_EFULL or
 * TERN_ECLOSED (stopping). Thread-safe, never blocks on the plugin. */
int tern__plugin_host_reserve(tern__plugin_host *h);
/* Gives a reserved slot back unused. */
void tern__plugin_host_unreserve(tern__plugin_host *h);

/*
 * Queues a request on a reserved slot: id is the event id its reply must
 * carry; line (malloc'd, ends in '\n') is taken over. done() will be
 * called once with cookie. Thread-safe.
 */
void tern__plugin_host_submit(tern__plugin_host *h, const uint8_t id[32],
			      char *line, size_t len, void *cookie);

void tern__plugin_host_stats_get(tern__plugin_host *h,
				 tern__plugin_host_stats *st);

/* Resolves what is pending with the fail policy, stops the process
 * (EOF, SIGTERM, then SIGKILL after 1 s), joins the thread, frees h. */
void tern__plugin_host_stop(tern__plugin_host *h);

#endif
