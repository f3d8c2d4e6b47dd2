/*
 * The relay configuration: a strict libconfig loader, checks and a
 * setting-by-setting diff (include/tern/config.h, docs/CONFIG.md); the
 * defaults are in defaults.c.
 *
 * One table lists every setting with its type, field, range and whether
 * SIGHUP reloads it; loading, validation and the diff all walk it, so a
 * new setting is one table row (plus its docs).
 *
 * libconfig 1.5 is lenient in two ways this loader must not be:
 *  - a plain integer literal that does not fit 32 bits is silently
 *    truncated (3000000000 reads as -1294967296) and an "L" literal beyond
 *    64 bits saturates;
 *  - `@include "path"` reads another file, relative to the working
 *    directory, and line numbers then point into that file.
 * So the text first goes through tern__config_prescan() (prescan.c), a small
 * tokenizer that knows
 * libconfig's comments, strings and names: it refuses @include and integer
 * literals outside the signed 64-bit range, and appends the "L" suffix to
 * plain literals beyond 32 bits so that libconfig reads them as 64-bit.
 * Appending a character keeps every line number unchanged. It also works
 * around libconfig 1.5 bugs: a text ending in a # or // comment without a
 * newline is a syntax error, and some syntax errors leak memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/config.h>
#include <tern/error.h>

#include "config/management.h"
#include "config/metrics.h"
#include "config/prescan.h"
#include "core/utf8.h"

struct tern__config_owned {
	struct tern__config_owned *next;
	max_align_t data[];
};

/* ---- the settings table ------------------------------------------------ */

/* K_KINDS: an array of kinds (const uint32_t * at off, its size_t count
 * at noff); K_LETTERS: an array of one-letter strings, kept as one string
 * of those letters (const char * at off). */
enum kind {
	K_GROUP, K_U16, K_U32, K_U64, K_BOOL, K_STR, K_LEVEL, K_KINDS,
	K_LETTERS, K_PUBKEYS, K_NETS /* 32-byte keys / tern_config_nets at off,
					count at noff */
};

/* Extra checks on string values (all must also be valid UTF-8). */
enum check { C_NONE, C_NONEMPTY, C_ADDR, C_WSURL, C_HEADER, C_PUBKEY, C_PATH };

struct setting {
	const char *name;
	unsigned char kind;
	unsigned char check;
	bool reload; /* SIGHUP applies it */
	size_t off;
	uint64_t min, max;
	size_t noff; /* K_KINDS: the count field */
};

#define OFF(f) offsetof(tern_config, f)
#define GROUP(n) { n, K_GROUP, C_NONE, true, 0, 0, 0, 0 }
#define INT(n, k, f, lo, hi, r) { n, k, C_NONE, r, OFF(f), lo, hi, 0 }
#define BOOL(n, f, r) { n, K_BOOL, C_NONE, r, OFF(f), 0, 1, 0 }
#define STR(n, f, c, r) { n, K_STR, c, r, OFF(f), 0, 0, 0 }
#define KINDS(n, f, nf, r) { n, K_KINDS, C_NONE, r, OFF(f), 0, 65535, OFF(nf) }
#define LETTERS(n, f, r) { n, K_LETTERS, C_NONE, r, OFF(f), 0, 52, 0 }
#define RATE(n, f)                                                             \
	GROUP(n),                                                              \
	INT(n ".tokens_per_interval", K_U32, f.tokens_per_interval, 0,       \
	    1000000, false),                                                   \
	INT(n ".interval", K_U32, f.interval, 1, 86400, false),               \
	INT(n ".max_tokens", K_U32, f.max_tokens, 0, 1000000, false)
#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

