/*
 * NIP-01 filters (include/tern/filter.h): strict parsing, matching and
 * compact formatting.
 *
 * The parser walks the input once with the shared JSON scanner and refuses
 * the first problem it meets with a message meant for a client (it ends up
 * in CLOSED). Lists are collected into arena arrays, then sorted and
 * de-duplicated, so that tern_filter_match() is a handful of binary searches
 * and never allocates: it runs for every live subscription candidate of
 * every new event.
 */
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/filter.h>
#include <tern/hex.h>

#include "nostr/filter_internal.h"
#include "proto/json.h"

/* Bits of the fields seen so far, to refuse duplicates. */
enum {
	F_IDS = 1u << 0,
	F_AUTHORS = 1u << 1,
	F_KINDS = 1u << 2,
	F_SINCE = 1u << 3,
	F_UNTIL = 1u << 4,
	F_LIMIT = 1u << 5,
	F_SEARCH = 1u << 6,
};

/* Per-call parsing state. */
typedef struct fparse {
	tern__json *j;
	const tern_filter_limits *lim;
	tern_arena *a;
	tern_reason *why;
} fparse;

void tern_filter_limits_defaults(tern_filter_limits *l)
{
	l->max_values = 1000;
	l->max_tags = 26;
	l->max_json = 131072;
	l->max_depth = 8;
}

/* ---- growable arena vectors -------------------------------------------- */

/*
 * Lists are collected before their length is known. Capacity doubles by
 * copying into a fresh arena block; the old block is simply abandoned until
 * the arena is reset, which bounds the waste at the final size.
 */
typedef struct vec {
	void *p;
	uint32_t n, cap;
	size_t elem;
} vec;

static void *vec_push(vec *v, tern_arena *a)
{
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 8;
		void *np;

		if (v->cap > UINT32_MAX / 2)
			return NULL;
		np = tern_arena_alloc(a, (size_t)cap * v->elem);
		if (!np)
			return NULL;
		if (v->n)
			memcpy(np, v->p, (size_t)v->n * v->elem);
		v->p = np;
		v->cap = cap;
	}
	return (char *)v->p + (size_t)v->n++ * v->elem;
}

/* ---- ordering ---------------------------------------------------------- */

static int cmp_b32(const void *x, const void *y)
{
	return memcmp(x, y, 32);
}

static int cmp_u16(const void *x, const void *y)
{
	uint16_t a = *(const uint16_t *)x, b = *(const uint16_t *)y;

	return (a > b) - (a < b);
}

/* memcmp order over byte strings: a proper prefix sorts first. */
static int slice_cmp(const tern_slice *a, const tern_slice *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = n ? memcmp(a->p, b->p, n) : 0;

	if (c)
		return c;
	return (a->n > b->n) - (a->n < b->n);
}

static int cmp_slice(const void *x, const void *y)
{
	return slice_cmp(x, y);
}

static int cmp_tagf(const void *x, const void *y)
{
	const tern_tag_filter *a = x, *b = y;

	return (a->name > b->name) - (a->name < b->name);
}

/* Sorts v and drops equal neighbours; returns the new count. */
static uint32_t sort_unique(void *base, uint32_t n, size_t elem,
			    int (*cmp)(const void *, const void *))
{
	char *b = base;
	uint32_t out = 0;

	if (n < 2)
		return n;
	qsort(base, n, elem, cmp);
	for (uint32_t i = 1; i < n; i++) {
		if (cmp(b + (size_t)out * elem, b + (size_t)i * elem) == 0)
			continue;
		out++;
		if (out != i)
			memcpy(b + (size_t)out * elem, b + (size_t)i * elem, elem);
	}
	return out + 1;
}

/* ---- errors ------------------------------------------------------------ */

static int fail_nomem(fparse *fp)
{
	tern_reason_set(fp->why, TERN_PREFIX_ERROR, "filter needs too much memory");
	fp->j->err = TERN_ENOMEM;
	return TERN_ENOMEM;
}

/*
 * Replaces the scanner's generic reason with the field's own message when a
 * value had the wrong shape (a fraction where an integer belongs, ...). Only
 * TERN_EPARSE is rewritten: limits and memory keep their reasons.
 */
