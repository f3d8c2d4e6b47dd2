/* NIP-42 authentication state and checks (auth.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include <tern/error.h>
#include <tern/hex.h>

#include "relay/auth.h"

int tern__auth_init(tern__auth *a)
{
	uint8_t rnd[16];

	memset(a, 0, sizeof *a);
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return TERN_ECRYPTO;
	tern_hex_encode(a->challenge, rnd, sizeof rnd);
	a->challenge[32] = '\0';
	return 0;
}

void tern__auth_free(tern__auth *a)
{
	free(a->pubkeys);
	a->pubkeys = NULL;
	a->npubkeys = 0;
}

bool tern__auth_has(const tern__auth *a, const uint8_t pk[32])
{
	for (uint32_t i = 0; i < a->npubkeys; i++)
		if (memcmp(a->pubkeys[i], pk, 32) == 0)
			return true;
	return false;
}

bool tern__auth_is_party(const tern__auth *a, const tern_event *ev)
{
	uint8_t pk[32];

	if (a->npubkeys == 0)
		return false;
	if (tern__auth_has(a, ev->pubkey))
		return true;
	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n < 2 || t->v[0].n != 1 || t->v[0].p[0] != 'p' ||
		    t->v[1].n != 64)
			continue;
		if (tern_hex_decode(pk, (const char *)t->v[1].p, 32) &&
		    tern__auth_has(a, pk))
			return true;
	}
	return false;
}

/* Length of u without trailing slashes, and where its path starts (after
 * "scheme://host"), so that scheme and host compare case-insensitively. */
static size_t url_trim(tern_slice u, size_t *path_at)
{
	size_t n = u.n, i = 0;
	const uint8_t *sep;

	while (n > 0 && u.p[n - 1] == '/')
		n--;
	sep = n >= 3 ? memmem(u.p, n, "://", 3) : NULL;
	if (sep)
		i = (size_t)(sep - u.p) + 3;
	while (i < n && u.p[i] != '/')
		i++;
	*path_at = i;
	return n;
}

bool tern__auth_url_equal(tern_slice a, tern_slice b)
{
	size_t pa, pb, na = url_trim(a, &pa), nb = url_trim(b, &pb);

	if (na != nb || pa != pb)
		return false;
	if (pa && strncasecmp((const char *)a.p, (const char *)b.p, pa) != 0)
		return false;
	return memcmp(a.p + pa, b.p + pb, na - pa) == 0;
}

static bool slice_eq(tern_slice s, const char *c)
{
	size_t n = strlen(c);

	return s.n == n && memcmp(s.p, c, n) == 0;
}

int tern__auth_handle(tern__auth *a, const tern_event *ev,
		      const char *service_url, uint64_t now, tern_reason *why,
		      bool *relay_unchecked)
{
	const tern_slice *challenge, *relay;
	uint64_t skew;
	int rc;

	if (relay_unchecked)
		*relay_unchecked = false;
	if (ev->kind != TERN__AUTH_KIND) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"AUTH event must be kind %d", TERN__AUTH_KIND);
		return TERN_EINVAL;
	}
	skew = ev->created_at > now ? ev->created_at - now
				    : now - ev->created_at;
	if (skew > TERN__AUTH_WINDOW) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"AUTH event created_at is more than %d "
				"minutes off", TERN__AUTH_WINDOW / 60);
		return TERN_EINVAL;
	}
	challenge = tern_event_tag_value(ev, "challenge");
	if (!challenge || !slice_eq(*challenge, a->challenge)) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"AUTH challenge does not match");
		return TERN_EINVAL;
	}
	relay = tern_event_tag_value(ev, "relay");
	if (!relay) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"AUTH event has no relay tag");
		return TERN_EINVAL;
	}
	if (service_url && *service_url) {
		tern_slice want = { (const uint8_t *)service_url,
				    strlen(service_url) };

		if (!tern__auth_url_equal(*relay, want)) {
			tern_reason_set(why, TERN_PREFIX_INVALID,
					"AUTH relay tag does not name this "
					"relay");
			return TERN_EINVAL;
		}
	} else if (relay_unchecked) {
		*relay_unchecked = true;
	}
	rc = tern_event_check(ev, why);
	if (rc)
		return TERN_EINVAL;
	if (tern__auth_has(a, ev->pubkey))
		return 0;
	if (a->npubkeys >= TERN__AUTH_MAX_PUBKEYS) {
		tern_reason_set(why, TERN_PREFIX_RESTRICTED,
				"too many authenticated pubkeys on this "
				"connection (max %d)", TERN__AUTH_MAX_PUBKEYS);
		return TERN_EINVAL;
	}
	if (!a->pubkeys) {
		a->pubkeys = malloc(TERN__AUTH_MAX_PUBKEYS * 32);
		if (!a->pubkeys)
			return TERN_ENOMEM;
	}
	memcpy(a->pubkeys[a->npubkeys++], ev->pubkey, 32);
	return 0;
}
