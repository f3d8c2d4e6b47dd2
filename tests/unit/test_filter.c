/* Unit tests for NIP-01 filters (src/nostr/filter.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>

static tern_arena arena;

static void setup(void)
{
	tern_arena_init(&arena, 0);
}

static void teardown(void)
{
	tern_arena_free(&arena);
}

TestSuite(filter, .init = setup, .fini = teardown);

/* 64-char hex made of one repeated digit: H('a') = "aaaa...". */
static const char *H(char c)
{
	static char bufs[16][65];
	static int next;
	char *b = bufs[next++ % 16];

	memset(b, c, 64);
	b[64] = '\0';
	return b;
}

static tern_filter parse_ok(const char *json)
{
	tern_filter f;
	tern_reason why = { 0 };
	int rc = tern_filter_parse(&f, (const uint8_t *)json, strlen(json), NULL,
				   &arena, &why);

	cr_assert_eq(rc, 0, "parse of %s failed: %d %s", json, rc, why.msg);
	return f;
}

/* Expects rc and, when msg is not NULL, the exact wire reason. */
static void expect_err_lim(const char *json, size_t len,
			   const tern_filter_limits *lim, int rc, const char *msg)
{
	tern_filter f;
	tern_reason why = { 0 };
	char wire[300];
	int got = tern_filter_parse(&f, (const uint8_t *)json, len, lim, &arena,
				    &why);

	tern_reason_format(&why, wire, sizeof wire);
	cr_expect_eq(got, rc, "%s: rc %d, want %d (%s)", json, got, rc, wire);
	if (msg)
		cr_expect_str_eq(wire, msg, "%s", json);
}

static void expect_err(const char *json, int rc, const char *msg)
{
	expect_err_lim(json, strlen(json), NULL, rc, msg);
}

/* An event from JSON; id and sig are not checked by the parser. */
static tern_event mkev(const char *id, const char *pk, uint64_t ts,
		       uint32_t kind, const char *tags)
{
	char *json;
	tern_event ev;
	tern_reason why = { 0 };
	int n, rc;

	n = asprintf(&json,
		     "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%llu,"
		     "\"kind\":%u,\"tags\":%s,\"content\":\"\",\"sig\":\"%s%s\"}",
		     id, pk, (unsigned long long)ts, kind, tags, H('5'), H('6'));
	cr_assert(n > 0);
	/* The event points into its input: keep it in the arena. */
	char *copy = tern_arena_alloc(&arena, (size_t)n);
	memcpy(copy, json, (size_t)n);
	free(json);
	rc = tern_event_parse(&ev, (const uint8_t *)copy, (size_t)n, NULL, &arena,
			      &why);
	cr_assert_eq(rc, 0, "event parse: %s", why.msg);
	return ev;
}

static bool m(const char *filter, const tern_event *ev)
{
	tern_filter f = parse_ok(filter);

	return tern_filter_match(&f, ev);
}

/* ---- rejections ---------------------------------------------------------- */

Test(filter, not_an_object)
{
	const char *msg = "invalid: filter must be a JSON object";

	expect_err("", TERN_EPARSE, msg);
	expect_err("   ", TERN_EPARSE, msg);
	expect_err("[]", TERN_EPARSE, msg);
	expect_err("[{}]", TERN_EPARSE, msg);
	expect_err("1", TERN_EPARSE, msg);
	expect_err("\"x\"", TERN_EPARSE, msg);
	expect_err("null", TERN_EPARSE, msg);
}

Test(filter, syntax_errors)
{
	expect_err("{", TERN_EPARSE, NULL);
	expect_err("{} x", TERN_EPARSE, NULL);
	expect_err("{}{}", TERN_EPARSE, NULL);
	expect_err("{\"kinds\":[1,]}", TERN_EPARSE, NULL);
	expect_err("{\"kinds\":[1}", TERN_EPARSE, NULL);
	expect_err("{\"#t\":[\"a\\x\"]}", TERN_EPARSE, NULL);
	expect_err("{\"#t\":[\"\xff\"]}", TERN_EPARSE, NULL);
	expect_err("{\"#t\":[\"\\ud800\"]}", TERN_EPARSE, NULL);
	expect_err("{'kinds':[1]}", TERN_EPARSE, NULL);
	expect_err("{\"kinds\":[1] \"limit\":1}", TERN_EPARSE, NULL);
}

