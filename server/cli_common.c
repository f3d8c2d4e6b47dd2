/* Shared pieces of the tern subcommands (server/cli_common.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tern/error.h>

#include "cli_common.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tern: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tern %s --help'.\n", cmd->name);
	return CLI_EXIT_USAGE;
}

static const cli_opt *find_opt(const cli_opt *opts, size_t nopts,
			       const char *name, size_t len)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == len &&
		    memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

int cli_parse_args(const cli_command *cmd, int argc, char **argv,
		   const cli_opt *opts, size_t nopts, char **pos, size_t maxpos,
		   size_t *npos, int *exit_code)
{
	bool opts_done = false;

	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!opts_done && strcmp(arg, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (!opts_done && (strcmp(arg, "--help") == 0 ||
				   strcmp(arg, "-h") == 0)) {
			fputs(cmd->help, stdout);
			*exit_code = CLI_EXIT_OK;
			return -1;
		}
		if (!opts_done && arg[0] == '-' && arg[1] != '\0') {
			const char *name = arg + (arg[1] == '-' ? 2 : 1);
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const cli_opt *o = arg[1] == '-' ?
				find_opt(opts, nopts, name, len) : NULL;

			if (!o) {
				*exit_code = cli_usage_error(cmd,
					"unknown option '%s'", arg);
				return -1;
			}
			if (o->kind == CLI_OPT_FLAG) {
				if (eq) {
					*exit_code = cli_usage_error(cmd,
						"option '--%s' takes no value",
						o->name);
					return -1;
				}
				*o->flag = true;
			} else if (eq) {
				*o->value = eq + 1;
			} else if (i + 1 < argc) {
				*o->value = argv[++i];
			} else {
				*exit_code = cli_usage_error(cmd,
					"option '--%s' needs a value", o->name);
				return -1;
			}
			continue;
		}
		if (*npos >= maxpos) {
			*exit_code = cli_usage_error(cmd,
				"unexpected argument '%s'", arg);
			return -1;
		}
		pos[(*npos)++] = argv[i];
	}
	return 0;
}

int cli_open_store(tern_store **out, const char *dir, bool read_only,
		   bool must_exist, const tern_store_options *base)
{
	tern_store_options o;
	char err[256] = "";
	int rc;

	if (base)
		o = *base;
	else
		tern_store_options_defaults(&o);
	o.dir = dir;
	o.read_only = read_only;
	o.must_exist = must_exist;
	*out = NULL;
	rc = tern_store_open(out, &o, err, sizeof err);
	if (rc != 0) {
		if ((rc == -ENOENT || rc == TERN_ENOTFOUND) &&
		    (read_only || must_exist))
			cli_error("no store at %s", dir);
		else
			cli_error("cannot open store at %s: %s", dir,
				  err[0] ? err : tern_strerror(rc));
		*out = NULL;
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int cli_parse_filters(const char *text, tern_arena *a, tern_filter **fs,
		      size_t *n)
{
	tern_reason why = { 0 };
	int rc;

	rc = tern_filter_parse_list(fs, n, (const uint8_t *)text, strlen(text),
				    NULL, a, &why);
	if (rc != 0) {
		cli_error("invalid filter: %s",
			  why.msg[0] ? why.msg : tern_strerror(rc));
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

int cli_query_open(cli_query *q, const char *dir, const char *filter_text,
		   bool read_only)
{
	int ec;

	q->st = NULL;
	tern_arena_init(&q->a, 0);
	ec = cli_parse_filters(filter_text, &q->a, &q->fs, &q->n);
	if (ec == CLI_EXIT_OK)
		ec = cli_open_store(&q->st, dir, read_only, true, NULL);
	return ec;
}

void cli_query_close(cli_query *q)
{
	tern_store_close(q->st);
	tern_arena_free(&q->a);
}

bool cli_ip16(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return true;
	}
	return inet_pton(AF_INET6, text, out) == 1;
}
