/* Hook contexts, connection accessors, deferrals and runners (ctx.h). */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/log.h>

#include "relay/conn.h"
#include "relay/ctx.h"
#include "relay/inject.h"
#include "relay/io.h"
#include "relay/relay.h"
#include "relay/session.h"

/* ---- tern_ctx --------------------------------------------------------- */

tern_relay *tern_ctx_relay(const tern_ctx *x)
{
	return x->r;
}

tern_conn *tern_ctx_conn(const tern_ctx *x)
{
	return x->c ? tern__conn_pub(x->c) : NULL;
}

bool tern_ctx_is_internal(const tern_ctx *x)
{
	return x->c == NULL;
}

tern_slice tern_ctx_sub_id(const tern_ctx *x)
{
	return x->sub;
}

tern_deferral *tern_ctx_defer(tern_ctx *x)
{
	tern__defer_req *dr = x->dreq;
	tern_deferral *d;

	if (!dr)
		return NULL;
	if (dr->d)
		return dr->d;
	d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->io = dr->io;
	d->c = dr->c;
	d->inj = dr->inj;
	d->kind = dr->kind;
	d->rel = dr->rel;
	atomic_init(&d->completed, false);
	if (dr->kind == TERN__DEFER_EVENT) {
		/* The event is parsed again from this copy on resume. */
		d->json = tern__rbuf_dup(dr->ev->json.p, dr->ev->json.n);
		if (!d->json) {
			free(d);
			return NULL;
		}
	}
	dr->d = d;
	return d;
}

void tern__deferral_free(tern_deferral *d)
{
	if (!d)
		return;
	tern__rbuf_unref(d->json);
	free(d);
}

void tern_deferral_complete(tern_deferral *d, tern_verdict v,
			    const tern_reason *why)
{
	if (!d)
		return;
	if (atomic_exchange(&d->completed, true)) {
		tern_log(TERN_LOG_ERROR, "hooks", "deferral completed twice");
		return;
	}
	if (v != TERN_PASS && v != TERN_ACCEPT && v != TERN_REJECT &&
	    v != TERN_SHADOW_REJECT) {
		v = TERN_REJECT;
		tern_reason_set(&d->why, TERN_PREFIX_ERROR,
				"invalid deferred verdict");
		why = NULL;
	} else if (why) {
		d->why = *why;
	}
	if (v == TERN_REJECT && d->why.prefix == TERN_PREFIX_NONE)
		d->why.prefix = TERN_PREFIX_BLOCKED;
	d->v = v;
	if (tern__io_post(d->io, TERN__IO_DEFERRAL, d))
		return;
	/* The I/O thread has ended: its connections are gone. */
	if (d->inj) {
		tern_reason r;

		tern_reason_set(&r, TERN_PREFIX_ERROR, "relay is shutting down");
		tern__inject_done(d->inj, false, &r);
	}
	tern__deferral_free(d);
}

void tern__deferral_resume(tern_deferral *d)
{
	if (d->kind == TERN__DEFER_CONN)
		tern__conn_deferral_resume(d);
	else
		tern__session_deferral_resume(d);
}

/* ---- tern_conn -------------------------------------------------------- */

const char *tern_conn_ip(const tern_conn *pc)
{
	return tern__conn_of(pc)->ip;
}

uint64_t tern_conn_id(const tern_conn *pc)
{
	return tern__conn_of(pc)->serial;
}

size_t tern_conn_authed_count(const tern_conn *pc)
{
	return tern__conn_of(pc)->sess.auth.npubkeys;
}

const uint8_t *tern_conn_authed_pubkey(const tern_conn *pc, size_t i)
{
	const tern__auth *a = &tern__conn_of(pc)->sess.auth;

	return i < a->npubkeys ? a->pubkeys[i] : NULL;
}

bool tern_conn_is_authed_as(const tern_conn *pc, const uint8_t pubkey[32])
{
	return tern__auth_has(&tern__conn_of(pc)->sess.auth, pubkey);
}

void tern_conn_request_auth(tern_conn *pc)
{
	tern__conn *c = tern__conn_of(pc);

	if (tern__conn_open(c))
		tern__session_send_auth(c);
}

void *tern_conn_user_data(const tern_conn *pc)
{
	return tern__conn_of(pc)->hk.ud;
}

void tern_conn_set_user_data(tern_conn *pc, void *data,
			     void (*free_fn)(void *))
{
	tern__conn_hooks *hk = &tern__conn_of(pc)->hk;

	hk->ud = data;
	hk->ud_free = free_fn;
}

void tern__conn_hooks_free(tern__conn_hooks *hk)
{
	void (*fn)(void *) = hk->ud_free;
	void *ud = hk->ud;

	hk->ud = NULL;
	hk->ud_free = NULL;
	if (fn)
		fn(ud);
	free(hk->saved);
	hk->saved = NULL;
	hk->nsaved = 0;
}

