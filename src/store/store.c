/*
 * The LMDB environment: open (format version check, creation), close,
 * read transactions, map growth, stats and single-event lookup
 * (include/tern/store.h, docs/STORE_FORMAT.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/log.h>

#include "store/keys.h"
#include "store/records.h"
#include "store/store.h"
#include "store/writer.h"

const char *const tern__store_db_names[TERN__DB_COUNT] = {
	"meta", "events", "id", "ca", "pk", "kind", "pkkind", "tag", "addr",
	"exp", "tomb_id", "tomb_addr",
};

/* "id" maps the first TERN__KEY_ID id bytes to serials (several only when
 * ids share those bytes): 24-byte leaf nodes instead of 48, so a batch
 * dirties about half as many of its pages. */
static unsigned db_flags(int i)
{
	return i == TERN__DB_ID ? MDB_DUPSORT | MDB_DUPFIXED : 0;
}

const tern_event_limits tern__store_parse_limits = {
	.max_json = (size_t)1 << 30,
	.max_content = (size_t)1 << 30,
	.max_tags = UINT32_MAX,
	.max_tag_values = UINT32_MAX,
	.max_depth = 64,
};

#define META_VERSION "version"
#define META_NEXT_SERIAL "next_serial"
#define MIB ((uint64_t)1 << 20)

/* rss_trim: the resident size is read after this many page faults of the
 * writer or this many milliseconds, whichever comes first. A fault maps
 * 16 pages with the usual fault-around, more for a large folio: with a
 * 1 ms timer alone the mapping outgrew the bound by tens of MiB. */
#define TRIM_FAULT_STEP 8
#define TRIM_CHECK_MS 1

void tern_store_options_defaults(tern_store_options *o)
{
	memset(o, 0, sizeof *o);
	o->dir = "./tern-db";
	o->map_size = (uint64_t)1 << 30;
	o->batch_max = 1024;
	o->queue_max = 65536;
	o->purge_interval = 60;
}

int tern__store_err(int rc)
{
	if (rc == 0)
		return 0;
	if (rc > 0)
		return -rc; /* LMDB passes errno values through */
	if (rc < TERN_E_BASE && rc > TERN_E_BASE - 100)
		return rc; /* already a tern code */
	if (rc == MDB_NOTFOUND)
		return TERN_ENOTFOUND;
	return TERN_ESTORE;
}

uint64_t tern__store_now(void)
{
	return (uint64_t)time(NULL);
}

int tern__store_adopt_mapsize(tern_store *s)
{
	int rc;

	pthread_rwlock_wrlock(&s->maplock);
	rc = mdb_env_set_mapsize(s->env, 0);
	s->map_known = false; /* the map may have moved */
	pthread_rwlock_unlock(&s->maplock);
	return rc;
}

int tern__store_grow(tern_store *s)
{
	MDB_envinfo info;
	int rc;

	pthread_rwlock_wrlock(&s->maplock);
	rc = mdb_env_info(s->env, &info);
	if (!rc) {
		uint64_t size = (uint64_t)info.me_mapsize;

		if (size > SIZE_MAX / 2)
			rc = ENOMEM;
		else
			rc = mdb_env_set_mapsize(s->env, (size_t)size * 2);
		s->map_known = false; /* the map may have moved */
		if (!rc)
			tern_log(TERN_LOG_INFO, "store",
				 "map size grown to %llu MiB",
				 (unsigned long long)(size * 2 >> 20));
	}
	pthread_rwlock_unlock(&s->maplock);
	return rc;
}

/* Resident file-backed (and shared) bytes of this process, 0 if unknown:
 * the third field of /proc/self/statm, in pages. The file stays open
 * (*fd, -1 until first used): a pread is a fraction of an open. */
