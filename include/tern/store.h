/*
 * tern/store.h - the embedded LMDB event store.
 *
 * One LMDB environment in a directory holds the events and their indexes
 * (docs/STORE_FORMAT.md). Reads may run on any thread, concurrently. All
 * writes go through one writer thread owned by the store: callers submit
 * events to a bounded queue, the writer batches them into one write
 * transaction (group commit), applies the NIP-01/09/40 rules, commits, and
 * only then reports each event's result through the caller's callback.
 *
 * Rules the writer applies (NIP-01, NIP-09, NIP-40):
 *  - ephemeral kinds (20000-29999) are never stored (rejected "invalid:");
 *  - an event whose NIP-40 expiration has passed is rejected; stored events
 *    are never returned once expired and are purged in the background;
 *  - replaceable kinds (0, 3, 10000-19999) keep one event per (pubkey,
 *    kind), addressable kinds (30000-39999) one per (pubkey, kind, d tag):
 *    the newest, and on equal created_at the lowest id; an older version
 *    arriving later is not stored;
 *  - kind 5 deletions remove the author's own events named by "e" tags and,
 *    by "a" tags, the versions of the author's addressable/replaceable
 *    events with created_at <= the deletion's; they leave tombstones so the
 *    deleted events cannot be stored again; a deletion never deletes
 *    another kind-5 event.
 *
 * The store is a deterministic function of the ordered stream of events
 * submitted to it (serials are assigned in commit order, starting at 1, and
 * never reused, not even after the newest event is deleted).
 *
 * Threads: reads (queries, count, get, stats) may run on any thread,
 * concurrently with each other and with the writer. The map lock: every
 * read holds a process-wide lock shared while its short read transaction
 * is open, and the writer takes it exclusive to grow the map, so a visitor
 * callback must not block on the writer (no tern_store_flush/delete/
 * purge_expired or tern_store_submit with wait=true from inside it); it may
 * call other read functions.
 */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/event.h>
#include <tern/filter.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The on-disk format this build reads and writes (docs/STORE_FORMAT.md). */
#define TERN_STORE_FORMAT_VERSION 2

typedef struct tern_store tern_store;

typedef struct tern_store_options {
	const char *dir;        /* directory; created if missing (mode 0755);
				   read during tern_store_open() only */
	bool read_only;         /* open for reading only: no writer thread;
				   implies must_exist; writes get
				   TERN_ECLOSED */
	bool must_exist;        /* open only an existing store: when dir
				   holds none (no data file, or dir is
				   missing or not a directory), fail with
				   TERN_ENOTFOUND and the message "no store
				   at DIR", creating nothing (no directory,
				   no LMDB lock file) */
	uint64_t map_size;      /* initial LMDB map size in bytes (default
				   1 GiB; a larger data file wins); the
				   writer doubles it whenever it is full */
	uint32_t batch_max;     /* most events per write transaction (1024) */
	uint32_t queue_max;     /* bound of the writer queue (65536) */
	uint32_t batch_min;     /* with batch_wait_ms: events the writer
				   waits for before it starts a write
				   transaction (0 = batch_max; capped at
				   batch_max and queue_max) */
	uint32_t batch_wait_ms; /* most milliseconds the writer waits for
				   batch_min events to be queued (0, the
				   default: it starts at once with what is
				   queued). For bulk loads, where latency
				   does not matter: fuller transactions
				   cost less CPU per event. A flush,
				   delete, purge or close ends the wait at
				   once. */
	uint32_t purge_interval; /* seconds between expiration purges (60),
				    plus one purge at open; 0 disables the
				    background purge (expired events are
				    still never returned) */
	bool no_sync;           /* MDB_NOSYNC: faster, not crash-durable
				   (default false) */
	uint64_t rss_trim;      /* bound, in bytes, on the pages of the
				   store file this process keeps mapped
				   (0 = no bound, the default). Reading
				   the store maps its pages into the
				   process, and they count in its resident
				   size until unmapped: a bulk import would
				   end up with the whole file resident.
				   When set, the writer reads how many
				   file-backed pages the process has
				   resident after every 8 page faults of
				   its own or 1 ms while it works and,
				   above the bound, drops the store's
				   pages from its mapping (madvise
				   MADV_DONTNEED). They stay in the
				   kernel's page cache: a later read maps
				   them again with a minor fault, so the
				   cost is CPU, not I/O. Safe with
				   concurrent readers (the map is
				   read-only). The figure checked is the
				   process's whole file-backed resident
				   size (/proc/self/statm), program text
				   included: keep the bound well above it
				   (e.g. 16 MiB or more). Writable stores
				   only. Linux only (ignored elsewhere). */
	/*
	 * NIP-09 outcome (may be NULL, the default: every target is
	 * removed). Called on the writer thread, inside the write
	 * transaction, for each stored event a kind-5 deletion would remove:
	 * return false to keep it (the deletion and its tombstone are
	 * stored either way). target and deletion are valid during the call
	 * only; it must be quick and must not call the store. When
	 * deletion_outcome_wanted is not NULL it is asked first, once per
	 * deletion, and when it says false no target is parsed nor passed
	 * (the fast path while nothing listens). The relay sets both to run
	 * its overwrite-deletion-outcome hooks.
	 */
	bool (*deletion_outcome)(void *ctx, const tern_event *target,
				 const tern_event *deletion);
	bool (*deletion_outcome_wanted)(void *ctx);
	void *deletion_outcome_ctx;
} tern_store_options;

