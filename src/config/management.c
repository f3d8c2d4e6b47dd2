/*
 * The management section (management.h): kept out of config.c, which
 * only dispatches to it, so that the table-driven loader stays small.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <tern/config.h>
#include <tern/hex.h>

#include "config/management.h"

static const char *type_word(int t)
{
	switch (t) {
	case CONFIG_TYPE_STRING: return "strings";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "integers";
	case CONFIG_TYPE_FLOAT: return "floats";
	case CONFIG_TYPE_BOOL: return "booleans";
	default: return "values";
	}
}

long tern__config_admins(const config_setting_t *v, uint8_t (*out)[32],
			 char *msg, size_t msgcap)
{
	int type = config_setting_type(v);
	int n = config_setting_length(v);
	int et = n > 0 ? config_setting_type(config_setting_get_elem(v, 0))
		       : CONFIG_TYPE_STRING;
	long m = 0;

	if ((type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) ||
	    et != CONFIG_TYPE_STRING) {
		snprintf(msg, msgcap, "expected an array of hex pubkeys like "
			 "[\"<64 hex digits>\"], got %s",
			 type == CONFIG_TYPE_ARRAY ? type_word(et)
						   : "something else");
		return -1;
	}
	if (n > TERN_CONFIG_MAX_ADMINS) {
		snprintf(msg, msgcap, "%d pubkeys (at most %d)", n,
			 TERN_CONFIG_MAX_ADMINS);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(v, i);
		const char *s = e ? config_setting_get_string(e) : NULL;
		bool dup = false;

		if (!s || strlen(s) != 64 || !tern_hex_decode(out[m], s, 32)) {
			snprintf(msg, msgcap, "[%d]: expected a pubkey of 64 "
				 "lowercase hex digits, got \"%.70s\"", i,
				 s ? s : "");
			return -1;
		}
		for (long j = 0; j < m && !dup; j++)
			dup = memcmp(out[j], out[m], 32) == 0;
		if (!dup)
			m++;
	}
	return m;
}
