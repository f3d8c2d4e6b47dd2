/*
 * tern import: read JSONL events from stdin into the store.
 *
 * Signature verification is ~90% of the cost of ingesting an event
 * (DESIGN.md: 31 us per event per core, against ~1 us for parsing and
 * hashing and ~5 us for the LMDB write), so the pipeline exists to keep
 * every core verifying:
 *
 *   main thread     reads stdin in 1 MiB blocks, splits lines, copies them
 *                   into chunks of up to CHUNK_LINES lines, queues them;
 *   worker threads  (one per core) parse and verify whole chunks, each into
 *                   the chunk's own arena;
 *   sequencer       whichever worker completes the chunk the store expects
 *                   next submits it, and every completed chunk after it, in
 *                   input order (the store is a deterministic function of
 *                   the ordered stream, so the input order is kept);
 *   store writer    commits in batches and reports each event through
 *                   on_written(); a chunk whose events have all been
 *                   reported is "finished";
 *   main thread     again: before refilling a chunk it takes the finished
 *                   chunks in input order, prints their rejected lines and
 *                   adds them to the counts, so all reporting is in line
 *                   order and counters need no locking.
 *
 * Memory is bounded by the fixed pool of chunks: a chunk comes back to the
 * reader only after the store has committed its events, so neither the work
 * queue nor the store's queue can grow with the input; and the reader stays
 * at most max_ahead chunks ahead of the submissions, so only those hold
 * input text and parsed events (a chunk drops both once submitted).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/error.h>
#include <tern/event.h>

#include "cli_common.h"

/*
 * Events per write transaction. Each commit rewrites every index page its
 * events touched, and ids (and "e" tags) land on random pages: near 100k
 * events a 4096-event batch dirties ~6,000 leaf pages (id ~1,400 of its
 * ~1,600, tag ~2,200, records ~1,400, pk/pkkind/ca/kind ~900), so larger
 * transactions cost the writer less per event (writer CPU: 1024 -> ~21
 * us/event, 4096 -> ~11, 16384 -> ~7.5). But LMDB holds a transaction's
 * dirty pages in the heap (~24 MiB at 4096, ~70 MiB at 16384) and queued
 * events wait in memory, so 4096 is the largest batch that keeps the
 * import near 64 MiB resident. (MDB_WRITEMAP, which would keep dirty pages
 * out of the heap, cost more CPU: docs/STORE_FORMAT.md.)
 */
#define IMPORT_BATCH 4096
/*
 * The writer waits for at least this many events before it starts a
 * transaction (tern_store_options batch_min, batch_wait_ms): while the
 * store is small the writer outpaces the verifying workers and would
 * otherwise commit batches of a few hundred events, each rewriting the
 * same index pages (~1-3 us/event more CPU over the whole import). Below
 * IMPORT_BATCH, so that the workers never wait for the writer to wait.
 */
#define IMPORT_BATCH_MIN 3072
#define IMPORT_BATCH_WAIT_MS 200
/* Bound on the store file's pages kept mapped (tern_store_options
 * rss_trim; the process's other file-backed pages, ~5 MiB of libraries,
 * count too). */
#define IMPORT_RSS_TRIM ((uint64_t)8 << 20)
#define CHUNK_LINES 256
#define CHUNK_BYTES (1u << 20) /* a chunk is closed once it holds this */
#define READ_BLOCK (1u << 20)
#define REPORT_MAX 100         /* rejected lines printed before summing up */
#define THREADS_MAX 256
#define NPREFIX (TERN_PREFIX_ERROR + 1)

enum line_state {
	LINE_PENDING,   /* read, not parsed yet */
	LINE_PARSED,    /* parsed (and verified): to be submitted */
	LINE_REJECTED,  /* refused by the parser, the checks or the store */
	LINE_FAILED,    /* the store failed to write it */
	LINE_STORED,
	LINE_DUPLICATE,
};

struct chunk;

/* Lines stay in flight until their events are committed, so they are
 * kept small: the reason of a refused line (rare) is allocated apart. */
struct line {
	uint64_t no;        /* 1-based line number in the input */
	uint32_t off, len;  /* bytes in chunk->buf */
	uint8_t state;      /* enum line_state */
	uint8_t prefix;     /* tern_prefix of the reason, when REJECTED or
			       FAILED */
	struct chunk *c;    /* for on_written() */
	char *msg;          /* the reason's message (malloc'd), or NULL */
};

