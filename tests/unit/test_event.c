/* Unit tests for the NIP-01 event model (src/nostr/event.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>

#define VECTORS "tests/vectors/vectors.json"

#define ID64  "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36"
#define PK64  "f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca"
#define SIG128                                                                 \
	"a0a7d7b1c5b6a3a9f1b0f3c4e6a8d2b4c6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6"  \
	"b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0"

static tern_arena A;
static tern_event ev;
static tern_reason why;
static char wire[256];

static void setup(void)
{
	tern_arena_init(&A, 0);
}

static void teardown(void)
{
	tern_arena_free(&A);
}

TestSuite(event, .init = setup, .fini = teardown);

static int parse_n(const char *s, size_t n, const tern_event_limits *lim)
{
	int rc;

	tern_arena_reset(&A);
	memset(&why, 0, sizeof why);
	wire[0] = 0;
	rc = tern_event_parse(&ev, (const uint8_t *)s, n, lim, &A, &why);
	if (rc)
		tern_reason_format(&why, wire, sizeof wire);
	return rc;
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s), NULL);
}

static bool json_is(const char *want)
{
	return ev.json.n == strlen(want) && memcmp(ev.json.p, want, ev.json.n) == 0;
}

#define EXPECT_JSON(want)                                                      \
	cr_expect(json_is(want), "canonical JSON\n got: %.*s\nwant: %s",       \
		  (int)ev.json.n, (const char *)ev.json.p, want)

/* An event with the given raw tags and content JSON texts. */
static char *event_text(const char *tags, const char *content)
{
	char *s = NULL;

	cr_assert(asprintf(&s,
			   "{\"id\":\"" ID64 "\",\"pubkey\":\"" PK64
			   "\",\"created_at\":1700000000,\"kind\":1,\"tags\":%s,"
			   "\"content\":%s,\"sig\":\"" SIG128 "\"}",
			   tags, content) > 0);
	return s;
}

Test(event, parses_fields_and_canonical_json)
{
	const char *in = event_text("[[\"e\",\"abc\",\"wss://r\"],[\"p\"],[]]", "\"hello\"");
	uint8_t id[32];

	cr_assert_eq(parse(in), 0, "%s", wire);
	tern_hex_decode(id, ID64, 32);
	cr_expect_eq(memcmp(ev.id, id, 32), 0);
	cr_expect_eq(ev.created_at, 1700000000);
	cr_expect_eq(ev.kind, 1);
	cr_expect_eq(ev.ntags, 3);
	cr_expect_eq(ev.tags[0].n, 3);
	cr_expect_eq(ev.tags[1].n, 1);
	cr_expect_eq(ev.tags[2].n, 0);
	cr_expect(ev.tags[0].v[2].n == 7 && !memcmp(ev.tags[0].v[2].p, "wss://r", 7));
	cr_expect(ev.content.n == 5 && !memcmp(ev.content.p, "hello", 5));
	EXPECT_JSON(in);
	/* Canonical input: the tags array is the input's bytes, content too. */
	cr_expect_eq(memcmp(ev.json.p + ev.tags_off, "[[\"e\"", 5), 0);
	cr_expect_eq(ev.tags_len, strlen("[[\"e\",\"abc\",\"wss://r\"],[\"p\"],[]]"));
	cr_expect_eq(ev.content_len, 7);
	cr_expect_eq(memcmp(ev.json.p + ev.content_off, "\"hello\"", 7), 0);
	free((void *)in);
}

Test(event, zero_copy_strings)
{
	const char *in = event_text("[[\"t\",\"nostr\"],[\"x\",\"a\\nb\"]]", "\"plain content\"");
	const uint8_t *b = (const uint8_t *)in, *e = b + strlen(in);

	cr_assert_eq(parse(in), 0, "%s", wire);
	cr_expect(ev.content.p > b && ev.content.p < e, "content must point into the input");
	cr_expect(ev.tags[0].v[1].p > b && ev.tags[0].v[1].p < e);
	/* A value with an escape is decoded into the arena instead. */
	cr_expect(ev.tags[1].v[1].p < b || ev.tags[1].v[1].p >= e);
	cr_expect(ev.tags[1].v[1].n == 3 && !memcmp(ev.tags[1].v[1].p, "a\nb", 3));
	free((void *)in);
}

