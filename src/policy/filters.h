/*
 * Filter policies as pure decisions and rewrites (include/tern/policy.h
 * has the rules). The reject functions return true to refuse, with why
 * filled; the rewrites change a filter in place, taking new arrays from
 * the request's arena. Thread-safe.
 */
#ifndef TERN_POLICY_FILTERS_H
#define TERN_POLICY_FILTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/arena.h>
#include <tern/filter.h>
#include <tern/types.h>

#include "policy/kindset.h"

bool tern__filters_complex(const tern_filter *f, tern_reason *why);
bool tern__filters_empty(const tern_filter *f, tern_reason *why);
bool tern__filters_sync_bot(const tern_filter *f, tern_reason *why);
bool tern__filters_search(const tern_filter *f, tern_reason *why);
/* nauthed: how many pubkeys the connection authed as; is_authed(ctx, pk)
 * tells whether pk is one of them. */
typedef bool (*tern__filters_authed_fn)(const void *ctx,
					const uint8_t pk[32]);
bool tern__filters_unauthed(size_t nauthed, tern_reason *why);
bool tern__filters_kind4_snooper(const tern_filter *f, size_t nauthed,
				 tern__filters_authed_fn is_authed,
				 const void *ctx, tern_reason *why);

void tern__filters_remove_search(tern_filter *f);
/* Returns 0 or TERN_ENOMEM (f unchanged). */
int tern__filters_keep_kinds(tern_filter *f, const tern__kindset *keep,
			     tern_arena *a);
/* keep: a set of ASCII letters, indexed by the letter's byte value. */
int tern__filters_keep_tags(tern_filter *f, const bool keep[128],
			    tern_arena *a);

#endif
