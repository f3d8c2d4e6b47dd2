/*
 * Unit tests for the policies' decisions (src/policy/events.c,
 * filters.c): each policy refuses exactly what it should, with the right
 * NIP-01 prefix, and lets the rest through.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <tern/event.h>
#include <tern/filter.h>
#include <tern/hex.h>

#include "policy/events.h"
#include "policy/filters.h"

static tern_arena arena;

static void setup(void)
{
	tern_arena_init(&arena, 0);
}

static void teardown(void)
{
	tern_arena_free(&arena);
}

TestSuite(policy, .init = setup, .fini = teardown);

static const char *H(char c)
{
	static char bufs[16][65];
	static int next;
	char *b = bufs[next++ % 16];

	memset(b, c, 64);
	b[64] = '\0';
	return b;
}

/* An event with the given fields (id and signature are not checked). */
static tern_event ev_full(const char *id, uint32_t kind, uint64_t created_at,
			  const char *tags, const char *content)
{
	char *json = tern_arena_alloc(&arena, 8192);
	tern_event ev;
	tern_reason why = { 0 };
	int n = snprintf(json, 8192,
			 "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%llu,"
			 "\"kind\":%u,\"tags\":%s,\"content\":%s,\"sig\":\"%s%s\"}",
			 id, H('b'), (unsigned long long)created_at, kind, tags,
			 content, H('c'), H('c'));
	int rc = tern_event_parse(&ev, (const uint8_t *)json, (size_t)n, NULL,
				  &arena, &why);

	cr_assert_eq(rc, 0, "parse %s: %s", json, why.msg);
	return ev;
}

static tern_event ev(uint32_t kind, const char *tags, const char *content)
{
	return ev_full(H('a'), kind, 1000, tags, content);
}

static tern_filter flt(const char *json)
{
	tern_filter f;
	tern_reason why = { 0 };
	int rc = tern_filter_parse(&f, (const uint8_t *)json, strlen(json), NULL,
				   &arena, &why);

	cr_assert_eq(rc, 0, "parse %s: %s", json, why.msg);
	return f;
}

static void expect_reason(const tern_reason *why, tern_prefix p,
			  const char *wire)
{
	char buf[300];

	tern_reason_format(why, buf, sizeof buf);
	cr_expect_eq(why->prefix, p, "prefix of \"%s\"", buf);
	cr_expect_str_eq(buf, wire);
}

static tern__kindset kinds(const uint32_t *k, size_t n)
{
	tern__kindset s;

	cr_assert_eq(tern__kindset_init(&s, k, n), 0);
	return s;
}

/* ---- events ------------------------------------------------------------------ */

