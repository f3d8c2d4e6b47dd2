/*
 * tern/config.h - the relay's configuration: one struct, its documented
 * defaults, and a strict loader for libconfig files.
 *
 * The file syntax is libconfig's (groups in braces, `name = value;`):
 *
 *     relay = {
 *         port = 7777;
 *         limits = { max_limit = 500; };
 *     };
 *     store = { dir = "/var/lib/tern"; };
 *
 * Every setting, its type, default, range and whether SIGHUP reloads it is
 * listed in docs/CONFIG.md; tern.conf at the top of the source tree is a
 * commented sample equal to the defaults.
 *
 * Layering: tern_config_defaults(), then tern_config_load_file() overlays
 * the settings the file names onto the struct's current values (settings
 * the file omits keep theirs), then the caller applies its own overrides
 * (command-line flags) by assigning fields and may re-check the result
 * with tern_config_validate().
 *
 * Strictness: a setting the loader does not know, a value of the wrong
 * type, a value out of its range, an integer literal that does not fit 64
 * bits, an `@include` directive or a NUL byte is an error, reported as
 * "FILE:LINE: message" (e.g. "tern.conf:12: unknown setting
 * relay.limits.foo", "tern.conf:3: relay.port: 70000 is out of range
 * 1..65535"). A failed load leaves the struct exactly as it was.
 *
 * Integers: every numeric setting accepts a plain integer (`map_size =
 * 4294967296;`), also beyond 32 bits; the libconfig forms `0x1F` and
 * `123L` are accepted too. Floats are never accepted for integers.
 *
 * Ownership of strings and arrays: every `const char *` field and every
 * kinds array (restricted_kinds, the relay.policies ones) point at one of
 *   - static storage (the defaults),
 *   - memory owned by the struct (what a load read from a file), released
 *     by tern_config_free() - and, for a value a later load replaces, by
 *     that load,
 *   - memory the caller assigned, which the caller keeps owning and must
 *     keep alive as long as the struct uses it (e.g. an argv string).
 * Pointers read from the struct stay valid until the next load into it or
 * tern_config_free(). A tern_config may be moved by plain assignment
 * (afterwards only the destination is used and freed); it must not be
 * copied and both copies used, as they would share owned memory.
 *
 * Threads: a tern_config is plain data with no locking; the functions
 * here are reentrant and may run on different structs concurrently.
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/log.h>
#include <tern/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest configuration text the loader reads (bytes). */
#define TERN_CONFIG_MAX_SIZE (1u << 20)

/* The most entries a kinds array (relay.auth.restricted_kinds,
 * relay.policies.allowed_kinds, ...) may list. */
#define TERN_CONFIG_MAX_KINDS 1024

/* The most pubkeys management.admins may list. */
#define TERN_CONFIG_MAX_ADMINS 1024

/* The most networks metrics.allow may list. */
#define TERN_CONFIG_MAX_NETS 256

/* NIP-11 relay information (relay.info). Empty strings are left out. */
typedef struct tern_config_info {
	const char *name;             /* "tern" */
	const char *description;      /* "" */
	const char *pubkey;           /* "" or 64 lowercase hex characters */
	const char *contact;          /* "" */
	const char *icon;             /* "" (URL) */
	const char *banner;           /* "" (URL) */
	const char *privacy_policy;   /* "" (URL) */
	const char *terms_of_service; /* "" (URL) */
	const char *posting_policy;   /* "" (URL) */
} tern_config_info;

/* relay.limits: every number is enforced and advertised in NIP-11. */
typedef struct tern_config_limits {
	uint32_t max_message_length;   /* bytes per WebSocket message (131072) */
	uint32_t max_subscriptions;    /* open REQs per connection (64) */
	uint32_t max_filters;          /* filters per REQ/COUNT (20) */
	uint32_t max_limit;            /* events per filter (500) */
	uint32_t default_limit;        /* for filters without limit (500);
					  a value above max_limit acts as
					  max_limit */
	uint32_t max_subid_length;     /* characters (64) */
	uint32_t max_event_tags;       /* tags per event (2000) */
	uint32_t max_content_length;   /* bytes of event content (65536) */
	uint64_t max_output_queue;     /* bytes queued per connection before
					  it is a slow consumer (4 MiB);
					  never below max_message_length */
	uint32_t min_pow_difficulty;   /* NIP-13 leading zero bits (0 = off) */
	uint64_t created_at_lower_limit; /* seconds into the past accepted
					    (0 = no limit) */
	uint64_t created_at_upper_limit; /* seconds into the future accepted
					    (900; 0 = no limit) */
	bool auth_required;            /* NIP-42 AUTH before anything (false) */
	uint32_t max_connections_per_ip; /* 0 = unlimited (0) */
} tern_config_limits;

