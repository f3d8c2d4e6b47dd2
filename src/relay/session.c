/* The Nostr protocol of one connection (session.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>

#include "nostr/filter_internal.h"
#include "proto/message.h"
#include "relay/conn.h"
#include "relay/ctx.h"
#include "relay/inject.h"
#include "relay/io.h"
#include "relay/router.h"
#include "relay/session.h"
#include "relay/sources.h"
#include "relay/wire.h"

/* Stored events sent per scan per loop turn: long queries never stall the
 * loop, and a scan yields to other connections between slices. */
#define SCAN_SLICE 256

/* One REQ's scan of stored events, in progress. */
struct tern__scan {
	tern__scan *prev, *next; /* io->scans */
	tern__conn *c;
	tern__mquery *q;         /* over the sources of the filters' relays */
	bool check_restricted;   /* results may hold restricted kinds */
	size_t idlen;
	uint8_t id[];
};

static tern__settings *S(tern__conn *c)
{
	return c->io->set;
}

static tern__settings *S0(tern__io *io)
{
	return io->set;
}

/* ---- replies ---------------------------------------------------------- */

static void send_text(tern__conn *c, const char *buf, size_t n)
{
	tern_slice s = { (const uint8_t *)buf, n };

	if (n <= TERN__WIRE_SMALL_MAX)
		tern__conn_send(c, &s, 1);
}

static void send_ok(tern__conn *c, tern_slice id_hex, bool ok,
		    const tern_reason *r)
{
	char buf[TERN__WIRE_SMALL_MAX];

	send_text(c, buf, tern__wire_ok(buf, sizeof buf, id_hex, ok, r));
	if (!ok && r->prefix == TERN_PREFIX_AUTH_REQUIRED)
		tern__session_send_auth(c);
}

static void send_notice(tern__conn *c, const tern_reason *r)
{
	char buf[TERN__WIRE_SMALL_MAX];

	send_text(c, buf, tern__wire_notice(buf, sizeof buf, r));
}

static void send_closed(tern__conn *c, tern_slice sub, const tern_reason *r)
{
	char buf[TERN__WIRE_SMALL_MAX];

	send_text(c, buf, tern__wire_closed(buf, sizeof buf, sub, r));
	if (r->prefix == TERN_PREFIX_AUTH_REQUIRED)
		tern__session_send_auth(c);
}

void tern__session_send_auth(tern__conn *c)
{
	char buf[128];

	send_text(c, buf, tern__wire_auth(buf, sizeof buf,
					  c->sess.auth.challenge));
}

/* ---- open / close ----------------------------------------------------- */

int tern__session_open(tern__conn *c)
{
	if (tern__auth_init(&c->sess.auth)) {
		tern__conn_close(c, TERN__WS_CLOSE_INTERNAL, "internal error");
		return TERN_ECRYPTO;
	}
	tern__session_send_auth(c);
	return 0;
}

static void scan_free(tern__io *io, tern__scan *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		io->scans = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->c->sess.nscans--;
	tern__sources_query_end(s->q);
	free(s);
}

static tern__scan *scan_find(tern__io *io, tern__conn *c, tern_slice id)
{
	if (!c->sess.nscans)
		return NULL;
	for (tern__scan *s = io->scans; s; s = s->next)
		if (s->c == c && s->idlen == id.n &&
		    memcmp(s->id, id.p, id.n) == 0)
			return s;
	return NULL;
}

void tern__session_close(tern__conn *c)
{
	tern__io *io = c->io;
	tern__scan *s, *next;

	for (s = io->scans; s && c->sess.nscans; s = next) {
		next = s->next;
		if (s->c == c)
			scan_free(io, s);
	}
	tern__subindex_remove_all(io->subs, c);
	tern__auth_free(&c->sess.auth);
}

/* ---- restricted kinds ------------------------------------------------- */

/* The kind of an event from its canonical JSON, where "kind" is the fourth
 * member: {"id":"..","pubkey":"..","created_at":N,"kind":K,...}. */
static bool json_kind(tern_slice json, uint32_t *kind)
{
	size_t n = json.n < 200 ? json.n : 200;
	const uint8_t *p = memmem(json.p, n, ",\"kind\":", 8);
	const uint8_t *end = json.p + json.n;
	uint32_t k = 0;

	if (!p)
		return false;
	for (p += 8; p < end && *p >= '0' && *p <= '9'; p++)
		k = k * 10 + (uint32_t)(*p - '0');
	*kind = k;
	return true;
}

