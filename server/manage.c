/*
 * tern serve's NIP-86 management API (manage.h).
 *
 * The state is a few sorted arrays under one rwlock: the reject-event hook
 * (every EVENT, on the I/O threads) takes the read lock for three binary
 * searches; the methods (thread-pool threads, rare) take the write lock.
 * Methods are serialized by save_mu so that the file is always written
 * from the latest state, in the order of the changes.
 *
 * The state file is line-based text, one item per line:
 *
 *     version 1
 *     name <text>               description <text>        icon <text>
 *     banpubkey <hex> <reason>  allowpubkey <hex> <reason>
 *     banevent <hex> <reason>   blockip <ip> <reason>
 *     allowkind <n>             disallowkind <n>
 *
 * where text and reasons escape '\' as "\\", LF as "\n" and CR as "\r".
 * IPs are kept as 16 bytes (IPv4 as IPv4-mapped IPv6), so that one address
 * has one entry whatever its spelling.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/filter.h>
#include <tern/hex.h>
#include <tern/hooks.h>
#include <tern/log.h>
#include <tern/manage.h>
#include <tern/store.h>

#include "manage.h"

#define STATE_FILE "management.state"
/* Longest overrides accepted (bytes): NIP-11 strings, kept per I/O
 * thread while a document is written. */
#define NAME_MAX_LEN 256
#define DESCRIPTION_MAX_LEN 4096
#define ICON_MAX_LEN 2048
#define REASON_MAX_LEN 1024

static const char owner[] = "tern-management";

typedef struct entry {
	uint8_t key[32]; /* pubkey, event id, or IP (16 bytes, zero-padded) */
	char *reason;
} entry;

typedef struct list {
	entry *v;
	size_t n, cap;
} list;

typedef struct kinds {
	uint16_t *v;
	size_t n, cap;
} kinds;

struct serve_manage {
	tern_relay *relay;
	tern_manage *api;
	char *path, *tmp_path, *dir;
	uint8_t (*admins)[32];
	size_t nadmins;

	pthread_mutex_t save_mu; /* one method at a time */
	pthread_rwlock_t lock;   /* guards what follows */
	list banned_pk, allowed_pk, banned_ev, blocked_ip;
	kinds allowed_k, disallowed_k;
	char *name, *description, *icon; /* NULL: not overridden */
};

/* ---- sorted lists -------------------------------------------------------- */

static bool list_find(const list *l, const uint8_t key[32], size_t *pos)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(l->v[mid].key, key, 32);

		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/* Adds key (or replaces its reason). */
static int list_put(list *l, const uint8_t key[32], const char *reason)
{
	size_t pos;
	char *r = strdup(reason ? reason : "");

	if (!r)
		return TERN_ENOMEM;
	if (list_find(l, key, &pos)) {
		free(l->v[pos].reason);
		l->v[pos].reason = r;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		entry *v = realloc(l->v, cap * sizeof *v);

		if (!v) {
			free(r);
			return TERN_ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	memmove(l->v + pos + 1, l->v + pos, (l->n - pos) * sizeof *l->v);
	memcpy(l->v[pos].key, key, 32);
	l->v[pos].reason = r;
	l->n++;
	return 0;
}

static void list_del(list *l, const uint8_t key[32])
{
	size_t pos;

	if (!list_find(l, key, &pos))
		return;
	free(l->v[pos].reason);
	memmove(l->v + pos, l->v + pos + 1, (l->n - pos - 1) * sizeof *l->v);
	l->n--;
}

static void list_free(list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].reason);
	free(l->v);
}

static bool kinds_find(const kinds *k, uint16_t kind, size_t *pos)
{
	size_t i = 0;

	while (i < k->n && k->v[i] < kind)
		i++;
	*pos = i;
	return i < k->n && k->v[i] == kind;
}

