/*
 * The write rules on top of a backend's primitives (tern_backend_apply()),
 * and the one-shot helpers of tern/backend.h.
 *
 * The rules are those the LMDB store's writer applies (docs/STORE_FORMAT.md,
 * "Write rules"), expressed through queries: where the store keeps
 * tombstone tables, this code looks at the stored kind-5 events of the
 * author, which hold the same facts (a deletion is never deleted). The
 * NIP-09 outcome callbacks are asked where the writer asks its
 * deletion_outcome option: once per deletion whether anyone listens, then
 * once per target just before it would be removed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/backend.h>
#include <tern/error.h>
#include <tern/hex.h>

#include "backend/support.h"

/* ---- one-shot helpers ------------------------------------------------- */

int tern_backend_query(const tern_backend_ops *ops, void *self,
		       const tern_filter *fs, size_t n, uint32_t limit_cap,
		       tern_store_visit_cb cb, void *ctx)
{
	void *q = NULL;
	int rc = ops->query_begin(self, fs, n, limit_cap, &q);

	if (rc)
		return rc;
	while ((rc = ops->query_next(self, q, 0, cb, ctx)) == 1)
		;
	ops->query_end(self, q);
	return rc < 0 ? rc : 0;
}

/* The filters without their limits, in a (NULL when out of memory). */
static tern_filter *unlimited(tern_arena *a, const tern_filter *fs, size_t n)
{
	tern_filter *c = tern_arena_alloc(a, n * sizeof *c);

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = fs[i];
		c[i].has_limit = false;
	}
	return c;
}

static bool count_row(void *ctx, tern_slice json, uint64_t serial)
{
	(*(uint64_t *)ctx)++;
	return true;
}

int tern_backend_count(const tern_backend_ops *ops, void *self,
		       const tern_filter *fs, size_t n, uint64_t *count)
{
	tern_filter *c;
	tern_arena a;
	int rc;

	*count = 0;
	if (ops->count)
		return ops->count(self, fs, n, count);
	if (!n)
		return 0;
	tern_arena_init(&a, 0);
	c = unlimited(&a, fs, n);
	rc = c ? tern_backend_query(ops, self, c, n, 0, count_row, count)
	       : TERN_ENOMEM;
	tern_arena_free(&a);
	return rc;
}

typedef struct hll_ctx {
	uint8_t *regs;
	unsigned offset;
	uint64_t n;
} hll_ctx;

static bool hll_row(void *ctx, tern_slice json, uint64_t serial)
{
	hll_ctx *h = ctx;
	uint8_t pk[32];

	h->n++;
	if (tern__support_json_key(json, NULL, NULL, pk))
		tern_hll_add(h->regs, h->offset, pk);
	return true;
}

int tern_backend_count_hll(const tern_backend_ops *ops, void *self,
			   const tern_filter *f, unsigned offset,
			   uint64_t *count, uint8_t regs[TERN_HLL_REGISTERS])
{
	hll_ctx h = { regs, offset, 0 };
	tern_filter c = *f;
	int rc;

	memset(regs, 0, TERN_HLL_REGISTERS);
	*count = 0;
	if (ops->count_hll)
		return ops->count_hll(self, f, offset, count, regs);
	c.has_limit = false;
	rc = tern_backend_query(ops, self, &c, 1, 0, hll_row, &h);
	*count = h.n;
	return rc;
}

/* ---- the write rules -------------------------------------------------- */

typedef struct rules {
	const tern_backend_ops *ops;
	void *self;
	const tern_event *ev;
	const tern_deletion_outcome *outcome; /* may be NULL */
	bool ask;               /* outcome->fn is asked about ev's targets */
	tern_arena scratch;     /* one parsed row at a time */
	tern_arena kept;        /* the JSON of the found events, when ask */
	tern_slice d;           /* ev's address d ("" for replaceable) */
	bool addr;              /* ev is replaceable or addressable */
	bool hit;
	/* collected events (created_at, id; their JSON when ask) */
	struct found {
		uint64_t created_at;
		uint8_t id[32];
		const uint8_t *json;
		size_t len;
	} *found;
	size_t nfound, capfound;
	bool nomem;
	/* the address being looked up, for deletions by "a" tag */
	uint16_t want_kind;
	tern_slice want_d;
} rules;

