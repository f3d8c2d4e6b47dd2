/*
 * The storage interface (tern/backend.h): one set of semantic cases run
 * against both backends, the LMDB store through its adapter and the
 * in-memory store - replaceable, addressable, NIP-09 deletion, NIP-40
 * expiration, order, limits, several filters, sliced and stopped queries,
 * counts, NIP-09 outcome callbacks - and what only the in-memory store has
 * (capacity, eviction, concurrency, the generic replace path).
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/backend.h>
#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/store.h>

/* ---- NIP-09 outcome callbacks ------------------------------------------ */
/* Both backends get them (the LMDB store at open, the memory one through
 * set_deletion_outcome); they stay silent until a case turns them on. Their
 * record is read after the save's result arrived (acquire), so the LMDB
 * writer thread's writes are visible. */

#define MAX_ASKED 16
static bool oc_on;                /* wanted() answers this */
static uint64_t oc_keep[4];       /* ids (numbers) fn keeps */
static int oc_nwanted, oc_nasked;
static uint64_t oc_target[MAX_ASKED], oc_deletion[MAX_ASKED];
static uint8_t oc_target_pk[MAX_ASKED];

static uint64_t id_number(const uint8_t id[32])
{
	uint64_t n = 0;

	for (int i = 0; i < 8; i++)
		n = n << 8 | id[i];
	return n;
}

static bool oc_wanted(void *ctx)
{
	oc_nwanted++;
	return oc_on;
}

static bool oc_fn(void *ctx, const tern_event *target,
		  const tern_event *deletion)
{
	uint64_t t = id_number(target->id);

	cr_assert_eq(deletion->kind, 5);
	if (oc_nasked < MAX_ASKED) {
		oc_target[oc_nasked] = t;
		oc_deletion[oc_nasked] = id_number(deletion->id);
		oc_target_pk[oc_nasked] = target->pubkey[0];
	}
	oc_nasked++;
	for (size_t i = 0; i < sizeof oc_keep / sizeof *oc_keep; i++)
		if (oc_keep[i] && oc_keep[i] == t)
			return false;
	return true;
}

static const tern_deletion_outcome oc = { oc_fn, oc_wanted, NULL };

static void oc_reset(void)
{
	oc_on = false;
	memset(oc_keep, 0, sizeof oc_keep);
	oc_nwanted = oc_nasked = 0;
}

/* ---- fixture ---------------------------------------------------------- */

static const tern_backend_ops *B;
static void *S;
static tern_store *bk_store;
static tern_memory *bk_mem;
static char bk_dir[64];
static tern_arena bk_arena;

static int bk_rm(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

static void lmdb_setup(void)
{
	tern_store_options o;
	char err[256];

	strcpy(bk_dir, "/tmp/tern-backend-test-XXXXXX");
	cr_assert_not_null(mkdtemp(bk_dir));
	tern_store_options_defaults(&o);
	o.dir = bk_dir;
	o.no_sync = true;
	oc_reset();
	cr_assert_eq(tern_store_open(&bk_store, &o, err, sizeof err), 0, "%s",
		     err);
	B = &tern_lmdb_backend;
	S = bk_store;
	/* As a relay hands its hooks to the store it is given. */
	B->set_deletion_outcome(S, &oc);
	tern_arena_init(&bk_arena, 0);
}

static void lmdb_teardown(void)
{
	tern_store_close(bk_store);
	bk_store = NULL;
	nftw(bk_dir, bk_rm, 16, FTW_DEPTH | FTW_PHYS);
	tern_arena_free(&bk_arena);
}

static void mem_setup(void)
{
	cr_assert_eq(tern_memory_open(&bk_mem, NULL), 0);
	B = &tern_memory_backend;
	S = bk_mem;
	oc_reset();
	B->set_deletion_outcome(S, &oc);
	tern_arena_init(&bk_arena, 0);
}

static void mem_teardown(void)
{
	tern_memory_close(bk_mem);
	bk_mem = NULL;
	tern_arena_free(&bk_arena);
}

/* ---- events ------------------------------------------------------------ */
/* Fake but well-formed ids and signatures (backends check neither): event
 * n has id = BE64(n) followed by zeros, so ids order like their numbers;
 * pubkey p is the byte p repeated. */

static const char *idhex(uint64_t n)
{
	static _Thread_local char bufs[8][65];
	static _Thread_local int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 65, "%016llx%048d", (unsigned long long)n, 0);
	return b;
}

