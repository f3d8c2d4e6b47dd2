/*
 * The metrics section (metrics.h): the allow list's networks and the
 * path's form, kept out of config.c, which only dispatches to them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/metrics.h"

/* "ADDR" or "ADDR/BITS" into n; false when malformed or when bits past
 * the prefix are set ("10.0.0.1/8" is refused as ambiguous). */
static bool parse_net(const char *s, tern_config_net *n, const char **why)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits = 0;
	unsigned max;

	*why = "is not a numeric IPv4 or IPv6 address or CIDR network";
	memset(n, 0, sizeof *n);
	if (alen == 0 || alen >= sizeof addr)
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, n->addr + 12) == 1) {
		n->addr[10] = n->addr[11] = 0xff;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, n->addr) == 1) {
		max = 128;
	} else {
		return false;
	}
	bits = max;
	if (slash) {
		const char *d = slash + 1;
		char *end;

		/* digits only: strtoul would take spaces and signs */
		if (*d < '0' || *d > '9' || strlen(d) > 3)
			return false;
		bits = strtoul(d, &end, 10);
		if (*end || bits > max)
			return false;
	}
	n->prefix = (uint8_t)(bits + 128 - max);
	for (unsigned i = n->prefix; i < 128; i++)
		if (n->addr[i / 8] & (0x80u >> (i % 8))) {
			*why = "has address bits set past its prefix length";
			return false;
		}
	return true;
}

long tern__config_nets(const config_setting_t *v, tern_config_net *out,
		       char *msg, size_t msgcap)
{
	int type = config_setting_type(v);
	int n = config_setting_length(v);
	int et = n > 0 ? config_setting_type(config_setting_get_elem(v, 0))
		       : CONFIG_TYPE_STRING;
	long m = 0;

	/* an array, not a parenthesised list (docs/CONFIG.md) */
	if (type != CONFIG_TYPE_ARRAY || et != CONFIG_TYPE_STRING) {
		snprintf(msg, msgcap, "expected an array of addresses or "
			 "networks like [\"127.0.0.1\", \"10.0.0.0/8\"]");
		return -1;
	}
	if (n > TERN_CONFIG_MAX_NETS) {
		snprintf(msg, msgcap, "%d networks (at most %d)", n,
			 TERN_CONFIG_MAX_NETS);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(v, i);
		const char *s = e ? config_setting_get_string(e) : NULL;
		const char *why;
		bool dup = false;

		if (!s) {
			snprintf(msg, msgcap, "[%d]: expected a string", i);
			return -1;
		}
		if (!parse_net(s, &out[m], &why)) {
			snprintf(msg, msgcap, "[%d]: \"%.64s\" %s", i, s, why);
			return -1;
		}
		for (long j = 0; j < m && !dup; j++)
			dup = !memcmp(&out[j], &out[m], sizeof out[m]);
		if (!dup)
			m++;
	}
	return m;
}

bool tern__config_http_path_ok(const char *s)
{
	if (s[0] != '/' || !s[1] || strlen(s) > 256)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
			return false;
	return true;
}
