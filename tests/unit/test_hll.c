/*
 * NIP-45 HyperLogLog (tern/backend.h): which COUNT filters qualify and at
 * what offset, how an event's pubkey sets a register, merging, and the
 * estimate's accuracy.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <tern/backend.h>
#include <tern/filter.h>

static int offset_of(const char *json)
{
	tern_arena a;
	tern_filter f;
	tern_reason why = { 0 };
	int off;

	tern_arena_init(&a, 0);
	cr_assert_eq(tern_filter_parse(&f, (const uint8_t *)json, strlen(json),
				       NULL, &a, &why), 0, "%s: %s", json,
		     why.msg);
	off = tern_hll_offset(&f);
	tern_arena_free(&a);
	return off;
}

/* A 64-hex value whose character 32 is c. */
static const char *hex_with(char c)
{
	static char b[65];

	memset(b, '1', 64);
	b[32] = c;
	b[64] = '\0';
	return b;
}

static int offset_for(const char *fmt, char c)
{
	char q[256];

	snprintf(q, sizeof q, fmt, hex_with(c));
	return offset_of(q);
}

Test(hll, offset_of_qualifying_filters)
{
	const char *follow = "{\"kinds\":[3],\"#p\":[\"%s\"]}";
	const char *react = "{\"#e\":[\"%s\"],\"kinds\":[7]}";

	/* the hex digit at position 32, plus 8 */
	cr_assert_eq(offset_for(follow, '0'), 8);
	cr_assert_eq(offset_for(follow, '9'), 17);
	cr_assert_eq(offset_for(follow, 'a'), 18);
	cr_assert_eq(offset_for(follow, 'f'), 23);
	cr_assert_eq(offset_for(react, '3'), 11);
	cr_assert_eq(offset_for(react, 'c'), 20);
	/* only character 32 counts */
	cr_assert_eq(offset_of("{\"kinds\":[3],\"#p\":[\"fffffffffffffffffffffff"
			       "fffffffff2fffffffffffffffffffffffffffffff\"]}"),
		     10);
	/* a limit does not change what is counted */
	cr_assert_eq(offset_for("{\"kinds\":[3],\"#p\":[\"%s\"],\"limit\":5}",
				'4'), 12);
}

Test(hll, other_filters_do_not_qualify)
{
	const char *no[] = {
		"{\"kinds\":[1],\"#p\":[\"%s\"]}",
		"{\"kinds\":[3],\"#e\":[\"%s\"]}",
		"{\"kinds\":[7],\"#p\":[\"%s\"]}",
		"{\"kinds\":[3,7],\"#p\":[\"%s\"]}",
		"{\"#p\":[\"%s\"]}",
		"{\"kinds\":[3]}",
		"{\"kinds\":[3],\"#p\":[\"%s\",\"22222222222222222222222222222222"
		"22222222222222222222222222222222\"]}",
		"{\"kinds\":[3],\"#p\":[\"%s\"],\"#t\":[\"x\"]}",
		"{\"kinds\":[3],\"#p\":[\"%s\"],\"since\":5}",
		"{\"kinds\":[3],\"#p\":[\"%s\"],\"until\":5}",
		"{\"kinds\":[3],\"#p\":[\"%s\"],\"authors\":[\"%s\"]}",
		"{\"kinds\":[3],\"#p\":[\"%s\"],\"ids\":[\"%s\"]}",
		"{\"kinds\":[3],\"#p\":[\"%s\"],\"search\":\"x\"}",
	};

	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		char q[512];
		const char *h = hex_with('5');

		snprintf(q, sizeof q, no[i], h, h);
		cr_assert_eq(offset_of(q), -1, "%s", q);
	}
	/* The parser only lets hex through "#p"; a filter built by hand
	 * with another value does not qualify either. */
	char bad[65];
	uint16_t three = 3;
	tern_slice v = { (const uint8_t *)bad, 64 };
	tern_tag_filter t = { .name = 'p', .nvalues = 1, .values = &v };
	tern_filter f = { .kinds = &three, .nkinds = 1, .tags = &t,
			  .ntags = 1, .until = UINT64_MAX };

	memset(bad, 'z', 64);
	cr_assert_eq(tern_hll_offset(&f), -1);
	memset(bad, 'a', 64);
	cr_assert_eq(tern_hll_offset(&f), 18);
	v.n = 63;
	cr_assert_eq(tern_hll_offset(&f), -1);
}

