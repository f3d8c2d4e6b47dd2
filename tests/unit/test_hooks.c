/*
 * The hook points of tern/hooks.h and the relay-level calls of
 * tern/relay.h, end to end: a relay in process on 127.0.0.1 driven by a
 * raw WebSocket client. Each test registers hooks and checks that they
 * fire at the right point with the right effect on the wire or in the
 * store.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

#include "relay_client.h"
#include "signer.h"

static tern_relay *relay;
static pthread_t runner;
static char dbdir[64];

static void relay_create(unsigned threads)
{
	tern_config cfg;
	char err[256];

	strcpy(dbdir, "/tmp/tern-hooks-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	tern_config_defaults(&cfg);
	cfg.relay.port = port = free_port();
	cfg.relay.io_threads = threads;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.store.dir = dbdir;
	cfg.store.no_sync = true;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
}

static bool running;

static void relay_start(void)
{
	cr_assert_eq(pthread_create(&runner, NULL, run_main, relay), 0);
	running = true;
}

/* Stops the relay and waits until tern_relay_run() has returned. */
static void relay_join(void)
{
	tern_relay_stop(relay);
	if (running)
		pthread_join(runner, NULL);
	running = false;
}

static void relay_finish(void)
{
	char cmd[128];

	if (!relay)
		return;
	relay_join();
	tern_relay_free(relay);
	relay = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dbdir);
}

/* ---- a raw client --------------------------------------------------- */

/* A WebSocket connection, its AUTH challenge read (into challenge if
 * not NULL). */
static int ws_connect(char *challenge)
{
	char resp[2048], buf[256];
	int fd = dial();

	cr_assert_eq(http(fd, upgrade_req, resp, sizeof resp), 101, "%s",
		     resp);
	ws_recv(fd, buf, sizeof buf);
	cr_assert(strncmp(buf, "[\"AUTH\",\"", 9) == 0, "%s", buf);
	if (challenge)
		cr_assert_eq(sscanf(buf, "[\"AUTH\",\"%64[0-9a-f]\"]",
				    challenge), 1);
	return fd;
}

/* ---- signed events -------------------------------------------------- */

static char *sign_at(uint8_t seed, unsigned kind, const char *tags,
		     const char *content, long long at)
{
	return signer_event(seed, kind, tags, content, at, false);
}

static char *sign_as(uint8_t seed, unsigned kind, const char *tags,
		     const char *content)
{
	return sign_at(seed, kind, tags, content, (long long)time(NULL));
}

static char *note(const char *content)
{
	return sign_as(0x21, 1, "[]", content);
}

/* The id (64 hex characters) of an event's JSON. */
static void id_of(const char *ev, char out[65])
{
	memcpy(out, strstr(ev, "\"id\":\"") + 6, 64);
	out[64] = 0;
}

static void publish_msg(int fd, const char *ev)
{
	char *msg;

	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", ev) > 0);
	ws_send(fd, msg);
	free(msg);
}

/* Sends ev and returns its OK message in buf. */
static char *publish(int fd, const char *ev, char *buf, size_t cap)
{
	publish_msg(fd, ev);
	return ws_recv(fd, buf, cap);
}

static bool stored_visit(void *ctx, tern_slice json, uint64_t serial)
{
	*(bool *)ctx = true;
	return true;
}

static bool is_stored(const char *idhex)
{
	uint8_t id[32];
	bool found = false;

	cr_assert(tern_hex_decode(id, idhex, 32));
	tern_store_flush(tern_relay_store(relay));
	tern_store_get(tern_relay_store(relay), id, stored_visit, &found);
	return found;
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) != want; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(v), want);
}

TestSuite(hooks, .fini = relay_finish, .timeout = 60);

/* ---- reject-event ----------------------------------------------------- */

static atomic_int calls;

static tern_verdict reject_spam(void *ud, tern_ctx *x, const tern_event *ev,
				tern_reason *why)
{
	atomic_fetch_add(&calls, 1);
	cr_assert_not_null(tern_ctx_conn(x));
	cr_assert_not(tern_ctx_is_internal(x));
	cr_assert_eq(tern_ctx_relay(x), relay);
	if (ev->content.n >= 4 && memcmp(ev->content.p, "spam", 4) == 0) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "no spam");
		return TERN_REJECT;
	}
	if (ev->content.n >= 6 && memcmp(ev->content.p, "shadow", 6) == 0)
		return TERN_SHADOW_REJECT;
	if (ev->content.n >= 6 && memcmp(ev->content.p, "accept", 6) == 0)
		return TERN_ACCEPT;
	return TERN_PASS;
}

static atomic_int second_calls;

static tern_verdict count_second(void *ud, tern_ctx *x, const tern_event *ev,
				 tern_reason *why)
{
	atomic_fetch_add(&second_calls, 1);
	return TERN_PASS;
}

