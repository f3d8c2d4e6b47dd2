/* Unit tests for the strict JSON scanner (src/proto/json.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <tern/error.h>

#include "proto/json.h"

static tern_reason why;
static char wire[256];

/* Skips one whole document; returns the code and leaves the reason in wire. */
static int skip_doc_depth(const char *s, size_t n, uint32_t depth)
{
	tern__json j;
	int rc;

	memset(&why, 0, sizeof why);
	wire[0] = 0;
	tern__json_init(&j, (const uint8_t *)s, n, depth, &why);
	rc = tern__json_skip(&j);
	if (!rc)
		rc = tern__json_finish(&j);
	if (rc)
		tern_reason_format(&why, wire, sizeof wire);
	return rc;
}

static int skip_doc(const char *s)
{
	return skip_doc_depth(s, strlen(s), 64);
}

#define ACCEPT(s) cr_expect_eq(skip_doc(s), 0, "refused %s: %s", s, wire)
#define REFUSE(s, msg)                                                        \
	do {                                                                  \
		cr_expect_eq(skip_doc(s), TERN_EPARSE, "accepted %s", s);     \
		cr_expect_str_eq(wire, msg, "for %s", s);                     \
	} while (0)

Test(json, accepts_valid_documents)
{
	ACCEPT("0");
	ACCEPT("-0");
	ACCEPT("1.5e+10");
	ACCEPT("-12.25E-3");
	ACCEPT("  true ");
	ACCEPT("false");
	ACCEPT("null");
	ACCEPT("\"\"");
	ACCEPT("\"a\\u00e9\\ud83d\\ude00\\n\\/\"");
	ACCEPT("[]");
	ACCEPT("{}");
	ACCEPT(" [ 1 , \"x\" , { \"a\" : [ ] } , null ]\r\n\t");
	ACCEPT("{\"a\":{\"b\":{\"c\":[[[]]]}},\"d\":\"\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\"}");
	ACCEPT("{\"k\\u0000ey\":1}");
}

Test(json, refuses_with_precise_reasons)
{
	REFUSE("", "invalid: unexpected end of input at offset 0 (expected a value)");
	REFUSE("01", "invalid: bad number at offset 0");
	REFUSE("1.", "invalid: bad number at offset 0");
	REFUSE(".5", "invalid: expected a value at offset 0");
	REFUSE("1e", "invalid: bad number at offset 0");
	REFUSE("+1", "invalid: expected a value at offset 0");
	REFUSE("-", "invalid: bad number at offset 0");
	REFUSE("tru", "invalid: expected a value at offset 0");
	REFUSE("nul ", "invalid: expected a value at offset 0");
	REFUSE("[1,]", "invalid: expected a value at offset 3");
	REFUSE("[1 2]", "invalid: expected ',' or ']' at offset 3");
	REFUSE("[,1]", "invalid: expected a value at offset 1");
	REFUSE("{\"a\":1,}", "invalid: expected a string key at offset 7");
	REFUSE("{\"a\" 1}", "invalid: expected ':' at offset 5");
	REFUSE("{a:1}", "invalid: expected a string key at offset 1");
	REFUSE("[1", "invalid: unexpected end of input at offset 2 (expected ',' or ']')");
	REFUSE("{\"a\":1", "invalid: unexpected end of input at offset 6 (expected ',' or '}')");
	REFUSE("\"abc", "invalid: unterminated string at offset 0");
	REFUSE("[1] x", "invalid: trailing garbage at offset 4");
	REFUSE("1 2", "invalid: trailing garbage at offset 2");
	REFUSE("\"ab\\xcd\"", "invalid: bad escape \\x at offset 3");
	REFUSE("\"ab\\'\"", "invalid: bad escape \\' at offset 3");
	REFUSE("\"ab\\u12g4\"", "invalid: bad \\u escape at offset 3");
	REFUSE("\"ab\\u12\"", "invalid: bad \\u escape at offset 3");
	REFUSE("\"\\ud800\"", "invalid: unpaired surrogate \\ud800 at offset 1");
	REFUSE("\"\\ud800\\u0041\"", "invalid: unpaired surrogate \\ud800 at offset 1");
	REFUSE("\"\\udc00\"", "invalid: unpaired surrogate \\udc00 at offset 1");
	REFUSE("\"a\tb\"", "invalid: unescaped control character 0x09 in string at offset 2");
	REFUSE("\"\x7f\x80\"", "invalid: invalid UTF-8 at offset 2");
	REFUSE("\"\xc0\xaf\"", "invalid: invalid UTF-8 at offset 1");       /* overlong '/' */
	REFUSE("\"\xe0\x80\xaf\"", "invalid: invalid UTF-8 at offset 1");   /* overlong */
	REFUSE("\"\xf0\x80\x80\xaf\"", "invalid: invalid UTF-8 at offset 1"); /* overlong */
	REFUSE("\"\xed\xa0\x80\"", "invalid: invalid UTF-8 at offset 1");   /* surrogate */
	REFUSE("\"\xf4\x90\x80\x80\"", "invalid: invalid UTF-8 at offset 1"); /* > U+10FFFF */
	REFUSE("\"\xf8\x88\x80\x80\x80\"", "invalid: invalid UTF-8 at offset 1");
	REFUSE("\"\xe2\x82\"", "invalid: invalid UTF-8 at offset 1");       /* truncated */
	REFUSE("\"abcdefghijklmnop\xff\"", "invalid: invalid UTF-8 at offset 17");
}

