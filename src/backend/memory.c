/*
 * The in-memory backend (tern/backend.h): events in a sorted array (newest
 * first, ties lowest id: the order queries return) and a hash table of ids.
 * The write rules come from tern_backend_apply_with() over this file's
 * primitives, so they are the LMDB store's by construction (NIP-09 outcome
 * callbacks included).
 *
 * Locking: a read-write lock guards the tables (queries and counts share
 * it, store and delete take it alone); a mutex serializes saves, so the
 * rules see no other write between their lookups and their changes, and
 * guards the outcome callbacks too, so that a save uses one set of them
 * from start to end.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/backend.h>
#include <tern/error.h>

#include "backend/support.h"

typedef struct rec {
	uint64_t created_at;
	uint64_t expiration; /* 0: none */
	uint64_t serial;
	uint32_t kind;
	uint8_t id[32];
	uint8_t pubkey[32];
	size_t len;
	uint8_t json[];
} rec;

struct tern_memory {
	pthread_rwlock_t lock; /* guards everything below */
	pthread_mutex_t wmu;   /* one save at a time; guards outcome */
	tern_deletion_outcome outcome; /* fn NULL: none */
	size_t cap;
	bool evict;
	rec **by_time;         /* newest first; n of cap entries */
	size_t n;
	rec **slots;           /* id hash, open addressing; NULL = free */
	size_t nslots;         /* a power of two, > 2 n */
	uint64_t next_serial;
	size_t nexpiring;
};

void tern_memory_options_defaults(tern_memory_options *o)
{
	o->max_events = 100000;
	o->evict_oldest = false;
}

int tern_memory_open(tern_memory **out, const tern_memory_options *o)
{
	tern_memory_options def;
	tern_memory *m;

	*out = NULL;
	if (!o) {
		tern_memory_options_defaults(&def);
		o = &def;
	}
	if (!o->max_events)
		return TERN_EINVAL;
	m = calloc(1, sizeof *m);
	if (!m)
		return TERN_ENOMEM;
	m->cap = o->max_events;
	m->evict = o->evict_oldest;
	m->next_serial = 1;
	m->nslots = 64;
	m->slots = calloc(m->nslots, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return TERN_ENOMEM;
	}
	pthread_rwlock_init(&m->lock, NULL);
	pthread_mutex_init(&m->wmu, NULL);
	*out = m;
	return 0;
}

void tern_memory_close(tern_memory *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->by_time[i]);
	free(m->by_time);
	free(m->slots);
	pthread_rwlock_destroy(&m->lock);
	pthread_mutex_destroy(&m->wmu);
	free(m);
}

/* ---- the id hash -------------------------------------------------------- */

/* Ids are hashes already: their first bytes are a good slot number. */
static size_t slot_of(const tern_memory *m, const uint8_t id[32])
{
	uint64_t h;

	memcpy(&h, id, 8);
	return (size_t)h & (m->nslots - 1);
}

static rec **hash_find(tern_memory *m, const uint8_t id[32])
{
	size_t i = slot_of(m, id);

	for (; m->slots[i]; i = (i + 1) & (m->nslots - 1))
		if (!memcmp(m->slots[i]->id, id, 32))
			return &m->slots[i];
	return NULL;
}

static void hash_put(tern_memory *m, rec *r)
{
	size_t i = slot_of(m, r->id);

	while (m->slots[i])
		i = (i + 1) & (m->nslots - 1);
	m->slots[i] = r;
}

static bool hash_grow(tern_memory *m)
{
	size_t old = m->nslots;
	rec **s = m->slots, **ns = calloc(old * 2, sizeof *ns);

	if (!ns)
		return false;
	m->slots = ns;
	m->nslots = old * 2;
	for (size_t i = 0; i < old; i++)
		if (s[i])
			hash_put(m, s[i]);
	free(s);
	return true;
}

/* Linear probing deletion: shift later entries of the cluster back so
 * that no lookup stops early at the hole. */
