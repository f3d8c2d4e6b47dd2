/* Unit tests for src/config: defaults, the strict loader, validate, diff. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/config.h>
#include <tern/error.h>

static tern_config cfg;
static char err[256];

static void setup(void)
{
	tern_config_defaults(&cfg);
	memset(err, 'x', sizeof err);
}

static void teardown(void)
{
	tern_config_free(&cfg);
}

TestSuite(config, .init = setup, .fini = teardown);

static int load(const char *text)
{
	return tern_config_load_string(&cfg, text, "tern.conf", err, sizeof err);
}

/* Loads text, which must fail with rc and exactly the message msg. */
static void expect_error(const char *text, int rc, const char *msg)
{
	int got = load(text);

	cr_assert_eq(got, rc, "text %s: rc %d, wanted %d (%s)", text, got, rc,
		     err);
	cr_assert_str_eq(err, msg, "text %s", text);
}

/* Writes text to a new temporary file; returns its malloc'ed path. */
static char *temp_file(const char *text, size_t len)
{
	char *path = strdup("/tmp/tern-test-config-XXXXXX");
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* The sample at the top of the source tree (tests run from there). */
static const char *sample_path(void)
{
	static char path[512];
	const char *file = __FILE__; /* ".../tests/unit/test_config.c" */
	const char *end = strstr(file, "tests/unit/");

	if (access("tern.conf", R_OK) == 0 || !end)
		return "tern.conf";
	snprintf(path, sizeof path, "%.*stern.conf", (int)(end - file), file);
	return path;
}

Test(config, defaults)
{
	const tern_config_relay *r = &cfg.relay;

	cr_assert_str_eq(r->bind, "127.0.0.1");
	cr_assert_eq(r->port, 7777);
	cr_assert_eq(r->io_threads, 0);
	cr_assert_str_eq(r->service_url, "");
	cr_assert_str_eq(r->trusted_proxy_header, "");
	cr_assert_eq(r->log_level, TERN_LOG_INFO);
	cr_assert_eq(r->shutdown_grace, 10);
	cr_assert_str_eq(r->info.name, "tern");
	cr_assert_str_eq(r->info.description, "");
	cr_assert_str_eq(r->info.pubkey, "");
	cr_assert_str_eq(r->info.contact, "");
	cr_assert_str_eq(r->info.icon, "");
	cr_assert_str_eq(r->info.banner, "");
	cr_assert_str_eq(r->info.privacy_policy, "");
	cr_assert_str_eq(r->info.terms_of_service, "");
	cr_assert_str_eq(r->info.posting_policy, "");
	cr_assert_eq(r->limits.max_message_length, 131072);
	cr_assert_eq(r->limits.max_subscriptions, 64);
	cr_assert_eq(r->limits.max_filters, 20);
	cr_assert_eq(r->limits.max_limit, 500);
	cr_assert_eq(r->limits.default_limit, 500);
	cr_assert_eq(r->limits.max_subid_length, 64);
	cr_assert_eq(r->limits.max_event_tags, 2000);
	cr_assert_eq(r->limits.max_content_length, 65536);
	cr_assert_eq(r->limits.max_output_queue, 4u << 20);
	cr_assert_eq(r->limits.min_pow_difficulty, 0);
	cr_assert_eq(r->limits.created_at_lower_limit, 0);
	cr_assert_eq(r->limits.created_at_upper_limit, 900);
	cr_assert_eq(r->limits.auth_required, false);
	cr_assert_eq(r->limits.max_connections_per_ip, 0);
	cr_assert_eq(r->auth.n_restricted_kinds, 2);
	cr_assert_eq(r->auth.restricted_kinds[0], 4);
	cr_assert_eq(r->auth.restricted_kinds[1], 1059);
	cr_assert_eq(r->websocket.ping_interval, 30);
	cr_assert_eq(r->websocket.ping_timeout, 60);
	cr_assert_eq(r->websocket.compression, true);
	cr_assert_eq(r->websocket.compression_context_takeover, false);
	cr_assert_eq(r->websocket.max_window_bits, 15);
	cr_assert_str_eq(cfg.store.dir, "./tern-db");
	cr_assert_eq(cfg.store.map_size, (uint64_t)1 << 30);
	cr_assert_eq(cfg.store.batch_max, 1024);
	cr_assert_eq(cfg.store.queue_max, 65536);
	cr_assert_eq(cfg.store.purge_interval, 60);
	cr_assert_eq(cfg.store.no_sync, false);
	cr_assert_eq(cfg.store.read_only, false);
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);
}

