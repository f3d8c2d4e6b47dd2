/*
 * Unit tests for registering policies on a relay (the constructors of
 * src/policy, defaults.c, registry.c): parameters are checked, every
 * switch of relay.policies registers, and the state is released exactly
 * once (ASan would report a leak or a double free); the filter rewrites
 * are registered for REQ and for COUNT alike. What the registered
 * policies do on the wire is tests/integration/policies.test.mjs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <tern/arena.h>
#include <tern/config.h>
#include <tern/error.h>
#include <tern/filter.h>
#include <tern/policy.h>
#include <tern/relay.h>

#include "relay/hooks.h"
#include "relay/relay.h"

static tern_relay *relay;
static char dbdir[64];

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void setup(void)
{
	tern_config cfg;
	char err[256];

	strcpy(dbdir, "/tmp/tern-policy-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	tern_config_defaults(&cfg);
	cfg.relay.port = free_port();
	cfg.relay.io_threads = 1;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.store.dir = dbdir;
	cfg.store.no_sync = true;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
}

static void teardown(void)
{
	char cmd[128];

	tern_relay_free(relay);
	tern_policy_release(relay);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(policy_apply, .init = setup, .fini = teardown, .timeout = 30);

static const void *const me = "test";

Test(policy_apply, constructors_check_their_parameters)
{
	static const tern_policy_rate ok = { 1, 60, 5, 0 };
	static const uint32_t bad_kinds[] = { 1, 65536 };

	cr_expect_eq(tern_policy_validate_kind(NULL, me), TERN_EINVAL);
	cr_expect_eq(tern_policy_restrict_to_specified_kinds(relay, me, false,
							     NULL, 0),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_restrict_to_specified_kinds(relay, me, false,
							     bad_kinds, 2),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_prevent_too_many_indexable_tags(
			     relay, me, 5, bad_kinds, 2, NULL, 0),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_remove_all_but_kinds(relay, me, bad_kinds, 2),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_remove_all_but_tags(relay, me, "e1"),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_remove_all_but_tags(relay, me, NULL),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_min_pow(relay, me, 0), TERN_EINVAL);
	cr_expect_eq(tern_policy_min_pow(relay, me, 257), TERN_EINVAL);
	cr_expect_eq(tern_policy_prevent_timestamps_in_the_past(relay, me, 0),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_event_ip_rate_limiter(
			     relay, me, &(tern_policy_rate){ 0, 60, 5, 0 }),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_connection_rate_limiter(
			     relay, me, &(tern_policy_rate){ 1, 60, 5, 1u << 25 }),
		     TERN_EINVAL);
	cr_expect_eq(tern_policy_filter_ip_rate_limiter(NULL, me, &ok),
		     TERN_EINVAL);
	/* and the valid forms register */
	cr_expect_eq(tern_policy_restrict_to_specified_kinds(relay, me, true,
							     bad_kinds, 1), 0);
	cr_expect_eq(tern_policy_remove_all_but_tags(relay, me, ""), 0);
	cr_expect_eq(tern_policy_filter_ip_rate_limiter(relay, me, &ok), 0);
	tern_policy_remove(relay, me);
	tern_policy_remove(relay, me); /* nothing left: harmless */
}

