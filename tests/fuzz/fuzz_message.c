/*
 * libFuzzer target for client messages (src/proto/message.c).
 *
 * Each input is parsed with the default limits and with tight ones. Checks:
 *  - if jansson refuses the text as JSON, the message is refused too
 *    (jansson's refusals of valid JSON, numbers beyond its range and
 *    "\u0000" in object keys, are left out);
 *  - where jansson accepts (and the text holds no raw NUL byte, which
 *    jansson sometimes lets through), the head of the message is judged the same way
 *    (not an array / empty / verb not a string / unknown verb), and simple
 *    well-formed CLOSE, NEG-CLOSE and NEG-MSG messages are accepted;
 *  - an accepted message is consistent: known type, slices inside the
 *    input, 1..max_filters filters that format and parse back equal, a
 *    subscription id of 1-64 characters, a non-empty negentropy message,
 *    an event slice that is exactly one JSON object;
 *  - a refusal has a reply kind that fits the verb, a sub id for CLOSED and
 *    NEG-ERR, a 64-hex id for OK, and a non-empty printable reason.
 * Any violation aborts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>

#include "proto/json.h"
#include "proto/message.h"

static tern_arena arena;

static void die(const char *what, const uint8_t *data, size_t size,
		const tern_reason *why)
{
	fprintf(stderr, "fuzz_message: %s\nreason: %s\ninput (%zu bytes): %.*s\n",
		what, why ? why->msg : "", size, (int)(size > 2000 ? 2000 : size),
		(const char *)data);
	abort();
}

static bool inside(tern_slice s, const uint8_t *data, size_t size)
{
	return s.p >= data && s.n <= size && s.p - data <= (ptrdiff_t)(size - s.n);
}

/* Reads every byte of s, so that ASan sees a slice that points nowhere. */
static unsigned touch(tern_slice s)
{
	unsigned x = 0;
	size_t i;

	for (i = 0; i < s.n; i++)
		x += s.p[i];
	return x;
}

static size_t utf8_chars(tern_slice s)
{
	size_t i, n = 0;

	for (i = 0; i < s.n; i++)
		n += (s.p[i] & 0xc0) != 0x80;
	return n;
}

