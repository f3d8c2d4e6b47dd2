/* One I/O thread: loop, listener, inbox, flush pass, scans (io.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/log.h>

#include "relay/conn.h"
#include "relay/ctx.h"
#include "relay/inject.h"
#include "relay/io.h"
#include "relay/router.h"
#include "relay/session.h"
#include "relay/wire.h"

#define LISTEN_BACKLOG 1024

/*
 * Listeners share the port through SO_REUSEPORT, which would also let a
 * second tern (same user) bind it and silently take half the clients. So
 * the first listener is preceded by a probe bound without SO_REUSEPORT:
 * it fails with EADDRINUSE while anyone else holds the port.
 */
static int listen_socket(const char *bind_addr, uint16_t port, bool probe,
			 int *out, char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, e;

	memset(&ss, 0, sizeof ss);
	if (uv_ip4_addr(bind_addr, port, (struct sockaddr_in *)&ss) == 0) {
		sl = sizeof(struct sockaddr_in);
	} else if (uv_ip6_addr(bind_addr, port,
			       (struct sockaddr_in6 *)&ss) == 0) {
		sl = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errcap, "bind address '%s' is not a numeric "
			 "IPv4 or IPv6 address", bind_addr);
		return TERN_EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errcap, "socket: %s", strerror(errno));
		return e;
	}
	if (probe) {
		int pfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (pfd >= 0 && (setsockopt(pfd, SOL_SOCKET, SO_REUSEADDR,
					    &one, sizeof one) ||
				 bind(pfd, (struct sockaddr *)&ss, sl))) {
			e = -errno;
			snprintf(err, errcap, "bind %s:%u: %s", bind_addr,
				 (unsigned)port, strerror(errno));
			close(pfd);
			close(fd);
			return e;
		}
		if (pfd >= 0)
			close(pfd);
	}
	/* One listener per thread on the same port: the kernel spreads
	 * incoming connections over them. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&ss, sl) ||
	    listen(fd, LISTEN_BACKLOG)) {
		e = -errno;
		snprintf(err, errcap, "bind %s:%u: %s", bind_addr,
			 (unsigned)port, strerror(errno));
		close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

/* ---- inbox ------------------------------------------------------------ */

static _Thread_local tern__io *current_io;

tern__io *tern__io_current(void)
{
	return current_io;
}

static bool post(tern__io *io, tern__io_msg_kind kind, void *p,
		 uint32_t rel, bool if_running)
{
	bool ok = true;

	pthread_mutex_lock(&io->mu);
	if (io->closed || (if_running && !io->running)) {
		ok = false;
	} else if (io->ninbox == io->capinbox) {
		size_t cap = io->capinbox ? io->capinbox * 2 : 64;
		tern__io_msg *v = realloc(io->inbox, cap * sizeof *v);

		if (v) {
			io->inbox = v;
			io->capinbox = cap;
		} else {
			ok = false;
		}
	}
	if (ok)
		io->inbox[io->ninbox++] = (tern__io_msg){ kind, rel, p };
	pthread_mutex_unlock(&io->mu);
	if (ok)
		uv_async_send(&io->wake);
	return ok;
}

bool tern__io_post(tern__io *io, tern__io_msg_kind kind, void *p)
{
	return post(io, kind, p, 0, false);
}

bool tern__io_post_fanout(tern__io *io, tern__rbuf *json, uint32_t rel)
{
	return post(io, TERN__IO_FANOUT, json, rel, false);
}

bool tern__io_post_if_running(tern__io *io, tern__io_msg_kind kind, void *p)
{
	return post(io, kind, p, 0, true);
}

void tern__io_serve_livesnaps(tern__io *io)
{
	tern__livesnap *mine[16];
	size_t n;

	do {
		size_t j = 0;

		n = 0;
		pthread_mutex_lock(&io->mu);
		for (size_t i = 0; i < io->ninbox; i++) {
			if (io->inbox[i].kind == TERN__IO_LIVESNAP &&
			    n < sizeof mine / sizeof mine[0])
				mine[n++] = io->inbox[i].p;
			else
				io->inbox[j++] = io->inbox[i];
		}
		io->ninbox = j;
		pthread_mutex_unlock(&io->mu);
		for (size_t i = 0; i < n; i++)
			tern__livesnap_collect(io, mine[i]);
	} while (n == sizeof mine / sizeof mine[0]);
}

void tern__io_wake(tern__io *io)
{
	uv_async_send(&io->wake);
}

