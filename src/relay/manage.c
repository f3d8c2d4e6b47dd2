/*
 * The NIP-86 management API (tern/manage.h, manage.h): the tern_manage
 * object, the dispatch of one call, and its HTTP glue.
 *
 * Calls run on libuv's thread pool rather than on the I/O thread: the
 * callbacks of a management API typically write files or the store, and
 * calls are rare, so a blocking callback costs one pool thread instead of
 * stalling every connection of an I/O thread.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uv.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>

#include "nostr/nip98.h"
#include "proto/json.h"
#include "proto/rpc.h"
#include "relay/conn.h"
#include "relay/conn_http.h"
#include "relay/io.h"
#include "relay/manage.h"
#include "relay/relay.h"

#define CONTENT_TYPE "application/nostr+json+rpc"
/* Scratch memory of one call: the decoded authorization event and the
 * parsed body (bounded by TERN_MANAGE_MAX_BODY, so this is generous). */
#define CALL_ARENA_LIMIT (4u << 20)

typedef struct reject_hook {
	const void *owner;
	tern_reject_api_call_fn fn;
	void *ud;
} reject_hook;

struct tern_manage {
	tern_manage_ops ops;
	void *ud;
	pthread_mutex_t mu; /* guards hooks */
	reject_hook *hooks;
	size_t nhooks;
};

/* ---- a growable output buffer ----------------------------------------- */

typedef struct dbuf {
	char *p;
	size_t len, cap;
	bool oom;
} dbuf;