/* May this connection see the stored event json (restricted kinds)? */
static bool may_see(tern__conn *c, tern_slice json)
{
	tern_event ev;
	tern_arena a;
	uint32_t kind;
	bool ok;

	if (!json_kind(json, &kind))
		return false;
	if (!tern__settings_restricted(S(c), kind))
		return true;
	if (!tern__auth_any(&c->sess.auth))
		return false;
	/* A private arena: the thread's may hold the current message. */
	tern_arena_init(&a, 0);
	ok = tern_event_parse(&ev, json.p, json.n, NULL, &a, NULL) == 0 &&
	     tern__auth_is_party(&c->sess.auth, &ev);
	tern_arena_free(&a);
	return ok;
}

/*
 * Checks the filters of a REQ or COUNT against the restricted kinds.
 * Returns false with why set when the connection must authenticate first
 * (a filter asks for a restricted kind by name); else *check tells whether
 * results may hold restricted kinds and must be checked one by one.
 */
static bool restricted_ok(tern__conn *c, const tern_filter *fs, size_t n,
			  bool *check, tern_reason *why)
{
	tern__settings *s = S(c);

	*check = false;
	if (!s->nrestricted)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (!fs[i].kinds) {
			*check = true;
			continue;
		}
		for (uint32_t k = 0; k < fs[i].nkinds; k++) {
			if (!tern__settings_restricted(s, fs[i].kinds[k]))
				continue;
			if (!tern__auth_any(&c->sess.auth)) {
				tern_reason_set(why,
						TERN_PREFIX_AUTH_REQUIRED,
						"kind %u is only served to its "
						"author and recipients",
						fs[i].kinds[k]);
				return false;
			}
			*check = true;
		}
	}
	return true;
}

