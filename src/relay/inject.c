/* Injected events, broadcast, live filter snapshots (inject.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/error.h>

#include "relay/conn.h"
#include "relay/inject.h"
#include "relay/io.h"
#include "relay/relay.h"

/* ---- inject ----------------------------------------------------------- */

void tern__inject_done(tern__inject *inj, bool ok, const tern_reason *why)
{
	tern_reason none = { 0 };

	if (inj->cb)
		inj->cb(inj->ud, ok, why ? why : &none);
	free(inj);
}

int tern_relay_inject_event(tern_relay *r, const uint8_t *json, size_t len,
			    tern_relay_inject_fn cb, void *ud)
{
	tern_relay *run = tern__relay_runner(r);
	tern__inject *inj;

	/* A sub-relay runs on its router's threads: none before it is a
	 * route. */
	if (!run->nio)
		return TERN_EINVAL;
	inj = malloc(sizeof *inj + len);
	if (!inj)
		return TERN_ENOMEM;
	inj->r = r;
	inj->cb = cb;
	inj->ud = ud;
	inj->len = len;
	if (len)
		memcpy(inj->json, json, len);
	if (!tern__io_post(run->io[0], TERN__IO_INJECT, inj)) {
		free(inj);
		return TERN_ECLOSED;
	}
	return 0;
}

/* ---- broadcast -------------------------------------------------------- */

int tern_relay_broadcast(tern_relay *r, const tern_event *ev)
{
	tern__rbuf *json;

	if (!ev || !ev->json.n)
		return TERN_EINVAL;
	json = tern__rbuf_dup(ev->json.p, ev->json.n);
	if (!json)
		return TERN_ENOMEM;
	tern__relay_broadcast(r, json);
	tern__rbuf_unref(json);
	return 0;
}

/* ---- live filters ----------------------------------------------------- */

typedef struct collect_ctx {
	tern__livesnap *s;
	char *buf;
	size_t cap;
} collect_ctx;

/* Copies one filter into the snapshot's arena (format, then parse: the
 * filter's lists are spread over the index's memory). Under s->mu. */
static int copy_filter(collect_ctx *x, const tern_filter *f, tern_filter *out)
{
	size_t n = tern_filter_format(f, x->buf, x->cap);
	tern_filter_limits lim = {
		.max_values = UINT32_MAX,
		.max_tags = 64,
		.max_json = SIZE_MAX / 2,
		.max_depth = 8,
	};

	if (n >= x->cap) {
		char *b = realloc(x->buf, n + 1);

		if (!b)
			return TERN_ENOMEM;
		x->buf = b;
		x->cap = n + 1;
		tern_filter_format(f, x->buf, x->cap);
	}
	return tern_filter_parse(out, (const uint8_t *)x->buf, n, &lim,
				 &x->s->a, NULL);
}

static int collect_sub(void *ctx, const tern__subindex_sub *sub)
{
	collect_ctx *x = ctx;
	tern__livesnap *s = x->s;
	const tern__conn *c = sub->owner;
	uint8_t *id;

	id = tern_arena_alloc(&s->a, sub->id.n + 1);
	if (!id)
		goto oom;
	memcpy(id, sub->id.p, sub->id.n);
	id[sub->id.n] = 0;
	for (uint32_t i = 0; i < sub->nfilters; i++) {
		tern__livesnap_item *it;

		if (tern__subindex_route(sub, i) != s->rel)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			tern__livesnap_item *v = realloc(s->v, cap * sizeof *v);

			if (!v)
				goto oom;
			s->v = v;
			s->cap = cap;
		}
		it = &s->v[s->n];
		it->conn = c->serial;
		it->sub = (tern_slice){ id, sub->id.n };
		if (copy_filter(x, &sub->filters[i], &it->f))
			goto oom;
		s->n++;
	}
	return 0;
oom:
	s->oom = true;
	return TERN_ENOMEM;
}

void tern__livesnap_collect(tern__io *io, tern__livesnap *s)
{
	collect_ctx x = { s, NULL, 0 };

	pthread_mutex_lock(&s->mu);
	tern__subindex_foreach(io->subs, NULL, collect_sub, &x);
	free(x.buf);
	s->remaining--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int tern_relay_foreach_live_filter(tern_relay *r, tern_live_filter_fn cb,
				   void *ud)
{
	tern_relay *run = tern__relay_runner(r);
	tern__livesnap s = { .rel = r->route_idx, .remaining = run->nio };
	tern__io *self = tern__io_current();
	int rc = 0;

	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	tern_arena_init(&s.a, 0);
	for (unsigned i = 0; i < run->nio; i++) {
		tern__io *io = run->io[i];

		/* A loop that is not running touches no subscription: read
		 * its index from here. */
		if (io == self || !tern__io_post_if_running(io,
							    TERN__IO_LIVESNAP,
							    &s))
			tern__livesnap_collect(io, &s);
	}
	pthread_mutex_lock(&s.mu);
	while (s.remaining) {
		struct timespec ts;

		if (!self) {
			pthread_cond_wait(&s.cv, &s.mu);
			continue;
		}
		/* An I/O thread waiting for the others answers their
		 * requests meanwhile, so that two listing at once cannot
		 * wait for each other. */
		pthread_mutex_unlock(&s.mu);
		tern__io_serve_livesnaps(self);
		pthread_mutex_lock(&s.mu);
		if (!s.remaining)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s.cv, &s.mu, &ts);
	}
	pthread_mutex_unlock(&s.mu);
	if (s.oom)
		rc = TERN_ENOMEM;
	for (size_t i = 0; i < s.n && !rc; i++)
		if (!cb(ud, s.v[i].conn, s.v[i].sub, &s.v[i].f))
			break;
	free(s.v);
	tern_arena_free(&s.a);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
	return rc;
}