Test(json, raw_nul_byte_is_refused)
{
	cr_expect_eq(skip_doc_depth("\"a\0b\"", 5, 8), TERN_EPARSE);
	cr_expect_str_eq(wire, "invalid: unescaped control character 0x00 in string at offset 2");
	cr_expect_eq(skip_doc_depth("1\0", 2, 8), TERN_EPARSE);
	cr_expect_str_eq(wire, "invalid: trailing garbage at offset 1");
}

Test(json, never_reads_past_len)
{
	/* The buffer continues after len; the scanner must stop at len. */
	const char *s = "[1,2]]]]";

	cr_expect_eq(skip_doc_depth(s, 5, 8), 0);
	cr_expect_eq(skip_doc_depth(s, 4, 8), TERN_EPARSE);
	cr_expect_eq(skip_doc_depth("\"abc\"", 4, 8), TERN_EPARSE);
	cr_expect_eq(skip_doc_depth("truex", 3, 8), TERN_EPARSE);
	cr_expect_eq(skip_doc_depth(NULL, 0, 8), TERN_EPARSE);
}

Test(json, nesting_limit)
{
	cr_expect_eq(skip_doc_depth("[[[]]]", 6, 3), 0);
	cr_expect_eq(skip_doc_depth("[[[[]]]]", 8, 3), TERN_ETOOBIG);
	cr_expect_str_eq(wire, "invalid: nesting deeper than 3 levels at offset 3");
	cr_expect_eq(skip_doc_depth("{\"a\":{\"b\":{\"c\":{}}}}", 21, 3), TERN_ETOOBIG);
}

static tern__json J;
static tern_arena A;

static void start(const char *s)
{
	memset(&why, 0, sizeof why);
	tern_arena_reset(&A);
	tern__json_init(&J, (const uint8_t *)s, strlen(s), 16, &why);
}

static void setup(void)
{
	tern_arena_init(&A, 0);
}

static void teardown(void)
{
	tern_arena_free(&A);
}

TestSuite(json_api, .init = setup, .fini = teardown);

Test(json_api, string_zero_copy_and_decoded)
{
	const char *s = "[\"plain text\", \"a\\nb\\u0000c\\u00e9\\ud83d\\ude00\\\"\\\\\\/\"]";
	tern_slice v;
	bool raw = false;

	start(s);
	cr_assert_eq(tern__json_arr_begin(&J), 0);
	cr_assert_eq(tern__json_arr_next(&J), 1);
	cr_assert_eq(tern__json_string(&J, &A, &v, &raw), 0);
	cr_expect(raw);
	cr_expect_eq((const char *)v.p, s + 2, "raw string must point into the input");
	cr_expect_eq(v.n, 10);
	cr_assert_eq(tern__json_arr_next(&J), 1);
	cr_assert_eq(tern__json_string(&J, &A, &v, &raw), 0);
	cr_expect(!raw);
	cr_expect_eq(v.n, 14);
	cr_expect_eq(memcmp(v.p, "a\nb\0c\xc3\xa9\xf0\x9f\x98\x80\"\\/", 14), 0);
	cr_assert_eq(tern__json_arr_next(&J), 0);
	cr_expect_eq(tern__json_finish(&J), 0);
}

