/*
 * The plugin host (host.h): a child process and the thread that owns it.
 *
 * Everything about the child lives on one thread with its own libuv loop,
 * so that a slow, silent or crashing plugin can only delay the requests
 * it holds: the relay's I/O threads hand requests over through a
 * mutex-protected inbox and a uv_async wakeup, and get verdicts back
 * through the done callback (which completes their deferrals).
 *
 * Request lifetime: inbox -> waitq (no process yet) -> a process's
 * in-flight list (written to its stdin) -> resolved. A request is freed
 * once it is resolved and its stdin write has finished or been cancelled.
 * Every list is in submission order and all requests share one timeout,
 * so the earliest deadline is always at the head of a list.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <uv.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>

#include "plugin/host.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define KILL_GRACE_MS 1000 /* SIGTERM -> SIGKILL */
#define DRAIN_MS 200       /* reading what an exited plugin wrote */

typedef struct proc proc;

typedef struct req {
	struct req *next, *prev;
	tern__plugin_host *h;
	uint64_t deadline; /* ms, uv_hrtime() based */
	uint8_t id[32];
	char *line;
	size_t len;
	void *cookie;
	uv_write_t w;
	bool resolved, writing;
} req;

typedef struct rlist {
	req *head, *tail;
} rlist;

struct proc {
	tern__plugin_host *h;
	proc *next; /* h->procs */
	uv_process_t p;
	uv_pipe_t in, out, err;
	uv_timer_t timer; /* drain, SIGTERM, SIGKILL */
	uv_shutdown_t sd;
	tern__plugin_lines out_l, err_l;
	rlist inflight;
	int handles; /* open handles; freed at 0 */
	int pid;
	bool exited, out_eof, err_eof, in_closed, finished, retiring;
	bool term_sent;
};

struct tern__plugin_host {
	tern__plugin_host_opts o;
	char *command;
	pthread_t thread;
	uv_loop_t loop;
	uv_async_t async;
	uv_timer_t deadline, restart;
	uv_fs_poll_t watch;
	bool watching;

	pthread_mutex_t mu; /* guards the fields up to st */
	rlist inbox;
	uint32_t pending; /* unresolved requests, reserved slots included */
	bool stopping;
	tern__plugin_host_stats st;

	/* host thread only */
	rlist waitq;
	proc *cur;   /* receives new requests; NULL while (re)starting */
	proc *procs; /* every process not yet freed */
	uint32_t backoff_ms;
	bool shutting;
	char rbuf[65536];
};

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* ---- request lists ------------------------------------------------------- */