Test(config, sample_file_loads_and_equals_defaults)
{
	tern_config def;
	char diff[512];
	bool restart = true;

	tern_config_defaults(&def);
	cr_assert_eq(tern_config_load_file(&cfg, sample_path(), err, sizeof err),
		     0, "%s", err);
	cr_assert_str_eq(err, "");
	/* every setting of the sample is written out and equals the default */
	cr_assert_eq(tern_config_diff(&def, &cfg, diff, sizeof diff, &restart),
		     0, "sample differs from defaults: %s", diff);
	cr_assert_str_eq(diff, "");
	cr_assert_not(restart);
	/* ... and the values came from the file, not from the defaults */
	cr_assert_neq(cfg.relay.bind, def.relay.bind);
	cr_assert_neq(cfg.relay.auth.restricted_kinds, def.relay.auth.restricted_kinds);
	cr_assert_str_eq(cfg.relay.bind, "127.0.0.1");

	/* the sample names every setting: change each value in a copy of it
	   and the loader must see it (so the file really sets them all) */
	FILE *f = fopen(sample_path(), "r");
	cr_assert(f);
	char *text = calloc(1, 65536);
	size_t n = fread(text, 1, 65535, f);
	fclose(f);
	cr_assert(n > 0 && n < 65535);
	const char *names[] = { "bind", "port", "io_threads", "service_url",
		"trusted_proxy_header", "log_level", "shutdown_grace", "name",
		"description", "pubkey", "contact", "icon", "banner",
		"privacy_policy", "terms_of_service", "posting_policy",
		"max_message_length", "max_subscriptions", "max_filters",
		"max_limit", "default_limit", "max_subid_length", "max_event_tags",
		"max_content_length", "max_output_queue", "min_pow_difficulty",
		"created_at_lower_limit", "created_at_upper_limit", "auth_required",
		"max_connections_per_ip", "restricted_kinds", "ping_interval",
		"ping_timeout", "compression", "compression_context_takeover",
		"max_window_bits", "dir", "map_size", "batch_max", "queue_max",
		"purge_interval", "no_sync" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char pat[64];
		snprintf(pat, sizeof pat, "\t%s = ", names[i]);
		cr_assert(strstr(text, pat), "sample lacks %s", names[i]);
	}
	cr_assert_eq(sizeof names / sizeof names[0], 42);
	free(text);
}

Test(config, overlay_keeps_unnamed_settings)
{
	const char *flag = "0.0.0.0"; /* caller-owned, like an argv string */

	cfg.relay.bind = flag;
	cfg.relay.limits.max_limit = 77;
	cr_assert_eq(load("relay = { port = 8080; info = { name = \"x\"; }; };\n"
			  "store = { dir = \"/srv/tern\"; map_size = 4294967296; };"),
		     0, "%s", err);
	cr_assert_str_eq(err, "");
	cr_assert_eq(cfg.relay.port, 8080);
	cr_assert_str_eq(cfg.relay.info.name, "x");
	cr_assert_str_eq(cfg.store.dir, "/srv/tern");
	cr_assert_eq(cfg.store.map_size, (uint64_t)4 << 30);
	cr_assert_eq(cfg.relay.bind, flag, "caller's pointer kept");
	cr_assert_eq(cfg.relay.limits.max_limit, 77);
	cr_assert_eq(cfg.relay.limits.max_filters, 20);

	/* a second load replaces owned values (the old ones are freed: ASan) */
	cr_assert_eq(load("relay = { info = { name = \"y\"; description = \"d\"; }; };"
			  "relay = { };"), TERN_EPARSE);
	cr_assert_str_eq(err, "tern.conf:1: duplicate setting name");
	cr_assert_eq(load("relay = { info = { name = \"y\"; description = \"d\"; }; };"),
		     0, "%s", err);
	cr_assert_str_eq(cfg.relay.info.name, "y");
	cr_assert_str_eq(cfg.relay.info.description, "d");
	cr_assert_str_eq(cfg.store.dir, "/srv/tern");
	cr_assert_eq(load("relay = { auth = { restricted_kinds = [1, 2, 3]; }; };"), 0);
	cr_assert_eq(load("relay = { auth = { restricted_kinds = [5]; }; };"), 0);
	cr_assert_eq(cfg.relay.auth.n_restricted_kinds, 1);
	cr_assert_eq(cfg.relay.auth.restricted_kinds[0], 5);
	cr_assert_eq(load("relay = { auth = { restricted_kinds = []; }; };"), 0);
	cr_assert_eq(cfg.relay.auth.n_restricted_kinds, 0);
	cr_assert_eq(load(""), 0, "an empty file changes nothing");
	cr_assert_eq(cfg.relay.port, 8080);
}

Test(config, failed_load_changes_nothing)
{
	cr_assert_eq(load("relay = { port = 8080; info = { name = \"kept\"; }; };"), 0);
	const char *name = cfg.relay.info.name;
	expect_error("relay = {\n port = 9090;\n info = { name = \"lost\"; };\n"
		     " limits = { max_filters = 0; };\n};",
		     TERN_EINVAL,
		     "tern.conf:4: relay.limits.max_filters: 0 is out of range 1..1024");
	cr_assert_eq(cfg.relay.port, 8080);
	cr_assert_eq(cfg.relay.info.name, name);
	cr_assert_str_eq(cfg.relay.info.name, "kept");
}

Test(config, syntax_errors_have_lines)
{
	expect_error("relay = {\n  port = 7777\n  bind = ;\n};", TERN_EPARSE,
		     "tern.conf:3: syntax error");
	expect_error("relay = {", TERN_EPARSE, "tern.conf:1: syntax error");
	expect_error("relay = {\n info = { name = \"x\\\"; };\n};\n", TERN_EPARSE,
		     "tern.conf:2: unterminated string");
	expect_error("relay = {\n bind \"::\";\n};", TERN_EPARSE,
		     "tern.conf:2: syntax error");
	expect_error("relay = { bind = \"::\" };\n\"x\"", TERN_EPARSE,
		     "tern.conf:2: syntax error");
	cr_assert_eq(load("relay = ( \"a\", [\"b\" \"c\"], { x = \"d\"; } );"),
		     TERN_EINVAL, "%s", err);
	cr_assert_str_eq(err, "tern.conf:1: relay: expected a group { ... }, got a list");
	char deep[200] = "a = ";
	for (int i = 0; i < 65; i++)
		strcat(deep, "(");
	expect_error(deep, TERN_EPARSE, "tern.conf:1: nested deeper than 64");
	expect_error("# c\n\n@include \"/etc/passwd\"\n", TERN_EPARSE,
		     "tern.conf:3: @include is not supported");
	/* a string or comment holding @include is just text */
	cr_assert_eq(load("# @include \"x\"\nrelay = { info = { name = \"@include\"; }; };"),
		     0, "%s", err);
	/* a last line that is a comment without a newline is fine */
	cr_assert_eq(load("relay = { port = 1; }; # end"), 0, "%s", err);
	cr_assert_eq(load("relay = { port = 2; }; // end"), 0, "%s", err);
	cr_assert_eq(cfg.relay.port, 2);
	cr_assert_eq(load("/* only */"), 0, "%s", err);
	cr_assert_eq(tern_config_load_string(&cfg, "x", NULL, err, sizeof err),
		     TERN_EPARSE);
	cr_assert_str_eq(err, "<string>:1: syntax error");
}