static void reject(tern_write_result *res, tern_prefix p, const char *msg)
{
	res->status = TERN_WRITE_REJECTED;
	tern_reason_set(&res->reason, p, "%s", msg);
}

static bool parse_row(rules *r, tern_slice json, tern_event *ev)
{
	tern_arena_reset(&r->scratch);
	return tern_event_parse(ev, json.p, json.n, NULL, &r->scratch,
				NULL) == 0;
}

static void found_add(rules *r, const tern_event *ev)
{
	if (r->nfound == r->capfound) {
		size_t cap = r->capfound ? r->capfound * 2 : 8;
		struct found *f = realloc(r->found, cap * sizeof *f);

		if (!f) {
			r->nomem = true;
			return;
		}
		r->found = f;
		r->capfound = cap;
	}
	r->found[r->nfound].created_at = ev->created_at;
	memcpy(r->found[r->nfound].id, ev->id, 32);
	r->found[r->nfound].json = NULL;
	r->found[r->nfound].len = 0;
	/* The row is the query's only during the visit: the outcome
	 * callback, asked after the query, gets a copy. */
	if (r->ask) {
		uint8_t *j = tern_arena_alloc(&r->kept, ev->json.n);

		if (!j) {
			r->nomem = true;
			return;
		}
		memcpy(j, ev->json.p, ev->json.n);
		r->found[r->nfound].json = j;
		r->found[r->nfound].len = ev->json.n;
	}
	r->nfound++;
}