Test(hooks, reject_event_verdicts)
{
	char buf[4096], id[65], want[256], *ev;
	int fd, sub;

	relay_create(1);
	cr_assert_eq(tern_on_reject_event(relay, "t", reject_spam, NULL), 0);
	cr_assert_eq(tern_on_reject_event(relay, "t", count_second, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	sub = ws_connect(NULL);
	ws_send(sub, "[\"REQ\",\"live\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv(sub, buf, sizeof buf), "[\"EOSE\",\"live\"]");

	ev = note("spam spam");
	id_of(ev, id);
	snprintf(want, sizeof want, "[\"OK\",\"%s\",false,\"blocked: no spam\"]",
		 id);
	cr_assert_str_eq(publish(fd, ev, buf, sizeof buf), want);
	cr_assert_not(is_stored(id));
	free(ev);
	cr_assert_eq(atomic_load(&second_calls), 0, "first rejection wins");

	/* Shadow: OK true, but neither stored nor broadcast. */
	ev = note("shadow");
	id_of(ev, id);
	snprintf(want, sizeof want, "[\"OK\",\"%s\",true,\"\"]", id);
	cr_assert_str_eq(publish(fd, ev, buf, sizeof buf), want);
	cr_assert_not(is_stored(id));
	cr_assert_not(ws_pending(sub, 200), "shadow-rejected was broadcast");
	free(ev);

	/* Accept ends the list; the event is stored and broadcast. */
	ev = note("accept");
	id_of(ev, id);
	snprintf(want, sizeof want, "[\"OK\",\"%s\",true,\"\"]", id);
	cr_assert_str_eq(publish(fd, ev, buf, sizeof buf), want);
	cr_assert(is_stored(id));
	cr_assert_eq(atomic_load(&second_calls), 0);
	cr_assert_not_null(strstr(ws_recv(sub, buf, sizeof buf), id));
	free(ev);

	/* Pass: every hook runs. */
	ev = note("fine");
	id_of(ev, id);
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	cr_assert_eq(atomic_load(&second_calls), 1);
	cr_assert_eq(atomic_load(&calls), 4);
	free(ev);
	close(fd);
	close(sub);
}

static tern_verdict need_auth(void *ud, tern_ctx *x, const tern_event *ev,
			      tern_reason *why)
{
	if (tern_conn_authed_count(tern_ctx_conn(x)))
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED, "who are you");
	return TERN_REJECT;
}

/* auth-required from a hook sends a fresh AUTH after the OK. */
Test(hooks, auth_required_sends_auth)
{
	char buf[4096], *ev;
	int fd;

	relay_create(1);
	cr_assert_eq(tern_on_reject_event(relay, "t", need_auth, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("hello");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf),
				  "false,\"auth-required: who are you\""));
	cr_assert(strncmp(ws_recv(fd, buf, sizeof buf), "[\"AUTH\",", 8) == 0,
		  "%s", buf);
	free(ev);
	close(fd);
}

/* ---- deferred verdicts ------------------------------------------------ */

typedef struct later {
	tern_deferral *d;
	tern_verdict v;
	int delay_ms;
} later;

static void *complete_later(void *arg)
{
	later *l = arg;
	tern_reason why;

	usleep((useconds_t)l->delay_ms * 1000);
	tern_reason_set(&why, TERN_PREFIX_RESTRICTED, "decided later");
	tern_deferral_complete(l->d, l->v, l->v == TERN_REJECT ? &why : NULL);
	free(l);
	return NULL;
}

/* Defers every event; content "no" is rejected, the rest passes; the
 * verdict comes from another thread after 100 ms. */
static tern_verdict defer_all(void *ud, tern_ctx *x, const tern_event *ev,
			      tern_reason *why)
{
	later *l = calloc(1, sizeof *l);
	pthread_t t;

	atomic_fetch_add(&calls, 1);
	l->d = tern_ctx_defer(x);
	cr_assert_not_null(l->d);
	l->v = ev->content.n == 2 && memcmp(ev->content.p, "no", 2) == 0
		       ? TERN_REJECT : TERN_PASS;
	l->delay_ms = 100;
	cr_assert_eq(pthread_create(&t, NULL, complete_later, l), 0);
	pthread_detach(t);
	return TERN_DEFER;
}

Test(hooks, deferred_event_verdicts_keep_order)
{
	char buf[4096], id1[65], id2[65], want[256], *e1, *e2, *msg;
	uint8_t out[8192];
	size_t n = 0;
	int fd;

	atomic_store(&calls, 0);
	atomic_store(&second_calls, 0);
	relay_create(1);
	cr_assert_eq(tern_on_reject_event(relay, "t", defer_all, NULL), 0);
	cr_assert_eq(tern_on_reject_event(relay, "t", count_second, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	e1 = note("no");
	e2 = note("yes");
	id_of(e1, id1);
	id_of(e2, id2);
	/* One write: EVENT (rejected later), EVENT (passes later), REQ. */
	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", e1) > 0);
	n += ws_frame(out + n, msg);
	free(msg);
	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", e2) > 0);
	n += ws_frame(out + n, msg);
	free(msg);
	n += ws_frame(out + n, "[\"REQ\",\"q\",{\"kinds\":[1]}]");
	send_all(fd, out, n);

	snprintf(want, sizeof want,
		 "[\"OK\",\"%s\",false,\"restricted: decided later\"]", id1);
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), want);
	snprintf(want, sizeof want, "[\"OK\",\"%s\",true,\"\"]", id2);
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), want);
	/* The REQ waited behind both verdicts: it gets the accepted event,
	 * stored (before EOSE) or live (after it, when the commit came
	 * later). */
	ws_recv(fd, buf, sizeof buf);
	if (strcmp(buf, "[\"EOSE\",\"q\"]") == 0)
		ws_recv(fd, buf, sizeof buf);
	else
		cr_assert_str_eq(ws_recv(fd, want, sizeof want),
				 "[\"EOSE\",\"q\"]");
	cr_assert_not_null(strstr(buf, id2), "%s", buf);
	cr_assert_null(strstr(buf, id1), "%s", buf);
	/* PASS resumed the list at the next hook, once. */
	cr_assert_eq(atomic_load(&second_calls), 1);
	cr_assert_eq(atomic_load(&calls), 2);
	free(e1);
	free(e2);
	close(fd);
}

static tern_deferral *held;

static tern_verdict defer_hold(void *ud, tern_ctx *x, const tern_event *ev,
			       tern_reason *why)
{
	held = tern_ctx_defer(x);
	atomic_fetch_add(&calls, 1);
	return TERN_DEFER;
}

/* The connection closes before the verdict: it is dropped (ASan checks
 * that nothing leaks or is used after free). */
Test(hooks, deferral_after_close_is_dropped)
{
	char buf[4096], *ev;
	int fd;

	atomic_store(&calls, 0);
	relay_create(1);
	cr_assert_eq(tern_on_reject_event(relay, "t", defer_hold, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("held");
	publish_msg(fd, ev);
	wait_for(&calls, 1);
	close(fd);
	usleep(200000);
	tern_deferral_complete(held, TERN_PASS, NULL);
	usleep(100000);
	free(ev);
	/* The relay still serves. */
	fd = ws_connect(NULL);
	ws_send(fd, "[\"COUNT\",\"c\",{}]");
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf),
			 "[\"COUNT\",\"c\",{\"count\":0}]");
	close(fd);
}

