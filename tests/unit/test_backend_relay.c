/*
 * The relay over the storage interface, in process: the in-memory store as
 * the relay's backend plus a second in-memory store as an extra query
 * source, driven by a raw WebSocket client. REQ results of both come as one
 * newest-first stream with EOSE after both; COUNT sums them and merges
 * their NIP-45 registers. The merge itself is also checked directly, over
 * many slices. The relay's overwrite-deletion-outcome hooks reach the
 * memory backend: a kind-5 sent by a client keeps what they keep.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <tern/backend.h>
#include <tern/config.h>
#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>
#include <tern/hooks.h>
#include <tern/relay.h>

#include "relay_client.h"

#include "relay/relay.h"
#include "relay/sources.h"

static tern_relay *relay;
static pthread_t runner;
static char dbdir[64];
static tern_memory *memA, *memB;

/* ---- events ------------------------------------------------------------ */

static const char *idhex(uint64_t n)
{
	static char bufs[8][65];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 65, "%016llx%048d", (unsigned long long)n, 0);
	return b;
}

static const char *pkhex(uint8_t p)
{
	static char bufs[8][65];
	static int next;
	char *b = bufs[next++ % 8];

	for (int i = 0; i < 32; i++)
		snprintf(b + 2 * i, 3, "%02x", p);
	return b;
}

static void got_result(void *ctx, const tern_write_result *res)
{
	*(tern_write_result *)ctx = *res;
}

/* Stores an unsigned (fake id and sig) event straight into m, through its
 * save (which completes before it returns). */
static tern_write_result put(tern_memory *m, uint64_t id, uint8_t pk,
			     uint64_t ca, uint32_t kind, const char *tags)
{
	char *j, sig[129];
	tern_write_result r;
	tern_event ev;
	tern_arena a;

	memset(sig, 'f', 128);
	sig[128] = '\0';
	cr_assert(asprintf(&j, "{\"id\":\"%s\",\"pubkey\":\"%s\","
			   "\"created_at\":%llu,\"kind\":%u,\"tags\":%s,"
			   "\"content\":\"\",\"sig\":\"%s\"}", idhex(id),
			   pkhex(pk), (unsigned long long)ca, kind, tags,
			   sig) > 0);
	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)j, strlen(j), NULL,
				      &a, NULL), 0);
	cr_assert_eq(tern_memory_backend.save(m, &ev, got_result, &r), 0);
	cr_assert_eq(r.status, TERN_WRITE_STORED, "%s", r.reason.msg);
	tern_arena_free(&a);
	free(j);
	return r;
}

/* ---- the relay ------------------------------------------------------------ */

static void setup(void)
{
	tern_config cfg;
	char err[256];

	cr_assert_eq(tern_memory_open(&memA, NULL), 0);
	cr_assert_eq(tern_memory_open(&memB, NULL), 0);
	strcpy(dbdir, "/tmp/tern-backend-relay-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	tern_config_defaults(&cfg);
	cfg.relay.port = port = free_port();
	cfg.relay.io_threads = 2;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.store.dir = dbdir;
	cfg.store.no_sync = true;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
}

static void start(void)
{
	cr_assert_eq(pthread_create(&runner, NULL, run_main, relay), 0);
}

static void teardown(void)
{
	char cmd[128];

	if (relay) {
		tern_relay_stop(relay);
		pthread_join(runner, NULL);
		tern_relay_free(relay);
		relay = NULL;
	}
	tern_memory_close(memA);
	tern_memory_close(memB);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dbdir);
}

/* ---- a raw WebSocket client ---------------------------------------------- */

static int ws_open(void)
{
	char resp[1024];
	int fd = dial();

	cr_assert_eq(http(fd, upgrade_req, resp, sizeof resp), 101, "%s",
		     resp);
	return fd;
}