Test(filter, ids_authors)
{
	char buf[256];
	const char *fields[] = { "ids", "authors" };

	for (int i = 0; i < 2; i++) {
		const char *k = fields[i];
		char want_arr[128], want_hex[128], want_empty[64];

		snprintf(want_arr, sizeof want_arr,
			 "invalid: \"%s\" must be an array of 64-character lowercase hex strings", k);
		snprintf(want_hex, sizeof want_hex,
			 "invalid: \"%s\" must contain 64-character lowercase hex strings", k);
		snprintf(want_empty, sizeof want_empty, "invalid: \"%s\" must not be empty", k);

		snprintf(buf, sizeof buf, "{\"%s\":[]}", k);
		expect_err(buf, TERN_EPARSE, want_empty);
		snprintf(buf, sizeof buf, "{\"%s\":[ ]}", k);
		expect_err(buf, TERN_EPARSE, want_empty);
		snprintf(buf, sizeof buf, "{\"%s\":\"%s\"}", k, H('a'));
		expect_err(buf, TERN_EPARSE, want_arr);
		snprintf(buf, sizeof buf, "{\"%s\":null}", k);
		expect_err(buf, TERN_EPARSE, want_arr);
		snprintf(buf, sizeof buf, "{\"%s\":[\"%s\"]}", k, H('A'));
		expect_err(buf, TERN_EPARSE, want_hex);
		snprintf(buf, sizeof buf, "{\"%s\":[\"%s\",\"%.63s\"]}", k, H('a'), H('b'));
		expect_err(buf, TERN_EPARSE, want_hex);
		snprintf(buf, sizeof buf, "{\"%s\":[\"%s0\"]}", k, H('b'));
		expect_err(buf, TERN_EPARSE, want_hex);
		snprintf(buf, sizeof buf, "{\"%s\":[\"%s\"]}", k, H('g'));
		expect_err(buf, TERN_EPARSE, want_hex);
		snprintf(buf, sizeof buf, "{\"%s\":[1]}", k);
		expect_err(buf, TERN_EPARSE, want_hex);
		snprintf(buf, sizeof buf, "{\"%s\":[[\"%s\"]]}", k, H('a'));
		expect_err(buf, TERN_EPARSE, want_hex);
		snprintf(buf, sizeof buf, "{\"%s\":[\"\"]}", k);
		expect_err(buf, TERN_EPARSE, want_hex);
	}
}

Test(filter, kinds)
{
	const char *msg = "invalid: \"kinds\" must be an array of integers 0-65535";

	expect_err("{\"kinds\":[]}", TERN_EPARSE, "invalid: \"kinds\" must not be empty");
	expect_err("{\"kinds\":1}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[-1]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[65536]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[99999999999999999999999]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[1.5]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[1.0]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[1e2]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[\"1\"]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[null]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[true]}", TERN_EPARSE, msg);
	expect_err("{\"kinds\":[01]}", TERN_EPARSE, msg);

	tern_filter f = parse_ok("{\"kinds\":[65535,0]}");
	cr_assert_eq(f.nkinds, 2);
	cr_expect_eq(f.kinds[0], 0);
	cr_expect_eq(f.kinds[1], 65535);
}

Test(filter, tag_fields)
{
	const char *ehex = "invalid: \"#e\" must contain 64-character lowercase hex strings";
	const char *phex = "invalid: \"#p\" must contain 64-character lowercase hex strings";
	char buf[256];

	expect_err("{\"#e\":[\"zz\"]}", TERN_EPARSE, ehex);
	expect_err("{\"#p\":[\"zz\"]}", TERN_EPARSE, phex);
	expect_err("{\"#e\":[1]}", TERN_EPARSE, ehex);
	snprintf(buf, sizeof buf, "{\"#p\":[\"%s\"]}", H('F'));
	expect_err(buf, TERN_EPARSE, phex);
	expect_err("{\"#t\":[]}", TERN_EPARSE, "invalid: \"#t\" must not be empty");
	expect_err("{\"#t\":\"x\"}", TERN_EPARSE, "invalid: \"#t\" must be an array of strings");
	expect_err("{\"#t\":[1]}", TERN_EPARSE, "invalid: \"#t\" must be an array of strings");
	expect_err("{\"#T\":[\"a\",null]}", TERN_EPARSE, "invalid: \"#T\" must be an array of strings");
	/* "#E" is not "#e": any string goes. */
	parse_ok("{\"#E\":[\"zz\"]}");
	parse_ok("{\"#t\":[\"\"]}");
}

Test(filter, integers)
{
	const char *fields[] = { "since", "until", "limit" };
	const char *bad[] = { "-1", "1.5", "1e3", "\"1\"", "null", "[1]", "true", "-0", "0.0" };
	char buf[128], want[128];

	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof want, "invalid: \"%s\" must be a non-negative integer",
			 fields[i]);
		for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
			snprintf(buf, sizeof buf, "{\"%s\":%s}", fields[i], bad[b]);
			expect_err(buf, TERN_EPARSE, want);
		}
		snprintf(buf, sizeof buf, "{\"%s\":18446744073709551616}", fields[i]);
		expect_err(buf, TERN_EPARSE, want);
	}
	tern_filter f = parse_ok("{\"since\":18446744073709551615,\"until\":0,\"limit\":0}");
	cr_expect_eq(f.since, UINT64_MAX);
	cr_expect_eq(f.until, 0);
	cr_expect(f.has_limit);
	cr_expect_eq(f.limit, 0);
	f = parse_ok("{\"limit\":4294967296}");
	cr_expect_eq(f.limit, UINT32_MAX);
	f = parse_ok("{}");
	cr_expect_eq(f.since, 0);
	cr_expect_eq(f.until, UINT64_MAX);
	cr_expect(!f.has_limit);
	cr_expect(!f.has_search);
}