/* A deferral still open when the relay stops is completed afterwards. */
Test(hooks, deferral_completed_after_stop)
{
	char *ev;
	int fd;

	atomic_store(&calls, 0);
	relay_create(1);
	cr_assert_eq(tern_on_reject_event(relay, "t", defer_hold, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("held");
	publish_msg(fd, ev);
	wait_for(&calls, 1);
	tern_relay_stop(relay);
	pthread_join(runner, NULL);
	tern_deferral_complete(held, TERN_REJECT, NULL);
	tern_relay_free(relay);
	relay = NULL;
	close(fd);
	free(ev);
}

static tern_verdict defer_conn(void *ud, tern_ctx *x, tern_reason *why)
{
	later *l = calloc(1, sizeof *l);
	pthread_t t;

	cr_assert_str_eq(tern_conn_ip(tern_ctx_conn(x)), "127.0.0.1");
	l->d = tern_ctx_defer(x);
	cr_assert_not_null(l->d);
	l->v = atomic_fetch_add(&calls, 1) == 0 ? TERN_PASS : TERN_REJECT;
	l->delay_ms = 50;
	cr_assert_eq(pthread_create(&t, NULL, complete_later, l), 0);
	pthread_detach(t);
	return TERN_DEFER;
}

Test(hooks, deferred_reject_connection)
{
	char resp[2048], buf[256];
	uint8_t out[512];
	int fd;
	size_t n;

	atomic_store(&calls, 0);
	relay_create(1);
	cr_assert_eq(tern_on_reject_connection(relay, "t", defer_conn, NULL),
		     0);
	relay_start();
	/* The first passes; a frame sent with the request is served after
	 * the upgrade. */
	fd = dial();
	n = ws_frame(out, "[\"COUNT\",\"c\",{}]");
	cr_assert_eq(http(fd, upgrade_req, resp, sizeof resp), 101, "%s",
		     resp);
	send_all(fd, out, n);
	cr_assert(strncmp(ws_recv(fd, buf, sizeof buf), "[\"AUTH\"", 7) == 0);
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf),
			 "[\"COUNT\",\"c\",{\"count\":0}]");
	close(fd);
	/* The second is refused. */
	fd = dial();
	cr_assert_eq(http(fd, upgrade_req, resp, sizeof resp), 429, "%s",
		     resp);
	cr_assert_not_null(strstr(resp, "restricted: decided later"));
	close(fd);
}

/* ---- connections ------------------------------------------------------ */

static atomic_int connects, disconnects, freed;

static void free_ud(void *p)
{
	/* After the on-disconnect hooks. */
	cr_assert_eq(atomic_load(&disconnects), *(int *)p + 1);
	atomic_fetch_add(&freed, 1);
	free(p);
}

static void on_conn(void *ud, tern_ctx *x)
{
	tern_conn *c = tern_ctx_conn(x);
	int *mine = malloc(sizeof *mine);

	*mine = atomic_fetch_add(&connects, 1);
	cr_assert_gt(tern_conn_id(c), 0);
	cr_assert_null(tern_conn_user_data(c));
	tern_conn_set_user_data(c, mine, free_ud);
}

static void on_disc(void *ud, tern_ctx *x)
{
	tern_conn *c = tern_ctx_conn(x);

	cr_assert_not_null(tern_conn_user_data(c));
	atomic_fetch_add(&disconnects, 1);
}

Test(hooks, connect_disconnect_and_user_data)
{
	char resp[1024];
	int fd;

	atomic_store(&connects, 0);
	atomic_store(&disconnects, 0);
	atomic_store(&freed, 0);
	relay_create(2);
	cr_assert_eq(tern_on_connect(relay, "t", on_conn, NULL), 0);
	cr_assert_eq(tern_on_disconnect(relay, "t", on_disc, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	wait_for(&connects, 1);
	close(fd);
	wait_for(&disconnects, 1);
	wait_for(&freed, 1);
	/* Plain HTTP requests are not connections. */
	fd = dial();
	cr_assert_eq(http(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			  sizeof resp), 200);
	close(fd);
	fd = ws_connect(NULL);
	wait_for(&connects, 2);
	close(fd);
	wait_for(&freed, 2);
}

/* ---- saved, ephemeral, context ---------------------------------------- */

static atomic_int saved, ephemeral;

static void on_saved(void *ud, tern_ctx *x, const tern_event *ev)
{
	cr_assert_eq(ev->kind, 1);
	if (tern_ctx_is_internal(x))
		cr_assert_null(tern_ctx_conn(x));
	atomic_fetch_add(&saved, 1);
}

static void on_eph(void *ud, tern_ctx *x, const tern_event *ev)
{
	cr_assert_eq(ev->kind, 20001);
	cr_assert_not_null(tern_ctx_conn(x));
	atomic_fetch_add(&ephemeral, 1);
}

Test(hooks, saved_and_ephemeral)
{
	char buf[4096], *ev;
	int fd;

	atomic_store(&saved, 0);
	atomic_store(&ephemeral, 0);
	relay_create(1);
	cr_assert_eq(tern_on_event_saved(relay, "t", on_saved, NULL), 0);
	cr_assert_eq(tern_on_ephemeral_event(relay, "t", on_eph, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("keep me");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	cr_assert_eq(atomic_load(&saved), 1, "before the OK");
	/* A duplicate is not saved again. */
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf),
				  "duplicate:"));
	cr_assert_eq(atomic_load(&saved), 1);
	free(ev);
	ev = sign_as(0x21, 20001, "[]", "now");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	cr_assert_eq(atomic_load(&ephemeral), 1);
	cr_assert_eq(atomic_load(&saved), 1);
	free(ev);
	close(fd);
}

/* ---- filters ---------------------------------------------------------- */

static tern_verdict no_kind_7(void *ud, tern_ctx *x, const tern_filter *f,
			      tern_reason *why)
{
	tern_slice sub = tern_ctx_sub_id(x);

	cr_assert(sub.n > 0);
	for (uint32_t i = 0; i < f->nkinds; i++)
		if (f->kinds[i] == 7) {
			tern_reason_set(why, TERN_PREFIX_RESTRICTED,
					"no reactions for %.*s", (int)sub.n,
					(const char *)sub.p);
			return TERN_REJECT;
		}
	return TERN_PASS;
}

static tern_verdict no_count(void *ud, tern_ctx *x, const tern_filter *f,
			     tern_reason *why)
{
	if (f->nauthors)
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "count by author only");
	return TERN_REJECT;
}

/* Filters with kind 1 only: live-only, and limited to kind 1. */
static void live_notes(void *ud, tern_ctx *x, tern_filter *f, tern_arena *a,
		       bool *live_only)
{
	if (f->has_search) {
		uint16_t *k = tern_arena_alloc(a, sizeof *k);

		*k = 1;
		f->kinds = k;
		f->nkinds = 1;
		f->has_search = false;
		*live_only = true;
	}
}

