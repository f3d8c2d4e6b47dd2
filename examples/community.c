/*
 * community.c - a public relay for one community, built from the policies
 * library (tern/policy.h): a few kinds only, NIP-13 proof of work, short
 * notes, and rate limits per author and per IP.
 *
 *     community PORT DBDIR [POW_BITS]      (POW_BITS defaults to 16)
 *
 * Each policy is a hook; they run in the order registered and the first
 * refusal answers the client. Cheap checks come first, the rate limiters
 * last, so that an event refused for its kind or its work costs its
 * sender no token.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <tern/error.h>
#include <tern/policy.h>
#include <tern/relay.h>

static tern_relay *relay;

static void on_signal(int sig)
{
	(void)sig;
	tern_relay_stop(relay);
}

/* Registers the policies under owner. Returns 0 or the first error. */
static int community_policies(tern_relay *r, const void *owner,
			      uint32_t pow_bits)
{
	/* profiles, notes, follows, deletions, reposts, reactions */
	static const uint32_t kinds[] = { 0, 1, 3, 5, 6, 7 };
	/* 5 events in a burst per author, then one every 12 s */
	static const tern_policy_rate per_author = {
		.tokens_per_interval = 5, .interval = 60, .max_tokens = 5,
	};
	/* a household or an office behind one address gets more */
	static const tern_policy_rate per_ip = {
		.tokens_per_interval = 30, .interval = 60, .max_tokens = 60,
	};
	/* REQ/COUNT filters, and new connections, per IP */
	static const tern_policy_rate filters = {
		.tokens_per_interval = 60, .interval = 60, .max_tokens = 200,
	};
	static const tern_policy_rate conns = {
		.tokens_per_interval = 10, .interval = 60, .max_tokens = 50,
	};
	int rc;

	/* events: "blocked: received event kind K not allowed" (ephemeral
	 * kinds pass: they are never stored) */
	if ((rc = tern_policy_restrict_to_specified_kinds(
		     r, owner, true, kinds, sizeof kinds / sizeof kinds[0])) ||
	    /* "invalid: content is longer than 2000 bytes" */
	    (rc = tern_policy_max_content_length(r, owner, 2000)) ||
	    (rc = tern_policy_validate_kind(r, owner)) ||
	    /* "pow: difficulty D is less than B" */
	    (rc = tern_policy_min_pow(r, owner, pow_bits)) ||
	    /* "rate-limited: slow down, please" */
	    (rc = tern_policy_event_pubkey_rate_limiter(r, owner,
							&per_author)) ||
	    (rc = tern_policy_event_ip_rate_limiter(r, owner, &per_ip)))
		return rc;
	/* filters and connections */
	if ((rc = tern_policy_no_complex_filters(r, owner)) ||
	    (rc = tern_policy_no_search_queries(r, owner)) ||
	    (rc = tern_policy_filter_ip_rate_limiter(r, owner, &filters)) ||
	    (rc = tern_policy_connection_rate_limiter(r, owner, &conns)))
		return rc;
	return 0;
}

int main(int argc, char **argv)
{
	tern_config cfg;
	char err[256];
	long bits = 16;
	int rc;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s PORT DBDIR [POW_BITS]\n", argv[0]);
		return 2;
	}
	if (argc == 4)
		bits = strtol(argv[3], NULL, 10);
	if (bits < 1 || bits > 256) {
		fprintf(stderr, "community: POW_BITS must be 1..256\n");
		return 2;
	}
	tern_config_defaults(&cfg);
	cfg.relay.port = (uint16_t)atoi(argv[1]);
	cfg.store.dir = argv[2];
	cfg.relay.info.name = "community";
	cfg.relay.info.description = "notes and reactions; proof of work "
				     "required";

	if ((rc = tern_relay_new(&relay, &cfg, err, sizeof err))) {
		fprintf(stderr, "community: %s\n", err);
		return 1;
	}
	rc = community_policies(relay, "community", (uint32_t)bits);
	if (rc)
		fprintf(stderr, "community: policies: %s\n", tern_strerror(rc));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rc == 0)
		rc = tern_relay_run(relay);
	tern_relay_free(relay);
	tern_policy_release(relay);
	tern_config_free(&cfg);
	return rc ? 1 : 0;
}
