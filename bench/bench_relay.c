/*
 * bench_relay - end-to-end load generator for `tern serve`.
 *
 * One process, one epoll loop, many plain-TCP WebSocket client connections
 * to 127.0.0.1. The RFC 6455 client side (handshake, masked frames,
 * fragment reassembly, ping/pong, close) is written here so the tool has no
 * dependency on the relay's own WebSocket code. Events are signed here with
 * libsecp256k1 and hashed with OpenSSL, from a canonical serialization of
 * simple events (ASCII content, plain string tags).
 *
 *   bench_relay port                           print a free TCP port
 *   bench_relay gen N                          N signed events as JSONL
 *   bench_relay ingest  --port P [--pid PID] [--conns 8] [--window 64]
 *                       [--events 20000] [--seconds 60]
 *   bench_relay req     --port P [--pid PID] --file EVENTS.jsonl
 *                       [--conns 16] [--seconds 5] [--limit 20]
 *   bench_relay fanout  --port P [--pid PID] [--subs 1000] [--events 3000]
 *                       [--rate 1000] [--seconds 30]
 *   bench_relay idle    --port P --pid PID [--conns 10000] [--batch 500]
 *
 * With --pid, the relay's CPU time (utime + stime of /proc/PID/stat, every
 * thread) and resident memory are read around the timed phase. Every figure
 * is printed as one "name value" line for scripts (scripts/bench-relay.sh).
 * Each scenario is bounded by --seconds: on timeout it prints what it got,
 * "<scenario>_timeout 1", and exits with status 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "tern/hex.h"

/* ------------------------------------------------------------------ util */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *msg)
{
	fprintf(stderr, "bench_relay: %s\n", msg);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void fill_random(void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("getrandom failed");
		}
		b += r;
		n -= (size_t)r;
	}
}

/* Frame masks only need to differ between frames of this test tool:
 * a xorshift generator seeded from getrandom keeps masking cheap. */
static uint64_t rng_state;

static uint32_t rng32(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 16);
}

/* Growable byte buffer. */
struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->n + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;

	while (cap < b->n + extra)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->n - n);
	b->n -= n;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Latency histogram: 1 µs buckets up to ~1 s, one overflow bucket. */
#define HIST_N (1u << 20)
struct hist {
	uint32_t *b;
	uint64_t n, over, max;
};

static void hist_init(struct hist *h)
{
	h->b = calloc(HIST_N, sizeof(*h->b));
	if (!h->b)
		die("out of memory");
	h->n = h->over = h->max = 0;
}

static void hist_add(struct hist *h, uint64_t us)
{
	h->n++;
	if (us > h->max)
		h->max = us;
	if (us >= HIST_N)
		h->over++;
	else
		h->b[us]++;
}

/* The q-quantile in ms; overflowing samples count as the maximum. */
static double hist_q(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)((double)h->n * q), seen = 0;

	if (h->n == 0)
		return 0;
	if (want >= h->n)
		want = h->n - 1;
	for (uint32_t i = 0; i < HIST_N; i++) {
		seen += h->b[i];
		if (seen > want)
			return i / 1000.0;
	}
	return (double)h->max / 1000.0;
}

/* --------------------------------------------------- relay process stats */

static int relay_pid;

