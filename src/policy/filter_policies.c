/*
 * Filter policies as reject-filter hooks and filter rewrites as
 * overwrite-filter hooks, each registered for REQ and for COUNT
 * (include/tern/policy.h), thin adapters around filters.c.
 */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/policy.h>

#include "policy/filters.h"
#include "policy/ratelimit.h"
#include "policy/registry.h"

static tern_verdict verdict(bool reject)
{
	return reject ? TERN_REJECT : TERN_PASS;
}

/* Keeps st (may be NULL) and registers fn for REQ and for COUNT. */
static int add(tern_relay *r, const void *owner, tern_reject_filter_fn fn,
	       void *st, void (*free_fn)(void *))
{
	int rc;

	if (!r) {
		if (st)
			free_fn(st);
		return TERN_EINVAL;
	}
	if (st) {
		rc = tern__registry_keep(r, owner, st, free_fn);
		if (rc)
			return rc;
	}
	rc = tern_on_reject_filter(r, owner, fn, st);
	return rc ? rc : tern_on_reject_count_filter(r, owner, fn, st);
}

static tern_verdict complex(void *ud, tern_ctx *x, const tern_filter *f,
			    tern_reason *why)
{
	return verdict(tern__filters_complex(f, why));
}

static tern_verdict empty(void *ud, tern_ctx *x, const tern_filter *f,
			  tern_reason *why)
{
	return verdict(tern__filters_empty(f, why));
}

static tern_verdict sync_bot(void *ud, tern_ctx *x, const tern_filter *f,
			     tern_reason *why)
{
	return verdict(tern__filters_sync_bot(f, why));
}

static tern_verdict search(void *ud, tern_ctx *x, const tern_filter *f,
			   tern_reason *why)
{
	return verdict(tern__filters_search(f, why));
}

static tern_verdict must_auth(void *ud, tern_ctx *x, const tern_filter *f,
			      tern_reason *why)
{
	const tern_conn *c = tern_ctx_conn(x);

	return c ? verdict(tern__filters_unauthed(tern_conn_authed_count(c),
						  why))
		 : TERN_PASS;
}

static bool conn_authed_as(const void *ctx, const uint8_t pk[32])
{
	return tern_conn_is_authed_as(ctx, pk);
}

static tern_verdict kind4(void *ud, tern_ctx *x, const tern_filter *f,
			  tern_reason *why)
{
	const tern_conn *c = tern_ctx_conn(x);

	if (!c)
		return TERN_PASS;
	return verdict(tern__filters_kind4_snooper(
		f, tern_conn_authed_count(c), conn_authed_as, c, why));
}

int tern_policy_no_complex_filters(tern_relay *r, const void *owner)
{
	return add(r, owner, complex, NULL, NULL);
}

int tern_policy_must_auth(tern_relay *r, const void *owner)
{
	return add(r, owner, must_auth, NULL, NULL);
}

int tern_policy_no_empty_filters(tern_relay *r, const void *owner)
{
	return add(r, owner, empty, NULL, NULL);
}

int tern_policy_anti_sync_bots(tern_relay *r, const void *owner)
{
	return add(r, owner, sync_bot, NULL, NULL);
}

int tern_policy_no_search_queries(tern_relay *r, const void *owner)
{
	return add(r, owner, search, NULL, NULL);
}

int tern_policy_reject_kind4_snoopers(tern_relay *r, const void *owner)
{
	return add(r, owner, kind4, NULL, NULL);
}

/* ---- rate limiter ------------------------------------------------------------ */

static void free_limiter(void *p)
{
	tern__ratelimit_free(p);
}

static tern_verdict ip_limit(void *ud, tern_ctx *x, const tern_filter *f,
			     tern_reason *why)
{
	const tern_conn *c = tern_ctx_conn(x);
	const char *ip = c ? tern_conn_ip(c) : NULL;

	if (!ip || !*ip ||
	    tern__ratelimit_take(ud, tern__ratelimit_key_ip(ud, ip),
				 tern__ratelimit_now()))
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_RATE_LIMITED,
			"there is a bug in the client, no one should be "
			"making so many requests");
	return TERN_REJECT;
}

int tern_policy_filter_ip_rate_limiter(tern_relay *r, const void *owner,
				       const tern_policy_rate *rate)
{
	tern__ratelimit *rl;
	int rc;

	if (!r)
		return TERN_EINVAL;
	rc = tern__ratelimit_new(&rl, rate);
	return rc ? rc : add(r, owner, ip_limit, rl, free_limiter);
}

/* ---- rewrites ------------------------------------------------------------------ */

/* Keeps st (may be NULL) and registers fn for REQ and for COUNT, so that
 * a COUNT is narrowed as the REQ with the same filters would be. */
static int add_rewrite(tern_relay *r, const void *owner,
		       tern_overwrite_filter_fn fn, void *st)
{
	int rc;

	if (!r) {
		free(st);
		return TERN_EINVAL;
	}
	if (st) {
		rc = tern__registry_keep(r, owner, st, free);
		if (rc)
			return rc;
	}
	rc = tern_on_overwrite_filter(r, owner, fn, st);
	return rc ? rc : tern_on_overwrite_count_filter(r, owner, fn, st);
}

static void remove_search(void *ud, tern_ctx *x, tern_filter *f,
			  tern_arena *a, bool *live_only)
{
	tern__filters_remove_search(f);
}

/*
 * Out of arena memory the filter cannot be narrowed; it is made to match
 * nothing rather than served wider than the operator asked.
 */
static void keep_kinds(void *ud, tern_ctx *x, tern_filter *f, tern_arena *a,
		       bool *live_only)
{
	static const uint16_t none[1];

	if (tern__filters_keep_kinds(f, ud, a)) {
		f->kinds = none;
		f->nkinds = 0;
		f->since = UINT64_MAX;
		f->until = 0;
	}
}

static void keep_tags(void *ud, tern_ctx *x, tern_filter *f, tern_arena *a,
		      bool *live_only)
{
	static const uint16_t none[1];

	if (tern__filters_keep_tags(f, ud, a)) {
		f->kinds = none;
		f->nkinds = 0;
		f->since = UINT64_MAX;
		f->until = 0;
	}
}

int tern_policy_remove_search_queries(tern_relay *r, const void *owner)
{
	return add_rewrite(r, owner, remove_search, NULL);
}

int tern_policy_remove_all_but_kinds(tern_relay *r, const void *owner,
				     const uint32_t *kinds, size_t n)
{
	tern__kindset *s;

	if (!r || !n)
		return TERN_EINVAL;
	s = malloc(sizeof *s);
	if (!s)
		return TERN_ENOMEM;
	if (tern__kindset_init(s, kinds, n)) {
		free(s);
		return TERN_EINVAL;
	}
	return add_rewrite(r, owner, keep_kinds, s);
}

int tern_policy_remove_all_but_tags(tern_relay *r, const void *owner,
				    const char *names)
{
	bool *keep;

	if (!r || !names)
		return TERN_EINVAL;
	for (const char *p = names; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return TERN_EINVAL;
	keep = calloc(128, sizeof *keep);
	if (!keep)
		return TERN_ENOMEM;
	for (const char *p = names; *p; p++)
		keep[(unsigned char)*p] = true;
	return add_rewrite(r, owner, keep_tags, keep);
}
