/*
 * Event policies as reject-event hooks (include/tern/policy.h): each
 * constructor copies its parameters into a small state, keeps it in the
 * registry and registers a thin adapter around a decision of events.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/error.h>
#include <tern/policy.h>

#include "policy/events.h"
#include "policy/ratelimit.h"
#include "policy/registry.h"

static tern_verdict verdict(bool reject)
{
	return reject ? TERN_REJECT : TERN_PASS;
}

/* Keeps st (may be NULL for a stateless policy) and registers fn. */
static int add(tern_relay *r, const void *owner, tern_reject_event_fn fn,
	       void *st, void (*free_fn)(void *))
{
	int rc;

	if (st) {
		rc = tern__registry_keep(r, owner, st, free_fn);
		if (rc)
			return rc;
	}
	return tern_on_reject_event(r, owner, fn, st);
}

/* ---- indexable tags ------------------------------------------------------- */

typedef struct tags_state {
	uint32_t max;
	tern__kindset ignore, only;
} tags_state;

static tern_verdict too_many_tags(void *ud, tern_ctx *x, const tern_event *ev,
				  tern_reason *why)
{
	const tags_state *s = ud;

	return verdict(tern__events_too_many_indexable_tags(ev, s->max,
							     &s->ignore,
							     &s->only, why));
}

int tern_policy_prevent_too_many_indexable_tags(
	tern_relay *r, const void *owner, uint32_t max,
	const uint32_t *ignore_kinds, size_t n_ignore,
	const uint32_t *only_kinds, size_t n_only)
{
	tags_state *s;

	if (!r)
		return TERN_EINVAL;
	s = malloc(sizeof *s);
	if (!s)
		return TERN_ENOMEM;
	s->max = max;
	if (tern__kindset_init(&s->ignore, ignore_kinds, n_ignore) ||
	    tern__kindset_init(&s->only, only_kinds, n_only)) {
		free(s);
		return TERN_EINVAL;
	}
	return add(r, owner, too_many_tags, s, free);
}

/* ---- tag values, kinds, timestamps, content ------------------------------- */

typedef struct num_state {
	uint64_t n;
} num_state;

static int add_num(tern_relay *r, const void *owner, tern_reject_event_fn fn,
		   uint64_t n)
{
	num_state *s;

	if (!r)
		return TERN_EINVAL;
	s = malloc(sizeof *s);
	if (!s)
		return TERN_ENOMEM;
	s->n = n;
	return add(r, owner, fn, s, free);
}

static tern_verdict large_tags(void *ud, tern_ctx *x, const tern_event *ev,
			       tern_reason *why)
{
	return verdict(tern__events_large_tags(
		ev, (uint32_t)((const num_state *)ud)->n, why));
}

int tern_policy_prevent_large_tags(tern_relay *r, const void *owner,
				   uint32_t max_value_len)
{
	return add_num(r, owner, large_tags, max_value_len);
}

typedef struct kinds_state {
	bool allow_ephemeral;
	tern__kindset kinds;
} kinds_state;

static tern_verdict kind_allowed(void *ud, tern_ctx *x, const tern_event *ev,
				 tern_reason *why)
{
	const kinds_state *s = ud;

	return verdict(tern__events_kind_not_allowed(ev, &s->kinds,
						     s->allow_ephemeral, why));
}

int tern_policy_restrict_to_specified_kinds(tern_relay *r, const void *owner,
					    bool allow_ephemeral,
					    const uint32_t *kinds, size_t n)
{
	kinds_state *s;

	if (!r || !n)
		return TERN_EINVAL;
	s = malloc(sizeof *s);
	if (!s)
		return TERN_ENOMEM;
	s->allow_ephemeral = allow_ephemeral;
	if (tern__kindset_init(&s->kinds, kinds, n)) {
		free(s);
		return TERN_EINVAL;
	}
	return add(r, owner, kind_allowed, s, free);
}

static uint64_t wall_now(void)
{
	time_t t = time(NULL);

	return t > 0 ? (uint64_t)t : 0;
}

static tern_verdict too_old(void *ud, tern_ctx *x, const tern_event *ev,
			    tern_reason *why)
{
	return verdict(tern__events_too_old(ev, ((const num_state *)ud)->n,
					    wall_now(), why));
}

static tern_verdict too_far_ahead(void *ud, tern_ctx *x, const tern_event *ev,
				  tern_reason *why)
{
	return verdict(tern__events_too_far_ahead(
		ev, ((const num_state *)ud)->n, wall_now(), why));
}

int tern_policy_prevent_timestamps_in_the_past(tern_relay *r,
					       const void *owner,
					       uint64_t seconds)
{
	return seconds ? add_num(r, owner, too_old, seconds) : TERN_EINVAL;
}

