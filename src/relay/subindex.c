/*
 * Index of live subscriptions (src/relay/subindex.h).
 *
 * Layout:
 *  - One heap block per subscription holds its struct, its deep-copied
 *    filters (lists, tag values, search string), a small per-filter record
 *    and one slot per key the filter is filed under. Freeing a subscription
 *    is one free() plus unfiling its keys.
 *  - A key is (family, tag letter, bytes): a 32-byte id or pubkey, a kind,
 *    or a tag letter with one tag value. Each distinct key is a node in one
 *    chained hash table and carries a posting array of (subscription,
 *    filter, key number). The catch-all list is a node outside the table.
 *  - A slot remembers its key node and its position in the node's posting
 *    array, and postings are removed by moving the last one into the hole
 *    (updating that posting's slot), so unfiling is O(1) per key and never
 *    searches a posting list.
 *  - Two more chained tables map (owner, id) to a subscription and owner to
 *    its list of subscriptions, for NIP-01 replacement and for closing a
 *    connection in time proportional to its own subscriptions.
 *
 * Matching an event stamps a fresh generation number on every key node,
 * filter and subscription it touches: a key seen twice in one event (two
 * equal "p" tags) is scanned once, a filter reached through two keys is
 * tested once, and a subscription is visited once. Nothing is allocated per
 * event.
 *
 * Keys are hashed with SipHash-1-3 under a random per-index seed: tag values
 * are chosen by clients, and an unseeded hash would let one client pile its
 * subscriptions into one bucket and slow matching for every connection of
 * the thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <tern/error.h>

#include "relay/subindex.h"

/* ---- key families ------------------------------------------------------ */

enum fam {
	FAM_NONE = 0, /* matches nothing: not filed */
	FAM_ID,
	FAM_AUTHOR,
	FAM_TAG,
	FAM_KIND,
	FAM_CATCHALL,
	FAM_COUNT
};

/* ---- chained hash tables ----------------------------------------------- */

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	size_t mask; /* bucket count - 1; the count is a power of two */
	size_t n;    /* nodes */
};

#define HTAB_MIN 16

/* ---- records ----------------------------------------------------------- */

struct sub;

/* One (filter, key) entry of a key's posting array. */
struct posting {
	struct sub *s;
	uint32_t fi; /* filter number in s */
	uint32_t ki; /* key number in that filter */
};

struct knode {
	struct hnode h; /* first: the table stores &h */
	uint64_t gen;   /* last event that probed this key */
	struct posting *post;
	uint32_t n, cap;
	size_t klen;
	uint8_t fam, letter;
	uint8_t key[];
};

/* Where one key of one filter is filed. */
struct slot {
	struct knode *node; /* NULL while not (yet) filed */
	uint32_t pos;       /* index in node->post */
};

struct fmeta {
	uint64_t gen;       /* last event this filter was tested against */
	struct slot *slots; /* nkeys of them */
	uint32_t nkeys;
	uint8_t fam;
	uint32_t tagi;      /* for FAM_TAG: which tag field */
	uint32_t route;     /* matches only events of this route (in the
			       padding: the record stays 32 bytes) */
};

struct owner {
	struct hnode h;
	void *owner;
	struct sub *head;
	size_t n;
};

struct sub {
	struct hnode h; /* first: the (owner, id) table stores &h */
	tern__subindex_sub v;
	uint64_t gen;   /* last event that visited this subscription */
	struct owner *own;
	struct sub *oprev, *onext;
	struct fmeta *meta;
	size_t bytes;   /* size of this block */
	char id[TERN__SUBINDEX_ID_MAX + 1];
};

struct tern__subindex {
	uint64_t k0, k1;   /* hash seed */
	uint64_t gen;      /* event generation */
	unsigned busy;     /* callbacks running */
	struct htab keys, subs, owners;
	struct knode *catchall;
	size_t famkeys[FAM_COUNT];
	uint32_t tagkeys[256]; /* key nodes per tag letter */
	size_t nfilters, npostings, bytes;
};

/* ---- hashing ----------------------------------------------------------- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);      \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);      \
	} while (0)

/*
 * SipHash-1-3 (one compression round, three finalization rounds). Words are
 * read in host order: the hash only has to be consistent within a process.
 */
