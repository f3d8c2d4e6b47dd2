/* Unit tests for the LMDB store (src/store/): write rules, NIP-09/40,
 * reopen, format version, map growth, concurrency, and the query planner
 * checked against a brute-force oracle. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/hex.h>
#include <tern/store.h>

/* ---- helpers ---------------------------------------------------------- */
/*
 * Events are built as JSON with fake but well-formed ids and signatures:
 * the store checks neither. Event n has id = BE64(n) followed by zeros, so
 * ids order like their numbers; pubkey p is the byte p repeated.
 */
#include <ftw.h>

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/store.h>

#define ST_PK1 "0101010101010101010101010101010101010101010101010101010101010101"
#define ST_PK7 "0707070707070707070707070707070707070707070707070707070707070707"

static char st_dir[64];
static tern_store *st_s;
static tern_arena st_arena;

#define ST_MAX_GOT 4096
static char *st_got_json[ST_MAX_GOT];
static uint64_t st_got_id[ST_MAX_GOT];
static uint64_t st_got_serial[ST_MAX_GOT];
static size_t st_got_n;

static int st_rm(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

static void st_got_clear(void)
{
	for (size_t i = 0; i < st_got_n; i++)
		free(st_got_json[i]);
	st_got_n = 0;
}

static void st_setup(void)
{
	strcpy(st_dir, "/tmp/tern-store-test-XXXXXX");
	cr_assert_not_null(mkdtemp(st_dir));
	tern_arena_init(&st_arena, 0);
	st_s = NULL;
}

static void st_teardown(void)
{
	tern_store_close(st_s);
	st_s = NULL;
	st_got_clear();
	tern_arena_free(&st_arena);
	nftw(st_dir, st_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void st_open(const tern_store_options *opt)
{
	tern_store_options o;
	char err[256] = "";
	int rc;

	if (opt)
		o = *opt;
	else
		tern_store_options_defaults(&o);
	o.dir = st_dir;
	rc = tern_store_open(&st_s, &o, err, sizeof err);
	cr_assert_eq(rc, 0, "open: %d %s", rc, err);
}

static void st_reopen(const tern_store_options *opt)
{
	tern_store_close(st_s);
	st_s = NULL;
	st_open(opt);
}

static const char *st_idhex(uint64_t n)
{
	static char bufs[8][65];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 65, "%016llx%048d", (unsigned long long)n, 0);
	return b;
}

static void st_id(uint8_t id[32], uint64_t n)
{
	memset(id, 0, 32);
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(n >> (56 - 8 * i));
}

static const char *st_pkhex(uint8_t p)
{
	static char bufs[8][65];
	static int next;
	char *b = bufs[next++ % 8];

	for (int i = 0; i < 32; i++)
		snprintf(b + 2 * i, 3, "%02x", p);
	return b;
}

/* Builds an event's JSON (malloc'd). tags is a JSON array; content is
 * put in verbatim (no escaping). */
static char *st_ev(uint64_t id, uint8_t pk, uint64_t created_at,
		   uint32_t kind, const char *tags, const char *content)
{
	size_t n = strlen(tags) + strlen(content) + 400;
	char *j = malloc(n), sig[129];

	memset(sig, 'f', 128);
	sig[128] = '\0';
	snprintf(j, n, "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%llu,"
		 "\"kind\":%u,\"tags\":%s,\"content\":\"%s\",\"sig\":\"%s\"}",
		 st_idhex(id), st_pkhex(pk), (unsigned long long)created_at,
		 kind, tags, content, sig);
	return j;
}

static void st_result_cb(void *ctx, const tern_write_result *res)
{
	*(tern_write_result *)ctx = *res;
}

static void st_count_stored(void *ctx, const tern_write_result *res)
{
	if (res->status == TERN_WRITE_STORED)
		__atomic_add_fetch((int *)ctx, 1, __ATOMIC_RELAXED);
}

/* Submits one event JSON and waits for its result. */
static tern_write_result st_put(const char *json)
{
	tern_write_result r;
	tern_event ev;
	tern_reason why = { 0 };

	memset(&r, 0xAB, sizeof r);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)json, strlen(json),
				      NULL, &st_arena, &why), 0, "%s: %s",
		     json, why.msg);
	cr_assert_eq(tern_store_submit(st_s, &ev, st_result_cb, &r, true), 0);
	cr_assert_eq(tern_store_flush(st_s), 0);
	tern_arena_reset(&st_arena);
	return r;
}

static tern_write_result st_put_ev(uint64_t id, uint8_t pk,
				   uint64_t created_at, uint32_t kind,
				   const char *tags, const char *content)
{
	char *j = st_ev(id, pk, created_at, kind, tags, content);
	tern_write_result r = st_put(j);

	free(j);
	return r;
}

/* Visitor: records json, id number and serial of each result. */
static bool st_collect(void *ctx, tern_slice json, uint64_t serial)
{
	char hex[17];

	cr_assert(st_got_n < ST_MAX_GOT);
	cr_assert(json.n > 80);
	memcpy(hex, json.p + 7, 16);
	hex[16] = '\0';
	st_got_json[st_got_n] = strndup((const char *)json.p, json.n);
	st_got_id[st_got_n] = strtoull(hex, NULL, 16);
	st_got_serial[st_got_n] = serial;
	st_got_n++;
	return true;
}

static bool st_count_rows(void *ctx, tern_slice json, uint64_t serial)
{
	(*(uint64_t *)ctx)++;
	return true;
}

/* Parses a filter or a list of filters into st_arena. */
static tern_filter *st_filters(const char *json, size_t *n)
{
	tern_filter *fs;
	tern_reason why = { 0 };
	int rc = tern_filter_parse_list(&fs, n, (const uint8_t *)json,
					strlen(json), NULL, &st_arena, &why);

	cr_assert_eq(rc, 0, "%s: %s", json, why.msg);
	return fs;
}

static void st_query(const char *filters, uint32_t cap)
{
	size_t n;
	tern_filter *fs = st_filters(filters, &n);

	st_got_clear();
	cr_assert_eq(tern_store_query(st_s, fs, n, cap, st_collect, NULL), 0);
}

/* Queries and expects exactly the ids want[0..n), in order. */
static void st_query_expect(const char *filters, const uint64_t *want,
			    size_t n)
{
	st_query(filters, 0);
	cr_assert_eq(st_got_n, n, "%s: %zu results, want %zu", filters,
		     st_got_n, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(st_got_id[i], want[i], "%s: [%zu] = %llu, want %llu",
			     filters, i, (unsigned long long)st_got_id[i],
			     (unsigned long long)want[i]);
}

static uint64_t st_count(const char *filters)
{
	size_t n;
	tern_filter *fs = st_filters(filters, &n);
	uint64_t c = 12345;

	cr_assert_eq(tern_store_count(st_s, fs, n, &c), 0);
	return c;
}


TestSuite(store, .init = st_setup, .fini = st_teardown);

Test(store, store_get_duplicate)
{
	tern_write_result r;
	char *j;

	st_open(NULL);
	j = st_ev(1, 1, 1000, 1, "[]", "hello");
	r = st_put(j);
	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	cr_assert_eq(r.serial, 1);
	cr_assert_eq(r.id[0], 0);
	cr_assert_eq(r.id[7], 1);
	r = st_put(j);
	cr_assert_eq(r.status, TERN_WRITE_DUPLICATE);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_NONE);

	uint8_t id[32];
	st_id(id, 1);
	st_got_n = 0;
	cr_assert_eq(tern_store_get(st_s, id, st_collect, NULL), 0);
	cr_assert_eq(st_got_n, 1);
	cr_assert_str_eq(st_got_json[0], j);
	st_id(id, 2);
	cr_assert_eq(tern_store_get(st_s, id, st_collect, NULL),
		     TERN_ENOTFOUND);
	free(j);
}

/* An event whose id is prefix8 (16 hex digits) followed by 48 times c. */
static char *st_ev_hexid(const char *prefix8, char c, uint8_t pk,
			 uint64_t created_at, uint32_t kind, const char *tags)
{
	char tail[49], hex[65];

	memset(tail, c, 48);
	tail[48] = '\0';
	snprintf(hex, sizeof hex, "%s%s", prefix8, tail);
	char *j = st_ev(0, pk, created_at, kind, tags, "");
	char *at = strstr(j, "\"id\":\"") + 6;

	memcpy(at, hex, 64);
	return j;
}

