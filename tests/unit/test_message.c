/* Unit tests for client-to-relay messages (src/proto/message.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>

#include "proto/message.h"

static tern_arena arena;

static void setup(void)
{
	tern_arena_init(&arena, 0);
}

static void teardown(void)
{
	tern_arena_free(&arena);
}

TestSuite(message, .init = setup, .fini = teardown);

/* A real signed event (tests/vectors/events-sample.jsonl, line 1). */
#define EV_ID "c01ed767df9d2d264cc46e81a16cb68713f000503a10c72670ce36382d1e7dbb"
#define EV                                                                     \
	"{\"id\":\"" EV_ID "\",\"pubkey\":\"3e5ef5b3b42862cac77dfe9367611d1a5d"     \
	"2438c0a87ab94330a3a3f9707387bd\",\"created_at\":1710011600,\"kind\":1,"   \
	"\"tags\":[],\"content\":\"note 110 from user0\",\"sig\":\"d96ede4ee32f8d" \
	"64eec5f9089c09f5d73763b2cf403b1801275229826ed329c00578ca10036fa6da6312b" \
	"bb4f99ee0eddeb3d4cb380b829154af7640781e11a9\"}"

#define H63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static bool slice_is(tern_slice s, const char *str)
{
	return s.n == strlen(str) && (s.n == 0 || memcmp(s.p, str, s.n) == 0);
}

static tern__msg parse_lim(const char *s, size_t n, const tern__msg_limits *lim)
{
	tern__msg m;
	tern_reason why = { 0 };
	int rc = tern__msg_parse(&m, (const uint8_t *)s, n, lim, &arena, &why);

	cr_assert_eq(rc, 0, "refused %s: %s", s, why.msg);
	cr_assert_eq(m.reply, TERN__MSG_REPLY_NONE);
	return m;
}

static tern__msg parse_ok(const char *s)
{
	return parse_lim(s, strlen(s), NULL);
}

/*
 * Parses s, expecting refusal err with reply kind reply, the reason
 * "<prefix>: <msg>" and, for CLOSED/NEG-ERR, sub id key (for OK, event id).
 */
static tern__msg refuse_lim(const char *s, size_t n, const tern__msg_limits *lim,
			    int err, tern__msg_reply reply, const char *reason,
			    const char *key)
{
	tern__msg m;
	tern_reason why = { 0 };
	char wire[256];
	int rc = tern__msg_parse(&m, (const uint8_t *)s, n, lim, &arena, &why);

	tern_reason_format(&why, wire, sizeof wire);
	cr_assert_eq(rc, err, "%s: rc %d (%s)", s, rc, wire);
	cr_assert_eq(m.reply, reply, "%s: reply %d, want %d (%s)", s, m.reply,
		     reply, wire);
	cr_assert_str_eq(wire, reason, "%s\n got: %s", s, wire);
	if (reply == TERN__MSG_REPLY_CLOSED || reply == TERN__MSG_REPLY_NEG_ERR)
		cr_assert(slice_is(m.sub, key), "%s: sub %.*s", s, (int)m.sub.n,
			  (const char *)m.sub.p);
	if (reply == TERN__MSG_REPLY_OK)
		cr_assert(slice_is(m.id, key), "%s: id %.*s", s, (int)m.id.n,
			  (const char *)m.id.p);
	return m;
}

static tern__msg refuse(const char *s, tern__msg_reply reply,
			const char *reason, const char *key)
{
	return refuse_lim(s, strlen(s), NULL, TERN_EPARSE, reply, reason, key);
}

static void notice(const char *s, const char *reason)
{
	refuse(s, TERN__MSG_REPLY_NOTICE, reason, NULL);
}

static void closed(const char *s, const char *sub, const char *reason)
{
	refuse(s, TERN__MSG_REPLY_CLOSED, reason, sub);
}

static void neg_err(const char *s, const char *sub, const char *reason)
{
	refuse(s, TERN__MSG_REPLY_NEG_ERR, reason, sub);
}

static void ok_false(const char *s, const char *id, const char *reason)
{
	refuse(s, TERN__MSG_REPLY_OK, reason, id);
}

/* ---- well-formed messages ------------------------------------------------ */