static uint64_t siphash13(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)n << 56;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; i + k < n; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* A bijective mixer for values the caller picks (owner pointers). */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t key_hash(const tern__subindex *ix, uint8_t fam, uint8_t letter,
			 const uint8_t *p, size_t n)
{
	return siphash13(ix->k0 ^ ((uint64_t)fam << 8 | letter), ix->k1, p, n);
}

static uint64_t owner_hash(const tern__subindex *ix, const void *owner)
{
	return mix64((uint64_t)(uintptr_t)owner ^ ix->k1);
}

static uint64_t sub_hash(const tern__subindex *ix, const void *owner, tern_slice id)
{
	return siphash13(ix->k0 ^ mix64((uint64_t)(uintptr_t)owner), ix->k1,
			 id.p, id.n);
}

/* ---- hash table operations --------------------------------------------- */

static int htab_init(tern__subindex *ix, struct htab *t)
{
	t->b = calloc(HTAB_MIN, sizeof(*t->b));
	if (!t->b)
		return TERN_ENOMEM;
	t->mask = HTAB_MIN - 1;
	t->n = 0;
	ix->bytes += HTAB_MIN * sizeof(*t->b);
	return 0;
}

static void htab_free(tern__subindex *ix, struct htab *t)
{
	if (t->b)
		ix->bytes -= (t->mask + 1) * sizeof(*t->b);
	free(t->b);
	t->b = NULL;
}

/* Rehashes into nb buckets. Best effort: on allocation failure the table
 * keeps its size and only chains get longer. */
static void htab_resize(tern__subindex *ix, struct htab *t, size_t nb)
{
	struct hnode **nbk = calloc(nb, sizeof(*nbk));

	if (!nbk)
		return;
	for (size_t i = 0; i <= t->mask; i++) {
		struct hnode *h = t->b[i], *next;

		for (; h; h = next) {
			next = h->next;
			h->next = nbk[h->hash & (nb - 1)];
			nbk[h->hash & (nb - 1)] = h;
		}
	}
	ix->bytes -= (t->mask + 1) * sizeof(*t->b);
	ix->bytes += nb * sizeof(*nbk);
	free(t->b);
	t->b = nbk;
	t->mask = nb - 1;
}

static void htab_insert(tern__subindex *ix, struct htab *t, struct hnode *h)
{
	struct hnode **b = &t->b[h->hash & t->mask];

	h->next = *b;
	*b = h;
	/* Load factor 1 keeps chains short; growth is amortized O(1). */
	if (++t->n > t->mask + 1 && t->mask + 1 <= SIZE_MAX / 2 / sizeof(*b))
		htab_resize(ix, t, (t->mask + 1) * 2);
}

static void htab_unlink(tern__subindex *ix, struct htab *t, struct hnode *h)
{
	struct hnode **pp = &t->b[h->hash & t->mask];

	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	/* Shrink below 1/8 load to a quarter, so the table tracks what is
	 * live and a burst of subscriptions does not pin memory forever. */
	if (--t->n < (t->mask + 1) / 8 && t->mask + 1 > HTAB_MIN) {
		size_t nb = (t->mask + 1) / 4;

		htab_resize(ix, t, nb < HTAB_MIN ? HTAB_MIN : nb);
	}
}

static struct hnode *htab_chain(const struct htab *t, uint64_t hash)
{
	return t->b[hash & t->mask];
}

/* ---- lifecycle --------------------------------------------------------- */