/* ---- runners ---------------------------------------------------------- */

#define FOREACH(l, k) \
	for (const tern__hook *k = (l)->v; k < (l)->v + (l)->n; k++)

/* A rejection without a prefix is "blocked". */
static tern_verdict rejected(tern_reason *why, tern_verdict v)
{
	if (why->prefix == TERN_PREFIX_NONE && v == TERN_REJECT)
		why->prefix = TERN_PREFIX_BLOCKED;
	return v;
}

/* What a deferrable chain does with hook k's verdict v. Returns true to
 * stop with *out. */
static bool chain_step(const tern__hook_list *l, size_t i,
		       tern__defer_req *dr, tern_verdict v, tern_reason *why,
		       tern_verdict *out, tern_deferral **d)
{
	if (dr->d) {
		/* A hook that asked for a deferral gives its verdict later,
		 * whatever it returned now. */
		dr->d->fn = l->v[i].fn;
		dr->d->ud = l->v[i].ud;
		dr->d->idx = i;
		*d = dr->d;
		*out = TERN_DEFER;
		return true;
	}
	switch (v) {
	case TERN_PASS:
		return false;
	case TERN_DEFER:
		tern_reason_set(why, TERN_PREFIX_ERROR,
				"a hook deferred without a deferral");
		*out = TERN_REJECT;
		return true;
	case TERN_ACCEPT:
		*out = TERN_ACCEPT;
		return true;
	case TERN_SHADOW_REJECT:
		*out = dr->kind == TERN__DEFER_EVENT ? TERN_SHADOW_REJECT
						     : rejected(why, TERN_REJECT);
		return true;
	default:
		*out = rejected(why, TERN_REJECT);
		return true;
	}
}

tern_verdict tern__run_reject_conn(tern_relay *r, tern__io *io, tern__conn *c,
				   const tern_deferral *from,
				   tern_reason *why, tern_deferral **d)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks,
						   TERN__H_REJECT_CONN);
	tern__defer_req dr = { TERN__DEFER_CONN, io, c, NULL, NULL, NULL,
			       0 };
	tern_ctx x = { r, c, { NULL, 0 }, &dr };
	tern_verdict out;
	size_t i;

	*d = NULL;
	if (!l)
		return TERN_PASS;
	i = from ? tern__hooks_resume_at(l, from->fn, from->ud, from->idx) : 0;
	for (; i < l->n; i++) {
		tern_verdict v = ((tern_reject_connection_fn)l->v[i].fn)(
			l->v[i].ud, &x, why);

		if (chain_step(l, i, &dr, v, why, &out, d))
			return out;
	}
	return TERN_PASS;
}

tern_verdict tern__run_reject_event(tern_relay *r, tern__io *io,
				    tern__conn *c, tern__inject *inj,
				    const tern_event *ev,
				    const tern_deferral *from, tern_reason *why,
				    tern_deferral **d)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks,
						   TERN__H_REJECT_EVENT);
	tern__defer_req dr = { TERN__DEFER_EVENT, io, c, inj, ev, NULL,
			       r->route_idx };
	tern_ctx x = { r, c, { NULL, 0 }, &dr };
	tern_verdict out;
	size_t i;

	*d = NULL;
	if (!l)
		return TERN_PASS;
	i = from ? tern__hooks_resume_at(l, from->fn, from->ud, from->idx) : 0;
	for (; i < l->n; i++) {
		tern_verdict v = ((tern_reject_event_fn)l->v[i].fn)(
			l->v[i].ud, &x, ev, why);

		if (chain_step(l, i, &dr, v, why, &out, d))
			return out;
	}
	return TERN_PASS;
}

static void run_conn_list(tern_relay *r, tern__conn *c, tern__hook_point p)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks, p);
	tern_ctx x = { r, c, { NULL, 0 }, NULL };

	if (!l)
		return;
	FOREACH(l, k)
		((tern_on_connect_fn)k->fn)(k->ud, &x);
}

void tern__run_connect(tern_relay *r, tern__conn *c)
{
	run_conn_list(r, c, TERN__H_CONNECT);
}

void tern__run_disconnect(tern_relay *r, tern__conn *c)
{
	run_conn_list(r, c, TERN__H_DISCONNECT);
}

static void run_event_list(tern_relay *r, tern__conn *c, tern__hook_point p,
			   const tern_event *ev)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks, p);
	tern_ctx x = { r, c, { NULL, 0 }, NULL };

	if (!l)
		return;
	FOREACH(l, k)
		((tern_on_event_saved_fn)k->fn)(k->ud, &x, ev);
}

void tern__run_event_saved(tern_relay *r, tern__conn *c,
			   const tern_event *ev)
{
	run_event_list(r, c, TERN__H_EVENT_SAVED, ev);
}

void tern__run_ephemeral(tern_relay *r, tern__conn *c, const tern_event *ev)
{
	run_event_list(r, c, TERN__H_EPHEMERAL, ev);
}