Test(policy_apply, every_constructor_registers)
{
	static const tern_policy_rate rate = { 2, 60, 10, 1024 };
	static const uint32_t k[] = { 0, 1, 7 };

	cr_expect_eq(tern_policy_prevent_too_many_indexable_tags(relay, me, 50,
								  k, 1, NULL, 0), 0);
	cr_expect_eq(tern_policy_prevent_large_tags(relay, me, 100), 0);
	cr_expect_eq(tern_policy_restrict_to_specified_kinds(relay, me, false, k,
							     3), 0);
	cr_expect_eq(tern_policy_prevent_timestamps_in_the_past(relay, me, 60), 0);
	cr_expect_eq(tern_policy_prevent_timestamps_in_the_future(relay, me, 60),
		     0);
	cr_expect_eq(tern_policy_reject_events_with_base64_media(relay, me), 0);
	cr_expect_eq(tern_policy_only_allow_nip70_protected_events(relay, me), 0);
	cr_expect_eq(tern_policy_validate_kind(relay, me), 0);
	cr_expect_eq(tern_policy_min_pow(relay, me, 20), 0);
	cr_expect_eq(tern_policy_max_content_length(relay, me, 1000), 0);
	cr_expect_eq(tern_policy_event_ip_rate_limiter(relay, me, &rate), 0);
	cr_expect_eq(tern_policy_event_pubkey_rate_limiter(relay, me, &rate), 0);
	cr_expect_eq(tern_policy_event_authed_pubkey_rate_limiter(relay, me,
								  &rate), 0);
	cr_expect_eq(tern_policy_no_complex_filters(relay, me), 0);
	cr_expect_eq(tern_policy_must_auth(relay, me), 0);
	cr_expect_eq(tern_policy_no_empty_filters(relay, me), 0);
	cr_expect_eq(tern_policy_anti_sync_bots(relay, me), 0);
	cr_expect_eq(tern_policy_no_search_queries(relay, me), 0);
	cr_expect_eq(tern_policy_filter_ip_rate_limiter(relay, me, &rate), 0);
	cr_expect_eq(tern_policy_reject_kind4_snoopers(relay, me), 0);
	cr_expect_eq(tern_policy_remove_search_queries(relay, me), 0);
	cr_expect_eq(tern_policy_remove_all_but_kinds(relay, me, k, 3), 0);
	cr_expect_eq(tern_policy_remove_all_but_tags(relay, me, "ep"), 0);
	cr_expect_eq(tern_policy_connection_rate_limiter(relay, me, &rate), 0);
	cr_expect_eq(tern_policy_apply_defaults(relay), 0);
	cr_expect_eq(tern_policy_apply_defaults(NULL), TERN_EINVAL);
	/* the teardown's tern_policy_release() frees all of it */
}

Test(policy_apply, config_switches)
{
	static const uint32_t k[] = { 1, 7 };
	tern_config cfg;
	tern_config_policies *p = &cfg.relay.policies;
	char err[256];

	tern_config_defaults(&cfg);
	cr_expect_eq(tern_policy_apply_config(relay, &cfg), 0); /* all off */
	cr_expect_eq(tern_config_load_string(&cfg,
		"relay = { policies = { apply_defaults = true;"
		" rate_limit_keys = 512;"
		" connection_rate_limit = { tokens_per_interval = 1; };"
		" max_content_length = 100; max_indexable_tags = 10;"
		" max_indexable_tags_only_kinds = [1]; max_tag_value_length = 64;"
		" allowed_kinds = [0, 1]; allow_ephemeral = true;"
		" max_past = 60; max_future = 60; reject_base64_media = true;"
		" only_protected_events = true; validate_kind = true;"
		" min_pow = 4;"
		" event_ip_rate_limit = { tokens_per_interval = 1; };"
		" event_pubkey_rate_limit = { tokens_per_interval = 1; };"
		" event_authed_rate_limit = { tokens_per_interval = 1; };"
		" must_auth = true; reject_kind4_snoopers = true;"
		" no_empty_filters = true; no_complex_filters = true;"
		" anti_sync_bots = true; no_search_queries = true;"
		" filter_ip_rate_limit = { tokens_per_interval = 1; };"
		" remove_search_queries = true; remove_all_but_kinds = [1];"
		" remove_all_but_tags = [\"e\"]; }; };", NULL, err, sizeof err),
		0, "%s", err);
	cr_expect_eq(tern_policy_apply_config(relay, &cfg), 0);
	/* applying again replaces the first set */
	cr_expect_eq(tern_policy_apply_config(relay, &cfg), 0);

	/* an invalid value (assigned past the loader) registers nothing */
	p->allowed_kinds = (const uint32_t[]){ 70000 };
	p->n_allowed_kinds = 1;
	cr_expect_eq(tern_policy_apply_config(relay, &cfg), TERN_EINVAL);
	p->allowed_kinds = k;
	p->n_allowed_kinds = 2;
	cr_expect_eq(tern_policy_apply_config(relay, NULL), TERN_EINVAL);
	cr_expect_eq(tern_policy_apply_config(relay, &cfg), 0);
	tern_policy_remove(relay, tern_policy_owner_config);
	tern_config_free(&cfg);
}

