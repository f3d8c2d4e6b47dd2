/* Unit tests for src/core: errors, reasons, arena, hex. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tern/arena.h>
#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>
#include <tern/types.h>

Test(error, strerror_covers_both_kinds)
{
	cr_assert_str_eq(tern_strerror(0), "success");
	cr_assert_str_eq(tern_strerror(TERN_EVERSION), "store format version not supported");
	cr_assert_str_eq(tern_strerror(TERN_EBADSIG), "event signature is invalid");
	cr_assert_str_eq(tern_strerror(-ENOENT), strerror(ENOENT));
	cr_assert_str_eq(tern_strerror(TERN_E_BASE - 999), "unknown error");
	cr_assert(TERN_EINVAL < -4096, "codes must not collide with errno values");
}

Test(reason, format_with_and_without_prefix)
{
	tern_reason r;
	char buf[64];

	tern_reason_set(&r, TERN_PREFIX_AUTH_REQUIRED, "need %s", "auth");
	cr_assert_eq(tern_reason_format(&r, buf, sizeof buf), strlen("auth-required: need auth"));
	cr_assert_str_eq(buf, "auth-required: need auth");
	tern_reason_set(&r, TERN_PREFIX_NONE, "plain");
	tern_reason_format(&r, buf, sizeof buf);
	cr_assert_str_eq(buf, "plain");
	tern_reason_set(NULL, TERN_PREFIX_ERROR, "ignored"); /* must not crash */
	cr_assert_str_eq(tern_prefix_name(TERN_PREFIX_RATE_LIMITED), "rate-limited");
}

Test(reason, truncates_long_messages)
{
	tern_reason r;
	char big[600];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	tern_reason_set(&r, TERN_PREFIX_INVALID, "%s", big);
	cr_assert_eq(strlen(r.msg), TERN_REASON_MAX - 1);
}

Test(arena, alloc_is_aligned_and_reused_after_reset)
{
	tern_arena a;
	tern_arena_init(&a, 0);
	unsigned char *p = tern_arena_alloc(&a, 3);
	unsigned char *q = tern_arena_alloc(&a, 5);
	cr_assert_not_null(p);
	cr_assert_eq(((uintptr_t)p) % 16, 0);
	cr_assert_eq(((uintptr_t)q) % 16, 0);
	cr_assert(q != p);
	void *big = tern_arena_alloc(&a, 1 << 20);
	cr_assert_not_null(big);
	memset(big, 1, 1 << 20);
	tern_arena_reset(&a);
	cr_assert_eq(a.used, 0);
	void *again = tern_arena_alloc(&a, 1 << 20);
	cr_assert_eq(again, big, "the large block is reused after a reset");
	tern_arena_free(&a);
}

Test(arena, limit_is_enforced)
{
	tern_arena a;
	tern_arena_init(&a, 1000);
	cr_assert_not_null(tern_arena_alloc(&a, 900));
	cr_assert_null(tern_arena_alloc(&a, 200));
	cr_assert_null(tern_arena_alloc(&a, SIZE_MAX));
	tern_arena_reset(&a);
	cr_assert_not_null(tern_arena_alloc(&a, 200));
	tern_arena_free(&a);
}

Test(hex, round_trip_and_strictness)
{
	uint8_t in[4] = {0x00, 0xab, 0x7f, 0xff}, out[4];
	char h[9] = {0};

	tern_hex_encode(h, in, 4);
	cr_assert_str_eq(h, "00ab7fff");
	cr_assert(tern_hex_decode(out, h, 4));
	cr_assert_eq(memcmp(in, out, 4), 0);
	cr_assert_not(tern_hex_decode(out, "00AB7fff", 4), "uppercase is refused");
	cr_assert_not(tern_hex_decode(out, "00ag7fff", 4));
	cr_assert_not(tern_hex_decode(out, "0 ab7fff", 4));
}

static int sink_calls;
static char sink_last[128];

static void test_sink(void *ctx, tern_log_level level, const char *area, const char *line)
{
	(void)ctx;
	sink_calls++;
	snprintf(sink_last, sizeof sink_last, "%d %s %s", (int)level, area, line);
}

Test(log, level_gates_lines_and_sink_receives_them)
{
	tern_log_level l;

	tern_log_set_sink(test_sink, NULL);
	tern_log_set_level(TERN_LOG_WARN);
	tern_log(TERN_LOG_INFO, "test", "dropped %d", 1);
	cr_assert_eq(sink_calls, 0);
	tern_log(TERN_LOG_ERROR, "test", "kept %d", 2);
	cr_assert_eq(sink_calls, 1);
	cr_assert_str_eq(sink_last, "0 test kept 2");
	cr_assert(tern_log_enabled(TERN_LOG_WARN));
	cr_assert_not(tern_log_enabled(TERN_LOG_DEBUG));
	cr_assert_eq(tern_log_level_parse("debug", &l), 0);
	cr_assert_eq(l, TERN_LOG_DEBUG);
	cr_assert_eq(tern_log_level_parse("loud", &l), TERN_EINVAL);
	tern_log_set_sink(NULL, NULL);
}
