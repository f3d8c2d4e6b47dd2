/*
 * Token buckets per key with bounded memory (include/tern/policy.h,
 * "rate limits", states the contract).
 *
 * Each bucket is stored as one "theoretical arrival time" (the generic
 * cell rate algorithm): with step = interval / tokens_per_interval and
 * capacity = step * max_tokens, an item at time now is allowed when
 * max(tat, now) + step - now <= capacity, and then tat advances by step.
 * That is exactly a token bucket refilled continuously, in 8 bytes and
 * without a refill timer; tat <= now means a full bucket.
 *
 * Entries live in a fixed table: 64 shards (one mutex each) of sets of 8
 * (key hash, tat) pairs. A missing key takes its set's empty entry or
 * evicts the one with the smallest tat (the fullest bucket).
 *
 * Thread-safe: take() may run concurrently on any threads.
 */
#ifndef TERN_POLICY_RATELIMIT_H
#define TERN_POLICY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/policy.h>

typedef struct tern__ratelimit tern__ratelimit;

/* Checks rate (TERN_EINVAL when a field is out of range) and allocates a
 * limiter with an empty table. Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern__ratelimit_new(tern__ratelimit **out, const tern_policy_rate *rate);
void tern__ratelimit_free(tern__ratelimit *rl);

/* Entries in the table (max_keys rounded as documented). */
size_t tern__ratelimit_capacity(const tern__ratelimit *rl);

/* Keys: a keyed hash (SipHash-2-4 with the limiter's random secret) of
 * bytes, or of an IP address in text (IPv6 by its /64). Never 0. */
uint64_t tern__ratelimit_key(const tern__ratelimit *rl, const void *p,
			     size_t n);
uint64_t tern__ratelimit_key_ip(const tern__ratelimit *rl, const char *ip);

/* Takes one token from key's bucket at time now_ns (any monotonic
 * nanosecond clock; tests pass their own). True when allowed. */
bool tern__ratelimit_take(tern__ratelimit *rl, uint64_t key, uint64_t now_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t tern__ratelimit_now(void);

/* SipHash-2-4 of p[0..n) under the 128-bit key (k0, k1). */
uint64_t tern__siphash(uint64_t k0, uint64_t k1, const void *p, size_t n);

#endif
