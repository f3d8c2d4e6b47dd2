/*
 * Strict standard base64 decoding (base64.h), shared by the NIP-98
 * authorization check and the WebSocket handshake's key check.
 */
#include "core/base64.h"

int tern__base64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long tern__base64_decode(uint8_t *out, tern_slice in)
{
	size_t n = in.n, pad = 0, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n % 4 == 0 && n >= 4) {
		if (in.p[n - 1] == '=')
			pad++;
		if (in.p[n - 2] == '=')
			pad++;
	}
	n -= pad;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = tern__base64_value(in.p[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (one encoding per byte string). */
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	return (long)o;
}
