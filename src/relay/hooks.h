/*
 * The relay's hook lists (the public side is include/tern/hooks.h).
 *
 * One list per hook point. A list is an immutable array published through
 * an atomic pointer: NULL when the point has no hook, so that the fast
 * path of an unhooked point is one load and one test. Registration and
 * removal (serialised by a mutex) build a new array and swap it in; the
 * old one is retired and freed once no reader can still hold it.
 *
 * Readers and reclamation (quiescent-state based): every thread that runs
 * hooks owns a reader slot holding the hook epoch it last saw at a
 * quiescent point, or TERN__HOOKS_OFFLINE while it runs none. I/O threads
 * hold no list pointer between loop callbacks, so each loop turn is a
 * quiescent point (tern__hooks_quiescent(), from the loop's check
 * callback). Other threads run only the deletion-outcome hooks (stores'
 * writer threads, backends' saves) and the HTTP handlers (libuv's thread
 * pool, http_hooks.h): they share the last slot, online from
 * the first one's tern__hooks_enter_shared() to the last one's
 * tern__hooks_leave_shared(), at the epoch the first one saw, which
 * keeps every list any of them loaded since. A swap bumps the
 * epoch and tags the old array with it; the array is freed when every
 * slot has seen that epoch (or is offline). Registration wakes the I/O
 * loops so that their next turn reclaims promptly. All these atomics are
 * sequentially consistent: a reader that went online after a swap loads
 * the new pointer, and one that loaded the old pointer is seen online by
 * the reclaimer.
 *
 * Threads: the runners are called on the threads the public header names
 * for each hook point; registration from any thread.
 */
#ifndef TERN_RELAY_HOOKS_H
#define TERN_RELAY_HOOKS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/hooks.h>

typedef enum tern__hook_point {
	TERN__H_REJECT_CONN,
	TERN__H_CONNECT,
	TERN__H_DISCONNECT,
	TERN__H_REJECT_EVENT,
	TERN__H_DELETION_OUTCOME,
	TERN__H_EVENT_SAVED,
	TERN__H_EPHEMERAL,
	TERN__H_REJECT_FILTER,
	TERN__H_REJECT_COUNT_FILTER,
	TERN__H_OVERWRITE_FILTER,
	TERN__H_OVERWRITE_COUNT_FILTER,
	TERN__H_AUTH,
	TERN__H_HTTP_REQUEST,
	TERN__H_PREVENT_BROADCAST,
	TERN__H_OVERWRITE_RESPONSE,
	TERN__H_RELAY_INFO,
	TERN__H_NPOINTS
} tern__hook_point;

typedef struct tern__hook {
	const void *owner;
	void (*fn)(void);
	void *ud;
} tern__hook;

/* An immutable, published list (n >= 1). */
typedef struct tern__hook_list {
	struct tern__hook_list *retired_next;
	uint64_t retired_epoch;
	size_t n;
	tern__hook v[];
} tern__hook_list;

#define TERN__HOOKS_OFFLINE UINT64_MAX

typedef struct tern__hooks {
	_Atomic(tern__hook_list *) list[TERN__H_NPOINTS];
	pthread_mutex_t mu;            /* writers and reclamation */
	atomic_uint_fast64_t epoch;
	tern__hook_list *retired;      /* under mu */
	atomic_size_t nretired;
	size_t nslots;
	atomic_uint_fast64_t *slots;   /* one per reader thread */
	size_t nshared;                /* under mu: threads in the last slot */
	void (*wake)(void *ctx);       /* wakes the readers after a swap */
	void *wake_ctx;
} tern__hooks;

/* nslots reader slots, all offline. Returns 0 or TERN_ENOMEM. */
int tern__hooks_init(tern__hooks *h, size_t nslots,
		     void (*wake)(void *ctx), void *wake_ctx);
/*
 * Grows the reader slots to nslots (new ones offline); fewer is a no-op.
 * Only while no reader thread uses h (a sub-relay becoming a route, before
 * its router runs). Returns 0 or TERN_ENOMEM.
 */
int tern__hooks_set_slots(tern__hooks *h, size_t nslots);
/* Frees every list (no reader may be running). */
void tern__hooks_free(tern__hooks *h);

/* Appends a hook to point p under owner. Returns 0 or TERN_ENOMEM. */
int tern__hooks_add(tern__hooks *h, tern__hook_point p, const void *owner,
		    void (*fn)(void), void *ud);
/* Removes owner's hooks from every list. */
void tern__hooks_remove_owner(tern__hooks *h, const void *owner);

/* The list of p, or NULL when it has no hook (readers only). */
static inline const tern__hook_list *tern__hooks_get(tern__hooks *h,
						     tern__hook_point p)
{
	return atomic_load_explicit(&h->list[p], memory_order_seq_cst);
}

/* True when p has at least one hook. */
static inline bool tern__hooks_any(tern__hooks *h, tern__hook_point p)
{
	return atomic_load_explicit(&h->list[p], memory_order_relaxed) != NULL;
}

/* Reader slot i: a quiescent point (holds no list), online from now. */
void tern__hooks_quiescent(tern__hooks *h, size_t slot);
/* Reader slot i goes online / offline (holds no list after). */
void tern__hooks_online(tern__hooks *h, size_t slot);
void tern__hooks_offline(tern__hooks *h, size_t slot);
/* The calling thread, which owns no slot, enters / leaves the shared one
 * (the last slot): it may hold lists in between. Any thread. */
void tern__hooks_enter_shared(tern__hooks *h);
void tern__hooks_leave_shared(tern__hooks *h);

/*
 * Where a list is resumed after a deferral by the hook (fn, ud) that was
 * at index idx: just after that hook if it is still registered, else at
 * idx (the hooks after a removed one moved down by one).
 */
size_t tern__hooks_resume_at(const tern__hook_list *l, void (*fn)(void),
			     void *ud, size_t idx);

#endif