static const struct setting settings[] = {
	GROUP("relay"),
	STR("relay.bind", relay.bind, C_ADDR, false),
	INT("relay.port", K_U16, relay.port, 1, 65535, false),
	INT("relay.io_threads", K_U32, relay.io_threads, 0, 1024, false),
	STR("relay.service_url", relay.service_url, C_WSURL, true),
	STR("relay.trusted_proxy_header", relay.trusted_proxy_header,
	    C_HEADER, true),
	{ "relay.log_level", K_LEVEL, C_NONE, true, OFF(relay.log_level),
	  TERN_LOG_ERROR, TERN_LOG_DEBUG, 0 },
	INT("relay.shutdown_grace", K_U32, relay.shutdown_grace, 0, 3600, true),

	GROUP("relay.info"),
	STR("relay.info.name", relay.info.name, C_NONE, true),
	STR("relay.info.description", relay.info.description, C_NONE, true),
	STR("relay.info.pubkey", relay.info.pubkey, C_PUBKEY, true),
	STR("relay.info.contact", relay.info.contact, C_NONE, true),
	STR("relay.info.icon", relay.info.icon, C_NONE, true),
	STR("relay.info.banner", relay.info.banner, C_NONE, true),
	STR("relay.info.privacy_policy", relay.info.privacy_policy, C_NONE,
	    true),
	STR("relay.info.terms_of_service", relay.info.terms_of_service,
	    C_NONE, true),
	STR("relay.info.posting_policy", relay.info.posting_policy, C_NONE,
	    true),

	GROUP("relay.limits"),
	INT("relay.limits.max_message_length", K_U32,
	    relay.limits.max_message_length, KIB, 256 * MIB, true),
	INT("relay.limits.max_subscriptions", K_U32,
	    relay.limits.max_subscriptions, 1, 65536, true),
	INT("relay.limits.max_filters", K_U32, relay.limits.max_filters, 1,
	    1024, true),
	INT("relay.limits.max_limit", K_U32, relay.limits.max_limit, 1,
	    1000000, true),
	INT("relay.limits.default_limit", K_U32, relay.limits.default_limit,
	    1, 1000000, true),
	INT("relay.limits.max_subid_length", K_U32,
	    relay.limits.max_subid_length, 1, 64, true),
	INT("relay.limits.max_event_tags", K_U32, relay.limits.max_event_tags,
	    1, 1000000, true),
	INT("relay.limits.max_content_length", K_U32,
	    relay.limits.max_content_length, 0, 256 * MIB, true),
	INT("relay.limits.max_output_queue", K_U64,
	    relay.limits.max_output_queue, 64 * KIB, 16 * GIB, true),
	INT("relay.limits.min_pow_difficulty", K_U32,
	    relay.limits.min_pow_difficulty, 0, 256, true),
	INT("relay.limits.created_at_lower_limit", K_U64,
	    relay.limits.created_at_lower_limit, 0, UINT32_MAX, true),
	INT("relay.limits.created_at_upper_limit", K_U64,
	    relay.limits.created_at_upper_limit, 0, UINT32_MAX, true),
	BOOL("relay.limits.auth_required", relay.limits.auth_required, true),
	INT("relay.limits.max_connections_per_ip", K_U32,
	    relay.limits.max_connections_per_ip, 0, 1000000, true),

	GROUP("relay.auth"),
	KINDS("relay.auth.restricted_kinds", relay.auth.restricted_kinds,
	      relay.auth.n_restricted_kinds, true),

	GROUP("relay.websocket"),
	INT("relay.websocket.ping_interval", K_U32,
	    relay.websocket.ping_interval, 0, 86400, true),
	INT("relay.websocket.ping_timeout", K_U32,
	    relay.websocket.ping_timeout, 1, 86400, true),
	BOOL("relay.websocket.compression", relay.websocket.compression,
	     true),
	BOOL("relay.websocket.compression_context_takeover",
	     relay.websocket.compression_context_takeover, true),
	INT("relay.websocket.max_window_bits", K_U32,
	    relay.websocket.max_window_bits, 9, 15, true),

	/* policies are registered once, when the relay starts */
	GROUP("relay.policies"),
	BOOL("relay.policies.apply_defaults", relay.policies.apply_defaults,
	     false),
	INT("relay.policies.rate_limit_keys", K_U32,
	    relay.policies.rate_limit_keys, 512, 16 * MIB, false),
	RATE("relay.policies.connection_rate_limit",
	     relay.policies.connection_rate_limit),
	INT("relay.policies.max_content_length", K_U32,
	    relay.policies.max_content_length, 0, 256 * MIB, false),
	INT("relay.policies.max_indexable_tags", K_U32,
	    relay.policies.max_indexable_tags, 0, 1000000, false),
	KINDS("relay.policies.max_indexable_tags_ignore_kinds",
	      relay.policies.max_indexable_tags_ignore_kinds,
	      relay.policies.n_max_indexable_tags_ignore_kinds, false),
	KINDS("relay.policies.max_indexable_tags_only_kinds",
	      relay.policies.max_indexable_tags_only_kinds,
	      relay.policies.n_max_indexable_tags_only_kinds, false),
	INT("relay.policies.max_tag_value_length", K_U32,
	    relay.policies.max_tag_value_length, 0, 256 * MIB, false),
	KINDS("relay.policies.allowed_kinds", relay.policies.allowed_kinds,
	      relay.policies.n_allowed_kinds, false),
	BOOL("relay.policies.allow_ephemeral", relay.policies.allow_ephemeral,
	     false),
	INT("relay.policies.max_past", K_U64, relay.policies.max_past, 0,
	    UINT32_MAX, false),
	INT("relay.policies.max_future", K_U64, relay.policies.max_future, 0,
	    UINT32_MAX, false),
	BOOL("relay.policies.reject_base64_media",
	     relay.policies.reject_base64_media, false),
	BOOL("relay.policies.only_protected_events",
	     relay.policies.only_protected_events, false),
	BOOL("relay.policies.validate_kind", relay.policies.validate_kind,
	     false),
	INT("relay.policies.min_pow", K_U32, relay.policies.min_pow, 0, 256,
	    false),
	RATE("relay.policies.event_ip_rate_limit",
	     relay.policies.event_ip_rate_limit),
	RATE("relay.policies.event_pubkey_rate_limit",
	     relay.policies.event_pubkey_rate_limit),
	RATE("relay.policies.event_authed_rate_limit",
	     relay.policies.event_authed_rate_limit),
	BOOL("relay.policies.must_auth", relay.policies.must_auth, false),
	BOOL("relay.policies.reject_kind4_snoopers",
	     relay.policies.reject_kind4_snoopers, false),
	BOOL("relay.policies.no_empty_filters",
	     relay.policies.no_empty_filters, false),
	BOOL("relay.policies.no_complex_filters",
	     relay.policies.no_complex_filters, false),
	BOOL("relay.policies.anti_sync_bots", relay.policies.anti_sync_bots,
	     false),
	BOOL("relay.policies.no_search_queries",
	     relay.policies.no_search_queries, false),
	RATE("relay.policies.filter_ip_rate_limit",
	     relay.policies.filter_ip_rate_limit),
	BOOL("relay.policies.remove_search_queries",
	     relay.policies.remove_search_queries, false),
	KINDS("relay.policies.remove_all_but_kinds",
	      relay.policies.remove_all_but_kinds,
	      relay.policies.n_remove_all_but_kinds, false),
	LETTERS("relay.policies.remove_all_but_tags",
		relay.policies.remove_all_but_tags, false),

	GROUP("relay.plugin"),
	STR("relay.plugin.command", relay.plugin.command, C_NONE, false),
	INT("relay.plugin.timeout_ms", K_U32, relay.plugin.timeout_ms, 1,
	    60000, false),
	BOOL("relay.plugin.fail_open", relay.plugin.fail_open, false),
	BOOL("relay.plugin.reload_on_change", relay.plugin.reload_on_change,
	     false),

	GROUP("store"),
	STR("store.dir", store.dir, C_NONEMPTY, false),
	INT("store.map_size", K_U64, store.map_size, MIB, (uint64_t)1 << 44,
	    false),
	INT("store.batch_max", K_U32, store.batch_max, 1, 1000000, false),
	INT("store.queue_max", K_U32, store.queue_max, 1, 16 * MIB, false),
	INT("store.purge_interval", K_U32, store.purge_interval, 0, 604800,
	    false),
	BOOL("store.no_sync", store.no_sync, false),

	GROUP("management"),
	{ "management.admins", K_PUBKEYS, C_NONE, false, OFF(management.admins),
	  0, TERN_CONFIG_MAX_ADMINS, OFF(management.nadmins) },

	GROUP("metrics"),
	BOOL("metrics.enabled", metrics.enabled, false),
	STR("metrics.path", metrics.path, C_PATH, false),
	{ "metrics.allow", K_NETS, C_NONE, false, OFF(metrics.allow), 0,
	  TERN_CONFIG_MAX_NETS, OFF(metrics.nallow) },
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static const struct setting *find_setting(const char *name, size_t *idx)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].name, name)) {
			*idx = i;
			return &settings[i];
		}
	return NULL;
}