static int fail_field(fparse *fp, int err, const char *fmt, const char *field)
{
	if (err != TERN_EPARSE && err != 0)
		return err;
	tern_reason_set(fp->why, TERN_PREFIX_INVALID, fmt, field);
	fp->j->err = TERN_EPARSE;
	return TERN_EPARSE;
}

/*
 * Copies a field name into a message-safe form: control bytes become '?',
 * and a long name is cut at a UTF-8 boundary (the scanner has validated the
 * UTF-8) so the reason stays valid text.
 */
static void printable_name(char *out, size_t cap, tern_slice k)
{
	size_t n = 0, i;

	for (i = 0; i < k.n && n + 4 < cap; i++) {
		uint8_t c = k.p[i];

		if (n >= 48 && (c & 0xc0) != 0x80) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		out[n++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	out[n] = '\0';
}

/* ---- values ------------------------------------------------------------ */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int parse_uint(fparse *fp, const char *field, uint64_t *out)
{
	int rc;

	if (!is_digit(tern__json_peek(fp->j)))
		return fail_field(fp, 0, "\"%s\" must be a non-negative integer", field);
	rc = tern__json_uint64(fp->j, out);
	if (rc)
		return fail_field(fp, rc, "\"%s\" must be a non-negative integer", field);
	return 0;
}

/*
 * Opens a list value: it must be an array and must not be empty. Returns 0
 * with the '[' consumed, or an error.
 */
static int list_begin(fparse *fp, const char *field, const char *type_msg)
{
	int rc;

	if (tern__json_peek(fp->j) != '[')
		return fail_field(fp, 0, type_msg, field);
	rc = tern__json_arr_begin(fp->j);
	if (rc)
		return rc;
	if (tern__json_peek(fp->j) == ']')
		return fail_field(fp, 0, "\"%s\" must not be empty", field);
	return 0;
}

static int too_many(fparse *fp, const char *field)
{
	tern_reason_set(fp->why, TERN_PREFIX_INVALID,
			"too many values in \"%s\" (max %u)", field,
			fp->lim->max_values);
	fp->j->err = TERN_ETOOBIG;
	return TERN_ETOOBIG;
}

/* Reads one string that must be 64 lowercase hex characters; on success
 * *s holds it and, if bin is not NULL, its 32 decoded bytes. */
static int hex64(fparse *fp, const char *field, tern_slice *s, uint8_t *bin)
{
	static const char msg[] = "\"%s\" must contain 64-character lowercase hex strings";
	uint8_t tmp[32];
	int rc;

	if (tern__json_peek(fp->j) != '"')
		return fail_field(fp, 0, msg, field);
	rc = tern__json_string(fp->j, fp->a, s, NULL);
	if (rc)
		return rc;
	if (s->n != 64 || !tern_hex_decode(bin ? bin : tmp, (const char *)s->p, 32))
		return fail_field(fp, 0, msg, field);
	return 0;
}

/* "ids" / "authors": arrays of 32-byte values given as hex. */
static int parse_b32_list(fparse *fp, const char *field,
			  const uint8_t (**out)[32], uint32_t *nout)
{
	vec v = { .elem = 32 };
	tern_slice s;
	int rc;

	rc = list_begin(fp, field, "\"%s\" must be an array of 64-character lowercase hex strings");
	if (rc)
		return rc;
	while ((rc = tern__json_arr_next(fp->j)) == 1) {
		uint8_t *slot;

		if (v.n == fp->lim->max_values)
			return too_many(fp, field);
		slot = vec_push(&v, fp->a);
		if (!slot)
			return fail_nomem(fp);
		rc = hex64(fp, field, &s, slot);
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	*nout = sort_unique(v.p, v.n, 32, cmp_b32);
	*out = (const uint8_t(*)[32])v.p;
	return 0;
}

static int parse_kinds(fparse *fp, tern_filter *f)
{
	static const char msg[] = "\"%s\" must be an array of integers 0-65535";
	vec v = { .elem = sizeof(uint16_t) };
	uint64_t k;
	int rc;

	rc = list_begin(fp, "kinds", msg);
	if (rc)
		return rc;
	while ((rc = tern__json_arr_next(fp->j)) == 1) {
		uint16_t *slot;

		if (v.n == fp->lim->max_values)
			return too_many(fp, "kinds");
		if (!is_digit(tern__json_peek(fp->j)))
			return fail_field(fp, 0, msg, "kinds");
		rc = tern__json_uint64(fp->j, &k);
		if (rc)
			return fail_field(fp, rc, msg, "kinds");
		if (k > 65535)
			return fail_field(fp, 0, msg, "kinds");
		slot = vec_push(&v, fp->a);
		if (!slot)
			return fail_nomem(fp);
		*slot = (uint16_t)k;
	}
	if (rc < 0)
		return rc;
	f->nkinds = sort_unique(v.p, v.n, sizeof(uint16_t), cmp_u16);
	f->kinds = v.p;
	return 0;
}

/* "#x": strings; for "#e" and "#p" they must be 64 lowercase hex. */
static int parse_tag_values(fparse *fp, char name, tern_tag_filter *tf)
{
	static const char msg[] = "\"%s\" must be an array of strings";
	char field[3] = { '#', name, '\0' };
	bool hex = name == 'e' || name == 'p';
	vec v = { .elem = sizeof(tern_slice) };
	int rc;

	rc = list_begin(fp, field, msg);
	if (rc)
		return rc;
	while ((rc = tern__json_arr_next(fp->j)) == 1) {
		tern_slice *slot;

		if (v.n == fp->lim->max_values)
			return too_many(fp, field);
		slot = vec_push(&v, fp->a);
		if (!slot)
			return fail_nomem(fp);
		if (hex) {
			rc = hex64(fp, field, slot, NULL);
		} else {
			if (tern__json_peek(fp->j) != '"')
				return fail_field(fp, 0, msg, field);
			rc = tern__json_string(fp->j, fp->a, slot, NULL);
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	tf->name = name;
	tf->nvalues = sort_unique(v.p, v.n, sizeof(tern_slice), cmp_slice);
	tf->values = v.p;
	return 0;
}

static bool key_is(tern_slice k, const char *s)
{
	size_t n = strlen(s);

	return k.n == n && memcmp(k.p, s, n) == 0;
}

static int dup_field(fparse *fp, tern_slice k)
{
	char name[64];

	printable_name(name, sizeof name, k);
	return fail_field(fp, 0, "duplicate field \"%s\"", name);
}

/* Bit of a tag letter in the seen-mask: a-z then A-Z. */
static uint64_t tag_bit(char c)
{
	return c >= 'a' ? 1ull << (c - 'a') : 1ull << (26 + c - 'A');
}

/* Parses one filter object at the scanner's cursor (which must be '{'). */
static int parse_object(fparse *fp, tern_filter *f)
{
	tern__json *j = fp->j;
	vec tags = { .elem = sizeof(tern_tag_filter) };
	uint64_t tagseen = 0, v;
	unsigned seen = 0;
	tern_slice k;
	int rc;

	memset(f, 0, sizeof(*f));
	f->until = UINT64_MAX;
	if (tern__json_peek(j) != '{')
		return fail_field(fp, 0, "%s", "filter must be a JSON object");
	rc = tern__json_obj_begin(j);
	if (rc)
		return rc;
	while ((rc = tern__json_obj_next(j, fp->a, &k)) == 1) {
		unsigned bit = 0;

		if (k.n == 2 && k.p[0] == '#' &&
		    ((k.p[1] >= 'a' && k.p[1] <= 'z') ||
		     (k.p[1] >= 'A' && k.p[1] <= 'Z'))) {
			char name = (char)k.p[1];
			tern_tag_filter *tf;

			if (tagseen & tag_bit(name))
				return dup_field(fp, k);
			tagseen |= tag_bit(name);
			if (tags.n == fp->lim->max_tags) {
				tern_reason_set(fp->why, TERN_PREFIX_INVALID,
						"too many tag fields (max %u)",
						fp->lim->max_tags);
				j->err = TERN_ETOOBIG;
				return TERN_ETOOBIG;
			}
			tf = vec_push(&tags, fp->a);
			if (!tf)
				return fail_nomem(fp);
			rc = parse_tag_values(fp, name, tf);
			if (rc)
				return rc;
			continue;
		}

		if (key_is(k, "ids"))
			bit = F_IDS;
		else if (key_is(k, "authors"))
			bit = F_AUTHORS;
		else if (key_is(k, "kinds"))
			bit = F_KINDS;
		else if (key_is(k, "since"))
			bit = F_SINCE;
		else if (key_is(k, "until"))
			bit = F_UNTIL;
		else if (key_is(k, "limit"))
			bit = F_LIMIT;
		else if (key_is(k, "search"))
			bit = F_SEARCH;
		if (!bit) {
			char name[64];

			printable_name(name, sizeof name, k);
			tern_reason_set(fp->why, TERN_PREFIX_UNSUPPORTED,
					"filter contains unknown field \"%s\"", name);
			j->err = TERN_EPARSE;
			return TERN_EPARSE;
		}
		if (seen & bit)
			return dup_field(fp, k);
		seen |= bit;

		switch (bit) {
		case F_IDS:
			rc = parse_b32_list(fp, "ids", &f->ids, &f->nids);
			break;
		case F_AUTHORS:
			rc = parse_b32_list(fp, "authors", &f->authors, &f->nauthors);
			break;
		case F_KINDS:
			rc = parse_kinds(fp, f);
			break;
		case F_SINCE:
			rc = parse_uint(fp, "since", &f->since);
			break;
		case F_UNTIL:
			rc = parse_uint(fp, "until", &f->until);
			break;
		case F_LIMIT:
			rc = parse_uint(fp, "limit", &v);
			/* A client asking for more than 2^32-1 events is asking
			 * for "all of them": clamp rather than refuse. */
			f->limit = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			f->has_limit = true;
			break;
		case F_SEARCH:
			if (tern__json_peek(j) != '"')
				return fail_field(fp, 0, "\"%s\" must be a string", "search");
			rc = tern__json_string(j, fp->a, &f->search, NULL);
			f->has_search = true;
			break;
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	f->ntags = sort_unique(tags.p, tags.n, sizeof(tern_tag_filter), cmp_tagf);
	f->tags = tags.p;
	return 0;
}

static int too_large(fparse *fp)
{
	tern_reason_set(fp->why, TERN_PREFIX_INVALID,
			"filter is too large (max %zu bytes)", fp->lim->max_json);
	if (fp->j)
		fp->j->err = TERN_ETOOBIG;
	return TERN_ETOOBIG;
}

int tern_filter_parse(tern_filter *f, const uint8_t *buf, size_t len,
		      const tern_filter_limits *lim, tern_arena *a,
		      tern_reason *why)
{
	tern_filter_limits defs;
	tern__json j;
	fparse fp = { .lim = lim, .a = a, .why = why };
	int rc;

	if (!lim) {
		tern_filter_limits_defaults(&defs);
		fp.lim = &defs;
	}
	if (len > fp.lim->max_json)
		return too_large(&fp);
	tern__json_init(&j, buf, len, fp.lim->max_depth, why);
	fp.j = &j;
	rc = parse_object(&fp, f);
	if (rc)
		return rc;
	return tern__json_finish(&j);
}

int tern__filter_parse_json(tern__json *j, tern_filter *f,
			    const tern_filter_limits *lim, tern_arena *a,
			    tern_reason *why)
{
	tern_filter_limits defs;
	fparse fp = { .j = j, .lim = lim, .a = a, .why = why };
	uint32_t outer = j->max_depth;
	const uint8_t *start;
	int rc;

	if (!lim) {
		tern_filter_limits_defaults(&defs);
		fp.lim = &defs;
	}
	/* The filter's own depth limit is relative to where it starts, so a
	 * filter nested in a message gets the same room as a standalone one. */
	if (fp.lim->max_depth < outer - j->depth)
		j->max_depth = j->depth + fp.lim->max_depth;
	tern__json_peek(j);
	start = j->p;
	rc = parse_object(&fp, f);
	j->max_depth = outer;
	if (rc)
		return rc;
	/* Checked after the fact: the enclosing message's size limit already
	 * bounds the work spent on an oversized filter. */
	if ((size_t)(j->p - start) > fp.lim->max_json)
		return too_large(&fp);
	return 0;
}

int tern_filter_parse_list(tern_filter **out, size_t *n, const uint8_t *buf,
			   size_t len, const tern_filter_limits *lim,
			   tern_arena *a, tern_reason *why)
{
	tern_filter_limits defs;
	tern__json j;
	fparse fp = { .lim = lim, .a = a, .why = why };
	vec v = { .elem = sizeof(tern_filter) };
	int c, rc;

	if (!lim) {
		tern_filter_limits_defaults(&defs);
		fp.lim = &defs;
	}
	tern__json_init(&j, buf, len, fp.lim->max_depth, why);
	fp.j = &j;
	c = tern__json_peek(&j);
	if (c == '{') {
		if (len > fp.lim->max_json)
			return too_large(&fp);
		v.p = tern_arena_alloc(a, sizeof(tern_filter));
		if (!v.p)
			return fail_nomem(&fp);
		rc = parse_object(&fp, v.p);
		if (rc)
			return rc;
		v.n = 1;
	} else if (c == '[') {
		rc = tern__json_arr_begin(&j);
		if (rc)
			return rc;
		if (tern__json_peek(&j) == ']')
			return fail_field(&fp, 0, "%s", "filter list must not be empty");
		while ((rc = tern__json_arr_next(&j)) == 1) {
			tern_filter *f = vec_push(&v, a);
			const uint8_t *start;

			if (!f)
				return fail_nomem(&fp);
			tern__json_peek(&j);
			start = j.p;
			rc = parse_object(&fp, f);
			if (rc)
				return rc;
			if ((size_t)(j.p - start) > fp.lim->max_json)
				return too_large(&fp);
		}
		if (rc < 0)
			return rc;
	} else {
		return fail_field(&fp, 0, "%s",
				  "filter must be a JSON object or an array of objects");
	}
	rc = tern__json_finish(&j);
	if (rc)
		return rc;
	*out = v.p;
	*n = v.n;
	return 0;
}

/* ---- matching ---------------------------------------------------------- */

bool tern__filter_matches_nothing(const tern_filter *f)
{
	if ((f->ids && !f->nids) || (f->authors && !f->nauthors) ||
	    (f->kinds && !f->nkinds) || f->since > f->until)
		return true;
	for (uint32_t t = 0; t < f->ntags; t++)
		if (!f->tags[t].nvalues)
			return true;
	return false;
}

bool tern__filter_has_b32(const uint8_t (*v)[32], uint32_t n,
			  const uint8_t *key)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(v[mid], key, 32);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool tern__filter_has_kind(const uint16_t *v, uint32_t n, uint32_t kind)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid] == kind)
			return true;
		if (v[mid] < kind)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool has_slice(const tern_slice *v, uint32_t n, const tern_slice *key)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = slice_cmp(&v[mid], key);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool tag_matches(const tern_tag_filter *tf, const tern_event *ev)
{
	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n >= 2 && t->v[0].n == 1 && t->v[0].p[0] == (uint8_t)tf->name &&
		    has_slice(tf->values, tf->nvalues, &t->v[1]))
			return true;
	}
	return false;
}

bool tern_filter_match(const tern_filter *f, const tern_event *ev)
{
	if (f->has_search)
		return false;
	if (ev->created_at < f->since || ev->created_at > f->until)
		return false;
	if (f->kinds && !tern__filter_has_kind(f->kinds, f->nkinds, ev->kind))
		return false;
	if (f->authors && !tern__filter_has_b32(f->authors, f->nauthors, ev->pubkey))
		return false;
	if (f->ids && !tern__filter_has_b32(f->ids, f->nids, ev->id))
		return false;
	for (uint32_t i = 0; i < f->ntags; i++)
		if (!tag_matches(&f->tags[i], ev))
			return false;
	return true;
}

bool tern_filters_match(const tern_filter *fs, size_t n, const tern_event *ev)
{
	for (size_t i = 0; i < n; i++)
		if (tern_filter_match(&fs[i], ev))
			return true;
	return false;
}

/* ---- equality ---------------------------------------------------------- */

static bool slices_equal(const tern_slice *a, const tern_slice *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (slice_cmp(&a[i], &b[i]) != 0)
			return false;
	return true;
}

bool tern_filter_equal(const tern_filter *a, const tern_filter *b)
{
	if (!a->ids != !b->ids || a->nids != b->nids ||
	    (a->nids && memcmp(a->ids, b->ids, (size_t)a->nids * 32)))
		return false;
	if (!a->authors != !b->authors || a->nauthors != b->nauthors ||
	    (a->nauthors && memcmp(a->authors, b->authors, (size_t)a->nauthors * 32)))
		return false;
	if (!a->kinds != !b->kinds || a->nkinds != b->nkinds ||
	    (a->nkinds && memcmp(a->kinds, b->kinds, (size_t)a->nkinds * sizeof(uint16_t))))
		return false;
	if (a->ntags != b->ntags)
		return false;
	for (uint32_t i = 0; i < a->ntags; i++) {
		const tern_tag_filter *x = &a->tags[i], *y = &b->tags[i];

		if (x->name != y->name || x->nvalues != y->nvalues ||
		    !slices_equal(x->values, y->values, x->nvalues))
			return false;
	}
	if (a->since != b->since || a->until != b->until)
		return false;
	if (a->has_limit != b->has_limit || (a->has_limit && a->limit != b->limit))
		return false;
	if (a->has_search != b->has_search ||
	    (a->has_search && slice_cmp(&a->search, &b->search) != 0))
		return false;
	return true;
}

/* ---- formatting -------------------------------------------------------- */

/* A bounded writer that keeps counting past the end, like snprintf. */
typedef struct out {
	char *buf;
	size_t cap, n;
} out;

static void put(out *o, const void *p, size_t n)
{
	if (o->n < o->cap) {
		size_t room = o->cap - o->n;

		memcpy(o->buf + o->n, p, n < room ? n : room);
	}
	o->n += n;
}

static void puts_(out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i, sizeof tmp - i);
}

/*
 * Writes s as a canonical JSON string. Escaping is per byte, so the input
 * can be escaped in pieces through a small stack buffer whatever its size;
 * each piece comes back quoted, and only its inside is kept.
 */
static void put_str(out *o, tern_slice s)
{
	uint8_t tmp[64 * 6 + 2];

	put(o, "\"", 1);
	for (size_t off = 0; off < s.n; off += 64) {
		tern_slice piece = { s.p + off, s.n - off < 64 ? s.n - off : 64 };
		size_t n = (size_t)(tern__json_escape(tmp, piece) - tmp);

		put(o, tmp + 1, n - 2);
	}
	put(o, "\"", 1);
}

static void put_b32_list(out *o, const char *key, const uint8_t (*v)[32],
			 uint32_t n, bool *first)
{
	char hex[66];

	if (!v)
		return;
	puts_(o, *first ? "\"" : ",\"");
	*first = false;
	puts_(o, key);
	puts_(o, "\":[");
	hex[0] = hex[65] = '"';
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			put(o, ",", 1);
		tern_hex_encode(hex + 1, v[i], 32);
		put(o, hex, sizeof hex);
	}
	put(o, "]", 1);
}

static void put_key(out *o, const char *key, bool *first)
{
	puts_(o, *first ? "\"" : ",\"");
	*first = false;
	puts_(o, key);
	puts_(o, "\":");
}

size_t tern_filter_format(const tern_filter *f, char *buf, size_t cap)
{
	out o = { buf, cap ? cap - 1 : 0, 0 };
	bool first = true;

	put(&o, "{", 1);
	put_b32_list(&o, "ids", f->ids, f->nids, &first);
	put_b32_list(&o, "authors", f->authors, f->nauthors, &first);
	if (f->kinds) {
		put_key(&o, "kinds", &first);
		put(&o, "[", 1);
		for (uint32_t i = 0; i < f->nkinds; i++) {
			if (i)
				put(&o, ",", 1);
			put_u64(&o, f->kinds[i]);
		}
		put(&o, "]", 1);
	}
	for (uint32_t i = 0; i < f->ntags; i++) {
		const tern_tag_filter *tf = &f->tags[i];
		char key[3] = { '#', tf->name, '\0' };

		put_key(&o, key, &first);
		put(&o, "[", 1);
		for (uint32_t k = 0; k < tf->nvalues; k++) {
			if (k)
				put(&o, ",", 1);
			put_str(&o, tf->values[k]);
		}
		put(&o, "]", 1);
	}
	/* since 0 and until UINT64_MAX are what absence means: leaving them
	 * out keeps parse(format(f)) equal to f. */
	if (f->since) {
		put_key(&o, "since", &first);
		put_u64(&o, f->since);
	}
	if (f->until != UINT64_MAX) {
		put_key(&o, "until", &first);
		put_u64(&o, f->until);
	}
	if (f->has_limit) {
		put_key(&o, "limit", &first);
		put_u64(&o, f->limit);
	}
	if (f->has_search) {
		put_key(&o, "search", &first);
		put_str(&o, f->search);
	}
	put(&o, "}", 1);
	if (cap)
		buf[o.n < o.cap ? o.n : o.cap] = '\0';
	return o.n;
}