static bool slice_eq(tern_slice a, tern_slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* The d part of a stored event's address. */
static tern_slice addr_d(const tern_event *ev)
{
	if (tern_kind_is_addressable(ev->kind))
		return tern_event_d_tag(ev);
	return (tern_slice){ NULL, 0 };
}

/* Visitor over the author's kind-5 events: does one cover r->ev? */
static bool tomb_row(void *ctx, tern_slice json, uint64_t serial)
{
	rules *r = ctx;
	const tern_event *ev = r->ev;
	tern_event del;
	uint8_t x[32];
	uint16_t kind;
	tern_slice d;

	if (!parse_row(r, json, &del) || del.kind != 5 ||
	    memcmp(del.pubkey, ev->pubkey, 32))
		return true;
	for (uint32_t i = 0; i < del.ntags; i++) {
		const tern_tag *t = &del.tags[i];

		if (t->n < 2 || t->v[0].n != 1)
			continue;
		if (t->v[0].p[0] == 'e' && t->v[1].n == 64 &&
		    tern_hex_decode(x, (const char *)t->v[1].p, 32) &&
		    !memcmp(x, ev->id, 32)) {
			r->hit = true;
			return false;
		}
		if (t->v[0].p[0] == 'a' && r->addr &&
		    del.created_at >= ev->created_at &&
		    tern_event_parse_address(t->v[1], &kind, x, &d) &&
		    kind == ev->kind && !memcmp(x, ev->pubkey, 32) &&
		    slice_eq(d, r->d)) {
			r->hit = true;
			return false;
		}
	}
	return true;
}

/* Visitor: the stored versions of r->want_kind/want_d by ev's author. */
static bool version_row(void *ctx, tern_slice json, uint64_t serial)
{
	rules *r = ctx;
	tern_event e;

	if (!parse_row(r, json, &e) || e.kind != r->want_kind ||
	    memcmp(e.pubkey, r->ev->pubkey, 32) ||
	    !slice_eq(addr_d(&e), r->want_d))
		return true;
	found_add(r, &e);
	return !r->nomem;
}

/* Visitor: the target of an "e" deletion, if it is the author's. */
static bool target_row(void *ctx, tern_slice json, uint64_t serial)
{
	rules *r = ctx;
	tern_event e;

	if (parse_row(r, json, &e) && e.kind != 5 &&
	    !memcmp(e.pubkey, r->ev->pubkey, 32))
		found_add(r, &e);
	return !r->nomem;
}

static bool exists_row(void *ctx, tern_slice json, uint64_t serial)
{
	*(bool *)ctx = true;
	return false;
}

/* Collects the stored versions of (kind, ev's author, d) with created_at
 * <= until into r->found. */
static int versions(rules *r, uint16_t kind, tern_slice d, uint64_t until)
{
	tern_filter f;
	int rc;

	tern__support_filter_init(&f);
	f.kinds = &kind;
	f.nkinds = 1;
	f.authors = (const uint8_t(*)[32])r->ev->pubkey;
	f.nauthors = 1;
	f.until = until;
	r->want_kind = kind;
	r->want_d = d;
	r->nfound = 0;
	rc = tern_backend_query(r->ops, r->self, &f, 1, 0, version_row, r);
	return rc ? rc : r->nomem ? TERN_ENOMEM : 0;
}

/* The outcome callback: may the deletion r->ev remove f? (A row that no
 * longer parses is removed, as the LMDB writer does.) */
static bool outcome_removes(rules *r, const struct found *f)
{
	tern_event target;

	tern_arena_reset(&r->scratch);
	if (tern_event_parse(&target, f->json, f->len, NULL, &r->scratch,
			     NULL))
		return true;
	return r->outcome->fn(r->outcome->ctx, &target, r->ev);
}

/* Removes the events in r->found (but those the outcome callback keeps,
 * when asking); counts those that were there. */
static int remove_found(rules *r, uint32_t *nremoved)
{
	int rc = 0;

	for (size_t i = 0; i < r->nfound && !rc; i++) {
		bool removed = false;

		if (r->ask && !outcome_removes(r, &r->found[i]))
			continue;
		rc = r->ops->delete_event(r->self, r->found[i].id, &removed);
		*nremoved += removed;
	}
	r->nfound = 0;
	tern_arena_reset(&r->kept);
	return rc;
}

/* Generic replace: refuse ev if a stored version wins, else store it and
 * remove the older versions. */
static int replace(rules *r, tern_write_result *res)
{
	const tern_event *ev = r->ev;
	int rc = versions(r, (uint16_t)ev->kind, r->d, UINT64_MAX);

	if (rc)
		return rc;
	for (size_t i = 0; i < r->nfound; i++)
		if (tern__support_order(r->found[i].created_at,
					r->found[i].id, ev->created_at,
					ev->id) < 0) {
			reject(res, TERN_PREFIX_DUPLICATE,
			       "have a newer version of this event");
			return 0;
		}
	rc = r->ops->store(r->self, ev, res);
	if (rc || res->status != TERN_WRITE_STORED)
		return rc;
	return remove_found(r, &res->nremoved);
}

/* NIP-09: applies the tags of the stored deletion r->ev. */
static int apply_deletion(rules *r, uint32_t *nremoved)
{
	const tern_event *ev = r->ev;
	uint8_t id[32], pk[32];
	uint16_t kind;
	tern_slice d;
	tern_filter f;
	int rc;

	/* Asked once per deletion, as the LMDB writer does. */
	r->ask = r->outcome && r->outcome->fn &&
		 (!r->outcome->wanted || r->outcome->wanted(r->outcome->ctx));
	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n < 2 || t->v[0].n != 1)
			continue;
		if (t->v[0].p[0] == 'e') {
			if (t->v[1].n != 64 ||
			    !tern_hex_decode(id, (const char *)t->v[1].p, 32))
				continue;
			tern__support_filter_init(&f);
			f.ids = (const uint8_t(*)[32])id;
			f.nids = 1;
			r->nfound = 0;
			rc = tern_backend_query(r->ops, r->self, &f, 1, 0,
						target_row, r);
			if (!rc && r->nomem)
				rc = TERN_ENOMEM;
		} else if (t->v[0].p[0] == 'a') {
			if (!tern_event_parse_address(t->v[1], &kind, pk, &d) ||
			    memcmp(pk, ev->pubkey, 32) ||
			    !(tern_kind_is_replaceable(kind) ||
			      tern_kind_is_addressable(kind)))
				continue;
			rc = versions(r, kind, d, ev->created_at);
		} else {
			continue;
		}
		if (!rc)
			rc = remove_found(r, nremoved);
		if (rc)
			return rc;
	}
	return 0;
}