Test(event, field_order_whitespace_and_unknown_fields)
{
	const char *in =
		" \r\n{ \"sig\" : \"" SIG128 "\" ,\n\t\"extra\": {\"a\":[1,2,{\"b\":null}],\"c\":\"\\u0041\"},"
		"\"content\" : \"hi\\/there\", \"tags\" : [ [ \"e\" , \"x\" ] ] , \"kind\":7,"
		"\"created_at\" : 0, \"pubkey\":\"" PK64 "\",\"id\":\"" ID64 "\", \"z\":[] } \n";
	const char *want =
		"{\"id\":\"" ID64 "\",\"pubkey\":\"" PK64 "\",\"created_at\":0,\"kind\":7,"
		"\"tags\":[[\"e\",\"x\"]],\"content\":\"hi/there\",\"sig\":\"" SIG128 "\"}";

	cr_assert_eq(parse(in), 0, "%s", wire);
	EXPECT_JSON(want);
	/* Parsing the canonical form again gives the same bytes. */
	char *copy = strndup((const char *)ev.json.p, ev.json.n);
	cr_assert_eq(parse(copy), 0, "%s", wire);
	EXPECT_JSON(want);
	free(copy);
}

Test(event, canonical_escaping)
{
	/* Every control character, as upper-case \u escapes in the input. */
	char content[1024], want[1024], *p = content, *w = want;

	*p++ = '"';
	*w++ = '"';
	for (unsigned c = 0; c < 0x20; c++) {
		p += sprintf(p, "\\u%04X", c);
		switch (c) {
		case '\b': w += sprintf(w, "\\b"); break;
		case '\t': w += sprintf(w, "\\t"); break;
		case '\n': w += sprintf(w, "\\n"); break;
		case '\f': w += sprintf(w, "\\f"); break;
		case '\r': w += sprintf(w, "\\r"); break;
		default: w += sprintf(w, "\\u%04x", c); break;
		}
	}
	/* U+007F, U+2028, U+2029 verbatim; emoji from a surrogate pair;
	 * quote, backslash and solidus. */
	p += sprintf(p, "\\u007f\\u2028\\u2029\\uD83D\\uDE00\\\"\\\\\\/\\u00e9x\"");
	w += sprintf(w, "\x7f\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80\\\"\\\\/\xc3\xa9x\"");
	*p = *w = 0;

	char *in = event_text("[]", content);
	char *canon = event_text("[]", want);

	cr_assert_eq(parse(in), 0, "%s", wire);
	EXPECT_JSON(canon);
	cr_expect_eq(ev.content.n, 32 + 1 + 3 + 3 + 4 + 3 + 2 + 1);
	cr_expect_eq(ev.content.p[0], 0, "\\u0000 decodes to a NUL byte");
	/* Same result from the canonical text, which is now all raw. */
	cr_assert_eq(parse(canon), 0, "%s", wire);
	EXPECT_JSON(canon);
	free(in);
	free(canon);

	in = event_text("[[\"\\u0000\",\"\\t\\u2028\\\"\"]]", "\"\"");
	canon = event_text("[[\"\\u0000\",\"\\t\xe2\x80\xa8\\\"\"]]", "\"\"");
	cr_assert_eq(parse(in), 0, "%s", wire);
	EXPECT_JSON(canon);
	cr_expect_eq(ev.tags[0].v[0].n, 1);
	free(in);
	free(canon);
}