static const char *pkhex(uint8_t p)
{
	static _Thread_local char bufs[8][65];
	static _Thread_local int next;
	char *b = bufs[next++ % 8];

	for (int i = 0; i < 32; i++)
		snprintf(b + 2 * i, 3, "%02x", p);
	return b;
}

static char *mkev(uint64_t id, uint8_t pk, uint64_t created_at, uint32_t kind,
		  const char *tags)
{
	char *j, sig[129];

	memset(sig, 'f', 128);
	sig[128] = '\0';
	cr_assert(asprintf(&j, "{\"id\":\"%s\",\"pubkey\":\"%s\","
			   "\"created_at\":%llu,\"kind\":%u,\"tags\":%s,"
			   "\"content\":\"\",\"sig\":\"%s\"}", idhex(id),
			   pkhex(pk), (unsigned long long)created_at, kind,
			   tags, sig) > 0);
	return j;
}

typedef struct wait_res {
	tern_write_result r;
	volatile int done;
} wait_res;

static void on_result(void *ctx, const tern_write_result *res)
{
	wait_res *w = ctx;

	w->r = *res;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

/* Saves one event through ops.save and waits for its result. */
static tern_write_result put(uint64_t id, uint8_t pk, uint64_t created_at,
			     uint32_t kind, const char *tags)
{
	char *j = mkev(id, pk, created_at, kind, tags);
	wait_res w = { .done = 0 };
	tern_event ev;

	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				      &bk_arena, NULL), 0, "%s", j);
	cr_assert_eq(B->save(S, &ev, on_result, &w), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&w.done,
						     __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	cr_assert(w.done, "no result");
	tern_arena_reset(&bk_arena);
	free(j);
	return w.r;
}

#define STORED(...) cr_assert_eq(put(__VA_ARGS__).status, TERN_WRITE_STORED)

/* ---- queries ------------------------------------------------------------ */

#define MAX_GOT 512
static uint64_t got[MAX_GOT];
static uint64_t got_serial[MAX_GOT];
static size_t ngot;
static size_t stop_after;

static bool collect(void *ctx, tern_slice json, uint64_t serial)
{
	char hex[17];

	cr_assert(ngot < MAX_GOT);
	memcpy(hex, json.p + 7, 16);
	hex[16] = '\0';
	got_serial[ngot] = serial;
	got[ngot++] = strtoull(hex, NULL, 16);
	return !stop_after || ngot < stop_after;
}

static tern_filter *filters(const char *json, size_t *n)
{
	tern_filter *fs;
	tern_reason why = { 0 };

	cr_assert_eq(tern_filter_parse_list(&fs, n, (const uint8_t *)json,
					    strlen(json), NULL, &bk_arena,
					    &why), 0, "%s: %s", json, why.msg);
	return fs;
}

static void query(const char *json, uint32_t cap)
{
	size_t n;
	tern_filter *fs = filters(json, &n);

	ngot = 0;
	cr_assert_eq(tern_backend_query(B, S, fs, n, cap, collect, NULL), 0);
}

static void expect(const char *json, const uint64_t *want, size_t n)
{
	query(json, 0);
	cr_assert_eq(ngot, n, "%s (%s): %zu results, want %zu", json, B->name,
		     ngot, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "%s (%s): [%zu] = %llu, want %llu",
			     json, B->name, i, (unsigned long long)got[i],
			     (unsigned long long)want[i]);
}

#define EXPECT(json, ...)                                                     \
	expect(json, (uint64_t[]){ __VA_ARGS__ },                             \
	       sizeof((uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))
#define EXPECT_NONE(json) expect(json, NULL, 0)

static uint64_t count(const char *json)
{
	size_t n;
	tern_filter *fs = filters(json, &n);
	tern_backend_ops no_count = *B;
	uint64_t c = 12345, c2 = 54321;

	cr_assert_eq(tern_backend_count(B, S, fs, n, &c), 0);
	/* The relay's fallback (rows of a query) agrees. */
	no_count.count = NULL;
	cr_assert_eq(tern_backend_count(&no_count, S, fs, n, &c2), 0);
	cr_assert_eq(c, c2, "%s: count %llu, rows %llu", json,
		     (unsigned long long)c, (unsigned long long)c2);
	return c;
}

/* ---- the shared cases ---------------------------------------------------- */

static void case_duplicate(void)
{
	tern_write_result r = put(1, 1, 1000, 1, "[]");

	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	cr_assert_eq(r.serial, 1);
	cr_assert_eq(r.id[7], 1);
	r = put(1, 1, 1000, 1, "[]");
	cr_assert_eq(r.status, TERN_WRITE_DUPLICATE);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_NONE);
	r = put(2, 1, 1000, 1, "[]");
	cr_assert_eq(r.serial, 2);
	EXPECT("{}", 1, 2);
}

