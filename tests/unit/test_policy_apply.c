/*
 * Unit tests for registering policies on a relay (the constructors of
 * src/policy, defaults.c, registry.c): parameters are checked, every
 * switch of relay.policies registers, and the state is released exactly
 * once (ASan would report a leak or a double free). What the registered
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

#include <tern/config.h>
#include <tern/error.h>
#include <tern/policy.h>
#include <tern/relay.h>

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
