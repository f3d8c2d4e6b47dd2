/*
 * Unit tests for the plugin host (src/plugin/host.c), driving the real
 * test plugins of tests/plugins (perl) through their process, pipes,
 * timeouts, restarts and reloads. Run from the repository root.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/hex.h>
#include <tern/log.h>

#include "plugin/host.h"

#define PLUGINS "perl tests/plugins/"
#define MAXR 256

typedef struct result {
	bool done, failed;
	int calls;
	tern__plugin_action action;
	tern_reason why;
	uint64_t at_ms;
} result;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static result res[MAXR];
static int ndone;

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_done(void *ctx, void *cookie, tern__plugin_action a,
		    const tern_reason *why, bool failed)
{
	result *r = &res[(intptr_t)cookie];

	pthread_mutex_lock(&mu);
	r->calls++;
	r->done = true;
	r->failed = failed;
	r->action = a;
	r->why = *why;
	r->at_ms = ms_now();
	ndone++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Waits until n verdicts in total have arrived; false on timeout. */
static bool wait_done(int n, int ms)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (ndone < n)
		if (pthread_cond_timedwait(&cv, &mu, &ts))
			break;
	ok = ndone >= n;
	pthread_mutex_unlock(&mu);
	return ok;
}

static tern__plugin_host *start(const char *cmd, uint32_t timeout_ms,
				bool fail_open)
{
	tern__plugin_host_opts o = {
		.command = cmd,
		.timeout_ms = timeout_ms,
		.max_pending = 64,
		.watch_ms = 100,
		.fail_open = fail_open,
		.reload_on_change = true,
		.done = on_done,
	};
	tern__plugin_host *h;

	cr_assert_eq(tern__plugin_host_start(&h, &o), 0);
	return h;
}

/* Sends request i: an event whose id is i repeated and content c. */
static int submit(tern__plugin_host *h, int i, const char *content)
{
	uint8_t id[32];
	char hex[65], *line;
	int rc;

	memset(id, i, sizeof id);
	tern_hex_encode(hex, id, 32);
	hex[64] = 0;
	rc = tern__plugin_host_reserve(h);
	if (rc)
		return rc;
	cr_assert_gt(asprintf(&line, "{\"type\":\"new\",\"event\":{\"id\":\"%s\","
			      "\"kind\":1,\"content\":\"%s\"},\"receivedAt\":1,"
			      "\"sourceType\":\"IP4\",\"sourceInfo\":\"127.0.0.1\","
			      "\"authed\":\"\"}\n", hex, content), 0);
	tern__plugin_host_submit(h, id, line, strlen(line), (void *)(intptr_t)i);
	return 0;
}

static tern__plugin_host_stats stats(tern__plugin_host *h)
{
	tern__plugin_host_stats st;

	tern__plugin_host_stats_get(h, &st);
	return st;
}

TestSuite(plugin_host, .timeout = 30);

Test(plugin_host, accept_all_answers_every_request)
{
	tern__plugin_host *h = start(PLUGINS "accept-all.pl", 5000, false);

	for (int i = 1; i <= 50; i++)
		cr_assert_eq(submit(h, i, "hi"), 0);
	cr_assert(wait_done(50, 10000), "only %d verdicts", ndone);
	for (int i = 1; i <= 50; i++) {
		cr_assert_eq(res[i].calls, 1);
		cr_assert_eq(res[i].action, TERN__PLUGIN_ACCEPT);
		cr_assert_not(res[i].failed);
	}
	cr_assert_eq(stats(h).replies, 50);
	cr_assert_eq(stats(h).requests, 50);
	cr_assert_eq(stats(h).failures, 0);
	tern__plugin_host_stop(h);
}

Test(plugin_host, reject_with_prefix_and_shadow_reject)
{
	tern__plugin_host *h = start(PLUGINS "reject-all.pl "
				     "'rate-limited: slow down'", 5000, true);

	cr_assert_eq(submit(h, 1, "x"), 0);
	cr_assert(wait_done(1, 10000));
	cr_assert_eq(res[1].action, TERN__PLUGIN_REJECT);
	cr_assert_not(res[1].failed, "a plugin verdict, not the fail policy");
	cr_assert_eq(res[1].why.prefix, TERN_PREFIX_RATE_LIMITED);
	cr_assert_str_eq(res[1].why.msg, "slow down");
	tern__plugin_host_stop(h);

	h = start(PLUGINS "shadow-reject.pl", 5000, false);
	cr_assert_eq(submit(h, 2, "x"), 0);
	cr_assert(wait_done(2, 10000));
	cr_assert_eq(res[2].action, TERN__PLUGIN_SHADOW_REJECT);
	cr_assert_not(res[2].failed);
	tern__plugin_host_stop(h);
}

