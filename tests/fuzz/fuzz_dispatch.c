/*
 * libFuzzer target for the relay's message dispatcher (src/relay/session.c)
 * on the real connection path.
 *
 * Once (LLVMFuzzerInitialize): a relay with one I/O thread and no listener
 * (tern__relay_new_detached) over a real store in a temporary directory,
 * opened with no_sync so that inputs do not wait for fsync.
 *
 * Per input: a fresh connection on one end of a socket pair
 * (tern__conn_adopt), upgraded to WebSocket by a real handshake written to
 * the other end (permessage-deflate is offered for inputs of odd length,
 * so both output paths run); the input is handed to
 * tern__session_message() exactly as the WebSocket layer hands a text
 * message; then the loop runs until every reply is out: the store's
 * results (OK after commit), scans in slices, the flush pass. The client
 * end reads every frame (inflating compressed ones), and each text message
 * must be a JSON array (checked with jansson) whose first element is one
 * of EVENT, OK, EOSE, CLOSED, NOTICE, COUNT, AUTH, NEG-ERR. The first
 * message is the AUTH challenge; at least one reply must follow it unless
 * the input was a CLOSE. The connection is then closed, and everything it
 * held must be freed (LeakSanitizer).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <tern/config.h>
#include <tern/error.h>
#include <tern/log.h>
#include <tern/relay.h>

#include "proto/message.h"
#include "relay/conn.h"
#include "relay/io.h"
#include "relay/relay.h"
#include "relay/session.h"

static tern_relay *relay;
static tern__io *io;
static tern_arena scratch;

/* What the client end has read and not yet parsed. */
static uint8_t *rx;
static size_t rxlen, rxcap;

static void die(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_dispatch: %s\ninput (%zu bytes): %.*s\n", what,
		size, (int)(size > 2000 ? 2000 : size), (const char *)data);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/tern-fuzz-dispatch-XXXXXX";
	tern_config cfg;
	char err[256];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	tern_config_defaults(&cfg);
	cfg.relay.io_threads = 1;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.relay.websocket.ping_interval = 0;
	cfg.store.dir = dir;
	cfg.store.no_sync = true;
	cfg.store.purge_interval = 0;
	cfg.store.map_size = 64u << 20;
	if (tern__relay_new_detached(&relay, &cfg, err, sizeof err)) {
		fprintf(stderr, "fuzz_dispatch: relay: %s\n", err);
		exit(1);
	}
	tern_config_free(&cfg);
	io = relay->io[0];
	tern_arena_init(&scratch, 0);
	return 0;
}

/* Reads what the relay has written so far. */
static void drain(int fd)
{
	for (;;) {
		ssize_t n;

		if (rxcap - rxlen < 65536) {
			rxcap = rxcap ? rxcap * 2 : 1 << 17;
			rx = realloc(rx, rxcap);
			if (!rx)
				abort();
		}
		n = read(fd, rx + rxlen, rxcap - rxlen);
		if (n <= 0)
			return;
		rxlen += (size_t)n;
	}
}

/* Runs the loop until the connection has nothing left to do. */
static void pump(tern__conn *c, int fd)
{
	for (int i = 0; i < 100000; i++) {
		uv_run(&io->loop, UV_RUN_NOWAIT);
		drain(fd);
		if (!io->nconns) {
			/* The relay closed it (c may be freed): let the store
			 * answer what it still has. */
			tern_store_flush(relay->store);
			uv_run(&io->loop, UV_RUN_NOWAIT);
			return;
		}
		if (c->pending) {
			/* The results are posted once the writer committed. */
			tern_store_flush(relay->store);
			continue;
		}
		if (io->scans || !tern__outq_empty(&c->out) || c->inflight)
			continue;
		return;
	}
	die("the loop never settled", NULL, 0);
}

static const char *const verbs[] = { "EVENT", "OK", "EOSE", "CLOSED",
				     "NOTICE", "COUNT", "AUTH", "NEG-ERR" };

static void check_message(const char *text, size_t n, const uint8_t *data,
			  size_t size)
{
	json_error_t e;
	json_t *j = json_loadb(text, n, JSON_ALLOW_NUL, &e);
	const char *verb;
	bool known = false;

	if (!j || !json_is_array(j) || json_array_size(j) < 2 ||
	    !json_is_string(json_array_get(j, 0))) {
		fprintf(stderr, "reply: %.*s\n", (int)n, text);
		die("a reply is not a JSON array headed by a string", data,
		    size);
	}
	verb = json_string_value(json_array_get(j, 0));
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		known |= strcmp(verb, verbs[i]) == 0;
	if (!known) {
		fprintf(stderr, "reply: %.*s\n", (int)n, text);
		die("a reply has an unknown verb", data, size);
	}
	json_decref(j);
}

