/* NIP-86 request bodies (rpc.h). */
#include <string.h>

#include <tern/error.h>

#include "proto/json.h"
#include "proto/rpc.h"

/* A decoded string as a NUL-terminated copy in a; U+0000 is refused. */
static int cstring(tern__json *j, tern_arena *a, const char *what,
		   const char **out)
{
	tern_slice s;
	char *p;
	int rc = tern__json_string(j, a, &s, NULL);

	if (rc)
		return rc;
	if (s.n && memchr(s.p, 0, s.n))
		return tern__json_fail(j, TERN_EPARSE, "%s contains U+0000",
				       what);
	p = tern_arena_alloc(a, s.n + 1);
	if (!p)
		return tern__json_fail(j, TERN_ENOMEM, "out of memory");
	if (s.n)
		memcpy(p, s.p, s.n);
	p[s.n] = '\0';
	*out = p;
	return 0;
}

static int read_params(tern__json *j, tern_arena *a, tern__rpc_request *req)
{
	tern_manage_param tmp[TERN__RPC_MAX_PARAMS];
	size_t n = 0;
	int rc, ch;

	if (tern__json_peek(j) != '[')
		return tern__json_fail(j, TERN_EPARSE,
				       "\"params\" must be an array");
	rc = tern__json_arr_begin(j);
	while (rc == 0 && (rc = tern__json_arr_next(j)) == 1) {
		tern_manage_param *p = &tmp[n];
		const uint8_t *start;

		if (n == TERN__RPC_MAX_PARAMS)
			return tern__json_fail(j, TERN_ETOOBIG, "more than %d "
					       "params", TERN__RPC_MAX_PARAMS);
		ch = tern__json_peek(j);
		start = j->p;
		memset(p, 0, sizeof *p);
		if (ch == '"') {
			p->type = TERN_MANAGE_PARAM_STRING;
			rc = cstring(j, a, "a param", &p->str);
		} else {
			p->type = ch == '-' || (ch >= '0' && ch <= '9')
					  ? TERN_MANAGE_PARAM_NUMBER
					  : TERN_MANAGE_PARAM_OTHER;
			rc = tern__json_skip(j);
		}
		if (rc)
			return rc;
		p->json = (tern_slice){ start, (size_t)(j->p - start) };
		n++;
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (n) {
		req->params = tern_arena_alloc(a, n * sizeof *req->params);
		if (!req->params)
			return tern__json_fail(j, TERN_ENOMEM, "out of memory");
		memcpy(req->params, tmp, n * sizeof *req->params);
	}
	req->nparams = n;
	return 0;
}

int tern__rpc_parse(tern__rpc_request *req, const uint8_t *buf, size_t len,
		    tern_arena *a, tern_reason *why)
{
	tern__json j;
	tern_slice key;
	bool have_params = false;
	int rc;

	memset(req, 0, sizeof *req);
	tern__json_init(&j, buf, len, TERN__RPC_MAX_DEPTH, why);
	if (tern__json_peek(&j) != '{')
		return tern__json_fail(&j, TERN_EPARSE,
				       "the body must be a JSON object");
	rc = tern__json_obj_begin(&j);
	while (rc == 0 && (rc = tern__json_obj_next(&j, a, &key)) == 1) {
		rc = 0;
		if (key.n == 6 && memcmp(key.p, "method", 6) == 0) {
			if (req->method)
				return tern__json_fail(&j, TERN_EPARSE,
						       "duplicate \"method\"");
			if (tern__json_peek(&j) != '"')
				return tern__json_fail(&j, TERN_EPARSE,
						       "\"method\" must be a "
						       "string");
			rc = cstring(&j, a, "\"method\"", &req->method);
			if (rc == 0 && !req->method[0])
				return tern__json_fail(&j, TERN_EPARSE,
						       "\"method\" is empty");
		} else if (key.n == 6 && memcmp(key.p, "params", 6) == 0) {
			if (have_params)
				return tern__json_fail(&j, TERN_EPARSE,
						       "duplicate \"params\"");
			have_params = true;
			rc = read_params(&j, a, req);
		} else {
			rc = tern__json_skip(&j);
		}
	}
	if (rc < 0)
		return rc;
	rc = tern__json_finish(&j);
	if (rc)
		return rc;
	if (!req->method)
		return tern__json_fail(&j, TERN_EPARSE, "no \"method\"");
	return 0;
}

bool tern__rpc_param_kind(const tern_manage_param *p, uint32_t *kind)
{
	tern__json j;
	uint64_t v;

	if (p->type != TERN_MANAGE_PARAM_NUMBER)
		return false;
	tern__json_init(&j, p->json.p, p->json.n, 1, NULL);
	if (tern__json_uint64(&j, &v) || tern__json_finish(&j) || v > 65535)
		return false;
	*kind = (uint32_t)v;
	return true;
}
