/* One client connection's transport (conn.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/log.h>

#include "http/request.h"
#include "relay/conn.h"
#include "relay/http_hooks.h"
#include "relay/io.h"
#include "relay/manage.h"
#include "relay/session.h"
#include "relay/wire.h"
#include "ws/handshake.h"

/* Time a client gets to send its request head, and to answer our close. */
#define HEAD_TIMEOUT_MS 10000
#define CLOSE_TIMEOUT_MS 3000
#define IOV_BATCH 256

static void on_close(uv_handle_t *h);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static tern__settings *S(tern__conn *c)
{
	return c->io->set;
}

/* ---- accept and close ------------------------------------------------- */

static void peer_ip(tern__conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;

	strcpy(c->ip, "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof c->ip);
	else if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof c->ip);
}

/* Counts c under c->ip in the relay-wide table (conn.h). */
static void count_ip(tern__conn *c)
{
	int rc;

	c->ip_counted = true;
	rc = tern__iplimit_acquire(c->io->r->iplim, c->ip,
				   S(c)->lim.max_connections_per_ip,
				   &c->ipslot);
	if (rc == TERN_EFULL)
		c->ip_over = true;
	else if (rc)
		tern_log(TERN_LOG_WARN, "relay", "#%llu %s: not counted: %s",
			 (unsigned long long)c->serial, c->ip,
			 tern_strerror(rc));
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	tern__conn *c = h->data;

	/* Input is processed synchronously in on_read, so one buffer per
	 * thread serves every connection. */
	buf->base = (char *)c->io->readbuf;
	buf->len = sizeof c->io->readbuf;
}

/* The part of accepting that follows uv_accept()/uv_tcp_open(). */
static void conn_setup(tern__io *io, tern__conn *c)
{
	static atomic_uint_fast64_t serials;

	uv_tcp_nodelay(&c->tcp, 1);
	c->serial = atomic_fetch_add(&serials, 1) + 1;
	c->opened = c->last_rx = tern__io_now(io);
	tern__outq_init(&c->out);
	tern__order_init(&c->order);
	peer_ip(c);
	if (!S(c)->trusted_proxy_header)
		count_ip(c);
	c->next = io->conns;
	if (io->conns)
		io->conns->prev = c;
	io->conns = c;
	io->nconns++;
	atomic_fetch_add(&io->r->n_conns, 1);
	atomic_fetch_add(&io->r->n_accepted, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read))
		tern__conn_abort(c);
}