static void seed(tern__subindex *ix)
{
	uint64_t k[2];
	struct timespec ts;

	if (getrandom(k, sizeof k, GRND_NONBLOCK) == (ssize_t)sizeof k) {
		ix->k0 = k[0];
		ix->k1 = k[1];
		return;
	}
	/* No entropy yet (very early boot): still better than a fixed seed. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ix->k0 = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)ix);
	ix->k1 = mix64((uint64_t)ts.tv_sec ^ ix->k0);
}

int tern__subindex_new(tern__subindex **out)
{
	tern__subindex *ix = calloc(1, sizeof(*ix));

	*out = NULL;
	if (!ix)
		return TERN_ENOMEM;
	ix->bytes = sizeof(*ix);
	seed(ix);
	ix->catchall = calloc(1, sizeof(*ix->catchall));
	if (!ix->catchall)
		goto nomem;
	ix->catchall->fam = FAM_CATCHALL;
	ix->bytes += sizeof(*ix->catchall);
	if (htab_init(ix, &ix->keys) || htab_init(ix, &ix->subs) ||
	    htab_init(ix, &ix->owners))
		goto nomem;
	*out = ix;
	return 0;
nomem:
	htab_free(ix, &ix->keys);
	htab_free(ix, &ix->subs);
	htab_free(ix, &ix->owners);
	free(ix->catchall);
	free(ix);
	return TERN_ENOMEM;
}

/* ---- filing filters under keys ----------------------------------------- */

static struct knode *key_find(const tern__subindex *ix, uint64_t h, uint8_t fam,
			      uint8_t letter, const uint8_t *p, size_t n)
{
	for (struct hnode *hn = htab_chain(&ix->keys, h); hn; hn = hn->next) {
		struct knode *k = (struct knode *)hn;

		if (hn->hash == h && k->fam == fam && k->letter == letter &&
		    k->klen == n && (n == 0 || memcmp(k->key, p, n) == 0))
			return k;
	}
	return NULL;
}

/* The i-th key of a filed filter as (letter, bytes); kb is scratch for a kind. */
static void filter_key(const tern_filter *f, const struct fmeta *m, uint32_t i,
		       uint8_t kb[2], uint8_t *letter, const uint8_t **p, size_t *n)
{
	*letter = 0;
	switch (m->fam) {
	case FAM_ID:
		*p = f->ids[i];
		*n = 32;
		break;
	case FAM_AUTHOR:
		*p = f->authors[i];
		*n = 32;
		break;
	case FAM_TAG:
		*letter = (uint8_t)f->tags[m->tagi].name;
		*p = f->tags[m->tagi].values[i].p;
		*n = f->tags[m->tagi].values[i].n;
		break;
	case FAM_KIND:
		kb[0] = (uint8_t)(f->kinds[i] & 0xff);
		kb[1] = (uint8_t)(f->kinds[i] >> 8);
		*p = kb;
		*n = 2;
		break;
	default:
		*p = NULL;
		*n = 0;
		break;
	}
}

/* Appends a posting to k; returns its position or -1 when out of memory. */
static int64_t post_add(tern__subindex *ix, struct knode *k, struct sub *s,
			uint32_t fi, uint32_t ki)
{
	if (k->n == k->cap) {
		uint32_t cap = k->cap ? k->cap * 2 : 4;
		struct posting *np;

		if (k->cap >= UINT32_MAX / 2)
			return -1;
		np = realloc(k->post, (size_t)cap * sizeof(*np));
		if (!np)
			return -1;
		ix->bytes += (size_t)(cap - k->cap) * sizeof(*np);
		k->post = np;
		k->cap = cap;
	}
	k->post[k->n] = (struct posting){ s, fi, ki };
	ix->npostings++;
	return k->n++;
}

static void knode_free(tern__subindex *ix, struct knode *k)
{
	ix->bytes -= sizeof(*k) + k->klen + (size_t)k->cap * sizeof(*k->post);
	free(k->post);
	free(k);
}

/* Removes the posting of one slot, moving the last posting into its place. */
static void slot_unfile(tern__subindex *ix, struct slot *sl)
{
	struct knode *k = sl->node;
	uint32_t last;

	if (!k)
		return;
	sl->node = NULL;
	last = --k->n;
	ix->npostings--;
	if (sl->pos != last) {
		struct posting *p = &k->post[sl->pos];

		*p = k->post[last];
		p->s->meta[p->fi].slots[p->ki].pos = sl->pos;
	}
	if (k->n == 0 && k != ix->catchall) {
		htab_unlink(ix, &ix->keys, &k->h);
		ix->famkeys[k->fam]--;
		if (k->fam == FAM_TAG)
			ix->tagkeys[k->letter]--;
		knode_free(ix, k);
		return;
	}
	/* Give memory back when a popular key loses most of its postings. */
	if (k->cap > 8 && k->n <= k->cap / 4) {
		uint32_t cap = k->cap / 2;
		struct posting *np = realloc(k->post, (size_t)cap * sizeof(*np));

		if (np) {
			ix->bytes -= (size_t)(k->cap - cap) * sizeof(*np);
			k->post = np;
			k->cap = cap;
		}
	}
}

static void sub_unfile(tern__subindex *ix, struct sub *s)
{
	for (uint32_t fi = 0; fi < s->v.nfilters; fi++) {
		struct fmeta *m = &s->meta[fi];

		/* Last key first: a run of removals then pops postings off
		 * the ends of the arrays instead of moving others. */
		for (uint32_t ki = m->nkeys; ki-- > 0;)
			slot_unfile(ix, &m->slots[ki]);
	}
}

/* Files every key of every filter of s; on failure unfiles what was done. */
static int sub_file(tern__subindex *ix, struct sub *s)
{
	for (uint32_t fi = 0; fi < s->v.nfilters; fi++) {
		const tern_filter *f = &s->v.filters[fi];
		struct fmeta *m = &s->meta[fi];

		for (uint32_t ki = 0; ki < m->nkeys; ki++) {
			struct slot *sl = &m->slots[ki];
			struct knode *k;
			const uint8_t *p;
			uint8_t kb[2], letter;
			size_t n;
			int64_t pos;

			if (m->fam == FAM_CATCHALL) {
				k = ix->catchall;
			} else {
				uint64_t h;

				filter_key(f, m, ki, kb, &letter, &p, &n);
				h = key_hash(ix, m->fam, letter, p, n);
				k = key_find(ix, h, m->fam, letter, p, n);
				if (!k) {
					k = malloc(sizeof(*k) + n);
					if (!k)
						goto nomem;
					memset(k, 0, sizeof(*k));
					k->h.hash = h;
					k->fam = m->fam;
					k->letter = letter;
					k->klen = n;
					if (n)
						memcpy(k->key, p, n);
					ix->bytes += sizeof(*k) + n;
					htab_insert(ix, &ix->keys, &k->h);
					ix->famkeys[k->fam]++;
					if (k->fam == FAM_TAG)
						ix->tagkeys[letter]++;
				}
			}
			pos = post_add(ix, k, s, fi, ki);
			if (pos < 0) {
				if (k->n == 0 && k != ix->catchall) {
					htab_unlink(ix, &ix->keys, &k->h);
					ix->famkeys[k->fam]--;
					if (k->fam == FAM_TAG)
						ix->tagkeys[k->letter]--;
					knode_free(ix, k);
				}
				goto nomem;
			}
			sl->node = k;
			sl->pos = (uint32_t)pos;
		}
	}
	return 0;
nomem:
	sub_unfile(ix, s);
	return TERN_ENOMEM;
}

/* ---- deep copy --------------------------------------------------------- */

/*
 * A bump allocator over the subscription's block. Run once with base NULL
 * to measure, then over the real block: the same code decides the layout
 * both times, so the two passes cannot disagree.
 */
struct bump {
	uint8_t *base;
	size_t off;
	bool over;
};

static void *take(struct bump *b, size_t n, size_t align)
{
	size_t o = b->off + (align - 1);

	if (o < b->off) {
		b->over = true;
		return NULL;
	}
	o &= ~(align - 1);
	if (o + n < o) {
		b->over = true;
		return NULL;
	}
	b->off = o + n;
	return b->base ? b->base + o : NULL;
}

/* Size of n elements of size e, or SIZE_MAX (which then overflows take()). */
static size_t arr(size_t n, size_t e)
{
	return e && n > SIZE_MAX / e ? SIZE_MAX : n * e;
}

static const void *dup(struct bump *b, const void *src, size_t n, size_t align)
{
	void *d = take(b, n, align);

	if (d && n)
		memcpy(d, src, n);
	return d;
}

/* Copies src's lists into the block; dst is NULL while measuring. */
static void copy_filter(struct bump *b, tern_filter *dst, const tern_filter *src)
{
	const void *ids = NULL, *authors = NULL, *kinds = NULL, *search = NULL;
	tern_tag_filter *tags = NULL;

	if (src->ids)
		ids = dup(b, src->ids, arr(src->nids, 32), 8);
	if (src->authors)
		authors = dup(b, src->authors, arr(src->nauthors, 32), 8);
	if (src->kinds)
		kinds = dup(b, src->kinds, arr(src->nkinds, sizeof(uint16_t)), 8);
	if (src->tags)
		tags = take(b, arr(src->ntags, sizeof(*tags)), 8);
	for (uint32_t t = 0; src->tags && t < src->ntags; t++) {
		const tern_tag_filter *st = &src->tags[t];
		tern_slice *vals = NULL;

		if (st->values)
			vals = take(b, arr(st->nvalues, sizeof(*vals)), 8);
		for (uint32_t i = 0; st->values && i < st->nvalues; i++) {
			const void *p = dup(b, st->values[i].p, st->values[i].n, 1);

			if (vals)
				vals[i] = (tern_slice){ p, st->values[i].n };
		}
		if (tags)
			tags[t] = (tern_tag_filter){ st->name, vals ? st->nvalues : 0, vals };
	}
	if (src->has_search)
		search = dup(b, src->search.p, src->search.n, 1);
	if (!dst)
		return;
	*dst = *src;
	dst->ids = ids;
	dst->nids = ids ? src->nids : 0;
	dst->authors = authors;
	dst->nauthors = authors ? src->nauthors : 0;
	dst->kinds = kinds;
	dst->nkinds = kinds ? src->nkinds : 0;
	dst->tags = tags;
	dst->ntags = tags ? src->ntags : 0;
	dst->search = (tern_slice){ search, src->has_search ? src->search.n : 0 };
}

/*
 * Picks the key family a filter is filed under: the most selective one it
 * has. Filters that cannot match anything are not filed (FAM_NONE).
 */
static uint8_t plan_filter(const tern_filter *f, uint32_t *tagi, uint32_t *nkeys)
{
	uint32_t best = UINT32_MAX;

	*tagi = 0;
	*nkeys = 0;
	if (f->has_search || f->since > f->until)
		return FAM_NONE;
	if (f->ids) {
		*nkeys = f->nids;
		return f->nids ? FAM_ID : FAM_NONE;
	}
	if (f->authors) {
		*nkeys = f->nauthors;
		return f->nauthors ? FAM_AUTHOR : FAM_NONE;
	}
	for (uint32_t t = 0; f->tags && t < f->ntags; t++) {
		if (!f->tags[t].values || f->tags[t].nvalues == 0)
			return FAM_NONE;
		if (f->tags[t].nvalues < best) {
			best = f->tags[t].nvalues;
			*tagi = t;
		}
	}
	if (best != UINT32_MAX) {
		*nkeys = best;
		return FAM_TAG;
	}
	if (f->kinds) {
		*nkeys = f->nkinds;
		return f->nkinds ? FAM_KIND : FAM_NONE;
	}
	*nkeys = 1;
	return FAM_CATCHALL;
}

/*
 * Lays out [struct sub][filters][fmeta][slots][lists and strings] in b.
 * With b->base NULL it only measures; otherwise it fills the block.
 */
static struct sub *layout(struct bump *b, const tern_filter *src, uint32_t n)
{
	struct sub *s = take(b, sizeof(struct sub), _Alignof(struct sub));
	tern_filter *fs = take(b, arr(n, sizeof(*fs)), _Alignof(tern_filter));
	struct fmeta *meta = take(b, arr(n, sizeof(*meta)), _Alignof(struct fmeta));

	if (s) {
		memset(s, 0, sizeof(*s));
		s->v.filters = fs;
		s->v.nfilters = n;
		s->meta = meta;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t tagi, nkeys;
		uint8_t fam = plan_filter(&src[i], &tagi, &nkeys);
		struct slot *slots = take(b, arr(nkeys, sizeof(*slots)), _Alignof(struct slot));

		if (meta) {
			meta[i] = (struct fmeta){ .slots = slots, .nkeys = nkeys,
						  .fam = fam, .tagi = tagi };
			memset(slots, 0, (size_t)nkeys * sizeof(*slots));
		}
	}
	for (uint32_t i = 0; i < n; i++)
		copy_filter(b, fs ? &fs[i] : NULL, &src[i]);
	return s;
}

/* ---- owners and subscriptions ------------------------------------------ */

static struct owner *owner_find(const tern__subindex *ix, void *owner)
{
	uint64_t h = owner_hash(ix, owner);

	for (struct hnode *hn = htab_chain(&ix->owners, h); hn; hn = hn->next) {
		struct owner *o = (struct owner *)hn;

		if (o->owner == owner)
			return o;
	}
	return NULL;
}

static struct sub *sub_find(const tern__subindex *ix, void *owner, tern_slice id)
{
	uint64_t h = sub_hash(ix, owner, id);

	for (struct hnode *hn = htab_chain(&ix->subs, h); hn; hn = hn->next) {
		struct sub *s = (struct sub *)hn;

		if (hn->hash == h && s->v.owner == owner && s->v.id.n == id.n &&
		    (id.n == 0 || memcmp(s->id, id.p, id.n) == 0))
			return s;
	}
	return NULL;
}

static void owner_drop_if_empty(tern__subindex *ix, struct owner *o)
{
	if (o->n)
		return;
	htab_unlink(ix, &ix->owners, &o->h);
	ix->bytes -= sizeof(*o);
	free(o);
}

/* Unfiles s, unlinks it from both tables and frees it. */
static void sub_destroy(tern__subindex *ix, struct sub *s)
{
	struct owner *o = s->own;

	sub_unfile(ix, s);
	htab_unlink(ix, &ix->subs, &s->h);
	if (s->oprev)
		s->oprev->onext = s->onext;
	else
		o->head = s->onext;
	if (s->onext)
		s->onext->oprev = s->oprev;
	o->n--;
	ix->nfilters -= s->v.nfilters;
	ix->bytes -= s->bytes;
	free(s);
	owner_drop_if_empty(ix, o);
}

int tern__subindex_add(tern__subindex *ix, void *owner, tern_slice id,
		       const tern_filter *filters, size_t nfilters,
		       const tern__subindex_sub **out)
{
	return tern__subindex_add_routed(ix, owner, id, filters, nfilters,
					 NULL, out);
}

int tern__subindex_add_routed(tern__subindex *ix, void *owner, tern_slice id,
			      const tern_filter *filters, size_t nfilters,
			      const uint32_t *routes,
			      const tern__subindex_sub **out)
{
	struct bump b = { 0 };
	struct sub *s, *old;
	struct owner *o;
	bool new_owner = false;
	int rc;

	if (ix->busy)
		return -EBUSY;
	if (!owner || (nfilters && !filters))
		return TERN_EINVAL;
	if (id.n > TERN__SUBINDEX_ID_MAX || nfilters > UINT32_MAX)
		return TERN_ETOOBIG;

	layout(&b, filters, (uint32_t)nfilters);
	if (b.over)
		return TERN_ETOOBIG;
	b = (struct bump){ .base = malloc(b.off ? b.off : 1) };
	if (!b.base)
		return TERN_ENOMEM;
	s = layout(&b, filters, (uint32_t)nfilters);
	s->bytes = b.off;
	for (size_t i = 0; routes && i < nfilters; i++)
		s->meta[i].route = routes[i];
	s->v.owner = owner;
	if (id.n)
		memcpy(s->id, id.p, id.n);
	s->id[id.n] = '\0';
	s->v.id = (tern_slice){ (const uint8_t *)s->id, id.n };
	s->h.hash = sub_hash(ix, owner, id);

	o = owner_find(ix, owner);
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o) {
			free(s);
			return TERN_ENOMEM;
		}
		o->owner = owner;
		o->h.hash = owner_hash(ix, owner);
		htab_insert(ix, &ix->owners, &o->h);
		ix->bytes += sizeof(*o);
		new_owner = true;
	}
	rc = sub_file(ix, s);
	if (rc) {
		if (new_owner)
			owner_drop_if_empty(ix, o);
		free(s);
		return rc;
	}

	/* Link the new one before the old one goes, so that the owner record
	 * never empties (and is freed) in between. */
	old = new_owner ? NULL : sub_find(ix, owner, id);
	s->own = o;
	s->onext = o->head;
	if (o->head)
		o->head->oprev = s;
	o->head = s;
	o->n++;
	ix->nfilters += nfilters;
	ix->bytes += s->bytes;
	if (old)
		sub_destroy(ix, old);
	htab_insert(ix, &ix->subs, &s->h);
	if (out)
		*out = &s->v;
	return 0;
}

