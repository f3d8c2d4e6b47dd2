/*
 * NIP-86 management API (src/relay/manage.c, src/proto/rpc.c,
 * src/nostr/nip98.c, src/core/base64.c): the request parser, the NIP-98
 * check, the dispatch of calls (tern__manage_run) and the HTTP path of a
 * relay in process.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <tern/config.h>
#include <tern/error.h>
#include <tern/event.h>
#include <tern/hex.h>
#include <tern/hooks.h>
#include <tern/manage.h>
#include <tern/relay.h>

#include "relay_client.h"
#include "signer.h"

#include "core/base64.h"
#include "nostr/nip98.h"
#include "proto/rpc.h"
#include "relay/manage.h"

/* ---- signing ---------------------------------------------------------- */

/* A signed event of seed's key (tags: JSON). bad_sig flips a bit. */
static char *sign_event(uint8_t seed, unsigned kind, long long created_at,
			const char *tags, bool bad_sig)
{
	return signer_event(seed, kind, tags, "", created_at, bad_sig);
}

static void sha_hex(const char *body, char out[65])
{
	uint8_t d[32];

	SHA256((const uint8_t *)body, strlen(body), d);
	tern_hex_encode(out, d, 32);
	out[64] = 0;
}

/* How an authorization is spoiled. */
typedef struct auth_opts {
	uint8_t seed;       /* 0: 0x21 */
	unsigned kind;      /* 0: 27235 */
	long long skew;     /* added to now */
	const char *url;    /* NULL: URL */
	const char *method; /* NULL: "post" */
	bool no_payload, wrong_payload, bad_sig;
} auth_opts;

#define URL "ws://relay.test"

/* "Nostr <base64>" for body. */
static char *auth_for(const char *body, const auth_opts *o)
{
	char hash[65], *tags, *ev, *out;
	size_t n;

	sha_hex(o->wrong_payload ? "other" : body, hash);
	if (o->no_payload)
		cr_assert(asprintf(&tags, "[[\"u\",\"%s\"],[\"method\",\"%s\"]]",
				   o->url ? o->url : URL,
				   o->method ? o->method : "post") > 0);
	else
		cr_assert(asprintf(&tags, "[[\"u\",\"%s\"],[\"method\",\"%s\"],"
				   "[\"payload\",\"%s\"]]",
				   o->url ? o->url : URL,
				   o->method ? o->method : "post", hash) > 0);
	ev = sign_event(o->seed ? o->seed : 0x21, o->kind ? o->kind : 27235,
			(long long)time(NULL) + o->skew, tags, o->bad_sig);
	n = strlen(ev);
	out = malloc(6 + 4 * (n / 3 + 1) + 1);
	memcpy(out, "Nostr ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)ev,
			(int)n);
	free(ev);
	free(tags);
	return out;
}

/* ---- the request parser ------------------------------------------------ */

static int parse(const char *s, tern__rpc_request *req, tern_arena *a,
		 tern_reason *why)
{
	return tern__rpc_parse(req, (const uint8_t *)s, strlen(s), a, why);
}

Test(manage_rpc, parses_method_and_params)
{
	tern_arena a;
	tern__rpc_request req;
	tern_reason why = { 0 };
	uint32_t kind;

	tern_arena_init(&a, 0);
	cr_assert_eq(parse(" {\"id\":1,\"method\":\"ban\\u0070ubkey\",\"params\":"
			   "[\"ab\", 7, {\"x\":[1]}, null]} ", &req, &a,
			   &why), 0, "%s", why.msg);
	cr_assert_str_eq(req.method, "banpubkey");
	cr_assert_eq(req.nparams, 4);
	cr_assert_eq(req.params[0].type, TERN_MANAGE_PARAM_STRING);
	cr_assert_str_eq(req.params[0].str, "ab");
	cr_assert_eq(req.params[1].type, TERN_MANAGE_PARAM_NUMBER);
	cr_assert(tern__rpc_param_kind(&req.params[1], &kind));
	cr_assert_eq(kind, 7);
	cr_assert_eq(req.params[2].type, TERN_MANAGE_PARAM_OTHER);
	cr_assert_eq(req.params[2].json.n, 9);
	cr_assert_eq(memcmp(req.params[2].json.p, "{\"x\":[1]}", 9), 0);
	cr_assert_null(req.params[2].str);
	cr_assert_eq(parse("{\"method\":\"supportedmethods\"}", &req, &a,
			   &why), 0);
	cr_assert_eq(req.nparams, 0);
	tern_arena_free(&a);
}

