/*
 * tern/policy.h - ready-made policies: hooks that a relay registers with
 * one call.
 *
 * Each constructor below builds the state a policy needs, registers one or
 * more hooks (include/tern/hooks.h) on relay r under owner, and returns 0,
 * TERN_EINVAL (a bad parameter, r NULL) or TERN_ENOMEM. Policies run in the
 * order they were registered, among the relay's other hooks; the first
 * rejection wins. A policy never accepts (it returns TERN_PASS or
 * TERN_REJECT), so later hooks still get their turn.
 *
 *     tern_policy_reject_events_with_base64_media(r, "mine");
 *     tern_policy_restrict_to_specified_kinds(r, "mine", true,
 *                                             (uint32_t[]){ 0, 1, 7 }, 3);
 *     tern_policy_event_ip_rate_limiter(r, "mine",
 *             &(tern_policy_rate){ .tokens_per_interval = 10,
 *                                  .interval = 60, .max_tokens = 30 });
 *     ...
 *     tern_relay_run(r);
 *     tern_policy_release(r);
 *     tern_relay_free(r);
 *
 * Where they run: event policies are reject-event hooks (the I/O thread
 * that received the EVENT, after its id and signature were checked);
 * filter policies are reject-filter hooks registered for REQ and for COUNT
 * (I/O thread of the connection, once per filter); the remove-* policies
 * are overwrite-filter hooks registered for REQ and for COUNT (same
 * thread, once per filter, before the reject-filter hooks: a COUNT is
 * narrowed as a REQ with its filters would be); the connection rate
 * limiter is a reject-connection hook (before the WebSocket upgrade:
 * refusal is HTTP 429). None blocks: every hook is a few comparisons, and the rate limiters
 * take one short per-shard mutex.
 *
 * Events and filters that do not come from a client (injected events,
 * tern_ctx_conn() NULL) pass every policy that looks at the connection
 * (IP, authed pubkey): they have none.
 *
 * Reasons carry the NIP-01 prefix of each refusal, named per policy below;
 * TERN_PREFIX_AUTH_REQUIRED also makes the relay send an AUTH challenge.
 *
 * Memory: the state of a policy (its parameters, a rate limiter's table)
 * belongs to the library and lives until tern_policy_remove() of its owner
 * or tern_policy_release() of its relay. Constructors copy the arrays they
 * are given. Call the constructors, tern_policy_remove() and
 * tern_policy_release() from one thread at a time, while the relay is not
 * running (before tern_relay_run(), or after it returned): a running I/O
 * thread may be inside a hook whose state they would free.
 */