int tern__subindex_remove(tern__subindex *ix, void *owner, tern_slice id)
{
	struct sub *s;

	if (ix->busy)
		return -EBUSY;
	s = sub_find(ix, owner, id);
	if (!s)
		return TERN_ENOTFOUND;
	sub_destroy(ix, s);
	return 0;
}

int tern__subindex_remove_all(tern__subindex *ix, void *owner)
{
	struct owner *o;

	if (ix->busy)
		return -EBUSY;
	o = owner_find(ix, owner);
	if (!o)
		return 0;
	/* sub_destroy() frees o with the last subscription. */
	for (size_t n = o->n; n > 0; n--)
		sub_destroy(ix, o->head);
	return 0;
}

const tern__subindex_sub *tern__subindex_find(const tern__subindex *ix,
					      void *owner, tern_slice id)
{
	struct sub *s = sub_find(ix, owner, id);

	return s ? &s->v : NULL;
}

size_t tern__subindex_count(const tern__subindex *ix, void *owner)
{
	struct owner *o = owner_find(ix, owner);

	return o ? o->n : 0;
}

void tern__subindex_free(tern__subindex *ix)
{
	if (!ix)
		return;
	/* Everything goes, so nothing needs unfiling: free the blocks, the
	 * owner records and the key nodes in one pass over each table. */
	for (size_t i = 0; i <= ix->owners.mask; i++) {
		struct hnode *hn = ix->owners.b[i], *next;

		for (; hn; hn = next) {
			struct owner *o = (struct owner *)hn;
			struct sub *s = o->head, *snext;

			next = hn->next;
			for (; s; s = snext) {
				snext = s->onext;
				free(s);
			}
			free(o);
		}
	}
	for (size_t i = 0; i <= ix->keys.mask; i++) {
		struct hnode *hn = ix->keys.b[i], *next;

		for (; hn; hn = next) {
			next = hn->next;
			free(((struct knode *)hn)->post);
			free(hn);
		}
	}
	free(ix->keys.b);
	free(ix->subs.b);
	free(ix->owners.b);
	free(ix->catchall->post);
	free(ix->catchall);
	free(ix);
}

