/*
 * Who owns a policy's state. The hook API has no destructor for a hook's
 * user data, so the policies keep their own list of what they allocated,
 * per (relay, owner), for tern_policy_remove() and tern_policy_release().
 */
#ifndef TERN_POLICY_REGISTRY_H
#define TERN_POLICY_REGISTRY_H

#include <tern/hooks.h>

/*
 * Records that p (freed with free_fn) belongs to owner's policies on r.
 * Returns 0, or TERN_ENOMEM after freeing p. Thread-safe.
 */
int tern__registry_keep(tern_relay *r, const void *owner, void *p,
			void (*free_fn)(void *));

#endif