static void put(dbuf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(dbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* s as a JSON string (quoted, escaped). */
static void put_json_str(dbuf *b, const char *s)
{
	tern_slice in = { (const uint8_t *)s, strlen(s) };
	size_t n = tern__json_escaped_len(in);
	uint8_t *tmp = malloc(n);

	if (!tmp) {
		b->oom = true;
		return;
	}
	tern__json_escape(tmp, in);
	put(b, tmp, n);
	free(tmp);
}

/* ---- results ----------------------------------------------------------- */

typedef enum res_kind {
	R_TRUE,    /* true */
	R_PUBKEYS, /* [{"pubkey":..,"reason":..}] */
	R_IDS,     /* [{"id":..,"reason":..}] */
	R_IPS,     /* [{"ip":..,"reason":..}] */
	R_KINDS,   /* [<kind>...] */
	R_ANY,     /* generic: set by tern_manage_result_json(), else true */
} res_kind;

struct tern_manage_result {
	res_kind kind;
	dbuf items;     /* list items, comma-separated */
	size_t nitems;
	dbuf json;      /* tern_manage_result_json() */
	bool has_json;
	char err[TERN_REASON_MAX];
};

static const char *item_key(res_kind k)
{
	switch (k) {
	case R_PUBKEYS: return "pubkey";
	case R_IDS: return "id";
	case R_IPS: return "ip";
	default: return NULL;
	}
}

int tern_manage_result_add(tern_manage_result *res, const char *value,
			   const char *reason)
{
	const char *key = res ? item_key(res->kind) : NULL;

	if (!key || !value)
		return TERN_EINVAL;
	if (res->nitems)
		puts_(&res->items, ",");
	puts_(&res->items, "{\"");
	puts_(&res->items, key);
	puts_(&res->items, "\":");
	put_json_str(&res->items, value);
	puts_(&res->items, ",\"reason\":");
	put_json_str(&res->items, reason ? reason : "");
	puts_(&res->items, "}");
	res->nitems++;
	return res->items.oom ? TERN_ENOMEM : 0;
}

int tern_manage_result_add_key(tern_manage_result *res, const uint8_t key[32],
			       const char *reason)
{
	char hex[65];

	if (!key)
		return TERN_EINVAL;
	tern_hex_encode(hex, key, 32);
	hex[64] = '\0';
	return tern_manage_result_add(res, hex, reason);
}

int tern_manage_result_add_kind(tern_manage_result *res, uint32_t kind)
{
	char num[16];

	if (!res || res->kind != R_KINDS)
		return TERN_EINVAL;
	snprintf(num, sizeof num, "%s%u", res->nitems ? "," : "", kind);
	puts_(&res->items, num);
	res->nitems++;
	return res->items.oom ? TERN_ENOMEM : 0;
}

int tern_manage_result_json(tern_manage_result *res, const char *json,
			    size_t len)
{
	if (!res || (!json && len))
		return TERN_EINVAL;
	res->json.len = 0;
	put(&res->json, json, len);
	res->has_json = true;
	return res->json.oom ? TERN_ENOMEM : 0;
}

int tern_manage_result_error(tern_manage_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res) {
		va_start(ap, fmt);
		vsnprintf(res->err, sizeof res->err, fmt, ap);
		va_end(ap);
	}
	return TERN_EINVAL;
}

/* ---- the object ---------------------------------------------------------- */

int tern_manage_new(tern_manage **out, const tern_manage_ops *ops, void *ud)
{
	tern_manage *m;

	if (!out || !ops)
		return TERN_EINVAL;
	*out = NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		return TERN_ENOMEM;
	m->ops = *ops;
	m->ud = ud;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

int tern_manage_on_reject_api_call(tern_manage *m, const void *owner,
				   tern_reject_api_call_fn fn, void *ud)
{
	reject_hook *h;

	if (!m || !fn)
		return TERN_EINVAL;
	pthread_mutex_lock(&m->mu);
	h = realloc(m->hooks, (m->nhooks + 1) * sizeof *h);
	if (!h) {
		pthread_mutex_unlock(&m->mu);
		return TERN_ENOMEM;
	}
	h[m->nhooks++] = (reject_hook){ owner, fn, ud };
	m->hooks = h;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

void tern_manage_remove_owner(tern_manage *m, const void *owner)
{
	size_t j = 0;

	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nhooks; i++)
		if (m->hooks[i].owner != owner)
			m->hooks[j++] = m->hooks[i];
	m->nhooks = j;
	pthread_mutex_unlock(&m->mu);
}

int tern_relay_set_manage(tern_relay *r, tern_manage *m)
{
	if (!r)
		return TERN_EINVAL;
	r->manage = m;
	return 0;
}

void tern_manage_free(tern_manage *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->hooks);
	free(m);
}

/* ---- methods ------------------------------------------------------------- */

typedef enum args_kind {
	A_NONE, /* [] */
	A_KEY,  /* ["<64 hex>", reason?] */
	A_TEXT, /* ["<text>"] */
	A_KIND, /* [<kind>] */
	A_IP,   /* ["<ip>", reason?] */
} args_kind;

typedef struct method {
	const char *name;
	size_t off; /* of the callback in tern_manage_ops */
	args_kind args;
	res_kind res;
} method;

#define M(name, field, a, r) { name, offsetof(tern_manage_ops, field), a, r }

static const method methods[] = {
	M("banpubkey", ban_pubkey, A_KEY, R_TRUE),
	M("unbanpubkey", unban_pubkey, A_KEY, R_TRUE),
	M("listbannedpubkeys", list_banned_pubkeys, A_NONE, R_PUBKEYS),
	M("allowpubkey", allow_pubkey, A_KEY, R_TRUE),
	M("unallowpubkey", unallow_pubkey, A_KEY, R_TRUE),
	M("listallowedpubkeys", list_allowed_pubkeys, A_NONE, R_PUBKEYS),
	M("listeventsneedingmoderation", list_events_needing_moderation,
	  A_NONE, R_IDS),
	M("allowevent", allow_event, A_KEY, R_TRUE),
	M("unallowevent", unallow_event, A_KEY, R_TRUE),
	M("listallowedevents", list_allowed_events, A_NONE, R_IDS),
	M("banevent", ban_event, A_KEY, R_TRUE),
	M("unbanevent", unban_event, A_KEY, R_TRUE),
	M("listbannedevents", list_banned_events, A_NONE, R_IDS),
	M("changerelayname", change_relay_name, A_TEXT, R_TRUE),
	M("changerelaydescription", change_relay_description, A_TEXT, R_TRUE),
	M("changerelayicon", change_relay_icon, A_TEXT, R_TRUE),
	M("allowkind", allow_kind, A_KIND, R_TRUE),
	M("disallowkind", disallow_kind, A_KIND, R_TRUE),
	M("listallowedkinds", list_allowed_kinds, A_NONE, R_KINDS),
	M("listdisallowedkinds", list_disallowed_kinds, A_NONE, R_KINDS),
	M("blockip", block_ip, A_IP, R_TRUE),
	M("unblockip", unblock_ip, A_IP, R_TRUE),
	M("listblockedips", list_blocked_ips, A_NONE, R_IPS),
};

static tern_manage_fn fn_of(const tern_manage *m, const method *me)
{
	tern_manage_fn fn;

	memcpy(&fn, (const char *)&m->ops + me->off, sizeof fn);
	return fn;
}

static const method *find_method(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Decodes call->params for me into call's fields; false with why set. */
static bool decode_args(const method *me, tern_manage_call *call,
			char *ipbuf, size_t ipcap, char *why, size_t whycap)
{
	const tern_manage_param *p = call->params;
	size_t n = call->nparams, max = 0;
	unsigned char addr[16];

	switch (me->args) {
	case A_NONE:
		max = 0;
		break;
	case A_TEXT:
	case A_KIND:
		max = 1;
		break;
	case A_KEY:
	case A_IP:
		max = 2;
		break;
	}
	if (n > max) {
		snprintf(why, whycap, "%s takes at most %zu param%s", me->name,
			 max, max == 1 ? "" : "s");
		return false;
	}
	if (me->args == A_NONE)
		return true;
	if (n == 0) {
		snprintf(why, whycap, "%s needs a param", me->name);
		return false;
	}
	if (max == 2 && n == 2) {
		if (p[1].type != TERN_MANAGE_PARAM_STRING) {
			snprintf(why, whycap, "the reason must be a string");
			return false;
		}
		call->reason = p[1].str;
	}
	switch (me->args) {
	case A_KEY:
		if (p[0].type != TERN_MANAGE_PARAM_STRING ||
		    !is_hex64(p[0].str) ||
		    !tern_hex_decode(call->key, p[0].str, 32)) {
			snprintf(why, whycap, "the first param must be 64 "
				 "lowercase hex digits");
			return false;
		}
		return true;
	case A_TEXT:
		if (p[0].type != TERN_MANAGE_PARAM_STRING) {
			snprintf(why, whycap, "the param must be a string");
			return false;
		}
		call->text = p[0].str;
		return true;
	case A_KIND:
		if (!tern__rpc_param_kind(&p[0], &call->kind)) {
			snprintf(why, whycap, "the param must be a kind, an "
				 "integer 0..65535");
			return false;
		}
		return true;
	case A_IP:
		if (p[0].type == TERN_MANAGE_PARAM_STRING &&
		    inet_pton(AF_INET, p[0].str, addr) == 1 &&
		    inet_ntop(AF_INET, addr, ipbuf, (socklen_t)ipcap)) {
			call->text = ipbuf;
			return true;
		}
		if (p[0].type == TERN_MANAGE_PARAM_STRING &&
		    inet_pton(AF_INET6, p[0].str, addr) == 1 &&
		    inet_ntop(AF_INET6, addr, ipbuf, (socklen_t)ipcap)) {
			call->text = ipbuf;
			return true;
		}
		snprintf(why, whycap, "the first param must be an IPv4 or "
			 "IPv6 address");
		return false;
	default:
		return true;
	}
}

/* The reject-api-call hooks, on a copy of the list (a hook may change
 * it). */
static tern_verdict run_hooks(tern_manage *m, const tern_manage_call *call,
			      tern_reason *why)
{
	reject_hook *hs = NULL;
	size_t n;
	tern_verdict v = TERN_PASS;

	pthread_mutex_lock(&m->mu);
	n = m->nhooks;
	if (n && (hs = malloc(n * sizeof *hs)))
		memcpy(hs, m->hooks, n * sizeof *hs);
	pthread_mutex_unlock(&m->mu);
	if (n && !hs) {
		tern_reason_set(why, TERN_PREFIX_ERROR, "out of memory");
		return TERN_REJECT;
	}
	for (size_t i = 0; i < n; i++) {
		v = hs[i].fn(hs[i].ud, call, why);
		if (v == TERN_PASS)
			continue;
		if (v == TERN_ACCEPT) {
			v = TERN_PASS;
			break;
		}
		if (v != TERN_REJECT) {
			tern_reason_set(why, TERN_PREFIX_ERROR, "an api call "
					"hook gave an invalid verdict");
			v = TERN_REJECT;
		}
		break;
	}
	free(hs);
	return v;
}

static void answer_error(dbuf *out, const char *msg)
{
	out->len = 0;
	puts_(out, "{\"result\":null,\"error\":");
	put_json_str(out, msg);
	puts_(out, "}");
}

static void answer_supported(tern_manage *m, dbuf *out)
{
	bool first = true;

	puts_(out, "{\"result\":[");
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (!fn_of(m, &methods[i]))
			continue;
		puts_(out, first ? "\"" : ",\"");
		puts_(out, methods[i].name);
		puts_(out, "\"");
		first = false;
	}
	if (m->ops.generic)
		for (const char *const *g = m->ops.generic_methods; g && *g;
		     g++) {
			if (!first)
				puts_(out, ",");
			put_json_str(out, *g);
			first = false;
		}
	puts_(out, "]}");
}

/* Calls fn and writes its answer. */
static void call_method(tern_manage *m, tern_manage_fn fn, res_kind kind,
			const tern_manage_call *call, dbuf *out)
{
	tern_manage_result res = { .kind = kind };
	int rc = fn(m->ud, call, &res);

	if (rc) {
		answer_error(out, res.err[0] ? res.err : tern_strerror(rc));
	} else if (res.items.oom || res.json.oom) {
		out->oom = true;
	} else if (res.has_json) {
		puts_(out, "{\"result\":");
		put(out, res.json.p, res.json.len);
		puts_(out, "}");
	} else if (kind == R_TRUE || kind == R_ANY) {
		puts_(out, "{\"result\":true}");
	} else {
		puts_(out, "{\"result\":[");
		put(out, res.items.p, res.items.len);
		puts_(out, "]}");
	}
	free(res.items.p);
	free(res.json.p);
}

void tern__manage_run(const tern__manage_input *in, int *status, char **out,
		      size_t *len)
{
	tern_manage *m = in->m;
	tern_arena a;
	tern_reason why = { 0 };
	tern__rpc_request req;
	tern_manage_call call = { 0 };
	tern__nip98_request rq = {
		.authorization = in->authorization,
		.method = "POST",
		.urls = in->urls,
		.body = in->body,
		.require_payload = true,
		.now = in->now,
		.window = TERN_MANAGE_AUTH_WINDOW,
	};
	char msg[TERN_REASON_MAX + 64], ipbuf[INET6_ADDRSTRLEN];
	const method *me;
	tern_manage_fn fn = NULL;
	dbuf o = { 0 };
	int rc;

	*status = 200;
	tern_arena_init(&a, CALL_ARENA_LIMIT);
	rc = tern__nip98_check(&rq, call.caller, &a, &why);
	if (rc) {
		*status = rc == TERN_ENOMEM ? 500 : 401;
		snprintf(msg, sizeof msg, "unauthorized: %s",
			 rc == TERN_ENOMEM ? "out of memory" : why.msg);
		answer_error(&o, msg);
		goto done;
	}
	rc = tern__rpc_parse(&req, in->body.p, in->body.n, &a, &why);
	if (rc) {
		*status = rc == TERN_ENOMEM ? 500 : 400;
		snprintf(msg, sizeof msg, "invalid request: %s", why.msg);
		answer_error(&o, msg);
		goto done;
	}
	call.relay = in->r;
	call.method = req.method;
	call.ip = in->ip;
	call.reason = "";
	call.text = "";
	call.params = req.params;
	call.nparams = req.nparams;
	me = find_method(req.method);
	if (me && (fn = fn_of(m, me)) &&
	    !decode_args(me, &call, ipbuf, sizeof ipbuf, why.msg,
			 sizeof why.msg)) {
		snprintf(msg, sizeof msg, "invalid params: %s", why.msg);
		answer_error(&o, msg);
		goto done;
	}
	memset(&why, 0, sizeof why);
	if (run_hooks(m, &call, &why) == TERN_REJECT) {
		if (why.prefix == TERN_PREFIX_NONE)
			why.prefix = TERN_PREFIX_BLOCKED;
		if (!why.msg[0])
			snprintf(why.msg, sizeof why.msg, "not allowed");
		tern_reason_format(&why, msg, sizeof msg);
		*status = 401;
		answer_error(&o, msg);
		goto done;
	}
	if (strcmp(req.method, "supportedmethods") == 0 && !req.nparams)
		answer_supported(m, &o);
	else if (strcmp(req.method, "supportedmethods") == 0)
		answer_error(&o, "invalid params: supportedmethods takes no "
			     "params");
	else if (fn)
		call_method(m, fn, me->res, &call, &o);
	else if (m->ops.generic)
		call_method(m, m->ops.generic, R_ANY, &call, &o);
	else {
		snprintf(msg, sizeof msg, "method not supported: %.100s",
			 req.method);
		answer_error(&o, msg);
	}
done:
	tern_arena_free(&a);
	if (o.oom) {
		free(o.p);
		*status = 500;
		*out = NULL;
		*len = 0;
		return;
	}
	*out = o.p;
	*len = o.len;
}

/* ---- HTTP glue ------------------------------------------------------------ */

void tern__manage_urls(const char *service_url, tern_slice host,
		       const char **urls, size_t cap, char *buf,
		       size_t bufcap)
{
	static const char *const pairs[][2] = {
		{ "ws://", "http://" },
		{ "wss://", "https://" },
		{ "http://", "ws://" },
		{ "https://", "wss://" },
	};
	size_t n = 0, used = 0;

	/* Appends prefix + rest as one more URL. */
#define ADD(prefix, rest, rlen)                                              \
	do {                                                                 \
		size_t pl_ = strlen(prefix), need_ = pl_ + (rlen) + 1;       \
		if (n + 1 < cap && used + need_ <= bufcap) {                 \
			memcpy(buf + used, prefix, pl_);                     \
			memcpy(buf + used + pl_, rest, rlen);                \
			buf[used + pl_ + (rlen)] = '\0';                     \
			urls[n++] = buf + used;                              \
			used += need_;                                       \
		}                                                            \
	} while (0)

	if (service_url && *service_url) {
		ADD("", service_url, strlen(service_url));
		for (size_t i = 0; i < 4; i++) {
			size_t pl = strlen(pairs[i][0]);

			if (strncasecmp(service_url, pairs[i][0], pl) == 0) {
				ADD(pairs[i][1], service_url + pl,
				    strlen(service_url) - pl);
				break;
			}
		}
	} else if (host.n) {
		for (size_t i = 0; i < 4; i++)
			ADD(pairs[i][0], host.p, host.n);
	}
#undef ADD
	if (cap)
		urls[n] = NULL;
}

/* The media type of Content-Type, without parameters, is ours. */
static bool content_type_ok(const tern__http_request *req)
{
	const tern__http_header *h = tern__http_header_find(req,
							    "Content-Type");
	size_t n, want = strlen(CONTENT_TYPE);

	if (!h)
		return false;
	for (n = 0; n < h->value.n && h->value.p[n] != ';'; n++)
		;
	while (n && (h->value.p[n - 1] == ' ' || h->value.p[n - 1] == '\t'))
		n--;
	return n == want &&
	       strncasecmp((const char *)h->value.p, CONTENT_TYPE, n) == 0;
}

bool tern__manage_is_call(const tern__conn *c, const tern__http_request *req)
{
	return c->io->r->manage && req->method_id == TERN__HTTP_POST &&
	       req->path.n == 1 && content_type_ok(req);
}

size_t tern__manage_body_len(const tern__conn *c,
			     const tern__http_request *req)
{
	if (!tern__manage_is_call(c, req) || !req->has_content_length ||
	    req->content_length > TERN_MANAGE_MAX_BODY)
		return 0;
	return (size_t)req->content_length;
}

typedef struct job {
	uv_work_t work;
	tern__conn *c;
	tern__manage_input in;
	uint8_t *body;
	char *auth;
	const char *urls[6];
	char urlbuf[2048];
	char ip[64];
	int status;
	char *out;
	size_t len;
} job;

static void work_cb(uv_work_t *w)
{
	job *j = w->data;

	tern__manage_run(&j->in, &j->status, &j->out, &j->len);
}

/* RFC 9110 section 11.6.1: a 401 names the scheme to use. */
static const char *extra_headers(int status)
{
	return status == 401 ? "WWW-Authenticate: Nostr\r\n" : NULL;
}

static void plain_error(tern__conn *c, int status, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof body, "{\"result\":null,\"error\":\"%s\"}",
			 msg);

	tern__conn_http_reply(c, status, "application/json", body,
			      n > 0 ? (size_t)n : 0, extra_headers(status));
}

