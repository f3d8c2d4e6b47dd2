/* Reasons: a NIP-01 prefix enum plus a message (include/tern/types.h). */
#include <stdarg.h>
#include <stdio.h>

#include <tern/types.h>

const char *tern_prefix_name(tern_prefix p)
{
	switch (p) {
	case TERN_PREFIX_NONE: return "";
	case TERN_PREFIX_INVALID: return "invalid";
	case TERN_PREFIX_DUPLICATE: return "duplicate";
	case TERN_PREFIX_BLOCKED: return "blocked";
	case TERN_PREFIX_RATE_LIMITED: return "rate-limited";
	case TERN_PREFIX_RESTRICTED: return "restricted";
	case TERN_PREFIX_AUTH_REQUIRED: return "auth-required";
	case TERN_PREFIX_POW: return "pow";
	case TERN_PREFIX_MUTE: return "mute";
	case TERN_PREFIX_UNSUPPORTED: return "unsupported";
	case TERN_PREFIX_ERROR: return "error";
	}
	return "error";
}

void tern_reason_set(tern_reason *r, tern_prefix prefix, const char *fmt, ...)
{
	va_list ap;

	if (!r)
		return;
	r->prefix = prefix;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
}

size_t tern_reason_format(const tern_reason *r, char *buf, size_t cap)
{
	int n;

	if (r->prefix == TERN_PREFIX_NONE)
		n = snprintf(buf, cap, "%s", r->msg);
	else
		n = snprintf(buf, cap, "%s: %s", tern_prefix_name(r->prefix), r->msg);
	return n < 0 ? 0 : (size_t)n;
}
