/*
 * Query engine (query.h, include/tern/store.h, docs/STORE_FORMAT.md).
 *
 * Plan: each filter gets one index and a set of ranges on it (one per
 * author, kind, author+kind pair or tag value; one range over "ca" when
 * nothing narrower applies; an id list for "ids"). A range is walked
 * backwards from prefix+until to prefix+since, so it yields its events
 * newest first (the key suffix is created_at | serial). The ranges of one
 * filter are merged by a max-heap on the suffix.
 *
 * Ties (NIP-01: on equal created_at, lowest id first): a filter reads the
 * matching events of one second at a time into its tie group, keeping the
 * `remaining` lowest ids (a bounded max-heap when the filter has a limit),
 * and yields them sorted by id. The filters' streams are merged by
 * (created_at desc, id asc), and an event several filters (or several
 * ranges of one filter) produce is emitted once. Counting needs no order:
 * an unordered query (tern_store_count) streams the index order instead.
 *
 * Checks per candidate: the record header answers expiration, created_at,
 * kinds and authors without parsing; only tag conditions the index cannot
 * answer exactly need the JSON parsed and tern_filter_match().
 *
 * Slicing: between calls a range keeps only its head key (the next entry
 * not yet consumed). Each call opens a fresh read transaction, re-seeks
 * every live range to the largest key <= its head (entries deleted in
 * between are simply skipped) and rebuilds the heaps. Each filter keeps its
 * remaining limit and the serial it consumed last, so results never repeat.
 */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "nostr/filter_internal.h"
#include "store/keys.h"
#include "store/query.h"
#include "store/records.h"

/* Most events a tie group holds: a second with more matches than this (and
 * a limit above it) is read in several passes, each taking the lowest ids
 * above the previous pass's. */
#define GRP_MAX 16384
/* Index entries tie-group fills may walk in one sliced call (max_rows > 0)
 * before it returns to its caller: a second of very many events is read
 * over several calls. */
#define GRP_STEPS 16384

/* Cartesian author x kind products up to this size use "pkkind". */
#define PKKIND_MAX_PAIRS 1000

enum plan { PLAN_NONE, PLAN_IDS, PLAN_CA, PLAN_PK, PLAN_KIND, PLAN_PKKIND,
	    PLAN_TAG };

enum { R_INIT, R_HEAD, R_DONE };

typedef struct range {
	uint8_t *key;    /* prefix + suffix: upper bound, then the head */
	uint8_t idp[TERN__KEY_VALUE]; /* the head's value: id[0..8] */
	uint16_t plen;   /* prefix length */
	uint8_t state;   /* R_INIT, R_HEAD or R_DONE */
	uint32_t gen;    /* call in which cur was (re)attached */
	MDB_cursor *cur;
} range;

/* An event of an "ids" filter, or of a tie group (with its record as read
 * in call gen of the query, valid while that call runs). */
typedef struct idref {
	uint64_t ca;
	uint64_t serial;
	uint8_t id[32];
	MDB_val rec;
	uint32_t gen;
} idref;

typedef struct fstate {
	tern_filter f;        /* deep copy */
	enum plan plan;
	int db;
	bool chk_authors, chk_kinds, chk_time, parse;
	bool done;
	uint64_t remaining;
	bool has_last;
	uint64_t last;        /* serial consumed or refused last */
	uint8_t since_be[8];
	range *r;
	uint32_t nr;
	uint32_t *heap;
	uint32_t nheap;
	idref *ids;
	uint32_t nids, idpos;
	bool ids_ready;
	/* the tie group: events of one second, sorted by id (malloc'd) */
	idref *grp;
	size_t ngrp, grpcap, grppos;
	uint64_t grp_ca;      /* its second */
	bool grp_cut;         /* the limit left out some of that second */
	bool filling;         /* a fill paused by the call's step budget */
	/* a refill of second floor_ca takes only ids above floor */
	bool has_floor;
	uint64_t floor_ca;
	uint8_t floor[32];
	/* the candidate found by peek() in call peek_gen */
	bool peek_ok;
	uint32_t peek_gen;
	uint64_t peek_ca;
	uint64_t peek_serial;
	const uint8_t *peek_id;
	MDB_val peek_val;
} fstate;