static void hash_del(tern_memory *m, rec **slot)
{
	size_t mask = m->nslots - 1, i = (size_t)(slot - m->slots), j = i;

	m->slots[i] = NULL;
	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (!m->slots[j])
			return;
		k = slot_of(m, m->slots[j]->id);
		/* Move j to the hole i unless its home k lies in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j] = NULL;
		i = j;
	}
}

/* ---- the sorted array --------------------------------------------------- */

/* The index of the first record that sorts after (ca, id), or at it when
 * at is true. */
static size_t lower(const tern_memory *m, uint64_t ca, const uint8_t *id,
		    bool at)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const rec *r = m->by_time[mid];
		int c = tern__support_order(r->created_at, r->id, ca, id);

		if (c < 0 || (c == 0 && !at))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Takes r out of both tables and frees it. */
static void remove_rec(tern_memory *m, rec *r)
{
	size_t i = lower(m, r->created_at, r->id, true);
	rec **slot = hash_find(m, r->id);

	if (i < m->n && m->by_time[i] == r) {
		memmove(&m->by_time[i], &m->by_time[i + 1],
			(m->n - i - 1) * sizeof *m->by_time);
		m->n--;
	}
	if (slot)
		hash_del(m, slot);
	m->nexpiring -= r->expiration != 0;
	free(r);
}

static bool expired(const rec *r, uint64_t now)
{
	return r->expiration && r->expiration <= now;
}

static void purge_expired(tern_memory *m, uint64_t now)
{
	for (size_t i = m->n; i-- > 0 && m->nexpiring;)
		if (expired(m->by_time[i], now))
			remove_rec(m, m->by_time[i]);
}

/* ---- matching ------------------------------------------------------------ */

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int cmp_kind(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return x < y ? -1 : x > y;
}

/* Does r match f? The header fields first; the JSON is parsed (into a)
 * only for the conditions they cannot answer. */
static bool match(const rec *r, const tern_filter *f, tern_arena *a)
{
	uint16_t k = (uint16_t)r->kind;
	tern_event ev;

	if (f->has_search || r->created_at < f->since ||
	    r->created_at > f->until)
		return false;
	if (f->ids && !bsearch(r->id, f->ids, f->nids, 32, cmp_id))
		return false;
	if (f->authors &&
	    !bsearch(r->pubkey, f->authors, f->nauthors, 32, cmp_id))
		return false;
	if (f->kinds &&
	    !bsearch(&k, f->kinds, f->nkinds, sizeof *f->kinds, cmp_kind))
		return false;
	if (!f->ntags)
		return true;
	tern_arena_reset(a);
	return tern_event_parse(&ev, r->json, r->len, NULL, a, NULL) == 0 &&
	       tern_filter_match(f, &ev);
}

/* ---- ops ----------------------------------------------------------------- */

static int m_store(void *self, const tern_event *ev, tern_write_result *res)
{
	tern_memory *m = self;
	uint64_t exp = 0;
	rec *r;
	size_t i;

	memset(res, 0, sizeof *res);
	memcpy(res->id, ev->id, 32);
	r = malloc(sizeof *r + ev->json.n);
	if (!r)
		return TERN_ENOMEM;
	r->created_at = ev->created_at;
	r->expiration = 0;
	if (tern_event_expiration(ev, &exp))
		r->expiration = exp ? exp : 1; /* 0 means "none" here */
	r->kind = ev->kind;
	memcpy(r->id, ev->id, 32);
	memcpy(r->pubkey, ev->pubkey, 32);
	r->len = ev->json.n;
	memcpy(r->json, ev->json.p, ev->json.n);

	pthread_rwlock_wrlock(&m->lock);
	if (hash_find(m, ev->id)) {
		pthread_rwlock_unlock(&m->lock);
		free(r);
		res->status = TERN_WRITE_DUPLICATE;
		return 0;
	}
	if (m->n == m->cap)
		purge_expired(m, (uint64_t)time(NULL));
	if (m->n == m->cap && m->evict)
		remove_rec(m, m->by_time[m->n - 1]);
	if (m->n == m->cap) {
		pthread_rwlock_unlock(&m->lock);
		free(r);
		res->status = TERN_WRITE_ERROR;
		tern_reason_set(&res->reason, TERN_PREFIX_ERROR,
				"the in-memory store is full");
		return 0;
	}
	if (!m->by_time) {
		m->by_time = malloc(m->cap * sizeof *m->by_time);
		if (!m->by_time)
			goto nomem;
	}
	if ((m->n + 1) * 2 > m->nslots && !hash_grow(m))
		goto nomem;
	r->serial = m->next_serial++;
	i = lower(m, r->created_at, r->id, true);
	memmove(&m->by_time[i + 1], &m->by_time[i],
		(m->n - i) * sizeof *m->by_time);
	m->by_time[i] = r;
	m->n++;
	hash_put(m, r);
	m->nexpiring += r->expiration != 0;
	pthread_rwlock_unlock(&m->lock);
	res->status = TERN_WRITE_STORED;
	res->serial = r->serial;
	return 0;
nomem:
	pthread_rwlock_unlock(&m->lock);
	free(r);
	return TERN_ENOMEM;
}

static int m_delete(void *self, const uint8_t id[32], bool *removed)
{
	tern_memory *m = self;
	rec **slot;

	pthread_rwlock_wrlock(&m->lock);
	slot = hash_find(m, id);
	if (slot)
		remove_rec(m, *slot);
	pthread_rwlock_unlock(&m->lock);
	if (removed)
		*removed = slot != NULL;
	return 0;
}

static int m_save(void *self, const tern_event *ev, tern_store_write_cb cb,
		  void *ctx)
{
	tern_memory *m = self;
	tern_write_result res;
	int rc;

	pthread_mutex_lock(&m->wmu);
	rc = tern_backend_apply_with(&tern_memory_backend, m, ev,
				     m->outcome.fn ? &m->outcome : NULL, &res);
	pthread_mutex_unlock(&m->wmu);
	if (rc)
		return rc;
	if (cb)
		cb(ctx, &res);
	return 0;
}

static void m_set_deletion_outcome(void *self, const tern_deletion_outcome *o)
{
	tern_memory *m = self;

	pthread_mutex_lock(&m->wmu);
	if (o && o->fn)
		m->outcome = *o;
	else
		memset(&m->outcome, 0, sizeof m->outcome);
	pthread_mutex_unlock(&m->wmu);
}

typedef struct mquery {
	tern_arena mem;     /* the filters */
	tern_arena scratch; /* one parsed record at a time */
	tern_filter *fs;
	size_t n;
	uint32_t *left;     /* results each filter may still add */
	bool started, done;
	uint64_t last_ca;   /* the last record looked at */
	uint8_t last_id[32];
} mquery;

static void m_query_end(void *self, void *q)
{
	mquery *x = q;

	if (!x)
		return;
	tern_arena_free(&x->mem);
	tern_arena_free(&x->scratch);
	free(x);
}

static int m_query_begin(void *self, const tern_filter *fs, size_t n,
			 uint32_t limit_cap, void **q)
{
	mquery *x = calloc(1, sizeof *x);
	bool any = false;

	*q = NULL;
	if (!x)
		return TERN_ENOMEM;
	tern_arena_init(&x->mem, 0);
	tern_arena_init(&x->scratch, 0);
	x->n = n;
	if (n) {
		x->fs = tern__support_filters_copy(&x->mem, fs, n);
		x->left = tern_arena_alloc(&x->mem, n * sizeof *x->left);
		if (!x->fs || !x->left) {
			m_query_end(self, x);
			return TERN_ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t l = fs[i].has_limit ? fs[i].limit : UINT32_MAX;

		if (limit_cap && l > limit_cap)
			l = limit_cap;
		x->left[i] = l;
		any |= l > 0;
	}
	x->done = !any;
	*q = x;
	return 0;
}

static int m_query_next(void *self, void *q, uint32_t max_rows,
			tern_store_visit_cb cb, void *ctx)
{
	tern_memory *m = self;
	mquery *x = q;
	uint64_t now = (uint64_t)time(NULL);
	uint32_t rows = 0;
	size_t i;

	if (x->done)
		return 0;
	pthread_rwlock_rdlock(&m->lock);
	i = x->started ? lower(m, x->last_ca, x->last_id, false) : 0;
	for (; i < m->n; i++) {
		const rec *r = m->by_time[i];
		bool hit = false, more = false;

		if (max_rows && rows == max_rows)
			break;
		x->started = true;
		x->last_ca = r->created_at;
		memcpy(x->last_id, r->id, 32);
		if (expired(r, now))
			continue;
		for (size_t f = 0; f < x->n; f++) {
			if (x->left[f] && match(r, &x->fs[f], &x->scratch)) {
				x->left[f]--;
				hit = true;
			}
			more |= x->left[f] > 0;
		}
		if (hit) {
			rows++;
			if (!cb(ctx, (tern_slice){ r->json, r->len },
				r->serial)) {
				x->done = true;
				break;
			}
		}
		if (!more) {
			x->done = true;
			break;
		}
	}
	if (i >= m->n)
		x->done = true;
	pthread_rwlock_unlock(&m->lock);
	return x->done ? 0 : 1;
}

static int m_count(void *self, const tern_filter *fs, size_t n,
		   uint64_t *count)
{
	tern_memory *m = self;
	uint64_t now = (uint64_t)time(NULL), c = 0;
	tern_arena a;

	tern_arena_init(&a, 0);
	pthread_rwlock_rdlock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		const rec *r = m->by_time[i];

		if (expired(r, now))
			continue;
		for (size_t f = 0; f < n; f++)
			if (match(r, &fs[f], &a)) {
				c++;
				break;
			}
	}
	pthread_rwlock_unlock(&m->lock);
	tern_arena_free(&a);
	*count = c;
	return 0;
}

static int m_count_hll(void *self, const tern_filter *f, unsigned offset,
		       uint64_t *count, uint8_t regs[TERN_HLL_REGISTERS])
{
	tern_memory *m = self;
	uint64_t now = (uint64_t)time(NULL), c = 0;
	tern_arena a;

	memset(regs, 0, TERN_HLL_REGISTERS);
	tern_arena_init(&a, 0);
	pthread_rwlock_rdlock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		const rec *r = m->by_time[i];

		if (expired(r, now) || !match(r, f, &a))
			continue;
		c++;
		tern_hll_add(regs, offset, r->pubkey);
	}
	pthread_rwlock_unlock(&m->lock);
	tern_arena_free(&a);
	*count = c;
	return 0;
}

const tern_backend_ops tern_memory_backend = {
	.name = "memory",
	.save = m_save,
	.store = m_store,
	.replace = NULL,
	.delete_event = m_delete,
	.query_begin = m_query_begin,
	.query_next = m_query_next,
	.query_end = m_query_end,
	.count = m_count,
	.count_hll = m_count_hll,
	.set_deletion_outcome = m_set_deletion_outcome,
};
