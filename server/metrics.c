/*
 * tern serve's Prometheus endpoint (metrics.h).
 *
 * A scrape builds the whole text on the thread-pool thread that runs the
 * handler: a handful of atomic loads, one short LMDB read transaction
 * (tern_store_stats_get(): mdb_stat per database and two cursor seeks,
 * independent of the store's size) and three small reads under /proc.
 *
 * Live subscription and filter counts are left out on purpose: the only
 * public way to get them, tern_relay_foreach_live_filter(), copies every
 * live filter on the I/O threads, a cost that grows with the load the
 * scrape is meant to watch.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/hooks.h>
#include <tern/store.h>

#include "cli_common.h"
#include "metrics.h"

#ifndef TERN_VERSION
#define TERN_VERSION "unknown"
#endif

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char owner[] = "tern-metrics";

struct serve_metrics {
	tern_relay *relay;
	tern_plugin *plugin; /* NULL without relay.plugin */
	char *path;
	tern_config_net *allow;
	size_t nallow;
	double start_time; /* process start, seconds since the epoch; 0 when
			      /proc does not say */

	/* counted by hooks (relaxed: a scrape needs no ordering) */
	atomic_uint_fast64_t ws_opened, ws_closed, ephemeral, auths;
};

/* ---- access ------------------------------------------------------------ */

/* Whether the client address ip (text, as tern_http_request.ip) is in one
 * of the allowed networks. IPv4 is compared in its IPv4-mapped form, as
 * the networks are kept (tern_config_net). */
static bool allowed(const serve_metrics *m, const char *ip)
{
	uint8_t a[16];

	if (!ip || !cli_ip16(ip, a))
		return false;
	for (size_t i = 0; i < m->nallow; i++) {
		const tern_config_net *n = &m->allow[i];
		unsigned full = n->prefix / 8, rest = n->prefix % 8;

		if (memcmp(a, n->addr, full))
			continue;
		if (rest && ((a[full] ^ n->addr[full]) & (0xff00u >> rest)))
			continue;
		return true;
	}
	return false;
}

/* ---- /proc/self -------------------------------------------------------- */

typedef struct proc_stat {
	double cpu_seconds; /* user + system */
	uint64_t start_ticks; /* since boot */
	uint64_t vsize, rss_pages;
} proc_stat;

/* Reads the fields of /proc/self/stat that are wanted (proc(5)). */
static bool read_proc_stat(proc_stat *ps)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n;
	char *p;
	unsigned long long v[22];
	long tck = sysconf(_SC_CLK_TCK);

	if (!f)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces and ')': skip to the
	 * last ')'; field 3 (state) follows */
	p = strrchr(buf, ')');
	if (!p || tck <= 0)
		return false;
	p += 2;
	while (*p && *p != ' ')
		p++;
	/* v[i] is field i + 4 */
	for (int i = 0; i < 21; i++) {
		char *end;

		v[i] = strtoull(p, &end, 10);
		if (end == p)
			return false;
		p = end;
	}
	ps->cpu_seconds = (double)(v[10] + v[11]) / (double)tck;
	ps->start_ticks = v[18];
	ps->vsize = v[19];
	ps->rss_pages = v[20];
	return true;
}

/* The boot time (seconds since the epoch), from /proc/stat's btime. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	double t = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "btime ", 6)) {
			t = strtod(line + 6, NULL);
			break;
		}
	fclose(f);
	return t;
}

/* Open file descriptors (the directory's own aside), or -1. */
static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/* ---- the text format --------------------------------------------------- */

