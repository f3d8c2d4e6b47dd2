/* The relay object: threads, settings, the writer hand-off (relay.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/log.h>
#include <tern/relay.h>

#include "relay/conn.h"
#include "relay/ctx.h"
#include "relay/inject.h"
#include "relay/io.h"
#include "relay/relay.h"
#include "relay/router.h"
#include "relay/sources.h"

/* ---- built-in event policy (the first reject-event hooks) ------------- */

static unsigned leading_zero_bits(const uint8_t id[32])
{
	unsigned n = 0;

	for (int i = 0; i < 32; i++) {
		if (id[i] == 0) {
			n += 8;
			continue;
		}
		n += (unsigned)__builtin_clz(id[i]) - 24;
		break;
	}
	return n;
}

/* relay.limits: auth_required, created_at window, NIP-13 difficulty. */
static tern_verdict builtin_limits(void *ud, tern_ctx *x,
				   const tern_event *ev, tern_reason *why)
{
	tern__conn *c = x->c;
	const tern__settings *s;
	uint64_t now = (uint64_t)time(NULL);
	unsigned bits;

	if (!c)
		return TERN_PASS;
	s = c->io->set;
	if (s->lim.auth_required && !tern__auth_any(&c->sess.auth)) {
		tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED,
				"this relay requires authentication");
		return TERN_REJECT;
	}
	if (s->lim.created_at_lower_limit && ev->created_at < now &&
	    now - ev->created_at > s->lim.created_at_lower_limit) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"created_at is too far in the past");
		return TERN_REJECT;
	}
	if (s->lim.created_at_upper_limit && ev->created_at > now &&
	    ev->created_at - now > s->lim.created_at_upper_limit) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"created_at is too far in the future");
		return TERN_REJECT;
	}
	if (s->lim.min_pow_difficulty &&
	    (bits = leading_zero_bits(ev->id)) < s->lim.min_pow_difficulty) {
		tern_reason_set(why, TERN_PREFIX_POW,
				"difficulty %u is less than %u", bits,
				s->lim.min_pow_difficulty);
		return TERN_REJECT;
	}
	return TERN_PASS;
}

/* NIP-70: a protected event only from a connection authed as its author. */
static tern_verdict builtin_protected(void *ud, tern_ctx *x,
				      const tern_event *ev, tern_reason *why)
{
	tern__conn *c = x->c;

	if (!c || !tern_event_is_protected(ev) ||
	    tern__auth_has(&c->sess.auth, ev->pubkey))
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED,
			"this event may only be published by its author");
	return TERN_REJECT;
}

/* Hook lists changed: let every running loop pass a quiescent point (a
 * sub-relay's lists are read by its router's loops). */
static void wake_loops(void *ctx)
{
	tern_relay *r = tern__relay_runner(ctx);

	if (!r->io)
		return;
	for (unsigned i = 0; i < r->nio; i++) {
		tern__io *io = r->io[i];

		if (!io)
			continue;
		pthread_mutex_lock(&io->mu);
		if (io->running)
			uv_async_send(&io->wake);
		pthread_mutex_unlock(&io->mu);
	}
}

static const char builtin_owner[] = "tern";

/* The settings of cfg that differ from the defaults, as "name=value ..."
 * (or "defaults"), for the start-up line. Malloc'ed; NULL if out of
 * memory. */
static char *settings_diff(const tern_config *cfg)
{
	tern_config def;
	char buf[2048];

	tern_config_defaults(&def);
	if (tern_config_diff(&def, cfg, buf, sizeof buf, NULL) == 0)
		snprintf(buf, sizeof buf, "defaults");
	tern_config_free(&def);
	return strdup(buf);
}

/* Events the relay stored or accepted are parsed again (for hooks, live
 * matching) under limits that can never refuse them. */
const tern_event_limits tern__relay_reparse_limits = {
	.max_json = SIZE_MAX / 2,
	.max_content = SIZE_MAX / 2,
	.max_tags = UINT32_MAX / 2,
	.max_tag_values = UINT32_MAX / 2,
	.max_depth = 64,
};