Test(hooks, filter_hooks)
{
	char buf[4096], *ev;
	int fd;

	relay_create(1);
	cr_assert_eq(tern_on_reject_filter(relay, "t", no_kind_7, NULL), 0);
	cr_assert_eq(tern_on_reject_count_filter(relay, "t", no_count, NULL),
		     0);
	cr_assert_eq(tern_on_overwrite_filter(relay, "t", live_notes, NULL),
		     0);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("stored before");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);

	/* The second filter is rejected: the whole REQ is closed. */
	ws_send(fd, "[\"REQ\",\"r\",{\"kinds\":[1]},{\"kinds\":[6,7]}]");
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf),
			 "[\"CLOSED\",\"r\",\"restricted: no reactions for r\"]");
	/* Counts have their own list. */
	ws_send(fd, "[\"COUNT\",\"c\",{\"kinds\":[7]}]");
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf),
			 "[\"CLOSED\",\"c\",\"blocked: count by author only\"]");
	/* Live-only: no stored events, EOSE at once, live ones arrive. */
	ws_send(fd, "[\"REQ\",\"l\",{\"search\":\"x\"}]");
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), "[\"EOSE\",\"l\"]");
	ev = note("live after");
	publish_msg(fd, ev);
	for (int i = 0; i < 2; i++) {
		ws_recv(fd, buf, sizeof buf);
		cr_assert(strstr(buf, "live after") || strstr(buf, "[\"OK\""),
			  "%s", buf);
	}
	free(ev);
	cr_assert_not(ws_pending(fd, 100));
	close(fd);
}

/* ---- overwrite-count-filter ------------------------------------------- */

static atomic_int count_order; /* 10 * first + second, per call */

/* "limit":1: only kind 1. "limit":2: live-only. "limit":3: can match
 * nothing (an empty kinds list). */
static void count_rewrite_1(void *ud, tern_ctx *x, tern_filter *f,
			    tern_arena *a, bool *live_only)
{
	tern_slice sub = tern_ctx_sub_id(x);

	cr_assert(sub.n == 1 && sub.p[0] == 'c');
	cr_assert_not_null(tern_ctx_conn(x));
	atomic_fetch_add(&count_order, 10);
	if (!f->has_limit)
		return;
	if (f->limit == 1) {
		uint16_t *k = tern_arena_alloc(a, sizeof *k);

		*k = 1;
		f->kinds = k;
		f->nkinds = 1;
	} else if (f->limit == 2) {
		*live_only = true;
	} else if (f->limit == 3) {
		static const uint16_t none[1];

		f->kinds = none;
		f->nkinds = 0;
	}
}

/* Runs after count_rewrite_1 and sees its change: marks filters it made
 * kind-1-only with "limit":9 for the reject-count hook. */
static void count_rewrite_2(void *ud, tern_ctx *x, tern_filter *f,
			    tern_arena *a, bool *live_only)
{
	atomic_fetch_add(&count_order, 1);
	if (atomic_load(&count_order) % 10 != atomic_load(&count_order) / 10)
		atomic_store(&count_order, -1000); /* not in order */
	if (f->nkinds == 1 && f->kinds[0] == 1 && f->has_limit &&
	    f->limit == 1)
		f->limit = 9;
}

static atomic_int count_rejects_saw_9;

static tern_verdict count_sees_rewrite(void *ud, tern_ctx *x,
				       const tern_filter *f, tern_reason *why)
{
	if (f->has_limit && f->limit == 9)
		atomic_fetch_add(&count_rejects_saw_9, 1);
	if (f->has_limit && f->limit == 99) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "not 99");
		return TERN_REJECT;
	}
	return TERN_PASS;
}

static atomic_int req_rewrites;

static void req_rewrite(void *ud, tern_ctx *x, tern_filter *f, tern_arena *a,
			bool *live_only)
{
	atomic_fetch_add(&req_rewrites, 1);
}

static void count_is(int fd, const char *msg, const char *want)
{
	char buf[4096];

	ws_send(fd, msg);
	cr_assert_str_eq(ws_recv_reply(fd, buf, sizeof buf), want, "%s", msg);
}

Test(hooks, overwrite_count_filter)
{
	char buf[4096], *ev;
	int fd;

	atomic_store(&count_order, 0);
	atomic_store(&count_rejects_saw_9, 0);
	atomic_store(&req_rewrites, 0);
	relay_create(1);
	cr_assert_eq(tern_on_overwrite_count_filter(relay, "t", NULL, NULL),
		     TERN_EINVAL);
	cr_assert_eq(tern_on_overwrite_count_filter(relay, "t", count_rewrite_1,
						    NULL), 0);
	cr_assert_eq(tern_on_overwrite_count_filter(relay, "t", count_rewrite_2,
						    NULL), 0);
	cr_assert_eq(tern_on_reject_count_filter(relay, "t",
						 count_sees_rewrite, NULL), 0);
	cr_assert_eq(tern_on_overwrite_filter(relay, "t", req_rewrite, NULL),
		     0);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("a note");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);
	ev = sign_as(0x21, 7, "[]", "+");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);

	/* Untouched: both events. Both hooks ran, in order. */
	count_is(fd, "[\"COUNT\",\"c\",{}]", "[\"COUNT\",\"c\",{\"count\":2}]");
	cr_assert_eq(atomic_load(&count_order), 11);
	/* Narrowed to kind 1 by the first; the second and the reject-count
	 * hook see the result. */
	count_is(fd, "[\"COUNT\",\"c\",{\"limit\":1}]",
		 "[\"COUNT\",\"c\",{\"count\":1}]");
	cr_assert_eq(atomic_load(&count_order), 22);
	cr_assert_eq(atomic_load(&count_rejects_saw_9), 1);
	/* Live-only and match-nothing filters count 0, alone or next to
	 * one that counts. */
	count_is(fd, "[\"COUNT\",\"c\",{\"limit\":2}]",
		 "[\"COUNT\",\"c\",{\"count\":0}]");
	count_is(fd, "[\"COUNT\",\"c\",{\"limit\":3}]",
		 "[\"COUNT\",\"c\",{\"count\":0}]");
	count_is(fd, "[\"COUNT\",\"c\",{\"limit\":2},{\"limit\":3},"
		 "{\"kinds\":[7]}]",
		 "[\"COUNT\",\"c\",{\"count\":1}]");
	/* The reject-count hooks still close the COUNT. */
	count_is(fd, "[\"COUNT\",\"c\",{\"limit\":99}]",
		 "[\"CLOSED\",\"c\",\"blocked: not 99\"]");
	/* REQ has its own list: the count hooks are not called for it, and
	 * the REQ hook not for COUNT. */
	atomic_store(&count_order, 0);
	ws_send(fd, "[\"REQ\",\"r\",{\"limit\":2}]");
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert_not_null(strstr(buf, "\"EVENT\""), "%s", buf);
	cr_assert_eq(atomic_load(&count_order), 0);
	cr_assert_eq(atomic_load(&req_rewrites), 1);
	close(fd);
}

static atomic_int sub_count_rewrites, router_count_rewrites;

static void sub_count_live(void *ud, tern_ctx *x, tern_filter *f,
			   tern_arena *a, bool *live_only)
{
	cr_assert_eq(tern_ctx_relay(x), ud);
	atomic_fetch_add(&sub_count_rewrites, 1);
	*live_only = true;
}

