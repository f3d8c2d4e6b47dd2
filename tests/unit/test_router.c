/*
 * The router (tern/router.h), in process: a relay R on 127.0.0.1 with two
 * sub-relays, A (kind 1 and the ephemeral kind 20001) and B (kind 7), each
 * with its own in-memory backend and its own hooks, driven by a raw
 * WebSocket client. Checks that each event and each filter is handled by
 * one relay only - its hooks, its backend, its live filters - that what no
 * route takes stays with R, that a relay without routes is unchanged, and
 * that a sub-relay's LMDB store is opened, used with its own hooks, and
 * flushed by its router's run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <tern/backend.h>
#include <tern/config.h>
#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>
#include <tern/hooks.h>
#include <tern/relay.h>
#include <tern/router.h>
#include <tern/store.h>

#include "relay_client.h"
#include "signer.h"

/* ---- the relays and their hooks --------------------------------------- */

enum { R, A, B, NREL };

static tern_relay *rel[NREL];
static tern_memory *mem[NREL];
static pthread_t runner;
static bool running;
static char dbdir[64];
static atomic_bool bad; /* a hook or matcher saw the wrong relay / ud */

/* What each relay's hooks saw. */
static struct seen {
	atomic_int reject_event, saved, ephemeral, reject_filter,
		reject_count, overwrite_filter, prevent;
} seen[NREL];

static int ids[NREL] = { R, A, B };
static const char owner[] = "test";

static tern_verdict h_reject_event(void *ud, tern_ctx *x,
				   const tern_event *ev, tern_reason *why)
{
	int i = *(int *)ud;
	char no[8];

	if (tern_ctx_relay(x) != rel[i])
		atomic_store(&bad, true);
	atomic_fetch_add(&seen[i].reject_event, 1);
	snprintf(no, sizeof no, "no-%c", "RAB"[i]);
	if (ev->content.n == 4 && !memcmp(ev->content.p, no, 4)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "%c says no",
				"RAB"[i]);
		return TERN_REJECT;
	}
	return TERN_PASS;
}

static void h_saved(void *ud, tern_ctx *x, const tern_event *ev)
{
	atomic_fetch_add(&seen[*(int *)ud].saved, 1);
}

static void h_ephemeral(void *ud, tern_ctx *x, const tern_event *ev)
{
	atomic_fetch_add(&seen[*(int *)ud].ephemeral, 1);
}

/* Refuses filters with "limit":13 (REQ) or 14 (COUNT). */
static tern_verdict h_reject_filter(void *ud, tern_ctx *x,
				    const tern_filter *f, tern_reason *why)
{
	int i = *(int *)ud;

	if (tern_ctx_relay(x) != rel[i] || !tern_ctx_conn(x))
		atomic_store(&bad, true);
	atomic_fetch_add(&seen[i].reject_filter, 1);
	if (f->has_limit && f->limit == 13) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "%c: unlucky",
				"RAB"[i]);
		return TERN_REJECT;
	}
	return TERN_PASS;
}

static tern_verdict h_reject_count(void *ud, tern_ctx *x,
				   const tern_filter *f, tern_reason *why)
{
	int i = *(int *)ud;

	atomic_fetch_add(&seen[i].reject_count, 1);
	if (f->has_limit && f->limit == 14) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "%c: no count",
				"RAB"[i]);
		return TERN_REJECT;
	}
	return TERN_PASS;
}

static void h_overwrite_filter(void *ud, tern_ctx *x, tern_filter *f,
			       tern_arena *a, bool *live_only)
{
	atomic_fetch_add(&seen[*(int *)ud].overwrite_filter, 1);
}

/* Vetoes sending events whose content is "hide". */
static bool h_prevent(void *ud, tern_ctx *x, const tern_event *ev)
{
	atomic_fetch_add(&seen[*(int *)ud].prevent, 1);
	return ev->content.n == 4 && !memcmp(ev->content.p, "hide", 4);
}

