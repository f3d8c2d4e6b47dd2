/*
 * Event records and their index entries: writing one event with every index
 * key it needs, and removing it again. All functions run inside a write
 * transaction of the writer thread (records_get also in read txns) and
 * return 0 or an LMDB error code (MDB_* or errno), so that the caller can
 * tell MDB_MAP_FULL apart and retry.
 */
#ifndef TERN_STORE_RECORDS_H
#define TERN_STORE_RECORDS_H

#include <stdint.h>

#include <lmdb.h>

#include <tern/arena.h>
#include <tern/event.h>

#include "store/store.h"

/*
 * Stores ev under serial: the record (header + canonical JSON), the id
 * entry, the time-ordered indexes, the address entry for replaceable and
 * addressable kinds and the expiration entry when expiration != 0.
 * serial must be above every stored serial (records are appended).
 */
int tern__records_put(tern_store *s, MDB_txn *txn, const tern_event *ev,
		      uint64_t serial, uint64_t expiration);

/*
 * Removes the event stored under serial and all its index entries (not
 * tombstones). scratch is reset and used to re-parse the stored JSON.
 * Returns 0, MDB_NOTFOUND if there is no such record, or an error.
 */
int tern__records_remove(tern_store *s, MDB_txn *txn, uint64_t serial,
			 tern_arena *scratch);

/* Reads the record of serial; val points into the map (valid until the
 * txn ends or its next write). Returns 0, MDB_NOTFOUND or an error;
 * MDB_CORRUPTED if the record is shorter than a header. */
int tern__records_get(tern_store *s, MDB_txn *txn, uint64_t serial,
		      MDB_val *val);

/* Looks up the serial of event id. Returns 0, MDB_NOTFOUND or an error. */
int tern__records_find(tern_store *s, MDB_txn *txn, const uint8_t id[32],
		       uint64_t *serial);

#endif
