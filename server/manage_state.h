/*
 * The state of tern serve's NIP-86 management API (manage_state.c):
 * sorted lists of 32-byte keys with reasons, sorted kind sets, IP keys,
 * and the state file that holds them (render, atomic write, load).
 *
 * Plain data: none of this locks. server/manage.c keeps a manage_state
 * under its rwlock and calls these with the lock it needs (the read lock
 * for the lookups and manage_state_render(), the write lock for changes).
 *
 * The state file is line-based text, one item per line:
 *
 *     version 1
 *     name <text>               description <text>        icon <text>
 *     banpubkey <hex> <reason>  allowpubkey <hex> <reason>
 *     banevent <hex> <reason>   blockip <ip> <reason>
 *     allowkind <n>             disallowkind <n>
 *
 * where text and reasons escape '\' as "\\", LF as "\n" and CR as "\r".
 * Lines that are empty or start with '#' are skipped.
 */
#ifndef TERN_SERVER_MANAGE_STATE_H
#define TERN_SERVER_MANAGE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One listed key: a pubkey, an event id, or an IP (manage_state_ip_key). */
typedef struct manage_state_entry {
	uint8_t key[32];
	char *reason; /* owned, never NULL */
} manage_state_entry;

/* Entries sorted by key, each key once. Zero-initialized: empty. */
typedef struct manage_state_list {
	manage_state_entry *v;
	size_t n, cap;
} manage_state_list;

/* Kinds sorted ascending, each once. Zero-initialized: empty. */
typedef struct manage_state_kinds {
	uint16_t *v;
	size_t n, cap;
} manage_state_kinds;

/* Everything the state file holds. Zero-initialized: empty. */
typedef struct manage_state {
	manage_state_list banned_pk, allowed_pk, banned_ev, blocked_ip;
	manage_state_kinds allowed_k, disallowed_k;
	char *name, *description, *icon; /* owned; NULL: not overridden */
} manage_state;

/* ---- sorted lists and kinds (binary searches) --------------------------- */

bool manage_state_list_has(const manage_state_list *l, const uint8_t key[32]);
/* Adds key with a copy of reason (NULL: ""), or replaces the reason of a
 * key already listed. Returns 0 or TERN_ENOMEM (l unchanged). */
int manage_state_list_put(manage_state_list *l, const uint8_t key[32],
			  const char *reason);
/* Removes key if listed. */
void manage_state_list_del(manage_state_list *l, const uint8_t key[32]);

bool manage_state_kinds_has(const manage_state_kinds *k, uint32_t kind);
/* Adds kind if absent. Returns 0 or TERN_ENOMEM (k unchanged). */
int manage_state_kinds_put(manage_state_kinds *k, uint16_t kind);
/* Removes kind if present. */
void manage_state_kinds_del(manage_state_kinds *k, uint16_t kind);

/* ---- IP keys ------------------------------------------------------------ */

/*
 * The key of an IPv4 or IPv6 address in text form: 16 bytes (IPv4 as
 * IPv4-mapped IPv6) then 16 zero bytes, so that one address has one key
 * whatever its spelling. False when text is not an address.
 */
bool manage_state_ip_key(const char *text, uint8_t key[32]);
/* The address of key as text (dotted IPv4 for IPv4-mapped keys) into out,
 * of cap >= INET6_ADDRSTRLEN bytes. */
void manage_state_ip_text(const uint8_t key[32], char *out, size_t cap);

/* ---- the state file ----------------------------------------------------- */

/*
 * Applies the file at path to s (items add to what s holds). A missing
 * file is an empty state: returns 0. Otherwise returns 0, -errno of
 * fopen(), TERN_EPARSE / TERN_EVERSION for a malformed line (s then holds
 * the lines before it), or TERN_ENOMEM; on error err gets
 * "<path>: <why>" or "<path>:<line>: <why>".
 */
int manage_state_load(manage_state *s, const char *path, char *err,
		      size_t errcap);

/*
 * The file's text for s into *text (NUL-terminated, malloc'ed, the
 * caller frees it) and its length into *len. Returns 0 or TERN_ENOMEM.
 */
int manage_state_render(const manage_state *s, char **text, size_t *len);

/*
 * Replaces the file at path by text[0..len) atomically: writes tmp_path,
 * fsyncs it, renames it over path, then fsyncs dir (the directory of
 * both; a failure of that last step is ignored). Returns 0 or -errno
 * (tmp_path is then removed and path is untouched).
 */
int manage_state_write(const char *path, const char *tmp_path,
		       const char *dir, const char *text, size_t len);

/* Frees what s holds (not s) and leaves it empty. */
void manage_state_free(manage_state *s);

#endif
