/*
 * A set of event kinds (0..65535) as a bitmap: membership is one load, so
 * kind allowlists cost the same whatever their length. 8 KiB per set.
 */
#ifndef TERN_POLICY_KINDSET_H
#define TERN_POLICY_KINDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tern/error.h>

typedef struct tern__kindset {
	uint64_t bits[65536 / 64];
	size_t n; /* distinct kinds in the set */
} tern__kindset;

static inline bool tern__kindset_has(const tern__kindset *s, uint32_t k)
{
	return k < 65536 && (s->bits[k >> 6] >> (k & 63) & 1);
}

/* Fills s from kinds[0..n). Returns 0, or TERN_EINVAL for a kind above
 * 65535 (or kinds NULL with n > 0). */
static inline int tern__kindset_init(tern__kindset *s, const uint32_t *kinds,
				     size_t n)
{
	memset(s, 0, sizeof *s);
	if (n && !kinds)
		return TERN_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (kinds[i] > 65535)
			return TERN_EINVAL;
		if (!tern__kindset_has(s, kinds[i]))
			s->n++;
		s->bits[kinds[i] >> 6] |= (uint64_t)1 << (kinds[i] & 63);
	}
	return 0;
}

#endif