struct tern_query {
	tern_store *s;
	tern_arena mem;     /* filter copies, ranges, heaps */
	tern_arena scratch; /* parsing candidates */
	fstate *fs;
	size_t n;
	uint32_t gen;
	uint64_t now;
	MDB_txn *txn;
	bool write;
	bool unordered; /* any order will do (counting) */
	bool finished;
	bool stepped;   /* this call's tie-group fills have a step budget */
	uint32_t steps; /* ... and this much of it left */
};

/* ---- filter copy and planning ------------------------------------------ */

static void *dup_bytes(tern_arena *a, const void *p, size_t n, bool *ok)
{
	void *d;

	if (!p)
		return NULL;
	d = tern_arena_alloc(a, n ? n : 1);
	if (!d) {
		*ok = false;
		return NULL;
	}
	if (n)
		memcpy(d, p, n);
	return d;
}

static bool copy_filter(tern_arena *a, tern_filter *d, const tern_filter *f)
{
	tern_tag_filter *tags;
	bool ok = true;

	*d = *f;
	d->ids = dup_bytes(a, f->ids, (size_t)f->nids * 32, &ok);
	d->authors = dup_bytes(a, f->authors, (size_t)f->nauthors * 32, &ok);
	d->kinds = dup_bytes(a, f->kinds, (size_t)f->nkinds * 2, &ok);
	d->search.p = dup_bytes(a, f->search.p, f->search.n, &ok);
	d->tags = NULL;
	if (!f->ntags || !f->tags) {
		d->ntags = 0;
		return ok;
	}
	tags = dup_bytes(a, f->tags, f->ntags * sizeof *tags, &ok);
	if (!ok)
		return false;
	for (uint32_t i = 0; i < f->ntags; i++) {
		tern_slice *v = dup_bytes(a, f->tags[i].values,
					  f->tags[i].nvalues * sizeof *v, &ok);

		for (uint32_t j = 0; ok && v && j < f->tags[i].nvalues; j++)
			v[j].p = dup_bytes(a, v[j].p, v[j].n, &ok);
		tags[i].values = v;
	}
	d->tags = tags;
	return ok;
}

/* Allocates range i's key buffer and writes its upper bound. */
static range *range_init(tern_arena *a, fstate *F, uint32_t i,
			 const uint8_t *prefix, size_t plen)
{
	range *r = &F->r[i];

	r->key = tern_arena_alloc(a, plen + TERN__KEY_SUFFIX);
	if (!r->key)
		return NULL;
	if (plen)
		memcpy(r->key, prefix, plen);
	r->plen = (uint16_t)plen;
	tern__be64_put(r->key + plen, F->f.until);
	memset(r->key + plen + 8, 0xFF, 8);
	r->state = R_INIT;
	return r;
}

static int plan_filter(tern_query *q, fstate *F, uint32_t limit_cap,
		       bool no_limits)
{
	tern_arena *a = &q->mem;
	tern_filter *f = &F->f;
	const tern_tag_filter *tf = NULL;
	uint8_t key[TERN__KEY_TAG_PREFIX_MAX];
	bool cut = false;
	uint32_t i, j, n = 0;

	F->remaining = UINT64_MAX;
	if (!no_limits) {
		if (f->has_limit)
			F->remaining = f->limit;
		if (limit_cap && F->remaining > limit_cap)
			F->remaining = limit_cap;
	}
	tern__be64_put(F->since_be, f->since);
	F->plan = PLAN_NONE;
	F->done = true;
	/* Nothing can match: search (no full-text index), an empty list,
	 * an empty time window or a zero limit. */
	if (f->has_search || !F->remaining || tern__filter_matches_nothing(f))
		return 0;
	for (i = 0; i < f->ntags; i++)
		if (!tf || f->tags[i].nvalues < tf->nvalues)
			tf = &f->tags[i];
	F->done = false;
	F->parse = f->ntags > 0;

	if (f->ids) {
		F->plan = PLAN_IDS;
		F->chk_authors = f->authors != NULL;
		F->chk_kinds = f->kinds != NULL;
		F->chk_time = true;
		return 0;
	}
	if (f->authors && f->kinds &&
	    (uint64_t)f->nauthors * f->nkinds <= PKKIND_MAX_PAIRS) {
		F->plan = PLAN_PKKIND;
		F->db = TERN__DB_PKKIND;
		n = f->nauthors * f->nkinds;
	} else if (f->authors) {
		F->plan = PLAN_PK;
		F->db = TERN__DB_PK;
		F->chk_kinds = f->kinds != NULL;
		n = f->nauthors;
	} else if (tf) {
		F->plan = PLAN_TAG;
		F->db = TERN__DB_TAG;
		F->chk_kinds = f->kinds != NULL;
		n = tf->nvalues;
	} else if (f->kinds) {
		F->plan = PLAN_KIND;
		F->db = TERN__DB_KIND;
		n = f->nkinds;
	} else {
		F->plan = PLAN_CA;
		F->db = TERN__DB_CA;
		n = 1;
	}
	F->r = tern_arena_alloc(a, n * sizeof *F->r);
	F->heap = tern_arena_alloc(a, n * sizeof *F->heap);
	if (!F->r || !F->heap)
		return TERN_ENOMEM;
	memset(F->r, 0, n * sizeof *F->r);
	F->nr = n;

	for (i = 0; i < n; i++) {
		size_t plen = 0;

		switch (F->plan) {
		case PLAN_PKKIND:
			memcpy(key, f->authors[i / f->nkinds], 32);
			tern__be16_put(key + 32, f->kinds[i % f->nkinds]);
			plen = 34;
			break;
		case PLAN_PK:
			memcpy(key, f->authors[i], 32);
			plen = 32;
			break;
		case PLAN_KIND:
			tern__be16_put(key, f->kinds[i]);
			plen = 2;
			break;
		case PLAN_TAG:
			plen = tern__keys_tag_prefix(key, tf->name,
						     tf->values[i], &cut);
			if (cut)
				F->parse = true;
			break;
		default:
			break;
		}
		if (!range_init(a, F, i, key, plen))
			return TERN_ENOMEM;
	}
	/* A single tag condition with exact keys is answered by the index. */
	if (F->plan == PLAN_TAG && f->ntags == 1) {
		for (j = 0; j < tf->nvalues; j++)
			if (tf->values[j].n > TERN__KEY_TAG_MAX)
				break;
		F->parse = j < tf->nvalues;
	}
	return 0;
}

