/*
 * The writer thread (writer.h).
 *
 * Submitters copy the parsed event (its canonical JSON and the first two
 * values of each tag) into a job (one malloc on the submitting thread) and append it to a bounded
 * FIFO; the writer never parses a submitted event again. The writer takes
 * every consecutive event job queued, up to batch_max, runs them through
 * one write transaction in order (so each sees the earlier ones), commits,
 * and only then calls each job's callback: a STORED result is durable when
 * reported. Delete, purge and flush jobs ride the same queue, so they are
 * ordered with the events around them.
 *
 * Inside a batch the writes to the time-ordered indexes are collected and
 * applied sorted just before the commit (records.h, tern__ixbatch), and
 * the id entry is inserted with MDB_NOOVERWRITE as the duplicate check.
 *
 * Failures inside a batch: MDB_MAP_FULL aborts the transaction, doubles the
 * map and replays the whole batch; any other error while applying one event
 * marks that event ERROR, aborts and replays the batch without it, so one
 * bad event never costs the others their write.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>

#include "proto/json.h"
#include "store/keys.h"
#include "store/query.h"
#include "store/records.h"
#include "store/writer.h"

enum job_type { JOB_EVENT, JOB_FLUSH, JOB_DELETE, JOB_PURGE };

struct tern__job {
	tern__job *next;
	enum job_type type;
	/* blocking jobs (caller waits for done) */
	bool done;
	int rc;
	const tern_filter *fs;
	size_t nfs;
	bool dry_run;
	uint64_t now;
	uint64_t count;
	/* event jobs: ev points into data (tags, values, JSON) */
	tern_store_write_cb cb;
	void *ctx;
	tern_event ev;
	max_align_t data[];
};

/* Writer-thread state, allocated once at start. */
typedef struct wstate {
	tern_store *s;
	tern__job **jobs;
	const tern_event **evs;
	tern_write_result *res;
	uint64_t *exp;
	bool *final;
	tern_arena keys;    /* deferred index keys of the current batch */
	tern_arena scratch; /* re-parsing removed events */
	tern__ixbatch ix;
} wstate;

/* Growable array of serials (delete and purge collect, then remove). */
typedef struct serials {
	uint64_t *v;
	size_t n, cap;
	bool oom;
} serials;

static int serials_push(serials *a, uint64_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		uint64_t *v = realloc(a->v, cap * sizeof *v);

		if (!v)
			return ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	return 0;
}

/* ---- rules -------------------------------------------------------------- */

static int reject(tern_write_result *res, tern_prefix p, const char *msg)
{
	res->status = TERN_WRITE_REJECTED;
	res->serial = 0;
	tern_reason_set(&res->reason, p, "%s", msg);
	return 0;
}

/* Refuses event i of the batch after its id entry was claimed: takes the
 * entry out again. Returns an LMDB code. */
static int unclaim(wstate *w, MDB_txn *txn, uint32_t i, uint64_t serial,
		   tern_prefix p, const char *msg)
{
	reject(&w->res[i], p, msg);
	return tern__records_unclaim_id(w->s, txn, w->jobs[i]->ev.id, serial);
}

