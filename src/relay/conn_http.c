/*
 * The HTTP phase of a client connection (conn_http.h): reading a request,
 * routing it, and the relay's own answers. The request-head parser is
 * http/request.c; the connection itself is conn.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tern/error.h>
#include <tern/log.h>

#include "http/request.h"
#include "relay/conn.h"
#include "relay/conn_http.h"
#include "relay/http_hooks.h"
#include "relay/io.h"
#include "relay/manage.h"
#include "ws/handshake.h"

static tern__settings *S(tern__conn *c)
{
	return c->io->set;
}

/* ---- answers ---------------------------------------------------------- */

#define CORS "Access-Control-Allow-Origin: *\r\n" \
	     "Access-Control-Allow-Headers: Authorization, *\r\n" \
	     "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	/* The reason phrase is optional (RFC 9112 section 4). */
	return status >= 400 ? "Error" : "";
}

#define REPLY_HEAD "HTTP/1.1 %d %s\r\n" CORS "Connection: close\r\n" \
		   "%s%s%s%s%s\r\n"

static void http_reply(tern__conn *c, int status, const char *ctype,
		       const void *body, size_t len, const char *extra,
		       bool head_only)
{
	char buf[1024], *hdr = buf, clen[48] = "";
	int n, rc;

	/* 204 and 304 answers carry no Content-Length (RFC 9110 8.6). */
	if (status != 204 && status != 304)
		snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", len);
	n = snprintf(hdr, sizeof buf, REPLY_HEAD, status, status_text(status),
		     ctype ? "Content-Type: " : "", ctype ? ctype : "",
		     ctype ? "\r\n" : "", clen, extra ? extra : "");
	/* Long extra headers (an HTTP handler's) need a larger buffer. */
	if (n >= 0 && (size_t)n >= sizeof buf && (hdr = malloc((size_t)n + 1)))
		snprintf(hdr, (size_t)n + 1, REPLY_HEAD, status,
			 status_text(status), ctype ? "Content-Type: " : "",
			 ctype ? ctype : "", ctype ? "\r\n" : "", clen,
			 extra ? extra : "");
	rc = n < 0 || !hdr || tern__outq_copy(&c->out, hdr, (size_t)n) ||
	     (!head_only && len && tern__outq_copy(&c->out, body, len));
	if (hdr != buf)
		free(hdr);
	if (rc) {
		tern__conn_abort(c);
		return;
	}
	tern__outq_end_frame(&c->out);
	c->state = TERN__CONN_HTTP_END;
	uv_read_stop((uv_stream_t *)&c->tcp);
	tern__io_mark_dirty(c->io, c);
}

void tern__conn_http_reply(tern__conn *c, int status, const char *ctype,
			   const void *body, size_t len, const char *extra)
{
	http_reply(c, status, ctype, body, len, extra, false);
}

void tern__conn_http_answer(tern__conn *c, int status, const char *ctype,
			    const void *body, size_t len, const char *extra,
			    bool head_only)
{
	http_reply(c, status, ctype, body, len, extra, head_only);
}

static void http_error(tern__conn *c, int status, const char *reason,
		       const char *extra)
{
	char body[256];
	int n = snprintf(body, sizeof body, "%d %s: %s\n", status,
			 status_text(status), reason ? reason : "");

	if (n >= (int)sizeof body)
		n = (int)sizeof body - 1;
	http_reply(c, status, "text/plain; charset=utf-8", body,
		   n > 0 ? (size_t)n : 0, extra, false);
}

void tern__conn_http_error(tern__conn *c, int status, const char *reason,
			   const char *extra)
{
	http_error(c, status, reason, extra);
}

void tern__conn_http_unserved(tern__conn *c, tern__http_unserved u)
{
	switch (u) {
	case TERN__HTTP_PREFLIGHT:
		http_reply(c, 204, NULL, NULL, 0, NULL, true);
		break;
	case TERN__HTTP_BAD_METHOD:
		http_error(c, 405, "only GET and OPTIONS are served",
			   "Allow: GET, HEAD, OPTIONS\r\n");
		break;
	default:
		http_error(c, 404, "no such page", NULL);
		break;
	}
}

void tern__conn_http_job_begin(tern__conn *c)
{
	/* No further request on this connection: the answer closes it. */
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->http_job = true;
	c->pending++;
}

void tern__conn_http_job_end(tern__conn *c)
{
	c->http_job = false;
	c->pending--;
	c->close_deadline = tern__io_now(c->io) + TERN__CONN_HEAD_TIMEOUT_MS;
}

/* ---- the relay's own pages -------------------------------------------- */

