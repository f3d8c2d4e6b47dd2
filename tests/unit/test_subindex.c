/* Unit tests for the live-subscription index (src/relay/subindex.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/filter.h>

#include "relay/subindex.h"

static tern_arena arena; /* events of one test */
static tern__subindex *ix;

static void setup(void)
{
	tern_arena_init(&arena, 0);
	cr_assert_eq(tern__subindex_new(&ix), 0);
}

static void teardown(void)
{
	tern__subindex_free(ix);
	ix = NULL;
	tern_arena_free(&arena);
}

TestSuite(subindex, .init = setup, .fini = teardown);

/* 64-char hex made of one repeated digit: H('a') = "aaaa...". */
static const char *H(char c)
{
	static char bufs[16][65];
	static int next;
	char *b = bufs[next++ % 16];

	memset(b, c, 64);
	b[64] = '\0';
	return b;
}

static tern_slice S(const char *s)
{
	return (tern_slice){ (const uint8_t *)s, strlen(s) };
}

/* Overwrites everything a parsed filter list points to, so that a shallow
 * copy in the index would be caught even without ASan. */
static void scribble(tern_filter *fs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tern_filter *f = &fs[i];

		if (f->ids)
			memset((void *)f->ids, 0x5a, (size_t)f->nids * 32);
		if (f->authors)
			memset((void *)f->authors, 0x5a, (size_t)f->nauthors * 32);
		if (f->kinds)
			memset((void *)f->kinds, 0x5a, (size_t)f->nkinds * 2);
		for (uint32_t t = 0; t < f->ntags; t++) {
			tern_tag_filter *tf = (tern_tag_filter *)&f->tags[t];

			for (uint32_t k = 0; k < tf->nvalues; k++) {
				tern_slice *v = (tern_slice *)&tf->values[k];

				memset((void *)v->p, 'Z', v->n);
				v->p = NULL;
			}
			tf->name = '?';
		}
		memset(f, 0xa5, sizeof(*f));
	}
}

/* Parses a filter (or a JSON array of them) into a scratch arena, adds it,
 * then destroys the parsed copy: the index must hold its own. */
static int add_json_rc(void *owner, const char *id, const char *json)
{
	tern_arena a;
	tern_filter *fs;
	tern_reason why = { 0 };
	size_t n, len = strlen(json);
	char *text = malloc(len + 1);
	int rc;

	memcpy(text, json, len + 1);
	tern_arena_init(&a, 0);
	rc = tern_filter_parse_list(&fs, &n, (const uint8_t *)text, len, NULL, &a, &why);
	cr_assert_eq(rc, 0, "filter %s: %s", json, why.msg);
	rc = tern__subindex_add(ix, owner, S(id), fs, n, NULL);
	scribble(fs, n);
	memset(text, 'X', len);
	free(text);
	tern_arena_free(&a);
	return rc;
}

static void add_json(void *owner, const char *id, const char *json)
{
	int rc = add_json_rc(owner, id, json);

	cr_assert_eq(rc, 0, "add %s: %d", json, rc);
}

/* An event from JSON; id and sig are not checked by the parser. */
static tern_event mkev(const char *id, const char *pk, uint64_t ts,
		       uint32_t kind, const char *tags)
{
	char *json;
	tern_event ev;
	tern_reason why = { 0 };
	int n, rc;

	n = asprintf(&json,
		     "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%llu,"
		     "\"kind\":%u,\"tags\":%s,\"content\":\"\",\"sig\":\"%s%s\"}",
		     id, pk, (unsigned long long)ts, kind, tags, H('5'), H('6'));
	cr_assert(n > 0);
	char *copy = tern_arena_alloc(&arena, (size_t)n);
	memcpy(copy, json, (size_t)n);
	free(json);
	rc = tern_event_parse(&ev, (const uint8_t *)copy, (size_t)n, NULL, &arena, &why);
	cr_assert_eq(rc, 0, "event parse: %s", why.msg);
	return ev;
}

/* ---- collecting visits --------------------------------------------------- */

struct hits {
	size_t n;
	char names[64][80]; /* "<owner>/<sub id>" */
};

static char owners[8]; /* owner i is &owners[i] */
#define OW(i) ((void *)&owners[i])