struct chunk {
	uint64_t seq;        /* position in the input, from 0 */
	char *buf;           /* the lines' bytes, kept across reuses */
	size_t len, cap;
	uint32_t n;          /* lines used */
	struct line lines[CHUNK_LINES];
	tern_event *evs;     /* [CHUNK_LINES] from parsing to submission */
	tern_arena arena;    /* parsed events of this chunk */
	atomic_uint pending; /* submitted events not yet reported, +1 */
	struct chunk *next;  /* work queue link */
	struct import *imp;
};

struct counts {
	uint64_t lines, stored, duplicate, rejected;
	uint64_t by_prefix[NPREFIX];
};

struct import {
	tern_store *st;
	bool verify;
	tern_event_limits lim;
	unsigned nthreads;
	size_t nchunks;
	struct chunk *chunks;
	size_t nfresh;             /* chunks handed out for the first time */
	unsigned max_ahead;        /* chunks holding input text at most */

	pthread_mutex_t mu;        /* guards everything below up to counts */
	pthread_cond_t work_cv;    /* workers: work queued or end of input */
	pthread_cond_t ahead_cv;   /* reader: a chunk was submitted */
	unsigned ahead;            /* chunks dispatched, not yet submitted */
	pthread_cond_t finish_cv;  /* reader: a chunk finished */
	pthread_cond_t progress_cv;
	struct chunk *work_head, *work_tail;
	bool eof, stop_progress;
	struct chunk **done;       /* ring by seq: verified, not submitted */
	uint64_t next_submit;
	bool submitting;           /* a worker is running the sequencer */
	struct chunk **finished;   /* ring by seq: all events reported */
	struct counts shown;       /* snapshot for the progress line */
	uint64_t lines_read;

	atomic_int submit_err;     /* first tern_store_submit() failure */

	/* main thread only */
	uint64_t next_seq, next_report;
	struct counts n;
	uint64_t printed, unprinted;
	bool failed;               /* a store write failed */
	bool progress;             /* stderr is a terminal */
	struct timespec t0;
};

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Records why line l was refused (state is set by the caller). */
static void line_set_reason(struct line *l, const tern_reason *r)
{
	l->prefix = (uint8_t)r->prefix;
	free(l->msg);
	l->msg = strdup(r->msg); /* NULL: out of memory */
}

/* ---- store side ------------------------------------------------------- */

/* Drops one reference to c; the last one hands it back to the reader. */
static void chunk_release(struct chunk *c)
{
	struct import *imp = c->imp;

	if (atomic_fetch_sub(&c->pending, 1) != 1)
		return;
	pthread_mutex_lock(&imp->mu);
	imp->finished[c->seq % imp->nchunks] = c;
	pthread_cond_signal(&imp->finish_cv);
	pthread_mutex_unlock(&imp->mu);
}

/* Writer thread, after the commit: record the outcome; must not block. */
static void on_written(void *ctx, const tern_write_result *res)
{
	struct line *l = ctx;

	switch (res->status) {
	case TERN_WRITE_STORED:
		l->state = LINE_STORED;
		break;
	case TERN_WRITE_DUPLICATE:
		l->state = LINE_DUPLICATE;
		break;
	case TERN_WRITE_REJECTED:
		l->state = LINE_REJECTED;
		line_set_reason(l, &res->reason);
		break;
	case TERN_WRITE_ERROR:
	default:
		l->state = LINE_FAILED;
		line_set_reason(l, &res->reason);
		break;
	}
	chunk_release(l->c);
}