static uint64_t resident_file_bytes(int *fd)
{
	char buf[128];
	unsigned long long size, res, shared;
	ssize_t n;

	if (*fd < 0)
		*fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return 0;
	n = pread(*fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu", &size, &res, &shared) != 3)
		return 0;
	return (uint64_t)shared * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The mapping [*lo, *hi) of this process that contains p, from
 * /proc/self/maps. Returns false when not found. */
static bool mapping_of(const void *p, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t a = (uintptr_t)p;
	unsigned long long start, end;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%llx-%llx", &start, &end) == 2 &&
		    a >= start && a < end) {
			*lo = (uintptr_t)start;
			*hi = (uintptr_t)end;
			found = true;
		}
		/* Lines longer than the buffer: skip their rest. */
		while (!strchr(line, '\n') && fgets(line, sizeof line, f))
			;
	}
	fclose(f);
	return found;
}

/* Finds the map's address range. Called with maplock held shared and no
 * transaction of this thread open. */
static void locate_map(tern_store *s)
{
	MDB_val k = { sizeof META_VERSION - 1, META_VERSION }, v;
	MDB_txn *txn;

	/* LMDB does not tell where its map is (mdb_env_info's me_mapaddr is
	 * only set for MDB_FIXEDMAP), but every value a read transaction
	 * returns points into it: find the mapping holding one. */
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
		return;
	if (!mdb_get(txn, s->dbi[TERN__DB_META], &k, &v))
		s->map_known = mapping_of(v.mv_data, &s->map_lo, &s->map_hi);
	mdb_txn_abort(txn);
}

/* Page faults of the calling thread so far. */
static uint64_t thread_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

void tern__store_trim(tern_store *s, bool in_txn)
{
	struct timespec now;
	uint64_t faults;
	long ms;

	if (!s->opt.rss_trim)
		return;
	/*
	 * Mapped pages come with page faults, so the writer's own faults
	 * tell how far the resident size can have grown since the last look.
	 * Counting them (getrusage, well under a microsecond) decides when
	 * /proc/self/statm is worth reading; the timer also catches pages
	 * mapped by other threads (readers). The check runs inside write
	 * transactions too: one batch of an import maps over half of the
	 * file.
	 */
	faults = thread_faults();
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(now.tv_sec - s->trim_last.tv_sec) * 1000 +
	     (now.tv_nsec - s->trim_last.tv_nsec) / 1000000;
	if (faults - s->trim_faults < TRIM_FAULT_STEP && ms >= 0 &&
	    ms < TRIM_CHECK_MS)
		return;
	s->trim_last = now;
	s->trim_faults = faults;
	if (resident_file_bytes(&s->statm_fd) <= s->opt.rss_trim)
		return;
	if (!in_txn)
		pthread_rwlock_rdlock(&s->maplock);
	if (!s->map_known && !in_txn)
		locate_map(s);
	/*
	 * The map is read-only and shared (no MDB_WRITEMAP; a write
	 * transaction's pages are copies in the heap), so dropping its pages
	 * only removes this process's page table entries: whoever touches
	 * them again, the writer in its transaction or a reader, faults them
	 * back in from the page cache with the same contents. maplock (held
	 * shared) keeps the map in place meanwhile.
	 */
	if (s->map_known)
		madvise((void *)s->map_lo, s->map_hi - s->map_lo,
			MADV_DONTNEED);
	if (!in_txn)
		pthread_rwlock_unlock(&s->maplock);
}

int tern__store_rtxn_begin(tern_store *s, MDB_txn **txn)
{
	int rc;

	for (;;) {
		pthread_rwlock_rdlock(&s->maplock);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
		if (rc != MDB_MAP_RESIZED)
			break;
		pthread_rwlock_unlock(&s->maplock);
		if ((rc = tern__store_adopt_mapsize(s)))
			return tern__store_err(rc);
	}
	if (rc) {
		pthread_rwlock_unlock(&s->maplock);
		*txn = NULL;
		return tern__store_err(rc);
	}
	return 0;
}

void tern__store_rtxn_end(tern_store *s, MDB_txn *txn)
{
	if (txn)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->maplock);
}

static int errf(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && cap) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int mdb_errf(char *err, size_t cap, int mrc, const char *what,
		    const char *dir)
{
	return errf(err, cap, tern__store_err(mrc), "%s %s: %s", what, dir,
		    mdb_strerror(mrc));
}

/* Whether dir holds a store's data file (LMDB's default layout:
 * DIR/data.mdb, docs/STORE_FORMAT.md). */