static void on_visit(void *ctx, const tern__subindex_sub *sub)
{
	struct hits *h = ctx;

	cr_assert_lt(h->n, 64);
	snprintf(h->names[h->n++], sizeof h->names[0], "%d/%s",
		 (int)((char *)sub->owner - owners), (const char *)sub->id.p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Matches ev and checks the visited set equals the space-separated list
 * want ("0/a 1/b"), in any order and each once. */
static void expect_match(const tern_event *ev, const char *want)
{
	struct hits h = { 0 };
	char got[1024] = "", *copy;
	size_t nv = tern__subindex_match(ix, ev, on_visit, &h);

	cr_assert_eq(nv, h.n);
	qsort(h.names, h.n, sizeof h.names[0], cmp_str);
	for (size_t i = 0; i < h.n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, h.names[i]);
	}
	/* want is given sorted */
	copy = strdup(want);
	cr_expect_str_eq(got, copy, "matched [%s], want [%s]", got, want);
	free(copy);
}

static tern__subindex_counts counts(void)
{
	tern__subindex_counts c;

	tern__subindex_stats(ix, &c);
	return c;
}

/* ---- each key family ----------------------------------------------------- */

Test(subindex, ids_family)
{
	char f[200];

	snprintf(f, sizeof f, "{\"ids\":[\"%s\",\"%s\"]}", H('a'), H('b'));
	add_json(OW(0), "s", f);
	cr_expect_eq(counts().keys, 2);
	cr_expect_eq(counts().postings, 2);
	tern_event ea = mkev(H('a'), H('1'), 10, 1, "[]");
	tern_event eb = mkev(H('b'), H('1'), 10, 1, "[]");
	tern_event ec = mkev(H('c'), H('1'), 10, 1, "[]");
	expect_match(&ea, "0/s");
	expect_match(&eb, "0/s");
	expect_match(&ec, "");
}

Test(subindex, authors_family)
{
	char f[200];

	snprintf(f, sizeof f, "{\"authors\":[\"%s\"]}", H('1'));
	add_json(OW(0), "a", f);
	snprintf(f, sizeof f, "{\"authors\":[\"%s\",\"%s\"]}", H('1'), H('2'));
	add_json(OW(1), "b", f);
	cr_expect_eq(counts().keys, 2);
	tern_event e1 = mkev(H('a'), H('1'), 10, 1, "[]");
	tern_event e2 = mkev(H('a'), H('2'), 10, 1, "[]");
	tern_event e3 = mkev(H('a'), H('3'), 10, 1, "[]");
	expect_match(&e1, "0/a 1/b");
	expect_match(&e2, "1/b");
	expect_match(&e3, "");
}

Test(subindex, tags_family)
{
	char f[200], tags[300];

	add_json(OW(0), "t", "{\"#t\":[\"nostr\",\"c\"]}");
	snprintf(f, sizeof f, "{\"#p\":[\"%s\"]}", H('7'));
	add_json(OW(0), "p", f);
	add_json(OW(1), "T", "{\"#T\":[\"nostr\"]}"); /* letters are case-sensitive */

	tern_event e1 = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"nostr\"]]");
	expect_match(&e1, "0/t");
	/* Only a tag's first value counts. */
	tern_event e2 = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"x\",\"nostr\"]]");
	expect_match(&e2, "");
	/* Multi-letter names and value-less tags are not tag keys. */
	tern_event e3 = mkev(H('a'), H('1'), 10, 1, "[[\"tt\",\"nostr\"],[\"t\"]]");
	expect_match(&e3, "");
	snprintf(tags, sizeof tags, "[[\"e\",\"%s\"],[\"p\",\"%s\"],[\"T\",\"nostr\"]]",
		 H('7'), H('7'));
	tern_event e4 = mkev(H('a'), H('1'), 10, 1, tags);
	expect_match(&e4, "0/p 1/T");
}