Test(manage_rpc, refuses_malformed_bodies)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"method\":1}", "{\"method\":\"\"}",
		"{\"method\":\"a\",\"method\":\"b\"}",
		"{\"method\":\"a\",\"params\":{}}",
		"{\"method\":\"a\",\"params\":[],\"params\":[]}",
		"{\"method\":\"a\\u0000\"}",
		"{\"method\":\"a\",\"params\":[\"x\\u0000\"]}",
		"{\"method\":\"a\"} x", "{\"method\":\"a\",\"params\":[1,]}",
		"{\"method\":\"a\",\"params\":[01]}",
	};
	tern_arena a;
	tern__rpc_request req;
	tern_reason why;

	tern_arena_init(&a, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&why, 0, sizeof why);
		cr_assert_neq(parse(bad[i], &req, &a, &why), 0, "%s", bad[i]);
		cr_assert(why.msg[0], "no reason for %s", bad[i]);
	}
	tern_arena_free(&a);
}

Test(manage_rpc, kinds_are_integers_in_range)
{
	static const char *const bad[] = { "-1", "1.5", "1e3", "65536", "\"1\"" };
	tern_manage_param p;
	uint32_t k;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p.type = bad[i][0] == '"' ? TERN_MANAGE_PARAM_STRING
					  : TERN_MANAGE_PARAM_NUMBER;
		p.json = (tern_slice){ (const uint8_t *)bad[i], strlen(bad[i]) };
		cr_assert_not(tern__rpc_param_kind(&p, &k), "%s", bad[i]);
	}
	p.type = TERN_MANAGE_PARAM_NUMBER;
	p.json = (tern_slice){ (const uint8_t *)"65535", 5 };
	cr_assert(tern__rpc_param_kind(&p, &k));
	cr_assert_eq(k, 65535);
}

/* ---- base64, URLs, NIP-98 ------------------------------------------------ */