static int cmp_kind(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- EVENT ------------------------------------------------------------ */

/* The answer to an event: OK to its connection, or the injector's
 * callback (internal events). */
static void event_reply(tern__conn *c, tern__inject *inj,
			const tern_event *ev, bool ok, const tern_reason *why)
{
	char hex[64];

	if (!c) {
		tern__inject_done(inj, ok, why);
		return;
	}
	tern_hex_encode(hex, ev->id, 32);
	send_ok(c, (tern_slice){ (const uint8_t *)hex, 64 }, ok, why);
}

/* Saves ev through the backend of relay rel (router.h). */
static void submit(tern__io *io, tern__conn *c, tern__inject *inj,
		   const tern_event *ev, uint32_t rel)
{
	tern__pending *p = calloc(1, sizeof *p);
	tern_reason why = { 0 };
	int rc;

	if (p)
		p->json = tern__rbuf_dup(ev->json.p, ev->json.n);
	if (!p || !p->json) {
		free(p);
		tern_reason_set(&why, TERN_PREFIX_ERROR, "out of memory");
		event_reply(c, inj, ev, false, &why);
		return;
	}
	p->io = io;
	p->conn = c;
	p->inj = inj;
	p->rel = rel;
	rc = tern__sources_save(tern__router_relay(io->r, rel), ev,
				tern__relay_write_cb, p);
	if (rc == 0) {
		io->npending++;
		if (!c)
			return;
		c->pending++;
		/* Replies to later messages wait behind this OK. */
		tern__conn_expect_reply(c, p);
		return;
	}
	tern__rbuf_unref(p->json);
	free(p);
	if (rc == TERN_EFULL)
		tern_reason_set(&why, TERN_PREFIX_ERROR,
				"relay is busy, try again");
	else if (rc == TERN_ECLOSED)
		tern_reason_set(&why, TERN_PREFIX_ERROR,
				"relay is shutting down");
	else
		tern_reason_set(&why, TERN_PREFIX_ERROR, "%s",
				tern_strerror(rc));
	event_reply(c, inj, ev, false, &why);
}

/*
 * An event past its checks: the reject-event hooks (from the start, or
 * after the hook of a deferral), then the store, or fan-out alone for
 * ephemeral kinds - all of relay rel, the one it was routed to
 * (router.h). v is the verdict so far (TERN_PASS: run the hooks). c is
 * the sender, or NULL with inj for an injected event.
 */
static void event_pipeline(tern__io *io, tern__conn *c, tern__inject *inj,
			   const tern_event *ev, const tern_deferral *from,
			   tern_verdict v, tern_reason *why, uint32_t rel)
{
	tern_relay *hr = tern__router_relay(io->r, rel);
	tern_deferral *d = NULL;

	if (v == TERN_PASS)
		v = tern__run_reject_event(hr, io, c, inj, ev, from, why, &d);
	switch (v) {
	case TERN_DEFER:
		/* Parked: the connection reads nothing more until the
		 * verdict comes back (tern__session_deferral_resume). */
		if (c)
			tern__conn_park(c, d);
		return;
	case TERN_REJECT:
		event_reply(c, inj, ev, false, why);
		return;
	case TERN_SHADOW_REJECT:
		/* OK true to the client; neither stored nor broadcast. */
		event_reply(c, inj, ev, true, why);
		return;
	default:
		break;
	}
	if (tern_kind_is_ephemeral(ev->kind)) {
		tern__rbuf *json = tern__rbuf_dup(ev->json.p, ev->json.n);

		memset(why, 0, sizeof *why);
		if (!json) {
			tern_reason_set(why, TERN_PREFIX_ERROR,
					"out of memory");
			event_reply(c, inj, ev, false, why);
			return;
		}
		tern__run_ephemeral(hr, c, ev);
		tern__relay_broadcast(hr, json);
		tern__rbuf_unref(json);
		event_reply(c, inj, ev, true, why);
		return;
	}
	submit(io, c, inj, ev, rel);
}

void tern__session_deferral_resume(tern_deferral *d)
{
	tern__io *io = d->io;
	tern__conn *c = d->c;
	tern_reason why = d->why;
	tern_event ev;

	if (c) {
		c->hk.parked = NULL;
		c->pending--;
		if (!tern__conn_open(c)) {
			/* Closed meanwhile: the verdict is dropped. */
			tern__deferral_free(d);
			tern__conn_release(c);
			return;
		}
	}
	tern_arena_reset(&io->arena);
	if (tern_event_parse(&ev, d->json->data, d->json->len,
			     &tern__relay_reparse_limits, &io->arena, NULL) == 0) {
		event_pipeline(io, c, d->inj, &ev, d, d->v, &why, d->rel);
	} else if (d->inj) {
		tern_reason_set(&why, TERN_PREFIX_ERROR, "internal error");
		tern__inject_done(d->inj, false, &why);
	}
	tern_arena_reset(&io->arena);
	tern__deferral_free(d);
	if (c)
		tern__conn_unpark(c);
}

void tern__session_inject(tern__io *io, tern__inject *inj)
{
	tern_reason why = { 0 };
	tern_event ev;

	atomic_fetch_add(&io->r->n_events_in, 1);
	tern_arena_reset(&io->arena);
	if (tern_event_parse(&ev, inj->json, inj->len, &S0(io)->ev_lim,
			     &io->arena, &why) ||
	    tern_event_check(&ev, &why)) {
		tern__inject_done(inj, false, &why);
	} else {
		/* Injected into a sub-relay: that one; into the router: as
		 * its routes say. */
		uint32_t rel = inj->r != io->r ? inj->r->route_idx
					       : tern__router_event(io->r, &ev);

		event_pipeline(io, NULL, inj, &ev, NULL, TERN_PASS, &why, rel);
	}
	tern_arena_reset(&io->arena);
}

/*
 * Parses the event of an EVENT or AUTH message. When it is malformed the
 * client gets OK false if its id can still be read, else a NOTICE; then
 * false is returned.
 */
static bool parse_or_refuse(tern__conn *c, const tern__msg *m,
			    tern_event *ev)
{
	tern__io *io = c->io;
	tern_reason why = { 0 };
	tern_slice id;

	if (tern_event_parse(ev, m->event.p, m->event.n, &S(c)->ev_lim,
			     &io->arena, &why) == 0)
		return true;
	if (tern__msg_event_id(m->event.p, m->event.n, 16, &io->arena, &id))
		send_ok(c, id, false, &why);
	else
		send_notice(c, &why);
	return false;
}

static void handle_event(tern__conn *c, const tern__msg *m)
{
	tern__io *io = c->io;
	tern_reason why = { 0 };
	tern_event ev;
	char hex[64];
	tern_slice id_hex = { (const uint8_t *)hex, 64 };

	atomic_fetch_add(&io->r->n_events_in, 1);
	if (!parse_or_refuse(c, m, &ev))
		return;
	tern_hex_encode(hex, ev.id, 32);
	if (tern_event_check(&ev, &why)) {
		send_ok(c, id_hex, false, &why);
		return;
	}
	if (ev.kind == TERN__AUTH_KIND) {
		tern_reason_set(&why, TERN_PREFIX_INVALID,
				"kind 22242 events are sent with AUTH, not "
				"EVENT");
		send_ok(c, id_hex, false, &why);
		return;
	}
	event_pipeline(io, c, NULL, &ev, NULL, TERN_PASS, &why,
		       tern__router_event(io->r, &ev));
}

void tern__session_result(tern__io *io, tern__pending *p)
{
	tern__conn *c = p->conn;
	tern_slice id_hex = { p->json->data + 7, 64 }; /* {"id":"... */
	tern_reason why = p->reason;
	tern_relay *hr = tern__router_relay(io->r, p->rel);

	if (c)
		c->pending--;
	if (p->status == TERN_WRITE_STORED &&
	    tern__hooks_any(&hr->hooks, TERN__H_EVENT_SAVED)) {
		tern_event ev;

		tern_arena_reset(&io->arena);
		if (tern_event_parse(&ev, p->json->data, p->json->len,
				     &tern__relay_reparse_limits, &io->arena, NULL) == 0)
			tern__run_event_saved(hr, c, &ev);
		tern_arena_reset(&io->arena);
	}
	if (!c) {
		/* An injected event: its callback has the answer. */
		if (p->status == TERN_WRITE_DUPLICATE)
			tern_reason_set(&why, TERN_PREFIX_DUPLICATE,
					"already have this event");
		tern__inject_done(p->inj, p->status == TERN_WRITE_STORED ||
				  p->status == TERN_WRITE_DUPLICATE, &why);
		tern__rbuf_unref(p->json);
		free(p);
		return;
	}
	if (tern__conn_open(c)) {
		bool ordered = tern__conn_reply_begin(c, p);

		switch (p->status) {
		case TERN_WRITE_STORED:
			send_ok(c, id_hex, true, &why);
			break;
		case TERN_WRITE_DUPLICATE:
			tern_reason_set(&why, TERN_PREFIX_DUPLICATE,
					"already have this event");
			send_ok(c, id_hex, true, &why);
			break;
		default:
			send_ok(c, id_hex, false, &why);
			break;
		}
		if (ordered)
			tern__conn_reply_end(c);
	}
	tern__rbuf_unref(p->json);
	free(p);
	tern__conn_release(c);
}

/* ---- REQ, CLOSE, COUNT ------------------------------------------------ */

/* Sub id limits beyond the parser's 64 characters: the configured length,
 * and the subscription index's 64 bytes. */
static bool sub_ok(tern__conn *c, tern_slice sub, tern_reason *why)
{
	size_t cps = 0;

	for (size_t i = 0; i < sub.n; i++)
		cps += (sub.p[i] & 0xC0) != 0x80;
	if (cps > S(c)->lim.max_subid_length ||
	    sub.n > TERN__SUBINDEX_ID_MAX) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"subscription id must be 1-%u characters",
				S(c)->lim.max_subid_length);
		return false;
	}
	return true;
}