Test(subindex, tag_with_fewest_values_is_the_key)
{
	char f[300], tags[300];

	/* "#a" sorts first but has more values: "#p" is the key. */
	snprintf(f, sizeof f, "{\"#a\":[\"a\",\"b\",\"c\"],\"#p\":[\"%s\"]}", H('7'));
	add_json(OW(0), "s", f);
	cr_expect_eq(counts().postings, 1);
	cr_expect_eq(counts().keys, 1);

	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"],[\"a\",\"b\"]]", H('7'));
	tern_event yes = mkev(H('a'), H('1'), 10, 1, tags);
	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"],[\"a\",\"d\"]]", H('7'));
	tern_event no = mkev(H('a'), H('1'), 10, 1, tags);
	tern_event no_p = mkev(H('a'), H('1'), 10, 1, "[[\"a\",\"b\"]]");
	expect_match(&yes, "0/s");
	expect_match(&no, "");
	expect_match(&no_p, "");
}

Test(subindex, kinds_family_and_catchall)
{
	add_json(OW(0), "k", "{\"kinds\":[1,7]}");
	add_json(OW(0), "all", "{}");
	add_json(OW(1), "since", "{\"since\":100,\"limit\":1}");
	cr_expect_eq(counts().catchall, 2);
	tern_event e1 = mkev(H('a'), H('1'), 10, 1, "[]");
	tern_event e7 = mkev(H('a'), H('1'), 200, 7, "[]");
	tern_event e3 = mkev(H('a'), H('1'), 200, 3, "[]");
	expect_match(&e1, "0/all 0/k");
	expect_match(&e7, "0/all 0/k 1/since");
	expect_match(&e3, "0/all 1/since");
}

Test(subindex, family_priority_still_checks_every_field)
{
	char f[400];

	/* Filed under ids, but authors, kinds and tags must hold too. */
	snprintf(f, sizeof f, "{\"ids\":[\"%s\"],\"authors\":[\"%s\"],\"kinds\":[1],"
		 "\"#t\":[\"x\"]}", H('a'), H('1'));
	add_json(OW(0), "s", f);
	cr_expect_eq(counts().postings, 1);
	tern_event ok = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"x\"]]");
	tern_event wrong_pk = mkev(H('a'), H('2'), 10, 1, "[[\"t\",\"x\"]]");
	tern_event wrong_kind = mkev(H('a'), H('1'), 10, 2, "[[\"t\",\"x\"]]");
	tern_event no_tag = mkev(H('a'), H('1'), 10, 1, "[]");
	expect_match(&ok, "0/s");
	expect_match(&wrong_pk, "");
	expect_match(&wrong_kind, "");
	expect_match(&no_tag, "");
}

Test(subindex, kinds_authors_combos)
{
	char f[400];

	snprintf(f, sizeof f, "{\"kinds\":[1,7],\"authors\":[\"%s\",\"%s\"]}", H('1'), H('2'));
	add_json(OW(0), "ka", f);
	snprintf(f, sizeof f, "{\"kinds\":[0,3],\"authors\":[\"%s\"],\"until\":50}", H('2'));
	add_json(OW(1), "meta", f);
	tern_event a = mkev(H('a'), H('1'), 10, 1, "[]");
	tern_event b = mkev(H('a'), H('2'), 10, 7, "[]");
	tern_event c = mkev(H('a'), H('1'), 10, 3, "[]");
	tern_event d = mkev(H('a'), H('3'), 10, 1, "[]");
	tern_event e = mkev(H('a'), H('2'), 10, 3, "[]");
	tern_event f3 = mkev(H('a'), H('2'), 51, 3, "[]");
	expect_match(&a, "0/ka");
	expect_match(&b, "0/ka");
	expect_match(&c, "");
	expect_match(&d, "");
	expect_match(&e, "1/meta");
	expect_match(&f3, "");
}

Test(subindex, since_until_apply_limit_ignored)
{
	add_json(OW(0), "w", "{\"kinds\":[1],\"since\":100,\"until\":200,\"limit\":0}");
	tern_event lo = mkev(H('a'), H('1'), 99, 1, "[]");
	tern_event in1 = mkev(H('a'), H('1'), 100, 1, "[]");
	tern_event in2 = mkev(H('a'), H('1'), 200, 1, "[]");
	tern_event hi = mkev(H('a'), H('1'), 201, 1, "[]");
	expect_match(&lo, "");
	expect_match(&in1, "0/w");
	expect_match(&in2, "0/w");
	expect_match(&hi, "");
}