int tern__query_new(tern_query **out, tern_store *s, const tern_filter *fs,
		    size_t n, uint32_t limit_cap, bool no_limits)
{
	tern_query *q;
	int rc;

	*out = NULL;
	if (!s || (n && !fs))
		return TERN_EINVAL;
	q = calloc(1, sizeof *q);
	if (!q)
		return TERN_ENOMEM;
	q->s = s;
	q->n = n;
	q->unordered = no_limits;
	tern_arena_init(&q->mem, 0);
	tern_arena_init(&q->scratch, 0);
	if (n) {
		q->fs = tern_arena_alloc(&q->mem, n * sizeof *q->fs);
		if (!q->fs) {
			rc = TERN_ENOMEM;
			goto fail;
		}
		memset(q->fs, 0, n * sizeof *q->fs);
	}
	for (size_t i = 0; i < n; i++) {
		if (!copy_filter(&q->mem, &q->fs[i].f, &fs[i])) {
			rc = TERN_ENOMEM;
			goto fail;
		}
		if ((rc = plan_filter(q, &q->fs[i], limit_cap, no_limits)))
			goto fail;
	}
	*out = q;
	return 0;
fail:
	tern_query_end(q);
	return rc;
}

void tern_query_end(tern_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n && q->fs; i++) {
		for (uint32_t j = 0; j < q->fs[i].nr; j++)
			if (q->fs[i].r[j].cur)
				mdb_cursor_close(q->fs[i].r[j].cur);
		free(q->fs[i].grp);
	}
	tern_arena_free(&q->mem);
	tern_arena_free(&q->scratch);
	free(q);
}

/* ---- ranges ------------------------------------------------------------- */

/* Attaches r's cursor to the current transaction. Read cursors are kept
 * and renewed from call to call; write cursors are per call. */
static int range_cursor(tern_query *q, fstate *F, range *r)
{
	int rc;

	if (r->cur && r->gen == q->gen)
		return 0;
	if (r->cur && !q->write)
		rc = mdb_cursor_renew(q->txn, r->cur);
	else
		rc = mdb_cursor_open(q->txn, q->s->dbi[F->db], &r->cur);
	if (rc)
		r->cur = NULL;
	r->gen = q->gen;
	return rc;
}

/* Makes the entry the cursor is on (after op returned rc) r's head, or ends
 * r when it is outside the range. */
