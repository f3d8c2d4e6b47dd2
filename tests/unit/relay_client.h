/*
 * A raw WebSocket client for unit tests that run a tern_relay in process
 * on 127.0.0.1 (test_hooks.c, test_relay_serve.c, test_backend_relay.c).
 * Header-only: each test file is its own program. The test sets `port`
 * to the relay's port before dialing.
 */
#ifndef TERN_TEST_RELAY_CLIENT_H
#define TERN_TEST_RELAY_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <tern/relay.h>

static uint16_t port;

static inline uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

static inline void *run_main(void *arg)
{
	tern_relay_run(arg);
	return NULL;
}

static inline int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static inline void send_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		cr_assert_gt(w, 0);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static inline void read_n(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		cr_assert_gt(r, 0, "connection closed or timed out");
		p += r;
		n -= (size_t)r;
	}
}

/* Sends an HTTP request and reads the whole response, or for 101 the
 * head only. */
static inline int http(int fd, const char *req, char *resp, size_t cap)
{
	size_t len = 0;
	int status = 0;

	send_all(fd, req, strlen(req));
	while (len < cap - 1) {
		ssize_t r = read(fd, resp + len, 1);

		if (r <= 0)
			break;
		len++;
		resp[len] = '\0';
		if (strncmp(resp, "HTTP/1.1 101", 12) == 0 &&
		    len >= 4 && strcmp(resp + len - 4, "\r\n\r\n") == 0)
			break;
	}
	resp[len] = '\0';
	cr_assert_eq(sscanf(resp, "HTTP/1.1 %d", &status), 1, "%s", resp);
	return status;
}

__attribute__((unused)) static const char upgrade_req[] =
	"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Version: 13\r\n\r\n";

static inline size_t ws_frame(uint8_t *buf, const char *text)
{
	size_t n = strlen(text), h = 0;
	const uint8_t mask[4] = { 1, 2, 3, 4 };

	buf[h++] = 0x81;
	if (n < 126) {
		buf[h++] = 0x80 | (uint8_t)n;
	} else {
		buf[h++] = 0x80 | 126;
		buf[h++] = (uint8_t)(n >> 8);
		buf[h++] = (uint8_t)n;
	}
	memcpy(buf + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		buf[h + i] = (uint8_t)text[i] ^ mask[i & 3];
	return h + n;
}

static inline void ws_send(int fd, const char *text)
{
	uint8_t *out = malloc(strlen(text) + 16);
	size_t n = ws_frame(out, text);

	send_all(fd, out, n);
	free(out);
}

/* Reads the next text message (skipping control frames) into buf. */
static inline char *ws_recv(int fd, char *buf, size_t cap)
{
	for (;;) {
		uint8_t h[10];
		uint64_t n;

		read_n(fd, h, 2);
		n = h[1] & 0x7f;
		if (n == 126) {
			read_n(fd, h + 2, 2);
			n = (uint64_t)h[2] << 8 | h[3];
		} else if (n == 127) {
			read_n(fd, h + 2, 8);
			n = 0;
			for (int i = 0; i < 8; i++)
				n = n << 8 | h[2 + i];
		}
		cr_assert_lt(n, cap);
		read_n(fd, (uint8_t *)buf, n);
		buf[n] = '\0';
		if ((h[0] & 0x0f) == 1)
			return buf;
		cr_assert((h[0] & 0x0f) >= 8, "unexpected opcode %d", h[0]);
	}
}

/* True if a message arrives within ms. */
static inline bool ws_pending(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* The next text message that is not an AUTH challenge. */
static inline char *ws_recv_reply(int fd, char *buf, size_t cap)
{
	while (strncmp(ws_recv(fd, buf, cap), "[\"AUTH\"", 7) == 0)
		;
	return buf;
}

#endif
