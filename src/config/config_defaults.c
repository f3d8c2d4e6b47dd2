/*
 * The default configuration (tern_config_defaults() of tern/config.h, the
 * values docs/CONFIG.md lists). Kept apart from config.c, whose settings
 * table drives loading, checking and diffing: a default is a plain
 * assignment per field, and every pointer set here is static (not in the
 * owned list that tern_config_free() releases).
 */
#include <stdint.h>
#include <string.h>

#include <tern/config.h>

#define MIB ((uint64_t)1 << 20)

static const uint32_t default_kinds[] = { 4, 1059 };

/* metrics.allow: 127.0.0.1 (IPv4-mapped, tern/config.h) and ::1 */
static const tern_config_net default_allow[] = {
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 }, 128 },
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128 },
};

void tern_config_defaults(tern_config *c)
{
	memset(c, 0, sizeof *c);
	tern_config_relay *r = &c->relay;

	r->bind = "127.0.0.1";
	r->port = 7777;
	r->io_threads = 0;
	r->service_url = "";
	r->trusted_proxy_header = "";
	r->log_level = TERN_LOG_INFO;
	r->shutdown_grace = 10;

	r->info.name = "tern";
	r->info.description = "";
	r->info.pubkey = "";
	r->info.contact = "";
	r->info.icon = "";
	r->info.banner = "";
	r->info.privacy_policy = "";
	r->info.terms_of_service = "";
	r->info.posting_policy = "";

	r->limits.max_message_length = 131072;
	r->limits.max_subscriptions = 64;
	r->limits.max_filters = 20;
	r->limits.max_limit = 500;
	r->limits.default_limit = 500;
	r->limits.max_subid_length = 64;
	r->limits.max_event_tags = 2000;
	r->limits.max_content_length = 65536;
	r->limits.max_output_queue = 4 * MIB;
	r->limits.min_pow_difficulty = 0;
	r->limits.created_at_lower_limit = 0;
	r->limits.created_at_upper_limit = 900;
	r->limits.auth_required = false;
	r->limits.max_connections_per_ip = 0;

	r->auth.restricted_kinds = default_kinds;
	r->auth.n_restricted_kinds = sizeof default_kinds / sizeof default_kinds[0];

	r->websocket.ping_interval = 30;
	r->websocket.ping_timeout = 60;
	r->websocket.compression = true;
	r->websocket.compression_context_takeover = false;
	r->websocket.max_window_bits = 15;

	r->policies.rate_limit_keys = 65536;
	r->policies.connection_rate_limit.interval = 60;
	r->policies.event_ip_rate_limit.interval = 60;
	r->policies.event_pubkey_rate_limit.interval = 60;
	r->policies.event_authed_rate_limit.interval = 60;
	r->policies.filter_ip_rate_limit.interval = 60;
	r->policies.remove_all_but_tags = "";

	r->plugin.command = "";
	r->plugin.timeout_ms = 2000;
	r->plugin.fail_open = false;
	r->plugin.reload_on_change = true;

	c->metrics.enabled = false;
	c->metrics.path = "/metrics";
	c->metrics.allow = default_allow;
	c->metrics.nallow = sizeof default_allow / sizeof default_allow[0];

	tern_store_options_defaults(&c->store);
	c->store.dir = "./tern-db";
	c->owned_ = NULL;
}