static void case_replaceable(void)
{
	tern_write_result r;

	STORED(1, 7, 100, 0, "[]");
	r = put(2, 7, 200, 0, "[]");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	r = put(3, 7, 150, 0, "[]"); /* older, arriving later */
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_DUPLICATE);
	cr_assert_str_eq(r.reason.msg, "have a newer version of this event");
	STORED(4, 8, 50, 0, "[]");     /* another author */
	STORED(5, 7, 50, 10002, "[]"); /* another replaceable kind */
	EXPECT("{\"kinds\":[0],\"authors\":[\"" "0707070707070707070707070707"
	       "070707070707070707070707070707070707\"]}", 2);
	EXPECT("{}", 2, 4, 5);
	cr_assert_eq(count("{\"kinds\":[0]}"), 2);
	/* ties: the lowest id wins */
	STORED(15, 9, 100, 3, "[]");
	r = put(19, 9, 100, 3, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_DUPLICATE);
	r = put(12, 9, 100, 3, "[]");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	EXPECT("{\"kinds\":[3]}", 12);
}

static void case_addressable(void)
{
	tern_write_result r;
	char tags[700];

	STORED(1, 7, 100, 30023, "[[\"d\",\"a\"]]");
	STORED(2, 7, 100, 30023, "[[\"d\",\"b\"]]");
	STORED(3, 7, 90, 30023, "[]"); /* d = "" */
	r = put(4, 7, 200, 30023, "[[\"d\",\"a\"]]");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	r = put(5, 7, 150, 30023, "[[\"d\",\"a\"]]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	/* an empty "d" is the same address as none */
	r = put(6, 7, 95, 30023, "[[\"d\",\"\"]]");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	/* long d values */
	snprintf(tags, sizeof tags, "[[\"d\",\"%0300d\"]]", 1);
	STORED(7, 7, 10, 30023, tags);
	r = put(8, 7, 11, 30023, tags);
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	/* another author's same d is another address */
	STORED(9, 8, 10, 30023, "[[\"d\",\"a\"]]");
	EXPECT("{}", 4, 2, 6, 8, 9);
}

static void case_ephemeral_expired(void)
{
	tern_write_result r;
	char tags[64];

	r = put(1, 1, 100, 20001, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_INVALID);
	cr_assert_str_eq(r.reason.msg, "ephemeral events are not stored");
	snprintf(tags, sizeof tags, "[[\"expiration\",\"%llu\"]]",
		 (unsigned long long)time(NULL) - 1);
	r = put(2, 1, 100, 1, tags);
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_INVALID);
	cr_assert_str_eq(r.reason.msg, "event has expired");
	cr_assert_eq(count("{}"), 0);
}

static void case_expiring_hidden(void)
{
	uint64_t now = (uint64_t)time(NULL);
	char tags[64];

	snprintf(tags, sizeof tags, "[[\"expiration\",\"%llu\"]]",
		 (unsigned long long)now + 2);
	STORED(1, 1, 100, 1, tags);
	snprintf(tags, sizeof tags, "[[\"expiration\",\"%llu\"]]",
		 (unsigned long long)now + 100000);
	STORED(2, 1, 90, 1, tags);
	STORED(3, 1, 80, 1, "[]");
	EXPECT("{}", 1, 2, 3);
	sleep(3);
	EXPECT("{}", 2, 3);
	EXPECT("{\"kinds\":[1]}", 2, 3);
	cr_assert_eq(count("{}"), 2);
	cr_assert_eq(count("{\"kinds\":[1]}"), 2);
}