Test(message, defaults)
{
	tern__msg_limits l;

	tern__msg_limits_defaults(&l);
	cr_expect_eq(l.max_bytes, 524288);
	cr_expect_eq(l.max_depth, 20);
	cr_expect_eq(l.max_filters, 20);
	cr_expect_eq(l.filter.max_values, 1000);
}

Test(message, event)
{
	const char *s = "[\"EVENT\"," EV "]";
	tern__msg m = parse_ok(s);
	tern_event ev;
	tern_reason why = { 0 };

	cr_assert_eq(m.type, TERN__MSG_EVENT);
	cr_assert(slice_is(m.event, EV));
	cr_assert_eq(m.event.p, (const uint8_t *)s + 9, "event is a slice of buf");
	cr_assert_eq(tern_event_parse(&ev, m.event.p, m.event.n, NULL, &arena, &why), 0,
		     "%s", why.msg);
	cr_assert_eq(tern_event_check(&ev, &why), 0, "%s", why.msg);
}

Test(message, auth)
{
	tern__msg m = parse_ok("[\"AUTH\",{\"kind\":22242}]");

	cr_assert_eq(m.type, TERN__MSG_AUTH);
	cr_assert(slice_is(m.event, "{\"kind\":22242}"));
}

Test(message, event_slice_is_not_validated_as_event)
{
	/* Event rules belong to tern_event_parse(): here only JSON matters. */
	tern__msg m = parse_ok("[\"EVENT\",{\"x\":[1,2.5e3,true,null,{}]}]");

	cr_assert(slice_is(m.event, "{\"x\":[1,2.5e3,true,null,{}]}"));
}

Test(message, req)
{
	tern__msg m = parse_ok("[\"REQ\",\"sub1\",{\"kinds\":[1,0]},{\"authors\":[\"" H64
			       "\"],\"limit\":5}]");

	cr_assert_eq(m.type, TERN__MSG_REQ);
	cr_assert(slice_is(m.sub, "sub1"));
	cr_assert_eq(m.nfilters, 2);
	cr_assert_eq(m.filters[0].nkinds, 2);
	cr_assert_eq(m.filters[0].kinds[0], 0);
	cr_assert_eq(m.filters[0].kinds[1], 1);
	cr_assert_eq(m.filters[1].nauthors, 1);
	cr_assert_eq(m.filters[1].authors[0][0], 0xaa);
	cr_assert(m.filters[1].has_limit);
	cr_assert_eq(m.filters[1].limit, 5);
	cr_assert_eq(m.event.p, NULL);
}

Test(message, req_empty_filter)
{
	tern__msg m = parse_ok("[\"REQ\",\"s\",{}]");

	cr_assert_eq(m.nfilters, 1);
	cr_assert_eq(m.filters[0].until, UINT64_MAX);
}

Test(message, req_many_filters_grow)
{
	char buf[512];
	size_t n = (size_t)snprintf(buf, sizeof buf, "[\"REQ\",\"s\"");
	int i;
	tern__msg m;

	for (i = 0; i < 20; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, ",{\"kinds\":[%d]}", i);
	snprintf(buf + n, sizeof buf - n, "]");
	m = parse_ok(buf);
	cr_assert_eq(m.nfilters, 20);
	for (i = 0; i < 20; i++)
		cr_assert_eq(m.filters[i].kinds[0], i);
}

Test(message, count)
{
	tern__msg m = parse_ok("[\"COUNT\",\"c\",{\"kinds\":[7]}]");

	cr_assert_eq(m.type, TERN__MSG_COUNT);
	cr_assert(slice_is(m.sub, "c"));
	cr_assert_eq(m.nfilters, 1);
	cr_assert_eq(m.filters[0].kinds[0], 7);
}

Test(message, close)
{
	tern__msg m = parse_ok("[\"CLOSE\",\"sub1\"]");

	cr_assert_eq(m.type, TERN__MSG_CLOSE);
	cr_assert(slice_is(m.sub, "sub1"));
	cr_assert_eq(m.nfilters, 0);
}

