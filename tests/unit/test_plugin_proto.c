/* Unit tests for the write-policy plugin protocol (src/plugin/proto.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>

#include "plugin/proto.h"

#define ID64 "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36"
#define PK64 "f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca"
#define SIG128                                                                 \
	"a0a7d7b1c5b6a3a9f1b0f3c4e6a8d2b4c6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6"  \
	"b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0"

static const char *EVENT_JSON =
	"{\"id\":\"" ID64 "\",\"pubkey\":\"" PK64 "\",\"created_at\":1700000000,"
	"\"kind\":1,\"tags\":[[\"t\",\"x\"]],\"content\":\"line\\none \\\"q\\\"\","
	"\"sig\":\"" SIG128 "\"}";

/* ---- requests -------------------------------------------------------------- */

Test(plugin_proto, request_is_one_json_line_with_strfry_fields)
{
	tern_arena a;
	tern_event ev;
	char *line;
	size_t len;
	json_error_t jerr;
	json_t *req, *evj;

	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)EVENT_JSON,
				      strlen(EVENT_JSON), NULL, &a, NULL), 0);
	cr_assert_eq(tern__plugin_request(&ev, 1700000123, "IP6", "::1",
					  PK64, &line, &len), 0);
	cr_assert_gt(len, 1);
	cr_assert_eq(line[len - 1], '\n');
	cr_assert_null(memchr(line, '\n', len - 1), "exactly one line");
	req = json_loadb(line, len, 0, &jerr);
	cr_assert_not_null(req, "not JSON: %s", jerr.text);
	cr_assert_str_eq(json_string_value(json_object_get(req, "type")), "new");
	cr_assert_eq(json_integer_value(json_object_get(req, "receivedAt")),
		     1700000123);
	cr_assert_str_eq(json_string_value(json_object_get(req, "sourceType")),
			 "IP6");
	cr_assert_str_eq(json_string_value(json_object_get(req, "sourceInfo")),
			 "::1");
	cr_assert_str_eq(json_string_value(json_object_get(req, "authed")),
			 PK64);
	evj = json_object_get(req, "event");
	cr_assert(json_is_object(evj));
	cr_assert_str_eq(json_string_value(json_object_get(evj, "id")), ID64);
	cr_assert_str_eq(json_string_value(json_object_get(evj, "content")),
			 "line\none \"q\"");
	cr_assert_eq(json_integer_value(json_object_get(evj, "kind")), 1);
	/* the event is spliced as its canonical JSON */
	cr_assert_not_null(memmem(line, len, ev.json.p, ev.json.n));
	json_decref(req);
	free(line);
	tern_arena_free(&a);
}

Test(plugin_proto, request_escapes_source_strings)
{
	tern_arena a;
	tern_event ev;
	char *line;
	size_t len;
	json_t *req;

	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)EVENT_JSON,
				      strlen(EVENT_JSON), NULL, &a, NULL), 0);
	cr_assert_eq(tern__plugin_request(&ev, 0, "Stream",
					  "wss://x/\"a\"\n", "", &line, &len),
		     0);
	cr_assert_null(memchr(line, '\n', len - 1));
	req = json_loadb(line, len, 0, NULL);
	cr_assert_not_null(req);
	cr_assert_str_eq(json_string_value(json_object_get(req, "sourceInfo")),
			 "wss://x/\"a\"\n");
	cr_assert_str_eq(json_string_value(json_object_get(req, "authed")), "");
	json_decref(req);
	free(line);
	tern_arena_free(&a);
}

/* ---- replies ----------------------------------------------------------------- */

static int parse(const char *s, tern__plugin_reply *r, tern_reason *err)
{
	return tern__plugin_reply_parse((const uint8_t *)s, strlen(s), r, err);
}

Test(plugin_proto, reply_accept)
{
	tern__plugin_reply r;

	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"accept\"}", &r,
			   NULL), 0);
	cr_assert_eq(r.action, TERN__PLUGIN_ACCEPT);
	cr_assert_eq(r.id[0], 0x5c);
	cr_assert_eq(r.id[31], 0x36);
	cr_assert_eq(r.why.msg[0], 0);
}