static void drop_msg(tern__io *io, tern__io_msg *m)
{
	switch (m->kind) {
	case TERN__IO_RESULT: {
		tern__pending *p = m->p;

		if (p->inj)
			tern__inject_done(p->inj,
					  p->status == TERN_WRITE_STORED ||
					  p->status == TERN_WRITE_DUPLICATE,
					  &p->reason);
		tern__rbuf_unref(p->json);
		free(p);
		break;
	}
	case TERN__IO_FANOUT:
		tern__rbuf_unref(m->p);
		break;
	case TERN__IO_SETTINGS:
		tern__settings_unref(m->p);
		break;
	case TERN__IO_DEFERRAL:
		tern__deferral_free(m->p);
		break;
	case TERN__IO_INJECT: {
		tern_reason why;

		tern_reason_set(&why, TERN_PREFIX_ERROR,
				"relay is shutting down");
		tern__inject_done(m->p, false, &why);
		break;
	}
	case TERN__IO_LIVESNAP:
		/* The loop has ended: nothing touches the index now. */
		tern__livesnap_collect(io, m->p);
		break;
	}
}

static void handle_msg(tern__io *io, tern__io_msg *m)
{
	switch (m->kind) {
	case TERN__IO_RESULT:
		io->npending--;
		tern__session_result(io, m->p);
		break;
	case TERN__IO_FANOUT:
		if (!io->stopping)
			tern__io_fanout(io, m->p, m->rel);
		tern__rbuf_unref(m->p);
		break;
	case TERN__IO_SETTINGS:
		tern__settings_unref(io->set);
		io->set = m->p;
		break;
	case TERN__IO_DEFERRAL:
		tern__deferral_resume(m->p);
		break;
	case TERN__IO_INJECT:
		tern__session_inject(io, m->p);
		break;
	case TERN__IO_LIVESNAP:
		tern__livesnap_collect(io, m->p);
		break;
	}
}

/* ---- fan-out ---------------------------------------------------------- */

typedef struct fanout_ctx {
	tern__io *io;
	tern_relay *r;  /* the relay whose live filters these are */
	tern__rbuf *json;
	const tern_event *ev;
	bool restricted;
	bool hooked;    /* prevent-broadcast or overwrite-response hooks */
} fanout_ctx;

/* The per-listener hooks: true when ev was dealt with (vetoed, or sent
 * with replaced JSON). */
static bool fanout_hooks(fanout_ctx *f, tern__conn *c, tern_slice sub)
{
	tern_relay *r = f->r;
	tern_slice json = f->ev->json;
	tern_slice parts[3];
	char head[TERN__WIRE_SMALL_MAX];

	if (tern__run_prevent_broadcast(r, c, sub, f->ev))
		return true;
	if (!tern__run_overwrite_response(r, c, sub, f->ev, &json,
					  &f->io->arena))
		return false;
	parts[0].p = (const uint8_t *)head;
	parts[0].n = tern__wire_event_head(head, sizeof head, sub);
	parts[1] = json;
	parts[2] = (tern_slice){ (const uint8_t *)"]", 1 };
	if (parts[0].n <= sizeof head)
		tern__conn_send(c, parts, 3);
	return true;
}

static void fanout_visit(void *ctx, const tern__subindex_sub *sub)
{
	fanout_ctx *f = ctx;
	tern__conn *c = sub->owner;

	if (!tern__conn_open(c))
		return;
	if (f->restricted && !tern__auth_is_party(&c->sess.auth, f->ev))
		return;
	if (f->hooked && fanout_hooks(f, c, sub->id))
		return;
	tern__conn_send_event(c, sub->id, f->json);
}

void tern__io_fanout(tern__io *io, tern__rbuf *json, uint32_t rel)
{
	tern_event ev;
	fanout_ctx f = { io, tern__router_relay(io->r, rel), json, &ev, false,
			 false };

	/* Without live subscriptions on this thread nothing can match: skip
	 * the parse (~1.5 us per event per thread on the ingest path). */
	if (tern__subindex_idle(io->subs))
		return;
	tern_arena_reset(&io->arena);
	if (tern_event_parse(&ev, json->data, json->len, &tern__relay_reparse_limits,
			     &io->arena, NULL) != 0)
		return;
	f.restricted = tern__settings_restricted(io->set, ev.kind);
	f.hooked = tern__hooks_any(&f.r->hooks, TERN__H_PREVENT_BROADCAST) ||
		   tern__hooks_any(&f.r->hooks, TERN__H_OVERWRITE_RESPONSE);
	tern__subindex_match_route(io->subs, &ev, rel, fanout_visit, &f);
	tern_arena_reset(&io->arena);
}

