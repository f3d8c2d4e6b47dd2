/*
 * NIP-42 authentication state of one connection, and the checks that use
 * it: validating an AUTH event, NIP-70 protected events, and restricted
 * reads (kinds served only to their author or a p-tagged recipient).
 *
 * State is per connection, used on its I/O thread only. Memory: the
 * challenge is inline; authed pubkeys are allocated on the first AUTH.
 */
#ifndef TERN_RELAY_AUTH_H
#define TERN_RELAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/event.h>
#include <tern/types.h>

/* Kind of NIP-42 AUTH events. */
#define TERN__AUTH_KIND 22242
/* Most pubkeys one connection may authenticate as. */
#define TERN__AUTH_MAX_PUBKEYS 16
/* AUTH events must be this close to the relay's clock (seconds). */
#define TERN__AUTH_WINDOW 600

typedef struct tern__auth {
	char challenge[33];       /* 32 lowercase hex characters + NUL */
	uint8_t (*pubkeys)[32];   /* authed pubkeys (NULL until one) */
	uint32_t npubkeys;
} tern__auth;

/* Sets a fresh random challenge and no pubkeys. Returns 0 or
 * TERN_ECRYPTO. */
int tern__auth_init(tern__auth *a);
void tern__auth_free(tern__auth *a);

/*
 * Validates an AUTH event (NIP-42) against the connection's challenge:
 * kind 22242, a "challenge" tag equal to it, a "relay" tag naming
 * service_url (trailing slashes and the case of scheme and host are
 * ignored; an empty service_url accepts any relay URL), created_at within
 * TERN__AUTH_WINDOW of now, then id and signature. On success records the
 * pubkey (a repeated pubkey is fine). Returns 0, or TERN_EINVAL with why
 * set ("invalid: ..." / "restricted: ..."), or TERN_ENOMEM.
 * *relay_unchecked (may be NULL) is set true when service_url was empty
 * and the tag was accepted unverified, so the caller can log it.
 */
int tern__auth_handle(tern__auth *a, const tern_event *ev,
		      const char *service_url, uint64_t now, tern_reason *why,
		      bool *relay_unchecked);

/* True once any pubkey is authenticated. */
static inline bool tern__auth_any(const tern__auth *a)
{
	return a->npubkeys > 0;
}

/* True if the connection is authenticated as pk. */
bool tern__auth_has(const tern__auth *a, const uint8_t pk[32]);

/*
 * Restricted reads: true if ev may be sent to this connection, i.e. the
 * connection is authed as ev's author or as a pubkey named by one of ev's
 * "p" tags.
 */
bool tern__auth_is_party(const tern__auth *a, const tern_event *ev);

/* True if two relay URLs name the same relay (see tern__auth_handle). */
bool tern__auth_url_equal(tern_slice a, tern_slice b);

#endif
