/*
 * Policy sets: tern_policy_apply_defaults() and the relay.policies
 * switches of `tern serve` (tern_policy_apply_config()).
 */
#include <tern/error.h>
#include <tern/policy.h>

const char tern_policy_owner_defaults[] = "tern-policy-defaults";
const char tern_policy_owner_config[] = "tern-policy-config";

/*
 * The numbers are khatru's ApplySaneDefaults, which relays in the wild
 * have run with for years: generous enough for people (10 events at once,
 * then one every 90 s; 100 REQ filters at once, then one every 3 s; 100
 * connections at once from one IP, then one every 5 minutes), and tight
 * enough that a single address cannot flood the relay.
 */
static int apply_defaults(tern_relay *r, const void *owner)
{
	static const tern_policy_rate events = { 2, 180, 10, 0 };
	static const tern_policy_rate filters = { 20, 60, 100, 0 };
	static const tern_policy_rate conns = { 1, 300, 100, 0 };
	int rc;

	if ((rc = tern_policy_reject_events_with_base64_media(r, owner)) ||
	    (rc = tern_policy_event_ip_rate_limiter(r, owner, &events)) ||
	    (rc = tern_policy_no_complex_filters(r, owner)) ||
	    (rc = tern_policy_filter_ip_rate_limiter(r, owner, &filters)) ||
	    (rc = tern_policy_connection_rate_limiter(r, owner, &conns)))
		return rc;
	return 0;
}

int tern_policy_apply_defaults(tern_relay *r)
{
	if (!r)
		return TERN_EINVAL;
	return apply_defaults(r, tern_policy_owner_defaults);
}

/* A configured rate, or false when it is off. */
static bool rate_of(const tern_config_rate *c, uint32_t keys,
		    tern_policy_rate *out)
{
	if (!c->tokens_per_interval)
		return false;
	out->tokens_per_interval = c->tokens_per_interval;
	out->interval = c->interval;
	out->max_tokens = c->max_tokens ? c->max_tokens
					: c->tokens_per_interval;
	out->max_keys = keys;
	return true;
}

static int apply(tern_relay *r, const tern_config_policies *p)
{
	const void *o = tern_policy_owner_config;
	tern_policy_rate rate;
	int rc = 0;

#define TRY(call)                                                              \
	do {                                                                   \
		if ((rc = (call)))                                             \
			return rc;                                             \
	} while (0)

	if (p->apply_defaults)
		TRY(apply_defaults(r, o));
	if (rate_of(&p->connection_rate_limit, p->rate_limit_keys, &rate))
		TRY(tern_policy_connection_rate_limiter(r, o, &rate));

	/* events: cheap checks first, rate limiters last, so that a refused
	   event does not also cost a token */
	if (p->max_content_length)
		TRY(tern_policy_max_content_length(r, o, p->max_content_length));
	if (p->max_indexable_tags)
		TRY(tern_policy_prevent_too_many_indexable_tags(
			r, o, p->max_indexable_tags,
			p->max_indexable_tags_ignore_kinds,
			p->n_max_indexable_tags_ignore_kinds,
			p->max_indexable_tags_only_kinds,
			p->n_max_indexable_tags_only_kinds));
	if (p->max_tag_value_length)
		TRY(tern_policy_prevent_large_tags(r, o,
						   p->max_tag_value_length));
	if (p->n_allowed_kinds)
		TRY(tern_policy_restrict_to_specified_kinds(
			r, o, p->allow_ephemeral, p->allowed_kinds,
			p->n_allowed_kinds));
	if (p->max_past)
		TRY(tern_policy_prevent_timestamps_in_the_past(r, o,
							       p->max_past));
	if (p->max_future)
		TRY(tern_policy_prevent_timestamps_in_the_future(
			r, o, p->max_future));
	if (p->reject_base64_media)
		TRY(tern_policy_reject_events_with_base64_media(r, o));
	if (p->only_protected_events)
		TRY(tern_policy_only_allow_nip70_protected_events(r, o));
	if (p->validate_kind)
		TRY(tern_policy_validate_kind(r, o));
	if (p->min_pow)
		TRY(tern_policy_min_pow(r, o, p->min_pow));
	if (rate_of(&p->event_ip_rate_limit, p->rate_limit_keys, &rate))
		TRY(tern_policy_event_ip_rate_limiter(r, o, &rate));
	if (rate_of(&p->event_pubkey_rate_limit, p->rate_limit_keys, &rate))
		TRY(tern_policy_event_pubkey_rate_limiter(r, o, &rate));
	if (rate_of(&p->event_authed_rate_limit, p->rate_limit_keys, &rate))
		TRY(tern_policy_event_authed_pubkey_rate_limiter(r, o, &rate));

	/* filters: who may ask first, then what they ask, then how often */
	if (p->must_auth)
		TRY(tern_policy_must_auth(r, o));
	if (p->reject_kind4_snoopers)
		TRY(tern_policy_reject_kind4_snoopers(r, o));
	if (p->no_empty_filters)
		TRY(tern_policy_no_empty_filters(r, o));
	if (p->no_complex_filters)
		TRY(tern_policy_no_complex_filters(r, o));
	if (p->anti_sync_bots)
		TRY(tern_policy_anti_sync_bots(r, o));
	if (p->no_search_queries)
		TRY(tern_policy_no_search_queries(r, o));
	if (rate_of(&p->filter_ip_rate_limit, p->rate_limit_keys, &rate))
		TRY(tern_policy_filter_ip_rate_limiter(r, o, &rate));

	if (p->remove_search_queries)
		TRY(tern_policy_remove_search_queries(r, o));
	if (p->n_remove_all_but_kinds)
		TRY(tern_policy_remove_all_but_kinds(
			r, o, p->remove_all_but_kinds,
			p->n_remove_all_but_kinds));
	if (p->remove_all_but_tags && *p->remove_all_but_tags)
		TRY(tern_policy_remove_all_but_tags(r, o,
						    p->remove_all_but_tags));
#undef TRY
	return 0;
}

int tern_policy_apply_config(tern_relay *r, const tern_config *cfg)
{
	int rc;

	if (!r || !cfg)
		return TERN_EINVAL;
	tern_policy_remove(r, tern_policy_owner_config);
	rc = apply(r, &cfg->relay.policies);
	/* all or nothing: a half-applied configuration is not one the
	   operator wrote */
	if (rc)
		tern_policy_remove(r, tern_policy_owner_config);
	return rc;
}