static void st_id_hex(uint8_t id[32], const char *j)
{
	cr_assert(tern_hex_decode(id, strstr(j, "\"id\":\"") + 6, 32));
}

/* The id index keys the first 8 id bytes: ids that share them must stay
 * distinct events in every path (duplicate check, lookups, refusal,
 * deletion). */
Test(store, ids_sharing_first_bytes)
{
	const char *pre = "0000000000000001";
	char *a = st_ev_hexid(pre, 'a', 1, 100, 1, "[]");
	char *b = st_ev_hexid(pre, 'b', 1, 101, 1, "[]");
	char *c = st_ev_hexid(pre, 'c', 1, 102, 1, "[]");
	uint8_t ia[32], ib[32], ic[32];
	char q[300], tags[100];

	st_id_hex(ia, a);
	st_id_hex(ib, b);
	st_id_hex(ic, c);
	st_open(NULL);
	cr_assert_eq(st_put(a).status, TERN_WRITE_STORED);
	cr_assert_eq(st_put(b).status, TERN_WRITE_STORED);
	cr_assert_eq(st_put(a).status, TERN_WRITE_DUPLICATE);
	cr_assert_eq(st_put(b).status, TERN_WRITE_DUPLICATE);

	st_got_clear();
	cr_assert_eq(tern_store_get(st_s, ib, st_collect, NULL), 0);
	cr_assert_eq(st_got_n, 1);
	cr_assert_str_eq(st_got_json[0], b);
	st_got_clear();
	cr_assert_eq(tern_store_get(st_s, ia, st_collect, NULL), 0);
	cr_assert_str_eq(st_got_json[0], a);
	cr_assert_eq(tern_store_get(st_s, ic, NULL, NULL), TERN_ENOTFOUND);
	snprintf(q, sizeof q, "{\"ids\":[\"%.64s\",\"%.64s\",\"%.64s\"]}",
		 strstr(a, "\"id\":\"") + 6, strstr(b, "\"id\":\"") + 6,
		 strstr(c, "\"id\":\"") + 6);
	cr_assert_eq(st_count(q), 2);

	/* NIP-09 removes b only, and b cannot come back. */
	snprintf(tags, sizeof tags, "[[\"e\",\"%.64s\"]]",
		 strstr(b, "\"id\":\"") + 6);
	cr_assert_eq(st_put_ev(50, 1, 200, 5, tags, "").nremoved, 1);
	cr_assert_eq(tern_store_get(st_s, ib, NULL, NULL), TERN_ENOTFOUND);
	cr_assert_eq(tern_store_get(st_s, ia, NULL, NULL), 0);
	cr_assert_eq(st_put(b).status, TERN_WRITE_REJECTED);
	cr_assert_eq(st_count(q), 1);

	/* A refused replaceable version takes out its own id entry only. */
	char *d = st_ev_hexid("0000000000000002", 'd', 9, 100, 0, "[]");
	char *e = st_ev_hexid("0000000000000002", 'e', 9, 50, 0, "[]");
	uint8_t id_d[32], id_e[32];

	st_id_hex(id_d, d);
	st_id_hex(id_e, e);
	cr_assert_eq(st_put(d).status, TERN_WRITE_STORED);
	cr_assert_eq(st_put(e).status, TERN_WRITE_REJECTED);
	cr_assert_eq(tern_store_get(st_s, id_d, NULL, NULL), 0);
	cr_assert_eq(tern_store_get(st_s, id_e, NULL, NULL), TERN_ENOTFOUND);
	cr_assert_eq(st_put(d).status, TERN_WRITE_DUPLICATE);

	/* The same after a reopen (handles and flags come from the file). */
	st_reopen(NULL);
	cr_assert_eq(tern_store_get(st_s, ia, NULL, NULL), 0);
	cr_assert_eq(tern_store_get(st_s, id_d, NULL, NULL), 0);
	cr_assert_eq(st_put(a).status, TERN_WRITE_DUPLICATE);
	cr_assert_eq(st_put(c).status, TERN_WRITE_STORED);
	cr_assert_eq(st_count(q), 2);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
}

Test(store, replaceable_newer_wins)
{
	tern_write_result r;

	st_open(NULL);
	r = st_put_ev(1, 7, 100, 0, "[]", "v1");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	r = st_put_ev(2, 7, 200, 0, "[]", "v2");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	/* older arriving later */
	r = st_put_ev(3, 7, 150, 0, "[]", "v0");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_DUPLICATE);
	cr_assert_str_eq(r.reason.msg, "have a newer version of this event");
	/* other author and other replaceable kind are separate */
	cr_assert_eq(st_put_ev(4, 8, 50, 0, "[]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(5, 7, 50, 10002, "[]", "").status,
		     TERN_WRITE_STORED);
	st_query_expect("{\"kinds\":[0],\"authors\":[\"" ST_PK7 "\"]}",
			(uint64_t[]){ 2 }, 1);
	st_query_expect("{}", (uint64_t[]){ 2, 4, 5 }, 3);
	cr_assert_eq(st_count("{\"kinds\":[0]}"), 2);
}

