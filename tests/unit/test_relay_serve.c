/*
 * The relay end to end, in process: a tern_relay on 127.0.0.1 driven by a
 * raw TCP WebSocket client. Covers what needs the whole connection path:
 * connections per IP (relay-wide, over several I/O threads), the
 * reject-connection hooks, and the order of replies on one connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <tern/config.h>
#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>
#include <tern/hooks.h>
#include <tern/relay.h>

#include "relay_client.h"
#include "signer.h"

#include "relay/relay.h"

static tern_relay *relay;
static pthread_t runner;
static char dbdir[64];

/* Creates the relay (cfg tweaked by the test) without running it. */
static void relay_create(uint32_t per_ip, unsigned threads)
{
	tern_config cfg;
	char err[256];

	strcpy(dbdir, "/tmp/tern-serve-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	tern_config_defaults(&cfg);
	cfg.relay.port = port = free_port();
	cfg.relay.io_threads = threads;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.relay.limits.max_connections_per_ip = per_ip;
	cfg.store.dir = dbdir;
	cfg.store.no_sync = true;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
}

static void relay_start(void)
{
	cr_assert_eq(pthread_create(&runner, NULL, run_main, relay), 0);
}

static void relay_finish(void)
{
	char cmd[128];

	if (!relay)
		return;
	tern_relay_stop(relay);
	pthread_join(runner, NULL);
	tern_relay_free(relay);
	relay = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dbdir);
}

/* ---- a raw client --------------------------------------------------- */

static int ws_open(int *status, char *resp, size_t cap)
{
	int fd = dial();

	*status = http(fd, upgrade_req, resp, cap);
	return fd;
}

/* ---- signed events -------------------------------------------------- */

/* An event signed by the key of seed; tags is JSON, content plain text. */
__attribute__((noinline)) static char *sign_as(uint8_t seed, unsigned kind,
					       const char *tags,
					       const char *content)
{
	return signer_event(seed, kind, tags, content, (long long)time(NULL),
			    false);
}

static char *signed_event(const char *content)
{
	return sign_as(0x17, 1, "[]", content);
}

/* ---- tests ---------------------------------------------------------- */

TestSuite(relay_serve, .fini = relay_finish, .timeout = 60);

/* Waits until the relay-wide table counts n connections from 127.0.0.1. */
static void wait_count(uint32_t n)
{
	for (int i = 0; i < 500; i++) {
		if (tern__iplimit_count(relay->iplim, "127.0.0.1") == n)
			return;
		usleep(10000);
	}
	cr_assert_fail("count never reached %u", n);
}

Test(relay_serve, connections_per_ip_are_counted_relay_wide)
{
	char resp[2048];
	int fds[4], st;

	relay_create(3, 2);
	relay_start();
	/* Several connections: with 2 threads the kernel spreads them over
	 * both listeners, and the limit is still 3 in all. */
	for (int i = 0; i < 3; i++) {
		fds[i] = ws_open(&st, resp, sizeof resp);
		cr_assert_eq(st, 101, "%s", resp);
	}
	wait_count(3);
	fds[3] = ws_open(&st, resp, sizeof resp);
	cr_assert_eq(st, 429, "%s", resp);
	cr_assert_not_null(strstr(resp, "Access-Control-Allow-Origin: *"));
	cr_assert_not_null(strstr(resp, "too many connections"));
	close(fds[3]);
	/* A plain request over the limit is refused too. */
	fds[3] = dial();
	st = http(fds[3], "GET / HTTP/1.1\r\nHost: x\r\n"
		  "Accept: application/nostr+json\r\n\r\n", resp, sizeof resp);
	cr_assert_eq(st, 429, "%s", resp);
	close(fds[3]);
	close(fds[0]);
	wait_count(2);
	fds[0] = ws_open(&st, resp, sizeof resp);
	cr_assert_eq(st, 101, "room again after a close: %s", resp);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	wait_count(0);
}

static tern_verdict refuse_upgrades(void *ud, tern_ctx *x, tern_reason *why)
{
	(*(int *)ud)++;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "not today");
	return TERN_REJECT;
}

