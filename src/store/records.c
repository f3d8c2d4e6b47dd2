/*
 * Event records and their index entries (records.h, docs/STORE_FORMAT.md).
 *
 * put and remove enumerate exactly the same index keys (for_each_index), so
 * removing an event leaves no stale entry behind. The key carries the
 * serial; the value is the first 8 bytes of the id (the query engine's tie
 * order). Inside an event batch the writes to the time-ordered indexes are
 * deferred and applied sorted (records.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/records.h"

_Static_assert(TERN__DB_COUNT <= 16, "sort keys keep the db in 4 bits");

/* One time-ordered index entry: put or deleted now, or deferred into b. */
static int index_op(tern_store *s, MDB_txn *txn, tern__ixbatch *b, int db,
		    const uint8_t *key, size_t n, const uint8_t *id, bool del)
{
	MDB_val k = { n, (void *)key }, v = { TERN__KEY_VALUE, (void *)id };
	tern__ixop *op;
	uint8_t *copy;
	int rc;

	if (!b) {
		if (!del)
			return mdb_put(txn, s->dbi[db], &k, &v, 0);
		rc = mdb_del(txn, s->dbi[db], &k, NULL);
		/* Two tags with the same letter and value share one key. */
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		tern__ixop *ops = realloc(b->ops, cap * sizeof *ops);

		if (!ops)
			return ENOMEM;
		b->ops = ops;
		b->cap = cap;
	}
	/* the key, then its value */
	copy = tern_arena_alloc(b->mem, n + TERN__KEY_VALUE);
	if (!copy)
		return ENOMEM;
	memcpy(copy, key, n);
	memcpy(copy + n, id, TERN__KEY_VALUE);
	op = &b->ops[b->n++];
	/* The index in the top 4 bits, then the key's first 60 bits (every
	 * key is at least 16 bytes long). */
	op->sortkey = (uint64_t)db << 60 | tern__be64_get(key) >> 4;
	op->key = copy;
	op->owner = b->owner;
	op->len = (uint16_t)n;
	op->db = (uint8_t)db;
	op->del = del;
	return 0;
}

static int for_each_index(tern_store *s, MDB_txn *txn, const tern_event *ev,
			  uint64_t serial, tern__ixbatch *b, bool del)
{
	uint8_t key[TERN__KEY_MAX];
	uint8_t sfx[TERN__KEY_SUFFIX];
	size_t n;
	int rc;

	tern__keys_suffix(sfx, ev->created_at, serial);

	if ((rc = index_op(s, txn, b, TERN__DB_CA, sfx, sizeof sfx, ev->id, del)))
		return rc;

	memcpy(key, ev->pubkey, 32);
	memcpy(key + 32, sfx, sizeof sfx);
	if ((rc = index_op(s, txn, b, TERN__DB_PK, key, 32 + sizeof sfx, ev->id,
			    del)))
		return rc;

	tern__be16_put(key, (uint16_t)ev->kind);
	memcpy(key + 2, sfx, sizeof sfx);
	if ((rc = index_op(s, txn, b, TERN__DB_KIND, key, 2 + sizeof sfx,
			   ev->id, del)))
		return rc;

	memcpy(key, ev->pubkey, 32);
	tern__be16_put(key + 32, (uint16_t)ev->kind);
	memcpy(key + 34, sfx, sizeof sfx);
	if ((rc = index_op(s, txn, b, TERN__DB_PKKIND, key, 34 + sizeof sfx,
			   ev->id, del)))
		return rc;

	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n < 2 || !tern__keys_tag_indexed(t->v[0]))
			continue;
		n = tern__keys_tag_prefix(key, (char)t->v[0].p[0], t->v[1],
					  NULL);
		memcpy(key + n, sfx, sizeof sfx);
		if ((rc = index_op(s, txn, b, TERN__DB_TAG, key,
				   n + sizeof sfx, ev->id, del)))
			return rc;
	}
	return 0;
}

/* ---- deferred index writes ---------------------------------------------- */

void tern__ixbatch_reset(tern__ixbatch *b, uint64_t first_serial)
{
	b->n = 0;
	b->first_serial = first_serial;
	if (b->ndropped)
		memset(b->dropped, 0, b->ndropped);
}

