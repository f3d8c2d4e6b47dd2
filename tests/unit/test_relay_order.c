/* Per-connection ordering of replies (src/relay/order.c). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <tern/error.h>

#include "relay/order.h"

/* A sink that concatenates released messages as "msg|". */
typedef struct out {
	char buf[4096];
	size_t len;
	int fail_after; /* fail the n-th message (0 = never) */
	int nmsgs;
} out;

static int sink(void *ctx, const tern__outq_ent *ents, size_t n, size_t len)
{
	out *o = ctx;
	size_t got = 0;

	if (o->fail_after && ++o->nmsgs >= o->fail_after)
		return TERN_ECLOSED;
	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(o->len + ents[i].len, sizeof o->buf);
		memcpy(o->buf + o->len, ents[i].b->data + ents[i].off,
		       ents[i].len);
		o->len += ents[i].len;
		got += ents[i].len;
	}
	cr_assert_eq(got, len);
	o->buf[o->len++] = '|';
	o->buf[o->len] = '\0';
	return 0;
}

static void msg(tern__order *o, const char *text)
{
	tern_slice s = { (const uint8_t *)text, strlen(text) };

	cr_assert(tern__order_holding(o));
	cr_assert_eq(tern__order_hold(o, &s, NULL, 1), 0);
}

/* Sends a message as the connection does: held, or straight out. */
static void send(tern__order *o, const char *text, out *w)
{
	if (tern__order_holding(o)) {
		msg(o, text);
		return;
	}
	cr_assert_lt(w->len + strlen(text) + 1, sizeof w->buf);
	w->len += (size_t)sprintf(w->buf + w->len, "%s|", text);
}

static void reply(tern__order *o, const void *key, const char *text, out *w)
{
	cr_assert(tern__order_reply_begin(o, key));
	send(o, text, w);
	cr_assert_eq(tern__order_reply_end(o, sink, w), 0);
}

Test(relay_order, replies_leave_in_arrival_order)
{
	tern__order o;
	out w = { .len = 0 };
	int a, b;

	tern__order_init(&o);
	cr_assert(!tern__order_holding(&o));
	/* EVENT a (to the store), REQ (EOSE), EVENT b, NOTICE */
	cr_assert_eq(tern__order_expect(&o, &a), 0);
	msg(&o, "EOSE");
	cr_assert_eq(tern__order_expect(&o, &b), 0);
	msg(&o, "NOTICE");
	cr_assert_eq(o.nsegs, 2);
	cr_assert_eq(o.bytes, 10);
	reply(&o, &a, "OK a", &w);
	cr_assert_str_eq(w.buf, "OK a|EOSE|");
	cr_assert(tern__order_holding(&o), "b is still awaited");
	cr_assert_eq(o.bytes, 6);
	reply(&o, &b, "OK b", &w);
	cr_assert_str_eq(w.buf, "OK a|EOSE|OK b|NOTICE|");
	cr_assert(!tern__order_holding(&o));
	cr_assert_eq(o.bytes, 0);
	cr_assert_eq(o.nsegs, 0);
	tern__order_clear(&o);
}

Test(relay_order, a_later_reply_waits_for_an_earlier_one)
{
	tern__order o;
	out w = { .len = 0 };
	int a, b, c;

	tern__order_init(&o);
	cr_assert_eq(tern__order_expect(&o, &a), 0);
	cr_assert_eq(tern__order_expect(&o, &b), 0);
	msg(&o, "X");
	cr_assert_eq(tern__order_expect(&o, &c), 0);
	cr_assert(tern__order_reply_begin(&o, &b));
	cr_assert(tern__order_holding(&o), "b is not next: held");
	send(&o, "OK b", &w);
	cr_assert_eq(tern__order_reply_end(&o, sink, &w), 0);
	cr_assert_eq(w.len, 0, "b completes first but waits for a");
	reply(&o, &c, "OK c", &w);
	cr_assert_eq(w.len, 0);
	reply(&o, &a, "OK a", &w);
	cr_assert_str_eq(w.buf, "OK a|OK b|X|OK c|");
	cr_assert(!tern__order_holding(&o));
	cr_assert(!tern__order_reply_begin(&o, &a), "a is done");
	tern__order_clear(&o);
}

Test(relay_order, a_reply_may_be_several_messages)
{
	tern__order o;
	out w = { .len = 0 };
	int a;

	tern__order_init(&o);
	cr_assert_eq(tern__order_expect(&o, &a), 0);
	msg(&o, "later");
	cr_assert(tern__order_reply_begin(&o, &a));
	cr_assert(!tern__order_holding(&o), "the oldest reply goes out directly");
	send(&o, "OK false auth-required", &w);
	send(&o, "AUTH", &w);
	cr_assert_eq(tern__order_reply_end(&o, sink, &w), 0);
	cr_assert_str_eq(w.buf, "OK false auth-required|AUTH|later|");
	tern__order_clear(&o);
}

Test(relay_order, shared_buffers_are_referenced_not_copied)
{
	tern__order o;
	out w = { .len = 0 };
	tern__rbuf *json = tern__rbuf_dup("{\"id\":\"x\"}", 10);
	tern_slice parts[3] = {
		{ (const uint8_t *)"[\"EVENT\",\"s\",", 13 },
		{ json->data, json->len },
		{ (const uint8_t *)"]", 1 },
	};
	tern__rbuf *bufs[3] = { NULL, json, NULL };
	int a;

	tern__order_init(&o);
	cr_assert_eq(tern__order_expect(&o, &a), 0);
	cr_assert_eq(tern__order_hold(&o, parts, bufs, 3), 0);
	cr_assert_eq(atomic_load(&json->refs), 2, "held by reference");
	cr_assert_eq(o.bytes, 24);
	reply(&o, &a, "OK", &w);
	cr_assert_str_eq(w.buf, "OK|[\"EVENT\",\"s\",{\"id\":\"x\"}]|");
	cr_assert_eq(atomic_load(&json->refs), 1, "released");
	tern__rbuf_unref(json);
	tern__order_clear(&o);
}

Test(relay_order, a_failing_sink_drops_the_rest)
{
	tern__order o;
	out w = { .len = 0, .fail_after = 2 }; /* "two" fails */
	int a, b;

	tern__order_init(&o);
	cr_assert_eq(tern__order_expect(&o, &a), 0);
	msg(&o, "one");
	msg(&o, "two");
	cr_assert_eq(tern__order_expect(&o, &b), 0);
	msg(&o, "three");
	cr_assert(tern__order_reply_begin(&o, &a));
	send(&o, "OK a", &w);
	cr_assert_eq(tern__order_reply_end(&o, sink, &w), TERN_ECLOSED);
	cr_assert_str_eq(w.buf, "OK a|one|");
	cr_assert(!tern__order_holding(&o));
	cr_assert_eq(o.bytes, 0);
	cr_assert(!tern__order_reply_begin(&o, &b), "cleared");
	tern__order_clear(&o);
}

Test(relay_order, clear_frees_held_messages)
{
	tern__order o;
	int keys[100];

	tern__order_init(&o);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(tern__order_expect(&o, &keys[i]), 0);
		msg(&o, "a message held until the connection goes away");
	}
	cr_assert_eq(o.nsegs, 100);
	tern__order_clear(&o);
	cr_assert(!tern__order_holding(&o));
	cr_assert_eq(o.bytes, 0);
}
