/*
 * bench_event - what tern's event path costs per event, against the raw
 * BIP-340 verification of the same events.
 *
 *   bench_event FILE [MAX_EVENTS]     FILE: JSONL, one event per line
 *                                     (default MAX_EVENTS 20000)
 *
 * For the first MAX_EVENTS valid lines of FILE, on one thread, it times:
 *   parse   tern_event_parse
 *   id      parse + tern_event_compute_id + compare with the event's id
 *   full    parse + id + tern_event_check_sig        (what ingest does)
 *   raw     secp256k1_xonly_pubkey_parse + secp256k1_schnorrsig_verify of the
 *           same (pubkey, id, sig) triples, decoded beforehand (the limit)
 * The machine may be busy with other work, so full and raw are interleaved in
 * chunks of CHUNK events (raw chunk, full chunk, next chunk ...) and every
 * chunk is timed in ROUNDS rounds; each method's figure is the sum over chunks
 * of its fastest round. Load then hits both methods alike. The target is
 * full / raw <= 1.05.
 *
 * Output: "name value" lines (event_parse_us, event_id_us, event_full_us,
 * raw_verify_us, event_ratio, event_count).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <tern/arena.h>
#include <tern/error.h>
#include <tern/event.h>

struct line {
	const uint8_t *p;
	size_t n;
};

struct triple {
	uint8_t pub[32];
	uint8_t id[32];
	uint8_t sig[64];
};

static struct line *lines;
static struct triple *triples;
static size_t nlines;
static secp256k1_context *ctx;
static tern_arena arena;
static tern_event_limits limits;

enum pass { PASS_PARSE, PASS_ID, PASS_FULL };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, size_t i, int err)
{
	fprintf(stderr, "bench_event: line %zu: %s: %s\n", i + 1, what, tern_strerror(err));
	exit(1);
}

#define CHUNK 500
#define ROUNDS 3

/* tern's path over lines [from, to); returns seconds. */
static double run_tern(enum pass p, size_t from, size_t to)
{
	double t0 = now_s();

	for (size_t i = from; i < to; i++) {
		tern_event ev;
		uint8_t id[32];
		int rc;

		tern_arena_reset(&arena);
		rc = tern_event_parse(&ev, lines[i].p, lines[i].n, &limits, &arena, NULL);
		if (rc != 0)
			die("parse", i, rc);
		if (p == PASS_PARSE)
			continue;
		tern_event_compute_id(&ev, id);
		if (memcmp(id, ev.id, 32) != 0)
			die("id", i, TERN_EBADID);
		if (p == PASS_ID)
			continue;
		rc = tern_event_check_sig(&ev, NULL);
		if (rc != 0)
			die("sig", i, rc);
	}
	return now_s() - t0;
}

/* The raw verification of the same events [from, to); returns seconds. */
static double run_raw(size_t from, size_t to)
{
	double t0 = now_s();

	for (size_t i = from; i < to; i++) {
		const struct triple *t = &triples[i];
		secp256k1_xonly_pubkey pk;

		if (!secp256k1_xonly_pubkey_parse(ctx, &pk, t->pub) ||
		    !secp256k1_schnorrsig_verify(ctx, t->sig, t->id, 32, &pk)) {
			fprintf(stderr, "bench_event: raw verify failed on event %zu\n", i + 1);
			exit(1);
		}
	}
	return now_s() - t0;
}

/*
 * Times pass a of tern's path, and the raw verify too when with_raw, chunk
 * by chunk, ROUNDS times each; stores in *out_a (and *out_raw) the µs per
 * event of the sum over chunks of each chunk's fastest round.
 */
static void measure(enum pass a, int with_raw, double *out_a, double *out_raw)
{
	double sum_a = 0, sum_r = 0;

	for (size_t from = 0; from < nlines; from += CHUNK) {
		size_t to = from + CHUNK < nlines ? from + CHUNK : nlines;
		double best_a = 1e30, best_r = 1e30, t;

		for (int r = 0; r < ROUNDS; r++) {
			if (with_raw) {
				t = run_raw(from, to);
				best_r = t < best_r ? t : best_r;
			}
			t = run_tern(a, from, to);
			best_a = t < best_a ? t : best_a;
		}
		sum_a += best_a;
		sum_r += with_raw ? best_r : 0;
	}
	*out_a = sum_a * 1e6 / (double)nlines;
	if (out_raw)
		*out_raw = sum_r * 1e6 / (double)nlines;
}

int main(int argc, char **argv)
{
	size_t max = 20000, cap;
	struct stat st;
	const uint8_t *buf, *p, *end;
	double parse_us, id_us, full_us, raw_us;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_event FILE [MAX_EVENTS]\n");
		return 2;
	}
	if (argc > 2)
		max = strtoull(argv[2], NULL, 10);
	if (max == 0)
		max = 20000;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[1]);
		return 1;
	}
	if (st.st_size == 0) {
		fprintf(stderr, "bench_event: %s is empty\n", argv[1]);
		return 1;
	}
	buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	tern_event_limits_defaults(&limits);
	tern_arena_init(&arena, 0);
	cap = max;
	lines = calloc(cap, sizeof(*lines));
	triples = calloc(cap, sizeof(*triples));
	if (!ctx || !lines || !triples) {
		fprintf(stderr, "bench_event: out of memory\n");
		return 1;
	}

	/* Load: split lines and decode each event once (untimed) for the raw pass. */
	end = buf + st.st_size;
	for (p = buf; p < end && nlines < cap;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		tern_event ev;

		if (n > 0) {
			tern_arena_reset(&arena);
			if (tern_event_parse(&ev, p, n, &limits, &arena, NULL) == 0) {
				lines[nlines].p = p;
				lines[nlines].n = n;
				memcpy(triples[nlines].pub, ev.pubkey, 32);
				memcpy(triples[nlines].id, ev.id, 32);
				memcpy(triples[nlines].sig, ev.sig, 64);
				nlines++;
			}
		}
		p += n + 1;
	}
	if (nlines == 0) {
		fprintf(stderr, "bench_event: no parsable event in %s\n", argv[1]);
		return 1;
	}

	measure(PASS_PARSE, 0, &parse_us, NULL);
	measure(PASS_ID, 0, &id_us, NULL);
	measure(PASS_FULL, 1, &full_us, &raw_us);

	printf("event_count %zu\n", nlines);
	printf("event_parse_us %.3f\n", parse_us);
	printf("event_id_us %.3f\n", id_us);
	printf("event_full_us %.3f\n", full_us);
	printf("raw_verify_us %.3f\n", raw_us);
	printf("event_ratio %.3f\n", full_us / raw_us);

	tern_arena_free(&arena);
	secp256k1_context_destroy(ctx);
	free(lines);
	free(triples);
	munmap((void *)buf, (size_t)st.st_size);
	close(fd);
	return 0;
}