Test(filter, unknown_and_duplicate)
{
	expect_err("{\"foo\":1}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"foo\"");
	expect_err("{\"kinds\":[1],\"foo\":{\"a\":[1]}}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"foo\"");
	expect_err("{\"#\":[\"a\"]}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"#\"");
	expect_err("{\"#ee\":[\"a\"]}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"#ee\"");
	expect_err("{\"#1\":[\"a\"]}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"#1\"");
	expect_err("{\"Kinds\":[1]}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"Kinds\"");
	expect_err("{\"\":[1]}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"\"");
	expect_err("{\"a\\nb\\\"\":1}", TERN_EPARSE,
		   "unsupported: filter contains unknown field \"a?b?\"");
	/* A long name is cut, never past a UTF-8 character. */
	expect_err("{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9yyyyyyyyyyyyyyyy\":1}",
		   TERN_EPARSE,
		   "unsupported: filter contains unknown field "
		   "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9...\"");

	tern_reason why;
	tern_filter f;
	const char *j = "{\"bogus\":true}";
	cr_expect_eq(tern_filter_parse(&f, (const uint8_t *)j, strlen(j), NULL, &arena, &why),
		     TERN_EPARSE);
	cr_expect_eq(why.prefix, TERN_PREFIX_UNSUPPORTED);

	const char *dups[][2] = {
		{ "{\"kinds\":[1],\"kinds\":[2]}", "kinds" },
		{ "{\"since\":1,\"since\":1}", "since" },
		{ "{\"until\":1,\"until\":1}", "until" },
		{ "{\"limit\":1,\"limit\":1}", "limit" },
		{ "{\"search\":\"a\",\"search\":\"b\"}", "search" },
		{ "{\"#t\":[\"a\"],\"kinds\":[1],\"#t\":[\"b\"]}", "#t" },
		{ "{\"#t\":[\"a\"],\"#\\u0074\":[\"b\"]}", "#t" },
	};
	for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
		char want[64];

		snprintf(want, sizeof want, "invalid: duplicate field \"%s\"", dups[i][1]);
		expect_err(dups[i][0], TERN_EPARSE, want);
	}
	char buf[300];
	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\"],\"ids\":[\"%s\"]}", H('a'), H('b'));
	expect_err(buf, TERN_EPARSE, "invalid: duplicate field \"ids\"");
	snprintf(buf, sizeof buf, "{\"authors\":[\"%s\"],\"authors\":[\"%s\"]}", H('a'), H('b'));
	expect_err(buf, TERN_EPARSE, "invalid: duplicate field \"authors\"");
	/* "#t" and "#T" are different fields. */
	tern_filter g = parse_ok("{\"#t\":[\"a\"],\"#T\":[\"b\"]}");
	cr_expect_eq(g.ntags, 2);
}

Test(filter, search_field)
{
	expect_err("{\"search\":1}", TERN_EPARSE, "invalid: \"search\" must be a string");
	expect_err("{\"search\":[\"a\"]}", TERN_EPARSE, "invalid: \"search\" must be a string");
	tern_filter f = parse_ok("{\"search\":\"b\\u00e9 x\"}");
	cr_expect(f.has_search);
	cr_expect_eq(f.search.n, 5);
	cr_expect(memcmp(f.search.p, "b\xc3\xa9 x", 5) == 0);

	tern_event ev = mkev(H('1'), H('2'), 10, 1, "[]");
	cr_expect(!tern_filter_match(&f, &ev));
	cr_expect(m("{}", &ev));
}

/* ---- limits ---------------------------------------------------------------- */

static char *list_json(const char *field, int n, bool quoted_hex)
{
	size_t cap = (size_t)n * 70 + 64, len = 0;
	char *b = malloc(cap);

	len += (size_t)sprintf(b, "{\"%s\":[", field);
	for (int i = 0; i < n; i++) {
		if (quoted_hex)
			len += (size_t)sprintf(b + len, "%s\"%060x%04x\"", i ? "," : "", 0, i);
		else
			len += (size_t)sprintf(b + len, "%s%d", i ? "," : "", i);
	}
	strcpy(b + len, "]}");
	return b;
}

Test(filter, value_limits)
{
	const char *hexf[] = { "ids", "authors", "#e", "#p", "#t" };
	char want[80];

	for (size_t i = 0; i < sizeof hexf / sizeof hexf[0]; i++) {
		char *ok = list_json(hexf[i], 1000, true);
		char *bad = list_json(hexf[i], 1001, true);

		parse_ok(ok);
		snprintf(want, sizeof want, "invalid: too many values in \"%s\" (max 1000)",
			 hexf[i]);
		expect_err(bad, TERN_ETOOBIG, want);
		free(ok);
		free(bad);
	}
	char *ok = list_json("kinds", 1000, false);
	char *bad = list_json("kinds", 1001, false);
	tern_filter f = parse_ok(ok);
	cr_expect_eq(f.nkinds, 1000);
	expect_err(bad, TERN_ETOOBIG, "invalid: too many values in \"kinds\" (max 1000)");
	free(ok);
	free(bad);

	tern_filter_limits lim;
	tern_filter_limits_defaults(&lim);
	cr_expect_eq(lim.max_values, 1000);
	cr_expect_eq(lim.max_tags, 26);
	cr_expect_eq(lim.max_json, 131072);
	cr_expect_eq(lim.max_depth, 8);
	lim.max_values = 2;
	const char *j3 = "{\"kinds\":[1,1,1]}"; /* counted before de-duplication */
	expect_err_lim(j3, strlen(j3), &lim, TERN_ETOOBIG,
		       "invalid: too many values in \"kinds\" (max 2)");
	const char *j2 = "{\"kinds\":[1,1]}";
	expect_err_lim(j2, strlen(j2), &lim, 0, NULL);
}

Test(filter, tag_and_size_limits)
{
	char buf[2048];
	size_t n = 0;

	n += (size_t)sprintf(buf, "{");
	for (int i = 0; i < 27; i++)
		n += (size_t)sprintf(buf + n, "%s\"#%c\":[\"x\"]", i ? "," : "",
				     i < 26 ? 'a' + i : 'A');
	strcpy(buf + n, "}");
	/* "#e"/"#p" need hex: give them something valid. */
	expect_err(buf, TERN_EPARSE, NULL);

	n = (size_t)sprintf(buf, "{");
	for (int i = 0; i < 27; i++)
		n += (size_t)sprintf(buf + n, "%s\"#%c\":[\"x\"]", i ? "," : "",
				     i < 4 ? 'a' + i : 'A' + (i - 4));
	strcpy(buf + n, "}");
	expect_err(buf, TERN_ETOOBIG, "invalid: too many tag fields (max 26)");
	/* 26 is fine. */
	n = (size_t)sprintf(buf, "{");
	for (int i = 0; i < 26; i++)
		n += (size_t)sprintf(buf + n, "%s\"#%c\":[\"x\"]", i ? "," : "",
				     i < 4 ? 'a' + i : 'A' + (i - 4));
	strcpy(buf + n, "}");
	tern_filter f = parse_ok(buf);
	cr_expect_eq(f.ntags, 26);
	for (uint32_t i = 1; i < f.ntags; i++)
		cr_expect(f.tags[i - 1].name < f.tags[i].name);

	tern_filter_limits lim;
	tern_filter_limits_defaults(&lim);
	lim.max_json = 10;
	expect_err_lim("{\"limit\":1}", 11, &lim, TERN_ETOOBIG,
		       "invalid: filter is too large (max 10 bytes)");
	expect_err_lim("{\"limit\":1}", 11 - 1, &lim, TERN_EPARSE, NULL);
	expect_err_lim("{\"limit\":1}  ", 10, &lim, TERN_EPARSE, NULL);
	lim.max_json = 11;
	expect_err_lim("{\"limit\":1}", 11, &lim, 0, NULL);

	/* Memory: an arena too small for the values. */
	tern_arena small;
	tern_reason why;
	char *big = list_json("authors", 1000, true);
	tern_arena_init(&small, 4096);
	cr_expect_eq(tern_filter_parse(&f, (const uint8_t *)big, strlen(big), NULL, &small, &why),
		     TERN_ENOMEM);
	cr_expect_eq(why.prefix, TERN_PREFIX_ERROR);
	tern_arena_free(&small);
	free(big);
}

/* ---- parsing results ------------------------------------------------------- */

Test(filter, sorted_unique)
{
	char buf[512];

	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\",\"%s\",\"%s\",\"%s\"],\"kinds\":[7,1,7,300,0,1]}",
		 H('c'), H('a'), H('c'), H('b'));
	tern_filter f = parse_ok(buf);
	cr_assert_eq(f.nids, 3);
	cr_expect_eq(f.ids[0][0], 0xaa);
	cr_expect_eq(f.ids[1][0], 0xbb);
	cr_expect_eq(f.ids[2][31], 0xcc);
	cr_assert_eq(f.nkinds, 4);
	uint16_t want[] = { 0, 1, 7, 300 };
	for (int i = 0; i < 4; i++)
		cr_expect_eq(f.kinds[i], want[i]);
	cr_expect(f.authors == NULL);
	cr_expect_eq(f.nauthors, 0);

	f = parse_ok("{\"#t\":[\"b\",\"ab\",\"a\",\"b\",\"\",\"a\\u0000\"],\"#a\":[\"x\"]}");
	cr_assert_eq(f.ntags, 2);
	cr_expect_eq(f.tags[0].name, 'a');
	cr_expect_eq(f.tags[1].name, 't');
	const tern_tag_filter *t = &f.tags[1];
	cr_assert_eq(t->nvalues, 5);
	cr_expect_eq(t->values[0].n, 0);
	cr_expect(t->values[1].n == 1 && t->values[1].p[0] == 'a');
	cr_expect(t->values[2].n == 2 && memcmp(t->values[2].p, "a\0", 2) == 0);
	cr_expect(t->values[3].n == 2 && memcmp(t->values[3].p, "ab", 2) == 0);
	cr_expect(t->values[4].n == 1 && t->values[4].p[0] == 'b');

	/* Escaped hex decodes to the same value. */
	snprintf(buf, sizeof buf, "{\"authors\":[\"\\u0061%.63s\"]}", H('a'));
	f = parse_ok(buf);
	cr_assert_eq(f.nauthors, 1);
	cr_expect_eq(f.authors[0][0], 0xaa);

	/* Whitespace everywhere JSON allows it. */
	f = parse_ok(" \t\r\n{ \"kinds\" : [ 1 , 2 ] , \"limit\" : 5 } \n");
	cr_expect_eq(f.nkinds, 2);
	cr_expect_eq(f.limit, 5);
}

