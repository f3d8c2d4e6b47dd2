/*
 * tern - the command-line entry point: dispatches to the subcommands,
 * prints help and version. Exit codes are those of server/cli_common.h.
 */
#include <stdio.h>
#include <string.h>

#include <tern/store.h>

#include "cli_common.h"

extern const cli_command cmd_serve; /* server/cmd_serve.c */

#ifndef TERN_VERSION
#define TERN_VERSION "unknown"
#endif

static const cli_command *const commands[] = {
	&cmd_serve,
	&cmd_import, &cmd_export, &cmd_scan, &cmd_count, &cmd_delete,
	&cmd_stats,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
	fputs("Usage: tern <command> [options] [args]\n"
	      "\n"
	      "tern is a Nostr relay framework and server. serve runs the relay;\n"
	      "the other commands work on its event store directly.\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s%s\n", commands[i]->name,
			commands[i]->summary);
	fputs("  version  print the version\n"
	      "  help     show this help, or a command's: tern help <command>\n"
	      "\n"
	      "Common options:\n"
	      "  --db DIR   the store directory (default " CLI_DEFAULT_DB ")\n"
	      "  --help     help for a command: tern <command> --help\n"
	      "\n"
	      "FILTER is a NIP-01 filter as a JSON object, or a JSON array of\n"
	      "filters (matching any of them), e.g. '{\"kinds\":[1],\"limit\":10}'.\n"
	      "Events are read and written as JSONL: one event per line in its\n"
	      "canonical JSON, compatible with strfry export/import.\n"
	      "\n"
	      "Exit codes:\n"
	      "  0  success\n"
	      "  1  runtime failure (store missing, unreadable or corrupt; I/O)\n"
	      "  2  usage error or malformed argument (e.g. an invalid filter)\n",
	      f);
}

static void print_version(void)
{
	printf("tern %s (store format %d)\n", TERN_VERSION,
	       TERN_STORE_FORMAT_VERSION);
}

static const cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "tern: unknown command '%s'\nTry 'tern --help'.\n",
		name);
	return CLI_EXIT_USAGE;
}

static int run_help(int argc, char **argv)
{
	const cli_command *cmd;

	if (argc < 2) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2) {
		fputs("tern: help takes at most one command name\n", stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "version") == 0) {
		fputs("Usage: tern version\n\nPrints the version of tern and "
		      "the store format it reads and writes.\n", stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	fputs(cmd->help, stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	const cli_command *cmd;
	const char *name;
	int rc;

	if (argc < 2) {
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(name, "help") == 0)
		return run_help(argc - 1, argv + 1);
	if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
		if (argc > 2 && (strcmp(argv[2], "--help") == 0 ||
				 strcmp(argv[2], "-h") == 0))
			return run_help(2, (char *[]){ "help", "version" });
		if (argc > 2) {
			fprintf(stderr, "tern: version: unexpected argument "
				"'%s'\n", argv[2]);
			return CLI_EXIT_USAGE;
		}
		print_version();
		return CLI_EXIT_OK;
	}
	cmd = find_command(name);
	if (!cmd)
		return unknown_command(name);
	rc = cmd->run(cmd, argc - 1, argv + 1);
	/* A full disk or a closed pipe shows up when stdout is flushed. */
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
		perror("tern: write error");
		rc = CLI_EXIT_FAIL;
	}
	return rc;
}