static void router_count_seen(void *ud, tern_ctx *x, tern_filter *f,
			      tern_arena *a, bool *live_only)
{
	atomic_fetch_add(&router_count_rewrites, 1);
}

static bool kind_7_filters(void *ud, const tern_filter *f)
{
	return f->nkinds == 1 && f->kinds[0] == 7;
}

static bool kind_7_events(void *ud, const tern_event *ev)
{
	return ev->kind == 7;
}

/* With a router, the hooks of the relay a filter is routed to run. */
Test(hooks, overwrite_count_filter_routed)
{
	tern_relay *sub;
	tern_memory *m;
	tern_config cfg;
	char err[256], buf[4096], *ev;
	int fd;

	atomic_store(&sub_count_rewrites, 0);
	atomic_store(&router_count_rewrites, 0);
	relay_create(1);
	tern_config_defaults(&cfg);
	cr_assert_eq(tern_relay_new_sub(&sub, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
	cr_assert_eq(tern_memory_open(&m, NULL), 0);
	cr_assert_eq(tern_relay_set_backend(sub, &tern_memory_backend, m), 0);
	cr_assert_eq(tern_relay_add_route(relay, kind_7_events, kind_7_filters,
					  NULL, sub), 0);
	cr_assert_eq(tern_on_overwrite_count_filter(sub, "t", sub_count_live,
						    sub), 0);
	cr_assert_eq(tern_on_overwrite_count_filter(relay, "t",
						    router_count_seen, NULL),
		     0);
	relay_start();
	fd = ws_connect(NULL);
	ev = sign_as(0x21, 7, "[]", "+");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);
	ev = note("to the router");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);
	/* The kind-7 filter is the sub-relay's, made live-only there; the
	 * other is the router's. */
	count_is(fd, "[\"COUNT\",\"c\",{\"kinds\":[7]},{\"kinds\":[1]}]",
		 "[\"COUNT\",\"c\",{\"count\":1}]");
	cr_assert_eq(atomic_load(&sub_count_rewrites), 1);
	cr_assert_eq(atomic_load(&router_count_rewrites), 1);
	close(fd);
	relay_join();
	tern_relay_free(sub);
	tern_memory_close(m);
}

/* ---- broadcast and responses ------------------------------------------ */

static bool only_to_first(void *ud, tern_ctx *x, const tern_event *ev)
{
	tern_slice sub = tern_ctx_sub_id(x);

	return !(sub.n == 5 && memcmp(sub.p, "first", 5) == 0);
}

static bool redact(void *ud, tern_ctx *x, const tern_event *ev,
		   tern_slice *json, tern_arena *a)
{
	static const char text[] = "{\"redacted\":true}";
	char *p = tern_arena_alloc(a, sizeof text);

	memcpy(p, text, sizeof text);
	*json = (tern_slice){ (const uint8_t *)p, sizeof text - 1 };
	return true;
}

Test(hooks, prevent_broadcast_and_overwrite_response)
{
	char buf[4096], *ev;
	int a, b;

	relay_create(2);
	cr_assert_eq(tern_on_prevent_broadcast(relay, "t", only_to_first,
					       NULL), 0);
	relay_start();
	a = ws_connect(NULL);
	b = ws_connect(NULL);
	ws_send(a, "[\"REQ\",\"first\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv(a, buf, sizeof buf), "[\"EOSE\",\"first\"]");
	ws_send(b, "[\"REQ\",\"second\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv(b, buf, sizeof buf), "[\"EOSE\",\"second\"]");
	ev = note("to the first only");
	cr_assert_not_null(strstr(publish(b, ev, buf, sizeof buf), ",true,"));
	cr_assert_not_null(strstr(ws_recv(a, buf, sizeof buf),
				  "to the first only"));
	cr_assert_not(ws_pending(b, 200));
	free(ev);

	/* Responses rewritten, stored and live. */
	cr_assert_eq(tern_on_overwrite_response_event(relay, "t", redact,
						      NULL), 0);
	ws_send(b, "[\"REQ\",\"old\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv(b, buf, sizeof buf),
			 "[\"EVENT\",\"old\",{\"redacted\":true}]");
	cr_assert_str_eq(ws_recv(b, buf, sizeof buf), "[\"EOSE\",\"old\"]");
	ev = note("live one");
	cr_assert_not_null(strstr(publish(b, ev, buf, sizeof buf), ",true,"));
	cr_assert_str_eq(ws_recv(a, buf, sizeof buf),
			 "[\"EVENT\",\"first\",{\"redacted\":true}]");
	free(ev);
	close(a);
	close(b);
}

/* ---- NIP-11 ----------------------------------------------------------- */

static void rename_relay(void *ud, tern_ctx *x, tern_relay_info *info)
{
	static const uint32_t nips[] = { 1, 11, 42 };

	cr_assert_str_eq(tern_conn_ip(tern_ctx_conn(x)), "127.0.0.1");
	info->name = "hooked";
	info->description = "per request";
	info->supported_nips = nips;
	info->nsupported_nips = 3;
}

Test(hooks, overwrite_relay_information)
{
	char resp[4096];
	int fd;

	relay_create(1);
	relay_start();
	fd = dial();
	cr_assert_eq(http(fd, "GET / HTTP/1.1\r\nHost: x\r\nAccept: "
			  "application/nostr+json\r\n\r\n", resp,
			  sizeof resp), 200);
	cr_assert_not_null(strstr(resp, "\"name\":\"tern\""), "%s", resp);
	close(fd);
	cr_assert_eq(tern_on_overwrite_relay_information(relay, "t",
							 rename_relay, NULL),
		     0);
	fd = dial();
	cr_assert_eq(http(fd, "GET / HTTP/1.1\r\nHost: x\r\nAccept: "
			  "application/nostr+json\r\n\r\n", resp,
			  sizeof resp), 200);
	cr_assert_not_null(strstr(resp, "{\"name\":\"hooked\",\"description\":"
				  "\"per request\""), "%s", resp);
	cr_assert_not_null(strstr(resp, "\"supported_nips\":[1,11,42]"), "%s",
			   resp);
	close(fd);
}

/* ---- deletions -------------------------------------------------------- */

static bool keep_pinned(void *ud, const tern_event *target,
			const tern_event *deletion)
{
	cr_assert_eq(deletion->kind, 5);
	return !(target->content.n == 6 &&
		 memcmp(target->content.p, "pinned", 6) == 0);
}

Test(hooks, overwrite_deletion_outcome)
{
	char buf[4096], id1[65], id2[65], tags[256], *e1, *e2, *del;
	int fd;

	relay_create(1);
	cr_assert_eq(tern_on_overwrite_deletion_outcome(relay, "t",
							keep_pinned, NULL),
		     0);
	relay_start();
	fd = ws_connect(NULL);
	e1 = note("pinned");
	e2 = note("unpinned");
	id_of(e1, id1);
	id_of(e2, id2);
	cr_assert_not_null(strstr(publish(fd, e1, buf, sizeof buf), ",true,"));
	cr_assert_not_null(strstr(publish(fd, e2, buf, sizeof buf), ",true,"));
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"]]", id1,
		 id2);
	del = sign_as(0x21, 5, tags, "");
	cr_assert_not_null(strstr(publish(fd, del, buf, sizeof buf),
				  ",true,"));
	cr_assert(is_stored(id1), "the hook kept it");
	cr_assert_not(is_stored(id2));
	free(e1);
	free(e2);
	free(del);
	close(fd);
}

/* ---- runtime registration --------------------------------------------- */

static tern_verdict reject_all(void *ud, tern_ctx *x, const tern_event *ev,
			       tern_reason *why)
{
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "closed for now");
	return TERN_REJECT;
}