/* The id is SHA-256 of the preimage written out by hand. */
Test(event, compute_id_matches_explicit_preimage)
{
	const char *in = event_text("[[\"e\",\"x\\ny\"],[\"emoji\",\"\xf0\x9f\x98\x80\"]]",
				    "\"a\\u0001b\\\"c\\u2028\"");
	const char *pre = "[0,\"" PK64 "\",1700000000,1,[[\"e\",\"x\\ny\"],[\"emoji\",\"\xf0\x9f\x98\x80\"]],"
			  "\"a\\u0001b\\\"c\xe2\x80\xa8\"]";
	uint8_t want[32], got[32];

	cr_assert_eq(parse(in), 0, "%s", wire);
	SHA256((const uint8_t *)pre, strlen(pre), want);
	tern_event_compute_id(&ev, got);
	cr_expect_eq(memcmp(got, want, 32), 0);
	cr_expect_eq(tern_event_check_id(&ev, &why), TERN_EBADID);
	cr_expect_str_eq(why.msg, "event id does not match");
	free((void *)in);
}

/* ---- signed events --------------------------------------------------------- */

static secp256k1_context *sctx;
static secp256k1_keypair kp;
static char pkhex[65];

static void keys(void)
{
	uint8_t sk[32], pk[32];
	secp256k1_xonly_pubkey xpk;

	if (sctx)
		return;
	memset(sk, 0x42, sizeof sk);
	sctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	cr_assert(secp256k1_keypair_create(sctx, &kp, sk));
	cr_assert(secp256k1_keypair_xonly_pub(sctx, &xpk, NULL, &kp));
	secp256k1_xonly_pubkey_serialize(sctx, pk, &xpk);
	tern_hex_encode(pkhex, pk, 32);
	pkhex[64] = 0;
}

/* A correctly signed event with the given kind, tags and content JSON. */
static char *signed_event(unsigned kind, const char *tags, const char *content)
{
	char *s = NULL, idhex[65], sighex[129];
	uint8_t id[32], sig[64], aux[32] = { 0 };
	const char *fmt = "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":1700000000,"
			  "\"kind\":%u,\"tags\":%s,\"content\":%s,\"sig\":\"%s\"}";

	keys();
	cr_assert(asprintf(&s, fmt, ID64, pkhex, kind, tags, content, SIG128) > 0);
	cr_assert_eq(parse(s), 0, "%s", wire);
	tern_event_compute_id(&ev, id);
	cr_assert(secp256k1_schnorrsig_sign32(sctx, sig, id, &kp, aux));
	free(s);
	tern_hex_encode(idhex, id, 32);
	idhex[64] = 0;
	tern_hex_encode(sighex, sig, 64);
	sighex[128] = 0;
	cr_assert(asprintf(&s, fmt, idhex, pkhex, kind, tags, content, sighex) > 0);
	return s;
}

Test(event, check_signed_event)
{
	char *s = signed_event(1, "[[\"t\",\"x\"]]", "\"signed \\u00e9\"");
	char *p;

	cr_assert_eq(parse(s), 0, "%s", wire);
	cr_expect_eq(tern_event_check(&ev, &why), 0, "%s", why.msg);
	cr_expect_eq(tern_event_check_id(&ev, &why), 0);
	cr_expect_eq(tern_event_check_sig(&ev, &why), 0);

	/* A flipped signature digit. */
	p = strstr(s, "\"sig\":\"") + 7;
	*p = *p == 'a' ? 'b' : 'a';
	cr_assert_eq(parse(s), 0, "%s", wire);
	cr_expect_eq(tern_event_check_id(&ev, &why), 0);
	cr_expect_eq(tern_event_check(&ev, &why), TERN_EBADSIG);
	tern_reason_format(&why, wire, sizeof wire);
	cr_expect_str_eq(wire, "invalid: bad signature");
	free(s);

	/* Changed content: the id no longer matches. */
	s = signed_event(1, "[]", "\"abc\"");
	p = strstr(s, "\"abc\"");
	p[1] = 'x';
	cr_assert_eq(parse(s), 0, "%s", wire);
	cr_expect_eq(tern_event_check(&ev, &why), TERN_EBADID);
	tern_reason_format(&why, wire, sizeof wire);
	cr_expect_str_eq(wire, "invalid: event id does not match");
	free(s);

	/* A pubkey that is not an x coordinate on the curve. */
	s = signed_event(1, "[]", "\"abc\"");
	cr_assert_eq(parse(s), 0);
	memset(ev.pubkey, 0xff, 32);
	cr_expect_eq(tern_event_check_sig(&ev, &why), TERN_EBADSIG);
	free(s);
}

