/* The management section of the configuration (management.c). */
#ifndef TERN_CONFIG_MANAGEMENT_H
#define TERN_CONFIG_MANAGEMENT_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Reads management.admins, an array of pubkeys written as 64 lowercase hex
 * digits, into out[0..n) (capacity: config_setting_length(v) entries).
 * Duplicates are kept once. Returns the count, or -1 with a message
 * (without the setting's name) in msg.
 */
long tern__config_admins(const config_setting_t *v, uint8_t (*out)[32],
			 char *msg, size_t msgcap);

#endif
