/*
 * tern/types.h - small value types shared by the whole public API.
 */
#ifndef TERN_TYPES_H
#define TERN_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A byte slice: a pointer and a length. Not NUL-terminated; may contain NUL
 * bytes (event content may hold U+0000). Slices never own their bytes: the
 * function that returns one says how long the bytes stay valid.
 */
typedef struct tern_slice {
	const uint8_t *p;
	size_t n;
} tern_slice;

/*
 * NIP-01 machine-readable prefixes of OK and CLOSED messages. The relay
 * decides what to do (e.g. send AUTH on TERN_PREFIX_AUTH_REQUIRED) from this
 * enum, never by parsing message strings.
 */
typedef enum tern_prefix {
	TERN_PREFIX_NONE = 0,      /* no prefix (accepted, or plain message) */
	TERN_PREFIX_INVALID,       /* "invalid" */
	TERN_PREFIX_DUPLICATE,     /* "duplicate" */
	TERN_PREFIX_BLOCKED,       /* "blocked" */
	TERN_PREFIX_RATE_LIMITED,  /* "rate-limited" */
	TERN_PREFIX_RESTRICTED,    /* "restricted" */
	TERN_PREFIX_AUTH_REQUIRED, /* "auth-required" */
	TERN_PREFIX_POW,           /* "pow" */
	TERN_PREFIX_MUTE,          /* "mute" */
	TERN_PREFIX_UNSUPPORTED,   /* "unsupported" */
	TERN_PREFIX_ERROR,         /* "error" */
} tern_prefix;

/* Longest human-readable part of a reason, including the NUL. */
#define TERN_REASON_MAX 200

/*
 * Why something was refused: a prefix plus a short human-readable message.
 * The wire form is "<prefix>: <msg>" (tern_reason_format()).
 */
typedef struct tern_reason {
	tern_prefix prefix;
	char msg[TERN_REASON_MAX];
} tern_reason;

/* The wire word for a prefix ("invalid", ...), or "" for TERN_PREFIX_NONE. */
const char *tern_prefix_name(tern_prefix p);

/*
 * Sets r to prefix + printf-style message (truncated to fit). r may be NULL,
 * in which case nothing happens. Thread-safe.
 */
void tern_reason_set(tern_reason *r, tern_prefix prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Writes the wire form "<prefix>: <msg>" (or just msg when the prefix is
 * NONE) into buf, NUL-terminated and truncated to cap. Returns the length
 * that the full string would have (like snprintf).
 */
size_t tern_reason_format(const tern_reason *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