void tern__conn_accept(tern__io *io)
{
	tern__conn *c = calloc(1, sizeof *c);

	if (!c) {
		tern_log(TERN_LOG_ERROR, "relay", "accept: out of memory");
		return;
	}
	c->io = io;
	uv_tcp_init(&io->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept((uv_stream_t *)&io->listener, (uv_stream_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
		return;
	}
	conn_setup(io, c);
}

tern__conn *tern__conn_adopt(tern__io *io, int fd)
{
	tern__conn *c = calloc(1, sizeof *c);

	if (!c) {
		close(fd);
		return NULL;
	}
	c->io = io;
	uv_tcp_init(&io->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_tcp_open(&c->tcp, fd)) {
		close(fd);
		uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
		return NULL;
	}
	conn_setup(io, c);
	return c;
}

void tern__conn_abort(tern__conn *c)
{
	if (c->state == TERN__CONN_DEAD || c->handle_closed)
		return;
	c->state = TERN__CONN_DEAD;
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void unlink_dirty(tern__conn *c)
{
	tern__conn **pp = &c->io->dirty;

	if (!c->dirty)
		return;
	for (; *pp; pp = &(*pp)->dirty_next) {
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	}
	c->dirty = false;
}

static void on_close(uv_handle_t *h)
{
	tern__conn *c = h->data;
	tern__io *io = c->io;

	c->handle_closed = true;
	unlink_dirty(c);
	/* WebSocket sessions get an info line; plain HTTP requests (NIP-11,
	 * the page) are logged at debug level only. */
	tern_log(c->upgraded ? TERN_LOG_INFO : TERN_LOG_DEBUG, "relay",
		 "close #%llu %s after %.1fs", (unsigned long long)c->serial,
		 c->ip, (double)(tern__io_now(io) - c->opened) / 1000.0);
	/* The hooks still see the session (authed pubkeys), then the user
	 * data goes. */
	if (c->hk.connected)
		tern__run_disconnect(io->r, c);
	tern__conn_hooks_free(&c->hk);
	tern__session_close(c);
	tern__order_clear(&c->order);
	tern__iplimit_release(io->r->iplim, c->ipslot);
	c->ipslot = NULL;
	tern__outq_free(&c->out);
	free(c->head);
	c->head = NULL;
	tern__ws_buf_free(&c->wmsg);
	tern__ws_pmd_conn_free(&c->pmd);
	io->nconns--;
	atomic_fetch_sub(&io->r->n_conns, 1);
	tern__conn_release(c);
}

void tern__conn_release(tern__conn *c)
{
	tern__io *io = c->io;

	if (!c->handle_closed || c->pending > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		io->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* ---- output ----------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
	tern__conn *c = req->data;

	tern__outq_consume(&c->out, c->inflight);
	c->inflight = 0;
	if (status < 0) {
		tern__conn_abort(c);
		return;
	}
	if (!c->handle_closed)
		tern__conn_flush(c);
}

/* Output drained: finish a connection that only waited for it. */
static void drained(tern__conn *c)
{
	if (c->state == TERN__CONN_HTTP_END ||
	    (c->state == TERN__CONN_CLOSING && c->peer_closed))
		tern__conn_abort(c);
}

void tern__conn_flush(tern__conn *c)
{
	struct iovec iov[IOV_BATCH];
	unsigned n;
	int rc;

	if (c->handle_closed || c->state == TERN__CONN_DEAD || c->inflight)
		return;
	while (!tern__outq_empty(&c->out)) {
		n = tern__outq_iov(&c->out, iov, IOV_BATCH);
		rc = uv_try_write((uv_stream_t *)&c->tcp, (uv_buf_t *)iov, n);
		if (rc == UV_EAGAIN)
			break;
		if (rc < 0) {
			tern__conn_abort(c);
			return;
		}
		tern__outq_consume(&c->out, (size_t)rc);
		if (!tern__outq_empty(&c->out) && n < IOV_BATCH)
			break; /* the kernel buffer is full */
	}
	if (tern__outq_empty(&c->out)) {
		drained(c);
		return;
	}
	/* Let libuv wait for writability and write the rest. */
	n = tern__outq_iov(&c->out, iov, IOV_BATCH);
	c->inflight = 0;
	for (unsigned i = 0; i < n; i++)
		c->inflight += iov[i].iov_len;
	c->wreq.data = c;
	rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, (uv_buf_t *)iov, n,
		      on_write);
	if (rc) {
		c->inflight = 0;
		tern__conn_abort(c);
	}
}

static void slow_consumer(tern__conn *c)
{
	uint8_t frame[TERN__WS_CLOSE_FRAME_MAX];
	size_t n;

	atomic_fetch_add(&c->io->r->n_slow, 1);
	tern_log(TERN_LOG_WARN, "relay",
		 "#%llu %s: slow consumer (%zu bytes queued), closing",
		 (unsigned long long)c->serial, c->ip, c->out.bytes);
	tern__outq_drop_unsent(&c->out, c->inflight);
	tern__order_clear(&c->order);
	n = tern__ws_close_frame(frame, TERN__WS_CLOSE_POLICY,
				 "slow consumer", 13);
	if (tern__outq_copy(&c->out, frame, n)) {
		tern__conn_abort(c);
		return;
	}
	tern__outq_end_frame(&c->out);
	c->state = TERN__CONN_CLOSING;
	c->close_deadline = tern__io_now(c->io) + CLOSE_TIMEOUT_MS;
	tern__io_mark_dirty(c->io, c);
}

/* Applies the output bound to queued and held bytes. */
static int check_backlog(tern__conn *c)
{
	if (tern__conn_backlog(c) <= S(c)->lim.max_output_queue)
		return 0;
	/* Past the cap: the client is slow only if the kernel will not take
	 * the bytes now (a burst of fan-out in one loop turn is not). */
	tern__conn_flush(c);
	if (c->state != TERN__CONN_WS)
		return TERN_ECLOSED;
	if (tern__conn_backlog(c) > S(c)->lim.max_output_queue) {
		slow_consumer(c);
		return TERN_EFULL;
	}
	return 0;
}

/* Checks the queue bound after a message was queued. */
static int queued(tern__conn *c)
{
	tern__outq_end_frame(&c->out);
	tern__io_mark_dirty(c->io, c);
	return check_backlog(c);
}

static int send_frame(tern__conn *c, unsigned op, bool rsv1,
		      const tern_slice *parts, size_t n)
{
	uint8_t hdr[TERN__WS_HEADER_MAX];
	size_t total = 0, h;
	uint8_t *dst;

	for (size_t i = 0; i < n; i++)
		total += parts[i].n;
	h = tern__ws_frame_header(hdr, op, true, rsv1, total);
	dst = tern__outq_reserve(&c->out, h + total);
	if (!dst) {
		tern__conn_abort(c);
		return TERN_ENOMEM;
	}
	memcpy(dst, hdr, h);
	dst += h;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].n)
			memcpy(dst, parts[i].p, parts[i].n);
		dst += parts[i].n;
	}
	return queued(c);
}

static int send_deflated(tern__conn *c, const tern_slice *parts, size_t n)
{
	tern__io *io = c->io;
	tern_slice in;
	int rc;

	if (n == 1) {
		in = parts[0];
	} else {
		io->scratch.len = 0;
		for (size_t i = 0; i < n; i++) {
			if (tern__ws_buf_reserve(&io->scratch, parts[i].n,
						 SIZE_MAX))
				goto nomem;
			if (parts[i].n)
				memcpy(io->scratch.p + io->scratch.len,
				       parts[i].p, parts[i].n);
			io->scratch.len += parts[i].n;
		}
		in = (tern_slice){ io->scratch.p, io->scratch.len };
	}
	io->zbuf.len = 0;
	rc = tern__ws_pmd_deflate(&io->pmd, &c->pmd, in, &io->zbuf);
	if (rc)
		goto nomem;
	in = (tern_slice){ io->zbuf.p, io->zbuf.len };
	return send_frame(c, TERN__WS_OP_TEXT, true, &in, 1);
nomem:
	tern__conn_abort(c);
	return TERN_ENOMEM;
}

