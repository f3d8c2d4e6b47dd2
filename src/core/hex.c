/* Lowercase hex (include/tern/hex.h). */
#include <tern/hex.h>

static const char hexdig[16] = "0123456789abcdef";

void tern_hex_encode(char *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
}

/*
 * Lowercase hex digit values plus one (0 marks anything else). A table
 * lookup per digit, without branches: an event has 256 hex digits, and a
 * per-character range test measured ~40% of a whole event parse (random
 * digits defeat branch prediction).
 */
static const uint8_t hexval1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

bool tern_hex_decode(uint8_t *out, const char *in, size_t n)
{
	const unsigned char *u = (const unsigned char *)in;
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = hexval1[u[2 * i]] - 1, lo = hexval1[u[2 * i + 1]] - 1;

		bad |= hi | lo; /* negative if either digit is bad */
		out[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 15));
	}
	return bad >= 0;
}