static void hook_up(int i)
{
	tern_relay *r = rel[i];
	void *ud = &ids[i];

	cr_assert_eq(tern_on_reject_event(r, owner, h_reject_event, ud), 0);
	cr_assert_eq(tern_on_event_saved(r, owner, h_saved, ud), 0);
	cr_assert_eq(tern_on_ephemeral_event(r, owner, h_ephemeral, ud), 0);
	cr_assert_eq(tern_on_reject_filter(r, owner, h_reject_filter, ud), 0);
	cr_assert_eq(tern_on_reject_count_filter(r, owner, h_reject_count, ud),
		     0);
	cr_assert_eq(tern_on_overwrite_filter(r, owner, h_overwrite_filter, ud),
		     0);
	cr_assert_eq(tern_on_prevent_broadcast(r, owner, h_prevent, ud), 0);
}

/* ---- routes ------------------------------------------------------------- */

static int tag_a, tag_b;

static bool ev_a(void *ud, const tern_event *ev)
{
	if (ud != &tag_a)
		atomic_store(&bad, true);
	return ev->kind == 1 || ev->kind == 20001;
}

/* Filters that name kinds, all of them A's: 1, 20001, and 30 (which
 * no route's event matcher takes). */
static bool f_a(void *ud, const tern_filter *f)
{
	if (ud != &tag_a)
		atomic_store(&bad, true);
	if (!f->kinds || !f->nkinds)
		return false;
	for (uint32_t i = 0; i < f->nkinds; i++)
		if (f->kinds[i] != 1 && f->kinds[i] != 20001 &&
		    f->kinds[i] != 30)
			return false;
	return true;
}

static bool ev_b(void *ud, const tern_event *ev)
{
	return ev->kind == 7;
}

static bool f_b(void *ud, const tern_filter *f)
{
	return f->nkinds == 1 && f->kinds[0] == 7;
}

/* ---- set-up ------------------------------------------------------------- */

static void config(tern_config *cfg)
{
	tern_config_defaults(cfg);
	cfg->relay.port = port;
	cfg->relay.io_threads = 2;
	cfg->relay.log_level = TERN_LOG_ERROR;
	cfg->store.dir = dbdir;
	cfg->store.no_sync = true;
}

/* R, A and B, each with its hooks and an in-memory backend; with_routes
 * adds A's and B's routes. */
