/*
 * WebSocket opening handshake and permessage-deflate negotiation
 * (contract in handshake.h).
 */
#include "ws/handshake.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include <tern/error.h>

#include "core/base64.h"

/* RFC 6455 section 1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

static bool slice_ieq(tern_slice s, const char *z)
{
	size_t n = strlen(z);

	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != (uint8_t)z[i])
			return false;
	return true;
}

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c)
{
	uint8_t l = c | 0x20;

	if ((c >= '0' && c <= '9') || (l >= 'a' && l <= 'z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

void tern__ws_deflate_policy_default(tern__ws_deflate_policy *p)
{
	p->enabled = true;
	p->server_no_context_takeover = true;
	p->client_no_context_takeover = true;
	p->server_max_window_bits = 15;
	p->client_max_window_bits = 15;
}

bool tern__ws_is_upgrade(const tern__http_request *req)
{
	return tern__http_header_has_token(req, "upgrade", "websocket");
}

bool tern__ws_key_valid(tern_slice key)
{
	int last;

	/* 16 bytes = 128 bits = 21 full sextets + 2 bits, padded with "==". */
	if (key.n != 24 || key.p[22] != '=' || key.p[23] != '=')
		return false;
	for (size_t i = 0; i < 21; i++)
		if (tern__base64_value(key.p[i]) < 0)
			return false;
	last = tern__base64_value(key.p[21]);
	return last >= 0 && (last & 0x0f) == 0;
}

int tern__ws_accept_key(tern_slice key, char out[TERN__WS_ACCEPT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return TERN_ECRYPTO;
	/* A handshake is rare next to messages: the per-call algorithm
	 * lookup of EVP_sha1() does not matter here. */
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
	     EVP_DigestUpdate(ctx, key.p, key.n) &&
	     EVP_DigestUpdate(ctx, ws_guid, sizeof ws_guid - 1) &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != 20)
		return TERN_ECRYPTO;
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != TERN__WS_ACCEPT_LEN)
		return TERN_ECRYPTO;
	return 0;
}

/* ---- permessage-deflate offers ------------------------------------------ */

typedef struct offer {
	bool snct, cnct;   /* *_no_context_takeover present */
	bool smwb_seen, cmwb_seen;
	uint8_t smwb;      /* server_max_window_bits value */
	uint8_t cmwb;      /* client_max_window_bits value, 0 = no value */
	bool declined;     /* unknown, duplicate or invalid parameter */
} offer;

/* Window bits: "8".."15", decimal without leading zeros. 0 if invalid. */
static uint8_t window_bits(const uint8_t *v, size_t n)
{
	if (n == 1 && (v[0] == '8' || v[0] == '9'))
		return (uint8_t)(v[0] - '0');
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return (uint8_t)(10 + v[1] - '0');
	return 0;
}

static void offer_param(offer *o, tern_slice name, bool has_value,
			const uint8_t *v, size_t vn)
{
	if (slice_ieq(name, "server_no_context_takeover")) {
		if (o->snct || has_value)
			o->declined = true;
		o->snct = true;
	} else if (slice_ieq(name, "client_no_context_takeover")) {
		if (o->cnct || has_value)
			o->declined = true;
		o->cnct = true;
	} else if (slice_ieq(name, "server_max_window_bits")) {
		if (o->smwb_seen || !has_value)
			o->declined = true;
		o->smwb_seen = true;
		o->smwb = has_value ? window_bits(v, vn) : 0;
		if (!o->smwb)
			o->declined = true;
	} else if (slice_ieq(name, "client_max_window_bits")) {
		if (o->cmwb_seen)
			o->declined = true;
		o->cmwb_seen = true;
		o->cmwb = 0;
		if (has_value) {
			o->cmwb = window_bits(v, vn);
			if (!o->cmwb)
				o->declined = true;
		}
	} else {
		o->declined = true;
	}
}

static uint8_t clamp_bits(uint8_t v, uint8_t lo)
{
	return v < lo ? lo : v > 15 ? 15 : v;
}

/* Accepts o under pol into d, or returns false to decline it. */
static bool offer_accept(const offer *o, const tern__ws_deflate_policy *pol,
			 tern__ws_deflate *d)
{
	uint8_t smax = clamp_bits(pol->server_max_window_bits, 9);
	uint8_t cmax = clamp_bits(pol->client_max_window_bits, 8);

	if (o->declined)
		return false;
	memset(d, 0, sizeof *d);
	if (o->smwb_seen) {
		/* zlib's deflate cannot honour an 8-bit window. */
		if (o->smwb < 9)
			return false;
		d->server_max_window_bits = o->smwb < smax ? o->smwb : smax;
		d->send_server_max_window_bits = true;
	} else {
		d->server_max_window_bits = smax;
		d->send_server_max_window_bits = smax < 15;
	}
	if (o->cmwb_seen) {
		uint8_t offered = o->cmwb ? o->cmwb : 15;
		d->client_max_window_bits = offered < cmax ? offered : cmax;
		d->send_client_max_window_bits = d->client_max_window_bits < 15;
	} else {
		/* May not be answered (RFC 7692 section 7.1.2.2): the client
		 * may use the full window. */
		d->client_max_window_bits = 15;
	}
	d->server_no_context_takeover = pol->server_no_context_takeover || o->snct;
	d->client_no_context_takeover = pol->client_no_context_takeover || o->cnct;
	d->enabled = true;
	return true;
}