/* Appends s to a FILE with the HTML special characters escaped. */
static void html_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void landing_page(tern__conn *c, const tern__http_request *req,
			 bool head_only)
{
	tern__settings *s = S(c);
	const tern__http_header *host = tern__http_header_find(req, "Host");
	char *body = NULL, hostbuf[256];
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f) {
		tern__conn_abort(c);
		return;
	}
	fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	      "<title>", f);
	html_put(f, s->name);
	fputs("</title></head>\n<body>\n<h1>", f);
	html_put(f, s->name);
	fputs("</h1>\n", f);
	if (*s->description) {
		fputs("<p>", f);
		html_put(f, s->description);
		fputs("</p>\n", f);
	}
	fputs("<p>This is a Nostr relay. Connect a Nostr client to <code>",
	      f);
	if (*s->service_url) {
		html_put(f, s->service_url);
	} else if (host) {
		snprintf(hostbuf, sizeof hostbuf, "ws://%.*s",
			 (int)host->value.n, (const char *)host->value.p);
		html_put(f, hostbuf);
	}
	fputs("</code>.</p>\n<p>Supported NIPs:", f);
	for (size_t i = 0; i < tern__settings_nnips; i++)
		fprintf(f, " %u", tern__settings_nips[i]);
	if (s->lim.min_pow_difficulty)
		fputs(" 13", f);
	if (c->io->r->manage)
		fputs(" 86", f);
	fputs("</p>\n<p>Software: tern " TERN_VERSION "</p>\n"
	      "</body></html>\n", f);
	if (fclose(f) != 0) {
		free(body);
		tern__conn_abort(c);
		return;
	}
	http_reply(c, 200, "text/html; charset=utf-8", body, len, NULL,
		   head_only);
	free(body);
}

/* True when the client asks for the NIP-11 document (an Accept header
 * naming application/nostr+json). */
static bool accepts_nip11(const tern__http_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		const tern__http_header *h = &req->headers[i];

		if (h->name.n == 6 &&
		    strncasecmp((const char *)h->name.p, "Accept", 6) == 0 &&
		    memmem(h->value.p, h->value.n, "application/nostr+json",
			   22))
			return true;
	}
	return false;
}

/* The NIP-11 document, through the overwrite-relay-information hooks. */
static void relay_info(tern__conn *c, bool head_only)
{
	tern__settings *s = S(c);
	tern_relay_info info;
	uint32_t nips[32];
	size_t len;
	char *doc;

	if (!tern__hooks_any(&c->io->r->hooks, TERN__H_RELAY_INFO) &&
	    !c->io->r->manage) {
		http_reply(c, 200, "application/nostr+json", s->nip11,
			   s->nip11_len, NULL, head_only);
		return;
	}
	tern__settings_info(s, &info, nips, sizeof nips / sizeof nips[0]);
	if (c->io->r->manage)
		info.nsupported_nips = tern__settings_add_nip(
			nips, info.nsupported_nips,
			sizeof nips / sizeof nips[0], 86);
	tern__run_relay_info(c->io->r, c, &info);
	doc = tern__settings_nip11_info(s, &info, &len);
	if (!doc) {
		http_error(c, 500, "out of memory", NULL);
		return;
	}
	http_reply(c, 200, "application/nostr+json", doc, len, NULL,
		   head_only);
	free(doc);
}

/* ---- routing ---------------------------------------------------------- */

/* Client address: the last element of the trusted proxy header when one is
 * configured (the address our proxy saw), else the socket's peer. */
static void client_ip(tern__conn *c, const tern__http_request *req)
{
	const char *name = S(c)->trusted_proxy_header;
	const tern__http_header *h;
	const uint8_t *p, *end, *start;

	if (!name || !(h = tern__http_header_find(req, name)))
		return;
	p = h->value.p;
	end = p + h->value.n;
	start = p;
	for (; p < end; p++)
		if (*p == ',')
			start = p + 1;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (start < end && (size_t)(end - start) < sizeof c->ip) {
		memcpy(c->ip, start, (size_t)(end - start));
		c->ip[end - start] = '\0';
	}
}

/* True when req goes to the HTTP handlers (http_hooks.h): some are
 * registered, and it is not a request the relay serves itself. */
static bool for_handlers(const tern__conn *c, const tern__http_request *req)
{
	if (!tern__hooks_any(&c->io->r->hooks, TERN__H_HTTP_REQUEST) ||
	    tern__ws_is_upgrade(req) || tern__manage_is_call(c, req))
		return false;
	return req->path.n != 1 || (req->method_id != TERN__HTTP_GET &&
				    req->method_id != TERN__HTTP_HEAD &&
				    req->method_id != TERN__HTTP_OPTIONS);
}

/* What the relay answers to a request it does not serve. */
static tern__http_unserved unserved(const tern__http_request *req)
{
	if (req->method_id == TERN__HTTP_OPTIONS)
		return TERN__HTTP_PREFLIGHT;
	if (req->method_id != TERN__HTTP_GET &&
	    req->method_id != TERN__HTTP_HEAD)
		return TERN__HTTP_BAD_METHOD;
	return TERN__HTTP_NOT_FOUND;
}