/* relay.auth */
typedef struct tern_config_auth {
	/* Kinds served only to a connection authed as the author or as a
	   p-tagged recipient; default {4, 1059}. See "Ownership" above. */
	const uint32_t *restricted_kinds;
	size_t n_restricted_kinds;
} tern_config_auth;

/* relay.websocket */
typedef struct tern_config_websocket {
	uint32_t ping_interval;            /* seconds between pings (30;
					      0 = no keepalive pings) */
	uint32_t ping_timeout;             /* seconds without a pong before
					      the connection is dead (60); at
					      least ping_interval */
	bool compression;                  /* permessage-deflate (true) */
	bool compression_context_takeover; /* keep the LZ77 window between
					      messages (false) */
	uint32_t max_window_bits;          /* 9..15 (15) */
} tern_config_websocket;

/* A rate limit of relay.policies: a token bucket per client IP or pubkey
 * (tern_policy_rate in tern/policy.h). */
typedef struct tern_config_rate {
	uint32_t tokens_per_interval; /* 0 = off (0) */
	uint32_t interval;            /* seconds, 1..86400 (60) */
	uint32_t max_tokens;          /* bucket size, the burst; 0 = the same
					 as tokens_per_interval (0) */
} tern_config_rate;

/*
 * relay.policies: the policies of tern/policy.h that `tern serve` registers
 * (tern_policy_apply_config()). Everything is off by default; "0 = off"
 * and "[] = off" below. Kind arrays follow the rules of restricted_kinds
 * ("Ownership" above); remove_all_but_tags is a string of the letters the
 * file listed. Read when the relay starts (SIGHUP does not change them).
 */
typedef struct tern_config_policies {
	bool apply_defaults;              /* tern_policy_apply_defaults() */
	uint32_t rate_limit_keys;         /* entries per rate table (65536) */
	tern_config_rate connection_rate_limit;
	/* events */
	uint32_t max_indexable_tags;      /* 0 = off */
	const uint32_t *max_indexable_tags_ignore_kinds;
	size_t n_max_indexable_tags_ignore_kinds;
	const uint32_t *max_indexable_tags_only_kinds;
	size_t n_max_indexable_tags_only_kinds;
	uint32_t max_tag_value_length;    /* 0 = off */
	const uint32_t *allowed_kinds;    /* [] = off */
	size_t n_allowed_kinds;
	bool allow_ephemeral;             /* with allowed_kinds (false) */
	uint64_t max_past;                /* seconds; 0 = off */
	uint64_t max_future;              /* seconds; 0 = off */
	bool reject_base64_media;
	bool only_protected_events;
	bool validate_kind;
	uint32_t min_pow;                 /* NIP-13 bits, 0 = off */
	uint32_t max_content_length;      /* bytes, 0 = off */
	tern_config_rate event_ip_rate_limit;
	tern_config_rate event_pubkey_rate_limit;
	tern_config_rate event_authed_rate_limit;
	/* filters */
	bool no_complex_filters;
	bool must_auth;
	bool no_empty_filters;
	bool anti_sync_bots;
	bool no_search_queries;
	bool reject_kind4_snoopers;
	tern_config_rate filter_ip_rate_limit;
	bool remove_search_queries;
	const uint32_t *remove_all_but_kinds; /* [] = off */
	size_t n_remove_all_but_kinds;
	const char *remove_all_but_tags;  /* letters, "" = off */
} tern_config_policies;

/* relay.plugin: a strfry-compatible write-policy plugin. */
typedef struct tern_config_plugin {
	const char *command;     /* "" = no plugin ("") */
	uint32_t timeout_ms;     /* reply timeout, 1..60000 (2000) */
	bool fail_open;          /* accept when the plugin fails (false) */
	bool reload_on_change;   /* restart it when its file changes (true) */
} tern_config_plugin;

/* relay */
typedef struct tern_config_relay {
	const char *bind;                 /* numeric IPv4/IPv6 ("127.0.0.1") */
	uint16_t port;                    /* 1..65535 (7777) */
	uint32_t io_threads;              /* 0 = one per core (0) */
	const char *service_url;          /* "" or the relay's ws:// or wss://
					     URL, checked in NIP-42 AUTH ("") */
	const char *trusted_proxy_header; /* "" = off, else a header name such
					     as "X-Forwarded-For" ("") */
	tern_log_level log_level;         /* TERN_LOG_INFO */
	uint32_t shutdown_grace;          /* seconds (10) */
	tern_config_info info;
	tern_config_limits limits;
	tern_config_auth auth;
	tern_config_websocket websocket;
	tern_config_policies policies;
	tern_config_plugin plugin;
} tern_config_relay;

/* management: the NIP-86 management API of `tern serve` (the library
 * itself only serves the API a program sets with tern_relay_set_manage(),
 * tern/manage.h). */