typedef struct ext_scan {
	const uint8_t *p;
	size_t n, i;
} ext_scan;

static void ext_ows(ext_scan *x)
{
	while (x->i < x->n && is_ows(x->p[x->i]))
		x->i++;
}

static tern_slice ext_token(ext_scan *x)
{
	size_t b = x->i;

	while (x->i < x->n && is_tchar(x->p[x->i]))
		x->i++;
	return (tern_slice){ x->p + b, x->i - b };
}

/*
 * Reads a quoted-string at the cursor (on '"'), unescaping it into
 * val[0..cap) (*vn gets the full length, which may exceed cap).
 * Returns false when it is not well-formed.
 */
static bool ext_quoted(ext_scan *x, uint8_t *val, size_t cap, size_t *vn)
{
	size_t n = 0;

	x->i++; /* opening quote */
	while (x->i < x->n) {
		uint8_t c = x->p[x->i++];
		if (c == '"') {
			*vn = n;
			return true;
		}
		if (c == '\\') {
			if (x->i == x->n)
				return false;
			c = x->p[x->i++];
			if (c != '\t' && (c < 0x20 || c == 0x7f))
				return false;
		} else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
			return false;
		}
		if (n < cap)
			val[n] = c;
		n++;
	}
	return false;
}

/*
 * Parses one Sec-WebSocket-Extensions line:
 *   list  = [ elem ] *( OWS "," OWS [ elem ] )
 *   elem  = token *( OWS ";" OWS param )
 *   param = token [ OWS "=" OWS ( token / quoted-string ) ]
 * and feeds every permessage-deflate offer to offer_accept() until one is
 * accepted (*done). Returns false when the line is not well-formed.
 */
static bool ext_line(tern_slice line, const tern__ws_deflate_policy *pol,
		     tern__ws_deflate *d, bool *done)
{
	ext_scan x = { line.p, line.n, 0 };

	for (;;) {
		ext_ows(&x);
		if (x.i == x.n)
			return true;
		if (x.p[x.i] == ',') {
			x.i++; /* empty list element */
			continue;
		}
		tern_slice name = ext_token(&x);
		if (!name.n)
			return false;
		bool pmd = slice_ieq(name, "permessage-deflate");
		offer o = { 0 };
		ext_ows(&x);
		while (x.i < x.n && x.p[x.i] == ';') {
			uint8_t val[16];
			size_t vn = 0;
			bool has_value = false;

			x.i++;
			ext_ows(&x);
			tern_slice pname = ext_token(&x);
			if (!pname.n)
				return false;
			ext_ows(&x);
			if (x.i < x.n && x.p[x.i] == '=') {
				x.i++;
				ext_ows(&x);
				has_value = true;
				if (x.i < x.n && x.p[x.i] == '"') {
					if (!ext_quoted(&x, val, sizeof val, &vn))
						return false;
					/* The unescaped value must be a token
					 * (RFC 6455 section 9.1). */
					bool tok = vn > 0 && vn <= sizeof val;
					for (size_t k = 0; tok && k < vn; k++)
						tok = is_tchar(val[k]);
					if (!tok)
						o.declined = true;
					if (vn > sizeof val)
						vn = 0;
				} else {
					tern_slice v = ext_token(&x);
					if (!v.n)
						return false;
					vn = v.n <= sizeof val ? v.n : 0;
					if (!vn)
						o.declined = true;
					else
						memcpy(val, v.p, vn);
				}
				ext_ows(&x);
			}
			if (pmd)
				offer_param(&o, pname, has_value, val, vn);
		}
		if (x.i < x.n && x.p[x.i] != ',')
			return false;
		if (pmd && !*done && offer_accept(&o, pol, d))
			*done = true;
	}
}

int tern__ws_deflate_negotiate(const tern__http_request *req,
			       const tern__ws_deflate_policy *pol,
			       tern__ws_deflate *out, const char **reason)
{
	static const tern__ws_deflate_policy off = { 0 };
	bool done = false;

	memset(out, 0, sizeof *out);
	if (!pol)
		pol = &off;
	for (size_t i = 0; i < req->n_headers; i++) {
		const tern__http_header *h = &req->headers[i];
		if (!slice_ieq(h->name, "sec-websocket-extensions"))
			continue;
		/* Every line is checked even after an offer was accepted:
		 * a malformed field is refused whatever came before it. */
		if (!ext_line(h->value, pol, out, &done)) {
			memset(out, 0, sizeof *out);
			if (reason)
				*reason = "malformed Sec-WebSocket-Extensions header";
			return TERN_EPARSE;
		}
	}
	if (!pol->enabled || !done)
		memset(out, 0, sizeof *out);
	return 0;
}

