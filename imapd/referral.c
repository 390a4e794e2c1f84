/*
 * referral.c - referrals from the route map (docs/scaling.md): each
 * user's mail lives on one backend, the one their map line names.
 *
 * - LOGIN-REFERRALS (RFC 2221): a user who logs in to a backend that is
 *   not theirs gets "OK [REFERRAL imap://user@home/]": logged in (so a
 *   client that followed a mailbox referral here can open the mailbox it
 *   was sent to), told where their own mail is, and every personal name
 *   (INBOX, relative names, ~/) is referred home, so nothing is ever
 *   read or written in a stale copy on the wrong host.
 * - MAILBOX-REFERRALS (RFC 2193): a name owned by a user the map puts on
 *   another backend (~owner/box, or #shared/ #public/ #ftp/ whose owner
 *   is their *-namespace-user) gets "NO [REFERRAL imap://me;AUTH=*@host
 *   /name]" from SELECT, EXAMINE, STATUS, APPEND, CREATE, DELETE,
 *   RENAME (a pair of URLs), COPY and MOVE. LIST and LSUB leave remote
 *   names out; RLIST and RLSUB add them: the remote names this backend
 *   knows of are the user's subscriptions, which stay on the user's
 *   home backend (SUBSCRIBE of a remote name is done here, and a
 *   session on a foreign backend is referred home for it).
 * Only when route-map and server-name are both set; never for anonymous
 * sessions. /absolute names have no owner and are never referred.
 *
 * SECURITY: the map is the administrator's file; owner names come from
 * the client but are only compared with map lines and put into URLs
 * %-encoded (imap-url.h), so no byte of a name can end the response
 * code early. A map that cannot be read refers nobody (logged).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "imap-url.h"
#include "log.h"
#include "mailname.h"
#include "route-map.h"
#include "imapd.h"

bool imapd_referrals_enabled(void)
{
	return config_str("route-map")[0] != '\0' &&
		config_str("server-name")[0] != '\0';
}

/*
 * Owner lookups are cached while the map file stays the same (a LIST of
 * many names asks about the same few owners again and again).
 */
#define ROUTE_CACHE 16
static struct {
	char *owner;
	bool remote;
	struct route r;
} cache[ROUTE_CACHE];
static unsigned cache_n, cache_next;
static struct stat cache_st;

static void cache_clear(void)
{
	for (unsigned i = 0; i < cache_n; i++)
		xfree(&cache[i].owner);
	cache_n = cache_next = 0;
}

/* true when owner's mail is on another backend (*r says where) */
static bool owner_remote(const char *owner, struct route *r)
{
	const char *path = config_str("route-map"), *error = NULL;
	struct stat st;
	unsigned i;
	bool remote;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof st);
	if (st.st_ino != cache_st.st_ino || st.st_dev != cache_st.st_dev ||
	    st.st_size != cache_st.st_size ||
	    st.st_mtim.tv_sec != cache_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != cache_st.st_mtim.tv_nsec) {
		cache_clear();
		cache_st = st;
	}
	for (i = 0; i < cache_n; i++)
		if (strcmp(cache[i].owner, owner) == 0) {
			*r = cache[i].r;
			return cache[i].remote;
		}
	memset(r, 0, sizeof *r);
	if (route_lookup(path, owner, r, &error) <= 0) {
		if (error != NULL)
			log_error("%s", error);
		remote = false;	/* no map or no line: served here */
	} else {
		remote = ascii_strcasecmp(r->host,
					  config_str("server-name")) != 0;
	}
	i = cache_n < ROUTE_CACHE ? cache_n++ : cache_next++ % ROUTE_CACHE;
	xfree(&cache[i].owner);
	cache[i].owner = xstrdup(owner);
	cache[i].remote = remote;
	cache[i].r = *r;
	return remote;
}

static const struct {
	const char *prefix, *key;
} shared_ns[] = {
	{ "#shared/", "shared-namespace-user" },
	{ "#public/", "public-namespace-user" },
	{ "#ftp/", "ftp-namespace-user" },
};

/* whose mail is name? malloc'd user name, or NULL: no owner (an
 * /absolute name, an unknown or disabled namespace) */
