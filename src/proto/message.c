/*
 * Client-to-relay messages (src/proto/message.h).
 *
 * One pass with the shared scanner: the verb picks a handle_<verb>()
 * function that reads the elements it expects and then requires the
 * closing ']' and the end of input. Every refusal goes through refuse() or
 * scan_failed(), which record the reply the relay must send: the point of
 * this parser is as much to say precisely what went wrong, and to whom (the
 * connection, a subscription or an event id), as to accept good input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tern/error.h>

#include "nostr/filter_internal.h"
#include "proto/json.h"
#include "proto/message.h"

typedef struct mparse {
	tern__json j;
	tern__msg *m;
	const tern__msg_limits *lim;
	tern_arena *a;
	tern_reason *why;
	const char *verb;     /* wire name of m->type, for reasons */
	tern__msg_reply reply; /* answer to a refusal at this point */
} mparse;

void tern__msg_limits_defaults(tern__msg_limits *l)
{
	l->max_bytes = 524288;
	l->max_depth = 20;
	l->max_filters = 20;
	tern_filter_limits_defaults(&l->filter);
}

static const char *const type_names[] = {
	[TERN__MSG_UNKNOWN] = "",
	[TERN__MSG_EVENT] = "EVENT",
	[TERN__MSG_REQ] = "REQ",
	[TERN__MSG_COUNT] = "COUNT",
	[TERN__MSG_CLOSE] = "CLOSE",
	[TERN__MSG_AUTH] = "AUTH",
	[TERN__MSG_NEG_OPEN] = "NEG-OPEN",
	[TERN__MSG_NEG_MSG] = "NEG-MSG",
	[TERN__MSG_NEG_CLOSE] = "NEG-CLOSE",
};

const char *tern__msg_type_name(tern__msg_type t)
{
	if ((unsigned)t >= sizeof type_names / sizeof type_names[0])
		return "";
	return type_names[t];
}

/* ---- refusals ------------------------------------------------------------ */

/*
 * Refuses with our own reason (the scanner itself was fine). The scanner's
 * error is latched so that nothing later can overwrite the reason.
 */
