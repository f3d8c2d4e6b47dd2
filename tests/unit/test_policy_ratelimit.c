/*
 * Unit tests for the policies' token buckets (src/policy/ratelimit.c),
 * driven by an injected clock.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <tern/error.h>

#include "policy/ratelimit.h"

#define S 1000000000ull /* one second in ns */

static tern__ratelimit *mk(uint32_t tokens, uint32_t interval, uint32_t max,
			   uint32_t keys)
{
	tern__ratelimit *rl;
	tern_policy_rate r = { tokens, interval, max, keys };

	cr_assert_eq(tern__ratelimit_new(&rl, &r), 0);
	return rl;
}

Test(ratelimit, rejects_bad_parameters)
{
	tern__ratelimit *rl = (void *)1;

	cr_expect_eq(tern__ratelimit_new(&rl, &(tern_policy_rate){ 0, 1, 1, 0 }),
		     TERN_EINVAL);
	cr_expect_null(rl);
	cr_expect_eq(tern__ratelimit_new(&rl, &(tern_policy_rate){ 1, 0, 1, 0 }),
		     TERN_EINVAL);
	cr_expect_eq(tern__ratelimit_new(&rl, &(tern_policy_rate){ 1, 1, 0, 0 }),
		     TERN_EINVAL);
	cr_expect_eq(tern__ratelimit_new(&rl, &(tern_policy_rate){
				 1, 1, 1, (1u << 24) + 1 }),
		     TERN_EINVAL);
	cr_expect_eq(tern__ratelimit_new(&rl, NULL), TERN_EINVAL);
}

Test(ratelimit, table_size_is_fixed_and_rounded)
{
	tern__ratelimit *a = mk(1, 1, 1, 0), *b = mk(1, 1, 1, 1000);
	tern__ratelimit *c = mk(1, 1, 1, 1);

	cr_expect_eq(tern__ratelimit_capacity(a), TERN_POLICY_RATE_KEYS);
	cr_expect_eq(tern__ratelimit_capacity(b), 1024);
	cr_expect_eq(tern__ratelimit_capacity(c), 512);
	tern__ratelimit_free(a);
	tern__ratelimit_free(b);
	tern__ratelimit_free(c);
}

Test(ratelimit, burst_then_refill)
{
	/* 1 token per minute, burst 3 */
	tern__ratelimit *rl = mk(1, 60, 3, 0);
	uint64_t t0 = 1000 * S, k = tern__ratelimit_key(rl, "k", 1);

	for (int i = 0; i < 3; i++)
		cr_expect(tern__ratelimit_take(rl, k, t0), "take %d", i);
	cr_expect_not(tern__ratelimit_take(rl, k, t0));
	cr_expect_not(tern__ratelimit_take(rl, k, t0 + 59 * S));
	cr_expect(tern__ratelimit_take(rl, k, t0 + 60 * S));
	cr_expect_not(tern__ratelimit_take(rl, k, t0 + 60 * S));
	/* a long pause refills to the burst, never beyond */
	for (int i = 0; i < 3; i++)
		cr_expect(tern__ratelimit_take(rl, k, t0 + 3600 * S));
	cr_expect_not(tern__ratelimit_take(rl, k, t0 + 3600 * S));
	tern__ratelimit_free(rl);
}

Test(ratelimit, continuous_refill)
{
	/* 10 per 10 s = one per second, burst 1 */
	tern__ratelimit *rl = mk(10, 10, 1, 0);
	uint64_t t0 = 5 * S, k = 42;

	cr_expect(tern__ratelimit_take(rl, k, t0));
	cr_expect_not(tern__ratelimit_take(rl, k, t0 + S / 2));
	cr_expect(tern__ratelimit_take(rl, k, t0 + S));
	cr_expect_not(tern__ratelimit_take(rl, k, t0 + S + S / 2));
	cr_expect(tern__ratelimit_take(rl, k, t0 + 2 * S));
	tern__ratelimit_free(rl);
}