static void case_nip09_e(void)
{
	tern_write_result r;
	char tags[512];

	STORED(1, 7, 100, 1, "[]");
	STORED(2, 8, 100, 1, "[]"); /* someone else's */
	STORED(3, 7, 100, 30000, "[[\"d\",\"x\"]]");
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"],"
		 "[\"e\",\"%s\"],[\"e\",\"%s\"],[\"e\",\"nothex\"],"
		 "[\"e\",\"%s\"]]", idhex(1), idhex(2), idhex(3), idhex(4),
		 idhex(1));
	r = put(10, 7, 200, 5, tags);
	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	cr_assert_eq(r.nremoved, 2);
	EXPECT("{}", 10, 2);
	/* the deleted one and a not yet seen one stay out */
	r = put(1, 7, 100, 1, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_str_eq(r.reason.msg, "this event was deleted");
	r = put(4, 7, 300, 1, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	/* the same id by another author is not covered */
	STORED(4, 9, 300, 1, "[]");
	/* a deletion never deletes a deletion */
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"]]",
		 idhex(10), idhex(12));
	r = put(11, 7, 300, 5, tags);
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 0);
	STORED(12, 7, 300, 5, "[]");
	EXPECT("{\"kinds\":[5]}", 11, 12, 10);
}

static void case_nip09_a(void)
{
	tern_write_result r;
	char tags[512];

	STORED(1, 7, 100, 30000, "[[\"d\",\"x\"]]");
	STORED(2, 7, 100, 30000, "[[\"d\",\"y\"]]");
	STORED(3, 8, 100, 30000, "[[\"d\",\"x\"]]");
	STORED(4, 7, 100, 10002, "[]");
	STORED(5, 7, 300, 30000, "[[\"d\",\"z\"]]");
	snprintf(tags, sizeof tags,
		 "[[\"a\",\"30000:%s:x\"],[\"a\",\"30000:%s:x\"],"
		 "[\"a\",\"10002:%s:\"],[\"a\",\"30000:%s:z\"],"
		 "[\"a\",\"bogus\"]]",
		 pkhex(7), pkhex(8), pkhex(7), pkhex(7));
	r = put(10, 7, 200, 5, tags);
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	/* x and the replaceable go; z is newer than the deletion; 8's stays */
	cr_assert_eq(r.nremoved, 2);
	EXPECT("{}", 5, 10, 2, 3);
	/* versions up to the deletion time are refused, newer ones not */
	r = put(11, 7, 200, 30000, "[[\"d\",\"x\"]]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	r = put(12, 7, 150, 10002, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	STORED(13, 7, 201, 30000, "[[\"d\",\"x\"]]");
	STORED(14, 7, 201, 10002, "[]");
	/* an earlier deletion does not lower the tombstone time */
	snprintf(tags, sizeof tags, "[[\"a\",\"30000:%s:y\"]]", pkhex(7));
	STORED(15, 7, 50, 5, tags);
	EXPECT("{\"kinds\":[30000]}", 5, 13, 2, 3);
	/* the replaceable form without the last colon */
	snprintf(tags, sizeof tags, "[[\"a\",\"10002:%s\"]]", pkhex(7));
	r = put(16, 7, 400, 5, tags);
	cr_assert_eq(r.nremoved, 1);
	EXPECT_NONE("{\"kinds\":[10002]}");
}

static void case_order_limit(void)
{
	STORED(5, 1, 100, 1, "[]");
	STORED(3, 1, 100, 1, "[]");
	STORED(9, 1, 200, 1, "[]");
	STORED(4, 1, 100, 1, "[]");
	STORED(1, 1, 50, 1, "[]");
	EXPECT("{}", 9, 3, 4, 5, 1);
	EXPECT("{\"limit\":2}", 9, 3);
	EXPECT_NONE("{\"limit\":0}");
	EXPECT("{\"since\":100,\"until\":100}", 3, 4, 5);
	EXPECT("{\"since\":101}", 9);
	EXPECT("{\"until\":99}", 1);
	EXPECT_NONE("{\"since\":300}");
	EXPECT_NONE("{\"since\":200,\"until\":100}");
	EXPECT_NONE("{\"search\":\"x\"}");
	query("{}", 3);
	cr_assert_eq(ngot, 3);
	query("{\"limit\":1}", 3);
	cr_assert_eq(ngot, 1);
	/* serials come with the results, in write order */
	query("{\"ids\":[\"0000000000000009000000000000000000000000000000000000"
	      "000000000000\"]}", 0);
	cr_assert_eq(ngot, 1);
	cr_assert_eq(got_serial[0], 3);
}

static void case_multi_filter(void)
{
	const char *pk1 = "[\"0101010101010101010101010101010101010101010101"
			  "010101010101010101\"]";
	char q[256];

	STORED(1, 1, 100, 1, "[[\"t\",\"a\"],[\"t\",\"b\"]]");
	STORED(2, 2, 110, 7, "[[\"t\",\"a\"]]");
	STORED(3, 1, 120, 7, "[[\"t\",\"b\"],[\"t\",\"b\"]]");
	STORED(4, 3, 130, 1, "[]");
	snprintf(q, sizeof q, "[{\"kinds\":[1]},{\"authors\":%s}]", pk1);
	EXPECT(q, 4, 3, 1);
	EXPECT("{\"#t\":[\"a\",\"b\"]}", 3, 2, 1);
	cr_assert_eq(count("{\"#t\":[\"a\",\"b\"]}"), 3);
	cr_assert_eq(count("{\"#t\":[\"b\"]}"), 2);
	/* limits apply per filter, then the union is sorted */
	EXPECT("[{\"kinds\":[1],\"limit\":1},{\"kinds\":[7],\"limit\":1},"
	       "{\"#t\":[\"a\"],\"limit\":1}]", 4, 3, 2);
	EXPECT("[{\"limit\":1},{\"limit\":2}]", 4, 3);
	cr_assert_eq(count("[{\"kinds\":[1]},{\"#t\":[\"a\"]}]"), 3);
	cr_assert_eq(count("[{\"kinds\":[1]},{\"kinds\":[1]}]"), 2);
	EXPECT("[{\"kinds\":[1]},{\"search\":\"q\"}]", 4, 1);
}

static void case_sliced_and_stopped(void)
{
	tern_filter *fs;
	size_t n;
	void *q;
	int rc;

	for (uint64_t i = 1; i <= 20; i++)
		STORED(i, 1, 1000 - i, 1, "[]");
	fs = filters("{}", &n);
	cr_assert_eq(B->query_begin(S, fs, n, 0, &q), 0);
	ngot = 0;
	while ((rc = B->query_next(S, q, 3, collect, NULL)) == 1) {
		cr_assert_leq(ngot % 3 == 0 ? 3 : ngot % 3, 3);
		/* written between slices: after the position, so it shows */
		if (ngot == 6)
			STORED(100, 2, 1, 1, "[]");
	}
	cr_assert_eq(rc, 0);
	B->query_end(S, q);
	cr_assert_eq(ngot, 21);
	for (size_t i = 0; i < 20; i++)
		cr_assert_eq(got[i], i + 1);
	cr_assert_eq(got[20], 100);
	/* a visitor that stops ends the query */
	stop_after = 2;
	query("{}", 0);
	stop_after = 0;
	cr_assert_eq(ngot, 2);
}

static void case_delete_and_hll(void)
{
	uint8_t regs[TERN_HLL_REGISTERS], want[TERN_HLL_REGISTERS] = { 0 };
	uint8_t id[32] = { 0 }, pk[32];
	char tags[128], q[160];
	tern_filter *fs;
	uint64_t c;
	bool removed;
	size_t n;

	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"]]", pkhex(0xAA));
	for (int p = 1; p <= 30; p++) {
		STORED((uint64_t)p, (uint8_t)p, 100, 3, tags);
		memset(pk, p, 32);
		tern_hll_add(want, 18, pk);
	}
	STORED(99, 0x55, 100, 1, tags); /* another kind: not counted */
	snprintf(q, sizeof q, "{\"kinds\":[3],\"#p\":[\"%s\"]}", pkhex(0xAA));
	fs = filters(q, &n);
	cr_assert_eq(tern_hll_offset(fs), 0xa + 8);
	cr_assert_eq(tern_backend_count_hll(B, S, fs, 18, &c, regs), 0);
	cr_assert_eq(c, 30);
	cr_assert_arr_eq(regs, want, sizeof regs);
	/* 30 distinct registers: linear counting says m ln(256/226) = 32 */
	cr_assert_eq(tern_hll_estimate(regs), 32);
	/* delete_event: one event, no tombstone */
	id[7] = 99;
	cr_assert_eq(B->delete_event(S, id, &removed), 0);
	cr_assert(removed);
	cr_assert_eq(B->delete_event(S, id, &removed), 0);
	cr_assert_not(removed);
	cr_assert_eq(count("{\"kinds\":[1]}"), 0);
	STORED(99, 0x55, 100, 1, tags);
}

/* The callbacks keep what they say, are asked once per deletion and once
 * per own target, and never about other authors' events; the deletion
 * still acts as a tombstone for what it removed and for the address. */
static void case_nip09_outcome(void)
{
	tern_write_result r;
	char tags[1024];

	STORED(1, 7, 100, 1, "[]");
	STORED(2, 7, 100, 1, "[]");
	STORED(3, 8, 100, 1, "[]");                 /* another author's */
	STORED(4, 7, 100, 30000, "[[\"d\",\"x\"]]");
	STORED(5, 7, 100, 0, "[]");
	STORED(6, 7, 100, 5, "[]");                 /* a deletion */
	cr_assert_eq(oc_nwanted, 1);                /* kind 5 only */
	oc_nwanted = 0;
	oc_on = true;
	oc_keep[0] = 2;
	oc_keep[1] = 5;
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"],"
		 "[\"e\",\"%s\"],[\"e\",\"%s\"],[\"e\",\"%s\"],"
		 "[\"a\",\"30000:%s:x\"],[\"a\",\"0:%s:\"],"
		 "[\"a\",\"30000:%s:x\"]]",
		 idhex(1), idhex(2), idhex(3), idhex(6), idhex(99), pkhex(7),
		 pkhex(7), pkhex(8));
	r = put(10, 7, 200, 5, tags);
	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	cr_assert_eq(r.nremoved, 2, "%s", B->name);
	cr_assert_eq(oc_nwanted, 1);
	cr_assert_eq(oc_nasked, 4, "%s: asked %d times", B->name, oc_nasked);
	cr_assert_eq(oc_target[0], 1);
	cr_assert_eq(oc_target[1], 2);
	cr_assert_eq(oc_target[2], 4);
	cr_assert_eq(oc_target[3], 5);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(oc_deletion[i], 10);
		cr_assert_eq(oc_target_pk[i], 7);
	}
	EXPECT("{}", 10, 2, 3, 5, 6);
	/* a kept event is still stored; a removed one cannot come back */
	cr_assert_eq(put(2, 7, 100, 1, "[]").status, TERN_WRITE_DUPLICATE);
	r = put(1, 7, 100, 1, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	/* the kept version's address is tombstoned up to the deletion */
	r = put(11, 7, 150, 0, "[]");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	r = put(12, 7, 300, 0, "[]");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	/* wanted() false: fn is not asked, every target goes */
	oc_on = false;
	oc_nasked = 0;
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", idhex(2));
	r = put(13, 7, 300, 5, tags);
	cr_assert_eq(r.nremoved, 1);
	cr_assert_eq(oc_nasked, 0);
	EXPECT("{}", 12, 13, 10, 3, 6);
}