/* Sequencer: submits the parsed events of c in line order. */
static void submit_chunk(struct import *imp, struct chunk *c)
{
	atomic_store(&c->pending, 1);
	for (uint32_t i = 0; i < c->n; i++) {
		struct line *l = &c->lines[i];
		int rc, expect = 0;

		if (l->state != LINE_PARSED)
			continue;
		atomic_fetch_add(&c->pending, 1);
		rc = tern_store_submit(imp->st, &c->evs[i], on_written, l,
				       true);
		if (rc != 0) {
			tern_reason why;

			l->state = LINE_FAILED;
			tern_reason_set(&why, TERN_PREFIX_ERROR, "%s",
					tern_strerror(rc));
			line_set_reason(l, &why);
			atomic_compare_exchange_strong(&imp->submit_err,
						       &expect, rc);
			atomic_fetch_sub(&c->pending, 1);
		}
	}
	/* The store has its own copy of each event now: give the chunk's
	 * text and parsed events back while it waits for the commit, so that
	 * only the chunks being read or verified hold event memory. */
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
	free(c->evs);
	c->evs = NULL;
	tern_arena_free(&c->arena);
	tern_arena_init(&c->arena, 0);
	pthread_mutex_lock(&imp->mu);
	imp->ahead--;
	pthread_cond_signal(&imp->ahead_cv);
	pthread_mutex_unlock(&imp->mu);
	chunk_release(c);
}

/* ---- workers ---------------------------------------------------------- */

static void parse_chunk(struct import *imp, struct chunk *c)
{
	tern_reason why;

	tern_arena_reset(&c->arena);
	if (!c->evs)
		c->evs = malloc(CHUNK_LINES * sizeof *c->evs);
	for (uint32_t i = 0; i < c->n; i++) {
		struct line *l = &c->lines[i];
		int rc = TERN_ENOMEM;

		if (l->state != LINE_PENDING)
			continue;
		why.prefix = TERN_PREFIX_NONE;
		why.msg[0] = '\0';
		if (c->evs)
			rc = tern_event_parse(&c->evs[i],
					      (const uint8_t *)c->buf + l->off,
					      l->len, &imp->lim, &c->arena,
					      &why);
		if (rc == 0)
			rc = imp->verify ?
			     tern_event_check(&c->evs[i], &why) :
			     tern_event_check_id(&c->evs[i], &why);
		if (rc == 0) {
			l->state = LINE_PARSED;
			continue;
		}
		l->state = LINE_REJECTED;
		if (why.msg[0] == '\0')
			tern_reason_set(&why, rc == TERN_ENOMEM ?
					TERN_PREFIX_ERROR : TERN_PREFIX_INVALID,
					"%s", tern_strerror(rc));
		else if (why.prefix == TERN_PREFIX_NONE)
			why.prefix = TERN_PREFIX_INVALID;
		line_set_reason(l, &why);
	}
}

static void *worker_main(void *arg)
{
	struct import *imp = arg;
	struct chunk *c;

	for (;;) {
		pthread_mutex_lock(&imp->mu);
		while (!imp->work_head && !imp->eof)
			pthread_cond_wait(&imp->work_cv, &imp->mu);
		c = imp->work_head;
		if (!c) {
			pthread_mutex_unlock(&imp->mu);
			return NULL;
		}
		imp->work_head = c->next;
		if (!imp->work_head)
			imp->work_tail = NULL;
		pthread_mutex_unlock(&imp->mu);

		parse_chunk(imp, c);

		/* Chunks are submitted in input order: the worker that
		 * completes the chunk the store expects next submits it and
		 * every completed one after it; others just leave theirs. */
		pthread_mutex_lock(&imp->mu);
		imp->done[c->seq % imp->nchunks] = c;
		if (!imp->submitting) {
			struct chunk *d;

			imp->submitting = true;
			while ((d = imp->done[imp->next_submit %
					      imp->nchunks]) &&
			       d->seq == imp->next_submit) {
				imp->done[imp->next_submit % imp->nchunks] =
					NULL;
				imp->next_submit++;
				pthread_mutex_unlock(&imp->mu);
				submit_chunk(imp, d);
				pthread_mutex_lock(&imp->mu);
			}
			imp->submitting = false;
		}
		pthread_mutex_unlock(&imp->mu);
	}
}

/* ---- reporting (main thread) ------------------------------------------ */

static void report_line(struct import *imp, const struct line *l)
{
	char msg[TERN_REASON_MAX + 32];
	tern_reason why = { .prefix = (tern_prefix)l->prefix };

	if (imp->printed >= REPORT_MAX) {
		imp->unprinted++;
		return;
	}
	imp->printed++;
	snprintf(why.msg, sizeof why.msg, "%s",
		 l->msg ? l->msg : "out of memory");
	tern_reason_format(&why, msg, sizeof msg);
	fprintf(stderr, "%sline %" PRIu64 ": %s\n",
		imp->progress ? "\r\033[K" : "", l->no, msg);
}

