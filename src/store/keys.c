/* Key and record encodings of the LMDB store (keys.h, docs/STORE_FORMAT.md). */
#include <string.h>

#include <openssl/sha.h>

#include <tern/hex.h>

#include "store/keys.h"

void tern__keys_hdr(uint8_t out[TERN__HDR_SIZE], const uint8_t id[32],
		    const uint8_t pubkey[32], uint64_t created_at,
		    uint64_t expiration, uint16_t kind)
{
	memcpy(out, id, 32);
	memcpy(out + 32, pubkey, 32);
	tern__be64_put(out + 64, created_at);
	tern__be64_put(out + 72, expiration);
	tern__be16_put(out + 80, kind);
	tern__be16_put(out + 82, expiration ? TERN__HDR_FLAG_EXPIRES : 0);
	memset(out + 84, 0, 4);
}

void tern__keys_suffix(uint8_t out[TERN__KEY_SUFFIX], uint64_t created_at,
		       uint64_t serial)
{
	tern__be64_put(out, created_at);
	tern__be64_put(out + 8, serial);
}

size_t tern__keys_tag_prefix(uint8_t *out, char letter, tern_slice value,
			     bool *truncated)
{
	size_t n = value.n;
	bool cut = n > TERN__KEY_TAG_MAX;

	/* Ids and pubkeys in "e"/"p"-like tags: half the key size. */
	if (n == 64 && tern_hex_decode(out + 2, (const char *)value.p, 32)) {
		out[0] = (uint8_t)letter;
		out[1] = TERN__KEY_TAG_HEX32;
		if (truncated)
			*truncated = false;
		return 2 + 32;
	}
	if (cut)
		n = TERN__KEY_TAG_MAX;
	out[0] = (uint8_t)letter;
	out[1] = (uint8_t)(cut ? TERN__KEY_TAG_TRUNC : n);
	if (n)
		memcpy(out + 2, value.p, n);
	if (truncated)
		*truncated = cut;
	return 2 + n;
}

size_t tern__keys_addr(uint8_t *out, uint16_t kind, const uint8_t pubkey[32],
		       tern_slice d)
{
	tern__be16_put(out, kind);
	memcpy(out + 2, pubkey, 32);
	if (d.n <= TERN__KEY_ADDR_DMAX) {
		if (d.n)
			memcpy(out + 34, d.p, d.n);
		return 34 + d.n;
	}
	out[34] = 0xFF;
	SHA256(d.p, d.n, out + 35);
	return 35 + 32;
}