static int range_take(fstate *F, range *r, int rc, const MDB_val *k,
		      const MDB_val *v)
{
	const uint8_t *kp = k->mv_data;

	if (rc == MDB_NOTFOUND ||
	    (!rc && (k->mv_size != (size_t)r->plen + TERN__KEY_SUFFIX ||
		     memcmp(kp, r->key, r->plen) ||
		     memcmp(kp + r->plen, F->since_be, 8) < 0))) {
		r->state = R_DONE;
		return 0;
	}
	if (rc)
		return rc;
	memcpy(r->key + r->plen, kp + r->plen, TERN__KEY_SUFFIX);
	if (v->mv_size == TERN__KEY_VALUE)
		memcpy(r->idp, v->mv_data, TERN__KEY_VALUE);
	else
		memset(r->idp, 0, TERN__KEY_VALUE); /* read the record */
	r->state = R_HEAD;
	return 0;
}

/* Positions r on the greatest key <= r->key (its bound or its head). */
static int range_seek(tern_query *q, fstate *F, range *r)
{
	size_t len = (size_t)r->plen + TERN__KEY_SUFFIX;
	MDB_val k = { len, r->key }, v;
	int rc;

	if ((rc = range_cursor(q, F, r)))
		return rc;
	rc = mdb_cursor_get(r->cur, &k, &v, MDB_SET_RANGE);
	if (!rc) {
		if (k.mv_size != len || memcmp(k.mv_data, r->key, len))
			rc = mdb_cursor_get(r->cur, &k, &v, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(r->cur, &k, &v, MDB_LAST);
	}
	return range_take(F, r, rc, &k, &v);
}

static int range_next(fstate *F, range *r)
{
	MDB_val k, v;
	int rc = mdb_cursor_get(r->cur, &k, &v, MDB_PREV);

	return range_take(F, r, rc, &k, &v);
}

static inline const uint8_t *range_sfx(const range *r)
{
	return r->key + r->plen;
}

static bool heap_above(fstate *F, uint32_t a, uint32_t b)
{
	return memcmp(range_sfx(&F->r[F->heap[a]]), range_sfx(&F->r[F->heap[b]]),
		      TERN__KEY_SUFFIX) > 0;
}

static void heap_down(fstate *F, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < F->nheap && heap_above(F, l, m))
			m = l;
		if (r < F->nheap && heap_above(F, r, m))
			m = r;
		if (m == i)
			return;
		t = F->heap[i];
		F->heap[i] = F->heap[m];
		F->heap[m] = t;
		i = m;
	}
}