/* Each thread gets its own hashing context; contexts of exited threads are
 * freed (the ASan build's leak check sees it otherwise). */
static void *id_worker(void *arg)
{
	const char *s = arg;
	tern_arena a;
	tern_event e;
	tern_reason r;
	intptr_t bad = 0;

	tern_arena_init(&a, 0);
	for (int i = 0; i < 2000; i++) {
		tern_arena_reset(&a);
		if (tern_event_parse(&e, (const uint8_t *)s, strlen(s), NULL, &a, &r) ||
		    tern_event_check_id(&e, &r) || (i % 200 == 0 && tern_event_check_sig(&e, &r)))
			bad++;
	}
	tern_arena_free(&a);
	return (void *)bad;
}

Test(event, check_from_many_threads)
{
	char *s = signed_event(7, "[[\"e\",\"x\"]]", "\"+\"");
	pthread_t th[4];
	void *bad;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, id_worker, s), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &bad);
		cr_expect_null(bad, "thread %d: %ld failures", i, (long)(intptr_t)bad);
	}
	free(s);
}

/* ---- rejections -------------------------------------------------------------- */

struct bad {
	const char *in;
	int rc;
	const char *msg;
};

#define HEAD_NO_ID "\"pubkey\":\"" PK64 "\",\"created_at\":1,\"kind\":1,\"tags\":[],\"content\":\"\",\"sig\":\"" SIG128 "\""
#define FULL "{\"id\":\"" ID64 "\"," HEAD_NO_ID

static void expect_bad(const struct bad *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(parse(b[i].in), b[i].rc, "rc for %s: %s", b[i].in, wire);
		cr_expect_str_eq(wire, b[i].msg, "for %s: got %s", b[i].in, wire);
	}
}