static bool valid_utf8(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 :
			   (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		size_t i;

		if (!n)
			return false;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static void check_sub(const tern__msg *m, const uint8_t *data, size_t size,
		      const tern_reason *why)
{
	size_t n = utf8_chars(m->sub);

	touch(m->sub);
	if (n < 1 || n > TERN__MSG_SUB_MAX)
		die("accepted a bad subscription id", data, size, why);
}

static void check_filter(const tern_filter *f, const uint8_t *data, size_t size)
{
	size_t n = tern_filter_format(f, NULL, 0);
	char *buf = malloc(n + 1);
	tern_filter g;
	tern_reason why = { 0 };

	if (!buf)
		abort();
	tern_filter_format(f, buf, n + 1);
	if (tern_filter_parse(&g, (const uint8_t *)buf, n, NULL, &arena, &why) ||
	    !tern_filter_equal(f, &g)) {
		fprintf(stderr, "formatted: %s\n", buf);
		die("filter does not survive format + parse", data, size, &why);
	}
	free(buf);
}

static void check_accepted(const tern__msg *m, const tern__msg_limits *lim,
			   const uint8_t *data, size_t size, const tern_reason *why)
{
	tern__json j;
	tern_event ev;
	tern_reason evwhy;
	uint32_t i;

	if (m->reply != TERN__MSG_REPLY_NONE)
		die("accepted with a reply", data, size, why);
	switch (m->type) {
	case TERN__MSG_EVENT:
	case TERN__MSG_AUTH:
		if (!inside(m->event, data, size) || m->event.n < 2 ||
		    m->event.p[0] != '{' || m->event.p[m->event.n - 1] != '}')
			die("event slice is not an object inside the input",
			    data, size, why);
		tern__json_init(&j, m->event.p, m->event.n, lim->max_depth, NULL);
		if (tern__json_skip(&j) || tern__json_finish(&j))
			die("event slice is not one JSON value", data, size, why);
		/* The relay's next step must cope with whatever got here. */
		tern_event_parse(&ev, m->event.p, m->event.n, NULL, &arena, &evwhy);
		break;
	case TERN__MSG_REQ:
	case TERN__MSG_COUNT:
		check_sub(m, data, size, why);
		if (m->nfilters < 1 || m->nfilters > lim->max_filters)
			die("filter count out of range", data, size, why);
		for (i = 0; i < m->nfilters; i++)
			check_filter(&m->filters[i], data, size);
		break;
	case TERN__MSG_CLOSE:
	case TERN__MSG_NEG_CLOSE:
		check_sub(m, data, size, why);
		if (m->nfilters)
			die("CLOSE with filters", data, size, why);
		break;
	case TERN__MSG_NEG_OPEN:
	case TERN__MSG_NEG_MSG:
		check_sub(m, data, size, why);
		if (m->nfilters != (m->type == TERN__MSG_NEG_OPEN ? 1u : 0u))
			die("NEG message with a wrong filter count", data, size, why);
		if (m->nfilters)
			check_filter(&m->filters[0], data, size);
		if (m->neg.n < 1)
			die("empty negentropy message accepted", data, size, why);
		touch(m->neg);
		break;
	default:
		die("accepted an unknown type", data, size, why);
	}
}

static void check_refused(const tern__msg *m, const uint8_t *data, size_t size,
			  const tern_reason *why)
{
	const char *p;
	size_t i;

	if (!why->msg[0])
		die("refusal without a reason", data, size, why);
	if (why->prefix != TERN_PREFIX_INVALID &&
	    why->prefix != TERN_PREFIX_UNSUPPORTED &&
	    why->prefix != TERN_PREFIX_ERROR)
		die("refusal with an unexpected prefix", data, size, why);
	for (p = why->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			die("control byte in a reason", data, size, why);
	if (!valid_utf8(why->msg))
		die("reason is not valid UTF-8", data, size, why);
	switch (m->reply) {
	case TERN__MSG_REPLY_NOTICE:
		break;
	case TERN__MSG_REPLY_CLOSED:
		if (m->type != TERN__MSG_REQ && m->type != TERN__MSG_COUNT)
			die("CLOSED for a message that is not REQ/COUNT", data, size, why);
		touch(m->sub);
		break;
	case TERN__MSG_REPLY_NEG_ERR:
		if (m->type != TERN__MSG_NEG_OPEN && m->type != TERN__MSG_NEG_MSG &&
		    m->type != TERN__MSG_NEG_CLOSE)
			die("NEG-ERR for a message that is not NEG-*", data, size, why);
		touch(m->sub);
		break;
	case TERN__MSG_REPLY_OK:
		if (m->type != TERN__MSG_EVENT && m->type != TERN__MSG_AUTH)
			die("OK for a message that is not EVENT/AUTH", data, size, why);
		if (m->id.n != 64)
			die("OK without a 64-character id", data, size, why);
		for (i = 0; i < 64; i++)
			if (!((m->id.p[i] >= '0' && m->id.p[i] <= '9') ||
			      (m->id.p[i] >= 'a' && m->id.p[i] <= 'f')))
				die("OK id is not lowercase hex", data, size, why);
		break;
	default:
		die("refused without a reply kind", data, size, why);
	}
}

static bool is_verb(const char *s)
{
	static const char *const verbs[] = { "EVENT", "REQ", "COUNT", "CLOSE",
					     "AUTH", "NEG-OPEN", "NEG-MSG",
					     "NEG-CLOSE" };
	size_t i;

	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (!strcmp(s, verbs[i]))
			return true;
	return false;
}

static bool reason_is(const tern_reason *why, const char *msg)
{
	return !strncmp(why->msg, msg, strlen(msg));
}

static size_t depth_of(json_t *v)
{
	size_t d = 0, i;
	const char *k;
	json_t *e;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			size_t x = depth_of(e);
			d = x > d ? x : d;
		}
		return d + 1;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			size_t x = depth_of(e);
			d = x > d ? x : d;
		}
		return d + 1;
	}
	return 0;
}

