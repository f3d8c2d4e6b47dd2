/*
 * libFuzzer target for the configuration loader (src/config/config.c).
 *
 * For every input (NUL-terminated copy; a NUL inside simply ends the text):
 *  - tern_config_load_string() must not crash or leak, and must write a
 *    NUL-terminated message into a small error buffer;
 *  - on failure the struct must still equal the defaults;
 *  - on success every setting must lie in its documented range (checked
 *    here independently of the loader's table) and tern_config_validate()
 *    must agree;
 *  - loading the same text twice (overlay onto itself) must give the same
 *    configuration as loading it once.
 * Any violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/config.h>
#include <tern/error.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_config: check failed: %s (line %d)\n", \
				#cond, __LINE__);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define IN(v, lo, hi) ((uint64_t)(v) >= (uint64_t)(lo) && (uint64_t)(v) <= (uint64_t)(hi))

static bool hex64_or_empty(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return true;
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void check_ranges(const tern_config *c)
{
	const tern_config_relay *r = &c->relay;
	const tern_config_limits *l = &r->limits;
	const char *strs[] = { r->bind, r->service_url, r->trusted_proxy_header,
		r->info.name, r->info.description, r->info.pubkey, r->info.contact,
		r->info.icon, r->info.banner, r->info.privacy_policy,
		r->info.terms_of_service, r->info.posting_policy, c->store.dir };

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		CHECK(strs[i] != NULL);
	CHECK(*r->bind && *c->store.dir);
	CHECK(r->port >= 1);
	CHECK(r->io_threads <= 1024);
	CHECK(!*r->service_url || !strncmp(r->service_url, "ws://", 5) ||
	      !strncmp(r->service_url, "wss://", 6));
	CHECK(strlen(r->trusted_proxy_header) <= 64 &&
	      !strpbrk(r->trusted_proxy_header, " \t\r\n:"));
	CHECK(IN(r->log_level, TERN_LOG_ERROR, TERN_LOG_DEBUG));
	CHECK(r->shutdown_grace <= 3600);
	CHECK(hex64_or_empty(r->info.pubkey));
	CHECK(IN(l->max_message_length, 1024, 256u << 20));
	CHECK(IN(l->max_subscriptions, 1, 65536));
	CHECK(IN(l->max_filters, 1, 1024));
	CHECK(IN(l->max_limit, 1, 1000000));
	CHECK(IN(l->default_limit, 1, 1000000));
	CHECK(IN(l->max_subid_length, 1, 1024));
	CHECK(IN(l->max_event_tags, 1, 1000000));
	CHECK(l->max_content_length <= 256u << 20);
	CHECK(IN(l->max_output_queue, 65536, (uint64_t)16 << 30));
	CHECK(l->max_output_queue >= l->max_message_length);
	CHECK(l->min_pow_difficulty <= 256);
	CHECK(l->created_at_lower_limit <= UINT32_MAX);
	CHECK(l->created_at_upper_limit <= UINT32_MAX);
	CHECK(l->max_connections_per_ip <= 1000000);
	CHECK(r->auth.n_restricted_kinds <= TERN_CONFIG_MAX_KINDS);
	CHECK(!r->auth.n_restricted_kinds || r->auth.restricted_kinds);
	for (size_t i = 0; i < r->auth.n_restricted_kinds; i++)
		CHECK(r->auth.restricted_kinds[i] <= 65535);
	CHECK(r->websocket.ping_interval <= 86400);
	CHECK(IN(r->websocket.ping_timeout, 1, 86400));
	CHECK(!r->websocket.ping_interval ||
	      r->websocket.ping_timeout >= r->websocket.ping_interval);
	CHECK(IN(r->websocket.max_window_bits, 9, 15));
	CHECK(IN(c->store.map_size, 1u << 20, (uint64_t)1 << 44));
	CHECK(IN(c->store.batch_max, 1, 1000000));
	CHECK(IN(c->store.queue_max, 1, 16u << 20));
	CHECK(c->store.purge_interval <= 604800);
	CHECK(!c->store.read_only);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern_config def, once, twice;
	char err[64], all[4096];
	char *text = malloc(size + 1);
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	tern_config_defaults(&def);
	tern_config_defaults(&once);
	memset(err, 'x', sizeof err);
	rc = tern_config_load_string(&once, text, "fuzz.conf", err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (rc) {
		CHECK(rc == TERN_EPARSE || rc == TERN_EINVAL || rc == TERN_ETOOBIG ||
		      rc == TERN_ENOMEM);
		CHECK(!strncmp(err, "fuzz.conf:", 10));
		CHECK(tern_config_diff(&def, &once, NULL, 0, NULL) == 0);
	} else {
		CHECK(err[0] == '\0');
		check_ranges(&once);
		CHECK(tern_config_validate(&once, err, sizeof err) == 0);
		tern_config_diff(&def, &once, all, sizeof all, NULL);
		CHECK(memchr(all, '\0', sizeof all) != NULL);

		tern_config_defaults(&twice);
		CHECK(tern_config_load_string(&twice, text, NULL, NULL, 0) == 0);
		CHECK(tern_config_load_string(&twice, text, NULL, NULL, 0) == 0);
		CHECK(tern_config_diff(&once, &twice, NULL, 0, NULL) == 0);
		tern_config_free(&twice);
	}
	tern_config_free(&once);
	free(text);
	return 0;
}
