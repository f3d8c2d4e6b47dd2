/*
 * libFuzzer target for the NIP-01 event parser (src/nostr/event.c).
 *
 * For every input:
 *  - when tern_event_parse() accepts it, its canonical JSON must parse again
 *    to byte-identical canonical JSON and equal fields (idempotence);
 *  - jansson decodes the canonical JSON and must find the same id, pubkey,
 *    sig, created_at, kind, tags and content (so canonical escaping is
 *    right), in the canonical key order;
 *  - jansson also judges the raw input against the NIP-01 event rules
 *    (object with exactly-typed id/pubkey/sig/created_at/kind/tags/content,
 *    no duplicate keys): accept/reject must agree with tern, and when both
 *    accept, jansson's decoded tags and content must equal tern's.
 * Any mismatch aborts.
 *
 * Deliberate differences, excluded narrowly:
 *  - limits: tern's size/depth/count limits (TERN_ETOOBIG) are not
 *    jansson's; such inputs are not compared.
 *  - numbers jansson cannot represent ("too big integer", "real number
 *    overflow"): created_at up to UINT64_MAX is valid for tern, and unknown
 *    fields may hold any number. Not compared.
 *  - jansson refuses U+0000 in object keys; tern accepts unknown keys with
 *    it. Not compared.
 *  - a raw NUL byte is never valid JSON, but jansson sometimes takes it for
 *    the end of input: tern must refuse, jansson's answer is ignored.
 *  - JSON_REJECT_DUPLICATES also refuses duplicate keys inside skipped
 *    unknown fields, which tern accepts: then the top-level keys are
 *    checked for a repeated event field directly.
 *  - "-0" is the integer 0 for jansson; tern refuses any sign in kind and
 *    created_at.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>

#include "proto/json.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_event: check failed: %s (line %d)\n", \
				#cond, __LINE__);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static tern_arena arena, arena2;

static bool str_eq(json_t *v, const uint8_t *p, size_t n)
{
	return json_is_string(v) && json_string_length(v) == n &&
	       (n == 0 || memcmp(json_string_value(v), p, n) == 0);
}

static bool hex_eq(json_t *v, const uint8_t *bin, size_t n)
{
	char hex[128];

	tern_hex_encode(hex, bin, n);
	return str_eq(v, (const uint8_t *)hex, 2 * n);
}

/* jansson's tags/content equal tern's decoded ones. */
static void check_body(json_t *o, const tern_event *ev)
{
	json_t *tags = json_object_get(o, "tags"), *t;
	size_t i;

	CHECK(str_eq(json_object_get(o, "content"), ev->content.p, ev->content.n));
	CHECK(json_is_array(tags) && json_array_size(tags) == ev->ntags);
	json_array_foreach(tags, i, t) {
		CHECK(json_is_array(t) && json_array_size(t) == ev->tags[i].n);
		for (uint32_t k = 0; k < ev->tags[i].n; k++)
			CHECK(str_eq(json_array_get(t, k), ev->tags[i].v[k].p,
				     ev->tags[i].v[k].n));
	}
}

