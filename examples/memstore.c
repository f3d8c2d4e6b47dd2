/*
 * memstore.c - a relay whose events live in memory: the in-memory backend
 * plugged in through the storage interface (tern/backend.h). Nothing
 * survives a restart; the oldest events make room for new ones.
 *
 *     memstore PORT
 *
 * Any backend plugs in the same way: a table of functions
 * (tern_backend_ops) and the pointer they get, given to
 * tern_relay_set_backend() before the relay runs. With a backend set the
 * relay never opens the LMDB store of its configuration: no store
 * directory is needed, none is created. The relay's hooks apply as with
 * the LMDB store, overwrite-deletion-outcome included: here a NIP-09
 * deletion never removes a profile (kind 0).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <tern/backend.h>
#include <tern/error.h>
#include <tern/hooks.h>
#include <tern/log.h>
#include <tern/relay.h>

static tern_relay *relay;

static void on_signal(int sig)
{
	(void)sig;
	tern_relay_stop(relay);
}

/* on-event-saved hook: runs once the backend has the event (for the
 * memory backend: when queries can see it), before the client's OK. */
static void saved(void *ud, tern_ctx *x, const tern_event *ev)
{
	(void)ud;
	(void)x;
	tern_log(TERN_LOG_DEBUG, "memstore", "kept an event of kind %u",
		 (unsigned)ev->kind);
}

/* overwrite-deletion-outcome hook: runs in the memory backend's save (the
 * I/O thread that received the deletion), once per event of its author a
 * kind-5 would remove. false keeps it. */
static bool keep_profiles(void *ud, const tern_event *target,
			  const tern_event *deletion)
{
	(void)ud;
	(void)deletion;
	return target->kind != 0;
}

int main(int argc, char **argv)
{
	tern_memory_options mo;
	tern_memory *mem = NULL;
	tern_config cfg;
	char err[256];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	tern_config_defaults(&cfg);
	cfg.relay.port = (uint16_t)atoi(argv[1]);
	cfg.relay.info.name = "memstore";
	if ((rc = tern_relay_new(&relay, &cfg, err, sizeof err))) {
		fprintf(stderr, "memstore: %s\n", err);
		return 1;
	}

	tern_memory_options_defaults(&mo);
	mo.max_events = 10000;
	mo.evict_oldest = true;
	if ((rc = tern_memory_open(&mem, &mo)) == 0 &&
	    (rc = tern_relay_set_backend(relay, &tern_memory_backend,
					 mem)) == 0)
		rc = tern_on_event_saved(relay, "memstore", saved, NULL);
	if (rc == 0)
		rc = tern_on_overwrite_deletion_outcome(relay, "memstore",
							keep_profiles, NULL);
	if (rc)
		fprintf(stderr, "memstore: %s\n", tern_strerror(rc));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rc == 0)
		rc = tern_relay_run(relay);
	/* The backend must outlive the relay (tern_relay_run() has waited
	 * for its saves: ops.flush). */
	tern_relay_free(relay);
	tern_memory_close(mem);
	tern_config_free(&cfg);
	return rc ? 1 : 0;
}
