/*
 * The state of tern serve's NIP-86 management API (manage_state.h): the
 * sorted lists and kind sets, IP keys, and the state file's text (render,
 * load) and atomic write.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/hex.h>

#include "cli_common.h"
#include "manage_state.h"

/* ---- sorted lists -------------------------------------------------------- */

/* True when key is listed, at *pos; else *pos is where it would go. */
static bool list_find(const manage_state_list *l, const uint8_t key[32],
		      size_t *pos)
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

bool manage_state_list_has(const manage_state_list *l, const uint8_t key[32])
{
	size_t pos;

	return list_find(l, key, &pos);
}

int manage_state_list_put(manage_state_list *l, const uint8_t key[32],
			  const char *reason)
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
		manage_state_entry *v = realloc(l->v, cap * sizeof *v);

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

void manage_state_list_del(manage_state_list *l, const uint8_t key[32])
{
	size_t pos;

	if (!list_find(l, key, &pos))
		return;
	free(l->v[pos].reason);
	memmove(l->v + pos, l->v + pos + 1, (l->n - pos - 1) * sizeof *l->v);
	l->n--;
}

static void list_free(manage_state_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].reason);
	free(l->v);
}

/* ---- sorted kinds -------------------------------------------------------- */

/* True when kind is in k, at *pos; else *pos is where it would go. */
static bool kinds_find(const manage_state_kinds *k, uint32_t kind, size_t *pos)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid] == kind) {
			*pos = mid;
			return true;
		}
		if (k->v[mid] < kind)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

bool manage_state_kinds_has(const manage_state_kinds *k, uint32_t kind)
{
	size_t pos;

	return kinds_find(k, kind, &pos);
}

int manage_state_kinds_put(manage_state_kinds *k, uint16_t kind)
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

void manage_state_kinds_del(manage_state_kinds *k, uint16_t kind)
{
	size_t pos;

	if (!kinds_find(k, kind, &pos))
		return;
	memmove(k->v + pos, k->v + pos + 1, (k->n - pos - 1) * sizeof *k->v);
	k->n--;
}

void manage_state_free(manage_state *s)
{
	list_free(&s->banned_pk);
	list_free(&s->allowed_pk);
	list_free(&s->banned_ev);
	list_free(&s->blocked_ip);
	free(s->allowed_k.v);
	free(s->disallowed_k.v);
	free(s->name);
	free(s->description);
	free(s->icon);
	memset(s, 0, sizeof *s);
}

/* ---- IP keys ------------------------------------------------------------- */

bool manage_state_ip_key(const char *text, uint8_t key[32])
{
	memset(key + 16, 0, 16);
	return cli_ip16(text, key);
}

void manage_state_ip_text(const uint8_t key[32], char *out, size_t cap)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };

	if (memcmp(key, mapped, 12) == 0)
		inet_ntop(AF_INET, key + 12, out, (socklen_t)cap);
	else
		inet_ntop(AF_INET6, key, out, (socklen_t)cap);
}

/* ---- rendering ----------------------------------------------------------- */

typedef struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
} strbuf;

static void tput(strbuf *t, const char *s, size_t n)
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

static void tputs(strbuf *t, const char *s)
{
	tput(t, s, strlen(s));
}

static void tput_escaped(strbuf *t, const char *s)
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

/* "<word> <text>\n" when s is set. */
static void put_text(strbuf *t, const char *word, const char *s)
{
	if (!s)
		return;
	tputs(t, word);
	tputs(t, " ");
	tput_escaped(t, s);
	tputs(t, "\n");
}

static void put_list(strbuf *t, const char *word, const manage_state_list *l,
		     bool ip)
{
	char key[INET6_ADDRSTRLEN > 65 ? INET6_ADDRSTRLEN : 65];

	for (size_t i = 0; i < l->n; i++) {
		if (ip) {
			manage_state_ip_text(l->v[i].key, key, sizeof key);
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

static void put_kinds(strbuf *t, const char *word, const manage_state_kinds *k)
{
	char num[32];

	for (size_t i = 0; i < k->n; i++) {
		snprintf(num, sizeof num, "%s %u\n", word, k->v[i]);
		tputs(t, num);
	}
}

int manage_state_render(const manage_state *s, char **out, size_t *len)
{
	strbuf t = { 0 };

	tputs(&t, "# tern management state (NIP-86), rewritten by tern serve\n"
		  "version 1\n");
	put_text(&t, "name", s->name);
	put_text(&t, "description", s->description);
	put_text(&t, "icon", s->icon);
	put_list(&t, "banpubkey", &s->banned_pk, false);
	put_list(&t, "allowpubkey", &s->allowed_pk, false);
	put_list(&t, "banevent", &s->banned_ev, false);
	put_list(&t, "blockip", &s->blocked_ip, true);
	put_kinds(&t, "allowkind", &s->allowed_k);
	put_kinds(&t, "disallowkind", &s->disallowed_k);
	if (t.oom) {
		free(t.p);
		return TERN_ENOMEM;
	}
	*out = t.p;
	*len = t.len;
	return 0;
}

/* ---- writing ------------------------------------------------------------- */

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

int manage_state_write(const char *path, const char *tmp_path,
		       const char *dir, const char *text, size_t len)
{
	int fd, rc;

	fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, len);
	if (rc == 0 && fsync(fd))
		rc = -errno;
	if (close(fd) && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp_path, path))
		rc = -errno;
	if (rc) {
		unlink(tmp_path);
		return rc;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

/* Applies one line of the state file. */
static int load_line(manage_state *s, char *line, const char **why)
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
		char **dst = word[0] == 'n' ? &s->name
			     : word[0] == 'd' ? &s->description : &s->icon;

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
		return manage_state_kinds_put(word[0] == 'a' ? &s->allowed_k
							     : &s->disallowed_k,
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
		if (!manage_state_ip_key(arg, key)) {
			*why = "bad IP address";
			return TERN_EPARSE;
		}
		return manage_state_list_put(&s->blocked_ip, key, rest);
	}
	if (strlen(arg) != 64 || !tern_hex_decode(key, arg, 32)) {
		*why = "bad hex key";
		return TERN_EPARSE;
	}
	if (!strcmp(word, "banpubkey"))
		return manage_state_list_put(&s->banned_pk, key, rest);
	if (!strcmp(word, "allowpubkey"))
		return manage_state_list_put(&s->allowed_pk, key, rest);
	if (!strcmp(word, "banevent"))
		return manage_state_list_put(&s->banned_ev, key, rest);
	*why = "unknown item";
	return TERN_EPARSE;
}

int manage_state_load(manage_state *s, const char *path, char *err,
		      size_t errcap)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return rc;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *why = "out of memory";

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		rc = load_line(s, line, &why);
		if (rc) {
			snprintf(err, errcap, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}
