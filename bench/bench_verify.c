/*
 * bench_verify - the raw BIP-340 verification rate of this machine: the
 * ceiling every ingest figure of tern is compared with.
 *
 * Signs random 32-byte messages with libsecp256k1 directly, then measures
 * what verifying one Nostr event costs at minimum: parse the x-only public
 * key from its 32 bytes and verify the Schnorr signature. Runs for a bounded
 * time on one thread, then on every online core.
 *
 *   bench_verify [SECONDS]        (default 2 per measurement)
 *
 * Output: one "name value" line per figure, for scripts:
 *   verify_1t_us, verify_1t_per_s, verify_threads, verify_all_per_s
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#define NKEYS 64
#define NSIGS 4096
#define BATCH 64 /* verifications between two clock reads */

struct sample {
	unsigned char pub[32];
	unsigned char msg[32];
	unsigned char sig[64];
};

static secp256k1_context *ctx;
static struct sample *samples;

struct worker {
	pthread_t tid;
	unsigned start;
	double seconds;
	unsigned long long done;
	int failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_random(void *p, size_t n)
{
	unsigned char *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("getrandom");
			exit(1);
		}
		b += r;
		n -= (size_t)r;
	}
}

static void make_samples(void)
{
	secp256k1_keypair kp[NKEYS];
	unsigned char pub[NKEYS][32];

	for (int k = 0; k < NKEYS; k++) {
		unsigned char sk[32];
		secp256k1_xonly_pubkey xpk;

		do
			fill_random(sk, sizeof(sk));
		while (!secp256k1_keypair_create(ctx, &kp[k], sk));
		if (!secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp[k]) ||
		    !secp256k1_xonly_pubkey_serialize(ctx, pub[k], &xpk)) {
			fprintf(stderr, "bench_verify: key derivation failed\n");
			exit(1);
		}
	}
	samples = calloc(NSIGS, sizeof(*samples));
	if (!samples) {
		perror("calloc");
		exit(1);
	}
	for (int i = 0; i < NSIGS; i++) {
		struct sample *s = &samples[i];
		unsigned char aux[32];

		fill_random(s->msg, sizeof(s->msg));
		fill_random(aux, sizeof(aux));
		memcpy(s->pub, pub[i % NKEYS], 32);
		if (!secp256k1_schnorrsig_sign32(ctx, s->sig, s->msg, &kp[i % NKEYS], aux)) {
			fprintf(stderr, "bench_verify: signing failed\n");
			exit(1);
		}
	}
}

/* The per-event work being measured: x-only pubkey parse + Schnorr verify. */
static int verify_one(const struct sample *s)
{
	secp256k1_xonly_pubkey pk;

	if (!secp256k1_xonly_pubkey_parse(ctx, &pk, s->pub))
		return 0;
	return secp256k1_schnorrsig_verify(ctx, s->sig, s->msg, 32, &pk);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	double end = now_s() + w->seconds;
	unsigned i = w->start;

	do {
		for (int b = 0; b < BATCH; b++) {
			if (!verify_one(&samples[i]))
				w->failed = 1;
			i = (i + 1) % NSIGS;
		}
		w->done += BATCH;
	} while (now_s() < end);
	return NULL;
}

/* Runs nthreads workers for seconds; returns verifications per second. */
static double measure(int nthreads, double seconds)
{
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	unsigned long long total = 0;
	double t0, t1;

	if (!w) {
		perror("calloc");
		exit(1);
	}
	t0 = now_s();
	for (int i = 0; i < nthreads; i++) {
		w[i].start = (unsigned)(i * (NSIGS / nthreads));
		w[i].seconds = seconds;
		if (pthread_create(&w[i].tid, NULL, run, &w[i]) != 0) {
			fprintf(stderr, "bench_verify: pthread_create failed\n");
			exit(1);
		}
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].failed) {
			fprintf(stderr, "bench_verify: a valid signature did not verify\n");
			exit(1);
		}
		total += w[i].done;
	}
	t1 = now_s();
	free(w);
	return (double)total / (t1 - t0);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double one, all;

	if (seconds <= 0)
		seconds = 2.0;
	if (ncpu < 1)
		ncpu = 1;
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!ctx) {
		fprintf(stderr, "bench_verify: cannot create a secp256k1 context\n");
		return 1;
	}
	make_samples();
	measure(1, 0.2); /* warm up caches and the CPU clock */
	one = measure(1, seconds);
	all = measure((int)ncpu, seconds);
	printf("verify_1t_us %.2f\n", 1e6 / one);
	printf("verify_1t_per_s %.0f\n", one);
	printf("verify_threads %ld\n", ncpu);
	printf("verify_all_per_s %.0f\n", all);
	secp256k1_context_destroy(ctx);
	free(samples);
	return 0;
}
