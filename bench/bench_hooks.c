/*
 * bench_hooks - what the hook machinery costs per event, with 0, 1 and 5
 * trivial hooks, next to the raw signature verification of the same run.
 *
 * Two paths, each exactly as the relay runs them (src/relay/ctx.c runners
 * on a relay made without listeners):
 *
 *   event   per EVENT: the reject-event chain (always holding the relay's
 *           two built-in checks, which return at once for an internal
 *           call) plus the test for on-event-saved hooks; N = the user's
 *           reject-event hooks, each returning TERN_PASS;
 *   fanout  per delivery to one listener: the test for per-listener hooks
 *           and, when any is registered, the prevent-broadcast chain and
 *           the overwrite-response runner; N = prevent-broadcast hooks,
 *           each returning false.
 *
 * Each figure is the best of ROUNDS rounds of ITERS calls, in ns per call,
 * and as a fraction of one raw BIP-340 verify (x-only key parse +
 * secp256k1_schnorrsig_verify, libsecp256k1, measured here too).
 *
 *   bench_hooks [ITERS]          (default 2000000)
 *
 * Output: "name value" lines: hooks_verify_ns, hooks_{event,fanout}_{0,1,5}_ns,
 * hooks_{event,fanout}_{0,1,5}_of_verify (a fraction), hooks_{event,fanout}_
 * {1,5}_extra_ns (over 0 hooks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <tern/config.h>
#include <tern/hooks.h>
#include <tern/relay.h>

#include "relay/ctx.h"
#include "relay/hooks.h"
#include "relay/relay.h"

#define ROUNDS 5

/* A well-formed event (the hooks here read none of it; no signature
 * check runs). */
static const char event_json[] =
	"{\"id\":\"" "0123456789abcdef0123456789abcdef"
	"0123456789abcdef0123456789abcdef" "\",\"pubkey\":\""
	"fedcba9876543210fedcba9876543210" "fedcba9876543210fedcba9876543210"
	"\",\"created_at\":1700000000,\"kind\":1,\"tags\":[[\"t\",\"bench\"]],"
	"\"content\":\"hook machinery\",\"sig\":\""
	"00112233445566778899aabbccddeeff" "00112233445566778899aabbccddeeff"
	"00112233445566778899aabbccddeeff" "00112233445566778899aabbccddeeff"
	"\"}";

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static tern_verdict pass_event(void *ud, tern_ctx *x, const tern_event *ev,
			       tern_reason *why)
{
	return TERN_PASS;
}

static bool pass_broadcast(void *ud, tern_ctx *x, const tern_event *ev)
{
	return false;
}

static volatile unsigned sink;

/* One EVENT through the hook points of the event path. */
static double event_path(tern_relay *r, const tern_event *ev, long iters)
{
	double best = 0;

	for (int k = 0; k < ROUNDS; k++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			tern_deferral *d;
			tern_reason why;
			tern_verdict v;

			why.prefix = TERN_PREFIX_NONE;
			v = tern__run_reject_event(r, NULL, NULL, NULL, ev,
						   NULL, &why, &d);
			if (tern__hooks_any(&r->hooks, TERN__H_EVENT_SAVED))
				tern__run_event_saved(r, NULL, ev);
			sink += (unsigned)v;
		}
		double t = (now_ns() - t0) / (double)iters;

		if (k == 0 || t < best)
			best = t;
	}
	return best;
}

/* One delivery to one listener through the hook points of fan-out. */
static double fanout_path(tern_relay *r, const tern_event *ev, long iters)
{
	tern_slice sub = { (const uint8_t *)"s", 1 };
	tern_arena a;
	double best = 0;

	tern_arena_init(&a, 0);
	for (int k = 0; k < ROUNDS; k++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			bool hooked = tern__hooks_any(&r->hooks,
						      TERN__H_PREVENT_BROADCAST) ||
				      tern__hooks_any(&r->hooks,
						      TERN__H_OVERWRITE_RESPONSE);
			tern_slice json = ev->json;

			if (hooked &&
			    !tern__run_prevent_broadcast(r, NULL, sub, ev))
				sink += tern__run_overwrite_response(
					r, NULL, sub, ev, &json, &a);
			sink += hooked;
		}
		double t = (now_ns() - t0) / (double)iters;

		if (k == 0 || t < best)
			best = t;
	}
	tern_arena_free(&a);
	return best;
}