Test(subindex, never_matching_filters_are_kept_not_filed)
{
	add_json(OW(0), "s", "[{\"search\":\"x\"},{\"since\":5,\"until\":4}]");
	tern__subindex_counts c = counts();
	cr_expect_eq(c.subs, 1);
	cr_expect_eq(c.filters, 2);
	cr_expect_eq(c.postings, 0);
	tern_event e = mkev(H('a'), H('1'), 5, 1, "[]");
	expect_match(&e, "");
	const tern__subindex_sub *s = tern__subindex_find(ix, OW(0), S("s"));
	cr_assert_not_null(s);
	cr_expect(s->filters[0].has_search);
	cr_expect_eq(s->filters[0].search.n, 1);
	cr_expect_eq(memcmp(s->filters[0].search.p, "x", 1), 0);
}

/* ---- dedupe ------------------------------------------------------------- */

Test(subindex, several_filters_one_visit)
{
	char f[600], tags[300];

	snprintf(f, sizeof f, "[{\"kinds\":[1]},{\"authors\":[\"%s\"]},{},"
		 "{\"#p\":[\"%s\"]},{\"ids\":[\"%s\"]}]", H('1'), H('7'), H('a'));
	add_json(OW(0), "multi", f);
	snprintf(tags, sizeof tags, "[[\"p\",\"%s\"],[\"p\",\"%s\"],[\"p\",\"%s\"]]",
		 H('7'), H('7'), H('7'));
	tern_event e = mkev(H('a'), H('1'), 10, 1, tags);
	expect_match(&e, "0/multi");
	/* The same event again gets a fresh generation. */
	expect_match(&e, "0/multi");
}

Test(subindex, tag_filter_reached_by_several_values)
{
	add_json(OW(0), "s", "{\"#t\":[\"a\",\"b\"],\"kinds\":[1]}");
	tern_event e = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"a\"],[\"t\",\"b\"]]");
	expect_match(&e, "0/s");
	tern_event e2 = mkev(H('a'), H('1'), 10, 2, "[[\"t\",\"a\"],[\"t\",\"b\"]]");
	expect_match(&e2, "");
}

/* ---- NUL bytes -------------------------------------------------------- */

Test(subindex, tag_values_with_nul)
{
	add_json(OW(0), "nul", "{\"#t\":[\"a\\u0000b\"]}");
	add_json(OW(1), "a", "{\"#t\":[\"a\"]}");
	tern_event exact = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"a\\u0000b\"]]");
	tern_event prefix = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"a\"]]");
	tern_event other = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"a\\u0000c\"]]");
	expect_match(&exact, "0/nul");
	expect_match(&prefix, "1/a");
	expect_match(&other, "");
	/* Sub ids may hold a NUL too. */
	cr_assert_eq(tern__subindex_add(ix, OW(2), (tern_slice){ (const uint8_t *)"x\0y", 3 },
					NULL, 0, NULL), 0);
	cr_expect_not_null(tern__subindex_find(ix, OW(2), (tern_slice){ (const uint8_t *)"x\0y", 3 }));
	cr_expect_null(tern__subindex_find(ix, OW(2), S("x")));
}

/* ---- replace / remove ------------------------------------------------- */

Test(subindex, replace_same_sub_id)
{
	add_json(OW(0), "s", "{\"kinds\":[1]}");
	add_json(OW(1), "s", "{\"kinds\":[1]}");
	add_json(OW(0), "s", "{\"kinds\":[2]}");
	cr_expect_eq(tern__subindex_count(ix, OW(0)), 1);
	cr_expect_eq(counts().subs, 2);
	cr_expect_eq(counts().postings, 2);
	tern_event e1 = mkev(H('a'), H('1'), 10, 1, "[]");
	tern_event e2 = mkev(H('a'), H('1'), 10, 2, "[]");
	expect_match(&e1, "1/s");
	expect_match(&e2, "0/s");
}

