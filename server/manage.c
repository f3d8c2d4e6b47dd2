/*
 * tern serve's NIP-86 management API (manage.h): the methods of
 * tern/manage.h over the state of manage_state.h, the hooks that enforce
 * that state, and starting and freeing it all.
 *
 * The state is a few sorted arrays under one rwlock: the reject-event hook
 * (every EVENT, on the I/O threads) takes the read lock for three binary
 * searches; the methods (thread-pool threads, rare) take the write lock.
 * Methods are serialized by save_mu so that the file is always written
 * from the latest state, in the order of the changes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tern/error.h>
#include <tern/filter.h>
#include <tern/hooks.h>
#include <tern/log.h>
#include <tern/manage.h>
#include <tern/store.h>

#include "manage.h"
#include "manage_state.h"

#define STATE_FILE "management.state"
/* Longest overrides accepted (bytes): NIP-11 strings, kept per I/O
 * thread while a document is written. */
#define NAME_MAX_LEN 256
#define DESCRIPTION_MAX_LEN 4096
#define ICON_MAX_LEN 2048
#define REASON_MAX_LEN 1024

static const char owner[] = "tern-management";

struct serve_manage {
	tern_relay *relay;
	tern_manage *api;
	char *path, *tmp_path, *dir;
	uint8_t (*admins)[32];
	size_t nadmins;

	pthread_mutex_t save_mu; /* one method at a time */
	pthread_rwlock_t lock;   /* guards st */
	manage_state st;
};

/* Writes the state file from the current state (save_mu held). */
static int save(serve_manage *sm)
{
	char *text;
	size_t len;
	int rc;

	pthread_rwlock_rdlock(&sm->lock);
	rc = manage_state_render(&sm->st, &text, &len);
	pthread_rwlock_unlock(&sm->lock);
	if (rc)
		return rc;
	rc = manage_state_write(sm->path, sm->tmp_path, sm->dir, text, len);
	free(text);
	return rc;
}

/* ---- methods ------------------------------------------------------------- */

/* One change of the state, made with the write lock held. */
typedef int (*apply_fn)(serve_manage *sm, const tern_manage_call *call,
			void *arg);

/* Runs apply under the locks, then saves the file. */
static int change(serve_manage *sm, tern_manage_result *res, apply_fn apply,
		  const tern_manage_call *call, void *arg)
{
	int rc;

	pthread_mutex_lock(&sm->save_mu);
	pthread_rwlock_wrlock(&sm->lock);
	rc = apply(sm, call, arg);
	pthread_rwlock_unlock(&sm->lock);
	if (rc == 0 && (rc = save(sm)))
		tern_manage_result_error(res, "applied but not saved: %s",
					 tern_strerror(rc));
	pthread_mutex_unlock(&sm->save_mu);
	return rc;
}

/* arg: the list to remove call->key from. */
static int del_key(serve_manage *sm, const tern_manage_call *call, void *arg)
{
	(void)sm;
	manage_state_list_del(arg, call->key);
	return 0;
}

static int check_reason(const tern_manage_call *call, tern_manage_result *res)
{
	if (strlen(call->reason) > REASON_MAX_LEN)
		return tern_manage_result_error(res, "the reason is longer "
						"than %d bytes",
						REASON_MAX_LEN);
	return 0;
}

static int ban_pk_locked(serve_manage *sm, const tern_manage_call *call,
			 void *arg)
{
	(void)arg;
	manage_state_list_del(&sm->st.allowed_pk, call->key);
	return manage_state_list_put(&sm->st.banned_pk, call->key,
				     call->reason);
}

static int allow_pk_locked(serve_manage *sm, const tern_manage_call *call,
			   void *arg)
{
	(void)arg;
	manage_state_list_del(&sm->st.banned_pk, call->key);
	return manage_state_list_put(&sm->st.allowed_pk, call->key,
				     call->reason);
}

static int m_banpubkey(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	serve_manage *sm = ud;

	if (check_reason(call, res))
		return TERN_EINVAL;
	return change(sm, res, ban_pk_locked, call, NULL);
}

static int m_unbanpubkey(void *ud, const tern_manage_call *call,
			 tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, del_key, call, &sm->st.banned_pk);
}

static int m_allowpubkey(void *ud, const tern_manage_call *call,
			 tern_manage_result *res)
{
	serve_manage *sm = ud;

	if (check_reason(call, res))
		return TERN_EINVAL;
	return change(sm, res, allow_pk_locked, call, NULL);
}

static int m_unallowpubkey(void *ud, const tern_manage_call *call,
			   tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, del_key, call, &sm->st.allowed_pk);
}

