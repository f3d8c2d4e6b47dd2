/*
 * tern/plugin.h - out-of-process write-policy plugins, compatible with
 * strfry's: existing strfry plugins run unchanged.
 *
 * A plugin is any program that reads one JSON object per line on stdin:
 *
 *     {"type":"new","event":{...},"receivedAt":1700000000,
 *      "sourceType":"IP4","sourceInfo":"203.0.113.7","authed":""}
 *
 * (sourceType is "IP4" or "IP6" for clients, "Import" for events that did
 * not come from a connection, with sourceInfo ""; authed is the hex pubkey
 * the connection authenticated as with NIP-42, or "") and answers each
 * with one line on stdout, matched by event id:
 *
 *     {"id":"<event id>","action":"accept"}
 *     {"id":"<event id>","action":"reject","msg":"blocked: not allowed"}
 *     {"id":"<event id>","action":"shadowReject"}
 *
 * accept lets the next reject-event hook decide (the event is then checked
 * and stored as usual); reject answers OK false with msg, whose NIP-01
 * prefix is kept ("rate-limited: ...", "auth-required: ..." also sends an
 * AUTH challenge), while a msg without one is sent as "blocked: <msg>";
 * shadowReject answers OK true but neither stores nor broadcasts the
 * event. Anything the plugin writes to stderr is logged (area "plugin").
 *
 * One process serves the whole relay: every I/O thread's requests go to it
 * through a dedicated thread, and no I/O thread ever waits for it (each
 * event's verdict is deferred, see tern_ctx_defer()). When the plugin
 * misbehaves the fail policy decides: fail_open accepts the event,
 * otherwise it is rejected with "error: plugin timed out" (no reply within
 * timeout_ms; the process is then killed and restarted), "error: plugin
 * exited" (it died holding the event), "error: plugin queue is full"
 * (max_pending events already waiting) or "error: plugin stopped".
 * A plugin that dies is restarted (backoff 100 ms doubling to 5 s); with
 * reload_on_change, a command without spaces is taken as a script path
 * (as strfry does) and a change of the file starts a new process for new
 * events while the old one gets EOF on stdin and may finish what it holds.
 * The command runs as `/bin/sh -c COMMAND`, in its own process group.
 */
#ifndef TERN_PLUGIN_H
#define TERN_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <tern/hooks.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_plugin tern_plugin;

typedef struct tern_plugin_options {
	const char *command;     /* shell command (copied); required */
	uint32_t timeout_ms;     /* reply timeout (default 2000) */
	uint32_t max_pending;    /* events waiting for verdicts (default 1024) */
	bool fail_open;          /* accept when the plugin fails (default
				    false: reject) */
	bool reload_on_change;   /* restart when the script changes (default
				    true) */
} tern_plugin_options;

/* Fills o with the defaults above (command NULL). */
void tern_plugin_options_defaults(tern_plugin_options *o);

/*
 * Starts the plugin process and its thread, and appends a reject-event
 * hook to r under the returned plugin as owner (so it runs after the
 * hooks registered before, and before those registered later). Call before
 * tern_relay_run(). A command that fails to start is retried in the
 * background (events meanwhile get the fail policy after timeout_ms); it
 * is not an error here.
 *
 * Returns 0 (*out set), TERN_EINVAL (no command, zero timeout or
 * max_pending), TERN_ENOMEM or -errno (thread creation).
 */
int tern_plugin_attach(tern_relay *r, const tern_plugin_options *o,
		       tern_plugin **out);

/* Counters (thread-safe, approximate while running). */
typedef struct tern_plugin_stats {
	uint64_t requests;  /* events sent to the plugin */
	uint64_t replies;   /* verdicts given by the plugin */
	uint64_t failures;  /* verdicts given by the fail policy */
	uint64_t garbage;   /* output lines that were not a valid reply */
	uint64_t spawns;    /* processes started */
	uint64_t reloads;   /* script changes acted upon */
} tern_plugin_stats;

void tern_plugin_stats_get(tern_plugin *p, tern_plugin_stats *st);

/*
 * Removes the hook, gives every event still waiting the fail policy, stops
 * the process (EOF on stdin, SIGTERM, SIGKILL after 1 s) and frees p.
 * Call when the relay is not running (after tern_relay_run() returned, or
 * before it started) and before tern_relay_free(). p may be NULL.
 */
void tern_plugin_detach(tern_plugin *p);

#ifdef __cplusplus
}
#endif
#endif