int tern_policy_prevent_timestamps_in_the_future(tern_relay *r,
						 const void *owner,
						 uint64_t seconds)
{
	return seconds ? add_num(r, owner, too_far_ahead, seconds)
		       : TERN_EINVAL;
}

static tern_verdict low_pow(void *ud, tern_ctx *x, const tern_event *ev,
			    tern_reason *why)
{
	return verdict(tern__events_low_pow(
		ev, (uint32_t)((const num_state *)ud)->n, why));
}

int tern_policy_min_pow(tern_relay *r, const void *owner, uint32_t bits)
{
	if (bits < 1 || bits > 256)
		return TERN_EINVAL;
	return add_num(r, owner, low_pow, bits);
}

static tern_verdict content_too_long(void *ud, tern_ctx *x,
				     const tern_event *ev, tern_reason *why)
{
	return verdict(tern__events_content_too_long(
		ev, (uint32_t)((const num_state *)ud)->n, why));
}

int tern_policy_max_content_length(tern_relay *r, const void *owner,
				   uint32_t max)
{
	return add_num(r, owner, content_too_long, max);
}

/* ---- stateless ------------------------------------------------------------ */

static tern_verdict base64_media(void *ud, tern_ctx *x, const tern_event *ev,
				 tern_reason *why)
{
	return verdict(tern__events_base64_media(ev, why));
}

static tern_verdict unprotected(void *ud, tern_ctx *x, const tern_event *ev,
				tern_reason *why)
{
	return verdict(tern__events_unprotected(ev, why));
}

static tern_verdict invalid_for_kind(void *ud, tern_ctx *x,
				     const tern_event *ev, tern_reason *why)
{
	return verdict(tern__events_invalid_for_kind(ev, why));
}

int tern_policy_reject_events_with_base64_media(tern_relay *r,
						const void *owner)
{
	return r ? add(r, owner, base64_media, NULL, NULL) : TERN_EINVAL;
}

int tern_policy_only_allow_nip70_protected_events(tern_relay *r,
						  const void *owner)
{
	return r ? add(r, owner, unprotected, NULL, NULL) : TERN_EINVAL;
}

int tern_policy_validate_kind(tern_relay *r, const void *owner)
{
	return r ? add(r, owner, invalid_for_kind, NULL, NULL) : TERN_EINVAL;
}

/* ---- rate limiters ---------------------------------------------------------- */

static void free_limiter(void *p)
{
	tern__ratelimit_free(p);
}

static int add_limiter(tern_relay *r, const void *owner,
		       tern_reject_event_fn fn, const tern_policy_rate *rate)
{
	tern__ratelimit *rl;
	int rc;

	if (!r)
		return TERN_EINVAL;
	rc = tern__ratelimit_new(&rl, rate);
	return rc ? rc : add(r, owner, fn, rl, free_limiter);
}

static bool limited(tern__ratelimit *rl, uint64_t key, tern_reason *why)
{
	if (tern__ratelimit_take(rl, key, tern__ratelimit_now()))
		return false;
	tern_reason_set(why, TERN_PREFIX_RATE_LIMITED, "slow down, please");
	return true;
}

static tern_verdict ip_limit(void *ud, tern_ctx *x, const tern_event *ev,
			     tern_reason *why)
{
	const tern_conn *c = tern_ctx_conn(x);
	const char *ip = c ? tern_conn_ip(c) : NULL;

	if (!ip || !*ip)
		return TERN_PASS;
	return verdict(limited(ud, tern__ratelimit_key_ip(ud, ip), why));
}

static tern_verdict pubkey_limit(void *ud, tern_ctx *x, const tern_event *ev,
				 tern_reason *why)
{
	return verdict(limited(ud, tern__ratelimit_key(ud, ev->pubkey, 32),
			       why));
}

static tern_verdict authed_limit(void *ud, tern_ctx *x, const tern_event *ev,
				 tern_reason *why)
{
	const tern_conn *c = tern_ctx_conn(x);

	if (!c || !tern_conn_authed_count(c))
		return TERN_PASS;
	return verdict(limited(
		ud, tern__ratelimit_key(ud, tern_conn_authed_pubkey(c, 0), 32),
		why));
}

int tern_policy_event_ip_rate_limiter(tern_relay *r, const void *owner,
				      const tern_policy_rate *rate)
{
	return add_limiter(r, owner, ip_limit, rate);
}

int tern_policy_event_pubkey_rate_limiter(tern_relay *r, const void *owner,
					  const tern_policy_rate *rate)
{
	return add_limiter(r, owner, pubkey_limit, rate);
}

int tern_policy_event_authed_pubkey_rate_limiter(tern_relay *r,
						 const void *owner,
						 const tern_policy_rate *rate)
{
	return add_limiter(r, owner, authed_limit, rate);
}
