/*
 * Event records and their index entries (records.h, docs/STORE_FORMAT.md).
 *
 * put and remove enumerate exactly the same index keys (for_each_index), so
 * removing an event leaves no stale entry behind. Index values are empty:
 * the key already carries the serial.
 */
#include <string.h>

#include "store/keys.h"
#include "store/records.h"

typedef int (*index_fn)(MDB_txn *txn, MDB_dbi dbi, uint8_t *key, size_t n);

static int index_put(MDB_txn *txn, MDB_dbi dbi, uint8_t *key, size_t n)
{
	MDB_val k = { n, key }, v = { 0, NULL };

	return mdb_put(txn, dbi, &k, &v, 0);
}

static int index_del(MDB_txn *txn, MDB_dbi dbi, uint8_t *key, size_t n)
{
	MDB_val k = { n, key };
	int rc = mdb_del(txn, dbi, &k, NULL);

	/* Two tags with the same letter and value share one key. */
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int for_each_index(tern_store *s, MDB_txn *txn, const tern_event *ev,
			  uint64_t serial, index_fn fn)
{
	uint8_t key[TERN__KEY_MAX];
	uint8_t sfx[TERN__KEY_SUFFIX];
	size_t n;
	int rc;

	tern__keys_suffix(sfx, ev->created_at, ev->id, serial);

	if ((rc = fn(txn, s->dbi[TERN__DB_CA], sfx, sizeof sfx)))
		return rc;

	memcpy(key, ev->pubkey, 32);
	memcpy(key + 32, sfx, sizeof sfx);
	if ((rc = fn(txn, s->dbi[TERN__DB_PK], key, 32 + sizeof sfx)))
		return rc;

	tern__be16_put(key, (uint16_t)ev->kind);
	memcpy(key + 2, sfx, sizeof sfx);
	if ((rc = fn(txn, s->dbi[TERN__DB_KIND], key, 2 + sizeof sfx)))
		return rc;

	memcpy(key, ev->pubkey, 32);
	tern__be16_put(key + 32, (uint16_t)ev->kind);
	memcpy(key + 34, sfx, sizeof sfx);
	if ((rc = fn(txn, s->dbi[TERN__DB_PKKIND], key, 34 + sizeof sfx)))
		return rc;

	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n < 2 || !tern__keys_tag_indexed(t->v[0]))
			continue;
		n = tern__keys_tag_prefix(key, (char)t->v[0].p[0], t->v[1],
					  NULL);
		memcpy(key + n, sfx, sizeof sfx);
		if ((rc = fn(txn, s->dbi[TERN__DB_TAG], key, n + sizeof sfx)))
			return rc;
	}
	return 0;
}

static size_t addr_key(uint8_t *key, const tern_event *ev)
{
	tern_slice d = { NULL, 0 };

	if (tern_kind_is_addressable(ev->kind))
		d = tern_event_d_tag(ev);
	return tern__keys_addr(key, (uint16_t)ev->kind, ev->pubkey, d);
}

int tern__records_put(tern_store *s, MDB_txn *txn, const tern_event *ev,
		      uint64_t serial, uint64_t expiration)
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

	k.mv_size = 32;
	k.mv_data = (void *)ev->id;
	v.mv_size = 8;
	v.mv_data = skey;
	rc = mdb_put(txn, s->dbi[TERN__DB_ID], &k, &v, MDB_NOOVERWRITE);
	if (rc)
		return rc;

	if ((rc = for_each_index(s, txn, ev, serial, index_put)))
		return rc;

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
		rc = index_put(txn, s->dbi[TERN__DB_EXP], key, 16);
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
	MDB_val k = { 32, (void *)id }, v;
	int rc = mdb_get(txn, s->dbi[TERN__DB_ID], &k, &v);

	if (rc)
		return rc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	*serial = tern__be64_get(v.mv_data);
	return 0;
}

int tern__records_remove(tern_store *s, MDB_txn *txn, uint64_t serial,
			 tern_arena *scratch)
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

	if ((rc = for_each_index(s, txn, &ev, serial, index_del)))
		return rc;

	k.mv_size = 32;
	k.mv_data = ev.id;
	if ((rc = mdb_del(txn, s->dbi[TERN__DB_ID], &k, NULL)) &&
	    rc != MDB_NOTFOUND)
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
		if ((rc = index_del(txn, s->dbi[TERN__DB_EXP], key, 16)))
			return rc;
	}
	k.mv_size = 8;
	k.mv_data = skey;
	return mdb_del(txn, s->dbi[TERN__DB_EVENTS], &k, NULL);
}