static void rl_push(rlist *l, req *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static void rl_remove(rlist *l, req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->next = r->prev = NULL;
}

static req *rl_pop(rlist *l)
{
	req *r = l->head;

	if (r)
		rl_remove(l, r);
	return r;
}

static void rl_append(rlist *dst, rlist *src)
{
	if (!src->head)
		return;
	if (dst->tail) {
		dst->tail->next = src->head;
		src->head->prev = dst->tail;
	} else {
		dst->head = src->head;
	}
	dst->tail = src->tail;
	*src = (rlist){ 0 };
}

static void req_free(req *r)
{
	free(r->line);
	free(r);
}

/* ---- verdicts ---------------------------------------------------------- */

/* r must be off every list. */
static void resolve(tern__plugin_host *h, req *r, tern__plugin_action a,
		    const tern_reason *why, bool failed)
{
	tern_reason none = { 0 };

	r->resolved = true;
	pthread_mutex_lock(&h->mu);
	h->pending--;
	if (failed)
		h->st.failures++;
	else
		h->st.replies++;
	pthread_mutex_unlock(&h->mu);
	h->o.done(h->o.ctx, r->cookie, a, why ? why : &none, failed);
	if (!r->writing)
		req_free(r);
}

static void fail(tern__plugin_host *h, req *r, const char *msg)
{
	tern_reason why = { 0 };

	if (h->o.fail_open) {
		resolve(h, r, TERN__PLUGIN_ACCEPT, NULL, true);
		return;
	}
	tern_reason_set(&why, TERN_PREFIX_ERROR, "%s", msg);
	resolve(h, r, TERN__PLUGIN_REJECT, &why, true);
}

static void fail_all(tern__plugin_host *h, rlist *l, const char *msg)
{
	req *r;

	while ((r = rl_pop(l)))
		fail(h, r, msg);
}

/* ---- deadlines ------------------------------------------------------------ */

static void on_deadline(uv_timer_t *t);

static void arm_deadline(tern__plugin_host *h)
{
	uint64_t d = UINT64_MAX, now;

	if (h->shutting)
		return;
	if (h->waitq.head)
		d = h->waitq.head->deadline;
	for (proc *pr = h->procs; pr; pr = pr->next)
		if (pr->inflight.head && pr->inflight.head->deadline < d)
			d = pr->inflight.head->deadline;
	if (d == UINT64_MAX) {
		uv_timer_stop(&h->deadline);
		return;
	}
	now = now_ms();
	uv_timer_start(&h->deadline, on_deadline, d > now ? d - now : 0, 0);
}

/* ---- processes ------------------------------------------------------------ */

static void spawn(tern__plugin_host *h);

static void on_restart(uv_timer_t *t)
{
	tern__plugin_host *h = t->data;

	if (!h->cur && !h->shutting)
		spawn(h);
}

static void restart_later(tern__plugin_host *h)
{
	if (h->shutting || h->cur || uv_is_active((uv_handle_t *)&h->restart))
		return;
	uv_timer_start(&h->restart, on_restart, h->backoff_ms, 0);
	tern_log(TERN_LOG_INFO, "plugin", "restarting in %u ms",
		 (unsigned)h->backoff_ms);
	h->backoff_ms = h->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							   : h->backoff_ms * 2;
}

static void on_proc_closed(uv_handle_t *hd)
{
	proc *pr = hd->data;
	tern__plugin_host *h = pr->h;

	if (--pr->handles > 0)
		return;
	for (proc **pp = &h->procs; *pp; pp = &(*pp)->next)
		if (*pp == pr) {
			*pp = pr->next;
			break;
		}
	tern__plugin_lines_free(&pr->out_l);
	tern__plugin_lines_free(&pr->err_l);
	free(pr);
}

static void close_once(proc *pr, uv_handle_t *hd)
{
	if (!uv_is_closing(hd))
		uv_close(hd, on_proc_closed);
}

static void close_in(proc *pr)
{
	if (!pr->in_closed) {
		pr->in_closed = true;
		close_once(pr, (uv_handle_t *)&pr->in);
	}
}

/* The process is gone and its output read: whatever it still held gets
 * the fail policy, and every handle is closed. */
static void finish(proc *pr)
{
	tern__plugin_host *h = pr->h;

	if (pr->finished)
		return;
	pr->finished = true;
	if (h->cur == pr)
		h->cur = NULL;
	fail_all(h, &pr->inflight, "plugin exited");
	close_in(pr);
	close_once(pr, (uv_handle_t *)&pr->out);
	close_once(pr, (uv_handle_t *)&pr->err);
	uv_timer_stop(&pr->timer);
	close_once(pr, (uv_handle_t *)&pr->timer);
	close_once(pr, (uv_handle_t *)&pr->p);
	arm_deadline(h);
}

/* Stops giving pr new requests. Graceful (a reload): EOF on its stdin
 * once queued writes are out, then SIGTERM if it outlives the timeout.
 * Otherwise (hung or broken): EOF and SIGTERM now, SIGKILL after a grace. */
static void retire(proc *pr, bool graceful);

static void on_proc_timer(uv_timer_t *t)
{
	proc *pr = t->data;

	if (pr->exited) {
		finish(pr);
	} else if (!pr->retiring) {
		/* stdout closed DRAIN_MS ago and the process still runs: it
		 * can never answer again. */
		tern_log(TERN_LOG_WARN, "plugin",
			 "pid %d closed its stdout: restarting it", pr->pid);
		retire(pr, false);
		restart_later(pr->h);
	} else if (!pr->term_sent) {
		pr->term_sent = true;
		uv_kill(-pr->pid, SIGTERM);
		uv_timer_start(&pr->timer, on_proc_timer, KILL_GRACE_MS, 0);
	} else {
		tern_log(TERN_LOG_WARN, "plugin",
			 "pid %d ignored SIGTERM: killing it", pr->pid);
		uv_kill(-pr->pid, SIGKILL);
	}
}

static void on_shutdown(uv_shutdown_t *sd, int status)
{
	proc *pr = sd->data;

	close_in(pr);
}

static void retire(proc *pr, bool graceful)
{
	tern__plugin_host *h = pr->h;

	if (h->cur == pr)
		h->cur = NULL;
	if (pr->exited || pr->retiring)
		return;
	pr->retiring = true;
	if (graceful && !pr->in_closed) {
		pr->sd.data = pr;
		if (uv_shutdown(&pr->sd, (uv_stream_t *)&pr->in, on_shutdown))
			close_in(pr);
		uv_timer_start(&pr->timer, on_proc_timer,
			       h->o.timeout_ms + KILL_GRACE_MS, 0);
		return;
	}
	close_in(pr);
	pr->term_sent = true;
	uv_kill(-pr->pid, SIGTERM);
	uv_timer_start(&pr->timer, on_proc_timer, KILL_GRACE_MS, 0);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	proc *pr = p->data;
	tern__plugin_host *h = pr->h;
	bool expected = pr->retiring || h->shutting;

	pr->exited = true;
	if (sig)
		tern_log(expected ? TERN_LOG_INFO : TERN_LOG_WARN, "plugin",
			 "pid %d killed by signal %d", pr->pid, sig);
	else
		tern_log(expected ? TERN_LOG_INFO : TERN_LOG_WARN, "plugin",
			 "pid %d exited with status %lld", pr->pid,
			 (long long)status);
	if (h->cur == pr)
		h->cur = NULL;
	restart_later(h);
	if (pr->out_eof)
		finish(pr);
	else /* replies may still sit in the pipe */
		uv_timer_start(&pr->timer, on_proc_timer, DRAIN_MS, 0);
}

static void on_alloc(uv_handle_t *hd, size_t hint, uv_buf_t *buf)
{
	proc *pr = hd->data;

	*buf = uv_buf_init(pr->h->rbuf, sizeof pr->h->rbuf);
}

static void hex_prefix(char *out, const uint8_t id[32])
{
	tern_hex_encode(out, id, 8);
	out[16] = 0;
}

static void on_out_line(void *ctx, const uint8_t *line, size_t len)
{
	proc *pr = ctx;
	tern__plugin_host *h = pr->h;
	tern__plugin_reply rep;
	tern_reason err = { 0 };
	req *r;

	if (!line || (len && tern__plugin_reply_parse(line, len, &rep, &err))) {
		pthread_mutex_lock(&h->mu);
		h->st.garbage++;
		pthread_mutex_unlock(&h->mu);
		if (!line)
			tern_log(TERN_LOG_WARN, "plugin",
				 "pid %d: dropped an output line of %zu bytes",
				 pr->pid, len);
		else
			tern_log(TERN_LOG_WARN, "plugin",
				 "pid %d: ignored output line (%s): %.*s",
				 pr->pid, err.msg, (int)(len > 120 ? 120 : len),
				 (const char *)line);
		return;
	}
	if (!len)
		return;
	for (r = pr->inflight.head; r; r = r->next)
		if (memcmp(r->id, rep.id, 32) == 0)
			break;
	if (!r) {
		char hex[17];

		hex_prefix(hex, rep.id);
		pthread_mutex_lock(&h->mu);
		h->st.garbage++;
		pthread_mutex_unlock(&h->mu);
		tern_log(TERN_LOG_WARN, "plugin",
			 "pid %d: reply for an event it was not asked about "
			 "(%s...)", pr->pid, hex);
		return;
	}
	rl_remove(&pr->inflight, r);
	h->backoff_ms = BACKOFF_MIN_MS;
	resolve(h, r, rep.action, &rep.why, false);
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	proc *pr = s->data;

	if (n > 0) {
		if (tern__plugin_lines_feed(&pr->out_l, (const uint8_t *)buf->base,
					    (size_t)n, on_out_line, pr))
			tern_log(TERN_LOG_ERROR, "plugin",
				 "out of memory reading replies");
	} else if (n < 0) {
		tern__plugin_lines_flush(&pr->out_l, on_out_line, pr);
		pr->out_eof = true;
		uv_read_stop(s);
		if (pr->exited)
			finish(pr);
		else if (!pr->retiring) /* exiting, most likely: see soon */
			uv_timer_start(&pr->timer, on_proc_timer, DRAIN_MS, 0);
	}
	arm_deadline(pr->h);
}

static void on_err_line(void *ctx, const uint8_t *line, size_t len)
{
	proc *pr = ctx;

	if (!line)
		tern_log(TERN_LOG_INFO, "plugin", "[%d] (%zu bytes dropped)",
			 pr->pid, len);
	else
		tern_log(TERN_LOG_INFO, "plugin", "[%d] %.*s", pr->pid,
			 (int)len, (const char *)line);
}

static void on_err(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	proc *pr = s->data;

	if (n > 0) {
		tern__plugin_lines_feed(&pr->err_l, (const uint8_t *)buf->base,
					(size_t)n, on_err_line, pr);
	} else if (n < 0) {
		tern__plugin_lines_flush(&pr->err_l, on_err_line, pr);
		pr->err_eof = true;
		uv_read_stop(s);
	}
}

static void on_write(uv_write_t *w, int status)
{
	req *r = w->data;

	r->writing = false;
	if (r->resolved)
		req_free(r);
}

/* Hands the waiting requests to the current process. */
static void flush_waitq(tern__plugin_host *h)
{
	proc *pr = h->cur;
	req *r;

	if (!pr || pr->retiring || pr->in_closed)
		return;
	while ((r = rl_pop(&h->waitq))) {
		uv_buf_t b = uv_buf_init(r->line, (unsigned)r->len);

		rl_push(&pr->inflight, r);
		r->w.data = r;
		r->writing = true;
		if (uv_write(&r->w, (uv_stream_t *)&pr->in, &b, 1, on_write)) {
			/* stdin is broken: the process is going; its exit
			 * fails what it holds. */
			r->writing = false;
			retire(pr, false);
			restart_later(h);
			break;
		}
	}
}

static void spawn(tern__plugin_host *h)
{
	proc *pr = calloc(1, sizeof *pr);
	char *args[] = { "/bin/sh", "-c", h->command, NULL };
	uv_stdio_container_t io[3];
	uv_process_options_t po;
	int rc;

	if (!pr) {
		tern_log(TERN_LOG_ERROR, "plugin", "out of memory");
		restart_later(h);
		return;
	}
	pr->h = h;
	tern__plugin_lines_init(&pr->out_l, TERN__PLUGIN_LINE_MAX);
	tern__plugin_lines_init(&pr->err_l, 4096);
	uv_pipe_init(&h->loop, &pr->in, 0);
	uv_pipe_init(&h->loop, &pr->out, 0);
	uv_pipe_init(&h->loop, &pr->err, 0);
	uv_timer_init(&h->loop, &pr->timer);
	pr->p.data = pr->in.data = pr->out.data = pr->err.data = pr;
	pr->timer.data = pr;
	pr->handles = 5;
	io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	io[0].data.stream = (uv_stream_t *)&pr->in;
	io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[1].data.stream = (uv_stream_t *)&pr->out;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&pr->err;
	memset(&po, 0, sizeof po);
	po.exit_cb = on_exit_cb;
	po.file = "/bin/sh";
	po.args = args;
	po.stdio = io;
	po.stdio_count = 3;
	/* Own process group, so that killing it reaches what sh started. */
	po.flags = UV_PROCESS_DETACHED;
	pr->next = h->procs;
	h->procs = pr;
	pthread_mutex_lock(&h->mu);
	h->st.spawns++;
	pthread_mutex_unlock(&h->mu);
	rc = uv_spawn(&h->loop, &pr->p, &po);
	if (rc) {
		tern_log(TERN_LOG_ERROR, "plugin", "cannot start \"%s\": %s",
			 h->command, uv_strerror(rc));
		pr->exited = pr->out_eof = true;
		finish(pr);
		restart_later(h);
		return;
	}
	pr->p.data = pr;
	pr->pid = pr->p.pid;
	tern_log(TERN_LOG_INFO, "plugin", "started \"%s\" (pid %d)",
		 h->command, pr->pid);
	uv_read_start((uv_stream_t *)&pr->out, on_alloc, on_out);
	uv_read_start((uv_stream_t *)&pr->err, on_alloc, on_err);
	h->cur = pr;
	flush_waitq(h);
	arm_deadline(h);
}

/* ---- deadlines, file changes, inbox ------------------------------------ */

static void on_deadline(uv_timer_t *t)
{
	tern__plugin_host *h = t->data;
	uint64_t now = now_ms();

	while (h->waitq.head && h->waitq.head->deadline <= now)
		fail(h, rl_pop(&h->waitq), "plugin timed out");
	for (proc *pr = h->procs; pr; pr = pr->next) {
		bool late = false;

		while (pr->inflight.head && pr->inflight.head->deadline <= now) {
			fail(h, rl_pop(&pr->inflight), "plugin timed out");
			late = true;
		}
		if (late && !pr->retiring && !pr->exited) {
			tern_log(TERN_LOG_WARN, "plugin",
				 "pid %d did not answer within %u ms: "
				 "restarting it", pr->pid,
				 (unsigned)h->o.timeout_ms);
			retire(pr, false);
			restart_later(h);
		}
	}
	arm_deadline(h);
}

static void on_watch(uv_fs_poll_t *w, int status, const uv_stat_t *prev,
		     const uv_stat_t *curr)
{
	tern__plugin_host *h = w->data;

	if (status < 0 || h->shutting)
		return;
	pthread_mutex_lock(&h->mu);
	h->st.reloads++;
	pthread_mutex_unlock(&h->mu);
	tern_log(TERN_LOG_INFO, "plugin", "%s changed: reloading",
		 h->command);
	if (h->cur)
		retire(h->cur, true);
	uv_timer_stop(&h->restart);
	h->backoff_ms = BACKOFF_MIN_MS;
	spawn(h);
}

static void shut_down(tern__plugin_host *h)
{
	h->shutting = true;
	fail_all(h, &h->waitq, "plugin stopped");
	for (proc *pr = h->procs; pr; pr = pr->next) {
		fail_all(h, &pr->inflight, "plugin stopped");
		if (!pr->exited && !pr->retiring) {
			retire(pr, false);
		} else if (pr->retiring && !pr->term_sent && !pr->exited) {
			/* a reloaded process still draining: stop waiting */
			pr->term_sent = true;
			uv_kill(-pr->pid, SIGTERM);
			uv_timer_start(&pr->timer, on_proc_timer,
				       KILL_GRACE_MS, 0);
		}
	}
	h->cur = NULL;
	uv_close((uv_handle_t *)&h->async, NULL);
	uv_close((uv_handle_t *)&h->deadline, NULL);
	uv_close((uv_handle_t *)&h->restart, NULL);
	if (h->watching)
		uv_close((uv_handle_t *)&h->watch, NULL);
}

static void on_async(uv_async_t *a)
{
	tern__plugin_host *h = a->data;
	bool stop;

	pthread_mutex_lock(&h->mu);
	rl_append(&h->waitq, &h->inbox);
	stop = h->stopping;
	pthread_mutex_unlock(&h->mu);
	if (stop) {
		if (!h->shutting)
			shut_down(h);
		return;
	}
	flush_waitq(h);
	arm_deadline(h);
}

static void *host_main(void *arg)
{
	tern__plugin_host *h = arg;
	sigset_t set;

	/* A write to a dead plugin must fail with EPIPE, not kill us. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	spawn(h);
	uv_run(&h->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- API ------------------------------------------------------------------ */

int tern__plugin_host_start(tern__plugin_host **out,
			    const tern__plugin_host_opts *o)
{
	tern__plugin_host *h;
	int rc;

	*out = NULL;
	if (!o->command || !o->command[0] || !o->timeout_ms ||
	    !o->max_pending || !o->done)
		return TERN_EINVAL;
	h = calloc(1, sizeof *h);
	if (!h)
		return TERN_ENOMEM;
	h->o = *o;
	h->command = strdup(o->command);
	if (!h->command) {
		free(h);
		return TERN_ENOMEM;
	}
	h->o.command = h->command;
	if (!h->o.watch_ms)
		h->o.watch_ms = 500;
	h->backoff_ms = BACKOFF_MIN_MS;
	rc = uv_loop_init(&h->loop);
	if (rc) {
		free(h->command);
		free(h);
		return rc;
	}
	pthread_mutex_init(&h->mu, NULL);
	uv_async_init(&h->loop, &h->async, on_async);
	uv_timer_init(&h->loop, &h->deadline);
	uv_timer_init(&h->loop, &h->restart);
	h->async.data = h->deadline.data = h->restart.data = h;
	/* As in strfry: a command without spaces is a script path whose
	 * changes reload the plugin. Polling stat() survives editors that
	 * replace the file by renaming. */
	if (o->reload_on_change && !strchr(h->command, ' ')) {
		uv_fs_poll_init(&h->loop, &h->watch);
		h->watch.data = h;
		if (uv_fs_poll_start(&h->watch, on_watch, h->command,
				     h->o.watch_ms) == 0)
			h->watching = true;
		else
			uv_close((uv_handle_t *)&h->watch, NULL);
	}
	rc = pthread_create(&h->thread, NULL, host_main, h);
	if (rc) {
		h->shutting = true;
		uv_close((uv_handle_t *)&h->async, NULL);
		uv_close((uv_handle_t *)&h->deadline, NULL);
		uv_close((uv_handle_t *)&h->restart, NULL);
		if (h->watching)
			uv_close((uv_handle_t *)&h->watch, NULL);
		uv_run(&h->loop, UV_RUN_DEFAULT);
		uv_loop_close(&h->loop);
		pthread_mutex_destroy(&h->mu);
		free(h->command);
		free(h);
		return -rc;
	}
	*out = h;
	return 0;
}

int tern__plugin_host_reserve(tern__plugin_host *h)
{
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	if (h->stopping)
		rc = TERN_ECLOSED;
	else if (h->pending >= h->o.max_pending)
		rc = TERN_EFULL;
	else
		h->pending++;
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void tern__plugin_host_unreserve(tern__plugin_host *h)
{
	pthread_mutex_lock(&h->mu);
	h->pending--;
	pthread_mutex_unlock(&h->mu);
}

void tern__plugin_host_submit(tern__plugin_host *h, const uint8_t id[32],
			      char *line, size_t len, void *cookie)
{
	req *r = calloc(1, sizeof *r);

	if (!r) {
		/* Nothing can be queued: give the fail verdict right here. */
		tern_reason why = { 0 };

		free(line);
		tern_reason_set(&why, TERN_PREFIX_ERROR, "out of memory");
		h->o.done(h->o.ctx, cookie,
			  h->o.fail_open ? TERN__PLUGIN_ACCEPT
					 : TERN__PLUGIN_REJECT,
			  &why, true);
		tern__plugin_host_unreserve(h);
		return;
	}
	r->h = h;
	memcpy(r->id, id, 32);
	r->line = line;
	r->len = len;
	r->cookie = cookie;
	r->deadline = now_ms() + h->o.timeout_ms;
	pthread_mutex_lock(&h->mu);
	rl_push(&h->inbox, r);
	h->st.requests++;
	pthread_mutex_unlock(&h->mu);
	uv_async_send(&h->async);
}

void tern__plugin_host_stats_get(tern__plugin_host *h,
				 tern__plugin_host_stats *st)
{
	pthread_mutex_lock(&h->mu);
	*st = h->st;
	pthread_mutex_unlock(&h->mu);
}

void tern__plugin_host_stop(tern__plugin_host *h)
{
	rlist late;

	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_mutex_unlock(&h->mu);
	uv_async_send(&h->async);
	pthread_join(h->thread, NULL);
	/* Submitted on a slot reserved before the stop, after the thread's
	 * last look at the inbox. */
	pthread_mutex_lock(&h->mu);
	late = h->inbox;
	h->inbox = (rlist){ 0 };
	pthread_mutex_unlock(&h->mu);
	fail_all(h, &late, "plugin stopped");
	uv_loop_close(&h->loop);
	pthread_mutex_destroy(&h->mu);
	free(h->command);
	free(h);
}
