/*
 * Key and record encodings of the LMDB store (docs/STORE_FORMAT.md, format
 * version 2). Every integer is big-endian so that LMDB's default memcmp key
 * order is numeric order.
 *
 * Time-ordered index keys end in a 16-byte suffix
 *   created_at (8) | serial (8)
 * so that walking an index backwards yields the newest event first, and
 * events of the same second are appended in commit order. The entry's
 * value is id[0..8]: the query engine orders each second's events by id
 * (NIP-01's tie rule) and reads a record only when its id can make the
 * cut.
 */
#ifndef TERN_STORE_KEYS_H
#define TERN_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#define TERN__KEY_SUFFIX 16     /* created_at + serial */
#define TERN__KEY_VALUE 8       /* value of a time-ordered index entry:
				   the first 8 id bytes */
#define TERN__KEY_ID 8          /* id bytes in an "id" key (DUPSORT) */
#define TERN__KEY_TAG_MAX 182   /* tag value bytes kept in a tag key */
#define TERN__KEY_TAG_TRUNC 183 /* length byte of a truncated tag value */
#define TERN__KEY_TAG_HEX32 184 /* length byte of a 64-hex value kept as
				   its 32 bytes */
#define TERN__KEY_ADDR_DMAX 256 /* longer d tags are stored hashed */
#define TERN__KEY_ADDR_MAX (2 + 32 + TERN__KEY_ADDR_DMAX)
#define TERN__KEY_TAG_PREFIX_MAX (2 + TERN__KEY_TAG_MAX)
#define TERN__KEY_MAX (TERN__KEY_ADDR_MAX + 8) /* longest key of any db */

/*
 * Event record header, followed by the canonical JSON:
 *   0 id[32] | 32 pubkey[32] | 64 created_at u64 | 72 expiration u64 (0 =
 *   none) | 80 kind u16 | 82 flags u16 | 84 reserved u32 (0)
 */
#define TERN__HDR_SIZE 88
#define TERN__HDR_FLAG_EXPIRES 0x0001

static inline void tern__be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t tern__be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void tern__be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t tern__be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Accessors of a raw record (at least TERN__HDR_SIZE bytes). */
static inline const uint8_t *tern__hdr_id(const uint8_t *r) { return r; }
static inline const uint8_t *tern__hdr_pubkey(const uint8_t *r) { return r + 32; }
static inline uint64_t tern__hdr_created_at(const uint8_t *r)
{
	return tern__be64_get(r + 64);
}
static inline uint64_t tern__hdr_expiration(const uint8_t *r)
{
	return tern__be64_get(r + 72);
}
static inline uint16_t tern__hdr_kind(const uint8_t *r)
{
	return tern__be16_get(r + 80);
}

/* Writes a record header. expiration 0 means "does not expire". */
void tern__keys_hdr(uint8_t out[TERN__HDR_SIZE], const uint8_t id[32],
		    const uint8_t pubkey[32], uint64_t created_at,
		    uint64_t expiration, uint16_t kind);

/* The 16-byte time-ordered suffix. */
void tern__keys_suffix(uint8_t out[TERN__KEY_SUFFIX], uint64_t created_at,
		       uint64_t serial);

/* The created_at in the first 8 bytes of a suffix. */
static inline uint64_t tern__keys_suffix_created_at(const uint8_t *suffix)
{
	return tern__be64_get(suffix);
}

/* The serial stored in the last 8 bytes of a suffix. */
static inline uint64_t tern__keys_suffix_serial(const uint8_t *suffix)
{
	return tern__be64_get(suffix + 8);
}

/*
 * Tag index prefix: letter | len | value, with values longer than
 * TERN__KEY_TAG_MAX cut to that many bytes and len = TERN__KEY_TAG_TRUNC,
 * and values of 64 lowercase hex digits stored as their 32 bytes with
 * len = TERN__KEY_TAG_HEX32 (exact: the encoding is one-to-one).
 * Returns the prefix length; *truncated tells whether the value was cut
 * (then matches must be post-filtered). out holds TERN__KEY_TAG_PREFIX_MAX.
 */
size_t tern__keys_tag_prefix(uint8_t *out, char letter, tern_slice value,
			     bool *truncated);

/* True if tag name n is indexed: one ASCII letter. */
static inline bool tern__keys_tag_indexed(tern_slice n)
{
	return n.n == 1 && ((n.p[0] >= 'a' && n.p[0] <= 'z') ||
			    (n.p[0] >= 'A' && n.p[0] <= 'Z'));
}

/*
 * Address key kind | pubkey | d, used by "addr" and "tomb_addr". A d value
 * longer than TERN__KEY_ADDR_DMAX is replaced by 0xFF followed by its
 * SHA-256: 0xFF never occurs in UTF-8, so the two forms cannot collide.
 * out holds TERN__KEY_ADDR_MAX bytes. Returns the key length.
 */
size_t tern__keys_addr(uint8_t *out, uint16_t kind, const uint8_t pubkey[32],
		       tern_slice d);

#endif