Test(subindex, remove_and_remove_all)
{
	tern__subindex_counts empty = counts();

	add_json(OW(0), "a", "{\"kinds\":[1]}");
	add_json(OW(0), "b", "{}");
	add_json(OW(0), "c", "{\"#t\":[\"x\"]}");
	add_json(OW(1), "a", "{\"kinds\":[1]}");
	cr_expect_eq(tern__subindex_count(ix, OW(0)), 3);
	cr_expect_eq(tern__subindex_count(ix, OW(1)), 1);
	cr_expect_eq(tern__subindex_count(ix, OW(2)), 0);
	cr_expect_eq(counts().owners, 2);

	cr_expect_eq(tern__subindex_remove(ix, OW(0), S("b")), 0);
	cr_expect_eq(tern__subindex_remove(ix, OW(0), S("b")), TERN_ENOTFOUND);
	cr_expect_eq(tern__subindex_remove(ix, OW(2), S("a")), TERN_ENOTFOUND);
	cr_expect_eq(tern__subindex_count(ix, OW(0)), 2);
	tern_event e = mkev(H('a'), H('1'), 10, 1, "[[\"t\",\"x\"]]");
	expect_match(&e, "0/a 0/c 1/a");

	cr_expect_eq(tern__subindex_remove_all(ix, OW(0)), 0);
	cr_expect_eq(tern__subindex_remove_all(ix, OW(0)), 0);
	cr_expect_eq(tern__subindex_count(ix, OW(0)), 0);
	expect_match(&e, "1/a");
	cr_expect_eq(tern__subindex_remove(ix, OW(1), S("a")), 0);
	expect_match(&e, "");

	tern__subindex_counts c = counts();
	cr_expect_eq(c.subs, 0);
	cr_expect_eq(c.owners, 0);
	cr_expect_eq(c.keys, 0);
	cr_expect_eq(c.postings, 0);
	cr_expect_eq(c.filters, 0);
	/* The catch-all array may keep its small capacity. */
	cr_expect_leq(c.bytes, empty.bytes + 4 * 16);
}

Test(subindex, churn_gives_memory_back)
{
	tern__subindex_counts empty = counts();
	char f[300], id[16];

	/* Many distinct keys grow the key table; removing them must shrink it. */
	for (int i = 0; i < 3000; i++) {
		snprintf(f, sizeof f, "[{\"#t\":[\"v%d\",\"w%d\"]},{\"kinds\":[%d]},{}]",
			 i, i, i % 60000);
		snprintf(id, sizeof id, "s%d", i);
		add_json(OW(i % 8), id, f);
	}
	tern__subindex_counts full = counts();
	cr_expect_eq(full.subs, 3000);
	cr_expect_eq(full.keys, 3000 * 3);
	cr_expect_eq(full.catchall, 3000);
	for (int i = 0; i < 3000; i += 2) {
		snprintf(id, sizeof id, "s%d", i);
		cr_assert_eq(tern__subindex_remove(ix, OW(i % 8), S(id)), 0);
	}
	for (int o = 0; o < 8; o++)
		cr_assert_eq(tern__subindex_remove_all(ix, OW(o)), 0);
	tern__subindex_counts c = counts();
	cr_expect_eq(c.subs, 0);
	cr_expect_eq(c.keys, 0);
	cr_expect_eq(c.postings, 0);
	cr_expect_leq(c.bytes, empty.bytes + 16 * 16, "%zu bytes left, %zu when empty",
		      c.bytes, empty.bytes);
	cr_expect_lt(c.bytes, full.bytes / 100);
}

/* ---- arguments, re-entrancy, listing ----------------------------------- */

Test(subindex, arguments)
{
	char idmax[TERN__SUBINDEX_ID_MAX + 2];
	const tern__subindex_sub *s = NULL;

	memset(idmax, 'i', TERN__SUBINDEX_ID_MAX + 1);
	idmax[TERN__SUBINDEX_ID_MAX + 1] = '\0';
	cr_expect_eq(tern__subindex_add(ix, NULL, S("a"), NULL, 0, NULL), TERN_EINVAL);
	cr_expect_eq(tern__subindex_add(ix, OW(0), S(idmax), NULL, 0, NULL), TERN_ETOOBIG);
	idmax[64] = '\0';
	cr_expect_eq(tern__subindex_add(ix, OW(0), S(idmax), NULL, 0, &s), 0);
	cr_assert_not_null(s);
	cr_expect_eq(s->id.n, 64);
	cr_expect_eq(s->id.p[64], '\0');
	cr_expect_eq(s->owner, OW(0));
	cr_expect_eq(s->nfilters, 0);
	/* Empty id is just another id. */
	cr_expect_eq(tern__subindex_add(ix, OW(0), S(""), NULL, 0, NULL), 0);
	cr_expect_eq(tern__subindex_count(ix, OW(0)), 2);
	tern_event e = mkev(H('a'), H('1'), 10, 1, "[]");
	expect_match(&e, "");
}

