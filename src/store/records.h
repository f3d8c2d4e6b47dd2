/*
 * Event records and their index entries: writing one event with every index
 * key it needs, and removing it again. All functions run inside a write
 * transaction of the writer thread (records_get also in read txns) and
 * return 0 or an LMDB error code (MDB_* or errno), so that the caller can
 * tell MDB_MAP_FULL apart and retry.
 */
#ifndef TERN_STORE_RECORDS_H
#define TERN_STORE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include <tern/arena.h>
#include <tern/event.h>

#include "store/store.h"

/*
 * Deferred writes to the time-ordered indexes (ca, pk, kind, pkkind, tag)
 * of one event batch. Inside a batch nothing reads those indexes, so the
 * writer collects their puts and deletes and applies them at the end,
 * sorted, through one cursor per index: consecutive keys then mostly land
 * on the leaf page the cursor is already on, which spares the root-to-leaf
 * search of every single put (a third of the writer's instructions when
 * each key was put on its own).
 */
typedef struct tern__ixop {
	uint64_t sortkey;   /* db, then the key's first bytes (sorting) */
	const uint8_t *key; /* in the batch arena, followed by its value */
	uint32_t owner;     /* batch position of the event that caused it */
	uint16_t len;
	uint8_t db;         /* TERN__DB_* */
	uint8_t del;        /* delete rather than put */
} tern__ixop;

typedef struct tern__ixbatch {
	tern__ixop *ops, *tmp; /* tmp: sorting */
	size_t n, cap, tmpcap;
	tern_arena *mem;       /* key bytes; reset with the batch */
	uint32_t owner;        /* set before applying each event */
	uint64_t first_serial; /* serials >= this were assigned in this txn */
	uint8_t *dropped;      /* [serial - first_serial]: removed again */
	uint32_t ndropped;     /* size of dropped */
} tern__ixbatch;

/* Starts a new transaction attempt: no ops, nothing dropped. */
void tern__ixbatch_reset(tern__ixbatch *b, uint64_t first_serial);

/*
 * Applies the collected ops in txn (sorted; puts of events removed again
 * in the same batch are skipped). On failure *owner gets the batch
 * position of the event whose op failed. Returns 0 or an LMDB code.
 */
int tern__ixbatch_apply(tern_store *s, MDB_txn *txn, tern__ixbatch *b,
			uint32_t *owner);

/*
 * Reserves the id entry of ev (first TERN__KEY_ID id bytes -> serial):
 * inserted with MDB_NOOVERWRITE, the duplicate check and the insertion in
 * one search while the key is new; a taken key is resolved against the
 * record headers of its serials. Returns 0, MDB_KEYEXIST when the id is
 * stored already, or an error.
 */
int tern__records_claim_id(tern_store *s, MDB_txn *txn, const uint8_t id[32],
			   uint64_t serial);

/* Takes out the id entry (id, serial). Returns 0, MDB_NOTFOUND or an
 * error. */
int tern__records_unclaim_id(tern_store *s, MDB_txn *txn,
			     const uint8_t id[32], uint64_t serial);

/*
 * Stores ev under serial: the record (header + canonical JSON), the
 * time-ordered indexes (deferred into b when b is not NULL), the address
 * entry for replaceable and addressable kinds and the expiration entry
 * when expiration != 0. The id entry is tern__records_claim_id()'s.
 * serial must be above every stored serial (records are appended).
 */
int tern__records_put(tern_store *s, MDB_txn *txn, const tern_event *ev,
		      uint64_t serial, uint64_t expiration, tern__ixbatch *b);

/*
 * Removes the event stored under serial and all its index entries (not
 * tombstones); index deletes are deferred into b when b is not NULL.
 * scratch is reset and used to re-parse the stored JSON.
 * Returns 0, MDB_NOTFOUND if there is no such record, or an error.
 */
int tern__records_remove(tern_store *s, MDB_txn *txn, uint64_t serial,
			 tern_arena *scratch, tern__ixbatch *b);

/* Reads the record of serial; val points into the map (valid until the
 * txn ends or its next write). Returns 0, MDB_NOTFOUND or an error;
 * MDB_CORRUPTED if the record is shorter than a header. */
int tern__records_get(tern_store *s, MDB_txn *txn, uint64_t serial,
		      MDB_val *val);

/* Looks up the serial of event id (the id entry's serials are checked
 * against their record headers). Returns 0, MDB_NOTFOUND or an error. */
int tern__records_find(tern_store *s, MDB_txn *txn, const uint8_t id[32],
		       uint64_t *serial);

#endif
