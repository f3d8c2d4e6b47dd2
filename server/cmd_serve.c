/*
 * tern serve: run the relay. Composition only: the configuration file and
 * flags, signals, and the relay of include/tern/relay.h.
 *
 * Signals are taken synchronously by one thread (sigwait), never in a
 * handler: SIGINT/SIGTERM stop the relay gracefully; SIGHUP re-reads the
 * configuration file and applies what can change without a restart.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/config.h>
#include <tern/error.h>
#include <tern/log.h>
#include <tern/plugin.h>
#include <tern/policy.h>
#include <tern/relay.h>

#include "cli_common.h"
#include "manage.h"
#include "metrics.h"

typedef struct serve_opts {
	const char *config, *bind, *port, *db;
	uint16_t port_num;
} serve_opts;

typedef struct sig_ctx {
	tern_relay *relay;
	const serve_opts *opts;
	const tern_config *started; /* the configuration at start */
	sigset_t set;
} sig_ctx;

/* Defaults, then the file, then the flags. */
static int build_config(tern_config *cfg, const serve_opts *o, char *err,
			size_t errcap)
{
	int rc;

	tern_config_defaults(cfg);
	if (o->config) {
		rc = tern_config_load_file(cfg, o->config, err, errcap);
		if (rc)
			return rc;
	}
	if (o->bind)
		cfg->relay.bind = o->bind;
	if (o->port)
		cfg->relay.port = o->port_num;
	if (o->db)
		cfg->store.dir = o->db;
	return tern_config_validate(cfg, err, errcap);
}

static void reload(sig_ctx *s)
{
	tern_config cfg;
	char err[512];

	if (!s->opts->config) {
		tern_log(TERN_LOG_INFO, "serve",
			 "SIGHUP: no configuration file to reload");
		return;
	}
	if (build_config(&cfg, s->opts, err, sizeof err) ||
	    tern_relay_reload(s->relay, &cfg, err, sizeof err)) {
		tern_log(TERN_LOG_ERROR, "serve",
			 "SIGHUP: reload failed, keeping the settings: %s",
			 err);
		tern_config_free(&cfg);
		return;
	}
	tern_log(TERN_LOG_INFO, "serve", "SIGHUP: configuration reloaded "
		 "from %s", s->opts->config);
	{
		char diff[1024];
		bool restart = false;

		if (tern_config_diff(s->started, &cfg, diff, sizeof diff,
				     &restart) && restart)
			tern_log(TERN_LOG_WARN, "serve",
				 "SIGHUP: changed since start: %s; some of "
				 "these settings only take effect after a "
				 "restart (docs/CONFIG.md)", diff);
	}
	tern_config_free(&cfg);
}

static void *signal_main(void *arg)
{
	sig_ctx *s = arg;
	int sig;

	for (;;) {
		if (sigwait(&s->set, &sig))
			continue;
		switch (sig) {
		case SIGINT:
		case SIGTERM:
			tern_log(TERN_LOG_INFO, "serve", "%s: stopping",
				 sig == SIGINT ? "SIGINT" : "SIGTERM");
			tern_relay_stop(s->relay);
			break;
		case SIGHUP:
			reload(s);
			break;
		case SIGUSR1: /* the relay has stopped */
			return NULL;
		}
	}
}