Test(filter, parse_list)
{
	tern_filter *fs;
	size_t n = 0;
	tern_reason why;
	const char *one = " {\"kinds\":[1]} ";
	const char *two = "[{\"kinds\":[1]}, {\"limit\":3}]";

	cr_assert_eq(tern_filter_parse_list(&fs, &n, (const uint8_t *)one, strlen(one), NULL,
					    &arena, &why), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(fs[0].nkinds, 1);
	cr_assert_eq(tern_filter_parse_list(&fs, &n, (const uint8_t *)two, strlen(two), NULL,
					    &arena, &why), 0);
	cr_assert_eq(n, 2);
	cr_expect_eq(fs[0].kinds[0], 1);
	cr_expect(fs[1].has_limit && fs[1].limit == 3);

	/* Many filters (past the first growth of the list). */
	char buf[1024];
	size_t len = (size_t)sprintf(buf, "[");
	for (int i = 0; i < 20; i++)
		len += (size_t)sprintf(buf + len, "%s{\"kinds\":[%d]}", i ? "," : "", i);
	strcpy(buf + len, "]");
	cr_assert_eq(tern_filter_parse_list(&fs, &n, (const uint8_t *)buf, strlen(buf), NULL,
					    &arena, &why), 0);
	cr_assert_eq(n, 20);
	for (int i = 0; i < 20; i++)
		cr_expect_eq(fs[i].kinds[0], i);

	struct {
		const char *json;
		int rc;
		const char *msg;
	} bad[] = {
		{ "[]", TERN_EPARSE, "invalid: filter list must not be empty" },
		{ " [ ] ", TERN_EPARSE, "invalid: filter list must not be empty" },
		{ "", TERN_EPARSE, "invalid: filter must be a JSON object or an array of objects" },
		{ "1", TERN_EPARSE, "invalid: filter must be a JSON object or an array of objects" },
		{ "[1]", TERN_EPARSE, "invalid: filter must be a JSON object" },
		{ "[{},[]]", TERN_EPARSE, "invalid: filter must be a JSON object" },
		{ "[{\"x\":1}]", TERN_EPARSE, "unsupported: filter contains unknown field \"x\"" },
		{ "[{\"kinds\":[]}]", TERN_EPARSE, "invalid: \"kinds\" must not be empty" },
		{ "[{}", TERN_EPARSE, NULL },
		{ "[{}] {}", TERN_EPARSE, NULL },
		{ "{} {}", TERN_EPARSE, NULL },
		{ "[{},]", TERN_EPARSE, NULL },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char wire[300];
		int rc = tern_filter_parse_list(&fs, &n, (const uint8_t *)bad[i].json,
						strlen(bad[i].json), NULL, &arena, &why);

		tern_reason_format(&why, wire, sizeof wire);
		cr_expect_eq(rc, bad[i].rc, "%s: %d %s", bad[i].json, rc, wire);
		if (bad[i].msg)
			cr_expect_str_eq(wire, bad[i].msg, "%s", bad[i].json);
	}

	/* max_json applies to each filter of a list. */
	tern_filter_limits lim;
	tern_filter_limits_defaults(&lim);
	lim.max_json = 13;
	const char *l2 = "[{\"limit\":1},{\"limit\":1}]"; /* each 11 bytes */
	cr_expect_eq(tern_filter_parse_list(&fs, &n, (const uint8_t *)l2, strlen(l2), &lim,
					    &arena, &why), 0);
	const char *l3 = "[{\"limit\":1},{\"limit\":1000}]"; /* 14 bytes */
	cr_expect_eq(tern_filter_parse_list(&fs, &n, (const uint8_t *)l3, strlen(l3), &lim,
					    &arena, &why), TERN_ETOOBIG);
	cr_expect_str_eq(why.msg, "filter is too large (max 13 bytes)");
}

/* ---- matching -------------------------------------------------------------- */

Test(filter, match_ids_authors)
{
	tern_event ev = mkev(H('1'), H('2'), 100, 1, "[]");
	char buf[512];

	cr_expect(m("{}", &ev));
	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\"]}", H('1'));
	cr_expect(m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\"]}", H('2'));
	cr_expect(!m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\",\"%s\",\"%s\"]}", H('f'), H('1'), H('0'));
	cr_expect(m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"authors\":[\"%s\"]}", H('2'));
	cr_expect(m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"authors\":[\"%s\"]}", H('1'));
	cr_expect(!m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"authors\":[\"%s\",\"%s\"],\"ids\":[\"%s\"]}",
		 H('3'), H('2'), H('1'));
	cr_expect(m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"authors\":[\"%s\",\"%s\"],\"ids\":[\"%s\"]}",
		 H('3'), H('2'), H('9'));
	cr_expect(!m(buf, &ev));

	/* Ids that differ only in the last byte. */
	char id2[65];
	memcpy(id2, H('1'), 65);
	id2[63] = '2';
	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\"]}", id2);
	cr_expect(!m(buf, &ev));

	/* Binary search over many values: every one of them is found. */
	char *big = list_json("authors", 1000, true);
	tern_filter f = parse_ok(big);
	for (int i = 0; i < 1000; i += 7) {
		char pk[65];

		snprintf(pk, sizeof pk, "%060x%04x", 0, i);
		tern_event e = mkev(H('1'), pk, 1, 1, "[]");
		cr_expect(tern_filter_match(&f, &e), "author %d", i);
		snprintf(pk, sizeof pk, "%060x%04x", 0, i + 1000);
		e = mkev(H('1'), pk, 1, 1, "[]");
		cr_expect(!tern_filter_match(&f, &e), "author %d", i + 1000);
	}
	free(big);
}