/* utime + stime from a /proc stat file, in µs. */
static uint64_t stat_cpu_us(const char *path)
{
	char s[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	size_t n = fread(s, 1, sizeof(s) - 1, f);

	fclose(f);
	s[n] = 0;
	/* Fields after the command name, which may contain spaces. */
	char *p = strrchr(s, ')');

	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
}

/* utime + stime of every thread of the relay, in µs; 0 without --pid. */
static uint64_t relay_cpu_us(void)
{
	char path[64];

	if (!relay_pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", relay_pid);
	uint64_t us = stat_cpu_us(path);

	if (!us && kill(relay_pid, 0))
		die("the relay process is gone");
	return us;
}

/* Per-thread CPU of the relay, to spot one saturated thread. */
#define MAX_THREADS 256
struct threads {
	size_t n;
	int tid[MAX_THREADS];
	uint64_t us[MAX_THREADS];
};

static void threads_read(struct threads *t)
{
	char path[64];
	struct dirent *d;

	t->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", relay_pid);
	DIR *dir = relay_pid ? opendir(path) : NULL;

	if (!dir)
		return;
	while ((d = readdir(dir)) && t->n < MAX_THREADS) {
		if (d->d_name[0] == '.')
			continue;
		int tid = atoi(d->d_name);

		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", relay_pid, tid);
		t->tid[t->n] = tid;
		t->us[t->n++] = stat_cpu_us(path);
	}
	closedir(dir);
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

/* "a,b,c": the busiest relay threads' cores since t0, descending. */
static void print_threads(const char *name, const struct threads *t0, double wall_us)
{
	struct threads t1;
	double cores[MAX_THREADS];
	size_t n = 0;

	threads_read(&t1);
	for (size_t i = 0; i < t1.n; i++) {
		uint64_t base = 0;

		for (size_t j = 0; j < t0->n; j++)
			if (t0->tid[j] == t1.tid[i])
				base = t0->us[j];
		cores[n++] = (double)(t1.us[i] - base) / wall_us;
	}
	if (!n)
		return;
	qsort(cores, n, sizeof(*cores), cmp_desc);
	printf("%s_relay_thread_cores ", name);
	for (size_t i = 0; i < n && i < 6; i++)
		printf("%s%.2f", i ? "," : "", cores[i]);
	printf("\n");
}

/* One "Key: N kB" line of /proc/PID/status, in KiB. */
static long relay_status_kb(const char *key)
{
	char path[64], line[256];
	long v = -1;
	size_t kl = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/status", relay_pid);
	FILE *f = fopen(path, "r");

	if (!f)
		die("cannot read the relay's /proc/PID/status");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* -------------------------------------------------------- event signing */

static secp256k1_context *secp;

struct key {
	secp256k1_keypair kp;
	char pub[65];
};

static void key_init(struct key *k)
{
	uint8_t seckey[32], xo[32];
	secp256k1_xonly_pubkey pub;

	do
		fill_random(seckey, 32);
	while (!secp256k1_keypair_create(secp, &k->kp, seckey));
	if (!secp256k1_keypair_xonly_pub(secp, &pub, NULL, &k->kp) ||
	    !secp256k1_xonly_pubkey_serialize(secp, xo, &pub))
		die("cannot derive a public key");
	tern_hex_encode(k->pub, xo, 32);
	k->pub[64] = 0;
}

/* Appends s as a JSON string body with NIP-01's escapes. */
static void json_str(struct buf *b, const char *s)
{
	static const char hexd[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[6] = { '\\', 0 };
		size_t n = 2;

		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			if (c < 0x20) {
				memcpy(e, "\\u00", 4);
				e[4] = hexd[c >> 4];
				e[5] = hexd[c & 15];
				n = 6;
			} else {
				e[0] = (char)c;
				n = 1;
			}
		}
		buf_add(b, e, n);
	}
}

/*
 * Appends a signed event's JSON to out. tags is compact JSON (already
 * canonical: an array of arrays of plain strings), content plain text.
 */
static void event_build(struct buf *out, const struct key *k, int64_t created_at,
			int kind, const char *tags, const char *content)
{
	struct buf c = { 0 };
	char num[64], idhex[65], sighex[129];
	uint8_t id[32], sig[64];

	buf_add(&c, "[0,\"", 4);
	buf_add(&c, k->pub, 64);
	int n = snprintf(num, sizeof(num), "\",%" PRId64 ",%d,", created_at, kind);

	buf_add(&c, num, (size_t)n);
	buf_add(&c, tags, strlen(tags));
	buf_add(&c, ",\"", 2);
	size_t content_at = c.n;

	json_str(&c, content);
	size_t content_len = c.n - content_at;

	buf_add(&c, "\"]", 2);
	SHA256(c.p, c.n, id);
	if (!secp256k1_schnorrsig_sign32(secp, sig, id, &k->kp, NULL))
		die("signing failed");
	tern_hex_encode(idhex, id, 32);
	tern_hex_encode(sighex, sig, 64);

	buf_add(out, "{\"id\":\"", 7);
	buf_add(out, idhex, 64);
	buf_add(out, "\",\"pubkey\":\"", 12);
	buf_add(out, k->pub, 64);
	n = snprintf(num, sizeof(num), "\",\"created_at\":%" PRId64 ",\"kind\":%d,\"tags\":",
		     created_at, kind);
	buf_add(out, num, (size_t)n);
	buf_add(out, tags, strlen(tags));
	buf_add(out, ",\"content\":\"", 12);
	buf_add(out, c.p + content_at, content_len);
	buf_add(out, "\",\"sig\":\"", 9);
	buf_add(out, sighex, 128);
	buf_add(out, "\"}", 2);
	buf_free(&c);
}

static const char *words[] = {
	"nostr", "relay", "zap", "note", "hello", "world", "bitcoin", "gm", "key",
	"sign", "event", "tag", "music", "dev", "client", "filter", "stream",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* Some words, a distinct suffix, and a few quoted/escaped characters. */
static void make_content(char *out, size_t cap, const char *prefix, uint64_t i)
{
	int n = snprintf(out, cap, "%s %" PRIu64 " \"q\" tab\there", prefix, i);
	unsigned words_n = 5 + rng32() % 30;

	for (unsigned w = 0; w < words_n && (size_t)n + 16 < cap; w++)
		n += snprintf(out + n, cap - (size_t)n, " %s", words[rng32() % NWORDS]);
}

/* Pre-signed messages, stored back to back. */
struct msgs {
	struct buf data;
	size_t *off; /* n + 1 offsets */
	size_t n;
};

static void msgs_add_end(struct msgs *m)
{
	bool first = !m->off;

	m->off = xrealloc(m->off, (m->n + 2) * sizeof(*m->off));
	if (first)
		m->off[0] = 0;
	m->off[++m->n] = m->data.n;
}

/* ------------------------------------------------ WebSocket client side */

enum cstate { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

struct conn {
	int fd;
	uint32_t idx;
	enum cstate state;
	bool dirty;     /* on the flush list */
	bool want_out;  /* EPOLLOUT armed */
	char accept[32];
	struct buf in;  /* undecoded bytes */
	struct buf msg; /* fragments of a message */
	struct buf out; /* bytes not yet written */
	/* scenario state */
	uint32_t inflight;
	uint64_t t_sent;
	uint64_t seq;
};

static int ep = -1;
static uint16_t port;
static struct conn **conns;
static uint32_t nconns;
static struct conn **dirty;
static uint32_t ndirty;
static uint64_t conn_lost, conns_open;
static uint8_t *rbuf;
#define RBUF_SIZE (256 * 1024)

/* Scenario hooks. Before a scenario installs its own, messages (the
 * relay's NIP-42 greeting) are ignored. */
static void ignore_msg(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
}

static void (*on_open)(struct conn *c);
static void (*on_message)(struct conn *c, const uint8_t *p, size_t n, uint64_t t) = ignore_msg;

static void mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		dirty[ndirty++] = c;
	}
}

static void conn_drop(struct conn *c, const char *why)
{
	if (c->state == C_CLOSED)
		return;
	if (c->state == C_OPEN)
		conns_open--;
	if (conn_lost < 5)
		fprintf(stderr, "bench_relay: connection %u lost: %s\n", c->idx, why);
	conn_lost++;
	c->state = C_CLOSED;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->msg);
	buf_free(&c->out);
}

static void set_events(struct conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out != out) {
		c->want_out = out;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

/* Queues one client frame: FIN, the opcode, a fresh mask, masked payload. */
static void ws_send(struct conn *c, int opcode, const void *payload, size_t n)
{
	uint8_t h[14];
	size_t hl = 2;
	uint32_t m = rng32();
	uint8_t mask[4] = { (uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24) };

	if (c->state == C_CLOSED)
		return;
	h[0] = (uint8_t)(0x80 | opcode);
	if (n < 126) {
		h[1] = (uint8_t)(0x80 | n);
	} else if (n <= 0xffff) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memcpy(h + hl, mask, 4);
	hl += 4;
	buf_reserve(&c->out, hl + n);
	memcpy(c->out.p + c->out.n, h, hl);
	uint8_t *d = c->out.p + c->out.n + hl;
	const uint8_t *s = payload;

	for (size_t i = 0; i < n; i++)
		d[i] = s[i] ^ mask[i & 3];
	c->out.n += hl + n;
	mark_dirty(c);
}

static void ws_text(struct conn *c, const void *p, size_t n)
{
	ws_send(c, 1, p, n);
}

static void conn_flush(struct conn *c)
{
	c->dirty = false;
	if (c->state == C_CLOSED || c->state == C_CONNECTING)
		return;
	size_t off = 0;

	while (off < c->out.n) {
		ssize_t w = write(c->fd, c->out.p + off, c->out.n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_drop(c, strerror(errno));
			return;
		}
		off += (size_t)w;
	}
	buf_consume(&c->out, off);
	set_events(c, c->out.n > 0);
}

static void flush_dirty(void)
{
	for (uint32_t i = 0; i < ndirty; i++)
		conn_flush(dirty[i]);
	ndirty = 0;
}

static struct conn *conn_new(void)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;

	if (!c)
		die("out of memory");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->idx = nconns;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("socket");
		die("cannot create a socket (raise the open-file limit?)");
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		perror("connect");
		die("cannot connect to the relay");
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

	c->want_out = true;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev))
		die("epoll_ctl failed");
	conns = xrealloc(conns, (nconns + 1) * sizeof(*conns));
	dirty = xrealloc(dirty, (nconns + 1) * sizeof(*dirty));
	conns[nconns++] = c;
	return c;
}