static bool kinds_has(const kinds *k, uint32_t kind)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid] == kind)
			return true;
		if (k->v[mid] < kind)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int kinds_put(kinds *k, uint16_t kind)
{
	size_t pos;

	if (kinds_find(k, kind, &pos))
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		uint16_t *v = realloc(k->v, cap * sizeof *v);

		if (!v)
			return TERN_ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	memmove(k->v + pos + 1, k->v + pos, (k->n - pos) * sizeof *k->v);
	k->v[pos] = kind;
	k->n++;
	return 0;
}

static void kinds_del(kinds *k, uint16_t kind)
{
	size_t pos;

	if (!kinds_find(k, kind, &pos))
		return;
	memmove(k->v + pos, k->v + pos + 1, (k->n - pos - 1) * sizeof *k->v);
	k->n--;
}

/* ---- IP keys ------------------------------------------------------------------ */

static bool ip_key(const char *text, uint8_t key[32])
{
	uint8_t a4[4];

	memset(key, 0, 32);
	if (inet_pton(AF_INET, text, a4) == 1) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, a4, 4);
		return true;
	}
	return inet_pton(AF_INET6, text, key) == 1;
}

static void ip_text(const uint8_t key[32], char *out, size_t cap)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };

	if (memcmp(key, mapped, 12) == 0)
		inet_ntop(AF_INET, key + 12, out, (socklen_t)cap);
	else
		inet_ntop(AF_INET6, key, out, (socklen_t)cap);
}

/* ---- the state file -------------------------------------------------------- */

typedef struct text {
	char *p;
	size_t len, cap;
	bool oom;
} text;

static void tput(text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p) {
			t->oom = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void tputs(text *t, const char *s)
{
	tput(t, s, strlen(s));
}

static void tput_escaped(text *t, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': tputs(t, "\\\\"); break;
		case '\n': tputs(t, "\\n"); break;
		case '\r': tputs(t, "\\r"); break;
		default: tput(t, s, 1);
		}
	}
}

/* Undoes tput_escaped in place; false on a bad escape. */
static bool unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case '\\': *o++ = '\\'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		default: return false;
		}
	}
	*o = '\0';
	return true;
}

static void put_list(text *t, const char *word, const list *l, bool ip)
{
	char key[INET6_ADDRSTRLEN > 65 ? INET6_ADDRSTRLEN : 65];

	for (size_t i = 0; i < l->n; i++) {
		if (ip) {
			ip_text(l->v[i].key, key, sizeof key);
		} else {
			tern_hex_encode(key, l->v[i].key, 32);
			key[64] = '\0';
		}
		tputs(t, word);
		tputs(t, " ");
		tputs(t, key);
		tputs(t, " ");
		tput_escaped(t, l->v[i].reason);
		tputs(t, "\n");
	}
}

