/*
 * Internals of the LMDB store shared by its modules: the environment and
 * its sub-databases (store.c), records (records.c), the writer thread
 * (writer.c) and the query engine (query.c).
 */
#ifndef TERN_STORE_STORE_H
#define TERN_STORE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <lmdb.h>

#include <tern/arena.h>
#include <tern/event.h>
#include <tern/store.h>

/* Sub-databases, in the order of tern__store_db_names. */
enum {
	TERN__DB_META,
	TERN__DB_EVENTS,
	TERN__DB_ID,
	TERN__DB_CA,
	TERN__DB_PK,
	TERN__DB_KIND,
	TERN__DB_PKKIND,
	TERN__DB_TAG,
	TERN__DB_ADDR,
	TERN__DB_EXP,
	TERN__DB_TOMB_ID,
	TERN__DB_TOMB_ADDR,
	TERN__DB_COUNT
};

extern const char *const tern__store_db_names[TERN__DB_COUNT];

typedef struct tern__job tern__job;

struct tern_store {
	MDB_env *env;
	MDB_dbi dbi[TERN__DB_COUNT];
	tern_store_options opt;
	bool read_only;

	/*
	 * mdb_env_set_mapsize() needs every transaction of this process to be
	 * finished. Every transaction (read txns and the writer's write txn)
	 * holds this lock shared; growing the map takes it exclusive.
	 */
	pthread_rwlock_t maplock;

	/* Writer queue (writer.c), guarded by mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv_work; /* writer: work arrived (monotonic clock) */
	pthread_cond_t cv_room; /* submitters: room in the queue */
	pthread_cond_t cv_done; /* blocking jobs: a job completed */
	tern__job *head, *tail;
	uint32_t qlen;      /* event jobs queued */
	uint32_t nctl;      /* control jobs (flush, delete, purge) queued */
	bool filling;       /* the writer waits for a batch to fill */
	bool in_batch;      /* the writer runs an event batch (it reads the
			       deletion_outcome options then) */
	uint32_t outcome_waiters; /* tern_store_set_deletion_outcome()
				     calls waiting for in_batch to end */
	bool closing;
	bool thread_started;
	pthread_t thread;

	/* Next serial to assign; owned by the writer thread after open. */
	uint64_t next_serial;

	/* rss_trim (store.c): the map's address range, found lazily and
	 * forgotten when the map is resized (map_known is guarded by
	 * maplock); the time of the last check (writer thread). */
	bool map_known;
	uintptr_t map_lo, map_hi;
	struct timespec trim_last;
	uint64_t trim_faults; /* the writer's page faults at that time */
	int statm_fd;         /* /proc/self/statm, or -1 */
};

/* Generous limits for re-parsing JSON the store itself wrote. */
extern const tern_event_limits tern__store_parse_limits;

/* Starts a read-only transaction holding maplock shared; handles
 * MDB_MAP_RESIZED. Returns 0 or a negative error. */
int tern__store_rtxn_begin(tern_store *s, MDB_txn **txn);

/* Aborts a transaction from tern__store_rtxn_begin and releases maplock. */
void tern__store_rtxn_end(tern_store *s, MDB_txn *txn);

/* Adopts a map size grown by another process (MDB_MAP_RESIZED). Called
 * with maplock NOT held. Returns an LMDB code. */
int tern__store_adopt_mapsize(tern_store *s);

/* Doubles the map size (MDB_MAP_FULL). Called with maplock NOT held and no
 * transaction of this thread open. Returns an LMDB code. */
int tern__store_grow(tern_store *s);

/* Maps an LMDB return code to a tern error (-errno or TERN_ESTORE). */
int tern__store_err(int mdb_rc);

/* Writes meta "next_serial" in a write txn. Returns an LMDB code. */
int tern__store_write_next_serial(tern_store *s, MDB_txn *txn, uint64_t next);

/*
 * Drops the store's pages from this process's mapping when the process
 * has more file-backed pages resident than s->opt.rss_trim (0: never);
 * looks after every TRIM_FAULT_STEP page faults of the writer or
 * TRIM_CHECK_MS milliseconds. Writer thread only. in_txn: called inside
 * the writer's write transaction (maplock held shared); otherwise outside
 * any transaction.
 */
void tern__store_trim(tern_store *s, bool in_txn);

/* Unix time now, in seconds. */
uint64_t tern__store_now(void);

#endif
