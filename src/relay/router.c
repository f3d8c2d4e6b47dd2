/*
 * The router backend (tern/router.h): routes events and filters to the
 * backends of its routes. Queries over several routes run one route after
 * the other (each route gets its own filters in one sub-query).
 */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/router.h>

typedef struct route {
	tern_route_event_fn ev_match;
	tern_route_filter_fn f_match;
	void *ud;
	const tern_backend_ops *ops;
	void *self;
} route;

struct tern_router {
	route *v;
	size_t n, cap;
};

int tern_router_new(tern_router **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : TERN_ENOMEM;
}

int tern_router_add(tern_router *rt, tern_route_event_fn ev_match,
		    tern_route_filter_fn f_match, void *ud,
		    const tern_backend_ops *ops, void *self)
{
	if (!rt || !ops || !ops->save || !ops->query_begin ||
	    !ops->query_next || !ops->query_end)
		return TERN_EINVAL;
	if (rt->n == rt->cap) {
		size_t cap = rt->cap ? rt->cap * 2 : 4;
		route *v = realloc(rt->v, cap * sizeof *v);

		if (!v)
			return TERN_ENOMEM;
		rt->v = v;
		rt->cap = cap;
	}
	rt->v[rt->n++] = (route){ ev_match, f_match, ud, ops, self };
	return 0;
}

void tern_router_free(tern_router *rt)
{
	if (!rt)
		return;
	free(rt->v);
	free(rt);
}

static const route *route_event(const tern_router *rt, const tern_event *ev)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->v[i].ev_match && rt->v[i].ev_match(rt->v[i].ud, ev))
			return &rt->v[i];
	return NULL;
}

/* The index of f's route, or rt->n for none. */
static size_t route_filter(const tern_router *rt, const tern_filter *f)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->v[i].f_match && rt->v[i].f_match(rt->v[i].ud, f))
			return i;
	return rt->n;
}

static int r_save(void *self, const tern_event *ev, tern_store_write_cb cb,
		  void *ctx)
{
	const route *r = route_event(self, ev);
	tern_write_result res;

	if (r)
		return r->ops->save(r->self, ev, cb, ctx);
	memset(&res, 0, sizeof res);
	res.status = TERN_WRITE_REJECTED;
	memcpy(res.id, ev->id, 32);
	tern_reason_set(&res.reason, TERN_PREFIX_BLOCKED,
			"no route for this event");
	if (cb)
		cb(ctx, &res);
	return 0;
}

/*
 * Groups the n filters by route: *idx gets, for each route in order, its
 * filters (copies), and cnt[i] how many route i has. Returns the array
 * (malloc'ed, n entries; NULL when n is 0 or out of memory: *oom tells).
 */
static tern_filter *group(const tern_router *rt, const tern_filter *fs,
			  size_t n, size_t *cnt, bool *oom)
{
	size_t *which = malloc((n ? n : 1) * sizeof *which);
	tern_filter *out = malloc((n ? n : 1) * sizeof *out);
	size_t k = 0;

	*oom = !which || !out;
	if (*oom) {
		free(which);
		free(out);
		return NULL;
	}
	memset(cnt, 0, (rt->n + 1) * sizeof *cnt);
	for (size_t i = 0; i < n; i++) {
		which[i] = route_filter(rt, &fs[i]);
		cnt[which[i]]++;
	}
	for (size_t r = 0; r < rt->n; r++)
		for (size_t i = 0; i < n; i++)
			if (which[i] == r)
				out[k++] = fs[i];
	free(which);
	return out;
}

typedef struct rquery {
	size_t n, cur;
	struct {
		const route *r;
		void *q;
	} v[];
} rquery;

static void r_query_end(void *self, void *qp)
{
	rquery *q = qp;

	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].q)
			q->v[i].r->ops->query_end(q->v[i].r->self, q->v[i].q);
	free(q);
}