static void send_handshake(struct conn *c)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t nonce[16], sha[20];
	char key[32], req[256], cat[64];

	for (int i = 0; i < 4; i++) {
		uint32_t r = rng32();

		memcpy(nonce + 4 * i, &r, 4);
	}
	EVP_EncodeBlock((unsigned char *)key, nonce, 16);
	int n = snprintf(cat, sizeof(cat), "%s%s", key, guid);

	SHA1((unsigned char *)cat, (size_t)n, sha);
	EVP_EncodeBlock((unsigned char *)c->accept, sha, 20);
	n = snprintf(req, sizeof(req),
		     "GET / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n\r\n", port, key);
	buf_add(&c->out, req, (size_t)n);
	c->state = C_HANDSHAKE;
	mark_dirty(c);
}

/* A header's value in an HTTP head (case-insensitive name), or NULL. */
static const char *http_header(const char *head, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (!strncasecmp(l, name, nl) && l[nl] == ':') {
			const char *v = l + nl + 1, *e;

			while (*v == ' ' || *v == '\t')
				v++;
			e = strstr(v, "\r\n");
			*len = (size_t)(e - v);
			while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
				(*len)--;
			return v;
		}
	}
	return NULL;
}

/* Checks the 101 reply; returns bytes consumed, 0 for need-more, -1 bad. */
static long handshake_reply(struct conn *c)
{
	uint8_t *end = memmem(c->in.p, c->in.n, "\r\n\r\n", 4);
	size_t len;

	if (!end)
		return c->in.n > 8192 ? -1 : 0;
	size_t hn = (size_t)(end - c->in.p) + 4;
	char *head = malloc(hn + 1);

	if (!head)
		die("out of memory");
	memcpy(head, c->in.p, hn);
	head[hn] = 0;
	const char *acc, *up = http_header(head, "Upgrade", &len);
	/* No extension was offered, so none may be accepted. */
	bool ok = !strncmp(head, "HTTP/1.1 101 ", 13) && up && len == 9 &&
		  !strncasecmp(up, "websocket", 9) &&
		  (acc = http_header(head, "Sec-WebSocket-Accept", &len)) &&
		  len == strlen(c->accept) && !memcmp(acc, c->accept, len) &&
		  !http_header(head, "Sec-WebSocket-Extensions", &len);

	static int shown;

	if (!ok && shown++ < 2)
		fprintf(stderr, "bench_relay: bad handshake reply:\n%.*s", (int)hn, head);
	free(head);
	return ok ? (long)hn : -1;
}

/*
 * Decodes the server's frames from c->in. Server frames must not be masked;
 * a message may arrive in fragments, with control frames between them.
 */
static void ws_decode(struct conn *c, uint64_t t)
{
	size_t off = 0;

	while (c->state == C_OPEN) {
		const uint8_t *p = c->in.p + off;
		size_t avail = c->in.n - off, hl = 2;

		if (avail < 2)
			break;
		int fin = p[0] & 0x80, op = p[0] & 0x0f;
		uint64_t len = p[1] & 0x7f;

		if ((p[0] & 0x70) || (p[1] & 0x80)) {
			conn_drop(c, "reserved bits or a masked frame from the server");
			return;
		}
		if (len == 126) {
			if (avail < 4)
				break;
			len = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			hl = 10;
		}
		if (len > (64u << 20)) {
			conn_drop(c, "frame over 64 MiB");
			return;
		}
		if (avail - hl < len)
			break;
		const uint8_t *pl = p + hl;

		off += hl + (size_t)len;
		switch (op) {
		case 0: case 1: case 2:
			if (op != 0 && c->msg.n) {
				conn_drop(c, "new message inside a fragmented one");
				return;
			}
			if (fin && op != 0) {
				on_message(c, pl, (size_t)len, t);
			} else {
				buf_add(&c->msg, pl, (size_t)len);
				if (fin) {
					on_message(c, c->msg.p, c->msg.n, t);
					c->msg.n = 0;
				}
			}
			break;
		case 8:
			ws_send(c, 8, pl, len >= 2 ? 2 : 0);
			conn_flush(c);
			conn_drop(c, "close frame from the relay");
			return;
		case 9:
			ws_send(c, 10, pl, (size_t)len);
			break;
		case 10:
			break;
		default:
			conn_drop(c, "unknown opcode");
			return;
		}
	}
	if (c->state != C_CLOSED)
		buf_consume(&c->in, off);
}