static int refuse(mparse *mp, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(mparse *mp, int err, const char *fmt, ...)
{
	va_list ap;

	if (mp->why) {
		mp->why->prefix = TERN_PREFIX_INVALID;
		va_start(ap, fmt);
		vsnprintf(mp->why->msg, sizeof mp->why->msg, fmt, ap);
		va_end(ap);
	}
	mp->j.err = err;
	mp->m->reply = mp->reply;
	return err;
}

/* Refuses after the scanner (or the filter parser) wrote the reason. */
static int scan_failed(mparse *mp, int rc)
{
	mp->m->reply = mp->reply;
	return rc ? rc : TERN_EPARSE;
}

/* True if c can start a JSON value: then a type error is the client's
 * mistake about the protocol, not a syntax error. */
static bool value_start(int c)
{
	return c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' ||
	       c == 'n' || c == '-' || (c >= '0' && c <= '9');
}

/*
 * Copies a client-chosen string into a reason: control bytes, quotes and
 * backslashes become '?', and a long one is cut at a UTF-8 boundary (the
 * scanner validated the UTF-8) so the reason stays valid text.
 */
static void printable(char *out, size_t cap, tern_slice s)
{
	size_t n = 0, i;

	for (i = 0; i < s.n && n + 4 < cap; i++) {
		uint8_t c = s.p[i];

		if (n >= 32 && (c & 0xc0) != 0x80) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		out[n++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	out[n] = '\0';
}

/* ---- elements ------------------------------------------------------------ */

/*
 * Moves to the next element of the message array. Returns 1 when one
 * follows, 0 at the closing ']', or a negative error (already refused).
 */
static int next_elem(mparse *mp)
{
	int rc = tern__json_arr_next(&mp->j);

	if (rc < 0)
		return scan_failed(mp, rc);
	return rc;
}

/* Requires the closing ']' (else an arity error) and the end of input. */
static int finish(mparse *mp, const char *arity_msg)
{
	int rc = next_elem(mp);

	if (rc < 0)
		return rc;
	if (rc == 1)
		return refuse(mp, TERN_EPARSE, "%s", arity_msg);
	rc = tern__json_finish(&mp->j);
	if (rc)
		return scan_failed(mp, rc);
	return 0;
}

/* Number of code points in s (valid UTF-8). */
static size_t utf8_len(tern_slice s)
{
	size_t i, n = 0;

	for (i = 0; i < s.n; i++)
		n += (s.p[i] & 0xc0) != 0x80;
	return n;
}

/*
 * Reads the subscription id element (the cursor is on it). Refusals before
 * the string is read use the current reply; once it is read, *then_reply
 * becomes the reply for everything after (a known id can be answered), the
 * length check included.
 */
static int read_sub(mparse *mp, tern__msg_reply then_reply)
{
	size_t n;
	int rc;

	if (tern__json_peek(&mp->j) != '"' && value_start(tern__json_peek(&mp->j)))
		return refuse(mp, TERN_EPARSE, "subscription id must be a string");
	rc = tern__json_string(&mp->j, mp->a, &mp->m->sub, NULL);
	if (rc)
		return scan_failed(mp, rc);
	mp->reply = then_reply;
	n = utf8_len(mp->m->sub);
	if (n == 0 || n > TERN__MSG_SUB_MAX)
		return refuse(mp, TERN_EPARSE,
			      "subscription id must be 1-%d characters",
			      TERN__MSG_SUB_MAX);
	return 0;
}

static int parse_filter(mparse *mp, tern_filter *f)
{
	int rc = tern__filter_parse_json(&mp->j, f, &mp->lim->filter, mp->a,
					 mp->why);

	if (rc)
		return scan_failed(mp, rc);
	return 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Reads a NIP-77 message: a non-empty string of hex digit pairs (NIP-77 does
 * not fix the case of the digits, so both are accepted), decoded into the
 * arena. what names it in reasons ("initial message", "message").
 */
static int read_neg_hex(mparse *mp, const char *what)
{
	tern_slice s;
	uint8_t *out;
	size_t i;
	int rc;

	if (tern__json_peek(&mp->j) != '"' && value_start(tern__json_peek(&mp->j)))
		return refuse(mp, TERN_EPARSE, "%s %s must be a string",
			      mp->verb, what);
	rc = tern__json_string(&mp->j, mp->a, &s, NULL);
	if (rc)
		return scan_failed(mp, rc);
	if (s.n == 0 || s.n % 2)
		goto bad;
	out = tern_arena_alloc(mp->a, s.n / 2);
	if (!out) {
		tern_reason_set(mp->why, TERN_PREFIX_ERROR,
				"message needs too much memory");
		mp->j.err = TERN_ENOMEM;
		return scan_failed(mp, TERN_ENOMEM);
	}
	for (i = 0; i < s.n; i += 2) {
		int hi = hexval(s.p[i]), lo = hexval(s.p[i + 1]);

		if ((hi | lo) < 0)
			goto bad;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	mp->m->neg.p = out;
	mp->m->neg.n = s.n / 2;
	return 0;
bad:
	return refuse(mp, TERN_EPARSE,
		      "%s %s must be a non-empty hex string of even length",
		      mp->verb, what);
}

/* ---- event ids ----------------------------------------------------------- */

static bool is_lower_hex64(tern_slice s)
{
	size_t i;

	if (s.n != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') ||
		      (s.p[i] >= 'a' && s.p[i] <= 'f')))
			return false;
	return true;
}

bool tern__msg_event_id(const uint8_t *buf, size_t len, uint32_t max_depth,
			tern_arena *a, tern_slice *id)
{
	tern__json j;
	tern_slice k, v;

	/* A separate scanner with no reason: its errors only end the walk. */
	tern__json_init(&j, buf, len, max_depth, NULL);
	if (tern__json_obj_begin(&j))
		return false;
	while (tern__json_obj_next(&j, a, &k) == 1) {
		if (k.n == 2 && k.p[0] == 'i' && k.p[1] == 'd') {
			if (tern__json_peek(&j) != '"' ||
			    tern__json_string(&j, a, &v, NULL) ||
			    !is_lower_hex64(v))
				return false;
			*id = v;
			return true;
		}
		if (tern__json_skip(&j))
			return false;
	}
	return false;
}

/*
 * Refusal of an EVENT or AUTH whose event starts at ev: OK false when its id
 * can be read, NOTICE otherwise. The reason is already written.
 */
static int event_failed(mparse *mp, const uint8_t *ev, int rc)
{
	tern__msg *m = mp->m;

	mp->reply = TERN__MSG_REPLY_NOTICE;
	if (tern__msg_event_id(ev, (size_t)(mp->j.end - ev), mp->lim->max_depth,
			       mp->a, &m->id))
		mp->reply = TERN__MSG_REPLY_OK;
	return scan_failed(mp, rc);
}

/* ---- handlers, one per verb ---------------------------------------------- */

/* ["EVENT", <event>] and ["AUTH", <event>] */
static int handle_event(mparse *mp)
{
	tern__json *j = &mp->j;
	const uint8_t *ev;
	char arity[64];
	int rc, c;

	snprintf(arity, sizeof arity, "%s takes exactly one event", mp->verb);
	rc = next_elem(mp);
	if (rc <= 0)
		return rc ? rc : refuse(mp, TERN_EPARSE, "%s", arity);
	c = tern__json_peek(j);
	if (c != '{' && value_start(c))
		return refuse(mp, TERN_EPARSE, "event must be a JSON object");
	ev = j->p;
	rc = tern__json_skip(j);
	if (rc)
		return event_failed(mp, ev, rc);
	mp->m->event.p = ev;
	mp->m->event.n = (size_t)(j->p - ev);
	rc = finish(mp, arity);
	if (rc)
		return event_failed(mp, ev, rc);
	return 0;
}

/* ["REQ", <sub id>, <filter>, ...] and ["COUNT", ...] */
static int handle_filters(mparse *mp)
{
	const tern__msg_limits *lim = mp->lim;
	tern__msg *m = mp->m;
	uint32_t cap = 0;
	char arity[80];
	int rc;

	snprintf(arity, sizeof arity,
		 "%s needs a subscription id and at least one filter", mp->verb);
	rc = next_elem(mp);
	if (rc <= 0)
		return rc ? rc : refuse(mp, TERN_EPARSE, "%s", arity);
	rc = read_sub(mp, TERN__MSG_REPLY_CLOSED);
	if (rc)
		return rc;
	while ((rc = next_elem(mp)) == 1) {
		if (m->nfilters == lim->max_filters)
			return refuse(mp, TERN_ETOOBIG,
				      "too many filters (max %u)",
				      lim->max_filters);
		if (m->nfilters == cap) {
			/* Grow by doubling; the old array is abandoned to the
			 * arena, which bounds the waste at the final size. */
			uint32_t ncap = cap ? cap * 2 : 4;
			tern_filter *nf;

			if (ncap > lim->max_filters)
				ncap = lim->max_filters;
			nf = tern_arena_alloc(mp->a, (size_t)ncap * sizeof *nf);
			if (!nf) {
				tern_reason_set(mp->why, TERN_PREFIX_ERROR,
						"message needs too much memory");
				mp->j.err = TERN_ENOMEM;
				return scan_failed(mp, TERN_ENOMEM);
			}
			if (m->nfilters)
				memcpy(nf, m->filters,
				       (size_t)m->nfilters * sizeof *nf);
			m->filters = nf;
			cap = ncap;
		}
		rc = parse_filter(mp, &m->filters[m->nfilters]);
		if (rc)
			return rc;
		m->nfilters++;
	}
	if (rc < 0)
		return rc;
	if (m->nfilters == 0)
		return refuse(mp, TERN_EPARSE, "%s", arity);
	rc = tern__json_finish(&mp->j);
	if (rc)
		return scan_failed(mp, rc);
	return 0;
}

/*
 * ["CLOSE", <sub id>] and ["NEG-CLOSE", <sub id>]. CLOSE has no reply of its
 * own in NIP-01, and a CLOSED would claim the relay ended a subscription, so
 * its refusals are NOTICEs; NEG-CLOSE refusals are NEG-ERR once the id is
 * known, like the other NIP-77 messages.
 */
static int handle_close(mparse *mp)
{
	char arity[64];
	int rc;

	snprintf(arity, sizeof arity, "%s takes exactly one subscription id",
		 mp->verb);
	rc = next_elem(mp);
	if (rc <= 0)
		return rc ? rc : refuse(mp, TERN_EPARSE, "%s", arity);
	rc = read_sub(mp, mp->m->type == TERN__MSG_NEG_CLOSE ?
				  TERN__MSG_REPLY_NEG_ERR :
				  TERN__MSG_REPLY_NOTICE);
	if (rc)
		return rc;
	return finish(mp, arity);
}

/* ["NEG-OPEN", <sub id>, <filter>, <hex>] and ["NEG-MSG", <sub id>, <hex>] */
static int handle_neg(mparse *mp)
{
	tern__msg *m = mp->m;
	bool open = m->type == TERN__MSG_NEG_OPEN;
	const char *arity = open ?
		"NEG-OPEN takes a subscription id, a filter and an initial message" :
		"NEG-MSG takes a subscription id and a message";
	int rc;

	rc = next_elem(mp);
	if (rc <= 0)
		return rc ? rc : refuse(mp, TERN_EPARSE, "%s", arity);
	rc = read_sub(mp, TERN__MSG_REPLY_NEG_ERR);
	if (rc)
		return rc;
	if (open) {
		rc = next_elem(mp);
		if (rc <= 0)
			return rc ? rc : refuse(mp, TERN_EPARSE, "%s", arity);
		m->filters = tern_arena_alloc(mp->a, sizeof *m->filters);
		if (!m->filters) {
			tern_reason_set(mp->why, TERN_PREFIX_ERROR,
					"message needs too much memory");
			mp->j.err = TERN_ENOMEM;
			return scan_failed(mp, TERN_ENOMEM);
		}
		rc = parse_filter(mp, m->filters);
		if (rc)
			return rc;
		m->nfilters = 1;
	}
	rc = next_elem(mp);
	if (rc <= 0)
		return rc ? rc : refuse(mp, TERN_EPARSE, "%s", arity);
	rc = read_neg_hex(mp, open ? "initial message" : "message");
	if (rc)
		return rc;
	return finish(mp, arity);
}

/* ---- entry point --------------------------------------------------------- */

static tern__msg_type lookup(tern_slice v)
{
	unsigned t;

	for (t = TERN__MSG_EVENT; t < sizeof type_names / sizeof type_names[0]; t++)
		if (strlen(type_names[t]) == v.n &&
		    memcmp(type_names[t], v.p, v.n) == 0)
			return (tern__msg_type)t;
	return TERN__MSG_UNKNOWN;
}

int tern__msg_parse(tern__msg *m, const uint8_t *buf, size_t len,
		    const tern__msg_limits *lim, tern_arena *a,
		    tern_reason *why)
{
	tern__msg_limits defs;
	mparse mp = { .m = m, .lim = lim, .a = a, .why = why,
		      .reply = TERN__MSG_REPLY_NOTICE };
	tern_slice verb;
	int rc, c;

	memset(m, 0, sizeof *m);
	if (!lim) {
		tern__msg_limits_defaults(&defs);
		mp.lim = &defs;
	}
	tern__json_init(&mp.j, buf, len, mp.lim->max_depth, why);
	if (len > mp.lim->max_bytes)
		return refuse(&mp, TERN_ETOOBIG,
			      "message is too large (max %zu bytes)",
			      mp.lim->max_bytes);
	if (tern__json_peek(&mp.j) != '[')
		return refuse(&mp, TERN_EPARSE, "message is not a JSON array");
	rc = tern__json_arr_begin(&mp.j);
	if (rc)
		return scan_failed(&mp, rc);
	rc = next_elem(&mp);
	if (rc <= 0)
		return rc ? rc : refuse(&mp, TERN_EPARSE, "message is an empty array");
	c = tern__json_peek(&mp.j);
	if (c != '"' && value_start(c))
		return refuse(&mp, TERN_EPARSE, "message type must be a string");
	rc = tern__json_string(&mp.j, a, &verb, NULL);
	if (rc)
		return scan_failed(&mp, rc);
	m->type = lookup(verb);
	mp.verb = tern__msg_type_name(m->type);
	switch (m->type) {
	case TERN__MSG_EVENT:
	case TERN__MSG_AUTH:
		return handle_event(&mp);
	case TERN__MSG_REQ:
	case TERN__MSG_COUNT:
		return handle_filters(&mp);
	case TERN__MSG_CLOSE:
	case TERN__MSG_NEG_CLOSE:
		return handle_close(&mp);
	case TERN__MSG_NEG_OPEN:
	case TERN__MSG_NEG_MSG:
		return handle_neg(&mp);
	case TERN__MSG_UNKNOWN:
		break;
	}
	{
		char name[48];

		printable(name, sizeof name, verb);
		return refuse(&mp, TERN_EPARSE, "unknown message type \"%s\"", name);
	}
}
