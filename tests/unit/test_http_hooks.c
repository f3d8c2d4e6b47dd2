/*
 * HTTP handlers (tern_on_http_request(), src/relay/http_hooks.c): a relay
 * in process on 127.0.0.1 and a raw HTTP client over TCP. Checks which
 * requests reach the handlers, the request they see, the answers they
 * give (status, type, headers, body, CORS), declining and the relay's
 * own answers behind them, the body bound, and that a blocking handler
 * does not hold up the I/O thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <tern/backend.h>
#include <tern/config.h>
#include <tern/error.h>
#include <tern/hooks.h>
#include <tern/relay.h>

#include "relay_client.h"

static tern_relay *relay;
static tern_memory *mem;
static pthread_t runner;
static bool running;

static void relay_create(void)
{
	tern_config cfg;
	char err[256];

	tern_config_defaults(&cfg);
	cfg.relay.port = port = free_port();
	cfg.relay.io_threads = 1;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
	cr_assert_eq(tern_memory_open(&mem, NULL), 0);
	cr_assert_eq(tern_relay_set_backend(relay, &tern_memory_backend, mem),
		     0);
}

static void relay_start(void)
{
	cr_assert_eq(pthread_create(&runner, NULL, run_main, relay), 0);
	running = true;
}

static void relay_finish(void)
{
	if (!relay)
		return;
	tern_relay_stop(relay);
	if (running)
		pthread_join(runner, NULL);
	running = false;
	tern_relay_free(relay);
	relay = NULL;
	tern_memory_close(mem);
}

TestSuite(http_hooks, .fini = relay_finish, .timeout = 60);

/* One request on a new connection; the whole answer in resp. */
static int request(const char *req, char *resp, size_t cap)
{
	int fd = dial();
	int status = http(fd, req, resp, cap);

	close(fd);
	return status;
}

static void send_text(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* The body of an answer (after the head). */
static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	cr_assert_not_null(p, "%s", resp);
	return p + 4;
}

/* ---- handlers ------------------------------------------------------- */

static const char owner[] = "test";
static atomic_int declines, calls;

/* Declines everything, after setting an answer that must be dropped. */
static bool decliner(void *ud, const tern_http_request *req,
		     tern_http_response *res)
{
	atomic_fetch_add(&declines, 1);
	cr_assert_eq(tern_http_respond(res, 418, "text/plain", "no", 2), 0);
	cr_assert_eq(tern_http_response_header(res, "X-Dropped", "1"), 0);
	return false;
}

static atomic_int header_checks;

static bool app(void *ud, const tern_http_request *req,
		tern_http_response *res)
{
	char out[2048];
	int n;

	atomic_fetch_add(&calls, 1);
	cr_assert_eq(req->relay, relay);
	cr_assert_str_eq(req->ip, "127.0.0.1");
	cr_assert_gt(req->conn_id, 0);
	if (strcmp(req->path, "/health") == 0) {
		/* What the relay writes itself cannot be set; nor bad
		 * names and values. */
		if (tern_http_response_header(res, "Content-Length", "1") ==
			    TERN_EINVAL &&
		    tern_http_response_header(res, "access-control-allow-origin",
					      "x") == TERN_EINVAL &&
		    tern_http_response_header(res, "Bad Name", "x") ==
			    TERN_EINVAL &&
		    tern_http_response_header(res, "X-Ok", "a\r\nX-Evil: 1") ==
			    TERN_EINVAL &&
		    tern_http_respond(res, 101, NULL, NULL, 0) == TERN_EINVAL &&
		    tern_http_respond(res, 200, "text/plain\r\nX: y", NULL,
				      0) == TERN_EINVAL)
			atomic_fetch_add(&header_checks, 1);
		cr_assert_eq(tern_http_response_header(res, "Cache-Control",
						       "no-store"), 0);
		cr_assert_eq(tern_http_respond(res, 200,
					       "text/plain; charset=utf-8",
					       "ok\n", 3), 0);
		return true;
	}
	if (strcmp(req->path, "/echo") == 0) {
		const char *x = tern_http_request_header(req, "x-thing");

		n = snprintf(out, sizeof out, "%s q=%s x=%s n=%zu body=%.*s",
			     req->method, req->query ? req->query : "(none)",
			     x ? x : "(none)", req->nheaders,
			     (int)req->body.n, (const char *)req->body.p);
		cr_assert_eq(tern_http_respond(res, 201, "text/plain", out,
					       (size_t)n), 0);
		return true;
	}
	if (strcmp(req->path, "/") == 0) {
		cr_assert_eq(tern_http_respond(res, 202, NULL, NULL, 0), 0);
		return true;
	}
	if (strcmp(req->path, "/empty") == 0) {
		cr_assert_eq(tern_http_respond(res, 204, "text/plain", "x", 1),
			     0);
		return true;
	}
	if (strcmp(req->path, "/forgot") == 0)
		return true; /* no tern_http_respond(): 500 */
	if (strcmp(req->path, "/slow") == 0) {
		usleep(400 * 1000);
		cr_assert_eq(tern_http_respond(res, 200, NULL, "slow", 4), 0);
		return true;
	}
	return false;
}