static void conn_readable(struct conn *c)
{
	ssize_t r = read(c->fd, rbuf, RBUF_SIZE);
	uint64_t t;

	if (r == 0) {
		conn_drop(c, "end of stream");
		return;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_drop(c, strerror(errno));
		return;
	}
	t = now_us();
	buf_add(&c->in, rbuf, (size_t)r);
	if (c->state == C_HANDSHAKE) {
		long used = handshake_reply(c);

		if (used < 0) {
			conn_drop(c, "handshake refused");
			return;
		}
		if (used == 0)
			return;
		buf_consume(&c->in, (size_t)used);
		c->state = C_OPEN;
		conns_open++;
		if (on_open)
			on_open(c);
	}
	ws_decode(c, t);
	/* Keep idle connections small: drop an emptied input buffer. */
	if (c->state != C_CLOSED && c->in.n == 0 && c->in.cap > 65536)
		buf_free(&c->in);
}

static void conn_event(struct conn *c, uint32_t ev)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			conn_drop(c, strerror(err));
			return;
		}
		send_handshake(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_readable(c);
	if (c->state != C_CLOSED && (ev & EPOLLOUT))
		mark_dirty(c);
}

/* Runs the loop until done() or the deadline; tick() once per turn. */
static bool run(bool (*done)(void), void (*tick)(void), uint64_t deadline, int wait_ms)
{
	struct epoll_event evs[512];

	flush_dirty();
	while (!done()) {
		if (now_us() >= deadline)
			return false;
		int n = epoll_wait(ep, evs, 512, wait_ms);

		if (n < 0 && errno != EINTR)
			die("epoll_wait failed");
		for (int i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
		if (tick)
			tick();
		flush_dirty();
	}
	return true;
}

static uint32_t want_open;
static bool all_open(void)
{
	return conns_open + conn_lost >= want_open;
}

/* Opens n more connections, at most batch handshakes at a time. */
static uint32_t open_conns(uint32_t n, uint32_t batch, uint64_t deadline)
{
	uint32_t start = (uint32_t)conns_open;

	while (n > 0) {
		uint32_t b = n < batch ? n : batch;

		want_open = (uint32_t)(conns_open + conn_lost) + b;
		for (uint32_t i = 0; i < b; i++)
			conn_new();
		if (!run(all_open, NULL, deadline, 10))
			break;
		n -= b;
	}
	return (uint32_t)conns_open - start;
}

/* This process's CPU time in µs: the generator shares the machine. */
static uint64_t self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Busy CPU time of the whole machine (every core) from /proc/stat, in µs:
 * shows when other processes skew a run. */
static uint64_t machine_busy_us(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		       &v[3], &v[4], &v[5], &v[6], &v[7]);

	fclose(f);
	if (n != 8)
		return 0;
	/* user nice system [idle iowait] irq softirq steal */
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000000ull /
	       (unsigned long long)sysconf(_SC_CLK_TCK);
}

static struct threads threads0;
static uint64_t machine0;

static void print_cores(const char *name, uint64_t relay0, uint64_t self0, uint64_t w0)
{
	double wall = (double)(now_us() - w0);

	print_threads(name, &threads0, wall);
	printf("%s_machine_cores %.2f\n", name, (double)(machine_busy_us() - machine0) / wall);
	if (relay_pid)
		printf("%s_relay_cores %.2f\n", name, (double)(relay_cpu_us() - relay0) / wall);
	printf("%s_client_cores %.2f\n", name, (double)(self_cpu_us() - self0) / wall);
}

static void raise_nofile(rlim_t need)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		fprintf(stderr, "bench_relay: open-file hard limit %llu is below the %llu needed\n",
			(unsigned long long)rl.rlim_max, (unsigned long long)need);
}

/* Parses ["OK","<id>",true|false,...]: 1 true, 0 false, -1 not an OK. */
static int parse_ok(const uint8_t *p, size_t n)
{
	if (n < 78 || memcmp(p, "[\"OK\",\"", 7) || memcmp(p + 71, "\",", 2))
		return -1;
	size_t i = 73;

	while (i < n && p[i] == ' ')
		i++;
	if (n - i >= 4 && !memcmp(p + i, "true", 4))
		return 1;
	return 0;
}

static bool starts(const uint8_t *p, size_t n, const char *s)
{
	size_t l = strlen(s);

	return n >= l && !memcmp(p, s, l);
}

static void report_unexpected(const char *what, const uint8_t *p, size_t n)
{
	static int shown;

	if (shown++ < 5)
		fprintf(stderr, "bench_relay: %s: %.*s\n", what, (int)(n > 200 ? 200 : n), p);
}

/* ---------------------------------------------------------------- ingest */

static struct msgs ing;
static uint64_t ing_next, ing_ok, ing_false, ing_window;

static void ingest_send(struct conn *c)
{
	while (c->inflight < ing_window && ing_next < ing.n) {
		size_t a = ing.off[ing_next], b = ing.off[ing_next + 1];

		ws_text(c, ing.data.p + a, b - a);
		ing_next++;
		c->inflight++;
	}
}

static void ingest_msg(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
	int ok = parse_ok(p, n);

	if (ok < 0) {
		if (!starts(p, n, "[\"AUTH\""))
			report_unexpected("unexpected reply", p, n);
		return;
	}
	if (ok) {
		ing_ok++;
	} else {
		ing_false++;
		report_unexpected("OK false", p, n);
	}
	c->inflight--;
	ingest_send(c);
}

static bool ingest_done(void)
{
	return ing_ok + ing_false >= ing.n || conns_open == 0;
}