void tern_store_options_defaults(tern_store_options *o);

/*
 * Opens (creating if needed) the store in o->dir. Refuses a store whose
 * format version is not TERN_STORE_FORMAT_VERSION with TERN_EVERSION and
 * leaves it untouched (nothing is written to it). Refuses an LMDB
 * environment that is not a tern store with TERN_ESTORE. On failure *out is
 * NULL and, if err is not NULL, a human-readable message is written to err
 * (errcap bytes, NUL-terminated). Returns 0, TERN_EVERSION, TERN_ESTORE,
 * TERN_ENOTFOUND (read_only or must_exist, and no store), TERN_EINVAL,
 * TERN_ENOMEM or -errno.
 */
int tern_store_open(tern_store **out, const tern_store_options *o, char *err,
		    size_t errcap);

/*
 * Stops accepting submissions, lets the writer commit everything already
 * queued (their callbacks run), joins it and closes the environment.
 * No other thread may be using s (no query open, no submitter blocked).
 * s may be NULL.
 */
void tern_store_close(tern_store *s);

/* ---- writing ---------------------------------------------------------- */

typedef enum tern_write_status {
	TERN_WRITE_STORED,    /* new event stored */
	TERN_WRITE_DUPLICATE, /* already stored (same id): nothing changed */
	TERN_WRITE_REJECTED,  /* refused by a rule; see reason */
	TERN_WRITE_ERROR,     /* storage failure; see reason ("error: ...") */
} tern_write_status;

typedef struct tern_write_result {
	tern_write_status status;
	uint8_t id[32];
	uint64_t serial;    /* the stored event's serial when STORED */
	uint32_t nremoved;  /* events this one replaced or deleted */
	/*
	 * prefix NONE (empty msg) when STORED/DUPLICATE. REJECTED reasons:
	 * "invalid: ephemeral events are not stored", "invalid: event has
	 * expired", "blocked: this event was deleted" (NIP-09 tombstone),
	 * "duplicate: have a newer version of this event" (replaceable or
	 * addressable). ERROR: "error: storage failure: ...".
	 */
	tern_reason reason;
} tern_write_result;

/*
 * Called on the writer thread after the transaction holding the event has
 * committed (or failed), in submission order. Must not block and must not
 * call back into the store's write functions (submit, flush, delete,
 * purge). res is valid during the call only.
 */
typedef void (*tern_store_write_cb)(void *ctx, const tern_write_result *res);

/*
 * Queues ev (already parsed and, if wanted, verified: the store checks
 * neither id nor signature) for the writer. Copies what it needs before
 * returning, so ev and its buffers may be reused at once. cb may be NULL.
 * When the queue is full: waits for room if wait is true, else returns
 * TERN_EFULL. Returns 0, TERN_EFULL, TERN_ECLOSED (closing or read-only),
 * TERN_EINVAL or TERN_ENOMEM. Thread-safe. Events submitted by one thread
 * are applied in submission order.
 */
int tern_store_submit(tern_store *s, const tern_event *ev,
		      tern_store_write_cb cb, void *ctx, bool wait);

/*
 * Replaces the NIP-09 outcome callbacks of tern_store_options
 * (deletion_outcome, deletion_outcome_wanted, deletion_outcome_ctx; all
 * NULL: every target is removed) while the store runs. Waits for the
 * write batch in progress, if any: once it returns, the writer calls only
 * the new callbacks, from its next batch on. Thread-safe; not from the
 * writer thread (a write callback or an outcome callback). Returns 0, or
 * TERN_EINVAL for a read-only store.
 */
int tern_store_set_deletion_outcome(
	tern_store *s,
	bool (*deletion_outcome)(void *ctx, const tern_event *target,
				 const tern_event *deletion),
	bool (*deletion_outcome_wanted)(void *ctx), void *ctx);

