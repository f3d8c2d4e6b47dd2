/*
 * NIP-86 management calls over HTTP (tern/manage.h): the part of the
 * connection path that recognizes a management POST, reads its body and
 * answers it, plus the dispatch of one call (run on a thread-pool thread).
 *
 * conn_http.c keeps the whole request (head + body) in its head buffer:
 * it asks tern__manage_body_len() how many body bytes to wait for, then
 * routes the complete request to tern__manage_serve(), which copies what
 * the call needs, stops reading, and queues the call with uv_queue_work().
 * The connection counts the call as pending (conn.h) so that it is not
 * freed before the answer comes back; the answer is dropped if it closed.
 */
#ifndef TERN_RELAY_MANAGE_H
#define TERN_RELAY_MANAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/manage.h>

#include "http/request.h"

typedef struct tern__conn tern__conn;

/* True when req (a complete head) is a management call for c's relay: a
 * POST to "/" with the NIP-86 content type, on a relay with a
 * tern_manage. */
bool tern__manage_is_call(const tern__conn *c, const tern__http_request *req);

/* The body bytes to read before routing req: its Content-Length when it
 * is a management call with an acceptable one, else 0 (route at once). */
size_t tern__manage_body_len(const tern__conn *c,
			     const tern__http_request *req);

/* Answers the management call req, whose body bytes (as many as were
 * read) are body[0..n). I/O thread of c. */
void tern__manage_serve(tern__conn *c, const tern__http_request *req,
			const uint8_t *body, size_t n);

/* One call, as the thread pool runs it (exposed for tests). */
typedef struct tern__manage_input {
	tern_manage *m;
	tern_relay *r;
	tern_slice authorization; /* header value; empty when absent */
	tern_slice body;
	const char *const *urls;  /* accepted NIP-98 "u" values */
	const char *ip;
	uint64_t now;
} tern__manage_input;

/* Runs the call: *status gets the HTTP status and *out a malloc'ed JSON
 * answer of *len bytes (NULL when out of memory: answer 500). Blocks as
 * long as the hooks and callbacks do. */
void tern__manage_run(const tern__manage_input *in, int *status, char **out,
		      size_t *len);

/* Fills urls[0..cap) (NULL-terminated, strings in buf[0..bufcap)) with
 * the "u" values a request to c's relay may carry: from
 * relay.service_url, else from the Host header. */
void tern__manage_urls(const char *service_url, tern_slice host,
		       const char **urls, size_t cap, char *buf,
		       size_t bufcap);

#endif
