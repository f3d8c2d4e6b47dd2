/* Strict UTF-8 validation (RFC 3629), shared across the library. */
#ifndef TERN_CORE_UTF8_H
#define TERN_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Incremental UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). *state starts at 0; feed chunks in order.
 * Returns false as soon as the bytes cannot be valid UTF-8 (the state is
 * then stuck in error). The whole text was valid when every call
 * returned true and *state is 0 at the end. ASCII runs are checked eight
 * bytes at a time.
 */
bool tern__utf8_step(uint8_t *state, const uint8_t *s, size_t n);

/* True when s[0..n) is complete, valid UTF-8. */
bool tern__utf8_valid(const uint8_t *s, size_t n);

#endif