static bool store_present(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return false;
	if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) >=
	    sizeof path)
		return true; /* let LMDB report the long name */
	return stat(path, &st) == 0;
}

/* Map size to open with: the configured one, or the data file's size
 * (rounded up to a MiB) when a grown store is reopened. */
static size_t initial_mapsize(const tern_store_options *o)
{
	char path[PATH_MAX];
	uint64_t size = o->map_size ? o->map_size : (uint64_t)1 << 30;
	struct stat st;

	if (snprintf(path, sizeof path, "%s/data.mdb", o->dir) <
		    (int)sizeof path &&
	    stat(path, &st) == 0) {
		uint64_t f = ((uint64_t)st.st_size + MIB - 1) / MIB * MIB;

		if (f > size)
			size = f;
	}
	if (size > SIZE_MAX)
		size = SIZE_MAX;
	return (size_t)size;
}

/*
 * Checks the format version without writing anything. Sets *fresh when the
 * environment is empty (a new store).
 */
static int check_format(tern_store *s, bool *fresh, char *err, size_t cap)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	MDB_val k = { sizeof META_VERSION - 1, META_VERSION }, v;
	int rc, ret = 0;

	*fresh = false;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return mdb_errf(err, cap, rc, "cannot read store", s->opt.dir);
	rc = mdb_dbi_open(txn, "meta", 0, &dbi);
	if (rc == MDB_NOTFOUND) {
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
		if (!rc)
			rc = mdb_stat(txn, dbi, &st);
		if (!rc && st.ms_entries == 0)
			*fresh = true;
		else
			ret = errf(err, cap, TERN_ESTORE,
				   "%s is an LMDB environment but not a tern "
				   "store", s->opt.dir);
	} else if (rc) {
		ret = mdb_errf(err, cap, rc, "cannot read store", s->opt.dir);
	} else if ((rc = mdb_get(txn, dbi, &k, &v)) || v.mv_size != 4) {
		ret = errf(err, cap, TERN_ESTORE,
			   "%s: store has no valid format version", s->opt.dir);
	} else {
		uint32_t ver = (uint32_t)tern__be16_get(v.mv_data) << 16 |
			       tern__be16_get((uint8_t *)v.mv_data + 2);

		if (ver != TERN_STORE_FORMAT_VERSION)
			ret = errf(err, cap, TERN_EVERSION,
				   "%s: store format version %u is not "
				   "supported (this build reads version %d); "
				   "the store was left untouched",
				   s->opt.dir, ver, TERN_STORE_FORMAT_VERSION);
	}
	mdb_txn_abort(txn);
	return ret;
}

/* Creates the sub-databases of a new store and writes its meta data. */
static int create_store(tern_store *s)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t ver[4], serial[8];
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return rc;
	for (int i = 0; i < TERN__DB_COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, tern__store_db_names[i],
				       MDB_CREATE | db_flags(i), &dbi)))
			goto fail;
	}
	if ((rc = mdb_dbi_open(txn, "meta", 0, &dbi)))
		goto fail;
	tern__be16_put(ver, 0);
	tern__be16_put(ver + 2, TERN_STORE_FORMAT_VERSION);
	k.mv_size = sizeof META_VERSION - 1;
	k.mv_data = META_VERSION;
	v.mv_size = 4;
	v.mv_data = ver;
	if ((rc = mdb_put(txn, dbi, &k, &v, 0)))
		goto fail;
	tern__be64_put(serial, 1);
	k.mv_size = sizeof META_NEXT_SERIAL - 1;
	k.mv_data = META_NEXT_SERIAL;
	v.mv_size = 8;
	v.mv_data = serial;
	if ((rc = mdb_put(txn, dbi, &k, &v, 0)))
		goto fail;
	return mdb_txn_commit(txn);
fail:
	mdb_txn_abort(txn);
	return rc;
}

