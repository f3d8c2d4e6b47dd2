/*
 * tern export / tern scan: write matching events as JSONL, newest first.
 *
 * Both stream straight from the store's visitor into a large stdout buffer:
 * one fwrite per event, no copy, no re-encoding (events are stored as their
 * canonical JSON).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tern/error.h>

#include "cli_common.h"

#define OUT_BUFFER (1u << 20)

struct sink {
	FILE *f;
	int err; /* errno of the first failed write */
};

static bool write_event(void *ctx, tern_slice json, uint64_t serial)
{
	struct sink *s = ctx;

	(void)serial;
	if (fwrite_unlocked(json.p, 1, json.n, s->f) != json.n ||
	    fputc_unlocked('\n', s->f) == EOF) {
		s->err = errno ? errno : EIO;
		return false;
	}
	return true;
}

/* Runs the query and prints the events; shared by export and scan. */
static int dump(const char *db, const char *filter_text, bool honour_limit)
{
	cli_query q;
	struct sink sink = { stdout, 0 };
	static char buf[OUT_BUFFER];
	int rc, ec;

	ec = cli_query_open(&q, db, filter_text, true);
	if (ec != CLI_EXIT_OK)
		goto out;
	if (!honour_limit)
		for (size_t i = 0; i < q.n; i++)
			q.fs[i].has_limit = false;
	/* Nothing has been written to stdout yet, so its buffer may change;
	 * the buffer is static because main() flushes stdout after we return. */
	setvbuf(stdout, buf, _IOFBF, sizeof buf);
	rc = tern_store_query(q.st, q.fs, q.n, 0, write_event, &sink);
	if (fflush(stdout) != 0 && !sink.err)
		sink.err = errno ? errno : EIO;
	if (sink.err) {
		cli_error("write error: %s", strerror(sink.err));
		ec = CLI_EXIT_FAIL;
	} else if (rc < 0) {
		cli_error("query failed: %s", tern_strerror(rc));
		ec = CLI_EXIT_FAIL;
	}
out:
	cli_query_close(&q);
	return ec;
}

static int run_export(const cli_command *cmd, int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB;
	char *pos[1];
	size_t npos;
	int ec;
	const cli_opt opts[] = {
		{ "db", CLI_OPT_VALUE, NULL, &db },
	};

	if (cli_parse_args(cmd, argc, argv, opts, 1, pos, 1, &npos, &ec))
		return ec;
	return dump(db, npos ? pos[0] : "{}", false);
}

static int run_scan(const cli_command *cmd, int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB;
	char *pos[1];
	size_t npos;
	int ec;
	const cli_opt opts[] = {
		{ "db", CLI_OPT_VALUE, NULL, &db },
	};

	if (cli_parse_args(cmd, argc, argv, opts, 1, pos, 1, &npos, &ec))
		return ec;
	if (npos == 0)
		return cli_usage_error(cmd, "missing FILTER");
	return dump(db, pos[0], true);
}

const cli_command cmd_export = {
	.name = "export",
	.summary = "write all (or matching) events as JSONL to stdout",
	.help =
	"Usage: tern export [--db DIR] [FILTER] > events.jsonl\n"
	"\n"
	"Writes every stored event, or every event matching FILTER, to stdout\n"
	"as JSONL (one canonical JSON event per line), newest first. A \"limit\"\n"
	"in FILTER is ignored: export is for whole dumps (see tern scan).\n"
	"The output can be read back with tern import or strfry import.\n"
	"\n"
	"Options:\n"
	"  --db DIR   the store directory (default " CLI_DEFAULT_DB ")\n"
	"\n"
	"Exit codes: 0 success; 1 no store at DIR, unreadable store or write\n"
	"error; 2 usage error or invalid filter.\n",
	.run = run_export,
};

const cli_command cmd_scan = {
	.name = "scan",
	.summary = "write events matching a filter as JSONL to stdout",
	.help =
	"Usage: tern scan [--db DIR] FILTER\n"
	"\n"
	"Writes the events matching FILTER to stdout as JSONL, newest first\n"
	"(equal created_at: lowest id first), honouring \"limit\" as a relay\n"
	"would answer a REQ. FILTER may be an array of filters: their results\n"
	"are merged and each event is written once.\n"
	"\n"
	"Options:\n"
	"  --db DIR   the store directory (default " CLI_DEFAULT_DB ")\n"
	"\n"
	"Exit codes: 0 success; 1 no store at DIR, unreadable store or write\n"
	"error; 2 usage error or invalid filter.\n",
	.run = run_scan,
};