Test(event, rejects_with_precise_reasons)
{
	static const struct bad bad[] = {
		{ "", TERN_EPARSE, "invalid: event must be a JSON object" },
		{ "[]", TERN_EPARSE, "invalid: event must be a JSON object" },
		{ FULL "}x", TERN_EPARSE, "invalid: trailing garbage after event" },
		{ FULL "} {}", TERN_EPARSE, "invalid: trailing garbage after event" },
		{ FULL, TERN_EPARSE, "invalid: unexpected end of input at offset 332 (expected ',' or '}')" },
		{ "{" HEAD_NO_ID "}", TERN_EPARSE, "invalid: missing \"id\"" },
		{ "{\"id\":\"" ID64 "\"}", TERN_EPARSE, "invalid: missing \"pubkey\"" },
		{ "{\"id\":\"" ID64 "\",\"pubkey\":\"" PK64 "\",\"created_at\":1,\"kind\":1,\"tags\":[],\"content\":\"\"}",
		  TERN_EPARSE, "invalid: missing \"sig\"" },
		{ FULL ",\"id\":\"" ID64 "\"}", TERN_EPARSE, "invalid: duplicate \"id\"" },
		{ FULL ",\"kind\":2}", TERN_EPARSE, "invalid: duplicate \"kind\"" },
		{ FULL ",\"tags\":[]}", TERN_EPARSE, "invalid: duplicate \"tags\"" },
		{ "{\"id\":\"" ID64 "A\"," HEAD_NO_ID "}", TERN_EPARSE, "invalid: \"id\" must be 64 lowercase hex characters" },
		{ "{\"id\":\"5C83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36\"," HEAD_NO_ID "}",
		  TERN_EPARSE, "invalid: \"id\" must be 64 lowercase hex characters" },
		{ "{\"id\":\"5c83\"," HEAD_NO_ID "}", TERN_EPARSE, "invalid: \"id\" must be 64 lowercase hex characters" },
		{ "{\"id\":12," HEAD_NO_ID "}", TERN_EPARSE, "invalid: \"id\" must be 64 lowercase hex characters" },
		{ "{\"id\":\"" ID64 "\",\"pubkey\":\"zz\"}", TERN_EPARSE, "invalid: \"pubkey\" must be 64 lowercase hex characters" },
		{ "{\"sig\":\"" ID64 "\"}", TERN_EPARSE, "invalid: \"sig\" must be 128 lowercase hex characters" },
		{ "{\"kind\":65536}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"kind\":-1}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"kind\":1.0}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"kind\":1e3}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"kind\":01}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"kind\":\"1\"}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"kind\":null}", TERN_EPARSE, "invalid: \"kind\" must be an integer 0-65535" },
		{ "{\"created_at\":-1}", TERN_EPARSE, "invalid: \"created_at\" must be a non-negative integer" },
		{ "{\"created_at\":1.5}", TERN_EPARSE, "invalid: \"created_at\" must be a non-negative integer" },
		{ "{\"created_at\":1e9}", TERN_EPARSE, "invalid: \"created_at\" must be a non-negative integer" },
		{ "{\"created_at\":007}", TERN_EPARSE, "invalid: \"created_at\" must be a non-negative integer" },
		{ "{\"created_at\":18446744073709551616}", TERN_EPARSE, "invalid: \"created_at\" must be a non-negative integer" },
		{ "{\"created_at\":\"1\"}", TERN_EPARSE, "invalid: \"created_at\" must be a non-negative integer" },
		{ "{\"tags\":{}}", TERN_EPARSE, "invalid: \"tags\" must be an array of arrays of strings" },
		{ "{\"tags\":[\"e\"]}", TERN_EPARSE, "invalid: \"tags\" must be an array of arrays of strings" },
		{ "{\"tags\":[[1]]}", TERN_EPARSE, "invalid: \"tags\" must be an array of arrays of strings" },
		{ "{\"tags\":[[\"e\",null]]}", TERN_EPARSE, "invalid: \"tags\" must be an array of arrays of strings" },
		{ "{\"tags\":[[\"e\",[\"x\"]]]}", TERN_EPARSE, "invalid: \"tags\" must be an array of arrays of strings" },
		{ "{\"tags\":null}", TERN_EPARSE, "invalid: \"tags\" must be an array of arrays of strings" },
		{ "{\"tags\":[[\"e\",]]}", TERN_EPARSE, "invalid: expected a value at offset 14" },
		{ "{\"content\":5}", TERN_EPARSE, "invalid: \"content\" must be a string" },
		{ "{\"content\":\"ab\\xcd\"}", TERN_EPARSE, "invalid: bad escape \\x at offset 14" },
		{ "{\"content\":\"ab\xc0\xaf\"}", TERN_EPARSE, "invalid: invalid UTF-8 at offset 14" },
		{ "{\"content\":\"\xed\xa0\x80\"}", TERN_EPARSE, "invalid: invalid UTF-8 at offset 12" },
		{ "{\"content\":\"\\ud83d\"}", TERN_EPARSE, "invalid: unpaired surrogate \\ud83d at offset 12" },
		{ "{\"content\":\"\\ude00\\ud83d\"}", TERN_EPARSE, "invalid: unpaired surrogate \\ude00 at offset 12" },
		{ "{\"content\":\"a\nb\"}", TERN_EPARSE, "invalid: unescaped control character 0x0a in string at offset 13" },
		{ "{\"tags\":[[\"\xff\"]]}", TERN_EPARSE, "invalid: invalid UTF-8 at offset 11" },
		{ "{\"x\":[1,}", TERN_EPARSE, "invalid: expected a value at offset 8" },
		{ "{\"x\":1 \"y\":2}", TERN_EPARSE, "invalid: expected ',' or '}' at offset 7" },
	};
	expect_bad(bad, sizeof bad / sizeof bad[0]);
}

Test(event, kind_and_created_at_bounds)
{
	char *s;

	cr_assert(asprintf(&s, "{\"id\":\"" ID64 "\",\"pubkey\":\"" PK64
			   "\",\"created_at\":18446744073709551615,\"kind\":65535,"
			   "\"tags\":[],\"content\":\"\",\"sig\":\"" SIG128 "\"}") > 0);
	cr_assert_eq(parse(s), 0, "%s", wire);
	cr_expect_eq(ev.created_at, UINT64_MAX);
	cr_expect_eq(ev.kind, 65535);
	EXPECT_JSON(s);
	free(s);
}

