/* Unit tests for src/ws/handshake.c: RFC 6455 opening handshake and
 * RFC 7692 permessage-deflate negotiation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <tern/error.h>

#include "http/request.h"
#include "ws/handshake.h"

static tern__http_request req;
static tern__ws_handshake hs;
static char head[4096];

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* Builds and parses "GET /chat HTTP/1.1" + the given field lines. */
static void parse_head(const char *first_line, const char *fields)
{
	int n = snprintf(head, sizeof head, "%s\r\n%s\r\n", first_line, fields);

	cr_assert_lt(n, (int)sizeof head);
	cr_assert_eq(tern__http_parse(&req, (const uint8_t *)head, (size_t)n, NULL), n,
		     "head must parse: %s (%s)", head, req.reason ? req.reason : "");
}

#define BASE "Host: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"
#define GOOD BASE "Sec-WebSocket-Key: " KEY "\r\n" V13

static int check(const char *fields, const tern__ws_deflate_policy *pol)
{
	parse_head("GET /chat HTTP/1.1", fields);
	return tern__ws_handshake_check(&req, pol, &hs);
}

#define REFUSED(fields, st, why, extra)                                        \
	do {                                                                   \
		cr_assert_eq(check((fields), NULL), TERN_EPARSE);              \
		cr_assert_eq(hs.status, (st));                                 \
		cr_assert_str_eq(hs.reason, (why));                            \
		const char *extra_ = (extra);                                  \
		if (!extra_)                                                   \
			cr_assert_null(hs.extra_header);                       \
		else                                                           \
			cr_assert_str_eq(hs.extra_header, extra_);             \
		cr_assert_not(hs.deflate.enabled);                             \
	} while (0)

/* ---- accept key ---------------------------------------------------------- */

/* RFC 6455 sections 1.3 and 4.2.2; also what `openssl sha1 -binary | base64`
 * gives for the key followed by the GUID. */
