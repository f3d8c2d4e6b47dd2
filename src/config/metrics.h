/* The metrics section of the configuration (metrics.c). */
#ifndef TERN_CONFIG_METRICS_H
#define TERN_CONFIG_METRICS_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include <tern/config.h>

/*
 * Reads metrics.allow, an array of strings each a numeric IPv4 or IPv6
 * address or a CIDR network ("10.0.0.0/8", "fd00::/8"), into out[0..n)
 * (capacity: config_setting_length(v) entries). Duplicates are kept once.
 * Returns the count, or -1 with a message (without the setting's name;
 * starting with "[i]" when about one element) in msg.
 */
long tern__config_nets(const config_setting_t *v, tern_config_net *out,
		       char *msg, size_t msgcap);

/* Whether s is a valid metrics.path (tern_config_metrics in tern/config.h). */
bool tern__config_http_path_ok(const char *s);

#endif