static void check_canonical_with_jansson(const tern_event *ev)
{
	static const char *const order[] = { "id", "pubkey", "created_at", "kind",
					     "tags", "content", "sig" };
	json_error_t err;
	json_t *o = json_loadb((const char *)ev->json.p, ev->json.n,
			       JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
	const char *key;
	json_t *v;
	size_t i = 0;

	if (!o) {
		/* Only a created_at beyond int64 may trouble jansson. */
		CHECK(ev->created_at > INT64_MAX && strstr(err.text, "too big"));
		return;
	}
	json_object_foreach(o, key, v) {
		CHECK(i < 7 && strcmp(key, order[i]) == 0);
		i++;
	}
	CHECK(i == 7);
	CHECK(hex_eq(json_object_get(o, "id"), ev->id, 32));
	CHECK(hex_eq(json_object_get(o, "pubkey"), ev->pubkey, 32));
	CHECK(hex_eq(json_object_get(o, "sig"), ev->sig, 64));
	CHECK(json_is_integer(json_object_get(o, "created_at")));
	CHECK((uint64_t)json_integer_value(json_object_get(o, "created_at")) == ev->created_at);
	CHECK(json_is_integer(json_object_get(o, "kind")));
	CHECK(json_integer_value(json_object_get(o, "kind")) == ev->kind);
	check_body(o, ev);
	json_decref(o);
}

static void check_idempotent(const tern_event *ev)
{
	tern_event ev2;
	tern_reason why;
	uint8_t *copy = malloc(ev->json.n);

	CHECK(copy);
	memcpy(copy, ev->json.p, ev->json.n);
	tern_arena_reset(&arena2);
	CHECK(tern_event_parse(&ev2, copy, ev->json.n, NULL, &arena2, &why) == 0);
	CHECK(ev2.json.n == ev->json.n && memcmp(ev2.json.p, copy, ev->json.n) == 0);
	CHECK(!memcmp(ev2.id, ev->id, 32) && !memcmp(ev2.pubkey, ev->pubkey, 32) &&
	      !memcmp(ev2.sig, ev->sig, 64));
	CHECK(ev2.created_at == ev->created_at && ev2.kind == ev->kind);
	CHECK(ev2.ntags == ev->ntags && ev2.content.n == ev->content.n);
	CHECK(ev2.tags_off == ev->tags_off && ev2.tags_len == ev->tags_len);
	CHECK(ev2.content_off == ev->content_off && ev2.content_len == ev->content_len);
	/* The preimage parts are where the offsets say. */
	CHECK(copy[ev->tags_off] == '[' && copy[ev->tags_off + ev->tags_len - 1] == ']');
	CHECK(copy[ev->content_off] == '"' &&
	      copy[ev->content_off + ev->content_len - 1] == '"');
	free(copy);
}

static bool hex_ok(json_t *v, size_t n)
{
	const char *s = json_string_value(v);

	if (!s || json_string_length(v) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The NIP-01 event rules, judged on jansson's tree. */
static bool jansson_valid(json_t *o)
{
	json_t *tags, *t, *v;
	size_t i, k;

	if (!json_is_object(o))
		return false;
	if (!hex_ok(json_object_get(o, "id"), 64) ||
	    !hex_ok(json_object_get(o, "pubkey"), 64) ||
	    !hex_ok(json_object_get(o, "sig"), 128))
		return false;
	v = json_object_get(o, "created_at");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	v = json_object_get(o, "kind");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 65535)
		return false;
	if (!json_is_string(json_object_get(o, "content")))
		return false;
	tags = json_object_get(o, "tags");
	if (!json_is_array(tags))
		return false;
	json_array_foreach(tags, i, t) {
		if (!json_is_array(t))
			return false;
		json_array_foreach(t, k, v)
			if (!json_is_string(v))
				return false;
	}
	return true;
}

/* True if a top-level event field repeats (walked with the scanner, whose
 * key decoding fuzz_json checks against jansson). */
static bool top_level_field_repeats(const uint8_t *data, size_t size)
{
	static const char *const fields[] = { "id", "pubkey", "created_at", "kind",
					      "tags", "content", "sig" };
	tern__json j;
	tern_slice key;
	unsigned seen = 0;

	tern_arena_reset(&arena2);
	tern__json_init(&j, data, size, 64, NULL);
	CHECK(tern__json_obj_begin(&j) == 0);
	while (tern__json_obj_next(&j, &arena2, &key) == 1) {
		for (unsigned f = 0; f < 7; f++) {
			if (key.n == strlen(fields[f]) && !memcmp(key.p, fields[f], key.n)) {
				if (seen & (1u << f))
					return true;
				seen |= 1u << f;
			}
		}
		CHECK(tern__json_skip(&j) == 0);
	}
	return false;
}

static bool is_minus_zero(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);

	return json_is_integer(v) && json_integer_value(v) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern_event ev;
	tern_reason why;
	json_error_t err;
	json_t *o;
	bool want;
	int rc;

	tern_arena_reset(&arena);
	memset(&why, 0, sizeof why);
	rc = tern_event_parse(&ev, data, size, NULL, &arena, &why);
	CHECK(rc == 0 || rc == TERN_EPARSE || rc == TERN_ETOOBIG);
	CHECK(rc == 0 || (why.prefix == TERN_PREFIX_INVALID && why.msg[0]));
	if (rc == 0) {
		check_idempotent(&ev);
		check_canonical_with_jansson(&ev);
	}
	if (rc == TERN_ETOOBIG)
		return 0;
	if (size && memchr(data, 0, size)) {
		CHECK(rc != 0);
		return 0;
	}

	o = json_loadb((const char *)data, size,
		       JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		if (strstr(err.text, "too big") || strstr(err.text, "overflow") ||
		    strstr(err.text, "NUL byte in object key"))
			return 0;
		if (strstr(err.text, "duplicate object key") && rc == 0) {
			CHECK(!top_level_field_repeats(data, size));
			return 0;
		}
		if (rc == 0) {
			fprintf(stderr, "accepted, jansson refused: %s\n", err.text);
			abort();
		}
		return 0;
	}
	want = jansson_valid(o);
	if (want && rc != 0 && strstr(why.msg, "must be") &&
	    ((strstr(why.msg, "\"kind\"") && is_minus_zero(o, "kind")) ||
	     (strstr(why.msg, "\"created_at\"") && is_minus_zero(o, "created_at")))) {
		json_decref(o);
		return 0;
	}
	if (want != (rc == 0)) {
		fprintf(stderr, "tern %s (%s), jansson rules say %s\n",
			rc ? "refused" : "accepted", why.msg, want ? "valid" : "invalid");
		abort();
	}
	if (want)
		check_body(o, &ev);
	json_decref(o);
	return 0;
}