Test(message, neg_open)
{
	tern__msg m = parse_ok("[\"NEG-OPEN\",\"n1\",{\"kinds\":[1]},\"6100ff\"]");

	cr_assert_eq(m.type, TERN__MSG_NEG_OPEN);
	cr_assert(slice_is(m.sub, "n1"));
	cr_assert_eq(m.nfilters, 1);
	cr_assert_eq(m.filters[0].kinds[0], 1);
	cr_assert_eq(m.neg.n, 3);
	cr_assert_eq(memcmp(m.neg.p, "\x61\x00\xff", 3), 0);
}

Test(message, neg_msg_either_case)
{
	tern__msg m = parse_ok("[\"NEG-MSG\",\"n1\",\"61AbCd\"]");

	cr_assert_eq(m.type, TERN__MSG_NEG_MSG);
	cr_assert(slice_is(m.sub, "n1"));
	cr_assert_eq(m.nfilters, 0);
	cr_assert_eq(m.neg.n, 3);
	cr_assert_eq(memcmp(m.neg.p, "\x61\xab\xcd", 3), 0);
}

Test(message, neg_close)
{
	tern__msg m = parse_ok("[\"NEG-CLOSE\",\"n1\"]");

	cr_assert_eq(m.type, TERN__MSG_NEG_CLOSE);
	cr_assert(slice_is(m.sub, "n1"));
}

Test(message, whitespace_around_tokens)
{
	tern__msg m = parse_ok(" \r\n\t[ \"REQ\" ,\n\"s\"\t, { \"kinds\" : [ 1 ] } , {}\r] \n");

	cr_assert_eq(m.type, TERN__MSG_REQ);
	cr_assert_eq(m.nfilters, 2);
	m = parse_ok("\n[ \"EVENT\" , " EV " ]\n");
	cr_assert(slice_is(m.event, EV), "event slice excludes whitespace");
	m = parse_ok("[\"NEG-MSG\" , \"x\" , \"00\" ] ");
	cr_assert_eq(m.neg.n, 1);
}

Test(message, escapes_decoded_before_comparison)
{
	tern__msg m = parse_ok("[\"\\u0045VENT\",{}]");

	cr_assert_eq(m.type, TERN__MSG_EVENT);
	m = parse_ok("[\"R\\u0045Q\",\"a\\u0062c\\n\",{}]");
	cr_assert_eq(m.type, TERN__MSG_REQ);
	cr_assert(slice_is(m.sub, "abc\n"));
	m = parse_ok("[\"NEG\\u002dMSG\",\"s\",\"\\u0061\\u0062\"]");
	cr_assert_eq(m.type, TERN__MSG_NEG_MSG);
	cr_assert_eq(m.neg.n, 1);
	cr_assert_eq(m.neg.p[0], 0xab);
	m = parse_ok("[\"CLOSE\",\"\\/\\\"\"]");
	cr_assert(slice_is(m.sub, "/\""));
}

Test(message, sub_id_with_nul)
{
	tern__msg m = parse_ok("[\"CLOSE\",\"a\\u0000b\"]");

	cr_assert_eq(m.sub.n, 3);
	cr_assert_eq(memcmp(m.sub.p, "a\0b", 3), 0);
}

Test(message, sub_id_length_in_characters)
{
	char buf[512], sub[300];
	int i;
	tern__msg m;

	/* 64 ASCII characters: accepted. */
	memset(sub, 'x', 64);
	sub[64] = '\0';
	snprintf(buf, sizeof buf, "[\"REQ\",\"%s\",{}]", sub);
	m = parse_ok(buf);
	cr_assert_eq(m.sub.n, 64);
	/* 65: refused with CLOSED naming the id. */
	memset(sub, 'x', 65);
	sub[65] = '\0';
	snprintf(buf, sizeof buf, "[\"REQ\",\"%s\",{}]", sub);
	closed(buf, sub, "invalid: subscription id must be 1-64 characters");
	/* 64 two-byte characters (128 bytes): accepted. */
	for (i = 0; i < 64; i++)
		memcpy(sub + 2 * i, "\xc3\xa9", 2);
	sub[128] = '\0';
	snprintf(buf, sizeof buf, "[\"COUNT\",\"%s\",{}]", sub);
	m = parse_ok(buf);
	cr_assert_eq(m.sub.n, 128);
	memcpy(sub + 128, "\xc3\xa9", 3);
	snprintf(buf, sizeof buf, "[\"COUNT\",\"%s\",{}]", sub);
	closed(buf, sub, "invalid: subscription id must be 1-64 characters");
}

