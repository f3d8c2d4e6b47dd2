/*
 * bench_match - cost of matching new events against live subscriptions:
 * the per-thread index (src/relay/subindex.c) against a linear scan of every
 * subscription with tern_filters_match(), which is what the index replaces.
 *
 *   bench_match [SUBS ...]        default: 1000 10000
 *
 * For each SUBS it builds that many subscriptions of realistic shapes, about
 * five per connection:
 *   45%  home feed        {"authors":[50-300 keys],"kinds":[1,6,7],"since":T}
 *   28%  notifications    {"#p":[own key],"kinds":[1,6,7,9735]}
 *   10%  thread           {"#e":[a note id]} (half of them also {"ids":[it]})
 *    8%  profiles         {"kinds":[0,10002],"authors":[1-20 keys]}
 *    6%  hashtag          {"#t":["<one of 40 tags>"],"kinds":[1]}
 *    2%  kind feed        {"kinds":[30023]}
 *    1%  catch-all        {"since":T} or {"limit":100}
 * and EVENTS random events (kind 1 notes with p/e/t tags, reactions,
 * reposts, zaps, profiles, follow lists with 50-200 p tags, articles) whose
 * authors and tagged keys follow a skewed popularity, as on a real relay.
 * Keys are drawn from 10,000 pubkeys.
 *
 * The index matches every event (fastest of ROUNDS rounds); the linear scan
 * matches the first LINEAR events. Both must find the same deliveries on
 * those events, or the program fails.
 *
 * Output: "name value" lines, one set per SUBS value N:
 *   match_N_filters, match_N_add_ns_per_sub, match_N_index_bytes_per_sub,
 *   match_N_deliveries_per_event, match_N_index_ns_per_event,
 *   match_N_index_events_per_s, match_N_index_deliveries_per_s,
 *   match_N_linear_ns_per_event, match_N_speedup
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/arena.h>
#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>
#include <tern/hex.h>

#include "relay/subindex.h"

#define NKEYS 10000
#define NNOTES 5000   /* ids that threads and e tags refer to */
#define NHASHTAGS 40
#define EVENTS 20000
#define LINEAR 2000
#define ROUNDS 3
#define NOW 1700000000u

static char keys[NKEYS][65];
static char notes[NNOTES][65];
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rnd(uint32_t n)
{
	return (uint32_t)(rnd64() % n);
}

/* Skewed pick in [0, n): small indexes are much more popular. */
static uint32_t skewed(uint32_t n)
{
	double u = (double)(rnd64() >> 11) / (double)(1ull << 53);

	return (uint32_t)(u * u * u * n);
}

static void rand_hex(char out[65])
{
	uint8_t b[32];

	for (int i = 0; i < 32; i += 8) {
		uint64_t r = rnd64();

		memcpy(b + i, &r, 8);
	}
	tern_hex_encode(out, b, 32);
	out[64] = '\0';
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- text building ------------------------------------------------------ */

struct sb {
	char *p;
	size_t n, cap;
};

static void sbf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < b->cap - b->n)
			break;
		b->cap = b->cap * 2 + (size_t)n + 256;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	b->n += (size_t)n;
}

static void key_list(struct sb *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		sbf(b, "%s\"%s\"", i ? "," : "", keys[skewed(NKEYS)]);
}

static void rand_sub(struct sb *b)
{
	uint32_t r = rnd(100);

	if (r < 45) {
		sbf(b, "{\"authors\":[");
		key_list(b, 50 + rnd(251));
		sbf(b, "],\"kinds\":[1,6,7],\"since\":%u}", NOW - rnd(3600));
	} else if (r < 73) {
		sbf(b, "{\"#p\":[\"%s\"],\"kinds\":[1,6,7,9735]}", keys[rnd(NKEYS)]);
	} else if (r < 83) {
		const char *id = notes[skewed(NNOTES)];

		if (r & 1)
			sbf(b, "[{\"ids\":[\"%s\"]},{\"#e\":[\"%s\"]}]", id, id);
		else
			sbf(b, "{\"#e\":[\"%s\"]}", id);
	} else if (r < 91) {
		sbf(b, "{\"kinds\":[0,10002],\"authors\":[");
		key_list(b, 1 + rnd(20));
		sbf(b, "]}");
	} else if (r < 97) {
		sbf(b, "{\"#t\":[\"tag%u\"],\"kinds\":[1]}", skewed(NHASHTAGS));
	} else if (r < 99) {
		sbf(b, "{\"kinds\":[30023]}");
	} else if (r & 1) {
		sbf(b, "{\"since\":%u}", NOW - rnd(600));
	} else {
		sbf(b, "{\"limit\":100}");
	}
}