static void make(bool with_routes)
{
	tern_config cfg;
	char err[256];

	strcpy(dbdir, "/tmp/tern-router-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	port = free_port();
	config(&cfg);
	cr_assert_eq(tern_relay_new(&rel[R], &cfg, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(tern_relay_new_sub(&rel[A], &cfg, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(tern_relay_new_sub(&rel[B], &cfg, err, sizeof err), 0,
		     "%s", err);
	tern_config_free(&cfg);
	for (int i = 0; i < NREL; i++) {
		cr_assert_eq(tern_memory_open(&mem[i], NULL), 0);
		cr_assert_eq(tern_relay_set_backend(rel[i],
						    &tern_memory_backend,
						    mem[i]), 0);
		hook_up(i);
	}
	if (!with_routes)
		return;
	cr_assert_eq(tern_relay_add_route(rel[R], ev_a, f_a, &tag_a, rel[A]),
		     0);
	cr_assert_eq(tern_relay_add_route(rel[R], ev_b, f_b, &tag_b, rel[B]),
		     0);
}

static void start(void)
{
	cr_assert_eq(pthread_create(&runner, NULL, run_main, rel[R]), 0);
	running = true;
}

static void stop(void)
{
	if (running) {
		tern_relay_stop(rel[R]);
		pthread_join(runner, NULL);
		running = false;
	}
}

static void teardown(void)
{
	char cmd[128];

	stop();
	/* The router first, then its sub-relays, then their backends. */
	for (int i = 0; i < NREL; i++) {
		tern_relay_free(rel[i]);
		rel[i] = NULL;
	}
	for (int i = 0; i < NREL; i++) {
		tern_memory_close(mem[i]);
		mem[i] = NULL;
	}
	if (dbdir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
		if (system(cmd))
			cr_log_warn("could not remove %s", dbdir);
	}
	cr_expect(!atomic_load(&bad), "a hook or matcher saw the wrong relay");
}

TestSuite(router, .fini = teardown, .timeout = 60);

/* ---- events ------------------------------------------------------------- */

static char *sign_ev(uint8_t seed, unsigned kind, const char *tags,
		     const char *content)
{
	return signer_event(seed, kind, tags, content, (long long)time(NULL),
			    false);
}

static char *ev_of(unsigned kind, const char *content)
{
	static uint8_t seed = 0x40;

	return sign_ev(seed++, kind, "[]", content);
}

/* The id (64 hex characters) of an event's JSON. */
static void id_of(const char *ev, char out[65])
{
	memcpy(out, strstr(ev, "\"id\":\"") + 6, 64);
	out[64] = 0;
}

/* Stores an unsigned event (fake id n, fake sig) straight into m. */
static void put(tern_memory *m, unsigned n, unsigned kind, uint64_t ca)
{
	char *j;
	tern_write_result res;
	tern_event ev;
	tern_arena a;

	cr_assert(asprintf(&j, "{\"id\":\"%064x\",\"pubkey\":\"%064x\","
			   "\"created_at\":%llu,\"kind\":%u,\"tags\":[],"
			   "\"content\":\"\",\"sig\":\"%0128x\"}", n, 1u,
			   (unsigned long long)ca, kind, 0u) > 0);
	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				      &a, NULL), 0);
	cr_assert_eq(tern_backend_apply(&tern_memory_backend, m, &ev, &res),
		     0);
	cr_assert_eq(res.status, TERN_WRITE_STORED);
	tern_arena_free(&a);
	free(j);
}

static bool count_row(void *ctx, tern_slice json, uint64_t serial)
{
	(*(int *)ctx)++;
	return true;
}

/* Rows of backend i (all of them). */
static int rows(int i)
{
	tern_filter all = { .until = UINT64_MAX };
	int n = 0;

	cr_assert_eq(tern_backend_query(&tern_memory_backend, mem[i], &all, 1,
					0, count_row, &n), 0);
	return n;
}

/* ---- the client ----------------------------------------------------------- */

static int ws_open(void)
{
	char resp[1024];
	int fd = dial();

	cr_assert_eq(http(fd, upgrade_req, resp, sizeof resp), 101, "%s",
		     resp);
	return fd;
}

/* Sends ev; returns its OK message in buf. */
static char *publish(int fd, const char *ev, char *buf, size_t cap)
{
	char *msg;

	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", ev) > 0);
	ws_send(fd, msg);
	free(msg);
	return ws_recv_reply(fd, buf, cap);
}

static void publish_ok(int fd, const char *ev)
{
	char buf[4096];

	cr_assert(strstr(publish(fd, ev, buf, sizeof buf), ",true,"), "%s",
		  buf);
}

/* Sends a REQ and checks that its stored events are the n ids (each a
 * fake id number, or 0 to skip the check), in that order, then EOSE. */
static void expect_req(int fd, const char *sub, const char *filters,
		       const unsigned *want, size_t n)
{
	char *msg, buf[4096], head[96], eose[96], id[65];

	cr_assert(asprintf(&msg, "[\"REQ\",\"%s\",%s]", sub, filters) > 0);
	ws_send(fd, msg);
	free(msg);
	snprintf(head, sizeof head, "[\"EVENT\",\"%s\",{\"id\":\"", sub);
	for (size_t i = 0; i < n; i++) {
		ws_recv_reply(fd, buf, sizeof buf);
		cr_assert(!strncmp(buf, head, strlen(head)), "%s: [%zu] %s",
			  filters, i, buf);
		snprintf(id, sizeof id, "%064x", want[i]);
		cr_assert(!strncmp(buf + strlen(head), id, 64),
			  "%s: [%zu] is %.64s, want %u", filters, i,
			  buf + strlen(head), want[i]);
	}
	ws_recv_reply(fd, buf, sizeof buf);
	snprintf(eose, sizeof eose, "[\"EOSE\",\"%s\"]", sub);
	cr_assert_str_eq(buf, eose, "%s", filters);
}

#define EXPECT_REQ(fd, sub, filters, ...)                                      \
	expect_req(fd, sub, filters, (unsigned[]){ __VA_ARGS__ },              \
		   sizeof((unsigned[]){ __VA_ARGS__ }) / sizeof(unsigned))

static void expect_eose_only(int fd, const char *sub, const char *filters)
{
	expect_req(fd, sub, filters, NULL, 0);
}

/* The next reply is a live EVENT of sub carrying event id. */
static void expect_live(int fd, const char *sub, const char *idhex)
{
	char buf[4096], head[96];

	ws_recv_reply(fd, buf, sizeof buf);
	snprintf(head, sizeof head, "[\"EVENT\",\"%s\",{\"id\":\"", sub);
	cr_assert(!strncmp(buf, head, strlen(head)) &&
		  !strncmp(buf + strlen(head), idhex, 64), "want %s %s: %s",
		  sub, idhex, buf);
}

static uint64_t count(int fd, const char *filters)
{
	char *msg, buf[4096];
	unsigned long long n = 0;

	cr_assert(asprintf(&msg, "[\"COUNT\",\"c\",%s]", filters) > 0);
	ws_send(fd, msg);
	free(msg);
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert_eq(sscanf(buf, "[\"COUNT\",\"c\",{\"count\":%llu", &n), 1,
		     "%s", buf);
	return n;
}

/* ---- tests ---------------------------------------------------------------- */

Test(router, add_route_is_checked)
{
	tern_config cfg;
	tern_relay *plain, *other;
	char err[256];

	make(false);
	cr_assert_eq(tern_relay_add_route(NULL, ev_a, f_a, NULL, rel[A]),
		     TERN_EINVAL);
	cr_assert_eq(tern_relay_add_route(rel[R], ev_a, f_a, NULL, NULL),
		     TERN_EINVAL);
	/* a sub-relay has no routes */
	cr_assert_eq(tern_relay_add_route(rel[A], ev_b, f_b, NULL, rel[B]),
		     TERN_EINVAL);
	/* nor runs, nor takes injected events before it is a route */
	cr_assert_eq(tern_relay_run(rel[A]), TERN_EINVAL);
	cr_assert_eq(tern_relay_inject_event(rel[A], (const uint8_t *)"{}", 2,
					     NULL, NULL),
		     TERN_EINVAL);
	/* only sub-relays are routes: a listening relay is not */
	config(&cfg);
	cfg.relay.port = free_port();
	cr_assert_eq(tern_relay_new(&plain, &cfg, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(tern_relay_add_route(rel[R], ev_a, f_a, NULL, plain),
		     TERN_EINVAL);
	tern_relay_free(plain);
	/* a sub-relay serves one router; several routes of it are fine */
	cr_assert_eq(tern_relay_add_route(rel[R], ev_a, NULL, NULL, rel[A]),
		     0);
	cr_assert_eq(tern_relay_add_route(rel[R], NULL, f_a, NULL, rel[A]),
		     0);
	cfg.relay.port = free_port();
	cr_assert_eq(tern_relay_new(&other, &cfg, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(tern_relay_add_route(other, ev_a, f_a, NULL, rel[A]),
		     TERN_EINVAL);
	tern_relay_free(other);
	tern_config_free(&cfg);
	/* not once the router has run */
	start();
	stop();
	cr_assert_eq(tern_relay_add_route(rel[R], ev_b, f_b, NULL, rel[B]),
		     TERN_EINVAL);
}

/* Each relay of a router hands its backend its own deletion-outcome
 * hooks: a shared backend is refused when the router runs. */
Test(router, a_shared_backend_is_refused)
{
	make(true);
	cr_assert_eq(tern_relay_set_backend(rel[B], &tern_memory_backend,
					    mem[A]), 0);
	cr_assert_eq(tern_relay_run(rel[R]), TERN_EINVAL);
}

Test(router, events_run_the_hooks_and_backend_of_their_relay)
{
	char buf[4096], *e1, *e7, *e3, *no_a, *no_a7;
	int fd;

	make(true);
	start();
	fd = ws_open();
	e1 = ev_of(1, "to a");
	e7 = ev_of(7, "to b");
	e3 = ev_of(3, "to r");
	publish_ok(fd, e1);
	cr_assert_eq(atomic_load(&seen[A].reject_event), 1);
	cr_assert_eq(atomic_load(&seen[B].reject_event), 0);
	cr_assert_eq(atomic_load(&seen[R].reject_event), 0);
	cr_assert_eq(atomic_load(&seen[A].saved), 1);
	cr_assert_eq(atomic_load(&seen[R].saved), 0);
	cr_assert_eq(rows(A), 1);
	cr_assert_eq(rows(B) + rows(R), 0);
	publish_ok(fd, e7);
	cr_assert_eq(atomic_load(&seen[B].reject_event), 1);
	cr_assert_eq(atomic_load(&seen[B].saved), 1);
	cr_assert_eq(rows(B), 1);
	/* no route takes kind 3: the router's own hooks and backend */
	publish_ok(fd, e3);
	cr_assert_eq(atomic_load(&seen[R].reject_event), 1);
	cr_assert_eq(atomic_load(&seen[R].saved), 1);
	cr_assert_eq(rows(R), 1);
	cr_assert_eq(rows(A), 1);
	/* A's rejection applies to A's events only */
	no_a = ev_of(1, "no-A");
	no_a7 = ev_of(7, "no-A");
	cr_assert(strstr(publish(fd, no_a, buf, sizeof buf),
			 ",false,\"blocked: A says no\""), "%s", buf);
	publish_ok(fd, no_a7);
	cr_assert_eq(rows(A), 1);
	cr_assert_eq(rows(B), 2);
	cr_assert_eq(atomic_load(&seen[A].reject_event), 2);
	cr_assert_eq(atomic_load(&seen[B].reject_event), 2);
	cr_assert_eq(atomic_load(&seen[R].reject_event), 1);
	/* the router counts every relay's events */
	{
		tern_relay_stats st;

		tern_relay_stats_get(rel[R], &st);
		cr_assert_eq(st.events_stored, 4);
	}
	close(fd);
	free(e1);
	free(e7);
	free(e3);
	free(no_a);
	free(no_a7);
}

Test(router, filters_are_answered_by_their_relay)
{
	char buf[4096];
	int fd;

	make(true);
	/* kind 1 in every backend: only A's answer {"kinds":[1]} */
	put(mem[A], 11, 1, 100);
	put(mem[A], 12, 1, 200);
	put(mem[B], 21, 1, 300);
	put(mem[B], 22, 7, 150);
	put(mem[R], 31, 1, 400);
	put(mem[R], 32, 7, 50);
	put(mem[R], 33, 3, 500);
	start();
	fd = ws_open();
	EXPECT_REQ(fd, "a", "{\"kinds\":[1]}", 12, 11);
	cr_assert_eq(atomic_load(&seen[A].reject_filter), 1);
	cr_assert_eq(atomic_load(&seen[A].overwrite_filter), 1);
	cr_assert_eq(atomic_load(&seen[R].reject_filter), 0);
	cr_assert_eq(atomic_load(&seen[R].overwrite_filter), 0);
	EXPECT_REQ(fd, "b", "{\"kinds\":[7]}", 22);
	cr_assert_eq(atomic_load(&seen[B].reject_filter), 1);
	/* no route: the router's backend */
	EXPECT_REQ(fd, "r", "{}", 33, 31, 32);
	EXPECT_REQ(fd, "r7", "{\"kinds\":[1,7]}", 31, 32);
	cr_assert_eq(atomic_load(&seen[R].reject_filter), 2);
	cr_assert_eq(atomic_load(&seen[A].reject_filter), 1);
	/* filters of several relays: each relay's part in turn (the
	 * router's, then A's, then B's), one EOSE */
	EXPECT_REQ(fd, "all", "{\"kinds\":[7]},{\"kinds\":[3]},{\"kinds\":[1]}",
		   33, 12, 11, 22);
	EXPECT_REQ(fd, "lim", "{\"kinds\":[1],\"limit\":1},{\"kinds\":[7]},"
		   "{\"kinds\":[3]}", 33, 12, 22);
	/* A's reject-filter hook refuses the REQ; R's was not asked */
	ws_send(fd, "[\"REQ\",\"x\",{\"kinds\":[1],\"limit\":13}]");
	cr_assert_str_eq(ws_recv_reply(fd, buf, sizeof buf),
			 "[\"CLOSED\",\"x\",\"blocked: A: unlucky\"]");
	ws_send(fd, "[\"REQ\",\"y\",{\"kinds\":[7],\"limit\":13}]");
	cr_assert_str_eq(ws_recv_reply(fd, buf, sizeof buf),
			 "[\"CLOSED\",\"y\",\"blocked: B: unlucky\"]");
	close(fd);
}

Test(router, count_routes_the_same_way)
{
	char buf[4096];
	int fd;

	make(true);
	put(mem[A], 11, 1, 100);
	put(mem[A], 12, 1, 200);
	put(mem[B], 21, 1, 300);
	put(mem[B], 22, 7, 150);
	put(mem[B], 23, 7, 160);
	put(mem[R], 31, 1, 400);
	start();
	fd = ws_open();
	cr_assert_eq(count(fd, "{\"kinds\":[1]}"), 2);
	cr_assert_eq(count(fd, "{\"kinds\":[7]}"), 2);
	cr_assert_eq(count(fd, "{\"kinds\":[1]},{\"kinds\":[7]}"), 4);
	cr_assert_eq(count(fd, "{}"), 1);
	cr_assert_eq(count(fd, "{},{\"kinds\":[1]}"), 3);
	cr_assert_eq(atomic_load(&seen[A].reject_count), 3);
	cr_assert_eq(atomic_load(&seen[B].reject_count), 2);
	cr_assert_eq(atomic_load(&seen[R].reject_count), 2);
	cr_assert_eq(atomic_load(&seen[A].reject_filter), 0);
	ws_send(fd, "[\"COUNT\",\"c\",{\"kinds\":[7],\"limit\":14}]");
	cr_assert_str_eq(ws_recv_reply(fd, buf, sizeof buf),
			 "[\"CLOSED\",\"c\",\"blocked: B: no count\"]");
	close(fd);
}

Test(router, live_filters_hear_their_relay_only)
{
	char *e1, *e7, *eph, *hidden, id1[65], id7[65], ideph[65];
	int fd, l;

	make(true);
	start();
	fd = ws_open();
	l = ws_open();
	/* "a" is A's, "b" B's; "r" asks for the same kinds but no route
	 * takes it: it is the router's */
	expect_eose_only(l, "a", "{\"kinds\":[1,20001]}");
	expect_eose_only(l, "b", "{\"kinds\":[7]}");
	expect_eose_only(l, "r", "{\"kinds\":[1,7,20001]}");
	e1 = ev_of(1, "one");
	e7 = ev_of(7, "seven");
	eph = ev_of(20001, "eph");
	hidden = ev_of(1, "hide");
	id_of(e1, id1);
	id_of(e7, id7);
	id_of(eph, ideph);
	publish_ok(fd, e1);
	expect_live(l, "a", id1);
	cr_assert(!ws_pending(l, 200), "an event reached another relay's filter");
	publish_ok(fd, e7);
	expect_live(l, "b", id7);
	cr_assert(!ws_pending(l, 200));
	/* ephemeral: A's hooks and A's filters */
	publish_ok(fd, eph);
	expect_live(l, "a", ideph);
	cr_assert(!ws_pending(l, 200));
	cr_assert_eq(atomic_load(&seen[A].ephemeral), 1);
	cr_assert_eq(atomic_load(&seen[R].ephemeral), 0);
	/* A's prevent-broadcast hook vetoes; the router's is not asked */
	publish_ok(fd, hidden);
	cr_assert(!ws_pending(l, 200));
	cr_assert_eq(rows(A), 2);
	cr_assert_eq(atomic_load(&seen[A].prevent), 3);
	cr_assert_eq(atomic_load(&seen[B].prevent), 1);
	cr_assert_eq(atomic_load(&seen[R].prevent), 0);
	close(fd);
	close(l);
	free(e1);
	free(e7);
	free(eph);
	free(hidden);
}

/* ---- relay-level calls on a sub-relay ---------------------------------- */

typedef struct injected {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	bool ok;
} injected;

static void on_injected(void *ud, bool ok, const tern_reason *why)
{
	injected *in = ud;

	pthread_mutex_lock(&in->mu);
	in->ok = ok;
	in->done++;
	pthread_cond_signal(&in->cv);
	pthread_mutex_unlock(&in->mu);
}

static bool inject(tern_relay *r, const char *ev)
{
	injected in = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			0, false };

	cr_assert_eq(tern_relay_inject_event(r, (const uint8_t *)ev,
					     strlen(ev), on_injected, &in), 0);
	pthread_mutex_lock(&in.mu);
	while (!in.done)
		pthread_cond_wait(&in.cv, &in.mu);
	pthread_mutex_unlock(&in.mu);
	return in.ok;
}

typedef struct listed {
	int n;
	char subs[8][8];
} listed;

static bool list_filter(void *ud, uint64_t conn, tern_slice sub,
			const tern_filter *f)
{
	listed *l = ud;

	if (l->n < 8)
		snprintf(l->subs[l->n], sizeof l->subs[0], "%.*s", (int)sub.n,
			 (const char *)sub.p);
	l->n++;
	return true;
}

Test(router, inject_broadcast_and_listing_on_a_sub_relay)
{
	char *ev, *ev3, id[65], id3[65];
	tern_event parsed;
	tern_arena a;
	listed ls = { 0 };
	int l;

	make(true);
	start();
	l = ws_open();
	expect_eose_only(l, "a", "{\"kinds\":[1,30]}");
	expect_eose_only(l, "r", "{\"kinds\":[30,3]}");
	/* injected into A: A's hooks and backend, even for a kind no
	 * matcher takes (30); A's live filters only */
	ev3 = ev_of(30, "into a");
	id_of(ev3, id3);
	cr_assert(inject(rel[A], ev3));
	cr_assert_eq(atomic_load(&seen[A].reject_event), 1);
	cr_assert_eq(atomic_load(&seen[R].reject_event), 0);
	cr_assert_eq(rows(A), 1);
	cr_assert_eq(rows(R), 0);
	expect_live(l, "a", id3);
	cr_assert(!ws_pending(l, 200));
	/* injected into the router: routed like a client's */
	ev = ev_of(1, "into r");
	cr_assert(inject(rel[R], ev));
	cr_assert_eq(atomic_load(&seen[A].reject_event), 2);
	cr_assert_eq(rows(A), 2);
	id_of(ev, id);
	expect_live(l, "a", id);
	free(ev);
	/* broadcast on a relay reaches that relay's live filters */
	ev = ev_of(30, "broadcast");
	id_of(ev, id);
	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&parsed, (const uint8_t *)ev, strlen(ev),
				      NULL, &a, NULL), 0);
	cr_assert_eq(tern_relay_broadcast(rel[A], &parsed), 0);
	expect_live(l, "a", id);
	cr_assert(!ws_pending(l, 200));
	cr_assert_eq(tern_relay_broadcast(rel[R], &parsed), 0);
	expect_live(l, "r", id);
	cr_assert(!ws_pending(l, 200));
	cr_assert_eq(tern_relay_broadcast(rel[B], &parsed), 0);
	cr_assert(!ws_pending(l, 200));
	tern_arena_free(&a);
	free(ev);
	/* each relay lists its own live filters */
	cr_assert_eq(tern_relay_foreach_live_filter(rel[A], list_filter, &ls),
		     0);
	cr_assert_eq(ls.n, 1);
	cr_assert_str_eq(ls.subs[0], "a");
	ls.n = 0;
	cr_assert_eq(tern_relay_foreach_live_filter(rel[R], list_filter, &ls),
		     0);
	cr_assert_eq(ls.n, 1);
	cr_assert_str_eq(ls.subs[0], "r");
	ls.n = 0;
	cr_assert_eq(tern_relay_foreach_live_filter(rel[B], list_filter, &ls),
		     0);
	cr_assert_eq(ls.n, 0);
	close(l);
	free(ev3);
}

/* A's reject-event hook defers "later" events, completed from another
 * thread: the event comes back to A. */
static void *complete_later(void *arg)
{
	usleep(20000);
	tern_deferral_complete(arg, TERN_PASS, NULL);
	return NULL;
}

static tern_verdict h_defer(void *ud, tern_ctx *x, const tern_event *ev,
			    tern_reason *why)
{
	pthread_t t;
	tern_deferral *d;

	if (ev->content.n != 5 || memcmp(ev->content.p, "later", 5))
		return TERN_PASS;
	d = tern_ctx_defer(x);
	if (!d || pthread_create(&t, NULL, complete_later, d))
		return TERN_REJECT;
	pthread_detach(t);
	return TERN_DEFER;
}

Test(router, a_deferred_verdict_returns_to_the_sub_relay)
{
	char *ev;
	int fd;

	make(true);
	/* first in A's list: the counting hook runs after the deferral */
	tern_hooks_remove_owner(rel[A], owner);
	cr_assert_eq(tern_on_reject_event(rel[A], owner, h_defer, NULL), 0);
	hook_up(A);
	start();
	fd = ws_open();
	ev = ev_of(1, "later");
	publish_ok(fd, ev);
	cr_assert_eq(atomic_load(&seen[A].reject_event), 1);
	cr_assert_eq(atomic_load(&seen[A].saved), 1);
	cr_assert_eq(atomic_load(&seen[R].reject_event), 0);
	cr_assert_eq(rows(A), 1);
	cr_assert_eq(rows(R), 0);
	close(fd);
	free(ev);
}

Test(router, no_routes_no_change)
{
	char *e1, id1[65];
	int fd, l;

	make(false);
	put(mem[A], 11, 1, 100);
	start();
	fd = ws_open();
	l = ws_open();
	expect_eose_only(l, "a", "{\"kinds\":[1]}");
	e1 = ev_of(1, "plain");
	id_of(e1, id1);
	publish_ok(fd, e1);
	expect_live(l, "a", id1);
	cr_assert_eq(atomic_load(&seen[R].reject_event), 1);
	cr_assert_eq(atomic_load(&seen[R].saved), 1);
	cr_assert_eq(atomic_load(&seen[R].prevent), 1);
	cr_assert_eq(atomic_load(&seen[A].reject_event), 0);
	cr_assert_eq(rows(R), 1);
	cr_assert_eq(rows(A), 1);
	cr_assert_eq(count(fd, "{\"kinds\":[1]}"), 1);
	cr_assert_eq(atomic_load(&seen[R].reject_filter), 1);
	cr_assert_eq(atomic_load(&seen[R].reject_count), 1);
	close(fd);
	close(l);
	free(e1);
}

/* ---- a sub-relay over its LMDB store ------------------------------------ */

static atomic_int kept;

/* Keeps every target of a deletion. */
static bool keep_all(void *ud, const tern_event *target,
		     const tern_event *deletion)
{
	atomic_fetch_add(&kept, 1);
	return false;
}

static bool any_ev(void *ud, const tern_event *ev)
{
	return true;
}

static bool any_f(void *ud, const tern_filter *f)
{
	return true;
}

Test(router, lmdb_sub_relay_opened_with_its_hooks_and_flushed)
{
	char subdir[128], tags[128], *e1, *del, id1[65], buf[4096];
	tern_config cfg;
	tern_relay *L;
	tern_filter all = { .until = UINT64_MAX };
	struct stat st;
	uint64_t n = 0;
	int fd;

	make(false);
	snprintf(subdir, sizeof subdir, "%s/sub", dbdir);
	config(&cfg);
	cfg.store.dir = subdir;
	cr_assert_eq(tern_relay_new_sub(&L, &cfg, buf, sizeof buf), 0, "%s",
		     buf);
	tern_config_free(&cfg);
	cr_assert_eq(tern_on_overwrite_deletion_outcome(L, owner, keep_all,
							NULL), 0);
	cr_assert_eq(tern_on_overwrite_deletion_outcome(rel[R], owner, keep_all,
							NULL), 0);
	cr_assert_eq(tern_relay_add_route(rel[R], any_ev, any_f, NULL, L), 0);
	/* the store is opened when the router runs */
	cr_assert_neq(stat(subdir, &st), 0);
	start();
	fd = ws_open();
	e1 = sign_ev(0x31, 1, "[]", "keep me");
	id_of(e1, id1);
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", id1);
	del = sign_ev(0x31, 5, tags, "");
	publish_ok(fd, e1);
	publish_ok(fd, del);
	/* L's hook kept the note (the router's hook was not asked) */
	cr_assert_eq(atomic_load(&kept), 1);
	ws_send(fd, "[\"COUNT\",\"c\",{\"kinds\":[1,5]}]");
	cr_assert_str_eq(ws_recv_reply(fd, buf, sizeof buf),
			 "[\"COUNT\",\"c\",{\"count\":2}]");
	close(fd);
	stop();
	/* flushed by the router's run: everything is in L's store */
	cr_assert_eq(stat(subdir, &st), 0);
	cr_assert_eq(tern_store_count(tern_relay_store(L), &all, 1, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(rows(R), 0);
	tern_relay_free(L);
	free(e1);
	free(del);
}