Test(json_api, string_without_arena)
{
	tern_slice v;

	start("\"a\\nb\"");
	cr_expect_eq(tern__json_string(&J, NULL, &v, NULL), TERN_EINVAL);
}

Test(json_api, object_iteration_and_keys)
{
	tern_slice k;
	uint64_t n;

	start(" { \"a\" : 1 , \"b\\u0063\" : { } , \"d\" : [ 2 ] } ");
	cr_assert_eq(tern__json_obj_begin(&J), 0);
	cr_assert_eq(tern__json_obj_next(&J, &A, &k), 1);
	cr_expect(k.n == 1 && k.p[0] == 'a');
	cr_assert_eq(tern__json_uint64(&J, &n), 0);
	cr_expect_eq(n, 1);
	cr_assert_eq(tern__json_obj_next(&J, &A, &k), 1);
	cr_expect(k.n == 2 && memcmp(k.p, "bc", 2) == 0);
	cr_assert_eq(tern__json_skip(&J), 0);
	cr_assert_eq(tern__json_obj_next(&J, &A, &k), 1);
	cr_assert_eq(tern__json_peek(&J), '[');
	cr_assert_eq(tern__json_arr_begin(&J), 0);
	cr_assert_eq(tern__json_arr_next(&J), 1);
	cr_assert_eq(tern__json_uint64(&J, &n), 0);
	cr_expect_eq(n, 2);
	cr_assert_eq(tern__json_arr_next(&J), 0);
	cr_assert_eq(tern__json_obj_next(&J, &A, &k), 0);
	cr_expect_eq(J.depth, 0);
	cr_expect_eq(tern__json_peek(&J), -1);
	cr_expect_eq(tern__json_finish(&J), 0);
}

Test(json_api, uint64_strictness)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "7", 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", TERN_EPARSE, 0 },
		{ "99999999999999999999", TERN_EPARSE, 0 },
		{ "184467440737095516150", TERN_EPARSE, 0 },
		{ "01", TERN_EPARSE, 0 },
		{ "-1", TERN_EPARSE, 0 },
		{ "1.0", TERN_EPARSE, 0 },
		{ "1e3", TERN_EPARSE, 0 },
		{ "1E3", TERN_EPARSE, 0 },
		{ "\"1\"", TERN_EPARSE, 0 },
		{ "", TERN_EPARSE, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 12345;

		start(cases[i].in);
		cr_expect_eq(tern__json_uint64(&J, &v), cases[i].rc, "%s", cases[i].in);
		if (!cases[i].rc)
			cr_expect_eq(v, cases[i].v, "%s", cases[i].in);
	}
	start("-1");
	cr_expect_eq(tern__json_uint64(&J, &(uint64_t){ 0 }), TERN_EPARSE);
	cr_expect_str_eq(why.msg, "expected a non-negative integer at offset 0");
	start("1.5");
	cr_expect_eq(tern__json_uint64_or(&J, &(uint64_t){ 0 }, "\"x\" must be an integer"), TERN_EPARSE);
	cr_expect_str_eq(why.msg, "\"x\" must be an integer");
	cr_expect_eq(why.prefix, TERN_PREFIX_INVALID);
}

Test(json_api, errors_latch)
{
	tern_slice k;

	start("{\"a\":x, \"b\":1}");
	cr_assert_eq(tern__json_obj_begin(&J), 0);
	cr_assert_eq(tern__json_obj_next(&J, &A, &k), 1);
	cr_expect_eq(tern__json_skip(&J), TERN_EPARSE);
	cr_expect_str_eq(why.msg, "expected a value at offset 5");
	cr_expect_eq(tern__json_obj_next(&J, &A, &k), TERN_EPARSE);
	cr_expect_eq(tern__json_finish(&J), TERN_EPARSE);
	cr_expect_eq(tern__json_peek(&J), -1);
	cr_expect_str_eq(why.msg, "expected a value at offset 5");
}