/* ---- writer hand-off -------------------------------------------------- */

void tern__relay_broadcast(tern_relay *r, tern__rbuf *json)
{
	tern_relay *run = tern__relay_runner(r);

	for (unsigned i = 0; i < run->nio; i++) {
		tern__rbuf_ref(json);
		if (!tern__io_post_fanout(run->io[i], json, r->route_idx))
			tern__rbuf_unref(json);
	}
}

/* ---- hook reader slots of the I/O threads ----------------------------- */

void tern__relay_hooks_quiescent(tern_relay *r, size_t slot)
{
	tern__hooks_quiescent(&r->hooks, slot);
	if (r->routes)
		for (uint32_t i = 1; i < r->routes->nrel; i++)
			tern__hooks_quiescent(&r->routes->rel[i]->hooks, slot);
}

void tern__relay_hooks_online(tern_relay *r, size_t slot)
{
	tern__hooks_online(&r->hooks, slot);
	if (r->routes)
		for (uint32_t i = 1; i < r->routes->nrel; i++)
			tern__hooks_online(&r->routes->rel[i]->hooks, slot);
}

void tern__relay_hooks_offline(tern_relay *r, size_t slot)
{
	tern__hooks_offline(&r->hooks, slot);
	if (r->routes)
		for (uint32_t i = 1; i < r->routes->nrel; i++)
			tern__hooks_offline(&r->routes->rel[i]->hooks, slot);
}

void tern__relay_write_cb(void *ctx, const tern_write_result *res)
{
	tern__pending *p = ctx;
	tern_relay *r = p->io->r;

	p->status = res->status;
	p->reason = res->reason;
	/* The live copies go out first, then the answer to the sender:
	 * both reach its thread in that order, and the order module holds
	 * later replies behind the OK anyway. They go to the live filters
	 * of the relay that stored it (router.h). */
	if (res->status == TERN_WRITE_STORED) {
		atomic_fetch_add(&r->n_events_stored, 1);
		tern__relay_broadcast(tern__router_relay(r, p->rel), p->json);
	}
	if (!tern__io_post(p->io, TERN__IO_RESULT, p)) {
		/* The thread has ended: its connections are gone. */
		if (p->inj)
			tern__inject_done(p->inj,
					  res->status == TERN_WRITE_STORED ||
					  res->status == TERN_WRITE_DUPLICATE,
					  &res->reason);
		tern__rbuf_unref(p->json);
		free(p);
	}
}

/* ---- public API ------------------------------------------------------- */

/*
 * Opens the configuration's LMDB store unless it is open. Under r->mu:
 * hooks may ask for it (tern_relay_store()) from several threads.
 */