/* relay.plugin: runs the write-policy plugin when a command is set. */
static int attach_plugin(tern_relay *r, const tern_config_plugin *pc,
			 tern_plugin **out, char *err, size_t errcap)
{
	tern_plugin_options po;
	int rc;

	*out = NULL;
	if (!pc->command || !pc->command[0])
		return 0;
	tern_plugin_options_defaults(&po);
	po.command = pc->command;
	po.timeout_ms = pc->timeout_ms;
	po.fail_open = pc->fail_open;
	po.reload_on_change = pc->reload_on_change;
	rc = tern_plugin_attach(r, &po, out);
	if (rc)
		snprintf(err, errcap, "relay.plugin: %s", tern_strerror(rc));
	return rc;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535 || *s == '-' ||
	    *s == '+')
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int run_serve(const cli_command *cmd, int argc, char **argv)
{
	serve_opts o = { 0 };
	const cli_opt opts[] = {
		{ "config", CLI_OPT_VALUE, NULL, &o.config },
		{ "bind", CLI_OPT_VALUE, NULL, &o.bind },
		{ "port", CLI_OPT_VALUE, NULL, &o.port },
		{ "db", CLI_OPT_VALUE, NULL, &o.db },
	};
	tern_config cfg;
	tern_relay *relay = NULL;
	tern_plugin *plugin = NULL;
	serve_manage *manage = NULL;
	serve_metrics *metrics = NULL;
	sig_ctx sc;
	pthread_t sigthread;
	char err[512] = "";
	size_t npos;
	int rc, ec;

	if (cli_parse_args(cmd, argc, argv, opts, sizeof opts / sizeof opts[0],
			   NULL, 0, &npos, &ec))
		return ec;
	if (o.port && parse_port(o.port, &o.port_num))
		return cli_usage_error(cmd, "--port: '%s' is not a port "
				       "number 1-65535", o.port);
	rc = build_config(&cfg, &o, err, sizeof err);
	if (rc) {
		cli_error("%s", err);
		tern_config_free(&cfg);
		return rc == TERN_EINVAL || rc == TERN_EPARSE ? CLI_EXIT_USAGE
							       : CLI_EXIT_FAIL;
	}
	/* Every thread started from here on inherits the blocked signals;
	 * only the signal thread takes them. */
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGHUP);
	sigaddset(&sc.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = tern_relay_new(&relay, &cfg, err, sizeof err);
	/* the management bans first, then the policies: their cheap checks
	 * run before the plugin's */
	if (rc == 0)
		rc = serve_manage_start(&manage, relay, &cfg, err, sizeof err);
	if (rc == 0 && (rc = tern_policy_apply_config(relay, &cfg)))
		snprintf(err, sizeof err, "relay.policies: %s",
			 tern_strerror(rc));
	if (rc == 0)
		rc = attach_plugin(relay, &cfg.relay.plugin, &plugin, err,
				   sizeof err);
	if (rc == 0)
		rc = serve_metrics_start(&metrics, relay, &cfg, plugin, err,
					 sizeof err);
	if (rc) {
		cli_error("%s", err[0] ? err : tern_strerror(rc));
		tern_plugin_detach(plugin);
		tern_relay_free(relay);
		tern_policy_release(relay);
		serve_manage_free(manage);
		serve_metrics_free(metrics);
		tern_config_free(&cfg);
		return CLI_EXIT_FAIL;
	}
	sc.relay = relay;
	sc.opts = &o;
	sc.started = &cfg;
	if (pthread_create(&sigthread, NULL, signal_main, &sc)) {
		cli_error("cannot start the signal thread");
		tern_plugin_detach(plugin);
		tern_relay_free(relay);
		tern_policy_release(relay);
		serve_manage_free(manage);
		serve_metrics_free(metrics);
		tern_config_free(&cfg);
		return CLI_EXIT_FAIL;
	}
	rc = tern_relay_run(relay);
	pthread_kill(sigthread, SIGUSR1);
	pthread_join(sigthread, NULL);
	tern_plugin_detach(plugin);
	tern_relay_free(relay);
	tern_policy_release(relay);
	serve_manage_free(manage);
	serve_metrics_free(metrics);
	tern_config_free(&cfg);
	if (rc) {
		cli_error("relay: %s", tern_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

const cli_command cmd_serve = {
	.name = "serve",
	.summary = "run the relay",
	.help =
	"Usage: tern serve [--config FILE] [--bind ADDR] [--port N] [--db DIR]\n"
	"\n"
	"Runs the Nostr relay: WebSocket (NIP-01, 42, 45, 70), NIP-11 relay\n"
	"information, a small HTML page, with management.admins set the\n"
	"NIP-86 management API over HTTP and, with metrics.enabled, Prometheus\n"
	"metrics (docs/OPERATIONS.md). Settings come from the\n"
	"defaults, then FILE, then the flags (docs/CONFIG.md lists every\n"
	"setting; tern.conf is a commented sample).\n"
	"\n"
	"Options:\n"
	"  --config FILE  a libconfig file (default: none, built-in defaults)\n"
	"  --bind ADDR    numeric IPv4 or IPv6 address to listen on\n"
	"                 (default 127.0.0.1; 0.0.0.0 or :: for every\n"
	"                 interface); overrides relay.bind\n"
	"  --port N       TCP port 1-65535 (default 7777); overrides relay.port\n"
	"  --db DIR       the store directory, created if missing (default\n"
	"                 " CLI_DEFAULT_DB "); overrides store.dir\n"
	"\n"
	"On start it logs one line with the listen address, the number of I/O\n"
	"threads, the store directory and the settings that differ from the\n"
	"defaults. Logs go to stderr (relay.log_level).\n"
	"\n"
	"Signals:\n"
	"  SIGINT, SIGTERM  stop gracefully: stop accepting, let the store\n"
	"                   commit and answer the events it accepted, close\n"
	"                   every connection with 1001, exit within\n"
	"                   relay.shutdown_grace seconds (default 10). Events\n"
	"                   acknowledged with OK true are never lost.\n"
	"  SIGHUP           re-read FILE (then the same flags) and apply the\n"
	"                   settings docs/CONFIG.md marks reloadable (limits,\n"
	"                   relay information, auth, log level, shutdown_grace)\n"
	"                   without dropping connections; an invalid file is\n"
	"                   logged and the running settings are kept. Settings\n"
	"                   that need a restart (bind, port, io_threads, store)\n"
	"                   keep their running values.\n"
	"\n"
	"Exit codes: 0 stopped by a signal; 1 runtime failure (port in use,\n"
	"store error); 2 usage error or invalid configuration.\n",
	.run = run_serve,
};
