/*
 * Internal parser of a NIP-86 request body (JSON-RPC-like):
 *
 *     {"method": "<name>", "params": [<value>, ...]}
 *
 * Strict (RFC 8259 through proto/json.h): the body must be one JSON object
 * (whitespace around it allowed) with a string "method" (non-empty, no
 * U+0000) and an optional "params" array; other members are skipped;
 * a duplicate "method" or "params" is refused. Each param keeps its JSON
 * text; strings are also decoded (NUL-terminated, U+0000 refused).
 */
#ifndef TERN_PROTO_RPC_H
#define TERN_PROTO_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/manage.h>
#include <tern/types.h>

/* Most params accepted, and the nesting limit of the body. */
#define TERN__RPC_MAX_PARAMS 64
#define TERN__RPC_MAX_DEPTH 16

typedef struct tern__rpc_request {
	const char *method;              /* NUL-terminated, in the arena */
	tern_manage_param *params;       /* in the arena; NULL when none */
	size_t nparams;
} tern__rpc_request;

/*
 * Parses buf[0..len) into *req with memory from a (slices of params point
 * into buf). Returns 0; TERN_EPARSE (why: "invalid: ..." with the
 * reason); TERN_ETOOBIG (too many params, too deep); TERN_ENOMEM.
 * Never reads outside buf. Thread-safe (the arena is the caller's).
 */
int tern__rpc_parse(tern__rpc_request *req, const uint8_t *buf, size_t len,
		    tern_arena *a, tern_reason *why);

/*
 * Reads a kind: the param must be a JSON integer 0..65535 (digits only).
 * Returns true with *kind set.
 */
bool tern__rpc_param_kind(const tern_manage_param *p, uint32_t *kind);

#endif