/* Records a tombstone time, keeping the latest one. */
static int tomb_put(MDB_txn *txn, MDB_dbi dbi, uint8_t *key, size_t n,
		    uint64_t t)
{
	uint8_t b[8];
	MDB_val k = { n, key }, v;
	int rc = mdb_get(txn, dbi, &k, &v);

	if (!rc && v.mv_size == 8 && tern__be64_get(v.mv_data) >= t)
		return 0;
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	tern__be64_put(b, t);
	v.mv_size = 8;
	v.mv_data = b;
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* The deletion_outcome option: may the deletion ev remove the stored
 * record rec? (An unreadable record is removed, as without the option.) */
static bool deletion_removes(wstate *w, const MDB_val *rec,
			     const tern_event *ev)
{
	tern_event target;

	tern_arena_reset(&w->scratch);
	if (tern_event_parse(&target, (const uint8_t *)rec->mv_data +
			     TERN__HDR_SIZE, rec->mv_size - TERN__HDR_SIZE,
			     &tern__store_parse_limits, &w->scratch, NULL))
		return true;
	return w->s->opt.deletion_outcome(w->s->opt.deletion_outcome_ctx,
					  &target, ev);
}

/* NIP-09: applies the "e" and "a" tags of the stored kind-5 event ev. */
static int apply_deletion(wstate *w, MDB_txn *txn, const tern_event *ev,
			  uint32_t *nremoved)
{
	tern_store *s = w->s;
	uint8_t key[TERN__KEY_MAX], pk[32];
	uint64_t serial;
	uint16_t kind;
	tern_slice d;
	MDB_val v;
	size_t n;
	int rc;
	/* The deletion_outcome option: asked once per deletion. */
	bool ask = s->opt.deletion_outcome &&
		   (!s->opt.deletion_outcome_wanted ||
		    s->opt.deletion_outcome_wanted(s->opt.deletion_outcome_ctx));

	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];
		bool own;

		if (t->n < 2 || t->v[0].n != 1)
			continue;
		if (t->v[0].p[0] == 'e') {
			if (t->v[1].n != 64 ||
			    !tern_hex_decode(key, (const char *)t->v[1].p, 32))
				continue;
			memcpy(key + 32, ev->pubkey, 32);
			rc = tomb_put(txn, s->dbi[TERN__DB_TOMB_ID], key, 64,
				      ev->created_at);
			if (rc)
				return rc;
			rc = tern__records_find(s, txn, key, &serial);
			if (!rc)
				rc = tern__records_get(s, txn, serial, &v);
			if (rc == MDB_NOTFOUND)
				continue;
			if (rc)
				return rc;
			own = !memcmp(tern__hdr_pubkey(v.mv_data), ev->pubkey,
				      32);
			if (!own || tern__hdr_kind(v.mv_data) == 5)
				continue;
		} else if (t->v[0].p[0] == 'a') {
			if (!tern_event_parse_address(t->v[1], &kind, pk, &d) ||
			    memcmp(pk, ev->pubkey, 32) ||
			    !(tern_kind_is_replaceable(kind) ||
			      tern_kind_is_addressable(kind)))
				continue;
			n = tern__keys_addr(key, kind, pk, d);
			rc = tomb_put(txn, s->dbi[TERN__DB_TOMB_ADDR], key, n,
				      ev->created_at);
			if (rc)
				return rc;
			MDB_val k = { n, key };
			rc = mdb_get(txn, s->dbi[TERN__DB_ADDR], &k, &v);
			if (rc == MDB_NOTFOUND)
				continue;
			if (rc)
				return rc;
			if (v.mv_size != 8)
				return MDB_CORRUPTED;
			serial = tern__be64_get(v.mv_data);
			if ((rc = tern__records_get(s, txn, serial, &v)))
				return rc == MDB_NOTFOUND ? 0 : rc;
			if (tern__hdr_created_at(v.mv_data) > ev->created_at)
				continue;
		} else {
			continue;
		}
		if (ask && !deletion_removes(w, &v, ev))
			continue;
		rc = tern__records_remove(s, txn, serial, &w->scratch, &w->ix);
		if (rc)
			return rc;
		(*nremoved)++;
	}
	return 0;
}

/* Applies the storage rules to event i of the batch. Returns an LMDB code;
 * rule outcomes go to w->res[i]. */
