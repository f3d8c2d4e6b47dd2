/* Pre-scan of configuration text (prescan.c). */
#ifndef TERN_CONFIG_PRESCAN_H
#define TERN_CONFIG_PRESCAN_H

#include <stddef.h>

/*
 * Copies text[0..len) to a new NUL-terminated buffer (*out, the caller
 * frees it), appending "L" to the integer literals libconfig would
 * truncate. Refuses @include, integer literals beyond 64 bits, nesting
 * deeper than 64 and the syntax errors on which libconfig 1.5 leaks, with
 * "NAME:LINE: message" in err. Returns 0, TERN_EPARSE or TERN_ENOMEM.
 */
int tern__config_prescan(const char *text, size_t len, char **out,
			 const char *name, char *err, size_t errcap);

#endif
