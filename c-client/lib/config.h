/*
 * config.h - compiled-in defaults that work on stock Debian, overridden by
 * one optional file (default /etc/c-client.cf, or -c FILE) of
 * "key value" lines ($CCLIENT_CONFIG names the file when no -c is given).
 * "#" starts a comment line. Every key is listed in
 * the table in config.c and documented in docs/CONFIG.md.
 */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include "util.h"

#define CONFIG_DEFAULT_PATH "/etc/c-client.cf"

/* Load path (NULL = default path; a missing default file is fine, a
 * missing explicit file is an error). Error names file and line. */
int config_load(const char *path, const char **error_r);
/* Set one key (tests, command line -o key=value); false if unknown key
 * or bad value, with *error_r. */
bool config_set(const char *key, const char *value, const char **error_r);

/* Lookups panic on an unknown key: keys are compiled in. */
const char *config_str(const char *key);	/* "" when unset */
bool config_bool(const char *key);
long long config_int(const char *key);

/* reset every key to its default (tests) */
void config_reset(void);
/* iterate for documentation: returns false past the end */
bool config_iter(unsigned i, const char **key_r, const char **def_r,
		 const char **help_r);

#endif
