/*
 * Signed Nostr events for unit tests (test_hooks.c, test_relay_serve.c,
 * test_router.c, test_manage.c): the secret key of a seed is 32 bytes of
 * that seed. Header-only: each test file is its own program.
 */
#ifndef TERN_TEST_SIGNER_H
#define TERN_TEST_SIGNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <tern/arena.h>
#include <tern/event.h>
#include <tern/hex.h>

static secp256k1_context *signer_ctx;

static inline void signer_keypair(uint8_t seed, secp256k1_keypair *kp)
{
	uint8_t sk[32];

	if (!signer_ctx)
		signer_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	memset(sk, seed, sizeof sk);
	cr_assert(secp256k1_keypair_create(signer_ctx, kp, sk));
}

/* The public key of seed, as 64 lowercase hex characters. */
static inline void signer_pubkey(uint8_t seed, char out[65])
{
	uint8_t pk[32];
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpk;

	signer_keypair(seed, &kp);
	cr_assert(secp256k1_keypair_xonly_pub(signer_ctx, &xpk, NULL, &kp));
	secp256k1_xonly_pubkey_serialize(signer_ctx, pk, &xpk);
	tern_hex_encode(out, pk, 32);
	out[64] = 0;
}

/*
 * The JSON of an event signed by seed's key, created at `at` (malloc'ed:
 * the caller frees it). tags is JSON; content goes into the JSON string
 * as is. bad_sig flips one bit of the signature.
 */
static inline char *signer_event(uint8_t seed, unsigned kind,
				 const char *tags, const char *content,
				 long long at, bool bad_sig)
{
	const char *fmt = "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%lld,"
			  "\"kind\":%u,\"tags\":%s,\"content\":\"%s\","
			  "\"sig\":\"%s\"}";
	char zeros[129], pkhex[65], idhex[65], sighex[129], *s;
	uint8_t id[32], sig[64], aux[32] = { 0 };
	secp256k1_keypair kp;
	tern_event ev;
	tern_arena a;

	signer_pubkey(seed, pkhex);
	signer_keypair(seed, &kp);
	memset(zeros, '0', 128);
	zeros[128] = 0;
	memcpy(sighex, zeros, sizeof sighex);
	zeros[64] = 0;
	cr_assert(asprintf(&s, fmt, zeros, pkhex, at, kind, tags, content,
			   sighex) > 0);
	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)s, strlen(s), NULL,
				      &a, NULL), 0, "%s", s);
	tern_event_compute_id(&ev, id);
	tern_arena_free(&a);
	free(s);
	cr_assert(secp256k1_schnorrsig_sign32(signer_ctx, sig, id, &kp, aux));
	if (bad_sig)
		sig[10] ^= 1;
	tern_hex_encode(idhex, id, 32);
	idhex[64] = 0;
	tern_hex_encode(sighex, sig, 64);
	sighex[128] = 0;
	cr_assert(asprintf(&s, fmt, idhex, pkhex, at, kind, tags, content,
			   sighex) > 0);
	return s;
}

#endif
