/* Relay-to-client messages. */
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "relay/wire.h"

static tern_slice S(const char *s)
{
	return (tern_slice){ (const uint8_t *)s, strlen(s) };
}

#define CHECK(expr, want)                                                    \
	do {                                                                 \
		char b_[TERN__WIRE_SMALL_MAX];                               \
		size_t n_ = (expr);                                          \
		cr_assert_leq(n_, sizeof b_);                                \
		cr_assert_eq(n_, strlen(want), "%.*s", (int)n_, b_);         \
		cr_assert(memcmp(b_, want, n_) == 0, "%.*s", (int)n_, b_);   \
	} while (0)

Test(relay_wire, messages)
{
	tern_reason none = { 0 }, dup, bad;
	const char *id = "0123456789abcdef0123456789abcdef"
			 "0123456789abcdef0123456789abcdef";

	tern_reason_set(&dup, TERN_PREFIX_DUPLICATE, "already have this event");
	tern_reason_set(&bad, TERN_PREFIX_INVALID, "bad \"quote\"\n");
	CHECK(tern__wire_ok(b_, sizeof b_, S(id), true, &none),
	      "[\"OK\",\"0123456789abcdef0123456789abcdef"
	      "0123456789abcdef0123456789abcdef\",true,\"\"]");
	CHECK(tern__wire_ok(b_, sizeof b_, S("ab"), true, &dup),
	      "[\"OK\",\"ab\",true,\"duplicate: already have this event\"]");
	CHECK(tern__wire_notice(b_, sizeof b_, &bad),
	      "[\"NOTICE\",\"invalid: bad \\\"quote\\\"\\n\"]");
	CHECK(tern__wire_closed(b_, sizeof b_, S("s\x01"), &bad),
	      "[\"CLOSED\",\"s\\u0001\",\"invalid: bad \\\"quote\\\"\\n\"]");
	CHECK(tern__wire_neg_err(b_, sizeof b_, S("n"), &dup),
	      "[\"NEG-ERR\",\"n\",\"duplicate: already have this event\"]");
	CHECK(tern__wire_eose(b_, sizeof b_, S("sub")), "[\"EOSE\",\"sub\"]");
	CHECK(tern__wire_count(b_, sizeof b_, S("c"), 18446744073709551615ull),
	      "[\"COUNT\",\"c\",{\"count\":18446744073709551615}]");
	CHECK(tern__wire_auth(b_, sizeof b_, "abc"), "[\"AUTH\",\"abc\"]");
	CHECK(tern__wire_event_head(b_, sizeof b_, S("x")),
	      "[\"EVENT\",\"x\",");
}

Test(relay_wire, too_small_buffer_reports_length)
{
	char b[4];

	cr_assert_eq(tern__wire_eose(b, sizeof b, S("sub")), 14);
	cr_assert_eq(tern__wire_eose(NULL, 0, S("sub")), 14);
}

Test(relay_wire, worst_case_fits_and_is_json)
{
	/* 64 control characters as sub id, a reason of control bytes. */
	char sub[65], b[TERN__WIRE_SMALL_MAX];
	tern_reason r;
	json_error_t e;
	json_t *j;
	size_t n;

	memset(sub, 0x1f, 64);
	sub[64] = '\0';
	r.prefix = TERN_PREFIX_RESTRICTED;
	memset(r.msg, 0x02, sizeof r.msg - 1);
	r.msg[sizeof r.msg - 1] = '\0';
	n = tern__wire_closed(b, sizeof b, S(sub), &r);
	cr_assert_leq(n, sizeof b);
	j = json_loadb(b, n, 0, &e);
	cr_assert_not_null(j, "%s", e.text);
	cr_assert_str_eq(json_string_value(json_array_get(j, 1)), sub);
	json_decref(j);
}