static bool is_hex_msg(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i;

	if (!s || n == 0 || n % 2)
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
			return false;
	return true;
}

static bool good_sub(json_t *v)
{
	size_t n;

	if (!json_is_string(v))
		return false;
	n = utf8_chars((tern_slice){ (const uint8_t *)json_string_value(v),
				     json_string_length(v) });
	return n >= 1 && n <= TERN__MSG_SUB_MAX;
}

/* Compares the parse against jansson's reading of the same text. */
static void differential(const tern__msg *m, int rc, const tern__msg_limits *lim,
			 const uint8_t *data, size_t size, const tern_reason *why)
{
	json_error_t jerr;
	json_t *v = json_loadb((const char *)data, size,
			       JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	json_t *head;
	const char *verb;
	size_t n;

	if (!v) {
		if (rc == 0 && json_error_code(&jerr) != json_error_numeric_overflow &&
		    json_error_code(&jerr) != json_error_null_byte_in_key) {
			fprintf(stderr, "jansson: %s\n", jerr.text);
			die("accepted text that is not JSON", data, size, why);
		}
		return;
	}
	/* jansson lets a raw NUL byte through after some tokens ("false\0"):
	 * such text is not JSON, so only refusals are compared for it. */
	if (size > lim->max_bytes || depth_of(v) > lim->max_depth ||
	    memchr(data, 0, size))
		goto out;
	if (!json_is_array(v)) {
		if (!reason_is(why, "message is not a JSON array"))
			die("non-array not refused as such", data, size, why);
		goto out;
	}
	n = json_array_size(v);
	if (n == 0) {
		if (!reason_is(why, "message is an empty array"))
			die("empty array not refused as such", data, size, why);
		goto out;
	}
	head = json_array_get(v, 0);
	if (!json_is_string(head)) {
		if (!reason_is(why, "message type must be a string"))
			die("non-string verb not refused as such", data, size, why);
		goto out;
	}
	verb = json_string_value(head);
	if (strlen(verb) != json_string_length(head) || !is_verb(verb)) {
		if (!reason_is(why, "unknown message type"))
			die("unknown verb not refused as such", data, size, why);
		goto out;
	}
	if ((!strcmp(verb, "CLOSE") || !strcmp(verb, "NEG-CLOSE")) && n == 2 &&
	    good_sub(json_array_get(v, 1)) && rc != 0)
		die("well-formed CLOSE refused", data, size, why);
	if (!strcmp(verb, "NEG-MSG") && n == 3 && good_sub(json_array_get(v, 1)) &&
	    is_hex_msg(json_array_get(v, 2)) && rc != 0)
		die("well-formed NEG-MSG refused", data, size, why);
	if ((!strcmp(verb, "EVENT") || !strcmp(verb, "AUTH")) && n == 2 &&
	    json_is_object(json_array_get(v, 1)) && rc != 0)
		die("well-formed EVENT refused", data, size, why);
out:
	json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern__msg_limits lims[2];
	int k;

	tern__msg_limits_defaults(&lims[0]);
	tern__msg_limits_defaults(&lims[1]);
	lims[1].max_bytes = 4096;
	lims[1].max_depth = 5;
	lims[1].max_filters = 2;
	lims[1].filter.max_values = 3;
	lims[1].filter.max_tags = 2;
	lims[1].filter.max_json = 256;
	lims[1].filter.max_depth = 3;

	for (k = 0; k < 2; k++) {
		tern__msg m;
		tern_reason why = { 0 };
		int rc;

		tern_arena_reset(&arena);
		rc = tern__msg_parse(&m, data, size, &lims[k], &arena, &why);
		if (rc == 0)
			check_accepted(&m, &lims[k], data, size, &why);
		else
			check_refused(&m, data, size, &why);
		differential(&m, rc, &lims[k], data, size, &why);
	}
	return 0;
}