Test(plugin_host, timeout_fail_closed_rejects_and_restarts)
{
	tern__plugin_host *h = start(PLUGINS "never-answers.pl", 300, false);
	uint64_t t0 = ms_now();

	cr_assert_eq(submit(h, 1, "x"), 0);
	cr_assert_eq(submit(h, 2, "x"), 0);
	cr_assert(wait_done(2, 5000));
	cr_assert_geq(res[1].at_ms - t0, 290, "answered too early");
	cr_assert_lt(res[1].at_ms - t0, 2000);
	for (int i = 1; i <= 2; i++) {
		cr_assert_eq(res[i].action, TERN__PLUGIN_REJECT);
		cr_assert(res[i].failed);
		cr_assert_eq(res[i].why.prefix, TERN_PREFIX_ERROR);
		cr_assert_str_eq(res[i].why.msg, "plugin timed out");
	}
	/* the hung process is replaced */
	for (int i = 0; i < 100 && stats(h).spawns < 2; i++)
		usleep(20000);
	cr_assert_geq(stats(h).spawns, 2);
	tern__plugin_host_stop(h);
}

Test(plugin_host, timeout_fail_open_accepts)
{
	tern__plugin_host *h = start(PLUGINS "never-answers.pl", 200, true);

	cr_assert_eq(submit(h, 1, "x"), 0);
	cr_assert(wait_done(1, 5000));
	cr_assert_eq(res[1].action, TERN__PLUGIN_ACCEPT);
	cr_assert(res[1].failed);
	cr_assert_eq(stats(h).failures, 1);
	tern__plugin_host_stop(h);
}

Test(plugin_host, crash_fails_the_pending_request_and_restarts)
{
	tern__plugin_host *h = start(PLUGINS "crash-after.pl 2", 5000, false);
	bool accepted = false;

	cr_assert_eq(submit(h, 1, "a"), 0);
	cr_assert_eq(submit(h, 2, "b"), 0);
	cr_assert(wait_done(2, 10000));
	cr_assert_eq(res[1].action, TERN__PLUGIN_ACCEPT);
	cr_assert_eq(res[2].action, TERN__PLUGIN_ACCEPT);
	cr_assert_eq(submit(h, 3, "c"), 0);
	cr_assert(wait_done(3, 10000));
	cr_assert_eq(res[3].action, TERN__PLUGIN_REJECT);
	cr_assert(res[3].failed);
	cr_assert_str_eq(res[3].why.msg, "plugin exited");
	/* a new process takes the next requests */
	for (int i = 4; i < 20 && !accepted; i++) {
		cr_assert_eq(submit(h, i, "d"), 0);
		cr_assert(wait_done(i, 10000));
		accepted = res[i].action == TERN__PLUGIN_ACCEPT;
	}
	cr_assert(accepted, "never accepted after the crash");
	cr_assert_geq(stats(h).spawns, 2);
	tern__plugin_host_stop(h);
}

Test(plugin_host, garbage_output_is_ignored)
{
	tern__plugin_host *h = start(PLUGINS "garbage.pl", 5000, false);

	cr_assert_eq(submit(h, 1, "yes"), 0);
	cr_assert_eq(submit(h, 2, "no thanks"), 0);
	cr_assert(wait_done(2, 10000));
	cr_assert_eq(res[1].action, TERN__PLUGIN_ACCEPT);
	cr_assert_not(res[1].failed);
	cr_assert_eq(res[2].action, TERN__PLUGIN_REJECT);
	cr_assert_not(res[2].failed);
	cr_assert_str_eq(res[2].why.msg, "says no");
	/* per request: text, array, bad action, unknown id, bad id, long line */
	cr_assert_eq(stats(h).garbage, 12, "garbage %llu",
		     (unsigned long long)stats(h).garbage);
	cr_assert_eq(stats(h).spawns, 1, "garbage is no reason to restart");
	tern__plugin_host_stop(h);
}

Test(plugin_host, slow_plugin_never_blocks_submitters)
{
	tern__plugin_host *h = start(PLUGINS "slow.pl 200", 5000, false);
	uint64_t t0 = ms_now();

	for (int i = 1; i <= 5; i++)
		cr_assert_eq(submit(h, i, "x"), 0);
	cr_assert_lt(ms_now() - t0, 100, "submitting waited for the plugin");
	cr_assert(wait_done(5, 10000));
	for (int i = 1; i <= 5; i++)
		cr_assert_eq(res[i].action, TERN__PLUGIN_ACCEPT);
	cr_assert_geq(res[5].at_ms - t0, 5 * 200 - 20);
	tern__plugin_host_stop(h);
}

