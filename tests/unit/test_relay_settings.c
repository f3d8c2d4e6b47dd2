/* Relay settings snapshots and the NIP-11 document. */
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <tern/config.h>

#include "relay/settings.h"

Test(relay_settings, nip11_lists_enforced_limits)
{
	tern_config cfg;
	tern__settings *s;
	json_error_t e;
	json_t *j, *lim, *nips;
	char err[256];

	tern_config_defaults(&cfg);
	cr_assert_eq(tern_config_load_string(&cfg,
		"relay = { info = { name = \"t\\\"x\"; description = \"d\"; };"
		" limits = { max_limit = 100; default_limit = 1000;"
		" min_pow_difficulty = 8; }; };", NULL, err, sizeof err), 0,
		"%s", err);
	cr_assert_eq(tern__settings_new(&s, &cfg), 0);
	j = json_loadb(s->nip11, s->nip11_len, 0, &e);
	cr_assert_not_null(j, "%s: %s", e.text, s->nip11);
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "t\"x");
	cr_assert_null(json_object_get(j, "contact"), "empty fields left out");
	lim = json_object_get(j, "limitation");
	cr_assert_eq(json_integer_value(json_object_get(lim, "max_limit")), 100);
	cr_assert_eq(json_integer_value(json_object_get(lim, "default_limit")),
		     100, "default_limit above max_limit acts as max_limit");
	cr_assert_eq(s->lim.default_limit, 100);
	cr_assert_eq(json_integer_value(json_object_get(lim,
			"max_message_length")), cfg.relay.limits.max_message_length);
	cr_assert_eq(json_integer_value(json_object_get(lim,
			"max_subscriptions")), cfg.relay.limits.max_subscriptions);
	nips = json_object_get(j, "supported_nips");
	cr_assert_eq(json_array_size(nips), tern__settings_nnips + 1);
	for (size_t i = 1; i < json_array_size(nips); i++)
		cr_assert_lt(json_integer_value(json_array_get(nips, i - 1)),
			     json_integer_value(json_array_get(nips, i)));
	json_decref(j);
	tern__settings_unref(s);
	tern_config_free(&cfg);
}

Test(relay_settings, restricted_kinds_and_refs)
{
	tern_config cfg;
	tern__settings *s;

	tern_config_defaults(&cfg);
	cr_assert_eq(tern__settings_new(&s, &cfg), 0);
	cr_assert(tern__settings_restricted(s, 4));
	cr_assert(tern__settings_restricted(s, 1059));
	cr_assert_not(tern__settings_restricted(s, 1));
	cr_assert_eq(s->ev_lim.max_json, cfg.relay.limits.max_message_length);
	cr_assert_eq(s->msg_lim.max_filters, cfg.relay.limits.max_filters);
	tern__settings_ref(s);
	tern__settings_unref(s);
	cr_assert_eq(atomic_load(&s->refs), 1);
	tern__settings_unref(s);
	tern_config_free(&cfg);
}
