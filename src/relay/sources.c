/* The relay's backend and query sources; merged queries (sources.h). */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/hex.h>

#include "backend/support.h"
#include "relay/relay.h"
#include "relay/router.h"
#include "relay/sources.h"
#include "relay/wire.h"

/* Rows read from one source per refill in a merge: enough to amortize the
 * source's slice set-up, small enough to keep the buffers short. */
#define MERGE_SLICE 128

/* ---- the list ----------------------------------------------------------- */

void tern__sources_free(tern__sources *s)
{
	if (!s)
		return;
	free(s->v);
	free(s);
}

/* The relay's sources (v[0] = the backend), created on first change. */
static tern__sources *ensure(tern_relay *r)
{
	tern__sources *s = r->sources;

	if (s)
		return s;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cap = 4;
	s->v = calloc(s->cap, sizeof *s->v);
	if (!s->v) {
		free(s);
		return NULL;
	}
	s->v[0] = (tern__source){ NULL, &tern_lmdb_backend, r->store };
	s->n = 1;
	r->sources = s;
	return s;
}

static bool can_query(const tern_backend_ops *ops)
{
	return ops && ops->query_begin && ops->query_next && ops->query_end;
}

int tern_relay_set_backend(tern_relay *r, const tern_backend_ops *ops,
			   void *self)
{
	tern__sources *s;

	if (r->ran || !can_query(ops) || !ops->save)
		return TERN_EINVAL;
	s = ensure(r);
	if (!s)
		return TERN_ENOMEM;
	s->v[0] = (tern__source){ NULL, ops, self };
	return 0;
}

int tern_relay_add_query_source(tern_relay *r, const void *owner,
				const tern_backend_ops *ops, void *self)
{
	tern__sources *s;

	if (r->ran || !can_query(ops))
		return TERN_EINVAL;
	s = ensure(r);
	if (!s)
		return TERN_ENOMEM;
	if (s->n == s->cap) {
		tern__source *v = realloc(s->v, 2 * s->cap * sizeof *v);

		if (!v)
			return TERN_ENOMEM;
		s->v = v;
		s->cap *= 2;
	}
	s->v[s->n++] = (tern__source){ owner, ops, self };
	return 0;
}

void tern_relay_remove_query_sources(tern_relay *r, const void *owner)
{
	tern__sources *s = r->sources;
	size_t k = 1;

	if (!s || r->ran)
		return;
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i].owner != owner)
			s->v[k++] = s->v[i];
	s->n = k;
}

/* The relay's sources as an array; one is the default LMDB store. */
static const tern__source *list(tern_relay *r, tern__source *one, size_t *n)
{
	if (r->sources) {
		*n = r->sources->n;
		return r->sources->v;
	}
	*one = (tern__source){ NULL, &tern_lmdb_backend, r->store };
	*n = 1;
	return one;
}

int tern__sources_save(tern_relay *r, const tern_event *ev,
		       tern_store_write_cb cb, void *ctx)
{
	tern__source one;
	size_t n;
	const tern__source *s = list(r, &one, &n);

	return s[0].ops->save(s[0].self, ev, cb, ctx);
}

/* ---- merged queries ----------------------------------------------------- */

typedef struct mrow {
	uint64_t created_at;
	uint64_t serial;
	uint8_t id[32];
	size_t off, len; /* the JSON, in the source's buf */
} mrow;

typedef struct msrc {
	const tern_backend_ops *ops;
	void *self;
	void *q;
	bool done;         /* the source's query has ended */
	mrow *rows;        /* the buffered slice; head is the next one */
	size_t nrows, head, caprows;
	uint8_t *buf;
	size_t nbuf, capbuf;
	bool nomem;
} msrc;

struct tern__mquery {
	tern_relay *r;     /* whose sources (NULL: a bare merge) */
	tern__mquery *next; /* routed: the next relay's part */
	tern__mquery *cur; /* routed, in the first part: the part being
			      read (NULL when done, or not routed) */
	size_t nsrc;
	msrc *src;
	bool done;
	/* merging (nsrc > 1): each filter's limit over the merged rows */
	tern_arena mem, scratch;
	tern_filter *fs;
	size_t nf;
	uint32_t *left;
	bool have_last;
	uint64_t last_ca;
	uint8_t last_id[32];
};

/* Ends one part: the query in each of its sources. */
static void part_end(tern__mquery *q)
{
	for (size_t i = 0; i < q->nsrc; i++) {
		msrc *s = &q->src[i];

		if (s->q)
			s->ops->query_end(s->self, s->q);
		free(s->rows);
		free(s->buf);
	}
	free(q->src);
	tern_arena_free(&q->mem);
	tern_arena_free(&q->scratch);
	free(q);
}