/* Serial of an index key: its last 8 bytes. */
static inline uint64_t op_serial(const tern__ixop *op)
{
	return tern__be64_get(op->key + op->len - 8);
}

/*
 * Sorts ops by their 64-bit sort key: an LSD radix sort, one pass per key
 * byte that is not the same in every op. glibc's qsort with a memcmp
 * comparator cost ~10% of the whole import; this costs a fraction of it.
 * The order only has to bring keys that share a leaf page together, so
 * ties (equal first bytes) may stay in any order: the same key put twice
 * stores the same value, a key deleted twice is found once.
 */
static int sort_ops(tern__ixbatch *b, size_t n)
{
	tern__ixop *src = b->ops, *dst;
	size_t count[256];

	if (n < 2)
		return 0;
	if (b->tmpcap < n) {
		free(b->tmp);
		b->tmp = malloc(n * sizeof *b->tmp);
		b->tmpcap = b->tmp ? n : 0;
		if (!b->tmp)
			return ENOMEM;
	}
	dst = b->tmp;
	for (int shift = 0; shift < 64; shift += 8) {
		size_t sum = 0, c;

		memset(count, 0, sizeof count);
		for (size_t i = 0; i < n; i++)
			count[(src[i].sortkey >> shift) & 0xFF]++;
		if (count[(src[0].sortkey >> shift) & 0xFF] == n)
			continue; /* this byte is the same everywhere */
		for (int k = 0; k < 256; k++) {
			c = count[k];
			count[k] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].sortkey >> shift) & 0xFF]++] = src[i];
		dst = src;
		src = src == b->ops ? b->tmp : b->ops;
	}
	if (src != b->ops)
		memcpy(b->ops, src, n * sizeof *src);
	return 0;
}

int tern__ixbatch_apply(tern_store *s, MDB_txn *txn, tern__ixbatch *b,
			uint32_t *owner)
{
	MDB_cursor *c = NULL;
	size_t i, n = 0;
	int db = -1, rc = 0;

	/* Drop the entries of events removed again within the batch: their
	 * puts never happen and their deletes find nothing to delete. */
	for (i = 0; i < b->n; i++) {
		uint64_t sr = op_serial(&b->ops[i]);

		if (sr >= b->first_serial &&
		    sr - b->first_serial < b->ndropped &&
		    b->dropped[sr - b->first_serial])
			continue;
		b->ops[n++] = b->ops[i];
	}
	if ((rc = sort_ops(b, n)))
		return rc;

	for (i = 0; i < n && !rc; i++) {
		const tern__ixop *op = &b->ops[i];
		MDB_val k = { op->len, (void *)op->key },
			v = { TERN__KEY_VALUE, (void *)(op->key + op->len) };

		if (op->db != db) {
			if (c)
				mdb_cursor_close(c);
			c = NULL;
			db = op->db;
			if ((rc = mdb_cursor_open(txn, s->dbi[db], &c)))
				break;
		}
		if (!op->del) {
			rc = mdb_cursor_put(c, &k, &v, 0);
		} else {
			rc = mdb_cursor_get(c, &k, &v, MDB_SET);
			if (!rc)
				rc = mdb_cursor_del(c, 0);
			else if (rc == MDB_NOTFOUND)
				rc = 0; /* a tag key shared by two tags */
		}
		if (rc)
			*owner = op->owner;
		if (i % 128 == 127)
			tern__store_trim(s, true);
	}
	if (c)
		mdb_cursor_close(c);
	b->n = 0;
	return rc;
}

/* Notes that serial, assigned in this batch, has been removed again. */
static bool drop_in_batch(tern__ixbatch *b, uint64_t serial)
{
	if (!b || serial < b->first_serial ||
	    serial - b->first_serial >= b->ndropped)
		return false;
	b->dropped[serial - b->first_serial] = 1;
	return true;
}

static size_t addr_key(uint8_t *key, const tern_event *ev)
{
	tern_slice d = { NULL, 0 };

	if (tern_kind_is_addressable(ev->kind))
		d = tern_event_d_tag(ev);
	return tern__keys_addr(key, (uint16_t)ev->kind, ev->pubkey, d);
}

