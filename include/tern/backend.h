/*
 * tern/backend.h - the storage interface of a relay, and its two
 * implementations: the LMDB store (tern/store.h) and an in-memory store.
 *
 * A relay reads and writes events through a backend: a table of functions
 * (tern_backend_ops) plus the pointer they receive first (self). One backend
 * stores the events the relay accepts (tern_relay_set_backend(); the
 * default is the LMDB store of the configuration, opened when the relay
 * runs); any number of extra query sources may answer REQ and COUNT next to it
 * (tern_relay_add_query_source()).
 *
 * How khatru's storage hooks map here:
 *
 *   StoreEvent    -> ops.store        (store one event as it is)
 *   ReplaceEvent  -> ops.replace      (store a replaceable/addressable event
 *                                      in place of its older version)
 *   DeleteEvent   -> ops.delete_event (remove one event by id)
 *   QueryEvents   -> ops.query_begin / query_next / query_end
 *   CountEvents   -> ops.count
 *   CountEventsHLL-> ops.count_hll
 *
 * The relay itself only ever calls ops.save to write: one call per accepted
 * (non-ephemeral) event, whose result arrives through a callback once the
 * event is durable. save owns the NIP-01/09/40 rules. A backend either
 * applies them itself (the LMDB store does, in its writer thread) or calls
 * tern_backend_apply(), which applies them on top of the khatru-style
 * primitives above:
 *
 *   - regular kinds: ops.store;
 *   - replaceable (0, 3, 10000-19999) and addressable (30000-39999) kinds:
 *     ops.replace when the backend has one, else a query for the stored
 *     versions of the address, ops.delete_event for each older one and
 *     ops.store (a newer stored version refuses the newcomer);
 *   - kind 5: ops.store, then ops.delete_event for each target the
 *     deletion covers ("e": the author's own non-deletion events; "a": the
 *     author's versions with created_at <= the deletion's), unless the
 *     relay's overwrite-deletion-outcome hooks keep it (see
 *     tern_deletion_outcome below).
 *
 * Deleted events cannot come back: tern_backend_apply() treats the stored
 * kind-5 events as the tombstones (so a backend keeps its deletions).
 *
 * The relay's overwrite-deletion-outcome hooks (tern/hooks.h) reach a
 * backend through ops.set_deletion_outcome: the relay hands it a
 * tern_deletion_outcome when it starts, and the backend passes that to
 * tern_backend_apply_with() (the memory backend does); the LMDB store's
 * writer runs them itself (tern_store_set_deletion_outcome()).
 *
 * The JSON a backend returns from queries must be the event's canonical
 * JSON (tern_event.json, as tern/event.h defines it): the relay splices it
 * into EVENT messages as is and reads created_at, id and pubkey from it.
 *
 * Threads: the relay calls a backend from all its I/O threads at once
 * (queries, counts, saves), so every op must be thread-safe and must not
 * block for long (a query is read in slices through query_next).
 */
#ifndef TERN_BACKEND_H
#define TERN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/event.h>
#include <tern/filter.h>
#include <tern/store.h>
#include <tern/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tern_relay tern_relay;

/* NIP-45: an HLL value is 256 one-byte registers (512 hex characters). */
#define TERN_HLL_REGISTERS 256

/*
 * NIP-09 outcome: may a kind-5 deletion remove a stored event? khatru's
 * OverwriteDeletionOutcome; the relay's hooks of that name
 * (tern_on_overwrite_deletion_outcome()) come to a backend in this form,
 * with the contract of tern_store_options.deletion_outcome.
 */
typedef struct tern_deletion_outcome {
	/*
	 * Asked once per stored event the deletion would remove (target:
	 * an event of the deletion's author it covers), before it is
	 * removed; false keeps target (the deletion is stored, and acts as
	 * a tombstone, either way). target and deletion are valid during
	 * the call only. Runs on the thread that applies the deletion (for
	 * the memory backend: the thread that called save), possibly on
	 * several threads at once for several backends; it must be quick
	 * and must not call the backend. Required.
	 */
	bool (*fn)(void *ctx, const tern_event *target,
		   const tern_event *deletion);
	/*
	 * May be NULL. Asked once per deletion, before fn: false means
	 * every target is removed without asking fn, and none is parsed
	 * for it (the fast path while no hook is registered).
	 */
	bool (*wanted)(void *ctx);
	void *ctx;
} tern_deletion_outcome;