Test(plugin_proto, reply_fields_in_any_order_unknown_keys_ignored)
{
	tern__plugin_reply r;

	cr_assert_eq(parse(" {\"extra\":{\"a\":[1,2,{\"b\":null}]},"
			   "\"msg\":\"nope\",\"action\":\"reject\","
			   "\"id\":\"" ID64 "\",\"n\":1.5} ", &r, NULL), 0);
	cr_assert_eq(r.action, TERN__PLUGIN_REJECT);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_str_eq(r.why.msg, "nope");
}

Test(plugin_proto, reply_shadow_reject)
{
	tern__plugin_reply r;

	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"shadowReject\","
			   "\"msg\":\"x\"}", &r, NULL), 0);
	cr_assert_eq(r.action, TERN__PLUGIN_SHADOW_REJECT);
	cr_assert_eq(r.why.msg[0], 0, "msg is only for reject");
}

Test(plugin_proto, reject_msg_keeps_a_nip01_prefix)
{
	tern__plugin_reply r;

	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"rate-limited: slow down\"}", &r, NULL), 0);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_RATE_LIMITED);
	cr_assert_str_eq(r.why.msg, "slow down");
	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"auth-required:please\"}", &r, NULL), 0);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_AUTH_REQUIRED);
	cr_assert_str_eq(r.why.msg, "please");
	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"blocked: not on white-list\"}", &r,
			   NULL), 0);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_str_eq(r.why.msg, "not on white-list");
}

Test(plugin_proto, reject_msg_without_prefix_is_blocked)
{
	tern__plugin_reply r;
	char wire[300];

	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"spam: go away\"}", &r, NULL), 0);
	tern_reason_format(&r.why, wire, sizeof wire);
	cr_assert_str_eq(wire, "blocked: spam: go away");
	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\"}", &r,
			   NULL), 0);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_neq(r.why.msg[0], 0, "an empty msg gets a default text");
	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"\"}", &r, NULL), 0);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_neq(r.why.msg[0], 0);
	/* a prefix word alone, without ':', is not a prefix */
	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"pow\"}", &r, NULL), 0);
	cr_assert_eq(r.why.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_str_eq(r.why.msg, "pow");
}

Test(plugin_proto, reject_msg_escapes_decoded_and_truncated_on_utf8)
{
	tern__plugin_reply r;
	char buf[1200];
	size_t n;

	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"a\\u00e9\\\"b\"}", &r, NULL), 0);
	cr_assert_str_eq(r.why.msg, "a\xc3\xa9\"b");
	/* 300 two-byte characters: the cut must not split one */
	n = (size_t)snprintf(buf, sizeof buf,
			     "{\"id\":\"%s\",\"action\":\"reject\",\"msg\":\"",
			     ID64);
	for (int i = 0; i < 300; i++) {
		buf[n++] = (char)0xc3;
		buf[n++] = (char)0xa9;
	}
	memcpy(buf + n, "\"}", 3);
	cr_assert_eq(parse(buf, &r, NULL), 0);
	n = strlen(r.why.msg);
	cr_assert_lt(n, TERN_REASON_MAX);
	cr_assert_eq(n % 2, 0, "cut inside a character (%zu bytes)", n);
	cr_assert_gt(n, TERN_REASON_MAX - 4);
	/* NUL in msg ends the text */
	cr_assert_eq(parse("{\"id\":\"" ID64 "\",\"action\":\"reject\","
			   "\"msg\":\"ab\\u0000cd\"}", &r, NULL), 0);
	cr_assert_str_eq(r.why.msg, "ab");
}

