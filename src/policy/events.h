/*
 * Event policies as pure decisions (include/tern/policy.h has the rules):
 * each takes the event and the policy's parameters and returns true to
 * reject, with why filled. No relay, no clock: "now" is a parameter, so
 * the hook adapters (event_policies.c) stay thin and tests call these directly.
 * All are thread-safe.
 */
#ifndef TERN_POLICY_EVENTS_H
#define TERN_POLICY_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <tern/event.h>
#include <tern/types.h>

#include "policy/kindset.h"

/* only (may be NULL or empty) limits the rule to its kinds; otherwise
 * ignore (may be NULL) exempts its kinds. */
bool tern__events_too_many_indexable_tags(const tern_event *ev, uint32_t max,
					  const tern__kindset *ignore,
					  const tern__kindset *only,
					  tern_reason *why);
bool tern__events_large_tags(const tern_event *ev, uint32_t max_value_len,
			     tern_reason *why);
bool tern__events_kind_not_allowed(const tern_event *ev,
				   const tern__kindset *allowed,
				   bool allow_ephemeral, tern_reason *why);
/* now: Unix seconds. */
bool tern__events_too_old(const tern_event *ev, uint64_t max_age,
			  uint64_t now, tern_reason *why);
bool tern__events_too_far_ahead(const tern_event *ev, uint64_t max_ahead,
				uint64_t now, tern_reason *why);
bool tern__events_base64_media(const tern_event *ev, tern_reason *why);
bool tern__events_unprotected(const tern_event *ev, tern_reason *why);
bool tern__events_invalid_for_kind(const tern_event *ev, tern_reason *why);
bool tern__events_low_pow(const tern_event *ev, uint32_t min_bits,
			  tern_reason *why);
bool tern__events_content_too_long(const tern_event *ev, uint32_t max,
				   tern_reason *why);

/* NIP-13: leading zero bits of an id (0..256). */
unsigned tern__events_pow_bits(const uint8_t id[32]);

#endif