typedef struct tern_backend_ops {
	const char *name; /* for logs ("lmdb", "memory", ...) */

	/*
	 * Writes ev with the NIP-01/09/40 rules (see above). Copies what it
	 * needs before returning. cb (may be NULL) gets the result exactly
	 * once, in the order of the saves of one thread, only after the
	 * event is durable (for a memory backend: visible to queries); it
	 * may run before save returns, on the calling thread, or later on
	 * any thread, must not block and must not call save. Returns 0 (cb
	 * will run), or TERN_EFULL (busy: try later), TERN_ECLOSED, TERN_EINVAL
	 * or TERN_ENOMEM (cb will not run). Required for the relay's backend;
	 * unused for query sources.
	 */
	int (*save)(void *self, const tern_event *ev, tern_store_write_cb cb,
		    void *ctx);

	/*
	 * Stores ev as it is, no rules applied; synchronous. res gets
	 * STORED (with the serial) or DUPLICATE (same id stored), or
	 * ERROR with a reason. Returns 0 or an error. Optional: needed by
	 * tern_backend_apply().
	 */
	int (*store)(void *self, const tern_event *ev, tern_write_result *res);

	/*
	 * Stores the replaceable/addressable ev in place of the stored version
	 * of its address when ev is newer (greater created_at; on a tie the
	 * lower id wins): res gets STORED with nremoved = versions removed;
	 * when a stored version wins, res gets REJECTED with the reason
	 * "duplicate: have a newer version of this event". Synchronous.
	 * Optional: tern_backend_apply() does it with query + delete_event +
	 * store otherwise.
	 */
	int (*replace)(void *self, const tern_event *ev,
		       tern_write_result *res);

	/* Removes the event with this id, if stored (*removed, may be NULL,
	 * says whether it was); no tombstone. Synchronous. Returns 0 or an
	 * error. Optional: needed by tern_backend_apply(). */
	int (*delete_event)(void *self, const uint8_t id[32], bool *removed);

	/*
	 * A query over the OR of n filters, with the contract of
	 * tern_query_begin() / tern_query_next() / tern_query_end(): results
	 * newest first (created_at descending, then id ascending), each event
	 * once, at most filter.limit per filter (and limit_cap per filter when
	 * limit_cap > 0), expired events never; the filters are copied by
	 * begin. next delivers up to max_rows (0 = no bound) rows and returns
	 * 1 when more remain, 0 when done or when cb returned false, or an
	 * error; between calls the query holds no lock. cb must not call the
	 * backend's write ops. Required.
	 */
	int (*query_begin)(void *self, const tern_filter *fs, size_t n,
			   uint32_t limit_cap, void **q);
	int (*query_next)(void *self, void *q, uint32_t max_rows,
			  tern_store_visit_cb cb, void *ctx);
	void (*query_end)(void *self, void *q);

	/* Counts the stored, unexpired events matching any of the n filters
	 * ("limit" ignored), each once. Optional: the relay counts the rows
	 * of a query otherwise. */
	int (*count)(void *self, const tern_filter *fs, size_t n,
		     uint64_t *count);

	/*
	 * NIP-45: counts the events matching f ("limit" ignored) into *count
	 * and fills regs with their HyperLogLog (all registers zeroed first,
	 * then tern_hll_add() of each event's pubkey at offset, which the
	 * relay computed with tern_hll_offset()). Optional: the relay builds
	 * it from the rows of a query otherwise.
	 */
	int (*count_hll)(void *self, const tern_filter *f, unsigned offset,
			 uint64_t *count, uint8_t regs[TERN_HLL_REGISTERS]);

	/*
	 * Blocks until every save that returned 0 before the call has
	 * completed (its callback has run and the event is durable). The
	 * relay calls it once when it stops, after its I/O threads have
	 * ended and before tern_relay_run() returns, so no save is still on
	 * its way when the caller frees the backend. Not from a save
	 * callback. Optional: NULL when save completes before it returns
	 * (the memory backend) or the backend has nothing to wait for.
	 */
	void (*flush)(void *self);

	/*
	 * Takes the NIP-09 outcome callbacks (copied; NULL: none, every
	 * target is removed) that the backend's later saves apply, as
	 * tern_backend_apply_with() does. The relay calls it once when it
	 * starts, before its first save, with the callbacks that run its
	 * overwrite-deletion-outcome hooks, and once with NULL when it
	 * stops, after flush: a backend without this member never asks
	 * those hooks. Must be safe to call while saves run (the memory
	 * backend takes its writer mutex). Optional. (Appended last, so the
	 * members above keep their places.)
	 */
	void (*set_deletion_outcome)(void *self,
				     const tern_deletion_outcome *o);
} tern_backend_ops;

