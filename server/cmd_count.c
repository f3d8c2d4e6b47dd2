/* tern count: print the number of stored events matching a filter. */
#include <inttypes.h>
#include <stdio.h>

#include <tern/error.h>

#include "cli_common.h"

static int run_count(const cli_command *cmd, int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB;
	const cli_opt opts[] = {
		{ "db", CLI_OPT_VALUE, NULL, &db },
	};
	cli_query q;
	char *pos[1];
	size_t npos;
	uint64_t count = 0;
	int rc, ec;

	if (cli_parse_args(cmd, argc, argv, opts, 1, pos, 1, &npos, &ec))
		return ec;
	if (npos == 0)
		return cli_usage_error(cmd, "missing FILTER");
	ec = cli_query_open(&q, db, pos[0], true);
	if (ec == CLI_EXIT_OK) {
		rc = tern_store_count(q.st, q.fs, q.n, &count);
		if (rc < 0) {
			cli_error("count failed: %s", tern_strerror(rc));
			ec = CLI_EXIT_FAIL;
		} else {
			printf("%" PRIu64 "\n", count);
		}
	}
	cli_query_close(&q);
	return ec;
}

const cli_command cmd_count = {
	.name = "count",
	.summary = "print the number of events matching a filter",
	.help =
	"Usage: tern count [--db DIR] FILTER\n"
	"\n"
	"Prints the number of stored, unexpired events matching FILTER (or any\n"
	"filter of an array), as a relay answers COUNT. \"limit\" is ignored.\n"
	"When one index answers the filter exactly, no event is read.\n"
	"\n"
	"Options:\n"
	"  --db DIR   the store directory (default " CLI_DEFAULT_DB ")\n"
	"\n"
	"Exit codes: 0 success; 1 no store at DIR or unreadable store;\n"
	"2 usage error or invalid filter.\n",
	.run = run_count,
};
