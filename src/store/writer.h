/*
 * The store's single writer thread: a bounded job queue, group commit of
 * event batches with the NIP-01/09/40 rules, operator deletes and the
 * expiration purge (writer.c). The public entry points are
 * tern_store_submit/flush/delete/purge_expired (include/tern/store.h).
 */
#ifndef TERN_STORE_WRITER_H
#define TERN_STORE_WRITER_H

#include "store/store.h"

/* Initializes the queue and starts the thread (which purges once at start
 * when purge_interval > 0). Returns 0 or a negative error. */
int tern__writer_start(tern_store *s);

/* Refuses new jobs, lets the thread finish every queued job (callbacks
 * included) and joins it. */
void tern__writer_stop(tern_store *s);

#endif