Test(filter, match_kinds)
{
	tern_event e0 = mkev(H('1'), H('2'), 1, 0, "[]");
	tern_event e1 = mkev(H('1'), H('2'), 1, 1, "[]");
	tern_event emax = mkev(H('1'), H('2'), 1, 65535, "[]");

	cr_expect(m("{\"kinds\":[0]}", &e0));
	cr_expect(!m("{\"kinds\":[0]}", &e1));
	cr_expect(m("{\"kinds\":[65535]}", &emax));
	cr_expect(!m("{\"kinds\":[65534]}", &emax));
	cr_expect(m("{\"kinds\":[3,65535,0]}", &emax));
	cr_expect(m("{\"kinds\":[3,65535,0]}", &e0));
	cr_expect(!m("{\"kinds\":[3,65535,0]}", &e1));
	cr_expect(m("{\"kinds\":[2,1]}", &e1));
}

Test(filter, match_since_until)
{
	tern_event e = mkev(H('1'), H('2'), 100, 1, "[]");
	tern_event ez = mkev(H('1'), H('2'), 0, 1, "[]");

	cr_expect(m("{\"since\":100}", &e));
	cr_expect(m("{\"since\":99}", &e));
	cr_expect(!m("{\"since\":101}", &e));
	cr_expect(m("{\"until\":100}", &e));
	cr_expect(m("{\"until\":101}", &e));
	cr_expect(!m("{\"until\":99}", &e));
	cr_expect(m("{\"since\":100,\"until\":100}", &e));
	cr_expect(!m("{\"since\":101,\"until\":99}", &e)); /* since > until: nothing */
	cr_expect(!m("{\"since\":101,\"until\":100}", &e));
	cr_expect(m("{\"since\":0}", &ez));
	cr_expect(m("{\"until\":0}", &ez));
	cr_expect(!m("{\"until\":0}", &e));
	cr_expect(m("{\"until\":18446744073709551615}", &e));
	cr_expect(!m("{\"since\":18446744073709551615}", &e));
	/* "limit" never affects matching. */
	cr_expect(m("{\"limit\":0}", &e));
}