Test(hooks, register_and_remove_while_running)
{
	static const char owner[] = "gate";
	char buf[4096], *ev;
	int fd;

	relay_create(2);
	relay_start();
	fd = ws_connect(NULL);
	ev = note("one");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);
	cr_assert_eq(tern_on_reject_event(relay, owner, reject_all, NULL), 0);
	cr_assert_eq(tern_on_reject_filter(relay, owner, no_kind_7, NULL), 0);
	ev = note("two");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf),
				  "false,\"blocked: closed for now\""));
	free(ev);
	/* Many swaps while messages flow: lists are reclaimed safely. */
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(tern_on_reject_event(relay, "churn", count_second,
						  NULL), 0);
		tern_hooks_remove_owner(relay, "churn");
		if (i % 50 == 0) {
			ws_send(fd, "[\"COUNT\",\"c\",{}]");
			ws_recv(fd, buf, sizeof buf);
		}
	}
	tern_hooks_remove_owner(relay, owner);
	ev = note("three");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);
	ws_send(fd, "[\"REQ\",\"r\",{\"kinds\":[7]}]");
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), "[\"EOSE\",\"r\"]");
	close(fd);
}

/* ---- inject, broadcast, live filters ---------------------------------- */

typedef struct outcome {
	atomic_int done;
	bool ok;
	tern_reason why;
} outcome;

static void injected(void *ud, bool ok, const tern_reason *why)
{
	outcome *o = ud;

	o->ok = ok;
	o->why = *why;
	atomic_store(&o->done, 1);
}

static atomic_int internal_seen;

static tern_verdict see_internal(void *ud, tern_ctx *x, const tern_event *ev,
				 tern_reason *why)
{
	if (tern_ctx_is_internal(x)) {
		atomic_fetch_add(&internal_seen, 1);
		if (ev->content.n == 4 && memcmp(ev->content.p, "deny", 4) == 0)
			return TERN_REJECT;
	}
	return TERN_PASS;
}