Test(store, replaceable_tie_lowest_id)
{
	tern_write_result r;

	st_open(NULL);
	cr_assert_eq(st_put_ev(5, 7, 100, 3, "[]", "").status,
		     TERN_WRITE_STORED);
	/* equal created_at, higher id: refused */
	r = st_put_ev(9, 7, 100, 3, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_DUPLICATE);
	/* equal created_at, lower id: replaces */
	r = st_put_ev(2, 7, 100, 3, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	st_query_expect("{}", (uint64_t[]){ 2 }, 1);
}

Test(store, addressable_per_d_tag)
{
	tern_write_result r;

	st_open(NULL);
	cr_assert_eq(st_put_ev(1, 7, 100, 30023, "[[\"d\",\"a\"]]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(2, 7, 100, 30023, "[[\"d\",\"b\"]]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(3, 7, 90, 30023, "[]", "").status,
		     TERN_WRITE_STORED); /* d = "" */
	r = st_put_ev(4, 7, 200, 30023, "[[\"d\",\"a\"]]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	r = st_put_ev(5, 7, 150, 30023, "[[\"d\",\"a\"]]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	/* a "d" tag with an empty value is the same address as none */
	r = st_put_ev(6, 7, 95, 30023, "[[\"d\",\"\"]]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	/* long d values (hashed keys) */
	char tags[700];
	snprintf(tags, sizeof tags, "[[\"d\",\"%0300d\"]]", 1);
	cr_assert_eq(st_put_ev(7, 7, 10, 30023, tags, "").status,
		     TERN_WRITE_STORED);
	r = st_put_ev(8, 7, 11, 30023, tags, "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 1);
	st_query_expect("{}", (uint64_t[]){ 4, 2, 6, 8 }, 4);
}

Test(store, ephemeral_and_expired_refused)
{
	tern_write_result r;
	char tags[64];

	st_open(NULL);
	r = st_put_ev(1, 1, 100, 20001, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_INVALID);
	cr_assert_str_eq(r.reason.msg, "ephemeral events are not stored");
	snprintf(tags, sizeof tags, "[[\"expiration\",\"%llu\"]]",
		 (unsigned long long)time(NULL) - 1);
	r = st_put_ev(2, 1, 100, 1, tags, "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_INVALID);
	cr_assert_str_eq(r.reason.msg, "event has expired");
	cr_assert_eq(st_count("{}"), 0);
}

Test(store, expiring_event_hidden_then_purged)
{
	tern_store_stats st;
	uint64_t purged = 99;
	char tags[64];
	uint64_t now = (uint64_t)time(NULL);

	st_open(NULL);
	snprintf(tags, sizeof tags, "[[\"expiration\",\"%llu\"]]",
		 (unsigned long long)now + 2);
	cr_assert_eq(st_put_ev(1, 1, 100, 1, tags, "").status,
		     TERN_WRITE_STORED);
	snprintf(tags, sizeof tags, "[[\"expiration\",\"%llu\"]]",
		 (unsigned long long)now + 100000);
	cr_assert_eq(st_put_ev(2, 1, 90, 1, tags, "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(3, 1, 80, 1, "[]", "").status,
		     TERN_WRITE_STORED);
	st_query_expect("{}", (uint64_t[]){ 1, 2, 3 }, 3);
	sleep(3);
	/* expired: never returned, even before the purge */
	st_query_expect("{}", (uint64_t[]){ 2, 3 }, 2);
	st_query_expect("{\"kinds\":[1]}", (uint64_t[]){ 2, 3 }, 2);
	cr_assert_eq(st_count("{}"), 2);
	cr_assert_eq(st_count("{\"kinds\":[1]}"), 2);
	uint8_t id[32];
	st_id(id, 1);
	cr_assert_eq(tern_store_get(st_s, id, NULL, NULL), TERN_ENOTFOUND);
	tern_store_stats_get(st_s, &st);
	cr_assert_eq(st.events, 3);
	cr_assert_eq(tern_store_purge_expired(st_s, (uint64_t)time(NULL),
					      &purged), 0);
	cr_assert_eq(purged, 1);
	tern_store_stats_get(st_s, &st);
	cr_assert_eq(st.events, 2);
	cr_assert_eq(st.expiring, 1);
	cr_assert_eq(tern_store_purge_expired(st_s, now + 200000, &purged), 0);
	cr_assert_eq(purged, 1);
	st_query_expect("{}", (uint64_t[]){ 3 }, 1);
}

Test(store, nip09_e_tags)
{
	tern_write_result r;
	char tags[512];

	st_open(NULL);
	cr_assert_eq(st_put_ev(1, 7, 100, 1, "[]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(2, 8, 100, 1, "[]", "").status,
		     TERN_WRITE_STORED); /* someone else's */
	cr_assert_eq(st_put_ev(3, 7, 100, 30000, "[[\"d\",\"x\"]]", "").status,
		     TERN_WRITE_STORED);
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"],"
		 "[\"e\",\"%s\"],[\"e\",\"%s\"],[\"e\",\"nothex\"]]",
		 st_idhex(1), st_idhex(2), st_idhex(3), st_idhex(4));
	r = st_put_ev(10, 7, 200, 5, tags, "");
	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	cr_assert_eq(r.nremoved, 2);
	st_query_expect("{}", (uint64_t[]){ 10, 2 }, 2);
	/* tombstones: the deleted one and a not-yet-seen one stay out */
	r = st_put_ev(1, 7, 100, 1, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	cr_assert_str_eq(r.reason.msg, "this event was deleted");
	r = st_put_ev(4, 7, 300, 1, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	/* the same id from another author is not covered */
	r = st_put_ev(4, 9, 300, 1, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);

	/* a deletion cannot delete a deletion */
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"e\",\"%s\"]]",
		 st_idhex(10), st_idhex(12));
	r = st_put_ev(11, 7, 300, 5, tags, "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.nremoved, 0);
	r = st_put_ev(12, 7, 300, 5, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	st_query_expect("{\"kinds\":[5]}", (uint64_t[]){ 11, 12, 10 }, 3);
}

Test(store, nip09_a_tags)
{
	tern_write_result r;
	char tags[512];

	st_open(NULL);
	cr_assert_eq(st_put_ev(1, 7, 100, 30000, "[[\"d\",\"x\"]]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(2, 7, 100, 30000, "[[\"d\",\"y\"]]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(3, 8, 100, 30000, "[[\"d\",\"x\"]]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(4, 7, 100, 10002, "[]", "").status,
		     TERN_WRITE_STORED);
	cr_assert_eq(st_put_ev(5, 7, 300, 30000, "[[\"d\",\"z\"]]", "").status,
		     TERN_WRITE_STORED);
	snprintf(tags, sizeof tags,
		 "[[\"a\",\"30000:%s:x\"],[\"a\",\"30000:%s:x\"],"
		 "[\"a\",\"10002:%s:\"],[\"a\",\"30000:%s:z\"],"
		 "[\"a\",\"bogus\"]]",
		 st_pkhex(7), st_pkhex(8), st_pkhex(7), st_pkhex(7));
	r = st_put_ev(10, 7, 200, 5, tags, "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	/* x and the replaceable go; z is newer than the deletion; 8's stays */
	cr_assert_eq(r.nremoved, 2);
	st_query_expect("{}", (uint64_t[]){ 5, 10, 2, 3 }, 4);
	/* versions up to the deletion time are refused, newer ones not */
	r = st_put_ev(11, 7, 200, 30000, "[[\"d\",\"x\"]]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	cr_assert_eq(r.reason.prefix, TERN_PREFIX_BLOCKED);
	r = st_put_ev(12, 7, 150, 10002, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED);
	r = st_put_ev(13, 7, 201, 30000, "[[\"d\",\"x\"]]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	r = st_put_ev(14, 7, 201, 10002, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	/* an earlier deletion does not lower the tombstone time */
	snprintf(tags, sizeof tags, "[[\"a\",\"30000:%s:y\"]]", st_pkhex(7));
	cr_assert_eq(st_put_ev(15, 7, 50, 5, tags, "").status,
		     TERN_WRITE_STORED);
	st_query_expect("{\"kinds\":[30000]}", (uint64_t[]){ 5, 13, 2, 3 }, 4);
}

/* Events in one batch see the earlier ones of the same batch. */
static void batch_cb(void *ctx, const tern_write_result *res)
{
	*(tern_write_result *)ctx = *res;
}

Test(store, batch_sees_itself)
{
	tern_write_result res[4];
	char tags[256];
	char *js[4];

	st_open(NULL);
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", st_idhex(1));
	js[0] = st_ev(1, 7, 100, 1, "[]", "");
	js[1] = st_ev(1, 7, 100, 1, "[]", "");
	js[2] = st_ev(2, 7, 200, 5, tags, "");
	js[3] = st_ev(3, 7, 100, 0, "[]", "");
	for (int i = 0; i < 4; i++) {
		tern_event ev;

		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)js[i],
					      strlen(js[i]), NULL, &st_arena,
					      NULL), 0);
		cr_assert_eq(tern_store_submit(st_s, &ev, batch_cb, &res[i],
					       true), 0);
	}
	cr_assert_eq(tern_store_flush(st_s), 0);
	cr_assert_eq(res[0].status, TERN_WRITE_STORED);
	cr_assert_eq(res[1].status, TERN_WRITE_DUPLICATE);
	cr_assert_eq(res[2].status, TERN_WRITE_STORED);
	cr_assert_eq(res[2].nremoved, 1);
	cr_assert_eq(res[3].status, TERN_WRITE_STORED);
	cr_assert_eq(res[3].serial, 3);
	for (int i = 0; i < 4; i++)
		free(js[i]);
}

Test(store, operator_delete_dry_run)
{
	tern_filter *fs;
	size_t n;
	uint64_t removed = 0;

	st_open(NULL);
	for (int i = 1; i <= 10; i++)
		st_put_ev(i, i % 2 ? 1 : 2, 100 + i, 1, "[]", "");
	fs = st_filters("{\"authors\":[\"" ST_PK1 "\"]}", &n);
	cr_assert_eq(tern_store_delete(st_s, fs, n, true, &removed), 0);
	cr_assert_eq(removed, 5);
	cr_assert_eq(st_count("{}"), 10);
	cr_assert_eq(tern_store_delete(st_s, fs, n, false, &removed), 0);
	cr_assert_eq(removed, 5);
	st_query_expect("{}", (uint64_t[]){ 10, 8, 6, 4, 2 }, 5);
	/* no tombstone: an operator delete does not block a re-store */
	cr_assert_eq(st_put_ev(1, 1, 101, 1, "[]", "").status,
		     TERN_WRITE_STORED);
	/* limit is honoured: delete what scan would print */
	fs = st_filters("{\"limit\":2}", &n);
	cr_assert_eq(tern_store_delete(st_s, fs, n, false, &removed), 0);
	cr_assert_eq(removed, 2);
	st_query_expect("{}", (uint64_t[]){ 6, 4, 2, 1 }, 4);
}

Test(store, reopen_keeps_everything)
{
	tern_store_stats st;
	tern_write_result r;

	st_open(NULL);
	for (int i = 1; i <= 5; i++)
		st_put_ev(i, 1, 100 + i, 1, "[[\"t\",\"x\"]]", "");
	st_put_ev(5, 1, 0, 5, "[]", ""); /* duplicate */
	char tags[200];
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", st_idhex(5));
	cr_assert_eq(st_put_ev(6, 1, 200, 5, tags, "").nremoved, 1);
	st_reopen(NULL);
	st_query_expect("{\"#t\":[\"x\"]}", (uint64_t[]){ 4, 3, 2, 1 }, 4);
	r = st_put_ev(5, 1, 105, 1, "[[\"t\",\"x\"]]", "");
	cr_assert_eq(r.status, TERN_WRITE_REJECTED); /* tombstone kept */
	r = st_put_ev(7, 1, 300, 1, "[]", "");
	cr_assert_eq(r.status, TERN_WRITE_STORED);
	cr_assert_eq(r.serial, 7); /* serials continue, never reused */
	tern_store_stats_get(st_s, &st);
	cr_assert_eq(st.format_version, TERN_STORE_FORMAT_VERSION);
	cr_assert_eq(st.events, 6);
	cr_assert_eq(st.next_serial, 8);
	cr_assert_eq(st.tombstones, 1);
	cr_assert_eq(st.oldest, 101);
	cr_assert_eq(st.newest, 300);
	cr_assert(st.index_entries > 6 * 5);
	cr_assert(st.map_size >= st.used_bytes && st.used_bytes > 0);
}

Test(store, read_only_open)
{
	tern_store_options o;
	tern_store *ro;
	char err[256];

	st_open(NULL);
	st_put_ev(1, 1, 100, 1, "[]", "");
	tern_store_options_defaults(&o);
	o.dir = st_dir;
	o.read_only = true;
	cr_assert_eq(tern_store_open(&ro, &o, err, sizeof err), 0, "%s", err);
	st_got_n = 0;
	cr_assert_eq(tern_store_query(ro, NULL, 0, 0, st_collect, NULL), 0);
	tern_filter f = { .since = 0, .until = UINT64_MAX };
	cr_assert_eq(tern_store_query(ro, &f, 1, 0, st_collect, NULL), 0);
	cr_assert_eq(st_got_n, 1);
	tern_event ev;
	char *j = st_ev(2, 1, 1, 1, "[]", "");
	cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j), NULL,
				      &st_arena, NULL), 0);
	cr_assert_eq(tern_store_submit(ro, &ev, NULL, NULL, true),
		     TERN_ECLOSED);
	free(j);
	tern_store_close(ro);

	/* read-only on a missing store: a clear error, no directory made */
	o.dir = "/tmp/tern-store-test-does-not-exist";
	err[0] = '\0';
	cr_assert_neq(tern_store_open(&ro, &o, err, sizeof err), 0);
	cr_assert_null(ro);
	cr_assert(strlen(err) > 0);
	cr_assert_neq(access(o.dir, F_OK), 0);
}

static uint64_t file_sum(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint64_t h = 1469598103934665603ull;
	int c;

	cr_assert_not_null(f);
	while ((c = fgetc(f)) != EOF)
		h = (h ^ (uint64_t)c) * 1099511628211ull;
	fclose(f);
	return h;
}

Test(store, unknown_version_refused_untouched)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 7, "version" }, v;
	uint8_t ver[4] = { 0, 0, 0, 9 };
	char path[300], err[256];
	uint64_t before;
	tern_store_options o;
	tern_store *s2 = (void *)1;

	st_open(NULL);
	st_put_ev(1, 1, 100, 1, "[]", "");
	tern_store_close(st_s);
	st_s = NULL;

	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	cr_assert_eq(mdb_env_open(env, st_dir, 0, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	v.mv_size = 4;
	v.mv_data = ver;
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	snprintf(path, sizeof path, "%s/data.mdb", st_dir);
	before = file_sum(path);
	tern_store_options_defaults(&o);
	o.dir = st_dir;
	cr_assert_eq(tern_store_open(&s2, &o, err, sizeof err), TERN_EVERSION);
	cr_assert_null(s2);
	cr_assert(strstr(err, "version 9") != NULL, "%s", err);
	o.read_only = true;
	cr_assert_eq(tern_store_open(&s2, &o, err, sizeof err), TERN_EVERSION);
	cr_assert_eq(file_sum(path), before);
}

Test(store, not_a_tern_store)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 1, "x" }, v = { 1, "y" };
	tern_store_options o;
	tern_store *s2;
	char err[256];

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, st_dir, 0, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	tern_store_options_defaults(&o);
	o.dir = st_dir;
	cr_assert_eq(tern_store_open(&s2, &o, err, sizeof err), TERN_ESTORE);
	cr_assert(strstr(err, "not a tern store") != NULL, "%s", err);
}

Test(store, map_grows)
{
	tern_store_options o;
	tern_store_stats st;
	char *content = malloc(20001);
	int stored = 0;

	memset(content, 'x', 20000);
	content[20000] = '\0';
	tern_store_options_defaults(&o);
	o.map_size = 1 << 20;
	o.batch_max = 64;
	o.no_sync = true;
	st_open(&o);
	for (int i = 1; i <= 300; i++) {
		char *j = st_ev((uint64_t)i, 1, 1000 + (uint64_t)i, 1, "[]",
				content);
		tern_event ev;

		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j),
					      NULL, &st_arena, NULL), 0);
		cr_assert_eq(tern_store_submit(st_s, &ev, st_count_stored,
					       &stored, true), 0);
		free(j);
		tern_arena_reset(&st_arena);
	}
	cr_assert_eq(tern_store_flush(st_s), 0);
	cr_assert_eq(stored, 300);
	tern_store_stats_get(st_s, &st);
	cr_assert_eq(st.events, 300);
	cr_assert(st.map_size >= 6u << 20, "map %llu",
		  (unsigned long long)st.map_size);
	cr_assert_eq(st_count("{}"), 300);
	/* reopen with the small configured size: the file size wins */
	st_reopen(&o);
	cr_assert_eq(st_count("{}"), 300);
	cr_assert_eq(st_put_ev(1000, 1, 1, 1, "[]", content).status,
		     TERN_WRITE_STORED);
	free(content);
}

/* Readers query while the writer commits; every snapshot is consistent. */
static void *reader_main(void *arg)
{
	tern_store *s = arg;
	tern_arena a;
	tern_filter f;
	int bad = 0;

	tern_arena_init(&a, 0);
	for (int i = 0; i < 200; i++) {
		uint64_t n1 = 0, n2 = 0;

		cr_assert_eq(tern_filter_parse(&f, (const uint8_t *)"{}", 2,
					       NULL, &a, NULL), 0);
		if (tern_store_count(s, &f, 1, &n1))
			bad++;
		if (tern_store_query(s, &f, 1, 0, st_count_rows, &n2))
			bad++;
		if (n2 < n1) /* the store only grows here */
			bad++;
		tern_arena_reset(&a);
	}
	tern_arena_free(&a);
	return (void *)(intptr_t)bad;
}

Test(store, concurrent_readers)
{
	tern_store_options o;
	pthread_t th[3];
	int stored = 0;
	void *ret;

	tern_store_options_defaults(&o);
	o.map_size = 1 << 20; /* growth under readers too */
	o.batch_max = 16;
	o.no_sync = true;
	st_open(&o);
	for (int t = 0; t < 3; t++)
		pthread_create(&th[t], NULL, reader_main, st_s);
	for (int i = 1; i <= 3000; i++) {
		char *j = st_ev((uint64_t)i, (uint8_t)(i % 5), (uint64_t)i, 1,
				"[[\"t\",\"tag\"]]",
				"some content to fill pages quickly .........."
				"................................................");
		tern_event ev;

		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j),
					      NULL, &st_arena, NULL), 0);
		cr_assert_eq(tern_store_submit(st_s, &ev, st_count_stored,
					       &stored, true), 0);
		free(j);
		tern_arena_reset(&st_arena);
	}
	for (int t = 0; t < 3; t++) {
		pthread_join(th[t], &ret);
		cr_assert_eq((intptr_t)ret, 0);
	}
	cr_assert_eq(tern_store_flush(st_s), 0);
	cr_assert_eq(stored, 3000);
	cr_assert_eq(st_count("{}"), 3000);
}

Test(store, queue_full_and_close_drains)
{
	tern_store_options o;
	tern_event ev;
	int stored = 0, full = 0;
	char *j;

	tern_store_options_defaults(&o);
	o.queue_max = 4;
	o.batch_max = 2;
	st_open(&o);
	for (int i = 1; i <= 200; i++) {
		int rc;

		j = st_ev((uint64_t)i, 1, (uint64_t)i, 1, "[]", "");
		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j),
					      NULL, &st_arena, NULL), 0);
		rc = tern_store_submit(st_s, &ev, st_count_stored, &stored,
				       false);
		cr_assert(rc == 0 || rc == TERN_EFULL);
		full += rc == TERN_EFULL;
		free(j);
		tern_arena_reset(&st_arena);
	}
	/* close lets every queued event commit and report */
	tern_store_close(st_s);
	st_s = NULL;
	cr_assert_eq(stored + full, 200);
	st_reopen(NULL);
	cr_assert_eq(st_count("{}"), (uint64_t)stored);
}

/* must_exist: a directory without a store is refused and left as it was
 * (no data.mdb, no lock.mdb); a missing directory is not created. */
Test(store, must_exist_refuses_empty_dir)
{
	tern_store_options o;
	tern_store *s2 = (void *)1;
	char err[256] = "", path[300];
	struct dirent *de;
	int entries = 0;
	DIR *d;

	tern_store_options_defaults(&o);
	o.dir = st_dir;
	o.must_exist = true;
	cr_assert_eq(tern_store_open(&s2, &o, err, sizeof err),
		     TERN_ENOTFOUND);
	cr_assert_null(s2);
	cr_assert(strstr(err, "no store at") != NULL, "%s", err);
	d = opendir(st_dir);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	cr_assert_eq(entries, 0, "must_exist left %d files behind", entries);

	snprintf(path, sizeof path, "%s/missing", st_dir);
	o.dir = path;
	cr_assert_eq(tern_store_open(&s2, &o, err, sizeof err),
		     TERN_ENOTFOUND);
	cr_assert_neq(access(path, F_OK), 0);

	/* and it opens an existing store */
	st_open(NULL);
	st_put_ev(1, 1, 100, 1, "[]", "");
	o.dir = st_dir;
	cr_assert_eq(tern_store_open(&s2, &o, err, sizeof err), 0, "%s", err);
	tern_store_close(s2);
}

/* Submits n event JSONs without waiting; res[i] gets each result. */
static void st_submit_all(char **js, size_t n, tern_write_result *res)
{
	for (size_t i = 0; i < n; i++) {
		tern_event ev;

		memset(&res[i], 0xAB, sizeof res[i]);
		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)js[i],
					      strlen(js[i]), NULL, &st_arena,
					      NULL), 0);
		cr_assert_eq(tern_store_submit(st_s, &ev, batch_cb, &res[i],
					       true), 0);
	}
}

/*
 * Events stored and removed again within one batch (a replaceable event
 * replaced, a note deleted by NIP-09): their deferred index entries are
 * never written, and no entry of theirs is left behind. batch_min makes
 * the writer take all four in one transaction.
 */
Test(store, stored_and_removed_in_one_batch)
{
	tern_store_options o;
	tern_store_stats st;
	tern_write_result res[4];
	char tags[200], *js[4];

	tern_store_options_defaults(&o);
	o.batch_min = 4;
	o.batch_wait_ms = 10000;
	st_open(&o);
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", st_idhex(3));
	js[0] = st_ev(1, 7, 100, 0, "[[\"t\",\"old\"]]", "");
	js[1] = st_ev(2, 7, 200, 0, "[]", "");
	js[2] = st_ev(3, 7, 150, 1, "[[\"t\",\"x\"],[\"p\",\"" ST_PK1 "\"]]",
		      "");
	js[3] = st_ev(4, 7, 300, 5, tags, "");
	st_submit_all(js, 4, res);
	cr_assert_eq(tern_store_flush(st_s), 0);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(res[i].status, TERN_WRITE_STORED, "event %d", i);
		cr_assert_eq(res[i].serial, (uint64_t)i + 1);
		free(js[i]);
	}
	cr_assert_eq(res[1].nremoved, 1);
	cr_assert_eq(res[3].nremoved, 1);

	st_query_expect("{}", (uint64_t[]){ 4, 2 }, 2);
	cr_assert_eq(st_count("{\"#t\":[\"old\"]}"), 0);
	cr_assert_eq(st_count("{\"#t\":[\"x\"]}"), 0);
	cr_assert_eq(st_count("{\"#p\":[\"" ST_PK1 "\"]}"), 0);
	cr_assert_eq(st_count("{\"kinds\":[1]}"), 0);
	cr_assert_eq(st_count("{\"kinds\":[0]}"), 1);
	cr_assert_eq(st_count("{\"authors\":[\"" ST_PK7 "\"]}"), 2);
	/* exactly the entries of the two survivors: id, ca, pk, kind,
	 * pkkind each, plus the addr of event 2 and the e tag of event 4 */
	cr_assert_eq(tern_store_stats_get(st_s, &st), 0);
	cr_assert_eq(st.events, 2);
	cr_assert_eq(st.index_entries, 12, "%llu index entries",
		     (unsigned long long)st.index_entries);
	cr_assert_eq(st.tombstones, 1);
	/* and the same after a reopen */
	st_reopen(NULL);
	st_query_expect("{}", (uint64_t[]){ 4, 2 }, 2);
	cr_assert_eq(st_count("{\"#t\":[\"x\"]}"), 0);
}

static int64_t st_ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void st_count_done(void *ctx, const tern_write_result *res)
{
	__atomic_add_fetch((int *)ctx, 1, __ATOMIC_RELEASE);
}

/* Submits event n and returns at once; *done is incremented when its
 * result is reported. */
static void st_submit_one(uint64_t n, int *done)
{
	char *j = st_ev(n, 1, 100 + n, 1, "[]", "");
	tern_event ev;

	cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j), NULL,
				      &st_arena, NULL), 0);
	cr_assert_eq(tern_store_submit(st_s, &ev, st_count_done, done, true),
		     0);
	free(j);
}

