/*
 * NIP-45 HyperLogLog (tern/backend.h): 256 one-byte registers, indexed and
 * valued from the counted events' pubkeys at a per-filter offset, so that
 * the values of several relays for the same filter merge into one estimate.
 */
#include <string.h>

#include <tern/backend.h>

static int hexdigit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tern_hll_offset(const tern_filter *f)
{
	const tern_tag_filter *t;
	char want;
	int d;

	if (f->ids || f->authors || f->nkinds != 1 || f->ntags != 1 ||
	    f->since != 0 || f->until != UINT64_MAX || f->has_search)
		return -1;
	switch (f->kinds[0]) {
	case 3:
		want = 'p'; /* followers of a pubkey */
		break;
	case 7:
		want = 'e'; /* reactions to an event */
		break;
	default:
		return -1;
	}
	t = &f->tags[0];
	if (t->name != want || t->nvalues != 1 || t->values[0].n != 64)
		return -1;
	for (size_t i = 0; i < 64; i++)
		if (hexdigit(t->values[0].p[i]) < 0)
			return -1;
	d = hexdigit(t->values[0].p[32]);
	return d + 8;
}

void tern_hll_add(uint8_t regs[TERN_HLL_REGISTERS], unsigned offset,
		  const uint8_t pubkey[32])
{
	const uint8_t *x;
	uint64_t w = 0;
	uint8_t v;

	if (offset > 24)
		return;
	x = pubkey + offset;
	for (int i = 1; i < 8; i++)
		w = w << 8 | x[i];
	/* w holds 56 bits: its leading zeros are those of a 64-bit word
	 * minus the 8 bits above them. */
	v = w ? (uint8_t)(__builtin_clzll(w) - 8 + 1) : 57;
	if (v > regs[x[0]])
		regs[x[0]] = v;
}

void tern_hll_merge(uint8_t dst[TERN_HLL_REGISTERS],
		    const uint8_t src[TERN_HLL_REGISTERS])
{
	for (int i = 0; i < TERN_HLL_REGISTERS; i++)
		if (src[i] > dst[i])
			dst[i] = src[i];
}

/* Natural logarithm of x >= 1, without libm (which libtern does not link):
 * x = 2^k * y with y in [1, 2), ln y = 2 atanh((y - 1) / (y + 1)), whose
 * series converges quickly for |z| <= 1/3. */
static double ln(double x)
{
	double y = x, z, z2, term, sum = 0;
	int k = 0;

	while (y >= 2) {
		y /= 2;
		k++;
	}
	z = (y - 1) / (y + 1);
	z2 = z * z;
	term = z;
	for (int i = 1; i < 60; i += 2) {
		sum += term / i;
		term *= z2;
	}
	return k * 0.69314718055994530942 + 2 * sum;
}

uint64_t tern_hll_estimate(const uint8_t regs[TERN_HLL_REGISTERS])
{
	const double m = TERN_HLL_REGISTERS;
	const double alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, est;
	unsigned zeros = 0;

	for (int i = 0; i < TERN_HLL_REGISTERS; i++) {
		sum += 1.0 / (double)(1ULL << (regs[i] & 63));
		zeros += regs[i] == 0;
	}
	est = alpha * m * m / sum;
	/* Small cardinalities: linear counting over the empty registers is
	 * far more accurate than the raw estimate (Flajolet et al., 2.5 m). */
	if (est <= 2.5 * m && zeros)
		est = m * ln(m / zeros);
	return (uint64_t)(est + 0.5);
}