/* Sends a REQ and checks the events (by id number) then EOSE. */
static void expect_req(int fd, const char *sub, const char *filters,
		       const uint64_t *want, size_t n)
{
	char *msg, buf[4096], eose[128];

	cr_assert(asprintf(&msg, "[\"REQ\",\"%s\",%s]", sub, filters) > 0);
	ws_send(fd, msg);
	free(msg);
	for (size_t i = 0; i < n; i++) {
		char head[64];
		const char *id;

		ws_recv_reply(fd, buf, sizeof buf);
		snprintf(head, sizeof head, "[\"EVENT\",\"%s\",{\"id\":\"", sub);
		cr_assert(!strncmp(buf, head, strlen(head)), "%s: [%zu] %s",
			  filters, i, buf);
		id = buf + strlen(head);
		cr_assert(!strncmp(id, idhex(want[i]), 64),
			  "%s: [%zu] is %.16s, want %llu", filters, i, id,
			  (unsigned long long)want[i]);
	}
	ws_recv_reply(fd, buf, sizeof buf);
	snprintf(eose, sizeof eose, "[\"EOSE\",\"%s\"]", sub);
	cr_assert_str_eq(buf, eose, "%s", filters);
	/* No live events for it later on. */
	snprintf(eose, sizeof eose, "[\"CLOSE\",\"%s\"]", sub);
	ws_send(fd, eose);
}

#define EXPECT_REQ(fd, sub, filters, ...)                                      \
	expect_req(fd, sub, filters, (uint64_t[]){ __VA_ARGS__ },              \
		   sizeof((uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))

/* A signed event of key seed (all 32 bytes), for the EVENT path. */
static char *signed_event(uint8_t seed, uint64_t created_at, uint32_t kind,
			  const char *tags)
{
	const char *fmt = "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%llu,"
			  "\"kind\":%u,\"tags\":%s,\"content\":\"hi\","
			  "\"sig\":\"%s\"}";
	secp256k1_context *sx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	uint8_t sk[32], pk[32], id[32], sig[64], aux[32] = { 0 };
	char pkh[65], idh[65], sigh[129], *s;
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpk;
	tern_event ev;
	tern_arena a;

	memset(sk, seed, 32);
	cr_assert(secp256k1_keypair_create(sx, &kp, sk));
	cr_assert(secp256k1_keypair_xonly_pub(sx, &xpk, NULL, &kp));
	secp256k1_xonly_pubkey_serialize(sx, pk, &xpk);
	tern_hex_encode(pkh, pk, 32);
	pkh[64] = '\0';
	memset(idh, '0', 64);
	idh[64] = '\0';
	memset(sigh, '0', 128);
	sigh[128] = '\0';
	cr_assert(asprintf(&s, fmt, idh, pkh, (unsigned long long)created_at,
			   kind, tags, sigh) > 0);
	tern_arena_init(&a, 0);
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)s, strlen(s), NULL,
				      &a, NULL), 0);
	tern_event_compute_id(&ev, id);
	tern_arena_free(&a);
	free(s);
	cr_assert(secp256k1_schnorrsig_sign32(sx, sig, id, &kp, aux));
	tern_hex_encode(idh, id, 32);
	tern_hex_encode(sigh, sig, 64);
	cr_assert(asprintf(&s, fmt, idh, pkh, (unsigned long long)created_at,
			   kind, tags, sigh) > 0);
	secp256k1_context_destroy(sx);
	return s;
}

static char *signed_note(uint8_t seed, uint64_t created_at)
{
	return signed_event(seed, created_at, 1, "[]");
}

/* Sends ev; expects OK true. */
static void publish(int fd, const char *ev)
{
	char buf[4096], *msg;

	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", ev) > 0);
	ws_send(fd, msg);
	free(msg);
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert(strstr(buf, "[\"OK\"") && strstr(buf, ",true,"), "%s", buf);
}

/* ---- tests ------------------------------------------------------------------ */

TestSuite(backend_relay, .init = setup, .fini = teardown, .timeout = 60);

Test(backend_relay, configuration_is_checked)
{
	tern_backend_ops no_save = tern_memory_backend;
	tern_backend_ops no_query = tern_memory_backend;

	no_save.save = NULL;
	no_query.query_next = NULL;
	cr_assert_eq(tern_relay_set_backend(relay, &no_save, memA),
		     TERN_EINVAL);
	cr_assert_eq(tern_relay_set_backend(relay, NULL, memA), TERN_EINVAL);
	cr_assert_eq(tern_relay_add_query_source(relay, "x", &no_query, memB),
		     TERN_EINVAL);
	/* a query source needs no save */
	cr_assert_eq(tern_relay_add_query_source(relay, "x", &no_save, memB),
		     0);
	cr_assert_eq(relay->sources->n, 2);
	tern_relay_remove_query_sources(relay, "x");
	cr_assert_eq(relay->sources->n, 1);
	cr_assert_eq(relay->sources->v[0].ops, &tern_lmdb_backend);
}

