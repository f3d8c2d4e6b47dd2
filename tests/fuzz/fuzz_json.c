/*
 * libFuzzer target for the strict JSON scanner (src/proto/json.c).
 *
 * Differential against jansson (json_loadb, JSON_DECODE_ANY|JSON_ALLOW_NUL):
 * both must accept or refuse the same documents. When both accept, the
 * document is walked with the scanner's iteration API in step with
 * jansson's tree: container sizes, value types, object keys and every
 * decoded string must agree, and every decoded string must survive
 * canonical escaping and re-scanning unchanged.
 *
 * Deliberate differences, excluded narrowly:
 *  - jansson refuses numbers it cannot represent (integers beyond int64,
 *    reals that overflow a double: "too big ... integer", "real number
 *    overflow"); RFC 8259 allows any magnitude and the scanner, which only
 *    validates numbers it skips, accepts them.
 *  - jansson refuses U+0000 in object keys even with JSON_ALLOW_NUL
 *    ("NUL byte in object key not supported"); for the scanner a key is
 *    just a string.
 *  - jansson sometimes takes a raw NUL byte for the end of input ("1\0" and
 *    "[1\0]" load). A raw NUL is never valid JSON (outside strings it is
 *    no token, inside them it must be escaped): the scanner must refuse
 *    such inputs, and jansson's answer is ignored.
 *  - the scanner's nesting limit (TERN_ETOOBIG here) is far below
 *    jansson's (2048); such inputs are not compared.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "proto/json.h"

#define MAX_DEPTH 64

static tern_arena arena;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_json: check failed: %s (line %d)\n", \
				#cond, __LINE__);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* Escapes s, scans it back and requires the same bytes. */
static void check_round_trip(tern_slice s)
{
	size_t len = tern__json_escaped_len(s);
	uint8_t *buf = malloc(len);
	tern__json j;
	tern_slice back;

	CHECK(buf);
	CHECK(tern__json_escape(buf, s) == buf + len);
	tern__json_init(&j, buf, len, 1, NULL);
	CHECK(tern__json_string(&j, &arena, &back, NULL) == 0);
	CHECK(tern__json_finish(&j) == 0);
	CHECK(back.n == s.n && (s.n == 0 || memcmp(back.p, s.p, s.n) == 0));
	free(buf);
}

static void walk(tern__json *j, json_t *v)
{
	tern_slice s;
	size_t n;
	int c = tern__json_peek(j), rc;

	CHECK(c >= 0);
	switch (c) {
	case '"':
		CHECK(tern__json_string(j, &arena, &s, NULL) == 0);
		CHECK(json_is_string(v));
		CHECK(json_string_length(v) == s.n);
		CHECK(s.n == 0 || memcmp(json_string_value(v), s.p, s.n) == 0);
		check_round_trip(s);
		return;
	case '[':
		CHECK(json_is_array(v));
		CHECK(tern__json_arr_begin(j) == 0);
		for (n = 0; (rc = tern__json_arr_next(j)) == 1; n++) {
			CHECK(n < json_array_size(v));
			walk(j, json_array_get(v, n));
		}
		CHECK(rc == 0 && n == json_array_size(v));
		return;
	case '{': {
		/* First pass: keys present, member count; the values are
		 * compared only when no key repeats (jansson keeps the last). */
		tern__json saved = *j;

		CHECK(json_is_object(v));
		CHECK(tern__json_obj_begin(j) == 0);
		for (n = 0; (rc = tern__json_obj_next(j, &arena, &s)) == 1; n++) {
			CHECK(json_object_getn(v, (const char *)s.p, s.n));
			CHECK(tern__json_skip(j) == 0);
		}
		CHECK(rc == 0);
		if (n != json_object_size(v))
			return; /* duplicate keys */
		*j = saved;
		CHECK(tern__json_obj_begin(j) == 0);
		while ((rc = tern__json_obj_next(j, &arena, &s)) == 1)
			walk(j, json_object_getn(v, (const char *)s.p, s.n));
		CHECK(rc == 0);
		return;
	}
	case 't':
		CHECK(json_is_true(v));
		break;
	case 'f':
		CHECK(json_is_false(v));
		break;
	case 'n':
		CHECK(json_is_null(v));
		break;
	default:
		CHECK(json_is_number(v));
		break;
	}
	CHECK(tern__json_skip(j) == 0);
}

static bool jansson_quirk(const json_error_t *e)
{
	return strstr(e->text, "too big") || strstr(e->text, "overflow") ||
	       strstr(e->text, "NUL byte in object key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern__json j;
	tern_reason why;
	json_error_t jerr;
	json_t *v;
	int rc;

	tern_arena_reset(&arena);
	tern__json_init(&j, data, size, MAX_DEPTH, &why);
	rc = tern__json_skip(&j);
	if (!rc)
		rc = tern__json_finish(&j);
	CHECK(rc == 0 || rc == TERN_EPARSE || rc == TERN_ETOOBIG);
	CHECK(rc == 0 || why.prefix == TERN_PREFIX_INVALID);
	if (rc == TERN_ETOOBIG)
		return 0;
	if (size && memchr(data, 0, size)) {
		CHECK(rc == TERN_EPARSE);
		return 0;
	}

	v = json_loadb((const char *)data, size,
		       JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!v) {
		if (rc == 0 && jansson_quirk(&jerr))
			return 0;
		if (rc == 0) {
			fprintf(stderr, "accepted, jansson refused: %s\n", jerr.text);
			abort();
		}
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "refused (%s), jansson accepted\n", why.msg);
		abort();
	}
	tern__json_init(&j, data, size, MAX_DEPTH, &why);
	walk(&j, v);
	CHECK(tern__json_finish(&j) == 0);
	json_decref(v);
	return 0;
}