static int cmd_ingest(uint32_t nc, uint64_t nev, uint64_t window, double seconds)
{
	struct key keys[16];
	char content[512];
	int64_t now = time(NULL);
	uint64_t run_id = rng32();

	for (int i = 0; i < 16; i++)
		key_init(&keys[i]);
	uint64_t t0 = now_us();

	for (uint64_t i = 0; i < nev; i++) {
		char tags[200];

		make_content(content, sizeof(content), "ingest", run_id << 32 | i);
		snprintf(tags, sizeof(tags), "[[\"t\",\"%s\"],[\"client\",\"bench_relay\"]]",
			 words[i % NWORDS]);
		buf_add(&ing.data, "[\"EVENT\",", 9);
		event_build(&ing.data, &keys[i % 16], now, 1, tags, content);
		buf_add(&ing.data, "]", 1);
		msgs_add_end(&ing);
	}
	printf("ingest_presign_us_per_event %.1f\n", (double)(now_us() - t0) / (double)nev);
	uint64_t deadline = now_us() + (uint64_t)(seconds * 1e6);

	if (open_conns(nc, nc, deadline) < nc)
		die("ingest: could not open every connection");
	ing_window = window;
	on_message = ingest_msg;
	threads_read(&threads0);
	machine0 = machine_busy_us();
	uint64_t cpu0 = relay_cpu_us(), self0 = self_cpu_us(), w0 = now_us();

	for (uint32_t i = 0; i < nconns; i++)
		ingest_send(conns[i]);
	bool ok = run(ingest_done, NULL, deadline, 100);
	uint64_t w1 = now_us(), cpu1 = relay_cpu_us();
	double secs = (double)(w1 - w0) / 1e6;

	printf("ingest_events %" PRIu64 "\n", nev);
	printf("ingest_ok_true %" PRIu64 "\n", ing_ok);
	printf("ingest_ok_false %" PRIu64 "\n", ing_false);
	printf("ingest_seconds %.3f\n", secs);
	printf("ingest_events_per_s %.0f\n", (double)ing_ok / secs);
	if (relay_pid && ing_ok) {
		printf("ingest_relay_cpu_s %.3f\n", (double)(cpu1 - cpu0) / 1e6);
		printf("ingest_relay_cpu_us_per_event %.2f\n", (double)(cpu1 - cpu0) / (double)ing_ok);
	}
	print_cores("ingest", cpu0, self0, w0);
	printf("ingest_conn_lost %" PRIu64 "\n", conn_lost);
	if (!ok)
		printf("ingest_timeout 1\n");
	return ok && ing_false == 0 ? 0 : 2;
}

/* ------------------------------------------------------------------- REQ */

struct samples {
	char (*ids)[65], (*authors)[65], (*tags)[65];
	int *kinds;
	size_t nid, nauth, ntag, nkind;
};

static struct samples smp;
static struct hist req_hist;
static uint64_t req_sent, req_done, req_events, req_closed, req_stop_at;
static int req_limit;

/* Copies the 64-hex string after key into out; false if absent. */
static bool field_hex(const char *line, const char *key, char out[65])
{
	const char *p = strstr(line, key);

	if (!p)
		return false;
	p += strlen(key);
	for (int i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	memcpy(out, p, 64);
	out[64] = 0;
	return true;
}

static bool seen_str(char (*a)[65], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i], s))
			return true;
	return false;
}

/* Collects ids, authors, "t" values and kinds from a JSONL event file. */
static void load_samples(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	char h[65];

	if (!f)
		die("cannot open the --file of events");
	smp.ids = xrealloc(NULL, 4096 * sizeof(*smp.ids));
	smp.authors = xrealloc(NULL, 512 * sizeof(*smp.authors));
	smp.tags = xrealloc(NULL, 256 * sizeof(*smp.tags));
	smp.kinds = xrealloc(NULL, 64 * sizeof(*smp.kinds));
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		/* Reservoir-free sampling: every 23rd id up to 4096. */
		if (lineno % 23 == 0 && smp.nid < 4096 && field_hex(line, "\"id\":\"", h))
			memcpy(smp.ids[smp.nid++], h, 65);
		if (smp.nauth < 512 && field_hex(line, "\"pubkey\":\"", h) &&
		    !seen_str(smp.authors, smp.nauth, h))
			memcpy(smp.authors[smp.nauth++], h, 65);
		const char *t = strstr(line, "[\"t\",\"");

		if (t && smp.ntag < 256) {
			size_t l = strcspn(t + 6, "\"\\");

			if (l > 0 && l < 64) {
				memcpy(h, t + 6, l);
				h[l] = 0;
				if (!seen_str(smp.tags, smp.ntag, h))
					memcpy(smp.tags[smp.ntag++], h, 65);
			}
		}
		const char *k = strstr(line, "\"kind\":");

		if (k && smp.nkind < 64) {
			int kind = atoi(k + 7);
			bool seen = false;

			for (size_t i = 0; i < smp.nkind; i++)
				seen |= smp.kinds[i] == kind;
			/* Skip kinds that are restricted (DMs, gift wraps) by default. */
			if (!seen && kind != 4 && kind != 1059)
				smp.kinds[smp.nkind++] = kind;
		}
	}
	free(line);
	fclose(f);
	if (!smp.nid || !smp.nauth || !smp.ntag || !smp.nkind)
		die("the --file has too few events (needs ids, pubkeys, kinds and \"t\" tags)");
}