Test(backend_relay, req_merges_sources_newest_first_then_eose)
{
	char buf[4096], *ev, *msg;
	uint64_t c;
	tern_filter all = { .until = UINT64_MAX };
	int fd;

	put(memA, 1, 1, 100, 1, "[]");
	put(memA, 3, 1, 300, 1, "[]");
	put(memA, 5, 1, 500, 1, "[]");
	put(memA, 7, 2, 250, 1, "[]"); /* in both */
	put(memB, 2, 1, 200, 1, "[]");
	put(memB, 4, 1, 400, 1, "[]");
	put(memB, 6, 1, 600, 1, "[]");
	put(memB, 7, 2, 250, 1, "[]");
	cr_assert_eq(tern_relay_set_backend(relay, &tern_memory_backend, memA),
		     0);
	cr_assert_eq(tern_relay_add_query_source(relay, "b",
						 &tern_memory_backend, memB),
		     0);
	start();
	fd = ws_open();

	EXPECT_REQ(fd, "all", "{}", 6, 5, 4, 3, 7, 2, 1);
	EXPECT_REQ(fd, "kinds", "{\"kinds\":[1]}", 6, 5, 4, 3, 7, 2, 1);
	/* the limit applies to the merged stream */
	EXPECT_REQ(fd, "lim", "{\"limit\":3}", 6, 5, 4);
	EXPECT_REQ(fd, "two", "{\"limit\":2},{\"authors\":[\"0202020202020202"
		   "020202020202020202020202020202020202020202020202\"]}",
		   6, 5, 7);
	EXPECT_REQ(fd, "old", "{\"until\":250,\"limit\":2}", 7, 2);

	/* COUNT sums the sources (the shared event counts twice) */
	ws_send(fd, "[\"COUNT\",\"c\",{\"kinds\":[1]}]");
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert_str_eq(buf, "[\"COUNT\",\"c\",{\"count\":8}]");

	/* EVENT goes to the backend, and shows first */
	ev = signed_note(0x33, (uint64_t)time(NULL));
	cr_assert(asprintf(&msg, "[\"EVENT\",%s]", ev) > 0);
	ws_send(fd, msg);
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert(strstr(buf, "[\"OK\"") && strstr(buf, ",true,"), "%s", buf);
	cr_assert_eq(tern_memory_backend.count(memA, &all, 1, &c), 0);
	cr_assert_eq(c, 5);
	cr_assert_eq(tern_memory_backend.count(memB, &all, 1, &c), 0);
	cr_assert_eq(c, 4);
	ws_send(fd, "[\"REQ\",\"new\",{\"limit\":2}]");
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert(strstr(buf, ev), "%s", buf);
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert(strstr(buf, idhex(6)), "%s", buf);
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert_str_eq(buf, "[\"EOSE\",\"new\"]");
	free(msg);
	free(ev);
	close(fd);
}