static int r_query_begin(void *self, const tern_filter *fs, size_t n,
			 uint32_t limit_cap, void **out)
{
	tern_router *rt = self;
	size_t *cnt = calloc(rt->n + 1, sizeof *cnt), off = 0, used = 0;
	tern_filter *g;
	rquery *q;
	bool oom;
	int rc = 0;

	*out = NULL;
	if (!cnt)
		return TERN_ENOMEM;
	g = group(rt, fs, n, cnt, &oom);
	q = oom ? NULL : calloc(1, sizeof *q + rt->n * sizeof q->v[0]);
	if (!q) {
		free(g);
		free(cnt);
		return TERN_ENOMEM;
	}
	for (size_t r = 0; r < rt->n && !rc; r++) {
		if (!cnt[r])
			continue;
		q->v[used].r = &rt->v[r];
		rc = rt->v[r].ops->query_begin(rt->v[r].self, g + off, cnt[r],
					       limit_cap, &q->v[used].q);
		used++;
		off += cnt[r];
	}
	q->n = used;
	free(g);
	free(cnt);
	if (rc) {
		r_query_end(self, q);
		return rc;
	}
	*out = q;
	return 0;
}

typedef struct visit {
	tern_store_visit_cb cb;
	void *ctx;
	bool stopped;
} visit;

static bool visit_fn(void *ctx, tern_slice json, uint64_t serial)
{
	visit *v = ctx;

	if (v->cb(v->ctx, json, serial))
		return true;
	v->stopped = true;
	return false;
}

static int r_query_next(void *self, void *qp, uint32_t max_rows,
			tern_store_visit_cb cb, void *ctx)
{
	rquery *q = qp;
	visit v = { cb, ctx, false };

	while (q->cur < q->n) {
		const route *r = q->v[q->cur].r;
		int rc = r->ops->query_next(r->self, q->v[q->cur].q, max_rows,
					    visit_fn, &v);

		if (rc)
			return rc; /* more in this route, or an error */
		if (v.stopped)
			return 0;
		q->cur++;
		/* The next route in the next slice. */
		if (q->cur < q->n)
			return 1;
	}
	return 0;
}

static int r_count(void *self, const tern_filter *fs, size_t n,
		   uint64_t *count)
{
	tern_router *rt = self;
	size_t *cnt = calloc(rt->n + 1, sizeof *cnt), off = 0;
	tern_filter *g;
	bool oom;
	int rc = 0;

	*count = 0;
	if (!cnt)
		return TERN_ENOMEM;
	g = group(rt, fs, n, cnt, &oom);
	if (oom) {
		free(cnt);
		return TERN_ENOMEM;
	}
	for (size_t r = 0; r < rt->n && !rc; r++) {
		uint64_t c = 0;

		if (!cnt[r])
			continue;
		rc = tern_backend_count(rt->v[r].ops, rt->v[r].self, g + off,
					cnt[r], &c);
		*count += c;
		off += cnt[r];
	}
	free(g);
	free(cnt);
	return rc;
}

static int r_count_hll(void *self, const tern_filter *f, unsigned offset,
		       uint64_t *count, uint8_t regs[TERN_HLL_REGISTERS])
{
	tern_router *rt = self;
	size_t r = route_filter(rt, f);

	if (r == rt->n) {
		*count = 0;
		memset(regs, 0, TERN_HLL_REGISTERS);
		return 0;
	}
	return tern_backend_count_hll(rt->v[r].ops, rt->v[r].self, f, offset,
				      count, regs);
}

/* Waits for every route's backend (a backend on two routes is flushed
 * twice: a flush with nothing pending returns at once). */
static void r_flush(void *self)
{
	tern_router *rt = self;

	for (size_t i = 0; i < rt->n; i++)
		if (rt->v[i].ops->flush)
			rt->v[i].ops->flush(rt->v[i].self);
}

const tern_backend_ops tern_router_backend = {
	.name = "router",
	.save = r_save,
	.query_begin = r_query_begin,
	.query_next = r_query_next,
	.query_end = r_query_end,
	.count = r_count,
	.count_hll = r_count_hll,
	.flush = r_flush,
};