static int relay_store_open(tern_relay *r, char *err, size_t errcap)
{
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (!r->store)
		rc = tern_store_open(&r->store, &r->store_opts, err, errcap);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/*
 * Whether the relay stores into the configuration's LMDB store: no
 * backend was set, or the one set is that store. A source list made by
 * tern_relay_add_query_source() before the store was opened names it
 * with a NULL self.
 */
static bool uses_default_store(const tern_relay *r)
{
	const tern__source *b;

	if (!r->sources)
		return true;
	b = &r->sources->v[0];
	return b->ops == &tern_lmdb_backend &&
	       (!b->self || b->self == r->store);
}

/* A client that vanishes mid-write raises SIGPIPE: a relay must not die
 * of it. Only the default disposition is changed, so a program that
 * installed its own handler keeps it. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 &&
	    !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGPIPE, &sa, NULL);
	}
}

int tern__relay_create(tern_relay **out, const tern_config *cfg,
		       tern__relay_mode mode, char *err, size_t errcap)
{
	tern_relay *r;
	char dummy[1];
	long cores;
	int rc;

	*out = NULL;
	if (!err || !errcap) {
		err = dummy;
		errcap = sizeof dummy;
	}
	err[0] = '\0';
	rc = tern_config_validate(cfg, err, errcap);
	if (rc)
		return rc;
	r = calloc(1, sizeof *r);
	if (!r)
		return TERN_ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	snprintf(r->bind, sizeof r->bind, "%s", cfg->relay.bind);
	r->port = cfg->relay.port;
	atomic_init(&r->shutdown_grace, cfg->relay.shutdown_grace);
	/* A sub-relay has no I/O thread (its router's serve it) and no say
	 * in the process-wide log level. */
	r->is_sub = mode == TERN__RELAY_SUB;
	if (!r->is_sub)
		tern_log_set_level(cfg->relay.log_level);
	rc = tern__settings_new(&r->set, cfg);
	if (rc)
		goto fail;
	rc = tern__iplimit_new(&r->iplim);
	if (rc)
		goto fail;
	rc = TERN_ENOMEM;
	r->store_dir = strdup(cfg->store.dir ? cfg->store.dir : "");
	r->settings_diff = settings_diff(cfg);
	if (!r->store_dir || !r->settings_diff)
		goto fail;
	r->nio = cfg->relay.io_threads;
	if (r->is_sub) {
		r->nio = 0;
	} else if (r->nio == 0) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		r->nio = cores > 0 ? (unsigned)cores : 1;
	}
	/* Reader slots: one per I/O thread, then the store's writer. */
	rc = tern__hooks_init(&r->hooks, r->nio + 1, wake_loops, r);
	if (rc)
		goto fail;
	rc = tern_on_reject_event(r, builtin_owner, builtin_limits, r);
	if (!rc)
		rc = tern_on_reject_event(r, builtin_owner, builtin_protected,
					  r);
	if (rc)
		goto fail;
	r->store_opts = cfg->store;
	r->store_opts.dir = r->store_dir;
	/* NIP-09 outcomes go through the hooks (writer thread). */
	r->store_opts.deletion_outcome = tern__run_deletion_outcome;
	r->store_opts.deletion_outcome_wanted = tern__deletion_outcome_wanted;
	r->store_opts.deletion_outcome_ctx = r;
	/* A detached relay is driven without tern_relay_run(): its store
	 * is there from the start. */
	if (mode == TERN__RELAY_DETACHED &&
	    (rc = relay_store_open(r, err, errcap)))
		goto fail;
	if (r->is_sub) {
		*out = r;
		return 0;
	}
	r->io = calloc(r->nio, sizeof *r->io);
	if (!r->io) {
		rc = TERN_ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < r->nio; i++) {
		rc = tern__io_new(&r->io[i], r, i, mode == TERN__RELAY_LISTEN,
				  err, errcap);
		if (rc)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	if (rc == TERN_ENOMEM && !err[0])
		snprintf(err, errcap, "out of memory");
	tern_relay_free(r);
	return rc;
}

int tern_relay_new(tern_relay **out, const tern_config *cfg, char *err,
		   size_t errcap)
{
	return tern__relay_create(out, cfg, TERN__RELAY_LISTEN, err, errcap);
}

int tern__relay_new_detached(tern_relay **out, const tern_config *cfg,
			     char *err, size_t errcap)
{
	return tern__relay_create(out, cfg, TERN__RELAY_DETACHED, err, errcap);
}

static void *io_main(void *arg)
{
	tern__io_run(arg);
	return NULL;
}

/* The backend r stores into: v[0] of its sources, or its LMDB store. */
static void backend_of(tern_relay *r, const tern_backend_ops **ops,
		       void **self)
{
	if (r->sources) {
		*ops = r->sources->v[0].ops;
		*self = r->sources->v[0].self;
	} else {
		*ops = &tern_lmdb_backend;
		*self = r->store;
	}
}

/*
 * Readies r's backend for a run: opens the configuration's LMDB store if
 * r stores into it, and hands the backend r's deletion-outcome hooks. The
 * same for a relay and for each of its sub-relays.
 */
