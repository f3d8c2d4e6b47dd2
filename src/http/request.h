/*
 * Internal HTTP/1.1 request-head parser (RFC 9110, RFC 9112): strict,
 * incremental, zero-copy and allocation-free.
 *
 * Contract (the "consumed / need more / error" shape):
 *  - The caller keeps the bytes received so far in one buffer and calls
 *    tern__http_parse() on the whole buffer after every read. The parser
 *    keeps no state between calls: each call re-scans from buf[0]. The
 *    head is bounded by max_head_bytes (8 KiB by default), so a re-scan
 *    costs at most a few microseconds, and the caller never needs to
 *    buffer more than max_head_bytes to get an answer.
 *  - It never reads buf[len] or beyond, and never writes outside *req.
 *  - Monotonic: for any prefix of an input, the answer is either
 *    TERN__HTTP_NEED_MORE or exactly the answer for the whole input (same
 *    return value, status and reason). Errors are detected at the first
 *    offending byte, so a bad request is refused before it is complete.
 *
 * Decisions (all refusals carry the status to answer and a static reason):
 *  - Line ends are CRLF only. A bare LF or a CR not followed by LF is
 *    refused everywhere (400), never accepted: lenient line parsing is
 *    what request-smuggling attacks exploit.
 *  - Empty lines (CRLF) before the request-line are skipped (RFC 9112
 *    section 2.2) and count towards max_head_bytes.
 *  - request-line: method SP request-target SP HTTP-version CRLF, single
 *    spaces. The method is a token of at most TERN__HTTP_METHOD_MAX bytes
 *    (longer: 501). Only origin-form targets ("/path?query") are accepted;
 *    absolute-, authority- and asterisk-form are refused (400). Target
 *    bytes must be RFC 3986 pchar / "/" / "?" with valid %XX escapes; a
 *    raw '#', space, control, non-ASCII byte, '"', '<', '>', '\', '^',
 *    '`', '{', '|' or '}' is refused (400). Versions: HTTP/1.1 and
 *    HTTP/1.0; any other well-formed HTTP/d.d is 505, anything else 400.
 *  - Header fields: name = 1*tchar, ':' immediately after (whitespace
 *    before the colon is 400), value = OWS field-content OWS with the OWS
 *    trimmed; HTAB, SP, VCHAR and obs-text (0x80-0xFF) are allowed in
 *    values, every other control byte and DEL are 400. A line starting
 *    with SP/HTAB (obs-fold) is 400.
 *  - After the head is complete: HTTP/1.1 requires exactly one Host field
 *    (RFC 9112 section 3.2; 400 otherwise; HTTP/1.0 allows none but not
 *    two); Host values are limited to RFC 3986 authority characters.
 *    Transfer-Encoding together with Content-Length is 400 (a smuggling
 *    vector); Transfer-Encoding alone (chunked included) is 501: bodies
 *    are only ever taken with a Content-Length. Content-Length must be
 *    1*DIGIT without sign or spaces, fit in 63 bits, and appear once.
 *
 * Error precedence follows the input: the first offending byte decides.
 * Limit checks happen as the cursor advances, so a head larger than
 * max_head_bytes is 431, a target longer than max_target is 414 and one
 * field line more than max_headers is 431, at the byte that crosses the
 * limit.
 */
#ifndef TERN_HTTP_REQUEST_H
#define TERN_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

/*
 * Returned by tern__http_parse() when buf holds a valid but incomplete
 * head: read more bytes, append them, and call again with the whole
 * buffer. It is 0 ("nothing consumed yet"), so `rc > 0` means a complete
 * head, `rc == 0` need more and `rc < 0` an error.
 */
#define TERN__HTTP_NEED_MORE 0

/* Capacity of tern__http_request.headers: the upper bound for max_headers. */
#define TERN__HTTP_HEADERS_CAP 128
/* Longest accepted method token (longer ones are answered 501). */
#define TERN__HTTP_METHOD_MAX 16

/* Defaults used for a zero field of tern__http_limits. */
#define TERN__HTTP_DEFAULT_MAX_HEAD 8192
#define TERN__HTTP_DEFAULT_MAX_HEADERS 64
#define TERN__HTTP_DEFAULT_MAX_TARGET 4096

/*
 * Limits of one request head. A zero field means its default, so a
 * zero-initialized struct (or a NULL pointer) gives the defaults.
 */