Test(plugin_proto, bad_replies_are_refused_with_a_reason)
{
	static const char *bad[] = {
		"",
		"not json",
		"[1,2]",
		"\"id\"",
		"{}",
		"{\"action\":\"accept\"}",
		"{\"id\":\"" ID64 "\"}",
		"{\"id\":\"" ID64 "\",\"action\":\"maybe\"}",
		"{\"id\":\"" ID64 "\",\"action\":\"Accept\"}",
		"{\"id\":\"" ID64 "\",\"action\":1}",
		"{\"id\":\"abc\",\"action\":\"accept\"}",
		"{\"id\":\"" PK64 "00\",\"action\":\"accept\"}",
		"{\"id\":\"5C83DA77AF1DEC6D7289834998AD7AAFBD9E2191396D75EC3CC27F5A77226F36\",\"action\":\"accept\"}",
		"{\"id\":\"" ID64 "\",\"action\":\"reject\",\"msg\":5}",
		"{\"id\":\"" ID64 "\",\"action\":\"accept\"} x",
		"{\"id\":\"" ID64 "\",\"action\":\"accept\"",
		"{\"id\":\"" ID64 "\",\"action\":\"accept\",}",
	};

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		tern__plugin_reply r;
		tern_reason err = { 0 };

		cr_assert_eq(parse(bad[i], &r, &err), TERN_EPARSE,
			     "accepted: %s", bad[i]);
		cr_assert_neq(err.msg[0], 0, "no reason for: %s", bad[i]);
	}
}

/* ---- line framing -------------------------------------------------------------- */

typedef struct seen {
	char lines[16][64];
	size_t lens[16];
	int n, dropped;
	size_t dropped_len;
} seen;

static void on_line(void *ctx, const uint8_t *line, size_t len)
{
	seen *s = ctx;

	if (!line) {
		s->dropped++;
		s->dropped_len = len;
		return;
	}
	cr_assert_lt(s->n, 16);
	cr_assert_lt(len, 64);
	memcpy(s->lines[s->n], line, len);
	s->lines[s->n][len] = 0;
	s->lens[s->n++] = len;
}

static void feed(tern__plugin_lines *l, seen *s, const char *p)
{
	cr_assert_eq(tern__plugin_lines_feed(l, (const uint8_t *)p, strlen(p),
					     on_line, s), 0);
}

Test(plugin_proto, lines_split_across_reads)
{
	tern__plugin_lines l;
	seen s = { 0 };

	tern__plugin_lines_init(&l, 32);
	feed(&l, &s, "ab");
	cr_assert_eq(s.n, 0);
	feed(&l, &s, "c\nde");
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.lines[0], "abc");
	feed(&l, &s, "f\r\n\n\ng\nh");
	cr_assert_eq(s.n, 5);
	cr_assert_str_eq(s.lines[1], "def", "CR before LF is removed");
	cr_assert_eq(s.lens[2], 0);
	cr_assert_eq(s.lens[3], 0);
	cr_assert_str_eq(s.lines[4], "g");
	tern__plugin_lines_flush(&l, on_line, &s);
	cr_assert_eq(s.n, 6);
	cr_assert_str_eq(s.lines[5], "h");
	tern__plugin_lines_flush(&l, on_line, &s);
	cr_assert_eq(s.n, 6, "flush of an empty buffer passes nothing");
	tern__plugin_lines_free(&l);
}

Test(plugin_proto, overlong_lines_are_dropped_whole)
{
	tern__plugin_lines l;
	seen s = { 0 };
	char big[100];

	tern__plugin_lines_init(&l, 8);
	feed(&l, &s, "12345678\n");
	cr_assert_eq(s.n, 1, "a line of exactly max bytes passes");
	feed(&l, &s, "1234");
	feed(&l, &s, "56789");
	cr_assert_eq(s.dropped, 0, "not reported before its end");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	feed(&l, &s, big);
	feed(&l, &s, "\nok\n");
	cr_assert_eq(s.dropped, 1);
	cr_assert_eq(s.dropped_len, 4 + 5 + 99);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.lines[1], "ok", "the next line is intact");
	tern__plugin_lines_free(&l);
}
