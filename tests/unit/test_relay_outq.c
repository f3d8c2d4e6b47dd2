/* Ref-counted buffers and the per-connection output queue. */
#include <string.h>

#include <criterion/criterion.h>

#include "relay/outq.h"

/* Concatenates what the queue would write. */
static size_t gather(const tern__outq *q, char *out, size_t cap)
{
	struct iovec iov[64];
	unsigned n = tern__outq_iov(q, iov, 64);
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		cr_assert(len + iov[i].iov_len <= cap);
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

Test(relay_outq, copies_merge_and_consume)
{
	tern__outq q;
	char buf[256];

	tern__outq_init(&q);
	cr_assert(tern__outq_empty(&q));
	cr_assert_eq(tern__outq_copy(&q, "hello ", 6), 0);
	cr_assert_eq(tern__outq_copy(&q, "world", 5), 0);
	tern__outq_end_frame(&q);
	cr_assert_eq(q.n, 1, "adjacent chunk ranges merge");
	cr_assert_eq(q.bytes, 11);
	cr_assert_eq(gather(&q, buf, sizeof buf), 11);
	cr_assert(memcmp(buf, "hello world", 11) == 0);
	tern__outq_consume(&q, 3);
	cr_assert(q.mid_frame);
	cr_assert_eq(gather(&q, buf, sizeof buf), 8);
	cr_assert(memcmp(buf, "lo world", 8) == 0);
	tern__outq_consume(&q, 8);
	cr_assert(tern__outq_empty(&q));
	cr_assert_null(q.chunk, "an empty queue keeps no chunk");
	cr_assert(!q.mid_frame);
	tern__outq_free(&q);
}

Test(relay_outq, shared_buffers_are_referenced)
{
	tern__outq q;
	tern__rbuf *b = tern__rbuf_dup("{\"id\":1}", 8);
	char buf[64];

	tern__outq_init(&q);
	cr_assert_eq(tern__outq_copy(&q, "[", 1), 0);
	cr_assert_eq(tern__outq_ref(&q, b, 0, 8), 0);
	cr_assert_eq(tern__outq_copy(&q, "]", 1), 0);
	cr_assert_eq(atomic_load(&b->refs), 2);
	cr_assert_eq(q.n, 3);
	cr_assert_eq(gather(&q, buf, sizeof buf), 10);
	cr_assert(memcmp(buf, "[{\"id\":1}]", 10) == 0);
	tern__outq_consume(&q, 9);
	cr_assert_eq(atomic_load(&b->refs), 1, "written ranges drop refs");
	tern__outq_free(&q);
	tern__rbuf_unref(b);
}

Test(relay_outq, large_pieces_and_many_entries)
{
	tern__outq q;
	static char big[10000];
	uint8_t *p;

	memset(big, 'x', sizeof big);
	tern__outq_init(&q);
	p = tern__outq_reserve(&q, sizeof big);
	cr_assert_not_null(p);
	memcpy(p, big, sizeof big);
	for (int i = 0; i < 1000; i++) {
		tern__rbuf *b = tern__rbuf_dup("ab", 2);

		cr_assert_eq(tern__outq_ref(&q, b, 0, 2), 0);
		tern__rbuf_unref(b);
	}
	cr_assert_eq(q.bytes, sizeof big + 2000);
	tern__outq_consume(&q, sizeof big + 1);
	cr_assert_eq(q.bytes, 1999);
	tern__outq_consume(&q, 1999);
	cr_assert(tern__outq_empty(&q));
	tern__outq_free(&q);
}

Test(relay_outq, drop_unsent_keeps_whole_frames)
{
	tern__outq q;
	tern__rbuf *b = tern__rbuf_dup("BODY", 4);
	char buf[64];

	tern__outq_init(&q);
	/* frame 1: "h1" + BODY + "]" ; frame 2: "h2" + BODY + "]" */
	for (int f = 0; f < 2; f++) {
		tern__outq_copy(&q, f ? "h2" : "h1", 2);
		tern__outq_ref(&q, b, 0, 4);
		tern__outq_copy(&q, "]", 1);
		tern__outq_end_frame(&q);
	}
	cr_assert_eq(q.bytes, 14);
	/* 3 bytes of frame 1 were written: the rest of it must stay. */
	tern__outq_consume(&q, 3);
	tern__outq_drop_unsent(&q, 0);
	cr_assert_eq(gather(&q, buf, sizeof buf), 4);
	cr_assert(memcmp(buf, "ODY]", 4) == 0);
	cr_assert_eq(tern__outq_copy(&q, "CLOSE", 5), 0);
	cr_assert_eq(gather(&q, buf, sizeof buf), 9);
	cr_assert(memcmp(buf, "ODY]CLOSE", 9) == 0);
	tern__outq_consume(&q, 9);
	/* Nothing written yet: everything is dropped. */
	tern__outq_copy(&q, "h3", 2);
	tern__outq_end_frame(&q);
	tern__outq_drop_unsent(&q, 0);
	cr_assert(tern__outq_empty(&q));
	cr_assert_eq(q.bytes, 0);
	/* In-flight bytes are kept, through the end of their frame. */
	tern__outq_copy(&q, "aa", 2);
	tern__outq_ref(&q, b, 0, 4);
	tern__outq_end_frame(&q);
	tern__outq_ref(&q, b, 0, 4);
	tern__outq_end_frame(&q);
	tern__outq_drop_unsent(&q, 1);
	cr_assert_eq(q.bytes, 6);
	tern__outq_free(&q);
	cr_assert_eq(atomic_load(&b->refs), 1);
	tern__rbuf_unref(b);
}