Test(config, unknown_settings)
{
	expect_error("relay = {\n\tlimits = {\n\t\tmax_limit = 10;\n\n\n\n\n\n\n\n\n"
		     "\t\tfoo = 1;\n\t};\n};",
		     TERN_EINVAL, "tern.conf:12: unknown setting relay.limits.foo");
	expect_error("relay = { port = 1; };\nstorage = { };", TERN_EINVAL,
		     "tern.conf:2: unknown setting storage");
	expect_error("relay = { Port = 1; };", TERN_EINVAL,
		     "tern.conf:1: unknown setting relay.Port");
	expect_error("relay = { info = { name = \"a\"; nips = [1]; }; };",
		     TERN_EINVAL, "tern.conf:1: unknown setting relay.info.nips");
	expect_error("port = 1;", TERN_EINVAL, "tern.conf:1: unknown setting port");
}

Test(config, wrong_types)
{
	expect_error("relay = { port = \"7777\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.port: expected an integer in 1..65535, got a string");
	expect_error("relay = {\nport = 7777.0; };", TERN_EINVAL,
		     "tern.conf:2: relay.port: expected an integer in 1..65535, got a float");
	expect_error("store = { no_sync = 1; };", TERN_EINVAL,
		     "tern.conf:1: store.no_sync: expected true or false, got an integer");
	expect_error("store = { dir = 5; };", TERN_EINVAL,
		     "tern.conf:1: store.dir: expected a string, got an integer");
	expect_error("relay = 5;", TERN_EINVAL,
		     "tern.conf:1: relay: expected a group { ... }, got an integer");
	expect_error("relay = { limits = [1]; };", TERN_EINVAL,
		     "tern.conf:1: relay.limits: expected a group { ... }, got an array");
	expect_error("relay = { info = { name = { }; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.info.name: expected a string, got a group");
	expect_error("relay = { log_level = \"verbose\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.log_level: expected \"error\", \"warn\", "
		     "\"info\" or \"debug\", got \"verbose\"");
	expect_error("relay = { log_level = 3; };", TERN_EINVAL,
		     "tern.conf:1: relay.log_level: expected \"error\", \"warn\", "
		     "\"info\" or \"debug\", got an integer");
	expect_error("relay = { auth = { restricted_kinds = (4, 1059); }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.auth.restricted_kinds: expected an array of "
		     "integers in 0..65535 like [4, 1059], got a list");
	expect_error("relay = { auth = { restricted_kinds = [\"4\"]; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.auth.restricted_kinds: expected an array of "
		     "integers in 0..65535 like [4, 1059], got an array of string");
	expect_error("relay = { auth = { restricted_kinds = 4; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.auth.restricted_kinds: expected an array of "
		     "integers in 0..65535 like [4, 1059], got an integer");
}

Test(config, ranges)
{
	expect_error("relay = { port = 70000; };", TERN_EINVAL,
		     "tern.conf:1: relay.port: 70000 is out of range 1..65535");
	expect_error("relay = { port = 0; };", TERN_EINVAL,
		     "tern.conf:1: relay.port: 0 is out of range 1..65535");
	expect_error("relay = { port = -1; };", TERN_EINVAL,
		     "tern.conf:1: relay.port: -1 is out of range 1..65535");
	expect_error("relay = { websocket = { max_window_bits = 8; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.websocket.max_window_bits: 8 is out of range 9..15");
	expect_error("relay = { auth = { restricted_kinds = [4, 65536]; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.auth.restricted_kinds[1]: 65536 is out of range 0..65535");
	expect_error("store = { map_size = 1024; };", TERN_EINVAL,
		     "tern.conf:1: store.map_size: 1024 is out of range 1048576..17592186044416");
	/* plain integers beyond 32 bits are read whole, not truncated */
	expect_error("relay = { port = 4294975073; };", TERN_EINVAL,
		     "tern.conf:1: relay.port: 4294975073 is out of range 1..65535");
	expect_error("relay = { limits = { max_filters = 3000000000; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.limits.max_filters: 3000000000 is out of range 1..1024");
	expect_error("relay = { limits = { max_filters = -2147483648; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.limits.max_filters: -2147483648 is out of range 1..1024");
	expect_error("store = {\n map_size = 99999999999999999999; };", TERN_EPARSE,
		     "tern.conf:2: integer 99999999999999999999 is out of range");
	expect_error("store = { map_size = 9223372036854775808L; };", TERN_EPARSE,
		     "tern.conf:1: integer 9223372036854775808L is out of range");
	expect_error("store = { map_size = 0x8000000000000000; };", TERN_EPARSE,
		     "tern.conf:1: integer 0x8000000000000000 is out of range");
	cr_assert_eq(load("store = { map_size = 0x100000000; batch_max = 0x10; };"), 0, "%s", err);
	cr_assert_eq(cfg.store.map_size, (uint64_t)1 << 32);
	cr_assert_eq(cfg.store.batch_max, 16);
	cr_assert_eq(load("store = { map_size = 2147483648; queue_max = 5L; };"), 0, "%s", err);
	cr_assert_eq(cfg.store.map_size, (uint64_t)1 << 31);
	cr_assert_eq(cfg.store.queue_max, 5);
	cr_assert_eq(load("relay = { limits = { max_output_queue = 17179869184; }; };"), 0, "%s", err);
	cr_assert_eq(cfg.relay.limits.max_output_queue, (uint64_t)16 << 30);
	cr_assert_eq(load("relay = { limits = { created_at_lower_limit = 4294967295; }; };"), 0);
	cr_assert_eq(cfg.relay.limits.created_at_lower_limit, UINT32_MAX);
	/* names and floats holding digits are left alone */
	expect_error("relay = { x3000000000 = 1; };", TERN_EINVAL,
		     "tern.conf:1: unknown setting relay.x3000000000");
	expect_error("relay = { port = 1e+3000000000; };", TERN_EINVAL,
		     "tern.conf:1: relay.port: expected an integer in 1..65535, got a float");
}