/* ---- NOTICE: nothing to address the reply to ----------------------------- */

Test(message, not_an_array)
{
	notice("{\"EVENT\":1}", "invalid: message is not a JSON array");
	notice("\"EVENT\"", "invalid: message is not a JSON array");
	notice("", "invalid: message is not a JSON array");
	notice("  \n", "invalid: message is not a JSON array");
	notice("hello", "invalid: message is not a JSON array");
	notice("1", "invalid: message is not a JSON array");
	refuse_lim(NULL, 0, NULL, TERN_EPARSE, TERN__MSG_REPLY_NOTICE,
		   "invalid: message is not a JSON array", NULL);
}

Test(message, empty_array)
{
	notice("[]", "invalid: message is an empty array");
	notice(" [ \n ] ", "invalid: message is an empty array");
}

Test(message, verb_not_a_string)
{
	notice("[1]", "invalid: message type must be a string");
	notice("[null,{}]", "invalid: message type must be a string");
	notice("[[\"EVENT\"],{}]", "invalid: message type must be a string");
	notice("[{\"EVENT\":1}]", "invalid: message type must be a string");
}

Test(message, unknown_verb)
{
	tern__msg m;

	notice("[\"FOO\"]", "invalid: unknown message type \"FOO\"");
	notice("[\"event\",{}]", "invalid: unknown message type \"event\"");
	notice("[\"EVENT \",{}]", "invalid: unknown message type \"EVENT \"");
	notice("[\"\"]", "invalid: unknown message type \"\"");
	/* Client text in a reason is made safe and short. */
	notice("[\"a\\\"b\\u0001c\\\\\"]", "invalid: unknown message type \"a?b?c?\"");
	notice("[\"0123456789012345678901234567890123456789\"]",
	       "invalid: unknown message type \"01234567890123456789012345678901...\"");
	/* Relay-to-client verbs are not client messages. */
	m = refuse("[\"OK\",\"" H64 "\",true,\"\"]", TERN__MSG_REPLY_NOTICE,
		   "invalid: unknown message type \"OK\"", NULL);
	cr_assert_eq(m.type, TERN__MSG_UNKNOWN);
}

Test(message, malformed_json)
{
	notice("[", "invalid: unexpected end of input at offset 1 (expected a value)");
	notice("[\"EVENT\"", "invalid: unexpected end of input at offset 8 (expected ',' or ']')");
	notice("[\"EV", "invalid: unterminated string at offset 1");
	notice("[\"EVENT\" {}]", "invalid: expected ',' or ']' at offset 9");
	notice("[,\"EVENT\"]", "invalid: expected a string at offset 1");
	notice("[x]", "invalid: expected a string at offset 1");
	notice("[\"\\x\"]", "invalid: bad escape \\x at offset 2");
	notice("[\"\xff\"]", "invalid: invalid UTF-8 at offset 2");
	notice("[\"REQ\",]", "invalid: expected a value at offset 7");
}

Test(message, event_arity_and_types)
{
	notice("[\"EVENT\"]", "invalid: EVENT takes exactly one event");
	notice("[\"EVENT\",{},{}]", "invalid: EVENT takes exactly one event");
	notice("[\"EVENT\",\"sub\",{\"id\":\"" H64 "\"}]",
	       "invalid: event must be a JSON object");
	notice("[\"EVENT\",[]]", "invalid: event must be a JSON object");
	notice("[\"EVENT\",null]", "invalid: event must be a JSON object");
	notice("[\"AUTH\"]", "invalid: AUTH takes exactly one event");
	notice("[\"AUTH\",\"challenge\"]", "invalid: event must be a JSON object");
	notice("[\"EVENT\",}", "invalid: expected a value at offset 9");
}

/* ---- OK false: the event id is known ------------------------------------- */