/* Waits up to ms for *done to reach want; returns the time taken. */
static int64_t st_wait_done(int *done, int want, int64_t ms)
{
	int64_t t0 = st_ms_now();

	while (__atomic_load_n(done, __ATOMIC_ACQUIRE) < want &&
	       st_ms_now() - t0 < ms)
		usleep(1000);
	return st_ms_now() - t0;
}

/* batch_wait_ms: the writer waits for batch_min events, at most
 * batch_wait_ms; a flush or a close ends the wait at once. */
Test(store, batch_wait)
{
	tern_store_options o;
	int done = 0;
	int64_t t0, took;

	tern_store_options_defaults(&o);
	o.batch_min = 3;
	o.batch_wait_ms = 400;
	st_open(&o);
	/* one event: reported only once the wait is over */
	t0 = st_ms_now();
	st_submit_one(1, &done);
	took = st_wait_done(&done, 1, 10000);
	cr_assert_eq(done, 1);
	cr_assert(took >= 300, "reported after %lld ms",
		  (long long)(st_ms_now() - t0));
	/* batch_min events: no wait */
	for (int i = 2; i <= 4; i++)
		st_submit_one((uint64_t)i, &done);
	took = st_wait_done(&done, 4, 10000);
	cr_assert_eq(done, 4);
	cr_assert(took < 300, "full batch waited %lld ms", (long long)took);

	/* a flush does not wait for the timer */
	st_reopen(&(tern_store_options){ .batch_min = 100,
					 .batch_wait_ms = 60000 });
	done = 0;
	t0 = st_ms_now();
	st_submit_one(5, &done);
	cr_assert_eq(tern_store_flush(st_s), 0);
	cr_assert_eq(done, 1);
	cr_assert(st_ms_now() - t0 < 30000);
	/* nor does a close: the queued event is committed */
	st_submit_one(6, &done);
	tern_store_close(st_s);
	st_s = NULL;
	cr_assert_eq(done, 2);
	cr_assert(st_ms_now() - t0 < 30000);
	st_open(NULL);
	cr_assert_eq(st_count("{}"), 6);
}