static void p_tags(struct sb *b, uint32_t n, bool *first)
{
	for (uint32_t i = 0; i < n; i++) {
		sbf(b, "%s[\"p\",\"%s\"]", *first ? "" : ",", keys[skewed(NKEYS)]);
		*first = false;
	}
}

static void rand_event(struct sb *b, uint32_t seq)
{
	uint32_t r = rnd(100), kind;
	bool first = true;
	char id[65];

	rand_hex(id);
	if (r < 68)
		kind = 1;
	else if (r < 83)
		kind = 7;
	else if (r < 88)
		kind = 6;
	else if (r < 90)
		kind = 9735;
	else if (r < 93)
		kind = 0;
	else if (r < 95)
		kind = 3;
	else if (r < 97)
		kind = 10002;
	else
		kind = 30023;
	sbf(b, "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%u,\"kind\":%u,\"tags\":[",
	    id, keys[skewed(NKEYS)], NOW + seq / 10, kind);
	switch (kind) {
	case 1:
		if (rnd(3) == 0) {
			sbf(b, "[\"e\",\"%s\",\"\",\"root\"]", notes[skewed(NNOTES)]);
			first = false;
		}
		p_tags(b, rnd(4), &first);
		if (rnd(4) == 0) {
			sbf(b, "%s[\"t\",\"tag%u\"]", first ? "" : ",", skewed(NHASHTAGS));
			first = false;
		}
		break;
	case 6:
	case 7:
	case 9735:
		sbf(b, "[\"e\",\"%s\"]", notes[skewed(NNOTES)]);
		first = false;
		p_tags(b, 1, &first);
		break;
	case 3:
		p_tags(b, 50 + rnd(151), &first);
		break;
	case 30023:
		sbf(b, "[\"d\",\"article-%u\"],[\"t\",\"tag%u\"]", seq, skewed(NHASHTAGS));
		break;
	default:
		break;
	}
	sbf(b, "],\"content\":\"hello\",\"sig\":\"%s%s\"}", keys[0], keys[1]);
}

/* ---- the run ------------------------------------------------------------ */

struct subrec {
	void *owner;
	tern_filter *fs;
	size_t n;
};

static void count_visit(void *ctx, const tern__subindex_sub *sub)
{
	(*(size_t *)ctx)++;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_match: %s: %s\n", what, tern_strerror(err));
	exit(1);
}

