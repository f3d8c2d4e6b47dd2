/* Hook lists: registration, copy-on-write swaps, reclamation (hooks.h). */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/hooks.h>
#include <tern/manage.h>

#include "relay/hooks.h"
#include "relay/relay.h"

int tern__hooks_init(tern__hooks *h, size_t nslots, void (*wake)(void *ctx),
		     void *wake_ctx)
{
	memset(h, 0, sizeof *h);
	for (size_t i = 0; i < TERN__H_NPOINTS; i++)
		atomic_init(&h->list[i], NULL);
	atomic_init(&h->epoch, 1);
	atomic_init(&h->nretired, 0);
	h->slots = calloc(nslots ? nslots : 1, sizeof *h->slots);
	if (!h->slots)
		return TERN_ENOMEM;
	h->nslots = nslots;
	for (size_t i = 0; i < nslots; i++)
		atomic_init(&h->slots[i], TERN__HOOKS_OFFLINE);
	h->wake = wake;
	h->wake_ctx = wake_ctx;
	pthread_mutex_init(&h->mu, NULL);
	return 0;
}

int tern__hooks_set_slots(tern__hooks *h, size_t nslots)
{
	atomic_uint_fast64_t *v;
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	if (nslots > h->nslots) {
		v = realloc(h->slots, nslots * sizeof *v);
		if (v) {
			for (size_t i = h->nslots; i < nslots; i++)
				atomic_init(&v[i], TERN__HOOKS_OFFLINE);
			h->slots = v;
			h->nslots = nslots;
		} else {
			rc = TERN_ENOMEM;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void tern__hooks_free(tern__hooks *h)
{
	tern__hook_list *l, *next;

	if (!h->slots)
		return;
	for (size_t i = 0; i < TERN__H_NPOINTS; i++)
		free(atomic_exchange(&h->list[i], NULL));
	for (l = h->retired; l; l = next) {
		next = l->retired_next;
		free(l);
	}
	h->retired = NULL;
	free(h->slots);
	h->slots = NULL;
	pthread_mutex_destroy(&h->mu);
}

/* Frees the retired lists every reader has moved past. Under mu. */
static void reclaim(tern__hooks *h)
{
	uint64_t min = TERN__HOOKS_OFFLINE;
	tern__hook_list **pp, *l;

	if (!h->retired)
		return;
	for (size_t i = 0; i < h->nslots; i++) {
		uint64_t e = atomic_load(&h->slots[i]);

		if (e < min)
			min = e;
	}
	for (pp = &h->retired; (l = *pp);) {
		if (l->retired_epoch <= min) {
			*pp = l->retired_next;
			free(l);
			atomic_fetch_sub(&h->nretired, 1);
		} else {
			pp = &l->retired_next;
		}
	}
}

/* Publishes nl (NULL: empty) for p and retires the old list. Under mu. */
static void publish(tern__hooks *h, tern__hook_point p, tern__hook_list *nl)
{
	tern__hook_list *old = atomic_exchange(&h->list[p], nl);

	if (old) {
		old->retired_epoch = atomic_fetch_add(&h->epoch, 1) + 1;
		old->retired_next = h->retired;
		h->retired = old;
		atomic_fetch_add(&h->nretired, 1);
	}
}

int tern__hooks_add(tern__hooks *h, tern__hook_point p, const void *owner,
		    void (*fn)(void), void *ud)
{
	tern__hook_list *old, *nl;
	size_t n;

	if (!fn)
		return TERN_EINVAL;
	pthread_mutex_lock(&h->mu);
	old = atomic_load(&h->list[p]);
	n = old ? old->n : 0;
	nl = malloc(sizeof *nl + (n + 1) * sizeof nl->v[0]);
	if (!nl) {
		pthread_mutex_unlock(&h->mu);
		return TERN_ENOMEM;
	}
	nl->retired_next = NULL;
	nl->retired_epoch = 0;
	nl->n = n + 1;
	if (n)
		memcpy(nl->v, old->v, n * sizeof nl->v[0]);
	nl->v[n] = (tern__hook){ owner, fn, ud };
	publish(h, p, nl);
	reclaim(h);
	pthread_mutex_unlock(&h->mu);
	if (old && h->wake)
		h->wake(h->wake_ctx);
	return 0;
}

void tern__hooks_remove_owner(tern__hooks *h, const void *owner)
{
	bool swapped = false;

	pthread_mutex_lock(&h->mu);
	for (size_t p = 0; p < TERN__H_NPOINTS; p++) {
		tern__hook_list *old = atomic_load(&h->list[p]), *nl = NULL;
		size_t keep = 0, j = 0;

		if (!old)
			continue;
		for (size_t i = 0; i < old->n; i++)
			keep += old->v[i].owner != owner;
		if (keep == old->n)
			continue;
		if (keep) {
			nl = malloc(sizeof *nl + keep * sizeof nl->v[0]);
			if (!nl)
				continue; /* out of memory: this list keeps
					     the owner's hooks */
			nl->retired_next = NULL;
			nl->retired_epoch = 0;
			nl->n = keep;
			for (size_t i = 0; i < old->n; i++)
				if (old->v[i].owner != owner)
					nl->v[j++] = old->v[i];
		}
		publish(h, (tern__hook_point)p, nl);
		swapped = true;
	}
	reclaim(h);
	pthread_mutex_unlock(&h->mu);
	if (swapped && h->wake)
		h->wake(h->wake_ctx);
}

void tern__hooks_quiescent(tern__hooks *h, size_t slot)
{
	atomic_store(&h->slots[slot], atomic_load(&h->epoch));
	if (atomic_load_explicit(&h->nretired, memory_order_relaxed)) {
		pthread_mutex_lock(&h->mu);
		reclaim(h);
		pthread_mutex_unlock(&h->mu);
	}
}

void tern__hooks_online(tern__hooks *h, size_t slot)
{
	atomic_store(&h->slots[slot], atomic_load(&h->epoch));
}

void tern__hooks_offline(tern__hooks *h, size_t slot)
{
	atomic_store(&h->slots[slot], TERN__HOOKS_OFFLINE);
}

void tern__hooks_enter_shared(tern__hooks *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->nshared++ == 0)
		tern__hooks_online(h, h->nslots - 1);
	pthread_mutex_unlock(&h->mu);
}

void tern__hooks_leave_shared(tern__hooks *h)
{
	pthread_mutex_lock(&h->mu);
	if (--h->nshared == 0)
		tern__hooks_offline(h, h->nslots - 1);
	pthread_mutex_unlock(&h->mu);
}

size_t tern__hooks_resume_at(const tern__hook_list *l, void (*fn)(void),
			     void *ud, size_t idx)
{
	if (!l)
		return 0;
	if (idx < l->n && l->v[idx].fn == fn && l->v[idx].ud == ud)
		return idx + 1;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].fn == fn && l->v[i].ud == ud)
			return i + 1;
	return idx < l->n ? idx : l->n;
}