/* Result order: newest first, then lowest id (NIP-01). */
static int cmp_idref(const void *a, const void *b)
{
	const idref *x = a, *y = b;

	if (x->ca != y->ca)
		return x->ca > y->ca ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

/* Index order: newest first, then last committed (unordered queries). */
static int cmp_idref_serial(const void *a, const void *b)
{
	const idref *x = a, *y = b;

	if (x->ca != y->ca)
		return x->ca > y->ca ? -1 : 1;
	return x->serial == y->serial ? 0 : x->serial > y->serial ? -1 : 1;
}

/* Resolves the filter's ids to stored events, in the query's order. */
static int resolve_ids(tern_query *q, fstate *F)
{
	const tern_filter *f = &F->f;
	uint64_t serial, ca;
	MDB_val v;
	int rc;

	F->ids = tern_arena_alloc(&q->mem, f->nids * sizeof *F->ids);
	if (!F->ids)
		return TERN_ENOMEM;
	F->nids = 0;
	for (uint32_t i = 0; i < f->nids; i++) {
		rc = tern__records_find(q->s, q->txn, f->ids[i], &serial);
		if (!rc)
			rc = tern__records_get(q->s, q->txn, serial, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return tern__store_err(rc);
		ca = tern__hdr_created_at(v.mv_data);
		if (ca < f->since || ca > f->until)
			continue;
		F->ids[F->nids].ca = ca;
		F->ids[F->nids].serial = serial;
		memcpy(F->ids[F->nids].id, f->ids[i], 32);
		F->nids++;
	}
	qsort(F->ids, F->nids, sizeof *F->ids,
	      q->unordered ? cmp_idref_serial : cmp_idref);
	F->ids_ready = true;
	return 0;
}

/* Positions every live range of F in the current transaction. */
static int filter_attach(tern_query *q, fstate *F)
{
	int rc;

	if (F->done)
		return 0;
	if (F->plan == PLAN_IDS)
		return F->ids_ready ? 0 : resolve_ids(q, F);
	F->nheap = 0;
	for (uint32_t i = 0; i < F->nr; i++) {
		range *r = &F->r[i];

		if (r->state == R_DONE)
			continue;
		if ((rc = range_seek(q, F, r)))
			return tern__store_err(rc);
		if (r->state == R_HEAD)
			F->heap[F->nheap++] = i;
	}
	for (uint32_t i = F->nheap / 2; i-- > 0;)
		heap_down(F, i);
	return 0;
}

/* The suffix of the filter's next index entry (ranges), or NULL. */
static const uint8_t *filter_top(const fstate *F)
{
	return F->nheap ? range_sfx(&F->r[F->heap[0]]) : NULL;
}

/* Moves past the filter's next index entry (ranges). */
static int filter_advance(fstate *F)
{
	range *r;
	int rc;

	r = &F->r[F->heap[0]];
	if ((rc = range_next(F, r)))
		return tern__store_err(rc);
	if (r->state == R_DONE)
		F->heap[0] = F->heap[--F->nheap];
	heap_down(F, 0);
	return 0;
}

/* Does the stored record rec match F (beyond what its index answered)? */
static bool candidate_ok(tern_query *q, fstate *F, const MDB_val *rec,
			 const uint8_t *want_id)
{
	const uint8_t *p = rec->mv_data;
	uint64_t exp = tern__hdr_expiration(p);
	tern_event ev;

	if (want_id && memcmp(tern__hdr_id(p), want_id, 32))
		return false;
	if (exp && exp <= q->now)
		return false;
	if (F->chk_time) {
		uint64_t ca = tern__hdr_created_at(p);

		if (ca < F->f.since || ca > F->f.until)
			return false;
	}
	if (F->chk_kinds && !tern__filter_has_kind(F->f.kinds, F->f.nkinds,
						   tern__hdr_kind(p)))
		return false;
	if (F->chk_authors && !tern__filter_has_b32(F->f.authors, F->f.nauthors,
						  tern__hdr_pubkey(p)))
		return false;
	if (!F->parse)
		return true;
	tern_arena_reset(&q->scratch);
	if (tern_event_parse(&ev, p + TERN__HDR_SIZE,
			     rec->mv_size - TERN__HDR_SIZE,
			     &tern__store_parse_limits, &q->scratch, NULL))
		return false;
	return tern_filter_match(&F->f, &ev);
}

static void peek_set(tern_query *q, fstate *F, uint64_t ca,
		     uint64_t serial, const MDB_val *v)
{
	F->peek_ca = ca;
	F->peek_serial = serial;
	F->peek_val = *v;
	F->peek_id = tern__hdr_id(v->mv_data);
	F->peek_gen = q->gen;
	F->peek_ok = true;
}

/* Reads the record of serial: 1 with *v set, 0 when it is gone (deleted
 * since the query started), or a negative error. */
static int record(tern_query *q, uint64_t serial, MDB_val *v)
{
	int rc = tern__records_get(q->s, q->txn, serial, v);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? tern__store_err(rc) : 1;
}

/* An "ids" filter's next result. */
static int ids_peek(tern_query *q, fstate *F)
{
	for (; F->idpos < F->nids; F->idpos++) {
		const idref *e = &F->ids[F->idpos];
		MDB_val v;
		int rc;

		if (F->idpos && F->ids[F->idpos - 1].serial == e->serial)
			continue; /* the same id twice in the filter */
		if ((rc = record(q, e->serial, &v)) < 0)
			return rc;
		if (rc && candidate_ok(q, F, &v, e->id)) {
			peek_set(q, F, e->ca, e->serial, &v);
			return 1;
		}
	}
	return 0;
}

/* An unordered filter's next result, in index order. The range stays on
 * it until it is consumed. */
static int stream_peek(tern_query *q, fstate *F)
{
	const uint8_t *sfx;

	while ((sfx = filter_top(F))) {
		uint64_t serial = tern__keys_suffix_serial(sfx);
		MDB_val v;
		int rc;

		if (!F->has_last || serial != F->last) {
			if ((rc = record(q, serial, &v)) < 0)
				return rc;
			if (rc && candidate_ok(q, F, &v, NULL)) {
				peek_set(q, F, tern__keys_suffix_created_at(sfx),
					 serial, &v);
				return 1;
			}
			/* refused: another range may bring it again */
			F->has_last = true;
			F->last = serial;
		}
		if ((rc = filter_advance(F)))
			return rc;
	}
	return 0;
}

static void grp_swap(idref *a, idref *b)
{
	idref t = *a;

	*a = *b;
	*b = t;
}

/* Restores the max-heap (by id) of the tie group below i. */
static void grp_down(fstate *F, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < F->ngrp && memcmp(F->grp[l].id, F->grp[m].id, 32) > 0)
			m = l;
		if (r < F->ngrp && memcmp(F->grp[r].id, F->grp[m].id, 32) > 0)
			m = r;
		if (m == i)
			return;
		grp_swap(&F->grp[i], &F->grp[m]);
		i = m;
	}
}

