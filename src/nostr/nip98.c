/* NIP-98 authorization of HTTP requests (nip98.h). */
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>

#include "core/base64.h"
#include "nostr/nip98.h"

#define KIND_HTTP_AUTH 27235

static bool slice_is(tern_slice s, const char *str)
{
	size_t n = strlen(str);

	return s.n == n && memcmp(s.p, str, n) == 0;
}

/* s without one trailing '/'. */
static tern_slice trim_slash(tern_slice s)
{
	if (s.n && s.p[s.n - 1] == '/')
		s.n--;
	return s;
}

static bool url_ok(const tern__nip98_request *rq, tern_slice u)
{
	u = trim_slash(u);
	for (const char *const *p = rq->urls; p && *p; p++) {
		tern_slice want = { (const uint8_t *)*p, strlen(*p) };

		want = trim_slash(want);
		if (want.n == u.n && memcmp(want.p, u.p, u.n) == 0)
			return true;
	}
	return false;
}

static int deny(tern_reason *why, const char *msg)
{
	tern_reason_set(why, TERN_PREFIX_NONE, "%s", msg);
	return TERN_EINVAL;
}

/* The one tag named name, or NULL (*dup set when there are several). */
static const tern_slice *only_tag(const tern_event *ev, const char *name,
				  bool *dup)
{
	const tern_slice *found = NULL;

	*dup = false;
	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n >= 2 && slice_is(t->v[0], name)) {
			if (found)
				*dup = true;
			found = &t->v[1];
		}
	}
	return found;
}

int tern__nip98_check(const tern__nip98_request *rq, uint8_t pubkey[32],
		      tern_arena *a, tern_reason *why)
{
	tern_slice v = rq->authorization, b64;
	const tern_slice *u, *m, *pl;
	tern_reason perr = { 0 };
	tern_event ev;
	uint8_t *json, digest[32];
	char hex[65];
	long n;
	bool dup;

	if (!v.n)
		return deny(why, "missing Authorization header");
	if (v.n > TERN__NIP98_MAX_HEADER)
		return deny(why, "Authorization header too large");
	if (v.n < 7 || strncasecmp((const char *)v.p, "Nostr ", 6) != 0)
		return deny(why, "Authorization scheme is not \"Nostr\"");
	b64 = (tern_slice){ v.p + 6, v.n - 6 };
	json = tern_arena_alloc(a, b64.n / 4 * 3 + 3);
	if (!json)
		return TERN_ENOMEM;
	n = tern__base64_decode(json, b64);
	if (n <= 0)
		return deny(why, "Authorization is not valid base64");
	if (tern_event_parse(&ev, json, (size_t)n, NULL, a, &perr)) {
		tern_reason_set(why, TERN_PREFIX_NONE,
				"Authorization event: %s", perr.msg);
		return TERN_EINVAL;
	}
	if (ev.kind != KIND_HTTP_AUTH)
		return deny(why, "Authorization event is not of kind 27235");
	if (tern_event_check(&ev, NULL))
		return deny(why, "Authorization event has a bad id or "
			    "signature");
	if (ev.created_at + rq->window < rq->now ||
	    ev.created_at > rq->now + rq->window)
		return deny(why, "Authorization event is too old or in the "
			    "future");
	u = only_tag(&ev, "u", &dup);
	if (!u || dup)
		return deny(why, "Authorization event needs one \"u\" tag");
	if (!url_ok(rq, *u))
		return deny(why, "\"u\" tag does not match the relay URL");
	m = only_tag(&ev, "method", &dup);
	if (!m || dup)
		return deny(why, "Authorization event needs one \"method\" "
			    "tag");
	if (m->n != strlen(rq->method) ||
	    strncasecmp((const char *)m->p, rq->method, m->n) != 0)
		return deny(why, "\"method\" tag does not match the request");
	pl = only_tag(&ev, "payload", &dup);
	if (dup || (!pl && rq->require_payload))
		return deny(why, "Authorization event needs one \"payload\" "
			    "tag");
	if (pl) {
		SHA256(rq->body.p ? rq->body.p : (const uint8_t *)"",
		       rq->body.n, digest);
		tern_hex_encode(hex, digest, 32);
		hex[64] = '\0';
		if (pl->n != 64 ||
		    strncasecmp((const char *)pl->p, hex, 64) != 0)
			return deny(why, "\"payload\" tag does not match the "
				    "body");
	}
	memcpy(pubkey, ev.pubkey, 32);
	return 0;
}