Test(config, string_forms)
{
	static const char pk[] =
		"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
	char text[256];

	snprintf(text, sizeof text, "relay = { info = { pubkey = \"%s\"; }; };", pk);
	cr_assert_eq(load(text), 0, "%s", err);
	cr_assert_str_eq(cfg.relay.info.pubkey, pk);
	expect_error("relay = { info = { pubkey = \"79BE\"; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.info.pubkey: must be 64 lowercase hex characters (or \"\")");
	expect_error("relay = { bind = \"localhost\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.bind: \"localhost\" is not a numeric IPv4 or IPv6 address");
	expect_error("relay = { bind = \"\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.bind: \"\" is not a numeric IPv4 or IPv6 address");
	cr_assert_eq(load("relay = { bind = \"::\"; };"), 0);
	cr_assert_eq(load("relay = { service_url = \"wss://relay.example.com/x\"; };"), 0);
	cr_assert_str_eq(cfg.relay.service_url, "wss://relay.example.com/x");
	expect_error("relay = { service_url = \"https://relay.example.com\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.service_url: \"https://relay.example.com\" "
		     "is not a ws:// or wss:// URL (or \"\")");
	expect_error("relay = { service_url = \"ws://\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.service_url: \"ws://\" is not a ws:// or wss:// URL (or \"\")");
	cr_assert_eq(load("relay = { trusted_proxy_header = \"X-Forwarded-For\"; };"), 0);
	expect_error("relay = { trusted_proxy_header = \"X Real\\nIP\"; };", TERN_EINVAL,
		     "tern.conf:1: relay.trusted_proxy_header: \"X Real\\nIP\" is not an "
		     "HTTP header name (or \"\")");
	expect_error("store = { dir = \"\"; };", TERN_EINVAL,
		     "tern.conf:1: store.dir: must not be empty");
	expect_error("relay = { info = { name = \"\\xff\"; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.info.name: not valid UTF-8");
	/* adjacent strings join, escapes decode, UTF-8 passes */
	cr_assert_eq(load("relay = { info = { description = \"a\" \"b\\n\" \"\xc3\xa9\"; }; };"), 0);
	cr_assert_str_eq(cfg.relay.info.description, "ab\n\xc3\xa9");
}

Test(config, contradictions)
{
	expect_error("relay = { websocket = {\n ping_interval = 120;\n }; };",
		     TERN_EINVAL,
		     "tern.conf:2: relay.websocket.ping_timeout (60) must be at least "
		     "relay.websocket.ping_interval (120)");
	cr_assert_eq(load("relay = { websocket = { ping_interval = 120; ping_timeout = 240; }; };"), 0);
	cr_assert_eq(load("relay = { websocket = { ping_interval = 0; ping_timeout = 1; }; };"), 0);
	expect_error("relay = { limits = {\n max_message_length = 8388608; }; };",
		     TERN_EINVAL,
		     "tern.conf:2: relay.limits.max_output_queue (4194304) must be at least "
		     "relay.limits.max_message_length (8388608)");
	/* a contradiction the file did not touch is the caller's business */
	cfg.relay.limits.max_output_queue = 65536;
	cr_assert_eq(load("relay = { port = 1; };"), 0, "%s", err);
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.limits.max_output_queue (65536) must be at least "
			      "relay.limits.max_message_length (131072)");
}

Test(config, validate_after_overrides)
{
	cfg.relay.port = 0;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.port: 0 is out of range 1..65535");
	cfg.relay.port = 1;
	cfg.relay.bind = "example.com";
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.bind: \"example.com\" is not a numeric IPv4 or IPv6 address");
	cfg.relay.bind = "::1";
	cfg.store.dir = NULL;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "store.dir: is not set");
	cfg.store.dir = "db";
	static const uint32_t kinds[] = { 1, 70000 };
	cfg.relay.auth.restricted_kinds = kinds;
	cfg.relay.auth.n_restricted_kinds = 2;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.auth.restricted_kinds[1]: 70000 is out of range 0..65535");
	cfg.relay.auth.n_restricted_kinds = 1;
	cfg.relay.log_level = (tern_log_level)9;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.log_level: unknown log level 9");
	cfg.relay.log_level = TERN_LOG_DEBUG;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(err, "");
	cr_assert_eq(tern_config_validate(&cfg, NULL, 0), 0);
}