size_t tern__ws_deflate_format(const tern__ws_deflate *d, char *buf, size_t cap)
{
	char sb[32] = "", cb[32] = "";
	int n;

	if (!d->enabled) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	if (d->send_server_max_window_bits)
		snprintf(sb, sizeof sb, "; server_max_window_bits=%u",
			 (unsigned)d->server_max_window_bits);
	if (d->send_client_max_window_bits)
		snprintf(cb, sizeof cb, "; client_max_window_bits=%u",
			 (unsigned)d->client_max_window_bits);
	n = snprintf(buf, cap, "permessage-deflate%s%s%s%s",
		     d->server_no_context_takeover ? "; server_no_context_takeover" : "",
		     d->client_no_context_takeover ? "; client_no_context_takeover" : "",
		     sb, cb);
	return n < 0 ? 0 : (size_t)n;
}

/* ---- the handshake ------------------------------------------------------- */

static int refuse(tern__ws_handshake *hs, int err, int status, const char *reason,
		  const char *extra)
{
	memset(&hs->deflate, 0, sizeof hs->deflate);
	hs->accept[0] = '\0';
	hs->status = status;
	hs->reason = reason;
	hs->extra_header = extra;
	return err;
}

int tern__ws_handshake_check(const tern__http_request *req,
			     const tern__ws_deflate_policy *pol,
			     tern__ws_handshake *hs)
{
	static const char v13[] = "Sec-WebSocket-Version: 13\r\n";
	const tern__http_header *h;
	const char *why = NULL;
	size_t count;

	memset(hs, 0, sizeof *hs);
	if (req->method_id != TERN__HTTP_GET)
		return refuse(hs, TERN_EPARSE, 405,
			      "WebSocket handshake requires GET", "Allow: GET\r\n");
	if (req->minor_version != 1)
		return refuse(hs, TERN_EPARSE, 400,
			      "WebSocket handshake requires HTTP/1.1", NULL);
	if (!tern__http_header_find(req, "host"))
		return refuse(hs, TERN_EPARSE, 400, "missing Host header", NULL);
	if (!tern__http_header_has_token(req, "upgrade", "websocket"))
		return refuse(hs, TERN_EPARSE, 400,
			      "Upgrade header must contain \"websocket\"", NULL);
	if (!tern__http_header_has_token(req, "connection", "upgrade"))
		return refuse(hs, TERN_EPARSE, 400,
			      "Connection header must contain \"upgrade\"", NULL);

	count = tern__http_header_count(req, "sec-websocket-version");
	if (count == 0)
		return refuse(hs, TERN_EPARSE, 426,
			      "missing Sec-WebSocket-Version header", v13);
	if (count > 1)
		return refuse(hs, TERN_EPARSE, 400,
			      "more than one Sec-WebSocket-Version header", NULL);
	h = tern__http_header_find(req, "sec-websocket-version");
	if (h->value.n != 2 || memcmp(h->value.p, "13", 2) != 0)
		return refuse(hs, TERN_EPARSE, 426,
			      "unsupported Sec-WebSocket-Version (only 13)", v13);

	count = tern__http_header_count(req, "sec-websocket-key");
	if (count == 0)
		return refuse(hs, TERN_EPARSE, 400, "missing Sec-WebSocket-Key header", NULL);
	if (count > 1)
		return refuse(hs, TERN_EPARSE, 400,
			      "more than one Sec-WebSocket-Key header", NULL);
	h = tern__http_header_find(req, "sec-websocket-key");
	if (!tern__ws_key_valid(h->value))
		return refuse(hs, TERN_EPARSE, 400,
			      "Sec-WebSocket-Key must be the base64 of 16 bytes", NULL);

	if (tern__ws_deflate_negotiate(req, pol, &hs->deflate, &why))
		return refuse(hs, TERN_EPARSE, 400, why, NULL);
	if (tern__ws_accept_key(h->value, hs->accept))
		return refuse(hs, TERN_ECRYPTO, 500, "cannot compute Sec-WebSocket-Accept",
			      NULL);
	return 0;
}

int tern__ws_handshake_response(const tern__ws_handshake *hs, char *buf,
				size_t cap, size_t *out_len)
{
	char ext[160];
	size_t en;
	int n;

	if (hs->status || hs->accept[0] == '\0')
		return TERN_EINVAL;
	en = tern__ws_deflate_format(&hs->deflate, ext, sizeof ext);
	if (en >= sizeof ext)
		return TERN_EINVAL; /* cannot happen: at most ~120 bytes */
	n = snprintf(buf, cap,
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n"
		     "%s%s%s"
		     "\r\n",
		     hs->accept,
		     en ? "Sec-WebSocket-Extensions: " : "", ext, en ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return TERN_ETOOBIG;
	*out_len = (size_t)n;
	return 0;
}