static int list_out(serve_manage *sm, const manage_state_list *l, bool ip,
		    tern_manage_result *res)
{
	char key[INET6_ADDRSTRLEN];
	int rc = 0;

	pthread_rwlock_rdlock(&sm->lock);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		if (ip) {
			manage_state_ip_text(l->v[i].key, key, sizeof key);
			rc = tern_manage_result_add(res, key, l->v[i].reason);
		} else {
			rc = tern_manage_result_add_key(res, l->v[i].key,
							l->v[i].reason);
		}
	}
	pthread_rwlock_unlock(&sm->lock);
	return rc;
}

static int m_listbannedpubkeys(void *ud, const tern_manage_call *call,
			       tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->st.banned_pk, false, res);
}

static int m_listallowedpubkeys(void *ud, const tern_manage_call *call,
				tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->st.allowed_pk, false, res);
}

static int m_listbannedevents(void *ud, const tern_manage_call *call,
			      tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->st.banned_ev, false, res);
}

/* Nothing is held for moderation: every event is accepted or refused
 * when it arrives. */
static int m_listeventsneedingmoderation(void *ud, const tern_manage_call *call,
					 tern_manage_result *res)
{
	(void)ud;
	(void)call;
	(void)res;
	return 0;
}

/* arg: the list to add call->key to, with call->reason. */
static int put_key(serve_manage *sm, const tern_manage_call *call, void *arg)
{
	(void)sm;
	return manage_state_list_put(arg, call->key, call->reason);
}

static int m_banevent(void *ud, const tern_manage_call *call,
		      tern_manage_result *res)
{
	serve_manage *sm = ud;
	tern_store *store;
	tern_filter f;
	uint64_t removed = 0;
	int rc;

	if (check_reason(call, res))
		return TERN_EINVAL;
	rc = change(sm, res, put_key, call, &sm->st.banned_ev);
	if (rc)
		return rc;
	/* Banned from now on; then removed if it was stored. */
	store = tern_relay_store(sm->relay);
	if (!store)
		return tern_manage_result_error(res, "banned, but the store "
						"is not open to remove it");
	memset(&f, 0, sizeof f);
	f.ids = (const uint8_t (*)[32])call->key;
	f.nids = 1;
	f.until = UINT64_MAX;
	rc = tern_store_delete(store, &f, 1, false, &removed);
	if (rc)
		return tern_manage_result_error(res, "banned, but not removed "
						"from the store: %s",
						tern_strerror(rc));
	if (removed)
		tern_log(TERN_LOG_INFO, "manage", "banned event removed from "
			 "the store");
	return 0;
}

static int m_unbanevent(void *ud, const tern_manage_call *call,
			tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, del_key, call, &sm->st.banned_ev);
}

/* arg: the string to replace with call->text. */
static int set_text(serve_manage *sm, const tern_manage_call *call, void *arg)
{
	char **dst = arg, *s = strdup(call->text);

	(void)sm;
	if (!s)
		return TERN_ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int change_text(serve_manage *sm, char **dst, size_t max,
		       const tern_manage_call *call, tern_manage_result *res)
{
	if (strlen(call->text) > max)
		return tern_manage_result_error(res, "longer than %zu bytes",
						max);
	return change(sm, res, set_text, call, dst);
}

static int m_changerelayname(void *ud, const tern_manage_call *call,
			     tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change_text(sm, &sm->st.name, NAME_MAX_LEN, call, res);
}

static int m_changerelaydescription(void *ud, const tern_manage_call *call,
				    tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change_text(sm, &sm->st.description, DESCRIPTION_MAX_LEN, call,
			   res);
}

static int m_changerelayicon(void *ud, const tern_manage_call *call,
			     tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change_text(sm, &sm->st.icon, ICON_MAX_LEN, call, res);
}

static int allow_kind_locked(serve_manage *sm, const tern_manage_call *call,
			     void *arg)
{
	(void)arg;
	manage_state_kinds_del(&sm->st.disallowed_k, (uint16_t)call->kind);
	return manage_state_kinds_put(&sm->st.allowed_k, (uint16_t)call->kind);
}

static int disallow_kind_locked(serve_manage *sm,
				const tern_manage_call *call, void *arg)
{
	(void)arg;
	manage_state_kinds_del(&sm->st.allowed_k, (uint16_t)call->kind);
	return manage_state_kinds_put(&sm->st.disallowed_k,
				      (uint16_t)call->kind);
}

static int m_allowkind(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, allow_kind_locked, call, NULL);
}

static int m_disallowkind(void *ud, const tern_manage_call *call,
			  tern_manage_result *res)
{
	serve_manage *sm = ud;

	return change(sm, res, disallow_kind_locked, call, NULL);
}