Test(event, limits)
{
	tern_event_limits lim;
	char *s, *big;
	size_t n;

	tern_event_limits_defaults(&lim);
	cr_expect_eq(lim.max_json, 262144);
	cr_expect_eq(lim.max_content, 131072);
	cr_expect_eq(lim.max_tags, 5000);
	cr_expect_eq(lim.max_tag_values, 256);
	cr_expect_eq(lim.max_depth, 16);

	s = event_text("[[\"a\",\"b\",\"c\"],[\"d\"]]", "\"0123456789\"");
	n = strlen(s);
	lim.max_json = n - 1;
	cr_expect_eq(parse_n(s, n, &lim), TERN_ETOOBIG);
	char want[128];
	snprintf(want, sizeof want, "invalid: event too large (%zu > %zu bytes)", n, n - 1);
	cr_expect_str_eq(wire, want);
	lim.max_json = n;
	cr_expect_eq(parse_n(s, n, &lim), 0);

	lim.max_content = 9;
	cr_expect_eq(parse_n(s, n, &lim), TERN_ETOOBIG);
	cr_expect_str_eq(wire, "invalid: content too large (10 > 9 bytes)");
	lim.max_content = 10;
	cr_expect_eq(parse_n(s, n, &lim), 0);

	lim.max_tags = 1;
	cr_expect_eq(parse_n(s, n, &lim), TERN_ETOOBIG);
	cr_expect_str_eq(wire, "invalid: too many tags (more than 1)");
	lim.max_tags = 2;
	lim.max_tag_values = 2;
	cr_expect_eq(parse_n(s, n, &lim), TERN_ETOOBIG);
	cr_expect_str_eq(wire, "invalid: too many values in one tag (more than 2)");
	lim.max_tag_values = 3;
	cr_expect_eq(parse_n(s, n, &lim), 0);
	free(s);

	/* Nesting of unknown fields. */
	tern_event_limits_defaults(&lim);
	lim.max_depth = 4;
	big = event_text("[]", "\"\"");
	cr_assert(asprintf(&s, "{\"x\":[[[1]]],%s", big + 1) > 0);
	cr_expect_eq(parse_n(s, strlen(s), &lim), 0, "%s", wire);
	free(s);
	cr_assert(asprintf(&s, "{\"x\":[[[[1]]]],%s", big + 1) > 0);
	cr_expect_eq(parse_n(s, strlen(s), &lim), TERN_ETOOBIG);
	cr_expect_str_eq(wire, "invalid: nesting deeper than 4 levels at offset 8");
	free(s);
	free(big);
}

Test(event, large_content_and_many_tags)
{
	size_t n = 100 * 1024, tn = 2000;
	char *content = malloc(n + 3), *tags = malloc(tn * 24 + 3), *p, *s;
	const char *cp;

	content[0] = '"';
	for (size_t i = 0; i < n; i++)
		content[1 + i] = (char)('a' + i % 26);
	memcpy(content + 1 + n, "\"", 2);
	p = tags;
	*p++ = '[';
	for (size_t i = 0; i < tn; i++)
		p += sprintf(p, "%s[\"t\",\"v%zu\"]", i ? "," : "", i);
	memcpy(p, "]", 2);

	s = event_text(tags, content);
	cr_assert_eq(parse(s), 0, "%s", wire);
	cr_expect_eq(ev.content.n, n);
	cr_expect_eq(ev.ntags, tn);
	cr_expect(ev.tags[1999].v[1].n == 5 && !memcmp(ev.tags[1999].v[1].p, "v1999", 5));
	EXPECT_JSON(s);
	free(s);

	/* The same with whitespace and escapes, so nothing is copied verbatim. */
	p = tags;
	*p++ = '[';
	for (size_t i = 0; i < tn; i++)
		p += sprintf(p, "%s [\"\\u0074\", \"v%zu\"]", i ? "," : "", i);
	memcpy(p, "]", 2);
	content[5] = '\\';
	content[6] = 'n';
	s = event_text(tags, content);
	cr_assert_eq(parse(s), 0, "%s", wire);
	cr_expect_eq(ev.ntags, tn);
	cr_expect_eq(ev.content.n, n - 1);
	cp = (const char *)ev.json.p + ev.tags_off;
	cr_expect_eq(strncmp(cp, "[[\"t\",\"v0\"],[\"t\",\"v1\"],", 23), 0);
	cr_expect(ev.tags[1234].v[0].n == 1 && ev.tags[1234].v[0].p[0] == 't');
	free(s);
	free(content);
	free(tags);
}