void tern__sources_query_end(tern__mquery *q)
{
	while (q) {
		tern__mquery *next = q->next;

		part_end(q);
		q = next;
	}
}

int tern__sources_merge_begin(tern__mquery **out, const tern__source *src,
			      size_t nsrc, const tern_filter *fs, size_t n,
			      uint32_t limit_cap)
{
	tern__mquery *q = calloc(1, sizeof *q);
	int rc = TERN_ENOMEM;

	*out = NULL;
	if (!q)
		return TERN_ENOMEM;
	tern_arena_init(&q->mem, 0);
	tern_arena_init(&q->scratch, 0);
	q->src = calloc(nsrc ? nsrc : 1, sizeof *q->src);
	if (!q->src)
		goto fail;
	q->nsrc = nsrc;
	for (size_t i = 0; i < nsrc; i++) {
		q->src[i].ops = src[i].ops;
		q->src[i].self = src[i].self;
		rc = src[i].ops->query_begin(src[i].self, fs, n, limit_cap,
					     &q->src[i].q);
		if (rc)
			goto fail;
	}
	if (nsrc > 1 && n) {
		rc = TERN_ENOMEM;
		q->nf = n;
		q->fs = tern__support_filters_copy(&q->mem, fs, n);
		q->left = tern_arena_alloc(&q->mem, n * sizeof *q->left);
		if (!q->fs || !q->left)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			uint32_t l = fs[i].has_limit ? fs[i].limit
						     : UINT32_MAX;

			q->left[i] = limit_cap && l > limit_cap ? limit_cap
								  : l;
		}
	}
	*out = q;
	return 0;
fail:
	tern__sources_query_end(q);
	return rc;
}

/* One relay's part of a query: a merge over its sources. */
static int part_begin(tern__mquery **out, tern_relay *r,
		      const tern_filter *fs, size_t n, uint32_t limit_cap)
{
	tern__source one;
	size_t ns;
	const tern__source *s = list(r, &one, &ns);
	int rc = tern__sources_merge_begin(out, s, ns, fs, n, limit_cap);

	if (rc == 0)
		(*out)->r = r;
	return rc;
}

/* The filters of relay k (rel[i] == k) among the n of fs, copied to out.
 * Returns how many. */
static size_t pick(const tern_filter *fs, const uint32_t *rel, size_t n,
		   uint32_t k, tern_filter *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (rel[i] == k)
			out[m++] = fs[i];
	return m;
}

/* True when every filter goes to the same relay (*k). */
static bool one_relay(const uint32_t *rel, size_t n, uint32_t *k)
{
	*k = n ? rel[0] : 0;
	for (size_t i = 1; i < n; i++)
		if (rel[i] != *k)
			return false;
	return true;
}

int tern__sources_query_begin(tern__mquery **out, tern_relay *r,
			      const tern_filter *fs, const uint32_t *rel,
			      size_t n, uint32_t limit_cap)
{
	tern__mquery *head = NULL, **tail = &head;
	tern_filter *g;
	uint32_t k;
	int rc = 0;

	*out = NULL;
	if (!rel)
		return part_begin(out, r, fs, n, limit_cap);
	if (one_relay(rel, n, &k))
		return part_begin(out, tern__router_relay(r, k), fs, n,
				  limit_cap);
	/* Filters for several relays: one part each, read in turn. The
	 * parts copy their filters (backends do), so g is scratch. */
	g = malloc(n * sizeof *g);
	if (!g)
		return TERN_ENOMEM;
	for (k = 0; k < r->routes->nrel && !rc; k++) {
		size_t m = pick(fs, rel, n, k, g);

		if (!m)
			continue;
		rc = part_begin(tail, tern__router_relay(r, k), g, m,
				limit_cap);
		if (rc == 0)
			tail = &(*tail)->next;
	}
	free(g);
	if (rc) {
		tern__sources_query_end(head);
		return rc;
	}
	head->cur = head;
	*out = head;
	return 0;
}

tern_relay *tern__sources_query_relay(const tern__mquery *q)
{
	return q->cur ? q->cur->r : q->r;
}

