/*
 * The NIP-01 event model (include/tern/event.h): strict parsing into a
 * tern_event, canonical serialization, id and signature checks.
 *
 * Cost budget (DESIGN.md): signature verification is ~90% of ingest, so
 * parse + canonical JSON + SHA-256 must stay around a microsecond. Hence:
 *  - the scanner hands back slices of the input for strings without escapes
 *    (nearly all of them), so nothing is copied until the canonical JSON is
 *    written, once, into the arena;
 *  - when the input's "tags" array is already canonical (no escapes, no
 *    whitespace: what every client sends) it is copied with one memcpy;
 *  - the id preimage is never built: its parts are hashed in place from the
 *    canonical JSON, whose "tags" and "content" values are byte-identical
 *    to theirs, with one reused EVP_MD_CTX per thread (a one-shot SHA256()
 *    re-fetches the algorithm and costs ~0.5 us instead of ~0.3 us).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>

#include "proto/json.h"

/* The event object, its "tags" array and one tag need three levels. */
#define MIN_DEPTH 3

void tern_event_limits_defaults(tern_event_limits *l)
{
	l->max_json = 262144;
	l->max_content = 131072;
	l->max_tags = 5000;
	l->max_tag_values = 256;
	l->max_depth = 16;
}

enum {
	F_ID = 1 << 0,
	F_PUBKEY = 1 << 1,
	F_CREATED_AT = 1 << 2,
	F_KIND = 1 << 3,
	F_TAGS = 1 << 4,
	F_CONTENT = 1 << 5,
	F_SIG = 1 << 6,
	F_ALL = (1 << 7) - 1,
};

/* Field names in the order the "missing" checks report them. */
static const char *const field_names[] = {
	"id", "pubkey", "created_at", "kind", "tags", "content", "sig",
};

static inline bool key_is(tern_slice k, const char *s, size_t n)
{
	return k.n == n && memcmp(k.p, s, n) == 0;
}

static int field_of(tern_slice k)
{
	switch (k.n) {
	case 2: return key_is(k, "id", 2) ? F_ID : 0;
	case 3: return key_is(k, "sig", 3) ? F_SIG : 0;
	case 4:
		if (key_is(k, "kind", 4))
			return F_KIND;
		return key_is(k, "tags", 4) ? F_TAGS : 0;
	case 6: return key_is(k, "pubkey", 6) ? F_PUBKEY : 0;
	case 7: return key_is(k, "content", 7) ? F_CONTENT : 0;
	case 10: return key_is(k, "created_at", 10) ? F_CREATED_AT : 0;
	default: return 0;
	}
}

/* The name of the lowest field bit set in f. */
static const char *field_name(int f)
{
	return field_names[__builtin_ctz((unsigned)f)];
}

/*
 * Tag values are gathered flat (all values of all tags in one array, plus
 * a count per tag), in small on-stack arrays first: a typical event never
 * touches the arena for them until the final, exactly sized copy.
 */
#define STACK_VALS 64
#define STACK_TAGS 32

struct tagbuf {
	tern_slice *vals;
	uint32_t *counts;
	size_t nvals, cap_vals, ntags, cap_tags;
	size_t canon_len; /* bytes of the canonical "tags" array */
	bool all_raw;     /* no value had an escape */
	tern_slice stack_vals[STACK_VALS];
	uint32_t stack_counts[STACK_TAGS];
};

/* Doubles an array (moving it to the arena); NULL when out of memory. */
static void *grow(tern_arena *a, void *old, size_t *cap, size_t elem)
{
	void *p;

	if (*cap > SIZE_MAX / 2 / elem)
		return NULL;
	p = tern_arena_alloc(a, *cap * 2 * elem);
	if (!p)
		return NULL;
	memcpy(p, old, *cap * elem);
	*cap *= 2;
	return p;
}

static const char tags_msg[] = "\"tags\" must be an array of arrays of strings";

static int parse_tags(tern__json *j, tern_arena *a, const tern_event_limits *lim,
		      struct tagbuf *tb, tern_slice *span)
{
	tern_slice *v;
	bool raw;
	uint32_t nv;
	int rc;