typedef struct tern_config_management {
	const uint8_t (*admins)[32]; /* pubkeys that may call it; none: the
					API is off (NULL, 0) */
	size_t nadmins;
} tern_config_management;

/*
 * A network of metrics.allow: the first prefix bits of addr. An IPv4
 * network is kept IPv4-mapped (::ffff:a.b.c.d, prefix 96 + its own), so
 * that it also matches clients an IPv6 socket reports in that form.
 */
typedef struct tern_config_net {
	uint8_t addr[16]; /* network byte order; bits past prefix are 0 */
	uint8_t prefix;   /* 0..128 */
} tern_config_net;

/* metrics: the Prometheus endpoint of `tern serve` (docs/OPERATIONS.md).
 * Read when the relay starts (SIGHUP does not change it). */
typedef struct tern_config_metrics {
	bool enabled;                /* false */
	const char *path;            /* "/metrics": starts with '/', longer
					than "/", no '?', '#', spaces or
					control bytes */
	const tern_config_net *allow; /* clients that may read it (IP or
					 CIDR in the file); default
					 127.0.0.1 and ::1; none: every
					 client is refused. See "Ownership"
					 above (as the kinds arrays). */
	size_t nallow;
} tern_config_metrics;

typedef struct tern_config {
	tern_config_relay relay;
	tern_config_management management;
	tern_config_metrics metrics;
	/* store: dir, map_size, batch_max, queue_max, purge_interval and
	   no_sync come from the file; read_only is never set by it. Pass
	   &cfg.store to tern_store_open(). */
	tern_store_options store;
	struct tern__config_owned *owned_; /* private: owned memory */
} tern_config;

/*
 * Sets every field of c to its default (docs/CONFIG.md) and makes c own
 * nothing. c must be uninitialised or freed with tern_config_free()
 * (otherwise its owned memory leaks). Cannot fail.
 */
void tern_config_defaults(tern_config *c);

/*
 * Releases the memory c owns and resets c to the defaults, so the struct
 * may be reused or freed again. c may be NULL.
 */
void tern_config_free(tern_config *c);

/*
 * Reads the libconfig file at path (at most TERN_CONFIG_MAX_SIZE bytes)
 * and overlays its settings onto c, as tern_config_load_string() with name
 * = path.
 *
 * Returns 0, or:
 *  - -errno when the file cannot be opened or read (err: "PATH: reason");
 *  - TERN_ETOOBIG when it is larger than TERN_CONFIG_MAX_SIZE;
 *  - the errors of tern_config_load_string().
 */
int tern_config_load_file(tern_config *c, const char *path, char *err,
			  size_t errcap);

/*
 * Parses text (NUL-terminated) as a configuration and overlays its
 * settings onto c. name (NULL: "<string>") is the file name used in
 * messages. On failure c is unchanged and, when errcap > 0, err receives
 * one NUL-terminated line "NAME:LINE: message" (or "NAME: message" when no
 * line applies), truncated to errcap.
 *
 * Returns 0, or:
 *  - TERN_EPARSE: not valid libconfig syntax (including an unterminated
 *    string and nesting deeper than 64 levels), an integer literal
 *    outside the signed 64-bit range, an @include directive;
 *  - TERN_EINVAL: an unknown setting, a wrong type, a value out of range
 *    or badly formed, or settings that contradict each other (c or text
 *    NULL also gives TERN_EINVAL);
 *  - TERN_ETOOBIG: text longer than TERN_CONFIG_MAX_SIZE;
 *  - TERN_ENOMEM.
 */
int tern_config_load_string(tern_config *c, const char *text,
			    const char *name, char *err, size_t errcap);

/*
 * Checks every field of c against the ranges and forms the loader
 * enforces (useful after applying command-line overrides). Returns 0, or
 * TERN_EINVAL with "SETTING: message" in err (e.g. "relay.port: 0 is out
 * of range 1..65535").
 */
int tern_config_validate(const tern_config *c, char *err, size_t errcap);

/*
 * Compares two configurations setting by setting, for log lines ("config:
 * relay.port=8080 store.dir=\"/srv/tern\"") and SIGHUP reloads. Writes the
 * settings whose values differ in b, as space-separated name=value pairs
 * (strings quoted and escaped), into out (NUL-terminated; when it does not
 * fit, it ends with "..."; out may be NULL if outcap is 0). When
 * needs_restart is not NULL it is set to whether any differing setting is
 * one SIGHUP cannot reload (docs/CONFIG.md). Returns the number of
 * differing settings.
 */
size_t tern_config_diff(const tern_config *a, const tern_config *b,
			char *out, size_t outcap, bool *needs_restart);

#ifdef __cplusplus
}
#endif
#endif
