/*
 * tern/error.h - the one error convention of libtern.
 *
 * Every fallible function returns an int: 0 on success, or a negative code.
 * The negative codes are either -errno (a system error passed through
 * unchanged) or one of the TERN_E* codes below, which all lie below
 * TERN_E_BASE so they can never collide with an errno value.
 *
 * tern_strerror() turns either kind into a static, human-readable string.
 */
#ifndef TERN_ERROR_H
#define TERN_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_E_BASE (-30000)

/* X(name, offset, message): TERN_E<name> == TERN_E_BASE - offset. */
#define TERN_ERRNO_MAP(X)                                                      \
	X(INVAL, 1, "invalid argument")                                        \
	X(NOMEM, 2, "out of memory")                                           \
	X(PARSE, 3, "malformed input")                                         \
	X(TOOBIG, 4, "input exceeds a configured limit")                       \
	X(NOTFOUND, 5, "not found")                                            \
	X(EXISTS, 6, "already exists")                                         \
	X(STORE, 7, "storage engine error")                                    \
	X(VERSION, 8, "store format version not supported")                    \
	X(CLOSED, 9, "object is closed or shutting down")                      \
	X(FULL, 10, "queue is full")                                           \
	X(CRYPTO, 11, "cryptographic library error")                           \
	X(BADID, 12, "event id does not match its content")                    \
	X(BADSIG, 13, "event signature is invalid")

enum {
#define TERN__ERR_ENUM(name, off, msg) TERN_E##name = TERN_E_BASE - (off),
	TERN_ERRNO_MAP(TERN__ERR_ENUM)
#undef TERN__ERR_ENUM
};

/*
 * Returns a static string describing err (0, -errno or TERN_E*). Never NULL.
 * Thread-safe.
 */
const char *tern_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