/* ---- helpers for backend authors --------------------------------------- */

/*
 * Applies the write rules of tern/store.h to ev through the primitives of
 * ops (query_begin/next/end, store, delete_event, and replace when not
 * NULL), synchronously, and fills *res as tern_store_submit()'s callback
 * would (same statuses and reasons):
 *   ephemeral kinds and expired events refused ("invalid: ..."); an id
 *   already stored: DUPLICATE; an event covered by a stored kind-5 event of
 *   its author ("e" tag with its id, or "a" tag with its address and a
 *   created_at >= its own): "blocked: this event was deleted"; replaceable
 *   and addressable versions as in ops.replace; kind 5 applied after it is
 *   stored, nremoved counting the events it removed.
 * Concurrent calls for one backend must be serialized by the caller (a
 * backend's save typically holds a writer mutex around it). Returns 0 (the
 * outcome is in res) or the first error of an op.
 */
int tern_backend_apply(const tern_backend_ops *ops, void *self,
		       const tern_event *ev, tern_write_result *res);

/*
 * tern_backend_apply() with NIP-09 outcome callbacks (o may be NULL: then
 * it is tern_backend_apply()). When ev is a kind-5 event that was stored:
 * o->wanted (if not NULL) is asked once; unless it says false, o->fn is
 * asked once per target before ops.delete_event removes it - for each "e"
 * tag, the event with that id if it is the author's and not a kind 5; for
 * each "a" tag naming the author's replaceable or addressable address,
 * each stored version with created_at <= the deletion's - and a target it
 * says false to stays stored and is not counted in res->nremoved. Other
 * authors' events are never passed. A kept target can still be queried;
 * the stored deletion still refuses its id, and versions of its address
 * up to the deletion's created_at, if they come again after it is gone
 * (the LMDB store's writer does the same, docs/STORE_FORMAT.md). The
 * callbacks run on the calling thread, outside any query of ops.
 */
int tern_backend_apply_with(const tern_backend_ops *ops, void *self,
			    const tern_event *ev,
			    const tern_deletion_outcome *o,
			    tern_write_result *res);

/* One-shot query through ops: begin, next until done, end. */
int tern_backend_query(const tern_backend_ops *ops, void *self,
		       const tern_filter *fs, size_t n, uint32_t limit_cap,
		       tern_store_visit_cb cb, void *ctx);

/* ops.count, or the rows of a query without limits when it is NULL. */
int tern_backend_count(const tern_backend_ops *ops, void *self,
		       const tern_filter *fs, size_t n, uint64_t *count);

/* ops.count_hll, or a query without limit whose rows' pubkeys are added
 * to regs when it is NULL. regs is zeroed first. */
int tern_backend_count_hll(const tern_backend_ops *ops, void *self,
			   const tern_filter *f, unsigned offset,
			   uint64_t *count, uint8_t regs[TERN_HLL_REGISTERS]);

/* ---- NIP-45 HyperLogLog ----------------------------------------------- */

/*
 * The register offset NIP-45 assigns to a COUNT filter, or -1 when the
 * filter does not qualify for an HLL answer. Qualifying filters are exactly
 * {"kinds":[3],"#p":["<pubkey>"]} (followers) and
 * {"kinds":[7],"#e":["<id>"]} (reactions), with nothing else but "limit":
 * one kind, one tag field with one 64-character hex value. The offset is
 * the hex digit at position 32 of that value, plus 8 (so 8..23).
 */
int tern_hll_offset(const tern_filter *f);

/*
 * Adds one event, by its pubkey, to regs: the byte pubkey[offset] picks the
 * register; the value is 1 + the number of leading zero bits of the 56 bits
 * that follow it (pubkey[offset+1 .. offset+7]), so 1..57; a register keeps
 * the largest value it is given. offset must be 0..24.
 */
void tern_hll_add(uint8_t regs[TERN_HLL_REGISTERS], unsigned offset,
		  const uint8_t pubkey[32]);

/* dst = the register-wise maximum of dst and src (the union of sets). */
void tern_hll_merge(uint8_t dst[TERN_HLL_REGISTERS],
		    const uint8_t src[TERN_HLL_REGISTERS]);

