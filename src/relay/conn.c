/*
 * One client connection's transport (conn.h): accept and close, output,
 * keepalive, the upgrade to WebSocket and the WebSocket phase, deferred
 * verdicts. The HTTP phase (reading a request, routing and answering it)
 * is conn_http.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/log.h>

#include "http/request.h"
#include "relay/conn.h"
#include "relay/conn_http.h"
#include "relay/io.h"
#include "relay/session.h"
#include "relay/wire.h"
#include "ws/handshake.h"

/* Time a client gets to answer our close. */
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

void tern__conn_count_ip(tern__conn *c)
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
		tern__conn_count_ip(c);
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
		if (!c->http_job &&
		    now - c->opened > TERN__CONN_HEAD_TIMEOUT_MS &&
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

/* ---- the upgrade to WebSocket ----------------------------------------- */

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
		tern__conn_http_error(c, hs.status, hs.reason,
				      hs.extra_header);
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
	tern__conn_http_error(c, 429, msg, NULL);
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

void tern__conn_upgrade(tern__conn *c, const tern__http_request *req,
			const uint8_t *head, size_t hlen, uint8_t *rest,
			size_t nrest)
{
	tern_reason why = { 0 };

	if (upgrade_hooks(c, req, NULL, TERN_PASS, &why, rest, nrest))
		keep_upgrade(c, head, hlen, rest, nrest);
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
		tern__conn_http_feed(c, (const uint8_t *)buf->base, (size_t)n);
	else
		ws_feed(c, (uint8_t *)buf->base, (size_t)n);
}

/* ---- deferred verdicts ------------------------------------------------ */

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