Test(manage_nip98, base64_is_strict)
{
	uint8_t out[16];
	struct { const char *in; long n; } cases[] = {
		{ "aGk=", 2 }, { "aGk", 2 }, { "aGVsbG8=", 5 }, { "", 0 },
		{ "aGk*", -1 }, { "a", -1 }, { "aGl=", -1 }, { "aG k", -1 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(tern__base64_decode(out, (tern_slice){
				     (const uint8_t *)cases[i].in,
				     strlen(cases[i].in) }),
			     cases[i].n, "%s", cases[i].in);
	tern__base64_decode(out, (tern_slice){ (const uint8_t *)"aGVsbG8=", 8 });
	cr_assert_eq(memcmp(out, "hello", 5), 0);
}

Test(manage_nip98, urls_from_service_url_or_host)
{
	const char *urls[6];
	char buf[512];

	tern__manage_urls("wss://r.example/x", (tern_slice){ 0 }, urls, 6,
			  buf, sizeof buf);
	cr_assert_str_eq(urls[0], "wss://r.example/x");
	cr_assert_str_eq(urls[1], "https://r.example/x");
	cr_assert_null(urls[2]);
	tern__manage_urls("", (tern_slice){ (const uint8_t *)"h:1", 3 }, urls,
			  6, buf, sizeof buf);
	cr_assert_str_eq(urls[0], "ws://h:1");
	cr_assert_str_eq(urls[1], "wss://h:1");
	cr_assert_str_eq(urls[2], "http://h:1");
	cr_assert_str_eq(urls[3], "https://h:1");
	cr_assert_null(urls[4]);
}

static int check_auth(const char *header, const char *body, uint8_t pk[32],
		      tern_reason *why)
{
	static const char *const urls[] = { URL, "http://relay.test", NULL };
	tern_arena a;
	tern__nip98_request rq = {
		.authorization = { (const uint8_t *)header,
				   header ? strlen(header) : 0 },
		.method = "POST",
		.urls = urls,
		.body = { (const uint8_t *)body, strlen(body) },
		.require_payload = true,
		.now = (uint64_t)time(NULL),
		.window = 60,
	};
	int rc;

	tern_arena_init(&a, 1 << 20);
	rc = tern__nip98_check(&rq, pk, &a, why);
	tern_arena_free(&a);
	return rc;
}

Test(manage_nip98, accepts_a_good_authorization)
{
	const char *body = "{\"method\":\"supportedmethods\",\"params\":[]}";
	char *h = auth_for(body, &(auth_opts){ 0 }), hex[65], want[65];
	uint8_t pk[32];
	tern_reason why = { 0 };

	cr_assert_eq(check_auth(h, body, pk, &why), 0, "%s", why.msg);
	tern_hex_encode(hex, pk, 32);
	hex[64] = 0;
	signer_pubkey(0x21, want);
	cr_assert_str_eq(hex, want);
	free(h);
	/* the http(s) form of the URL, with a trailing slash */
	h = auth_for(body, &(auth_opts){ .url = "http://relay.test/",
					 .method = "POST" });
	cr_assert_eq(check_auth(h, body, pk, &why), 0, "%s", why.msg);
	free(h);
}

Test(manage_nip98, refuses_each_bad_authorization)
{
	const char *body = "{\"method\":\"supportedmethods\"}";
	struct { auth_opts o; const char *why; } cases[] = {
		{ { .kind = 1 }, "kind 27235" },
		{ { .skew = -120 }, "too old" },
		{ { .skew = 120 }, "too old" },
		{ { .url = "ws://other.test" }, "\"u\" tag" },
		{ { .url = "ws://relay.test/x" }, "\"u\" tag" },
		{ { .method = "GET" }, "\"method\" tag" },
		{ { .no_payload = true }, "\"payload\" tag" },
		{ { .wrong_payload = true }, "\"payload\" tag" },
		{ { .bad_sig = true }, "signature" },
	};
	uint8_t pk[32];
	tern_reason why;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *h = auth_for(body, &cases[i].o);

		memset(&why, 0, sizeof why);
		cr_assert_eq(check_auth(h, body, pk, &why), TERN_EINVAL,
			     "case %zu", i);
		cr_assert(strstr(why.msg, cases[i].why), "case %zu: %s", i,
			  why.msg);
		free(h);
	}
	cr_assert_eq(check_auth(NULL, body, pk, &why), TERN_EINVAL);
	cr_assert(strstr(why.msg, "missing"));
	cr_assert_eq(check_auth("Bearer abc", body, pk, &why), TERN_EINVAL);
	cr_assert_eq(check_auth("Nostr !!!!", body, pk, &why), TERN_EINVAL);
	cr_assert_eq(check_auth("Nostr e30=", body, pk, &why), TERN_EINVAL);
	cr_assert(strstr(why.msg, "Authorization event"), "%s", why.msg);
}

/* ---- dispatch -------------------------------------------------------------- */

typedef struct state {
	pthread_mutex_t mu;
	uint8_t banned[32];
	char reason[64];
	int nbanned;
	char name[64];
	uint32_t kind;
	char ip[64];
	char caller_ip[64];
} state;

static int ban(void *ud, const tern_manage_call *call, tern_manage_result *res)
{
	state *s = ud;

	(void)res;
	pthread_mutex_lock(&s->mu);
	memcpy(s->banned, call->key, 32);
	snprintf(s->reason, sizeof s->reason, "%s", call->reason);
	snprintf(s->caller_ip, sizeof s->caller_ip, "%s", call->ip);
	s->nbanned = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int list_banned(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	state *s = ud;

	(void)call;
	if (s->nbanned)
		cr_assert_eq(tern_manage_result_add_key(res, s->banned,
							s->reason), 0);
	cr_assert_eq(tern_manage_result_add_kind(res, 1), TERN_EINVAL);
	return 0;
}

static int rename_relay(void *ud, const tern_manage_call *call,
			tern_manage_result *res)
{
	state *s = ud;

	if (strlen(call->text) >= sizeof s->name)
		return tern_manage_result_error(res, "name too long");
	snprintf(s->name, sizeof s->name, "%s", call->text);
	return 0;
}

static int allow_kind(void *ud, const tern_manage_call *call,
		      tern_manage_result *res)
{
	(void)res;
	((state *)ud)->kind = call->kind;
	return 0;
}

static int list_kinds(void *ud, const tern_manage_call *call,
		      tern_manage_result *res)
{
	(void)ud;
	(void)call;
	tern_manage_result_add_kind(res, 1);
	tern_manage_result_add_kind(res, 7);
	return 0;
}

static int block_ip(void *ud, const tern_manage_call *call,
		    tern_manage_result *res)
{
	(void)res;
	snprintf(((state *)ud)->ip, 64, "%s", call->text);
	return 0;
}

static int list_ips(void *ud, const tern_manage_call *call,
		    tern_manage_result *res)
{
	(void)ud;
	(void)call;
	return tern_manage_result_add(res, "10.0.0.1", "a \"bad\" one");
}

static int failing(void *ud, const tern_manage_call *call,
		   tern_manage_result *res)
{
	(void)ud;
	(void)call;
	(void)res;
	return TERN_ENOMEM;
}

static int generic(void *ud, const tern_manage_call *call,
		   tern_manage_result *res)
{
	(void)ud;
	if (strcmp(call->method, "echo") == 0 && call->nparams == 1)
		return tern_manage_result_json(res, (const char *)call->params[0].json.p,
					       call->params[0].json.n);
	return tern_manage_result_error(res, "no such method %s",
					call->method);
}

static const char *const generic_names[] = { "echo", NULL };

static const tern_manage_ops test_ops = {
	.ban_pubkey = ban,
	.list_banned_pubkeys = list_banned,
	.change_relay_name = rename_relay,
	.allow_kind = allow_kind,
	.list_allowed_kinds = list_kinds,
	.block_ip = block_ip,
	.list_blocked_ips = list_ips,
	.ban_event = failing,
	.generic = generic,
	.generic_methods = generic_names,
};

static state st = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Only the key of seed 0x21 may call. */
static tern_verdict admins_only(void *ud, const tern_manage_call *call,
				tern_reason *why)
{
	char hex[65], want[65];

	(void)ud;
	tern_hex_encode(hex, call->caller, 32);
	hex[64] = 0;
	signer_pubkey(0x21, want);
	if (strcmp(hex, want) == 0)
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_RESTRICTED, "not an admin");
	return TERN_REJECT;
}

/* Runs body as authorized by o; returns the status, *out the answer. */
static int run(tern_manage *m, const char *body, const auth_opts *o,
	       char **out)
{
	static const char *const urls[] = { URL, NULL };
	char *h = auth_for(body, o);
	tern__manage_input in = {
		.m = m,
		.authorization = { (const uint8_t *)h, strlen(h) },
		.body = { (const uint8_t *)body, strlen(body) },
		.urls = urls,
		.ip = "192.0.2.7",
		.now = (uint64_t)time(NULL),
	};
	int status;
	size_t len;

	tern__manage_run(&in, &status, out, &len);
	cr_assert_not_null(*out);
	cr_assert_eq(strlen(*out), len);
	free(h);
	return status;
}

static void expect(tern_manage *m, const char *body, int status,
		   const char *answer)
{
	char *out;

	cr_assert_eq(run(m, body, &(auth_opts){ 0 }, &out), status, "%s -> %s",
		     body, out);
	cr_assert_str_eq(out, answer, "%s -> %s", body, out);
	free(out);
}

Test(manage_run, dispatches_each_kind_of_method)
{
	tern_manage *m;
	char pk[65], answer[256];

	cr_assert_eq(tern_manage_new(&m, &test_ops, &st), 0);
	signer_pubkey(0x33, pk);
	expect(m, "{\"method\":\"supportedmethods\",\"params\":[]}", 200,
	       "{\"result\":[\"banpubkey\",\"listbannedpubkeys\",\"banevent\","
	       "\"changerelayname\",\"allowkind\",\"listallowedkinds\","
	       "\"blockip\",\"listblockedips\",\"echo\"]}");
	expect(m, "{\"method\":\"listbannedpubkeys\"}", 200,
	       "{\"result\":[]}");
	snprintf(answer, sizeof answer,
		 "{\"method\":\"banpubkey\",\"params\":[\"%s\",\"sp\\nam\"]}",
		 pk);
	expect(m, answer, 200, "{\"result\":true}");
	cr_assert_str_eq(st.reason, "sp\nam");
	cr_assert_str_eq(st.caller_ip, "192.0.2.7");
	snprintf(answer, sizeof answer, "{\"result\":[{\"pubkey\":\"%s\","
		 "\"reason\":\"sp\\nam\"}]}", pk);
	expect(m, "{\"method\":\"listbannedpubkeys\",\"params\":[]}", 200,
	       answer);
	expect(m, "{\"method\":\"changerelayname\",\"params\":[\"Zed\"]}", 200,
	       "{\"result\":true}");
	cr_assert_str_eq(st.name, "Zed");
	expect(m, "{\"method\":\"allowkind\",\"params\":[30023]}", 200,
	       "{\"result\":true}");
	cr_assert_eq(st.kind, 30023);
	expect(m, "{\"method\":\"listallowedkinds\"}", 200,
	       "{\"result\":[1,7]}");
	expect(m, "{\"method\":\"blockip\",\"params\":[\"::ffff:10.0.0.1\"]}",
	       200, "{\"result\":true}");
	cr_assert_str_eq(st.ip, "::ffff:10.0.0.1");
	expect(m, "{\"method\":\"blockip\",\"params\":[\"2001:DB8::0:1\"]}",
	       200, "{\"result\":true}");
	cr_assert_str_eq(st.ip, "2001:db8::1");
	expect(m, "{\"method\":\"listblockedips\"}", 200,
	       "{\"result\":[{\"ip\":\"10.0.0.1\",\"reason\":"
	       "\"a \\\"bad\\\" one\"}]}");
	expect(m, "{\"method\":\"echo\",\"params\":[{\"a\": [1, 2]}]}", 200,
	       "{\"result\":{\"a\": [1, 2]}}");
	expect(m, "{\"method\":\"nope\"}", 200,
	       "{\"result\":null,\"error\":\"no such method nope\"}");
	snprintf(answer, sizeof answer,
		 "{\"method\":\"banevent\",\"params\":[\"%s\"]}", pk);
	expect(m, answer, 200, "{\"result\":null,\"error\":\"out of memory\"}");
	tern_manage_free(m);
}

Test(manage_run, checks_params)
{
	tern_manage *m;

	cr_assert_eq(tern_manage_new(&m, &test_ops, &st), 0);
	expect(m, "{\"method\":\"banpubkey\",\"params\":[\"AB\"]}", 200,
	       "{\"result\":null,\"error\":\"invalid params: the first param "
	       "must be 64 lowercase hex digits\"}");
	expect(m, "{\"method\":\"banpubkey\"}", 200,
	       "{\"result\":null,\"error\":\"invalid params: banpubkey needs "
	       "a param\"}");
	expect(m, "{\"method\":\"allowkind\",\"params\":[70000]}", 200,
	       "{\"result\":null,\"error\":\"invalid params: the param must "
	       "be a kind, an integer 0..65535\"}");
	expect(m, "{\"method\":\"blockip\",\"params\":[\"1.2.3\"]}", 200,
	       "{\"result\":null,\"error\":\"invalid params: the first param "
	       "must be an IPv4 or IPv6 address\"}");
	expect(m, "{\"method\":\"changerelayname\",\"params\":[\"a\",\"b\"]}",
	       200, "{\"result\":null,\"error\":\"invalid params: "
	       "changerelayname takes at most 1 param\"}");
	expect(m, "{\"method\":\"listblockedips\",\"params\":[1]}", 200,
	       "{\"result\":null,\"error\":\"invalid params: listblockedips "
	       "takes at most 0 params\"}");
	expect(m, "[1]", 400, "{\"result\":null,\"error\":\"invalid request: "
	       "the body must be a JSON object\"}");
	tern_manage_free(m);
}

Test(manage_run, unsupported_methods_without_generic)
{
	tern_manage_ops ops = { .allow_kind = allow_kind };
	tern_manage *m;

	cr_assert_eq(tern_manage_new(&m, &ops, &st), 0);
	expect(m, "{\"method\":\"banpubkey\",\"params\":[1]}", 200,
	       "{\"result\":null,\"error\":\"method not supported: "
	       "banpubkey\"}");
	expect(m, "{\"method\":\"supportedmethods\"}", 200,
	       "{\"result\":[\"allowkind\"]}");
	tern_manage_free(m);
}

Test(manage_run, bad_auth_is_401)
{
	tern_manage *m;
	char *out;

	cr_assert_eq(tern_manage_new(&m, &test_ops, &st), 0);
	cr_assert_eq(run(m, "{\"method\":\"supportedmethods\"}",
			 &(auth_opts){ .skew = -61 }, &out), 401);
	cr_assert(strstr(out, "\"error\":\"unauthorized: Authorization event "
			 "is too old"), "%s", out);
	free(out);
	cr_assert_eq(run(m, "{\"method\":\"supportedmethods\"}",
			 &(auth_opts){ .wrong_payload = true }, &out), 401);
	free(out);
	tern_manage_free(m);
}

static tern_verdict accept_all(void *ud, const tern_manage_call *call,
			       tern_reason *why)
{
	(void)ud;
	(void)call;
	(void)why;
	return TERN_ACCEPT;
}

Test(manage_run, reject_api_call_hooks)
{
	tern_manage *m;
	char *out;
	static const char owner[] = "t";

	cr_assert_eq(tern_manage_new(&m, &test_ops, &st), 0);
	cr_assert_eq(tern_manage_on_reject_api_call(m, owner, admins_only,
						    NULL), 0);
	cr_assert_eq(tern_manage_on_reject_api_call(m, owner, NULL, NULL),
		     TERN_EINVAL);
	cr_assert_eq(run(m, "{\"method\":\"listblockedips\"}",
			 &(auth_opts){ .seed = 0x44 }, &out), 401);
	cr_assert_str_eq(out, "{\"result\":null,\"error\":\"restricted: not "
			 "an admin\"}");
	free(out);
	expect(m, "{\"method\":\"listallowedkinds\"}", 200,
	       "{\"result\":[1,7]}");
	/* ACCEPT ends the list */
	tern_manage_remove_owner(m, owner);
	cr_assert_eq(tern_manage_on_reject_api_call(m, owner, accept_all,
						    NULL), 0);
	cr_assert_eq(tern_manage_on_reject_api_call(m, owner, admins_only,
						    NULL), 0);
	cr_assert_eq(run(m, "{\"method\":\"listallowedkinds\"}",
			 &(auth_opts){ .seed = 0x44 }, &out), 200);
	free(out);
	tern_manage_free(m);
}

/* tern_hooks_remove_owner() removes the owner's reject-api-call hooks of
 * the relay's management API too, and only that owner's. */
Test(manage_run, hooks_remove_owner_covers_the_api)
{
	static const char owner[] = "t", other[] = "other";
	char dir[] = "/tmp/tern-manage-XXXXXX", err[256], cmd[64], *out;
	tern_config cfg;
	tern_relay *r;
	tern_manage *m;

	cr_assert_not_null(mkdtemp(dir));
	tern_config_defaults(&cfg);
	cfg.relay.port = free_port();
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.store.dir = dir;
	cfg.store.no_sync = true;
	cr_assert_eq(tern_relay_new(&r, &cfg, err, sizeof err), 0, "%s", err);
	tern_config_free(&cfg);
	/* without a management API there is nothing more to remove */
	tern_hooks_remove_owner(r, owner);
	cr_assert_eq(tern_manage_new(&m, &test_ops, &st), 0);
	cr_assert_eq(tern_manage_on_reject_api_call(m, owner, admins_only,
						    NULL), 0);
	cr_assert_eq(tern_relay_set_manage(r, m), 0);
	cr_assert_eq(run(m, "{\"method\":\"listblockedips\"}",
			 &(auth_opts){ .seed = 0x44 }, &out), 401);
	free(out);
	tern_hooks_remove_owner(r, other);
	cr_assert_eq(run(m, "{\"method\":\"listblockedips\"}",
			 &(auth_opts){ .seed = 0x44 }, &out), 401);
	free(out);
	tern_hooks_remove_owner(r, owner);
	cr_assert_eq(run(m, "{\"method\":\"listblockedips\"}",
			 &(auth_opts){ .seed = 0x44 }, &out), 200, "%s", out);
	free(out);
	tern_relay_free(r);
	tern_manage_free(m);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dir);
}