Test(backend_relay, count_merges_hll_of_sources)
{
	uint8_t want[TERN_HLL_REGISTERS] = { 0 }, pk[32];
	char buf[4096], tags[128], q[256], hex[2 * TERN_HLL_REGISTERS + 1];
	char exp[1024];
	const char *target = "abababababababababababababababab"
			     "c0cdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
	int fd;

	/* offset: hex digit 32 of the target ('c' = 12) + 8 */
	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"]]", target);
	for (int p = 1; p <= 10; p++) {
		put(memA, (uint64_t)p, (uint8_t)p, 1000, 3, tags);
		memset(pk, p, 32);
		tern_hll_add(want, 20, pk);
	}
	for (int p = 5; p <= 20; p++) {
		put(memB, 100 + (uint64_t)p, (uint8_t)p, 1000, 3, tags);
		memset(pk, p, 32);
		tern_hll_add(want, 20, pk);
	}
	put(memB, 999, 0x77, 1000, 1, tags); /* kind 1: not counted */
	cr_assert_eq(tern_relay_set_backend(relay, &tern_memory_backend, memA),
		     0);
	cr_assert_eq(tern_relay_add_query_source(relay, "b",
						 &tern_memory_backend, memB),
		     0);
	start();
	fd = ws_open();
	snprintf(q, sizeof q, "[\"COUNT\",\"h\",{\"kinds\":[3],\"#p\":[\"%s\"]}]",
		 target);
	ws_send(fd, q);
	ws_recv_reply(fd, buf, sizeof buf);
	tern_hex_encode(hex, want, TERN_HLL_REGISTERS);
	hex[2 * TERN_HLL_REGISTERS] = '\0';
	snprintf(exp, sizeof exp, "[\"COUNT\",\"h\",{\"count\":26,\"hll\":\"%s\"}]",
		 hex);
	cr_assert_str_eq(buf, exp);
	/* the registers estimate the 20 distinct authors */
	cr_assert_geq(tern_hll_estimate(want), 18);
	cr_assert_leq(tern_hll_estimate(want), 22);
	/* a filter that does not qualify: a plain count */
	ws_send(fd, "[\"COUNT\",\"k\",{\"kinds\":[3]}]");
	ws_recv_reply(fd, buf, sizeof buf);
	cr_assert_str_eq(buf, "[\"COUNT\",\"k\",{\"count\":26}]");
	close(fd);
}

/* ---- overwrite-deletion-outcome hooks --------------------------------- */

static char keep_id[65];      /* the id the hook keeps */
static atomic_int nasked;
static atomic_int bad_deletion; /* a call whose deletion was not kind 5 */

static bool keep_one(void *ud, const tern_event *target,
		     const tern_event *deletion)
{
	char id[65];

	atomic_fetch_add(&nasked, 1);
	if (deletion->kind != 5 || memcmp(deletion->pubkey, target->pubkey, 32))
		atomic_store(&bad_deletion, 1);
	tern_hex_encode(id, target->id, 32);
	id[64] = '\0';
	return strcmp(id, keep_id) != 0;
}

/* Sends a REQ for ids and returns how many of them came back before
 * EOSE, with a bit per id found. */
static unsigned req_ids(int fd, char *const *evs, size_t n)
{
	char msg[1024] = "[\"REQ\",\"ids\",{\"ids\":[", buf[4096];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++) {
		strcat(msg, i ? ",\"" : "\"");
		strncat(msg, evs[i] + 7, 64);
		strcat(msg, "\"");
	}
	strcat(msg, "]}]");
	ws_send(fd, msg);
	for (;;) {
		ws_recv_reply(fd, buf, sizeof buf);
		if (!strcmp(buf, "[\"EOSE\",\"ids\"]"))
			break;
		for (size_t i = 0; i < n; i++)
			if (strstr(buf, evs[i]))
				found |= 1u << i;
	}
	ws_send(fd, "[\"CLOSE\",\"ids\"]");
	return found;
}

/* A kind-5 deleting evs[0..n) (by their ids). */
static char *deletion_of(uint8_t seed, uint64_t created_at, char *const *evs,
			 size_t n)
{
	char tags[1024] = "[", *d;

	for (size_t i = 0; i < n; i++) {
		strcat(tags, i ? ",[\"e\",\"" : "[\"e\",\"");
		strncat(tags, evs[i] + 7, 64);
		strcat(tags, "\"]");
	}
	strcat(tags, "]");
	d = signed_event(seed, created_at, 5, tags);
	return d;
}

