/*
 * Token buckets per key with bounded memory (ratelimit.h).
 *
 * Why a fixed table rather than a hash map that grows: a flood of
 * distinct source addresses (cheap with IPv6) or of fresh pubkeys must
 * not turn into memory growth. Why evict the fullest bucket: a full
 * bucket is the state a new key starts in, so dropping it loses nothing;
 * only when a whole set is limited clients does eviction forgive one.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <tern/error.h>

#include "policy/ratelimit.h"

#define NSHARDS 64 /* a power of two; the shard is the key's top 6 bits */
#define WAYS 8
#define MIN_ENTRIES 512 /* NSHARDS * WAYS: one set per shard at least */
#define MAX_ENTRIES ((uint32_t)1 << 24)
#define MAX_CAPACITY ((uint64_t)1 << 62) /* ns: keeps tat + step in range */
#define NS 1000000000ull

typedef struct entry {
	uint64_t key; /* 0 = free */
	uint64_t tat; /* ns; <= now: the bucket is full */
} entry;

typedef struct shard {
	_Alignas(64) pthread_mutex_t mu;
} shard;

struct tern__ratelimit {
	uint64_t k0, k1;     /* hash secret */
	uint64_t step;       /* ns per token */
	uint64_t capacity;   /* ns: step * max_tokens */
	uint32_t sets;       /* per shard, a power of two */
	entry *e;            /* NSHARDS * sets * WAYS */
	shard shards[NSHARDS];
};

/* ---- SipHash-2-4 ---------------------------------------------------------- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);      \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);      \
	} while (0)

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t tern__siphash(uint64_t k0, uint64_t k1, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	uint64_t m, last = (uint64_t)n << 56;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		m = load_le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; i + k < n; k++)
		last |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the limiter ------------------------------------------------------------ */

uint64_t tern__ratelimit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

int tern__ratelimit_new(tern__ratelimit **out, const tern_policy_rate *rate)
{
	tern__ratelimit *rl;
	uint32_t entries = MIN_ENTRIES;
	uint32_t want;

	*out = NULL;
	if (!rate || !rate->tokens_per_interval || !rate->interval ||
	    !rate->max_tokens || rate->max_keys > MAX_ENTRIES)
		return TERN_EINVAL;
	want = rate->max_keys ? rate->max_keys : TERN_POLICY_RATE_KEYS;
	while (entries < want)
		entries <<= 1;
	rl = calloc(1, sizeof *rl);
	if (!rl)
		return TERN_ENOMEM;
	rl->e = calloc(entries, sizeof *rl->e);
	if (!rl->e) {
		free(rl);
		return TERN_ENOMEM;
	}
	rl->sets = entries / (NSHARDS * WAYS);
	rl->step = (uint64_t)rate->interval * NS / rate->tokens_per_interval;
	if (!rl->step)
		rl->step = 1;
	rl->capacity = rl->step > MAX_CAPACITY / rate->max_tokens
			       ? MAX_CAPACITY
			       : rl->step * rate->max_tokens;
	for (int i = 0; i < NSHARDS; i++)
		pthread_mutex_init(&rl->shards[i].mu, NULL);
	if (getrandom(&rl->k0, sizeof rl->k0, 0) != sizeof rl->k0 ||
	    getrandom(&rl->k1, sizeof rl->k1, 0) != sizeof rl->k1) {
		/* no entropy source: still spread keys, just predictably */
		rl->k0 = tern__ratelimit_now() ^ (uint64_t)(uintptr_t)rl;
		rl->k1 = rotl(rl->k0, 29) ^ 0x9e3779b97f4a7c15ull;
	}
	*out = rl;
	return 0;
}

void tern__ratelimit_free(tern__ratelimit *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < NSHARDS; i++)
		pthread_mutex_destroy(&rl->shards[i].mu);
	free(rl->e);
	free(rl);
}

size_t tern__ratelimit_capacity(const tern__ratelimit *rl)
{
	return (size_t)rl->sets * NSHARDS * WAYS;
}

uint64_t tern__ratelimit_key(const tern__ratelimit *rl, const void *p,
			     size_t n)
{
	uint64_t h = tern__siphash(rl->k0, rl->k1, p, n);

	return h ? h : 1;
}

uint64_t tern__ratelimit_key_ip(const tern__ratelimit *rl, const char *ip)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0xff, 0xff };
	uint8_t buf[1 + 16];

	if (inet_pton(AF_INET, ip, buf + 1) == 1) {
		buf[0] = 4;
		return tern__ratelimit_key(rl, buf, 1 + 4);
	}
	if (inet_pton(AF_INET6, ip, buf + 1) == 1) {
		if (!memcmp(buf + 1, v4mapped, sizeof v4mapped)) {
			buf[0] = 4;
			memmove(buf + 1, buf + 13, 4);
			return tern__ratelimit_key(rl, buf, 1 + 4);
		}
		buf[0] = 6;
		return tern__ratelimit_key(rl, buf, 1 + 8); /* the /64 */
	}
	/* not an address (e.g. a unix socket name): the text itself */
	return tern__ratelimit_key(rl, ip, strlen(ip));
}

bool tern__ratelimit_take(tern__ratelimit *rl, uint64_t key, uint64_t now)
{
	shard *sh = &rl->shards[key >> 58];
	size_t set = (size_t)(key >> 58) * rl->sets + (key & (rl->sets - 1));
	entry *e = &rl->e[set * WAYS], *hit = NULL, *victim = &e[0];
	uint64_t t;
	bool ok;

	pthread_mutex_lock(&sh->mu);
	for (int w = 0; w < WAYS; w++) {
		if (e[w].key == key) {
			hit = &e[w];
			break;
		}
		if (victim->key && (!e[w].key || e[w].tat < victim->tat))
			victim = &e[w];
	}
	if (!hit) {
		hit = victim;
		hit->key = key;
		hit->tat = 0; /* a new key starts with a full bucket */
	}
	t = hit->tat > now ? hit->tat : now;
	ok = t + rl->step - now <= rl->capacity;
	if (ok)
		hit->tat = t + rl->step;
	pthread_mutex_unlock(&sh->mu);
	return ok;
}