/* Blocks until every event submitted before the call has been committed
 * and its callback has run. Thread-safe; not from the writer thread (a
 * write callback). Returns 0 or TERN_ECLOSED. */
int tern_store_flush(tern_store *s);

/*
 * Removes every stored event matching any of the n filters (no tombstones:
 * an operator's delete, not a NIP-09 deletion), through the writer thread.
 * "matching" is exactly what tern_store_query(s, fs, n, 0, ...) would
 * return: each filter's "limit" is honoured and expired events are not
 * counted (the purge removes them). With dry_run nothing is removed.
 * *removed (may be NULL) gets the number of events that match. Blocks until
 * done, ordered after every event submitted before. Returns 0, TERN_ECLOSED
 * or a store error.
 */
int tern_store_delete(tern_store *s, const tern_filter *fs, size_t n,
		      bool dry_run, uint64_t *removed);

/* Purges events whose expiration is <= now (through the writer; blocks).
 * *purged may be NULL. */
int tern_store_purge_expired(tern_store *s, uint64_t now, uint64_t *purged);

/* ---- reading ---------------------------------------------------------- */

/*
 * Visitor for query results: json is the event's canonical JSON, valid only
 * during the call. Return true to continue, false to stop the query.
 */
typedef bool (*tern_store_visit_cb)(void *ctx, tern_slice json,
				    uint64_t serial);

typedef struct tern_query tern_query;

/*
 * Starts a query over the OR of n filters: results come newest first
 * (created_at descending, then id ascending), each event once, at most
 * filter.limit events per filter (and at most limit_cap per filter when
 * limit_cap > 0, also for filters without limit). Expired events are never
 * returned. The filters are copied; the caller may free them afterwards.
 * Returns 0, TERN_ENOMEM or a store error.
 */
int tern_query_begin(tern_query **out, tern_store *s, const tern_filter *fs,
		     size_t n, uint32_t limit_cap);

/*
 * Delivers up to max_rows results (0 = no bound) to cb, in one short read
 * transaction. Returns 1 if more results remain (call again later: this is
 * how a relay scans in slices without stalling its loop), 0 when the query
 * is complete or cb stopped it, or a negative error. With max_rows > 0 a
 * call also bounds the index entries it reads, so it may return 1 having
 * delivered fewer rows, even none (a second holding very many events).
 * Between calls the query holds no transaction: events written meanwhile
 * may appear if they sort after the rows already delivered, removed ones
 * disappear, and no row is ever delivered twice.
 * Call from one thread at a time per query.
 */
int tern_query_next(tern_query *q, uint32_t max_rows, tern_store_visit_cb cb,
		    void *ctx);

/* Frees q. q may be NULL. */
void tern_query_end(tern_query *q);

/* One-shot query: begin, next until done, end. Filters with "search"
 * match nothing (no full-text index). */
int tern_store_query(tern_store *s, const tern_filter *fs, size_t n,
		     uint32_t limit_cap, tern_store_visit_cb cb, void *ctx);

/*
 * Counts stored, unexpired events matching any of the n filters ("limit"
 * is ignored), each event once. Uses the index keys alone, without reading
 * event records, when there is one filter that one index answers exactly
 * (e.g. {}, authors, kinds, authors+kinds, one tag value, with since/until)
 * and no stored event has expired yet; otherwise checks each candidate's
 * record header (and parses bodies only for tag conditions the index
 * cannot answer). Returns 0 or an error.
 */
int tern_store_count(tern_store *s, const tern_filter *fs, size_t n,
		     uint64_t *count);

/* Looks up one event by id; cb gets it if stored and not expired.
 * Returns 0 (found), TERN_ENOTFOUND or an error. */
int tern_store_get(tern_store *s, const uint8_t id[32], tern_store_visit_cb cb,
		   void *ctx);

typedef struct tern_store_stats {
	uint32_t format_version;
	uint64_t events;          /* stored events */
	uint64_t tombstones;      /* deletion tombstones (ids + addresses) */
	uint64_t expiring;        /* events with an expiration */
	uint64_t oldest, newest;  /* created_at range (0, 0 when empty) */
	uint64_t map_size;        /* current LMDB map size, bytes */
	uint64_t used_bytes;      /* pages up to the last used one * page
				     size (includes LMDB free pages) */
	uint64_t next_serial;
	uint64_t index_entries;   /* entries in all index databases (id, ca,
				     pk, kind, pkkind, tag, addr, exp) */
} tern_store_stats;

int tern_store_stats_get(tern_store *s, tern_store_stats *out);

#ifdef __cplusplus
}
#endif
#endif