/* ---- queries ------------------------------------------------------------ */

Test(store, order_newest_first_ties_lowest_id)
{
	st_open(NULL);
	st_put_ev(5, 1, 100, 1, "[]", "");
	st_put_ev(3, 1, 100, 1, "[]", "");
	st_put_ev(9, 1, 200, 1, "[]", "");
	st_put_ev(4, 1, 100, 1, "[]", "");
	st_put_ev(1, 1, 50, 1, "[]", "");
	/* same first 8 id bytes order by the full id in the tie rule only
	 * when they differ there; see STORE_FORMAT.md */
	st_query_expect("{}", (uint64_t[]){ 9, 3, 4, 5, 1 }, 5);
	st_query_expect("{\"limit\":2}", (uint64_t[]){ 9, 3 }, 2);
	st_query_expect("{\"limit\":0}", NULL, 0);
	st_query_expect("{\"since\":100,\"until\":100}",
			(uint64_t[]){ 3, 4, 5 }, 3);
	st_query_expect("{\"since\":101}", (uint64_t[]){ 9 }, 1);
	st_query_expect("{\"until\":99}", (uint64_t[]){ 1 }, 1);
	st_query_expect("{\"since\":300}", NULL, 0);
	st_query_expect("{\"since\":200,\"until\":100}", NULL, 0);
	st_query_expect("{\"search\":\"x\"}", NULL, 0);
	/* limit_cap */
	st_query("{}", 3);
	cr_assert_eq(st_got_n, 3);
	st_query("{\"limit\":1}", 3);
	cr_assert_eq(st_got_n, 1);
	/* serials come with the results */
	st_query("{\"ids\":[\"0000000000000009000000000000000000000000000000000000000000000000\"]}", 0);
	cr_assert_eq(st_got_n, 1);
	cr_assert_eq(st_got_serial[0], 3);
}