Test(config, files)
{
	char *p = temp_file("relay = {\n\tport = 9000;\n};\n", 25);
	cr_assert_eq(tern_config_load_file(&cfg, p, err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.relay.port, 9000);
	unlink(p);
	free(p);

	p = temp_file("relay = {\n\tport = 7;\n\t\0bind", 27);
	char want[300];
	cr_assert_eq(tern_config_load_file(&cfg, p, err, sizeof err), TERN_EPARSE);
	snprintf(want, sizeof want, "%s:3: NUL byte in the file", p);
	cr_assert_str_eq(err, want);
	cr_assert_eq(cfg.relay.port, 9000);
	unlink(p);
	free(p);

	p = temp_file("relay = {\n\tport = \"x\";\n};\n", 26);
	cr_assert_eq(tern_config_load_file(&cfg, p, err, sizeof err), TERN_EINVAL);
	snprintf(want, sizeof want,
		 "%s:2: relay.port: expected an integer in 1..65535, got a string", p);
	cr_assert_str_eq(err, want);
	unlink(p);

	cr_assert_eq(tern_config_load_file(&cfg, p, err, sizeof err), -ENOENT);
	snprintf(want, sizeof want, "%s: %s", p, strerror(ENOENT));
	cr_assert_str_eq(err, want);
	free(p);

	cr_assert_eq(tern_config_load_file(&cfg, "/", err, sizeof err), -EISDIR);
	cr_assert_str_eq(err, "/: Is a directory");

	size_t big = TERN_CONFIG_MAX_SIZE + 1;
	char *text = malloc(big + 1);
	memset(text, '#', big);
	text[big] = '\0';
	p = temp_file(text, big);
	cr_assert_eq(tern_config_load_file(&cfg, p, err, sizeof err), TERN_ETOOBIG);
	cr_assert_eq(tern_config_load_string(&cfg, text, "s", err, sizeof err), TERN_ETOOBIG);
	cr_assert_str_eq(err, "s: larger than 1048576 bytes");
	text[big - 1] = '\0'; /* exactly the limit: a comment, accepted */
	cr_assert_eq(tern_config_load_string(&cfg, text, "s", err, sizeof err), 0, "%s", err);
	unlink(p);
	free(p);
	free(text);
}

Test(config, error_buffer_handling)
{
	char small[12];

	cr_assert_eq(tern_config_load_string(&cfg, "relay = { port = 0; };", "tern.conf",
					     small, sizeof small), TERN_EINVAL);
	cr_assert_str_eq(small, "tern.conf:1");
	cr_assert_eq(tern_config_load_string(&cfg, "relay = { port = 0; };", NULL, NULL, 0),
		     TERN_EINVAL);
	cr_assert_eq(tern_config_load_string(NULL, "", NULL, err, sizeof err), TERN_EINVAL);
	cr_assert_eq(tern_config_load_string(&cfg, NULL, NULL, err, sizeof err), TERN_EINVAL);
	cr_assert_eq(tern_config_load_file(&cfg, NULL, err, sizeof err), TERN_EINVAL);
	/* a long value is cut in messages */
	char text[400];
	memset(text, 0, sizeof text);
	strcpy(text, "relay = { bind = \"");
	memset(text + strlen(text), 'a', 100);
	strcat(text, "\"; };");
	cr_assert_eq(load(text), TERN_EINVAL);
	cr_assert(strstr(err, "aaaa\"... is not a numeric"), "%s", err);
}

Test(config, diff)
{
	tern_config b;
	char out[256];
	bool restart = false;

	tern_config_defaults(&b);
	cr_assert_eq(tern_config_diff(&cfg, &b, out, sizeof out, &restart), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(tern_config_load_string(&b, "relay = { limits = { max_limit = 100; };"
					     " info = { name = \"my \\\"relay\\\"\"; };"
					     " auth = { restricted_kinds = [4]; };"
					     " log_level = \"debug\"; };",
					     NULL, err, sizeof err), 0, "%s", err);
	cr_assert_eq(tern_config_diff(&cfg, &b, out, sizeof out, &restart), 4);
	cr_assert_str_eq(out, "relay.log_level=\"debug\" relay.info.name=\"my \\\"relay\\\"\" "
			      "relay.limits.max_limit=100 relay.auth.restricted_kinds=[4]");
	cr_assert_not(restart, "all reloadable");
	b.store.no_sync = true;
	b.relay.port = 1;
	cr_assert_eq(tern_config_diff(&cfg, &b, NULL, 0, &restart), 6);
	cr_assert(restart);
	/* truncation ends with "..." and never overflows */
	char tiny[48];
	cr_assert_eq(tern_config_diff(&cfg, &b, tiny, sizeof tiny, NULL), 6);
	cr_assert_str_eq(tiny, "relay.port=1 relay.log_level=\"debug\" ...");
	cr_assert_eq(tern_config_diff(&cfg, &b, tiny, 8, NULL), 6);
	cr_assert_str_eq(tiny, "...");
	tern_config_free(&b);
}

Test(config, free_resets_and_is_idempotent)
{
	cr_assert_eq(load("relay = { info = { name = \"n\"; }; auth = { restricted_kinds = [7]; }; };"
			  "store = { dir = \"d\"; };"), 0);
	tern_config_free(&cfg);
	cr_assert_str_eq(cfg.relay.info.name, "tern");
	cr_assert_str_eq(cfg.store.dir, "./tern-db");
	cr_assert_eq(cfg.relay.auth.n_restricted_kinds, 2);
	tern_config_free(&cfg);
	tern_config_free(NULL);
}

Test(config, policies_and_plugin_defaults)
{
	const tern_config_policies *p = &cfg.relay.policies;
	const tern_config_plugin *pl = &cfg.relay.plugin;

	cr_assert_not(p->apply_defaults);
	cr_assert_eq(p->rate_limit_keys, 65536);
	cr_assert_eq(p->connection_rate_limit.tokens_per_interval, 0);
	cr_assert_eq(p->connection_rate_limit.interval, 60);
	cr_assert_eq(p->event_ip_rate_limit.interval, 60);
	cr_assert_eq(p->filter_ip_rate_limit.max_tokens, 0);
	cr_assert_eq(p->n_allowed_kinds, 0);
	cr_assert_eq(p->max_indexable_tags, 0);
	cr_assert_eq(p->min_pow, 0);
	cr_assert_str_eq(p->remove_all_but_tags, "");
	cr_assert_str_eq(pl->command, "");
	cr_assert_eq(pl->timeout_ms, 2000);
	cr_assert_not(pl->fail_open);
	cr_assert(pl->reload_on_change);
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);
}

Test(config, policies_load)
{
	const tern_config_policies *p = &cfg.relay.policies;

	cr_assert_eq(load("relay = { policies = {\n"
			  "  apply_defaults = true;\n"
			  "  max_indexable_tags = 50;\n"
			  "  max_indexable_tags_ignore_kinds = [3, 10002];\n"
			  "  allowed_kinds = [1, 7];\n"
			  "  allow_ephemeral = true;\n"
			  "  max_past = 86400; max_future = 600;\n"
			  "  min_pow = 20; validate_kind = true;\n"
			  "  event_ip_rate_limit = { tokens_per_interval = 5;"
			  " interval = 10; max_tokens = 20; };\n"
			  "  must_auth = true; anti_sync_bots = true;\n"
			  "  remove_all_but_kinds = [0, 1];\n"
			  "  remove_all_but_tags = [\"e\", \"p\", \"T\"];\n"
			  "}; plugin = { command = \"./plug.py --x\";"
			  " timeout_ms = 500; fail_open = true;"
			  " reload_on_change = false; }; };"),
		     0, "%s", err);
	cr_assert(p->apply_defaults);
	cr_assert_eq(p->max_indexable_tags, 50);
	cr_assert_eq(p->n_max_indexable_tags_ignore_kinds, 2);
	cr_assert_eq(p->max_indexable_tags_ignore_kinds[1], 10002);
	cr_assert_eq(p->n_allowed_kinds, 2);
	cr_assert_eq(p->allowed_kinds[0], 1);
	cr_assert_eq(p->allowed_kinds[1], 7);
	cr_assert(p->allow_ephemeral);
	cr_assert_eq(p->max_past, 86400);
	cr_assert_eq(p->max_future, 600);
	cr_assert_eq(p->min_pow, 20);
	cr_assert(p->validate_kind);
	cr_assert_eq(p->event_ip_rate_limit.tokens_per_interval, 5);
	cr_assert_eq(p->event_ip_rate_limit.interval, 10);
	cr_assert_eq(p->event_ip_rate_limit.max_tokens, 20);
	cr_assert_eq(p->event_pubkey_rate_limit.tokens_per_interval, 0);
	cr_assert(p->must_auth && p->anti_sync_bots);
	cr_assert_not(p->no_search_queries);
	cr_assert_eq(p->n_remove_all_but_kinds, 2);
	cr_assert_str_eq(p->remove_all_but_tags, "epT");
	cr_assert_str_eq(cfg.relay.plugin.command, "./plug.py --x");
	cr_assert_eq(cfg.relay.plugin.timeout_ms, 500);
	cr_assert(cfg.relay.plugin.fail_open);
	cr_assert_not(cfg.relay.plugin.reload_on_change);
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);

	/* a second load replaces arrays (the old ones are released: ASan
	   sees a leak otherwise) and keeps what it does not name */
	cr_assert_eq(load("relay = { policies = { allowed_kinds = [];"
			  " remove_all_but_tags = []; }; };"), 0, "%s", err);
	cr_assert_eq(p->n_allowed_kinds, 0);
	cr_assert_str_eq(p->remove_all_but_tags, "");
	cr_assert_eq(p->n_remove_all_but_kinds, 2);
	cr_assert_eq(p->max_indexable_tags, 50);
}