/* ---- matching ---------------------------------------------------------- */

struct walk {
	tern__subindex *ix;
	const tern_event *ev;
	uint32_t route;
	tern__subindex_visit_fn visit;
	void *ctx;
	uint64_t gen;
	size_t visits;
};

/*
 * tern_filter_match() minus the condition the key lookup has already
 * proved: a candidate found under the event's pubkey need not binary-search
 * its authors again. For home-feed filters (hundreds of authors) that search
 * was about half of the matching time in bench_match. The tag condition is
 * dropped only when the keyed tag is first or last, so that the rest stays
 * one contiguous array.
 */
static bool residual_match(const tern_filter *f, const struct fmeta *m,
			   const tern_event *ev)
{
	tern_filter r;

	switch (m->fam) {
	case FAM_ID:
		r = *f;
		r.ids = NULL;
		return tern_filter_match(&r, ev);
	case FAM_AUTHOR:
		r = *f;
		r.authors = NULL;
		return tern_filter_match(&r, ev);
	case FAM_KIND:
		r = *f;
		r.kinds = NULL;
		return tern_filter_match(&r, ev);
	case FAM_TAG:
		r = *f;
		if (m->tagi == 0) {
			r.tags++;
			r.ntags--;
		} else if (m->tagi == f->ntags - 1) {
			r.ntags--;
		}
		return tern_filter_match(&r, ev);
	default:
		return tern_filter_match(f, ev);
	}
}