#define CASES(X)                                                               \
	X(duplicate)                                                           \
	X(replaceable)                                                         \
	X(addressable)                                                         \
	X(ephemeral_expired)                                                   \
	X(expiring_hidden)                                                     \
	X(nip09_e)                                                             \
	X(nip09_a)                                                             \
	X(nip09_outcome)                                                       \
	X(order_limit)                                                         \
	X(multi_filter)                                                        \
	X(sliced_and_stopped)                                                  \
	X(delete_and_hll)

TestSuite(backend_lmdb, .init = lmdb_setup, .fini = lmdb_teardown,
	  .timeout = 60);
TestSuite(backend_memory, .init = mem_setup, .fini = mem_teardown,
	  .timeout = 60);

#define RUN_BOTH(name)                                                         \
	Test(backend_lmdb, name) { case_##name(); }                            \
	Test(backend_memory, name) { case_##name(); }
CASES(RUN_BOTH)

/* ---- the in-memory store alone ------------------------------------------ */

/* The callbacks taken back (as a relay does when it stops): the next
 * deletion removes its targets without asking. */
Test(backend_lmdb, outcome_taken_back)
{
	tern_write_result r;
	char tags[256];

	oc_on = true;
	oc_keep[0] = 1;
	STORED(1, 7, 100, 1, "[]");
	cr_assert_eq(tern_store_set_deletion_outcome(bk_store, NULL, NULL,
						     NULL), 0);
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", idhex(1));
	r = put(2, 7, 200, 5, tags);
	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	cr_assert_eq(r.nremoved, 1);
	cr_assert_eq(oc_nwanted + oc_nasked, 0);
	EXPECT("{}", 2);
}

static void mem_open(size_t cap, bool evict)
{
	tern_memory_options o;

	tern_memory_options_defaults(&o);
	cr_assert_eq(o.max_events, 100000);
	o.max_events = cap;
	o.evict_oldest = evict;
	tern_memory_close(bk_mem);
	cr_assert_eq(tern_memory_open(&bk_mem, &o), 0);
	S = bk_mem;
}

Test(backend_memory, full_refuses_or_evicts)
{
	tern_memory_options o = { 0 };
	tern_memory *m;
	tern_write_result r;

	cr_assert_eq(tern_memory_open(&m, &o), TERN_EINVAL);
	cr_assert_null(m);
	mem_open(3, false);
	STORED(1, 1, 100, 1, "[]");
	STORED(2, 1, 200, 1, "[]");
	STORED(3, 1, 50, 1, "[]");
	r = put(4, 1, 300, 1, "[]");
	cr_assert_eq(r.status, TERN_WRITE_ERROR);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_ERROR);
	cr_assert_str_eq(r.reason.msg, "the in-memory store is full");
	EXPECT("{}", 2, 1, 3);
	mem_open(3, true);
	STORED(1, 1, 100, 1, "[]");
	STORED(2, 1, 200, 1, "[]");
	STORED(3, 1, 50, 1, "[]");
	STORED(4, 1, 300, 1, "[]");
	EXPECT("{}", 4, 2, 1);
	STORED(5, 1, 10, 1, "[]"); /* evicts 1, then is the oldest itself */
	EXPECT("{}", 4, 2, 5);
}

Test(backend_memory, hash_survives_growth_and_deletes)
{
	uint8_t id[32] = { 0 };
	bool removed;

	for (uint64_t i = 1; i <= 300; i++)
		STORED(i * 7919, 1, i, 1, "[]");
	for (uint64_t i = 1; i <= 300; i += 2) {
		memset(id, 0, 32);
		for (int b = 0; b < 8; b++)
			id[b] = (uint8_t)((i * 7919) >> (56 - 8 * b));
		cr_assert_eq(B->delete_event(S, id, &removed), 0);
		cr_assert(removed, "%llu", (unsigned long long)i);
	}
	cr_assert_eq(count("{}"), 150);
	for (uint64_t i = 2; i <= 300; i += 2)
		cr_assert_eq(put(i * 7919, 1, i, 1, "[]").status,
			     TERN_WRITE_DUPLICATE);
	for (uint64_t i = 1; i <= 300; i += 2)
		STORED(i * 7919, 1, i, 1, "[]");
	cr_assert_eq(count("{}"), 300);
}

/* A backend with its own replace: the rules call it for replaceable
 * kinds instead of doing query + delete + store. */
static int nreplace;

static int counting_replace(void *self, const tern_event *ev,
			    tern_write_result *res)
{
	nreplace++;
	return tern_memory_backend.store(self, ev, res);
}

Test(backend_memory, apply_uses_replace_when_given)
{
	tern_backend_ops ops = tern_memory_backend;
	tern_write_result r;
	tern_event ev;
	char *j;

	ops.replace = counting_replace;
	j = mkev(1, 1, 100, 0, "[]");
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				      &bk_arena, NULL), 0);
	cr_assert_eq(tern_backend_apply(&ops, S, &ev, &r), 0);
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(nreplace, 1);
	free(j);
	j = mkev(2, 1, 100, 1, "[]");
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				      &bk_arena, NULL), 0);
	cr_assert_eq(tern_backend_apply(&ops, S, &ev, &r), 0);
	cr_assert_eq(nreplace, 1);
	free(j);
	/* without store/delete the rules cannot run */
	ops.store = NULL;
	cr_assert_eq(tern_backend_apply(&ops, S, &ev, &r), TERN_EINVAL);
}