/* Holds a message behind an awaited reply (order.h). */
static int hold(tern__conn *c, const tern_slice *parts,
		tern__rbuf *const *bufs, size_t n)
{
	if (tern__order_hold(&c->order, parts, bufs, n)) {
		tern__conn_abort(c);
		return TERN_ENOMEM;
	}
	return check_backlog(c);
}

int tern__conn_send(tern__conn *c, const tern_slice *parts, size_t n)
{
	if (c->state != TERN__CONN_WS)
		return TERN_ECLOSED;
	if (tern__order_holding(&c->order))
		return hold(c, parts, NULL, n);
	if (c->deflate)
		return send_deflated(c, parts, n);
	return send_frame(c, TERN__WS_OP_TEXT, false, parts, n);
}

int tern__conn_send_event(tern__conn *c, tern_slice sub, tern__rbuf *json)
{
	char head[TERN__WIRE_SMALL_MAX];
	uint8_t hdr[TERN__WS_HEADER_MAX];
	size_t hn, h;
	tern_slice parts[3];

	if (c->state != TERN__CONN_WS)
		return TERN_ECLOSED;
	hn = tern__wire_event_head(head, sizeof head, sub);
	if (hn > sizeof head)
		return TERN_EINVAL;
	parts[0] = (tern_slice){ (const uint8_t *)head, hn };
	parts[1] = (tern_slice){ json->data, json->len };
	parts[2] = (tern_slice){ (const uint8_t *)"]", 1 };
	if (tern__order_holding(&c->order)) {
		tern__rbuf *bufs[3] = { NULL, json, NULL };

		return hold(c, parts, bufs, 3);
	}
	if (c->deflate)
		return send_deflated(c, parts, 3);
	/* Spliced: the body is the shared buffer itself, not a copy. */
	h = tern__ws_frame_header(hdr, TERN__WS_OP_TEXT, true, false,
				  hn + json->len + 1);
	if (tern__outq_copy(&c->out, hdr, h) ||
	    tern__outq_copy(&c->out, head, hn) ||
	    tern__outq_ref(&c->out, json, 0, json->len) ||
	    tern__outq_copy(&c->out, "]", 1)) {
		tern__conn_abort(c);
		return TERN_ENOMEM;
	}
	return queued(c);
}

/* Frames one released message (order.h): shared ranges stay shared when
 * the connection does not compress. */
static int release_msg(void *ctx, const tern__outq_ent *ents, size_t n,
		       size_t len)
{
	tern__conn *c = ctx;
	uint8_t hdr[TERN__WS_HEADER_MAX];
	tern_slice small[8] = { { 0 } }, *parts = small;
	size_t h;
	int rc;

	if (c->state != TERN__CONN_WS)
		return TERN_ECLOSED;
	if (c->deflate) {
		if (n > sizeof small / sizeof small[0]) {
			parts = malloc(n * sizeof *parts);
			if (!parts) {
				tern__conn_abort(c);
				return TERN_ENOMEM;
			}
		}
		for (size_t i = 0; i < n; i++)
			parts[i] = (tern_slice){ ents[i].b->data + ents[i].off,
						 ents[i].len };
		rc = send_deflated(c, parts, n);
		if (parts != small)
			free(parts);
		return rc;
	}
	h = tern__ws_frame_header(hdr, TERN__WS_OP_TEXT, true, false, len);
	rc = tern__outq_copy(&c->out, hdr, h);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = tern__outq_ref(&c->out, ents[i].b, ents[i].off,
				    ents[i].len);
	if (rc) {
		tern__conn_abort(c);
		return TERN_ENOMEM;
	}
	return queued(c);
}

void tern__conn_expect_reply(tern__conn *c, const void *key)
{
	/* Out of memory: that reply is simply not ordered. */
	if (tern__order_expect(&c->order, key))
		tern_log(TERN_LOG_WARN, "relay", "#%llu %s: reply order: out "
			 "of memory", (unsigned long long)c->serial, c->ip);
}

bool tern__conn_reply_begin(tern__conn *c, const void *key)
{
	return tern__order_reply_begin(&c->order, key);
}

void tern__conn_reply_end(tern__conn *c)
{
	tern__order_reply_end(&c->order, release_msg, c);
}

static void send_control(tern__conn *c, unsigned op, const uint8_t *p,
			 size_t n)
{
	uint8_t frame[TERN__WS_CLOSE_FRAME_MAX];
	size_t len = tern__ws_control_frame(frame, op, p, n);

	if (len && tern__outq_copy(&c->out, frame, len) == 0) {
		tern__outq_end_frame(&c->out);
		tern__io_mark_dirty(c->io, c);
	}
}