Test(config, policies_strict)
{
	expect_error("relay = { policies = { allowed_kinds = [1, 70000]; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.allowed_kinds[1]: 70000 is out "
		     "of range 0..65535");
	expect_error("relay = { policies = { allowed_kinds = 1; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.allowed_kinds: expected an "
		     "array of integers in 0..65535 like [4, 1059], got an "
		     "integer");
	expect_error("relay = { policies = { remove_all_but_tags = [\"ep\"]; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.remove_all_but_tags[0]: "
		     "expected one letter a-z or A-Z, got \"ep\"");
	expect_error("relay = { policies = { remove_all_but_tags = [\"1\"]; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.remove_all_but_tags[0]: "
		     "expected one letter a-z or A-Z, got \"1\"");
	expect_error("relay = { policies = { remove_all_but_tags = \"e\"; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.remove_all_but_tags: expected "
		     "an array of one-letter strings like [\"e\", \"p\"], got a "
		     "string");
	expect_error("relay = { policies = { remove_all_but_tags = [1]; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.remove_all_but_tags: expected "
		     "an array of one-letter strings like [\"e\", \"p\"], got an "
		     "array of integer");
	expect_error("relay = { policies = { min_pow = 257; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.policies.min_pow: 257 is out of range "
		     "0..256");
	expect_error("relay = { policies = { rate_limit_keys = 100; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.policies.rate_limit_keys: 100 is out of "
		     "range 512..16777216");
	expect_error("relay = { policies = {\n event_ip_rate_limit = {"
		     " interval = 0; }; }; };",
		     TERN_EINVAL,
		     "tern.conf:2: relay.policies.event_ip_rate_limit.interval: "
		     "0 is out of range 1..86400");
	expect_error("relay = { policies = { event_ip_rate_limit = {"
		     " burst = 3; }; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: unknown setting "
		     "relay.policies.event_ip_rate_limit.burst");
	expect_error("relay = { policies = { must_auth = 1; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.policies.must_auth: expected true or "
		     "false, got an integer");
	expect_error("relay = { policies = { nope = 1; }; };", TERN_EINVAL,
		     "tern.conf:1: unknown setting relay.policies.nope");
	expect_error("relay = { plugin = { timeout_ms = 0; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.plugin.timeout_ms: 0 is out of range "
		     "1..60000");
	expect_error("relay = { plugin = { timeout_ms = 60001; }; };",
		     TERN_EINVAL,
		     "tern.conf:1: relay.plugin.timeout_ms: 60001 is out of "
		     "range 1..60000");
	expect_error("relay = { plugin = { command = 5; }; };", TERN_EINVAL,
		     "tern.conf:1: relay.plugin.command: expected a string, got "
		     "an integer");
	cr_assert_eq(cfg.relay.policies.n_allowed_kinds, 0);
}