/* Outcome callbacks without wanted(), taken back, and given straight to
 * tern_backend_apply_with() by a backend that has no set_deletion_outcome
 * (a custom one). */
Test(backend_memory, outcome_without_wanted_taken_back_and_direct)
{
	const tern_deletion_outcome fn_only = { oc_fn, NULL, NULL };
	tern_backend_ops custom = tern_memory_backend;
	tern_write_result r;
	tern_event ev;
	char tags[256], *j;

	B->set_deletion_outcome(S, &fn_only);
	oc_keep[0] = 1;
	STORED(1, 7, 100, 1, "[]");
	STORED(2, 7, 100, 1, "[]");
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"]]",
		 idhex(1), idhex(2));
	r = put(10, 7, 200, 5, tags);
	cr_assert_eq(r.nremoved, 1);
	cr_assert_eq(oc_nasked, 2);
	cr_assert_eq(oc_nwanted, 0);
	EXPECT("{}", 10, 1);
	/* taken back: every target goes, nobody is asked */
	B->set_deletion_outcome(S, NULL);
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", idhex(1));
	r = put(11, 7, 200, 5, tags);
	cr_assert_eq(r.nremoved, 1);
	cr_assert_eq(oc_nasked, 2);
	EXPECT("{}", 10, 11);
	/* a custom backend calling the rules with the callbacks itself */
	custom.set_deletion_outcome = NULL;
	oc_on = true;
	oc_keep[0] = 3;
	STORED(3, 7, 100, 1, "[]");
	STORED(4, 7, 100, 1, "[]");
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"]]",
		 idhex(3), idhex(4));
	j = mkev(12, 7, 300, 5, tags);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				      &bk_arena, NULL), 0);
	cr_assert_eq(tern_backend_apply_with(&custom, S, &ev, &oc, &r), 0);
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	cr_assert_eq(oc_nwanted, 1);
	cr_assert_eq(oc_nasked, 4);
	cr_assert_eq(oc_target[2], 3);
	cr_assert_eq(oc_target[3], 4);
	free(j);
	EXPECT("{}", 12, 10, 11, 3);
}