/* How many events F's tie group keeps. */
static size_t grp_cap(const fstate *F)
{
	return F->remaining < GRP_MAX ? (size_t)F->remaining : GRP_MAX;
}

/* Adds an event to the tie group, which keeps the grp_cap() lowest ids
 * (a max-heap by id once it holds that many). */
static int grp_add(tern_query *q, fstate *F, uint64_t ca, uint64_t serial,
		   const MDB_val *rec)
{
	idref e = { .ca = ca, .serial = serial, .rec = *rec, .gen = q->gen };
	const uint8_t *id = tern__hdr_id(rec->mv_data);

	memcpy(e.id, id, 32);
	if (F->ngrp == grp_cap(F)) {
		F->grp_cut = true;
		if (memcmp(id, F->grp[0].id, 32) >= 0)
			return 0;
		F->grp[0] = e;
		grp_down(F, 0);
		return 0;
	}
	if (F->ngrp == F->grpcap) {
		size_t cap = F->grpcap ? F->grpcap * 2 : 16;
		idref *g = realloc(F->grp, cap * sizeof *g);

		if (!g)
			return TERN_ENOMEM;
		F->grp = g;
		F->grpcap = cap;
	}
	F->grp[F->ngrp++] = e;
	if (F->ngrp == grp_cap(F))
		for (size_t i = F->ngrp / 2; i-- > 0;)
			grp_down(F, i);
	return 0;
}

/* Reads the matching events of the next second of F's ranges into its tie
 * group, sorted by id. Returns 1 (the group may be empty), 0 when the
 * ranges are done, 2 when the call's step budget ran out first (the fill
 * goes on in the next call), or a negative error. */
static int grp_fill(tern_query *q, fstate *F)
{
	const uint8_t *sfx = filter_top(F);
	bool floor;
	int rc;

	if (!F->filling) {
		F->ngrp = F->grppos = 0;
		F->grp_cut = false;
		if (!sfx)
			return 0;
		F->grp_ca = tern__keys_suffix_created_at(sfx);
		F->filling = true;
	}
	floor = F->has_floor && F->floor_ca == F->grp_ca;
	for (; sfx && tern__keys_suffix_created_at(sfx) == F->grp_ca;
	     sfx = filter_top(F)) {
		uint64_t serial = tern__keys_suffix_serial(sfx);
		const uint8_t *idp = F->r[F->heap[0]].idp;
		MDB_val v;

		if (q->stepped && q->steps-- == 0)
			return 2;
		/* The same event through several ranges comes in a row. */
		if (!F->has_last || serial != F->last) {
			F->has_last = true;
			F->last = serial;
			/* A full group keeps it only if its id is lower than
			 * the group's highest: the index value tells, for
			 * most, without reading the record. */
			if (F->ngrp == grp_cap(F) &&
			    memcmp(idp, F->grp[0].id, TERN__KEY_VALUE) > 0) {
				F->grp_cut = true;
				goto next;
			}
			/* a refill: what is not above the floor was seen */
			if (floor && memcmp(idp, F->floor, TERN__KEY_VALUE) < 0)
				goto next;
			if ((rc = record(q, serial, &v)) < 0)
				return rc;
			if (!rc || (floor && memcmp(tern__hdr_id(v.mv_data),
						    F->floor, 32) <= 0))
				goto next;
			if (candidate_ok(q, F, &v, NULL) &&
			    (rc = grp_add(q, F, F->grp_ca, serial, &v)))
				return rc;
		}
next:
		if ((rc = filter_advance(F)))
			return rc;
	}
	F->filling = false;
	F->has_floor = false;
	if (F->ngrp > 1)
		qsort(F->grp, F->ngrp, sizeof *F->grp, cmp_idref);
	return 1;
}

/*
 * A cut group (one that left out ids of its second) is used up, or one of
 * its events was deleted since it was read (the ids it left out may now be
 * in the cut): seeks every range back to the group's second and makes the
 * next fill read it again, taking only the ids above the last one handed
 * out (or found gone) before.
 */
