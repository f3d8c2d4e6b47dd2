/* Filter policies as pure decisions and rewrites (filters.h). */
#include <string.h>

#include <tern/error.h>
#include <tern/hex.h>

#include "policy/filters.h"

bool tern__filters_complex(const tern_filter *f, tern_reason *why)
{
	if (f->ntags + f->nkinds <= 4 || f->ntags <= 2)
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED,
			"too many things to filter for");
	return true;
}

bool tern__filters_empty(const tern_filter *f, tern_reason *why)
{
	uint64_t n = (uint64_t)f->nkinds + f->nids + f->nauthors;

	for (uint32_t i = 0; i < f->ntags; i++)
		n += f->tags[i].nvalues;
	if (n)
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "can't handle empty filters");
	return true;
}

static bool has_kind(const tern_filter *f, uint16_t k)
{
	for (uint32_t i = 0; i < f->nkinds; i++)
		if (f->kinds[i] == k)
			return true;
	return false;
}

bool tern__filters_sync_bot(const tern_filter *f, tern_reason *why)
{
	if (f->ids || f->nauthors || (f->kinds && !has_kind(f, 1)))
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED,
			"an author must be specified to get their kind:1 notes");
	return true;
}

bool tern__filters_search(const tern_filter *f, tern_reason *why)
{
	if (!f->has_search)
		return false;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "search is not supported");
	return true;
}

bool tern__filters_unauthed(size_t nauthed, tern_reason *why)
{
	if (nauthed)
		return false;
	tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED,
			"you must authenticate to read from this relay");
	return true;
}

static const tern_tag_filter *tag_filter(const tern_filter *f, char name)
{
	for (uint32_t i = 0; i < f->ntags; i++)
		if (f->tags[i].name == name)
			return &f->tags[i];
	return NULL;
}

/* True if a "#p" value is the hex of a pubkey the connection authed as. */
static bool value_authed(tern_slice v, tern__filters_authed_fn is_authed,
			 const void *ctx)
{
	char hex[65];
	uint8_t pk[32];

	if (v.n != 64)
		return false;
	memcpy(hex, v.p, 64);
	hex[64] = '\0';
	return tern_hex_decode(pk, hex, 32) && is_authed(ctx, pk);
}

bool tern__filters_kind4_snooper(const tern_filter *f, size_t nauthed,
				 tern__filters_authed_fn is_authed,
				 const void *ctx, tern_reason *why)
{
	const tern_tag_filter *p;
	uint32_t np;

	if (!has_kind(f, 4))
		return false;
	if (!nauthed) {
		tern_reason_set(why, TERN_PREFIX_AUTH_REQUIRED,
				"this relay serves kind-4 only to "
				"authenticated users");
		return true;
	}
	p = tag_filter(f, 'p');
	np = p ? p->nvalues : 0;
	/* the sole sender, towards one or every receiver */
	if (f->nauthors == 1 && np < 2 && is_authed(ctx, f->authors[0]))
		return false;
	/* the sole receiver, from one or every sender */
	if (np == 1 && f->nauthors < 2 &&
	    value_authed(p->values[0], is_authed, ctx))
		return false;
	tern_reason_set(why, TERN_PREFIX_RESTRICTED,
			"authenticated user does not have authorization for "
			"requested filters");
	return true;
}

void tern__filters_remove_search(tern_filter *f)
{
	f->has_search = false;
	f->search = (tern_slice){ 0 };
}

/* Makes f match nothing: an empty kinds list (present, so it is a
 * condition no event meets) and since > until, which the store answers
 * without reading anything. */
static void match_nothing(tern_filter *f, const uint16_t *kinds)
{
	f->kinds = kinds;
	f->nkinds = 0;
	f->since = UINT64_MAX;
	f->until = 0;
}

int tern__filters_keep_kinds(tern_filter *f, const tern__kindset *keep,
			     tern_arena *a)
{
	uint16_t *k;
	uint32_t n = 0;

	if (!f->kinds)
		return 0;
	for (uint32_t i = 0; i < f->nkinds; i++)
		n += tern__kindset_has(keep, f->kinds[i]);
	if (n == f->nkinds)
		return 0;
	k = tern_arena_alloc(a, (n ? n : 1) * sizeof *k);
	if (!k)
		return TERN_ENOMEM;
	if (!n) {
		match_nothing(f, k);
		return 0;
	}
	n = 0;
	for (uint32_t i = 0; i < f->nkinds; i++)
		if (tern__kindset_has(keep, f->kinds[i]))
			k[n++] = f->kinds[i];
	f->kinds = k;
	f->nkinds = n;
	return 0;
}

int tern__filters_keep_tags(tern_filter *f, const bool keep[128],
			    tern_arena *a)
{
	tern_tag_filter *t;
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->ntags; i++)
		n += keep[(unsigned char)f->tags[i].name & 127];
	if (n == f->ntags)
		return 0;
	if (!n) {
		f->tags = NULL;
		f->ntags = 0;
		return 0;
	}
	t = tern_arena_alloc(a, n * sizeof *t);
	if (!t)
		return TERN_ENOMEM;
	n = 0;
	for (uint32_t i = 0; i < f->ntags; i++)
		if (keep[(unsigned char)f->tags[i].name & 127])
			t[n++] = f->tags[i];
	f->tags = t;
	f->ntags = n;
	return 0;
}
