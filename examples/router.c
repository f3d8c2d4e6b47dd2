/*
 * router.c - one relay, two stores: kind-1 notes go to one LMDB store,
 * every other event to another (tern/router.h, khatru's Router).
 *
 *     router PORT DBDIR          (stores in DBDIR/notes and DBDIR/other)
 *
 * Routes are tried in order; the first whose matcher says yes takes the
 * event, or answers the filter. Here a filter goes to the notes store
 * when it asks for kind 1 alone ({"kinds":[1],...}); any other filter,
 * e.g. {"ids":[...]} or {"kinds":[1,7]}, is answered by the other store
 * (khatru's router has the same rule: a route answers the filters its
 * matcher takes, and nothing else looks there). Live subscriptions see
 * every accepted event, whatever its route.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <tern/backend.h>
#include <tern/error.h>
#include <tern/relay.h>
#include <tern/router.h>

/* Matchers run on every I/O thread at once: keep them pure. */
static bool is_note(void *ud, const tern_event *ev)
{
	(void)ud;
	return ev->kind == 1;
}

static bool wants_notes(void *ud, const tern_filter *f)
{
	(void)ud;
	return f->nkinds == 1 && f->kinds[0] == 1;
}

static bool any_event(void *ud, const tern_event *ev)
{
	(void)ud;
	(void)ev;
	return true;
}

static bool any_filter(void *ud, const tern_filter *f)
{
	(void)ud;
	(void)f;
	return true;
}

static tern_relay *relay;

static void on_signal(int sig)
{
	(void)sig;
	tern_relay_stop(relay);
}

int main(int argc, char **argv)
{
	char notes_dir[4096], other_dir[4096], err[256];
	tern_store_options so;
	tern_store *notes = NULL;
	tern_router *rt = NULL;
	tern_config cfg;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT DBDIR\n", argv[0]);
		return 2;
	}
	snprintf(notes_dir, sizeof notes_dir, "%s/notes", argv[2]);
	snprintf(other_dir, sizeof other_dir, "%s/other", argv[2]);

	/* The store of the relay's configuration (opened by
	 * tern_relay_store()) takes the events no earlier route wants. */
	tern_config_defaults(&cfg);
	cfg.relay.port = (uint16_t)atoi(argv[1]);
	cfg.store.dir = other_dir;
	cfg.relay.info.name = "router";
	if ((rc = tern_relay_new(&relay, &cfg, err, sizeof err))) {
		fprintf(stderr, "router: %s\n", err);
		return 1;
	}
	/* A second LMDB store, with its own writer thread, for notes. */
	tern_store_options_defaults(&so);
	so.dir = notes_dir;
	rc = tern_store_open(&notes, &so, err, sizeof err);
	if (rc)
		fprintf(stderr, "router: %s\n", err);
	if (rc == 0 && (rc = tern_router_new(&rt)) == 0 &&
	    (rc = tern_router_add(rt, is_note, wants_notes, NULL,
				  &tern_lmdb_backend, notes)) == 0 &&
	    (rc = tern_router_add(rt, any_event, any_filter, NULL,
				  &tern_lmdb_backend,
				  tern_relay_store(relay))) == 0)
		rc = tern_relay_set_backend(relay, &tern_router_backend, rt);
	if (rc && notes)
		fprintf(stderr, "router: %s\n", tern_strerror(rc));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rc == 0)
		rc = tern_relay_run(relay);
	/* tern_relay_run() has waited for the router's backends (each
	 * store's writer has committed what it had): free the relay, then
	 * the router, then the stores it points to. */
	tern_relay_free(relay);
	tern_router_free(rt);
	tern_store_close(notes);
	tern_config_free(&cfg);
	return rc ? 1 : 0;
}
