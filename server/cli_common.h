/*
 * server/cli_common.h - what every `tern` subcommand shares: exit codes,
 * option parsing, opening the store, reading a filter argument.
 *
 * The server is composition only: everything here is built on the public
 * API in include/tern/.
 */
#ifndef TERN_SERVER_CLI_COMMON_H
#define TERN_SERVER_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/filter.h>
#include <tern/store.h>

/* Exit codes of the tern binary (documented in `tern --help`). */
enum {
	CLI_EXIT_OK = 0,    /* success */
	CLI_EXIT_FAIL = 1,  /* runtime failure: store, I/O */
	CLI_EXIT_USAGE = 2, /* usage error or malformed argument */
};

/* Store directory used when --db is not given. */
#define CLI_DEFAULT_DB "./tern-db"

/* One subcommand: its name, a one-line summary, its full help text and the
 * function that runs it (argv[0] is the command name). */
typedef struct cli_command {
	const char *name;
	const char *summary;
	const char *help;
	int (*run)(const struct cli_command *cmd, int argc, char **argv);
} cli_command;

extern const cli_command cmd_import, cmd_export, cmd_scan, cmd_count,
	cmd_delete, cmd_stats;

/* ---- option parsing --------------------------------------------------- */

typedef enum cli_opt_kind {
	CLI_OPT_FLAG,  /* --name: sets *flag to true */
	CLI_OPT_VALUE, /* --name VALUE or --name=VALUE: sets *value */
} cli_opt_kind;

typedef struct cli_opt {
	const char *name; /* without the leading "--" */
	cli_opt_kind kind;
	bool *flag;
	const char **value;
} cli_opt;

/*
 * Parses argv[1..argc) of cmd against opts. Options may appear anywhere;
 * "--" ends them. Arguments that are not options are collected in pos
 * (at most maxpos of them; *npos gets their number).
 *
 * "--help"/"-h" prints cmd's help on stdout and returns -1 with *exit_code
 * set to CLI_EXIT_OK. A usage error (unknown option, missing value, too many
 * arguments) is printed on stderr and returns -1 with *exit_code set to
 * CLI_EXIT_USAGE. Returns 0 when the command should run.
 */
int cli_parse_args(const cli_command *cmd, int argc, char **argv,
		   const cli_opt *opts, size_t nopts, char **pos, size_t maxpos,
		   size_t *npos, int *exit_code);

/* Prints "tern: <cmd>: <message>" and the --help hint on stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "tern: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- store and filters ------------------------------------------------ */

/*
 * Opens the store in dir. With must_exist, a missing directory (or one
 * holding no store) is reported as "tern: no store at DIR" and nothing is
 * created; read-only opens always imply must_exist. base may be NULL for
 * the defaults; its dir and read_only fields are overridden.
 * Returns CLI_EXIT_OK with *out set, or CLI_EXIT_FAIL after printing why.
 */
int cli_open_store(tern_store **out, const char *dir, bool read_only,
		   bool must_exist, const tern_store_options *base);

/*
 * Parses text (a filter object or a JSON array of them) into *fs and *n, allocated in a.
 * On error prints "tern: invalid filter: <reason>" and returns
 * CLI_EXIT_USAGE; returns CLI_EXIT_OK otherwise.
 */
int cli_parse_filters(const char *text, tern_arena *a, tern_filter **fs,
		      size_t *n);

/* A FILTER argument and the store it is asked of (count, delete, export,
 * scan). */
typedef struct cli_query {
	tern_store *st;
	tern_filter *fs;
	size_t n;
	tern_arena a;
} cli_query;

/*
 * Parses filter_text into q->fs and q->n, then opens the existing store in
 * dir (read-only or not). Returns CLI_EXIT_OK, or the exit code of
 * cli_parse_filters() / cli_open_store() after they printed why. Call
 * cli_query_close() in every case.
 */
int cli_query_open(cli_query *q, const char *dir, const char *filter_text,
		   bool read_only);
void cli_query_close(cli_query *q);

/* ---- addresses -------------------------------------------------------- */

/* Parses an IPv4 or IPv6 address in text into 16 bytes, IPv4 in its
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d). Returns false if it is neither. */
bool cli_ip16(const char *text, uint8_t out[16]);

#endif