void tern__conn_close(tern__conn *c, unsigned code, const char *reason)
{
	uint8_t frame[TERN__WS_CLOSE_FRAME_MAX];
	size_t n;

	switch (c->state) {
	case TERN__CONN_HTTP:
	case TERN__CONN_HTTP_END:
		tern__conn_abort(c);
		return;
	case TERN__CONN_WS:
		break;
	default:
		return;
	}
	n = tern__ws_close_frame(frame, code, reason,
				 reason ? strlen(reason) : 0);
	if (tern__outq_copy(&c->out, frame, n)) {
		tern__conn_abort(c);
		return;
	}
	tern__outq_end_frame(&c->out);
	c->state = TERN__CONN_CLOSING;
	c->close_deadline = tern__io_now(c->io) + CLOSE_TIMEOUT_MS;
	tern__io_mark_dirty(c->io, c);
}

void tern__conn_tick(tern__conn *c, uint64_t now)
{
	tern__settings *s = S(c);
	uint64_t quiet;

	switch (c->state) {
	case TERN__CONN_HTTP:
	case TERN__CONN_HTTP_END:
		/* While a handler answers, the client waits for it; its
		 * answer then has a timeout of its own (close_deadline). */
		if (!c->http_job && now - c->opened > HEAD_TIMEOUT_MS &&
		    now >= c->close_deadline)
			tern__conn_abort(c);
		return;
	case TERN__CONN_CLOSING:
		if (now >= c->close_deadline)
			tern__conn_abort(c);
		return;
	case TERN__CONN_WS:
		break;
	default:
		return;
	}
	if (!s->ping_interval)
		return;
	if (now - c->last_rx >= (uint64_t)s->ping_timeout * 1000) {
		tern_log(TERN_LOG_INFO, "relay",
			 "#%llu %s: no pong for %us, dropping",
			 (unsigned long long)c->serial, c->ip,
			 s->ping_timeout);
		tern__conn_abort(c);
		return;
	}
	/* Quiet for ping_interval to the nearest tick: a pong received just
	 * after the previous tick must not push the next ping a tick late. */
	quiet = (uint64_t)s->ping_interval * 1000 - TERN__IO_TICK_MS / 2;
	if (now - c->last_rx >= quiet && now - c->last_ping >= quiet) {
		c->last_ping = now;
		send_control(c, TERN__WS_OP_PING, (const uint8_t *)"tern", 4);
	}
}

/* ---- HTTP phase ------------------------------------------------------- */

#define CORS "Access-Control-Allow-Origin: *\r\n" \
	     "Access-Control-Allow-Headers: Authorization, *\r\n" \
	     "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	/* The reason phrase is optional (RFC 9112 section 4). */
	return status >= 400 ? "Error" : "";
}

#define REPLY_HEAD "HTTP/1.1 %d %s\r\n" CORS "Connection: close\r\n" \
		   "%s%s%s" "Content-Length: %zu\r\n%s\r\n"

static void http_reply(tern__conn *c, int status, const char *ctype,
		       const void *body, size_t len, const char *extra,
		       bool head_only)
{
	char buf[1024], *hdr = buf;
	int n, rc;

	n = snprintf(hdr, sizeof buf, REPLY_HEAD, status, status_text(status),
		     ctype ? "Content-Type: " : "", ctype ? ctype : "",
		     ctype ? "\r\n" : "", len, extra ? extra : "");
	/* Long extra headers (an HTTP handler's) need a larger buffer. */
	if (n >= 0 && (size_t)n >= sizeof buf && (hdr = malloc((size_t)n + 1)))
		snprintf(hdr, (size_t)n + 1, REPLY_HEAD, status,
			 status_text(status), ctype ? "Content-Type: " : "",
			 ctype ? ctype : "", ctype ? "\r\n" : "", len,
			 extra ? extra : "");
	rc = n < 0 || !hdr || tern__outq_copy(&c->out, hdr, (size_t)n) ||
	     (!head_only && len && tern__outq_copy(&c->out, body, len));
	if (hdr != buf)
		free(hdr);
	if (rc) {
		tern__conn_abort(c);
		return;
	}
	tern__outq_end_frame(&c->out);
	c->state = TERN__CONN_HTTP_END;
	uv_read_stop((uv_stream_t *)&c->tcp);
	tern__io_mark_dirty(c->io, c);
}

void tern__conn_http_reply(tern__conn *c, int status, const char *ctype,
			   const void *body, size_t len, const char *extra)
{
	http_reply(c, status, ctype, body, len, extra, false);
}

void tern__conn_http_answer(tern__conn *c, int status, const char *ctype,
			    const void *body, size_t len, const char *extra,
			    bool head_only)
{
	http_reply(c, status, ctype, body, len, extra, head_only);
}

static void http_error(tern__conn *c, int status, const char *reason,
		       const char *extra)
{
	char body[256];
	int n = snprintf(body, sizeof body, "%d %s: %s\n", status,
			 status_text(status), reason ? reason : "");

	if (n >= (int)sizeof body)
		n = (int)sizeof body - 1;
	http_reply(c, status, "text/plain; charset=utf-8", body,
		   n > 0 ? (size_t)n : 0, extra, false);
}

void tern__conn_http_error(tern__conn *c, int status, const char *reason,
			   const char *extra)
{
	http_error(c, status, reason, extra);
}