/* The file's text, from the current state (read lock held). */
static void render(const serve_manage *sm, text *t)
{
	char num[32];

	tputs(t, "# tern management state (NIP-86), rewritten by tern serve\n"
		 "version 1\n");
	if (sm->name) {
		tputs(t, "name ");
		tput_escaped(t, sm->name);
		tputs(t, "\n");
	}
	if (sm->description) {
		tputs(t, "description ");
		tput_escaped(t, sm->description);
		tputs(t, "\n");
	}
	if (sm->icon) {
		tputs(t, "icon ");
		tput_escaped(t, sm->icon);
		tputs(t, "\n");
	}
	put_list(t, "banpubkey", &sm->banned_pk, false);
	put_list(t, "allowpubkey", &sm->allowed_pk, false);
	put_list(t, "banevent", &sm->banned_ev, false);
	put_list(t, "blockip", &sm->blocked_ip, true);
	for (size_t i = 0; i < sm->allowed_k.n; i++) {
		snprintf(num, sizeof num, "allowkind %u\n", sm->allowed_k.v[i]);
		tputs(t, num);
	}
	for (size_t i = 0; i < sm->disallowed_k.n; i++) {
		snprintf(num, sizeof num, "disallowkind %u\n",
			 sm->disallowed_k.v[i]);
		tputs(t, num);
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes the state file: temporary file, fsync, rename, fsync of the
 * directory (save_mu held). */
static int save(serve_manage *sm)
{
	text t = { 0 };
	int fd, rc;

	pthread_rwlock_rdlock(&sm->lock);
	render(sm, &t);
	pthread_rwlock_unlock(&sm->lock);
	if (t.oom) {
		free(t.p);
		return TERN_ENOMEM;
	}
	fd = open(sm->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(t.p);
		return -errno;
	}
	rc = write_all(fd, t.p, t.len);
	if (rc == 0 && fsync(fd))
		rc = -errno;
	if (close(fd) && rc == 0)
		rc = -errno;
	free(t.p);
	if (rc == 0 && rename(sm->tmp_path, sm->path))
		rc = -errno;
	if (rc) {
		unlink(sm->tmp_path);
		return rc;
	}
	fd = open(sm->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* Applies one line of the state file. */
static int load_line(serve_manage *sm, char *line, const char **why)
{
	char *word = line, *arg, *rest = "";
	uint8_t key[32];
	char *end;
	unsigned long k;

	arg = strchr(word, ' ');
	if (!arg) {
		*why = "missing value";
		return TERN_EPARSE;
	}
	*arg++ = '\0';
	if (!strcmp(word, "version"))
		return strcmp(arg, "1") ? (*why = "unknown version",
					   TERN_EVERSION) : 0;
	if (!strcmp(word, "name") || !strcmp(word, "description") ||
	    !strcmp(word, "icon")) {
		char **dst = word[0] == 'n' ? &sm->name
			     : word[0] == 'd' ? &sm->description : &sm->icon;

		if (!unescape(arg)) {
			*why = "bad escape";
			return TERN_EPARSE;
		}
		free(*dst);
		*dst = strdup(arg);
		return *dst ? 0 : TERN_ENOMEM;
	}
	if (!strcmp(word, "allowkind") || !strcmp(word, "disallowkind")) {
		errno = 0;
		k = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || k > 65535) {
			*why = "bad kind";
			return TERN_EPARSE;
		}
		return kinds_put(word[0] == 'a' ? &sm->allowed_k
						: &sm->disallowed_k,
				 (uint16_t)k);
	}
	if ((end = strchr(arg, ' '))) {
		*end = '\0';
		rest = end + 1;
	}
	if (!unescape(rest)) {
		*why = "bad escape";
		return TERN_EPARSE;
	}
	if (!strcmp(word, "blockip")) {
		if (!ip_key(arg, key)) {
			*why = "bad IP address";
			return TERN_EPARSE;
		}
		return list_put(&sm->blocked_ip, key, rest);
	}
	if (strlen(arg) != 64 || !tern_hex_decode(key, arg, 32)) {
		*why = "bad hex key";
		return TERN_EPARSE;
	}
	if (!strcmp(word, "banpubkey"))
		return list_put(&sm->banned_pk, key, rest);
	if (!strcmp(word, "allowpubkey"))
		return list_put(&sm->allowed_pk, key, rest);
	if (!strcmp(word, "banevent"))
		return list_put(&sm->banned_ev, key, rest);
	*why = "unknown item";
	return TERN_EPARSE;
}

static int load(serve_manage *sm, char *err, size_t errcap)
{
	FILE *f = fopen(sm->path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errcap, "%s: %s", sm->path, strerror(errno));
		return rc;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *why = "out of memory";

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		rc = load_line(sm, line, &why);
		if (rc) {
			snprintf(err, errcap, "%s:%u: %s", sm->path, lineno,
				 why);
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- methods ---------------------------------------------------------------- */

/* One change of the state, made with the write lock held. */
typedef int (*apply_fn)(serve_manage *sm, const tern_manage_call *call,
			void *arg);

/* Runs apply under the locks, then saves the file. */
static int change(serve_manage *sm, tern_manage_result *res, apply_fn apply,
		  const tern_manage_call *call, void *arg)
{
	int rc;

	pthread_mutex_lock(&sm->save_mu);
	pthread_rwlock_wrlock(&sm->lock);
	rc = apply(sm, call, arg);
	pthread_rwlock_unlock(&sm->lock);
	if (rc == 0 && (rc = save(sm)))
		tern_manage_result_error(res, "applied but not saved: %s",
					 tern_strerror(rc));
	pthread_mutex_unlock(&sm->save_mu);
	return rc;
}

/* arg: the list to remove call->key from. */
static int del_key(serve_manage *sm, const tern_manage_call *call, void *arg)
{
	(void)sm;
	list_del(arg, call->key);
	return 0;
}

static int check_reason(const tern_manage_call *call, tern_manage_result *res)
{
	if (strlen(call->reason) > REASON_MAX_LEN)
		return tern_manage_result_error(res, "the reason is longer "
						"than %d bytes",
						REASON_MAX_LEN);
	return 0;
}

static int ban_pk_locked(serve_manage *sm, const tern_manage_call *call,
			 void *arg)
{
	(void)arg;
	list_del(&sm->allowed_pk, call->key);
	return list_put(&sm->banned_pk, call->key, call->reason);
}

static int allow_pk_locked(serve_manage *sm, const tern_manage_call *call,
			   void *arg)
{
	(void)arg;
	list_del(&sm->banned_pk, call->key);
	return list_put(&sm->allowed_pk, call->key, call->reason);
}

static int m_banpubkey(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	serve_manage *sm = ud;

	if (check_reason(call, res))
		return TERN_EINVAL;
	return change(sm, res, ban_pk_locked, call, NULL);
}

static int m_unbanpubkey(void *ud, const tern_manage_call *call,
			 tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, del_key, call, &sm->banned_pk);
}

static int m_allowpubkey(void *ud, const tern_manage_call *call,
			 tern_manage_result *res)
{
	serve_manage *sm = ud;

	if (check_reason(call, res))
		return TERN_EINVAL;
	return change(sm, res, allow_pk_locked, call, NULL);
}

static int m_unallowpubkey(void *ud, const tern_manage_call *call,
			   tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, del_key, call, &sm->allowed_pk);
}

static int list_out(serve_manage *sm, const list *l, bool ip,
		    tern_manage_result *res)
{
	char key[INET6_ADDRSTRLEN];
	int rc = 0;

	pthread_rwlock_rdlock(&sm->lock);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		if (ip) {
			ip_text(l->v[i].key, key, sizeof key);
			rc = tern_manage_result_add(res, key, l->v[i].reason);
		} else {
			rc = tern_manage_result_add_key(res, l->v[i].key,
							l->v[i].reason);
		}
	}
	pthread_rwlock_unlock(&sm->lock);
	return rc;
}

static int m_listbannedpubkeys(void *ud, const tern_manage_call *call,
			       tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->banned_pk, false, res);
}

static int m_listallowedpubkeys(void *ud, const tern_manage_call *call,
				tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->allowed_pk, false, res);
}