Test(policy, too_many_indexable_tags)
{
	tern_reason why = { 0 };
	const char *tags = "[[\"e\",\"1\"],[\"p\",\"2\"],[\"t\",\"x\"],"
			   "[\"nonce\",\"1\"],[]]";
	tern_event e = ev(1, tags, "\"\"");
	tern__kindset ign = kinds((uint32_t[]){ 1 }, 1);
	tern__kindset only7 = kinds((uint32_t[]){ 7 }, 1);

	/* three one-letter tags: "nonce" and the empty tag do not count */
	cr_expect_not(tern__events_too_many_indexable_tags(&e, 3, NULL, NULL,
							   &why));
	cr_expect(tern__events_too_many_indexable_tags(&e, 2, NULL, NULL, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: too many indexable tags (max 2)");
	/* ignored kind, and a rule limited to other kinds */
	cr_expect_not(tern__events_too_many_indexable_tags(&e, 2, &ign, NULL,
							   &why));
	cr_expect_not(tern__events_too_many_indexable_tags(&e, 2, NULL, &only7,
							   &why));
	tern_event e7 = ev(7, tags, "\"+\"");
	cr_expect(tern__events_too_many_indexable_tags(&e7, 2, &ign, &only7,
						       &why));
}

Test(policy, large_tags)
{
	tern_reason why = { 0 };
	tern_event e = ev(1, "[[\"t\",\"0123456789\"],"
			     "[\"alt\",\"a much longer value than ten\"],[\"x\"]]",
			  "\"\"");

	cr_expect_not(tern__events_large_tags(&e, 10, &why));
	cr_expect(tern__events_large_tags(&e, 9, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: event contains too large tags (max 9 bytes)");
}

Test(policy, restrict_to_specified_kinds)
{
	tern_reason why = { 0 };
	tern__kindset allowed = kinds((uint32_t[]){ 1, 7, 7, 30023 }, 4);
	tern_event e1 = ev(1, "[]", "\"\""), e4 = ev(4, "[]", "\"\"");
	tern_event eph = ev(20001, "[]", "\"\""), art = ev(30023, "[]", "\"\"");

	cr_expect_eq(allowed.n, 3);
	cr_expect_not(tern__events_kind_not_allowed(&e1, &allowed, false, &why));
	cr_expect_not(tern__events_kind_not_allowed(&art, &allowed, false, &why));
	cr_expect(tern__events_kind_not_allowed(&e4, &allowed, true, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: received event kind 4 not allowed");
	cr_expect(tern__events_kind_not_allowed(&eph, &allowed, false, &why));
	cr_expect_not(tern__events_kind_not_allowed(&eph, &allowed, true, &why));

	tern__kindset bad;
	cr_expect_eq(tern__kindset_init(&bad, (uint32_t[]){ 65536 }, 1),
		     TERN_EINVAL);
}

Test(policy, timestamps)
{
	tern_reason why = { 0 };
	tern_event old = ev_full(H('a'), 1, 899, "[]", "\"\"");
	tern_event edge = ev_full(H('a'), 1, 900, "[]", "\"\"");
	tern_event ahead = ev_full(H('a'), 1, 1101, "[]", "\"\"");
	tern_event ahead_edge = ev_full(H('a'), 1, 1100, "[]", "\"\"");

	cr_expect(tern__events_too_old(&old, 100, 1000, &why));
	expect_reason(&why, TERN_PREFIX_INVALID, "invalid: event too old");
	cr_expect_not(tern__events_too_old(&edge, 100, 1000, &why));
	cr_expect_not(tern__events_too_old(&ahead, 100, 1000, &why));
	cr_expect(tern__events_too_far_ahead(&ahead, 100, 1000, &why));
	expect_reason(&why, TERN_PREFIX_INVALID,
		      "invalid: event too much in the future");
	cr_expect_not(tern__events_too_far_ahead(&ahead_edge, 100, 1000, &why));
	cr_expect_not(tern__events_too_far_ahead(&old, 100, 1000, &why));
}

Test(policy, base64_media)
{
	tern_reason why = { 0 };
	tern_event img = ev(1, "[]", "\"see data:image/png;base64,iVBORw0\"");
	tern_event vid = ev(1, "[]", "\"\\u0000 then data:video/mp4;base64,AA\"");
	tern_event txt = ev(1, "[]", "\"data:text/plain,hi and data:imag\"");

	cr_expect(tern__events_base64_media(&img, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: event with base64 media");
	cr_expect(tern__events_base64_media(&vid, &why));
	cr_expect_not(tern__events_base64_media(&txt, &why));
}

Test(policy, only_protected_events)
{
	tern_reason why = { 0 };
	tern_event prot = ev(1, "[[\"-\"]]", "\"\"");
	tern_event plain = ev(1, "[[\"t\",\"-\"]]", "\"\"");
	tern_event del = ev(5, "[[\"e\",\"x\"]]", "\"\"");

	cr_expect_not(tern__events_unprotected(&prot, &why));
	cr_expect_not(tern__events_unprotected(&del, &why));
	cr_expect(tern__events_unprotected(&plain, &why));
	cr_expect_eq(why.prefix, TERN_PREFIX_BLOCKED);
	cr_expect(strstr(why.msg, "NIP-70"));
}

Test(policy, validate_kind)
{
	static const struct {
		uint32_t kind;
		const char *content;
		const char *wire; /* NULL: passes */
	} cases[] = {
		{ 0, "\"{\\\"name\\\":\\\"bob\\\",\\\"about\\\":[1,{}]}\"", NULL },
		{ 0, "\"{\\\"na\\\\u006de\\\":\\\"bob\\\"}\"", NULL },
		{ 0, "\"{\\\"name\\\":\\\"\\\",\\\"name\\\":\\\"b\\\"}\"", NULL },
		{ 0, "\"{\\\"about\\\":\\\"x\\\"}\"",
		  "invalid: missing json name in kind 0" },
		{ 0, "\"{\\\"name\\\":\\\"\\\"}\"",
		  "invalid: missing json name in kind 0" },
		{ 0, "\"{\\\"name\\\":7}\"",
		  "invalid: missing json name in kind 0" },
		{ 0, "\"not json\"", "invalid: kind 0 content must be a JSON object" },
		{ 0, "\"[\\\"name\\\"]\"", "invalid: kind 0 content must be a JSON object" },
		{ 0, "\"{\\\"name\\\":\\\"a\\\"} x\"",
		  "invalid: kind 0 content must be a JSON object" },
		{ 0, "\"\"", "invalid: kind 0 content must be a JSON object" },
		{ 1, "\"anything\"", NULL },
		{ 2, "\"wss://relay.example\"", "blocked: kind 2 is deprecated" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tern_reason why = { 0 };
		tern_event e = ev(cases[i].kind, "[]", cases[i].content);
		bool rejected = tern__events_invalid_for_kind(&e, &why);
		char buf[300];

		cr_expect_eq(rejected, cases[i].wire != NULL, "case %zu", i);
		if (cases[i].wire) {
			tern_reason_format(&why, buf, sizeof buf);
			cr_expect_str_eq(buf, cases[i].wire, "case %zu", i);
		}
	}
}

Test(policy, pow_bits)
{
	uint8_t id[32];

	memset(id, 0xff, sizeof id);
	cr_expect_eq(tern__events_pow_bits(id), 0);
	id[0] = 0;
	id[1] = 0x0f;
	cr_expect_eq(tern__events_pow_bits(id), 12);
	id[1] = 0x01;
	cr_expect_eq(tern__events_pow_bits(id), 15);
	memset(id, 0, sizeof id);
	cr_expect_eq(tern__events_pow_bits(id), 256);
}

Test(policy, min_pow)
{
	tern_reason why = { 0 };
	char id[65];

	/* 0x000f...: 12 leading zero bits */
	memset(id, 'f', 64);
	id[64] = '\0';
	memcpy(id, "000f", 4);
	tern_event e = ev_full(id, 1, 1000, "[]", "\"\"");
	cr_expect_not(tern__events_low_pow(&e, 12, &why));
	cr_expect(tern__events_low_pow(&e, 13, &why));
	expect_reason(&why, TERN_PREFIX_POW, "pow: difficulty 12 is less than 13");

	/* enough zeros by luck, but the nonce commits to less */
	tern_event lucky = ev_full(id, 1, 1000, "[[\"nonce\",\"77\",\"8\"]]",
				   "\"\"");
	cr_expect(tern__events_low_pow(&lucky, 10, &why));
	expect_reason(&why, TERN_PREFIX_POW,
		      "pow: committed target difficulty 8 is less than 10");
	tern_event honest = ev_full(id, 1, 1000, "[[\"nonce\",\"77\",\"12\"]]",
				    "\"\"");
	cr_expect_not(tern__events_low_pow(&honest, 10, &why));
	/* a malformed target is no commitment: the id alone decides */
	tern_event odd = ev_full(id, 1, 1000, "[[\"nonce\",\"77\",\"x\"]]",
				 "\"\"");
	cr_expect_not(tern__events_low_pow(&odd, 10, &why));
}

Test(policy, max_content_length)
{
	tern_reason why = { 0 };
	tern_event e = ev(1, "[]", "\"12345\"");

	cr_expect_not(tern__events_content_too_long(&e, 5, &why));
	cr_expect(tern__events_content_too_long(&e, 4, &why));
	expect_reason(&why, TERN_PREFIX_INVALID,
		      "invalid: content is longer than 4 bytes");
}

/* ---- filters ------------------------------------------------------------------ */

Test(policy, no_complex_filters)
{
	tern_reason why = { 0 };
	char json[512];

	snprintf(json, sizeof json,
		 "{\"kinds\":[1,2],\"#e\":[\"%s\"],\"#p\":[\"%s\"],\"#t\":[\"x\"]}",
		 H('1'), H('2'));
	tern_filter f = flt(json);
	cr_expect(tern__filters_complex(&f, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: too many things to filter for");
	snprintf(json, sizeof json,
		 "{\"kinds\":[1],\"#e\":[\"%s\"],\"#p\":[\"%s\"],\"#t\":[\"x\"]}",
		 H('1'), H('2'));
	f = flt(json);
	cr_expect_not(tern__filters_complex(&f, &why));
	f = flt("{\"kinds\":[1,2,3,4,5],\"#t\":[\"x\"],\"#r\":[\"y\"]}");
	cr_expect_not(tern__filters_complex(&f, &why));
}

Test(policy, no_empty_filters)
{
	tern_reason why = { 0 };
	tern_filter f = flt("{}");

	cr_expect(tern__filters_empty(&f, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: can't handle empty filters");
	f = flt("{\"since\":1,\"limit\":5}");
	cr_expect(tern__filters_empty(&f, &why));
	f = flt("{\"kinds\":[0]}");
	cr_expect_not(tern__filters_empty(&f, &why));
	f = flt("{\"#t\":[\"nostr\"]}");
	cr_expect_not(tern__filters_empty(&f, &why));
}

Test(policy, anti_sync_bots)
{
	tern_reason why = { 0 };
	char json[256];
	tern_filter f = flt("{}");

	cr_expect(tern__filters_sync_bot(&f, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED,
		      "blocked: an author must be specified to get their "
		      "kind:1 notes");
	f = flt("{\"kinds\":[0,1]}");
	cr_expect(tern__filters_sync_bot(&f, &why));
	f = flt("{\"kinds\":[0,3]}");
	cr_expect_not(tern__filters_sync_bot(&f, &why));
	snprintf(json, sizeof json, "{\"kinds\":[1],\"authors\":[\"%s\"]}",
		 H('b'));
	f = flt(json);
	cr_expect_not(tern__filters_sync_bot(&f, &why));
	snprintf(json, sizeof json, "{\"ids\":[\"%s\"]}", H('a'));
	f = flt(json);
	cr_expect_not(tern__filters_sync_bot(&f, &why));
}

Test(policy, no_search_queries)
{
	tern_reason why = { 0 };
	tern_filter f = flt("{\"search\":\"cats\",\"kinds\":[1]}");

	cr_expect(tern__filters_search(&f, &why));
	expect_reason(&why, TERN_PREFIX_BLOCKED, "blocked: search is not supported");
	f = flt("{\"kinds\":[1]}");
	cr_expect_not(tern__filters_search(&f, &why));
}

Test(policy, must_auth)
{
	tern_reason why = { 0 };

	cr_expect(tern__filters_unauthed(0, &why));
	cr_expect_eq(why.prefix, TERN_PREFIX_AUTH_REQUIRED);
	cr_expect_not(tern__filters_unauthed(1, &why));
}

static uint8_t me[32];

static bool authed_as_me(const void *ctx, const uint8_t pk[32])
{
	cr_assert_eq(ctx, (const void *)me);
	return !memcmp(pk, me, 32);
}

Test(policy, kind4_snoopers)
{
	tern_reason why = { 0 };
	char json[512];
	const char *mine = H('d'), *other = H('e');

	cr_assert(tern_hex_decode(me, mine, 32));
	tern_filter f = flt("{\"kinds\":[1]}");
	cr_expect_not(tern__filters_kind4_snooper(&f, 0, authed_as_me, me, &why));

	f = flt("{\"kinds\":[4]}");
	cr_expect(tern__filters_kind4_snooper(&f, 0, authed_as_me, me, &why));
	cr_expect_eq(why.prefix, TERN_PREFIX_AUTH_REQUIRED);
	cr_expect(tern__filters_kind4_snooper(&f, 1, authed_as_me, me, &why));
	expect_reason(&why, TERN_PREFIX_RESTRICTED,
		      "restricted: authenticated user does not have "
		      "authorization for requested filters");

	/* my messages to one or every receiver */
	snprintf(json, sizeof json, "{\"kinds\":[4],\"authors\":[\"%s\"]}", mine);
	f = flt(json);
	cr_expect_not(tern__filters_kind4_snooper(&f, 1, authed_as_me, me, &why));
	snprintf(json, sizeof json,
		 "{\"kinds\":[4],\"authors\":[\"%s\"],\"#p\":[\"%s\"]}", mine,
		 other);
	f = flt(json);
	cr_expect_not(tern__filters_kind4_snooper(&f, 1, authed_as_me, me, &why));
	/* messages to me, from one or every sender */
	snprintf(json, sizeof json, "{\"kinds\":[4],\"#p\":[\"%s\"]}", mine);
	f = flt(json);
	cr_expect_not(tern__filters_kind4_snooper(&f, 1, authed_as_me, me, &why));
	/* someone else's conversation */
	snprintf(json, sizeof json,
		 "{\"kinds\":[4],\"authors\":[\"%s\"],\"#p\":[\"%s\"]}", other,
		 other);
	f = flt(json);
	cr_expect(tern__filters_kind4_snooper(&f, 1, authed_as_me, me, &why));
	/* me plus someone else as authors: not only mine */
	snprintf(json, sizeof json,
		 "{\"kinds\":[4],\"authors\":[\"%s\",\"%s\"],\"#p\":[\"%s\"]}",
		 mine, other, other);
	f = flt(json);
	cr_expect(tern__filters_kind4_snooper(&f, 1, authed_as_me, me, &why));
}

Test(policy, remove_search_queries)
{
	tern_filter f = flt("{\"search\":\"cats\",\"kinds\":[1]}");
	tern_event e = ev(1, "[]", "\"cats\"");

	cr_expect_not(tern_filter_match(&f, &e));
	tern__filters_remove_search(&f);
	cr_expect_not(f.has_search);
	cr_expect(tern_filter_match(&f, &e));
}

Test(policy, remove_all_but_kinds)
{
	tern__kindset keep = kinds((uint32_t[]){ 1, 7 }, 2);
	tern_event e1 = ev(1, "[]", "\"\""), e4 = ev(4, "[]", "\"\"");
	tern_filter f = flt("{\"kinds\":[1,4,7]}");

	cr_expect_eq(tern__filters_keep_kinds(&f, &keep, &arena), 0);
	cr_expect_eq(f.nkinds, 2);
	cr_expect_eq(f.kinds[0], 1);
	cr_expect_eq(f.kinds[1], 7);
	cr_expect(tern_filter_match(&f, &e1));
	cr_expect_not(tern_filter_match(&f, &e4));

	/* nothing left: the filter matches nothing, not everything */
	f = flt("{\"kinds\":[4]}");
	cr_expect_eq(tern__filters_keep_kinds(&f, &keep, &arena), 0);
	cr_expect_not(tern_filter_match(&f, &e1));
	cr_expect_not(tern_filter_match(&f, &e4));
	cr_expect_gt(f.since, f.until);

	/* no kinds condition: left alone */
	f = flt("{\"#t\":[\"x\"]}");
	cr_expect_eq(tern__filters_keep_kinds(&f, &keep, &arena), 0);
	cr_expect_null(f.kinds);
}

Test(policy, remove_all_but_tags)
{
	bool keep[128] = { 0 };
	tern_event e = ev(1, "[[\"r\",\"1\"]]", "\"\"");
	tern_filter f = flt("{\"#r\":[\"1\"],\"#t\":[\"x\"]}");

	keep['r'] = true;
	cr_expect_not(tern_filter_match(&f, &e));
	cr_expect_eq(tern__filters_keep_tags(&f, keep, &arena), 0);
	cr_expect_eq(f.ntags, 1);
	cr_expect_eq(f.tags[0].name, 'r');
	cr_expect(tern_filter_match(&f, &e));

	keep['r'] = false;
	cr_expect_eq(tern__filters_keep_tags(&f, keep, &arena), 0);
	cr_expect_eq(f.ntags, 0);
}