static int backend_start(tern_relay *r)
{
	const tern_backend_ops *bops;
	void *bself;
	char err[256] = "";
	int rc;

	if (uses_default_store(r)) {
		rc = relay_store_open(r, err, sizeof err);
		if (rc) {
			tern_log(TERN_LOG_ERROR, "relay", "%sstore: %s",
				 r->is_sub ? "sub-relay " : "",
				 err[0] ? err : tern_strerror(rc));
			return rc;
		}
		if (r->sources)
			r->sources->v[0].self = r->store;
	}
	backend_of(r, &bops, &bself);
	tern__relay_deletion_outcome(r, bops, bself, true);
	return 0;
}

/*
 * After a run: everything r's backend accepted is durable - the backend's
 * flush, and the LMDB store's (a hook may write to it besides the
 * backend) - and the backend gives the hooks back.
 */
static void backend_stop(tern_relay *r)
{
	const tern_backend_ops *bops;
	void *bself;

	backend_of(r, &bops, &bself);
	if (!(bops == &tern_lmdb_backend && bself == r->store) && bops->flush)
		bops->flush(bself);
	if (r->store)
		tern_store_flush(r->store);
	tern__relay_deletion_outcome(r, bops, bself, false);
}

/*
 * Do a and b store into the same backend? Each relay hands its backend
 * its own deletion-outcome hooks, so a router and its sub-relays must not
 * share one (nor the same store directory).
 */
static bool same_backend(tern_relay *a, tern_relay *b)
{
	const tern_backend_ops *ao, *bo;
	void *as, *bs;

	if (uses_default_store(a) && uses_default_store(b))
		return strcmp(a->store_dir, b->store_dir) == 0;
	backend_of(a, &ao, &as);
	backend_of(b, &bo, &bs);
	return ao == bo && as && as == bs;
}

static int check_backends(tern_relay *r, uint32_t nsub)
{
	for (uint32_t i = 0; i <= nsub; i++) {
		tern_relay *a = i ? r->routes->rel[i] : r;

		for (uint32_t j = i + 1; j <= nsub; j++) {
			if (same_backend(a, r->routes->rel[j])) {
				tern_log(TERN_LOG_ERROR, "relay", "%s and "
					 "sub-relay %u share a backend: give "
					 "each relay of a router its own",
					 i ? "a sub-relay" : "the router",
					 (unsigned)j);
				return TERN_EINVAL;
			}
		}
	}
	return 0;
}

int tern_relay_run(tern_relay *r)
{
	const tern_backend_ops *bops;
	void *bself;
	uint32_t nsub = r->routes ? r->routes->nrel - 1 : 0;
	char routes[64] = "";
	bool own;
	int rc = 0;

	if (r->ran || r->is_sub)
		return TERN_EINVAL;
	r->ran = true;
	ignore_sigpipe();
	if (nsub && (rc = check_backends(r, nsub)))
		return rc;
	rc = backend_start(r);
	if (rc)
		return rc;
	/* The sub-relays' backends, the same way (router.h). */
	for (uint32_t i = 1; i <= nsub; i++) {
		r->routes->rel[i]->ran = true;
		rc = backend_start(r->routes->rel[i]);
		if (rc) {
			while (--i > 0)
				backend_stop(r->routes->rel[i]);
			backend_stop(r);
			return rc;
		}
	}
	backend_of(r, &bops, &bself);
	own = bops == &tern_lmdb_backend && bself == r->store;
	if (nsub)
		snprintf(routes, sizeof routes, ", %zu route%s to %u "
			 "sub-relay%s", r->routes->n,
			 r->routes->n == 1 ? "" : "s", (unsigned)nsub,
			 nsub == 1 ? "" : "s");
	tern_log(TERN_LOG_INFO, "relay", "tern " TERN_VERSION " listening on "
		 "%s%s%s:%u, %u I/O thread%s, %s %s%s; settings: %s",
		 strchr(r->bind, ':') ? "[" : "", r->bind,
		 strchr(r->bind, ':') ? "]" : "", (unsigned)r->port, r->nio,
		 r->nio == 1 ? "" : "s", own ? "store" : "backend",
		 own ? r->store_dir : (bops->name ? bops->name : "custom"),
		 routes, r->settings_diff);
	for (unsigned i = 1; i < r->nio; i++) {
		rc = -pthread_create(&r->io[i]->thread, NULL, io_main,
				     r->io[i]);
		if (rc) {
			tern_log(TERN_LOG_ERROR, "relay", "thread: %s",
				 tern_strerror(rc));
			tern_relay_stop(r);
			break;
		}
		r->io[i]->thread_started = true;
	}
	tern__io_run(r->io[0]);
	for (unsigned i = 1; i < r->nio; i++)
		if (r->io[i]->thread_started)
			pthread_join(r->io[i]->thread, NULL);
	/* Everything any relay accepted is durable before we return. */
	backend_stop(r);
	for (uint32_t i = 1; i <= nsub; i++)
		backend_stop(r->routes->rel[i]);
	tern_log(TERN_LOG_INFO, "relay", "stopped");
	return rc;
}