Test(message, event_refusals_carry_the_id)
{
	tern__msg m;

	m = refuse("[\"EVENT\"," EV ",1]", TERN__MSG_REPLY_OK,
		   "invalid: EVENT takes exactly one event", EV_ID);
	cr_assert_eq(m.type, TERN__MSG_EVENT);
	ok_false("[\"AUTH\",{\"id\":\"" H64 "\"},{}]", H64,
		 "invalid: AUTH takes exactly one event");
	/* Malformed event: the id is still read up to the error. */
	ok_false("[\"EVENT\",{\"kind\":1,\"id\":\"" H64 "\",\"tags\":[}]", H64,
		 "invalid: expected a value at offset 99");
	ok_false("[\"EVENT\",{\"id\":\"" H64 "\",\"content\":\"abc", H64,
		 "invalid: unterminated string at offset 92");
	ok_false("[\"EVENT\",{\"id\":\"" H64 "\"}", H64,
		 "invalid: unexpected end of input at offset 82 (expected ',' or ']')");
	/* Trailing garbage after the array. */
	ok_false("[\"EVENT\",{\"id\":\"" H64 "\"}] x", H64,
		 "invalid: trailing garbage at offset 84");
	/* An escaped id is decoded before it is checked. */
	ok_false("[\"EVENT\",{\"\\u0069d\":\"\\u0061" H63 "\"},1]", H64,
		 "invalid: EVENT takes exactly one event");
}

Test(message, event_refusals_without_usable_id)
{
	/* Uppercase, short or non-string ids cannot be echoed in OK. */
	notice("[\"EVENT\",{\"id\":\"" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	       "\"},1]", "invalid: EVENT takes exactly one event");
	notice("[\"EVENT\",{\"id\":\"abc\"},1]", "invalid: EVENT takes exactly one event");
	notice("[\"EVENT\",{\"id\":1},1]", "invalid: EVENT takes exactly one event");
	/* Only a top-level "id" counts. */
	notice("[\"EVENT\",{\"x\":{\"id\":\"" H64 "\"}},1]",
	       "invalid: EVENT takes exactly one event");
	/* An id after the syntax error is not reached. */
	notice("[\"EVENT\",{\"kind\":1x,\"id\":\"" H64 "\"}]",
	       "invalid: expected ',' or '}' at offset 18");
	notice("[\"EVENT\",{}] x", "invalid: trailing garbage at offset 13");
}

Test(message, event_id_helper)
{
	const char *s;
	tern_slice id;

	s = "{\"a\":[1,{\"id\":2}],\"id\" : \"" H64 "\",\"id\":\"x\"}";
	cr_assert(tern__msg_event_id((const uint8_t *)s, strlen(s), 8, &arena, &id));
	cr_assert(slice_is(id, H64));
	/* Never reads past len: the id is cut off. */
	cr_assert_not(tern__msg_event_id((const uint8_t *)s, 40, 8, &arena, &id));
	s = "[\"id\",\"" H64 "\"]";
	cr_assert_not(tern__msg_event_id((const uint8_t *)s, strlen(s), 8, &arena, &id));
	s = "{\"a\":[[[1]]],\"id\":\"" H64 "\"}";
	cr_assert_not(tern__msg_event_id((const uint8_t *)s, strlen(s), 3, &arena, &id),
		      "depth limit ends the walk");
	cr_assert(tern__msg_event_id((const uint8_t *)s, strlen(s), 4, &arena, &id));
	cr_assert_not(tern__msg_event_id(NULL, 0, 8, &arena, &id));
}

/* ---- CLOSED: REQ and COUNT with a known subscription id ------------------ */

