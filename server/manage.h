/*
 * tern serve's NIP-86 management API (manage.c): the methods of
 * tern/manage.h implemented over a small state file (manage_state.h), and
 * the hooks that enforce that state.
 *
 * Enabled by management.admins (docs/CONFIG.md): only those pubkeys may
 * call. The state (banned and allowed pubkeys, banned events, allowed and
 * disallowed kinds, blocked IPs, relay name/description/icon overrides)
 * lives in <store.dir>/management.state, rewritten atomically (a temporary
 * file, fsync, rename) after each change and read back at start.
 *
 * Enforcement, through ordinary hooks registered before the policies:
 *  - reject-event: a banned pubkey, a pubkey missing from a non-empty
 *    allow list, a banned event id, a disallowed kind or a kind missing
 *    from a non-empty kinds allow list: OK false "blocked: ...";
 *  - reject-connection: a blocked client IP: HTTP 429 "blocked: ...";
 *  - overwrite-relay-information: the name, description and icon.
 * banevent also removes the event from the store.
 */
#ifndef TERN_SERVER_MANAGE_H
#define TERN_SERVER_MANAGE_H

#include <stddef.h>

#include <tern/config.h>
#include <tern/relay.h>

typedef struct serve_manage serve_manage;

/*
 * With cfg->management.nadmins > 0: loads the state file of cfg->store.dir
 * (creating the directory if needed), registers the hooks and serves the
 * API on r. Otherwise does nothing (*out NULL). Call before
 * tern_relay_run(). Returns 0, or an error with a message in err (an
 * unreadable or malformed state file refuses the start).
 */
int serve_manage_start(serve_manage **out, tern_relay *r,
		       const tern_config *cfg, char *err, size_t errcap);

/* Frees the state, after tern_relay_free(). NULL is fine. */
void serve_manage_free(serve_manage *sm);

#endif