/* Counts and reports the lines of a finished chunk. */
static void report_chunk(struct import *imp, struct chunk *c)
{
	for (uint32_t i = 0; i < c->n; i++) {
		const struct line *l = &c->lines[i];

		imp->n.lines++;
		switch (l->state) {
		case LINE_STORED:
			imp->n.stored++;
			break;
		case LINE_DUPLICATE:
			imp->n.duplicate++;
			break;
		case LINE_FAILED:
			imp->failed = true;
			/* fall through */
		default:
			imp->n.rejected++;
			imp->n.by_prefix[l->prefix < NPREFIX ?
					 l->prefix : TERN_PREFIX_ERROR]++;
			report_line(imp, l);
			break;
		}
	}
	for (uint32_t i = 0; i < c->n; i++) {
		free(c->lines[i].msg);
		c->lines[i].msg = NULL;
	}
	if (imp->progress) {
		pthread_mutex_lock(&imp->mu);
		imp->shown = imp->n;
		pthread_mutex_unlock(&imp->mu);
	}
}

/* Waits for the oldest chunk in flight to finish, reports it, returns it. */
static struct chunk *take_finished(struct import *imp)
{
	struct chunk *c;
	size_t slot = imp->next_report % imp->nchunks;

	pthread_mutex_lock(&imp->mu);
	while (!(c = imp->finished[slot]))
		pthread_cond_wait(&imp->finish_cv, &imp->mu);
	imp->finished[slot] = NULL;
	pthread_mutex_unlock(&imp->mu);
	report_chunk(imp, c);
	imp->next_report++;
	return c;
}

/* A chunk to fill: a never used one, else the oldest one in flight once
 * the store has reported all its events. */
static struct chunk *get_chunk(struct import *imp)
{
	struct chunk *c;

	/* Read ahead of the workers by a few chunks only: a chunk holds its
	 * input text and parsed events until it is submitted. */
	pthread_mutex_lock(&imp->mu);
	while (imp->ahead >= imp->max_ahead)
		pthread_cond_wait(&imp->ahead_cv, &imp->mu);
	pthread_mutex_unlock(&imp->mu);
	if (imp->nfresh < imp->nchunks)
		c = &imp->chunks[imp->nfresh++];
	else
		c = take_finished(imp);
	c->len = 0;
	c->n = 0;
	return c;
}

static void dispatch(struct import *imp, struct chunk *c)
{
	c->seq = imp->next_seq++;
	c->next = NULL;
	pthread_mutex_lock(&imp->mu);
	if (imp->work_tail)
		imp->work_tail->next = c;
	else
		imp->work_head = c;
	imp->work_tail = c;
	imp->lines_read += c->n;
	imp->ahead++;
	pthread_cond_signal(&imp->work_cv);
	pthread_mutex_unlock(&imp->mu);
}

/* ---- progress line (only when stderr is a terminal) ------------------- */

static void *progress_main(void *arg)
{
	struct import *imp = arg;
	struct timespec until;
	struct counts n;
	uint64_t nread;

	pthread_mutex_lock(&imp->mu);
	while (!imp->stop_progress) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 500000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&imp->progress_cv, &imp->mu, &until);
		if (imp->stop_progress)
			break;
		n = imp->shown;
		nread = imp->lines_read;
		pthread_mutex_unlock(&imp->mu);
		double s = elapsed(&imp->t0);
		fprintf(stderr, "\r\033[Kimport: %" PRIu64 " lines read, %"
			PRIu64 " stored, %" PRIu64 " duplicate, %" PRIu64
			" rejected, %.0f events/s", nread, n.stored,
			n.duplicate, n.rejected, s > 0 ? (double)n.lines / s : 0);
		pthread_mutex_lock(&imp->mu);
	}
	pthread_mutex_unlock(&imp->mu);
	fputs("\r\033[K", stderr);
	return NULL;
}

/* ---- reader (main thread) --------------------------------------------- */

static bool is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* Adds one line (without its '\n') to *cp, dispatching full chunks.
 * Returns false when out of memory. */