static int apply_event(wstate *w, MDB_txn *txn, uint32_t i, uint64_t *serial)
{
	tern_store *s = w->s;
	const tern_event *ev = w->evs[i];
	tern_write_result *res = &w->res[i];
	bool addr = tern_kind_is_replaceable(ev->kind) ||
		    tern_kind_is_addressable(ev->kind);
	uint8_t key[TERN__KEY_MAX];
	uint64_t old;
	MDB_val k, v;
	int rc;

	res->status = TERN_WRITE_STORED;
	res->serial = 0;
	res->nremoved = 0;
	res->reason.prefix = TERN_PREFIX_NONE;
	res->reason.msg[0] = '\0';

	/* The id entry goes in first: inserting it is the duplicate check.
	 * A rule that refuses the event below takes it out again. */
	rc = tern__records_claim_id(s, txn, ev->id, *serial);
	if (rc == MDB_KEYEXIST) {
		res->status = TERN_WRITE_DUPLICATE;
		return 0;
	}
	if (rc)
		return rc;

	/* A deletion never deletes a deletion, not even in advance. */
	if (ev->kind != 5) {
		memcpy(key, ev->id, 32);
		memcpy(key + 32, ev->pubkey, 32);
		k.mv_size = 64;
		k.mv_data = key;
		rc = mdb_get(txn, s->dbi[TERN__DB_TOMB_ID], &k, &v);
		if (!rc)
			return unclaim(w, txn, i, *serial, TERN_PREFIX_BLOCKED,
				       "this event was deleted");
		if (rc != MDB_NOTFOUND)
			return rc;
	}

	if (addr) {
		tern_slice d = { NULL, 0 };

		if (tern_kind_is_addressable(ev->kind))
			d = tern_event_d_tag(ev);
		k.mv_size = tern__keys_addr(key, (uint16_t)ev->kind,
					    ev->pubkey, d);
		k.mv_data = key;
		rc = mdb_get(txn, s->dbi[TERN__DB_TOMB_ADDR], &k, &v);
		if (!rc && v.mv_size == 8 &&
		    ev->created_at <= tern__be64_get(v.mv_data))
			return unclaim(w, txn, i, *serial, TERN_PREFIX_BLOCKED,
				       "this event was deleted");
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		rc = mdb_get(txn, s->dbi[TERN__DB_ADDR], &k, &v);
		if (!rc) {
			uint64_t oc;

			if (v.mv_size != 8)
				return MDB_CORRUPTED;
			old = tern__be64_get(v.mv_data);
			if ((rc = tern__records_get(s, txn, old, &v)))
				return rc;
			oc = tern__hdr_created_at(v.mv_data);
			if (oc > ev->created_at ||
			    (oc == ev->created_at &&
			     memcmp(tern__hdr_id(v.mv_data), ev->id, 32) < 0))
				return unclaim(w, txn, i, *serial,
					       TERN_PREFIX_DUPLICATE,
					       "have a newer version of this "
					       "event");
			rc = tern__records_remove(s, txn, old, &w->scratch,
						  &w->ix);
			if (rc)
				return rc;
			res->nremoved = 1;
		} else if (rc != MDB_NOTFOUND) {
			return rc;
		}
	}

	res->serial = (*serial)++;
	rc = tern__records_put(s, txn, ev, res->serial, w->exp[i], &w->ix);
	if (!rc && ev->kind == 5)
		rc = apply_deletion(w, txn, ev, &res->nremoved);
	return rc;
}

static void fail_result(tern_write_result *res, int mdb_rc)
{
	res->status = TERN_WRITE_ERROR;
	res->serial = 0;
	res->nremoved = 0;
	tern_reason_set(&res->reason, TERN_PREFIX_ERROR, "storage failure: %s",
			mdb_strerror(mdb_rc));
}

/* Checks that need no transaction; marks such outcomes final. */
static void precheck(wstate *w, uint32_t i, uint64_t now)
{
	tern__job *j = w->jobs[i];
	const tern_event *ev = &j->ev;
	tern_write_result *res = &w->res[i];
	uint64_t exp;

	memset(res, 0, sizeof *res);
	w->evs[i] = ev;
	w->final[i] = true;
	w->exp[i] = 0;
	memcpy(res->id, ev->id, 32);
	if (tern_kind_is_ephemeral(ev->kind)) {
		reject(res, TERN_PREFIX_INVALID,
		       "ephemeral events are not stored");
		return;
	}
	if (tern_event_expiration(ev, &exp)) {
		if (exp <= now) {
			reject(res, TERN_PREFIX_INVALID, "event has expired");
			return;
		}
		w->exp[i] = exp;
	}
	w->final[i] = false;
}

