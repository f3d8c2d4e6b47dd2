/*
 * Strict UTF-8 validation (utf8.h), shared by the WebSocket codec (text
 * messages, close reasons) and the configuration loader.
 */
#include <string.h>

#include "core/utf8.h"

/*
 * Validator states: 0 accept; 1..3 that many continuation bytes
 * (80..BF) still expected; 4..7 the byte after E0, ED, F0 or F4, whose
 * range is narrower (no overlongs, no surrogates, nothing past U+10FFFF);
 * 8 error (sticky).
 */
enum { U_ACCEPT = 0, U_E0 = 4, U_ED, U_F0, U_F4, U_REJECT };

static const uint8_t u_lo[] = { 0, 0x80, 0x80, 0x80, 0xA0, 0x80, 0x90, 0x80 };
static const uint8_t u_hi[] = { 0, 0xBF, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0x8F };
static const uint8_t u_next[] = { 0, 0, 1, 2, 1, 1, 2, 2 };

static uint8_t utf8_lead(uint8_t c)
{
	if (c < 0x80)
		return U_ACCEPT;
	if (c < 0xC2)
		return U_REJECT; /* stray continuation, or overlong C0/C1 */
	if (c < 0xE0)
		return 1;
	if (c == 0xE0)
		return U_E0;
	if (c == 0xED)
		return U_ED;
	if (c < 0xF0)
		return 2;
	if (c == 0xF0)
		return U_F0;
	if (c < 0xF4)
		return 3;
	if (c == 0xF4)
		return U_F4;
	return U_REJECT;
}

bool tern__utf8_step(uint8_t *state, const uint8_t *s, size_t n)
{
	uint8_t st = *state;
	size_t i = 0;

	if (st == U_REJECT)
		return false;
	while (i < n) {
		if (st == U_ACCEPT) {
			/* ASCII runs, 8 bytes at a time: JSON is mostly ASCII. */
			while (i + 8 <= n) {
				uint64_t w;

				memcpy(&w, s + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			if (i == n)
				break;
			st = utf8_lead(s[i++]);
			if (st == U_REJECT)
				break;
			continue;
		}
		if (s[i] < u_lo[st] || s[i] > u_hi[st]) {
			st = U_REJECT;
			break;
		}
		st = u_next[st];
		i++;
	}
	*state = st;
	return st != U_REJECT;
}

bool tern__utf8_valid(const uint8_t *s, size_t n)
{
	uint8_t st = 0;

	return tern__utf8_step(&st, s, n) && st == U_ACCEPT;
}