void tern__conn_http_unserved(tern__conn *c, tern__http_unserved u)
{
	switch (u) {
	case TERN__HTTP_PREFLIGHT:
		http_reply(c, 204, NULL, NULL, 0, NULL, true);
		break;
	case TERN__HTTP_BAD_METHOD:
		http_error(c, 405, "only GET and OPTIONS are served",
			   "Allow: GET, HEAD, OPTIONS\r\n");
		break;
	default:
		http_error(c, 404, "no such page", NULL);
		break;
	}
}

void tern__conn_http_job_begin(tern__conn *c)
{
	/* No further request on this connection: the answer closes it. */
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->http_job = true;
	c->pending++;
}

void tern__conn_http_job_end(tern__conn *c)
{
	c->http_job = false;
	c->pending--;
	c->close_deadline = tern__io_now(c->io) + HEAD_TIMEOUT_MS;
}

/* Appends s to a FILE with the HTML special characters escaped. */
static void html_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void landing_page(tern__conn *c, const tern__http_request *req,
			 bool head_only)
{
	tern__settings *s = S(c);
	const tern__http_header *host = tern__http_header_find(req, "Host");
	char *body = NULL, hostbuf[256];
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f) {
		tern__conn_abort(c);
		return;
	}
	fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	      "<title>", f);
	html_put(f, s->name);
	fputs("</title></head>\n<body>\n<h1>", f);
	html_put(f, s->name);
	fputs("</h1>\n", f);
	if (*s->description) {
		fputs("<p>", f);
		html_put(f, s->description);
		fputs("</p>\n", f);
	}
	fputs("<p>This is a Nostr relay. Connect a Nostr client to <code>",
	      f);
	if (*s->service_url) {
		html_put(f, s->service_url);
	} else if (host) {
		snprintf(hostbuf, sizeof hostbuf, "ws://%.*s",
			 (int)host->value.n, (const char *)host->value.p);
		html_put(f, hostbuf);
	}
	fputs("</code>.</p>\n<p>Supported NIPs:", f);
	for (size_t i = 0; i < tern__settings_nnips; i++)
		fprintf(f, " %u", tern__settings_nips[i]);
	if (s->lim.min_pow_difficulty)
		fputs(" 13", f);
	if (c->io->r->manage)
		fputs(" 86", f);
	fputs("</p>\n<p>Software: tern " TERN_VERSION "</p>\n"
	      "</body></html>\n", f);
	if (fclose(f) != 0) {
		free(body);
		tern__conn_abort(c);
		return;
	}
	http_reply(c, 200, "text/html; charset=utf-8", body, len, NULL,
		   head_only);
	free(body);
}

/* Client address: the last element of the trusted proxy header when one is
 * configured (the address our proxy saw), else the socket's peer. */
static void client_ip(tern__conn *c, const tern__http_request *req)
{
	const char *name = S(c)->trusted_proxy_header;
	const tern__http_header *h;
	const uint8_t *p, *end, *start;

	if (!name || !(h = tern__http_header_find(req, name)))
		return;
	p = h->value.p;
	end = p + h->value.n;
	start = p;
	for (; p < end; p++)
		if (*p == ',')
			start = p + 1;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (start < end && (size_t)(end - start) < sizeof c->ip) {
		memcpy(c->ip, start, (size_t)(end - start));
		c->ip[end - start] = '\0';
	}
}

static void ws_feed(tern__conn *c, uint8_t *in, size_t len);
static void keep_input(tern__conn *c, const uint8_t *in, size_t len,
		       bool append);

static void upgrade(tern__conn *c, const tern__http_request *req,
		    uint8_t *rest, size_t nrest)
{
	tern__ws_handshake hs;
	char resp[512];
	size_t n;

	if (tern__ws_handshake_check(req, &S(c)->deflate, &hs)) {
		http_error(c, hs.status, hs.reason, hs.extra_header);
		return;
	}
	if (tern__ws_handshake_response(&hs, resp, sizeof resp, &n) ||
	    tern__outq_copy(&c->out, resp, n)) {
		tern__conn_abort(c);
		return;
	}
	tern__outq_end_frame(&c->out);
	c->deflate = hs.deflate.enabled;
	if (c->deflate) {
		tern__ws_pmd_params pp = {
			.server_no_context_takeover =
				hs.deflate.server_no_context_takeover,
			.client_no_context_takeover =
				hs.deflate.client_no_context_takeover,
			.server_max_window_bits =
				hs.deflate.server_max_window_bits,
			.client_max_window_bits =
				hs.deflate.client_max_window_bits,
		};
		tern__ws_pmd_conn_init(&c->pmd, &pp);
	}
	tern__ws_parser_init(&c->wp, S(c)->lim.max_message_length,
			     c->deflate);
	c->state = TERN__CONN_WS;
	c->upgraded = true;
	c->last_rx = c->last_ping = tern__io_now(c->io);
	tern__io_mark_dirty(c->io, c);
	tern_log(TERN_LOG_INFO, "relay", "open #%llu %s%s",
		 (unsigned long long)c->serial, c->ip,
		 c->deflate ? " (deflate)" : "");
	if (tern__session_open(c))
		return;
	c->hk.connected = true;
	tern__run_connect(c->io->r, c);
	if (nrest && tern__conn_open(c))
		ws_feed(c, rest, nrest);
}