/* ---- over HTTP -------------------------------------------------------------- */

static tern_relay *relay;
static tern_manage *mgr;
static pthread_t runner;
static char dbdir[64];

static void relay_up(bool with_manage)
{
	tern_config cfg;
	char err[256];

	strcpy(dbdir, "/tmp/tern-manage-XXXXXX");
	cr_assert_not_null(mkdtemp(dbdir));
	tern_config_defaults(&cfg);
	cfg.relay.port = port = free_port();
	cfg.relay.io_threads = 1;
	cfg.relay.log_level = TERN_LOG_ERROR;
	cfg.relay.service_url = URL;
	cfg.store.dir = dbdir;
	cfg.store.no_sync = true;
	cr_assert_eq(tern_relay_new(&relay, &cfg, err, sizeof err), 0, "%s",
		     err);
	tern_config_free(&cfg);
	if (with_manage) {
		cr_assert_eq(tern_manage_new(&mgr, &test_ops, &st), 0);
		cr_assert_eq(tern_relay_set_manage(relay, mgr), 0);
	}
	cr_assert_eq(pthread_create(&runner, NULL, run_main, relay), 0);
}

static void relay_down(void)
{
	char cmd[128];

	if (!relay)
		return;
	tern_relay_stop(relay);
	pthread_join(runner, NULL);
	tern_relay_free(relay);
	relay = NULL;
	tern_manage_free(mgr);
	mgr = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dbdir);
}