Test(ratelimit, keys_are_independent)
{
	tern__ratelimit *rl = mk(1, 60, 1, 0);
	uint64_t a = tern__ratelimit_key_ip(rl, "192.0.2.1");
	uint64_t b = tern__ratelimit_key_ip(rl, "192.0.2.2");

	cr_expect_neq(a, b);
	cr_expect(tern__ratelimit_take(rl, a, S));
	cr_expect_not(tern__ratelimit_take(rl, a, S));
	cr_expect(tern__ratelimit_take(rl, b, S));
	tern__ratelimit_free(rl);
}

Test(ratelimit, ip_keys)
{
	tern__ratelimit *rl = mk(1, 1, 1, 0);

	/* IPv6 by /64 */
	cr_expect_eq(tern__ratelimit_key_ip(rl, "2001:db8:1:2::1"),
		     tern__ratelimit_key_ip(rl, "2001:db8:1:2:ffff::7"));
	cr_expect_neq(tern__ratelimit_key_ip(rl, "2001:db8:1:2::1"),
		      tern__ratelimit_key_ip(rl, "2001:db8:1:3::1"));
	/* IPv4-mapped is the IPv4 address */
	cr_expect_eq(tern__ratelimit_key_ip(rl, "::ffff:192.0.2.9"),
		     tern__ratelimit_key_ip(rl, "192.0.2.9"));
	cr_expect_neq(tern__ratelimit_key_ip(rl, "192.0.2.9"),
		      tern__ratelimit_key_ip(rl, "192.0.2.10"));
	cr_expect_neq(tern__ratelimit_key_ip(rl, "not-an-ip"), 0);
	tern__ratelimit_free(rl);
}

Test(ratelimit, keys_are_secret_per_limiter)
{
	tern__ratelimit *a = mk(1, 1, 1, 0), *b = mk(1, 1, 1, 0);

	cr_expect_neq(tern__ratelimit_key(a, "x", 1), tern__ratelimit_key(b, "x", 1));
	tern__ratelimit_free(a);
	tern__ratelimit_free(b);
}

Test(ratelimit, siphash_reference_vector)
{
	/* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e */
	uint8_t msg[15];

	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	cr_expect_eq(tern__siphash(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull,
				   msg, sizeof msg),
		     0xa129ca6149be45e5ull);
}

/*
 * The smallest table has one set of 8 entries per shard, and the shard is
 * a key's top 6 bits: keys 1, 2, 3, ... all share one set. A limited key
 * survives a newcomer when a fuller bucket can be evicted instead.
 */
Test(ratelimit, eviction_prefers_full_buckets)
{
	tern__ratelimit *rl = mk(1, 1, 10, 512);
	uint64_t a = 1;

	for (int i = 0; i < 10; i++)
		cr_assert(tern__ratelimit_take(rl, a, 0));
	cr_assert_not(tern__ratelimit_take(rl, a, 0));
	for (uint64_t k = 2; k <= 8; k++)
		cr_assert(tern__ratelimit_take(rl, k, 0)); /* set now full */
	/* one second later the seven are full again, a has one token */
	cr_expect(tern__ratelimit_take(rl, 9, S)); /* evicts one of them */
	cr_expect(tern__ratelimit_take(rl, a, S));
	cr_expect_not(tern__ratelimit_take(rl, a, S), "a was forgotten");
	tern__ratelimit_free(rl);
}

Test(ratelimit, many_keys_stay_bounded)
{
	tern__ratelimit *rl = mk(1, 60, 1, 512);

	/* far more distinct keys than entries: each new key starts full */
	for (uint64_t k = 1; k <= 100000; k++)
		cr_assert(tern__ratelimit_take(rl, k * 0x9e3779b97f4a7c15ull | 1,
					       S));
	cr_expect_eq(tern__ratelimit_capacity(rl), 512);
	tern__ratelimit_free(rl);
}

struct hammer {
	tern__ratelimit *rl;
	int allowed;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 5000; i++)
		h->allowed += tern__ratelimit_take(h->rl, 7, S);
	return NULL;
}

Test(ratelimit, concurrent_takes_never_exceed_the_bucket)
{
	tern__ratelimit *rl = mk(1, 3600, 1000, 0);
	struct hammer h[4];
	pthread_t t[4];
	int total = 0;

	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ rl, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].allowed;
	}
	cr_expect_eq(total, 1000);
	tern__ratelimit_free(rl);
}