static bool auth_gate(tern__conn *c, tern_reason *why)
{
	if (!S(c)->lim.auth_required || tern__auth_any(&c->sess.auth))
		return true;
	tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED,
			"this relay requires authentication");
	return false;
}

typedef struct scan_ctx {
	tern__scan *s;
} scan_ctx;

static bool scan_visit(void *ctx, tern_slice json, uint64_t serial)
{
	tern__scan *s = ctx;
	tern__conn *c = s->c;
	char head[TERN__WIRE_SMALL_MAX];
	tern_slice parts[3];

	tern_arena *ha = &c->io->harena;
	tern_relay *hr = c->io->r;
	tern_event ev;

	if (s->check_restricted && !may_see(c, json))
		return true;
	/* Stored JSON is parsed only when a hook wants to rewrite it (the
	 * hooks of the relay answering these filters). */
	if (hr->routes)
		hr = tern__sources_query_relay(s->q);
	if (tern__hooks_any(&hr->hooks, TERN__H_OVERWRITE_RESPONSE)) {
		tern_arena_reset(ha);
		if (tern_event_parse(&ev, json.p, json.n, &tern__relay_reparse_limits, ha,
				     NULL) == 0)
			tern__run_overwrite_response(
				hr, c, (tern_slice){ s->id, s->idlen },
				&ev, &json, ha);
	}
	parts[0].p = (const uint8_t *)head;
	parts[0].n = tern__wire_event_head(head, sizeof head,
					   (tern_slice){ s->id, s->idlen });
	parts[1] = json;
	parts[2] = (tern_slice){ (const uint8_t *)"]", 1 };
	tern__conn_send(c, parts, 3);
	return tern__conn_open(c);
}