void tern_relay_stop(tern_relay *r)
{
	if (!r)
		return;
	atomic_store(&r->stop, true);
	for (unsigned i = 0; i < r->nio; i++)
		if (r->io[i])
			tern__io_wake(r->io[i]);
}

int tern_relay_reload(tern_relay *r, const tern_config *cfg, char *err,
		      size_t errcap)
{
	tern__settings *s;
	char dummy[1];
	int rc;

	if (!err || !errcap) {
		err = dummy;
		errcap = sizeof dummy;
	}
	rc = tern_config_validate(cfg, err, errcap);
	if (rc)
		return rc;
	rc = tern__settings_new(&s, cfg);
	if (rc) {
		snprintf(err, errcap, "out of memory");
		return rc;
	}
	tern_log_set_level(cfg->relay.log_level);
	atomic_store(&r->shutdown_grace, cfg->relay.shutdown_grace);
	pthread_mutex_lock(&r->mu);
	tern__settings_unref(r->set);
	r->set = s;
	for (unsigned i = 0; i < r->nio; i++) {
		tern__settings_ref(s);
		if (!tern__io_post(r->io[i], TERN__IO_SETTINGS, s))
			tern__settings_unref(s);
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void tern_relay_stats_get(tern_relay *r, tern_relay_stats *st)
{
	st->connections = atomic_load(&r->n_conns);
	st->accepted = atomic_load(&r->n_accepted);
	st->slow_consumers = atomic_load(&r->n_slow);
	st->events_received = atomic_load(&r->n_events_in);
	st->events_stored = atomic_load(&r->n_events_stored);
}

tern_store *tern_relay_store(tern_relay *r)
{
	char err[256] = "";
	int rc = relay_store_open(r, err, sizeof err);

	if (rc)
		tern_log(TERN_LOG_ERROR, "relay", "store: %s",
			 err[0] ? err : tern_strerror(rc));
	return r->store;
}

void tern_relay_free(tern_relay *r)
{
	if (!r)
		return;
	/* The writer may still post results: close the store while the
	 * threads' inboxes exist (they drop what comes in). */
	if (r->io)
		for (unsigned i = 0; i < r->nio; i++)
			if (r->io[i]) {
				pthread_mutex_lock(&r->io[i]->mu);
				r->io[i]->closed = true;
				pthread_mutex_unlock(&r->io[i]->mu);
			}
	tern_store_close(r->store);
	if (r->io)
		for (unsigned i = 0; i < r->nio; i++)
			tern__io_free(r->io[i]);
	free(r->io);
	tern__hooks_free(&r->hooks);
	tern__iplimit_free(r->iplim);
	tern__sources_free(r->sources);
	tern__routes_free(r->routes);
	free(r->store_dir);
	free(r->settings_diff);
	tern__settings_unref(r->set);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
