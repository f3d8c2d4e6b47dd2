/*
 * Relay-to-client messages (NIP-01, NIP-42, NIP-45) written as compact JSON
 * text, ready to be framed. Strings are escaped canonically
 * (tern__json_escape), so a sub id or reason holding control characters or
 * quotes is always valid JSON.
 *
 * Each writer takes (buf, cap) and returns the message length; when cap is
 * too small it writes nothing useful and returns the length it would need
 * (check `len <= cap`). TERN__WIRE_SMALL_MAX bytes always suffice for every
 * message here whose sub id is at most 64 code points (NIP-01) and whose
 * reason fits a tern_reason.
 *
 * EVENT messages are spliced, never re-encoded: the relay sends
 * tern__wire_event_head(), then the stored JSON bytes, then "]".
 *
 * Pure functions; thread-safe.
 */
#ifndef TERN_RELAY_WIRE_H
#define TERN_RELAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/types.h>

#define TERN__WIRE_SMALL_MAX 4096

/* ["OK","<id hex>",true|false,"<reason>"]; id is 64 hex characters. */
size_t tern__wire_ok(char *buf, size_t cap, tern_slice id_hex, bool ok,
		     const tern_reason *r);
/* ["NOTICE","<reason>"] */
size_t tern__wire_notice(char *buf, size_t cap, const tern_reason *r);
/* ["CLOSED","<sub>","<reason>"] */
size_t tern__wire_closed(char *buf, size_t cap, tern_slice sub,
			 const tern_reason *r);
/* ["NEG-ERR","<sub>","<reason>"] (NIP-77) */
size_t tern__wire_neg_err(char *buf, size_t cap, tern_slice sub,
			  const tern_reason *r);
/* ["EOSE","<sub>"] */
size_t tern__wire_eose(char *buf, size_t cap, tern_slice sub);
/* ["COUNT","<sub>",{"count":N}] */
size_t tern__wire_count(char *buf, size_t cap, tern_slice sub, uint64_t n);
/* ["AUTH","<challenge>"] */
size_t tern__wire_auth(char *buf, size_t cap, const char *challenge);
/* ["EVENT","<sub>",  (the event JSON and "]" follow) */
size_t tern__wire_event_head(char *buf, size_t cap, tern_slice sub);

#endif