/* Runs one slice of s. Returns true when s is finished (and freed). */
static bool scan_run(tern__io *io, tern__scan *s)
{
	tern__conn *c = s->c;
	tern_slice id = { s->id, s->idlen };
	tern_reason why = { 0 };
	char buf[TERN__WIRE_SMALL_MAX];
	int rc;

	if (!tern__conn_open(c)) {
		scan_free(io, s);
		return true;
	}
	/* Let a client that reads slowly drain before more is queued. */
	if (tern__conn_backlog(c) > S(c)->lim.max_output_queue / 2)
		return false;
	rc = tern__sources_query_next(s->q, SCAN_SLICE, scan_visit, s);
	if (rc == 1)
		return false;
	if (rc < 0) {
		tern_log(TERN_LOG_ERROR, "relay", "query: %s",
			 tern_strerror(rc));
		tern__subindex_remove(io->subs, c, id);
		tern_reason_set(&why, TERN_PREFIX_ERROR, "query failed");
		send_closed(c, id, &why);
	} else if (tern__conn_open(c)) {
		send_text(c, buf, tern__wire_eose(buf, sizeof buf, id));
	}
	scan_free(io, s);
	return true;
}

bool tern__session_scan_step(tern__io *io)
{
	tern__scan *s, *next;

	for (s = io->scans; s; s = next) {
		next = s->next;
		scan_run(io, s);
	}
	return io->scans != NULL;
}

static void apply_limits(tern__conn *c, tern_filter *fs, size_t n)
{
	tern__settings *s = S(c);

	for (size_t i = 0; i < n; i++) {
		if (!fs[i].has_limit) {
			fs[i].has_limit = true;
			fs[i].limit = s->lim.default_limit;
		} else if (fs[i].limit > s->lim.max_limit) {
			fs[i].limit = s->lim.max_limit;
		}
	}
}

/*
 * The relay of each filter of m (router.h), from the thread's arena: NULL
 * when the relay has no routes. Returns false with why set when out of
 * memory.
 */
static bool route_filters(tern__conn *c, const tern__msg *m, uint32_t **rel,
			  tern_reason *why)
{
	bool oom;

	*rel = tern__router_filters(c->io->r, m->filters, m->nfilters,
				    &c->io->arena, &oom);
	if (oom)
		tern_reason_set(why, TERN_PREFIX_ERROR, "out of memory");
	return !oom;
}

/*
 * The filter hooks of a REQ (overwrite, then reject, per filter) or a
 * COUNT (overwrite-count, then reject-count), each filter's those of its
 * relay rel[i] (rel NULL: the relay's own). *nq gets the number of
 * filters that read stored events, moved to the front of m->filters' copy
 * in *qf, with their relays in *qrel: the others are live-only (REQ), or
 * count 0 (COUNT: live-only, or unable to match anything). Returns false
 * with why set on a rejection.
 */
static bool filter_hooks(tern__conn *c, tern__msg *m, const uint32_t *rel,
			 bool count, tern_filter **qf, const uint32_t **qrel,
			 size_t *nq, tern_reason *why)
{
	tern__io *io = c->io;
	tern_relay *r = io->r;
	size_t n = m->nfilters;

	*qf = m->filters;
	*qrel = rel;
	*nq = n;
	if (rel || tern__hooks_any(&r->hooks,
				   count ? TERN__H_OVERWRITE_COUNT_FILTER
					 : TERN__H_OVERWRITE_FILTER)) {
		bool *live = tern_arena_alloc(&io->arena, n * sizeof *live + 1);
		tern_filter *q = tern_arena_alloc(&io->arena,
						  n * sizeof *q + 1);
		uint32_t *qr = rel ? tern_arena_alloc(&io->arena,
						      n * sizeof *qr + 1)
				   : NULL;

		if (!live || !q || (rel && !qr)) {
			tern_reason_set(why, TERN_PREFIX_ERROR,
					"out of memory");
			return false;
		}
		*nq = 0;
		for (size_t i = 0; i < n; i++) {
			live[i] = false;
			tern__run_overwrite_filter(
				tern__router_relay(r, rel ? rel[i] : 0), c,
				m->sub, &m->filters[i], count, &io->arena,
				&live[i]);
			if (live[i] ||
			    (count &&
			     tern__filter_matches_nothing(&m->filters[i])))
				continue;
			if (rel)
				qr[*nq] = rel[i];
			q[(*nq)++] = m->filters[i];
		}
		*qf = q;
		*qrel = qr;
	}
	if (rel || tern__hooks_any(&r->hooks, count
						      ? TERN__H_REJECT_COUNT_FILTER
						      : TERN__H_REJECT_FILTER))
		for (size_t i = 0; i < n; i++)
			if (tern__run_reject_filter(
				    tern__router_relay(r, rel ? rel[i] : 0), c,
				    m->sub, &m->filters[i], count, why))
				return false;
	return true;
}