static void run(uint32_t nsubs, const tern_event *evs)
{
	tern__subindex *ix;
	tern__subindex_counts c;
	tern_arena fa; /* the linear scan's copy of the filters */
	struct subrec *subs = calloc(nsubs, sizeof(*subs));
	struct sb b = { 0 };
	size_t nfilters = 0, idx_hits = 0, lin_hits = 0, all_hits = 0;
	double t, add_s = 0, idx_s = 1e30, lin_s;
	int rc;

	if (!subs)
		abort();
	tern_arena_init(&fa, 0);
	rc = tern__subindex_new(&ix);
	if (rc)
		die("index", rc);
	for (uint32_t i = 0; i < nsubs; i++) {
		tern_reason why = { 0 };
		char id[16], *text;

		b.n = 0;
		rand_sub(&b);
		text = tern_arena_alloc(&fa, b.n);
		memcpy(text, b.p, b.n);
		rc = tern_filter_parse_list(&subs[i].fs, &subs[i].n, (const uint8_t *)text,
					    b.n, NULL, &fa, &why);
		if (rc) {
			fprintf(stderr, "bench_match: filter: %s\n", why.msg);
			exit(1);
		}
		subs[i].owner = (void *)(uintptr_t)(1 + i / 5);
		snprintf(id, sizeof id, "sub%u", i % 5);
		t = now_s();
		rc = tern__subindex_add(ix, subs[i].owner,
					(tern_slice){ (const uint8_t *)id, strlen(id) },
					subs[i].fs, subs[i].n, NULL);
		add_s += now_s() - t;
		if (rc)
			die("add", rc);
		nfilters += subs[i].n;
	}
	tern__subindex_stats(ix, &c);

	for (int r = 0; r < ROUNDS; r++) {
		size_t hits = 0;

		t = now_s();
		for (size_t e = 0; e < EVENTS; e++)
			hits += tern__subindex_match(ix, &evs[e], count_visit, &idx_hits);
		t = now_s() - t;
		if (t < idx_s)
			idx_s = t;
		all_hits = hits;
	}
	idx_hits = 0;
	for (size_t e = 0; e < LINEAR; e++)
		tern__subindex_match(ix, &evs[e], count_visit, &idx_hits);

	t = now_s();
	for (size_t e = 0; e < LINEAR; e++)
		for (uint32_t i = 0; i < nsubs; i++)
			lin_hits += tern_filters_match(subs[i].fs, subs[i].n, &evs[e]);
	lin_s = now_s() - t;
	if (lin_hits != idx_hits) {
		fprintf(stderr, "bench_match: index found %zu deliveries, linear scan %zu\n",
			idx_hits, lin_hits);
		exit(1);
	}

	printf("match_%u_filters %zu\n", nsubs, nfilters);
	printf("match_%u_add_ns_per_sub %.0f\n", nsubs, add_s * 1e9 / nsubs);
	printf("match_%u_index_bytes_per_sub %.0f\n", nsubs, (double)c.bytes / nsubs);
	printf("match_%u_deliveries_per_event %.2f\n", nsubs, (double)all_hits / EVENTS);
	printf("match_%u_index_ns_per_event %.1f\n", nsubs, idx_s * 1e9 / EVENTS);
	printf("match_%u_index_events_per_s %.0f\n", nsubs, EVENTS / idx_s);
	printf("match_%u_index_deliveries_per_s %.0f\n", nsubs, (double)all_hits / idx_s);
	printf("match_%u_linear_ns_per_event %.1f\n", nsubs, lin_s * 1e9 / LINEAR);
	printf("match_%u_speedup %.1f\n", nsubs, (lin_s / LINEAR) / (idx_s / EVENTS));
	fflush(stdout);

	tern__subindex_free(ix);
	tern_arena_free(&fa);
	free(subs);
	free(b.p);
}

int main(int argc, char **argv)
{
	static const uint32_t defaults[] = { 1000, 10000 };
	tern_arena ea;
	tern_event *evs = calloc(EVENTS, sizeof(*evs));
	struct sb b = { 0 };

	if (!evs)
		abort();
	for (int i = 0; i < NKEYS; i++)
		rand_hex(keys[i]);
	for (int i = 0; i < NNOTES; i++)
		rand_hex(notes[i]);
	tern_arena_init(&ea, 0);
	for (uint32_t i = 0; i < EVENTS; i++) {
		tern_reason why = { 0 };
		char *text;
		int rc;

		b.n = 0;
		rand_event(&b, i);
		text = tern_arena_alloc(&ea, b.n);
		if (!text)
			abort();
		memcpy(text, b.p, b.n);
		rc = tern_event_parse(&evs[i], (const uint8_t *)text, b.n, NULL, &ea, &why);
		if (rc) {
			fprintf(stderr, "bench_match: event: %s\n", why.msg);
			return 1;
		}
	}
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			long n = strtol(argv[i], NULL, 10);

			if (n <= 0 || n > 10000000) {
				fprintf(stderr, "usage: bench_match [SUBS ...]\n");
				return 2;
			}
			run((uint32_t)n, evs);
		}
	} else {
		for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
			run(defaults[i], evs);
	}
	tern_arena_free(&ea);
	free(evs);
	free(b.p);
	return 0;
}
