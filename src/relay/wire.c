/* Relay-to-client messages (wire.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/json.h"
#include "relay/wire.h"

/* A bounded writer: counts every byte, stores those that fit. */
typedef struct w {
	char *buf;
	size_t cap, len;
} w;

static void put(w *o, const void *p, size_t n)
{
	if (o->len + n <= o->cap)
		memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void puts_(w *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_str(w *o, tern_slice s)
{
	size_t n = tern__json_escaped_len(s);

	if (o->len + n <= o->cap)
		tern__json_escape((uint8_t *)o->buf + o->len, s);
	o->len += n;
}

static tern_slice cstr(const char *s)
{
	return (tern_slice){ (const uint8_t *)s, strlen(s) };
}

static void put_reason(w *o, const tern_reason *r)
{
	char tmp[TERN_REASON_MAX + 32];
	size_t n = tern_reason_format(r, tmp, sizeof tmp);

	if (n >= sizeof tmp)
		n = sizeof tmp - 1;
	put_str(o, (tern_slice){ (const uint8_t *)tmp, n });
}

size_t tern__wire_ok(char *buf, size_t cap, tern_slice id_hex, bool ok,
		     const tern_reason *r)
{
	w o = { buf, cap, 0 };

	puts_(&o, "[\"OK\",");
	put_str(&o, id_hex);
	puts_(&o, ok ? ",true," : ",false,");
	put_reason(&o, r);
	puts_(&o, "]");
	return o.len;
}

size_t tern__wire_notice(char *buf, size_t cap, const tern_reason *r)
{
	w o = { buf, cap, 0 };

	puts_(&o, "[\"NOTICE\",");
	put_reason(&o, r);
	puts_(&o, "]");
	return o.len;
}

static size_t sub_reason(const char *verb, char *buf, size_t cap,
			 tern_slice sub, const tern_reason *r)
{
	w o = { buf, cap, 0 };

	puts_(&o, verb);
	put_str(&o, sub);
	puts_(&o, ",");
	put_reason(&o, r);
	puts_(&o, "]");
	return o.len;
}

size_t tern__wire_closed(char *buf, size_t cap, tern_slice sub,
			 const tern_reason *r)
{
	return sub_reason("[\"CLOSED\",", buf, cap, sub, r);
}

size_t tern__wire_neg_err(char *buf, size_t cap, tern_slice sub,
			  const tern_reason *r)
{
	return sub_reason("[\"NEG-ERR\",", buf, cap, sub, r);
}

size_t tern__wire_eose(char *buf, size_t cap, tern_slice sub)
{
	w o = { buf, cap, 0 };

	puts_(&o, "[\"EOSE\",");
	put_str(&o, sub);
	puts_(&o, "]");
	return o.len;
}

size_t tern__wire_count(char *buf, size_t cap, tern_slice sub, uint64_t n)
{
	w o = { buf, cap, 0 };
	char num[48];

	puts_(&o, "[\"COUNT\",");
	put_str(&o, sub);
	snprintf(num, sizeof num, ",{\"count\":%" PRIu64 "}]", n);
	puts_(&o, num);
	return o.len;
}

size_t tern__wire_auth(char *buf, size_t cap, const char *challenge)
{
	w o = { buf, cap, 0 };

	puts_(&o, "[\"AUTH\",");
	put_str(&o, cstr(challenge));
	puts_(&o, "]");
	return o.len;
}

size_t tern__wire_event_head(char *buf, size_t cap, tern_slice sub)
{
	w o = { buf, cap, 0 };

	puts_(&o, "[\"EVENT\",");
	put_str(&o, sub);
	puts_(&o, ",");
	return o.len;
}
