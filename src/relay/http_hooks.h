/*
 * HTTP handlers (tern_on_http_request(), include/tern/hooks.h): serving
 * the HTTP requests the relay itself does not serve.
 *
 * conn_http.c decides which requests go to the handlers (any path but "/",
 * and on "/" the methods the relay has no use for), waits for the body
 * of one with a Content-Length of at most TERN_HTTP_MAX_BODY (kept with
 * the head, as for NIP-86 calls), then calls tern__http_hooks_serve().
 * That copies the request, stops reading, and runs the handler list on
 * libuv's thread pool, where a handler may block; the answer comes back
 * to the connection's I/O thread, which sends it (or the relay's own
 * 404/405/204 when every handler declined). The connection counts the
 * job as pending (conn_http.h) so that it is not freed before the answer
 * comes back; the answer is dropped if it closed.
 *
 * The pool thread reads the hook list from the relay's shared reader
 * slot (hooks.h), so a list it holds is not freed under it; a handler
 * that blocks for long only delays the reclamation of lists replaced
 * meanwhile.
 */
#ifndef TERN_RELAY_HTTP_HOOKS_H
#define TERN_RELAY_HTTP_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <tern/hooks.h>

#include "http/request.h"
#include "relay/conn_http.h"

/*
 * Hands req, a complete head followed by body[0..n) (the bytes read after
 * it), to the HTTP handlers of c's relay; fallback is the answer when
 * they all decline. A Content-Length above TERN_HTTP_MAX_BODY is answered
 * 413, a body shorter than it 400, without asking them. I/O thread of c.
 */
void tern__http_hooks_serve(tern__conn *c, const tern__http_request *req,
			    const uint8_t *body, size_t n,
			    tern__http_unserved fallback);

/* Most header bytes a handler may add to one answer. */
#define TERN__HTTP_HOOKS_MAX_HEADERS 8192

#endif