/* The four filter shapes in turn: author, kind + limit 50, tag, ids. */
static void req_send(struct conn *c)
{
	char m[600];
	uint64_t q = req_sent++;
	int n;

	switch (q % 4) {
	case 0:
		n = snprintf(m, sizeof(m), "[\"REQ\",\"q%" PRIu64 "\",{\"authors\":[\"%s\"],\"limit\":%d}]",
			     q, smp.authors[rng32() % smp.nauth], req_limit);
		break;
	case 1:
		n = snprintf(m, sizeof(m), "[\"REQ\",\"q%" PRIu64 "\",{\"kinds\":[%d],\"limit\":50}]",
			     q, smp.kinds[rng32() % smp.nkind]);
		break;
	case 2:
		n = snprintf(m, sizeof(m), "[\"REQ\",\"q%" PRIu64 "\",{\"#t\":[\"%s\"],\"limit\":%d}]",
			     q, smp.tags[rng32() % smp.ntag], req_limit);
		break;
	default: {
		n = snprintf(m, sizeof(m), "[\"REQ\",\"q%" PRIu64 "\",{\"ids\":[", q);
		for (int i = 0; i < 4; i++)
			n += snprintf(m + n, sizeof(m) - (size_t)n, "%s\"%s\"", i ? "," : "",
				      smp.ids[rng32() % smp.nid]);
		n += snprintf(m + n, sizeof(m) - (size_t)n, "]}]");
	}
	}
	c->seq = q;
	c->t_sent = now_us();
	c->inflight = 1;
	ws_text(c, m, (size_t)n);
}

static void req_msg(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
	char sub[40];
	int sl = snprintf(sub, sizeof(sub), "\"q%" PRIu64 "\"", c->seq);

	if (starts(p, n, "[\"EVENT\",")) {
		req_events++;
		return;
	}
	if (starts(p, n, "[\"EOSE\",") && c->inflight && n >= 8 + (size_t)sl &&
	    !memcmp(p + 8, sub, (size_t)sl)) {
		char cl[48];
		int cn = snprintf(cl, sizeof(cl), "[\"CLOSE\",%s]", sub);

		hist_add(&req_hist, t - c->t_sent);
		req_done++;
		c->inflight = 0;
		ws_text(c, cl, (size_t)cn);
		if (t < req_stop_at)
			req_send(c);
		return;
	}
	if (starts(p, n, "[\"CLOSED\",")) {
		/* Relays may confirm a CLOSE; a refusal of the open REQ is an error. */
		if (c->inflight && n >= 10 + (size_t)sl && !memcmp(p + 10, sub, (size_t)sl)) {
			req_closed++;
			report_unexpected("REQ refused", p, n);
			c->inflight = 0;
			if (t < req_stop_at)
				req_send(c);
		}
		return;
	}
	if (!starts(p, n, "[\"AUTH\""))
		report_unexpected("unexpected reply", p, n);
}

static bool req_idle(void)
{
	if (now_us() < req_stop_at)
		return conns_open == 0;
	for (uint32_t i = 0; i < nconns; i++)
		if (conns[i]->state == C_OPEN && conns[i]->inflight)
			return false;
	return true;
}

static int cmd_req(const char *file, uint32_t nc, double seconds, int limit)
{
	load_samples(file);
	printf("req_samples ids=%zu authors=%zu tags=%zu kinds=%zu\n", smp.nid, smp.nauth,
	       smp.ntag, smp.nkind);
	req_limit = limit;
	hist_init(&req_hist);
	uint64_t deadline = now_us() + (uint64_t)(seconds * 1e6) + 30000000u;

	if (open_conns(nc, nc, deadline) < nc)
		die("req: could not open every connection");
	on_message = req_msg;
	/* A short warm-up, so page-cache misses of the store are not timed. */
	req_stop_at = now_us() + 300000;
	for (uint32_t i = 0; i < nconns; i++)
		req_send(conns[i]);
	run(req_idle, NULL, deadline, 100);
	memset(req_hist.b, 0, HIST_N * sizeof(*req_hist.b));
	req_hist.n = req_hist.over = req_hist.max = 0;
	req_done = req_events = 0;

	threads_read(&threads0);
	machine0 = machine_busy_us();
	uint64_t cpu0 = relay_cpu_us(), self0 = self_cpu_us(), w0 = now_us();

	req_stop_at = w0 + (uint64_t)(seconds * 1e6);
	for (uint32_t i = 0; i < nconns; i++)
		req_send(conns[i]);
	bool ok = run(req_idle, NULL, deadline, 100);
	uint64_t w1 = now_us(), cpu1 = relay_cpu_us();
	double secs = (double)(w1 - w0) / 1e6;

	printf("req_conns %u\n", nc);
	printf("req_done %" PRIu64 "\n", req_done);
	printf("req_refused %" PRIu64 "\n", req_closed);
	printf("req_seconds %.3f\n", secs);
	printf("req_per_s %.0f\n", (double)req_done / secs);
	printf("req_events_per_s %.0f\n", (double)req_events / secs);
	printf("req_events_per_req %.1f\n", req_done ? (double)req_events / (double)req_done : 0);
	printf("req_p50_ms %.3f\n", hist_q(&req_hist, 0.50));
	printf("req_p99_ms %.3f\n", hist_q(&req_hist, 0.99));
	printf("req_max_ms %.3f\n", (double)req_hist.max / 1000.0);
	if (relay_pid && req_done)
		printf("req_relay_cpu_us_per_req %.1f\n", (double)(cpu1 - cpu0) / (double)req_done);
	print_cores("req", cpu0, self0, w0);
	printf("req_conn_lost %" PRIu64 "\n", conn_lost);
	if (!ok)
		printf("req_timeout 1\n");
	return ok && req_closed == 0 ? 0 : 2;
}

/* --------------------------------------------------------------- fan-out */

static struct msgs pub;
static struct conn *publisher;
static uint64_t *pub_sent_at;
static uint64_t pub_next, pub_ok, pub_false, fan_rate, fan_t0, fan_last, fan_got, fan_want;
static uint64_t fan_eose, fan_bad;
static struct hist fan_hist;