/* Opens every sub-database handle and reads next_serial. */
static int open_dbis(tern_store *s)
{
	MDB_txn *txn;
	MDB_val k = { sizeof META_NEXT_SERIAL - 1, META_NEXT_SERIAL }, v;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return rc;
	for (int i = 0; i < TERN__DB_COUNT; i++) {
		unsigned fl;

		if ((rc = mdb_dbi_open(txn, tern__store_db_names[i],
				       db_flags(i), &s->dbi[i])))
			goto fail;
		/* LMDB keeps a database's own flags when it is opened with
		 * others: a store written before "id" became DUPSORT would
		 * be read with the wrong keys. */
		if ((rc = mdb_dbi_flags(txn, s->dbi[i], &fl)))
			goto fail;
		if ((fl & (MDB_DUPSORT | MDB_DUPFIXED)) != db_flags(i)) {
			rc = MDB_INCOMPATIBLE;
			goto fail;
		}
	}
	if ((rc = mdb_get(txn, s->dbi[TERN__DB_META], &k, &v)))
		goto fail;
	if (v.mv_size != 8) {
		rc = MDB_CORRUPTED;
		goto fail;
	}
	s->next_serial = tern__be64_get(v.mv_data);
	/* Handles opened in a read txn survive only if it commits. */
	return mdb_txn_commit(txn);
fail:
	mdb_txn_abort(txn);
	return rc;
}

int tern__store_write_next_serial(tern_store *s, MDB_txn *txn, uint64_t next)
{
	uint8_t b[8];
	MDB_val k = { sizeof META_NEXT_SERIAL - 1, META_NEXT_SERIAL },
		v = { 8, b };

	tern__be64_put(b, next);
	return mdb_put(txn, s->dbi[TERN__DB_META], &k, &v, 0);
}

int tern_store_open(tern_store **out, const tern_store_options *o, char *err,
		    size_t errcap)
{
	tern_store *s;
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	bool fresh;
	int rc, mrc;

	if (!out)
		return TERN_EINVAL;
	*out = NULL;
	if (!o || !o->dir || !*o->dir)
		return errf(err, errcap, TERN_EINVAL, "no store directory");
	/* LMDB creates its lock file even in a read-only open: look for the
	 * data file first so that a missing store leaves no trace. */
	if ((o->read_only || o->must_exist) && !store_present(o->dir))
		return errf(err, errcap, TERN_ENOTFOUND, "no store at %s",
			    o->dir);
	if (!o->read_only && mkdir(o->dir, 0755) && errno != EEXIST)
		return errf(err, errcap, -errno, "cannot create %s: %s",
			    o->dir, strerror(errno));

	s = calloc(1, sizeof *s);
	if (!s)
		return errf(err, errcap, TERN_ENOMEM, "out of memory");
	s->opt = *o;
	s->read_only = o->read_only;
	if (!s->opt.batch_max)
		s->opt.batch_max = 1024;
	if (!s->opt.queue_max)
		s->opt.queue_max = 65536;
	s->opt.dir = NULL; /* not kept: the caller owns the string */
	s->statm_fd = -1;
	pthread_rwlock_init(&s->maplock, NULL);

	if ((mrc = mdb_env_create(&s->env))) {
		rc = mdb_errf(err, errcap, mrc, "cannot open store", o->dir);
		goto fail;
	}
	mdb_env_set_maxdbs(s->env, TERN__DB_COUNT + 4);
	mdb_env_set_maxreaders(s->env, 1024);
	mdb_env_set_mapsize(s->env, initial_mapsize(o));
	if (o->read_only)
		flags |= MDB_RDONLY;
	if (o->no_sync)
		flags |= MDB_NOSYNC;
	if ((mrc = mdb_env_open(s->env, o->dir, flags, 0644))) {
		rc = mdb_errf(err, errcap, mrc, "cannot open store", o->dir);
		goto fail;
	}

	s->opt.dir = o->dir; /* for messages during open only */
	rc = check_format(s, &fresh, err, errcap);
	if (rc)
		goto fail;
	if (fresh) {
		if (o->read_only || o->must_exist) {
			rc = errf(err, errcap, TERN_ENOTFOUND, "no store at %s",
				  o->dir);
			goto fail;
		}
		if ((mrc = create_store(s))) {
			rc = mdb_errf(err, errcap, mrc, "cannot create store",
				      o->dir);
			goto fail;
		}
	}
	if ((mrc = open_dbis(s))) {
		rc = mdb_errf(err, errcap, mrc, "cannot open store", o->dir);
		goto fail;
	}
	s->opt.dir = NULL;

	if (!o->read_only && (rc = tern__writer_start(s))) {
		errf(err, errcap, rc, "cannot start the writer thread: %s",
		     tern_strerror(rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->env)
		mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->maplock);
	free(s);
	return rc;
}

void tern_store_close(tern_store *s)
{
	if (!s)
		return;
	if (!s->read_only)
		tern__writer_stop(s);
	if (s->statm_fd >= 0)
		close(s->statm_fd);
	mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->maplock);
	free(s);
}

