/* Filter copies and event sort keys (support.h). */
#include <string.h>

#include <tern/event.h>
#include <tern/hex.h>

#include "backend/support.h"

void tern__support_filter_init(tern_filter *f)
{
	memset(f, 0, sizeof *f);
	f->until = UINT64_MAX;
}

static void *dup(tern_arena *a, const void *p, size_t n, bool *ok)
{
	void *d;

	if (!p || !n)
		return NULL;
	d = tern_arena_alloc(a, n);
	if (!d) {
		*ok = false;
		return NULL;
	}
	memcpy(d, p, n);
	return d;
}

static bool copy_one(tern_arena *a, tern_filter *d, const tern_filter *f)
{
	tern_tag_filter *tags = NULL;
	bool ok = true;

	*d = *f;
	d->ids = dup(a, f->ids, f->nids * sizeof *f->ids, &ok);
	d->authors = dup(a, f->authors, f->nauthors * sizeof *f->authors, &ok);
	d->kinds = dup(a, f->kinds, f->nkinds * sizeof *f->kinds, &ok);
	if (f->has_search)
		d->search.p = dup(a, f->search.p, f->search.n, &ok);
	if (f->ntags) {
		tags = dup(a, f->tags, f->ntags * sizeof *f->tags, &ok);
		d->tags = tags;
	}
	for (uint32_t t = 0; ok && tags && t < f->ntags; t++) {
		tern_slice *v = dup(a, f->tags[t].values,
				    f->tags[t].nvalues * sizeof *v, &ok);

		tags[t].values = v;
		for (uint32_t i = 0; ok && v && i < f->tags[t].nvalues; i++)
			v[i].p = dup(a, v[i].p, v[i].n, &ok);
	}
	return ok;
}

tern_filter *tern__support_filters_copy(tern_arena *a, const tern_filter *fs,
					size_t n)
{
	tern_filter *d;

	if (!n)
		return NULL;
	d = tern_arena_alloc(a, n * sizeof *d);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!copy_one(a, &d[i], &fs[i]))
			return NULL;
	return d;
}

bool tern__support_json_key(tern_slice json, uint64_t *created_at,
			    uint8_t id[32], uint8_t pubkey[32])
{
	static const char p1[] = "{\"id\":\"", p2[] = "\",\"pubkey\":\"",
			  p3[] = "\",\"created_at\":";
	const char *s = (const char *)json.p;
	uint8_t tmp[32];
	uint64_t ca = 0;
	size_t i = 162;

	if (json.n > 163 && !memcmp(s, p1, 7) && !memcmp(s + 71, p2, 12) &&
	    !memcmp(s + 147, p3, 15) &&
	    tern_hex_decode(id ? id : tmp, s + 7, 32) &&
	    tern_hex_decode(pubkey ? pubkey : tmp, s + 83, 32)) {
		for (; i < json.n && i < 182 && s[i] >= '0' && s[i] <= '9';
		     i++)
			ca = ca * 10 + (uint64_t)(s[i] - '0');
		if (i > 162 && i < json.n && s[i] == ',') {
			if (created_at)
				*created_at = ca;
			return true;
		}
	}
	/* Not in canonical form: parse it. */
	tern_arena a;
	tern_event ev;
	bool ok;

	tern_arena_init(&a, 0);
	ok = tern_event_parse(&ev, json.p, json.n, NULL, &a, NULL) == 0;
	if (ok) {
		if (created_at)
			*created_at = ev.created_at;
		if (id)
			memcpy(id, ev.id, 32);
		if (pubkey)
			memcpy(pubkey, ev.pubkey, 32);
	}
	tern_arena_free(&a);
	return ok;
}