static void fan_msg(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
	if (c == publisher) {
		int ok = parse_ok(p, n);

		if (ok == 1) {
			pub_ok++;
		} else if (ok == 0) {
			pub_false++;
			report_unexpected("OK false", p, n);
		}
		return;
	}
	if (starts(p, n, "[\"EVENT\",\"f\",")) {
		/* The content starts with "fanout <seq> ": the publisher's
		 * send time of that event is looked up by seq. */
		const uint8_t *s = memmem(p, n, "\"content\":\"fanout ", 18);
		uint64_t seq = 0;

		if (!s) {
			fan_bad++;
			return;
		}
		for (s += 18; s < p + n && *s >= '0' && *s <= '9'; s++)
			seq = seq * 10 + (uint64_t)(*s - '0');
		if (seq >= pub_next) {
			fan_bad++;
			return;
		}
		hist_add(&fan_hist, t - pub_sent_at[seq]);
		fan_got++;
		c->seq++;
		fan_last = t;
		return;
	}
	if (starts(p, n, "[\"EOSE\",\"f\"]")) {
		fan_eose++;
		return;
	}
	if (!starts(p, n, "[\"AUTH\""))
		report_unexpected("unexpected reply", p, n);
}

/* Publishes at the fixed rate; at most 64 events per loop turn. */
static void fan_tick(void)
{
	uint64_t t = now_us();
	uint64_t due = (t - fan_t0) * fan_rate / 1000000u + 1;

	for (int k = 0; k < 64 && pub_next < due && pub_next < pub.n; k++) {
		size_t a = pub.off[pub_next], b = pub.off[pub_next + 1];

		pub_sent_at[pub_next] = now_us();
		ws_text(publisher, pub.data.p + a, b - a);
		pub_next++;
	}
	/* Send now, not after the next wait: the timestamp is the send time. */
	conn_flush(publisher);
}

static bool fan_done(void)
{
	return (pub_next >= pub.n && fan_got + fan_bad >= fan_want) || conns_open == 0 ||
	       publisher->state == C_CLOSED;
}

static bool fan_all_eose(void)
{
	return fan_eose >= want_open;
}

static int cmd_fanout(uint32_t nsub, uint64_t nev, uint64_t rate, double seconds, uint32_t batch)
{
	struct key keys[8];
	char content[512], req[128];
	int64_t now = time(NULL);

	for (int i = 0; i < 8; i++)
		key_init(&keys[i]);
	for (uint64_t i = 0; i < nev; i++) {
		make_content(content, sizeof(content), "fanout", i);
		buf_add(&pub.data, "[\"EVENT\",", 9);
		event_build(&pub.data, &keys[i % 8], now, 1, "[]", content);
		buf_add(&pub.data, "]", 1);
		msgs_add_end(&pub);
	}
	pub_sent_at = xrealloc(NULL, nev * sizeof(*pub_sent_at));
	hist_init(&fan_hist);
	uint64_t deadline = now_us() + (uint64_t)(seconds * 1e6);

	raise_nofile(nsub + 64);
	on_message = fan_msg;
	uint32_t got = open_conns(nsub, batch, deadline);

	printf("fanout_subscribers %u\n", got);
	if (got < nsub)
		die("fanout: could not open every subscriber connection");
	/* Stored events are older than `since`: only live events match. */
	int rn = snprintf(req, sizeof(req), "[\"REQ\",\"f\",{\"kinds\":[1],\"since\":%" PRId64 "}]", now);

	for (uint32_t i = 0; i < nconns; i++)
		ws_text(conns[i], req, (size_t)rn);
	want_open = nsub;
	if (!run(fan_all_eose, NULL, deadline, 10))
		die("fanout: not every subscription got its EOSE");
	publisher = conn_new();
	want_open = (uint32_t)conns_open + 1;
	if (!run(all_open, NULL, deadline, 10) || publisher->state != C_OPEN)
		die("fanout: the publisher could not connect");
	fan_want = nev * nsub;
	fan_rate = rate;
	threads_read(&threads0);
	machine0 = machine_busy_us();
	uint64_t cpu0 = relay_cpu_us(), self0 = self_cpu_us();

	fan_t0 = now_us();
	fan_tick();
	bool ok = run(fan_done, fan_tick, deadline, 1);
	uint64_t cpu1 = relay_cpu_us();
	double secs = (double)(fan_last - fan_t0) / 1e6;

	printf("fanout_events %" PRIu64 "\n", pub_next);
	printf("fanout_rate_per_s %" PRIu64 "\n", rate);
	printf("fanout_publish_ok %" PRIu64 "\n", pub_ok);
	printf("fanout_publish_false %" PRIu64 "\n", pub_false);
	printf("fanout_deliveries %" PRIu64 "\n", fan_got);
	printf("fanout_deliveries_expected %" PRIu64 "\n", fan_want);
	printf("fanout_seconds %.3f\n", secs);
	printf("fanout_deliveries_per_s %.0f\n", secs > 0 ? (double)fan_got / secs : 0);
	printf("fanout_p50_ms %.3f\n", hist_q(&fan_hist, 0.50));
	printf("fanout_p99_ms %.3f\n", hist_q(&fan_hist, 0.99));
	printf("fanout_max_ms %.3f\n", (double)fan_hist.max / 1000.0);
	if (relay_pid && fan_got)
		printf("fanout_relay_cpu_us_per_delivery %.3f\n",
		       (double)(cpu1 - cpu0) / (double)fan_got);
	print_cores("fanout", cpu0, self0, fan_t0);
	printf("fanout_conn_lost %" PRIu64 "\n", conn_lost);
	if (fan_bad)
		printf("fanout_bad_deliveries %" PRIu64 "\n", fan_bad);
	if (!ok)
		printf("fanout_timeout 1\n");
	return ok && fan_got == fan_want ? 0 : 2;
}

/* ------------------------------------------------------------------ idle */

static void idle_msg(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
	if (!starts(p, n, "[\"AUTH\""))
		report_unexpected("unexpected message", p, n);
}

static bool never(void)
{
	return false;
}

