/* The LMDB store (tern/store.h) as a backend (tern/backend.h). */
#include <tern/backend.h>
#include <tern/store.h>

#include "backend/support.h"

static int l_save(void *self, const tern_event *ev, tern_store_write_cb cb,
		  void *ctx)
{
	/* Never wait: the caller is a relay I/O thread, which answers
	 * "busy" on TERN_EFULL rather than stall its other connections. */
	return tern_store_submit(self, ev, cb, ctx, false);
}

static int l_delete(void *self, const uint8_t id[32], bool *removed)
{
	tern_filter f;
	uint64_t n = 0;
	int rc;

	tern__support_filter_init(&f);
	f.ids = (const uint8_t(*)[32])id;
	f.nids = 1;
	rc = tern_store_delete(self, &f, 1, false, &n);
	if (removed)
		*removed = rc == 0 && n > 0;
	return rc;
}

static int l_query_begin(void *self, const tern_filter *fs, size_t n,
			 uint32_t limit_cap, void **q)
{
	tern_query *x = NULL;
	int rc = tern_query_begin(&x, self, fs, n, limit_cap);

	*q = x;
	return rc;
}

static int l_query_next(void *self, void *q, uint32_t max_rows,
			tern_store_visit_cb cb, void *ctx)
{
	return tern_query_next(q, max_rows, cb, ctx);
}

static void l_query_end(void *self, void *q)
{
	tern_query_end(q);
}

static int l_count(void *self, const tern_filter *fs, size_t n,
		   uint64_t *count)
{
	return tern_store_count(self, fs, n, count);
}

static void l_flush(void *self)
{
	tern_store_flush(self);
}

static void l_set_deletion_outcome(void *self, const tern_deletion_outcome *o)
{
	if (o)
		tern_store_set_deletion_outcome(self, o->fn, o->wanted, o->ctx);
	else
		tern_store_set_deletion_outcome(self, NULL, NULL, NULL);
}

const tern_backend_ops tern_lmdb_backend = {
	.name = "lmdb",
	.save = l_save,
	.store = NULL,
	.replace = NULL,
	.delete_event = l_delete,
	.query_begin = l_query_begin,
	.query_next = l_query_next,
	.query_end = l_query_end,
	.count = l_count,
	.count_hll = NULL,
	.flush = l_flush,
	.set_deletion_outcome = l_set_deletion_outcome,
};