int tern_store_get(tern_store *s, const uint8_t id[32], tern_store_visit_cb cb,
		   void *ctx)
{
	MDB_txn *txn;
	MDB_val v;
	uint64_t serial, exp;
	int rc;

	if (!s || !id)
		return TERN_EINVAL;
	if ((rc = tern__store_rtxn_begin(s, &txn)))
		return rc;
	rc = tern__records_find(s, txn, id, &serial);
	if (!rc)
		rc = tern__records_get(s, txn, serial, &v);
	if (!rc) {
		exp = tern__hdr_expiration(v.mv_data);
		if (exp && exp <= tern__store_now()) {
			rc = MDB_NOTFOUND;
		} else if (cb) {
			tern_slice json = {
				(const uint8_t *)v.mv_data + TERN__HDR_SIZE,
				v.mv_size - TERN__HDR_SIZE
			};
			cb(ctx, json, serial);
		}
	}
	tern__store_rtxn_end(s, txn);
	return tern__store_err(rc);
}

static uint64_t db_entries(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat st;

	return mdb_stat(txn, dbi, &st) ? 0 : st.ms_entries;
}

/* created_at of the first (last) key of "ca", 0 when empty. */
static uint64_t ca_edge(tern_store *s, MDB_txn *txn, MDB_cursor_op op)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t t = 0;

	if (mdb_cursor_open(txn, s->dbi[TERN__DB_CA], &c))
		return 0;
	if (!mdb_cursor_get(c, &k, &v, op) && k.mv_size == TERN__KEY_SUFFIX)
		t = tern__be64_get(k.mv_data);
	mdb_cursor_close(c);
	return t;
}

int tern_store_stats_get(tern_store *s, tern_store_stats *out)
{
	static const int index_dbs[] = {
		TERN__DB_ID, TERN__DB_CA, TERN__DB_PK, TERN__DB_KIND,
		TERN__DB_PKKIND, TERN__DB_TAG, TERN__DB_ADDR, TERN__DB_EXP,
	};
	MDB_txn *txn;
	MDB_envinfo info;
	MDB_stat est;
	MDB_val k = { sizeof META_NEXT_SERIAL - 1, META_NEXT_SERIAL }, v;
	int rc;

	if (!s || !out)
		return TERN_EINVAL;
	memset(out, 0, sizeof *out);
	if ((rc = tern__store_rtxn_begin(s, &txn)))
		return rc;
	out->format_version = TERN_STORE_FORMAT_VERSION;
	out->events = db_entries(txn, s->dbi[TERN__DB_EVENTS]);
	out->tombstones = db_entries(txn, s->dbi[TERN__DB_TOMB_ID]) +
			  db_entries(txn, s->dbi[TERN__DB_TOMB_ADDR]);
	out->expiring = db_entries(txn, s->dbi[TERN__DB_EXP]);
	for (size_t i = 0; i < sizeof index_dbs / sizeof index_dbs[0]; i++)
		out->index_entries += db_entries(txn, s->dbi[index_dbs[i]]);
	out->oldest = ca_edge(s, txn, MDB_FIRST);
	out->newest = ca_edge(s, txn, MDB_LAST);
	if (!mdb_get(txn, s->dbi[TERN__DB_META], &k, &v) && v.mv_size == 8)
		out->next_serial = tern__be64_get(v.mv_data);
	if (!mdb_env_info(s->env, &info) && !mdb_env_stat(s->env, &est)) {
		out->map_size = info.me_mapsize;
		out->used_bytes = ((uint64_t)info.me_last_pgno + 1) *
				  est.ms_psize;
	}
	tern__store_rtxn_end(s, txn);
	return 0;
}
