/*
 * private.c - a private relay: clients must authenticate (NIP-42), and
 * only connections authenticated as one of the pubkeys given on the
 * command line may write (EVENT) or read (REQ, COUNT).
 *
 *     private PORT DBDIR PUBKEY_HEX [PUBKEY_HEX...]
 *
 * Not authenticated: EVENT gets "OK false auth-required: ...", REQ and
 * COUNT get "CLOSED auth-required: ..." and the relay sends a new AUTH
 * challenge. Authenticated as a key that is not listed: "restricted: ...".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/hooks.h>
#include <tern/relay.h>

typedef struct allowlist {
	size_t n;
	uint8_t (*keys)[32]; /* sorted, for bsearch */
} allowlist;

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/*
 * The one rule of this relay, shared by events and filters: the
 * connection must be authed as a listed pubkey. Hooks run on several
 * I/O threads at once; the list is read-only once the relay runs, so
 * no lock is needed.
 */
static tern_verdict member_only(const allowlist *al, tern_ctx *x,
				tern_reason *why)
{
	tern_conn *c = tern_ctx_conn(x);
	size_t n;

	if (!c) /* an internal call (tern_relay_inject_event) */
		return TERN_PASS;
	n = tern_conn_authed_count(c);
	if (n == 0) {
		/* This prefix also makes the relay send an AUTH challenge. */
		tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED,
				"this relay is private: authenticate first");
		return TERN_REJECT;
	}
	for (size_t i = 0; i < n; i++)
		if (bsearch(tern_conn_authed_pubkey(c, i), al->keys, al->n, 32,
			    cmp_key))
			return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_RESTRICTED,
			"you are not a member of this relay");
	return TERN_REJECT;
}

/* reject-event hook: who may write. */
static tern_verdict may_write(void *ud, tern_ctx *x, const tern_event *ev,
			      tern_reason *why)
{
	(void)ev;
	return member_only(ud, x, why);
}

/* reject-filter hook (REQ and COUNT): who may read. */
static tern_verdict may_read(void *ud, tern_ctx *x, const tern_filter *f,
			     tern_reason *why)
{
	(void)f;
	return member_only(ud, x, why);
}

static tern_relay *relay;

static void on_signal(int sig)
{
	(void)sig;
	tern_relay_stop(relay);
}

int main(int argc, char **argv)
{
	static const char owner[] = "private";
	allowlist al;
	tern_config cfg;
	char err[256], url[64];
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: %s PORT DBDIR PUBKEY_HEX...\n",
			argv[0]);
		return 2;
	}
	al.n = (size_t)argc - 3;
	al.keys = calloc(al.n, 32);
	if (!al.keys)
		return 1;
	for (size_t i = 0; i < al.n; i++) {
		const char *hex = argv[3 + i];

		if (strlen(hex) != 64 || !tern_hex_decode(al.keys[i], hex, 32)) {
			fprintf(stderr, "private: not a hex pubkey: %s\n", hex);
			free(al.keys);
			return 2;
		}
	}
	qsort(al.keys, al.n, 32, cmp_key);

	tern_config_defaults(&cfg);
	cfg.relay.port = (uint16_t)atoi(argv[1]);
	cfg.store.dir = argv[2];
	cfg.relay.info.name = "private";
	cfg.relay.info.description = "members only";
	/* NIP-42 AUTH events must name this URL in their "relay" tag. */
	snprintf(url, sizeof url, "ws://127.0.0.1:%u",
		 (unsigned)cfg.relay.port);
	cfg.relay.service_url = url;

	if ((rc = tern_relay_new(&relay, &cfg, err, sizeof err))) {
		fprintf(stderr, "private: %s\n", err);
		free(al.keys);
		return 1;
	}
	if ((rc = tern_on_reject_event(relay, owner, may_write, &al)) ||
	    (rc = tern_on_reject_filter(relay, owner, may_read, &al)) ||
	    (rc = tern_on_reject_count_filter(relay, owner, may_read, &al)))
		fprintf(stderr, "private: %s\n", tern_strerror(rc));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rc == 0)
		rc = tern_relay_run(relay);
	/* The hooks may run until tern_relay_run() returns: free their
	 * data only after it. */
	tern_relay_free(relay);
	free(al.keys);
	tern_config_free(&cfg);
	return rc ? 1 : 0;
}