Test(hooks, inject_event)
{
	char buf[4096], id[65], *ev;
	outcome o = { 0 };
	int fd;

	atomic_store(&internal_seen, 0);
	relay_create(2);
	cr_assert_eq(tern_on_reject_event(relay, "t", see_internal, NULL), 0);
	relay_start();
	fd = ws_connect(NULL);
	ws_send(fd, "[\"REQ\",\"s\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), "[\"EOSE\",\"s\"]");

	ev = note("from inside");
	id_of(ev, id);
	cr_assert_eq(tern_relay_inject_event(relay, (const uint8_t *)ev,
					     strlen(ev), injected, &o), 0);
	wait_for(&o.done, 1);
	cr_assert(o.ok, "%s", o.why.msg);
	cr_assert_eq(atomic_load(&internal_seen), 1);
	cr_assert(is_stored(id));
	cr_assert_not_null(strstr(ws_recv(fd, buf, sizeof buf), id));
	free(ev);

	/* The hooks apply; a bad signature fails before them. */
	memset(&o, 0, sizeof o);
	ev = note("deny");
	cr_assert_eq(tern_relay_inject_event(relay, (const uint8_t *)ev,
					     strlen(ev), injected, &o), 0);
	wait_for(&o.done, 1);
	cr_assert_not(o.ok);
	cr_assert_eq(o.why.prefix, TERN_PREFIX_BLOCKED);
	memset(&o, 0, sizeof o);
	memcpy(strstr(ev, "\"sig\":\"") + 7, "00", 2);
	cr_assert_eq(tern_relay_inject_event(relay, (const uint8_t *)ev,
					     strlen(ev), injected, &o), 0);
	wait_for(&o.done, 1);
	cr_assert_not(o.ok);
	cr_assert_eq(o.why.prefix, TERN_PREFIX_INVALID);
	cr_assert_eq(atomic_load(&internal_seen), 2);
	free(ev);
	close(fd);
}

typedef struct listing {
	int n;
	bool saw_kind_1, saw_author;
} listing;

static bool list_cb(void *ud, uint64_t conn, tern_slice sub,
		    const tern_filter *f)
{
	listing *l = ud;

	l->n++;
	cr_assert_gt(conn, 0);
	if (sub.n == 1 && sub.p[0] == 'a' && f->nkinds == 1 &&
	    f->kinds[0] == 1)
		l->saw_kind_1 = true;
	if (sub.n == 1 && sub.p[0] == 'b' && f->nauthors == 1)
		l->saw_author = true;
	return true;
}

/* Lists the live filters from a hook, on an I/O thread. */
static atomic_int listed_in_hook;

static tern_verdict list_from_hook(void *ud, tern_ctx *x,
				   const tern_event *ev, tern_reason *why)
{
	listing l = { 0 };

	cr_assert_eq(tern_relay_foreach_live_filter(tern_ctx_relay(x),
						    list_cb, &l), 0);
	atomic_store(&listed_in_hook, l.n);
	return TERN_PASS;
}

Test(hooks, broadcast_and_live_filters)
{
	char buf[4096], id[65], *json, pk[128];
	tern_event ev;
	tern_arena a;
	listing l = { 0 };
	int x, y;

	relay_create(2);
	relay_start();
	x = ws_connect(NULL);
	y = ws_connect(NULL);
	ws_send(x, "[\"REQ\",\"a\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv(x, buf, sizeof buf), "[\"EOSE\",\"a\"]");
	snprintf(pk, sizeof pk, "[\"REQ\",\"b\",{\"authors\":[\"%064d\"]}]",
		 0);
	ws_send(y, pk);
	cr_assert_str_eq(ws_recv(y, buf, sizeof buf), "[\"EOSE\",\"b\"]");

	cr_assert_eq(tern_relay_foreach_live_filter(relay, list_cb, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert(l.saw_kind_1);
	cr_assert(l.saw_author);
	/* From a hook on an I/O thread: its own index is read in place,
	 * the other thread answers. */
	atomic_store(&listed_in_hook, -1);
	cr_assert_eq(tern_on_reject_event(relay, "t", list_from_hook, NULL),
		     0);
	json = note("listing");
	cr_assert_not_null(strstr(publish(y, json, buf, sizeof buf), "OK"));
	free(json);
	cr_assert_eq(atomic_load(&listed_in_hook), 2);
	cr_assert_not_null(strstr(ws_recv(x, buf, sizeof buf), "listing"));
	tern_hooks_remove_owner(relay, "t");

	json = note("only live");
	id_of(json, id);
	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)json, strlen(json),
				      NULL, &a, NULL), 0);
	cr_assert_eq(tern_relay_broadcast(relay, &ev), 0);
	tern_arena_free(&a);
	cr_assert_not_null(strstr(ws_recv(x, buf, sizeof buf), "only live"));
	cr_assert_not(ws_pending(y, 100));
	cr_assert_not(is_stored(id));
	free(json);
	close(x);
	close(y);
}

/* ---- accessors -------------------------------------------------------- */

static atomic_int authed_seen;

static tern_verdict check_auth(void *ud, tern_ctx *x, const tern_event *ev,
			       tern_reason *why)
{
	tern_conn *c = tern_ctx_conn(x);

	if (tern_conn_authed_count(c) == 1 &&
	    memcmp(tern_conn_authed_pubkey(c, 0), ev->pubkey, 32) == 0 &&
	    tern_conn_is_authed_as(c, ev->pubkey) &&
	    tern_conn_authed_pubkey(c, 1) == NULL)
		atomic_fetch_add(&authed_seen, 1);
	else
		tern_conn_request_auth(c);
	return TERN_PASS;
}

Test(hooks, conn_accessors)
{
	char buf[4096], challenge[65], tags[256], *ev;
	int fd;

	atomic_store(&authed_seen, 0);
	relay_create(1);
	cr_assert_eq(tern_on_reject_event(relay, "t", check_auth, NULL), 0);
	relay_start();
	fd = ws_connect(challenge);
	ev = note("before auth");
	publish_msg(fd, ev);
	free(ev);
	/* request_auth: the AUTH comes before the OK. */
	cr_assert(strncmp(ws_recv(fd, buf, sizeof buf), "[\"AUTH\",", 8) == 0,
		  "%s", buf);
	cr_assert_not_null(strstr(ws_recv(fd, buf, sizeof buf), "[\"OK\""));
	snprintf(tags, sizeof tags, "[[\"challenge\",\"%s\"],"
		 "[\"relay\",\"ws://127.0.0.1/\"]]", challenge);
	ev = sign_as(0x21, 22242, tags, "");
	snprintf(buf, sizeof buf, "[\"AUTH\",%s]", ev);
	free(ev);
	ws_send(fd, buf);
	cr_assert_not_null(strstr(ws_recv(fd, buf, sizeof buf), ",true,"));
	ev = note("after auth");
	cr_assert_not_null(strstr(publish(fd, ev, buf, sizeof buf), ",true,"));
	free(ev);
	cr_assert_eq(atomic_load(&authed_seen), 1);
	close(fd);
}

/* ---- on-auth ------------------------------------------------------------ */

static atomic_int auth_calls;
static char auth_last[65];
static size_t auth_count_seen;

static void on_auth(void *ud, tern_ctx *x, const uint8_t pubkey[32])
{
	tern_conn *c = tern_ctx_conn(x);

	cr_assert_not_null(c);
	cr_assert_eq(tern_ctx_relay(x), relay);
	cr_assert_eq(tern_ctx_sub_id(x).n, 0);
	cr_assert(tern_conn_is_authed_as(c, pubkey));
	auth_count_seen = tern_conn_authed_count(c);
	tern_hex_encode(auth_last, pubkey, 32);
	auth_last[64] = 0;
	atomic_fetch_add(&auth_calls, 1);
}

/* Sends an AUTH of seed's key for challenge (spoiled: another one) and
 * returns the OK in buf. */
static char *send_auth(int fd, uint8_t seed, const char *challenge,
		       char *buf, size_t cap)
{
	char tags[256], *ev;

	snprintf(tags, sizeof tags, "[[\"challenge\",\"%s\"],"
		 "[\"relay\",\"ws://127.0.0.1/\"]]", challenge);
	ev = sign_as(seed, 22242, tags, "");
	snprintf(buf, cap, "[\"AUTH\",%s]", ev);
	free(ev);
	ws_send(fd, buf);
	return ws_recv_reply(fd, buf, cap);
}

Test(hooks, on_auth)
{
	char buf[4096], challenge[65], pk[65];
	int fd;

	atomic_store(&auth_calls, 0);
	relay_create(1);
	cr_assert_eq(tern_on_auth(relay, "t", NULL, NULL), TERN_EINVAL);
	cr_assert_eq(tern_on_auth(relay, "t", on_auth, NULL), 0);
	relay_start();
	fd = ws_connect(challenge);

	/* A refused AUTH (wrong challenge) calls nothing. */
	cr_assert_not_null(strstr(send_auth(fd, 0x21, "0123", buf, sizeof buf),
				  ",false,"), "%s", buf);
	cr_assert_eq(atomic_load(&auth_calls), 0);
	/* Each successful AUTH once, with its pubkey, already recorded. */
	cr_assert_not_null(strstr(send_auth(fd, 0x21, challenge, buf,
					    sizeof buf), ",true,"), "%s", buf);
	cr_assert_eq(atomic_load(&auth_calls), 1);
	signer_pubkey(0x21, pk);
	cr_assert_str_eq(auth_last, pk);
	cr_assert_eq(auth_count_seen, 1);
	cr_assert_not_null(strstr(send_auth(fd, 0x22, challenge, buf,
					    sizeof buf), ",true,"), "%s", buf);
	cr_assert_eq(atomic_load(&auth_calls), 2);
	signer_pubkey(0x22, pk);
	cr_assert_str_eq(auth_last, pk);
	cr_assert_eq(auth_count_seen, 2);
	/* Again as the first: called again, the count stays. */
	cr_assert_not_null(strstr(send_auth(fd, 0x21, challenge, buf,
					    sizeof buf), ",true,"), "%s", buf);
	cr_assert_eq(atomic_load(&auth_calls), 3);
	signer_pubkey(0x21, pk);
	cr_assert_str_eq(auth_last, pk);
	cr_assert_eq(auth_count_seen, 2);
	/* Removed: no more calls. */
	tern_hooks_remove_owner(relay, "t");
	cr_assert_not_null(strstr(send_auth(fd, 0x23, challenge, buf,
					    sizeof buf), ",true,"), "%s", buf);
	cr_assert_eq(atomic_load(&auth_calls), 3);
	close(fd);
}

/* ---- backends ----------------------------------------------------------- */

#include <tern/backend.h>

static bool count_rows(void *ctx, tern_slice json, uint64_t serial)
{
	(*(int *)ctx)++;
	return true;
}

static int rows_in(tern_memory *m, const char *filter)
{
	tern_filter f;
	tern_arena a;
	int n = 0;

	tern_arena_init(&a, 0);
	cr_assert_eq(tern_filter_parse(&f, (const uint8_t *)filter,
				       strlen(filter), NULL, &a, NULL), 0);
	cr_assert_eq(tern_backend_query(&tern_memory_backend, m, &f, 1, 0,
					count_rows, &n), 0);
	tern_arena_free(&a);
	return n;
}

/* ---- the configured store opens lazily; backends are flushed ----------- */

/* A backend over a tern_memory whose saves complete later, on a thread of
 * their own, and whose flush waits for them. */
typedef struct late {
	tern_memory *mem;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending;
	atomic_int flushes;
} late;

typedef struct late_save {
	late *l;
	tern_write_result res;
	tern_store_write_cb cb;
	void *ctx;
} late_save;

static void *late_main(void *arg)
{
	late_save *s = arg;
	late *l = s->l;

	usleep(100000);
	if (s->cb)
		s->cb(s->ctx, &s->res);
	pthread_mutex_lock(&l->mu);
	l->pending--;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	free(s);
	return NULL;
}

static void late_cb(void *ctx, const tern_write_result *res)
{
	((late_save *)ctx)->res = *res;
}

static int late_save_fn(void *self, const tern_event *ev,
			tern_store_write_cb cb, void *ctx)
{
	late *l = self;
	late_save *s = calloc(1, sizeof *s);
	pthread_t t;
	int rc;

	cr_assert_not_null(s);
	s->l = l;
	s->cb = cb;
	s->ctx = ctx;
	rc = tern_memory_backend.save(l->mem, ev, late_cb, s);
	cr_assert_eq(rc, 0);
	pthread_mutex_lock(&l->mu);
	l->pending++;
	pthread_mutex_unlock(&l->mu);
	cr_assert_eq(pthread_create(&t, NULL, late_main, s), 0);
	pthread_detach(t);
	return 0;
}

static void late_flush(void *self)
{
	late *l = self;

	atomic_fetch_add(&l->flushes, 1);
	pthread_mutex_lock(&l->mu);
	while (l->pending)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

static int late_qb(void *self, const tern_filter *fs, size_t n,
		   uint32_t cap, void **q)
{
	return tern_memory_backend.query_begin(((late *)self)->mem, fs, n, cap,
					       q);
}

static int late_qn(void *self, void *q, uint32_t max, tern_store_visit_cb cb,
		   void *ctx)
{
	return tern_memory_backend.query_next(((late *)self)->mem, q, max, cb,
					      ctx);
}

static void late_qe(void *self, void *q)
{
	tern_memory_backend.query_end(((late *)self)->mem, q);
}

static const tern_backend_ops late_backend = {
	.name = "late",
	.save = late_save_fn,
	.query_begin = late_qb,
	.query_next = late_qn,
	.query_end = late_qe,
	.flush = late_flush,
};

static void late_init(late *l)
{
	memset(l, 0, sizeof *l);
	cr_assert_eq(tern_memory_open(&l->mem, NULL), 0);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
}

/* A relay with its own backend: its store.dir is a path that must never
 * be created. */
static void relay_create_nostore(char *never, size_t cap)
{
	tern_config cfg;
	char err[256];

	strcpy(dbdir, "/tmp/tern-hooks-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	snprintf(never, cap, "%s/never", dbdir);
	tern_config_defaults(&cfg);
	cfg.relay.port = port = free_port();
	cfg.relay.io_threads = 2;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.store.dir = never;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
}

Test(hooks, custom_backend_needs_no_store_and_is_flushed)
{
	char never[128], buf[4096], *e;
	struct sigaction sa;
	struct stat st;
	late l;
	int fd;

	/* The test runner may have left SIGPIPE ignored: start from the
	 * default to see the relay change it. */
	signal(SIGPIPE, SIG_DFL);
	late_init(&l);
	relay_create_nostore(never, sizeof never);
	cr_assert_eq(stat(never, &st), -1, "store opened by tern_relay_new");
	cr_assert_eq(tern_relay_set_backend(relay, &late_backend, &l), 0);
	relay_start();
	fd = ws_connect(NULL);
	e = note("kept late");
	cr_assert_not_null(strstr(publish(fd, e, buf, sizeof buf), ",true,"));
	/* One more whose save is still completing when the relay stops. */
	free(e);
	e = note("in flight at stop");
	publish_msg(fd, e);
	usleep(20000);
	cr_assert_eq(sigaction(SIGPIPE, NULL, &sa), 0);
	cr_assert(sa.sa_handler == SIG_IGN, "SIGPIPE is not ignored");
	close(fd);
	relay_join();
	/* tern_relay_run() returned after the backend's flush. */
	cr_assert_eq(atomic_load(&l.flushes), 1);
	cr_assert_eq(l.pending, 0);
	cr_assert_eq(rows_in(l.mem, "{}"), 2);
	cr_assert_eq(stat(never, &st), -1, "the unused store was opened");
	relay_finish();
	tern_memory_close(l.mem);
	free(e);
}

static void keep_handler(int sig)
{
	(void)sig;
}

Test(hooks, own_sigpipe_handler_kept_and_store_opened_on_demand)
{
	char never[128];
	struct sigaction sa;
	struct stat st;
	late l;

	signal(SIGPIPE, keep_handler);
	late_init(&l);
	relay_create_nostore(never, sizeof never);
	cr_assert_eq(tern_relay_set_backend(relay, &late_backend, &l), 0);
	relay_start();
	usleep(50000);
	cr_assert_eq(sigaction(SIGPIPE, NULL, &sa), 0);
	cr_assert(sa.sa_handler == keep_handler);
	/* tern_relay_store() opens the configured store when asked. */
	cr_assert_not_null(tern_relay_store(relay));
	cr_assert_eq(stat(never, &st), 0);
	relay_finish();
	tern_memory_close(l.mem);
}