TestSuite(manage_http, .fini = relay_down, .timeout = 60);

/* POSTs body with headers extra; the whole response into resp. */
static int post(const char *extra, const char *body, char *resp, size_t cap)
{
	char *req;
	int fd = dial(), status;

	cr_assert(asprintf(&req, "POST / HTTP/1.1\r\nHost: relay.test\r\n"
			   "%sContent-Length: %zu\r\n\r\n%s", extra,
			   strlen(body), body) > 0);
	status = http(fd, req, resp, cap);
	free(req);
	close(fd);
	return status;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	cr_assert_not_null(b);
	return b + 4;
}

Test(manage_http, a_call_end_to_end)
{
	const char *body = "{\"method\":\"changerelayname\",\"params\":[\"N\"]}";
	char *h, *extra, resp[4096];

	relay_up(true);
	h = auth_for(body, &(auth_opts){ 0 });
	cr_assert(asprintf(&extra, "Content-Type: application/nostr+json+rpc"
			   "; charset=utf-8\r\nAuthorization: %s\r\n", h) > 0);
	cr_assert_eq(post(extra, body, resp, sizeof resp), 200, "%s", resp);
	cr_assert_str_eq(body_of(resp), "{\"result\":true}");
	cr_assert(strstr(resp, "Content-Type: application/json\r\n"));
	cr_assert(strstr(resp, "Access-Control-Allow-Origin: *\r\n"));
	free(extra);
	free(h);
	/* without authorization */
	cr_assert_eq(post("Content-Type: application/nostr+json+rpc\r\n", body,
			  resp, sizeof resp), 401, "%s", resp);
	cr_assert_str_eq(body_of(resp), "{\"result\":null,\"error\":"
			 "\"unauthorized: missing Authorization header\"}");
	cr_assert(strstr(resp, "\r\nWWW-Authenticate: Nostr\r\n"), "%s", resp);
}