Test(filter, match_tags)
{
	char tags[1024], buf[512];

	snprintf(tags, sizeof tags,
		 "[[\"e\",\"%s\"],[\"t\",\"nostr\",\"extra\"],[\"t\"],[\"p\",\"%s\",\"wss://r\"],"
		 "[\"tt\",\"x\"],[\"T\",\"Up\"],[\"r\",\"a\\u0000b\"],[\"\",\"nostr\"],[\"d\",\"\"]]",
		 H('e'), H('d'));
	tern_event ev = mkev(H('1'), H('2'), 5, 1, tags);
	tern_event bare = mkev(H('1'), H('2'), 5, 1, "[]");

	cr_expect(m("{\"#t\":[\"nostr\"]}", &ev));
	cr_expect(m("{\"#t\":[\"zzz\",\"nostr\",\"aaa\"]}", &ev));
	cr_expect(!m("{\"#t\":[\"extra\"]}", &ev)); /* only v[1] counts */
	cr_expect(!m("{\"#t\":[\"Nostr\"]}", &ev));
	cr_expect(!m("{\"#t\":[\"nost\"]}", &ev));
	cr_expect(!m("{\"#t\":[\"nostrr\"]}", &ev));
	cr_expect(!m("{\"#t\":[\"x\"]}", &ev)); /* "tt" is not "t" */
	cr_expect(m("{\"#T\":[\"Up\"]}", &ev));
	cr_expect(!m("{\"#t\":[\"Up\"]}", &ev));
	cr_expect(m("{\"#r\":[\"a\\u0000b\"]}", &ev));
	cr_expect(!m("{\"#r\":[\"a\"]}", &ev));
	cr_expect(m("{\"#d\":[\"\"]}", &ev));
	cr_expect(!m("{\"#d\":[\"\"]}", &bare));
	cr_expect(!m("{\"#t\":[\"nostr\"]}", &bare));
	snprintf(buf, sizeof buf, "{\"#e\":[\"%s\"]}", H('e'));
	cr_expect(m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"#e\":[\"%s\"]}", H('d'));
	cr_expect(!m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"#p\":[\"%s\",\"%s\"]}", H('0'), H('d'));
	cr_expect(m(buf, &ev));
	/* Several tag fields: all must hold (AND), values within one: OR. */
	snprintf(buf, sizeof buf, "{\"#p\":[\"%s\"],\"#t\":[\"nostr\"]}", H('d'));
	cr_expect(m(buf, &ev));
	snprintf(buf, sizeof buf, "{\"#p\":[\"%s\"],\"#t\":[\"other\"]}", H('d'));
	cr_expect(!m(buf, &ev));
	/* Tags combine with the other fields. */
	cr_expect(m("{\"#t\":[\"nostr\"],\"kinds\":[1],\"since\":5,\"until\":5}", &ev));
	cr_expect(!m("{\"#t\":[\"nostr\"],\"kinds\":[2]}", &ev));

	/* The event's second "t" tag matches too. */
	tern_event two = mkev(H('1'), H('2'), 5, 1, "[[\"t\",\"a\"],[\"t\",\"b\"]]");
	cr_expect(m("{\"#t\":[\"b\"]}", &two));
	cr_expect(m("{\"#t\":[\"a\"]}", &two));
	cr_expect(!m("{\"#t\":[\"c\"]}", &two));
}