static bool accepts_nip11(const tern__http_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		const tern__http_header *h = &req->headers[i];

		if (h->name.n == 6 &&
		    strncasecmp((const char *)h->name.p, "Accept", 6) == 0 &&
		    memmem(h->value.p, h->value.n, "application/nostr+json",
			   22))
			return true;
	}
	return false;
}

/* Answers a refused upgrade with 429 and why. */
static void refuse_upgrade(tern__conn *c, tern_reason *why)
{
	char msg[sizeof why->msg + 32];

	if (!why->msg[0])
		tern_reason_set(why, TERN_PREFIX_BLOCKED,
				"connection refused");
	tern_reason_format(why, msg, sizeof msg);
	tern_log(TERN_LOG_INFO, "relay", "#%llu %s: refused: %s",
		 (unsigned long long)c->serial, c->ip, msg);
	http_error(c, 429, msg, NULL);
}

/*
 * The reject-connection hooks of an upgrade request req (from the start,
 * or after the hook of deferral from, with its verdict v), then the
 * upgrade or a 429. rest[0..nrest) are the bytes read after the head.
 * Returns true when parked again: the caller keeps the head and rest as
 * c's saved input.
 */
static bool upgrade_hooks(tern__conn *c, const tern__http_request *req,
			  const tern_deferral *from, tern_verdict v,
			  tern_reason *why, uint8_t *rest, size_t nrest)
{
	tern_deferral *d = NULL;

	if (v == TERN_PASS)
		v = tern__run_reject_conn(c->io->r, c->io, c, from, why, &d);
	switch (v) {
	case TERN_DEFER:
		tern__conn_park(c, d);
		return true;
	case TERN_PASS:
	case TERN_ACCEPT:
		upgrade(c, req, rest, nrest);
		return false;
	default:
		refuse_upgrade(c, why);
		return false;
	}
}

/* Keeps head + rest as the input of a parked upgrade. */
static void keep_upgrade(tern__conn *c, const uint8_t *head, size_t hlen,
			 const uint8_t *rest, size_t nrest)
{
	keep_input(c, rest, nrest, false);
	keep_input(c, head, hlen, false);
}

/* The NIP-11 document, through the overwrite-relay-information hooks. */
static void relay_info(tern__conn *c, bool head_only)
{
	tern__settings *s = S(c);
	tern_relay_info info;
	uint32_t nips[32];
	size_t len;
	char *doc;

	if (!tern__hooks_any(&c->io->r->hooks, TERN__H_RELAY_INFO) &&
	    !c->io->r->manage) {
		http_reply(c, 200, "application/nostr+json", s->nip11,
			   s->nip11_len, NULL, head_only);
		return;
	}
	tern__settings_info(s, &info, nips, sizeof nips / sizeof nips[0]);
	if (c->io->r->manage)
		info.nsupported_nips = tern__settings_add_nip(
			nips, info.nsupported_nips,
			sizeof nips / sizeof nips[0], 86);
	tern__run_relay_info(c->io->r, c, &info);
	doc = tern__settings_nip11_info(s, &info, &len);
	if (!doc) {
		http_error(c, 500, "out of memory", NULL);
		return;
	}
	http_reply(c, 200, "application/nostr+json", doc, len, NULL,
		   head_only);
	free(doc);
}

/* True when req goes to the HTTP handlers (http_hooks.h): some are
 * registered, and it is not a request the relay serves itself. */
static bool for_handlers(const tern__conn *c, const tern__http_request *req)
{
	if (!tern__hooks_any(&c->io->r->hooks, TERN__H_HTTP_REQUEST) ||
	    tern__ws_is_upgrade(req) || tern__manage_is_call(c, req))
		return false;
	return req->path.n != 1 || (req->method_id != TERN__HTTP_GET &&
				    req->method_id != TERN__HTTP_HEAD &&
				    req->method_id != TERN__HTTP_OPTIONS);
}

/* What the relay answers to a request it does not serve. */
static tern__http_unserved unserved(const tern__http_request *req)
{
	if (req->method_id == TERN__HTTP_OPTIONS)
		return TERN__HTTP_PREFLIGHT;
	if (req->method_id != TERN__HTTP_GET &&
	    req->method_id != TERN__HTTP_HEAD)
		return TERN__HTTP_BAD_METHOD;
	return TERN__HTTP_NOT_FOUND;
}

static void route(tern__conn *c, const tern__http_request *req,
		  size_t hlen, uint8_t *rest, size_t nrest)
{
	bool head_only = req->method_id == TERN__HTTP_HEAD;
	bool root = req->path.n == 1;

	client_ip(c, req);
	if (!c->ip_counted)
		count_ip(c);
	if (c->ip_over) {
		tern_log(TERN_LOG_INFO, "relay", "#%llu %s: refused: over "
			 "max_connections_per_ip (%u)",
			 (unsigned long long)c->serial, c->ip,
			 S(c)->lim.max_connections_per_ip);
		http_error(c, 429, "too many connections from your address",
			   NULL);
		return;
	}
	if (tern__ws_is_upgrade(req)) {
		tern_reason why = { 0 };

		if (upgrade_hooks(c, req, NULL, TERN_PASS, &why, rest, nrest))
			keep_upgrade(c, c->head, hlen, rest, nrest);
		return;
	}
	if (for_handlers(c, req)) {
		tern__http_hooks_serve(c, req, rest, nrest, unserved(req));
		return;
	}
	if (tern__manage_is_call(c, req)) {
		tern__manage_serve(c, req, rest, nrest);
		return;
	}
	if (root && (req->method_id == TERN__HTTP_GET ||
		     req->method_id == TERN__HTTP_HEAD)) {
		if (accepts_nip11(req))
			relay_info(c, head_only);
		else
			landing_page(c, req, head_only);
		return;
	}
	tern__conn_http_unserved(c, unserved(req));
}

