/*
 * tern/hex.h - lowercase hexadecimal, as Nostr uses for ids, keys and sigs.
 */
#ifndef TERN_HEX_H
#define TERN_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes 2*n lowercase hex digits of in[0..n) to out. No NUL is written. */
void tern_hex_encode(char *out, const uint8_t *in, size_t n);

/*
 * Decodes exactly 2*n characters of in into out[0..n). Accepts lowercase
 * only (NIP-01 requires it). Returns false on any other character; out is
 * then unspecified.
 */
bool tern_hex_decode(uint8_t *out, const char *in, size_t n);

#ifdef __cplusplus
}
#endif
#endif