Test(message, req_refusals)
{
	tern__msg m;

	notice("[\"REQ\"]", "invalid: REQ needs a subscription id and at least one filter");
	notice("[\"REQ\",{}]", "invalid: subscription id must be a string");
	notice("[\"REQ\",1,{}]", "invalid: subscription id must be a string");
	notice("[\"REQ\",null]", "invalid: subscription id must be a string");
	closed("[\"REQ\",\"s\"]", "s",
	       "invalid: REQ needs a subscription id and at least one filter");
	m = refuse("[\"REQ\",\"\",{}]", TERN__MSG_REPLY_CLOSED,
		   "invalid: subscription id must be 1-64 characters", "");
	cr_assert_eq(m.type, TERN__MSG_REQ);
	closed("[\"REQ\",\"s\",1]", "s", "invalid: filter must be a JSON object");
	closed("[\"REQ\",\"s\",{},[]]", "s", "invalid: filter must be a JSON object");
	closed("[\"REQ\",\"s\",{\"kinds\":[\"1\"]}]", "s",
	       "invalid: \"kinds\" must be an array of integers 0-65535");
	closed("[\"REQ\",\"s\",{\"ids\":[]}]", "s", "invalid: \"ids\" must not be empty");
	closed("[\"REQ\",\"s\",{\"foo\":1}]", "s",
	       "unsupported: filter contains unknown field \"foo\"");
	closed("[\"REQ\",\"s\",{\"limit\":1,\"limit\":2}]", "s",
	       "invalid: duplicate field \"limit\"");
	/* Malformed JSON and trailing garbage once the id is known. */
	closed("[\"REQ\",\"s\",{\"kinds\":[1}]", "s", "invalid: expected ',' or ']' at offset 22");
	closed("[\"REQ\",\"s\",{}", "s",
	       "invalid: unexpected end of input at offset 13 (expected ',' or ']')");
	closed("[\"REQ\",\"s\",{}]]", "s", "invalid: trailing garbage at offset 14");
	closed("[\"REQ\",\"s\" {}]", "s", "invalid: expected ',' or ']' at offset 11");
	/* The id is checked before the filters. */
	closed("[\"REQ\",\"\",1]", "", "invalid: subscription id must be 1-64 characters");
}

Test(message, count_refusals)
{
	tern__msg m;

	notice("[\"COUNT\"]", "invalid: COUNT needs a subscription id and at least one filter");
	closed("[\"COUNT\",\"c\"]", "c",
	       "invalid: COUNT needs a subscription id and at least one filter");
	m = refuse("[\"COUNT\",\"c\",{\"since\":-1}]", TERN__MSG_REPLY_CLOSED,
		   "invalid: \"since\" must be a non-negative integer", "c");
	cr_assert_eq(m.type, TERN__MSG_COUNT);
}

Test(message, too_many_filters)
{
	char buf[512];
	size_t n = (size_t)snprintf(buf, sizeof buf, "[\"REQ\",\"s\"");
	tern__msg_limits lim;
	int i;

	for (i = 0; i < 21; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, ",{}");
	snprintf(buf + n, sizeof buf - n, "]");
	refuse_lim(buf, strlen(buf), NULL, TERN_ETOOBIG, TERN__MSG_REPLY_CLOSED,
		   "invalid: too many filters (max 20)", "s");

	tern__msg_limits_defaults(&lim);
	lim.max_filters = 2;
	parse_lim("[\"REQ\",\"s\",{},{}]", 17, &lim);
	refuse_lim("[\"REQ\",\"s\",{},{},{}]", 20, &lim, TERN_ETOOBIG,
		   TERN__MSG_REPLY_CLOSED, "invalid: too many filters (max 2)", "s");
}

Test(message, filter_limits_apply)
{
	tern__msg_limits lim;
	const char *s = "[\"REQ\",\"s\",{\"kinds\":[1,2,3]}]";

	tern__msg_limits_defaults(&lim);
	lim.filter.max_values = 2;
	refuse_lim(s, strlen(s), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_CLOSED,
		   "invalid: too many values in \"kinds\" (max 2)", "s");
	lim.filter.max_values = 1000;
	lim.filter.max_json = 10;
	refuse_lim(s, strlen(s), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_CLOSED,
		   "invalid: filter is too large (max 10 bytes)", "s");
	lim.filter.max_json = 17;
	parse_lim(s, strlen(s), &lim);
}

/* ---- CLOSE: NOTICE only --------------------------------------------------- */

Test(message, close_refusals)
{
	notice("[\"CLOSE\"]", "invalid: CLOSE takes exactly one subscription id");
	notice("[\"CLOSE\",\"a\",\"b\"]", "invalid: CLOSE takes exactly one subscription id");
	notice("[\"CLOSE\",\"a\",{}]", "invalid: CLOSE takes exactly one subscription id");
	notice("[\"CLOSE\",1]", "invalid: subscription id must be a string");
	notice("[\"CLOSE\",\"\"]", "invalid: subscription id must be 1-64 characters");
	notice("[\"CLOSE\",\"a\"] ]", "invalid: trailing garbage at offset 14");
}

/* ---- NEG-ERR: NIP-77 with a known subscription id ------------------------ */

