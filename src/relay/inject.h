/*
 * Relay-level calls (include/tern/relay.h): events injected through the
 * full pipeline as internal calls, broadcast without storing, and the
 * snapshot of live filters across I/O threads (inject.c).
 *
 * An injected event is posted to the first I/O thread, which runs it
 * like a client's EVENT (parse, id and signature, reject-event hooks with
 * no connection, store or ephemeral fan-out) and reports the outcome
 * through the caller's callback, on that thread. An event injected into a
 * sub-relay goes to its router's first I/O thread, and to that sub-relay
 * (inj->r) without asking the matchers.
 */
#ifndef TERN_RELAY_INJECT_H
#define TERN_RELAY_INJECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/relay.h>

typedef struct tern__io tern__io;

struct tern__inject {
	tern_relay *r;
	tern_relay_inject_fn cb;
	void *ud;
	size_t len;
	uint8_t json[];
};
typedef struct tern__inject tern__inject;

/* Reports the outcome (cb, once) and frees inj. */
void tern__inject_done(tern__inject *inj, bool ok, const tern_reason *why);

/* One snapshot of live filters being collected. */
typedef struct tern__livesnap_item {
	uint64_t conn;
	tern_slice sub;
	tern_filter f;
} tern__livesnap_item;

typedef struct tern__livesnap {
	uint32_t rel;            /* the filters of this relay (router.h) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned remaining;      /* I/O threads still to collect */
	tern_arena a;            /* copies of ids and filters */
	tern__livesnap_item *v;
	size_t n, cap;
	bool oom;
} tern__livesnap;

/* On io's thread (or with its loop not running): adds io's live filters
 * to s and counts io as done. */
void tern__livesnap_collect(tern__io *io, tern__livesnap *s);

#endif
