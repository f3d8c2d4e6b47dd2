/*
 * The query engine of the store (query.c): planner, resumable index
 * ranges, newest-first merge, count. Public entry points are tern_query_*,
 * tern_store_query and tern_store_count (include/tern/store.h); these are
 * for the writer, which runs queries inside its own write transaction.
 */
#ifndef TERN_STORE_QUERY_H
#define TERN_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include <tern/store.h>

#include "store/store.h"

/*
 * Creates a query over the OR of fs[0..n) (copied). With no_limits the
 * filters' "limit" and limit_cap are ignored (count). Returns 0 or
 * TERN_ENOMEM.
 */
int tern__query_new(tern_query **out, tern_store *s, const tern_filter *fs,
		    size_t n, uint32_t limit_cap, bool no_limits);

/*
 * Runs one slice of q inside txn (a read txn, or the writer's write txn
 * when write is true: cursors are then closed before returning). Same
 * returns as tern_query_next(). Does not take maplock: the caller holds
 * the transaction.
 */
int tern__query_slice(tern_query *q, MDB_txn *txn, bool write,
		      uint32_t max_rows, tern_store_visit_cb cb, void *ctx);

#endif
