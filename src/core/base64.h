/* Strict standard base64 decoding (RFC 4648 section 4), shared across the
 * library. */
#ifndef TERN_CORE_BASE64_H
#define TERN_CORE_BASE64_H

#include <stdint.h>

#include <tern/types.h>

/* The value (0..63) of a base64 alphabet character, or -1. */
int tern__base64_value(uint8_t c);

/*
 * Decodes standard base64 ('=' padding optional but correct when present,
 * no whitespace, no stray bits in the last character) from in into out
 * (capacity at least in.n / 4 * 3 + 3). Returns the decoded length, or -1.
 */
long tern__base64_decode(uint8_t *out, tern_slice in);

#endif