static void check_escape(const char *in, size_t n, const char *want)
{
	tern_slice s = { (const uint8_t *)in, n };
	uint8_t buf[1024];
	size_t len = tern__json_escaped_len(s);
	uint8_t *e = tern__json_escape(buf, s);

	cr_expect_eq((size_t)(e - buf), len);
	cr_expect_eq(len, strlen(want), "length for %s", want);
	cr_expect_eq(memcmp(buf, want, len), 0, "got %.*s want %s", (int)len, buf, want);
}

Test(json, canonical_escaping_of_every_control_char)
{
	for (unsigned c = 0; c < 0x20; c++) {
		char in[3] = { 'x', (char)c, 'y' };
		char want[16];

		switch (c) {
		case '\b': strcpy(want, "\"x\\by\""); break;
		case '\t': strcpy(want, "\"x\\ty\""); break;
		case '\n': strcpy(want, "\"x\\ny\""); break;
		case '\f': strcpy(want, "\"x\\fy\""); break;
		case '\r': strcpy(want, "\"x\\ry\""); break;
		default: snprintf(want, sizeof want, "\"x\\u%04xy\"", c); break;
		}
		check_escape(in, 3, want);
	}
	check_escape("\"\\", 2, "\"\\\"\\\\\"");
	check_escape("\x7f", 1, "\"\x7f\"");
	check_escape("\xe2\x80\xa8/\xf0\x9f\x98\x80", 8, "\"\xe2\x80\xa8/\xf0\x9f\x98\x80\"");
	check_escape("", 0, "\"\"");
	check_escape("0123456789abcdef\x1f" "0123456789abcdef\"", 34,
		     "\"0123456789abcdef\\u001f0123456789abcdef\\\"\"");
	check_escape("\x1b[0m", 4, "\"\\u001b[0m\"");
}

/* Decoding then re-escaping round-trips to the canonical form. */
Test(json_api, decode_then_escape)
{
	const char *in = "\"\\u0000\\u001F\\u007f\\u2028\\b\\f\\n\\r\\t\\/\\\"\\\\\"";
	const char *want = "\"\\u0000\\u001f\x7f\xe2\x80\xa8\\b\\f\\n\\r\\t/\\\"\\\\\"";
	tern_slice v;
	uint8_t buf[128];

	start(in);
	cr_assert_eq(tern__json_string(&J, &A, &v, NULL), 0);
	uint8_t *e = tern__json_escape(buf, v);
	cr_expect_eq((size_t)(e - buf), strlen(want));
	cr_expect_eq(memcmp(buf, want, strlen(want)), 0, "%.*s", (int)(e - buf), buf);
}

Test(json_api, long_strings)
{
	static char big[200002];
	tern_slice v;

	big[0] = '"';
	for (size_t i = 1; i <= 200000; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big + 1000, "\xc3\xa9", 2);
	big[200001] = '"';
	tern__json_init(&J, (const uint8_t *)big, sizeof big, 4, &why);
	cr_assert_eq(tern__json_string(&J, &A, &v, NULL), 0);
	cr_expect_eq(v.n, 200000);
	cr_expect_eq(tern__json_finish(&J), 0);
	big[150000] = '\\';
	big[150001] = 'n';
	tern__json_init(&J, (const uint8_t *)big, sizeof big, 4, &why);
	cr_assert_eq(tern__json_string(&J, &A, &v, NULL), 0);
	cr_expect_eq(v.n, 199999);
	cr_expect_eq(v.p[149999], '\n');
	big[150001] = 'q';
	tern__json_init(&J, (const uint8_t *)big, sizeof big, 4, &why);
	cr_assert_eq(tern__json_string(&J, &A, &v, NULL), TERN_EPARSE);
	cr_expect_str_eq(why.msg, "bad escape \\q at offset 150000");
}