static void handle_req(tern__conn *c, tern__msg *m)
{
	tern__io *io = c->io;
	tern_reason why = { 0 };
	tern_filter *qf;
	const uint32_t *qrel;
	uint32_t *rel;
	size_t nq;
	tern__scan *s;
	bool check;
	int rc;

	if (!sub_ok(c, m->sub, &why) || !auth_gate(c, &why) ||
	    !route_filters(c, m, &rel, &why) ||
	    !filter_hooks(c, m, rel, false, &qf, &qrel, &nq, &why) ||
	    !restricted_ok(c, m->filters, m->nfilters, &check, &why)) {
		send_closed(c, m->sub, &why);
		return;
	}
	if (!tern__subindex_find(io->subs, c, m->sub) &&
	    tern__subindex_count(io->subs, c) >= S(c)->lim.max_subscriptions) {
		tern_reason_set(&why, TERN_PREFIX_RESTRICTED,
				"too many subscriptions (max %u)",
				S(c)->lim.max_subscriptions);
		send_closed(c, m->sub, &why);
		return;
	}
	s = scan_find(io, c, m->sub);
	if (s)
		scan_free(io, s);
	apply_limits(c, m->filters, m->nfilters);
	if (qf != m->filters)
		apply_limits(c, qf, nq);
	if (nq == 0) {
		/* Every filter is live-only (overwrite-filter hooks). */
		char buf[TERN__WIRE_SMALL_MAX];

		if (tern__subindex_add_routed(io->subs, c, m->sub, m->filters,
					      m->nfilters, rel, NULL))
			goto nomem;
		send_text(c, buf, tern__wire_eose(buf, sizeof buf, m->sub));
		return;
	}
	s = calloc(1, sizeof *s + m->sub.n);
	if (!s)
		goto nomem;
	s->c = c;
	s->check_restricted = check;
	s->idlen = m->sub.n;
	memcpy(s->id, m->sub.p, m->sub.n);
	rc = tern__sources_query_begin(&s->q, io->r, qf, qrel, nq,
				       S(c)->lim.max_limit);
	if (rc) {
		free(s);
		goto nomem;
	}
	/* Live from now on, so nothing committed during the scan is
	 * missed (same id: replaces the old subscription). Each filter
	 * listens to its relay's events. */
	rc = tern__subindex_add_routed(io->subs, c, m->sub, m->filters,
				       m->nfilters, rel, NULL);
	if (rc) {
		tern__sources_query_end(s->q);
		free(s);
		goto nomem;
	}
	s->next = io->scans;
	if (io->scans)
		io->scans->prev = s;
	io->scans = s;
	c->sess.nscans++;
	/* The first slice now: a small query answers within this turn. */
	if (!scan_run(io, s))
		tern__io_scans_active(io);
	return;
nomem:
	tern__subindex_remove(io->subs, c, m->sub);
	tern_reason_set(&why, TERN_PREFIX_ERROR, "could not start the query");
	send_closed(c, m->sub, &why);
}

static void handle_close(tern__conn *c, const tern__msg *m)
{
	tern__scan *s = scan_find(c->io, c, m->sub);

	if (s)
		scan_free(c->io, s);
	tern__subindex_remove(c->io->subs, c, m->sub);
}

typedef struct count_ctx {
	tern__conn *c;
	uint64_t n;
} count_ctx;

static bool count_visit(void *ctx, tern_slice json, uint64_t serial)
{
	count_ctx *x = ctx;

	if (may_see(x->c, json))
		x->n++;
	return true;
}

/* True if every event f can match is one this connection may see because
 * of who it is authed as: f names only authed authors, or only authed
 * "p" recipients. */
static bool all_visible(tern__conn *c, const tern_filter *f)
{
	const tern__auth *a = &c->sess.auth;
	uint8_t pk[32];
	bool all;

	if (f->authors) {
		all = true;
		for (uint32_t i = 0; i < f->nauthors && all; i++)
			all = tern__auth_has(a, f->authors[i]);
		if (all)
			return true;
	}
	for (uint32_t t = 0; t < f->ntags; t++) {
		if (f->tags[t].name != 'p')
			continue;
		all = true;
		for (uint32_t i = 0; i < f->tags[t].nvalues && all; i++) {
			const tern_slice *v = &f->tags[t].values[i];

			all = v->n == 64 &&
			      tern_hex_decode(pk, (const char *)v->p, 32) &&
			      tern__auth_has(a, pk);
		}
		return all;
	}
	return false;
}