static void scan(struct walk *w, struct knode *k)
{
	if (k->gen == w->gen)
		return;
	k->gen = w->gen;
	for (uint32_t i = 0; i < k->n; i++) {
		struct sub *s = k->post[i].s;
		struct fmeta *m;

		if (s->gen == w->gen)
			continue;
		m = &s->meta[k->post[i].fi];
		if (m->gen == w->gen || m->route != w->route)
			continue;
		m->gen = w->gen;
		if (residual_match(&s->v.filters[k->post[i].fi], m, w->ev)) {
			s->gen = w->gen;
			w->visits++;
			w->visit(w->ctx, &s->v);
		}
	}
}

static void probe(struct walk *w, uint8_t fam, uint8_t letter,
		  const uint8_t *p, size_t n)
{
	uint64_t h = key_hash(w->ix, fam, letter, p, n);
	struct knode *k = key_find(w->ix, h, fam, letter, p, n);

	if (k)
		scan(w, k);
}

size_t tern__subindex_match(tern__subindex *ix, const tern_event *ev,
			    tern__subindex_visit_fn visit, void *ctx)
{
	return tern__subindex_match_route(ix, ev, 0, visit, ctx);
}

size_t tern__subindex_match_route(tern__subindex *ix, const tern_event *ev,
				  uint32_t route,
				  tern__subindex_visit_fn visit, void *ctx)
{
	struct walk w = { ix, ev, route, visit, ctx, ++ix->gen, 0 };

	ix->busy++;
	/* Families with no keys at all are skipped without hashing: most
	 * events carry many tags whose letters no subscription asks for. */
	if (ix->famkeys[FAM_ID])
		probe(&w, FAM_ID, 0, ev->id, 32);
	if (ix->famkeys[FAM_AUTHOR])
		probe(&w, FAM_AUTHOR, 0, ev->pubkey, 32);
	if (ix->famkeys[FAM_KIND] && ev->kind <= 65535) {
		uint8_t kb[2] = { (uint8_t)(ev->kind & 0xff), (uint8_t)(ev->kind >> 8) };

		probe(&w, FAM_KIND, 0, kb, 2);
	}
	for (uint32_t i = 0; ix->famkeys[FAM_TAG] && i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n >= 2 && t->v[0].n == 1 && ix->tagkeys[t->v[0].p[0]])
			probe(&w, FAM_TAG, t->v[0].p[0], t->v[1].p, t->v[1].n);
	}
	scan(&w, ix->catchall);
	ix->busy--;
	return w.visits;
}