/* Inflates one permessage-deflate payload (RFC 7692: add 00 00 ff ff). */
static uint8_t *inflate_msg(z_stream *z, const uint8_t *p, size_t n,
			    size_t *outlen)
{
	static const uint8_t tail[4] = { 0, 0, 0xff, 0xff };
	size_t cap = n * 4 + 1024, len = 0;
	uint8_t *out = malloc(cap);
	int pass;

	if (!out)
		abort();
	for (pass = 0; pass < 2; pass++) {
		z->next_in = (Bytef *)(pass ? tail : p);
		z->avail_in = (uInt)(pass ? 4 : n);
		while (z->avail_in) {
			int rc;

			if (cap - len < 4096) {
				cap *= 2;
				out = realloc(out, cap);
				if (!out)
					abort();
			}
			z->next_out = out + len;
			z->avail_out = (uInt)(cap - len);
			rc = inflate(z, Z_SYNC_FLUSH);
			len = cap - z->avail_out;
			if (rc != Z_OK && rc != Z_BUF_ERROR) {
				free(out);
				return NULL;
			}
			if (rc == Z_BUF_ERROR && z->avail_out)
				break;
		}
	}
	*outlen = len;
	return out;
}

/* Parses the frames read (after the 101 head) and checks each message.
 * Returns the number of text messages. */
static size_t check_frames(const uint8_t *p, size_t n, bool deflate,
			   const uint8_t *data, size_t size, bool *saw_auth)
{
	z_stream z = { 0 };
	size_t msgs = 0;

	if (deflate && inflateInit2(&z, -15) != Z_OK)
		abort();
	while (n > 0) {
		uint64_t len;
		size_t h = 2;
		unsigned op;
		bool rsv1;

		if (n < 2)
			die("truncated frame header", data, size);
		op = p[0] & 0x0f;
		rsv1 = p[0] & 0x40;
		if (!(p[0] & 0x80) || (p[1] & 0x80))
			die("a fragmented or masked server frame", data, size);
		len = p[1] & 0x7f;
		if (len == 126) {
			if (n < 4)
				die("truncated frame header", data, size);
			len = (uint64_t)p[2] << 8 | p[3];
			h = 4;
		} else if (len == 127) {
			if (n < 10)
				die("truncated frame header", data, size);
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			h = 10;
		}
		if (len > n - h)
			die("truncated frame", data, size);
		if (op == 1) {
			const uint8_t *m = p + h;
			size_t mlen = (size_t)len;
			uint8_t *plain = NULL;

			if (rsv1) {
				if (!deflate)
					die("RSV1 without deflate", data, size);
				plain = inflate_msg(&z, m, mlen, &mlen);
				if (!plain)
					die("bad deflate data", data, size);
				m = plain;
			}
			if (msgs == 0 && (mlen < 8 ||
					  memcmp(m, "[\"AUTH\",", 8) != 0))
				die("the first message is not AUTH", data, size);
			check_message((const char *)m, mlen, data, size);
			*saw_auth = true;
			free(plain);
			msgs++;
		} else if (op < 8) {
			die("a data frame that is not text", data, size);
		}
		p += h + len;
		n -= h + (size_t)len;
	}
	if (deflate)
		inflateEnd(&z);
	return msgs;
}

/* A well-formed CLOSE is the one message that gets no reply. */
static bool is_close(const uint8_t *data, size_t size)
{
	tern__msg m;
	bool yes;

	tern_arena_reset(&scratch);
	yes = tern__msg_parse(&m, data, size, &io->set->msg_lim, &scratch,
			      NULL) == 0 && m.type == TERN__MSG_CLOSE;
	tern_arena_reset(&scratch);
	return yes;
}

static const char upgrade[] =
	"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Version: 13\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool deflate = size & 1, saw_auth = false;
	char req[512];
	int sv[2], n;
	tern__conn *c;
	uint8_t *end;
	size_t head, msgs;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	c = tern__conn_adopt(io, sv[0]);
	if (!c)
		abort();
	n = snprintf(req, sizeof req, "%s%s\r\n", upgrade, deflate ?
		     "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
	if (write(sv[1], req, (size_t)n) != n)
		abort();
	rxlen = 0;
	for (int i = 0; i < 1000 && c->state != TERN__CONN_WS; i++)
		uv_run(&io->loop, UV_RUN_NOWAIT);
	if (c->state != TERN__CONN_WS)
		die("the handshake did not complete", data, size);

	tern__session_message(c, data, size);
	pump(c, sv[1]);

	end = memmem(rx, rxlen, "\r\n\r\n", 4);
	if (!end || memcmp(rx, "HTTP/1.1 101 ", 13) != 0)
		die("no 101 response", data, size);
	head = (size_t)(end + 4 - rx);
	if (deflate != (memmem(rx, head, "permessage-deflate", 18) != NULL))
		die("deflate was not negotiated as offered", data, size);
	msgs = check_frames(rx + head, rxlen - head, deflate, data, size,
			    &saw_auth);
	if (io->nconns && msgs < 2 && !is_close(data, size))
		die("no reply to the message", data, size);

	if (io->nconns)
		tern__conn_abort(c);
	/* c is freed once its handle has closed (no event is pending). */
	for (int i = 0; i < 100 && io->conns; i++)
		uv_run(&io->loop, UV_RUN_NOWAIT);
	if (io->conns)
		die("the connection was not freed", data, size);
	close(sv[1]);
	return 0;
}