static void head(FILE *f, const char *name, const char *type,
		 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help,
		    uint64_t v)
{
	head(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	head(f, name, "gauge", help);
	fprintf(f, "%s %.15g\n", name, v);
}

static uint64_t load(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static void write_relay(FILE *f, serve_metrics *m)
{
	tern_relay_stats st;
	uint64_t opened = load(&m->ws_opened), closed = load(&m->ws_closed);

	tern_relay_stats_get(m->relay, &st);
	head(f, "tern_build_info", "gauge",
	     "The tern version, as a label; the value is always 1.");
	fprintf(f, "tern_build_info{version=\"%s\"} 1\n", TERN_VERSION);
	gauge(f, "tern_connections", "Open client connections (WebSocket "
	      "and plain HTTP, this scrape included).",
	      (double)st.connections);
	counter(f, "tern_connections_accepted_total", "Client connections "
		"accepted since the start.", st.accepted);
	gauge(f, "tern_websocket_connections", "Open WebSocket connections.",
	      (double)(opened > closed ? opened - closed : 0));
	counter(f, "tern_websocket_connections_total", "WebSocket "
		"connections opened since the start.", opened);
	counter(f, "tern_slow_consumers_total", "Connections closed because "
		"their output queue was full.", st.slow_consumers);
	counter(f, "tern_events_received_total", "EVENT messages read from "
		"clients.", st.events_received);
	counter(f, "tern_events_stored_total", "Events committed to the "
		"store.", st.events_stored);
	counter(f, "tern_events_ephemeral_total", "Ephemeral events "
		"accepted and broadcast.", load(&m->ephemeral));
	counter(f, "tern_auth_total", "NIP-42 AUTH messages that "
		"authenticated a connection.", load(&m->auths));
}

static void write_store(FILE *f, serve_metrics *m)
{
	tern_store *s = tern_relay_store(m->relay);
	tern_store_stats st;

	if (!s || tern_store_stats_get(s, &st))
		return;
	gauge(f, "tern_store_events", "Events in the store.",
	      (double)st.events);
	gauge(f, "tern_store_used_bytes", "Bytes of the store's map in use "
	      "(LMDB pages up to the last used one, free pages included).",
	      (double)st.used_bytes);
	gauge(f, "tern_store_map_size_bytes", "The store's current LMDB map "
	      "size; it grows when full.", (double)st.map_size);
}

static void write_plugin(FILE *f, serve_metrics *m)
{
	tern_plugin_stats st;

	if (!m->plugin)
		return;
	tern_plugin_stats_get(m->plugin, &st);
	counter(f, "tern_plugin_requests_total", "Events sent to the "
		"write-policy plugin.", st.requests);
	counter(f, "tern_plugin_replies_total", "Verdicts given by the "
		"plugin.", st.replies);
	counter(f, "tern_plugin_failures_total", "Verdicts given by "
		"relay.plugin.fail_open because the plugin failed.",
		st.failures);
	counter(f, "tern_plugin_spawns_total", "Plugin processes started.",
		st.spawns);
}

static void write_process(FILE *f, serve_metrics *m)
{
	proc_stat ps;
	struct rlimit rl;
	long fds = open_fds();

	if (read_proc_stat(&ps)) {
		head(f, "process_cpu_seconds_total", "counter", "User and "
		     "system CPU time spent, in seconds.");
		fprintf(f, "process_cpu_seconds_total %.15g\n",
			ps.cpu_seconds);
		gauge(f, "process_resident_memory_bytes", "Resident memory "
		      "size in bytes.",
		      (double)ps.rss_pages * (double)sysconf(_SC_PAGESIZE));
		gauge(f, "process_virtual_memory_bytes", "Virtual memory size "
		      "in bytes.", (double)ps.vsize);
	}
	if (m->start_time > 0)
		gauge(f, "process_start_time_seconds", "Start time of the "
		      "process since the Unix epoch, in seconds.",
		      m->start_time);
	if (fds >= 0)
		gauge(f, "process_open_fds", "Open file descriptors.",
		      (double)fds);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		gauge(f, "process_max_fds", "The limit on open file "
		      "descriptors.", (double)rl.rlim_cur);
}

/* ---- the handler and hooks --------------------------------------------- */

static bool serve(void *ud, const tern_http_request *req,
		  tern_http_response *res)
{
	serve_metrics *m = ud;
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (strcmp(req->path, m->path) || !strcmp(req->method, "OPTIONS"))
		return false;
	if (!allowed(m, req->ip)) {
		static const char msg[] = "forbidden\n";

		tern_http_respond(res, 403, "text/plain; charset=utf-8", msg,
				  sizeof msg - 1);
		return true;
	}
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		static const char msg[] = "method not allowed\n";

		tern_http_response_header(res, "Allow", "GET, HEAD");
		tern_http_respond(res, 405, "text/plain; charset=utf-8", msg,
				  sizeof msg - 1);
		return true;
	}
	f = open_memstream(&body, &len);
	if (!f)
		return true; /* unanswered: 500 */
	write_relay(f, m);
	write_store(f, m);
	write_plugin(f, m);
	write_process(f, m);
	rc = fclose(f) ? TERN_ENOMEM : 0;
	if (!rc)
		tern_http_response_header(res, "Cache-Control", "no-store");
	if (!rc)
		tern_http_respond(res, 200, CONTENT_TYPE, body, len);
	free(body);
	return true;
}

static void on_connect(void *ud, tern_ctx *x)
{
	serve_metrics *m = ud;

	atomic_fetch_add_explicit(&m->ws_opened, 1, memory_order_relaxed);
}

static void on_disconnect(void *ud, tern_ctx *x)
{
	serve_metrics *m = ud;

	atomic_fetch_add_explicit(&m->ws_closed, 1, memory_order_relaxed);
}

static void on_ephemeral(void *ud, tern_ctx *x, const tern_event *ev)
{
	serve_metrics *m = ud;

	atomic_fetch_add_explicit(&m->ephemeral, 1, memory_order_relaxed);
}

static void on_auth(void *ud, tern_ctx *x, const uint8_t pubkey[32])
{
	serve_metrics *m = ud;

	atomic_fetch_add_explicit(&m->auths, 1, memory_order_relaxed);
}

int serve_metrics_start(serve_metrics **out, tern_relay *r,
			const tern_config *cfg, tern_plugin *plugin,
			char *err, size_t errcap)
{
	const tern_config_metrics *mc = &cfg->metrics;
	serve_metrics *m;
	proc_stat ps;
	int rc;

	*out = NULL;
	if (!mc->enabled)
		return 0;
	m = calloc(1, sizeof *m);
	if (!m)
		goto oom;
	m->relay = r;
	m->plugin = plugin;
	m->path = strdup(mc->path);
	m->nallow = mc->nallow;
	m->allow = calloc(mc->nallow ? mc->nallow : 1, sizeof *m->allow);
	if (!m->path || !m->allow)
		goto oom;
	if (mc->nallow)
		memcpy(m->allow, mc->allow, mc->nallow * sizeof *m->allow);
	if (read_proc_stat(&ps)) {
		double boot = boot_time();

		if (boot > 0)
			m->start_time = boot + (double)ps.start_ticks /
					       (double)sysconf(_SC_CLK_TCK);
	}
	rc = tern_on_http_request(r, owner, serve, m);
	if (!rc)
		rc = tern_on_connect(r, owner, on_connect, m);
	if (!rc)
		rc = tern_on_disconnect(r, owner, on_disconnect, m);
	if (!rc)
		rc = tern_on_ephemeral_event(r, owner, on_ephemeral, m);
	if (!rc)
		rc = tern_on_auth(r, owner, on_auth, m);
	if (rc) {
		tern_hooks_remove_owner(r, owner);
		serve_metrics_free(m);
		snprintf(err, errcap, "metrics: %s", tern_strerror(rc));
		return rc;
	}
	*out = m;
	return 0;
oom:
	serve_metrics_free(m);
	snprintf(err, errcap, "metrics: %s", tern_strerror(TERN_ENOMEM));
	return TERN_ENOMEM;
}

void serve_metrics_free(serve_metrics *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->allow);
	free(m);
}
