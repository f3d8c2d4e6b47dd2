/*
 * Write-policy plugins (include/tern/plugin.h): a reject-event hook that
 * defers each event's verdict to the plugin host (host.h), whose thread
 * completes the deferral when the plugin answers or the fail policy
 * decides.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>
#include <tern/plugin.h>

#include "plugin/host.h"
#include "plugin/proto.h"

struct tern_plugin {
	tern_relay *relay;
	tern__plugin_host *host;
	bool fail_open;
};

void tern_plugin_options_defaults(tern_plugin_options *o)
{
	*o = (tern_plugin_options){
		.command = NULL,
		.timeout_ms = 2000,
		.max_pending = 1024,
		.fail_open = false,
		.reload_on_change = true,
	};
}

static tern_verdict fail_now(const tern_plugin *p, tern_reason *why,
			     const char *msg)
{
	if (p->fail_open)
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_ERROR, "%s", msg);
	return TERN_REJECT;
}

/* I/O thread: sends ev to the plugin and defers the verdict. */
static tern_verdict on_reject_event(void *ud, tern_ctx *x,
				    const tern_event *ev, tern_reason *why)
{
	tern_plugin *p = ud;
	tern_conn *c = tern_ctx_conn(x);
	const char *type = "Import", *info = "";
	char authed[65] = "";
	tern_deferral *d;
	char *line;
	size_t len;
	int rc;

	if (c) {
		info = tern_conn_ip(c);
		type = strchr(info, ':') ? "IP6" : "IP4";
		if (tern_conn_authed_count(c)) {
			tern_hex_encode(authed, tern_conn_authed_pubkey(c, 0),
					32);
			authed[64] = 0;
		}
	}
	if (tern__plugin_request(ev, (uint64_t)time(NULL), type, info, authed,
				 &line, &len))
		return fail_now(p, why, "out of memory");
	rc = tern__plugin_host_reserve(p->host);
	if (rc) {
		free(line);
		return fail_now(p, why, rc == TERN_EFULL ? "plugin queue is full"
							 : "plugin stopped");
	}
	d = tern_ctx_defer(x);
	if (!d) {
		tern__plugin_host_unreserve(p->host);
		free(line);
		return fail_now(p, why, "out of memory");
	}
	tern__plugin_host_submit(p->host, ev->id, line, len, d);
	return TERN_DEFER;
}

/* Host thread: the verdict for one deferred event. */
static void on_done(void *ctx, void *cookie, tern__plugin_action a,
		    const tern_reason *why, bool failed)
{
	tern_deferral *d = cookie;

	switch (a) {
	case TERN__PLUGIN_ACCEPT:
		tern_deferral_complete(d, TERN_PASS, NULL);
		break;
	case TERN__PLUGIN_REJECT:
		if (tern_log_enabled(TERN_LOG_DEBUG))
			tern_log(TERN_LOG_DEBUG, "plugin",
				 "event rejected%s: %s: %s",
				 failed ? " (fail policy)" : "",
				 tern_prefix_name(why->prefix), why->msg);
		tern_deferral_complete(d, TERN_REJECT, why);
		break;
	case TERN__PLUGIN_SHADOW_REJECT:
		tern_deferral_complete(d, TERN_SHADOW_REJECT, NULL);
		break;
	}
}

int tern_plugin_attach(tern_relay *r, const tern_plugin_options *o,
		       tern_plugin **out)
{
	tern__plugin_host_opts ho = { 0 };
	tern_plugin *p;
	int rc;

	*out = NULL;
	if (!r || !o || !o->command || !o->command[0] || !o->timeout_ms ||
	    !o->max_pending)
		return TERN_EINVAL;
	p = calloc(1, sizeof *p);
	if (!p)
		return TERN_ENOMEM;
	p->relay = r;
	p->fail_open = o->fail_open;
	ho.command = o->command;
	ho.timeout_ms = o->timeout_ms;
	ho.max_pending = o->max_pending;
	ho.fail_open = o->fail_open;
	ho.reload_on_change = o->reload_on_change;
	ho.done = on_done;
	ho.ctx = p;
	rc = tern__plugin_host_start(&p->host, &ho);
	if (rc) {
		free(p);
		return rc;
	}
	rc = tern_on_reject_event(r, p, on_reject_event, p);
	if (rc) {
		tern__plugin_host_stop(p->host);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void tern_plugin_stats_get(tern_plugin *p, tern_plugin_stats *st)
{
	tern__plugin_host_stats hs;

	tern__plugin_host_stats_get(p->host, &hs);
	*st = (tern_plugin_stats){
		.requests = hs.requests,
		.replies = hs.replies,
		.failures = hs.failures,
		.garbage = hs.garbage,
		.spawns = hs.spawns,
		.reloads = hs.reloads,
	};
}

void tern_plugin_detach(tern_plugin *p)
{
	if (!p)
		return;
	tern_hooks_remove_owner(p->relay, p);
	tern__plugin_host_stop(p->host);
	free(p);
}