static void *field(const tern_config *c, const struct setting *s)
{
	return (char *)c + s->off;
}

static uint64_t get_int(const tern_config *c, const struct setting *s)
{
	const void *p = field(c, s);

	switch (s->kind) {
	case K_U16: return *(const uint16_t *)p;
	case K_U32: return *(const uint32_t *)p;
	case K_U64: return *(const uint64_t *)p;
	case K_BOOL: return *(const bool *)p;
	case K_LEVEL: return (uint64_t)*(const tern_log_level *)p;
	default: return 0;
	}
}

static void set_int(tern_config *c, const struct setting *s, uint64_t v)
{
	void *p = field(c, s);

	switch (s->kind) {
	case K_U16: *(uint16_t *)p = (uint16_t)v; break;
	case K_U32: *(uint32_t *)p = (uint32_t)v; break;
	case K_U64: *(uint64_t *)p = v; break;
	case K_BOOL: *(bool *)p = v != 0; break;
	case K_LEVEL: *(tern_log_level *)p = (tern_log_level)v; break;
	default: break;
	}
}

static const char *get_str(const tern_config *c, const struct setting *s)
{
	return *(const char *const *)field(c, s);
}

static const uint32_t *get_kinds(const tern_config *c, const struct setting *s,
				 size_t *n)
{
	*n = *(const size_t *)((const char *)c + s->noff);
	return *(const uint32_t *const *)field(c, s);
}

static void set_kinds(tern_config *c, const struct setting *s,
		      const uint32_t *k, size_t n)
{
	*(const uint32_t **)field(c, s) = k;
	*(size_t *)((char *)c + s->noff) = n;
}

/* ---- ownership ---------------------------------------------------------- */

static void free_list(struct tern__config_owned *o)
{
	while (o) {
		struct tern__config_owned *next = o->next;
		free(o);
		o = next;
	}
}

void tern_config_free(tern_config *c)
{
	if (!c)
		return;
	free_list(c->owned_);
	tern_config_defaults(c);
}

static void *own(struct tern__config_owned **list, size_t n)
{
	struct tern__config_owned *o = malloc(sizeof *o + n);

	if (!o)
		return NULL;
	o->next = *list;
	*list = o;
	return o->data;
}

static bool referenced(const tern_config *c, const void *p)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];

		if ((s->kind == K_STR || s->kind == K_LETTERS ||
		     s->kind == K_KINDS || s->kind >= K_PUBKEYS) &&
		    *(const void *const *)field(c, s) == p)
			return true;
	}
	return false;
}