/* The only hook of point p: its owner is me. */
static const tern__hook *only_hook(tern__hook_point p)
{
	const tern__hook_list *l = tern__hooks_get(&relay->hooks, p);

	cr_assert_not_null(l);
	cr_assert_eq(l->n, 1);
	cr_expect_eq(l->v[0].owner, me);
	return &l->v[0];
}

/* Runs the rewrite of a hook on the filter of json; returns the filter. */
static tern_filter rewrite(const tern__hook *h, const char *json,
			   tern_arena *a)
{
	tern_filter f;
	tern_reason why = { 0 };
	bool live_only = false;

	cr_assert_eq(tern_filter_parse(&f, (const uint8_t *)json, strlen(json),
				       NULL, a, &why), 0, "%s", why.msg);
	((tern_overwrite_filter_fn)h->fn)(h->ud, NULL, &f, a, &live_only);
	cr_expect_not(live_only);
	return f;
}

/*
 * Each rewrite policy puts one hook in the overwrite-filter list and the
 * same one (function and state) in the overwrite-count-filter list, so a
 * COUNT filter is narrowed as a REQ filter is; removing the owner empties
 * both lists.
 */
Test(policy_apply, rewrites_apply_to_req_and_count)
{
	static const uint32_t k[] = { 1, 7 };
	static const tern__hook_point pts[] = { TERN__H_OVERWRITE_FILTER,
						TERN__H_OVERWRITE_COUNT_FILTER };
	tern_arena a;
	tern_filter f;

	tern_arena_init(&a, 0);
	for (int which = 0; which < 3; which++) {
		const tern__hook *req, *count;

		switch (which) {
		case 0:
			cr_assert_eq(tern_policy_remove_search_queries(relay, me),
				     0);
			break;
		case 1:
			cr_assert_eq(tern_policy_remove_all_but_kinds(relay, me,
								      k, 2), 0);
			break;
		default:
			cr_assert_eq(tern_policy_remove_all_but_tags(relay, me,
								     "t"), 0);
			break;
		}
		req = only_hook(TERN__H_OVERWRITE_FILTER);
		count = only_hook(TERN__H_OVERWRITE_COUNT_FILTER);
		cr_expect_eq(req->fn, count->fn);
		cr_expect_eq(req->ud, count->ud);
		for (size_t i = 0; i < 2; i++) {
			const tern__hook *h = only_hook(pts[i]);

			switch (which) {
			case 0:
				f = rewrite(h, "{\"search\":\"x\",\"kinds\":[1]}",
					    &a);
				cr_expect_not(f.has_search);
				cr_expect_eq(f.nkinds, 1);
				break;
			case 1:
				f = rewrite(h, "{\"kinds\":[1,4,7]}", &a);
				cr_expect_eq(f.nkinds, 2);
				cr_expect_eq(f.kinds[0], 1);
				cr_expect_eq(f.kinds[1], 7);
				/* none left: matches (and counts) nothing */
				f = rewrite(h, "{\"kinds\":[4]}", &a);
				cr_expect_eq(f.nkinds, 0);
				cr_expect_not_null(f.kinds);
				cr_expect_gt(f.since, f.until);
				break;
			default:
				f = rewrite(h, "{\"#r\":[\"a\"],\"#t\":[\"b\"]}",
					    &a);
				cr_expect_eq(f.ntags, 1);
				cr_expect_eq(f.tags[0].name, 't');
				break;
			}
		}
		tern_policy_remove(relay, me);
		cr_expect_not(tern__hooks_any(&relay->hooks,
					      TERN__H_OVERWRITE_FILTER));
		cr_expect_not(tern__hooks_any(&relay->hooks,
					      TERN__H_OVERWRITE_COUNT_FILTER));
	}
	tern_arena_free(&a);
}
