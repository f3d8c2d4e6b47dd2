/*
 * The relay's reloadable settings: an immutable, ref-counted snapshot made
 * from a tern_config, holding deep copies of every string it needs, the
 * parser limits derived from it and the rendered NIP-11 document.
 *
 * Each I/O thread holds a reference to the snapshot it uses; a reload
 * builds a new snapshot and hands every thread a reference to it through
 * its inbox, so a thread never sees settings change under a message.
 */
#ifndef TERN_RELAY_SETTINGS_H
#define TERN_RELAY_SETTINGS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/config.h>
#include <tern/event.h>
#include <tern/hooks.h>

#include "proto/message.h"
#include "ws/handshake.h"

typedef struct tern__settings {
	atomic_uint refs;
	tern_config_limits lim;
	uint32_t ping_interval, ping_timeout; /* seconds; 0: no pings */
	char *service_url;          /* "" when unset */
	char *trusted_proxy_header; /* NULL when off */
	uint32_t *restricted_kinds; /* sorted */
	size_t nrestricted;
	tern_event_limits ev_lim;
	tern__msg_limits msg_lim;
	tern__ws_deflate_policy deflate;
	char *name, *description;   /* for the HTML page */
	char *nip11;                /* the NIP-11 document (JSON) */
	size_t nip11_len;
	char *info[9];              /* relay.info strings, in the order of
				       tern_relay_info ("" when unset) */
} tern__settings;

/* The NIPs this relay implements, listed in NIP-11 and on the HTML page. */
extern const unsigned tern__settings_nips[];
extern const size_t tern__settings_nnips;

/* Inserts nip into the sorted list nips[0..n) (capacity cap) unless it is
 * there; returns the new count. */
size_t tern__settings_add_nip(uint32_t *nips, size_t n, size_t cap,
			      uint32_t nip);

/* Builds a snapshot with one reference. Returns 0 or TERN_ENOMEM. */
int tern__settings_new(tern__settings **out, const tern_config *cfg);
tern__settings *tern__settings_ref(tern__settings *s);
void tern__settings_unref(tern__settings *s);

/* True if kind is one of relay.auth.restricted_kinds. */
bool tern__settings_restricted(const tern__settings *s, uint32_t kind);

/* Fills *info from s (strings owned by s); the supported NIPs go into
 * nips[0..cap). */
void tern__settings_info(const tern__settings *s, tern_relay_info *info,
			 uint32_t *nips, size_t cap);

/* Renders the NIP-11 document of s with info's fields (a hook may have
 * changed them) into a malloc'ed string; NULL when out of memory. */
char *tern__settings_nip11_info(const tern__settings *s,
				const tern_relay_info *info, size_t *len);

/* Renders the NIP-11 document of cfg into a malloc'ed NUL-terminated
 * string (*len without the NUL). Returns NULL when out of memory. */
char *tern__settings_nip11(const tern_config *cfg, size_t *len);

#endif