#ifndef TERN_POLICY_H
#define TERN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/config.h>
#include <tern/hooks.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rate limits ---------------------------------------------------------
 *
 * A rate limiter is a token bucket per key (a client IP, a pubkey): the
 * bucket holds at most max_tokens, each item (event, filter, connection)
 * takes one, and it refills continuously at tokens_per_interval per
 * interval seconds. A new key starts full, so max_tokens is the burst a
 * client gets after being quiet; an empty bucket refuses until it refills.
 *
 * Memory is bounded whatever the number of distinct keys: buckets live in
 * a fixed table of max_keys entries (16 bytes each: 1 MiB at the default
 * 65536), allocated when the policy is created. A key hashes (SipHash with
 * a random per-limiter secret, so clients cannot aim at each other's slots)
 * to one set of 8 entries; a new key takes the free entry or evicts the
 * entry of its set whose bucket is the fullest. A full bucket holds no
 * information (a new key starts full too), so eviction only forgets a
 * client's debt when every entry of its set belongs to a client that is
 * still being limited: size the table above the number of clients you
 * expect to limit at once.
 *
 * IP keys: an IPv4 address counts on its own; an IPv6 address is keyed by
 * its /64 prefix (what one subscriber gets), and an IPv4-mapped IPv6
 * address as the IPv4 address.
 *
 * The table is split in 64 shards, each with its own mutex, so the I/O
 * threads rarely contend. Time comes from CLOCK_MONOTONIC.
 */
typedef struct tern_policy_rate {
	uint32_t tokens_per_interval; /* >= 1 */
	uint32_t interval;            /* seconds, >= 1 */
	uint32_t max_tokens;          /* bucket size (burst), >= 1 */
	uint32_t max_keys;            /* table entries; 0 = 65536; at most
					 2^24; rounded up to a power of two
					 of at least 512 */
} tern_policy_rate;

#define TERN_POLICY_RATE_KEYS 65536u

/* ---- event policies (reject-event hooks) ---------------------------------- */

/*
 * prevent-too-many-indexable-tags: refuses events with more than max tags
 * whose name is one character ("blocked: too many indexable tags (max N)").
 * When only_kinds has entries, the rule applies to those kinds alone;
 * otherwise it applies to every kind but ignore_kinds. Kinds are 0..65535;
 * either array may be NULL when its count is 0.
 */
int tern_policy_prevent_too_many_indexable_tags(
	tern_relay *r, const void *owner, uint32_t max,
	const uint32_t *ignore_kinds, size_t n_ignore,
	const uint32_t *only_kinds, size_t n_only);

/*
 * prevent-large-tags: refuses events with an indexable tag (one-character
 * name) whose value (second element) is longer than max_value_len bytes
 * ("blocked: event contains too large tags (max N bytes)").
 */
int tern_policy_prevent_large_tags(tern_relay *r, const void *owner,
				   uint32_t max_value_len);

/*
 * restrict-to-specified-kinds: refuses events whose kind is not in kinds
 * ("blocked: received event kind K not allowed"). With allow_ephemeral,
 * ephemeral kinds (20000..29999) always pass. n >= 1, kinds 0..65535.
 */
int tern_policy_restrict_to_specified_kinds(tern_relay *r, const void *owner,
					    bool allow_ephemeral,
					    const uint32_t *kinds, size_t n);

/*
 * prevent-timestamps-in-the-past / -future: refuses events whose
 * created_at is more than seconds before / after the relay's wall clock
 * ("invalid: event too old" / "invalid: event too much in the future").
 * seconds >= 1.
 */
int tern_policy_prevent_timestamps_in_the_past(tern_relay *r,
					       const void *owner,
					       uint64_t seconds);
int tern_policy_prevent_timestamps_in_the_future(tern_relay *r,
						 const void *owner,
						 uint64_t seconds);

/*
 * reject-events-with-base64-media: refuses events whose content contains
 * "data:image/" or "data:video/" (inline media belongs on a media server):
 * "blocked: event with base64 media".
 */
int tern_policy_reject_events_with_base64_media(tern_relay *r,
						const void *owner);

/*
 * only-allow-NIP-70-protected-events: refuses events without the ["-"]
 * tag, except deletions (kind 5): "blocked: only events protected with the
 * NIP-70 \"-\" tag are accepted". (The relay itself already refuses a
 * protected event from a connection not authed as its author.)
 */
int tern_policy_only_allow_nip70_protected_events(tern_relay *r,
						  const void *owner);

/*
 * validate-kind: checks the content of kinds whose shape is known.
 *  - kind 0 (metadata): content must be a JSON object with a non-empty
 *    string "name" ("invalid: kind 0 content must be a JSON object" /
 *    "invalid: missing json name in kind 0");
 *  - kind 2 (recommend relay) is deprecated ("blocked: kind 2 is
 *    deprecated").
 * Other kinds pass.
 */
int tern_policy_validate_kind(tern_relay *r, const void *owner);

/*
 * NIP-13 minimum proof of work: refuses events whose id has fewer than
 * bits leading zero bits ("pow: difficulty D is less than B"), and events
 * whose ["nonce", n, "<target>"] tag commits to a target below bits
 * ("pow: committed target difficulty T is less than B"), so that a lucky
 * low-effort id does not pass. bits 1..256.
 */
int tern_policy_min_pow(tern_relay *r, const void *owner, uint32_t bits);

/*
 * maximum content length: refuses events whose decoded content is longer
 * than max bytes ("invalid: content is longer than N bytes").
 */
int tern_policy_max_content_length(tern_relay *r, const void *owner,
				   uint32_t max);

/*
 * Event rate limiters (see "rate limits"): one token per EVENT, keyed by
 * the client IP / the event's pubkey / the first pubkey the connection
 * authed as (connections not authed pass). "rate-limited: slow down,
 * please". rate is copied.
 */
int tern_policy_event_ip_rate_limiter(tern_relay *r, const void *owner,
				      const tern_policy_rate *rate);
int tern_policy_event_pubkey_rate_limiter(tern_relay *r, const void *owner,
					  const tern_policy_rate *rate);
int tern_policy_event_authed_pubkey_rate_limiter(tern_relay *r,
						 const void *owner,
						 const tern_policy_rate *rate);

/* ---- filter policies (reject-filter hooks, REQ and COUNT) ---------------- */

/* no-complex-filters: refuses filters with more than 2 tag conditions and
 * more than 4 tag + kind conditions together ("blocked: too many things to
 * filter for"). */
int tern_policy_no_complex_filters(tern_relay *r, const void *owner);

/* must-auth: refuses every filter until the connection has authed
 * ("auth-required: you must authenticate to read from this relay"). */
int tern_policy_must_auth(tern_relay *r, const void *owner);

/* no-empty-filters: refuses filters without any id, author, kind or tag
 * value ("blocked: can't handle empty filters"). */
int tern_policy_no_empty_filters(tern_relay *r, const void *owner);

/*
 * anti-sync-bots: refuses filters that would list kind-1 notes (no kinds,
 * or kinds including 1) without naming authors ("blocked: an author must
 * be specified to get their kind:1 notes"). Filters with "ids" pass: they
 * can only return the events they name.
 */
int tern_policy_anti_sync_bots(tern_relay *r, const void *owner);

/* no-search-queries: refuses filters with "search" ("blocked: search is
 * not supported"). */
int tern_policy_no_search_queries(tern_relay *r, const void *owner);

/* filter rate limiter per IP: one token per filter ("rate-limited: there
 * is a bug in the client, no one should be making so many requests"). */
int tern_policy_filter_ip_rate_limiter(tern_relay *r, const void *owner,
				       const tern_policy_rate *rate);

/*
 * reject-kind-4-snoopers: a filter whose kinds include 4 (NIP-04 direct
 * messages) is served only to a connection authed as a party of the
 * conversation it asks for: its only author with at most one "#p", or its
 * only "#p" with at most one author. Not authed: "auth-required: this
 * relay serves kind-4 only to authenticated users"; authed as someone
 * else: "restricted: authenticated user does not have authorization for
 * requested filters".
 */
int tern_policy_reject_kind4_snoopers(tern_relay *r, const void *owner);

/* ---- filter rewriting (overwrite-filter hooks, REQ and COUNT) ------------
 *
 * Each is registered with tern_on_overwrite_filter() and
 * tern_on_overwrite_count_filter(): the filters of a COUNT are rewritten
 * as those of a REQ. A COUNT filter left matching nothing adds 0 to the
 * count without asking the backend. */

/* remove-search-queries: drops "search" from filters (they then run as
 * plain filters). */
int tern_policy_remove_search_queries(tern_relay *r, const void *owner);

/*
 * remove-all-but-kinds: keeps only the listed kinds in a filter's "kinds"
 * (a filter without "kinds" is left alone). When none remains the filter
 * matches nothing. n >= 1, kinds 0..65535.
 */
int tern_policy_remove_all_but_kinds(tern_relay *r, const void *owner,
				     const uint32_t *kinds, size_t n);

/*
 * remove-all-but-tags: drops the "#x" conditions whose letter is not in
 * names (a NUL-terminated string of ASCII letters, e.g. "ept"; "" drops
 * every tag condition). Dropping a condition widens the filter: use it
 * for tags this relay does not want to be queried by.
 */
int tern_policy_remove_all_but_tags(tern_relay *r, const void *owner,
				    const char *names);

/* ---- connections (reject-connection hook) --------------------------------- */

/* connection rate limiter per IP: one token per WebSocket upgrade; refusal
 * is HTTP 429 ("rate-limited: too many connections"). */
int tern_policy_connection_rate_limiter(tern_relay *r, const void *owner,
					const tern_policy_rate *rate);

/* ---- sets ------------------------------------------------------------------ */

/* The owners under which the two calls below register their hooks. */
extern const char tern_policy_owner_defaults[];
extern const char tern_policy_owner_config[];

/*
 * Registers, under tern_policy_owner_defaults, the set a public relay
 * should start from (khatru's ApplySaneDefaults, same numbers):
 *  - reject-events-with-base64-media;
 *  - event rate limiter per IP: 2 tokens per 180 s, burst 10;
 *  - no-complex-filters;
 *  - filter rate limiter per IP: 20 tokens per 60 s, burst 100;
 *  - connection rate limiter per IP: 1 token per 300 s, burst 100.
 * Rate tables have the default size. Returns 0, TERN_EINVAL or
 * TERN_ENOMEM (then the policies registered so far stay).
 */
int tern_policy_apply_defaults(tern_relay *r);

/*
 * Registers what cfg->relay.policies switches on (docs/CONFIG.md), under
 * tern_policy_owner_config, in the order of the settings (tern.conf):
 * the defaults (apply_defaults), the connection rate limiter, the event
 * policies (the cheap checks before the rate limiters, so that a refused
 * event takes no token), the filter policies (must_auth first), then the
 * filter rewrites. Applying again first removes what the previous call
 * registered; on failure nothing of cfg stays registered. cfg is not
 * kept. Returns 0, TERN_EINVAL (an out-of-range value: validate cfg with
 * tern_config_validate() first) or TERN_ENOMEM. Not while r runs.
 */
int tern_policy_apply_config(tern_relay *r, const tern_config *cfg);

/*
 * Removes owner's hooks from r (tern_hooks_remove_owner()) and frees the
 * state of the policies registered under that owner. Not while r runs.
 */
void tern_policy_remove(tern_relay *r, const void *owner);

/*
 * Frees the state of every policy registered on r, without touching r
 * itself: call it after tern_relay_run() returned, before or after
 * tern_relay_free() (r is only compared, never dereferenced). r may be
 * NULL.
 */
void tern_policy_release(tern_relay *r);

#ifdef __cplusplus
}
#endif
#endif