Test(backend_relay, deletion_outcome_hooks_reach_the_memory_backend)
{
	uint64_t t = (uint64_t)time(NULL);
	char *ev[3], *del, *del2, tags[128];
	tern_write_result r;
	int fd;

	ev[0] = signed_event(0x33, t - 30, 1, "[]"); /* kept */
	ev[1] = signed_event(0x33, t - 20, 1, "[]"); /* deleted */
	ev[2] = signed_event(0x44, t - 10, 1, "[]"); /* another author's */
	memcpy(keep_id, ev[0] + 7, 64);
	keep_id[64] = '\0';
	atomic_store(&nasked, 0);
	atomic_store(&bad_deletion, 0);
	cr_assert_eq(tern_relay_set_backend(relay, &tern_memory_backend, memA),
		     0);
	cr_assert_eq(tern_on_overwrite_deletion_outcome(relay, "t", keep_one,
							NULL), 0);
	start();
	fd = ws_open();
	for (int i = 0; i < 3; i++)
		publish(fd, ev[i]);
	cr_assert_eq(req_ids(fd, ev, 3), 7);
	del = deletion_of(0x33, t, ev, 3);
	publish(fd, del);
	/* asked about its author's two events only */
	cr_assert_eq(atomic_load(&nasked), 2);
	cr_assert_not(atomic_load(&bad_deletion));
	cr_assert_eq(req_ids(fd, ev, 3), 1 | 4);
	/* without the hook, the kept one goes with the next deletion */
	tern_hooks_remove_owner(relay, "t");
	del2 = deletion_of(0x33, t + 1, ev, 1);
	publish(fd, del2);
	cr_assert_eq(atomic_load(&nasked), 2);
	cr_assert_eq(req_ids(fd, ev, 3), 4);
	close(fd);

	/* once the relay has stopped, the backend no longer calls it */
	tern_relay_stop(relay);
	pthread_join(runner, NULL);
	cr_assert_eq(tern_on_overwrite_deletion_outcome(relay, "t", keep_one,
							NULL), 0);
	memcpy(keep_id, idhex(1), 65);
	put(memA, 1, 0x55, t, 1, "[]");
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"]]", idhex(1));
	r = put(memA, 2, 0x55, t, 5, tags);
	cr_assert_eq(r.nremoved, 1);
	cr_assert_eq(atomic_load(&nasked), 2);
	tern_relay_free(relay);
	relay = NULL;
	for (int i = 0; i < 3; i++)
		free(ev[i]);
	free(del);
	free(del2);
}

/* ---- the merge alone ---------------------------------------------------- */

static uint64_t rows_ca[1024];
static size_t nrows;

static bool collect(void *ctx, tern_slice json, uint64_t serial)
{
	cr_assert_lt(nrows, 1024);
	rows_ca[nrows++] = strtoull((const char *)json.p + 162, NULL, 10);
	return nrows != *(size_t *)ctx;
}

Test(backend_relay, merge_over_many_slices)
{
	tern_backend_ops counted = tern_memory_backend;
	tern__source src[2] = {
		{ NULL, &tern_memory_backend, NULL },
		{ NULL, &counted, NULL },
	};
	tern_filter all = { .until = UINT64_MAX };
	tern__mquery *q;
	size_t stop = 0;
	int rc;

	/* interleaved: A has the even times, B the odd ones */
	for (uint64_t i = 0; i < 300; i++) {
		put(memA, 1 + 2 * i, 1, 2 * i, 1, "[]");
		put(memB, 2 + 2 * i, 1, 2 * i + 1, 1, "[]");
	}
	counted.count = NULL;
	src[0].self = memA;
	src[1].self = memB;
	cr_assert_eq(tern__sources_merge_begin(&q, src, 2, &all, 1, 0), 0);
	nrows = 0;
	while ((rc = tern__sources_query_next(q, 7, collect, &stop)) == 1)
		cr_assert_leq(nrows % 7, 7);
	cr_assert_eq(rc, 0);
	tern__sources_query_end(q);
	cr_assert_eq(nrows, 600);
	for (size_t i = 0; i < 600; i++)
		cr_assert_eq(rows_ca[i], 599 - i, "[%zu] = %llu", i,
			     (unsigned long long)rows_ca[i]);
	/* a visitor that stops ends the merge */
	stop = 5;
	nrows = 0;
	cr_assert_eq(tern__sources_merge_begin(&q, src, 2, &all, 1, 0), 0);
	cr_assert_eq(tern__sources_query_next(q, 0, collect, &stop), 0);
	cr_assert_eq(tern__sources_query_next(q, 0, collect, &stop), 0);
	tern__sources_query_end(q);
	cr_assert_eq(nrows, 5);
	/* limit_cap applies per filter over the merge */
	stop = 0;
	nrows = 0;
	cr_assert_eq(tern__sources_merge_begin(&q, src, 2, &all, 1, 10), 0);
	cr_assert_eq(tern__sources_query_next(q, 0, collect, &stop), 0);
	tern__sources_query_end(q);
	cr_assert_eq(nrows, 10);
	cr_assert_eq(rows_ca[9], 590);
}
