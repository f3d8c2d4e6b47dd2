/*
 * tern serve's Prometheus endpoint (metrics.c): with metrics.enabled, a
 * GET or HEAD of metrics.path from a client in metrics.allow answers the
 * relay's counters in the Prometheus text format 0.0.4; any other client
 * gets 403. docs/OPERATIONS.md ("Metrics") lists every metric.
 *
 * Everything goes through the public API: an HTTP handler
 * (tern_on_http_request(), run on the thread pool), tern_relay_stats_get(),
 * tern_store_stats_get(), tern_plugin_stats_get(), /proc/self, and a few
 * counting hooks (connect, disconnect, ephemeral event, AUTH) whose cost is
 * one relaxed atomic add each.
 */
#ifndef TERN_SERVER_METRICS_H
#define TERN_SERVER_METRICS_H

#include <stddef.h>

#include <tern/config.h>
#include <tern/plugin.h>
#include <tern/relay.h>

typedef struct serve_metrics serve_metrics;

/*
 * With cfg->metrics.enabled: copies the metrics settings, registers the
 * handler and hooks on r and, when plugin is not NULL, also reports its
 * counters (plugin must outlive the relay's run). Otherwise does nothing
 * (*out NULL). Call before tern_relay_run(). Returns 0, or TERN_ENOMEM
 * with a message in err.
 */
int serve_metrics_start(serve_metrics **out, tern_relay *r,
			const tern_config *cfg, tern_plugin *plugin,
			char *err, size_t errcap);

/* Frees it, after tern_relay_run() has returned. NULL is fine. */
void serve_metrics_free(serve_metrics *m);

#endif
