/*
 * tern/log.h - the leveled logger of libtern.
 *
 * Every diagnostic of the library goes through tern_log(); the level is
 * set at run time (never compiled out), and the sink may be replaced, e.g.
 * by a relay that forwards lines to syslog. The default sink writes
 * "2026-11-26T19:00:00Z warn store: message" lines to stderr.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tern_log_level {
	TERN_LOG_ERROR = 0,
	TERN_LOG_WARN = 1,
	TERN_LOG_INFO = 2,
	TERN_LOG_DEBUG = 3,
} tern_log_level;

/*
 * A sink receives one formatted line (no trailing newline). It may be
 * called from any thread, concurrently: it must be thread-safe.
 */
typedef void (*tern_log_sink)(void *ctx, tern_log_level level,
			      const char *area, const char *line);

/* Lines above level are dropped (default TERN_LOG_INFO). Thread-safe. */
void tern_log_set_level(tern_log_level level);
tern_log_level tern_log_get_level(void);

/* True if a line at level would be written: guard costly formatting. */
bool tern_log_enabled(tern_log_level level);

/*
 * Replaces the sink (NULL restores the default stderr sink). Call before
 * starting threads that log; not synchronised with concurrent tern_log().
 */
void tern_log_set_sink(tern_log_sink sink, void *ctx);

/* Parses "error", "warn", "info" or "debug". Returns 0 or TERN_EINVAL. */
int tern_log_level_parse(const char *name, tern_log_level *out);

/* Logs one line; area names the module ("store", "import", ...). */
void tern_log(tern_log_level level, const char *area, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tern_logv(tern_log_level level, const char *area, const char *fmt,
	       va_list ap);

#ifdef __cplusplus
}
#endif
#endif