/* ---- public registration ---------------------------------------------- */

#define ADD(point) \
	tern__hooks_add(&r->hooks, point, owner, (void (*)(void))fn, ud)

int tern_on_reject_connection(tern_relay *r, const void *owner,
			      tern_reject_connection_fn fn, void *ud)
{
	return ADD(TERN__H_REJECT_CONN);
}

int tern_on_connect(tern_relay *r, const void *owner, tern_on_connect_fn fn,
		    void *ud)
{
	return ADD(TERN__H_CONNECT);
}

int tern_on_disconnect(tern_relay *r, const void *owner,
		       tern_on_disconnect_fn fn, void *ud)
{
	return ADD(TERN__H_DISCONNECT);
}

int tern_on_reject_event(tern_relay *r, const void *owner,
			 tern_reject_event_fn fn, void *ud)
{
	return ADD(TERN__H_REJECT_EVENT);
}

int tern_on_overwrite_deletion_outcome(tern_relay *r, const void *owner,
				       tern_overwrite_deletion_outcome_fn fn,
				       void *ud)
{
	return ADD(TERN__H_DELETION_OUTCOME);
}

int tern_on_event_saved(tern_relay *r, const void *owner,
			tern_on_event_saved_fn fn, void *ud)
{
	return ADD(TERN__H_EVENT_SAVED);
}

int tern_on_ephemeral_event(tern_relay *r, const void *owner,
			    tern_on_ephemeral_event_fn fn, void *ud)
{
	return ADD(TERN__H_EPHEMERAL);
}

int tern_on_reject_filter(tern_relay *r, const void *owner,
			  tern_reject_filter_fn fn, void *ud)
{
	return ADD(TERN__H_REJECT_FILTER);
}

int tern_on_reject_count_filter(tern_relay *r, const void *owner,
				tern_reject_filter_fn fn, void *ud)
{
	return ADD(TERN__H_REJECT_COUNT_FILTER);
}

int tern_on_overwrite_filter(tern_relay *r, const void *owner,
			     tern_overwrite_filter_fn fn, void *ud)
{
	return ADD(TERN__H_OVERWRITE_FILTER);
}

int tern_on_overwrite_count_filter(tern_relay *r, const void *owner,
				   tern_overwrite_count_filter_fn fn,
				   void *ud)
{
	return ADD(TERN__H_OVERWRITE_COUNT_FILTER);
}

int tern_on_auth(tern_relay *r, const void *owner, tern_on_auth_fn fn,
		 void *ud)
{
	return ADD(TERN__H_AUTH);
}

int tern_on_http_request(tern_relay *r, const void *owner,
			 tern_http_handler_fn fn, void *ud)
{
	return ADD(TERN__H_HTTP_REQUEST);
}

int tern_on_prevent_broadcast(tern_relay *r, const void *owner,
			      tern_prevent_broadcast_fn fn, void *ud)
{
	return ADD(TERN__H_PREVENT_BROADCAST);
}

int tern_on_overwrite_response_event(tern_relay *r, const void *owner,
				     tern_overwrite_response_event_fn fn,
				     void *ud)
{
	return ADD(TERN__H_OVERWRITE_RESPONSE);
}

int tern_on_overwrite_relay_information(tern_relay *r, const void *owner,
					tern_overwrite_relay_information_fn fn,
					void *ud)
{
	return ADD(TERN__H_RELAY_INFO);
}

void tern_hooks_remove_owner(tern_relay *r, const void *owner)
{
	tern__hooks_remove_owner(&r->hooks, owner);
	/* NULL-safe: no management API, nothing more to remove. */
	tern_manage_remove_owner(r->manage, owner);
}