static int grp_rewind(tern_query *q, fstate *F)
{
	F->has_floor = F->grppos > 0;
	F->floor_ca = F->grp_ca;
	if (F->has_floor)
		memcpy(F->floor, F->grp[F->grppos - 1].id, 32);
	F->ngrp = F->grppos = 0;
	F->has_last = false;
	for (uint32_t i = 0; i < F->nr; i++) {
		tern__keys_suffix(F->r[i].key + F->r[i].plen, F->grp_ca,
				  UINT64_MAX);
		F->r[i].state = R_INIT;
	}
	return filter_attach(q, F);
}

/* An ordered filter's next result, from its tie group. The group outlives
 * the call (its events are read again by serial in the next one). */
static int grp_peek(tern_query *q, fstate *F)
{
	int rc;

	for (;;) {
		if (F->filling)
			goto fill;
		for (; F->grppos < F->ngrp; F->grppos++) {
			const idref *e = &F->grp[F->grppos];
			MDB_val v = e->rec;

			/* read again in a later call (a new transaction) */
			rc = e->gen == q->gen ? 1 : record(q, e->serial, &v);
			if (rc < 0)
				return rc;
			if (rc) {
				peek_set(q, F, e->ca, e->serial, &v);
				return 1;
			}
			if (F->grp_cut)
				break;
		}
		if (F->grp_cut && (rc = grp_rewind(q, F)))
			return rc;
fill:
		if ((rc = grp_fill(q, F)) != 1)
			return rc;
	}
}

/* Finds F's next result in this call. Returns 1 (F->peek_* set), 0 when F
 * has no more, 2 when it must be asked again in the next call, or a
 * negative error. */
static int filter_peek(tern_query *q, fstate *F)
{
	int rc;

	if (F->done)
		return 0;
	if (F->peek_ok && F->peek_gen == q->gen)
		return 1;
	if (F->plan == PLAN_IDS)
		rc = ids_peek(q, F);
	else if (q->unordered)
		rc = stream_peek(q, F);
	else
		rc = grp_peek(q, F);
	if (rc == 0)
		F->done = true;
	return rc;
}

static int filter_consume(tern_query *q, fstate *F)
{
	F->peek_ok = false;
	if (--F->remaining == 0) {
		F->done = true;
		return 0;
	}
	if (F->plan == PLAN_IDS) {
		F->idpos++;
		return 0;
	}
	if (!q->unordered) {
		F->grppos++;
		return 0;
	}
	F->has_last = true;
	F->last = F->peek_serial;
	return filter_advance(F);
}

/* Does a's result come before b's? */
static bool peek_before(const tern_query *q, const fstate *a, const fstate *b)
{
	if (a->peek_ca != b->peek_ca)
		return a->peek_ca > b->peek_ca;
	if (q->unordered)
		return a->peek_serial > b->peek_serial;
	return memcmp(a->peek_id, b->peek_id, 32) < 0;
}

static int slice_begin(tern_query *q, MDB_txn *txn, bool write)
{
	int rc;

	q->gen++;
	q->txn = txn;
	q->write = write;
	q->steps = GRP_STEPS;
	q->now = tern__store_now();
	for (size_t i = 0; i < q->n; i++) {
		q->fs[i].peek_ok = false;
		if ((rc = filter_attach(q, &q->fs[i])))
			return rc;
	}
	return 0;
}

static void slice_end(tern_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		fstate *F = &q->fs[i];

		F->peek_ok = false;
		for (uint32_t j = 0; q->write && j < F->nr; j++) {
			if (F->r[j].cur) {
				mdb_cursor_close(F->r[j].cur);
				F->r[j].cur = NULL;
			}
		}
	}
	q->txn = NULL;
}