/* Frees the owned blocks no field points at any more (replaced values). */
static void collect(tern_config *c)
{
	struct tern__config_owned **pp = &c->owned_;

	while (*pp) {
		struct tern__config_owned *o = *pp;

		if (referenced(c, o->data)) {
			pp = &o->next;
		} else {
			*pp = o->next;
			free(o);
		}
	}
}

/* ---- messages ------------------------------------------------------------ */

/* A bounded string builder: appends what fits, always NUL-terminated. */
struct sbuf {
	char *p;
	size_t cap, len; /* len may exceed cap - 1: what was wanted */
};

static void sb_vadd(struct sbuf *b, const char *fmt, va_list ap)
{
	size_t room = b->len < b->cap ? b->cap - b->len : 0;
	int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);

	if (n > 0)
		b->len += (size_t)n;
}

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vadd(b, fmt, ap);
	va_end(ap);
}

/* Appends s quoted, escaping quotes, backslashes and control bytes; at
 * most max input bytes, then "...". */
static void sb_quote(struct sbuf *b, const char *s, size_t max)
{
	size_t i;

	sb_add(b, "\"");
	for (i = 0; s[i] && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			sb_add(b, "\\%c", ch);
		else if (ch == '\n')
			sb_add(b, "\\n");
		else if (ch == '\t')
			sb_add(b, "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			sb_add(b, "\\x%02x", ch);
		else
			sb_add(b, "%c", ch);
	}
	sb_add(b, s[i] ? "\"..." : "\"");
}

struct ld {
	tern_config tmp;                   /* the working copy */
	struct tern__config_owned *fresh;  /* what this load allocated */
	const char *name;                  /* file name for messages */
	unsigned line_of[NSETTINGS];       /* where the text set each one */
	struct sbuf err;
};

/* Formats "NAME:LINE: " (or "NAME: ", or nothing without a name) and the
 * message into the error buffer; returns rc. */
static int fail(struct sbuf *e, const char *name, unsigned line, int rc,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(struct sbuf *e, const char *name, unsigned line, int rc,
		const char *fmt, ...)
{
	va_list ap;

	e->len = 0;
	if (e->cap)
		e->p[0] = '\0';
	if (name && line)
		sb_add(e, "%s:%u: ", name, line);
	else if (name)
		sb_add(e, "%s: ", name);
	va_start(ap, fmt);
	sb_vadd(e, fmt, ap);
	va_end(ap);
	return rc;
}

static const char *type_noun(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "integer";
	case CONFIG_TYPE_FLOAT: return "float";
	case CONFIG_TYPE_STRING: return "string";
	case CONFIG_TYPE_BOOL: return "boolean";
	case CONFIG_TYPE_ARRAY: return "array";
	case CONFIG_TYPE_LIST: return "list";
	default: return "value";
	}
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "a value";
	}
}

/* ---- value checks shared by the loader and tern_config_validate() ------ */

