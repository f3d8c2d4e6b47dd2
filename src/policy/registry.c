/*
 * The state of registered policies, per relay and owner (registry.h).
 * A plain list under a mutex: it is touched only when policies are
 * created or released, never by the hooks themselves.
 */
#include <pthread.h>
#include <stdlib.h>

#include <tern/error.h>
#include <tern/policy.h>

#include "policy/registry.h"

typedef struct kept {
	struct kept *next;
	const tern_relay *r;
	const void *owner;
	void *p;
	void (*free_fn)(void *);
} kept;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static kept *head;

int tern__registry_keep(tern_relay *r, const void *owner, void *p,
			void (*free_fn)(void *))
{
	kept *k = malloc(sizeof *k);

	if (!k) {
		free_fn(p);
		return TERN_ENOMEM;
	}
	*k = (kept){ .r = r, .owner = owner, .p = p, .free_fn = free_fn };
	pthread_mutex_lock(&mu);
	k->next = head;
	head = k;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* Frees the entries of r (all owners when any_owner). */
static void drop(const tern_relay *r, const void *owner, bool any_owner)
{
	kept *gone = NULL, **pp;

	pthread_mutex_lock(&mu);
	for (pp = &head; *pp;) {
		kept *k = *pp;

		if (k->r == r && (any_owner || k->owner == owner)) {
			*pp = k->next;
			k->next = gone;
			gone = k;
		} else {
			pp = &k->next;
		}
	}
	pthread_mutex_unlock(&mu);
	while (gone) {
		kept *next = gone->next;

		gone->free_fn(gone->p);
		free(gone);
		gone = next;
	}
}

void tern_policy_remove(tern_relay *r, const void *owner)
{
	if (!r)
		return;
	tern_hooks_remove_owner(r, owner);
	drop(r, owner, false);
}

void tern_policy_release(tern_relay *r)
{
	if (r)
		drop(r, NULL, true);
}
