/* The connection rate limiter: a reject-connection hook (policy.h). */
#include <tern/error.h>
#include <tern/policy.h>

#include "policy/ratelimit.h"
#include "policy/registry.h"

static void free_limiter(void *p)
{
	tern__ratelimit_free(p);
}

static tern_verdict conn_limit(void *ud, tern_ctx *x, tern_reason *why)
{
	const tern_conn *c = tern_ctx_conn(x);
	const char *ip = c ? tern_conn_ip(c) : NULL;

	if (!ip || !*ip ||
	    tern__ratelimit_take(ud, tern__ratelimit_key_ip(ud, ip),
				 tern__ratelimit_now()))
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_RATE_LIMITED, "too many connections");
	return TERN_REJECT;
}

int tern_policy_connection_rate_limiter(tern_relay *r, const void *owner,
					const tern_policy_rate *rate)
{
	tern__ratelimit *rl;
	int rc;

	if (!r)
		return TERN_EINVAL;
	rc = tern__ratelimit_new(&rl, rate);
	if (rc)
		return rc;
	rc = tern__registry_keep(r, owner, rl, free_limiter);
	return rc ? rc : tern_on_reject_connection(r, owner, conn_limit, rl);
}