static bool is_letter(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_tchar(unsigned char ch)
{
	/* RFC 9110 token characters */
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A ws:// or wss:// URL with a host and no whitespace or control bytes. */
static bool ws_url_ok(const char *s)
{
	size_t skip;

	if (!strncmp(s, "ws://", 5))
		skip = 5;
	else if (!strncmp(s, "wss://", 6))
		skip = 6;
	else
		return false;
	if (!s[skip] || s[skip] == '/' || s[skip] == ':' || s[skip] == '?' ||
	    s[skip] == '#')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Checks a string value; on failure writes "SETTING: ..." after the
 * location the caller already put in e. */
static bool check_string(struct sbuf *e, const struct setting *s,
			 const char *v)
{
	if (!v) {
		sb_add(e, "%s: is not set", s->name);
		return false;
	}
	if (!tern__utf8_valid((const uint8_t *)v, strlen(v))) {
		sb_add(e, "%s: not valid UTF-8", s->name);
		return false;
	}
	switch (s->check) {
	case C_NONEMPTY:
		if (*v)
			return true;
		sb_add(e, "%s: must not be empty", s->name);
		return false;
	case C_ADDR: {
		unsigned char buf[sizeof(struct in6_addr)];

		if (inet_pton(AF_INET, v, buf) == 1 ||
		    inet_pton(AF_INET6, v, buf) == 1)
			return true;
		sb_add(e, "%s: ", s->name);
		sb_quote(e, v, 64);
		sb_add(e, " is not a numeric IPv4 or IPv6 address");
		return false;
	}
	case C_WSURL:
		if (!*v || ws_url_ok(v))
			return true;
		sb_add(e, "%s: ", s->name);
		sb_quote(e, v, 64);
		sb_add(e, " is not a ws:// or wss:// URL (or \"\")");
		return false;
	case C_HEADER: {
		size_t n = strlen(v);
		bool ok = n <= 64;

		for (size_t i = 0; ok && i < n; i++)
			ok = is_tchar((unsigned char)v[i]);
		if (ok)
			return true;
		sb_add(e, "%s: ", s->name);
		sb_quote(e, v, 64);
		sb_add(e, " is not an HTTP header name (or \"\")");
		return false;
	}
	case C_PUBKEY: {
		size_t n = strlen(v);
		bool ok = n == 0 || n == 64;

		for (size_t i = 0; ok && i < n; i++)
			ok = (v[i] >= '0' && v[i] <= '9') ||
			     (v[i] >= 'a' && v[i] <= 'f');
		if (ok)
			return true;
		sb_add(e, "%s: must be 64 lowercase hex characters (or \"\")",
		       s->name);
		return false;
	}
	case C_PATH:
		if (!tern__config_http_path_ok(v))
			sb_add(e, "%s: must be a path like \"/metrics\"", s->name);
		return tern__config_http_path_ok(v);
	default:
		return true;
	}
}

static void range_msg(struct sbuf *e, const char *what, long long v,
		      const struct setting *s)
{
	sb_add(e, "%s: %lld is out of range %llu..%llu", what, v,
	       (unsigned long long)s->min, (unsigned long long)s->max);
}

/*
 * Checks between settings. line_of (may be NULL) says where the text set
 * each one: a load reports a contradiction only when the text set one of
 * the two settings, at the later of their lines.
 */
static int cross_check(const tern_config *c, const unsigned *line_of,
		       struct sbuf *e, const char *name)
{
	/* hi must be at least lo */
	static const struct {
		const char *lo, *hi;
	} pairs[] = {
		{ "relay.websocket.ping_interval", "relay.websocket.ping_timeout" },
		{ "relay.limits.max_message_length",
		  "relay.limits.max_output_queue" },
	};

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		size_t ilo = 0, ihi = 0;
		const struct setting *lo = find_setting(pairs[i].lo, &ilo);
		const struct setting *hi = find_setting(pairs[i].hi, &ihi);
		uint64_t vlo = get_int(c, lo), vhi = get_int(c, hi);
		unsigned line = 0;

		if (line_of) {
			line = line_of[ilo] > line_of[ihi] ? line_of[ilo]
							   : line_of[ihi];
			if (!line)
				continue;
		}
		/* a ping interval of 0 disables pings: nothing to compare */
		if (vhi >= vlo || (i == 0 && vlo == 0))
			continue;
		return fail(e, name, line, TERN_EINVAL,
			    "%s (%llu) must be at least %s (%llu)", hi->name,
			    (unsigned long long)vhi, lo->name,
			    (unsigned long long)vlo);
	}
	return 0;
}

int tern_config_validate(const tern_config *c, char *err, size_t errcap)
{
	struct sbuf e = { err, errcap, 0 };

	if (errcap)
		err[0] = '\0';
	if (!c)
		return fail(&e, NULL, 0, TERN_EINVAL, "no configuration");
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		uint64_t v;

		switch (s->kind) {
		case K_GROUP:
			break;
		case K_STR:
			if (!check_string(&e, s, get_str(c, s)))
				return TERN_EINVAL;
			break;
		case K_LETTERS: {
			const char *str = get_str(c, s);

			if (!str)
				return fail(&e, NULL, 0, TERN_EINVAL,
					    "%s: is not set", s->name);
			for (size_t j = 0; str[j]; j++)
				if (!is_letter(str[j]) || j >= s->max)
					return fail(&e, NULL, 0, TERN_EINVAL,
						    "%s: must be at most %llu "
						    "letters a-z or A-Z",
						    s->name,
						    (unsigned long long)s->max);
			break;
		}
		case K_KINDS: {
			size_t n;
			const uint32_t *k = get_kinds(c, s, &n);

			if (n > TERN_CONFIG_MAX_KINDS)
				return fail(&e, NULL, 0, TERN_EINVAL,
					    "%s: %zu kinds (at most %d)",
					    s->name, n, TERN_CONFIG_MAX_KINDS);
			if (n && !k)
				return fail(&e, NULL, 0, TERN_EINVAL,
					    "%s: %zu kinds but no array",
					    s->name, n);
			for (size_t j = 0; j < n; j++)
				if (k[j] > s->max) {
					fail(&e, NULL, 0, TERN_EINVAL, "%s", "");
					char what[64];
					snprintf(what, sizeof what, "%s[%zu]",
						 s->name, j);
					range_msg(&e, what, k[j], s);
					return TERN_EINVAL;
				}
			break;
		}
		default:
			v = get_int(c, s);
			if (v < s->min || v > s->max) {
				if (s->kind == K_LEVEL)
					return fail(&e, NULL, 0, TERN_EINVAL,
						    "%s: unknown log level %llu",
						    s->name,
						    (unsigned long long)v);
				range_msg(&e, s->name, (long long)v, s);
				return TERN_EINVAL;
			}
		}
	}
	return cross_check(c, NULL, &e, NULL);
}

/* ---- the loader ----------------------------------------------------------- */

static int load_int(struct ld *l, const struct setting *s,
		    const config_setting_t *v, unsigned line)
{
	int type = config_setting_type(v);

	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return fail(&l->err, l->name, line, TERN_EINVAL,
			    "%s: expected an integer in %llu..%llu, got %s",
			    s->name, (unsigned long long)s->min,
			    (unsigned long long)s->max, type_name(type));
	long long x = config_setting_get_int64(v);
	if (x < 0 || (uint64_t)x < s->min || (uint64_t)x > s->max) {
		fail(&l->err, l->name, line, TERN_EINVAL, "%s", "");
		range_msg(&l->err, s->name, x, s);
		return TERN_EINVAL;
	}
	set_int(&l->tmp, s, (uint64_t)x);
	return 0;
}

static int load_kinds(struct ld *l, const struct setting *s,
		      const config_setting_t *v, unsigned line)
{
	int type = config_setting_type(v);
	int n = config_setting_length(v);
	int et = n > 0 ? config_setting_type(config_setting_get_elem(v, 0))
		       : CONFIG_TYPE_INT;

	if (type != CONFIG_TYPE_ARRAY ||
	    (et != CONFIG_TYPE_INT && et != CONFIG_TYPE_INT64))
		return fail(&l->err, l->name, line, TERN_EINVAL,
			    "%s: expected an array of integers in %llu..%llu "
			    "like [4, 1059], got %s%s%s",
			    s->name, (unsigned long long)s->min,
			    (unsigned long long)s->max, type_name(type),
			    type == CONFIG_TYPE_ARRAY ? " of " : "",
			    type == CONFIG_TYPE_ARRAY ? type_noun(et) : "");
	if (n > TERN_CONFIG_MAX_KINDS)
		return fail(&l->err, l->name, line, TERN_EINVAL,
			    "%s: %d kinds (at most %d)", s->name, n,
			    TERN_CONFIG_MAX_KINDS);
	uint32_t *k = NULL;
	if (n > 0) {
		k = own(&l->fresh, (size_t)n * sizeof *k);
		if (!k)
			return fail(&l->err, l->name, 0, TERN_ENOMEM,
				    "out of memory");
	}
	for (int i = 0; i < n; i++) {
		long long x = config_setting_get_int64_elem(v, i);

		if (x < 0 || (uint64_t)x > s->max) {
			char what[64];

			snprintf(what, sizeof what, "%s[%d]", s->name, i);
			fail(&l->err, l->name, line, TERN_EINVAL, "%s", "");
			range_msg(&l->err, what, x, s);
			return TERN_EINVAL;
		}
		k[i] = (uint32_t)x;
	}
	set_kinds(&l->tmp, s, k, (size_t)n);
	return 0;
}

/* An array of one-letter strings (tag names), kept as "ept". */
static int load_letters(struct ld *l, const struct setting *s,
			const config_setting_t *v, unsigned line)
{
	int type = config_setting_type(v);
	int n = config_setting_length(v);
	int et = n > 0 ? config_setting_type(config_setting_get_elem(v, 0))
		       : CONFIG_TYPE_STRING;
	char *out;

	if (type != CONFIG_TYPE_ARRAY || et != CONFIG_TYPE_STRING)
		return fail(&l->err, l->name, line, TERN_EINVAL,
			    "%s: expected an array of one-letter strings "
			    "like [\"e\", \"p\"], got %s%s%s",
			    s->name, type_name(type),
			    type == CONFIG_TYPE_ARRAY ? " of " : "",
			    type == CONFIG_TYPE_ARRAY ? type_noun(et) : "");
	if ((uint64_t)n > s->max)
		return fail(&l->err, l->name, line, TERN_EINVAL,
			    "%s: %d letters (at most %llu)", s->name, n,
			    (unsigned long long)s->max);
	out = own(&l->fresh, (size_t)n + 1);
	if (!out)
		return fail(&l->err, l->name, 0, TERN_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *str = config_setting_get_string_elem(v, i);

		if (!str || !is_letter(str[0]) || str[1]) {
			fail(&l->err, l->name, line, TERN_EINVAL,
			     "%s[%d]: expected one letter a-z or A-Z, got ",
			     s->name, i);
			sb_quote(&l->err, str ? str : "", 16);
			return TERN_EINVAL;
		}
		out[i] = str[0];
	}
	out[n] = '\0';
	*(const char **)field(&l->tmp, s) = out;
	return 0;
}

static int load_value(struct ld *l, const struct setting *s,
		      const config_setting_t *v, unsigned line)
{
	int type = config_setting_type(v);

	switch (s->kind) {
	case K_U16:
	case K_U32:
	case K_U64:
		return load_int(l, s, v, line);
	case K_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			return fail(&l->err, l->name, line, TERN_EINVAL,
				    "%s: expected true or false, got %s",
				    s->name, type_name(type));
		set_int(&l->tmp, s, config_setting_get_bool(v) != 0);
		return 0;
	case K_LEVEL: {
		tern_log_level lv;
		const char *str = type == CONFIG_TYPE_STRING
					  ? config_setting_get_string(v) : NULL;

		if (str && tern_log_level_parse(str, &lv) == 0) {
			set_int(&l->tmp, s, (uint64_t)lv);
			return 0;
		}
		fail(&l->err, l->name, line, TERN_EINVAL,
		     "%s: expected \"error\", \"warn\", \"info\" or \"debug\", "
		     "got ", s->name);
		if (str)
			sb_quote(&l->err, str, 64);
		else
			sb_add(&l->err, "%s", type_name(type));
		return TERN_EINVAL;
	}
	case K_STR: {
		if (type != CONFIG_TYPE_STRING)
			return fail(&l->err, l->name, line, TERN_EINVAL,
				    "%s: expected a string, got %s", s->name,
				    type_name(type));
		const char *str = config_setting_get_string(v);
		fail(&l->err, l->name, line, 0, "%s", "");
		if (!check_string(&l->err, s, str))
			return TERN_EINVAL;
		size_t n = strlen(str) + 1;
		char *copy = own(&l->fresh, n);
		if (!copy)
			return fail(&l->err, l->name, 0, TERN_ENOMEM,
				    "out of memory");
		memcpy(copy, str, n);
		*(const char **)field(&l->tmp, s) = copy;
		return 0;
	}
	case K_KINDS:
		return load_kinds(l, s, v, line);
	case K_LETTERS:
		return load_letters(l, s, v, line);
	case K_PUBKEYS:
	case K_NETS: {
		int n = config_setting_length(v);
		size_t es = s->kind == K_NETS ? sizeof(tern_config_net) : 32;
		void *k = n > 0 ? own(&l->fresh, (size_t)n * es) : NULL;
		char msg[160];
		long m;

		if (n > 0 && !k)
			return fail(&l->err, l->name, 0, TERN_ENOMEM,
				    "out of memory");
		m = s->kind == K_NETS ? tern__config_nets(v, k, msg, sizeof msg)
				      : tern__config_admins(v, k, msg, sizeof msg);
		if (m < 0)
			return fail(&l->err, l->name, line, TERN_EINVAL,
				    "%s%s%s", s->name, msg[0] == '[' ? "" : ": ",
				    msg);
		*(const void **)field(&l->tmp, s) = m ? k : NULL;
		*(size_t *)((char *)&l->tmp + s->noff) = (size_t)m;
		return 0;
	}
	default:
		return TERN_EINVAL;
	}
}

static int load_group(struct ld *l, const config_setting_t *g,
		      const char *prefix)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *v = config_setting_get_elem(g, i);
		const char *nm = v ? config_setting_name(v) : NULL;
		unsigned line = v ? config_setting_source_line(v) : 0;
		char path[128];
		size_t idx;
		int rc;

		if (!nm)
			return fail(&l->err, l->name, line, TERN_EINVAL,
				    "unnamed setting");
		int w = snprintf(path, sizeof path, "%s%s%s", prefix,
				 *prefix ? "." : "", nm);
		const struct setting *s = w > 0 && (size_t)w < sizeof path
						  ? find_setting(path, &idx)
						  : NULL;
		if (!s)
			return fail(&l->err, l->name, line, TERN_EINVAL,
				    "unknown setting %s%s%.100s", prefix,
				    *prefix ? "." : "", nm);
		if (s->kind == K_GROUP) {
			if (config_setting_type(v) != CONFIG_TYPE_GROUP)
				return fail(&l->err, l->name, line, TERN_EINVAL,
					    "%s: expected a group { ... }, got %s",
					    s->name,
					    type_name(config_setting_type(v)));
			rc = load_group(l, v, s->name);
		} else {
			rc = load_value(l, s, v, line);
		}
		if (rc)
			return rc;
		l->line_of[idx] = line ? line : 1;
	}
	return 0;
}