static void visit_mutates(void *ctx, const tern__subindex_sub *sub)
{
	int *rcs = ctx;

	rcs[0] = tern__subindex_remove(ix, sub->owner, sub->id);
	rcs[1] = tern__subindex_remove_all(ix, sub->owner);
	rcs[2] = tern__subindex_add(ix, sub->owner, S("new"), NULL, 0, NULL);
}

Test(subindex, callbacks_may_not_mutate)
{
	int rcs[3] = { 0 };

	add_json(OW(0), "s", "{}");
	tern_event e = mkev(H('a'), H('1'), 10, 1, "[]");
	cr_expect_eq(tern__subindex_match(ix, &e, visit_mutates, rcs), 1);
	cr_expect_eq(rcs[0], -EBUSY);
	cr_expect_eq(rcs[1], -EBUSY);
	cr_expect_eq(rcs[2], -EBUSY);
	cr_expect_eq(counts().subs, 1);
	/* and afterwards they work again */
	cr_expect_eq(tern__subindex_remove(ix, OW(0), S("s")), 0);
}

struct listing {
	int n, nfilters;
	char ids[1024];
};

static int list_cb(void *ctx, const tern__subindex_sub *sub)
{
	struct listing *l = ctx;

	l->n++;
	l->nfilters += (int)sub->nfilters;
	strcat(l->ids, (const char *)sub->id.p);
	return 0;
}

static int stop_cb(void *ctx, const tern__subindex_sub *sub)
{
	(*(int *)ctx)++;
	return 7;
}

Test(subindex, foreach_lists_live_filters)
{
	struct listing l = { 0 };
	char buf[256];
	int calls = 0;

	add_json(OW(0), "a", "[{\"kinds\":[1]},{\"#t\":[\"q\"],\"limit\":5}]");
	add_json(OW(1), "b", "{\"kinds\":[3]}");
	add_json(OW(1), "c", "{}");
	cr_expect_eq(tern__subindex_foreach(ix, NULL, list_cb, &l), 0);
	cr_expect_eq(l.n, 3);
	cr_expect_eq(l.nfilters, 4);
	memset(&l, 0, sizeof l);
	cr_expect_eq(tern__subindex_foreach(ix, OW(1), list_cb, &l), 0);
	cr_expect_eq(l.n, 2);
	memset(&l, 0, sizeof l);
	cr_expect_eq(tern__subindex_foreach(ix, OW(5), list_cb, &l), 0);
	cr_expect_eq(l.n, 0);
	cr_expect_eq(tern__subindex_foreach(ix, NULL, stop_cb, &calls), 7);
	cr_expect_eq(calls, 1);

	/* The copies format back to what was added. */
	const tern__subindex_sub *s = tern__subindex_find(ix, OW(0), S("a"));
	cr_assert_not_null(s);
	tern_filter_format(&s->filters[1], buf, sizeof buf);
	cr_expect_str_eq(buf, "{\"#t\":[\"q\"],\"limit\":5}");
}

