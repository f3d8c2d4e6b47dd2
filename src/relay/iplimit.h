/*
 * Relay-wide count of open connections per client IP, for
 * relay.limits.max_connections_per_ip.
 *
 * The count must be relay-wide, not per I/O thread: SO_REUSEPORT spreads
 * one client's connections over every thread's listener. So the table is
 * shared by all I/O threads and guarded by one mutex, taken only when a
 * connection is counted or released (accept and close), never per
 * message.
 *
 * Memory is bounded by the connections open: an entry exists only while
 * its IP has at least one counted connection (it is freed when the count
 * drops to zero), plus a fixed bucket array. Keys are the IP's text as the
 * relay logs it (at most TERN__IPLIMIT_KEY_MAX bytes; longer keys are cut).
 *
 * Which address is counted, and when, is the caller's policy (conn.c):
 * the socket peer at accept, or the trusted proxy header's address once
 * the request head is read when one is configured.
 */
#ifndef TERN_RELAY_IPLIMIT_H
#define TERN_RELAY_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define TERN__IPLIMIT_KEY_MAX 63

typedef struct tern__iplimit tern__iplimit;
typedef struct tern__ipslot tern__ipslot;

/* Creates an empty table. Returns 0 or TERN_ENOMEM. */
int tern__iplimit_new(tern__iplimit **out);
/* Frees t (every slot must have been released, or is freed with it).
 * t may be NULL. */
void tern__iplimit_free(tern__iplimit *t);

/*
 * Counts one more connection from ip, unless max > 0 and ip already has
 * max connections. On success *slot is the entry to hand back to
 * tern__iplimit_release() when the connection ends.
 * Returns 0, TERN_EFULL (over the limit: nothing counted, *slot NULL) or
 * TERN_ENOMEM (nothing counted). Thread-safe.
 */
int tern__iplimit_acquire(tern__iplimit *t, const char *ip, uint32_t max,
			  tern__ipslot **slot);

/* Uncounts a connection counted by tern__iplimit_acquire(); the entry is
 * freed when its count reaches zero. slot may be NULL. Thread-safe. */
void tern__iplimit_release(tern__iplimit *t, tern__ipslot *slot);

/* Connections counted for ip (0 if none). Thread-safe. */
uint32_t tern__iplimit_count(tern__iplimit *t, const char *ip);

/* Number of IPs with at least one connection. Thread-safe. */
size_t tern__iplimit_size(tern__iplimit *t);

#endif
