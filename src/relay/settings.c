/* Reloadable relay settings and the NIP-11 document (settings.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/error.h>

#include "proto/json.h"
#include "relay/settings.h"

/*
 * Only what works end to end: 1 (protocol), 9 (deletions, in the store),
 * 11 (this document), 40 (expiration), 42 (AUTH), 45 (COUNT),
 * 70 (protected events). 13 is added when a minimum difficulty is set.
 */
const unsigned tern__settings_nips[] = { 1, 9, 11, 40, 42, 45, 70 };
const size_t tern__settings_nnips =
	sizeof tern__settings_nips / sizeof tern__settings_nips[0];

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void put_json_str(FILE *f, const char *s)
{
	tern_slice in = { (const uint8_t *)s, strlen(s) };
	size_t n = tern__json_escaped_len(in);
	uint8_t stackbuf[512], *buf = n <= sizeof stackbuf ? stackbuf
							   : malloc(n);

	if (!buf)
		return;
	tern__json_escape(buf, in);
	fwrite(buf, 1, n, f);
	if (buf != stackbuf)
		free(buf);
}

static void put_field(FILE *f, bool *first, const char *key, const char *val)
{
	if (!val || !*val)
		return;
	fprintf(f, "%s\"%s\":", *first ? "" : ",", key);
	put_json_str(f, val);
	*first = false;
}

/* The supported NIPs for limits l: the list above, with 13 when a
 * minimum difficulty is set (kept sorted). Returns the count. */
static size_t nips_of(const tern_config_limits *l, uint32_t *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < tern__settings_nnips && n < cap; i++) {
		out[n++] = tern__settings_nips[i];
		if (tern__settings_nips[i] == 11 && l->min_pow_difficulty &&
		    n < cap)
			out[n++] = 13;
	}
	return n;
}

static char *render(const tern_relay_info *info, const tern_config_limits *l,
		    size_t *len);

size_t tern__settings_add_nip(uint32_t *nips, size_t n, size_t cap,
			      uint32_t nip)
{
	size_t i = 0;

	while (i < n && nips[i] < nip)
		i++;
	if ((i < n && nips[i] == nip) || n >= cap)
		return n;
	memmove(nips + i + 1, nips + i, (n - i) * sizeof *nips);
	nips[i] = nip;
	return n + 1;
}

char *tern__settings_nip11(const tern_config *cfg, size_t *len)
{
	const tern_config_info *ci = &cfg->relay.info;
	uint32_t nips[32];
	tern_relay_info info = {
		ci->name, ci->description, ci->pubkey, ci->contact, ci->icon,
		ci->banner, ci->privacy_policy, ci->terms_of_service,
		ci->posting_policy, nips,
		nips_of(&cfg->relay.limits, nips, sizeof nips / sizeof nips[0]),
	};

	return render(&info, &cfg->relay.limits, len);
}

void tern__settings_info(const tern__settings *s, tern_relay_info *info,
			 uint32_t *nips, size_t cap)
{
	*info = (tern_relay_info){
		s->info[0], s->info[1], s->info[2], s->info[3], s->info[4],
		s->info[5], s->info[6], s->info[7], s->info[8], nips,
		nips_of(&s->lim, nips, cap),
	};
}

char *tern__settings_nip11_info(const tern__settings *s,
				const tern_relay_info *info, size_t *len)
{
	return render(info, &s->lim, len);
}