Test(relay_serve, reject_connection_hooks_answer_429)
{
	static int calls;
	char resp[2048];
	int fd, st;

	relay_create(0, 1);
	cr_assert_eq(tern_on_reject_connection(relay, "test", refuse_upgrades,
					       &calls), 0);
	relay_start();
	fd = ws_open(&st, resp, sizeof resp);
	cr_assert_eq(st, 429, "%s", resp);
	cr_assert_not_null(strstr(resp, "blocked: not today"), "%s", resp);
	cr_assert_not_null(strstr(resp, "Access-Control-Allow-Origin: *"));
	close(fd);
	cr_assert_eq(calls, 1);
	/* Only WebSocket upgrades go through the hooks. */
	fd = dial();
	st = http(fd, "GET / HTTP/1.1\r\nHost: x\r\n"
		  "Accept: application/nostr+json\r\n\r\n", resp, sizeof resp);
	cr_assert_eq(st, 200, "%s", resp);
	close(fd);
	cr_assert_eq(calls, 1);
}

/* Pipelined messages get their replies in order: the OK of each EVENT
 * (sent after the store commits) before the replies to later messages. */
Test(relay_serve, replies_keep_the_order_of_messages)
{
	char resp[2048], buf[65536], want[256];
	uint8_t out[1 << 16];
	char *ev[3], ids[3][65];
	size_t n = 0;
	int fd, st;

	relay_create(0, 1);
	relay_start();
	fd = ws_open(&st, resp, sizeof resp);
	cr_assert_eq(st, 101, "%s", resp);
	cr_assert_not_null(strstr(ws_recv(fd, buf, sizeof buf), "[\"AUTH\""));
	for (int i = 0; i < 3; i++) {
		char content[16];

		snprintf(content, sizeof content, "order %d", i);
		ev[i] = signed_event(content);
		memcpy(ids[i], strstr(ev[i], "\"id\":\"") + 6, 64);
		ids[i][64] = 0;
	}
	/* One write: EVENT, bad message, EVENT, REQ for both, COUNT, EVENT */
	snprintf(buf, sizeof buf, "[\"EVENT\",%s]", ev[0]);
	n += ws_frame(out + n, buf);
	n += ws_frame(out + n, "[\"NOPE\"]");
	snprintf(buf, sizeof buf, "[\"EVENT\",%s]", ev[1]);
	n += ws_frame(out + n, buf);
	snprintf(buf, sizeof buf, "[\"REQ\",\"r\",{\"ids\":[\"%s\",\"%s\"]}]",
		 ids[0], ids[1]);
	n += ws_frame(out + n, buf);
	n += ws_frame(out + n, "[\"COUNT\",\"c\",{\"kinds\":[1]}]");
	snprintf(buf, sizeof buf, "[\"EVENT\",%s]", ev[2]);
	n += ws_frame(out + n, buf);
	send_all(fd, out, n);

	snprintf(want, sizeof want, "[\"OK\",\"%s\",true,\"\"]", ids[0]);
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), want);
	cr_assert_not_null(strstr(ws_recv(fd, buf, sizeof buf), "[\"NOTICE\""),
			   "%s", buf);
	snprintf(want, sizeof want, "[\"OK\",\"%s\",true,\"\"]", ids[1]);
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), want);
	/* The REQ's stored events (if the commit came first), then EOSE. */
	for (;;) {
		ws_recv(fd, buf, sizeof buf);
		if (strncmp(buf, "[\"EOSE\"", 7) == 0)
			break;
		cr_assert(strncmp(buf, "[\"EVENT\",\"r\"", 12) == 0, "%s",
			  buf);
	}
	cr_assert(strncmp(ws_recv(fd, buf, sizeof buf), "[\"COUNT\",\"c\"", 12)
		  == 0, "%s", buf);
	snprintf(want, sizeof want, "[\"OK\",\"%s\",true,\"\"]", ids[2]);
	cr_assert_str_eq(ws_recv(fd, buf, sizeof buf), want);
	close(fd);
	for (int i = 0; i < 3; i++)
		free(ev[i]);
}