static void http_feed(tern__conn *c, const uint8_t *in, size_t len)
{
	tern__http_request *req;
	size_t cap = c->head_cap ? c->head_cap
				 : TERN__HTTP_DEFAULT_MAX_HEAD + 1;
	size_t room = cap - c->head_len;
	size_t take = len < room ? len : room, want;
	int rc;

	if (!c->head) {
		c->head = malloc(cap);
		if (!c->head) {
			tern__conn_abort(c);
			return;
		}
	}
	/* The head is copied (at most 8 KiB); bytes after it are kept with
	 * it and handed to the WebSocket parser. */
	memcpy(c->head + c->head_len, in, take);
	c->head_len += take;
	req = malloc(sizeof *req);
	if (!req) {
		tern__conn_abort(c);
		return;
	}
	rc = tern__http_parse(req, c->head, c->head_len, NULL);
	if (rc == TERN__HTTP_NEED_MORE) {
		if (c->head_len > TERN__HTTP_DEFAULT_MAX_HEAD)
			http_error(c, 431, "request head too large", NULL);
		free(req);
		return;
	}
	if (rc < 0) {
		http_error(c, req->status, req->reason, NULL);
		free(req);
		return;
	}
	/* A request with a body (a NIP-86 call, or one for the HTTP
	 * handlers): head and body are kept together in c->head, grown to
	 * hold both. */
	want = tern__manage_body_len(c, req);
	if (!want && for_handlers(c, req) && req->has_content_length &&
	    req->content_length <= TERN_HTTP_MAX_BODY)
		want = (size_t)req->content_length;
	if (want && c->head_len + (len - take) < (size_t)rc + want) {
		uint8_t *grown = c->head_cap ? c->head
					     : realloc(c->head, (size_t)rc + want);

		free(req);
		if (!grown) {
			tern__conn_abort(c);
			return;
		}
		c->head = grown;
		c->head_cap = (size_t)rc + want;
		memcpy(c->head + c->head_len, in + take, len - take);
		c->head_len += len - take;
		return;
	}
	{
		/* Pipelined bytes past our copy (a large first frame). */
		size_t nrest = c->head_len - (size_t)rc;
		size_t extra = len - take;
		uint8_t *rest = c->head + rc;
		uint8_t *joined = NULL;

		if (extra) {
			joined = malloc(nrest + extra);
			if (!joined) {
				free(req);
				tern__conn_abort(c);
				return;
			}
			memcpy(joined, rest, nrest);
			memcpy(joined + nrest, in + take, extra);
			rest = joined;
			nrest += extra;
		}
		route(c, req, (size_t)rc, rest, nrest);
		free(joined);
	}
	free(req);
	free(c->head);
	c->head = NULL;
	c->head_len = c->head_cap = 0;
}

/* ---- WebSocket phase -------------------------------------------------- */

static void on_data(tern__conn *c, const tern__ws_event *ev)
{
	tern__io *io = c->io;
	uint16_t code = TERN__WS_CLOSE_INVALID_DATA;

	if (ev->opcode == TERN__WS_OP_BINARY) {
		tern__conn_close(c, TERN__WS_CLOSE_UNSUPPORTED,
				 "binary messages are not supported");
		return;
	}
	if (!ev->compressed) {
		tern__session_message(c, ev->payload.p, ev->payload.n);
		return;
	}
	io->scratch.len = 0;
	if (tern__ws_pmd_inflate(&io->pmd, &c->pmd, ev->payload,
			     S(c)->lim.max_message_length, true, &io->scratch,
			     &code)) {
		tern__conn_close(c, code, code == TERN__WS_CLOSE_TOO_BIG
				 ? "message too big" : "bad compressed data");
		return;
	}
	tern__session_message(c, io->scratch.p, io->scratch.len);
}

static void on_peer_close(tern__conn *c, const tern__ws_event *ev)
{
	unsigned code = ev->close_code;

	c->peer_closed = true;
	if (c->state == TERN__CONN_WS) {
		/* Echo the code (RFC 6455 section 5.5.1). */
		tern__conn_close(c, code == TERN__WS_CLOSE_NO_STATUS
				 ? TERN__WS_CLOSE_NORMAL : code, NULL);
	} else if (tern__outq_empty(&c->out) && !c->inflight) {
		tern__conn_abort(c);
	}
}

/* Keeps in[0..len) as the input to replay when c is unparked, before
 * what is kept already (at the end when append is set). */