Test(event, tag_helpers)
{
	const char *in = event_text("[[\"e\",\"x\"],[\"d\",\"addr\"],[\"d\",\"second\"],[\"-\"],"
				    "[\"expiration\",\"1700000100\"]]", "\"\"");

	cr_assert_eq(parse(in), 0, "%s", wire);
	const tern_slice *v = tern_event_tag_value(&ev, "e");
	cr_expect(v && v->n == 1 && v->p[0] == 'x');
	cr_expect_null(tern_event_tag_value(&ev, "p"));
	cr_expect_null(tern_event_tag_value(&ev, "-"), "a tag without a value has no value");
	tern_slice d = tern_event_d_tag(&ev);
	cr_expect(d.n == 4 && !memcmp(d.p, "addr", 4));
	cr_expect(tern_event_is_protected(&ev));
	uint64_t t = 0;
	cr_expect(tern_event_expiration(&ev, &t));
	cr_expect_eq(t, 1700000100);
	free((void *)in);

	in = event_text("[[\"expiration\",\"17e8\"],[\"d\"]]", "\"\"");
	cr_assert_eq(parse(in), 0, "%s", wire);
	cr_expect(!tern_event_expiration(&ev, &t));
	cr_expect(!tern_event_is_protected(&ev));
	cr_expect_eq(tern_event_d_tag(&ev).n, 0);
	free((void *)in);

	in = event_text("[[\"expiration\",\"99999999999999999999\"]]", "\"\"");
	cr_assert_eq(parse(in), 0, "%s", wire);
	cr_expect(!tern_event_expiration(&ev, &t), "overflow is malformed");
	free((void *)in);
}

Test(event, arena_exhaustion)
{
	tern_arena small;
	const char *in = event_text("[[\"a\\n\"]]", "\"x\"");

	tern_arena_init(&small, 64);
	cr_expect_eq(tern_event_parse(&ev, (const uint8_t *)in, strlen(in), NULL, &small, &why),
		     TERN_ENOMEM);
	tern_arena_free(&small);
	free((void *)in);
}

/* ---- vectors made by nostr-tools ------------------------------------------- */

static char *dup_json_string(json_t *o, const char *key, size_t *n)
{
	json_t *v = json_object_get(o, key);
	char *s;

	cr_assert(json_is_string(v), "vector field %s", key);
	*n = json_string_length(v);
	s = malloc(*n + 1);
	memcpy(s, json_string_value(v), *n + 1);
	return s;
}