/* Publishes an event and waits for its OK true. */
static void publish(int fd, char *ev)
{
	char *msg, buf[4096];

	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", ev) > 0);
	ws_send(fd, msg);
	ws_recv(fd, buf, sizeof buf);
	cr_assert(strstr(buf, "[\"OK\"") && strstr(buf, ",true,"), "%s", buf);
	free(msg);
	free(ev);
}

static void expect_count(int fd, const char *filter, unsigned want)
{
	char *msg, buf[4096], exp[128];

	cr_assert(asprintf(&msg, "[\"COUNT\",\"q\",%s]", filter) > 0);
	ws_send(fd, msg);
	ws_recv(fd, buf, sizeof buf);
	snprintf(exp, sizeof exp, "[\"COUNT\",\"q\",{\"count\":%u}]", want);
	cr_assert_str_eq(buf, exp, "COUNT %s", filter);
	free(msg);
}

/* COUNT honours restricted kinds (4 and 1059 by default) exactly: an
 * authed connection counts the restricted events it is a party to, and
 * nobody counts the others. */
Test(relay_serve, count_with_restricted_kinds)
{
	char resp[2048], buf[4096], A[65], B[65], C[65], tags[160], *q;
	char challenge[64] = "";
	int fd, st;

	signer_pubkey(0xA1, A);
	signer_pubkey(0xB2, B);
	signer_pubkey(0xC3, C);
	relay_create(0, 1);
	relay_start();
	fd = ws_open(&st, resp, sizeof resp);
	cr_assert_eq(st, 101, "%s", resp);
	ws_recv(fd, buf, sizeof buf);
	cr_assert_eq(sscanf(buf, "[\"AUTH\",\"%63[0-9a-f]\"]", challenge), 1,
		     "%s", buf);

	publish(fd, sign_as(0xA1, 1, "[]", "a note by A"));
	publish(fd, sign_as(0xB2, 1, "[]", "a note by B"));
	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"]]", B);
	publish(fd, sign_as(0xA1, 4, tags, "A to B"));
	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"]]", A);
	publish(fd, sign_as(0xB2, 4, tags, "B to A"));
	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"]]", C);
	publish(fd, sign_as(0xB2, 4, tags, "B to C"));
	publish(fd, sign_as(0xC3, 1059, tags, "wrapped for C"));

	/* Not authed: restricted events are not counted at all. */
	expect_count(fd, "{}", 2);
	expect_count(fd, "{\"kinds\":[1]}", 2);
	cr_assert(asprintf(&q, "{\"authors\":[\"%s\"]}", B) > 0);
	expect_count(fd, q, 1);
	free(q);

	/* Authed as A. */
	snprintf(tags, sizeof tags, "[[\"challenge\",\"%s\"],"
		 "[\"relay\",\"ws://127.0.0.1/\"]]", challenge);
	q = sign_as(0xA1, 22242, tags, "");
	snprintf(buf, sizeof buf, "[\"AUTH\",%s]", q);
	free(q);
	ws_send(fd, buf);
	ws_recv(fd, buf, sizeof buf);
	cr_assert(strstr(buf, ",true,"), "%s", buf);

	expect_count(fd, "{}", 4);
	expect_count(fd, "{\"kinds\":[4]}", 2);
	expect_count(fd, "{\"kinds\":[1,4,1059]}", 4);
	expect_count(fd, "{\"kinds\":[1059]}", 0);
	cr_assert(asprintf(&q, "{\"kinds\":[4],\"authors\":[\"%s\"]}", A) > 0);
	expect_count(fd, q, 1);
	free(q);
	cr_assert(asprintf(&q, "{\"kinds\":[4],\"#p\":[\"%s\"]}", A) > 0);
	expect_count(fd, q, 1);
	free(q);
	cr_assert(asprintf(&q, "{\"authors\":[\"%s\"]}", B) > 0);
	expect_count(fd, q, 2);
	free(q);
	cr_assert(asprintf(&q, "{\"authors\":[\"%s\"]},{\"kinds\":[1059]}",
			   C) > 0);
	expect_count(fd, q, 0);
	free(q);
	close(fd);
}