int tern__query_slice(tern_query *q, MDB_txn *txn, bool write,
		      uint32_t max_rows, tern_store_visit_cb cb, void *ctx)
{
	uint32_t rows = 0;
	int rc;

	if (q->finished)
		return 0;
	q->stepped = max_rows > 0;
	if ((rc = slice_begin(q, txn, write)))
		goto out;
	for (;;) {
		fstate *best = NULL;
		uint64_t serial;
		tern_slice json;
		bool more;

		for (size_t i = 0; i < q->n; i++) {
			fstate *F = &q->fs[i];

			if ((rc = filter_peek(q, F)) < 0)
				goto out;
			if (rc == 2)
				break; /* a fill paused: no order without it */
			if (rc && (!best || peek_before(q, F, best)))
				best = F;
		}
		if (rc == 2) {
			rc = 1;
			break;
		}
		if (!best) {
			q->finished = true;
			rc = 0;
			break;
		}
		if (max_rows && rows >= max_rows) {
			rc = 1;
			break;
		}
		serial = best->peek_serial;
		json.p = (const uint8_t *)best->peek_val.mv_data +
			 TERN__HDR_SIZE;
		json.n = best->peek_val.mv_size - TERN__HDR_SIZE;
		more = cb ? cb(ctx, json, serial) : true;
		rows++;
		for (size_t i = 0; i < q->n; i++) {
			fstate *F = &q->fs[i];

			if (F->peek_ok && F->peek_gen == q->gen &&
			    F->peek_serial == serial &&
			    (rc = filter_consume(q, F)) < 0)
				goto out;
		}
		if (!more) {
			q->finished = true;
			rc = 0;
			break;
		}
	}
out:
	slice_end(q);
	return rc;
}

/* ---- public API --------------------------------------------------------- */

int tern_query_begin(tern_query **out, tern_store *s, const tern_filter *fs,
		     size_t n, uint32_t limit_cap)
{
	if (!out)
		return TERN_EINVAL;
	return tern__query_new(out, s, fs, n, limit_cap, false);
}

int tern_query_next(tern_query *q, uint32_t max_rows, tern_store_visit_cb cb,
		    void *ctx)
{
	MDB_txn *txn;
	int rc;

	if (!q)
		return TERN_EINVAL;
	if (q->finished)
		return 0;
	if ((rc = tern__store_rtxn_begin(q->s, &txn)))
		return rc;
	rc = tern__query_slice(q, txn, false, max_rows, cb, ctx);
	tern__store_rtxn_end(q->s, txn);
	return rc;
}

int tern_store_query(tern_store *s, const tern_filter *fs, size_t n,
		     uint32_t limit_cap, tern_store_visit_cb cb, void *ctx)
{
	tern_query *q;
	int rc;

	if ((rc = tern_query_begin(&q, s, fs, n, limit_cap)))
		return rc;
	while ((rc = tern_query_next(q, 0, cb, ctx)) > 0)
		;
	tern_query_end(q);
	return rc;
}

static bool count_cb(void *ctx, tern_slice json, uint64_t serial)
{
	(*(uint64_t *)ctx)++;
	return true;
}

/* True if the one filter of q is answered by its index keys alone. */
static bool count_by_keys(tern_query *q, MDB_txn *txn)
{
	fstate *F = &q->fs[0];
	MDB_cursor *c;
	MDB_val k, v;
	bool expired = false;

	if (q->n != 1 || F->done || F->plan == PLAN_IDS || F->chk_kinds ||
	    F->chk_authors || F->parse)
		return false;
	/* Ranges of different tag values may share events. */
	if (F->plan == PLAN_TAG && F->nr != 1)
		return false;
	/* Expired but not yet purged events must not be counted. */
	if (mdb_cursor_open(txn, q->s->dbi[TERN__DB_EXP], &c))
		return false;
	if (!mdb_cursor_get(c, &k, &v, MDB_FIRST))
		expired = k.mv_size < 8 ||
			  tern__be64_get(k.mv_data) <= tern__store_now();
	mdb_cursor_close(c);
	return !expired;
}

int tern_store_count(tern_store *s, const tern_filter *fs, size_t n,
		     uint64_t *count)
{
	tern_query *q;
	MDB_txn *txn;
	uint64_t cnt = 0;
	int rc;

	if (!count)
		return TERN_EINVAL;
	*count = 0;
	if ((rc = tern__query_new(&q, s, fs, n, 0, true)))
		return rc;
	if ((rc = tern__store_rtxn_begin(s, &txn))) {
		tern_query_end(q);
		return rc;
	}
	if (count_by_keys(q, txn)) {
		fstate *F = &q->fs[0];

		q->gen++;
		q->txn = txn;
		for (uint32_t i = 0; i < F->nr && !rc; i++) {
			range *r = &F->r[i];

			rc = range_seek(q, F, r);
			while (!rc && r->state == R_HEAD) {
				cnt++;
				rc = range_next(F, r);
			}
		}
		rc = tern__store_err(rc);
		slice_end(q);
	} else {
		rc = tern__query_slice(q, txn, false, 0, count_cb, &cnt);
	}
	tern__store_rtxn_end(s, txn);
	tern_query_end(q);
	if (!rc)
		*count = cnt;
	return rc < 0 ? rc : 0;
}