Test(event, nostr_tools_vectors)
{
	json_error_t err;
	json_t *root = json_load_file(VECTORS, JSON_ALLOW_NUL, &err), *v;
	size_t i, nvalid, ninvalid;

	if (!root)
		cr_skip_test("%s not available: %s", VECTORS, err.text);
	nvalid = json_array_size(json_object_get(root, "valid"));
	ninvalid = json_array_size(json_object_get(root, "invalid"));
	cr_assert_gt(nvalid, 0);
	cr_assert_gt(ninvalid, 0);

	json_array_foreach(json_object_get(root, "valid"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		size_t in_n, js_n, id_n, pk_n;
		char *in = dup_json_string(v, "input", &in_n);
		char *js = dup_json_string(v, "json", &js_n);
		char *idh = dup_json_string(v, "id", &id_n);
		char *pkh = dup_json_string(v, "pubkey", &pk_n);
		uint8_t id[32], want[32], pk[32];

		cr_expect_eq(parse_n(in, in_n, NULL), 0, "%s: %s", name, wire);
		if (!wire[0]) {
			cr_expect(ev.json.n == js_n && !memcmp(ev.json.p, js, js_n),
				  "%s: canonical JSON\n got: %.*s\nwant: %s", name,
				  (int)ev.json.n, (const char *)ev.json.p, js);
			cr_assert(id_n == 64 && tern_hex_decode(want, idh, 32));
			cr_assert(pk_n == 64 && tern_hex_decode(pk, pkh, 32));
			tern_event_compute_id(&ev, id);
			cr_expect_eq(memcmp(id, want, 32), 0, "%s: id", name);
			cr_expect_eq(memcmp(ev.pubkey, pk, 32), 0, "%s: pubkey", name);
			cr_expect_eq(tern_event_check(&ev, &why), 0, "%s: %s", name, why.msg);
			/* The canonical form parses to itself. */
			char *copy = malloc(ev.json.n);
			size_t cn = ev.json.n;
			memcpy(copy, ev.json.p, cn);
			cr_expect_eq(parse_n(copy, cn, NULL), 0, "%s (canonical): %s", name, wire);
			cr_expect(ev.json.n == cn && !memcmp(ev.json.p, copy, cn), "%s: idempotent", name);
			free(copy);
		}
		free(in);
		free(js);
		free(idh);
		free(pkh);
	}

	json_array_foreach(json_object_get(root, "invalid"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *expect = json_string_value(json_object_get(v, "expect"));
		size_t in_n;
		char *in = dup_json_string(v, "input", &in_n);
		int rc = parse_n(in, in_n, NULL);

		cr_assert(expect, "%s: expect", name);
		if (!strcmp(expect, "parse")) {
			cr_expect(rc == TERN_EPARSE || rc == TERN_ETOOBIG,
				  "%s: parse must fail, got %d", name, rc);
			cr_expect_eq(why.prefix, TERN_PREFIX_INVALID, "%s", name);
		} else if (!strcmp(expect, "id")) {
			cr_expect_eq(rc, 0, "%s: %s", name, wire);
			if (!rc)
				cr_expect_eq(tern_event_check(&ev, &why), TERN_EBADID, "%s", name);
		} else if (!strcmp(expect, "sig")) {
			cr_expect_eq(rc, 0, "%s: %s", name, wire);
			if (!rc) {
				cr_expect_eq(tern_event_check_id(&ev, &why), 0, "%s", name);
				cr_expect_eq(tern_event_check(&ev, &why), TERN_EBADSIG, "%s", name);
			}
		} else {
			cr_expect_fail("%s: unknown expect %s", name, expect);
		}
		free(in);
	}
	json_decref(root);
}

Test(event, parse_address)
{
	static const char pk[] =
		"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
	char buf[160];
	uint8_t out[32];
	uint16_t kind = 0;
	tern_slice d;

#define ADDR(s) ((tern_slice){ (const uint8_t *)(s), strlen(s) })
	snprintf(buf, sizeof buf, "30023:%s:my-article", pk);
	cr_assert(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	cr_assert_eq(kind, 30023);
	cr_assert_eq(out[0], 0x79);
	cr_assert_eq(d.n, 10);
	cr_assert_eq(memcmp(d.p, "my-article", 10), 0);
	snprintf(buf, sizeof buf, "10002:%s", pk); /* no trailing ':' */
	cr_assert(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	cr_assert_eq(kind, 10002);
	cr_assert_eq(d.n, 0);
	snprintf(buf, sizeof buf, "0:%s:", pk);
	cr_assert(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	cr_assert_eq(kind, 0);
	snprintf(buf, sizeof buf, "65536:%s:", pk);
	cr_assert_not(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	snprintf(buf, sizeof buf, ":%s:", pk);
	cr_assert_not(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	snprintf(buf, sizeof buf, "1:%.63s:", pk);
	cr_assert_not(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	snprintf(buf, sizeof buf, "1:%sx", pk);
	cr_assert_not(tern_event_parse_address(ADDR(buf), &kind, out, &d));
	cr_assert_not(tern_event_parse_address(ADDR("1:79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798:"), &kind, out, &d));
#undef ADDR
}
