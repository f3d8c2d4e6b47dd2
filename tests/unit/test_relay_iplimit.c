/* Relay-wide connection counts per client IP. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include <tern/error.h>

#include "relay/iplimit.h"

Test(relay_iplimit, counts_limits_and_frees_at_zero)
{
	tern__iplimit *t;
	tern__ipslot *a, *b, *c, *x;

	cr_assert_eq(tern__iplimit_new(&t), 0);
	cr_assert_eq(tern__iplimit_acquire(t, "10.0.0.1", 2, &a), 0);
	cr_assert_eq(tern__iplimit_acquire(t, "10.0.0.1", 2, &b), 0);
	cr_assert_eq(a, b, "one entry per IP");
	cr_assert_eq(tern__iplimit_acquire(t, "10.0.0.1", 2, &x), TERN_EFULL);
	cr_assert_null(x);
	cr_assert_eq(tern__iplimit_count(t, "10.0.0.1"), 2,
		     "a refused connection is not counted");
	cr_assert_eq(tern__iplimit_acquire(t, "::1", 2, &c), 0);
	cr_assert_eq(tern__iplimit_size(t), 2);
	tern__iplimit_release(t, a);
	cr_assert_eq(tern__iplimit_count(t, "10.0.0.1"), 1);
	cr_assert_eq(tern__iplimit_acquire(t, "10.0.0.1", 2, &a), 0,
		     "room again after a release");
	tern__iplimit_release(t, a);
	tern__iplimit_release(t, b);
	cr_assert_eq(tern__iplimit_count(t, "10.0.0.1"), 0);
	cr_assert_eq(tern__iplimit_size(t), 1, "entries go at zero");
	tern__iplimit_release(t, c);
	tern__iplimit_release(t, NULL);
	cr_assert_eq(tern__iplimit_size(t), 0);
	tern__iplimit_free(t);
}

Test(relay_iplimit, zero_means_unlimited_and_long_keys_are_cut)
{
	char longip[200];
	tern__iplimit *t;
	tern__ipslot *s[100];

	memset(longip, 'a', sizeof longip - 1);
	longip[sizeof longip - 1] = '\0';
	cr_assert_eq(tern__iplimit_new(&t), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(tern__iplimit_acquire(t, longip, 0, &s[i]), 0);
	cr_assert_eq(tern__iplimit_count(t, longip), 100);
	cr_assert_eq(tern__iplimit_size(t), 1);
	for (int i = 0; i < 100; i++)
		tern__iplimit_release(t, s[i]);
	cr_assert_eq(tern__iplimit_size(t), 0);
	tern__iplimit_free(t);
}

/* Threads acquiring and releasing under one limit never exceed it, and
 * the table is empty at the end. */
#define NTHREADS 4
#define ROUNDS 20000
#define LIMIT 3

static tern__iplimit *shared;
static atomic_int inside, worst;

static void *worker(void *arg)
{
	const char *ips[] = { "192.0.2.1", "192.0.2.2", "2001:db8::1" };

	for (int i = 0; i < ROUNDS; i++) {
		tern__ipslot *s;
		const char *ip = ips[(i + (int)(intptr_t)arg) % 3];

		if (tern__iplimit_acquire(shared, ip, LIMIT, &s))
			continue;
		if (ip == ips[0]) {
			int n = atomic_fetch_add(&inside, 1) + 1;
			int w = atomic_load(&worst);

			while (n > w && !atomic_compare_exchange_weak(&worst,
								      &w, n))
				;
			atomic_fetch_sub(&inside, 1);
		}
		tern__iplimit_release(shared, s);
	}
	return NULL;
}

Test(relay_iplimit, threads_share_one_count)
{
	pthread_t th[NTHREADS];

	cr_assert_eq(tern__iplimit_new(&shared), 0);
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_leq(atomic_load(&worst), LIMIT);
	cr_assert_eq(tern__iplimit_size(shared), 0);
	tern__iplimit_free(shared);
}