Test(ws_handshake, rfc6455_example_accept)
{
	char out[TERN__WS_ACCEPT_LEN + 1];
	tern_slice key = { (const uint8_t *)KEY, strlen(KEY) };

	cr_assert_eq(tern__ws_accept_key(key, out), 0);
	cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static bool key_ok(const char *k)
{
	return tern__ws_key_valid((tern_slice){ (const uint8_t *)k, strlen(k) });
}

Test(ws_handshake, key_validation)
{
	cr_assert(key_ok(KEY));
	cr_assert(key_ok("AAAAAAAAAAAAAAAAAAAAAA=="));
	cr_assert(key_ok("+/+/+/+/+/+/+/+/+/+/+w=="));
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25jZQ"), "padding required");
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25jZR=="), "stray bits in the last char");
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25jZQ=A"));
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25j ZQ=="));
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25jZ-=="), "base64url is not base64");
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25jZQ==="));
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25jZWU="), "17 bytes");
	cr_assert_not(key_ok("dGhlIHNhbXBsZSBub25j"), "15 bytes");
	cr_assert_not(key_ok(""));
}

/* ---- the handshake ------------------------------------------------------- */

Test(ws_handshake, accepts_and_writes_101)
{
	char buf[256];
	size_t n = 0;

	cr_assert_eq(check(GOOD "Origin: http://example.com\r\n"
			   "Sec-WebSocket-Protocol: chat, superchat\r\n", NULL), 0);
	cr_assert_eq(hs.status, 0);
	cr_assert_null(hs.reason);
	cr_assert_str_eq(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	cr_assert_not(hs.deflate.enabled);
	cr_assert_eq(tern__ws_handshake_response(&hs, buf, sizeof buf, &n), 0);
	cr_assert_eq(n, strlen(buf));
	cr_assert_str_eq(buf, "HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			      "\r\n");
	cr_assert_eq(tern__ws_handshake_response(&hs, buf, n, &n), TERN_ETOOBIG);
	cr_assert_eq(tern__ws_handshake_response(&hs, buf, 0, &n), TERN_ETOOBIG);
}

Test(ws_handshake, response_with_deflate)
{
	tern__ws_deflate_policy pol;
	char buf[256];
	size_t n = 0;

	tern__ws_deflate_policy_default(&pol);
	cr_assert_eq(check(GOOD "Sec-WebSocket-Extensions: permessage-deflate; "
				"client_max_window_bits\r\n", &pol), 0);
	cr_assert(hs.deflate.enabled);
	cr_assert_eq(tern__ws_handshake_response(&hs, buf, sizeof buf, &n), 0);
	cr_assert_str_eq(buf, "HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			      "Sec-WebSocket-Extensions: permessage-deflate; "
			      "server_no_context_takeover; client_no_context_takeover\r\n"
			      "\r\n");
}

Test(ws_handshake, longest_response_fits)
{
	tern__ws_deflate_policy p;
	char buf[TERN__WS_RESPONSE_MAX];
	size_t n = 0;

	tern__ws_deflate_policy_default(&p);
	p.server_max_window_bits = 12;
	p.client_max_window_bits = 10;
	cr_assert_eq(check(GOOD "Sec-WebSocket-Extensions: permessage-deflate; "
				"client_max_window_bits\r\n", &p), 0);
	cr_assert_eq(tern__ws_handshake_response(&hs, buf, sizeof buf, &n), 0);
	cr_assert_eq(n, 285);
	cr_assert(strstr(buf, "Sec-WebSocket-Extensions: permessage-deflate; "
			      "server_no_context_takeover; client_no_context_takeover; "
			      "server_max_window_bits=12; client_max_window_bits=10\r\n\r\n"));
}

Test(ws_handshake, lenient_spellings_accepted)
{
	/* Firefox sends "keep-alive, Upgrade"; tokens are case-insensitive. */
	cr_assert_eq(check("Host: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
			   "Sec-WebSocket-Key: " KEY "\r\n" V13, NULL), 0);
	cr_assert_eq(check("Host: h\r\nUpgrade: h2c, websocket\r\nConnection: upgrade\r\n"
			   "Connection: keep-alive\r\nSec-WebSocket-Key: " KEY "\r\n" V13, NULL), 0);
	cr_assert_str_eq(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws_handshake, is_upgrade)
{
	parse_head("GET / HTTP/1.1", "Host: h\r\nUpgrade: websocket\r\n");
	cr_assert(tern__ws_is_upgrade(&req));
	parse_head("GET / HTTP/1.1", "Host: h\r\nAccept: application/nostr+json\r\n");
	cr_assert_not(tern__ws_is_upgrade(&req));
	parse_head("GET / HTTP/1.1", "Host: h\r\nUpgrade: h2c\r\n");
	cr_assert_not(tern__ws_is_upgrade(&req));
}

Test(ws_handshake, refusals)
{
	parse_head("POST /chat HTTP/1.1", GOOD);
	cr_assert_eq(tern__ws_handshake_check(&req, NULL, &hs), TERN_EPARSE);
	cr_assert_eq(hs.status, 405);
	cr_assert_str_eq(hs.reason, "WebSocket handshake requires GET");
	cr_assert_str_eq(hs.extra_header, "Allow: GET\r\n");

	parse_head("GET /chat HTTP/1.0", GOOD);
	cr_assert_eq(tern__ws_handshake_check(&req, NULL, &hs), TERN_EPARSE);
	cr_assert_eq(hs.status, 400);
	cr_assert_str_eq(hs.reason, "WebSocket handshake requires HTTP/1.1");

	parse_head("GET /chat HTTP/1.0", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
					 "Sec-WebSocket-Key: " KEY "\r\n" V13);
	req.minor_version = 1; /* an HTTP/1.1 head without Host never parses */
	cr_assert_eq(tern__ws_handshake_check(&req, NULL, &hs), TERN_EPARSE);
	cr_assert_eq(hs.status, 400);
	cr_assert_str_eq(hs.reason, "missing Host header");

	REFUSED("Host: h\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n" V13, 400,
		"Upgrade header must contain \"websocket\"", NULL);
	REFUSED("Host: h\r\nUpgrade: websockets\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: " KEY "\r\n" V13, 400,
		"Upgrade header must contain \"websocket\"", NULL);
	REFUSED("Host: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n" V13, 400,
		"Connection header must contain \"upgrade\"", NULL);
	REFUSED("Host: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
		"Sec-WebSocket-Key: " KEY "\r\n" V13, 400,
		"Connection header must contain \"upgrade\"", NULL);
	REFUSED(BASE "Sec-WebSocket-Key: " KEY "\r\n", 426,
		"missing Sec-WebSocket-Version header", "Sec-WebSocket-Version: 13\r\n");
	REFUSED(BASE "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n", 426,
		"unsupported Sec-WebSocket-Version (only 13)", "Sec-WebSocket-Version: 13\r\n");
	REFUSED(BASE "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13, 8\r\n", 426,
		"unsupported Sec-WebSocket-Version (only 13)", "Sec-WebSocket-Version: 13\r\n");
	REFUSED(BASE "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 013\r\n", 426,
		"unsupported Sec-WebSocket-Version (only 13)", "Sec-WebSocket-Version: 13\r\n");
	REFUSED(BASE "Sec-WebSocket-Key: " KEY "\r\n" V13 V13, 400,
		"more than one Sec-WebSocket-Version header", NULL);
	REFUSED(BASE V13, 400, "missing Sec-WebSocket-Key header", NULL);
	REFUSED(BASE V13 "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Key: " KEY "\r\n", 400,
		"more than one Sec-WebSocket-Key header", NULL);
	REFUSED(BASE V13 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZWU=\r\n", 400,
		"Sec-WebSocket-Key must be the base64 of 16 bytes", NULL);
	REFUSED(BASE V13 "Sec-WebSocket-Key:\r\n", 400,
		"Sec-WebSocket-Key must be the base64 of 16 bytes", NULL);
	REFUSED(GOOD "Sec-WebSocket-Extensions: permessage-deflate x\r\n", 400,
		"malformed Sec-WebSocket-Extensions header", NULL);
	cr_assert_eq(hs.accept[0], '\0');

	char buf[256];
	size_t n = 0;
	cr_assert_eq(tern__ws_handshake_response(&hs, buf, sizeof buf, &n), TERN_EINVAL,
		     "no 101 for a refused handshake");
}

/* ---- permessage-deflate (RFC 7692) ---------------------------------------- */

static tern__ws_deflate_policy pol;
static char ext[256];

/* Negotiates the given Sec-WebSocket-Extensions lines ("\r\n"-terminated
 * field lines) under pol; returns the rc and fills ext with the response. */
static int nego(const char *lines)
{
	const char *why = NULL;
	tern__ws_deflate d;
	int rc;

	parse_head("GET / HTTP/1.1", lines);
	rc = tern__ws_deflate_negotiate(&req, &pol, &d, &why);
	tern__ws_deflate_format(&d, ext, sizeof ext);
	if (rc)
		cr_assert_str_eq(why, "malformed Sec-WebSocket-Extensions header");
	hs.deflate = d;
	return rc;
}

#define SWE "Host: h\r\nSec-WebSocket-Extensions: "

static void default_policy(void)
{
	tern__ws_deflate_policy_default(&pol);
}

TestSuite(ws_deflate, .init = default_policy);

Test(ws_deflate, policy_defaults)
{
	cr_assert(pol.enabled);
	cr_assert(pol.server_no_context_takeover);
	cr_assert(pol.client_no_context_takeover);
	cr_assert_eq(pol.server_max_window_bits, 15);
	cr_assert_eq(pol.client_max_window_bits, 15);
}

Test(ws_deflate, no_offer_or_disabled)
{
	cr_assert_eq(nego("Host: h\r\n"), 0);
	cr_assert_not(hs.deflate.enabled);
	cr_assert_str_eq(ext, "");

	pol.enabled = false;
	cr_assert_eq(nego(SWE "permessage-deflate\r\n"), 0);
	cr_assert_not(hs.deflate.enabled);
	cr_assert_eq(nego(SWE "permessage-deflate x\r\n"), TERN_EPARSE,
		     "syntax is checked even when disabled");

	const char *why = "untouched";
	tern__ws_deflate d;
	parse_head("GET / HTTP/1.1", SWE "permessage-deflate\r\n");
	cr_assert_eq(tern__ws_deflate_negotiate(&req, NULL, &d, &why), 0);
	cr_assert_not(d.enabled);
	cr_assert_str_eq(why, "untouched");
}

Test(ws_deflate, plain_offer)
{
	/* RFC 7692 section 7.1: "permessage-deflate" alone. */
	cr_assert_eq(nego(SWE "permessage-deflate\r\n"), 0);
	cr_assert(hs.deflate.enabled);
	cr_assert_str_eq(ext, "permessage-deflate; server_no_context_takeover; "
			      "client_no_context_takeover");
	cr_assert_eq(hs.deflate.server_max_window_bits, 15);
	cr_assert_eq(hs.deflate.client_max_window_bits, 15);

	pol.server_no_context_takeover = pol.client_no_context_takeover = false;
	cr_assert_eq(nego(SWE "permessage-deflate\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate");
	cr_assert_not(hs.deflate.server_no_context_takeover);
	cr_assert_not(hs.deflate.client_no_context_takeover);
}

Test(ws_deflate, context_takeover_requests_honoured)
{
	pol.server_no_context_takeover = pol.client_no_context_takeover = false;
	cr_assert_eq(nego(SWE "permessage-deflate; server_no_context_takeover\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_no_context_takeover");
	cr_assert(hs.deflate.server_no_context_takeover);
	cr_assert_eq(nego(SWE "permessage-deflate; client_no_context_takeover\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; client_no_context_takeover");
	cr_assert(hs.deflate.client_no_context_takeover);
}

Test(ws_deflate, rfc7692_client_max_window_bits)
{
	/* "permessage-deflate; client_max_window_bits": the server may
	 * answer a smaller client window. */
	cr_assert_eq(nego(SWE "permessage-deflate; client_max_window_bits\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_no_context_takeover; "
			      "client_no_context_takeover");
	cr_assert_eq(hs.deflate.client_max_window_bits, 15);

	pol.client_max_window_bits = 10;
	cr_assert_eq(nego(SWE "permessage-deflate; client_max_window_bits\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_no_context_takeover; "
			      "client_no_context_takeover; client_max_window_bits=10");
	cr_assert_eq(hs.deflate.client_max_window_bits, 10);

	/* The offered value caps the answer. */
	cr_assert_eq(nego(SWE "permessage-deflate; client_max_window_bits=9\r\n"), 0);
	cr_assert_eq(hs.deflate.client_max_window_bits, 9);
	cr_assert(strstr(ext, "; client_max_window_bits=9"));

	/* Without the parameter in the offer it must not be answered, and
	 * the client may use a full window. */
	cr_assert_eq(nego(SWE "permessage-deflate\r\n"), 0);
	cr_assert_null(strstr(ext, "client_max_window_bits"));
	cr_assert_eq(hs.deflate.client_max_window_bits, 15);
}

Test(ws_deflate, rfc7692_two_offers)
{
	/* RFC 7692 section 7.1.3's example: the first offer asks for a
	 * 10-bit server window; the second is the fallback. */
	const char *offers = SWE "permessage-deflate; client_max_window_bits; "
				 "server_max_window_bits=10, "
				 "permessage-deflate; client_max_window_bits\r\n";

	pol.server_no_context_takeover = pol.client_no_context_takeover = false;
	cr_assert_eq(nego(offers), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_max_window_bits=10");
	cr_assert_eq(hs.deflate.server_max_window_bits, 10);

	/* A server that cannot honour the first (8 bits: zlib cannot) takes
	 * the fallback. */
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=8, "
			      "permessage-deflate; client_max_window_bits\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate");
	cr_assert_eq(hs.deflate.server_max_window_bits, 15);
}

Test(ws_deflate, server_max_window_bits)
{
	pol.server_no_context_takeover = pol.client_no_context_takeover = false;
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=10\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_max_window_bits=10");

	/* The policy's smaller window wins and is announced even unasked. */
	pol.server_max_window_bits = 9;
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=12\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_max_window_bits=9");
	cr_assert_eq(nego(SWE "permessage-deflate\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_max_window_bits=9");

	/* A policy of 8 bits is taken as 9 (zlib). */
	pol.server_max_window_bits = 8;
	cr_assert_eq(nego(SWE "permessage-deflate\r\n"), 0);
	cr_assert_eq(hs.deflate.server_max_window_bits, 9);
}

Test(ws_deflate, quoted_values)
{
	pol.server_no_context_takeover = pol.client_no_context_takeover = false;
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=\"10\"\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate; server_max_window_bits=10");
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=\"1\\0\"\r\n"), 0,
		     "quoted-pair unescapes");
	cr_assert_str_eq(ext, "permessage-deflate; server_max_window_bits=10");
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=\"1 0\"\r\n"), 0);
	cr_assert_not(hs.deflate.enabled, "unescaped value must be a token");
	cr_assert_eq(nego(SWE "permessage-deflate; server_max_window_bits=\"\"\r\n"), 0);
	cr_assert_not(hs.deflate.enabled);
	cr_assert_eq(nego(SWE "x-ext; a=\"a, b; c=\\\"d\\\"\", permessage-deflate\r\n"), 0);
	cr_assert_str_eq(ext, "permessage-deflate", "quoted commas do not split the list");
}

Test(ws_deflate, unusable_offers_declined)
{
	static const char *bad[] = {
		"permessage-deflate; server_max_window_bits",    /* value required */
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits=08", /* leading zero */
		"permessage-deflate; server_max_window_bits=1a",
		"permessage-deflate; server_max_window_bits=000000000000000000010",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; client_max_window_bits=016",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; client_no_context_takeover=true",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; client_max_window_bits; client_max_window_bits=10",
		"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
		"permessage-deflate; mystery",
		"permessage-deflate; mystery=1",
	};
	char line[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(line, sizeof line, SWE "%s\r\n", bad[i]);
		cr_assert_eq(nego(line), 0, "%s", bad[i]);
		cr_assert_not(hs.deflate.enabled, "%s", bad[i]);
		/* ... and the next offer is used instead. */
		snprintf(line, sizeof line, SWE "%s, permessage-deflate\r\n", bad[i]);
		cr_assert_eq(nego(line), 0, "%s", bad[i]);
		cr_assert(hs.deflate.enabled, "%s", bad[i]);
	}
}

Test(ws_deflate, other_extensions_and_lines)
{
	cr_assert_eq(nego(SWE "x-webkit-deflate-frame, foo; bar=1\r\n"), 0);
	cr_assert_not(hs.deflate.enabled);
	cr_assert_eq(nego(SWE "x-webkit-deflate-frame\r\n"
			  "Sec-WebSocket-Extensions: PerMessage-Deflate ; Client_Max_Window_Bits\r\n"), 0);
	cr_assert(hs.deflate.enabled, "several lines form one list; names are case-insensitive");
	cr_assert_eq(nego(SWE " , ,permessage-deflate ,\r\n"), 0);
	cr_assert(hs.deflate.enabled, "empty list elements are skipped");
	cr_assert_eq(nego(SWE "\r\n"), 0);
	cr_assert_not(hs.deflate.enabled);
}

Test(ws_deflate, malformed_field)
{
	static const char *bad[] = {
		"permessage-deflate;",
		"permessage-deflate; ;",
		"permessage-deflate x",
		"permessage-deflate; a=",
		"permessage-deflate; a=\"open",
		"permessage-deflate; a=\"ends in backslash\\",
		"permessage-deflate; a=\"x\"y",
		"permessage-deflate; =1",
		";permessage-deflate",
		"permessage-deflate; a=b=c",
		"\"permessage-deflate\"",
	};
	char line[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(line, sizeof line, SWE "%s\r\n", bad[i]);
		cr_assert_eq(nego(line), TERN_EPARSE, "%s", bad[i]);
		cr_assert_not(hs.deflate.enabled);
	}
	/* A bad later line spoils an accepted earlier one. */
	cr_assert_eq(nego(SWE "permessage-deflate\r\nSec-WebSocket-Extensions: ;\r\n"),
		     TERN_EPARSE);
	cr_assert_not(hs.deflate.enabled);
}

Test(ws_deflate, format_truncates_like_snprintf)
{
	tern__ws_deflate d = { .enabled = true, .server_no_context_takeover = true };
	char small[8];

	cr_assert_eq(tern__ws_deflate_format(&d, small, sizeof small),
		     strlen("permessage-deflate; server_no_context_takeover"));
	cr_assert_str_eq(small, "permess");
	cr_assert_eq(tern__ws_deflate_format(&d, NULL, 0),
		     strlen("permessage-deflate; server_no_context_takeover"));
}