static int kinds_out(serve_manage *sm, const manage_state_kinds *k,
		     tern_manage_result *res)
{
	int rc = 0;

	pthread_rwlock_rdlock(&sm->lock);
	for (size_t i = 0; i < k->n && rc == 0; i++)
		rc = tern_manage_result_add_kind(res, k->v[i]);
	pthread_rwlock_unlock(&sm->lock);
	return rc;
}

static int m_listallowedkinds(void *ud, const tern_manage_call *call,
			      tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return kinds_out(sm, &sm->st.allowed_k, res);
}

static int m_listdisallowedkinds(void *ud, const tern_manage_call *call,
				 tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return kinds_out(sm, &sm->st.disallowed_k, res);
}

/* arg: the 32-byte IP key. */
static int block_ip_locked(serve_manage *sm, const tern_manage_call *call,
			   void *arg)
{
	return manage_state_list_put(&sm->st.blocked_ip, arg, call->reason);
}

static int unblock_ip_locked(serve_manage *sm, const tern_manage_call *call,
			     void *arg)
{
	(void)call;
	manage_state_list_del(&sm->st.blocked_ip, arg);
	return 0;
}

static int m_blockip(void *ud, const tern_manage_call *call,
		     tern_manage_result *res)
{
	serve_manage *sm = ud;
	uint8_t key[32];

	if (check_reason(call, res))
		return TERN_EINVAL;
	if (!manage_state_ip_key(call->text, key))
		return tern_manage_result_error(res, "bad IP address");
	return change(sm, res, block_ip_locked, call, key);
}

static int m_unblockip(void *ud, const tern_manage_call *call,
		       tern_manage_result *res)
{
	serve_manage *sm = ud;
	uint8_t key[32];

	if (!manage_state_ip_key(call->text, key))
		return tern_manage_result_error(res, "bad IP address");
	return change(sm, res, unblock_ip_locked, call, key);
}

static int m_listblockedips(void *ud, const tern_manage_call *call,
			    tern_manage_result *res)
{
	serve_manage *sm = ud;

	(void)call;
	return list_out(sm, &sm->st.blocked_ip, true, res);
}

static const tern_manage_ops ops = {
	.ban_pubkey = m_banpubkey,
	.unban_pubkey = m_unbanpubkey,
	.list_banned_pubkeys = m_listbannedpubkeys,
	.allow_pubkey = m_allowpubkey,
	.unallow_pubkey = m_unallowpubkey,
	.list_allowed_pubkeys = m_listallowedpubkeys,
	.list_events_needing_moderation = m_listeventsneedingmoderation,
	/* allowevent lifts a ban: there is no moderation queue */
	.allow_event = m_unbanevent,
	.ban_event = m_banevent,
	.unban_event = m_unbanevent,
	.list_banned_events = m_listbannedevents,
	.change_relay_name = m_changerelayname,
	.change_relay_description = m_changerelaydescription,
	.change_relay_icon = m_changerelayicon,
	.allow_kind = m_allowkind,
	.disallow_kind = m_disallowkind,
	.list_allowed_kinds = m_listallowedkinds,
	.list_disallowed_kinds = m_listdisallowedkinds,
	.block_ip = m_blockip,
	.unblock_ip = m_unblockip,
	.list_blocked_ips = m_listblockedips,
};

/* ---- hooks --------------------------------------------------------------- */

static tern_verdict only_admins(void *ud, const tern_manage_call *call,
				tern_reason *why)
{
	serve_manage *sm = ud;

	for (size_t i = 0; i < sm->nadmins; i++)
		if (memcmp(sm->admins[i], call->caller, 32) == 0)
			return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_RESTRICTED,
			"not an admin of this relay");
	return TERN_REJECT;
}

static tern_verdict check_event(void *ud, tern_ctx *x, const tern_event *ev,
				tern_reason *why)
{
	serve_manage *sm = ud;
	const manage_state *st = &sm->st;
	tern_verdict v = TERN_PASS;

	(void)x;
	pthread_rwlock_rdlock(&sm->lock);
	if (manage_state_list_has(&st->banned_pk, ev->pubkey)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "pubkey is banned");
		v = TERN_REJECT;
	} else if (st->allowed_pk.n &&
		   !manage_state_list_has(&st->allowed_pk, ev->pubkey)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED,
				"pubkey is not allowed here");
		v = TERN_REJECT;
	} else if (manage_state_list_has(&st->banned_ev, ev->id)) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED, "event is banned");
		v = TERN_REJECT;
	} else if (manage_state_kinds_has(&st->disallowed_k, ev->kind) ||
		   (st->allowed_k.n &&
		    !manage_state_kinds_has(&st->allowed_k, ev->kind))) {
		tern_reason_set(why, TERN_PREFIX_BLOCKED,
				"kind %u is not allowed here",
				(unsigned)ev->kind);
		v = TERN_REJECT;
	}
	pthread_rwlock_unlock(&sm->lock);
	return v;
}