/* ---- loop callbacks --------------------------------------------------- */

void tern__io_mark_dirty(tern__io *io, tern__conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = io->dirty;
	io->dirty = c;
}

static void flush_all(tern__io *io)
{
	while (io->dirty) {
		tern__conn *c = io->dirty;

		io->dirty = c->dirty_next;
		c->dirty = false;
		c->dirty_next = NULL;
		tern__conn_flush(c);
	}
}

static void stop_handles(tern__io *io);

static void check_stop(tern__io *io)
{
	uint64_t now = tern__io_now(io);
	uint64_t grace = (uint64_t)atomic_load(&io->r->shutdown_grace) * 1000;

	if (!io->stopping)
		return;
	/* First let the writer answer what it has (bounded by half the
	 * grace time), then close every connection with 1001. */
	if (!io->closing_conns &&
	    (io->npending == 0 || now + grace / 2 >= io->stop_deadline)) {
		io->closing_conns = true;
		for (tern__conn *c = io->conns; c; c = c->next)
			tern__conn_close(c, TERN__WS_CLOSE_GOING_AWAY,
					 "relay is shutting down");
	}
	if (io->closing_conns) {
		bool open = false;

		for (tern__conn *c = io->conns; c; c = c->next) {
			if (c->handle_closed)
				continue;
			if (now >= io->stop_deadline)
				tern__conn_abort(c);
			else
				open = true;
		}
		if (!open)
			stop_handles(io);
	}
}

static void begin_stop(tern__io *io)
{
	if (io->stopping)
		return;
	io->stopping = true;
	io->stop_deadline = tern__io_now(io) +
			    (uint64_t)atomic_load(&io->r->shutdown_grace) * 1000;
	uv_close((uv_handle_t *)&io->listener, NULL);
	check_stop(io);
}

static void on_wake(uv_async_t *h)
{
	tern__io *io = h->data;
	tern__io_msg *v;
	size_t n;

	pthread_mutex_lock(&io->mu);
	v = io->inbox;
	n = io->ninbox;
	io->inbox = NULL;
	io->ninbox = io->capinbox = 0;
	pthread_mutex_unlock(&io->mu);
	for (size_t i = 0; i < n; i++)
		handle_msg(io, &v[i]);
	free(v);
	if (atomic_load(&io->r->stop))
		begin_stop(io);
	flush_all(io);
	check_stop(io);
}

static void on_check(uv_check_t *h)
{
	tern__io *io = h->data;

	flush_all(io);
	check_stop(io);
	/* Between callbacks no hook list is held: a quiescent point. */
	tern__relay_hooks_quiescent(io->r, io->idx);
}

static void on_idle(uv_idle_t *h)
{
	tern__io *io = h->data;

	if (!tern__session_scan_step(io))
		uv_idle_stop(&io->idle);
	flush_all(io);
}

void tern__io_scans_active(tern__io *io)
{
	if (!uv_is_active((uv_handle_t *)&io->idle))
		uv_idle_start(&io->idle, on_idle);
}

static void on_tick(uv_timer_t *h)
{
	tern__io *io = h->data;
	uint64_t now = tern__io_now(io);
	tern__conn *c = io->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (!c->handle_closed)
			tern__conn_tick(c, now);
	}
	flush_all(io);
	check_stop(io);
}

static void on_connection(uv_stream_t *server, int status)
{
	tern__io *io = server->data;

	if (status < 0) {
		tern_log(TERN_LOG_WARN, "relay", "accept: %s",
			 uv_strerror(status));
		return;
	}
	if (!io->stopping)
		tern__conn_accept(io);
}

static void stop_handles(tern__io *io)
{
	uv_handle_t *hs[] = {
		(uv_handle_t *)&io->wake, (uv_handle_t *)&io->check,
		(uv_handle_t *)&io->idle, (uv_handle_t *)&io->tick,
	};

	for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], NULL);
}

/* ---- lifecycle -------------------------------------------------------- */