static void keep_input(tern__conn *c, const uint8_t *in, size_t len,
		       bool append)
{
	size_t old = c->hk.nsaved;
	uint8_t *b;

	if (!len)
		return;
	b = malloc(old + len);
	if (!b) {
		tern__conn_abort(c);
		return;
	}
	if (append) {
		if (old)
			memcpy(b, c->hk.saved, old);
		memcpy(b + old, in, len);
	} else {
		memcpy(b, in, len);
		if (old)
			memcpy(b + len, c->hk.saved, old);
	}
	free(c->hk.saved);
	c->hk.saved = b;
	c->hk.nsaved = old + len;
}

static void ws_feed(tern__conn *c, uint8_t *in, size_t len)
{
	tern__ws_event ev;
	size_t used;
	int rc;

	while (len > 0 && (c->state == TERN__CONN_WS ||
			   c->state == TERN__CONN_CLOSING)) {
		rc = tern__ws_parse(&c->wp, in, len, &c->wmsg, &ev, &used);
		if (rc) {
			tern_log(TERN_LOG_DEBUG, "relay", "#%llu %s: %s",
				 (unsigned long long)c->serial, c->ip,
				 ev.error);
			tern__conn_close(c, ev.close_code, ev.error);
			return;
		}
		in += used;
		len -= used;
		switch (ev.opcode) {
		case 0:
			break;
		case TERN__WS_OP_TEXT:
		case TERN__WS_OP_BINARY:
			if (c->state == TERN__CONN_WS)
				on_data(c, &ev);
			if (c->hk.parked) {
				/* Later input waits for the verdict. */
				keep_input(c, in, len, false);
				return;
			}
			break;
		case TERN__WS_OP_PING:
			if (c->state == TERN__CONN_WS)
				send_control(c, TERN__WS_OP_PONG,
					     ev.payload.p, ev.payload.n);
			break;
		case TERN__WS_OP_PONG:
			break;
		case TERN__WS_OP_CLOSE:
			on_peer_close(c, &ev);
			return;
		}
	}
	if (tern__ws_parser_idle(&c->wp))
		tern__ws_buf_free(&c->wmsg);
}

/*
 * Input read while a verdict is awaited is kept for later, so that a
 * close is still noticed; past a bound (about one message) reading stops
 * until the verdict comes.
 */
static void parked_input(tern__conn *c, const uint8_t *in, size_t n)
{
	keep_input(c, in, n, true);
	if (c->hk.nsaved > (size_t)S(c)->lim.max_message_length + 65536 &&
	    !c->hk.paused && !c->handle_closed) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->hk.paused = true;
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	tern__conn *c = s->data;

	if (n < 0) {
		tern__conn_abort(c);
		return;
	}
	if (n == 0 || c->io->stopping)
		return;
	c->last_rx = tern__io_now(c->io);
	if (c->hk.parked) {
		parked_input(c, (const uint8_t *)buf->base, (size_t)n);
		return;
	}
	if (c->state == TERN__CONN_HTTP)
		http_feed(c, (const uint8_t *)buf->base, (size_t)n);
	else
		ws_feed(c, (uint8_t *)buf->base, (size_t)n);
}

/* ---- deferred verdicts ------------------------------------------------- */

void tern__conn_park(tern__conn *c, tern_deferral *d)
{
	c->hk.parked = d;
	c->pending++;
}

void tern__conn_unpark(tern__conn *c)
{
	while (!c->hk.parked && c->hk.saved && tern__conn_open(c)) {
		uint8_t *in = c->hk.saved;
		size_t len = c->hk.nsaved;

		c->hk.saved = NULL;
		c->hk.nsaved = 0;
		ws_feed(c, in, len);
		free(in);
	}
	if (c->hk.parked || !c->hk.paused || c->handle_closed ||
	    (c->state != TERN__CONN_WS && c->state != TERN__CONN_CLOSING))
		return;
	c->hk.paused = false;
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read))
		tern__conn_abort(c);
}

void tern__conn_deferral_resume(tern_deferral *d)
{
	tern__conn *c = d->c;
	tern_reason why = d->why;
	tern__http_request *req;
	uint8_t *buf = c->hk.saved;
	size_t len = c->hk.nsaved;
	int rc;

	c->hk.parked = NULL;
	c->pending--;
	if (c->handle_closed || c->state != TERN__CONN_HTTP || !buf) {
		/* Closed meanwhile: the verdict is dropped. */
		tern__deferral_free(d);
		tern__conn_release(c);
		return;
	}
	c->hk.saved = NULL;
	c->hk.nsaved = 0;
	req = malloc(sizeof *req);
	rc = req ? tern__http_parse(req, buf, len, NULL) : TERN_ENOMEM;
	if (rc <= 0) {
		/* It parsed before: only memory can be short here. */
		tern__deferral_free(d);
		free(req);
		free(buf);
		tern__conn_abort(c);
		return;
	}
	if (upgrade_hooks(c, req, d, d->v, &why, buf + rc, len - (size_t)rc)) {
		c->hk.saved = buf;
		c->hk.nsaved = len;
		buf = NULL;
	}
	tern__deferral_free(d);
	free(req);
	free(buf);
	tern__conn_unpark(c);
}
