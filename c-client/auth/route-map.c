/*
 * route-map.c - the user-to-backend map file (see route-map.h).
 *
 * SECURITY: lines are read with a bounded reader (getline's result is
 * checked against ROUTE_MAX_LINE before it is parsed); host names are
 * limited to letters, digits, '-', '.', '_' and ':' (IPv6 in brackets).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "route-map.h"

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool parse_port(const char *s, size_t n, uint16_t *port)
{
	uint32_t v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static int parse_target(const char *t, size_t n, struct route *r,
			const char **error_r)
{
	const char *hs, *he, *rest, *end = t + n, *colon;

	if (t[0] == '[') {
		hs = t + 1;
		he = memchr(hs, ']', n - 1);
		if (he == NULL || he == hs) {
			*error_r = "unterminated [IPv6] address";
			return -1;
		}
		for (const char *q = hs; q < he; q++)
			if (!host_char(*q) && *q != ':') {
				*error_r = "bad character in IPv6 address";
				return -1;
			}
		rest = he + 1;
	} else {
		hs = t;
		he = memchr(t, ':', n);
		if (he == NULL)
			he = end;
		for (const char *q = hs; q < he; q++)
			if (!host_char(*q)) {
				*error_r = "bad character in host name";
				return -1;
			}
		rest = he;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof r->host) {
		*error_r = "empty or too long host name";
		return -1;
	}
	memcpy(r->host, hs, (size_t)(he - hs));
	r->host[he - hs] = '\0';
	r->imap_port = ROUTE_DEFAULT_IMAP;
	r->pop3_port = ROUTE_DEFAULT_POP3;
	if (rest == end)
		return 0;
	if (*rest != ':') {
		*error_r = "expected :port after the host";
		return -1;
	}
	rest++;
	colon = memchr(rest, ':', (size_t)(end - rest));
	if (!parse_port(rest, (size_t)((colon != NULL ? colon : end) - rest),
			&r->imap_port) ||
	    (colon != NULL && !parse_port(colon + 1, (size_t)(end - colon - 1),
					  &r->pop3_port))) {
		*error_r = "bad port (1-65535)";
		return -1;
	}
	return 0;
}

int route_parse_line(const char *line, char **user_r, struct route *r,
		     const char **error_r)
{
	const char *p = line, *us, *ue, *ts, *te;

	*user_r = NULL;
	memset(r, 0, sizeof *r);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#' || *p == '\n')
		return 0;
	us = p;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	ue = p;
	while (*p == ' ' || *p == '\t')
		p++;
	ts = p;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '#')
		p++;
	te = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\n' && p[1] == '\0')
		p++;
	if (ts == te) {
		*error_r = "expected \"user host[:imap-port[:pop3-port]]\"";
		return -1;
	}
	if (*p != '\0' && *p != '#') {
		*error_r = "extra text after the backend";
		return -1;
	}
	for (const char *q = us; q < ue; q++)
		if ((unsigned char)*q < 0x21 || *q == 0x7f) {
			*error_r = "control character in user name";
			return -1;
		}
	if (parse_target(ts, (size_t)(te - ts), r, error_r) < 0)
		return -1;
	*user_r = xstrndup(us, (size_t)(ue - us));
	r->is_default = strcmp(*user_r, "*") == 0 ||
		strcmp(*user_r, "default") == 0;
	return 1;
}

int route_lookup(const char *path, const char *user, struct route *r,
		 const char **error_r)
{
	static char errbuf[300];
	struct route def, cur;
	bool have_def = false;
	char *line = NULL, *who;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");
	int found = 0;

	if (f == NULL) {
		snprintf(errbuf, sizeof errbuf, "route map %s: %s", path,
			 strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	while (found == 0 && (n = getline(&line, &cap, f)) >= 0) {
		const char *error;
		int k;

		lineno++;
		if ((size_t)n > ROUTE_MAX_LINE || memchr(line, '\0', (size_t)n)) {
			log_warning("route map %s line %u: too long or NUL, "
				    "skipped", path, lineno);
			continue;
		}
		k = route_parse_line(line, &who, &cur, &error);
		if (k < 0) {
			log_warning("route map %s line %u: %s, skipped", path,
				    lineno, error);
			continue;
		}
		if (k == 0)
			continue;
		if (cur.is_default) {
			if (!have_def)
				def = cur;
			have_def = true;
		} else if (strcmp(who, user) == 0) {
			*r = cur;
			found = 1;
		}
		free(who);
	}
	free(line);
	fclose(f);
	if (found == 0 && have_def) {
		*r = def;
		found = 1;
	}
	return found;
}