int tern__io_new(tern__io **out, tern_relay *r, unsigned idx, bool listen,
		 char *err, size_t errcap)
{
	tern__io *io = calloc(1, sizeof *io);
	int rc;

	*out = NULL;
	if (!io)
		return TERN_ENOMEM;
	io->r = r;
	io->idx = idx;
	io->listen_fd = -1;
	pthread_mutex_init(&io->mu, NULL);
	tern_arena_init(&io->arena, 0);
	tern_arena_init(&io->harena, 0);
	tern__ws_pmd_thread_init(&io->pmd, -1);
	rc = tern__subindex_new(&io->subs);
	if (rc)
		goto fail;
	rc = uv_loop_init(&io->loop);
	if (rc) {
		snprintf(err, errcap, "event loop: %s", uv_strerror(rc));
		goto fail_subs;
	}
	uv_tcp_init(&io->loop, &io->listener);
	if (!listen)
		goto no_listener;
	rc = listen_socket(r->bind, r->port, idx == 0, &io->listen_fd,
			   err, errcap);
	if (rc) {
		uv_close((uv_handle_t *)&io->listener, NULL);
		uv_run(&io->loop, UV_RUN_NOWAIT);
		goto fail_loop;
	}
	rc = uv_tcp_open(&io->listener, io->listen_fd);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&io->listener, LISTEN_BACKLOG,
			       on_connection);
	if (rc) {
		snprintf(err, errcap, "listen: %s", uv_strerror(rc));
		uv_close((uv_handle_t *)&io->listener, NULL);
		uv_run(&io->loop, UV_RUN_NOWAIT);
		goto fail_loop;
	}
no_listener:
	io->listener.data = io;
	uv_async_init(&io->loop, &io->wake, on_wake);
	io->wake.data = io;
	uv_check_init(&io->loop, &io->check);
	io->check.data = io;
	uv_check_start(&io->check, on_check);
	uv_idle_init(&io->loop, &io->idle);
	io->idle.data = io;
	uv_timer_init(&io->loop, &io->tick);
	io->tick.data = io;
	pthread_mutex_lock(&r->mu);
	io->set = tern__settings_ref(r->set);
	pthread_mutex_unlock(&r->mu);
	*out = io;
	return 0;
fail_loop:
	uv_loop_close(&io->loop);
fail_subs:
	tern__subindex_free(io->subs);
fail:
	tern_arena_free(&io->arena);
	tern_arena_free(&io->harena);
	pthread_mutex_destroy(&io->mu);
	free(io);
	return rc;
}

void tern__io_run(tern__io *io)
{
	current_io = io;
	tern__relay_hooks_online(io->r, io->idx);
	pthread_mutex_lock(&io->mu);
	io->running = true;
	pthread_mutex_unlock(&io->mu);
	uv_timer_start(&io->tick, on_tick, TERN__IO_TICK_MS, TERN__IO_TICK_MS);
	/* A stop requested before the loop started. */
	if (atomic_load(&io->r->stop))
		tern__io_wake(io);
	uv_run(&io->loop, UV_RUN_DEFAULT);

	pthread_mutex_lock(&io->mu);
	io->closed = true;
	io->running = false;
	pthread_mutex_unlock(&io->mu);
	/* Snapshots asked for meanwhile are answered from here. */
	tern__io_serve_livesnaps(io);
	tern__relay_hooks_offline(io->r, io->idx);
	current_io = NULL;
}

void tern__io_free(tern__io *io)
{
	tern__conn *c, *next;

	if (!io)
		return;
	/* Handles still open (the loop never ran): close them. */
	if (!uv_is_closing((uv_handle_t *)&io->listener))
		uv_close((uv_handle_t *)&io->listener, NULL);
	for (c = io->conns; c; c = c->next)
		if (!c->handle_closed)
			tern__conn_abort(c);
	stop_handles(io);
	uv_run(&io->loop, UV_RUN_DEFAULT);
	pthread_mutex_lock(&io->mu);
	io->closed = true;
	for (size_t i = 0; i < io->ninbox; i++)
		drop_msg(io, &io->inbox[i]);
	free(io->inbox);
	io->inbox = NULL;
	io->ninbox = 0;
	pthread_mutex_unlock(&io->mu);
	for (c = io->conns; c; c = next) {
		next = c->next;
		c->pending = 0;
		tern__conn_release(c);
	}
	uv_loop_close(&io->loop);
	tern__subindex_free(io->subs);
	tern__settings_unref(io->set);
	tern_arena_free(&io->arena);
	tern_arena_free(&io->harena);
	tern__ws_pmd_thread_free(&io->pmd);
	tern__ws_buf_free(&io->scratch);
	tern__ws_buf_free(&io->zbuf);
	pthread_mutex_destroy(&io->mu);
	free(io);
}