Test(filter, filters_match_any)
{
	tern_filter *fs;
	size_t n;
	tern_reason why;
	const char *j = "[{\"kinds\":[2]},{\"since\":50}]";
	tern_event a = mkev(H('1'), H('2'), 10, 2, "[]");
	tern_event b = mkev(H('1'), H('2'), 60, 1, "[]");
	tern_event c = mkev(H('1'), H('2'), 10, 1, "[]");

	cr_assert_eq(tern_filter_parse_list(&fs, &n, (const uint8_t *)j, strlen(j), NULL,
					    &arena, &why), 0);
	cr_expect(tern_filters_match(fs, n, &a));
	cr_expect(tern_filters_match(fs, n, &b));
	cr_expect(!tern_filters_match(fs, n, &c));
	cr_expect(!tern_filters_match(fs, 0, &a));
}

/* ---- format ---------------------------------------------------------------- */

static void roundtrip(const char *json)
{
	enum { CAP = 1 << 18 };
	tern_filter f = parse_ok(json), g;
	char *buf = malloc(CAP), *buf2 = malloc(CAP);
	size_t n = tern_filter_format(&f, buf, CAP);
	tern_reason why;

	cr_assert(n < CAP);
	cr_assert_eq(strlen(buf), n);
	cr_assert_eq(tern_filter_parse(&g, (const uint8_t *)buf, n, NULL, &arena, &why), 0,
		     "%s -> %s: %s", json, buf, why.msg);
	cr_expect(tern_filter_equal(&f, &g), "%s -> %s", json, buf);
	/* Formatting is a fixed point. */
	cr_expect_eq(tern_filter_format(&g, buf2, CAP), n);
	cr_expect_str_eq(buf, buf2);
	free(buf);
	free(buf2);
}