/* The raw verify of one signature, ns (best of ROUNDS rounds). */
static double verify_ns(void)
{
	secp256k1_context *ctx = secp256k1_context_create(
		SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
	unsigned char seckey[32], msg[32], sig[64], pub[32];
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xp;
	double best = 0;
	const int n = 2000;

	do {
		if (getrandom(seckey, sizeof seckey, 0) != sizeof seckey)
			exit(1);
	} while (!secp256k1_keypair_create(ctx, &kp, seckey));
	if (getrandom(msg, sizeof msg, 0) != sizeof msg ||
	    !secp256k1_keypair_xonly_pub(ctx, &xp, NULL, &kp) ||
	    !secp256k1_xonly_pubkey_serialize(ctx, pub, &xp) ||
	    !secp256k1_schnorrsig_sign32(ctx, sig, msg, &kp, NULL)) {
		fprintf(stderr, "bench_hooks: signing failed\n");
		exit(1);
	}
	for (int k = 0; k < ROUNDS; k++) {
		double t0 = now_ns();

		for (int i = 0; i < n; i++) {
			secp256k1_xonly_pubkey x;

			sink += (unsigned)(secp256k1_xonly_pubkey_parse(ctx, &x,
								       pub) &&
				 secp256k1_schnorrsig_verify(ctx, sig, msg,
							     32, &x));
		}
		double t = (now_ns() - t0) / n;

		if (k == 0 || t < best)
			best = t;
	}
	secp256k1_context_destroy(ctx);
	return best;
}

int main(int argc, char **argv)
{
	static const int counts[] = { 0, 1, 5 };
	long iters = argc > 1 ? atol(argv[1]) : 2000000;
	char dir[] = "/tmp/tern-bench-hooks-XXXXXX", err[256], cmd[64];
	double ev_ns[3], fo_ns[3], v;
	tern_config cfg;
	tern_relay *r;
	tern_event ev;
	tern_arena a;
	tern_reason why;
	int have = 0;

	if (iters <= 0 || !mkdtemp(dir)) {
		fprintf(stderr, "usage: bench_hooks [ITERS]\n");
		return 2;
	}
	tern_config_defaults(&cfg);
	cfg.relay.io_threads = 1;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.store.dir = dir;
	cfg.store.no_sync = true;
	if (tern__relay_new_detached(&r, &cfg, err, sizeof err)) {
		fprintf(stderr, "bench_hooks: %s\n", err);
		return 1;
	}
	tern_arena_init(&a, 0);
	if (tern_event_parse(&ev, (const uint8_t *)event_json,
			     sizeof event_json - 1, NULL, &a, &why)) {
		fprintf(stderr, "bench_hooks: the sample event does not "
			"parse: %s\n", why.msg);
		return 1;
	}
	v = verify_ns();
	for (int c = 0; c < 3; c++) {
		/* Grow the lists to counts[c] user hooks. */
		for (; have < counts[c]; have++)
			if (tern_on_reject_event(r, "bench", pass_event, NULL) ||
			    tern_on_prevent_broadcast(r, "bench",
						      pass_broadcast, NULL)) {
				fprintf(stderr, "bench_hooks: out of memory\n");
				return 1;
			}
		ev_ns[c] = event_path(r, &ev, iters);
		fo_ns[c] = fanout_path(r, &ev, iters);
	}
	printf("hooks_verify_ns %.0f\n", v);
	for (int c = 0; c < 3; c++) {
		printf("hooks_event_%d_ns %.2f\n", counts[c], ev_ns[c]);
		printf("hooks_event_%d_of_verify %.5f\n", counts[c],
		       ev_ns[c] / v);
	}
	for (int c = 0; c < 3; c++) {
		printf("hooks_fanout_%d_ns %.2f\n", counts[c], fo_ns[c]);
		printf("hooks_fanout_%d_of_verify %.5f\n", counts[c],
		       fo_ns[c] / v);
	}
	for (int c = 1; c < 3; c++) {
		printf("hooks_event_%d_extra_ns %.2f\n", counts[c],
		       ev_ns[c] - ev_ns[0]);
		printf("hooks_fanout_%d_extra_ns %.2f\n", counts[c],
		       fo_ns[c] - fo_ns[0]);
	}
	tern_arena_free(&a);
	tern_relay_free(r);
	tern_config_free(&cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "bench_hooks: could not remove %s\n", dir);
	return 0;
}