Test(plugin_host, full_queue_is_refused)
{
	tern__plugin_host_opts o = {
		.command = PLUGINS "never-answers.pl",
		.timeout_ms = 10000,
		.max_pending = 3,
		.done = on_done,
	};
	tern__plugin_host *h;

	cr_assert_eq(tern__plugin_host_start(&h, &o), 0);
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(submit(h, i, "x"), 0);
	cr_assert_eq(tern__plugin_host_reserve(h), TERN_EFULL);
	tern__plugin_host_stop(h);
	cr_assert_eq(ndone, 3);
}

Test(plugin_host, stop_resolves_everything_pending)
{
	tern__plugin_host *h = start(PLUGINS "never-answers.pl", 60000, false);
	uint64_t t0;

	for (int i = 1; i <= 5; i++)
		cr_assert_eq(submit(h, i, "x"), 0);
	usleep(200000);
	t0 = ms_now();
	tern__plugin_host_stop(h);
	cr_assert_lt(ms_now() - t0, 3000);
	cr_assert_eq(ndone, 5);
	for (int i = 1; i <= 5; i++) {
		cr_assert_eq(res[i].calls, 1);
		cr_assert_eq(res[i].action, TERN__PLUGIN_REJECT);
		cr_assert_str_eq(res[i].why.msg, "plugin stopped");
	}
}

static void write_script(const char *path, const char *from)
{
	char tmp[512], cmd[1200];

	snprintf(tmp, sizeof tmp, "%s.new", path);
	snprintf(cmd, sizeof cmd, "cp tests/plugins/%s %s && chmod +x %s", from,
		 tmp, tmp);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

Test(plugin_host, script_change_reloads_the_plugin)
{
	char dir[] = "/tmp/tern-plugin-XXXXXX", path[512];
	tern__plugin_host *h;
	int n = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/policy.pl", dir);
	write_script(path, "accept-all.pl");
	h = start(path, 5000, false);
	cr_assert_eq(submit(h, ++n, "x"), 0);
	cr_assert(wait_done(n, 10000));
	cr_assert_eq(res[n].action, TERN__PLUGIN_ACCEPT);

	write_script(path, "reject-all.pl");
	for (int i = 0; i < 100 && stats(h).reloads < 1; i++)
		usleep(20000);
	cr_assert_eq(stats(h).reloads, 1);
	cr_assert_eq(submit(h, ++n, "x"), 0);
	cr_assert(wait_done(n, 10000));
	cr_assert_eq(res[n].action, TERN__PLUGIN_REJECT);
	cr_assert_not(res[n].failed);
	cr_assert_str_eq(res[n].why.msg, "not allowed here");
	cr_assert_eq(stats(h).spawns, 2);
	tern__plugin_host_stop(h);
	unlink(path);
	rmdir(dir);
}

Test(plugin_host, missing_command_fails_after_the_timeout)
{
	tern__plugin_host *h = start("/nonexistent/tern-plugin", 300, false);

	cr_assert_eq(submit(h, 1, "x"), 0);
	cr_assert(wait_done(1, 5000));
	cr_assert_eq(res[1].action, TERN__PLUGIN_REJECT);
	cr_assert(res[1].failed);
	tern__plugin_host_stop(h);
}

static pthread_mutex_t logmu = PTHREAD_MUTEX_INITIALIZER;
static char logged[4096];

static void sink(void *ctx, tern_log_level level, const char *area,
		 const char *line)
{
	pthread_mutex_lock(&logmu);
	if (strcmp(area, "plugin") == 0 &&
	    strlen(logged) + strlen(line) + 2 < sizeof logged) {
		strcat(logged, line);
		strcat(logged, "\n");
	}
	pthread_mutex_unlock(&logmu);
}

Test(plugin_host, stderr_is_logged)
{
	tern__plugin_host *h;
	bool found = false;

	tern_log_set_sink(sink, NULL);
	h = start(PLUGINS "never-answers.pl", 5000, false);
	cr_assert_eq(submit(h, 1, "x"), 0);
	for (int i = 0; i < 200 && !found; i++) {
		usleep(20000);
		pthread_mutex_lock(&logmu);
		found = strstr(logged, "never-answers: got a request") != NULL;
		pthread_mutex_unlock(&logmu);
	}
	tern__plugin_host_stop(h);
	tern_log_set_sink(NULL, NULL);
	cr_assert(found, "log was:\n%s", logged);
}