static void after_cb(uv_work_t *w, int status)
{
	job *j = w->data;
	tern__conn *c = j->c;

	(void)status;
	tern__conn_http_job_end(c);
	if (tern__conn_http_waiting(c)) {
		if (j->out)
			tern__conn_http_reply(c, j->status, "application/json",
					      j->out, j->len,
					      extra_headers(j->status));
		else
			plain_error(c, 500, "out of memory");
	}
	tern_log(TERN_LOG_INFO, "relay", "#%llu %s: management call: %d",
		 (unsigned long long)c->serial, c->ip, j->status);
	free(j->out);
	free(j->body);
	free(j->auth);
	free(j);
	tern__conn_release(c);
}

void tern__manage_serve(tern__conn *c, const tern__http_request *req,
			const uint8_t *body, size_t n)
{
	const tern__http_header *auth, *host;
	job *j;

	if (!req->has_content_length) {
		plain_error(c, 411, "a Content-Length is required");
		return;
	}
	if (req->content_length > TERN_MANAGE_MAX_BODY) {
		plain_error(c, 413, "the body is too large");
		return;
	}
	if (n < req->content_length) {
		plain_error(c, 400, "the body is incomplete");
		return;
	}
	n = (size_t)req->content_length;
	auth = tern__http_header_find(req, "Authorization");
	if (auth && tern__http_header_count(req, "Authorization") > 1) {
		plain_error(c, 401, "unauthorized: several Authorization "
			    "headers");
		return;
	}
	host = tern__http_header_find(req, "Host");
	j = calloc(1, sizeof *j);
	if (!j || !(j->body = malloc(n ? n : 1)) ||
	    (auth && !(j->auth = malloc(auth->value.n ? auth->value.n : 1)))) {
		if (j)
			free(j->body);
		free(j);
		tern__conn_abort(c);
		return;
	}
	if (n)
		memcpy(j->body, body, n);
	if (auth && auth->value.n)
		memcpy(j->auth, auth->value.p, auth->value.n);
	snprintf(j->ip, sizeof j->ip, "%s", c->ip);
	tern__manage_urls(c->io->set->service_url,
			  host ? host->value : (tern_slice){ 0 }, j->urls,
			  sizeof j->urls / sizeof j->urls[0], j->urlbuf,
			  sizeof j->urlbuf);
	j->c = c;
	j->in = (tern__manage_input){
		.m = c->io->r->manage,
		.r = c->io->r,
		.authorization = { (const uint8_t *)j->auth,
				   auth ? auth->value.n : 0 },
		.body = { j->body, n },
		.urls = j->urls,
		.ip = j->ip,
		.now = (uint64_t)time(NULL),
	};
	j->work.data = j;
	/* The request timeout waits for the call (conn_http.h). */
	tern__conn_http_job_begin(c);
	if (uv_queue_work(&c->io->loop, &j->work, work_cb, after_cb)) {
		tern__conn_http_job_end(c);
		free(j->body);
		free(j->auth);
		free(j);
		plain_error(c, 500, "cannot queue the call");
	}
}
