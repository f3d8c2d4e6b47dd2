/* tern delete: remove the events matching a filter (an operator's delete). */
#include <inttypes.h>
#include <stdio.h>

#include <tern/error.h>

#include "cli_common.h"

static int run_delete(const cli_command *cmd, int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB;
	bool dry_run = false;
	const cli_opt opts[] = {
		{ "db", CLI_OPT_VALUE, NULL, &db },
		{ "dry-run", CLI_OPT_FLAG, &dry_run, NULL },
	};
	cli_query q;
	char *pos[1];
	size_t npos;
	uint64_t removed = 0;
	int rc, ec;

	if (cli_parse_args(cmd, argc, argv, opts, 2, pos, 1, &npos, &ec))
		return ec;
	if (npos == 0)
		return cli_usage_error(cmd, "missing FILTER");
	/* Deleting from a store that does not exist must not create one. */
	ec = cli_query_open(&q, db, pos[0], false);
	if (ec == CLI_EXIT_OK) {
		rc = tern_store_delete(q.st, q.fs, q.n, dry_run, &removed);
		if (rc < 0) {
			cli_error("delete failed: %s", tern_strerror(rc));
			ec = CLI_EXIT_FAIL;
		} else {
			printf("%s %" PRIu64 " event%s\n",
			       dry_run ? "would delete" : "deleted", removed,
			       removed == 1 ? "" : "s");
		}
	}
	cli_query_close(&q);
	return ec;
}

const cli_command cmd_delete = {
	.name = "delete",
	.summary = "remove the events matching a filter",
	.help =
	"Usage: tern delete [--db DIR] FILTER [--dry-run]\n"
	"\n"
	"Removes every stored event matching FILTER (or any filter of an array)\n"
	"and prints \"deleted N events\". This is an operator's delete: it\n"
	"leaves no NIP-09 tombstone, so the events may be imported again.\n"
	"Use '{}' to delete everything.\n"
	"\n"
	"Options:\n"
	"  --db DIR    the store directory (default " CLI_DEFAULT_DB ")\n"
	"  --dry-run   remove nothing; print \"would delete N events\"\n"
	"\n"
	"Exit codes: 0 success; 1 no store at DIR or store failure;\n"
	"2 usage error or invalid filter.\n",
	.run = run_delete,
};