	if (tern__json_peek(j) != '[')
		return tern__json_fail(j, TERN_EPARSE, "%s", tags_msg);
	span->p = j->p;
	if ((rc = tern__json_arr_begin(j)))
		return rc;
	while ((rc = tern__json_arr_next(j)) == 1) {
		if (tb->ntags >= lim->max_tags)
			return tern__json_fail(j, TERN_ETOOBIG,
					       "too many tags (more than %u)",
					       (unsigned)lim->max_tags);
		if (tern__json_peek(j) != '[')
			return tern__json_fail(j, TERN_EPARSE, "%s", tags_msg);
		if ((rc = tern__json_arr_begin(j)))
			return rc;
		for (nv = 0; (rc = tern__json_arr_next(j)) == 1; nv++) {
			if (nv >= lim->max_tag_values)
				return tern__json_fail(j, TERN_ETOOBIG,
						       "too many values in one tag (more than %u)",
						       (unsigned)lim->max_tag_values);
			if (tern__json_peek(j) != '"')
				return tern__json_fail(j, TERN_EPARSE, "%s", tags_msg);
			if (tb->nvals == tb->cap_vals &&
			    !(tb->vals = grow(a, tb->vals, &tb->cap_vals,
					      sizeof *tb->vals)))
				return tern__json_fail(j, TERN_ENOMEM, "out of memory");
			v = &tb->vals[tb->nvals++];
			if ((rc = tern__json_string(j, a, v, &raw)))
				return rc;
			tb->all_raw &= raw;
			tb->canon_len += raw ? v->n + 2 : tern__json_escaped_len(*v);
		}
		if (rc < 0)
			return rc;
		if (tb->ntags == tb->cap_tags &&
		    !(tb->counts = grow(a, tb->counts, &tb->cap_tags,
					sizeof *tb->counts)))
			return tern__json_fail(j, TERN_ENOMEM, "out of memory");
		tb->counts[tb->ntags++] = nv;
		tb->canon_len += 2 + (nv ? nv - 1 : 0);
	}
	if (rc < 0)
		return rc;
	tb->canon_len += 2 + (tb->ntags ? tb->ntags - 1 : 0);
	span->n = (size_t)(j->p - span->p);
	return 0;
}

/* A string of exactly 2*n lowercase hex digits, decoded into out. */
static int parse_hex(tern__json *j, tern_arena *a, uint8_t *out, size_t n,
		     tern_slice *text, const char *msg)
{
	int rc;

	if (tern__json_peek(j) != '"')
		return tern__json_fail(j, TERN_EPARSE, "%s", msg);
	/* Fast path: 2n hex digits then the closing quote. Hex digits need no
	 * string scanning; anything else takes the general path below, which
	 * reports the precise error. */
	if ((size_t)(j->end - j->p) >= 2 * n + 2 && j->p[2 * n + 1] == '"' &&
	    tern_hex_decode(out, (const char *)j->p + 1, n)) {
		text->p = j->p + 1;
		text->n = 2 * n;
		j->p += 2 * n + 2;
		return 0;
	}
	if ((rc = tern__json_string(j, a, text, NULL)))
		return rc;
	if (text->n != 2 * n || !tern_hex_decode(out, (const char *)text->p, n))
		return tern__json_fail(j, TERN_EPARSE, "%s", msg);
	return 0;
}

