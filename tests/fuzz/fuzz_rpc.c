/*
 * libFuzzer target for the NIP-86 request parser (src/proto/rpc.c) and the
 * base64 decoder of NIP-98 authorizations (src/core/base64.c).
 *
 * Checks, for every input:
 *  - if jansson refuses the text as JSON, tern__rpc_parse() refuses it too
 *    (jansson's refusal of integers beyond int64 is left out);
 *  - an accepted body is a JSON object to jansson whose "method" is the
 *    string we decoded and whose "params" (when present) is an array of as
 *    many elements as we returned; each string param equals jansson's
 *    string, and each param's JSON text parses on its own;
 *  - base64: a decoded input re-encodes (OpenSSL, padding stripped as the
 *    input had it) to the input itself.
 * Any violation aborts.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "core/base64.h"
#include "nostr/nip98.h"
#include "proto/rpc.h"

static tern_arena arena;

static void die(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_rpc: %s\ninput (%zu bytes): %.*s\n", what, size,
		(int)(size > 2000 ? 2000 : size), (const char *)data);
	abort();
}

static void check_accepted(const tern__rpc_request *req, json_t *jv,
			   const uint8_t *data, size_t size)
{
	json_t *m = json_object_get(jv, "method");
	json_t *ps = json_object_get(jv, "params");

	if (!json_is_object(jv) || !json_is_string(m) ||
	    strcmp(json_string_value(m), req->method) != 0)
		die("method differs from jansson's", data, size);
	if (ps ? json_array_size(ps) != req->nparams : req->nparams != 0)
		die("params count differs from jansson's", data, size);
	for (size_t i = 0; i < req->nparams; i++) {
		const tern_manage_param *p = &req->params[i];
		json_t *e = json_array_get(ps, i), *alone;
		json_error_t jerr;

		if (p->type == TERN_MANAGE_PARAM_STRING &&
		    (!json_is_string(e) || strcmp(json_string_value(e), p->str)))
			die("string param differs from jansson's", data, size);
		if ((p->type == TERN_MANAGE_PARAM_NUMBER) != json_is_number(e))
			die("number param type differs", data, size);
		alone = json_loadb((const char *)p->json.p, p->json.n,
				   JSON_DECODE_ANY, &jerr);
		if (!alone && json_error_code(&jerr) !=
				      json_error_numeric_overflow)
			die("a param's JSON text is not JSON", data, size);
		json_decref(alone);
	}
}

static void check_base64(const uint8_t *data, size_t size)
{
	uint8_t *out = malloc(size / 4 * 3 + 3);
	unsigned char *enc;
	long n;
	size_t elen, trim;

	if (!out)
		abort();
	n = tern__base64_decode(out, (tern_slice){ data, size });
	if (n >= 0) {
		enc = malloc(4 * ((size_t)n / 3 + 1) + 1);
		if (!enc)
			abort();
		elen = (size_t)EVP_EncodeBlock(enc, out, (int)n);
		trim = elen;
		if (size < elen)
			while (trim > size && enc[trim - 1] == '=')
				trim--;
		if (trim != size || memcmp(enc, data, size) != 0)
			die("base64 does not round-trip", data, size);
		free(enc);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern__rpc_request req;
	tern_reason why = { 0 };
	json_error_t jerr;
	json_t *jv;
	bool overflow = false;
	int rc;

	tern_arena_reset(&arena);
	jv = json_loadb((const char *)data, size,
			JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!jv)
		overflow = json_error_code(&jerr) == json_error_numeric_overflow;
	rc = tern__rpc_parse(&req, data, size, &arena, &why);
	if (rc == 0 && !jv && !overflow)
		die("accepted text that jansson refuses as JSON", data, size);
	if (rc == 0 && jv)
		check_accepted(&req, jv, data, size);
	if (rc != 0 && !why.msg[0])
		die("refused without a reason", data, size);
	json_decref(jv);
	check_base64(data, size);
	return 0;
}