/* ---- listing ----------------------------------------------------------- */

static int walk_owner(struct owner *o,
		      int (*fn)(void *ctx, const tern__subindex_sub *sub),
		      void *ctx)
{
	for (struct sub *s = o->head; s; s = s->onext) {
		int rc = fn(ctx, &s->v);

		if (rc)
			return rc;
	}
	return 0;
}

int tern__subindex_foreach(tern__subindex *ix, void *owner,
			   int (*fn)(void *ctx, const tern__subindex_sub *sub),
			   void *ctx)
{
	int rc = 0;

	ix->busy++;
	if (owner) {
		struct owner *o = owner_find(ix, owner);

		if (o)
			rc = walk_owner(o, fn, ctx);
	} else {
		for (size_t i = 0; !rc && i <= ix->owners.mask; i++)
			for (struct hnode *hn = ix->owners.b[i]; !rc && hn; hn = hn->next)
				rc = walk_owner((struct owner *)hn, fn, ctx);
	}
	ix->busy--;
	return rc;
}

uint32_t tern__subindex_route(const tern__subindex_sub *sub, uint32_t i)
{
	const struct sub *s = (const struct sub *)((const char *)sub -
						   offsetof(struct sub, v));

	return s->meta[i].route;
}

bool tern__subindex_idle(const tern__subindex *ix)
{
	return ix->npostings == 0;
}

void tern__subindex_stats(const tern__subindex *ix, tern__subindex_counts *st)
{
	st->subs = ix->subs.n;
	st->owners = ix->owners.n;
	st->filters = ix->nfilters;
	st->keys = ix->keys.n;
	st->postings = ix->npostings;
	st->catchall = ix->catchall->n;
	st->bytes = ix->bytes;
}