static void process_batch(wstate *w, uint32_t n)
{
	tern_store *s = w->s;
	uint64_t now = tern__store_now(), serial;
	uint32_t i, pending = 0;
	MDB_txn *txn;
	int rc;

	for (i = 0; i < n; i++) {
		precheck(w, i, now);
		pending += !w->final[i];
	}
	while (pending) {
		int bad = -1;
		uint32_t owner = 0;

		pthread_rwlock_rdlock(&s->maplock);
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc) {
			pthread_rwlock_unlock(&s->maplock);
			if (rc == MDB_MAP_RESIZED &&
			    !(rc = tern__store_adopt_mapsize(s)))
				continue;
			goto fail_all;
		}
		serial = s->next_serial;
		tern_arena_reset(&w->keys);
		tern__ixbatch_reset(&w->ix, serial);
		for (i = 0; i < n && !rc; i++) {
			if (w->final[i])
				continue;
			w->ix.owner = i;
			if ((rc = apply_event(w, txn, i, &serial)))
				bad = (int)i;
			if (i % 16 == 15)
				tern__store_trim(s, true);
		}
		if (!rc && (rc = tern__ixbatch_apply(s, txn, &w->ix, &owner)))
			bad = (int)owner;
		if (!rc && serial != s->next_serial)
			rc = tern__store_write_next_serial(s, txn, serial);
		if (!rc)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		pthread_rwlock_unlock(&s->maplock);
		if (!rc) {
			s->next_serial = serial;
			break;
		}
		if (rc == MDB_MAP_FULL) {
			if ((rc = tern__store_grow(s)))
				goto fail_all;
			continue;
		}
		if (bad < 0 || w->final[bad])
			goto fail_all;
		fail_result(&w->res[bad], rc);
		w->final[bad] = true;
		pending--;
	}
	goto done;
fail_all:
	for (i = 0; i < n; i++)
		if (!w->final[i])
			fail_result(&w->res[i], rc);
done:
	for (i = 0; i < n; i++) {
		tern__job *j = w->jobs[i];

		if (j->cb)
			j->cb(j->ctx, &w->res[i]);
		free(j);
	}
	tern__store_trim(s, false);
}

/* ---- delete and purge --------------------------------------------------- */

typedef int (*txn_fn)(wstate *w, MDB_txn *txn, void *arg);

/*
 * Runs fn in a write transaction, growing the map and replaying on
 * MDB_MAP_FULL. Commits when fn succeeds and commit is set, else aborts.
 * Returns 0 or a negative tern error.
 */
static int run_write(wstate *w, txn_fn fn, void *arg, bool commit)
{
	tern_store *s = w->s;
	MDB_txn *txn;
	int rc;

	for (;;) {
		pthread_rwlock_rdlock(&s->maplock);
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc) {
			pthread_rwlock_unlock(&s->maplock);
			if (rc == MDB_MAP_RESIZED &&
			    !(rc = tern__store_adopt_mapsize(s)))
				continue;
			return tern__store_err(rc);
		}
		rc = fn(w, txn, arg);
		if (!rc && commit)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		pthread_rwlock_unlock(&s->maplock);
		if (rc != MDB_MAP_FULL)
			return tern__store_err(rc);
		if ((rc = tern__store_grow(s)))
			return tern__store_err(rc);
	}
}

static bool collect_cb(void *ctx, tern_slice json, uint64_t serial)
{
	serials *a = ctx;

	a->oom = serials_push(a, serial) != 0;
	return !a->oom;
}

struct delete_arg {
	tern__job *job;
	serials found;
};

