/* tern stats: print what the store holds. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <tern/error.h>

#include "cli_common.h"

/* ISO 8601 UTC form of a created_at, or "-" for 0 (empty store). */
static const char *iso_time(uint64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || t > (uint64_t)253402300799 || !gmtime_r(&tt, &tm) ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

static void print_text(const char *db, const tern_store_stats *s)
{
	char t1[32], t2[32];

	printf("store:          %s\n", db);
	printf("format_version: %" PRIu32 "\n", s->format_version);
	printf("events:         %" PRIu64 "\n", s->events);
	printf("tombstones:     %" PRIu64 "\n", s->tombstones);
	printf("expiring:       %" PRIu64 "\n", s->expiring);
	printf("oldest:         %" PRIu64 " (%s)\n", s->oldest,
	       iso_time(s->oldest, t1, sizeof t1));
	printf("newest:         %" PRIu64 " (%s)\n", s->newest,
	       iso_time(s->newest, t2, sizeof t2));
	printf("index_entries:  %" PRIu64 "\n", s->index_entries);
	printf("next_serial:    %" PRIu64 "\n", s->next_serial);
	printf("used_bytes:     %" PRIu64 "\n", s->used_bytes);
	printf("map_size:       %" PRIu64 "\n", s->map_size);
}

static void print_json(const tern_store_stats *s)
{
	printf("{\"format_version\":%" PRIu32 ",\"events\":%" PRIu64
	       ",\"tombstones\":%" PRIu64 ",\"expiring\":%" PRIu64
	       ",\"oldest\":%" PRIu64 ",\"newest\":%" PRIu64
	       ",\"index_entries\":%" PRIu64 ",\"next_serial\":%" PRIu64
	       ",\"used_bytes\":%" PRIu64 ",\"map_size\":%" PRIu64 "}\n",
	       s->format_version, s->events, s->tombstones, s->expiring,
	       s->oldest, s->newest, s->index_entries, s->next_serial,
	       s->used_bytes, s->map_size);
}

static int run_stats(const cli_command *cmd, int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB;
	bool json = false;
	const cli_opt opts[] = {
		{ "db", CLI_OPT_VALUE, NULL, &db },
		{ "json", CLI_OPT_FLAG, &json, NULL },
	};
	tern_store *st = NULL;
	tern_store_stats s;
	size_t npos;
	int rc, ec;

	if (cli_parse_args(cmd, argc, argv, opts, 2, NULL, 0, &npos, &ec))
		return ec;
	ec = cli_open_store(&st, db, true, true, NULL);
	if (ec != CLI_EXIT_OK)
		return ec;
	rc = tern_store_stats_get(st, &s);
	if (rc < 0) {
		cli_error("cannot read store statistics: %s",
			  tern_strerror(rc));
		ec = CLI_EXIT_FAIL;
	} else if (json) {
		print_json(&s);
	} else {
		print_text(db, &s);
	}
	tern_store_close(st);
	return ec;
}

const cli_command cmd_stats = {
	.name = "stats",
	.summary = "print statistics about the store",
	.help =
	"Usage: tern stats [--db DIR] [--json]\n"
	"\n"
	"Prints the store's format version, its number of events, deletion\n"
	"tombstones and expiring events, the created_at range, the number of\n"
	"index entries and the disk space in use (LMDB pages, map size).\n"
	"\n"
	"Options:\n"
	"  --db DIR   the store directory (default " CLI_DEFAULT_DB ")\n"
	"  --json     print one JSON object instead of \"key: value\" lines\n"
	"\n"
	"Exit codes: 0 success; 1 no store at DIR or unreadable store;\n"
	"2 usage error.\n",
	.run = run_stats,
};