Test(message, neg_refusals)
{
	tern__msg m;

	notice("[\"NEG-OPEN\"]",
	       "invalid: NEG-OPEN takes a subscription id, a filter and an initial message");
	notice("[\"NEG-OPEN\",5,{},\"61\"]", "invalid: subscription id must be a string");
	neg_err("[\"NEG-OPEN\",\"n\"]", "n",
		"invalid: NEG-OPEN takes a subscription id, a filter and an initial message");
	neg_err("[\"NEG-OPEN\",\"n\",{}]", "n",
		"invalid: NEG-OPEN takes a subscription id, a filter and an initial message");
	neg_err("[\"NEG-OPEN\",\"n\",{},\"61\",1]", "n",
		"invalid: NEG-OPEN takes a subscription id, a filter and an initial message");
	neg_err("[\"NEG-OPEN\",\"n\",\"61\",{}]", "n", "invalid: filter must be a JSON object");
	neg_err("[\"NEG-OPEN\",\"n\",{\"kinds\":1},\"61\"]", "n",
		"invalid: \"kinds\" must be an array of integers 0-65535");
	neg_err("[\"NEG-OPEN\",\"n\",{},61]", "n",
		"invalid: NEG-OPEN initial message must be a string");
	neg_err("[\"NEG-OPEN\",\"n\",{},\"\"]", "n",
		"invalid: NEG-OPEN initial message must be a non-empty hex string of even length");
	neg_err("[\"NEG-OPEN\",\"n\",{},\"610\"]", "n",
		"invalid: NEG-OPEN initial message must be a non-empty hex string of even length");
	neg_err("[\"NEG-OPEN\",\"n\",{},\"6g\"]", "n",
		"invalid: NEG-OPEN initial message must be a non-empty hex string of even length");
	m = refuse("[\"NEG-OPEN\",\"\",{},\"61\"]", TERN__MSG_REPLY_NEG_ERR,
		   "invalid: subscription id must be 1-64 characters", "");
	cr_assert_eq(m.type, TERN__MSG_NEG_OPEN);

	notice("[\"NEG-MSG\"]", "invalid: NEG-MSG takes a subscription id and a message");
	neg_err("[\"NEG-MSG\",\"n\"]", "n", "invalid: NEG-MSG takes a subscription id and a message");
	neg_err("[\"NEG-MSG\",\"n\",\"61\",\"62\"]", "n",
		"invalid: NEG-MSG takes a subscription id and a message");
	neg_err("[\"NEG-MSG\",\"n\",[\"61\"]]", "n", "invalid: NEG-MSG message must be a string");
	neg_err("[\"NEG-MSG\",\"n\",\" 61\"]", "n",
		"invalid: NEG-MSG message must be a non-empty hex string of even length");
	neg_err("[\"NEG-MSG\",\"n\",\"61\"", "n",
		"invalid: unexpected end of input at offset 19 (expected ',' or ']')");

	notice("[\"NEG-CLOSE\"]", "invalid: NEG-CLOSE takes exactly one subscription id");
	notice("[\"NEG-CLOSE\",{}]", "invalid: subscription id must be a string");
	neg_err("[\"NEG-CLOSE\",\"n\",1]", "n", "invalid: NEG-CLOSE takes exactly one subscription id");
	neg_err("[\"NEG-CLOSE\",\"n\"]x", "n", "invalid: trailing garbage at offset 17");
}

/* ---- limits and memory --------------------------------------------------- */

Test(message, max_bytes)
{
	tern__msg_limits lim;
	const char *s = "[\"CLOSE\",\"a\"]";

	tern__msg_limits_defaults(&lim);
	lim.max_bytes = strlen(s);
	parse_lim(s, strlen(s), &lim);
	lim.max_bytes--;
	refuse_lim(s, strlen(s), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_NOTICE,
		   "invalid: message is too large (max 12 bytes)", NULL);
}

Test(message, max_depth)
{
	tern__msg_limits lim;
	const char *s = "[\"EVENT\",{\"id\":\"" H64 "\",\"x\":[[1]]}]";
	const char *t = "[\"EVENT\",{\"x\":[[1]]}]";

	tern__msg_limits_defaults(&lim);
	lim.max_depth = 4;
	parse_lim(s, strlen(s), &lim);
	lim.max_depth = 3;
	refuse_lim(s, strlen(s), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_OK,
		   "invalid: nesting deeper than 3 levels at offset 87", H64);
	refuse_lim(t, strlen(t), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_NOTICE,
		   "invalid: nesting deeper than 3 levels at offset 15", NULL);
}