static bool add_line(struct import *imp, struct chunk **cp, uint64_t no,
		     const char *p, size_t n, bool too_long)
{
	struct chunk *c = *cp;
	struct line *l;

	if (!too_long) {
		if (n && p[n - 1] == '\r')
			n--;
		if (is_blank(p, n))
			return true;
	}
	if (c->cap - c->len < n) {
		size_t cap = c->cap ? c->cap : CHUNK_BYTES / 4;
		char *b;

		while (cap - c->len < n)
			cap *= 2;
		b = realloc(c->buf, cap);
		if (!b)
			return false;
		c->buf = b;
		c->cap = cap;
	}
	l = &c->lines[c->n++];
	l->no = no;
	l->c = c;
	l->msg = NULL;
	if (too_long) {
		tern_reason why;

		l->off = l->len = 0;
		l->state = LINE_REJECTED;
		tern_reason_set(&why, TERN_PREFIX_INVALID,
				"line longer than %zu bytes",
				imp->lim.max_json);
		line_set_reason(l, &why);
	} else {
		memcpy(c->buf + c->len, p, n);
		l->off = (uint32_t)c->len;
		l->len = (uint32_t)n;
		l->state = LINE_PENDING;
		c->len += n;
	}
	if (c->n == CHUNK_LINES || c->len >= CHUNK_BYTES) {
		dispatch(imp, c);
		*cp = get_chunk(imp);
	}
	return true;
}

/*
 * Reads stdin to the end, feeding lines to the workers. A line longer than
 * the event size limit is never buffered whole: it is rejected and skipped
 * up to its newline. Returns 0 or -errno.
 */
static int read_input(struct import *imp)
{
	size_t max_line = imp->lim.max_json;
	size_t cap = READ_BLOCK + max_line, have = 0;
	char *buf = malloc(cap);
	struct chunk *c = get_chunk(imp);
	uint64_t no = 1;
	bool skipping = false;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + have, cap - have);
		size_t start = 0, end;
		char *nl;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		end = have + (size_t)r;
		/* Only the new bytes can hold a newline not seen before. */
		nl = memchr(buf + have, '\n', end - have);
		while (nl) {
			size_t len = (size_t)(nl - buf) - start;

			if (skipping)
				skipping = false;
			else if (!add_line(imp, &c, no, buf + start, len,
					   len > max_line))
				goto nomem;
			no++;
			start = (size_t)(nl - buf) + 1;
			nl = memchr(buf + start, '\n', end - start);
		}
		have = end - start;
		if (skipping) {
			have = 0;
		} else if (have > max_line) {
			/* Report it now; drop bytes until its newline. */
			if (!add_line(imp, &c, no, NULL, 0, true))
				goto nomem;
			skipping = true;
			have = 0;
		} else if (start > 0) {
			memmove(buf, buf + start, have);
		}
	}
	/* A last line without a newline counts too. */
	if (!err && !skipping && have > 0 &&
	    !add_line(imp, &c, no, buf, have, false))
		goto nomem;
	if (c->n > 0)
		dispatch(imp, c);
	free(buf);
	return err;
nomem:
	if (c->n > 0)
		dispatch(imp, c);
	free(buf);
	return -ENOMEM;
}

/* ---- the command ------------------------------------------------------ */

static void print_summary(struct import *imp, double secs)
{
	const struct counts *n = &imp->n;
	bool first = true;

	if (imp->unprinted)
		fprintf(stderr, "... %" PRIu64 " more rejected lines\n",
			imp->unprinted);
	fprintf(stderr, "import: %" PRIu64 " lines: %" PRIu64 " stored, %"
		PRIu64 " duplicate, %" PRIu64 " rejected", n->lines,
		n->stored, n->duplicate, n->rejected);
	for (int p = 0; p < NPREFIX; p++) {
		const char *name = p == TERN_PREFIX_NONE ? "other" :
			tern_prefix_name((tern_prefix)p);

		if (!n->by_prefix[p])
			continue;
		fprintf(stderr, "%s%" PRIu64 " %s", first ? " (" : ", ",
			n->by_prefix[p], name);
		first = false;
	}
	fprintf(stderr, "%s in %.1f s (%.0f events/s)\n", first ? "" : ")",
		secs, secs > 0 ? (double)n->lines / secs : 0.0);
}