Test(manage_http, a_body_sent_in_pieces)
{
	const char *body = "{\"method\":\"listallowedkinds\",\"params\":[]}";
	char *h = NULL, *req, resp[4096];
	size_t n, half;
	int fd, status;

	relay_up(true);
	h = auth_for(body, &(auth_opts){ 0 });
	cr_assert(asprintf(&req, "POST / HTTP/1.1\r\nHost: relay.test\r\n"
			   "Content-Type: application/nostr+json+rpc\r\n"
			   "Authorization: %s\r\nContent-Length: %zu\r\n\r\n%s",
			   h, strlen(body), body) > 0);
	n = strlen(req);
	half = n - strlen(body) / 2;
	fd = dial();
	send_all(fd, req, 40);
	usleep(20000);
	send_all(fd, req + 40, half - 40);
	usleep(20000);
	status = http(fd, req + half, resp, sizeof resp);
	cr_assert_eq(status, 200, "%s", resp);
	cr_assert_str_eq(body_of(resp), "{\"result\":[1,7]}");
	close(fd);
	free(req);
	free(h);
}

Test(manage_http, limits_and_other_posts)
{
	char resp[4096], *big, *req;
	int fd;

	relay_up(true);
	/* not the management content type: 405 as before */
	cr_assert_eq(post("Content-Type: application/json\r\n", "{}", resp,
			  sizeof resp), 405);
	/* too large */
	big = malloc(TERN_MANAGE_MAX_BODY + 2);
	memset(big, ' ', TERN_MANAGE_MAX_BODY + 1);
	big[TERN_MANAGE_MAX_BODY + 1] = 0;
	fd = dial();
	cr_assert(asprintf(&req, "POST / HTTP/1.1\r\nHost: relay.test\r\n"
			   "Content-Type: application/nostr+json+rpc\r\n"
			   "Content-Length: %d\r\n\r\n",
			   TERN_MANAGE_MAX_BODY + 1) > 0);
	cr_assert_eq(http(fd, req, resp, sizeof resp), 413, "%s", resp);
	close(fd);
	free(req);
	free(big);
	/* no Content-Length */
	fd = dial();
	cr_assert_eq(http(fd, "POST / HTTP/1.1\r\nHost: relay.test\r\n"
			  "Content-Type: application/nostr+json+rpc\r\n\r\n",
			  resp, sizeof resp), 411, "%s", resp);
	close(fd);
	/* the preflight allows POST and Authorization */
	fd = dial();
	cr_assert_eq(http(fd, "OPTIONS / HTTP/1.1\r\nHost: relay.test\r\n\r\n",
			  resp, sizeof resp), 204);
	cr_assert(strstr(resp, "Access-Control-Allow-Methods: GET, POST, "
			 "OPTIONS\r\n"), "%s", resp);
	cr_assert(strstr(resp, "Access-Control-Allow-Headers: Authorization"),
		  "%s", resp);
	close(fd);
	/* NIP-11 lists 86 */
	fd = dial();
	cr_assert_eq(http(fd, "GET / HTTP/1.1\r\nHost: relay.test\r\n"
			  "Accept: application/nostr+json\r\n\r\n", resp,
			  sizeof resp), 200);
	cr_assert(strstr(resp, ",86]"), "%s", resp);
	close(fd);
}