/* ---- differential: index vs linear scan -------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

struct sb {
	char *p;
	size_t n, cap;
};

static void sbf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		cr_assert(n >= 0);
		if ((size_t)n < b->cap - b->n)
			break;
		b->cap = b->cap * 2 + (size_t)n + 64;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	b->n += (size_t)n;
}

#define NHEX 10
static const char hexdig[NHEX] = "0123456789";
static const char *strvals[] = { "nostr", "bitcoin", "a\\u0000b", "a", "", "x y", "\\u00e9" };
#define NSTR (sizeof strvals / sizeof strvals[0])
static const unsigned kindvals[] = { 0, 1, 3, 7, 1000, 30023 };
#define NKIND (sizeof kindvals / sizeof kindvals[0])
static const char letters[] = "eptaZ";

static void rand_hex_list(struct sb *b, const char *name)
{
	uint32_t n = 1 + rnd(3);

	sbf(b, "\"%s\":[", name);
	for (uint32_t i = 0; i < n; i++)
		sbf(b, "%s\"%s\"", i ? "," : "", H(hexdig[rnd(NHEX)]));
	sbf(b, "]");
}

static void rand_filter(struct sb *b)
{
	bool first = true;

#define SEP() do { if (!first) sbf(b, ","); first = false; } while (0)
	sbf(b, "{");
	if (rnd(100) < 12) {
		SEP();
		rand_hex_list(b, "ids");
	}
	if (rnd(100) < 35) {
		SEP();
		rand_hex_list(b, "authors");
	}
	if (rnd(100) < 40) {
		uint32_t n = 1 + rnd(3);

		SEP();
		sbf(b, "\"kinds\":[");
		for (uint32_t i = 0; i < n; i++)
			sbf(b, "%s%u", i ? "," : "", kindvals[rnd(NKIND)]);
		sbf(b, "]");
	}
	for (const char *l = letters; *l; l++) {
		uint32_t n = 1 + rnd(3);

		if (rnd(100) >= 18)
			continue;
		SEP();
		sbf(b, "\"#%c\":[", *l);
		for (uint32_t i = 0; i < n; i++) {
			if (*l == 'e' || *l == 'p')
				sbf(b, "%s\"%s\"", i ? "," : "", H(hexdig[rnd(NHEX)]));
			else
				sbf(b, "%s\"%s\"", i ? "," : "", strvals[rnd(NSTR)]);
		}
		sbf(b, "]");
	}
	if (rnd(100) < 15) {
		SEP();
		sbf(b, "\"since\":%u", rnd(2000));
	}
	if (rnd(100) < 15) {
		SEP();
		sbf(b, "\"until\":%u", rnd(2000));
	}
	if (rnd(100) < 10) {
		SEP();
		sbf(b, "\"limit\":%u", rnd(50));
	}
	if (rnd(100) < 2) {
		SEP();
		sbf(b, "\"search\":\"x\"");
	}
	sbf(b, "}");
#undef SEP
}

static void rand_event(struct sb *b)
{
	uint32_t ntags = rnd(6);

	sbf(b, "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%u,\"kind\":%u,\"tags\":[",
	    H(hexdig[rnd(NHEX)]), H(hexdig[rnd(NHEX)]), rnd(2100),
	    rnd(10) ? kindvals[rnd(NKIND)] : 5);
	for (uint32_t i = 0; i < ntags; i++) {
		uint32_t r = rnd(10);
		char l = letters[rnd(sizeof letters - 1)];

		sbf(b, "%s", i ? "," : "");
		if (r == 0) {
			sbf(b, "[\"%c\"]", l);
		} else if (r == 1) {
			sbf(b, "[\"%c%c\",\"nostr\"]", l, l);
		} else if (l == 'e' || l == 'p') {
			sbf(b, "[\"%c\",\"%s\"%s]", l, H(hexdig[rnd(NHEX)]),
			    r == 2 ? ",\"wss://r\"" : "");
		} else {
			sbf(b, "[\"%c\",\"%s\"%s]", l, strvals[rnd(NSTR)],
			    r == 2 ? ",\"nostr\"" : "");
		}
	}
	sbf(b, "],\"content\":\"hi\",\"sig\":\"%s%s\"}", H('5'), H('6'));
}

#define D_OWNERS 8
#define D_IDS 80
struct model {
	bool live;
	tern_filter *fs;
	size_t n;
};
static struct model model[D_OWNERS][D_IDS];

struct dhits {
	uint8_t seen[D_OWNERS][D_IDS];
	size_t n;
};

static void d_visit(void *ctx, const tern__subindex_sub *sub)
{
	struct dhits *h = ctx;
	int o = (int)((char *)sub->owner - owners);
	int id = atoi((const char *)sub->id.p + 1);

	cr_assert(o >= 0 && o < D_OWNERS && id >= 0 && id < D_IDS);
	cr_assert_eq(h->seen[o][id], 0, "visited %d/s%d twice", o, id);
	h->seen[o][id] = 1;
	h->n++;
}

Test(subindex, differential_vs_linear_scan, .timeout = 60)
{
	tern_arena marena; /* the model's filters */
	struct sb b = { 0 };
	tern_event *evs = calloc(2000, sizeof(*evs));
	size_t total = 0, nonempty = 0;
	char id[16];

	tern_arena_init(&marena, 0);
	memset(model, 0, sizeof model);

	/* 500 subscriptions; ids repeat, so some are replacements. */
	for (int i = 0; i < 500; i++) {
		int o = (int)rnd(D_OWNERS), k = (int)rnd(D_IDS);
		uint32_t nf = 1 + (rnd(4) == 0 ? rnd(3) : 0);
		tern_reason why = { 0 };
		char *text;

		b.n = 0;
		sbf(&b, "[");
		for (uint32_t f = 0; f < nf; f++) {
			sbf(&b, "%s", f ? "," : "");
			rand_filter(&b);
		}
		sbf(&b, "]");
		snprintf(id, sizeof id, "s%d", k);
		add_json(OW(o), id, b.p);
		text = tern_arena_alloc(&marena, b.n);
		memcpy(text, b.p, b.n);
		cr_assert_eq(tern_filter_parse_list(&model[o][k].fs, &model[o][k].n,
						    (const uint8_t *)text, b.n, NULL,
						    &marena, &why), 0);
		model[o][k].live = true;
	}
	/* Some removals, and one closed connection. */
	for (int i = 0; i < 60; i++) {
		int o = (int)rnd(D_OWNERS), k = (int)rnd(D_IDS);

		snprintf(id, sizeof id, "s%d", k);
		cr_assert_eq(tern__subindex_remove(ix, OW(o), S(id)),
			     model[o][k].live ? 0 : TERN_ENOTFOUND);
		model[o][k].live = false;
	}
	cr_assert_eq(tern__subindex_remove_all(ix, OW(3)), 0);
	for (int k = 0; k < D_IDS; k++)
		model[3][k].live = false;

	size_t live = 0;
	for (int o = 0; o < D_OWNERS; o++) {
		size_t per = 0;

		for (int k = 0; k < D_IDS; k++)
			per += model[o][k].live;
		cr_assert_eq(tern__subindex_count(ix, OW(o)), per);
		live += per;
	}
	cr_assert_eq(counts().subs, live);
	cr_assert_gt(live, 250);

	for (int i = 0; i < 2000; i++) {
		tern_reason why = { 0 };
		char *text;

		b.n = 0;
		rand_event(&b);
		text = tern_arena_alloc(&arena, b.n);
		memcpy(text, b.p, b.n);
		cr_assert_eq(tern_event_parse(&evs[i], (const uint8_t *)text, b.n, NULL,
					      &arena, &why), 0, "%s: %s", b.p, why.msg);
	}
	for (int i = 0; i < 2000; i++) {
		struct dhits h;

		memset(&h, 0, sizeof h);
		cr_assert_eq(tern__subindex_match(ix, &evs[i], d_visit, &h), h.n);
		for (int o = 0; o < D_OWNERS; o++) {
			for (int k = 0; k < D_IDS; k++) {
				bool want = model[o][k].live &&
					    tern_filters_match(model[o][k].fs, model[o][k].n, &evs[i]);

				cr_assert_eq(h.seen[o][k], want,
					     "event %d, sub %d/s%d: index %d, scan %d",
					     i, o, k, h.seen[o][k], want);
			}
		}
		total += h.n;
		nonempty += h.n > 0;
	}
	/* The random mix must exercise both outcomes. */
	cr_expect_gt(total, 2000);
	cr_expect_gt(nonempty, 1000);
	cr_expect_lt(total, 2000 * live / 2);
	free(b.p);
	free(evs);
	tern_arena_free(&marena);
}

Test(subindex, idle_until_a_filter_is_filed)
{
	cr_expect(tern__subindex_idle(ix));
	add_json(OW(0), "never", "{\"search\":\"x\"}"); /* kept, not filed */
	cr_expect(tern__subindex_idle(ix));
	add_json(OW(0), "all", "{}");                   /* catch-all */
	cr_expect_not(tern__subindex_idle(ix));
	cr_expect_eq(tern__subindex_remove(ix, OW(0), S("all")), 0);
	cr_expect(tern__subindex_idle(ix));
	add_json(OW(1), "k", "{\"kinds\":[1]}");
	cr_expect_not(tern__subindex_idle(ix));
	cr_expect_eq(tern__subindex_remove_all(ix, OW(1)), 0);
	cr_expect(tern__subindex_idle(ix));
}