int tern_config_load_string(tern_config *c, const char *text,
			    const char *name, char *err, size_t errcap)
{
	struct ld *l;
	char *buf = NULL;
	config_t cfg;
	int rc;

	if (errcap)
		err[0] = '\0';
	if (!name)
		name = "<string>";
	struct sbuf e = { err, errcap, 0 };
	if (!c || !text)
		return fail(&e, name, 0, TERN_EINVAL, "no configuration");
	size_t len = strnlen(text, TERN_CONFIG_MAX_SIZE + 1);
	if (len > TERN_CONFIG_MAX_SIZE)
		return fail(&e, name, 0, TERN_ETOOBIG, "larger than %u bytes",
			    TERN_CONFIG_MAX_SIZE);

	l = calloc(1, sizeof *l);
	if (!l)
		return fail(&e, name, 0, TERN_ENOMEM, "out of memory");
	l->tmp = *c;
	l->name = name;
	l->err = e;

	rc = tern__config_prescan(text, len, &buf, name, l->err.p, l->err.cap);
	if (rc) {
		l->err.len = l->err.cap ? strlen(l->err.p) : 0;
		goto out;
	}
	config_init(&cfg);
	if (!config_read_string(&cfg, buf)) {
		const char *msg = config_error_text(&cfg);

		rc = fail(&l->err, name, (unsigned)config_error_line(&cfg),
			  TERN_EPARSE, "%s", msg ? msg : "syntax error");
	} else {
		rc = load_group(l, config_root_setting(&cfg), "");
		if (!rc)
			rc = cross_check(&l->tmp, l->line_of, &l->err, name);
	}
	config_destroy(&cfg);
	if (rc)
		goto out;

	/* commit: the struct takes the new blocks, drops replaced ones */
	struct tern__config_owned **tail = &l->fresh;
	while (*tail)
		tail = &(*tail)->next;
	*tail = c->owned_;
	l->tmp.owned_ = l->fresh;
	l->fresh = NULL;
	*c = l->tmp;
	collect(c);
	if (errcap)
		err[0] = '\0';
out:
	free_list(l->fresh);
	free(l);
	free(buf);
	return rc;
}

