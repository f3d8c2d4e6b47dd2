/* HTTP handlers: the request copy, the thread-pool job, the answer
 * (http_hooks.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include <tern/error.h>
#include <tern/log.h>

#include "relay/hooks.h"
#include "relay/http_hooks.h"
#include "relay/io.h"
#include "relay/relay.h"

struct tern_http_response {
	int status;       /* 0 until tern_http_respond() */
	char *ctype;      /* NULL: no Content-Type */
	uint8_t *body;
	size_t len;
	char *headers;    /* "Name: value\r\n" lines */
	size_t hlen;
};

typedef struct job {
	uv_work_t work;
	tern__conn *c;
	tern_relay *r;
	tern_http_request req;
	tern_http_header *headers;
	char *strings;    /* method, path, query, headers, ip */
	uint8_t *body;
	tern__http_unserved fallback;
	bool head_only;
	bool answered;
	tern_http_response res;
} job;

/* ---- the request ------------------------------------------------------ */

const char *tern_http_request_header(const tern_http_request *req,
				     const char *name)
{
	if (!req || !name)
		return NULL;
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* Appends s as a NUL-terminated string at *p. */
static const char *put_str(char **p, tern_slice s)
{
	char *out = *p;

	if (s.n)
		memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	*p += s.n + 1;
	return out;
}

static void job_free(job *j)
{
	if (!j)
		return;
	free(j->res.ctype);
	free(j->res.body);
	free(j->res.headers);
	free(j->headers);
	free(j->strings);
	free(j->body);
	free(j);
}

/* A copy of req and its body[0..n) for the pool thread; NULL when out of
 * memory. */
static job *job_new(tern__conn *c, const tern__http_request *req,
		    const uint8_t *body, size_t n)
{
	size_t ipn = strlen(c->ip), size;
	job *j = calloc(1, sizeof *j);
	char *p;

	if (!j)
		return NULL;
	size = req->method.n + 1 + req->path.n + 1 + ipn + 1;
	if (req->query.p)
		size += req->query.n + 1;
	for (size_t i = 0; i < req->n_headers; i++)
		size += req->headers[i].name.n + req->headers[i].value.n + 2;
	j->strings = malloc(size);
	j->headers = malloc((req->n_headers ? req->n_headers : 1) *
			    sizeof *j->headers);
	j->body = malloc(n ? n : 1);
	if (!j->strings || !j->headers || !j->body) {
		job_free(j);
		return NULL;
	}
	p = j->strings;
	j->req.method = put_str(&p, req->method);
	j->req.path = put_str(&p, req->path);
	j->req.query = req->query.p ? put_str(&p, req->query) : NULL;
	for (size_t i = 0; i < req->n_headers; i++) {
		j->headers[i].name = put_str(&p, req->headers[i].name);
		j->headers[i].value = put_str(&p, req->headers[i].value);
	}
	j->req.ip = put_str(&p, (tern_slice){ (const uint8_t *)c->ip, ipn });
	if (n)
		memcpy(j->body, body, n);
	j->req.headers = j->headers;
	j->req.nheaders = req->n_headers;
	j->req.body = (tern_slice){ j->body, n };
	j->req.relay = c->io->r;
	j->req.conn_id = c->serial;
	j->c = c;
	j->r = c->io->r;
	j->head_only = req->method_id == TERN__HTTP_HEAD;
	return j;
}

/* ---- the answer ------------------------------------------------------- */

static void response_clear(tern_http_response *res)
{
	free(res->ctype);
	free(res->body);
	free(res->headers);
	memset(res, 0, sizeof *res);
}

/* RFC 9110 section 5.6.2. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* A field value: no control character but TAB (so no CR or LF, which
 * would let a value add header lines of its own). */
static bool is_value(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

int tern_http_respond(tern_http_response *res, int status,
		      const char *content_type, const void *body, size_t len)
{
	char *ctype = NULL;
	uint8_t *copy = NULL;

	if (!res || status < 200 || status > 599 || (len && !body) ||
	    (content_type && !is_value(content_type)))
		return TERN_EINVAL;
	if ((content_type && !(ctype = strdup(content_type))) ||
	    (len && !(copy = malloc(len)))) {
		free(ctype);
		/* Half an answer is no answer: the relay answers 500. */
		res->status = 0;
		return TERN_ENOMEM;
	}
	if (len)
		memcpy(copy, body, len);
	free(res->ctype);
	free(res->body);
	res->status = status;
	res->ctype = ctype;
	res->body = copy;
	res->len = len;
	return 0;
}

int tern_http_response_header(tern_http_response *res, const char *name,
			      const char *value)
{
	static const char *const own[] = {
		"Content-Length", "Content-Type", "Connection",
		"Transfer-Encoding", "Access-Control-Allow-Origin",
		"Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
	};
	size_t nn, vn, need;
	char *h;

	if (!res || !name || !value || !is_token(name) || !is_value(value))
		return TERN_EINVAL;
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strcasecmp(name, own[i]) == 0)
			return TERN_EINVAL;
	nn = strlen(name);
	vn = strlen(value);
	need = res->hlen + nn + vn + 4;
	if (need > TERN__HTTP_HOOKS_MAX_HEADERS)
		return TERN_EINVAL;
	h = realloc(res->headers, need + 1);
	if (!h)
		return TERN_ENOMEM;
	memcpy(h + res->hlen, name, nn);
	memcpy(h + res->hlen + nn, ": ", 2);
	memcpy(h + res->hlen + nn + 2, value, vn);
	memcpy(h + res->hlen + nn + 2 + vn, "\r\n", 2);
	h[need] = '\0';
	res->headers = h;
	res->hlen = need;
	return 0;
}

/* ---- the job ---------------------------------------------------------- */

/* On a pool thread: the handlers, in order, until one answers. */
static void work_cb(uv_work_t *w)
{
	job *j = w->data;
	tern__hooks *h = &j->r->hooks;
	const tern__hook_list *l;

	tern__hooks_enter_shared(h);
	l = tern__hooks_get(h, TERN__H_HTTP_REQUEST);
	for (size_t i = 0; l && i < l->n && !j->answered; i++) {
		/* What a declining handler set is not the next one's. */
		response_clear(&j->res);
		j->answered = ((tern_http_handler_fn)l->v[i].fn)(
			l->v[i].ud, &j->req, &j->res);
	}
	tern__hooks_leave_shared(h);
}

/* Back on the connection's I/O thread. */
static void after_cb(uv_work_t *w, int status)
{
	job *j = w->data;
	tern__conn *c = j->c;
	tern_http_response *res = &j->res;
	bool empty = res->status == 204 || res->status == 304;

	tern__conn_http_job_end(c);
	if (!tern__conn_http_waiting(c)) {
		/* Closed meanwhile: the answer is dropped. */
	} else if (status || !j->answered) {
		tern__conn_http_unserved(c, j->fallback);
	} else if (!res->status) {
		tern_log(TERN_LOG_WARN, "relay",
			 "#%llu %s: %s %s: the HTTP handler gave no answer "
			 "(or it did not fit in memory)",
			 (unsigned long long)c->serial, c->ip, j->req.method,
			 j->req.path);
		tern__conn_http_error(c, 500, "no answer", NULL);
	} else {
		tern__conn_http_answer(c, res->status, res->ctype, res->body,
				       empty ? 0 : res->len, res->headers,
				       j->head_only || empty);
	}
	tern_log(TERN_LOG_DEBUG, "relay", "#%llu %s: %s %s: %s",
		 (unsigned long long)c->serial, c->ip, j->req.method,
		 j->req.path, j->answered ? "answered by a handler"
					  : "no handler answered");
	job_free(j);
	tern__conn_release(c);
}

void tern__http_hooks_serve(tern__conn *c, const tern__http_request *req,
			    const uint8_t *body, size_t n,
			    tern__http_unserved fallback)
{
	uint64_t want = req->has_content_length ? req->content_length : 0;
	job *j;

	if (want > TERN_HTTP_MAX_BODY) {
		tern__conn_http_error(c, 413, "the body is too large", NULL);
		return;
	}
	if (n < want) {
		tern__conn_http_error(c, 400, "the body is incomplete", NULL);
		return;
	}
	j = job_new(c, req, body, (size_t)want);
	if (!j) {
		tern__conn_abort(c);
		return;
	}
	j->fallback = fallback;
	j->work.data = j;
	tern__conn_http_job_begin(c);
	if (uv_queue_work(&c->io->loop, &j->work, work_cb, after_cb)) {
		tern__conn_http_job_end(c);
		job_free(j);
		tern__conn_http_error(c, 500, "cannot queue the request",
				      NULL);
	}
}
