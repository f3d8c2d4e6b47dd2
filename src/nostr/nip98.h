/*
 * Internal NIP-98 (HTTP Auth) validator, as NIP-86 uses it: the
 * Authorization header "Nostr <base64 of a kind-27235 event>" of one
 * request, checked against that request.
 */
#ifndef TERN_NOSTR_NIP98_H
#define TERN_NOSTR_NIP98_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/types.h>

/* Largest Authorization value looked at (a bigger one is refused). */
#define TERN__NIP98_MAX_HEADER 16384

typedef struct tern__nip98_request {
	tern_slice authorization; /* the header's value (empty: none) */
	const char *method;       /* "POST" */
	const char *const *urls;  /* accepted "u" values, NULL-terminated
				     (a trailing '/' is ignored on both
				     sides) */
	tern_slice body;          /* hashed for the "payload" tag */
	bool require_payload;     /* NIP-86 makes it mandatory */
	uint64_t now;             /* Unix seconds */
	uint32_t window;          /* allowed |created_at - now| */
} tern__nip98_request;

/*
 * Checks rq's authorization: "Nostr" scheme (case-insensitive) and one
 * space, standard base64 (padding optional), an event that parses
 * strictly, kind 27235, valid id and signature, created_at within the
 * window, a "u" tag equal to one of urls, a "method" tag equal to method
 * (ASCII case-insensitive), and a "payload" tag equal to the hex SHA-256
 * of body (case-insensitive) when present or required. On success
 * pubkey gets the signer. a holds scratch memory.
 *
 * Returns 0, or TERN_EINVAL with why set to the failed check
 * (e.g. "missing Authorization header", "\"u\" tag does not match the
 * relay URL"); TERN_ENOMEM.
 */
int tern__nip98_check(const tern__nip98_request *rq, uint8_t pubkey[32],
		      tern_arena *a, tern_reason *why);

#endif