static int m_listbannedevents(void *ud, const tern_manage_call *call,
			      tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->banned_ev, false, res);
}

/* Nothing is held for moderation: every event is accepted or refused
 * when it arrives. */
static int m_listeventsneedingmoderation(void *ud, const tern_manage_call *call,
					 tern_manage_result *res)
{
	(void)ud;
	(void)call;
	(void)res;
	return 0;
}

/* arg: the list to add call->key to, with call->reason. */
static int put_key(serve_manage *sm, const tern_manage_call *call, void *arg)
{
	(void)sm;
	return list_put(arg, call->key, call->reason);
}

static int m_banevent(void *ud, const tern_manage_call *call,
		      tern_manage_result *res)
{
	serve_manage *sm = ud;
	tern_store *st;
	tern_filter f;
	uint64_t removed = 0;
	int rc;

	if (check_reason(call, res))
		return TERN_EINVAL;
	rc = change(sm, res, put_key, call, &sm->banned_ev);
	if (rc)
		return rc;
	/* Banned from now on; then removed if it was stored. */
	st = tern_relay_store(sm->relay);
	if (!st)
		return tern_manage_result_error(res, "banned, but the store "
						"is not open to remove it");
	memset(&f, 0, sizeof f);
	f.ids = (const uint8_t (*)[32])call->key;
	f.nids = 1;
	f.until = UINT64_MAX;
	rc = tern_store_delete(st, &f, 1, false, &removed);
	if (rc)
		return tern_manage_result_error(res, "banned, but not removed "
						"from the store: %s",
						tern_strerror(rc));
	if (removed)
		tern_log(TERN_LOG_INFO, "manage", "banned event removed from "
			 "the store");
	return 0;
}