/* Writers and readers at once: every query sees a sorted, duplicate-free
 * result, and every event ends up stored. */
static void *writer_main(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	tern_arena a;

	tern_arena_init(&a, 0);
	for (uint64_t i = 0; i < 200; i++) {
		char *j = mkev(t * 1000 + i + 1, (uint8_t)t, 1000 + i % 37, 1,
			       "[]");
		tern_event ev;
		wait_res w = { .done = 0 };

		if (tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				     &a, NULL) ||
		    B->save(S, &ev, on_result, &w) || !w.done ||
		    w.r.status != TERN_WRITE_STORED)
			return (void *)1;
		tern_arena_reset(&a);
		free(j);
	}
	tern_arena_free(&a);
	return NULL;
}

typedef struct order_ctx {
	uint64_t last_ca;
	char last_id[65];
	bool bad;
	size_t n;
} order_ctx;

static bool check_order(void *ctx, tern_slice json, uint64_t serial)
{
	order_ctx *o = ctx;
	uint64_t ca = strtoull((const char *)json.p + 162, NULL, 10);
	char id[65];

	memcpy(id, json.p + 7, 64);
	id[64] = '\0';
	if (o->n && (ca > o->last_ca ||
		     (ca == o->last_ca && strcmp(id, o->last_id) <= 0)))
		o->bad = true;
	o->last_ca = ca;
	memcpy(o->last_id, id, 65);
	o->n++;
	return true;
}

Test(backend_memory, concurrent_writers_and_readers)
{
	pthread_t w[4];
	void *ret;
	tern_filter f = { .until = UINT64_MAX };

	for (uintptr_t t = 0; t < 4; t++)
		cr_assert_eq(pthread_create(&w[t], NULL, writer_main,
					    (void *)(t + 1)), 0);
	for (int i = 0; i < 50; i++) {
		order_ctx o = { 0 };

		cr_assert_eq(tern_backend_query(B, S, &f, 1, 0, check_order,
						&o), 0);
		cr_assert_not(o.bad);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(w[t], &ret);
		cr_assert_null(ret);
	}
	cr_assert_eq(count("{}"), 800);
}
