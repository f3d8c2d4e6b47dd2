/* NIP-42 state and checks: AUTH validation, parties of restricted events. */
#include <string.h>

#include <criterion/criterion.h>

#include <tern/error.h>
#include <tern/hex.h>

#include "relay/auth.h"

/* Signed with the secret key 3 (pubkey f930...36f9) by an independent
 * implementation; created_at 1700000000. */
static const char *auth_ev =
	"{\"kind\":22242,\"created_at\":1700000000,\"tags\":[[\"relay\","
	"\"wss://Relay.Example.com/\"],[\"challenge\","
	"\"00112233445566778899aabbccddeeff\"]],\"content\":\"\",\"pubkey\":"
	"\"f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9\","
	"\"id\":\"edce19ba1cf640873a802cec43ee6563bb9b24c3baf7b67896765843822"
	"ed39a\",\"sig\":\"bc8871295ed22f0acddb581bcad145849d3158cebbe38faa3ada1"
	"f28cf654954a25a577e9747082913ed20f98546a3583e6e18d37c7d81296b6c84441"
	"9d39a9d\"}";
static const char *pk3 =
	"f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";

static tern_arena arena;
static tern__auth st;
static tern_event ev;

static void setup(void)
{
	tern_arena_init(&arena, 0);
	cr_assert_eq(tern__auth_init(&st), 0);
	cr_assert_eq(strlen(st.challenge), 32);
	strcpy(st.challenge, "00112233445566778899aabbccddeeff");
	cr_assert_eq(tern_event_parse(&ev, (const uint8_t *)auth_ev,
				      strlen(auth_ev), NULL, &arena, NULL), 0);
}

static void teardown(void)
{
	tern__auth_free(&st);
	tern_arena_free(&arena);
}

TestSuite(relay_auth, .init = setup, .fini = teardown);

Test(relay_auth, accepts_a_valid_auth_event)
{
	tern_reason why = { 0 };
	uint8_t pk[32];
	bool unchecked = true;

	cr_assert_not(tern__auth_any(&st));
	cr_assert_eq(tern__auth_handle(&st, &ev, "wss://relay.example.com",
				       1700000000 + 599, &why, &unchecked),
		     0, "%s", why.msg);
	cr_assert_not(unchecked);
	cr_assert(tern_hex_decode(pk, pk3, 32));
	cr_assert(tern__auth_has(&st, pk));
	cr_assert(tern__auth_any(&st));
	/* The same pubkey again is fine and not counted twice. */
	cr_assert_eq(tern__auth_handle(&st, &ev, "", 1700000000, &why,
				       &unchecked), 0);
	cr_assert(unchecked, "empty service_url: relay tag not checked");
	cr_assert_eq(st.npubkeys, 1);
}

Test(relay_auth, refusals)
{
	tern_reason why = { 0 };

	cr_assert_eq(tern__auth_handle(&st, &ev, "wss://other.example.com",
				       1700000000, &why, NULL), TERN_EINVAL);
	cr_assert_eq(why.prefix, TERN_PREFIX_INVALID);
	cr_assert(strstr(why.msg, "relay"));
	cr_assert_eq(tern__auth_handle(&st, &ev, NULL, 1700000000 + 601, &why,
				       NULL), TERN_EINVAL);
	cr_assert(strstr(why.msg, "created_at"));
	cr_assert_eq(tern__auth_handle(&st, &ev, NULL, 1700000000 - 601, &why,
				       NULL), TERN_EINVAL);
	strcpy(st.challenge, "ffffffffffffffffffffffffffffffff");
	cr_assert_eq(tern__auth_handle(&st, &ev, NULL, 1700000000, &why,
				       NULL), TERN_EINVAL);
	cr_assert(strstr(why.msg, "challenge"));
	strcpy(st.challenge, "00112233445566778899aabbccddeeff");
	ev.kind = 1;
	cr_assert_eq(tern__auth_handle(&st, &ev, NULL, 1700000000, &why,
				       NULL), TERN_EINVAL);
	cr_assert(strstr(why.msg, "22242"));
	ev.kind = 22242;
	ev.sig[0] ^= 1;
	cr_assert_eq(tern__auth_handle(&st, &ev, NULL, 1700000000, &why,
				       NULL), TERN_EINVAL);
	cr_assert_not(tern__auth_any(&st));
}

Test(relay_auth, url_equality)
{
#define EQ(a, b) tern__auth_url_equal((tern_slice){ (const uint8_t *)a, strlen(a) }, \
				      (tern_slice){ (const uint8_t *)b, strlen(b) })
	cr_assert(EQ("wss://relay.example.com", "wss://relay.example.com/"));
	cr_assert(EQ("WSS://Relay.Example.COM//", "wss://relay.example.com"));
	cr_assert(EQ("ws://h:7777/path", "ws://H:7777/path/"));
	cr_assert_not(EQ("ws://h/Path", "ws://h/path"));
	cr_assert_not(EQ("wss://a.example.com", "wss://b.example.com"));
	cr_assert_not(EQ("ws://a.example.com", "wss://a.example.com"));
#undef EQ
}

#define Z16 "0000000000000000"
#define Z64 Z16 Z16 Z16 Z16

Test(relay_auth, parties_of_restricted_events)
{
	const char *dm =
		"{\"id\":\"cfaff75cf56b0ed9ec1e68d8ec286ada0823b1715fe78d681ec5"
		"332f1d02871d\",\"pubkey\":\"1111111111111111111111111111111111"
		"111111111111111111111111111111\",\"created_at\":1,\"kind\":4,"
		"\"tags\":[[\"p\",\"f9308a019258c31049344f85f89d5229b531c845836f99"
		"b08601f113bce036f9\"]],\"content\":\"x\",\"sig\":\"" Z64 Z64
		"\"}";
	tern_event d;
	tern_reason why;

	cr_assert_eq(tern_event_parse(&d, (const uint8_t *)dm, strlen(dm), NULL,
				      &arena, &why), 0, "%s", why.msg);
	cr_assert_not(tern__auth_is_party(&st, &d), "not authed");
	cr_assert_eq(tern__auth_handle(&st, &ev, NULL, 1700000000, &why,
				       NULL), 0);
	cr_assert(tern__auth_is_party(&st, &d), "p-tagged recipient");
	d.tags = NULL;
	d.ntags = 0;
	cr_assert_not(tern__auth_is_party(&st, &d), "neither author nor p");
	memcpy(d.pubkey, ev.pubkey, 32);
	cr_assert(tern__auth_is_party(&st, &d), "author");
}