int tern_config_load_file(tern_config *c, const char *path, char *err,
			  size_t errcap)
{
	struct sbuf e = { err, errcap, 0 };
	size_t cap = TERN_CONFIG_MAX_SIZE + 1, len = 0;
	char *buf;
	int fd, rc;

	if (errcap)
		err[0] = '\0';
	if (!c || !path)
		return fail(&e, path, 0, TERN_EINVAL, "no configuration");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(&e, path, 0, -errno, "%s", strerror(errno));
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return fail(&e, path, 0, TERN_ENOMEM, "out of memory");
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(&e, path, 0, -errno, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > TERN_CONFIG_MAX_SIZE) {
		rc = fail(&e, path, 0, TERN_ETOOBIG, "larger than %u bytes",
			  TERN_CONFIG_MAX_SIZE);
		goto out;
	}
	buf[len] = '\0';
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		unsigned line = 1;

		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		rc = fail(&e, path, line, TERN_EPARSE, "NUL byte in the file");
		goto out;
	}
	rc = tern_config_load_string(c, buf, path, err, errcap);
out:
	close(fd);
	free(buf);
	return rc;
}

/* ---- diff ------------------------------------------------------------------ */

static bool same(const tern_config *a, const tern_config *b,
		 const struct setting *s)
{
	switch (s->kind) {
	case K_STR: {
		const char *x = get_str(a, s), *y = get_str(b, s);

		return x == y || (x && y && !strcmp(x, y));
	}
	case K_LETTERS: {
		const char *x = get_str(a, s), *y = get_str(b, s);

		return x == y || (x && y && !strcmp(x, y));
	}
	case K_KINDS: {
		size_t n, m;
		const uint32_t *x = get_kinds(a, s, &n), *y = get_kinds(b, s, &m);

		return n == m && (!n || !memcmp(x, y, n * sizeof(uint32_t)));
	}
	case K_PUBKEYS:
	case K_NETS: {
		size_t n = *(const size_t *)((const char *)a + s->noff);
		const void *x = *(const void *const *)field(a, s);
		const void *y = *(const void *const *)field(b, s);
		size_t es = s->kind == K_NETS ? sizeof(tern_config_net) : 32;

		return n == *(const size_t *)((const char *)b + s->noff) &&
		       (!n || !memcmp(x, y, n * es));
	}
	default:
		return get_int(a, s) == get_int(b, s);
	}
}