/*
 * The restricted part of a COUNT: each filter narrowed to the restricted
 * kinds (filters that cannot match one are left out), in the thread's
 * arena, with their relays in *orel (NULL when rel is). Returns the
 * number of filters written to *out, or -1 when out of memory.
 */
static int restricted_part(tern__conn *c, const tern_filter *fs,
			   const uint32_t *rel, size_t n, tern_filter **out,
			   uint32_t **orel)
{
	tern__settings *s = S(c);
	tern_filter *r = tern_arena_alloc(&c->io->arena, n * sizeof *r);
	uint32_t *rr = rel ? tern_arena_alloc(&c->io->arena, n * sizeof *rr)
			   : NULL;
	uint16_t *kinds;
	int m = 0;

	if (!r || (rel && !rr))
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t nk = 0;

		kinds = tern_arena_alloc(&c->io->arena,
					 s->nrestricted * sizeof *kinds);
		if (!kinds)
			return -1;
		/* Both lists are sorted, so the result is too. */
		for (size_t k = 0; k < s->nrestricted; k++) {
			uint32_t kind = s->restricted_kinds[k];

			if (kind > UINT16_MAX)
				continue;
			if (!fs[i].kinds ||
			    bsearch(&(uint16_t){ (uint16_t)kind }, fs[i].kinds,
				    fs[i].nkinds, sizeof(uint16_t), cmp_kind))
				kinds[nk++] = (uint16_t)kind;
		}
		if (!nk)
			continue;
		r[m] = fs[i];
		r[m].kinds = kinds;
		r[m].nkinds = nk;
		if (rel)
			rr[m] = rel[i];
		m++;
	}
	*out = r;
	*orel = rr;
	return m;
}

/*
 * Counts what this connection may see of the events matching fs.
 * From the index alone where it can: when no filter can match a
 * restricted kind; else as (all matches) - (restricted matches) +
 * (restricted matches it may see), where the last term is counted from
 * the index too when every narrowed filter is one it may see whole (its
 * own events, or those addressed to it), and event by event only
 * otherwise - so only restricted events are ever read.
 */
static int count_visible(tern__conn *c, tern_filter *fs, const uint32_t *rel,
			 size_t n, bool check, uint64_t *out)
{
	tern_relay *st = c->io->r;
	count_ctx x = { c, 0 };
	uint64_t all, restricted;
	tern_filter *rf;
	uint32_t *rrel;
	bool whole = true;
	int m, rc;

	*out = 0;
	rc = tern__sources_count(st, fs, rel, n, &all);
	if (rc || !check) {
		*out = all;
		return rc;
	}
	m = restricted_part(c, fs, rel, n, &rf, &rrel);
	if (m < 0)
		return TERN_ENOMEM;
	if (m == 0) {
		*out = all;
		return 0;
	}
	rc = tern__sources_count(st, rf, rrel, (size_t)m, &restricted);
	if (rc)
		return rc;
	if (tern__auth_any(&c->sess.auth)) {
		for (int i = 0; i < m && whole; i++)
			whole = all_visible(c, &rf[i]);
		if (whole) {
			x.n = restricted;
		} else {
			for (int i = 0; i < m; i++)
				rf[i].has_limit = false;
			rc = tern__sources_query(st, rf, rrel, (size_t)m, 0,
						  count_visit, &x);
			if (rc)
				return rc;
		}
	}
	/* Two read transactions: a write between them may make the
	 * difference slightly off, never below zero. */
	*out = (all > restricted ? all - restricted : 0) + x.n;
	return 0;
}