Test(message, filter_depth_counts_from_the_filter)
{
	tern__msg_limits lim;
	const char *s = "[\"REQ\",\"s\",{\"kinds\":[1]}]";

	tern__msg_limits_defaults(&lim);
	/* Filter object + "kinds" list = 2 levels of the filter's own. */
	lim.filter.max_depth = 2;
	parse_lim(s, strlen(s), &lim);
	lim.filter.max_depth = 1;
	refuse_lim(s, strlen(s), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_CLOSED,
		   "invalid: nesting deeper than 2 levels at offset 20", "s");
	/* The message's own limit still applies inside a filter. */
	lim.filter.max_depth = 8;
	lim.max_depth = 2;
	refuse_lim(s, strlen(s), &lim, TERN_ETOOBIG, TERN__MSG_REPLY_CLOSED,
		   "invalid: nesting deeper than 2 levels at offset 20", "s");
}

Test(message, out_of_memory)
{
	tern_arena small;
	tern__msg m;
	tern_reason why = { 0 };
	const char *s = "[\"REQ\",\"s\",{\"kinds\":[1]}]";
	int rc;

	tern_arena_init(&small, 16);
	rc = tern__msg_parse(&m, (const uint8_t *)s, strlen(s), NULL, &small, &why);
	cr_assert_eq(rc, TERN_ENOMEM);
	cr_assert_eq(m.reply, TERN__MSG_REPLY_CLOSED);
	cr_assert_eq(why.prefix, TERN_PREFIX_ERROR);
	cr_assert(slice_is(m.sub, "s"));
	tern_arena_free(&small);
}

Test(message, why_may_be_null)
{
	tern__msg m;
	const char *s = "[\"REQ\",\"s\",{\"x\":1}]";

	cr_assert_eq(tern__msg_parse(&m, (const uint8_t *)s, strlen(s), NULL, &arena, NULL),
		     TERN_EPARSE);
	cr_assert_eq(m.reply, TERN__MSG_REPLY_CLOSED);
	cr_assert_eq(tern__msg_parse(&m, (const uint8_t *)"[]", 2, NULL, &arena, NULL),
		     TERN_EPARSE);
	cr_assert_eq(m.reply, TERN__MSG_REPLY_NOTICE);
}

Test(message, never_reads_past_len)
{
	/* The buffer holds a complete message; len cuts it. */
	const char *s = "[\"CLOSE\",\"abc\"]";
	size_t n;

	for (n = 0; n < strlen(s); n++) {
		char *copy = malloc(n ? n : 1);
		tern__msg m;
		tern_reason why = { 0 };

		memcpy(copy, s, n);
		cr_assert_neq(tern__msg_parse(&m, (const uint8_t *)copy, n, NULL,
					      &arena, &why), 0, "prefix of %zu bytes", n);
		cr_assert_eq(m.reply, TERN__MSG_REPLY_NOTICE);
		free(copy);
	}
}

Test(message, raw_nul_outside_strings)
{
	const char s[] = "[\"CLOSE\",\"a\"]\0";

	refuse_lim(s, sizeof s - 1, NULL, TERN_EPARSE, TERN__MSG_REPLY_NOTICE,
		   "invalid: trailing garbage at offset 13", NULL);
	refuse_lim("[\"CLOSE\"\0,\"a\"]", 14, NULL, TERN_EPARSE, TERN__MSG_REPLY_NOTICE,
		   "invalid: expected ',' or ']' at offset 8", NULL);
}

Test(message, type_names)
{
	cr_assert_str_eq(tern__msg_type_name(TERN__MSG_EVENT), "EVENT");
	cr_assert_str_eq(tern__msg_type_name(TERN__MSG_NEG_CLOSE), "NEG-CLOSE");
	cr_assert_str_eq(tern__msg_type_name(TERN__MSG_UNKNOWN), "");
	cr_assert_str_eq(tern__msg_type_name((tern__msg_type)99), "");
}