/* The estimated number of distinct pubkeys added to regs (HyperLogLog with
 * linear counting for small cardinalities). */
uint64_t tern_hll_estimate(const uint8_t regs[TERN_HLL_REGISTERS]);

/* ---- the relay's storage ---------------------------------------------- */

/*
 * Makes (ops, self) the relay's backend: it stores every accepted event
 * and answers queries and counts (with the extra query sources). ops must
 * have save and the three query functions; self stays the caller's and must
 * outlive the relay. Call before tern_relay_run(). Without this call the
 * relay uses the LMDB store of its configuration (tern_relay_store()),
 * which is then opened by tern_relay_run(). With a backend set, that
 * store is not opened at all (its directory need not exist) unless
 * tern_relay_store() asks for it. At shutdown the relay waits for its
 * backend: ops.flush when the backend has one (and the LMDB store, if it
 * was opened), so a backend whose save completes later is idle once
 * tern_relay_run() returns. Returns 0 or TERN_EINVAL.
 */
int tern_relay_set_backend(tern_relay *r, const tern_backend_ops *ops,
			   void *self);

/*
 * Adds a read-only source under owner: REQ results of the backend and every
 * source are merged newest first (ties: lowest id; an event two sources
 * both return is sent once; each filter's limit applies to the merged
 * stream) and EOSE follows the last of them; COUNT sums the sources' counts
 * (and merges their HLL registers). ops needs the three query functions;
 * save/store/replace/delete_event are never called. Call before
 * tern_relay_run(). Returns 0, TERN_EINVAL or TERN_ENOMEM.
 */
int tern_relay_add_query_source(tern_relay *r, const void *owner,
				const tern_backend_ops *ops, void *self);

/* Removes the query sources added under owner. Before tern_relay_run(). */
void tern_relay_remove_query_sources(tern_relay *r, const void *owner);

/* ---- the LMDB store as a backend -------------------------------------- */

/*
 * The LMDB store through this interface: self is a tern_store *. save is
 * tern_store_submit() (without waiting: TERN_EFULL when its queue is full;
 * the callback runs on the store's writer thread after the commit);
 * delete_event is tern_store_delete() of one id; the queries and count are
 * the store's; flush is tern_store_flush(). store, replace and count_hll
 * are NULL (the writer applies the rules itself; HLL values come from
 * queries). set_deletion_outcome is tern_store_set_deletion_outcome(): a
 * store a relay is given as its backend runs that relay's
 * overwrite-deletion-outcome hooks while the relay runs (replacing any
 * deletion_outcome the store was opened with).
 */
extern const tern_backend_ops tern_lmdb_backend;

/* ---- an in-memory backend --------------------------------------------- */

/*
 * Events in memory, with the same rules as the LMDB store (through
 * tern_backend_apply_with()): for tests, examples and small relays. A
 * sorted array (newest first) serves queries, a hash table ids; each save
 * is applied and visible before save returns (its callback runs in save).
 * Writes take O(events) time (array insertion, tombstone lookups), so it
 * suits up to some hundred thousand events. Thread-safe: queries run
 * concurrently, saves one at a time. The NIP-09 outcome callbacks given to
 * set_deletion_outcome (by the relay: its overwrite-deletion-outcome
 * hooks) run inside save, on the thread that called it (for the relay:
 * the I/O thread that received the deletion), while the store's writer
 * mutex is held. Nothing survives tern_memory_close().
 */
typedef struct tern_memory tern_memory;

typedef struct tern_memory_options {
	size_t max_events;  /* capacity (default 100000). When full, expired
			       events are purged first; then either the
			       oldest event is dropped (evict_oldest) or the
			       new one is refused: ERROR "error: the
			       in-memory store is full" */
	bool evict_oldest;  /* default false */
} tern_memory_options;

void tern_memory_options_defaults(tern_memory_options *o);

/* Creates an empty store (o may be NULL for the defaults). Returns 0,
 * TERN_EINVAL (max_events 0) or TERN_ENOMEM. */
int tern_memory_open(tern_memory **out, const tern_memory_options *o);

/* Frees m and its events. No query may be open. m may be NULL. */
void tern_memory_close(tern_memory *m);

/* self is a tern_memory *. Every op is implemented except replace. */
extern const tern_backend_ops tern_memory_backend;

#ifdef __cplusplus
}
#endif
#endif