typedef struct tern__http_limits {
	/* Whole head: request-line, field lines and the final empty line,
	 * CRLFs included. Default 8192. Exceeding it: 431. */
	size_t max_head_bytes;
	/* Field lines. Default 64; values above TERN__HTTP_HEADERS_CAP are
	 * clamped to it. Exceeding it: 431. */
	size_t max_headers;
	/* request-target bytes. Default 4096. Exceeding it: 414. */
	size_t max_target;
} tern__http_limits;

typedef enum tern__http_method {
	TERN__HTTP_OTHER = 0, /* any other token: see req->method */
	TERN__HTTP_GET,
	TERN__HTTP_HEAD,
	TERN__HTTP_POST,
	TERN__HTTP_OPTIONS,
} tern__http_method;

/* One field line: slices into the parsed buffer. name is the field-name
 * as sent (compare it case-insensitively); value has OWS trimmed and may
 * be empty. */
typedef struct tern__http_header {
	tern_slice name;
	tern_slice value;
} tern__http_header;

/*
 * A parsed request head. Every slice points into the buffer given to
 * tern__http_parse() and is valid while that buffer is unchanged. The
 * struct is about 4 KiB: parse into a short-lived one, route, then drop it.
 */
typedef struct tern__http_request {
	tern__http_method method_id;
	tern_slice method;  /* token, case-sensitive ("GET") */
	tern_slice target;  /* whole request-target, "/path?query" */
	tern_slice path;    /* target up to the first '?' (starts with '/') */
	tern_slice query;   /* after the first '?'; p == NULL when no '?' */
	int minor_version;  /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
	bool has_content_length;
	uint64_t content_length; /* 0 unless has_content_length */
	size_t head_len;         /* bytes of the head (the return value) */
	size_t n_headers;
	tern__http_header headers[TERN__HTTP_HEADERS_CAP];
	/* After an error: the status to answer (400, 414, 431, 501, 505) and
	 * a static, human-readable reason. 0 / NULL after success or while
	 * more input is needed. */
	int status;
	const char *reason;
} tern__http_request;

/*
 * Parses the request head at the start of buf[0..len).
 *
 * @req: filled on success; on error only status and reason are
 *       meaningful. Must not be NULL.
 * @buf, @len: the bytes received so far. buf may be NULL when len is 0.
 *       Bytes after the head (a body, a pipelined request) are ignored.
 * @lim: limits, or NULL for the defaults.
 *
 * Returns:
 *  > 0  the head is complete and valid: the number of bytes it spans,
 *       through the empty line's CRLF. The body (if any) starts there.
 *  TERN__HTTP_NEED_MORE (0): valid so far but incomplete.
 *  TERN_ETOOBIG: a limit was exceeded; req->status is 414 or 431.
 *  TERN_EPARSE: malformed or unsupported; req->status is 400, 501 or 505.
 *
 * Thread-safe (no shared state); no allocation.
 */
int tern__http_parse(tern__http_request *req, const uint8_t *buf, size_t len,
		     const tern__http_limits *lim);

/*
 * First field line named name (ASCII case-insensitive), or NULL. name is a
 * NUL-terminated string. The result points into req.
 */
const tern__http_header *tern__http_header_find(const tern__http_request *req,
						const char *name);

/* Number of field lines named name (case-insensitive). */
size_t tern__http_header_count(const tern__http_request *req, const char *name);

/*
 * True when the comma-separated list value contains token (ASCII
 * case-insensitive), e.g. "keep-alive, Upgrade" contains "upgrade".
 * Elements are trimmed of OWS; empty elements are skipped (RFC 9110
 * section 5.6.1). An element only matches when it is exactly the token:
 * "upgrade-insecure" does not contain "upgrade", and neither does an
 * element with parameters ("upgrade;q=1").
 */
bool tern__http_list_has_token(tern_slice value, const char *token);

/*
 * True when any field line named name holds token in its list (several
 * lines of one list field form one list, RFC 9110 section 5.3).
 */
bool tern__http_header_has_token(const tern__http_request *req,
				 const char *name, const char *token);

/*
 * Parses a Content-Length value: 1*DIGIT, nothing else (no sign, no
 * spaces, no list "5, 5"), at most 2^63 - 1. Leading zeros are allowed
 * (the grammar allows them). Returns 0 with *out set, or TERN_EPARSE.
 */
int tern__http_content_length(tern_slice value, uint64_t *out);

#endif