bool tern__run_reject_filter(tern_relay *r, tern__conn *c, tern_slice sub,
			     const tern_filter *f, bool count,
			     tern_reason *why)
{
	const tern__hook_list *l = tern__hooks_get(
		&r->hooks, count ? TERN__H_REJECT_COUNT_FILTER
				 : TERN__H_REJECT_FILTER);
	tern_ctx x = { r, c, sub, NULL };

	if (!l)
		return false;
	FOREACH(l, k) {
		tern_verdict v = ((tern_reject_filter_fn)k->fn)(k->ud, &x, f,
								 why);

		if (v == TERN_ACCEPT)
			return false;
		if (v != TERN_PASS) {
			if (v == TERN_DEFER)
				tern_reason_set(why, TERN_PREFIX_ERROR,
						"filters cannot be deferred");
			rejected(why, TERN_REJECT);
			return true;
		}
	}
	return false;
}

void tern__run_overwrite_filter(tern_relay *r, tern__conn *c, tern_slice sub,
				tern_filter *f, bool count, tern_arena *a,
				bool *live_only)
{
	const tern__hook_list *l = tern__hooks_get(
		&r->hooks, count ? TERN__H_OVERWRITE_COUNT_FILTER
				 : TERN__H_OVERWRITE_FILTER);
	tern_ctx x = { r, c, sub, NULL };

	if (!l)
		return;
	FOREACH(l, k)
		((tern_overwrite_filter_fn)k->fn)(k->ud, &x, f, a, live_only);
}

void tern__run_auth(tern_relay *r, tern__conn *c, const uint8_t pubkey[32])
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks, TERN__H_AUTH);
	tern_ctx x = { r, c, { NULL, 0 }, NULL };

	if (!l)
		return;
	FOREACH(l, k)
		((tern_on_auth_fn)k->fn)(k->ud, &x, pubkey);
}

bool tern__run_prevent_broadcast(tern_relay *r, tern__conn *c,
				 tern_slice sub, const tern_event *ev)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks,
						   TERN__H_PREVENT_BROADCAST);
	tern_ctx x = { r, c, sub, NULL };

	if (!l)
		return false;
	FOREACH(l, k)
		if (((tern_prevent_broadcast_fn)k->fn)(k->ud, &x, ev))
			return true;
	return false;
}

bool tern__run_overwrite_response(tern_relay *r, tern__conn *c,
				  tern_slice sub, const tern_event *ev,
				  tern_slice *json, tern_arena *a)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks,
						   TERN__H_OVERWRITE_RESPONSE);
	tern_ctx x = { r, c, sub, NULL };
	bool changed = false;

	if (!l)
		return false;
	FOREACH(l, k) {
		tern_slice j = *json;

		if (((tern_overwrite_response_event_fn)k->fn)(k->ud, &x, ev,
							      &j, a) &&
		    j.p) {
			*json = j;
			changed = true;
		}
	}
	return changed;
}

void tern__run_relay_info(tern_relay *r, tern__conn *c, tern_relay_info *info)
{
	const tern__hook_list *l = tern__hooks_get(&r->hooks,
						   TERN__H_RELAY_INFO);
	tern_ctx x = { r, c, { NULL, 0 }, NULL };

	if (!l)
		return;
	FOREACH(l, k)
		((tern_overwrite_relay_information_fn)k->fn)(k->ud, &x, info);
}

bool tern__run_deletion_outcome(void *ctx, const tern_event *target,
				const tern_event *deletion)
{
	tern_relay *r = ctx;
	tern__io *io = tern__io_current();
	/* An I/O thread of r, or of r's router (a backend saving in save),
	 * is online already; any other thread (a store's writer) takes the
	 * shared slot, which several may hold at once. */
	bool shared = !io || io->r != tern__relay_runner(r);
	const tern__hook_list *l;
	bool remove = true;

	if (shared)
		tern__hooks_enter_shared(&r->hooks);
	l = tern__hooks_get(&r->hooks, TERN__H_DELETION_OUTCOME);
	if (l)
		FOREACH(l, k)
			if (!((tern_overwrite_deletion_outcome_fn)k->fn)(
				    k->ud, target, deletion)) {
				remove = false;
				break;
			}
	if (shared)
		tern__hooks_leave_shared(&r->hooks);
	return remove;
}

bool tern__deletion_outcome_wanted(void *ctx)
{
	tern_relay *r = ctx;

	return tern__hooks_any(&r->hooks, TERN__H_DELETION_OUTCOME);
}

void tern__relay_deletion_outcome(tern_relay *r, const tern_backend_ops *ops,
				  void *self, bool on)
{
	tern_deletion_outcome o = { tern__run_deletion_outcome,
				    tern__deletion_outcome_wanted, r };

	if (ops && ops->set_deletion_outcome)
		ops->set_deletion_outcome(self, on ? &o : NULL);
}