/* Decimal digits of v into buf (at least 20 bytes); returns the length. */
static size_t put_u64(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

#define PUT_LIT(d, s)                          \
	do {                                   \
		memcpy(d, s, sizeof(s) - 1);   \
		d += sizeof(s) - 1;            \
	} while (0)

/* Writes the canonical JSON and the tags array into one arena block. */
static int build(tern_event *ev, tern__json *j, tern_arena *a,
		 const struct tagbuf *tb, tern_slice tags_span, bool content_raw,
		 const tern_slice hex[3])
{
	char created[20], kind[20];
	size_t nc = put_u64(created, ev->created_at), nk = put_u64(kind, ev->kind);
	size_t content_len = content_raw ? ev->content.n + 2
					 : tern__json_escaped_len(ev->content);
	size_t head = sizeof "{\"id\":\"" - 1 + 64 + sizeof "\",\"pubkey\":\"" - 1 +
		      64 + sizeof "\",\"created_at\":" - 1 + nc +
		      sizeof ",\"kind\":" - 1 + nk + sizeof ",\"tags\":" - 1;
	size_t json_len = head + tb->canon_len + sizeof ",\"content\":" - 1 +
			  content_len + sizeof ",\"sig\":\"" - 1 + 128 + 2;
	size_t tags_sz = tb->ntags * sizeof(tern_tag);
	size_t vals_sz = tb->nvals * sizeof(tern_slice);
	tern_tag *tags;
	tern_slice *vals;
	uint8_t *mem, *d;

	if (json_len > UINT32_MAX)
		return tern__json_fail(j, TERN_ETOOBIG, "event too large");
	mem = tern_arena_alloc(a, tags_sz + vals_sz + json_len);
	if (!mem)
		return tern__json_fail(j, TERN_ENOMEM, "out of memory");
	tags = (tern_tag *)(void *)mem;
	vals = (tern_slice *)(void *)(mem + tags_sz);
	if (vals_sz)
		memcpy(vals, tb->vals, vals_sz);
	for (size_t t = 0, k = 0; t < tb->ntags; t++) {
		tags[t].v = vals + k;
		tags[t].n = tb->counts[t];
		k += tb->counts[t];
	}
	ev->tags = tb->ntags ? tags : NULL;
	ev->ntags = (uint32_t)tb->ntags;

	d = mem + tags_sz + vals_sz;
	ev->json.p = d;
	ev->json.n = json_len;
	PUT_LIT(d, "{\"id\":\"");
	memcpy(d, hex[0].p, 64);
	d += 64;
	PUT_LIT(d, "\",\"pubkey\":\"");
	memcpy(d, hex[1].p, 64);
	d += 64;
	PUT_LIT(d, "\",\"created_at\":");
	memcpy(d, created, nc);
	d += nc;
	PUT_LIT(d, ",\"kind\":");
	memcpy(d, kind, nk);
	d += nk;
	PUT_LIT(d, ",\"tags\":");
	ev->tags_off = (uint32_t)(d - ev->json.p);
	ev->tags_len = (uint32_t)tb->canon_len;
	if (tb->all_raw && tags_span.n == tb->canon_len) {
		/* Same structure, no escapes, same length: no whitespace
		 * either, so the input is already canonical. */
		memcpy(d, tags_span.p, tags_span.n);
		d += tags_span.n;
	} else {
		*d++ = '[';
		for (size_t t = 0, k = 0; t < tb->ntags; t++) {
			if (t)
				*d++ = ',';
			*d++ = '[';
			for (uint32_t i = 0; i < tb->counts[t]; i++, k++) {
				if (i)
					*d++ = ',';
				d = tern__json_escape(d, vals[k]);
			}
			*d++ = ']';
		}
		*d++ = ']';
	}
	PUT_LIT(d, ",\"content\":");
	ev->content_off = (uint32_t)(d - ev->json.p);
	ev->content_len = (uint32_t)content_len;
	if (content_raw) {
		*d++ = '"';
		memcpy(d, ev->content.p, ev->content.n);
		d += ev->content.n;
		*d++ = '"';
	} else {
		d = tern__json_escape(d, ev->content);
	}
	PUT_LIT(d, ",\"sig\":\"");
	memcpy(d, hex[2].p, 128);
	d += 128;
	*d++ = '"';
	*d++ = '}';
	return 0;
}

int tern_event_parse(tern_event *ev, const uint8_t *buf, size_t len,
		     const tern_event_limits *lim, tern_arena *a,
		     tern_reason *why)
{
	tern_event_limits defaults;
	struct tagbuf tb;
	tern__json j;
	tern_slice key, hex[3] = { { NULL, 0 } }, tags_span = { NULL, 0 };
	uint64_t v = 0;
	unsigned seen = 0;
	bool content_raw = true;
	int rc, f;

	if (!lim) {
		tern_event_limits_defaults(&defaults);
		lim = &defaults;
	}
	if (len > lim->max_json) {
		tern_reason_set(why, TERN_PREFIX_INVALID,
				"event too large (%zu > %zu bytes)", len,
				lim->max_json);
		return TERN_ETOOBIG;
	}
	tb.vals = tb.stack_vals;
	tb.counts = tb.stack_counts;
	tb.nvals = tb.ntags = 0;
	tb.cap_vals = STACK_VALS;
	tb.cap_tags = STACK_TAGS;
	tb.canon_len = 0;
	tb.all_raw = true;
	memset(ev, 0, sizeof *ev);

	tern__json_init(&j, buf, len,
			lim->max_depth < MIN_DEPTH ? MIN_DEPTH : lim->max_depth, why);
	if (tern__json_peek(&j) != '{')
		return tern__json_fail(&j, TERN_EPARSE, "event must be a JSON object");
	if ((rc = tern__json_obj_begin(&j)))
		return rc;
	while ((rc = tern__json_obj_next(&j, a, &key)) == 1) {
		f = field_of(key);
		if (f & seen)
			return tern__json_fail(&j, TERN_EPARSE, "duplicate \"%s\"",
					       field_name(f));
		seen |= (unsigned)f;
		switch (f) {
		case F_ID:
			rc = parse_hex(&j, a, ev->id, 32, &hex[0],
				       "\"id\" must be 64 lowercase hex characters");
			break;
		case F_PUBKEY:
			rc = parse_hex(&j, a, ev->pubkey, 32, &hex[1],
				       "\"pubkey\" must be 64 lowercase hex characters");
			break;
		case F_SIG:
			rc = parse_hex(&j, a, ev->sig, 64, &hex[2],
				       "\"sig\" must be 128 lowercase hex characters");
			break;
		case F_CREATED_AT:
			rc = tern__json_uint64_or(&j, &ev->created_at,
						  "\"created_at\" must be a non-negative integer");
			break;
		case F_KIND:
			rc = tern__json_uint64_or(&j, &v, "\"kind\" must be an integer 0-65535");
			if (!rc && v > 65535)
				rc = tern__json_fail(&j, TERN_EPARSE,
						     "\"kind\" must be an integer 0-65535");
			ev->kind = (uint32_t)v;
			break;
		case F_TAGS:
			rc = parse_tags(&j, a, lim, &tb, &tags_span);
			break;
		case F_CONTENT:
			if (tern__json_peek(&j) != '"') {
				rc = tern__json_fail(&j, TERN_EPARSE,
						     "\"content\" must be a string");
				break;
			}
			rc = tern__json_string(&j, a, &ev->content, &content_raw);
			if (!rc && ev->content.n > lim->max_content)
				rc = tern__json_fail(&j, TERN_ETOOBIG,
						     "content too large (%zu > %zu bytes)",
						     ev->content.n, lim->max_content);
			break;
		default:
			rc = tern__json_skip(&j); /* unknown field */
			break;
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (tern__json_peek(&j) != -1)
		return tern__json_fail(&j, TERN_EPARSE, "trailing garbage after event");
	if (seen != F_ALL)
		return tern__json_fail(&j, TERN_EPARSE, "missing \"%s\"",
				       field_name((int)(F_ALL & ~seen)));
	return build(ev, &j, a, &tb, tags_span, content_raw, hex);
}

/* ---- id ------------------------------------------------------------------ */

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;    /* fetched once, kept for the process */
static pthread_key_t ctx_key; /* frees each thread's context at its exit */
static _Thread_local EVP_MD_CTX *tls_ctx;

static void free_ctx(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	pthread_key_create(&ctx_key, free_ctx);
}

static EVP_MD_CTX *thread_ctx(void)
{
	if (tls_ctx)
		return tls_ctx;
	pthread_once(&sha_once, sha_init);
	if (!sha256_md)
		return NULL;
	tls_ctx = EVP_MD_CTX_new();
	if (tls_ctx && pthread_setspecific(ctx_key, tls_ctx) != 0) {
		EVP_MD_CTX_free(tls_ctx);
		tls_ctx = NULL;
	}
	return tls_ctx;
}

/* Hashes [0,"<pubkey>",<created_at>,<kind>,<tags>,<content>]. */
static int hash_id(const tern_event *ev, uint8_t out[32])
{
	EVP_MD_CTX *ctx = thread_ctx();
	char head[4 + 64 + 2 + 20 + 1 + 20 + 1], *p = head;
	const uint8_t *json = ev->json.p;

	if (!ctx)
		return TERN_ECRYPTO;
	PUT_LIT(p, "[0,\"");
	tern_hex_encode(p, ev->pubkey, 32);
	p += 64;
	PUT_LIT(p, "\",");
	p += put_u64(p, ev->created_at);
	*p++ = ',';
	p += put_u64(p, ev->kind);
	*p++ = ',';
	if (!EVP_DigestInit_ex(ctx, sha256_md, NULL) ||
	    !EVP_DigestUpdate(ctx, head, (size_t)(p - head)) ||
	    !EVP_DigestUpdate(ctx, json + ev->tags_off, ev->tags_len) ||
	    !EVP_DigestUpdate(ctx, ",", 1) ||
	    !EVP_DigestUpdate(ctx, json + ev->content_off, ev->content_len) ||
	    !EVP_DigestUpdate(ctx, "]", 1) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL))
		return TERN_ECRYPTO;
	return 0;
}

void tern_event_compute_id(const tern_event *ev, uint8_t out[32])
{
	if (hash_id(ev, out))
		memset(out, 0, 32); /* never matches a real id */
}

int tern_event_check_id(const tern_event *ev, tern_reason *why)
{
	uint8_t id[32];

	if (hash_id(ev, id)) {
		tern_reason_set(why, TERN_PREFIX_ERROR, "SHA-256 unavailable");
		return TERN_ECRYPTO;
	}
	if (memcmp(id, ev->id, 32) != 0) {
		tern_reason_set(why, TERN_PREFIX_INVALID, "event id does not match");
		return TERN_EBADID;
	}
	return 0;
}

/* ---- signature -----------------------------------------------------------
 *
 * Parsing an x-only public key (decompressing it: a field square root) is
 * ~12% of a verification (DESIGN.md), and a relay sees the same authors
 * again and again. Each thread keeps a small 2-way set-associative cache of
 * parsed keys, keyed by the 32 key bytes (only keys that parsed are cached;
 * a hit is checked by comparing all 32 bytes, so a collision costs a parse,
 * never a wrong answer). Like the digest context, it is allocated on a
 * thread's first verification and freed at the thread's exit.
 */

#define PK_SETS 512 /* x 2 ways = 1024 keys, 96 KiB per thread */

struct pk_entry {
	uint8_t key[32];
	secp256k1_xonly_pubkey pk;
};

struct pk_cache {
	struct pk_entry e[PK_SETS][2];
	uint8_t used[PK_SETS];   /* ways filled: 0, 1 or 2 */
	uint8_t victim[PK_SETS]; /* way replaced next: the least recently used */
};

static pthread_once_t secp_once = PTHREAD_ONCE_INIT;
static secp256k1_context *secp_ctx; /* verify-only use, shared by all threads */
static pthread_key_t pk_key;        /* frees each thread's cache at its exit */
static bool pk_key_ok;
static _Thread_local struct pk_cache *tls_pk;
static _Thread_local bool tls_pk_failed; /* no cache for this thread */

static void secp_init(void)
{
	secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	pk_key_ok = pthread_key_create(&pk_key, free) == 0;
}

static struct pk_cache *thread_pk_cache(void)
{
	if (tls_pk || tls_pk_failed)
		return tls_pk;
	if (pk_key_ok)
		tls_pk = calloc(1, sizeof *tls_pk);
	if (tls_pk && pthread_setspecific(pk_key, tls_pk) != 0) {
		free(tls_pk);
		tls_pk = NULL;
	}
	tls_pk_failed = !tls_pk;
	return tls_pk;
}

/* The parsed form of pubkey, from the cache or parsed into *tmp; NULL when
 * pubkey is not a valid x-only key. */
static const secp256k1_xonly_pubkey *get_pubkey(const uint8_t pubkey[32],
						secp256k1_xonly_pubkey *tmp)
{
	struct pk_cache *c = thread_pk_cache();
	struct pk_entry *e;
	uint32_t set, w;

	if (!c)
		return secp256k1_xonly_pubkey_parse(secp_ctx, tmp, pubkey) ?
		       tmp : NULL;
	/* Key bytes are uniform for real keys; an adversary aiming at one
	 * set only turns its own lookups into parses. */
	set = ((uint32_t)pubkey[0] | (uint32_t)pubkey[1] << 8) % PK_SETS;
	for (w = 0; w < c->used[set]; w++) {
		e = &c->e[set][w];
		if (memcmp(e->key, pubkey, 32) == 0) {
			c->victim[set] = (uint8_t)(w ^ 1); /* LRU */
			return &e->pk;
		}
	}
	if (!secp256k1_xonly_pubkey_parse(secp_ctx, tmp, pubkey))
		return NULL;
	w = c->used[set] < 2 ? c->used[set]++ : c->victim[set];
	c->victim[set] = (uint8_t)(w ^ 1);
	e = &c->e[set][w];
	memcpy(e->key, pubkey, 32);
	e->pk = *tmp; /* the type may be copied (secp256k1_extrakeys.h) */
	return &e->pk;
}

int tern_event_check_sig(const tern_event *ev, tern_reason *why)
{
	const secp256k1_xonly_pubkey *pk;
	secp256k1_xonly_pubkey tmp;

	pthread_once(&secp_once, secp_init);
	if (!secp_ctx) {
		tern_reason_set(why, TERN_PREFIX_ERROR, "secp256k1 unavailable");
		return TERN_ECRYPTO;
	}
	pk = get_pubkey(ev->pubkey, &tmp);
	if (!pk ||
	    !secp256k1_schnorrsig_verify(secp_ctx, ev->sig, ev->id, 32, pk)) {
		tern_reason_set(why, TERN_PREFIX_INVALID, "bad signature");
		return TERN_EBADSIG;
	}
	return 0;
}

int tern_event_check(const tern_event *ev, tern_reason *why)
{
	int rc = tern_event_check_id(ev, why);

	return rc ? rc : tern_event_check_sig(ev, why);
}

/* ---- tags ---------------------------------------------------------------- */

static inline bool slice_is(tern_slice s, const char *str, size_t n)
{
	return s.n == n && memcmp(s.p, str, n) == 0;
}

const tern_slice *tern_event_tag_value(const tern_event *ev, const char *name)
{
	size_t n = strlen(name);

	for (uint32_t i = 0; i < ev->ntags; i++) {
		const tern_tag *t = &ev->tags[i];

		if (t->n >= 2 && slice_is(t->v[0], name, n))
			return &t->v[1];
	}
	return NULL;
}

tern_slice tern_event_d_tag(const tern_event *ev)
{
	const tern_slice *v = tern_event_tag_value(ev, "d");
	tern_slice empty = { (const uint8_t *)"", 0 };

	return v ? *v : empty;
}

bool tern_event_expiration(const tern_event *ev, uint64_t *out)
{
	const tern_slice *v = tern_event_tag_value(ev, "expiration");
	uint64_t t = 0;

	if (!v || v->n == 0 || v->n > 20)
		return false;
	for (size_t i = 0; i < v->n; i++) {
		uint8_t c = v->p[i];

		if (c < '0' || c > '9')
			return false;
		if (t > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return false;
		t = t * 10 + (uint64_t)(c - '0');
	}
	*out = t;
	return true;
}

bool tern_event_is_protected(const tern_event *ev)
{
	for (uint32_t i = 0; i < ev->ntags; i++)
		if (ev->tags[i].n >= 1 && slice_is(ev->tags[i].v[0], "-", 1))
			return true;
	return false;
}

bool tern_event_parse_address(tern_slice a, uint16_t *kind,
			      uint8_t pubkey[32], tern_slice *d)
{
	size_t i = 0;
	uint32_t k = 0;

	while (i < a.n && i < 6 && a.p[i] >= '0' && a.p[i] <= '9')
		k = k * 10 + (uint32_t)(a.p[i++] - '0');
	if (i == 0 || i > 5 || k > 65535 || i >= a.n || a.p[i] != ':')
		return false;
	i++;
	if (a.n - i < 64 || !tern_hex_decode(pubkey, (const char *)a.p + i, 32))
		return false;
	i += 64;
	if (i < a.n && a.p[i] != ':')
		return false;
	if (i < a.n)
		i++;
	*kind = (uint16_t)k;
	d->p = a.p + i;
	d->n = a.n - i;
	return true;
}