Test(config, policies_validate_and_diff)
{
	static const uint32_t kinds[] = { 1, 70000 };
	tern_config def;
	char out[512];
	bool restart = false;

	tern_config_defaults(&def);
	cfg.relay.policies.allowed_kinds = kinds;
	cfg.relay.policies.n_allowed_kinds = 2;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.policies.allowed_kinds[1]: 70000 is out "
			      "of range 0..65535");
	cfg.relay.policies.n_allowed_kinds = 1;
	cfg.relay.policies.remove_all_but_tags = "e-";
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "relay.policies.remove_all_but_tags: must be at "
			      "most 52 letters a-z or A-Z");
	cfg.relay.policies.remove_all_but_tags = "ep";
	cfg.relay.plugin.timeout_ms = 0;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cfg.relay.plugin.timeout_ms = 2000;
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);

	cfg.relay.policies.filter_ip_rate_limit.tokens_per_interval = 9;
	cr_assert_eq(tern_config_diff(&def, &cfg, out, sizeof out, &restart), 3);
	cr_assert_str_eq(out, "relay.policies.allowed_kinds=[1] "
			      "relay.policies.filter_ip_rate_limit."
			      "tokens_per_interval=9 relay.policies."
			      "remove_all_but_tags=[\"e\", \"p\"]");
	cr_assert(restart);
}

Test(config, sample_file_names_policies_and_plugin)
{
	FILE *f = fopen(sample_path(), "r");
	char *text = calloc(1, 65536);
	static const char *names[] = {
		"policies", "apply_defaults", "rate_limit_keys",
		"connection_rate_limit", "tokens_per_interval", "interval",
		"max_tokens", "max_content_length", "max_indexable_tags",
		"max_indexable_tags_ignore_kinds",
		"max_indexable_tags_only_kinds", "max_tag_value_length",
		"allowed_kinds", "allow_ephemeral", "max_past", "max_future",
		"reject_base64_media", "only_protected_events", "validate_kind",
		"min_pow", "event_ip_rate_limit", "event_pubkey_rate_limit",
		"event_authed_rate_limit", "must_auth", "reject_kind4_snoopers",
		"no_empty_filters", "no_complex_filters", "anti_sync_bots",
		"no_search_queries", "filter_ip_rate_limit",
		"remove_search_queries", "remove_all_but_kinds",
		"remove_all_but_tags", "plugin", "command", "timeout_ms",
		"fail_open", "reload_on_change",
	};

	cr_assert(f);
	cr_assert(fread(text, 1, 65535, f) > 0);
	fclose(f);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char pat[64];

		snprintf(pat, sizeof pat, "\t%s = ", names[i]);
		cr_assert(strstr(text, pat), "sample lacks %s", names[i]);
	}
	free(text);
}

/* ---- metrics ------------------------------------------------------------- */

static void expect_net(const tern_config_net *n, const char *addr,
		       unsigned prefix)
{
	tern_config_net want = { { 0 }, (uint8_t)prefix };

	if (strchr(addr, ':')) {
		cr_assert_eq(inet_pton(AF_INET6, addr, want.addr), 1);
	} else {
		want.addr[10] = want.addr[11] = 0xff;
		cr_assert_eq(inet_pton(AF_INET, addr, want.addr + 12), 1);
	}
	cr_assert_eq(n->prefix, want.prefix, "%s: prefix %u", addr, n->prefix);
	cr_assert_eq(memcmp(n->addr, want.addr, 16), 0, "%s", addr);
}

Test(config, metrics_defaults)
{
	cr_assert_eq(cfg.metrics.enabled, false);
	cr_assert_str_eq(cfg.metrics.path, "/metrics");
	cr_assert_eq(cfg.metrics.nallow, 2);
	expect_net(&cfg.metrics.allow[0], "127.0.0.1", 128);
	expect_net(&cfg.metrics.allow[1], "::1", 128);
}