static int parse_threads(const cli_command *cmd, const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > THREADS_MAX)
		return cli_usage_error(cmd, "--threads must be 1-%d, not '%s'",
				       THREADS_MAX, s);
	*out = (unsigned)v;
	return CLI_EXIT_OK;
}

static void import_free(struct import *imp)
{
	for (size_t i = 0; imp->chunks && i < imp->nchunks; i++) {
		free(imp->chunks[i].buf);
		free(imp->chunks[i].evs);
		for (uint32_t k = 0; k < imp->chunks[i].n; k++)
			free(imp->chunks[i].lines[k].msg);
		tern_arena_free(&imp->chunks[i].arena);
	}
	free(imp->chunks);
	free(imp->done);
	free(imp->finished);
	pthread_mutex_destroy(&imp->mu);
	pthread_cond_destroy(&imp->work_cv);
	pthread_cond_destroy(&imp->ahead_cv);
	pthread_cond_destroy(&imp->finish_cv);
	pthread_cond_destroy(&imp->progress_cv);
}

static int run_import(const cli_command *cmd, int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB, *threads = NULL;
	bool no_verify = false;
	const cli_opt opts[] = {
		{ "db", CLI_OPT_VALUE, NULL, &db },
		{ "no-verify", CLI_OPT_FLAG, &no_verify, NULL },
		{ "threads", CLI_OPT_VALUE, NULL, &threads },
	};
	struct import imp = { 0 };
	tern_store_options so;
	pthread_t *tids = NULL, progress_tid;
	unsigned started = 0;
	size_t npos;
	long ncpu;
	int ec, rc = 0;

	if (cli_parse_args(cmd, argc, argv, opts, 3, NULL, 0, &npos, &ec))
		return ec;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	imp.nthreads = ncpu < 1 ? 1 : ncpu > THREADS_MAX ? THREADS_MAX :
		       (unsigned)ncpu;
	if (threads && parse_threads(cmd, threads, &imp.nthreads))
		return CLI_EXIT_USAGE;
	imp.verify = !no_verify;
	tern_event_limits_defaults(&imp.lim);

	/* Larger transactions than the relay's mean fewer fsyncs and less
	 * rewriting of index pages; durability is unchanged (one fsync per
	 * commit). Reading the indexes maps most of the file into the
	 * process over an import: rss_trim keeps that bounded. */
	tern_store_options_defaults(&so);
	so.batch_max = IMPORT_BATCH;
	so.batch_min = IMPORT_BATCH_MIN;
	so.batch_wait_ms = IMPORT_BATCH_WAIT_MS;
	so.rss_trim = IMPORT_RSS_TRIM;
	ec = cli_open_store(&imp.st, db, false, false, &so);
	if (ec != CLI_EXIT_OK)
		return ec;

	/* Chunks stay in flight until their events are committed. To keep
	 * the workers busy while the writer commits one batch, the pool holds
	 * a batch and a quarter plus the chunks read ahead: enough for the
	 * writer to find IMPORT_BATCH_MIN events queued when it finishes a
	 * batch. Every in-flight event costs ~1.6 KiB (the store's copy):
	 * two batches kept the import ~5 MiB above 64 MiB resident, one and
	 * a quarter keeps it ~2 MiB below at ~1% more CPU (with 12 chunks
	 * on 2 cores the workers sat idle ~30% of the time). Only the chunks
	 * read ahead (two per worker plus two) hold event text (~0.6 MiB
	 * each); a submitted chunk keeps its line records only (~10 KiB). */
	imp.max_ahead = 2 * imp.nthreads + 2;
	imp.nchunks = 5 * IMPORT_BATCH / 4 / CHUNK_LINES + imp.max_ahead;
	imp.chunks = calloc(imp.nchunks, sizeof *imp.chunks);
	imp.done = calloc(imp.nchunks, sizeof *imp.done);
	imp.finished = calloc(imp.nchunks, sizeof *imp.finished);
	tids = calloc(imp.nthreads, sizeof *tids);
	pthread_mutex_init(&imp.mu, NULL);
	pthread_cond_init(&imp.work_cv, NULL);
	pthread_cond_init(&imp.ahead_cv, NULL);
	pthread_cond_init(&imp.finish_cv, NULL);
	pthread_cond_init(&imp.progress_cv, NULL);
	if (!imp.chunks || !imp.done || !imp.finished || !tids) {
		cli_error("import: out of memory");
		ec = CLI_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < imp.nchunks; i++) {
		imp.chunks[i].imp = &imp;
		tern_arena_init(&imp.chunks[i].arena, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &imp.t0);
	for (; started < imp.nthreads; started++) {
		rc = pthread_create(&tids[started], NULL, worker_main, &imp);
		if (rc != 0)
			break;
	}
	if (started == 0) {
		cli_error("import: cannot start threads: %s", strerror(rc));
		ec = CLI_EXIT_FAIL;
		goto out;
	}
	imp.progress = isatty(STDERR_FILENO) &&
		       pthread_create(&progress_tid, NULL, progress_main,
				      &imp) == 0;

	rc = read_input(&imp);
	if (rc < 0) {
		cli_error("import: reading stdin: %s", tern_strerror(rc));
		ec = CLI_EXIT_FAIL;
	}

	pthread_mutex_lock(&imp.mu);
	imp.eof = true;
	pthread_cond_broadcast(&imp.work_cv);
	pthread_mutex_unlock(&imp.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	/* Every chunk has been submitted; wait for the last commits. */
	rc = tern_store_flush(imp.st);
	if (rc < 0) {
		cli_error("import: store: %s", tern_strerror(rc));
		ec = CLI_EXIT_FAIL;
	}
	while (imp.next_report < imp.next_seq)
		take_finished(&imp);
	if (imp.progress) {
		pthread_mutex_lock(&imp.mu);
		imp.stop_progress = true;
		pthread_cond_signal(&imp.progress_cv);
		pthread_mutex_unlock(&imp.mu);
		pthread_join(progress_tid, NULL);
	}
	print_summary(&imp, elapsed(&imp.t0));
	rc = atomic_load(&imp.submit_err);
	if (rc != 0)
		cli_error("import: store: %s", tern_strerror(rc));
	if (rc != 0 || imp.failed)
		ec = CLI_EXIT_FAIL;
out:
	tern_store_close(imp.st);
	import_free(&imp);
	free(tids);
	return ec;
}

const cli_command cmd_import = {
	.name = "import",
	.summary = "read JSONL events from stdin into the store",
	.help =
	"Usage: tern import [--db DIR] [--no-verify] [--threads N] < events.jsonl\n"
	"\n"
	"Reads events, one JSON object per line (strfry export format), and\n"
	"stores them in input order with the relay's rules (replaceable and\n"
	"addressable kinds, NIP-09 deletions, NIP-40 expiration). Creates the\n"
	"store if DIR does not hold one. Each event's id and signature are\n"
	"checked on all cores. Blank lines are skipped; \\r\\n line ends are\n"
	"accepted.\n"
	"\n"
	"Bad lines never stop the import: each is reported on stderr as\n"
	"\"line N: <reason>\" (the first 100), and a summary ends the run:\n"
	"  import: 327 lines: 281 stored, 2 duplicate, 44 rejected (3 invalid,\n"
	"  35 duplicate, 6 blocked) in 0.1 s (3270 events/s)\n"
	"\"duplicate\" counts events already stored; rejected lines are broken\n"
	"down by the NIP-01 prefix of their reason (an older version of a\n"
	"replaceable event is rejected as \"duplicate:\", a deleted one as\n"
	"\"blocked:\"). \"stored\" counts events as they arrived: a later line\n"
	"may replace or delete them. When stderr is a terminal a progress line\n"
	"is shown.\n"
	"\n"
	"Options:\n"
	"  --db DIR      the store directory (default " CLI_DEFAULT_DB ")\n"
	"  --no-verify   skip signature verification (ids are still checked):\n"
	"                only for input from a trusted source\n"
	"  --threads N   verifying threads (default: the number of cores)\n"
	"\n"
	"Exit codes: 0 the input was read and every accepted event stored,\n"
	"even if some lines were rejected; 1 store or I/O failure; 2 usage\n"
	"error.\n",
	.run = run_import,
};