static int m_unbanevent(void *ud, const tern_manage_call *call,
			tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, del_key, call, &sm->banned_ev);
}

/* arg: the string to replace with call->text. */
static int set_text(serve_manage *sm, const tern_manage_call *call, void *arg)
{
	char **dst = arg, *s = strdup(call->text);

	(void)sm;
	if (!s)
		return TERN_ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int change_text(serve_manage *sm, char **dst, size_t max,
		       const tern_manage_call *call, tern_manage_result *res)
{
	if (strlen(call->text) > max)
		return tern_manage_result_error(res, "longer than %zu bytes",
						max);
	return change(sm, res, set_text, call, dst);
}

static int m_changerelayname(void *ud, const tern_manage_call *call,
			     tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change_text(sm, &sm->name, NAME_MAX_LEN, call, res);
}

static int m_changerelaydescription(void *ud, const tern_manage_call *call,
				    tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change_text(sm, &sm->description, DESCRIPTION_MAX_LEN, call,
			   res);
}

static int m_changerelayicon(void *ud, const tern_manage_call *call,
			     tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change_text(sm, &sm->icon, ICON_MAX_LEN, call, res);
}

static int allow_kind_locked(serve_manage *sm, const tern_manage_call *call,
			     void *arg)
{
	(void)arg;
	kinds_del(&sm->disallowed_k, (uint16_t)call->kind);
	return kinds_put(&sm->allowed_k, (uint16_t)call->kind);
}

static int disallow_kind_locked(serve_manage *sm,
				const tern_manage_call *call, void *arg)
{
	(void)arg;
	kinds_del(&sm->allowed_k, (uint16_t)call->kind);
	return kinds_put(&sm->disallowed_k, (uint16_t)call->kind);
}

static int m_allowkind(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, allow_kind_locked, call, NULL);
}

static int m_disallowkind(void *ud, const tern_manage_call *call,
			  tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, disallow_kind_locked, call, NULL);
}

static int kinds_out(serve_manage *sm, const kinds *k,
		     tern_manage_result *res)
{
	int rc = 0;

	pthread_rwlock_rdlock(&sm->lock);
	for (size_t i = 0; i < k->n && rc == 0; i++)
		rc = tern_manage_result_add_kind(res, k->v[i]);
	pthread_rwlock_unlock(&sm->lock);
	return rc;
}

static int m_listallowedkinds(void *ud, const tern_manage_call *call,
			      tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return kinds_out(sm, &sm->allowed_k, res);
}

static int m_listdisallowedkinds(void *ud, const tern_manage_call *call,
				 tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return kinds_out(sm, &sm->disallowed_k, res);
}

/* arg: the 32-byte IP key. */
static int block_ip_locked(serve_manage *sm, const tern_manage_call *call,
			   void *arg)
{
	return list_put(&sm->blocked_ip, arg, call->reason);
}

static int unblock_ip_locked(serve_manage *sm, const tern_manage_call *call,
			     void *arg)
{
	(void)call;
	list_del(&sm->blocked_ip, arg);
	return 0;
}

static int m_blockip(void *ud, const tern_manage_call *call,
		     tern_manage_result *res)
{
	serve_manage *sm = ud;
	uint8_t key[32];

	if (check_reason(call, res))
		return TERN_EINVAL;
	if (!ip_key(call->text, key))
		return tern_manage_result_error(res, "bad IP address");
	return change(sm, res, block_ip_locked, call, key);
}