static int cmd_idle(uint32_t n, uint32_t batch, double seconds)
{
	if (!relay_pid)
		die("idle: --pid is required");
	raise_nofile(n + 64);
	on_message = idle_msg;
	uint64_t deadline = now_us() + (uint64_t)(seconds * 1e6);
	long rss0 = relay_status_kb("VmRSS"), anon0 = relay_status_kb("RssAnon");
	uint64_t w0 = now_us();
	uint32_t got = open_conns(n, batch, deadline);
	uint64_t w1 = now_us();

	/* Let the relay settle (greetings, deferred frees) before measuring. */
	run(never, NULL, now_us() + 1000000, 50);
	long rss1 = relay_status_kb("VmRSS"), anon1 = relay_status_kb("RssAnon");

	printf("idle_conns_open %" PRIu64 "\n", conns_open);
	printf("idle_open_seconds %.3f\n", (double)(w1 - w0) / 1e6);
	printf("idle_relay_rss_before_kib %ld\n", rss0);
	printf("idle_relay_rss_after_kib %ld\n", rss1);
	if (conns_open) {
		printf("idle_rss_per_conn_kib %.2f\n", (double)(rss1 - rss0) / (double)conns_open);
		printf("idle_anon_per_conn_kib %.2f\n", (double)(anon1 - anon0) / (double)conns_open);
	}
	printf("idle_conn_lost %" PRIu64 "\n", conn_lost);
	if (got < n)
		printf("idle_timeout 1\n");
	return got == n ? 0 : 2;
}

/* ------------------------------------------------------------------- gen */

/* N signed events: 40 keys, kinds 1/7 with "t" and "p" tags, some kind 0. */
static int cmd_gen(uint64_t n)
{
	struct key keys[40];
	struct buf out = { 0 };
	char content[512], tags[256];
	int64_t base = time(NULL) - (int64_t)n;

	for (int i = 0; i < 40; i++)
		key_init(&keys[i]);
	for (uint64_t i = 0; i < n; i++) {
		const struct key *k = &keys[rng32() % 40];
		int kind = i % 10 == 9 ? 7 : i % 97 == 0 ? 0 : 1;

		snprintf(tags, sizeof(tags), "[[\"t\",\"%s\"],[\"p\",\"%s\"]]",
			 words[rng32() % NWORDS], keys[rng32() % 40].pub);
		make_content(content, sizeof(content), "gen", i);
		out.n = 0;
		event_build(&out, k, base + (int64_t)i, kind, kind == 0 ? "[]" : tags,
			    kind == 7 ? "+" : content);
		buf_add(&out, "\n", 1);
		if (fwrite(out.p, 1, out.n, stdout) != out.n)
			die("write failed");
	}
	buf_free(&out);
	return fflush(stdout) ? 1 : 0;
}

static int cmd_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &l))
		die("cannot find a free port");
	printf("%u\n", ntohs(a.sin_port));
	close(fd);
	return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_relay port | gen N\n"
		"       bench_relay ingest --port P [--pid PID] [--conns 8] [--window 64] [--events 20000]\n"
		"       bench_relay req    --port P [--pid PID] --file EVENTS.jsonl [--conns 16] [--seconds 5] [--limit 20]\n"
		"       bench_relay fanout --port P [--pid PID] [--subs 1000] [--events 3000] [--rate 1000]\n"
		"       bench_relay idle   --port P --pid PID [--conns 10000] [--batch 500]\n"
		"  --seconds bounds each scenario (for req: the timed phase)\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", 1, NULL, 'p' }, { "pid", 1, NULL, 'P' }, { "conns", 1, NULL, 'c' },
		{ "window", 1, NULL, 'w' }, { "events", 1, NULL, 'e' }, { "seconds", 1, NULL, 's' },
		{ "file", 1, NULL, 'f' }, { "limit", 1, NULL, 'l' }, { "subs", 1, NULL, 'S' },
		{ "rate", 1, NULL, 'r' }, { "batch", 1, NULL, 'b' }, { NULL, 0, NULL, 0 },
	};
	long conns_opt = -1, window = 64, events = -1, limit = 20, subs = 1000, rate = 1000;
	long batch = 500;
	double seconds = -1;
	const char *file = NULL;
	int o;

	if (argc < 2)
		usage();
	const char *cmd = argv[1];

	fill_random(&rng_state, sizeof(rng_state));
	rng_state |= 1;
	if (!strcmp(cmd, "port"))
		return cmd_port();
	secp = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!strcmp(cmd, "gen")) {
		if (argc != 3 || atol(argv[2]) <= 0)
			usage();
		return cmd_gen((uint64_t)atol(argv[2]));
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'P': relay_pid = atoi(optarg); break;
		case 'c': conns_opt = atol(optarg); break;
		case 'w': window = atol(optarg); break;
		case 'e': events = atol(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'f': file = optarg; break;
		case 'l': limit = atol(optarg); break;
		case 'S': subs = atol(optarg); break;
		case 'r': rate = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		default: usage();
		}
	}
	if (!port || optind != argc || window <= 0 || limit <= 0 || subs <= 0 || rate <= 0 ||
	    batch <= 0)
		usage();
	ep = epoll_create1(EPOLL_CLOEXEC);
	rbuf = malloc(RBUF_SIZE);
	if (ep < 0 || !rbuf)
		die("cannot create the event loop");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "ingest"))
		return cmd_ingest(conns_opt > 0 ? (uint32_t)conns_opt : 8,
				  events > 0 ? (uint64_t)events : 20000, (uint64_t)window,
				  seconds > 0 ? seconds : 60);
	if (!strcmp(cmd, "req")) {
		if (!file)
			usage();
		return cmd_req(file, conns_opt > 0 ? (uint32_t)conns_opt : 16,
			       seconds > 0 ? seconds : 5, (int)limit);
	}
	if (!strcmp(cmd, "fanout"))
		return cmd_fanout((uint32_t)subs, events > 0 ? (uint64_t)events : 3000,
				  (uint64_t)rate, seconds > 0 ? seconds : 30, (uint32_t)batch);
	if (!strcmp(cmd, "idle"))
		return cmd_idle(conns_opt > 0 ? (uint32_t)conns_opt : 10000, (uint32_t)batch,
				seconds > 0 ? seconds : 60);
	usage();
	return 1;
}