Test(config, metrics_load)
{
	cr_assert_eq(load("metrics = { enabled = true; path = \"/internal/m\";\n"
			  "  allow = [ \"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\",\n"
			  "            \"::ffff:10.0.0.0/104\", \"::/0\",\n"
			  "            \"192.0.2.7/32\" ]; };"), 0, "%s", err);
	cr_assert_eq(cfg.metrics.enabled, true);
	cr_assert_str_eq(cfg.metrics.path, "/internal/m");
	cr_assert_eq(cfg.metrics.nallow, 4, "duplicates are kept once");
	expect_net(&cfg.metrics.allow[0], "10.0.0.0", 104);
	expect_net(&cfg.metrics.allow[1], "192.0.2.7", 128);
	expect_net(&cfg.metrics.allow[2], "fd00::", 8);
	expect_net(&cfg.metrics.allow[3], "::", 0);
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);

	/* an empty list refuses everyone */
	cr_assert_eq(load("metrics = { allow = []; };"), 0, "%s", err);
	cr_assert_eq(cfg.metrics.nallow, 0);
	cr_assert_null(cfg.metrics.allow);
	cr_assert_eq(load("metrics = { allow = [ \"0.0.0.0/0\" ]; };"), 0, "%s",
		     err);
	cr_assert_eq(cfg.metrics.nallow, 1);
	expect_net(&cfg.metrics.allow[0], "::ffff:0.0.0.0", 96);
}

Test(config, metrics_strict)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "metrics = { enabled = 1; };",
		  "tern.conf:1: metrics.enabled: expected true or false, got an "
		  "integer" },
		{ "metrics = { path = \"metrics\"; };",
		  "tern.conf:1: metrics.path: must be a path like \"/metrics\"" },
		{ "metrics = { path = \"/\"; };",
		  "tern.conf:1: metrics.path: must be a path like \"/metrics\"" },
		{ "metrics = { path = \"/a b\"; };",
		  "tern.conf:1: metrics.path: must be a path like \"/metrics\"" },
		{ "metrics = { path = \"/m?x=1\"; };",
		  "tern.conf:1: metrics.path: must be a path like \"/metrics\"" },
		{ "metrics = { allow = \"127.0.0.1\"; };",
		  "tern.conf:1: metrics.allow: expected an array of addresses or "
		  "networks like [\"127.0.0.1\", \"10.0.0.0/8\"]" },
		{ "metrics = { allow = [ 1 ]; };",
		  "tern.conf:1: metrics.allow: expected an array of addresses or "
		  "networks like [\"127.0.0.1\", \"10.0.0.0/8\"]" },
		{ "metrics = { allow = ( \"::1\" ); };",
		  "tern.conf:1: metrics.allow: expected an array of addresses or "
		  "networks like [\"127.0.0.1\", \"10.0.0.0/8\"]" },
		{ "metrics = { allow = [ \"localhost\" ]; };",
		  "tern.conf:1: metrics.allow[0]: \"localhost\" is not a numeric "
		  "IPv4 or IPv6 address or CIDR network" },
		{ "metrics = { allow = [ \"::1\", \"10.0.0.1/8\" ]; };",
		  "tern.conf:1: metrics.allow[1]: \"10.0.0.1/8\" has address bits "
		  "set past its prefix length" },
	};
	static const char *const nets[] = {
		"1.2.3.4/33", "::/129", "1.2.3.4/", "1.2.3.4/+1", "1.2.3.4/ 1",
		"1.2.3.4/0008", "/8", "1.2.3", "", "1.2.3.4 ", "::1/1/1",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(bad[i].text, TERN_EINVAL, bad[i].msg);
	for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
		char text[128], msg[160];

		snprintf(text, sizeof text, "metrics = { allow = [ \"%s\" ]; };",
			 nets[i]);
		snprintf(msg, sizeof msg, "tern.conf:1: metrics.allow[0]: \"%s\" "
			 "is not a numeric IPv4 or IPv6 address or CIDR network",
			 nets[i]);
		expect_error(text, TERN_EINVAL, msg);
	}
	/* nothing changed */
	cr_assert_eq(cfg.metrics.nallow, 2);
	cr_assert_str_eq(cfg.metrics.path, "/metrics");

	cfg.metrics.path = "no-slash";
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), TERN_EINVAL);
	cr_assert_str_eq(err, "metrics.path: must be a path like \"/metrics\"");
}

Test(config, metrics_diff_needs_restart)
{
	tern_config def;
	char out[256];
	bool restart = false;

	tern_config_defaults(&def);
	cr_assert_eq(load("metrics = { allow = [ \"127.0.0.1\", \"::1\" ]; };"),
		     0, "%s", err);
	cr_assert_eq(tern_config_diff(&def, &cfg, out, sizeof out, &restart), 0,
		     "the defaults, written out: %s", out);
	cr_assert_eq(load("metrics = { enabled = true; allow = [ \"::1\" ]; };"),
		     0, "%s", err);
	cr_assert_eq(tern_config_diff(&def, &cfg, out, sizeof out, &restart), 2);
	cr_assert_str_eq(out, "metrics.enabled=true metrics.allow=[1 networks]");
	cr_assert(restart);
}

Test(config, sample_file_names_metrics)
{
	FILE *f = fopen(sample_path(), "r");
	char *text = calloc(1, 65536);

	cr_assert(f);
	cr_assert(fread(text, 1, 65535, f) > 0);
	fclose(f);
	cr_assert(strstr(text, "\nmetrics = {\n"), "sample lacks metrics");
	cr_assert(strstr(text, "\tenabled = false;"), "sample lacks enabled");
	cr_assert(strstr(text, "\tpath = \"/metrics\";"), "sample lacks path");
	cr_assert(strstr(text, "\tallow = [ \"127.0.0.1\", \"::1\" ];"),
		  "sample lacks allow");
	free(text);
}