/* Answers the complete request req, parsed from c->head[0..hlen) (the
 * table of routes is in docs/ARCHITECTURE.md); rest[0..nrest) are the
 * bytes read after the head (a body, or the first WebSocket frames). */
static void route(tern__conn *c, const tern__http_request *req,
		  size_t hlen, uint8_t *rest, size_t nrest)
{
	bool head_only = req->method_id == TERN__HTTP_HEAD;
	bool root = req->path.n == 1;

	client_ip(c, req);
	if (!c->ip_counted)
		tern__conn_count_ip(c);
	if (c->ip_over) {
		tern_log(TERN_LOG_INFO, "relay", "#%llu %s: refused: over "
			 "max_connections_per_ip (%u)",
			 (unsigned long long)c->serial, c->ip,
			 S(c)->lim.max_connections_per_ip);
		http_error(c, 429, "too many connections from your address",
			   NULL);
		return;
	}
	if (tern__ws_is_upgrade(req)) {
		tern__conn_upgrade(c, req, c->head, hlen, rest, nrest);
		return;
	}
	if (for_handlers(c, req)) {
		tern__http_hooks_serve(c, req, rest, nrest, unserved(req));
		return;
	}
	if (tern__manage_is_call(c, req)) {
		tern__manage_serve(c, req, rest, nrest);
		return;
	}
	if (root && (req->method_id == TERN__HTTP_GET ||
		     req->method_id == TERN__HTTP_HEAD)) {
		if (accepts_nip11(req))
			relay_info(c, head_only);
		else
			landing_page(c, req, head_only);
		return;
	}
	tern__conn_http_unserved(c, unserved(req));
}

void tern__conn_http_feed(tern__conn *c, const uint8_t *in, size_t len)
{
	tern__http_request *req;
	size_t cap = c->head_cap ? c->head_cap
				 : TERN__HTTP_DEFAULT_MAX_HEAD + 1;
	size_t room = cap - c->head_len;
	size_t take = len < room ? len : room, want;
	int rc;

	if (!c->head) {
		c->head = malloc(cap);
		if (!c->head) {
			tern__conn_abort(c);
			return;
		}
	}
	/* The head is copied (at most 8 KiB); bytes after it are kept with
	 * it and handed to the WebSocket parser. */
	memcpy(c->head + c->head_len, in, take);
	c->head_len += take;
	req = malloc(sizeof *req);
	if (!req) {
		tern__conn_abort(c);
		return;
	}
	rc = tern__http_parse(req, c->head, c->head_len, NULL);
	if (rc == TERN__HTTP_NEED_MORE) {
		if (c->head_len > TERN__HTTP_DEFAULT_MAX_HEAD)
			http_error(c, 431, "request head too large", NULL);
		free(req);
		return;
	}
	if (rc < 0) {
		http_error(c, req->status, req->reason, NULL);
		free(req);
		return;
	}
	/* A request with a body (a NIP-86 call, or one for the HTTP
	 * handlers): head and body are kept together in c->head, grown as
	 * the body arrives (not to what Content-Length announces: memory
	 * follows the bytes a client actually sends). */
	want = tern__manage_body_len(c, req);
	if (!want && for_handlers(c, req) && req->has_content_length &&
	    req->content_length <= TERN_HTTP_MAX_BODY)
		want = (size_t)req->content_length;
	if (want && c->head_len + (len - take) < (size_t)rc + want) {
		size_t need = c->head_len + (len - take);

		free(req);
		if (need > cap) {
			size_t ncap = cap * 2 > need ? cap * 2 : need;
			uint8_t *grown;

			if (ncap > (size_t)rc + want)
				ncap = (size_t)rc + want;
			grown = realloc(c->head, ncap);
			if (!grown) {
				tern__conn_abort(c);
				return;
			}
			c->head = grown;
			c->head_cap = ncap;
		}
		memcpy(c->head + c->head_len, in + take, len - take);
		c->head_len += len - take;
		return;
	}
	{
		/* Pipelined bytes past our copy (a large first frame). */
		size_t nrest = c->head_len - (size_t)rc;
		size_t extra = len - take;
		uint8_t *rest = c->head + rc;
		uint8_t *joined = NULL;

		if (extra) {
			joined = malloc(nrest + extra);
			if (!joined) {
				free(req);
				tern__conn_abort(c);
				return;
			}
			memcpy(joined, rest, nrest);
			memcpy(joined + nrest, in + take, extra);
			rest = joined;
			nrest += extra;
		}
		route(c, req, (size_t)rc, rest, nrest);
		free(joined);
	}
	free(req);
	free(c->head);
	c->head = NULL;
	c->head_len = c->head_cap = 0;
}
