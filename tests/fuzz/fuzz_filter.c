/*
 * libFuzzer target for the filter parser (src/nostr/filter.c).
 *
 * Checks, for every input:
 *  - if jansson refuses the text as JSON, both tern_filter_parse() and
 *    tern_filter_parse_list() refuse it too (jansson's only refusals of
 *    valid JSON, integers beyond int64, are left out);
 *  - an accepted input is JSON to jansson as well (same exception);
 *  - an accepted filter formats to JSON that parses back to an equal filter
 *    and formats to the same bytes again;
 *  - an event built from the first value of each of the filter's lists
 *    matches it (unless "search" or since > until make it match nothing).
 * Any violation aborts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>
#include <tern/filter.h>

static tern_arena arena;

static void die(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_filter: %s\ninput (%zu bytes): %.*s\n", what, size,
		(int)(size > 2000 ? 2000 : size), (const char *)data);
	abort();
}

/* The formatted JSON parses back to f and is a fixed point of format. */
static void check_roundtrip(const tern_filter *f, const uint8_t *data, size_t size)
{
	size_t n = tern_filter_format(f, NULL, 0), n2;
	char *buf = malloc(n + 1), *buf2 = malloc(n + 1);
	tern_filter g;
	tern_reason why = { 0 };
	json_error_t jerr;
	json_t *jv;
	int rc;

	if (!buf || !buf2)
		abort();
	if (tern_filter_format(f, buf, n + 1) != n || strlen(buf) != n)
		die("format length mismatch", data, size);
	rc = tern_filter_parse(&g, (const uint8_t *)buf, n, NULL, &arena, &why);
	if (rc) {
		fprintf(stderr, "formatted: %s\nreason: %s\n", buf, why.msg);
		die("formatted filter does not parse", data, size);
	}
	if (!tern_filter_equal(f, &g)) {
		fprintf(stderr, "formatted: %s\n", buf);
		die("formatted filter parses to a different filter", data, size);
	}
	n2 = tern_filter_format(&g, buf2, n + 1);
	if (n2 != n || memcmp(buf, buf2, n) != 0)
		die("format is not a fixed point", data, size);
	jv = json_loadb(buf, n, JSON_ALLOW_NUL, &jerr);
	if (!jv) {
		if (json_error_code(&jerr) != json_error_numeric_overflow) {
			fprintf(stderr, "formatted: %s\njansson: %s\n", buf, jerr.text);
			die("formatted filter is not JSON", data, size);
		}
	} else {
		json_decref(jv);
	}
	free(buf);
	free(buf2);
}

/* An event made of the first value of each list must match f. */
static void check_match(const tern_filter *f, const uint8_t *data, size_t size)
{
	tern_event ev;
	tern_tag tags[64];
	tern_slice vals[64][2];
	uint32_t nt = 0;

	memset(&ev, 0, sizeof ev);
	if (f->ids)
		memcpy(ev.id, f->ids[0], 32);
	if (f->authors)
		memcpy(ev.pubkey, f->authors[0], 32);
	ev.kind = f->kinds ? f->kinds[0] : 1;
	ev.created_at = f->since;
	for (uint32_t i = 0; i < f->ntags && nt < 64; i++, nt++) {
		vals[nt][0].p = (const uint8_t *)&f->tags[i].name;
		vals[nt][0].n = 1;
		vals[nt][1] = f->tags[i].values[f->tags[i].nvalues - 1];
		tags[nt].v = vals[nt];
		tags[nt].n = 2;
	}
	ev.tags = tags;
	ev.ntags = nt;
	bool want = !f->has_search && f->since <= f->until;
	if (tern_filter_match(f, &ev) != want)
		die("constructed event does not match as expected", data, size);
	if (want && f->kinds) {
		/* A kind just outside the list must not match. */
		ev.kind = 65536;
		if (tern_filter_match(f, &ev))
			die("kind 65536 matched", data, size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tern_filter f, *fs;
	size_t n;
	tern_reason why1 = { 0 }, why2 = { 0 };
	json_error_t jerr;
	json_t *jv;
	bool json_ok, overflow = false;
	int rc1, rc2;

	tern_arena_reset(&arena);
	jv = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	json_ok = jv != NULL;
	if (!json_ok)
		overflow = json_error_code(&jerr) == json_error_numeric_overflow;
	json_decref(jv);

	rc1 = tern_filter_parse(&f, data, size, NULL, &arena, &why1);
	rc2 = tern_filter_parse_list(&fs, &n, data, size, NULL, &arena, &why2);

	if (!json_ok && !overflow && (rc1 == 0 || rc2 == 0))
		die("accepted text that jansson refuses as JSON", data, size);
	if (rc1 == 0) {
		check_roundtrip(&f, data, size);
		check_match(&f, data, size);
		if (rc2 != 0 || n != 1 || !tern_filter_equal(&f, &fs[0]))
			die("parse and parse_list disagree on one object", data, size);
	}
	if (rc2 == 0) {
		if (n == 0)
			die("parse_list returned no filters", data, size);
		for (size_t i = 0; i < n; i++) {
			check_roundtrip(&fs[i], data, size);
			check_match(&fs[i], data, size);
		}
	}
	/* Every failure carries a reason. */
	if ((rc1 && !why1.msg[0]) || (rc2 && !why2.msg[0]))
		die("error without a reason", data, size);
	return 0;
}