Test(hll, add_sets_register_from_pubkey_at_offset)
{
	uint8_t regs[TERN_HLL_REGISTERS] = { 0 }, pk[32];

	/* register = pubkey[offset]; value = 1 + leading zero bits of the
	 * next 7 bytes */
	memset(pk, 0xff, 32);
	pk[10] = 0x05;
	pk[11] = 0x80;
	tern_hll_add(regs, 10, pk);
	cr_assert_eq(regs[5], 1);
	pk[11] = 0x00;
	pk[12] = 0x01;
	tern_hll_add(regs, 10, pk);
	cr_assert_eq(regs[5], 16);
	/* a smaller value never lowers a register */
	pk[11] = 0x10;
	tern_hll_add(regs, 10, pk);
	cr_assert_eq(regs[5], 16);
	/* 56 zero bits: the largest value, 57; bytes beyond are not read */
	memset(pk + 11, 0, 7);
	pk[18] = 0x00;
	pk[9] = 0x00;
	tern_hll_add(regs, 10, pk);
	cr_assert_eq(regs[5], 57);
	/* only that register changed */
	for (int i = 0; i < TERN_HLL_REGISTERS; i++)
		if (i != 5)
			cr_assert_eq(regs[i], 0, "register %d", i);
	/* another offset reads other bytes: pubkey[8] = 0xff, then
	 * pubkey[9] = 0x00, pubkey[10] = 0x05 = 00000101b: 8 + 5 zeros */
	tern_hll_add(regs, 8, pk);
	cr_assert_eq(regs[0xff], 14);
	/* the highest offset reads the last 8 bytes */
	memset(pk, 0, 32);
	pk[24] = 0x77;
	pk[31] = 0x01;
	tern_hll_add(regs, 24, pk);
	cr_assert_eq(regs[0x77], 56);
	/* offsets past 24 would read past the key: ignored */
	tern_hll_add(regs, 25, pk);
	cr_assert_eq(regs[0], 0);
}

Test(hll, merge_is_registerwise_max)
{
	uint8_t a[TERN_HLL_REGISTERS] = { 0 }, b[TERN_HLL_REGISTERS] = { 0 };

	a[0] = 3;
	a[1] = 9;
	b[1] = 4;
	b[2] = 7;
	b[255] = 1;
	tern_hll_merge(a, b);
	cr_assert_eq(a[0], 3);
	cr_assert_eq(a[1], 9);
	cr_assert_eq(a[2], 7);
	cr_assert_eq(a[255], 1);
	cr_assert_eq(b[1], 4);
}

/* splitmix64: deterministic pseudo-random pubkeys. */
static uint64_t sm(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void random_pk(uint64_t *s, uint8_t pk[32])
{
	for (int i = 0; i < 32; i += 8) {
		uint64_t v = sm(s);

		memcpy(pk + i, &v, 8);
	}
}

Test(hll, estimate_is_close)
{
	const uint64_t sizes[] = { 1, 10, 50, 200, 1000, 5000, 20000, 100000 };
	uint64_t seed = 42;

	uint8_t empty[TERN_HLL_REGISTERS] = { 0 };
	cr_assert_eq(tern_hll_estimate(empty), 0);
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		uint8_t regs[TERN_HLL_REGISTERS] = { 0 }, pk[32];
		uint64_t n = sizes[k], est;
		double err;

		for (uint64_t i = 0; i < n; i++) {
			random_pk(&seed, pk);
			tern_hll_add(regs, 8 + (unsigned)(k % 16), pk);
			/* adding the same key again changes nothing */
			tern_hll_add(regs, 8 + (unsigned)(k % 16), pk);
		}
		est = tern_hll_estimate(regs);
		err = ((double)est - (double)n) / (double)n;
		/* 256 registers: standard error 1.04/16 = 6.5%; allow 3x */
		cr_assert(err > -0.195 && err < 0.195,
			  "%llu items: estimate %llu",
			  (unsigned long long)n, (unsigned long long)est);
	}
}

Test(hll, merged_halves_estimate_the_union)
{
	uint8_t a[TERN_HLL_REGISTERS] = { 0 }, b[TERN_HLL_REGISTERS] = { 0 };
	uint8_t all[TERN_HLL_REGISTERS] = { 0 }, pk[32];
	uint64_t seed = 7;

	/* 3000 keys: the first 2000 to a, the last 2000 to b (1000 shared) */
	for (int i = 0; i < 3000; i++) {
		random_pk(&seed, pk);
		if (i < 2000)
			tern_hll_add(a, 16, pk);
		if (i >= 1000)
			tern_hll_add(b, 16, pk);
		tern_hll_add(all, 16, pk);
	}
	tern_hll_merge(a, b);
	cr_assert_arr_eq(a, all, TERN_HLL_REGISTERS);
}