/* The id entry's key: the first TERN__KEY_ID bytes of the id. */
static inline MDB_val id_key(const uint8_t id[32])
{
	MDB_val k = { TERN__KEY_ID, (void *)id };

	return k;
}

/*
 * Whether one of the serials stored under id's key (the cursor is on its
 * first) is the event id itself: its record header holds the whole id.
 * Returns 0 with *serial set, MDB_NOTFOUND or an error.
 */
static int id_scan(tern_store *s, MDB_txn *txn, MDB_cursor *c,
		   const uint8_t id[32], MDB_val *k, uint64_t *serial)
{
	MDB_val v, rec;
	int rc;

	for (rc = mdb_cursor_get(c, k, &v, MDB_FIRST_DUP); !rc;
	     rc = mdb_cursor_get(c, k, &v, MDB_NEXT_DUP)) {
		uint64_t sr;

		if (v.mv_size != 8)
			return MDB_CORRUPTED;
		sr = tern__be64_get(v.mv_data);
		rc = tern__records_get(s, txn, sr, &rec);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		if (!memcmp(tern__hdr_id(rec.mv_data), id, 32)) {
			*serial = sr;
			return 0;
		}
	}
	return rc;
}

int tern__records_claim_id(tern_store *s, MDB_txn *txn, const uint8_t id[32],
			   uint64_t serial)
{
	uint8_t skey[8];
	MDB_val k = id_key(id), v = { 8, skey };
	MDB_cursor *c;
	uint64_t found;
	int rc;

	tern__be64_put(skey, serial);
	/* Nearly always the key is new: the insertion is the whole check. */
	rc = mdb_put(txn, s->dbi[TERN__DB_ID], &k, &v, MDB_NOOVERWRITE);
	if (rc != MDB_KEYEXIST)
		return rc;
	/* The key is taken: the same id, or another one that starts with
	 * the same TERN__KEY_ID bytes. The record headers tell. */
	if ((rc = mdb_cursor_open(txn, s->dbi[TERN__DB_ID], &c)))
		return rc;
	k = id_key(id);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	if (!rc)
		rc = id_scan(s, txn, c, id, &k, &found);
	mdb_cursor_close(c);
	if (!rc)
		return MDB_KEYEXIST;
	if (rc != MDB_NOTFOUND)
		return rc;
	k = id_key(id);
	v.mv_size = 8;
	v.mv_data = skey;
	return mdb_put(txn, s->dbi[TERN__DB_ID], &k, &v, 0);
}

int tern__records_unclaim_id(tern_store *s, MDB_txn *txn,
			     const uint8_t id[32], uint64_t serial)
{
	uint8_t skey[8];
	MDB_val k = id_key(id), v = { 8, skey };

	tern__be64_put(skey, serial);
	return mdb_del(txn, s->dbi[TERN__DB_ID], &k, &v);
}

int tern__records_put(tern_store *s, MDB_txn *txn, const tern_event *ev,
		      uint64_t serial, uint64_t expiration, tern__ixbatch *b)
{
	uint8_t skey[8], key[TERN__KEY_MAX];
	MDB_val k = { 8, skey }, v;
	int rc;

	tern__be64_put(skey, serial);
	v.mv_size = TERN__HDR_SIZE + ev->json.n;
	v.mv_data = NULL;
	rc = mdb_put(txn, s->dbi[TERN__DB_EVENTS], &k, &v,
		     MDB_APPEND | MDB_RESERVE);
	if (rc)
		return rc;
	tern__keys_hdr(v.mv_data, ev->id, ev->pubkey, ev->created_at,
		       expiration, (uint16_t)ev->kind);
	memcpy((uint8_t *)v.mv_data + TERN__HDR_SIZE, ev->json.p, ev->json.n);

	if ((rc = for_each_index(s, txn, ev, serial, b, false)))
		return rc;

	v.mv_size = 8;
	v.mv_data = skey;
	if (tern_kind_is_replaceable(ev->kind) ||
	    tern_kind_is_addressable(ev->kind)) {
		k.mv_size = addr_key(key, ev);
		k.mv_data = key;
		rc = mdb_put(txn, s->dbi[TERN__DB_ADDR], &k, &v, 0);
		if (rc)
			return rc;
	}
	if (expiration) {
		tern__be64_put(key, expiration);
		memcpy(key + 8, skey, 8);
		k.mv_size = 16;
		k.mv_data = key;
		v.mv_size = 0;
		v.mv_data = NULL;
		rc = mdb_put(txn, s->dbi[TERN__DB_EXP], &k, &v, 0);
	}
	return rc;
}