static int m_unblockip(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	serve_manage *sm = ud;
	uint8_t key[32];

	if (!ip_key(call->text, key))
		return tern_manage_result_error(res, "bad IP address");
	return change(sm, res, unblock_ip_locked, call, key);
}

static int m_listblockedips(void *ud, const tern_manage_call *call,
			    tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->blocked_ip, true, res);
}

static const tern_manage_ops ops = {
	.ban_pubkey = m_banpubkey,
	.unban_pubkey = m_unbanpubkey,
	.list_banned_pubkeys = m_listbannedpubkeys,
	.allow_pubkey = m_allowpubkey,
	.unallow_pubkey = m_unallowpubkey,
	.list_allowed_pubkeys = m_listallowedpubkeys,
	.list_events_needing_moderation = m_listeventsneedingmoderation,
	/* allowevent lifts a ban: there is no moderation queue */
	.allow_event = m_unbanevent,
	.ban_event = m_banevent,
	.unban_event = m_unbanevent,
	.list_banned_events = m_listbannedevents,
	.change_relay_name = m_changerelayname,
	.change_relay_description = m_changerelaydescription,
	.change_relay_icon = m_changerelayicon,
	.allow_kind = m_allowkind,
	.disallow_kind = m_disallowkind,
	.list_allowed_kinds = m_listallowedkinds,
	.list_disallowed_kinds = m_listdisallowedkinds,
	.block_ip = m_blockip,
	.unblock_ip = m_unblockip,
	.list_blocked_ips = m_listblockedips,
};

/* ---- hooks --------------------------------------------------------------------- */

static tern_verdict only_admins(void *ud, const tern_manage_call *call,
				tern_reason *why)
{
	serve_manage *sm = ud;

	for (size_t i = 0; i < sm->nadmins; i++)
		if (memcmp(sm->admins[i], call->caller, 32) == 0)
			return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_RESTRICTED,
			"not an admin of this relay");
	return TERN_REJECT;
}

static tern_verdict check_event(void *ud, tern_ctx *x, const tern_event *ev,
				tern_reason *why)
{
	serve_manage *sm = ud;
	tern_verdict v = TERN_PASS;
	size_t pos;

	(void)x;
	pthread_rwlock_rdlock(&sm->lock);
	if (list_find(&sm->banned_pk, ev->pubkey, &pos)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "pubkey is banned");
		v = TERN_REJECT;
	} else if (sm->allowed_pk.n &&
		   !list_find(&sm->allowed_pk, ev->pubkey, &pos)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED,
				"pubkey is not allowed here");
		v = TERN_REJECT;
	} else if (list_find(&sm->banned_ev, ev->id, &pos)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "event is banned");
		v = TERN_REJECT;
	} else if (kinds_has(&sm->disallowed_k, ev->kind) ||
		   (sm->allowed_k.n && !kinds_has(&sm->allowed_k, ev->kind))) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED,
				"kind %u is not allowed here",
				(unsigned)ev->kind);
		v = TERN_REJECT;
	}
	pthread_rwlock_unlock(&sm->lock);
	return v;
}

static tern_verdict check_ip(void *ud, tern_ctx *x, tern_reason *why)
{
	serve_manage *sm = ud;
	tern_conn *c = tern_ctx_conn(x);
	uint8_t key[32];
	size_t pos;
	bool blocked;

	if (!c || !ip_key(tern_conn_ip(c), key))
		return TERN_PASS;
	pthread_rwlock_rdlock(&sm->lock);
	blocked = list_find(&sm->blocked_ip, key, &pos);
	pthread_rwlock_unlock(&sm->lock);
	if (!blocked)
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "your address is blocked");
	return TERN_REJECT;
}

/* NIP-11 overrides: copied into buffers of the I/O thread, which writes
 * the document right after this hook. */
static __thread char tl_name[NAME_MAX_LEN + 1];
static __thread char tl_description[DESCRIPTION_MAX_LEN + 1];
static __thread char tl_icon[ICON_MAX_LEN + 1];

