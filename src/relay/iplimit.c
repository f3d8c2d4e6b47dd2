/* Relay-wide connection counts per client IP (iplimit.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "relay/iplimit.h"

/* A fixed bucket array: chains stay short for tens of thousands of
 * distinct IPs, and the table never rehashes under the lock. */
#define NBUCKETS 4096

struct tern__ipslot {
	tern__ipslot *next;
	uint32_t count;
	uint32_t bucket;
	char key[TERN__IPLIMIT_KEY_MAX + 1];
};

struct tern__iplimit {
	pthread_mutex_t mu;
	size_t nslots;
	tern__ipslot *buckets[NBUCKETS];
};

/* FNV-1a. */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; s[i] && i < TERN__IPLIMIT_KEY_MAX; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h & (NBUCKETS - 1);
}

static bool key_eq(const tern__ipslot *s, const char *ip)
{
	return strncmp(s->key, ip, TERN__IPLIMIT_KEY_MAX) == 0;
}

int tern__iplimit_new(tern__iplimit **out)
{
	tern__iplimit *t = calloc(1, sizeof *t);

	*out = NULL;
	if (!t)
		return TERN_ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return 0;
}

void tern__iplimit_free(tern__iplimit *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		tern__ipslot *s = t->buckets[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int tern__iplimit_acquire(tern__iplimit *t, const char *ip, uint32_t max,
			  tern__ipslot **slot)
{
	uint32_t b = hash(ip);
	tern__ipslot *s;
	int rc = 0;

	*slot = NULL;
	pthread_mutex_lock(&t->mu);
	for (s = t->buckets[b]; s; s = s->next)
		if (key_eq(s, ip))
			break;
	if (s) {
		if (max && s->count >= max) {
			rc = TERN_EFULL;
			goto out;
		}
		s->count++;
		*slot = s;
		goto out;
	}
	s = malloc(sizeof *s);
	if (!s) {
		rc = TERN_ENOMEM;
		goto out;
	}
	s->count = 1;
	s->bucket = b;
	strncpy(s->key, ip, TERN__IPLIMIT_KEY_MAX);
	s->key[TERN__IPLIMIT_KEY_MAX] = '\0';
	s->next = t->buckets[b];
	t->buckets[b] = s;
	t->nslots++;
	*slot = s;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void tern__iplimit_release(tern__iplimit *t, tern__ipslot *slot)
{
	tern__ipslot **pp;

	if (!slot)
		return;
	pthread_mutex_lock(&t->mu);
	if (--slot->count == 0) {
		for (pp = &t->buckets[slot->bucket]; *pp; pp = &(*pp)->next) {
			if (*pp == slot) {
				*pp = slot->next;
				break;
			}
		}
		t->nslots--;
		free(slot);
	}
	pthread_mutex_unlock(&t->mu);
}

uint32_t tern__iplimit_count(tern__iplimit *t, const char *ip)
{
	uint32_t n = 0;

	pthread_mutex_lock(&t->mu);
	for (tern__ipslot *s = t->buckets[hash(ip)]; s; s = s->next) {
		if (key_eq(s, ip)) {
			n = s->count;
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t tern__iplimit_size(tern__iplimit *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->nslots;
	pthread_mutex_unlock(&t->mu);
	return n;
}