static void format_value(struct sbuf *b, const tern_config *c,
			 const struct setting *s)
{
	switch (s->kind) {
	case K_STR: {
		const char *v = get_str(c, s);

		if (v)
			sb_quote(b, v, 128);
		else
			sb_add(b, "(unset)");
		break;
	}
	case K_KINDS: {
		size_t n;
		const uint32_t *k = get_kinds(c, s, &n);

		sb_add(b, "[");
		for (size_t i = 0; i < n; i++) {
			if (i == 16) {
				sb_add(b, ", ...");
				break;
			}
			sb_add(b, "%s%u", i ? ", " : "", k[i]);
		}
		sb_add(b, "]");
		break;
	}
	case K_LETTERS: {
		const char *v = get_str(c, s);

		sb_add(b, "[");
		for (size_t i = 0; v && v[i]; i++)
			sb_add(b, "%s\"%c\"", i ? ", " : "", v[i]);
		sb_add(b, "]");
		break;
	}
	case K_PUBKEYS:
	case K_NETS:
		sb_add(b, "[%zu %s]", *(const size_t *)((const char *)c + s->noff),
		       s->kind == K_NETS ? "networks" : "pubkeys");
		break;
	case K_BOOL:
		sb_add(b, "%s", get_int(c, s) ? "true" : "false");
		break;
	case K_LEVEL: {
		uint64_t v = get_int(c, s);

		if (v <= TERN_LOG_DEBUG)
			sb_add(b, "\"%s\"", level_names[v]);
		else
			sb_add(b, "%llu", (unsigned long long)v);
		break;
	}
	default:
		sb_add(b, "%llu", (unsigned long long)get_int(c, s));
	}
}

size_t tern_config_diff(const tern_config *a, const tern_config *b,
			char *out, size_t outcap, bool *needs_restart)
{
	struct sbuf o = { out, outcap, 0 };
	bool restart = false, full = false;
	size_t count = 0;

	if (outcap)
		out[0] = '\0';
	for (size_t i = 0; a && b && i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		char one[512];
		struct sbuf p = { one, sizeof one, 0 };

		if (s->kind == K_GROUP || same(a, b, s))
			continue;
		count++;
		restart |= !s->reload;
		if (full)
			continue;
		sb_add(&p, "%s%s=", o.len ? " " : "", s->name);
		format_value(&p, b, s);
		/* keep room for a " ..." after it */
		if (p.len < sizeof one && o.len + p.len + 4 < outcap) {
			sb_add(&o, "%s", one);
		} else {
			full = true;
			if (o.len + 4 < outcap)
				sb_add(&o, "%s...", o.len ? " " : "");
		}
	}
	if (needs_restart)
		*needs_restart = restart;
	return count;
}
