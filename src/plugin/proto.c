/* The write-policy plugin wire protocol (proto.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/arena.h>
#include <tern/error.h>
#include <tern/hex.h>

#include "plugin/proto.h"
#include "proto/json.h"

/* ---- requests ------------------------------------------------------------ */

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static tern_slice cslice(const char *s)
{
	return (tern_slice){ (const uint8_t *)s, strlen(s) };
}

int tern__plugin_request(const tern_event *ev, uint64_t received_at,
			 const char *source_type, const char *source_info,
			 const char *authed_hex, char **out, size_t *outlen)
{
	tern_slice st = cslice(source_type), si = cslice(source_info);
	tern_slice au = cslice(authed_hex);
	char num[24];
	int nn = snprintf(num, sizeof num, "%llu",
			  (unsigned long long)received_at);
	size_t cap, n;
	char *buf, *p;

	cap = sizeof("{\"type\":\"new\",\"event\":") + ev->json.n +
	      sizeof(",\"receivedAt\":") + (size_t)nn +
	      sizeof(",\"sourceType\":") + tern__json_escaped_len(st) +
	      sizeof(",\"sourceInfo\":") + tern__json_escaped_len(si) +
	      sizeof(",\"authed\":") + tern__json_escaped_len(au) +
	      sizeof("}\n");
	buf = malloc(cap);
	if (!buf)
		return TERN_ENOMEM;
	p = PUT_LIT(buf, "{\"type\":\"new\",\"event\":");
	p = put(p, (const char *)ev->json.p, ev->json.n);
	p = PUT_LIT(p, ",\"receivedAt\":");
	p = put(p, num, (size_t)nn);
	p = PUT_LIT(p, ",\"sourceType\":");
	p = (char *)tern__json_escape((uint8_t *)p, st);
	p = PUT_LIT(p, ",\"sourceInfo\":");
	p = (char *)tern__json_escape((uint8_t *)p, si);
	p = PUT_LIT(p, ",\"authed\":");
	p = (char *)tern__json_escape((uint8_t *)p, au);
	p = PUT_LIT(p, "}\n");
	n = (size_t)(p - buf);
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- replies --------------------------------------------------------------- */

static bool slice_is(tern_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Copies at most cap-1 bytes of s into dst, cutting on a UTF-8 character
 * boundary and at the first NUL, so the message stays valid text. */
static void copy_text(char *dst, size_t cap, tern_slice s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	const void *nul = memchr(s.p, 0, n);

	if (nul)
		n = (size_t)((const uint8_t *)nul - s.p);
	else if (n < s.n)
		while (n > 0 && (s.p[n] & 0xC0) == 0x80)
			n--;
	memcpy(dst, s.p, n);
	dst[n] = 0;
}

static const tern_prefix known_prefixes[] = {
	TERN_PREFIX_INVALID,    TERN_PREFIX_DUPLICATE,
	TERN_PREFIX_BLOCKED,    TERN_PREFIX_RATE_LIMITED,
	TERN_PREFIX_RESTRICTED, TERN_PREFIX_AUTH_REQUIRED,
	TERN_PREFIX_POW,        TERN_PREFIX_MUTE,
	TERN_PREFIX_UNSUPPORTED, TERN_PREFIX_ERROR,
};

void tern__plugin_reason_from_msg(tern_reason *why, tern_slice msg)
{
	for (size_t i = 0; i < sizeof known_prefixes / sizeof *known_prefixes;
	     i++) {
		const char *name = tern_prefix_name(known_prefixes[i]);
		size_t n = strlen(name);

		if (msg.n > n && memcmp(msg.p, name, n) == 0 &&
		    msg.p[n] == ':') {
			tern_slice rest = { msg.p + n + 1, msg.n - n - 1 };

			if (rest.n && rest.p[0] == ' ') {
				rest.p++;
				rest.n--;
			}
			why->prefix = known_prefixes[i];
			copy_text(why->msg, sizeof why->msg, rest);
			return;
		}
	}
	/* strfry forwards the text as is; NIP-01 wants a prefix on every
	 * refusal, so text without one is a policy block. */
	why->prefix = TERN_PREFIX_BLOCKED;
	if (msg.n)
		copy_text(why->msg, sizeof why->msg, msg);
	else
		snprintf(why->msg, sizeof why->msg,
			 "event rejected by the write policy");
}

static int parse(tern__json *j, tern_arena *a, tern__plugin_reply *out)
{
	tern_slice key, v, msg = { 0 };
	bool have_id = false, have_action = false, have_msg = false;
	int rc;

	if (tern__json_peek(j) != '{')
		return tern__json_fail(j, TERN_EPARSE, "reply is not an object");
	rc = tern__json_obj_begin(j);
	while (rc == 0 && (rc = tern__json_obj_next(j, a, &key)) == 1) {
		rc = 0;
		if (slice_is(key, "id") || slice_is(key, "action") ||
		    slice_is(key, "msg")) {
			if (tern__json_peek(j) != '"')
				return tern__json_fail(j, TERN_EPARSE,
						       "\"%.*s\" must be a string",
						       (int)key.n, key.p);
			rc = tern__json_string(j, a, &v, NULL);
			if (rc)
				return rc;
		} else {
			rc = tern__json_skip(j);
			continue;
		}
		if (key.p[0] == 'i') {
			if (v.n != 64 ||
			    !tern_hex_decode(out->id, (const char *)v.p, 32))
				return tern__json_fail(j, TERN_EPARSE,
						       "\"id\" must be 64 hex "
						       "digits");
			have_id = true;
		} else if (key.p[0] == 'a') {
			if (slice_is(v, "accept"))
				out->action = TERN__PLUGIN_ACCEPT;
			else if (slice_is(v, "reject"))
				out->action = TERN__PLUGIN_REJECT;
			else if (slice_is(v, "shadowReject"))
				out->action = TERN__PLUGIN_SHADOW_REJECT;
			else
				return tern__json_fail(j, TERN_EPARSE,
						       "unknown action \"%.*s\"",
						       (int)(v.n > 40 ? 40 : v.n),
						       v.p);
			have_action = true;
		} else {
			msg = v;
			have_msg = true;
		}
	}
	if (rc < 0)
		return rc;
	rc = tern__json_finish(j);
	if (rc)
		return rc;
	if (!have_id)
		return tern__json_fail(j, TERN_EPARSE, "reply has no \"id\"");
	if (!have_action)
		return tern__json_fail(j, TERN_EPARSE,
				       "reply has no \"action\"");
	if (out->action == TERN__PLUGIN_REJECT)
		tern__plugin_reason_from_msg(&out->why, have_msg ? msg
							       : (tern_slice){ 0 });
	return 0;
}

int tern__plugin_reply_parse(const uint8_t *line, size_t len,
			     tern__plugin_reply *out, tern_reason *err)
{
	tern__json j;
	tern_arena a;
	int rc;

	memset(out, 0, sizeof *out);
	tern_arena_init(&a, 4 * TERN__PLUGIN_LINE_MAX);
	tern__json_init(&j, line, len, 8, err);
	rc = parse(&j, &a, out);
	tern_arena_free(&a);
	return rc ? TERN_EPARSE : 0;
}

/* ---- line framing ---------------------------------------------------------- */

void tern__plugin_lines_init(tern__plugin_lines *l, size_t max)
{
	*l = (tern__plugin_lines){ .max = max };
}

void tern__plugin_lines_free(tern__plugin_lines *l)
{
	free(l->buf);
	*l = (tern__plugin_lines){ .max = l->max };
}

static void emit(tern__plugin_lines *l, tern__plugin_line_fn fn, void *ctx)
{
	size_t n = l->len;

	if (n && l->buf[n - 1] == '\r')
		n--;
	fn(ctx, l->buf ? l->buf : (const uint8_t *)"", n);
	l->len = 0;
}

static void drop(tern__plugin_lines *l, tern__plugin_line_fn fn, void *ctx)
{
	fn(ctx, NULL, l->dropped);
	l->dropped = 0;
	l->discarding = false;
}

int tern__plugin_lines_feed(tern__plugin_lines *l, const uint8_t *p, size_t n,
			    tern__plugin_line_fn fn, void *ctx)
{
	while (n) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (l->discarding || l->len + take > l->max) {
			if (!l->discarding) {
				l->discarding = true;
				l->dropped = l->len;
				l->len = 0;
			}
			l->dropped += take;
			if (nl)
				drop(l, fn, ctx);
		} else {
			if (l->len + take > l->cap) {
				size_t cap = l->cap ? l->cap : 256;
				uint8_t *b;

				while (cap < l->len + take)
					cap *= 2;
				if (cap > l->max)
					cap = l->max;
				b = realloc(l->buf, cap);
				if (!b) {
					l->len = 0;
					return TERN_ENOMEM;
				}
				l->buf = b;
				l->cap = cap;
			}
			memcpy(l->buf + l->len, p, take);
			l->len += take;
			if (nl)
				emit(l, fn, ctx);
		}
		if (!nl)
			break;
		p += take + 1;
		n -= take + 1;
	}
	return 0;
}

void tern__plugin_lines_flush(tern__plugin_lines *l, tern__plugin_line_fn fn,
			      void *ctx)
{
	if (l->discarding)
		drop(l, fn, ctx);
	else if (l->len)
		emit(l, fn, ctx);
}