Test(filter, format_exact)
{
	char buf[1024], want[1024];
	char json[1024];

	snprintf(json, sizeof json,
		 "{ \"search\":\"q\\\"\\u0001\\/\", \"limit\":10,\"until\":20,\"since\":3,"
		 "\"#t\":[\"b\",\"a\"],\"#e\":[\"%s\"],\"kinds\":[7,1],\"authors\":[\"%s\"],"
		 "\"ids\":[\"%s\",\"%s\"]}",
		 H('e'), H('b'), H('9'), H('1'));
	tern_filter f = parse_ok(json);
	size_t n = tern_filter_format(&f, buf, sizeof buf);
	snprintf(want, sizeof want,
		 "{\"ids\":[\"%s\",\"%s\"],\"authors\":[\"%s\"],\"kinds\":[1,7],"
		 "\"#e\":[\"%s\"],\"#t\":[\"a\",\"b\"],\"since\":3,\"until\":20,\"limit\":10,"
		 "\"search\":\"q\\\"\\u0001/\"}",
		 H('1'), H('9'), H('b'), H('e'));
	cr_expect_str_eq(buf, want);
	cr_expect_eq(n, strlen(want));

	/* Truncation: NUL-terminated, full length returned. */
	char small[8];
	memset(small, 'X', sizeof small);
	cr_expect_eq(tern_filter_format(&f, small, sizeof small), strlen(want));
	cr_expect_eq(memcmp(small, want, 7), 0);
	cr_expect_eq(small[7], '\0');
	cr_expect_eq(tern_filter_format(&f, NULL, 0), strlen(want));
	char one[1] = { 'X' };
	cr_expect_eq(tern_filter_format(&f, one, 1), strlen(want));
	cr_expect_eq(one[0], '\0');

	tern_filter e = parse_ok("{\"since\":0,\"until\":18446744073709551615}");
	tern_filter_format(&e, buf, sizeof buf);
	cr_expect_str_eq(buf, "{}");
}

Test(filter, format_roundtrip)
{
	char buf[1024];

	roundtrip("{}");
	roundtrip("{\"kinds\":[0,65535,1,1]}");
	roundtrip("{\"since\":1,\"until\":0,\"limit\":0}");
	roundtrip("{\"limit\":99999999999}");
	roundtrip("{\"search\":\"\"}");
	roundtrip("{\"search\":\"\\u0000\\u001f\\n\\t\\b\\f\\r\\\\\\\"\\u007f\\u2028 \xf0\x9f\x98\x80\"}");
	roundtrip("{\"#t\":[\"\",\"a\\u0000\",\"\\ud83d\\ude00\"],\"#Z\":[\"z\"]}");
	snprintf(buf, sizeof buf, "{\"ids\":[\"%s\"],\"authors\":[\"%s\",\"%s\"],\"#p\":[\"%s\"]}",
		 H('0'), H('f'), H('7'), H('a'));
	roundtrip(buf);
	/* A long string crosses the escaping pieces. */
	char lng[600];
	size_t n = (size_t)sprintf(lng, "{\"search\":\"");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(lng + n, "%s", i % 3 ? "ab" : "\\n");
	strcpy(lng + n, "\"}");
	roundtrip(lng);
	char *big = list_json("#t", 1000, true);
	roundtrip(big);
	free(big);
}

Test(filter, equal)
{
	tern_filter a = parse_ok("{\"kinds\":[1,2],\"#t\":[\"x\"]}");
	tern_filter b = parse_ok("{\"#t\":[\"x\",\"x\"],\"kinds\":[2,1,2]}");
	tern_filter c = parse_ok("{\"kinds\":[1,2],\"#t\":[\"y\"]}");
	tern_filter d = parse_ok("{\"kinds\":[1,2],\"#u\":[\"x\"]}");
	tern_filter e = parse_ok("{\"kinds\":[1,2],\"#t\":[\"x\"],\"limit\":0}");
	tern_filter s = parse_ok("{\"kinds\":[1,2],\"#t\":[\"x\"],\"search\":\"\"}");

	cr_expect(tern_filter_equal(&a, &b));
	cr_expect(!tern_filter_equal(&a, &c));
	cr_expect(!tern_filter_equal(&a, &d));
	cr_expect(!tern_filter_equal(&a, &e));
	cr_expect(!tern_filter_equal(&a, &s));
}