static int rules_run(rules *r, tern_write_result *res)
{
	const tern_backend_ops *ops = r->ops;
	const tern_event *ev = r->ev;
	uint64_t exp;
	tern_filter f;
	bool found = false;
	int rc;

	if (tern_kind_is_ephemeral(ev->kind)) {
		reject(res, TERN_PREFIX_INVALID,
		       "ephemeral events are not stored");
		return 0;
	}
	if (tern_event_expiration(ev, &exp) && exp <= (uint64_t)time(NULL)) {
		reject(res, TERN_PREFIX_INVALID, "event has expired");
		return 0;
	}
	tern__support_filter_init(&f);
	f.ids = (const uint8_t(*)[32])ev->id;
	f.nids = 1;
	rc = tern_backend_query(ops, r->self, &f, 1, 0, exists_row, &found);
	if (rc)
		return rc;
	if (found) {
		res->status = TERN_WRITE_DUPLICATE;
		return 0;
	}
	if (ev->kind != 5) {
		uint16_t five = 5;

		tern__support_filter_init(&f);
		f.kinds = &five;
		f.nkinds = 1;
		f.authors = (const uint8_t(*)[32])ev->pubkey;
		f.nauthors = 1;
		rc = tern_backend_query(ops, r->self, &f, 1, 0, tomb_row, r);
		if (rc)
			return rc;
		if (r->hit) {
			reject(res, TERN_PREFIX_BLOCKED,
			       "this event was deleted");
			return 0;
		}
	}
	if (r->addr) {
		rc = ops->replace ? ops->replace(r->self, ev, res)
				  : replace(r, res);
	} else {
		rc = ops->store(r->self, ev, res);
	}
	if (rc || res->status != TERN_WRITE_STORED || ev->kind != 5)
		return rc;
	return apply_deletion(r, &res->nremoved);
}

int tern_backend_apply(const tern_backend_ops *ops, void *self,
		       const tern_event *ev, tern_write_result *res)
{
	return tern_backend_apply_with(ops, self, ev, NULL, res);
}

int tern_backend_apply_with(const tern_backend_ops *ops, void *self,
			    const tern_event *ev,
			    const tern_deletion_outcome *o,
			    tern_write_result *res)
{
	rules r = { .ops = ops, .self = self, .ev = ev, .outcome = o };
	int rc;

	memset(res, 0, sizeof *res);
	memcpy(res->id, ev->id, 32);
	res->status = TERN_WRITE_STORED;
	if (!ops->store || !ops->delete_event || !ops->query_begin ||
	    !ops->query_next || !ops->query_end)
		return TERN_EINVAL;
	r.addr = tern_kind_is_replaceable(ev->kind) ||
		 tern_kind_is_addressable(ev->kind);
	r.d = addr_d(ev);
	tern_arena_init(&r.scratch, 0);
	tern_arena_init(&r.kept, 0);
	rc = rules_run(&r, res);
	tern_arena_free(&r.scratch);
	tern_arena_free(&r.kept);
	free(r.found);
	if (rc) {
		res->status = TERN_WRITE_ERROR;
		tern_reason_set(&res->reason, TERN_PREFIX_ERROR,
				"storage failure: %s", tern_strerror(rc));
	}
	return rc;
}