static char *name_owner(struct client *c, const char *name)
{
	const char *slash;

	if (ascii_strncasecmp(name, "#driver.", 8) == 0 &&
	    (slash = strchr(name, '/')) != NULL)
		name = slash + 1;
	if (name[0] == '/')
		return NULL;
	if (name[0] == '#') {
		for (size_t i = 0; i < N_ELEMENTS(shared_ns); i++) {
			const char *owner = config_str(shared_ns[i].key);
			if (ascii_strncasecmp(name, shared_ns[i].prefix,
					      strlen(shared_ns[i].prefix)) == 0)
				return owner[0] != '\0' ? xstrdup(owner) : NULL;
		}
		return NULL;
	}
	if (name[0] == '~' && name[1] != '/' && name[1] != '\0') {
		slash = strchr(name, '/');
		return slash != NULL ? xstrndup(name + 1,
						(size_t)(slash - name - 1)) :
			xstrdup(name + 1);
	}
	return xstrdup(c->user);	/* INBOX, ~/, relative names */
}

/* where name lives when that is not here */
static bool name_remote(struct client *c, const char *name, struct route *r)
{
	char *owner;
	bool remote;

	if (!imapd_referrals_enabled() || c->anonymous || c->user == NULL)
		return false;
	owner = name_owner(c, name);
	if (owner == NULL)
		return false;
	remote = owner_remote(owner, r);
	free(owner);
	return remote;
}

bool imapd_mailbox_remote(struct client *c, const char *name)
{
	struct route r;

	return name_remote(c, name, &r);
}

static void add_url(struct buf *out, struct client *c, const struct route *r,
		    const char *name)
{
	if (out->len > 0)
		buf_putc(out, ' ');
	imap_url(out, c->user, true, r->host, r->imap_port, name);
}

bool imapd_mailbox_referral(struct client *c, const char *name)
{
	struct route r;
	struct buf url;

	if (!name_remote(c, name, &r))
		return false;
	buf_init(&url, 0);
	add_url(&url, c, &r, name);
	log_debug("%s %s referred to %s", c->name, name, r.host);
	client_no(c, "[REFERRAL %s] Remote mailbox, try %s", url.data, r.host);
	buf_release(&url);
	return true;
}

bool imapd_rename_referral(struct client *c, const char *from, const char *to)
{
	struct route rf, rt;
	bool remote_from = name_remote(c, from, &rf);
	bool remote_to = name_remote(c, to, &rt);
	struct buf urls;

	if (!remote_from && !remote_to)
		return false;
	/* RFC 2193 4.3: a pair, old name then new name; a local one is
	 * named with this server's own name */
	if (!remote_from) {
		memset(&rf, 0, sizeof rf);
		snprintf(rf.host, sizeof rf.host, "%s", config_str("server-name"));
		rf.imap_port = ROUTE_DEFAULT_IMAP;
	}
	if (!remote_to) {
		memset(&rt, 0, sizeof rt);
		snprintf(rt.host, sizeof rt.host, "%s", config_str("server-name"));
		rt.imap_port = ROUTE_DEFAULT_IMAP;
	}
	buf_init(&urls, 0);
	add_url(&urls, c, &rf, from);
	add_url(&urls, c, &rt, to);
	if (remote_from && remote_to && strcmp(rf.host, rt.host) == 0 &&
	    rf.imap_port == rt.imap_port)
		client_no(c, "[REFERRAL %s] Remote mailbox, try %s", urls.data,
			  rf.host);
	else
		client_no(c, "[REFERRAL %s] Cannot rename across servers",
			  urls.data);
	buf_release(&urls);
	return true;
}

bool imapd_subscribe_referral(struct client *c, const char *name)
{
	struct route r;
	struct buf url;

	/* the subscription list is the user's own: kept at home */
	if (c->user == NULL || !name_remote(c, "INBOX", &r))
		return false;
	buf_init(&url, 0);
	add_url(&url, c, &r, name);
	client_no(c, "[REFERRAL %s] Subscriptions are kept on %s", url.data,
		  r.host);
	buf_release(&url);
	return true;
}

bool imapd_login_referral(struct client *c, const struct auth_user *u,
			  struct buf *url_r)
{
	const char *error = NULL;
	struct route r;

	if (!imapd_referrals_enabled() || u->anonymous)
		return false;
	if (route_lookup(config_str("route-map"), u->name, &r, &error) <= 0) {
		if (error != NULL)
			log_error("%s", error);
		return false;	/* no map or no line: serve the user here */
	}
	if (ascii_strcasecmp(r.host, config_str("server-name")) == 0)
		return false;
	imap_url(url_r, u->name, false, r.host, r.imap_port, NULL);
	log_info("login referred to %s (route map): personal mailboxes "
		 "are referred there", r.host);
	return true;
}