/* Visitor filling a source's buffer with copies of its rows. */
static bool buffer_row(void *ctx, tern_slice json, uint64_t serial)
{
	msrc *s = ctx;
	mrow *r;

	if (s->nrows == s->caprows) {
		size_t cap = s->caprows ? s->caprows * 2 : MERGE_SLICE;
		mrow *v = realloc(s->rows, cap * sizeof *v);

		if (!v)
			goto nomem;
		s->rows = v;
		s->caprows = cap;
	}
	if (s->nbuf + json.n > s->capbuf) {
		size_t cap = s->capbuf ? s->capbuf : 65536;
		uint8_t *b;

		while (cap < s->nbuf + json.n)
			cap *= 2;
		b = realloc(s->buf, cap);
		if (!b)
			goto nomem;
		s->buf = b;
		s->capbuf = cap;
	}
	r = &s->rows[s->nrows];
	/* A row that is not an event cannot be ordered: leave it out. */
	if (!tern__support_json_key(json, &r->created_at, r->id, NULL))
		return true;
	r->serial = serial;
	r->off = s->nbuf;
	r->len = json.n;
	memcpy(s->buf + s->nbuf, json.p, json.n);
	s->nbuf += json.n;
	s->nrows++;
	return true;
nomem:
	s->nomem = true;
	return false;
}

/* Reads the next slice of s once its buffer is used up. */
static int refill(msrc *s)
{
	while (s->head == s->nrows && !s->done) {
		int rc;

		s->head = s->nrows = s->nbuf = 0;
		rc = s->ops->query_next(s->self, s->q, MERGE_SLICE,
					buffer_row, s);
		if (s->nomem)
			return TERN_ENOMEM;
		if (rc < 0)
			return rc;
		s->done = rc == 0;
	}
	return 0;
}

/*
 * Applies the filters' limits to a merged row. Returns false to drop it:
 * it matches only filters whose limit is used up. A row that matches no
 * filter by tern_filter_match() (a source's own semantics, e.g. search) is
 * let through unaccounted. Sets q->done when every limit is used up.
 */
static bool account(tern__mquery *q, const uint8_t *json, size_t len)
{
	bool hit = false, any = false, more = false;
	tern_event ev;

	tern_arena_reset(&q->scratch);
	if (tern_event_parse(&ev, json, len, NULL, &q->scratch, NULL))
		return true;
	for (size_t i = 0; i < q->nf; i++) {
		if (tern_filter_match(&q->fs[i], &ev)) {
			any = true;
			if (q->left[i]) {
				q->left[i]--;
				hit = true;
			}
		}
		more |= q->left[i] > 0;
	}
	if (!more)
		q->done = true;
	return hit || !any;
}

static int part_next(tern__mquery *q, uint32_t max_rows,
		     tern_store_visit_cb cb, void *ctx)
{
	uint32_t rows = 0;

	if (q->done)
		return 0;
	if (q->nsrc == 1) {
		msrc *s = &q->src[0];
		int rc = s->ops->query_next(s->self, s->q, max_rows, cb, ctx);

		if (rc <= 0)
			q->done = true;
		return rc;
	}
	while (!q->done) {
		msrc *best = NULL;
		const mrow *r;
		int rc;

		if (max_rows && rows == max_rows)
			return 1;
		for (size_t i = 0; i < q->nsrc; i++) {
			msrc *s = &q->src[i];
			const mrow *h;

			if ((rc = refill(s)))
				return rc;
			if (s->head == s->nrows)
				continue;
			h = &s->rows[s->head];
			if (!best ||
			    tern__support_order(h->created_at, h->id,
						best->rows[best->head]
							.created_at,
						best->rows[best->head].id) < 0)
				best = s;
		}
		if (!best) {
			q->done = true;
			break;
		}
		r = &best->rows[best->head++];
		/* The same event from two sources sorts next to itself. */
		if (q->have_last && r->created_at == q->last_ca &&
		    !memcmp(r->id, q->last_id, 32))
			continue;
		q->have_last = true;
		q->last_ca = r->created_at;
		memcpy(q->last_id, r->id, 32);
		if (q->nf && !account(q, best->buf + r->off, r->len))
			continue;
		rows++;
		if (!cb(ctx, (tern_slice){ best->buf + r->off, r->len },
			r->serial))
			q->done = true;
	}
	return 0;
}

/* A visitor of a routed query's part: tells whether the caller's stopped. */
typedef struct stopper {
	tern_store_visit_cb cb;
	void *ctx;
	bool stopped;
} stopper;

static bool stopper_visit(void *ctx, tern_slice json, uint64_t serial)
{
	stopper *st = ctx;

	if (st->cb(st->ctx, json, serial))
		return true;
	st->stopped = true;
	return false;
}