/* Many events of one second, committed in no particular id order: the
 * tie rule still gives the lowest ids first, with limits, several filters,
 * sliced reads and deletions between slices. */
Test(store, ties_in_one_second)
{
	uint64_t want[12], removed;
	tern_query *q;
	tern_filter *fs;
	size_t n;
	int rc;

	st_open(NULL);
	st_put_ev(1000, 1, 101, 1, "[]", "");
	st_put_ev(2000, 1, 99, 1, "[]", "");
	/* ids 1..200 at created_at 100, in a scattered order */
	for (uint64_t i = 0; i < 200; i++)
		st_put_ev(1 + (i * 77) % 200, (uint8_t)(1 + i % 3), 100,
			  i % 2 ? 1 : 7, "[]", "");
	want[0] = 1000;
	for (int i = 1; i < 10; i++)
		want[i] = (uint64_t)i;
	st_query_expect("{\"limit\":10}", want, 10);
	st_query_expect("{\"since\":100,\"until\":100,\"limit\":3}",
			(uint64_t[]){ 1, 2, 3 }, 3);
	/* kind 1 holds the ids i with (1 + i * 77 % 200) for odd i */
	st_query("{\"kinds\":[1],\"until\":100,\"limit\":4}", 0);
	cr_assert_eq(st_got_n, 4);
	for (size_t i = 1; i < st_got_n; i++)
		cr_assert_lt(st_got_id[i - 1], st_got_id[i]);
	/* several filters: merged by (created_at, id), each event once
	 * (1000 is kind 1: the second filter's first result) */
	st_query_expect("[{\"kinds\":[7],\"limit\":2},{\"kinds\":[1],"
			"\"limit\":2},{\"limit\":3}]",
			(uint64_t[]){ 1000, 1, 2, 3 }, 4);
	st_query_expect("[{\"kinds\":[7],\"limit\":2},{\"kinds\":[1],"
			"\"until\":100,\"limit\":2}]",
			(uint64_t[]){ 1, 2, 3, 4 }, 4);
	cr_assert_eq(st_count("{\"since\":100,\"until\":100}"), 200);

	/* read one row per slice; delete ids 3 and 150 in between */
	fs = st_filters("{\"until\":100}", &n);
	cr_assert_eq(tern_query_begin(&q, st_s, fs, n, 0), 0);
	st_got_clear();
	cr_assert_eq(tern_query_next(q, 2, st_collect, NULL), 1);
	fs = st_filters("{\"ids\":[\"0000000000000003000000000000000000000000"
			"000000000000000000000000\",\"0000000000000096000000000000"
			"000000000000000000000000000000000000\"]}", &n);
	cr_assert_eq(tern_store_delete(st_s, fs, n, false, &removed), 0);
	cr_assert_eq(removed, 2);
	while ((rc = tern_query_next(q, 1, st_collect, NULL)) > 0)
		;
	cr_assert_eq(rc, 0);
	tern_query_end(q);
	cr_assert_eq(st_got_n, 199);
	cr_assert_eq(st_got_id[0], 1);
	cr_assert_eq(st_got_id[1], 2);
	cr_assert_eq(st_got_id[2], 4);
	cr_assert_eq(st_got_id[197], 200);
	cr_assert_eq(st_got_id[198], 2000);
	for (size_t i = 1; i < 198; i++)
		cr_assert_lt(st_got_id[i - 1], st_got_id[i]);
}

/* A limited filter keeps only the lowest ids of a second; when one of
 * them is deleted between two calls, the next ones of that second move up
 * into the cut instead of the query moving on to older seconds. */
Test(store, tie_cut_refilled_after_delete)
{
	tern_query *q;
	tern_filter *fs;
	size_t n;
	uint64_t removed;
	int rc;

	st_open(NULL);
	st_put_ev(100, 1, 90, 1, "[]", "");
	for (uint64_t i = 5; i >= 1; i--)
		st_put_ev(i, 1, 100, 1, "[]", "");
	fs = st_filters("{\"limit\":3}", &n);
	cr_assert_eq(tern_query_begin(&q, st_s, fs, n, 0), 0);
	st_got_clear();
	cr_assert_eq(tern_query_next(q, 1, st_collect, NULL), 1);
	fs = st_filters("{\"ids\":[\"0000000000000002000000000000000000000000"
			"000000000000000000000000\"]}", &n);
	cr_assert_eq(tern_store_delete(st_s, fs, n, false, &removed), 0);
	cr_assert_eq(removed, 1);
	while ((rc = tern_query_next(q, 1, st_collect, NULL)) > 0)
		;
	cr_assert_eq(rc, 0);
	tern_query_end(q);
	cr_assert_eq(st_got_n, 3);
	cr_assert_eq(st_got_id[0], 1);
	cr_assert_eq(st_got_id[1], 3);
	cr_assert_eq(st_got_id[2], 4);
}

static uint64_t asc_prev, asc_n;
static bool asc_ok;

/* Visitor: counts results and checks their ids ascend. */
static bool st_ascending(void *ctx, tern_slice json, uint64_t serial)
{
	char hex[17];
	uint64_t id;

	memcpy(hex, json.p + 7, 16);
	hex[16] = '\0';
	id = strtoull(hex, NULL, 16);
	if (asc_n && id <= asc_prev)
		asc_ok = false;
	asc_prev = id;
	asc_n++;
	return true;
}

/* More events in one second than a tie group holds (16,384): without a
 * limit they all come, lowest id first, in several passes. */