static int delete_fn(wstate *w, MDB_txn *txn, void *arg)
{
	struct delete_arg *a = arg;
	tern_query *q;
	int rc;

	a->found.n = 0;
	a->found.oom = false;
	rc = tern__query_new(&q, w->s, a->job->fs, a->job->nfs, 0, false);
	if (rc)
		return rc;
	rc = tern__query_slice(q, txn, true, 0, collect_cb, &a->found);
	tern_query_end(q);
	if (rc < 0)
		return rc;
	if (a->found.oom)
		return ENOMEM;
	a->job->count = a->found.n;
	if (a->job->dry_run)
		return 0;
	for (size_t i = 0; i < a->found.n; i++) {
		rc = tern__records_remove(w->s, txn, a->found.v[i],
					  &w->scratch, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

/* Events removed per purge transaction, to keep each one bounded. */
#define PURGE_TXN_MAX 100000

struct purge_arg {
	uint64_t now;
	serials found;
};

static int purge_fn(wstate *w, MDB_txn *txn, void *arg)
{
	struct purge_arg *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	a->found.n = 0;
	if ((rc = mdb_cursor_open(txn, w->s->dbi[TERN__DB_EXP], &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 16 || tern__be64_get(k.mv_data) > a->now ||
		    a->found.n >= PURGE_TXN_MAX)
			break;
		rc = serials_push(&a->found,
				  tern__be64_get((uint8_t *)k.mv_data + 8));
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	for (size_t i = 0; i < a->found.n; i++) {
		rc = tern__records_remove(w->s, txn, a->found.v[i],
					  &w->scratch, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

static int purge(wstate *w, uint64_t now, uint64_t *count)
{
	struct purge_arg a = { .now = now };
	int rc;

	*count = 0;
	do {
		rc = run_write(w, purge_fn, &a, true);
		*count += a.found.n;
	} while (!rc && a.found.n >= PURGE_TXN_MAX);
	free(a.found.v);
	return rc;
}

static int run_control(wstate *w, tern__job *j)
{
	struct delete_arg a = { .job = j };
	int rc;

	switch (j->type) {
	case JOB_PURGE:
		return purge(w, j->now, &j->count);
	case JOB_DELETE:
		rc = run_write(w, delete_fn, &a, !j->dry_run);
		free(a.found.v);
		return rc;
	default:
		return 0;
	}
}

/* ---- the thread --------------------------------------------------------- */

static void mono_add(struct timespec *t, uint32_t secs)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += secs;
}

static bool mono_due(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static bool mono_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Queued events the writer waits for (batch_wait_ms): batch_min, at most
 * batch_max and never more than the queue can hold. */
static uint32_t batch_fill(const tern_store *s)
{
	uint32_t n = s->opt.batch_min && s->opt.batch_min < s->opt.batch_max ?
		     s->opt.batch_min : s->opt.batch_max;

	return s->opt.queue_max < n ? s->opt.queue_max : n;
}

/*
 * batch_wait_ms: whether the writer should wait for more events before
 * starting a transaction, with mu held and an event job at the head of
 * the queue. The wait starts when the writer finds fewer than
 * batch_fill() events queued and ends when there are that many,
 * batch_wait_ms have passed, or a control job (flush, delete, purge) or
 * close arrives: whoever waits on the writer never waits for the timer.
 * While s->filling, submitters wake the writer only at batch_fill().
 */
static bool batch_should_wait(tern_store *s, struct timespec *fill_by)
{
	uint32_t ms = s->opt.batch_wait_ms;

	if (!ms || s->closing || s->nctl || s->qlen >= batch_fill(s))
		return false;
	if (!s->filling) {
		s->filling = true;
		clock_gettime(CLOCK_MONOTONIC, fill_by);
		fill_by->tv_sec += ms / 1000;
		fill_by->tv_nsec += (long)(ms % 1000) * 1000000L;
		if (fill_by->tv_nsec >= 1000000000L) {
			fill_by->tv_sec++;
			fill_by->tv_nsec -= 1000000000L;
		}
		return true;
	}
	return !mono_due(fill_by);
}

static void *writer_main(void *arg)
{
	wstate *w = arg;
	tern_store *s = w->s;
	uint32_t interval = s->opt.purge_interval;
	struct timespec next_purge, fill_by;
	uint64_t purged;

	mono_add(&next_purge, 0); /* once at open */
	pthread_mutex_lock(&s->mu);
	for (;;) {
		tern__job *j = s->head;

		if (interval && !s->closing && mono_due(&next_purge)) {
			pthread_mutex_unlock(&s->mu);
			int prc = purge(w, tern__store_now(), &purged);
			if (prc)
				tern_log(TERN_LOG_ERROR, "store",
					 "expiration purge failed: %s",
					 tern_strerror(prc));
			else if (purged)
				tern_log(TERN_LOG_INFO, "store",
					 "purged %llu expired events",
					 (unsigned long long)purged);
			pthread_mutex_lock(&s->mu);
			mono_add(&next_purge, interval);
			continue;
		}
		if (!j) {
			if (s->closing)
				break;
			if (interval)
				pthread_cond_timedwait(&s->cv_work, &s->mu,
						       &next_purge);
			else
				pthread_cond_wait(&s->cv_work, &s->mu);
			continue;
		}
		if (j->type == JOB_EVENT && batch_should_wait(s, &fill_by)) {
			const struct timespec *until = &fill_by;

			if (interval && mono_before(&next_purge, &fill_by))
				until = &next_purge;
			pthread_cond_timedwait(&s->cv_work, &s->mu, until);
			continue;
		}
		s->filling = false;
		if (j->type != JOB_EVENT) {
			int rc;

			s->nctl--;
			s->head = j->next;
			if (!s->head)
				s->tail = NULL;
			pthread_mutex_unlock(&s->mu);
			rc = run_control(w, j);
			tern__store_trim(s, false);
			pthread_mutex_lock(&s->mu);
			j->rc = rc;
			j->done = true;
			pthread_cond_broadcast(&s->cv_done);
			continue;
		}
		uint32_t n = 0;

		while (j && j->type == JOB_EVENT && n < s->opt.batch_max) {
			w->jobs[n++] = j;
			j = j->next;
		}
		s->head = j;
		if (!j)
			s->tail = NULL;
		s->qlen -= n;
		s->in_batch = true;
		pthread_cond_broadcast(&s->cv_room);
		pthread_mutex_unlock(&s->mu);
		process_batch(w, n);
		pthread_mutex_lock(&s->mu);
		s->in_batch = false;
		if (s->outcome_waiters)
			pthread_cond_broadcast(&s->cv_done);
	}
	pthread_mutex_unlock(&s->mu);

	tern_arena_free(&w->keys);
	tern_arena_free(&w->scratch);
	free(w->ix.ops);
	free(w->ix.tmp);
	free(w->ix.dropped);
	free(w->jobs);
	free(w->evs);
	free(w->res);
	free(w->exp);
	free(w->final);
	free(w);
	return NULL;
}

int tern__writer_start(tern_store *s)
{
	uint32_t n = s->opt.batch_max;
	pthread_condattr_t ca;
	wstate *w;
	int rc;

	w = calloc(1, sizeof *w);
	if (!w)
		return TERN_ENOMEM;
	w->s = s;
	w->jobs = calloc(n, sizeof *w->jobs);
	w->evs = calloc(n, sizeof *w->evs);
	w->res = calloc(n, sizeof *w->res);
	w->exp = calloc(n, sizeof *w->exp);
	w->final = calloc(n, sizeof *w->final);
	w->ix.dropped = calloc(n, 1);
	w->ix.ndropped = n;
	w->ix.mem = &w->keys;
	tern_arena_init(&w->keys, 0);
	tern_arena_init(&w->scratch, 0);
	if (!w->jobs || !w->evs || !w->res || !w->exp || !w->final ||
	    !w->ix.dropped) {
		rc = TERN_ENOMEM;
		goto fail;
	}

	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv_work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->cv_room, NULL);
	pthread_cond_init(&s->cv_done, NULL);
	s->head = s->tail = NULL;
	s->qlen = 0;
	s->nctl = 0;
	s->filling = false;
	s->closing = false;
	rc = pthread_create(&s->thread, NULL, writer_main, w);
	if (rc) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv_work);
		pthread_cond_destroy(&s->cv_room);
		pthread_cond_destroy(&s->cv_done);
		rc = -rc;
		goto fail;
	}
	s->thread_started = true;
	return 0;
fail:
	free(w->ix.dropped);
	free(w->jobs);
	free(w->evs);
	free(w->res);
	free(w->exp);
	free(w->final);
	free(w);
	return rc;
}

void tern__writer_stop(tern_store *s)
{
	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_cond_broadcast(&s->cv_work);
	pthread_cond_broadcast(&s->cv_room);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	s->thread_started = false;
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv_work);
	pthread_cond_destroy(&s->cv_room);
	pthread_cond_destroy(&s->cv_done);
}

/* ---- public entry points ------------------------------------------------ */

static void enqueue_locked(tern_store *s, tern__job *j)
{
	j->next = NULL;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	if (j->type != JOB_EVENT)
		s->nctl++;
	/* A writer waiting for a batch to fill needs no wake-up per event. */
	if (!s->filling || j->type != JOB_EVENT || s->qlen >= batch_fill(s))
		pthread_cond_signal(&s->cv_work);
}

/* The writer reads the first two values of a tag only (name and value:
 * index keys, "d", "expiration", NIP-09 "e"/"a"), so a job keeps those. */
#define JOB_TAG_VALUES 2

/* Cursor over the canonical "tags" array of an event's JSON:
 * [["v","v",...],...], where each value takes exactly its escaped length.
 * Never moves past end, so an event whose offsets do not describe its JSON
 * (built by hand) only loses the sharing, never memory safety. */
struct tags_cursor {
	const uint8_t *q, *end;
};

static void tc_skip(struct tags_cursor *c, size_t n)
{
	c->q = (size_t)(c->end - c->q) >= n ? c->q + n : c->end;
}

/* Steps over value v; returns where the JSON holds its bytes verbatim, or
 * NULL (escaped characters, or not found there). */
static const uint8_t *tc_value(struct tags_cursor *c, tern_slice v)
{
	const uint8_t *p = c->q;
	size_t len = tern__json_escaped_len(v);

	tc_skip(c, len);
	if (len != v.n + 2 || (size_t)(c->end - p) < len ||
	    (v.n && memcmp(p + 1, v.p, v.n) != 0))
		return NULL;
	return p + 1;
}

/* Walks ev's tags over the JSON at json (ev->json or a copy of it): for
 * each kept value, out[i] (when out is not NULL) gets its length and where
 * json holds it verbatim, or p = NULL. Returns the bytes of the values
 * that must be copied. */
static size_t tc_walk(const tern_event *ev, const uint8_t *json,
		      tern_slice *out)
{
	struct tags_cursor c;
	size_t extra = 0, i = 0;
	bool ok = (size_t)ev->tags_off + ev->tags_len <= ev->json.n &&
		  ev->tags_len >= 2;

	c.q = json + (ok ? ev->tags_off + 1 : 0); /* past '[' */
	c.end = ok ? json + ev->tags_off + ev->tags_len : json;
	for (uint32_t t = 0; t < ev->ntags; t++) {
		uint32_t n = ev->tags[t].n;

		tc_skip(&c, t ? 2 : 1); /* '[' or ",[" */
		for (uint32_t k = 0; k < n; k++) {
			const uint8_t *at = tc_value(&c, ev->tags[t].v[k]);

			tc_skip(&c, k + 1 < n); /* ',' */
			if (k >= JOB_TAG_VALUES)
				continue;
			if (out) {
				out[i].p = at;
				out[i].n = ev->tags[t].v[k].n;
			}
			i++;
			if (!at)
				extra += ev->tags[t].v[k].n;
		}
		tc_skip(&c, 1); /* ']' */
	}
	return extra;
}

/*
 * Copies ev into a new job: the canonical JSON, the content unless the
 * JSON holds it verbatim, and the first JOB_TAG_VALUES values of each tag,
 * pointing into the copied JSON wherever it holds them verbatim (no
 * character needed escaping: nearly always); the others are copied. The
 * writer works from this copy and never parses the event again.
 */
static tern__job *job_from_event(const tern_event *ev)
{
	size_t nvals = 0, extra, size, i = 0;
	bool content_in_json = ev->content_len == ev->content.n + 2 &&
			       (size_t)ev->content_off + ev->content_len <=
			       ev->json.n &&
			       (!ev->content.n ||
				memcmp(ev->json.p + ev->content_off + 1,
				       ev->content.p, ev->content.n) == 0);
	tern__job *j;
	tern_tag *tags;
	tern_slice *vals;
	uint8_t *p;

	for (uint32_t t = 0; t < ev->ntags; t++)
		nvals += ev->tags[t].n < JOB_TAG_VALUES ? ev->tags[t].n :
			 JOB_TAG_VALUES;
	extra = tc_walk(ev, ev->json.p, NULL);
	size = sizeof *j + ev->ntags * sizeof *tags + nvals * sizeof *vals +
	       ev->json.n + extra + (content_in_json ? 0 : ev->content.n);
	j = malloc(size);
	if (!j)
		return NULL;
	memset(j, 0, sizeof *j);
	j->type = JOB_EVENT;
	j->ev = *ev;
	tags = (tern_tag *)(void *)j->data;
	vals = (tern_slice *)(void *)(tags + ev->ntags);
	p = (uint8_t *)(vals + nvals);
	memcpy(p, ev->json.p, ev->json.n);
	j->ev.json.p = p;
	p += ev->json.n;
	if (content_in_json) {
		j->ev.content.p = j->ev.json.p + ev->content_off + 1;
	} else {
		if (ev->content.n)
			memcpy(p, ev->content.p, ev->content.n);
		j->ev.content.p = p;
		p += ev->content.n;
	}
	tc_walk(&j->ev, j->ev.json.p, vals);
	for (uint32_t t = 0; t < ev->ntags; t++) {
		uint32_t n = ev->tags[t].n < JOB_TAG_VALUES ? ev->tags[t].n :
			     JOB_TAG_VALUES;

		tags[t].n = n;
		tags[t].v = &vals[i];
		for (uint32_t k = 0; k < n; k++, i++) {
			if (vals[i].p)
				continue;
			if (vals[i].n)
				memcpy(p, ev->tags[t].v[k].p, vals[i].n);
			vals[i].p = p;
			p += vals[i].n;
		}
	}
	j->ev.tags = ev->ntags ? tags : NULL;
	return j;
}

int tern_store_submit(tern_store *s, const tern_event *ev,
		      tern_store_write_cb cb, void *ctx, bool wait)
{
	tern__job *j;

	if (!s || !ev || !ev->json.p)
		return TERN_EINVAL;
	if (s->read_only)
		return TERN_ECLOSED;
	j = job_from_event(ev);
	if (!j)
		return TERN_ENOMEM;
	j->cb = cb;
	j->ctx = ctx;

	pthread_mutex_lock(&s->mu);
	while (!s->closing && s->qlen >= s->opt.queue_max) {
		if (!wait) {
			pthread_mutex_unlock(&s->mu);
			free(j);
			return TERN_EFULL;
		}
		pthread_cond_wait(&s->cv_room, &s->mu);
	}
	if (s->closing) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return TERN_ECLOSED;
	}
	s->qlen++;
	enqueue_locked(s, j);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Queues a control job (which may exceed queue_max: its caller blocks)
 * and waits for the writer to finish it. */
static int run_blocking(tern_store *s, tern__job *j)
{
	if (!s)
		return TERN_EINVAL;
	if (s->read_only)
		return TERN_ECLOSED;
	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		pthread_mutex_unlock(&s->mu);
		return TERN_ECLOSED;
	}
	enqueue_locked(s, j);
	while (!j->done)
		pthread_cond_wait(&s->cv_done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return j->rc;
}

int tern_store_flush(tern_store *s)
{
	tern__job j = { .type = JOB_FLUSH };

	return run_blocking(s, &j);
}

int tern_store_set_deletion_outcome(
	tern_store *s,
	bool (*deletion_outcome)(void *ctx, const tern_event *target,
				 const tern_event *deletion),
	bool (*deletion_outcome_wanted)(void *ctx), void *ctx)
{
	if (!s || s->read_only)
		return TERN_EINVAL;
	/* The writer reads the options only inside an event batch, which
	 * it enters and leaves under mu. */
	pthread_mutex_lock(&s->mu);
	s->outcome_waiters++;
	while (s->in_batch)
		pthread_cond_wait(&s->cv_done, &s->mu);
	s->outcome_waiters--;
	s->opt.deletion_outcome = deletion_outcome;
	s->opt.deletion_outcome_wanted = deletion_outcome_wanted;
	s->opt.deletion_outcome_ctx = ctx;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int tern_store_delete(tern_store *s, const tern_filter *fs, size_t n,
		      bool dry_run, uint64_t *removed)
{
	tern__job j = { .type = JOB_DELETE, .fs = fs, .nfs = n,
			.dry_run = dry_run };
	int rc;

	if (removed)
		*removed = 0;
	if (!fs && n)
		return TERN_EINVAL;
	rc = run_blocking(s, &j);
	if (!rc && removed)
		*removed = j.count;
	return rc;
}

int tern_store_purge_expired(tern_store *s, uint64_t now, uint64_t *purged)
{
	tern__job j = { .type = JOB_PURGE, .now = now };
	int rc;

	if (purged)
		*purged = 0;
	rc = run_blocking(s, &j);
	if (!rc && purged)
		*purged = j.count;
	return rc;
}