int tern__records_get(tern_store *s, MDB_txn *txn, uint64_t serial,
		      MDB_val *val)
{
	uint8_t skey[8];
	MDB_val k = { 8, skey };
	int rc;

	tern__be64_put(skey, serial);
	rc = mdb_get(txn, s->dbi[TERN__DB_EVENTS], &k, val);
	if (!rc && val->mv_size < TERN__HDR_SIZE)
		return MDB_CORRUPTED;
	return rc;
}

int tern__records_find(tern_store *s, MDB_txn *txn, const uint8_t id[32],
		       uint64_t *serial)
{
	MDB_val k = id_key(id), v, rec;
	MDB_cursor *c;
	int rc = mdb_get(txn, s->dbi[TERN__DB_ID], &k, &v);

	if (rc)
		return rc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	/* The first serial under the key is nearly always the event. */
	*serial = tern__be64_get(v.mv_data);
	rc = tern__records_get(s, txn, *serial, &rec);
	if (!rc && !memcmp(tern__hdr_id(rec.mv_data), id, 32))
		return 0;
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_cursor_open(txn, s->dbi[TERN__DB_ID], &c)))
		return rc;
	k = id_key(id);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	if (!rc)
		rc = id_scan(s, txn, c, id, &k, serial);
	mdb_cursor_close(c);
	return rc;
}

int tern__records_remove(tern_store *s, MDB_txn *txn, uint64_t serial,
			 tern_arena *scratch, tern__ixbatch *b)
{
	uint8_t skey[8], key[TERN__KEY_MAX];
	MDB_val k, v;
	tern_event ev;
	uint64_t exp;
	int rc;

	if ((rc = tern__records_get(s, txn, serial, &v)))
		return rc;
	exp = tern__hdr_expiration(v.mv_data);
	tern_arena_reset(scratch);
	/* The JSON is ours: it parses unless the file is damaged. */
	if (tern_event_parse(&ev, (const uint8_t *)v.mv_data + TERN__HDR_SIZE,
			     v.mv_size - TERN__HDR_SIZE,
			     &tern__store_parse_limits, scratch, NULL))
		return MDB_CORRUPTED;

	/* An event stored earlier in this batch has its index puts still
	 * pending: they are dropped instead of deleted. */
	if (!drop_in_batch(b, serial) &&
	    (rc = for_each_index(s, txn, &ev, serial, b, true)))
		return rc;

	rc = tern__records_unclaim_id(s, txn, ev.id, serial);
	if (rc && rc != MDB_NOTFOUND)
		return rc;

	if (tern_kind_is_replaceable(ev.kind) ||
	    tern_kind_is_addressable(ev.kind)) {
		/* Only if the address still points at this very event. */
		k.mv_size = addr_key(key, &ev);
		k.mv_data = key;
		rc = mdb_get(txn, s->dbi[TERN__DB_ADDR], &k, &v);
		if (!rc && v.mv_size == 8 && tern__be64_get(v.mv_data) == serial)
			rc = mdb_del(txn, s->dbi[TERN__DB_ADDR], &k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	tern__be64_put(skey, serial);
	if (exp) {
		tern__be64_put(key, exp);
		memcpy(key + 8, skey, 8);
		k.mv_size = 16;
		k.mv_data = key;
		rc = mdb_del(txn, s->dbi[TERN__DB_EXP], &k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	k.mv_size = 8;
	k.mv_data = skey;
	return mdb_del(txn, s->dbi[TERN__DB_EVENTS], &k, NULL);
}