Test(store, ties_beyond_one_group, .timeout = 120)
{
	const int n = 17000;
	int stored = 0;
	tern_filter *fs;
	size_t nf;

	st_open(NULL);
	for (int i = 0; i < n; i++) {
		char *j = st_ev(1 + (uint64_t)i * 7919 % (uint64_t)n, 1, 100, 1,
				"[]", "");
		tern_event ev;

		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j),
					      NULL, &st_arena, NULL), 0);
		cr_assert_eq(tern_store_submit(st_s, &ev, st_count_stored,
					       &stored, true), 0);
		tern_arena_reset(&st_arena);
		free(j);
	}
	cr_assert_eq(tern_store_flush(st_s), 0);
	cr_assert_eq(stored, n);
	fs = st_filters("{}", &nf);
	asc_n = 0;
	asc_ok = true;
	cr_assert_eq(tern_store_query(st_s, fs, nf, 0, st_ascending, NULL), 0);
	cr_assert_eq(asc_n, (uint64_t)n);
	cr_assert(asc_ok);
	cr_assert_eq(asc_prev, (uint64_t)n);

	/* Sliced: a call walks at most 16,384 index entries, so the first
	 * one returns "more" before it has a row; the rest still come in
	 * order. */
	tern_query *q;
	int rc, calls = 0;

	cr_assert_eq(tern_query_begin(&q, st_s, fs, nf, 0), 0);
	asc_n = 0;
	asc_ok = true;
	cr_assert_eq(tern_query_next(q, 1, st_ascending, NULL), 1);
	cr_assert_eq(asc_n, 0);
	while ((rc = tern_query_next(q, 1000, st_ascending, NULL)) > 0)
		calls++;
	cr_assert_eq(rc, 0);
	tern_query_end(q);
	cr_assert_eq(asc_n, (uint64_t)n);
	cr_assert(asc_ok);
	cr_assert_geq(calls, 16);
}

/* Ids that share their first 8 bytes (what the index entries carry) in
 * one second: the records decide the tie order. */
Test(store, ties_sharing_first_bytes)
{
	const char *pre = "00000000000000ff";
	char *x = st_ev_hexid(pre, 'c', 1, 500, 1, "[]");
	char *y = st_ev_hexid(pre, 'a', 2, 500, 1, "[]");
	char *z = st_ev_hexid(pre, 'b', 3, 500, 1, "[]");

	st_open(NULL);
	st_put_ev(1, 1, 500, 1, "[]", "");
	cr_assert_eq(st_put(x).status, TERN_WRITE_STORED);
	cr_assert_eq(st_put(y).status, TERN_WRITE_STORED);
	cr_assert_eq(st_put(z).status, TERN_WRITE_STORED);
	st_query("{\"limit\":3}", 0);
	cr_assert_eq(st_got_n, 3);
	cr_assert_eq(st_got_id[0], 1);
	cr_assert_str_eq(st_got_json[1], y);
	cr_assert_str_eq(st_got_json[2], z);
	/* walked z, y, x, 1: x's index value equals z's, its record loses */
	st_query("{\"limit\":2}", 0);
	cr_assert_eq(st_got_n, 2);
	cr_assert_eq(st_got_id[0], 1);
	cr_assert_str_eq(st_got_json[1], y);
	st_query("{\"kinds\":[1],\"limit\":4}", 0);
	cr_assert_eq(st_got_n, 4);
	cr_assert_str_eq(st_got_json[1], y);
	cr_assert_str_eq(st_got_json[2], z);
	cr_assert_str_eq(st_got_json[3], x);
	free(x);
	free(y);
	free(z);
}

Test(store, several_filters_or_dedupe)
{
	st_open(NULL);
	st_put_ev(1, 1, 100, 1, "[[\"t\",\"a\"],[\"t\",\"b\"]]", "");
	st_put_ev(2, 2, 110, 7, "[[\"t\",\"a\"]]", "");
	st_put_ev(3, 1, 120, 7, "[[\"t\",\"b\"],[\"t\",\"b\"]]", "");
	st_put_ev(4, 3, 130, 1, "[]", "");
	st_query_expect("[{\"kinds\":[1]},{\"authors\":[\"" ST_PK1 "\"]}]",
			(uint64_t[]){ 4, 3, 1 }, 3);
	/* one event through two tag values of one filter: once */
	st_query_expect("{\"#t\":[\"a\",\"b\"]}", (uint64_t[]){ 3, 2, 1 }, 3);
	cr_assert_eq(st_count("{\"#t\":[\"a\",\"b\"]}"), 3);
	cr_assert_eq(st_count("{\"#t\":[\"b\"]}"), 2);
	/* limits apply per filter, then the union is sorted */
	st_query_expect("[{\"kinds\":[1],\"limit\":1},{\"kinds\":[7],\"limit\":1},"
			"{\"#t\":[\"a\"],\"limit\":1}]",
			(uint64_t[]){ 4, 3, 2 }, 3);
	st_query_expect("[{\"limit\":1},{\"limit\":2}]",
			(uint64_t[]){ 4, 3 }, 2);
	cr_assert_eq(st_count("[{\"kinds\":[1]},{\"#t\":[\"a\"]}]"), 3);
	cr_assert_eq(st_count("[{\"kinds\":[1]},{\"kinds\":[1]}]"), 2);
	st_query_expect("[{\"kinds\":[1]},{\"search\":\"q\"}]",
			(uint64_t[]){ 4, 1 }, 2);
}

/* A brute-force oracle: scan everything, match each filter in order,
 * apply limits per filter, output the union in store order. */
#define OR_N 400
static char *or_all[OR_N + 8];
static size_t or_n;

static bool or_collect(void *ctx, tern_slice json, uint64_t serial)
{
	or_all[or_n++] = strndup((const char *)json.p, json.n);
	return true;
}

static size_t oracle(const char *filters, bool no_limit, uint64_t *out)
{
	size_t n, m = 0;
	tern_filter *fs = st_filters(filters, &n);
	bool sel[OR_N + 8] = { 0 };
	tern_event ev;

	for (size_t f = 0; f < n; f++) {
		uint64_t lim = fs[f].has_limit && !no_limit ? fs[f].limit
							     : UINT64_MAX;

		for (size_t i = 0; i < or_n && lim; i++) {
			cr_assert_eq(tern_event_parse(&ev, (uint8_t *)or_all[i],
						      strlen(or_all[i]), NULL,
						      &st_arena, NULL), 0);
			if (tern_filter_match(&fs[f], &ev)) {
				sel[i] = true;
				lim--;
			}
		}
	}
	for (size_t i = 0; i < or_n; i++) {
		if (sel[i]) {
			char hex[17];

			memcpy(hex, or_all[i] + 7, 16);
			hex[16] = '\0';
			out[m++] = strtoull(hex, NULL, 16);
		}
	}
	return m;
}

static void check_filter(const char *filters)
{
	static uint64_t want[OR_N + 8];
	size_t n, nw = oracle(filters, false, want);
	tern_filter *fs;
	tern_query *q;
	uint64_t cnt = 0;
	int rc;

	st_query(filters, 0);
	cr_assert_eq(st_got_n, nw, "%s: %zu results, oracle %zu", filters,
		     st_got_n, nw);
	for (size_t i = 0; i < nw; i++)
		cr_assert_eq(st_got_id[i], want[i], "%s: [%zu]", filters, i);

	/* sliced: same rows with 1 or 3 rows per call */
	for (uint32_t rows = 1; rows <= 3; rows += 2) {
		fs = st_filters(filters, &n);
		st_got_clear();
		cr_assert_eq(tern_query_begin(&q, st_s, fs, n, 0), 0);
		tern_arena_reset(&st_arena); /* filters were copied */
		while ((rc = tern_query_next(q, rows, st_collect, NULL)) > 0)
			cr_assert(st_got_n <= nw);
		cr_assert_eq(rc, 0);
		tern_query_end(q);
		cr_assert_eq(st_got_n, nw, "%s sliced by %u", filters, rows);
		for (size_t i = 0; i < nw; i++)
			cr_assert_eq(st_got_id[i], want[i]);
	}

	/* count ignores limit */
	nw = oracle(filters, true, want);
	fs = st_filters(filters, &n);
	cr_assert_eq(tern_store_count(st_s, fs, n, &cnt), 0);
	cr_assert_eq(cnt, nw, "%s: count %llu, oracle %zu", filters,
		     (unsigned long long)cnt, nw);
	tern_arena_reset(&st_arena);
}

