/*
 * router.c - one relay, two sub-relays (tern/router.h, khatru's Router):
 * chat messages (kinds 9 and 42) go to a sub-relay that keeps them in
 * memory and has its own rule; every other event goes to a sub-relay over
 * an LMDB store.
 *
 *     router PORT DBDIR       (the LMDB sub-relay stores in DBDIR/rest)
 *
 * Routes are tried in order, and the first whose matcher says yes takes
 * the event or the filter, with all that follows: that sub-relay's hooks,
 * its backend, its live subscriptions. A filter goes to the chat relay
 * when it asks for chat kinds only ({"kinds":[9]}); any other filter
 * ({"ids":[...]}, {"kinds":[1,9]}) goes to the other relay, and sees (or,
 * live, hears) only what that relay has. The router keeps what belongs to
 * the connection: its settings, NIP-11, AUTH. Nothing reaches its own
 * store (DBDIR/router): the last route takes everything.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <tern/backend.h>
#include <tern/error.h>
#include <tern/hooks.h>
#include <tern/relay.h>
#include <tern/router.h>

static bool chat_kind(uint32_t kind)
{
	return kind == 9 || kind == 42;
}

/* Matchers run on every I/O thread at once: keep them pure. */
static bool is_chat(void *ud, const tern_event *ev)
{
	(void)ud;
	return chat_kind(ev->kind);
}

static bool wants_chat(void *ud, const tern_filter *f)
{
	(void)ud;
	if (!f->kinds || f->nkinds == 0)
		return false;
	for (uint32_t i = 0; i < f->nkinds; i++)
		if (!chat_kind(f->kinds[i]))
			return false;
	return true;
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

/* The chat relay's own rule (a reject-event hook of that relay only). */
static tern_verdict short_messages(void *ud, tern_ctx *x, const tern_event *ev,
				   tern_reason *why)
{
	(void)ud;
	(void)x;
	if (ev->content.n >= 1 && ev->content.n <= 280)
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_BLOCKED,
			"chat messages are 1 to 280 bytes");
	return TERN_REJECT;
}

static tern_relay *relay;

static void on_signal(int sig)
{
	(void)sig;
	tern_relay_stop(relay);
}

int main(int argc, char **argv)
{
	char router_dir[4096], rest_dir[4096], err[256];
	tern_relay *chat = NULL, *rest = NULL;
	tern_memory *mem = NULL;
	tern_config cfg;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT DBDIR\n", argv[0]);
		return 2;
	}
	snprintf(router_dir, sizeof router_dir, "%s/router", argv[2]);
	snprintf(rest_dir, sizeof rest_dir, "%s/rest", argv[2]);

	/* The router: the relay that listens and runs. */
	tern_config_defaults(&cfg);
	cfg.relay.port = (uint16_t)atoi(argv[1]);
	cfg.relay.info.name = "router";
	cfg.store.dir = router_dir;
	if ((rc = tern_relay_new(&relay, &cfg, err, sizeof err)) ||
	    /* The chat relay: in memory, with its own hook. */
	    (rc = tern_relay_new_sub(&chat, &cfg, err, sizeof err))) {
		fprintf(stderr, "router: %s\n", err);
		tern_relay_free(relay);
		return 1;
	}
	/* The other relay: its configured LMDB store, opened by the
	 * router's run. */
	cfg.store.dir = rest_dir;
	rc = tern_relay_new_sub(&rest, &cfg, err, sizeof err);
	if (rc)
		fprintf(stderr, "router: %s\n", err);
	if (rc == 0 && (rc = tern_memory_open(&mem, NULL)) == 0 &&
	    (rc = tern_relay_set_backend(chat, &tern_memory_backend,
					 mem)) == 0 &&
	    (rc = tern_on_reject_event(chat, "chat", short_messages,
				       NULL)) == 0 &&
	    (rc = tern_relay_add_route(relay, is_chat, wants_chat, NULL,
				       chat)) == 0)
		rc = tern_relay_add_route(relay, any_event, any_filter, NULL,
					  rest);
	if (rc && rest)
		fprintf(stderr, "router: %s\n", tern_strerror(rc));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rc == 0)
		rc = tern_relay_run(relay);
	/* tern_relay_run() has flushed every relay's backend: free the
	 * relays, then the memory their backends use. */
	tern_relay_free(relay);
	tern_relay_free(chat);
	tern_relay_free(rest);
	tern_memory_close(mem);
	tern_config_free(&cfg);
	return rc ? 1 : 0;
}