Test(manage_http, off_without_a_manage_object)
{
	char resp[4096];
	int fd;

	relay_up(false);
	cr_assert_eq(post("Content-Type: application/nostr+json+rpc\r\n",
			  "{\"method\":\"supportedmethods\"}", resp,
			  sizeof resp), 405);
	fd = dial();
	cr_assert_eq(http(fd, "GET / HTTP/1.1\r\nHost: relay.test\r\n"
			  "Accept: application/nostr+json\r\n\r\n", resp,
			  sizeof resp), 200);
	cr_assert_null(strstr(resp, "86"), "%s", resp);
	close(fd);
}

/* ---- the management section of the configuration ------------------------ */

Test(manage_config, admins_are_hex_pubkeys)
{
	tern_config cfg;
	char err[256], pk[65], text[512], diff[256];
	tern_config other;
	bool restart = false;

	signer_pubkey(0x21, pk);
	tern_config_defaults(&cfg);
	cr_assert_eq(cfg.management.nadmins, 0);
	snprintf(text, sizeof text, "management = { admins = [ \"%s\", \"%s\" ]; };\n",
		 pk, pk);
	cr_assert_eq(tern_config_load_string(&cfg, text, "t.conf", err,
					     sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.management.nadmins, 1, "duplicates are kept once");
	{
		uint8_t want[32];

		tern_hex_decode(want, pk, 32);
		cr_assert_eq(memcmp(cfg.management.admins[0], want, 32), 0);
	}
	cr_assert_eq(tern_config_validate(&cfg, err, sizeof err), 0, "%s", err);
	tern_config_defaults(&other);
	cr_assert_eq(tern_config_diff(&other, &cfg, diff, sizeof diff,
				      &restart), 1);
	cr_assert(restart);
	cr_assert_str_eq(diff, "management.admins=[1 pubkeys]");
	tern_config_free(&other);
	cr_assert_eq(tern_config_load_string(&cfg,
					     "management = { admins = [ \"AB\" ]; };",
					     "t.conf", err, sizeof err),
		     TERN_EINVAL);
	cr_assert_str_eq(err, "t.conf:1: management.admins[0]: expected a "
			 "pubkey of 64 lowercase hex digits, got \"AB\"");
	cr_assert_eq(cfg.management.nadmins, 1, "a failed load changes nothing");
	cr_assert_eq(tern_config_load_string(&cfg,
					     "management = { admins = [ 1 ]; };",
					     "t.conf", err, sizeof err),
		     TERN_EINVAL);
	cr_assert(strstr(err, "expected an array of hex pubkeys"), "%s", err);
	cr_assert_eq(tern_config_load_string(&cfg,
					     "management = { admins = []; };",
					     "t.conf", err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.management.nadmins, 0);
	cr_assert_null(cfg.management.admins);
	tern_config_free(&cfg);
}