static tern_verdict check_ip(void *ud, tern_ctx *x, tern_reason *why)
{
	serve_manage *sm = ud;
	tern_conn *c = tern_ctx_conn(x);
	uint8_t key[32];
	bool blocked;

	if (!c || !manage_state_ip_key(tern_conn_ip(c), key))
		return TERN_PASS;
	pthread_rwlock_rdlock(&sm->lock);
	blocked = manage_state_list_has(&sm->st.blocked_ip, key);
	pthread_rwlock_unlock(&sm->lock);
	if (!blocked)
		return TERN_PASS;
	tern_reason_set(why, TERN_PREFIX_BLOCKED, "your address is blocked");
	return TERN_REJECT;
}

/* NIP-11 overrides: copied into buffers of the I/O thread, which writes
 * the document right after this hook. */
static __thread char tl_name[NAME_MAX_LEN + 1];
static __thread char tl_description[DESCRIPTION_MAX_LEN + 1];
static __thread char tl_icon[ICON_MAX_LEN + 1];

static void relay_info(void *ud, tern_ctx *x, tern_relay_info *info)
{
	serve_manage *sm = ud;

	(void)x;
	pthread_rwlock_rdlock(&sm->lock);
	if (sm->st.name) {
		snprintf(tl_name, sizeof tl_name, "%s", sm->st.name);
		info->name = tl_name;
	}
	if (sm->st.description) {
		snprintf(tl_description, sizeof tl_description, "%s",
			 sm->st.description);
		info->description = tl_description;
	}
	if (sm->st.icon) {
		snprintf(tl_icon, sizeof tl_icon, "%s", sm->st.icon);
		info->icon = tl_icon;
	}
	pthread_rwlock_unlock(&sm->lock);
}

/* ---- lifecycle ----------------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

void serve_manage_free(serve_manage *sm)
{
	if (!sm)
		return;
	tern_manage_free(sm->api);
	manage_state_free(&sm->st);
	free(sm->admins);
	free(sm->path);
	free(sm->tmp_path);
	free(sm->dir);
	pthread_rwlock_destroy(&sm->lock);
	pthread_mutex_destroy(&sm->save_mu);
	free(sm);
}

int serve_manage_start(serve_manage **out, tern_relay *r,
		       const tern_config *cfg, char *err, size_t errcap)
{
	const tern_config_management *mc = &cfg->management;
	serve_manage *sm;
	int rc;

	*out = NULL;
	if (!mc->nadmins)
		return 0;
	sm = calloc(1, sizeof *sm);
	if (!sm)
		goto nomem;
	sm->relay = r;
	pthread_mutex_init(&sm->save_mu, NULL);
	pthread_rwlock_init(&sm->lock, NULL);
	sm->admins = malloc(mc->nadmins * sizeof *sm->admins);
	sm->dir = strdup(cfg->store.dir);
	sm->path = join(cfg->store.dir, STATE_FILE);
	sm->tmp_path = join(cfg->store.dir, STATE_FILE ".tmp");
	if (!sm->admins || !sm->dir || !sm->path || !sm->tmp_path) {
		serve_manage_free(sm);
		goto nomem;
	}
	memcpy(sm->admins, mc->admins, mc->nadmins * sizeof *sm->admins);
	sm->nadmins = mc->nadmins;
	if (mkdir(sm->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errcap, "management: %s: %s", sm->dir,
			 strerror(errno));
		serve_manage_free(sm);
		return rc;
	}
	rc = manage_state_load(&sm->st, sm->path, err, errcap);
	if (rc) {
		serve_manage_free(sm);
		return rc;
	}
	rc = tern_manage_new(&sm->api, &ops, sm);
	if (!rc)
		rc = tern_manage_on_reject_api_call(sm->api, owner,
						    only_admins, sm);
	if (!rc)
		rc = tern_on_reject_connection(r, owner, check_ip, sm);
	if (!rc)
		rc = tern_on_reject_event(r, owner, check_event, sm);
	if (!rc)
		rc = tern_on_overwrite_relay_information(r, owner, relay_info,
							 sm);
	if (!rc)
		rc = tern_relay_set_manage(r, sm->api);
	if (rc) {
		snprintf(err, errcap, "management: %s", tern_strerror(rc));
		tern_hooks_remove_owner(r, owner);
		tern_relay_set_manage(r, NULL);
		serve_manage_free(sm);
		return rc;
	}
	tern_log(TERN_LOG_INFO, "manage", "NIP-86 management API on for %zu "
		 "admin%s; state in %s", sm->nadmins,
		 sm->nadmins == 1 ? "" : "s", sm->path);
	*out = sm;
	return 0;
nomem:
	snprintf(err, errcap, "management: out of memory");
	return TERN_ENOMEM;
}
