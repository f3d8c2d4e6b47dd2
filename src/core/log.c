/* Leveled logger (include/tern/log.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <tern/error.h>
#include <tern/log.h>

static _Atomic int log_level = TERN_LOG_INFO;
static tern_log_sink log_sink;
static void *log_sink_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tern_log_set_level(tern_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

tern_log_level tern_log_get_level(void)
{
	return (tern_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool tern_log_enabled(tern_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void tern_log_set_sink(tern_log_sink sink, void *ctx)
{
	log_sink = sink;
	log_sink_ctx = ctx;
}

int tern_log_level_parse(const char *name, tern_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (tern_log_level)i;
			return 0;
		}
	}
	return TERN_EINVAL;
}

void tern_logv(tern_log_level level, const char *area, const char *fmt, va_list ap)
{
	char line[1024];
	time_t now;
	struct tm tm;
	char ts[32];

	if (!tern_log_enabled(level))
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	if (log_sink) {
		log_sink(log_sink_ctx, level, area, line);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* One fprintf per line: stdio locks the stream, so lines from
	 * different threads do not interleave. */
	fprintf(stderr, "%s %s %s: %s\n", ts, level_names[level], area, line);
}

void tern_log(tern_log_level level, const char *area, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tern_logv(level, area, fmt, ap);
	va_end(ap);
}