static void handle_count(tern__conn *c, tern__msg *m)
{
	tern_reason why = { 0 };
	char buf[TERN__WIRE_SMALL_MAX];
	tern_filter *qf;
	const uint32_t *qrel;
	uint32_t *rel;
	uint8_t regs[TERN_HLL_REGISTERS];
	uint64_t n;
	size_t nq;
	bool check, hll = false;
	int rc;

	/* As for a REQ: the hooks, then the restricted kinds of the filters
	 * as the hooks left them (those that count 0 aside). */
	if (!sub_ok(c, m->sub, &why) || !auth_gate(c, &why) ||
	    !route_filters(c, m, &rel, &why) ||
	    !filter_hooks(c, m, rel, true, &qf, &qrel, &nq, &why) ||
	    !restricted_ok(c, qf, nq, &check, &why)) {
		send_closed(c, m->sub, &why);
		return;
	}
	/* NIP-45 "hll" only when no restricted kind can be counted: the
	 * registers would otherwise reveal events this client may not see;
	 * and only for the filter the client sent, not for what is left of
	 * several. */
	if (nq == 0) {
		n = 0;
		rc = 0;
	} else if (check) {
		rc = count_visible(c, qf, qrel, nq, check, &n);
	} else if (nq == m->nfilters) {
		rc = tern__sources_count_hll(c->io->r, qf, qrel, nq, &n, regs,
					     &hll);
	} else {
		rc = tern__sources_count(c->io->r, qf, qrel, nq, &n);
	}
	if (rc) {
		tern_reason_set(&why, TERN_PREFIX_ERROR, "count failed");
		send_closed(c, m->sub, &why);
		return;
	}
	send_text(c, buf, tern__sources_wire_count(buf, sizeof buf, m->sub, n,
						   hll ? regs : NULL));
}

/* ---- AUTH ------------------------------------------------------------- */

static void handle_auth(tern__conn *c, const tern__msg *m)
{
	tern_reason why = { 0 };
	tern_event ev;
	tern_slice id;
	char hex[65];
	bool unchecked;

	if (!parse_or_refuse(c, m, &ev))
		return;
	tern_hex_encode(hex, ev.id, 32);
	id = (tern_slice){ (const uint8_t *)hex, 64 };
	if (tern__auth_handle(&c->sess.auth, &ev, S(c)->service_url,
			      (uint64_t)time(NULL), &why, &unchecked)) {
		send_ok(c, id, false, &why);
		return;
	}
	tern_hex_encode(hex, ev.pubkey, 32);
	hex[64] = '\0';
	tern_log(TERN_LOG_INFO, "relay", "#%llu %s: authenticated as %s%s",
		 (unsigned long long)c->serial, c->ip, hex,
		 unchecked ? " (relay URL not checked: service_url unset)"
			   : "");
	tern_hex_encode(hex, ev.id, 32);
	/* The connection's relay (a router's own hooks: NIP-42 is its). */
	tern__run_auth(c->io->r, c, ev.pubkey);
	send_ok(c, id, true, &why);
}

/* ---- dispatch --------------------------------------------------------- */

static void refuse(tern__conn *c, const tern__msg *m, const tern_reason *why)
{
	char buf[TERN__WIRE_SMALL_MAX];

	switch (m->reply) {
	case TERN__MSG_REPLY_OK:
		send_ok(c, m->id, false, why);
		break;
	case TERN__MSG_REPLY_CLOSED:
		send_closed(c, m->sub, why);
		break;
	case TERN__MSG_REPLY_NEG_ERR:
		send_text(c, buf, tern__wire_neg_err(buf, sizeof buf, m->sub,
						     why));
		break;
	default:
		send_notice(c, why);
		break;
	}
}

void tern__session_message(tern__conn *c, const uint8_t *msg, size_t len)
{
	tern__io *io = c->io;
	tern_reason why = { 0 };
	tern__msg m;

	tern_arena_reset(&io->arena);
	if (tern__msg_parse(&m, msg, len, &S(c)->msg_lim, &io->arena, &why)) {
		refuse(c, &m, &why);
		tern_arena_reset(&io->arena);
		return;
	}
	switch (m.type) {
	case TERN__MSG_EVENT:
		handle_event(c, &m);
		break;
	case TERN__MSG_REQ:
		handle_req(c, &m);
		break;
	case TERN__MSG_CLOSE:
		handle_close(c, &m);
		break;
	case TERN__MSG_COUNT:
		handle_count(c, &m);
		break;
	case TERN__MSG_AUTH:
		handle_auth(c, &m);
		break;
	case TERN__MSG_NEG_OPEN:
	case TERN__MSG_NEG_MSG:
	case TERN__MSG_NEG_CLOSE:
		m.reply = TERN__MSG_REPLY_NEG_ERR;
		tern_reason_set(&why, TERN_PREFIX_UNSUPPORTED,
				"negentropy sync is not supported");
		refuse(c, &m, &why);
		break;
	default:
		tern_reason_set(&why, TERN_PREFIX_INVALID,
				"unknown message type");
		send_notice(c, &why);
		break;
	}
	tern_arena_reset(&io->arena);
}
