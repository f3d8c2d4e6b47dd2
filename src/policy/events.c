/*
 * Event policies as pure decisions (events.h). Messages follow the ones
 * khatru's users know, with the NIP-01 prefix that fits each refusal.
 */
#include <string.h>

#include <tern/arena.h>

#include "policy/events.h"
#include "proto/json.h"

static bool name_is(tern_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && !memcmp(s.p, lit, n);
}

bool tern__events_too_many_indexable_tags(const tern_event *ev, uint32_t max,
					  const tern__kindset *ignore,
					  const tern__kindset *only,
					  tern_reason *why)
{
	uint32_t n = 0;

	if (only && only->n) {
		if (!tern__kindset_has(only, ev->kind))
			return false;
	} else if (ignore && tern__kindset_has(ignore, ev->kind)) {
		return false;
	}
	for (uint32_t i = 0; i < ev->ntags; i++)
		if (ev->tags[i].n > 0 && ev->tags[i].v[0].n == 1)
			n++;
	if (n <= max)
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED,
			"too many indexable tags (max %u)", max);
	return true;
}

bool tern__events_large_tags(const tern_event *ev, uint32_t max_value_len,
			     tern_reason *why)
{
	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n > 1 && t->v[0].n == 1 && t->v[1].n > max_value_len) {
			tern_reason_set(why, TERN_PREFIX_BLOCKED,
					"event contains too large tags "
					"(max %u bytes)", max_value_len);
			return true;
		}
	}
	return false;
}

bool tern__events_kind_not_allowed(const tern_event *ev,
				   const tern__kindset *allowed,
				   bool allow_ephemeral, tern_reason *why)
{
	if ((allow_ephemeral && tern_kind_is_ephemeral(ev->kind)) ||
	    tern__kindset_has(allowed, ev->kind))
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED,
			"received event kind %u not allowed", ev->kind);
	return true;
}

bool tern__events_too_old(const tern_event *ev, uint64_t max_age,
			  uint64_t now, tern_reason *why)
{
	if (ev->created_at >= now || now - ev->created_at <= max_age)
		return false;
	tern_reason_set(why, TERN_PREFIX_INVALID, "event too old");
	return true;
}

bool tern__events_too_far_ahead(const tern_event *ev, uint64_t max_ahead,
				uint64_t now, tern_reason *why)
{
	if (ev->created_at <= now || ev->created_at - now <= max_ahead)
		return false;
	tern_reason_set(why, TERN_PREFIX_INVALID,
			"event too much in the future");
	return true;
}

bool tern__events_base64_media(const tern_event *ev, tern_reason *why)
{
	static const char img[] = "data:image/", vid[] = "data:video/";
	const void *p = ev->content.p;
	size_t n = ev->content.n;

	if (!n || (!memmem(p, n, img, sizeof img - 1) &&
		   !memmem(p, n, vid, sizeof vid - 1)))
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "event with base64 media");
	return true;
}

bool tern__events_unprotected(const tern_event *ev, tern_reason *why)
{
	/* a deletion must stay possible for events published elsewhere */
	if (ev->kind == 5 || tern_event_is_protected(ev))
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED,
			"only events protected with the NIP-70 \"-\" tag are "
			"accepted");
	return true;
}

/*
 * Kind 0 content is a JSON object of profile fields; "name" is the one
 * every client shows. The last "name" wins, as in common JSON decoders.
 * Returns 1 when the object has a non-empty string name, 0 when it has
 * none, -1 when the content is not a JSON object.
 */
static int metadata_name(tern_slice content)
{
	tern__json j;
	tern_arena a;
	tern_slice key, val = { 0 };
	bool have = false;
	int rc;

	/* decoding never grows a string: the content's size bounds the arena */
	tern_arena_init(&a, content.n + 1024);
	tern__json_init(&j, content.p, content.n, 64, NULL);
	rc = tern__json_obj_begin(&j);
	while (rc == 0 && (rc = tern__json_obj_next(&j, &a, &key)) == 1) {
		if (name_is(key, "name")) {
			if (tern__json_peek(&j) == '"') {
				rc = tern__json_string(&j, &a, &val, NULL);
				have = true;
			} else {
				rc = tern__json_skip(&j);
				have = false;
			}
		} else {
			rc = tern__json_skip(&j);
		}
	}
	if (rc == 0)
		rc = tern__json_finish(&j);
	tern_arena_free(&a);
	if (rc)
		return -1;
	return have && val.n > 0;
}

bool tern__events_invalid_for_kind(const tern_event *ev, tern_reason *why)
{
	switch (ev->kind) {
	case 0:
		switch (metadata_name(ev->content)) {
		case 1:
			return false;
		case 0:
			tern_reason_set(why, TERN_PREFIX_INVALID,
					"missing json name in kind 0");
			return true;
		default:
			tern_reason_set(why, TERN_PREFIX_INVALID,
					"kind 0 content must be a JSON object");
			return true;
		}
	case 2:
		tern_reason_set(why, TERN_PREFIX_BLOCKED,
				"kind 2 is deprecated");
		return true;
	default:
		return false;
	}
}

unsigned tern__events_pow_bits(const uint8_t id[32])
{
	unsigned n = 0;

	for (int i = 0; i < 32; i++) {
		if (id[i]) {
			for (uint8_t b = id[i]; !(b & 0x80); b <<= 1)
				n++;
			break;
		}
		n += 8;
	}
	return n;
}

/* The target of a ["nonce", "<n>", "<target>"] tag: a decimal number of
 * at most 3 digits. Returns false when there is none (or it is not a
 * number), which NIP-13 leaves to the id alone. */
static bool committed_target(const tern_event *ev, uint32_t *out)
{
	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];
		uint32_t v = 0;

		if (t->n < 3 || !name_is(t->v[0], "nonce"))
			continue;
		if (t->v[2].n == 0 || t->v[2].n > 3)
			return false;
		for (size_t k = 0; k < t->v[2].n; k++) {
			uint8_t c = t->v[2].p[k];

			if (c < '0' || c > '9')
				return false;
			v = v * 10 + (uint32_t)(c - '0');
		}
		*out = v;
		return true;
	}
	return false;
}

bool tern__events_low_pow(const tern_event *ev, uint32_t min_bits,
			  tern_reason *why)
{
	unsigned bits = tern__events_pow_bits(ev->id);
	uint32_t target;

	if (bits < min_bits) {
		tern_reason_set(why, TERN_PREFIX_POW,
				"difficulty %u is less than %u", bits,
				min_bits);
		return true;
	}
	if (committed_target(ev, &target) && target < min_bits) {
		tern_reason_set(why, TERN_PREFIX_POW,
				"committed target difficulty %u is less than "
				"%u", target, min_bits);
		return true;
	}
	return false;
}

bool tern__events_content_too_long(const tern_event *ev, uint32_t max,
				   tern_reason *why)
{
	if (ev->content.n <= max)
		return false;
	tern_reason_set(why, TERN_PREFIX_INVALID,
			"content is longer than %u bytes", max);
	return true;
}