static void relay_info(void *ud, tern_ctx *x, tern_relay_info *info)
{
	serve_manage *sm = ud;

	(void)x;
	pthread_rwlock_rdlock(&sm->lock);
	if (sm->name) {
		snprintf(tl_name, sizeof tl_name, "%s", sm->name);
		info->name = tl_name;
	}
	if (sm->description) {
		snprintf(tl_description, sizeof tl_description, "%s",
			 sm->description);
		info->description = tl_description;
	}
	if (sm->icon) {
		snprintf(tl_icon, sizeof tl_icon, "%s", sm->icon);
		info->icon = tl_icon;
	}
	pthread_rwlock_unlock(&sm->lock);
}

/* ---- lifecycle ------------------------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

void serve_manage_free(serve_manage *sm)
{
	if (!sm)
		return;
	tern_manage_free(sm->api);
	list_free(&sm->banned_pk);
	list_free(&sm->allowed_pk);
	list_free(&sm->banned_ev);
	list_free(&sm->blocked_ip);
	free(sm->allowed_k.v);
	free(sm->disallowed_k.v);
	free(sm->name);
	free(sm->description);
	free(sm->icon);
	free(sm->admins);
	free(sm->path);
	free(sm->tmp_path);
	free(sm->dir);
	pthread_rwlock_destroy(&sm->lock);
	pthread_mutex_destroy(&sm->save_mu);
	free(sm);
}

int serve_manage_start(serve_manage **out, tern_relay *r,
		       const tern_config *cfg, char *err, size_t errcap)
{
	const tern_config_management *mc = &cfg->management;
	serve_manage *sm;
	int rc;

	*out = NULL;
	if (!mc->nadmins)
		return 0;
	sm = calloc(1, sizeof *sm);
	if (!sm)
		goto nomem;
	sm->relay = r;
	pthread_mutex_init(&sm->save_mu, NULL);
	pthread_rwlock_init(&sm->lock, NULL);
	sm->admins = malloc(mc->nadmins * sizeof *sm->admins);
	sm->dir = strdup(cfg->store.dir);
	sm->path = join(cfg->store.dir, STATE_FILE);
	sm->tmp_path = join(cfg->store.dir, STATE_FILE ".tmp");
	if (!sm->admins || !sm->dir || !sm->path || !sm->tmp_path) {
		serve_manage_free(sm);
		goto nomem;
	}
	memcpy(sm->admins, mc->admins, mc->nadmins * sizeof *sm->admins);
	sm->nadmins = mc->nadmins;
	if (mkdir(sm->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errcap, "management: %s: %s", sm->dir,
			 strerror(errno));
		serve_manage_free(sm);
		return rc;
	}
	rc = load(sm, err, errcap);
	if (rc) {
		serve_manage_free(sm);
		return rc;
	}
	rc = tern_manage_new(&sm->api, &ops, sm);
	if (!rc)
		rc = tern_manage_on_reject_api_call(sm->api, owner,
						    only_admins, sm);
	if (!rc)
		rc = tern_on_reject_connection(r, owner, check_ip, sm);
	if (!rc)
		rc = tern_on_reject_event(r, owner, check_event, sm);
	if (!rc)
		rc = tern_on_overwrite_relay_information(r, owner, relay_info,
							 sm);
	if (!rc)
		rc = tern_relay_set_manage(r, sm->api);
	if (rc) {
		snprintf(err, errcap, "management: %s", tern_strerror(rc));
		tern_hooks_remove_owner(r, owner);
		tern_relay_set_manage(r, NULL);
		serve_manage_free(sm);
		return rc;
	}
	tern_log(TERN_LOG_INFO, "manage", "NIP-86 management API on for %zu "
		 "admin%s; state in %s", sm->nadmins,
		 sm->nadmins == 1 ? "" : "s", sm->path);
	*out = sm;
	return 0;
nomem:
	snprintf(err, errcap, "management: out of memory");
	return TERN_ENOMEM;
}