/* ---- tests ------------------------------------------------------------ */

/* Without handlers: the relay's own answers, as before. */
Test(http_hooks, none_registered)
{
	char resp[8192];

	relay_create();
	relay_start();
	cr_assert_eq(request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 404);
	cr_assert_eq(request("POST /x HTTP/1.1\r\nHost: x\r\n"
			     "Content-Length: 2\r\n\r\nhi", resp, sizeof resp),
		     405);
	cr_assert_not_null(strstr(resp, "Allow: GET, HEAD, OPTIONS\r\n"));
	cr_assert_eq(request("OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 204);
	cr_assert_eq(request("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 405);
	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 200);
	cr_assert_not_null(strstr(resp, "Nostr relay"));
}

Test(http_hooks, answers_and_declines)
{
	char resp[8192];
	int fd;

	atomic_store(&declines, 0);
	atomic_store(&calls, 0);
	atomic_store(&header_checks, 0);
	relay_create();
	cr_assert_eq(tern_on_http_request(relay, owner, NULL, NULL),
		     TERN_EINVAL);
	cr_assert_eq(tern_on_http_request(relay, owner, decliner, NULL), 0);
	cr_assert_eq(tern_on_http_request(relay, owner, app, NULL), 0);
	relay_start();

	/* Answered by the second handler: its status, type, header and
	 * body, with the CORS headers of every reply; nothing of what the
	 * first set before declining. */
	cr_assert_eq(request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 200);
	cr_assert_not_null(strstr(resp, "Content-Type: text/plain; "
				  "charset=utf-8\r\n"), "%s", resp);
	cr_assert_not_null(strstr(resp, "Cache-Control: no-store\r\n"));
	cr_assert_not_null(strstr(resp, "Access-Control-Allow-Origin: *\r\n"));
	cr_assert_not_null(strstr(resp, "Content-Length: 3\r\n"));
	cr_assert_null(strstr(resp, "X-Dropped"));
	cr_assert_str_eq(body_of(resp), "ok\n");
	cr_assert_eq(atomic_load(&declines), 1);
	cr_assert_eq(atomic_load(&calls), 1);
	cr_assert_eq(atomic_load(&header_checks), 1);

	/* HEAD: the length, no body. */
	cr_assert_eq(request("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 200);
	cr_assert_not_null(strstr(resp, "Content-Length: 3\r\n"));
	cr_assert_str_eq(body_of(resp), "");

	/* The request as sent: method, query, headers, body. */
	cr_assert_eq(request("POST /echo?a=1&b HTTP/1.1\r\nHost: x\r\n"
			     "X-Thing:  value \r\nContent-Length: 5\r\n\r\n"
			     "hello", resp, sizeof resp), 201);
	cr_assert_str_eq(body_of(resp),
			 "POST q=a=1&b x=value n=3 body=hello");
	cr_assert_eq(request("PUT /echo HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 201);
	cr_assert_str_eq(body_of(resp), "PUT q=(none) x=(none) n=1 body=");
	/* A body sent in several pieces is waited for. */
	fd = dial();
	send_text(fd, "POST /echo? HTTP/1.1\r\nHost: x\r\nContent-Length: 6"
		  "\r\n\r\nab");
	usleep(100 * 1000);
	cr_assert_eq(http(fd, "cdef", resp, sizeof resp), 201);
	close(fd);
	cr_assert_str_eq(body_of(resp), "POST q= x=(none) n=2 body=abcdef");

	/* "/" with a method the relay does not serve goes to the handlers;
	 * GET "/" stays the relay's. */
	cr_assert_eq(request("POST / HTTP/1.1\r\nHost: x\r\n"
			     "Content-Length: 0\r\n\r\n", resp, sizeof resp),
		     202);
	atomic_store(&calls, 0);
	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 200);
	cr_assert_not_null(strstr(resp, "Nostr relay"));
	cr_assert_eq(request("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 204);
	cr_assert_eq(atomic_load(&calls), 0);

	/* 204: no body sent, whatever was set. */
	cr_assert_eq(request("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 204);
	cr_assert_str_eq(body_of(resp), "");
	cr_assert_null(strcasestr(resp, "Content-Length"));
	/* true without an answer: 500. */
	cr_assert_eq(request("GET /forgot HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 500);

	/* Every handler declines: the relay's own 404 / 405 / 204. */
	cr_assert_eq(request("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 404);
	cr_assert_not_null(strstr(resp, "Access-Control-Allow-Origin: *\r\n"));
	cr_assert_eq(request("DELETE /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
			     resp, sizeof resp), 405);
	cr_assert_eq(request("OPTIONS /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
			     resp, sizeof resp), 204);

	/* A body over the bound is refused before any handler. */
	atomic_store(&calls, 0);
	cr_assert_eq(request("POST /echo HTTP/1.1\r\nHost: x\r\n"
			     "Content-Length: 1048577\r\n\r\n", resp,
			     sizeof resp), 413);
	cr_assert_eq(atomic_load(&calls), 0);

	/* WebSocket upgrades are the relay's on any path. */
	fd = dial();
	cr_assert_eq(http(fd, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			  "Sec-WebSocket-Version: 13\r\n\r\n", resp,
			  sizeof resp), 101);
	close(fd);
	cr_assert_eq(atomic_load(&calls), 0);

	/* Removed with their owner: back to 404. */
	tern_hooks_remove_owner(relay, owner);
	cr_assert_eq(request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", resp,
			     sizeof resp), 404);
}

/* A body of exactly TERN_HTTP_MAX_BODY bytes reaches the handler. */
static bool body_size(void *ud, const tern_http_request *req,
		      tern_http_response *res)
{
	char out[64];
	bool same = true;
	int n;

	for (size_t i = 0; i < req->body.n && same; i++)
		same = req->body.p[i] == (uint8_t)('a' + i % 26);
	n = snprintf(out, sizeof out, "%zu %s", req->body.n,
		     same ? "intact" : "garbled");
	return tern_http_respond(res, 200, "text/plain", out, (size_t)n) == 0;
}

Test(http_hooks, largest_body)
{
	char resp[4096], head[128];
	size_t n = TERN_HTTP_MAX_BODY;
	char *body = malloc(n);
	int fd, hn;

	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	relay_create();
	cr_assert_eq(tern_on_http_request(relay, owner, body_size, NULL), 0);
	relay_start();
	fd = dial();
	hn = snprintf(head, sizeof head, "PUT /upload HTTP/1.1\r\nHost: x\r\n"
		      "Content-Length: %zu\r\n\r\n", n);
	send_all(fd, head, (size_t)hn);
	send_all(fd, body, n);
	cr_assert_eq(http(fd, "", resp, sizeof resp), 200);
	close(fd);
	cr_assert_str_eq(body_of(resp), "1048576 intact");
	free(body);
}

/* A handler that blocks holds its own request only: the I/O thread (one
 * here) serves WebSocket traffic meanwhile. */
Test(http_hooks, blocking_handler_does_not_stall_the_relay)
{
	char resp[8192], buf[256];
	struct timespec t0, t1;
	int slow, ws;
	double ms;

	relay_create();
	cr_assert_eq(tern_on_http_request(relay, owner, app, NULL), 0);
	relay_start();
	slow = dial();
	send_text(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(50 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ws = dial();
	cr_assert_eq(http(ws, upgrade_req, resp, sizeof resp), 101);
	ws_send(ws, "[\"REQ\",\"s\",{\"kinds\":[1]}]");
	cr_assert_str_eq(ws_recv_reply(ws, buf, sizeof buf),
			 "[\"EOSE\",\"s\"]");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_lt(ms, 300.0, "the WebSocket waited %.0f ms", ms);
	close(ws);
	cr_assert_eq(http(slow, "", resp, sizeof resp), 200);
	cr_assert_str_eq(body_of(resp), "slow");
	close(slow);
}

/* Stopping the relay waits for a handler in progress. */
Test(http_hooks, stop_waits_for_handlers)
{
	int fd;

	relay_create();
	cr_assert_eq(tern_on_http_request(relay, owner, app, NULL), 0);
	relay_start();
	fd = dial();
	send_text(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(100 * 1000);
	tern_relay_stop(relay);
	pthread_join(runner, NULL);
	running = false;
	close(fd);
}
