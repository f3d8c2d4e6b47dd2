/*
 * minimal.c - the smallest useful relay: an LMDB store and the sane
 * default policies (rate limits per IP, no base64 media, no complex
 * filters), on 127.0.0.1.
 *
 *     minimal PORT DBDIR
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <tern/policy.h>
#include <tern/relay.h>

static tern_relay *relay;

/* tern_relay_stop() is async-signal-safe: it only sets a flag. */
static void on_signal(int sig)
{
	(void)sig;
	tern_relay_stop(relay);
}

int main(int argc, char **argv)
{
	tern_config cfg;
	char err[256];
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT DBDIR\n", argv[0]);
		return 2;
	}
	tern_config_defaults(&cfg);
	cfg.relay.port = (uint16_t)atoi(argv[1]);
	cfg.store.dir = argv[2]; /* argv outlives cfg: no copy needed */
	cfg.relay.info.name = "minimal";

	/* Validates cfg and binds the port; the store opens when it runs
	 * (which also ignores SIGPIPE: a client that vanished is not fatal). */
	if ((rc = tern_relay_new(&relay, &cfg, err, sizeof err))) {
		fprintf(stderr, "minimal: %s\n", err);
		return 1;
	}
	rc = tern_policy_apply_defaults(relay);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rc == 0)
		rc = tern_relay_run(relay); /* until SIGINT/SIGTERM */
	tern_relay_free(relay);
	tern_policy_release(relay); /* only compares the pointer */
	tern_config_free(&cfg);
	return rc ? 1 : 0;
}