int tern__sources_query_next(tern__mquery *q, uint32_t max_rows,
			     tern_store_visit_cb cb, void *ctx)
{
	if (!q->next)
		return part_next(q, max_rows, cb, ctx);
	while (q->cur) {
		stopper st = { cb, ctx, false };
		int rc = part_next(q->cur, max_rows, stopper_visit, &st);

		if (rc)
			return rc; /* more in this part, or an error */
		if (st.stopped)
			break;
		q->cur = q->cur->next;
		/* The next part in the next slice. */
		if (q->cur)
			return 1;
	}
	q->cur = NULL;
	return 0;
}

int tern__sources_query(tern_relay *r, const tern_filter *fs,
			const uint32_t *rel, size_t n, uint32_t limit_cap,
			tern_store_visit_cb cb, void *ctx)
{
	tern__mquery *q;
	int rc = tern__sources_query_begin(&q, r, fs, rel, n, limit_cap);

	if (rc)
		return rc;
	while ((rc = tern__sources_query_next(q, 0, cb, ctx)) == 1)
		;
	tern__sources_query_end(q);
	return rc;
}

/* ---- counts ------------------------------------------------------------- */

/* The sum of the counts of r's sources. */
static int relay_count(tern_relay *r, const tern_filter *fs, size_t n,
		       uint64_t *count)
{
	tern__source one;
	size_t ns;
	const tern__source *s = list(r, &one, &ns);

	*count = 0;
	for (size_t i = 0; i < ns; i++) {
		uint64_t c = 0;
		int rc = tern_backend_count(s[i].ops, s[i].self, fs, n, &c);

		if (rc)
			return rc;
		*count += c;
	}
	return 0;
}

int tern__sources_count(tern_relay *r, const tern_filter *fs,
			const uint32_t *rel, size_t n, uint64_t *count)
{
	tern_filter *g;
	uint32_t k;
	int rc = 0;

	if (!rel)
		return relay_count(r, fs, n, count);
	if (one_relay(rel, n, &k))
		return relay_count(tern__router_relay(r, k), fs, n, count);
	*count = 0;
	g = malloc(n * sizeof *g);
	if (!g)
		return TERN_ENOMEM;
	for (k = 0; k < r->routes->nrel && !rc; k++) {
		size_t m = pick(fs, rel, n, k, g);
		uint64_t c = 0;

		if (!m)
			continue;
		rc = relay_count(tern__router_relay(r, k), g, m, &c);
		*count += c;
	}
	free(g);
	return rc;
}

int tern__sources_count_hll(tern_relay *r, const tern_filter *fs,
			    const uint32_t *rel, size_t n, uint64_t *count,
			    uint8_t regs[TERN_HLL_REGISTERS], bool *has_hll)
{
	tern__source one;
	size_t ns;
	const tern__source *s;
	int off = n == 1 ? tern_hll_offset(&fs[0]) : -1;

	*has_hll = false;
	if (off < 0)
		return tern__sources_count(r, fs, rel, n, count);
	/* One filter: its relay's sources. */
	if (rel)
		r = tern__router_relay(r, rel[0]);
	s = list(r, &one, &ns);
	*count = 0;
	memset(regs, 0, TERN_HLL_REGISTERS);
	for (size_t i = 0; i < ns; i++) {
		uint8_t part[TERN_HLL_REGISTERS];
		uint64_t c = 0;
		int rc = tern_backend_count_hll(s[i].ops, s[i].self, &fs[0],
						(unsigned)off, &c, part);

		if (rc)
			return rc;
		*count += c;
		tern_hll_merge(regs, part);
	}
	*has_hll = true;
	return 0;
}

size_t tern__sources_wire_count(char *buf, size_t cap, tern_slice sub,
				uint64_t n, const uint8_t *regs)
{
	static const char key[] = ",\"hll\":\"";
	size_t len = tern__wire_count(buf, cap, sub, n), need;

	if (!regs || len > cap || len < 2)
		return len;
	/* Splice the field in before the closing "}]". */
	need = len + (sizeof key - 1) + 2 * TERN_HLL_REGISTERS + 1;
	if (need > cap)
		return need;
	len -= 2;
	memcpy(buf + len, key, sizeof key - 1);
	len += sizeof key - 1;
	tern_hex_encode(buf + len, regs, TERN_HLL_REGISTERS);
	len += 2 * TERN_HLL_REGISTERS;
	memcpy(buf + len, "\"}]", 3);
	return len + 3;
}