static char *render(const tern_relay_info *info, const tern_config_limits *l,
		    size_t *len)
{
	uint32_t deflimit = l->default_limit < l->max_limit ? l->default_limit
							     : l->max_limit;
	char *out = NULL;
	size_t n = 0;
	bool first = true;
	FILE *f = open_memstream(&out, &n);

	if (!f)
		return NULL;
	fputc('{', f);
	put_field(f, &first, "name", info->name);
	put_field(f, &first, "description", info->description);
	put_field(f, &first, "pubkey", info->pubkey);
	put_field(f, &first, "contact", info->contact);
	put_field(f, &first, "icon", info->icon);
	put_field(f, &first, "banner", info->banner);
	put_field(f, &first, "privacy_policy", info->privacy_policy);
	put_field(f, &first, "terms_of_service", info->terms_of_service);
	put_field(f, &first, "posting_policy", info->posting_policy);
	put_field(f, &first, "software", "tern");
	put_field(f, &first, "version", TERN_VERSION);
	fprintf(f, "%s\"supported_nips\":[", first ? "" : ",");
	for (size_t i = 0; i < info->nsupported_nips; i++)
		fprintf(f, "%s%u", i ? "," : "",
			(unsigned)info->supported_nips[i]);
	fprintf(f, "],\"limitation\":{"
		"\"max_message_length\":%" PRIu32
		",\"max_subscriptions\":%" PRIu32
		",\"max_filters\":%" PRIu32
		",\"max_limit\":%" PRIu32
		",\"default_limit\":%" PRIu32
		",\"max_subid_length\":%" PRIu32
		",\"max_event_tags\":%" PRIu32
		",\"max_content_length\":%" PRIu32
		",\"min_pow_difficulty\":%" PRIu32
		",\"auth_required\":%s"
		",\"payment_required\":false"
		",\"restricted_writes\":false",
		l->max_message_length, l->max_subscriptions, l->max_filters,
		l->max_limit, deflimit, l->max_subid_length,
		l->max_event_tags, l->max_content_length,
		l->min_pow_difficulty, l->auth_required ? "true" : "false");
	if (l->created_at_lower_limit)
		fprintf(f, ",\"created_at_lower_limit\":%" PRIu64,
			l->created_at_lower_limit);
	if (l->created_at_upper_limit)
		fprintf(f, ",\"created_at_upper_limit\":%" PRIu64,
			l->created_at_upper_limit);
	fputs("}}", f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*len = n;
	return out;
}

int tern__settings_new(tern__settings **out, const tern_config *cfg)
{
	const tern_config_relay *r = &cfg->relay;
	tern__settings *s = calloc(1, sizeof *s);

	*out = NULL;
	if (!s)
		return TERN_ENOMEM;
	atomic_init(&s->refs, 1);
	s->lim = r->limits;
	if (s->lim.default_limit > s->lim.max_limit)
		s->lim.default_limit = s->lim.max_limit;
	if (s->lim.max_output_queue < s->lim.max_message_length)
		s->lim.max_output_queue = s->lim.max_message_length;
	s->ping_interval = r->websocket.ping_interval;
	s->ping_timeout = r->websocket.ping_timeout;
	if (s->ping_interval && s->ping_timeout < s->ping_interval)
		s->ping_timeout = s->ping_interval;
	s->service_url = dup_or_empty(r->service_url);
	s->name = dup_or_empty(r->info.name);
	s->description = dup_or_empty(r->info.description);
	if (r->trusted_proxy_header && *r->trusted_proxy_header)
		s->trusted_proxy_header = strdup(r->trusted_proxy_header);
	if (r->auth.n_restricted_kinds) {
		s->nrestricted = r->auth.n_restricted_kinds;
		s->restricted_kinds = malloc(s->nrestricted * sizeof(uint32_t));
		if (s->restricted_kinds) {
			memcpy(s->restricted_kinds, r->auth.restricted_kinds,
			       s->nrestricted * sizeof(uint32_t));
			qsort(s->restricted_kinds, s->nrestricted,
			      sizeof(uint32_t), cmp_u32);
		}
	}
	s->nip11 = tern__settings_nip11(cfg, &s->nip11_len);
	{
		const tern_config_info *ci = &r->info;
		const char *v[9] = {
			ci->name, ci->description, ci->pubkey, ci->contact,
			ci->icon, ci->banner, ci->privacy_policy,
			ci->terms_of_service, ci->posting_policy,
		};

		for (size_t i = 0; i < 9; i++)
			if (!(s->info[i] = dup_or_empty(v[i])))
				s->nip11 = (free(s->nip11), NULL);
	}

	tern_event_limits_defaults(&s->ev_lim);
	s->ev_lim.max_json = s->lim.max_message_length;
	s->ev_lim.max_content = s->lim.max_content_length;
	s->ev_lim.max_tags = s->lim.max_event_tags;
	tern__msg_limits_defaults(&s->msg_lim);
	s->msg_lim.max_bytes = s->lim.max_message_length;
	s->msg_lim.max_filters = s->lim.max_filters;

	tern__ws_deflate_policy_default(&s->deflate);
	s->deflate.enabled = r->websocket.compression;
	s->deflate.server_no_context_takeover =
		!r->websocket.compression_context_takeover;
	s->deflate.server_max_window_bits = (uint8_t)r->websocket.max_window_bits;

	if (!s->service_url || !s->name || !s->description || !s->nip11 ||
	    (r->trusted_proxy_header && *r->trusted_proxy_header &&
	     !s->trusted_proxy_header) ||
	    (s->nrestricted && !s->restricted_kinds)) {
		tern__settings_unref(s);
		return TERN_ENOMEM;
	}
	*out = s;
	return 0;
}

tern__settings *tern__settings_ref(tern__settings *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void tern__settings_unref(tern__settings *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	free(s->service_url);
	free(s->trusted_proxy_header);
	free(s->restricted_kinds);
	free(s->name);
	free(s->description);
	free(s->nip11);
	for (size_t i = 0; i < 9; i++)
		free(s->info[i]);
	free(s);
}

bool tern__settings_restricted(const tern__settings *s, uint32_t kind)
{
	size_t lo = 0, hi = s->nrestricted;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->restricted_kinds[mid] == kind)
			return true;
		if (s->restricted_kinds[mid] < kind)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