Test(store, planner_matches_oracle)
{
	static const char *tv[] = { "a", "b", "c", "d" };
	char longv[260], tags[1024], buf[8192];
	uint64_t now = (uint64_t)time(NULL);
	int stored = 0;

	st_open(NULL);
	memset(longv, 'L', 250);
	longv[250] = '\0';
	srand(7);
	for (int i = 1; i <= OR_N; i++) {
		int r = rand();
		uint32_t kinds[] = { 1, 7, 1111, 4 };
		size_t o = 0;

		o += (size_t)snprintf(tags + o, sizeof tags - o, "[");
		if (r % 3 == 0)
			o += (size_t)snprintf(tags + o, sizeof tags - o,
					      "[\"t\",\"%s\"],", tv[r % 4]);
		if (r % 5 == 0)
			o += (size_t)snprintf(tags + o, sizeof tags - o,
					      "[\"t\",\"%s\"],", tv[(r / 5) % 4]);
		if (r % 7 == 0)
			o += (size_t)snprintf(tags + o, sizeof tags - o,
					      "[\"t\",\"%s%c\"],", longv,
					      'x' + (r / 7) % 2);
		if (r % 11 == 0)
			o += (size_t)snprintf(tags + o, sizeof tags - o,
					      "[\"e\",\"%s\",\"relay\"],",
					      st_idhex((uint64_t)(r % 13)));
		if (r % 13 == 0)
			o += (size_t)snprintf(tags + o, sizeof tags - o,
					      "[\"expiration\",\"%llu\"],",
					      (unsigned long long)now + 100000);
		if (r % 17 == 0)
			o += (size_t)snprintf(tags + o, sizeof tags - o,
					      "[\"x\"],[\"tt\",\"a\"],");
		if (tags[o - 1] == ',')
			o--;
		snprintf(tags + o, sizeof tags - o, "]");
		char *j = st_ev((uint64_t)i, (uint8_t)(1 + (r >> 4) % 6),
				1000 + (uint64_t)((r >> 8) % 60),
				kinds[(r >> 12) % 4], tags, "c");
		tern_event ev;

		cr_assert_eq(tern_event_parse(&ev, (uint8_t *)j, strlen(j),
					      NULL, &st_arena, NULL), 0, "%s", j);
		cr_assert_eq(tern_store_submit(st_s, &ev, st_count_stored,
					       &stored, true), 0);
		free(j);
		tern_arena_reset(&st_arena);
	}
	cr_assert_eq(tern_store_flush(st_s), 0);
	cr_assert_eq(stored, OR_N);

	or_n = 0;
	cr_assert_eq(tern_store_query(st_s, NULL, 0, 0, or_collect, NULL), 0);
	cr_assert_eq(or_n, 0);
	size_t nf;
	tern_filter *all = st_filters("{}", &nf);
	cr_assert_eq(tern_store_query(st_s, all, nf, 0, or_collect, NULL), 0);
	cr_assert_eq(or_n, OR_N);
	/* the full scan is sorted: created_at desc, then id asc */
	for (size_t i = 1; i < or_n; i++) {
		tern_event a, b;

		tern_event_parse(&a, (uint8_t *)or_all[i - 1],
				 strlen(or_all[i - 1]), NULL, &st_arena, NULL);
		tern_event_parse(&b, (uint8_t *)or_all[i], strlen(or_all[i]),
				 NULL, &st_arena, NULL);
		cr_assert(a.created_at > b.created_at ||
			  (a.created_at == b.created_at &&
			   memcmp(a.id, b.id, 32) < 0));
	}
	tern_arena_reset(&st_arena);

	const char *filters[] = {
		"{}",
		"{\"limit\":7}",
		"{\"since\":1010,\"until\":1020}",
		"{\"until\":1005,\"limit\":3}",
		"{\"kinds\":[7]}",
		"{\"kinds\":[1,4],\"limit\":20}",
		"{\"kinds\":[2]}",
		"{\"authors\":[\"" ST_PK1 "\"]}",
		"{\"authors\":[\"" ST_PK1 "\",\"" ST_PK7 "\"]}",
		"{\"authors\":[\"" ST_PK1 "\"],\"kinds\":[1,7],\"since\":1030}",
		"{\"authors\":[\"" ST_PK1 "\"],\"kinds\":[1],\"#t\":[\"a\"]}",
		"{\"#t\":[\"a\"]}",
		"{\"#t\":[\"a\",\"b\"],\"limit\":9}",
		"{\"#t\":[\"a\"],\"#e\":[\"0000000000000003000000000000000000000000000000000000000000000000\"]}",
		"{\"#t\":[\"c\"],\"kinds\":[1111]}",
		"{\"#e\":[\"0000000000000005000000000000000000000000000000000000000000000000\",\"0000000000000000000000000000000000000000000000000000000000000000\"]}",
		"{\"#x\":[\"a\"]}",
		"{\"ids\":[\"0000000000000005000000000000000000000000000000000000000000000000\","
		"\"0000000000000009000000000000000000000000000000000000000000000000\","
		"\"00000000000000ff000000000000000000000000000000000000000000000000\","
		"\"0000000000000100000000000000000000000000000000000000000000000000\"]}",
		"{\"ids\":[\"0000000000000005000000000000000000000000000000000000000000000000\"],\"kinds\":[1]}",
		"[{\"kinds\":[1],\"limit\":5},{\"#t\":[\"b\"]},{\"authors\":[\"" ST_PK1 "\"],\"limit\":4}]",
		"[{\"since\":1050},{\"since\":1040,\"kinds\":[4]}]",
		"{\"search\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
		check_filter(filters[i]);

	/* long (truncated-key) tag values */
	snprintf(buf, sizeof buf, "{\"#t\":[\"%sx\"]}", longv);
	check_filter(buf);
	snprintf(buf, sizeof buf, "{\"#t\":[\"%sy\",\"a\"]}", longv);
	check_filter(buf);
	snprintf(buf, sizeof buf, "{\"#t\":[\"%s\"]}", longv);
	check_filter(buf);

	/* many author x kind pairs: the pk index with a kind check */
	size_t o = (size_t)snprintf(buf, sizeof buf, "{\"authors\":[\"%s\",\"%s\",\"%s\"],\"kinds\":[",
				    st_pkhex(1), st_pkhex(2), st_pkhex(3));
	for (int k = 0; k < 400; k++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d",
				      k ? "," : "", k * 3 + 1);
	snprintf(buf + o, sizeof buf - o, "]}");
	check_filter(buf);

	for (size_t i = 0; i < or_n; i++)
		free(or_all[i]);
}

/* Writes between slices: no repeats, no resurrected rows, order kept. */
Test(store, sliced_query_survives_writes)
{
	tern_query *q;
	tern_filter *fs;
	size_t n;
	uint64_t removed;
	int rc;

	st_open(NULL);
	for (int i = 1; i <= 10; i++)
		st_put_ev((uint64_t)i, 1, 100 + (uint64_t)i, 1, "[]", "");
	fs = st_filters("{}", &n);
	cr_assert_eq(tern_query_begin(&q, st_s, fs, n, 0), 0);
	st_got_clear();
	cr_assert_eq(tern_query_next(q, 3, st_collect, NULL), 1);
	cr_assert_eq(st_got_n, 3);
	/* remove the next row (7) and add older and newer rows */
	fs = st_filters("{\"ids\":[\"0000000000000007000000000000000000000000000000000000000000000000\"]}", &n);
	cr_assert_eq(tern_store_delete(st_s, fs, n, false, &removed), 0);
	cr_assert_eq(removed, 1);
	st_put_ev(50, 1, 500, 1, "[]", "");
	st_put_ev(51, 1, 1, 1, "[]", "");
	while ((rc = tern_query_next(q, 2, st_collect, NULL)) > 0)
		;
	cr_assert_eq(rc, 0);
	tern_query_end(q);
	uint64_t want[] = { 10, 9, 8, 6, 5, 4, 3, 2, 1, 51 };
	cr_assert_eq(st_got_n, 10);
	for (size_t i = 0; i < 10; i++)
		cr_assert_eq(st_got_id[i], want[i]);
}

static bool stop_after_two(void *ctx, tern_slice json, uint64_t serial)
{
	return ++*(int *)ctx < 2;
}

Test(store, visitor_can_stop)
{
	int seen = 0;
	size_t n;
	tern_filter *fs;

	st_open(NULL);
	for (int i = 1; i <= 5; i++)
		st_put_ev((uint64_t)i, 1, 100, 1, "[]", "");
	fs = st_filters("{}", &n);
	cr_assert_eq(tern_store_query(st_s, fs, n, 0, stop_after_two, &seen),
		     0);
	cr_assert_eq(seen, 2);
}
